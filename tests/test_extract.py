"""Reading filled workbooks by key: what commune staff do to them, and what they are told."""

from __future__ import annotations

import unicodedata

import pytest
from helpers import (
    add_tab,
    delete_rows,
    insert_rows,
    remove_tab,
    reorder_and_rename,
    set_cells,
    with_words,
)

from flows.core.extract import extract_workbook
from flows.core.findings import ERROR, INFO, WARNING
from flows.core.inputs import RawWorkbook
from flows.core.layout import build_layout, make_key
from flows.sources.xlsx import read_workbook


@pytest.fixture
def extract(config, layout):
    def run(path):
        return with_words(extract_workbook(read_workbook(path), layout, config.units.by_code()))
    return run


def where(layout, key):
    cell = layout.by_key[key]
    return cell.sheet, cell.cell


def value_of(extraction, indicator, breakdown="", year=None):
    v = extraction.values
    hit = v[(v.indicator == indicator) & (v.breakdown == breakdown)
            & ((v.year == year) if year else v.year.isna())]
    return hit["value"].tolist()


def test_a_clean_workbook_is_read_completely_with_no_findings(config, make_workbook, extract,
                                                             layout):
    result = extract(make_workbook("P01"))
    assert result.unit_code == "P01"
    assert result.findings == []
    scalar = [c for c in layout.inputs if c.list_row is None]
    assert len(result.values) == len(scalar)
    assert value_of(result, "TT.1") == ["Phường Tứ Hạ"]


@pytest.mark.parametrize("typed, rule, severity", [
    ("1.234", "thousands-separator", WARNING),
    ("1,5", "not-whole-number", ERROR),
    ("12 trẻ", "number-with-text", ERROR),
    ("mười", "number-in-words", ERROR),
    ("=B5+", "formula-no-result", ERROR),
    ("#REF!", "formula-error", ERROR),
    (-4, "negative-number", ERROR),
    (" 7 ", "whitespace", INFO),
])
def test_a_commune_typing_into_a_number_cell_gets_a_finding_naming_the_cell(
        config, layout, make_workbook, extract, typed, rule, severity):
    key = make_key("C2", "nam", 2022)
    sheet, cell = where(layout, key)
    path = make_workbook("P03")
    set_cells(path, sheet, {cell: typed})
    result = extract(path)
    [finding] = [f for f in result.findings if f.cell == cell]
    assert (finding.unit_code, finding.sheet, finding.rule, finding.severity) == (
        "P03", sheet, rule, severity)
    assert (finding.indicator, finding.breakdown, finding.year) == ("C2", "nam", 2022)
    assert finding.message and finding.instruction
    expected = {"1.234": [1234], " 7 ": [7]}.get(typed, [])
    assert value_of(result, "C2", "nam", 2022) == expected
    # every other value is still there
    assert len(result.values) == len([c for c in layout.inputs if c.list_row is None]) - (
        0 if expected else 1)


def test_a_date_typed_as_text_is_read_day_first(config, layout, make_workbook, extract):
    sheet, cell = where(layout, make_key("TT.7"))
    path = make_workbook("X01")
    set_cells(path, sheet, {cell: "05/04/2023"})
    result = extract(path)
    assert value_of(result, "TT.7") == ["2023-04-05"]
    [finding] = [f for f in result.findings if f.cell == cell]
    assert finding.rule == "text-date" and "ngày 5 tháng 4 năm 2023" in finding.message


def test_non_nfc_text_and_spaces_are_cleaned_and_noted(config, layout, make_workbook, extract):
    sheet, reporter = where(layout, make_key("TT.3"))
    _, status = where(layout, make_key("TT.6"))
    path = make_workbook("X02")
    set_cells(path, sheet, {reporter: unicodedata.normalize("NFD", "Lê Thị Thu"),
                            status: "  Đã hoàn thành "})
    result = extract(path)
    assert value_of(result, "TT.3") == ["Lê Thị Thu"]
    assert value_of(result, "TT.6") == ["Đã hoàn thành"]
    assert {(f.cell, f.rule) for f in result.findings} == {(reporter, "not-nfc"),
                                                           (status, "whitespace")}


def test_rows_inserted_between_indicators_do_not_move_values(config, layout, make_workbook,
                                                              extract):
    path = make_workbook("P02")
    clean = extract(path).values
    sheet, cell = where(layout, make_key("C4", "bao_luc,nam", 2021))
    row = int(cell[1:])
    insert_rows(path, sheet, row - 3, 2)
    insert_rows(path, sheet, 12, 1)
    moved = extract(path)
    assert moved.findings == []
    assert moved.values[["indicator", "breakdown", "year", "value"]].equals(
        clean[["indicator", "breakdown", "year", "value"]])
    # the cell address reported is where the value is now
    now = moved.values[(moved.values.indicator == "C4") & (moved.values.breakdown == "bao_luc,nam")
                       & (moved.values.year == 2021)]["cell"].item()
    assert now == f"{cell[0]}{row + 3}"


def test_data_typed_into_an_inserted_row_is_flagged_not_lost(config, layout, make_workbook,
                                                              extract):
    path = make_workbook("P02")
    sheet, cell = where(layout, make_key("B1.2", "", 2021))
    row = int(cell[1:])
    insert_rows(path, sheet, row + 1)
    set_cells(path, sheet, {f"E{row + 1}": 55})
    [finding] = extract(path).findings
    assert (finding.rule, finding.cell, finding.severity, finding.value) == (
        "outside-input", f"E{row + 1}", WARNING, "55")


