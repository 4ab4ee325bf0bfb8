"""Layout → Sheets requests, and the flags written back: pure functions, no server."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from helpers import worded

from flows.core.findings import ERROR, INFO, WARNING, rendered_frame
from flows.core.layout import build_layout
from flows.sources.google.render import (
    ERROR_FILL,
    RESULTS_SHEET_ID,
    WARNING_FILL,
    cell_grid,
    colour,
    open_cells,
    protected_boxes,
    sheet_id,
    template_requests,
    unit_requests,
)
from flows.sources.google.snapshots import FlagState
from flows.sources.google.writeback import dashboard_tables, flag_requests, unit_flags


def covered(boxes, row: int, col: int) -> bool:
    return any(r0 <= row and (r1 is None or row < r1) and c0 <= col and (c1 is None or col < c1)
               for r0, r1, c0, c1 in boxes)


def test_protection_covers_everything_but_the_input_cells(config):
    for unit in (None, config.units.units[0]):
        for sheet in build_layout(config, unit).sheets:
            boxes = protected_boxes(sheet)
            inputs = open_cells(sheet)
            for row in range(sheet.last_row + 30):
                for col in range(sheet.last_col + 10):
                    assert covered(boxes, row, col) != ((row, col) in inputs), (sheet.tab, row,
                                                                                col)
            assert len(boxes) < 30  # a handful of rectangles per tab, not one per cell


def test_unit_copies_lock_their_prefilled_name_and_code(config, layout):
    unit = config.units.units[0]
    mine = build_layout(config, unit)
    code = mine.role("unit_code")
    tab = next(s for s in mine.sheets if s.tab == code.tab)
    assert (code.row - 1, code.col - 1) not in open_cells(tab)
    requests = unit_requests(layout, mine, ["staff@x.vn"], [11, 12], unit.code)
    assert requests[:2] == [{"deleteProtectedRange": {"protectedRangeId": 11}},
                            {"deleteProtectedRange": {"protectedRangeId": 12}}]
    written = [r["updateCells"]["rows"][0]["values"][0].get("userEnteredValue")
               for r in requests if "updateCells" in r]
    assert {"stringValue": unit.code} in written and {"stringValue": unit.full_name} in written
    marks = {r["addProtectedRange"]["protectedRange"]["description"]
             for r in requests if "addProtectedRange" in r}
    assert all(mark.endswith(f"|{unit.code}") for mark in marks)


def test_template_cells_carry_formats_and_validation_like_the_xlsx(layout):
    by_type = {}
    for sheet in layout.sheets:
        grid = cell_grid(sheet)
        for spec in sheet.inputs:
            by_type.setdefault(spec.type, grid[(spec.row - 1, spec.col - 1)])
    assert by_type["text"]["userEnteredFormat"]["numberFormat"] == {"type": "TEXT"}
    assert by_type["date"]["dataValidation"]["condition"]["type"] == "DATE_IS_VALID"
    assert by_type["money"]["dataValidation"]["condition"]["type"] == "NUMBER_GREATER_THAN_EQ"
    whole = by_type["integer"]["dataValidation"]["condition"]
    assert whole["type"] == "CUSTOM_FORMULA" and "INT(" in whole["values"][0]["userEnteredValue"]
    choice = by_type["yesno"]["dataValidation"]
    assert choice["condition"]["type"] == "ONE_OF_LIST" and choice["showCustomUi"]
    requests = template_requests(layout, "Asia/Ho_Chi_Minh", ["staff@x.vn"], [0])
    assert requests[0]["updateSpreadsheetProperties"]["properties"] == {
        "locale": "vi_VN", "timeZone": "Asia/Ho_Chi_Minh"}
    added = [r["addSheet"]["properties"] for r in requests if "addSheet" in r]
    assert [p["title"] for p in added] == [s.title for s in layout.sheets] + ["Kết quả kiểm tra"]
    assert {"deleteSheet": {"sheetId": 0}} in requests
    hidden = [r for r in requests if r.get("updateDimensionProperties", {}).get("properties")
              == {"hiddenByUser": True}]
    assert len(hidden) > len(layout.sheets)  # column A of every tab, and the key rows


def finding(rule: str, severity: str, message: str, instruction: str = "", **kw):
    base = dict(unit_code="P01", unit_name="Phường Tứ Hạ", source="P01")
    return worded(rule, severity, message, instruction, **{**base, **kw})


def test_flags_hash_ignores_times_and_highlights_errors_over_warnings(config, layout):
    frame = rendered_frame([
        finding(rule="number-with-text", severity=ERROR, message="“12 kế hoạch” có kèm chữ.",
                instruction="Chỉ nhập con số.", sheet="A. Lãnh đạo, chỉ đạo", cell="E12",
                indicator="A2", year=2021, value="12 kế hoạch", key="A2||2021"),
        finding(rule="outlier", severity=WARNING, message="Tăng bất thường.",
                sheet="A. Lãnh đạo, chỉ đạo", cell="E12", indicator="A2", year=2021),
        finding(rule="not-nfc", severity=INFO, message="Đã chuẩn hoá.",
                sheet="A. Lãnh đạo, chỉ đạo", cell="E13"),
        finding(rule="outside-input", severity=WARNING, message="Ngoài ô nhập.",
                sheet="A. Lãnh đạo, chỉ đạo", cell="C40"),
    ])
    status = {"timeliness": "Quá hạn chưa hoàn thành", "days_late": 5, "completeness": 97.5,
              "required_filled": 39, "required_total": 40, "errors": 1, "warnings": 2}
    ids = {"A. Lãnh đạo, chỉ đạo": sheet_id("A")}
    first = unit_flags("Phường Tứ Hạ", frame, status, ids, layout, FlagState(),
                       datetime(2023, 4, 5, 1, 0))
    later = unit_flags("Phường Tứ Hạ", frame, status, ids, layout,
                       FlagState(first.hash, len(first.rows), first.highlights, first.first_seen),
                       datetime(2023, 4, 6, 1, 0))
    assert first.hash == later.hash and later.first_seen == first.first_seen
    assert "97,5%" in first.rows[2][0] and "(5 ngày)" in first.rows[2][0]
    assert first.highlights == sorted([[sheet_id("A"), 11, 4, "input", ERROR_FILL],
                                       [sheet_id("A"), 39, 2, "none", WARNING_FILL]])
    requests = flag_requests(later, FlagState(highlights=[[sheet_id("A"), 20, 4, "input", ""]]))
    assert requests[1]["updateCells"]["range"]["sheetId"] == RESULTS_SHEET_ID
    restored = requests[2]["repeatCell"]
    assert restored["range"]["startRowIndex"] == 20
    assert restored["cell"]["userEnteredFormat"]["backgroundColor"] == colour("FFF2CC")
    values = [cell.get("userEnteredValue") for row in requests[1]["updateCells"]["rows"]
              for cell in row["values"]]
    assert {"stringValue": "12 kế hoạch"} in values
    assert not any(v and "formulaValue" in v for v in values)


def test_dashboard_tables_are_plain_cells(config):
    status = pd.DataFrame([{c: None for c in ("unit_name", "timeliness", "completeness",
                                              "required_filled", "required_total",
                                              "submission_status", "completion_date", "errors",
                                              "warnings", "access", "read_at", "modified",
                                              "link")} | {"unit_code": "P01", "days_late": 0}])
    values = pd.DataFrame({"unit_code": ["P01"], "indicator": ["A1"], "breakdown": [""],
                           "year": pd.array([2021], dtype="Int64"), "value": [3.0],
                           "sheet": ["A"], "cell": ["E10"]})
    lists = pd.DataFrame(columns=["unit_code", "list", "row", "column", "value", "sheet", "cell"])
    tables = dashboard_tables(status, values, lists)
    assert [title for _, title, _ in tables] == ["Tình trạng", "Số liệu", "Danh sách"]
    assert tables[1][2][1] == ["P01", "A1", "", 2021, 3, "A", "E10"]
    assert tables[0][2][1][0] == "P01" and tables[0][2][1][2] == ""
