"""`duyet.xlsx`: the review workbook of an office without Google.

Two tabs from `flows.core.review.review_tables` — every unit with its review state, and the
findings that need a decision — each with a "Quyết định" dropdown (openpyxl DataValidation),
a reason / note column and "Người quyết định"; a hidden tab holds the workbook's token, so the
decisions of one workbook are applied once however often the file is copied back. Read back by
`flows.sources.review_workbook`; every text cell is written with `literal` (never a formula).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from flows.core import review as core
from flows.outputs import names
from flows.outputs.atomic import write_atomically
from flows.outputs.safe import literal
from flows.outputs.xlsx_package import save_valid

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_TYPED_FILL = PatternFill("solid", fgColor="FFF2CC")  # the cells the office types in
_WRAP = Alignment(wrap_text=True, vertical="top")
WIDTHS = {"unit": 11, "name": 26, "state": 16, "last": 36, "decision": 18, "text": 40,
          "by": 22, "finding": 15, "cell": 24, "severity": 10, "message": 60,
          "explanation": 40}


def review_place(out_dir: Path) -> Path:
    """Where the office puts the filled workbook: `<out>/duyet.xlsx` (a dated or final run's
    folder is `<out>/runs/<time>` or `<out>/final/<date>`)."""
    root = out_dir.parent.parent if out_dir.parent.name in ("runs", "final") else out_dir
    return root / names.REVIEW_XLSX


def _tab(ws: Any, table: core.ReviewTable, fields: tuple, help_text: str) -> None:
    literal(ws.cell(row=1, column=1), table.title)
    ws.cell(row=1, column=1).font = _TITLE
    literal(ws.cell(row=2, column=1), help_text)
    ws.cell(row=2, column=1).alignment = Alignment(wrap_text=False, vertical="top")
    for j, (header, (name, _)) in enumerate(zip(table.header, fields, strict=True), start=1):
        cell = ws.cell(row=core.HEADER_ROW, column=j)
        literal(cell, header)
        cell.font, cell.fill, cell.alignment = _BOLD, _HEADER_FILL, _WRAP
        ws.column_dimensions[get_column_letter(j)].width = WIDTHS.get(name, 14)
    typed = {j for j, (name, _) in enumerate(fields, start=1)
             if name in ("decision", "text", "by")}
    for i, row in enumerate(table.rows, start=core.HEADER_ROW + 1):
        for j, value in enumerate(row, start=1):
            cell = ws.cell(row=i, column=j)
            literal(cell, None if value is None or (isinstance(value, float) and pd.isna(value))
                    else value)
            cell.alignment = _WRAP
            if j in typed:
                cell.fill = _TYPED_FILL
    ws.freeze_panes = ws.cell(row=core.HEADER_ROW + 1, column=2)
    if table.rows:
        letter = get_column_letter(table.decision_column)
        first, last = core.HEADER_ROW + 1, core.HEADER_ROW + len(table.rows)
        dropdown = DataValidation(type="list", allow_blank=True,
                                  formula1='"' + ",".join(table.choices) + '"')
        dropdown.add(f"{letter}{first}:{letter}{last}")
        ws.add_data_validation(dropdown)
        ws.auto_filter.ref = f"A{core.HEADER_ROW}:{get_column_letter(len(fields))}{last}"


def write_review_xlsx(path: Path, status: pd.DataFrame, findings: pd.DataFrame,
                      catalogue: Any, plan: str, token: str) -> Path:
    """The review workbook, atomically; `token` names this workbook in the review log."""
    units, pending = core.review_tables(status, findings, catalogue, plan)
    help_text = catalogue.text("duyet-help", place=str(review_place(Path(path).parent)))
    wb = Workbook()
    ws = wb.active
    ws.title = units.sheet[:31]
    _tab(ws, units, core.UNIT_COLUMNS, help_text)
    _tab(wb.create_sheet(pending.sheet[:31]), pending, core.FINDING_COLUMNS, help_text)
    hidden = wb.create_sheet("giamsat")
    literal(hidden["A1"], core.TOKEN_MARK)
    literal(hidden["B1"], token)
    hidden.sheet_state = "hidden"
    wb.properties.title = units.title
    wb.properties.creator = "giamsat"
    return write_atomically(Path(path), lambda tmp: save_valid(wb, tmp))
