"""A folder of spreadsheet files: every workbook a clerk can produce, and nothing else opened.

`.xlsx` and `.xlsm` (any letter case; macros never run), `.ods` and `.xls` are read; any other
file (a PDF, a Word document, a photo of the form) gets one finding saying to send the filled
workbook instead. Office and LibreOffice lock files (`~$…`, `.~lock.…#`), hidden files, our own
outputs and sub-folders are passed over. Nothing that is not a regular file is ever opened (a
FIFO would hang the run, `/dev/zero` would fill the memory), a file over the size limit is not
read, and the reading itself runs in worker processes with a time and memory budget
(`flows.sources.isolation`), so one file can cost only its own unit.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

from flows.config.limits import Limits as LimitSettings
from flows.config.loader import Config
from flows.core.findings import Finding, Reason
from flows.core.inputs import Formula, RawSheet, RawWorkbook
from flows.core.layout import Layout, build_layout
from flows.outputs.names import ALL as OUR_OUTPUTS
from flows.sources.isolation import IsolatedReader
from flows.sources.spreadsheet import SUFFIXES, Grids, Limits, Unreadable, read_grids

_LOCK = re.compile(r"^(~\$|\.~lock\..*#$)")


def reading_limits(settings: LimitSettings, layout: Layout | None = None) -> Limits:
    """The reader's limits: the template's extent plus the configured margins."""
    rows = max((s.last_row for s in layout.sheets), default=0) if layout else 1000
    cols = max((s.last_col for s in layout.sheets), default=0) if layout else 50
    return Limits(max_row=rows + settings.rows_beyond_template,
                  max_col=cols + 1 + settings.columns_beyond_template,
                  max_cell_chars=settings.max_cell_chars,
                  max_unpacked_mb=settings.max_unpacked_mb)


def passed_over(name: str) -> bool:
    """Lock files, hidden files and our own outputs: not a commune's workbook, not a problem."""
    return bool(_LOCK.match(name)) or name.startswith(".") or name in OUR_OUTPUTS


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def _workbook(path: Path, grids: Grids, modified: datetime) -> RawWorkbook:
    sheets = []
    for title, rows in grids.sheets:
        for (sheet, r, c), (text, cached) in grids.formulas.items():
            if sheet == title:
                while len(rows) <= r:
                    rows.append([])
                while len(rows[r]) <= c:
                    rows[r].append(None)
                rows[r][c] = Formula(text, cached)
        sheets.append(RawSheet(title, rows))
    problems = [Finding(p.code, p.params, source=path.name, sheet=p.sheet, cell=p.cell,
                        key=f"{p.code}|{p.sheet}|{p.cell}") for p in grids.problems]
    return RawWorkbook(source=path.name, sheets=sheets, modified=modified, problems=problems)


def read_file(path: Path, limits: Limits, settings: LimitSettings | None = None,
              reader: IsolatedReader | None = None, unit_codes: tuple[str, ...] = ()
              ) -> RawWorkbook:
    """One entry of a source folder as a workbook; never raises for a problem of the file.

    `reader` isolates the reading in worker processes (the folder source always does); without
    it the file is read in this process (tests, one trusted file).
    """
    path = Path(path)
    settings = settings or LimitSettings()
    raw = RawWorkbook(source=path.name, name_hint=unit_of_name(path.name, unit_codes))
    try:
        info = path.stat()  # follows a symbolic link to what it points at
    except FileNotFoundError:
        raw.error = Reason("not-regular", {"kind": "dangling-link" if path.is_symlink()
                                           else "missing"})
        return raw
    except OSError as exc:
        raw.error = Reason("cannot-open", {"kind": type(exc).__name__})
        return raw
    if not stat.S_ISREG(info.st_mode):
        raw.error = Reason("not-regular", {"kind": _kind(info.st_mode)})
        return raw
    raw.modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
    if path.suffix.lower() not in SUFFIXES:
        raw.refused = Finding("not-a-workbook", {"source": path.name,
                                                 "suffix": path.suffix.lower()},
                              source=path.name, key="file")
        return raw
    size_mb = info.st_size / 1024 / 1024
    if size_mb > settings.max_file_mb:
        raw.error = Reason("too-large", {"size_mb": round(size_mb, 1),
                                         "limit_mb": settings.max_file_mb})
        return raw
    try:
        grids = reader.read(path, limits) if reader else read_grids(path, limits)
    except Unreadable as why:
        raw.error = Reason(why.reason, why.params)
        return raw
    read = _workbook(path, grids, raw.modified)
    read.name_hint = raw.name_hint
    return read


def unit_of_name(name: str, codes: tuple[str, ...]) -> str | None:
    """The unit a file name starts with ("P01-phuong-tu-ha.xlsx" → P01), if one does."""
    stem = name.rsplit(".", 1)[0].upper()
    return next((code for code in sorted(codes, key=len, reverse=True)
                 if re.match(rf"{re.escape(code.upper())}(?![A-Z0-9])", stem)), None)


class FolderSource:
    """Every workbook in one folder (the embedded default: no Google account, no network)."""

    def __init__(self, folder: Path, config: Config | None = None, *, isolate: bool = True):
        self.folder = Path(folder)
        self.label = str(self.folder)
        self.settings = config.limits if config else LimitSettings()
        self.limits = reading_limits(self.settings, build_layout(config) if config else None)
        self.codes = tuple(u.code for u in config.units.units) if config else ()
        self.reader = IsolatedReader(self.settings.seconds_per_workbook,
                                     self.settings.memory_mb) if isolate else None

    def paths(self) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError:
            return []
        return [Path(e.path) for e in entries if not passed_over(e.name)
                and not e.is_dir(follow_symlinks=False)]

    def refs(self) -> list[str]:
        return [str(path) for path in self.paths()]

    def read(self, ref: str) -> RawWorkbook:
        return read_file(Path(ref), self.limits, self.settings, self.reader, self.codes)

    def finish(self, result, as_of) -> list[str]:
        if self.reader is not None:
            self.reader.close()
        return []  # local files are not written back: staff read findings.xlsx

    def findings(self) -> list[Finding]:
        return []
