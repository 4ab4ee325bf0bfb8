"""Provisioning: the template spreadsheet, one copy per unit, sharing, the dashboard, registry.

Re-running changes nothing that exists. Files are found by the registry first, then by name in
ONE listing of the folder; a person's access is checked against the file's permissions before
sharing. A new unit in `config/units.yaml` gets its sheet; nothing is ever deleted. Copies and
creations are not idempotent, so before a retry we look whether the lost attempt had worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flows.config import Config, Unit
from flows.core.layout import build_layout
from flows.sources.google.accounts import Accounts
from flows.sources.google.client import (
    PROVISION_SCOPES,
    SPREADSHEET_MIME,
    GoogleApi,
    GoogleError,
    GoogleSettings,
    spreadsheet_url,
)
from flows.sources.google.registry import Registry, SheetEntry
from flows.sources.google.render import (
    PROTECTION_PREFIX,
    dashboard_requests,
    sheet_id,
    template_requests,
    unit_requests,
)
from flows.sources.google.writeback import (
    DASHBOARD_TABS,
    review_sheet_requests,
    review_tabs,
    review_writes,
)

log = logging.getLogger(__name__)
_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 4, "organizer": 5,
         "owner": 6}


@dataclass
class ProvisionReport:
    """What a provisioning run did (and did not need to do)."""

    registry: Path
    template: str = ""
    dashboard: str = ""
    created: list[str] = field(default_factory=list)  # unit codes copied this run
    adopted: list[str] = field(default_factory=list)  # found by name, added to the registry
    existing: list[str] = field(default_factory=list)
    shares: int = 0
    missing: list[str] = field(default_factory=list)  # registered but gone: left for staff

    def lines(self) -> list[str]:
        lines = [f"Bảng tính mẫu: {self.template}", f"Bảng Tổng hợp: {self.dashboard}",
                 f"Bảng tính đơn vị: tạo mới {len(self.created)}"
                 f"{' (' + ', '.join(self.created) + ')' if self.created else ''}, "
                 f"đã có {len(self.existing) + len(self.adopted)}; chia sẻ thêm {self.shares} "
                 "lượt.", f"Sổ đăng ký: {self.registry}"]
        for code in self.missing:
            lines.append(f"{code}: bảng tính trong sổ đăng ký không còn (đã xoá hoặc thôi chia "
                         "sẻ). Kiểm tra lại; muốn tạo bản mới thì xoá dòng của đơn vị trong sổ "
                         "đăng ký rồi chạy lại.")
        return lines


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class Provisioner:
    """One provisioning run against one folder."""

    def __init__(self, config: Config, settings: GoogleSettings, registry: Registry,
                 api: GoogleApi | Accounts) -> None:
        self.config = config
        self.settings = settings
        self.registry = registry
        # the main account lists, creates and copies; each unit's sheet is shared with the
        # account that reads it (several accounts: see flows.sources.google.accounts)
        self.accounts = api if isinstance(api, Accounts) else Accounts([api])
        self.api = self.accounts.main
        self.folder = settings.folder_id
        self.year = config.plan.deadline.year
        self.layout = build_layout(config)
        self.editors = list(dict.fromkeys([*self.accounts.emails,
                                           *config.units.staff_emails]))
        self.report = ProvisionReport(registry.path)
        self.listed: dict[str, dict] = {}  # name → file, for the folder's spreadsheets
        self.ids: set[str] = set()

    def name(self, kind: str, unit: Unit | None = None) -> str:
        pattern = getattr(self.settings.names, kind)
        return pattern.format(unit_code=unit.code if unit else "", year=self.year,
                              unit_name=unit.full_name if unit else "",
                              form_title=self.config.form.title)

    def run(self) -> ProvisionReport:
        query = (f"'{self.folder}' in parents and trashed = false and "
                 f"mimeType = '{SPREADSHEET_MIME}'")
        for file in self.api.list_files(query, "id,name,modifiedTime"):
            self.listed.setdefault(file["name"], file)
            self.ids.add(file["id"])
        self.registry.folder_id = self.folder
        template = self.template()
        self.report.template = template.url
        self.report.dashboard = self.dashboard().url
        for unit in self.config.units.active():
            self.unit_sheet(unit, template)
        self.registry.save()
        return self.report

    # --- finding or creating files ---

    def _alive(self, entry: SheetEntry | None) -> bool:
        """Registered and still there (the folder listing, else one Drive get)."""
        if entry is None:
            return False
        if entry.id in self.ids:
            return True
        try:
            return not self.api.get_file(entry.id, "id,trashed").get("trashed")
        except GoogleError as exc:
            if exc.gone:
                return False
            raise

    def _find(self, name: str) -> dict | None:
        """A spreadsheet with this exact name in the folder (asked again: used before retries)."""
        query = (f"'{self.folder}' in parents and trashed = false and "
                 f"name = '{_escape(name)}'")
        found = self.api.list_files(query, "id,name,modifiedTime")
        return found[0] if found else None

    def _create(self, name: str) -> SheetEntry:
        file = self.listed.get(name)
        if file is None:
            file = self.api.create_spreadsheet(name, self.folder,
                                               recover=lambda: self._find(name))
        return SheetEntry(file["id"], spreadsheet_url(file["id"]), name)

    def _has_sheet(self, spreadsheet_id: str, wanted: int) -> dict | None:
        meta = self.api.spreadsheet(spreadsheet_id, "sheets.properties.sheetId")
        ids = [int(s["properties"]["sheetId"]) for s in meta.get("sheets", [])]
        return {"ids": ids} if wanted in ids else None

    def _build(self, entry: SheetEntry, first_tab: int,
               requests_for: Callable[[list[int]], list[dict]]) -> None:
        """Run a structural batchUpdate once, unless the file already has its first tab."""
        meta = self.api.spreadsheet(entry.id, "sheets.properties.sheetId")
        ids = [int(s["properties"]["sheetId"]) for s in meta.get("sheets", [])]
        if first_tab not in ids:
            self.api.batch_update(entry.id, requests_for(ids),
                                  recover=lambda: self._has_sheet(entry.id, first_tab))
        entry.prepared = True
        self.registry.save()

    def template(self) -> SheetEntry:
        entry = self.registry.template
        if not self._alive(entry):
            entry = self._create(self.name("template"))
            self.registry.template = entry
            self.registry.save()
        assert entry is not None
        if not entry.prepared:
            self._build(entry, sheet_id(self.layout.sheets[0].tab),
                        lambda ids: template_requests(self.layout, self.config.plan.timezone,
                                                      self.editors, ids))
            self.registry.form_version = self.config.form.version
            self.registry.save()
        elif self.registry.form_version != self.config.form.version:
            log.warning("The template was built for form version %s, the form is now %s",
                        self.registry.form_version, self.config.form.version)
        return entry

    def dashboard(self) -> SheetEntry:
        entry = self.registry.dashboard
        if not self._alive(entry):
            entry = self._create(self.name("dashboard"))
            self.registry.dashboard = entry
            self.registry.save()
        assert entry is not None
        if not entry.prepared:
            tabs = [(sid, title, [label for _, label in columns])
                    for sid, title, columns in DASHBOARD_TABS]
            # and the office's two review tabs, bare (title, help, header) until the first run
            words = self.config.catalogue
            review = review_tabs(pd.DataFrame(), pd.DataFrame(), words, self.config.plan.name)
            self._build(entry, DASHBOARD_TABS[0][0],
                        lambda ids: dashboard_requests(tabs, self.config.plan.timezone, ids)
                        + review_sheet_requests(review, len(tabs))
                        + review_writes(review, words.text("review-dashboard-help")))
        self.share(entry, list(self.config.units.staff_emails))
        return entry

    # --- unit sheets ---

    def unit_sheet(self, unit: Unit, template: SheetEntry) -> None:
        entry = self.registry.units.get(unit.code)
        if entry is not None and not self._alive(entry):
            self.report.missing.append(unit.code)  # never re-created behind staff's back
            return
        if entry is None:
            name = self.name("sheet", unit)
            file = self.listed.get(name)
            if file is None:
                file = self.api.copy_file(template.id, name, self.folder,
                                          recover=lambda: self._find(name))
                self.report.created.append(unit.code)
            else:
                self.report.adopted.append(unit.code)
            entry = SheetEntry(file["id"], spreadsheet_url(file["id"]), name)
            self.registry.units[unit.code] = entry
            self.registry.save()  # at once: a crash must not cost us the copy's id
        else:
            self.report.existing.append(unit.code)
        if not entry.prepared:
            self.prepare(unit, entry)
        self.share(entry, [*unit.emails, *self.config.units.staff_emails])
        reader = self.accounts.for_unit(unit.code)
        if reader is not self.api and reader.email:  # it must write the flags back
            self.share(entry, [reader.email], role="writer")

    def _ours(self, unit: Unit) -> list[str]:
        """Our accounts that may edit this unit's protected cells: the main one, its reader."""
        return [e for e in (self.api.email, self.accounts.for_unit(unit.code).email) if e]

    def _prepared(self, spreadsheet_id: str, code: str) -> dict | None:
        meta = self.api.spreadsheet(spreadsheet_id, "sheets.protectedRanges.description")
        marks = [p.get("description", "") for s in meta.get("sheets", [])
                 for p in s.get("protectedRanges", [])]
        return {} if any(mark.endswith(f"|{code}") for mark in marks) else None

    def prepare(self, unit: Unit, entry: SheetEntry) -> None:
        """Prefill and lock the unit's name and code; give staff the protected ranges back."""
        meta = self.api.spreadsheet(
            entry.id, "sheets(properties.sheetId,protectedRanges(protectedRangeId,description))")
        ours = [int(p["protectedRangeId"]) for s in meta.get("sheets", [])
                for p in s.get("protectedRanges", [])
                if str(p.get("description", "")).startswith(PROTECTION_PREFIX)]
        editors = [e for e in self.editors
                   if e not in self.accounts.emails or e in self._ours(unit)]
        requests = unit_requests(self.layout, build_layout(self.config, unit), editors,
                                 ours, unit.code)
        self.api.batch_update(entry.id, requests,
                              recover=lambda: self._prepared(entry.id, unit.code))
        entry.prepared = True
        self.registry.save()

    def share(self, entry: SheetEntry, emails: list[str], role: str | None = None) -> None:
        """Give each address the configured role (or `role`, without a notification: one of
        our accounts), unless it already has it (or more)."""
        sharing = self.settings.sharing
        role = role or sharing.role
        notify = sharing.send_notification_email and role == sharing.role
        wanted = list(dict.fromkeys(e.strip() for e in emails if e.strip()))
        have = {str(p.get("emailAddress", "")).lower(): _RANK.get(p.get("role", ""), 0)
                for p in self.api.list_permissions(entry.id)}
        for email in wanted:
            if have.get(email.lower(), 0) >= _RANK[role]:
                continue
            self.api.share(entry.id, email, role, notify, sharing.email_message)
            self.report.shares += 1
        shared = sorted(set(entry.shared) | set(wanted))
        if shared != entry.shared:
            entry.shared = shared
            self.registry.save()


def provision_all(config: Config, settings: GoogleSettings, registry: Path | None = None,
                  api: GoogleApi | None = None) -> ProvisionReport:
    """Make sure the template, the dashboard and every active unit's sheet exist and are shared."""
    book = Registry.load(registry or settings.registry)
    accounts = Accounts([api]) if api is not None else Accounts.open(settings, PROVISION_SCOPES)
    return Provisioner(config, settings, book, accounts).run()
