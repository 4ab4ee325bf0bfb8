"""The tables of `giamsat history`: a unit's status timeline and its value changes."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from flows.core.audit import show_value, split_key, zone
from flows.core.vnformat import auto
from flows.store.history import History


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
                  limit: int = 500, catalogue: Any = None) -> int:
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
        if catalogue is not None:  # the review transitions need the catalogue's words
            print_reviews(history, unit, tz, console, catalogue)
            print_decisions(history, unit, tz, console, catalogue)
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


def print_reviews(history: History, unit: str, tz: tzinfo | str, console: Any,
                  words: Any) -> None:
    """The unit's review transitions (every plan), when it has any."""
    from rich.markup import escape
    from rich.table import Table

    from flows.core import review
    from flows.store.review import ReviewStore

    log = ReviewStore(history, None).unit_logs(unit).get(unit, [])
    if not log:
        return
    local = zone(tz)
    table = Table(title=f"Duyệt số liệu của {unit}", title_justify="left")
    for header in ("Thời điểm", "Việc", "Từ", "Sang", "Người", "Lý do, ghi chú"):
        table.add_column(header, no_wrap=header == "Thời điểm")
    for step in log:
        note = " — ".join(t for t in (step.reason, step.note) if t)
        if step.changes:
            note = review.edited_note(list(step.changes), words, local)
        table.add_row(f"{step.at.astimezone(local):%d/%m/%Y %H:%M}",
                      escape(review.word(words, step.action)),
                      escape(review.word(words, step.from_state)),
                      escape(review.word(words, step.to_state)), escape(step.by), escape(note))
    console.print(table)


def print_decisions(history: History, unit: str, tz: tzinfo | str, console: Any,
                    words: Any) -> None:
    """What happened to the unit's findings: explained, accepted, rejected, fixed, reopened —
    every transition after the first sighting, oldest first."""
    from rich.markup import escape
    from rich.table import Table

    from flows.core import review
    from flows.store.review import ReviewStore

    store = ReviewStore(history, None)
    mine = store.finding_states(unit)
    log = store.finding_log()
    if log.empty or not mine:
        return
    log = log[log["finding_id"].isin(list(mine)) & (log["from_state"] != "")]
    if log.empty:
        return
    local = zone(tz)
    table = Table(title=f"Quyết định về các phát hiện của {unit}", title_justify="left")
    for header in ("Thời điểm", "Phát hiện", "Sang", "Người", "Lý do, ghi chú"):
        table.add_column(header, no_wrap=header in ("Thời điểm", "Phát hiện"))
    for step in log.itertuples():
        note = " — ".join(str(t) for t in (step.reason, step.note, step.explanation) if t)
        table.add_row(f"{step.at.astimezone(local):%d/%m/%Y %H:%M}", escape(step.finding_id),
                      escape(review.word(words, step.to_state)), escape(step.by), escape(note))
    console.print(table)
