"""Google Sheets behind the `Source` protocol: the units' spreadsheets listed in the registry.

A pull costs, per run, ONE Drive ``files.list`` per 1000 files (the folder's spreadsheets with
their ``modifiedTime``) and ONE ``values:batchGet`` per *changed* spreadsheet. A sheet whose
``modifiedTime`` equals the one of its snapshot (or of our own last write-back) is not read:
its snapshot is reused. The listing is not narrowed with ``modifiedTime > last pull``: the
same single call then also shows which sheets were deleted, trashed or unshared (they are
missing from it), and comparing each file's time with its snapshot's is exact, whatever the
office PC's clock says.

A sheet that cannot be read (deleted, unshared, still failing after retries) comes back with
``unreachable`` and the grids of its last snapshot, or with ``error`` when there is none: the
other units go on. `finish` writes each unit's flags back (see
:mod:`flows.sources.google.writeback`).

The dashboard's two review tabs hold the office's decisions (`review_decisions`): read with ONE
more batchGet only on a night when the dashboard's ``modifiedTime`` in that same listing is not
our own last write, and rewritten (new states, blank decision cells) only over a version whose
decisions were taken, so nothing typed is ever blanked unread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from flows.config import Config, ConfigError, load_config
from flows.core import review as core
from flows.core.findings import Finding, Reason
from flows.core.inputs import RawSheet, RawWorkbook
from flows.core.layout import INSTRUCTIONS_TAB, build_layout
from flows.sources.google.accounts import Accounts
from flows.sources.google.client import (
    PULL_SCOPES,
    GoogleApi,
    GoogleError,
    LimiterFactory,
    Timing,
    load_google_settings,
)
from flows.sources.google.registry import Registry, SheetEntry
from flows.sources.google.render import RESULTS_SHEET_ID, RESULTS_TITLE, quoted, sheet_id
from flows.sources.google.snapshots import FlagState, PullState, Snapshot, SnapshotStore
from flows.sources.google.writeback import (
    DASHBOARD_TABS,
    REVIEW_SHEET_IDS,
    Flags,
    dashboard_tables,
    dashboard_writes,
    digest,
    flag_requests,
    review_content,
    review_sheet_requests,
    review_tabs,
    review_writes,
    unit_flags,
)

if TYPE_CHECKING:
    from flows.core.consolidate import Consolidated

log = logging.getLogger(__name__)
WRITE_THREADS = 4
DEFERRED = "deferred"  # a write left for the next run: the sheet changed after we read it
EDITOR_FIELDS = "lastModifyingUser(displayName,emailAddress)"


def unreachable_reason(error: GoogleError) -> Reason:
    """Why a sheet could not be read, as a reason of the catalogue (words staff can act on)."""
    if error.status in (400, 401, 403, 404):
        return Reason(f"google-{error.status}", {"detail": str(error)})
    return Reason("google-failed", {"attempts": error.attempts, "status": error.status})


def _person(file: dict) -> str:
    """Who edited a Drive file last: the name Google shows, else the e-mail, else ""."""
    user = file.get("lastModifyingUser") or {}
    return str(user.get("displayName") or user.get("emailAddress") or "")


def _email(file: dict) -> str:
    return str((file.get("lastModifyingUser") or {}).get("emailAddress") or "")


def _cells(rows: list[list]) -> list[list[object]]:
    # Google answers "" for blank cells inside a row; the core reads blanks as None.
    return [[None if value == "" else value for value in row] for row in rows]


class GoogleSource:
    """The units' Google Sheets, read with as few requests as possible, flags written back."""

    label = "google"

    def __init__(self, config: Config, registry: str | Path | None = None, *,
                 api: GoogleApi | None = None, timing: Timing | None = None,
                 limiters: LimiterFactory | None = None) -> None:
        self.config = config
        self.settings = config.google or load_google_settings(config.directory)
        self.registry = Registry.load(Path(registry) if registry else self.settings.registry)
        self.store = SnapshotStore(self.settings.state_dir)
        self.state = PullState.load(self.settings.state_dir)
        self.layout = build_layout(config)
        self.tz = config.plan.tz
        self._accounts = Accounts([api]) if api is not None else None
        self._timing = timing
        self._limiters = limiters  # Prefect's shared budgets, when the flow has a server
        self._api_lock = threading.Lock()
        self._listed: dict[str, str] | None = {}  # id → modifiedTime; None: listing failed
        self._used: dict[str, Snapshot] = {}  # unit → the snapshot consolidated this run
        self.outcomes: dict[str, str] = {}  # unit → "read", "snapshot" or "unreachable"
        self.notes: list[str] = []  # log lines of this run
        self._found: list[Finding] = []  # the source's own problems, as findings
        self._editors: dict[str, str] = {}  # id → who edited it last (Drive's name, else e-mail)
        self._editor_emails: dict[str, str] = {}
        self._ours: set[str] | None = None  # our own accounts' e-mails, lower case
        self._dashboard: tuple[str | None, str] | None = None  # (modifiedTime, editor e-mail)
        self._dashboard_seen: str | None = None  # the version whose decisions are taken
        self._review_pending: str | None = None  # a version read, its decisions being applied
        self._review_due = False  # decisions taken: rewrite the review tabs tonight
        self._pulled_elsewhere: set[str] = set()  # units a read shard fetched this run

    @property
    def accounts(self) -> Accounts:
        with self._api_lock:
            if self._accounts is None:
                self._accounts = Accounts.open(self.settings, PULL_SCOPES, self._timing,
                                               self._limiters)
            return self._accounts

    @property
    def api(self) -> GoogleApi:
        """The main account: the folder's listing, the dashboard."""
        return self.accounts.main

    def _api_for(self, code: str) -> GoogleApi:
        """The account that reads and writes `code`'s sheet (each has its own quota)."""
        return self.accounts.for_unit(code)

    # --- Source protocol ---

    def refs(self) -> list[str]:
        """The registered sheets of active units, after one listing of what changed."""
        active = {unit.code for unit in self.config.units.active()}
        entries = {code: e for code, e in self.registry.units.items() if code in active}
        if not entries:
            log.warning("No Google sheet registered (%s); run `giamsat provision` first",
                        self.registry.path)
        query = f"'{self.settings.folder_id}' in parents and trashed = false"
        try:
            files = self.api.list_files(query, f"id,modifiedTime,{EDITOR_FIELDS}")
            self._listed = {f["id"]: f.get("modifiedTime", "") for f in files}
            self._editors = {f["id"]: _person(f) for f in files}
            self._editor_emails = {f["id"]: _email(f) for f in files}
            dashboard = self.registry.dashboard
            if dashboard is not None and dashboard.id in self._listed:
                self._dashboard = (self._listed[dashboard.id],
                                   _email(next(f for f in files if f["id"] == dashboard.id)))
        except GoogleError as exc:  # without the listing every sheet is simply read
            log.warning("Drive listing failed (%s); reading every sheet", exc)
            self._note(Finding("listing-failed", {"reason": str(exc)}, source="google",
                               key="listing"))
            self._listed = None
        return [entries[code].id for code in sorted(entries)]

    def read(self, ref: str) -> RawWorkbook:
        """One sheet: its snapshot if unchanged, else ONE batchGet; never raises for the sheet."""
        code = self.registry.unit_of(ref) or ref
        entry = self.registry.units.get(code) or SheetEntry(ref, "")
        base = RawWorkbook(source=entry.name or ref, link=entry.url or None, unit_hint=code,
                           editor=self._person_not_us(ref))
        snapshot = self.store.load(code)
        if snapshot is not None and snapshot.spreadsheet_id != ref:
            snapshot = None  # the registry now points at another sheet
        try:
            modified, trashed = self._modified(ref, code)
            if trashed:
                return self._unreachable(code, base, snapshot, Reason("trashed"))
            if snapshot is not None and self._unchanged(ref, modified, snapshot):
                self.outcomes[code] = "read" if code in self._pulled_elsewhere else "snapshot"
            else:
                snapshot = self._pull(code, ref, modified, snapshot)
                self.outcomes[code] = "read"
        except GoogleError as exc:
            return self._unreachable(code, base, snapshot, unreachable_reason(exc))
        self._used[code] = snapshot
        return self._workbook(base, snapshot)

    # --- read shards: the night's pulls made by other workers (flows.shards) ---

    def to_pull(self, refs: list[str]) -> dict[str, str]:
        """The sheets of `refs` that `read` would fetch from Google (no snapshot of their
        listed version), each with its modifiedTime: the work a read shard can take. Only
        sheets the folder's listing holds: the others are looked at one by one here."""
        if not self._listed:
            return {}
        wanted = {}
        for ref in refs:
            modified = self._listed.get(ref)
            if modified is None:
                continue
            snapshot = self.store.load(self.registry.unit_of(ref) or ref)
            if (snapshot is None or snapshot.spreadsheet_id != ref
                    or not self._unchanged(ref, modified, snapshot)):
                wanted[ref] = modified
        return wanted

    def pull(self, ref: str, modified: str) -> str:
        """A read shard's work for one sheet: fetch it into the snapshot store, as `read`
        would. "" when done, else the reason code it could not be read (the run that gathers
        the shards reads it again itself, and says why)."""
        code = self.registry.unit_of(ref) or ref
        previous = self.store.load(code)
        if previous is not None and previous.spreadsheet_id != ref:
            previous = None
        try:
            self._pull(code, ref, modified or None, previous)
        except GoogleError as exc:
            return unreachable_reason(exc).reason_code
        return ""

    def pulled_elsewhere(self, codes: list[str], findings: list[Finding]) -> None:
        """Units whose sheets read shards fetched this run (their snapshots are tonight's
        reads), and what the shards found on Google's side."""
        self._pulled_elsewhere.update(codes)
        for finding in findings:
            self._note(finding)

    def finish(self, result: Consolidated, as_of: date) -> list[str]:
        """Write each unit's flags (only where they changed) and the dashboard; save state."""
        now = datetime.now(self.tz)
        self.store.withhold(result.findings, self.config)  # no withheld text stays on disk
        counts = {"written": 0, "unchanged": 0, "failed": 0, "deferred": 0}
        status = result.status.set_index("unit_code")
        due: list[tuple[str, str, Flags, FlagState]] = []
        for code in sorted(self._used):
            extraction = result.chosen.get(code)
            entry = self.registry.units.get(code)
            if extraction is None or extraction.unreachable or entry is None:
                continue  # never write into a sheet we could not read
            previous = self.state.flags.get(code, FlagState())
            findings = result.findings[result.findings["unit_code"] == code]
            row = status.loc[code].to_dict() if code in status.index else {}
            flags = unit_flags(str(row.get("unit_name", code)), findings, row,
                               self._used[code].sheet_ids, self.layout, previous, now,
                               self.config.catalogue.severities, self.config.catalogue)
            if flags.hash == previous.hash:
                counts["unchanged"] += 1
            else:
                due.append((code, entry.id, flags, previous))
        # A few threads, like the reads: the rate limiter, not the latency, sets the pace.
        with ThreadPoolExecutor(WRITE_THREADS) as pool:
            outcomes = list(pool.map(lambda job: self._write_flags(*job), due))
        for (code, _, flags, _), own in zip(due, outcomes, strict=True):
            if own is DEFERRED:
                counts["deferred"] += 1
                continue
            if isinstance(own, GoogleError):
                counts["failed"] += 1
                self._note(Finding("writeback-failed", {"reason": str(own)}, unit_code=code,
                                   unit_name=self._name(code), key="writeback"))
                continue
            self.state.flags[code] = FlagState(flags.hash, len(flags.rows), flags.highlights,
                                               flags.first_seen)
            ref = self.registry.units[code].id
            if own:
                self.state.own_writes[ref] = own
            else:
                self.state.own_writes.pop(ref, None)
            counts["written"] += 1
        dashboard = self._write_dashboard(result)
        self.state.last_success = now.isoformat(timespec="seconds")
        self.state.save()
        return self._summary(counts, dashboard)

    def findings(self) -> list[Finding]:
        """What went wrong on Google's side this run (listing, write-back, dashboard)."""
        return list(self._found)

    def _person_not_us(self, ref: str) -> str:
        """Who edited a sheet last, unless it was our own write-back ("" then: the unit)."""
        email = self._editor_emails.get(ref, "")
        if email and email.lower() in self._us():
            return ""
        return self.editor(ref)

    def _us(self) -> set[str]:
        if self._ours is None:  # the same answer whichever read thread asks first
            self._ours = {email.lower() for email in self.accounts.emails}
        return self._ours

    def editor(self, ref: str) -> str:
        """Who edited a spreadsheet last, as the listing (or its own Drive get) said: the name
        Google shows, else the e-mail; "" when not known."""
        return self._editors.get(ref, "")

    # --- the office's decisions, typed in the dashboard's review tabs ---

    def review_decisions(self) -> core.TypedDecisions:
        """The decisions staff chose in the dashboard's two review tabs since our last write.

        Read with ONE values batchGet, and only when the dashboard's modifiedTime (from the
        listing; one Drive get when it is kept outside the folder) is neither our own last write
        nor a version already read: a quiet night costs nothing. The token names our last write
        of the review tabs, so a decision still shown because tonight's write failed is never
        applied twice. Call `review_decisions_taken` once they are applied: until then the tabs
        are not rewritten (nothing typed is ever blanked unread) and the next run reads again.
        """
        entry = self.registry.dashboard
        if entry is None or self._partial():
            return core.NO_DECISIONS
        modified, _ = self._dashboard_version(entry.id)
        if not modified:
            return core.NO_DECISIONS
        if modified in (self.state.own_writes.get(entry.id), self.state.dashboard_read):
            self._dashboard_seen = modified
            return core.NO_DECISIONS
        try:
            decisions = self._read_review(entry.id)
        except GoogleError as exc:
            self._note(Finding("review-dashboard-unread", {"reason": str(exc)}, source="google",
                               key="review-dashboard"))
            return core.NO_DECISIONS
        if not decisions:
            self._dashboard_seen = self.state.dashboard_read = modified
            return core.NO_DECISIONS
        self._review_pending = modified
        by = self._person_not_us(entry.id)
        at = datetime.fromisoformat(modified.replace("Z", "+00:00"))
        token = f"tong-hop:{self.state.review_token or entry.id}"
        return core.TypedDecisions(token, decisions, by, at, entry.name or entry.id)

    def review_decisions_taken(self) -> None:
        """The decisions `review_decisions` gave are applied: tonight's dashboard write shows
        the new states and blank decision cells."""
        if self._review_pending:
            self._dashboard_seen = self.state.dashboard_read = self._review_pending
            self._review_pending, self._review_due = None, True

    def _dashboard_version(self, ref: str) -> tuple[str | None, str]:
        """The dashboard's (modifiedTime, last editor's e-mail): the listing's, else asked."""
        if self._dashboard is None:
            try:
                meta = self.api.get_file(ref, f"id,modifiedTime,{EDITOR_FIELDS}")
            except GoogleError as exc:
                log.warning("The dashboard's Drive metadata could not be read (%s)", exc)
                meta = {}
            self._editors[ref], self._editor_emails[ref] = _person(meta), _email(meta)
            self._dashboard = (meta.get("modifiedTime"), _email(meta))
        return self._dashboard

    def _read_review(self, ref: str) -> list[core.Decision]:
        """ONE batchGet of the review tabs; a renamed tab costs one metadata read (the tabs
        are ours by sheet id), a deleted one is simply not read."""
        titles = [t.sheet for _, t in self._bare_review_tabs()]
        try:
            grids = self.api.values_batch_get(ref, [quoted(t) for t in titles])
        except GoogleError as exc:
            if exc.status != 400:
                raise
            meta = self.api.spreadsheet(ref, "sheets.properties(sheetId,title)")
            titles = [s["properties"]["title"] for s in meta.get("sheets", [])
                      if int(s["properties"]["sheetId"]) in REVIEW_SHEET_IDS]
            grids = self.api.values_batch_get(ref, [quoted(t) for t in titles]) if titles else []
        _, decisions = core.read_decisions(zip(titles, grids, strict=False),
                                           self.config.catalogue)
        return decisions

    def _bare_review_tabs(self) -> list:
        return review_tabs(pd.DataFrame(), pd.DataFrame(), self.config.catalogue,
                           self.config.plan.name)

    def _note(self, finding: Finding) -> None:
        """A problem of ours: a finding for the tables, and a line for the run log."""
        self._found.append(finding)
        words = self.config.catalogue.render(finding.rule, finding.params).message
        self.notes.append(f"{finding.unit_code}: {words}" if finding.unit_code else words)

    def _name(self, code: str) -> str:
        unit = self.config.units.by_code().get(code)
        return unit.full_name if unit else ""

    # --- reading ---

    def _modified(self, ref: str, code: str) -> tuple[str | None, bool]:
        """The sheet's modifiedTime (and whether it is trashed): from the listing, else asked."""
        if self._listed is None:
            return None, False
        if ref in self._listed:
            return self._listed[ref], False
        # Not in the folder's listing: deleted, trashed, unshared, or kept elsewhere.
        meta = self._api_for(code).get_file(ref, f"id,modifiedTime,trashed,{EDITOR_FIELDS}")
        modified = meta.get("modifiedTime")
        self._listed[ref] = modified or ""
        self._editors[ref] = _person(meta)
        self._editor_emails[ref] = _email(meta)
        return modified, bool(meta.get("trashed"))

    def _unchanged(self, ref: str, modified: str | None, snapshot: Snapshot) -> bool:
        if not modified or snapshot.withheld:  # masked cells: read what was really typed
            return False
        return modified in (snapshot.modified, self.state.own_writes.get(ref))

    def _pull(self, code: str, ref: str, modified: str | None,
              previous: Snapshot | None) -> Snapshot:
        """ONE batchGet of all tabs; if a tab title fails, one metadata read and a re-read."""
        tabs = [s for s in self.layout.sheets if s.tab != INSTRUCTIONS_TAB]
        titles = previous.titles if previous else [s.title for s in tabs]
        ids = previous.sheet_ids if previous else {s.title: sheet_id(s.tab) for s in tabs}
        if RESULTS_SHEET_ID not in ids.values():  # the same read brings the commune's answers
            titles, ids = [*titles, RESULTS_TITLE], {**ids, RESULTS_TITLE: RESULTS_SHEET_ID}
        api = self._api_for(code)
        try:
            grids = api.values_batch_get(ref, [quoted(t) for t in titles])
        except GoogleError as exc:
            if exc.status != 400:
                raise
            titles, ids = self._titles(code, ref)
            grids = api.values_batch_get(ref, [quoted(t) for t in titles])
        snapshot = Snapshot(code, ref, datetime.now(UTC), modified, titles,
                            dict(zip(titles, grids, strict=False)), ids)
        self.store.save(snapshot)
        return snapshot

    def _titles(self, code: str, ref: str) -> tuple[list[str], dict[str, int]]:
        """Every tab's title (a commune renamed one): the core finds our tabs by their marker."""
        meta = self._api_for(code).spreadsheet(ref, "sheets.properties(sheetId,title)")
        found = {int(s["properties"]["sheetId"]): s["properties"]["title"]
                 for s in meta.get("sheets", [])}
        skip = {sheet_id(INSTRUCTIONS_TAB)}
        titles = [title for sid, title in found.items() if sid not in skip]
        for sheet in self.layout.sheets:
            now = found.get(sheet_id(sheet.tab))
            if now is not None and now != sheet.title:
                self._note(Finding("tab-renamed", {"old": sheet.title, "new": now},
                                   unit_code=code, unit_name=self._name(code), sheet=now,
                                   key=f"renamed|{sheet.tab}"))
        return titles, {title: sid for sid, title in found.items()}

    def _workbook(self, base: RawWorkbook, snapshot: Snapshot,
                  unreachable: str | None = None) -> RawWorkbook:
        base.sheets = [RawSheet(title, _cells(snapshot.grids.get(title, [])))
                       for title in snapshot.titles]
        base.read_at = snapshot.read_at.astimezone(self.tz)
        if snapshot.modified:
            base.modified = datetime.fromisoformat(snapshot.modified.replace("Z", "+00:00"))
        base.unreachable = unreachable
        return base

    def _unreachable(self, code: str, base: RawWorkbook, snapshot: Snapshot | None,
                     reason: Reason) -> RawWorkbook:
        self.outcomes[code] = "unreachable"
        words = self.config.catalogue.reason(reason.reason_code, reason.params)
        self.notes.append(f"{code}: {words}.")
        if snapshot is None:
            base.error = reason
            return base
        return self._workbook(base, snapshot, reason)

    # --- writing back ---

    def _write_flags(self, code: str, ref: str, flags: Flags,
                     previous: FlagState) -> str | None | GoogleError:
        """One batchUpdate; returns our write's modifiedTime, to be taken for "no change".

        If someone edited the sheet after the listing, None: the next run reads the sheet again
        rather than miss that edit. A failure is returned, not raised (this runs in a pool).
        """
        listed = (self._listed or {}).get(ref)
        api = self._api_for(code)
        try:
            before = api.get_file(ref, "id,modifiedTime").get("modifiedTime")
            if listed and before and before != listed:
                # Edited since we read it: writing now could wipe an answer just typed in the
                # results tab. The next run reads the edit and writes then.
                return DEFERRED
            try:
                api.batch_update(ref, flag_requests(flags, previous))
            except GoogleError as exc:
                if exc.status != 400:
                    raise
                # A tab is gone (the results tab, or a data tab re-created): use the real ids.
                meta = api.spreadsheet(ref, "sheets.properties.sheetId")
                existing = {int(s["properties"]["sheetId"]) for s in meta.get("sheets", [])}
                api.batch_update(ref, flag_requests(flags, previous, existing))
                self._note(Finding("results-tab-restored", unit_code=code,
                                   unit_name=self._name(code), key="results-tab"))
            after = api.get_file(ref, "id,modifiedTime").get("modifiedTime")
        except GoogleError as exc:
            return exc
        return after if listed and before == listed and after else None

    def _partial(self) -> bool:
        """A run over some units only (``--units``) must not shrink the town dashboard."""
        try:
            everyone = {u.code for u in load_config(self.config.directory).units.active()}
        except ConfigError:
            return True
        return everyone != {u.code for u in self.config.units.active()}

    def _write_dashboard(self, result: Consolidated) -> str:
        entry = self.registry.dashboard
        if entry is None:
            return "chưa có (chạy giamsat provision)"
        if self._partial():
            return "không cập nhật (chỉ tổng hợp một số đơn vị)"
        tables = dashboard_tables(result.status, result.values, result.lists)
        content = digest(tables)
        review = self._review_tabs(result)
        help_text = self.config.catalogue.text("review-dashboard-help")
        reviewed = digest(review_content(review, help_text)) if review else ""
        tables_due = content != self.state.dashboard_hash
        review_due = review is not None and (self._review_due or reviewed != self.state.review_hash)
        if not tables_due and not review_due:
            return "không đổi"
        try:
            before = self.api.get_file(entry.id, "id,modifiedTime").get("modifiedTime")
            # Our write counts as "no change" only over a version whose decisions we took; and
            # the review tabs (their decision cells blanked) are rewritten only over that one:
            # a decision typed since the tabs were read waits for the next run, never lost.
            known = bool(before) and before == self._dashboard_seen
            review_due = review_due and known
            if not tables_due and not review_due:
                return "không đổi"
            writing = (review or []) if review_due else []
            requests, data = dashboard_writes(tables) if tables_due else ([], [])
            requests += review_writes(writing, help_text)
            self._dashboard_update(entry.id, requests, writing)
            if review_due:
                self.state.review_hash = reviewed
                self.state.review_token = uuid.uuid4().hex[:12]
                self._review_due = False
            if data:
                self.api.values_batch_update(entry.id, data)
            after = self.api.get_file(entry.id, "id,modifiedTime").get("modifiedTime")
        except GoogleError as exc:
            self.state.own_writes.pop(entry.id, None)
            self._found.append(Finding("dashboard-failed", {"reason": str(exc)}, source="google",
                                       key="dashboard"))
            return f"không ghi được ({exc})"
        if known and after:
            self.state.own_writes[entry.id] = after
        else:
            self.state.own_writes.pop(entry.id, None)
        if tables_due:
            self.state.dashboard_hash = content
        return "đã cập nhật"

    def _review_tabs(self, result: Consolidated) -> list | None:
        """Tonight's review tabs; None when the review store could not be used (no state at
        all): the tabs then stay as they are, with whatever the office typed."""
        status = result.status
        if "review_state" not in status or \
                not status["review_state"].fillna("").astype(str).ne("").any():
            return None
        return review_tabs(status, result.findings, self.config.catalogue,
                           self.config.plan.name)

    def _dashboard_update(self, ref: str, requests: list[dict], review: list) -> None:
        """ONE batchUpdate; a dashboard tab someone deleted (or a dashboard provisioned before
        the review tabs existed) is added back first, then the same requests again."""
        try:
            self.api.batch_update(ref, requests)
        except GoogleError as exc:
            if exc.status != 400:
                raise
            meta = self.api.spreadsheet(ref, "sheets.properties.sheetId")
            existing = {int(s["properties"]["sheetId"]) for s in meta.get("sheets", [])}
            added = [{"addSheet": {"properties": {"sheetId": sid, "title": title}}}
                     for sid, title, _ in DASHBOARD_TABS if sid not in existing]
            added += review_sheet_requests([tab for tab in review if tab[0] not in existing])
            if not added:
                raise
            self.api.batch_update(ref, added + requests)

    def _summary(self, counts: dict[str, int], dashboard: str) -> list[str]:
        outcomes = list(self.outcomes.values())
        calls = self.accounts.calls()
        lines = [
            f"Google: đọc {outcomes.count('read')} bảng tính, dùng lại số liệu đã lưu của "
            f"{outcomes.count('snapshot')}, không truy cập được {outcomes.count('unreachable')}.",
            f"Google: ghi kết quả kiểm tra vào {counts['written']} bảng tính "
            f"({counts['unchanged']} không đổi, {counts['failed']} lỗi"
            + (f", {counts['deferred']} để lần sau vì vừa có người sửa" if counts["deferred"]
               else "") + "); bảng Tổng hợp: "
            f"{dashboard}.",
            f"Google: {calls['read']} lượt đọc, {calls['write']} lượt ghi, {calls['drive']} "
            f"lượt gọi Drive, {calls['retry']} lần thử lại.",
        ]
        return lines + self.notes
