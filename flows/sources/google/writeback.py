"""What we write back: each unit's "Kết quả kiểm tra" tab and highlights, and the town dashboard.

Pure functions from the consolidated result to Sheets requests. A unit's flags go out in ONE
``spreadsheets.batchUpdate`` (tab content as ``updateCells`` string/number values — never parsed,
so ``=IMPORTXML(...)`` stays text — plus clearing old highlights and setting new ones): one write
per sheet, applied all or nothing. A hash of the content decides whether anything changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from flows.core.findings import ERROR, WARNING
from flows.core.layout import Layout, make_key
from flows.core.review import finding_parts, still_open
from flows.core.vnformat import percent
from flows.sources.google.render import (
    CELL_FIELDS,
    ERROR_FILL,
    INPUT_FILL,
    PREFILLED_FILL,
    RESULTS_SHEET_ID,
    WARNING_FILL,
    cell_format,
    colour,
    extended_value,
    quoted,
    sheet_id,
)
from flows.sources.google.snapshots import FlagState

HEADER = ["STT", "Trang", "Ô", "Mức độ", "Nội dung", "Cách sửa", "Giá trị đã nhập",
          "Ghi nhận lúc"]
HEADER_ROW = 5  # 0-based row of the findings table header on the results tab
_A1 = re.compile(r"^([A-Z]{1,3})([0-9]+)$")
_FILLS = {ERROR: ERROR_FILL, WARNING: WARNING_FILL}
_RESTORE = {"input": INPUT_FILL, "prefilled": PREFILLED_FILL}

STATUS_COLUMNS = [
    ("unit_code", "Mã"), ("unit_name", "Đơn vị"), ("timeliness", "Tình trạng"),
    ("days_late", "Số ngày trễ"), ("completeness", "Đã nhập (%)"),
    ("required_filled", "Ô bắt buộc đã nhập"), ("required_total", "Tổng số ô bắt buộc"),
    ("submission_status", "Trạng thái đơn vị chọn"), ("completion_date", "Ngày hoàn thành"),
    ("errors", "Lỗi"), ("warnings", "Cảnh báo"), ("access", "Truy cập"),
    ("read_at", "Đọc lúc"), ("modified", "Sửa lần cuối"), ("link", "Bảng tính"),
]
VALUE_COLUMNS = [("unit_code", "Mã đơn vị"), ("indicator", "Chỉ tiêu"),
                 ("breakdown", "Phân tổ"), ("year", "Năm"), ("value", "Giá trị"),
                 ("sheet", "Trang"), ("cell", "Ô")]
LIST_COLUMNS = [("unit_code", "Mã đơn vị"), ("list", "Danh sách"), ("row", "Dòng"),
                ("column", "Cột"), ("value", "Giá trị"), ("sheet", "Trang"), ("cell", "Ô")]
DASHBOARD_TABS = [
    (sheet_id("#dashboard-status"), "Tình trạng", STATUS_COLUMNS),
    (sheet_id("#dashboard-values"), "Số liệu", VALUE_COLUMNS),
    (sheet_id("#dashboard-lists"), "Danh sách", LIST_COLUMNS),
]


def digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, default=str,
                                     sort_keys=True).encode()).hexdigest()[:24]


def plain(value: object) -> object:
    """A table value as a JSON cell value: blanks for NA, whole floats as ints, Có/Không."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if hasattr(value, "item"):  # numpy scalars
        return plain(value.item())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def cell_position(a1: str) -> tuple[int, int] | None:
    """``E12`` → 0-based (11, 4)."""
    match = _A1.match(a1 or "")
    if not match:
        return None
    col = 0
    for char in match[1]:
        col = col * 26 + ord(char) - 64
    return int(match[2]) - 1, col - 1


