"""The final report's numbers: each approved unit's values as they stood when the office last
approved them, in place of its live ones (issue 12, "the final report uses approved data").

Pure: the audit store reads the approved values (`History.values_as_of`), the flow wires them;
here they only replace the unit's rows of the tidy table and say, per unit, which numbers the
run used (`numbers_used` of `status.csv`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from flows.config.form import NUMERIC_TYPES
from flows.core.audit import value_keys
from flows.core.consolidate import Consolidated, sorted_index
from flows.core.extract import VALUE_COLUMNS
from flows.core.layout import Layout

NUMBERS_COLUMN = "numbers_used"
APPROVED_NUMBERS, LIVE_NUMBERS = "numbers-approved", "numbers-live"  # the catalogue's texts


def typed(text: str, kind: str) -> object:
    """A value as the history stores it (canonical text) back as the reader gives it: whole
    numbers as int, other numbers as float; dates (ISO), choices and text stay text."""
    if kind in NUMERIC_TYPES:
        try:
            number = float(text)
        except ValueError:  # stored under an older form where the cell was not a number
            return text
        return int(number) if number.is_integer() else number
    return text


def with_approved_values(values: pd.DataFrame, approved: Mapping[str, pd.DataFrame],
                         layout: Layout) -> pd.DataFrame:
    """The tidy table with each unit of `approved` (unit → its approved `key`, `value` rows)
    holding exactly those values instead of its live ones, in unit then form order.

    Each value keeps the sheet and cell where the unit's workbook holds it now (the template's
    when the cell is blank tonight); keys the form no longer has are left out."""
    if not approved:
        return values
    cells = layout.by_key
    units = values["unit_code"].astype(str)
    mine = units.isin(set(approved))
    live = values[mine]
    where = dict(zip(zip(units[mine], value_keys(live), strict=True),
                     zip(live["sheet"], live["cell"], strict=True), strict=True))
    rows = []
    for unit, frame in approved.items():
        for key, text in zip(frame["key"], frame["value"], strict=True):
            spec = cells.get(str(key))
            if spec is None or spec.list_row is not None or text is None:
                continue
            sheet, cell = where.get((unit, str(key)), (spec.sheet, spec.cell))
            rows.append((unit, spec.indicator, spec.breakdown, spec.year,
                         typed(str(text), spec.type), sheet, cell))
    substituted = pd.DataFrame(rows, columns=VALUE_COLUMNS)
    substituted["year"] = substituted["year"].astype("Int64")
    parts = [frame for frame in (values[~mine], substituted) if not frame.empty]
    if not parts:
        return values.iloc[0:0]
    merged = pd.concat(parts, ignore_index=True)[VALUE_COLUMNS]
    return sorted_index(merged, layout).values.drop(columns="pos")


def with_numbers_used(status: pd.DataFrame, approved: Iterable[str],
                      catalogue: Any) -> pd.DataFrame:
    """`status.csv` with `numbers_used`: "số liệu đã duyệt" for the units whose approved values
    this run used, "số liệu hiện tại" for every other one."""
    used = set(approved)
    frame = status.copy()
    words = {True: catalogue.text(APPROVED_NUMBERS), False: catalogue.text(LIVE_NUMBERS)}
    frame[NUMBERS_COLUMN] = [words[str(u) in used] for u in frame["unit_code"]]
    return frame


def use_approved(result: Consolidated, approved: Mapping[str, pd.DataFrame | None],
                 layout: Layout, catalogue: Any) -> Consolidated:
    """The consolidation with the approved numbers of the units in `approved` (unit → its
    values at its last approval; None when no run had read the unit by then: its live numbers
    stay, and say so). Findings and status stay those of tonight's read."""
    codes = set(result.status["unit_code"].astype(str))
    used = {u: frame for u, frame in approved.items() if frame is not None and u in codes}
    return replace(result, values=with_approved_values(result.values, used, layout),
                   status=with_numbers_used(result.status, used, catalogue))
