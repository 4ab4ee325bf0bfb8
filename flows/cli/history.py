"""`giamsat history UNIT [KEY]`: how a unit's values changed (the tables: `history_view`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.app import ConfigOption, app, console, fail, load, print_problems
from flows.config import ConfigError


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
    from flows.cli.history_view import print_history
    from flows.store.history import FILE_NAME, HISTORY_URL_ENV, History

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
            print_history(store, code, key, tz=config.plan.tz, console=console,
                          catalogue=config.catalogue)
    except ConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None