def _restore_kind(finding: Any, layout: Layout) -> str:
    """What a highlighted cell goes back to: an input's fill, the prefilled grey, or nothing."""
    year = None if pd.isna(finding.year) else int(finding.year)
    spec = layout.by_key.get(make_key(finding.indicator or "", finding.breakdown or "", year))
    if spec is None:
        return "none"
    return "prefilled" if spec.role in ("unit_code", "unit_name") else "input"


@dataclass
class Flags:
    """One unit's results tab and highlighted cells, and the hash deciding whether to write."""

    rows: list[list[object]]
    highlights: list[list]  # [sheetId, row, col, restore kind, fill]
    hash: str
    first_seen: dict[str, str]


def unit_flags(unit_name: str, findings: pd.DataFrame, status: dict[str, Any],
               sheet_ids: dict[str, int], layout: Layout, previous: FlagState,
               now: datetime, labels: dict[str, str] | None = None,
               catalogue: Any = None) -> Flags:
    """The results tab of one unit: summary lines, then one row per finding still open.

    `labels` are the severity words of the catalogue (error → "lỗi"). With the `catalogue`,
    findings the office accepted or marked false positive (and fixed ones) are neither listed
    nor highlighted; the summary counts them apart in one sentence.
    """
    closed = findings.iloc[0:0]
    if catalogue is not None:
        closed = finding_parts(findings, catalogue)[2]
        findings = still_open(findings, catalogue)
    errors = int(status.get("errors") or 0) - int((closed["severity"] == ERROR).sum())
    warnings = int(status.get("warnings") or 0) - int((closed["severity"] == WARNING).sum())
    counts = f"Lỗi: {errors}. Cảnh báo: {warnings}."
    if len(closed):
        counts += " " + catalogue.text("results-closed", count=len(closed))
    stamp = f"{now:%H:%M %d/%m/%Y}"
    first_seen = {fid: previous.first_seen.get(fid, stamp) for fid in findings["finding_id"]}
    state = str(status.get("timeliness", ""))
    if int(status.get("days_late") or 0):
        state += f" ({status['days_late']} ngày)"
    summary = [
        [f"KẾT QUẢ KIỂM TRA SỐ LIỆU – {unit_name}"],
        [f"Cập nhật lúc {stamp}. Trang này do hệ thống tự ghi; hãy sửa số liệu ở các trang nhập "
         "liệu (ô nền vàng), không sửa trang này."],
        [f"Tình trạng: {state}. Đã nhập {percent(float(status.get('completeness') or 0))} ô bắt "
         f"buộc ({status.get('required_filled', 0)}/{status.get('required_total', 0)})."],
        [counts],
        [],
        list(HEADER),
    ]
    body: list[list[object]] = []
    highlights: dict[tuple[int, int, int], list] = {}
    for n, f in enumerate(findings.itertuples(), start=1):
        word = (labels or {}).get(f.severity, f.severity)
        body.append([n, f.sheet or "", f.cell or "", str(word).capitalize(), f.message,
                     f.instruction, f.value or "", first_seen[f.finding_id]])
        where = cell_position(f.cell or "")
        sid = sheet_ids.get(f.sheet or "")
        if where and sid is not None and f.severity in _FILLS:
            key = (sid, *where)
            if key not in highlights or f.severity == ERROR:
                highlights[key] = [sid, *where, _restore_kind(f, layout), _FILLS[f.severity]]
    if not body:
        body.append(["", "", "", "", "Không có lỗi hay cảnh báo nào.", "", "", ""])
    marks = sorted(highlights.values())
    # The hash leaves out times: only a change of flags is worth a write.
    stable = [summary[0], summary[2], summary[3], [row[:7] for row in body], marks]
    return Flags(summary + body, marks, digest(stable), first_seen)


def _repeat(sid: int, row: int, col: int, fill: str | None) -> dict:
    cell = {"userEnteredFormat": {"backgroundColor": colour(fill)}} if fill else {}
    return {"repeatCell": {
        "range": {"sheetId": sid, "startRowIndex": row, "endRowIndex": row + 1,
                  "startColumnIndex": col, "endColumnIndex": col + 1},
        "cell": cell, "fields": "userEnteredFormat.backgroundColor"}}


