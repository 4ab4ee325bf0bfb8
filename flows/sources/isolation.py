"""Reading files in worker processes: a file that hangs, explodes or crashes costs only itself.

A hostile or broken workbook can make a spreadsheet library loop for minutes, allocate
gigabytes or abort the whole process (calamine aborts when it cannot allocate). Each file is
therefore read by one of a few worker processes (`python -m flows.sources.worker`: it imports
only the reader, not pandas or Prefect) with a memory ceiling, and waited for at most a time
budget. A worker that runs over its budget, runs out of memory or dies is killed and replaced;
only the file it was reading gets a finding. Requests and answers are pickled frames on the
worker's stdin/stdout.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from flows.sources.spreadsheet import Grids, Limits, Unreadable

_HEADER = struct.Struct("!Q")


def _frame(data: object) -> bytes:
    payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class _Dead(Exception):
    """The worker stopped answering (killed, crashed, out of time)."""


class _Worker:
    """One reading process, used by one read at a time."""

    def __init__(self, memory_mb: int) -> None:
        limit = memory_mb * 1024 * 1024

        def cap() -> None:  # runs in the child before Python starts
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.sources.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=cap,
            env={**os.environ, "RUST_BACKTRACE": "0"})

    def call(self, request: tuple, seconds: float) -> object:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(_frame(request))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Dead() from None
        deadline = time.monotonic() + seconds
        header = self._read(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(self._read(size, deadline))

    def _read(self, size: int, deadline: float) -> bytes:
        out = self.process.stdout
        assert out is not None
        chunks, missing = [], size
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise TimeoutError()
            chunk = os.read(out.fileno(), min(missing, 1 << 20))
            if not chunk:
                raise _Dead()
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class IsolatedReader:
    """`read(path, limits)` in a worker process, within `seconds` and `memory_mb`."""

    def __init__(self, seconds: float = 60.0, memory_mb: int = 2048,
                 workers: int | None = None) -> None:
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._idle: list[_Worker] = []
        self._count = 0
        self._ready = threading.Condition()

    def _take(self) -> _Worker:
        with self._ready:
            while not self._idle and self._count >= self.workers:
                self._ready.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker(self.memory_mb)
        except OSError:
            with self._ready:
                self._count -= 1
                self._ready.notify()
            raise

    def _give_back(self, worker: _Worker | None) -> None:
        with self._ready:
            if worker is None:
                self._count -= 1
            else:
                self._idle.append(worker)
            self._ready.notify()

    def read(self, path: Path, limits: Limits) -> Grids:
        """The file's grids; `Unreadable` (with a reason code) when it cannot be read."""
        worker = self._take()
        try:
            answer = worker.call((str(path), limits), self.seconds)
        except TimeoutError:
            worker.kill()
            self._give_back(None)
            raise Unreadable("too-slow", seconds=round(self.seconds)) from None
        except _Dead:
            worker.kill()
            self._give_back(None)
            raise Unreadable("crashed") from None
        self._give_back(worker)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        with self._ready:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            if worker.process.stdin:
                worker.process.stdin.close()
            worker.process.wait(timeout=10)
