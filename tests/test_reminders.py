"""Reminder emails through a real SMTP server on loopback (aiosmtpd), the sent-log, dry runs.

The units, their addresses and the staff address are the test config's (tests/config/units.yaml).
"""

from __future__ import annotations

from datetime import date
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default as default_policy

import pandas as pd
import pytest
import yaml
from helpers import worded

from flows.config import ConfigError
from flows.config.reminders import ReminderSettings, load_reminder_settings
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING, rendered_frame
from flows.notify import LOG_FILE, due_offset, send_reminders

AS_OF = date(2023, 3, 28)  # 3 days before the deadline, 31/03/2023
LINK = "https://docs.google.com/spreadsheets/d/abc123/edit"
STAFF = "ldtbxh@thunghiem.example.vn"  # staff_emails of the test config
SHEET = "B. Bảo đảm quyền trẻ em"


@pytest.fixture
def smtp(smtp_inbox):
    """The shared loopback SMTP server (conftest `smtp_inbox`), as (inbox, port)."""
    return smtp_inbox, smtp_inbox.port


def settings_for(port: int, **smtp) -> ReminderSettings:
    return ReminderSettings.model_validate({
        "offsets": [-7, -3, -1, 1],
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5, **smtp},
        "from_address": "giamsat@huongtra.example.vn",
        "from_name": "Phòng Lao động - Thương binh và Xã hội thị xã Hương Trà",
        "reply_to": STAFF, "contact": "Chị Lê Thị Hoa, ĐT 0234 3557 123", "max_cells": 3})


def status_row(code: str, complete: bool, completeness: float, errors: int = 0,
               link: str = "", found: bool = True) -> dict:
    return dict(unit_code=code, unit_name=code, found=found, started=found,
                required_filled=round(391 * completeness / 100), required_total=391,
                completeness=completeness, complete=complete, errors=errors,
                submission_status="Đã hoàn thành" if complete else "Đang nhập",
                read_at="2023-03-27T18:00:00+00:00", link=link)


def result_with(status: list[dict], findings: list) -> Consolidated:
    empty = pd.DataFrame()
    return Consolidated(empty, empty, rendered_frame(findings), pd.DataFrame(status), empty)


def wrong(code: str, n: int) -> list:
    return [worded("not-a-number", ERROR, f"Ô E{10 + i} có chữ “mười hai” thay vì số.",
                   "Nhập số, ví dụ 12.", unit_code=code, sheet=SHEET, cell=f"E{10 + i}",
                   key=f"E{10 + i}") for i in range(n)]


@pytest.fixture
def result() -> Consolidated:
    """P01 complete and clean; P02 half-way with blanks and 5 errors; X01 done but 1 error."""
    missing = worded("missing-required", WARNING,
                     f"Còn 2 ô bắt buộc chưa có số liệu hợp lệ (trống hoặc nhập sai) ở trang "
                     f"“{SHEET}”: E30, F30", "Nhập số liệu vào các ô này (không có thì nhập 0).",
                     unit_code="P02", sheet=SHEET, cell="E30", key="missing-required|B")
    status = [status_row("P01", True, 100.0), status_row("P02", False, 62.5, 5, LINK),
              status_row("X01", True, 100.0, 1)]
    return result_with(status, [missing, *wrong("P02", 5), *wrong("X01", 1)])


def received(inbox) -> dict[str, tuple[list[str], object, bytes]]:
    """Arrived messages by unit code, parsed back with the modern email API."""
    return {mail.message["X-Giamsat-Unit"]: (mail.rcpt, mail.message, mail.raw)
            for mail in inbox.messages}


# --------------------------------------------------------------------------- tests


def test_reminder_days_count_from_the_deadline(config):
    offsets = [-7, -3, -1, 1]
    days = {date(2023, 3, d): due_offset(date(2023, 3, d), config.plan, offsets)
            for d in (24, 27, 28, 30, 31)}
    assert days == {date(2023, 3, 24): -7, date(2023, 3, 27): None, date(2023, 3, 28): -3,
                    date(2023, 3, 30): -1, date(2023, 3, 31): None}
    assert due_offset(date(2023, 4, 1), config.plan, offsets) == 1


