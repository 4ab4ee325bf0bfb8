"""What the last pull saw, on disk: one snapshot per unit plus the pull state.

A snapshot holds the grids read from a unit's spreadsheet, when they were read, and the Drive
``modifiedTime`` of the version read. An unchanged sheet is not read again: its snapshot is
reused. A sheet that became unreachable is consolidated from its snapshot, marked as such.

The pull state (``pull.json``) remembers our own writes (the ``modifiedTime`` each of our
write-backs left, so that they do not look like a commune's edit), the flags written to each
sheet (a hash, to write only when they change, and the highlighted cells, to clear them) and
the dashboard's hash. All files are written atomically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from flows.outputs.atomic import write_text

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


class SnapshotStore:
    """Snapshots under ``<state_dir>/snapshots/<unit>.json``."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir) / "snapshots"

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
        data = asdict(snapshot)
        data["read_at"] = snapshot.read_at.isoformat()
        write_text(self.path(snapshot.unit_code), json.dumps(data, ensure_ascii=False))


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

    @classmethod
    def load(cls, state_dir: Path) -> PullState:
        path = Path(state_dir) / "pull.json"
        if not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            flags = {code: FlagState(**value) for code, value in data.get("flags", {}).items()}
            return cls(path, data.get("last_success"), dict(data.get("own_writes", {})), flags,
                       str(data.get("dashboard_hash", "")))
        except (ValueError, TypeError) as exc:
            log.warning("Pull state %s unreadable (%s); starting afresh", path, exc)
            return cls(path)

    def save(self) -> None:
        data = {"last_success": self.last_success, "own_writes": self.own_writes,
                "flags": {code: asdict(state) for code, state in sorted(self.flags.items())},
                "dashboard_hash": self.dashboard_hash}
        write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1))
