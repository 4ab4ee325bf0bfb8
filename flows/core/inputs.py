"""What the core reads: workbooks as plain grids of Python values, whatever their source.

Every source adapter (`flows.sources`) turns what it reads into these types; the core never
sees a file format or an API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flows.core.findings import Finding, Reason


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula: its text and the last value the spreadsheet computed."""

    text: str
    cached: object = None


@dataclass
class RawSheet:
    title: str
    rows: list[list[object]]  # 0-based grid: str, int, float, bool, datetime, Formula or None


@dataclass
class RawWorkbook:
    """One workbook as read, or the reason it could not be read."""

    source: str  # file name or spreadsheet id: how staff recognise it
    sheets: list[RawSheet] = field(default_factory=list)
    modified: datetime | None = None  # when the workbook was last edited
    error: Reason | None = None  # could not be read at all (and no earlier snapshot)
    link: str | None = None  # where staff open it (a Google Sheets URL)
    unit_hint: str | None = None  # the unit a registry says this workbook belongs to
    unreachable: Reason | None = None  # the live workbook failed; the grids are a snapshot
    read_at: datetime | None = None  # when these grids were read
    problems: list[Finding] = field(default_factory=list)  # found while reading (a far cell)
    refused: Finding | None = None  # not a workbook at all (a PDF): this finding, nothing else
    name_hint: str | None = None  # the unit its file name starts with (P01-….xlsx), if any
    editor: str = ""  # who edited it last, where the source says (Drive's lastModifyingUser)