def _row_data(index: int, row: list[object]) -> dict:
    if index == 0:
        fmt: dict[str, Any] = {"textFormat": {"bold": True, "fontSize": 13}}
    elif index < HEADER_ROW:
        fmt = {"wrapStrategy": "OVERFLOW_CELL"}
    else:
        fmt = cell_format("header" if index == HEADER_ROW else "label")
    cells = []
    for value in row:
        cell: dict[str, Any] = {"userEnteredFormat": fmt}
        if extended_value(value):
            cell["userEnteredValue"] = extended_value(value)
        cells.append(cell)
    return {"values": cells}


def flag_requests(flags: Flags, previous: FlagState,
                  existing: set[int] | None = None) -> list[dict]:
    """One batchUpdate: the results tab (old rows cleared), old highlights off, new ones on.

    `existing` (sheet ids known to exist) drops highlights on tabs that are gone, and adds the
    results tab back if someone deleted it.
    """
    requests: list[dict] = []
    if existing is not None and RESULTS_SHEET_ID not in existing:
        requests.append({"addSheet": {"properties": {
            "sheetId": RESULTS_SHEET_ID, "title": "Kết quả kiểm tra",
            "gridProperties": {"rowCount": 200, "columnCount": 10, "frozenRowCount": 6}}}})
    height = max(len(flags.rows), previous.rows, 1)
    requests.append({"updateSheetProperties": {
        "properties": {"sheetId": RESULTS_SHEET_ID,
                       "gridProperties": {"rowCount": max(height + 20, 200)}},
        "fields": "gridProperties.rowCount"}})
    requests.append({"updateCells": {
        "range": {"sheetId": RESULTS_SHEET_ID, "startRowIndex": 0, "endRowIndex": height,
                  "startColumnIndex": 0, "endColumnIndex": len(HEADER)},
        "rows": [_row_data(i, row) for i, row in enumerate(flags.rows)], "fields": CELL_FIELDS}})
    new = {tuple(mark[:3]) for mark in flags.highlights}
    for sid, row, col, restore, *_ in previous.highlights:
        if (sid, row, col) not in new and (existing is None or sid in existing):
            requests.append(_repeat(sid, row, col, _RESTORE.get(restore)))
    for sid, row, col, _, fill in flags.highlights:
        if existing is None or sid in existing:
            requests.append(_repeat(sid, row, col, fill))
    return requests


# --------------------------------------------------------------------------- dashboard


def dashboard_tables(status: pd.DataFrame, values: pd.DataFrame,
                     lists: pd.DataFrame) -> list[tuple[int, str, list[list[object]]]]:
    """(sheet id, tab title, rows with the header first) for the "Tổng hợp" spreadsheet."""
    tables = []
    for (sid, title, columns), frame in zip(DASHBOARD_TABS, (status, values, lists),
                                            strict=True):
        rows = [[label for _, label in columns]]
        names = [name for name, _ in columns]
        # A column the core no longer gives stays blank rather than failing the run.
        frame = frame.reindex(columns=names)
        rows += [[plain(v) for v in record] for record in frame.itertuples(index=False)]
        tables.append((sid, title, rows))
    return tables


def dashboard_writes(tables: list[tuple[int, str, list[list[object]]]]) -> tuple[
        list[dict], list[dict]]:
    """Resize each tab to its table (rows beyond it disappear), then the values, RAW."""
    requests = [{"updateSheetProperties": {
        "properties": {"sheetId": sid, "gridProperties": {
            "rowCount": max(len(rows), 2), "columnCount": len(rows[0])}},
        "fields": "gridProperties.rowCount,gridProperties.columnCount"}}
        for sid, _, rows in tables]
    data = [{"range": f"{quoted(title)}!A1", "values": rows} for _, title, rows in tables]
    return requests, data
