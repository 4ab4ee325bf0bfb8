"""A commune types a child's name and phone number into a free-text cell of its Google Sheet
(issue 13): the error is at that cell, and neither the name nor the number is in any file the
run writes (CSV, xlsx, docx, html, drafts), in any table of the history database, in the
Google snapshots or on the dashboard; only the commune's own sheet keeps what it typed, until it
fixes it. An answer typed in the results tab with a name is not taken either. A text the office
marks not an error is used as typed from the next run on.

Runs against the Google emulator, in the provisioned world of `test_google_sheets`.
"""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from google_fixtures import gspread_client
from helpers import stored_texts
from test_google_sheets import (  # noqa: F401 (fixtures)
    World,
    entered_values,
    make_world,
    provisioned,
    results_tab,
    type_answers,
)
from typer.testing import CliRunner

from flows.cli import app
from flows.consolidate import PlainSteps, run_consolidation
from flows.core.layout import build_layout, make_key
from flows.sources.google.render import RESULTS_TITLE

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

NAME, PHONE, SISTER = "Nguyễn Văn An", "0905 123 456", "Trần Thị Bình"
TYPED = f"Cháu {NAME} bị bạo lực; mẹ cháu: {PHONE}."
STAFF = "Phối hợp với chị Mai, cán bộ Hội Phụ nữ"
AS_OF = date(2023, 4, 5)


def night(world: World, out: Path) -> pd.DataFrame:
    outcome = run_consolidation("google", str(out), AS_OF, str(world.config_dir),
                                steps=PlainSteps(), pdf=False)
    assert outcome.summary is not None, outcome.failure
    return pd.read_csv(out / "findings.csv", keep_default_na=False, dtype=str)


def leaks(world: World, out: Path, *texts: str) -> list[str]:
    """Where any of these texts is written: the outputs (the history and the drafts are in
    <out>/state), the Google state folder (snapshots, pull state) and the dashboard."""
    stored = stored_texts(out, world.root / "state")
    dashboard = world.registry["dashboard"]["id"]
    stored["dashboard"] = json.dumps(entered_values(world, dashboard), ensure_ascii=False)
    assert any("Phường Tứ Hạ" in text for place, text in stored.items()
               if place.endswith("bao-cao.docx!word/document.xml"))  # the search reaches in
    return sorted(place for place, text in stored.items()
                  if any(t in text or t.replace(" ", "") in text for t in texts))


def typed_in(out: Path, code: str, indicator: str) -> list[str]:
    """What values.csv holds for one unit's indicator."""
    values = pd.read_csv(out / "values.csv", keep_default_na=False, dtype=str)
    return list(values[(values.unit_code == code) & (values.indicator == indicator)].value)


def snapshot(world: World, code: str) -> dict:
    path = world.root / "state" / "snapshots" / f"{code}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def shared(*folders: Path) -> list[str]:
    """Files and folders the group or others may open."""
    return sorted(str(p) for folder in folders for p in [folder, *folder.rglob("*")]
                  if stat.S_IMODE(p.lstat().st_mode) & 0o077)


def test_a_childs_name_and_phone_are_in_no_output_history_or_snapshot(
        make_world, tmp_path):  # noqa: F811
    world = make_world()
    config, layout = world.config, build_layout(world.config)
    mask = config.privacy.mask
    d3 = layout.by_key[make_key("D3")]
    type_answers(world, "P01", {}, raw={"B1.1||2021": "1.234", make_key("D3"): TYPED})
    type_answers(world, "P02", {}, raw={make_key("D4"): STAFF})
    out = tmp_path / "ket-qua"

    found = night(world, out)
    mine = found[(found.unit_code == "P01") & (found.rule == "personal-data")]
    assert list(zip(mine.sheet, mine.cell, mine.severity, strict=True)) == [
        (d3.sheet, d3.cell, "lỗi")]
    assert list(mine.message) == [
        "Ô này có thể chứa thông tin cá nhân của trẻ em hoặc người thân (họ tên, số điện "
        "thoại); nội dung ô đã được ẩn trong các tệp tổng hợp."]
    assert leaks(world, out, NAME, PHONE) == []
    # the commune's own sheet keeps what it typed, until it fixes it
    assert world.emulator.get_grid(world.sid("P01"), d3.sheet)[d3.row - 1][d3.col - 1] == TYPED
    assert snapshot(world, "P01")["withheld"] == [[d3.sheet, d3.cell]]
    assert typed_in(out, "P01", "D3") == [mask]
    # the history, the drafts and the snapshots are the office's only
    assert shared(out / "state", world.root / "state") == []

    # The commune answers its warning in the results tab, naming a child: not taken.
    rows = results_tab(world, "P01")
    warning = found[(found.unit_code == "P01") & (found.rule == "thousands-separator")]
    [line] = [n for n, row in enumerate(rows) if len(row) > 10
              and row[10] == warning.finding_id.iloc[0]]
    sheet = gspread_client(world.emulator, "commune-P01").open_by_key(world.sid("P01"))
    sheet.worksheet(RESULTS_TITLE).update([[f"Đúng, cháu {SISTER} ở thôn 3 mới chuyển đến"]],
                                          f"J{line + 1}", value_input_option="RAW")
    found = night(world, out).set_index("finding_id")
    said = found[(found.unit_code == "P01") & (found.rule == "personal-data-explanation")]
    assert list(zip(said.sheet, said.cell, said.state, strict=True)) == [
        (RESULTS_TITLE, f"J{line + 1}", "mới")]
    assert (found.loc[warning.finding_id.iloc[0], ["state", "explanation"]].tolist()
            == ["mới", ""])
    assert leaks(world, out, NAME, PHONE, SISTER) == []

    # The office decides P02's "chị Mai" is a member of staff, not a child: the text is used.
    staff = found[(found.unit_code == "P02") & (found.rule == "personal-data")]
    assert list(staff.state) == ["mới"]
    world.emulator.reset_counts()
    decided = CliRunner().invoke(app, ["finding", staff.index[0], "--false-positive",
                                       "--state", str(out / "state"),
                                       "--config", str(world.config_dir)])
    assert decided.exit_code == 0, decided.output
    found = night(world, out).set_index("finding_id")
    # sheets with withheld cells are read again (P01, P02); the others reuse their snapshot
    assert world.emulator.counts["sheets.values.batchGet"] == 2
    assert found.loc[staff.index[0], "state"] == "không phải lỗi"
    assert (typed_in(out, "P02", "D4"), typed_in(out, "P01", "D3")) == ([STAFF], [mask])
    assert snapshot(world, "P02")["withheld"] == []
    assert leaks(world, out, NAME, PHONE, SISTER) == []

    world.emulator.reset_counts()
    night(world, out)  # a quiet night: only P01, still withheld, is read again
    assert world.emulator.counts["sheets.values.batchGet"] == 1
