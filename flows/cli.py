"""`giamsat`: the command line of the monitoring-form pipeline (messages in Vietnamese)."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flows import prefect_env
from flows.config import ConfigError, load_config
from flows.vnformat import percent

app = typer.Typer(
    help="giamsat — thu thập, kiểm tra và tổng hợp biểu mẫu giám sát của các xã, phường.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Thư mục cấu hình (mặc định: config/ của dự án).")
]


StateOption = Annotated[Path | None, typer.Option(
    "--state", help="Thư mục lịch sử số liệu và nhật ký thư nhắc (mặc định: <out>/state).")]
PdfOption = Annotated[bool, typer.Option(
    "--pdf/--no-pdf", help="Xuất thêm bản PDF của báo cáo (cần LibreOffice).")]


class Reminders(StrEnum):
    send = "send"
    dry_run = "dry-run"
    off = "off"


RemindOption = Annotated[Reminders, typer.Option(
    "--reminders", help="Thư nhắc: send (gửi), dry-run (chỉ ghi tệp .eml) hoặc off.")]


def _print_problems(exc: ConfigError) -> None:
    err.print("[bold red]Lỗi cấu hình[/] — sửa các chỗ sau rồi chạy lại:")
    for problem in exc.problems:
        err.print(f"  • {problem}", markup=False, highlight=False)


def _config(directory: Path | None):
    try:
        return load_config(directory)
    except ConfigError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from None


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    err.print(f"[red]Ngày “{text}” không hợp lệ; dùng dạng YYYY-MM-DD, ví dụ 2023-03-31.[/]")
    raise typer.Exit(2)


@app.command()
def template(
    out: Annotated[Path | None, typer.Option("--out", help="Tệp .xlsx cần ghi.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Mã đơn vị điền sẵn (vd P01).")] = None,
    cell_map: Annotated[Path | None, typer.Option(
        "--cell-map", help="Ghi bản đồ khoá → trang/ô (JSON).")] = None,
    config_dir: ConfigOption = None,
) -> None:
    """Sinh tệp mẫu Excel cho xã, phường (và/hoặc bản đồ ô nhập)."""
    from flows.layout import build_layout
    from flows.sources.xlsx import write_template

    config = _config(config_dir)
    if out is None and cell_map is None:
        err.print("[red]Cần ít nhất một trong hai tuỳ chọn --out hoặc --cell-map.[/]")
        raise typer.Exit(2)
    chosen = None
    if unit is not None:
        chosen = config.units.by_code().get(unit) or config.units.by_code().get(unit.upper())
        if chosen is None:
            codes = ", ".join(u.code for u in config.units.units)
            err.print(f"[red]Không có đơn vị mã “{unit}”. Các mã hợp lệ: {codes}.[/]")
            raise typer.Exit(2)
    layout = build_layout(config, chosen)
    if out is not None:
        write_template(layout, out)
        who = f" cho {chosen.full_name}" if chosen else ""
        console.print(f"Đã ghi tệp mẫu{who}: {out}")
    if cell_map is not None:
        from flows.fileio import write_text

        write_text(cell_map, json.dumps(layout.cell_map(), ensure_ascii=False, indent=1))
        console.print(f"Đã ghi bản đồ {len(layout.inputs)} ô nhập: {cell_map}")


def status_table(status_rows: list[dict], title: str) -> Table:
    """The short status table staff read in the terminal (the full one is status.csv)."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("Mã", "left"), ("Đơn vị", "left"), ("Nhập", "right"),
                            ("Tình trạng", "left"), ("Trễ", "right"), ("Lỗi", "right"),
                            ("C.báo", "right")):
        table.add_column(column, justify=justify, no_wrap=column != "Đơn vị")
    colours = {"Hoàn thành đúng hạn": "green", "Hoàn thành trễ hạn": "yellow",
               "Quá hạn chưa hoàn thành": "red", "Chưa bắt đầu": "red"}
    for row in status_rows:
        pct = row["completeness"]
        filled = percent(pct)
        if not row["found"]:
            filled = "[red]chưa có tệp[/]"
        state = row["timeliness"]
        colour = colours.get(state)
        short = row["unit_name"][len(row["kind"]) + 1:] or row["unit_name"]
        table.add_row(row["unit_code"], short, filled,
                      f"[{colour}]{state}[/]" if colour else state,
                      f"{row['days_late']} ngày" if row["days_late"] else "",
                      str(row["errors"]), str(row["warnings"]))
    return table


