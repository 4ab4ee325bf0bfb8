"""What every config file shares: the base model, Vietnamese validation messages, YAML loading.

Office staff, not programmers, edit these files: every mistake becomes a sentence naming the
file, the key path and what is expected.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator


class ConfigError(Exception):
    """A configuration file is missing or wrong; `problems` lists every mistake found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def nfc(text: str) -> str:
    """Vietnamese text is compared and stored in Unicode NFC."""
    return unicodedata.normalize("NFC", text)


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _normalise_text(cls, value: Any) -> Any:
        return nfc(value).strip() if isinstance(value, str) else value


_MESSAGES = {
    "missing": "thiếu khoá bắt buộc",
    "extra_forbidden": "khoá không được biết đến (viết sai tên khoá?)",
    "literal_error": "giá trị không hợp lệ; cần một trong: {expected}",
    "string_type": "cần một chuỗi chữ",
    "int_parsing": "cần một số nguyên",
    "int_type": "cần một số nguyên",
    "bool_parsing": "cần true hoặc false",
    "bool_type": "cần true hoặc false",
    "date_from_datetime_parsing": "cần một ngày dạng YYYY-MM-DD",
    "date_parsing": "cần một ngày dạng YYYY-MM-DD",
    "date_type": "cần một ngày dạng YYYY-MM-DD",
    "list_type": "cần một danh sách (các dòng bắt đầu bằng '- ')",
    "dict_type": "cần một nhóm khoá: giá trị",
    "model_type": "cần một nhóm khoá: giá trị",
    "too_short": "danh sách không được rỗng",
    "string_too_long": "quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "sai định dạng mã (chỉ dùng chữ không dấu, số, dấu chấm)",
}


def key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(gốc)"


def describe_error(error: dict[str, Any]) -> str:
    template = _MESSAGES.get(error["type"])
    if template is None:
        text = error["msg"].removeprefix("Value error, ")
    else:
        context = {k: str(v).replace(" or ", " hoặc ") for k, v in
                   (error.get("ctx") or {}).items()}
        text = template.format(**context)
    if error["type"] not in ("missing",) and "input" in error:
        shown = repr(error["input"])
        if len(shown) <= 60:
            text += f" (đang ghi: {shown})"
    return text


YAML_HINTS = (  # PyYAML's English problem → what an office clerk can do about it
    ("mapping values are not allowed", "dấu “:” đặt sai chỗ (sau dấu “:” cần một khoảng trắng; "
                                       "giá trị có dấu “:” thì đặt trong ngoặc kép)"),
    ("found character '\\t'", "có ký tự Tab; chỉ thụt lề bằng dấu cách"),
    ("could not find expected ':'", "thiếu dấu “:” sau tên khoá"),
    ("expected <block end>", "thụt lề không khớp với các dòng trên"),
    ("expected ',' or ']'", "dấu ngoặc “[” chưa được đóng bằng “]”"),
    ("expected ',' or '}'", "dấu ngoặc “{” chưa được đóng bằng “}”"),
    ("found unexpected end of stream", "dấu ngoặc kép chưa được đóng"),
    ("did not find expected key", "thụt lề sai hoặc thiếu dấu “-” đầu dòng danh sách"),
    ("did not find expected '-' indicator", "các dòng của danh sách phải bắt đầu bằng “- ”"),
    ("found duplicate anchor", "ký hiệu & bị trùng"),
    ("found undefined alias", "ký hiệu * trỏ tới mục không có"),
)


def yaml_problem(name: str, exc: yaml.YAMLError) -> str:
    """A YAML syntax error as one Vietnamese sentence with the line (and where it began)."""
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    where = f" (dòng {mark.line + 1}, cột {mark.column + 1})" if mark else ""
    problem = str(getattr(exc, "problem", "") or exc)
    hint = next((vi for en, vi in YAML_HINTS if en in problem), None)
    began = (f"; phần này bắt đầu ở dòng {context.line + 1}"
             if context is not None and mark is not None and context.line != mark.line else "")
    what = hint or f"không đọc được ({problem})"
    return f"{name}{where}: lỗi cú pháp YAML — {what}{began}."


def load_yaml(path: Path) -> Any:
    """The parsed content of one YAML file; a ConfigError naming it when missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: không tìm thấy tệp cấu hình."])
    try:
        text = path.read_text(encoding="utf-8")
        # libyaml parses ten times faster; the pure-Python parser words the errors we show
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except UnicodeDecodeError:
        raise ConfigError([f"{path.name}: tệp không phải văn bản UTF-8; lưu lại tệp với bảng "
                           "mã UTF-8."]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(path.name, _worded(text) or exc)]) from None


def _worded(text: str) -> yaml.YAMLError | None:
    """The pure-Python parser's error for a text libyaml refused (its marks word our message)."""
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return exc
    return None


def validation_problems(name: str, exc: ValidationError) -> list[str]:
    """Every pydantic error as "file: key.path: what is expected"."""
    return [f"{name}: {key_path(err['loc'])}: {describe_error(err)}" for err in exc.errors()]


def parse_data(model: type[ConfigModel], data: Any, name: str) -> Any:
    """Validate already-loaded YAML data against `model`; a ConfigError lists every mistake."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(name, exc)) from None


def parse_file(model: type[ConfigModel], path: Path) -> Any:
    """Load and validate one config file."""
    path = Path(path)
    return parse_data(model, load_yaml(path), path.name)
