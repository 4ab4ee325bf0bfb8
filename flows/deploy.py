"""Deployments on a Prefect work pool, for several machines: `giamsat deploy`.

`giamsat serve` runs the flows on the machine that serves them. Here the same deployments
(`consolidate/nightly`, `consolidate/manual`, and with Google `provision` and `read-shard`,
a share of a night's fetches: flows.shards) go to a `process`
work pool named in machines.yaml, created on first use; any machine with giamsat installed
and `PREFECT_API_URL` pointing at the server runs them with `prefect worker start --pool
<pool>`. The flows are named by module path (`flows.consolidate.consolidate_flow`), so a
worker needs no copy of this checkout, only the installed package and the same paths for
the config, sources and outputs (a shared folder, or the same layout on every machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flows.config import Config
from flows.serve import NoServer, api_url, build_deployments


@dataclass
class Deployed:
    """What `deploy_all` registered: the pool, and each deployment's full name."""

    pool: str
    created_pool: bool
    names: list[str]


def ensure_pool(name: str) -> bool:
    """Make sure a `process` work pool of this name exists; True when it was created now."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        except ObjectAlreadyExists:  # another machine made it just now
            return False
        return True


def deploy_all(config: Config, source: str, out: Path, config_dir: Path | None,
               registry: Path | None, reminders: str = "dry-run") -> Deployed:
    """Register the deployments on the work pool (again: updated in place, never doubled)."""
    from prefect import deploy
    from prefect.deployments.runner import EntrypointType

    from flows.cli.prefect_env import answers

    url = api_url()
    if url is None or not answers(url, timeout_s=3.0):
        raise NoServer(url)
    pool = config.machines.work_pool
    created = ensure_pool(pool)
    deployments = build_deployments(config, source, out, config_dir, registry, reminders,
                                    entrypoint_type=EntrypointType.MODULE_PATH)
    if source == "google":  # a night's fetches shared by the workers (flows.shards)
        from flows.shards import SHARD_FLOW, read_shard_flow

        deployments.append(read_shard_flow.to_deployment(
            name=SHARD_FLOW, tags=["giamsat"], entrypoint_type=EntrypointType.MODULE_PATH,
            description="Một phần việc đọc bảng tính Google của lần tổng hợp đêm, do lần "
                        "tổng hợp đó tự khởi chạy khi có nhiều bảng tính cần đọc."))
    deploy(*deployments, work_pool_name=pool, build=False, push=False,
           print_next_steps_message=False, ignore_warnings=True)
    names = [f"{d.flow_name}/{d.name}" for d in deployments]
    return Deployed(pool, created, names)
