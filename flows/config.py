"""Typed configuration: the form, the unit registry and the plan, loaded once from `config/`.

Every file is validated on load. A mistake produces a `ConfigError` whose message names the
file, the key path and what is expected, in Vietnamese (the people who edit these files are
office staff, not programmers).
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

ValueType = Literal["integer", "money", "yesno", "date", "text", "choice"]
NUMERIC_TYPES = frozenset({"integer", "money"})
Role = Literal[
    "unit_code", "unit_name", "reporter", "position", "phone", "status", "completion_date"
]


class ConfigError(Exception):
    """A configuration file is missing or wrong; `problems` lists every mistake found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def nfc(text: str) -> str:
    """Vietnamese text is compared and stored in Unicode NFC."""
    return unicodedata.normalize("NFC", text)


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _normalise_text(cls, value: Any) -> Any:
        return nfc(value).strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- form


class Category(ConfigModel):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    total: bool = False


class Dimension(ConfigModel):
    label: str
    categories: list[Category] = Field(min_length=1)


class Item(ConfigModel):
    """One indicator (a row of a table, possibly split into several rows by a dimension)."""

    code: str = Field(pattern=r"^[A-Z][A-Za-z0-9.]*$")
    label: str
    unit: str = ""
    type: ValueType = "integer"
    required: bool = True
    rows: str | None = None  # dimension splitting this indicator into rows
    choices: str | None = None  # choice list id, for type "choice"
    role: Role | None = None
    hint: str = ""
    long: bool = False  # long free text: a tall, wide input cell
    # stock: a count at a point in time (children, staff), comparable across partial years;
    # flow: counted over the year (sessions, cases), compared only between whole years.
    measure: Literal["stock", "flow"] = "flow"


class ListColumn(ConfigModel):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    type: ValueType = "text"
    choices: str | None = None


class Block(ConfigModel):
    """A table on a tab: indicators as rows, years (split by `columns`) as columns; or a list."""

    kind: Literal["table", "list"] = "table"
    title: str
    note: str = ""
    yearly: bool = True
    columns: str | None = None  # dimension splitting each year column
    items: list[Item] = Field(default_factory=list)
    # list tables
    code: str | None = Field(default=None, pattern=r"^[A-Z][A-Za-z0-9.]*$")
    list_columns: list[ListColumn] = Field(default_factory=list)
    rows: int = 0
    required: bool = False


class Tab(ConfigModel):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*$")
    title: str = Field(max_length=31)  # Excel's limit on sheet names
    section: str
    blocks: list[Block] = Field(min_length=1)


class Form(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    version: int = 1
    title: str
    years: list[int] = Field(min_length=1)
    year_labels: dict[int, str] = Field(default_factory=dict)
    instructions: list[str] = Field(default_factory=list)
    dimensions: dict[str, Dimension]
    choices: dict[str, list[str]]
    tabs: list[Tab] = Field(min_length=1)
    _index: dict[str, Item] = PrivateAttr(default_factory=dict)

    def year_label(self, year: int) -> str:
        return self.year_labels.get(year, f"Năm {year}")

    def items(self) -> list[Item]:
        return [item for tab in self.tabs for block in tab.blocks for item in block.items]

    def item(self, code: str) -> Item:
        return self._index[code]

    def model_post_init(self, context: Any) -> None:
        self._index = {item.code: item for item in self.items()}

    def role_item(self, role: str) -> Item | None:
        return next((item for item in self.items() if item.role == role), None)


# --------------------------------------------------------------------------- units


class Unit(ConfigModel):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    kind: Literal["phường", "xã", "thị trấn", "quận", "huyện", "thị xã", "thành phố"]
    emails: list[str] = Field(default_factory=list)
    active: bool = True

    @property
    def full_name(self) -> str:
        """"Phường Tứ Hạ", "Xã Bình Tiến"."""
        return f"{self.kind.capitalize()} {self.name}"


class Region(ConfigModel):
    name: str
    short_name: str
    province: str


class Units(ConfigModel):
    region: Region
    staff_emails: list[str] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)

    def active(self) -> list[Unit]:
        return [unit for unit in self.units if unit.active]

    def by_code(self) -> dict[str, Unit]:
        return {unit.code: unit for unit in self.units}


# --------------------------------------------------------------------------- plan


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


# --------------------------------------------------------------------------- quality


