"""`phu-luc.xlsx`: the appendix tables as a workbook whose totals are real Excel formulas.

Staff can check every total: a unit table's "Tổng cộng" is =SUM over its unit rows and its
coverage row =COUNT(…)&"/N"; a town breakdown cell is =SUM over one column of the sheet
"Dữ liệu", which holds every unit's value for those tables (one row per unit, one column per
indicator × category × year).
"""

from __future__ import annotations

from copy import copy
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

from flows.config import NUMERIC_TYPES
from flows.core.layout import make_key
from flows.outputs.atomic import write_atomically
from flows.outputs.report.figures import Figures
from flows.outputs.report.model import (
    CATEGORY,
    COVERAGE,
    LONG_TEXT,
    TOTAL,
    UNIT,
    Appendix,
    Cell,
    Column,
    Table,
)
from flows.outputs.xlsx_cells import merge
from flows.outputs.xlsx_package import save_valid
from flows.outputs.xlsx_rows import add_row

DATA_SHEET = "Dữ liệu"
FIRST_VALUE_COLUMN = 3  # C: after "STT" and the label
DATA_FIRST_ROW = 3  # row 1: value keys, row 2: what they mean
_FORMATS = {"integer": "#,##0", "money": "#,##0", "percent": "0.0"}


def _styles(wb: Workbook) -> None:
    """Named styles: assigning a name is far cheaper than styling 20,000 cells one by one."""
    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for bold in (False, True):
        suffix = "_b" if bold else ""
        font = Font(name="Times New Roman", bold=bold)
        specs = {"text": Alignment(vertical="top", wrap_text=True),
                 "num": Alignment(horizontal="right")}
        for name, alignment in specs.items():
            wb.add_named_style(NamedStyle(f"pl_{name}{suffix}", font=font, border=box,
                                          alignment=alignment))
        for kind, fmt in _FORMATS.items():
            wb.add_named_style(NamedStyle(f"pl_{kind}{suffix}", font=font, border=box,
                                          alignment=specs["num"], number_format=fmt))
    wb.add_named_style(NamedStyle("pl_head", font=Font(name="Times New Roman", bold=True),
                                  border=box, alignment=Alignment(
                                      horizontal="center", vertical="center", wrap_text=True)))


def _value_style(kind: str, bold: bool) -> str:
    base = kind if kind in _FORMATS else "text" if kind == LONG_TEXT else "num"
    return f"pl_{base}{'_b' if bold else ''}"


