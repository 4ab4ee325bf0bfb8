"""Deployments served from one office machine: `consolidate/nightly`, `consolidate/manual`
(and `provision` when the Google source is configured), against a Prefect server.

Schedules need a real server (`prefect server start`): Prefect's ephemeral mode never fires a
cron. `pause_on_shutdown=False` keeps the nightly schedule active across restarts of `serve`.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import serve
from prefect.schedules import Cron

from flows.cli.prefect_env import answers
from flows.config import Config
from flows.consolidate import consolidate_flow


def build_deployments(config: Config, source: str, out: Path, config_dir: Path | None,
                      registry: Path | None, reminders: str = "dry-run",
                      **options) -> list:
    """The deployments with their default parameters (a manual run may override any).

    `options` go to every `to_deployment` (a work pool's deployments name their flows by
    module path, so a worker finds them in the installed package)."""
    parameters = {
        "source": source if source == "google" else str(Path(source).resolve()),
        "out": str(out.resolve()),
        "config_dir": str(config_dir.resolve()) if config_dir else str(config.directory),
        "registry": str(registry.resolve()) if registry else None,
        "dated": True,
        "reminders": reminders,
    }
    nightly = consolidate_flow.to_deployment(
        name="nightly",
        schedules=[Cron(config.plan.nightly_cron, timezone=config.plan.timezone)],
        parameters=parameters, tags=["giamsat", "nightly"], **options,
        description="Tổng hợp hằng đêm: đọc mọi bảng tính, kiểm tra, ghi kết quả vào "
                    f"{parameters['out']}/latest.")
    manual = consolidate_flow.to_deployment(
        name="manual", parameters=parameters, tags=["giamsat", "manual"], **options,
        description="Chạy tổng hợp ngay (trước hạn báo cáo). Tham số: as_of (ngày tính), "
                    "units (danh sách mã đơn vị), final (bản chính thức có số, ngày).")
    deployments = [nightly, manual]
    if source == "google":
        from flows.provision import provision_flow

        deployments.append(provision_flow.to_deployment(
            name="provision", tags=["giamsat"], **options,
            parameters={"registry": parameters["registry"], "config_dir": parameters[
                "config_dir"]},
            description="Tạo / bổ sung bảng tính Google cho các đơn vị (không tạo trùng)."))
    return deployments


class NoServer(Exception):
    """No Prefect server is configured (or it does not answer); schedules would never fire.

    `url` is the configured API address, or None when none is configured.
    """

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url or "")
        self.url = url


def api_url() -> str | None:
    """The Prefect API address this process would use, if any."""
    from prefect.settings import PREFECT_API_URL

    return (os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or "").strip() or None


def serve_all(config: Config, source: str, out: Path, config_dir: Path | None,
              registry: Path | None, reminders: str = "dry-run") -> None:
    """Register the deployments and run their flow runs here until stopped (SIGTERM/Ctrl+C)."""
    url = api_url()
    if url is None or not answers(url, timeout_s=3.0):
        raise NoServer(url)
    serve(*build_deployments(config, source, out, config_dir, registry, reminders), limit=2,
          pause_on_shutdown=False, print_starting_message=True)
