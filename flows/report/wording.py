"""The report's sentences: Jinja2 patterns in `templates/bao-cao.yaml`, editable by the office."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError

from flows.config import ConfigError, nfc

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
WORDING_FILE = "bao-cao.yaml"

_env = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


def templates_dir(config_dir: Path | None = None) -> Path:
    """`templates/` beside the config folder if it has the report template, else the project's."""
    if config_dir is not None:
        local = Path(config_dir).parent / "templates"
        if (local / WORDING_FILE).is_file():
            return local
    return TEMPLATES_DIR


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


@cache
def _compiled(pattern: str):
    return _env.from_string(pattern)


def load_wording(directory: Path | None = None) -> Wording:
    """Read `bao-cao.yaml` from the templates folder."""
    path = (directory or TEMPLATES_DIR) / WORDING_FILE
    if not path.is_file():
        raise ConfigError([f"{path}: không tìm thấy tệp câu chữ của báo cáo."])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: lỗi cú pháp YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: cần một nhóm khoá: giá trị"])
    return Wording(_norm(data), path.name)


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
