"""``spreadsheets.batchUpdate``: the request kinds the emulator understands.

Requests run against a copy of the spreadsheet that replaces the original only when every
request succeeded, so a failing batch changes nothing (as with Google). Formats, notes,
validation rules, borders, filters and conditional formats are stored, not interpreted.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

from flows.testing.google_emulator.a1 import Box, format_range
from flows.testing.google_emulator.common import (
    JSON,
    ApiError,
    FieldTree,
    mask_from_request,
    merge_by_mask,
    sheets_field_violation,
    sheets_invalid,
)
from flows.testing.google_emulator.grid import (
    cells_in,
    clean_sheet_properties,
    grid_box,
    ranges_overlap,
    render_protected_range,
    store_cell,
)
from flows.testing.google_emulator.state import DriveFile, Sheet, Spreadsheet

_DIMENSION_KEYS = {
    "ROWS": ("startRowIndex", "endRowIndex"),
    "COLUMNS": ("startColumnIndex", "endColumnIndex"),
}


def random_id(taken: set[int]) -> int:
    """A random positive int32 id not in ``taken`` (Google's sheet and range ids look so)."""
    while True:
        candidate = secrets.randbelow(2**31 - 2) + 1
        if candidate not in taken:
            return candidate


class Batch:
    """Applies the requests of one batchUpdate to a working copy of a spreadsheet."""

    def __init__(self, file: DriveFile, identity: str) -> None:
        assert file.spreadsheet is not None
        self.file = file
        self.spreadsheet: Spreadsheet = copy.deepcopy(file.spreadsheet)
        self.identity = identity
        self.title = file.name
        self.index = 0
        self.kind = ""

    def run(self, requests: Any) -> list[JSON]:
        """Apply all requests; raises :class:`ApiError` (nothing applied) on the first failure."""
        if not isinstance(requests, list) or not requests:
            raise sheets_invalid("Must specify at least one request.")
        replies = []
        for index, request in enumerate(requests):
            self.index = index
            replies.append(self._apply(request))
        return replies

    def commit(self) -> None:
        """Make the working copy the spreadsheet."""
        self.file.spreadsheet = self.spreadsheet
        self.file.name = self.title

    def _apply(self, request: Any) -> JSON:
        if not isinstance(request, dict) or not request:
            raise sheets_invalid(f"Invalid requests[{self.index}]: No request set.")
        if len(request) > 1:
            names = ", ".join(request)
            raise sheets_invalid(f"Invalid requests[{self.index}]: more than one kind set: {names}")
        ((kind, body),) = request.items()
        handler = _HANDLERS.get(kind)
        if handler is None:
            message = (f'Invalid JSON payload received. Unknown name "{kind}" at '
                       f"'requests[{self.index}]': Cannot find field.")
            raise sheets_field_violation(message, f"requests[{self.index}]")
        self.kind = kind
        return handler(self, body if isinstance(body, dict) else {})

    # --- helpers ---

    def fail(self, message: str) -> ApiError:
        return sheets_invalid(f"Invalid requests[{self.index}].{self.kind}: {message}")

    def mask(self, body: JSON) -> FieldTree:
        return mask_from_request(body, self.kind, self.index)

    def sheet(self, sheet_id: Any) -> Sheet:
        sheet = self.spreadsheet.sheet_by_id(int(sheet_id or 0))
        if sheet is None:
            raise self.fail(f"No grid with id: {sheet_id or 0}")
        return sheet

    def bounds(self, grid_range: JSON) -> tuple[Sheet, Box | None]:
        """The sheet and clipped box of a GridRange; explicit ends past the grid are an error."""
        sheet = self.sheet(grid_range.get("sheetId", 0))
        end_row = grid_range.get("endRowIndex")
        end_col = grid_range.get("endColumnIndex")
        if (end_row or 0) > sheet.row_count or (end_col or 0) > sheet.col_count:
            shown = Box(grid_range.get("startRowIndex", 0) or 0,
                        grid_range.get("startColumnIndex", 0) or 0,
                        (end_row or sheet.row_count) - 1, (end_col or sheet.col_count) - 1)
            raise self.fail(
                f"Range ({format_range(sheet.title, shown)}) exceeds grid limits. "
                f"Max rows: {sheet.row_count}, max columns: {sheet.col_count}"
            )
        return sheet, grid_box(grid_range, sheet)

    def taken_ids(self) -> set[int]:
        ids = {s.sheet_id for s in self.spreadsheet.sheets}
        for sheet in self.spreadsheet.sheets:
            ids.update(int(p.get("protectedRangeId", 0)) for p in sheet.protected_ranges)
        return ids

    def check_title(self, title: Any, sheet: Sheet | None = None) -> str:
        text = str(title or "")
        if not text.strip():
            raise self.fail("The sheet name cannot be empty.")
        other = self.spreadsheet.sheet_by_title(text)
        if other is not None and other is not sheet and other.title.casefold() == text.casefold():
            raise self.fail(f'A sheet with the name "{text}" already exists. '
                            "Please enter another name.")
        return text

    # --- sheets ---

    def add_sheet(self, body: JSON) -> JSON:
        props = body.get("properties") or {}
        sheets = self.spreadsheet.sheets
        title = self.check_title(props.get("title") or self._free_title("Sheet", len(sheets) + 1))
        sheet_id = props.get("sheetId")
        if sheet_id is None:
            sheet_id = random_id(self.taken_ids())
        elif self.spreadsheet.sheet_by_id(int(sheet_id)) is not None:
            raise self.fail(f"Sheet with id {sheet_id} already exists.")
        grid = {"rowCount": 1000, "columnCount": 26}
        grid.update(copy.deepcopy(props.get("gridProperties") or {}))
        index = max(0, min(int(props.get("index", len(sheets))), len(sheets)))
        properties: JSON = {"sheetId": int(sheet_id), "title": title, "index": index,
                            "sheetType": props.get("sheetType", "GRID"), "gridProperties": grid}
        for key in ("hidden", "tabColor", "tabColorStyle", "rightToLeft"):
            if key in props:
                properties[key] = copy.deepcopy(props[key])
        sheet = Sheet(properties)
        sheets.insert(index, sheet)
        self.spreadsheet.reindex()
        return {"addSheet": {"properties": clean_sheet_properties(sheet.properties)}}

    def _free_title(self, stem: str, number: int) -> str:
        while self.spreadsheet.sheet_by_title(f"{stem}{number}") is not None:
            number += 1
        return f"{stem}{number}"

    def delete_sheet(self, body: JSON) -> JSON:
        sheet = self.sheet(body.get("sheetId", 0))
        if len(self.spreadsheet.sheets) == 1:
            raise self.fail("You can't remove all the sheets in a document.")
        self.spreadsheet.sheets.remove(sheet)
        self.spreadsheet.reindex()
        return {}

    def update_sheet_properties(self, body: JSON) -> JSON:
        props = body.get("properties") or {}
        tree = self.mask(body)
        sheet = self.sheet(props.get("sheetId", 0))
        updated = copy.deepcopy(sheet.properties)
        merge_by_mask(updated, props, tree)
        for key in ("sheetId", "sheetType", "index", "gridProperties"):
            updated.setdefault(key, copy.deepcopy(sheet.properties.get(key)))
        updated["sheetId"] = sheet.sheet_id
        updated["title"] = self.check_title(updated.get("title"), sheet)
        grid = updated["gridProperties"]
        rows, cols = int(grid.get("rowCount", 0)), int(grid.get("columnCount", 0))
        if rows < 1 or cols < 1:
            raise self.fail("A sheet must have at least one row and one column.")
        if updated.get("hidden") and all(
            s.properties.get("hidden") for s in self.spreadsheet.sheets if s is not sheet
        ):
            raise self.fail("You can't hide all the sheets in a document.")
        sheet.properties = updated
        _truncate(sheet, rows, cols)
        self._move(sheet, int(updated.get("index", 0)))
        return {}

    def _move(self, sheet: Sheet, index: int) -> None:
        sheets = self.spreadsheet.sheets
        sheets.remove(sheet)
        sheets.insert(max(0, min(index, len(sheets))), sheet)
        self.spreadsheet.reindex()

    def update_spreadsheet_properties(self, body: JSON) -> JSON:
        current = {"title": self.title, **copy.deepcopy(self.spreadsheet.properties)}
        merge_by_mask(current, body.get("properties") or {}, self.mask(body))
        title = current.pop("title", None)
        if not title:
            raise self.fail("The spreadsheet title cannot be empty.")
        self.title = str(title)
        self.spreadsheet.properties = current
        return {}

    def duplicate_sheet(self, body: JSON) -> JSON:
        source = self.sheet(body.get("sourceSheetId", 0))
        taken = self.taken_ids()
        new_id = body.get("newSheetId") or random_id(taken)
        if self.spreadsheet.sheet_by_id(int(new_id)) is not None:
            raise self.fail(f"Sheet with id {new_id} already exists.")
        title = body.get("newSheetName") or self._copy_title(source.title)
        title = self.check_title(title)
        sheets = self.spreadsheet.sheets
        index = max(0, min(int(body.get("insertSheetIndex", len(sheets))), len(sheets)))
        clone = clone_sheet(source, int(new_id), title, taken | {int(new_id)})
        sheets.insert(index, clone)
        self.spreadsheet.reindex()
        return {"duplicateSheet": {"properties": clean_sheet_properties(clone.properties)}}

    def _copy_title(self, title: str) -> str:
        candidate, number = f"Copy of {title}", 2
        while self.spreadsheet.sheet_by_title(candidate) is not None:
            candidate, number = f"Copy {number} of {title}", number + 1
        return candidate

    # --- protection ---

    def add_protected_range(self, body: JSON) -> JSON:
        protected = copy.deepcopy(body.get("protectedRange") or {})
        protected.pop("requestingUserCanEdit", None)
        if "range" not in protected:
            raise self.fail("The emulator only supports protected ranges with a 'range'.")
        sheet, _ = self.bounds(protected["range"])
        taken = self.taken_ids()
        protected_id = protected.get("protectedRangeId") or random_id(taken)
        if protected.get("protectedRangeId") and int(protected_id) in taken:
            raise self.fail(f"A protected range with id {protected_id} already exists.")
        protected["protectedRangeId"] = int(protected_id)
        if "editors" not in protected:
            users = [self.file.owner or self.identity]
            if self.identity.lower() not in (u.lower() for u in users):
                users.append(self.identity)
            protected["editors"] = {"users": users}
        sheet.protected_ranges.append(protected)
        reply = render_protected_range(protected, self.file.owner, self.identity)
        return {"addProtectedRange": {"protectedRange": reply}}

    def _find_protected(self, protected_id: Any) -> tuple[Sheet, JSON]:
        for sheet in self.spreadsheet.sheets:
            for protected in sheet.protected_ranges:
                if str(protected.get("protectedRangeId")) == str(protected_id):
                    return sheet, protected
        raise self.fail(f"No protected range with id: {protected_id}")

    def update_protected_range(self, body: JSON) -> JSON:
        new = body.get("protectedRange") or {}
        sheet, protected = self._find_protected(new.get("protectedRangeId"))
        merge_by_mask(protected, new, self.mask(body))
        target, _ = self.bounds(protected.get("range") or {"sheetId": sheet.sheet_id})
        if target is not sheet:
            sheet.protected_ranges.remove(protected)
            target.protected_ranges.append(protected)
        return {}

    def delete_protected_range(self, body: JSON) -> JSON:
        sheet, protected = self._find_protected(body.get("protectedRangeId"))
        sheet.protected_ranges.remove(protected)
        return {}

    # --- cells ---

    def set_data_validation(self, body: JSON) -> JSON:
        sheet, box = self.bounds(body.get("range") or {})
        rule = body.get("rule")
        for row, col in _box_keys(box):
            cell = sheet.cells.get((row, col)) or {}
            if rule:
                cell["dataValidation"] = copy.deepcopy(rule)
            else:
                cell.pop("dataValidation", None)
            store_cell(sheet, row, col, cell)
        return {}

    def repeat_cell(self, body: JSON) -> JSON:
        sheet, box = self.bounds(body.get("range") or {})
        tree = self.mask(body)
        source = body.get("cell") or {}
        for row, col in _box_keys(box):
            cell = sheet.cells.get((row, col)) or {}
            merge_by_mask(cell, source, tree)
            store_cell(sheet, row, col, cell)
        return {}

    def update_cells(self, body: JSON) -> JSON:
        tree = self.mask(body)
        rows = [row.get("values") or [] for row in body.get("rows") or []]
        if "range" in body:
            sheet, box = self.bounds(body["range"])
            keys = list(_box_keys(box))
        elif "start" in body:
            start = body["start"] or {}
            r0, c0 = int(start.get("rowIndex", 0) or 0), int(start.get("columnIndex", 0) or 0)
            width = max((len(values) for values in rows), default=0)
            sheet, box = self.bounds({"sheetId": start.get("sheetId", 0), "startRowIndex": r0,
                                      "endRowIndex": r0 + len(rows), "startColumnIndex": c0,
                                      "endColumnIndex": c0 + width})
            keys = [(r0 + i, c0 + j) for i, values in enumerate(rows) for j in range(len(values))]
        else:
            raise self.fail("Either 'start' or 'range' must be set.")
        if box is None:
            return {}
        for row, col in keys:
            values = rows[row - box.r0] if row - box.r0 < len(rows) else []
            source = values[col - box.c0] if col - box.c0 < len(values) else {}
            cell = sheet.cells.get((row, col)) or {}
            merge_by_mask(cell, source or {}, tree)
            store_cell(sheet, row, col, cell)
        return {}

    def merge_cells(self, body: JSON) -> JSON:
        sheet, box = self.bounds(body.get("range") or {})
        if box is None:
            return {}
        merge_type = body.get("mergeType", "MERGE_ALL")
        if merge_type == "MERGE_ROWS":
            pieces = [Box(r, box.c0, r, box.c1) for r in range(box.r0, box.r1 + 1)]
        elif merge_type == "MERGE_COLUMNS":
            pieces = [Box(box.r0, c, box.r1, c) for c in range(box.c0, box.c1 + 1)]
        else:
            pieces = [box]
        sheet.merges = [m for m in sheet.merges if not ranges_overlap(m, box)]
        for piece in pieces:
            if piece.rows * piece.cols < 2:
                continue
            for key in list(cells_in(sheet, piece)):
                if key != (piece.r0, piece.c0):
                    cell = sheet.cells[key]
                    cell.pop("userEnteredValue", None)
                    store_cell(sheet, key[0], key[1], cell)
            sheet.merges.append({"sheetId": sheet.sheet_id, "startRowIndex": piece.r0,
                                 "endRowIndex": piece.r1 + 1, "startColumnIndex": piece.c0,
                                 "endColumnIndex": piece.c1 + 1})
        return {}

    def unmerge_cells(self, body: JSON) -> JSON:
        sheet, box = self.bounds(body.get("range") or {})
        if box is not None:
            sheet.merges = [m for m in sheet.merges if not ranges_overlap(m, box)]
        return {}

    def update_borders(self, body: JSON) -> JSON:
        sheet, _ = self.bounds(body.get("range") or {})
        sheet.extras.setdefault("borders", []).append(copy.deepcopy(body))
        return {}

    def set_basic_filter(self, body: JSON) -> JSON:
        basic_filter = copy.deepcopy(body.get("filter") or {})
        sheet, _ = self.bounds(basic_filter.get("range") or {})
        sheet.extras["basicFilter"] = basic_filter
        return {}

    def clear_basic_filter(self, body: JSON) -> JSON:
        self.sheet(body.get("sheetId", 0)).extras.pop("basicFilter", None)
        return {}

    # --- conditional formats ---

    def add_conditional_format_rule(self, body: JSON) -> JSON:
        rule = copy.deepcopy(body.get("rule") or {})
        ranges = rule.get("ranges") or []
        if not ranges:
            raise self.fail("At least one range must be specified.")
        sheet, _ = self.bounds(ranges[0])
        rules = sheet.conditional_formats
        rules.insert(max(0, min(int(body.get("index", 0) or 0), len(rules))), rule)
        return {}

    def _rule_at(self, body: JSON) -> tuple[Sheet, int]:
        sheet = self.sheet(body.get("sheetId", 0))
        index = int(body.get("index", 0) or 0)
        if not 0 <= index < len(sheet.conditional_formats):
            raise self.fail(f"No conditional format on sheet: {sheet.sheet_id} at index: {index}")
        return sheet, index

    def update_conditional_format_rule(self, body: JSON) -> JSON:
        sheet, index = self._rule_at(body)
        rules = sheet.conditional_formats
        old = rules[index]
        if "rule" in body:
            rules[index] = copy.deepcopy(body["rule"])
            new_index = index
        else:
            new_index = max(0, min(int(body.get("newIndex", index) or 0), len(rules) - 1))
            rules.insert(new_index, rules.pop(index))
        reply = {"newRule": rules[new_index], "oldRule": old, "newIndex": new_index,
                 "oldIndex": index}
        return {"updateConditionalFormatRule": copy.deepcopy(reply)}

    def delete_conditional_format_rule(self, body: JSON) -> JSON:
        sheet, index = self._rule_at(body)
        return {"deleteConditionalFormatRule": {"rule": sheet.conditional_formats.pop(index)}}

    # --- dimensions ---

    def _dimension(self, span: JSON) -> tuple[Sheet, str, int, int]:
        sheet = self.sheet(span.get("sheetId", 0))
        dimension = span.get("dimension")
        if dimension not in _DIMENSION_KEYS:
            raise self.fail("dimension must be ROWS or COLUMNS.")
        size = sheet.row_count if dimension == "ROWS" else sheet.col_count
        start = int(span.get("startIndex", 0) or 0)
        end = size if span.get("endIndex") is None else int(span["endIndex"])
        if start < 0 or end <= start:
            raise self.fail(f"Invalid dimension range: startIndex {start}, endIndex {end}.")
        return sheet, dimension, start, end

    def update_dimension_properties(self, body: JSON) -> JSON:
        sheet, dimension, start, end = self._dimension(body.get("range") or {})
        tree = self.mask(body)
        size = sheet.row_count if dimension == "ROWS" else sheet.col_count
        if end > size:
            raise self.fail(f"Invalid dimension range: endIndex {end} is after the grid ({size}).")
        metas = sheet.row_meta if dimension == "ROWS" else sheet.col_meta
        for index in range(start, end):
            meta = metas.get(index) or {}
            merge_by_mask(meta, body.get("properties") or {}, tree)
            if meta:
                metas[index] = meta
            else:
                metas.pop(index, None)
        return {}

    def insert_dimension(self, body: JSON) -> JSON:
        sheet, dimension, start, end = self._dimension(body.get("range") or {})
        size = sheet.row_count if dimension == "ROWS" else sheet.col_count
        if start > size:
            raise self.fail(f"Invalid dimension range: startIndex {start} is after the grid "
                            f"({size}).")
        insert_lines(sheet, dimension, start, end - start, bool(body.get("inheritFromBefore")))
        return {}

    def delete_dimension(self, body: JSON) -> JSON:
        sheet, dimension, start, end = self._dimension(body.get("range") or {})
        axis = 0 if dimension == "ROWS" else 1
        size = sheet.row_count if axis == 0 else sheet.col_count
        if end > size:
            raise self.fail(f"Invalid dimension range: endIndex {end} is after the grid ({size}).")
        if start == 0 and end == size:
            what = "rows" if axis == 0 else "columns"
            raise self.fail(f"You can't delete all the {what} on the sheet.")
        count = end - start
        sheet.cells = {
            _moved(key, axis, end, -count): cell
            for key, cell in sheet.cells.items() if not start <= key[axis] < end
        }
        metas = sheet.row_meta if axis == 0 else sheet.col_meta
        kept = {(i - count if i >= end else i): m for i, m in metas.items() if not start <= i < end}
        metas.clear()
        metas.update(kept)
        _delete_from_ranges(sheet, dimension, start, end)
        if axis == 0:
            sheet.row_count -= count
        else:
            sheet.col_count -= count
        return {}

    def append_dimension(self, body: JSON) -> JSON:
        sheet = self.sheet(body.get("sheetId", 0))
        length = int(body.get("length", 0) or 0)
        if length < 1 or body.get("dimension") not in _DIMENSION_KEYS:
            raise self.fail("length must be positive and dimension ROWS or COLUMNS.")
        if body["dimension"] == "ROWS":
            sheet.row_count += length
        else:
            sheet.col_count += length
        return {}

    def auto_resize_dimensions(self, body: JSON) -> JSON:
        self._dimension(body.get("dimensions") or {})
        return {}


def insert_lines(
    sheet: Sheet, dimension: str, start: int, count: int, inherit_before: bool
) -> None:
    """Insert rows or columns, moving cells, metadata and stored ranges down or right."""
    axis = 0 if dimension == "ROWS" else 1
    sheet.cells = {_moved(key, axis, start, count): cell for key, cell in sheet.cells.items()}
    metas = sheet.row_meta if axis == 0 else sheet.col_meta
    moved = {(i + count if i >= start else i): m for i, m in metas.items()}
    metas.clear()
    metas.update(moved)
    for grid_range in _sheet_ranges(sheet):
        _shift_insert(grid_range, dimension, start, count)
    if axis == 0:
        sheet.row_count += count
    else:
        sheet.col_count += count
    source = start - 1 if inherit_before else start + count
    _inherit_formats(sheet, axis, source, start, count)


def _box_keys(box: Box | None) -> list[tuple[int, int]]:
    if box is None:
        return []
    return [(r, c) for r in range(box.r0, box.r1 + 1) for c in range(box.c0, box.c1 + 1)]


def _truncate(sheet: Sheet, rows: int, cols: int) -> None:
    sheet.cells = {k: v for k, v in sheet.cells.items() if k[0] < rows and k[1] < cols}


def _moved(key: tuple[int, int], axis: int, start: int, count: int) -> tuple[int, int]:
    if key[axis] < start:
        return key
    return (key[0] + count, key[1]) if axis == 0 else (key[0], key[1] + count)


def _sheet_ranges(sheet: Sheet) -> list[JSON]:
    """Every GridRange stored on a sheet (merges, protections, rules, filter)."""
    found = list(sheet.merges)
    for protected in sheet.protected_ranges:
        found.extend([protected["range"]] if "range" in protected else [])
        found.extend(protected.get("unprotectedRanges") or [])
    for rule in sheet.conditional_formats:
        found.extend(r for r in rule.get("ranges") or [] if int(r.get("sheetId", 0) or 0)
                     == sheet.sheet_id)
    if "range" in (sheet.extras.get("basicFilter") or {}):
        found.append(sheet.extras["basicFilter"]["range"])
    return found


def _shift_insert(grid_range: JSON, dimension: str, start: int, count: int) -> None:
    start_key, end_key = _DIMENSION_KEYS[dimension]
    if grid_range.get(start_key) is not None and grid_range[start_key] >= start:
        grid_range[start_key] += count
    if grid_range.get(end_key) is not None and grid_range[end_key] > start:
        grid_range[end_key] += count


def _shift_delete(grid_range: JSON, dimension: str, start: int, end: int) -> bool:
    """Shrink a range for deleted rows/columns; False when nothing of it is left."""
    start_key, end_key = _DIMENSION_KEYS[dimension]

    def move(index: int) -> int:
        return index - (end - start) if index >= end else min(index, start)

    for key in (start_key, end_key):
        if grid_range.get(key) is not None:
            grid_range[key] = move(grid_range[key])
    low, high = grid_range.get(start_key), grid_range.get(end_key)
    return low is None or high is None or low < high


def _delete_from_ranges(sheet: Sheet, dimension: str, start: int, end: int) -> None:
    sheet.merges = [m for m in sheet.merges if _shift_delete(m, dimension, start, end)]
    sheet.protected_ranges = [
        p for p in sheet.protected_ranges
        if "range" not in p or _shift_delete(p["range"], dimension, start, end)
    ]
    for protected in sheet.protected_ranges:
        kept = [r for r in protected.get("unprotectedRanges") or []
                if _shift_delete(r, dimension, start, end)]
        if kept:
            protected["unprotectedRanges"] = kept
        else:
            protected.pop("unprotectedRanges", None)
    kept_rules = []
    for rule in sheet.conditional_formats:
        rule["ranges"] = [r for r in rule.get("ranges") or []
                          if _shift_delete(r, dimension, start, end)]
        if rule["ranges"]:
            kept_rules.append(rule)
    sheet.conditional_formats = kept_rules
    basic_filter = sheet.extras.get("basicFilter") or {}
    if "range" in basic_filter and not _shift_delete(basic_filter["range"], dimension, start, end):
        sheet.extras.pop("basicFilter")


def _inherit_formats(sheet: Sheet, axis: int, source: int, start: int, count: int) -> None:
    """New rows/columns take the formats and validation of their neighbour."""
    if source < 0:
        return
    inherited = {}
    for (row, col), cell in sheet.cells.items():
        if (row, col)[axis] == source:
            kept = {k: copy.deepcopy(v) for k, v in cell.items()
                    if k in ("userEnteredFormat", "dataValidation")}
            if kept:
                inherited[col if axis == 0 else row] = kept
    for other, kept in inherited.items():
        for index in range(start, start + count):
            key = (index, other) if axis == 0 else (other, index)
            sheet.cells[key] = copy.deepcopy(kept)


def clone_sheet(source: Sheet, sheet_id: int, title: str, taken: set[int]) -> Sheet:
    """A deep copy of a sheet under a new id and title (protections get new ids)."""
    clone = copy.deepcopy(source)
    for grid_range in _sheet_ranges(clone):
        grid_range["sheetId"] = sheet_id
    clone.properties["sheetId"] = sheet_id
    clone.properties["title"] = title
    for protected in clone.protected_ranges:
        protected["protectedRangeId"] = random_id(taken)
        taken.add(protected["protectedRangeId"])
    return clone


_HANDLERS: dict[str, Callable[[Batch, JSON], JSON]] = {
    "addSheet": Batch.add_sheet,
    "deleteSheet": Batch.delete_sheet,
    "updateSheetProperties": Batch.update_sheet_properties,
    "updateSpreadsheetProperties": Batch.update_spreadsheet_properties,
    "duplicateSheet": Batch.duplicate_sheet,
    "addProtectedRange": Batch.add_protected_range,
    "updateProtectedRange": Batch.update_protected_range,
    "deleteProtectedRange": Batch.delete_protected_range,
    "setDataValidation": Batch.set_data_validation,
    "repeatCell": Batch.repeat_cell,
    "updateCells": Batch.update_cells,
    "mergeCells": Batch.merge_cells,
    "unmergeCells": Batch.unmerge_cells,
    "updateBorders": Batch.update_borders,
    "setBasicFilter": Batch.set_basic_filter,
    "clearBasicFilter": Batch.clear_basic_filter,
    "addConditionalFormatRule": Batch.add_conditional_format_rule,
    "updateConditionalFormatRule": Batch.update_conditional_format_rule,
    "deleteConditionalFormatRule": Batch.delete_conditional_format_rule,
    "updateDimensionProperties": Batch.update_dimension_properties,
    "insertDimension": Batch.insert_dimension,
    "deleteDimension": Batch.delete_dimension,
    "appendDimension": Batch.append_dimension,
    "autoResizeDimensions": Batch.auto_resize_dimensions,
}
SUPPORTED_REQUESTS = tuple(_HANDLERS)
