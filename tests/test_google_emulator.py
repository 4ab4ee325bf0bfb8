"""The Google API emulator answers like Google: checked against recorded real traffic, then the
behaviours the project relies on (quotas, faults, permissions, modifiedTime, persistence)."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests
from google_fixtures import gspread_client
from gspread.exceptions import APIError

from flows.testing.google_emulator import GoogleEmulator, run_standalone

RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "google-api-recordings"
RECORDING_NAMES = [
    "ClientTest.test_access_non_existing_spreadsheet",
    "ClientTest.test_copy",
    "ClientTest.test_open_by_key_has_metadata",
    "SpreadsheetTest.test_get_lastUpdateTime",
    "SpreadsheetTest.test_values_batch_get",
    "WorksheetTest.test_add_validation",
    "WorksheetTest.test_batch_get",
    "WorksheetTest.test_get_all_records_value_render_options",
    "WorksheetTest.test_get_all_values_date_time_render_options",
    "WorksheetTest.test_get_all_values_title_is_a1_notation",
]
SHEETS = "https://sheets.googleapis.com/v4/spreadsheets"
DRIVE = "https://www.googleapis.com/drive/v3/files"
RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ID_KEYS = ("id", "spreadsheetId", "sheetId")
TIME_KEYS = ("createdTime", "modifiedTime")


def call(client: gspread.Client, method: str, url: str, **kwargs: Any) -> requests.Response:
    """A raw request through gspread's HTTP client; API errors give their response back."""
    try:
        return client.http_client.request(method, url, **kwargs)
    except APIError as error:
        return error.response


# --- replaying the recordings --------------------------------------------------------------


