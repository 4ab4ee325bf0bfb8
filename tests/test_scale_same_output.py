"""The short ways a nation's report takes write exactly what the long ways write.

* small counts: a large group's feasible points found part by part (`_PART_CELLS`) protect
  the same cells as the few objectives over its whole programme;
* bao-cao.docx: the unit rows written from their shape (`docx_rows`) are the rows docxtpl,
  lxml and python-docx write, texts that need escaping or hold a break included;
* phu-luc.xlsx: rows held by `xlsx_rows` are written as openpyxl writes its own cells.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import datetime

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font, NamedStyle

import flows.core.suppression as suppression
import flows.outputs.report.docx as docx
from flows.core.suppression import linear_relations, protect
from flows.outputs.report.charts import render_charts
from flows.outputs.report.content import build_content
from flows.outputs.report.docx import TEMPLATE_FILE, render_docx
from flows.outputs.report.figures import Figures
from flows.outputs.report.model import UNIT, Cell
from flows.outputs.report.wording import config_wording
from flows.outputs.xlsx_package import save_valid
from flows.outputs.xlsx_rows import add_row
from flows.testing.bench.report import AS_OF, synthetic_result


@pytest.fixture(scope="module")
def synthetic():
    config, _, result = synthetic_result(24)
    return config, result, Figures.build(result, config)


def test_parts_protect_the_cells_the_whole_programme_protects(synthetic, monkeypatch):
    config, _, exact = synthetic
    sensitive = {item.code for item in config.form.items() if item.sensitive}
    args = (exact.numbers, sensitive, linear_relations(config.rules, sensitive), 4)
    monkeypatch.setattr(suppression, "_PART_CELLS", 10**9)  # every group: the whole one
    whole = protect(*args)
    monkeypatch.setattr(suppression, "_PART_CELLS", 25)  # every group but tiny ones: parts
    parts = protect(*args)
    assert len(whole.cells) > 500
    assert parts.cells.equals(whole.cells) and parts.unresolved == whole.unresolved


TRICKY = ["A & B <c> \"q\" 'x'", " spaces around ", "", "{_{ not a tag }_}", "a\rb",
          "\u202eevil", "😀 Có"]


def _document(path) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read("word/document.xml")


def test_unit_rows_from_their_shape_are_the_rows_the_template_writes(synthetic, tmp_path,
                                                                     monkeypatch):
    config, result, exact = synthetic
    wording = config_wording(config)
    content = build_content(result, config, AS_OF, True, wording, exact.protected(config))
    appendices = []
    for a, appendix in enumerate(content.appendices):
        tables = []
        for t, table in enumerate(appendix.tables):
            rows = []
            for n, row in enumerate(table.rows):
                if row.kind == UNIT:  # texts that need escaping; one table with a break
                    text = TRICKY[(n + t) % len(TRICKY)] + ("\nline" if (a, t, n) == (0, 0, 3)
                                                            else "")
                    row = replace(row, label=text, cells=[
                        Cell(cell.value, TRICKY[(n + j) % len(TRICKY)])
                        for j, cell in enumerate(row.cells)])
                rows.append(row)
            tables.append(replace(table, rows=rows))
        appendices.append(replace(appendix, tables=tables))
    content = replace(content, appendices=appendices)
    charts = render_charts(content.charts, wording, tmp_path)
    now = datetime(2023, 4, 5, 8, 0)
    number = str(wording.raw("appendix.number"))
    short = render_docx(content, charts, config.template(TEMPLATE_FILE), tmp_path / "a.docx",
                        number, now=now)
    monkeypatch.setattr(docx, "condense", lambda content: (content, []))  # the long way
    long = render_docx(content, charts, config.template(TEMPLATE_FILE), tmp_path / "b.docx",
                       number, now=now)
    assert _document(short) == _document(long)
    assert b" spaces around " in _document(short)


VALUES = [None, 0, -0.0, 0.0, 1, 1.5, 1e-7, -3, 123456789012345678, True, "", " a ",
          "x&<>\"'", "=SUM(A1:A2)", "#N/A", "Có", "😀", "\r\nq", 2.5]


def _workbook(held: bool) -> Workbook:
    wb = Workbook()
    ws = wb.active
    wb.add_named_style(NamedStyle("bold", font=Font(bold=True)))
    styled = ws.cell(1, 1)
    styled.style = "bold"
    style = styled._style
    ws.cell(1, 1, "head").font = Font(italic=True)
    ws.row_dimensions[4].height = 30  # a row with a dimension: openpyxl writes it
    for r in range(2, 7):
        values = VALUES[r:] + VALUES[:r]
        styles = [style if (j + r) % 3 else None for j in range(len(values))]
        if held:
            add_row(ws, r, 2, values, styles)
        else:
            for j, (value, cell_style) in enumerate(zip(values, styles, strict=True)):
                cell = ws.cell(r, 2 + j, value)
                if cell_style is not None:
                    cell._style = type(style)(cell_style)
    ws.cell(5, 1, "beside")  # a row with an openpyxl cell too
    ws.freeze_panes = "C3"
    return wb


def test_held_rows_are_written_as_openpyxl_writes_its_cells(tmp_path):
    paths = []
    for held in (False, True):
        paths.append(tmp_path / f"{held}.xlsx")
        save_valid(_workbook(held), paths[-1])
    with zipfile.ZipFile(paths[0]) as plain, zipfile.ZipFile(paths[1]) as fast:
        assert plain.namelist() == fast.namelist()
        for name in plain.namelist():
            if name != "docProps/core.xml":  # the time it was written
                assert plain.read(name) == fast.read(name), name
