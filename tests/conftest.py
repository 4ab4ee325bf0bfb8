"""Shared fixtures: the real config, layouts, workbooks written and mutated like communes do."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from flows.config import Config, load_config  # noqa: E402
from flows.core.layout import Layout, build_layout  # noqa: E402
from flows.demo.synthetic import synthetic_answers  # noqa: E402
from flows.sources.xlsx import write_template  # noqa: E402

pytest_plugins = ["google_fixtures"] if (Path(__file__).parent / "google_fixtures.py").exists() \
    else []


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def layout(config) -> Layout:
    return build_layout(config)


@pytest.fixture(scope="session")
def prefect_api():
    """A throw-away Prefect API for the few tests that run a real flow."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), temporary_settings(
        updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        yield


def answers_for(config: Config, code: str, seed: int = 7, completed=True) -> dict[str, object]:
    """A clean, complete set of answers for one unit, as a commune would type them."""
    unit = config.units.by_code()[code]
    done = config.plan.self_inspection.start if completed else None
    return synthetic_answers(config.form, unit, random.Random(f"{seed}-{code}"),
                             reporting_end=config.plan.reporting_period.end, completed=done)


@pytest.fixture
def make_workbook(config, tmp_path):
    """Write a workbook for a unit with the given answers (key → value) and return its path."""

    def make(code: str, answers: dict | None = None, name: str | None = None,
             folder: Path | None = None) -> Path:
        unit = config.units.by_code()[code]
        path = (folder or tmp_path) / (name or f"{code}.xlsx")
        values = answers_for(config, code) if answers is None else answers
        write_template(build_layout(config, unit), path, values)
        return path

    return make
