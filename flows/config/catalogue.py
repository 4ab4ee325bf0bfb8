"""The catalogue of findings (`templates/findings.yaml`): every code declared once.

Each code has a severity (stable: ``error``, ``warning``, ``info``), a category (reading,
completeness, timeliness, consistency, outlier, history, privacy, access, system), a Vietnamese
name and Jinja2 templates for its message, instruction and expected value. Code raises
findings by code and fields only (`flows.core.findings.Finding`); the words are rendered here,
at output, so office staff can reword any of them without touching code. The consistency
rules of `rules.yaml` join the catalogue as codes of the category ``consistency``, their words
written in the rule itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from jinja2 import Environment, StrictUndefined, Template, TemplateError, meta
from pydantic import Field

from flows.config.base import ConfigError, ConfigModel
from flows.core import vnformat

CATALOGUE_FILE = "findings.yaml"
Severity = Literal["error", "warning", "info"]
Category = Literal["reading", "completeness", "timeliness", "consistency", "outlier", "history",
                   "privacy", "access", "system"]
SEVERITY_ORDER = ("error", "warning", "info")
RULE_PLACEHOLDERS = ("left", "right", "year", "category")
_RULE_PLACEHOLDER = re.compile(r"\{(left|right|year|category)\}")
_SPACES = re.compile(r"\s+")


class Entry(ConfigModel):
    severity: Severity
    category: Category
    name: str = Field(min_length=1)
    fields: list[str] = Field(default_factory=list)
    message: str = Field(min_length=1)
    instruction: str = ""
    expected: str = ""


class CatalogueFile(ConfigModel):
    severities: dict[Severity, str]
    categories: dict[Category, str]
    texts: dict[str, str] = Field(default_factory=dict)
    reasons: dict[str, str] = Field(default_factory=dict)
    findings: dict[str, Entry]


# --------------------------------------------------------------------------- filters


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _date(value: Any) -> str:
    day = _as_date(value)
    return vnformat.short_date(day) if day else str(value)


def _time(value: Any) -> str:
    return f"{value:%H:%M}" if isinstance(value, datetime) else ""


def _number(value: Any, decimals: int | None = None) -> str:
    """A number the Vietnamese way; a text (what a commune typed) stays exactly as typed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return vnformat.auto(value) if decimals is None else vnformat.number(value, decimals)


def _quoted(values: Any) -> str:
    items = [values] if isinstance(values, str) else list(values or [])
    return ", ".join(f"“{item}”" for item in items)


def _environment() -> Environment:
    env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update(date=_date, time=_time, number=_number, quoted=_quoted,
                       percent=vnformat.percent)
    return env


_ENV = _environment()


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


# --------------------------------------------------------------------------- compiled


Renderer = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Code:
    """One code, ready to render."""

    code: str
    severity: str
    category: str
    name: str
    message: Renderer
    instruction: Renderer
    expected: Renderer | None = None


@dataclass(frozen=True)
class Rendered:
    """The words of one finding."""

    severity: str
    category: str
    name: str
    message: str
    instruction: str
    expected: str | None  # None: the finding's own `expected` value is shown


@lru_cache(maxsize=8192)
def _compiled(text: str) -> tuple[Template, frozenset[str]]:
    """One template text compiled once per process: every run loads the catalogue again (a
    nightly service, the tests), and compiling its few hundred sentences is most of that."""
    return _ENV.from_string(text), frozenset(meta.find_undeclared_variables(_ENV.parse(text)))


def _template(text: str, where: str, fields: list[str] | None,
              problems: list[str]) -> Renderer:
    """Compile one template; unknown placeholders (when `fields` is given) are problems."""
    try:
        template, names = _compiled(text)
    except TemplateError as exc:
        problems.append(f"{CATALOGUE_FILE}: {where}: mẫu câu sai cú pháp ({exc.message})")
        return lambda _params: text
    if fields is not None:
        unknown = sorted(names - set(fields))
        if unknown:
            allowed = ", ".join(fields) or "không có"
            problems.append(f"{CATALOGUE_FILE}: {where}: không dùng được chỗ trống "
                            f"{', '.join('{{ ' + u + ' }}' for u in unknown)} (dùng được: "
                            f"{allowed})")
    return lambda params: _clean(template.render(**params))


def _rule_text(text: str) -> Renderer:
    """A rule's message with {left}, {right}, {year}, {category} (rules.yaml's own syntax)."""
    return lambda params: _RULE_PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), "")), text)


def _rule_words(render: Renderer, blank: str, count_text: Renderer | None) -> Renderer:
    """Numbers of a failing rule as Vietnamese text (a blank side as `blank`) before `render`."""
    def shown(value: Any) -> Any:
        if value is None:
            return blank
        if isinstance(value, int | float) and not isinstance(value, bool):
            return vnformat.auto(value)
        return value

    def words(params: Mapping[str, Any]) -> str:
        values = {**params, "left": shown(params.get("left")),
                  "right": shown(params.get("right")),
                  "right_shown": shown(params.get("right_value"))}
        if params.get("count_list") and count_text is not None:
            values["right_text"] = count_text({"list": params["count_list"],
                                               "column": params.get("count_column", "")})
        return render(values)

    return words


