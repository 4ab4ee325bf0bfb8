"""A throwaway PostgreSQL server for the test run (a pytest plugin: conftest.py adds it).

One cluster for the whole run, shared by every xdist worker like the Prefect server of
conftest.py: the first test that asks for `postgres` starts it (`initdb` into a temporary
folder, `pg_ctl start` on a free port of 127.0.0.1, its unix socket in that folder, trust
authentication on loopback only), under a file lock so only one process does; the process
that owns the run (the xdist controller, or pytest without xdist) stops it in
`pytest_unconfigure` and removes the folder. A watchdog stops it too should that process die
without cleaning up (killed, out of memory): no server outlives the run.

As root (CI on a fresh machine), the server's programs run as the `postgres` OS user: initdb
refuses root. The binaries are Debian's, /usr/lib/postgresql/*/bin (package `postgresql`), or
wherever `initdb` is on PATH; without them, the tests that ask for `postgres` are skipped.

The cluster is set up the way an office's server in Vietnam would be, not the easy way: text
is sorted the Vietnamese way (ICU vi-VN, PostgreSQL ≥ 15) and the server's time zone is
Asia/Ho_Chi_Minh. Durability is off (fsync, synchronous_commit): the data dies with the run.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from prefect_watchdog import _runs, escalate  # the tests folder is on the path

SUPERUSER = "postgres"
_KEY = "giamsat_postgres"  # its folder and owner in an xdist worker's input
_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",  # every worker's pools, and a Prefect server's
    "shared_buffers": "32MB",
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
    "timezone": "'Asia/Ho_Chi_Minh'",
    "log_min_messages": "warning", "log_connections": "off",
}
# trust, but only over the socket in the cluster's own folder and over 127.0.0.1
_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


def binaries() -> tuple[Path | None, str]:
    """The folder of the PostgreSQL server programs (the newest version installed), or None and
    why the tests needing them are skipped."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
                        reverse=True)
    on_path = shutil.which("initdb")
    candidates += [Path(on_path).parent] if on_path else []
    for folder in candidates:
        if all((folder / name).is_file() for name in _PROGRAMS):
            break
    else:
        return None, ("PostgreSQL is not installed (no initdb, pg_ctl, postgres, psql under "
                      "/usr/lib/postgresql/*/bin or on PATH): apt-get install postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return None, (f"running as root, and initdb refuses root: no `{SUPERUSER}` OS "
                          "user to run the PostgreSQL server as")
    return folder, ""


