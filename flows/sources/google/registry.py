"""The registry: which spreadsheet belongs to which unit (plus the template and the dashboard).

A JSON file staff can read and, if needed, edit by hand (for example to point a unit at a sheet
it already had). Written atomically after every change, so a run that dies half-way never
loses the id of a copy it made, and the next run does not copy again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flows.config import ConfigError
from flows.outputs.atomic import write_text

FORMAT = 1


@dataclass
class SheetEntry:
    """One spreadsheet we made (or adopted)."""

    id: str
    url: str
    name: str = ""
    prepared: bool = False  # unit copy: protections, prefilled name and code done
    shared: list[str] = field(default_factory=list)  # addresses it is shared with

    @classmethod
    def from_json(cls, data: dict) -> SheetEntry:
        return cls(id=str(data["id"]), url=str(data.get("url", "")),
                   name=str(data.get("name", "")), prepared=bool(data.get("prepared", False)),
                   shared=[str(e) for e in data.get("shared", [])])


@dataclass
class Registry:
    """Unit code → spreadsheet, the template and the town dashboard ("Tổng hợp")."""

    path: Path
    folder_id: str = ""
    form_version: int | None = None
    template: SheetEntry | None = None
    dashboard: SheetEntry | None = None
    units: dict[str, SheetEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Registry:
        """Read the registry; a missing file is an empty registry."""
        path = Path(path)
        if not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            units = {str(code): SheetEntry.from_json(entry)
                     for code, entry in (data.get("units") or {}).items()}
            return cls(
                path, folder_id=str(data.get("folder_id", "")),
                form_version=data.get("form_version"),
                template=SheetEntry.from_json(data["template"]) if data.get("template") else None,
                dashboard=(SheetEntry.from_json(data["dashboard"])
                           if data.get("dashboard") else None),
                units=units)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError([f"{path}: sổ đăng ký bảng tính bị hỏng ({exc}); khôi phục bản "
                               "trước hoặc chạy lại giamsat provision."]) from None

    def save(self) -> Path:
        data = {
            "format": FORMAT, "folder_id": self.folder_id, "form_version": self.form_version,
            "template": asdict(self.template) if self.template else None,
            "dashboard": asdict(self.dashboard) if self.dashboard else None,
            "units": {code: asdict(entry) for code, entry in sorted(self.units.items())},
        }
        return write_text(self.path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")

    def by_id(self) -> dict[str, str]:
        """Spreadsheet id → unit code."""
        return {entry.id: code for code, entry in self.units.items()}

    def unit_of(self, spreadsheet_id: str) -> str | None:
        return next((code for code, e in self.units.items() if e.id == spreadsheet_id), None)
