"""Build step of the wheel: ship the repository's config/ and templates/ as the package's defaults.

The repository keeps one copy of the Hương Trà deployment (config/, templates/); a built wheel
carries it as `flows/_defaults/` so that `giamsat init` and every command work without the
source tree. Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("config", "templates")


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads config/ and templates/ in place
            return
        target = Path(self.build_lib) / "flows" / "_defaults"
        for name in SHIPPED:
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(HERE / name, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildWithDefaults})
