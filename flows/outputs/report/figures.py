"""The consolidated values as unit × (indicator, breakdown, year) matrices, and honest totals.

A total always carries how many units it covers: a unit with a blank cell (or no workbook at
all) is left out of the sum and counted as missing, never silently taken as 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from flows.config import NUMERIC_TYPES, Block, Config, Form, Item, Tab, nfc
from flows.config.privacy import SmallCounts
from flows.core.consolidate import Consolidated
from flows.core.layout import make_key
from flows.core.suppression import SMALL, TOWN, linear_relations, protect


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
    # The published (protected) version: what a unit's cell or a town total shows instead of
    # its number ("<5", "x"; see `protected`). Empty: the exact, internal version.
    marks: dict[tuple[str, str], str] = field(default_factory=dict)  # (unit, key) → mark
    total_marks: dict[str, str] = field(default_factory=dict)  # key → mark of a town total
    protected_keys: frozenset[str] = frozenset()  # keys with a unit's cell marked
    small_counts: SmallCounts | None = None  # set in the published version
    unresolved: tuple[tuple[str, str], ...] = ()

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

    @cached_property
    def _totals(self) -> tuple[dict[str, float], dict[str, int]]:
        """Every key's sum and count at once: the report asks for thousands of totals."""
        return self.numbers.sum().to_dict(), self.numbers.notna().sum().to_dict()

    def total(self, key: str) -> tuple[float | None, int]:
        """(sum over the units that have a value — None if none has, how many have one)."""
        sums, counts = self._totals
        count = int(counts.get(key, 0))
        return (float(sums[key]) if count else None), count

    # ------------------------------------------------------------------ the published version

    @property
    def published(self) -> bool:
        return self.small_counts is not None

    def mark(self, code: str, key: str) -> str:
        """What the published tables show for a unit's value instead of its number; ""
        when the number is shown."""
        return self.marks.get((code, key), "")

    def total_mark(self, key: str) -> str:
        """What the published tables show for the town total of `key`; "" when shown."""
        return self.total_marks.get(key, "")

    def covers_marked(self, key: str) -> bool:
        """Some unit's value of `key` is not shown: a sum of the shown cells is not its total."""
        return key in self.protected_keys

    def series_marked(self, key: str) -> bool:
        """Some unit's value of `key` is not shown, or its total."""
        return key in self.protected_keys or key in self.total_marks

    def protected(self, config: Config) -> Figures:
        """The version the office distributes: every unit's count of a sensitive indicator
        (form.yaml `sensitive: true`) from 1 to the threshold marked `shown_as`, and the cells
        `flows.core.suppression` hides so that none of those can be worked out marked
        `hidden_as` (privacy.yaml: `small_counts`)."""
        small = config.privacy.small_counts if config.privacy else SmallCounts()
        sensitive = {item.code for item in config.form.items() if item.sensitive}
        if not sensitive or self.numbers.empty:
            return replace(self, small_counts=small)
        protection = protect(self.numbers, sensitive, linear_relations(config.rules, sensitive),
                             small.threshold)
        marks, totals = {}, {}
        for (unit, key), state in protection.states().items():
            mark = small.shown_as if state == SMALL else small.hidden_as
            if unit == TOWN:
                totals[key] = mark
            else:
                marks[(unit, key)] = mark
        return replace(self, marks=marks, total_marks=totals,
                       protected_keys=frozenset(key for _, key in marks), small_counts=small,
                       unresolved=protection.unresolved)


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
