"""Nothing a commune typed comes alive in what we write, every writer survives every character,
and Word and Excel open our files without complaint (an OOXML validator says so)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout
from flows.outputs.findings_xlsx import write_findings_xlsx
from flows.outputs.report import render_report
from flows.outputs.safe import MARK
from flows.outputs.tables import csv_text, write_csv
from flows.sources.xlsx import read_workbook

NASTY = [
    '=HYPERLINK("http://example.com/x","Bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "<script>alert('x')</script> &amp; <b>đậm</b>",
    "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}",
    "Dòng 1\x0bDòng 2 (ngắt dòng dán từ Word)",
    "Tốt\u202etxt.exe",
    "ký tự\x00rỗng và \x1b điều khiển",
    'ngoặc "kép", dấu phẩy',
]
AS_OF = date(2023, 4, 5)


@pytest.fixture(scope="module")
def written(tmp_path_factory, test_config, test_layout):
    """A consolidation whose communes typed the nastiest strings, and every output written."""
    from conftest import answers_for

    from flows.sources.xlsx import write_template

    folder = tmp_path_factory.mktemp("nasty")
    extractions = []
    for i, code in enumerate(("P01", "P02")):
        answers = answers_for(test_config, code)
        for j, key in enumerate(("D1||", "D2||", "D3||", "D4||")):
            answers[key] = NASTY[(4 * i + j) % len(NASTY)]
        answers["B1.1||2021"] = NASTY[i]  # text in a number cell: a finding quoting it
        path = folder / f"{code}.xlsx"
        write_template(build_layout(test_config, test_config.units.by_code()[code]), path,
                       answers)
        extractions.append(extract_workbook(read_workbook(path), test_layout,
                                            test_config.units.by_code()))
    result = consolidate(extractions, test_config, test_layout, AS_OF, test_config.rules)
    # Reading already drops XML-illegal characters (with a note); the writers must not depend
    # on it: one value gets them back, as a source that forgot would hand them over.
    d3 = (result.values.unit_code == "P01") & (result.values.indicator == "D4")
    result.values.loc[d3, "value"] = "Dòng 1\x0bDòng 2\u202e\x00"
    out = folder / "ket-qua"
    out.mkdir()
    write_csv(out / "values.csv", result.values)
    write_csv(out / "findings.csv", result.findings)
    write_findings_xlsx(out / "findings.xlsx", result.findings, result.status,
                        test_config.catalogue)
    files = render_report(result, test_config, test_layout, out, AS_OF, pdf=False)
    return result, out, files


def test_the_nasty_text_was_read_as_typed(written):
    result, _, _ = written
    texts = set(result.values[result.values.indicator.isin(["D1", "D2", "D3", "D4"])].value)
    assert '=HYPERLINK("http://example.com/x","Bấm vào đây")' in texts
    assert "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}" in texts


def test_csv_fields_that_would_run_as_formulas_are_quoted_and_read_back_exactly(written):
    result, out, _ = written
    text = (out / "values.csv").read_text(encoding="utf-8")
    for line in text.splitlines()[1:]:
        for field in next(__import__("csv").reader([line])):
            if field.startswith(("=", "+", "-", "@", "\t")):
                assert f'"{field}' in line.replace('""', '"'), line
    back = pd.read_csv(out / "values.csv", dtype=str, keep_default_na=False)
    d1 = back[back.indicator == "D1"].set_index("unit_code").value
    assert d1["P01"] == '=HYPERLINK("http://example.com/x","Bấm vào đây")'
    assert csv_text(pd.DataFrame({"a": ["=1+1"]})) == 'a\n"=1+1"\n'


def test_no_text_cell_of_findings_xlsx_is_a_formula(written):
    _, out, _ = written
    book = load_workbook(out / "findings.xlsx")
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    assert any(isinstance(c.value, str) and c.value.startswith("=")
               for ws in book.worksheets for row in ws.iter_rows() for c in row)


def test_findings_xlsx_prints_landscape_a4_fit_to_width_with_repeated_headers(written):
    _, out, _ = written
    book = load_workbook(out / "findings.xlsx")
    unit = book["P01 Phường Tứ Hạ"]
    assert unit.page_setup.orientation == "landscape" and unit.page_setup.paperSize == 9
    assert unit.page_setup.fitToWidth == 1 and unit.sheet_properties.pageSetUpPr.fitToPage
    assert unit.print_title_rows.replace("$", "") == "1:1"
    heights = [unit.row_dimensions[r].height for r in range(2, unit.max_row + 1)]
    assert all(h and h >= 15 for h in heights) and max(heights) > 15  # wrapped text shows
    summary = book["Tổng hợp"]
    names = [summary.cell(r, 1).value for r in range(1, summary.max_row + 1)]
    assert "Loại kiểm tra" in names  # checks are named in Vietnamese, not by code
    assert {"Số kèm chữ", "Không phải số"} & set(names)


def test_html_is_escaped_and_docx_holds_the_text_literally(written):
    _, out, files = written
    html = files.html.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    with zipfile.ZipFile(files.docx) as docx:
        body = docx.read("word/document.xml").decode("utf-8")
    assert "{{ 7*7 }}" in body and "49" not in body.split("{{ 7*7 }}")[0][-20:]
    assert "&lt;script&gt;" in body and "\x0b" not in body and "\x00" not in body
    assert MARK in body  # the removed characters show as a visible mark


def test_every_writer_survives_every_code_point_class(tmp_path, test_config):
    """Controls, surrogates, private use, bidi, non-characters, astral: written, never raised."""
    strings = ["".join(chr(c) for c in range(0, 32)), "\ud800\udfff", "\ue000\uf8ff",
               "\u202a\u202b\u202c\u202d\u202e\u2066\u2069", "\ufffe\uffff", "😀𝔘𠀀",
               "\u0301\u0300 dấu rời", "\u00a0\u2028\u2029"]
    frame = pd.DataFrame({"finding_id": [f"{i}" for i in range(len(strings))],
                          "unit_code": "P01", "unit_name": "Phường Tứ Hạ", "source": "P01.xlsx",
                          "sheet": strings, "cell": "E1", "indicator": "B1.1", "breakdown": "",
                          "year": pd.array([2021] * len(strings), dtype="Int64"),
                          "rule": "not-a-number", "severity": "error", "message": strings,
                          "instruction": strings, "value": strings, "expected": "",
                          "category": "reading", "rule_name": "Không phải số"})
    status = pd.DataFrame([{"unit_code": "P01", "unit_name": "Phường Tứ Hạ",
                            "timeliness": "Đang nhập", "completeness": 50.0, "errors": 8,
                            "warnings": 0}])
    write_findings_xlsx(tmp_path / "f.xlsx", frame, status, test_config.catalogue)
    write_csv(tmp_path / "f.csv", frame)
    assert len(load_workbook(tmp_path / "f.xlsx")["P01 Phường Tứ Hạ"]["E2"].value) > 0
    assert len(pd.read_csv(tmp_path / "f.csv", dtype=str, keep_default_na=False)) == len(strings)


def _validate(path: Path) -> list[str]:
    """The OOXML validator's errors for one file (an empty list when it is valid)."""
    import json

    audit = shutil.which("openxml-audit") or str(Path(sys.executable).parent / "openxml-audit")
    done = subprocess.run([audit, str(path), "--output", "json", "-m", "0"],
                          capture_output=True, text=True, timeout=300)
    [report] = json.loads(done.stdout)
    return [f"{e['part_uri']} {e['path']}: {e['description']}" for e in report["errors"]
            if e.get("severity") == "error"]


@pytest.mark.parametrize("name", ["bao-cao.docx", "phu-luc.xlsx", "findings.xlsx"])
def test_word_and_excel_files_validate_against_the_ooxml_schema(written, name):
    pytest.importorskip("openxml_audit")
    _, out, _ = written
    assert _validate(out / name) == []


def test_the_report_carries_its_own_title_author_and_date(written, test_config):
    _, _, files = written
    from docx import Document

    core = Document(str(files.docx)).core_properties
    assert core.title.startswith("Báo cáo") and test_config.plan.report.title in core.title
    issuer = " ".join(test_config.plan.report.header_lines()[1])
    assert core.author == issuer
    assert core.created.year >= 2026 and core.revision == 1
