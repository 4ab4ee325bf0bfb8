"""DHIS2-style consistency rules: loaded from `config/rules.yaml`, checked on the wide matrix.

A rule compares a left and a right expression (`flows.core.expr`) for every (unit, year) row
at once, with a DHIS2 missing-value strategy; the pair operators test presence instead. Two
kinds look at the list tables: `list_count` (a count equals the number of list rows dated in
the year) and `list_dates` (every list date lies inside the reporting period).
Every mistake in the rule file is reported together, in Vietnamese, before any data is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flows import vnformat
from flows.config import (
    ConfigError,
    ConfigModel,
    Form,
    Plan,
    Window,
    describe_error,
    key_path,
    load_yaml,
    nfc,
)
from flows.core.cells import format_date_vi
from flows.core.expr import (
    PLACEHOLDER,
    Condition,
    ExprError,
    FormIndex,
    Node,
    Number,
    Ref,
    compare,
    evaluate,
    parse_condition,
    parse_expression,
    references,
)
from flows.core.findings import ERROR, WARNING, Finding
from flows.core.locate import Locator
from flows.core.wide import Wide

PAIRS = ("compulsory_pair", "exclusive_pair")
SYMBOLS = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
OPERATOR_NAMES = {  # DHIS2 spellings, handy because `>=` must be quoted in YAML
    "equal_to": "==", "not_equal_to": "!=", "less_than": "<", "less_than_or_equal_to": "<=",
    "greater_than": ">", "greater_than_or_equal_to": ">=",
}
SEVERITY_NAMES = {"error": ERROR, "warning": WARNING}
PLACEHOLDERS = ("left", "right", "year", "category")
BLANK = "(trống)"
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "compulsory_pair", "exclusive_pair"]
Missing = Literal["skip_if_any_missing", "skip_if_all_missing", "never_skip"]


# --------------------------------------------------------------------------- models


class Rule(ConfigModel):
    """One rule as written in `rules.yaml`."""

    id: str = Field(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
    message: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    severity: Literal["lỗi", "cảnh báo"]
    kind: Literal["compare", "list_count", "list_dates"] = "compare"
    left: str | None = None
    operator: Operator | None = None
    right: str | None = None
    missing: Missing = "skip_if_any_missing"
    tolerance: float = Field(default=0, ge=0)
    tolerance_pct: float = Field(default=0, ge=0)
    years: tuple[int, ...] | None = None
    for_each: str | None = None
    when: str | None = None
    cell: Literal["left", "right"] = "left"
    list_code: str | None = Field(default=None, alias="list")
    date_column: str | None = None

    @field_validator("left", "right", "when", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # `right: 0` arrives from YAML as an int; it is still an expression
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _severity_word(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = nfc(value).strip()
            return SEVERITY_NAMES.get(text.casefold(), text)
        return value

    @field_validator("operator", mode="before")
    @classmethod
    def _operator_name(cls, value: Any) -> Any:
        return OPERATOR_NAMES.get(value.strip(), value.strip()) if isinstance(value, str) \
            else value


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """A rule ready to evaluate: one per rule, or one per category with `for_each`."""

    rule: Rule
    category: str  # the for_each category code, "" without for_each
    category_label: str
    left: Node | None
    right: Node | None
    when: Condition | None
    left_text: str  # the expression as written, `$` replaced: shown in `expected`
    right_text: str
    years: tuple[int, ...]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    checks: tuple[Check, ...]
    months: dict[int, int]  # months of each form year inside the reporting period
    period: Window


# --------------------------------------------------------------------------- loading


def reporting_months(plan: Plan, years: list[int]) -> dict[int, int]:
    """Calendar months of each year touched by `plan.reporting_period` (12, 12, 3 here)."""
    start, end = plan.reporting_period.start, plan.reporting_period.end
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return {y: max(0, min(last, y * 12 + 11) - max(first, y * 12) + 1) for y in years}


def _shape_problems(rule: Rule, where: str, form: Form) -> list[str]:
    """Keys each kind needs or forbids, and references to the form outside expressions."""
    needs = {"compare": ("left", "operator", "right"),
             "list_count": ("left", "operator", "list", "date_column"),
             "list_dates": ("list", "date_column")}[rule.kind]
    forbids = {"compare": ("list", "date_column"), "list_count": ("right",),
               "list_dates": ("left", "operator", "right", "when", "for_each")}[rule.kind]
    given = rule.model_dump(by_alias=True)
    problems = [f"{where}.{key}: thiếu khoá bắt buộc với kind: {rule.kind}"
                for key in needs if given[key] is None]
    problems += [f"{where}.{key}: không dùng khoá này với kind: {rule.kind}"
                 for key in forbids if given[key] is not None]
    if rule.operator in PAIRS and (rule.kind != "compare" or rule.tolerance or rule.tolerance_pct):
        problems.append(f"{where}.operator: {rule.operator} chỉ dùng cho kind: compare và "
                        "không đi với tolerance")
    for year in rule.years or ():
        if year not in form.years:
            problems.append(f"{where}.years: năm {year} không có trong biểu mẫu (các năm: "
                            f"{', '.join(map(str, form.years))})")
    if rule.for_each and rule.for_each not in form.dimensions:
        problems.append(f"{where}.for_each: không có phân tổ '{rule.for_each}' trong biểu mẫu "
                        f"(có: {', '.join(form.dimensions)})")
    if rule.list_code:
        problems += _list_problems(rule, where, form)
    for name in _PLACEHOLDER_RE.findall(rule.message):
        if name not in PLACEHOLDERS or (name == "category" and not rule.for_each):
            problems.append(f"{where}.message: không dùng được chỗ trống {{{name}}} (dùng "
                            "{left}, {right}, {year}; {category} khi có for_each)")
    uses_placeholder = any(PLACEHOLDER in (t or "") for t in (rule.left, rule.right, rule.when))
    if rule.for_each in form.dimensions and not uses_placeholder:
        problems.append(f"{where}.for_each: biểu thức không dùng dấu $ (mã của từng nhóm)")
    return problems


def _list_problems(rule: Rule, where: str, form: Form) -> list[str]:
    blocks = {b.code: b for t in form.tabs for b in t.blocks if b.kind == "list"}
    block = blocks.get(rule.list_code)
    if block is None:
        return [f"{where}.list: không có danh sách '{rule.list_code}' trong biểu mẫu "
                f"(có: {', '.join(c for c in blocks if c)})"]
    dates = [c.code for c in block.list_columns if c.type == "date"]
    if rule.date_column and rule.date_column not in dates:
        return [f"{where}.date_column: danh sách {rule.list_code} không có cột ngày "
                f"'{rule.date_column}' (cột ngày: {', '.join(dates) or 'không có'})"]
    return []


def _compile(rule: Rule, where: str, index: FormIndex, form: Form) -> tuple[list[Check], list[str]]:
    """Parse every expression of `rule`, once per `for_each` category."""
    categories = ([(c.code, c.label) for c in form.dimensions[rule.for_each].categories]
                  if rule.for_each else [("", "")])
    sides = {"left": (rule.left, parse_expression), "right": (rule.right, parse_expression),
             "when": (rule.when, parse_condition)}
    if rule.kind == "list_count":
        sides.pop("right")
    parsed: dict[str, list[Any]] = {key: [] for key in sides}
    problems: list[str] = []
    for key, (text, parse) in sides.items():
        for code, _ in categories:
            if text is None:
                parsed[key].append(None)
                continue
            try:
                parsed[key].append(parse(text, index, code or None))
            except ExprError as exc:
                at = f" (khi $ = {code})" if code and PLACEHOLDER in text else ""
                problems.append(f"{where}.{key}: {exc}{at}")
                break
    if problems:
        return [], problems
    rights = parsed.get("right", [None] * len(categories))
    checks = [
        Check(rule, code, label, parsed["left"][i], rights[i], parsed["when"][i],
              (rule.left or "").replace(PLACEHOLDER, code), _right_text(rule, code, form),
              tuple(rule.years or form.years))
        for i, (code, label) in enumerate(categories)
    ]
    return checks, []


def _right_text(rule: Rule, code: str, form: Form) -> str:
    """The right side as shown in `expected`; for list_count, what is counted."""
    if rule.kind != "list_count":
        return (rule.right or "").replace(PLACEHOLDER, code)
    columns = {c.code: c.label for t in form.tabs for b in t.blocks if b.code == rule.list_code
               for c in b.list_columns}
    label = columns.get(rule.date_column or "", rule.date_column)
    return f"số dòng danh sách {rule.list_code} có {label.lower()} trong năm"


def load_rules(path: Path, form: Form, plan: Plan) -> RuleSet:
    """Load and check `rules.yaml` against the form; every problem raised in one `ConfigError`."""
    path = Path(path)
    try:
        parsed = RuleFile.model_validate(load_yaml(path) or {})
    except ValidationError as exc:
        raise ConfigError([f"{path.name}: {key_path(e['loc'])}: {describe_error(e)}"
                           for e in exc.errors()]) from None
    index = FormIndex(form)
    problems: list[str] = []
    checks: list[Check] = []
    seen: set[str] = set()
    for i, rule in enumerate(parsed.rules):
        where = f"rules[{i}]"
        if rule.id in seen:
            problems.append(f"{where}.id: mã quy tắc '{rule.id}' bị trùng")
        seen.add(rule.id)
        shape = _shape_problems(rule, where, form)
        if shape:
            problems += shape
            continue
        compiled, found = _compile(rule, where, index, form)
        checks += compiled
        problems += found
    if problems:
        raise ConfigError([f"{path.name}: {p}" for p in dict.fromkeys(problems)])
    return RuleSet(tuple(parsed.rules), tuple(checks), reporting_months(plan, form.years),
                   plan.reporting_period)


# --------------------------------------------------------------------------- formatting


def format_number(value: float | None) -> str:
    """Vietnamese style: 1.234.567 and 2,5 (up to 2 decimals); "(trống)" for a blank."""
    if value is None or not np.isfinite(value):
        return BLANK
    return vnformat.auto(float(value))


def fill_message(template: str, values: dict[str, str]) -> str:
    """Replace {left}, {right}, {year}, {category}; other braces are left alone."""
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _tolerance_text(rule: Rule) -> str:
    parts = [format_number(rule.tolerance)] if rule.tolerance else []
    parts += [f"{format_number(rule.tolerance_pct)}%"] if rule.tolerance_pct else []
    return f"; cho phép lệch {' + '.join(parts)}" if parts else ""


def _expected(check: Check, right: float) -> str:
    rule = check.rule
    if rule.operator == "compulsory_pair":
        return f"nhập cả {check.left_text} và {check.right_text}"
    if rule.operator == "exclusive_pair":
        return f"chỉ nhập một trong hai: {check.left_text} hoặc {check.right_text}"
    shown = f"{SYMBOLS[rule.operator or '==']} {format_number(right)}"
    if not isinstance(check.right, Number):
        shown += f" ({check.right_text})"
    return shown + _tolerance_text(rule)


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
              counts: np.ndarray | None) -> pd.DataFrame:
    """The failing rows of one check, as a small table (vectorised over all rows)."""
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
    span = f"{format_date_vi(period.start)} – {format_date_vi(period.end)}"
    findings = []
    for row in bad.itertuples(index=False):
        typed = str(row.value)[:10]
        try:
            shown, year = format_date_vi(date.fromisoformat(typed)), int(typed[:4])
        except ValueError:
            shown, year = typed, None
        findings.append(Finding(
            rule=rule.id, severity=rule.severity,
            message=fill_message(rule.message, {"left": shown, "right": span,
                                                "year": str(year or ""), "category": ""}),
            instruction=rule.instruction, unit_code=row.unit_code,
            unit_name=unit_names.get(row.unit_code, ""), sheet=row.sheet, cell=row.cell,
            indicator=rule.list_code or "", breakdown=f"{row.row},{row.column}", year=year,
            value=shown, expected=f"từ {format_date_vi(period.start)} đến "
                                  f"{format_date_vi(period.end)}",
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
        shown = {"left": format_number(row.left), "right": format_number(row.right),
                 "year": str(year), "category": check.category_label}
        findings.append(Finding(
            rule=rule.id, severity=rule.severity, message=fill_message(rule.message, shown),
            instruction=rule.instruction, unit_code=row.unit_code,
            unit_name=unit_names.get(row.unit_code, ""), sheet=where.sheet or "",
            cell=where.cell or "", indicator=row.indicator, breakdown=row.breakdown, year=year,
            value=shown["left"], expected=_expected(check, row.right),
            key=f"{rule.id}|{year}|{check.category}"))
    return findings


def check_rules(wide: Wide, lists: pd.DataFrame, rules: RuleSet, locator: Locator,
                unit_names: dict[str, str]) -> list[Finding]:
    """Every failing (rule, unit, year[, category]) as a `Finding`, with its cell."""
    frame = wide.frame
    months = pd.Index(frame.index.get_level_values("year")).map(rules.months) \
        .to_numpy(dtype=float)
    tables: list[pd.DataFrame] = []
    findings: list[Finding] = []
    for number, check in enumerate(rules.checks):
        kind = check.rule.kind
        if kind == "list_dates":
            findings += _list_date_findings(check, lists, frame.index.unique("unit_code"),
                                            rules.period, unit_names)
            continue
        counts = _list_counts(check, frame.index, lists) if kind == "list_count" else None
        tables.append(_failures(number, check, frame, months, counts))
    failures = [t for t in tables if not t.empty]
    if failures:
        table = pd.concat(failures, ignore_index=True)
        findings = _findings(table, rules.checks, locator, unit_names) + findings
    return findings
