"""Render `bao-cao.docx` from the docxtpl template, then fit what Jinja cannot size.

After rendering, two things depend on the data: the width of every appendix table's columns (their
number varies) and the length of the rules under the issuer, the motto and the title (Decree
30/2020 wants them as long as, or a third to a half of, the text above).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docxtpl import DocxTemplate, InlineImage
from lxml import etree
from PIL import Image

from flows.outputs.atomic import write_atomically, write_bytes
from flows.outputs.report.docx_rows import condense, expand
from flows.outputs.report.measure import text_width_pt
from flows.outputs.report.model import LONG_TEXT, ReportContent, Table, template_context
from flows.outputs.report.template_builder import (
    CELL_MARGIN_MM,
    LANDSCAPE_TEXT_WIDTH_MM,
    LONG_RULE,
    PARAGRAPH_STYLES,
    PPR_ORDER,
    SHORT_RULE,
    TBLPR_ORDER,
    TCPR_ORDER,
    TEXT_WIDTH_MM,
    insert_ordered,
    rule_indent_mm,
)
from flows.outputs.safe import xml_safe

TEMPLATE_FILE = "bao-cao.docx"
NUMBER_COLUMN_MM = 11.0
CHART_WIDTH_MM = 160.0
CHART_MAX_HEIGHT_MM = 225.0
TWIPS_PER_MM = 1440 / 25.4
_LISTING = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")


class _Template(DocxTemplate):
    """docxtpl, minus a slow no-op: its scan of every run for \n, \t, \a or \f (line breaks,
    tabs, new paragraphs, page breaks typed into values) when no value contains any; with the
    grids fixed only where they can change (`fix_tables`) and the rendered body moved into the
    document piece by piece (`map_tree`)."""

    refitted = 0  # how many "Table Grid" tables `fit_table` gives a new grid after rendering

    def resolve_listing(self, xml: str) -> str:
        if _LISTING.search(xml) is None:
            return xml
        return super().resolve_listing(xml)

    def fix_tables(self, xml: str):
        """docxtpl's (0.20): a table's grid gets a column for each cell a row has beyond it,
        and loses the columns no row reaches. It looks at every cell in Python; here only a
        table whose grid could change is looked at: not the appendix tables, which
        `fit_table` gives a grid of their own after rendering (when there are as many as the
        content has), nor a table where no row has more cells than the grid has columns and
        some row has as many (XPath). Another one: docxtpl's own, for every table."""
        tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        ns = {"w": tree.nsmap["w"]}
        names = {style.style_id: style.name for style in self.docx.styles}
        tables = list(tree.iter(W_TBL))
        grid = [t for t in tables if _style_name(t, names) == "Table Grid"]
        refitted = set(grid) if len(grid) == self.refitted else set()
        if any(t.xpath(_GRID_MAY_CHANGE, namespaces=ns,
                       n=len(t.find(W_TBLGRID).findall(W_GRIDCOL)))
               for t in tables if t not in refitted):
            return super().fix_tables(xml)
        return tree

    def map_tree(self, tree) -> None:
        """docxtpl's, the same document, in linear time. lxml (6.1) adapts the namespaces of
        a subtree moved into another document in time quadratic in its `xml:space`
        attributes (one per run of text: it never caches the XML namespace), which made the
        report of 3,000 units take minutes. So the body goes in empty, then its children one
        by one, a table's rows one by one (taking a piece out of its tree costs the same)."""
        pieces = []
        for child in list(tree):
            parts = list(child) if child.tag == W_TBL else []
            for part in parts:
                child.remove(part)
            tree.remove(child)
            pieces.append((child, parts))
        super().map_tree(tree)
        for child, parts in pieces:
            tree.append(child)
            for part in parts:
                child.append(part)


def _chart(tpl: DocxTemplate, path: Path) -> InlineImage:
    """The chart at text width, smaller if it would not fit the page height."""
    with Image.open(path) as image:
        width_px, height_px = image.size
    width = min(CHART_WIDTH_MM, CHART_MAX_HEIGHT_MM * width_px / height_px)
    return InlineImage(tpl, str(path), width=Mm(width))


# --------------------------------------------------------------------------- after rendering


def _twips(mm: float) -> str:
    return str(round(mm * TWIPS_PER_MM))


# Qualified tag names, computed once: the fitting walks tens of thousands of cells.
W_TR, W_TC, W_TCPR, W_GRIDSPAN, W_VAL = qn("w:tr"), qn("w:tc"), qn("w:tcPr"), qn("w:gridSpan"), \
    qn("w:val")
W_W, W_TYPE, W_TCW = qn("w:w"), qn("w:type"), qn("w:tcW")
W_TBL, W_TBLGRID, W_GRIDCOL = qn("w:tbl"), qn("w:tblGrid"), qn("w:gridCol")
# a row with more cells than the grid has columns, or none with as many
_GRID_MAY_CHANGE = "boolean(.//w:tr[count(w:tc) > $n]) or not(.//w:tr[count(w:tc) >= $n])"


