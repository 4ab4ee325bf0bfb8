"""Integer positions for the tidy table, computed once per run so checks never join on strings.

Each value row gets `pos`, its input cell's position in `Layout.inputs`, and `unit`, its unit's
position in a sorted list of unit codes. With these, completeness, the wide matrix and cell
lookups are numpy indexing over millions of rows instead of string merges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from flows.core.layout import Layout


def key_positions(values: pd.DataFrame, layout: Layout) -> np.ndarray:
    """Position in `layout.inputs` of each row's (indicator, breakdown, year); -1 if unknown."""
    if values.empty:
        return np.empty(0, dtype=np.int64)
    parts = [pd.factorize(values[c].astype("object").where(values[c].notna(), ""))
             for c in ("indicator", "breakdown", "year")]
    combo = np.zeros(len(values), dtype=np.int64)
    for codes, uniques in parts:
        combo = combo * (len(uniques) + 1) + codes
    unique_combos, inverse = np.unique(combo, return_inverse=True)
    position = {cell.key: i for i, cell in enumerate(layout.inputs)}
    lookup = np.full(len(unique_combos), -1, dtype=np.int64)
    for j, value in enumerate(unique_combos):
        labels = []
        for _codes, uniques in reversed(parts):
            value, code = divmod(int(value), len(uniques) + 1)
            labels.append("" if code < 0 else str(uniques[code]))
        indicator, breakdown, year = reversed(labels)
        lookup[j] = position.get(f"{indicator}|{breakdown}|{year}", -1)
    return lookup[inverse]


@dataclass
class ValueIndex:
    """The tidy table with its integer positions; built once, shared by every check."""

    values: pd.DataFrame
    layout: Layout

    @cached_property
    def pos(self) -> np.ndarray:
        if "pos" in self.values.columns:
            return self.values["pos"].to_numpy(dtype=np.int64)
        return key_positions(self.values, self.layout)

    @cached_property
    def _units(self) -> tuple[np.ndarray, pd.Index]:
        codes, uniques = pd.factorize(self.values["unit_code"], sort=True)
        return codes, pd.Index(uniques)

    @property
    def unit(self) -> np.ndarray:
        return self._units[0]

    @property
    def unit_codes(self) -> pd.Index:
        return self._units[1]

    def unit_positions(self, codes: list[str]) -> np.ndarray:
        """For each value row, its unit's position in `codes` (-1 when not listed)."""
        return pd.Index(codes).get_indexer(self.unit_codes)[self.unit] if len(self.unit) else \
            np.empty(0, dtype=np.int64)

    @cached_property
    def numbers(self) -> np.ndarray:
        """The value column as floats (NaN for text, dates and choices)."""
        return pd.to_numeric(self.values["value"], errors="coerce").to_numpy(dtype=float)

    @cached_property
    def _sorted_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = self.unit * len(self.layout.inputs) + self.pos
        order = np.argsort(keys, kind="stable")
        return keys[order], order

    def rows_of(self, units: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Row numbers of the values at (unit position in `unit_codes`, input position); -1 if
        the value is not there (blank or unusable)."""
        keys, order = self._sorted_keys
        wanted = units * len(self.layout.inputs) + positions
        at = np.searchsorted(keys, wanted)
        at = np.minimum(at, max(len(keys) - 1, 0))
        hit = (len(keys) > 0) & (units >= 0) & (keys[at] == wanted) if len(keys) else \
            np.zeros(len(wanted), dtype=bool)
        return np.where(hit, order[at] if len(keys) else -1, -1)
