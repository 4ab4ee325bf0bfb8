"""Completeness per unit and per section: required cells filled / required cells.

A typed 0 is an answer and counts as filled; a blank (or a cell whose content could not be
read) is missing. Zeros are also counted on their own, as the WHO data-quality review does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flows.config.form import NUMERIC_TYPES
from flows.core.findings import Finding
from flows.core.index import ValueIndex
from flows.core.layout import InputCell, Layout

PREFILLED_ROLES = ("unit_code", "unit_name")
CONTACT_ROLES = ("reporter", "position", "phone")
# The kinds of blank cells, in the order the instruction names them: what a commune writes in
# a number cell ("0" when there is none) is not what it writes in a text or a dropdown cell.
KINDS = ("number", "text", "contact", "choice", "date")


def cell_kind(cell: InputCell) -> str:
    """What is written in an input cell: number, text, contact (the reporter's name, position,
    phone), choice (yes/no or a dropdown) or date."""
    if cell.type in NUMERIC_TYPES:
        return "number"
    if cell.type in ("yesno", "choice"):
        return "choice"
    if cell.type == "date":
        return "date"
    return "contact" if cell.role in CONTACT_ROLES else "text"


def _required_arrays(layout: Layout) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per input cell (plus a trailing 'unknown'): is it required, and its section number."""
    sections = list(dict.fromkeys(c.tab for c in layout.inputs))
    required = np.array([c.required and c.list_row is None for c in layout.inputs] + [False])
    section = np.array([sections.index(c.tab) for c in layout.inputs] + [0])
    return required, section, sections


def completeness(values: pd.DataFrame, layout: Layout, unit_codes: list[str],
                 index: ValueIndex | None = None) -> pd.DataFrame:
    """Per unit: required_filled, required_total, completeness (%), completeness_<section> (%),
    zero_values (typed zeros among required cells) and started (anything typed beyond the
    prefilled name and code)."""
    index = index or ValueIndex(values, layout)
    required, section, sections = _required_arrays(layout)
    totals = np.bincount(section[:-1][required[:-1]], minlength=len(sections))
    n_units, n_sections = len(unit_codes), len(sections)
    per_section = np.zeros((n_units, n_sections), dtype=np.int64)
    zeros = np.zeros(n_units, dtype=np.int64)
    started = np.zeros(n_units, dtype=bool)
    if len(values):
        pos, unit = index.pos, index.unit_positions(unit_codes)
        mask = required[pos] & (unit >= 0)
        per_section = np.bincount(unit[mask] * n_sections + section[pos[mask]],
                                  minlength=n_units * n_sections).reshape(n_units, n_sections)
        zero = mask & (index.numbers == 0)
        zeros = np.bincount(unit[zero], minlength=n_units)
        prefilled = np.array([c.role in PREFILLED_ROLES for c in layout.inputs] + [False])
        typed = (unit >= 0) & (pos >= 0) & ~prefilled[pos]
        started[np.unique(unit[typed])] = True
    frame = pd.DataFrame({"unit_code": unit_codes})
    frame["required_filled"] = per_section.sum(axis=1)
    frame["required_total"] = int(totals.sum())
    frame["completeness"] = (100 * frame["required_filled"] / max(int(totals.sum()), 1)).round(1)
    for j, name in enumerate(sections):
        frame[f"completeness_{name}"] = (100 * per_section[:, j] / max(totals[j], 1)).round(1)
    frame["zero_values"] = zeros
    frame["started"] = started
    return frame


def missing_findings(values: pd.DataFrame, layout: Layout, status: pd.DataFrame,
                     unit_names: dict[str, str], index: ValueIndex | None = None,
                     shown: int = 12,
                     where: dict[str, dict[str, tuple[str, str]]] | None = None
                     ) -> list[Finding]:
    """For each started unit, one finding per tab listing the required cells still blank.

    One per tab, not one per cell: a commune half-way through has dozens of blanks, and the
    clerk needs the list, not dozens of lines. Units not started get the timeliness finding.
    `kinds` (number, text, contact, choice, date: `cell_kind`) lets the instruction say what to
    write: a 0 only in number cells.
    `where` (unit → key → (sheet, cell)) gives the cells where the reader found them, which
    differ from the template's when the commune inserted rows or renamed a tab.
    """
    index = index or ValueIndex(values, layout)
    required, section, sections = _required_arrays(layout)
    gaps = status[status["started"] & (status["required_filled"] < status["required_total"])]
    if gaps.empty:
        return []
    codes = list(gaps["unit_code"])
    filled = np.zeros((len(codes), len(layout.inputs) + 1), dtype=bool)
    unit = index.unit_positions(codes)
    mine = unit >= 0
    filled[unit[mine], index.pos[mine]] = True
    inputs = layout.inputs
    findings = []
    for i, code in enumerate(codes):
        blank = np.flatnonzero(required[:-1] & ~filled[i, :-1])
        seen = (where or {}).get(code, {})
        for j, name in enumerate(sections):
            here = [p for p in blank if section[p] == j]
            cells = [seen.get(inputs[p].key, (inputs[p].sheet, inputs[p].cell)) for p in here]
            if not cells:
                continue
            first = inputs[here[0]]
            kinds = {cell_kind(inputs[p]) for p in here}
            findings.append(Finding(
                "missing-required", {"count": len(cells), "sheet": cells[0][0],
                                     "cells": [cell for _, cell in cells[:shown]],
                                     "more": len(cells) > shown,
                                     "kinds": [k for k in KINDS if k in kinds]},
                unit_code=code, unit_name=unit_names.get(code, ""), sheet=cells[0][0],
                cell=cells[0][1], indicator=first.indicator, value=str(len(cells)),
                key=f"missing-required|{name}"))
    return findings