def test_what_arrives_over_smtp(config, result, smtp, tmp_path):
    inbox, port = smtp
    sent = send_reminders(result, config, AS_OF, tmp_path, settings=settings_for(port))
    assert {(s.unit_code, s.status) for s in sent} == {("P02", "sent"), ("X01", "sent")}
    mail = received(inbox)
    assert set(mail) == {"P02", "X01"}  # none for P01: complete and without errors
    rcpt, message, raw = mail["P02"]
    assert sorted(rcpt) == ["huongvan@thunghiem.example.vn", STAFF]
    assert message["Cc"] == STAFF and message["Reply-To"] == STAFF
    # Decoded as RFC 2047 says (Python's own address parser keeps the folding space between
    # encoded words of a display name: "Xã h ội").
    sender = str(make_header(decode_header(message_from_bytes(raw)["From"])))
    assert sender == ("Phòng Lao động - Thương binh và Xã hội thị xã Hương Trà "
                      "<giamsat@huongtra.example.vn>")
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0]  # the Vietnamese subject is RFC 2047
    assert message["Subject"] == ("[Nhắc báo cáo] Phường Hương Văn: còn 3 ngày đến hạn báo cáo "
                                  "31/03/2023 — đã nhập 62,5%, còn 5 lỗi cần sửa")
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Kính gửi: Ủy ban nhân dân phường Hương Văn,")
    for expected in ("ngày 31 tháng 3 năm 2023 (còn 3 ngày nữa)", "Đã nhập 62,5%",
                     "(244/391 ô)", "E30, F30", f"Trang “{SHEET}”, ô E10:", "ô E12:",
                     "… và 2 lỗi khác", LINK, "Chị Lê Thị Hoa"):
        assert expected in text, expected
    assert "ô E13:" not in text  # capped at max_cells
    body = message.get_body(("html",)).get_content()
    assert f'<a href="{LINK}">' in body and "E30, F30" in body


def test_no_second_mail_for_the_same_state(config, result, smtp, tmp_path):
    inbox, port = smtp
    settings = settings_for(port)
    send_reminders(result, config, AS_OF, tmp_path, settings=settings)
    again = send_reminders(result, config, AS_OF, tmp_path, settings=settings)
    later = send_reminders(result, config, date(2023, 3, 30), tmp_path, settings=settings)
    assert {s.status for s in again + later} == {"skipped-same-state"}
    assert len(inbox.messages) == 2
    # P02 typed more by the next reminder day: a new state, so a new reminder…
    result.status.loc[1, "completeness"] = 80.0
    moved = send_reminders(result, config, date(2023, 3, 30), tmp_path, settings=settings)
    assert {(s.unit_code, s.status) for s in moved} == {("P02", "sent"),
                                                         ("X01", "skipped-same-state")}
    # …but never a second one on the same reminder day.
    result.status.loc[1, "completeness"] = 90.0
    same_day = send_reminders(result, config, date(2023, 3, 30), tmp_path, settings=settings)
    assert same_day[0].status == "skipped-already-sent" and len(inbox.messages) == 3
    assert send_reminders(result, config, date(2023, 3, 29), tmp_path, settings=settings) == []


def test_dry_run_writes_eml_files_and_sends_nothing(config, result, smtp, tmp_path):
    inbox, port = smtp
    outbox = tmp_path / "outbox"
    sent = send_reminders(result, config, AS_OF, tmp_path, dry_run=True,
                          settings=settings_for(port, username="giamsat",
                                                password_env="GIAMSAT_UNSET_IN_TESTS"),
                          outbox=outbox)
    assert {s.status for s in sent} == {"dry-run"} and inbox.messages == []
    assert sorted(p.name for p in outbox.iterdir()) == ["P02.eml", "X01.eml"]
    message = message_from_bytes((outbox / "P02.eml").read_bytes(), policy=default_policy)
    assert message["Subject"].startswith("[Nhắc báo cáo] Phường Hương Văn")
    assert not (tmp_path / LOG_FILE).exists()  # a rehearsal does not count as sent
    real = send_reminders(result, config, AS_OF, tmp_path, settings=settings_for(port))
    assert {s.status for s in real} == {"sent"}


def test_a_failure_for_one_unit_does_not_stop_the_others(config, result, smtp, tmp_path):
    inbox, port = smtp
    inbox.failing.add("huongvan@thunghiem.example.vn")
    sent = {s.unit_code: s.status for s in
            send_reminders(result, config, AS_OF, tmp_path, settings=settings_for(port))}
    assert sent["X01"] == "sent"
    assert sent["P02"] == "failed: máy chủ thư trả lỗi 554: 5.7.1 Thư bị từ chối"
    inbox.failing.clear()  # not logged as sent: the next run tries again
    retry = send_reminders(result, config, AS_OF, tmp_path, settings=settings_for(port))
    assert [(s.unit_code, s.status) for s in retry] == [("P02", "sent"),
                                                        ("X01", "skipped-same-state")]


