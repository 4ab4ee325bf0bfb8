"""The office decides in the Google dashboard (issue 12, closing the loop).

The "Tổng hợp" spreadsheet has two review tabs, the same tables as `duyet.xlsx`: every unit with
its review state and a "Quyết định" dropdown (Duyệt / Trả lại / Mở lại), and the findings that
need a decision (Chấp nhận / Không chấp nhận / Không phải lỗi). Staff choose in them, as people
do in Sheets; the next night reads them back with one values read (none on a quiet night),
applies them through the same store path as the review workbook, records who decided, and
writes the new states with the decision cells blank again.

One provisioned emulator world per module (template, dashboard, 6 unit sheets with clean
answers), copied for each test; whole runs without Prefect and without the Word report, which
these stories never read (`NoReport`).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import answers_for
from google_fixtures import gspread_client
from helpers import NoReport
from test_final_approved import body
from test_google_sheets import (  # noqa: F401  the provisioned world's fixtures, shared
    World,
    cell_fill,
    make_world,
    provisioned,
    results_tab,
    type_answers,
)
from test_review_workbook import reminder

from flows.consolidate import run_consolidation
from flows.core import review as core
from flows.core.layout import build_layout
from flows.sources.google import client
from flows.sources.google.client import Timing
from flows.sources.google.render import INPUT_FILL, RESULTS_TITLE, WARNING_FILL, colour
from flows.sources.google.source import GoogleSource
from flows.store.history import History
from flows.store.review import ReviewStore

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2023, 4, 5)
UNITS_TAB, FINDINGS_TAB = "Duyệt đơn vị", "Phát hiện cần quyết định"
STAFF, LAN = "can.bo@thunghiem.example.vn", "Nguyễn Thị Lan"
DASHBOARD_NAME = "Tổng hợp giám sát 2023"  # google.yaml names it by default
REASON = "Số liệu khớp với báo cáo quý"
REASON_RETURNED = "Mục B1 chưa khớp sổ theo dõi"
WHY = "Năm 2022 phường mở thêm hai điểm sinh hoạt hè nên số buổi tăng, số liệu đúng."
EDITED = "B1.1||2022"
DROPDOWN = {"type": "ONE_OF_LIST", "values": [
    {"userEnteredValue": "Duyệt"}, {"userEnteredValue": "Trả lại"},
    {"userEnteredValue": "Mở lại"}]}


def night(world: World, tmp_path, hour: int, day: date = DAY):
    """One nightly run at `hour` (each run its own moment); its findings and status."""
    out = tmp_path / f"dem-{day:%d}-{hour}"
    outcome = run_consolidation("google", str(out), day, str(world.config_dir),
                                reminders="off", pdf=False, steps=NoReport(),
                                state_dir=str(tmp_path / "state"),
                                now=datetime(day.year, day.month, day.day, hour, tzinfo=HCM))
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False, dtype=str)
    status = pd.read_csv(out / "status.csv", keep_default_na=False).set_index("unit_code")
    return outcome, findings, status


def dashboard(world: World) -> str:
    return world.registry["dashboard"]["id"]


def tab(world: World, title: str) -> list[list]:
    """A review tab as people see it, every row padded to its table's width."""
    grid = world.emulator.get_grid(dashboard(world), title)
    width = len(grid[core.HEADER_ROW - 1])
    return [list(row) + [""] * (width - len(row)) for row in grid]


def row_of(world: World, title: str, subject: str) -> int:
    """The 1-based row of a unit (units tab) or a finding id (findings tab)."""
    return next(n for n, row in enumerate(tab(world, title), start=1)
                if n > core.HEADER_ROW and row[0] == subject)


