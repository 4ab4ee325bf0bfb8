"""The reminder email of one unit: what is missing, which cells are wrong, the deadline.

Plain text plus a simple HTML part, headers encoded so Vietnamese subjects survive every mail
client. Pure: from the unit's status row and findings to an `EmailMessage`.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from typing import Any

import pandas as pd

from flows.config import Config, Plan
from flows.config.reminders import ReminderSettings
from flows.core import review
from flows.core.consolidate import UNREADABLE
from flows.core.findings import ERROR, WARNING
from flows.core.vnformat import long_date, percent, short_date


def due_offset(as_of: date, plan: Plan, offsets: list[int]) -> int | None:
    """Which reminder day `as_of` is (days from the deadline), or None on other days.

    Exact days only: a night the server missed is not made up the next day, which would send
    reminders on days staff did not announce.
    """
    offset = (as_of - plan.deadline).days
    return offset if offset in offsets else None


def returned_reason(row: Mapping[str, Any], catalogue: Any) -> str | None:
    """The office's reason when it returned the unit's numbers (None when not returned)."""
    if catalogue is None or row.get("review_state") != review.word(catalogue, review.RETURNED):
        return None
    return str(row.get("review_note") or "")


def _to_fix(findings: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """The findings the commune still has to act on: neither closed nor explained."""
    return review.finding_parts(findings, catalogue)[0] if catalogue is not None else findings


def needs_reminder(row: Mapping[str, Any], findings: pd.DataFrame | None = None,
                   catalogue: Any = None) -> bool:
    """Not complete, errors still to fix, or returned by the office. With `findings`, only
    the errors nobody closed or explained count."""
    if returned_reason(row, catalogue) is not None:
        return True
    if findings is None:
        errors = int(row.get("errors") or 0)
    else:
        errors = int((_to_fix(findings, catalogue)["severity"] == ERROR).sum())
    return not bool(row.get("complete")) or errors > 0


def state_hash(row: Mapping[str, Any], findings: pd.DataFrame, catalogue: Any = None) -> str:
    """What the unit's reminder would say, in 16 hex digits: completeness, the errors to fix
    and, for a returned unit, the office's reason."""
    shown = _to_fix(findings, catalogue)
    errors = sorted(shown.loc[shown["severity"] == ERROR, "finding_id"].astype(str))
    state: dict[str, Any] = {"completeness": round(float(row.get("completeness") or 0), 1),
                             "errors": errors}
    returned = returned_reason(row, catalogue)
    if returned is not None:
        state["returned"] = returned
    return hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def _when(as_of: date, deadline: date) -> tuple[str, str]:
    """(subject phrase, sentence phrase) for how far the deadline is."""
    days = (deadline - as_of).days
    if days > 0:
        return (f"còn {days} ngày đến hạn báo cáo {short_date(deadline)}",
                f"còn {days} ngày nữa")
    if days == 0:
        return f"hôm nay là hạn báo cáo {short_date(deadline)}", "hôm nay là ngày cuối"
    return (f"đã quá hạn báo cáo {-days} ngày (hạn {short_date(deadline)})",
            f"đã quá hạn {-days} ngày")


def _read_time(row: Mapping[str, Any], config: Config, as_of: date) -> str:
    text = str(row.get("read_at") or "")
    try:
        moment = datetime.fromisoformat(text).astimezone(config.plan.tz)
    except ValueError:
        return f"tính đến ngày {short_date(as_of)}"
    return f"đọc lúc {moment:%H:%M} ngày {moment:%d/%m/%Y}"


def _where(f: Any) -> str:
    return f"Trang “{f.sheet}”, ô {f.cell}: " if f.sheet and f.cell else ""


@dataclass
class _Content:
    """The facts of one reminder, rendered twice (text and HTML)."""

    greeting: str
    opening: str
    state_title: str
    state: list[str]
    missing: list[str]
    errors: list[str]
    more_errors: int
    explained_title: str
    explained: list[str]
    link: str
    closing: list[str]
    signature: str


