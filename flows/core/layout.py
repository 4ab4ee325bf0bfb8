"""The workbook layout: a pure function of the form (and optionally one unit).

One layout drives every renderer (the .xlsx template, the Google Sheets template) and every
reader. Each input cell carries a machine-readable key stored in the workbook itself:

* cell A1 of every tab holds the tab marker ``#giamsat|<form id>|<tab id>|v<version>``;
* column A (hidden) holds a *row key* on each data row (``C1|a`` = indicator C1, category a),
  ``#h`` on heading rows, ``#i`` on an indicator's label row, and ``#cols`` on a hidden row
  that holds the *column keys* of the table below it (``2021|nam`` = year 2021, category
  nam; ``|`` when neither applies).

A reader therefore finds every value by key, not by position: rows inserted between
indicators, widened or inserted columns and reordered tabs do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from flows.config.form import Block, Form, Item, Tab
from flows.config.loader import Config
from flows.config.units import Unit
from flows.core.a1 import a1

KEY_COLUMN = 1  # column A
LABEL_COLUMN = 3  # column C: the indicator's (or the category's) visible label
FIRST_INPUT_COLUMN = 5  # column E
MARKER_PREFIX = "#giamsat|"
HEADING_KEY = "#h"
COLUMNS_KEY = "#cols"
ITEM_KEY = "#i"  # an indicator's own label row above its breakdown rows
INSTRUCTIONS_TAB = "HD"


def make_key(indicator: str, breakdown: str = "", year: int | None = None) -> str:
    """The stable key of one value: ``indicator|breakdown|year``."""
    return f"{indicator}|{breakdown}|{'' if year is None else year}"


@dataclass(frozen=True)
class InputCell:
    """One cell a commune types into, and where it sits in a pristine template."""

    key: str
    tab: str
    sheet: str
    row: int
    col: int
    indicator: str
    breakdown: str
    year: int | None
    type: str
    required: bool
    row_key: str
    col_key: str
    choices: tuple[str, ...] = ()
    role: str | None = None
    list_row: int | None = None
    list_column: str | None = None

    @property
    def cell(self) -> str:
        return a1(self.row, self.col)

    def as_map_entry(self) -> dict:
        entry = {
            "key": self.key,
            "sheet": self.sheet,
            "cell": self.cell,
            "tab": self.tab,
            "indicator": self.indicator,
            "breakdown": self.breakdown,
            "year": self.year,
            "type": self.type,
            "required": self.required,
            "choices": list(self.choices) or None,
            "role": self.role,
        }
        if self.list_row is not None:
            entry.update(list_row=self.list_row, list_column=self.list_column)
        return entry


@dataclass(frozen=True)
class LayoutCell:
    """A cell to render: a value, a style name, an optional merge to the right / down."""

    row: int
    col: int
    value: object = None
    style: str = "text"
    span: int = 1
    height_span: int = 1
    input: InputCell | None = None
    locked: bool = True


@dataclass
class SheetLayout:
    tab: str
    title: str
    section: str
    cells: list[LayoutCell] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)
    freeze: tuple[int, int] = (5, FIRST_INPUT_COLUMN)
    landscape: bool = False
    last_col: int = FIRST_INPUT_COLUMN

    @property
    def inputs(self) -> list[InputCell]:
        return [cell.input for cell in self.cells if cell.input is not None]

    @property
    def last_row(self) -> int:
        return max(cell.row + cell.height_span - 1 for cell in self.cells)


@dataclass
class Layout:
    form_id: str
    version: int
    sheets: list[SheetLayout]  # instructions first, then one per form tab

    @cached_property
    def inputs(self) -> list[InputCell]:
        return [cell for sheet in self.sheets for cell in sheet.inputs]

    @cached_property
    def by_key(self) -> dict[str, InputCell]:
        return {cell.key: cell for cell in self.inputs}

    @cached_property
    def by_tab(self) -> dict[str, SheetLayout]:
        return {sheet.tab: sheet for sheet in self.sheets}

    def role(self, role: str) -> InputCell:
        return next(cell for cell in self.inputs if cell.role == role)

    def cell_map(self) -> list[dict]:
        return [cell.as_map_entry() for cell in self.inputs]

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        """tab → row key → the row's visible label (column C), as the template writes it."""
        found: dict[str, dict[str, str]] = {}
        for sheet in self.sheets:
            grid = {(c.row, c.col): c.value for c in sheet.cells}
            keys = {c.row: c.value for c in sheet.cells
                    if c.col == KEY_COLUMN and isinstance(c.value, str)}
            found[sheet.tab] = {key: str(grid[(row, LABEL_COLUMN)]) for row, key in keys.items()
                                if not key.startswith("#") and "#" not in key
                                and grid.get((row, LABEL_COLUMN)) not in (None, "")}
        return found

    @cached_property
    def headers(self) -> dict[str, list[dict[str, tuple[str, ...]]]]:
        """tab → per table (in order): column key → the visible header texts above it (the
        two header rows over the hidden ``#cols`` row, top first; "" where blank)."""
        found: dict[str, list[dict[str, tuple[str, ...]]]] = {}
        for sheet in self.sheets:
            grid = {(c.row, c.col): c.value for c in sheet.cells}
            tables = []
            for c in sheet.cells:
                if c.col == KEY_COLUMN and c.value == COLUMNS_KEY:
                    keys = {cell.col: cell.value for cell in sheet.cells
                            if cell.row == c.row and cell.col != KEY_COLUMN}
                    tables.append({key: header_texts(grid, c.row, col)
                                   for col, key in keys.items()})
            found[sheet.tab] = tables
        return found


