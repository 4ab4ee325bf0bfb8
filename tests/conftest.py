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
from collections.abc import Callable
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
from prefect_watchdog import _group_runs, stop_group  # noqa: E402  (the watchdog's own test)

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
    folder, owner_pid = (Path(shared[0]), shared[1]) if shared else (
        Path(tempfile.gettempdir()) / f"giamsat-prefect-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        os.getpid())
    _planned_database()  # a misspelt switch stops the run here, not in the first Prefect test
    # The cluster is looked up only when the server is spawned: the `postgres` plugin's own
    # pytest_configure puts it in the stash, and whichever process spawns the server starts it.
    config.stash[_PREFECT] = _PrefectServer(folder, owner=not shared, owner_pid=owner_pid,
                                            postgresql=lambda: _prefect_postgresql(config))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, in the controller: tell each worker where the run's Prefect server is kept, and
    which process its watchdog watches."""
    server = node.config.stash[_PREFECT]
    node.workerinput[_PREFECT_FOLDER] = [str(server.folder), server.owner_pid]


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    """After the last worker is done: stop the run's Prefect server, if a test started it.
    First of the unconfigure hooks: it may run on the `postgres` plugin's cluster, which is
    stopped after it (pluggy alone would call the plugin, registered later, first)."""
    server = config.stash.get(_PREFECT, None)
    if server is not None and server.owner:
        server.stop()


def pytest_report_header(config):
    """Which database the run's Prefect server is to use (shown without `-q`)."""
    bindir, why = _planned_database()
    return f"prefect test server database: {'SQLite' if bindir is None else 'PostgreSQL'} ({why})"


def pytest_terminal_summary(terminalreporter, config):
    """Which database the run's Prefect server did use, and how long it took to answer, when
    a test started it (in the process that owns it: the xdist controller)."""
    server = config.stash.get(_PREFECT, None)
    said = server.started() if server is not None and server.owner else None
    if said:
        terminalreporter.write_line(f"prefect test server: {said}")


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
    Prefect home of this worker's own (the server keeps its database in another).

    `GIAMSAT_TEST_PREFECT_DATABASE` says which database the server runs on (`postgresql` or
    `sqlite`), `GIAMSAT_TEST_PREFECT_DATABASE_URL` its connection URL; the server alone
    connects to it."""
    server = request.config.stash[_PREFECT]
    url = server.url()
    kind, database_url = server.database()
    home = tmp_path_factory.mktemp("prefect-home")
    # a served deployment looks for a run to start every 2 s, not every 10 s: a test's
    # manual run starts at once
    return dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PREFECT_LOGGING_LEVEL="WARNING", PREFECT_API_URL=url,
                PREFECT_RUNNER_POLL_FREQUENCY="2", GIAMSAT_TEST_PREFECT_DATABASE=kind,
                GIAMSAT_TEST_PREFECT_DATABASE_URL=database_url)


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

_PREFECT_FOLDER = "giamsat_prefect_server"  # its folder and owner in an xdist worker's input
# Only the API, the event stream to websocket clients, the API's own background tasks and the
# repossessor run; every other background service is off: none is needed by a test, and
# together they kept the idle server busy. The repossessor gives back the run slot of a run
# whose worker was killed once its lease runs out (checked every second here, not every 15 s).
# No scheduler: a test reads the nightly schedule back, never a run it made (and a nightly run
# coming due would be started by `giamsat serve` mid-test). No event persister, task-run
# recorder or triggers: no test reads events, task runs or automations. No late runs, foreman,
# pause expirations or cancellation cleanup: nothing goes late, pauses or cancels. No block
# types registered at its start (~3 s of CPU): giamsat uses no Prefect block. Its database
# waits longer on a loaded machine than the default 10 s (SQLite: for its lock; PostgreSQL:
# asyncpg's command timeout).
_SERVER_ARGS = ["--host", "127.0.0.1", "--no-ui"]
_OFF = ("CANCELLATION_CLEANUP", "EVENT_PERSISTER", "EVENT_LOGGER", "FOREMAN", "LATE_RUNS",
        "SCHEDULER", "PAUSE_EXPIRATIONS", "CLEANUP_RECONCILER", "TASK_RUN_RECORDER", "TRIGGERS")
_SERVER_SETTINGS = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                    "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
                    "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
                    **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in _OFF},
                    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "1"}


# The run's Prefect server runs on PostgreSQL, as an office's server for several machines does
# (README, "When one machine is not enough"): a database of its own with pg_trgm on the run's
# throwaway cluster (tests/postgres.py), so the suite runs Prefect the way it is run for real.
# Without the PostgreSQL programs it runs on SQLite in its folder; GIAMSAT_TEST_PREFECT_DB=sqlite
# chooses SQLite anyway.
_DATABASE_SWITCH = "GIAMSAT_TEST_PREFECT_DB"


def _planned_database() -> tuple[Path | None, str]:
    """The PostgreSQL programs' folder when the run's Prefect server is to run on PostgreSQL
    (None: on SQLite), and why."""
    chosen = os.environ.get(_DATABASE_SWITCH, "postgresql").strip().lower() or "postgresql"
    if chosen not in ("postgresql", "sqlite"):
        raise pytest.UsageError(f"{_DATABASE_SWITCH}={chosen!r}: write postgresql or sqlite")
    if chosen == "sqlite":
        return None, f"{_DATABASE_SWITCH}=sqlite"
    from postgres import binaries  # the plugin named at the end of this file: loaded by now

    bindir, missing = binaries()
    if bindir is None:
        return None, missing
    return bindir, f"the run's cluster, {bindir}; {_DATABASE_SWITCH}=sqlite for SQLite"


def _prefect_postgresql(config: pytest.Config) -> str | None:
    """The asyncpg URL of a new database with pg_trgm on the run's cluster (started here if no
    process has yet), or None when the server is to run on SQLite."""
    bindir, _why = _planned_database()
    if bindir is None:
        return None
    from postgres import running

    try:
        cluster = running(config, bindir)
        return cluster.asyncpg_url(cluster.database("prefect", extensions=("pg_trgm",)))
    except RuntimeError as exc:  # no silent SQLite: the run was to test Prefect on PostgreSQL
        raise RuntimeError(f"{exc}\n(the test Prefect server runs on this cluster; "
                           f"{_DATABASE_SWITCH}=sqlite runs it on SQLite)") from exc


class _PrefectServer:
    """The test run's one `prefect server start`, shared by every xdist worker.

    The first test that needs it starts it, in whichever process runs that test (so a run of
    tests that need none, `-m "not slow"`, starts none); a file lock in `folder` makes that one
    start, and the others wait for `/api/health` like it. It runs in a session of its own, so
    it outlives the worker that started it; the process that owns the run (`owner`: the xdist
    controller, or pytest without xdist) stops its whole process group once, at the end; a
    watchdog (prefect_watchdog.py) stops it should that process die first. `postgresql`
    gives the URL of the PostgreSQL database it is to run on, or None (SQLite); only the
    process that spawns it calls it.
    """

    def __init__(self, folder: Path, owner: bool, owner_pid: int,
                 postgresql: Callable[[], str | None] = lambda: None) -> None:
        self.folder, self.owner, self.owner_pid = folder, owner, owner_pid
        self._postgresql = postgresql
        self.process: subprocess.Popen | None = None  # when this process started it
        self._server: dict | None = None  # its server.json
        self._spawned_at = 0.0  # time.monotonic() when this process spawned it

    @property
    def _info(self) -> Path:
        return self.folder / "server.json"

    def _write_info(self, info: dict) -> None:
        # whole or not at all: other workers read it while the spawner adds its start time
        partial = self._info.with_suffix(".partial")
        partial.write_text(json.dumps(info))
        os.replace(partial, self._info)

    def url(self) -> str:
        if self._server is None:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            with open(self.folder / "lock", "w") as lock:
                # held while its database is made and it is spawned, not while it starts
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not self._info.exists():
                    self._spawn()
                server = json.loads(self._info.read_text())
            self._wait_for_health(server["pid"], server["url"])
            if self.process is not None:  # spawned here: how long it took, for the summary
                server["healthy_in"] = round(time.monotonic() - self._spawned_at, 2)
                self._write_info(server)
            self._server = server
        return self._server["url"]

    def database(self) -> tuple[str, str]:
        """`postgresql` or `sqlite`, and the URL the server connects to (after `url()`)."""
        assert self._server is not None, "url() first"
        return self._server["database"], self._server["database_url"]

    def started(self) -> str | None:
        """One line on the server a test started in this run (None: no test did)."""
        try:
            server = json.loads(self._info.read_text())
        except (OSError, ValueError):
            return None
        kind = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[server["database"]]
        where = server["database_url"].rsplit("/", 1)[1]
        made = f", its database made in {server['database_in']} s" \
            if server["database"] == "postgresql" else ""
        answered = f"healthy {server['healthy_in']} s after its spawn" \
            if "healthy_in" in server else "never healthy"
        return f"{kind} (database {where}{made}), {answered}"

    def _spawn(self) -> None:
        began = time.monotonic()
        postgresql = self._postgresql()
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        # Prefect's default, spelt out: the developer's own PREFECT_*_DATABASE_* settings must
        # not take the test server to their database
        database_url = postgresql or f"sqlite+aiosqlite:///{home / 'prefect.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(
            ("PREFECT_API_DATABASE_", "PREFECT_SERVER_DATABASE_", "PREFECT_API_URL"))}
        env.update(PREFECT_HOME=str(home), **_SERVER_SETTINGS,
                   PREFECT_API_DATABASE_CONNECTION_URL=database_url)
        port = _free_port()
        with open(self.folder / "server.log", "ab") as log:
            log.write(f"giamsat tests: this server's database: {database_url}\n".encode())
            log.flush()
            self._spawned_at = time.monotonic()
            # its own process group: a signal to the server alone could leave a child running
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--port", str(port),
                 *_SERVER_ARGS], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        # a run killed before its pytest_unconfigure (`timeout`, SIGKILL) leaves no server
        # behind, like the cluster's watchdog leaves no cluster
        subprocess.Popen([sys.executable, str(Path(__file__).with_name("prefect_watchdog.py")),
                          str(self.owner_pid), str(self.process.pid), str(self.folder)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        self._write_info({"pid": self.process.pid, "url": f"http://127.0.0.1:{port}/api",
                          "database": "postgresql" if postgresql else "sqlite",
                          "database_url": database_url,
                          "database_in": round(self._spawned_at - began, 2)})

    def _wait_for_health(self, pid: int, url: str) -> None:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            alive = self.process.poll() is None if self.process else _group_runs(pid)
            if time.monotonic() > deadline or not alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # so no other worker waits for it either
                log = self.folder / "server.log"
                said = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"the test Prefect server did not start:\n{said}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server's whole process group, wait until none of it runs, and remove its
        folder (its SQLite database; a PostgreSQL one goes with the run's cluster)."""
        try:
            pid = json.loads(self._info.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pid = None  # no test started it
        if pid is not None:
            stop_group(pid)
        if self.process is not None:  # reap it, when this process is its parent
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


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