def _content(row: Mapping[str, Any], findings: pd.DataFrame, config: Config, as_of: date,
             settings: ReminderSettings | None) -> _Content:
    unit = config.units.by_code()[row["unit_code"]]
    plan = config.plan
    done_label = config.form.choices["trang_thai"][1]
    _, how_far = _when(as_of, plan.deadline)
    sender = settings.sender if settings else "Phòng LĐTBXH"
    words = config.catalogue
    all_findings = findings
    findings, explained, _ = review.finding_parts(findings, words)
    state = []
    returned = returned_reason(row, words)
    if returned is not None:
        state.append(words.text("reminder-returned", reason=returned))
    if not bool(row.get("found", True)):
        state.append("Chưa nhận được bảng tính của đơn vị (chưa có số liệu).")
    elif row.get("access") == UNREADABLE:
        unreadable = all_findings.loc[all_findings["rule"] == "unreadable-file", "message"]
        why = f" {unreadable.iloc[0]}" if len(unreadable) else ""
        state.append(f"Hệ thống không mở được bảng tính của đơn vị nên chưa đọc được số liệu."
                     f"{why} Xin kiểm tra tệp và gửi lại.")
    else:
        state.append(f"Đã nhập {percent(float(row.get('completeness') or 0))} số ô bắt buộc "
                     f"({row.get('required_filled', 0)}/{row.get('required_total', 0)} ô); "
                     f"trạng thái: {row.get('submission_status') or 'chưa chọn'}.")
    missing = [str(m) for m in findings.loc[findings["rule"] == "missing-required", "message"]]
    wrong = findings[findings["severity"] == ERROR]
    limit = settings.max_cells if settings else 15
    errors = []
    for f in wrong.head(limit).itertuples():
        todo = f" → {f.instruction}" if f.instruction else ""
        errors.append(f"{_where(f)}{f.message}{todo}")
    answered = [words.text("reminder-explained-item", where=_where(f), message=f.message,
                           explanation=getattr(f, "explanation", "") or "")
                for f in explained.itertuples()]
    warned = findings["severity"] == WARNING
    contact = settings.contact if settings and settings.contact else ""
    if not contact:  # fall back to whoever answers replies
        reply = [settings.reply_to] if settings and settings.reply_to else []
        contact = ", ".join(reply or config.units.staff_emails) or sender
    return _Content(
        greeting=f"Kính gửi: Ủy ban nhân dân {unit.kind} {unit.name},",
        opening=f"{sender} xin nhắc: hạn hoàn thành biểu tự kiểm tra theo {plan.name} là "
                f"{long_date(plan.deadline)} ({how_far}).",
        state_title=f"Tình hình biểu của {unit.full_name} ({_read_time(row, config, as_of)}):",
        state=state, missing=missing, errors=errors, more_errors=max(len(wrong) - limit, 0),
        explained_title=words.text("reminder-explained-title"), explained=answered,
        link=str(row.get("link") or ""),
        closing=[f"Khi đã nhập đủ và sửa hết lỗi, xin chọn “{done_label}” ở ô trạng thái và "
                 "ghi ngày hoàn thành.",
                 *([words.text("reminder-how-to-explain", count=int(warned.sum()))]
                   if warned.any() else []),
                 f"Cần hỗ trợ, xin liên hệ: {contact}."],
        signature=f"Trân trọng,\n{sender}")


