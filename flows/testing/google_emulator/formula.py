"""A small formula evaluator: enough for totals and checks, not a spreadsheet engine.

Supported: numbers, ``"text"``, ``TRUE``/``FALSE``, cell references (``A1``, ``$A$1``,
``Sheet1!A1``, ``'My sheet'!A1``), ranges as function arguments (``A1:B3``, ``A:A``,
``'S'!A1:C9``), the operators ``+ - * / ^ & = <> < > <= >=``, unary minus and ``%``, and the
functions SUM, AVERAGE, MIN, MAX, COUNT, COUNTA, ABS, ROUND, IF, CONCATENATE and CONCAT.
Anything else yields ``#NAME?`` (unknown function or name, e.g. ``=IMPORTXML(...)``) or
``#ERROR!`` (text this parser cannot read). Circular references yield ``#REF!``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Protocol

from flows.testing.google_emulator.a1 import column_index, parse_a1
from flows.testing.google_emulator.cells import LOCALES, CellError, Scalar, format_general
from flows.testing.google_emulator.common import TokenCursor

_SHEET = r"(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!"
_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<range>(?:{_SHEET})?\$?[A-Za-z]{{1,3}}\$?\d*:\$?[A-Za-z]{{1,3}}\$?\d*(?![A-Za-z0-9_(]))
     |(?P<ref>(?:{_SHEET})?\$?[A-Za-z]{{1,3}}\$?\d+(?![A-Za-z0-9_(]))
     |(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
     |(?P<string>"(?:[^"]|"")*")
     |(?P<name>[A-Za-z_][A-Za-z0-9_.]*)
     |(?P<op><>|<=|>=|[-+*/^&=<>%(),;])
    )""",
    re.VERBOSE,
)
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
Node = tuple[Any, ...]


class Resolver(Protocol):
    """Gives the evaluator the values of other cells."""

    def cell(self, sheet: str | None, row: int, col: int) -> Scalar: ...

    def cells(
        self, sheet: str | None, r0: int, c0: int, r1: int | None, c1: int | None
    ) -> list[Scalar]: ...


