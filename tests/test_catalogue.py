"""The catalogue of findings: every code declared once, every code raised by the code declared,
every template renders, and office staff's edits are checked when the config loads."""

from __future__ import annotations

import ast
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from flows.config import ConfigError, load_config
from flows.config.catalogue import CATALOGUE_FILE
from flows.config.workspace import shipped_templates
from flows.core.findings import Finding, Reason, findings_frame, severity_words

FLOWS = Path(__file__).resolve().parents[1] / "flows"
CONSTRUCTORS = {"Finding", "Issue", "Reason"}
# A value of the right kind for every field the catalogue's templates name.
SAMPLES = {
    "date": date(2023, 3, 31), "datetime": datetime(2023, 4, 1, 0, 30),
    "list": ["E10", "E11"], "number": 12.5, "text": "“12 trẻ”", "kinds": ["number", "text"],
}
FIELD_KINDS = {
    "typed": "text", "day": "date", "as_of": "date", "start": "date", "end": "date",
    "deadline": "date", "used": "date", "when": "datetime", "completed": "datetime",
    "first_complete": "datetime", "seen_incomplete": "datetime", "read_at": "datetime",
    "names": "list", "choices": "list", "cells": "list", "more": "number", "kinds": "kinds",
}
NUMBERS = {"count", "number", "days", "year", "value", "baseline", "low", "high", "change",
           "median", "z", "threshold", "units", "row", "original_row", "missing", "total",
           "attempts", "status", "length", "limit", "size_mb", "limit_mb", "seconds"}


def sample(field: str) -> object:
    if field in NUMBERS:
        return SAMPLES["number"]
    return SAMPLES[FIELD_KINDS.get(field, "text")]


def _constants(node: ast.AST) -> set[str]:
    return {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)
            and isinstance(c.value, str)}


def product_trees() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8")))
            for path in FLOWS.rglob("*.py") if "testing" not in path.parts]


def raised_codes() -> set[str]:
    """Every constant code the product passes to Finding, Issue, Reason (or a reader's
    `finding`), and the codes of the checks tables (timeliness, late edits)."""
    codes: set[str] = set()
    for path, tree in product_trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in CONSTRUCTORS | {"finding"} and node.args:
                codes |= _constants(node.args[0])
            if name == "append" and path.name in ("timeliness.py", "audit.py"):
                codes |= {c for c in _constants(node) if "-" in c}
        if path.name == "timeliness.py":
            codes |= {c for n in ast.walk(tree) if isinstance(n, ast.Tuple)
                      for c in _constants(n) if c.count("-") >= 1 and " " not in c}
    return {c for c in codes if c and " " not in c and c == c.lower()}


def mentioned() -> set[str]:
    return {c for _, tree in product_trees() for c in _constants(tree)}


@pytest.fixture(scope="module")
def catalogue():
    return load_config().catalogue


def test_every_code_renders_with_values_of_its_fields(catalogue):
    own = {code: c for code, c in catalogue.codes.items() if code not in catalogue.rule_codes}
    raw = yaml.safe_load((shipped_templates() / CATALOGUE_FILE).read_text(encoding="utf-8"))
    assert set(own) == set(raw["findings"])  # one entry per code, no more
    for code, entry in raw["findings"].items():
        params = {f: sample(f) for f in entry.get("fields", [])}
        words = catalogue.render(code, params, strict=True)
        assert words.message and words.name and "{{" not in words.message, code
        assert words.severity in ("error", "warning", "info")
        assert words.message == " ".join(words.message.split()), code  # no stray spaces


def test_every_reason_renders(catalogue):
    for code in catalogue.reasons:
        assert catalogue.reason(code, {"kind": "fifo", "detail": "x", "attempts": 8,
                                       "status": 503, "seconds": 60, "size_mb": 31.5,
                                       "limit_mb": 25}, strict=True)


def test_every_code_the_product_raises_is_declared_and_every_declared_code_is_raised(
        catalogue):
    raised = raised_codes()
    declared = set(catalogue.codes) - catalogue.rule_codes
    reasons = set(catalogue.reasons)
    assert raised - declared - reasons - {"google-"} == set()
    assert (declared | reasons) - mentioned() - {f"google-{n}" for n in (400, 401, 403, 404)} \
        == set()


def test_one_text_per_code_the_negative_number_reads_the_same_typed_or_number(catalogue):
    from flows.core.cells import parse_cell

    typed, number = parse_cell("-3", "integer"), parse_cell(-3, "integer")
    words = [catalogue.render(p.rule, p.params).message
             for p in (typed.problems[0], number.problems[0])]
    assert words == ["Số âm “-3” không hợp lệ.", "Số âm “-3” không hợp lệ."]


# Numbers a message may show as plain digits: years, rows, small counts, what to type.
PLAIN_NUMBERS = {"year", "row", "original_row", "count", "days", "digits", "number", "missing",
                 "total", "units", "attempts", "status", "seconds"}
