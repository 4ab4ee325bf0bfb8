"""What every source adapter hands to the core: workbooks as plain grids of Python values.

A source lists the workbooks to read (`refs`), reads one (`read`, never raising for a problem
with that workbook: it sets `error` or `unreachable` instead), and may act after the run
(`finish`: the Google source writes each unit's findings back into its sheet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flows.core.consolidate import Consolidated


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
    error: str | None = None  # could not be read at all (and no earlier snapshot)
    link: str | None = None  # where staff open it (a Google Sheets URL)
    unit_hint: str | None = None  # the unit a registry says this workbook belongs to
    unreachable: str | None = None  # why the live workbook failed; the grids are a snapshot
    read_at: datetime | None = None  # when these grids were read


class Source(Protocol):
    """Reads the workbooks of all units; the pipeline does not know which kind it reads."""

    label: str  # shown in logs and run.json: a folder path, or "google"

    def refs(self) -> list[str]:
        """The workbooks to consider this run (file paths, spreadsheet ids)."""
        ...

    def read(self, ref: str) -> RawWorkbook:
        ...

    def finish(self, result: Consolidated, as_of: date) -> list[str]:
        """After consolidation (e.g. write flags back). Returns lines for the run log."""
        ...
