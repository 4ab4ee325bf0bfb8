"""Consistency rules: what a commune is told when its numbers contradict each other.

Rules written by each test (or the test config's tests/config/rules.yaml) on the test form; the
last tests check the shipped deployment's own rules.yaml against the shipped form.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import answers_for
from helpers import insert_rows, rendered, set_cells

from flows.config import DEFAULT_CONFIG_DIR, Config, ConfigError
from flows.core.extract import LIST_COLUMNS, VALUE_COLUMNS, extract_workbook
from flows.core.findings import ERROR, WARNING
from flows.core.layout import make_key
from flows.core.locate import Locator
from flows.core.rules import check_rules
from flows.core.ruleset import RuleSet, load_rules, reporting_months
from flows.core.wide import Wide, build_wide
from flows.demo.synthetic import synthetic_answers
from flows.sources.xlsx import read_workbook

NAMES = {"P01": "Phường Tứ Hạ", "P02": "Phường Hương Văn", "X01": "Xã Hương Toàn"}
YEARS = [2021, 2022, 2023]
# synthetic.py varies the allowance coefficient ±10% around 1.5–2.5 (`_Levels`), so it can go
# above Decree 20/2021's maximum of 2.5 and trip this rule. Reported to the lead; drop this set
# once the generator caps the coefficient.
KNOWN_GENERATOR_CONFLICTS: set[str] = set()


# --------------------------------------------------------------------------- helpers


def rules_from(tmp_path: Path, config, *rules: dict) -> RuleSet:
    """Write rules (with defaults for the wording) to rules.yaml and load them."""
    defaults = {"message": "{left} / {right}", "instruction": "Kiểm tra lại.", "severity": "lỗi"}
    body = [{"id": f"r{i}", **defaults, **rule} for i, rule in enumerate(rules)]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": body}, allow_unicode=True), encoding="utf-8")
    return load_rules(path, config.form, config.plan)


def table(rows: dict[tuple[str, int], dict[str, float]]) -> Wide:
    """A hand-made wide matrix: (unit, year) → {"indicator|breakdown": value}."""
    index = pd.MultiIndex.from_tuples(list(rows), names=["unit_code", "year"])
    frame = pd.DataFrame.from_records(list(rows.values()), index=index).astype(float)
    return Wide(frame, YEARS)


def check(rules: RuleSet, wide: Wide, layout, lists: pd.DataFrame | None = None,
          values: pd.DataFrame | None = None):
    lists = pd.DataFrame(columns=LIST_COLUMNS) if lists is None else lists
    values = pd.DataFrame(columns=VALUE_COLUMNS) if values is None else values
    return rendered(check_rules(wide, lists, rules, Locator(values, layout), NAMES), rules)


def where(layout, key: str) -> tuple[str, str]:
    cell = layout.by_key[key]
    return cell.sheet, cell.cell


def sex_split(total: float | None, male: float | None, female: float | None,
              code: str = "C2", row: str = "") -> dict[str, float]:
    prefix = f"{row}," if row else ""
    cells = {f"{code}|{prefix}tong": total, f"{code}|{prefix}nam": male,
             f"{code}|{prefix}nu": female}
    return {k: v for k, v in cells.items() if v is not None}


SEX_RULE = {"left": "C2[tong]", "operator": "==", "right": "C2[nam] + C2[nu]"}


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize("operator, passes, fails", [
    ("==", (5, 5), (5, 4)),
    ("!=", (5, 4), (5, 5)),
    ("<", (4, 5), (5, 5)),
    ("<=", (5, 5), (6, 5)),
    (">", (6, 5), (5, 5)),
    (">=", (5, 5), (4, 5)),
    ("less_than_or_equal_to", (5, 5), (6, 5)),  # the DHIS2 spelling works too
])
def test_each_operator_flags_only_the_rows_that_break_it(tmp_path, config, layout, operator,
                                                         passes, fails):
    rules = rules_from(tmp_path, config, {"left": "B1.3", "operator": operator, "right": "B1.2"})
    wide = table({("P01", 2021): {"B1.3|": passes[0], "B1.2|": passes[1]},
                  ("P01", 2022): {"B1.3|": fails[0], "B1.2|": fails[1]}})
    [finding] = check(rules, wide, layout)
    assert (finding.unit_code, finding.year, finding.rule) == ("P01", 2022, "r0")


# --------------------------------------------------------------------------- missing values


def test_a_blank_skips_the_rule_but_a_typed_zero_is_checked(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, SEX_RULE)
    wide = table({("P01", 2021): sex_split(5, None, 2),  # boys not typed yet: not judged
                  ("P01", 2022): sex_split(5, 0, 2)})  # boys typed as 0: 0 + 2 ≠ 5
    [finding] = check(rules, wide, layout)
    assert finding.year == 2022
    assert (finding.value, finding.expected) == ("5", "= 2 (C2[nam] + C2[nu])")


def test_skip_if_all_missing_counts_blanks_as_zero_unless_everything_is_blank(
        tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "C8.2", "operator": "==",
                                          "right": "C8.3 + C8.4 + C8.5",
                                          "missing": "skip_if_all_missing"})
    wide = table({
        ("P01", 2021): {},  # nothing typed: skipped
        ("P01", 2022): {"C8.2|": 100, "C8.3|": 60, "C8.4|": 40},  # C8.5 blank = 0: fine
        ("P01", 2023): {"C8.2|": 100, "C8.3|": 60},  # 60 + 0 + 0 ≠ 100
    })
    [finding] = check(rules, wide, layout)
    assert finding.year == 2023 and finding.expected.startswith("= 60 ")


def test_never_skip_counts_every_blank_as_zero(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "B3.2", "operator": ">=", "right": "B3.1",
                                          "missing": "never_skip"})
    wide = table({("P01", 2021): {"B3.1|": 2}, ("P01", 2022): {}})
    [finding] = check(rules, wide, layout)
    assert (finding.year, finding.value, finding.expected) == (2021, "0", "≥ 2 (B3.1)")


def test_division_by_zero_gives_no_finding(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "B1.2 / B1.1", "operator": "<=",
                                          "right": "500"})
    wide = table({("P01", 2021): {"B1.2|": 900, "B1.1|": 0},
                  ("P01", 2022): {"B1.2|": 900, "B1.1|": 1}})
    [finding] = check(rules, wide, layout)
    assert finding.year == 2022 and finding.value == "900"


# --------------------------------------------------------------------------- when, years, for_each


def test_when_limits_the_rule_to_rows_where_the_condition_holds(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "B3.2", "operator": ">", "right": "0",
                                          "when": "B3.1 > 0"})
    wide = table({("P01", 2021): {"B3.1|": 0, "B3.2|": 0},
                  ("P01", 2022): {"B3.1|": 2, "B3.2|": 0},
                  ("P01", 2023): {"B3.2|": 0}})  # condition blank: not judged
    [finding] = check(rules, wide, layout)
    assert finding.year == 2022


def test_years_limit_the_rule_to_the_years_listed(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {**SEX_RULE, "years": [2023]})
    wide = table({(("P01", y)): sex_split(5, 1, 1) for y in YEARS})
    assert [f.year for f in check(rules, wide, layout)] == [2023]


def test_for_each_checks_every_category_and_names_it(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {
        "left": "C4.$[tong]", "operator": "==", "right": "C4.$[nam] + C4.$[nu]",
        "for_each": "hinh_thuc", "message": "{category} năm {year}: {left} ≠ {right}."})
    assert len(rules.checks) == 7  # total + 6 forms
    row = {}
    for form in ("tong", "bao_luc", "tinh_duc", "boc_lot", "mua_ban", "bo_roi", "khac"):
        row |= sex_split(2, 1, 1, "C4", form)
    row["C4|tinh_duc,nu"] = 0
    [finding] = check(rules, table({("P01", 2022): row}), layout)
    assert finding.message == "Xâm hại tình dục năm 2022: 2 ≠ 1."
    assert finding.key == "r0|2022|tinh_duc"
    assert (finding.indicator, finding.breakdown) == ("C4", "tinh_duc,tong")
    assert (finding.sheet, finding.cell) == where(layout, make_key("C4", "tinh_duc,tong", 2022))


@pytest.mark.parametrize("extra, right, flagged", [
    ({"tolerance": 2}, 98, False),
    ({"tolerance": 2}, 97, True),
    ({"tolerance_pct": 5}, 96, False),  # 5% of 96 = 4.8 ≥ 4
    ({"tolerance_pct": 5}, 95, True),  # 5% of 95 = 4.75 < 5
])
def test_tolerance_absolute_and_in_percent_of_the_right_side(tmp_path, config, layout, extra,
                                                            right, flagged):
    rules = rules_from(tmp_path, config, {"left": "C8.2", "operator": "==", "right": "C8.1",
                                          **extra})
    found = check(rules, table({("P01", 2021): {"C8.2|": 100, "C8.1|": right}}), layout)
    assert bool(found) == flagged
    if found:
        assert "cho phép lệch" in found[0].expected


# --------------------------------------------------------------------------- pairs


def test_compulsory_pair_points_at_the_side_still_blank(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "B3.1", "operator": "compulsory_pair",
                                          "right": "B3.2"})
    wide = table({("P01", 2021): {"B3.1|": 0, "B3.2|": 0},  # both typed
                  ("P01", 2022): {},  # both blank
                  ("P01", 2023): {"B3.1|": 2}})  # classes but no trainees typed
    [finding] = check(rules, wide, layout)
    assert finding.year == 2023
    assert (finding.sheet, finding.cell) == where(layout, make_key("B3.2", "", 2023))
    assert finding.expected == "nhập cả B3.1 và B3.2"


def test_exclusive_pair_fails_where_both_sides_have_a_value(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "C6.2", "operator": "exclusive_pair",
                                          "right": "C6.1", "missing": "never_skip"})
    wide = table({("P01", 2021): {"C6.2|": 1}, ("P01", 2022): {"C6.2|": 0, "C6.1|": 3}})
    [finding] = check(rules, wide, layout)
    assert finding.year == 2022


# --------------------------------------------------------------------------- lists


def document_list(unit: str, dates: list[str], layout) -> pd.DataFrame:
    rows = []
    for n, day in enumerate(dates, start=1):
        sheet, cell = where(layout, make_key("A.VB", f"{n},ngay"))
        rows.append((unit, "A.VB", n, "ngay", day, sheet, cell))
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def test_list_count_compares_a_number_with_the_list_rows_dated_in_that_year(
        tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"kind": "list_count", "list": "A.VB",
                                          "date_column": "ngay", "left": "A1",
                                          "operator": "=="})
    lists = document_list("P01", ["2021-03-01", "2021-11-20", "2022-05-05"], layout)
    wide = table({("P01", 2021): {"A1|": 2}, ("P01", 2022): {"A1|": 2},
                  ("P01", 2023): {"A1|": 0}})
    [finding] = check(rules, wide, layout, lists=lists)
    assert (finding.year, finding.value) == (2022, "2")
    assert finding.expected == "= 1 (số dòng danh sách A.VB có ngày ban hành trong năm)"
    assert (finding.sheet, finding.cell) == where(layout, make_key("A1", "", 2022))


def test_list_dates_outside_the_reporting_period_point_at_the_list_cell(
        tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"kind": "list_dates", "list": "A.VB",
                                          "date_column": "ngay", "severity": "warning",
                                          "message": "Ngày {left} ngoài kỳ {right}."})
    lists = document_list("P01", ["2020-12-31", "2021-01-01", "2023-03-31", "2023-04-01"],
                          layout)
    lists.loc[3, "cell"] = "E99"  # the commune inserted rows: the list knows the real cell
    found = check(rules, table({("P01", 2021): {}}), layout, lists=lists)
    assert [(f.breakdown, f.cell) for f in found] == [
        ("1,ngay", where(layout, make_key("A.VB", "1,ngay"))[1]), ("4,ngay", "E99")]
    assert found[0].severity == WARNING
    assert found[0].message == "Ngày 31/12/2020 ngoài kỳ 01/01/2021 – 31/03/2023."
    assert found[0].expected == "từ 01/01/2021 đến 31/03/2023"


def test_the_months_of_each_year_come_from_the_reporting_period(config):
    assert reporting_months(config.plan, YEARS) == {2021: 12, 2022: 12, 2023: 3}


# --------------------------------------------------------------------------- the finding


def test_message_placeholders_use_vietnamese_numbers(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {
        "left": "C7.2", "operator": "<=", "right": "C7.1 * 360000 * 2.5 * months",
        "message": "Năm {year}: {left} đồng vượt mức {right} đồng.", "severity": "error"})
    wide = table({("P01", 2023): {"C7.2|": 12_345_678, "C7.1|": 1}})
    [finding] = check(rules, wide, layout)
    assert finding.message == "Năm 2023: 12.345.678 đồng vượt mức 2.700.000 đồng."
    assert finding.expected == "≤ 2.700.000 (C7.1 * 360000 * 2.5 * months)"
    assert finding.severity == ERROR and finding.unit_name == "Phường Tứ Hạ"
    rules = rules_from(tmp_path, config, {"left": "C8.2 / C8.1", "operator": "<=",
                                          "right": "1.1"})
    [finding] = check(rules, table({("P01", 2021): {"C8.2|": 5, "C8.1|": 4}}), layout)
    assert (finding.value, finding.expected) == ("1,25", "≤ 1,1")


def test_the_cell_comes_from_the_values_frame_after_rows_were_inserted(tmp_path, config,
                                                                       layout):
    rules = rules_from(tmp_path, config, SEX_RULE)
    sheet, template_cell = where(layout, make_key("C2", "tong", 2021))
    values = pd.DataFrame([("P01", "C2", "tong", 2021, 5, sheet, "E77")], columns=VALUE_COLUMNS)
    values["year"] = values["year"].astype("Int64")
    wide = table({("P01", 2021): sex_split(5, 1, 1), ("P02", 2021): sex_split(5, 1, 1)})
    found = {f.unit_code: f for f in check(rules, wide, layout, values=values)}
    assert found["P01"].cell == "E77"  # where P01's workbook has it now
    assert found["P02"].cell == template_cell  # no values frame row: the template's cell
    assert found["P01"].sheet == sheet


def test_cell_right_points_at_the_right_side(tmp_path, config, layout):
    rules = rules_from(tmp_path, config, {"left": "C6.2", "operator": "<=", "right": "C6.1",
                                          "cell": "right"})
    [finding] = check(rules, table({("P01", 2021): {"C6.2|": 3, "C6.1|": 1}}), layout)
    assert finding.cell == where(layout, make_key("C6.1", "", 2021))[1]


def test_all_findings_are_located_with_one_lookup(tmp_path, config, layout, monkeypatch):
    rules = rules_from(tmp_path, config, SEX_RULE, {"left": "B1.3", "operator": "<=",
                                                    "right": "B1.2"})
    calls = []
    original = Locator.locate
    monkeypatch.setattr(Locator, "locate",
                        lambda self, requests: calls.append(len(requests)) or
                        original(self, requests))
    wide = table({(u, y): {**sex_split(5, 1, 1), "B1.3|": 9, "B1.2|": 1}
                  for u in ("P01", "P02", "X01") for y in YEARS})
    assert len(check(rules, wide, layout)) == 18
    assert calls == [18]


def test_a_unit_with_no_data_or_no_workbook_gets_no_findings(tmp_path, config, layout):
    rules = load_rules(config.directory / "rules.yaml", config.form, config.plan)
    wide = table({("P01", y): {} for y in YEARS})  # a workbook with nothing typed
    assert check(rules, wide, layout) == []
    empty = Wide(pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["unit_code", "year"])),
                 YEARS)
    assert check(rules, empty, layout) == []


# --------------------------------------------------------------------------- rule file mistakes


def bad_rules(tmp_path, config, *rules: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        rules_from(tmp_path, config, *rules)
    return caught.value.problems


def test_schema_mistakes_are_reported_together_with_their_key_paths(tmp_path, config):
    problems = bad_rules(tmp_path, config, {**SEX_RULE, "opertor": "=="},
                         {**SEX_RULE, "severity": "nghiêm trọng"},
                         {**SEX_RULE, "tolerance": -1})
    assert problems[0].startswith("rules.yaml: rules[0].opertor: khoá không được biết đến")
    assert problems[1].startswith("rules.yaml: rules[1].severity: giá trị không hợp lệ")
    assert problems[2].startswith("rules.yaml: rules[2].tolerance:")


def test_every_reference_mistake_is_reported_together(tmp_path, config):
    problems = bad_rules(
        tmp_path, config,
        {"id": "a", **SEX_RULE},
        {"id": "a", **SEX_RULE, "years": [2020]},
        {"left": "C9", "operator": "==", "right": "C2"},
        {"kind": "list_count", "list": "A.XX", "date_column": "ngay", "left": "A1",
         "operator": "=="},
        {"kind": "list_dates", "list": "A.VB", "date_column": "loai"},
        {**SEX_RULE, "for_each": "tinh"},
        {**SEX_RULE, "message": "{gia_tri} sai"},
        {"left": "C2", "operator": "=="},
    )
    expected = [
        "rules.yaml: rules[1].id: mã quy tắc 'a' bị trùng",
        "rules.yaml: rules[1].years: năm 2020 không có trong biểu mẫu (các năm: 2021, 2022,",
        "rules.yaml: rules[2].left: không có chỉ tiêu 'C9' trong biểu mẫu",
        "rules.yaml: rules[3].list: không có danh sách 'A.XX' trong biểu mẫu (có: A.VB)",
        "rules.yaml: rules[4].date_column: danh sách A.VB không có cột ngày 'loai'",
        "rules.yaml: rules[5].for_each: không có phân tổ 'tinh'",
        "rules.yaml: rules[6].message: không dùng được chỗ trống {gia_tri}",
        "rules.yaml: rules[7].right: thiếu khoá bắt buộc với kind: compare",
    ]
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


def test_english_severity_words_and_dhis2_operator_names_are_accepted(tmp_path, config):
    rules = rules_from(tmp_path, config, {**SEX_RULE, "severity": "warning",
                                          "operator": "equal_to"})
    assert rules.rules[0].severity == WARNING and rules.rules[0].operator == "=="


@pytest.mark.parametrize("rule, fragment", [
    ({**SEX_RULE, "for_each": "gioi_tinh"}, "for_each: biểu thức không dùng dấu $"),
    ({**SEX_RULE, "message": "{category}"}, "message: không dùng được chỗ trống {category}"),
    ({"left": "B3.1", "operator": "compulsory_pair", "right": "B3.2", "tolerance": 1},
     "operator: compulsory_pair chỉ dùng cho kind: compare"),
    ({"kind": "list_dates", "list": "A.VB", "date_column": "ngay", "left": "A1"},
     "left: không dùng khoá này với kind: list_dates"),
])
def test_keys_that_do_not_fit_the_rule_are_reported(tmp_path, config, rule, fragment):
    [problem] = bad_rules(tmp_path, config, rule)
    assert problem.startswith("rules.yaml: rules[0].") and fragment in problem


# --------------------------------------------------------------------- rule files on clean data


@pytest.fixture(scope="module")
def shipped(shipped_config) -> RuleSet:
    """The shipped deployment's rules, on the shipped form."""
    return load_rules(DEFAULT_CONFIG_DIR / "rules.yaml", shipped_config.form, shipped_config.plan)


