"""The commune workbook as Google Sheets requests, from the same `Layout` as the .xlsx template.

Pure functions: a layout in, ``spreadsheets.batchUpdate`` requests out. Tabs get fixed sheet ids
(derived from the tab id), so every copy shares them and a reader or writer needs no metadata
call to address a tab, even after a commune renamed it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from flows.core.a1 import a1
from flows.core.layout import KEY_COLUMN, Layout, LayoutCell, SheetLayout
from flows.core.results_tab import EXPLANATION_COLUMN, HEADER, TITLE

RESULTS_TAB = "#results"
RESULTS_TITLE = TITLE
PROTECTION_PREFIX = "giamsat:"
INPUT_FILL = "FFF2CC"
PREFILLED_FILL = "EDEDED"
ERROR_FILL = "F4CCCC"
WARNING_FILL = "FCE5CD"
CELL_FIELDS = "userEnteredValue,userEnteredFormat,dataValidation"
RESULTS_WIDTHS = {1: 5, 2: 22, 3: 7, 4: 10, 5: 60, 6: 50, 7: 22, 8: 17, 9: 14, 10: 50,
                  11: 14}  # Excel units
RESULTS_COLUMNS = len(HEADER)
# The results tab is ours, but for the column where the commune answers its findings.
RESULTS_PROTECTED = [(0, None, 0, EXPLANATION_COLUMN), (0, None, EXPLANATION_COLUMN + 1, None)]
_BORDER = {"style": "SOLID", "color": {"red": 0.6, "green": 0.6, "blue": 0.6}}
_NUMBER_FORMATS = {
    "input_integer": {"type": "NUMBER", "pattern": "#,##0"},
    "input_money": {"type": "NUMBER", "pattern": "#,##0"},
    "input_date": {"type": "DATE", "pattern": "dd/mm/yyyy"},
    # Plain text: Sheets stores what is typed verbatim, so "=IMPORTXML(...)" stays text.
    "input_text": {"type": "TEXT"},
}
# (bold, italic, size, colour, fill, border, horizontal, vertical, wrap), like the .xlsx styles
_STYLES: dict[str, tuple] = {
    "key": (False, False, 8, "808080", None, False, None, None, False),
    "title": (True, False, 14, None, None, False, None, "MIDDLE", True),
    "section": (True, False, 12, "1F4E79", None, False, None, None, False),
    "subtitle": (False, True, 11, None, None, False, None, None, False),
    "block": (True, False, 11, None, "DCE6F1", False, None, None, False),
    "note": (False, True, 10, "595959", None, False, None, None, False),
    "header": (True, False, 10, None, "D9D9D9", True, "CENTER", "MIDDLE", True),
    "code": (False, False, 10, None, None, True, "CENTER", "TOP", False),
    "label": (False, False, 11, None, None, True, None, "TOP", True),
    "label_bold": (True, False, 11, None, None, True, None, "TOP", True),
    "label_indent": (False, False, 11, None, None, True, None, "TOP", True),
    "unit": (False, False, 10, None, None, True, "CENTER", "TOP", True),
    "hint": (False, True, 9, "7F7F7F", None, False, None, "TOP", True),
    "input": (False, False, 11, "000000", INPUT_FILL, True, None, "TOP", True),
    "prefilled": (True, False, 11, "000000", PREFILLED_FILL, True, None, "TOP", True),
}


def sheet_id(tab: str) -> int:
    """A stable, positive sheet id for a tab id (never 0, the id of a new file's first tab)."""
    return zlib.crc32(f"giamsat:{tab}".encode()) % 2_000_000_000 + 1


RESULTS_SHEET_ID = sheet_id(RESULTS_TAB)


def colour(hex_rgb: str) -> dict[str, float]:
    return {name: int(hex_rgb[i:i + 2], 16) / 255 for name, i in
            (("red", 0), ("green", 2), ("blue", 4))}


def extended_value(value: object) -> dict[str, Any]:
    """A Python value as Sheets' ExtendedValue; text is always a string, never a formula."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": str(value)}


def quoted(title: str) -> str:
    """A tab title as an A1 range (the whole tab): ``'A. Lãnh đạo'``."""
    return "'" + title.replace("'", "''") + "'"


def cell_format(style: str) -> dict[str, Any]:
    bold, italic, size, fg, fill, border, horizontal, vertical, wrap = _STYLES.get(
        style, _STYLES["label"])
    text: dict[str, Any] = {"bold": bold, "italic": italic, "fontSize": size}
    if fg:
        text["foregroundColor"] = colour(fg)
    fmt: dict[str, Any] = {"textFormat": text}
    if fill:
        fmt["backgroundColor"] = colour(fill)
    if border:
        fmt["borders"] = {side: dict(_BORDER) for side in ("top", "bottom", "left", "right")}
    if horizontal:
        fmt["horizontalAlignment"] = horizontal
    if vertical:
        fmt["verticalAlignment"] = vertical
    if wrap:
        fmt["wrapStrategy"] = "WRAP"
    if style == "label_indent":
        fmt["padding"] = {"left": 15}
    return fmt


def _validation(cell: LayoutCell) -> dict[str, Any] | None:
    """Data validation like the .xlsx template's, with the same Vietnamese help."""
    spec = cell.input
    if spec is None or cell.locked:
        return None
    if spec.choices:
        values = [{"userEnteredValue": choice} for choice in spec.choices]
        return {"condition": {"type": "ONE_OF_LIST", "values": values}, "strict": True,
                "showCustomUi": True, "inputMessage": "Chọn một giá trị trong danh sách."}
    if spec.type == "integer":
        # Sheets has no "whole number" rule; INT(x)=ABS(x) holds for whole x ≥ 0 (and blanks),
        # and needs no argument separator, which differs between locales.
        ref = a1(cell.row, cell.col)
        return {"condition": {"type": "CUSTOM_FORMULA",
                              "values": [{"userEnteredValue": f"=INT({ref})=ABS({ref})"}]},
                "strict": True, "inputMessage": "Nhập số nguyên không âm, chỉ chữ số (ví dụ 12)."
                " Không có thì nhập 0."}
    if spec.type == "money":
        return {"condition": {"type": "NUMBER_GREATER_THAN_EQ",
                              "values": [{"userEnteredValue": "0"}]},
                "strict": True, "inputMessage": "Nhập số tiền bằng đồng, chỉ chữ số "
                "(ví dụ 1500000)."}
    if spec.type == "date":
        return {"condition": {"type": "DATE_IS_VALID"}, "strict": True,
                "inputMessage": "Nhập ngày dạng ngày/tháng/năm, ví dụ 05/04/2023."}
    return None


def _cell_data(cell: LayoutCell, anchor: bool) -> dict[str, Any]:
    """CellData for one layout cell (or a cell its merge covers: same look, no value)."""
    if cell.style.startswith("input_"):
        fmt = cell_format("prefilled" if cell.locked else "input")
        if cell.style in _NUMBER_FORMATS:
            fmt["numberFormat"] = dict(_NUMBER_FORMATS[cell.style])
    else:
        fmt = cell_format(cell.style)
    data: dict[str, Any] = {"userEnteredFormat": fmt}
    if anchor:
        value = extended_value(cell.value)
        if value:
            data["userEnteredValue"] = value
        validation = _validation(cell)
        if validation:
            data["dataValidation"] = validation
    return data


def cell_grid(sheet: SheetLayout,
              cells: list[LayoutCell] | None = None) -> dict[tuple[int, int], dict[str, Any]]:
    """0-based (row, col) → CellData for every cell the layout styles (merged areas included)."""
    grid: dict[tuple[int, int], dict[str, Any]] = {}
    for cell in sheet.cells if cells is None else cells:
        for r in range(cell.row, cell.row + cell.height_span):
            for c in range(cell.col, cell.col + cell.span):
                anchor = (r, c) == (cell.row, cell.col)
                if anchor or (r - 1, c - 1) not in grid:
                    grid[(r - 1, c - 1)] = _cell_data(cell, anchor)
    return grid


def _update_cells(sid: int, grid: dict[tuple[int, int], dict[str, Any]]) -> dict[str, Any]:
    """One updateCells from (0, 0) covering the grid."""
    rows = max(r for r, _ in grid) + 1
    cols = max(c for _, c in grid) + 1
    data = [{"values": [grid.get((r, c), {}) for c in range(cols)]} for r in range(rows)]
    return {"updateCells": {"start": {"sheetId": sid, "rowIndex": 0, "columnIndex": 0},
                            "rows": data, "fields": CELL_FIELDS}}


def _spans(indexes: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted 0-based indexes as (start, end-exclusive) runs."""
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [(a, b) for a, b in runs]


def dimension(sid: int, kind: str, start: int, end: int, props: dict, fields: str) -> dict:
    return {"updateDimensionProperties": {
        "range": {"sheetId": sid, "dimension": kind, "startIndex": start, "endIndex": end},
        "properties": props, "fields": fields}}


def _dimensions(sid: int, sheet: SheetLayout) -> list[dict]:
    requests = [dimension(sid, "COLUMNS", col - 1, col, {"pixelSize": round(width * 7 + 5)},
                          "pixelSize") for col, width in sorted(sheet.widths.items())]
    requests += [dimension(sid, "ROWS", row - 1, row, {"pixelSize": round(points * 4 / 3)},
                           "pixelSize") for row, points in sorted(sheet.heights.items())]
    requests += [dimension(sid, "ROWS", a, b, {"hiddenByUser": True}, "hiddenByUser")
                 for a, b in _spans(r - 1 for r in sheet.hidden_rows)]
    requests.append(dimension(sid, "COLUMNS", KEY_COLUMN - 1, KEY_COLUMN,
                              {"hiddenByUser": True}, "hiddenByUser"))
    return requests


def _merges(sid: int, sheet: SheetLayout) -> list[dict]:
    return [{"mergeCells": {"mergeType": "MERGE_ALL", "range": {
        "sheetId": sid, "startRowIndex": c.row - 1, "endRowIndex": c.row - 1 + c.height_span,
        "startColumnIndex": c.col - 1, "endColumnIndex": c.col - 1 + c.span}}}
        for c in sheet.cells if c.span > 1 or c.height_span > 1]


# --------------------------------------------------------------------------- protection


def open_cells(sheet: SheetLayout) -> set[tuple[int, int]]:
    """0-based cells a commune may type into (input cells and their merged areas)."""
    return {(r - 1, c - 1) for cell in sheet.cells if cell.input is not None and not cell.locked
            for r in range(cell.row, cell.row + cell.height_span)
            for c in range(cell.col, cell.col + cell.span)}


Box = tuple[int, int | None, int, int | None]  # r0, r1 (exclusive, None = open), c0, c1


def _bands(open_: set[tuple[int, int]], rows: int, cols: int, transpose: bool) -> list[Box]:
    """Cover everything but `open_` with rectangles, line by line, merging equal lines."""
    lines, width = (cols, rows) if transpose else (rows, cols)
    cells = {(c, r) for r, c in open_} if transpose else open_
    boxes: list[Box] = []
    previous: tuple | None = None
    start = 0
    patterns = []
    for line in range(lines):
        taken = {j for i, j in cells if i == line}
        # One step past the layout is always protected, so the last span runs on to the edge.
        patterns.append(tuple(_spans(j for j in range(width + 1) if j not in taken)))
    for line, pattern in enumerate([*patterns, None]):
        if pattern != previous:
            if previous is not None:
                for a, b in previous:
                    boxes.append((start, line, a, None if b > width else b))
            previous, start = pattern, line
    boxes.append((lines, None, 0, None))  # everything below (or right of) the layout
    if transpose:
        return [(c0, c1, r0, r1) for r0, r1, c0, c1 in boxes]
    return boxes


def protected_boxes(sheet: SheetLayout) -> list[Box]:
    """Rectangles protecting all but the input cells; the fewer of two decompositions.

    Rectangles rather than one range with ``unprotectedRanges``: they work the same in Sheets
    and need nothing more from an emulator than plain protected ranges.
    """
    cells = open_cells(sheet)
    if not cells:
        return [(0, None, 0, None)]
    rows, cols = sheet.last_row, sheet.last_col + 1
    by_row, by_col = _bands(cells, rows, cols, False), _bands(cells, rows, cols, True)
    return by_row if len(by_row) <= len(by_col) else by_col


def _grid_range(sid: int, box: Box) -> dict[str, int]:
    r0, r1, c0, c1 = box
    grid = {"sheetId": sid, "startRowIndex": r0, "startColumnIndex": c0}
    if r1 is not None:
        grid["endRowIndex"] = r1
    if c1 is not None:
        grid["endColumnIndex"] = c1
    return grid


def protection_requests(layout: Layout, editors: list[str], tag: str = "") -> list[dict]:
    """addProtectedRange for every tab: all but the input cells; editors = us and staff.

    Descriptions read ``giamsat:<tab>`` (``giamsat:<tab>|<unit>`` in a unit's copy), so that
    our ranges can be told from any a person adds, and a unit's from the template's.
    """
    suffix = f"|{tag}" if tag else ""
    requests = []
    tabs = [(sheet_id(s.tab), s.tab, protected_boxes(s)) for s in layout.sheets]
    tabs.append((RESULTS_SHEET_ID, RESULTS_TAB, RESULTS_PROTECTED))
    for sid, tab, boxes in tabs:
        for box in boxes:
            requests.append({"addProtectedRange": {"protectedRange": {
                "range": _grid_range(sid, box), "description": PROTECTION_PREFIX + tab + suffix,
                "warningOnly": False, "editors": {"users": list(editors)}}}})
    return requests


# --------------------------------------------------------------------------- whole files


def _grid_properties(sheet: SheetLayout) -> dict[str, int]:
    frozen_rows, frozen_cols = sheet.freeze[0] - 1, sheet.freeze[1] - 1
    return {"rowCount": max(sheet.last_row + 50, 200), "columnCount": max(sheet.last_col + 5, 26),
            "frozenRowCount": frozen_rows, "frozenColumnCount": frozen_cols}


def template_requests(layout: Layout, timezone: str, editors: list[str],
                      existing_sheet_ids: list[int]) -> list[dict]:
    """Turn a new, empty spreadsheet into the commune template (one atomic batchUpdate)."""
    requests: list[dict] = [{"updateSpreadsheetProperties": {
        "properties": {"locale": "vi_VN", "timeZone": timezone}, "fields": "locale,timeZone"}}]
    for index, sheet in enumerate(layout.sheets):
        requests.append({"addSheet": {"properties": {
            "sheetId": sheet_id(sheet.tab), "title": sheet.title, "index": index,
            "gridProperties": _grid_properties(sheet)}}})
    requests.append({"addSheet": {"properties": {
        "sheetId": RESULTS_SHEET_ID, "title": RESULTS_TITLE, "index": len(layout.sheets),
        "gridProperties": {"rowCount": 200, "columnCount": RESULTS_COLUMNS,
                           "frozenRowCount": 6}}}})
    requests += [{"deleteSheet": {"sheetId": sid}} for sid in existing_sheet_ids]
    for sheet in layout.sheets:
        sid = sheet_id(sheet.tab)
        requests.append(_update_cells(sid, cell_grid(sheet)))
        requests += _merges(sid, sheet) + _dimensions(sid, sheet)
    requests.append({"updateCells": {
        "start": {"sheetId": RESULTS_SHEET_ID, "rowIndex": 0, "columnIndex": 0},
        "rows": [{"values": [{"userEnteredValue": {"stringValue": "Chưa có kết quả kiểm tra."},
                              "userEnteredFormat": cell_format("title")}]}],
        "fields": CELL_FIELDS}})
    requests += [dimension(RESULTS_SHEET_ID, "COLUMNS", col - 1, col,
                           {"pixelSize": round(width * 7 + 5)}, "pixelSize")
                 for col, width in RESULTS_WIDTHS.items()]
    return requests + protection_requests(layout, editors)


def unit_requests(template: Layout, unit: Layout, editors: list[str],
                  protected_ids: list[int], unit_code: str) -> list[dict]:
    """Make a fresh copy of the template the unit's own: its name and code prefilled and locked,
    protections rebuilt (a copy's protected ranges keep only the copier as editor)."""
    requests: list[dict] = [{"deleteProtectedRange": {"protectedRangeId": pid}}
                            for pid in protected_ids]
    for before, after in zip(template.sheets, unit.sheets, strict=True):
        sid = sheet_id(after.tab)
        # Same builder, same cell order: only the unit's name, code and banner differ.
        changed = [new for old, new in zip(before.cells, after.cells, strict=True) if old != new]
        for (r, c), data in sorted(cell_grid(after, changed).items()):
            requests.append({"updateCells": {
                "range": {"sheetId": sid, "startRowIndex": r, "endRowIndex": r + 1,
                          "startColumnIndex": c, "endColumnIndex": c + 1},
                "rows": [{"values": [data]}], "fields": CELL_FIELDS}})
    return requests + protection_requests(unit, editors, unit_code)


def dashboard_requests(tabs: list[tuple[int, str, list[str]]], timezone: str,
                       existing_sheet_ids: list[int]) -> list[dict]:
    """The town dashboard: one tab per table, bold frozen header row."""
    requests: list[dict] = [{"updateSpreadsheetProperties": {
        "properties": {"locale": "vi_VN", "timeZone": timezone}, "fields": "locale,timeZone"}}]
    for index, (sid, title, header) in enumerate(tabs):
        requests.append({"addSheet": {"properties": {
            "sheetId": sid, "title": title, "index": index,
            "gridProperties": {"rowCount": 2, "columnCount": len(header), "frozenRowCount": 1}}}})
    requests += [{"deleteSheet": {"sheetId": sid}} for sid in existing_sheet_ids]
    for sid, _, header in tabs:
        requests.append({"updateCells": {
            "start": {"sheetId": sid, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": [{"userEnteredValue": {"stringValue": text},
                                  "userEnteredFormat": cell_format("header")}
                                 for text in header]}],
            "fields": CELL_FIELDS}})
    return requests
