"""`form.yaml`: the monitoring form — tabs, blocks, indicators, breakdowns and choice lists."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from flows.config.base import ConfigModel, nfc

ValueType = Literal["integer", "money", "yesno", "date", "text", "choice"]
NUMERIC_TYPES = frozenset({"integer", "money"})
Role = Literal[
    "unit_code", "unit_name", "reporter", "position", "phone", "status", "completion_date"
]


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
    # counts of children a unit's small number could identify (abuse, special circumstances):
    # published per unit with 1..threshold shown as "<5" (privacy.yaml: small_counts)
    sensitive: bool = False


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



def form_problems(form: Form) -> list[str]:
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
                if item.sensitive and item.type not in NUMERIC_TYPES:
                    problems.append(f"{at}.sensitive: chỉ dùng cho chỉ tiêu kiểu số (integer, "
                                    "money)")
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

