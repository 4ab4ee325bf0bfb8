"""Audit history: changes only, deletions, late edits, completion evidence, concurrent writers."""

from __future__ import annotations

import io
import sqlite3
import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from helpers import rendered
from rich.console import Console
from sqlalchemy import event

from flows.cli.history_view import history_table, print_history
from flows.config import ConfigError
from flows.core.audit import canonical, completion_dates, late_edit_findings
from flows.core.findings import WARNING
from flows.core.locate import Locator
from flows.core.timeliness import end_of_day
from flows.store.history import FILE_NAME, HISTORY_URL_ENV, History

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE = date(2023, 3, 31)
NAMES = {"P01": "Phường Tứ Hạ", "P02": "Phường Hương Văn"}
SHEET = "B. Bảo đảm quyền trẻ em"
BASE = {("B1.1", "", 2021): 12, ("B1.1", "", 2022): 7, ("TT.3", "", None): "Trần Văn Bình"}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A local time in Huế, 2023."""
    return datetime(2023, month, day, hour, minute, tzinfo=HCM)


def values(cells: dict[tuple, object], unit: str = "P01") -> pd.DataFrame:
    frame = pd.DataFrame([(unit, i, b, y, v) for (i, b, y), v in cells.items()],
                         columns=["unit_code", "indicator", "breakdown", "year", "value"])
    frame["year"] = frame["year"].astype("Int64")
    frame["sheet"], frame["cell"] = SHEET, [f"E{9 + n}" for n in range(len(frame))]
    return frame


def status(unit: str = "P01", complete: bool = False, modified: datetime | None = None,
           found: bool = True, completeness: float = 80.0) -> pd.DataFrame:
    return pd.DataFrame([{
        "unit_code": unit, "unit_name": NAMES.get(unit, unit), "found": found, "access": "",
        "submission_status": "Đã hoàn thành" if complete else "Đang nhập",
        "complete": complete, "completeness": 100.0 if complete else completeness,
        "modified": modified.astimezone(UTC).isoformat() if modified else ""}])


@pytest.fixture
def history(tmp_path) -> History:
    store = History(folder=tmp_path / "state")
    yield store
    store.close()


def night(history: History, run: str, read: datetime, cells: dict, complete: bool = False,
          modified: datetime | None = None, unit: str = "P01") -> int:
    return history.record(run, read, values(cells, unit),
                          status(unit, complete=complete, modified=modified))


def late(history: History, locator=None) -> list:
    return rendered(late_edit_findings(history.changes(include_initial=False),
                                       history.completion_evidence(), DEADLINE, HCM, NAMES,
                                       locator))


# --------------------------------------------------------------------------- storing changes


def test_three_identical_nights_store_the_values_once(history, tmp_path):
    written = [night(history, f"run-{d}", at(d, 1), BASE) for d in (20, 21, 22)]
    assert written == [3, 0, 0]
    assert (tmp_path / "state" / FILE_NAME).is_file()
    assert len(history.changes("P01")) == 3
    assert len(history.status_log("P01")) == 3  # the status is dated every night


def test_the_same_value_has_one_text_form():
    assert canonical(12) == canonical(12.0) == canonical(np.int64(12)) == "12"
    assert canonical(12.5) == "12.5" and canonical(date(2023, 3, 10)) == "2023-03-10"
    assert canonical(None) is canonical(float("nan")) is canonical(pd.NA) is canonical(" ") is None
    assert canonical("Hoa\u0300") == "Hoà"  # NFD typed on a Mac equals the NFC one


def test_a_change_a_deletion_and_a_return_are_each_stored_once(history):
    night(history, "r1", at(20, 1), BASE)
    changed = {**BASE, ("B1.1", "", 2021): 15}
    del changed[("TT.3", "", None)]
    assert night(history, "r2", at(21, 1), changed) == 2
    assert night(history, "r3", at(22, 1), changed) == 0
    assert night(history, "r4", at(23, 1), {**changed, ("TT.3", "", None): "Lê Thị Hoa"}) == 1
    log = history.changes("P01", include_initial=False)
    assert list(zip(log["key"], log["old"], log["new"], strict=True)) == [
        ("B1.1||2021", "12", "15"), ("TT.3||", "Trần Văn Bình", None),
        ("TT.3||", None, "Lê Thị Hoa")]
    one = history.changes("P01", "TT.3||")
    assert list(one["new"]) == ["Trần Văn Bình", None, "Lê Thị Hoa"]  # None: the marker
    assert list(one["run_id"]) == ["r1", "r2", "r4"]
    assert one["read_at"].iloc[1] == at(21, 1) and one["read_at"].iloc[1].tzinfo is UTC


def test_a_unit_not_read_tonight_is_not_deleted(history):
    night(history, "r1", at(20, 1), BASE)
    gone = history.record("r2", at(21, 1), values({}), status(found=False))
    unreachable = history.record("r3", at(22, 1), values({}), status().assign(
        access="không truy cập được"))
    assert gone == unreachable == 0
    assert history.changes("P01")["new"].notna().all()


def test_recording_the_same_run_twice_writes_nothing(history):
    assert night(history, "r1", at(20, 1), BASE) == 3
    assert night(history, "r1", at(20, 1), {("B1.1", "", 2021): 99}) == 0
    assert len(history.status_log()) == 1


def test_a_naive_read_time_is_refused(history):
    with pytest.raises(ValueError, match="múi giờ"):
        history.record("r1", datetime(2023, 3, 20, 1), values(BASE), status())


# --------------------------------------------------------------------------- late edits


def test_a_change_at_2330_on_the_deadline_day_is_on_time_and_0030_next_day_is_late(history):
    night(history, "r1", at(30, 1), BASE)
    night(history, "r2", at(31, 23, 30), {**BASE, ("B1.1", "", 2021): 13})
    assert late(history) == []
    night(history, "r3", at(1, 0, 30, month=4), {**BASE, ("B1.1", "", 2021): 15})
    (finding,) = late(history)
    assert finding.rule == "changed-after-deadline" and finding.severity == WARNING
    assert finding.message == ("Giá trị ô này đổi từ 13 thành 15 lúc 00:30 ngày 01/04/2023, "
                               "sau hạn báo cáo 31/03/2023.")
    assert "Phòng LĐTBXH" in finding.instruction and "(13)" in finding.instruction
    assert (finding.unit_code, finding.unit_name, finding.indicator, finding.year) == (
        "P01", "Phường Tứ Hạ", "B1.1", 2021)
    assert late(history)[0].finding_id == finding.finding_id  # stable across runs


def test_the_sheet_modified_time_dates_a_change_seen_the_next_night(history):
    night(history, "r1", at(30, 1), BASE)
    # Read at 01:00 on 01/04, but the workbook was last edited at 23:30 on the deadline day.
    night(history, "r2", at(1, 1, month=4), {**BASE, ("B1.1", "", 2021): 13},
          modified=at(31, 23, 30))
    assert late(history) == []
    night(history, "r3", at(2, 1, month=4), {**BASE, ("B1.1", "", 2021): 14},
          modified=at(1, 0, 30, month=4))
    (finding,) = late(history)
    assert "lúc 00:30 ngày 01/04/2023" in finding.message


def test_a_deletion_after_the_deadline_is_late_but_a_blank_filled_late_is_not(history):
    night(history, "r1", at(30, 1), {("B1.1", "", 2021): 12})
    night(history, "r2", at(2, 1, month=4), {("B1.1", "", 2022): 7})
    (finding,) = late(history)  # only the deletion: filling 2022 late is plain lateness
    assert finding.message.startswith("Giá trị ô này bị xoá (trước là 12) lúc 01:00 ngày 02/04")
    assert finding.value == ""


def test_a_change_after_the_unit_declared_complete(history):
    night(history, "r1", at(20, 1), BASE)
    night(history, "r2", at(25, 1), {**BASE, ("B1.1", "", 2022): 8}, complete=True,
          modified=at(24, 16, 5))
    assert late(history) == []  # the change that completed the form is not "after"
    night(history, "r3", at(27, 1), {**BASE, ("B1.1", "", 2022): 9}, complete=True)
    (finding,) = late(history)
    assert finding.rule == "changed-after-complete"
    assert finding.message == ("Giá trị ô này đổi từ 8 thành 9 lúc 01:00 ngày 27/03/2023, sau "
                               "khi đơn vị đã báo hoàn thành (ghi nhận lúc 01:00 ngày 25/03/2023).")


def test_a_late_edit_points_at_the_cell_where_the_value_is_now(history, layout):
    night(history, "r1", at(30, 1), BASE)
    night(history, "r2", at(2, 1, month=4), {**BASE, ("B1.1", "", 2021): 15})
    now = values({**BASE, ("B1.1", "", 2021): 15}).assign(cell=["H40", "I40", "E11"])
    (finding,) = late(history, Locator(now, layout))
    assert (finding.sheet, finding.cell) == (SHEET, "H40")


# --------------------------------------------------------------------------- completion


def test_first_complete_prefers_the_plausible_modified_time(history):
    night(history, "r1", at(20, 1), BASE, unit="P01")
    night(history, "r2", at(21, 1), BASE, complete=True, modified=at(20, 22, 15), unit="P01")
    night(history, "r3", at(22, 1), BASE, complete=True, unit="P01")
    night(history, "a", at(20, 1), BASE, unit="P02")
    # An edit time before the last incomplete read cannot be when it became complete.
    night(history, "b", at(22, 1), BASE, complete=True, modified=at(19, 9), unit="P02")
    assert history.first_complete() == {"P01": at(20, 22, 15), "P02": at(22, 1)}
    evidence = history.completion_evidence()
    assert evidence["P01"].seen_complete_at == at(21, 1)
    assert evidence["P01"].seen_incomplete_at == at(20, 1)
    # Reads before `since` are ignored: P02's edit time is then the only evidence left.
    assert history.first_complete(since=at(22, 0)) == {"P01": at(22, 1), "P02": at(19, 9)}


def test_a_replay_of_a_past_day_ignores_what_was_read_after_it(history):
    """Replaying 31/03 on 05/04 must not know that P02 was complete on 03/04; a read at 23:59
    on the day itself counts."""
    night(history, "a1", at(30, 1), BASE, unit="P01")
    night(history, "a2", at(31, 23, 59), BASE, complete=True, unit="P01")
    night(history, "b1", at(30, 1), BASE, unit="P02")
    night(history, "b2", at(3, 1, month=4), BASE, complete=True, modified=at(2, 21, month=4),
          unit="P02")
    assert history.first_complete() == {"P01": at(31, 23, 59), "P02": at(2, 21, month=4)}
    assert set(history.completion_evidence(until=end_of_day(DEADLINE, HCM))) == {"P01"}
    # an edit read on 03/04 is not a late edit of a replay as of the deadline day
    night(history, "a3", at(3, 1, month=4), {**BASE, ("B1.1", "", 2021): 13}, complete=True,
          unit="P01")
    changes = history.changes(include_initial=False)
    assert [f.rule for f in late_edit_findings(changes, history.completion_evidence(), DEADLINE,
                                               HCM, NAMES)] == ["changed-after-deadline"]
    until = end_of_day(DEADLINE, HCM)
    assert late_edit_findings(changes, history.completion_evidence(until=until), DEADLINE, HCM,
                              NAMES, until=until) == []


def completion_status(typed: dict[str, str], complete: bool = True) -> pd.DataFrame:
    return pd.DataFrame([{"unit_code": code, "unit_name": NAMES.get(code, code),
                          "completion_date": text, "complete": complete}
                         for code, text in typed.items()])


def test_completion_dates_from_the_evidence():
    first = {"P01": at(28, 22), "P02": at(28, 22), "P03": at(28, 22), "X01": at(28, 22)}
    incomplete = {"X01": at(27, 1)}
    typed = {"P01": "", "P02": "2023-03-29", "P03": "2023-04-05", "X01": "2023-03-20",
             "X02": "2023-03-15"}
    dates, findings = completion_dates(first, completion_status(typed), HCM, incomplete)
    findings = rendered(findings)
    # No date typed: the evidence; within a day: the typed date; 5 days after the evidence or
    # a week before a read that still saw it incomplete: the evidence, with a warning; no
    # evidence (the history began later): the typed date.
    assert list(dates) == ["2023-03-28", "2023-03-29", "2023-03-28", "2023-03-28", "2023-03-15"]
    assert [f.unit_code for f in findings] == ["P03", "X01"]
    assert {f.rule for f in findings} == {"completion-date-disagrees"}
    assert findings[0].message.startswith("Ngày hoàn thành ghi trong biểu là 05/04/2023, muộn hơn")
    assert "lúc 01:00 ngày 27/03/2023 biểu vẫn chưa hoàn thành" in findings[1].message
    assert findings[1].expected == "28/03/2023"


def test_completion_dates_leave_units_not_complete_alone():
    dates, findings = completion_dates({"P01": at(28, 22)},
                                       completion_status({"P01": ""}, complete=False), "UTC")
    assert list(dates) == [""] and findings == []


def test_a_disagreeing_date_points_at_the_completion_date_cell(layout):
    locator = Locator(values(BASE), layout)
    _, (finding,) = completion_dates({"P01": at(28, 22)},
                                     completion_status({"P01": "2023-04-10"}), HCM,
                                     locator=locator)
    cell = layout.role("completion_date")
    assert (finding.sheet, finding.cell, finding.indicator) == (cell.sheet, cell.cell,
                                                                cell.indicator)


# --------------------------------------------------------------------------- URLs, concurrency


def test_urls_from_the_argument_the_environment_or_a_folder(tmp_path, monkeypatch):
    explicit = History(url=f"sqlite:///{tmp_path / 'a.sqlite'}")
    explicit.record("r1", at(20, 1), values(BASE), status())
    assert (tmp_path / "a.sqlite").is_file()
    monkeypatch.setenv(HISTORY_URL_ENV, f"sqlite:///{tmp_path / 'env.sqlite'}")
    assert History(folder=tmp_path).url.endswith("env.sqlite")
    monkeypatch.delenv(HISTORY_URL_ENV)
    assert History(folder=tmp_path).url == f"sqlite:///{tmp_path.resolve() / FILE_NAME}"
    with pytest.raises(ConfigError, match="thư mục"):
        History()
    with pytest.raises(ConfigError, match="không hợp lệ"):
        History(url="không phải url")
    with pytest.raises(ConfigError, match="SQLite hoặc PostgreSQL"):
        History(url="mysql://u@localhost/giamsat")


def test_a_postgresql_url_is_accepted_without_connecting():
    url = "postgresql+psycopg://giamsat:secret@db.example.vn:5432/giamsat"
    try:
        history = History(url=url)
    except ConfigError as exc:  # the driver is an optional extra
        assert "psycopg" in str(exc)
        return
    assert history.engine.dialect.name == "postgresql"
    assert history.engine.url.database == "giamsat"


def test_two_writers_at_once_neither_corrupt_nor_duplicate(tmp_path):
    path = tmp_path / "shared.sqlite"
    # The database exists before the writers race, so what races is `record` and its write
    # lock alone; two writers creating the database at once is the next test's.
    creator = History(url=f"sqlite:///{path}")
    creator.changes()
    writers = [History(url=f"sqlite:///{path}") for _ in range(6)]  # as separate processes
    cells = {("B1.1", "", year): year - 2000 for year in range(2000, 2060)}
    start = threading.Barrier(len(writers))
    written: list[int] = []

    def write(i: int, run: str) -> None:
        start.wait()
        written.append(night(writers[i], run, at(20, 1), cells))

    for runs in ([f"run-{i}" for i in range(6)], ["same"] * 6):
        threads = [threading.Thread(target=write, args=(i, r)) for i, r in enumerate(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(written) == [0] * 11 + [len(cells)]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM history_values").fetchone() == (len(cells),)
        assert db.execute("SELECT count(*) FROM history_runs").fetchone() == (7,)
    for writer in [creator, *writers]:
        writer.close()


def test_a_writer_waits_while_another_creates_the_database(tmp_path):
    """Two runs recording at once on a new state folder: while one holds the lock of the new
    database, the other waits for it, then records; it does not give up at once, `locked`."""
    path = tmp_path / "new.sqlite"
    # the other writer, in its first transaction on the new database (not WAL yet)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    history = History(url=f"sqlite:///{path}")
    refused: list[str] = []

    def release_once_refused(statement: str) -> None:
        # The writer's statements run one after another: one starting after its first try to
        # switch to WAL means that try ended, refused (the other held the lock all along).
        if refused and other.in_transaction:
            other.execute("COMMIT")
        if "journal_mode" in statement.lower():
            refused.append(statement)

    event.listen(history.engine, "connect",
                 lambda dbapi, _record: dbapi.set_trace_callback(release_once_refused),
                 insert=True)
    cells = {("B1.1", "", 2021): 12}
    try:
        assert night(history, "r1", at(20, 1), cells) == len(cells)
        assert refused and not other.in_transaction  # it was refused, then waited
    finally:
        history.close()
        other.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# --------------------------------------------------------------------------- CLI


def test_the_history_table_shows_edits_not_the_baseline(history):
    night(history, "r1", at(20, 1), BASE)
    night(history, "r2", at(1, 9, month=4), {**BASE, ("B1.1", "", 2021): 1500000},
          modified=at(1, 8, 45, month=4))
    rows = history_table(history, "P01")
    assert [(r["indicator"], r["year"], r["old"], r["new"]) for r in rows] == [
        ("B1.1", 2021, "12", "1500000")]
    assert rows[0]["modified"] == at(1, 8, 45, month=4)
    assert len(history_table(history, "P01", "B1.1||2021")) == 2  # one key: from the start
    out = io.StringIO()
    shown = print_history(history, "P01", console=Console(file=out, width=200))
    text = out.getvalue()
    assert shown == 1
    for expected in ("Giá trị cũ", "Giá trị mới", "1.500.000", "01/04/2023 08:45", "Đang nhập"):
        assert expected in text
