"""`giamsat`: the command line of the monitoring-form pipeline (messages in Vietnamese)."""

from __future__ import annotations

import sys

# Importing the command modules registers their commands on the app.
from flows.cli import erase, google, history, review, run, workspace  # noqa: F401
from flows.cli.app import app, err

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Đã dừng.")
        sys.exit(130)


if __name__ == "__main__":
    main()
