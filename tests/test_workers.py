"""Several machines on one Prefect server: a work pool, two process workers, one run at a time,
one Google budget — against the test run's real Prefect server on loopback.

The two workers are two `prefect worker start` processes, as two office machines would run
them; each flow run is a process of its own, started by the worker that took it.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import TEST_CONFIG_DIR
from test_serve import _api, wait_for

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
GIAMSAT = [sys.executable, "-m", "flows"]


def own_config(tmp_path, **machines) -> tuple[str, object]:
    """The test config with a work pool and run limit of this test's own (the server is the
    whole test run's)."""
    folder = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, folder)
    tag = uuid.uuid4().hex[:8]
    settings = {"work_pool": f"pool-{tag}", "run_limit": f"run-{tag}", **machines}
    (folder / "machines.yaml").write_text(
        "".join(f"{key}: {value}\n" for key, value in settings.items()), encoding="utf-8")
    return str(folder), settings


def start_worker(env: dict, pool: str, name: str, log, limit: int | None = None
                 ) -> subprocess.Popen:
    # a look for work every second (not every 15 s); `limit`: flow runs at once
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--name", name,
         *(["--limit", str(limit)] if limit else [])],
        env=dict(env, PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_LOGGING_LEVEL="INFO"), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, how: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, how)
        process.wait(timeout=60)


def start_run(api, deployment_id: str, **parameters) -> str:
    parameters = {"as_of": "2023-03-31", "pdf": False,
                  **{k: str(v) if isinstance(v, Path) else v for k, v in parameters.items()}}
    created = api.post(f"/deployments/{deployment_id}/create_flow_run",
                       json={"parameters": parameters})
    created.raise_for_status()
    return created.json()["id"]


def finished(api, run_id: str) -> dict | None:
    run = api.get(f"/flow_runs/{run_id}").json()
    if (run.get("state") or {}).get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
        return run
    return None


def run_json(folder) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