@pytest.fixture(scope="module")
def own(config) -> RuleSet:
    """The test config's rules (tests/config/rules.yaml), on the test form."""
    return load_rules(config.directory / "rules.yaml", config.form, config.plan)


def answer_tables(answers: dict[str, dict[str, object]], layout) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """The values and lists frames extraction would give for these answers (no workbook)."""
    values, lists = [], []
    for unit, typed in answers.items():
        for key, value in typed.items():
            spec = layout.by_key[key]
            if spec.list_row is not None:
                shown = value.isoformat() if isinstance(value, date) else value
                lists.append((unit, spec.indicator, spec.list_row, spec.list_column, shown,
                              spec.sheet, spec.cell))
            else:
                values.append((unit, spec.indicator, spec.breakdown, spec.year, value,
                               spec.sheet, spec.cell))
    frame = pd.DataFrame(values, columns=VALUE_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame, pd.DataFrame(lists, columns=LIST_COLUMNS)


@pytest.mark.shipped
def test_the_shipped_rules_load_and_cover_the_form(shipped):
    ids = [r.id for r in shipped.rules]
    assert len(ids) >= 20 and len(set(ids)) == len(ids)
    kinds = {r.kind for r in shipped.rules}
    assert kinds == {"compare", "list_count", "list_dates"}
    assert {r.operator for r in shipped.rules} >= {"==", "<=", ">=", ">", "compulsory_pair"}


def clean_findings(config: Config, layout, rules: RuleSet, seed: int,
                   short_form: bool = False) -> list:
    """What `rules` find on clean synthetic answers of every unit of `config` (`short_form`:
    the form is a subset of the one synthetic.py writes for; its other keys are dropped, as
    the template writer drops them)."""
    units = config.units.units
    answers = {u.code: synthetic_answers(
        config.form, u, random.Random(f"{seed}-{u.code}"),
        reporting_end=config.plan.reporting_period.end,
        completed=config.plan.self_inspection.start) for u in units}
    if short_form:
        answers = {code: {k: v for k, v in typed.items() if k in layout.by_key}
                   for code, typed in answers.items()}
    values, lists = answer_tables(answers, layout)
    wide = build_wide(values, layout, config.form, [u.code for u in units])
    return rendered(check_rules(wide, lists, rules, Locator(values, layout),
                                {u.code: u.full_name for u in units}), rules)


@pytest.mark.shipped
@pytest.mark.parametrize("seed", [7, 11, 2023])
def test_the_shipped_rules_find_nothing_on_clean_synthetic_units(shipped_config, shipped_layout,
                                                                 shipped, seed):
    found = clean_findings(shipped_config, shipped_layout, shipped, seed)
    assert {f.rule for f in found} <= KNOWN_GENERATOR_CONFLICTS, [f.message for f in found]


@pytest.mark.parametrize("seed", [7, 11, 2023])
def test_the_test_config_rules_find_nothing_on_clean_synthetic_units(config, layout, own, seed):
    found = clean_findings(config, layout, own, seed, short_form=True)
    assert {f.rule for f in found} <= KNOWN_GENERATOR_CONFLICTS, [f.message for f in found]


def test_a_planted_break_is_caught_at_the_cell_where_it_now_sits(config, layout, own,
                                                                 make_workbook):
    path = make_workbook("P01")
    sheet, cell = where(layout, make_key("C2", "nam", 2022))
    typed = answers_for(config, "P01")
    total, boys = typed[make_key("C2", "tong", 2022)], typed[make_key("C2", "nam", 2022)]
    set_cells(path, sheet, {cell: boys + 3})  # boys + girls no longer equal the total
    insert_rows(path, sheet, before=8, amount=2)  # and the commune inserted two rows on top
    extraction = extract_workbook(read_workbook(path), layout, config.units.by_code())
    wide = build_wide(extraction.values, layout, config.form, ["P01"])
    found = rendered(check_rules(wide, extraction.lists, own,
                                 Locator(extraction.values, layout), {"P01": "Phường Tứ Hạ"}),
                     own)
    [finding] = [f for f in found if f.rule == "c2-nam-nu"]
    _, total_cell = where(layout, make_key("C2", "tong", 2022))
    moved = f"{total_cell[0]}{int(total_cell[1:]) + 2}"
    assert (finding.sheet, finding.cell, finding.year) == (sheet, moved, 2022)
    assert finding.value == str(total) and finding.expected.startswith(f"= {total + 3} ")
    assert {f.rule for f in found} - {"c2-nam-nu"} <= KNOWN_GENERATOR_CONFLICTS
