"""Shared fixtures: the test config (tests/config), the shipped deployment for its own few tests,
workbooks written like communes do, and the loopback services (ports, SMTP, clocks, the CLI).

Unit tests use `config` / `layout`: a short form and six units of a made-up town, owned by
the tests, so editing the deployment in config/ (adding a unit, a rule, an indicator) fails
no unit test. Only the tests of the shipped deployment itself use `shipped_config` /
`shipped_layout`; they are named for it (`…shipped…`) and marked `shipped`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

# The suite starts dozens of Python processes (xdist workers, CLI runs, served flow runs, the
# reading workers): with PYTHONDONTWRITEBYTECODE set (some machines do), each would compile
# the project's modules from source again. Compiled once, they load from __pycache__.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# the test server stops before the last log lines of the session would reach it
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
# A developer's own `prefect server start` must not take over the tests' runs; the tests of
# that choice set it back to `auto`.
os.environ["GIAMSAT_PREFECT"] = "ephemeral"

from helpers import TEST_CONFIG_DIR  # noqa: E402

from flows.config import DEFAULT_CONFIG_DIR, Config, load_config  # noqa: E402
from flows.core.consolidate import consolidate  # noqa: E402
from flows.core.extract import extract_workbook  # noqa: E402
from flows.core.layout import Layout, build_layout  # noqa: E402
from flows.demo.synthetic import synthetic_answers  # noqa: E402
from flows.sources.folder import FolderSource  # noqa: E402
from flows.sources.xlsx import write_template  # noqa: E402
from flows.store.history import History  # noqa: E402
from flows.store.review import review_night  # noqa: E402

pytest_plugins = ["google_fixtures"] if (Path(__file__).parent / "google_fixtures.py").exists() \
    else []

__all__ = ["TEST_CONFIG_DIR", "answers_for"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shipped: a test of the shipped deployment in config/ (Hương Trà), "
                   "not of the code")
    # The Prefect server of the whole run: an xdist worker joins the one its controller named;
    # the controller, or pytest without xdist, names it and stops it at the end.
    shared = getattr(config, "workerinput", {}).get(_PREFECT_FOLDER)
    folder = Path(shared) if shared else \
        Path(tempfile.gettempdir()) / f"giamsat-prefect-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    config.stash[_PREFECT] = _PrefectServer(folder, owner=not shared)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, in the controller: tell each worker where the run's Prefect server is kept."""
    node.workerinput[_PREFECT_FOLDER] = str(node.config.stash[_PREFECT].folder)


def pytest_unconfigure(config):
    """After the last worker is done: stop the run's Prefect server, if a test started it."""
    server = config.stash.get(_PREFECT, None)
    if server is not None and server.owner:
        server.stop()


def pytest_collection_modifyitems(config, items):
    """A real Prefect run costs seconds: every `prefect` test is also `slow`, so the inner loop
    `pytest -m "not slow"` runs only the fast ones (CI runs everything). The `longest` tests
    (30 s or more) go first: started last, one of them would be the whole run's tail on a
    2-core machine."""
    for item in items:
        if item.get_closest_marker("prefect") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # stable


# --------------------------------------------------------------------------- configs


@pytest.fixture(scope="session")
def test_config() -> Config:
    """The test config (tests/config): a short form, six units, its own rules."""
    return load_config(TEST_CONFIG_DIR)


@pytest.fixture(scope="session")
def test_layout(test_config) -> Layout:
    return build_layout(test_config)


@pytest.fixture(scope="session")
def shipped_config() -> Config:
    """The shipped deployment (config/: thị xã Hương Trà), for the tests about it only."""
    return load_config(DEFAULT_CONFIG_DIR)


@pytest.fixture(scope="session")
def shipped_layout(shipped_config) -> Layout:
    return build_layout(shipped_config)


@pytest.fixture(scope="session")
def config(test_config) -> Config:
    """The config unit tests run on: the test config. The shipped one is loaded only when a
    test asks for `shipped_config`, so a mistake in config/ fails only its own tests."""
    return test_config


@pytest.fixture(scope="session")
def layout(test_layout) -> Layout:
    return test_layout


@pytest.fixture(scope="session")
def prefect_server(request, tmp_path_factory):
    """The test run's one real `prefect server start` on loopback (see `_PrefectServer`): the
    in-process flow runs, the CLI subprocesses and the served deployments of every xdist worker
    use it, so no test pays for a server's start. The environment that points at it, with a
    Prefect home of this worker's own (the server keeps its database in another)."""
    url = request.config.stash[_PREFECT].url()
    home = tmp_path_factory.mktemp("prefect-home")
    # a served deployment looks for a run to start every 2 s, not every 10 s: a test's
    # manual run starts at once
    return dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PREFECT_LOGGING_LEVEL="WARNING", PREFECT_API_URL=url,
                PREFECT_RUNNER_POLL_FREQUENCY="2")


