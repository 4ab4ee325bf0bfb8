"""Review: the office's word on each unit's numbers, and a life for every finding (issue 12).

Pure state machines, table-driven: a transition is allowed when ``(state, action)`` is a key of
`UNIT_TRANSITIONS` / `FINDING_TRANSITIONS` and the actor may take that action (`UNIT_ACTORS`,
`FINDING_ACTORS`). Everything else raises `Refused`, carrying a catalogue code and its values
(`templates/findings.yaml`), so the command line says why in Vietnamese and exits 2.

States and actions are stable codes, stored in the audit store; their words are the
catalogue's texts ``state-<code>`` and ``action-<code>``. Automated checks submit, withdraw,
mark edits after approval, fix and reopen findings; they never approve nor accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

import pandas as pd

from flows.core.audit import require_aware, show_value, zone
from flows.core.findings import ERROR, LOST_CATEGORIES, Finding
from flows.core.results_tab import Explanation, matches, typed_text

# Who acts: the office (LĐTBXH staff), the commune (explains a finding), the nightly run.
OFFICE, COMMUNE, AUTO = "office", "commune", "auto"
AUTO_BY = "giamsat"  # the `by` of an automatic transition

# --------------------------------------------------------------------------- units

NOT_SUBMITTED = "not-submitted"  # chưa nộp
SUBMITTED = "submitted"  # đã nộp: declared complete with every required cell filled
APPROVED = "approved"  # đã duyệt
RETURNED = "returned"  # trả lại, with a reason
EDITED = "edited-after-approval"  # sửa sau khi duyệt
UNIT_STATES = (NOT_SUBMITTED, SUBMITTED, APPROVED, RETURNED, EDITED)

SUBMIT, WITHDRAW, EDIT = "submit", "withdraw", "edit"  # automatic
APPROVE, RETURN, REOPEN = "approve", "return", "reopen"  # the office's
UNIT_ACTORS = {SUBMIT: AUTO, WITHDRAW: AUTO, EDIT: AUTO,
               APPROVE: OFFICE, RETURN: OFFICE, REOPEN: OFFICE}
UNIT_TRANSITIONS: dict[tuple[str, str], str] = {
    (NOT_SUBMITTED, SUBMIT): SUBMITTED,
    (RETURNED, SUBMIT): SUBMITTED,  # declared complete again after being returned
    (SUBMITTED, WITHDRAW): NOT_SUBMITTED,  # no longer complete before anyone reviewed it
    (SUBMITTED, APPROVE): APPROVED,
    (EDITED, APPROVE): APPROVED,  # the office approves the edited numbers
    (SUBMITTED, RETURN): RETURNED,
    (APPROVED, RETURN): RETURNED,
    (EDITED, RETURN): RETURNED,
    (APPROVED, REOPEN): SUBMITTED,
    (EDITED, REOPEN): SUBMITTED,
    (APPROVED, EDIT): EDITED,
    (EDITED, EDIT): EDITED,  # more cells changed: recorded again
}

# --------------------------------------------------------------------------- findings

NONE = ""  # a finding not yet known
OPEN = "open"  # mới
EXPLAINED = "explained"  # đã giải trình
ACCEPTED = "accepted"  # chấp nhận
FIXED = "fixed"  # đã sửa
FALSE_POSITIVE = "false-positive"  # không phải lỗi
FINDING_STATES = (OPEN, EXPLAINED, ACCEPTED, FIXED, FALSE_POSITIVE)
CLOSED = frozenset({ACCEPTED, FIXED, FALSE_POSITIVE})

APPEAR, FIX, REFIRE = "appear", "fix", "refire"  # automatic
EXPLAIN = "explain"  # the commune's
ACCEPT, REJECT, DISMISS = "accept", "reject", "dismiss"  # the office's
FINDING_ACTORS = {APPEAR: AUTO, FIX: AUTO, REFIRE: AUTO, EXPLAIN: COMMUNE,
                  ACCEPT: OFFICE, REJECT: OFFICE, DISMISS: OFFICE}
FINDING_TRANSITIONS: dict[tuple[str, str], str] = {
    (NONE, APPEAR): OPEN,
    (OPEN, EXPLAIN): EXPLAINED,
    (EXPLAINED, EXPLAIN): EXPLAINED,  # a new explanation replaces the old one
    (OPEN, ACCEPT): ACCEPTED,
    (EXPLAINED, ACCEPT): ACCEPTED,
    (EXPLAINED, REJECT): OPEN,
    (ACCEPTED, REJECT): OPEN,
    (FALSE_POSITIVE, REJECT): OPEN,  # a false positive can be taken back
    (OPEN, DISMISS): FALSE_POSITIVE,
    (EXPLAINED, DISMISS): FALSE_POSITIVE,
    (ACCEPTED, DISMISS): FALSE_POSITIVE,
    **{(state, FIX): FIXED for state in (OPEN, EXPLAINED, ACCEPTED, FALSE_POSITIVE)},
    (FIXED, REFIRE): OPEN,  # the check fires again: reopened
}
REASON_REQUIRED = frozenset({RETURN, REJECT})


class Refused(Exception):
    """A transition that is not allowed: a catalogue code and the values its words need."""

    def __init__(self, code: str, params: Mapping[str, Any]) -> None:
        super().__init__(code, dict(params))
        self.code = code
        self.params = dict(params)


@dataclass(frozen=True)
class CellChange:
    """One value changed after approval: its key, old → new, and when."""

    key: str
    old: str | None
    new: str | None
    when: datetime


@dataclass(frozen=True)
class UnitTransition:
    unit: str
    action: str
    from_state: str
    to_state: str
    by: str
    at: datetime
    reason: str = ""
    note: str = ""
    changes: tuple[CellChange, ...] = ()
    run_id: str = ""


@dataclass(frozen=True)
class FindingTransition:
    finding_id: str
    action: str
    from_state: str
    to_state: str
    by: str
    at: datetime
    reason: str = ""
    note: str = ""
    explanation: str = ""
    run_id: str = ""


@dataclass(frozen=True)
class FindingState:
    """Where one finding stands now (the store keeps it beside the append-only log)."""

    finding_id: str
    unit_code: str
    rule: str
    severity: str
    first_seen: datetime
    state: str
    state_changed: datetime
    explanation: str = ""
    decided_by: str = ""  # who made the last decision by hand (automatic ones leave it)
    note: str = ""

    def after(self, step: FindingTransition) -> FindingState:
        """This state after one transition."""
        person = FINDING_ACTORS[step.action] != AUTO
        return replace(
            self, state=step.to_state, state_changed=step.at,
            explanation=step.explanation if step.action == EXPLAIN else self.explanation,
            decided_by=step.by if person else self.decided_by,
            note=(step.reason or step.note) if person else self.note)


def review_period(config: Any) -> str:
    """The period a review belongs to: the plan (one review per unit and plan)."""
    return str(config.plan.name)


def state_of(last: UnitTransition | None) -> str:
    return last.to_state if last is not None else NOT_SUBMITTED


# --------------------------------------------------------------------------- one step


def unit_step(state: str, action: str, *, unit: str, by: str, at: datetime,
              actor: str = OFFICE, reason: str = "", note: str = "", open_errors: int = 0,
              changes: Iterable[CellChange] = (), run_id: str = "") -> UnitTransition:
    """One transition of a unit's review, or `Refused` saying why not."""
    reason, note = reason.strip(), note.strip()
    if UNIT_ACTORS.get(action) == OFFICE and actor != OFFICE:
        raise Refused("review-office-only", {"unit": unit, "action": action})
    if UNIT_ACTORS.get(action) != actor:
        raise Refused("review-not-allowed", {"unit": unit, "state": state, "action": action})
    target = UNIT_TRANSITIONS.get((state, action))
    if target is None:
        code = "review-not-submitted" if state == NOT_SUBMITTED and actor == OFFICE \
            else "review-not-allowed"
        raise Refused(code, {"unit": unit, "state": state, "action": action})
    if action in REASON_REQUIRED and not reason:
        raise Refused("review-reason-required", {"unit": unit, "action": action})
    if action == APPROVE and open_errors and not reason:
        raise Refused("review-errors-need-reason", {"unit": unit, "count": open_errors})
    return UnitTransition(unit, action, state, target, by, require_aware(at), reason, note,
                          tuple(changes), run_id)


