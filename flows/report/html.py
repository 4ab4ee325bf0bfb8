"""Render `report.html` from `templates/bao-cao.html.j2`: the same content, charts inlined."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from flows.fileio import write_text
from flows.report.model import ReportContent, template_context

HTML_TEMPLATE = "bao-cao.html.j2"


def data_uri(path: Path) -> str:
    """A PNG as a data: URI, so the page is one file that can be mailed or archived."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(content: ReportContent, chart_paths: dict[str, Path], templates: Path,
                path: Path, number_header: str) -> Path:
    env = Environment(loader=FileSystemLoader(str(templates)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    charts = {key: data_uri(chart) for key, chart in chart_paths.items()}
    html = env.get_template(HTML_TEMPLATE).render(template_context(content, charts, number_header))
    return write_text(path, html)
