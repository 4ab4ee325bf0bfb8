"""`google.yaml`: where the commune sheets live, which credentials, quotas and retries.

Only checked in depth when Google is used (`--source google`, `giamsat provision`); the file's
syntax and keys are checked on every load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator

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
    # Google's per-project quotas (300 Sheets reads, 300 writes a minute), shared by every
    # account of the project: with several accounts of one project, the ceiling of all of them
    project_reads_per_minute: int = Field(default=300, ge=1)
    project_writes_per_minute: int = Field(default=300, ge=1)
    # Our clock and Google's count the same request a few milliseconds apart.
    window_margin_seconds: float = Field(default=1.0, ge=0)
    # The window the budgets above are counted over: Google's minute. Only the tests shorten
    # it, with the emulator's, to run several real processes against a tight quota quickly.
    window_seconds: float = Field(default=60.0, gt=0)


class Retry(ConfigModel):
    attempts: int = Field(default=8, ge=1, le=20)
    cap_seconds: float = Field(default=32.0, gt=0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    # A 429 means "wait", not "broken": quota refusals are retried (with the same backoff)
    # until this much waiting has been spent on them, beyond `attempts`. Google's per-minute
    # quotas refill within a minute; a shared project quota may take longer.
    quota_wait_seconds: float = Field(default=300.0, ge=0)


class Account(ConfigModel):
    """One Google account the sheets are read and written with; each has its own quota."""

    credentials: Path | None = None  # else GOOGLE_APPLICATION_CREDENTIALS (first account only)
    account_email: str | None = None  # read from a service-account key; needed for user tokens


class SharedLimits(ConfigModel):
    """Budgets shared by every process and machine that uses the same Prefect server.

    Each account's Sheets reads, Sheets writes and Drive calls go through a Prefect global
    concurrency limit with slot decay (`rate_limit`), named `<prefix>-<budget>-<account>` and
    created on first use; without a Prefect server the limiter of this process alone is used.
    """

    enabled: bool = True
    prefix: str = Field(default="giamsat-google", pattern=r"^[a-z0-9][a-z0-9-]*$")
    # Calls that may be made at once (the bucket; default: a tenth of the per-minute quota, at
    # least 1); the rest of the minute's quota decays in at an even pace, so that burst + a
    # window of decay never exceeds the per-minute quota. The even pace is the sustained rate:
    # a small burst keeps it near the quota (a tenth: 90%), a large one lowers it.
    burst: int | None = Field(default=None, ge=1)


class GoogleSettings(ConfigModel):
    """`config/google.yaml`: where the sheets live and how to call Google."""

    folder_id: str = Field(min_length=1)
    credentials: Path | None = None  # else GOOGLE_APPLICATION_CREDENTIALS
    account_email: str | None = None  # the account's address, for protected-range editors
    # Several accounts, each with its own Google quota; units are spread over them (see
    # flows.sources.google.accounts). Instead of `credentials` + `account_email`.
    accounts: list[Account] = []
    shared_limits: SharedLimits = SharedLimits()
    state_dir: Path = Path("../state/google")
    registry: Path | None = None  # default: <state_dir>/registry.json
    names: Names = Names()
    sharing: Sharing = Sharing()
    quota: Quota = Quota()
    retry: Retry = Retry()

    @model_validator(mode="after")
    def _one_way_to_name_accounts(self) -> GoogleSettings:
        if self.accounts and (self.credentials or self.account_email):
            raise ValueError("ghi hoặc credentials (+ account_email) cho một tài khoản, hoặc "
                             "danh sách accounts cho nhiều tài khoản, không ghi cả hai")
        return self

    def account_list(self) -> list[Account]:
        """The accounts to use, in order: `accounts`, else the one of `credentials`."""
        if self.accounts:
            return list(self.accounts)
        return [Account(credentials=self.credentials, account_email=self.account_email)]

    def resolved(self, directory: Path) -> GoogleSettings:
        """Paths made absolute, relative ones taken from the config folder."""
        def absolute(path: Path | None) -> Path | None:
            return None if path is None else (directory / path).resolve()

        state = absolute(self.state_dir)
        assert state is not None
        accounts = [a.model_copy(update={"credentials": absolute(a.credentials)})
                    for a in self.accounts]
        return self.model_copy(update={
            "credentials": absolute(self.credentials), "state_dir": state,
            "registry": absolute(self.registry) or state / "registry.json",
            "accounts": accounts,
        })


def endpoint() -> str | None:
    """The API base URL override (the loopback emulator), if set."""
    value = os.environ.get(ENDPOINT_ENV, "").strip()
    return value.rstrip("/") or None


def credentials_path(settings: GoogleSettings, account: Account | None = None) -> Path | None:
    """The key file of `account` (default: the first): `credentials` in google.yaml, else
    GOOGLE_APPLICATION_CREDENTIALS (for the first account only)."""
    accounts = settings.account_list()
    account = account or accounts[0]
    configured = account.credentials
    if configured is None and account == accounts[0]:
        configured = os.environ.get(CREDENTIALS_ENV) or None
    return Path(configured) if configured else None


def key_email(info: dict) -> str | None:
    """The address a key file names: a service account's, or `account_email` in a token file."""
    email = info.get("client_email") or info.get("account_email")
    return str(email) if email else None


def credentials_problems(settings: GoogleSettings) -> list[str]:
    """What is wrong with the credentials, checked without contacting Google.

    A loopback endpoint (the emulator) needs no key for a single account. Several accounts
    each need a key and a known address (units are assigned by it). The key's content is
    never echoed: it holds a private key.
    """
    accounts = settings.account_list()
    several = len(accounts) > 1
    problems: list[str] = []
    emails: list[str] = []
    for number, account in enumerate(accounts, start=1):
        where = f"{SETTINGS_FILE}: accounts[{number}]: credentials" if several else \
            f"{SETTINGS_FILE}: credentials"
        path = credentials_path(settings, account)
        if path is None:
            if endpoint() and not several:
                continue
            problems.append(f"{where}: chưa có tệp khoá Google. Ghi đường dẫn tệp khoá service "
                            f"account (JSON) vào khoá credentials" +
                            ("." if several else f" hoặc biến môi trường {CREDENTIALS_ENV}."))
            continue
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append(f"{where}: không đọc được tệp khoá {path} (cần tệp JSON tải từ "
                            "Google Cloud).")
            continue
        if not isinstance(info, dict) or info.get("type") not in ("service_account",
                                                                  "authorized_user"):
            problems.append(f"{where}: tệp {path} không phải khoá service account hay token "
                            "OAuth của người dùng.")
            continue
        email = account.account_email or key_email(info)
        if several and not email:
            problems.append(f"{SETTINGS_FILE}: accounts[{number}]: account_email: tệp {path} "
                            "không ghi địa chỉ email của tài khoản; ghi account_email để chia "
                            "đơn vị cho các tài khoản.")
        elif email:
            if email.lower() in emails:
                problems.append(f"{SETTINGS_FILE}: accounts[{number}]: tài khoản {email} đã "
                                "có ở trên; mỗi tài khoản chỉ ghi một lần.")
            emails.append(email.lower())
    return problems


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