def finding_step(state: str, action: str, *, finding_id: str, by: str, at: datetime,
                 actor: str = OFFICE, reason: str = "", note: str = "", explanation: str = "",
                 run_id: str = "") -> FindingTransition:
    """One transition of a finding's life, or `Refused` saying why not."""
    reason, note, explanation = reason.strip(), note.strip(), explanation.strip()
    target = FINDING_TRANSITIONS.get((state, action))
    if FINDING_ACTORS.get(action) != actor or target is None:
        raise Refused("finding-not-allowed",
                      {"finding": finding_id, "state": state or OPEN, "action": action})
    if action in REASON_REQUIRED and not reason:
        raise Refused("finding-reason-required", {"finding": finding_id, "action": action})
    if action == EXPLAIN and not explanation:
        raise Refused("finding-explanation-required", {"finding": finding_id})
    return FindingTransition(finding_id, action, state, target, by, require_aware(at), reason,
                             note, explanation, run_id)


# --------------------------------------------------------------------------- a night


def read_tonight(status: pd.DataFrame) -> pd.DataFrame:
    """Units whose workbook was read live tonight (a snapshot or a missing file says nothing)."""
    keep = status["found"].fillna(False).astype(bool)
    if "access" in status:
        keep &= status["access"].fillna("").astype(str).eq("")
    return status[keep]


