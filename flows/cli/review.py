"""`giamsat review` and `giamsat finding`: the office's decisions on units and findings.

Both end in the review store beside the audit history (`flows.store.review`), with the rules of
`flows.core.review`; a refused decision prints the catalogue's words and exits 2.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.app import ConfigOption, app, console, fail, load, print_problems
from flows.config import Config, ConfigError
from flows.core import review as core
from flows.core.audit import DEFAULT_OFFICE

StateDir = Annotated[Path, typer.Option(
    "--state", help="Thư mục lịch sử (thường là <out>/state).")]
By = Annotated[str, typer.Option("--by", help="Người quyết định (ghi vào nhật ký).")]
Note = Annotated[str, typer.Option("--note", help="Ghi chú kèm theo.")]


def _refuse(config: Config, code: str, **params: object) -> typer.Exit:
    return fail(escape(core.refusal_message(config.catalogue, core.Refused(code, params))))


@contextmanager
def _store(config: Config, state: Path):
    """The review store of the plan's period, or exit 2 when there is no history there."""
    from flows.store.history import FILE_NAME, HISTORY_URL_ENV, History, HistoryUnusable
    from flows.store.review import ReviewStore

    if not os.environ.get(HISTORY_URL_ENV) and not (state / FILE_NAME).is_file():
        raise _refuse(config, "review-no-history", state=str(state))
    try:
        with History(folder=state) as history:
            yield ReviewStore(history, core.review_period(config))
    except core.Refused as refused:
        raise fail(escape(core.refusal_message(config.catalogue, refused))) from None
    except HistoryUnusable as why:
        words = config.catalogue.render("history-unavailable", {
            "where": str(state), "reason": why.reason, "detail": why.detail})
        raise fail(escape(f"{words.message} {words.instruction}")) from None
    except ConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None


def _one(config: Config, chosen: dict[str, bool], choices: list[str]) -> str:
    picked = [action for action, on in chosen.items() if on]
    if len(picked) != 1:
        raise _refuse(config, "review-one-action", choices=choices)
    return picked[0]


@app.command()
def review(
    unit: Annotated[str | None, typer.Argument(help="Mã đơn vị, ví dụ P01.")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Duyệt số liệu của đơn vị.")] = False,
    return_reason: Annotated[str | None, typer.Option(
        "--return", help="Trả lại đơn vị, kèm lý do (bắt buộc).")] = None,
    reopen: Annotated[bool, typer.Option(
        "--reopen", help="Mở lại một đơn vị đã duyệt (về “đã nộp”).")] = False,
    listing: Annotated[bool, typer.Option("--list", help="Xem trạng thái duyệt mọi đơn vị.")
                       ] = False,
    reason: Annotated[str, typer.Option(
        "--reason", help="Lý do duyệt khi đơn vị còn lỗi chưa xử lý.")] = "",
    by: By = DEFAULT_OFFICE,
    note: Note = "",
    state: StateDir = Path("ket-qua/state"),
    config_dir: ConfigOption = None,
) -> None:
    """Duyệt, trả lại hoặc mở lại số liệu của một đơn vị; --list: trạng thái duyệt."""
    config = load(config_dir)
    choices = ["--approve", "--return LÝ_DO", "--reopen", "--list"]
    action = _one(config, {core.APPROVE: approve, core.RETURN: return_reason is not None,
                           core.REOPEN: reopen, "list": listing}, choices)
    if action == "list":
        if unit is not None:
            raise _refuse(config, "review-one-action", choices=choices)
        with _store(config, state) as store:
            _print_list(config, store.unit_logs())
        return
    known = {u.code.upper(): u.code for u in config.units.units}
    code = known.get((unit or "").strip().upper())
    if code is None:
        raise _refuse(config, "review-unknown-unit", unit=unit or "",
                      valid=[u.code for u in config.units.units])
    with _store(config, state) as store:
        step = store.decide_unit(code, action, by.strip() or DEFAULT_OFFICE,
                                 datetime.now(UTC),
                                 reason=return_reason if action == core.RETURN else reason,
                                 note=note)
    console.print(escape(config.catalogue.text(
        "review-done", unit=code, old=core.word(config.catalogue, step.from_state),
        new=core.word(config.catalogue, step.to_state), by=step.by,
        at=step.at.astimezone(config.plan.tz))), highlight=False)


def _print_list(config: Config, logs: dict[str, list[core.UnitTransition]]) -> None:
    words, local = config.catalogue, config.plan.tz
    table = Table(title=core.review_period(config), title_justify="left")
    for header in ("Mã", "Đơn vị", "Trạng thái", "Người quyết định", "Thời điểm", "Ghi chú"):
        table.add_column(header, no_wrap=header in ("Mã", "Thời điểm"))
    for unit in config.units.active():
        log = logs.get(unit.code, [])
        last = log[-1] if log else None
        if last is not None and last.to_state == core.EDITED:
            shown = core.edited_note(core.changed_since_approval(log), words, local)
        else:
            shown = " — ".join(t for t in (last.reason, last.note) if t) if last else ""
        table.add_row(unit.code, escape(unit.full_name),
                      escape(core.word(words, core.state_of(last))),
                      escape(last.by) if last else "",
                      f"{last.at.astimezone(local):%d/%m/%Y %H:%M}" if last else "",
                      escape(shown))
    console.print(table)


@app.command()
def finding(
    finding_id: Annotated[str, typer.Argument(help="Mã phát hiện (cột finding_id).")],
    accept: Annotated[bool, typer.Option(
        "--accept", help="Chấp nhận (đóng cảnh báo; thường sau giải trình của đơn vị).")
    ] = False,
    reject: Annotated[str | None, typer.Option(
        "--reject", help="Không chấp nhận giải trình, kèm lý do (bắt buộc).")] = None,
    false_positive: Annotated[bool, typer.Option(
        "--false-positive", help="Đánh dấu “không phải lỗi”.")] = False,
    by: By = DEFAULT_OFFICE,
    note: Note = "",
    state: StateDir = Path("ket-qua/state"),
    config_dir: ConfigOption = None,
) -> None:
    """Quyết định về một phát hiện: chấp nhận, không chấp nhận, hoặc không phải lỗi."""
    config = load(config_dir)
    action = _one(config, {core.ACCEPT: accept, core.REJECT: reject is not None,
                           core.DISMISS: false_positive},
                  ["--accept", "--reject LÝ_DO", "--false-positive"])
    fid = finding_id.strip().lower()
    with _store(config, state) as store:
        try:
            step = store.decide_finding(fid, action, by.strip() or DEFAULT_OFFICE,
                                        datetime.now(UTC), reason=reject or "", note=note)
        except KeyError:
            raise _refuse(config, "finding-unknown", finding=finding_id) from None
    console.print(escape(config.catalogue.text(
        "finding-done", finding=fid, old=core.word(config.catalogue, step.from_state),
        new=core.word(config.catalogue, step.to_state), by=step.by,
        at=step.at.astimezone(config.plan.tz))), highlight=False)
