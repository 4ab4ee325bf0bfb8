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
lock), so two processes recording at once serialise instead of duplicating rows.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
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
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.types import TypeDecorator

from flows.config import ConfigError, nfc
from flows.core.findings import WARNING, Finding
from flows.core.locate import Locator
from flows.vnformat import auto, short_date

HISTORY_URL_ENV = "GIAMSAT_HISTORY_URL"
FILE_NAME = "history.sqlite"
BUSY_TIMEOUT_S = 30.0
PG_LOCK_KEY = 0x6769616D  # "giam": one advisory lock for every writer of the history
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


# SQLite needs INTEGER (not BIGINT) for an auto-incrementing rowid primary key.
_Id = BigInteger().with_variant(Integer(), "sqlite")
metadata = MetaData()
runs_table = Table(
    "history_runs", metadata,
    Column("run_id", String(200), primary_key=True),
    Column("read_at", UTCDateTime, nullable=False),
    Column("rows_written", Integer, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
values_table = Table(
    "history_values", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(200), nullable=False),
    Column("unit_code", String(64), nullable=False),
    Column("key", String(300), nullable=False),
    Column("value", Text, nullable=True),  # NULL: the value disappeared
    Column("read_at", UTCDateTime, nullable=False),
    Column("modified", UTCDateTime, nullable=True),  # the workbook's modifiedTime at that read
    Column("initial", Boolean, nullable=False),  # baseline: the unit's first recorded read
    Index("ix_history_values_unit_key_id", "unit_code", "key", "id"),
)
status_table = Table(
    "history_status", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(200), nullable=False),
    Column("unit_code", String(64), nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
    Column("modified", UTCDateTime, nullable=True),
    Column("submission_status", Text, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("completeness", Float, nullable=True),
    UniqueConstraint("run_id", "unit_code", name="uq_history_status_run_unit"),
    Index("ix_history_status_unit_id", "unit_code", "id"),
)


# --------------------------------------------------------------------------- values


def canonical(value: object) -> str | None:
    """One text form per value, so an unchanged value compares equal night after night.

    Blank (None, NaN, "") → None; 12 and 12.0 → "12"; dates → ISO; text → NFC.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text_value = nfc(str(value))
    return text_value if text_value.strip() else None


def value_keys(values: pd.DataFrame) -> pd.Series:
    """``indicator|breakdown|year`` per row, as `flows.layout.make_key` builds it."""
    year = pd.to_numeric(values["year"], errors="coerce").astype("Int64")
    return (values["indicator"].astype(str) + "|"
            + values["breakdown"].fillna("").astype(str) + "|"
            + year.astype("string").fillna(""))


def split_key(key: str) -> tuple[str, str, int | None]:
    indicator, breakdown, year = (key.split("|") + ["", ""])[:3]
    return indicator, breakdown, int(year) if year.isdigit() else None


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
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the nightly writer
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
    if backend == "postgresql":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise ConfigError([
                f"{HISTORY_URL_ENV}: chưa cài trình kết nối PostgreSQL ({exc.name}); "
                "cài gói psycopg[binary] hoặc dùng SQLite."]) from None
    raise ConfigError([f"{HISTORY_URL_ENV}: chỉ hỗ trợ SQLite hoặc PostgreSQL "
                       f"(đang ghi: {parsed.drivername!r})."])


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class CompletionEvidence:
    """When a unit was first seen complete, and the last read before that saw it incomplete.

    `complete_at` is the workbook's modifiedTime at the first complete read (the last edit before
    that read, so the unit was complete by then) when it is plausible, else the read time.
    """

    complete_at: datetime
    seen_complete_at: datetime
    seen_incomplete_at: datetime | None


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
                with self._write() as conn:
                    metadata.create_all(conn)
                self._schema_ready = True

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self.engine.connect().execution_options(history_read=True) as conn:
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
        read_at = _require_aware(read_at)
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

    def completion_evidence(self, since: datetime | None = None) -> dict[str, CompletionEvidence]:
        """Per unit ever seen complete: when it first was, and the last incomplete read before.

        `since` ignores reads before it (a database kept across several yearly plans).
        """
        log = self.status_log()
        if since is not None:
            log = log[log["read_at"] >= _require_aware(since)]
        evidence: dict[str, CompletionEvidence] = {}
        for unit, reads in log.groupby("unit_code", sort=False):
            done = reads[reads["complete"].astype(bool)]
            if done.empty:
                continue
            first = done.iloc[0]
            before = reads[(reads["read_at"] < first["read_at"])
                           & ~reads["complete"].astype(bool)]
            incomplete = before["read_at"].iloc[-1] if len(before) else None
            modified = first["modified"]
            plausible = (modified is not None and modified <= first["read_at"]
                         and (incomplete is None or modified > incomplete))
            evidence[str(unit)] = CompletionEvidence(
                complete_at=modified if plausible else first["read_at"],
                seen_complete_at=first["read_at"], seen_incomplete_at=incomplete)
        return evidence

    def first_complete(self, since: datetime | None = None) -> dict[str, datetime]:
        """When each unit was first complete (status done AND all required filled), aware UTC.

        The workbook's modifiedTime at the first complete read when plausible (a nightly read at
        01:00 must not make a unit that finished at 23:00 late), else that read's time.
        """
        return {unit: e.complete_at for unit, e in self.completion_evidence(since).items()}

    def late_edit_findings(self, deadline: date, tz: tzinfo | str,
                           unit_names: Mapping[str, str], locator: Locator | None = None,
                           office: str = DEFAULT_OFFICE,
                           since: datetime | None = None) -> list[Finding]:
        """Warnings for values edited after the deadline or after the unit declared complete.

        * ``changed-after-deadline``: an existing value changed or deleted, the change made after
          the end of the deadline day in `tz` (the workbook's modifiedTime at the read that saw
          it when present, else the read time). Blanks filled late are lateness, which the
          timeliness checks already report per unit, not a cell-by-cell warning.
        * ``changed-after-complete``: any change first seen in a read after the unit's first
          complete read (and not already late by the rule above).
        """
        zone = _zone(tz)
        deadline_end = datetime.combine(deadline + timedelta(days=1), time(0), zone)
        log = self.changes(include_initial=False)
        if since is not None:
            log = log[log["read_at"] >= _require_aware(since)]
        if log.empty:
            return []
        seen_complete = {u: e.seen_complete_at
                         for u, e in self.completion_evidence(since).items()}
        flagged = []
        for row in log.itertuples(index=False):
            when = min(row.modified, row.read_at) if row.modified is not None else row.read_at
            if row.old is not None and when >= deadline_end:
                flagged.append((row, when, "changed-after-deadline"))
                continue
            completed = seen_complete.get(row.unit_code)
            if completed is not None and row.read_at > completed:
                flagged.append((row, when, "changed-after-complete"))
        where = _locate(locator, [(r.unit_code, r.key) for r, _, _ in flagged])
        findings = []
        for row, when, rule in flagged:
            indicator, breakdown, year = split_key(row.key)
            sheet, cell = where.get((row.unit_code, row.key), ("", ""))
            moment = f"lúc {when.astimezone(zone):%H:%M} ngày {when.astimezone(zone):%d/%m/%Y}"
            old, new = show_value(row.old), show_value(row.new)
            if rule == "changed-after-deadline":
                reason = f"sau hạn báo cáo {short_date(deadline)}"
            else:
                done = seen_complete[row.unit_code].astimezone(zone)
                reason = (f"sau khi đơn vị đã báo hoàn thành (ghi nhận lúc {done:%H:%M} "
                          f"ngày {done:%d/%m/%Y})")
            verb = "bị xoá (trước là " + old + ")" if row.new is None else \
                f"đổi từ {old} thành {new}"
            findings.append(Finding(
                rule=rule, severity=WARNING, unit_code=row.unit_code,
                unit_name=unit_names.get(row.unit_code, ""), sheet=sheet, cell=cell,
                indicator=indicator, breakdown=breakdown, year=year,
                message=f"Giá trị ô này {verb} {moment}, {reason}.",
                instruction=f"Xác nhận việc sửa số liệu này với {office}; nếu sửa nhầm, "
                            f"khôi phục giá trị cũ ({old}).",
                value="" if row.new is None else new, expected="",
                key=f"late|{row.key}|{when.isoformat(timespec='seconds')}"))
        return findings


# --------------------------------------------------------------------------- helpers


def _require_aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"cần thời điểm có múi giờ (aware datetime), nhận: {moment!r}")
    return moment.astimezone(UTC)


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


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


def _locate(locator: Locator | None,
            wanted: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(unit, key) → (sheet, cell) where the value sits now (or in a pristine template)."""
    if locator is None or not wanted:
        return {}
    unique = list(dict.fromkeys(wanted))
    requests = pd.DataFrame(
        [dict(zip(("indicator", "breakdown", "year"), split_key(key), strict=True),
              unit_code=unit) for unit, key in unique])
    found = locator.locate(requests)
    return {pair: (str(s or ""), str(c or "")) for pair, s, c
            in zip(unique, found["sheet"], found["cell"], strict=True)}


