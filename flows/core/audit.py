"""Audit checks on the history of values: pure functions of the change log and the status log.

The store (`flows.store.history`) keeps what every run read; these functions say what it
shows: when each unit really became complete, values changed after the deadline or after the
unit declared itself complete, and the completion date to use when the typed one disagrees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from flows.config.base import nfc
from flows.core.findings import Finding
from flows.core.locate import Locator
from flows.core.vnformat import auto, short_date

DEFAULT_OFFICE = "Phòng LĐTBXH"

# --------------------------------------------------------------------------- values


def canonical(value: object) -> str | None:
    """One text form per value, so an unchanged value compares equal night after night.

    Blank (None, NaN, "") → None; 12 and 12.0 → "12"; dates → ISO; text → NFC.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text_value = nfc(str(value))
    return text_value if text_value.strip() else None


def value_keys(values: pd.DataFrame) -> pd.Series:
    """``indicator|breakdown|year`` per row, as `flows.core.layout.make_key` builds it."""
    year = pd.to_numeric(values["year"], errors="coerce").astype("Int64")
    return (values["indicator"].astype(str) + "|"
            + values["breakdown"].fillna("").astype(str) + "|"
            + year.astype("string").fillna(""))


def split_key(key: str) -> tuple[str, str, int | None]:
    indicator, breakdown, year = (key.split("|") + ["", ""])[:3]
    return indicator, breakdown, int(year) if year.isdigit() else None



def require_aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"cần thời điểm có múi giờ (aware datetime), nhận: {moment!r}")
    return moment.astimezone(UTC)


def zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz



_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def show_value(value: str | None, limit: int = 60) -> str:
    """A stored value as staff read it: 1.500.000, 12,5, 31/03/2023, “text”, (trống)."""
    if value is None:
        return "(trống)"
    if _INTEGER.match(value):
        return auto(int(value))
    if _DECIMAL.match(value):
        return auto(float(value))
    if _ISO_DATE.match(value):
        return short_date(date.fromisoformat(value))
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"“{shown}”"


# --------------------------------------------------------------------------- completion


@dataclass(frozen=True)
class CompletionEvidence:
    """When a unit was first seen complete, and the last read before that saw it incomplete.

    `complete_at` is the workbook's modifiedTime at the first complete read (the last edit before
    that read, so the unit was complete by then) when it is plausible, else the read time.
    """

    complete_at: datetime
    seen_complete_at: datetime
    seen_incomplete_at: datetime | None



def completion_evidence(log: pd.DataFrame, since: datetime | None = None,
                        until: datetime | None = None) -> dict[str, CompletionEvidence]:
    """Per unit ever seen complete: when it first was, and the last incomplete read before.

    `since` ignores reads before it (a database kept across several yearly plans); `until`
    ignores reads from it on (a run "as of" a past day knows only what was read by then).
    """
    if since is not None:
        log = log[log["read_at"] >= require_aware(since)]
    if until is not None:
        log = log[log["read_at"] < require_aware(until)]
    evidence: dict[str, CompletionEvidence] = {}
    for unit, reads in log.groupby("unit_code", sort=False):
        done = reads[reads["complete"].astype(bool)]
        if done.empty:
            continue
        first = done.iloc[0]
        before = reads[(reads["read_at"] < first["read_at"])
                       & ~reads["complete"].astype(bool)]
        incomplete = before["read_at"].iloc[-1] if len(before) else None
        modified = first["modified"]
        plausible = (modified is not None and modified <= first["read_at"]
                     and (incomplete is None or modified > incomplete))
        evidence[str(unit)] = CompletionEvidence(
            complete_at=modified if plausible else first["read_at"],
            seen_complete_at=first["read_at"], seen_incomplete_at=incomplete)
    return evidence


