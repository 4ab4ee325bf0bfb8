"""Every file a clerk can produce, and hostile ones: what is read, what is refused, and that one
bad file never costs the other units (no traceback, no hang, the same values as a clean run).

The corpus is built here, from the test config's clean workbooks: changed the way programs and
people change them (LibreOffice saves, cut-and-paste, a stray PDF) or at the XML level where no
office program would (a cell at XFD1048576, NaN stored as a number, a zip bomb).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from helpers import rendered, set_cells

from flows.config.limits import Limits
from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout
from flows.sources.folder import FolderSource
from flows.sources.spreadsheet import _sheet_parts
from flows.sources.xlsx import read_workbook

SOFFICE = shutil.which("soffice")
# Small limits, so the corpus stays small: a real workbook is ~30 KB and ~100 rows.
LIMITS = Limits(max_file_mb=1, max_unpacked_mb=20, rows_beyond_template=200,
                columns_beyond_template=20, max_cell_chars=5000, seconds_per_workbook=20)


# --------------------------------------------------------------------------- building the corpus


def patch_sheet(path: Path, title: str, change) -> None:
    """Rewrite one sheet's XML inside an .xlsx (`change(xml) -> xml`), as no program would."""
    with zipfile.ZipFile(path) as archive:
        parts = dict(_sheet_parts(archive))
        members = {info.filename: (info, archive.read(info.filename))
                   for info in archive.infolist()}
    member = parts[title]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (info, data) in members.items():
            archive.writestr(info, change(data.decode()).encode() if name == member else data)


def set_raw(xml: str, cell: str, raw: str) -> str:
    """Replace one cell's XML (or add it to its row) by `raw`."""
    pattern = re.compile(rf'<c r="{cell}"[^>]*?(?:/>|>.*?</c>)', re.DOTALL)
    if pattern.search(xml):
        return pattern.sub(raw, xml, count=1)
    row = int(re.sub(r"[A-Z]", "", cell))
    return re.sub(rf'(<row r="{row}"[^>]*>)', rf"\1{raw}", xml, count=1)


def soffice_convert(path: Path, fmt: str, out: Path) -> Path:
    subprocess.run([SOFFICE, "--headless", "--convert-to", fmt, "--outdir", str(out),
                    str(path)], check=True, capture_output=True, timeout=180,
                   env={**os.environ, "HOME": str(out)})
    return out / f"{path.stem}.{fmt}"


@dataclass
class Case:
    name: str  # the entry in the source folder
    rule: str | None  # the finding it must get (None: none, or passed over)
    reason: str = ""  # a word of the message (the reason of an unreadable file)
    unit: str = ""  # the unit the finding is attributed to


def workbook(config, code: str, folder: Path, name: str | None = None) -> Path:
    from conftest import answers_for

    from flows.sources.xlsx import write_template

    path = folder / (name or f"{code}.xlsx")
    write_template(build_layout(config, config.units.by_code()[code]), path,
                   answers_for(config, code))
    return path


