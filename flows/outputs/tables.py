"""The output tables (values, lists, findings, status, reporting) as CSV files: the contract."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from flows.outputs.atomic import write_text
from flows.outputs.safe import _BIDI, _XML_ILLEGAL, MARK, csv_field

_QUOTE = re.compile(r'[,"\n\r]|^[=+\-@\t]')


def _field(value: object) -> str:
    """One CSV field: quoted when it holds a comma, quote or line break, or would start a
    formula (characters that are not safe are replaced once, over the whole text)."""
    text = value if type(value) is str else str(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTE.search(text) else text


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV: a field a spreadsheet would run as a formula (=, +, -, @, tab) is
    always quoted, like fields with commas, quotes or line breaks; pandas reads it back as is.
    Built row by row from one conversion of the whole frame: per-column pandas calls cost
    more than the fields of a small table."""
    header = ",".join(csv_field(c) for c in frame.columns) + "\n"
    if frame.empty:
        return header
    rows = frame.astype(object).where(frame.notna(), "").to_numpy(dtype=object).tolist()
    body = "\n".join([",".join([_field(v) for v in row]) for row in rows])
    # one pass over the whole text: none of these characters decides quoting, nor does MARK
    return header + _BIDI.sub(MARK, _XML_ILLEGAL.sub(MARK, body)) + "\n"


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """UTF-8 CSV (no BOM), comma-separated, blank for missing: the contract other tools read."""
    return write_text(path, csv_text(frame))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2))
