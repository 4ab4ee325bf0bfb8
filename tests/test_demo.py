"""The demo tells its story: every warning and error it shows is a planted problem or follows
from one (a unit entering late, a "1.234" read as one thousand two hundred thirty-four);
nothing stands out in the answers nobody touched.

The pure pipeline on the demo's own workbooks (no Prefect, no CLI), as `giamsat demo` runs it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout
from flows.demo import DEMO_AS_OF, build_workspace
from flows.sources.xlsx import read_workbook

pytestmark = pytest.mark.shipped

# (unit, rule, indicator, year) of every finding, by the plant it comes from.
PLANTED = {
    # X04 typed only its name and code: past the deadline, not complete
    ("X04", "overdue", "TT.6", None),
    # P05 completed three days late
    ("P05", "completed-late", "TT.7", None),
    # X03 is still entering: the blank sections C and D, past the deadline
    ("X03", "missing-required", "C7.1", None), ("X03", "missing-required", "D3", None),
    ("X03", "overdue", "TT.6", None),
    # P04 typed text in two number cells, and said it was done
    ("P04", "number-with-text", "B1.2", 2022), ("P04", "number-in-words", "B5.1", 2021),
    ("P04", "missing-required", "B1.2", None), ("P04", "complete-but-missing", "TT.6", None),
    ("P04", "overdue", "TT.6", None),
    # P03 typed "1.234" (read as 1234: far above the other units and its own next year) and
    # its completion date as text
    ("P03", "thousands-separator", "B1.5", 2021), ("P03", "outlier-across-units", "B1.5", 2021),
    ("P03", "outlier-over-time", "B1.5", 2022), ("P03", "text-date", "TT.7", None),
    # X01's boys + girls differ from the total; X02 resolved more complaints than it received
    ("X01", "c2-nam-nu", "C2", 2022), ("X02", "b5-giai-quyet-le-tiep-nhan", "B5.4", 2022),
}
CHECKS_OF_VALUES = ("outlier", "consistency")


def demo_findings(config, tmp_path: Path, seed: int):
    build_workspace(config, tmp_path, seed)
    layout = build_layout(config)
    units = config.units.by_code()
    extractions = [extract_workbook(read_workbook(path), layout, units)
                   for path in sorted((tmp_path / "nguon").glob("*.xlsx"))]
    return consolidate(extractions, config, layout, DEMO_AS_OF, config.rules).findings


def found(findings) -> set[tuple]:
    return {(f.unit_code, f.rule, f.indicator, None if pd.isna(f.year) else int(f.year))
            for f in findings.itertuples()}


@pytest.mark.slow
def test_the_demo_shows_the_planted_problems_and_nothing_else(shipped_config, tmp_path):
    findings = demo_findings(shipped_config, tmp_path, seed=2023)
    assert found(findings) == PLANTED
    counts = findings.severity.value_counts().to_dict()
    assert counts == {"warning": 12, "error": 4}
    # the unit still entering is told what goes in its blank text cells, not to type 0
    [texts] = findings[(findings.unit_code == "X03") & (findings.rule == "missing-required")
                       & (findings.indicator == "D3")].itertuples()
    assert texts.instruction == "Ghi nội dung vào các ô này; không có thì ghi “Không có”."


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_with_any_seed_only_planted_values_stand_out(shipped_config, tmp_path, seed):
    """Not the luck of one seed: the answers nobody touched trip no outlier and no rule."""
    findings = demo_findings(shipped_config, tmp_path, seed)
    checked = findings[findings.category.isin(CHECKS_OF_VALUES)]
    assert found(checked) == {f for f in PLANTED if f[1].startswith("outlier-")
                              or f[1] in ("c2-nam-nu", "b5-giai-quyet-le-tiep-nhan")}
