"""Timeliness against the plan's deadline, as of a given day in the plan's timezone.

"Completed" means the unit chose the done status AND every required cell is filled. The
deadline day itself is on time (a report is due by the end of that day, local time).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from flows.config.loader import Config
from flows.core.findings import Finding
from flows.core.layout import Layout
from flows.core.locate import Locator

NOT_STARTED = "Chưa bắt đầu"
IN_PROGRESS = "Đang nhập"
ON_TIME = "Hoàn thành đúng hạn"
LATE = "Hoàn thành trễ hạn"
OVERDUE = "Quá hạn chưa hoàn thành"
STATES = (NOT_STARTED, IN_PROGRESS, ON_TIME, LATE, OVERDUE)


def as_of_date(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today in the plan's timezone (an office in Huế at 00:30 on 01/04 is already late)."""
    return (now or datetime.now(tz)).astimezone(tz).date()


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first moment after `day` in the plan's timezone: what is known "as of" that day
    happened before it."""
    return datetime.combine(day + timedelta(days=1), time(0), tz)


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.replace("", None), format="%Y-%m-%d", errors="coerce")


def timeliness(status: pd.DataFrame, config: Config, as_of: date) -> pd.DataFrame:
    """Adds `complete`, `timeliness` (one of STATES), `days_late` and `past_deadline`.

    Needs the columns required_filled, required_total, submission_status,
    completion_date and started. Everything is as things stood at the end of `as_of`: a
    completion dated after it is not a completion yet. A unit that says it is done but left
    no date is taken as done by `as_of`. The five states are exclusive, so their counts add up
    to the units: a unit that has not started is "not started" even after the deadline (its
    `days_late` and `past_deadline` say it is overdue); a started, unfinished one is "in
    progress" up to the deadline and "overdue" after it.
    """
    done_label = config.form.choices["trang_thai"][1]
    deadline = pd.Timestamp(config.plan.deadline)
    today = pd.Timestamp(as_of)
    frame = status.copy()
    typed = _dates(frame["completion_date"])
    frame["complete"] = ((frame["submission_status"] == done_label)
                         & (frame["required_filled"] == frame["required_total"])
                         & ~(typed > today))
    share = 100 * frame["required_filled"] / frame["required_total"].clip(lower=1)
    frame["started"] = frame["started"].astype(bool) & (
        frame["complete"] | (share >= config.plan.started_from_percent))
    late_by = (typed.fillna(today) - deadline).dt.days
    past = ~frame["complete"] & (today > deadline)
    state = np.select(
        [frame["complete"] & (late_by <= 0), frame["complete"], ~frame["started"], past],
        [ON_TIME, LATE, NOT_STARTED, OVERDUE], default=IN_PROGRESS)
    frame["timeliness"] = state
    frame["days_late"] = np.select(
        [state == LATE, past], [late_by, (today - deadline).days], default=0)
    frame["past_deadline"] = past
    return frame


def _role_cells(status: pd.DataFrame, layout: Layout, locator: Locator) -> dict:
    """(unit, role) → (sheet, cell) where the status and date cells are now."""
    roles = {role: layout.role(role) for role in ("status", "completion_date")}
    requests = pd.DataFrame([
        {"unit_code": code, "indicator": cell.indicator, "breakdown": "", "year": None,
         "role": role} for code in status["unit_code"] for role, cell in roles.items()])
    found = locator.locate(requests)
    return {(r.unit_code, r.role): (r.sheet, r.cell)
            for r in found.assign(role=requests["role"]).itertuples()}


def timeliness_findings(status: pd.DataFrame, config: Config, layout: Layout,
                        as_of: date, locator: Locator) -> list[Finding]:
    """Inconsistent status or completion dates, late and overdue units: one finding each.

    Each check is a vectorised mask over all units; findings are built for flagged units only.
    """
    labels = config.form.choices["trang_thai"]
    window = config.plan.self_inspection
    deadline = config.plan.deadline
    typed = _dates(status["completion_date"])
    said_done = status["submission_status"] == labels[1]
    missing = status["required_total"] - status["required_filled"]
    has_date = typed.notna()
    future = has_date & (typed > pd.Timestamp(as_of))
    checks = [  # (mask, rule, the cell it points at, params(row), expected(row))
        (said_done & (missing > 0), "complete-but-missing", "status",
         lambda r: {"done": labels[1], "in_progress": labels[0], "missing": r.missing,
                    "total": r.required_total}),
        (said_done & ~has_date, "completion-date-missing", "completion_date",
         lambda r: {"done": labels[1]}),
        (has_date & ~said_done, "completion-date-without-status", "completion_date",
         lambda r: {"done": labels[1]}),
        (future, "completion-date-future", "completion_date",
         lambda r: {"typed": r.typed_day, "as_of": as_of}),
        (has_date & ~future & (typed < pd.Timestamp(window.start)), "completion-date-early",
         "completion_date", lambda r: {"typed": r.typed_day, "start": window.start,
                                       "end": window.end}),
        (status["timeliness"] == LATE, "completed-late", "completion_date",
         lambda r: {"days": r.days_late, "deadline": deadline}),
        (status["past_deadline"], "overdue", "status",
         lambda r: {"days": r.days_late, "deadline": deadline, "done": labels[1]}),
    ]
    frame = status.assign(missing=missing, typed_text=typed.dt.strftime("%d/%m/%Y").fillna(""),
                          typed_day=typed.dt.date)
    flagged = frame[np.logical_or.reduce([mask for mask, *_ in checks])]
    where = _role_cells(flagged, layout, locator) if len(flagged) else {}
    findings: list[Finding] = []
    for mask, rule, role, params in checks:
        for row in frame[mask].itertuples():
            sheet, cell = where[(row.unit_code, role)]
            value = row.submission_status if role == "status" else row.typed_text
            findings.append(Finding(
                rule, params(row), unit_code=row.unit_code, unit_name=row.unit_name,
                sheet=sheet, cell=cell, indicator=layout.role(role).indicator, value=value,
                key=rule))
    return findings


def reporting_rate(status: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """DHIS2's reporting-rate summary, counted from the unit registry (never above 100%)."""
    expected = len(status)
    counts = status["timeliness"].value_counts()
    complete = int(status["complete"].sum())
    on_time = int(counts.get(ON_TIME, 0))
    return pd.DataFrame([{
        "as_of": as_of.isoformat(),
        "units_expected": expected,
        "units_with_workbook": int(status["found"].sum()),
        "units_started": int(status["started"].sum()),
        "units_complete": complete,
        "units_on_time": on_time,
        "units_late": int(counts.get(LATE, 0)),
        "units_overdue": int(counts.get(OVERDUE, 0)),
        "units_not_started": int(counts.get(NOT_STARTED, 0)),
        "units_in_progress": int(counts.get(IN_PROGRESS, 0)),
        "units_past_deadline": int(status["past_deadline"].sum()),
        "reporting_rate": round(100 * complete / expected, 1) if expected else 0.0,
        "on_time_rate": round(100 * on_time / expected, 1) if expected else 0.0,
    }])
