"""The data-quality words of the report: kinds of problems named as the People's Committee reads
them (the catalogue's categories and check names), never a finding's own message.

A finding's message (with its cells, medians and z-scores) is for the commune that fixes it and
lives in `findings.xlsx`; the report says how many problems of which kind, and where.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from flows.config.catalogue import Catalogue
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING
from flows.core.review import days_to_fix
from flows.core.vnformat import auto
from flows.outputs.report.wording import Wording

SEVERITIES = (ERROR, WARNING)


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def serious(result: Consolidated) -> pd.DataFrame:
    """The errors and warnings of the report's units, in the findings' order."""
    findings = result.findings
    if findings.empty:
        return findings
    codes = set(result.status["unit_code"])
    return findings[findings["severity"].isin(SEVERITIES) & findings["unit_code"].isin(codes)]


def period_lives(result: Consolidated) -> pd.DataFrame | None:
    """The errors and warnings of the period of the report's units with their states, the
    fixed ones too (the review store's `finding_lives`); None without a usable history."""
    lives = result.finding_lives
    if lives is None:
        return None
    codes = set(result.status["unit_code"])
    return lives[lives["severity"].isin(SEVERITIES) & lives["unit_code"].isin(codes)]


def days_text(days: float | None) -> str:
    """Median days as the report shows them: "2", "1,5"; blank when there is none."""
    return "" if days is None or pd.isna(days) else auto(round(float(days), 1))


def fixed_sentence(result: Consolidated, wording: Wording) -> str:
    """How many errors and warnings the units fixed in the period, and the median days from
    first seen to fixed ("" without a history, or when none was fixed)."""
    lives = period_lives(result)
    if lives is None:
        return ""
    days = days_to_fix(lives)
    return wording.say("quality.fixed", fixed=len(days),
                       days=days_text(days.median()) if len(days) else "")


def check_name(rule: str, name: str) -> str:
    """The catalogue's name of a check; "" for a rule of rules.yaml without a name of its own
    (its name is then its code, which no reader should see)."""
    name = str(name or "").strip()
    return "" if not name or name == rule else name


def kind_phrase(wording: Wording, catalogue: Catalogue, category: str,
                names: list[str]) -> str:
    """One category of problems in plain words, with the checks that found them:
    "nhập liệu (số viết bằng chữ, số kèm chữ)"."""
    phrases = wording.raw("quality.kinds") or {}
    key = category if category in phrases else "other"
    limit = int(wording.raw("quality.max_names"))
    return wording.say(f"quality.kinds.{key}", names=", ".join(names[:limit]),
                       label=lower_first(catalogue.categories.get(category, category)))


def category_order(catalogue: Catalogue, category: str) -> int:
    order = list(catalogue.categories)
    return order.index(category) if category in order else len(order)


def kinds(frame: pd.DataFrame, severity: str, wording: Wording, catalogue: Catalogue) -> str:
    """"2 lỗi nhập liệu (…), 1 lỗi số liệu giữa các chỉ tiêu không khớp nhau": the problems of
    one severity by category, the most frequent first."""
    found = frame[frame["severity"] == severity]
    groups = []
    for category, group in found.groupby("category", sort=False):
        names = Counter(lower_first(name) for rule, rule_name in
                        zip(group["rule"], group["rule_name"], strict=True)
                        if (name := check_name(str(rule), str(rule_name))))
        groups.append((len(group), category_order(catalogue, str(category)),
                       kind_phrase(wording, catalogue, str(category),
                                   [name for name, _ in names.most_common()])))
    groups.sort(key=lambda g: (-g[0], g[1]))
    limit = int(wording.raw("quality.max_kinds"))
    if len(groups) == limit + 1:  # one kind left over is named, not called "khác"
        limit += 1
    texts = [wording.say(f"quality.{severity}_kind", count=count, phrase=phrase)
             for count, _, phrase in groups[:limit]]
    rest = sum(count for count, _, _ in groups[limit:])
    if rest:
        texts.append(wording.say(f"quality.other_{severity}", count=rest))
    return wording.join(texts)


def unit_kinds(group: pd.DataFrame, severity: str, wording: Wording,
               catalogue: Catalogue) -> str:
    """One unit's problems of one severity by check, for the appendix table:
    "Số viết bằng chữ (1); Số kèm chữ (1)"."""
    found = group[group["severity"] == severity]
    names: Counter[str] = Counter()
    for rule, rule_name, category in zip(found["rule"], found["rule_name"], found["category"],
                                         strict=True):
        names[check_name(str(rule), str(rule_name))
              or upper_first(kind_phrase(wording, catalogue, str(category), []))] += 1
    return "; ".join(wording.say("appendix.quality_kind", name=name, count=count)
                     for name, count in names.most_common())