def kill_run(run_id: str) -> None:
    """SIGKILL the process of a flow run (a worker may start it in a session of its own)."""
    mark = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark in environ.read_bytes().split(b"\0"):
                os.kill(int(environ.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def slots_taken(api, name: str) -> int:
    reply = api.get(f"/v2/concurrency_limits/{name}")
    return reply.json().get("active_slots", 0) if reply.status_code == 200 else 0


def google_world(tmp_path, units: int, per_window: int, window: float, **machines):
    """`units` filled sheets in the loopback emulator over two service accounts, which
    enforces `per_window` reads per account in any `window` seconds; the config of it with a
    work pool and run limit of this test's own, and Google's budgets counted over the same
    window."""
    from flows.testing.bench.scale_google import _world

    emulator, _, _, readers = _world(units, 2, tmp_path)
    emulator.read_quota_per_minute, emulator.write_quota_per_minute = per_window, 60
    emulator.quota_window_seconds = window
    emulator.project_read_quota.limit = None
    config_dir = tmp_path / "config"
    google = yaml.safe_load((config_dir / "google.yaml").read_text(encoding="utf-8"))
    # writes (the flags written back) are not what is measured: Google's own 60 a minute
    google["quota"].update(reads_per_minute=per_window, window_seconds=window)
    google["retry"] = {"cap_seconds": 2}
    (config_dir / "google.yaml").write_text(yaml.safe_dump(google), encoding="utf-8")
    tag = uuid.uuid4().hex[:8]
    settings = {"work_pool": f"pool-{tag}", "run_limit": f"run-{tag}", **machines}
    (config_dir / "machines.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return emulator, str(config_dir), settings, readers


def flow_runs_of(api, deployment_id: str) -> list[dict]:
    reply = api.post("/flow_runs/filter",
                     json={"deployments": {"id": {"any_": [deployment_id]}}})
    reply.raise_for_status()
    return reply.json()


def descendants(pid: int) -> set[int]:
    """The processes started (directly or not) by `pid`."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    found, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found - {pid}


def flow_run_of(pid: int) -> str | None:
    try:
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                return item.split(b"=", 1)[1].decode()
    except OSError:
        pass
    return None


@pytest.mark.longest  # the server keeps a killed run's slot for its 60 s lease
def test_two_machines_share_a_nights_google_reads_take_turns_and_survive_a_killed_worker(
        prefect_server, tmp_path, monkeypatch):
    """60 commune sheets, two service accounts, a tight quota (12 reads per account in any
    6 s, Google's minute shortened alike on both sides), two worker machines on one server:

    * a machine switched off mid-run holds its output folder's slot until the lease runs out,
      then the next run there writes every output;
    * two runs asked for together take turns;
    * the first one's fetches go out in read shards (30 sheets each) to both machines; one
      machine is killed mid-shard: its shards are given up after 15 s without progress and the
      run fetches their remaining sheets itself;
    * every unit is consolidated with exactly its sheet's values, Google never answered 429,
      and no account went over its quota in any window.
    """
    from flows.config import load_config
    from flows.shared_limits import run_limit_name
    from flows.sources.google.client import ENDPOINT_ENV

    monkeypatch.setenv(ENDPOINT_ENV, "unset")  # the world below sets it; put back after
    emulator, config_dir, machines, readers = google_world(
        tmp_path, 60, per_window=12, window=6.0, run_lease_seconds=60,
        read_shards={"units_per_shard": 30, "stall_seconds": 15})
    env = dict(prefect_server, **{ENDPOINT_ENV: emulator.url})
    out, other = tmp_path / "ket-qua", tmp_path / "ket-qua-2"
    deployed = subprocess.run(
        [*GIAMSAT, "deploy", "--source", "google", "--out", str(out), "--config", config_dir],
        env=env, capture_output=True, text=True, timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "read-shard/read-shard" in " ".join(deployed.stdout.split())
    pool = machines["work_pool"]
    logs = [open(tmp_path / f"worker-{n}.log", "wb") for n in (0, 1, 2)]
    workers = [start_worker(env, pool, "may-0", logs[0])]
    try:
        with _api(env) as api:
            manual = api.get("/deployments/name/consolidate/manual").json()
            shard_deployment = api.get("/deployments/name/read-shard/read-shard").json()
            emulator.reset_counts()  # every read from here on (setup aside) is counted
            emulator.quota_log.clear()
            # A machine dies mid-run on the second output folder: its slot stays taken until
            # the lease runs out, while the rest of the test goes on.
            # (two units: too few to shard, so the dead run leaves no shard behind)
            first = start_run(api, manual["id"], out=other, units=sorted(readers)[:2])
            slot = run_limit_name(load_config(config_dir), other)
            wait_for(lambda: slots_taken(api, slot) == 1, 120, "the slot")
            stop(workers[0], signal.SIGKILL)
            kill_run(first)

            # Machine 1 takes the run waiting for the dead one's slot, both runs asked for
            # together (one waits for its turn), and has room for one shard; machine 2,
            # started once it took the runs, for the other one.
            workers = [start_worker(env, pool, "may-1", logs[1], limit=4)]
            after = start_run(api, manual["id"], out=other, units=sorted(readers)[:2])
            runs = [start_run(api, manual["id"]) for _ in range(2)]
            wait_for(lambda: all(api.get(f"/flow_runs/{r}").json()["state_type"] != "SCHEDULED"
                                 for r in [after, *runs]), 180, "machine 1 taking the runs")
            workers.append(start_worker(env, pool, "may-2", logs[2], limit=1))

            def busy_shard_of_machine_2():
                for pid in descendants(workers[1].pid):
                    run_id = flow_run_of(pid)
                    if run_id:
                        name = api.get(f"/flow_runs/{run_id}").json()["name"]
                        number = name.split("-")[2]
                        report = next((tmp_path / "state" / "shards").glob(f"*/{number}.json"),
                                      None)
                        if report and json.loads(report.read_text())["done"]:
                            return run_id
                return None

            killed = wait_for(busy_shard_of_machine_2, 120, "machine 2 fetching")
            stop(workers[1], signal.SIGKILL)
            kill_run(killed)
            done = [wait_for(lambda r=r: finished(api, r), 300, "a run") for r in runs]
            assert [d["state"]["type"] for d in done] == ["COMPLETED", "COMPLETED"], done
            shards = flow_runs_of(api, shard_deployment["id"])
            states = sorted(r["state_type"] for r in shards)
            assert len(states) == 2 and "COMPLETED" in states, states  # machine 1's
            lost = [r for r in shards if r["state_type"] != "COMPLETED"]
            assert lost and all(r["state_type"] in ("CANCELLING", "CANCELLED") for r in lost)

            # each run's work, from taking the slot to its last file: one after the other
            metas = [run_json(folder) for folder in (out / "runs").iterdir()]
            spans = sorted((datetime.fromisoformat(m["started"]),
                            datetime.fromisoformat(m["finished"])) for m in metas)
            assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans

            # the dead machine's slot came back: the run waiting for it writes everything
            ended = wait_for(lambda: finished(api, after), 300, "the run after the kill")
            assert ended["state"]["type"] == "COMPLETED", ended
            assert api.get(f"/flow_runs/{first}").json()["state_type"] != "COMPLETED"
        latest = (out / "latest").resolve()
        status = pd.read_csv(latest / "status.csv")
        assert len(status) == 60 and status["found"].all()
        values = pd.read_csv(latest / "values.csv", dtype=str).fillna("")
        per_unit = {code: tuple(group.sort_values(["indicator", "breakdown", "year"])["value"])
                    for code, group in values.groupby("unit_code")}
        assert len(per_unit) == 60 and len(set(per_unit.values())) == 1  # one filled sheet
        sharded = next(folder for folder in (out / "runs").iterdir()
                       if run_json(folder)["started"] == min(m["started"] for m in metas))
        findings = pd.read_csv(sharded / "findings.csv", dtype=str).fillna("")
        lost_said = findings[findings["rule"] == "read-shard-lost"]
        assert len(lost_said) == len(lost) == len(lost_said["message"].unique())
        assert lost_said["message"].str.contains("lần tổng hợp này đã tự đọc").all()
        # Google: every sheet fetched, never a 429, no account over its quota in any window
        assert emulator.counts["429"] == 0
        # each sheet once; a few twice: those in flight when machine 2 died, and the two
        # units of the dead run and of the run after it (read by those, then again by the
        # town's run, or after it wrote its flags)
        assert 60 <= emulator.counts["sheets.values.batchGet"] <= 60 + 4 + 2 + 2
        for account in set(readers.values()):
            assert emulator.busiest_minute(account) <= 12, account
        (subset,) = (other / "runs").iterdir()  # the dead run wrote nothing
        assert pd.read_csv(subset / "status.csv")["found"].tolist() == [True, True]
        assert (subset / "bao-cao.docx").is_file() and (subset / "findings.csv").is_file()
    finally:
        for worker in workers:
            stop(worker)
        for log in logs:
            log.close()
        emulator.stop()


def test_two_processes_drawing_on_one_account_budget_never_exceed_it_together(prefect_api):
    """Each worker's Google client asks the server's rate limit: at most `slots` calls at once,
    then `decay` a second, whoever asks — so any 60 s hold at most the account's quota."""
    from flows.shared_limits import SharedRateLimiter, bucket

    slots, decay = bucket(300, 5, 61.0)  # 300 calls a minute: 5 at once, then 4.8 a second
    name = f"giamsat-google-read-test-{uuid.uuid4().hex[:8]}"
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        limiter = SharedRateLimiter(name, slots, decay)  # a limiter of its own, as a process
        for _ in range(8):
            limiter.acquire()
            with lock:
                times.append(time.monotonic())

    # each thread with the test's Prefect settings (a process of its own would read them from
    # its environment)
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker,))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    times.sort()
    assert len(times) == 16
    for i, start in enumerate(times):  # in every window, at most slots + window × decay
        for j in range(i, len(times)):
            window = times[j] - start
            assert j - i + 1 <= slots + window * decay + 1, (i, j, window)
    assert times[-1] - times[0] >= (16 - slots - 1) / decay * 0.8  # it did make them wait


def test_a_flow_run_on_a_server_draws_each_account_budget_from_the_server(prefect_api):
    from flows.config.google import GoogleSettings
    from flows.shared_limits import SharedRateLimiter, google_limiters

    settings = GoogleSettings(folder_id="F")
    make = google_limiters(settings)
    assert make is not None  # a Prefect server is configured
    read = make("read", 60, "Doc-2@giamsat.iam.example.com")
    assert isinstance(read, SharedRateLimiter)
    # a tenth of the quota at once, the rest over the minute (+ the 1 s margin): never 61 in
    # 61 s, and a sustained pace of 54 a minute (half the quota at once would leave 30)
    assert (read.name, read.slots, read.decay) == (
        "giamsat-google-read-doc-2-giamsat-iam-example-com", 6, 54 / 61)
    off = GoogleSettings(folder_id="F", shared_limits={"enabled": False})
    assert google_limiters(off) is None
