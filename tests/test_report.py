"""The consolidated report: Decree 30/2020 layout, numbers equal to the data, honest totals,
Vietnamese formatting, draft and final, HTML, formulas in phu-luc.xlsx, charts, PDF.

The report is made for the test config (thị xã Thử Nghiệm, 6 units); one test checks the header
of the shipped deployment's report (thị xã Hương Trà).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import zipfile
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import answers_for
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from openpyxl import load_workbook

from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout, make_key
from flows.core.ruleset import load_rules
from flows.core.vnformat import auto
from flows.demo import DEMO_AS_OF, build_workspace
from flows.outputs.report import pdf as pdf_module
from flows.outputs.report import render_report, summary_markdown
from flows.outputs.report.appendix_xlsx import DATA_SHEET
from flows.outputs.report.charts import font_has_glyphs, font_path
from flows.outputs.report.content import build_content
from flows.outputs.report.figures import Figures
from flows.outputs.report.measure import text_width_pt
from flows.outputs.report.model import COVERAGE, H2, H3, TEXT, TOTAL, UNIT
from flows.outputs.report.template_builder import build_template
from flows.outputs.report.wording import TEMPLATES_DIR, load_wording
from flows.sources.xlsx import read_workbook, write_template

AS_OF = date(2023, 4, 5)
MISSING = "X03"  # this unit never sends a workbook
TYPO_UNIT = "P02"  # this one typed a number in words: one blank cell, one error


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def result(config, layout, tmp_path_factory):
    """5 of the 6 units report; one typed “mười” into a number cell."""
    folder = tmp_path_factory.mktemp("nguon")
    units = config.units.by_code()
    for unit in config.units.active():
        if unit.code == MISSING:
            continue
        answers = answers_for(config, unit.code)
        if unit.code == TYPO_UNIT:
            answers[make_key("B5.1", "", 2021)] = "mười"
        write_template(build_layout(config, unit), folder / f"{unit.code}.xlsx", answers)
    extractions = [extract_workbook(read_workbook(path), layout, units)
                   for path in sorted(folder.glob("*.xlsx"))]
    rules = load_rules(config.directory / "rules.yaml", config.form, config.plan)
    return consolidate(extractions, config, layout, AS_OF, rules)


@pytest.fixture(scope="module")
def final_config(config):
    report = config.plan.report.model_copy(update={"number": "5"})
    return config.model_copy(update={"plan": config.plan.model_copy(update={"report": report})})


@pytest.fixture(scope="module")
def draft(result, config, layout, tmp_path_factory):
    return render_report(result, config, layout, tmp_path_factory.mktemp("draft"), AS_OF,
                         final=False, pdf=False)


@pytest.fixture(scope="module")
def final(result, final_config, layout, tmp_path_factory):
    return render_report(result, final_config, layout, tmp_path_factory.mktemp("final"), AS_OF,
                         final=True, pdf=False)


@pytest.fixture(scope="module")
def content(result, config):
    return build_content(result, config, AS_OF, False, load_wording())


# --------------------------------------------------------------------------- helpers


def all_paragraphs(document):
    """Every paragraph of the body, tables included, in document order."""
    from docx.text.paragraph import Paragraph

    return [Paragraph(p, document) for p in document.element.body.iter(qn("w:p"))]


def body_text(path: Path) -> str:
    return "\n".join(p.text for p in all_paragraphs(Document(str(path))))


def header_texts(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        parts = [archive.read(n).decode() for n in archive.namelist()
                 if re.match(r"word/header\d*\.xml", n)]
    return " ".join(re.sub(r"<[^>]+>", "", part) for part in parts)


def appendix_tables(document):
    return [t for t in document.tables if t.style is not None and t.style.name == "Table Grid"]


def parse_vn(text: str) -> float | None:
    """"1.234" → 1234, "12,5" → 12.5; "" → None."""
    text = text.strip().rstrip("*")
    if not text:
        return None
    return float(text.replace(".", "").replace(",", "."))


def expected_matrix(result) -> dict[tuple[str, str], float]:
    """(unit, value key) → number, straight from the consolidated tidy table."""
    values = result.values.copy()
    values["number"] = pd.to_numeric(values["value"], errors="coerce")
    values = values[values["number"].notna()]
    return {(r.unit_code, make_key(r.indicator, r.breakdown or "",
                                   None if pd.isna(r.year) else int(r.year))): float(r.number)
            for r in values.itertuples()}


def mm(length) -> float:
    return length / Mm(1)


# --------------------------------------------------------------------------- Decree 30 layout


def test_header_block_number_date_title_and_signature(draft, config):
    document = Document(str(draft.docx))
    text = body_text(draft.docx)
    report = config.plan.report
    for needed in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                   "Số: …/BC-UBND", f"{report.place}, ngày … tháng … năm …", "BÁO CÁO",
                   report.title, "Nơi nhận:", "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH",
                   "PHÓ CHỦ TỊCH", report.signer.name, "I. TÌNH HÌNH", "II. KẾT QUẢ",
                   "III. TỒN TẠI", "IV. ĐỀ XUẤT", "Phụ lục I", "(Kèm theo Báo cáo số"]:
        assert needed in text, needed
    header = document.tables[0]  # the borderless two-column header block
    borders = header._tbl.tblPr.find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"nil"}
    left = [p for p in header.cell(0, 0).paragraphs if p.text.strip()]
    assert [p.text for p in left] == ["ỦY BAN NHÂN DÂN", "THỊ XÃ THỬ NGHIỆM"]
    assert all(p.style.font.bold for p in left)
    right = [p for p in header.cell(0, 1).paragraphs if p.text.strip()]
    assert right[0].style.font.bold and right[0].style.font.size.pt in (12, 13)
    assert right[1].style.font.bold and right[1].style.font.size.pt in (13, 14)
    assert header.cell(1, 1).paragraphs[0].style.font.italic  # place and date
    assert header.cell(1, 0).paragraphs[0].style.font.size.pt == 13
    signature = document.tables[1]
    recipients = [p for p in signature.cell(0, 0).paragraphs if p.text.strip()]
    assert recipients[0].text == "Nơi nhận:"
    assert recipients[0].style.font.bold and recipients[0].style.font.italic
    assert recipients[0].style.font.size.pt == 12
    assert all(p.style.font.size.pt == 11 for p in recipients[1:])
    assert recipients[-1].text.startswith("- Lưu: VT")
    signer = [p for p in signature.cell(0, 1).paragraphs if p.text.strip()]
    assert [p.text for p in signer] == ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH",
                                        report.signer.name]
    assert all(p.style.font.bold for p in signer)


@pytest.mark.slow
@pytest.mark.shipped
def test_the_shipped_report_is_headed_for_huong_tra(shipped_config, shipped_layout, tmp_path):
    """The shipped deployment's report metadata (config/plan.yaml) in the header block, the
    place and date line, the signature and the appendix note."""
    from flows.demo import demo_answers

    unit = shipped_config.units.by_code()["P01"]
    path = tmp_path / "P01.xlsx"
    write_template(build_layout(shipped_config, unit), path,
                   demo_answers(shipped_config)[0]["P01"])
    one = [extract_workbook(read_workbook(path), shipped_layout, shipped_config.units.by_code())]
    nothing = consolidate(one, shipped_config, shipped_layout, AS_OF, shipped_config.rules)
    report = shipped_config.plan.report.model_copy(update={"number": "5"})
    numbered = shipped_config.model_copy(
        update={"plan": shipped_config.plan.model_copy(update={"report": report})})
    draft = render_report(nothing, shipped_config, shipped_layout, tmp_path / "draft", AS_OF,
                          final=False, pdf=False)
    final = render_report(nothing, numbered, shipped_layout, tmp_path / "final", AS_OF,
                          final=True, pdf=False)
    for files in (draft, final):
        header = Document(str(files.docx)).tables[0]
        left = [p.text for p in header.cell(0, 0).paragraphs if p.text.strip()]
        assert left == ["ỦY BAN NHÂN DÂN", "THỊ XÃ HƯƠNG TRÀ"]
        signature = Document(str(files.docx)).tables[1]
        signer = [p.text for p in signature.cell(0, 1).paragraphs if p.text.strip()]
        assert signer[-1] == "Nguyễn Văn A"
    assert "Hương Trà, ngày … tháng … năm …" in body_text(draft.docx)
    final_text = body_text(final.docx)
    assert "Hương Trà, ngày 05 tháng 4 năm 2023" in final_text
    assert "(Kèm theo Báo cáo số 05/BC-UBND ngày 05 tháng 4 năm 2023 của Ủy ban nhân dân " \
           "thị xã Hương Trà)" in final_text
    assert "Ủy ban nhân dân thị xã Hương Trà báo cáo kết quả như sau" in final_text


def test_an_empty_source_says_so_at_the_top_instead_of_pages_of_empty_tables(
        config, layout, tmp_path):
    nothing = consolidate([], config, layout, AS_OF, config.rules)
    files = render_report(nothing, config, layout, tmp_path, AS_OF, final=False, pdf=False)
    document = Document(str(files.docx))
    text = body_text(files.docx)
    assert ("Tính đến ngày 05 tháng 4 năm 2023, chưa nhận được bảng tính nào của 6 đơn vị (các "
            "xã, phường) nên chưa có số liệu để tổng hợp. Hạn gửi báo cáo theo Kế hoạch là ngày "
            "31 tháng 3 năm 2023.") in text
    assert "Chưa có số liệu để tổng hợp." in text
    assert "chưa có số liệu" not in text.replace("Chưa có số liệu để tổng hợp", "").replace(
        "nên chưa có số liệu để tổng hợp", "")
    assert "Phụ lục" not in text and len(document.tables) == 2  # header and signature only
    assert len(document.paragraphs) < 40


def test_rules_under_issuer_motto_and_title(draft):
    """Motto rule as long as the motto; issuer and title rules 1/3–1/2 of their text."""
    document = Document(str(draft.docx))
    rules = [p for p in all_paragraphs(document) if p.style.name in ("BC Ke ngan", "BC Ke dai")]
    assert len(rules) >= 3 + 1  # issuer, motto, title, and one per appendix
    header = document.tables[0]

    def rule_width(p, container_mm: float) -> float:
        ind = p._p.pPr.find(qn("w:ind"))
        return container_mm - 2 * int(ind.get(qn("w:left"))) * 25.4 / 1440

    cell_mm = int(header.cell(0, 1)._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) * 25.4 / 1440 - 2
    motto_rule = [p for p in header.cell(0, 1).paragraphs if p.style.name == "BC Ke dai"][0]
    motto = text_width_pt("Độc lập - Tự do - Hạnh phúc", 13, bold=True) * 25.4 / 72
    assert rule_width(motto_rule, cell_mm) == pytest.approx(motto, abs=0.5)
    left_mm = int(header.cell(0, 0)._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) * 25.4 / 1440 - 2
    issuer_rule = [p for p in header.cell(0, 0).paragraphs if p.style.name == "BC Ke ngan"][0]
    issuer = text_width_pt("THỊ XÃ THỬ NGHIỆM", 13, bold=True) * 25.4 / 72
    assert issuer / 3 <= rule_width(issuer_rule, left_mm) <= issuer / 2
    for p in rules:  # a top border draws the rule
        assert p.style.element.pPr.find(qn("w:pBdr")).find(qn("w:top")) is not None


def test_page_size_margins_and_page_numbers(draft):
    document = Document(str(draft.docx))
    sections = document.sections
    assert len(sections) >= 2
    for i, section in enumerate(sections):
        size = sorted((round(mm(section.page_width)), round(mm(section.page_height))))
        assert size == [210, 297]  # A4
        landscape = section.page_width > section.page_height
        assert landscape == (i > 0)  # body portrait, appendices landscape
        assert 20 <= mm(section.top_margin) <= 25 and 20 <= mm(section.bottom_margin) <= 25
        assert 30 <= mm(section.left_margin) <= 35 and 15 <= mm(section.right_margin) <= 20
        assert 10 <= mm(section.header_distance) < mm(section.top_margin)  # number in margin
        assert section.different_first_page_header_footer
        if i > 0:  # each appendix numbers its own pages
            assert section._sectPr.find(qn("w:pgNumType")).get(qn("w:start")) == "1"
    first = sections[0]
    page_field = first.header._element.xml
    assert "PAGE" in page_field and "fldChar" in page_field
    number = first.header.paragraphs[0]
    assert number.alignment is None or number.style.paragraph_format.alignment == 1  # centred
    assert "PAGE" not in first.first_page_header._element.xml  # no number on page 1


def test_times_new_roman_everywhere_and_body_paragraphs(draft):
    document = Document(str(draft.docx))
    fonts = set()
    for p in all_paragraphs(document):
        style = p.style
        while style is not None and style.font.name is None:
            style = style.base_style
        fonts.add(style.font.name if style is not None else None)
        for run in p.runs:
            if run.font.name:
                fonts.add(run.font.name)
    assert fonts == {"Times New Roman"}
    defaults = document.styles.element.find(qn("w:docDefaults"))
    assert all(f.get(qn("w:ascii")) == "Times New Roman" for f in defaults.iter(qn("w:rFonts")))
    body = document.styles["BC Noi dung"]
    fmt = body.paragraph_format
    assert 13 <= body.font.size.pt <= 14
    assert fmt.alignment == 3  # justified
    assert 10 <= mm(fmt.first_line_indent) <= 12.7 + 0.01
    assert fmt.space_after.pt >= 6
    assert 1.0 <= fmt.line_spacing <= 1.5
    appendix = document.styles["BC Phu luc"]
    assert appendix.font.size.pt == 14 and appendix.font.bold
    assert document.styles["BC Kem theo"].font.italic


# --------------------------------------------------------------------------- the numbers


def test_docx_appendix_numbers_equal_the_data_and_totals_the_sums(draft, content, result):
    # the internal version has every exact number (the published one: tests/test_suppression.py)
    document = Document(str(draft.internal_docx))
    rendered = appendix_tables(document)
    tables = [t for a in content.appendices for t in a.tables]
    assert len(rendered) == len(tables)
    data = expected_matrix(result)
    checked = 0
    for docx_table, table in zip(rendered, tables, strict=True):
        if table.key in ("status", "quality") or not table.units():
            continue  # reporting status and data quality: no indicator values
        depth = len(table.header)
        rows = docx_table.rows[depth:]
        assert len(rows) == len(table.rows)
        header = [c.text for c in docx_table.rows[0].cells]
        for column in table.columns:  # the header names the indicator and the year
            assert any(h.startswith(f"{column.indicator}.") for h in header)
        units = [r.unit_code for r in table.units()]
        for j, column in enumerate(table.columns):
            cells = [rows[i].cells[2 + j].text for i in range(len(rows))]
            key = make_key(column.indicator, column.breakdown, column.year)
            if column.kind == "yesno":
                continue
            numbers = []
            for i, code in enumerate(units):
                expected = data.get((code, key))
                assert parse_vn(cells[i]) == expected, (table.key, key, code)
                if expected is not None:
                    numbers.append(expected)
                checked += 1
            kinds = [r.kind for r in table.rows]
            total = parse_vn(cells[kinds.index(TOTAL)])
            assert total == (sum(numbers) if numbers else None)
            assert cells[kinds.index(COVERAGE)] == f"{len(numbers)}/6"
    assert checked > 250  # of about 560 number cells for 5 units of the short test form


def evaluate(wb, sheet, formula: str) -> object:
    """The few formulas phu-luc.xlsx uses, computed here to check them."""

    def cells(ref: str) -> list[object]:
        where, _, span = ref.rpartition("!")
        ws = wb[where.strip("'")] if where else wb[sheet]
        return [c.value for row in ws[span] for c in row]

    def numbers(ref: str) -> list[float]:
        return [v for v in cells(ref) if isinstance(v, int | float) and not isinstance(v, bool)]

    if m := re.fullmatch(r"=SUM\((.+)\)", formula):
        return sum(numbers(m.group(1)))
    if m := re.fullmatch(r'=COUNT\((.+)\)&"/(\d+)"', formula):
        return f"{len(numbers(m.group(1)))}/{m.group(2)}"
    if m := re.fullmatch(r'=COUNTA\((.+)\)&"/(\d+)"', formula):
        return f"{sum(v not in (None, '') for v in cells(m.group(1)))}/{m.group(2)}"
    if m := re.fullmatch(r'=COUNTIF\((.+),"(.+)"\)', formula):
        return sum(v == m.group(2) for v in cells(m.group(1)))
    raise AssertionError(f"unexpected formula {formula}")


def test_xlsx_appendix_values_and_formulas(draft, content, result):
    # the internal version has every exact number (the published one: tests/test_suppression.py)
    wb = load_workbook(draft.internal_xlsx)
    data = expected_matrix(result)
    codes = list(result.status["unit_code"])
    formulas = 0
    for appendix in content.appendices:
        ws = wb[appendix.sheet]
        captions = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
        for table in appendix.tables:
            top = captions[table.caption] + 1 + len(table.header)
            for i, row in enumerate(table.rows):
                for j, (cell, column) in enumerate(zip(row.cells, table.columns, strict=True)):
                    value = ws.cell(top + i, 3 + j).value
                    if isinstance(value, str) and value.startswith("="):
                        value = evaluate(wb, appendix.sheet, value)
                        formulas += 1
                    key = make_key(column.indicator, column.breakdown, column.year)
                    if table.key in ("status", "quality"):
                        if row.kind == UNIT:
                            assert (value if value is not None else "") == (
                                cell.value if cell.value is not None else "")
                    elif row.kind == UNIT and column.kind in ("integer", "money"):
                        assert value == data.get((row.unit_code, key))
                    elif row.kind == TOTAL and column.kind in ("integer", "money"):
                        units = [data[(c, key)] for c in codes if (c, key) in data]
                        assert value == (sum(units) if units else None)
                    elif cell.key is not None and row.kind != COVERAGE:
                        units = [data[(c, make_key(*cell.key))] for c in codes
                                 if (c, make_key(*cell.key)) in data]
                        assert value == (sum(units) if units else None)
                    elif row.kind == COVERAGE:
                        assert value == cell.text
                    elif row.kind == TOTAL and column.kind == "yesno":
                        assert value == cell.value
    assert formulas > 130  # of about 360 formulas in the test form's appendix
    assert ws.title.startswith("PL") and wb.sheetnames[-1] == DATA_SHEET
    status = wb["PL I"]
    texts = [c.value for row in status.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("=SUM(") for t in texts)  # errors and warnings are summed too


def test_missing_unit_is_named_in_every_total(draft, final, result):
    text = body_text(draft.docx)
    assert "số liệu của 5/6 đơn vị" in text
    assert "số liệu của 4/6 đơn vị" in text  # the column where one unit typed “mười”
    assert "Xã Bình Thành" in text and "chưa có bảng tính" in text
    html = draft.html.read_text(encoding="utf-8")
    assert "số liệu của 5/6 đơn vị" in html
    document = Document(str(draft.docx))
    coverage = [row.cells[2].text for t in appendix_tables(document) for row in t.rows
                if row.cells[1].text == "Số đơn vị có số liệu"]
    assert coverage and set(coverage) <= {"5/6", "4/6"}


def test_sentences_change_highest_lowest_and_free_text(draft, result, config):
    text = body_text(draft.docx)
    # the part's coverage is said once under its heading, not in each of its sentences
    assert "b. Bảo đảm thực hiện quyền trẻ em và phòng, chống xâm hại trẻ em\nSố liệu của 5/6 " \
           "đơn vị (trừ chỗ có ghi chú riêng).\n" in text
    assert re.search(r"Năm 2022, toàn thị xã có [\d.]+ buổi tuyên truyền, truyền thông trực "
                     r"tiếp, ((tăng|giảm) [\d,]+%|không thay đổi) so với năm 2021; "
                     r"cao nhất là .+ \((cùng )?[\d.]+ buổi\), thấp nhất là .+\.", text)
    assert re.search(r"Đến thời điểm báo cáo năm 2023, toàn thị xã có [\d.]+ trẻ em có hoàn "
                     r"cảnh đặc biệt", text)
    problems = text.split("III. TỒN TẠI")[1].split("IV. ĐỀ XUẤT")[0]
    proposals = text.split("IV. ĐỀ XUẤT")[1].split("Trên đây là báo cáo")[0]
    assert re.search(r"^- Xã Bình Tiến: .+\.$", problems, re.M)
    assert re.search(r"^- Phường Tứ Hạ: Đề nghị .+\.$", proposals, re.M)
    assert "(Chưa có ý kiến của: Xã Bình Thành.)" in proposals
    quality = text.split("2. Chất lượng số liệu\n")[1].split("\nII. KẾT QUẢ")[0]
    assert quality == (  # one paragraph for the People's Committee: kinds, units, where to look
        "Qua kiểm tra tự động, có 2 lỗi phải sửa ở 1 đơn vị (Phường Hương Văn), gồm 1 lỗi nhập "
        "liệu (số viết bằng chữ) và 1 lỗi về thời hạn báo cáo (báo hoàn thành nhưng còn thiếu); "
        "4 cảnh báo cần rà soát lại ở 2 đơn vị (Phường Hương Văn và Xã Bình Thành), gồm 2 cảnh "
        "báo chưa nhập đủ số liệu (ô bắt buộc còn trống, chưa có bảng tính) và 2 cảnh báo về "
        "thời hạn báo cáo (quá hạn chưa hoàn thành). Danh sách từng đơn vị và các loại lỗi, cảnh "
        "báo tại Phụ lục II; vị trí từng ô và cách sửa có trong tệp kết quả kiểm tra "
        "(findings.xlsx) gửi các đơn vị.")


def test_what_the_office_accepted_is_counted_apart_not_as_a_problem(result, config):
    """A warning the office accepted (the commune explained it) is no longer one to review; an
    explained one waiting for the office still is, and both are said."""
    from dataclasses import replace

    from flows.outputs.report.wording import config_wording

    findings = result.findings.copy()
    warnings = findings.index[findings["severity"] == "warning"]
    findings["state"] = "open"
    findings.loc[warnings[0], "state"] = "accepted"
    findings.loc[warnings[1], "state"] = "explained"
    decided = replace(result, findings=findings)
    content = build_content(decided, config, AS_OF, False, config_wording(config))
    [section] = [s for s in content.sections if s.heading.startswith("I.")]
    quality = [p.text for p in section.paras if p.text.startswith("Qua kiểm tra tự động")][0]
    assert "; 3 cảnh báo cần rà soát lại ở" in quality
    assert quality.endswith(
        "Phòng LĐTBXH đã chấp nhận giải trình hoặc xác định không phải lỗi đối với 1 phát hiện "
        "khác. Trong số trên, 1 phát hiện đơn vị đã giải trình, đang chờ Phòng LĐTBXH xem xét.")


def test_the_draft_says_which_units_the_office_approved_or_returned(result, config):
    from dataclasses import replace

    from flows.outputs.report.wording import config_wording

    status = result.status.copy()
    status["review_state"] = "đã nộp"
    status.loc[status["unit_code"].isin(["P01", "X01"]), "review_state"] = "đã duyệt"
    status.loc[status["unit_code"] == "P02", "review_state"] = "trả lại"
    content = build_content(replace(result, status=status), config, AS_OF, False,
                            config_wording(config))
    [section] = [s for s in content.sections if s.heading.startswith("I.")]
    assert ("- Tình hình duyệt số liệu: đã duyệt 2 đơn vị (Phường Tứ Hạ, Xã Hương Toàn); trả "
            "lại 1 đơn vị (Phường Hương Văn).") in [p.text for p in section.paras]


# --------------------------------------------------------------------------- plain words


REPORTING = ["P01", "P02", "P03", "X01", "X02"]  # every unit but X03, which sends nothing
# A cell address (E85) or an indicator code (B1.1): the body names indicators by their labels,
# so neither belongs in a sentence the People's Committee reads.
CELL_OR_CODE = re.compile(r"\b[A-Z]{1,3}[0-9]{1,7}\b")


def retyped(result, typed: dict[tuple[str, str], float | None]):
    """The consolidation as if some units had typed other numbers: (unit, value key) → the
    number, None for a cell left blank."""
    values = result.values
    where = {(unit, make_key(code, "" if pd.isna(bd) else bd, None if pd.isna(y) else int(y))): n
             for n, (unit, code, bd, y) in enumerate(zip(
                 values["unit_code"], values["indicator"], values["breakdown"], values["year"],
                 strict=True))}
    values = values.copy()
    column = values.columns.get_loc("value")
    for key, number in typed.items():
        if number is not None:
            values.iat[where[key], column] = number
    blank = [where[key] for key, number in typed.items() if number is None]
    return replace(result, values=values.drop(index=values.index[blank]))


def under_headings(content, section: int) -> dict[str, list[str]]:
    """Each heading of a body section → the sentences under it, up to the next heading."""
    found: dict[str, list[str]] = {}
    texts: list[str] = []
    for para in content.sections[section].paras:
        if para.kind in (H2, H3):
            texts = found.setdefault(para.text, [])
        elif para.kind == TEXT:
            texts.append(para.text)
    return found


def test_every_unit_sharing_the_highest_or_lowest_value_is_named(result, config):
    """Tứ Hạ and Hương Văn held 10 sessions each in 2022, the most; Hương Toàn and Bình Tiến 4
    each, the fewest: the key sentence names all four, not the first it happens to find."""
    wording = load_wording()

    def sentence(in_2021: list[int], in_2022: list[int]) -> str:
        typed = {(unit, make_key("B1.1", "", year)): number
                 for year, numbers in ((2021, in_2021), (2022, in_2022))
                 for unit, number in zip(REPORTING, numbers, strict=True)}
        content = build_content(retyped(result, typed), config, AS_OF, False, wording)
        [found] = [text for text in under_headings(content, 1)[
            "1. Tuyên truyền, phổ biến kiến thức, kỹ năng"] if text.startswith("Năm 2022")]
        return found

    assert sentence([6, 6, 6, 5, 5], [10, 10, 7, 4, 4]) == (
        "Năm 2022, toàn thị xã có 35 buổi tuyên truyền, truyền thông trực tiếp, tăng 25% so với "
        "năm 2021; cao nhất là Phường Tứ Hạ và Phường Hương Văn (cùng 10 buổi), thấp nhất là "
        "Xã Hương Toàn và Xã Bình Tiến (cùng 4 buổi).")
    # three sharing the lowest: commas, then "và"
    assert sentence([6, 6, 6, 5, 5], [10, 9, 4, 4, 4]) == (
        "Năm 2022, toàn thị xã có 31 buổi tuyên truyền, truyền thông trực tiếp, tăng 10,7% so "
        "với năm 2021; cao nhất là Phường Tứ Hạ (10 buổi), thấp nhất là Phường Hương Vân, Xã "
        "Hương Toàn và Xã Bình Tiến (cùng 4 buổi).")
    # all the same: no highest and lowest, one plain statement
    assert sentence([6, 6, 6, 6, 6], [6, 6, 6, 6, 6]) == (
        "Năm 2022, toàn thị xã có 30 buổi tuyên truyền, truyền thông trực tiếp, không thay đổi "
        "so với năm 2021; cả 5 đơn vị có số liệu đều bằng nhau (cùng 6 buổi).")


def test_forms_sharing_a_rank_are_named_together(result, config):
    """In 2022 only Tứ Hạ had cases: 3 of violence, 2 of sexual abuse and 2 of another form.
    "Nhiều nhất" names the two forms with 2 cases each together, not one of them."""
    forms = ["tong", "bao_luc", "tinh_duc", "boc_lot", "mua_ban", "bo_roi", "khac"]
    typed = {(unit, make_key("C3", form, 2022)): 0 for unit in REPORTING for form in forms}
    typed |= {(unit, make_key("C3", "tong", year)): 7 if unit == "P01" and year < 2023 else 0
              for unit in REPORTING for year in (2021, 2023)}
    typed |= {("P01", make_key("C3", form, 2022)): number
              for form, number in (("tong", 7), ("bao_luc", 3), ("tinh_duc", 2), ("khac", 2))}
    content = build_content(retyped(result, typed), config, AS_OF, False, load_wording())
    assert under_headings(content, 1)["3. Số vụ xâm hại trẻ em"] == [
        "- Số vụ xâm hại trẻ em: năm 2021: 7 vụ; năm 2022: 7 vụ (không thay đổi); năm 2023 (đến "
        "thời điểm báo cáo): 0 vụ; nhiều nhất năm 2022 là: Bạo lực (3 vụ), Xâm hại tình dục và "
        "Hình thức khác (cùng 2 vụ)."]


def test_coverage_is_said_once_under_a_heading_and_again_only_where_it_differs(result, config):
    """Bình Thành sent nothing, so most numbers are of 5/6 units: each part says so once, under
    its heading. Tứ Hạ also left its support-policy lines blank (that subsection says 4/6 under
    its own heading) and the 2022 attendance (that year alone says 4/6)."""
    typed = {("P01", make_key(code, "", year)): None
             for code in ("C7.1", "C7.2") for year in config.form.years}
    typed[("P01", make_key("B1.2", "", 2022))] = None
    changed = retyped(result, typed)
    content = build_content(changed, config, AS_OF, False, load_wording())
    parts = under_headings(content, 1)
    # a part whose every number covers 5/6 units: said once, nowhere else
    assert parts["a. Công tác lãnh đạo, chỉ đạo và triển khai chính sách, pháp luật"] == [
        "Số liệu của 5/6 đơn vị."]
    lines = parts["1. Ban hành văn bản; xây dựng và thực hiện chương trình, kế hoạch"]
    assert len(lines) == 5 and not [line for line in lines if "số liệu của" in line.lower()]
    # a part with exceptions says so, and each exception says its own coverage
    assert parts["c. Hỗ trợ, can thiệp đối với trẻ em bị xâm hại, có nguy cơ, có hoàn cảnh "
                 "đặc biệt"] == ["Số liệu của 5/6 đơn vị (trừ chỗ có ghi chú riêng)."]
    policy = parts["7. Thực hiện chính sách hỗ trợ"]
    assert policy[0] == "Số liệu của 4/6 đơn vị."
    assert len(policy) == 4 and not [line for line in policy[1:] if "số liệu của" in line]
    fig = Figures.build(changed, config)
    attended = [auto(fig.total(make_key("B1.2", "", year))[0]) for year in config.form.years]
    [line] = [line for line in parts["1. Tuyên truyền, phổ biến kiến thức, kỹ năng"]
              if line.startswith("- Số lượt người tham dự")]
    assert line == (f"- Số lượt người tham dự: năm 2021: {attended[0]} lượt người; năm 2022: "
                    f"{attended[1]} lượt người (số liệu của 4/6 đơn vị); năm 2023 (đến thời điểm "
                    f"báo cáo): {attended[2]} lượt người.")


def test_each_units_problems_are_listed_in_an_appendix_table(content):
    """Phụ lục II: one row per unit with errors or warnings, their numbers and kinds in the
    catalogue's words; the cells and how to fix them stay in findings.xlsx."""
    [appendix] = [a for a in content.appendices if a.number == "II"]
    assert appendix.title == "LỖI, CẢNH BÁO VỀ SỐ LIỆU CỦA CÁC XÃ, PHƯỜNG"
    [table] = appendix.tables
    assert [h.text for h in table.header[0]] == ["Số lỗi", "Số cảnh báo", "Lỗi phải sửa",
                                                  "Cảnh báo cần rà soát"]
    assert [(r.number, r.label, *[c.text for c in r.cells]) for r in table.rows] == [
        ("1", "Phường Hương Văn", "2", "2",
         "Số viết bằng chữ (1); Báo hoàn thành nhưng còn thiếu (1)",
         "Ô bắt buộc còn trống (1); Quá hạn chưa hoàn thành (1)"),
        ("2", "Xã Bình Thành", "0", "2", "", "Chưa có bảng tính (1); Quá hạn chưa hoàn thành (1)"),
        ("", "Tổng cộng", "2", "4", "", "")]
    assert table.note == ("Vị trí từng ô, giá trị đã nhập và cách sửa: xem tệp kết quả kiểm tra "
                          "(findings.xlsx) gửi các đơn vị.")