def _style_name(tbl, names: dict[str, str]) -> str | None:
    style = tbl.find(f"{qn('w:tblPr')}/{qn('w:tblStyle')}")
    return None if style is None else names.get(style.get(qn("w:val")))


def _set_width(parent, tag: str, twips: str, order: list[str]) -> None:
    node = parent.find(tag)
    if node is None:
        node = insert_ordered(parent, OxmlElement("w:" + tag.split("}")[1]), order)
    elif tag == W_TCW and parent.index(node) != 0:
        # docxtpl's {% colspan %} puts gridSpan first; Word wants tcW before it.
        parent.remove(node)
        insert_ordered(parent, node, order)
    node.set(W_W, twips)
    node.set(W_TYPE, "dxa")


def fit_table(tbl, table: Table) -> None:
    """Column widths for a rendered appendix table: number, label, then the value columns."""
    values = len(table.columns)
    free = LANDSCAPE_TEXT_WIDTH_MM - NUMBER_COLUMN_MM - table.stub_mm
    if table.value_mm and len(table.value_mm) == values:
        scale = free / sum(table.value_mm)  # relative widths, scaled to the page
        widths = [NUMBER_COLUMN_MM, table.stub_mm] + [w * scale for w in table.value_mm]
    else:
        widths = [NUMBER_COLUMN_MM, table.stub_mm] + [free / max(values, 1)] * values
    grid = tbl.find(qn("w:tblGrid"))
    for column in list(grid):
        grid.remove(column)
    for width in widths:
        column = OxmlElement("w:gridCol")
        column.set(W_W, _twips(width))
        grid.append(column)
    _set_width(tbl.find(qn("w:tblPr")), qn("w:tblW"), _twips(sum(widths)), TBLPR_ORDER)
    spans: dict[tuple[int, int], str] = {}  # (first column, span) → width in twips
    for tr in tbl.iter(W_TR):
        position = 0
        for tc in tr.iterchildren(W_TC):
            tc_pr = tc.find(W_TCPR)
            span_node = tc_pr.find(W_GRIDSPAN) if tc_pr is not None else None
            span = int(span_node.get(W_VAL)) if span_node is not None else 1
            if tc_pr is not None:
                twips = spans.get((position, span))
                if twips is None:
                    twips = spans[(position, span)] = _twips(
                        sum(widths[position:position + span]))
                _set_width(tc_pr, W_TCW, twips, TCPR_ORDER)
            position += span


def align_long_texts(tbl, table: Table, style_id: str | None) -> None:
    """Long texts (a unit's list of problems) read from the left, not right-aligned as
    numbers: their cells take the table's text style."""
    wide = [2 + j for j, column in enumerate(table.columns) if column.kind == LONG_TEXT]
    if not wide or style_id is None:
        return
    for tr in list(tbl.iter(W_TR))[len(table.header):]:
        cells = list(tr.iterchildren(W_TC))
        for j in wide:
            if j < len(cells):
                for style in cells[j].iter(qn("w:pStyle")):
                    style.set(W_VAL, style_id)


def _paragraph_text(p) -> str:
    return "".join(t.text or "" for t in p.iter(qn("w:t")))


def _paragraph_style(p, names: dict[str, str]) -> str:
    node = p.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
    return names.get(node.get(W_VAL), "") if node is not None else ""


def _text_width_mm(p, names: dict[str, str]) -> float:
    size, bold, italic, *_ = PARAGRAPH_STYLES.get(_paragraph_style(p, names),
                                                  (14, True, False))
    return text_width_pt(_paragraph_text(p), size, bold, italic) * 25.4 / 72


def fit_rules(body, names: dict[str, str]) -> None:
    """Size each rule paragraph to the lines of the same style just above it."""
    ids = [style_id for style_id, name in names.items() if name in (SHORT_RULE, LONG_RULE)]
    if not ids:
        return
    children = list(body)
    first_break = next((i for i, child in enumerate(children) if child.tag == qn("w:p")
                        and child.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None),
                       len(children))
    position = {child: i for i, child in enumerate(children)}
    test = " or ".join(f'@w:val="{style_id}"' for style_id in ids)
    for p in body.xpath(f".//w:p[w:pPr/w:pStyle[{test}]]"):
        top = p if p.getparent() is body else next(a for a in p.iterancestors()
                                                   if a.getparent() is body)
        above, kind = [], None
        sibling = p.getprevious()
        while sibling is not None and sibling.tag == qn("w:p"):
            text_style = _paragraph_style(sibling, names)
            if _paragraph_text(sibling).strip():
                if kind not in (None, text_style):
                    break
                kind = text_style
                above.append(_text_width_mm(sibling, names))
            sibling = sibling.getprevious()
        container = _container_mm(p, position[top] > first_break)
        indent = rule_indent_mm(max(above, default=container / 2), container,
                                _paragraph_style(p, names) == LONG_RULE)
        p_pr = p.find(qn("w:pPr"))
        ind = p_pr.find(qn("w:ind"))
        if ind is None:
            ind = insert_ordered(p_pr, OxmlElement("w:ind"), PPR_ORDER)
        ind.set(qn("w:left"), _twips(indent))
        ind.set(qn("w:right"), _twips(indent))


