"""Rows of plain cells held compactly and written as openpyxl writes them, in a tenth the time.

openpyxl makes an object for every cell and writes each through lxml, about 15 µs a cell:
a nation's appendix workbook has two million. A worksheet's rows of plain cells (a value and
a style each, nothing else: no comment, hyperlink or merge) are held here instead
(`add_row`), and `save_workbook` writes the workbook with openpyxl, each such row as openpyxl
would: every cell's bytes after its coordinate are made once per distinct (value, style) by
openpyxl's own cell writer, value binding included (`Cell.value`), and each style takes its
number in the workbook in the order openpyxl's writer meets it. A row that also holds an
openpyxl cell, or has a row dimension, is written by openpyxl itself, its plain cells made
into openpyxl cells first. The file is the same, byte for byte.
"""

from __future__ import annotations

import datetime
import os
from io import BytesIO
from zipfile import ZIP_DEFLATED, ZipFile

from lxml import etree
from openpyxl import LXML
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import Cell
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml.functions import xmlfile

_ROWS = "_giamsat_rows"  # worksheet attribute: row → (first column, values, styles)
_DUMMY = b'<c r="A1"'
_PLACEHOLDER = "giamsat-rows"


def add_row(ws, row: int, first_column: int, values: list,
            styles: list[StyleArray | None] | None = None) -> None:
    """Cells `values` from (`row`, `first_column`) on, each with its style (None: none), as
    `ws.cell(row, column, value)` and a style would make them; checked as openpyxl checks a
    value (an illegal character raises here, as it would there)."""
    rows = ws.__dict__.setdefault(_ROWS, {})
    if row in rows:
        raise ValueError(f"row {row} is held already")
    for value in values:
        if value is not None and type(value) not in _PLAIN:
            _bound(ws, value)
    rows[row] = (first_column, list(values), None if styles is None else list(styles))


def save_workbook(workbook, path) -> None:
    """`workbook.save(path)`, with the rows `add_row` holds."""
    if workbook.read_only:
        raise TypeError("Workbook is read-only")
    archive = ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True)
    if not LXML:  # openpyxl writes with the standard library: the held rows as its cells
        for ws in workbook.worksheets:
            for row in sorted(ws.__dict__.pop(_ROWS, {}).items()):
                for cell in _RowsWriter.cells_of(ws, *row):
                    ws._cells[cell.row, cell.column] = cell
    workbook.properties.modified = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
    _ExcelWriter(workbook, archive).save()


# --------------------------------------------------------------------------- values


def _key(value: object) -> tuple:
    """A dict key telling apart what `==` does not: 1, 1.0 and True; 0.0 and -0.0."""
    return (type(value), value) if value else (type(value), value, repr(value))


_PLAIN = {int: "n", float: "n"}  # values openpyxl stores as they are, whatever they hold


def _bound(ws, value: object) -> tuple[str, object]:
    """(data type, stored value) openpyxl gives `value`, once per distinct value."""
    kind = _PLAIN.get(type(value))
    if kind is not None:
        return kind, value
    cache = ws.parent.__dict__.setdefault("_giamsat_bound", {})
    key = _key(value)
    found = cache.get(key)
    if found is None:
        cell = Cell(ws, value=value)
        found = cache[key] = (cell.data_type, cell._value)
    return found


class _ExcelWriter(ExcelWriter):
    def __init__(self, workbook, archive):
        super().__init__(workbook, archive)
        self.tails: dict[tuple, bytes] = {}  # (style number, data type, value) → bytes
        self.numbers: dict[int, tuple[StyleArray, int | None]] = {}  # see _RowsWriter.number

    def write_worksheet(self, ws):
        if not ws.__dict__.get(_ROWS) or self.workbook.write_only:
            return super().write_worksheet(ws)
        # ExcelWriter.write_worksheet (openpyxl 3.1), with the writer below
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _RowsWriter(ws, self.tails, self.numbers)
        writer.write()
        writer.splice()
        ws._rels = writer._rels
        self._archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()


