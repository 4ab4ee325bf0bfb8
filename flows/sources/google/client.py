"""Talking to Google: settings (`config/google.yaml`), credentials, rate limits, bounded retries.

Every call to Sheets or Drive goes through :class:`GoogleApi`. It uses gspread's plain
``HTTPClient`` (never ``BackOffHTTPClient``, which retries without bound or jitter and skips
5xx answers whose body is not JSON) and owns the policy itself:

* a client-side sliding-window limiter per budget (Sheets reads, Sheets writes, Drive), so the
  flow's threads together stay under Google's per-minute quotas instead of collecting 429s;
* truncated exponential backoff with jitter, ``min(2**n + random(0, 1), cap)``, a bounded number
  of times, for 429, 5xx, Drive rate-limit 403s, dropped connections and timeouts;
* for calls that are not idempotent (copying a file, creating one, structural batch updates), a
  ``recover`` check before each retry: an answer lost on the way back may hide a success.

``GIAMSAT_GOOGLE_ENDPOINT`` sends everything to another base URL (the loopback emulator); with
that setting and no credentials file a placeholder token is used, so no OAuth server is needed.
Credentials are never logged or written anywhere.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as UserCredentials
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from flows.config import ConfigError
from flows.config.google import (
    CREDENTIALS_ENV,
    ENDPOINT_ENV,
    SETTINGS_FILE,
    Account,
    GoogleSettings,
    credentials_path,
    endpoint,
    key_email,
    load_google_settings,
)
from flows.sources.google.transport import EndpointHTTPClient

log = logging.getLogger(__name__)

SHEETS_URL = "https://sheets.googleapis.com/v4/spreadsheets"
DRIVE_URL = "https://www.googleapis.com/drive/v3/files"
SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
PLACEHOLDER_TOKEN = "giamsat-local-endpoint"  # not a secret: what the emulator accepts
# Pulling and writing flags back: cells of sheets the account can open, file metadata only.
PULL_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",
               "https://www.googleapis.com/auth/drive.metadata.readonly")
# Provisioning creates, copies and shares files in a folder a person made on a shared drive;
# drive.file would only reach files this app created, not that folder.
PROVISION_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",
                    "https://www.googleapis.com/auth/drive")
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Dropped connections, timeouts, a body cut short, the token server out of reach.
_TRANSIENT = (requests.ConnectionError, requests.Timeout,
              requests.exceptions.ChunkedEncodingError, TransportError)
_DRIVE_RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})


# --------------------------------------------------------------------------- credentials


def load_credentials(settings: GoogleSettings, scopes: tuple[str, ...],
                     account: Account | None = None) -> Credentials:
    """Service-account key or OAuth user token file of `account` (default: the first); a
    placeholder token for an endpoint alone."""
    configured = credentials_path(settings, account)
    if configured is None:
        if endpoint():
            return UserCredentials(token=PLACEHOLDER_TOKEN)
        raise ConfigError([
            f"{SETTINGS_FILE}: credentials: chưa có tệp khoá Google. Ghi đường dẫn tệp khoá "
            f"service account (JSON) vào khoá credentials hoặc biến môi trường {CREDENTIALS_ENV}."
        ])
    path = Path(configured)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # Never echo the file's content: it holds a private key.
        raise ConfigError([f"{SETTINGS_FILE}: credentials: không đọc được tệp khoá {path} "
                           "(cần tệp JSON tải từ Google Cloud)."]) from None
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=scopes)
        if kind == "authorized_user":
            credentials = UserCredentials.from_authorized_user_info(info)
            # a user token does not say whose it is; the file may (see key_email)
            credentials.giamsat_email = key_email(info)
            return credentials
    except (ValueError, KeyError):
        pass
    raise ConfigError([f"{SETTINGS_FILE}: credentials: tệp {path} không phải khoá service "
                       "account hay token OAuth của người dùng."])


def account_email(settings: GoogleSettings, credentials: Credentials,
                  account: Account | None = None) -> str | None:
    """Who we are, for protected-range editors: configured, or read from the key."""
    configured = account.account_email if account is not None else settings.account_email
    return (configured or getattr(credentials, "service_account_email", None)
            or getattr(credentials, "giamsat_email", None))


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Clock, sleep and randomness: injectable so that tests never really wait."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random


TIMING = Timing()  # tests replace this with a fake clock


class RateLimiter:
    """At most `per_minute` acquisitions in any window of `window` s (Google's minute) +
    `margin`; thread-safe.

    A sliding window, like Google's own count: a token bucket would allow 60 at once and then
    one a second, which is 119 in some 60-second window.
    """

    def __init__(self, per_minute: int, timing: Timing, margin: float = 1.0,
                 window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window + margin
        self.timing = timing
        self.waited = 0.0
        self._hits: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        # The lock is held while sleeping: waiting threads queue up instead of all sleeping
        # the same interval and then racing for the one free slot.
        with self._lock:
            while True:
                now = self.timing.clock()
                while self._hits and self._hits[0] <= now - self.window:
                    self._hits.popleft()
                if len(self._hits) < self.per_minute:
                    self._hits.append(now)
                    return
                wait = self._hits[0] + self.window - now
                self.waited += wait
                self.timing.sleep(wait)


class Limiter(Protocol):
    """Blocks until one more call of a budget may be made."""

    def acquire(self) -> None: ...


# (budget, per_minute, account e-mail or "") → a limiter; the default is RateLimiter, the flows
# pass Prefect's shared one when a Prefect server is configured.
LimiterFactory = Callable[[str, int, str], Limiter]


def project_limiters(settings: GoogleSettings, timing: Timing | None = None,
                     limiters: LimiterFactory | None = None) -> dict[str, Limiter]:
    """The Google Cloud project's Sheets budgets, to share between all its accounts' clients."""
    timing = timing or TIMING
    quota = settings.quota
    margin = quota.window_margin_seconds

    def local(budget: str, per_minute: int, email: str) -> Limiter:
        return RateLimiter(per_minute, timing, margin, quota.window_seconds)

    make = limiters or local
    return {"read": make("read", quota.project_reads_per_minute, "project"),
            "write": make("write", quota.project_writes_per_minute, "project")}


def backoff_delay(attempt: int, cap: float, rand: Callable[[], float]) -> float:
    """Google's truncated exponential backoff: ``min(2**n + random(0..1), cap)`` seconds."""
    return min(2.0 ** attempt + rand(), cap)


# --------------------------------------------------------------------------- errors


class GoogleError(Exception):
    """A call that failed for good: an HTTP status (None for connection trouble) and a reason."""

    def __init__(self, status: int | None, reason: str, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.attempts = attempts

    @property
    def gone(self) -> bool:
        """Deleted, or not shared with us (Drive answers 404 for both)."""
        return self.status in (403, 404)


def _error_of(error: APIError) -> GoogleError:
    response = error.response
    try:
        body = response.json().get("error", {})
    except ValueError:
        body = {}
    items = body.get("errors") or []
    reasons = [item.get("reason", "") for item in items if isinstance(item, dict)]
    reason = reasons[0] if reasons else str(body.get("status") or "")
    message = str(body.get("message") or response.reason or "")
    return GoogleError(response.status_code, reason, message[:300])


def _retryable(error: GoogleError) -> bool:
    if error.status is None or error.status in _RETRY_STATUS:
        return True
    return error.status == 403 and error.reason in _DRIVE_RATE_REASONS


# --------------------------------------------------------------------------- the API


@dataclass
class ApiStats:
    """What the client did: calls by kind, retries, and the cause of each retry."""

    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.calls[key] += 1


class GoogleApi:
    """Sheets v4 + Drive v3, rate-limited and retried; one gspread HTTP client per thread."""

    def __init__(self, credentials: Credentials, settings: GoogleSettings,
                 timing: Timing | None = None, base_url: str | None = None, *,
                 email: str | None = None, limiters: LimiterFactory | None = None,
                 project: dict[str, Limiter] | None = None) -> None:
        self.credentials = credentials
        self.settings = settings
        self.timing = timing or TIMING
        self.base_url = base_url if base_url is not None else endpoint()
        self.email = email if email is not None else account_email(settings, credentials)
        quota = settings.quota
        margin = quota.window_margin_seconds

        def local(budget: str, per_minute: int, email: str) -> Limiter:
            return RateLimiter(per_minute, self.timing, margin, quota.window_seconds)

        make = limiters or local
        self.limits: dict[str, Limiter] = {
            budget: make(budget, per_minute, self.email or "")
            for budget, per_minute in (("read", quota.reads_per_minute),
                                       ("write", quota.writes_per_minute),
                                       ("drive", quota.drive_per_minute))}
        # the project's budgets, shared with the other accounts (see `project_limiters`)
        self.project = project if project is not None else project_limiters(settings,
                                                                            self.timing, limiters)
        self.stats = ApiStats()
        self._local = threading.local()

    def _http(self) -> HTTPClient:
        http = getattr(self._local, "http", None)
        if http is None:
            if self.base_url:
                http = EndpointHTTPClient(self.credentials, endpoint=self.base_url)
            else:
                http = HTTPClient(self.credentials)
            http.set_timeout(self.settings.retry.timeout_seconds)
            self._local.http = http
        return http

    def call(self, budget: str, method: str, url: str, *, params: dict | None = None,
             body: Any = None, recover: Callable[[], Any] | None = None) -> Any:
        """One API call under `budget` ("read", "write", "drive"), retried when worth it.

        `recover` (for calls that are not idempotent) runs before each retry; a non-None
        result means the lost attempt had in fact succeeded, and is returned.
        """
        attempts = self.settings.retry.attempts
        quota_waited = 0.0
        attempt = 0  # every try, for the backoff
        failures = 0  # tries that failed for another reason than the quota
        while True:
            self.limits[budget].acquire()
            if budget in self.project:
                self.project[budget].acquire()
            self.stats.add(budget)
            try:
                response = self._http().request(method, url, params=params, json=body)
                return response.json() if response.content else {}
            except APIError as exc:
                error = _error_of(exc)
            except _TRANSIENT as exc:
                error = GoogleError(None, type(exc).__name__, "mất kết nối tới Google")
            except RefreshError:  # a revoked or wrong key: retrying will not help
                raise GoogleError(401, "RefreshError", "không đăng nhập được Google: kiểm tra "
                                  "tệp khoá") from None
            error.attempts = attempt + 1
            delay = backoff_delay(attempt, self.settings.retry.cap_seconds, self.timing.random)
            # A 429 says "wait": it spends the quota wait, never the attempts that other
            # errors have, so waiting out a tight quota cannot leave one 500 fatal.
            if error.status == 429:
                exhausted = (attempt + 1 >= attempts and
                             quota_waited + delay > self.settings.retry.quota_wait_seconds)
                quota_waited += delay
            else:
                failures += 1
                exhausted = failures >= attempts
            if not _retryable(error) or exhausted:
                self.stats.add("failed")
                raise error
            self.stats.add("retry", f"retry.{error.status or error.reason}")
            self.timing.sleep(delay)
            attempt += 1
            if recover is not None:
                found = recover()
                if found is not None:
                    self.stats.add("recovered")
                    return found

    # --- Sheets ---

    def values_batch_get(self, spreadsheet_id: str, ranges: list[str]) -> list[list[list]]:
        """All ranges in ONE read; numbers unformatted, dates as serial days."""
        params = {"ranges": ranges, "valueRenderOption": "UNFORMATTED_VALUE",
                  "dateTimeRenderOption": "SERIAL_NUMBER", "majorDimension": "ROWS"}
        answer = self.call("read", "get", f"{SHEETS_URL}/{spreadsheet_id}/values:batchGet",
                           params=params)
        return [block.get("values", []) for block in answer.get("valueRanges", [])]

    def spreadsheet(self, spreadsheet_id: str, fields: str) -> dict:
        """Metadata only (``fields`` mask), never grid data."""
        return self.call("read", "get", f"{SHEETS_URL}/{spreadsheet_id}",
                         params={"fields": fields, "includeGridData": "false"})

    def batch_update(self, spreadsheet_id: str, requests_: list[dict],
                     recover: Callable[[], Any] | None = None) -> dict:
        return self.call("write", "post", f"{SHEETS_URL}/{spreadsheet_id}:batchUpdate",
                         body={"requests": requests_}, recover=recover)

    def values_batch_update(self, spreadsheet_id: str, data: list[dict]) -> dict:
        """Write values RAW: text typed by a commune never becomes a formula here."""
        return self.call("write", "post", f"{SHEETS_URL}/{spreadsheet_id}/values:batchUpdate",
                         body={"valueInputOption": "RAW", "data": data})

    # --- Drive ---

    def list_files(self, query: str, fields: str = "id,name,modifiedTime") -> list[dict]:
        """All files matching `query`, 1000 per call."""
        files: list[dict] = []
        token: str | None = None
        while True:
            params = {"q": query, "pageSize": 1000, "fields": f"nextPageToken,files({fields})",
                      "supportsAllDrives": "true", "includeItemsFromAllDrives": "true",
                      "corpora": "allDrives"}
            if token:
                params["pageToken"] = token
            answer = self.call("drive", "get", DRIVE_URL, params=params)
            files += answer.get("files", [])
            token = answer.get("nextPageToken")
            if not token:
                return files

    def get_file(self, file_id: str, fields: str = "id,name,modifiedTime,trashed") -> dict:
        return self.call("drive", "get", f"{DRIVE_URL}/{file_id}",
                         params={"fields": fields, "supportsAllDrives": "true"})

    def create_spreadsheet(self, name: str, folder_id: str,
                           recover: Callable[[], Any] | None = None) -> dict:
        """A new spreadsheet in a (shared-drive) folder: a service account has no own storage."""
        body = {"name": name, "mimeType": SPREADSHEET_MIME, "parents": [folder_id]}
        return self.call("drive", "post", DRIVE_URL, body=body, recover=recover,
                         params={"supportsAllDrives": "true", "fields": "id,name,webViewLink"})

    def copy_file(self, file_id: str, name: str, folder_id: str,
                  recover: Callable[[], Any] | None = None) -> dict:
        return self.call("drive", "post", f"{DRIVE_URL}/{file_id}/copy",
                         body={"name": name, "parents": [folder_id]}, recover=recover,
                         params={"supportsAllDrives": "true",
                                 "fields": "id,name,webViewLink,modifiedTime"})

    def list_permissions(self, file_id: str) -> list[dict]:
        answer = self.call("drive", "get", f"{DRIVE_URL}/{file_id}/permissions",
                           params={"supportsAllDrives": "true",
                                   "fields": "permissions(id,type,role,emailAddress)"})
        return answer.get("permissions", [])

    def share(self, file_id: str, email: str, role: str, notify: bool, message: str) -> dict:
        """Give one person a role (Drive keeps one permission per person: safe to retry)."""
        params: dict[str, str] = {"supportsAllDrives": "true",
                                  "sendNotificationEmail": "true" if notify else "false"}
        if notify and message:
            params["emailMessage"] = message
        return self.call("drive", "post", f"{DRIVE_URL}/{file_id}/permissions", params=params,
                         body={"type": "user", "role": role, "emailAddress": email})


def open_api(settings: GoogleSettings, scopes: tuple[str, ...] = PULL_SCOPES,
             timing: Timing | None = None, account: Account | None = None,
             limiters: LimiterFactory | None = None,
             project: dict[str, Limiter] | None = None) -> GoogleApi:
    """A ready client for `account` (default: the first): credentials loaded, endpoint
    override applied; `project`: the project budgets shared with the other accounts."""
    credentials = load_credentials(settings, scopes, account)
    return GoogleApi(credentials, settings, timing,
                     email=account_email(settings, credentials, account), limiters=limiters,
                     project=project)


def spreadsheet_url(spreadsheet_id: str) -> str:
    """Where people open a spreadsheet (always Google's address, also with the emulator)."""
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit"



__all__ = ["CREDENTIALS_ENV", "ENDPOINT_ENV", "GoogleApi", "GoogleError", "GoogleSettings",
           "Timing", "load_credentials", "load_google_settings", "open_api"]