def night_units(current: Mapping[str, UnitTransition], status: pd.DataFrame,
                changes: pd.DataFrame, previous_complete: Mapping[str, bool], at: datetime,
                run_id: str = "") -> list[UnitTransition]:
    """Tonight's automatic transitions of the units' reviews.

    `status`: unit_code, found, access, complete; `changes`: the change log rows recorded
    tonight (unit_code, key, old, new, read_at, modified; baseline rows excluded);
    `previous_complete`: whether each unit was complete at its previous read.
    """
    steps = []
    for row in read_tonight(status).itertuples(index=False):
        unit = str(row.unit_code)
        last = current.get(unit)
        if last is not None and run_id and last.run_id == run_id:
            continue  # this run was already applied
        state, complete = state_of(last), bool(row.complete)
        mine = changes[changes["unit_code"].astype(str) == unit] if len(changes) else changes
        cells = tuple(CellChange(str(c.key), c.old, c.new,
                                 c.modified if c.modified is not None else c.read_at)
                      for c in mine.itertuples(index=False))
        action = None
        if state == NOT_SUBMITTED and complete:
            action = SUBMIT
        elif state == SUBMITTED and not complete:
            action = WITHDRAW
        elif state == RETURNED and complete:
            since = [c for c in cells if last is None or c.when > last.at]
            if since or not previous_complete.get(unit, False):
                action = SUBMIT  # declared complete again, or edited since the return
        elif state in (APPROVED, EDITED) and cells:
            action = EDIT
        if action is not None:
            steps.append(unit_step(state, action, unit=unit, by=AUTO_BY, at=at, actor=AUTO,
                                   changes=cells if action == EDIT else (), run_id=run_id))
    return steps


