"""The reader this project used before calamine: openpyxl, read-only. Kept as the reference the
`bench read` benchmark compares with (values and findings must be identical)."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from flows.core.findings import Reason
from flows.core.inputs import Formula, RawSheet, RawWorkbook


def _grid(ws) -> tuple[list[list[object]], list[tuple[int, int]]]:
    """All cell values of a sheet as a 0-based grid, plus where the formulas are."""
    rows: list[list[object]] = []
    formulas: list[tuple[int, int]] = []
    for r, row in enumerate(ws.iter_rows()):
        values = []
        for c, cell in enumerate(row):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f":
                formulas.append((r, c))
            values.append(value)
        while values and values[-1] is None:
            values.pop()
        rows.append(values)
    while rows and not rows[-1]:
        rows.pop()
    return rows, formulas


def read_workbook(path: Path) -> RawWorkbook:
    """Read every sheet of one .xlsx file; a file that cannot be opened comes back with `error`."""
    modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    raw = RawWorkbook(source=path.name, modified=modified)
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raw.error = Reason("cannot-open", {"kind": type(exc).__name__})
        return raw
    try:
        found = [(ws.title, *_grid(ws)) for ws in wb.worksheets]
    finally:
        wb.close()
    if any(formulas for _, _, formulas in found):
        cached = load_workbook(path, read_only=True, data_only=True)
        try:
            for title, rows, formulas in found:
                if not formulas:
                    continue
                ws = cached[title]
                values = {(r, c): None for r, c in formulas}
                for r, row in enumerate(ws.iter_rows()):
                    for c, cell in enumerate(row):
                        if (r, c) in values:
                            values[(r, c)] = cell.value
                for r, c in formulas:
                    rows[r][c] = Formula(text=str(rows[r][c]), cached=values[(r, c)])
        finally:
            cached.close()
    raw.sheets = [RawSheet(title, rows) for title, rows, _ in found]
    return raw
