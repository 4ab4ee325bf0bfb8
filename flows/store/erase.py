"""Erasing a unit's history recorded before a day, and the log that says it was done.

`giamsat erase UNIT --before DATE` (`flows.cli.erase`) deletes, for one unit, everything the
store recorded before the start of DATE (in the plan's time zone): its values and changes
(``history_values``), its status log (``history_status``), its review transitions
(``review_transitions``), its findings' states (``review_findings``, the ones whose last change
is before DATE) and their logs (``review_finding_transitions``); the CLI also deletes the
unit's Google snapshot and reminder drafts of before DATE. All of it in one transaction under
the history's write lock, with one row appended to ``erase_log``: who, when, which unit, the
cut-off, and how many rows of each kind — never what was erased. Nothing deletes from
``erase_log``. On SQLite the deleted rows are overwritten in the file (``secure_delete``); a
PostgreSQL server frees them at its next ``VACUUM``.

What is left stays a true history from DATE on. When the unit was read again on or after DATE,
the values that read saw unchanged were recorded before DATE: each is kept as the baseline of
that first read (its row re-dated to it, marked ``initial``), and a value that read changed
becomes the baseline itself; every other row of before DATE is deleted. Without such a read,
everything of before DATE goes and the unit's next read is a new baseline. So nothing left is
ever read as an edit from a blank cell, and no late-edit warning comes from an erase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String, Table, Text, and_, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from flows.core.audit import require_aware
from flows.store.history import (
    History,
    UTCDateTime,
    _Id,
    as_unusable,
    metadata,
    status_table,
    values_table,
)
from flows.store.review import finding_log_table, findings_table, units_table

erase_table = Table(
    "erase_log", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("unit_code", String(64), nullable=False),
    Column("before", UTCDateTime, nullable=False),  # the cut-off: start of DATE, plan's zone
    Column("values_rows", Integer, nullable=False),
    Column("status_rows", Integer, nullable=False),
    Column("unit_transitions", Integer, nullable=False),
    Column("finding_states", Integer, nullable=False),
    Column("finding_transitions", Integer, nullable=False),
    Column("snapshots", Integer, nullable=False),
    Column("drafts", Integer, nullable=False),
)
COUNTS = ("values_rows", "status_rows", "unit_transitions", "finding_states",
          "finding_transitions")


@dataclass(frozen=True)
class Erasure:
    """What one erase removed (or would remove), as counts."""

    unit: str
    before: datetime
    values_rows: int = 0
    status_rows: int = 0
    unit_transitions: int = 0
    finding_states: int = 0
    finding_transitions: int = 0
    snapshots: int = 0
    drafts: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in (*COUNTS, "snapshots", "drafts"))


def _finding_ids(conn: Connection, unit: str) -> list[str]:
    return [str(fid) for fid in conn.execute(select(findings_table.c.finding_id).distinct()
                                             .where(findings_table.c.unit_code == unit))
            .scalars()]


@dataclass(frozen=True)
class _Plan:
    """What an erase does to one unit's rows (ids), before anything is changed."""

    deleted: dict[str, tuple[Table, Any]]  # kind → (table, which rows)
    rebased: list[int]  # value rows of before DATE kept as the baseline of the first read after
    first_read: Any  # that read (run_id, read_at, modified), None when there is none
    baselines: list[int]  # value rows of that read that become the baseline as they are


