"""`python -m flows.bench scale`: the figures for a nation name every stage and both targets.

A few units only (the real run is 3,321): what is checked is that each stage of the checks and
of the report is timed and said, with the total against 60 s and the peak memory against 3 GB,
then the two Google nights over two accounts: reads, the quota floor, the simulated time.
"""

from __future__ import annotations

import re

from flows.testing.bench import main

STAGES = ("consolidation + rules, outliers, privacy", "completeness, timeliness, findings table",
          "figures, small counts protected", "content (sentences, tables)", "charts (2 PNG)",
          "bao-cao.docx, published + internal", "report.html",
          "phu-luc.xlsx, published + internal")


def test_the_nation_benchmark_times_every_stage_against_its_targets(capsys):
    main(["scale", "--units", "5", "--accounts", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("units: 5 ")
    for stage in STAGES:
        line = next(line for line in lines if line.strip().startswith(stage + ":"))
        assert re.search(r"\d+\.\d\d s", line), line
    total = next(line for line in lines if line.startswith("TOTAL checks + report:"))
    assert re.search(r"\d+\.\d\d s = \d+\.\d\d × the target \(< 60 s\)$", total), total
    peak = next(line for line in lines if line.startswith("peak memory"))
    assert re.search(r"\d+ MB = \d+\.\d\d × the target \(< 3,072 MB\)$", peak), peak
    assert any(line.startswith("files: bao-cao.docx") for line in lines)
    google = next(i for i, line in enumerate(lines) if line.startswith("Google: 5 sheets over 2"))
    first, changed = lines[google + 1], lines[google + 2]
    assert first.startswith("  first night: 5 reads (5 sheets"), first
    assert changed.startswith("  10% changed: 1 reads (1 sheets"), changed
    for night in (first, changed):
        assert re.search(r"quota floor \d+\.\d min, simulated ≤ \d+\.\d min", night), night
        assert night.endswith("429s 0, sheets lost 0 of 5"), night