def _as_server_user() -> dict:
    """subprocess arguments that run a program as the `postgres` OS user when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(SUPERUSER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _environment() -> dict[str, str]:
    # no PGHOST, PGDATA… of the developer's own; English messages in the server's log
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return dict(env, LC_ALL="C.UTF-8", LANG="C.UTF-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """The run's one PostgreSQL cluster, kept in `folder` (see the module docstring)."""

    def __init__(self, folder: Path, owner: bool, owner_pid: int) -> None:
        self.folder, self.owner, self.owner_pid = folder, owner, owner_pid
        self._server: dict | None = None

    @property
    def _info(self) -> Path:
        return self.folder / "server.json"

    def server(self, bindir: Path) -> dict:
        """port, pid, started_in (s) of the running cluster, started by the first caller."""
        if self._server is None:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            with open(self.folder / "lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # held while it starts: a second or less
                if not self._info.exists():
                    self._start(bindir)
                self._server = json.loads(self._info.read_text())
        if "error" in self._server:  # one failed start is reported by every worker, once each
            raise RuntimeError(f"the test PostgreSQL did not start:\n{self._server['error']}")
        return self._server

    def _run(self, *command: str | Path) -> None:
        done = subprocess.run([str(c) for c in command], cwd=self.folder, env=_environment(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, start_new_session=True, **_as_server_user())
        if done.returncode:
            log = self.folder / "server.log"
            said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, command))}: {done.stdout}{done.stderr}"
                               f"{said}")

    def _start(self, bindir: Path) -> None:
        began = time.monotonic()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        data = self.folder / "data"
        try:
            version = subprocess.run([str(bindir / "initdb"), "--version"], capture_output=True,
                                     text=True, check=True).stdout
            vietnamese = ["--locale-provider=icu", "--icu-locale=vi-VN"] \
                if int(re.findall(r"\d+", version)[0]) >= 15 else []
            self._run(bindir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", *vietnamese, "--no-sync")
            (data / "pg_hba.conf").write_text(_HBA)
            with open(data / "postgresql.conf", "a") as conf:
                conf.writelines(f"{k} = {v}\n" for k, v in {
                    **_SETTINGS, "unix_socket_directories": f"'{self.folder}'"}.items())
            for attempt in range(3):  # a free port can be taken before the server binds it
                port = _free_port()
                with open(data / "postgresql.conf", "a") as conf:
                    conf.write(f"port = {port}\n")  # the last setting of a name counts
                try:
                    # its own session (start_new_session in _run): Ctrl-C in the terminal
                    # reaches pytest, which stops it, not the server behind its back
                    self._run(bindir / "pg_ctl", "-D", data, "-l", self.folder / "server.log",
                              "-w", "-t", "60", "start")
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            pid = int((data / "postmaster.pid").read_text().split()[0])
        except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            self._info.write_text(json.dumps({"error": str(exc)}))
            raise
        subprocess.Popen([sys.executable, __file__, "--watch", str(self.owner_pid), str(pid),
                          str(self.folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        self._info.write_text(json.dumps({"port": port, "pid": pid,
                                          "started_in": round(time.monotonic() - began, 2)}))

    def stop(self) -> None:
        """Stop the cluster at once (nothing of it is kept), wait for it, remove its folder."""
        try:
            pid = json.loads(self._info.read_text()).get("pid")
        except (OSError, ValueError):
            pid = None  # no test started it
        if pid is not None:
            _shut_down(pid)
        shutil.rmtree(self.folder, ignore_errors=True)


def _shut_down(pid: int) -> None:
    """SIGQUIT is PostgreSQL's immediate shutdown (its backends quit too); SIGKILL if it
    lingers."""
    escalate(lambda: _runs(pid), lambda sig: os.kill(pid, sig),
             ((signal.SIGQUIT, 30), (signal.SIGKILL, 10)))


def _watch(owner: int, postmaster: int, folder: str) -> None:
    """The watchdog: once the run's owner is gone, the cluster goes too."""
    while _runs(owner) and _runs(postmaster):
        time.sleep(1)
    _shut_down(postmaster)
    shutil.rmtree(folder, ignore_errors=True)


class Postgres:
    """The `postgres` fixture: a fresh database per call on the run's cluster."""

    def __init__(self, bindir: Path, port: int, started_in: float = 0.0, **_: object) -> None:
        self.bindir, self.port, self.started_in = bindir, port, started_in

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run SQL as the superuser with psql; its unaligned output."""
        done = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database,
             "-c", statement], env=_environment(), capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"psql: {statement}: {done.stderr.strip()}")
        return done.stdout.strip()

    def database(self, name: str = "giamsat", extensions: tuple[str, ...] = ()) -> str:
        """Create a new, empty database (its name: `name` and a unique suffix) and return its
        SQLAlchemy URL for psycopg; `extensions` (e.g. ("pg_trgm",), which Prefect's
        migrations also create themselves) are created in it."""
        slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:40] or "db"
        database = f"{slug}_{uuid.uuid4().hex[:10]}"
        self.sql(f'CREATE DATABASE "{database}"')
        for extension in extensions:
            self.sql(f'CREATE EXTENSION IF NOT EXISTS "{extension}"', database)
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @staticmethod
    def asyncpg_url(url: str) -> str:
        """The same database for asyncpg: what PREFECT_API_DATABASE_CONNECTION_URL takes."""
        return url.replace("postgresql+psycopg://", "postgresql+asyncpg://", 1)

    @staticmethod
    def name_of(url: str) -> str:
        """The database's name in one of these URLs."""
        return url.rsplit("/", 1)[1]


# --------------------------------------------------------------------------- plugin hooks

_CLUSTER = pytest.StashKey[Cluster]()


def pytest_configure(config):
    shared = getattr(config, "workerinput", {}).get(_KEY)
    if shared:
        folder, owner_pid = shared
        config.stash[_CLUSTER] = Cluster(Path(folder), owner=False, owner_pid=owner_pid)
        return
    folder = Path(tempfile.gettempdir()) / f"giamsat-pg-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    config.stash[_CLUSTER] = Cluster(folder, owner=True, owner_pid=os.getpid())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, in the controller: tell each worker where the run's cluster is kept."""
    cluster = node.config.stash[_CLUSTER]
    node.workerinput[_KEY] = [str(cluster.folder), cluster.owner_pid]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """After the last worker is done: stop the run's cluster, if a test started it. Last of
    the unconfigure hooks: the Prefect server of conftest.py may run on it, and is stopped
    first, while its database still answers."""
    cluster = config.stash.get(_CLUSTER, None)
    if cluster is not None and cluster.owner:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres(request) -> Postgres:
    """The run's real PostgreSQL server on 127.0.0.1 (skipped when it is not installed):
    `postgres.database(name)` makes a fresh database and returns its psycopg URL,
    `postgres.asyncpg_url(url)` the same for asyncpg (Prefect)."""
    bindir, missing = binaries()
    if bindir is None:
        pytest.skip(missing)
    return running(request.config, bindir)


def running(config: pytest.Config, bindir: Path) -> Postgres:
    """The run's cluster, started by whichever process asks first: the `postgres` fixture, or
    the Prefect server of conftest.py (which runs on it when `binaries()` finds PostgreSQL)."""
    return Postgres(bindir, **config.stash[_CLUSTER].server(bindir))


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _watch(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
