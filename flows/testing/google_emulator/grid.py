"""Reading and writing the cells of a sheet: formula values, renders, ranges of the grid."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from flows.testing.google_emulator.a1 import Box
from flows.testing.google_emulator.cells import (
    CellError,
    Entered,
    Scalar,
    locale_spec,
    plain_value,
    render_value,
)
from flows.testing.google_emulator.common import JSON
from flows.testing.google_emulator.formula import evaluate
from flows.testing.google_emulator.state import Cell, Sheet, Spreadsheet

ROW_PIXELS = 21
COLUMN_PIXELS = 100


class SheetReader:
    """Computes what the cells of one spreadsheet show (formulas included) for one request."""

    def __init__(self, spreadsheet: Spreadsheet) -> None:
        self.spreadsheet = spreadsheet
        self.spec = locale_spec(spreadsheet.locale)
        self._memo: dict[tuple[int, int, int], Scalar] = {}
        self._active: set[tuple[int, int, int]] = set()

    def value(self, sheet: Sheet, row: int, col: int) -> Scalar:
        """The computed value of a cell (``None`` when blank)."""
        key = (sheet.sheet_id, row, col)
        if key in self._memo:
            return self._memo[key]
        cell = sheet.cells.get((row, col)) or {}
        entered = cell.get("userEnteredValue")
        if entered and "formulaValue" in entered:
            if key in self._active:
                return CellError("#REF!")
            self._active.add(key)
            try:
                result = evaluate(str(entered["formulaValue"]), _Scope(self, sheet))
            finally:
                self._active.discard(key)
        else:
            result = plain_value(entered)
        self._memo[key] = result
        return result

    def render(self, sheet: Sheet, row: int, col: int, option: str, date_option: str) -> Any:
        """One cell as ``values.get`` returns it ("" for a blank cell)."""
        cell = sheet.cells.get((row, col))
        if not cell or not cell.get("userEnteredValue"):
            return ""
        entered = cell["userEnteredValue"]
        if option == "FORMULA" and "formulaValue" in entered:
            return entered["formulaValue"]
        number_format = (cell.get("userEnteredFormat") or {}).get("numberFormat")
        return render_value(self.value(sheet, row, col), number_format, option, date_option,
                            self.spec)

    def read(self, sheet: Sheet, box: Box, option: str, date_option: str, major: str) -> list[list]:
        """A range as ragged rows: trailing blanks and trailing blank rows dropped."""
        used = [key for key in cells_in(sheet, box) if sheet.cells[key].get("userEnteredValue")]
        if not used:
            return []
        last_row = max(r for r, _ in used)
        last_col = max(c for _, c in used)
        grid = [
            [self.render(sheet, r, c, option, date_option) for c in range(box.c0, last_col + 1)]
            for r in range(box.r0, last_row + 1)
        ]
        if major == "COLUMNS":
            grid = [list(column) for column in zip(*grid, strict=True)]
        return trim(grid)

    def cell_data(self, sheet: Sheet, row: int, col: int) -> JSON:
        """``CellData`` as ``spreadsheets.get?includeGridData=true`` returns it (loosely)."""
        cell = dict(sheet.cells.get((row, col)) or {})
        if cell.get("userEnteredValue"):
            value = self.value(sheet, row, col)
            cell["effectiveValue"] = effective_value(value)
            number_format = (cell.get("userEnteredFormat") or {}).get("numberFormat")
            cell["formattedValue"] = render_value(value, number_format, "FORMATTED_VALUE",
                                                  "FORMATTED_STRING", self.spec)
        return cell

    def grid_data(self, sheet: Sheet, box: Box) -> JSON:
        """One ``GridData`` block: rowData for the used part, row and column metadata."""
        data: JSON = {}
        if box.r0:
            data["startRow"] = box.r0
        if box.c0:
            data["startColumn"] = box.c0
        keys = list(cells_in(sheet, box))
        rows: list[JSON] = []
        if keys:
            for r in range(box.r0, max(k[0] for k in keys) + 1):
                cols = [c for rr, c in keys if rr == r]
                if not cols:
                    rows.append({})
                    continue
                values = [self.cell_data(sheet, r, c) for c in range(box.c0, max(cols) + 1)]
                rows.append({"values": values})
        if rows:
            data["rowData"] = rows
        data["rowMetadata"] = [
            _meta(sheet.row_meta.get(r), ROW_PIXELS) for r in range(box.r0, box.r1 + 1)
        ]
        data["columnMetadata"] = [
            _meta(sheet.col_meta.get(c), COLUMN_PIXELS) for c in range(box.c0, box.c1 + 1)
        ]
        return data


class _Scope:
    """The evaluator's view of the spreadsheet from one sheet (unqualified refs)."""

    def __init__(self, reader: SheetReader, sheet: Sheet) -> None:
        self.reader = reader
        self.sheet = sheet

    def _sheet(self, title: str | None) -> Sheet | None:
        return self.sheet if title is None else self.reader.spreadsheet.sheet_by_title(title)

    def cell(self, sheet: str | None, row: int, col: int) -> Scalar:
        target = self._sheet(sheet)
        if target is None:
            return CellError("#REF!")
        return self.reader.value(target, row, col)

    def cells(
        self, sheet: str | None, r0: int, c0: int, r1: int | None, c1: int | None
    ) -> list[Scalar]:
        target = self._sheet(sheet)
        if target is None:
            return [CellError("#REF!")]
        end_row = target.row_count - 1 if r1 is None else r1
        end_col = target.col_count - 1 if c1 is None else c1
        box = Box(r0, c0, end_row, end_col)
        return [self.reader.value(target, r, c) for r, c in sorted(cells_in(target, box))]


