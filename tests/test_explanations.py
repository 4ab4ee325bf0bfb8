"""A commune answers its findings in its own workbook (issue 12): the column "Giải trình của đơn
vị" of its "Kết quả kiểm tra" tab, read back on the next pull and recorded as `đã giải trình`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from conftest import answers_for
from helpers import set_cells
from openpyxl import load_workbook

from flows.core import review as core
from flows.core.inputs import Formula
from flows.core.results_tab import HEADER, TITLE, Explanation, read_explanations
from flows.store.history import History
from flows.store.review import ReviewStore

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TAB = "B. Bảo đảm quyền trẻ em"
WHY = "Năm 2021 có thêm một điểm vui chơi mới, số liệu đúng."


def at(day: int, hour: int = 1) -> datetime:
    return datetime(2023, 3, day, hour, tzinfo=HCM)


def test_answers_are_found_by_their_header_in_any_tab_and_column_order():
    moved = [["Kết quả kiểm tra – Xã A"], [], ["Giải trình của đơn vị", "Ô", "Trang", "STT"],
             ["  Đúng là 1234  ", "e9", TAB, 1], ["", "C4", TAB, 2],
             [Formula('=IMPORTXML("http://x")'), "$D$7", "", 3]]
    google = [HEADER, [1, TAB, "E9", "Cảnh báo", "…", "…", "1.234", "…", "mới", WHY,
                       "9FF199279614"]]
    found = read_explanations([("Đã đổi tên", moved), ("Kết quả kiểm tra", google),
                               ("Khác", [["Giải trình"], ["không phải bảng của chúng ta"]])])
    assert found == [
        Explanation("Đúng là 1234", "", TAB, "E9", "Đã đổi tên", 4),
        # a formula typed as an answer is kept as its text, never evaluated
        Explanation('=IMPORTXML("http://x")', "", "", "D7", "Đã đổi tên", 6),
        Explanation(WHY, "9ff199279614", TAB, "E9", "Kết quả kiểm tra", 2),
    ]


def _thousands(config) -> dict:
    typed = answers_for(config, "P01")
    return {**typed, "B1.1||2021": "1.234"}  # read as 1234: a warning to confirm, at E9


def _answer(rows: dict[int, tuple[str, str, str]]):
    """Type answers (tab, cell, text) into rows of the results tab of every workbook."""
    def typed_after(code: str, path) -> None:
        cells = {}
        for row, (tab, cell, text) in rows.items():
            cells.update({f"B{row}": tab, f"C{row}": cell, f"E{row}": text})
        set_cells(path, TITLE, cells)
    return typed_after


def _finding(result, rule: str):
    found = result.findings[(result.findings["unit_code"] == "P01")
                            & (result.findings["rule"] == rule)]
    assert len(found) == 1, found[["rule", "message"]]
    return found.iloc[0]


def test_the_xlsx_template_has_the_answer_tab_with_its_columns(make_workbook):
    ws = load_workbook(make_workbook("P01"))[TITLE]
    assert [c.value for c in ws[4]] == ["STT", "Trang", "Ô", "Nội dung", "Giải trình của đơn vị",
                                        "Mã phát hiện"]
    assert ws.protection.sheet and not ws["E5"].protection.locked and ws["A5"].protection.locked


def test_an_xlsx_commune_explains_a_warning_by_tab_and_cell(config, nights):
    first = nights("r1", at(20), {"P01": _thousands(config)})
    warning = _finding(first, "thousands-separator")
    assert (warning["sheet"], warning["cell"], warning["state"]) == (TAB, "E9", "mới")

    second = nights("r2", at(21), {"P01": _thousands(config)},
                    _answer({5: (TAB, "E9", WHY), 6: (TAB, "Z99", "Ô này đúng")}))
    explained = _finding(second, "thousands-separator")
    assert (explained["state"], explained["explanation"]) == ("đã giải trình", WHY)
    assert explained["state_changed"] == at(21).isoformat()
    unmatched = _finding(second, "explanation-unmatched")
    assert unmatched["severity"] == "info"
    assert unmatched["message"] == (
        "Giải trình ở trang “Kết quả kiểm tra”, dòng 6 (B. Bảo đảm quyền trẻ em Z99) không gắn "
        "với phát hiện nào đang mở nên chưa được ghi nhận.")
    with History(folder=nights.state) as history:
        store = ReviewStore(history, core.review_period(config))
        log = store.finding_log(explained["finding_id"])
        assert list(log["action"]) == [core.APPEAR, core.EXPLAIN]
        assert log["by"].iloc[-1] == config.units.by_code()["P01"].full_name
        # the office accepts the explanation: the warning is closed
        store.decide_finding(explained["finding_id"], core.ACCEPT, "Chị Lan", at(21, 9))

    third = nights("r3", at(22), {"P01": _thousands(config)},
                   _answer({5: (TAB, "E9", "Giải trình khác sau khi đã chấp nhận")}))
    closed = _finding(third, "thousands-separator")
    # an answer changed after the office's decision does not undo it
    assert (closed["state"], closed["explanation"]) == ("chấp nhận", WHY)


def test_the_same_answer_twice_records_one_explanation(config, nights):
    answer = _answer({5: (TAB, "E9", WHY)})
    nights("r1", at(20), {"P01": _thousands(config)}, answer)
    nights("r2", at(21), {"P01": _thousands(config)}, answer)
    with History(folder=nights.state) as history:
        log = ReviewStore(history, core.review_period(config)).finding_log()
    assert list(log["action"]).count(core.EXPLAIN) == 1
