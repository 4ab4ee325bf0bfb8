"""Sending reminder emails to the communes before (and just after) the deadline, in Vietnamese.

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

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from flows.config import Config
from flows.config.reminders import ReminderSettings, smtp_password
from flows.core.consolidate import Consolidated
from flows.core.review import still_open
from flows.notify.compose import compose, due_offset, needs_reminder, state_hash
from flows.notify.sentlog import LOG_FILE, SentLog
from flows.outputs.atomic import write_bytes

SENT, DRY_RUN = "sent", "dry-run"


@dataclass
class SentReminder:
    """What happened to one unit's reminder."""

    unit_code: str
    to: list[str]
    subject: str
    status: str  # "sent", "dry-run", "skipped-same-state", "skipped-already-sent", "failed: …"
    cc: list[str] = field(default_factory=list)
    detail: str = ""  # refused recipients, or the .eml path of a dry run


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
    settings = settings or config.reminders
    if settings is None or (not settings.enabled and offset is None):
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
        # accepted, fixed and false-positive findings are never repeated to the commune
        mine = still_open(findings[findings["unit_code"] == code], config.catalogue)
        if code not in units or not needs_reminder(row, mine, config.catalogue):
            continue
        message = compose(row, mine, config, as_of, settings)
        to, cc = list(units[code].emails), [a for a in config.units.staff_emails
                                           if a not in units[code].emails]
        report = SentReminder(code, to, str(message["Subject"]), "", cc)
        sent.append(report)
        state = state_hash(row, mine, config.catalogue)
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