class _Fail(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def evaluate(formula: str, resolver: Resolver) -> Scalar:
    """Evaluate formula text (with its leading ``=``) to a value or a :class:`CellError`."""
    try:
        node = _Parser(_tokenize(formula.lstrip("=").strip())).parse()
    except _Fail as fail:
        return CellError(fail.code)
    try:
        result = _eval(node, resolver)
    except _Fail as fail:
        return CellError(fail.code)
    except (OverflowError, RecursionError):
        return CellError("#NUM!")
    if isinstance(result, list):
        return result[0] if len(result) == 1 else CellError("#VALUE!")
    return result


# --- parsing ---------------------------------------------------------------------------------


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise _Fail("#ERROR!")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser(TokenCursor):
    """Recursive descent with Excel/Sheets operator precedence."""

    _LEVELS = (("=", "<>", "<", ">", "<=", ">="), ("&",), ("+", "-"), ("*", "/"), ("^",))

    def parse(self) -> Node:
        if not self.tokens:
            raise _Fail("#ERROR!")
        node = self._binary(0)
        if self.pos != len(self.tokens):
            raise _Fail("#ERROR!")
        return node

    def _expect(self, op: str) -> None:
        if self._take() != ("op", op):
            raise _Fail("#ERROR!")

    def _binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self._unary()
        node = self._binary(level + 1)
        while self._peek()[0] == "op" and self._peek()[1] in self._LEVELS[level]:
            op = self._take()[1]
            node = ("bin", op, node, self._binary(level + 1))
        return node

    def _unary(self) -> Node:
        if self._peek() in (("op", "-"), ("op", "+")):
            op = self._take()[1]
            operand = self._unary()
            return ("neg", operand) if op == "-" else ("pos", operand)
        node = self._primary()
        while self._peek() == ("op", "%"):
            self._take()
            node = ("pct", node)
        return node

    def _primary(self) -> Node:
        kind, text = self._take()
        if kind == "number":
            return ("value", float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "string":
            return ("value", text[1:-1].replace('""', '"'))
        if kind == "ref":
            return _ref_node(text)
        if kind == "range":
            return _range_node(text)
        if kind == "name":
            return self._name(text)
        if (kind, text) == ("op", "("):
            node = self._binary(0)
            self._expect(")")
            return node
        raise _Fail("#ERROR!")

    def _name(self, name: str) -> Node:
        if self._peek() == ("op", "("):
            self._take()
            return ("call", name.upper(), self._arguments())
        if name.upper() in ("TRUE", "FALSE"):
            return ("value", name.upper() == "TRUE")
        return ("error", "#NAME?")

    def _arguments(self) -> list[Node]:
        args: list[Node] = []
        if self._peek() == ("op", ")"):
            self._take()
            return args
        while True:
            args.append(self._binary(0))
            kind, text = self._take()
            if (kind, text) == ("op", ")"):
                return args
            if (kind, text) not in (("op", ","), ("op", ";")):
                raise _Fail("#ERROR!")


def _split_sheet(text: str) -> tuple[str | None, str]:
    if "!" not in text:
        return None, text
    sheet, ref = text.rsplit("!", 1)
    if sheet.startswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, ref


def _ref_node(text: str) -> Node:
    sheet, ref = _split_sheet(text)
    match = _CELL.fullmatch(ref)
    if not match:
        raise _Fail("#ERROR!")
    return ("ref", sheet, int(match.group(2)) - 1, column_index(match.group(1)))


def _range_node(text: str) -> Node:
    sheet, ref = _split_sheet(text)
    try:
        rect = parse_a1(ref.replace("$", ""))
    except ValueError as exc:
        raise _Fail("#ERROR!") from exc
    return ("range", sheet, rect.r0, rect.c0, rect.r1, rect.c1)


# --- evaluation ------------------------------------------------------------------------------


def _eval(node: Node, resolver: Resolver) -> Scalar | list[Scalar]:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "error":
        raise _Fail(node[1])
    if kind == "ref":
        return _check(resolver.cell(node[1], node[2], node[3]))
    if kind == "range":
        return resolver.cells(*node[1:])
    if kind == "neg":
        return -_number(_scalar(node[1], resolver))
    if kind == "pos":
        return _scalar(node[1], resolver)
    if kind == "pct":
        return _number(_scalar(node[1], resolver)) / 100
    if kind == "bin":
        return _binary(node[1], _scalar(node[2], resolver), _scalar(node[3], resolver))
    if kind == "call":
        return _call(node[1], node[2], resolver)
    raise _Fail("#ERROR!")


def _scalar(node: Node, resolver: Resolver) -> Scalar:
    value = _eval(node, resolver)
    if isinstance(value, list):
        if len(value) != 1:
            raise _Fail("#VALUE!")
        value = value[0]
    return _check(value)


def _check(value: Scalar) -> Scalar:
    if isinstance(value, CellError):
        raise _Fail(value.code)
    return value


def _number(value: Scalar) -> float:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError as exc:
        raise _Fail("#VALUE!") from exc


def _text(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return format_general(value, LOCALES["en_US"])
    return str(value)


def _binary(op: str, left: Scalar, right: Scalar) -> Scalar:
    if op == "&":
        return _text(left) + _text(right)
    if op in ("=", "<>", "<", ">", "<=", ">="):
        return _compare(op, left, right)
    a, b = _number(left), _number(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 and (op == "/" or (op == "^" and b < 0)):
        raise _Fail("#DIV/0!")
    if op == "/":
        return a / b
    if a == 0 and b < 0:
        raise _Fail("#DIV/0!")
    result = a**b
    if isinstance(result, complex):
        raise _Fail("#NUM!")
    return result


def _compare(op: str, left: Scalar, right: Scalar) -> bool:
    def key(value: Scalar) -> tuple[int, Any]:
        if isinstance(value, str) and value != "":
            return (1, value.casefold())
        if isinstance(value, bool):
            return (2, value)
        return (0, _number(value))

    a, b = key(left), key(right)
    checks: dict[str, Callable[[], bool]] = {
        "=": lambda: a == b, "<>": lambda: a != b, "<": lambda: a < b,
        ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b,
    }
    return checks[op]()


def _collect(args: list[Node], resolver: Resolver) -> list[Scalar]:
    """Values of all arguments; ranges keep only numbers (text and blanks are skipped)."""
    values: list[Scalar] = []
    for arg in args:
        value = _eval(arg, resolver)
        if isinstance(value, list):
            for item in value:
                _check(item)
                if isinstance(item, int | float) and not isinstance(item, bool):
                    values.append(item)
        else:
            values.append(_number(_check(value)))
    return values


def _call(name: str, args: list[Node], resolver: Resolver) -> Scalar:
    aggregate = {
        "SUM": lambda v: sum(v),
        "MIN": lambda v: min(v) if v else 0,
        "MAX": lambda v: max(v) if v else 0,
        "COUNT": len,
    }
    if name in aggregate:
        return aggregate[name](_collect(args, resolver))
    if name == "AVERAGE":
        values = _collect(args, resolver)
        if not values:
            raise _Fail("#DIV/0!")
        return sum(v for v in values if isinstance(v, int | float)) / len(values)
    if name == "COUNTA":
        return sum(_count_non_empty(_eval(arg, resolver)) for arg in args)
    if name in ("CONCATENATE", "CONCAT"):
        return "".join(_text(_scalar(arg, resolver)) for arg in args)
    if name == "IF":
        return _if(args, resolver)
    if name == "ABS" and len(args) == 1:
        return abs(_number(_scalar(args[0], resolver)))
    if name == "ROUND" and len(args) in (1, 2):
        digits = int(_number(_scalar(args[1], resolver))) if len(args) == 2 else 0
        return _round(_number(_scalar(args[0], resolver)), digits)
    raise _Fail("#NAME?")


def _count_non_empty(value: Scalar | list[Scalar]) -> int:
    items = value if isinstance(value, list) else [value]
    return sum(1 for item in items if item is not None and item != "")


def _if(args: list[Node], resolver: Resolver) -> Scalar:
    if len(args) not in (2, 3):
        raise _Fail("#N/A")
    condition = _scalar(args[0], resolver)
    if isinstance(condition, str) and condition.upper() not in ("TRUE", "FALSE", ""):
        raise _Fail("#VALUE!")
    truthy = condition.upper() == "TRUE" if isinstance(condition, str) else bool(_number(condition))
    if truthy:
        return _scalar(args[1], resolver)
    return _scalar(args[2], resolver) if len(args) == 3 else False


def _round(value: float, digits: int) -> float:
    factor = 10.0**digits
    rounded = math.floor(abs(value) * factor + 0.5) / factor
    return math.copysign(rounded, value) if rounded else 0
