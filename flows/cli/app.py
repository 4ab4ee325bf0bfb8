"""The `giamsat` typer app and what its commands share: consoles, options, config loading."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flows.config import Config, ConfigError, load_config

app = typer.Typer(
    help="giamsat — thu thập, kiểm tra và tổng hợp biểu mẫu giám sát của các xã, phường.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="Thư mục cấu hình (mặc định: $GIAMSAT_HOME/config, ./config, rồi cấu hình "
                     "mẫu kèm chương trình).")]
StateOption = Annotated[Path | None, typer.Option(
    "--state", help="Thư mục lịch sử số liệu và nhật ký thư nhắc (mặc định: <out>/state).")]
PdfOption = Annotated[bool, typer.Option(
    "--pdf/--no-pdf", help="Xuất thêm bản PDF của báo cáo (cần LibreOffice).")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Hiện nhật ký Prefect.")]


class Reminders(StrEnum):
    send = "send"
    dry_run = "dry-run"
    off = "off"


RemindOption = Annotated[Reminders, typer.Option(
    "--reminders", help="Thư nhắc: send (gửi), dry-run (chỉ ghi tệp .eml) hoặc off.")]


def print_problems(exc: ConfigError) -> None:
    err.print("[bold red]Lỗi cấu hình[/] — sửa các chỗ sau rồi chạy lại:")
    for problem in exc.problems:
        err.print(f"  • {problem}", markup=False, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one Vietnamese sentence (rich markup allowed) and return the exit to raise."""
    err.print(message, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load(directory: Path | None, need: Iterable[str] = ()) -> Config:
    """The checked config, or the list of its problems on screen and exit 2."""
    try:
        return load_config(directory, need=need)
    except ConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise fail(f"[red]Ngày “{text}” không hợp lệ; dùng dạng YYYY-MM-DD, ví dụ 2023-03-31.[/]")