def _plan(conn: Connection, unit: str, before: datetime) -> _Plan:
    v, s, u = values_table.c, status_table.c, units_table.c
    f, log = findings_table.c, finding_log_table.c
    first = conn.execute(select(s.run_id, s.read_at, s.modified).where(
        s.unit_code == unit, s.read_at >= before).order_by(s.read_at, s.id).limit(1)).first()
    rebased, baselines = [], []
    if first is not None:
        changed = {str(key): int(i) for i, key in conn.execute(select(v.id, v.key).where(
            v.unit_code == unit, v.run_id == first.run_id))}
        latest = select(func.max(v.id)).where(v.unit_code == unit, v.read_at < before
                                              ).group_by(v.key)
        for i, key, value in conn.execute(select(v.id, v.key, v.value).where(v.id.in_(latest))):
            if str(key) in changed:
                baselines.append(changed[str(key)])
            elif value is not None:  # still standing at the first read after DATE
                rebased.append(int(i))
    values = and_(v.unit_code == unit, v.read_at < before)
    if rebased:
        values = and_(values, v.id.not_in(rebased))
    return _Plan({
        "values_rows": (values_table, values),
        "status_rows": (status_table, and_(s.unit_code == unit, s.read_at < before)),
        "unit_transitions": (units_table, and_(u.unit_code == unit, u.at < before)),
        "finding_states": (findings_table, and_(f.unit_code == unit,
                                                f.state_changed < before)),
        "finding_transitions": (finding_log_table, and_(
            log.finding_id.in_(_finding_ids(conn, unit)), log.at < before)),
    }, rebased, first, baselines)


class Eraser:
    """Erase a unit's records before a moment, in the history's database."""

    def __init__(self, history: History) -> None:
        self.history = history

    def _schema(self) -> None:
        self.history._ensure_schema()
        try:
            with self.history._write() as conn:
                metadata.create_all(conn, tables=[units_table, findings_table,
                                                  finding_log_table, erase_table])
        except DBAPIError as exc:
            raise as_unusable(exc) from None

    def count(self, unit: str, before: datetime) -> Erasure:
        """How many rows of each kind an erase would delete (nothing is changed)."""
        before = require_aware(before)
        self._schema()
        with self.history._read() as conn:
            plan = _plan(conn, unit, before)
            counts = {name: int(conn.execute(select(func.count()).select_from(table)
                                             .where(condition)).scalar_one())
                      for name, (table, condition) in plan.deleted.items()}
        return Erasure(unit, before, **counts)

    def erase(self, unit: str, before: datetime, by: str, at: datetime, snapshots: int = 0,
              drafts: int = 0) -> Erasure:
        """Delete the unit's rows recorded before `before` and log it, in one transaction;
        `snapshots` and `drafts` are the files the caller deletes with it (logged too)."""
        before, at = require_aware(before), require_aware(at)
        self._schema()
        v = values_table.c
        try:
            with self.history._write() as conn:
                if conn.dialect.name == "sqlite":  # deleted rows overwritten, not left in
                    conn.exec_driver_sql("PRAGMA secure_delete = ON")  # the file's free pages
                plan = _plan(conn, unit, before)
                counts = {name: int(conn.execute(delete(table).where(condition)).rowcount)
                          for name, (table, condition) in plan.deleted.items()}
                if plan.rebased:  # what the first read after DATE saw, dated to it
                    first = plan.first_read
                    conn.execute(update(values_table).where(v.id.in_(plan.rebased)).values(
                        run_id=first.run_id, read_at=first.read_at, modified=first.modified,
                        initial=True))
                if plan.baselines:
                    conn.execute(update(values_table).where(v.id.in_(plan.baselines))
                                 .values(initial=True))
                erasure = Erasure(unit, before, **counts, snapshots=snapshots, drafts=drafts)
                conn.execute(erase_table.insert(), [{
                    "at": at, "by": by, "unit_code": unit, "before": before,
                    **{name: getattr(erasure, name) for name in (*COUNTS, "snapshots",
                                                                 "drafts")}}])
        except DBAPIError as exc:
            raise as_unusable(exc) from None
        return erasure

    def log(self) -> list[dict]:
        """Every erase recorded, oldest first."""
        self._schema()
        with self.history._read() as conn:
            rows = conn.execute(select(erase_table).order_by(erase_table.c.id)).mappings()
            return [dict(r) for r in rows]
