"""Build the Word template `templates/bao-cao.docx` (Decree 30/2020 layout, docxtpl tags inside).

Run `python templates/build_report_template.py`. The result is committed so that office staff can
open it in Word or LibreOffice and change fonts, spacing or fixed labels; the sentences come from
`templates/bao-cao.yaml`. Jinja2 tags: ``{{ … }}`` values, ``{%p … %}`` paragraph loops and
conditions, ``{%tr … %}`` / ``{%tc … %}`` table rows and columns (see the docxtpl manual).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, Twips

from flows.outputs.atomic import write_atomically
from flows.outputs.report.measure import text_width_pt

FONT = "Times New Roman"
FIXED_TIME = datetime(2023, 1, 1)
def _mm_up(mm: float) -> Twips:
    """Word stores margins in twips: round up so 15 mm never becomes 14.99 mm."""
    return Twips(math.ceil(mm * 1440 / 25.4))


PAGE = (Mm(210), Mm(297))
MARGINS = {"top": _mm_up(20), "bottom": _mm_up(20), "left": _mm_up(30), "right": _mm_up(15)}
HEADER_DISTANCE = _mm_up(12)
TEXT_WIDTH_MM = 210 - 30 - 15
LANDSCAPE_TEXT_WIDTH_MM = 297 - 30 - 15
HEADER_COLUMNS_MM = (62, TEXT_WIDTH_MM - 62)
SIGNATURE_COLUMNS_MM = (75, TEXT_WIDTH_MM - 75)
CELL_MARGIN_MM = 1.0  # left and right padding inside the borderless header tables
APPENDIX_COLUMNS_MM = (11, 46, 20, 20, 20)
NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
SHORT_RULE, LONG_RULE = "BC Ke ngan", "BC Ke dai"
SHORT_RULE_SHARE = 0.4  # Decree 30: 1/3 to 1/2 of the text above
SHORT_RULE_MAX_MM = 60.0

# name → (size pt, bold, italic, alignment, first-line indent mm, space before, space after)
PARAGRAPH_STYLES = {
    "BC Noi dung": (14, False, False, "justify", 12.7, 0, 6),
    "BC Ket luan": (14, False, False, "justify", 12.7, 0, 12),  # kept with the signature
    "BC Muc": (14, True, False, "left", 12.7, 6, 6),
    "BC Tieu muc": (14, True, False, "justify", 12.7, 3, 6),
    "BC Tieu muc 2": (14, True, True, "justify", 12.7, 0, 6),
    "BC Hinh": (14, False, False, "center", 0, 6, 0),
    "BC Chu thich": (12, False, True, "center", 0, 0, 9),
    "BC Co quan chu quan": (13, False, False, "center", 0, 0, 0),
    "BC Co quan ban hanh": (13, True, False, "center", 0, 0, 0),
    "BC Quoc hieu": (12, True, False, "center", 0, 0, 0),
    "BC Tieu ngu": (13, True, False, "center", 0, 0, 0),
    "BC So ky hieu": (13, False, False, "center", 0, 6, 0),
    "BC Dia danh": (14, False, True, "center", 0, 6, 0),
    "BC Ten loai": (14, True, False, "center", 0, 18, 0),
    "BC Trich yeu": (14, True, False, "center", 0, 0, 0),
    "BC Noi nhan": (12, True, True, "left", 0, 0, 0),
    "BC Noi nhan dong": (11, False, False, "left", 0, 0, 0),
    "BC Chuc vu ky": (14, True, False, "center", 0, 0, 0),
    "BC Nguoi ky": (14, True, False, "center", 0, 0, 0),
    "BC Du thao": (13, True, False, "right", 0, 0, 0),
    "BC So trang": (13, False, False, "center", 0, 0, 0),
    "BC Phu luc": (14, True, False, "center", 0, 0, 0),
    "BC Ten phu luc": (14, True, False, "center", 0, 0, 0),
    "BC Kem theo": (14, False, True, "center", 0, 0, 0),
    "BC Ten bang": (11, True, False, "left", 0, 9, 3),
    "BC Ghi chu bang": (10, False, True, "justify", 0, 3, 6),
    "BC Bang tieu de": (10, True, False, "center", 0, 1, 1),
    "BC Bang STT": (10, False, False, "center", 0, 1, 1),
    "BC Bang chu": (10, False, False, "left", 0, 1, 1),
    "BC Bang so": (10, False, False, "right", 0, 1, 1),
    "BC Lenh": (8, False, False, "left", 0, 0, 0),  # lines holding only a {%p …%} tag
    SHORT_RULE: (2, False, False, "center", 0, 3, 0),  # 3 pt below the text it underlines
    LONG_RULE: (2, False, False, "center", 0, 3, 0),
}
_ALIGN = {"justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT}


# --------------------------------------------------------------------------- low level

# Child order the OOXML schema requires (Word refuses a file that breaks it; LibreOffice is
# lenient, so only Word users would notice).
PPR_ORDER = ("pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr "
             "suppressLineNumbers pBdr shd tabs suppressAutoHyphens kinsoku wordWrap "
             "overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd snapToGrid "
             "spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection "
             "textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr "
             "pPrChange").split()
TBLPR_ORDER = ("tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize "
               "tblW jc tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook "
               "tblCaption tblDescription").split()
SECTPR_ORDER = ("headerReference footerReference footnotePr endnotePr type pgSz pgMar paperSrc "
                "pgBorders lnNumType pgNumType cols formProt vAlign noEndnote titlePg "
                "textDirection bidi rtlGutter docGrid printerSettings sectPrChange").split()
TCPR_ORDER = ("cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection "
              "tcFitText vAlign hideMark").split()


def insert_ordered(parent, child, order: list[str]):
    """Insert `child` into `parent` where the schema's child order puts it."""
    name = child.tag.split("}")[1]
    later = {qn(f"w:{tag}") for tag in order[order.index(name) + 1:]}
    for index, existing in enumerate(parent):
        if existing.tag in later:
            parent.insert(index, child)
            return child
    parent.append(child)
    return child


