"""Cell values: parsing what a client enters and rendering what a client reads.

Cells are stored as Google's ``CellData`` (``userEnteredValue`` + ``userEnteredFormat``...).
``RAW`` input stores strings verbatim; ``USER_ENTERED`` input recognises numbers (in the
spreadsheet locale), percentages, ``TRUE``/``FALSE``, dates (``yyyy-mm-dd`` everywhere,
``m/d/yyyy`` in en_US, ``d/m/yyyy`` in day-first locales such as vi_VN), an optional
``hh:mm[:ss]`` time after an ISO date, formulas (``=...``) and a leading ``'`` forcing text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flows.testing.google_emulator.common import JSON

SERIAL_EPOCH = datetime(1899, 12, 30)
VALUE_RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATE_RENDER_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
DATE_TYPES = ("DATE", "TIME", "DATE_TIME")


@dataclass(frozen=True)
class CellError:
    """A formula error such as ``#NAME?`` or ``#DIV/0!``."""

    code: str


Scalar = int | float | str | bool | CellError | None


@dataclass(frozen=True)
class LocaleSpec:
    """How a spreadsheet locale writes numbers and dates."""

    decimal: str
    group: str
    group_general: bool  # group thousands even in the automatic number format
    day_first: bool
    date_pattern: str


LOCALES = {
    "en_US": LocaleSpec(".", ",", False, False, "M/d/yyyy"),
    "en_GB": LocaleSpec(".", ",", False, True, "dd/MM/yyyy"),
    "vi_VN": LocaleSpec(",", ".", True, True, "dd/MM/yyyy"),
    "de_DE": LocaleSpec(",", ".", False, True, "dd.MM.yyyy"),
}


def locale_spec(locale: str) -> LocaleSpec:
    """The rules of a locale; unknown locales behave like en_US."""
    return LOCALES.get(locale, LOCALES["en_US"])


@dataclass(frozen=True)
class Entered:
    """A parsed input: the ``userEnteredValue`` ({} clears) and a number format to set."""

    value: JSON
    number_format: JSON | None = None


# --- input -----------------------------------------------------------------------------------


def parse_input(raw: Any, option: str, spec: LocaleSpec) -> Entered | None:
    """Parse one value of a ``values`` write; ``None`` means "leave the cell alone"."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return Entered({"boolValue": raw})
    if isinstance(raw, int | float):
        return Entered({"numberValue": raw})
    if not isinstance(raw, str):
        raise ValueError(raw)
    if raw == "":
        return Entered({})
    if option == "RAW":
        return Entered({"stringValue": raw})
    return parse_user_text(raw, spec)


def parse_user_text(text: str, spec: LocaleSpec) -> Entered:
    """Interpret text the way the Sheets UI does when a user types it."""
    if text.startswith("'"):
        return Entered({"stringValue": text[1:]})
    if text.startswith("=") and len(text) > 1:
        return Entered({"formulaValue": text})
    stripped = text.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return Entered({"boolValue": stripped.upper() == "TRUE"})
    number = parse_number(stripped, spec)
    if number is not None:
        return number
    moment = parse_date(stripped, spec)
    if moment is not None:
        return moment
    return Entered({"stringValue": text})


def parse_number(text: str, spec: LocaleSpec) -> Entered | None:
    """``12`` -> 12, ``1.5`` -> 1.5 (en_US), ``1.234,5`` -> 1234.5 (vi_VN), ``50%`` -> 0.5."""
    percent = text.endswith("%")
    core = text[:-1].strip() if percent else text
    group, decimal = re.escape(spec.group), re.escape(spec.decimal)
    pattern = rf"[+-]?(?:\d{{1,3}}(?:{group}\d{{3}})+|\d*)(?:{decimal}\d+)?(?:[eE][+-]?\d+)?"
    if not re.fullmatch(pattern, core) or not re.search(r"\d", core.split("e")[0].split("E")[0]):
        return None
    plain = core.replace(spec.group, "").replace(spec.decimal, ".")
    is_float = "." in plain or "e" in plain.lower()
    value: int | float = float(plain) if is_float else int(plain)
    if not math.isfinite(value):
        return None
    if not percent:
        return Entered({"numberValue": value})
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    pct_pattern = "0%" if decimals == 0 else "0." + "0" * decimals + "%"
    return Entered({"numberValue": value / 100}, {"type": "PERCENT", "pattern": pct_pattern})


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def parse_date(text: str, spec: LocaleSpec) -> Entered | None:
    """Recognise a date (or ISO date-time) and store it as a serial number with a format."""
    iso = _ISO_DATE.fullmatch(text)
    if iso:
        year, month, day = (int(iso.group(i)) for i in (1, 2, 3))
        if iso.group(4) is None:
            return _date_entry(year, month, day, (0, 0, 0), "DATE", "yyyy-mm-dd")
        clock = (int(iso.group(4)), int(iso.group(5)), int(iso.group(6) or 0))
        return _date_entry(year, month, day, clock, "DATE_TIME", "yyyy-mm-dd hh:mm:ss")
    slash = _SLASH_DATE.fullmatch(text)
    if not slash:
        return None
    first, second, year = slash.group(1), slash.group(2), int(slash.group(3))
    day_text, month_text = (first, second) if spec.day_first else (second, first)
    day_token = "dd" if len(day_text) == 2 else "d"
    month_token = "MM" if len(month_text) == 2 else "M"
    tokens = (day_token, month_token) if spec.day_first else (month_token, day_token)
    pattern = f"{tokens[0]}/{tokens[1]}/yyyy"
    return _date_entry(year, int(month_text), int(day_text), (0, 0, 0), "DATE", pattern)


def _date_entry(
    year: int, month: int, day: int, clock: tuple[int, int, int], kind: str, pattern: str
) -> Entered | None:
    try:
        moment = datetime(year, month, day, *clock)
    except ValueError:
        return None
    return Entered({"numberValue": to_serial(moment)}, {"type": kind, "pattern": pattern})


def to_serial(moment: datetime | date) -> int | float:
    """Days since 1899-12-30 (Google's and Excel's serial date), fractional for times."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    delta = moment - SERIAL_EPOCH
    serial = delta.days + delta.seconds / 86400
    return int(serial) if float(serial).is_integer() else serial


