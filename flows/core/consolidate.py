"""Combine the workbooks of all units into one table, check it, and say where each unit stands.

The data flows one way: extractions → one tidy table → checks (rules, outliers, timeliness) →
findings and the status of every expected unit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from flows.config.form import NUMERIC_TYPES
from flows.config.loader import Config
from flows.core.completeness import completeness, missing_findings
from flows.core.extract import LIST_COLUMNS, VALUE_COLUMNS, Extraction
from flows.core.findings import ERROR, WARNING, Finding, findings_frame
from flows.core.index import ValueIndex
from flows.core.layout import Layout
from flows.core.locate import Locator
from flows.core.outliers import outlier_findings
from flows.core.privacy import withhold_explanations, withhold_personal_data
from flows.core.rules import RuleSet, check_rules
from flows.core.scope import Scope
from flows.core.timeliness import reporting_rate, timeliness, timeliness_findings
from flows.core.wide import build_wide

BASE_COLUMNS = ["unit_code", "unit_name", "kind", "workbook", "found", "started",
                "required_filled", "required_total", "completeness"]
TAIL_COLUMNS = ["zero_values", "submission_status", "completion_date", "complete", "timeliness",
                "days_late", "past_deadline", "errors", "warnings", "access", "read_at", "modified",
                "link"]
UNREACHABLE = "không truy cập được"
UNREADABLE = "tệp không mở được"


def _access(extraction: Extraction | None) -> str:
    """How the unit's workbook was reached this run ("" when it was read normally)."""
    if extraction is None:
        return ""
    if extraction.unreadable:
        return UNREADABLE
    return UNREACHABLE if extraction.unreachable else ""


@dataclass
class Consolidated:
    values: pd.DataFrame
    lists: pd.DataFrame
    findings: pd.DataFrame
    status: pd.DataFrame
    reporting: pd.DataFrame
    chosen: dict[str, Extraction] = field(default_factory=dict)
    scope: Scope | None = None  # None: every unit of the registry
    # From the review store (empty / None without a usable history): unit → when the office
    # last approved it, for the units approved (or edited after approval) now; and every
    # finding of the period with its state, fixed ones too (`flows.core.review.finding_lives`).
    approvals: dict[str, datetime] = field(default_factory=dict)
    finding_lives: pd.DataFrame | None = None
    # the answers typed in the results tabs that hold personal data, as (unit, tab, row): an
    # error says so at their row, and the review never takes them (`flows.core.privacy`)
    withheld_answers: frozenset[tuple[str, str, int]] = frozenset()


def choose_workbooks(
    extractions: list[Extraction], config: Config
) -> tuple[dict[str, Extraction], list[Finding]]:
    """One workbook per unit. Several claiming one unit: the one whose file name starts with the
    unit's code wins (a file named for another unit, or for none, never replaces it); among
    those (or if none is so named), the latest edited. Every other claim is an error."""
    by_unit: dict[str, list[Extraction]] = {}
    for extraction in extractions:
        if extraction.unit_code:
            by_unit.setdefault(extraction.unit_code, []).append(extraction)
    chosen: dict[str, Extraction] = {}
    findings: list[Finding] = []
    units = config.units.by_code()
    for code, claims in by_unit.items():
        claims.sort(key=lambda e: (not e.unreadable, e.name_hint == code,
                                   e.modified is not None, e.modified, e.source), reverse=True)
        chosen[code] = claims[0]
        for other in claims[1:]:
            if other.unreadable:  # it claims nothing: its own finding says what is wrong
                continue
            findings.append(Finding(
                "duplicate-unit", {"count": len(claims), "code": code,
                                   "names": [e.source for e in claims],
                                   "chosen": claims[0].source, "other": other.source,
                                   "by_name": claims[0].name_hint == code != other.name_hint},
                unit_code=code, unit_name=units[code].full_name, source=other.source,
                key=f"duplicate:{other.source}"))
    return chosen, findings


def role_values(index: ValueIndex, role: str) -> pd.Series:
    """The value of one special cell (status, completion date…) per unit."""
    position = index.layout.inputs.index(index.layout.role(role))
    picked = index.values[index.pos == position]
    return picked.set_index("unit_code")["value"]


