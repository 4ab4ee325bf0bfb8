"""The commune template as an .xlsx workbook (openpyxl), and reading one file back.

Reading a folder of workbooks is `flows.sources.folder`.
"""

from __future__ import annotations

from copy import copy
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.protection import SheetProtection

from flows.config.limits import Limits as LimitSettings
from flows.core import results_tab
from flows.core.a1 import column_letter
from flows.core.inputs import RawWorkbook
from flows.core.layout import KEY_COLUMN, Layout, LayoutCell, SheetLayout
from flows.outputs.atomic import write_atomically
from flows.outputs.safe import literal
from flows.outputs.xlsx_cells import merge
from flows.sources.folder import read_file, reading_limits

INPUT_FILL = "FFF2CC"
NUMBER_FORMATS = {
    "input_integer": "#,##0",
    "input_money": "#,##0",
    "input_date": "dd/mm/yyyy",
    "input_text": "@",
}
_thin = Side(style="thin", color="999999")
_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_STYLES = {
    "key": dict(font=Font(size=8, color="808080")),
    "title": dict(font=Font(bold=True, size=14), alignment=Alignment(wrap_text=True,
                                                                    vertical="center")),
    "section": dict(font=Font(bold=True, size=12, color="1F4E79")),
    "subtitle": dict(font=Font(italic=True, size=11)),
    "block": dict(font=Font(bold=True, size=11),
                  fill=PatternFill("solid", fgColor="DCE6F1")),
    "note": dict(font=Font(italic=True, size=10, color="595959")),
    "header": dict(font=Font(bold=True, size=10), border=_BORDER,
                   fill=PatternFill("solid", fgColor="D9D9D9"),
                   alignment=Alignment(horizontal="center", vertical="center", wrap_text=True)),
    "code": dict(font=Font(size=10), border=_BORDER,
                 alignment=Alignment(horizontal="center", vertical="top")),
    "label": dict(font=Font(size=11), border=_BORDER,
                  alignment=Alignment(wrap_text=True, vertical="top")),
    "label_bold": dict(font=Font(size=11, bold=True), border=_BORDER,
                       alignment=Alignment(wrap_text=True, vertical="top")),
    "label_indent": dict(font=Font(size=11), border=_BORDER,
                         alignment=Alignment(wrap_text=True, vertical="top", indent=1)),
    "unit": dict(font=Font(size=10), border=_BORDER,
                 alignment=Alignment(horizontal="center", vertical="top", wrap_text=True)),
    "hint": dict(font=Font(italic=True, size=9, color="7F7F7F"),
                 alignment=Alignment(wrap_text=True, vertical="top")),
}
_INPUT_STYLE = dict(font=Font(size=11, color="000000"), border=_BORDER,
                    fill=PatternFill("solid", fgColor=INPUT_FILL),
                    alignment=Alignment(vertical="top", wrap_text=True))
_PREFILLED_STYLE = dict(_INPUT_STYLE, fill=PatternFill("solid", fgColor="EDEDED"),
                        font=Font(size=11, bold=True))


# --------------------------------------------------------------------------- template


def _validation(cell_type: str, choices: tuple[str, ...]) -> DataValidation | None:
    """Excel data validation for one kind of input cell, with a Vietnamese message."""
    common = dict(allow_blank=True, showErrorMessage=True, errorStyle="stop",
                  showInputMessage=True)
    if cell_type == "integer":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0",
                              errorTitle="Số không hợp lệ",
                              error="Nhập số nguyên không âm, chỉ chữ số (ví dụ 12). "
                                    "Không có thì nhập 0.", **common)
    if cell_type == "money":
        return DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                              errorTitle="Số tiền không hợp lệ",
                              error="Nhập số tiền bằng đồng, chỉ chữ số (ví dụ 1500000).",
                              **common)
    if cell_type == "date":
        return DataValidation(type="date", operator="between",
                              formula1="DATE(2000,1,1)", formula2="DATE(2100,12,31)",
                              errorTitle="Ngày không hợp lệ",
                              error="Nhập ngày dạng ngày/tháng/năm, ví dụ 05/04/2023.", **common)
    if choices:
        listed = ",".join(choices)
        return DataValidation(type="list", formula1=f'"{listed}"',
                              errorTitle="Giá trị không hợp lệ",
                              error=f"Chọn một trong: {', '.join(choices)}.", **common)
    return None


StyleCache = dict[tuple[str, bool], StyleArray]


def _style_cell(target, cell: LayoutCell, cache: StyleCache | None = None) -> None:
    """Style one cell as its layout says. With `cache` (one per workbook), each kind of cell
    is styled once and its style ids copied to the others: openpyxl otherwise hashes every
    font, border and fill again for each of the form's thousands of cells."""
    key = (cell.style, cell.locked)
    if cache is not None and key in cache:
        target._style = copy(cache[key])
        return
    if cell.style.startswith("input_"):
        style = _PREFILLED_STYLE if cell.locked else _INPUT_STYLE
        target.number_format = NUMBER_FORMATS.get(cell.style, "General")
    else:
        style = _STYLES.get(cell.style, _STYLES["label"])
    for attr, value in style.items():
        setattr(target, attr, value)
    target.protection = Protection(locked=cell.locked)
    if cache is not None:
        cache[key] = copy(target._style)


