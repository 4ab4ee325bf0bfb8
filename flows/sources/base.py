"""What every source adapter offers the pipeline: the workbooks of all units, as core inputs.

A source lists the workbooks to read (`refs`), reads one (`read`, never raising for a problem
with that workbook: it sets `error` or `unreachable` instead), and may act after the run
(`finish`: the Google source writes each unit's findings back into its sheet), and says
what went wrong on its side (`findings`: access problems, as findings of the catalogue).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Protocol

from flows.core.findings import Finding
from flows.core.inputs import Formula, RawSheet, RawWorkbook

if TYPE_CHECKING:
    from flows.core.consolidate import Consolidated


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

    def findings(self) -> list[Finding]:
        """Problems of the source itself this run (a listing or a write-back that failed)."""
        ...


__all__ = ["Formula", "RawSheet", "RawWorkbook", "Source"]
