"""One record for every problem found, from reading a cell to sending a reminder.

A finding is raised by code and fields only: its catalogue code (`templates/findings.yaml`),
the values its words need (`params`) and where it is. Severity, category and the Vietnamese
words come from the catalogue when the findings become a table (`findings_frame`), so one code
always reads the same and office staff can reword it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# Stable severity codes; the words (lỗi, cảnh báo, thông tin) are the catalogue's, at output.
ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
# Problems of ours rather than of the commune's data: the unit was not read live.
LOST_CATEGORIES = frozenset({"access", "system"})

FINDING_COLUMNS = [
    "finding_id", "unit_code", "unit_name", "source", "sheet", "cell", "indicator", "breakdown",
    "year", "rule", "severity", "message", "instruction", "value", "expected", "category",
    "rule_name",
]


@dataclass(frozen=True)
class Issue:
    """What is wrong with one value, before anyone knows where the value sits."""

    rule: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Reason:
    """Why something could not be read: a code of the catalogue's `reasons` and its values."""

    reason_code: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Finding:
    """A problem at a place: which unit, which tab and cell, which code, with which values."""

    rule: str  # the catalogue code, e.g. "not-a-number", or a rule id of rules.yaml
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    unit_code: str = ""
    unit_name: str = ""
    source: str = ""  # workbook file name or spreadsheet id
    sheet: str = ""
    cell: str = ""
    indicator: str = ""
    breakdown: str = ""
    year: int | None = None
    value: str = ""  # what the commune typed, as shown back to it
    expected: str = ""  # a plain value range or bound; the catalogue may word it instead
    key: str = ""  # the value key or another stable locator; used for the stable id

    @property
    def finding_id(self) -> str:
        """Stable across runs for the same problem at the same place (cells may move)."""
        who = self.unit_code or self.source
        where = self.key or f"{self.indicator}|{self.breakdown}|{self.year or ''}|{self.sheet}"
        digest = hashlib.sha1(f"{who}\x1f{self.rule}\x1f{where}".encode()).hexdigest()
        return digest[:12]


@dataclass(frozen=True)
class RenderedFinding:
    """A finding with its words: what every output shows."""

    finding_id: str
    rule: str
    severity: str
    category: str
    rule_name: str
    message: str
    instruction: str
    unit_code: str = ""
    unit_name: str = ""
    source: str = ""
    sheet: str = ""
    cell: str = ""
    indicator: str = ""
    breakdown: str = ""
    year: int | None = None
    value: str = ""
    expected: str = ""
    key: str = ""


def render(findings: Iterable[Finding], catalogue: Any) -> list[RenderedFinding]:
    """Each finding with the words of its catalogue code."""
    rendered = []
    for f in findings:
        words = catalogue.render(f.rule, f.params)
        rendered.append(RenderedFinding(
            f.finding_id, f.rule, words.severity, words.category, words.name, words.message,
            words.instruction, f.unit_code, f.unit_name, f.source, f.sheet, f.cell, f.indicator,
            f.breakdown, f.year, f.value,
            words.expected if words.expected is not None else f.expected, f.key))
    return rendered


def is_lost(finding: Finding, catalogue: Any) -> bool:
    """The unit behind this finding could not be read live (an access or system problem)."""
    return catalogue.category(finding.rule) in LOST_CATEGORIES


def findings_frame(findings: Iterable[Finding], catalogue: Any) -> pd.DataFrame:
    """Findings as a table in the `findings.csv` schema, most serious first (severity codes)."""
    return rendered_frame(render(findings, catalogue))


def rendered_frame(rendered: Iterable[RenderedFinding]) -> pd.DataFrame:
    """Findings that already have their words, as the `findings.csv` table."""
    frame = pd.DataFrame([vars(r) for r in rendered], columns=FINDING_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return _ordered(frame)


def append_findings(frame: pd.DataFrame, findings: Iterable[Finding],
                    catalogue: Any) -> pd.DataFrame:
    """A findings table with more findings (e.g. write-back problems found after the checks)."""
    extra = findings_frame(findings, catalogue)
    if extra.empty:
        return frame
    return _ordered(pd.concat([frame, extra], ignore_index=True) if len(frame) else extra)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    frame = frame.drop_duplicates("finding_id")
    rank = frame["severity"].map(SEVERITY_RANK).fillna(9)
    order = frame.assign(_rank=rank).sort_values(
        ["_rank", "unit_code", "sheet", "rule", "indicator", "breakdown", "year"],
        kind="stable", na_position="first",
    )
    return order.drop(columns="_rank").reset_index(drop=True)


def severity_words(frame: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """The findings table as people read it: severity in words (lỗi, cảnh báo, thông tin)."""
    return frame.assign(severity=frame["severity"].map(catalogue.severity_label))
