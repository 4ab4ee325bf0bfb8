"""DHIS2-style consistency rules: loaded from `config/rules.yaml`, checked on the wide matrix.

A rule compares a left and a right expression (`flows.core.expr`) for every (unit, year) row
at once, with a DHIS2 missing-value strategy; the pair operators test presence instead. Two
kinds look at the list tables: `list_count` (a count equals the number of list rows dated in
the year) and `list_dates` (every list date lies inside the reporting period).
Compiling the rules against the form is `flows.core.ruleset`'s job, done when config loads.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from flows.config.plan import Window
from flows.core import vnformat
from flows.core.cells import format_date_vi
from flows.core.expr import Node, Number, Ref, compare, evaluate, references
from flows.core.findings import Finding
from flows.core.locate import Locator
from flows.core.ruleset import PAIRS, Check, RuleSet
from flows.core.wide import Wide

SYMBOLS = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


# --------------------------------------------------------------------------- words


def _shown(value: float | None) -> float | None:
    """A rule side as a plain number for the catalogue (None: blank, or not computable)."""
    return None if value is None or not np.isfinite(value) else float(value)


def _expected_params(check: Check, right: float | None) -> dict:
    """What the catalogue needs to word the expected value of a failing check."""
    rule = check.rule
    params = {"symbol": SYMBOLS.get(rule.operator or "==", ""), "right_value": _shown(right),
              "left_text": check.left_text,
              "right_text": "" if isinstance(check.right, Number) else check.right_text,
              "tolerance": rule.tolerance, "tolerance_pct": rule.tolerance_pct}
    if rule.kind == "list_count":
        params.update(count_list=rule.list_code, count_column=check.right_text, right_text="")
    return params


# --------------------------------------------------------------------------- evaluation

FAILURE_COLUMNS = ["check", "unit_code", "year", "left", "right", "indicator", "breakdown",
                   "locate_year"]


def _list_counts(check: Check, index: pd.MultiIndex, lists: pd.DataFrame) -> np.ndarray:
    """Rows of the rule's list dated in each (unit, year) of `index`; 0 where none."""
    if lists.empty:
        return np.zeros(len(index))
    rule = check.rule
    rows = lists[(lists["list"] == rule.list_code) & (lists["column"] == rule.date_column)]
    year = pd.to_numeric(rows["value"].astype(str).str[:4], errors="coerce")
    keyed = pd.DataFrame({"unit_code": rows["unit_code"], "year": year}).dropna()
    counts = keyed.astype({"year": int}).value_counts()
    return counts.reindex(index, fill_value=0).to_numpy(dtype=float)


def _targets(check: Check) -> tuple[Ref | None, Ref | None]:
    """The first reference of the side the finding points at, and of the other side."""
    left, right = references(check.left), references(check.right)
    first_left, first_right = (left or [None])[0], (right or [None])[0]
    if check.rule.cell == "right":
        return first_right or first_left, first_left
    return first_left or first_right, first_right


def _skip(check: Check, data: pd.DataFrame) -> np.ndarray:
    """Rows the missing-value strategy leaves out (count_filled operands never count)."""
    counted = [r.column for node in (check.left, check.right, check.when)
               for r in references(node, counted=False)]
    if not counted or check.rule.missing == "never_skip":
        return np.zeros(len(data), dtype=bool)
    blank = data[list(dict.fromkeys(counted))].isna()
    return (blank.any(axis=1) if check.rule.missing == "skip_if_any_missing"
            else blank.all(axis=1)).to_numpy()


