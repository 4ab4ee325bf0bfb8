"""The review store: units' review transitions and findings' lives, beside the audit history.

Same database as `flows.store.history` (its engine, URL and write lock), three more tables:

* ``review_transitions``: every transition of a unit's review (unit, period, action,
  from_state, to_state, by, at, reason, note, the cells changed after approval as JSON, the
  run that made it). Append-only: a unit's state is its last row for the period.
* ``review_finding_transitions``: every transition of a finding's life, append-only.
* ``review_findings``: per period and finding id, where it stands now (first_seen, state,
  state_changed, explanation, decided_by, note), updated in the same transaction as its log.

The rules are `flows.core.review`'s; this module reads the current states, asks the core for
the transition and appends it, all under the history's write lock, so a decision typed at
the command line and the nightly run never interleave.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Column, Index, String, Table, Text, and_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from flows.core import review as core
from flows.core.approved import with_numbers_used
from flows.core.consolidate import Consolidated
from flows.core.findings import append_findings
from flows.core.privacy import RULES as privacy_rules
from flows.core.review import CellChange, FindingState, FindingTransition, UnitTransition
from flows.store.history import (
    FILE_NAME,
    HISTORY_URL_ENV,
    History,
    HistoryUnusable,
    UTCDateTime,
    _Id,
    as_unusable,
    metadata,
)

units_table = Table(
    "review_transitions", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("unit_code", String(64), nullable=False),
    Column("period", Text, nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_state", String(40), nullable=False),
    Column("to_state", String(40), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("changes", Text, nullable=False),  # JSON: [{key, old, new, when}] after approval
    Column("run_id", String(200), nullable=False),
    Index("ix_review_transitions_unit_id", "unit_code", "id"),
)
findings_table = Table(
    "review_findings", metadata,
    Column("period", Text, primary_key=True),
    Column("finding_id", String(64), primary_key=True),
    Column("unit_code", String(64), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("state", String(40), nullable=False),
    Column("state_changed", UTCDateTime, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("note", Text, nullable=False),
)
finding_log_table = Table(
    "review_finding_transitions", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("period", Text, nullable=False),
    Column("finding_id", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_state", String(40), nullable=False),
    Column("to_state", String(40), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("run_id", String(200), nullable=False),
    Index("ix_review_finding_transitions_id", "finding_id", "id"),
)
TABLES = [units_table, findings_table, finding_log_table]


def _changes_json(changes: tuple[CellChange, ...]) -> str:
    return json.dumps([{"key": c.key, "old": c.old, "new": c.new,
                        "when": c.when.isoformat()} for c in changes], ensure_ascii=False)


def _changes(text: str) -> tuple[CellChange, ...]:
    return tuple(CellChange(c["key"], c["old"], c["new"], datetime.fromisoformat(c["when"]))
                 for c in json.loads(text or "[]"))


def _unit_row(step: UnitTransition, period: str) -> dict:
    return {"unit_code": step.unit, "period": period, "action": step.action,
            "from_state": step.from_state, "to_state": step.to_state, "by": step.by,
            "at": step.at, "reason": step.reason, "note": step.note,
            "changes": _changes_json(step.changes), "run_id": step.run_id}


def _finding_row(step: FindingTransition, period: str) -> dict:
    return {"period": period, "finding_id": step.finding_id, "action": step.action,
            "from_state": step.from_state, "to_state": step.to_state, "by": step.by,
            "at": step.at, "reason": step.reason, "note": step.note,
            "explanation": step.explanation, "run_id": step.run_id}


def _state_row(state: FindingState, period: str) -> dict:
    return {"period": period, **{k: getattr(state, k) for k in (
        "finding_id", "unit_code", "rule", "severity", "first_seen", "state", "state_changed",
        "explanation", "decided_by", "note")}}


class ReviewStore:
    """Reviews of one period (`period` None: every period, for reading only)."""

    def __init__(self, history: History, period: str | None) -> None:
        self.history = history
        self.period = period
        self._ready = False

    # ---------------------------------------------------------------- transactions

    def _schema(self) -> None:
        if not self._ready:
            self.history._ensure_schema()  # probes a foreign file, creates every table
            try:  # and ours, should that history have been opened before this module loaded
                with self.history._write() as conn:
                    metadata.create_all(conn, tables=TABLES)
            except DBAPIError as exc:
                raise as_unusable(exc) from None
            self._ready = True

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._schema()
        try:
            with self.history._write() as conn:
                yield conn
        except DBAPIError as exc:
            raise as_unusable(exc) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._schema()
        with self.history._read() as conn:
            yield conn

    def _period(self, column: Any) -> Any:
        return column == self.period if self.period is not None else True

    # ---------------------------------------------------------------- units

    def _unit_logs(self, conn: Connection, unit: str | None = None
                   ) -> dict[str, list[UnitTransition]]:
        t = units_table.c
        query = select(units_table).where(self._period(t.period)).order_by(t.id)
        if unit is not None:
            query = query.where(t.unit_code == unit)
        logs: dict[str, list[UnitTransition]] = {}
        for r in conn.execute(query).mappings():
            logs.setdefault(r["unit_code"], []).append(UnitTransition(
                r["unit_code"], r["action"], r["from_state"], r["to_state"], r["by"], r["at"],
                r["reason"], r["note"], _changes(r["changes"]), r["run_id"]))
        return logs

    def unit_logs(self, unit: str | None = None) -> dict[str, list[UnitTransition]]:
        """Every unit's transitions, oldest first (the last one is its state)."""
        with self._read() as conn:
            return self._unit_logs(conn, unit)

    def unit_state(self, unit: str) -> str:
        log = self.unit_logs(unit).get(unit, [])
        return core.state_of(log[-1] if log else None)

    def decide_unit(self, unit: str, action: str, by: str, at: datetime, reason: str = "",
                    note: str = "", run_id: str = "") -> UnitTransition:
        """The office's decision on a unit, checked against its current state and open errors;
        `core.Refused` when it is not allowed (nothing written)."""
        with self._write() as conn:
            log = self._unit_logs(conn, unit).get(unit, [])
            errors = core.open_errors(self._finding_states(conn, unit).values(), unit)
            step = core.unit_step(core.state_of(log[-1] if log else None), action, unit=unit,
                                  by=by, at=at, reason=reason, note=note, open_errors=errors,
                                  run_id=run_id)
            conn.execute(units_table.insert(), [_unit_row(step, self._require_period())])
        return step

    # ---------------------------------------------------------------- findings

    def _finding_states(self, conn: Connection, unit: str | None = None,
                        finding_id: str | None = None) -> dict[str, FindingState]:
        f = findings_table.c
        query = select(findings_table).where(self._period(f.period))
        if unit is not None:
            query = query.where(f.unit_code == unit)
        if finding_id is not None:
            query = query.where(f.finding_id == finding_id)
        return {r["finding_id"]: FindingState(
            r["finding_id"], r["unit_code"], r["rule"], r["severity"], r["first_seen"],
            r["state"], r["state_changed"], r["explanation"], r["decided_by"], r["note"])
            for r in conn.execute(query).mappings()}

    def finding_states(self, unit: str | None = None) -> dict[str, FindingState]:
        with self._read() as conn:
            return self._finding_states(conn, unit)

    def false_positives(self, rules: tuple[str, ...]) -> frozenset[str]:
        """The ids of the period's findings of these rules that the office marked not an
        error (one query)."""
        f = findings_table.c
        query = select(f.finding_id).where(self._period(f.period), f.rule.in_(rules),
                                           f.state == core.FALSE_POSITIVE)
        with self._read() as conn:
            return frozenset(str(fid) for fid in conn.execute(query).scalars())

    def finding_log(self, finding_id: str | None = None) -> pd.DataFrame:
        t = finding_log_table.c
        query = select(finding_log_table).where(self._period(t.period)).order_by(t.id)
        if finding_id is not None:
            query = query.where(t.finding_id == finding_id)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], dtype=object)

    def decide_finding(self, finding_id: str, action: str, by: str, at: datetime,
                       reason: str = "", note: str = "", explanation: str = "",
                       actor: str = core.OFFICE, run_id: str = "") -> FindingTransition:
        """A decision on one finding (the office's, or a commune's explanation); `KeyError`
        when the period has no such finding, `core.Refused` when it is not allowed."""
        with self._write() as conn:
            known = self._finding_states(conn, finding_id=finding_id).get(finding_id)
            if known is None:
                raise KeyError(finding_id)
            step = core.finding_step(known.state, action, finding_id=finding_id, by=by, at=at,
                                     actor=actor, reason=reason, note=note,
                                     explanation=explanation, run_id=run_id)
            self._append_findings(conn, [], [step], {finding_id: known})
        return step

    def _append_findings(self, conn: Connection, new: list[FindingState],
                         steps: list[FindingTransition],
                         known: dict[str, FindingState]) -> None:
        period = self._require_period()
        if new:
            conn.execute(findings_table.insert(), [_state_row(s, period) for s in new])
        if steps:
            conn.execute(finding_log_table.insert(), [_finding_row(s, period) for s in steps])
        fresh = {s.finding_id for s in new}
        f = findings_table.c
        for step in steps:
            if step.finding_id in fresh:
                continue
            after = known[step.finding_id].after(step)
            known[step.finding_id] = after
            conn.execute(findings_table.update().where(and_(
                f.period == period, f.finding_id == step.finding_id)).values(
                state=after.state, state_changed=after.state_changed,
                explanation=after.explanation, decided_by=after.decided_by, note=after.note))

    def applied(self, run_ids: list[str]) -> set[str]:
        """Which of these run ids (a review workbook's decision keys) the logs already hold."""
        if not run_ids:
            return set()
        with self._read() as conn:
            found = set(conn.execute(select(units_table.c.run_id).where(
                units_table.c.run_id.in_(run_ids))).scalars())
            found |= set(conn.execute(select(finding_log_table.c.run_id).where(
                finding_log_table.c.run_id.in_(run_ids))).scalars())
        return found

    def _require_period(self) -> str:
        if self.period is None:
            raise ValueError("a review store without a period is read-only")
        return self.period

    # ---------------------------------------------------------------- a night

    def night(self, status: pd.DataFrame, findings: pd.DataFrame, run_id: str,
              at: datetime, answers: core.Answers | None = None) -> core.Night:
        """Apply tonight's automatic transitions (after `History.record` of the same run) and
        the answers the communes typed in their results tabs (`answers`: unit → who, answers);
        return every unit's log and every finding's state."""
        changes = self.history.changes(include_initial=False)
        changes = changes[changes["run_id"] == run_id]
        log = self.history.status_log()
        before = log[log["run_id"] != run_id].drop_duplicates("unit_code", keep="last")
        previous = dict(zip(before["unit_code"].astype(str), before["complete"].astype(bool),
                            strict=True))
        read = core.read_tonight(status)["unit_code"].astype(str)
        with self._write() as conn:
            logs = self._unit_logs(conn)
            unit_steps = core.night_units({u: s[-1] for u, s in logs.items()}, status,
                                          changes, previous, at, run_id)
            if unit_steps:
                conn.execute(units_table.insert(),
                             [_unit_row(s, self._require_period()) for s in unit_steps])
            for step in unit_steps:
                logs.setdefault(step.unit, []).append(step)
            known = self._finding_states(conn)
            new, steps = core.night_findings(known, findings, set(read), at, run_id)
            self._append_findings(conn, new, steps, known)
            known.update({s.finding_id: s for s in new})
            explained = core.night_explanations(known, findings, answers or {}, at, run_id)
            self._append_findings(conn, [], explained, known)
        return core.Night(logs, known, len(unit_steps) + len(steps) + len(explained))