def _set_fonts(rpr_parent) -> None:
    """Times New Roman for every script slot (Vietnamese letters use hAnsi and cs)."""
    rpr = rpr_parent.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), FONT)


def _border(element, sides: tuple[str, ...], size_eighths: int = 6, space: int = 1) -> None:
    """Single black borders on a paragraph (w:pBdr) on the given sides."""
    ppr = element.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    for side in sides:
        line = OxmlElement(f"w:{side}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), str(size_eighths))
        line.set(qn("w:space"), str(space))
        line.set(qn("w:color"), "000000")
        borders.append(line)
    insert_ordered(ppr, borders, PPR_ORDER)


def rule_indent_mm(text_mm: float, container_mm: float, full: bool) -> float:
    """Left = right indent that centres a rule of the right length under `text_mm` of text."""
    text_mm = min(text_mm, container_mm)
    rule = text_mm if full else min(text_mm * SHORT_RULE_SHARE, SHORT_RULE_MAX_MM)
    return max(0.0, (container_mm - rule) / 2)


def _pt_to_mm(points: float) -> float:
    return points * 25.4 / 72


def _rule(container, style: str, text: str, size: float, bold: bool, width_mm: float) -> None:
    paragraph = container.add_paragraph(style=style)
    indent = rule_indent_mm(_pt_to_mm(text_width_pt(text, size, bold)), width_mm,
                            style == LONG_RULE)
    paragraph.paragraph_format.left_indent = Mm(indent)
    paragraph.paragraph_format.right_indent = Mm(indent)


def _para(container, text: str, style: str, bold: bool | None = None):
    paragraph = container.add_paragraph(style=style)
    if text:
        run = paragraph.add_run(text)
        if bold is not None:
            run.bold = bold
    return paragraph


def _tag(container, text: str):
    return _para(container, text, "BC Lenh")


def _table_borders(table, visible: bool) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{side}")
        line.set(qn("w:val"), "single" if visible else "nil")
        if visible:
            line.set(qn("w:sz"), "4")
            line.set(qn("w:color"), "000000")
        borders.append(line)
    insert_ordered(tbl_pr, borders, TBLPR_ORDER)


def _cell_margins(table, mm: float) -> None:
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        node = OxmlElement(f"w:{side}")
        node.set(qn("w:w"), str(round(mm / 25.4 * 1440)))
        node.set(qn("w:type"), "dxa")
        margins.append(node)
    insert_ordered(table._tbl.tblPr, margins, TBLPR_ORDER)


def _drop_styles_with_effects(document) -> None:
    """python-docx's default package carries Word 2010's stylesWithEffects.xml, a copy of the
    styles that ours no longer match; Word would read the mismatch as damaged content."""
    for rid, rel in list(document.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            document.part.drop_rel(rid)


def _fixed_table(container, rows: int, widths_mm: tuple[float, ...], style: str | None = None):
    table = container.add_table(rows=rows, cols=len(widths_mm))
    if style:
        table.style = style
    table.autofit = False  # writes <w:tblLayout w:type="fixed"/>: a second one breaks the schema
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)
    return table


def _first_paragraph(cell, text: str, style: str, bold: bool | None = None):
    """Cells start with one empty paragraph: use it rather than leave a blank line."""
    paragraph = cell.paragraphs[0]
    paragraph.style = style
    if text:
        run = paragraph.add_run(text)
        if bold is not None:
            run.bold = bold
    return paragraph


def _page_field(paragraph) -> None:
    """A PAGE field: Word and LibreOffice print the page number here."""
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "2"),
                       ("end", None)):
        run = paragraph.add_run()
        if kind:
            field = OxmlElement("w:fldChar")
            field.set(qn("w:fldCharType"), kind)
            run._r.append(field)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            run.text = text