class _RowsWriter(WorksheetWriter):
    """openpyxl's worksheet writer; the held rows go in as placeholders, then as bytes."""

    def __init__(self, ws, tails: dict[tuple, bytes],
                 numbers: dict[int, tuple[StyleArray, int | None]]):
        super().__init__(ws)
        self.held = ws.__dict__[_ROWS]
        self.chunks: list[bytes] = []
        self.tails = tails
        self.numbers = numbers

    def number(self, style: StyleArray | None) -> int | None:
        """A cell's style number (`Cell.style_id`), None when it has no style
        (`Cell.has_style`); looked up once per style object: the held rows share them."""
        if style is None:
            return None
        found = self.numbers.get(id(style))
        if found is None or found[0] is not style:
            number = self.ws.parent._cell_styles.add(style) if any(style) else None
            found = self.numbers[id(style)] = (style, number)
        return found[1]

    def write_dimensions(self):
        """`Worksheet.calculate_dimension` over its cells and the held ones."""
        rows = {r for r, _ in self.ws._cells}
        cols = {c for _, c in self.ws._cells}
        for row, (first, values, _) in self.held.items():
            if values:
                rows.add(row)
                cols |= {first, first + len(values) - 1}
        if not rows:
            return super().write_dimensions()
        ref = (f"{get_column_letter(min(cols))}{min(rows)}:"
               f"{get_column_letter(max(cols))}{max(rows)}")
        self.xf.send(SheetDimension(ref).to_tree())

    def write_rows(self):
        xf = self.xf.send(True)
        own = dict(self.rows())
        dims = self.ws.row_dimensions
        pending: list[int] = []  # held rows written as bytes, waiting for a placeholder

        def flush():
            if pending:
                self.chunks.append(self._rows_bytes(pending))
                xf.write(_pi(len(self.chunks) - 1))
                pending.clear()

        with xf.element("sheetData"):
            for row_idx in sorted(own.keys() | self.held.keys()):
                if row_idx in self.held and row_idx not in own and row_idx not in dims:
                    pending.append(row_idx)
                    continue
                flush()
                cells = own.get(row_idx, [])
                if row_idx in self.held:  # openpyxl writes the row: its cells are openpyxl's
                    cells = sorted(cells + self._cells(row_idx), key=lambda c: c.column)
                    if len({c.column for c in cells}) < len(cells):
                        raise ValueError(f"row {row_idx}: a cell held and an openpyxl cell")
                self.write_row(xf, cells, row_idx)
            flush()
        self.xf.send(None)

    def _cells(self, row_idx: int) -> list[Cell]:
        return self.cells_of(self.ws, row_idx, self.held[row_idx])

    @staticmethod
    def cells_of(ws, row_idx: int, held: tuple) -> list[Cell]:
        """A held row as the openpyxl cells `ws.cell` would have made."""
        first, values, styles = held
        cells = []
        for j, value in enumerate(values):
            cell = Cell(ws, row=row_idx, column=first + j)
            cell.data_type, cell._value = _bound(ws, value)
            if styles is not None and styles[j] is not None:
                cell._style = StyleArray(styles[j])
            cells.append(cell)
        return cells

    def _rows_bytes(self, row_indices: list[int]) -> bytes:
        """The held rows as openpyxl writes them. Each style is numbered (added to the
        workbook's list) in the order openpyxl's writer meets it: cell by cell, row by row."""
        ws, held, tails, number = self.ws, self.held, self.tails, self.number
        starts: dict[int, bytes] = {}  # column → b'<c r="B'
        out = []
        for row_idx in row_indices:
            first, values, styles = held[row_idx]
            row = str(row_idx).encode("ascii")
            end = row + b'"'
            out.append(b'<row r="' + row + b'">')
            for j, value in enumerate(values, start=first):
                style_number = None if styles is None else number(styles[j - first])
                if value is None and style_number is None:
                    continue  # openpyxl writes no empty cell without a style
                kind = _PLAIN.get(type(value))
                if kind is not None:  # a number, stored as it is
                    key = (style_number, kind, type(value),
                           value if value else repr(value))
                    stored = value
                else:
                    kind, stored = _bound(ws, value)
                    key = (style_number, kind, *_key(stored))
                tail = tails.get(key)
                if tail is None:
                    style = None if styles is None else styles[j - first]
                    tail = tails[key] = self._tails({key: (stored, style)})[key]
                start = starts.get(j)
                if start is None:
                    start = starts[j] = b'<c r="' + get_column_letter(j).encode("ascii")
                out.append(start + end + tail)
            out.append(b"</row>")
        return b"".join(out)

    def _tails(self, keys: dict[tuple, tuple[object, StyleArray | None]]
               ) -> dict[tuple, bytes]:
        """What openpyxl's cell writer writes after `<c r="A1"` for each (style number, data
        type, value): all at once, into one stream like the worksheet's."""
        if not keys:
            return {}
        buffer = BytesIO()
        with xmlfile(buffer) as xf, xf.element("x"):
            for key, (stored, style) in keys.items():
                cell = Cell(self.ws, row=1, column=1)
                cell.data_type, cell._value = key[1], stored
                if key[0] is not None:
                    cell._style = StyleArray(style)
                write_cell(xf, self.ws, cell, key[0] is not None)
        written = buffer.getvalue()
        parts = written[written.index(_DUMMY):written.rindex(b"</x>")].split(_DUMMY)[1:]
        if len(parts) != len(keys):
            raise AssertionError("a cell of the held rows was not written as expected")
        return dict(zip(keys, parts, strict=True))

    def splice(self) -> None:
        """The placeholders of the written sheet replaced by the held rows' bytes."""
        if not self.chunks:
            return
        with open(self.out, "rb") as f:
            written = f.read()
        pieces, done = [], 0
        for n, chunk in enumerate(self.chunks):
            mark = f"<?{_PLACEHOLDER} {n}?>".encode("ascii")
            at = written.index(mark, done)
            pieces += (written[done:at], chunk)
            done = at + len(mark)
        pieces.append(written[done:])
        with open(self.out + ".rows", "wb") as f:
            f.writelines(pieces)
        os.replace(self.out + ".rows", self.out)



def _pi(n: int):
    return etree.PI(_PLACEHOLDER, str(n))
