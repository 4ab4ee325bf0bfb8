"""Turning what a commune typed into a value, or a clear problem. Never a silent guess.

Each problem is (rule, severity, message, instruction): the message says what is wrong, the
instruction what to type instead. A value is taken only when its meaning is certain; where we
read it in a documented way ("1.234" in a count is one thousand two hundred thirty-four, a text
"05/04/2023" is 5 April), the reading is reported as a warning so the commune can confirm it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flows.core.findings import ERROR, INFO, WARNING
from flows.sources.base import Formula

EXCEL_ERRORS = frozenset({
    "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#N/A", "#NUM!", "#NULL!", "#ERROR!", "#SPILL!",
    "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
})
NUMBER_WORDS = frozenset(
    "không một mốt hai ba bốn tư năm lăm nhăm sáu bảy bẩy tám chín mười mươi trăm nghìn ngàn "
    "triệu tỷ tỉ linh lẻ rưỡi".split()
)
SERIAL_EPOCH = date(1899, 12, 30)  # Excel / Google Sheets day 0
_INT = re.compile(r"^\+?\d+$")
_VI_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")
_SPACE_THOUSANDS = re.compile(r"^\d{1,3}( \d{3})+$")
_EN_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")
_VI_DECIMAL = re.compile(r"^\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^\d+\.\d+$")
_NEGATIVE = re.compile(r"^-\s*\d[\d.,]*$")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_HAS_DIGIT = re.compile(r"\d")


@dataclass
class Problem:
    rule: str
    severity: str
    message: str
    instruction: str


@dataclass
class Parsed:
    """The value read from one cell (None when blank or unusable) and what was wrong."""

    value: object = None
    problems: list[Problem] = field(default_factory=list)
    blank: bool = False


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def format_date_vi(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def show(raw: object) -> str:
    """How a raw cell value is quoted back to the commune."""
    if isinstance(raw, Formula):
        return raw.text
    if isinstance(raw, datetime):
        return format_date_vi(raw.date())
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _clean_text(raw: str, parsed: Parsed, flag_spaces: bool) -> str:
    text = raw.replace("\u00a0", " ")
    normal = unicodedata.normalize("NFC", text)
    if normal != text:
        parsed.problems.append(Problem(
            "not-nfc", INFO,
            "Chữ tiếng Việt được gõ dạng tổ hợp (không phải Unicode dựng sẵn); đã chuẩn hoá.",
            "Không cần sửa. Lần sau nên dùng bảng mã Unicode dựng sẵn.",
        ))
    stripped = normal.strip()
    if flag_spaces and stripped != normal and stripped:
        parsed.problems.append(Problem(
            "whitespace", INFO,
            f"Có khoảng trắng thừa ở đầu hoặc cuối “{normal}”; đã bỏ.",
            "Không cần sửa; lần sau chỉ nhập giá trị.",
        ))
    return stripped


# --------------------------------------------------------------------------- numbers


def _bad_number(text: str, kind: str) -> Problem:
    example = "1500000" if kind == "money" else "12"
    words = [w for w in re.split(r"[\s,.\-]+", text.casefold()) if w]
    if words and all(w in NUMBER_WORDS for w in words):
        return Problem("number-in-words", ERROR,
                       f"“{text}” là số viết bằng chữ.",
                       f"Nhập bằng chữ số, ví dụ {example}.")
    if _EN_THOUSANDS.match(text):
        return Problem("ambiguous-number", ERROR,
                       f"“{text}” không rõ nghĩa: dấu phẩy có thể là phần thập phân.",
                       f"Nhập số không có dấu ngăn cách, ví dụ {text.replace(',', '')}.")
    if _HAS_DIGIT.search(text):
        digits = re.sub(r"[^\d]", "", text) or example
        return Problem("number-with-text", ERROR,
                       f"“{text}” có kèm chữ hoặc ký hiệu.",
                       f"Chỉ nhập con số (ví dụ {digits}), không kèm đơn vị hay ghi chú.")
    return Problem("not-a-number", ERROR, f"“{text}” không phải là số.",
                   f"Nhập số bằng chữ số, ví dụ {example}. Không có thì nhập 0.")


def _check_number(number: float, kind: str, shown: str, parsed: Parsed) -> None:
    if number < 0:
        parsed.problems.append(Problem("negative-number", ERROR, f"Số âm {shown} không hợp lệ.",
                                       "Nhập số không âm. Không có thì nhập 0."))
        return
    if kind == "integer" and not float(number).is_integer():
        parsed.problems.append(Problem("not-whole-number", ERROR,
                                       f"{shown} không phải số nguyên.",
                                       "Số người, số vụ, số buổi… phải là số nguyên."))
        return
    parsed.value = int(number) if float(number).is_integer() else float(number)


def _parse_number_text(text: str, kind: str, parsed: Parsed) -> None:
    compact = text.replace(" ", "") if _SPACE_THOUSANDS.match(text) else text
    if _INT.match(compact):
        if compact != text:
            parsed.problems.append(Problem(
                "thousands-separator", WARNING,
                f"“{text}” được hiểu là {int(compact)} (khoảng trắng ngăn cách hàng nghìn).",
                f"Kiểm tra lại và nhập {int(compact)} không có khoảng trắng.",
            ))
        parsed.value = int(compact)
    elif _VI_THOUSANDS.match(text):
        number = int(text.replace(".", ""))
        parsed.problems.append(Problem(
            "thousands-separator", WARNING,
            f"“{text}” được hiểu là {number} (dấu chấm ngăn cách hàng nghìn).",
            f"Kiểm tra lại và nhập {number}, không có dấu chấm.",
        ))
        parsed.value = number
    elif _EN_THOUSANDS.match(text):
        parsed.problems.append(_bad_number(text, kind))
    elif _VI_DECIMAL.match(text) or _DOT_DECIMAL.match(text):
        if kind == "integer":
            parsed.problems.append(Problem(
                "not-whole-number", ERROR, f"“{text}” không phải số nguyên.",
                "Số người, số vụ, số buổi… phải là số nguyên; kiểm tra lại số liệu."))
        else:
            parsed.problems.append(Problem(
                "ambiguous-number", ERROR,
                f"“{text}” có phần thập phân; số tiền phải tính bằng đồng.",
                "Nhập số tiền bằng đồng, chỉ chữ số (ví dụ 1,5 triệu đồng nhập 1500000)."))
    elif _NEGATIVE.match(text):
        parsed.problems.append(Problem("negative-number", ERROR, f"Số âm “{text}” không hợp lệ.",
                                       "Nhập số không âm. Không có thì nhập 0."))
    else:
        parsed.problems.append(_bad_number(text, kind))


def _parse_number(raw: object, kind: str, parsed: Parsed) -> None:
    if isinstance(raw, bool) or isinstance(raw, datetime | date):
        parsed.problems.append(_bad_number(show(raw), kind))
    elif isinstance(raw, int | float):
        _check_number(raw, kind, show(raw), parsed)
    else:
        _parse_number_text(_clean_text(str(raw), parsed, flag_spaces=True), kind, parsed)


# --------------------------------------------------------------------------- dates


def _date_from_parts(day: int, month: int, year: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_date(raw: object, parsed: Parsed) -> None:
    bad = Problem("bad-date", ERROR, f"“{show(raw)}” không phải là ngày hợp lệ.",
                  "Nhập ngày dạng ngày/tháng/năm, ví dụ 05/04/2023.")
    if isinstance(raw, datetime):
        value: date | None = raw.date()
    elif isinstance(raw, date):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = SERIAL_EPOCH + timedelta(days=int(raw)) if 1 <= raw <= 80000 else None
    else:
        text = _clean_text(str(raw), parsed, flag_spaces=True)
        dmy, iso = _DATE_DMY.match(text), _DATE_ISO.match(text)
        if dmy:
            value = _date_from_parts(int(dmy[1]), int(dmy[2]), int(dmy[3]))
        elif iso:
            value = _date_from_parts(int(iso[3]), int(iso[2]), int(iso[1]))
        else:
            value = None
        if value is not None and 2000 <= value.year <= 2100:
            parsed.problems.append(Problem(
                "text-date", WARNING,
                f"Ngày “{text}” được nhập dạng chữ; đã hiểu là ngày {value.day} tháng "
                f"{value.month} năm {value.year}.",
                "Kiểm tra lại; nếu đúng, nhập lại dạng ngày/tháng/năm trong ô ngày.",
            ))
    if value is None or not 2000 <= value.year <= 2100:
        parsed.problems.append(bad)
        return
    parsed.value = value.isoformat()


# --------------------------------------------------------------------------- choices, text


def _parse_choice(raw: object, choices: tuple[str, ...], parsed: Parsed) -> None:
    if isinstance(raw, bool) and len(choices) == 2 and choices[0] == "Có":
        parsed.value = choices[0] if raw else choices[1]
        return
    text = _clean_text(show(raw), parsed, flag_spaces=True)
    exact = {c.casefold(): c for c in choices}
    loose = {strip_accents(c).casefold(): c for c in choices}
    if text.casefold() in exact:
        parsed.value = exact[text.casefold()]
    elif strip_accents(text).casefold() in loose:
        parsed.value = loose[strip_accents(text).casefold()]
        parsed.problems.append(Problem(
            "choice-without-accents", INFO,
            f"“{text}” được hiểu là “{parsed.value}”.",
            "Không cần sửa; lần sau chọn từ danh sách thả xuống.",
        ))
    else:
        parsed.problems.append(Problem(
            "bad-choice", ERROR, f"“{text}” không có trong danh sách lựa chọn.",
            "Chọn một trong: " + ", ".join(f"“{c}”" for c in choices) + ".",
        ))


def _parse_text(raw: object, parsed: Parsed) -> None:
    text = _clean_text(show(raw), parsed, flag_spaces=False)
    parsed.value = text or None
    parsed.blank = not text


def parse_cell(raw: object, value_type: str, choices: tuple[str, ...] = ()) -> Parsed:
    """Read one raw cell value as `value_type`; problems say what is wrong and what to do."""
    parsed = Parsed()
    if isinstance(raw, Formula):
        if raw.cached is None or (isinstance(raw.cached, str) and raw.cached.strip() == ""):
            parsed.problems.append(Problem(
                "formula", ERROR, f"Ô chứa công thức {raw.text} nhưng chưa có kết quả tính.",
                "Xoá công thức và nhập trực tiếp giá trị."))
            return parsed
        inner = parse_cell(raw.cached, value_type, choices)
        if not any(p.rule == "formula-error" for p in inner.problems):
            inner.problems.insert(0, Problem(
                "formula", WARNING,
                f"Ô chứa công thức {raw.text}; đã dùng kết quả {show(raw.cached)}.",
                "Nên nhập trực tiếp giá trị thay cho công thức."))
        return inner
    if raw is None or (isinstance(raw, str) and raw.strip(" \u00a0\t\r\n") == ""):
        parsed.blank = True
        return parsed
    if isinstance(raw, str) and raw.strip().upper() in EXCEL_ERRORS:
        parsed.problems.append(Problem(
            "formula-error", ERROR, f"Ô báo lỗi {raw.strip()} (lỗi công thức hoặc ô tham chiếu).",
            "Xoá nội dung ô và nhập trực tiếp giá trị."))
        return parsed
    if value_type in ("integer", "money"):
        _parse_number(raw, value_type, parsed)
    elif value_type == "date":
        _parse_date(raw, parsed)
    elif value_type in ("yesno", "choice"):
        _parse_choice(raw, choices, parsed)
    else:
        _parse_text(raw, parsed)
    return parsed
