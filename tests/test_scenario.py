"""Simulated days of the 2023 self-inspection, 10/03 → 05/04, one nightly run per day.

Three communes: P01 completes on 20/03 and then edits a number after the deadline; P02 starts on
15/03 and never completes; P03 completes on 28/03. Each day the communes type, the run reads
everything as of that day (its clock set to 23:00 that day), and reminders go to a real SMTP
server on loopback. The history, late-edit findings, timeliness states and reminders are
checked against what must happen, day by day.

The communes are three units of the test config (tests/config), whose plan has the dates of the
2023 plan: self-inspection 10/03 – 31/03, deadline 31/03/2023.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import answers_for
from helpers import TEST_CONFIG_DIR, NoReport

from flows.config import load_config
from flows.core.layout import build_layout, make_key
from flows.sources.xlsx import write_template
from flows.store.history import History

pytestmark = pytest.mark.prefect
UNITS = ["P01", "P02", "P03"]
FIRST, LAST = date(2023, 3, 10), date(2023, 4, 5)
DONE = "Đã hoàn thành"
EDITED = make_key("C2", "nam", 2022)
EDITED_TOTAL = make_key("C2", "tong", 2022)


def scenario_config(tmp_path: Path, port: int) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, folder)
    path = folder / "reminders.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings["smtp"].update(host="127.0.0.1", port=port, security="none", username="")
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    # the town of this story has these three units only (a run over some units of a larger
    # town is a subset run, which writes elsewhere)
    path = folder / "units.yaml"
    registry = yaml.safe_load(path.read_text(encoding="utf-8"))
    registry["units"] = [u for u in registry["units"] if u["code"] in UNITS]
    path.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    return folder


def typed_on(code: str, day: date, full: dict) -> dict | None:
    """What the commune's workbook holds at the end of `day` (None: no change that day)."""
    keys = sorted(k for k in full if k not in (make_key("TT.6"), make_key("TT.7")))
    prefill = {k: full[k] for k in (make_key("TT.1"), make_key("TT.2"))}

    def share(fraction: float, done: date | None = None) -> dict:
        picked = dict(prefill, **{k: full[k] for k in keys[: int(len(keys) * fraction)]})
        picked[make_key("TT.6")] = DONE if done else "Đang nhập"
        if done:
            picked[make_key("TT.7")] = done
        return picked

    plans = {
        "P01": {date(2023, 3, 10): 0.3, date(2023, 3, 15): 0.7, date(2023, 3, 20): "done",
                date(2023, 4, 2): "edit"},
        "P02": {date(2023, 3, 10): 0.0, date(2023, 3, 15): 0.2, date(2023, 3, 26): 0.4,
                date(2023, 3, 29): 0.5},
        "P03": {date(2023, 3, 10): 0.5, date(2023, 3, 28): "done"},
    }
    step = plans[code].get(day)
    if step is None:
        return None
    if step == 0.0:
        return dict(prefill)
    if step == "done":
        return share(1.0, day)
    if step == "edit":
        edited = share(1.0, date(2023, 3, 20))
        edited[EDITED] = int(full[EDITED]) + 2
        edited[EDITED_TOTAL] = int(full[EDITED_TOTAL]) + 2
        return edited
    return share(step)


def expected_state(code: str, day: date) -> str:
    if code == "P01":
        return "Hoàn thành đúng hạn" if day >= date(2023, 3, 20) else "Đang nhập"
    if code == "P03":
        return "Hoàn thành đúng hạn" if day >= date(2023, 3, 28) else "Đang nhập"
    if day > date(2023, 3, 31):
        return "Quá hạn chưa hoàn thành"
    return "Chưa bắt đầu" if day < date(2023, 3, 15) else "Đang nhập"


# The first night, the deadline (a reminder day) and a night after it with a late edit run as
# real flow runs; the other nights run the same steps without Prefect.
REAL_FLOW_RUNS = {date(2023, 3, 10), date(2023, 3, 30), date(2023, 4, 3)}