def _container_mm(p, in_appendix: bool) -> float:
    tc = next((a for a in p.iterancestors() if a.tag == W_TC), None)
    if tc is not None:
        width = tc.find(f"{qn('w:tcPr')}/{qn('w:tcW')}")
        if width is not None:
            return int(width.get(W_W)) / TWIPS_PER_MM - 2 * CELL_MARGIN_MM
    return LANDSCAPE_TEXT_WIDTH_MM if in_appendix else TEXT_WIDTH_MM


def mark_pages(document, mark: str) -> None:
    """The internal version's mark at the top and the bottom of every page: in each header and
    footer a section defines (the first page's too), and in the first section's missing ones,
    which the later sections inherit."""
    rels = document.part.rels
    cache = getattr(rels, "_target_parts_by_rId", None)
    if isinstance(cache, dict):  # docxtpl swaps the rendered header parts in behind this cache
        cache.update({rId: rel._target for rId, rel in rels.items() if not rel.is_external})
    even = document.settings.odd_and_even_pages_header_footer
    for n, section in enumerate(document.sections):
        parts = [section.header, section.footer]
        if section.different_first_page_header_footer:
            parts += [section.first_page_header, section.first_page_footer]
        if even:
            parts += [section.even_page_header, section.even_page_footer]
        for part in parts:
            if part.is_linked_to_previous:
                if n:
                    continue  # it shows the previous section's, marked already
                part.is_linked_to_previous = False
            paragraph = part.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run(mark)
            run.bold = True
            run.font.name = "Times New Roman"
            run.font.size = Pt(11)
            run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)


def render_docx(content: ReportContent, chart_paths: dict[str, Path], template: Path,
                path: Path, number_header: str, now: datetime | None = None,
                internal_mark: str = "") -> Path:
    """Fill the template with the report content and write `path` atomically; with
    `internal_mark`, the internal version, marked on every page. The appendix's unit rows
    are written from their shape (`docx_rows`) when it can be trusted."""
    now = now or datetime.now(UTC)
    condensed, bulks = condense(content)
    tpl = _rendered(condensed, chart_paths, template, number_header, now, internal_mark)
    if bulks:
        saved = BytesIO()
        tpl.save(saved)
        package = expand(saved.getvalue(), bulks)
        if package is not None:
            return write_bytes(path, package)
        tpl = _rendered(content, chart_paths, template, number_header, now, internal_mark)
    return write_atomically(path, lambda tmp: tpl.save(str(tmp)))


def _rendered(content: ReportContent, chart_paths: dict[str, Path], template: Path,
              number_header: str, now: datetime, internal_mark: str) -> _Template:
    """The template filled with `content` and fitted, not yet saved."""
    tpl = _Template(str(template))
    tables = [t for a in content.appendices for t in a.tables]
    tpl.refitted = len(tables)
    charts = {key: _chart(tpl, chart) for key, chart in chart_paths.items()}
    tpl.render(template_context(content, charts, number_header), autoescape=True)
    body = tpl.docx.element.body
    names = {style.style_id: style.name for style in tpl.docx.styles}
    grid_tables = [t for t in body.iter(W_TBL) if _style_name(t, names) == "Table Grid"]
    if len(grid_tables) == len(tables):  # an office-edited template may add its own tables
        text_style = next((i for i, name in names.items() if name == "BC Bang chu"), None)
        for tbl, table in zip(grid_tables, tables, strict=True):
            fit_table(tbl, table)
            align_long_texts(tbl, table, text_style)
    fit_rules(body, names)
    if internal_mark:
        mark_pages(tpl.docx, internal_mark)
    _properties(tpl.docx.core_properties, content, now, internal_mark)
    return tpl


def _properties(core, content: ReportContent, now: datetime, internal_mark: str = "") -> None:
    """The document's own title, author and dates are this report's, not the template's."""
    header = content.header
    core.title = xml_safe(f"{header.kind.capitalize()} {header.title}"
                          + (f" ({internal_mark})" if internal_mark else ""))
    core.subject = xml_safe(header.title)
    core.author = core.last_modified_by = xml_safe(" ".join(header.issuer_lines).strip())
    core.comments = ""
    core.keywords = ""
    core.created = core.modified = now.replace(microsecond=0, tzinfo=None)
    core.revision = 1
