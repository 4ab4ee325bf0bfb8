"""The Drive v3 ``files.list`` query language (the ``q`` parameter), a useful subset.

Terms: ``name = 'x'`` / ``!=`` / ``contains`` (word-prefix match, case-insensitive, like
Drive), ``mimeType = 'x'``, ``modifiedTime``/``createdTime`` with ``= != < <= > >=`` against an
RFC 3339 time, ``trashed = true|false``, ``starred = ...``, ``'ID' in parents`` (also the
``parents in 'ID'`` form gspread sends), ``'EMAIL' in owners|writers|readers``,
``fullText contains 'x'`` (searched in names only). Terms combine with ``and``, ``or``,
``not`` and parentheses. Strings take single or double quotes with ``\\'`` escapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flows.testing.google_emulator.common import TokenCursor
from flows.testing.google_emulator.state import parse_rfc3339

FileView = dict[str, Any]  # name, mimeType, modifiedTime (datetime), parents, owners, ...
Predicate = Callable[[FileView], bool]

_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""",
    re.VERBOSE,
)
_TEXT_FIELDS = ("name", "mimeType", "fullText", "description")
_TIME_FIELDS = ("modifiedTime", "createdTime", "viewedByMeTime", "sharedWithMeTime")
_BOOL_FIELDS = ("trashed", "starred", "sharedWithMe")
_LIST_FIELDS = ("parents", "owners", "writers", "readers")


class QueryError(ValueError):
    """The query cannot be parsed or uses an unsupported term."""


def compile_query(text: str) -> Predicate:
    """Compile a ``q`` string into a predicate over a file view."""
    tokens = _tokenize(text)
    if not tokens:
        return lambda view: True
    parser = _Parser(tokens)
    predicate = parser.expression()
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r}")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if not match:
            raise QueryError(f"cannot read {text[pos:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser(TokenCursor):
    def _keyword(self, word: str) -> bool:
        kind, value = self._peek()
        if kind == "word" and value.lower() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Predicate:
        terms = [self._conjunction()]
        while self._keyword("or"):
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else (lambda v: any(t(v) for t in terms))

    def _conjunction(self) -> Predicate:
        terms = [self._unary()]
        while self._keyword("and"):
            terms.append(self._unary())
        return terms[0] if len(terms) == 1 else (lambda v: all(t(v) for t in terms))

    def _unary(self) -> Predicate:
        if self._keyword("not"):
            inner = self._unary()
            return lambda v: not inner(v)
        if self._peek() == ("paren", "("):
            self._take()
            inner = self.expression()
            if self._take() != ("paren", ")"):
                raise QueryError("missing )")
            return inner
        return self._term()

    def _term(self) -> Predicate:
        kind, value = self._take()
        if kind == "string":  # 'x' in parents
            if not self._keyword("in"):
                raise QueryError("expected 'in'")
            return _membership(self._field(_LIST_FIELDS), value)
        if kind != "word":
            raise QueryError(f"unexpected {value!r}")
        field = value
        if field in _LIST_FIELDS and self._keyword("in"):  # parents in 'x' (gspread)
            return _membership(field, self._string())
        if self._keyword("contains"):
            return _contains(field, self._string())
        op_kind, op = self._take()
        if op_kind != "op":
            raise QueryError(f"expected an operator after {field}")
        return _comparison(field, op, self._take())

    def _field(self, allowed: tuple[str, ...]) -> str:
        kind, value = self._take()
        if kind != "word" or value not in allowed:
            raise QueryError(f"unsupported field {value!r}")
        return value

    def _string(self) -> str:
        kind, value = self._take()
        if kind != "string":
            raise QueryError("expected a quoted string")
        return value


def _membership(field: str, value: str) -> Predicate:
    wanted = value.lower()
    return lambda v: wanted in (str(item).lower() for item in v.get(field, []))


def _contains(field: str, value: str) -> Predicate:
    if field not in _TEXT_FIELDS:
        raise QueryError(f"contains is not supported for {field}")
    needle = value.casefold()
    source = "name" if field == "fullText" else field
    if field == "mimeType":
        return lambda v: needle in str(v.get(source, "")).casefold()
    return lambda v: _word_prefix(str(v.get(source) or ""), needle)


def _word_prefix(text: str, needle: str) -> bool:
    """Drive matches ``name contains`` against the starts of words, ignoring case."""
    haystack = text.casefold()
    start = haystack.find(needle)
    while start != -1:
        if start == 0 or not haystack[start - 1].isalnum():
            return True
        start = haystack.find(needle, start + 1)
    return False


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _comparison(field: str, op: str, operand: tuple[str, str]) -> Predicate:
    kind, value = operand
    compare = _COMPARE[op]
    if field in _TIME_FIELDS:
        if kind != "string":
            raise QueryError("times must be quoted")
        try:
            moment: datetime = parse_rfc3339(value)
        except ValueError as exc:
            raise QueryError(f"bad time {value!r}") from exc
        return lambda v: v.get(field) is not None and compare(v[field], moment)
    if op not in ("=", "!="):
        raise QueryError(f"{op} is not supported for {field}")
    if field in _BOOL_FIELDS:
        if kind != "word" or value.lower() not in ("true", "false"):
            raise QueryError(f"{field} takes true or false")
        flag = value.lower() == "true"
        return lambda v: compare(bool(v.get(field)), flag)
    if field in ("name", "mimeType", "description"):
        if kind != "string":
            raise QueryError(f"{field} takes a quoted string")
        return lambda v: compare(v.get(field), value)
    raise QueryError(f"unsupported field {field!r}")
