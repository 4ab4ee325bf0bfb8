"""`giamsat provision` and `giamsat google-emulator`: the Google Sheets commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli import prefect_env
from flows.cli.app import ConfigOption, VerboseOption, app, console, err, fail, load


@app.command()
def provision(
    registry: Annotated[Path | None, typer.Option(
        "--registry", help="Tệp sổ đăng ký đơn vị → bảng tính (mặc định theo google.yaml).")
    ] = None,
    config_dir: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Tạo bảng tính mẫu trên Google Sheets, sao một bản cho mỗi xã, phường và chia sẻ quyền.

    Chạy lại bao nhiêu lần cũng được: chỉ tạo những gì còn thiếu (ví dụ đơn vị mới thêm).
    """
    config = load(config_dir, ["provision"])
    prefect_env.configure(verbose)
    api = prefect_env.choose_server()
    if api.said:
        console.print(api.said, style="dim", highlight=False)
    from flows.provision import provision_flow
    from flows.sources.google.client import GoogleError

    try:
        lines = provision_flow(str(config.directory), str(registry) if registry else None)
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


def _emulator_package():
    """The emulator ships with the source checkout (`pip install -e .`), not with the wheel."""
    try:
        from flows.testing import google_emulator
    except ImportError:
        raise fail("[red]Máy giả lập Google không có trong bản cài đặt này.[/] Máy giả lập chỉ "
                   "đi kèm mã nguồn (dùng để thử và kiểm thử): lấy mã nguồn rồi cài bằng "
                   "pip install -e .") from None
    return google_emulator


@app.command("google-emulator")
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
    folder: Annotated[str | None, typer.Option(
        "--folder", help="Tạo thư mục Drive dùng chung tên này trên máy giả lập đang chạy, in mã "
                         "thư mục và ghi vào google.yaml.")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Nhập số liệu mẫu (như giamsat demo) vào các bảng tính đã tạo bằng "
                       "giamsat provision trên máy giả lập đang chạy.")] = False,
    config_dir: ConfigOption = None,
) -> None:
    """Máy giả lập Google Sheets + Drive trên máy này (không cần Internet).

    Không có --folder/--demo: chạy máy giả lập (dừng bằng Ctrl+C); ở cửa sổ khác đặt
    GIAMSAT_GOOGLE_ENDPOINT=http://127.0.0.1:CỔNG. Với --folder hoặc --demo: làm việc với máy
    giả lập đang chạy ở địa chỉ GIAMSAT_GOOGLE_ENDPOINT.
    """
    emulator = _emulator_package()
    if folder is not None or demo:
        from flows.config.google import ENDPOINT_ENV, endpoint

        if endpoint() is None:
            raise fail(f"[red]Chưa đặt {ENDPOINT_ENV}.[/] Chạy máy giả lập ở một cửa sổ khác "
                       "(giamsat google-emulator --port 8765), rồi: "
                       f"export {ENDPOINT_ENV}=http://127.0.0.1:8765")
        from flows.testing.google_emulator import seed

        try:
            if folder is not None:
                lines = seed.create_folder(load(config_dir), folder)
            if demo:
                lines = seed.fill_demo(load(config_dir, ["google"]))
        except seed.SeedError as exc:
            raise fail(f"[red]{exc}[/]") from None
        for line in lines:
            console.print(line, highlight=False)
        return
    console.print(f"Máy giả lập Google API: đặt GIAMSAT_GOOGLE_ENDPOINT=http://127.0.0.1:{port}"
                  " ở cửa sổ khác; nhấn Ctrl+C để dừng.", highlight=False)
    emulator.run_standalone(port, state, read_quota_per_minute=read_quota,
                            write_quota_per_minute=write_quota, latency_s=latency,
                            fault_rate=fault_rate)
