"""The review loop over simulated days (issue 12, "done when"): a commune explains a warning in
its own workbook, the office accepts it, approves a unit that then edits a cell, returns
another; the final report uses the approved number and says so.

The whole run (`run_consolidation`, the code the Prefect flow wraps, with `PlainSteps`) over
the test config's `.xlsx` workbooks, the office deciding through the review workbook
`duyet.xlsx` and the command line. The same story through Google is in test_review_google.py.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import answers_for
from helpers import TEST_CONFIG_DIR, NoReport, set_cells
from test_final_approved import body
from test_review_workbook import fill, reminder

from flows.consolidate import PlainSteps, run_consolidation
from flows.core.results_tab import TITLE

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OUTLIER = "B1.2||2022"  # P01's 2022 value four times 2021's: outlier-over-time at F10
TAB = "B. Bảo đảm quyền trẻ em"
WHY = "Năm 2022 phường mở thêm hai điểm sinh hoạt hè nên số buổi tăng, số liệu đúng."
REASON = "Mục B1 chưa khớp sổ theo dõi"
EDITED = "B1.1||2022"


def test_explain_accept_approve_edit_return_and_the_final_report(config, make_workbook, cli,
                                                                 tmp_path):
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    p01 = answers_for(config, "P01")
    p01[OUTLIER] = int(p01["B1.2||2021"]) * 4
    p01["A1||2023"] = 50  # 50 documents and none listed: an error, so P01 is reminded
    x01 = answers_for(config, "X01")

    def night(day: date, final: bool = False, answer: bool = False, x01_edit: int = 0):
        make_workbook("P01", p01, folder=source)
        if answer:
            set_cells(source / "P01.xlsx", TITLE, {"B5": TAB, "C5": "F10", "E5": WHY})
        make_workbook("P02", folder=source)
        make_workbook("X01", {**x01, EDITED: int(x01[EDITED]) + x01_edit}, folder=source)
        outcome = run_consolidation(str(source), str(out), day, str(TEST_CONFIG_DIR),
                                    final=final, reminders="dry-run", pdf=False,
                                    steps=PlainSteps() if final else NoReport(),
                                    now=datetime(day.year, day.month, day.day, 23, tzinfo=HCM))
        folder = Path(outcome.summary.out_dir)
        findings = pd.read_csv(folder / "findings.csv", keep_default_na=False, dtype=str)
        status = pd.read_csv(folder / "status.csv", keep_default_na=False,
                             dtype=str).set_index("unit_code")
        return folder, findings, status

    def outlier(findings: pd.DataFrame) -> pd.Series:
        [row] = findings[(findings.unit_code == "P01")
                         & (findings.rule == "outlier-over-time")].to_dict("records")
        return pd.Series(row)

    # 24/03: everyone complete; P01's outlier is new.
    _, findings, status = night(date(2023, 3, 24))
    assert outlier(findings)["state"] == "mới"
    assert status.loc["X01", "review_state"] == "đã nộp"

    # 25/03: P01 answers it in its own workbook, by tab and cell.
    _, findings, _ = night(date(2023, 3, 25), answer=True)
    seen = outlier(findings)
    assert (seen["state"], seen["explanation"]) == ("đã giải trình", WHY)

    # The office: on the command line accepts the explanation and returns P02 with a reason;
    # in duyet.xlsx approves X01 (dated when the next run takes the file: the nights here are
    # simulated days of 2023, the command line records today).
    common = ["--state", str(out / "state"), "--config", TEST_CONFIG_DIR]
    cli("finding", seen["finding_id"], "--accept", "--by", "Chị Lan", "--note", "Đã xác minh",
        *common, code=0)
    cli("review", "P02", "--return", REASON, "--by", "Chị Lan", *common, code=0)
    fill(out / "duyet.xlsx", "X01", "Duyệt", "Khớp sổ theo dõi", "Anh Minh")

    # 28/03 (a reminder day): the decisions are applied; X01 has edited one cell.
    day = date(2023, 3, 28)
    _, findings, status = night(day, answer=True, x01_edit=5)
    accepted = outlier(findings)
    assert (accepted["state"], accepted["decided_by"]) == ("chấp nhận", "Chị Lan")
    assert status.loc["P02", "review_state"] == "trả lại"
    assert status.loc["P02", "review_note"] == REASON
    old, new = x01[EDITED], int(x01[EDITED]) + 5
    assert status.loc["X01", "review_state"] == "sửa sau khi duyệt"
    assert status.loc["X01", "review_note"].startswith(
        f"sửa 1 ô sau khi duyệt: {EDITED}: {old} → {new} (")
    p01_mail, p02_mail = reminder(out, "P01", day), reminder(out, "P02", day)
    assert p01_mail is not None and "50" in p01_mail  # its error is still there
    assert seen["message"] not in p01_mail  # the accepted warning is not
    assert f"Phòng LĐTBXH đã trả lại số liệu: {REASON}" in p02_mail

    # 30/03: the final report uses X01's approved number and says so; the draft, the live one.
    final, _, status = night(date(2023, 3, 30), final=True, x01_edit=5)
    values = pd.read_csv(final / "values.csv", dtype=str, keep_default_na=False)
    edited = values[(values.unit_code == "X01") & (values.indicator == "B1.1")
                    & (values.year == "2022")]
    assert edited["value"].tolist() == [str(old)]
    assert status.loc["X01", "numbers_used"] == "số liệu đã duyệt"
    assert status.loc["P02", "numbers_used"] == "số liệu hiện tại"
    text = body(final)
    assert "đã sửa sau khi duyệt, dùng số liệu đã duyệt ngày" in text
    assert REASON in text
    live = pd.read_csv(out / "values.csv", dtype=str, keep_default_na=False)
    assert live[(live.unit_code == "X01") & (live.indicator == "B1.1")
                & (live.year == "2022")]["value"].tolist() == [str(new)]
