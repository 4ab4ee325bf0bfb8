"""Audit history: changes only, deletions, late edits, completion evidence, concurrent writers.

Every test of the store itself runs twice: on SQLite (a file in the state folder, the default)
and on a real PostgreSQL server (`GIAMSAT_HISTORY_URL`; the `postgres` fixture, skipped where
PostgreSQL is not installed; CI installs it).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from helpers import rendered
from rich.console import Console
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError

from flows.cli.history_view import history_table, print_history
from flows.config import ConfigError
from flows.core.audit import canonical, completion_dates, late_edit_findings
from flows.core.findings import WARNING
from flows.core.locate import Locator
from flows.core.timeliness import end_of_day
from flows.store.history import (
    FILE_NAME,
    HISTORY_URL_ENV,
    PG_LOCK_KEY,
    History,
    HistoryUnusable,
    as_unusable,
    values_table,
)

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


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def new_database(backend, tmp_path, request):
    """A function returning the URL of a new, empty database on the test's backend."""
    if backend == "sqlite":
        return lambda name="history": f"sqlite:///{tmp_path / name}.sqlite"
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    return request.getfixturevalue("postgres").database


@pytest.fixture
def history(backend, new_database, tmp_path) -> History:
    """The history of a state folder: the SQLite file in it, or a PostgreSQL database named
    by URL, which takes the folder's place."""
    url = None if backend == "sqlite" else new_database()
    store = History(url=url, folder=tmp_path / "state")
    yield store
    store.close()


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def night(history: History, run: str, read: datetime, cells: dict, complete: bool = False,
          modified: datetime | None = None, unit: str = "P01") -> int:
    return history.record(run, read, values(cells, unit),
                          status(unit, complete=complete, modified=modified))


def late(history: History, locator=None) -> list:
    return rendered(late_edit_findings(history.changes(include_initial=False),
                                       history.completion_evidence(), DEADLINE, HCM, NAMES,
                                       locator))


# --------------------------------------------------------------------------- storing changes


def test_three_identical_nights_store_the_values_once(history, backend, tmp_path):
    written = [night(history, f"run-{d}", at(d, 1), BASE) for d in (20, 21, 22)]
    assert written == [3, 0, 0]
    if backend == "sqlite":
        assert (tmp_path / "state" / FILE_NAME).is_file()
    else:  # the URL takes the folder's place: nothing is written there
        assert not (tmp_path / "state").exists()
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


def test_a_long_run_id_and_key_are_stored_as_they_are(history):
    """No length limit on either backend (PostgreSQL would refuse what VARCHAR(n) can't
    hold, where SQLite stores it)."""
    run, indicator = "lan-chay-" + "x" * 300, "B" * 400
    assert night(history, run, at(20, 1), {(indicator, "", 2021): 1}) == 1
    assert history.changes("P01")[["key", "run_id"]].values.tolist() == [
        [f"{indicator}||2021", run]]


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