@pytest.mark.slow
def test_the_demo_report_body_has_no_z_scores_medians_or_cell_addresses(config, layout,
                                                                        tmp_path):
    """The demo's findings speak of z-scores, medians and cells, for the communes that fix
    them (findings.xlsx); no paragraph of the report's body (sections I–IV) does."""
    build_workspace(config, tmp_path / "demo")
    units = config.units.by_code()
    extractions = [extract_workbook(read_workbook(path), layout, units)
                   for path in sorted((tmp_path / "demo" / "nguon").glob("*.xlsx"))]
    demo = consolidate(extractions, config, layout, DEMO_AS_OF, config.rules)
    messages = " ".join(demo.findings["message"])
    assert "z = " in messages and "trung vị" in messages and CELL_OR_CODE.search(messages)
    files = render_report(demo, config, layout, tmp_path / "ket-qua", DEMO_AS_OF, final=False,
                          pdf=False)
    text = body_text(files.docx)
    body = text[text.index("I. TÌNH HÌNH"):text.index("Trên đây là báo cáo")]
    paragraphs = [p for p in body.splitlines() if p.strip()]
    assert len(paragraphs) > 40
    for paragraph in paragraphs:
        assert "z =" not in paragraph and "trung vị" not in paragraph, paragraph
        assert not CELL_OR_CODE.search(paragraph), paragraph
    quality = body.split("2. Chất lượng số liệu\n")[1].split("\nII. KẾT QUẢ")[0]
    assert "\n" not in quality  # one paragraph
    assert quality.startswith("Qua kiểm tra tự động, có 4 lỗi phải sửa ở 2 đơn vị (Phường "
                              "Hương Văn và Xã Hương Toàn), gồm 2 lỗi nhập liệu (số viết bằng "
                              "chữ, số kèm chữ), ")
    assert "Phụ lục II" in quality and "Phụ lục II" in text[text.index("Trên đây là báo cáo"):]


