"""`limits.yaml`: how much of one file is read, so one bad file never costs the night.

Defaults that a real commune workbook never reaches (the form's template is ~300 rows, 13
columns, 30 KB). A limit hit is an error finding on that workbook; the other units go on.
"""

from __future__ import annotations

from pydantic import Field

from flows.config.base import ConfigModel

LIMITS_FILE = "limits.yaml"


class Limits(ConfigModel):
    max_file_mb: float = Field(default=25, gt=0)  # the file on disk
    max_unpacked_mb: float = Field(default=300, gt=0)  # inside the zip (a "zip bomb")
    rows_beyond_template: int = Field(default=1000, ge=0)  # rows read past the template's last
    columns_beyond_template: int = Field(default=50, ge=0)
    max_cell_chars: int = Field(default=10_000, ge=100)  # one cell's text
    seconds_per_workbook: float = Field(default=60, gt=0)  # reading one file, worst case
    memory_mb: int = Field(default=2048, ge=256)  # of the process reading one file
