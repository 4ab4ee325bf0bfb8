"""Reminder emails to the communes before (and just after) the deadline, in Vietnamese.

On each reminder day (`offsets` days from `plan.deadline`, e.g. -7, -3, -1, +1) every unit that
is not complete or still has errors gets one email: what is missing, which cells are wrong,
the link to its sheet, the deadline and whom to contact. Plain text plus a simple HTML part.

Never the same reminder twice: a sent-log (``<state_dir>/reminders-sent.json``) keeps every
reminder sent. A unit gets at most one per reminder day, and none when its state (completeness
and the set of its error findings) is the same as in the last reminder it was sent, so a unit
that did nothing since the last email is not nagged again with the same list. A dry run writes
the emails as .eml files and records nothing, so it never holds back a real reminder.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from flows.config import (
    Config,
    ConfigError,
    ConfigModel,
    Plan,
    describe_error,
    key_path,
    load_yaml,
)
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR
from flows.fileio import write_bytes, write_text
from flows.vnformat import long_date, percent, short_date

SETTINGS_FILE = "reminders.yaml"
LOG_FILE = "reminders-sent.json"
SENT, DRY_RUN = "sent", "dry-run"
SKIPPED_SAME_STATE, SKIPPED_ALREADY_SENT = "skipped-same-state", "skipped-already-sent"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --------------------------------------------------------------------------- settings


class Smtp(ConfigModel):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "GIAMSAT_SMTP_PASSWORD"
    timeout: float = Field(default=30, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("không ghi mật khẩu vào tệp cấu hình; đặt mật khẩu vào một biến "
                             "môi trường và ghi tên biến đó ở password_env")
        return data

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
            raise ValueError("tên biến môi trường chỉ gồm chữ in hoa không dấu, số và dấu _ "
                             "(vd GIAMSAT_SMTP_PASSWORD)")
        return value


class ReminderSettings(ConfigModel):
    """`config/reminders.yaml`."""

    enabled: bool = True
    offsets: list[int] = Field(default_factory=lambda: [-7, -3, -1, 1], min_length=1)
    smtp: Smtp
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    contact: str = ""
    max_cells: int = Field(default=15, ge=1)

    @field_validator("from_address", "reply_to")
    @classmethod
    def _email(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.field_name == "from_address":
            raise ValueError("cần địa chỉ thư người gửi")
        if value and not _EMAIL.match(value):
            raise ValueError("địa chỉ thư không hợp lệ")
        return value

    @field_validator("offsets")
    @classmethod
    def _distinct_offsets(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("các ngày nhắc bị trùng")
        if any(abs(v) > 90 for v in value):
            raise ValueError("ngày nhắc phải trong khoảng 90 ngày trước hoặc sau hạn")
        return sorted(value)

    @property
    def sender(self) -> str:
        return self.from_name or "Phòng LĐTBXH"


def load_reminder_settings(directory: Path) -> ReminderSettings:
    """Read and validate `reminders.yaml`; mistakes are a ConfigError naming file and key."""
    path = Path(directory) / SETTINGS_FILE
    data = load_yaml(path)
    try:
        return ReminderSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{SETTINGS_FILE}: {key_path(err['loc'])}: {describe_error(err)}"
                           for err in exc.errors()]) from None


def smtp_password(settings: ReminderSettings) -> str | None:
    """The SMTP password from the environment (None without a username)."""
    smtp = settings.smtp
    if not smtp.username:
        return None
    password = os.environ.get(smtp.password_env, "")
    if not password:
        raise ConfigError([
            f"{SETTINGS_FILE}: smtp.password_env: chưa đặt biến môi trường {smtp.password_env} "
            f"(mật khẩu thư của {smtp.username}). Đặt biến này trước khi chạy, "
            f"vd: export {smtp.password_env}='…' — hoặc chạy thử với --dry-run."])
    return password


# --------------------------------------------------------------------------- what to send


@dataclass
class SentReminder:
    """What happened to one unit's reminder."""

    unit_code: str
    to: list[str]
    subject: str
    status: str  # "sent", "dry-run", "skipped-same-state", "skipped-already-sent", "failed: …"
    cc: list[str] = field(default_factory=list)
    detail: str = ""  # refused recipients, or the .eml path of a dry run


def due_offset(as_of: date, plan: Plan, offsets: list[int]) -> int | None:
    """Which reminder day `as_of` is (days from the deadline), or None on other days.

    Exact days only: a night the server missed is not made up the next day, which would send
    reminders on days staff did not announce.
    """
    offset = (as_of - plan.deadline).days
    return offset if offset in offsets else None


def needs_reminder(row: Mapping[str, Any]) -> bool:
    return not bool(row.get("complete")) or int(row.get("errors") or 0) > 0


