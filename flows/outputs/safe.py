"""Nothing a commune typed comes alive in what we write: no formula, no markup, no broken file.

* `xml_safe`: characters XML cannot hold (the vertical tab Word puts in pasted line breaks, other
  control characters) and bidi overrides (which can make "exe.txt" read "txt.exe") become a
  visible mark, so every writer (xlsx, docx, HTML) survives every string.
* `literal`: a text cell of an openpyxl sheet that stays text even when it starts with "=".
* `csv_field`: how a CSV field is written; one that a spreadsheet would run as a formula
  (starting with =, +, -, @, a tab or a carriage return) is always quoted, as are fields with
  separators, quotes or line breaks. pandas reads every field back exactly.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from typing import Any

MARK = "\ufffd"  # the replacement character: visible, and says a character was removed
# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_UNSAFE = re.compile(f"{_XML_ILLEGAL.pattern[:-1]}{_BIDI.pattern[1:-1]}]")  # either, one pass
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def xml_safe(text: str) -> str:
    """`text` with XML-illegal characters and bidi overrides replaced by a visible mark."""
    return _UNSAFE.sub(MARK, text)


def cleaned(value: Any) -> Any:
    """A value for any writer: strings made XML-safe, the rest unchanged."""
    return xml_safe(value) if isinstance(value, str) else value


def cleaned_deep(value: Any, _seen: dict[str, str] | None = None) -> Any:
    """Every string inside lists, tuples, dicts and dataclasses made XML-safe (a copy)."""
    seen = {} if _seen is None else _seen  # each distinct string made safe once
    if isinstance(value, str):
        safe = seen.get(value)
        if safe is None:
            safe = seen[value] = xml_safe(value)
        return safe
    if type(value) is list and all(type(v) is str for v in value):  # a row's cells
        return [seen[v] if v in seen else seen.setdefault(v, xml_safe(v)) for v in value]
    if isinstance(value, list | tuple):
        return type(value)(cleaned_deep(v, seen) for v in value)
    if isinstance(value, dict):
        return {k: cleaned_deep(v, seen) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: cleaned_deep(getattr(value, f.name), seen)
                   for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def literal(cell: Any, value: Any) -> None:
    """Write `value` into an openpyxl cell; text stays text (never a formula)."""
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    cell.value = cleaned(value)
    if isinstance(value, str):
        cell.data_type = "s"


def risky(text: str) -> bool:
    """Would a spreadsheet program run this field as a formula?"""
    return text.startswith(_FORMULA_START)


def csv_field(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = xml_safe(str(value))
    if risky(text) or any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterable[str]:
    yield ",".join(csv_field(h) for h in header) + "\n"
    for row in rows:
        yield ",".join(csv_field(v) for v in row) + "\n"
