"""The output tables (values, lists, findings, status, reporting) as CSV files: the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from flows.outputs.atomic import write_atomically, write_text


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """UTF-8 CSV (no BOM), comma-separated, blank for missing: the contract other tools read."""
    return write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8"))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2))
