"""Benchmark of the report for N synthetic units (`python -m flows.bench report --units N`).

The units are built as in the `checks` benchmark (real form, made-up registry); checks and
consolidation run untimed, then each stage of the report is timed. Target: 150 units < 10 s.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from flows.config import Config, load_config
from flows.core.consolidate import Consolidated, consolidate
from flows.core.extract import Extraction
from flows.core.layout import Layout, build_layout
from flows.outputs.report.pdf import soffice
from flows.outputs.report.render import render_report
from flows.testing.bench.units import build_units, synthetic_registry

AS_OF = date(2023, 4, 5)
TARGET_S = 10.0


def synthetic_extractions(n: int) -> tuple[Config, Layout, list[Extraction]]:
    """(config, layout, one extraction per unit, as if read from its workbook) for `n`
    synthetic units."""
    base = load_config()
    config = synthetic_registry(base, n)
    layout = build_layout(base)
    values, lists = build_units(config, layout, n)
    lists_by_unit = dict(iter(lists.groupby("unit_code", sort=False)))
    extractions = [
        Extraction(source=f"{code}.xlsx", unit_code=code, values=group.reset_index(drop=True),
                   lists=lists_by_unit.get(code, lists.iloc[:0]).reset_index(drop=True))
        for code, group in values.groupby("unit_code", sort=False)]
    return config, layout, extractions


def synthetic_result(n: int) -> tuple[Config, Layout, Consolidated]:
    """(config, layout, consolidated result) for `n` synthetic units, through the public
    `consolidate` entry point."""
    config, layout, extractions = synthetic_extractions(n)
    return config, layout, consolidate(extractions, config, layout, AS_OF, config.rules)


def run(n: int, pdf: bool) -> list[str]:
    """Render the report once; returns the lines to print."""
    t0 = time.perf_counter()
    config, layout, result = synthetic_result(n)
    t1 = time.perf_counter()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as out:
        files = render_report(result, config, layout, Path(out), AS_OF, final=True,
                              pdf=pdf and soffice() is not None, timings=timings)
        sizes = {p.name: p.stat().st_size for p in files.paths()}
    pdf_time = timings.pop("pdf", 0.0)
    total = sum(timings.values())
    lines = [f"units: {n:,}   values: {len(result.values):,}   "
             f"findings: {len(result.findings):,}",
             f"synthetic units, checks, consolidation (not timed): {t1 - t0:6.2f} s"]
    labels = {"protection": "figures, small counts protected",
              "content": "content (sentences, tables)", "charts": "charts (2 PNG)",
              "docx": "bao-cao.docx (docxtpl + fitting)", "html": "report.html",
              "xlsx": "phu-luc.xlsx (formulas)"}
    lines += [f"{labels[k] + ':':<42}{v:6.2f} s" for k, v in timings.items()]
    lines.append(f"{'TOTAL report without PDF:':<42}{total:6.2f} s   (target < {TARGET_S:.0f} s)")
    if files.pdf:
        lines.append(f"{'bao-cao.pdf (LibreOffice, not in target):':<42}{pdf_time:6.2f} s")
    else:
        lines.append(f"PDF: {files.note}")
    lines.append("files: " + ", ".join(f"{name} {size / 1024:,.0f} KB"
                                       for name, size in sizes.items()))
    return lines
