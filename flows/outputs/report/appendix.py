"""Appendix tables (Phụ lục): unit × indicator × year, with town totals and their coverage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from flows.config import NUMERIC_TYPES, Block, Config, Item, Tab
from flows.core import review
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING
from flows.core.layout import make_key
from flows.core.review import days_to_fix, finding_counts
from flows.core.vnformat import auto, percent, short_date
from flows.outputs.report.data_quality import days_text, period_lives, serious, unit_kinds
from flows.outputs.report.figures import Figures, headline, join_breakdown
from flows.outputs.report.model import (
    CATEGORY,
    COVERAGE,
    LONG_TEXT,
    TOTAL,
    UNIT,
    Appendix,
    Cell,
    Column,
    HeaderCell,
    Row,
    Table,
)
from flows.outputs.report.wording import Wording

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV",
         "XV", "XVI", "XVII", "XVIII", "XIX", "XX"]
TABLE_KINDS = NUMERIC_TYPES | {"yesno"}
# Value columns per table on a landscape page: 4 indicators × 3 years, 3 when amounts of money
# (town totals of 10–13 digits) need wider columns.
PER_TABLE = 4
PER_TABLE_MONEY = 3
STUB_UNIT_MM = 46.0
STUB_CATEGORY_MM = 85.0
STUB_STATUS_MM = 46.0
STATUS_WIDTHS = {"percent": 15.0, "text": 30.0, "integer": 13.0}  # relative column widths
QUALITY_WIDTHS = {"integer": 14.0, "text": 16.0, LONG_TEXT: 70.0}
# The states of a period's findings the data-quality appendix counts (false positives with
# the accepted ones, as the report's words do).
LIFE_STATES = (review.OPEN, review.EXPLAINED, review.ACCEPTED, review.FIXED)
_NUMBERED = re.compile(r"^\s*([a-zđ]|\d{1,2})\.\s+", re.IGNORECASE)  # "a. ", "2. "


def roman(n: int) -> str:
    return ROMAN[n - 1] if n <= len(ROMAN) else str(n)


def format_value(value: float | str | None, kind: str) -> str:
    """Table text of one value: "1.234", "12,5%", "Có"; blank when missing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if kind in NUMERIC_TYPES:
        return auto(float(value))
    if kind == "percent":
        return percent(float(value))
    return str(value)


