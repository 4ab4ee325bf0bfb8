"""What the last pull saw, on disk: one snapshot per unit plus the pull state.

A snapshot holds the grids read from a unit's spreadsheet, when they were read, and the Drive
``modifiedTime`` of the version read. An unchanged sheet is not read again: its snapshot is
reused. A sheet that became unreachable is consolidated from its snapshot, marked as such.

A snapshot never keeps a cell the checks withheld (personal data in free text: issue 13):
after the checks `SnapshotStore.withhold` replaces the text of every cell with an open
personal-data finding by the mask, from the findings' tab and cell, and records those cells in
``withheld``. Such a snapshot is not reused for an unchanged sheet: the sheet is read again
(one batchGet) until the commune fixes the cell or the office marks the finding not an error,
so the finding keeps firing with what the commune really typed. The snapshots and the pull
state are private to the office's account (folder 0700, files 0600).

The pull state (``pull.json``) remembers our own writes (the ``modifiedTime`` each of our
write-backs left, so that they do not look like a commune's edit), the flags written to each
sheet (a hash, to write only when they change, and the highlighted cells, to clear them) and
the dashboard's hash (and its review tabs': see `GoogleSource.review_decisions`). All files
are written atomically.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from flows.core.a1 import column_index
from flows.core.privacy import RULES as PRIVACY_RULES
from flows.core.review import FALSE_POSITIVE, word
from flows.outputs.atomic import write_text
from flows.outputs.private import keep_private, restrict

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    unit_code: str
    spreadsheet_id: str
    read_at: datetime  # aware (UTC)
    modified: str | None  # Drive modifiedTime of the version read, exactly as Drive wrote it
    titles: list[str]  # the tab titles that answered (a commune may have renamed some)
    grids: dict[str, list[list]]  # title → rows as read (UNFORMATTED_VALUE, serial dates)
    sheet_ids: dict[str, int] = field(default_factory=dict)  # title → sheetId, for highlights
    # [title, cell] of each cell whose text was replaced by the mask after the checks
    withheld: list[list[str]] = field(default_factory=list)


class SnapshotStore:
    """Snapshots under ``<state_dir>/snapshots/<unit>.json``."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir) / "snapshots"
        self._private = False

    def path(self, unit_code: str) -> Path:
        return self.folder / f"{unit_code}.json"

    def load(self, unit_code: str) -> Snapshot | None:
        path = self.path(unit_code)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["read_at"] = datetime.fromisoformat(data["read_at"])
            data["sheet_ids"] = {k: int(v) for k, v in data.get("sheet_ids", {}).items()}
            return Snapshot(**data)
        except (ValueError, KeyError, TypeError) as exc:
            # A damaged snapshot costs one read, never the run.
            log.warning("Snapshot %s unreadable (%s); the sheet will be read again", path, exc)
            return None

    def save(self, snapshot: Snapshot) -> None:
        if not self._private:  # the state folder and everything in it: the office's only
            keep_private(self.folder)
            keep_private(self.folder.parent)
            self._private = True
        data = asdict(snapshot)
        data["read_at"] = snapshot.read_at.isoformat()
        restrict(write_text(self.path(snapshot.unit_code), json.dumps(data, ensure_ascii=False)))

    def withhold(self, findings: pd.DataFrame, config: Any) -> list[str]:
        """Mask, in the saved snapshots, every cell the checks withheld: the tab and cell of
        each personal-data finding the office has not marked not an error. Returns the units
        whose snapshot changed."""
        privacy = getattr(config, "privacy", None)
        if privacy is None or findings.empty:
            return []
        released = word(config.catalogue, FALSE_POSITIVE)
        mine = findings[findings["rule"].isin(PRIVACY_RULES)]
        if "state" in mine:
            mine = mine[mine["state"].fillna("").astype(str) != released]
        changed = []
        for code, rows in mine.groupby(mine["unit_code"].astype(str)):
            snapshot = self.load(code)
            if snapshot is None:
                continue
            cells = [(str(r.sheet), str(r.cell)) for r in rows.itertuples()
                     if isinstance(r.sheet, str) and isinstance(r.cell, str)]
            if masked(snapshot, cells, privacy.mask):
                self.save(snapshot)
                changed.append(code)
        return changed


_CELL = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")