def state_hash(row: Mapping[str, Any], findings: pd.DataFrame) -> str:
    """What the unit's reminder would say, in 16 hex digits: completeness and its errors."""
    errors = sorted(findings.loc[findings["severity"] == ERROR, "finding_id"].astype(str))
    state = {"completeness": round(float(row.get("completeness") or 0), 1), "errors": errors}
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
    state = []
    if not bool(row.get("found", True)):
        state.append("Chưa nhận được bảng tính của đơn vị (chưa có số liệu).")
    else:
        state.append(f"Đã nhập {percent(float(row.get('completeness') or 0))} số ô bắt buộc "
                     f"({row.get('required_filled', 0)}/{row.get('required_total', 0)} ô); "
                     f"trạng thái: {row.get('submission_status') or 'chưa chọn'}.")
    missing = [str(m) for m in findings.loc[findings["rule"] == "missing-required", "message"]]
    wrong = findings[findings["severity"] == ERROR]
    limit = settings.max_cells if settings else 15
    errors = []
    for f in wrong.head(limit).itertuples():
        where = f"Trang “{f.sheet}”, ô {f.cell}: " if f.sheet and f.cell else ""
        todo = f" → {f.instruction}" if f.instruction else ""
        errors.append(f"{where}{f.message}{todo}")
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
        link=str(row.get("link") or ""),
        closing=[f"Khi đã nhập đủ và sửa hết lỗi, xin chọn “{done_label}” ở ô trạng thái và "
                 "ghi ngày hoàn thành.",
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
    errors = int((findings_for_unit["severity"] == ERROR).sum())
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


# --------------------------------------------------------------------------- sent-log


class SentLog:
    """Every reminder sent, as JSON (written atomically after each send)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: list[dict] = []
        if self.path.is_file():
            self.entries = json.loads(self.path.read_text(encoding="utf-8")).get("sent", [])

    def skip_reason(self, unit: str, deadline: date, offset: int, state: str) -> str | None:
        mine = [e for e in self.entries
                if e["unit_code"] == unit and e["deadline"] == deadline.isoformat()]
        if mine and mine[-1]["state"] == state:
            return SKIPPED_SAME_STATE
        if any(e["offset"] == offset for e in mine):
            return SKIPPED_ALREADY_SENT
        return None

    def add(self, unit: str, deadline: date, offset: int, state: str, as_of: date,
            message: EmailMessage) -> None:
        self.entries.append({
            "unit_code": unit, "deadline": deadline.isoformat(), "offset": offset,
            "day": as_of.isoformat(), "state": state,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "subject": str(message["Subject"]), "message_id": str(message["Message-ID"])})
        write_text(self.path, json.dumps({"version": 1, "sent": self.entries},
                                         ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- sending


def _deliver(message: EmailMessage, settings: ReminderSettings,
             password: str | None) -> dict[str, tuple[int, bytes]]:
    smtp = settings.smtp
    context = ssl.create_default_context()
    if smtp.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, password or "")
        return client.send_message(message)


def describe_smtp_error(exc: BaseException, settings: ReminderSettings) -> str:
    """What went wrong, for staff (in Vietnamese), not a traceback."""
    smtp = settings.smtp
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"máy chủ thư từ chối đăng nhập {smtp.username} (sai tên đăng nhập hoặc mật "
                f"khẩu trong biến môi trường {smtp.password_env})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "máy chủ thư từ chối mọi người nhận: " + ", ".join(exc.recipients)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"máy chủ thư từ chối địa chỉ gửi {settings.from_address}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"máy chủ thư không hỗ trợ {smtp.security.upper()} hoặc đăng nhập; " \
               "kiểm tra smtp.security"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"máy chủ thư trả lỗi {exc.smtp_code}: {reply}"
    if isinstance(exc, ssl.SSLError):
        return f"lỗi mã hoá TLS với {smtp.host}:{smtp.port}; kiểm tra smtp.security và smtp.port"
    if isinstance(exc, TimeoutError):
        return f"máy chủ thư {smtp.host}:{smtp.port} không trả lời sau {smtp.timeout:g} giây"
    if isinstance(exc, OSError):
        return f"không kết nối được máy chủ thư {smtp.host}:{smtp.port} ({exc.strerror or exc})"
    return f"lỗi khi gửi thư ({type(exc).__name__}: {exc})"


def send_reminders(result: Consolidated, config: Config, as_of: date, state_dir: Path,
                   dry_run: bool = False, settings: ReminderSettings | None = None,
                   offset: int | None = None, outbox: Path | None = None) -> list[SentReminder]:
    """Send today's reminders, if today is a reminder day; one SentReminder per unit concerned.

    `offset` forces a reminder day (an ad-hoc reminder). `dry_run` writes each email as
    `<outbox>/<unit>.eml` (default `<state_dir>/outbox/<as_of>/`) and neither sends nor marks it
    sent. A missing password is a ConfigError before anything is sent; an SMTP failure for
    one unit is recorded as "failed: …" and the others still go out.
    """
    settings = settings or load_reminder_settings(config.directory)
    if not settings.enabled and offset is None:
        return []
    day = offset if offset is not None else due_offset(as_of, config.plan, settings.offsets)
    if day is None:
        return []
    password = None if dry_run else smtp_password(settings)
    outbox = outbox or Path(state_dir) / "outbox" / as_of.isoformat()
    log = SentLog(Path(state_dir) / LOG_FILE)
    units = config.units.by_code()
    findings = result.findings
    sent: list[SentReminder] = []
    for row in result.status.to_dict("records"):
        code = row["unit_code"]
        if code not in units or not needs_reminder(row):
            continue
        mine = findings[findings["unit_code"] == code]
        message = compose(row, mine, config, as_of, settings)
        to, cc = list(units[code].emails), [a for a in config.units.staff_emails
                                           if a not in units[code].emails]
        report = SentReminder(code, to, str(message["Subject"]), "", cc)
        sent.append(report)
        state = state_hash(row, mine)
        message["X-Giamsat-State"] = state
        skip = log.skip_reason(code, config.plan.deadline, day, state)
        if skip:
            report.status = skip
        elif not to:
            report.status = "failed: đơn vị chưa có địa chỉ thư (units.yaml: emails)"
        elif dry_run:
            path = write_bytes(outbox / f"{code}.eml", message.as_bytes(policy=SMTP_POLICY))
            report.status, report.detail = DRY_RUN, str(path)
        else:
            try:
                refused = _deliver(message, settings, password)
            except Exception as exc:  # one unit's failure must not stop the others
                report.status = f"failed: {describe_smtp_error(exc, settings)}"
                continue
            log.add(code, config.plan.deadline, day, state, as_of, message)
            report.status = SENT
            if refused:
                report.detail = "bị từ chối: " + ", ".join(sorted(refused))
    return sent
