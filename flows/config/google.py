"""`google.yaml`: where the commune sheets live, which credentials, quotas and retries.

Only checked in depth when Google is used (`--source google`, `giamsat provision`); the file's
syntax and keys are checked on every load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field, field_validator

from flows.config.base import ConfigModel, parse_file

SETTINGS_FILE = "google.yaml"
ENDPOINT_ENV = "GIAMSAT_GOOGLE_ENDPOINT"
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
# The value shipped in config/google.yaml until the office writes its own folder's id.
PLACEHOLDER_FOLDER = "DIEN-MA-THU-MUC-DRIVE-DUNG-CHUNG"


class Names(ConfigModel):
    """Drive file names; placeholders: {unit_code}, {unit_name}, {form_title}, {year}."""

    template: str = "Mẫu biểu giám sát {year}"
    sheet: str = "{unit_code} - {unit_name} - Biểu giám sát {year}"
    dashboard: str = "Tổng hợp giám sát {year}"

    @field_validator("template", "sheet", "dashboard")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            value.format(unit_code="X", unit_name="X", form_title="X", year=2023)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"chỉ dùng {{unit_code}}, {{unit_name}}, {{form_title}}, {{year}}"
                             f" (lỗi ở {exc})") from None
        return value


class Sharing(ConfigModel):
    role: str = Field(default="writer", pattern="^(writer|commenter|reader)$")
    send_notification_email: bool = False
    email_message: str = ""


class Quota(ConfigModel):
    """Per-minute budgets; Google allows 60 Sheets reads and 60 writes per minute per user."""

    reads_per_minute: int = Field(default=60, ge=1)
    writes_per_minute: int = Field(default=60, ge=1)
    drive_per_minute: int = Field(default=600, ge=1)
    # Our clock and Google's count the same request a few milliseconds apart.
    window_margin_seconds: float = Field(default=1.0, ge=0)


class Retry(ConfigModel):
    attempts: int = Field(default=8, ge=1, le=20)
    cap_seconds: float = Field(default=32.0, gt=0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    # A 429 means "wait", not "broken": quota refusals are retried (with the same backoff)
    # until this much waiting has been spent on them, beyond `attempts`. Google's per-minute
    # quotas refill within a minute; a shared project quota may take longer.
    quota_wait_seconds: float = Field(default=300.0, ge=0)


class GoogleSettings(ConfigModel):
    """`config/google.yaml`: where the sheets live and how to call Google."""

    folder_id: str = Field(min_length=1)
    credentials: Path | None = None  # else GOOGLE_APPLICATION_CREDENTIALS
    account_email: str | None = None  # the account's address, for protected-range editors
    state_dir: Path = Path("../state/google")
    registry: Path | None = None  # default: <state_dir>/registry.json
    names: Names = Names()
    sharing: Sharing = Sharing()
    quota: Quota = Quota()
    retry: Retry = Retry()

    def resolved(self, directory: Path) -> GoogleSettings:
        """Paths made absolute, relative ones taken from the config folder."""
        def absolute(path: Path | None) -> Path | None:
            return None if path is None else (directory / path).resolve()

        state = absolute(self.state_dir)
        assert state is not None
        return self.model_copy(update={
            "credentials": absolute(self.credentials), "state_dir": state,
            "registry": absolute(self.registry) or state / "registry.json",
        })


def endpoint() -> str | None:
    """The API base URL override (the loopback emulator), if set."""
    value = os.environ.get(ENDPOINT_ENV, "").strip()
    return value.rstrip("/") or None


def credentials_path(settings: GoogleSettings) -> Path | None:
    """The key file to use: `credentials` in google.yaml, else GOOGLE_APPLICATION_CREDENTIALS."""
    configured = settings.credentials or os.environ.get(CREDENTIALS_ENV) or None
    return Path(configured) if configured else None


def credentials_problems(settings: GoogleSettings) -> list[str]:
    """What is wrong with the credentials, checked without contacting Google.

    A loopback endpoint (the emulator) needs no key. The key's content is never echoed: it
    holds a private key.
    """
    path = credentials_path(settings)
    if path is None:
        if endpoint():
            return []
        return [f"{SETTINGS_FILE}: credentials: chưa có tệp khoá Google. Ghi đường dẫn tệp khoá "
                f"service account (JSON) vào khoá credentials hoặc biến môi trường "
                f"{CREDENTIALS_ENV}."]
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{SETTINGS_FILE}: credentials: không đọc được tệp khoá {path} (cần tệp JSON "
                "tải từ Google Cloud)."]
    if not isinstance(info, dict) or info.get("type") not in ("service_account",
                                                              "authorized_user"):
        return [f"{SETTINGS_FILE}: credentials: tệp {path} không phải khoá service account hay "
                "token OAuth của người dùng."]
    return []


def folder_problems(settings: GoogleSettings) -> list[str]:
    """The shipped placeholder instead of a real shared-drive folder id."""
    if settings.folder_id != PLACEHOLDER_FOLDER:
        return []
    return [f"{SETTINGS_FILE}: folder_id: vẫn là giá trị mẫu {PLACEHOLDER_FOLDER!r}. Tạo một thư "
            "mục trên Drive dùng chung (shared drive), chia sẻ cho tài khoản của hệ thống, rồi "
            "ghi mã thư mục (phần cuối đường dẫn https://drive.google.com/drive/folders/<mã>) "
            "vào khoá folder_id. Với máy giả lập: giamsat google-emulator --folder \"Giám sát\" "
            "in ra mã thư mục cần ghi."]


def load_google_settings(directory: Path) -> GoogleSettings:
    """Load and check `google.yaml` from a config folder, its paths made absolute.

    Raises:
        ConfigError: naming the file, the key path and what is expected.
    """
    settings: GoogleSettings = parse_file(GoogleSettings, Path(directory) / SETTINGS_FILE)
    return settings.resolved(Path(directory))
