"""The review workbook `duyet.xlsx` (issue 12), reminders that know the review, and the
commune's results tab showing only open findings.

Whole runs without Prefect (`run_consolidation(..., steps=NoReport())`) over the test config:
staff fill the `duyet.xlsx` a run wrote, put it back at `<out>/duyet.xlsx`, and the next run
applies it through the same store transitions as `giamsat review` / `giamsat finding`.
"""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from conftest import answers_for
from helpers import TEST_CONFIG_DIR, NoReport, worded

from flows.consolidate import run_consolidation
from flows.core import review as core
from flows.core.findings import ERROR, WARNING, rendered_frame
from flows.notify import compose
from flows.sources.google.snapshots import FlagState
from flows.sources.google.writeback import unit_flags
from flows.store.history import History
from flows.store.review import ReviewStore

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
QUIET, REMINDER_DAY = date(2023, 3, 27), date(2023, 3, 28)  # 28/03: 3 days before 31/03
OUTLIER = "B1.2||2022"  # P01's 2022 value made four times 2021's: outlier-over-time, F10
REASON = "Mục B1 chưa khớp tổng số"


@pytest.fixture
def town(config, make_workbook, tmp_path):
    """Nights over P01 and P02 (both complete; P01 with an outlier when asked); X01 never
    sends its workbook. Returns run(day) → the run's findings and status as read back."""
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()

    def run(day: date, outlier: bool = False, error: bool = False):
        p01 = answers_for(config, "P01")
        if outlier:
            p01[OUTLIER] = int(p01["B1.2||2021"]) * 4
        if error:
            p01["A1||2023"] = 50  # 50 documents but none in the list: a consistency error
        make_workbook("P01", p01, folder=source)
        make_workbook("P02", folder=source)
        outcome = run_consolidation(str(source), str(out), day, str(TEST_CONFIG_DIR),
                                    reminders="dry-run", pdf=False, steps=NoReport(),
                                    now=datetime(day.year, day.month, day.day, 23, tzinfo=HCM))
        findings = pd.read_csv(out / "findings.csv", keep_default_na=False, dtype=str)
        status = pd.read_csv(out / "status.csv", keep_default_na=False).set_index("unit_code")
        return outcome, findings, status

    run.out = out
    return run


def fill(path: Path, subject: str, decision: str, text: str = "", by: str = "") -> None:
    """Type a decision on the row of `subject` (a unit code or a finding id), as staff do."""
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        header = [c.value for c in ws[core.HEADER_ROW]]
        if "Quyết định" not in header:
            continue
        for row in ws.iter_rows(min_row=core.HEADER_ROW + 1):
            if row[0].value == subject:
                row[header.index("Quyết định")].value = decision
                row[header.index("Quyết định") + 1].value = text or None
                row[header.index("Người quyết định")].value = by or None
                book.save(path)
                return
    raise AssertionError(f"no row for {subject}")


def reminder(out: Path, unit: str, day: date = REMINDER_DAY) -> str | None:
    path = out / "state" / "outbox" / day.isoformat() / f"{unit}.eml"
    if not path.exists():
        return None
    message = message_from_bytes(path.read_bytes(), policy=default_policy)
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return f"{message['Subject']}\n{body}"


# --------------------------------------------------------------------------- the workbook


