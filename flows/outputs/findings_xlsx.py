"""`findings.xlsx`: the file LĐTBXH staff open — a summary tab, then one tab per unit."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from flows.core.findings import ERROR, INFO, SEVERITY_RANK, WARNING
from flows.outputs.atomic import write_atomically
from flows.outputs.safe import literal
from flows.outputs.xlsx_package import save_valid

HEADERS = {  # column → (Vietnamese header, width)
    "severity": ("Mức độ", 10), "sheet": ("Trang", 22), "cell": ("Ô", 7),
    "indicator": ("Chỉ tiêu", 9), "breakdown": ("Phân tổ", 12), "year": ("Năm", 7),
    "message": ("Vấn đề", 60), "instruction": ("Cần làm", 45), "value": ("Giá trị", 14),
    "expected": ("Giá trị hợp lý", 16), "rule": ("Mã kiểm tra", 22), "source": ("Tệp", 22),
    "finding_id": ("Mã phát hiện", 13), "rule_name": ("Loại kiểm tra", 28),
}
LINE_POINTS = 15  # the height of one line of 11 pt text
SEVERITY_FILL = {ERROR: "F8CBAD", WARNING: "FFE699", INFO: "DDEBF7"}
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _sheet_title(code: str, name: str, used: set[str]) -> str:
    title = f"{code} {name}"[:31].replace("/", "-")
    for ch in "[]:*?\\":
        title = title.replace(ch, "")
    while title in used:
        title = title[:28] + f"~{len(used)}"
    used.add(title)
    return title


def _write_table(ws, frame: pd.DataFrame, columns: list[str], labels: dict[str, str],
                 start_row: int = 1) -> None:
    for j, column in enumerate(columns, start=1):
        header, width = HEADERS.get(column, (column, 14))
        cell = ws.cell(row=start_row, column=j, value=header)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        ws.column_dimensions[get_column_letter(j)].width = width
    widths = [HEADERS.get(column, (column, 14))[1] for column in columns]
    for i, row in enumerate(frame[columns].itertuples(index=False), start=start_row + 1):
        lines = 1
        for j, (column, value) in enumerate(zip(columns, row, strict=True), start=1):
            shown = labels.get(value, value) if column == "severity" else value
            cell = ws.cell(row=i, column=j)
            literal(cell, None if pd.isna(shown) else shown)
            cell.alignment = _WRAP
            lines = max(lines, _lines(cell.value, widths[j - 1]))
        ws.row_dimensions[i].height = LINE_POINTS * lines  # wrapped text never hides a row
        fill = SEVERITY_FILL.get(getattr(row, "severity", ""), None)
        if fill:
            ws.cell(row=i, column=1).fill = PatternFill("solid", fgColor=fill)
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1)
    ws.auto_filter.ref = f"A{start_row}:{get_column_letter(len(columns))}{start_row + len(frame)}"
    _print_setup(ws, header_rows=f"{start_row}:{start_row}")


def _lines(value: object, width: float) -> int:
    """How many lines a wrapped cell takes at this column width (about one char per unit)."""
    if value is None:
        return 1
    text = str(value)
    per_line = max(int(width * 1.1), 1)
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _print_setup(ws, header_rows: str | None = None) -> None:
    """Landscape A4, every column on one page width, the header row on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.print_options.gridLines = True
    if header_rows:
        ws.print_title_rows = header_rows


def _append(ws, values: list) -> None:
    """A row whose text cells stay text."""
    row = ws.max_row + 1 if ws.max_row > 1 or ws["A1"].value is not None else 1
    for j, value in enumerate(values, start=1):
        literal(ws.cell(row=row, column=j), value)


def _summary(ws, findings: pd.DataFrame, status: pd.DataFrame, labels: dict[str, str],
             scope: str = "") -> None:
    ws.append(["Tổng hợp kết quả kiểm tra số liệu" + (f" ({scope})" if scope else "")])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(["Mã", "Đơn vị", "Tình trạng", "Đã nhập (%)", "Lỗi", "Cảnh báo", "Thông tin"])
    for cell in ws[3]:
        cell.font, cell.fill = _BOLD, _HEADER_FILL
    counts = findings.groupby(["unit_code", "severity"]).size().unstack(fill_value=0)
    order = status.assign(_e=status["errors"], _w=status["warnings"]).sort_values(
        ["_e", "_w", "unit_code"], ascending=[False, False, True])
    for row in order.itertuples():
        per = counts.loc[row.unit_code] if row.unit_code in counts.index else {}
        _append(ws, [row.unit_code, row.unit_name, row.timeliness, row.completeness,
                     int(per.get(ERROR, 0)), int(per.get(WARNING, 0)), int(per.get(INFO, 0))])
    general = findings[findings["unit_code"].fillna("") == ""]
    if len(general):
        ws.append(["—", "Tệp không xác định được đơn vị", "", "",
                   int((general.severity == ERROR).sum()), int((general.severity == WARNING).sum()),
                   int((general.severity == INFO).sum())])
    ws.append([])
    ws.append(["Theo loại kiểm tra"])
    ws.cell(row=ws.max_row, column=1).font = _BOLD
    ws.append(["Loại kiểm tra", "Mức độ", "Số phát hiện", "Số đơn vị", "Mã kiểm tra"])
    for cell in ws[ws.max_row]:
        cell.font, cell.fill = _BOLD, _HEADER_FILL
    by_rule = (findings.groupby(["rule", "rule_name", "severity"])
               .agg(n=("finding_id", "size"), units=("unit_code", "nunique")).reset_index())
    by_rule["_rank"] = by_rule["severity"].map(SEVERITY_RANK)
    for row in by_rule.sort_values(["_rank", "n"], ascending=[True, False]).itertuples():
        _append(ws, [row.rule_name, labels.get(row.severity, row.severity), int(row.n),
                     int(row.units), row.rule])
    for column, width in zip("ABCDEFG", (30, 26, 24, 12, 22, 10, 10), strict=True):
        ws.column_dimensions[column].width = width
    _print_setup(ws)


def write_findings_xlsx(path: Path, findings: pd.DataFrame, status: pd.DataFrame,
                        catalogue: Any, scope: str = "") -> Path:
    """Summary tab (counts per unit × severity and per rule), then a tab per unit with findings,
    most serious first, and a tab for workbooks that could not be attributed to a unit.
    `scope` ("chỉ gồm 2/9 đơn vị: …") goes into the title of a run over some units only."""
    labels = dict(catalogue.severities)
    wb = Workbook()
    _summary(wb.active, findings, status, labels, scope)
    wb.active.title = "Tổng hợp"
    used = {"Tổng hợp"}
    unit_columns = ["severity", "sheet", "cell", "message", "instruction", "value", "expected",
                    "indicator", "breakdown", "year", "rule_name", "rule", "finding_id"]
    for row in status.itertuples():
        mine = findings[findings["unit_code"] == row.unit_code]
        ws = wb.create_sheet(_sheet_title(row.unit_code, row.unit_name, used))
        if mine.empty:
            ws.append(["Không có phát hiện nào."])
            continue
        _write_table(ws, mine, unit_columns, labels)
    general = findings[findings["unit_code"].fillna("") == ""]
    if len(general):
        ws = wb.create_sheet(_sheet_title("Tệp", "chưa rõ đơn vị", used))
        _write_table(ws, general, ["severity", "source", "sheet", "cell", "message",
                                   "instruction", "rule_name", "rule", "finding_id"], labels)
    wb.properties.title = "Kết quả kiểm tra số liệu"
    wb.properties.creator = "giamsat"
    return write_atomically(path, lambda tmp: save_valid(wb, tmp))
