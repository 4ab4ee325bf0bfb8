"""`bench cli`: a 9-unit `giamsat consolidate` of the demo workbooks, timed end to end as a user
runs it — in Prefect's ephemeral mode, against a running Prefect server, and the same work done
by the core alone without Prefect — in one run, each a fresh process, so the ratios compare
like with like.

"The same work" is the whole run — reading, checks, the history, the tables, findings.xlsx and
the report (no PDF, no reminders) — with its steps called plainly; each mode runs twice and the
second (warm) run is the figure, as a second run on an office machine would be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TARGET_RATIO = 2.0
AS_OF = "2023-04-05"


def core_run(source: str, out: str) -> None:
    """The same run without Prefect: every step called plainly (`flows.consolidate.PlainSteps`)."""
    from datetime import date

    from flows.consolidate import PlainSteps, run_consolidation

    run_consolidation(source, out, date.fromisoformat(AS_OF), reminders="off", pdf=False,
                      steps=PlainSteps())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def _server(env: dict) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the Prefect server did not start within 180 s")


def run() -> list[str]:
    from flows.config import load_config
    from flows.demo import build_workspace

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        build_workspace(load_config(), root / "ws")
        source = str(root / "ws" / "nguon")
        base = dict(os.environ, PREFECT_HOME=str(root / "prefect-home"),
                    PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
        base.pop("PREFECT_API_URL", None)

        def cli(out: str) -> list[str]:
            return [sys.executable, "-m", "flows", "consolidate", "--source", source, "--out",
                    str(root / out), "--as-of", AS_OF, "--no-pdf", "--reminders", "off"]

        core = [sys.executable, "-c", "import sys; from flows.testing.bench.cli import "
                "core_run; core_run(sys.argv[1], sys.argv[2])", source]
        figures: dict[str, list[float]] = {"core": [], "ephemeral": [], "server": []}
        for n in range(2):
            figures["core"].append(_timed([*core, str(root / f"core-{n}")], base))
        ephemeral = dict(base, GIAMSAT_PREFECT="ephemeral")
        for n in range(2):
            figures["ephemeral"].append(_timed(cli(f"eph-{n}"), ephemeral))
        server, url = _server(dict(base, PREFECT_UI_ENABLED="false"))
        try:
            on_server = dict(base, PREFECT_API_URL=url, GIAMSAT_PREFECT="auto")
            for n in range(2):
                figures["server"].append(_timed(cli(f"srv-{n}"), on_server))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    core_s = figures["core"][-1]
    lines = ["bench cli: giamsat consolidate of the 9 demo workbooks, no PDF, each a fresh process",
             f"{'mode':<34}{'1st run':>10}{'2nd run':>10}{'÷ core':>9}"]
    for mode, label in (("core", "core alone (no Prefect)"),
                        ("ephemeral", "Prefect ephemeral (no server)"),
                        ("server", "Prefect server already running")):
        first, second = figures[mode]
        lines.append(f"{label:<34}{first:>9.2f}s{second:>9.2f}s{second / core_s:>8.2f}×")
    ratio = figures["server"][-1] / core_s
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    lines.append(f"target: with a running server ≤ {TARGET_RATIO:g}× the core alone — {verdict} "
                 f"({ratio:.2f}×)")
    return lines
