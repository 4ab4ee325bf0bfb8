"""Completeness per unit and per section: required cells filled / required cells.

A typed 0 is an answer and counts as filled; a blank (or a cell whose content could not be
read) is missing. Zeros are also counted on their own, as the WHO data-quality review does.
"""

from __future__ import annotations

import pandas as pd

from flows.layout import Layout

PREFILLED_ROLES = ("unit_code", "unit_name")


def required_cells(layout: Layout) -> pd.DataFrame:
    """The required scalar inputs of the form: indicator, breakdown, year and section (tab)."""
    cells = [c for c in layout.inputs if c.required and c.list_row is None]
    return pd.DataFrame({
        "indicator": [c.indicator for c in cells],
        "breakdown": [c.breakdown for c in cells],
        "year": pd.array([c.year for c in cells], dtype="Int64"),
        "section": [c.tab for c in cells],
    })


def completeness(values: pd.DataFrame, layout: Layout, unit_codes: list[str]) -> pd.DataFrame:
    """Per unit: required_filled, required_total, completeness (%), completeness_<section> (%),
    zero_values (typed zeros among required cells) and started (anything typed beyond the
    prefilled name and code)."""
    required = required_cells(layout)
    sections = list(dict.fromkeys(required["section"]))
    filled = values.merge(required, on=["indicator", "breakdown", "year"], how="inner")
    per_section = (filled.groupby(["unit_code", "section"]).size().unstack(fill_value=0)
                   .reindex(index=unit_codes, columns=sections, fill_value=0))
    totals = required.groupby("section").size().reindex(sections)
    frame = pd.DataFrame(index=pd.Index(unit_codes, name="unit_code"))
    frame["required_filled"] = per_section.sum(axis=1).astype(int)
    frame["required_total"] = len(required)
    frame["completeness"] = (100 * frame["required_filled"] / max(len(required), 1)).round(1)
    for section in sections:
        frame[f"completeness_{section}"] = (100 * per_section[section] / totals[section]).round(1)
    zero = filled[pd.to_numeric(filled["value"], errors="coerce") == 0]
    frame["zero_values"] = zero.groupby("unit_code").size().reindex(unit_codes, fill_value=0)
    prefilled = {layout.role(role).indicator for role in PREFILLED_ROLES}
    typed = values[~values["indicator"].isin(prefilled)]
    frame["started"] = frame.index.isin(typed["unit_code"].unique())
    return frame.reset_index()
