"""Helpers that change a workbook the way commune staff do, with openpyxl (as Excel would)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from flows.config import load_config
from flows.consolidate import PlainSteps
from flows.core.findings import Finding, RenderedFinding, render
from flows.outputs.report import ReportFiles

# The tests' own config: a short form and six units (see tests/config/*.yaml).
TEST_CONFIG_DIR = Path(__file__).resolve().parent / "config"


@cache
def catalogue():
    """The catalogue of findings the tests read their words from (the test config's: the
    shipped templates/findings.yaml with the rules of tests/config/rules.yaml)."""
    return load_config(TEST_CONFIG_DIR).catalogue


def words(issue):
    """The catalogue's words (severity, message, instruction…) for one issue or finding."""
    return catalogue().render(issue.rule, issue.params)


def rendered(findings, rules=None):
    """Findings with their words, as every output shows them (`rules`: a rule set of the
    test's own, whose rules become codes of the catalogue)."""
    words_of = catalogue()
    if rules is not None:
        problems: list[str] = []
        words_of = words_of.with_rules(rules.rules, problems)
        assert not problems, problems
    return render(findings, words_of)


def with_words(extraction):
    """An extraction whose findings carry their words (severity, message, instruction)."""
    return replace(extraction, findings=rendered(extraction.findings))


def set_cells(path: Path, sheet: str, cells: dict[str, object]) -> None:
    """Type values into cells of one tab (by the tab's current title)."""
    wb = load_workbook(path)
    ws = wb[sheet]
    for cell, value in cells.items():
        ws[cell] = value
    wb.save(path)


def insert_rows(path: Path, sheet: str, before: int, amount: int = 1) -> None:
    """Insert blank rows the way Excel does: cells and merged areas below move down."""
    wb = load_workbook(path)
    ws = wb[sheet]
    moved = [r for r in ws.merged_cells.ranges if r.min_row >= before]
    for merged in moved:
        ws.merged_cells.remove(merged)
    ws.insert_rows(before, amount)
    for merged in moved:
        merged.shift(0, amount)
        ws.merged_cells.add(merged)
    wb.save(path)


def delete_rows(path: Path, sheet: str, first: int, amount: int = 1) -> None:
    wb = load_workbook(path)
    ws = wb[sheet]
    ws.merged_cells.ranges = {r for r in ws.merged_cells.ranges if r.max_row < first}
    ws.delete_rows(first, amount)
    wb.save(path)


def reorder_and_rename(path: Path, renames: dict[str, str] | None = None) -> None:
    """Reverse the order of the tabs and rename some, as staff do."""
    wb = load_workbook(path)
    wb._sheets.reverse()
    for old, new in (renames or {}).items():
        wb[old].title = new
    wb.save(path)


def add_tab(path: Path, title: str, cells: dict[str, object]) -> None:
    wb = load_workbook(path)
    ws = wb.create_sheet(title, 0)
    for cell, value in cells.items():
        ws[cell] = value
    wb.save(path)


def remove_tab(path: Path, title: str) -> None:
    wb = load_workbook(path)
    del wb[title]
    wb.save(path)


def read_back(out: Path) -> dict[tuple[str, str], str]:
    """(unit, key) → value from a run's values.csv and lists.csv, as the cell map keys them."""
    values = pd.read_csv(out / "values.csv", dtype=str, keep_default_na=False)
    lists = pd.read_csv(out / "lists.csv", dtype=str, keep_default_na=False)
    got = {(r.unit_code, f"{r.indicator}|{r.breakdown}|{r.year}"): r.value
           for r in values.itertuples()}
    got.update({(r.unit_code, f"{r.list}|{r.row},{r.column}|"): r.value
                for r in lists.itertuples()})
    return got


def worded(rule: str, severity: str, message: str, instruction: str = "", *,
           category: str = "reading", **where) -> RenderedFinding:
    """A finding with words written by the test itself (for writers and reminders)."""
    finding = Finding(rule, **where)
    fields = {k: v for k, v in where.items() if k != "key"}
    return RenderedFinding(finding.finding_id, rule, severity, category, rule, message,
                           instruction, **fields)


def stored_texts(*folders: Path) -> dict[str, str]:
    """Everything written under these folders, as text, one entry per place: each file's bytes
    (any encoding we write: UTF-8, its XML entities resolved), each member of a zip (.xlsx,
    .docx) and each row of each table of a SQLite file, so that a test can look for a text in
    all of them."""
    import html
    import sqlite3
    import unicodedata
    import zipfile
    from contextlib import closing

    def readable(data: bytes) -> str:
        text = html.unescape(data.decode("utf-8", errors="replace"))
        return unicodedata.normalize("NFC", text)

    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            data = path.read_bytes()
            found[str(path)] = readable(data)
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        found[f"{path}!{member}"] = readable(archive.read(member))
            if data[:16] == b"SQLite format 3\x00":
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                    tables = [r[0] for r in db.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'")]
                    for table in tables:
                        rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                        found[f"{path}#{table}"] = unicodedata.normalize(
                            "NFC", "\n".join(repr(row) for row in rows))
    return found


class NoReport(PlainSteps):
    """A run's steps without Prefect and without the Word report, for stories that never read
    it (the report's own tests render it): the nights then cost their checks, not the docx."""

    def report(self, result, config, layout, target, as_of, final, pdf):
        return ReportFiles(docx=target / "bao-cao.docx", html=target / "report.html",
                           xlsx=target / "phu-luc.xlsx", charts=(), pdf=None, as_of=as_of)