def from_serial(serial: float) -> datetime:
    """The inverse of :func:`to_serial` (to the second)."""
    return SERIAL_EPOCH + timedelta(seconds=round(serial * 86400))


# --- values ----------------------------------------------------------------------------------


def plain_value(entered: JSON | None) -> Scalar:
    """The value of a non-formula ``userEnteredValue``."""
    if not entered:
        return None
    if "numberValue" in entered:
        return entered["numberValue"]
    if "boolValue" in entered:
        return bool(entered["boolValue"])
    if "stringValue" in entered:
        return str(entered["stringValue"])
    if "errorValue" in entered:
        return CellError(str(entered["errorValue"].get("message") or "#ERROR!"))
    return None


def json_number(value: int | float) -> int | float:
    """Integral floats as ints: Google writes ``2``, not ``2.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def is_date_format(number_format: JSON | None) -> bool:
    return number_format is not None and number_format.get("type") in DATE_TYPES


def render_value(
    value: Scalar, number_format: JSON | None, option: str, date_option: str, spec: LocaleSpec
) -> Any:
    """Render a computed value for ``valueRenderOption`` / ``dateTimeRenderOption``."""
    if value is None:
        return ""
    if isinstance(value, CellError):
        return value.code
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if option == "FORMATTED_VALUE" else value
    if isinstance(value, str):
        return value
    if option == "FORMATTED_VALUE":
        return format_number(value, number_format, spec)
    if is_date_format(number_format) and date_option == "FORMATTED_STRING":
        return format_number(value, number_format, spec)
    return json_number(value)


# --- number formats --------------------------------------------------------------------------

_DEFAULT_PATTERNS = {
    "NUMBER": "#,##0.00",
    "PERCENT": "0.00%",
    "CURRENCY": "#,##0.00",
    "SCIENTIFIC": "0.00E+00",
    "TIME": "h:mm:ss",
    "DATE_TIME": "yyyy-mm-dd hh:mm:ss",
}


def format_number(value: float, number_format: JSON | None, spec: LocaleSpec) -> str:
    """Format a number with a cell's number format, or Google's automatic format."""
    kind = (number_format or {}).get("type", "")
    pattern = (number_format or {}).get("pattern") or _DEFAULT_PATTERNS.get(kind, "")
    if kind == "DATE" and not pattern:
        pattern = spec.date_pattern
    if kind in DATE_TYPES:
        return format_date(value, pattern)
    if not pattern or kind == "TEXT" or pattern in ("General", "@"):
        return format_general(value, spec)
    return format_with_pattern(value, pattern, spec)


def format_general(value: float, spec: LocaleSpec) -> str:
    """The automatic format: integers plainly, up to 10 significant digits otherwise."""
    if value != 0 and (abs(value) >= 1e15 or abs(value) < 1e-9):
        mantissa, exponent = f"{value:.5e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".").replace(".", spec.decimal)
        return f"{mantissa}E{int(exponent):+03d}"
    if float(value).is_integer():
        digits, fraction = str(abs(int(value))), ""
    else:
        whole = len(str(int(abs(value)))) if abs(value) >= 1 else 0
        text = f"{abs(value):.{max(0, 10 - whole)}f}".rstrip("0").rstrip(".")
        digits, _, fraction = text.partition(".")
    if spec.group_general:
        digits = _group(digits, spec.group)
    sign = "-" if value < 0 and (digits.strip("0" + spec.group) or fraction.strip("0")) else ""
    return sign + digits + (spec.decimal + fraction if fraction else "")


def _group(digits: str, separator: str) -> str:
    parts = []
    while len(digits) > 3:
        parts.insert(0, digits[-3:])
        digits = digits[:-3]
    parts.insert(0, digits)
    return separator.join(parts)


_NUMBER_CORE = re.compile(r"[#0?][#0?,]*(?:\.[#0?]*)?|\.[#0?]+")


def format_with_pattern(value: float, pattern: str, spec: LocaleSpec) -> str:
    """A loose rendering of number patterns such as ``#,##0.00``, ``0%`` or ``0.0" kg"``."""
    section = pattern.split(";")[0]
    if "%" in section:
        value *= 100
    match = _NUMBER_CORE.search(section)
    if not match:
        return format_general(value, spec)
    prefix = _literal(section[: match.start()])
    suffix = _literal(section[match.end() :])
    integer_part, _, fraction_part = match.group(0).partition(".")
    decimals = len(fraction_part)
    required = len(fraction_part.rstrip("#?"))
    text = f"{abs(value):.{decimals}f}"
    digits, _, fraction = text.partition(".")
    while len(fraction) > required and fraction.endswith("0"):
        fraction = fraction[:-1]
    if "," in integer_part:
        digits = _group(digits, spec.group)
    if digits == "0" and "0" not in integer_part:
        digits = ""
    negative = value < 0 and float(text) != 0
    number = digits + (spec.decimal + fraction if fraction else "")
    return ("-" if negative else "") + prefix + number + suffix


