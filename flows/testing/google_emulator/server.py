"""A loopback emulator of the Google Sheets v4 and Drive v3 APIs (standard library only).

It answers the subset of both APIs that gspread and this project use, with bodies shaped like
Google's (checked against recorded real traffic in the tests), plus what a test needs to
rehearse trouble: a permission model, per-minute Sheets quotas answered with HTTP 429, latency,
injected 500/503 errors and dropped connections (always *before* any state change, so a retried
write is never applied twice), and request counts by kind.

Request kinds counted in :attr:`GoogleEmulator.counts`: ``sheets.create``, ``sheets.get``,
``sheets.batchUpdate``, ``sheets.sheets.copyTo``, ``sheets.values.get``,
``sheets.values.batchGet``, ``sheets.values.update``, ``sheets.values.batchUpdate``,
``sheets.values.clear``, ``sheets.values.batchClear``, ``sheets.values.append``,
``drive.files.create``, ``drive.files.get``, ``drive.files.list``, ``drive.files.update``,
``drive.files.delete``, ``drive.files.copy``, ``drive.permissions.list|create|get|update|delete``,
``drive.comments.list|create`` and ``unknown``; plus ``"429"`` for quota refusals and
``fault``, ``fault.500``, ``fault.503``, ``fault.drop`` for injected faults.

Not supported: uploads and exports (``/upload/...``, ``files.export``, ``alt=media``), the
changes feed, shared-drive objects (``drives.*``), named ranges, charts, filter views, pivot
tables, data-validation enforcement, formula reference adjustment when rows/columns move,
most spreadsheet functions (see :mod:`flows.testing.google_emulator.formula`), Drive quotas.
"""

from __future__ import annotations

import collections
import json
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flows.testing.google_emulator.a1 import Box
from flows.testing.google_emulator.common import (
    JSON,
    ApiError,
    Call,
    Settings,
)
from flows.testing.google_emulator.drive import DriveApi
from flows.testing.google_emulator.grid import SheetReader
from flows.testing.google_emulator.http import (
    HANDLER_NAMES,
    Route,
    SlidingWindowQuota,
    fault_error,
    match_route,
    parse_body,
    quota_error,
)
from flows.testing.google_emulator.sheets import SheetsApi
from flows.testing.google_emulator.state import (
    DEFAULT_OWNER,
    FOLDER_MIME,
    SPREADSHEET_MIME,
    DriveFile,
    Store,
    new_sheet,
    new_spreadsheet,
    permission_id,
    user_permission,
)