EXPECTED_REMINDERS = {  # reminder days (−7, −3, −1, +1 around 31/03): who gets an email
    date(2023, 3, 24): {"P02", "P03"},
    date(2023, 3, 28): {"P02"},  # P03 completed that day; P02 typed more on 26/03
    date(2023, 3, 30): {"P02"},  # P02 typed more on 29/03
    date(2023, 4, 1): set(),  # P02 unchanged since the last reminder: not sent again
}


@pytest.mark.longest
def test_three_weeks_of_nights(tmp_path, smtp_inbox, monkeypatch, prefect_api):
    from flows.consolidate import consolidate_flow, run_consolidation

    config_dir = scenario_config(tmp_path, smtp_inbox.port)
    config = load_config(config_dir)
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    full = {code: answers_for(config, code, seed=5) for code in UNITS}
    tz = config.plan.tz
    monkeypatch.setenv("GIAMSAT_SMTP_PASSWORD", "unused")
    day = FIRST
    while day <= LAST:
        for code in UNITS:
            typed = typed_on(code, day, full[code])
            if typed is None:
                continue
            path = source / f"{code}.xlsx"
            write_template(build_layout(config, config.units.by_code()[code]), path, typed)
            edited_at = datetime(day.year, day.month, day.day, 15, 0, tzinfo=tz).timestamp()
            os.utime(path, (edited_at, edited_at))
        before = len(smtp_inbox.messages)
        night = datetime(day.year, day.month, day.day, 23, 0, tzinfo=tz)
        if day in REAL_FLOW_RUNS:  # a real Prefect flow run on these nights
            summary = consolidate_flow(str(source), str(out), day, str(config_dir), None,
                                       None, reminders="send", now=night, pdf=False)
        else:  # the same steps, called plainly: the story costs its work, not Prefect's
            summary = run_consolidation(str(source), str(out), day, str(config_dir), None,
                                        None, reminders="send", now=night, pdf=False,
                                        steps=NoReport()).summary
        assert summary.units_expected == 3
        status = pd.read_csv(out / "status.csv", keep_default_na=False).set_index("unit_code")
        for code in UNITS:
            assert status.loc[code, "timeliness"] == expected_state(code, day), (code, day)
        if day > date(2023, 3, 31):
            assert status.loc["P02", "days_late"] == (day - date(2023, 3, 31)).days
        arrived = {m.message["X-Giamsat-Unit"] for m in smtp_inbox.messages[before:]}
        assert arrived == EXPECTED_REMINDERS.get(day, set()), (day, arrived)
        findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
        late = findings[findings.rule.isin(["changed-after-deadline", "changed-after-complete"])]
        if day < date(2023, 4, 2):
            assert late.empty, (day, late.message.tolist())
        else:
            assert set(zip(late.unit_code, late.rule, late.indicator, late.breakdown,
                           strict=True)) == {("P01", "changed-after-deadline", "C2", "nam"),
                                             ("P01", "changed-after-deadline", "C2", "tong")}
            nam = late[late.breakdown == "nam"].iloc[0]
            old, new = full["P01"][EDITED], int(full["P01"][EDITED]) + 2
            assert f"từ {old} thành {new}" in nam.message and "02/04/2023" in nam.message
            assert nam.cell == build_layout(config).by_key[EDITED].cell
        day += timedelta(days=1)

    with History(folder=out / "state") as history:
        log = history.changes("P01", EDITED)
        assert [str(v) for v in log["new"]] == [str(full["P01"][EDITED]),
                                                str(int(full["P01"][EDITED]) + 2)]
        first_seen, edited = pd.to_datetime(log["read_at"], utc=True)
        assert first_seen.tz_convert(tz).date() == date(2023, 3, 15)  # typed on 15/03
        assert edited.tz_convert(tz).date() == date(2023, 4, 2)
        assert history.first_complete()["P01"].astimezone(tz).date() == date(2023, 3, 20)
        assert "P02" not in history.first_complete()
    # one email per reminder, each in Vietnamese with the deadline
    subjects = [m.message["Subject"] for m in smtp_inbox.messages]
    assert len(subjects) == sum(len(v) for v in EXPECTED_REMINDERS.values())
