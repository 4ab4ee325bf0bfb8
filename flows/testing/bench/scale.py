"""`bench scale`: a nation in one run (3,321 communes since 2025): `python -m flows.bench scale`.

The CPU side (`core_figures`): N synthetic units of the real form, built as the `report`
benchmark builds them (one extraction per unit, as if read from its workbook; not timed), then
the consolidation and every check through the public entry points (`check`: one table, rules,
outliers, personal data; `summarise`: completeness, timeliness, the findings table), then the
whole report without PDF (`render_report`, published and internal versions), each stage timed.
Targets for 3,321 units on a 2-core machine: checks + report under 60 s, the process's peak
memory (its RSS high-water mark, setup included) under 3 GB.

The Google side (the sheets of a nation read under Google's quotas) follows these figures in the
subcommand: `scale_google.google_figures(units, accounts)`.

tracemalloc is left out: it follows every allocation, slowing what is timed several times.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from flows.core.consolidate import check, summarise
from flows.outputs.report.render import render_report
from flows.testing.bench.report import AS_OF, synthetic_extractions

TARGET_S = 60.0
TARGET_MB = 3 * 1024

_LABELS = {"protection": "figures, small counts protected",
           "content": "content (sentences, tables)", "charts": "charts (2 PNG)",
           "docx": "bao-cao.docx, published + internal", "html": "report.html",
           "xlsx": "phu-luc.xlsx, published + internal"}


def peak_mb() -> float:
    """The process's RSS high-water mark so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _line(label: str, seconds: float) -> str:
    return f"  {label + ':':<44}{seconds:7.2f} s   (peak so far {peak_mb():,.0f} MB)"


def core_figures(units: int) -> list[str]:
    """Checks and report for `units` synthetic units; the lines to print."""
    start = time.perf_counter()
    config, layout, extractions = synthetic_extractions(units)
    setup = time.perf_counter() - start
    lines = [f"units: {units:,}   synthetic extractions (not timed): {setup:.2f} s, "
             f"peak {peak_mb():.0f} MB"]
    t0 = time.perf_counter()
    checked = check(extractions, config, layout, AS_OF, config.rules)
    t1 = time.perf_counter()
    lines.append(_line("consolidation + rules, outliers, privacy", t1 - t0))
    result = summarise(checked, config, AS_OF)
    t2 = time.perf_counter()
    lines.append(_line("completeness, timeliness, findings table", t2 - t1))
    del checked, extractions
    checks = t2 - t0
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as out:
        files = render_report(result, config, layout, Path(out), AS_OF, final=True, pdf=False,
                              timings=timings)
        sizes = {p.name: p.stat().st_size for p in files.paths()}
    timings.pop("pdf", None)
    report = sum(timings.values())
    lines += [f"  {_LABELS.get(k, k) + ':':<44}{v:7.2f} s" for k, v in timings.items()]
    total = checks + report
    peak = peak_mb()
    return lines + [
        f"values: {len(result.values):,}   findings: {len(result.findings):,}",
        f"{'checks + consolidation:':<46}{checks:7.2f} s",
        f"{'report without PDF:':<46}{report:7.2f} s",
        f"{'TOTAL checks + report:':<46}{total:7.2f} s = {total / TARGET_S:.2f} × the target "
        f"(< {TARGET_S:.0f} s)",
        f"{'peak memory (max RSS of the process):':<46}{peak:7.0f} MB = {peak / TARGET_MB:.2f} × "
        f"the target (< {TARGET_MB:,} MB)",
        "files: " + ", ".join(f"{name} {size / 1024:,.0f} KB" for name, size in sizes.items()),
    ]