_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def show_value(value: str | None, limit: int = 60) -> str:
    """A stored value as staff read it: 1.500.000, 12,5, 31/03/2023, “text”, (trống)."""
    if value is None:
        return "(trống)"
    if _INTEGER.match(value):
        return auto(int(value))
    if _DECIMAL.match(value):
        return auto(float(value))
    if _ISO_DATE.match(value):
        return short_date(date.fromisoformat(value))
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"“{shown}”"


# --------------------------------------------------------------------------- completion dates


def completion_dates(first_complete: Mapping[str, datetime], status: pd.DataFrame,
                     tz: tzinfo | str,
                     seen_incomplete: Mapping[str, datetime | None] | None = None,
                     locator: Locator | None = None,
                     tolerance_days: int = 1) -> tuple[pd.Series, list[Finding]]:
    """The completion date to use per unit, and a warning where the typed date disagrees.

    Returns a Series aligned on `status` (ISO dates, "" when none), to put in the
    `completion_date` column before `timeliness()`. Only units complete now are touched:
    * no typed date → the evidence date;
    * typed date more than `tolerance_days` after the first complete time, or more than that
      before a read that still saw the unit incomplete (`seen_incomplete`) → the evidence date
      and a ``completion-date-disagrees`` finding;
    * otherwise, and without evidence (history began after the unit finished), the typed date.
    """
    zone = _zone(tz)
    seen_incomplete = seen_incomplete or {}
    result = status["completion_date"].fillna("").astype(str).copy()
    result.name = "completion_date"
    flagged: list[tuple[int, str, date, date, str]] = []
    for idx, row in status.iterrows():
        unit = str(row["unit_code"])
        done_at = first_complete.get(unit)
        if not bool(row.get("complete", False)) or done_at is None:
            continue
        evidence = done_at.astimezone(zone)
        typed = _typed_date(row["completion_date"])
        if typed is None:
            result[idx] = evidence.date().isoformat()
            continue
        before = seen_incomplete.get(unit)
        if (typed - evidence.date()).days > tolerance_days:
            why = (f"muộn hơn thời điểm bảng tính đã đủ số liệu và chọn hoàn thành "
                   f"(lần đầu ghi nhận lúc {evidence:%H:%M} ngày {evidence:%d/%m/%Y})")
        elif before is not None and (before.astimezone(zone).date() - typed).days > \
                tolerance_days:
            seen = before.astimezone(zone)
            why = (f"nhưng lúc {seen:%H:%M} ngày {seen:%d/%m/%Y} biểu vẫn chưa hoàn thành; "
                   f"lần đầu ghi nhận hoàn thành lúc {evidence:%H:%M} "
                   f"ngày {evidence:%d/%m/%Y}")
        else:
            continue
        result[idx] = evidence.date().isoformat()
        flagged.append((idx, unit, typed, evidence.date(), why))
    findings = []
    where = _role_cell(locator, [unit for _, unit, *_ in flagged])
    for idx, unit, typed, used, why in flagged:
        sheet, cell, indicator = where.get(unit, ("", "", ""))
        findings.append(Finding(
            rule="completion-date-disagrees", severity=WARNING, unit_code=unit,
            unit_name=str(status.at[idx, "unit_name"]) if "unit_name" in status else "",
            sheet=sheet, cell=cell, indicator=indicator,
            message=f"Ngày hoàn thành ghi trong biểu là {short_date(typed)}, {why}. "
                    f"Dùng ngày {short_date(used)} để tính đúng hạn.",
            instruction="Ghi đúng ngày đơn vị hoàn thành biểu; nếu có lý do khác, trao đổi "
                        f"với {DEFAULT_OFFICE}.",
            value=short_date(typed), expected=short_date(used),
            key="completion-date-disagrees"))
    return result, findings


