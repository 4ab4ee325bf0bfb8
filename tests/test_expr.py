"""The rule expression language: read like arithmetic, resolved against the form, never eval-ed."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from flows.config import ConfigError
from flows.core.expr import (
    Aggregate,
    ExprError,
    FormIndex,
    Ref,
    evaluate,
    parse_condition,
    parse_expression,
    references,
)
from flows.core.ruleset import load_rules


@pytest.fixture(scope="module")
def index(config) -> FormIndex:
    return FormIndex(config.form)


def value_of(text: str, index: FormIndex, cells: dict[str, float] | None = None,
             months: float = 12) -> float:
    """Evaluate `text` on one row whose typed cells are `cells`."""
    cells = cells or {}

    def column(name: str) -> np.ndarray:
        return np.array([cells.get(name, np.nan)], dtype=float)

    def present(name: str) -> np.ndarray:
        return np.array([name in cells])

    node = parse_expression(text, index)
    return float(evaluate(node, column, present, np.array([months]))[0])


def columns(text: str, index: FormIndex, placeholder: str | None = None) -> list[str]:
    return [r.column for r in references(parse_expression(text, index, placeholder))]


def load_problems(tmp_path, config, **rule) -> list[str]:
    """Write a one-rule rules.yaml and return the problems found loading it."""
    body = {"id": "r", "message": "Sai.", "instruction": "Sửa.", "severity": "lỗi",
            "operator": "==", "left": "C2", "right": "0", **rule}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [body]}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, config.form, config.plan)
    return caught.value.problems


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("8 / 4 / 2", 1),
    ("-2 * 3", -6),
    ("- (1 - 4)", 3),
    ("--5", 5),
    ("2 * -3 + 1", -5),
    ("1.5 * 2", 3),
    ("360000 * 2.5 * months", 360000 * 2.5 * 12),
])
def test_arithmetic_follows_the_usual_precedence(index, text, expected):
    assert value_of(text, index) == pytest.approx(expected)


def test_months_is_the_number_of_months_of_the_row_year_in_the_reporting_period(index):
    assert value_of("C7.1 * months", index, {"C7.1|": 2}, months=3) == 6


def test_division_by_zero_is_not_a_number_rather_than_infinity(index):
    assert np.isnan(value_of("C2 / C3", index, {"C2|tong": 5, "C3|tong": 0}))
    assert value_of("C2 / C3", index, {"C2|tong": 5, "C3|tong": 2}) == 2.5


def test_aggregates_sum_max_min_and_count_the_typed_cells(index):
    cells = {"C3|bao_luc": 2, "C3|tinh_duc": 0, "C3|khac": 5}
    assert value_of("count_filled(C3.*)", index, cells) == 3  # a typed 0 is filled
    full = {f"C3|{f}": n for f, n in zip(
        ["bao_luc", "tinh_duc", "boc_lot", "mua_ban", "bo_roi", "khac"], [2, 0, 1, 0, 3, 5],
        strict=True)}
    assert value_of("sum(C3.*)", index, full) == 11
    assert value_of("max(C3.*)", index, full) == 5
    assert value_of("min(C3.bao_luc, C3.khac)", index, full) == 2


def test_a_blank_cell_makes_the_result_not_evaluable(index):
    assert np.isnan(value_of("C2[nam] + C2[nu]", index, {"C2|nam": 3}))


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("text, column", [
    ("B3.1", "B3.1|"),
    ("C6.2", "C6.2|"),
    ("TT.10[nam]", "TT.10|nam"),
    ("C1.a[nam]", "C1|a,nam"),
    ("C1.dd[nu]", "C1|dd,nu"),
    ("C3.bao_luc", "C3|bao_luc"),
    ("C4.mua_ban[tong]", "C4|mua_ban,tong"),
])
def test_dotted_indicator_codes_are_read_greedily_then_the_row(index, text, column):
    assert columns(text, index) == [column]


@pytest.mark.parametrize("text, column", [
    ("C4", "C4|tong,tong"),
    ("TT.10", "TT.10|tong"),
    ("C3", "C3|tong"),
    ("C1[nu]", "C1|tong,nu"),
    ("C1.a", "C1|a,tong"),
    ("C5", "C5|tong"),
])
def test_a_missing_row_or_column_means_the_total(index, text, column):
    assert columns(text, index) == [column]


def test_star_selects_every_group_but_not_the_total_inside_an_aggregate(index):
    node = parse_expression("sum(C1.*[nam])", index)
    assert isinstance(node, Aggregate)
    assert len(node.refs) == 4  # the test form's 4 groups (a, d, dd, l) of nhom_hcdb
    assert all(r.breakdown.endswith(",nam") and not r.breakdown.startswith("tong,")
               for r in node.refs)
    assert columns("sum(C4.bao_luc[*])", index) == ["C4|bao_luc,nam", "C4|bao_luc,nu"]
    assert len(columns("count_filled(C4.*[*])", index)) == 12


def test_dollar_stands_for_the_for_each_category(index):
    assert columns("C1.$[tong] - C1.$[nam]", index, placeholder="l") == ["C1|l,tong", "C1|l,nam"]
    assert columns("C1.tong[$]", index, placeholder="nu") == ["C1|tong,nu"]


def test_count_filled_operands_are_not_counted_as_missing(index):
    node = parse_expression("count_filled(C3.*) + C2", index)
    assert [r.column for r in references(node, counted=False)] == ["C2|tong"]


def test_a_condition_is_two_expressions_and_a_comparison(index):
    condition = parse_condition("B3.1 > 0", index)
    assert condition.op == ">" and condition.left == Ref("B3.1", "", True)


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize("text, fragment", [
    ("C9", "không có chỉ tiêu 'C9' trong biểu mẫu"),
    ("C6.9", "không có chỉ tiêu 'C6.9' trong biểu mẫu"),
    ("C1.z[nam]", "chỉ tiêu C1 không có dòng 'z'"),
    ("C2[tre]", "chỉ tiêu C2 không có cột 'tre'"),
    ("B1.1[nam]", "chỉ tiêu B1.1 không chia cột"),
    ("TT.10.a", "chỉ tiêu TT.10 không chia dòng"),
    ("C1.*[nam]", "dấu * (mọi dòng) ở C1 chỉ dùng được trong sum(...)"),
    ("A5", "chỉ tiêu A5 có kiểu yesno, không phải số"),
    ("TT.3", "chỉ tiêu TT.3 có kiểu text"),
    ("C1.$[tong]", "dấu $ chỉ dùng được trong quy tắc có for_each"),
    ("C2 +", "lỗi cú pháp (ký tự thứ 5)"),
    ("(C2 + 1", "lỗi cú pháp (ký tự thứ 8): thiếu dấu đóng ngoặc )"),
    ("C2 3", "lỗi cú pháp (ký tự thứ 4)"),
    ("C2 = 3", "so sánh bằng viết là =="),
    ("C2 # 3", "lỗi cú pháp (ký tự thứ 4): không hiểu ký tự '#'"),
    ("avg(C3.*)", "không biết tên 'avg'"),
    ("sum(1, 2)", "trong sum(...) chỉ ghi mã chỉ tiêu"),
    ("c2", "không biết tên 'c2'"),
])
def test_a_wrong_expression_is_a_config_error_naming_file_key_and_fault(
        tmp_path, config, text, fragment):
    [problem] = load_problems(tmp_path, config, left=text)
    assert problem.startswith("rules.yaml: rules[0].left: ")
    assert fragment in problem


def test_a_wrong_condition_names_the_when_key(tmp_path, config):
    [problem] = load_problems(tmp_path, config, when="B3.1 + 1")
    assert problem.startswith("rules.yaml: rules[0].when: lỗi cú pháp (ký tự thứ 9)")
    assert "phép so sánh" in problem


def test_a_category_that_does_not_fit_one_for_each_group_names_the_group(tmp_path, config):
    [problem] = load_problems(tmp_path, config, for_each="hinh_thuc", left="C1.$[tong]")
    assert problem.startswith("rules.yaml: rules[0].left: chỉ tiêu C1 không có dòng 'bao_luc'")
    assert problem.endswith("(khi $ = bao_luc)")


def test_parse_errors_carry_their_position(index):
    with pytest.raises(ExprError, match=r"ký tự thứ 6"):
        parse_expression("C2 * )", index)