def _page_numbers_restart(section) -> None:
    """Each appendix numbers its own pages from 1 (Decree 30/2020, Phụ lục I)."""
    sect_pr = section._sectPr
    for old in sect_pr.findall(qn("w:pgNumType")):
        sect_pr.remove(old)
    numbering = OxmlElement("w:pgNumType")
    numbering.set(qn("w:start"), "1")
    insert_ordered(sect_pr, numbering, SECTPR_ORDER)


# --------------------------------------------------------------------------- styles


def _styles(document) -> None:
    styles = document.styles
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    _set_fonts(normal.element)
    defaults = styles.element.find(qn("w:docDefaults"))
    if defaults is not None:  # tables and footnotes inherit the document defaults
        for fonts in defaults.iter(qn("w:rFonts")):
            for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
                fonts.set(qn(slot), FONT)
            for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:cstheme", "w:eastAsiaTheme"):
                fonts.attrib.pop(qn(theme), None)
    for name, (size, bold, italic, align, indent, before, after) in PARAGRAPH_STYLES.items():
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.quick_style = True
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.bold = bold
        style.font.italic = italic
        _set_fonts(style.element)
        fmt = style.paragraph_format
        fmt.alignment = _ALIGN[align]
        fmt.first_line_indent = Mm(indent) if indent else Mm(0)
        fmt.space_before = Pt(before)
        fmt.space_after = Pt(after)
        if name in (SHORT_RULE, LONG_RULE):
            fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            fmt.line_spacing = Pt(2)
        elif size >= 13 and align in ("justify", "left") and indent:
            fmt.line_spacing = 1.15
        else:
            fmt.line_spacing = 1.0
        fmt.widow_control = True
        if name in ("BC Muc", "BC Tieu muc", "BC Tieu muc 2", "BC Hinh", "BC Ten bang",
                    "BC Phu luc", "BC Ten phu luc", "BC Kem theo", "BC Ket luan"):
            fmt.keep_with_next = True
    for name in (SHORT_RULE, LONG_RULE):
        _border(styles[name].element, ("top",), size_eighths=6, space=0)


# --------------------------------------------------------------------------- parts


def _page_setup(section, landscape: bool) -> None:
    width, height = PAGE
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (height, width) if landscape else (width, height)
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance = HEADER_DISTANCE
    section.footer_distance = HEADER_DISTANCE
    section.different_first_page_header_footer = True


def _headers(section) -> None:
    """Page number centred in the top margin from page 2; the draft mark on page 1."""
    section.header.is_linked_to_previous = False
    number = section.header.paragraphs[0]
    number.style = "BC So trang"
    _page_field(number)
    first = section.first_page_header
    first.is_linked_to_previous = False
    _first_paragraph(first, "{%p if header.draft %}", "BC Lenh")
    mark = _para(first, "{{ header.draft_mark }}", "BC Du thao")
    border = OxmlElement("w:bdr")  # a box around the words only
    for key, value in (("w:val", "single"), ("w:sz", "8"), ("w:space", "2"),
                       ("w:color", "000000")):
        border.set(qn(key), value)
    mark.runs[0]._r.get_or_add_rPr().append(border)
    _tag(first, "{%p endif %}")