def _typed_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _role_cell(locator: Locator | None, units: list[str]) -> dict[str, tuple[str, str, str]]:
    if locator is None or not units:
        return {}
    indicator = locator.layout.role("completion_date").indicator
    requests = pd.DataFrame({"unit_code": units, "indicator": indicator, "breakdown": "",
                             "year": None})
    found = locator.locate(requests)
    return {u: (str(s), str(c), indicator)
            for u, s, c in zip(units, found["sheet"], found["cell"], strict=True)}


# --------------------------------------------------------------------------- CLI


def history_table(history: History, unit: str, key: str | None = None,
                  tz: tzinfo | str = "Asia/Ho_Chi_Minh",
                  include_initial: bool | None = None) -> list[dict]:
    """The change log of one unit (optionally one key) for `giamsat history UNIT [KEY]`.

    The first read of a unit stores every value; those baseline rows are hidden unless a key is
    asked for (or `include_initial`), so the table shows edits, not the whole form.
    """
    zone = _zone(tz)
    if include_initial is None:
        include_initial = key is not None
    log = history.changes(unit, key, include_initial=include_initial)
    rows = []
    for row in log.itertuples(index=False):
        indicator, breakdown, year = split_key(row.key)
        rows.append({
            "key": row.key, "indicator": indicator, "breakdown": breakdown, "year": year,
            "old": row.old, "new": row.new, "read_at": row.read_at.astimezone(zone),
            "modified": row.modified.astimezone(zone) if row.modified is not None else None,
            "run_id": row.run_id, "initial": bool(row.initial)})
    return rows


