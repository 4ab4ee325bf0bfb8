"""Command-line entry points for Google Sheets (registered on the `giamsat` app by flows.cli).

Plain typer-compatible functions: ``giamsat provision`` and ``giamsat google-emulator``.
Messages are in Vietnamese.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flows import prefect_env
from flows.config import Config, ConfigError, load_config

console = Console()
err = Console(stderr=True)


def _fail_config(exc: ConfigError) -> typer.Exit:
    err.print("[bold red]Lỗi cấu hình[/] — sửa các chỗ sau rồi chạy lại:")
    for problem in exc.problems:
        err.print(f"  • {problem}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def preflight(config: Config) -> None:
    """Check `google.yaml` and the credentials before a Google run starts (raises ConfigError)."""
    from flows.google.client import PULL_SCOPES, load_credentials, load_google_settings

    load_credentials(load_google_settings(config.directory), PULL_SCOPES)


def provision(
    registry: Annotated[Path | None, typer.Option(
        "--registry", help="Tệp sổ đăng ký đơn vị → bảng tính (mặc định theo google.yaml).")
    ] = None,
    config_dir: Annotated[Path | None, typer.Option(
        "--config", help="Thư mục cấu hình (mặc định: config/ của dự án).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Hiện nhật ký Prefect.")] = False,
) -> None:
    """Tạo bảng tính mẫu trên Google Sheets, sao một bản cho mỗi xã, phường và chia sẻ quyền.

    Chạy lại bao nhiêu lần cũng được: chỉ tạo những gì còn thiếu (ví dụ đơn vị mới thêm).
    """
    prefect_env.configure(verbose)
    from flows.google.client import GoogleError
    from flows.google.provision import provision as provision_flow

    try:
        preflight(load_config(config_dir))
    except ConfigError as exc:
        raise _fail_config(exc) from None
    try:
        lines = provision_flow(str(config_dir) if config_dir else None,
                               str(registry) if registry else None)
    except GoogleError as exc:
        err.print(f"[red]Google báo lỗi {exc.status or 'kết nối'}: {exc}[/]", highlight=False)
        if exc.status == 403 and exc.reason == "storageQuotaExceeded":
            err.print("Tài khoản service account không có dung lượng Drive riêng: thư mục "
                      "folder_id phải nằm trên một Drive dùng chung (shared drive).")
        elif exc.status == 404:
            err.print("Kiểm tra folder_id trong google.yaml và quyền của tài khoản hệ thống "
                      "trên thư mục đó.")
        raise typer.Exit(1) from None
    for line in lines:
        console.print(line, highlight=False)


def google_emulator(
    port: Annotated[int, typer.Option("--port", help="Cổng lắng nghe trên 127.0.0.1.")] = 8765,
    state: Annotated[Path | None, typer.Option(
        "--state", help="Thư mục lưu dữ liệu giả lập giữa các lần chạy.")] = None,
    latency: Annotated[float, typer.Option(
        "--latency", help="Độ trễ mỗi yêu cầu (giây).")] = 0.0,
    fault_rate: Annotated[float, typer.Option(
        "--fault-rate", help="Tỷ lệ yêu cầu bị lỗi 5xx hoặc rớt kết nối (0–1).")] = 0.0,
    read_quota: Annotated[int | None, typer.Option(
        "--read-quota", help="Số lượt đọc Sheets tối đa mỗi phút (như Google: 60).")] = None,
    write_quota: Annotated[int | None, typer.Option(
        "--write-quota", help="Số lượt ghi Sheets tối đa mỗi phút.")] = None,
) -> None:
    """Chạy máy giả lập Google Sheets + Drive trên máy này (không cần Internet).

    Đặt GIAMSAT_GOOGLE_ENDPOINT=http://127.0.0.1:CỔNG rồi chạy provision / consolidate.
    """
    from flows.google.emulator import run_standalone

    console.print(f"Máy giả lập Google API: đặt GIAMSAT_GOOGLE_ENDPOINT=http://127.0.0.1:{port}"
                  " ở cửa sổ khác; nhấn Ctrl+C để dừng.", highlight=False)
    run_standalone(port, state, read_quota_per_minute=read_quota,
                   write_quota_per_minute=write_quota, latency_s=latency,
                   fault_rate=fault_rate)