def header_texts(grid: dict[tuple[int, int], object], cols_row: int, col: int
                 ) -> tuple[str, ...]:
    """The texts of the two rows above a ``#cols`` row in one column (1-based positions)."""
    return tuple("" if grid.get((cols_row - k, col)) in (None, "") else str(
        grid.get((cols_row - k, col))) for k in (2, 1))


def marker(form: Form, tab_id: str) -> str:
    return f"{MARKER_PREFIX}{form.id}|{tab_id}|v{form.version}"


def parse_marker(value: object) -> tuple[str, str] | None:
    """``#giamsat|form|tab|v1`` → (form id, tab id); anything else → None."""
    found = parse_marker_version(value)
    return found[:2] if found else None


def parse_marker_version(value: object) -> tuple[str, str, int | None] | None:
    """``#giamsat|form|tab|v1`` → (form id, tab id, version); anything else → None."""
    if not isinstance(value, str) or not value.startswith(MARKER_PREFIX):
        return None
    parts = value.split("|")
    if len(parts) < 3:
        return None
    version = parts[3][1:] if len(parts) > 3 and parts[3].startswith("v") else ""
    return parts[1], parts[2], int(version) if version.isdigit() else None


# --------------------------------------------------------------------------- building


class _SheetBuilder:
    """Appends rows to one sheet; knows the fixed columns B (code), C (label), D (unit)."""

    def __init__(self, form: Form, tab_id: str, title: str, section: str):
        self.form = form
        self.sheet = SheetLayout(tab=tab_id, title=title, section=section)
        self.row = 1
        self.put(1, KEY_COLUMN, marker(form, tab_id), "key")
        self.sheet.hidden_rows.add(1)
        self.sheet.widths.update({1: 4, 2: 8, 3: 58, 4: 12})

    def put(self, row: int, col: int, value: object, style: str, **kw) -> None:
        self.sheet.cells.append(LayoutCell(row, col, value, style, **kw))
        self.sheet.last_col = max(self.sheet.last_col, col + kw.get("span", 1) - 1)

    def next_row(self, key: str | None = None, height: float | None = None) -> int:
        self.row += 1
        if key:
            self.put(self.row, KEY_COLUMN, key, "key")
        if height:
            self.sheet.heights[self.row] = height
        return self.row

    def banner(self, title: str, section: str, unit: Unit | None, width: int) -> None:
        r = self.next_row(HEADING_KEY, 30)
        self.put(r, 2, title, "title", span=width - 1)
        r = self.next_row(HEADING_KEY, 22)
        self.put(r, 2, section, "section", span=width - 1)
        r = self.next_row(HEADING_KEY)
        who = f"Đơn vị: {unit.full_name} (mã {unit.code})" if unit else "Đơn vị: ……………………"
        self.put(r, 2, who, "subtitle", span=width - 1)
        self.next_row()
        self.sheet.freeze = (self.row + 1, FIRST_INPUT_COLUMN)