def _header_block(document) -> None:
    """Issuer (left) and national title, motto (right); number and place-date below."""
    table = _fixed_table(document, 2, HEADER_COLUMNS_MM)
    _table_borders(table, visible=False)
    _cell_margins(table, CELL_MARGIN_MM)
    left, right = table.cell(0, 0), table.cell(0, 1)
    inner = [w - 2 * CELL_MARGIN_MM for w in HEADER_COLUMNS_MM]
    _first_paragraph(left, "{%p for line in header.parent_lines %}", "BC Lenh")
    _para(left, "{{ line }}", "BC Co quan chu quan")
    _tag(left, "{%p endfor %}")
    _tag(left, "{%p for line in header.issuer_lines %}")
    _para(left, "{{ line }}", "BC Co quan ban hanh")
    _tag(left, "{%p endfor %}")
    # Rules get a placeholder length here; rendering sizes them to the real text.
    _rule(left, SHORT_RULE, "ỦY BAN NHÂN DÂN", 13, True, inner[0])
    _first_paragraph(right, NATIONAL_TITLE, "BC Quoc hieu")
    _para(right, MOTTO, "BC Tieu ngu")
    _rule(right, LONG_RULE, MOTTO, 13, True, inner[1])
    _first_paragraph(table.cell(1, 0), "{{ header.number }}", "BC So ky hieu")
    _first_paragraph(table.cell(1, 1), "{{ header.place_date }}", "BC Dia danh")


def _body(document) -> None:
    _para(document, "{{ header.kind }}", "BC Ten loai")
    _para(document, "{{ header.title }}", "BC Trich yeu")
    _rule(document, SHORT_RULE, "M" * 40, 14, True, TEXT_WIDTH_MM)
    _para(document, "", "BC Noi dung")
    _para(document, "{{ intro }}", "BC Noi dung")
    _tag(document, "{%p for s in sections %}")
    _para(document, "{{ s.heading }}", "BC Muc")
    _tag(document, "{%p for b in s.paras %}")
    _tag(document, "{%p if b.kind == 'h2' %}")
    _para(document, "{{ b.text }}", "BC Tieu muc")
    _tag(document, "{%p elif b.kind == 'h3' %}")
    _para(document, "{{ b.text }}", "BC Tieu muc 2")
    _tag(document, "{%p elif b.kind == 'chart' %}")
    _para(document, "{{ charts[b.chart] }}", "BC Hinh")
    _tag(document, "{%p elif b.kind == 'caption' %}")
    _para(document, "{{ b.text }}", "BC Chu thich")
    _tag(document, "{%p else %}")
    _para(document, "{{ b.text }}", "BC Noi dung")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p endfor %}")
    _tag(document, "{%p endfor %}")
    _para(document, "{{ closing }}", "BC Ket luan")


def _signature(document) -> None:
    """"Nơi nhận:" and recipients (left) beside the signer's titles and name (right)."""
    table = _fixed_table(document, 1, SIGNATURE_COLUMNS_MM)
    _table_borders(table, visible=False)
    _cell_margins(table, CELL_MARGIN_MM)
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    left, right = table.cell(0, 0), table.cell(0, 1)
    _first_paragraph(left, "Nơi nhận:", "BC Noi nhan")
    _tag(left, "{%p for r in header.recipients %}")
    _para(left, "{{ r }}", "BC Noi nhan dong")
    _tag(left, "{%p endfor %}")
    _first_paragraph(right, "{%p for line in header.signer_lines %}", "BC Lenh")
    _para(right, "{{ line }}", "BC Chuc vu ky")
    _tag(right, "{%p endfor %}")
    for _ in range(4):  # room for the signature and the seal
        _para(right, "", "BC Chuc vu ky")
    _para(right, "{{ header.signer_name }}", "BC Nguoi ky")