def night_findings(current: Mapping[str, FindingState], findings: pd.DataFrame,
                   read_units: Iterable[str], at: datetime, run_id: str = ""
                   ) -> tuple[list[FindingState], list[FindingTransition]]:
    """New findings (state `mới`), and fixed / reopened ones, after tonight's checks.

    Only data findings have a life (access and system problems are the run's, not the
    commune's). A finding is fixed only when its unit was read live tonight and it no longer
    fires; a finding without a unit is never fixed automatically (a run over some units does
    not see it).
    """
    tracked = tracked_findings(findings)
    firing = set(tracked["finding_id"])
    read = set(read_units)
    new, steps = [], []
    for row in tracked.itertuples(index=False):
        fid = str(row.finding_id)
        known = current.get(fid)
        if known is None:
            step = finding_step(NONE, APPEAR, finding_id=fid, by=AUTO_BY, at=at, actor=AUTO,
                                run_id=run_id)
            new.append(FindingState(fid, str(row.unit_code or ""), str(row.rule),
                                    str(row.severity), step.at, OPEN, step.at))
            steps.append(step)
        elif known.state == FIXED:
            steps.append(finding_step(FIXED, REFIRE, finding_id=fid, by=AUTO_BY, at=at,
                                      actor=AUTO, run_id=run_id))
    for fid, known in current.items():
        if fid not in firing and known.state != FIXED and known.unit_code \
                and known.unit_code in read:
            steps.append(finding_step(known.state, FIX, finding_id=fid, by=AUTO_BY, at=at,
                                      actor=AUTO, run_id=run_id))
    return new, steps


Answers = Mapping[str, tuple[str, list[Explanation]]]  # unit → (who typed, the answers)


def _answered(findings: pd.DataFrame, answers: Answers
              ) -> Iterable[tuple[str, str, Explanation, list[str]]]:
    """(unit, who, answer, the tracked finding ids it belongs to) for every typed answer."""
    tracked = tracked_findings(findings)
    by_unit = {str(u): rows for u, rows in tracked.groupby("unit_code")} if len(tracked) else {}
    for unit, (who, typed) in answers.items():
        rows = by_unit.get(unit)
        records = rows[["finding_id", "sheet", "cell"]].to_dict("records") \
            if rows is not None else []
        for answer in typed:
            yield unit, who, answer, matches(answer, records)


def unmatched_answers(findings: pd.DataFrame, answers: Answers,
                      names: Mapping[str, str]) -> list[Finding]:
    """An info finding for each answer that names no finding firing tonight (a wrong id or
    cell, or a row typed below the list), so that it is never silently dropped."""
    return [Finding("explanation-unmatched", {
        "tab": answer.tab, "row": answer.row, "named": answer.finding_id or " ".join(
            p for p in (answer.sheet, answer.cell) if p) or "—"},
        unit_code=unit, unit_name=names.get(unit, ""), sheet=answer.tab,
        key=f"answer|{answer.tab}|{answer.row}")
        for unit, _, answer, ids in _answered(findings, answers) if not ids]


def night_explanations(current: Mapping[str, FindingState], findings: pd.DataFrame,
                       answers: Answers, at: datetime, run_id: str = ""
                       ) -> list[FindingTransition]:
    """`đã giải trình` for each open or explained finding whose answer is new or changed.

    The last answer naming a finding wins; an answer to a finding the office already closed,
    or that is fixed, changes nothing (the office's decision stands)."""
    latest: dict[str, tuple[str, str]] = {}
    for _, who, answer, ids in _answered(findings, answers):
        for fid in ids:
            latest[fid] = (who, answer.text)
    steps = []
    for fid, (who, text) in latest.items():
        known = current.get(fid)
        if known is None or known.state not in (OPEN, EXPLAINED) or known.explanation == text:
            continue
        steps.append(finding_step(known.state, EXPLAIN, finding_id=fid, by=who, at=at,
                                  actor=COMMUNE, explanation=text, run_id=run_id))
    return steps


