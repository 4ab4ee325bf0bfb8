"""Saving an openpyxl workbook as a package that validates against the OOXML schema.

openpyxl writes a font's children in its own order (name, family, b, …, color, sz); the
schema's order (used by the Open XML SDK's validator) is b, i, strike, condense, extend,
outline, shadow, u, vertAlign, sz, color, name, family, charset, scheme. Excel and LibreOffice
forgive either, a strict validator does not; the fonts of `xl/styles.xml` are put in order
after saving.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from flows.outputs.xlsx_rows import save_workbook

FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign",
              "sz", "color", "name", "family", "charset", "scheme")
_FONT = re.compile(r"<font>(.*?)</font>", re.DOTALL)
_CHILD = re.compile(r"<(\w+)\b[^>]*?/>|<(\w+)\b[^>]*?>.*?</\2>", re.DOTALL)
STYLES = "xl/styles.xml"


def _ordered_font(match: re.Match) -> str:
    children = [(m.group(1) or m.group(2), m.group(0)) for m in _CHILD.finditer(match.group(1))]
    rank = {name: i for i, name in enumerate(FONT_ORDER)}
    children.sort(key=lambda child: rank.get(child[0], len(FONT_ORDER)))
    return "<font>" + "".join(xml for _, xml in children) + "</font>"


def order_fonts(styles: str) -> str:
    return _FONT.sub(_ordered_font, styles)


def save_valid(workbook, path: Path) -> None:
    """`workbook.save(path)` (with the rows `xlsx_rows` holds), then the package's fonts in
    schema order."""
    path = Path(path)
    save_workbook(workbook, path)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        fixed = Path(tmp.name)
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(fixed, "w",
                                                              zipfile.ZIP_DEFLATED) as out:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == STYLES:
                    data = order_fonts(data.decode("utf-8")).encode("utf-8")
                out.writestr(info, data)
        shutil.move(fixed, path)
    finally:
        fixed.unlink(missing_ok=True)
