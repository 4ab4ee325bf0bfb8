"""Completeness, timeliness and outliers on small hand-made tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from helpers import rendered

from flows.config import Config, Outliers, Quality
from flows.core.completeness import completeness
from flows.core.findings import ERROR, WARNING
from flows.core.locate import Locator
from flows.core.outliers import outlier_findings, time_outliers, unit_outliers
from flows.core.timeliness import (
    IN_PROGRESS,
    LATE,
    NOT_STARTED,
    ON_TIME,
    OVERDUE,
    as_of_date,
    reporting_rate,
    timeliness,
    timeliness_findings,
)
from flows.core.wide import Wide, build_wide

DEADLINE = date(2023, 3, 31)


def values_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["unit_code", "indicator", "breakdown", "year", "value"])
    frame["year"] = frame["year"].astype("Int64")
    frame["sheet"], frame["cell"] = "B. Bảo đảm quyền trẻ em", "E9"
    return frame


# --------------------------------------------------------------------------- completeness


def test_a_typed_zero_is_filled_and_a_blank_is_missing(layout):
    values = values_frame([("P01", "B1.1", "", 2021, 0), ("P01", "B1.1", "", 2022, 5)])
    frame = completeness(values, layout, ["P01", "P02"]).set_index("unit_code")
    assert frame.loc["P01", "required_filled"] == 2
    assert frame.loc["P01", "zero_values"] == 1
    assert frame.loc["P02", "required_filled"] == 0 and frame.loc["P02", "completeness"] == 0
    assert frame.loc["P01", "completeness_B"] > 0 and frame.loc["P01", "completeness_C"] == 0
    assert frame.loc["P01", "started"] and not frame.loc["P02", "started"]


def test_only_the_prefilled_name_and_code_is_not_started(layout):
    values = values_frame([("P01", "TT.1", "", None, "Phường Tứ Hạ"),
                           ("P01", "TT.2", "", None, "P01")])
    frame = completeness(values, layout, ["P01"]).set_index("unit_code")
    assert frame.loc["P01", "required_filled"] == 2 and not frame.loc["P01", "started"]


# --------------------------------------------------------------------------- timeliness


def status_row(code="P01", filled=10, total=10, status="Đã hoàn thành", done="2023-03-20",
               started=True, found=True) -> dict:
    return dict(unit_code=code, unit_name=f"Phường {code}", required_filled=filled,
                required_total=total, submission_status=status, completion_date=done,
                started=started, found=found)


def states(config, rows, as_of):
    frame = timeliness(pd.DataFrame(rows), config, as_of)
    return list(zip(frame["timeliness"], frame["days_late"], strict=True)), frame


def test_the_deadline_day_itself_is_on_time(config):
    got, _ = states(config, [status_row(done="2023-03-31"), status_row(done="2023-04-01")],
                    date(2023, 4, 5))
    assert got == [(ON_TIME, 0), (LATE, 1)]


def test_complete_needs_the_status_and_every_required_cell(config):
    rows = [status_row(filled=9), status_row(status="Đang nhập", done="")]
    got, frame = states(config, rows, DEADLINE)
    assert got == [(IN_PROGRESS, 0), (IN_PROGRESS, 0)]
    assert not frame["complete"].any()
    got, _ = states(config, rows, date(2023, 4, 3))
    assert got == [(OVERDUE, 3), (OVERDUE, 3)]


def test_not_started_before_the_deadline(config):
    got, _ = states(config, [status_row(filled=2, status="", done="", started=False)],
                    date(2023, 3, 15))
    assert got == [(NOT_STARTED, 0)]


@pytest.mark.parametrize("utc, local_day", [
    (datetime(2023, 3, 31, 16, 30, tzinfo=UTC), date(2023, 3, 31)),  # 23:30 in Huế
    (datetime(2023, 3, 31, 17, 30, tzinfo=UTC), date(2023, 4, 1)),  # 00:30 next day
])
def test_as_of_is_the_day_in_asia_ho_chi_minh(config, utc, local_day):
    assert as_of_date(config.plan.tz, utc) == local_day


def _findings(config, layout, rows, as_of):
    frame = timeliness(pd.DataFrame(rows), config, as_of)
    locator = Locator(values_frame([]), layout)
    return {(f.unit_code, f.rule, f.severity, f.cell) for f in
            rendered(timeliness_findings(frame, config, layout, as_of, locator))}


def test_saying_complete_with_cells_missing_is_an_error_at_the_status_cell(config, layout):
    found = _findings(config, layout, [status_row(filled=7)], DEADLINE)
    status_cell = layout.role("status").cell
    assert ("P01", "complete-but-missing", ERROR, status_cell) in found


def test_completion_dates_that_cannot_be_right(config, layout):
    date_cell = layout.role("completion_date").cell
    rows = [status_row("P01", done="2023-04-20"), status_row("P02", done="2023-02-01"),
            status_row("P03", status="Đang nhập", done="2023-03-20"),
            status_row("X01", done="")]
    found = _findings(config, layout, rows, date(2023, 3, 31))
    assert ("P01", "completion-date-future", ERROR, date_cell) in found
    assert ("P02", "completion-date-early", WARNING, date_cell) in found
    assert ("P03", "completion-date-without-status", WARNING, date_cell) in found
    assert ("X01", "completion-date-missing", WARNING, date_cell) in found


def test_late_and_overdue_units_are_named(config, layout):
    rows = [status_row("P01", done="2023-04-02"), status_row("P02", filled=3, status="")]
    found = _findings(config, layout, rows, date(2023, 4, 5))
    assert {(c, r) for c, r, *_ in found} >= {("P01", "completed-late"), ("P02", "overdue")}


def test_reporting_rate_is_counted_from_the_registry(config):
    rows = [status_row("P01"), status_row("P02", done="2023-04-02"),
            status_row("P03", filled=1, status="", done="", started=False, found=False)]
    frame = timeliness(pd.DataFrame(rows), config, date(2023, 4, 5))
    rate = reporting_rate(frame, date(2023, 4, 5)).iloc[0]
    assert (rate.units_expected, rate.units_complete, rate.units_on_time) == (3, 2, 1)
    assert rate.reporting_rate == pytest.approx(66.7) and rate.on_time_rate == pytest.approx(33.3)


# --------------------------------------------------------------------------- outliers


def wide_of(config, layout, table: dict[str, dict[int, float]], column="B1.2|") -> Wide:
    """units → {year: value} for one column; everything else blank."""
    rows = [(u, column.split("|")[0], column.split("|")[1], y, v)
            for u, years in table.items() for y, v in years.items()]
    return build_wide(values_frame(rows), layout, config.form, list(table))


def test_change_over_time_flags_big_moves_on_big_bases_only(config, layout):
    wide = wide_of(config, layout, {
        "P01": {2021: 100, 2022: 180},  # +80%: flagged
        "P02": {2021: 100, 2022: 120},  # +20%: fine
        "P03": {2021: 1, 2022: 2},  # 1 → 2 is not an alarm
        "X01": {2021: 12, 2022: 17},  # +42% but only +5 on a small base… base ≥ 10: flagged
    })
    flags = time_outliers(wide, config)
    assert set(flags["unit_code"]) == {"P01", "X01"}
    p01 = flags.set_index("unit_code").loc["P01"]
    assert (p01.year, p01.baseline, round(p01.change_pct)) == (2022, 100, 80)


def test_a_partial_year_is_compared_for_stocks_only(config, layout):
    flows = wide_of(config, layout, {"P01": {2021: 100, 2022: 100, 2023: 25}})  # Q1 only
    assert time_outliers(flows, config).empty
    stocks = wide_of(config, layout, {"P01": {2021: 100, 2022: 100, 2023: 25}}, "C2|tong")
    assert set(time_outliers(stocks, config)["year"]) == {2023}


def test_a_unit_with_no_history_is_not_compared(config, layout):
    assert time_outliers(wide_of(config, layout, {"P01": {2022: 500}}), config).empty


def test_modified_z_across_units(config, layout):
    table = {f"U{i}": {2021: v} for i, v in enumerate([40, 42, 45, 38, 41, 44, 39, 400])}
    wide = wide_of(config, layout, table)
    flags = unit_outliers(wide, config)
    assert flags["unit_code"].tolist() == ["U7"]
    row = flags.iloc[0]
    mad = max(np.median(np.abs(np.array([40, 42, 45, 38, 41, 44, 39, 400]) - 41.5)), 41.5 * 0.2)
    assert row.z == pytest.approx(0.6745 * (400 - 41.5) / mad)


def test_too_few_units_or_zero_spread_skips_the_comparison(config, layout):
    few = wide_of(config, layout, {f"U{i}": {2021: v} for i, v in enumerate([1, 1, 900])})
    assert unit_outliers(few, config).empty
    zeros = wide_of(config, layout, {f"U{i}": {2021: v} for i, v in enumerate([0] * 7 + [3])})
    assert unit_outliers(zeros, config).empty


def test_outlier_findings_are_warnings_that_state_method_and_baseline(config, layout):
    table = {f"U{i}": {2021: v, 2022: v} for i, v in enumerate([40, 42, 45, 38, 41, 44, 39])}
    table["U7"] = {2021: 40, 2022: 400}
    wide = wide_of(config, layout, table)
    locator = Locator(values_frame([]), layout)
    found = rendered(outlier_findings(wide, config, locator, {"U7": "Xã Thử"}))
    assert {f.rule for f in found} == {"outlier-over-time", "outlier-across-units"}
    assert all(f.severity == WARNING and f.unit_code == "U7" for f in found)
    over_time = next(f for f in found if f.rule == "outlier-over-time")
    assert "±33%" in over_time.message and "2021" in over_time.message
    assert over_time.expected == "26,8 – 53,2" and over_time.cell == layout.by_key[
        "B1.2||2022"].cell
    across = next(f for f in found if f.rule == "outlier-across-units")
    assert "MAD" in across.message and "trung vị" in across.message


def test_thresholds_come_from_config(config, layout):
    strict = Config(directory=config.directory, form=config.form, units=config.units,
                    plan=config.plan, quality=Quality(outliers=Outliers(change_pct=10)))
    wide = wide_of(config, layout, {"P01": {2021: 100, 2022: 120}})
    assert time_outliers(wide, config).empty and len(time_outliers(wide, strict)) == 1


def test_blank_required_cells_are_listed_once_per_tab(config, layout):
    from flows.core.completeness import missing_findings

    values = values_frame([("P01", "B1.1", "", 2021, 0)])
    status = completeness(values, layout, ["P01", "P02"])
    found = rendered(missing_findings(values, layout, status, {"P01": "Phường Tứ Hạ"}))
    assert {f.unit_code for f in found} == {"P01"}  # P02 has not started
    by_tab = {f.sheet: f for f in found}
    b_tab = by_tab["B. Bảo đảm quyền trẻ em"]
    first_blank = layout.by_key["B1.1||2022"].cell
    assert b_tab.cell == first_blank and first_blank in b_tab.message
    assert b_tab.severity == WARNING and b_tab.unit_name == "Phường Tứ Hạ"
    assert len(found) == len({c.tab for c in layout.inputs if c.required and c.list_row is None})


def answered_except(layout, *blank: str) -> pd.DataFrame:
    """P01 answered every required cell but the `blank` keys."""
    return values_frame([("P01", c.indicator, c.breakdown, c.year, 1) for c in layout.inputs
                         if c.required and c.list_row is None and c.key not in blank])


def blank_cells_finding(layout, *blank: str):
    from flows.core.completeness import missing_findings

    values = answered_except(layout, *blank)
    status = completeness(values, layout, ["P01"])
    [found] = rendered(missing_findings(values, layout, status, {"P01": "Phường Tứ Hạ"}))
    return found


def test_a_commune_leaving_text_cell_d2_blank_is_told_what_to_write_not_to_type_0(layout):
    d2 = layout.by_key["D2||"]
    found = blank_cells_finding(layout, d2.key)
    assert found.message == ("Còn 1 ô bắt buộc chưa có nội dung hợp lệ (trống hoặc nhập sai) ở "
                             f"trang “D. Đánh giá, đề xuất”: {d2.cell}")
    assert found.instruction == "Ghi nội dung vào ô này; không có thì ghi “Không có”."


def test_blank_number_cells_are_told_to_type_0_when_there_is_none(layout):
    cells = [layout.by_key[f"B1.4||{year}"] for year in (2021, 2022)]
    found = blank_cells_finding(layout, *(c.key for c in cells))
    assert found.message == ("Còn 2 ô bắt buộc chưa có số liệu hợp lệ (trống hoặc nhập sai) ở "
                             f"trang “B. Bảo đảm quyền trẻ em”: {cells[0].cell}, {cells[1].cell}")
    assert found.instruction == "Nhập số liệu vào các ô này (không có thì nhập 0)."


def test_a_tab_with_blank_cells_of_several_kinds_says_what_goes_in_each(layout):
    """The reporter's name, the status dropdown and a number left blank on the first tab:
    a 0 only for the number."""
    keys = ("TT.3||", "TT.6||", "TT.8||2021")
    found = blank_cells_finding(layout, *keys)
    cells = ", ".join(layout.by_key[k].cell for k in keys)
    assert found.message == ("Còn 3 ô bắt buộc chưa có nội dung hợp lệ (trống hoặc nhập sai) ở "
                             f"trang “Thông tin chung”: {cells}")
    assert found.instruction == (
        "Ô số: nhập số liệu, không có thì nhập 0. Ô người báo cáo: ghi họ tên, chức vụ, số "
        "điện thoại. Ô chọn: chọn một giá trị trong danh sách thả xuống.")


def test_a_change_of_a_third_is_said_with_its_decimal_and_the_threshold_as_configured(
        config, layout):
    """30 → 40 is +33,3%, beyond ±33%: "tăng 33%" beside "ngưỡng ±33%" would not say why."""
    wide = wide_of(config, layout, {"P01": {2021: 30, 2022: 40}})
    locator = Locator(values_frame([]), layout)
    [found] = rendered(outlier_findings(wide, config, locator, {"P01": "Phường Tứ Hạ"}))
    assert found.message == ("Năm 2022: 40, tăng 33,3% so với trung bình 2021 (30). Phương "
                             "pháp: so với các năm trước của đơn vị, ngưỡng ±33%.")
    strict = Config(directory=config.directory, form=config.form, units=config.units,
                    plan=config.plan, quality=Quality(outliers=Outliers(change_pct=12.5)))
    wide = wide_of(config, layout, {"P01": {2021: 40, 2022: 30}})
    [found] = rendered(outlier_findings(wide, strict, locator, {"P01": "Phường Tứ Hạ"}))
    assert found.message == ("Năm 2022: 30, giảm 25% so với trung bình 2021 (40). Phương "
                             "pháp: so với các năm trước của đơn vị, ngưỡng ±12,5%.")


def test_no_unit_has_typed_a_completion_date_yet(config, layout):
    rows = [status_row("P01", status="Đang nhập", done=""), status_row("P02", status="", done="")]
    assert _findings(config, layout, rows, date(2023, 3, 10)) == set()
