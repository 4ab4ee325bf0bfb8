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

from flows.core import review as core
from flows.core.findings import ERROR, WARNING
from flows.core.layout import Layout, make_key
from flows.core.results_tab import EXPLANATION_COLUMN, HEADER
from flows.core.review import finding_parts, still_open
from flows.core.vnformat import percent
from flows.sources.google.render import (
    CELL_FIELDS,
    ERROR_FILL,
    INPUT_FILL,
    PREFILLED_FILL,
    RESULTS_SHEET_ID,
    RESULTS_TITLE,
    WARNING_FILL,
    cell_format,
    colour,
    extended_value,
    quoted,
    sheet_id,
)
from flows.sources.google.snapshots import FlagState

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
         "liệu (ô nền vàng). Nếu số liệu đúng, ghi lý do vào cột “Giải trình của đơn vị” "
         "(nền vàng) trên dòng của phát hiện; không sửa các cột khác."],
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
                     f.instruction, f.value or "", first_seen[f.finding_id],
                     _text(getattr(f, "state", "")), _text(getattr(f, "explanation", "")),
                     f.finding_id])
        where = cell_position(f.cell or "")
        sid = sheet_ids.get(f.sheet or "")
        if where and sid is not None and f.severity in _FILLS:
            key = (sid, *where)
            if key not in highlights or f.severity == ERROR:
                highlights[key] = [sid, *where, _restore_kind(f, layout), _FILLS[f.severity]]
    if not body:
        body.append(["", "", "", "", "Không có lỗi hay cảnh báo nào."] + [""] * 6)
    marks = sorted(highlights.values())
    # The hash leaves out times: only a change of flags (or of their answers) is worth a write.
    stable = [summary[0], summary[2], summary[3], [row[:7] + row[8:] for row in body], marks]
    return Flags(summary + body, marks, digest(stable), first_seen)


def _repeat(sid: int, row: int, col: int, fill: str | None) -> dict:
    cell = {"userEnteredFormat": {"backgroundColor": colour(fill)}} if fill else {}
    return {"repeatCell": {
        "range": {"sheetId": sid, "startRowIndex": row, "endRowIndex": row + 1,
                  "startColumnIndex": col, "endColumnIndex": col + 1},
        "cell": cell, "fields": "userEnteredFormat.backgroundColor"}}


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)


def _row_data(index: int, row: list[object]) -> dict:
    if index == 0:
        fmt: dict[str, Any] = {"textFormat": {"bold": True, "fontSize": 13}}
    elif index < HEADER_ROW:
        fmt = {"wrapStrategy": "OVERFLOW_CELL"}
    else:
        fmt = cell_format("header" if index == HEADER_ROW else "label")
    answer = cell_format("input") if index > HEADER_ROW else fmt
    cells = []
    for c, value in enumerate(row):
        cell: dict[str, Any] = {"userEnteredFormat": answer if c == EXPLANATION_COLUMN else fmt}
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
            "sheetId": RESULTS_SHEET_ID, "title": RESULTS_TITLE,
            "gridProperties": {"rowCount": 200, "columnCount": len(HEADER),
                               "frozenRowCount": 6}}}})
    height = max(len(flags.rows), previous.rows, 1)
    requests.append({"updateSheetProperties": {
        "properties": {"sheetId": RESULTS_SHEET_ID,
                       "gridProperties": {"rowCount": max(height + 20, 200),
                                          "columnCount": len(HEADER)}},
        "fields": "gridProperties.rowCount,gridProperties.columnCount"}})
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


# --------------------------------------------------------------------------- dashboard: review

# The two review tabs of the dashboard: the same tables as `duyet.xlsx` (`core.review_tables`).
REVIEW_TABS = {core.UNITS_TABLE: (sheet_id("#dashboard-review-units"), core.UNIT_COLUMNS),
               core.FINDINGS_TABLE: (sheet_id("#dashboard-review-findings"),
                                     core.FINDING_COLUMNS)}
REVIEW_SHEET_IDS = [sid for sid, _ in REVIEW_TABS.values()]
REVIEW_WIDTHS = {"unit": 80, "name": 170, "state": 120, "last": 250, "decision": 140,
                 "text": 260, "by": 160, "finding": 110, "cell": 170, "severity": 80,
                 "message": 400, "explanation": 260}  # pixels
_TYPED = ("decision", "text", "by")  # the columns the office types in
_GRID = "gridProperties.rowCount,gridProperties.columnCount,gridProperties.frozenRowCount"

ReviewTab = tuple[int, core.ReviewTable]  # (sheet id, table)