def choose(world: World, title: str, subject: str, decision: str, text: str = "",
           by: str = "", person: str = STAFF) -> int:
    """A staff member picks a decision on the row of `subject` in the dashboard (and types the
    reason / note and the name when given); returns the row."""
    table = next(t for t in core.review_tables(pd.DataFrame(), pd.DataFrame(),
                                               world.config.catalogue, "")
                 if t.sheet == title)
    row, column = row_of(world, title, subject), table.decision_column
    letters = "ABCDEFGHIJ"
    cells = f"'{title}'!{letters[column - 1]}{row}:{letters[column + 1]}{row}"
    world.emulator.set_values(dashboard(world), cells, [[decision, text, by]], by=person)
    return row


def refused(findings: pd.DataFrame) -> list[str]:
    return list(findings.loc[findings["rule"] == "review-workbook-refused", "message"])


@pytest.fixture
def town(make_world) -> World:  # noqa: F811
    """A fresh copy of the provisioned world; Nguyễn Thị Lan (can.bo@…) works at the office."""
    world = make_world()
    world.emulator.settings.display_names[STAFF] = LAN
    return world


# --------------------------------------------------------------------------- the tabs


def test_the_dashboard_has_both_review_tabs_with_strict_dropdowns(town, tmp_path):
    type_answers(town, "P02", {"A2||2021": "12 kế hoạch"})  # an error the office may decide on
    _, findings, _ = night(town, tmp_path, 22)
    units = tab(town, UNITS_TAB)
    assert units[0][0] == f"Duyệt số liệu các đơn vị — {town.config.plan.name}"
    assert units[core.HEADER_ROW - 1] == [
        "Mã đơn vị", "Đơn vị", "Trạng thái duyệt", "Lần đổi trạng thái gần nhất", "Quyết định",
        "Lý do / ghi chú", "Người quyết định"]
    assert [row[0] for row in units[core.HEADER_ROW:]] == ["P01", "P02", "P03", "X01", "X02",
                                                           "X03"]
    p01 = units[row_of(town, UNITS_TAB, "P01") - 1]
    assert p01 == ["P01", "Phường Tứ Hạ", "đã nộp", "giamsat, 22:00 ngày 05/04/2023", "", "",
                   ""]
    cell = town.emulator.cell(dashboard(town), UNITS_TAB, core.HEADER_ROW, 4)
    assert cell["dataValidation"] == {"condition": DROPDOWN, "strict": True,
                                      "showCustomUi": True}
    last = core.HEADER_ROW + 5  # X03's row, the last one
    assert "dataValidation" in town.emulator.cell(dashboard(town), UNITS_TAB, last, 4)

    pending = tab(town, FINDINGS_TAB)
    assert pending[core.HEADER_ROW - 1][7] == "Quyết định"
    error = findings[(findings["unit_code"] == "P02") & (findings["rule"] == "number-with-text")]
    [row] = [r for r in pending[core.HEADER_ROW:] if r[0] == error.iloc[0]["finding_id"]]
    assert row[1:6] == ["P02", f"{error.iloc[0]['sheet']}, {error.iloc[0]['cell']}", "lỗi",
                        error.iloc[0]["message"], "mới"]
    cell = town.emulator.cell(dashboard(town), FINDINGS_TAB, core.HEADER_ROW, 7)
    assert [v["userEnteredValue"] for v in cell["dataValidation"]["condition"]["values"]] == [
        "Chấp nhận", "Không chấp nhận", "Không phải lỗi"]
    # every value was written as a value: nothing on the dashboard is a formula
    with town.emulator.store.lock:
        sheets = town.emulator.store.files[dashboard(town)].content.sheets
        assert not any("formulaValue" in (c.get("userEnteredValue") or {})
                       for s in sheets for c in s.cells.values())


# --------------------------------------------------------------------------- decisions