def _text(c: _Content) -> str:
    lines = [c.greeting, "", c.opening, "", c.state_title, *[f"- {s}" for s in c.state]]
    if c.missing:
        lines += ["", "Các ô bắt buộc còn trống:", *[f"- {m}" for m in c.missing]]
    if c.errors:
        lines += ["", "Các ô đang báo lỗi, cần sửa:", *[f"- {e}" for e in c.errors]]
        if c.more_errors:
            lines.append(f"- … và {c.more_errors} lỗi khác (xem trong bảng tính).")
    if c.explained:
        lines += ["", c.explained_title, *[f"- {e}" for e in c.explained]]
    if c.link:
        lines += ["", f"Mở bảng tính của đơn vị: {c.link}"]
    lines += ["", *c.closing, "", c.signature, "",
              "(Thư gửi tự động từ hệ thống giám sát; đơn vị chỉ nhận lại thư khi có ngày nhắc "
              "mới và tình hình biểu đã thay đổi.)"]
    return "\n".join(lines) + "\n"


def _html(c: _Content) -> str:
    def items(values: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in values) + "</ul>"

    parts = [f"<p>{html.escape(c.greeting)}</p>", f"<p>{html.escape(c.opening)}</p>",
             f"<p>{html.escape(c.state_title)}</p>", items(c.state)]
    if c.missing:
        parts += ["<p><b>Các ô bắt buộc còn trống:</b></p>", items(c.missing)]
    if c.errors:
        more = [f"… và {c.more_errors} lỗi khác (xem trong bảng tính)."] if c.more_errors else []
        parts += ["<p><b>Các ô đang báo lỗi, cần sửa:</b></p>", items(c.errors + more)]
    if c.explained:
        parts += [f"<p><b>{html.escape(c.explained_title)}</b></p>", items(c.explained)]
    if c.link:
        link = html.escape(c.link, quote=True)
        parts.append(f'<p><a href="{link}">Mở bảng tính của đơn vị</a></p>')
    parts += [f"<p>{html.escape(line)}</p>" for line in c.closing]
    parts.append("<p>" + html.escape(c.signature).replace("\n", "<br>") + "</p>")
    return ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"></head><body>'
            + "".join(parts) + "</body></html>\n")


def _encoded_header(message: EmailMessage, name: str, value: str, address: str = "") -> None:
    """Set a header as RFC 2047 encoded words that keep their spaces.

    The modern email API (3.11) drops or inserts spaces where it folds a long Vietnamese header
    between encoded words ("Hương Văn:còn", "Xã h ội"); the legacy `Header` encoder keeps every
    space inside the encoded words, so the header is encoded with it and stored as is.
    """
    lines = Header(value, "utf-8", header_name=name).encode(linesep="\n") if value else ""
    if address:
        lines = f"{lines}\n <{address}>" if lines else address
    message.set_raw(name, lines)


def compose(unit_row: Mapping[str, Any], findings_for_unit: pd.DataFrame, config: Config,
            as_of: date, settings: ReminderSettings | None = None) -> EmailMessage:
    """The reminder for one unit: To its emails, Cc the staff, text and HTML parts."""
    unit = config.units.by_code()[unit_row["unit_code"]]
    content = _content(unit_row, findings_for_unit, config, as_of, settings)
    when, _ = _when(as_of, config.plan.deadline)
    filled = percent(float(unit_row.get("completeness") or 0))
    to_fix = _to_fix(findings_for_unit, config.catalogue)
    errors = int((to_fix["severity"] == ERROR).sum())
    tail = f"đã nhập {filled}" + (f", còn {errors} lỗi cần sửa" if errors else "")
    message = EmailMessage(policy=SMTP_POLICY)
    _encoded_header(message, "Subject", f"[Nhắc báo cáo] {unit.full_name}: {when} — {tail}")
    if settings:
        _encoded_header(message, "From", settings.from_name, settings.from_address)
        if settings.reply_to:
            message["Reply-To"] = settings.reply_to
        domain = settings.from_address.rpartition("@")[2]
    else:
        domain = None
    message["To"] = ", ".join(unit.emails)
    cc = [a for a in config.units.staff_emails if a not in unit.emails]
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = format_datetime(datetime.now(config.plan.tz))
    message["Message-ID"] = make_msgid("nhac-bao-cao", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Giamsat-Unit"] = unit.code
    message.set_content(_text(content))
    message.add_alternative(_html(content), subtype="html")
    return message