@dataclass
class TableMaker:
    """Builds the tables of the appendices from the unit matrices."""

    fig: Figures
    config: Config
    wording: Wording
    common: dict

    # ------------------------------------------------------------------ headers and notes

    def year_header(self, year: int) -> str:
        return f"Năm {year} (*)" if year == self.fig.partial_year else f"Năm {year}"

    def notes(self, coverage: str = "", partial_cells: bool = False,
              rows: list[Row] | None = None) -> str:
        """The table's footnote: partial year, how totals treat missing units, "**" cells,
        and in the published version what "<5" and "x" mean when `rows` show one."""
        parts = []
        if self.fig.partial_year in self.fig.years:
            parts.append(self.wording.say(
                "appendix.partial_year_note", year=f"Năm {self.fig.partial_year}",
                end=short_date(self.fig.period_end)))
        if coverage:
            parts.append(self.wording.say(coverage))
        if partial_cells:
            parts.append(self.wording.say("appendix.partial_cell_note"))
        small = self.fig.small_counts
        if small is not None and rows:
            shown = {cell.text.removesuffix("**") for row in rows for cell in row.cells}
            if small.shown_as in shown or small.hidden_as in shown:
                parts.append(self.wording.say(
                    "appendix.small_counts_note", threshold=small.threshold,
                    shown_as=small.shown_as, hidden_as=small.hidden_as,
                    small=small.shown_as in shown, hidden=small.hidden_as in shown))
        return " ".join(parts)

    def hide(self, cells: list[tuple[object, str]], key: str) -> list[tuple[object, str]]:
        """A column's (value, text) per unit, with the published version's marks."""
        marked = self._marked.get(key)
        if not marked:
            return cells
        out = list(cells)
        for n, mark in marked:
            out[n] = (mark, mark)
        return out

    @cached_property
    def _marked(self) -> dict[str, list[tuple[int, str]]]:
        """Key → (row of the unit, mark) of every unit's value the published version marks."""
        row = {code: n for n, code in enumerate(self.fig.codes)}
        out: dict[str, list[tuple[int, str]]] = {}
        for (code, key), mark in self.fig.marks.items():
            if mark and code in row:
                out.setdefault(key, []).append((row[code], mark))
        return out

    def column_cells(self, values: list, kind: str, key: str) -> list[Cell]:
        """One cell per unit for a column's values (None when blank): equal values share one
        (frozen) Cell, and each distinct value is formatted once."""
        made: dict[tuple[type, object], Cell] = {}
        cells = []
        for value, text in self.hide([(v, "") for v in values], key):
            # 0.0 and -0.0 are equal keys, yet read "0" and "-0"
            same = (type(value), value) if value else (type(value), value, repr(value))
            cell = made.get(same)
            if cell is None:
                cell = made[same] = Cell(value, text or format_value(value, kind))
            cells.append(cell)
        return cells

    def coverage_text(self, count: int) -> str:
        return f"{count}/{self.fig.expected}"

    # ------------------------------------------------------------------ unit tables

    def unit_table(self, key: str, caption: str, items: list[tuple[Item, str]]) -> Table:
        """Units as rows; for each item, one column per year; then total and coverage rows."""
        years = self.fig.years
        columns = [Column(item.code, bd, year, item.type) for item, bd in items for year in years]
        header = [
            [HeaderCell(f"{item.code}. {item.label}" + (f" ({item.unit})" if item.unit else ""),
                        len(years)) for item, _ in items],
            [HeaderCell(self.year_header(year)) for _ in items for year in years],
        ]
        rows: list[Row] = []
        series, lists = [], []
        for column in columns:
            k = make_key(column.indicator, column.breakdown, column.year)
            values = (self.fig.text_series(k) if column.kind == "yesno"
                      else self.fig.number_series(k))
            series.append(values)
            # Plain lists: 3,000 units × 100 columns of pandas look-ups is slow.
            lists.append(self.column_cells([x or None if column.kind == "yesno" else
                                            (None if x != x else x) for x in values.tolist()],
                                           column.kind, k))
        by_unit = zip(*lists, strict=True) if lists else [()] * len(self.fig.codes)
        for n, (code, cells) in enumerate(zip(self.fig.codes, by_unit, strict=True)):
            rows.append(Row(UNIT, str(n + 1), self.fig.names[code], list(cells),
                            unit_code=code))
        yes_no = all(c.kind == "yesno" for c in columns)
        label = self.wording.say("appendix.yes_count" if yes_no else "appendix.total")
        totals, counts = [], []
        for column, values in zip(columns, series, strict=True):
            k = make_key(column.indicator, column.breakdown, column.year)
            fixed = self.fig.covers_marked(k)
            if column.kind == "yesno":
                answered = values[values != ""]
                totals.append(Cell(float((answered == "Có").sum()),
                                   auto(float((answered == "Có").sum()))))
                count = len(answered)
            elif mark := self.fig.total_mark(k):
                count = int(values.notna().sum())
                totals.append(Cell(mark, mark, fixed=True))
            else:
                count = int(values.notna().sum())
                total = float(values.sum()) if count else None
                totals.append(Cell(total, format_value(total, column.kind), fixed=fixed))
            counts.append(Cell(count, self.coverage_text(count), fixed=fixed))
        rows.append(Row(TOTAL, "", label, totals))
        rows.append(Row(COVERAGE, "", self.wording.say("appendix.coverage"), counts))
        return Table(key, caption, self.wording.say("appendix.stub_unit"), header, columns, rows,
                     self.notes("appendix.coverage_note", rows=rows), STUB_UNIT_MM)

    # ------------------------------------------------------------------ town breakdowns

    def breakdown_table(self, key: str, block: Block, item: Item) -> Table:
        """Town totals of one indicator by its row categories (× the block's columns)."""
        form = self.config.form
        dimension = form.dimensions[item.rows or ""]
        col_cats = form.dimensions[block.columns].categories if block.columns else []
        years = self.fig.years
        columns = [Column(item.code, c.code if c else "", year, item.type)
                   for year in years for c in (col_cats or [None])]
        if col_cats:
            header = [[HeaderCell(self.year_header(y), len(col_cats)) for y in years],
                      [HeaderCell(c.label) for _ in years for c in col_cats]]
        else:
            header = [[HeaderCell(self.year_header(y)) for y in years]]
        total_row = next((c.code for c in dimension.categories if c.total), None)
        coverage = []
        for column in columns:
            rows_counts = [self.fig.total(make_key(item.code, join_breakdown(
                cat.code, column.breakdown), column.year))[1] for cat in dimension.categories]
            reference = (self.fig.total(make_key(item.code, join_breakdown(
                total_row, column.breakdown), column.year))[1] if total_row else max(rows_counts))
            coverage.append(reference)
        rows: list[Row] = []
        any_partial = False
        for n, cat in enumerate(dimension.categories, start=1):
            cells = []
            for column, reference in zip(columns, coverage, strict=True):
                breakdown = join_breakdown(cat.code, column.breakdown)
                k = make_key(item.code, breakdown, column.year)
                total, count = self.fig.total(k)
                partial = count < reference
                any_partial |= partial
                mark = self.fig.total_mark(k)
                value = mark or total
                text = (mark or format_value(total, item.type)) + ("**" if partial else "")
                cells.append(Cell(value, text, (item.code, breakdown, column.year), partial,
                                  fixed=bool(mark) or self.fig.covers_marked(k)))
            rows.append(Row(CATEGORY, str(n), cat.label, cells))
        keys = [(item.code, join_breakdown(total_row, c.breakdown), c.year) if total_row
                else None for c in columns]
        rows.append(Row(COVERAGE, "", self.wording.say("appendix.coverage"),
                        [Cell(c, self.coverage_text(c), k,
                              fixed=k is not None and self.fig.covers_marked(make_key(*k)))
                         for c, k in zip(coverage, keys, strict=True)]))
        caption = self.wording.say("appendix.breakdown_caption", code=item.code,
                                   label=item.label + (f" ({item.unit})" if item.unit else ""),
                                   dimension=dimension.label[:1].lower() + dimension.label[1:],
                                   **self.common)
        return Table(key, caption, self.wording.say("appendix.stub_category"), header, columns,
                     rows, self.notes("appendix.coverage_note_town", any_partial, rows),
                     STUB_CATEGORY_MM)

    # ------------------------------------------------------------------ one tab

    def tab_tables(self, tab: Tab) -> list[Table]:
        form = self.config.form
        tables: list[Table] = []
        for b, block in enumerate(tab.blocks):
            if block.kind != "table" or not block.yearly:
                continue
            items = [(item, bd) for item in block.items if item.type in TABLE_KINDS
                     and (bd := headline(form, block, item)) is not None]
            for c, chunk in enumerate(_chunks(items)):
                caption = block.title + (
                    " " + self.wording.say("appendix.continued") if c else "")
                tables.append(self.unit_table(f"{tab.id}-{b + 1}-{c + 1}", caption, chunk))
            for item in block.items:
                if item.rows and item.type in NUMERIC_TYPES:
                    tables.append(self.breakdown_table(f"{tab.id}-{item.code}", block, item))
        return tables

    # ------------------------------------------------------------------ status

    def status_table(self, result: Consolidated) -> Table:
        status = result.status.set_index("unit_code")
        names = self.wording.raw("appendix.status_columns")
        tabs = [t for t in self.config.form.tabs if f"completeness_{t.id}" in status.columns]
        spec = ([("completeness", "percent", names["completeness"])]
                + [(f"completeness_{t.id}", "percent",
                    self.wording.say("appendix.status_columns.section", tab=t.title))
                   for t in tabs]
                + [("timeliness", "text", names["state"]),
                   ("completion_date", "text", names["completion_date"]),
                   ("errors", "integer", names["errors"]), ("warnings", "integer",
                                                            names["warnings"])])
        columns = [Column(name, "", None, kind) for name, kind, _ in spec]
        header = [[HeaderCell(label) for _, _, label in spec]]
        no_book = self.wording.say("situation.no_workbook")
        rows = []
        # the columns as plain lists, in the order of the units
        records = status.reindex(self.fig.codes)[[name for name, _, _ in spec] + ["found"]]
        for n, (code, record) in enumerate(zip(self.fig.codes, records.to_dict("records"),
                                               strict=True), start=1):
            cells = []
            for name, kind, _ in spec:
                value = record[name]
                if name == "completion_date":
                    value = _short(value)
                elif name == "timeliness" and not bool(record["found"]):
                    value = f"{value} ({no_book})"
                elif kind == "integer":
                    value = float(value)
                elif kind == "percent":
                    value = None if pd.isna(value) else float(value)
                cells.append(Cell(value, format_value(value, kind)))
            rows.append(Row(UNIT, str(n), self.fig.names[code], cells, unit_code=code))
        totals = []
        for i, (_, kind, _) in enumerate(spec):
            if kind == "integer":
                total = float(sum(row.cells[i].value or 0 for row in rows))
                totals.append(Cell(total, auto(total)))
            else:
                totals.append(Cell(None, ""))
        rows.append(Row(TOTAL, "", self.wording.say("appendix.total"), totals))
        widths = [STATUS_WIDTHS.get(c.kind, 14.0) for c in columns]
        return Table("status", self.wording.say("appendix.status_caption"),
                     self.wording.say("appendix.stub_unit"), header, columns, rows, "",
                     STUB_STATUS_MM, widths)

    # ------------------------------------------------------------------ data quality

    def quality_table(self, result: Consolidated) -> Table | None:
        """One row per unit with errors or warnings: their numbers and kinds (check names),
        in registry order; None when no unit has any. With the review store's lives of the
        period, also how many of its errors and warnings stand open, explained, accepted (or
        not an error) and fixed, and the median days to fix; a unit that fixed all of its
        findings has a row too, and the total row holds the median over all fixed ones."""
        status = result.status.set_index("unit_code")
        names = self.wording.raw("appendix.quality_columns")
        spec = [("errors", "integer"), ("warnings", "integer"), ("error_kinds", LONG_TEXT),
                ("warning_kinds", LONG_TEXT)]
        lives = period_lives(result)
        counts = None
        if lives is not None:
            counts = finding_counts(lives).set_index("unit_code")
            counts[review.ACCEPTED] += counts.pop(review.FALSE_POSITIVE)
            spec += [(state, "integer") for state in LIFE_STATES] + [("days_to_fix", "text")]
        columns = [Column(name, "", None, kind) for name, kind in spec]
        findings = serious(result)
        by_unit = {unit: group for unit, group in findings.groupby("unit_code", sort=False)}
        catalogue = self.config.catalogue
        rows = []
        for code in self.fig.codes:
            errors, warnings = int(status.loc[code, "errors"]), int(status.loc[code, "warnings"])
            lived = counts is not None and code in counts.index
            if not errors and not warnings and not lived:
                continue
            group = by_unit.get(code, findings.iloc[0:0])
            cells = [Cell(float(errors), auto(float(errors))),
                     Cell(float(warnings), auto(float(warnings)))]
            for severity in (ERROR, WARNING):
                text = unit_kinds(group, severity, self.wording, catalogue)
                cells.append(Cell(text, text))
            if counts is not None:
                mine = counts.loc[code] if lived else None
                for state in LIFE_STATES:
                    number = float(mine[state]) if mine is not None else 0.0
                    cells.append(Cell(number, auto(number)))
                days = float(mine["days_to_fix"]) if mine is not None else float("nan")
                cells.append(Cell(None if pd.isna(days) else days, days_text(days)))
            rows.append(Row(UNIT, str(len(rows) + 1), self.fig.names[code], cells,
                            unit_code=code))
        if not rows:
            return None
        totals = [Cell(None, "")] * len(spec)
        for i, (_, kind) in enumerate(spec):
            if kind == "integer":
                total = float(sum(r.cells[i].value for r in rows))
                totals[i] = Cell(total, auto(total))
        if lives is not None:
            median = days_to_fix(lives).median()
            totals[-1] = Cell(None if pd.isna(median) else float(median), days_text(median))
        rows.append(Row(TOTAL, "", self.wording.say("appendix.total"), totals))
        return Table("quality", self.wording.say("appendix.quality_caption"),
                     self.wording.say("appendix.stub_unit"),
                     [[HeaderCell(str(names[name])) for name, _ in spec]], columns, rows,
                     self.wording.say("appendix.quality_note"), STUB_STATUS_MM,
                     [QUALITY_WIDTHS[kind] for _, kind in spec])


