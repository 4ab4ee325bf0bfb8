"""A1 cell references (standard library only: the reading worker imports this too)."""

from __future__ import annotations


def column_letter(col: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: bytes | str) -> int:
    """"A" → 1, "XFD" → 16384."""
    text = letters.decode() if isinstance(letters, bytes) else letters
    number = 0
    for char in text:
        number = number * 26 + ord(char) - 64
    return number


def a1(row: int, col: int) -> str:
    """(12, 5) → "E12" (1-based)."""
    return f"{column_letter(col)}{row}"
