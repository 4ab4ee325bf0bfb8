"""Limits kept by the Prefect server, so they hold across processes and machines.

* **Google budgets.** Each account's Sheets reads, Sheets writes and Drive calls go through
  `prefect.concurrency.sync.rate_limit` on a global concurrency limit with slot decay, named
  ``<prefix>-<budget>-<account>``: every worker on the same server draws from one budget per
  account, so together they stay under Google's per-minute quota. A limit of ``burst`` slots
  decaying at ``(quota - burst) / window`` per second lets at most ``quota`` calls through in
  any window. `rate_limit` takes no lease, so Prefect's lease-renewal troubles (#19068,
  #20251) do not touch it. Without a Prefect server each process keeps its own limiter.
* **One run at a time.** A consolidation holds the one slot of its output folder's run limit
  (`run_limit` of machines.yaml + a hash of the folder's path) for its whole length, as well
  as the folder's file lock: two runs started on two machines take turns. The slot is a lease
  the run renews while it lives; a run whose machine died gives it back when the lease runs
  out (`run_lease_seconds`).

Limits are created on first use, and updated when the configured quota changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flows.config import Config
from flows.config.google import GoogleSettings

if TYPE_CHECKING:  # the Google client is imported only by runs that use Google
    from flows.sources.google.client import Limiter, LimiterFactory

log = logging.getLogger(__name__)
_made: set[tuple[str, int, float]] = set()  # limits this process already made sure of
_made_lock = threading.Lock()


def server_configured() -> bool:
    """Whether this process talks to a Prefect server (not the ephemeral mode)."""
    from prefect.settings import PREFECT_API_URL

    return bool((os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or "").strip())


def limit_name(prefix: str, budget: str, email: str) -> str:
    """``giamsat-google-read-doc-2-giamsat-iam-…``: the limit's name, as the Prefect UI shows."""
    account = re.sub(r"[^a-z0-9]+", "-", (email or "default").lower()).strip("-")
    return f"{prefix}-{budget}-{account}"


def bucket(per_minute: int, burst: int | None, window_s: float) -> tuple[int, float]:
    """(slots, decay per second) such that ``slots + window_s * decay == per_minute``; `burst`
    None: a tenth of the quota at once. The decay is the sustained rate, so the bucket is kept
    small: half the quota as burst would read a nation at half Google's pace."""
    slots = max(1, min(burst or per_minute // 10, per_minute - 1))
    return slots, max(per_minute - slots, 1) / window_s  # a quota of 1: one call a window


def ensure_limit(name: str, slots: int, decay: float = 0.0) -> None:
    """Create the global concurrency limit, or set its size when the config changed."""
    with _made_lock:
        if (name, slots, decay) in _made:
            return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            found = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            found = None
        if found is None:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=name, limit=slots, slot_decay_per_second=decay))
            except ObjectAlreadyExists:  # another process made it just now
                pass
        elif found.limit != slots or abs((found.slot_decay_per_second or 0) - decay) > 1e-9:
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                limit=slots, slot_decay_per_second=decay))
    with _made_lock:
        _made.add((name, slots, decay))


class SharedRateLimiter:
    """One budget of one account, drawn from by every process on the Prefect server."""

    def __init__(self, name: str, slots: int, decay: float) -> None:
        self.name, self.slots, self.decay = name, slots, decay

    def acquire(self) -> None:
        from prefect.concurrency.sync import rate_limit

        ensure_limit(self.name, self.slots, self.decay)
        rate_limit(self.name, occupy=1, strict=True)


def google_limiters(settings: GoogleSettings) -> LimiterFactory | None:
    """Prefect's shared limiters for the Google client, or None (each process its own)."""
    shared = settings.shared_limits
    if not shared.enabled or not server_configured():
        return None
    window = settings.quota.window_seconds + settings.quota.window_margin_seconds

    def make(budget: str, per_minute: int, email: str) -> Limiter:
        slots, decay = bucket(per_minute, shared.burst, window)
        return SharedRateLimiter(limit_name(shared.prefix, budget, email), slots, decay)

    return make


def run_limit_name(config: Config, out: Path) -> str:
    """``giamsat-tong-hop-1a2b3c4d``: the run limit of one output folder (its absolute path,
    the same on every machine), so that two offices on one server never wait for each other."""
    digest = hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:8]
    return f"{config.machines.run_limit}-{digest}"


@contextmanager
def one_run_at_a_time(config: Config, out: Path) -> Iterator[None]:
    """Hold the only slot of the output folder's run limit for the block, when a Prefect
    server is configured."""
    if not server_configured():
        yield
        return
    from prefect.concurrency.sync import concurrency

    machines = config.machines
    name = run_limit_name(config, out)
    ensure_limit(name, 1)
    log.info("Waiting for the run slot %s", name)
    # a lease renewal that fails once (a busy server) must not kill a night's run (#19068,
    # #20251): the run goes on, and the output folder's file lock still keeps it apart
    with concurrency(name, occupy=1, strict=True, timeout_seconds=machines.run_wait_seconds,
                     lease_duration=machines.run_lease_seconds,
                     raise_on_lease_renewal_failure=False):
        yield
