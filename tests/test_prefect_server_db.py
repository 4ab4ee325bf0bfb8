"""The test run's Prefect server runs on PostgreSQL wherever PostgreSQL is installed, like an
office's server for several machines (conftest.py, `_PrefectServer`)."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

import pytest
from postgres import binaries

# it starts the run's Prefect server when no test has yet: seconds
pytestmark = pytest.mark.slow


def test_the_prefect_server_keeps_its_runs_in_a_postgresql_database(request):
    """Not only migrated: what a client writes through the API lands in the database of the
    run's cluster that the environment names, and that database has pg_trgm."""
    bindir, missing = binaries()
    if bindir is None:
        pytest.skip(f"the Prefect server runs on SQLite: {missing}")
    if os.environ.get("GIAMSAT_TEST_PREFECT_DB", "").strip().lower() == "sqlite":
        pytest.skip("the Prefect server runs on SQLite: GIAMSAT_TEST_PREFECT_DB=sqlite")
    env = request.getfixturevalue("prefect_server")
    postgres = request.getfixturevalue("postgres")
    assert env["GIAMSAT_TEST_PREFECT_DATABASE"] == "postgresql"
    url = env["GIAMSAT_TEST_PREFECT_DATABASE_URL"]
    assert url.startswith(f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/prefect_")
    database = postgres.name_of(url)

    name = f"probe-{uuid.uuid4().hex[:8]}"
    ask = urllib.request.Request(f"{env['PREFECT_API_URL']}/flows/", method="POST",
                                 data=json.dumps({"name": name}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(ask, timeout=60) as reply:
        assert reply.status in (200, 201)
    assert postgres.sql(f"SELECT count(*) FROM flow WHERE name = '{name}'", database) == "1"
    assert postgres.sql("SELECT to_regclass('flow_run') IS NOT NULL, "
                        "EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')",
                        database) == "t|t"
