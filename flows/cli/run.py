"""`giamsat template`, `consolidate`, `demo`, `serve` and `deploy`: the commands that run the
pipeline."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli import prefect_env
from flows.cli.app import (
    ConfigOption,
    PdfOption,
    Reminders,
    RemindOption,
    StateOption,
    VerboseOption,
    app,
    console,
    err,
    fail,
    load,
    parse_date,
)
from flows.config import Config
from flows.core.vnformat import percent


@app.command()
def template(
    out: Annotated[Path | None, typer.Option("--out", help="Tệp .xlsx cần ghi.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Mã đơn vị điền sẵn (vd P01).")] = None,
    cell_map: Annotated[Path | None, typer.Option(
        "--cell-map", help="Ghi bản đồ khoá → trang/ô (JSON).")] = None,
    config_dir: ConfigOption = None,
) -> None:
    """Sinh tệp mẫu Excel cho xã, phường (và/hoặc bản đồ ô nhập)."""
    from flows.core.layout import build_layout
    from flows.sources.xlsx import write_template

    config = load(config_dir)
    if out is None and cell_map is None:
        raise fail("[red]Cần ít nhất một trong hai tuỳ chọn --out hoặc --cell-map.[/]")
    chosen = None
    if unit is not None:
        chosen = config.units.by_code().get(unit) or config.units.by_code().get(unit.upper())
        if chosen is None:
            codes = ", ".join(u.code for u in config.units.units)
            raise fail(f"[red]Không có đơn vị mã “{unit}”. Các mã hợp lệ: {codes}.[/]")
    layout = build_layout(config, chosen)
    if out is not None:
        write_template(layout, out)
        who = f" cho {chosen.full_name}" if chosen else ""
        console.print(f"Đã ghi tệp mẫu{who}: {out}")
    if cell_map is not None:
        from flows.outputs.tables import write_json

        write_json(cell_map, layout.cell_map())
        console.print(f"Đã ghi bản đồ {len(layout.inputs)} ô nhập: {cell_map}")


def status_table(status_rows: list[dict], title: str) -> Table:
    """The short status table staff read in the terminal (the full one is status.csv)."""
    from flows.core.consolidate import UNREADABLE

    table = Table(title=title, title_justify="left")
    for column, justify in (("Mã", "left"), ("Đơn vị", "left"), ("Nhập", "right"),
                            ("Tình trạng", "left"), ("Trễ", "right"), ("Lỗi", "right"),
                            ("C.báo", "right")):
        table.add_column(column, justify=justify, no_wrap=column != "Đơn vị")
    colours = {"Hoàn thành đúng hạn": "green", "Hoàn thành trễ hạn": "yellow",
               "Quá hạn chưa hoàn thành": "red", "Chưa bắt đầu": "red"}
    for row in status_rows:
        filled = percent(row["completeness"]) if row["found"] else "[red]chưa có tệp[/]"
        if row.get("access") == UNREADABLE:
            filled = f"[red]{UNREADABLE}[/]"
        state = row["timeliness"]
        colour = colours.get(state)
        short = row["unit_name"][len(row["kind"]) + 1:] or row["unit_name"]
        table.add_row(row["unit_code"], short, filled,
                      f"[{colour}]{state}[/]" if colour else state,
                      f"{row['days_late']} ngày" if row["days_late"] else "",
                      str(row["errors"]), str(row["warnings"]))
    return table


def run_consolidate(config: Config, source: str, out: Path, as_of: date | None, verbose: bool,
                    registry: Path | None = None, units: list[str] | None = None,
                    final: bool = False, state: Path | None = None, reminders: str = "dry-run",
                    pdf: bool = True):
    """Run the flow; a run that lost units still returns its summary (and is marked Failed)."""
    if source != "google" and not Path(source).is_dir():
        raise fail(f"[red]Không tìm thấy thư mục nguồn “{source}” (hoặc dùng --source google).[/]")
    from flows.core.scope import refuse_scope, restrict

    refused = refuse_scope(*restrict(config, units), final)
    if refused:
        raise fail(f"[red]{escape(refused)}[/]")
    from flows.outputs.rundirs import output_problem

    refused = output_problem(out, Path(source) if source != "google" else None)
    if refused:
        raise fail(f"[red]{escape(refused)}[/]")
    prefect_env.configure(verbose)
    api = prefect_env.choose_server()
    if api.said:
        console.print(api.said, style="dim", highlight=False)
    from flows.consolidate import consolidate_flow

    outcome = consolidate_flow(str(source), str(out), as_of, str(config.directory),
                               str(registry) if registry else None, units, final,
                               state_dir=str(state) if state else None, reminders=reminders,
                               pdf=pdf, return_state=True)
    summary = outcome.result(raise_on_failure=False)
    if isinstance(summary, BaseException) or summary is None:
        # a run refused or unable to write has only its message (how Prefect hands a Failed
        # state's result back depends on its result settings: an exception, or nothing)
        message = str(summary) if isinstance(summary, BaseException) else outcome.message
        err.print(f"[bold red]Lần chạy bị lỗi:[/] {escape(message or '')}")
        raise fail("Chạy lại với --verbose để xem nhật ký chi tiết.", 1)
    return summary


def print_summary(summary) -> None:
    import pandas as pd

    status = pd.read_csv(Path(summary.out_dir) / "status.csv", dtype=str, keep_default_na=False)
    for column in ("required_filled", "required_total", "errors", "warnings", "days_late"):
        status[column] = status[column].astype(int)
    status["completeness"] = status["completeness"].astype(float)
    status["found"] = status["found"] == "True"
    scope = f" — {summary.scope}" if summary.scope else ""
    if summary.empty_source:
        err.print(f"[bold red]{escape(summary.empty_source)}[/]", highlight=False)
    console.print(status_table(status.to_dict("records"),
                               f"Tình hình nhập liệu (tính đến {summary.as_of}){scope}"))
    console.print(
        f"Đơn vị có bảng tính: {summary.units_found}/{summary.units_expected}; "
        f"đã hoàn thành: {summary.units_complete}/{summary.units_expected} "
        f"(tỷ lệ báo cáo {percent(summary.reporting_rate)}), đúng hạn: "
        f"{summary.units_on_time}/{summary.units_expected}; "
        f"lỗi: {summary.errors}; cảnh báo: {summary.warnings}.", highlight=False)
    console.print(f"Kết quả đã ghi vào: [bold]{summary.out_dir}[/] — báo cáo bao-cao.docx "
                  "(report.html, phu-luc.xlsx), bản phát hành, số nhỏ được bảo vệ; bản nội bộ "
                  "có số liệu chính xác, không phát hành: bao-cao-noi-bo.docx, "
                  "phu-luc-noi-bo.xlsx; findings.xlsx liệt kê các ô cần sửa (cùng values.csv, "
                  "findings.csv, status.csv, reporting.csv).")
    if not any(name.endswith(".pdf") for name in summary.files):
        console.print("Không có bản PDF: máy này chưa cài LibreOffice (soffice) hoặc đã tắt "
                      "bằng --no-pdf.", style="dim")
    if summary.lost_units:
        err.print(f"[bold red]Không đọc được: {', '.join(summary.lost_units)}[/] — xem "
                  "findings.csv; các đơn vị khác đã được tổng hợp.")
    for line in summary.trouble:
        err.print(f"[bold red]Cần xử lý:[/] {escape(line)}", highlight=False)


def exit_code(summary) -> int:
    """0 done; 3 some unit could not be read (or none was there); 4 done, but the history or a
    reminder failed."""
    if summary.lost_units or summary.empty_source:
        return 3
    return 4 if summary.trouble else 0


def needs(source: str, reminders: str) -> list[str]:
    """What the config must also hold for this run."""
    return (["google"] if source == "google" else []) + (
        ["reminders"] if reminders == Reminders.send else [])


@app.command()
def consolidate(
    source: Annotated[str, typer.Option(
        "--source", help="Thư mục chứa các tệp .xlsx của xã, hoặc google.")],
    out: Annotated[Path, typer.Option("--out", help="Thư mục ghi kết quả.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Ngày tính (YYYY-MM-DD); mặc định hôm nay giờ Việt Nam.")] = None,
    config_dir: ConfigOption = None,
    verbose: VerboseOption = False,
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
    config = load(config_dir, needs(source, reminders))
    day = parse_date(as_of)
    subset = [u.strip() for u in units.split(",") if u.strip()] if units else None
    summary = run_consolidate(config, source, out, day, verbose, registry, subset, final, state,
                              reminders.value, pdf)
    print_summary(summary)
    if exit_code(summary):
        raise typer.Exit(exit_code(summary))


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", help="Thư mục làm việc mẫu.")] = Path(
        "demo"),
    seed: Annotated[int, typer.Option("--seed", help="Hạt giống số ngẫu nhiên.")] = 2023,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Ngày tính (YYYY-MM-DD); mặc định 2023-04-05, sau hạn báo cáo.")] = None,
    config_dir: ConfigOption = None,
    verbose: VerboseOption = False,
    pdf: PdfOption = True,
) -> None:
    """Tạo bộ dữ liệu mẫu (một tệp mỗi đơn vị, có vài lỗi cố ý) rồi chạy tổng hợp."""
    from flows.demo import DEMO_AS_OF, build_workspace

    config = load(config_dir)
    day = parse_date(as_of) or DEMO_AS_OF
    plants = build_workspace(config, workspace, seed)
    console.print(f"Đã tạo {len(config.units.active())} bảng tính mẫu trong {workspace / 'nguon'}"
                  " với các vấn đề cố ý:")
    for plant in plants:
        console.print(f"  • {plant.unit}: {plant.what}", highlight=False)
    summary = run_consolidate(config, str(workspace / "nguon"), workspace / "ket-qua", day,
                              verbose, pdf=pdf)
    print_summary(summary)
    if exit_code(summary):
        raise typer.Exit(exit_code(summary))


# the options of the deployments' default parameters (`serve`, `deploy`)
SourceOption = Annotated[str, typer.Option(
    "--source", help="Thư mục các tệp .xlsx của xã, hoặc google.")]
RunsOutOption = Annotated[Path, typer.Option(
    "--out", help="Thư mục gốc ghi kết quả các lần chạy.")]
RegistryOption = Annotated[Path | None, typer.Option(
    "--registry", help="Sổ đăng ký bảng tính Google (với --source google).")]


def _for_deployments(config_dir: Path | None, source: str, reminders: Reminders,
                     verbose: bool):
    """The config, checked with the source, and Prefect pointed at the server that answers."""
    config = load(config_dir, needs(source, reminders))
    if source != "google" and not Path(source).is_dir():
        raise fail(f"[red]Không tìm thấy thư mục nguồn “{source}”.[/]")
    prefect_env.configure(verbose=verbose)
    if not os.environ.get("PREFECT_API_URL"):  # the local server, when it answers
        prefect_env.choose_server()
    return config


@app.command()
def serve(
    source: SourceOption, out: RunsOutOption, config_dir: ConfigOption = None,
    registry: RegistryOption = None, reminders: RemindOption = Reminders.dry_run,
) -> None:
    """Đăng ký và phục vụ lịch chạy hằng đêm và chạy thủ công trên máy chủ Prefect."""
    config = _for_deployments(config_dir, source, reminders, verbose=True)
    from flows.serve import NoServer, serve_all

    try:
        serve_all(config, source, out, config.directory, registry, reminders.value)
    except NoServer as missing:
        if missing.url is None:
            raise fail("[red]Chưa có máy chủ Prefect.[/] Lịch chạy hằng đêm cần máy chủ thật:\n"
                       "  1. prefect server start\n"
                       "  2. export PREFECT_API_URL=http://127.0.0.1:4200/api\n"
                       "  3. giamsat serve --source … --out …") from None
        raise fail(f"[red]Máy chủ Prefect tại {missing.url} không trả lời.[/] Chạy "
                   "`prefect server start` ở một cửa sổ khác, chờ đến khi mở được "
                   f"{missing.url.rstrip('/')}/health, rồi chạy lại lệnh này.") from None


@app.command()
def deploy(
    source: SourceOption, out: RunsOutOption, config_dir: ConfigOption = None,
    registry: RegistryOption = None, reminders: RemindOption = Reminders.dry_run,
) -> None:
    """Đăng ký lịch chạy hằng đêm, chạy thủ công (và provision) vào nhóm máy (work pool) trên
    máy chủ Prefect, để máy nào chạy `prefect worker start --pool …` cũng nhận việc."""
    config = _for_deployments(config_dir, source, reminders, verbose=False)
    from flows.deploy import deploy_all
    from flows.serve import NoServer

    try:
        done = deploy_all(config, source, out, config.directory, registry, reminders.value)
    except NoServer as missing:
        raise fail("[red]Chưa có máy chủ Prefect trả lời[/]"
                   + (f" tại {missing.url}" if missing.url else "") +
                   ". Nhóm máy cần một máy chủ chung: chạy `prefect server start` trên một máy "
                   "rồi đặt PREFECT_API_URL=http://<máy-đó>:4200/api trên mọi máy.") from None
    console.print(f"Nhóm máy (work pool) “{done.pool}”"
                  + (" vừa được tạo." if done.created_pool else " đã có."), highlight=False)
    for name in done.names:
        console.print(f"  • đã đăng ký {name}", highlight=False)
    console.print(f"Trên mỗi máy chạy việc: prefect worker start --pool {done.pool}",
                  highlight=False)
