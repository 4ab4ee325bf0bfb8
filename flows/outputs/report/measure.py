"""Printed widths of Times New Roman text, from the Adobe Times metrics that matplotlib ships.

Times New Roman and Liberation Serif share these metrics, so the rules under the header lines
(Decree 30/2020) can be sized to the text without the fonts being installed. Vietnamese letters are
measured by their base letter: the diacritics sit above or below and add no width.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import matplotlib

_AFM = {(False, False): "ptmr8a.afm", (True, False): "ptmb8a.afm",
        (False, True): "ptmri8a.afm", (True, True): "ptmbi8a.afm"}
_FALLBACK = 500  # units per 1000 em for a character the metrics do not cover


@cache
def _widths(bold: bool, italic: bool) -> dict[str, int]:
    """Character → advance width (1/1000 em) for the printable ASCII range."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "afm" / _AFM[(bold, italic)]
    widths: dict[str, int] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.startswith("C "):
            continue
        fields = dict(part.strip().split(" ", 1) for part in line.split(";") if part.strip())
        code = int(fields["C"])
        if 32 <= code < 127:
            widths[chr(code)] = int(fields["WX"])
    return widths


def base_letters(text: str) -> str:
    """"Hương Trà" → "Huong Tra" (đ → d): the letters that carry the width."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def text_width_pt(text: str, size_pt: float, bold: bool = False, italic: bool = False) -> float:
    """Width of one line of `text` in points."""
    widths = _widths(bold, italic)
    return sum(widths.get(ch, _FALLBACK) for ch in base_letters(text)) * size_pt / 1000
