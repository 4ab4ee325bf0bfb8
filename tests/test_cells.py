"""What a commune types into one cell, and how it is read: a value, or a clear problem."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest
from helpers import words

from flows.core.cells import parse_cell
from flows.core.findings import ERROR, INFO, WARNING
from flows.core.inputs import Formula

YES_NO = ("Có", "Không")
STATUS = ("Đang nhập", "Đã hoàn thành")


def rules(parsed) -> list[tuple[str, str]]:
    return [(p.rule, words(p).severity) for p in parsed.problems]


@pytest.mark.parametrize("raw, value", [
    (12, 12), (12.0, 12), ("12", 12), (0, 0), ("0", 0), ("+7", 7),
])
def test_plain_counts_are_read_without_findings(raw, value):
    parsed = parse_cell(raw, "integer")
    assert (parsed.value, parsed.problems) == (value, [])


def test_blank_is_missing_but_zero_is_an_answer():
    assert parse_cell(None, "integer").blank and parse_cell(None, "integer").value is None
    assert parse_cell("   ", "integer").blank
    zero = parse_cell(0, "integer")
    assert zero.value == 0 and not zero.blank


def test_vietnamese_thousands_are_read_with_a_warning_to_confirm():
    parsed = parse_cell("1.234", "integer")
    assert parsed.value == 1234
    assert rules(parsed) == [("thousands-separator", WARNING)]
    assert "1234" in words(parsed.problems[0]).message


def test_money_with_vietnamese_grouping():
    parsed = parse_cell("1.500.000", "money")
    assert parsed.value == 1_500_000 and rules(parsed) == [("thousands-separator", WARNING)]


@pytest.mark.parametrize("raw, rule", [
    ("1,5", "not-whole-number"),
    ("1.5", "not-whole-number"),
    (2.5, "not-whole-number"),
    ("12 trẻ", "number-with-text"),
    ("khoảng 30", "number-with-text"),
    ("mười", "number-in-words"),
    ("hai mươi lăm", "number-in-words"),
    ("không rõ", "not-a-number"),
    (-3, "negative-number"),
    ("-3", "negative-number"),
    ("1,234", "ambiguous-number"),
    (True, "not-a-number"),
    ("#REF!", "formula-error"),
    ("#DIV/0!", "formula-error"),
])
def test_bad_numbers_are_errors_and_never_guessed(raw, rule):
    parsed = parse_cell(raw, "integer")
    assert parsed.value is None
    assert rules(parsed) == [(rule, ERROR)]
    assert words(parsed.problems[0]).instruction  # always says what to type instead


def test_a_decimal_the_cell_holds_is_quoted_the_vietnamese_way_and_typed_text_as_typed():
    """The number 1.234 in a count cell reads back as “1,234” ("1.234" would read as one
    thousand two hundred thirty-four); the text “1.5” a commune typed is quoted as typed."""
    assert [words(p).message for p in parse_cell(1.234, "integer").problems] == [
        "“1,234” không phải số nguyên."]
    assert [words(p).message for p in parse_cell("1.5", "integer").problems] == [
        "“1.5” không phải số nguyên."]
    assert [words(p).message for p in parse_cell(-1234.5, "money").problems] == [
        "Số âm “-1.234,5” không hợp lệ."]
    assert [words(p).message for p in parse_cell(Formula("=B9/4", 2.5), "integer").problems] == [
        "Ô chứa công thức =B9/4; đã dùng kết quả 2,5.", "“2,5” không phải số nguyên."]


def test_decimal_money_is_refused_because_money_is_in_dong():
    parsed = parse_cell("1,5", "money")
    assert parsed.value is None and rules(parsed) == [("money-not-whole", ERROR)]
    assert "1500000" in words(parsed.problems[0]).instruction


def test_spaces_around_a_number_are_removed_and_noted():
    parsed = parse_cell("  45 ", "integer")
    assert parsed.value == 45 and rules(parsed) == [("whitespace", INFO)]


def test_a_formula_uses_its_computed_value_with_a_warning():
    parsed = parse_cell(Formula("=5+7", 12), "integer")
    assert parsed.value == 12 and rules(parsed) == [("formula", WARNING)]


def test_a_formula_without_a_result_is_an_error():
    parsed = parse_cell(Formula("=B5+C5", None), "integer")
    assert parsed.value is None and rules(parsed) == [("formula-no-result", ERROR)]


def test_a_formula_showing_ref_error_is_reported_once_as_an_error():
    parsed = parse_cell(Formula("=#REF!+1", "#REF!"), "integer")
    assert parsed.value is None and rules(parsed) == [("formula-error", ERROR)]


def test_a_date_typed_as_text_is_day_first():
    parsed = parse_cell("05/04/2023", "date")
    assert parsed.value == "2023-04-05"
    assert rules(parsed) == [("text-date", WARNING)]
    assert "5 tháng 4" in words(parsed.problems[0]).message


@pytest.mark.parametrize("raw, iso", [
    (datetime(2023, 3, 15), "2023-03-15"),
    (44995, "2023-03-10"),  # a Google Sheets serial date
])
def test_real_dates_and_serials(raw, iso):
    parsed = parse_cell(raw, "date")
    assert (parsed.value, parsed.problems) == (iso, [])


@pytest.mark.parametrize("raw", ["31/02/2023", "tháng 3", "15/03/1890", 0])
def test_impossible_dates_are_errors(raw):
    parsed = parse_cell(raw, "date")
    assert parsed.value is None and rules(parsed) == [("bad-date", ERROR)]


def test_choices_match_case_and_accents_loosely_but_say_so():
    assert parse_cell("có", "yesno", YES_NO).value == "Có"
    loose = parse_cell("da hoan thanh", "choice", STATUS)
    assert loose.value == "Đã hoàn thành" and rules(loose) == [("choice-without-accents", INFO)]
    bad = parse_cell("Xong", "choice", STATUS)
    assert bad.value is None and rules(bad) == [("bad-choice", ERROR)]
    assert "Đã hoàn thành" in words(bad.problems[0]).instruction


def test_non_nfc_text_is_normalised_and_noted():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hoa")
    parsed = parse_cell(decomposed, "text")
    assert parsed.value == "Nguyễn Thị Hoa"
    assert unicodedata.is_normalized("NFC", parsed.value)
    assert rules(parsed) == [("not-nfc", INFO)]


def test_text_that_looks_like_a_formula_stays_text():
    parsed = parse_cell("=IMPORTXML(\"http://x\")", "text")
    assert parsed.value == "=IMPORTXML(\"http://x\")" and parsed.problems == []
