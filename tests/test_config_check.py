"""One config check before anything is read: a typo in any file stops the run at once, with the
file and the key named in Vietnamese and exit 2, before a single workbook is opened."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.config import DEFAULT_CONFIG_DIR

runner = CliRunner()
TYPOS = [  # (file, text to replace, replacement, what the message must name)
    ("rules.yaml", "    operator:", "    operatr:", "rules.yaml: rules[0].operatr: khoá không "
                                                    "được biết đến"),
    ("reminders.yaml", "offsets:", "offset:", "reminders.yaml: offset: khoá không được biết đến"),
    ("quality.yaml", "  change_pct:", "  change_pc:", "quality.yaml: outliers.change_pc: khoá "
                                                       "không được biết đến"),
    ("google.yaml", "folder_id:", "foldr_id:", "google.yaml: foldr_id: khoá không được biết đến"),
    ("form.yaml", "  - id: TT", "  - idd: TT", "form.yaml: tabs[0].idd: khoá không được biết đến"),
    ("units.yaml", "  - {code: P01", "  - {cod: P01", "units.yaml: units[0].cod: khoá không "
                                                      "được biết đến"),
    ("plan.yaml", "deadline:", "dealine:", "plan.yaml: dealine: khoá không được biết đến"),
]


@pytest.fixture
def trap(tmp_path) -> tuple[Path, Path]:
    """A config copy and a source folder whose only workbook is a FIFO: opening it would hang."""
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    source = tmp_path / "nguon"
    source.mkdir()
    os.mkfifo(source / "P01.xlsx")
    return config, source


def typo(config: Path, name: str, old: str, new: str) -> None:
    path = config / name
    text = path.read_text(encoding="utf-8")
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("name, old, new, named", TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_in_any_config_file_stops_consolidate_before_reading(trap, tmp_path, name, old,
                                                                    new, named):
    config, source = trap
    typo(config, name, old, new)
    out = tmp_path / "ket-qua"
    result = runner.invoke(app, ["consolidate", "--source", str(source), "--out", str(out),
                                 "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "Lỗi cấu hình" in result.output and named in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing written, nothing read: the FIFO was never opened


def test_the_check_takes_seconds_not_a_run(trap, tmp_path):
    config, source = trap
    typo(config, "rules.yaml", "    operator:", "    operatr:")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flows", "consolidate", "--source", str(source),
                           "--out", str(tmp_path / "out"), "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 2 and "rules.yaml: rules[0].operatr" in done.stderr
    # 3 s of the machine's work (CPU time does not grow when other tests load the machine)
    assert cpu < 3.0 and elapsed < 10, f"{cpu:.1f} s CPU, {elapsed:.1f} s"


def test_every_problem_of_every_file_is_listed_at_once(trap):
    config, _ = trap
    typo(config, "plan.yaml", "deadline:", "dealine:")
    typo(config, "reminders.yaml", "offsets: [-7, -3, -1, 1]", "offsets: [-7, ba, -1, 1]")
    typo(config, "quality.yaml", "  z_threshold: 3.5", "  z_threshold: -1")
    result = runner.invoke(app, ["check-config", "--config", str(config)])
    assert result.exit_code == 2
    shown = result.output.replace("\n", " ")
    for named in ("plan.yaml: deadline: thiếu khoá bắt buộc", "plan.yaml: dealine:",
                  "reminders.yaml: offsets[1]: cần một số nguyên (đang ghi: 'ba')",
                  "quality.yaml: outliers.z_threshold:"):
        assert named in shown, named


def test_a_yaml_syntax_error_names_the_line_in_vietnamese(trap):
    config, _ = trap
    path = config / "units.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace(":", "", 1)  # a key without its colon
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["check-config", "--config", str(config)])
    assert result.exit_code == 2
    [line] = [x for x in result.output.splitlines() if "units.yaml" in x]
    assert "units.yaml (dòng" in line and "lỗi cú pháp YAML —" in line and "mapping" not in line


def test_google_settings_are_checked_when_google_is_the_source(trap, tmp_path, monkeypatch):
    config, _ = trap
    monkeypatch.delenv("GIAMSAT_GOOGLE_ENDPOINT", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = runner.invoke(app, ["consolidate", "--source", "google", "--out",
                                 str(tmp_path / "out"), "--config", str(config)])
    assert result.exit_code == 2
    assert "google.yaml: credentials: chưa có tệp khoá Google" in result.output.replace("\n", " ")


def test_provision_with_the_placeholder_folder_says_what_to_do(trap, monkeypatch):
    config, _ = trap
    monkeypatch.setenv("GIAMSAT_GOOGLE_ENDPOINT", "http://127.0.0.1:9")
    result = runner.invoke(app, ["provision", "--config", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    shown = result.output.replace("\n", " ")
    assert "google.yaml: folder_id: vẫn là giá trị mẫu" in shown
    assert "giamsat google-emulator --folder" in shown


def test_sending_reminders_needs_a_reminders_file(trap, tmp_path):
    config, source = trap
    (config / "reminders.yaml").unlink()
    result = runner.invoke(app, ["consolidate", "--source", str(source), "--out",
                                 str(tmp_path / "out"), "--config", str(config),
                                 "--reminders", "send"])
    assert result.exit_code == 2
    assert "reminders.yaml: không tìm thấy tệp cấu hình" in result.output.replace("\n", "")


def test_check_config_says_what_it_checked(trap):
    config, _ = trap
    result = runner.invoke(app, ["check-config", "--config", str(config)])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "Cấu hình hợp lệ" in shown and "37 quy tắc kiểm tra" in shown