def test_staff_approve_a_unit_in_the_dashboard_and_the_next_night_records_who(town,
                                                                            tmp_path):
    night(town, tmp_path, 21)
    choose(town, UNITS_TAB, "P01", "Duyệt", REASON)  # no name typed: Drive says who it was
    choose(town, UNITS_TAB, "P03", "Duyệt", by="Chị Hoa")  # the name typed wins
    outcome, findings, status = night(town, tmp_path, 23)
    assert outcome.failure == "" and refused(findings) == []
    assert status.loc["P01", ["review_state", "reviewed_by", "review_note"]].tolist() == [
        "đã duyệt", LAN, REASON]
    assert status.loc["P03", ["review_state", "reviewed_by"]].tolist() == ["đã duyệt", "Chị Hoa"]
    assert status.loc["P02", "review_state"] == "đã nộp"
    # tonight's write shows the new states, and the decision cells are blank again
    units = tab(town, UNITS_TAB)
    assert units[row_of(town, UNITS_TAB, "P01") - 1][2:] == [
        "đã duyệt", f"{LAN}, 23:00 ngày 05/04/2023: {REASON}", "", "", ""]
    assert units[row_of(town, UNITS_TAB, "P03") - 1][2:] == [
        "đã duyệt", "Chị Hoa, 23:00 ngày 05/04/2023", "", "", ""]


def test_returned_without_a_reason_is_refused_naming_the_tab_and_row(town, tmp_path):
    night(town, tmp_path, 21)
    row = choose(town, UNITS_TAB, "P02", "Trả lại")
    outcome, findings, status = night(town, tmp_path, 23)
    assert refused(findings) == [
        f"Bảng tính {DASHBOARD_NAME} trên Google, trang “Duyệt đơn vị”, dòng {row} (P02): chưa "
        "ghi nhận quyết định “Trả lại”. Cần ghi lý do khi trả lại đơn vị P02."]
    said = findings.loc[findings["rule"] == "review-workbook-refused", "instruction"]
    assert list(said) == ["Chọn lại quyết định cho P02 ở trang “Duyệt đơn vị” của bảng tính "
                          "này (lựa chọn cũ đã được xoá), hoặc dùng lệnh giamsat review / "
                          "giamsat finding; các dòng khác đã được ghi nhận."]
    assert "chưa ghi nhận quyết định “Trả lại”" in outcome.failure  # said, the run is Failed
    assert status.loc["P02", "review_state"] == "đã nộp"
    assert tab(town, UNITS_TAB)[row - 1][2:] == ["đã nộp", "giamsat, 21:00 ngày 05/04/2023",
                                                 "", "", ""]


def test_staff_accept_a_finding_in_the_findings_tab(town, tmp_path):
    type_answers(town, "P02", {"A2||2021": "12 kế hoạch"})
    _, findings, _ = night(town, tmp_path, 21)
    fid = findings.loc[(findings["unit_code"] == "P02") & (findings["rule"] == "number-with-text"),
                       "finding_id"].iloc[0]
    choose(town, FINDINGS_TAB, fid, "Chấp nhận", "Đơn vị đã báo cáo bằng văn bản")
    _, findings, _ = night(town, tmp_path, 23)
    accepted = findings[findings["finding_id"] == fid].iloc[0]
    assert (accepted["state"], accepted["decided_by"]) == ("chấp nhận", LAN)
    assert fid not in [row[0] for row in tab(town, FINDINGS_TAB)]  # nothing left to decide


# --------------------------------------------------------------------------- what it costs


def test_a_quiet_night_never_reads_the_dashboard_and_a_decision_costs_one_read(town,
                                                                               tmp_path):
    night(town, tmp_path, 20)
    town.emulator.reset_counts()
    night(town, tmp_path, 21)
    counts = town.emulator.counts
    assert counts["drive.files.list"] == 1
    for kind in ("drive.files.get", "sheets.values.batchGet", "sheets.get",
                 "sheets.batchUpdate", "sheets.values.batchUpdate"):
        assert counts[kind] == 0, (kind, dict(counts))

    choose(town, UNITS_TAB, "X01", "Duyệt")
    town.emulator.reset_counts()
    _, _, status = night(town, tmp_path, 22)
    assert status.loc["X01", "review_state"] == "đã duyệt"
    counts = town.emulator.counts
    assert counts["sheets.values.batchGet"] == 1  # the two review tabs, no unit sheet
    assert counts["sheets.batchUpdate"] == 1  # the review tabs rewritten (the rest unchanged)
    assert counts["sheets.values.batchUpdate"] == 0
    assert counts["drive.files.get"] == 2  # before and after our write: our own modifiedTime

    town.emulator.reset_counts()
    night(town, tmp_path, 23)  # our own write is no change
    assert town.emulator.counts["sheets.values.batchGet"] == 0
    assert town.emulator.counts["drive.files.get"] == 0


