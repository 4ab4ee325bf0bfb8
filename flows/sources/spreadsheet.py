"""Reading one spreadsheet file — .xlsx, .xlsm, .ods, .xls — into plain grids, within limits.

Values come from python-calamine (fast, all four formats, macros never run). For .xlsx/.xlsm a
cheap pass over each sheet's XML first finds what calamine does not give: formula text (with
the value the spreadsheet computed), error cells such as ``#REF!``, and the sheet's real extent.
A sheet whose cells reach beyond the limits is never handed to calamine whole (it would build
a dense grid of that size): the far cells are cut from a copy of the sheet and reported.
.ods and .xls have no such pass: what they cannot tell us (formula text) is documented, and
their reading runs where a crash or a runaway cannot cost the run (`flows.sources.isolation`).

This module needs only the standard library and calamine, so a reading process starts fast.
Its results are plain Python data (picklable), never a traceback.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree

from flows.core.a1 import column_index, column_letter

XLSX_SUFFIXES = (".xlsx", ".xlsm")
OTHER_SUFFIXES = (".ods", ".xls")
SUFFIXES = XLSX_SUFFIXES + OTHER_SUFFIXES
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_TYPE = re.compile(rb'\bt="(\w+)"')
_FORMULA = re.compile(rb"<f\b([^>]*?)(?:/>|>(.*?)</f>)", re.DOTALL)
_SHARED_INDEX = re.compile(rb'\bsi="(\d+)"')
_VALUE = re.compile(rb"<v>(.*?)</v>", re.DOTALL)
_ROW = re.compile(rb"<row\b[^>]*?\br=\"(\d+)\"[^>]*?(?:/>|>.*?</row>)", re.DOTALL)
_DIMENSION = re.compile(rb"<dimension\b[^>]*/>")
_ROW_NUMBER = re.compile(rb'<row\b[^>]*?\br="(\d+)"')
_COL_LETTERS = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})\d')
_ENTITIES = {b"&lt;": "<", b"&gt;": ">", b"&amp;": "&", b"&quot;": '"', b"&apos;": "'"}


@dataclass(frozen=True)
class Limits:
    """How far and how much is read (the config's `limits.yaml`, as plain values)."""

    max_row: int  # the last row read (the template's extent plus a margin)
    max_col: int  # the last column read, 1-based
    max_cell_chars: int
    max_unpacked_mb: float  # what the file may hold once unzipped (zip bombs)


@dataclass
class Problem:
    """Something the file itself tells us is wrong: a catalogue code and its values."""

    code: str
    params: dict = field(default_factory=dict)
    sheet: str = ""
    cell: str = ""


@dataclass
class Grids:
    """One file's sheets as plain grids (0-based), with what the reading found."""

    sheets: list[tuple[str, list[list[object]]]] = field(default_factory=list)
    # (sheet, row, col) → (formula text, computed value)
    formulas: dict[tuple[str, int, int], tuple[str, object]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class Unreadable(Exception):
    """The file cannot be read at all; `reason` is a code of the catalogue's reasons."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def __reduce__(self):  # raised in a worker process, re-raised here with its values
        return _unreadable, (self.reason, self.params)


def _unreadable(reason: str, params: dict) -> Unreadable:
    return Unreadable(reason, **params)


def _text(raw: bytes) -> str:
    text = re.sub(rb"&(?:lt|gt|amp|quot|apos);", lambda m: _ENTITIES[m.group(0)].encode(), raw)
    text = re.sub(rb"&#(x?)([0-9A-Fa-f]+);",
                  lambda m: chr(int(m.group(2), 16 if m.group(1) else 10)).encode(), text)
    return text.decode("utf-8", "replace")


# --------------------------------------------------------------------------- xlsx


def _sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet title, zip member of its XML), in workbook order."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = []
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts.append((sheet.get("name", ""), re.sub(r"/[^/]+/\.\./", "/", member)))
    return parts


@dataclass
class _Scan:
    far: str = ""  # the farthest cell beyond the limits, if any
    formulas: dict[tuple[int, int], tuple[str, bytes | None]] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


def _scan(xml: bytes, limits: Limits) -> _Scan:
    """Extent, formulas and error cells of one sheet, from its XML (no XML parser needed).

    The common case costs a few C-level regex passes: the largest row and column present, then
    only the cells holding a formula or an error. Cells are looked at one by one only when the
    sheet reaches beyond the limits, to find the farthest cell that holds data.
    """
    scan = _Scan()
    rows = _ROW_NUMBER.findall(xml)
    letters = set(_COL_LETTERS.findall(xml))
    top_row = max(map(int, rows), default=0)
    top_col = max(map(column_index, letters), default=0)
    if top_row > limits.max_row or top_col > limits.max_col:
        scan.far = _farthest(xml, limits)
    if b"<f" in xml or b't="e"' in xml:
        _formulas_and_errors(xml, limits, scan)
    return scan


def _farthest(xml: bytes, limits: Limits) -> str:
    """The farthest cell beyond the limits that holds data ("" when only empty cells are)."""
    far_row = far_col = 0
    for match in _CELL.finditer(xml):
        ref = _REF.search(match.group(1))
        if ref is None or not match.group(2):  # a styled empty cell is no data
            continue
        col, row = column_index(ref.group(1)), int(ref.group(2))
        if (row > limits.max_row or col > limits.max_col) and (row, col) > (far_row, far_col):
            far_row, far_col = row, col
    return f"{column_letter(far_col)}{far_row}" if far_row else ""


def _formulas_and_errors(xml: bytes, limits: Limits, scan: _Scan) -> None:
    shared: dict[bytes, bytes] = {}  # shared formula index → master formula text
    for match in _CELL.finditer(xml):
        attrs, body = match.group(1), match.group(2) or b""
        if b"<f" not in body and b't="e"' not in attrs:
            continue
        ref = _REF.search(attrs)
        if ref is None:
            continue
        col, row = column_index(ref.group(1)), int(ref.group(2))
        if row > limits.max_row or col > limits.max_col:
            continue
        kind = _TYPE.search(attrs)
        if kind and kind.group(1) == b"e":
            value = _VALUE.search(body)
            scan.errors[(row - 1, col - 1)] = _text(value.group(1)) if value else "#ERROR!"
        formula = _FORMULA.search(body)
        if formula:
            text = formula.group(2) or b""
            index = _SHARED_INDEX.search(formula.group(1))
            if index and text:
                shared[index.group(1)] = text
            elif index:
                text = shared.get(index.group(1), b"")
            value = _VALUE.search(body)
            scan.formulas[(row - 1, col - 1)] = ("=" + _text(text) if text else "=…",
                                                 value.group(1) if value else None)


def _cut(xml: bytes, limits: Limits) -> bytes:
    """The sheet without rows and cells beyond the limits (and no stale dimension)."""
    def row(match: re.Match) -> bytes:
        if int(match.group(1)) > limits.max_row:
            return b""
        return _CELL.sub(lambda c: b"" if (ref := _REF.search(c.group(1))) and column_index(
            ref.group(1)) > limits.max_col else c.group(0), match.group(0))

    return _DIMENSION.sub(b"", _ROW.sub(row, xml))


def _check_size(archive: zipfile.ZipFile, limits: Limits) -> None:
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > limits.max_unpacked_mb * 1024 * 1024:
        raise Unreadable("too-large-unpacked", size_mb=round(unpacked / 1024 / 1024),
                         limit_mb=limits.max_unpacked_mb)


def _xlsx_scans(path: Path, limits: Limits) -> tuple[dict[str, _Scan], bytes | None]:
    """Each sheet's scan, and the bytes of a trimmed copy of the file when some sheet reached
    beyond the limits (None: calamine may read the file as it is)."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_size(archive, limits)
            parts = _sheet_parts(archive)
            scans = {title: _scan(archive.read(member), limits) for title, member in parts
                     if member in archive.namelist()}
            if not any(scan.far for scan in scans.values()):
                return scans, None
            far = {member for title, member in parts if scans.get(title, _Scan()).far}
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as trimmed:
                for info in archive.infolist():
                    data = archive.read(info.filename)
                    trimmed.writestr(info, _cut(data, limits) if info.filename in far else data)
            return scans, buffer.getvalue()
    except zipfile.BadZipFile:
        raise Unreadable("damaged") from None
    except (KeyError, ElementTree.ParseError):
        raise Unreadable("damaged") from None
    except RuntimeError as exc:  # an encrypted member
        raise Unreadable("password") if "encrypt" in str(exc).lower() else Unreadable(
            "damaged") from None
    except OSError as exc:
        raise Unreadable("cannot-open", kind=type(exc).__name__) from None


# --------------------------------------------------------------------------- all formats


def _plain(value: object) -> object:
    """calamine's cell value as the core expects it ("" is blank; dates stay dates)."""
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, datetime | date | bool | int | float | str):
        return value
    return str(value)  # a duration or another calamine type: shown as typed


def _open(source: Path | bytes):
    import python_calamine as calamine

    try:
        if isinstance(source, bytes):
            return calamine.CalamineWorkbook.from_filelike(io.BytesIO(source))
        return calamine.CalamineWorkbook.from_path(str(source))
    except calamine.PasswordError:
        raise Unreadable("password") from None
    except (calamine.ZipError, calamine.XmlError):
        raise Unreadable("damaged") from None
    except calamine.CalamineError as exc:
        raise Unreadable("cannot-open", kind=type(exc).__name__) from None
    except (OSError, ValueError) as exc:
        raise Unreadable("cannot-open", kind=type(exc).__name__) from None


def read_grids(path: Path, limits: Limits) -> Grids:
    """Every worksheet of one file as grids; `Unreadable` when the file cannot be read at all."""
    import python_calamine as calamine

    path = Path(path)
    suffix = path.suffix.lower()
    scans: dict[str, _Scan] = {}
    source: Path | bytes = path
    if suffix in XLSX_SUFFIXES:
        scans, trimmed = _xlsx_scans(path, limits)
        source = trimmed or path
    grids = Grids()
    book = _open(source)
    try:
        for meta in book.sheets_metadata:
            if meta.typ != calamine.SheetTypeEnum.WorkSheet:
                continue
            try:
                sheet = book.get_sheet_by_name(meta.name)
                rows = sheet.to_python(skip_empty_area=False, nrows=limits.max_row)
            except calamine.CalamineError:
                raise Unreadable("damaged") from None
            scan = scans.get(meta.name)
            if scan is not None and scan.far:
                grids.problems.append(Problem("sheet-too-large", {
                    "far": scan.far, "limit": f"{column_letter(limits.max_col)}"
                    f"{limits.max_row}"}, sheet=meta.name, cell=scan.far))
            grid = _grid(meta.name, rows, scan, limits, grids)
            grids.sheets.append((meta.name, grid))
    finally:
        book.close()
    return grids


def _grid(title: str, rows: list[list], scan: _Scan | None, limits: Limits,
          grids: Grids) -> list[list[object]]:
    """Plain values, formulas and error cells in place, text over the limit refused."""
    grid = []
    for row in rows:
        values = [_plain(v) for v in row[: limits.max_col]]
        while values and values[-1] is None:
            values.pop()
        grid.append(values)
    while grid and not grid[-1]:
        grid.pop()
    if scan is not None:
        for (r, c), shown in scan.errors.items():
            _put(grid, r, c, shown)
        for (r, c), (text, cached) in scan.formulas.items():
            value = grid[r][c] if r < len(grid) and c < len(grid[r]) else None
            if cached is None:
                value = None
            grids.formulas[(title, r, c)] = (text, value)
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                grids.problems.append(Problem("cell-text-too-long", {
                    "length": len(value), "limit": limits.max_cell_chars},
                    sheet=title, cell=f"{column_letter(c + 1)}{r + 1}"))
                row[c] = None
            elif isinstance(value, float) and not math.isfinite(value):
                row[c] = str(value)
    return grid


def _put(grid: list[list[object]], r: int, c: int, value: object) -> None:
    while len(grid) <= r:
        grid.append([])
    row = grid[r]
    while len(row) <= c:
        row.append(None)
    row[c] = value
