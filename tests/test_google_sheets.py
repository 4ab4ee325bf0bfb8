"""Google Sheets end to end, against the loopback emulator and the unmodified gspread client.

One provisioned world (template, dashboard, one sheet for each of the test config's 6 units) is
built once per module and copied for each test: communes then type into their sheets through
plain gspread, as a person would, and the consolidate flow pulls, checks and writes the flags
back.
"""

from __future__ import annotations

import collections
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import gspread
import pandas as pd
import pytest
from conftest import answers_for
from google_fixtures import gspread_client
from helpers import TEST_CONFIG_DIR, read_back
from typer.testing import CliRunner

from flows.cli import app
from flows.config import Config, load_config
from flows.consolidate import PlainSteps, run_consolidation
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout
from flows.core.results_tab import HEADER
from flows.core.review import ACCEPT, review_period
from flows.sources.google import client
from flows.sources.google.accounts import assign
from flows.sources.google.client import CREDENTIALS_ENV, ENDPOINT_ENV, Timing, load_google_settings
from flows.sources.google.provisioner import provision_all
from flows.sources.google.render import (
    ERROR_FILL,
    INPUT_FILL,
    RESULTS_TITLE,
    WARNING_FILL,
    colour,
)
from flows.sources.google.source import GoogleSource
from flows.sources.google.writeback import HEADER_ROW, cell_position
from flows.store.history import History
from flows.store.review import ReviewStore
from flows.testing.google_emulator import GoogleEmulator

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

runner = CliRunner()
FORMULA = '=IMPORTXML("http://x")'


@dataclass
class World:
    """A provisioned emulator, its config folder and the registry."""

    root: Path
    emulator: GoogleEmulator
    config_dir: Path

    @property
    def config(self) -> Config:
        return load_config(self.config_dir)

    @property
    def registry(self) -> dict:
        return json.loads((self.root / "state" / "registry.json").read_text(encoding="utf-8"))

    def sid(self, code: str) -> str:
        return self.registry["units"][code]["id"]


def write_config(root: Path, folder_id: str) -> Path:
    folder = root / "config"
    if not folder.exists():
        shutil.copytree(TEST_CONFIG_DIR, folder)
    # The tests' fake clocks pace the client's own limiter; the budget shared through the
    # Prefect server (real time) is tested in test_workers.py.
    (folder / "google.yaml").write_text(
        f'folder_id: "{folder_id}"\nstate_dir: ../state\nshared_limits: {{enabled: false}}\n',
        encoding="utf-8")
    return folder


