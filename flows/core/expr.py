"""A small, safe expression language for the consistency rules in `config/rules.yaml`.

Grammar (a hand-written tokenizer and recursive-descent parser; user text is never `eval`-ed)::

    condition := expr ("==" | "!=" | "<" | "<=" | ">" | ">=") expr
    expr      := term (("+" | "-") term)*
    term      := unary (("*" | "/") unary)*
    unary     := "-" unary | primary
    primary   := NUMBER | "months" | ref | AGG "(" ref ("," ref)* ")" | "(" expr ")"
    ref       := CODE ["." ROWCAT] ["[" COLCAT "]"]       e.g. C1.a[nam], TT.10, B3.1
    AGG       := "sum" | "max" | "min" | "count_filled"

Indicator codes contain dots (`B3.1`), so a reference is resolved greedily against the form:
the longest dotted prefix that is an indicator code, the rest is a row category. A missing
selector means the dimension's total category; `*` means every non-total category (aggregates
only); `$` is the `for_each` category. Every reference resolves to a column of `Wide.frame`
(``indicator|breakdown``), and evaluation is column arithmetic on numpy arrays.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np

from flows.config.form import NUMERIC_TYPES, Dimension, Form, Item

AGGREGATES = ("sum", "max", "min", "count_filled")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ALL = "*"
PLACEHOLDER = "$"

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<ref>[A-Z][A-Za-z0-9_]*(?:\.(?:[A-Za-z0-9_]+|\*|\$))*(?:\[[^\]\[]*\])?)
    |(?P<name>[a-z_][a-z0-9_]*)
    |(?P<op><=|>=|==|!=|[-+*/(),<>=])
    """,
    re.VERBOSE,
)


class ExprError(ValueError):
    """A rule expression is wrong; the message is Vietnamese and names the place when it can."""


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Ref:
    """One cell of the form: a column of the wide matrix."""

    indicator: str
    breakdown: str
    yearly: bool  # False for questions asked once (located without a year)

    @property
    def column(self) -> str:
        return f"{self.indicator}|{self.breakdown}"


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Months:
    """Months of the row's year inside the plan's reporting period."""


@dataclass(frozen=True)
class Aggregate:
    func: str
    refs: tuple[Ref, ...]


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Condition:
    """`left op right`: the `when` of a rule."""

    left: Node
    op: str
    right: Node


Node = Number | Months | Ref | Aggregate | Negate | Binary


def references(node: Node | Condition | None, *, counted: bool = True) -> list[Ref]:
    """Every reference in `node`, left to right, each once.

    With `counted=False` the references inside `count_filled(...)` are left out: that function
    looks at presence itself, so a blank there must not make the row "missing".
    """
    found: list[Ref] = []

    def walk(n: Node | Condition | None) -> None:
        match n:
            case Ref():
                found.append(n)
            case Aggregate(func=func, refs=refs):
                if counted or func != "count_filled":
                    found.extend(refs)
            case Negate(operand=operand):
                walk(operand)
            case Binary(left=left, right=right) | Condition(left=left, right=right):
                walk(left)
                walk(right)

    walk(node)
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class _Token:
    kind: str  # number, ref, name, op, end
    text: str
    pos: int  # 0-based offset in the expression


def _where(pos: int) -> str:
    return f"(ký tự thứ {pos + 1})"