def test_two_writers_at_once_neither_corrupt_nor_duplicate(backend, new_database, request):
    url = new_database("shared")
    if backend == "postgresql":
        # an office whose server starts every transaction in REPEATABLE READ: a writer must
        # still see what the one before it committed while it waited for the lock
        postgres = request.getfixturevalue("postgres")
        postgres.sql(f'ALTER DATABASE "{postgres.name_of(url)}" '
                     "SET default_transaction_isolation = 'repeatable read'")
    # The database exists before the writers race, so what races is `record` and its write
    # lock alone; two writers creating the database at once is the next test's.
    creator = History(url=url)
    creator.changes()
    writers = [History(url=url) for _ in range(6)]  # as separate processes
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
    if backend == "sqlite":
        with sqlite3.connect(creator.path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert db.execute("SELECT count(*) FROM history_values").fetchone() == (len(cells),)
            assert db.execute("SELECT count(*) FROM history_runs").fetchone() == (7,)
    assert count(url, "history_values") == len(cells)
    assert count(url, "history_runs") == 7
    assert count(url, "history_status") == 7
    for writer in [creator, *writers]:
        writer.close()


# One writer in its own process: it reads the frames on its first line of input, says
# "ready", waits for "go" on the next, records, and prints how many rows it wrote.
WRITER = """
import json, sys
from datetime import datetime
import pandas as pd
from flows.store.history import History
frames = json.loads(sys.stdin.readline())
values, status = pd.DataFrame(frames["values"]), pd.DataFrame(frames["status"])
print("ready", flush=True)
sys.stdin.readline()
with History(url=sys.argv[1]) as history:
    print(history.record(sys.argv[2], datetime.fromisoformat(frames["read_at"]), values, status))
"""


def test_two_processes_recording_the_same_run_on_a_new_database_write_it_once(new_database):
    """Two runs of the same night start at once, each in its own process, on a database that
    has no table yet: one creates the tables and records the run, the other finds it
    recorded and writes nothing."""
    url = new_database("two-processes")
    cells = {("B1.1", "", year): year - 2000 for year in range(2000, 2060)}
    frames = json.dumps({"values": values(cells).to_dict("list"),
                         "status": status(complete=True, modified=at(19, 22)).to_dict("list"),
                         "read_at": at(20, 1).isoformat()})
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, "night-20"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    for writer in writers:
        writer.stdin.write(frames + "\n")
        writer.stdin.flush()
    assert [writer.stdout.readline() for writer in writers] == ["ready\n"] * 2
    for writer in writers:  # both have imported everything: they record at the same moment
        writer.stdin.write("go\n")
        writer.stdin.flush()
    said = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    assert sorted(int(out) for out in said) == [0, len(cells)]
    assert count(url, "history_values") == len(cells)
    assert (count(url, "history_status"), count(url, "history_runs")) == (1, 1)
    with History(url=url) as history:
        assert history.changes("P01")["key"].tolist() == [f"B1.1||{y}" for y in range(2000, 2060)]
        assert history.first_complete() == {"P01": at(19, 22)}


def test_a_reader_sees_one_snapshot_while_a_run_is_recorded(history):
    """A reading (the CLI's history, the review) spans several queries: a run recorded in the
    middle of it is seen by none of them, on either backend."""
    night(history, "r1", at(20, 1), BASE)
    writer = History(url=history.url)
    try:
        with history._read() as conn:
            rows = select(func.count()).select_from(values_table)
            before = conn.execute(rows).scalar_one()
            assert night(writer, "r2", at(21, 1), {**BASE, ("B1.1", "", 2021): 15}) == 1
            assert conn.execute(rows).scalar_one() == before == 3
    finally:
        writer.close()
    assert len(history.changes("P01")) == 4  # a new reading sees it


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


def test_a_postgresql_writer_waits_for_the_lock_and_past_the_wait_is_told_locked(
        postgres, monkeypatch):
    """Like SQLite's busy timeout: a writer waits while another holds the history's lock (a
    night run still recording), then records; held past the wait, it gives up as "locked"."""
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    from flows.store import history as store

    url = postgres.database("locked")
    holder = create_engine(url)
    other = holder.connect()
    # should the writer wait without end, the server ends the holder's transaction
    other.exec_driver_sql("SET idle_in_transaction_session_timeout = '20s'")
    other.commit()
    other.begin()
    other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.5)
    history = History(url=url)
    try:
        with pytest.raises(HistoryUnusable) as creating:  # creating the tables waits too
            night(history, "r1", at(20, 1), BASE)
        assert creating.value.reason == "locked"
        assert "lock timeout" in creating.value.detail
        other.rollback()
        assert night(history, "r1", at(20, 1), BASE) == 3
        other.begin()
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        with pytest.raises(DBAPIError) as recording:  # the flow turns it into a finding
            night(history, "r2", at(21, 1), {**BASE, ("B1.1", "", 2021): 15})
        assert as_unusable(recording.value).reason == "locked"
        monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 30.0)
        threading.Timer(1.0, other.rollback).start()  # the other run ends a second later
        began = time.monotonic()
        assert night(history, "r2", at(21, 1), {**BASE, ("B1.1", "", 2021): 15}) == 1
        assert time.monotonic() - began >= 0.9
    finally:
        history.close()
        other.close()
        holder.dispose()


