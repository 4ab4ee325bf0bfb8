"""Section II: town totals per indicator and year in short sentences, with change and coverage.

Comparisons are made only where they mean something: between whole years for indicators counted
over the year (flow), also against the partial year for counts at a point in time (stock), and
only when both years cover the same units.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from flows.config import NUMERIC_TYPES, Block, Config, Item, Tab
from flows.core.layout import make_key
from flows.core.vnformat import auto, money, percent
from flows.outputs.report.figures import Figures, headline, join_breakdown, total_code
from flows.outputs.report.model import CAPTION, CHART, H2, H3, TEXT, Para
from flows.outputs.report.wording import Wording, sentence_case

NOUN_PREFIXES = ("Tổng số ", "Số ")
_NUMBERED = re.compile(r"^\s*([a-zđ]|\d{1,2})\.\s+", re.IGNORECASE)


def strip_numbering(text: str) -> str:
    """"a. Công tác lãnh đạo" → "Công tác lãnh đạo"."""
    return _NUMBERED.sub("", text, count=1)


def section_letter(tab: Tab) -> str | None:
    """The plan's content letter of a tab ("a" for "a. Công tác …"), None for other tabs."""
    match = _NUMBERED.match(tab.section)
    return match.group(1) if match and match.group(1).isalpha() else None


