"""`reminders.yaml`: when reminder emails go out and through which SMTP server."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from flows.config.base import ConfigError, ConfigModel, parse_file

SETTINGS_FILE = "reminders.yaml"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Smtp(ConfigModel):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "GIAMSAT_SMTP_PASSWORD"
    timeout: float = Field(default=30, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("không ghi mật khẩu vào tệp cấu hình; đặt mật khẩu vào một biến "
                             "môi trường và ghi tên biến đó ở password_env")
        return data

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
            raise ValueError("tên biến môi trường chỉ gồm chữ in hoa không dấu, số và dấu _ "
                             "(vd GIAMSAT_SMTP_PASSWORD)")
        return value


class ReminderSettings(ConfigModel):
    """`config/reminders.yaml`."""

    enabled: bool = True
    offsets: list[int] = Field(default_factory=lambda: [-7, -3, -1, 1], min_length=1)
    smtp: Smtp
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    contact: str = ""
    max_cells: int = Field(default=15, ge=1)

    @field_validator("from_address", "reply_to")
    @classmethod
    def _email(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.field_name == "from_address":
            raise ValueError("cần địa chỉ thư người gửi")
        if value and not _EMAIL.match(value):
            raise ValueError("địa chỉ thư không hợp lệ")
        return value

    @field_validator("offsets")
    @classmethod
    def _distinct_offsets(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("các ngày nhắc bị trùng")
        if any(abs(v) > 90 for v in value):
            raise ValueError("ngày nhắc phải trong khoảng 90 ngày trước hoặc sau hạn")
        return sorted(value)

    @property
    def sender(self) -> str:
        return self.from_name or "Phòng LĐTBXH"


def smtp_password(settings: ReminderSettings) -> str | None:
    """The SMTP password from the environment (None without a username)."""
    smtp = settings.smtp
    if not smtp.username:
        return None
    password = os.environ.get(smtp.password_env, "")
    if not password:
        raise ConfigError([
            f"{SETTINGS_FILE}: smtp.password_env: chưa đặt biến môi trường {smtp.password_env} "
            f"(mật khẩu thư của {smtp.username}). Đặt biến này trước khi chạy, "
            f"vd: export {smtp.password_env}='…' — hoặc chạy thử với --dry-run."])
    return password


def load_reminder_settings(directory: Path) -> ReminderSettings:
    """Read and validate `reminders.yaml`; mistakes are a ConfigError naming file and key."""
    return parse_file(ReminderSettings, Path(directory) / SETTINGS_FILE)
