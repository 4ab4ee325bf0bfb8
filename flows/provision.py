"""The Prefect flow `provision`: the Google template, one sheet per unit, sharing, the dashboard.

Thin wiring; the work is `flows.sources.google.provisioner`.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.config import load_config
from flows.sources.google.provisioner import provision_all


@flow(name="provision")
def provision_flow(config_dir: str | None = None, registry: str | None = None) -> list[str]:
    """Provision the Google Sheets of every active unit (idempotent); returns the report lines."""
    logger = get_run_logger()
    config = load_config(config_dir, need=("provision",))
    report = provision_all(config, config.google, Path(registry) if registry else None)
    lines = report.lines()
    for line in lines:
        logger.info("%s", line)
    return lines
