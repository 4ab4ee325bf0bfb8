"""`quality.yaml`: thresholds of the outlier checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flows.config.base import ConfigModel


class Outliers(ConfigModel):
    """WHO-style outlier checks; warnings only, never errors."""

    change_pct: float = Field(default=33, gt=0)  # change against the unit's own earlier years
    min_base: float = Field(default=10, ge=0)  # ignore bases too small to matter
    min_change: float = Field(default=5, ge=0)  # …and changes like 1 → 2 children
    history_years: int = Field(default=3, ge=1)  # earlier years averaged as the baseline
    z_threshold: float = Field(default=3.5, gt=0)  # modified z-score across units
    min_units: int = Field(default=5, ge=3)  # fewer units with a value: no comparison
    # With few units the MAD itself is unstable: floor it at this % of the median.
    mad_floor_pct: float = Field(default=20, ge=0)
    columns: Literal["totals", "all"] = "totals"  # which cells: headline totals or every cell


class Bounds(ConfigModel):
    """The largest value a unit can truly report, per value type: beyond it a number is a typing
    accident (a commune has no 10^29 children), reported as an error and not taken."""

    integer: float = Field(default=1_000_000, gt=0)
    money: float = Field(default=1_000_000_000_000, gt=0)  # 1.000 tỷ đồng


class Quality(ConfigModel):
    outliers: Outliers = Outliers()
    bounds: Bounds = Bounds()

