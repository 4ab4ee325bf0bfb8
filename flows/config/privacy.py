"""`privacy.yaml`: what personal data looks like in a free-text cell, and what is not a person.

The file holds the kinds of personal data (name, birth date, age, phone, ID number, address)
with the words the commune is shown, word lists (surnames, the words before a name…), the
official names set aside before searching, and one or more regular expressions per kind. A
pattern names a word list as ``{list}`` (any of its words as a whole word, as listed or
without diacritics), ``{list:exact}`` (as listed only), ``{list:anycase}`` (first letter in
either case), ``{list:upper}`` (in capitals), and a Vietnamese letter as ``{UP}`` / ``{low}``.

`compile_privacy` expands and compiles everything, with the deployment's own official names
(units, the region, the report's issuer and signer, the office's contact line) added to the
set-aside list; every mistake (an unknown list, a broken expression) is reported with its key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field, model_validator

from flows.config.base import ConfigError, ConfigModel, nfc

PRIVACY_FILE = "privacy.yaml"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)(?::(upper|exact|anycase))?\}")
_CONSONANTS = "bcdđfghjklmnpqrstvwxz"
_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_LOWER = sorted(set(_CONSONANTS) | {nfc(v + t) for v in _VOWELS for t in _TONES})
BUILTIN = {
    "UP": "[" + "".join(re.escape(c.upper()) for c in _LOWER) + "]",
    "low": "[" + "".join(re.escape(c) for c in _LOWER) + "]",
}


class Official(ConfigModel):
    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)


class SmallCounts(ConfigModel):
    """How the published tables show small counts of sensitive indicators (`sensitive: true`
    in form.yaml): a unit's count from 1 to `threshold` as `shown_as`, and a cell hidden so
    that none of those can be worked out from the totals as `hidden_as`."""

    threshold: int = Field(default=4, ge=2, le=100)
    shown_as: str = Field(default="<5", min_length=1, max_length=10)
    hidden_as: str = Field(default="x", min_length=1, max_length=10)

    @model_validator(mode="after")
    def _marks(self) -> SmallCounts:
        if self.shown_as == self.hidden_as:
            raise ValueError("shown_as và hidden_as phải khác nhau (ô số nhỏ và ô được ẩn "
                             "thêm cần phân biệt được)")
        for name, mark in (("shown_as", self.shown_as), ("hidden_as", self.hidden_as)):
            if re.fullmatch(r"[\d.,\s]+", mark):
                raise ValueError(f"{name}: không ghi một con số ({mark!r}): người đọc sẽ hiểu "
                                 "nhầm là số liệu; ghi ví dụ \"<5\" hoặc \"x\"")
        return self


class Privacy(ConfigModel):
    mask: str = Field(min_length=1)
    kinds: dict[str, str] = Field(min_length=1)
    words: dict[str, list[str]] = Field(default_factory=dict)
    official: Official = Official()
    patterns: dict[str, list[str]] = Field(min_length=1)
    small_counts: SmallCounts = SmallCounts()


def unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _forms(word: str, mode: str) -> set[str]:
    """How a listed word may be written: ``listed`` (as listed, or without its diacritics),
    ``exact`` (as listed only), ``upper`` (in capitals), ``anycase`` (its first letter in
    either case), ``phrase`` (in any case)."""
    word = " ".join(nfc(word).split())
    if not word:
        return set()
    spellings = {word, unaccented(word)}
    if mode == "exact":
        return {word}
    if mode == "upper":
        return {s.upper() for s in spellings}
    if mode == "listed":
        return spellings
    cases = {s[0].lower() + s[1:] for s in spellings} | {s[0].upper() + s[1:] for s in spellings}
    if mode == "phrase":
        cases |= {s.lower() for s in spellings} | {s.upper() for s in spellings}
    return spellings | cases


def _alternatives(words: Iterable[str], mode: str = "listed") -> str:
    """One regex matching any of the words as a whole word (not inside a longer one), spaces
    matching one space. Built as a trie whose branches start with a letter and only then check
    the word's start: the regex engine skips quickly every position no word starts with."""
    forms = {form for word in words for form in _forms(word, mode)}
    return _trie(forms) + r"(?:(?<!\w)|(?!\w))" if forms else "(?!)"


