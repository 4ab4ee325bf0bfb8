"""Combine the workbooks of all units into one table, and say where each unit stands."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from flows.config import Config
from flows.core.extract import LIST_COLUMNS, VALUE_COLUMNS, Extraction
from flows.core.findings import ERROR, WARNING, Finding, findings_frame
from flows.layout import Layout

STATUS_COLUMNS = [
    "unit_code", "unit_name", "kind", "workbook", "found", "required_filled", "required_total",
    "completeness", "submission_status", "completion_date", "errors", "warnings", "modified",
    "link",
]


@dataclass
class Consolidated:
    values: pd.DataFrame
    lists: pd.DataFrame
    findings: pd.DataFrame
    status: pd.DataFrame
    chosen: dict[str, Extraction] = field(default_factory=dict)


def choose_workbooks(
    extractions: list[Extraction], config: Config
) -> tuple[dict[str, Extraction], list[Finding]]:
    """One workbook per unit. Two claiming one unit: the latest edited is used, both reported."""
    by_unit: dict[str, list[Extraction]] = {}
    for extraction in extractions:
        if extraction.unit_code:
            by_unit.setdefault(extraction.unit_code, []).append(extraction)
    chosen: dict[str, Extraction] = {}
    findings: list[Finding] = []
    units = config.units.by_code()
    for code, claims in by_unit.items():
        claims.sort(key=lambda e: (e.modified is not None, e.modified, e.source), reverse=True)
        chosen[code] = claims[0]
        for other in claims[1:]:
            names = ", ".join(f"“{e.source}”" for e in claims)
            findings.append(Finding(
                rule="duplicate-unit", severity=ERROR, unit_code=code,
                unit_name=units[code].full_name, source=other.source,
                message=f"Có {len(claims)} bảng tính cùng ghi mã đơn vị {code}: {names}. "
                        f"Đang dùng “{claims[0].source}” (sửa gần nhất); "
                        f"“{other.source}” không được tổng hợp.",
                instruction="Giữ lại một bảng tính cho mỗi đơn vị; xoá hoặc sửa mã đơn vị "
                            "của bảng tính thừa.",
                key=f"duplicate:{other.source}"))
    return chosen, findings


def _required_frame(layout: Layout) -> pd.DataFrame:
    cells = [c for c in layout.inputs if c.required and c.list_row is None]
    frame = pd.DataFrame({
        "indicator": [c.indicator for c in cells],
        "breakdown": [c.breakdown for c in cells],
        "year": pd.array([c.year for c in cells], dtype="Int64"),
        "tab": [c.tab for c in cells],
    })
    return frame


def role_values(values: pd.DataFrame, layout: Layout, role: str) -> pd.Series:
    """The value of one special cell (status, completion date…) per unit."""
    cell = layout.role(role)
    same = (values["indicator"] == cell.indicator) & (values["breakdown"] == cell.breakdown)
    picked = values[same]
    return picked.set_index("unit_code")["value"]


def completeness(values: pd.DataFrame, layout: Layout, unit_codes: list[str]) -> pd.DataFrame:
    """Required cells filled per unit (a typed 0 is filled; a blank or unusable cell is not)."""
    required = _required_frame(layout)
    filled = values.merge(required, on=["indicator", "breakdown", "year"], how="inner")
    counts = filled.groupby("unit_code").size().reindex(unit_codes, fill_value=0)
    frame = pd.DataFrame({"unit_code": unit_codes, "required_filled": counts.to_numpy()})
    frame["required_total"] = len(required)
    frame["completeness"] = (100 * frame["required_filled"] / max(len(required), 1)).round(1)
    return frame


def unit_status(
    values: pd.DataFrame, findings: pd.DataFrame, chosen: dict[str, Extraction],
    config: Config, layout: Layout,
) -> pd.DataFrame:
    """One row per expected unit: workbook found, completeness, submission status, counts."""
    units = config.units.active()
    codes = [u.code for u in units]
    frame = pd.DataFrame({
        "unit_code": codes,
        "unit_name": [u.full_name for u in units],
        "kind": [u.kind for u in units],
        "workbook": [chosen[c].source if c in chosen else "" for c in codes],
        "found": [c in chosen for c in codes],
        "modified": [chosen[c].modified.isoformat(timespec="seconds")
                     if c in chosen and chosen[c].modified else "" for c in codes],
        "link": [(chosen[c].link or "") if c in chosen else "" for c in codes],
    })
    frame = frame.merge(completeness(values, layout, codes), on="unit_code")
    status = role_values(values, layout, "status")
    done = role_values(values, layout, "completion_date")
    frame["submission_status"] = frame["unit_code"].map(status).fillna("")
    frame["completion_date"] = frame["unit_code"].map(done).fillna("")
    counts = findings.groupby(["unit_code", "severity"]).size().unstack(fill_value=0)
    for column, severity in (("errors", ERROR), ("warnings", WARNING)):
        series = counts[severity] if severity in counts else pd.Series(dtype=int)
        frame[column] = frame["unit_code"].map(series).fillna(0).astype(int)
    return frame[STATUS_COLUMNS]


def _no_workbook_findings(chosen: dict[str, Extraction], config: Config) -> list[Finding]:
    return [
        Finding(rule="no-workbook", severity=WARNING, unit_code=unit.code,
                unit_name=unit.full_name,
                message=f"Chưa có bảng tính của {unit.full_name}; tính là 0% hoàn thành.",
                instruction="Gửi tệp mẫu cho đơn vị và đôn đốc nhập liệu.", key="no-workbook")
        for unit in config.units.active() if unit.code not in chosen
    ]


def consolidate(extractions: list[Extraction], config: Config, layout: Layout) -> Consolidated:
    """All units' values in one tidy table, with every finding and the status of each unit."""
    chosen, findings = choose_workbooks(extractions, config)
    inactive = {u.code for u in config.units.units if not u.active}
    for extraction in extractions:
        keep = extraction.unit_code is None or chosen.get(extraction.unit_code) is extraction
        if keep:
            findings += extraction.findings
        if extraction.unit_code in inactive:
            findings.append(Finding(
                rule="inactive-unit", severity=WARNING, unit_code=extraction.unit_code,
                source=extraction.source,
                message=f"Đơn vị {extraction.unit_code} không còn trong danh sách báo cáo "
                        "(active: false); số liệu không được tổng hợp.",
                instruction="Kiểm tra lại tệp hoặc danh sách đơn vị.", key="inactive"))
    findings += _no_workbook_findings(chosen, config)
    active = [e for code, e in chosen.items() if code not in inactive]
    values = _concat([e.values for e in active], VALUE_COLUMNS)
    lists = _concat([e.lists for e in active], LIST_COLUMNS)
    values = values.sort_values(["unit_code", "indicator", "breakdown", "year"], kind="stable")
    frame = findings_frame(findings)
    status = unit_status(values, frame, chosen, config, layout)
    return Consolidated(values.reset_index(drop=True), lists, frame, status, chosen)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        empty = pd.DataFrame(columns=columns)
        if "year" in columns:
            empty["year"] = empty["year"].astype("Int64")
        return empty
    return pd.concat(frames, ignore_index=True)[columns]
