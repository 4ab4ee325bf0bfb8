"""`giamsat history`: a unit's status timeline and value changes, as terminal tables."""

from __future__ import annotations

import os
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.app import ConfigOption, app, console, fail, load, print_problems
from flows.config import ConfigError
from flows.core.audit import show_value, split_key, zone
from flows.core.vnformat import auto
from flows.store.history import FILE_NAME, HISTORY_URL_ENV, History


def history_table(history: History, unit: str, key: str | None = None,
                  tz: tzinfo | str = "Asia/Ho_Chi_Minh",
                  include_initial: bool | None = None) -> list[dict]:
    """The change log of one unit (optionally one key) for `giamsat history UNIT [KEY]`.

    The first read of a unit stores every value; those baseline rows are hidden unless a key is
    asked for (or `include_initial`), so the table shows edits, not the whole form.
    """
    local = zone(tz)
    if include_initial is None:
        include_initial = key is not None
    log = history.changes(unit, key, include_initial=include_initial)
    rows = []
    for row in log.itertuples(index=False):
        indicator, breakdown, year = split_key(row.key)
        rows.append({
            "key": row.key, "indicator": indicator, "breakdown": breakdown, "year": year,
            "old": row.old, "new": row.new, "read_at": row.read_at.astimezone(local),
            "modified": row.modified.astimezone(local) if row.modified is not None else None,
            "run_id": row.run_id, "initial": bool(row.initial)})
    return rows


def status_changes(history: History, unit: str,
                   tz: tzinfo | str = "Asia/Ho_Chi_Minh") -> list[dict]:
    """Reads where the unit's submission status or completeness changed (the first read too)."""
    local = zone(tz)
    rows, last = [], None
    for row in history.status_log(unit).itertuples(index=False):
        state = (row.submission_status, bool(row.complete), row.completeness)
        if state != last:
            rows.append({"read_at": row.read_at.astimezone(local),
                         "submission_status": row.submission_status,
                         "complete": bool(row.complete), "completeness": row.completeness,
                         "run_id": row.run_id})
        last = state
    return rows


def print_history(history: History, unit: str, key: str | None = None,
                  tz: tzinfo | str = "Asia/Ho_Chi_Minh", console: Any = None,
                  limit: int = 500) -> int:
    """Print the status timeline and the change log with rich; returns the rows shown."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    stamp = "%d/%m/%Y %H:%M"
    if key is None:
        timeline = Table(title=f"Trạng thái của {unit} qua các lần đọc", title_justify="left")
        for header in ("Thời điểm đọc", "Trạng thái", "Đủ ô bắt buộc", "Hoàn thành (%)"):
            timeline.add_column(header, no_wrap=header == "Thời điểm đọc")
        for row in status_changes(history, unit, tz):
            timeline.add_row(row["read_at"].strftime(stamp),
                             escape(row["submission_status"] or "—"),
                             "có" if row["complete"] else "chưa",
                             "" if row["completeness"] is None else auto(row["completeness"]))
        console.print(timeline)
    rows = history_table(history, unit, key, tz)
    title = f"Lịch sử thay đổi số liệu của {unit}" + (f", ô {key}" if key else "")
    table = Table(title=title, title_justify="left")
    for header in ("Chỉ tiêu", "Phân tổ", "Năm", "Giá trị cũ", "Giá trị mới"):
        table.add_column(header, no_wrap=header in ("Chỉ tiêu", "Năm"))
    for header in ("Sửa lúc", "Thời điểm đọc"):  # dates stay on one line; values wrap
        table.add_column(header, no_wrap=True)
    table.add_column("Lần chạy", overflow="ellipsis", max_width=12)
    for row in rows[-limit:]:
        table.add_row(
            escape(row["indicator"]), escape(row["breakdown"]),
            "" if row["year"] is None else str(row["year"]),
            "(lần đọc đầu)" if row["initial"] else escape(show_value(row["old"])),
            escape(show_value(row["new"])) if row["new"] is not None else "[red](đã xoá)[/]",
            row["modified"].strftime(stamp) if row["modified"] else "",
            row["read_at"].strftime(stamp), escape(row["run_id"]))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(chỉ hiện {limit} thay đổi gần nhất trong tổng số {len(rows)})")
    if not rows:
        console.print("Chưa có thay đổi nào được ghi nhận.")
    return min(len(rows), limit)


def _listing(items: list[str], shown: int = 30) -> str:
    more = f" … (và {len(items) - shown} khoá khác)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


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
    config = load(config_dir)
    if not os.environ.get(HISTORY_URL_ENV) and not (state / FILE_NAME).is_file():
        raise fail(f"[red]Không có lịch sử số liệu trong “{state}”.[/] Lịch sử được ghi vào "
                   "<thư mục kết quả>/state sau mỗi lần tổng hợp; chỉ đúng thư mục bằng --state.")
    code = unit.strip().upper()
    try:
        with History(folder=state) as store:
            units = store.known_units()
            if code not in units:
                listed = _listing(units) or "chưa có đơn vị nào"
                raise fail(f"[red]Lịch sử không có đơn vị “{unit}”.[/] Các đơn vị có lịch sử: "
                           f"{listed}.")
            if key is not None and key not in (keys := store.known_keys(code)):
                raise fail(f"[red]Đơn vị {code} không có ô “{key}” trong lịch sử.[/] Khoá có "
                           f"dạng chỉ tiêu|phân tổ|năm; các khoá của {code}: {_listing(keys)}.")
            print_history(store, code, key, tz=config.plan.tz, console=console)
    except ConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None
