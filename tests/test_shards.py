"""Read shards, in one process: what a night gives them, what one fetches, what the run then
reads itself (the shards on real workers: tests/test_workers.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flows.shards import ShardReport, pull_shard, split


def test_a_nights_sheets_are_dealt_into_shards_not_cut():
    sheets = {f"s{n:02}": f"t{n}" for n in range(7)}
    shards = split(sheets, 3)
    assert [list(shard) for shard in shards] == [["s00", "s03", "s06"], ["s01", "s04"],
                                                  ["s02", "s05"]]
    assert shards[0]["s03"] == "t3"  # each with its modifiedTime
    assert split(sheets, 0) == [] and split({}, 3) == []


@pytest.fixture
def world(tmp_path, monkeypatch):
    from flows.sources.google.client import ENDPOINT_ENV
    from flows.testing.bench.scale_google import _world

    monkeypatch.setenv(ENDPOINT_ENV, "unset")  # the world sets it; put back after
    emulator, config, settings, readers = _world(5, 2, tmp_path)
    yield emulator, config, settings
    emulator.stop()


def test_a_shard_fetches_its_sheets_and_the_run_takes_them_from_their_snapshots(world,
                                                                               tmp_path):
    from flows.sources.google.source import GoogleSource

    emulator, config, settings = world
    night = GoogleSource(config)
    refs = night.refs()
    wanted = night.to_pull(refs)
    assert sorted(wanted) == sorted(refs) and len(refs) == 5  # nothing read yet
    first, second = split(wanted, 3)

    report = tmp_path / "1.json"
    done = pull_shard(GoogleSource(config), first, report)  # a worker's process
    assert done.finished and done.done == dict.fromkeys(first, "")
    assert ShardReport.load(report) == done
    assert emulator.counts["sheets.values.batchGet"] == 3

    assert sorted(night.to_pull(refs)) == sorted(second)  # what is left for the run
    codes = night.registry.by_id()
    night.pulled_elsewhere([codes[ref] for ref in first], [])
    raws = [night.read(ref) for ref in refs]
    assert emulator.counts["sheets.values.batchGet"] == 5  # the other two, here
    assert all(raw.sheets and not raw.error for raw in raws)
    assert sorted(night.outcomes.values()) == ["read"] * 5  # a shard's fetch is tonight's read


def test_a_report_not_written_yet_is_an_empty_one(tmp_path: Path):
    assert ShardReport.load(tmp_path / "none.json") == ShardReport()
    (tmp_path / "half.json").write_text('{"done": {"s1"', encoding="utf-8")
    assert ShardReport.load(tmp_path / "half.json") == ShardReport()


@pytest.mark.prefect
@pytest.mark.slow
def test_a_shard_no_worker_takes_is_cancelled_after_its_stall_time(prefect_api, tmp_path):
    """No machine free (or its machine gone): after `stall_seconds` without a change the
    shard is cancelled and counted lost, and the run reads its sheets itself."""
    from prefect.client.orchestration import get_client

    from flows.shards import _Shard, _watch, read_shard_flow

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(read_shard_flow, parameters={
            "sheets": {"s1": "t1"}, "report": str(tmp_path / "1.json")})
        shard = _Shard(1, {"s1": "t1"}, tmp_path / "1.json", run_id=str(run.id))
        shard.since = time.monotonic()
        _watch([shard], stall_seconds=1.0, poll=0.2)
        assert shard.state == "LOST"
        assert client.read_flow_run(run.id).state.type.value in ("CANCELLING", "CANCELLED")