def test_vietnamese_number_and_date_formats(draft, final, result):
    text = body_text(draft.docx) + body_text(final.docx)
    assert result.reporting["reporting_rate"].iloc[0] == 66.7  # 4 of 6 complete
    assert "tỷ lệ 66,7%" in text
    assert re.search(r"\d{1,3}(\.\d{3})+ đồng", text)  # money with separators, in đồng
    assert re.search(r"\b\d{1,3}\.\d{3}\b", text)  # thousands with a dot
    assert not re.search(r"\b\d{1,3},\d{3}(?!\d)(?!,)\b(?! *%)", text.replace("z = ", ""))
    assert "Thử Nghiệm, ngày 05 tháng 4 năm 2023" in text
    assert "ngày 31 tháng 3 năm 2023" in text  # the deadline
    for paragraph in text.splitlines():
        assert unicodedata.is_normalized("NFC", paragraph)
    html = final.html.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", html)


def test_draft_and_final(draft, final):
    draft_text, final_text = body_text(draft.docx), body_text(final.docx)
    assert "DỰ THẢO" in header_texts(draft.docx)
    assert "DỰ THẢO" not in header_texts(final.docx) and "DỰ THẢO" not in final_text
    assert "Số: 05/BC-UBND" in final_text  # "5" in plan.yaml, leading zero below 10
    assert "(Kèm theo Báo cáo số 05/BC-UBND ngày 05 tháng 4 năm 2023 của Ủy ban nhân dân " \
           "thị xã Thử Nghiệm)" in final_text
    assert "Số: …/BC-UBND" in draft_text and "ngày … tháng … năm …" in draft_text
    assert "DỰ THẢO" in draft.html.read_text(encoding="utf-8")
    assert "DỰ THẢO" not in final.html.read_text(encoding="utf-8")
    assert draft.final is False and final.final is True


