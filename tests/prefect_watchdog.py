"""The test Prefect server's watchdog (conftest.py, `_PrefectServer`): once the process that
owns the run is gone without stopping the server (killed, out of memory, `timeout`), the
server's process group goes too, and its folder. The PostgreSQL cluster has its own
(tests/postgres.py). Run as `python prefect_watchdog.py OWNER_PID SERVER_PGID FOLDER`; it imports
nothing of the project, so it costs a bare interpreter."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _runs(pid: int) -> bool:
    """Whether the process runs; a zombie, not yet reaped by its parent, runs no more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return not Path("/proc/self").exists()  # gone meanwhile; without /proc: it runs
    return state not in ("Z", "X")


def _group_runs(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies aside)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self").exists():
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


def watch(owner: int, pgid: int, folder: str) -> None:
    """Wait while both run. The server gone first: the owner stops and removes it at the end
    of the run (or reports its death). The owner gone first: stop the group (SIGTERM, SIGKILL
    after 30 s) and remove the folder."""
    while _runs(owner) and _group_runs(pgid):
        time.sleep(1)
    if _runs(owner):
        return
    stop_group(pgid)
    shutil.rmtree(folder, ignore_errors=True)


def escalate(alive: Callable[[], bool], send: Callable[[int], None],
             signals: tuple[tuple[int, float], ...]) -> None:
    """Send each signal in turn while the target still runs, waiting up to its patience
    (seconds) for it to go."""
    for sig, patience in signals:
        if not alive():
            return
        with contextlib.suppress(ProcessLookupError):
            send(sig)
        deadline = time.monotonic() + patience
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)


def stop_group(pgid: int) -> None:
    """Stop a process group: SIGTERM, then SIGKILL after 30 s; back once none of it runs."""
    escalate(lambda: _group_runs(pgid), lambda sig: os.killpg(pgid, sig),
             ((signal.SIGTERM, 30), (signal.SIGKILL, 10)))


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