def _pair_failing(check: Check, present: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows breaking a pair rule, and where the finding should point at the other side.

    A compulsory pair points at the side still blank: that is where the commune must type.
    """
    def has(node: Node | None) -> np.ndarray:
        return present[[r.column for r in references(node)]].any(axis=1).to_numpy()

    left_has, right_has = has(check.left), has(check.right)
    if check.rule.operator == "exclusive_pair":
        return left_has & right_has, np.zeros(len(present), dtype=bool)
    return left_has ^ right_has, (left_has if check.rule.cell == "left" else right_has)


def _failures(number: int, check: Check, frame: pd.DataFrame, months: np.ndarray,
              counts: np.ndarray | None) -> pd.DataFrame | None:
    """The failing rows of one check, as a small table (vectorised over all rows); None when
    no row fails."""
    rule = check.rule
    needed = [r.column for node in (check.left, check.right, check.when)
              for r in references(node)]
    data = frame.reindex(columns=list(dict.fromkeys(needed)))  # absent column = all blank
    pair = rule.operator in PAIRS
    filled = data if pair or rule.missing == "skip_if_any_missing" else data.fillna(0)
    present = data.notna()

    def run(node: Node | None) -> np.ndarray:
        if node is None:
            return np.full(len(frame), np.nan)
        return evaluate(node, lambda name: filled[name].to_numpy(dtype=float),
                        lambda name: present[name].to_numpy(), months)

    left = run(check.left)
    right = counts if counts is not None else run(check.right)
    rows = np.isin(frame.index.get_level_values("year"), check.years)
    if check.when is not None:
        when = check.when  # a blank condition (under skip_if_any_missing) never holds
        rows &= compare(run(when.left), when.op, run(when.right), np.zeros(len(frame)))
    if pair:
        failing, flip = _pair_failing(check, present)
    else:
        allowed = rule.tolerance + rule.tolerance_pct / 100 * np.abs(right)
        evaluable = ~np.isnan(left) & ~np.isnan(right)  # division by zero: not judged
        failing = evaluable & ~compare(left, rule.operator or "==", right, allowed)
        failing &= ~_skip(check, data)
        flip = np.zeros(len(frame), dtype=bool)
    hit = np.flatnonzero(rows & failing)
    if not len(hit):  # most checks pass: no table to build
        return None
    return _failure_table(number, frame.index, hit, left, right, *_targets(check), flip)


def _failure_table(number: int, index: pd.MultiIndex, hit: np.ndarray, left: np.ndarray,
                   right: np.ndarray, target: Ref | None, other: Ref | None,
                   flip: np.ndarray) -> pd.DataFrame:
    """Failing rows with the cell to locate: `target`, or `other` where `flip` is set."""
    years = index.get_level_values("year").to_numpy()[hit]
    use_other = flip[hit] & (other is not None)

    def pick(attr: str, default: object) -> np.ndarray:
        first = getattr(target, attr) if target else default
        second = getattr(other, attr) if other else default
        return np.where(use_other, second, first)

    yearly = pick("yearly", True).astype(bool)
    return pd.DataFrame({
        "check": number,
        "unit_code": index.get_level_values("unit_code").to_numpy()[hit],
        "year": years,
        "left": left[hit],
        "right": right[hit],
        "indicator": pick("indicator", ""),
        "breakdown": pick("breakdown", ""),
        # a question asked once sits in a cell without a year
        "locate_year": pd.Series(years, dtype="Int64").where(yearly),
    }, columns=FAILURE_COLUMNS)


def _list_date_findings(check: Check, lists: pd.DataFrame, units: pd.Index, period: Window,
                        unit_names: dict[str, str]) -> list[Finding]:
    """One finding per list date outside the reporting period (the list knows its cells)."""
    if lists.empty:
        return []
    rule = check.rule
    rows = lists[(lists["list"] == rule.list_code) & (lists["column"] == rule.date_column)
                 & lists["unit_code"].isin(units)]
    text = rows["value"].astype(str).str[:10]
    bad = rows[(text < period.start.isoformat()) | (text > period.end.isoformat())]
    span = f"{format_date_vi(period.start)} – {format_date_vi(period.end)}"  # dates only
    findings = []
    for row in bad.itertuples(index=False):
        typed = str(row.value)[:10]
        try:
            shown, year = format_date_vi(date.fromisoformat(typed)), int(typed[:4])
        except ValueError:
            shown, year = typed, None
        findings.append(Finding(
            rule.id, {"left": shown, "right": span, "year": year or "", "category": "",
                      "start": period.start, "end": period.end},
            unit_code=row.unit_code, unit_name=unit_names.get(row.unit_code, ""),
            sheet=row.sheet, cell=row.cell, indicator=rule.list_code or "",
            breakdown=f"{row.row},{row.column}", year=year, value=shown,
            key=f"{rule.id}|{rule.list_code}#{row.row}|{row.column}"))
    return findings


def _findings(failures: pd.DataFrame, checks: tuple[Check, ...], locator: Locator,
              unit_names: dict[str, str]) -> list[Finding]:
    """Findings for the failing rows of all checks, located with one `locate` call."""
    requests = failures.rename(columns={"year": "row_year", "locate_year": "year"})
    located = locator.locate(requests[["unit_code", "indicator", "breakdown", "year"]])
    findings = []
    for row, where in zip(failures.itertuples(index=False),
                          located[["sheet", "cell"]].itertuples(index=False), strict=True):
        check = checks[row.check]
        rule = check.rule
        year = int(row.year)
        left = _shown(row.left)
        findings.append(Finding(
            rule.id, {"left": left, "right": _shown(row.right), "year": year,
                      "category": check.category_label, **_expected_params(check, row.right)},
            unit_code=row.unit_code, unit_name=unit_names.get(row.unit_code, ""),
            sheet=where.sheet or "", cell=where.cell or "", indicator=row.indicator,
            breakdown=row.breakdown, year=year,
            value="" if left is None else vnformat.auto(left),
            key=f"{rule.id}|{year}|{check.category}"))
    return findings


def check_rules(wide: Wide, lists: pd.DataFrame, rules: RuleSet, locator: Locator,
                unit_names: dict[str, str]) -> list[Finding]:
    """Every failing (rule, unit, year[, category]) as a `Finding`, with its cell."""
    frame = wide.frame
    months = pd.Index(frame.index.get_level_values("year")).map(rules.months) \
        .to_numpy(dtype=float)
    tables: list[pd.DataFrame | None] = []
    findings: list[Finding] = []
    for number, check in enumerate(rules.checks):
        kind = check.rule.kind
        if kind == "list_dates":
            findings += _list_date_findings(check, lists, frame.index.unique("unit_code"),
                                            rules.period, unit_names)
            continue
        counts = _list_counts(check, frame.index, lists) if kind == "list_count" else None
        tables.append(_failures(number, check, frame, months, counts))
    failures = [t for t in tables if t is not None and not t.empty]
    if failures:
        table = pd.concat(failures, ignore_index=True)
        findings = _findings(table, rules.checks, locator, unit_names) + findings
    return findings