def test_a_postgresql_server_out_of_reach_or_without_the_database_cannot_be_opened(
        postgres, free_port):
    """Neither is a damaged history: the run says "không mở được", nothing is set aside."""
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    exists = postgres.database("exists")
    missing = exists.removesuffix(postgres.name_of(exists)) + "khong_co"
    for url in (f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/giamsat", missing):
        with History(url=url) as history:
            with pytest.raises(HistoryUnusable) as caught:
                history.changes()
            assert caught.value.reason == "cannot-open"
            assert history.path is None


def test_a_postgresql_url_without_a_driver_or_with_prefects_uses_psycopg():
    """An office copies `postgresql://…` from its server's documentation, or Prefect's own
    `postgresql+asyncpg://…`: both open the same database with psycopg."""
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    for url in ("postgresql://giamsat@db.example.vn/giamsat",
                "postgres://giamsat@db.example.vn/giamsat",
                "postgresql+asyncpg://giamsat@db.example.vn/giamsat",
                "postgresql+psycopg://giamsat@db.example.vn/giamsat"):
        with History(url=url) as history:
            assert history.engine.dialect.driver == "psycopg"
            assert history.engine.url.database == "giamsat"
            assert history.url == url


def readme_block(marker: str) -> str:
    """The fenced bash block between `<!-- marker -->` and `<!-- /marker -->` in README.md."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```\s*<!-- /{marker} -->", readme,
                      re.DOTALL)
    assert found, f"README has no {marker} block"
    return found.group(1)


def test_the_readmes_role_and_database_are_all_the_history_needs(postgres):
    """README's commands, as an office types them (the SQL of its `sudo -u postgres psql`
    lines, its URL): a login role, not a superuser, and a UTF-8 database it owns; the history
    creates its tables there on its first run (since PostgreSQL 15 only the owner may) and
    reads back the Vietnamese text as typed. (The test server trusts loopback: the password
    itself is not checked.)"""
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    unique = f"giamsat_{uuid.uuid4().hex[:10]}"  # roles belong to the whole server
    statements = re.findall(r'^sudo -u postgres psql -c "(.+)"$',
                            readme_block("postgres-database"), re.MULTILINE)
    assert [sql.split()[:2] for sql in statements] == [["CREATE", "ROLE"],
                                                       ["CREATE", "DATABASE"]]
    for sql in statements:
        postgres.sql(re.sub(r"\bgiamsat\b", unique, sql))
    (url,) = re.findall(rf"^export {HISTORY_URL_ENV}=(\S+)$", readme_block("postgres-url"),
                        re.MULTILINE)
    url = re.sub(r"\bgiamsat\b", unique, url).replace(":5432/", f":{postgres.port}/")
    with History(url=url) as history:
        assert night(history, "r1", at(20, 1), BASE) == 3
        assert history.changes("P01", "TT.3||")["new"].tolist() == ["Trần Văn Bình"]
    owners = postgres.sql("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename LIKE "
                          "'history_%'", unique)
    assert owners == unique
    assert postgres.sql(f"SELECT rolsuper FROM pg_roles WHERE rolname = '{unique}'") == "f"


def test_keys_are_listed_in_the_same_order_on_every_backend(history):
    """PostgreSQL sorts text by the database's collation (the test server's is Vietnamese,
    where "|" comes before the digits); the history lists keys by code point on both."""
    night(history, "r1", at(20, 1), {("B1.1", "", 2021): 1, ("B1.10", "", 2021): 2,
                                     ("B1.1a", "", None): 3, ("a9", "", None): 4})
    night(history, "r2", at(20, 1), BASE, unit="P02")
    assert history.known_keys("P01") == ["B1.10||2021", "B1.1a||", "B1.1||2021", "a9||"]
    assert history.known_units() == ["P01", "P02"]


def test_the_values_as_of_a_moment_are_what_the_runs_before_it_left(history):
    assert history.values_as_of("P01", at(20, 2)) is None  # no run had read it
    night(history, "r1", at(20, 1), BASE)
    changed = {**BASE, ("B1.1", "", 2021): 15}
    del changed[("TT.3", "", None)]
    night(history, "r2", at(21, 1), changed)
    before = history.values_as_of("P01", at(21, 1))  # strictly before: r1 only
    assert list(zip(before["key"], before["value"], strict=True)) == [
        ("B1.1||2021", "12"), ("B1.1||2022", "7"), ("TT.3||", "Trần Văn Bình")]
    after = history.values_as_of("P01", at(21, 1, 1))
    assert list(zip(after["key"], after["value"], after["read_at"], strict=True)) == [
        ("B1.1||2022", "7", at(20, 1)), ("B1.1||2021", "15", at(21, 1))]


def test_the_tests_postgresql_is_a_loopback_server_prefect_can_use(postgres):
    """The server the PostgreSQL tests (and a Prefect server on PostgreSQL) run on: a real
    one on 127.0.0.1, trusting loopback only, Vietnamese collation and time zone, pg_trgm."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    url = postgres.asyncpg_url(postgres.database("prefect", extensions=("pg_trgm",)))
    assert url.startswith(f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/prefect_")

    async def ask() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [(await conn.execute(text(query))).all() for query in (
                    "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'",
                    "SELECT current_setting('listen_addresses'), current_setting('TimeZone')",
                    "SELECT type, address FROM pg_hba_file_rules ORDER BY line_number",
                    "SELECT 'B1.1||2021' < 'B1.10||2021'")]
        finally:
            await engine.dispose()

    assert asyncio.run(ask()) == [[("pg_trgm",)], [("127.0.0.1", "Asia/Ho_Chi_Minh")],
                                  [("local", None), ("host", "127.0.0.1")], [(True,)]]
    assert postgres.started_in < 30  # about 1 s on an idle machine: initdb, then pg_ctl start


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