@pytest.fixture(scope="session")
def prefect_api(prefect_server):
    """The test server as this process's Prefect API (and its children's: a CLI subprocess
    started by a test inherits it), for the tests that run a real flow."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    url = prefect_server["PREFECT_API_URL"]
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url,
                                         PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield prefect_server
    finally:
        os.environ.pop("PREFECT_API_URL", None)


# --------------------------------------------------------------------------- the Prefect server

_PREFECT_FOLDER = "giamsat_prefect_server"  # the key of its folder in an xdist worker's input
# Only the API, the event stream to websocket clients, the API's own background tasks and the
# repossessor run; every other background service is off: none is needed by a test, and
# together they kept the idle server busy. The repossessor gives back the run slot of a run
# whose worker was killed once its lease runs out (checked every second here, not every 15 s).
# No scheduler: a test reads the nightly schedule back, never a run it made (and a nightly run
# coming due would be started by `giamsat serve` mid-test). No event persister, task-run
# recorder or triggers: no test reads events, task runs or automations. No late runs, foreman,
# pause expirations or cancellation cleanup: nothing goes late, pauses or cancels. No block
# types registered at its start (~3 s of CPU): giamsat uses no Prefect block. Its database
# waits longer for its lock on a loaded machine than the default 10 s.
_SERVER_ARGS = ["--host", "127.0.0.1", "--no-ui"]
_OFF = ("CANCELLATION_CLEANUP", "EVENT_PERSISTER", "EVENT_LOGGER", "FOREMAN", "LATE_RUNS",
        "SCHEDULER", "PAUSE_EXPIRATIONS", "CLEANUP_RECONCILER", "TASK_RUN_RECORDER", "TRIGGERS")
_SERVER_SETTINGS = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                    "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
                    "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
                    **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in _OFF},
                    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "1"}


class _PrefectServer:
    """The test run's one `prefect server start`, shared by every xdist worker.

    The first test that needs it starts it, in whichever process runs that test (so a run of
    tests that need none, `-m "not slow"`, starts none); a file lock in `folder` makes that one
    start, and the others wait for `/api/health` like it. It runs in a session of its own, so
    it outlives the worker that started it; the process that owns the run (`owner`: the xdist
    controller, or pytest without xdist) stops its whole process group once, at the end.
    """

    def __init__(self, folder: Path, owner: bool) -> None:
        self.folder, self.owner = folder, owner
        self.process: subprocess.Popen | None = None  # when this process started it
        self._url: str | None = None

    @property
    def _info(self) -> Path:
        return self.folder / "server.json"

    def url(self) -> str:
        if self._url is None:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            with open(self.folder / "lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # only while it is spawned, not while it starts
                if not self._info.exists():
                    self._spawn()
                server = json.loads(self._info.read_text())
            self._wait_for_health(server["pid"], server["url"])
            self._url = server["url"]
        return self._url

    def _spawn(self) -> None:
        port = _free_port()
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        env = dict(os.environ, PREFECT_HOME=str(home), **_SERVER_SETTINGS)
        env.pop("PREFECT_API_URL", None)
        with open(self.folder / "server.log", "ab") as log:
            # its own process group: a signal to the server alone could leave a child running
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--port", str(port),
                 *_SERVER_ARGS], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self._info.write_text(json.dumps({"pid": self.process.pid,
                                          "url": f"http://127.0.0.1:{port}/api"}))

    def _wait_for_health(self, pid: int, url: str) -> None:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            alive = self.process.poll() is None if self.process else _group_alive(pid)
            if time.monotonic() > deadline or not alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # so no other worker waits for it either
                log = self.folder / "server.log"
                said = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"the test Prefect server did not start:\n{said}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server's whole process group, wait until none of it runs, and remove its
        folder (its database)."""
        try:
            pid = json.loads(self._info.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pid = None  # no test started it
        for sig, patience in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if pid is None or not _group_alive(pid):
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + patience
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        if self.process is not None:  # reap it, when this process is its parent
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    """Whether a process of this group still runs; a zombie, waiting for its parent to reap
    it, runs no more (a server that outlived its starter is reaped by init)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self/stat").exists():
        return True  # no /proc: a zombie counts
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


_PREFECT = pytest.StashKey[_PrefectServer]()


# --------------------------------------------------------------------------- workbooks


def answers_for(config: Config, code: str, seed: int = 7, completed=True) -> dict[str, object]:
    """A clean, complete set of answers for one unit, as a commune would type them.

    synthetic.py writes every key of the full Hương Trà form; only the keys of `config`'s form
    are kept (the short test form is a subset of it, so its answers are still complete).
    """
    unit = config.units.by_code()[code]
    done = config.plan.self_inspection.start if completed else None
    typed = synthetic_answers(config.form, unit, random.Random(f"{seed}-{code}"),
                              reporting_end=config.plan.reporting_period.end, completed=done)
    keys = build_layout(config).by_key
    return {key: value for key, value in typed.items() if key in keys}


@pytest.fixture
def make_workbook(config, tmp_path):
    """Write a workbook for a unit with the given answers (key → value) and return its path."""

    def make(code: str, answers: dict | None = None, name: str | None = None,
             folder: Path | None = None) -> Path:
        unit = config.units.by_code()[code]
        path = (folder or tmp_path) / (name or f"{code}.xlsx")
        values = answers_for(config, code) if answers is None else answers
        key = (str(config.directory), code, repr(sorted(values.items(), key=repr)))
        if key not in _WRITTEN:  # the same workbook, written once per test run
            scratch = path.with_name(f".{path.name}.first")
            write_template(build_layout(config, unit), scratch, values)
            _WRITTEN[key] = scratch.read_bytes()
            scratch.unlink()
        path.write_bytes(_WRITTEN[key])
        return path

    return make


_WRITTEN: dict[tuple, bytes] = {}


@pytest.fixture
def nights(config, layout, tmp_path, make_workbook):
    """Run one simulated night over the given answers per unit: extraction, consolidate, the
    history, then the review (as the flow's record_history does); returns the result."""
    folder, state = tmp_path / "nguon", tmp_path / "state"
    folder.mkdir()

    def run(run_id: str, moment: datetime, answers: dict[str, dict], typed_after=None):
        """`typed_after(code, path)` edits a unit's workbook after it is written."""
        for old in folder.iterdir():
            old.unlink()
        for code, typed in answers.items():
            path = make_workbook(code, typed, folder=folder)
            if typed_after is not None:
                typed_after(code, path)
        source = FolderSource(folder, config, isolate=False)
        extractions = [extract_workbook(source.read(ref), layout, config.units.by_code())
                       for ref in source.refs()]
        result = consolidate(extractions, config, layout, moment.date(), config.rules)
        with History(folder=state) as history:
            history.record(run_id, moment, result.values, result.status)
        return review_night(result, config, state, run_id, moment)

    run.state = state
    return run


# --------------------------------------------------------------------------- loopback services


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a free port on 127.0.0.1 (nothing listens on it yet)."""
    return _free_port


@dataclass
class Mail:
    """One message as it arrived: the envelope recipients, the raw bytes and the parsed mail."""

    rcpt: list[str]
    raw: bytes
    message: EmailMessage


class Inbox:
    """An aiosmtpd handler keeping what arrives on a real SMTP server on loopback.

    `failing`: recipients whose mail the server refuses (554). `password`: when set, AUTH LOGIN /
    PLAIN succeeds with this password only (535 otherwise); when None any login is accepted.
    Mail sent without logging in is always accepted.
    """

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.failing: set[str] = set()
        self.password: str | None = None
        self.port = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        if self.failing & set(envelope.rcpt_tos):
            return "554 5.7.1 Thư bị từ chối"
        raw = envelope.original_content
        self.messages.append(Mail(list(envelope.rcpt_tos), raw,
                                  message_from_bytes(raw, policy=default_policy)))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (
            self.password is None or auth_data.password == self.password.encode())
        return AuthResult(success=ok, handled=False)  # the server answers 235 or 535


@pytest.fixture
def smtp_inbox():
    """A real SMTP server on 127.0.0.1 (no TLS); yields its `Inbox` (`.port`, `.messages`)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(),
                            authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def fake_clock():
    """Real time plus skipped sleeps (`flows.testing.clocks.FakeClock`)."""
    from flows.testing.clocks import FakeClock

    return FakeClock()


@pytest.fixture
def cli():
    """Run `giamsat …` in-process: `cli(*args, code=0)` returns the result, asserting the exit
    code when `code` is given (its output is shown when it differs)."""
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()

    def run(*args, code: int | None = None):
        result = runner.invoke(app, [str(a) for a in args])
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    return run


# the test run's throwaway PostgreSQL server: the `postgres` fixture (tests/postgres.py)
pytest_plugins = [*pytest_plugins, "postgres"]