def _year_columns(form: Form, block: Block) -> list[tuple[int | None, str, str, str]]:
    """(year, category code, year label, category label) for each input column of a table."""
    if not block.yearly:
        return [(None, "", "Thông tin", "")]
    cats = form.dimensions[block.columns].categories if block.columns else []
    columns = []
    for year in form.years:
        for cat in cats or [None]:
            columns.append((year, cat.code if cat else "", form.year_label(year),
                            cat.label if cat else ""))
    return columns


def _item_rows(form: Form, item: Item) -> list[tuple[str, str]]:
    """(row category code, label) for each row of one indicator."""
    if not item.rows:
        return [("", item.label)]
    return [(cat.code, cat.label) for cat in form.dimensions[item.rows].categories]


def _breakdown(row_cat: str, col_cat: str) -> str:
    return ",".join(part for part in (row_cat, col_cat) if part)


def _table(b: _SheetBuilder, form: Form, tab: Tab, block: Block, prefill: dict[str, str]) -> None:
    columns = _year_columns(form, block)
    span = 3 if not block.yearly else 1  # a one-column table gets a wide merged input
    split = bool(block.columns) and block.yearly
    # header
    r = b.next_row(HEADING_KEY, 32)
    b.put(r, 2, "Mã", "header", height_span=2 if split else 1)
    b.put(r, 3, "Chỉ tiêu" if block.yearly else "Nội dung", "header",
          height_span=2 if split else 1)
    b.put(r, 4, "Đơn vị tính" if block.yearly else "", "header", height_span=2 if split else 1)
    col = FIRST_INPUT_COLUMN
    if split:
        per_year = len(form.dimensions[block.columns].categories)
        for year in form.years:
            b.put(r, col, form.year_label(year), "header", span=per_year)
            col += per_year
        r = b.next_row(HEADING_KEY, 20)
        for i, (_, _, _, cat_label) in enumerate(columns):
            b.put(r, FIRST_INPUT_COLUMN + i, cat_label, "header")
    else:
        for i, (_, _, year_label, _) in enumerate(columns):
            b.put(r, FIRST_INPUT_COLUMN + i, year_label, "header", span=span)
    # hidden column keys
    r = b.next_row(COLUMNS_KEY)
    b.sheet.hidden_rows.add(r)
    col_keys = []
    for i, (year, cat, _, _) in enumerate(columns):
        col_key = f"{'' if year is None else year}|{cat}"
        col_keys.append(col_key)
        b.put(r, FIRST_INPUT_COLUMN + i, col_key, "key")
    # data rows
    for item in block.items:
        rows = _item_rows(form, item)
        if item.rows:
            r = b.next_row(ITEM_KEY)
            b.put(r, 2, item.code, "code")
            b.put(r, 3, item.label, "label_bold")
            b.put(r, 4, item.unit, "unit")
        for row_cat, label in rows:
            row_key = f"{item.code}|{row_cat}"
            height = 90 if item.long else (30 if len(label) > 60 else None)
            r = b.next_row(row_key, height)
            b.put(r, 2, "" if item.rows else item.code, "code")
            b.put(r, 3, label, "label_indent" if item.rows else "label")
            b.put(r, 4, item.unit, "unit")
            for i, (year, col_cat, _, _) in enumerate(columns):
                choices = _choices(form, item.type, item.choices)
                cell = InputCell(
                    key=make_key(item.code, _breakdown(row_cat, col_cat), year),
                    tab=tab.id, sheet=tab.title, row=r, col=FIRST_INPUT_COLUMN + i,
                    indicator=item.code, breakdown=_breakdown(row_cat, col_cat), year=year,
                    type=item.type, required=item.required, row_key=row_key,
                    col_key=col_keys[i], choices=choices, role=item.role,
                )
                value = prefill.get(item.role or "")
                b.put(r, cell.col, value, f"input_{item.type}", span=span, input=cell,
                      locked=value is not None)
            if item.hint:
                b.put(r, FIRST_INPUT_COLUMN + len(columns) * span, item.hint, "hint")
                b.sheet.widths[FIRST_INPUT_COLUMN + len(columns) * span] = 40
    width = 11 if block.yearly else 16
    for i in range(len(columns) * span):
        b.sheet.widths.setdefault(FIRST_INPUT_COLUMN + i, width)
    if len(columns) > 3:
        b.sheet.landscape = True


def _choices(form: Form, value_type: str, choice_list: str | None) -> tuple[str, ...]:
    if value_type == "yesno":
        return tuple(form.choices["co_khong"])
    if value_type == "choice" and choice_list:
        return tuple(form.choices[choice_list])
    return ()