def typed(value: object) -> str:
    """What a person types: numbers as digits, dates as dd/mm/yyyy (a vi_VN sheet)."""
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def canonical(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else typed(value)


def type_answers(world: World, code: str, answers: dict[str, object],
                 raw: dict[str, str] | None = None) -> None:
    """Type a unit's answers into its sheet with plain gspread, as its commune staff would."""
    layout = build_layout(world.config)
    sheet = gspread_client(world.emulator, f"commune-{code}").open_by_key(world.sid(code))
    entered: dict[str, list] = defaultdict(list)
    for key, value in answers.items():
        spec = layout.by_key[key]
        if spec.role not in ("unit_code", "unit_name"):  # prefilled and locked
            entered[spec.sheet].append({"range": spec.cell, "values": [[typed(value)]]})
    for title, data in entered.items():
        sheet.worksheet(title).batch_update(data, value_input_option="USER_ENTERED")
    for key, text in (raw or {}).items():
        # Pasting "as values" stores the text itself, whatever the cell's format.
        spec = layout.by_key[key]
        sheet.worksheet(spec.sheet).update([[text]], spec.cell, value_input_option="RAW")


def consolidate(world: World, out: Path, exit_code: int = 0) -> str:
    """`giamsat consolidate --source google`; exit code 3 when a unit could not be read."""
    # one history for every night, as a deployment has (each run writes its own --out)
    result = runner.invoke(app, ["consolidate", "--source", "google", "--out", str(out),
                                 "--config", str(world.config_dir), "--as-of", "2023-04-05",
                                 "--state", str(world.root / "state")])
    assert result.exit_code == exit_code, result.output
    return result.output


def results_tab(world: World, code: str) -> list[list]:
    return world.emulator.get_grid(world.sid(code), RESULTS_TITLE)


def cell_fill(world: World, code: str, sheet: str, cell: str) -> dict | None:
    row, col = cell_position(cell) or (0, 0)
    found = world.emulator.cell(world.sid(code), sheet, row, col)
    return (found.get("userEnteredFormat") or {}).get("backgroundColor")


def entered_values(world: World, spreadsheet_id: str) -> list[dict]:
    """The userEnteredValue of every cell of a spreadsheet."""
    with world.emulator.store.lock:
        sheets = world.emulator.store.files[spreadsheet_id].content.sheets
        return [cell.get("userEnteredValue") or {} for sheet in sheets
                for cell in sheet.cells.values()]


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory) -> Path:
    """Provision once and let every commune type its (clean) answers; saved to be copied."""
    root = tmp_path_factory.mktemp("provisioned")
    with pytest.MonkeyPatch.context() as patch, \
            GoogleEmulator(state_dir=root / "emulator") as emulator:
        patch.setenv(ENDPOINT_ENV, emulator.url)
        patch.delenv(CREDENTIALS_ENV, raising=False)
        config_dir = write_config(root, emulator.create_folder("Giám sát trẻ em 2023"))
        config = load_config(config_dir)
        provision_all(config, load_google_settings(config_dir))
        world = World(root, emulator, config_dir)
        for unit in config.units.active():
            emulator.tokens[f"commune-{unit.code}"] = unit.emails[0]
            type_answers(world, unit.code, answers_for(config, unit.code))
    return root


@pytest.fixture
def make_world(provisioned, tmp_path, monkeypatch):
    """A fresh copy of the filled-in world, with emulator options (faults, quotas, clock)."""
    started: list[GoogleEmulator] = []

    def make(**options) -> World:
        root = tmp_path / "world"
        shutil.copytree(provisioned, root)
        emulator = GoogleEmulator(state_dir=root / "emulator", **options).start()
        started.append(emulator)
        monkeypatch.setenv(ENDPOINT_ENV, emulator.url)
        monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
        world = World(root, emulator, root / "config")
        for unit in world.config.units.units:
            emulator.tokens[f"commune-{unit.code}"] = unit.emails[0]
        return world

    yield make
    for emulator in started:
        emulator.stop()


def clean_answers(config: Config) -> dict[tuple[str, str], str]:
    """What every commune typed in the provisioned world, as values.csv writes it."""
    return {(unit.code, key): canonical(value) for unit in config.units.active()
            for key, value in answers_for(config, unit.code).items()}


# --------------------------------------------------------------------------- the flow


def results_listed(world: World, code: str) -> list[str]:
    """The messages listed on a unit's results tab (rows below the header)."""
    return [row[4] for row in results_tab(world, code)[6:] if len(row) > 4 and row[0] != ""]


def messages(out: Path, code: str) -> list[str]:
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    return list(findings[findings.unit_code == code].message)