def test_tabs_reordered_renamed_and_extra_tabs_are_fine(config, make_workbook, extract):
    path = make_workbook("X01")
    clean = extract(path).values
    reorder_and_rename(path, {"B. Bảo đảm quyền trẻ em": "B"})
    add_tab(path, "Nháp", {"A1": "ghi chú", "E9": 99})
    result = extract(path)
    assert result.findings == []
    assert sorted(result.values["value"].astype(str)) == sorted(clean["value"].astype(str))
    assert set(result.values.loc[result.values.indicator == "B1.1", "sheet"]) == {"B"}


def test_a_lost_tab_gets_one_finding_and_the_rest_is_read(config, make_workbook, extract):
    path = make_workbook("X02")
    remove_tab(path, "D. Đánh giá, đề xuất")
    result = extract(path)
    [finding] = result.findings
    assert (finding.rule, finding.severity, finding.sheet) == ("missing-tab", ERROR,
                                                              "D. Đánh giá, đề xuất")
    assert not result.values["indicator"].isin(["D1", "D2"]).any()
    assert len(result.values) > 190  # the other tabs' values of the short test form


def test_a_deleted_indicator_row_is_reported(config, layout, make_workbook, extract):
    path = make_workbook("X02")
    sheet, cell = where(layout, make_key("B5.4", "", 2021))
    delete_rows(path, sheet, int(cell[1:]))
    [finding] = extract(path).findings
    assert (finding.rule, finding.indicator, finding.sheet) == ("missing-row", "B5.4", sheet)


def test_a_copied_indicator_row_is_a_duplicate_not_a_second_value(config, layout, make_workbook,
                                                                   extract):
    from openpyxl import load_workbook

    path = make_workbook("P01")
    sheet, cell = where(layout, make_key("A1", "", 2021))
    row = int(cell[1:])
    wb = load_workbook(path)
    ws = wb[sheet]
    ws.insert_rows(row + 1)
    for col in range(1, 8):
        ws.cell(row + 1, col).value = ws.cell(row, col).value
    ws.cell(row + 1, 5).value = 999
    wb.save(path)
    result = extract(path)
    assert [f.rule for f in result.findings] == ["duplicate-row"]
    assert 999 not in value_of(result, "A1", "", 2021)


def test_a_workbook_that_is_not_ours(config, tmp_path, extract):
    from openpyxl import Workbook

    path = tmp_path / "danh-sach-ho-ngheo.xlsx"
    wb = Workbook()
    wb.active["A1"] = "Danh sách hộ nghèo"
    wb.save(path)
    result = extract(path)
    [finding] = result.findings
    assert finding.rule == "unknown-workbook" and "danh-sach-ho-ngheo.xlsx" in finding.message
    assert result.values.empty


def test_a_broken_file_is_a_finding(tmp_path, extract):
    path = tmp_path / "hong.xlsx"
    path.write_bytes(b"not a zip")
    [finding] = extract(path).findings
    assert finding.rule == "unreadable-file" and finding.source == "hong.xlsx"


@pytest.mark.parametrize("code, rule", [("", "unit-code-missing"), ("P09", "unit-code-unknown")])
def test_a_workbook_without_a_known_unit_code(config, layout, make_workbook, extract, code, rule):
    path = make_workbook("X01")
    sheet, cell = where(layout, make_key("TT.2"))
    set_cells(path, sheet, {cell: code or None})
    result = extract(path)
    [finding] = result.findings
    assert (finding.rule, finding.sheet, finding.cell) == (rule, sheet, cell)
    assert "Xã Hương Toàn" in finding.message and "X01" in finding.message  # suggestion
    assert result.unit_code is None and result.values.empty


def test_the_unit_comes_from_the_workbook_not_the_file_name(config, make_workbook, extract):
    path = make_workbook("X02", name="P01-tu-ha.xlsx")
    assert extract(path).unit_code == "X02"


def test_google_style_grids_read_the_same(config, layout, make_workbook, extract):
    """A grid with serial dates and numbers as Google returns them reads like the .xlsx."""
    path = make_workbook("X01")
    raw = read_workbook(path)
    expected = extract(path).values
    sheet = next(s for s in raw.sheets if s.title == "Thông tin chung")
    _, cell = where(layout, make_key("TT.7"))
    row, col = int(cell[1:]) - 1, ord(cell[0]) - 65
    sheet.rows[row][col] = 44995  # serial for 2023-03-10
    google = extract_workbook(RawWorkbook(source="sheet-id", sheets=raw.sheets), layout,
                              config.units.by_code())
    assert google.values["value"].tolist() == expected["value"].tolist()


def test_a_template_for_another_unit_still_reads(config, tmp_path):
    from flows.sources.xlsx import write_template

    unit = config.units.by_code()["P03"]
    path = tmp_path / "p03.xlsx"
    write_template(build_layout(config, unit), path)
    result = extract_workbook(read_workbook(path), build_layout(config), config.units.by_code())
    assert result.unit_code == "P03" and result.findings == []
    assert set(result.values["indicator"]) == {"TT.1", "TT.2"}
