"""The unit rows of the Word appendix, written once per table shape instead of once per unit.

A nation's appendix holds a row per unit in every table: 200,000 rows, 140 MB of XML, which
docxtpl renders through Jinja, lxml parses, the fitting walks cell by cell and python-docx
writes back. Every unit row of a table comes out of the same template code (a unit row is
never bold, and its cells are its only values), so the document is rendered with three
placeholder rows per table instead; in the written `word/document.xml` those three rows,
fitted like any other, are the table's row shape, and each unit's row is that shape with its
own texts, each escaped exactly as the long way escapes it (Jinja's autoescape, docxtpl's
clean-up, lxml's parser and serialiser: the same calls, once per distinct text).

Whenever the shape cannot be trusted — the three rows differ (a template that numbers or
stripes its rows by position), a placeholder is not the whole text of a `w:t`, or a text holds
what docxtpl turns into breaks (tab, line or page break) — the caller renders the whole
document the long way. The result is the same document, byte for byte, either way.
"""

from __future__ import annotations

import re
import secrets
import zipfile
from dataclasses import dataclass, replace
from io import BytesIO

from lxml import etree
from markupsafe import escape

from flows.outputs.report.model import UNIT, Cell, ReportContent, Row
from flows.outputs.safe import xml_safe

DOCUMENT = "word/document.xml"
SAMPLES = 3  # placeholder rows per table: consecutive rows must come out the same
_LISTING = re.compile("[\t\a\n\f]")  # what docxtpl's resolve_listing turns into markup
_ROW_START = (b"<w:tr>", b"<w:tr ")
_ROW_END = b"</w:tr>"
_TEXT_END = b"</w:t>"


@dataclass(frozen=True)
class _Bulk:
    """The unit rows of one table and the placeholder rows that stand for them."""

    rows: list[Row]
    tokens: list[list[str]]  # per placeholder row: number, label, then each cell


def condense(content: ReportContent) -> tuple[ReportContent, list[_Bulk]]:
    """`content` with each table's run of unit rows (more than SAMPLES of them, none holding
    a break) replaced by SAMPLES placeholder rows; and what they stand for."""
    nonce = secrets.token_hex(6)
    bulks: list[_Bulk] = []
    appendices = []
    for a, appendix in enumerate(content.appendices):
        tables = []
        for t, table in enumerate(appendix.tables):
            units = [i for i, row in enumerate(table.rows) if row.kind == UNIT]
            first, last = (units[0], units[-1] + 1) if units else (0, 0)
            run = table.rows[first:last]
            if (len(run) <= SAMPLES or len(units) != len(run)
                    or any(_LISTING.search(text) for row in run for text in _texts(row))):
                tables.append(table)
                continue
            tokens = [[f"\ue000{nonce}.{a}.{t}.{k}.{f}\ue001"
                       for f in range(2 + len(run[0].cells))] for k in range(SAMPLES)]
            samples = [Row(UNIT, number, label, [Cell(None, text) for text in cells])
                       for number, label, *cells in tokens]
            bulks.append(_Bulk(run, tokens))
            tables.append(replace(table, rows=table.rows[:first] + samples
                                  + table.rows[last:]))
        appendices.append(replace(appendix, tables=tables))
    return replace(content, appendices=appendices), bulks


def _texts(row: Row) -> list[str]:
    return [row.number, row.label, *(cell.text for cell in row.cells)]


def expand(package: bytes, bulks: list[_Bulk]) -> bytes | None:
    """The .docx `package` (rendered from `condense`'s content) with every table's unit rows
    in place of its placeholder rows; None when a placeholder row is not as expected."""
    with zipfile.ZipFile(BytesIO(package)) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info, data in members:
            if info.filename == DOCUMENT:
                data = _expanded(data, bulks)
                if data is None:
                    return None
            target.writestr(info, data)
    return out.getvalue()


def _expanded(xml: bytes, bulks: list[_Bulk]) -> bytes | None:
    texts = _written({text for bulk in bulks for row in bulk.rows for text in _texts(row)})
    pieces, done = [], 0
    for bulk in bulks:
        found = _shape(xml, bulk.tokens)
        if found is None or found[0] < done:
            return None
        start, end, segments = found
        pieces.append(xml[done:start])
        for row in bulk.rows:
            pieces.append(segments[0])
            for text, segment in zip(_texts(row), segments[1:], strict=True):
                written = texts[text]
                pieces += (b">", written, _TEXT_END) if written else (b"/>",)
                pieces.append(segment)
        done = end
    pieces.append(xml[done:])
    return b"".join(pieces)


def _shape(xml: bytes, tokens: list[list[str]]) -> tuple[int, int, list[bytes]] | None:
    """Where the placeholder rows are (start, end) and their common shape: the bytes around
    each placeholder, a placeholder being `>TOKEN</w:t>` (the whole text of a run)."""
    spans, shapes = [], []
    for row_tokens in tokens:
        marks = [token.encode("utf-8") for token in row_tokens]
        at = xml.find(marks[0])
        if at < 0:
            return None
        start = max(xml.rfind(tag, 0, at) for tag in _ROW_START)
        end = xml.find(_ROW_END, at) + len(_ROW_END)
        if start < 0 or end < len(_ROW_END):
            return None
        row, segments, cursor = xml[start:end], [], 0
        for mark in marks:
            at = row.find(mark, cursor)
            if (at < 1 or row[at - 1:at] != b">" or xml.count(mark) != 1
                    or row[at + len(mark):at + len(mark) + len(_TEXT_END)] != _TEXT_END):
                return None
            segments.append(row[cursor:at - 1])
            cursor = at + len(mark) + len(_TEXT_END)
        segments.append(row[cursor:])
        spans.append((start, end))
        shapes.append(segments)
    contiguous = all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    if not contiguous or any(shape != shapes[0] for shape in shapes[1:]):
        return None
    return spans[0][0], spans[-1][1], shapes[0]


def _written(texts: set[str]) -> dict[str, bytes]:
    """Each text as the long way writes it inside a `w:t`: made XML-safe (the template
    context), escaped by Jinja, un-escaped docxtpl's way, parsed by lxml (line ends
    normalised) and serialised as python-docx saves the document (UTF-8)."""
    ordered = sorted(texts)
    rendered = "".join(f"<y>{escape(xml_safe(text))}</y>" for text in ordered)
    rendered = (rendered.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%")
                .replace("%_}", "%}"))
    root = etree.fromstring(f"<x>{rendered}</x>", parser=etree.XMLParser(recover=True))
    written = {}
    for text, node in zip(ordered, root, strict=True):
        data = etree.tostring(node, encoding="UTF-8")
        written[text] = b"" if data == b"<y/>" else data[len(b"<y>"):-len(b"</y>")]
    return written