def test_the_review_workbook_lists_units_and_findings_with_dropdowns(town):
    town(QUIET, outlier=True)
    book = openpyxl.load_workbook(town.out / "duyet.xlsx")
    units, pending, hidden = book.worksheets
    assert (units.title, pending.title, hidden.sheet_state) == (
        "Duyệt đơn vị", "Phát hiện cần quyết định", "hidden")
    assert [c.value for c in units[core.HEADER_ROW]] == [
        "Mã đơn vị", "Đơn vị", "Trạng thái duyệt", "Lần đổi trạng thái gần nhất",
        "Quyết định", "Lý do / ghi chú", "Người quyết định"]
    p01 = next(r for r in units.iter_rows(min_row=5, values_only=True) if r[0] == "P01")
    assert p01[:4] == ("P01", "Phường Tứ Hạ", "đã nộp", "giamsat, 23:00 ngày 27/03/2023")
    [dropdown] = units.data_validations.dataValidation
    assert dropdown.formula1 == '"Duyệt,Trả lại,Mở lại"' and str(dropdown.sqref).startswith("E5:")
    assert [c.value for c in pending[core.HEADER_ROW]] == [
        "Mã phát hiện", "Mã đơn vị", "Trang, ô", "Mức độ", "Nội dung", "Trạng thái",
        "Giải trình của đơn vị", "Quyết định", "Ghi chú", "Người quyết định"]
    rows = list(pending.iter_rows(min_row=5, values_only=True))
    outlier = next(r for r in rows if r[1] == "P01")
    assert outlier[2:6] == ("B. Bảo đảm quyền trẻ em, F10", "cảnh báo", outlier[4], "mới")
    assert outlier[4].startswith("Năm 2022: ")
    [choices] = pending.data_validations.dataValidation
    assert choices.formula1 == '"Chấp nhận,Không chấp nhận,Không phải lỗi"'
    assert hidden["A1"].value == core.TOKEN_MARK and hidden["B1"].value


def test_returned_in_the_workbook_the_next_reminder_carries_the_reason(town):
    town(QUIET)
    fill(town.out / "duyet.xlsx", "P02", "Trả lại", REASON, "Chị Lan")
    outcome, _, status = town(REMINDER_DAY)
    p02 = status.loc["P02"]
    assert (p02["review_state"], p02["reviewed_by"], p02["review_note"]) == (
        "trả lại", "Chị Lan", REASON)
    text = reminder(town.out, "P02")  # complete and clean, yet reminded: it was returned
    assert text is not None
    assert "- Phòng LĐTBXH đã trả lại số liệu: Mục B1 chưa khớp tổng số\n" in text
    assert reminder(town.out, "P01") is None  # complete, clean, not returned
    assert outcome.failure == ""
    # the filled file was taken once: set aside in the state folder, a fresh one written
    [applied] = (town.out / "state").glob("duyet-*.applied.xlsx")
    assert core.TOKEN_MARK == openpyxl.load_workbook(applied)["giamsat"]["A1"].value
    fresh = openpyxl.load_workbook(town.out / "duyet.xlsx")["Duyệt đơn vị"]
    p02 = next(r for r in fresh.iter_rows(min_row=5, values_only=True) if r[0] == "P02")
    assert (p02[2], p02[4]) == ("trả lại", None)
    assert p02[3].startswith("Chị Lan, ") and p02[3].endswith(f": {REASON}")


def test_the_same_filled_workbook_copied_back_is_not_applied_twice(town, config):
    town(QUIET)
    fill(town.out / "duyet.xlsx", "P01", "Duyệt", "", "Chị Lan")
    town(REMINDER_DAY)
    [applied] = (town.out / "state").glob("duyet-*.applied.xlsx")
    (town.out / "duyet.xlsx").write_bytes(applied.read_bytes())  # copied back by mistake
    outcome, findings, status = town(REMINDER_DAY)
    assert status.loc["P01", "review_state"] == "đã duyệt"
    assert "review-workbook-refused" not in set(findings["rule"])
    with History(folder=town.out / "state") as history:
        log = ReviewStore(history, core.review_period(config)).unit_logs("P01")
    assert [s.action for s in log["P01"]] == [core.SUBMIT, core.APPROVE]
    assert log["P01"][1].by == "Chị Lan"


