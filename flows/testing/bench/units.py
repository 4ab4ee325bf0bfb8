"""Synthetic units of the real form, held in memory, for the benchmarks."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd

from flows.config import Config, Units
from flows.core.extract import VALUE_COLUMNS
from flows.core.layout import Layout
from flows.demo.synthetic import synthetic_answers


def _rows(code: str, answers: dict[str, object], list_codes: set[str]) -> tuple[
        list[tuple], list[tuple]]:
    values, lists = [], []
    for key, value in answers.items():
        indicator, breakdown, year = key.split("|")
        if isinstance(value, date):
            value = value.isoformat()
        if indicator in list_codes:
            row, column = breakdown.split(",")
            lists.append((code, indicator, int(row), column, value, "A", "C1"))
        else:
            values.append((code, indicator, breakdown, int(year) if year else None, value,
                           "S", "E1"))
    return values, lists


def synthetic_registry(config: Config, n: int) -> Config:
    """The real form and plan, with `n` made-up units."""
    units = [{"code": f"U{i:05d}", "name": f"Đơn vị {i}", "kind": "xã" if i % 3 else "phường"}
             for i in range(n)]
    registry = Units.model_validate({"region": config.units.region.model_dump(), "units": units})
    # everything else of the real config (rules, wording, privacy, templates) stays
    return config.model_copy(update={"units": registry})


def build_units(config: Config, layout: Layout, n: int, distinct: int = 300,
                seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n` units' values: `distinct` generated answer sets, reused with new unit codes."""
    rng = random.Random(seed)
    list_codes = {c.indicator for c in layout.inputs if c.list_row is not None}
    window = config.plan.self_inspection
    pool = []
    for i in range(min(distinct, n)):
        unit = config.units.units[i % len(config.units.units)]
        done = date.fromordinal(rng.randint(window.start.toordinal(), window.end.toordinal() + 5))
        answers = synthetic_answers(config.form, unit, rng,
                                    reporting_end=config.plan.reporting_period.end,
                                    completed=done if rng.random() < 0.85 else None)
        pool.append(_rows("X", answers, list_codes))
    values, lists = [], []
    for i in range(n):
        code = f"U{i:05d}"
        vals, lst = pool[i % len(pool)]
        values.extend((code, *row[1:]) for row in vals)
        lists.extend((code, *row[1:]) for row in lst)
    frame = pd.DataFrame(values, columns=VALUE_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    lists_frame = pd.DataFrame(lists, columns=["unit_code", "list", "row", "column", "value",
                                               "sheet", "cell"])
    return frame, lists_frame
