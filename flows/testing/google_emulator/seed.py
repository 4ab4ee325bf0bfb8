"""Preparing a running emulator for a walk-through: the shared-drive folder and the demo answers.

Both go through the public Sheets and Drive APIs at `GIAMSAT_GOOGLE_ENDPOINT` (the emulator
running in another process), exactly as a person in Google Drive and the commune staff typing
into their sheets would: `giamsat google-emulator --folder NAME` and `--demo`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from flows.config import Config
from flows.config.google import SETTINGS_FILE, load_google_settings
from flows.config.workspace import shipped_config
from flows.core.layout import build_layout
from flows.demo import demo_answers
from flows.sources.google.client import (
    DRIVE_URL,
    PULL_SCOPES,
    SHEETS_URL,
    GoogleError,
    open_api,
)
from flows.sources.google.registry import Registry

FOLDER_MIME = "application/vnd.google-apps.folder"
_FOLDER_LINE = re.compile(r"^folder_id:.*$", re.MULTILINE)


class SeedError(Exception):
    """Something the walk-through cannot do; the message is Vietnamese."""


def _settings(config: Config):
    try:
        return config.google or load_google_settings(config.directory)
    except Exception as exc:  # a missing google.yaml: say which file
        raise SeedError(f"Không đọc được {config.directory / SETTINGS_FILE}: {exc}") from None


def create_folder(config: Config, name: str) -> list[str]:
    """Create (or find) a folder `name`, write its id into the config's google.yaml."""
    api = open_api(_settings(config), PULL_SCOPES)
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    try:
        found = api.list_files(f"name = '{escaped}' and mimeType = '{FOLDER_MIME}' and "
                               "trashed = false", "id,name")
        folder = found[0] if found else api.call(
            "drive", "post", DRIVE_URL, params={"supportsAllDrives": "true", "fields": "id,name"},
            body={"name": name, "mimeType": FOLDER_MIME})
    except GoogleError as exc:
        raise SeedError(f"Máy giả lập không tạo được thư mục: {exc}") from None
    folder_id = str(folder["id"])
    lines = [f"Mã thư mục “{name}”: {folder_id}"]
    path = Path(config.directory) / SETTINGS_FILE
    if Path(config.directory).resolve() == shipped_config().resolve() or not path.is_file():
        lines.append(f"Ghi mã này vào khoá folder_id của {SETTINGS_FILE} trong thư mục cấu "
                     "hình của đơn vị (tạo thư mục bằng giamsat init).")
        return lines
    text = path.read_text(encoding="utf-8")
    line = f'folder_id: "{folder_id}"'
    updated = _FOLDER_LINE.sub(line, text, count=1) if _FOLDER_LINE.search(text) else \
        f"{line}\n{text}"
    path.write_text(updated, encoding="utf-8")
    lines.append(f"Đã ghi folder_id vào {path}.")
    return lines


def _typed(value: object) -> object:
    """What a person types into a Vietnamese-locale sheet for this answer."""
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fill_demo(config: Config, seed: int = 2023) -> list[str]:
    """Type the demo answers (planted problems included) into every provisioned unit sheet."""
    settings = config.google
    registry = Registry.load(settings.registry)
    if not registry.units:
        raise SeedError(f"Sổ đăng ký {settings.registry} chưa có bảng tính nào: chạy giamsat "
                        "provision trước.")
    api = open_api(settings, PULL_SCOPES)
    answers, plants = demo_answers(config, seed)
    filled = []
    for unit in config.units.active():
        entry = registry.units.get(unit.code)
        if entry is None:
            continue
        layout = build_layout(config, unit)
        data = [{"range": f"'{cell.sheet}'!{cell.cell}",
                 "values": [[_typed(answers[unit.code][cell.key])]]}
                for cell in layout.inputs
                if cell.key in answers[unit.code] and cell.role not in ("unit_code", "unit_name")]
        try:
            api.call("write", "post", f"{SHEETS_URL}/{entry.id}/values:batchUpdate",
                     body={"valueInputOption": "USER_ENTERED", "data": data})
        except GoogleError as exc:
            raise SeedError(f"{unit.code}: máy giả lập không nhận số liệu: {exc}") from None
        filled.append(unit.code)
    lines = [f"Đã nhập số liệu mẫu vào {len(filled)} bảng tính: {', '.join(filled)}."]
    lines += [f"  • {plant.unit}: {plant.what}" for plant in plants]
    return lines
