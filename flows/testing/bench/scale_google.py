"""`bench scale`, the Google side: a nation's sheets in the emulator, read over N accounts.

Every unit's sheet is a copy of the template filled with synthetic answers (setup, not timed);
each is shared with the account that reads it. The emulator enforces Google's quotas: 60 reads
a minute per account and 300 per project. Waiting is pure quota, so a fake clock skips it: one
clock for every thread, so the waits of different accounts are added, not overlapped, and the
simulated time is an upper bound; the quota floor (the busiest account's reads at 60 a minute,
or all reads at the project's 300, in 61-second windows) is the lower bound.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

import yaml

from flows.config import load_config
from flows.core.layout import build_layout
from flows.demo.synthetic import synthetic_answers
from flows.testing.bench.google import _google_night, fill
from flows.testing.bench.units import synthetic_registry
from flows.testing.clocks import FakeClock

PER_ACCOUNT, PER_PROJECT = 60, 300  # Google's Sheets read quotas per minute
OWNER = "owner@example.com"  # the emulator's owner of the folder: the first account


def _email(number: int) -> str:
    return OWNER if number == 1 else f"doc-{number}@giamsat-bench.iam.example.com"


def _world(units: int, accounts: int, folder: Path):
    """The emulator, the config folder with `accounts` token files, `units` filled sheets."""
    from flows.sources.google.accounts import assign
    from flows.sources.google.client import ENDPOINT_ENV, load_google_settings, open_api
    from flows.sources.google.provisioner import provision_all
    from flows.sources.google.registry import Registry, SheetEntry
    from flows.testing.google_emulator import GoogleEmulator
    from flows.testing.google_emulator.state import DriveFile, user_permission

    emulator = GoogleEmulator().start()
    os.environ[ENDPOINT_ENV] = emulator.url
    config_dir = folder / "config"
    shutil.copytree(load_config().directory, config_dir)
    folder_id = emulator.create_folder("Giám sát")
    lines = [f'folder_id: "{folder_id}"', "state_dir: ../state", "accounts:"]
    for number in range(1, accounts + 1):
        emulator.tokens[f"tok-{number}"] = _email(number)
        (config_dir / f"tk{number}.json").write_text(json.dumps({
            "type": "authorized_user", "client_id": "b", "client_secret": "b",
            "refresh_token": "b", "token": f"tok-{number}", "expiry": "2099-01-01T00:00:00Z",
            "account_email": _email(number)}), encoding="utf-8")
        lines.append(f"  - credentials: tk{number}.json")
    lines += ["quota:", f"  reads_per_minute: {PER_ACCOUNT}", f"  writes_per_minute: {PER_ACCOUNT}"]
    (config_dir / "google.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = load_config(config_dir)
    registry_units = synthetic_registry(base, units).units.model_dump(mode="json")
    (config_dir / "units.yaml").write_text(yaml.safe_dump(registry_units, allow_unicode=True),
                                           encoding="utf-8")
    config = load_config(config_dir)
    settings = load_google_settings(config_dir)
    provision_all(synthetic_registry(base, 1), settings)  # the template and the dashboard
    registry = Registry.load(settings.registry)
    api, layout, rng = open_api(settings), build_layout(base), random.Random(1)
    readers = assign([u.code for u in config.units.units],
                     [_email(n) for n in range(1, accounts + 1)])
    # one filled sheet, copied for every unit: the reads cost the same whatever the answers
    filled = api.copy_file(registry.template.id, "filled", settings.folder_id)["id"]
    fill(emulator, filled, layout, synthetic_answers(
        config.form, config.units.units[0], rng, reporting_end=date(2023, 3, 31),
        completed=date(2023, 3, 20)))
    # The copies share the filled content (a deep copy each costs ~60 ms): only reads touch
    # them, and a sheet edited in the second night gets a content of its own first.
    with emulator.store.lock:
        source = emulator.store.files[filled]
        for unit in config.units.units:
            name = f"{unit.code} - {unit.full_name}"
            file = DriveFile(emulator.store.new_id(), name, source.mime_type,
                             source.created_time, source.modified_time,
                             parents=list(source.parents), spreadsheet=source.spreadsheet,
                             permissions=[user_permission(OWNER, "owner")] + (
                                 [user_permission(readers[unit.code], "writer")]
                                 if readers[unit.code] != OWNER else []))
            emulator.store.add(file)
            registry.units[unit.code] = SheetEntry(file.id, "", name, prepared=True)
    emulator.trash_file(filled)
    registry.save()
    return emulator, config, settings, readers


def _night(label: str, emulator, config, settings, units: int, clock: FakeClock) -> str:
    from flows.sources.google.client import Timing

    skipped = clock.skipped  # one clock for both nights: the quota windows carry over
    emulator.reset_counts()
    emulator.quota_log.clear()
    start = time.perf_counter()
    _, raws = _google_night(config, settings.registry, Timing(clock.now, clock.sleep))
    real = time.perf_counter() - start
    lost = sum(1 for raw in raws if raw.error or raw.unreachable)
    reads = Counter(who for _, who, kind in emulator.quota_log if kind == "read")
    total = sum(reads.values())
    # a sliding window lets `quota` reads through at once, then `quota` more a minute later
    floor = max((max(reads.values(), default=1) - 1) // PER_ACCOUNT,
                (total - 1) // PER_PROJECT) * 61 / 60
    simulated = (real + clock.skipped - skipped) / 60
    busiest = max((emulator.busiest_minute(who) for who in reads), default=0)
    return (f"{label}: {total:,} reads ({emulator.counts['sheets.values.batchGet']:,} sheets, "
            f"{emulator.counts['drive.files.list']} listing pages); quota floor "
            f"{floor:.1f} min, simulated ≤ {simulated:.1f} min ({real:.1f} s real); busiest "
            f"account minute {busiest} reads (quota {PER_ACCOUNT}); 429s "
            f"{emulator.counts['429']}, sheets lost {lost} of {units:,}")


def google_figures(units: int, accounts: int) -> list[str]:
    """The first night and a night with 10% of the sheets changed, over `accounts` accounts."""
    from flows.sources.google.registry import Registry

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        start = time.perf_counter()
        emulator, config, settings, readers = _world(units, accounts, folder)
        spread = Counter(readers.values())
        lines = [f"Google: {units:,} sheets over {accounts} account(s) ({min(spread.values()):,}"
                 f"–{max(spread.values()):,} each), set up in {time.perf_counter() - start:.0f} s "
                 f"(not timed); quotas {PER_ACCOUNT} reads/min per account, {PER_PROJECT} per "
                 "project, enforced by the emulator"]
        emulator.read_quota_per_minute = emulator.write_quota_per_minute = PER_ACCOUNT
        emulator.project_read_quota.limit = PER_PROJECT
        clock = FakeClock()
        emulator.read_quota.clock = emulator.write_quota.clock = clock.now
        emulator.project_read_quota.clock = emulator.clock = clock.now
        lines.append(_night("  first night", emulator, config, settings, units, clock))
        clock.sleep(120)  # the day between: the night's quota windows are long past
        layout = build_layout(config)
        spec = layout.by_key["TT.3||"]
        ids = [e.id for e in Registry.load(settings.registry).units.values()]
        for spreadsheet_id in random.Random(2).sample(ids, max(1, units // 10)):
            with emulator.store.lock:
                file = emulator.store.files[spreadsheet_id]
                file.spreadsheet = copy.deepcopy(file.spreadsheet)
            emulator.set_values(spreadsheet_id, f"'{spec.sheet}'!{spec.cell}", [["Lê Văn Tám"]],
                                "USER_ENTERED")
        lines.append(_night("  10% changed", emulator, config, settings, units, clock))
        emulator.stop()
        return lines
    finally:
        shutil.rmtree(folder, ignore_errors=True)
