"""Cell work openpyxl makes slow, done the cheap way with the same result."""

from __future__ import annotations

from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Border
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange


def merge(ws, row: int, col: int, end_row: int, end_col: int,
          borders: dict[tuple, int] | None = None) -> None:
    """Merge a range as `ws.merge_cells` does — the covered cells become MergedCells whose
    outer edges carry the first cell's border, so Excel draws the frame — with each edge
    border looked up once per workbook (`borders`, one dict per workbook: (border id, edges) →
    id) instead of once per covered cell."""
    borders = {} if borders is None else borders
    span = f"{get_column_letter(col)}{row}:{get_column_letter(end_col)}{end_row}"
    merged = MergedCellRange(ws, span)
    ws.merged_cells.add(merged)
    first = merged.start_cell
    for r in range(row, end_row + 1):
        for c in range(col, end_col + 1):
            if (r, c) == (row, col):
                continue
            target = MergedCell(ws, row=r, column=c)
            ws._cells[r, c] = target
            sides = tuple(name for name, on_edge in (
                ("top", r == row), ("left", c == col), ("right", c == end_col),
                ("bottom", r == end_row)) if on_edge and getattr(first.border, name).style)
            if not sides:
                continue
            key = (first._style.borderId, sides)
            if key not in borders:
                target.border = Border(**{name: getattr(first.border, name) for name in sides})
                borders[key] = target._style.borderId
            target._style = StyleArray()
            target._style.borderId = borders[key]