@pytest.mark.prefect
def test_google_pull_equals_what_communes_typed_and_flags_go_back(make_world, tmp_path,
                                                                   prefect_api):
    world = make_world()
    config = world.config
    expected = clean_answers(config)
    type_answers(world, "P01", {"TT.7||": date(2023, 3, 15)})  # typed "15/03/2023" (vi_VN)
    expected[("P01", "TT.7||")] = "2023-03-15"
    type_answers(world, "P02", {"A2||2021": "12 kế hoạch"})  # flagged and highlighted
    del expected[("P02", "A2||2021")]
    # typed into a Plain-text cell (kept as text by Sheets), and pasted as text into a number cell
    type_answers(world, "P03", {"TT.3||": FORMULA}, raw={"A1||2021": FORMULA})
    expected[("P03", "TT.3||")] = FORMULA
    del expected[("P03", "A1||2021")]  # not a number: flagged, not consolidated

    out = tmp_path / "run1"
    output = consolidate(world, out)
    assert "6/6" in output
    assert read_back(out) == expected
    for unit in config.units.active():  # each sheet lists exactly its own findings
        assert unit.full_name in results_tab(world, unit.code)[0][0]
        assert results_listed(world, unit.code) == messages(out, unit.code)
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    planted = findings[(findings.unit_code == "P02") & (findings.rule == "number-with-text")]
    where = planted.iloc[0]
    assert cell_fill(world, "P02", where.sheet, where.cell) == colour(ERROR_FILL)

    # The commune's formula text stays text: in values.csv (above), in findings, on its
    # results tab and on the dashboard, where our writes never create a formula.
    assert FORMULA in set(findings[findings.unit_code == "P03"].value)
    assert any(FORMULA in row for row in results_tab(world, "P03"))
    dashboard = world.registry["dashboard"]["id"]
    assert {"stringValue": FORMULA} in entered_values(world, dashboard)
    for spreadsheet_id in (dashboard, world.sid("P03")):
        assert not any("formulaValue" in v for v in entered_values(world, spreadsheet_id))
    status = world.emulator.get_grid(dashboard, "Tình trạng")
    assert [row[0] for row in status[1:]] == [u.code for u in config.units.active()]

    # A second run with no edits reads no values and writes nothing.
    world.emulator.reset_counts()
    consolidate(world, tmp_path / "run2")
    counts = world.emulator.counts
    assert counts["drive.files.list"] == 1
    for kind in ("sheets.values.batchGet", "sheets.values.get", "sheets.get",
                 "sheets.batchUpdate", "sheets.values.batchUpdate", "sheets.values.update"):
        assert counts[kind] == 0, (kind, dict(counts))
    assert read_back(tmp_path / "run2") == expected

    # The commune fixes its error: that sheet alone is read, and the highlight is gone.
    type_answers(world, "P02", {"A2||2021": 2})
    world.emulator.reset_counts()
    consolidate(world, tmp_path / "run3")
    assert world.emulator.counts["sheets.values.batchGet"] == 1
    assert cell_fill(world, "P02", where.sheet, where.cell) == colour(INPUT_FILL)
    assert read_back(tmp_path / "run3")[("P02", "A2||2021")] == "2"
    assert results_listed(world, "P02") == messages(tmp_path / "run3", "P02")


@pytest.mark.prefect
def test_faults_quota_and_a_deleted_sheet_never_stop_the_run(make_world, tmp_path, monkeypatch,
                                                             fake_clock, prefect_api):
    clock = fake_clock
    world = make_world(clock=clock, seed=3)
    monkeypatch.setattr(client, "TIMING", Timing(clock.now, clock.sleep, lambda: 0.5))
    config = world.config
    expected = clean_answers(config)
    world.emulator.fault_rate = 0.2  # 500, 503 and dropped connections
    world.emulator.read_quota_per_minute = 4  # below our budget: Google answers 429, we wait
    world.emulator.write_quota_per_minute = 4
    # Four threads share 4 requests a minute: an unlucky call can wait several minutes of
    # (fake, instant) time before its turn; the office setting for that is quota_wait_seconds.
    with open(world.config_dir / "google.yaml", "a", encoding="utf-8") as settings:
        settings.write("retry:\n  quota_wait_seconds: 3600\n")
    consolidate(world, tmp_path / "run1")
    counts = world.emulator.counts
    assert counts["fault"] > 0 and counts["429"] > 0
    assert read_back(tmp_path / "run1") == expected
    status = pd.read_csv(tmp_path / "run1" / "status.csv", keep_default_na=False)
    assert status["found"].all() and (status["access"] == "").all()
    for unit in config.units.active():  # every flag written, and written once
        assert results_listed(world, unit.code) == messages(tmp_path / "run1", unit.code)
    folder = world.registry["folder_id"]
    names = [f.name for f in world.emulator.store.files.values() if folder in f.parents]
    assert len(names) == len(set(names)) == 8  # template, dashboard, 6 units

    # A sheet deleted: that unit is unreachable (its last snapshot kept), the others go on.
    # And our retried writes left their own modifiedTime on record: nothing else is read.
    world.emulator.fault_rate = 0
    # and no quota left over from the first run: a refused attempt counts as a request too
    world.emulator.read_quota_per_minute = world.emulator.write_quota_per_minute = None
    world.emulator.delete_file(world.sid("X02"))
    world.emulator.reset_counts()
    assert "X02" in consolidate(world, tmp_path / "run2", exit_code=3)
    assert world.emulator.counts["sheets.values.batchGet"] == 0
    assert world.emulator.counts["sheets.batchUpdate"] == 1  # the dashboard: X02's access
    status = pd.read_csv(tmp_path / "run2" / "status.csv", keep_default_na=False)
    status = status.set_index("unit_code")
    assert status.loc["X02", "access"] == "không truy cập được"
    assert status.loc["X02", "read_at"] != ""
    assert (status.drop(index="X02")["access"] == "").all() and status["found"].all()
    findings = pd.read_csv(tmp_path / "run2" / "findings.csv", keep_default_na=False)
    unreachable = findings[findings.rule == "unreachable"]
    assert list(unreachable.unit_code) == ["X02"] and "404" in unreachable.iloc[0].message
    assert read_back(tmp_path / "run2") == expected