def late_edit_findings(log: pd.DataFrame, evidence: Mapping[str, CompletionEvidence],
                       deadline: date, tz: tzinfo | str, unit_names: Mapping[str, str],
                       locator: Locator | None = None, office: str = DEFAULT_OFFICE,
                       since: datetime | None = None,
                       until: datetime | None = None) -> list[Finding]:
    """Warnings for values edited after the deadline or after the unit declared complete.

    * ``changed-after-deadline``: an existing value changed or deleted, the change made after
      the end of the deadline day in `tz` (the workbook's modifiedTime at the read that saw
      it when present, else the read time). Blanks filled late are lateness, which the
      timeliness checks already report per unit, not a cell-by-cell warning.
    * ``changed-after-complete``: any change first seen in a read after the unit's first
      complete read (and not already late by the rule above).
    """
    local = zone(tz)
    deadline_end = datetime.combine(deadline + timedelta(days=1), time(0), local)
    if since is not None:
        log = log[log["read_at"] >= require_aware(since)]
    if until is not None:  # a replay of a past day: what was read after it is unknown then
        log = log[log["read_at"] < require_aware(until)]
    if log.empty:
        return []
    seen_complete = {u: e.seen_complete_at for u, e in evidence.items()}
    flagged = []
    for row in log.itertuples(index=False):
        when = min(row.modified, row.read_at) if row.modified is not None else row.read_at
        if row.old is not None and when >= deadline_end:
            flagged.append((row, when, "changed-after-deadline"))
            continue
        completed = seen_complete.get(row.unit_code)
        if completed is not None and row.read_at > completed:
            flagged.append((row, when, "changed-after-complete"))
    where = _locate(locator, [(r.unit_code, r.key) for r, _, _ in flagged])
    findings = []
    for row, when, rule in flagged:
        indicator, breakdown, year = split_key(row.key)
        sheet, cell = where.get((row.unit_code, row.key), ("", ""))
        params = {"old": show_value(row.old),
                  "new": None if row.new is None else show_value(row.new),
                  "when": when.astimezone(local), "office": office}
        if rule == "changed-after-deadline":
            params["deadline"] = deadline
        else:
            params["completed"] = seen_complete[row.unit_code].astimezone(local)
        findings.append(Finding(
            rule, params, unit_code=row.unit_code, unit_name=unit_names.get(row.unit_code, ""),
            sheet=sheet, cell=cell, indicator=indicator, breakdown=breakdown, year=year,
            value="" if row.new is None else show_value(row.new),
            key=f"late|{row.key}|{when.isoformat(timespec='seconds')}"))
    return findings


def _locate(locator: Locator | None,
            wanted: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(unit, key) → (sheet, cell) where the value sits now (or in a pristine template)."""
    if locator is None or not wanted:
        return {}
    unique = list(dict.fromkeys(wanted))
    requests = pd.DataFrame(
        [dict(zip(("indicator", "breakdown", "year"), split_key(key), strict=True),
              unit_code=unit) for unit, key in unique])
    found = locator.locate(requests)
    return {pair: (str(s or ""), str(c or "")) for pair, s, c
            in zip(unique, found["sheet"], found["cell"], strict=True)}


# --------------------------------------------------------------------------- completion dates


def completion_dates(first_complete: Mapping[str, datetime], status: pd.DataFrame,
                     tz: tzinfo | str,
                     seen_incomplete: Mapping[str, datetime | None] | None = None,
                     locator: Locator | None = None,
                     tolerance_days: int = 1) -> tuple[pd.Series, list[Finding]]:
    """The completion date to use per unit, and a warning where the typed date disagrees.

    Returns a Series aligned on `status` (ISO dates, "" when none), to put in the
    `completion_date` column before `timeliness()`. Only units complete now are touched:
    * no typed date → the evidence date;
    * typed date more than `tolerance_days` after the first complete time, or more than that
      before a read that still saw the unit incomplete (`seen_incomplete`) → the evidence date
      and a ``completion-date-disagrees`` finding;
    * otherwise, and without evidence (history began after the unit finished), the typed date.
    """
    local = zone(tz)
    seen_incomplete = seen_incomplete or {}
    result = status["completion_date"].fillna("").astype(str).copy()
    result.name = "completion_date"
    flagged: list[tuple[int, str, date, datetime, datetime | None]] = []
    for idx, row in status.iterrows():
        unit = str(row["unit_code"])
        done_at = first_complete.get(unit)
        if not bool(row.get("complete", False)) or done_at is None:
            continue
        evidence = done_at.astimezone(local)
        typed = _typed_date(row["completion_date"])
        if typed is None:
            result[idx] = evidence.date().isoformat()
            continue
        before = seen_incomplete.get(unit)
        if (typed - evidence.date()).days > tolerance_days:
            seen = None  # typed later than the unit was seen complete
        elif before is not None and (before.astimezone(local).date() - typed).days > \
                tolerance_days:
            seen = before.astimezone(local)  # typed earlier than a read that saw it incomplete
        else:
            continue
        result[idx] = evidence.date().isoformat()
        flagged.append((idx, unit, typed, evidence, seen))
    findings = []
    where = _role_cell(locator, [unit for _, unit, *_ in flagged])
    for idx, unit, typed, evidence, seen in flagged:
        sheet, cell, indicator = where.get(unit, ("", "", ""))
        findings.append(Finding(
            "completion-date-disagrees",
            {"typed": typed, "used": evidence.date(), "first_complete": evidence,
             "seen_incomplete": seen, "office": DEFAULT_OFFICE},
            unit_code=unit,
            unit_name=str(status.at[idx, "unit_name"]) if "unit_name" in status else "",
            sheet=sheet, cell=cell, indicator=indicator, value=short_date(typed),
            key="completion-date-disagrees"))
    return result, findings


def _typed_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _role_cell(locator: Locator | None, units: list[str]) -> dict[str, tuple[str, str, str]]:
    if locator is None or not units:
        return {}
    indicator = locator.layout.role("completion_date").indicator
    requests = pd.DataFrame({"unit_code": units, "indicator": indicator, "breakdown": "",
                             "year": None})
    found = locator.locate(requests)
    return {u: (str(s), str(c), indicator)
            for u, s, c in zip(units, found["sheet"], found["cell"], strict=True)}

