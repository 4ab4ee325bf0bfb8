"""Prefect flows: thin wiring of sources → core → outputs. The logic lives in `flows.core`."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import Config, load_config
from flows.core.consolidate import Consolidated, consolidate
from flows.core.extract import Extraction, extract_workbook
from flows.core.findings import ERROR, WARNING, Finding
from flows.fileio import write_csv, write_text
from flows.layout import Layout, build_layout
from flows.sources.xlsx import XlsxFolderSource, read_workbook


@dataclass
class RunSummary:
    """What a consolidation run produced; printed by the CLI, returned by the flow."""

    out_dir: str
    as_of: str
    units_expected: int
    units_found: int
    units_complete: int
    errors: int
    warnings: int
    files: list[str]


def today_in(config: Config) -> date:
    return datetime.now(config.plan.tz).date()


@task(cache_policy=NO_CACHE, task_run_name="read-{path.name}")
def read_and_extract(path: Path, layout: Layout, config: Config) -> Extraction:
    """Read one workbook. Whatever goes wrong stays with this workbook: the run goes on."""
    logger = get_run_logger()
    try:
        raw = read_workbook(path)
        extraction = extract_workbook(raw, layout, config.units.by_code())
    except Exception as exc:  # a bug must not cost the other communes their consolidation
        logger.error("Reading %s failed:\n%s", path.name, traceback.format_exc())
        return Extraction(source=path.name, findings=[Finding(
            rule="internal-error", severity=ERROR, source=path.name, key="file",
            message=f"Lỗi hệ thống khi đọc tệp “{path.name}” ({type(exc).__name__}); "
                    "tệp này chưa được tổng hợp.",
            instruction="Báo cho quản trị hệ thống kèm tệp này; các đơn vị khác vẫn được "
                        "tổng hợp bình thường.")])
    logger.info("%s: unit %s, %d values, %d findings", path.name, extraction.unit_code or "?",
                len(extraction.values), len(extraction.findings))
    return extraction


@task(cache_policy=NO_CACHE)
def write_outputs(result: Consolidated, out_dir: Path, meta: dict) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(out_dir / "values.csv", result.values),
        write_csv(out_dir / "lists.csv", result.lists),
        write_csv(out_dir / "findings.csv", result.findings),
        write_csv(out_dir / "status.csv", result.status),
        write_text(out_dir / "run.json", json.dumps(meta, ensure_ascii=False, indent=2)),
    ]
    return [str(path) for path in written]


def summarise(result: Consolidated, out_dir: Path, as_of: date, files: list[str]) -> RunSummary:
    status = result.status
    severities = result.findings["severity"]
    return RunSummary(
        out_dir=str(out_dir), as_of=as_of.isoformat(), units_expected=len(status),
        units_found=int(status["found"].sum()),
        units_complete=int((status["completeness"] >= 100).sum()),
        errors=int((severities == ERROR).sum()), warnings=int((severities == WARNING).sum()),
        files=files,
    )


@flow(name="consolidate", task_runner=ThreadPoolTaskRunner(max_workers=4))
def consolidate_flow(
    source: str, out: str, as_of: date | None = None, config_dir: str | None = None
) -> RunSummary:
    """Read every commune workbook in `source`, check it, write the consolidated tables to `out`."""
    logger = get_run_logger()
    config = load_config(config_dir)
    as_of = as_of or today_in(config)
    layout = build_layout(config)
    paths = XlsxFolderSource(Path(source)).paths()
    logger.info("Consolidating %d workbooks from %s (as of %s)", len(paths), source, as_of)
    futures = [read_and_extract.submit(path, layout, config) for path in paths]
    extractions = [future.result() for future in futures]
    result = consolidate(extractions, config, layout)
    meta = {"as_of": as_of.isoformat(), "source": str(source), "form": config.form.id,
            "form_version": config.form.version, "workbooks": len(paths),
            "finished": datetime.now(config.plan.tz).isoformat(timespec="seconds")}
    files = write_outputs(result, Path(out), meta)
    summary = summarise(result, Path(out), as_of, files)
    logger.info("Done: %d/%d units found, %d errors, %d warnings", summary.units_found,
                summary.units_expected, summary.errors, summary.warnings)
    return summary