class Outliers(ConfigModel):
    """WHO-style outlier checks; warnings only, never errors."""

    change_pct: float = Field(default=33, gt=0)  # change against the unit's own earlier years
    min_base: float = Field(default=10, ge=0)  # ignore bases too small to matter
    min_change: float = Field(default=5, ge=0)  # …and changes like 1 → 2 children
    history_years: int = Field(default=3, ge=1)  # earlier years averaged as the baseline
    z_threshold: float = Field(default=3.5, gt=0)  # modified z-score across units
    min_units: int = Field(default=5, ge=3)  # fewer units with a value: no comparison
    # With few units the MAD itself is unstable: floor it at this % of the median.
    mad_floor_pct: float = Field(default=20, ge=0)
    columns: Literal["totals", "all"] = "totals"  # which cells: headline totals or every cell


class Quality(ConfigModel):
    outliers: Outliers = Outliers()


# --------------------------------------------------------------------------- loading


class Config(BaseModel):
    """Everything loaded from one config folder."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    directory: Path
    form: Form
    units: Units
    plan: Plan
    quality: Quality = Quality()


_MESSAGES = {
    "missing": "thiếu khoá bắt buộc",
    "extra_forbidden": "khoá không được biết đến (viết sai tên khoá?)",
    "literal_error": "giá trị không hợp lệ; cần một trong: {expected}",
    "string_type": "cần một chuỗi chữ",
    "int_parsing": "cần một số nguyên",
    "int_type": "cần một số nguyên",
    "bool_parsing": "cần true hoặc false",
    "bool_type": "cần true hoặc false",
    "date_from_datetime_parsing": "cần một ngày dạng YYYY-MM-DD",
    "date_parsing": "cần một ngày dạng YYYY-MM-DD",
    "date_type": "cần một ngày dạng YYYY-MM-DD",
    "list_type": "cần một danh sách (các dòng bắt đầu bằng '- ')",
    "dict_type": "cần một nhóm khoá: giá trị",
    "model_type": "cần một nhóm khoá: giá trị",
    "too_short": "danh sách không được rỗng",
    "string_too_long": "quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "sai định dạng mã (chỉ dùng chữ không dấu, số, dấu chấm)",
}


def key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(gốc)"


def describe_error(error: dict[str, Any]) -> str:
    template = _MESSAGES.get(error["type"])
    if template is None:
        text = error["msg"].removeprefix("Value error, ")
    else:
        context = {k: str(v).replace(" or ", " hoặc ") for k, v in
                   (error.get("ctx") or {}).items()}
        text = template.format(**context)
    if error["type"] not in ("missing",) and "input" in error:
        shown = repr(error["input"])
        if len(shown) <= 60:
            text += f" (đang ghi: {shown})"
    return text


def load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError([f"{path}: không tìm thấy tệp cấu hình."])
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1}, cột {mark.column + 1})" if mark else ""
        raise ConfigError([f"{path}{where}: lỗi cú pháp YAML: {exc}"]) from exc


def parse_file(model: type[ConfigModel], path: Path) -> Any:
    data = load_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path.name}: {key_path(err['loc'])}: {describe_error(err)}" for err in exc.errors()
        ]
        raise ConfigError(problems) from None


def _form_problems(form: Form) -> list[str]:
    """Cross-references that a schema alone cannot check."""
    problems: list[str] = []
    seen_codes: set[str] = set()
    seen_roles: set[str] = set()
    seen_tabs: set[str] = set()
    for t, tab in enumerate(form.tabs):
        if tab.id in seen_tabs or nfc(tab.title).casefold() in seen_tabs:
            problems.append(f"tabs[{t}].id: mã trang {tab.id!r} hoặc tên trang bị trùng")
        seen_tabs.update({tab.id, tab.title.casefold()})
        for b, block in enumerate(tab.blocks):
            where = f"tabs[{t}].blocks[{b}]"
            if block.columns and block.columns not in form.dimensions:
                problems.append(
                    f"{where}.columns: không có phân tổ {block.columns!r} trong dimensions")
            if block.kind == "list":
                if not block.code or not block.list_columns or block.rows < 1:
                    problems.append(f"{where}: bảng danh sách cần code, list_columns và rows ≥ 1")
                elif block.code in seen_codes:
                    problems.append(f"{where}.code: mã {block.code!r} bị trùng")
                seen_codes.add(block.code or "")
                for c, column in enumerate(block.list_columns):
                    if column.type == "choice" and column.choices not in form.choices:
                        problems.append(
                            f"{where}.list_columns[{c}].choices: không có danh sách lựa chọn "
                            f"{column.choices!r} trong choices"
                        )
            for i, item in enumerate(block.items):
                at = f"{where}.items[{i}]"
                if item.code in seen_codes:
                    problems.append(f"{at}.code: mã chỉ tiêu {item.code!r} bị trùng")
                seen_codes.add(item.code)
                if item.rows and item.rows not in form.dimensions:
                    problems.append(f"{at}.rows: không có phân tổ {item.rows!r} trong dimensions")
                if item.rows and item.rows == block.columns:
                    problems.append(
                        f"{at}.rows: không thể phân tổ dòng và cột cùng theo {item.rows!r}")
                if item.type == "choice" and item.choices not in form.choices:
                    problems.append(
                        f"{at}.choices: không có danh sách lựa chọn {item.choices!r} trong choices"
                    )
                if item.role:
                    if item.role in seen_roles:
                        problems.append(
                            f"{at}.role: vai trò {item.role!r} đã dùng cho chỉ tiêu khác")
                    seen_roles.add(item.role)
                    if block.yearly or item.rows:
                        problems.append(f"{at}.role: ô đặc biệt phải nằm trong bảng yearly: false")
    for role in ("unit_code", "status", "completion_date"):
        if role not in seen_roles:
            problems.append(f"tabs: cần một chỉ tiêu có role: {role}")
    if "co_khong" not in form.choices:
        problems.append("choices: cần danh sách co_khong (Có/Không) cho các ô kiểu yesno")
    if "trang_thai" not in form.choices or len(form.choices.get("trang_thai", [])) != 2:
        problems.append("choices.trang_thai: cần đúng 2 lựa chọn: đang nhập, đã hoàn thành")
    return [f"form.yaml: {p}" for p in problems]


def _plan_problems(plan: Plan) -> list[str]:
    problems = []
    if plan.reporting_period.start > plan.reporting_period.end:
        problems.append("reporting_period: ngày bắt đầu sau ngày kết thúc")
    if plan.self_inspection.start > plan.self_inspection.end:
        problems.append("self_inspection: ngày bắt đầu sau ngày kết thúc")
    if len(plan.nightly_cron.split()) != 5:
        problems.append(
            f"nightly_cron: cần biểu thức cron 5 trường (đang ghi: {plan.nightly_cron!r})")
    return [f"plan.yaml: {p}" for p in problems]


def _report_problems(plan: Plan, form: Form) -> list[str]:
    """Indicator codes the report names must exist in the form."""
    codes = {item.code for item in form.items()}
    problems = []
    for key in ("key_indicators", "highlights", "problems", "proposals"):
        for i, code in enumerate(getattr(plan.report, key)):
            if code not in codes:
                problems.append(f"plan.yaml: report.{key}[{i}]: không có chỉ tiêu {code!r} "
                                "trong biểu mẫu (form.yaml)")
    return problems


def _units_problems(units: Units) -> list[str]:
    problems = []
    codes = [unit.code for unit in units.units]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(f"units: mã đơn vị {code!r} bị trùng")
    names = [(unit.kind, unit.name) for unit in units.units]
    for kind, name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"units: đơn vị {kind} {name} khai báo hai lần")
    return [f"units.yaml: {p}" for p in problems]


def load_config(directory: Path | str | None = None) -> Config:
    """Load and cross-check `form.yaml`, `units.yaml` and `plan.yaml` from one folder."""
    folder = Path(directory) if directory else DEFAULT_CONFIG_DIR
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    for name, model in (("form", Form), ("units", Units), ("plan", Plan)):
        try:
            parsed[name] = parse_file(model, folder / f"{name}.yaml")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if "form" in parsed:
        problems += _form_problems(parsed["form"])
    if "units" in parsed:
        problems += _units_problems(parsed["units"])
    if "plan" in parsed:
        problems += _plan_problems(parsed["plan"])
    if "form" in parsed and "plan" in parsed:
        problems += _report_problems(parsed["plan"], parsed["form"])
    if (folder / "quality.yaml").is_file():
        try:
            parsed["quality"] = parse_file(Quality, folder / "quality.yaml")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return Config(directory=folder, **parsed)