def _literal(text: str) -> str:
    return re.sub(r'\\(.)|"([^"]*)"', lambda m: m.group(1) or m.group(2) or "", text)


_DATE_TOKEN = re.compile(
    r'yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p|"[^"]*"|\\.|.', re.IGNORECASE
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def format_date(serial: float, pattern: str) -> str:
    """Render a serial date with a pattern such as ``yyyy-mm-dd`` or ``d/M/yyyy hh:mm``."""
    if not math.isfinite(serial):
        return "#NUM!"
    moment = from_serial(serial)
    tokens = _DATE_TOKEN.findall(pattern)
    twelve_hour = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out: list[str] = []
    for index, token in enumerate(tokens):
        out.append(_date_token(token, moment, tokens, index, twelve_hour))
    return "".join(out)


def _date_token(token: str, moment: datetime, tokens: list[str], index: int, twelve: bool) -> str:
    low = token.lower()
    if low in ("m", "mm") and _is_minute(tokens, index):
        return f"{moment.minute:02d}" if low == "mm" else str(moment.minute)
    hour = (moment.hour % 12 or 12) if twelve else moment.hour
    simple = {
        "yyyy": f"{moment.year:04d}", "yy": f"{moment.year % 100:02d}",
        "mmmm": _MONTHS[moment.month - 1], "mmm": _MONTHS[moment.month - 1][:3],
        "mm": f"{moment.month:02d}", "m": str(moment.month),
        "dddd": _DAYS[moment.weekday()], "ddd": _DAYS[moment.weekday()][:3],
        "dd": f"{moment.day:02d}", "d": str(moment.day),
        "hh": f"{hour:02d}", "h": str(hour),
        "ss": f"{moment.second:02d}", "s": str(moment.second),
        "am/pm": "AM" if moment.hour < 12 else "PM", "a/p": "A" if moment.hour < 12 else "P",
    }
    if low in simple:
        return simple[low]
    return _literal(token)


def _is_minute(tokens: list[str], index: int) -> bool:
    previous = [t.lower() for t in tokens[:index] if t.strip() and t.lower()[0] in "hdmys"]
    following = [t.lower() for t in tokens[index + 1 :] if t.strip() and t.lower()[0] in "hdmys"]
    return bool(previous and previous[-1] in ("h", "hh")) or bool(
        following and following[0] in ("s", "ss")
    )
