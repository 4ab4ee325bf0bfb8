"""Audit history: what every pull read, kept as a log of changes, and the evidence drawn from it.

Each run appends to one database, SQLite by default (``<folder>/history.sqlite``) or any
PostgreSQL server given by URL (``GIAMSAT_HISTORY_URL`` or the ``url`` argument); the same
SQLAlchemy Core code runs on both.

* ``history_values``: one row per (unit, key) only when the value differs from the latest one
  stored, or when it disappeared (value NULL: a deletion marker). The database grows with
  changes, not with nights. Rows written on a unit's first read are marked ``initial``: they are
  the baseline, not edits.
* ``history_status``: per run and unit, the submission status seen and whether the unit was
  complete, so "declared complete" can be dated from evidence rather than a typed date.
* ``history_runs``: one row per recorded run; recording the same run id twice writes nothing.

A run is written in one transaction that first takes the database's write lock (SQLite:
``BEGIN IMMEDIATE`` in WAL mode with a busy timeout; PostgreSQL: a transaction-level advisory
lock, waited for as long, in READ COMMITTED whatever the server's default, so the writer sees
what the previous one committed), so two processes recording at once serialise instead of
duplicating rows. A reader sees one snapshot on both (SQLite: a WAL read transaction;
PostgreSQL: REPEATABLE READ, read only). Both backends are tested against the real thing
(tests/test_history.py runs on SQLite and on a throwaway PostgreSQL server).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError
from sqlalchemy.types import TypeDecorator

from flows.config import ConfigError
from flows.core.audit import (
    CompletionEvidence,
    canonical,
    completion_evidence,
    require_aware,
    value_keys,
)

HISTORY_URL_ENV = "GIAMSAT_HISTORY_URL"
FILE_NAME = "history.sqlite"
BUSY_TIMEOUT_S = 30.0
PG_LOCK_KEY = 0x6769616D  # "giam": one advisory lock for every writer of the history
PG_CONNECT_TIMEOUT_S = 10  # an unreachable server is reported, not waited for all night
# a PostgreSQL URL without a driver, or with an asynchronous one (Prefect's
# postgresql+asyncpg://, copied from its settings), is opened with psycopg, the `postgres` extra
_PG_SYNC_DRIVERS = ("psycopg", "psycopg2", "pg8000")
DEFAULT_OFFICE = "Phòng LĐTBXH"
CHANGE_COLUMNS = ["unit_code", "key", "old", "new", "read_at", "modified", "run_id", "initial"]


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type: values are stored as naive UTC text and tagged UTC on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"thời điểm không có múi giờ: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite needs INTEGER (not BIGINT) for an auto-incrementing rowid primary key. Text, not
# VARCHAR(n): PostgreSQL refuses a longer value where SQLite stores it, so a long run id
# or key would stop the history on one backend only.
_Id = BigInteger().with_variant(Integer(), "sqlite")
metadata = MetaData()
runs_table = Table(
    "history_runs", metadata,
    Column("run_id", Text, primary_key=True),
    Column("read_at", UTCDateTime, nullable=False),
    Column("rows_written", Integer, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
values_table = Table(
    "history_values", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=True),  # NULL: the value disappeared
    Column("read_at", UTCDateTime, nullable=False),
    Column("modified", UTCDateTime, nullable=True),  # the workbook's modifiedTime at that read
    Column("initial", Boolean, nullable=False),  # baseline: the unit's first recorded read
    Index("ix_history_values_unit_key_id", "unit_code", "key", "id"),
)
status_table = Table(
    "history_status", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
    Column("modified", UTCDateTime, nullable=True),
    Column("submission_status", Text, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("completeness", Float, nullable=True),
    UniqueConstraint("run_id", "unit_code", name="uq_history_status_run_unit"),
    Index("ix_history_status_unit_id", "unit_code", "id"),
)


def _instant(value: object) -> datetime | None:
    """An aware UTC datetime from a status cell (ISO text, datetime, '' or NaT)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)