# --------------------------------------------------------------------------- provisioning


@pytest.mark.slow
def test_rerunning_provision_creates_nothing_and_a_new_unit_gets_only_its_sheet(make_world):
    world = make_world()
    world.emulator.reset_counts()
    report = provision_all(world.config, load_google_settings(world.config_dir))
    counts = world.emulator.counts
    for kind in ("drive.files.copy", "drive.files.create", "drive.permissions.create",
                 "sheets.batchUpdate", "sheets.values.batchUpdate"):
        assert counts[kind] == 0, kind
    assert report.created == [] and len(report.existing) == 6

    units = world.config_dir / "units.yaml"
    units.write_text(units.read_text(encoding="utf-8") + "  - {code: X05, name: Hương Thọ, "
                     "kind: xã, emails: [huongtho@thunghiem.example.vn]}\n", encoding="utf-8")
    world.emulator.reset_counts()
    report = provision_all(world.config, load_google_settings(world.config_dir))
    assert report.created == ["X05"]
    counts = world.emulator.counts
    assert counts["drive.files.copy"] == 1 and counts["drive.files.create"] == 0
    assert counts["drive.permissions.create"] == 2  # the commune and the staff address
    shared = {p.get("emailAddress") for p in world.emulator.file(world.sid("X05"))["permissions"]}
    assert {"huongtho@thunghiem.example.vn", "ldtbxh@thunghiem.example.vn"} <= shared
    code = build_layout(world.config).role("unit_code")
    assert world.emulator.get_grid(world.sid("X05"), code.sheet)[code.row - 1][code.col - 1] \
        == "X05"


def test_a_commune_types_into_inputs_but_not_into_labels_or_its_code(make_world):
    world = make_world()
    layout = build_layout(world.config)
    sheet = gspread_client(world.emulator, "commune-P01").open_by_key(world.sid("P01"))
    spec = layout.by_key["A1||2021"]
    sheet.worksheet(spec.sheet).update([["3"]], spec.cell, value_input_option="USER_ENTERED")
    code = layout.role("unit_code")
    for title, cell in ((spec.sheet, f"C{spec.row}"), (code.sheet, code.cell)):
        with pytest.raises(gspread.exceptions.APIError) as refused:
            sheet.worksheet(title).update([["x"]], cell)
        assert refused.value.response.status_code == 403
    meta = world.emulator.metadata(world.sid("P01"))
    editors = [p["editors"]["users"] for s in meta["sheets"] for p in s["protectedRanges"]]
    assert editors and all("ldtbxh@thunghiem.example.vn" in users for users in editors)


