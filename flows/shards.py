"""Read shards: one night's Google pulls spread over the workers of the work pool.

A shard is a flow run of the `read-shard` deployment (`giamsat deploy` registers it on the
work pool), started by the night's consolidation with `run_deployment`. Why this and not
Prefect's task workers (`task.delay` + `prefect task serve`): any machine already running
`prefect worker start --pool …` takes a shard, with nothing more to start or install; the UI
shows each shard as a child of the night's run, with its own logs and state; and a shard's only
output is what a pull writes anyway, each sheet's snapshot in the Google state folder, which
the machines share like the output folder (task workers would need result storage that every
machine can read).

The consolidation lists the Drive folder once, gives each shard a share of the sheets that
changed (with their modifiedTime), waits for the shards, then reads as always: a sheet a shard
fetched comes from its fresh snapshot without a Google call. A sheet a shard could not fetch,
and the remaining sheets of a shard lost with its machine (nothing fetched for `stall_seconds`:
it is cancelled), are read by the run itself: a lost worker costs a retry of its shard's
remaining sheets, no more. Each shard draws on the accounts' shared Google budgets
(flows.shared_limits), so more workers never means more than the quota.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow

from flows.config import Config, load_config
from flows.core.findings import Finding
from flows.outputs.atomic import write_text
from flows.shared_limits import google_limiters, server_configured

if TYPE_CHECKING:
    from flows.sources.google.source import GoogleSource

SHARD_FLOW = "read-shard"
SHARD_DEPLOYMENT = f"{SHARD_FLOW}/{SHARD_FLOW}"
_FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
_THREADS = 4  # as the consolidation's own readers
log = logging.getLogger(__name__)


def split(sheets: dict[str, str], per_shard: int) -> list[dict[str, str]]:
    """`sheets` (id → modifiedTime) dealt into shards of at most `per_shard`, in id order.
    Dealt, not cut: the accounts are hashed over the units, so every shard draws on every
    account's budget and no shard waits on one account alone."""
    refs = sorted(sheets)
    count = math.ceil(len(refs) / per_shard) if per_shard else 0
    return [{ref: sheets[ref] for ref in refs[i::count]} for i in range(count)]


# --------------------------------------------------------------------------- the shard


@dataclass
class ShardReport:
    """What a shard did, written after each sheet (the gathering run watches it as the
    shard's heartbeat): id → "" (fetched) or the reason it was not; its Google findings."""

    done: dict[str, str] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    finished: bool = False

    @classmethod
    def load(cls, path: Path) -> ShardReport:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):  # not written yet (or not by a shard)
            return cls()

    def save(self, path: Path) -> None:
        write_text(path, json.dumps(asdict(self), ensure_ascii=False))


def pull_shard(source: GoogleSource, sheets: dict[str, str], report: Path) -> ShardReport:
    """Fetch `sheets` into the snapshot store, `report` rewritten after each one."""
    done = ShardReport()
    lock = threading.Lock()

    def one(ref: str) -> None:
        reason = source.pull(ref, sheets[ref])
        with lock:
            done.done[ref] = reason
            done.save(report)

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        list(pool.map(one, sheets))
    done.findings = [asdict(finding) for finding in source.findings()]
    done.finished = True
    done.save(report)
    return done


@flow(name=SHARD_FLOW)
def read_shard_flow(sheets: dict[str, str], report: str, config_dir: str | None = None,
                    registry: str | None = None) -> dict[str, int]:
    """Fetch a share of a night's Google sheets (id → modifiedTime) into the snapshot store,
    for the consolidation that started this shard; `report` is where it says what it did."""
    from flows.config.google import load_google_settings
    from flows.sources.google.source import GoogleSource

    config = load_config(config_dir)
    settings = config.google or load_google_settings(config.directory)
    source = GoogleSource(config, registry, limiters=google_limiters(settings))
    done = pull_shard(source, sheets, Path(report))
    failed = sum(1 for reason in done.done.values() if reason)
    log.info("Fetched %d of %d sheets", len(done.done) - failed, len(sheets))
    return {"sheets": len(sheets), "fetched": len(done.done) - failed, "failed": failed}


# --------------------------------------------------------------------------- the gathering run


@dataclass
class _Shard:
    number: int
    sheets: dict[str, str]
    report: Path
    run_id: str = ""
    seen: tuple[str, int] = ("", -1)  # its flow run's state and sheets done, last looked at
    since: float = 0.0  # monotonic time the last change was seen (or it was started)
    state: str = ""  # the flow run's final state type; "LOST" when cancelled here


