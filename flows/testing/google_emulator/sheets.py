"""Sheets v4 endpoints of the emulator: spreadsheets create/get/batchUpdate and the values API."""

from __future__ import annotations

import copy
import struct
from dataclasses import dataclass
from typing import Any

from flows.testing.google_emulator.a1 import (
    WHOLE_SHEET,
    Box,
    Rect,
    clip,
    column_letters,
    format_range,
    parse_a1,
    rect_text,
    split_range,
)
from flows.testing.google_emulator.batch import Batch, clone_sheet, insert_lines, random_id
from flows.testing.google_emulator.cells import (
    DATE_RENDER_OPTIONS,
    VALUE_RENDER_OPTIONS,
    Entered,
    locale_spec,
    parse_input,
)
from flows.testing.google_emulator.common import (
    JSON,
    Call,
    Settings,
    apply_fields,
    invalid_list_value,
    parse_fields,
    sheets_error,
    sheets_field_violation,
    sheets_invalid,
    sheets_not_found,
    sheets_permission_denied,
    unable_to_parse_range,
)
from flows.testing.google_emulator.grid import (
    SheetReader,
    can_edit_protected,
    clean_sheet_properties,
    clear_values,
    put_entered,
    ranges_overlap,
    render_protected_range,
)
from flows.testing.google_emulator.state import (
    READER,
    SPREADSHEET_MIME,
    WRITER,
    DriveFile,
    Sheet,
    Spreadsheet,
    Store,
    new_sheet,
    new_spreadsheet,
    user_permission,
)

Answer = tuple[int, JSON | None]
_PROTECTED_MESSAGE = (
    "You are trying to edit a protected cell or object. Please contact the spreadsheet owner "
    "to remove protection if you need to edit."
)
_THEME_COLORS = (
    ("TEXT", "000000"), ("BACKGROUND", "FFFFFF"), ("ACCENT1", "4285F4"), ("ACCENT2", "EA4335"),
    ("ACCENT3", "FBBC04"), ("ACCENT4", "34A853"), ("ACCENT5", "FF6D01"), ("ACCENT6", "46BDC6"),
    ("LINK", "1155CC"),
)


