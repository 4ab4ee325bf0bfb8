"""The served deployments against the test run's real Prefect server on loopback."""

from __future__ import annotations

import contextvars
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest
from helpers import TEST_CONFIG_DIR

pytestmark = pytest.mark.prefect
GIAMSAT = [sys.executable, "-m", "flows"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.longest
def test_serve_registers_nightly_and_manual_and_runs_a_manual_run(prefect_server, tmp_path,
                                                                  config):
    from flows.demo import build_workspace

    build_workspace(config, tmp_path / "ws")
    out = tmp_path / "ket-qua"
    serving = subprocess.Popen(
        [*GIAMSAT, "serve", "--source", str(tmp_path / "ws" / "nguon"), "--out", str(out),
         "--config", str(TEST_CONFIG_DIR)],
        env=prefect_server, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run = _run_manual(prefect_server)
        assert run["state"] == "COMPLETED", run
        latest = out / "latest"
        assert latest.is_symlink() and (latest / "status.csv").is_file()
        assert (latest / "run.json").read_text(encoding="utf-8").count('"as_of": "2023-03-31"')
        town = latest.resolve()
        # a manual run for two units gets its own folder and leaves `latest` on the town's
        subset = _run_manual(prefect_server, {"units": ["P01", "X02"]})
        assert subset["state"] == "COMPLETED", subset
        assert latest.resolve() == town
        [part] = [r for r in (out / "runs").iterdir() if "-subset-P01-X02-" in r.name]
        import pandas as pd

        assert list(pd.read_csv(part / "status.csv")["unit_code"]) == ["P01", "X02"]
        run_json = (part / "run.json").read_text(encoding="utf-8")
        assert '"units": [' in run_json and "chỉ gồm 2/6 đơn vị: P01, X02" in run_json
        nightly = _deployment(prefect_server, "consolidate/nightly")
        [schedule] = nightly["schedules"]
        assert schedule["schedule"]["cron"] == config.plan.nightly_cron
        assert schedule["schedule"]["timezone"] == "Asia/Ho_Chi_Minh"
    finally:
        serving.send_signal(signal.SIGTERM)
        output, _ = serving.communicate(timeout=60)
    # restarting serve must not leave the nightly schedule paused
    assert _deployment(prefect_server, "consolidate/nightly")["paused"] is False, output


def test_the_cli_runs_on_the_server_that_answers_and_says_so(prefect_server, tmp_path,
                                                              make_workbook):
    """With a server running, `giamsat consolidate` costs its work, not a temporary server's
    start, and the run shows in the Prefect UI."""
    source = tmp_path / "nguon"
    source.mkdir()
    make_workbook("P01", folder=source)
    env = dict(prefect_server, GIAMSAT_PREFECT="auto")
    began = datetime.now(UTC)
    result = subprocess.run(
        [*GIAMSAT, "consolidate", "--source", str(source), "--out", str(tmp_path / "out"),
         "--as-of", "2023-03-31", "--no-pdf", "--reminders", "off", "--config",
         str(TEST_CONFIG_DIR)], env=env, capture_output=True, text=True, timeout=300)
    url = prefect_server["PREFECT_API_URL"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Prefect: chạy trên máy chủ {url}" in " ".join(result.stdout.split())
    with _api(prefect_server) as api:
        # the server is the whole test run's: only the runs started since this test began
        runs = api.post("/flow_runs/filter", json={
            "flow_runs": {"start_time": {"after_": began.isoformat()}}}).json()
    assert sum(1 for r in runs if (r.get("state") or {}).get("type") == "COMPLETED"
               and r["parameters"].get("source") == str(source)) == 1


def test_a_configured_server_that_does_not_answer_falls_back_and_says_so(monkeypatch):
    from flows.cli import prefect_env

    url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("GIAMSAT_PREFECT", "auto")
    monkeypatch.setenv("PREFECT_API_URL", url)
    api = prefect_env.choose_server()
    assert api.url is None and "PREFECT_API_URL" not in os.environ
    assert api.said == (f"Prefect: máy chủ {url} (PREFECT_API_URL) không trả lời; chạy ở chế độ "
                        "tạm thời (lần chạy không hiện trong giao diện Prefect).")


class _Api(httpx.Client):
    """The test server's REST API, from this process: no Prefect client start per question.
    A 503 ("retry", e.g. SQLite busy while `serve` polls) is retried, as Prefect's own client
    does."""

    def request(self, *args, **kwargs) -> httpx.Response:
        for _ in range(20):
            reply = super().request(*args, **kwargs)
            if reply.status_code != 503:
                return reply
            time.sleep(0.5)
        return reply


def _api(env: dict) -> httpx.Client:
    return _Api(base_url=env["PREFECT_API_URL"], timeout=30)


def _deployment(env: dict, name: str) -> dict:
    with _api(env) as api:
        reply = api.get(f"/deployments/name/{name}")
        reply.raise_for_status()
        return reply.json()


def _run_manual(env: dict, parameters: dict | None = None) -> dict:
    """Start a run of the manual deployment, as the UI's "Run" button does, and wait for it."""
    wait_for(lambda: _deployment(env, "consolidate/manual"), 120, "the manual deployment")
    parameters = {"as_of": "2023-03-31", "pdf": False, **(parameters or {})}
    with _api(env) as api:
        deployment = _deployment(env, "consolidate/manual")
        created = api.post(f"/deployments/{deployment['id']}/create_flow_run",
                           json={"parameters": parameters})
        created.raise_for_status()
        run_id = created.json()["id"]

        def finished() -> dict | None:
            state = api.get(f"/flow_runs/{run_id}").json().get("state") or {}
            if state.get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return {"state": state["type"], "message": state.get("message")}
            return None

        return wait_for(finished, 240, "the manual run")


def test_serve_without_a_server_explains_what_to_start(tmp_path):
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(tmp_path / "home")
    (tmp_path / "nguon").mkdir()
    result = subprocess.run([*GIAMSAT, "serve", "--source", str(tmp_path / "nguon"), "--out",
                             str(tmp_path / "out")], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "prefect server start" in result.stderr and "Traceback" not in result.stderr


def test_serve_against_a_server_that_does_not_answer_names_it_and_says_to_wait(tmp_path):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "home"))
    env["PREFECT_API_URL"] = url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens
    (tmp_path / "nguon").mkdir()
    result = subprocess.run([*GIAMSAT, "serve", "--source", str(tmp_path / "nguon"), "--out",
                             str(tmp_path / "out")], env=env, capture_output=True, text=True,
                            timeout=120)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"Máy chủ Prefect tại {url} không trả lời" in said
    assert "prefect server start" in said and f"{url}/health" in said


def test_with_the_google_source_provision_is_served_too(config, tmp_path):
    from flows.serve import build_deployments

    names = {d.name for d in build_deployments(config, "google", tmp_path / "out", None, None)}
    assert names == {"nightly", "manual", "provision"}
    folder = {d.name for d in build_deployments(config, str(tmp_path), tmp_path / "out", None,
                                                None)}
    assert folder == {"nightly", "manual"}




def test_two_runs_started_together_take_turns(config, tmp_path, make_workbook, prefect_api):
    """A nightly and a manual run at the same moment: both finish, neither interleaves."""
    import threading

    import pandas as pd

    from flows.consolidate import consolidate_flow
    from flows.store.history import History

    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    for code in ("P01", "P02", "X01"):
        make_workbook(code, folder=source)
    results, errors = [], []

    def run(as_of):
        try:
            results.append(consolidate_flow(str(source), str(out), as_of,
                                            str(TEST_CONFIG_DIR), dated=True,
                                            reminders="off", pdf=False))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    from datetime import date

    # each thread in a copy of this context: Prefect keeps the test server's URL in a context
    # variable, and a bare thread would start a temporary server of its own instead
    threads = [threading.Thread(target=contextvars.copy_context().run,
                                args=(run, date(2023, 3, d))) for d in (30, 31)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and len(results) == 2
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 2
    for folder in runs:  # each run folder is complete and consistent on its own
        status = pd.read_csv(folder / "status.csv")
        values = pd.read_csv(folder / "values.csv")
        assert len(status) == len(config.units.active())
        assert set(values.unit_code) == {"P01", "P02", "X01"}
    assert (out / "latest").resolve() in {r.resolve() for r in runs}
    import json

    spans = sorted((json.loads((r / "run.json").read_text())["started"],
                    json.loads((r / "run.json").read_text())["finished"]) for r in runs)
    assert spans[0][1] <= spans[1][0]  # the lock made them take turns
    with History(folder=out / "state") as history:
        log = history.changes("P01")
    # the second run saw the same values: nothing doubled in the history
    assert not log.duplicated(["unit_code", "key", "new"]).any()


def test_deploy_without_a_server_says_every_machine_needs_the_same_one(tmp_path):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "home"))
    env["PREFECT_API_URL"] = url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens
    (tmp_path / "nguon").mkdir()
    result = subprocess.run([*GIAMSAT, "deploy", "--source", str(tmp_path / "nguon"), "--out",
                             str(tmp_path / "out")], env=env, capture_output=True, text=True,
                            timeout=120)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"Chưa có máy chủ Prefect trả lời tại {url}" in said
    assert "prefect server start" in said
    assert "PREFECT_API_URL=http://<máy-đó>:4200/api trên mọi máy" in said, said