def _trie(words: Iterable[str]) -> str:
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict, first: bool) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if char:
                start = r"(?<!\w.)" if first and re.match(r"\w", char) else ""
                branches.append(re.escape(char).replace("\\ ", " ") + start
                                + build(child, False))
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        alternation = "(?:" + "|".join(branches) + ")"
        return alternation + "?" if "" in node else alternation

    return "(?:" + build(root, True) + ")"


@dataclass(frozen=True)
class CompiledPrivacy:
    """The compiled screen: what to set aside, then one expression per kind."""

    mask: str
    labels: dict[str, str]  # kind → the words the commune reads, in the order shown
    official: tuple[re.Pattern, ...]  # set aside one after the other
    # per kind, its patterns: run one by one (quicker than one alternation of them all)
    patterns: dict[str, tuple[re.Pattern, ...]]
    small_counts: SmallCounts = SmallCounts()  # small counts in the published tables


def _expand(pattern: str, words: dict[str, list[str]], where: str,
            problems: list[str]) -> str | None:
    unknown = []

    def replace(match: re.Match) -> str:
        name, modifier = match.group(1), match.group(2)
        if name in BUILTIN and not modifier:
            return BUILTIN[name]
        if name not in words:
            unknown.append(name)
            return ""
        return _alternatives(words[name], modifier or "listed")

    expanded = _PLACEHOLDER.sub(replace, nfc(pattern))
    if unknown:
        problems.append(f"{PRIVACY_FILE}: {where}: không có danh sách từ "
                        f"{', '.join(repr(u) for u in unknown)} trong words (hoặc UP, low)")
        return None
    return expanded


def _compiled(pattern: str, where: str, problems: list[str]) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append(f"{PRIVACY_FILE}: {where}: mẫu tìm kiếm không hợp lệ ({exc.msg}, vị trí "
                        f"{exc.pos})")
        return None


def compile_privacy(privacy: Privacy, official_texts: Iterable[str] = ()) -> CompiledPrivacy:
    """Every pattern expanded and compiled, and the official texts set aside: the texts
    themselves (unit names…) and whatever a pattern finds in them (the signer's name, the
    office's phone number).

    Raises:
        ConfigError: every problem, each naming its key in privacy.yaml.
    """
    problems: list[str] = []
    words = {name: [w for w in listed if isinstance(w, str)]
             for name, listed in privacy.words.items()}
    for name in words:
        if name in BUILTIN or not re.fullmatch(r"[A-Za-z_]+", name):
            problems.append(f"{PRIVACY_FILE}: words.{name}: tên danh sách không dùng được "
                            "(chỉ chữ không dấu và dấu _, khác UP và low)")
    for kind in privacy.patterns:
        if kind not in privacy.kinds:
            problems.append(f"{PRIVACY_FILE}: patterns.{kind}: loại {kind!r} không có trong kinds")
    for kind in privacy.kinds:
        if not privacy.patterns.get(kind):
            problems.append(f"{PRIVACY_FILE}: kinds.{kind}: cần ít nhất một mẫu ở patterns.{kind}")
    patterns: dict[str, tuple[re.Pattern, ...]] = {}
    for kind, listed in privacy.patterns.items():
        parts = [_expand(p, words, f"patterns.{kind}[{i}]", problems)
                 for i, p in enumerate(listed)]
        compiled = [_compiled(part, f"patterns.{kind}[{i}]", problems)
                    for i, part in enumerate(parts) if part is not None]
        if kind in privacy.kinds and compiled and all(c is not None for c in compiled):
            patterns[kind] = tuple(compiled)
    own = [_expand(p, words, f"official.patterns[{i}]", problems)
           for i, p in enumerate(privacy.official.patterns)]
    for i, part in enumerate(own):
        if part is not None:
            _compiled(part, f"official.patterns[{i}]", problems)
    if problems:
        raise ConfigError(problems)
    texts = [" ".join(nfc(t).split()) for t in official_texts if t and t.strip()]
    found = {m.group(0) for t in texts for kind in patterns.values() for p in kind
             for m in p.finditer(t)}
    phrases = [*privacy.official.phrases, *texts, *found]
    # the office's own patterns first ("Tổng đài 111" is set aside with its number), then the
    # phrases; one pass each is quicker than one alternation of them all
    official = tuple(re.compile(p) for p in own if p)
    if phrases:
        official += (re.compile(_alternatives(phrases, "phrase")),)
    labels = {kind: label for kind, label in privacy.kinds.items() if kind in patterns}
    return CompiledPrivacy(privacy.mask, labels, official, patterns, privacy.small_counts)