__all__ = ["GoogleEmulator", "run_standalone"]

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: GoogleEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GoogleApiEmulator/1.0"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # http.server's naming
        self.server.emulator.handle_http(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return


class GoogleEmulator:
    """Serve the emulated Sheets v4 + Drive v3 APIs on 127.0.0.1.

    ``tokens`` maps bearer tokens to identities; unknown or missing tokens act as
    ``default_identity`` (``owner@example.com``), who owns what tests create.
    """

    def __init__(
        self,
        port: int = 0,
        state_dir: Path | str | None = None,
        read_quota_per_minute: int | None = None,
        write_quota_per_minute: int | None = None,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        service_account_no_storage: bool = False,
        host: str = "127.0.0.1",
        default_identity: str = DEFAULT_OWNER,
        project_read_quota_per_minute: int | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.tokens: dict[str, str] = {}
        self.default_identity = default_identity
        self.counts: collections.Counter[str] = collections.Counter()
        self.settings = Settings(service_account_no_storage)
        self.store = Store(Path(state_dir) if state_dir is not None else None, wall_clock)
        self.sheets = SheetsApi(self.store, self.settings)
        self.drive = DriveApi(self.store, self.settings)
        self.read_quota = SlidingWindowQuota(read_quota_per_minute, clock)
        self.write_quota = SlidingWindowQuota(write_quota_per_minute, clock)
        # Google's per-project Sheets read quota (300 a minute), whoever reads
        self.project_read_quota = SlidingWindowQuota(project_read_quota_per_minute, clock)
        self.clock = clock
        # (clock time, identity, "read"/"write") of every request a quota counted and let
        # through: what tests measure each account's rate with
        self.quota_log: list[tuple[float, str, str]] = []
        self._seed = seed
        self._attempts: collections.Counter[str] = collections.Counter()  # per request target
        self._lock = threading.Lock()  # counts and fault RNG
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    @property
    def service_account_no_storage(self) -> bool:
        return self.settings.service_account_no_storage

    @service_account_no_storage.setter
    def service_account_no_storage(self, value: bool) -> None:
        self.settings.service_account_no_storage = value

    @property
    def quota_window_seconds(self) -> float:
        """The length of every quota's window: Google's minute, shortened by tests that run
        several processes against a tight quota in real time."""
        return self.read_quota.window

    @quota_window_seconds.setter
    def quota_window_seconds(self, value: float) -> None:
        for quota in (self.read_quota, self.write_quota, self.project_read_quota):
            quota.window = value

    @property
    def read_quota_per_minute(self) -> int | None:
        return self.read_quota.limit

    @read_quota_per_minute.setter
    def read_quota_per_minute(self, value: int | None) -> None:
        self.read_quota.limit = value

    @property
    def write_quota_per_minute(self) -> int | None:
        return self.write_quota.limit

    @write_quota_per_minute.setter
    def write_quota_per_minute(self, value: int | None) -> None:
        self.write_quota.limit = value

    def start(self) -> GoogleEmulator:
        """Load saved state (if any) and serve in a background thread."""
        if self._server is not None:
            return self
        self.store.load()
        server = _Server((self.host, self.requested_port), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="google-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and save the state."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.flush()

    def __enter__(self) -> GoogleEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (replaces both Google hosts)."""
        return f"http://{self.host}:{self.port}"

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    @property
    def faults_injected(self) -> int:
        return self.counts["fault"]

    def _count(self, *kinds: str) -> None:
        with self._lock:
            for kind in kinds:
                self.counts[kind] += 1

    # --- request handling ---

    def identity_of(self, authorization: str | None) -> str:
        """The identity behind an ``Authorization: Bearer`` header."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        return self.tokens.get(token, self.default_identity)

    def handle_http(self, handler: BaseHTTPRequestHandler) -> None:
        """Serve one request: count, delay, maybe fail, check quota, then run the handler."""
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        found = match_route(handler.command, split.path)
        if found is None:
            self._count("unknown")
            self._send(handler, 404, {"error": {"code": 404, "message": "Method not found.",
                                                "status": "NOT_FOUND"}})
            return
        route, args = found
        api = "sheets" if route.kind.startswith("sheets") else "drive"
        self._count(route.kind)
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        fault = self._draw_fault(self._target(route.kind, args))
        if fault == "drop":
            self._count("fault", "fault.drop")
            self._drop(handler)
            return
        if fault is not None:
            self._count("fault", f"fault.{fault}")
            error = fault_error(fault, api)
            self._send(handler, error.status, error.body)
            return
        identity = self.identity_of(handler.headers.get("Authorization"))
        try:
            self._check_quota(route, identity)
            call = Call(identity, parse_qs(split.query, keep_blank_values=True),
                        parse_body(raw_body, api))
            status, body = self._run(route, args, call)
        except ApiError as error:
            status, body = error.status, error.body
        except Exception as exc:  # a bug in the emulator: answer like Google's 500
            self._count("internal_error")
            status, body = 500, {"error": {"code": 500, "message": f"Emulator bug: {exc!r}",
                                           "status": "INTERNAL"}}
        self._send(handler, status, body)

    def _target(self, kind: str, args: list[str]) -> str:
        """A request's target in words that stay the same from one test session to the next:
        file ids (random) are replaced by the files' names."""
        with self.store.lock:
            named = [f.name if (f := self.store.get(a)) is not None else a for a in args]
        return " ".join([kind, *named])

    def _draw_fault(self, target: str) -> int | str | None:
        """Whether this request fails, and how: drawn from the seed, the request's method and
        path, and how many times that request came before, so that the same run meets the same
        faults whatever order its threads send their requests in."""
        if self.fault_rate <= 0:
            return None
        with self._lock:
            self._attempts[target] += 1
            draw = random.Random(f"{self._seed}|{target}|{self._attempts[target]}")
        if draw.random() >= self.fault_rate:
            return None
        return draw.choice((500, 503, "drop", "drop"))

    def _check_quota(self, route: Route, identity: str) -> None:
        if route.quota is None:
            return
        quota = self.read_quota if route.quota == "read" else self.write_quota
        if not quota.acquire(identity):
            self._count("429")
            raise quota_error("Read" if route.quota == "read" else "Write", quota.limit or 0)
        if route.quota == "read" and not self.project_read_quota.acquire("project"):
            self._count("429", "429.project")
            raise quota_error("Read", self.project_read_quota.limit or 0)
        with self._lock:
            self.quota_log.append((self.clock(), identity, route.quota))

    def busiest_minute(self, identity: str, quota: str = "read") -> int:
        """The most requests `identity` made of one quota in any window of the quotas'
        length (60 s unless `quota_window_seconds` shortened it)."""
        with self._lock:
            times = sorted(t for t, who, kind in self.quota_log
                           if who == identity and kind == quota)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while times[start] <= moment - self.read_quota.window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _run(self, route: Route, args: list[str], call: Call) -> tuple[int, JSON | None]:
        api = self.sheets if route.kind.startswith("sheets") else self.drive
        method = getattr(api, HANDLER_NAMES[route.kind])
        with self.store.lock:
            result: tuple[int, JSON | None] = method(call, *args)
            if route.mutates:
                if args and self.store.get(args[0]) is not None:
                    self.store.mark(args[0])  # permissions, trash flags, comments
                self.store.save()
        return result

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: JSON | None) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(status)
            if body is not None:
                handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True

    # --- direct state helpers (for tests) ---

    def create_spreadsheet(
        self,
        title: str,
        sheets: list[str | dict[str, Any]] | None = None,
        parents: list[str] | None = None,
        *,
        locale: str = "en_US",
        owner: str | None = None,
    ) -> str:
        """Create a spreadsheet; ``sheets`` are titles or ``{"title", "rowCount", ...}``."""
        spreadsheet = new_spreadsheet(locale=locale)
        if sheets:
            spreadsheet.sheets = []
            for index, spec in enumerate(sheets):
                spec = {"title": spec} if isinstance(spec, str) else dict(spec)
                spreadsheet.sheets.append(new_sheet(
                    int(spec.get("sheetId", 0 if index == 0 else 1000 + index)), spec["title"],
                    index, int(spec.get("rowCount", 1000)), int(spec.get("columnCount", 26))))
        return self._add_file(title, SPREADSHEET_MIME, parents, owner, spreadsheet)

    def create_folder(self, name: str, parents: list[str] | None = None, *,
                      owner: str | None = None) -> str:
        """Create a folder (a stand-in for a shared-drive folder too)."""
        return self._add_file(name, FOLDER_MIME, parents, owner, None)

    def _add_file(self, name: str, mime: str, parents: list[str] | None, owner: str | None,
                  spreadsheet: Any) -> str:
        with self.store.lock:
            now = self.store.now()
            file = DriveFile(self.store.new_id(), name, mime, now, now, parents=list(parents or []),
                             permissions=[user_permission(owner or self.default_identity,
                                                          "owner")],
                             spreadsheet=spreadsheet)
            self.store.add(file)
            self.store.save()
            return file.id

    def _file(self, file_id: str) -> DriveFile:
        file = self.store.get(file_id)
        if file is None:
            raise KeyError(file_id)
        return file

    def delete_file(self, file_id: str) -> None:
        """Delete a file for good (folders with their content)."""
        with self.store.lock:
            self.store.remove_tree(file_id)
            self.store.save()

    def trash_file(self, file_id: str, trashed: bool = True) -> None:
        with self.store.lock:
            self._file(file_id).trashed = trashed
            self.store.mark(file_id)
            self.store.save()

    def set_values(self, file_id: str, range_text: str, rows: list[list[Any]],
                   value_input_option: str = "RAW", *, by: str | None = None) -> None:
        """Write values as ``values.update`` would (bumps modifiedTime), as the person with
        the e-mail ``by`` (Drive's ``lastModifyingUser``; protections apply), else the owner."""
        with self.store.lock:
            file = self._file(file_id)
            call = Call(by or self._owner_of(file), {}, None)
            sheet, rect = self.sheets.resolve(file.content, range_text)
            write = self.sheets.plan(file, call, sheet, rect, rows, "ROWS", value_input_option,
                                     "data.values")
            write.apply()
            self.store.touch(file, call.identity)
            self.store.save()

    def get_grid(self, file_id: str, sheet_title: str,
                 render: str = "UNFORMATTED_VALUE") -> list[list[Any]]:
        """A whole sheet as ragged rows (like ``values.get``; ``render`` is valueRenderOption)."""
        with self.store.lock:
            file = self._file(file_id)
            spreadsheet = file.spreadsheet
            assert spreadsheet is not None
            sheet = spreadsheet.sheet_by_title(sheet_title)
            if sheet is None:
                raise KeyError(sheet_title)
            box = Box(0, 0, sheet.row_count - 1, sheet.col_count - 1)
            return SheetReader(spreadsheet).read(sheet, box, render, "SERIAL_NUMBER", "ROWS")

    def cell(self, file_id: str, sheet_title: str, row: int, col: int) -> dict[str, Any]:
        """The stored ``CellData`` at 0-based (row, col): value, format, note, validation."""
        with self.store.lock:
            spreadsheet = self._file(file_id).spreadsheet
            sheet = spreadsheet.sheet_by_title(sheet_title) if spreadsheet else None
            if sheet is None:
                raise KeyError(sheet_title)
            return json.loads(json.dumps(sheet.cells.get((row, col)) or {}))

    def metadata(self, file_id: str, include_grid_data: bool = False) -> dict[str, Any]:
        """The ``spreadsheets.get`` resource as the owner sees it."""
        with self.store.lock:
            file = self._file(file_id)
            return self.sheets.resource(file, self._owner_of(file), include_grid_data, [])

    def file(self, file_id: str) -> dict[str, Any]:
        """The full Drive resource (modifiedTime, parents, permissions, trashed...)."""
        with self.store.lock:
            file = self._file(file_id)
            return self.drive.resource(file, self._owner_of(file))

    def grant(self, file_id: str, email: str, role: str = "writer") -> None:
        """Give a user a role on a file."""
        with self.store.lock:
            file = self._file(file_id)
            pid = permission_id("user", email)
            file.permissions = [p for p in file.permissions if p["id"] != pid]
            file.permissions.append(user_permission(email, role))
            self.store.mark(file_id)
            self.store.save()

    def revoke(self, file_id: str, email: str) -> None:
        """Remove every permission of a user on a file (even the owner's)."""
        with self.store.lock:
            file = self._file(file_id)
            file.permissions = [p for p in file.permissions
                                if str(p.get("emailAddress", "")).lower() != email.lower()]
            self.store.mark(file_id)
            self.store.save()

    def _owner_of(self, file: DriveFile) -> str:
        return file.owner or self.default_identity


def run_standalone(
    port: int,
    state_dir: Path | None,
    *,
    read_quota_per_minute: int | None = None,
    write_quota_per_minute: int | None = None,
    latency_s: float = 0.0,
    fault_rate: float = 0.0,
    seed: int = 0,
    service_account_no_storage: bool = False,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop_event``), printing one line with the URL."""
    stop = stop_event or threading.Event()
    emulator = GoogleEmulator(
        port, state_dir, read_quota_per_minute, write_quota_per_minute, latency_s, fault_rate,
        seed, service_account_no_storage=service_account_no_storage,
    )
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    emulator.start()
    try:
        where = f" (state in {state_dir})" if state_dir else ""
        sys.stdout.write(f"Google API emulator listening on {emulator.url}{where}\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