def _float32(value: float) -> float | int:
    """The shortest text of a float32, as Google prints colour components."""
    target = struct.unpack("f", struct.pack("f", value))[0]
    if target.is_integer():
        return int(target)
    for digits in range(1, 12):
        candidate = float(f"{target:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == target:
            return candidate
    return target


def rgb(hex_color: str) -> JSON:
    """A Color from ``RRGGBB``; zero components are left out (proto3 JSON)."""
    parts = zip(("red", "green", "blue"), (hex_color[i : i + 2] for i in (0, 2, 4)), strict=True)
    return {name: _float32(int(h, 16) / 255) for name, h in parts if int(h, 16)}


def default_format() -> JSON:
    """The default cell format of a new spreadsheet."""
    white = rgb("FFFFFF")
    text_format = {
        "foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10,
        "bold": False, "italic": False, "strikethrough": False, "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    }
    return {
        "backgroundColor": white,
        "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
        "verticalAlignment": "BOTTOM",
        "wrapStrategy": "OVERFLOW_CELL",
        "textFormat": text_format,
        "backgroundColorStyle": {"rgbColor": dict(white)},
    }


def default_theme() -> JSON:
    """The default theme of a new spreadsheet."""
    colors = [{"colorType": kind, "color": {"rgbColor": rgb(h)}} for kind, h in _THEME_COLORS]
    return {"primaryFontFamily": "Arial", "themeColors": colors}


def spreadsheet_url(spreadsheet_id: str) -> str:
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit"


@dataclass
class _Write:
    """A validated values write, ready to apply."""

    sheet: Sheet
    top: int
    left: int
    entries: list[tuple[int, int, Entered]]
    fallback: Box  # the target range, reported when nothing is written

    @property
    def box(self) -> Box:
        if not self.entries:
            return self.fallback
        bottom = max(r for r, _, _ in self.entries)
        right = max(c for _, c, _ in self.entries)
        return Box(self.top, self.left, bottom, right)

    def apply(self) -> None:
        box = self.box
        self.sheet.ensure_size(box.r1 + 1, box.c1 + 1)
        for row, col, entered in self.entries:
            put_entered(self.sheet, row, col, entered)

    def summary(self, spreadsheet_id: str) -> JSON:
        result: JSON = {"spreadsheetId": spreadsheet_id,
                        "updatedRange": format_range(self.sheet.title, self.box)}
        if self.entries:
            box = self.box
            result.update(updatedRows=box.rows, updatedColumns=box.cols,
                          updatedCells=len(self.entries))
        return result


class SheetsApi:
    """Handlers of the Sheets v4 routes. Each returns ``(status, body)``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # --- access and ranges ---

    def open(self, call: Call, spreadsheet_id: str, write: bool = False) -> DriveFile:
        """The spreadsheet file, checking existence and the caller's role."""
        file = self.store.get(spreadsheet_id)
        if file is None or self.store.is_trashed(file):
            raise sheets_not_found()
        if self.store.role_rank(file, call.identity) < (WRITER if write else READER):
            raise sheets_permission_denied()
        if file.spreadsheet is None:
            raise sheets_error(400, "This operation is not supported for this document",
                               "FAILED_PRECONDITION")
        return file

    @staticmethod
    def resolve(spreadsheet: Spreadsheet, text: str) -> tuple[Sheet, Rect]:
        """Find the sheet and rect of an A1 range; unknown sheets are a parse error."""
        try:
            title, a1 = split_range(text)
            rect = parse_a1(a1) if a1 else WHOLE_SHEET
        except ValueError as exc:
            raise unable_to_parse_range(text) from exc
        if title is None:
            sheet = spreadsheet.first_visible()
        else:
            sheet = spreadsheet.sheet_by_title(title)
        if sheet is None:
            raise unable_to_parse_range(text)
        return sheet, rect

    @staticmethod
    def box(sheet: Sheet, rect: Rect) -> Box:
        """Clip a rect to the grid; a start outside the grid is an error."""
        box = clip(rect, sheet.row_count, sheet.col_count)
        if box is None:
            title = "'" + sheet.title.replace("'", "''") + "'"
            raise sheets_invalid(
                f"Range ({title}!{rect_text(rect)}) exceeds grid limits. "
                f"Max rows: {sheet.row_count}, max columns: {sheet.col_count}"
            )
        return box

    def locate(self, spreadsheet: Spreadsheet, text: str) -> tuple[Sheet, Box]:
        sheet, rect = self.resolve(spreadsheet, text)
        return sheet, self.box(sheet, rect)

    @staticmethod
    def check_protection(file: DriveFile, sheet: Sheet, box: Box, identity: str) -> None:
        """Refuse writes into protected ranges the caller may not edit."""
        for protected in sheet.protected_ranges:
            if protected.get("warningOnly") or can_edit_protected(protected, file.owner, identity):
                continue
            if ranges_overlap(protected.get("range") or {}, box):
                raise sheets_permission_denied(_PROTECTED_MESSAGE)

    # --- spreadsheets ---

    def create(self, call: Call) -> Answer:
        """``POST /v4/spreadsheets``."""
        if self.settings.service_account_no_storage:
            raise sheets_permission_denied()
        body = call.json_body()
        props = dict(body.get("properties") or {})
        title = str(props.pop("title", "") or "Untitled spreadsheet")
        spreadsheet = new_spreadsheet(locale=str(props.get("locale") or "en_US"))
        spreadsheet.properties.update(props)
        if body.get("sheets"):
            spreadsheet.sheets = _sheets_from_body(body["sheets"])
        now = self.store.now()
        file = DriveFile(self.store.new_id(), title, SPREADSHEET_MIME, now, now,
                         permissions=[user_permission(call.identity, "owner")],
                         spreadsheet=spreadsheet)
        self.store.add(file)
        return 200, self.resource(file, call.identity, False, [])

    def get(self, call: Call, spreadsheet_id: str) -> Answer:
        """``GET /v4/spreadsheets/{id}`` honouring includeGridData, ranges and fields."""
        file = self.open(call, spreadsheet_id)
        resource = self.resource(file, call.identity, call.flag("includeGridData"),
                                 call.params("ranges"))
        fields = call.param("fields")
        if fields:
            try:
                resource = apply_fields(resource, parse_fields(fields))
            except ValueError as exc:
                raise sheets_invalid("Request contains an invalid argument.") from exc
        return 200, resource

    def resource(self, file: DriveFile, identity: str, grid: bool, ranges: list[str]) -> JSON:
        """The ``Spreadsheet`` resource."""
        spreadsheet = file.spreadsheet
        assert spreadsheet is not None
        selected: dict[int, list[Box]] = {}
        for text in ranges:
            sheet, box = self.locate(spreadsheet, text)
            selected.setdefault(sheet.sheet_id, []).append(box)
        reader = SheetReader(spreadsheet)
        sheets = []
        for sheet in spreadsheet.sheets:
            if ranges and sheet.sheet_id not in selected:
                continue
            boxes = selected.get(sheet.sheet_id) or [Box(0, 0, sheet.row_count - 1,
                                                         sheet.col_count - 1)]
            sheets.append(self._sheet_resource(file, sheet, identity,
                                               [reader.grid_data(sheet, b) for b in boxes]
                                               if grid else None))
        properties: JSON = {"title": file.name, **copy.deepcopy(spreadsheet.properties)}
        properties.setdefault("defaultFormat", default_format())
        properties.setdefault("spreadsheetTheme", default_theme())
        return {"spreadsheetId": file.id, "properties": properties, "sheets": sheets,
                "spreadsheetUrl": spreadsheet_url(file.id)}

    @staticmethod
    def _sheet_resource(file: DriveFile, sheet: Sheet, identity: str,
                        data: list[JSON] | None) -> JSON:
        resource: JSON = {"properties": clean_sheet_properties(sheet.properties)}
        if data is not None:
            resource["data"] = data
        if sheet.merges:
            resource["merges"] = copy.deepcopy(sheet.merges)
        if sheet.conditional_formats:
            resource["conditionalFormats"] = copy.deepcopy(sheet.conditional_formats)
        if sheet.protected_ranges:
            resource["protectedRanges"] = [render_protected_range(p, file.owner, identity)
                                           for p in sheet.protected_ranges]
        if sheet.extras.get("basicFilter"):
            resource["basicFilter"] = copy.deepcopy(sheet.extras["basicFilter"])
        return resource

    def batch_update(self, call: Call, spreadsheet_id: str) -> Answer:
        """``POST /v4/spreadsheets/{id}:batchUpdate`` (all or nothing)."""
        file = self.open(call, spreadsheet_id, write=True)
        body = call.json_body()
        batch = Batch(file, call.identity)
        replies = batch.run(body.get("requests"))
        batch.commit()
        self.store.touch(file, call.identity)
        response: JSON = {"spreadsheetId": file.id, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            response["updatedSpreadsheet"] = self.resource(
                file, call.identity, bool(body.get("responseIncludeGridData")),
                list(body.get("responseRanges") or []))
        return 200, response

    def copy_to(self, call: Call, spreadsheet_id: str, sheet_id: str) -> Answer:
        """``POST /v4/spreadsheets/{id}/sheets/{sheetId}:copyTo``."""
        file = self.open(call, spreadsheet_id)
        source = file.content.sheet_by_id(int(sheet_id))
        if source is None:
            raise sheets_not_found()
        target = self.open(call, str(call.json_body().get("destinationSpreadsheetId")), True)
        spreadsheet = target.spreadsheet
        assert spreadsheet is not None
        title, number = f"Copy of {source.title}", 2
        while spreadsheet.sheet_by_title(title) is not None:
            title, number = f"Copy {number} of {source.title}", number + 1
        taken = {s.sheet_id for s in spreadsheet.sheets}
        clone = clone_sheet(source, random_id(taken), title, taken)
        spreadsheet.sheets.append(clone)
        spreadsheet.reindex()
        self.store.touch(target, call.identity)
        return 200, clean_sheet_properties(clone.properties)

    # --- values: reads ---

    def values_get(self, call: Call, spreadsheet_id: str, range_text: str) -> Answer:
        """``GET .../values/{range}``."""
        file = self.open(call, spreadsheet_id)
        options = _render_options(call)
        return 200, self._value_range(file.content, range_text, options)

    def values_batch_get(self, call: Call, spreadsheet_id: str) -> Answer:
        """``GET .../values:batchGet?ranges=...``."""
        file = self.open(call, spreadsheet_id)
        options = _render_options(call)
        response: JSON = {"spreadsheetId": file.id}
        ranges = call.params("ranges")
        if ranges:
            response["valueRanges"] = [
                self._value_range(file.content, text, options)
                for text in ranges
            ]
        return 200, response

    def _value_range(self, spreadsheet: Spreadsheet, text: str,
                     options: tuple[str, str, str]) -> JSON:
        sheet, box = self.locate(spreadsheet, text)
        option, date_option, major = options
        values = SheetReader(spreadsheet).read(sheet, box, option, date_option, major)
        result: JSON = {"range": format_range(sheet.title, box), "majorDimension": major}
        if values:
            result["values"] = values
        return result

    # --- values: writes ---

    def plan(self, file: DriveFile, call: Call, sheet: Sheet, rect: Rect, values: Any,
             major: str | None, option: str, field: str, check_start: bool = True) -> _Write:
        """Validate a write of ``values`` into ``rect`` and parse every value."""
        if check_start:
            fallback = self.box(sheet, rect)
        else:
            fallback = Box(rect.r0, rect.c0, rect.r0, rect.c0)
        if not isinstance(values, list):
            raise invalid_list_value(field, values)
        for index, row in enumerate(values):
            if not isinstance(row, list):
                raise invalid_list_value(f"{field}[{index}]", row)
        matrix = _transpose(values) if major == "COLUMNS" else values
        self._check_extent(sheet, rect, matrix)
        spec = locale_spec(file.content.locale)
        entries = []
        for i, row in enumerate(matrix):
            for j, raw in enumerate(row):
                try:
                    entered = parse_input(raw, _option_for(sheet, rect.r0 + i, rect.c0 + j,
                                                           option), spec)
                except ValueError as exc:
                    raise sheets_invalid(f"Invalid values[{i}][{j}]: {raw!r}") from exc
                if entered is not None:
                    entries.append((rect.r0 + i, rect.c0 + j, entered))
        write = _Write(sheet, rect.r0, rect.c0, entries, fallback)
        if entries:
            self.check_protection(file, sheet, write.box, call.identity)
        return write

    @staticmethod
    def _check_extent(sheet: Sheet, rect: Rect, matrix: list[list]) -> None:
        if rect.anchor:
            return
        shown = format_range(sheet.title, Box(rect.r0, rect.c0,
                                              rect.r1 if rect.r1 is not None else rect.r0,
                                              rect.c1 if rect.c1 is not None else rect.c0))
        if rect.r1 is not None and len(matrix) > rect.r1 - rect.r0 + 1:
            raise sheets_invalid(f"Requested writing within range [{shown}], but tried writing "
                                 f"to row [{rect.r1 + 2}]")
        width = max((len(row) for row in matrix), default=0)
        if rect.c1 is not None and width > rect.c1 - rect.c0 + 1:
            raise sheets_invalid(f"Requested writing within range [{shown}], but tried writing "
                                 f"to column [{column_letters(rect.c1 + 1)}]")

    def values_update(self, call: Call, spreadsheet_id: str, range_text: str) -> Answer:
        """``PUT .../values/{range}?valueInputOption=...``."""
        file = self.open(call, spreadsheet_id, write=True)
        option = _input_option(call.param("valueInputOption"), "value_input_option")
        body = call.json_body()
        sheet, rect = self.resolve(file.content, range_text)
        write = self.plan(file, call, sheet, rect, _values(body), body.get("majorDimension"),
                          option, "data.values")
        write.apply()
        self.store.touch(file, call.identity)
        response = write.summary(file.id)
        if call.flag("includeValuesInResponse"):
            response["updatedData"] = self._updated_data(file, write, call.query)
        return 200, response

    def _updated_data(self, file: DriveFile, write: _Write, query: dict[str, list[str]]) -> JSON:
        options = _render_options(Call("", {
            "valueRenderOption": query.get("responseValueRenderOption", []),
            "dateTimeRenderOption": query.get("responseDateTimeRenderOption", []),
        }, None))
        text = format_range(write.sheet.title, write.box)
        return self._value_range(file.content, text, options)

    def values_batch_update(self, call: Call, spreadsheet_id: str) -> Answer:
        """``POST .../values:batchUpdate`` (validated completely before anything is written)."""
        file = self.open(call, spreadsheet_id, write=True)
        body = call.json_body()
        option = _input_option(body.get("valueInputOption"), "value_input_option")
        writes = []
        for index, item in enumerate(body.get("data") or []):
            item = item or {}
            sheet, rect = self.resolve(file.content, str(item.get("range") or ""))
            writes.append(self.plan(file, call, sheet, rect, _values(item),
                                    item.get("majorDimension"), option,
                                    f"data[{index}].values"))
        for write in writes:
            write.apply()
        self.store.touch(file, call.identity)
        response: JSON = {"spreadsheetId": file.id}
        if writes:
            summaries = [w.summary(file.id) for w in writes]
            response.update(
                totalUpdatedRows=sum(s.get("updatedRows", 0) for s in summaries),
                totalUpdatedColumns=sum(s.get("updatedColumns", 0) for s in summaries),
                totalUpdatedCells=sum(s.get("updatedCells", 0) for s in summaries),
                totalUpdatedSheets=len({w.sheet.sheet_id for w in writes if w.entries}),
                responses=summaries,
            )
        return 200, response

    def values_clear(self, call: Call, spreadsheet_id: str, range_text: str) -> Answer:
        """``POST .../values/{range}:clear``."""
        file = self.open(call, spreadsheet_id, write=True)
        cleared = self._clear(file, call, range_text)
        self.store.touch(file, call.identity)
        return 200, {"spreadsheetId": file.id, "clearedRange": cleared}

    def values_batch_clear(self, call: Call, spreadsheet_id: str) -> Answer:
        """``POST .../values:batchClear``."""
        file = self.open(call, spreadsheet_id, write=True)
        ranges = [str(r) for r in call.json_body().get("ranges") or []]
        for text in ranges:  # validate all first
            sheet, box = self.locate(file.content, text)
            self.check_protection(file, sheet, box, call.identity)
        cleared = [self._clear(file, call, text) for text in ranges]
        self.store.touch(file, call.identity)
        return 200, {"spreadsheetId": file.id, "clearedRanges": cleared}

    def _clear(self, file: DriveFile, call: Call, text: str) -> str:
        sheet, box = self.locate(file.content, text)
        self.check_protection(file, sheet, box, call.identity)
        clear_values(sheet, box)
        return format_range(sheet.title, box)

    def values_append(self, call: Call, spreadsheet_id: str, range_text: str) -> Answer:
        """``POST .../values/{range}:append``: write below the table found in the range."""
        file = self.open(call, spreadsheet_id, write=True)
        option = _input_option(call.param("valueInputOption"), "value_input_option")
        insert = call.param("insertDataOption") or "OVERWRITE"
        if insert not in ("OVERWRITE", "INSERT_ROWS"):
            raise _enum_error("insert_data_option", "InsertDataOption", insert)
        body = call.json_body()
        sheet, rect = self.resolve(file.content, range_text)
        box = self.box(sheet, rect)
        table = _find_table(sheet, box)
        top = table.r1 + 1 if table else box.r0
        left = table.c0 if table else box.c0
        values = _values(body)
        target = Rect(top, left, None, None, anchor=True)
        write = self.plan(file, call, sheet, target, values, body.get("majorDimension"), option,
                          "data.values", check_start=False)
        if insert == "INSERT_ROWS" and write.entries:
            insert_lines(sheet, "ROWS", top, write.box.rows, True)
        write.apply()
        self.store.touch(file, call.identity)
        response: JSON = {"spreadsheetId": file.id}
        if table:
            response["tableRange"] = format_range(sheet.title, table)
        response["updates"] = write.summary(file.id)
        return 200, response


def _sheets_from_body(specs: list[Any]) -> list[Sheet]:
    sheets: list[Sheet] = []
    for index, spec in enumerate(specs):
        props = dict((spec or {}).get("properties") or {})
        grid = {"rowCount": 1000, "columnCount": 26, **(props.pop("gridProperties", None) or {})}
        taken = {s.sheet_id for s in sheets}
        sheet_id = props.pop("sheetId", None)
        if sheet_id is None:
            sheet_id = 0 if index == 0 else random_id(taken)
        title = props.pop("title", None) or f"Sheet{index + 1}"
        sheet = new_sheet(int(sheet_id), str(title), index)
        sheet.properties["gridProperties"] = grid
        props.pop("index", None)
        sheet.properties.update(props)
        sheets.append(sheet)
    return sheets


def _values(body: JSON) -> Any:
    """The ``values`` of a write; JSON null (as gspread may send) means nothing to write."""
    values = body.get("values")
    return [] if values is None else values


def _transpose(values: list[list]) -> list[list]:
    width = max((len(row) for row in values), default=0)
    return [[row[i] if i < len(row) else None for row in values] for i in range(width)]


def _find_table(sheet: Sheet, box: Box) -> Box | None:
    """Google's "logical table" for append: the first used row inside the range, the used rows
    right below it, and the columns those rows use."""
    keys = [k for k, cell in sheet.cells.items() if cell.get("userEnteredValue")]
    used_rows = {r for r, c in keys if box.c0 <= c <= box.c1}
    start = min((r for r in used_rows if box.r0 <= r <= box.r1), default=None)
    if start is None:
        return None
    end = start
    while end + 1 in used_rows:
        end += 1
    columns = [c for r, c in keys if start <= r <= end]
    return Box(start, min(columns), end, max(columns))


def _enum_error(field: str, type_name: str, value: Any) -> Exception:
    message = (f"Invalid value at '{field}' (type.googleapis.com/google.apps.sheets.v4."
               f"{type_name}), \"{value}\"")
    return sheets_field_violation(message, field)


def _input_option(value: Any, field: str) -> str:
    if not value:
        raise sheets_invalid("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
    if value not in ("RAW", "USER_ENTERED"):
        raise _enum_error(field, "ValueInputOption", value)
    return str(value)


def _render_options(call: Call) -> tuple[str, str, str]:
    """valueRenderOption, dateTimeRenderOption and majorDimension of a read."""
    option = call.param("valueRenderOption") or "FORMATTED_VALUE"
    date_option = call.param("dateTimeRenderOption") or "SERIAL_NUMBER"
    major = call.param("majorDimension") or "ROWS"
    if option not in VALUE_RENDER_OPTIONS:
        raise _enum_error("value_render_option", "ValueRenderOption", option)
    if date_option not in DATE_RENDER_OPTIONS:
        raise _enum_error("date_time_render_option", "DateTimeRenderOption", date_option)
    if major not in ("ROWS", "COLUMNS"):
        raise _enum_error("major_dimension", "Dimension", major)
    return option, date_option, major


def _option_for(sheet: Sheet, row: int, col: int, option: str) -> str:
    """A cell formatted as plain text (number format TEXT) keeps typed input verbatim, as
    Sheets does: `=IMPORTXML(...)` typed there is text, not a formula."""
    if option != "USER_ENTERED":
        return option
    number_format = ((sheet.cells.get((row, col)) or {}).get("userEnteredFormat") or {}).get(
        "numberFormat") or {}
    return "RAW" if number_format.get("type") == "TEXT" else option