def tracked_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings that have a life: data findings, not the run's own problems."""
    if findings.empty:
        return findings
    return findings[~findings["category"].isin(LOST_CATEGORIES)
                    & findings["finding_id"].fillna("").astype(str).ne("")]


def open_errors(states: Iterable[FindingState], unit: str) -> int:
    """Errors of a unit that nobody has closed (open or only explained)."""
    return sum(1 for s in states if s.unit_code == unit and s.severity == ERROR
               and s.state in (OPEN, EXPLAINED))


def changed_since_approval(log: Iterable[UnitTransition]) -> list[CellChange]:
    """The cells changed since the unit's last approval (empty unless it is edited now)."""
    cells: list[CellChange] = []
    for step in log:
        if step.action == APPROVE or step.to_state != EDITED:
            cells = []
        if step.action == EDIT:
            cells += step.changes
    return cells


def last_approval(log: Iterable[UnitTransition]) -> datetime | None:
    """When the office last approved the unit's numbers, while they stand approved (`đã
    duyệt`, or `sửa sau khi duyệt`: the approved numbers are still the approved ones); None
    for a unit in any other state."""
    steps = list(log)
    if state_of(steps[-1] if steps else None) not in (APPROVED, EDITED):
        return None
    return next((s.at for s in reversed(steps) if s.action == APPROVE), None)


LIFE_COLUMNS = ["finding_id", "unit_code", "severity", "state", "first_seen", "state_changed"]
COUNT_COLUMNS = ["unit_code", OPEN, EXPLAINED, ACCEPTED, FALSE_POSITIVE, FIXED, "days_to_fix"]


def finding_lives(states: Iterable[FindingState]) -> pd.DataFrame:
    """Every finding of the period, one row each, with where it stands now (state code, first
    seen, last change): the fixed ones too, which no longer fire."""
    return pd.DataFrame([[getattr(s, c) for c in LIFE_COLUMNS] for s in states],
                        columns=LIFE_COLUMNS)


def days_to_fix(lives: pd.DataFrame) -> pd.Series:
    """Days from first seen to fixed, for the fixed findings of `lives`."""
    fixed = lives[lives["state"] == FIXED]
    return pd.Series([(c - f).total_seconds() / 86400 for f, c in
                      zip(fixed["first_seen"], fixed["state_changed"], strict=True)],
                     index=fixed.index, dtype=float)


def finding_counts(lives: pd.DataFrame) -> pd.DataFrame:
    """Per unit of `lives` (by code; findings without a unit left out): how many of its
    findings stand in each state (columns named by the state codes), and `days_to_fix`, the
    median days from first seen to fixed of its fixed ones (NaN when none is)."""
    mine = lives[lives["unit_code"].fillna("").astype(str).ne("")
                 & lives["state"].isin(FINDING_STATES)]
    if mine.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    counts = pd.crosstab(mine["unit_code"], mine["state"]).reindex(
        columns=list(FINDING_STATES), fill_value=0)
    days = days_to_fix(mine).groupby(mine["unit_code"]).median()
    frame = counts.rename_axis(index="unit_code", columns=None).reset_index()
    frame["days_to_fix"] = frame["unit_code"].map(days).astype(float)
    return frame[COUNT_COLUMNS]


# --------------------------------------------------------------------------- columns

STATUS_COLUMNS = ["review_state", "reviewed_by", "reviewed_at", "review_note", "approved_at"]
FINDING_STATE_COLUMNS = ["state", "first_seen", "state_changed", "explanation", "decided_by"]


def word(catalogue: Any, code: str) -> str:
    """The words of a state or an action code (the catalogue's `state-…` / `action-…`)."""
    for prefix in ("state-", "action-"):
        if code and f"{prefix}{code}" in catalogue.texts:
            return catalogue.text(f"{prefix}{code}")
    return code


def _stamp(moment: datetime | None, local: tzinfo) -> str:
    return moment.astimezone(local).isoformat(timespec="seconds") if moment else ""


