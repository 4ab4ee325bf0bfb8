"""Render `report.html` from `templates/bao-cao.html.j2`: the same content, charts inlined."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from flows.outputs.atomic import write_text
from flows.outputs.report.model import ReportContent, template_context

HTML_TEMPLATE = "bao-cao.html.j2"


def data_uri(path: Path) -> str:
    """A PNG as a data: URI, so the page is one file that can be mailed or archived."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(content: ReportContent, chart_paths: dict[str, Path], template: Path,
                path: Path, number_header: str) -> Path:
    """`template` is the deployment's `bao-cao.html.j2` (or the shipped one)."""
    env = Environment(loader=FileSystemLoader(str(template.parent)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    charts = {key: data_uri(chart) for key, chart in chart_paths.items()}
    html = env.get_template(template.name).render(
        template_context(content, charts, number_header))
    return write_text(path, html)
