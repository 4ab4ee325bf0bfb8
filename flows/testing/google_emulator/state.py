"""In-memory state of the Google API emulator (Drive files, spreadsheets, sheets, cells).

Everything is plain JSON-able data so that the state can persist to a folder between runs.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.testing.google_emulator.common import JSON

SAVE_DELAY_S = 0.5

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
FOLDER_MIME = "application/vnd.google-apps.folder"
DEFAULT_OWNER = "owner@example.com"
STATE_FILE = "google-emulator.json"  # clock; each file lives in files/<id>.json

ROLE_RANK = {
    "reader": 1,
    "commenter": 2,
    "writer": 3,
    "fileOrganizer": 4,
    "organizer": 5,
    "owner": 6,
}
READER = ROLE_RANK["reader"]
WRITER = ROLE_RANK["writer"]
OWNER = ROLE_RANK["owner"]

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

Cell = dict[str, Any]  # Google's CellData: userEnteredValue, userEnteredFormat, note, ...


@dataclass
class Sheet:
    """One tab: its properties plus sparse cells keyed by 0-based (row, column)."""

    properties: JSON
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    merges: list[JSON] = field(default_factory=list)
    protected_ranges: list[JSON] = field(default_factory=list)
    conditional_formats: list[JSON] = field(default_factory=list)
    row_meta: dict[int, JSON] = field(default_factory=dict)
    col_meta: dict[int, JSON] = field(default_factory=dict)
    extras: JSON = field(default_factory=dict)  # basicFilter, borders: stored loosely

    @property
    def sheet_id(self) -> int:
        return int(self.properties.get("sheetId", 0))

    @property
    def title(self) -> str:
        return str(self.properties.get("title", ""))

    @property
    def grid(self) -> JSON:
        return self.properties.setdefault("gridProperties", {})

    @property
    def row_count(self) -> int:
        return int(self.grid.get("rowCount", 0))

    @row_count.setter
    def row_count(self, value: int) -> None:
        self.grid["rowCount"] = value

    @property
    def col_count(self) -> int:
        return int(self.grid.get("columnCount", 0))

    @col_count.setter
    def col_count(self, value: int) -> None:
        self.grid["columnCount"] = value

    def ensure_size(self, rows: int, cols: int) -> None:
        """Grow the grid so that it holds at least ``rows`` x ``cols`` cells."""
        if rows > self.row_count:
            self.row_count = rows
        if cols > self.col_count:
            self.col_count = cols

    def to_json(self) -> JSON:
        return {
            "properties": self.properties,
            "cells": [[r, c, cell] for (r, c), cell in sorted(self.cells.items())],
            "merges": self.merges,
            "protectedRanges": self.protected_ranges,
            "conditionalFormats": self.conditional_formats,
            "rowMeta": [[i, meta] for i, meta in sorted(self.row_meta.items())],
            "colMeta": [[i, meta] for i, meta in sorted(self.col_meta.items())],
            "extras": self.extras,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Sheet:
        return cls(
            properties=data["properties"],
            cells={(int(r), int(c)): cell for r, c, cell in data.get("cells", [])},
            merges=data.get("merges", []),
            protected_ranges=data.get("protectedRanges", []),
            conditional_formats=data.get("conditionalFormats", []),
            row_meta={int(i): meta for i, meta in data.get("rowMeta", [])},
            col_meta={int(i): meta for i, meta in data.get("colMeta", [])},
            extras=data.get("extras", {}),
        )


def new_sheet(sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26) -> Sheet:
    """A blank grid sheet with Google's default size (1000 x 26)."""
    return Sheet(
        properties={
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": cols},
        }
    )