def test_accepted_in_the_workbook_no_longer_highlighted_nor_in_the_reminder(town, config,
                                                                            layout):
    _, first, _ = town(QUIET, outlier=True, error=True)
    mine = first[first["unit_code"] == "P01"].set_index("rule")
    outlier, error = mine.loc["outlier-over-time"], mine.loc["a1-khop-danh-sach"]
    fill(town.out / "duyet.xlsx", outlier["finding_id"], "Chấp nhận",
         "Năm 2022 có thêm một trung tâm", "Anh Minh")
    fill(town.out / "duyet.xlsx", error["finding_id"], "Không phải lỗi")
    outcome, findings, status = town(REMINDER_DAY, outlier=True, error=True)
    now = findings.set_index("finding_id")
    assert (now.loc[outlier["finding_id"], "state"], now.loc[outlier["finding_id"],
                                                               "decided_by"]) == (
        "chấp nhận", "Anh Minh")
    assert (now.loc[error["finding_id"], "state"], now.loc[error["finding_id"],
                                                             "decided_by"]) == (
        "không phải lỗi", "bảng duyệt")
    assert reminder(town.out, "P01") is None  # its only error is closed: nothing to remind
    frame = findings[findings["unit_code"] == "P01"].copy()
    frame["severity"] = frame["severity"].map({v: k for k, v in
                                               config.catalogue.severities.items()})
    frame["year"] = pd.to_numeric(frame["year"])
    flags = unit_flags("Phường Tứ Hạ", frame, status.loc["P01"].to_dict(), {
        "B. Bảo đảm quyền trẻ em": 11, "A. Lãnh đạo, chỉ đạo": 12}, layout, FlagState(),
        datetime(2023, 3, 28, 23, tzinfo=HCM), config.catalogue.severities, config.catalogue)
    assert flags.highlights == []
    assert flags.rows[3] == [
        "Lỗi: 0. Cảnh báo: 0. Phòng LĐTBXH đã chấp nhận hoặc xác định không phải lỗi: 2 phát "
        "hiện (không còn liệt kê, không tô màu)."]
    assert flags.rows[6][4] == "Không có lỗi hay cảnh báo nào."
    # not in the next review workbook either: nothing left to decide
    pending = openpyxl.load_workbook(town.out / "duyet.xlsx")["Phát hiện cần quyết định"]
    assert [r[0] for r in pending.iter_rows(min_row=5, values_only=True)
            if r[1] == "P01"] == []


def test_a_refused_decision_is_a_finding_naming_the_row(town):
    town(QUIET)
    fill(town.out / "duyet.xlsx", "X01", "Duyệt", by="Chị Lan")  # never submitted
    fill(town.out / "duyet.xlsx", "P01", "Đồng ý")  # not one of the choices
    outcome, findings, status = town(REMINDER_DAY)
    refused = findings[findings["rule"] == "review-workbook-refused"]
    assert list(refused["message"]) == [
        "Bảng duyệt duyet.xlsx, trang “Duyệt đơn vị”, dòng 5 (P01): chưa ghi nhận quyết định "
        "“Đồng ý”. Quyết định phải là một trong: “Duyệt”, “Trả lại”, “Mở lại”.",
        "Bảng duyệt duyet.xlsx, trang “Duyệt đơn vị”, dòng 8 (X01): chưa ghi nhận quyết định "
        "“Duyệt”. Không thể duyệt đơn vị X01: đơn vị chưa nộp (chưa chọn “Đã hoàn thành” với "
        "đủ mọi ô bắt buộc)."]
    assert set(refused["instruction"]) == {
        "Sửa dòng này trong bảng duyệt mới của lần tổng hợp này rồi chép lại tệp, hoặc dùng "
        "lệnh giamsat review / giamsat finding; các dòng khác đã được ghi nhận."}
    assert (refused["unit_code"] == "").all()  # the office's problem, not the commune's
    assert status.loc["X01", "review_state"] == "chưa nộp"
    assert "chưa ghi nhận quyết định “Duyệt”" in outcome.failure  # said on screen, exit 4


def test_a_damaged_review_workbook_is_set_aside_and_said(town):
    town(QUIET)
    (town.out / "duyet.xlsx").write_bytes(b"not a workbook")
    _, findings, _ = town(REMINDER_DAY)
    [aside] = (town.out / "state").glob("duyet-*.unread.xlsx")
    [said] = findings.loc[findings["rule"] == "review-workbook-set-aside", "message"]
    assert said == (f"Chưa ghi nhận quyết định nào trong bảng duyệt {town.out / 'duyet.xlsx'}: "
                    "không đọc được tệp (tệp bị hỏng hoặc không phải bảng tính hợp lệ (không "
                    f"đọc được nội dung)). Tệp đã được đổi tên thành {aside} (không xoá gì).")


# --------------------------------------------------------------------------- reminders


SHEET = "B. Bảo đảm quyền trẻ em"