def _meta(meta: JSON | None, pixels: int) -> JSON:
    result: JSON = {"pixelSize": pixels}
    result.update(meta or {})
    return result


def effective_value(value: Scalar) -> JSON:
    """A computed value as an ``ExtendedValue``."""
    if isinstance(value, CellError):
        return {"errorValue": {"type": "ERROR", "message": value.code}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": "" if value is None else value}


def trim(grid: list[list]) -> list[list]:
    """Drop trailing blanks of each line, then trailing empty lines (Google's ragged answer)."""
    lines = []
    for line in grid:
        end = len(line)
        while end and line[end - 1] == "":
            end -= 1
        lines.append(line[:end])
    while lines and not lines[-1]:
        lines.pop()
    return lines


def cells_in(sheet: Sheet, box: Box) -> Iterator[tuple[int, int]]:
    """Keys of stored cells inside a box."""
    for key in list(sheet.cells):
        if box.r0 <= key[0] <= box.r1 and box.c0 <= key[1] <= box.c1:
            yield key


def put_entered(sheet: Sheet, row: int, col: int, entered: Entered) -> None:
    """Store a parsed input in a cell (keeping its formats)."""
    cell: Cell = sheet.cells.get((row, col)) or {}
    if entered.value:
        cell["userEnteredValue"] = dict(entered.value)
    else:
        cell.pop("userEnteredValue", None)
    if entered.number_format:
        cell.setdefault("userEnteredFormat", {})["numberFormat"] = dict(entered.number_format)
    store_cell(sheet, row, col, cell)


def store_cell(sheet: Sheet, row: int, col: int, cell: Cell) -> None:
    """Keep a cell, or forget it when nothing is left in it."""
    if cell:
        sheet.cells[(row, col)] = cell
    else:
        sheet.cells.pop((row, col), None)


def clear_values(sheet: Sheet, box: Box) -> None:
    """Remove the values (not the formats) of a box."""
    for key in list(cells_in(sheet, box)):
        cell = sheet.cells[key]
        cell.pop("userEnteredValue", None)
        store_cell(sheet, key[0], key[1], cell)


# --- GridRange helpers -----------------------------------------------------------------------


def grid_box(grid_range: JSON, sheet: Sheet) -> Box | None:
    """A GridRange (end-exclusive, open ends = grid edge) as a Box; ``None`` if empty."""
    r0 = int(grid_range.get("startRowIndex", 0) or 0)
    c0 = int(grid_range.get("startColumnIndex", 0) or 0)
    r1 = int(grid_range.get("endRowIndex", sheet.row_count) or 0) - 1
    c1 = int(grid_range.get("endColumnIndex", sheet.col_count) or 0) - 1
    if r1 < r0 or c1 < c0:
        return None
    return Box(r0, c0, r1, c1)


def box_to_grid_range(sheet_id: int, box: Box) -> JSON:
    return {
        "sheetId": sheet_id,
        "startRowIndex": box.r0,
        "endRowIndex": box.r1 + 1,
        "startColumnIndex": box.c0,
        "endColumnIndex": box.c1 + 1,
    }


def ranges_overlap(grid_range: JSON, box: Box) -> bool:
    """Whether a (possibly open) GridRange meets a box."""
    r0 = grid_range.get("startRowIndex", 0) or 0
    c0 = grid_range.get("startColumnIndex", 0) or 0
    r1 = grid_range.get("endRowIndex")
    c1 = grid_range.get("endColumnIndex")
    rows = r0 <= box.r1 and (r1 is None or box.r0 < r1)
    cols = c0 <= box.c1 and (c1 is None or box.c0 < c1)
    return rows and cols



def clean_sheet_properties(properties: JSON) -> JSON:
    """Sheet properties as Google prints them: false flags and zero freezes left out."""
    result = copy.deepcopy(properties)
    for key in ("hidden", "rightToLeft"):
        if not result.get(key, True):
            result.pop(key)
    grid = result.get("gridProperties") or {}
    for key in list(grid):
        if key not in ("rowCount", "columnCount") and not grid[key]:
            grid.pop(key)
    return result


def render_protected_range(protected: JSON, owner: str | None, identity: str) -> JSON:
    """A protected range with ``requestingUserCanEdit`` computed for the caller."""
    result = {"protectedRangeId": protected.get("protectedRangeId")}
    result.update({k: copy.deepcopy(v) for k, v in protected.items() if k != "editors"})
    if can_edit_protected(protected, owner, identity):
        result["requestingUserCanEdit"] = True
    if "editors" in protected:
        result["editors"] = copy.deepcopy(protected["editors"])
    return result


def can_edit_protected(protected: JSON, owner: str | None, identity: str) -> bool:
    """The owner and the listed editors may edit a protected range."""
    if owner and owner.lower() == identity.lower():
        return True
    users = ((protected.get("editors") or {}).get("users")) or []
    return identity.lower() in (str(u).lower() for u in users)
