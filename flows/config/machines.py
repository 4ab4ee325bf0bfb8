"""`machines.yaml`: running on several machines that share one Prefect server.

Optional: without it one machine runs everything with the defaults below. The names are those
the Prefect server shows (work pool, global concurrency limit).
"""

from __future__ import annotations

from pydantic import Field

from flows.config.base import ConfigModel

MACHINES_FILE = "machines.yaml"
_NAME = r"^[a-z0-9][a-z0-9-]*$"


class ReadShards(ConfigModel):
    """A night's Google pulls spread over the work pool's workers (flows.shards)."""

    # a night with more sheets to fetch than this splits them into shards of about this many,
    # each a flow run of the `read-shard` deployment (`giamsat deploy`); 0: never
    units_per_shard: int = Field(default=200, ge=0)
    # a shard that fetched nothing for this long (its machine died, no worker was free) is
    # cancelled, and the run reads its remaining sheets itself
    stall_seconds: float = Field(default=300, gt=0)


class Machines(ConfigModel):
    # the `process` work pool whose workers (`prefect worker start --pool …`) run the flows
    work_pool: str = Field(default="giamsat", pattern=_NAME)
    # one consolidation at a time, whichever machine runs it: a Prefect global concurrency
    # limit of one slot, created on first use
    run_limit: str = Field(default="giamsat-tong-hop", pattern=_NAME)
    # a run whose machine died holds the slot until its lease runs out (renewed while alive)
    run_lease_seconds: float = Field(default=120, ge=60, le=3600)  # the server: >= 60
    # how long a run waits for the slot before giving up with a finding
    run_wait_seconds: float = Field(default=3600, gt=0)
    read_shards: ReadShards = ReadShards()