def masked(snapshot: Snapshot, cells: list[tuple[str, str]], mask: str) -> bool:
    """Replace the text of these (tab, cell) by `mask` in the snapshot's grids and record them
    in `withheld`; whether anything changed."""
    changed = False
    withheld = {tuple(cell) for cell in snapshot.withheld}
    for title, cell in cells:
        where = _CELL.match(cell)
        grid = snapshot.grids.get(title)
        if where is None or grid is None:
            continue
        row, col = int(where.group(2)) - 1, column_index(where.group(1)) - 1
        if row >= len(grid) or col >= len(grid[row]) or grid[row][col] in ("", None, mask):
            continue
        grid[row][col] = mask
        withheld.add((title, cell))
        changed = True
    snapshot.withheld = sorted([list(cell) for cell in withheld])
    return changed


@dataclass
class FlagState:
    """What we last wrote into one unit's sheet."""

    hash: str = ""
    rows: int = 0  # rows used on the results tab, to clear leftovers
    highlights: list[list] = field(default_factory=list)  # [sheetId, row, col, restore]
    first_seen: dict[str, str] = field(default_factory=dict)  # finding_id → ISO time


@dataclass
class PullState:
    """State shared by all units, in ``<state_dir>/pull.json``."""

    path: Path
    last_success: str | None = None
    own_writes: dict[str, str] = field(default_factory=dict)  # spreadsheet id → modifiedTime
    flags: dict[str, FlagState] = field(default_factory=dict)  # unit code → flags written
    dashboard_hash: str = ""
    # The dashboard's review tabs: their hash, the token of our last write of them (the key of
    # the decisions read from that write), and the modifiedTime of the version last read
    # (our own writes are in own_writes, under the dashboard's id).
    review_hash: str = ""
    review_token: str = ""
    dashboard_read: str = ""
    # what was loaded: `save` writes back only what this run changed (see there)
    _loaded: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, state_dir: Path) -> PullState:
        path = Path(state_dir) / "pull.json"
        state = cls._from(path, cls._read(path))
        state._loaded = state._data()
        return state

    @staticmethod
    def _read(path: Path) -> dict:
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except ValueError as exc:
            log.warning("Pull state %s unreadable (%s); starting afresh", path, exc)
            return {}

    @classmethod
    def _from(cls, path: Path, data: dict) -> PullState:
        try:
            flags = {code: FlagState(**value) for code, value in data.get("flags", {}).items()}
            return cls(path, data.get("last_success"), dict(data.get("own_writes", {})), flags,
                       str(data.get("dashboard_hash", "")), str(data.get("review_hash", "")),
                       str(data.get("review_token", "")), str(data.get("dashboard_read", "")))
        except (ValueError, TypeError) as exc:
            log.warning("Pull state %s unreadable (%s); starting afresh", path, exc)
            return cls(path)

    def _data(self) -> dict:
        return {"last_success": self.last_success, "own_writes": dict(self.own_writes),
                "flags": {code: asdict(state) for code, state in sorted(self.flags.items())},
                "dashboard_hash": self.dashboard_hash, "review_hash": self.review_hash,
                "review_token": self.review_token, "dashboard_read": self.dashboard_read}

    def save(self) -> None:
        """Write what this run changed over what is in the file now. Two runs may share one
        Google state folder (two output folders: their run limits differ, so they can run at
        once): a run of two units must not put back, for the other units, what it loaded
        before the other run wrote theirs (their sheets would all be read again)."""
        mine = self._data()
        lock = os.open(self.path.with_name(self.path.name + ".lock"),
                       os.O_CREAT | os.O_RDWR, 0o600)  # the office's only, like the state
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read(self.path)
            for key in ("own_writes", "flags"):
                merged, before, now = dict(data.get(key, {})), self._loaded.get(key, {}), mine[key]
                for item in before.keys() - now.keys():
                    merged.pop(item, None)
                merged.update({k: v for k, v in now.items() if before.get(k) != v})
                data[key] = dict(sorted(merged.items())) if key == "flags" else merged
            data.update({k: v for k, v in mine.items()
                         if k not in ("own_writes", "flags") and self._loaded.get(k) != v})
            restrict(write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1)))
            self._loaded = mine
        finally:
            os.close(lock)  # and with it the lock
