"""Read one workbook's grids into a tidy table of values, by key, with findings for problems.

Pure: takes a `RawWorkbook` (grids of Python values) and the layout, returns data. Works the
same for .xlsx files and Google Sheets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

import pandas as pd

from flows.config.base import nfc
from flows.config.units import Unit
from flows.core.a1 import a1, column_letter
from flows.core.cells import parse_cell, show, strip_accents
from flows.core.findings import Finding, Reason
from flows.core.inputs import RawSheet, RawWorkbook
from flows.core.layout import (
    COLUMNS_KEY,
    HEADING_KEY,
    INSTRUCTIONS_TAB,
    KEY_COLUMN,
    LABEL_COLUMN,
    InputCell,
    Layout,
    parse_marker_version,
)
from flows.core.results_tab import Explanation, read_explanations

VALUE_COLUMNS = ["unit_code", "indicator", "breakdown", "year", "value", "sheet", "cell"]
LIST_COLUMNS = ["unit_code", "list", "row", "column", "value", "sheet", "cell"]
MARKER_SEARCH = 3  # the marker may have moved if a commune inserted a row or column at the top


@dataclass
class Seen:
    """A keyed cell found in the workbook: where it is now and what it holds."""

    spec: InputCell
    raw: object
    sheet: str
    cell: str


@dataclass
class Extraction:
    """Everything read from one workbook."""

    source: str
    unit_code: str | None = None
    values: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VALUE_COLUMNS))
    lists: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LIST_COLUMNS))
    findings: list[Finding] = field(default_factory=list)
    modified: datetime | None = None
    link: str | None = None
    ours: bool = False
    unreachable: Reason | None = None  # the live workbook failed; values are a snapshot
    name_hint: str | None = None  # the unit its file name starts with (P01-….xlsx), if any
    unreadable: bool = False  # the unit's workbook could not be opened at all (no values)
    read_at: datetime | None = None
    # key → (sheet, cell) of the input cells read without a usable value (blank or bad):
    # where the commune must type, even after inserting rows
    empty_cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the commune's answers to its findings, typed in its results tab (flows.core.results_tab)
    explanations: list[Explanation] = field(default_factory=list)
    editor: str = ""  # who edited the workbook last, where the source says


def _find_marker(sheet: RawSheet) -> tuple[str, str, int, int | None] | None:
    """(form id, tab id, column of the keys, form version) of one of our tabs."""
    for row in sheet.rows[:MARKER_SEARCH]:
        for col, value in enumerate(row[:MARKER_SEARCH]):
            found = parse_marker_version(value)
            if found:
                return found[0], found[1], col, found[2]
    return None


def _heading_rows(rows: list[list[object]], r: int, key_col: int) -> tuple[int, int]:
    """The two nearest heading rows (key ``#h``) above row `r`; -1 where there is none."""
    found: list[int] = []
    for above in range(r - 1, -1, -1):
        row = rows[above]
        key = _key_text(row[key_col]) if key_col < len(row) else None
        if key == HEADING_KEY:
            found.append(above)
            if len(found) == 2:
                break
        elif key is not None:  # another table's row: no more headings of this one
            break
    found += [-1] * (2 - len(found))
    return found[1], found[0]


def _cell(rows: list[list[object]], r: int, c: int) -> str:
    if r < 0 or r >= len(rows) or c >= len(rows[r]) or rows[r][c] in (None, ""):
        return ""
    return show(rows[r][c])


@lru_cache(maxsize=8192)
def _norm(text: str) -> str:
    return " ".join(nfc(text).casefold().split())


def _same_text(found: object, wanted: str) -> bool:
    """Labels compare in NFC, ignoring case and runs of spaces (a retyped label still matches).
    Every workbook of a form repeats the same labels: the normal forms are cached."""
    if found is None:
        return _norm(wanted) == ""
    return _norm(found if isinstance(found, str) else show(found)) == _norm(wanted)


def _key_text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class _Reader:
    """Walks the tabs of one workbook, collecting keyed cells and structural findings."""

    def __init__(self, raw: RawWorkbook, layout: Layout):
        self.raw = raw
        self.layout = layout
        self.seen: dict[str, Seen] = {}
        self.refused: set[str] = set()  # keys whose row or column no longer matches its label
        self.other_forms: set[tuple[str, int | None]] = set()  # (form id, version) seen
        self.findings: list[Finding] = []
        self.cells_by_tab: dict[str, dict[tuple[str, str], InputCell]] = defaultdict(dict)
        for cell in layout.inputs:
            self.cells_by_tab[cell.tab][(cell.row_key, cell.col_key)] = cell

    def finding(self, rule: str, params: dict | None = None, **where) -> None:
        self.findings.append(Finding(rule, params or {}, source=self.raw.source, **where))

    def tabs(self) -> dict[str, RawSheet]:
        """Our tabs by tab id; extra tabs are ignored, duplicated tabs reported."""
        found: dict[str, RawSheet] = {}
        for sheet in self.raw.sheets:
            mark = _find_marker(sheet)
            if not mark:
                continue
            if mark[0] != self.layout.form_id or mark[3] != self.layout.version:
                self.other_forms.add((mark[0], mark[3]))
                continue
            tab_id = mark[1]
            if tab_id in found:
                self.finding("duplicate-tab", {"copy": sheet.title,
                                               "original": found[tab_id].title},
                             sheet=sheet.title, key=f"tab:{tab_id}:{sheet.title}")
                continue
            found[tab_id] = sheet
        return found

    def read_tab(self, tab_id: str, sheet: RawSheet) -> None:
        expected = self.cells_by_tab.get(tab_id, {})
        known_rows = {row_key for row_key, _ in expected}
        labels = self.layout.labels.get(tab_id, {})
        headers = self.layout.headers.get(tab_id, [])
        mark = _find_marker(sheet)
        key_col = mark[2] if mark else 0
        columns: dict[int, str] = {}
        rows_seen: dict[str, str] = {}
        tables = 0
        for r, row in enumerate(sheet.rows):
            key = _key_text(row[key_col]) if key_col < len(row) else None
            if key == HEADING_KEY:
                columns = {}
            elif key == COLUMNS_KEY:
                columns = {c: k for c, v in enumerate(row) if c != key_col and (k := _key_text(v))}
                if tables < len(headers):
                    above = _heading_rows(sheet.rows, r, key_col)
                    columns = self.check_headers(tab_id, sheet, above, columns, headers[tables])
                tables += 1
            elif key in known_rows:
                if key in rows_seen:
                    self.finding("duplicate-row", {"row": r + 1, "original_row": rows_seen[key]},
                                 sheet=sheet.title, cell=a1(r + 1, 2), key=f"dup:{tab_id}:{key}")
                    continue
                rows_seen[key] = str(r + 1)
                label_col = key_col + LABEL_COLUMN - KEY_COLUMN
                if key in labels and not self.label_matches(
                        row, label_col, labels[key], sheet, r, tab_id, key):
                    self.refused.update(spec.key for (row_key, _), spec in expected.items()
                                        if row_key == key)
                    continue
                for c, col_key in columns.items():
                    spec = expected.get((key, col_key))
                    if spec is not None:
                        raw = row[c] if c < len(row) else None
                        self.seen[spec.key] = Seen(spec, raw, sheet.title, a1(r + 1, c + 1))
            elif key is None and columns:
                typed = [(c, row[c]) for c in columns if c < len(row) and row[c] not in (None, "")]
                if typed:
                    c, value = typed[0]
                    self.finding("outside-input", {"typed": show(value), "row": r + 1},
                                 sheet=sheet.title, cell=a1(r + 1, c + 1), value=show(value),
                                 key=f"outside:{tab_id}:{show(value)}")

    def label_matches(self, row: list, col: int, wanted: str, sheet: RawSheet, r: int,
                      tab_id: str, key: str) -> bool:
        """The row's visible label is still its key's: rows swapped by cut-and-paste while the
        hidden keys stayed would put every value under the wrong indicator."""
        found = row[col] if col < len(row) else None
        if _same_text(found, wanted):
            return True
        self.finding("label-mismatch", {"row": r + 1, "found": show(found) if found else "",
                                        "expected": wanted},
                     sheet=sheet.title, cell=a1(r + 1, col + 1), key=f"label:{tab_id}:{key}")
        return False

    def check_headers(self, tab_id: str, sheet: RawSheet, above: tuple[int, int],
                      columns: dict[int, str], wanted: dict[str, tuple[str, ...]]
                      ) -> dict[int, str]:
        """The columns whose visible headers are still their keys' (the others are refused).

        `above`: the two heading rows over the hidden column-key row (rows a commune inserted
        in between are skipped)."""
        kept = {}
        for c, col_key in columns.items():
            texts = tuple(_cell(sheet.rows, row, c) for row in above)
            expected = wanted.get(col_key)
            if expected is None or all(_same_text(a, b) for a, b in zip(texts, expected,
                                                                          strict=True)):
                kept[c] = col_key
                continue
            shown = " ".join(t for t in texts if t) or "(trống)"
            self.finding("header-mismatch", {"column": column_letter(c + 1), "found": shown,
                                             "expected": " ".join(t for t in expected if t)},
                         sheet=sheet.title, cell=a1(above[1] + 1, c + 1),
                         key=f"header:{tab_id}:{col_key}")
            self.refused.update(spec.key for (_, k), spec in self.cells_by_tab[tab_id].items()
                                if k == col_key)
        return kept

    def report_missing(self, tabs: dict[str, RawSheet]) -> None:
        for sheet_layout in self.layout.sheets:
            tab_id = sheet_layout.tab
            if tab_id == INSTRUCTIONS_TAB:
                continue
            if tab_id not in tabs:
                self.finding("missing-tab", {"title": sheet_layout.title},
                             sheet=sheet_layout.title, key=f"tab:{tab_id}")
                continue
            missing = [c for c in self.cells_by_tab[tab_id].values()
                       if c.key not in self.seen and c.key not in self.refused]
            by_row: dict[str, list[InputCell]] = defaultdict(list)
            for cell in missing:
                by_row[cell.row_key].append(cell)
            for row_key, cells in by_row.items():
                first = cells[0]
                category = row_key.split("|", 1)[1] if "|" in row_key else ""
                self.finding("missing-row", {"count": len(cells), "indicator": first.indicator,
                                             "category": category},
                             sheet=tabs[tab_id].title, indicator=first.indicator,
                             breakdown=category, key=f"missing:{tab_id}:{row_key}")


def _unit_of(reader: _Reader, units: dict[str, Unit]) -> str | None:
    """The unit the workbook claims, from its unit-code cell; None with a finding if unclear.

    A workbook a registry assigns to a unit (Google Sheets) belongs to that unit; a code cell
    saying otherwise is reported, not followed.
    """
    code_cell = reader.layout.role("unit_code")
    seen = reader.seen.get(code_cell.key)
    code = nfc(show(seen.raw)).strip().upper() if seen and seen.raw not in (None, "") else ""
    where = dict(sheet=seen.sheet if seen else code_cell.sheet,
                 cell=seen.cell if seen else code_cell.cell)
    known = {c.upper(): c for c in units}
    hint = reader.raw.unit_hint
    if hint in units:
        if code != hint.upper():
            reader.finding("unit-code-mismatch",
                           {"typed": code, "unit": units[hint].full_name, "code": hint},
                           value=code, key="unit-code", **where)
        return hint
    name_cell = reader.seen.get(reader.layout.role("unit_name").key)
    if code in known:
        return _name_agrees(reader, units[known[code]], units, name_cell)
    name_cell = reader.seen.get(reader.layout.role("unit_name").key)
    typed = nfc(show(name_cell.raw)).casefold() if name_cell and name_cell.raw else ""
    guess = [u for u in units.values() if typed and nfc(u.name).casefold() in typed]
    if len(guess) != 1:  # typed without accents: "Huong Van" (and Văn / Vân then tie)
        loose = strip_accents(typed)
        guess = [u for u in units.values() if loose and strip_accents(u.name).casefold() in loose]
    suggestion = {"typed_name": show(name_cell.raw) if name_cell else "",
                  "guess": guess[0].full_name if len(guess) == 1 and name_cell else "",
                  "guess_code": guess[0].code if len(guess) == 1 and name_cell else ""}
    if not code:
        reader.finding("unit-code-missing", suggestion, value="", key="unit-code", **where)
    else:
        reader.finding("unit-code-unknown", {"typed": code, **suggestion}, value=code,
                       key="unit-code", **where)
    return None


def _name_agrees(reader: _Reader, unit: Unit, units: dict[str, Unit],
                 name_cell: Seen | None) -> str | None:
    """The unit, unless the unit-name cell names another unit (then None, with an error): a
    copy of another commune's workbook whose code was changed must not pass as this unit's."""
    if name_cell is None or name_cell.raw in (None, ""):
        return unit.code
    typed = " ".join(nfc(show(name_cell.raw)).casefold().split())
    if nfc(unit.name).casefold() in typed:
        return unit.code
    others = [u for u in units.values() if u.code != unit.code
              and nfc(u.name).casefold() in typed]
    if len(others) != 1:
        return unit.code
    reader.finding("unit-name-mismatch", {"typed": show(name_cell.raw), "code": unit.code,
                                          "unit": unit.full_name, "other": others[0].full_name,
                                          "other_code": others[0].code},
                   value=show(name_cell.raw), sheet=name_cell.sheet, cell=name_cell.cell,
                   key="unit-name")
    return None


def _tables(reader: _Reader, unit_code: str, unit_name: str, empty: dict[str, tuple[str, str]]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    values, lists = [], []
    for key, seen in reader.seen.items():
        spec = seen.spec
        parsed = parse_cell(seen.raw, spec.type, spec.choices)
        for problem in parsed.problems:
            reader.finding(problem.rule, dict(problem.params), unit_code=unit_code,
                           unit_name=unit_name, sheet=seen.sheet, cell=seen.cell,
                           indicator=spec.indicator, breakdown=spec.breakdown, year=spec.year,
                           value=show(seen.raw), key=key)
        if parsed.value is None:
            empty[key] = (seen.sheet, seen.cell)
            continue
        if spec.list_row is not None:
            lists.append((unit_code, spec.indicator, spec.list_row, spec.list_column,
                          parsed.value, seen.sheet, seen.cell))
        else:
            values.append((unit_code, spec.indicator, spec.breakdown, spec.year, parsed.value,
                           seen.sheet, seen.cell))
    frame = pd.DataFrame(values, columns=VALUE_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame, pd.DataFrame(lists, columns=LIST_COLUMNS)


def extract_workbook(raw: RawWorkbook, layout: Layout, units: dict[str, Unit]) -> Extraction:
    """Read one workbook into tidy values and list rows, with a finding for every problem."""
    result = Extraction(source=raw.source, modified=raw.modified, link=raw.link,
                        unreachable=raw.unreachable, read_at=raw.read_at,
                        name_hint=raw.name_hint)
    reader = _Reader(raw, layout)
    if raw.refused is not None:
        result.findings = [raw.refused]
        return result
    reader.findings.extend(raw.problems)
    if raw.unreachable:
        reader.finding("unreachable", {"source": raw.source, "reason": raw.unreachable,
                                       "read_at": raw.read_at}, key="unreachable")
    if raw.error:
        hint = raw.unit_hint if raw.unit_hint in units else raw.name_hint
        unit = units.get(hint) if hint else None
        reader.finding("unreadable-file", {"source": raw.source, "reason": raw.error},
                       key="file", unit_code=unit.code if unit else "",
                       unit_name=unit.full_name if unit else "")
        if unit is not None:  # the registry or the file name says whose it is: it stays there
            result.unit_code, result.unreadable = unit.code, True
        result.findings = reader.findings
        return result
    tabs = reader.tabs()
    if not tabs and reader.other_forms:  # ours, but another form or an older version of it
        form_id, version = sorted(reader.other_forms, key=str)[0]
        rule = "form-version-mismatch" if form_id == layout.form_id else "other-form"
        reader.finding(rule, {"source": raw.source, "form": form_id, "version": version,
                              "expected_form": layout.form_id,
                              "expected_version": layout.version}, key="file")
        result.findings = reader.findings
        return result
    if not tabs:
        reader.finding("unknown-workbook", {"source": raw.source}, key="file")
        result.findings = reader.findings
        return result
    result.ours = True
    for tab_id, sheet in tabs.items():
        reader.read_tab(tab_id, sheet)
    unit_code = _unit_of(reader, units)
    if unit_code is None:
        result.findings = reader.findings
        return result
    reader.report_missing(tabs)
    unit = units[unit_code]
    result.unit_code = unit_code
    result.values, result.lists = _tables(reader, unit_code, unit.full_name,
                                          result.empty_cells)
    ours = {id(sheet) for sheet in tabs.values()}
    result.explanations = read_explanations(
        (s.title, s.rows) for s in raw.sheets if id(s) not in ours)
    result.editor = raw.editor
    result.findings = [
        f if f.unit_code else _with_unit(f, unit_code, unit.full_name) for f in reader.findings
    ]
    return result


def _with_unit(finding: Finding, code: str, name: str) -> Finding:
    return replace(finding, unit_code=code, unit_name=name)
