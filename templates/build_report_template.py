"""Build the Word template of the consolidated report: `python templates/build_report_template.py`.

Writes `templates/bao-cao.docx` beside this script (Decree 30/2020 layout, docxtpl tags inside).
Re-run it after changing `flows/report/template_builder.py`; office staff may then edit the .docx
in Word or LibreOffice (fonts, spacing, fixed labels) as long as the {{ … }} and {% … %} tags stay.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from flows.outputs.report.template_builder import build_template  # noqa: E402


def main() -> None:
    path = build_template(Path(__file__).with_name("bao-cao.docx"))
    sys.stdout.write(f"Đã tạo mẫu báo cáo: {path}\n")


if __name__ == "__main__":
    main()
