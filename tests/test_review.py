"""Review states of units and the life of findings (issue 12): the state machines, the store,
the automatic transitions over simulated nights, and `giamsat review` / `giamsat finding`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import answers_for
from helpers import TEST_CONFIG_DIR, catalogue

from flows.core import review as core
from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.review import Refused, finding_step, refusal_message, unit_step
from flows.sources.folder import FolderSource
from flows.store.history import History
from flows.store.review import ReviewStore, review_night

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AT = datetime(2023, 3, 20, 9, 0, tzinfo=HCM)


def at(day: int, hour: int = 1, month: int = 3) -> datetime:
    return datetime(2023, month, day, hour, tzinfo=HCM)


def said(refused: Refused) -> str:
    return refusal_message(catalogue(), refused)


def actor_of(action: str) -> str:
    return core.UNIT_ACTORS.get(action) or core.FINDING_ACTORS[action]


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(("state", "action"), sorted(core.UNIT_TRANSITIONS))
def test_every_allowed_unit_transition_records_who_when_why(state, action):
    step = unit_step(state, action, unit="P01", by="Chị Lan", at=AT, actor=actor_of(action),
                     reason="lý do", note="ghi chú")
    assert (step.from_state, step.to_state) == (state, core.UNIT_TRANSITIONS[(state, action)])
    assert (step.by, step.at, step.reason, step.note) == ("Chị Lan", AT.astimezone(UTC),
                                                          "lý do", "ghi chú")


REFUSED_UNIT = [(s, a) for s in core.UNIT_STATES for a in core.UNIT_ACTORS
                if (s, a) not in core.UNIT_TRANSITIONS]


@pytest.mark.parametrize(("state", "action"), REFUSED_UNIT)
def test_every_other_unit_transition_is_refused_with_a_catalogue_code(state, action):
    with pytest.raises(Refused) as caught:
        unit_step(state, action, unit="P01", by="x", at=AT, actor=actor_of(action),
                  reason="lý do")
    office = actor_of(action) == core.OFFICE
    expected = "review-not-submitted" if state == core.NOT_SUBMITTED and office \
        else "review-not-allowed"
    assert caught.value.code == expected
    assert said(caught.value).startswith("Không thể ")


def test_approving_a_unit_that_never_submitted_is_refused_in_vietnamese():
    with pytest.raises(Refused) as caught:
        unit_step(core.NOT_SUBMITTED, core.APPROVE, unit="P01", by="x", at=AT)
    assert said(caught.value) == (
        "Không thể duyệt đơn vị P01: đơn vị chưa nộp (chưa chọn “Đã hoàn thành” với đủ mọi ô "
        "bắt buộc). Chờ đơn vị nhập đủ và đánh dấu hoàn thành; lần tổng hợp sau sẽ tự chuyển "
        "đơn vị sang “đã nộp”.")


def test_approving_twice_names_the_state():
    with pytest.raises(Refused) as caught:
        unit_step(core.APPROVED, core.APPROVE, unit="P01", by="x", at=AT)
    assert said(caught.value) == (
        "Không thể duyệt đơn vị P01: đơn vị đang ở trạng thái “đã duyệt”. Xem trạng thái của "
        "các đơn vị bằng lệnh giamsat review --list.")


@pytest.mark.parametrize("reason", ["", "   "])
def test_returning_without_a_reason_is_refused(reason):
    with pytest.raises(Refused) as caught:
        unit_step(core.SUBMITTED, core.RETURN, unit="P01", by="x", at=AT, reason=reason)
    assert said(caught.value) == (
        "Cần ghi lý do khi trả lại đơn vị P01. Ghi lý do ngay sau --return, ví dụ: --return "
        "\"Mục C2 chưa khớp tổng số\".")


def test_approving_with_open_errors_needs_a_reason_and_records_it():
    with pytest.raises(Refused) as caught:
        unit_step(core.SUBMITTED, core.APPROVE, unit="P01", by="x", at=AT, open_errors=2)
    assert said(caught.value) == (
        "Đơn vị P01 còn 2 lỗi chưa được xử lý; duyệt khi còn lỗi phải ghi rõ lý do. Thêm "
        "--reason \"…\" để ghi lý do duyệt, hoặc trả lại đơn vị để sửa (--return \"lý do\").")
    step = unit_step(core.SUBMITTED, core.APPROVE, unit="P01", by="x", at=AT, open_errors=2,
                     reason="Đã xác minh qua điện thoại")
    assert step.to_state == core.APPROVED and step.reason == "Đã xác minh qua điện thoại"


def test_automated_checks_never_approve():
    with pytest.raises(Refused) as caught:
        unit_step(core.SUBMITTED, core.APPROVE, unit="P01", by=core.AUTO_BY, at=AT,
                  actor=core.AUTO)
    assert caught.value.code == "review-office-only"
    assert said(caught.value).startswith("Chỉ cán bộ phòng mới được duyệt đơn vị P01; kiểm tra "
                                         "tự động không bao giờ duyệt số liệu.")
    with pytest.raises(Refused) as caught:  # nor does the office "submit" for a commune
        unit_step(core.NOT_SUBMITTED, core.SUBMIT, unit="P01", by="x", at=AT)
    assert caught.value.code == "review-not-allowed"


# --------------------------------------------------------------------------- findings


@pytest.mark.parametrize(("state", "action"), sorted(core.FINDING_TRANSITIONS))
def test_every_allowed_finding_transition(state, action):
    step = finding_step(state, action, finding_id="abc123", by="Anh Minh", at=AT,
                        actor=actor_of(action), reason="lý do", explanation="năm 2023 có thêm "
                        "một trung tâm")
    assert step.to_state == core.FINDING_TRANSITIONS[(state, action)]
    assert (step.by, step.at, step.reason) == ("Anh Minh", AT.astimezone(UTC), "lý do")


REFUSED_FINDING = [(s, a) for s in core.FINDING_STATES for a in core.FINDING_ACTORS
                   if (s, a) not in core.FINDING_TRANSITIONS]


@pytest.mark.parametrize(("state", "action"), REFUSED_FINDING)
def test_every_other_finding_transition_is_refused(state, action):
    with pytest.raises(Refused) as caught:
        finding_step(state, action, finding_id="abc123", by="x", at=AT, actor=actor_of(action),
                     reason="lý do", explanation="x")
    assert caught.value.code == "finding-not-allowed"


def test_accepting_a_fixed_finding_is_refused_in_vietnamese():
    with pytest.raises(Refused) as caught:
        finding_step(core.FIXED, core.ACCEPT, finding_id="abc123", by="x", at=AT)
    assert said(caught.value) == (
        "Không thể chấp nhận phát hiện abc123: phát hiện đang ở trạng thái “đã sửa”. Xem trạng "
        "thái của phát hiện ở cột state của findings.csv.")


def test_rejecting_needs_a_reason_explaining_needs_words_and_only_people_decide():
    with pytest.raises(Refused) as caught:
        finding_step(core.EXPLAINED, core.REJECT, finding_id="abc123", by="x", at=AT)
    assert said(caught.value) == (
        "Cần ghi lý do khi từ chối phát hiện abc123. Ghi lý do ngay sau --reject, ví dụ: "
        "--reject \"Giải trình chưa đủ căn cứ\".")
    with pytest.raises(Refused) as caught:
        finding_step(core.OPEN, core.EXPLAIN, finding_id="abc123", by="x", at=AT,
                     actor=core.COMMUNE)
    assert caught.value.code == "finding-explanation-required"
    for action, actor in ((core.ACCEPT, core.AUTO), (core.EXPLAIN, core.OFFICE),
                          (core.FIX, core.OFFICE)):
        with pytest.raises(Refused):
            finding_step(core.OPEN, action, finding_id="abc123", by="x", at=AT, actor=actor,
                         explanation="x")


def test_a_finding_state_keeps_the_explanation_and_who_decided():
    state = core.FindingState("abc123", "P01", "outlier-over-time", "warning", AT, core.OPEN, AT)
    explained = state.after(finding_step(core.OPEN, core.EXPLAIN, finding_id="abc123",
                                         by="UBND xã", at=at(21), actor=core.COMMUNE,
                                         explanation="Có thêm một trung tâm"))
    accepted = explained.after(finding_step(core.EXPLAINED, core.ACCEPT, finding_id="abc123",
                                            by="Chị Lan", at=at(22), note="Hợp lý"))
    fixed = accepted.after(finding_step(core.ACCEPTED, core.FIX, finding_id="abc123",
                                        by=core.AUTO_BY, at=at(23), actor=core.AUTO))
    assert (accepted.state, accepted.explanation, accepted.decided_by, accepted.note) == (
        core.ACCEPTED, "Có thêm một trung tâm", "Chị Lan", "Hợp lý")
    assert (fixed.state, fixed.decided_by, fixed.state_changed) == (core.FIXED, "Chị Lan", at(23))


# --------------------------------------------------------------------------- the store


def status_frame(**complete: bool) -> pd.DataFrame:
    return pd.DataFrame([{"unit_code": u, "found": True, "access": "", "complete": c}
                         for u, c in complete.items()])


def findings_frame(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"finding_id": f, "unit_code": u, "rule": "missing-required",
                          "severity": s, "category": "completeness"} for f, u, s in rows])


def test_the_store_round_trip_is_append_only(tmp_path):
    state = tmp_path / "state"
    with History(folder=state) as history:
        store = ReviewStore(history, "Kế hoạch 2023")
        night = store.night(status_frame(P01=True, P02=False),
                            findings_frame(("f1", "P02", "error")), "r1", at(20))
        assert night.applied == 2  # P01 submitted, f1 new
        with pytest.raises(Refused) as caught:
            store.decide_unit("P02", core.APPROVE, "Chị Lan", at(20, 9))
        assert caught.value.code == "review-not-submitted"
        store.decide_unit("P01", core.APPROVE, "Chị Lan", at(20, 9), note="Số liệu khớp")
        store.decide_unit("P01", core.REOPEN, "Chị Lan", at(20, 10))
        store.decide_unit("P01", core.RETURN, "Chị Lan", at(20, 11), reason="Thiếu C2")
        store.decide_finding("f1", core.DISMISS, "Anh Minh", at(20, 12), note="Ô không áp dụng")
    with History(folder=state) as history:  # a new process reads the same
        store = ReviewStore(history, "Kế hoạch 2023")
        log = store.unit_logs()["P01"]
        assert [(s.action, s.from_state, s.to_state) for s in log] == [
            (core.SUBMIT, core.NOT_SUBMITTED, core.SUBMITTED),
            (core.APPROVE, core.SUBMITTED, core.APPROVED),
            (core.REOPEN, core.APPROVED, core.SUBMITTED),
            (core.RETURN, core.SUBMITTED, core.RETURNED)]
        assert (log[1].by, log[1].at, log[1].note) == ("Chị Lan", at(20, 9), "Số liệu khớp")
        assert log[3].reason == "Thiếu C2" and log[0].by == core.AUTO_BY
        assert store.unit_state("P02") == core.NOT_SUBMITTED
        f1 = store.finding_states()["f1"]
        assert (f1.state, f1.first_seen, f1.decided_by, f1.note, f1.severity) == (
            core.FALSE_POSITIVE, at(20), "Anh Minh", "Ô không áp dụng", "error")
        assert list(store.finding_log("f1")["action"]) == [core.APPEAR, core.DISMISS]
        assert ReviewStore(history, "Kế hoạch 2024").unit_logs() == {}  # one review per plan


def test_open_errors_count_when_approving_from_the_store(tmp_path):
    with History(folder=tmp_path) as history:
        store = ReviewStore(history, "p")
        store.night(status_frame(P01=True), findings_frame(("e1", "P01", "error"),
                                                           ("w1", "P01", "warning")), "r1", AT)
        with pytest.raises(Refused) as caught:
            store.decide_unit("P01", core.APPROVE, "x", AT)
        assert caught.value.params == {"unit": "P01", "count": 1}
        store.decide_finding("e1", core.ACCEPT, "x", AT)
        assert store.decide_unit("P01", core.APPROVE, "x", AT).to_state == core.APPROVED


# --------------------------------------------------------------------------- nights


def row(result, unit: str) -> dict:
    return result.status.set_index("unit_code").loc[unit].to_dict()


def test_three_nights_submit_edit_after_approval_fix_and_reopen(config, nights):
    clean = answers_for(config, "P01")
    partial = {k: v for k, v in answers_for(config, "P02").items() if k != "B1.1||2021"}
    first = nights("r1", at(20), {"P01": clean, "P02": partial})
    assert row(first, "P01")["review_state"] == "đã nộp"
    assert row(first, "P01")["reviewed_by"] == core.AUTO_BY
    assert row(first, "P02")["review_state"] == "chưa nộp"
    assert row(first, "X01")["review_state"] == "chưa nộp"  # no workbook at all
    missing = first.findings[(first.findings["unit_code"] == "P02")
                             & (first.findings["rule"] == "missing-required")]
    assert len(missing) == 1 and missing["state"].iloc[0] == "mới"
    fid = missing["finding_id"].iloc[0]
    assert missing["first_seen"].iloc[0] == at(20).isoformat()
    system = first.findings[first.findings["category"] == "system"]
    assert (system["state"] == "").all()

    with History(folder=nights.state) as history:
        store = ReviewStore(history, core.review_period(config))
        store.decide_unit("P01", core.APPROVE, "Chị Lan", at(20, 9), note="Khớp")
        assert row(nights("r1", at(20), {"P01": clean, "P02": partial}), "P01")[
            "review_state"] == "đã duyệt"  # the same run again changes nothing

    edited = {**clean, "B1.1||2021": int(clean["B1.1||2021"]) + 5}
    second = nights("r2", at(21), {"P01": edited, "P02": answers_for(config, "P02")})
    p01 = row(second, "P01")
    assert p01["review_state"] == "sửa sau khi duyệt"
    old, new = clean["B1.1||2021"], edited["B1.1||2021"]
    assert p01["review_note"].startswith(f"sửa 1 ô sau khi duyệt: B1.1||2021: {old} → {new} (")
    assert row(second, "P02")["review_state"] == "đã nộp"
    with History(folder=nights.state) as history:
        store = ReviewStore(history, core.review_period(config))
        assert store.finding_states()[fid].state == core.FIXED
        [edit] = [s for s in store.unit_logs("P01")["P01"] if s.action == core.EDIT]
        assert [(c.key, c.old, c.new) for c in edit.changes] == [
            ("B1.1||2021", str(old), str(new))]
        store.decide_unit("P02", core.RETURN, "Chị Lan", at(21, 9), reason="Kiểm tra lại B1")

    third = nights("r3", at(22), {"P01": edited, "P02": partial})  # P02 blanks B1.1 again
    assert row(third, "P02")["review_state"] == "trả lại"
    assert row(third, "P02")["review_note"] == "Kiểm tra lại B1"
    again = third.findings.set_index("finding_id").loc[fid]
    assert again["state"] == "mới" and again["first_seen"] == at(20).isoformat()
    assert row(third, "P01")["review_state"] == "sửa sau khi duyệt"  # no new edit: unchanged

    fourth = nights("r4", at(23), {"P01": edited, "P02": answers_for(config, "P02")})
    assert row(fourth, "P02")["review_state"] == "đã nộp"  # complete again after the return
    with History(folder=nights.state) as history:
        actions = [s.action for s in ReviewStore(history, core.review_period(config))
                   .unit_logs("P02")["P02"]]
        assert actions == [core.SUBMIT, core.RETURN, core.SUBMIT]


def test_without_a_usable_history_the_review_columns_are_blank(config, layout, tmp_path,
                                                                make_workbook):
    make_workbook("P01", folder=tmp_path)
    source = FolderSource(tmp_path, config, isolate=False)
    result = consolidate([extract_workbook(source.read(r), layout, config.units.by_code())
                          for r in source.refs()], config, layout, date(2023, 3, 20))
    blank = review_night(result, config, tmp_path / "state", "r1", AT, usable=False)
    assert (blank.status[core.STATUS_COLUMNS] == "").all().all()
    assert (blank.findings[core.FINDING_STATE_COLUMNS] == "").all().all()
    (tmp_path / "bad").write_text("x")  # the state folder is a file: the database cannot open
    broken = review_night(result, config, tmp_path / "bad", "r1", AT)
    assert (broken.status["review_state"] == "").all()


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def reviewed(nights, config):
    """A state folder after one night: P01 submitted (clean), P02 incomplete."""
    partial = {k: v for k, v in answers_for(config, "P02").items() if k != "B1.1||2021"}
    result = nights("r1", at(20), {"P01": answers_for(config, "P01"), "P02": partial})
    missing = result.findings[result.findings["rule"] == "missing-required"]
    return nights.state, str(missing["finding_id"].iloc[0])


def test_review_commands_approve_return_reopen_and_list(cli, reviewed):
    state, _ = reviewed
    common = ["--state", state, "--config", TEST_CONFIG_DIR]
    done = cli("review", "p01", "--approve", "--by", "Chị Lan", "--note", "Khớp", *common, code=0)
    assert "Đã ghi: đơn vị P01 chuyển từ “đã nộp” sang “đã duyệt” (Chị Lan," in done.output
    listed = cli("review", "--list", *common, code=0).output
    assert "đã duyệt" in listed and "Chị Lan" in listed and "Khớp" in listed
    assert "chưa nộp" in listed
    cli("review", "P01", "--reopen", *common, code=0)
    back = cli("review", "P01", "--return", "Thiếu mục C", *common, code=0)
    assert "sang “trả lại”" in back.output
    shown = cli("history", "P01", *common, code=0).output
    assert "Duyệt số liệu của P01" in shown and "Thiếu mục" in shown  # beside the values


@pytest.mark.parametrize(("args", "words"), [
    (["P02", "--approve"], "Không thể duyệt đơn vị P02: đơn vị chưa nộp"),
    (["P01", "--return", ""], "Cần ghi lý do khi trả lại đơn vị P01."),
    (["Z99", "--approve"], "Không có đơn vị mã “Z99” trong danh sách đơn vị"),
    (["P01", "--approve", "--reopen"], "Chọn đúng một việc: --approve, --return LÝ_DO"),
    (["P01"], "Chọn đúng một việc"),
])
def test_refused_review_commands_exit_2_in_vietnamese(cli, reviewed, args, words):
    state, _ = reviewed
    result = cli("review", *args, "--state", state, "--config", TEST_CONFIG_DIR, code=2)
    assert words in result.output and "Traceback" not in result.output


def test_finding_commands_and_their_refusals(cli, reviewed, tmp_path):
    state, fid = reviewed
    common = ["--state", state, "--config", TEST_CONFIG_DIR]
    ok = cli("finding", fid, "--false-positive", "--note", "Không áp dụng", *common, code=0)
    assert f"Đã ghi: phát hiện {fid} chuyển từ “mới” sang “không phải lỗi”" in ok.output
    again = cli("finding", fid, "--accept", *common, code=2)
    assert f"Không thể chấp nhận phát hiện {fid}: phát hiện đang ở trạng thái “không phải " \
           "lỗi”." in again.output
    assert "Cần ghi lý do khi từ chối" in cli("finding", fid, "--reject", " ", *common,
                                              code=2).output
    cli("finding", fid, "--reject", "Có áp dụng", *common, code=0)
    shown = cli("history", "P02", *common, code=0).output  # P02's finding, beside its values
    decisions = shown[shown.index("Quyết định về các phát hiện của P02"):
                      shown.index("Lịch sử thay đổi số liệu của P02")]
    said = " ".join(decisions.replace("│", " ").split())
    # two decisions: marked a false positive, then rejected back to "mới" with its reason
    assert decisions.count(fid) == 2 and "mới Phòng LĐTBXH Có áp dụng" in said
    unknown = cli("finding", "ffffffffffff", "--accept", *common, code=2)
    assert "Không có phát hiện mã “ffffffffffff”" in unknown.output
    nowhere = cli("review", "--list", "--state", tmp_path / "trong", "--config",
                  TEST_CONFIG_DIR, code=2)
    assert "Không có lịch sử số liệu trong" in nowhere.output