def test_the_template_is_the_xlsx_layout_in_sheets(make_world):
    world = make_world()
    layout = build_layout(world.config)
    template = world.emulator.metadata(world.registry["template"]["id"], include_grid_data=True)
    assert template["properties"]["locale"] == "vi_VN"
    assert template["properties"]["timeZone"] == "Asia/Ho_Chi_Minh"
    tabs = {s["properties"]["title"]: s for s in template["sheets"]}
    assert list(tabs) == [s.title for s in layout.sheets] + [RESULTS_TITLE]
    for sheet in layout.sheets:
        tab = tabs[sheet.title]
        grid = tab["properties"]["gridProperties"]
        assert (grid.get("frozenRowCount", 0), grid.get("frozenColumnCount", 0)) == (
            sheet.freeze[0] - 1, sheet.freeze[1] - 1)
        data = tab["data"][0]
        assert data["columnMetadata"][0]["hiddenByUser"]  # the key column A
        assert all(data["rowMetadata"][r - 1].get("hiddenByUser") for r in sheet.hidden_rows)
        assert len(tab.get("merges", [])) == sum(1 for c in sheet.cells
                                                 if c.span > 1 or c.height_span > 1)
        assert data["rowData"][0]["values"][0]["userEnteredValue"]["stringValue"].startswith(
            "#giamsat|")
    spec = layout.by_key["A1||2021"]
    cell = world.emulator.cell(world.sid("P01"), spec.sheet, spec.row - 1, spec.col - 1)
    assert cell["userEnteredFormat"]["backgroundColor"] == colour(INPUT_FILL)
    assert cell["dataValidation"]["condition"]["type"] == "CUSTOM_FORMULA"


def test_a_renamed_tab_costs_one_metadata_read_and_is_reported(make_world):
    world = make_world()
    layout = build_layout(world.config)
    sheet = gspread_client(world.emulator, "commune-P01").open_by_key(world.sid("P01"))
    sheet.worksheet("A. Lãnh đạo, chỉ đạo").update_title("Lãnh đạo")
    source = GoogleSource(world.config)
    world.emulator.reset_counts()
    source.refs()
    raw = source.read(world.sid("P01"))
    assert world.emulator.counts["sheets.get"] == 1
    assert world.emulator.counts["sheets.values.batchGet"] == 2  # the failed one, then all tabs
    extraction = extract_workbook(raw, layout, world.config.units.by_code())
    assert not [f for f in extraction.findings if f.rule.startswith("missing")]
    assert {"A1", "A2", "A5"} <= set(extraction.values["indicator"])  # the renamed tab's
    assert any("Lãnh đạo" in note and "đổi tên" in note for note in source.notes)
    type_answers(world, "P01", {"TT.3||": "Lê Văn Tám"})  # the renamed titles are remembered
    source = GoogleSource(world.config)
    world.emulator.reset_counts()
    source.refs()
    raw = source.read(world.sid("P01"))
    assert world.emulator.counts["sheets.values.batchGet"] == 1
    assert world.emulator.counts["sheets.get"] == 0


@pytest.mark.prefect
def test_the_provision_command_runs_the_flow_and_reports_in_vietnamese(make_world,
                                                                       prefect_api):
    world = make_world()
    result = runner.invoke(app, ["provision", "--config", str(world.config_dir)])
    assert result.exit_code == 0, result.output
    assert "tạo mới 0, đã có 6" in result.output and "Sổ đăng ký" in result.output


def test_the_provision_command_explains_a_missing_google_yaml(tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, config_dir)
    (config_dir / "google.yaml").unlink()
    result = runner.invoke(app, ["provision", "--config", str(config_dir)])
    assert result.exit_code == 2
    assert "google.yaml: không tìm thấy tệp cấu hình" in result.output.replace("\n", "")


# --------------------------------------------------------------------------- several accounts

OWNER = "owner@example.com"  # the emulator's owner of the folder: our first account here
SECOND = "doc-2@giamsat-thu.iam.example.com"


