"""Outliers and consistency over time, in the WHO data-quality-review style. Warnings only.

* Over time: each value against the mean of the unit's own earlier years (up to
  `history_years`), flagged beyond ±`change_pct`% when the base and the change are both large
  enough to matter. Flows (counted over a year) are compared between whole years only; stocks
  (counts at a point in time) also in a partial last year.
* Across units: the Iglewicz–Hoaglin modified z-score 0.6745·(x − median)/MAD over the units'
  values for the same cell and year, flagged when |z| > `z_threshold`; the MAD is floored at
  `mad_floor_pct`% of the median, since with a handful of units it is itself unstable, and a
  difference smaller than `min_change` is never flagged. Not DHIS2's "modified
  z", which only swaps the mean for the median. Skipped with fewer than `min_units` values or a
  MAD of 0 (zero-inflated counts).

Both work on the whole (units × years × columns) array at once.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from flows.config.loader import Config
from flows.config.quality import Outliers
from flows.core.findings import Finding
from flows.core.locate import Locator
from flows.core.vnformat import auto
from flows.core.wide import Wide


def whole_years(config: Config) -> list[int]:
    """Years fully inside the reporting period (the last one is usually partial)."""
    end = config.plan.reporting_period.end
    return [y for y in config.form.years if (end.month, end.day) == (12, 31) or y < end.year]


def checked_columns(wide: Wide, config: Config, settings: Outliers) -> list[str]:
    """Headline totals only (breakdown empty or every part a total category), unless `all`."""
    totals = {c.code for d in config.form.dimensions.values() for c in d.categories if c.total}
    if settings.columns == "all":
        return list(wide.frame.columns)
    return [c for c in wide.frame.columns
            if all(part in totals for part in c.split("|", 1)[1].split(",") if part)]


def _cube(wide: Wide, columns: list[str]) -> np.ndarray:
    """(units, years, columns) float array."""
    n_years = len(wide.years)
    values = wide.frame[columns].to_numpy()
    return values.reshape(-1, n_years, len(columns))


def _eligible_years(wide: Wide, columns: list[str], config: Config) -> np.ndarray:
    """(years, columns) mask: which year of which column may be compared over time."""
    whole = set(whole_years(config))
    stock = np.array([config.form.item(c.split("|")[0]).measure == "stock" for c in columns])
    in_whole = np.array([y in whole for y in wide.years])
    return in_whole[:, None] | stock[None, :]


def time_outliers(wide: Wide, config: Config) -> pd.DataFrame:
    """Flags: unit_code, year, column, value, baseline, change_pct."""
    settings = config.quality.outliers
    columns = checked_columns(wide, config, settings)
    cube = _cube(wide, columns)
    eligible = _eligible_years(wide, columns, config)
    usable = np.where(eligible[None, :, :], cube, np.nan)
    rows = []
    for i in range(1, len(wide.years)):
        history = usable[:, max(0, i - settings.history_years):i, :]
        with _quiet():
            base = np.nanmean(history, axis=1)
        current = usable[:, i, :]
        change = current - base
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = 100 * change / base
        flag = ((np.abs(pct) > settings.change_pct) & (base >= settings.min_base)
                & (np.abs(change) >= settings.min_change))
        unit_idx, col_idx = np.nonzero(flag)
        rows.append(pd.DataFrame({
            "unit_pos": unit_idx, "year": wide.years[i],
            "column": np.array(columns, dtype=object)[col_idx],
            "value": current[unit_idx, col_idx], "baseline": base[unit_idx, col_idx],
            "change_pct": pct[unit_idx, col_idx],
            "history": f"{wide.years[max(0, i - settings.history_years)]}–{wide.years[i - 1]}"
            if i > 1 else str(wide.years[0]),
        }))
    flags = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return _with_units(flags, wide)


def unit_outliers(wide: Wide, config: Config) -> pd.DataFrame:
    """Flags: unit_code, year, column, value, median, mad, z, n."""
    settings = config.quality.outliers
    columns = checked_columns(wide, config, settings)
    cube = _cube(wide, columns)
    with _quiet():
        median = np.nanmedian(cube, axis=0)
        mad = np.nanmedian(np.abs(cube - median[None]), axis=0)
        mad = np.maximum(mad, np.abs(median) * settings.mad_floor_pct / 100)
    count = np.sum(~np.isnan(cube), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = 0.6745 * (cube - median[None]) / mad[None]
    valid = (count >= settings.min_units) & (mad > 0)
    big = np.abs(cube - median[None]) >= settings.min_change  # 3 vs 1 course is not news
    flag = valid[None] & (np.abs(z) > settings.z_threshold) & big
    unit_idx, year_idx, col_idx = np.nonzero(flag)
    flags = pd.DataFrame({
        "unit_pos": unit_idx, "year": np.array(wide.years)[year_idx],
        "column": np.array(columns, dtype=object)[col_idx],
        "value": cube[unit_idx, year_idx, col_idx], "median": median[year_idx, col_idx],
        "mad": mad[year_idx, col_idx], "z": z[unit_idx, year_idx, col_idx],
        "n": count[year_idx, col_idx],
    })
    return _with_units(flags, wide)


def _with_units(flags: pd.DataFrame, wide: Wide) -> pd.DataFrame:
    if flags.empty:
        return flags
    codes = wide.frame.index.get_level_values("unit_code")[:: len(wide.years)]
    flags["unit_code"] = np.asarray(codes)[flags.pop("unit_pos").to_numpy()]
    split = flags["column"].str.split("|", n=1, expand=True)
    flags["indicator"], flags["breakdown"] = split[0], split[1]
    return flags


@contextmanager
def _quiet():
    """numpy warns on all-NaN slices; an all-NaN slice simply means 'no data'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def outlier_findings(wide: Wide, config: Config, locator: Locator,
                     unit_names: dict[str, str]) -> list[Finding]:
    """Warnings for both methods, each saying the method and the baseline."""
    settings = config.quality.outliers
    over_time, across = time_outliers(wide, config), unit_outliers(wide, config)
    parts = [f for f in (over_time, across) if not f.empty]
    if not parts:
        return []
    where = locator.locate(pd.concat(parts, ignore_index=True)[
        ["unit_code", "indicator", "breakdown", "year"]])
    located = where.itertuples()

    def at(row) -> dict:
        """Where a flagged value is, and what it is: the same for both methods."""
        loc = next(located)
        return dict(unit_code=row.unit_code, unit_name=unit_names.get(row.unit_code, ""),
                    sheet=loc.sheet, cell=loc.cell, indicator=row.indicator,
                    breakdown=row.breakdown, year=int(row.year), value=auto(row.value))

    findings = []
    for row in over_time.itertuples() if not over_time.empty else []:
        low = row.baseline * (1 - settings.change_pct / 100)
        high = row.baseline * (1 + settings.change_pct / 100)
        findings.append(Finding("outlier-over-time", {
            "year": int(row.year), "value": row.value, "change": row.change_pct,
            "baseline": row.baseline, "history": row.history,
            "threshold": settings.change_pct, "low": round(low, 1), "high": round(high, 1)},
            key=f"time|{row.column}|{row.year}", **at(row)))
    for row in across.itertuples() if not across.empty else []:
        spread = settings.z_threshold * row.mad / 0.6745
        findings.append(Finding("outlier-across-units", {
            "year": int(row.year), "value": row.value, "units": int(row.n),
            "median": row.median, "z": row.z, "threshold": settings.z_threshold,
            "low": round(max(row.median - spread, 0), 1), "high": round(row.median + spread, 1)},
            key=f"units|{row.column}|{row.year}", **at(row)))
    return findings