def test_a_decision_still_shown_after_a_failed_write_is_never_applied_twice(
        town, tmp_path, monkeypatch, fake_clock):
    monkeypatch.setattr(client, "TIMING", Timing(fake_clock.now, fake_clock.sleep, lambda: 0.5))
    night(town, tmp_path, 20)
    choose(town, UNITS_TAB, "P01", "Duyệt")
    town.emulator.write_quota_per_minute = 0  # Google refuses every write tonight
    _, findings, status = night(town, tmp_path, 21)
    assert status.loc["P01", "review_state"] == "đã duyệt"
    assert "dashboard-failed" in set(findings["rule"])
    assert tab(town, UNITS_TAB)[row_of(town, UNITS_TAB, "P01") - 1][4] == "Duyệt"  # still shown

    town.emulator.write_quota_per_minute = None
    choose(town, UNITS_TAB, "P02", "Duyệt", by="Chị Hoa")  # another row: the dashboard is read
    _, findings, status = night(town, tmp_path, 22)
    assert refused(findings) == []  # P01's "Duyệt" is not taken again (it would be refused)
    assert status.loc["P02", "review_state"] == "đã duyệt"
    with History(folder=tmp_path / "state") as history:
        log = ReviewStore(history, town.config.plan.name).unit_logs("P01")["P01"]
    assert [step.action for step in log] == ["submit", "approve"]
    assert tab(town, UNITS_TAB)[row_of(town, UNITS_TAB, "P01") - 1][4] == ""


def test_review_tabs_someone_deleted_are_added_back_at_the_next_write(town, tmp_path):
    sheet = gspread_client(town.emulator).open_by_key(dashboard(town))
    sheet.del_worksheet(sheet.worksheet(UNITS_TAB))
    sheet.del_worksheet(sheet.worksheet(FINDINGS_TAB))
    outcome, findings, status = night(town, tmp_path, 21)
    assert "dashboard-failed" not in set(findings["rule"])
    assert [row[0] for row in tab(town, UNITS_TAB)[core.HEADER_ROW:]] == list(status.index)
    assert tab(town, FINDINGS_TAB)[core.HEADER_ROW - 1][0] == "Mã phát hiện"


def test_the_source_knows_who_edited_each_sheet_last(town):
    town.emulator.settings.display_names["tuha@thunghiem.example.vn"] = "Lê Văn Tư"
    source = GoogleSource(town.config)
    source.refs()  # the one listing says it, for every file
    assert source.editor(town.sid("P01")) == "Lê Văn Tư"
    assert source.editor(town.sid("P02")) == "huongvan"  # Drive's name: the e-mail's local part


# --------------------------------------------------------------------------- the whole story


def _night(world: World, tmp_path, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A night at 23:00 with the report and the reminders' drafts; its findings and status."""
    out = tmp_path / "ket-qua"
    run_consolidation("google", str(out), day, str(world.config_dir), reminders="dry-run",
                      pdf=False, steps=NoReport(), state_dir=str(tmp_path / "state"),
                      now=datetime(day.year, day.month, day.day, 23, tzinfo=HCM))
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False, dtype=str)
    status = pd.read_csv(out / "status.csv", keep_default_na=False, dtype=str)
    return findings, status.set_index("unit_code")