@dataclass
class Results:
    """Writes section II for one consolidation."""

    fig: Figures
    config: Config
    wording: Wording
    common: dict

    # ------------------------------------------------------------------ small phrases

    def year_text(self, year: int, start: bool = False) -> str:
        partial = year == self.fig.partial_year
        key = ("year_start" if start else "year") + ("_partial" if partial else "")
        return self.wording.say(f"results.{key}", year=year)

    def amount(self, item: Item, value: float | None, with_unit: bool = True) -> str:
        if value is None:
            return self.wording.say("results.no_data")
        if item.type == "money":
            return money(value) if with_unit else auto(value)
        return f"{auto(value)} {item.unit}".strip() if with_unit else auto(value)

    def coverage(self, count: int, shared: int | None = None) -> str:
        """"số liệu của 8/9 đơn vị", or "" when the count is the one the part's note already
        says (`shared`; by default every unit, which needs no saying)."""
        if count == (self.fig.expected if shared is None else shared):
            return ""
        return self.wording.say("results.coverage", count=count, expected=self.fig.expected)

    def shared_count(self, counts: list[int], prefer: int) -> int:
        """The coverage most numbers of a part share; on a tie, `prefer` (the enclosing part's)
        if it is among the most shared, else the largest."""
        if not counts:
            return prefer
        tally = Counter(counts)
        most = max(tally.values())
        tied = [count for count, n in tally.items() if n == most]
        return prefer if prefer in tied else max(tied)

    def coverage_note(self, shared: int, counts: list[int], parent: int) -> list[Para]:
        """One line after a heading, "Số liệu của 8/9 đơn vị.", when the part's numbers mostly
        cover other units than the enclosing part's; exceptions are then said where they are."""
        if shared == parent:
            return []
        return [Para(TEXT, self.wording.say(
            "results.coverage_note", count=shared, expected=self.fig.expected,
            exceptions=any(count != shared for count in counts)))]

    def names_value(self, names: list[str], value: str) -> str:
        """"Phường A (10 buổi)", "Phường A và Xã B (cùng 10 buổi)"."""
        return self.wording.say("results.unit_value", unit=self.wording.join(names),
                                value=value, tied=len(names) > 1)

    def change(self, item: Item, key_of, previous: int, year: int) -> str:
        """"tăng 8,3%" between two years, or "" when they are not comparable (nor when the
        published version does not show one of the totals: the change would give it away)."""
        if item.measure == "flow" and self.fig.partial_year in (previous, year):
            return ""
        if self.fig.total_mark(key_of(previous)) or self.fig.total_mark(key_of(year)):
            return ""
        before = self.fig.number_series(key_of(previous))
        after = self.fig.number_series(key_of(year))
        if not before.notna().any() or not (before.notna() == after.notna()).all():
            return ""  # different units reported each year: the sums are not comparable
        old, new = float(before.sum()), float(after.sum())
        if old == new:
            return self.wording.say("results.same")
        if old == 0:
            return ""
        pct = percent(abs(new - old) / old * 100)
        return self.wording.say("results.increase" if new > old else "results.decrease",
                                percent=pct)

    def key_year(self, item: Item) -> tuple[int, int | None]:
        """The year a key sentence speaks of, and the one it compares with."""
        years = [y for y in self.fig.years
                 if item.measure == "stock" or y != self.fig.partial_year] or self.fig.years
        year = years[-1]
        index = self.fig.years.index(year)
        return year, (self.fig.years[index - 1] if index else None)

    # ------------------------------------------------------------------ sentences

    def counts(self, block: Block, item: Item) -> list[int]:
        """How many units each number of an indicator's line covers (one per year; [] when
        the indicator has no line)."""
        breakdown = headline(self.config.form, block, item)
        if breakdown is None:
            return []
        if item.type == "yesno":
            return [len(self.answers(item, breakdown))]
        return [self.fig.total(make_key(item.code, breakdown, year))[1]
                for year in self.fig.years]

    def key_count(self, block: Block, item: Item) -> int | None:
        """How many units a key sentence's number covers (None: the indicator has none)."""
        breakdown = headline(self.config.form, block, item)
        if breakdown is None or item.type not in NUMERIC_TYPES:
            return None
        total, count = self.fig.total(make_key(item.code, breakdown, self.key_year(item)[0]))
        return None if total is None else count

    def line(self, block: Block, item: Item, shared: int | None = None) -> str:
        """"- Số buổi …: năm 2021: 48 buổi; năm 2022: 52 buổi (tăng 8,3%); …"; coverage said
        where it differs from `shared` (what the part's note says)."""
        breakdown = headline(self.config.form, block, item)
        if breakdown is None:
            return ""
        if item.type == "yesno":
            return self.yesno_line(item, breakdown, shared)

        def key_of(year: int) -> str:
            return make_key(item.code, breakdown, year)

        totals = {year: self.fig.total(key_of(year)) for year in self.fig.years}
        counts = {count for _, count in totals.values()}
        same_coverage = len(counts) == 1
        parts = []
        for i, year in enumerate(self.fig.years):
            total, count = totals[year]
            change = self.change(item, key_of, self.fig.years[i - 1], year) if i else ""
            mark = self.fig.total_mark(key_of(year))
            value = (self.wording.say("results.protected", mark=mark) if mark
                     else self.amount(item, total))
            parts.append(self.wording.say(
                "results.line_year", year=self.year_text(year), value=value,
                change=change, coverage="" if same_coverage else self.coverage(count, shared)))
        groups, groups_year = self.main_groups(block, item)
        return self.wording.say(
            "results.line", label=item.label, years="; ".join(parts),
            coverage=self.coverage(counts.pop(), shared) if same_coverage else "",
            groups=groups, groups_year=groups_year)

    def answers(self, item: Item, breakdown: str) -> pd.Series:
        """The units' answers to a yes/no indicator in the last year, blanks left out."""
        answers = self.fig.text_series(make_key(item.code, breakdown, self.fig.years[-1]))
        return answers[answers != ""]

    def yesno_line(self, item: Item, breakdown: str, shared: int | None = None) -> str:
        answered = self.answers(item, breakdown)
        return self.wording.say(
            "results.yesno_line", label=item.label, yes=int((answered == "Có").sum()),
            answered=len(answered), year=self.year_text(self.fig.years[-1]),
            coverage=self.coverage(len(answered), shared))

    def main_groups(self, block: Block, item: Item) -> tuple[str, str]:
        """The largest categories of an indicator split into rows, in its key year."""
        if not item.rows or item.type not in NUMERIC_TYPES:
            return "", ""
        year, _ = self.key_year(item)
        column = total_code(self.config.form, block.columns)
        found = []
        for cat in self.config.form.dimensions[item.rows].categories:
            key = make_key(item.code, join_breakdown(cat.code, column), year)
            if cat.total or self.fig.total_mark(key):
                continue
            total, _ = self.fig.total(key)
            if total:
                found.append((total, cat.label))
        found.sort(key=lambda pair: -pair[0])
        limit = int(self.wording.raw("results.max_groups"))
        if limit <= 0:
            found = []
        elif len(found) > limit:  # a category level with the last one named is named too
            found = [pair for pair in found if pair[0] >= found[limit - 1][0]]
        levels: list[tuple[float, list[str]]] = []
        for total, label in found:
            if levels and levels[-1][0] == total:
                levels[-1][1].append(label)
            else:
                levels.append((total, [label]))
        text = ", ".join(self.wording.say("results.group", label=self.wording.join(labels),
                                          value=self.amount(item, total),
                                          tied=len(labels) > 1)
                         for total, labels in levels)
        return text, (self.year_text(year) if text else "")

    def key_sentence(self, block: Block, item: Item, shared: int | None = None) -> str:
        """"Năm 2022, toàn thị xã có 130 trẻ em …, tăng 8,3% so với năm 2021; cao nhất là …";
        every unit sharing the highest (lowest) value is named."""
        breakdown = headline(self.config.form, block, item)
        if breakdown is None or item.type not in NUMERIC_TYPES:
            return ""
        year, previous = self.key_year(item)

        def key_of(y: int) -> str:
            return make_key(item.code, breakdown, y)

        total, count = self.fig.total(key_of(year))
        if total is None or self.fig.total_mark(key_of(year)):
            return ""
        change = self.change(item, key_of, previous, year) if previous else ""
        series = self.fig.number_series(key_of(year)).dropna()
        top = bottom = same = ""
        if self.fig.series_marked(key_of(year)):
            pass  # the published version names no unit's value of a column it marks
        elif len(series) >= 3 and series.max() > series.min():
            top = self.ranked(item, series, float(series.max()))
            bottom = self.ranked(item, series, float(series.min()))
        elif len(series) >= 3:
            same = self.wording.say("results.all_same", count=len(series),
                                    value=self.amount(item, float(series.max())))
        noun = next((item.label[len(p):] for p in NOUN_PREFIXES if item.label.startswith(p)),
                    None)
        values = dict(year=self.year_text(year, start=True),
                      coverage=self.coverage(count, shared), change=change,
                      previous=self.year_text(previous) if previous else "",
                      top=top, bottom=bottom, same=same, **self.common)
        if noun and item.type != "money":
            return self.wording.say("results.key_count", value=self.amount(item, total, False),
                                    noun=noun, **values)
        return self.wording.say("results.key_amount", label=item.label,
                                value=self.amount(item, total), **values)

    def ranked(self, item: Item, series: pd.Series, value: float) -> str:
        """Every unit whose value is `value`, in registry order, with the value."""
        names = [self.fig.names[code] for code, v in series.items() if v == value]
        return self.names_value(names, self.amount(item, value))

    # ------------------------------------------------------------------ the section

    def block_heading(self, block: Block) -> str:
        overrides = self.wording.raw("block_headings") or {}
        if block.title in overrides:
            return str(overrides[block.title])
        return sentence_case(block.title, list(self.wording.raw("keep_upper") or []))

    def tab_paras(self, tab: Tab, appendix: str | None) -> list[Para]:
        """One lettered part: its coverage said once after its heading (and after a numbered
        heading whose numbers mostly cover other units), then only where it differs."""
        keys = set(self.config.plan.report.key_indicators)
        parts = []  # (block, key items, line items, the coverage of each of its numbers)
        for block in tab.blocks:
            if block.kind != "table" or not block.yearly:
                continue
            lines = [item for item in block.items if self.counts(block, item)]
            if not lines:
                continue
            keyed = [(item, count) for item in block.items if item.code in keys
                     and (count := self.key_count(block, item)) is not None]
            counts = [count for _, count in keyed] + [
                count for item in lines for count in self.counts(block, item)]
            parts.append((block, [item for item, _ in keyed], lines, counts))
        every = [count for *_, counts in parts for count in counts]
        tab_shared = self.shared_count(every, self.fig.expected)
        paras: list[Para] = [Para(H2, tab.section)]
        if parts:
            paras += self.coverage_note(tab_shared, every, self.fig.expected)
        for block, keyed, lines, counts in parts:
            shared = self.shared_count(counts, tab_shared)
            paras.append(Para(H3, self.block_heading(block)))
            paras += self.coverage_note(shared, counts, tab_shared)
            paras += [Para(TEXT, sentence) for item in keyed
                      if (sentence := self.key_sentence(block, item, shared))]
            paras += [Para(TEXT, self.line(block, item, shared)) for item in lines]
        if appendix:
            paras.append(Para(TEXT, self.wording.say("results.appendix_ref", appendix=appendix)))
        return paras if len(paras) > 1 else []

    def context_paras(self, tabs: list[Tab]) -> list[Para]:
        """Key sentences from tabs outside the plan's contents (general information)."""
        keys = set(self.config.plan.report.key_indicators)
        paras = []
        for tab in tabs:
            for block in tab.blocks:
                for item in block.items:
                    if item.code in keys and block.yearly and \
                            (sentence := self.key_sentence(block, item)):
                        paras.append(Para(TEXT, sentence))
        return paras

    def paras(self, appendix_numbers: dict[str, str], trends_chart: bool) -> list[Para]:
        lettered = [tab for tab in self.config.form.tabs if section_letter(tab)]
        others = [tab for tab in self.config.form.tabs if not section_letter(tab)]
        paras = self.context_paras(others)
        for tab in lettered:
            paras += self.tab_paras(tab, appendix_numbers.get(tab.id))
        if trends_chart:
            paras += [Para(CHART, chart="trends"),
                      Para(CAPTION, self.wording.say("results.chart_caption", **self.common))]
        return paras