def edited_note(cells: list[CellChange], catalogue: Any, tz: tzinfo | str) -> str:
    """“sửa 2 ô sau khi duyệt: C2|nam|2022: 12 → 15 (05/04/2023 09:10); …”."""
    local = zone(tz)
    shown = [catalogue.text("review-cell-change", cell=c.key, old=show_value(c.old),
                            new=show_value(c.new), when=c.when.astimezone(local))
             for c in cells]
    return catalogue.text("review-edited-cells", count=len(cells), cells=shown)


def with_review_status(status: pd.DataFrame, logs: Mapping[str, list[UnitTransition]] | None,
                       catalogue: Any, tz: tzinfo | str) -> pd.DataFrame:
    """`status.csv` with review_state, reviewed_by, reviewed_at, review_note, approved_at
    (`last_approval`; all blank when `logs` is None: the store could not be used)."""
    frame = status.copy()
    if logs is None:
        for column in STATUS_COLUMNS:
            frame[column] = ""
        return frame
    local = zone(tz)
    rows = []
    for unit in frame["unit_code"].astype(str):
        log = logs.get(unit, [])
        last = log[-1] if log else None
        if last is not None and last.to_state == EDITED:
            note = edited_note(changed_since_approval(log), catalogue, local)
        else:
            note = (last.reason or last.note) if last else ""
            if last is not None and last.reason and last.note:
                note = f"{last.reason} — {last.note}"
        rows.append((word(catalogue, state_of(last)), last.by if last else "",
                     _stamp(last.at if last else None, local), note,
                     _stamp(last_approval(log), local)))
    for i, column in enumerate(STATUS_COLUMNS):
        frame[column] = [r[i] for r in rows]
    return frame


def with_finding_states(findings: pd.DataFrame, states: Mapping[str, FindingState] | None,
                        catalogue: Any, tz: tzinfo | str) -> pd.DataFrame:
    """`findings.csv` with state, first_seen, state_changed, explanation, decided_by (blank for
    the run's own problems, and everywhere when `states` is None)."""
    frame = findings.copy()
    local = zone(tz)
    known = states or {}
    rows = []
    for fid in frame["finding_id"].astype(str) if len(frame) else []:
        s = known.get(fid)
        rows.append(("", "", "", "", "") if s is None else (
            word(catalogue, s.state), _stamp(s.first_seen, local),
            _stamp(s.state_changed, local), s.explanation, s.decided_by))
    for i, column in enumerate(FINDING_STATE_COLUMNS):
        frame[column] = pd.Series([r[i] for r in rows], index=frame.index, dtype=object)
    return frame


@dataclass
class Night:
    """What the review store said after tonight's automatic transitions."""

    units: dict[str, list[UnitTransition]] = field(default_factory=dict)
    findings: dict[str, FindingState] = field(default_factory=dict)
    applied: int = 0


def refusal_message(catalogue: Any, refused: Refused) -> str:
    """The Vietnamese sentence(s) of a refused transition: message, then what to do."""
    params = {k: word(catalogue, v) if k in ("state", "action") else v
              for k, v in refused.params.items()}
    words = catalogue.render(refused.code, params)
    return f"{words.message} {words.instruction}".strip()


# --------------------------------------------------------------------------- what is still open


def _state_words(catalogue: Any, codes: Iterable[str]) -> set[str]:
    return {word(catalogue, code) for code in codes} | set(codes)