@pytest.mark.prefect
def test_explain_accept_approve_edit_return_and_the_final_report_through_google(
        town, tmp_path, cli, prefect_api):
    world, layout = town, build_layout(town.config)
    answers = {code: answers_for(world.config, code) for code in ("P01", "X01")}
    outlier = answers["P01"]["B1.2||2021"] * 4  # 2022 four times 2021: outlier-over-time
    type_answers(world, "P01", {"B1.2||2022": outlier, "A1||2023": 50})  # + an error to remind
    spec = layout.by_key["B1.2||2022"]

    # 24/03: the outlier is new, highlighted in P01's sheet and listed on its results tab.
    findings, _ = _night(world, tmp_path, date(2023, 3, 24))
    [fid] = findings.loc[(findings.unit_code == "P01") & (findings.rule == "outlier-over-time"),
                         "finding_id"]
    assert cell_fill(world, "P01", spec.sheet, spec.cell) == colour(WARNING_FILL)
    at_cell = findings.loc[(findings.unit_code == "P01") & (findings.sheet == spec.sheet)
                           & (findings.cell == spec.cell), "finding_id"].tolist()
    [line] = [n for n, row in enumerate(results_tab(world, "P01"), start=1)
              if len(row) > 10 and row[10] == fid]

    # The commune explains it in its own sheet: the next night it is "đã giải trình".
    sheet = gspread_client(world.emulator, "commune-P01").open_by_key(world.sid("P01"))
    sheet.worksheet(RESULTS_TITLE).update([[WHY]], f"J{line}", value_input_option="RAW")
    findings, _ = _night(world, tmp_path, date(2023, 3, 25))
    explained = findings[findings.finding_id == fid].iloc[0]
    assert (explained["state"], explained["explanation"]) == ("đã giải trình", WHY)

    # The office, in the dashboard: accepts it (and the other warning on that cell), approves
    # X01, returns P02 with a reason.
    for finding in at_cell:
        choose(world, FINDINGS_TAB, finding, "Chấp nhận", "Đã xác minh với phường")
    choose(world, UNITS_TAB, "X01", "Duyệt")
    choose(world, UNITS_TAB, "P02", "Trả lại", REASON_RETURNED)
    day = date(2023, 3, 28)  # a reminder day: three days before the deadline
    findings, status = _night(world, tmp_path, day)
    assert findings[findings.finding_id == fid].iloc[0]["state"] == "chấp nhận"
    assert not set(at_cell) & {row[10] for row in results_tab(world, "P01") if len(row) > 10}
    assert cell_fill(world, "P01", spec.sheet, spec.cell) == colour(INPUT_FILL)
    p01_mail, p02_mail = reminder(tmp_path, "P01", day), reminder(tmp_path, "P02", day)
    assert p01_mail is not None and explained["message"] not in p01_mail
    assert f"Phòng LĐTBXH đã trả lại số liệu: {REASON_RETURNED}" in p02_mail
    assert (status.loc["X01", "review_state"], status.loc["X01", "reviewed_by"]) == (
        "đã duyệt", LAN)

    # X01 edits a cell after the approval: "sửa sau khi duyệt", old → new.
    old = int(answers["X01"][EDITED])
    type_answers(world, "X01", {EDITED: old + 5})
    _, status = _night(world, tmp_path, date(2023, 3, 29))
    assert status.loc["X01", "review_state"] == "sửa sau khi duyệt"
    assert status.loc["X01", "review_note"].startswith(
        f"sửa 1 ô sau khi duyệt: {EDITED}: {old} → {old + 5} (")

    # The final report, through the real flow: X01's approved number, and it says so.
    cli("consolidate", "--source", "google", "--out", str(tmp_path / "ket-qua"), "--final",
        "--as-of", "2023-03-30", "--config", str(world.config_dir), "--state",
        str(tmp_path / "state"), "--reminders", "off", "--no-pdf")
    final = tmp_path / "ket-qua" / "final" / "2023-03-30"
    values = pd.read_csv(final / "values.csv", dtype=str, keep_default_na=False)
    assert values.loc[(values.unit_code == "X01") & (values.indicator == "B1.1")
                      & (values.year == "2022"), "value"].tolist() == [str(old)]
    text = body(final)
    assert "đã sửa sau khi duyệt, dùng số liệu đã duyệt ngày 28/03/2023" in text
    assert REASON_RETURNED in text
