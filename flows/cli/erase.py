"""`giamsat erase UNIT --before DATE`: erase a unit's history recorded before a day.

Deletes the unit's values and changes, status log, review transitions and finding states and
logs recorded before DATE (`flows.store.erase`), its Google snapshot read before DATE and its
reminder drafts of before DATE, after a confirmation (`--yes` skips it), and records that it
did in the history's ``erase_log`` (who, when, unit, cut-off, counts; never the content).
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import ConfigOption, app, console, fail, load, print_problems
from flows.config import Config, ConfigError
from flows.core import review as core
from flows.core.audit import DEFAULT_OFFICE


def _refuse(config: Config, code: str, **params: object) -> typer.Exit:
    return fail(escape(core.refusal_message(config.catalogue, core.Refused(code, params))))


def _day(config: Config, text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise _refuse(config, "erase-bad-date", typed=text)


def _snapshot(config: Config, unit: str, before: datetime) -> list[Path]:
    """The unit's Google snapshot, when it was read before the cut-off (a damaged one: when
    its file was written before it)."""
    if config.google is None:
        return []
    from flows.sources.google.snapshots import SnapshotStore

    store = SnapshotStore(config.google.state_dir)
    path = store.path(unit)
    if not path.is_file():
        return []
    snapshot = store.load(unit)
    read = snapshot.read_at if snapshot is not None else datetime.fromtimestamp(
        path.stat().st_mtime, UTC)
    return [path] if read < before else []


def _drafts(state: Path, unit: str, day: date) -> list[Path]:
    """The unit's reminder drafts (`<state>/outbox/<day>/<unit>.eml`) of days before `day`."""
    outbox = state / "outbox"
    if not outbox.is_dir():
        return []
    found = []
    for folder in sorted(outbox.iterdir()):
        try:
            when = date.fromisoformat(folder.name)
        except ValueError:
            continue
        draft = folder / f"{unit}.eml"
        if when < day and draft.is_file():
            found.append(draft)
    return found


@app.command()
def erase(
    unit: Annotated[str, typer.Argument(help="Mã đơn vị, ví dụ P01.")],
    before: Annotated[str, typer.Option(
        "--before", help="Xoá mọi thứ ghi nhận trước ngày này (YYYY-MM-DD hoặc dd/mm/yyyy).")],
    state: Annotated[Path, typer.Option(
        "--state", help="Thư mục lịch sử (thường là <out>/state).")] = Path("ket-qua/state"),
    yes: Annotated[bool, typer.Option("--yes", help="Không hỏi lại trước khi xoá.")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", help="Người xoá (ghi vào nhật ký xoá; mặc định: tên đăng nhập máy).")] = None,
    config_dir: ConfigOption = None,
) -> None:
    """Xoá lịch sử của một đơn vị ghi nhận trước một ngày (có hỏi lại, có ghi nhật ký)."""
    config = load(config_dir)
    from flows.store.erase import Eraser
    from flows.store.history import FILE_NAME, HISTORY_URL_ENV, History, HistoryUnusable

    day = _day(config, before)
    cutoff = datetime.combine(day, time(0), tzinfo=config.plan.tz)
    if not os.environ.get(HISTORY_URL_ENV) and not (state / FILE_NAME).is_file():
        raise _refuse(config, "review-no-history", state=str(state))
    words = config.catalogue
    try:
        with History(folder=state) as history:
            known = {u.code.upper(): u.code for u in config.units.units}
            known.update({c.upper(): c for c in history.known_units() if c.upper() not in known})
            code = known.get(unit.strip().upper())
            if code is None:
                raise _refuse(config, "erase-unknown-unit", unit=unit,
                              valid=[u.code for u in config.units.units])
            eraser = Eraser(history)
            snapshots, drafts = _snapshot(config, code, cutoff), _drafts(state, code, day)
            planned = eraser.count(code, cutoff)
            counts = {name: getattr(planned, name) for name in (
                "values_rows", "status_rows", "unit_transitions", "finding_states",
                "finding_transitions")}
            counts.update(snapshots=len(snapshots), drafts=len(drafts))
            if not any(counts.values()):
                console.print(escape(words.text("erase-nothing", unit=code, before=day)),
                              highlight=False)
                return
            question = words.text("erase-confirm", unit=code, before=day, **counts)
            try:
                agreed = yes or typer.confirm(question, default=False, show_default=False)
            except typer.Abort:  # no answer (end of input, Ctrl-C)
                agreed = False
            if not agreed:
                raise fail(escape(words.text("erase-declined", unit=code)), code=1)
            done = eraser.erase(code, cutoff, (by or "").strip() or _login(),
                                datetime.now(UTC), len(snapshots), len(drafts))
            for path in snapshots + drafts:
                path.unlink(missing_ok=True)
    except HistoryUnusable as why:
        found = words.render("history-unavailable", {
            "where": str(state), "reason": why.reason, "detail": why.detail})
        raise fail(escape(f"{found.message} {found.instruction}")) from None
    except ConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None
    console.print(escape(words.text(
        "erase-done", unit=code, before=day, **{name: getattr(done, name) for name in counts})),
        highlight=False)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return DEFAULT_OFFICE
