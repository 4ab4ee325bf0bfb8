"""The truth on every date: the demo replayed day by day, from the start of the self-inspection
to five days after the deadline, against a table written by hand.

The demo's workbooks do not change; only the as-of day does. A completion typed for a day after
the as-of day is not a completion yet, so a replay of any past day says what a run on that day
would have said.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from flows.core.consolidate import check, consolidate, summarise
from flows.core.extract import extract_workbook
from flows.core.layout import build_layout
from flows.core.timeliness import IN_PROGRESS, LATE, NOT_STARTED, ON_TIME, OVERDUE
from flows.demo import build_workspace
from flows.sources.folder import FolderSource

pytestmark = [pytest.mark.shipped, pytest.mark.slow]  # reads the nine demo workbooks

FIRST, LAST = date(2023, 3, 10), date(2023, 4, 5)
DEADLINE = date(2023, 3, 31)


def _d(day: int, month: int = 3) -> date:
    return date(2023, month, day)


# By hand, from the demo's workbooks (`giamsat demo` prints the planted problems):
# unit → the day its typed completion date makes it complete (None: never complete as typed).
# P03 typed its date as text "20/03/2023"; P04 says done but left text in number cells; P05
# finished three days late; X03 is still entering; X04 typed only its name and code.
COMPLETES = {"P01": _d(18), "P02": _d(26), "P03": _d(20), "P04": None, "P05": _d(3, 4),
             "X01": _d(20), "X02": _d(19), "X03": None, "X04": None}
NEVER_STARTED = {"X04"}


def expected(unit: str, day: date) -> tuple[str, int]:
    """(state, days) for one unit on one day, as the office would say it."""
    done = COMPLETES[unit]
    overdue = (day - DEADLINE).days
    if done is not None and done <= day:
        return (ON_TIME, 0) if done <= DEADLINE else (LATE, (done - DEADLINE).days)
    if unit in NEVER_STARTED:
        return NOT_STARTED, max(overdue, 0)
    return (OVERDUE, overdue) if overdue > 0 else (IN_PROGRESS, 0)


@pytest.fixture(scope="module")
def demo_reads(tmp_path_factory, shipped_config):
    """The demo's nine workbooks, read once."""
    workspace = tmp_path_factory.mktemp("demo")
    build_workspace(shipped_config, workspace)
    source = FolderSource(workspace / "nguon", shipped_config, isolate=False)
    layout = build_layout(shipped_config)
    units = shipped_config.units.by_code()
    return [extract_workbook(source.read(ref), layout, units) for ref in source.refs()], layout


def every_day():
    day = FIRST
    while day <= LAST:
        yield day
        day += timedelta(days=1)


def test_every_day_from_10_03_to_05_04_says_what_the_hand_table_says(demo_reads,
                                                                      shipped_config):
    extractions, layout = demo_reads
    # the value checks do not depend on the day; each day is then summarised as a run would
    checked = check(extractions, shipped_config, layout, FIRST, shipped_config.rules)
    wrong = []
    for day in every_day():
        result = summarise(checked, shipped_config, day)
        status = result.status.set_index("unit_code")
        for unit in COMPLETES:
            got = (status.at[unit, "timeliness"], int(status.at[unit, "days_late"]))
            if got != expected(unit, day):
                wrong.append((day.isoformat(), unit, got, expected(unit, day)))
        counts = result.reporting.iloc[0]
        five = sum(int(counts[c]) for c in ("units_not_started", "units_in_progress",
                                            "units_on_time", "units_late", "units_overdue"))
        if five != int(counts["units_expected"]) or five != len(COMPLETES):
            wrong.append((day.isoformat(), "counts", five, len(COMPLETES)))
        past = sorted(status.index[status["past_deadline"]])
        want = sorted(u for u in COMPLETES if day > DEADLINE and not (
            COMPLETES[u] is not None and COMPLETES[u] <= day))
        if past != want:
            wrong.append((day.isoformat(), "past_deadline", past, want))
    assert wrong == []


def test_on_the_deadline_huong_chu_is_still_entering_and_on_05_04_it_finished_3_days_late(
        demo_reads, shipped_config):
    extractions, layout = demo_reads

    def state(day):
        result = consolidate(extractions, shipped_config, layout, day, shipped_config.rules)
        row = result.status.set_index("unit_code").loc["P05"]
        rules = set(result.findings.loc[result.findings["unit_code"] == "P05", "rule"])
        return row["timeliness"], int(row["days_late"]), rules

    on_deadline = state(DEADLINE)
    assert on_deadline[:2] == (IN_PROGRESS, 0)
    # the typed 03/04 is "in the future" on 31/03, and nothing says late
    assert "completion-date-future" in on_deadline[2]
    assert not on_deadline[2] & {"completed-late", "overdue"}
    assert state(_d(15))[:2] == (IN_PROGRESS, 0)
    assert state(_d(2, 4))[:2] == (OVERDUE, 2)
    after = state(_d(5, 4))
    assert after[:2] == (LATE, 3)
    assert "completed-late" in after[2] and "completion-date-future" not in after[2]


def test_a_unit_that_typed_only_its_name_is_not_started_even_after_the_deadline(
        demo_reads, shipped_config):
    """0,5% after the deadline must not read like 99,5%: the state says not started, and
    `days_late` with `past_deadline` still say it is overdue."""
    extractions, layout = demo_reads
    result = consolidate(extractions, shipped_config, layout, _d(5, 4), shipped_config.rules)
    status = result.status.set_index("unit_code")
    assert status.at["X04", "timeliness"] == NOT_STARTED
    assert status.at["X04", "past_deadline"] and int(status.at["X04", "days_late"]) == 5
    assert status.at["P04", "timeliness"] == OVERDUE  # 99,5%: started, not finished
    counts = result.reporting.iloc[0]
    assert (int(counts["units_not_started"]), int(counts["units_in_progress"]),
            int(counts["units_on_time"]), int(counts["units_late"]),
            int(counts["units_overdue"]), int(counts["units_past_deadline"])) == (1, 0, 5, 1, 2, 3)