NOT_NUMBERS = {("sheet-too-large", "limit")}  # a cell address (AZ1000), not a number


def test_every_number_a_message_shows_is_written_the_vietnamese_way():
    """A computed or stored number goes through |number (1.234,5); only years, rows, counts
    and the digits to type are shown as they are."""
    raw = yaml.safe_load((shipped_templates() / CATALOGUE_FILE).read_text(encoding="utf-8"))
    unfiltered = set()
    for code, entry in raw["findings"].items():
        numbers = {f for f in entry.get("fields", []) if f in NUMBERS} - PLAIN_NUMBERS
        for key in ("message", "instruction", "expected"):
            shown = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", entry.get(key, "")))
            unfiltered |= {(code, key, name) for name in shown & numbers
                           if (code, name) not in NOT_NUMBERS}
    assert unfiltered == set()


def test_a_number_too_large_to_be_true_is_shown_with_vietnamese_separators(catalogue):
    def said(value):
        return catalogue.render("implausible-number", {"value": value, "limit": 1_000_000},
                                strict=True).message

    assert said(1234567.5) == ("1.234.567,5 lớn hơn mức có thể có của ô này (1.000.000); số "
                               "liệu không được tính.")
    assert said(1e29).startswith("100.000.000.000.000.000.000.000.000.000 lớn hơn")


def test_severities_are_stored_as_codes_and_shown_in_words(catalogue):
    frame = findings_frame([Finding("negative-number", {"typed": "-3"}, unit_code="P01"),
                            Finding("not-nfc", unit_code="P01")], catalogue)
    assert list(frame.severity) == ["error", "info"]
    assert list(severity_words(frame, catalogue).severity) == ["lỗi", "thông tin"]
    assert list(frame.category) == ["reading", "reading"]
    assert list(frame.rule_name) == ["Số âm", "Chữ tiếng Việt dạng tổ hợp"]


def test_operational_problems_are_access_or_system_findings(catalogue):
    for code in ("unreadable-file", "unreachable", "internal-error", "writeback-failed",
                 "dashboard-failed", "listing-failed"):
        assert catalogue.category(code) in ("access", "system"), code
    for code in ("reminder-failed", "reminder-config"):
        assert catalogue.category(code) == "system"
    reason = catalogue.render("unreadable-file", {
        "source": "X01.xlsx", "reason": Reason("cannot-open", {"kind": "BadZipFile"})})
    assert reason.message == "Tệp “X01.xlsx”: không mở được tệp (BadZipFile)."


def test_rules_of_rules_yaml_are_codes_of_the_consistency_category(catalogue):
    assert "c2-nam-nu" in catalogue.rule_codes
    assert catalogue.category("c2-nam-nu") == "consistency"
    assert catalogue.severity("c2-nam-nu") == "error"


@pytest.fixture
def workspace(tmp_path) -> Path:
    shutil.copytree(Path(load_config().directory), tmp_path / "config")
    shutil.copytree(shipped_templates(), tmp_path / "templates")
    return tmp_path


def test_office_staff_reword_a_message_in_their_own_templates(workspace):
    path = workspace / "templates" / CATALOGUE_FILE
    text = path.read_text(encoding="utf-8").replace(
        'message: "Số âm “{{ typed }}” không hợp lệ."',
        'message: "Ô này ghi số âm “{{ typed }}”."')
    path.write_text(text, encoding="utf-8")
    catalogue = load_config(workspace / "config").catalogue
    assert catalogue.render("negative-number", {"typed": "-3"}).message == "Ô này ghi số âm “-3”."


def test_an_unknown_placeholder_or_a_broken_template_is_a_config_error(workspace):
    path = workspace / "templates" / CATALOGUE_FILE
    text = path.read_text(encoding="utf-8")
    text = text.replace('message: "Số âm “{{ typed }}” không hợp lệ."',
                        'message: "Số âm {{ so_am }} không hợp lệ."')
    text = text.replace('message: "“{{ typed }}” không phải số nguyên."',
                        'message: "{% if typed %}chưa đóng"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(workspace / "config")
    problems = caught.value.problems
    assert any(p.startswith("findings.yaml: findings.negative-number.message: không dùng được "
                            "chỗ trống {{ so_am }}") for p in problems), problems
    assert any(p.startswith("findings.yaml: findings.not-whole-number.message: mẫu câu sai cú "
                            "pháp") for p in problems), problems


def test_a_rule_id_may_not_take_a_catalogue_code(workspace):
    path = workspace / "config" / "rules.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["rules"][0]["id"] = "negative-number"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(workspace / "config")
    assert caught.value.problems == [
        "rules.yaml: rules[0].id: mã 'negative-number' đã là một mã của danh mục phát hiện "
        "(findings.yaml); đặt mã khác"]
