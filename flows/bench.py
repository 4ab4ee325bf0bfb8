"""Benchmarks that print figures: `python -m flows.bench checks [--units N]`.

`checks`: N synthetic units of the real form held in memory (about 400 values each), then the
consolidation and every check (rules, outliers, completeness, timeliness) are timed — workbook
parsing aside. Target: 10,000 units in under 10 s and 2 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import date

import pandas as pd

from flows.config import Config, Units, load_config
from flows.core.consolidate import Checked, check_values, sorted_index, summarise
from flows.core.extract import VALUE_COLUMNS, Extraction
from flows.core.rules import load_rules
from flows.layout import Layout, build_layout
from flows.synthetic import synthetic_answers


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
    return Config(directory=config.directory, form=config.form, units=registry,
                  plan=config.plan, quality=config.quality)


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


def bench_checks(n: int) -> None:
    base = load_config()
    config = synthetic_registry(base, n)
    layout = build_layout(base)
    t0 = time.perf_counter()
    values, lists = build_units(config, layout, n)
    t1 = time.perf_counter()
    chosen = {code: Extraction(source=f"{code}.xlsx", unit_code=code)
              for code in values["unit_code"].unique()}
    rules = load_rules(base.directory / "rules.yaml", base.form, base.plan)
    as_of = date(2023, 4, 5)
    t2 = time.perf_counter()
    index = sorted_index(values, layout)
    t3 = time.perf_counter()
    findings = check_values(index, lists, config, as_of, rules)
    t4 = time.perf_counter()
    result = summarise(Checked(index, lists, findings, chosen), config, as_of)
    t5 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = result.findings["severity"].value_counts().to_dict()
    print(f"units: {n:,}   values: {len(values):,}   list rows: {len(lists):,}")
    print(f"generating synthetic units (not timed):   {t1 - t0:6.2f} s")
    print(f"consolidation (index and sort the table): {t3 - t2:6.2f} s")
    print(f"rules + outliers:                         {t4 - t3:6.2f} s")
    print(f"completeness, timeliness, findings table: {t5 - t4:6.2f} s")
    print(f"TOTAL checks and consolidation:           {t5 - t2:6.2f} s   (target < 10 s)")
    print(f"peak memory (max RSS of the process):     {peak_mb:6.0f} MB (target < 2048 MB)")
    print(f"findings: {len(result.findings):,} {counts}")
    print(f"reporting rate: {result.reporting['reporting_rate'].iloc[0]}%")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    checks = sub.add_parser("checks", help="checks and consolidation on N synthetic units")
    checks.add_argument("--units", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.what == "checks":
        bench_checks(args.units)


if __name__ == "__main__":
    main(sys.argv[1:])