def _run_consolidate(source: str, out: Path, as_of: date | None, config_dir: Path | None,
                     verbose: bool, registry: Path | None = None, units: list[str] | None = None,
                     final: bool = False, state: Path | None = None, reminders: str = "dry-run",
                     pdf: bool = True):
    """Run the flow; a run that lost units still returns its summary (and is marked Failed)."""
    prefect_env.configure(verbose)
    from flows.pipeline import consolidate_flow

    if source != "google" and not Path(source).is_dir():
        err.print(f"[red]Không tìm thấy thư mục nguồn “{source}” (hoặc dùng --source google).[/]")
        raise typer.Exit(2)
    state = consolidate_flow(str(source), str(out), as_of,
                             str(config_dir) if config_dir else None,
                             str(registry) if registry else None, units, final,
                             state_dir=str(state) if state else None, reminders=reminders,
                             pdf=pdf, return_state=True)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        err.print(f"[bold red]Lần chạy bị lỗi:[/] {summary}")
        err.print("Chạy lại với --verbose để xem nhật ký chi tiết.")
        raise typer.Exit(1)
    return summary


def _print_summary(summary, out: Path) -> None:
    import pandas as pd

    status = pd.read_csv(Path(summary.out_dir) / "status.csv", dtype=str, keep_default_na=False)
    for column in ("required_filled", "required_total", "errors", "warnings", "days_late"):
        status[column] = status[column].astype(int)
    status["completeness"] = status["completeness"].astype(float)
    status["found"] = status["found"] == "True"
    console.print(status_table(status.to_dict("records"),
                               f"Tình hình nhập liệu (tính đến {summary.as_of})"))
    console.print(
        f"Đơn vị có bảng tính: {summary.units_found}/{summary.units_expected}; "
        f"đã hoàn thành: {summary.units_complete}/{summary.units_expected} "
        f"(tỷ lệ báo cáo {percent(summary.reporting_rate)}), đúng hạn: "
        f"{summary.units_on_time}/{summary.units_expected}; "
        f"lỗi: {summary.errors}; cảnh báo: {summary.warnings}.", highlight=False)
    console.print(f"Kết quả đã ghi vào: [bold]{summary.out_dir}[/] — báo cáo bao-cao.docx "
                  "(report.html, phu-luc.xlsx); findings.xlsx liệt kê các ô cần sửa (cùng "
                  "values.csv, findings.csv, status.csv, reporting.csv).")
    if not any(name.endswith(".pdf") for name in summary.files):
        console.print("Không có bản PDF: máy này chưa cài LibreOffice (soffice) hoặc đã tắt "
                      "bằng --no-pdf.", style="dim")
    if summary.lost_units:
        err.print(f"[bold red]Không đọc được: {', '.join(summary.lost_units)}[/] — xem "
                  "findings.csv; các đơn vị khác đã được tổng hợp.")


@app.command()
def consolidate(
    source: Annotated[str, typer.Option(
        "--source", help="Thư mục chứa các tệp .xlsx của xã, hoặc google.")],
    out: Annotated[Path, typer.Option("--out", help="Thư mục ghi kết quả.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Ngày tính (YYYY-MM-DD); mặc định hôm nay giờ Việt Nam.")] = None,
    config_dir: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Hiện nhật ký Prefect.")] = False,
    registry: Annotated[Path | None, typer.Option(
        "--registry", help="Tệp sổ đăng ký đơn vị → bảng tính Google (với --source google).")
    ] = None,
    units: Annotated[str | None, typer.Option(
        "--units", help="Chỉ tổng hợp các đơn vị này (mã, cách nhau dấu phẩy).")] = None,
    final: Annotated[bool, typer.Option(
        "--final", help="Bản chính thức: báo cáo có số, ngày; kết quả được khoá lại.")] = False,
    state: StateOption = None,
    reminders: RemindOption = Reminders.dry_run,
    pdf: PdfOption = True,
) -> None:
    """Đọc mọi bảng tính, kiểm tra, ghi bảng tổng hợp và báo cáo (chạy bằng Prefect)."""
    config = _config(config_dir)
    if source == "google":
        from flows.google.commands import preflight

        try:  # a missing google.yaml or key file: a message, not a traceback
            preflight(config)
        except ConfigError as exc:
            _print_problems(exc)
            raise typer.Exit(2) from None
    subset = [u.strip() for u in units.split(",") if u.strip()] if units else None
    summary = _run_consolidate(source, out, _parse_date(as_of), config_dir, verbose, registry,
                               subset, final, state, reminders.value, pdf)
    _print_summary(summary, out)
    if summary.lost_units:
        raise typer.Exit(3)


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", help="Thư mục làm việc mẫu.")] = Path(
        "demo"),
    seed: Annotated[int, typer.Option("--seed", help="Hạt giống số ngẫu nhiên.")] = 2023,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Ngày tính (YYYY-MM-DD); mặc định 2023-04-05, sau hạn báo cáo.")] = None,
    config_dir: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Hiện nhật ký Prefect.")] = False,
    pdf: PdfOption = True,
) -> None:
    """Tạo bộ dữ liệu mẫu (một tệp mỗi đơn vị, có vài lỗi cố ý) rồi chạy tổng hợp."""
    from flows.demo import DEMO_AS_OF, build_workspace

    config = _config(config_dir)
    plants = build_workspace(config, workspace, seed)
    console.print(f"Đã tạo {len(config.units.active())} bảng tính mẫu trong {workspace / 'nguon'}"
                  " với các vấn đề cố ý:")
    for plant in plants:
        console.print(f"  • {plant.unit}: {plant.what}", highlight=False)
    out = workspace / "ket-qua"
    summary = _run_consolidate(str(workspace / "nguon"), out, _parse_date(as_of) or DEMO_AS_OF,
                               config_dir, verbose, pdf=pdf)
    _print_summary(summary, out)


