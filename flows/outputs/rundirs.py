"""Where a run writes, and how runs never overlap.

* A lock file in the output root serialises runs: a nightly and a manual run started together
  take turns, whichever way they were started (a Prefect deployment, the CLI, a test). A file
  lock needs no server-side object and also covers runs outside Prefect; for several machines
  sharing one output folder, use a Prefect global concurrency limit instead (README).
* Dated runs write into `runs/<time>-<id>/` and then repoint `latest` atomically (a symlink
  replaced with `os.replace`), so readers always see one complete run.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

LOCK_NAME = ".giamsat.lock"
LATEST = "latest"


class RunLocked(Exception):
    """Another run held the output folder for longer than we were willing to wait."""


@contextmanager
def run_lock(root: Path, timeout_s: float = 3600, poll_s: float = 0.5) -> Iterator[None]:
    """Hold an exclusive lock on `root` for the duration of a run (waits for the other run)."""
    root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(root / LOCK_NAME, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise RunLocked(
                        f"Thư mục kết quả {root} đang được một lần chạy khác sử dụng quá "
                        f"{timeout_s:.0f} giây.") from None
                time.sleep(poll_s)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {datetime.now().isoformat(timespec='seconds')}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_run_dir(root: Path, started: datetime, run_id: str) -> Path:
    """`root/runs/2023-04-05T010000-1a2b3c4d/` — sortable by time, unique by run id."""
    folder = root / "runs" / f"{started:%Y-%m-%dT%H%M%S}-{run_id[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def point_latest(root: Path, run_dir: Path) -> Path:
    """Switch `root/latest` to `run_dir` atomically (readers never see a missing link)."""
    link = root / LATEST
    tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.relative_to(root), target_is_directory=True)
    os.replace(tmp, link)
    return link


def freeze(folder: Path) -> None:
    """Make a final run's files read-only: the signed report's evidence must not change."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o444)