def status_changes(history: History, unit: str,
                   tz: tzinfo | str = "Asia/Ho_Chi_Minh") -> list[dict]:
    """Reads where the unit's submission status or completeness changed (the first read too)."""
    zone = _zone(tz)
    rows, last = [], None
    for row in history.status_log(unit).itertuples(index=False):
        state = (row.submission_status, bool(row.complete), row.completeness)
        if state != last:
            rows.append({"read_at": row.read_at.astimezone(zone),
                         "submission_status": row.submission_status,
                         "complete": bool(row.complete), "completeness": row.completeness,
                         "run_id": row.run_id})
        last = state
    return rows


def print_history(history: History, unit: str, key: str | None = None,
                  tz: tzinfo | str = "Asia/Ho_Chi_Minh", console: Any = None,
                  limit: int = 500) -> int:
    """Print the status timeline and the change log with rich; returns the rows shown."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    stamp = "%d/%m/%Y %H:%M"
    if key is None:
        timeline = Table(title=f"Trạng thái của {unit} qua các lần đọc", title_justify="left")
        for header in ("Thời điểm đọc", "Trạng thái", "Đủ ô bắt buộc", "Hoàn thành (%)"):
            timeline.add_column(header, no_wrap=header == "Thời điểm đọc")
        for row in status_changes(history, unit, tz):
            timeline.add_row(row["read_at"].strftime(stamp),
                             escape(row["submission_status"] or "—"),
                             "có" if row["complete"] else "chưa",
                             "" if row["completeness"] is None else auto(row["completeness"]))
        console.print(timeline)
    rows = history_table(history, unit, key, tz)
    title = f"Lịch sử thay đổi số liệu của {unit}" + (f", ô {key}" if key else "")
    table = Table(title=title, title_justify="left")
    for header in ("Chỉ tiêu", "Phân tổ", "Năm", "Giá trị cũ", "Giá trị mới"):
        table.add_column(header, no_wrap=header in ("Chỉ tiêu", "Năm"))
    for header in ("Sửa lúc", "Thời điểm đọc"):  # dates stay on one line; values wrap
        table.add_column(header, no_wrap=True)
    table.add_column("Lần chạy", overflow="ellipsis", max_width=12)
    for row in rows[-limit:]:
        table.add_row(
            escape(row["indicator"]), escape(row["breakdown"]),
            "" if row["year"] is None else str(row["year"]),
            "(lần đọc đầu)" if row["initial"] else escape(show_value(row["old"])),
            escape(show_value(row["new"])) if row["new"] is not None else "[red](đã xoá)[/]",
            row["modified"].strftime(stamp) if row["modified"] else "",
            row["read_at"].strftime(stamp), escape(row["run_id"]))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(chỉ hiện {limit} thay đổi gần nhất trong tổng số {len(rows)})")
    if not rows:
        console.print("Chưa có thay đổi nào được ghi nhận.")
    return min(len(rows), limit)
