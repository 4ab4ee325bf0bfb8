"""The report as plain data: built once by `content`, laid out by the docx, HTML and xlsx writers.

Everything here is already worded and formatted in Vietnamese; the writers only place it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.outputs.safe import cleaned_deep

# Paragraph kinds of the body: headings of three levels, running text, a chart and its caption.
H2, H3, TEXT, CHART, CAPTION = "h2", "h3", "p", "chart", "caption"
# Row kinds of a table.
UNIT, TOTAL, COVERAGE, CATEGORY = "unit", "total", "coverage", "category"
# Column kind of a longer text (a list of problems): wrapped and aligned left, unlike values.
LONG_TEXT = "long_text"


@dataclass(frozen=True)
class Para:
    kind: str
    text: str = ""
    chart: str = ""  # chart key, for kind CHART


@dataclass(frozen=True)
class Section:
    """A numbered part of the body ("I. …") and its paragraphs."""

    heading: str
    paras: list[Para]


@dataclass(frozen=True)
class Column:
    """What one value column of a table holds."""

    indicator: str
    breakdown: str
    year: int | None
    kind: str  # "integer", "money", "yesno", "percent", "text" or LONG_TEXT


@dataclass(frozen=True)
class Cell:
    """A value and its Vietnamese text. `key` (indicator, breakdown, year) marks a town-level sum
    of the units, written as a SUMIFS formula in the workbook; `partial` marks a sum of fewer
    units than the table's coverage row says; `fixed` a total or count over cells the
    published version does not show ("<5", "x"): the workbook holds its value (or mark), not a
    formula, which would add up the shown cells only."""

    value: float | str | None
    text: str
    key: tuple[str, str, int | None] | None = None
    partial: bool = False
    fixed: bool = False


@dataclass(frozen=True)
class Row:
    kind: str  # UNIT, TOTAL, COVERAGE or CATEGORY
    number: str  # the "STT" column
    label: str
    cells: list[Cell]
    unit_code: str = ""

    @property
    def bold(self) -> bool:
        return self.kind in (TOTAL, COVERAGE)


@dataclass(frozen=True)
class HeaderCell:
    text: str
    span: int = 1


@dataclass(frozen=True)
class Table:
    """One appendix table: a stub column (units or categories) and value columns."""

    key: str  # stable id, e.g. "C-3" (tab, chunk); names the workbook ranges
    caption: str
    stub: str  # header of the label column
    header: list[list[HeaderCell]]  # header rows over the value columns
    columns: list[Column]
    rows: list[Row]
    note: str = ""
    stub_mm: float = 48.0  # width of the label column on the page
    value_mm: list[float] = field(default_factory=list)  # relative widths; empty: equal

    def units(self) -> list[Row]:
        return [row for row in self.rows if row.kind == UNIT]


@dataclass(frozen=True)
class Appendix:
    number: str  # Roman numeral
    title: str  # upper case
    attached: str  # "(Kèm theo Báo cáo số …)"
    tables: list[Table]
    sheet: str  # worksheet name in phu-luc.xlsx


@dataclass(frozen=True)
class Header:
    """The Decree 30/2020 header block, number, place and date, title, recipients, signer."""

    parent_lines: list[str]
    issuer_lines: list[str]
    number: str  # "Số: …/BC-UBND"
    place_date: str  # "Hương Trà, ngày 05 tháng 4 năm 2023"
    kind: str  # "BÁO CÁO"
    title: str
    recipients: list[str]
    signer_lines: list[str]  # TM. …, KT. …, PHÓ CHỦ TỊCH
    signer_name: str
    draft: bool
    draft_mark: str


@dataclass
class ReportContent:
    header: Header
    intro: str
    sections: list[Section]
    closing: str
    appendices: list[Appendix]
    charts: dict[str, dict] = field(default_factory=dict)  # key → chart spec (charts.py)
    notes: list[str] = field(default_factory=list)  # problems found while writing (Vietnamese)
    meta: dict[str, object] = field(default_factory=dict)  # figures for the summary


class _Fields(dict):
    """A dict whose keys read as attributes too. Jinja's `t.caption` tries an attribute
    before a key: on a plain dict that is an AttributeError raised and caught, for each of
    the appendix's hundreds of thousands of cells. Same values, same precedence (a dict's
    own attributes, `items` and the like, first), same undefined for a missing key; never
    changed once made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            if isinstance(key, str) and not hasattr(dict, key):
                setattr(self, key, value)


def _table_context(table: Table, number_header: str) -> dict:
    return {
        "caption": table.caption, "stub": table.stub, "number_header": number_header,
        "note": table.note,
        "text_columns": [j for j, c in enumerate(table.columns) if c.kind == LONG_TEXT],
        "header": [[{"text": h.text, "span": h.span} for h in row] for row in table.header],
        "rows": [{"number": r.number, "label": r.label, "bold": r.bold,
                  "cells": [c.text for c in r.cells]} for r in table.rows],
    }


def template_context(content: ReportContent, charts: dict, number_header: str) -> dict:
    """What the Word and HTML templates see: plain dicts and lists, cells as text; no string
    holds a character the .docx XML cannot (communes' text is quoted in the report)."""
    context = cleaned_deep({
        "header": content.header, "intro": content.intro, "closing": content.closing,
        "sections": content.sections, "charts": charts,
        "appendices": [{"number": a.number, "title": a.title, "attached": a.attached,
                        "tables": [_table_context(t, number_header) for t in a.tables]}
                       for a in content.appendices],
    })
    for appendix in context["appendices"]:
        appendix["tables"] = [_Fields(t, rows=[_Fields(r) for r in t["rows"]])
                              for t in appendix["tables"]]
    return context
