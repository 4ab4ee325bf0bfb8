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


def start_worker(env: dict, pool: str, name: str, log) -> subprocess.Popen:
    # one run at a time per worker, and a look for work every second (not every 15 s)
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--name", name,
         "--limit", "1"], env=dict(env, PREFECT_WORKER_QUERY_SECONDS="1"), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, how: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, how)
        process.wait(timeout=60)


def start_run(api, deployment_id: str, **parameters) -> str:
    parameters = {"as_of": "2023-03-31", "pdf": False,
                  **{k: str(v) for k, v in parameters.items()}}
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


@pytest.mark.longest  # the server keeps a killed run's slot for its 60 s lease
def test_two_workers_take_the_runs_of_a_work_pool_in_turn_and_a_killed_one_gives_its_turn_back(
        prefect_server, tmp_path, config):
    from flows.config import load_config
    from flows.demo import build_workspace
    from flows.shared_limits import run_limit_name

    build_workspace(config, tmp_path / "ws")
    config_dir, machines = own_config(tmp_path, run_lease_seconds=60)
    out = tmp_path / "ket-qua"
    deployed = subprocess.run(
        [*GIAMSAT, "deploy", "--source", str(tmp_path / "ws" / "nguon"), "--out", str(out),
         "--config", config_dir], env=prefect_server, capture_output=True, text=True,
        timeout=300)
    said = " ".join(deployed.stdout.split())
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    pool = machines["work_pool"]
    assert f"Nhóm máy (work pool) “{pool}” vừa được tạo." in said
    assert "đã đăng ký consolidate/nightly" in said and "đã đăng ký consolidate/manual" in said
    assert f"prefect worker start --pool {pool}" in said

    logs = [open(tmp_path / f"worker-{n}.log", "wb") for n in (1, 2)]
    workers = [start_worker(prefect_server, pool, "may-1", logs[0])]
    try:
        with _api(prefect_server) as api:
            manual = api.get("/deployments/name/consolidate/manual").json()
            assert manual["work_pool_name"] == pool
            # A machine dies mid-run. (The run writes to a second output folder, whose own run
            # limit is then held by the dead run: the wait for its lease overlaps what follows.)
            other = tmp_path / "ket-qua-2"
            first = start_run(api, manual["id"], out=other)
            slot = run_limit_name(load_config(config_dir), other)
            wait_for(lambda: slots_taken(api, slot) == 1, 120, "the slot")
            stop(workers[0], signal.SIGKILL)  # the machine: its worker and the run it started
            kill_run(first)
            workers = [start_worker(prefect_server, pool, f"may-{n}", logs[n - 1])
                       for n in (1, 2)]

            # Two runs asked for together (a manual run as the nightly one starts): one at a
            # time, whichever machines take them.
            runs = [start_run(api, manual["id"]) for _ in range(2)]
            done = [wait_for(lambda r=r: finished(api, r), 300, "a run") for r in runs]
            assert [d["state"]["type"] for d in done] == ["COMPLETED", "COMPLETED"], done
            # each run's work, from taking the slot to its last file (run.json)
            spans = sorted((datetime.fromisoformat(meta["started"]),
                            datetime.fromisoformat(meta["finished"]))
                           for meta in map(run_json, (out / "runs").iterdir()))
            assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans

            # The dead machine's slot comes back when its lease runs out, and the run waiting
            # for it ends with every output written.
            second = start_run(api, manual["id"], out=other)
            ended = wait_for(lambda: finished(api, second), 300, "the run after the kill")
            assert ended["state"]["type"] == "COMPLETED", ended
            assert (api.get(f"/flow_runs/{first}").json()["state"]["type"]
                    in ("RUNNING", "CRASHED", "PENDING"))  # never finished
        latest = (other / "latest").resolve()
        status = pd.read_csv(latest / "status.csv")
        assert len(status) == 6 and status["found"].all()
        assert (latest / "bao-cao.docx").is_file() and (latest / "findings.csv").is_file()
    finally:
        for worker in workers:
            stop(worker)
        for log in logs:
            log.close()


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
    # half the quota at once, the rest over the minute (+ the 1 s margin): never 61 in 61 s
    assert (read.name, read.slots, read.decay) == (
        "giamsat-google-read-doc-2-giamsat-iam-example-com", 30, 30 / 61)
    off = GoogleSettings(folder_id="F", shared_limits={"enabled": False})
    assert google_limiters(off) is None
