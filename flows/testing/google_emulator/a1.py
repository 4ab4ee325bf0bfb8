"""A1 notation as the Sheets API reads and writes it.

Supported forms: ``Title!A1:D20``, ``'Quoted ''title'''!A1:B``, ``A:C``, ``2:5``, ``A5:C``, a bare
title (the whole sheet) and a bare A1 range (the first visible sheet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENDPOINT = re.compile(r"\$?([A-Za-z]{1,3})?\$?([0-9]+)?")
_SIMPLE_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")


@dataclass(frozen=True)
class Rect:
    """A parsed range: 0-based inclusive bounds; ``None`` ends are open (to the grid edge)."""

    r0: int = 0
    c0: int = 0
    r1: int | None = None
    c1: int | None = None
    anchor: bool = False  # a single cell or a whole sheet: writes may extend past it


@dataclass(frozen=True)
class Box:
    """A range clipped to a sheet's grid: 0-based inclusive bounds."""

    r0: int
    c0: int
    r1: int
    c1: int

    @property
    def rows(self) -> int:
        return self.r1 - self.r0 + 1

    @property
    def cols(self) -> int:
        return self.c1 - self.c0 + 1


WHOLE_SHEET = Rect(anchor=True)


def column_letters(index: int) -> str:
    """0 -> ``A``, 25 -> ``Z``, 26 -> ``AA``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """``A`` -> 0, ``AA`` -> 26."""
    value = 0
    for char in letters.upper():
        value = value * 26 + ord(char) - ord("A") + 1
    return value - 1


def quote_title(title: str) -> str:
    """Quote a sheet title the way Google does in returned ranges."""
    if _SIMPLE_TITLE.fullmatch(title) and not _CELL_LIKE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_range(text: str) -> tuple[str | None, str | None]:
    """Split ``Title!A1`` into (title, a1); a bare A1 range gives (None, a1)."""
    if text.startswith("'"):
        return _split_quoted(text)
    if "!" in text:
        title, a1 = text.rsplit("!", 1)
        return title, a1
    if is_a1(text):
        return None, text
    return text, None


def _split_quoted(text: str) -> tuple[str, str | None]:
    chars: list[str] = []
    pos = 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            if text[pos + 1 : pos + 2] == "'":
                chars.append("'")
                pos += 2
                continue
            break
        chars.append(char)
        pos += 1
    else:
        raise ValueError("unterminated quoted sheet title")
    rest = text[pos + 1 :]
    if not rest:
        return "".join(chars), None
    if rest.startswith("!") and len(rest) > 1:
        return "".join(chars), rest[1:]
    raise ValueError("text after quoted sheet title")


def is_a1(text: str) -> bool:
    """True when ``text`` is valid A1 notation (without a sheet title)."""
    try:
        parse_a1(text)
    except ValueError:
        return False
    return True


def _endpoint(text: str) -> tuple[int | None, int | None]:
    match = _ENDPOINT.fullmatch(text)
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(f"bad A1 endpoint {text!r}")
    col = column_index(match.group(1)) if match.group(1) else None
    row = int(match.group(2)) - 1 if match.group(2) else None
    if row is not None and row < 0:
        raise ValueError("row 0 does not exist")
    return col, row


def parse_a1(text: str) -> Rect:
    """Parse ``A1``, ``A1:B2``, ``A:C``, ``2:5`` or ``A5:C`` into a :class:`Rect`."""
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"bad A1 range {text!r}")
    c0, r0 = _endpoint(parts[0])
    if len(parts) == 1:
        if c0 is None or r0 is None:
            raise ValueError(f"a single endpoint needs a column and a row: {text!r}")
        return Rect(r0, c0, r0, c0, anchor=True)
    c1, r1 = _endpoint(parts[1])
    start_row, start_col = r0 or 0, c0 or 0
    end_row = r1
    if r0 is not None and c0 is None and r1 is None:
        raise ValueError(f"bad A1 range {text!r}")
    if r0 is None and c0 is not None and r1 is not None and c1 is None:
        raise ValueError(f"bad A1 range {text!r}")
    end_col = c1
    if end_row is not None and end_row < start_row:
        start_row, end_row = end_row, start_row
    if end_col is not None and end_col < start_col:
        start_col, end_col = end_col, start_col
    return Rect(start_row, start_col, end_row, end_col)


def format_a1(box: Box) -> str:
    """``A1`` for a single cell, ``A1:D4`` otherwise."""
    start = f"{column_letters(box.c0)}{box.r0 + 1}"
    if box.r0 == box.r1 and box.c0 == box.c1:
        return start
    return f"{start}:{column_letters(box.c1)}{box.r1 + 1}"


def format_range(title: str, box: Box) -> str:
    """``Sheet1!A1:D4`` with the title quoted when needed."""
    return f"{quote_title(title)}!{format_a1(box)}"


def clip(rect: Rect, rows: int, cols: int) -> Box | None:
    """Clip a range to the grid; ``None`` when it starts outside the grid."""
    if rect.r0 >= rows or rect.c0 >= cols:
        return None
    r1 = rows - 1 if rect.r1 is None else min(rect.r1, rows - 1)
    c1 = cols - 1 if rect.c1 is None else min(rect.c1, cols - 1)
    return Box(rect.r0, rect.c0, r1, c1)


def rect_text(rect: Rect) -> str:
    """A1 text of a (possibly open) rect, for error messages."""
    start = f"{column_letters(rect.c0)}{rect.r0 + 1}"
    if rect.r1 == rect.r0 and rect.c1 == rect.c0:
        return start
    end_col = column_letters(rect.c1) if rect.c1 is not None else ""
    end_row = str(rect.r1 + 1) if rect.r1 is not None else ""
    return f"{start}:{end_col}{end_row}"