def _appendix_table(document) -> None:
    """One generic table: header rows with merged cells, then unit / total / coverage rows."""
    table = _fixed_table(document, 10, APPENDIX_COLUMNS_MM, style="Table Grid")
    rows = table.rows
    _first_paragraph(rows[0].cells[0], "{%tr for hrow in t.header %}", "BC Lenh")
    header = rows[1].cells
    _first_paragraph(header[0], "{% vm %}{{ t.number_header }}", "BC Bang tieu de")
    _first_paragraph(header[1], "{% vm %}{{ t.stub }}", "BC Bang tieu de")
    _first_paragraph(header[2], "{%tc for h in hrow %}", "BC Lenh")
    _first_paragraph(header[3], "{% colspan h.span %}{{ h.text }}", "BC Bang tieu de")
    _first_paragraph(header[4], "{%tc endfor %}", "BC Lenh")
    repeat = OxmlElement("w:tblHeader")  # header rows repeat on every page of a long table
    rows[1]._tr.get_or_add_trPr().append(repeat)
    _first_paragraph(rows[2].cells[0], "{%tr endfor %}", "BC Lenh")
    _first_paragraph(rows[3].cells[0], "{%tr for r in t.rows %}", "BC Lenh")
    _first_paragraph(rows[4].cells[0], "{%tr if r.bold %}", "BC Lenh")
    for row, bold in ((rows[5], True), (rows[7], False)):
        cells = row.cells
        _first_paragraph(cells[0], "{{ r.number }}", "BC Bang STT", bold)
        _first_paragraph(cells[1], "{{ r.label }}", "BC Bang chu", bold)
        _first_paragraph(cells[2], "{%tc for c in r.cells %}", "BC Lenh")
        _first_paragraph(cells[3], "{{ c }}", "BC Bang so", bold)
        _first_paragraph(cells[4], "{%tc endfor %}", "BC Lenh")
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    _first_paragraph(rows[6].cells[0], "{%tr else %}", "BC Lenh")
    _first_paragraph(rows[8].cells[0], "{%tr endif %}", "BC Lenh")
    _first_paragraph(rows[9].cells[0], "{%tr endfor %}", "BC Lenh")


def _appendices(document) -> None:
    """Each appendix in its own landscape section: own page, own page numbers."""
    landscape = document.add_section(WD_SECTION.NEW_PAGE)
    _page_setup(landscape, landscape=True)
    _page_numbers_restart(landscape)
    _tag(document, "{%p for app in appendices %}")
    _tag(document, "{%p if not loop.first %}")
    # This break ends the previous appendix's section (a copy of the landscape settings).
    document.add_section(WD_SECTION.NEW_PAGE)
    _tag(document, "{%p endif %}")
    _para(document, "Phụ lục {{ app.number }}", "BC Phu luc")
    _para(document, "{{ app.title }}", "BC Ten phu luc")
    _para(document, "{{ app.attached }}", "BC Kem theo")
    _rule(document, SHORT_RULE, "(Kèm theo Báo cáo số …/BC-UBND ngày … tháng … năm …)", 14,
          False, LANDSCAPE_TEXT_WIDTH_MM)
    _tag(document, "{%p for t in app.tables %}")
    _para(document, "{{ t.caption }}", "BC Ten bang")
    _appendix_table(document)
    _tag(document, "{%p if t.note %}")
    _para(document, "{{ t.note }}", "BC Ghi chu bang")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p endfor %}")
    _tag(document, "{%p endfor %}")


def build_template(path: Path) -> Path:
    """Write the report template to `path` (overwriting it)."""
    document = Document()
    _styles(document)
    section = document.sections[0]
    _page_setup(section, landscape=False)
    _headers(section)
    body = document.element.body
    for paragraph in list(document.paragraphs):  # python-docx starts with an empty paragraph
        body.remove(paragraph._p)
    _header_block(document)
    _body(document)
    _signature(document)
    _appendices(document)
    _drop_styles_with_effects(document)
    core = document.core_properties
    core.title = "Mẫu báo cáo tổng hợp (Nghị định 30/2020/NĐ-CP)"
    core.author = core.last_modified_by = "giamsat"
    core.comments = "Tạo bằng: python templates/build_report_template.py"
    core.created = core.modified = FIXED_TIME  # the same input gives the same template
    core.revision = 1
    return write_atomically(path, lambda tmp: document.save(str(tmp)))