@dataclass
class Catalogue:
    """Every code's words, and the severity and category words shown at output."""

    codes: dict[str, Code]
    severities: dict[str, str]
    categories: dict[str, str]
    texts: dict[str, Renderer] = field(default_factory=dict)
    reasons: dict[str, Renderer] = field(default_factory=dict)
    rule_codes: frozenset[str] = frozenset()  # the codes that are rules of rules.yaml

    def __contains__(self, code: str) -> bool:
        return code in self.codes

    def severity(self, code: str) -> str:
        return self.codes[code].severity if code in self.codes else "error"

    def category(self, code: str) -> str:
        return self.codes[code].category if code in self.codes else "system"

    def name(self, code: str) -> str:
        return self.codes[code].name if code in self.codes else code

    def severity_label(self, severity: str) -> str:
        return self.severities.get(severity, severity)

    def text(self, key: str, **params: Any) -> str:
        return self.texts[key](params) if key in self.texts else ""

    def reason(self, code: str, params: Mapping[str, Any], strict: bool = False) -> str:
        renderer = self.reasons.get(code)
        if renderer is None:
            if strict:
                raise KeyError(code)
            return code
        try:
            return renderer(params)
        except (TemplateError, TypeError, ValueError, AttributeError):
            if strict:
                raise
            return code

    def render(self, code: str, params: Mapping[str, Any], strict: bool = False) -> Rendered:
        """The words of one finding. A template that fails (an office edit that does not fit
        the values) never stops a run: the message then names the check and its values.
        `strict` (for tests) raises instead."""
        entry = self.codes.get(code)
        values = {k: self._resolve(v) for k, v in params.items()}
        if entry is None:
            if strict:
                raise KeyError(code)
            return Rendered("error", "system", code, f"{code}: {values}", "", None)
        try:
            message = entry.message(values)
            instruction = entry.instruction(values)
            expected = entry.expected(values) if entry.expected else None
        except (TemplateError, TypeError, ValueError, AttributeError, KeyError):
            if strict:
                raise
            shown = "; ".join(f"{k} = {v}" for k, v in values.items())
            return Rendered(entry.severity, entry.category, entry.name,
                            f"{entry.name}: {shown}", "", None)
        return Rendered(entry.severity, entry.category, entry.name, message, instruction,
                        expected)

    def _resolve(self, value: Any) -> Any:
        """Reasons (why a workbook could not be read) become their words first."""
        code = getattr(value, "reason_code", None)
        if code is not None:
            return self.reason(code, value.params)
        return value

    def with_rules(self, rules: Any, problems: list[str]) -> Catalogue:
        """This catalogue's own codes plus one code per consistency rule of `rules.yaml` (the
        rules it held before are replaced)."""
        codes = {code: c for code, c in self.codes.items() if code not in self.rule_codes}
        for i, rule in enumerate(rules):
            if rule.id in codes:
                problems.append(f"rules.yaml: rules[{i}].id: mã '{rule.id}' đã là một mã của "
                                f"danh mục phát hiện ({CATALOGUE_FILE}); đặt mã khác")
                continue
            expected_key = {"compulsory_pair": "rule-expected-compulsory-pair",
                            "exclusive_pair": "rule-expected-exclusive-pair"}.get(
                rule.operator or "", "rule-expected-list-dates"
                if rule.kind == "list_dates" else "rule-expected-compare")
            blank, count = self.text("blank"), self.texts.get("rule-list-count-right")
            expected = self.texts.get(expected_key)
            codes[rule.id] = Code(
                rule.id, rule.severity, "consistency", rule.name or rule.id,
                _rule_words(_rule_text(rule.message), blank, count),
                _rule_words(_rule_text(rule.instruction), blank, count),
                _rule_words(expected, blank, count) if expected else None)
        return Catalogue(codes, self.severities, self.categories, self.texts, self.reasons,
                         frozenset(rule.id for rule in rules))


def compile_catalogue(parsed: CatalogueFile) -> Catalogue:
    """Compile every template; all problems raised together."""
    problems: list[str] = []
    for severity in SEVERITY_ORDER:
        if severity not in parsed.severities:
            problems.append(f"{CATALOGUE_FILE}: severities.{severity}: thiếu tên mức độ")
    codes = {}
    for code, entry in parsed.findings.items():
        where = f"findings.{code}"
        codes[code] = Code(
            code, entry.severity, entry.category, entry.name,
            _template(entry.message, f"{where}.message", entry.fields, problems),
            _template(entry.instruction, f"{where}.instruction", entry.fields, problems),
            _template(entry.expected, f"{where}.expected", entry.fields, problems)
            if entry.expected else None)
    texts = {key: _template(text, f"texts.{key}", None, problems)
             for key, text in parsed.texts.items()}
    reasons = {key: _template(text, f"reasons.{key}", None, problems)
               for key, text in parsed.reasons.items()}
    if problems:
        raise ConfigError(problems)
    return Catalogue(codes, dict(parsed.severities), dict(parsed.categories), texts, reasons)