def test_the_reminder_leaves_out_closed_findings_and_says_explained_ones(config):
    def error(cell: str, state: str, explanation: str = ""):
        f = worded("not-a-number", ERROR, f"Ô {cell} có chữ thay vì số.", "Nhập số.",
                   unit_code="P02", sheet=SHEET, cell=cell, key=cell)
        return f, state, explanation

    rows = [error("E10", "mới"), error("E11", "chấp nhận"), error("E12", "không phải lỗi"),
            error("E13", "đã giải trình", "Số liệu theo báo cáo của trường")]
    findings = rendered_frame([f for f, _, _ in rows])
    findings["state"] = [s for _, s, _ in rows]
    findings["explanation"] = [e for _, _, e in rows]
    row = dict(unit_code="P02", unit_name="P02", found=True, required_filled=391,
               required_total=391, completeness=100.0, complete=True, errors=4,
               submission_status="Đã hoàn thành", read_at="", link="",
               review_state="đã nộp", review_note="")
    message = compose(row, findings, config, REMINDER_DAY)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert str(message["Subject"]).endswith("— đã nhập 100%, còn 1 lỗi cần sửa")
    assert f"- Trang “{SHEET}”, ô E10: Ô E10 có chữ thay vì số. → Nhập số.\n" in text
    assert "E11" not in text and "E12" not in text
    assert ("\nCác ô đơn vị đã giải trình, đang chờ Phòng LĐTBXH xem xét (không cần sửa):\n"
            f"- Trang “{SHEET}”, ô E13: Ô E13 có chữ thay vì số. — giải trình: “Số liệu theo "
            "báo cáo của trường”\n") in text
    assert "ô E13: Ô E13 có chữ thay vì số. → " not in text  # not a problem to fix


def test_only_closed_or_explained_errors_need_no_reminder(config):
    from flows.notify import needs_reminder

    findings = rendered_frame([worded("not-a-number", ERROR, "x", unit_code="P02",
                                      sheet=SHEET, cell="E10", key="E10")])
    row = dict(unit_code="P02", complete=True, errors=1, review_state="đã nộp")
    for state, expected in (("mới", True), ("đã giải trình", False), ("chấp nhận", False)):
        findings["state"] = state
        assert needs_reminder(row, findings, config.catalogue) is expected, state
    assert needs_reminder({**row, "errors": 0, "review_state": "trả lại"}, findings.iloc[0:0],
                          config.catalogue)


# --------------------------------------------------------------------------- the sheet


def test_the_results_tab_hides_closed_findings_and_a_quiet_night_writes_nothing(config,
                                                                                 layout):
    cells = [("E10", "mới"), ("E11", "chấp nhận"), ("E12", "đã giải trình")]
    findings = rendered_frame([worded("outlier-over-time", WARNING, f"Ô {c} lạ.",
                                      unit_code="P01", sheet=SHEET, cell=c, key=c)
                               for c, _ in cells])
    findings["state"] = [s for _, s in cells]
    status = {"timeliness": "Đang nhập", "completeness": 50.0, "errors": 0, "warnings": 3}

    def flags(frame):
        return unit_flags("Phường Tứ Hạ", frame, status, {SHEET: 11}, layout, FlagState(),
                          datetime(2023, 3, 28, 23, tzinfo=HCM), config.catalogue.severities,
                          config.catalogue)

    shown = flags(findings)
    assert [r[2] for r in shown.rows[6:]] == ["E10", "E12"]  # explained stays until decided
    assert [m[2] for m in shown.highlights] == [4, 4] and len(shown.highlights) == 2
    assert shown.rows[3] == ["Lỗi: 0. Cảnh báo: 2. Phòng LĐTBXH đã chấp nhận hoặc xác định "
                             "không phải lỗi: 1 phát hiện (không còn liệt kê, không tô màu)."]
    assert flags(findings.copy()).hash == shown.hash  # nothing changed: no write
    accepted = findings.assign(state=["chấp nhận", "chấp nhận", "đã giải trình"])
    assert flags(accepted).hash != shown.hash  # one decision: one write
    before = flags(findings.drop(columns="state"))  # no review (no history): as before
    assert len(before.highlights) == 3 and before.rows[3] == ["Lỗi: 0. Cảnh báo: 3."]