def review_tabs(status: pd.DataFrame, findings: pd.DataFrame, catalogue: Any,
                plan: str) -> list[ReviewTab]:
    """The dashboard's review tabs: every unit with its review state, and the findings that
    need a decision (empty frames: the bare tabs, as provisioned)."""
    return [(REVIEW_TABS[t.table][0], t)
            for t in core.review_tables(status, findings, catalogue, plan)]


def _fields(table: core.ReviewTable) -> list[str]:
    return [name for name, _ in REVIEW_TABS[table.table][1]]


def review_grid(table: core.ReviewTable, help_text: str) -> list[list[object]]:
    """Title, help, a blank line, the header on row `core.HEADER_ROW`, then the rows (the
    office's columns blank)."""
    top = [[table.title], [help_text]] + [[] for _ in range(core.HEADER_ROW - 3)]
    return top + [list(table.header)] + [[plain(v) for v in row] for row in table.rows]


def review_content(tabs: list[ReviewTab], help_text: str) -> list:
    """What the review tabs show, for the dashboard's digest."""
    return [[sid, t.sheet, t.choices, t.decision_column, review_grid(t, help_text)]
            for sid, t in tabs]


def _review_row(index: int, row: list[object], fields: list[str]) -> dict:
    if index == 0:
        formats = [{"textFormat": {"bold": True, "fontSize": 13}}] * len(row)
    elif index < core.HEADER_ROW - 1:
        formats = [{"wrapStrategy": "OVERFLOW_CELL"}] * len(row)
    elif index == core.HEADER_ROW - 1:
        formats = [cell_format("header")] * len(fields)
    else:
        formats = [cell_format("input" if name in _TYPED else "label") for name in fields]
    cells = []
    for c, fmt in enumerate(formats):
        cell: dict[str, Any] = {"userEnteredFormat": fmt}
        value = extended_value(row[c] if c < len(row) else None)
        if value:
            cell["userEnteredValue"] = value
        cells.append(cell)
    return {"values": cells}


def review_sheet_requests(tabs: list[ReviewTab], index: int | None = None) -> list[dict]:
    """Add the review tabs (provisioning, or a tab someone deleted), with column widths."""
    requests: list[dict] = []
    for n, (sid, table) in enumerate(tabs):
        properties: dict[str, Any] = {"sheetId": sid, "title": table.sheet, "gridProperties": {
            "rowCount": core.HEADER_ROW + 1, "columnCount": len(table.header),
            "frozenRowCount": core.HEADER_ROW}}
        if index is not None:
            properties["index"] = index + n
        requests.append({"addSheet": {"properties": properties}})
        requests += [{"updateDimensionProperties": {
            "range": {"sheetId": sid, "dimension": "COLUMNS", "startIndex": c,
                      "endIndex": c + 1},
            "properties": {"pixelSize": REVIEW_WIDTHS.get(name, 100)}, "fields": "pixelSize"}}
            for c, name in enumerate(_fields(table))]
    return requests


def review_writes(tabs: list[ReviewTab], help_text: str) -> list[dict]:
    """Each review tab rewritten whole within the batchUpdate, by sheet id (a renamed tab is
    still ours): resized to its table, every cell as a typed value (text never becomes a
    formula, like RAW), the office's columns blank, and the "Quyết định" dropdown (strict,
    one of the choices) on every row."""
    requests: list[dict] = []
    for sid, table in tabs:
        grid = review_grid(table, help_text)
        fields = _fields(table)
        height, width = max(len(grid), core.HEADER_ROW + 1), len(fields)
        requests.append({"updateSheetProperties": {"properties": {"sheetId": sid,
            "gridProperties": {"rowCount": height, "columnCount": width,
                               "frozenRowCount": core.HEADER_ROW}}, "fields": _GRID}})
        requests.append({"updateCells": {
            "range": {"sheetId": sid, "startRowIndex": 0, "endRowIndex": height,
                      "startColumnIndex": 0, "endColumnIndex": width},
            "rows": [_review_row(i, row, fields) for i, row in enumerate(grid)],
            "fields": CELL_FIELDS}})
        if table.rows:
            column = table.decision_column - 1
            requests.append({"setDataValidation": {
                "range": {"sheetId": sid, "startRowIndex": core.HEADER_ROW,
                          "endRowIndex": len(grid), "startColumnIndex": column,
                          "endColumnIndex": column + 1},
                "rule": {"condition": {"type": "ONE_OF_LIST", "values": [
                    {"userEnteredValue": choice} for choice in table.choices]},
                    "strict": True, "showCustomUi": True}}})
    return requests
