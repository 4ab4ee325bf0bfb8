"""The final report uses approved data (issue 12, item 4).

Whole runs without Prefect (`run_consolidation(..., steps=PlainSteps())`) over the test config,
nights at 23:00 (`now=`), the office's decisions recorded in the review store at 09:00:

* a unit approved, then edited: the final run's values.csv, totals and appendix use the number
  it had when approved, section I says so; the draft of the same night uses the live number;
* every other unit is used as it stands, listed with its review state (returned: the reason);
* the data-quality paragraph and Phụ lục II count each unit's findings of the period open,
  explained, accepted and fixed, with the median days from first seen to fixed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import answers_for
from docx import Document
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from helpers import TEST_CONFIG_DIR

from flows.consolidate import PlainSteps, run_consolidation
from flows.core import review as core
from flows.core.layout import build_layout
from flows.core.vnformat import auto
from flows.sources.xlsx import write_template
from flows.store.history import History
from flows.store.review import ReviewStore

# whole runs over simulated nights: the inner loop (`-m "not slow"`) leaves them to CI
pytestmark = pytest.mark.slow

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
EDITED = "B1.1||2022"  # a key indicator: its town total is a sentence of section II
REASON = "Kiểm tra lại mục B1"
BLANKED = "B1.1||2021"  # left blank by P03: never complete, never submitted


def night(day: int, hour: int = 23) -> datetime:
    return datetime(2023, 3, day, hour, tzinfo=HCM)


class Town:
    """A source folder, an output folder and the nights run over them."""

    def __init__(self, config, root: Path):
        self.config = config
        self.source, self.out = root / "nguon", root / "ket-qua"
        self.source.mkdir()

    def write(self, code: str, answers: dict) -> None:
        unit = self.config.units.by_code()[code]
        write_template(build_layout(self.config, unit), self.source / f"{code}.xlsx", answers)

    def run(self, moment: datetime, final: bool = False):
        outcome = run_consolidation(str(self.source), str(self.out), moment.date(),
                                    str(TEST_CONFIG_DIR), final=final, reminders="off",
                                    pdf=False, steps=PlainSteps(), now=moment)
        return Path(outcome.summary.out_dir)

    def decide(self, unit: str, action: str, at: datetime, reason: str = "") -> None:
        with History(folder=self.out / "state") as history:
            ReviewStore(history, core.review_period(self.config)).decide_unit(
                unit, action, "Chị Lan", at, reason=reason)


def table(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def body(folder: Path) -> str:
    document = Document(str(folder / "bao-cao.docx"))
    return "\n".join(Paragraph(p, document).text
                     for p in document.element.body.iter(qn("w:p")))


def appendix_cell(folder: Path, label: str, column: str, year: str) -> str:
    """The text of one unit's cell in the appendix tables of the Word report: the row of
    `label`, the column headed by indicator `column` (its "B1.1." heading) and `year`."""
    for grid in Document(str(folder / "bao-cao.docx")).tables:
        rows = [[c.text for c in row.cells] for row in grid.rows]
        if len(rows) < 3:
            continue
        heads = list(zip(rows[0], rows[1], strict=True))
        for j, (item, when) in enumerate(heads):
            if item.startswith(f"{column}. ") and when == f"Năm {year}":
                return next(r[j] for r in rows if r[1] == label)
    raise AssertionError(f"no cell {label} × {column} {year}")


# --------------------------------------------------------------------------- approved numbers


@pytest.fixture(scope="module")
def approved_story(config, tmp_path_factory):
    """20/03: every unit but X03 sends its workbook (P03 leaves one required cell blank).
    21/03 09:00: the office approves P01 and P02 and returns X02. 21/03 23:00: P01 adds 5 to
    B1.1 of 2022 (edited after approval). 22/03 10:00: the final run."""
    town = Town(config, tmp_path_factory.mktemp("final"))
    answers = {code: answers_for(config, code) for code in ("P01", "P02", "P03", "X01", "X02")}
    del answers["P03"][BLANKED]
    for code, typed in answers.items():
        town.write(code, typed)
    town.run(night(20))
    town.decide("P01", core.APPROVE, night(21, 9))
    town.decide("P02", core.APPROVE, night(21, 9))
    town.decide("X02", core.RETURN, night(21, 9), reason=REASON)
    town.write("P01", {**answers["P01"], EDITED: int(answers["P01"][EDITED]) + 5})
    draft = town.run(night(21))
    final = town.run(night(22, 10), final=True)
    return town, answers, draft, final


def test_the_final_values_are_the_approved_ones_the_draft_keeps_the_live_ones(approved_story):
    _, answers, draft, final = approved_story
    approved, live = int(answers["P01"][EDITED]), int(answers["P01"][EDITED]) + 5
    before, after = table(draft, "values.csv"), table(final, "values.csv")
    edited = (before["unit_code"] == "P01") & (before["indicator"] == "B1.1") & (
        before["year"] == "2022")
    assert before.loc[edited, "value"].tolist() == [str(live)]
    assert after.loc[edited, "value"].tolist() == [str(approved)]
    # every other value, its sheet and cell, is the same in both: only the edit differs
    assert after.drop(columns="value").equals(before.drop(columns="value"))
    assert (after["value"] != before["value"]).sum() == 1
    assert table(final, "lists.csv").equals(table(draft, "lists.csv"))  # lists: live


def test_the_final_totals_and_appendix_come_from_the_approved_numbers(approved_story):
    _, answers, draft, final = approved_story
    approved = int(answers["P01"][EDITED])
    others = sum(int(answers[c][EDITED]) for c in ("P02", "P03", "X01", "X02"))
    assert appendix_cell(final, "Phường Tứ Hạ", "B1.1", "2022") == auto(approved)
    assert appendix_cell(draft, "Phường Tứ Hạ", "B1.1", "2022") == auto(approved + 5)
    assert f"Năm 2022, toàn thị xã có {auto(approved + others)} buổi tuyên truyền" \
        in body(final)
    assert f"Năm 2022, toàn thị xã có {auto(approved + 5 + others)} buổi tuyên truyền" \
        in body(draft)


def test_status_says_which_numbers_each_unit_was_consolidated_with(approved_story):
    _, _, draft, final = approved_story
    status = table(final, "status.csv").set_index("unit_code")
    assert status[["review_state", "approved_at", "numbers_used"]].to_dict("index") == {
        "P01": {"review_state": "sửa sau khi duyệt", "approved_at": "2023-03-21T09:00:00+07:00",
                "numbers_used": "số liệu đã duyệt"},
        "P02": {"review_state": "đã duyệt", "approved_at": "2023-03-21T09:00:00+07:00",
                "numbers_used": "số liệu đã duyệt"},
        "P03": {"review_state": "chưa nộp", "approved_at": "",
                "numbers_used": "số liệu hiện tại"},
        "X01": {"review_state": "đã nộp", "approved_at": "", "numbers_used": "số liệu hiện tại"},
        "X02": {"review_state": "trả lại", "approved_at": "", "numbers_used": "số liệu hiện tại"},
        "X03": {"review_state": "chưa nộp", "approved_at": "",
                "numbers_used": "số liệu hiện tại"},
    }
    assert set(table(draft, "status.csv")["numbers_used"]) == {"số liệu hiện tại"}
    columns = list(status.reset_index().columns)
    assert columns[-6:] == ["review_state", "reviewed_by", "reviewed_at", "review_note",
                            "approved_at", "numbers_used"]


def test_section_one_of_the_final_report_says_whose_numbers_are_approved(approved_story):
    _, _, draft, final = approved_story
    lines = body(final).split("\n")
    assert ("- Tổng hợp theo số liệu đã được Phòng LĐTBXH duyệt (2 đơn vị): Phường Tứ Hạ (đã "
            "sửa sau khi duyệt, dùng số liệu đã duyệt ngày 21/03/2023); Phường Hương Văn "
            "(duyệt ngày 21/03/2023).") in lines
    assert ("- Tổng hợp theo số liệu hiện tại, chưa được duyệt (4 đơn vị): Phường Hương Vân "
            "(chưa nộp); Xã Hương Toàn (đã nộp); Xã Bình Tiến (trả lại: Kiểm tra lại mục B1); "
            "Xã Bình Thành (chưa nộp).") in lines
    assert not any(line.startswith("- Tình hình duyệt số liệu") for line in lines)
    # the draft keeps its one line on the review, and says nothing of approved numbers
    drafted = body(draft).split("\n")
    assert ("- Tình hình duyệt số liệu: đã duyệt 1 đơn vị (Phường Hương Văn); trả lại 1 đơn vị "
            "(Xã Bình Tiến); sửa sau khi duyệt 1 đơn vị (Phường Tứ Hạ).") in drafted
    assert not any(line.startswith("- Tổng hợp theo số liệu") for line in drafted)


# --------------------------------------------------------------------------- findings' lives


@pytest.fixture(scope="module")
def fixing_story(config, tmp_path_factory):
    """Four nights, 20–23/03, and the decisions between them:

    * P02 types “mười” in B5.1 (2021), fixed on 22/03: its three findings fixed in 2 days;
    * X01 leaves B1.1 (2021) and D4 blank, fills B1.1 on 21/03 (tab B's missing cells fixed
      in 1 day) and D4 on 23/03 (tab D's, and "complete but missing", fixed in 3 days);
    * both were typed as completed on 10/03 but seen incomplete later: a warning each;
    * P01's B1.2 of 2022 is four times 2021's: two outlier warnings, accepted by the office;
    * X02 has the same outlier, and explains one of the two warnings;
    * X03 never sends its workbook."""
    town = Town(config, tmp_path_factory.mktemp("fixing"))
    typed = {code: answers_for(config, code) for code in ("P01", "P02", "P03", "X01", "X02")}
    for code in ("P01", "X02"):
        typed[code]["B1.2||2022"] = int(typed[code]["B1.2||2021"]) * 4
    fixed = {code: dict(answers) for code, answers in typed.items()}
    typed["P02"]["B5.1||2021"] = "mười"
    typed["X01"] = {k: v for k, v in typed["X01"].items() if k not in ("B1.1||2021", "D4||")}
    for code, answers in typed.items():
        town.write(code, answers)
    first = table(town.run(night(20)), "findings.csv")

    def found(unit: str, rule: str) -> str:
        [fid] = first.loc[(first["unit_code"] == unit) & (first["rule"] == rule), "finding_id"]
        return fid

    with History(folder=town.out / "state") as history:
        store = ReviewStore(history, core.review_period(config))
        store.decide_finding(found("P01", "outlier-over-time"), core.ACCEPT, "Chị Lan",
                             night(21, 9), note="Năm 2022 có thêm một trung tâm")
        store.decide_finding(found("P01", "outlier-across-units"), core.DISMISS, "Chị Lan",
                             night(21, 9))
        store.decide_finding(found("X02", "outlier-over-time"), core.EXPLAIN,
                             "UBND xã Bình Tiến", night(21, 10),
                             explanation="Năm 2022 tổ chức thêm hội thi", actor=core.COMMUNE)
    town.write("X01", {k: v for k, v in fixed["X01"].items() if k != "D4||"})
    town.run(night(21))
    town.write("P02", fixed["P02"])
    town.run(night(22))
    town.write("X01", fixed["X01"])
    return town, town.run(night(23))


def test_the_data_quality_appendix_counts_each_units_findings_of_the_period(fixing_story):
    _, out = fixing_story
    [grid] = [g for g in Document(str(out / "bao-cao.docx")).tables
              if g.rows[0].cells[-1].text == "Số ngày đến khi sửa (trung vị)"]
    rows = [[c.text for c in row.cells] for row in grid.rows]
    assert rows[0] == ["STT", "Đơn vị", "Số lỗi", "Số cảnh báo", "Lỗi phải sửa",
                       "Cảnh báo cần rà soát", "Chưa xử lý", "Đã giải trình",
                       "Chấp nhận, không phải lỗi", "Đã sửa", "Số ngày đến khi sửa (trung vị)"]
    counted = [[r[1], *r[2:4], *r[6:]] for r in rows[1:]]
    assert counted == [
        ["Phường Tứ Hạ", "0", "2", "0", "0", "2", "0", ""],
        ["Phường Hương Văn", "0", "1", "1", "0", "0", "3", "2"],
        ["Xã Hương Toàn", "0", "1", "1", "0", "0", "3", "3"],  # the median of 1, 3 and 3
        ["Xã Bình Tiến", "0", "2", "1", "1", "0", "0", ""],
        ["Xã Bình Thành", "0", "1", "1", "0", "0", "0", ""],
        ["Tổng cộng", "0", "7", "4", "1", "2", "6", "2"],  # the median of all six fixed
    ]
    # the open ones are what still fires: the typed completion dates, the missing workbook
    findings = table(out, "findings.csv")
    assert sorted(zip(findings["unit_code"], findings["rule"], findings["state"],
                      strict=True)) == [
        ("P01", "outlier-across-units", "không phải lỗi"), ("P01", "outlier-over-time",
                                                             "chấp nhận"),
        ("P02", "completion-date-disagrees", "mới"), ("X01", "completion-date-disagrees", "mới"),
        ("X02", "outlier-across-units", "mới"), ("X02", "outlier-over-time", "đã giải trình"),
        ("X03", "no-workbook", "mới")]


def test_the_data_quality_paragraph_says_how_many_were_fixed_and_how_fast(fixing_story):
    _, out = fixing_story
    quality = body(out).split("2. Chất lượng số liệu\n")[1].split("\nII. KẾT QUẢ")[0]
    assert quality.endswith(
        "Phòng LĐTBXH đã chấp nhận giải trình hoặc xác định không phải lỗi đối với 2 phát hiện "
        "khác. Trong số trên, 1 phát hiện đơn vị đã giải trình, đang chờ Phòng LĐTBXH xem xét. "
        "Trong kỳ, các đơn vị đã sửa 6 lỗi, cảnh báo (trung vị 2 ngày từ khi phát hiện đến khi "
        "sửa).")


def test_the_lives_behind_the_counts_are_the_stores(fixing_story, config):
    """The counts are the review store's: first seen and fixed at the nights' moments."""
    town, _ = fixing_story
    with History(folder=town.out / "state") as history:
        states = ReviewStore(history, core.review_period(config)).finding_states()
    fixed = sorted((s.unit_code, s.rule, s.first_seen, s.state_changed)
                   for s in states.values() if s.state == core.FIXED)
    assert fixed == [
        ("P02", "complete-but-missing", night(20), night(22)),
        ("P02", "missing-required", night(20), night(22)),
        ("P02", "number-in-words", night(20), night(22)),
        ("X01", "complete-but-missing", night(20), night(23)),
        ("X01", "missing-required", night(20), night(21)),
        ("X01", "missing-required", night(20), night(23)),
    ]
    lives = core.finding_lives(states.values())
    counts = core.finding_counts(lives).set_index("unit_code")
    assert counts.loc["X01", "days_to_fix"] == 3.0  # the median of 1, 3 and 3 days
    assert counts.loc["P02", "days_to_fix"] == 2.0
    assert pd.isna(counts.loc["P01", "days_to_fix"])


# --------------------------------------------------------------------------- the history


def test_values_as_of_a_moment_are_those_the_runs_before_it_read(tmp_path):
    """Per cell, the value recorded last by a run read before the moment; a run at the very
    moment comes after it (a decision is applied before that night is recorded)."""
    def read(cells: dict[str, object]) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = pd.DataFrame([("P01", key.split("|")[0], "", int(key.split("|")[2]), value,
                               "B", f"E{n}") for n, (key, value) in enumerate(cells.items())],
                             columns=["unit_code", "indicator", "breakdown", "year", "value",
                                      "sheet", "cell"])
        frame["year"] = frame["year"].astype("Int64")
        return frame, pd.DataFrame([{"unit_code": "P01", "found": True, "access": "",
                                     "submission_status": "", "complete": False,
                                     "modified": ""}])

    with History(folder=tmp_path) as history:
        history.record("r1", night(20), *read({"B1.1||2021": 12, "B1.2||2021": 40}))
        history.record("r2", night(21), *read({"B1.1||2021": 15}))  # B1.2 deleted
        history.record("r3", night(22), *read({"B1.1||2021": 15, "B1.2||2021": 41}))

        def as_of(moment: datetime) -> dict[str, str] | None:
            frame = history.values_as_of("P01", moment)
            return None if frame is None else dict(zip(frame["key"], frame["value"],
                                                       strict=True))

        assert as_of(night(20, 22)) is None  # no run had read it yet
        assert as_of(night(21, 9)) == {"B1.1||2021": "12", "B1.2||2021": "40"}
        assert as_of(night(21)) == {"B1.1||2021": "12", "B1.2||2021": "40"}  # r2 comes after
        assert as_of(night(22, 9)) == {"B1.1||2021": "15"}
        assert as_of(night(23)) == {"B1.1||2021": "15", "B1.2||2021": "41"}
        assert history.values_as_of("X01", night(23)) is None


def test_without_a_usable_history_the_final_report_says_every_unit_is_live(config):
    from flows.core.approved import with_numbers_used
    from flows.outputs.report.content import numbers_lines
    from flows.outputs.report.wording import config_wording

    status = with_numbers_used(pd.DataFrame({"unit_code": ["P01", "X01"]}).assign(
        **dict.fromkeys(core.STATUS_COLUMNS, "")), (), config.catalogue)
    names = {"P01": "Phường Tứ Hạ", "X01": "Xã Hương Toàn"}
    assert numbers_lines(status, names, config_wording(config), config.catalogue) == [
        "- Chưa đọc được tình hình duyệt số liệu (lịch sử kiểm tra không dùng được): tổng hợp "
        "theo số liệu hiện tại của các đơn vị."]