@dataclass
class Gathered:
    """What the shards did: units fetched, the shards and the lost ones, findings."""

    shards: int = 0
    fetched: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def line(self) -> str:
        if not self.shards:
            return ""
        lost = f", {len(self.lost)} lost (read here)" if self.lost else ""
        return (f"Read shards: {self.shards} on the work pool{lost}; "
                f"{len(self.fetched)} sheets fetched")


def _deployment_exists() -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(SHARD_DEPLOYMENT)
            return True
        except ObjectNotFound:
            return False


def _start(shard: _Shard, count: int, config_dir: str | None, registry: str | None,
           parent: str) -> None:
    from prefect.deployments import run_deployment

    started = run_deployment(
        SHARD_DEPLOYMENT, timeout=0, flow_run_name=f"read-shard-{shard.number}-of-{count}",
        idempotency_key=f"{parent}-shard-{shard.number}",
        parameters={"sheets": shard.sheets, "report": str(shard.report),
                    "config_dir": config_dir, "registry": registry})
    shard.run_id, shard.since = str(started.id), time.monotonic()


def _watch(shards: list[_Shard], stall_seconds: float, poll: float,
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Until every shard has ended or is given up: a shard that neither fetched a sheet nor
    changed state (taken by a worker, started) for `stall_seconds` is cancelled (a live worker
    then stops it) and counted lost."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    waiting = list(shards)
    with get_client(sync_client=True) as client:
        while waiting:
            for shard in list(waiting):
                progress = len(ShardReport.load(shard.report).done)
                try:
                    run = client.read_flow_run(shard.run_id)
                    kind = run.state.type.value if run.state else ""
                except Exception as exc:  # the server busy or away: as if nothing changed
                    log.warning("Could not ask about read shard %d: %s", shard.number, exc)
                    kind = shard.seen[0]
                now = time.monotonic()
                if (kind, progress) != shard.seen:
                    shard.seen, shard.since = (kind, progress), now
                if kind in _FINAL:
                    shard.state = kind
                elif now - shard.since > stall_seconds:
                    try:
                        client.set_flow_run_state(shard.run_id, Cancelling(
                            message="nothing fetched for too long: read by the run itself"),
                            force=True)
                    except Exception as exc:  # lost all the same: the run reads its sheets
                        log.warning("Could not cancel read shard %d: %s", shard.number, exc)
                    shard.state = "LOST"
                if shard.state:
                    waiting.remove(shard)
            if waiting:
                sleep(poll)


def pull_in_shards(reader: GoogleSource, refs: list[str], config: Config,
                   config_dir: str | None, registry: str | None, parent: str,
                   poll: float = 1.0) -> Gathered:
    """Spread tonight's Google fetches over the work pool when there are more than one
    shard's worth and the `read-shard` deployment exists; gather what they fetched into
    `reader`. Nothing happens without a Prefect server (no workers to share with)."""
    settings = config.machines.read_shards
    # cheapest first: looking at every snapshot costs more than asking the server
    if (not settings.units_per_shard or len(refs) <= settings.units_per_shard
            or not server_configured() or not _deployment_exists()):
        return Gathered()
    wanted = reader.to_pull(refs)
    if len(wanted) <= settings.units_per_shard:
        return Gathered()
    folder = Path(reader.settings.state_dir) / "shards" / parent
    folder.mkdir(parents=True, exist_ok=True)
    parts = split(wanted, settings.units_per_shard)
    shards = [_Shard(n, sheets, folder / f"{n}.json") for n, sheets in enumerate(parts, 1)]
    config_dir = config_dir or str(config.directory)  # the same path on every machine
    for shard in shards:
        try:
            _start(shard, len(shards), config_dir, registry, parent)
        except Exception as exc:  # not started: its sheets are read here, like a lost one's
            log.warning("Could not start read shard %d: %s", shard.number, exc)
            shard.state = "LOST"
    _watch([shard for shard in shards if not shard.state], settings.stall_seconds, poll)
    gathered = Gathered(shards=len(shards))
    codes = reader.registry.by_id()
    for shard in shards:
        report = ShardReport.load(shard.report)
        gathered.fetched += [codes.get(ref, ref) for ref, reason in report.done.items()
                             if not reason]
        gathered.findings += [Finding(**f) for f in report.findings]
        if shard.state == "LOST" or not report.finished:
            gathered.lost.append(shard.number)
            left = len(shard.sheets) - sum(1 for r in report.done.values() if not r)
            gathered.findings.append(Finding(
                "read-shard-lost", {"shard": shard.number, "shards": len(shards),
                                    "sheets": left, "seconds": int(settings.stall_seconds)},
                source="google", key=f"shard|{shard.number}"))
    reader.pulled_elsewhere(gathered.fetched, gathered.findings)
    shutil.rmtree(folder, ignore_errors=True)
    return gathered