# --------------------------------------------------------------------------- HTML, files


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tag, self.headings, self.tables, self.images, self.app = None, [], 0, [], []

    def handle_starttag(self, tag, attrs):
        self.tag = tag
        self.tables += tag == "table" and ("class", "data") in attrs
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self.tag == "h2" and data.strip():
            self.headings.append(data.strip())
        if self.tag == "p" and data.startswith("Phụ lục "):
            self.app.append(data.strip())


def test_html_has_the_same_sections_tables_and_charts(draft, content):
    outline = _Outline()
    outline.feed(draft.html.read_text(encoding="utf-8"))
    assert outline.headings == [s.heading for s in content.sections]
    assert outline.app == [f"Phụ lục {a.number}" for a in content.appendices]
    assert outline.tables == sum(len(a.tables) for a in content.appendices)
    assert len(outline.images) == 2 and all(i.startswith("data:image/png;base64,")
                                            for i in outline.images)
    docx_text = body_text(draft.docx)
    for section in content.sections:
        assert section.heading in docx_text


def test_atomic_rewrite_and_a_note_when_libreoffice_is_missing(draft, result, config, layout,
                                                                monkeypatch):
    out = draft.docx.parent
    (out / "bao-cao.pdf").write_bytes(b"%PDF old")  # last night's file must not linger
    monkeypatch.setattr(pdf_module.shutil, "which", lambda name: None)
    files = render_report(result, config, layout, out, AS_OF)  # again, over the same files
    assert files.pdf is None and "LibreOffice" in files.note and "soffice" in files.note
    names = sorted(p.name for p in out.iterdir())
    assert "bao-cao.pdf" not in names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert {"bao-cao.docx", "report.html", "phu-luc.xlsx", "bieu-do-hoan-thanh.png",
            "bieu-do-xu-huong.png"} <= set(names)
    assert all(p.exists() for p in files.paths())


