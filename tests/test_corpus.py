"""A corpus of real workbooks with planted problems: each one is found at its unit and cell."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import answers_for

from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.findings import ERROR
from flows.core.layout import make_key
from flows.core.ruleset import load_rules
from flows.sources.xlsx import read_workbook

AS_OF = date(2023, 4, 5)


def k(indicator, breakdown="", year=None):
    return make_key(indicator, breakdown, year)


def plant(config) -> tuple[dict[str, dict], list[tuple[str, str, str]]]:
    """Answers per unit with problems planted, and the (unit, rule, key of the cell) expected.

    The six units of the test config: P01 claims to be done with a blank cell, P02 dates its
    completion in the future, P03 completes late, X01 is still typing after the deadline, X02
    is clean, X03 has a reading problem and a document list that does not match. Problems that
    leave a required cell blank go to units that are not complete.
    """
    answers = {u.code: answers_for(config, u.code, seed=11) for u in config.units.active()}
    expected = []

    def put(code, key, value, rule, at=None):
        answers[code][key] = value
        expected.append((code, rule, at or key))

    # completeness and a unit claiming to be done with a blank required cell
    del answers["P01"][k("B1.4", "", 2022)]
    expected += [("P01", "missing-required", k("B1.4", "", 2022)),
                 ("P01", "complete-but-missing", k("TT.6"))]
    # completion dates
    put("P02", k("TT.7"), date(2023, 5, 1), "completion-date-future")
    put("P03", k("TT.7"), date(2023, 4, 3), "completed-late")
    put("X01", k("TT.6"), "Đang nhập", "overdue")
    answers["X01"].pop(k("TT.7"))
    put("P01", k("TT.7"), date(2023, 2, 1), "completion-date-early")
    # consistency rules
    total = answers["P03"][k("C2", "tong", 2022)]
    put("P03", k("C2", "nam", 2022), answers["P03"][k("C2", "nu", 2022)] + total + 1,
        "c2-nam-nu", at=k("C2", "tong", 2022))
    received = answers["P02"][k("B5.3", "", 2021)]
    put("P02", k("B5.4", "", 2021), received + 3, "b5-giai-quyet-le-tiep-nhan")
    put("P02", k("B3.2", "", 2022), None, "b3-lop-va-hoc-vien")
    expected.append(("P02", "missing-required", k("B3.2", "", 2022)))
    docs = answers["X03"][k("A1", "", 2021)]
    put("X03", k("A1", "", 2021), docs + 2, "a1-khop-danh-sach")
    put("X03", k("A.VB", "1,ngay"), date(2019, 6, 1), "a-vb-ngay-trong-ky")
    # a reading problem and an outlier over time
    put("X03", k("B1.5", "", 2022), "mười", "number-in-words")
    expected.append(("X03", "missing-required", k("B1.5", "", 2022)))
    put("X01", k("B1.2", "", 2022), answers["X01"][k("B1.2", "", 2021)] * 4, "outlier-over-time")
    return answers, expected


@pytest.fixture(scope="module")
def result(config, layout, tmp_path_factory):
    from flows.core.layout import build_layout
    from flows.sources.xlsx import write_template

    folder = tmp_path_factory.mktemp("corpus")
    answers, expected = plant(config)
    extractions = []
    for unit in config.units.active():
        path = folder / f"{unit.code}.xlsx"
        values = {key: v for key, v in answers[unit.code].items() if v is not None}
        write_template(build_layout(config, unit), path, values)
        extractions.append(extract_workbook(read_workbook(path), layout, config.units.by_code()))
    rules = load_rules(config.directory / "rules.yaml", config.form, config.plan)
    return consolidate(extractions, config, layout, AS_OF, rules), expected


def test_every_planted_problem_is_found_at_its_unit_and_cell(layout, result):
    consolidated, expected = result
    found = {(r.unit_code, r.rule, r.sheet, r.cell) for r in consolidated.findings.itertuples()}
    for code, rule, key in expected:
        cell = layout.by_key[key]
        if cell.list_row is not None:
            assert any(f[:2] == (code, rule) for f in found), (code, rule)
            continue
        assert (code, rule, cell.sheet, cell.cell) in found, (code, rule, cell.cell)


def test_the_clean_workbook_has_no_error_finding(result):
    consolidated, expected = result
    planted = {code for code, *_ in expected}
    clean = [u for u in consolidated.status["unit_code"] if u not in planted]
    assert clean == ["X02"]
    errors = consolidated.findings[(consolidated.findings.unit_code == "X02")
                                   & (consolidated.findings.severity == ERROR)]
    assert errors.empty, errors[["rule", "message"]].to_string()


def test_status_shows_the_states(result):
    status = result[0].status.set_index("unit_code")
    assert status.loc["P03", "timeliness"] == "Hoàn thành trễ hạn"
    assert status.loc["P03", "days_late"] == 3
    assert status.loc["X01", "timeliness"] == "Quá hạn chưa hoàn thành"
    assert status.loc["X02", "timeliness"] == "Hoàn thành đúng hạn"
    assert status.loc["P01", "timeliness"] == "Quá hạn chưa hoàn thành"  # said done, cell blank
    assert {"completeness_TT", "completeness_C", "errors", "warnings"} <= set(status.columns)
    assert result[0].reporting["units_expected"].iloc[0] == 6  # the test config's units


def test_a_blank_cell_is_named_where_it_is_after_inserted_rows(config, layout, tmp_path):
    """A commune inserted two rows above B1.4 and left it blank: the finding names the cell
    as it is in that commune's sheet, not the template's."""
    from helpers import insert_rows

    from flows.core.layout import build_layout
    from flows.sources.xlsx import write_template

    answers = answers_for(config, "P02", seed=3)
    key = k("B1.4", "", 2022)
    del answers[key]
    path = tmp_path / "P02.xlsx"
    write_template(build_layout(config, config.units.by_code()["P02"]), path, answers)
    spec = layout.by_key[key]
    insert_rows(path, spec.sheet, 7, 2)
    extraction = extract_workbook(read_workbook(path), layout, config.units.by_code())
    result = consolidate([extraction], config, layout, AS_OF)
    [missing] = result.findings[(result.findings.rule == "missing-required")].itertuples()
    moved = f"{spec.cell[0]}{int(spec.cell[1:]) + 2}"
    assert missing.cell == moved and moved in missing.message
