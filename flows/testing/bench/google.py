"""`bench google`: N unit sheets in the emulator; requests and wall time per night, ours
against plain gspread, then 150 sheets at Google's 60 reads/min quota (the limiter's waits
skipped by a fake clock, and said so)."""

from __future__ import annotations

import os
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from flows.config import Config, load_config
from flows.core.layout import build_layout
from flows.demo.synthetic import synthetic_answers
from flows.testing.bench.units import synthetic_registry
from flows.testing.clocks import FakeClock


def _google_settings(folder: Path, folder_id: str, budget: int) -> None:
    (folder / "config" / "google.yaml").write_text(
        f'folder_id: "{folder_id}"\nstate_dir: ../state\nquota: {{reads_per_minute: {budget}, '
        f"writes_per_minute: {budget}}}\n", encoding="utf-8")


def _google_world(n: int, folder: Path) -> tuple[Any, Config, Any, str]:
    """An emulator with the template, the dashboard and `n` filled unit sheets (not timed)."""
    import shutil

    from flows.sources.google.client import ENDPOINT_ENV, load_google_settings, open_api
    from flows.sources.google.provisioner import provision_all
    from flows.sources.google.registry import Registry, SheetEntry
    from flows.testing.google_emulator import GoogleEmulator

    emulator = GoogleEmulator().start()
    os.environ[ENDPOINT_ENV] = emulator.url
    shutil.copytree(load_config().directory, folder / "config")
    folder_id = emulator.create_folder("Giám sát")
    _google_settings(folder, folder_id, 100_000)
    import yaml

    base = load_config(folder / "config")
    units = synthetic_registry(base, n).units.model_dump(mode="json")
    (folder / "config" / "units.yaml").write_text(yaml.safe_dump(units, allow_unicode=True),
                                                  encoding="utf-8")
    config = load_config(folder / "config")  # the whole town is these n units
    settings = load_google_settings(base.directory)
    provision_all(synthetic_registry(base, 1), settings)  # the template and the dashboard
    registry = Registry.load(settings.registry)
    api, layout, rng = open_api(settings), build_layout(base), random.Random(1)
    for unit in config.units.units:  # copies filled directly: setup, not what is measured
        name = f"{unit.code} - {unit.full_name}"
        copy = api.copy_file(registry.template.id, name, settings.folder_id)
        registry.units[unit.code] = SheetEntry(copy["id"], "", name, prepared=True)
        fill(emulator, copy["id"], layout, synthetic_answers(
            config.form, unit, rng, reporting_end=date(2023, 3, 31), completed=date(2023, 3, 20)))
    registry.save()
    return emulator, config, settings, folder_id


def fill(emulator: Any, spreadsheet_id: str, layout: Any, answers: dict) -> None:
    """Type `answers` into a sheet's input cells, straight into the emulator (no requests)."""
    for sheet in layout.sheets:
        cells = {(c.row, c.col): _typed(answers[c.key]) for c in sheet.inputs
                 if c.key in answers}
        if cells:
            grid = [[cells.get((r, c)) for c in range(1, max(k[1] for k in cells) + 1)]
                    for r in range(1, max(k[0] for k in cells) + 1)]
            emulator.set_values(spreadsheet_id, f"'{sheet.title}'!A1", grid, "USER_ENTERED")


def _typed(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _google_night(config: Config, registry: Path, timing: Any = None) -> tuple[Any, list]:
    """One night of the Google source: refs, then reads on 4 threads (as the flow does)."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.sources.google.source import GoogleSource

    source = GoogleSource(config, registry, timing=timing)
    with ThreadPoolExecutor(4) as pool:
        raws = list(pool.map(source.read, source.refs()))
    return source, raws


def _google_checked(raws: list, config: Config) -> Any:
    """The consolidated result the flow would hand to `finish` (not timed)."""
    from flows.core.consolidate import consolidate
    from flows.core.extract import extract_workbook

    layout = build_layout(config)
    units = config.units.by_code()
    return consolidate([extract_workbook(raw, layout, units) for raw in raws], config, layout,
                       date(2023, 4, 5))


def _google_naive(url: str, registry: Path, titles: list[str]) -> None:
    """The usual gspread way, every night: open_by_key, worksheet(title), get_all_values."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    import gspread
    from google.oauth2.credentials import Credentials

    from flows.sources.google.transport import EndpointHTTPClient

    client = gspread.Client(Credentials(token="naive"),
                            http_client=EndpointHTTPClient.factory(url))
    ids = [e["id"] for e in json.loads(registry.read_text(encoding="utf-8"))["units"].values()]

    def read(spreadsheet_id: str) -> None:
        sheet = client.open_by_key(spreadsheet_id)
        for title in titles:
            sheet.worksheet(title).get_all_values()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(read, ids))


