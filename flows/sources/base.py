"""What every source adapter hands to the core: workbooks as plain grids of Python values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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
    modified: datetime | None = None
    error: str | None = None
    link: str | None = None


class Source(Protocol):
    """Reads the workbooks of all units; the pipeline does not know which kind it reads."""

    def read_all(self) -> list[RawWorkbook]:
        ...