def odd_entries(folder: Path, good: Path) -> list[Case]:
    """Entries that claim no unit: each must get its finding and cost nothing else."""
    cases = []

    def add(name: str, rule: str | None, reason: str = "") -> Path:
        cases.append(Case(name, rule, reason))
        return folder / name

    add("bao-cao-cua-xa.pdf", "not-a-workbook").write_bytes(b"%PDF-1.4\n% not a form\n")
    add("ghi-chu.docx", "not-a-workbook").write_bytes(b"PK\x03\x04 word")
    add("so-lieu.csv", "not-a-workbook").write_text("a,b\n1,2\n", encoding="utf-8")
    add("anh-chup-bieu-mau.jpg", "not-a-workbook").write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    add("bieu-mau", "not-a-workbook").write_text("no suffix", encoding="utf-8")
    add("~$P01.xlsx", None).write_bytes(b"office lock file")
    add(".~lock.P01.xlsx#", None).write_text("lock", encoding="utf-8")
    add(".DS_Store", None).write_bytes(b"\x00\x00")
    add("findings.xlsx", None).write_bytes(good.read_bytes())  # our own output, not a unit's
    (folder / "cu").mkdir()
    shutil.copy(good, folder / "cu" / "P01-cu.xlsx")  # sub-folders are passed over
    cases.append(Case("cu", None))
    os.mkfifo(add("ong-dan.xlsx", "unreadable-file", "đường ống"))
    os.symlink("/dev/zero", add("thiet-bi.xlsx", "unreadable-file", "thiết bị"))
    os.symlink(folder / "khong-co.xlsx", add("lien-ket-hong.xlsx", "unreadable-file",
                                             "không còn tồn tại"))
    data = good.read_bytes()
    add("cat-ngang.xlsx", "unreadable-file", "bị hỏng").write_bytes(data[: len(data) // 2])
    add("rac.xlsx", "unreadable-file", "bị hỏng").write_bytes(
        random.Random(1).randbytes(4000))
    add("rong.xlsx", "unreadable-file", "bị hỏng").write_bytes(b"")
    add("xls-doi-ten.xlsx", "unreadable-file", "bị hỏng").write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    with zipfile.ZipFile(add("zip-khong-phai-bang-tinh.xlsx", "unreadable-file", "bị hỏng"),
                         "w") as archive:
        archive.writestr("readme.txt", "hello")
    broken = add("xml-hong.xlsx", "unreadable-file", "bị hỏng")
    shutil.copy(good, broken)
    patch_sheet(broken, "B. Bảo đảm quyền trẻ em", lambda xml: xml.replace("</sheetData>", ""))
    bomb = add("bom-nen.xlsx", "unreadable-file", "giải nén")
    shutil.copy(good, bomb)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", bytes(30 * 1024 * 1024))  # 30 MB of zeros
    heavy = add("qua-nang.xlsx", "unreadable-file", "quá giới hạn")
    shutil.copy(good, heavy)
    with zipfile.ZipFile(heavy, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/media/photo.bin", random.Random(2).randbytes(1_200_000))
    add("Bảng tính không rõ.xlsx", "unknown-workbook").write_bytes(_foreign_xlsx(folder))
    return cases


def _foreign_xlsx(folder: Path) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "Danh sách hộ nghèo"
    wb.save(folder / ".foreign.tmp")
    data = (folder / ".foreign.tmp").read_bytes()
    (folder / ".foreign.tmp").unlink()
    return data


# --------------------------------------------------------------------------- reading a folder


def read_folder(folder: Path, config, isolate: bool = True):
    """What the flow does, without Prefect: list, read (isolated), extract, consolidate."""
    from datetime import date

    config = config.model_copy(update={"limits": LIMITS})
    source = FolderSource(folder, config, isolate=isolate)
    layout = build_layout(config)
    started = time.monotonic()
    extractions = [extract_workbook(source.read(ref), layout, config.units.by_code())
                   for ref in source.refs()]
    source.finish(None, None)
    elapsed = time.monotonic() - started
    return consolidate(extractions, config, layout, date(2023, 4, 5), config.rules), elapsed


def by_source(result) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in result.findings.itertuples():
        found.setdefault(row.source, []).append(row.rule)
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, test_config):
    """A folder with two clean units and every odd entry; and the clean folder alone."""
    clean = tmp_path_factory.mktemp("clean")
    hostile = tmp_path_factory.mktemp("hostile")
    for code in ("P01", "P02"):
        workbook(test_config, code, clean)
        workbook(test_config, code, hostile)
    cases = odd_entries(hostile, clean / "P01.xlsx")
    return clean, hostile, cases


def test_odd_and_hostile_entries_each_get_their_finding_and_cost_nothing_else(corpus,
                                                                              test_config):
    clean, hostile, cases = corpus
    expected, _ = read_folder(clean, test_config)
    result, elapsed = read_folder(hostile, test_config)
    assert elapsed < 60, f"{elapsed:.0f} s"  # a FIFO, /dev/zero, a zip bomb: nothing hangs
    found = by_source(result)
    for case in cases:
        rules = found.get(case.name, [])
        if case.rule is None:
            assert rules == [], (case.name, rules)
            continue
        assert rules == [case.rule], (case.name, rules)
        message = result.findings[result.findings.source == case.name].iloc[0].message
        assert case.reason in message, (case.name, message)
    keep = ["unit_code", "indicator", "breakdown", "year", "value"]
    assert result.values[keep].equals(expected.values[keep])  # the other units: identical
    assert set(found) <= {c.name for c in cases} | {"P01.xlsx", "P02.xlsx", ""}
    assert len(cases) == 22


def test_a_message_names_what_to_do_for_a_file_that_is_not_a_workbook(corpus, test_config):
    _, hostile, _ = corpus
    result, _ = read_folder(hostile, test_config)
    pdf = result.findings[result.findings.source == "bao-cao-cua-xa.pdf"].iloc[0]
    assert pdf.message == ("Tệp “bao-cao-cua-xa.pdf” không phải bảng tính (tệp .pdf); hệ thống "
                           "chỉ đọc tệp .xlsx, .xlsm, .ods và .xls.")
    assert "không gửi ảnh chụp, tệp PDF hay Word" in pdf.instruction
    fifo = result.findings[result.findings.source == "ong-dan.xlsx"].iloc[0]
    assert fifo.category == "access" and fifo.severity == "error"


# --------------------------------------------------------------------------- every format


@pytest.fixture(scope="module")
def original(tmp_path_factory, test_config) -> Path:
    return workbook(test_config, "P03", tmp_path_factory.mktemp("original"))


def values_of(path: Path, config) -> pd.DataFrame:
    extraction = extract_workbook(read_workbook(path), build_layout(config),
                                  config.units.by_code())
    assert extraction.unit_code == "P03", rendered(extraction.findings)
    return extraction.values[["indicator", "breakdown", "year", "value"]].reset_index(drop=True)


@pytest.mark.parametrize("name", ["P03.XLSX", "P03.xlsm", "P03.Xlsx"])
def test_upper_case_and_macro_enabled_names_read_exactly_like_xlsx(original, test_config,
                                                                   tmp_path, name):
    copy = tmp_path / name
    shutil.copy(original, copy)
    assert values_of(copy, test_config).equals(values_of(original, test_config))


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice Calc (soffice) is not installed")
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_a_workbook_saved_by_libreoffice_calc_reads_exactly_like_the_xlsx(original, test_config,
                                                                        tmp_path, fmt):
    converted = soffice_convert(original, fmt, tmp_path)
    assert values_of(converted, test_config).equals(values_of(original, test_config))


# --------------------------------------------------------------------------- inside one workbook


def one(test_config, tmp_path, change, code: str = "P03", limits: Limits = LIMITS):
    """A clean workbook of `code`, changed by `change(path)`, read: (values, findings)."""
    path = workbook(test_config, code, tmp_path)
    change(path)
    config = test_config.model_copy(update={"limits": limits})
    source = FolderSource(tmp_path, config, isolate=True)
    raw = source.read(str(path))
    source.finish(None, None)
    extraction = extract_workbook(raw, build_layout(config), config.units.by_code())
    return extraction, rendered(extraction.findings)


def cell_of(config, key: str) -> tuple[str, str]:
    spec = build_layout(config).by_key[key]
    return spec.sheet, spec.cell


def test_a_cell_typed_at_xfd1048576_is_reported_and_the_form_still_read(test_config, tmp_path):
    sheet, _ = cell_of(test_config, "B1.1||2021")
    far = '<c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>'
    extraction, findings = one(test_config, tmp_path, lambda p: patch_sheet(
        p, sheet, lambda xml: xml.replace("</sheetData>", f'<row r="1048576">{far}</row>'
                                                           "</sheetData>")))
    [hit] = [f for f in findings if f.rule == "sheet-too-large"]
    assert (hit.sheet, hit.cell, hit.severity) == (sheet, "XFD1048576", "error")
    assert "XFD1048576" in hit.message
    (tmp_path / "clean").mkdir()
    clean, _ = one(test_config, tmp_path / "clean", lambda p: None)
    assert extraction.values.equals(clean.values)


@pytest.mark.slow
def test_a_million_rows_cost_seconds_not_minutes(test_config, tmp_path):
    sheet, _ = cell_of(test_config, "D1||")
    rows = "".join(f'<row r="{r}"><c r="B{r}"><v>{r}</v></c></row>'
                   for r in range(1000, 1_000_000, 7))
    start = time.monotonic()
    extraction, findings = one(test_config, tmp_path, lambda p: patch_sheet(
        p, sheet, lambda xml: xml.replace("</sheetData>", rows + "</sheetData>")),
        limits=LIMITS.model_copy(update={"max_file_mb": 25, "max_unpacked_mb": 300}))
    assert time.monotonic() - start < 30
    assert [f.rule for f in findings] == ["sheet-too-large"]
    assert extraction.unit_code == "P03" and len(extraction.values) > 100


def test_a_stale_dimension_does_not_empty_the_sheet(test_config, tmp_path):
    sheet, _ = cell_of(test_config, "C2|nam|2022")
    extraction, findings = one(test_config, tmp_path, lambda p: patch_sheet(
        p, sheet, lambda xml: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1"/>', xml)))
    assert findings == [] and extraction.unit_code == "P03"
    assert ("C2", "nam", 2022) in set(zip(extraction.values.indicator,
                                          extraction.values.breakdown, extraction.values.year,
                                          strict=True))


@pytest.mark.parametrize("raw, rule", [
    ("<v>NaN</v>", "not-a-number"),
    ("<v>inf</v>", "not-a-number"),
    ("<v>1E+29</v>", "implausible-number"),
    ('t="e"><v>#REF!</v>', "formula-error"),
    ("><f>B9*2</f><v>24</v>", "formula"),
    ("><f>B9*</f>", "formula-no-result"),
])
def test_numbers_that_cannot_be_true_are_findings_not_values(test_config, tmp_path, raw, rule):
    sheet, cell = cell_of(test_config, "C2|nam|2022")
    xml = f'<c r="{cell}" {raw}</c>' if raw.startswith(("t=", ">")) else f'<c r="{cell}">{raw}</c>'
    xml = xml.replace(f'r="{cell}" >', f'r="{cell}">')
    extraction, findings = one(test_config, tmp_path, lambda p: patch_sheet(
        p, sheet, lambda s: set_raw(s, cell, xml)))
    if rule == "implausible-number":  # the value is read, then refused by the checks
        from datetime import date

        result = consolidate([extraction], test_config, build_layout(test_config),
                             date(2023, 4, 5), test_config.rules)
        hit = result.findings[result.findings.rule == rule]
        assert list(hit.cell) == [cell] and "1.000.000" in hit.iloc[0].message
        assert not ((result.values.indicator == "C2") & (result.values.breakdown == "nam")
                    & (result.values.year == 2022)).any()
        return
    [hit] = [f for f in findings if f.cell == cell]
    assert (hit.rule, hit.sheet) == (rule, sheet)


def test_text_over_the_length_limit_is_refused_with_a_finding(test_config, tmp_path):
    sheet, cell = cell_of(test_config, "D1||")
    extraction, findings = one(test_config, tmp_path, lambda p: set_cells(
        p, sheet, {cell: "rất dài " * 1000}))
    [hit] = [f for f in findings if f.rule == "cell-text-too-long"]
    assert hit.cell == cell and "8.000 ký tự" in hit.message
    assert "D1" not in set(extraction.values.indicator)


def test_a_pasted_vertical_tab_or_bidi_override_is_removed_and_noted(test_config, tmp_path):
    number_sheet, number = cell_of(test_config, "C2|nam|2022")
    text_sheet, text = cell_of(test_config, "D1||")

    def paste(path):  # Excel stores a vertical tab as _x000B_ (XML cannot hold it)
        patch_sheet(path, number_sheet, lambda xml: set_raw(
            xml, number, f'<c r="{number}" t="inlineStr"><is><t>12_x000B_</t></is></c>'))
        set_cells(path, text_sheet, {text: "Tốt\u202eexe.txt"})

    extraction, findings = one(test_config, tmp_path, paste)
    notes = {(f.cell, f.rule) for f in findings}
    assert (number, "hidden-characters") in notes and (text, "hidden-characters") in notes
    values = extraction.values
    assert values[values.indicator == "D1"].value.item() == "Tốtexe.txt"
    c2 = values[(values.indicator == "C2") & (values.breakdown == "nam") & (values.year == 2022)]
    assert c2.value.item() == 12


def test_a_workbook_of_an_older_form_version_is_refused_with_how_to_get_the_new_one(
        test_config, tmp_path):
    def old(path):
        for title, _ in _sheet_parts(zipfile.ZipFile(path)):
            patch_sheet(path, title, lambda xml: re.sub(r"(#giamsat\|[^<|]+\|[^<|]+)\|v\d+",
                                                        r"\1|v0", xml))

    extraction, findings = one(test_config, tmp_path, old)
    assert [f.rule for f in findings] == ["form-version-mismatch"]
    assert "phiên bản 0" in findings[0].message and extraction.values.empty


def test_a_unit_name_naming_another_unit_than_the_code_is_refused(test_config, tmp_path):
    sheet, cell = cell_of(test_config, "TT.1||")
    extraction, findings = one(test_config, tmp_path, lambda p: set_cells(
        p, sheet, {cell: "Phường Hương Văn"}))  # P02's name in P03's workbook
    [hit] = [f for f in findings if f.rule == "unit-name-mismatch"]
    assert hit.cell == cell and "P02" in hit.message and extraction.values.empty


def test_rows_swapped_by_cut_and_paste_are_refused_not_read_for_the_wrong_indicator(
        test_config, tmp_path):
    sheet, cell = cell_of(test_config, "B1.2||2021")  # B1.1 is on the row above
    row = int(re.sub(r"\D", "", cell))

    def swap(path):  # the visible label and numbers of two rows swap; the hidden keys stay
        from openpyxl import load_workbook

        wb = load_workbook(path)
        ws = wb[sheet]
        other = row - 1
        for col in range(2, ws.max_column + 1):
            a, b = ws.cell(row, col), ws.cell(other, col)
            a.value, b.value = b.value, a.value
        wb.save(path)

    extraction, findings = one(test_config, tmp_path, swap)
    mismatched = [f for f in findings if f.rule == "label-mismatch"]
    assert {f.cell for f in mismatched} == {f"C{row}", f"C{row - 1}"}
    assert not extraction.values.indicator.isin(["B1.1", "B1.2"]).any()


def test_year_columns_swapped_are_refused(test_config, tmp_path):
    sheet, cell = cell_of(test_config, "B1.1||2021")
    _, next_cell = cell_of(test_config, "B1.1||2022")
    header_row = int(re.sub(r"\D", "", cell)) - 2

    def swap(path):
        from openpyxl import load_workbook

        wb = load_workbook(path)
        ws = wb[sheet]
        a, b = ws[f"E{header_row}"], ws[f"F{header_row}"]
        a.value, b.value = b.value, a.value
        wb.save(path)

    extraction, findings = one(test_config, tmp_path, swap)
    cols = {f.cell for f in findings if f.rule == "header-mismatch"}
    assert cols == {f"E{header_row}", f"F{header_row}"}
    assert not ((extraction.values.indicator == "B1.1")
                & extraction.values.year.isin([2021, 2022])).any()


def test_two_workbooks_for_one_unit_the_one_named_for_it_wins(test_config, tmp_path):
    from datetime import date

    named = workbook(test_config, "P02", tmp_path, "P02-phuong-huong-van.xlsx")
    intruder = workbook(test_config, "P02", tmp_path, "X01-sua.xlsx")
    os.utime(intruder, (time.time() + 60, time.time() + 60))  # the intruder is newer
    config = test_config.model_copy(update={"limits": LIMITS})
    source = FolderSource(tmp_path, config, isolate=False)
    layout = build_layout(config)
    extractions = [extract_workbook(source.read(r), layout, config.units.by_code())
                   for r in source.refs()]
    result = consolidate(extractions, config, layout, date(2023, 4, 5), config.rules)
    assert result.chosen["P02"].source == named.name
    [dup] = result.findings[result.findings.rule == "duplicate-unit"].itertuples()
    assert dup.source == intruder.name and "tên tệp bắt đầu bằng mã P02" in dup.message
