"""The decisions typed in the review workbook `<out>/duyet.xlsx` (or chosen in the review tabs
of the Google dashboard: `take_review_decisions`), applied through the store.

The same transitions as `giamsat review` / `giamsat finding` (`ReviewStore.decide_unit`,
`decide_finding`): findings first (accepting an error may let its unit be approved), then
units. Recorded as made by the "Người quyết định" typed, else "bảng duyệt"; each decision's key
(the workbook's token, the unit or finding, the action) is its `run_id`, so a decision already
in the log is never applied again, even when the same file is copied back. A refused decision
is a `review-workbook-refused` finding naming the tab and row; the file is then moved into the
state folder (`flows.sources.review_workbook.set_aside`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from flows.core import review as core
from flows.core.findings import Finding
from flows.sources.review_workbook import read_review_workbook, set_aside
from flows.sources.spreadsheet import Unreadable
from flows.store.history import History, HistoryUnusable
from flows.store.review import ReviewStore

APPLIED, UNREAD = "applied", "unread"


def _aside(place: Path, state_dir: Path, label: str, moment: datetime) -> Path:
    """Into the state folder; beside the file when the state folder cannot be written."""
    try:
        return set_aside(place, state_dir, label, moment)
    except OSError:
        return set_aside(place, place.parent, label, moment)


def _refused(config: Any, place: Path | str, d: core.Decision, why: str) -> Finding:
    """`place`: the review workbook's path, or the name of the Google dashboard."""
    return Finding("review-workbook-refused", {
        "file": place.name if isinstance(place, Path) else place, "sheet": d.sheet,
        "row": d.row, "subject": d.subject or "—", "decision": d.choice, "why": why,
        "dashboard": not isinstance(place, Path)}, key=f"duyet|{d.sheet}|{d.row}")


def _why(config: Any, refused: core.Refused) -> str:
    params = {k: core.word(config.catalogue, v) if k in ("state", "action") else v
              for k, v in refused.params.items()}
    return config.catalogue.render(refused.code, params).message


def apply_decisions(store: Any, token: str, decisions: list[core.Decision], config: Any,
                    at: datetime, place: Path | str, default_by: str = "") -> list[Finding]:
    """Apply the decisions not yet in the log; a finding for each refused one.

    `place` is the review workbook (a path) or the name of the Google dashboard (text), for the
    messages; a row that names nobody is recorded as `default_by`, else "bảng duyệt".
    """
    words = config.catalogue
    keys = {id(d): d.key(token) if token else "" for d in decisions}
    done = store.applied([k for k in keys.values() if k])
    units = {u.code.upper(): u.code for u in config.units.units}
    problems: list[Finding] = []
    ordered = sorted(decisions, key=lambda d: (d.table != core.FINDINGS_TABLE, d.sheet, d.row))
    for d in ordered:
        key = keys[id(d)]
        if key and key in done:
            continue  # applied by an earlier run: the same file copied back
        if not d.action:
            choices = core.UNIT_CHOICES if d.table == core.UNITS_TABLE else core.FINDING_CHOICES
            problems.append(_refused(config, place, d, words.text(
                "duyet-unknown-decision", choices=[words.text(f"decision-{a}")
                                                   for a in choices])))
            continue
        by = d.by or default_by or words.text("review-workbook-by")
        try:
            if d.table == core.UNITS_TABLE:
                code = units.get(d.subject.upper())
                if code is None:
                    raise core.Refused("review-unknown-unit", {
                        "unit": d.subject, "valid": [u.code for u in config.units.units]})
                reason = d.text if d.action in (core.APPROVE, core.RETURN) else ""
                note = "" if reason else d.text
                store.decide_unit(code, d.action, by, at, reason=reason, note=note,
                                  run_id=key)
            else:
                reason = d.text if d.action == core.REJECT else ""
                try:
                    store.decide_finding(d.subject.lower(), d.action, by, at, reason=reason,
                                         note="" if reason else d.text, run_id=key)
                except KeyError:
                    raise core.Refused("finding-unknown", {"finding": d.subject}) from None
        except core.Refused as refused:
            problems.append(_refused(config, place, d, _why(config, refused)))
        if key:
            done.add(key)
    return problems


def take_review_workbook(place: Path, config: Any, state_dir: Path,
                         moment: datetime) -> list[Finding]:
    """Read `place` (the filled `duyet.xlsx`) if it holds decisions, apply them, set it aside.

    The decisions are dated when the file was last saved (never later than the run), so an edit
    the commune made after the office returned its numbers counts as made after the return.
    """
    place = Path(place)
    if not place.is_file():
        return []
    catalogue = config.catalogue
    try:
        token, decisions = read_review_workbook(place, catalogue, config.limits)
    except (Unreadable, OSError) as exc:
        reason = catalogue.reason(exc.reason, exc.params) if isinstance(exc, Unreadable) \
            else str(exc)
        aside = _aside(place, state_dir, UNREAD, moment)
        return [Finding("review-workbook-set-aside", {
            "file": str(place), "aside": str(aside),
            "why": catalogue.text("duyet-why-unreadable", reason=reason)}, key="duyet")]
    if not decisions:
        return []  # the run's own workbook, untouched: nothing to take, nothing to move
    saved = datetime.fromtimestamp(place.stat().st_mtime, tz=moment.tzinfo)
    at = min(saved, moment)
    try:
        with History(folder=state_dir) as history:
            store = ReviewStore(history, core.review_period(config))
            problems = apply_decisions(store, token, decisions, config, at, place)
    except (HistoryUnusable, DBAPIError, OSError):
        aside = _aside(place, state_dir, UNREAD, moment)
        return [Finding("review-workbook-set-aside", {
            "file": str(place), "aside": str(aside),
            "why": catalogue.text("duyet-why-history")}, key="duyet")]
    _aside(place, state_dir, APPLIED, moment)
    return problems


def take_review_decisions(source: Any, config: Any, state_dir: Path,
                          moment: datetime) -> list[Finding]:
    """The decisions chosen in the review tabs of the Google dashboard, applied like those of
    `duyet.xlsx` (a source without such tabs has no `review_decisions`: nothing to take).

    Recorded as made by the person typed in the row, else the dashboard's last editor as Drive
    names them, else "bảng Tổng hợp"; dated when the dashboard was last edited (never later than
    the run). The source is told once they are applied; a history that cannot be used leaves
    them on the dashboard, to be read again by the next run.
    """
    read = getattr(source, "review_decisions", None)
    if read is None:
        return []
    typed: core.TypedDecisions = read()
    if not typed.decisions:
        return []
    words = config.catalogue
    at = min(typed.at, moment) if typed.at is not None else moment
    by = typed.by or words.text("review-dashboard-by")
    try:
        with History(folder=state_dir) as history:
            store = ReviewStore(history, core.review_period(config))
            problems = apply_decisions(store, typed.token, typed.decisions, config, at,
                                       typed.place, by)
    except (HistoryUnusable, DBAPIError, OSError):
        return [Finding("review-dashboard-unapplied", {
            "file": typed.place, "why": words.text("duyet-why-history")}, key="tong-hop")]
    source.review_decisions_taken()
    return problems