def test_summary_markdown(draft, result, config):
    text = summary_markdown(result, config, draft)
    assert "66,7%" in text and "Xã Bình Thành" in text and str(draft.docx) in text
    assert "Bản PDF: chưa có" in text and "dự thảo" in text


def test_chart_font_has_vietnamese_glyphs(tmp_path):
    path = font_path()
    assert path.name.startswith("DejaVuSans")
    assert font_has_glyphs("ữ ạ ằ ỗ Ư Đ đ ơ ẫ Ỹ", path)
    # the check is not vacuous: a font without Vietnamese letters fails it
    computer_modern = path.parent / "cmr10.ttf"
    assert computer_modern.exists() and not font_has_glyphs("ữạằỗ", computer_modern)


def test_template_is_reproducible_and_committed(tmp_path):
    first, second = build_template(tmp_path / "a.docx"), build_template(tmp_path / "b.docx")
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        for name in ("word/document.xml", "word/styles.xml", "word/header1.xml"):
            assert a.read(name) == b.read(name)
    committed = TEMPLATES_DIR / "bao-cao.docx"
    assert committed.is_file()
    text = body_text(committed)
    assert "{{ header.title }}" in text and "{%p for s in sections %}" in text


# --------------------------------------------------------------------------- PDF


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) không có trên máy này: "
                           "apt-get install libreoffice-writer-nogui fonts-liberation")
