"""`bench read --units N`: N commune workbooks read the way a run reads them, against plain
openpyxl read-only on the same files, in one run; values and findings must be identical.

Ours: the folder source (python-calamine, the XML pass for formulas and extent, worker
processes) on 4 threads, as the flow runs it, then the extraction. Reference: openpyxl
read-only (`flows.testing.bench.reference`, this project's reader before calamine), one file
after another, then the same extraction.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flows.config import load_config
from flows.core.extract import extract_workbook
from flows.core.findings import findings_frame
from flows.core.layout import build_layout
from flows.demo import demo_answers
from flows.sources.folder import FolderSource
from flows.sources.xlsx import write_template
from flows.testing.bench import reference

TARGET_S = 5.0


def _workbooks(config, folder: Path, n: int) -> list[Path]:
    """`n` filled workbooks: the demo's (planted problems included), cycled over the units."""
    answers, _ = demo_answers(config)
    units = config.units.active()
    paths = []
    for i in range(n):
        unit = units[i % len(units)]
        path = folder / f"{unit.code}-{i:04d}.xlsx"
        write_template(build_layout(config, unit), path, answers[unit.code])
        paths.append(path)
    return paths


def _signature(extraction, catalogue) -> tuple:
    values = extraction.values[["indicator", "breakdown", "year", "value"]]
    found = findings_frame(extraction.findings, catalogue)
    return (extraction.unit_code, values.astype(str).to_csv(index=False),
            found[["rule", "sheet", "cell", "message"]].to_csv(index=False))


def run(n: int) -> list[str]:
    config = load_config()
    layout = build_layout(config)
    units = config.units.by_code()
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        paths = _workbooks(config, folder, n)
        made = time.perf_counter() - start
        source = FolderSource(folder, config)
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            ours = list(pool.map(lambda ref: extract_workbook(source.read(ref), layout, units),
                                 source.refs()))
        ours_s = time.perf_counter() - start
        source.finish(None, None)
        start = time.perf_counter()
        plain = [extract_workbook(reference.read_workbook(p), layout, units) for p in paths]
        plain_s = time.perf_counter() - start
    mine = {e.source: e for e in ours}
    same = sum(_signature(mine[b.source], config.catalogue) == _signature(b, config.catalogue)
               for b in plain)
    return [
        f"{n} workbooks of the shipped form ({made:.1f} s to write them, not timed)",
        f"ours (calamine + XML pass, worker processes, 4 threads): {ours_s:6.2f} s"
        f"   ({1000 * ours_s / n:.1f} ms per workbook; target ≤ {TARGET_S:.0f} s for 150)",
        f"plain openpyxl read-only, one after another:            {plain_s:6.2f} s"
        f"   ({1000 * plain_s / n:.1f} ms per workbook)",
        f"ratio: ours is {plain_s / ours_s:.1f}× faster (target ≥ 4×)",
        f"identical values and findings: {same}/{n} workbooks",
    ]