def _render_sheet(ws, sheet: SheetLayout, values: dict[str, object],
                  styles: StyleCache | None = None) -> None:
    styles = {} if styles is None else styles
    edges: dict[tuple, int] = {}
    validations: dict[tuple, tuple[DataValidation, list[str]]] = {}
    for cell in sheet.cells:
        target = ws.cell(row=cell.row, column=cell.col)
        value = values.get(cell.input.key, cell.value) if cell.input else cell.value
        if value is not None:
            literal(target, value)  # a typed "=IMPORTXML(…)" stays text, as Excel keeps it
        _style_cell(target, cell, styles)
        if cell.span > 1 or cell.height_span > 1:
            merge(ws, cell.row, cell.col, cell.row + cell.height_span - 1,
                   cell.col + cell.span - 1, edges)
        if cell.input is not None and not cell.locked:
            kind = (cell.input.type, cell.input.choices)
            if kind not in validations:
                validations[kind] = (_validation(*kind), [])
            validations[kind][1].append(target.coordinate)
    for validation, coordinates in validations.values():
        if validation is not None:  # one range list: adding cells one by one is quadratic
            validation.sqref = MultiCellRange(" ".join(coordinates))
            ws.add_data_validation(validation)
    for col, width in sheet.widths.items():
        ws.column_dimensions[column_letter(col)].width = width
    for row, height in sheet.heights.items():
        ws.row_dimensions[row].height = height
    for row in sheet.hidden_rows:
        ws.row_dimensions[row].hidden = True
    ws.column_dimensions[column_letter(KEY_COLUMN)].hidden = True
    ws.freeze_panes = f"{column_letter(sheet.freeze[1])}{sheet.freeze[0]}"
    # Protect everything but the input cells; communes may still widen columns and insert rows.
    ws.protection = SheetProtection(sheet=True, formatColumns=False, formatRows=False,
                                    insertRows=False, selectLockedCells=False,
                                    selectUnlockedCells=False)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sheet.landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.print_area = f"B2:{column_letter(sheet.last_col + 1)}{sheet.last_row}"
    ws.sheet_view.zoomScale = 100


ANSWER_ROWS = 60  # blank rows for answers: far more than a unit's warnings
ANSWER_HELP = (
    "Phòng LĐTBXH gửi cho đơn vị danh sách lỗi, cảnh báo (thư nhắc, tệp kết quả kiểm tra). "
    "Lỗi thì sửa ở trang nhập liệu. Nếu số liệu bị cảnh báo là đúng, ghi giải trình ở đây, mỗi "
    "phát hiện một dòng: ghi Trang và Ô (hoặc Mã phát hiện) và lý do, rồi gửi lại tệp.")
ANSWER_WIDTHS = {"number": 6, "sheet": 24, "cell": 8, "message": 40, "explanation": 60,
                 "finding": 16}


def _render_answers(ws) -> None:
    """The results tab of an .xlsx template: where the commune answers its findings."""
    literal(ws.cell(row=1, column=1), results_tab.TITLE)
    _style_cell(ws.cell(row=1, column=1), LayoutCell(1, 1, None, "title"))
    literal(ws.cell(row=2, column=1), ANSWER_HELP)
    ws.cell(row=2, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2,
                   end_column=len(results_tab.TEMPLATE_COLUMNS))
    ws.row_dimensions[2].height = 48
    header = 4
    styles: StyleCache = {}
    answer: StyleArray | None = None  # an answer cell's style, copied to the others
    for c, (name, label) in enumerate(results_tab.TEMPLATE_COLUMNS, start=1):
        target = ws.cell(row=header, column=c)
        literal(target, label)
        for attr, value in _STYLES["header"].items():
            setattr(target, attr, value)
        ws.column_dimensions[column_letter(c)].width = ANSWER_WIDTHS[name]
        for r in range(header + 1, header + 1 + ANSWER_ROWS):
            cell = ws.cell(row=r, column=c)
            if name == "number":
                cell.value = r - header
                _style_cell(cell, LayoutCell(r, c, None, "code"), styles)
            elif answer is not None:
                cell._style = copy(answer)
            else:
                for attr, value in _INPUT_STYLE.items():
                    setattr(cell, attr, value)
                cell.number_format = "@"
                cell.protection = Protection(locked=False)
                answer = copy(cell._style)
    ws.freeze_panes = f"A{header + 1}"
    ws.protection = SheetProtection(sheet=True, formatColumns=False, formatRows=False,
                                    insertRows=False, selectLockedCells=False,
                                    selectUnlockedCells=False)


def write_template(layout: Layout, path: Path, values: dict[str, object] | None = None) -> Path:
    """Write the commune workbook for `layout` to `path` (atomically).

    `values` (key → cell value) fills input cells: used for demo and test workbooks.
    """
    wb = Workbook()
    wb.remove(wb.active)
    styles: StyleCache = {}
    for sheet in layout.sheets:
        ws = wb.create_sheet(sheet.title)
        _render_sheet(ws, sheet, values or {}, styles)
    _render_answers(wb.create_sheet(results_tab.TITLE))
    wb.active = 1  # open on the first data tab
    wb.properties.title = layout.sheets[0].cells[1].value if layout.sheets[0].cells else None
    wb.properties.creator = "giamsat"
    save_atomically(wb, path)
    return path


def save_atomically(wb: Workbook, path: Path) -> None:
    """Save through a temporary file in the same folder so no half-written file is ever seen."""
    write_atomically(path, wb.save)


# --------------------------------------------------------------------------- reading


def read_workbook(path: Path) -> RawWorkbook:
    """Read one spreadsheet file in this process (.xlsx, .xlsm, .ods, .xls), within the default
    limits; a file that cannot be read comes back with `error`. A run reads its folder through
    `FolderSource`, which isolates every read."""
    return read_file(Path(path), reading_limits(LimitSettings()))
