"""`giamsat init` and `giamsat check-config`: a deployment folder and its one config check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.app import ConfigOption, app, console, fail, load
from flows.config.workspace import WorkspaceExists, init_workspace


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Thư mục triển khai cần tạo.")],
) -> None:
    """Tạo thư mục triển khai mới (config/, templates/, README) từ cấu hình mẫu kèm chương trình."""
    try:
        created = init_workspace(folder)
    except WorkspaceExists as taken:
        raise fail(f"[red]Đã có {taken}; không ghi đè.[/] Chọn một thư mục khác, hoặc sửa trực "
                   "tiếp các tệp đang có.") from None
    except OSError as exc:
        raise fail(f"[red]Không tạo được thư mục {folder}: {exc.strerror or exc}.[/]") from None
    for path in created:
        console.print(f"Đã tạo: {path}", highlight=False)
    console.print(f"Tiếp theo: cd {folder} && giamsat check-config && giamsat demo",
                  highlight=False)


@app.command("check-config")
def check_config(
    config_dir: ConfigOption = None,
    google: Annotated[bool, typer.Option(
        "--google", help="Kiểm tra cả cấu hình Google (google.yaml, tệp khoá).")] = False,
) -> None:
    """Kiểm tra mọi tệp cấu hình một lần (không mở bảng tính nào)."""
    config = load(config_dir, ["google"] if google else [])
    units = len(config.units.active())
    rules = len(config.rules.rules) if config.rules else 0
    console.print(f"Cấu hình hợp lệ: {config.directory}", highlight=False)
    console.print(f"  Biểu mẫu {config.form.id} phiên bản {config.form.version}: "
                  f"{len(config.form.tabs)} trang, {len(config.form.items())} chỉ tiêu; "
                  f"{units} đơn vị; {rules} quy tắc kiểm tra; hạn báo cáo "
                  f"{config.plan.deadline:%d/%m/%Y}.", highlight=False)
    extras = [name for name, present in (("thư nhắc", config.reminders is not None),
                                         ("Google", config.google is not None)) if present]
    if extras:
        console.print(f"  Có cấu hình: {', '.join(extras)}.", highlight=False)