def _list(b: _SheetBuilder, form: Form, tab: Tab, block: Block) -> None:
    first = 3  # the list's first column sits in the wide label column
    r = b.next_row(HEADING_KEY, 32)
    b.put(r, 2, "STT", "header")
    for i, column in enumerate(block.list_columns):
        b.put(r, first + i, column.label, "header")
    r = b.next_row(COLUMNS_KEY)
    b.sheet.hidden_rows.add(r)
    for i, column in enumerate(block.list_columns):
        b.put(r, first + i, column.code, "key")
    for n in range(1, block.rows + 1):
        row_key = f"{block.code}#{n}"
        r = b.next_row(row_key)
        b.put(r, 2, n, "code")
        for i, column in enumerate(block.list_columns):
            cell = InputCell(
                key=make_key(block.code or "", f"{n},{column.code}"),
                tab=tab.id, sheet=tab.title, row=r, col=first + i, indicator=block.code or "",
                breakdown=f"{n},{column.code}", year=None, type=column.type,
                required=False, row_key=row_key, col_key=column.code,
                choices=_choices(form, column.type, column.choices),
                list_row=n, list_column=column.code,
            )
            b.put(r, first + i, None, f"input_{column.type}", input=cell, locked=False)
            b.sheet.widths.setdefault(first + i, 14)


def _tab_sheet(form: Form, tab: Tab, unit: Unit | None) -> SheetLayout:
    b = _SheetBuilder(form, tab.id, tab.title, tab.section)
    width = max(
        FIRST_INPUT_COLUMN - 1 + (len(_year_columns(form, block)) if block.kind == "table"
                                  else len(block.list_columns) - 2)
        for block in tab.blocks
    )
    b.banner(form.title, tab.section, unit, max(width, FIRST_INPUT_COLUMN + 2))
    prefill = {"unit_code": unit.code, "unit_name": unit.full_name} if unit else {}
    for block in tab.blocks:
        r = b.next_row(HEADING_KEY, 22)
        b.put(r, 2, block.title, "block", span=max(width, FIRST_INPUT_COLUMN + 2) - 1)
        if block.note:
            r = b.next_row(HEADING_KEY)
            b.put(r, 2, block.note, "note", span=max(width, FIRST_INPUT_COLUMN + 2) - 1)
        if block.kind == "list":
            _list(b, form, tab, block)
        else:
            _table(b, form, tab, block, prefill)
        b.next_row()
    return b.sheet


def _instructions_sheet(config: Config, unit: Unit | None) -> SheetLayout:
    form, plan = config.form, config.plan
    b = _SheetBuilder(form, INSTRUCTIONS_TAB, "Hướng dẫn", "Hướng dẫn nhập liệu")
    b.sheet.widths.update({2: 6, 3: 100, 4: 4})
    b.banner(form.title, "HƯỚNG DẪN NHẬP LIỆU", unit, 4)
    deadline = plan.deadline.strftime("%d/%m/%Y")
    window = (f"{plan.self_inspection.start:%d/%m/%Y} – {plan.self_inspection.end:%d/%m/%Y}")
    facts = [
        f"Thời gian tự kiểm tra: {window}. Hạn hoàn thành biểu: {deadline}.",
        f"Số liệu từ năm {form.years[0]} đến thời điểm báo cáo.",
    ]
    for n, text in enumerate(facts + list(form.instructions), start=1):
        r = b.next_row(HEADING_KEY, 30 if len(text) > 95 else None)
        b.put(r, 2, n, "code")
        b.put(r, 3, text, "label")
    b.next_row()
    r = b.next_row(HEADING_KEY)
    b.put(r, 2, "", "input_integer")
    b.put(r, 3, "Ô nền vàng: ô cần nhập.", "label")
    r = b.next_row(HEADING_KEY)
    b.put(r, 3, "Các trang cần nhập: " + "; ".join(t.title for t in form.tabs) + ".", "label")
    b.sheet.freeze = (1, 1)
    return b.sheet


def build_layout(config: Config, unit: Unit | None = None) -> Layout:
    """Lay out the commune workbook for the form; with `unit`, its name and code are prefilled."""
    sheets = [_instructions_sheet(config, unit)]
    sheets += [_tab_sheet(config.form, tab, unit) for tab in config.form.tabs]
    return Layout(form_id=config.form.id, version=config.form.version, sheets=sheets)