def tokenize(text: str) -> list[_Token]:
    """Split an expression into tokens; an unknown character is an error naming its position."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            hint = " (thiếu dấu đóng ] của cột?)" if text[pos] == "[" else ""
            raise ExprError(f"lỗi cú pháp {_where(pos)}: không hiểu ký tự {text[pos]!r}{hint}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- references


class FormIndex:
    """What the parser needs to know about the form: indicators, their rows and columns."""

    def __init__(self, form: Form):
        self.form = form
        self.items: dict[str, Item] = {}
        self.columns: dict[str, str | None] = {}  # indicator → column dimension of its block
        self.yearly: dict[str, bool] = {}
        for tab in form.tabs:
            for block in tab.blocks:
                for item in block.items:
                    self.items[item.code] = item
                    self.columns[item.code] = block.columns if block.yearly else None
                    self.yearly[item.code] = block.yearly

    def split(self, dotted: str) -> tuple[Item, str | None]:
        """`C1.a` → (C1, "a"); `B3.1` → (B3.1, None): the longest prefix that is a code."""
        parts = dotted.split(".")
        for size in range(len(parts), 0, -1):
            code = ".".join(parts[:size])
            if code in self.items:
                rest = parts[size:]
                if len(rest) > 1:
                    raise ExprError(
                        f"'{dotted}': sau mã chỉ tiêu {code} chỉ được ghi một mã dòng")
                return self.items[code], (rest[0] if rest else None)
        raise ExprError(f"không có chỉ tiêu '{dotted}' trong biểu mẫu")


def _categories(index: FormIndex, item: Item, dim_id: str | None, selector: str | None,
                kind: str, in_aggregate: bool) -> list[str]:
    """Category codes a row (`kind` = "dòng") or column ("cột") selector stands for."""
    if dim_id is None:
        if selector is not None:
            raise ExprError(
                f"chỉ tiêu {item.code} không chia {kind} theo phân tổ nào nên không chọn được "
                f"{kind} '{selector}'")
        return [""]
    dimension: Dimension = index.form.dimensions[dim_id]
    codes = [c.code for c in dimension.categories]
    if selector is None:
        total = [c.code for c in dimension.categories if c.total]
        if not total:
            raise ExprError(
                f"phân tổ {dim_id} không có {kind} tổng; ghi rõ {kind} của chỉ tiêu {item.code}")
        return total[:1]
    if selector == ALL:
        if not in_aggregate:
            raise ExprError(
                f"dấu * (mọi {kind}) ở {item.code} chỉ dùng được trong "
                "sum(...), max(...), min(...), count_filled(...)")
        return [c.code for c in dimension.categories if not c.total]
    if selector not in codes:
        raise ExprError(
            f"chỉ tiêu {item.code} không có {kind} '{selector}' (phân tổ {dim_id}: "
            f"{', '.join(codes)})")
    return [selector]


_REF_PARTS = re.compile(r"^(?P<dotted>[^\[]+)(?:\[\s*(?P<col>[^\]]*?)\s*\])?$")


def resolve(text: str, index: FormIndex, placeholder: str | None,
            in_aggregate: bool = False) -> list[Ref]:
    """The cells a reference token stands for (several only with `*`)."""
    if PLACEHOLDER in text:
        if placeholder is None:
            raise ExprError(f"'{text}': dấu $ chỉ dùng được trong quy tắc có for_each")
        text = text.replace(PLACEHOLDER, placeholder)
    parts = _REF_PARTS.match(text)
    if parts is None:  # the tokenizer only lets well-formed references through
        raise ExprError(f"không hiểu tham chiếu '{text}'")
    dotted, col = parts.group("dotted"), parts.group("col")
    row = None
    if dotted.endswith("." + ALL):  # `*` never belongs to a code
        dotted, row = dotted[:-2], ALL
    item, found_row = index.split(dotted)
    row = row or found_row
    if item.type not in NUMERIC_TYPES:
        raise ExprError(f"chỉ tiêu {item.code} có kiểu {item.type}, không phải số nên không "
                        "tính toán được")
    rows = _categories(index, item, item.rows, row, "dòng", in_aggregate)
    cols = _categories(index, item, index.columns[item.code], col, "cột", in_aggregate)
    yearly = index.yearly[item.code]
    return [Ref(item.code, ",".join(p for p in pair if p), yearly)
            for pair in product(rows, cols)]


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, index: FormIndex, placeholder: str | None):
        self.tokens = tokenize(text)
        self.at = 0
        self.index = index
        self.placeholder = placeholder

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def advance(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, what: str, token: _Token | None = None) -> ExprError:
        token = token or self.token
        shown = f"gặp {token.text!r}" if token.kind != "end" else "biểu thức kết thúc sớm"
        return ExprError(f"lỗi cú pháp {_where(token.pos)}: {what}, nhưng {shown}")

    def expect(self, text: str, what: str) -> None:
        if self.token.text != text or self.token.kind != "op":
            raise self.fail(what)
        self.advance()

    def finish(self) -> None:
        if self.token.kind != "end":
            if self.token.text == "=":
                raise self.fail("so sánh bằng viết là ==")
            raise self.fail("cần phép tính + - * / hoặc kết thúc")

    def expr(self) -> Node:
        node = self.term()
        while self.token.kind == "op" and self.token.text in "+-":
            op = self.advance().text
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.token.kind == "op" and self.token.text in "*/":
            op = self.advance().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.token.kind == "op" and self.token.text == "-":
            self.advance()
            return Negate(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(float(token.text))
        if token.kind == "ref":
            self.advance()
            refs = self.refs(token, in_aggregate=False)
            return refs[0]
        if token.kind == "name":
            return self.name()
        if token.kind == "op" and token.text == "(":
            self.advance()
            node = self.expr()
            self.expect(")", "thiếu dấu đóng ngoặc )")
            return node
        raise self.fail("cần một số, một chỉ tiêu, một hàm hoặc dấu mở ngoặc (")

    def name(self) -> Node:
        token = self.advance()
        if token.text == "months":
            return Months()
        if token.text not in AGGREGATES:
            raise ExprError(
                f"lỗi cú pháp {_where(token.pos)}: không biết tên '{token.text}' (dùng được: "
                f"months, {', '.join(f'{a}(...)' for a in AGGREGATES)}; mã chỉ tiêu viết hoa)")
        self.expect("(", f"sau {token.text} cần dấu mở ngoặc (")
        refs: list[Ref] = []
        while True:
            arg = self.token
            if arg.kind != "ref":
                raise self.fail(f"trong {token.text}(...) chỉ ghi mã chỉ tiêu, cách nhau dấu phẩy")
            self.advance()
            refs.extend(self.refs(arg, in_aggregate=True))
            if self.token.kind == "op" and self.token.text == ",":
                self.advance()
                continue
            self.expect(")", f"thiếu dấu đóng ngoặc ) của {token.text}(...)")
            return Aggregate(token.text, tuple(dict.fromkeys(refs)))

    def refs(self, token: _Token, in_aggregate: bool) -> list[Ref]:
        return resolve(token.text, self.index, self.placeholder, in_aggregate)


def parse_expression(text: str, index: FormIndex, placeholder: str | None = None) -> Node:
    """Parse and resolve one arithmetic expression; raise `ExprError` on any mistake."""
    parser = _Parser(text, index, placeholder)
    node = parser.expr()
    parser.finish()
    return node


def parse_condition(text: str, index: FormIndex, placeholder: str | None = None) -> Condition:
    """Parse `expr op expr`, e.g. `B3.1 > 0`."""
    parser = _Parser(text, index, placeholder)
    left = parser.expr()
    token = parser.token
    if token.kind != "op" or token.text not in COMPARISONS:
        hint = "so sánh bằng viết là ==" if token.text == "=" else \
            "cần một phép so sánh (==, !=, <, <=, >, >=)"
        raise parser.fail(hint)
    parser.advance()
    right = parser.expr()
    parser.finish()
    return Condition(left, token.text, right)


# --------------------------------------------------------------------------- evaluation

Column = Callable[[str], np.ndarray]


def _aggregate(func: str, refs: tuple[Ref, ...], column: Column,
               present: Column) -> np.ndarray:
    if func == "count_filled":
        return np.sum([present(r.column) for r in refs], axis=0).astype(float)
    stacked = np.vstack([column(r.column) for r in refs])
    reduce = {"sum": np.add, "max": np.maximum, "min": np.minimum}[func]
    return reduce.reduce(stacked, axis=0)  # NaN propagates: "not evaluable"


def evaluate(node: Node, column: Column, present: Column, months: np.ndarray) -> np.ndarray:
    """Evaluate `node` for every row at once.

    `column(name)` gives a column's values (missing already filled with 0 where the rule says
    so), `present(name)` whether the cell was typed; `months` is per row. Division by zero
    gives NaN, which the caller reads as "not evaluable".
    """
    match node:
        case Number(value=value):
            return np.full(len(months), value)
        case Months():
            return months.astype(float)
        case Ref():
            return column(node.column).astype(float)
        case Aggregate(func=func, refs=refs):
            return _aggregate(func, refs, column, present)
        case Negate(operand=operand):
            return -evaluate(operand, column, present, months)
        case Binary(op=op, left=left, right=right):
            a = evaluate(left, column, present, months)
            b = evaluate(right, column, present, months)
            if op == "/":
                out = np.full(len(a), np.nan)
                np.divide(a, b, out=out, where=(b != 0) & ~np.isnan(b))
                return out
            return {"+": np.add, "-": np.subtract, "*": np.multiply}[op](a, b)
    raise TypeError(f"unknown node {node!r}")


def compare(left: np.ndarray, op: str, right: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Where `left op right` holds, with `allowed` slack; NaN on either side never holds."""
    slack = allowed + 1e-9 * (1 + np.abs(right))  # money products are floats: absorb rounding
    with np.errstate(invalid="ignore"):
        holds = {
            "==": np.abs(left - right) <= slack,
            "!=": np.abs(left - right) > slack,
            "<": left < right + allowed - 1e-9 * (1 + np.abs(right)),
            "<=": left <= right + slack,
            ">": left > right - allowed + 1e-9 * (1 + np.abs(right)),
            ">=": left >= right - slack,
        }[op]
    return holds & ~np.isnan(left) & ~np.isnan(right)