@pytest.mark.slow
def test_pdf_with_libreoffice(result, final_config, layout, tmp_path):
    files = render_report(result, final_config, layout, tmp_path, AS_OF, final=True)
    assert files.pdf is not None and files.note == ""
    data = files.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_commune_text_withheld_for_personal_data_is_never_quoted(result, config):
    """Tứ Hạ's "Khó khăn" cell held a child's name: its text is the mask in the values. Section
    III quotes the other communes as before, never the mask as Tứ Hạ's words, and says how many
    were left out without naming the unit."""
    label = config.form.item("D3").label
    wording = load_wording()

    def part(values) -> list[str]:
        content = build_content(replace(result, values=values), config, AS_OF, False, wording)
        [lines] = [lines for heading, lines in under_headings(content, 2).items()
                   if heading.endswith(label)]
        return lines

    before = part(result.values)
    masked = result.values.copy()
    masked.loc[(masked.unit_code == "P01") & (masked.indicator == "D3"),
               "value"] = config.privacy.mask
    after = part(masked)
    quoted = [line for line in before if line.startswith("- ")]
    assert quoted[0].startswith("- Phường Tứ Hạ: ")
    assert before == [*quoted, "(Chưa có ý kiến của: Xã Bình Thành.)"]
    assert after == [*quoted[1:],
                     "(Có 1 ý kiến không trích dẫn trong báo cáo vì có thể chứa thông tin cá nhân "
                     "của trẻ em.)",
                     "(Chưa có ý kiến của: Xã Bình Thành.)"]
