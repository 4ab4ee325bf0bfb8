"""The output tables (values, lists, findings, status, reporting) as CSV files: the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from flows.outputs.atomic import write_text
from flows.outputs.safe import _BIDI, _XML_ILLEGAL, MARK, csv_field

_QUOTE = r'[,"\n\r]|^[=+\-@\t]'


def _column(series: pd.Series) -> pd.Series:
    """One column as CSV fields: blank for missing, quoted when needed (characters that are
    not safe are replaced once, over the whole text, by `csv_text`)."""
    text = series.astype(object).where(series.notna(), "").astype(str)
    needs = text.str.contains(_QUOTE, regex=True)
    if needs.any():
        text = text.where(~needs, '"' + text.str.replace('"', '""', regex=False) + '"')
    return text


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV: a field a spreadsheet would run as a formula (=, +, -, @, tab) is
    always quoted, like fields with commas, quotes or line breaks; pandas reads it back as is."""
    header = ",".join(csv_field(c) for c in frame.columns) + "\n"
    if frame.empty:
        return header
    columns = [_column(frame[c]) for c in frame.columns]
    lines = columns[0].str.cat(columns[1:], sep=",") if len(columns) > 1 else columns[0]
    # one pass over the whole text: none of these characters decides quoting, nor does MARK
    body = _BIDI.sub(MARK, _XML_ILLEGAL.sub(MARK, "\n".join(lines)))
    return header + body + "\n"


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """UTF-8 CSV (no BOM), comma-separated, blank for missing: the contract other tools read."""
    return write_text(path, csv_text(frame))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2))