class _Writer:
    def __init__(self, wb: Workbook, fig: Figures, data_columns: dict[str, str],
                 top: int = 0):
        self.wb = wb
        self.fig = fig
        self.data_columns = data_columns  # value key → column letter on the data sheet
        self.top = top  # rows above the content: 1 for the internal version's mark
        self.borders: dict[tuple, int] = {}  # merged edges' borders, for `merge`
        self.named: dict[str, StyleArray] = {}  # named style → the style ids it sets
        first = DATA_FIRST_ROW + top
        self.data_rows = (first, first + fig.expected - 1)

    def style(self, cell, name: str) -> None:
        """`cell.style = name`, looked up once per name: openpyxl looks the name up and
        hashes the style again for each of the appendix's thousands of cells."""
        cell._style = copy(self.named_style(name))

    def named_style(self, name: str) -> StyleArray:
        """The style ids `cell.style = name` sets (no cell changes in the workbook)."""
        if name not in self.named:
            cell = SheetCell(self.wb.worksheets[0])
            cell.style = name
            self.named[name] = copy(cell._style)
        return self.named[name]

    def _data_span(self, key: tuple[str, str, int | None]) -> str | None:
        letter = self.data_columns.get(make_key(*key))
        if letter is None:
            return None
        first, last = self.data_rows
        return f"'{DATA_SHEET}'!{letter}{first}:{letter}{last}"

    def formula(self, row_kind: str, cell: Cell, column: Column, span: str) -> object:
        """What one cell holds: a number, a text, or a formula for totals and coverage (not
        over cells the published version marks: their value, a formula would miss them)."""
        expected = self.fig.expected
        if cell.fixed:
            if row_kind == COVERAGE:
                return cell.text
            if isinstance(cell.value, float) and cell.value.is_integer():
                return int(cell.value)
            return cell.value
        if cell.key is not None and (data := self._data_span(cell.key)):
            if row_kind == COVERAGE:
                return f'=COUNT({data})&"/{expected}"'
            if row_kind == CATEGORY:
                return f"=SUM({data})" if cell.value is not None else None
        if row_kind == TOTAL:
            if column.kind == "yesno":
                return f'=COUNTIF({span},"Có")'
            if column.kind in NUMERIC_TYPES and cell.value is not None and span:
                return f"=SUM({span})"
            return cell.value
        if row_kind == COVERAGE:
            counter = "COUNTA" if column.kind == "yesno" else "COUNT"
            return f'={counter}({span})&"/{expected}"' if span else cell.text
        if isinstance(cell.value, float) and cell.value.is_integer():
            return int(cell.value)
        return cell.value

    def table(self, ws, table: Table, row: int) -> int:
        """Write one table from `row`; returns the next free row."""
        width = FIRST_VALUE_COLUMN - 1 + len(table.columns)
        ws.cell(row, 1, table.caption).font = Font(name="Times New Roman", bold=True)
        top = row + 1
        depth = len(table.header)
        for r in range(top, top + depth):
            for c in range(1, width + 1):
                self.style(ws.cell(r, c), "pl_head")
        ws.cell(top, 1, "STT")
        ws.cell(top, 2, table.stub)
        for r, header in enumerate(table.header):
            col = FIRST_VALUE_COLUMN
            for h in header:
                ws.cell(top + r, col, h.text)
                if h.span > 1:
                    merge(ws, top + r, col, top + r, col + h.span - 1, self.borders)
                col += h.span
        if depth > 1:
            for col in (1, 2):
                merge(ws, top, col, top + depth - 1, col, self.borders)
        row = top + depth
        units = [i for i, r in enumerate(table.rows) if r.kind == UNIT]
        first, last = (row + units[0], row + units[-1]) if units else (0, 0)
        letters = [get_column_letter(FIRST_VALUE_COLUMN + j) for j in range(len(table.columns))]
        spans = [f"{letter}{first}:{letter}{last}" if units else "" for letter in letters]
        for i, data in enumerate(table.rows):
            text_style = self.named_style("pl_text_b" if data.bold else "pl_text")
            values: list[object] = [data.number, data.label]
            styles = [text_style, text_style]
            for cell, column, span in zip(data.cells, table.columns, spans, strict=True):
                values.append(self.formula(data.kind, cell, column, span))
                styles.append(self.named_style(_value_style(column.kind, data.bold)))
            add_row(ws, row + i, 1, values, styles)
        row += len(table.rows)
        if table.note:
            note = ws.cell(row, 1, table.note)
            note.alignment = Alignment(wrap_text=True, vertical="top")
            note.font = Font(name="Times New Roman", italic=True)
            merge(ws, row, 1, row, max(width, 2), self.borders)
            ws.row_dimensions[row].height = 30
            row += 1
        return row + 1

    def appendix(self, appendix: Appendix) -> None:
        ws = self.wb.create_sheet(appendix.sheet)
        widest = max(len(t.columns) for t in appendix.tables) + FIRST_VALUE_COLUMN - 1
        lines = ((f"Phụ lục {appendix.number}", True, False), (appendix.title, True, False),
                 (appendix.attached, False, True))
        for r, (text, bold, italic) in enumerate(lines, start=1 + self.top):
            cell = ws.cell(r, 1, text)
            cell.font = Font(name="Times New Roman", bold=bold, italic=italic)
            cell.alignment = Alignment(horizontal="center")
            merge(ws, r, 1, r, widest, self.borders)
        row = 5 + self.top
        for table in appendix.tables:
            row = self.table(ws, table, row)
        ws.column_dimensions["A"].width = 6
        ws.column_dimensions["B"].width = 55 if max(t.stub_mm for t in appendix.tables) > 60 \
            else 30
        for c in range(FIRST_VALUE_COLUMN, widest + 1):
            ws.column_dimensions[get_column_letter(c)].width = 15
        for table in appendix.tables:  # a list of problems gets room to wrap
            for j, column in enumerate(table.columns):
                if column.kind == LONG_TEXT:
                    ws.column_dimensions[get_column_letter(FIRST_VALUE_COLUMN + j)].width = 45
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True


