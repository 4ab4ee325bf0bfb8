"""`plan.yaml`: the reporting period, the deadline, the timezone and the report's metadata."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from flows.config.base import ConfigModel
from flows.config.form import Form


class Window(ConfigModel):
    start: date
    end: date


class Signer(ConfigModel):
    on_behalf: str = "TM. ỦY BAN NHÂN DÂN"
    capacity: str = "KT. CHỦ TỊCH"
    title: str = "PHÓ CHỦ TỊCH"
    name: str = ""


class ReportMeta(ConfigModel):
    parent_body: str
    issuer: str
    issuer_short: str = "UBND"
    number: str = ""
    symbol: str = "BC-UBND"
    place: str
    title: str
    recipients: list[str] = Field(default_factory=list)
    signer: Signer = Signer()
    # Header block of the report (Decree 30/2020): the governing body in upright capitals (often
    # none), then the issuing body in bold capitals, one line each. Empty: parent_body / issuer.
    parent_lines: list[str] = Field(default_factory=list)
    issuer_lines: list[str] = Field(default_factory=list)
    issuer_name: str = ""  # the issuer in running text: "Ủy ban nhân dân thị xã …"
    # Indicators given a sentence with change and highest/lowest unit, and a trend chart.
    key_indicators: list[str] = Field(default_factory=list)
    # Free-text indicators quoted per unit: results (section II), problems (III), proposals (IV).
    highlights: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    proposals: list[str] = Field(default_factory=list)

    def header_lines(self) -> tuple[list[str], list[str]]:
        """(upright governing-body lines, bold issuing-body lines) for the header block."""
        if self.issuer_lines:
            return list(self.parent_lines), list(self.issuer_lines)
        return ([self.parent_body] if self.parent_body else []), [self.issuer]


class Plan(ConfigModel):
    name: str
    reporting_period: Window
    self_inspection: Window
    deadline: date
    timezone: str = "Asia/Ho_Chi_Minh"
    nightly_cron: str = "0 1 * * *"
    # A unit that filled less than this share (%) of the required cells has not really
    # started: a name and a code, or a status chosen, are not a start.
    started_from_percent: float = Field(default=5.0, ge=0, le=100)
    report: ReportMeta

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"múi giờ không tồn tại: {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)



def plan_problems(plan: Plan) -> list[str]:
    problems = []
    if plan.reporting_period.start > plan.reporting_period.end:
        problems.append("reporting_period: ngày bắt đầu sau ngày kết thúc")
    if plan.self_inspection.start > plan.self_inspection.end:
        problems.append("self_inspection: ngày bắt đầu sau ngày kết thúc")
    if len(plan.nightly_cron.split()) != 5:
        problems.append(
            f"nightly_cron: cần biểu thức cron 5 trường (đang ghi: {plan.nightly_cron!r})")
    return [f"plan.yaml: {p}" for p in problems]


def report_problems(plan: Plan, form: Form) -> list[str]:
    """Indicator codes the report names must exist in the form."""
    codes = {item.code for item in form.items()}
    problems = []
    for key in ("key_indicators", "highlights", "problems", "proposals"):
        for i, code in enumerate(getattr(plan.report, key)):
            if code not in codes:
                problems.append(f"plan.yaml: report.{key}[{i}]: không có chỉ tiêu {code!r} "
                                "trong biểu mẫu (form.yaml)")
    return problems

