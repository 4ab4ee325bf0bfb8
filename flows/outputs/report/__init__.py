"""The consolidated report (Decree 30/2020) with appendices, charts, HTML view and PDF."""

from flows.outputs.report.render import ReportFiles, render_report, summary_markdown

__all__ = ["ReportFiles", "render_report", "summary_markdown"]
