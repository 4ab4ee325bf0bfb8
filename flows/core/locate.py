"""Where a value sits in its workbook now, for findings computed on the wide matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flows.core.index import ValueIndex, key_positions
from flows.core.layout import Layout

REQUEST_COLUMNS = ["unit_code", "indicator", "breakdown", "year"]


class Locator:
    """Looks up (sheet, cell) for many values at once, by integer search, not a loop."""

    def __init__(self, values: pd.DataFrame, layout: Layout, index: ValueIndex | None = None):
        self.values = values
        self.layout = layout
        self.index = index or ValueIndex(values, layout)

    def locate(self, requests: pd.DataFrame) -> pd.DataFrame:
        """`requests` (unit_code, indicator, breakdown, year) + columns `sheet` and `cell`.

        A value that is blank in the workbook gets the cell of a pristine template, which is
        where the commune will find it unless it inserted rows above it.
        """
        wanted = requests[REQUEST_COLUMNS].copy()
        wanted["year"] = wanted["year"].astype("Int64")
        wanted["breakdown"] = wanted["breakdown"].fillna("")
        if wanted.empty:
            return wanted.assign(sheet=pd.Series(dtype=object), cell=pd.Series(dtype=object))
        positions = key_positions(wanted, self.layout)
        units = self.index.unit_codes.get_indexer(wanted["unit_code"])
        rows = self.index.rows_of(units, positions) if len(self.values) else \
            np.full(len(wanted), -1)
        inputs = self.layout.inputs
        pristine_sheet = [inputs[p].sheet if p >= 0 else "" for p in positions]
        pristine_cell = [inputs[p].cell if p >= 0 else "" for p in positions]
        found = rows >= 0
        sheet = np.array(pristine_sheet, dtype=object)
        cell = np.array(pristine_cell, dtype=object)
        if found.any():
            sheet[found] = self.values["sheet"].to_numpy()[rows[found]]
            cell[found] = self.values["cell"].to_numpy()[rows[found]]
        wanted["sheet"], wanted["cell"] = sheet, cell
        wanted.index = requests.index
        return wanted