def _units_read(status: pd.DataFrame) -> pd.DataFrame:
    """Units actually read this run: a workbook was found and reached (a snapshot is no read)."""
    keep = pd.Series(True, index=status.index)
    if "found" in status:
        keep &= status["found"].fillna(False).astype(bool)
    if "access" in status:
        keep &= status["access"].fillna("").astype(str).eq("")
    return status[keep].drop_duplicates("unit_code", keep="last")


# --------------------------------------------------------------------------- engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event choose how each transaction starts (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    # On a new database the switch to WAL turns a read lock into a write lock, which SQLite
    # refuses at once (no busy timeout) while another writer holds the lock: wait here instead.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the nightly writer
            break
        except sqlite3.OperationalError as exc:
            words = str(exc).lower()
            if ("locked" not in words and "busy" not in words) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, much faster
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # A writer takes the write lock before reading the latest values it compares against;
    # otherwise two writers could both see "changed" and both insert the same row.
    if connection.get_execution_options().get("history_read"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def history_url(url: str | None = None, folder: Path | str | None = None) -> str:
    """The database to use: the argument, else ``GIAMSAT_HISTORY_URL``, else a SQLite file."""
    chosen = url or os.environ.get(HISTORY_URL_ENV, "").strip()
    if chosen:
        return chosen
    if folder is None:
        raise ConfigError([f"Lịch sử: cần thư mục lưu trạng thái hoặc biến môi trường "
                           f"{HISTORY_URL_ENV} (vd postgresql+psycopg://user@host/giamsat)."])
    path = Path(folder).expanduser().resolve() / FILE_NAME
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """An engine for SQLite or PostgreSQL; other backends and missing drivers are ConfigErrors."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError([f"{HISTORY_URL_ENV}: địa chỉ cơ sở dữ liệu không hợp lệ: {url!r} "
                           "(vd sqlite:///state/history.sqlite hoặc "
                           "postgresql+psycopg://user@host/giamsat)."]) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend in ("postgresql", "postgres"):
        if parsed.drivername.partition("+")[2] not in _PG_SYNC_DRIVERS:
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args = {} if "connect_timeout" in parsed.query else {
            "connect_timeout": PG_CONNECT_TIMEOUT_S}
        try:
            # READ COMMITTED even where the server defaults to REPEATABLE READ or SERIALIZABLE:
            # a writer must see the rows the writer before it committed while it waited for
            # the lock, not a snapshot taken before (see `History._write`)
            return create_engine(parsed, pool_pre_ping=True, isolation_level="READ COMMITTED",
                                 connect_args=connect_args)
        except ModuleNotFoundError as exc:
            raise ConfigError([
                f"{HISTORY_URL_ENV}: chưa cài trình kết nối PostgreSQL ({exc.name}); "
                "cài gói psycopg[binary] hoặc dùng SQLite."]) from None
    raise ConfigError([f"{HISTORY_URL_ENV}: chỉ hỗ trợ SQLite hoặc PostgreSQL "
                       f"(đang ghi: {parsed.drivername!r})."])


# --------------------------------------------------------------------------- history


class HistoryUnusable(Exception):
    """The history cannot be used as it is: `reason` is ``damaged`` (not a database, or a
    broken one), ``foreign`` (another program's database), ``locked`` (another run held it
    past the wait), ``read-only`` or ``cannot-open``; `detail` is the database's own words."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# PostgreSQL's SQLSTATE classes: a server, unlike a file, is never "damaged" by being out of
# reach, refusing the role or the database, or shutting down
_PG_LOCKED = ("55P03", "40P01")  # lock_not_available (lock_timeout), deadlock_detected
_PG_READ_ONLY = ("25006", "42501")  # read-only transaction (a standby), insufficient privilege
_PG_CANNOT_OPEN = ("08", "28", "3D", "53", "57")  # connection, auth, no such database,
# insufficient resources (disk full, too many connections), operator intervention


def as_unusable(exc: DBAPIError) -> HistoryUnusable:
    """What a database error means for the history, in one of `HistoryUnusable`'s reasons."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    if type(orig).__module__.partition(".")[0] in ("psycopg", "psycopg2", "pg8000"):
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        reason = ("locked" if state in _PG_LOCKED else
                  "read-only" if state in _PG_READ_ONLY else
                  "cannot-open" if not state or state.startswith(_PG_CANNOT_OPEN) else
                  "damaged")  # the server ran our SQL and refused it: a schema not ours
        return HistoryUnusable(reason, text[:200])
    for words, reason in (("not a database", "damaged"), ("malformed", "damaged"),
                          ("locked", "locked"), ("busy", "locked"), ("readonly", "read-only"),
                          ("read-only", "read-only"), ("unable to open", "cannot-open")):
        if words in text:
            return HistoryUnusable(reason, text[:200])
    return HistoryUnusable("damaged" if isinstance(exc, DatabaseError) else "cannot-open",
                           text[:200])


def _probe(path: Path) -> None:
    """Look at an existing SQLite file without changing a byte of it (read-only connection)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
                     ) as db:
            names = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        text = str(exc).lower()
        reason = "locked" if "locked" in text or "busy" in text else "damaged"
        raise HistoryUnusable(reason, text[:200]) from None
    if names and not names & set(metadata.tables):
        raise HistoryUnusable("foreign", ", ".join(sorted(names)[:5]))


