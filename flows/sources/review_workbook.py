"""Reading back the review workbook `duyet.xlsx` the office filled in, and setting it aside.

The file is read with the project's own reader (`flows.sources.spreadsheet.read_grids`, within
limits); what its rows mean is `flows.core.review.read_decisions`'. After a run took its
decisions the file is moved into the state folder as ``duyet-<time>.applied.xlsx`` (or
``.unread.xlsx`` when it could not be used), so a run never reads the same file twice and the
next run's own `duyet.xlsx` never overwrites what the office typed.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.config.limits import Limits as LimitSettings
from flows.core import review as core
from flows.sources.spreadsheet import Limits, Unreadable, read_grids

MAX_ROWS, MAX_COLUMNS = 20_000, 30


def read_review_workbook(path: Path, catalogue: Any, settings: LimitSettings | None = None
                         ) -> tuple[str, list[core.Decision]]:
    """The token and the decisions typed in a review workbook; `Unreadable` when the file
    cannot be read at all."""
    settings = settings or LimitSettings()
    limits = Limits(max_row=MAX_ROWS, max_col=MAX_COLUMNS,
                    max_cell_chars=settings.max_cell_chars,
                    max_unpacked_mb=settings.max_unpacked_mb)
    if Path(path).stat().st_size > settings.max_file_mb * 1024 * 1024:
        raise Unreadable("too-large", size_mb=round(Path(path).stat().st_size / 2**20, 1),
                         limit_mb=settings.max_file_mb)
    return core.read_decisions(read_grids(Path(path), limits).sheets, catalogue)


def set_aside(path: Path, folder: Path, label: str, moment: datetime) -> Path:
    """Move the read file into `folder` as ``duyet-<time>.<label>.xlsx`` (never over another)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(path).stem}-{moment:%Y%m%dT%H%M%S}"
    target = folder / f"{stem}.{label}{Path(path).suffix}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}.{label}{Path(path).suffix}"
    shutil.move(str(path), str(target))
    return target
