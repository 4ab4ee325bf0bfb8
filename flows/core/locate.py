"""Where a value sits in its workbook now, for findings computed on the wide matrix."""

from __future__ import annotations

import pandas as pd

from flows.layout import Layout

REQUEST_COLUMNS = ["unit_code", "indicator", "breakdown", "year"]


class Locator:
    """Looks up (sheet, cell) for many values at once, with a merge, not a loop."""

    def __init__(self, values: pd.DataFrame, layout: Layout):
        self.values = values
        self.layout = layout

    def locate(self, requests: pd.DataFrame) -> pd.DataFrame:
        """`requests` (unit_code, indicator, breakdown, year) + columns `sheet` and `cell`.

        A value that is blank in the workbook gets the cell of a pristine template, which is
        where the commune will find it unless it inserted rows above it.
        """
        wanted = requests[REQUEST_COLUMNS].copy()
        wanted["year"] = wanted["year"].astype("Int64")
        wanted["breakdown"] = wanted["breakdown"].fillna("")
        subset = self.values[self.values["unit_code"].isin(wanted["unit_code"].unique())]
        subset = subset[REQUEST_COLUMNS + ["sheet", "cell"]].drop_duplicates(REQUEST_COLUMNS)
        merged = wanted.merge(subset, on=REQUEST_COLUMNS, how="left")
        missing = merged["cell"].isna()
        if missing.any():
            by_key = self.layout.by_key
            keys = (merged.loc[missing, "indicator"] + "|" + merged.loc[missing, "breakdown"]
                    + "|" + merged.loc[missing, "year"].astype("string").fillna(""))
            spec = keys.map(lambda k: by_key.get(k))
            merged.loc[missing, "sheet"] = spec.map(lambda c: c.sheet if c else "")
            merged.loc[missing, "cell"] = spec.map(lambda c: c.cell if c else "")
        merged.index = requests.index
        return merged