def token_file(folder: Path, name: str, token: str, email: str) -> str:
    """An OAuth user token file that names its account (the emulator maps tokens to people)."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "emu",
                                "client_secret": "emu", "refresh_token": "emu", "token": token,
                                "expiry": "2099-01-01T00:00:00Z", "account_email": email}),
                    encoding="utf-8")
    return path.name


def test_a_second_account_reads_and_flags_its_own_units_within_its_own_quota(
        make_world, tmp_path, monkeypatch, fake_clock):
    clock = fake_clock
    world = make_world(clock=clock)
    monkeypatch.setattr(client, "TIMING", Timing(clock.now, clock.sleep, lambda: 0.5))
    world.emulator.tokens.update({"tok-1": OWNER, "tok-2": SECOND})
    first = token_file(world.config_dir, "tk1", "tok-1", OWNER)
    second = token_file(world.config_dir, "tk2", "tok-2", SECOND)
    # The office adds a second account: each has Google's quota (here 3 reads a minute)
    with open(world.config_dir / "google.yaml", "a", encoding="utf-8") as settings:
        settings.write(f"accounts:\n  - credentials: {first}\n  - credentials: {second}\n"
                       "quota:\n  reads_per_minute: 3\n  writes_per_minute: 3\n")
    config = world.config
    codes = [unit.code for unit in config.units.active()]
    readers = assign(codes, [OWNER, SECOND])
    seconds = sorted(code for code in codes if readers[code] == SECOND)
    assert seconds and len(seconds) < len(codes)  # both accounts have units

    provision_all(config, load_google_settings(world.config_dir))  # shares them with it
    for code in codes:
        roles = {p.get("emailAddress"): p.get("role")
                 for p in world.emulator.file(world.sid(code))["permissions"]}
        assert (roles.get(SECOND) == "writer") == (code in seconds), code

    world.emulator.read_quota_per_minute = world.emulator.write_quota_per_minute = 3
    world.emulator.reset_counts()
    world.emulator.quota_log.clear()
    type_answers(world, "P02", {"A2||2021": "12 kế hoạch"})  # flagged, so a write goes back
    world.emulator.quota_log.clear()
    out = tmp_path / "ket-qua"
    outcome = run_consolidation("google", str(out), date(2023, 4, 5), str(world.config_dir),
                                steps=PlainSteps(), pdf=False)
    assert outcome.summary is not None and not outcome.failure, outcome.failure
    expected = clean_answers(config)
    del expected[("P02", "A2||2021")]
    assert read_back(out) == expected
    # Nothing Google refused reached the flow (every value above is there). A 429 may still
    # be answered and retried: the fake clock is one for both accounts, so one account's
    # skipped wait can move time forward under a request of the other already on its way.
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    assert not findings.rule.isin(["unreachable", "writeback-failed"]).any()
    reads = collections.Counter(who for _, who, kind in world.emulator.quota_log
                                if kind == "read")
    # one batchGet per sheet, by its own account; the first also reads the dashboard's
    # review tabs (never read before in this world)
    assert reads == {OWNER: len(codes) - len(seconds) + 1, SECOND: len(seconds)}
    for who in (OWNER, SECOND):
        assert world.emulator.busiest_minute(who, "read") <= 3
        assert world.emulator.busiest_minute(who, "write") <= 3
    for code in codes:  # and each unit's flags went back, by its own account
        assert results_listed(world, code) == messages(out, code)
    writers = {who for _, who, kind in world.emulator.quota_log if kind == "write"}
    assert SECOND in writers if "P02" in seconds else OWNER in writers


# --------------------------------------------------------------------------- answers


def test_a_commune_explains_a_warning_in_its_results_tab_and_the_office_accepts_it(
        make_world, tmp_path):
    world = make_world()
    layout = build_layout(world.config)
    out, as_of = tmp_path / "ket-qua", date(2023, 4, 5)

    def night() -> pd.DataFrame:
        outcome = run_consolidation("google", str(out), as_of, str(world.config_dir),
                                    steps=PlainSteps(), pdf=False)
        assert outcome.summary is not None, outcome.failure
        found = pd.read_csv(out / "findings.csv", keep_default_na=False)
        return found[(found.unit_code == "P01") & (found.rule == "thousands-separator")]

    type_answers(world, "P01", {}, raw={"B1.1||2021": "1.234"})  # read as 1234: confirm
    [fid] = night()["finding_id"]
    rows = results_tab(world, "P01")
    assert rows[HEADER_ROW] == HEADER
    [line] = [n for n, row in enumerate(rows) if len(row) > 10 and row[10] == fid]
    assert rows[line][8] == "mới"

    # The commune may type its answer in that column, and only there.
    sheet = gspread_client(world.emulator, "commune-P01").open_by_key(world.sid("P01"))
    tab = sheet.worksheet(RESULTS_TITLE)
    why = "Năm 2021 có 1.234 lượt trẻ tham gia, số liệu đúng."
    tab.update([[why]], f"J{line + 1}", value_input_option="RAW")
    with pytest.raises(gspread.exceptions.APIError) as refused:
        tab.update([["sửa"]], f"E{line + 1}")
    assert refused.value.response.status_code == 403

    world.emulator.reset_counts()
    explained = night().iloc[0]
    assert world.emulator.counts["sheets.values.batchGet"] == 1  # P01's one read brings it
    assert (explained["state"], explained["explanation"]) == ("đã giải trình", why)
    # recorded as typed by whoever Drive says edited the sheet: the commune's staff member
    assert explained["decided_by"] == world.emulator.settings.display_name(
        world.config.units.by_code()["P01"].emails[0])
    rows = results_tab(world, "P01")
    assert rows[line][8:11] == ["đã giải trình", why, fid]
    spec = layout.by_key["B1.1||2021"]
    assert cell_fill(world, "P01", spec.sheet, spec.cell) == colour(WARNING_FILL)

    # 1234 also stands out against the other units, at the same cell: the office accepts both.
    found = pd.read_csv(out / "findings.csv", keep_default_na=False)
    same_cell = found[(found.unit_code == "P01") & (found.cell == spec.cell)]
    assert sorted(same_cell.rule) == ["outlier-across-units", "thousands-separator"]
    with History(folder=out / "state") as history:
        store = ReviewStore(history, review_period(world.config))
        for finding_id in same_cell.finding_id:
            store.decide_finding(finding_id, ACCEPT, "Chị Lan", datetime.now(UTC))
    world.emulator.reset_counts()
    assert night().iloc[0]["state"] == "chấp nhận"
    assert world.emulator.counts["sheets.values.batchGet"] == 0  # nobody edited a sheet
    listed = [row[10] for row in results_tab(world, "P01") if len(row) > 10]
    assert not set(same_cell.finding_id) & set(listed)
    assert cell_fill(world, "P01", spec.sheet, spec.cell) == colour(INPUT_FILL)


def test_two_runs_sharing_one_google_state_keep_each_others_writes(tmp_path):
    """Two output folders, one Google state folder: a run of two units that loaded the pull
    state before the town's run saved it must not put back the old state of the others."""
    from flows.sources.google.snapshots import FlagState, PullState

    PullState(tmp_path / "pull.json", own_writes={"s1": "t0", "s2": "t0", "s3": "t0"}).save()
    town, subset = PullState.load(tmp_path), PullState.load(tmp_path)
    town.own_writes.update(s1="t1", s2="t1", s3="t1")
    town.flags["P03"] = FlagState(hash="h3")
    town.dashboard_hash = "town"
    town.save()
    subset.own_writes["s1"] = "t2"  # its unit, written after the town's run
    subset.own_writes.pop("s2")  # its other unit, edited by the commune since
    subset.save()
    kept = PullState.load(tmp_path)
    assert kept.own_writes == {"s1": "t2", "s3": "t1"}
    assert kept.flags == {"P03": FlagState(hash="h3")} and kept.dashboard_hash == "town"
