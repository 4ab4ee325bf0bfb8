"""Clocks for tests and benchmarks: time that moves without anyone waiting."""

from __future__ import annotations

import threading
import time


class FakeClock:
    """Real time plus skipped sleeps: waiting (for a quota, a backoff) costs nothing yet counts.

    Share one instance between our limiter (`Timing(clock.now, clock.sleep)`) and the
    emulator's quota (`quota.clock = clock.now`) so both see the same time.
    """

    def __init__(self) -> None:
        self.skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() + self.skipped

    __call__ = now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.skipped += max(seconds, 0.0)