def _learn_ids(expected: Any, actual: Any, ids: dict[str, str]) -> None:
    """Pair recorded ids with the emulator's by walking both bodies side by side."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() & actual.keys():
            if key in ID_KEYS and not isinstance(expected[key], dict | list):
                if str(expected[key]) != str(actual[key]):
                    ids.setdefault(str(expected[key]), str(actual[key]))
            else:
                _learn_ids(expected[key], actual[key], ids)
    elif isinstance(expected, list) and isinstance(actual, list):
        for pair in zip(expected, actual, strict=False):
            _learn_ids(*pair, ids)


def _substitute(text: str, mapping: dict[str, str]) -> str:
    for old, new in sorted(mapping.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    return text


def _times(body: Any, found: list[tuple[str, str, str]], file_id: str = "") -> Any:
    """Replace times by a marker, collecting (file id, key, value) to compare their order."""
    if isinstance(body, dict):
        owner = str(body.get("id", file_id))
        result = {}
        for key, value in body.items():
            if key in TIME_KEYS:
                found.append((owner, key, value))
                result[key] = "<time>"
            else:
                result[key] = _times(value, found, owner)
        return result
    if isinstance(body, list):
        return [_times(item, found, file_id) for item in body]
    return body


def _same_order(recorded: list[tuple[str, str, str]], emulated: list[tuple[str, str, str]]) -> None:
    """modifiedTime moves in the emulator exactly when it moved in the recording."""
    assert len(recorded) == len(emulated)
    last_recorded: dict[tuple[str, str], str] = {}
    last_emulated: dict[tuple[str, str], str] = {}
    for (file_id, key, old), (_, _, new) in zip(recorded, emulated, strict=True):
        assert RFC3339_MS.fullmatch(new), new
        slot = (file_id, key)
        if slot in last_recorded:
            assert (old > last_recorded[slot]) == (new > last_emulated[slot]), (slot, old, new)
            assert (old == last_recorded[slot]) == (new == last_emulated[slot]), (slot, old, new)
        last_recorded[slot], last_emulated[slot] = old, new


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_answers_like_the_recording(name: str) -> None:
    path = RECORDINGS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"recordings not available at {RECORDINGS}")
    interactions = json.loads(path.read_text(encoding="utf-8"))["interactions"]
    with GoogleEmulator() as emulator:
        client = gspread_client(emulator)
        ids: dict[str, str] = {}
        recorded_times: list[tuple[str, str, str]] = []
        emulated_times: list[tuple[str, str, str]] = []
        for number, interaction in enumerate(interactions):
            request, recorded = interaction["request"], interaction["response"]
            body = request.get("body")
            body = _substitute(body, ids).encode() if body else None
            headers = {"Content-Type": "application/json"} if body else None
            response = call(client, request["method"].lower(), _substitute(request["uri"], ids),
                            data=body, headers=headers)
            text = recorded["body"]["string"]
            expected = json.loads(text) if text else None
            actual = response.json() if response.content else None
            _learn_ids(expected, actual, ids)
            reverse = {new: old for old, new in ids.items()}
            actual = json.loads(_substitute(json.dumps(actual, ensure_ascii=False), reverse))
            where = f"{name} #{number} {request['method']} {request['uri']}"
            assert response.status_code == recorded["status"]["code"], where
            assert _times(actual, emulated_times) == _times(expected, recorded_times), where
        _same_order(recorded_times, emulated_times)


# --- values: ranges, rendering, input ----------------------------------------------------------


def test_ragged_rows_quoting_and_empty_ranges(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    sid = google_emulator.create_spreadsheet("Báo cáo", ["Phụ lục 1", "It's", "D3"])
    google_emulator.set_values(sid, "'Phụ lục 1'!A1", [["a", "", "c", ""], ["", ""], [], ["x"]])
    got = client.http_client.values_get(sid, "'Phụ lục 1'!A1:D20")
    assert got == {"range": "'Phụ lục 1'!A1:D20", "majorDimension": "ROWS",
                   "values": [["a", "", "c"], [], [], ["x"]]}
    assert client.http_client.values_get(sid, "'It''s'") == {
        "range": "'It''s'!A1:Z1000", "majorDimension": "ROWS"}
    assert client.http_client.values_get(sid, "A1:B2")["range"] == "'Phụ lục 1'!A1:B2"
    assert client.http_client.values_get(sid, "'D3'!2:3")["range"] == "'D3'!A2:Z3"
    assert client.http_client.values_get(sid, "'D3'!B:C")["range"] == "'D3'!B1:C1000"
    assert client.http_client.values_get(sid, "'D3'!B5:C")["range"] == "'D3'!B5:C1000"
    columns = client.http_client.values_get(sid, "'Phụ lục 1'!A1:C4", {"majorDimension": "COLUMNS"})
    assert columns["values"] == [["a", "", "", "x"], [], ["c"]]
    bad = call(client, "get", f"{SHEETS}/{sid}/values/Nope%21A1")
    assert bad.status_code == 400
    assert bad.json() == {"error": {"code": 400, "message": "Unable to parse range: Nope!A1",
                                    "status": "INVALID_ARGUMENT"}}
    outside = call(client, "get", f"{SHEETS}/{sid}/values/D3%21A1001")
    assert outside.json()["error"]["message"] == (
        "Range ('D3'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26")


def test_raw_formulas_stay_text_and_user_entered_ones_evaluate(
    google_emulator: GoogleEmulator,
) -> None:
    sheet = gspread_client(google_emulator).create("Formulas").sheet1
    importxml = '=IMPORTXML("https://example.com", "//a")'
    sheet.update([[importxml, "=1+1", "'007"]], "A1")  # gspread writes RAW by default
    assert sheet.get("A1:C1", value_render_option="FORMULA") == [[importxml, "=1+1", "'007"]]
    assert google_emulator.cell(sheet.spreadsheet_id, "Sheet1", 0, 0) == {
        "userEnteredValue": {"stringValue": importxml}}
    sheet.update([[importxml, "=1+1", "'007"]], "A1", value_input_option="USER_ENTERED")
    assert sheet.get("A1:C1") == [["#NAME?", "2", "007"]]
    assert sheet.get("A1:C1", value_render_option="FORMULA") == [[importxml, "=1+1", "007"]]


def test_formula_subset(google_emulator: GoogleEmulator) -> None:
    sid = google_emulator.create_spreadsheet("Calc", ["Data", "Sum"])
    google_emulator.set_values(sid, "Data!A1", [[1, 2], [3, "x"], [5]])
    formulas = [["=SUM(A1:A3)", "=A1+A2*2^2", "=A1/0", "=AVERAGE(A:A)", '=IF(A3>4,"big","no")',
                 "=Data!B1&\"-\"&B1", "=UNKNOWN(1)", "=J1", "=MAX(A1:B3)-MIN(A1:A3)",
                 "=ROUND(2/3,2)", "=COUNTA(A1:B3)", "=B2+1", "=(1"]]
    google_emulator.set_values(sid, "Data!C1", formulas, "USER_ENTERED")
    assert google_emulator.get_grid(sid, "Data")[0][2:] == [
        9, 13, "#DIV/0!", 3, "big", "2-2", "#NAME?", "#REF!", 4, 0.67, 5, "#VALUE!", "#ERROR!"]
    google_emulator.set_values(sid, "Sum!A1", [["=SUM(Data!A1:A3)*10"]], "USER_ENTERED")
    assert google_emulator.get_grid(sid, "Sum") == [[90]]


def test_user_entered_values_follow_the_locale(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    us = google_emulator.create_spreadsheet("US")
    entered = [["12", "1.5", "1,234.5", "true", "2020-01-02", "1/2/2020", "50%", "1,5"]]
    client.http_client.values_update(us, "A1", {"valueInputOption": "USER_ENTERED"},
                                     {"values": entered})
    raw = client.http_client.values_get(us, "A1:H1", {"valueRenderOption": "UNFORMATTED_VALUE"})
    assert raw["values"] == [[12, 1.5, 1234.5, True, 43832, 43832, 0.5, "1,5"]]
    shown = client.http_client.values_get(us, "A1:H1")["values"]
    assert shown == [["12", "1.5", "1234.5", "TRUE", "2020-01-02", "1/2/2020", "50%", "1,5"]]
    strings = client.http_client.values_get(us, "E1:F1", {
        "valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING"})
    assert strings["values"] == [["2020-01-02", "1/2/2020"]]

    vn = google_emulator.create_spreadsheet("VN", locale="vi_VN")
    client.http_client.values_update(vn, "A1", {"valueInputOption": "USER_ENTERED"},
                                     {"values": [["1,5", "1.234,5", "2/1/2020", 1234.5, "1.5"]]})
    raw = client.http_client.values_get(vn, "A1:E1", {"valueRenderOption": "UNFORMATTED_VALUE"})
    assert raw["values"] == [[1.5, 1234.5, 43832, 1234.5, "1.5"]]
    shown = client.http_client.values_get(vn, "A1:E1")["values"]
    assert shown == [["1,5", "1.234,5", "2/1/2020", "1.234,5", "1.5"]]


def test_values_batch_update_with_nulls_append_and_clear(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    sheet = client.create("Writes").sheet1
    result = sheet.batch_update([{"range": "A1:B2", "values": [["a", "b"], ["c", None]]},
                                 {"range": "D1", "values": [[1, 2, 3]]}])
    assert result["totalUpdatedCells"] == 6
    assert [r["updatedRange"] for r in result["responses"]] == ["Sheet1!A1:B2", "Sheet1!D1:F1"]
    appended = sheet.append_rows([["e", "f"]])
    assert appended["tableRange"] == "Sheet1!A1:F2"
    assert appended["updates"]["updatedRange"] == "Sheet1!A3:B3"
    assert sheet.get("A1:F3") == [["a", "b", "", "1", "2", "3"], ["c"], ["e", "f"]]
    too_big = call(client, "put", f"{SHEETS}/{sheet.spreadsheet_id}/values/A1%3AB1",
                   params={"valueInputOption": "RAW"}, json={"values": [["1", "2", "3"]]})
    assert too_big.json()["error"]["message"] == (
        "Requested writing within range [Sheet1!A1:B1], but tried writing to column [C]")
    sheet.batch_clear(["A1:A3", "D1"])
    assert sheet.get("A1:F3") == [["", "b", "", "", "2", "3"], [], ["", "f"]]


# --- batchUpdate -------------------------------------------------------------------------------


def test_batch_update_requests(google_emulator: GoogleEmulator) -> None:
    spreadsheet = gspread_client(google_emulator).create("Layout")
    sheet = spreadsheet.add_worksheet("Phụ lục 2", rows=20, cols=5)
    sheet.update([["h1", "h2"], ["a", "b"], ["c", "d"]], "A1")
    sheet.freeze(rows=1, cols=1)
    sheet.format("A1:B1", {"textFormat": {"bold": True}})
    sheet.merge_cells("A2:B2")
    sheet.hide_rows(2, 3)
    sheet.insert_note("B1", "remember")
    sheet.add_validation("C2:C3", gspread.utils.ValidationConditionType.one_of_list, ["x", "y"])
    spreadsheet.batch_update({"requests": [
        {"updateDimensionProperties": {
            "range": {"sheetId": sheet.id, "dimension": "COLUMNS", "startIndex": 0, "endIndex": 1},
            "properties": {"pixelSize": 250}, "fields": "pixelSize"}},
        {"addConditionalFormatRule": {"index": 0, "rule": {
            "ranges": [{"sheetId": sheet.id, "startRowIndex": 1, "endRowIndex": 3}],
            "booleanRule": {"condition": {"type": "NOT_BLANK"}, "format": {}}}}},
    ]})
    sid = spreadsheet.id
    meta = google_emulator.metadata(sid)["sheets"][1]
    assert meta["properties"]["gridProperties"] == {
        "rowCount": 20, "columnCount": 5, "frozenRowCount": 1, "frozenColumnCount": 1}
    assert meta["merges"] == [{"sheetId": sheet.id, "startRowIndex": 1, "endRowIndex": 2,
                               "startColumnIndex": 0, "endColumnIndex": 2}]
    assert len(meta["conditionalFormats"]) == 1
    assert google_emulator.cell(sid, "Phụ lục 2", 0, 0)["userEnteredFormat"] == {
        "textFormat": {"bold": True}}
    assert google_emulator.cell(sid, "Phụ lục 2", 0, 1)["note"] == "remember"
    assert google_emulator.cell(sid, "Phụ lục 2", 2, 2)["dataValidation"]["condition"] == {
        "type": "ONE_OF_LIST", "values": [{"userEnteredValue": "x"}, {"userEnteredValue": "y"}]}
    assert sheet.get("A2:B2") == [["a"]]  # merging keeps the top-left value only
    grid = google_emulator.metadata(sid, include_grid_data=True)["sheets"][1]["data"][0]
    assert grid["rowMetadata"][2] == {"pixelSize": 21, "hiddenByUser": True}
    assert grid["columnMetadata"][0] == {"pixelSize": 250}
    sheet.delete_rows(2)
    assert sheet.get("A1:B3") == [["h1", "h2"], ["c", "d"]]
    assert "merges" not in google_emulator.metadata(sid)["sheets"][1]
    spreadsheet.batch_update({"requests": [{"deleteConditionalFormatRule": {
        "sheetId": sheet.id, "index": 0}}]})
    assert "conditionalFormats" not in google_emulator.metadata(sid)["sheets"][1]


def test_batch_update_is_all_or_nothing(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    sid = google_emulator.create_spreadsheet("Atomic")
    body = {"requests": [{"addSheet": {"properties": {"title": "New"}}},
                         {"addChart": {"chart": {}}}]}
    response = call(client, "post", f"{SHEETS}/{sid}:batchUpdate", json=body)
    message = ('Invalid JSON payload received. Unknown name "addChart" at \'requests[1]\': '
               "Cannot find field.")
    assert response.status_code == 400
    assert response.json() == {"error": {
        "code": 400, "message": message, "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": [{"field": "requests[1]", "description": message}]}]}}
    duplicate = call(client, "post", f"{SHEETS}/{sid}:batchUpdate",
                     json={"requests": [{"addSheet": {"properties": {"title": "sheet1"}}}]})
    assert duplicate.json()["error"]["message"] == (
        'Invalid requests[0].addSheet: A sheet with the name "sheet1" already exists. '
        "Please enter another name.")
    assert [s["properties"]["title"] for s in google_emulator.metadata(sid)["sheets"]] == ["Sheet1"]


def test_insert_rows_shifts_values_and_protected_ranges(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    spreadsheet = client.create("Communes")
    sheet = spreadsheet.sheet1
    sheet.update([["Xã A", 1], ["Xã B", 2], ["Tổng", "=SUM(B1:B2)"]], "A1",
                 value_input_option="USER_ENTERED")
    sheet.add_protected_range("A3:B3", ["owner@example.com"], description="total")
    sheet.insert_rows([["Xã C", 3]], row=3, inherit_from_before=True)
    assert sheet.get_all_values() == [["Xã A", "1"], ["Xã B", "2"], ["Xã C", "3"], ["Tổng", "3"]]
    assert google_emulator.metadata(spreadsheet.id)["sheets"][0]["properties"][
        "gridProperties"]["rowCount"] == 1001
    protected = google_emulator.metadata(spreadsheet.id)["sheets"][0]["protectedRanges"][0]
    assert protected["range"] == {"sheetId": 0, "startRowIndex": 3, "endRowIndex": 4,
                                  "startColumnIndex": 0, "endColumnIndex": 2}
    assert protected["requestingUserCanEdit"] is True


# --- Drive ---------------------------------------------------------------------------------------


def test_files_list_modified_since_and_pages(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    folder = google_emulator.create_folder("Shared drive folder")
    ids = [google_emulator.create_spreadsheet(f"Xã {n}", parents=[folder]) for n in range(5)]
    outside = google_emulator.create_spreadsheet("Elsewhere")
    cutoff = max(google_emulator.file(i)["modifiedTime"] for i in [*ids, outside])
    google_emulator.set_values(ids[1], "A1", [["changed"]])
    google_emulator.set_values(ids[3], "A1", [["changed"]])
    google_emulator.set_values(outside, "A1", [["changed"]])
    google_emulator.trash_file(ids[3])
    query = f"modifiedTime > '{cutoff}' and '{folder}' in parents and trashed = false"
    params = {"q": query, "fields": "nextPageToken,files(id,name,modifiedTime)",
              "pageSize": 1000}
    found = call(client, "get", DRIVE, params=params).json()
    assert found == {"files": [{"id": ids[1], "name": "Xã 1",
                                "modifiedTime": google_emulator.file(ids[1])["modifiedTime"]}]}
    pages, token = [], None
    while True:
        page_params: dict[str, Any] = {"q": f"'{folder}' in parents and name contains 'xã'",
                                       "pageSize": 2, "orderBy": "name desc"}
        if token:
            page_params["pageToken"] = token
        page = call(client, "get", DRIVE, params=page_params).json()
        pages.append([f["name"] for f in page["files"]])
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == [["Xã 4", "Xã 3"], ["Xã 2", "Xã 1"], ["Xã 0"]]
    listed = client.list_spreadsheet_files(title="Xã 2", folder_id=folder)
    assert [f["id"] for f in listed] == [ids[2]]
    bad = call(client, "get", DRIVE, params={"q": "name = "})
    assert bad.status_code == 400 and bad.json()["error"]["errors"][0]["location"] == "q"


def test_copy_keeps_content_but_not_permissions(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    folder = google_emulator.create_folder("Templates")
    source = client.create("Mẫu báo cáo", folder_id=folder)
    source.share("bob@example.com", perm_type="user", role="writer", notify=False)
    sheet = source.sheet1
    sheet.update([["Tên", "Số"], ["=IMPORTXML(1)", 2]], "A1")
    sheet.add_validation("B2", gspread.utils.ValidationConditionType.number_greater, [0])
    sheet.add_protected_range("A1:B1", ["bob@example.com"])
    google_emulator.reset_counts()
    copied = client.copy(source.id)
    assert copied.title == "Copy of Mẫu báo cáo"
    assert copied.id != source.id
    assert google_emulator.counts["drive.files.copy"] == 1
    assert google_emulator.counts["drive.comments.list"] == 1
    assert copied.sheet1.get_all_values() == [["Tên", "Số"], ["=IMPORTXML(1)", "2"]]
    assert "dataValidation" in google_emulator.cell(copied.id, "Sheet1", 1, 1)
    protected = google_emulator.metadata(copied.id)["sheets"][0]["protectedRanges"][0]
    assert protected["editors"] == {"users": ["owner@example.com"]}
    assert protected["protectedRangeId"] == google_emulator.metadata(source.id)["sheets"][0][
        "protectedRanges"][0]["protectedRangeId"]
    assert [p["emailAddress"] for p in copied.list_permissions()] == ["owner@example.com"]
    assert google_emulator.file(copied.id)["parents"] == [folder]


def test_drive_update_sheets_create_copy_to_and_fields(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    body = {"properties": {"title": "Tổng hợp", "locale": "vi_VN"},
            "sheets": [{"properties": {"title": "Data", "gridProperties": {"rowCount": 5}}}]}
    created = call(client, "post", SHEETS, json=body).json()
    sid = created["spreadsheetId"]
    assert created["properties"]["locale"] == "vi_VN"
    assert created["sheets"][0]["properties"] == {"sheetId": 0, "title": "Data", "index": 0,
                                                  "sheetType": "GRID", "gridProperties": {
                                                      "rowCount": 5, "columnCount": 26}}
    masked = call(client, "get", f"{SHEETS}/{sid}",
                  params={"fields": "properties.title,sheets(properties(sheetId,title))"}).json()
    assert masked == {"properties": {"title": "Tổng hợp"},
                      "sheets": [{"properties": {"sheetId": 0, "title": "Data"}}]}
    target = google_emulator.create_spreadsheet("Target")
    copied = call(client, "post", f"{SHEETS}/{sid}/sheets/0:copyTo",
                  json={"destinationSpreadsheetId": target}).json()
    assert copied["title"] == "Copy of Data" and copied["index"] == 1
    renamed = call(client, "patch", f"{DRIVE}/{sid}", json={"name": "Renamed"},
                   params={"fields": "name,modifiedTime"}).json()
    assert renamed == {"name": "Renamed", "modifiedTime": google_emulator.file(sid)["modifiedTime"]}
    assert client.open_by_key(sid).title == "Renamed"
    trashed = call(client, "patch", f"{DRIVE}/{sid}", json={"trashed": True},
                   params={"fields": "trashed"}).json()
    assert trashed == {"trashed": True}
    assert call(client, "get", f"{SHEETS}/{sid}").status_code == 404
    listed = call(client, "get", DRIVE, params={"q": "trashed = true", "fields": "files(id)"})
    assert listed.json() == {"files": [{"id": sid}]}
    spreadsheet = client.open_by_key(target)
    spreadsheet.share("carol@example.com", perm_type="user", role="reader", notify=False)
    permission = next(p for p in spreadsheet.list_permissions() if p["role"] == "reader")
    spreadsheet.remove_permissions("carol@example.com")
    assert all(p["id"] != permission["id"] for p in spreadsheet.list_permissions())
    owner_id = next(p["id"] for p in spreadsheet.list_permissions())
    cannot = call(client, "delete", f"{DRIVE}/{target}/permissions/{owner_id}")
    assert cannot.json()["error"]["errors"][0]["reason"] == "cannotRemoveOwner"
    assert call(client, "get", "https://www.googleapis.com/drive/v2/files").status_code == 404
    assert google_emulator.counts["unknown"] == 1
    assert google_emulator.counts["sheets.create"] == 1
    assert google_emulator.counts["drive.permissions.create"] == 1
    assert google_emulator.counts["drive.permissions.delete"] == 2


def test_storage_quota_of_a_service_account() -> None:
    with GoogleEmulator(service_account_no_storage=True) as emulator:
        client = gspread_client(emulator)
        response = call(client, "post", DRIVE, json={"name": "x", "mimeType":
                                                      "application/vnd.google-apps.spreadsheet"})
        message = "The user's Drive storage quota has been exceeded."
        assert response.status_code == 403
        assert response.json() == {"error": {"code": 403, "message": message, "errors": [
            {"message": message, "domain": "usageLimits", "reason": "storageQuotaExceeded"}]}}
        folder = emulator.create_folder("Shared")
        made = client.create("ok", folder_id=folder)
        assert emulator.file(made.id)["parents"] == [folder]


def test_deleted_or_trashed_file_is_404(google_emulator: GoogleEmulator) -> None:
    client = gspread_client(google_emulator)
    spreadsheet = client.create("Gone")
    sheet = spreadsheet.sheet1
    google_emulator.trash_file(spreadsheet.id)
    with pytest.raises(APIError) as trashed:
        sheet.get_all_values()
    assert trashed.value.code == 404
    google_emulator.trash_file(spreadsheet.id, trashed=False)
    assert sheet.get_all_values() == [[]]
    client.del_spreadsheet(spreadsheet.id)
    with pytest.raises(APIError) as deleted:
        sheet.update([["x"]], "A1")
    assert deleted.value.code == 404
    assert deleted.value.response.json() == {"error": {
        "code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
    drive = call(client, "get", f"{DRIVE}/{spreadsheet.id}")
    message = f"File not found: {spreadsheet.id}."
    assert drive.json() == {"error": {"code": 404, "message": message, "errors": [
        {"message": message, "domain": "global", "reason": "notFound", "location": "fileId",
         "locationType": "parameter"}]}}


def test_permissions_by_token(google_emulator: GoogleEmulator) -> None:
    google_emulator.tokens = {"bob-token": "bob@example.com"}
    owner = gspread_client(google_emulator)
    bob = gspread_client(google_emulator, token="bob-token")
    spreadsheet = owner.create("Private")
    denied = call(bob, "get", f"{SHEETS}/{spreadsheet.id}")
    assert denied.status_code == 403
    assert denied.json() == {"error": {"code": 403, "message": "The caller does not have "
                                       "permission", "status": "PERMISSION_DENIED"}}
    assert call(bob, "get", f"{DRIVE}/{spreadsheet.id}").status_code == 404
    google_emulator.grant(spreadsheet.id, "bob@example.com", "reader")
    as_bob = bob.open_by_key(spreadsheet.id).sheet1
    assert as_bob.get_all_values() == [[]]
    with pytest.raises(APIError) as read_only:
        as_bob.update([["x"]], "A1")
    assert read_only.value.code == 403
    spreadsheet.share("bob@example.com", perm_type="user", role="writer", notify=False)
    as_bob.update([["x"]], "A1")
    assert [p["role"] for p in spreadsheet.list_permissions()] == ["owner", "writer"]
    spreadsheet.sheet1.add_protected_range("B1:B2", [])
    with pytest.raises(APIError) as protected:
        as_bob.update([["y"]], "B2")
    assert protected.value.code == 403
    google_emulator.revoke(spreadsheet.id, "bob@example.com")
    with pytest.raises(APIError) as revoked:
        as_bob.get_all_values()
    assert revoked.value.code == 403


# --- quotas, faults, time ------------------------------------------------------------------------


def test_read_and_write_quotas_with_a_fake_clock(fake_clock) -> None:
    clock = fake_clock  # moved on by its sleeps, without waiting
    with GoogleEmulator(read_quota_per_minute=3, write_quota_per_minute=2, clock=clock) as emu:
        client = gspread_client(emu)
        sid = emu.create_spreadsheet("Quota")
        for _ in range(3):
            client.http_client.values_batch_get(sid, ["A1:B2"])
        with pytest.raises(APIError) as refused:
            client.http_client.values_batch_get(sid, ["A1:B2"])
        assert refused.value.code == 429
        error = refused.value.response.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        assert error["message"] == (
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute "
            "per user' of service 'sheets.googleapis.com' for consumer 'project_number:000'.")
        assert error["details"][0]["metadata"]["quota_limit_value"] == "3"
        assert emu.counts["429"] == 1 and emu.counts["sheets.values.batchGet"] == 4
        clock.sleep(30)
        assert call(client, "get", f"{SHEETS}/{sid}").status_code == 429
        clock.sleep(31)
        assert client.http_client.values_batch_get(sid, ["A1"])["spreadsheetId"] == sid
        for _ in range(2):
            client.http_client.values_update(sid, "A1", {"valueInputOption": "RAW"},
                                             {"values": [[1]]})
        blocked = call(client, "post", f"{SHEETS}/{sid}/values/A1:clear")
        assert blocked.status_code == 429
        assert "'Write requests per minute per user'" in blocked.json()["error"]["message"]
        assert emu.counts["429"] == 3


def test_faults_are_injected_before_any_state_change() -> None:
    with GoogleEmulator(fault_rate=1.0, seed=7) as emulator:
        client = gspread_client(emulator)
        sid = emulator.create_spreadsheet("Faults")
        outcomes = set()
        for _ in range(12):
            try:
                client.http_client.values_append(sid, "A1", {"valueInputOption": "RAW"},
                                                 {"values": [["row"]]})
            except APIError as error:
                outcomes.add(error.code)
            except requests.ConnectionError:
                outcomes.add("drop")
        assert outcomes == {500, 503, "drop"}
        assert emulator.faults_injected == 12 == emulator.counts["sheets.values.append"]
        assert emulator.get_grid(sid, "Sheet1") == []
        emulator.fault_rate = 0.5
        for number in range(6):
            while True:
                try:
                    client.http_client.values_append(sid, "A1", {"valueInputOption": "RAW"},
                                                     {"values": [[number]]})
                    break
                except (APIError, requests.ConnectionError):
                    continue
        assert emulator.get_grid(sid, "Sheet1") == [[n] for n in range(6)]
        assert emulator.faults_injected > 12


def test_latency_is_added_per_request() -> None:
    with GoogleEmulator(latency_s=0.05) as emulator:
        client = gspread_client(emulator)
        sid = emulator.create_spreadsheet("Slow")
        started = time.perf_counter()
        client.http_client.values_batch_get(sid, ["A1"])
        assert time.perf_counter() - started >= 0.05


def test_modified_time_moves_on_writes_only() -> None:
    frozen = 1_700_000_000.0  # every write in the same millisecond
    with GoogleEmulator(wall_clock=lambda: frozen) as emulator:
        client = gspread_client(emulator)
        spreadsheet = client.create("Times")
        sheet = spreadsheet.sheet1

        def modified() -> str:
            return client.get_file_drive_metadata(spreadsheet.id)["modifiedTime"]

        seen = [modified()]
        for write in (lambda: sheet.update([["a"]], "A1"), lambda: sheet.update_title("Renamed"),
                      lambda: sheet.batch_clear(["A1"]), lambda: sheet.append_row(["b"])):
            write()
            seen.append(modified())
        assert seen == sorted(set(seen)) and len(seen) == 5
        assert seen[0] == "2023-11-14T22:13:20.000Z"
        sheet.get_all_values()
        spreadsheet.fetch_sheet_metadata()
        client.http_client.values_batch_get(spreadsheet.id, ["A1"])
        client.list_spreadsheet_files()
        assert modified() == seen[-1]
        assert spreadsheet.get_lastUpdateTime() == seen[-1]


# --- persistence and the standalone server -------------------------------------------------------


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with GoogleEmulator(state_dir=tmp_path) as first:
        client = gspread_client(first)
        spreadsheet = client.create("Kept")
        spreadsheet.sheet1.update([["a", 1]], "A1")
        spreadsheet.sheet1.add_protected_range("A1", [])
        gone = client.create("Deleted before the restart")
        client.del_spreadsheet(gone.id)
        before = first.file(spreadsheet.id)
    with GoogleEmulator(state_dir=tmp_path) as second:
        client = gspread_client(second)
        again = client.open_by_key(spreadsheet.id)
        assert again.sheet1.get_all_values() == [["a", "1"]]
        assert second.file(spreadsheet.id)["modifiedTime"] == before["modifiedTime"]
        assert len(second.metadata(spreadsheet.id)["sheets"][0]["protectedRanges"]) == 1
        assert call(client, "get", f"{DRIVE}/{gone.id}").status_code == 404
        again.sheet1.update([["b"]], "A2")
        assert second.file(spreadsheet.id)["modifiedTime"] > before["modifiedTime"]


def test_run_standalone_prints_its_url_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    server = threading.Thread(target=run_standalone, args=(0, tmp_path),
                              kwargs={"stop_event": stop})
    server.start()
    try:
        url = None
        for _ in range(100):
            found = re.search(r"http://127\.0\.0\.1:\d+", capsys.readouterr().out)
            if found:
                url = found.group(0)
                break
            time.sleep(0.02)
        assert url is not None
        request = urllib.request.Request(
            f"{url}/drive/v3/files", method="POST",
            data=json.dumps({"name": "cli", "mimeType": "application/vnd.google-apps.folder"})
            .encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["name"] == "cli"
    finally:
        stop.set()
        server.join(timeout=5)
    assert not server.is_alive()
    assert len(list(tmp_path.glob("files/*.json"))) == 1