def test_a_server_that_is_down_is_a_failure_per_unit(config, result, tmp_path, free_port):
    sent = send_reminders(result, config, AS_OF, tmp_path, settings=settings_for(free_port()))
    assert all(s.status.startswith("failed: không kết nối được máy chủ thư 127.0.0.1:")
               for s in sent) and len(sent) == 2


def test_a_missing_password_is_a_clear_message(config, result, smtp, tmp_path, monkeypatch):
    inbox, port = smtp
    monkeypatch.delenv("GIAMSAT_TEST_SMTP_PASSWORD", raising=False)
    settings = settings_for(port, username="giamsat",
                            password_env="GIAMSAT_TEST_SMTP_PASSWORD")
    with pytest.raises(ConfigError) as caught:
        send_reminders(result, config, AS_OF, tmp_path, settings=settings)
    (problem,) = caught.value.problems
    assert problem.startswith("reminders.yaml: smtp.password_env: chưa đặt biến môi trường "
                              "GIAMSAT_TEST_SMTP_PASSWORD")
    assert inbox.messages == []


def test_a_wrong_password_is_a_failure_in_vietnamese(config, result, smtp, tmp_path,
                                                     monkeypatch):
    inbox, port = smtp
    inbox.password = "dung-mat-khau"  # the server accepts this login only
    monkeypatch.setenv("GIAMSAT_TEST_SMTP_PASSWORD", "sai")
    settings = settings_for(port, username="giamsat", password_env="GIAMSAT_TEST_SMTP_PASSWORD")
    sent = send_reminders(result, config, AS_OF, tmp_path, settings=settings)
    assert {s.status for s in sent} == {
        "failed: máy chủ thư từ chối đăng nhập giamsat (sai tên đăng nhập hoặc mật khẩu "
        "trong biến môi trường GIAMSAT_TEST_SMTP_PASSWORD)"}
    monkeypatch.setenv("GIAMSAT_TEST_SMTP_PASSWORD", "dung-mat-khau")
    sent = send_reminders(result, config, AS_OF, tmp_path, settings=settings)
    assert {s.status for s in sent} == {"sent"} and len(inbox.messages) == 2


def test_a_unit_without_a_workbook_is_reminded_too(config, smtp, tmp_path):
    inbox, port = smtp
    result = result_with([status_row("X02", False, 0.0, found=False)], [])
    (sent,) = send_reminders(result, config, date(2023, 4, 1), tmp_path,
                             settings=settings_for(port))
    text = received(inbox)["X02"][1].get_body(("plain",)).get_content()
    assert sent.status == "sent" and "đã quá hạn 1 ngày" in text
    assert "Chưa nhận được bảng tính" in text and "Mở bảng tính" not in text


# --------------------------------------------------------------------------- settings file


@pytest.mark.shipped
def test_the_shipped_settings_load_and_keep_no_password(shipped_config):
    settings = load_reminder_settings(shipped_config.directory)
    assert settings.offsets == [-7, -3, -1, 1] and settings.smtp.password_env


def test_the_test_config_settings_load_and_keep_no_password(config):
    settings = load_reminder_settings(config.directory)
    assert settings.offsets == [-7, -3, -1, 1] and settings.smtp.password_env


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["smtp"].update(password="123456"),
     "reminders.yaml: smtp: không ghi mật khẩu vào tệp cấu hình"),
    (lambda d: d["smtp"].update(security="tls"),
     "reminders.yaml: smtp.security: giá trị không hợp lệ; cần một trong: 'starttls', 'ssl'"),
    (lambda d: d["smtp"].update(port="hai lăm"), "reminders.yaml: smtp.port: cần một số nguyên"),
    (lambda d: d.update(reply_to="ldtbxh"), "reminders.yaml: reply_to: địa chỉ thư không hợp lệ"),
    (lambda d: d["smtp"].update(password_env="mat khau"),
     "reminders.yaml: smtp.password_env: tên biến môi trường chỉ gồm chữ in hoa"),
    (lambda d: d.update(offsets=[-3, -3]), "reminders.yaml: offsets: các ngày nhắc bị trùng"),
])
def test_settings_mistakes_name_the_file_and_key(config, tmp_path, change, expected):
    data = yaml.safe_load((config.directory / "reminders.yaml").read_text(encoding="utf-8"))
    change(data)
    (tmp_path / "reminders.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                             encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_reminder_settings(tmp_path)
    assert caught.value.problems[0].startswith(expected), caught.value.problems
