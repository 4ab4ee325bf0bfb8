"""`bench checks`: the consolidation and every check on N synthetic units (parsing aside).

Target: 10,000 units in under 10 s and 2 GB on a 2-core machine.
"""

from __future__ import annotations

import resource
import time
from datetime import date

from flows.config import load_config
from flows.core.consolidate import Checked, check_values, sorted_index, summarise
from flows.core.extract import Extraction
from flows.core.layout import build_layout
from flows.testing.bench.units import build_units, synthetic_registry


def bench_checks(n: int) -> None:
    base = load_config()
    config = synthetic_registry(base, n)
    layout = build_layout(base)
    t0 = time.perf_counter()
    values, lists = build_units(config, layout, n)
    t1 = time.perf_counter()
    chosen = {code: Extraction(source=f"{code}.xlsx", unit_code=code)
              for code in values["unit_code"].unique()}
    rules = base.rules
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