def finding_parts(findings: pd.DataFrame, catalogue: Any
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(open, explained, closed) of a findings table with a `state` column (its words or codes).

    Closed: accepted, fixed, false positive — not highlighted, not in reminders. Explained: the
    commune answered and waits for the office. Everything else (no state: the run's own problems,
    or no history) is open.
    """
    if "state" not in findings or findings.empty:
        return findings, findings.iloc[0:0], findings.iloc[0:0]
    state = findings["state"].fillna("").astype(str)
    closed = state.isin(_state_words(catalogue, CLOSED))
    explained = state.isin(_state_words(catalogue, (EXPLAINED,)))
    return findings[~closed & ~explained], findings[explained], findings[closed]


def still_open(findings: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """The findings nobody has closed (open and explained), in their order."""
    _, _, closed = finding_parts(findings, catalogue)
    return findings.drop(index=closed.index)


# --------------------------------------------------------------------------- the review workbook

UNITS_TABLE, FINDINGS_TABLE = "units", "findings"
UNIT_CHOICES = (APPROVE, RETURN, REOPEN)
FINDING_CHOICES = (ACCEPT, REJECT, DISMISS)
# (field, the catalogue text of its header); `decision`, `text`, `by` are typed by the office.
UNIT_COLUMNS = (("unit", "duyet-col-unit"), ("name", "duyet-col-name"),
                ("state", "duyet-col-review-state"), ("last", "duyet-col-last"),
                ("decision", "duyet-col-decision"), ("text", "duyet-col-reason"),
                ("by", "duyet-col-by"))
FINDING_COLUMNS = (("finding", "duyet-col-finding"), ("unit", "duyet-col-unit"),
                   ("cell", "duyet-col-cell"), ("severity", "duyet-col-severity"),
                   ("message", "duyet-col-message"), ("state", "duyet-col-state"),
                   ("explanation", "duyet-col-explanation"),
                   ("decision", "duyet-col-decision"), ("text", "duyet-col-note"),
                   ("by", "duyet-col-by"))
TOKEN_MARK = "giamsat-duyet"  # A1 of the workbook's hidden tab; B1 holds its token
HEADER_ROW = 4  # 1-based row of each table's header (title, help, blank line above)


@dataclass(frozen=True)
class ReviewTable:
    """One tab of the review workbook: its title, header and rows, and the dropdown."""

    table: str
    sheet: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    choices: list[str]
    decision_column: int  # 1-based


def _choices(catalogue: Any, actions: Iterable[str]) -> dict[str, str]:
    return {catalogue.text(f"decision-{a}"): a for a in actions}


def needs_decision(findings: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """Findings the office may decide on: tracked, warnings and errors, open or explained."""
    tracked = tracked_findings(findings)
    if tracked.empty or "state" not in tracked:
        return tracked.iloc[0:0]
    state = tracked["state"].fillna("").astype(str)
    keep = state.isin(_state_words(catalogue, (OPEN, EXPLAINED))) \
        & tracked["severity"].isin(("error", "warning"))
    return tracked[keep]


def review_tables(status: pd.DataFrame, findings: pd.DataFrame, catalogue: Any,
                  plan: str) -> tuple[ReviewTable, ReviewTable]:
    """The two tabs of `duyet.xlsx`: every unit with its review state, and the findings that
    need a decision."""
    def header(columns: tuple) -> list[str]:
        return [catalogue.text(key) for _, key in columns]

    units = []
    for r in status.to_dict("records"):
        at = r.get("reviewed_at") or ""
        last = ""
        if at:
            last = catalogue.text("duyet-last", by=r.get("reviewed_by") or "",
                                  at=datetime.fromisoformat(str(at)),
                                  note=r.get("review_note") or "")
        units.append([r["unit_code"], r.get("unit_name", ""), r.get("review_state") or "",
                      last, None, None, None])
    rows = []
    severities = getattr(catalogue, "severities", {})
    for f in needs_decision(findings, catalogue).itertuples(index=False):
        where = ", ".join(str(p) for p in (f.sheet, f.cell) if isinstance(p, str) and p)
        rows.append([f.finding_id, f.unit_code, where,
                     str(severities.get(f.severity, f.severity)), f.message, f.state,
                     getattr(f, "explanation", "") or "", None, None, None])
    return (
        ReviewTable(UNITS_TABLE, catalogue.text("duyet-sheet-units"),
                    catalogue.text("duyet-title-units", plan=plan), header(UNIT_COLUMNS),
                    units, list(_choices(catalogue, UNIT_CHOICES)), 5),
        ReviewTable(FINDINGS_TABLE, catalogue.text("duyet-sheet-findings"),
                    catalogue.text("duyet-title-findings", plan=plan),
                    header(FINDING_COLUMNS), rows, list(_choices(catalogue, FINDING_CHOICES)),
                    8),
    )


@dataclass(frozen=True)
class Decision:
    """One row of the review workbook with a decision typed in it."""

    table: str  # UNITS_TABLE or FINDINGS_TABLE
    subject: str  # the unit code or the finding id, as typed
    choice: str  # the decision as typed
    action: str  # its action code, "" when it is none of the choices
    text: str  # the reason or note
    by: str  # who, "" when not typed
    sheet: str
    row: int  # 1-based, as the spreadsheet shows it

    def key(self, token: str) -> str:
        """The same decision from the same workbook, however often the file is copied back."""
        return f"duyet:{token}:{self.table}:{self.subject}:{self.action}"[:200]


def _header_row(rows: list[list[Any]], catalogue: Any, columns: tuple, subject: str
                ) -> tuple[int, dict[str, int]] | None:
    """The 0-based row of a table's header and the column of each field, within the first
    rows; the units table is the one whose header has no finding id column."""
    want = {catalogue.text(key).casefold(): name for name, key in columns}
    finding = catalogue.text("duyet-col-finding").casefold()
    for r, row in enumerate(rows[:20]):
        typed = [typed_text(v).casefold() for v in row]
        found = {want[v]: c for c, v in enumerate(typed) if v in want}
        if subject in found and "decision" in found and (
                subject == "finding" or finding not in typed):
            return r, found
    return None


def read_decisions(sheets: Iterable[tuple[str, list[list[Any]]]], catalogue: Any
                   ) -> tuple[str, list[Decision]]:
    """The token and the decisions of a filled review workbook, from its plain grids.

    Each table is found by its header row (any tab, any column order), so a renamed tab or a
    moved column still reads; rows without a decision are skipped.
    """
    token, decisions = "", []
    tables = ((UNITS_TABLE, UNIT_COLUMNS, "unit", UNIT_CHOICES),
              (FINDINGS_TABLE, FINDING_COLUMNS, "finding", FINDING_CHOICES))
    for title, rows in sheets:
        if rows and rows[0] and typed_text(rows[0][0]) == TOKEN_MARK:
            token = typed_text(rows[0][1]) if len(rows[0]) > 1 else ""
            continue
        for table, columns, subject, actions in tables:
            header = _header_row(rows, catalogue, columns, subject)
            if header is None:
                continue
            r, found = header
            choices = {k.casefold(): a for k, a in _choices(catalogue, actions).items()}

            def cell(line: list[Any], name: str, at: dict[str, int] = found) -> str:
                c = at.get(name)
                return typed_text(line[c]) if c is not None and c < len(line) else ""

            for n, line in enumerate(rows[r + 1:], start=r + 2):
                choice = cell(line, "decision")
                if not choice:
                    continue
                decisions.append(Decision(
                    table, cell(line, subject), choice, choices.get(choice.casefold(), ""),
                    cell(line, "text"), cell(line, "by"), title, n))
    return token, decisions


@dataclass(frozen=True)
class TypedDecisions:
    """Decisions typed in review tables kept elsewhere than `duyet.xlsx` (the Google
    dashboard's two review tabs), as their source hands them over."""

    token: str  # names the version of the tables they were typed in (see `Decision.key`)
    decisions: list[Decision]
    by: str  # who decided, for a row that names nobody ("" when not known)
    at: datetime | None  # when the tables were last edited (None when not known)
    place: str  # the tables' name, for the messages


NO_DECISIONS = TypedDecisions("", [], "", None, "")
