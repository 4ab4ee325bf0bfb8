"""One record for every problem found, from reading a cell to checking a rule."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import pandas as pd

ERROR = "lỗi"
WARNING = "cảnh báo"
INFO = "thông tin"
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}

FINDING_COLUMNS = [
    "finding_id", "unit_code", "unit_name", "source", "sheet", "cell", "indicator", "breakdown",
    "year", "rule", "severity", "message", "instruction", "value", "expected",
]


@dataclass(frozen=True)
class Finding:
    """A problem at a place: which unit, which tab and cell, which rule, what to do."""

    rule: str  # stable kebab-case code, e.g. "not-a-number"
    severity: str  # ERROR, WARNING or INFO (Vietnamese words, as staff read them)
    message: str  # what is wrong, in Vietnamese
    instruction: str = ""  # what to do, in Vietnamese
    unit_code: str = ""
    unit_name: str = ""
    source: str = ""  # workbook file name or spreadsheet id
    sheet: str = ""
    cell: str = ""
    indicator: str = ""
    breakdown: str = ""
    year: int | None = None
    value: str = ""
    expected: str = ""
    key: str = ""  # the value key or another stable locator; used for the stable id

    @property
    def finding_id(self) -> str:
        """Stable across runs for the same problem at the same place (cells may move)."""
        who = self.unit_code or self.source
        where = self.key or f"{self.indicator}|{self.breakdown}|{self.year or ''}|{self.sheet}"
        digest = hashlib.sha1(f"{who}\x1f{self.rule}\x1f{where}".encode()).hexdigest()
        return digest[:12]


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table in the `findings.csv` schema, most serious first."""
    rows = []
    for finding in findings:
        row = asdict(finding)
        row.pop("key")
        row["finding_id"] = finding.finding_id
        rows.append(row)
    frame = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    if frame.empty:
        return frame
    frame = frame.drop_duplicates("finding_id")
    rank = frame["severity"].map(SEVERITY_RANK).fillna(9)
    order = frame.assign(_rank=rank).sort_values(
        ["_rank", "unit_code", "sheet", "rule", "indicator", "breakdown", "year"],
        kind="stable", na_position="first",
    )
    return order.drop(columns="_rank").reset_index(drop=True)