def unit_status(index: ValueIndex, chosen: dict[str, Extraction], config: Config,
                as_of: date, completion: pd.Series | None = None) -> pd.DataFrame:
    """One row per expected unit: workbook found, completeness by section, timeliness."""
    units = config.units.active()
    codes = [u.code for u in units]
    frame = pd.DataFrame({
        "unit_code": codes,
        "unit_name": [u.full_name for u in units],
        "kind": [u.kind for u in units],
        "workbook": [chosen[c].source if c in chosen else "" for c in codes],
        "found": [c in chosen for c in codes],
        "modified": [chosen[c].modified.isoformat(timespec="seconds")
                     if c in chosen and chosen[c].modified else "" for c in codes],
        "link": [(chosen[c].link or "") if c in chosen else "" for c in codes],
        "access": [_access(chosen.get(c)) for c in codes],
        "read_at": [chosen[c].read_at.isoformat(timespec="seconds")
                    if c in chosen and chosen[c].read_at else "" for c in codes],
    })
    frame = frame.merge(completeness(index.values, index.layout, codes, index), on="unit_code")
    frame["submission_status"] = frame["unit_code"].map(role_values(index, "status")).fillna("")
    frame["completion_date"] = frame["unit_code"].map(
        role_values(index, "completion_date")).fillna("")
    if completion is not None:  # evidence from the audit history wins over a typed date
        frame["completion_date"] = frame["unit_code"].map(completion).fillna(
            frame["completion_date"])
    return timeliness(frame, config, as_of)


