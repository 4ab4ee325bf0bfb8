"""HTTP plumbing of the Google API emulator: routes, per-minute quotas and injected faults."""

from __future__ import annotations

import collections
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flows.testing.google_emulator.common import (
    ApiError,
    drive_error,
    sheets_error,
    sheets_field_violation,
)

_ID = r"([^/:]+)"


@dataclass(frozen=True)
class Route:
    """One API method: how to recognise it, what it is called, how it counts."""

    method: str
    pattern: re.Pattern[str]
    kind: str
    quota: str | None  # "read" / "write" for Sheets, None for Drive
    mutates: bool


def _route(method: str, path: str, kind: str, quota: str | None, mutates: bool) -> Route:
    return Route(method, re.compile(path), kind, quota, mutates)


ROUTES = (
    _route("POST", r"/v4/spreadsheets/?", "sheets.create", "write", True),
    _route("GET", rf"/v4/spreadsheets/{_ID}", "sheets.get", "read", False),
    _route("POST", rf"/v4/spreadsheets/{_ID}:batchUpdate", "sheets.batchUpdate", "write", True),
    _route("POST", rf"/v4/spreadsheets/{_ID}/sheets/(\d+):copyTo", "sheets.sheets.copyTo",
           "write", True),
    _route("GET", rf"/v4/spreadsheets/{_ID}/values:batchGet", "sheets.values.batchGet", "read",
           False),
    _route("POST", rf"/v4/spreadsheets/{_ID}/values:batchUpdate", "sheets.values.batchUpdate",
           "write", True),
    _route("POST", rf"/v4/spreadsheets/{_ID}/values:batchClear", "sheets.values.batchClear",
           "write", True),
    _route("POST", rf"/v4/spreadsheets/{_ID}/values/(.+):clear", "sheets.values.clear", "write",
           True),
    _route("POST", rf"/v4/spreadsheets/{_ID}/values/(.+):append", "sheets.values.append",
           "write", True),
    _route("GET", rf"/v4/spreadsheets/{_ID}/values/(.+)", "sheets.values.get", "read", False),
    _route("PUT", rf"/v4/spreadsheets/{_ID}/values/(.+)", "sheets.values.update", "write", True),
    _route("GET", r"/drive/v3/files/?", "drive.files.list", None, False),
    _route("POST", r"/drive/v3/files/?", "drive.files.create", None, True),
    _route("GET", r"/drive/v3/files/([^/]+)", "drive.files.get", None, False),
    _route("PATCH", r"/drive/v3/files/([^/]+)", "drive.files.update", None, True),
    _route("DELETE", r"/drive/v3/files/([^/]+)", "drive.files.delete", None, True),
    _route("POST", r"/drive/v3/files/([^/]+)/copy", "drive.files.copy", None, True),
    _route("GET", r"/drive/v3/files/([^/]+)/permissions", "drive.permissions.list", None, False),
    _route("POST", r"/drive/v3/files/([^/]+)/permissions", "drive.permissions.create", None,
           True),
    _route("GET", r"/drive/v3/files/([^/]+)/permissions/([^/]+)", "drive.permissions.get", None,
           False),
    _route("PATCH", r"/drive/v3/files/([^/]+)/permissions/([^/]+)", "drive.permissions.update",
           None, True),
    _route("DELETE", r"/drive/v3/files/([^/]+)/permissions/([^/]+)", "drive.permissions.delete",
           None, True),
    _route("GET", r"/drive/v3/files/([^/]+)/comments", "drive.comments.list", None, False),
    _route("POST", r"/drive/v3/files/([^/]+)/comments", "drive.comments.create", None, True),
)


def match_route(method: str, path: str) -> tuple[Route, list[str]] | None:
    """The route of a request and its decoded path arguments."""
    for route in ROUTES:
        if route.method != method:
            continue
        match = route.pattern.fullmatch(path)
        if match:
            return route, [unquote(group) for group in match.groups()]
    return None


class SlidingWindowQuota:
    """At most ``limit`` requests per user in any window of ``window`` seconds (Google's: a
    minute; ``None`` = unlimited)."""

    def __init__(self, limit: int | None, clock: Callable[[], float],
                 window: float = 60.0) -> None:
        self.limit = limit
        self.clock = clock
        self.window = window
        self._hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def acquire(self, user: str) -> bool:
        """Record a request; False (nothing recorded) when the window is full."""
        if self.limit is None:
            return True
        with self._lock:
            now = self.clock()
            hits = self._hits[user]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True


def quota_error(kind: str, limit: int) -> ApiError:
    """Google's 429 body for an exhausted Sheets per-user quota (kind: Read or Write)."""
    metric = f"{kind} requests"
    limit_name = f"{kind} requests per minute per user"
    message = (f"Quota exceeded for quota metric '{metric}' and limit '{limit_name}' of service "
               "'sheets.googleapis.com' for consumer 'project_number:000'.")
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "quota_metric": f"sheets.googleapis.com/{kind.lower()}_requests",
                "quota_limit": f"{kind}RequestsPerMinutePerUser",
                "quota_limit_value": str(limit),
                "consumer": "projects/000",
                "service": "sheets.googleapis.com",
                "quota_location": "global",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Request a higher quota limit.",
                       "url": "https://cloud.google.com/docs/quotas/help/request_increase"}],
        },
    ]
    return sheets_error(429, message, "RESOURCE_EXHAUSTED", details)


def fault_error(code: int, api: str) -> ApiError:
    """A 500/503 in the shape of the API that was called."""
    if api == "drive":
        reason, message = (("internalError", "Internal Error") if code == 500
                           else ("backendError", "Backend Error"))
        return drive_error(code, message, reason)
    if code == 500:
        return sheets_error(500, "Internal error encountered.", "INTERNAL")
    return sheets_error(503, "The service is currently unavailable.", "UNAVAILABLE")


HANDLER_NAMES = {
    "sheets.create": "create",
    "sheets.get": "get",
    "sheets.batchUpdate": "batch_update",
    "sheets.sheets.copyTo": "copy_to",
    "sheets.values.get": "values_get",
    "sheets.values.batchGet": "values_batch_get",
    "sheets.values.update": "values_update",
    "sheets.values.batchUpdate": "values_batch_update",
    "sheets.values.clear": "values_clear",
    "sheets.values.batchClear": "values_batch_clear",
    "sheets.values.append": "values_append",
    "drive.files.list": "list",
    "drive.files.create": "create",
    "drive.files.get": "get",
    "drive.files.update": "update",
    "drive.files.delete": "delete",
    "drive.files.copy": "copy",
    "drive.permissions.list": "permissions_list",
    "drive.permissions.create": "permissions_create",
    "drive.permissions.get": "permissions_get",
    "drive.permissions.update": "permissions_update",
    "drive.permissions.delete": "permissions_delete",
    "drive.comments.list": "comments_list",
    "drive.comments.create": "comments_create",
}


def parse_body(raw: bytes, api: str) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if api == "drive":
            raise drive_error(400, "Invalid JSON payload received.", "parseError") from exc
        message = f"Invalid JSON payload received. {exc}"
        raise sheets_field_violation(message, "") from exc