@dataclass
class Spreadsheet:
    """Spreadsheet content; its title is the Drive file name."""

    properties: JSON  # locale, autoRecalc, timeZone (+ whatever updateSpreadsheetProperties set)
    sheets: list[Sheet]

    @property
    def locale(self) -> str:
        return str(self.properties.get("locale", "en_US"))

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def sheet_by_title(self, title: str) -> Sheet | None:
        """Find a sheet by title; exact match first, then case-insensitive like Google."""
        exact = next((s for s in self.sheets if s.title == title), None)
        if exact is not None:
            return exact
        folded = title.casefold()
        return next((s for s in self.sheets if s.title.casefold() == folded), None)

    def first_visible(self) -> Sheet | None:
        visible = [s for s in self.sheets if not s.properties.get("hidden")]
        return (visible or self.sheets or [None])[0]

    def reindex(self) -> None:
        for index, sheet in enumerate(self.sheets):
            sheet.properties["index"] = index

    def to_json(self) -> JSON:
        return {"properties": self.properties, "sheets": [s.to_json() for s in self.sheets]}

    @classmethod
    def from_json(cls, data: JSON) -> Spreadsheet:
        return cls(data["properties"], [Sheet.from_json(s) for s in data["sheets"]])


def new_spreadsheet(locale: str = "en_US", sheet_titles: list[str] | None = None) -> Spreadsheet:
    """A spreadsheet as Google creates it: one ``Sheet1`` (id 0) unless titles are given."""
    titles = sheet_titles or ["Sheet1"]
    sheets = [new_sheet(0 if i == 0 else 1000 + i, t, i) for i, t in enumerate(titles)]
    properties = {"locale": locale, "autoRecalc": "ON_CHANGE", "timeZone": "Etc/GMT"}
    return Spreadsheet(properties, sheets)


@dataclass
class DriveFile:
    """A Drive file: metadata, permissions and (for spreadsheets) the content."""

    id: str
    name: str
    mime_type: str
    created_time: str
    modified_time: str
    parents: list[str] = field(default_factory=list)
    trashed: bool = False
    starred: bool = False
    description: str | None = None
    version: int = 1
    permissions: list[JSON] = field(default_factory=list)
    comments: list[JSON] = field(default_factory=list)
    spreadsheet: Spreadsheet | None = None
    last_modifying_user: str | None = None  # e-mail of who wrote it last (None: its owner)

    @property
    def content(self) -> Spreadsheet:
        """The spreadsheet content (callers have checked that this file is a spreadsheet)."""
        if self.spreadsheet is None:
            raise ValueError(f"{self.id} is not a spreadsheet")
        return self.spreadsheet

    @property
    def owner(self) -> str | None:
        owner = next((p for p in self.permissions if p.get("role") == "owner"), None)
        return owner.get("emailAddress") if owner else None

    def to_json(self) -> JSON:
        data = {k: v for k, v in self.__dict__.items() if k != "spreadsheet"}
        data["spreadsheet"] = self.spreadsheet.to_json() if self.spreadsheet else None
        return data

    @classmethod
    def from_json(cls, data: JSON) -> DriveFile:
        content = data.pop("spreadsheet", None)
        file = cls(**data)
        file.spreadsheet = Spreadsheet.from_json(content) if content else None
        return file


def permission_id(kind: str, who: str | None) -> str:
    """A stable permission id per grantee, like Drive's (same person, same id everywhere)."""
    if kind == "anyone":
        return "anyoneWithLink"
    digest = 0
    for char in f"{kind}:{(who or '').lower()}":
        digest = (digest * 131 + ord(char)) % (10**20)
    return f"{digest:020d}"


def user_permission(email: str, role: str) -> JSON:
    """A ``user`` permission record."""
    return {"id": permission_id("user", email), "type": "user", "emailAddress": email, "role": role}


