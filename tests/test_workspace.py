"""A deployment folder any district installs: `giamsat init`, where config is found, the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.config import load_config
from flows.config.workspace import HOME_ENV, config_dir, shipped_config, shipped_templates

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_init_copies_the_shipped_config_and_templates_and_writes_a_vietnamese_readme(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    ws = tmp_path / "ws"
    for name in ("form.yaml", "units.yaml", "plan.yaml", "rules.yaml", "quality.yaml",
                 "reminders.yaml", "google.yaml"):
        assert (ws / "config" / name).read_bytes() == (shipped_config() / name).read_bytes()
    for name in ("bao-cao.docx", "bao-cao.yaml", "bao-cao.html.j2", "findings.yaml"):
        assert (ws / "templates" / name).is_file()
    readme = (ws / "README.md").read_text(encoding="utf-8")
    assert "giamsat check-config" in readme and "GIAMSAT_HOME" in readme
    again = runner.invoke(app, ["init", str(ws)])
    assert again.exit_code == 2 and "không ghi đè" in again.output


def test_config_is_found_by_option_then_home_then_the_current_folder_then_shipped(
        tmp_path, monkeypatch):
    runner.invoke(app, ["init", str(tmp_path / "ws")])
    ws = tmp_path / "ws"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.chdir(elsewhere)
    assert config_dir() == shipped_config()
    monkeypatch.chdir(ws)
    assert config_dir().resolve() == (ws / "config").resolve()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv(HOME_ENV, str(ws))
    assert config_dir() == ws / "config"
    assert config_dir(elsewhere / "x") == elsewhere / "x"


def test_a_deployment_rewords_one_template_and_keeps_the_shipped_others(tmp_path):
    runner.invoke(app, ["init", str(tmp_path / "ws")])
    templates = tmp_path / "ws" / "templates"
    (templates / "bao-cao.html.j2").unlink()
    config = load_config(tmp_path / "ws" / "config")
    assert config.template("findings.yaml") == templates / "findings.yaml"
    assert config.template("bao-cao.html.j2") == shipped_templates() / "bao-cao.html.j2"


def test_a_wording_copied_before_an_upgrade_keeps_its_edits_and_gets_the_new_sentences(
        tmp_path):
    """A deployment's bao-cao.yaml made by an older `giamsat init` lacks sentences added since:
    the report takes those from the shipped wording instead of stopping."""
    import yaml

    runner.invoke(app, ["init", str(tmp_path / "ws")])
    path = tmp_path / "ws" / "templates" / "bao-cao.yaml"
    own = yaml.safe_load(path.read_text(encoding="utf-8"))
    own["kind"] = "BÁO CÁO NHANH"
    del own["situation"]["states"]  # a sentence this copy never had
    path.write_text(yaml.safe_dump(own, allow_unicode=True), encoding="utf-8")
    wording = load_config(tmp_path / "ws" / "config").wording
    assert wording["kind"] == "BÁO CÁO NHANH"
    assert wording["situation"]["states"]["late"].startswith("- Hoàn thành trễ hạn")


def test_check_config_in_a_new_workspace(tmp_path, monkeypatch):
    runner.invoke(app, ["init", str(tmp_path / "ws")])
    monkeypatch.chdir(tmp_path / "ws")
    monkeypatch.delenv(HOME_ENV, raising=False)
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 0 and "Cấu hình hợp lệ" in result.output


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of this checkout (setuptools of the test
    environment). A copy: a build writes build/ and *.egg-info into its tree, and two test
    processes building at once in the checkout itself break each other's build."""
    out = tmp_path_factory.mktemp("dist")
    tree = tmp_path_factory.mktemp("tree") / "giamsat"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", "tests"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "--quiet", "-w", str(out), str(tree)],
                           timeout=300, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    [built] = out.glob("giamsat-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_ships_the_defaults_and_not_the_testing_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "flows/_defaults/config/form.yaml" in names
    assert "flows/_defaults/templates/findings.yaml" in names
    assert not [n for n in names if n.startswith("flows/testing/")]


@pytest.mark.slow
def test_a_wheel_install_outside_the_source_tree_runs_init_and_the_demo(wheel, tmp_path):
    """A fresh venv holding only the wheel; its dependencies are borrowed from this test
    environment's site-packages (offline), never this checkout's source."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    # The dependencies, as a plain path (no .pth of this environment runs: no editable finder).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    # A pure wheel is a zip of site-packages content. (pip install --prefix from this
    # environment would first uninstall the editable giamsat of this environment.)
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIAMSAT_", "PYTHON"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    where = subprocess.run([str(python), "-c", "import flows, importlib.util; print(flows."
                            "__file__); print(importlib.util.find_spec('flows.testing'))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert str(site) in where.stdout and "None" in where.stdout  # the wheel, no emulator
    giamsat = [str(python), "-m", "flows"]
    subprocess.run([*giamsat, "init", "ws"], cwd=tmp_path, env=env, check=True, timeout=60,
                   capture_output=True)
    demo = subprocess.run([*giamsat, "demo", "--no-pdf"], cwd=tmp_path / "ws", env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = tmp_path / "ws" / "demo" / "ket-qua"
    for name in ("values.csv", "findings.csv", "status.csv", "bao-cao.docx", "findings.xlsx"):
        assert (out / name).is_file(), name
    emulator = subprocess.run([*giamsat, "google-emulator", "--port", "1"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)
    assert emulator.returncode == 2 and "chỉ đi kèm mã nguồn" in emulator.stderr
