"""Turning what a commune typed into a value, or a clear problem. Never a silent guess.

Each problem is an `Issue` (a catalogue code and its values): the catalogue words what is
wrong and what to type instead. A value is taken only when its meaning is certain; where we
read it in a documented way ("1.234" in a count is one thousand two hundred thirty-four, a text
"05/04/2023" is 5 April), the reading is reported as a warning so the commune can confirm it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flows.core.findings import Issue
from flows.core.inputs import Formula
from flows.core.vnformat import exact

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
# Characters no spreadsheet or document should hold: XML-illegal controls and bidi overrides.
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Parsed:
    """The value read from one cell (None when blank or unusable) and what was wrong."""

    value: object = None
    problems: list[Issue] = field(default_factory=list)
    blank: bool = False


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def format_date_vi(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def show(raw: object) -> str:
    """How a raw cell value is quoted back to the commune: text exactly as typed; a number the
    cell holds with every digit it has, a decimal the Vietnamese way (the number 1.234 is
    "1,234": "1.234" reads as one thousand two hundred thirty-four), a whole number as its
    digits; a date as dd/mm/yyyy."""
    if isinstance(raw, Formula):
        return raw.text
    if isinstance(raw, datetime):
        return format_date_vi(raw.date())
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, float) and math.isfinite(raw):
        return exact(raw)
    return str(raw)


def _clean_text(raw: str, parsed: Parsed, flag_spaces: bool) -> str:
    text = raw.replace("\u00a0", " ")
    if _HIDDEN.search(text):  # a pasted line break from Word, a bidi override
        text = _HIDDEN.sub(lambda m: " " if m.group(0) in "\x0b\x0c" else "", text)
        parsed.problems.append(Issue("hidden-characters", {"typed": _HIDDEN.sub("", raw)}))
    normal = unicodedata.normalize("NFC", text)
    if normal != text:
        parsed.problems.append(Issue("not-nfc"))
    stripped = normal.strip()
    if flag_spaces and stripped != normal and stripped:
        parsed.problems.append(Issue("whitespace", {"typed": normal}))
    return stripped


# --------------------------------------------------------------------------- numbers


def _bad_number(text: str, kind: str) -> Issue:
    words = [w for w in re.split(r"[\s,.\-]+", text.casefold()) if w]
    if words and all(w in NUMBER_WORDS for w in words):
        return Issue("number-in-words", {"typed": text, "kind": kind})
    if _EN_THOUSANDS.match(text):
        return Issue("ambiguous-number", {"typed": text, "digits": text.replace(",", "")})
    if _HAS_DIGIT.search(text):
        digits = re.sub(r"[^\d]", "", text) or ("1500000" if kind == "money" else "12")
        return Issue("number-with-text", {"typed": text, "digits": digits})
    return Issue("not-a-number", {"typed": text, "kind": kind})


def _check_number(number: float, kind: str, shown: str, parsed: Parsed) -> None:
    if number < 0:
        parsed.problems.append(Issue("negative-number", {"typed": shown}))
        return
    if kind == "integer" and not float(number).is_integer():
        parsed.problems.append(Issue("not-whole-number", {"typed": shown}))
        return
    parsed.value = int(number) if float(number).is_integer() else float(number)


def _parse_number_text(text: str, kind: str, parsed: Parsed) -> None:
    compact = text.replace(" ", "") if _SPACE_THOUSANDS.match(text) else text
    if _INT.match(compact):
        if compact != text:
            parsed.problems.append(Issue("thousands-separator", {
                "typed": text, "number": int(compact), "separator": "space"}))
        parsed.value = int(compact)
    elif _VI_THOUSANDS.match(text):
        number = int(text.replace(".", ""))
        parsed.problems.append(Issue("thousands-separator", {
            "typed": text, "number": number, "separator": "dot"}))
        parsed.value = number
    elif _EN_THOUSANDS.match(text):
        parsed.problems.append(_bad_number(text, kind))
    elif _VI_DECIMAL.match(text) or _DOT_DECIMAL.match(text):
        rule = "not-whole-number" if kind == "integer" else "money-not-whole"
        parsed.problems.append(Issue(rule, {"typed": text}))
    elif _NEGATIVE.match(text):
        parsed.problems.append(Issue("negative-number", {"typed": text}))
    else:
        parsed.problems.append(_bad_number(text, kind))


def _parse_number(raw: object, kind: str, parsed: Parsed) -> None:
    if isinstance(raw, bool) or isinstance(raw, datetime | date):
        parsed.problems.append(_bad_number(show(raw), kind))
    elif isinstance(raw, float) and not math.isfinite(raw):  # NaN or ∞ stored as a number
        parsed.problems.append(Issue("not-a-number", {"typed": show(raw), "kind": kind}))
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
    bad = Issue("bad-date", {"typed": show(raw)})
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
            parsed.problems.append(Issue("text-date", {"typed": text, "day": value}))
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
        parsed.problems.append(Issue("choice-without-accents",
                                     {"typed": text, "choice": parsed.value}))
    else:
        parsed.problems.append(Issue("bad-choice", {"typed": text, "choices": list(choices)}))


def _parse_text(raw: object, parsed: Parsed) -> None:
    text = _clean_text(show(raw), parsed, flag_spaces=False)
    parsed.value = text or None
    parsed.blank = not text


def parse_cell(raw: object, value_type: str, choices: tuple[str, ...] = ()) -> Parsed:
    """Read one raw cell value as `value_type`; problems say what is wrong and what to do."""
    parsed = Parsed()
    if isinstance(raw, Formula):
        if raw.cached is None or (isinstance(raw.cached, str) and raw.cached.strip() == ""):
            parsed.problems.append(Issue("formula-no-result", {"formula": raw.text}))
            return parsed
        inner = parse_cell(raw.cached, value_type, choices)
        if not any(p.rule == "formula-error" for p in inner.problems):
            inner.problems.insert(0, Issue("formula", {"formula": raw.text,
                                                       "result": show(raw.cached)}))
        return inner
    if raw is None or (isinstance(raw, str) and raw.strip(" \u00a0\t\r\n") == ""):
        parsed.blank = True
        return parsed
    if isinstance(raw, str) and raw.strip().upper() in EXCEL_ERRORS:
        parsed.problems.append(Issue("formula-error", {"shown": raw.strip()}))
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
