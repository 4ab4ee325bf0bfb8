"""Vietnamese number and date formatting (TT 39/2014: "." groups thousands, "," marks decimals)."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal


def number(value: float | int | None, decimals: int = 0) -> str:
    """1234567 → "1.234.567"; 12.5 → "12,5" (decimals=1); None/NaN → ""."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    if decimals:  # "12,50" reads as "12,5"
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def auto(value: float | int | None) -> str:
    """Whole numbers without decimals, others with up to 2 (trailing zeros dropped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():  # 1e29 is 1 and 29 zeros, as typed
        return exact(value)
    return number(value, 0 if float(value).is_integer() else 2)


def exact(value: float | int) -> str:
    """Every digit a number holds, the Vietnamese way: 1.234 → "1,234"; 1234.5 → "1.234,5";
    1234567 → "1.234.567" (a number read from a cell, quoted back without rounding)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = format(Decimal(repr(float(value)) if isinstance(value, float) else int(value)), "f")
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    return sign + f"{int(whole):,}".replace(",", ".") + (f",{fraction}" if fraction else "")


def percent(value: float | None, decimals: int = 1) -> str:
    """12.5 → "12,5%"; 100.0 → "100%"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{number(value, decimals)}%"


def money(value: float | int | None) -> str:
    """1500000 → "1.500.000 đồng"."""
    text = number(value)
    return f"{text} đồng" if text else ""


def long_date(value: date) -> str:
    """Decree 30/2020: "ngày 05 tháng 4 năm 2023"; days < 10 and months 1–2 get a leading 0."""
    month = f"{value.month:02d}" if value.month <= 2 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def short_date(value: date) -> str:
    return f"{value:%d/%m/%Y}"