def _google_line(label: str, emulator: Any, units: int, seconds: float) -> str:
    counts = {k: v for k, v in emulator.counts.items() if "." in k and not k.startswith("fault")}
    total = sum(counts.values())
    kinds = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(counts.items()))
    return f"{label:<34} {total:>6} {total / units:>6.2f} {seconds:>7.1f} s  {kinds}"


def bench_google(n: int, changed: int, latency: float) -> None:
    """Requests and wall time per night, ours against naive gspread; then the 60/min quota."""
    import shutil
    import tempfile

    from flows.sources.google.client import Timing

    folder = Path(tempfile.mkdtemp(prefix="bench-google-"))
    start = time.perf_counter()
    emulator, config, settings, folder_id = _google_world(n, folder)
    layout = build_layout(config)
    titles = [s.title for s in layout.sheets if s.tab != "HD"]
    print(f"{n} unit sheets provisioned and filled in {time.perf_counter() - start:.0f} s (not "
          f"timed). Emulator latency {latency * 1000:.0f} ms per request; 4 threads, as the flow.")
    print(f"{'':<34} {'reqs':>6} {'/unit':>6} {'wall':>9}  by kind")
    emulator.latency_s = latency
    ids = _registered(settings.registry)
    for night in (1, 2):
        if night == 2:
            spec = layout.by_key["TT.3||"]
            for spreadsheet_id in random.Random(2).sample(ids, changed):
                emulator.set_values(spreadsheet_id, f"'{spec.sheet}'!{spec.cell}",
                                    [["Lê Văn Tám"]], "USER_ENTERED")
        print(f"night {night}: " + ("first pull" if night == 1 else
                                    f"{changed} sheets edited since the last pull"))
        emulator.reset_counts()
        start = time.perf_counter()
        _google_naive(emulator.url, settings.registry, titles)
        print(_google_line("  naive gspread (read)", emulator, n, time.perf_counter() - start))
        emulator.reset_counts()
        start = time.perf_counter()
        source, raws = _google_night(config, settings.registry)
        print(_google_line("  ours: read", emulator, n, time.perf_counter() - start))
        result = _google_checked(raws, config)
        emulator.reset_counts()
        start = time.perf_counter()
        source.finish(result, date(2023, 4, 5))
        print(_google_line("  ours: write flags + dashboard", emulator, n,
                           time.perf_counter() - start))
    # Google's quota, 60 reads/min, enforced by the emulator; our limiter at its default 60.
    clock = FakeClock()
    emulator.read_quota.clock = emulator.write_quota.clock = clock.now
    emulator.read_quota_per_minute = emulator.write_quota_per_minute = 60
    _google_settings(folder, folder_id, 60)
    for path in settings.state_dir.glob("snapshots/*.json"):
        path.unlink()  # a first pull again
    emulator.reset_counts()
    start = time.perf_counter()
    _, raws = _google_night(config, settings.registry, Timing(clock.now, clock.sleep))
    real = time.perf_counter() - start
    lost = sum(1 for raw in raws if raw.error or raw.unreachable)
    print(f"quota 60 reads/min: {emulator.counts['sheets.values.batchGet']} sheets read in "
          f"{(real + clock.skipped) / 60:.2f} min ({clock.skipped:.0f} s of limiter waits "
          f"skipped by a fake clock, {real:.1f} s real); 429 answers: {emulator.counts['429']} "
          f"(retried by the client; with the fake clock a skipped wait moves time forward for "
          f"requests already on their way, which real time does not); 429s reaching the flow "
          f"and sheets lost: {lost}. Target ≤ 2.7 min.")
    naive = n * (1 + 2 * len(titles))
    print(f"naive at the same quota: {naive} reads a night ≥ {naive / 60:.1f} min, and gspread's "
          "plain client stops at the first 429.")
    emulator.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _registered(registry: Path) -> list[str]:
    import json

    return [e["id"] for e in json.loads(registry.read_text(encoding="utf-8"))["units"].values()]
