"""Quiet, offline-friendly Prefect defaults; call before Prefect is imported.

Only defaults: a setting the user made in the environment or a Prefect profile wins.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass

DEFAULTS = {
    # No "Failed to send telemetry" errors on an offline office machine.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A cold ephemeral start takes ~15 s on a 2-core machine; the default limit is 20 s.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure(verbose: bool = False) -> None:
    """Set quiet defaults. Without `verbose`, only Prefect warnings reach the terminal."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


# Where `prefect server start` listens by default: the server `giamsat serve` runs against.
LOCAL_SERVER = "http://127.0.0.1:4200/api"
# `auto` (default): a server that answers, else the ephemeral mode; `ephemeral`: never a server.
MODE_ENV = "GIAMSAT_PREFECT"


@dataclass(frozen=True)
class Api:
    """The Prefect API this process will use: a running server (`url`) or the ephemeral mode."""

    url: str | None
    said: str  # one line for the screen: which one, and what it means for the user


def answers(url: str, timeout_s: float = 1.5) -> bool:
    """Whether a Prefect API answers its health check at `url`."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout_s) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def choose_server() -> Api:
    """Run against a Prefect server when one answers — `PREFECT_API_URL`, else the local one
    `giamsat serve` uses — so the run costs its work, not a temporary server's start, and shows
    in the Prefect UI with its artifacts; else the ephemeral mode. Call before Prefect is
    imported: a URL that does not answer is dropped from this process's environment."""
    configured = os.environ.get("PREFECT_API_URL", "").strip()
    if os.environ.get(MODE_ENV, "auto").strip().lower() == "ephemeral":
        return Api(configured or None, "")
    if configured:
        if answers(configured):
            return Api(configured, f"Prefect: chạy trên máy chủ {configured} (xem lần chạy và "
                                   "kết quả trong giao diện Prefect).")
        del os.environ["PREFECT_API_URL"]
        return Api(None, f"Prefect: máy chủ {configured} (PREFECT_API_URL) không trả lời; chạy ở "
                         "chế độ tạm thời (lần chạy không hiện trong giao diện Prefect).")
    if answers(LOCAL_SERVER):
        os.environ["PREFECT_API_URL"] = LOCAL_SERVER
        return Api(LOCAL_SERVER, f"Prefect: chạy trên máy chủ đang chạy ở {LOCAL_SERVER} (xem "
                                 "lần chạy và kết quả trong giao diện Prefect).")
    return Api(None, "Prefect: chạy ở chế độ tạm thời (chưa có máy chủ Prefect; mở `prefect "
                     "server start` để các lần chạy nhanh hơn và hiện trong giao diện).")
