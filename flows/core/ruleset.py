"""Consistency rules compiled against the form: every reference resolved, every problem named.

`compile_rules` turns the rules of `rules.yaml` (as the config models hold them) into checks
ready to evaluate (`flows.core.rules`); the config loader calls it, so a rule naming an unknown
indicator is a config error before any workbook is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.config.base import ConfigError, parse_file
from flows.config.form import Form
from flows.config.plan import Plan, Window
from flows.config.rules import Rule, RuleFile
from flows.core.expr import (
    PLACEHOLDER,
    Condition,
    ExprError,
    FormIndex,
    Node,
    parse_condition,
    parse_expression,
)

PAIRS = ("compulsory_pair", "exclusive_pair")
PLACEHOLDERS = ("left", "right", "year", "category")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


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
    """The right side as written, shown in `expected` (a list count names what it counts)."""
    if rule.kind != "list_count":
        return (rule.right or "").replace(PLACEHOLDER, code)
    columns = {c.code: c.label for t in form.tabs for b in t.blocks if b.code == rule.list_code
               for c in b.list_columns}
    return columns.get(rule.date_column or "", rule.date_column or "")


def compile_rules(parsed: RuleFile, form: Form, plan: Plan, name: str = "rules.yaml") -> RuleSet:
    """Check every rule against the form and parse its expressions; all problems in one
    `ConfigError`, each prefixed with the file name."""
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
        raise ConfigError([f"{name}: {p}" for p in dict.fromkeys(problems)])
    return RuleSet(tuple(parsed.rules), tuple(checks), reporting_months(plan, form.years),
                   plan.reporting_period)


def load_rules(path: Path, form: Form, plan: Plan) -> RuleSet:
    """Load and check one rules file against the form (the loader does this for `rules.yaml`)."""
    path = Path(path)
    return compile_rules(parse_file(RuleFile, path), form, plan, path.name)