def _short(value: object) -> str:
    text = "" if value is None or pd.isna(value) else str(value)
    try:
        return short_date(pd.Timestamp(text).date()) if text else ""
    except ValueError:
        return text


def _chunks(items: list[tuple[Item, str]]) -> list[list[tuple[Item, str]]]:
    """Split a block's indicators into tables that fit a landscape page; yes/no apart."""
    chunks: list[list[tuple[Item, str]]] = []
    for item, bd in items:
        current = chunks[-1] if chunks else None
        kinds = {i.type == "yesno" for i, _ in current} if current else set()
        money = any(i.type == "money" for i, _ in (current or [])) or item.type == "money"
        limit = PER_TABLE_MONEY if money else PER_TABLE
        if current is None or len(current) >= limit or kinds != {item.type == "yesno"}:
            chunks.append([(item, bd)])
        else:
            current.append((item, bd))
    return chunks


def build_appendices(result: Consolidated, fig: Figures, config: Config, wording: Wording,
                     common: dict, attached: str) -> tuple[list[Appendix], dict[str, str]]:
    """Phụ lục I (reporting status and data quality), Phụ lục II (each unit's errors and
    warnings, when some unit has any), then one per form tab with tables.

    Returns the appendices and, per tab id (and "status", "quality"), the appendix number the
    body refers to."""
    maker = TableMaker(fig, config, wording, common)
    appendices = [Appendix("I", wording.say("appendix.status_title", **common), attached,
                           [maker.status_table(result)], "PL I")]
    numbers = {"status": "I"}
    quality = maker.quality_table(result)
    if quality is not None:
        appendices.append(Appendix("II", wording.say("appendix.quality_title", **common),
                                   attached, [quality], "PL II"))
        numbers["quality"] = "II"
    for tab in config.form.tabs:
        tables = maker.tab_tables(tab)
        if not tables:
            continue
        number = roman(len(appendices) + 1)
        section = _NUMBERED.sub("", tab.section, count=1)
        appendices.append(Appendix(number, wording.say("appendix.tab_title", section=section,
                                                       **common),
                                   attached, tables, f"PL {number}"))
        numbers[tab.id] = number
    return appendices, numbers
