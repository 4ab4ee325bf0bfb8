"""State and output folders fail safe: the history is never silently recreated or lost, a bad
output folder is refused before reading, a full disk is one sentence, a failed reminder is said.
Real flow runs (Prefect's test API), on the test config. (In-process runs: Prefect's console
handler may print "Logging error" into the captured output of a later run; tests that check
for tracebacks run the command as a subprocess, see test_config_check.py.)"""

from __future__ import annotations

import errno
import sqlite3

import pandas as pd
import pytest
from helpers import TEST_CONFIG_DIR

pytestmark = pytest.mark.prefect


@pytest.fixture
def folders(tmp_path, make_workbook):
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    for code in ("P01", "P02"):
        make_workbook(code, folder=source)
    return source, out


def run(cli, source, out, *extra, code):
    return cli("consolidate", "--source", source, "--out", out, "--no-pdf", "--as-of",
               "2023-03-28", "--config", TEST_CONFIG_DIR, *extra, code=code).output


@pytest.mark.parametrize("content, reason", [
    (b"this is not a database at all, but it is where the history was", "bị hỏng"),
    (None, "chương trình khác"),  # another program's SQLite database
])
def test_a_damaged_or_foreign_history_is_set_aside_never_lost(folders, cli, prefect_api,
                                                               content, reason):
    source, out = folders
    state = out / "state"
    state.mkdir(parents=True)
    path = state / "history.sqlite"
    if content is None:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE khach_hang (ten TEXT)")
            db.execute("INSERT INTO khach_hang VALUES ('Nguyễn Văn A')")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    output = run(cli, source, out, code=4)
    [aside] = list(state.glob("history.sqlite.hong-*"))
    assert aside.read_bytes() == before  # kept as it was, under a new name
    assert path.exists() and path.read_bytes() != before  # a new history from this run
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    [kept] = findings[findings.rule == "history-set-aside"].itertuples()
    assert reason in kept.message and aside.name in kept.message
    assert "Cần xử lý" in output
    for name in ("values.csv", "status.csv", "findings.xlsx", "bao-cao.docx"):
        assert (out / name).is_file()


def test_a_locked_history_is_waited_for_then_reported_and_the_run_goes_on(folders, cli,
                                                                           prefect_api,
                                                                           monkeypatch):
    from flows.store import history

    source, out = folders
    run(cli, source, out, code=0)  # a first run makes the history
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 1.0)
    holder = sqlite3.connect(out / "state" / "history.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the database
    try:
        output = run(cli, source, out, code=4)
    finally:
        holder.rollback()
        holder.close()
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    [locked] = findings[findings.rule == "history-unavailable"].itertuples()
    assert "đang giữ cơ sở dữ liệu" in locked.message
    assert "Cần xử lý" in output and (out / "status.csv").is_file()
    assert not list((out / "state").glob("history.sqlite.hong-*"))  # a lock is no damage


def test_an_output_folder_that_is_a_file_or_inside_the_source_is_refused_before_reading(
        folders, cli):
    source, out = folders
    out.write_text("a file, not a folder", encoding="utf-8")
    said = " ".join(run(cli, source, out, code=2).split())
    assert f"{out} là một tệp, không phải thư mục" in said
    inside = source / "ket-qua"
    said = " ".join(run(cli, source, inside, code=2).split())
    assert "nằm trong thư mục nguồn" in said and not inside.exists()


def test_a_full_disk_while_writing_is_one_sentence_and_leaves_no_half_file(folders, cli,
                                                                          prefect_api,
                                                                          monkeypatch):
    from flows.outputs import tables

    source, out = folders
    run(cli, source, out, code=0)
    before = (out / "values.csv").read_bytes()

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(tables, "write_text", full)
    said = " ".join(run(cli, source, out, code=1).split())
    assert "ổ đĩa đã đầy" in said
    assert (out / "values.csv").read_bytes() == before  # the last good output is whole
    assert not list(out.glob(".*.tmp"))


def test_a_reminder_that_cannot_be_sent_is_said_on_screen_with_exit_4(folders, cli,
                                                                      prefect_api,
                                                                      monkeypatch, tmp_path,
                                                                      free_port):
    import shutil

    source, out = folders
    config = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, config)
    text = (config / "reminders.yaml").read_text(encoding="utf-8")
    text = text.replace("username:", "# username:")
    (config / "reminders.yaml").write_text(
        text.replace("host:", f"host: 127.0.0.1\n  port: {free_port()}\n  # host:", 1)
        .replace("security: starttls", "security: none"), encoding="utf-8")
    output = cli("consolidate", "--source", source, "--out", out, "--no-pdf", "--as-of",
                 "2023-03-28", "--config", config, "--reminders", "send", code=4).output
    said = " ".join(output.split())
    assert "Cần xử lý" in said and "Không gửi được thư nhắc" in said
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    failed = findings[findings.rule == "reminder-failed"]
    assert len(failed) >= 1 and "không kết nối được máy chủ thư" in failed.iloc[0].message


@pytest.mark.slow
def test_as_a_command_a_damaged_history_prints_no_traceback(folders, prefect_server):
    import subprocess
    import sys

    source, out = folders
    (out / "state").mkdir(parents=True)
    (out / "state" / "history.sqlite").write_bytes(b"not a database")
    env = dict(prefect_server, GIAMSAT_PREFECT="auto")
    done = subprocess.run([sys.executable, "-m", "flows", "consolidate", "--source", str(source),
                           "--out", str(out), "--no-pdf", "--config", str(TEST_CONFIG_DIR)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "Cần xử lý" in done.stderr