def _data_keys(appendices: list[Appendix]) -> list[str]:
    """The value keys the town breakdown tables sum, in table order."""
    keys: dict[str, None] = {}
    for appendix in appendices:
        for table in appendix.tables:
            for row in table.rows:
                for cell in row.cells:
                    if cell.key is not None:
                        keys[make_key(*cell.key)] = None
    return list(keys)


def _write_data(wb: Workbook, fig: Figures, keys: list[str], mark: str = "") -> dict[str, str]:
    """One row per unit, one column per value key (in the published version a marked value
    as its mark); returns key → column letter."""
    ws = wb.create_sheet(DATA_SHEET)
    top = 1
    if mark:
        ws.append([mark])
        top = 2
    add_row(ws, top, 1, ["Mã đơn vị", "Đơn vị", *keys])
    add_row(ws, top + 1, 1, ["", "(chỉ tiêu|phân tổ|năm)", *["" for _ in keys]])
    matrix = fig.numbers.reindex(index=fig.codes, columns=keys).to_numpy(dtype=float)
    marked: dict[str, dict[int, str]] = {}  # unit → column → its mark
    column = {key: j for j, key in enumerate(keys)}
    for (code, key), value in fig.marks.items():
        if value and key in column:
            marked.setdefault(code, {})[column[key]] = value
    for n, (code, row) in enumerate(zip(fig.codes, matrix.tolist(), strict=True)):
        values = [None if v != v else (int(v) if v.is_integer() else v) for v in row]
        for j, value in marked.get(code, {}).items():
            values[j] = value
        add_row(ws, top + 2 + n, 1, [code, fig.names[code], *values])
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 28
    ws.freeze_panes = f"C{DATA_FIRST_ROW + (1 if mark else 0)}"
    return {key: get_column_letter(3 + i) for i, key in enumerate(keys)}


def mark_sheet(ws, mark: str) -> None:
    """The internal version's mark in every page's header and footer (first, odd and even
    pages alike) and, bold and red, on the sheet's first row (written by the caller)."""
    ws.HeaderFooter.differentFirst = False
    ws.HeaderFooter.differentOddEven = False
    for part in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
        part.center.text = mark
        part.center.font = "Times New Roman,Bold"
    for part in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
        part.center.text = mark
    top = ws.cell(1, 1)
    top.value = mark
    top.font = Font(name="Times New Roman", bold=True, color="C00000")


def write_appendix_xlsx(path: Path, appendices: list[Appendix], fig: Figures,
                        internal_mark: str = "") -> Path:
    """Write the appendix workbook atomically; with `internal_mark`, the internal version:
    the mark on the first row and in the header and footer of every sheet."""
    wb = Workbook()
    wb.remove(wb.active)
    _styles(wb)
    keys = _data_keys(appendices)
    top = 1 if internal_mark else 0
    data_columns = _write_data(wb, fig, keys, internal_mark)
    writer = _Writer(wb, fig, data_columns, top)
    for appendix in appendices:
        writer.appendix(appendix)
    wb.move_sheet(DATA_SHEET, offset=len(wb.sheetnames) - 1)  # the data sheet goes last
    if internal_mark:
        for ws in wb.worksheets:
            mark_sheet(ws, internal_mark)
    wb.properties.title = "Phụ lục báo cáo tổng hợp" + (f" ({internal_mark})" if top else "")
    wb.properties.creator = "giamsat"
    return write_atomically(path, lambda tmp: save_valid(wb, tmp))