def key_items(config: Config) -> list[tuple[Block, Item]]:
    """The key indicators (plan.yaml) that are numbers, in the plan's order."""
    found: dict[str, tuple[Block, Item]] = {}
    for tab in config.form.tabs:
        for block in tab.blocks:
            for item in block.items:
                if block.yearly and item.type in NUMERIC_TYPES:
                    found[item.code] = (block, item)
    return [found[code] for code in config.plan.report.key_indicators if code in found]


def trend_spec(fig: Figures, config: Config) -> list[dict]:
    """Town totals per year of the key indicators, for the trend chart."""
    spec = []
    for block, item in key_items(config):
        breakdown = headline(config.form, block, item)
        if breakdown is None:
            continue
        keys = [make_key(item.code, breakdown, year) for year in fig.years]
        marks = [fig.total_mark(key) for key in keys]
        totals = [(None, count) if mark else (total, count)
                  for (total, count), mark in zip(map(fig.total, keys), marks, strict=True)]
        if all(total is None for total, _ in totals) and not any(marks):
            continue
        spec.append({"code": item.code, "label": item.label, "unit": item.unit,
                     "money": item.type == "money", "years": fig.years,
                     "values": [total for total, _ in totals], "marks": marks,
                     "counts": [count for _, count in totals], "expected": fig.expected,
                     "partial_year": fig.partial_year})
    return spec


def unknown_codes(config: Config) -> list[str]:
    """Indicator codes named in plan.yaml's report keys that the form does not have."""
    known = {item.code for item in config.form.items()}
    report = config.plan.report
    named = report.key_indicators + report.highlights + report.problems + report.proposals
    return [code for code in named if code not in known]
