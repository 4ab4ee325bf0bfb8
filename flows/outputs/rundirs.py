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


def output_problem(out: Path, source: Path | None = None) -> str | None:
    """Why `out` cannot take a run's outputs, in one Vietnamese sentence (None: it can).

    Checked before anything is read: a path that is a file, a folder that cannot be written,
    and an output folder inside the source folder (our own findings.xlsx would be read back as
    a commune's workbook the next night).
    """
    out = Path(out)
    if source is not None:
        src = Path(source).resolve()
        where = out.resolve()
        if where == src or src in where.parents:
            return (f"Thư mục kết quả {out} nằm trong thư mục nguồn {source}: kết quả sẽ bị đọc "
                    "lại như bảng tính của xã. Chọn thư mục kết quả ở ngoài thư mục nguồn.")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if out.exists() and not out.is_dir():
        return f"{out} là một tệp, không phải thư mục; chọn thư mục khác cho --out."
    if existing is not None and not existing.is_dir():
        return f"{existing} là một tệp, không phải thư mục; chọn thư mục khác cho --out."
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return (f"Không có quyền ghi vào {existing}; chọn thư mục khác cho --out hoặc nhờ quản "
                "trị cấp quyền ghi.")
    return None


class OutputRefused(Exception):
    """The output folder cannot take this run (see `output_problem`)."""


def new_run_dir(root: Path, started: datetime, run_id: str, label: str = "") -> Path:
    """`root/runs/2023-04-05T010000-1a2b3c4d/` — sortable by time, unique by run id; a label
    goes between them (`2023-04-05T010000-subset-P01-X02-1a2b3c4d/`)."""
    middle = f"{label[:100]}-" if label else ""
    folder = root / "runs" / f"{started:%Y-%m-%dT%H%M%S}-{middle}{run_id[:8]}"
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