def released_findings(config: Any, state_dir: Path) -> frozenset[str]:
    """The personal-data findings of the period the office marked not an error, read before
    the checks so that their text is used as typed (`flows.core.privacy`). Nothing is
    released when there is no history yet or it cannot be used: the text stays withheld (the
    run's own history step says why)."""
    if not os.environ.get(HISTORY_URL_ENV) and not (Path(state_dir) / FILE_NAME).is_file():
        return frozenset()
    try:
        with History(folder=state_dir) as history:
            return ReviewStore(history, core.review_period(config)).false_positives(
                privacy_rules)
    except (HistoryUnusable, DBAPIError, OSError):
        return frozenset()


def review_night(result: Consolidated, config: Any, state_dir: Path, run_id: str,
                 at: datetime, usable: bool = True) -> Consolidated:
    """The night's automatic review transitions, and the review columns of `status.csv` and
    `findings.csv`. A history that cannot be used leaves the columns blank (the run goes on:
    the history's own finding already says why)."""
    night = None
    names = {u.code: u.full_name for u in config.units.units}
    read = set(core.read_tonight(result.status)["unit_code"].astype(str))
    # an answer holding personal data is never taken (its error says so at its row)
    withheld = result.withheld_answers
    answers = {code: (e.editor or names.get(code, code), typed)
               for code, e in result.chosen.items() if code in read
               and (typed := [a for a in e.explanations
                              if (code, a.tab, a.row) not in withheld])}
    unmatched = core.unmatched_answers(result.findings, answers, names)
    if unmatched:
        result = replace(result, findings=append_findings(result.findings, unmatched,
                                                          config.catalogue))
    if usable:
        try:
            with History(folder=state_dir) as history:
                night = ReviewStore(history, core.review_period(config)).night(
                    result.status, result.findings, run_id, at, answers)
        except (HistoryUnusable, DBAPIError, OSError):
            night = None
    tz, words = config.plan.tz, config.catalogue
    status = core.with_review_status(result.status, night.units if night else None, words, tz)
    findings = core.with_finding_states(result.findings, night.findings if night else None,
                                        words, tz)
    return replace(result, findings=findings, status=with_numbers_used(status, (), words),
                   **_reviewed(night))


def _reviewed(night: core.Night | None) -> dict[str, Any]:
    """What the final run and the report take from the review: when each unit that stands
    approved was last approved, and every finding of the period with its state (the fixed
    ones too, which no longer fire)."""
    if night is None:
        return {}
    return {"approvals": {unit: at for unit, log in night.units.items()
                          if (at := core.last_approval(log)) is not None},
            "finding_lives": core.finding_lives(night.findings.values())}
