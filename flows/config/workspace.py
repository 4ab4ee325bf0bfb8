"""Where a deployment's files are: its config folder, its templates, and the shipped defaults.

A deployment (a district, a province) is a folder holding `config/` and `templates/`. Every
command finds the config folder in this order: `--config DIR`, then `$GIAMSAT_HOME/config`,
then `./config` in the current folder, then the defaults shipped with the package. Templates
are looked up file by file: the deployment's `templates/` beside its config folder first,
then the shipped ones, so an office that rewords only `findings.yaml` keeps the rest.

The shipped defaults are the repository's own `config/` and `templates/` (the Hương Trà
deployment): in a source checkout they are read in place; a built wheel carries a copy made
from them at build time (`flows/_defaults/`, see `setup.py`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HOME_ENV = "GIAMSAT_HOME"
CONFIG = "config"
TEMPLATES = "templates"
_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_root() -> Path:
    """The folder holding the shipped `config/` and `templates/`."""
    built = _PACKAGE / "_defaults"
    if (built / CONFIG).is_dir():
        return built
    return _PACKAGE.parent  # a source checkout: the repository itself


def shipped_config() -> Path:
    return shipped_root() / CONFIG


def shipped_templates() -> Path:
    return shipped_root() / TEMPLATES


def _is_config(folder: Path) -> bool:
    return (folder / "form.yaml").is_file()


def config_dir(explicit: Path | str | None = None) -> Path:
    """The config folder to use (see the module docstring for the order)."""
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser() / CONFIG
    local = Path.cwd() / CONFIG
    if _is_config(local):
        return local
    return shipped_config()


def template_dirs(config_folder: Path) -> tuple[Path, ...]:
    """Where templates are looked up for this config folder: its own, then the shipped ones."""
    own = Path(config_folder).resolve().parent / TEMPLATES
    shipped = shipped_templates().resolve()
    return (own, shipped) if own.is_dir() and own != shipped else (shipped,)


def find_template(dirs: tuple[Path, ...], name: str) -> Path:
    """The first folder's copy of template `name` (the last folder's path when none has it)."""
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    return dirs[-1] / name


WORKSPACE_README = """\
# Thư mục triển khai giamsat

Thư mục này chứa cấu hình và mẫu báo cáo của đơn vị:

- `config/` — biểu mẫu (`form.yaml`), danh sách xã, phường (`units.yaml`), kế hoạch và thời
  hạn (`plan.yaml`), quy tắc kiểm tra (`rules.yaml`), ngưỡng bất thường (`quality.yaml`),
  mẫu tìm thông tin cá nhân trong ô chữ (`privacy.yaml`), thư nhắc (`reminders.yaml`), Google
  Sheets (`google.yaml`).
- `templates/` — mẫu báo cáo Word (`bao-cao.docx`), câu chữ của báo cáo (`bao-cao.yaml`), nội
  dung các thông báo lỗi, cảnh báo (`findings.yaml`).

Sửa các tệp này không cần lập trình. Sau khi sửa, kiểm tra lại bằng lệnh:

    giamsat check-config

Chạy thử với dữ liệu mẫu (trong thư mục này):

    giamsat demo

Mọi lệnh chạy trong thư mục này tự dùng `config/` ở đây; ở nơi khác, đặt biến môi trường
`GIAMSAT_HOME` trỏ tới thư mục này hoặc dùng `--config`.
"""


class WorkspaceExists(Exception):
    """`giamsat init` into a folder that already holds a config or templates folder."""


def init_workspace(target: Path) -> list[Path]:
    """Create a deployment folder from the shipped defaults; never overwrite anything."""
    target = Path(target)
    taken = [target / name for name in (CONFIG, TEMPLATES) if (target / name).exists()]
    if taken:
        raise WorkspaceExists(", ".join(str(p) for p in taken))
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    shutil.copytree(shipped_config(), target / CONFIG, ignore=ignore)
    shutil.copytree(shipped_templates(), target / TEMPLATES, ignore=ignore)
    readme = target / "README.md"
    if not readme.exists():
        readme.write_text(WORKSPACE_README, encoding="utf-8")
    return [target / CONFIG, target / TEMPLATES, readme]
