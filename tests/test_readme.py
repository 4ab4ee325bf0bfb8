"""The README's sections are followed by copying their commands: these tests run them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(marker: str) -> str:
    """The fenced bash block between `<!-- marker -->` and `<!-- /marker -->`."""
    found = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```\s*<!-- /{marker} -->", README,
                      re.DOTALL)
    assert found, f"README has no {marker} block"
    return found.group(1)


def loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RESULTS_TAB = """
import json, sys
from flows.config import load_config
from flows.sources.google.client import open_api
from flows.sources.google.registry import Registry
config = load_config(need=["google"])
registry = Registry.load(config.google.registry)
api = open_api(config.google)
tabs = {code: api.values_batch_get(entry.id, ["'Kết quả kiểm tra'!A1:H60"])[0]
        for code, entry in registry.units.items()}
json.dump(tabs, sys.stdout, ensure_ascii=False)
"""


@pytest.mark.slow
@pytest.mark.longest
def test_the_emulator_section_runs_start_to_finish(tmp_path, prefect_server):
    commands = block("emulator-walkthrough").replace("8765", str(loopback_port()))
    assert commands.rstrip().endswith("kill %1")
    # Before the emulator is stopped, read every unit's results tab back through the API.
    script = commands.replace("kill %1", f"{sys.executable} - > tabs.json <<'EOF'\n"
                              f"{RESULTS_TAB}\nEOF\nkill %1")
    # the walkthrough's runs use the test run's Prefect server (README: "a server that answers")
    env = {k: v for k, v in prefect_server.items() if not k.startswith("GIAMSAT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.Popen(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
    assert run.returncode == 0, output
    ws = tmp_path / "thu-google"
    assert "Mã thư mục “Giám sát”" in output and "tạo mới 9" in output
    out = ws / "ket-qua"
    for name in ("values.csv", "findings.csv", "status.csv", "findings.xlsx", "bao-cao.docx"):
        assert (out / name).is_file(), name
    tabs = json.loads((ws / "tabs.json").read_text(encoding="utf-8"))
    assert len(tabs) == 9
    x01 = [row for row in tabs["X01"] if len(row) > 4]
    assert x01[0][:5] == ["STT", "Trang", "Ô", "Mức độ", "Nội dung"]
    assert any("khác nam + nữ" in row[4] for row in x01[1:])  # the planted C2 break
    assert tabs["P01"][0][0].startswith("KẾT QUẢ KIỂM TRA SỐ LIỆU")