def _refuse_foreign(conn: Connection) -> None:
    """A database that holds tables but none of ours belongs to another program."""
    names = set(inspect(conn).get_table_names())
    if names and not names & set(metadata.tables):
        raise HistoryUnusable("foreign", ", ".join(sorted(names)[:5]))


def set_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a damaged or foreign history file (and its WAL files) out of the way; nothing is
    deleted. Returns the new name."""
    stamp = f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}"
    aside = path.with_name(f"{path.name}.hong-{stamp}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, aside.with_name(aside.name + suffix))
    return aside


class History:
    """The audit history of one deployment (see the module docstring)."""

    def __init__(self, url: str | None = None, folder: Path | str | None = None):
        self.url = history_url(url, folder)
        self.engine = make_engine(self.url)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transactions

    def _ensure_schema(self) -> None:
        # Created lazily and under the write lock, so building a History never connects and
        # two processes starting together don't race on CREATE TABLE.
        with self._schema_lock:
            if not self._schema_ready:
                if self.path is not None and self.path.exists():
                    _probe(self.path)  # read-only: a foreign file is never touched
                try:
                    with self._write() as conn:
                        _refuse_foreign(conn)
                        metadata.create_all(conn)
                except DBAPIError as exc:
                    raise as_unusable(exc) from None
                self._schema_ready = True

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the history is one."""
        database = make_url(self.url).database
        backend = make_url(self.url).get_backend_name()
        return Path(database) if backend == "sqlite" and database and database != ":memory:" \
            else None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # waited for as long as SQLite's busy timeout, then "locked" (55P03)
                conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"),
                             {"wait": f"{int(BUSY_TIMEOUT_S * 1000)}ms"})
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._ensure_schema()
        options: dict[str, Any] = {"history_read": True}
        if self.engine.dialect.name == "postgresql":
            # one snapshot for every query of the read, as SQLite's read transaction gives:
            # a run committed between two of them is seen by neither or both
            options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with self.engine.connect().execution_options(**options) as conn:
            yield conn

    # ---------------------------------------------------------------- writing

    def record(self, run_id: str, read_at: datetime, values: pd.DataFrame,
               status: pd.DataFrame) -> int:
        """Append what one run read; returns the number of value rows written.

        `values`: unit_code, indicator, breakdown, year, value (the consolidated tidy table).
        `status`: unit_code, submission_status, complete, modified (and optionally found, access,
        completeness). Only units whose workbook was actually read are compared, so a unit whose
        file was missing or unreachable tonight keeps its values instead of being "deleted".
        Recording a run id that is already stored writes nothing and returns 0.
        """
        read_at = require_aware(read_at)
        read = _units_read(status)
        units = list(read["unit_code"].astype(str))
        modified = {str(r.unit_code): _instant(getattr(r, "modified", None))
                    for r in read.itertuples()}
        current = self._current(values, set(units))
        self._ensure_schema()
        with self._write() as conn:
            if conn.execute(select(runs_table.c.run_id)
                            .where(runs_table.c.run_id == run_id)).first():
                return 0
            known = self._units_with_status(conn, units)
            latest = self._latest(conn, units)
            changed = _diff(latest, current)
            rows = [{"run_id": run_id, "unit_code": unit, "key": key, "value": value,
                     "read_at": read_at, "modified": modified.get(unit),
                     "initial": unit not in known}
                    for unit, key, value in changed.itertuples(index=False)]
            if rows:
                conn.execute(values_table.insert(), rows)
            status_rows = [_status_row(r, run_id, read_at, modified) for r in read.itertuples()]
            if status_rows:
                conn.execute(status_table.insert(), status_rows)
            conn.execute(runs_table.insert(), [{
                "run_id": run_id, "read_at": read_at, "rows_written": len(rows),
                "recorded_at": datetime.now(UTC)}])
        return len(rows)

    @staticmethod
    def _current(values: pd.DataFrame, units: set[str]) -> pd.DataFrame:
        if values.empty or not units:
            return pd.DataFrame({"unit_code": [], "key": [], "new": []}, dtype=object)
        mine = values[values["unit_code"].astype(str).isin(units)]
        frame = pd.DataFrame({
            "unit_code": mine["unit_code"].astype(str).to_numpy(),
            "key": value_keys(mine).to_numpy(dtype=object),
            "new": [canonical(v) for v in mine["value"]],
        })
        frame = frame[frame["new"].notna()]  # a blank cell is an absent value
        return frame.drop_duplicates(["unit_code", "key"], keep="last")

    @staticmethod
    def _units_with_status(conn: Connection, units: list[str]) -> set[str]:
        if not units:
            return set()
        query = select(status_table.c.unit_code).distinct().where(
            status_table.c.unit_code.in_(units))
        return {row[0] for row in conn.execute(query)}

    @staticmethod
    def _latest(conn: Connection, units: list[str]) -> pd.DataFrame:
        """The latest stored value of every (unit, key) still present, for these units."""
        if not units:
            return pd.DataFrame({"unit_code": [], "key": [], "old": []}, dtype=object)
        last = (select(func.max(values_table.c.id))
                .where(values_table.c.unit_code.in_(units))
                .group_by(values_table.c.unit_code, values_table.c.key))
        query = (select(values_table.c.unit_code, values_table.c.key, values_table.c.value)
                 .where(values_table.c.id.in_(last)))
        frame = pd.DataFrame(conn.execute(query).all(), columns=["unit_code", "key", "old"],
                             dtype=object)
        return frame[frame["old"].notna()]

    # ---------------------------------------------------------------- reading

    def changes(self, unit: str | None = None, key: str | None = None,
                include_initial: bool = True) -> pd.DataFrame:
        """The change log: unit_code, key, old, new, read_at, modified, run_id, initial.

        `old` is the previous stored value (None: the cell was blank or the unit not yet read);
        `new` None is a deletion. Ordered by when it was recorded.
        """
        v = values_table.c
        previous = func.lag(v.value).over(partition_by=[v.unit_code, v.key], order_by=v.id)
        inner = select(v.id, v.unit_code, v.key, previous.label("old"), v.value.label("new"),
                       v.read_at, v.modified, v.run_id, v.initial)
        if unit is not None:
            inner = inner.where(v.unit_code == unit)
        if key is not None:
            inner = inner.where(v.key == key)
        sub = inner.subquery()
        query = select(*[sub.c[name] for name in CHANGE_COLUMNS]).order_by(sub.c.id)
        if not include_initial:
            query = query.where(sub.c.initial == false())
        with self._read() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=CHANGE_COLUMNS, dtype=object)

    def values_as_of(self, unit: str, moment: datetime) -> pd.DataFrame | None:
        """The unit's values as the runs read before `moment` left them: per key, the value
        recorded last by a run read before it (key, value, read_at; a value deleted by then
        is left out). None when no run had read the unit before `moment`.

        Strictly before: a decision taken at the very moment of a run was made before that run
        read (the review workbook's decisions are applied before the night is recorded)."""
        moment = require_aware(moment)
        v, s = values_table.c, status_table.c
        read = select(s.id).where(s.unit_code == unit, s.read_at < moment).limit(1)
        last = (select(func.max(v.id)).where(v.unit_code == unit, v.read_at < moment)
                .group_by(v.key))
        query = select(v.key, v.value, v.read_at).where(v.id.in_(last)).order_by(v.id)
        with self._read() as conn:
            if conn.execute(read).first() is None:
                return None
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["key", "value", "read_at"], dtype=object)
        return frame[frame["value"].notna()].reset_index(drop=True)

    def status_log(self, unit: str | None = None) -> pd.DataFrame:
        """Per run and unit: read_at, modified, submission_status, complete, completeness."""
        s = status_table.c
        query = select(s.unit_code, s.run_id, s.read_at, s.modified, s.submission_status,
                       s.complete, s.completeness).order_by(s.id)
        if unit is not None:
            query = query.where(s.unit_code == unit)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=["unit_code", "run_id", "read_at", "modified",
                                           "submission_status", "complete", "completeness"],
                            dtype=object)

    def known_units(self) -> list[str]:
        """Every unit code the history has read at least once, in code point order."""
        query = select(status_table.c.unit_code).distinct()
        with self._read() as conn:
            # sorted here: PostgreSQL's ORDER BY follows the database's collation (vi-VN puts
            # "|" before digits), SQLite's the code points
            return sorted(str(row[0]) for row in conn.execute(query))

    def known_keys(self, unit: str) -> list[str]:
        """Every value key stored for one unit, in code point order (see `known_units`)."""
        v = values_table.c
        query = select(v.key).distinct().where(v.unit_code == unit)
        with self._read() as conn:
            return sorted(str(row[0]) for row in conn.execute(query))

    def completion_evidence(self, since: datetime | None = None,
                            until: datetime | None = None) -> dict[str, CompletionEvidence]:
        """Per unit ever seen complete: when it first was (see `flows.core.audit`)."""
        return completion_evidence(self.status_log(), since, until)

    def first_complete(self, since: datetime | None = None) -> dict[str, datetime]:
        """When each unit was first complete (status done AND all required filled), aware UTC.

        The workbook's modifiedTime at the first complete read when plausible (a nightly read at
        01:00 must not make a unit that finished at 23:00 late), else that read's time.
        """
        return {unit: e.complete_at for unit, e in self.completion_evidence(since).items()}

# --------------------------------------------------------------------------- helpers


def _diff(latest: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """(unit_code, key, value) to store: changed or new values, and NULL for disappeared ones."""
    both = latest.merge(current, on=["unit_code", "key"], how="outer")
    old, new = both["old"], both["new"]
    changed = old.isna() != new.isna()
    changed |= old.notna() & new.notna() & (old.astype(object) != new.astype(object))
    out = both.loc[changed, ["unit_code", "key", "new"]]
    out = out.astype(object).where(out.notna(), None)
    return out.sort_values(["unit_code", "key"], kind="stable")


def _status_row(row: Any, run_id: str, read_at: datetime,
                modified: dict[str, datetime | None]) -> dict:
    completeness = getattr(row, "completeness", None)
    completeness = None if completeness is None or pd.isna(completeness) else float(completeness)
    status_value = getattr(row, "submission_status", "")
    return {"run_id": run_id, "unit_code": str(row.unit_code), "read_at": read_at,
            "modified": modified.get(str(row.unit_code)),
            "submission_status": "" if pd.isna(status_value) else str(status_value),
            "complete": bool(getattr(row, "complete", False)), "completeness": completeness}