@app.command()
def serve(
    source: Annotated[str, typer.Option(
        "--source", help="Thư mục các tệp .xlsx của xã, hoặc google.")],
    out: Annotated[Path, typer.Option("--out", help="Thư mục gốc ghi kết quả các lần chạy.")],
    config_dir: ConfigOption = None,
    registry: Annotated[Path | None, typer.Option(
        "--registry", help="Sổ đăng ký bảng tính Google (với --source google).")] = None,
    reminders: RemindOption = Reminders.dry_run,
) -> None:
    """Đăng ký và phục vụ lịch chạy hằng đêm và chạy thủ công trên máy chủ Prefect."""
    config = _config(config_dir)
    prefect_env.configure(verbose=True)
    from flows.deployments import NoServer, serve_all

    if source != "google" and not Path(source).is_dir():
        err.print(f"[red]Không tìm thấy thư mục nguồn “{source}”.[/]")
        raise typer.Exit(2)
    try:
        serve_all(config, source, out, config_dir, registry, reminders.value)
    except NoServer:
        err.print("[red]Chưa có máy chủ Prefect.[/] Lịch chạy hằng đêm cần máy chủ thật:\n"
                  "  1. prefect server start\n"
                  "  2. export PREFECT_API_URL=http://127.0.0.1:4200/api\n"
                  "  3. giamsat serve --source … --out …")
        raise typer.Exit(2) from None


@app.command()
def history(
    unit: Annotated[str, typer.Argument(help="Mã đơn vị, ví dụ P01.")],
    key: Annotated[str | None, typer.Argument(
        help="Khoá ô (chỉ tiêu|phân tổ|năm), ví dụ 'C2|nam|2022'; bỏ trống: mọi thay đổi.")
    ] = None,
    state: Annotated[Path, typer.Option(
        "--state", help="Thư mục lịch sử (thường là <out>/state).")] = Path("ket-qua/state"),
    config_dir: ConfigOption = None,
) -> None:
    """Xem lịch sử thay đổi số liệu của một đơn vị (hoặc một ô)."""
    from flows.history import History, print_history

    config = _config(config_dir)
    if not os.environ.get("GIAMSAT_HISTORY_URL") and not (state / "history.sqlite").is_file():
        err.print(f"[red]Không có lịch sử số liệu trong “{state}”.[/] Lịch sử được ghi vào "
                  "<thư mục kết quả>/state sau mỗi lần tổng hợp; chỉ đúng thư mục bằng --state.")
        raise typer.Exit(2)
    try:
        with History(folder=state) as store:
            print_history(store, unit.upper(), key, tz=config.plan.tz, console=console)
    except ConfigError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from None


def _register_google_commands() -> None:
    from flows.google import commands

    app.command("provision")(commands.provision)
    app.command("google-emulator")(commands.google_emulator)


_register_google_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Đã dừng.")
        sys.exit(130)


if __name__ == "__main__":
    main()
