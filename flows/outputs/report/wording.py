"""The report's sentences: Jinja2 patterns in `templates/bao-cao.yaml`, editable by the office."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, TemplateError

from flows.config import Config, ConfigError, load_yaml, nfc
from flows.config.workspace import shipped_templates

WORDING_FILE = "bao-cao.yaml"
TEMPLATES_DIR = shipped_templates()  # the shipped wording; a deployment's own comes first

_env = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_norm(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


class Wording:
    """Looks up a pattern by dotted key and fills it: `say("results.line", label=…)`."""

    def __init__(self, data: dict[str, Any], source: str):
        self.data = data
        self.source = source

    def raw(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError([f"{self.source}: thiếu câu chữ “{key}”"])
            node = node[part]
        return node

    def say(self, key: str, **values: Any) -> str:
        pattern = self.raw(key)
        try:
            text = _compiled(str(pattern)).render(**values)
        except TemplateError as exc:
            raise ConfigError([f"{self.source}: câu “{key}” không điền được: {exc}"]) from exc
        return nfc(re.sub(r"\s+", " ", text).strip())

    def join(self, items: list[str]) -> str:
        """"A", "A và B", "A, B và C": the last two joined by the wording's `words.and`."""
        items = [item for item in items if item]
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.say('words.and')} {items[-1]}"


@cache
def _compiled(pattern: str):
    return _env.from_string(pattern)


def load_wording(directory: Path | None = None) -> Wording:
    """Read `bao-cao.yaml` from a templates folder (default: the shipped one)."""
    path = (directory or TEMPLATES_DIR) / WORDING_FILE
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: cần một nhóm khoá: giá trị"])
    return Wording(_norm(data), path.name)


def config_wording(config: Config) -> Wording:
    """The wording the loader read (and checked) for this deployment."""
    return Wording(_norm(config.wording), WORDING_FILE)


def sentence_case(title: str, keep_upper: list[str]) -> str:
    """"1. BAN HÀNH VĂN BẢN; XÂY DỰNG" → "1. Ban hành văn bản; xây dựng" (acronyms kept)."""
    keep = {word.upper() for word in keep_upper}
    words = []
    for word in title.split(" "):
        core = word.strip("(),.;:")
        if core.upper() in keep or any(ch.isdigit() for ch in core):
            words.append(word)
        else:
            words.append(word.lower())
    text = " ".join(words)
    for i, ch in enumerate(text):  # capitalise the first letter, after any "1. " numbering
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:]
    return text
