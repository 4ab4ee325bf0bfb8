"""The office erases a unit's history recorded before a day (issue 13): `giamsat erase P01
--before 2023-03-30` asks first, deletes P01's values, status log, review transitions,
finding states and logs of before that day, its Google snapshot and reminder drafts of before
it, records who did it, when and how many rows (never what), and leaves every other unit as it
was. What is left of P01 is a true history from that day on: no value kept reads as an edit.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import answers_for
from helpers import TEST_CONFIG_DIR

from flows.core import review as core
from flows.sources.google.snapshots import Snapshot, SnapshotStore
from flows.store.erase import Eraser
from flows.store.history import FILE_NAME, History
from flows.store.review import ReviewStore

KEY = "B1.1||2022"  # P01 edits it on 25/03, before the cut-off
LATER = "B1.1||2023"  # and this one on 02/04, after it
FIRST_TEXT = "Khó khăn ghi lần đầu QX7"  # P01's text of 20/03, replaced on 02/04
OTHER_TEXT = "Khó khăn của đơn vị khác QZ9"  # P02's, never replaced


def at(day: int, month: int = 3, hour: int = 1) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2023, month, day, hour, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def rows_of(state: Path, unit: str) -> dict[str, list[dict]]:
    """Every row the history database holds about one unit, table by table (times as SQLite
    stores them: UTC text)."""
    with closing(sqlite3.connect(state / FILE_NAME)) as db:
        db.row_factory = sqlite3.Row
        fids = [r[0] for r in db.execute(
            "SELECT finding_id FROM review_findings WHERE unit_code = ?", (unit,))]
        queries = {
            "history_values": ("SELECT * FROM history_values WHERE unit_code = ? ORDER BY id",
                               [unit]),
            "history_status": ("SELECT * FROM history_status WHERE unit_code = ? ORDER BY id",
                               [unit]),
            "review_transitions": ("SELECT * FROM review_transitions WHERE unit_code = ? "
                                   "ORDER BY id", [unit]),
            "review_findings": ("SELECT * FROM review_findings WHERE unit_code = ? "
                                "ORDER BY finding_id", [unit]),
            "review_finding_transitions": (
                "SELECT * FROM review_finding_transitions WHERE finding_id IN "
                f"({','.join('?' * len(fids))}) ORDER BY id", fids),
        }
        return {table: [dict(r) for r in db.execute(sql, args)]
                for table, (sql, args) in queries.items()}


@pytest.fixture
def lived(config, nights, tmp_path):
    """Three nights of P01 and P02 (20/03, 25/03, 02/04), a decision of the office, a Google
    snapshot and reminder drafts of each; the config folder the commands use."""
    folder = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, folder)
    (folder / "google.yaml").write_text('folder_id: "X"\nstate_dir: ../google\n',
                                        encoding="utf-8")
    first = {code: {**answers_for(config, code), "B1.1||2021": "1.234",
                    "D3||": FIRST_TEXT if code == "P01" else OTHER_TEXT}
             for code in ("P01", "P02")}
    night = nights("r1", at(20), first)
    warning = night.findings[(night.findings.unit_code == "P01")
                             & (night.findings.rule == "thousands-separator")]
    with History(folder=nights.state) as history:
        ReviewStore(history, core.review_period(config)).decide_finding(
            warning.finding_id.iloc[0], core.ACCEPT, "Chị Lan", at(21, hour=9))
    second = {**first, "P01": {**first["P01"], KEY: int(first["P01"][KEY]) + 1}}
    nights("r2", at(25), second)
    third = {**second, "P01": {**second["P01"], LATER: int(second["P01"][LATER]) + 1,
                                "D3||": "Thiếu kinh phí hỗ trợ"}}
    nights("r3", at(2, 4), third)
    store = SnapshotStore(tmp_path / "google")
    for code in ("P01", "P02"):
        store.save(Snapshot(code, f"sheet-{code}", at(20).astimezone(UTC), None, ["A"],
                            {"A": [["x"]]}))
        for day in ("2023-03-20", "2023-04-02"):
            draft = nights.state / "outbox" / day / f"{code}.eml"
            draft.parent.mkdir(parents=True, exist_ok=True)
            draft.write_text("Subject: nhắc\n\n…", encoding="utf-8")
    nights.config_dir = folder
    nights.third = third
    return nights


def erase(lived, *args, answer: str | None = None, code: int | None = None):
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["erase", *args, "--state", str(lived.state),
                                      "--config", str(lived.config_dir)], input=answer)
    if code is not None:
        assert result.exit_code == code, result.output
    return result, " ".join(result.output.split())


def test_the_office_erases_a_units_history_before_a_day(lived, config, tmp_path):
    state = lived.state
    p02 = rows_of(state, "P02")
    before = rows_of(state, "P01")
    assert len(before["history_status"]) == 3 and before["review_transitions"]

    result, said = erase(lived, "p01", "--before", "2023-03-30", "--by", "Chị Lan",
                         answer="y\n", code=0)
    with History(folder=state) as history:
        [logged] = Eraser(history).log()
        changes = history.changes(unit="P01", include_initial=False)
        status = history.status_log(unit="P01")
    cutoff = at(30, hour=0)
    assert (logged["unit_code"], logged["by"], logged["before"]) == ("P01", "Chị Lan", cutoff)
    assert logged["at"] <= datetime.now(UTC)
    counts = {name: logged[name] for name in (
        "values_rows", "status_rows", "unit_transitions", "finding_states",
        "finding_transitions", "snapshots", "drafts")}
    assert counts["status_rows"] == 2 and counts["snapshots"] == 1 and counts["drafts"] == 1
    assert counts["values_rows"] > 0 and counts["finding_states"] > 0
    assert counts["unit_transitions"] == 1  # P01's submission of 20/03
    shown = ("{values_rows} dòng số liệu, {status_rows} lần đọc, {unit_transitions} lần đổi "
             "trạng thái duyệt, {finding_states} phát hiện, {finding_transitions} lần đổi trạng "
             "thái phát hiện, {snapshots} bản lưu bảng tính Google, {drafts} thư nhắc nháp")
    assert (f"Xoá vĩnh viễn lịch sử của đơn vị P01 ghi nhận trước ngày 30/03/2023: "
            f"{shown.format(**counts)}. Không khôi phục được. Gõ y để xoá, Enter để thôi: "
            "y") in said
    assert said.endswith(
        f"Đã xoá lịch sử của đơn vị P01 ghi nhận trước ngày 30/03/2023: "
        f"{shown.format(**counts)}. Việc xoá đã được ghi vào nhật ký xoá (người xoá, thời "
        "điểm, số dòng; không ghi nội dung).")

    # nothing of P01 recorded before the day is left; what is left reads as of 02/04
    after = rows_of(state, "P01")
    utc_cutoff = "2023-03-29 17:00"  # 30/03 00:00 in Hồ Chí Minh, as SQLite stores it
    assert list(status["read_at"]) == [at(2, 4).astimezone(UTC)]
    assert not [r for r in after["review_transitions"] if r["at"] < utc_cutoff]
    assert not [r for r in after["review_finding_transitions"] if r["at"] < utc_cutoff]
    assert not [r for r in after["review_findings"] if r["state_changed"] < utc_cutoff]
    # every value left is dated 02/04, the first read after the day, and is the baseline
    assert {r["read_at"] for r in after["history_values"]} == {"2023-04-01 18:00:00.000000"}
    assert all(r["initial"] for r in after["history_values"])
    assert changes.empty  # so none reads as an edit from a blank cell
    values = {r["key"]: r["value"] for r in after["history_values"]}
    assert values[KEY] == str(int(answers_for(config, "P01")[KEY]) + 1)
    assert values[LATER] == str(lived.third["P01"][LATER])
    assert set(values) == {r["key"] for r in before["history_values"]}
    # what was erased is gone from the file itself, not only from its tables
    raw = b"".join(p.read_bytes() for p in state.glob(f"{FILE_NAME}*"))
    assert b"QZ9" in raw and b"QX7" not in raw
    # the other unit is untouched, and so are P01's files of after the day
    assert rows_of(state, "P02") == p02
    assert not (tmp_path / "google" / "snapshots" / "P01.json").exists()
    assert (tmp_path / "google" / "snapshots" / "P02.json").exists()
    assert sorted(p.relative_to(state / "outbox").as_posix()
                  for p in (state / "outbox").rglob("*.eml")) == [
        "2023-03-20/P02.eml", "2023-04-02/P01.eml", "2023-04-02/P02.eml"]

    # the next night goes on from there: P01 is submitted again, no edit is seen
    lived("r4", at(3, 4), lived.third)
    with History(folder=state) as history:
        assert history.changes(unit="P01", include_initial=False).empty
        assert ReviewStore(history, core.review_period(config)).unit_state(
            "P01") == core.SUBMITTED
    # erasing again finds nothing and records nothing more
    _, said = erase(lived, "P01", "--before", "30/03/2023", code=0)
    assert said == ("Lịch sử không có gì của đơn vị P01 ghi nhận trước ngày 30/03/2023; không "
                    "xoá gì.")
    with History(folder=state) as history:
        assert len(Eraser(history).log()) == 1


def test_an_erase_not_confirmed_changes_nothing(lived, tmp_path):
    kept = {code: rows_of(lived.state, code) for code in ("P01", "P02")}
    for answer in ("n\n", ""):  # no, or no answer at all (end of input)
        _, said = erase(lived, "P01", "--before", "2023-03-30", answer=answer, code=1)
        assert said.endswith("Chưa xoá gì của đơn vị P01.")
    assert {code: rows_of(lived.state, code) for code in ("P01", "P02")} == kept
    assert (tmp_path / "google" / "snapshots" / "P01.json").exists()
    with History(folder=lived.state) as history:
        assert Eraser(history).log() == []


def test_yes_skips_the_question(lived):
    _, said = erase(lived, "P01", "--before", "2023-03-30", "--yes", code=0)
    assert "Gõ y để xoá" not in said and said.startswith("Đã xoá lịch sử của đơn vị P01")
    with History(folder=lived.state) as history:
        [logged] = Eraser(history).log()
    assert logged["by"]  # the login name when --by is not given


@pytest.mark.parametrize(("args", "message"), [
    (["X99", "--before", "2023-03-30"],
     "Không có đơn vị mã “X99” trong danh sách đơn vị (units.yaml) cũng như trong lịch sử số "
     "liệu. Chỉ ghi các mã có trong danh sách: P01, P02, P03, X01, X02, X03."),
    (["P01", "--before", "2023-02-30"],
     "Ngày “2023-02-30” sau --before không hợp lệ. Ghi ngày dạng YYYY-MM-DD hoặc dd/mm/yyyy, "
     "ví dụ --before 2025-01-01: mọi thứ ghi nhận trước ngày đó bị xoá."),
    (["P01", "--before", "tuần trước"],
     "Ngày “tuần trước” sau --before không hợp lệ. Ghi ngày dạng YYYY-MM-DD hoặc dd/mm/yyyy, "
     "ví dụ --before 2025-01-01: mọi thứ ghi nhận trước ngày đó bị xoá."),
])
def test_a_wrong_unit_or_day_is_refused_in_vietnamese(lived, args, message):
    kept = rows_of(lived.state, "P01")
    _, said = erase(lived, *args, answer="y\n", code=2)
    assert said == message
    assert rows_of(lived.state, "P01") == kept


def test_no_history_in_the_state_folder_is_refused(cli, tmp_path):
    result = cli("erase", "P01", "--before", "2023-03-30", "--state", tmp_path / "khong-co",
                 "--yes", code=2)
    assert " ".join(result.output.split()) == (
        f"Không có lịch sử số liệu trong “{tmp_path / 'khong-co'}”. Lịch sử được ghi vào <thư "
        "mục kết quả>/state sau mỗi lần tổng hợp; chỉ đúng thư mục bằng --state.")
