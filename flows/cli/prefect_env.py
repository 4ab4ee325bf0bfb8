"""Quiet, offline-friendly Prefect defaults; call before Prefect is imported.

Only defaults: a setting the user made in the environment or a Prefect profile wins.
"""

from __future__ import annotations

import os

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