def format_rfc3339(ms: int) -> str:
    """Milliseconds since the epoch as Drive writes times: ``2023-08-17T10:52:37.010Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time; a time without an offset is taken as UTC (like Drive)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Store:
    """All files, a lock guarding them, timestamps and optional JSON persistence."""

    def __init__(self, state_dir: Path | None, wall_clock: Callable[[], float]) -> None:
        self.files: dict[str, DriveFile] = {}
        self.lock = threading.RLock()
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._wall_clock = wall_clock
        self._last_ms = 0
        self._dirty: set[str] = set()
        self._pending: threading.Timer | None = None  # the next `flush`, once a change is made

    # --- time and ids ---

    def now(self) -> str:
        """Current time for modifiedTime: strictly increasing, even within one millisecond."""
        with self.lock:
            ms = max(int(self._wall_clock() * 1000), self._last_ms + 1)
            self._last_ms = ms
            return format_rfc3339(ms)

    def new_id(self) -> str:
        """A fresh 44-character id shaped like Google's."""
        while True:
            candidate = "1" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(43))
            if candidate not in self.files:
                return candidate

    def touch(self, file: DriveFile, by: str | None = None) -> None:
        """Record a write by ``by`` (an identity): bump modifiedTime and version."""
        file.modified_time = self.now()
        file.version += 1
        if by:
            file.last_modifying_user = by
        self.mark(file.id)

    def mark(self, file_id: str) -> None:
        """Note that a file changed and must be saved."""
        self._dirty.add(file_id)

    # --- files ---

    def add(self, file: DriveFile) -> DriveFile:
        self.files[file.id] = file
        self.mark(file.id)
        return file

    def get(self, file_id: str) -> DriveFile | None:
        return self.files.get(file_id)

    def children(self, folder_id: str) -> list[DriveFile]:
        return [f for f in self.files.values() if folder_id in f.parents]

    def remove_tree(self, file_id: str) -> None:
        """Delete a file and, for a folder, everything below it."""
        for child in self.children(file_id):
            self.remove_tree(child.id)
        self.files.pop(file_id, None)
        self.mark(file_id)

    def is_trashed(self, file: DriveFile, _seen: set[str] | None = None) -> bool:
        """Trashed itself or inside a trashed folder."""
        if file.trashed:
            return True
        seen = _seen if _seen is not None else {file.id}
        for parent_id in file.parents:
            parent = self.files.get(parent_id)
            if parent is not None and parent_id not in seen:
                seen.add(parent_id)
                if self.is_trashed(parent, seen):
                    return True
        return False

    def role_rank(self, file: DriveFile, identity: str, _seen: set[str] | None = None) -> int:
        """The caller's best role on a file, including roles inherited from parent folders."""
        best = max((ROLE_RANK.get(p.get("role", ""), 0) for p in file.permissions
                    if _grants(p, identity)), default=0)
        seen = _seen if _seen is not None else {file.id}
        for parent_id in file.parents:
            parent = self.files.get(parent_id)
            if parent is not None and parent_id not in seen:
                seen.add(parent_id)
                best = max(best, self.role_rank(parent, identity, seen))
        return best

    # --- persistence ---

    def load(self) -> None:
        """Load the saved state, if any."""
        if self.state_dir is None:
            return
        files: dict[str, DriveFile] = {}
        for path in sorted((self.state_dir / "files").glob("*.json")):
            file = DriveFile.from_json(json.loads(path.read_text(encoding="utf-8")))
            files[file.id] = file
        clock = self.state_dir / STATE_FILE
        last_ms = json.loads(clock.read_text(encoding="utf-8"))["lastMs"] if clock.exists() else 0
        with self.lock:
            self.files = files
            self._last_ms = max(self._last_ms, int(last_ms))
            self._dirty.clear()

    def save(self) -> None:
        """Save the changes soon: a burst of requests (a run writes dozens) is written once,
        `SAVE_DELAY_S` after its first change, instead of every sheet's JSON per request.
        `flush` (the emulator's stop) writes what is left at once."""
        if self.state_dir is None:
            return
        with self.lock:
            if self._pending is None:
                self._pending = threading.Timer(SAVE_DELAY_S, self.flush)
                self._pending.daemon = True
                self._pending.start()

    def flush(self) -> None:
        """Write the files that changed since the last save (atomically: temp file + rename)."""
        if self.state_dir is None:
            return
        with self.lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            folder = self.state_dir / "files"
            folder.mkdir(parents=True, exist_ok=True)
            for file_id in sorted(self._dirty):
                path = folder / f"{file_id}.json"
                file = self.files.get(file_id)
                if file is None:
                    path.unlink(missing_ok=True)
                else:
                    _write_atomic(path, json.dumps(file.to_json(), ensure_ascii=False))
            self._dirty.clear()
            _write_atomic(self.state_dir / STATE_FILE, json.dumps({"format": 2,
                                                                   "lastMs": self._last_ms}))


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def _grants(permission: JSON, identity: str) -> bool:
    kind = permission.get("type")
    if kind == "anyone":
        return True
    if kind == "domain":
        return identity.lower().endswith("@" + str(permission.get("domain", "")).lower())
    return str(permission.get("emailAddress", "")).lower() == identity.lower()