def count_findings(status: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Error and warning counts per unit, and the status columns in their documented order."""
    counts = findings.groupby(["unit_code", "severity"]).size().unstack(fill_value=0)
    frame = status.copy()
    for column, severity in (("errors", ERROR), ("warnings", WARNING)):
        series = counts[severity] if severity in counts else pd.Series(dtype=int)
        frame[column] = frame["unit_code"].map(series).fillna(0).astype(int)
    sections = [c for c in frame.columns if c.startswith("completeness_")]
    return frame[BASE_COLUMNS + sections + TAIL_COLUMNS]


def _no_workbook_findings(chosen: dict[str, Extraction], config: Config) -> list[Finding]:
    return [
        Finding("no-workbook", {"unit": unit.full_name}, unit_code=unit.code,
                unit_name=unit.full_name, key="no-workbook")
        for unit in config.units.active() if unit.code not in chosen
    ]


@dataclass
class Checked:
    """Everything known before the per-unit summary: the indexed table and its findings."""

    index: ValueIndex
    lists: pd.DataFrame
    findings: list[Finding]
    chosen: dict[str, Extraction]
    withheld_answers: frozenset[tuple[str, str, int]] = frozenset()


def consolidate(extractions: list[Extraction], config: Config, layout: Layout, as_of: date,
                rules: RuleSet | None = None) -> Consolidated:
    """All units' values in one tidy table, every finding, and the status of each unit."""
    return summarise(check(extractions, config, layout, as_of, rules), config, as_of)


def check(extractions: list[Extraction], config: Config, layout: Layout, as_of: date,
          rules: RuleSet | None = None, released: Collection[str] = ()) -> Checked:
    """One workbook per unit, one tidy table, and the findings of every value check.

    `released`: the ids of the personal-data findings the office marked not an error (from
    the review store, read before the checks): their text is used as typed."""
    chosen, findings = choose_workbooks(extractions, config)
    inactive = {u.code for u in config.units.units if not u.active}
    for extraction in extractions:
        keep = extraction.unit_code is None or chosen.get(extraction.unit_code) is extraction
        if keep:
            findings += extraction.findings
        if extraction.unit_code in inactive:
            findings.append(Finding("inactive-unit", {"code": extraction.unit_code},
                                    unit_code=extraction.unit_code, source=extraction.source,
                                    key="inactive"))
    findings += _no_workbook_findings(chosen, config)
    active = [e for code, e in chosen.items() if code not in inactive]
    values = _concat([e.values for e in active], VALUE_COLUMNS)
    lists = _concat([e.lists for e in active], LIST_COLUMNS)
    index, implausible = drop_implausible(sorted_index(values, layout), config)
    findings += implausible
    findings += check_values(index, lists, config, as_of, rules)
    # personal data in free text: an error at the cell, and the text withheld from here on
    index, lists, findings = withhold_personal_data(index, lists, findings, config, released)
    said, withheld = withhold_explanations(chosen, config, released)
    return Checked(index, lists, findings + said, chosen, withheld)


def drop_implausible(index: ValueIndex, config: Config) -> tuple[ValueIndex, list[Finding]]:
    """Numbers beyond the plausible bound of their type (or not finite) become errors, not
    values: the rest of the checks never see them."""
    if index.values.empty:
        return index, []
    bounds = config.quality.bounds
    layout = index.layout
    limit = np.array([getattr(bounds, c.type, np.inf) if c.type in NUMERIC_TYPES else np.inf
                      for c in layout.inputs] + [np.inf])
    numbers = index.numbers
    bad = np.abs(np.nan_to_num(numbers, nan=0.0)) > limit[index.pos]
    if not bad.any():
        return index, []
    names = {u.code: u.full_name for u in config.units.units}
    rows = index.values[bad]
    findings = [Finding("implausible-number", {
        "value": row.value, "limit": getattr(bounds, layout.inputs[row.pos].type)},
        unit_code=row.unit_code, unit_name=names.get(row.unit_code, ""), sheet=row.sheet,
        cell=row.cell, indicator=row.indicator, breakdown=row.breakdown,
        year=None if pd.isna(row.year) else int(row.year), value=str(row.value),
        key=f"{row.indicator}|{row.breakdown}|{'' if pd.isna(row.year) else int(row.year)}")
        for row in rows.itertuples()]
    kept = index.values[~bad].reset_index(drop=True)
    return ValueIndex(kept, layout), findings


def sorted_index(values: pd.DataFrame, layout: Layout) -> ValueIndex:
    """The tidy table in unit order, then form order, with its integer positions."""
    index = ValueIndex(values, layout)
    order = np.lexsort((index.pos, index.unit))
    return ValueIndex(values.take(order).reset_index(drop=True).assign(pos=index.pos[order]),
                      layout)


def check_values(index: ValueIndex, lists: pd.DataFrame, config: Config, as_of: date,
                 rules: RuleSet | None) -> list[Finding]:
    """Consistency rules and outliers over all units at once (no workbook parsing here)."""
    names = {u.code: u.full_name for u in config.units.units}
    codes = list(index.unit_codes)
    wide = build_wide(index.values, index.layout, config.form, codes, index)
    locator = Locator(index.values, index.layout, index)
    findings = check_rules(wide, lists, rules, locator, names) if rules else []
    return findings + outlier_findings(wide, config, locator, names)


def summarise(checked: Checked, config: Config, as_of: date,
              completion: pd.Series | None = None, extra: list[Finding] | None = None
              ) -> Consolidated:
    """Status and timeliness per unit, the findings table and the reporting rate.

    `completion` (unit → ISO date) and `extra` findings come from the audit history, when the
    flow keeps one: the summary is then made again with them.
    """
    index = checked.index
    layout = index.layout
    status = unit_status(index, checked.chosen, config, as_of, completion)
    names = {u.code: u.full_name for u in config.units.units}
    locator = Locator(index.values, layout, index)
    findings = (checked.findings + list(extra or [])
                + missing_findings(index.values, layout, status, names, index,
                                   where={c: e.empty_cells for c, e in checked.chosen.items()})
                + timeliness_findings(status, config, layout, as_of, locator))
    frame = findings_frame(findings, config.catalogue)
    status = count_findings(status, frame)
    values = index.values.drop(columns="pos")
    return Consolidated(values, checked.lists, frame, status, reporting_rate(status, as_of),
                        checked.chosen, withheld_answers=checked.withheld_answers)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        empty = pd.DataFrame(columns=columns)
        if "year" in columns:
            empty["year"] = empty["year"].astype("Int64")
        return empty
    return pd.concat(frames, ignore_index=True)[columns]
