"""`rules.yaml`: DHIS2-style consistency rules as staff write them (checked by the loader)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flows.config.base import ConfigModel, nfc

OPERATOR_NAMES = {  # DHIS2 spellings, handy because `>=` must be quoted in YAML
    "equal_to": "==", "not_equal_to": "!=", "less_than": "<", "less_than_or_equal_to": "<=",
    "greater_than": ">", "greater_than_or_equal_to": ">=",
}
# Staff may write the severity in Vietnamese or English; it is kept as a stable code.
SEVERITY_NAMES = {"lỗi": "error", "cảnh báo": "warning", "error": "error", "warning": "warning"}

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "compulsory_pair", "exclusive_pair"]
Missing = Literal["skip_if_any_missing", "skip_if_all_missing", "never_skip"]


class Rule(ConfigModel):
    """One rule as written in `rules.yaml`."""

    id: str = Field(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
    name: str = ""  # the check's name in findings.xlsx; default: its id
    message: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    severity: Literal["error", "warning"]
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
