"""The consolidated values as unit × (indicator, breakdown, year) matrices, and honest totals.

A total always carries how many units it covers: a unit with a blank cell (or no workbook at
all) is left out of the sum and counted as missing, never silently taken as 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from flows.config import NUMERIC_TYPES, Block, Config, Form, Item, Tab, nfc
from flows.core.consolidate import Consolidated
from flows.core.layout import make_key


def form_items(form: Form) -> Iterator[tuple[Tab, Block, Item]]:
    for tab in form.tabs:
        for block in tab.blocks:
            for item in block.items:
                yield tab, block, item


def total_code(form: Form, dimension: str | None) -> str:
    """The category code of a dimension's "total" row or column ("" without a dimension)."""
    if not dimension:
        return ""
    return next((c.code for c in form.dimensions[dimension].categories if c.total), "")


def join_breakdown(row: str, col: str) -> str:
    return ",".join(part for part in (row, col) if part)


def headline(form: Form, block: Block, item: Item) -> str | None:
    """The breakdown holding an indicator's overall figure (total row × total column), or None
    when a dimension has no total category."""
    row = total_code(form, item.rows)
    col = total_code(form, block.columns)
    if (item.rows and not row) or (block.columns and not col):
        return None
    return join_breakdown(row, col)


def _year(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


@dataclass
class Figures:
    """Unit × value matrices for one consolidation, rows in the order of the unit registry."""

    codes: list[str]
    names: dict[str, str]
    numbers: pd.DataFrame  # float, NaN where blank; columns are value keys (make_key)
    texts: pd.DataFrame  # str, "" where blank (yes/no, choice and text items)
    years: list[int]
    partial_year: int | None  # the year counted only up to the end of the reporting period
    period_end: date

    @property
    def expected(self) -> int:
        return len(self.codes)

    @classmethod
    def build(cls, result: Consolidated, config: Config) -> Figures:
        status = result.status
        codes = [str(c) for c in status["unit_code"]]
        names = dict(zip(codes, (nfc(str(n)) for n in status["unit_name"]), strict=True))
        values = result.values[result.values["unit_code"].isin(codes)]
        types = {item.code: item.type for item in config.form.items()}
        is_number = values["indicator"].map(types).isin(NUMERIC_TYPES)
        numbers = _matrix(values[is_number], codes, numeric=True)
        texts = _matrix(values[~is_number], codes, numeric=False)
        end = config.plan.reporting_period.end
        partial = end.year if end < date(end.year, 12, 31) and end.year in config.form.years \
            else None
        return cls(codes, names, numbers, texts, list(config.form.years), partial, end)

    def number_series(self, key: str) -> pd.Series:
        if key in self.numbers.columns:
            return self.numbers[key]
        return pd.Series(np.nan, index=self.codes, dtype=float)

    def text_series(self, key: str) -> pd.Series:
        if key in self.texts.columns:
            return self.texts[key]
        return pd.Series("", index=self.codes, dtype=object)

    def total(self, key: str) -> tuple[float | None, int]:
        """(sum over the units that have a value — None if none has, how many have one)."""
        series = self.number_series(key)
        count = int(series.notna().sum())
        return (float(series.sum()) if count else None), count


def _matrix(values: pd.DataFrame, codes: list[str], numeric: bool) -> pd.DataFrame:
    """Tidy values → one row per unit, one column per value key
    (`make_key(indicator, breakdown, year)`)."""
    if values.empty:
        return pd.DataFrame(index=codes)
    frame = values[["unit_code", "indicator", "breakdown", "year", "value"]].copy()
    if numeric:
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
        frame = frame[frame["value"].notna()]
    else:
        frame["value"] = frame["value"].map(lambda v: "" if v is None or pd.isna(v)
                                            else nfc(str(v)).strip())
    frame["breakdown"] = frame["breakdown"].fillna("").astype(str)
    frame["key"] = [make_key(i, b, _year(y)) for i, b, y in
                    zip(frame["indicator"], frame["breakdown"], frame["year"], strict=True)]
    frame = frame.drop_duplicates(["unit_code", "key"], keep="first")
    wide = frame.pivot(index="unit_code", columns="key", values="value").reindex(codes)
    if numeric:
        return wide.astype(float)
    return wide.fillna("")
