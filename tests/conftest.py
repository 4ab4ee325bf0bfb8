"""Shared fixtures: the test config (tests/config), the shipped deployment for its own few tests,
workbooks written like communes do, and the loopback services (ports, SMTP, clocks, the CLI).

Unit tests use `config` / `layout`: a short form and six units of a made-up town, owned by
the tests, so editing the deployment in config/ (adding a unit, a rule, an indicator) fails
no unit test. Only the tests of the shipped deployment itself use `shipped_config` /
`shipped_layout`; they are named for it (`…shipped…`) and marked `shipped`.
"""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

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


def pytest_collection_modifyitems(config, items):
    """A real Prefect run costs seconds: every `prefect` test is also `slow`, so the inner loop
    `pytest -m "not slow"` runs only the fast ones (CI runs everything)."""
    for item in items:
        if item.get_closest_marker("prefect") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


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
def prefect_server(tmp_path_factory):
    """One real `prefect server start` on loopback for the whole test run: the in-process flow
    runs, the CLI subprocesses and the served deployments all use it, so no test pays for a
    temporary server's start. Yields the environment that points at it."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("PREFECT_API_URL", None)
    # its own process group: `prefect server start` runs uvicorn as a child, which a signal
    # to the parent alone would leave running after the tests
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                os.killpg(server.pid, signal.SIGKILL)
                raise RuntimeError("the test Prefect server did not start") from None
            time.sleep(0.3)
    try:
        yield dict(env, PREFECT_API_URL=url)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


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
