"""One layout, a pure function of the form, drives the template and the cell map."""

from __future__ import annotations

import json

from helpers import TEST_CONFIG_DIR
from openpyxl import load_workbook

from flows.core.layout import build_layout


def test_every_input_cell_has_a_unique_key_and_place(layout):
    keys = [c.key for c in layout.inputs]
    places = [(c.sheet, c.cell) for c in layout.inputs]
    assert len(keys) == len(set(keys)) and len(places) == len(set(places))
    # the (short) test form asks about 250 values, plus the list of documents
    assert 220 <= len([c for c in layout.inputs if c.list_row is None]) <= 380


def test_special_cells_have_roles(layout):
    roles = {c.role: c for c in layout.inputs if c.role}
    assert {"unit_code", "unit_name", "status", "completion_date"} <= set(roles)
    assert roles["status"].choices == ("Đang nhập", "Đã hoàn thành")


def test_breakdowns_follow_the_dimensions(layout):
    keys = {c.key for c in layout.inputs}
    assert "C1|a,nam|2021" in keys  # orphans, boys, 2021
    assert "C1|tong,tong|2023" in keys  # de-duplicated total
    assert "C4|tinh_duc,nu|2022" in keys
    assert "TT.10|nam|2021" in keys
    assert "A.VB|1,ngay|" in keys


def test_the_cli_writes_a_cell_map(tmp_path, cli):
    target = tmp_path / "map.json"
    cli("template", "--cell-map", target, "--config", TEST_CONFIG_DIR, code=0)
    entries = json.loads(target.read_text(encoding="utf-8"))
    first = next(e for e in entries if e["key"] == "C1|a,nam|2021")
    assert set(first) >= {"key", "sheet", "cell", "indicator", "breakdown", "year", "type",
                          "required", "choices", "role"}
    assert (first["indicator"], first["breakdown"], first["year"], first["type"]) == (
        "C1", "a,nam", 2021, "integer")
    status = next(e for e in entries if e["role"] == "status")
    assert status["choices"] == ["Đang nhập", "Đã hoàn thành"]


def test_template_for_a_unit_is_prefilled_locked_and_validated(config, tmp_path, cli):
    target = tmp_path / "p02.xlsx"
    cli("template", "--out", target, "--unit", "P02", "--config", TEST_CONFIG_DIR, code=0)
    lay = build_layout(config, config.units.by_code()["P02"])
    code_cell = lay.role("unit_code")
    wb = load_workbook(target)
    ws = wb[code_cell.sheet]
    assert ws[code_cell.cell].value == "P02"
    assert ws[code_cell.cell].protection.locked  # prefilled and locked
    assert ws[lay.role("unit_name").cell].value == "Phường Hương Văn"
    reporter = next(c for c in lay.inputs if c.role == "reporter")
    assert not ws[reporter.cell].protection.locked
    assert ws.protection.sheet and not ws.protection.insertRows  # rows may be inserted
    assert ws.column_dimensions["A"].hidden and ws.row_dimensions[1].hidden
    assert ws.freeze_panes is not None
    c_tab = wb["C. Hỗ trợ, can thiệp"]
    kinds = {dv.type for dv in c_tab.data_validations.dataValidation}
    assert {"whole", "decimal"} <= kinds
    status = wb[lay.role("status").sheet].data_validations.dataValidation
    assert any(dv.type == "list" and "Đã hoàn thành" in dv.formula1 for dv in status)
    assert wb.sheetnames[0] == "Hướng dẫn"
    assert c_tab.page_setup.orientation == "landscape"


def test_an_unknown_unit_is_refused_with_the_valid_codes(tmp_path, cli):
    result = cli("template", "--out", tmp_path / "x.xlsx", "--unit", "P99",
                 "--config", TEST_CONFIG_DIR)
    assert result.exit_code == 2 and "P01" in result.output
