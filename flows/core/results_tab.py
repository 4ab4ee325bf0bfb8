"""The unit's "Kết quả kiểm tra" tab: its columns, and the answers the commune types in it.

One declaration of the table, shared by what writes it (the Google write-back, the .xlsx
template) and what reads it back: each finding's row has a column "Giải trình của đơn vị" where
the commune explains a warning ("năm 2023 có thêm một cơ sở mới"), and the finding's id. The
table is found by its header row, in any tab without our marker and in any column order, so a
renamed tab or a moved column still reads; an answer is tied to its finding by the id, else by
the tab and cell it names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.core.inputs import Formula

TITLE = "Kết quả kiểm tra"
# (field, header) in the order the write-back lays them out; `explanation` is the commune's.
COLUMNS = (
    ("number", "STT"), ("sheet", "Trang"), ("cell", "Ô"), ("severity", "Mức độ"),
    ("message", "Nội dung"), ("instruction", "Cách sửa"), ("value", "Giá trị đã nhập"),
    ("seen", "Ghi nhận lúc"), ("state", "Trạng thái"), ("explanation", "Giải trình của đơn vị"),
    ("finding", "Mã phát hiện"),
)
HEADER = [label for _, label in COLUMNS]
FIELDS = [name for name, _ in COLUMNS]
EXPLANATION_COLUMN = FIELDS.index("explanation")  # 0-based
# The .xlsx template's table: what a commune without Google fills (tab and cell, or the id).
TEMPLATE_COLUMNS = (("number", "STT"), ("sheet", "Trang"), ("cell", "Ô"),
                    ("message", "Nội dung"), ("explanation", "Giải trình của đơn vị"),
                    ("finding", "Mã phát hiện"))
HEADER_SEARCH = 30  # rows searched for the header
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class Explanation:
    """One answer typed by the commune, and what it names."""

    text: str
    finding_id: str = ""  # as typed, when it looks like one of ours
    sheet: str = ""  # the tab it names ("II. Trẻ em"), as typed
    cell: str = ""  # the cell it names ("D12")
    tab: str = ""  # where it was typed: the results tab's title
    row: int = 0  # 1-based, as the spreadsheet shows it
    column: int = field(default=0, compare=False)  # 1-based column of the answer (0: unknown)


def typed_text(value: Any) -> str:
    """A cell as the text a person typed: NFC, trimmed, whole floats without ".0", a formula
    as its text (never evaluated); blank → ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Formula):  # its text, as typed: never evaluated, never written back live
        value = value.text
    return unicodedata.normalize("NFC", str(value)).strip()


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


_WANTED = {_fold(label): name for name, label in COLUMNS}


def _header(rows: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    """The 0-based header row and each field's column: a row naming the explanation column
    and either the finding id or the tab and cell."""
    for r, row in enumerate(rows[:HEADER_SEARCH]):
        found: dict[str, int] = {}
        for c, value in enumerate(row):
            name = _WANTED.get(_fold(typed_text(value)))
            if name is not None and name not in found:
                found[name] = c
        if "explanation" in found and ("finding" in found or "cell" in found):
            return r, found
    return None


def read_explanations(sheets: Iterable[tuple[str, list[list[Any]]]]) -> list[Explanation]:
    """Every answer typed in the results tables of these (title, grid) sheets; rows without an
    answer are skipped."""
    found: list[Explanation] = []
    for title, rows in sheets:
        header = _header(rows)
        if header is None:
            continue
        r, at = header

        def cell(line: list[Any], name: str, at: dict[str, int] = at) -> str:
            c = at.get(name)
            return typed_text(line[c]) if c is not None and c < len(line) else ""

        for n, line in enumerate(rows[r + 1:], start=r + 2):
            text = cell(line, "explanation")
            if not text:
                continue
            fid = cell(line, "finding").lower()
            where = cell(line, "cell").replace("$", "").upper()
            found.append(Explanation(text, fid if _ID.match(fid) else "", cell(line, "sheet"),
                                     where if _CELL.match(where) else "", title, n,
                                     at["explanation"] + 1))
    return found


def matches(explanation: Explanation, findings: Iterable[Mapping[str, Any]]) -> list[str]:
    """The finding ids an answer belongs to among a unit's findings (dicts with finding_id,
    sheet, cell): the one it names by id, else every finding at the tab and cell it names
    (any tab when it names none)."""
    rows = list(findings)
    if explanation.finding_id:
        return [str(f["finding_id"]) for f in rows
                if str(f["finding_id"]) == explanation.finding_id]
    if not explanation.cell:
        return []
    tab = _fold(explanation.sheet)
    return [str(f["finding_id"]) for f in rows
            if str(f.get("cell") or "").upper() == explanation.cell
            and (not tab or _fold(str(f.get("sheet") or "")) == tab)]
