"""Write every report file for one consolidation: Word, HTML, appendix workbook, charts, PDF."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flows.config import Config
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING
from flows.core.layout import Layout
from flows.core.vnformat import percent, short_date
from flows.outputs.names import APPENDIX_XLSX as XLSX
from flows.outputs.names import DOCX, HTML, INTERNAL_DOCX, INTERNAL_XLSX, PDF
from flows.outputs.report.appendix_xlsx import write_appendix_xlsx
from flows.outputs.report.charts import render_charts
from flows.outputs.report.content import build_content
from flows.outputs.report.docx import TEMPLATE_FILE, render_docx
from flows.outputs.report.figures import Figures
from flows.outputs.report.html import HTML_TEMPLATE, render_html
from flows.outputs.report.pdf import convert_to_pdf
from flows.outputs.report.template_builder import build_template
from flows.outputs.report.wording import config_wording


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written, and what could not be done (in Vietnamese).

    `docx`, `html`, `xlsx`, `charts`, `pdf` are the published version (small counts of
    sensitive indicators protected), the one the office distributes; `internal_docx` and
    `internal_xlsx` the internal one, with exact numbers, marked not for distribution."""

    docx: Path
    html: Path
    xlsx: Path
    charts: tuple[Path, ...]
    pdf: Path | None
    note: str = ""  # why there is no PDF, or other points for the office; "" when all is well
    final: bool = False
    as_of: date | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    internal_docx: Path | None = None
    internal_xlsx: Path | None = None

    def published(self) -> list[Path]:
        return [self.docx, self.html, self.xlsx, *self.charts] + ([self.pdf] if self.pdf else [])

    def internal(self) -> list[Path]:
        return [p for p in (self.internal_docx, self.internal_xlsx) if p is not None]

    def paths(self) -> list[Path]:
        return self.published() + self.internal()

    def manifest(self) -> dict[str, list[str]]:
        """The file names of each version, for run.json."""
        return {"published": [p.name for p in self.published()],
                "internal": [p.name for p in self.internal()]}


class _Stopwatch:
    """Records how long each stage takes, when the caller (the benchmark) asks for it."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[stage] = now - self.last
        self.last = now


def render_report(result: Consolidated, config: Config, layout: Layout, out_dir: Path,
                  as_of: date, final: bool = False, pdf: bool = True,
                  timings: dict[str, float] | None = None) -> ReportFiles:
    """Write bao-cao.docx, report.html, phu-luc.xlsx, the charts and (with LibreOffice)
    bao-cao.pdf into `out_dir`.

    Draft (`final=False`, the nightly run): number "…/BC-UBND", date "ngày … tháng … năm …"
    and a "DỰ THẢO" mark. Final: the number from plan.yaml and the date of `as_of`. `layout` is
    the form layout every writer receives; the report reads values by key and does not need it.
    """
    del layout  # the values carry their own keys
    clock = _Stopwatch(timings)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wording = config_wording(config)
    exact = Figures.build(result, config)
    fig = exact.protected(config)  # what leaves the office: small counts protected
    clock.lap("protection")
    content = build_content(result, config, as_of, final, wording, fig)
    internal = build_content(result, config, as_of, final, wording, exact)
    clock.lap("content")
    charts = render_charts(content.charts, wording, out_dir)
    clock.lap("charts")
    number_header = str(wording.raw("appendix.number"))
    mark = str(wording.raw("internal.mark"))
    with tempfile.TemporaryDirectory() as tmp:
        template = config.template(TEMPLATE_FILE)
        if not template.is_file():  # a fresh deployment without the committed template
            template = build_template(Path(tmp) / TEMPLATE_FILE)
        docx = render_docx(content, charts, template, out_dir / DOCX, number_header)
        # the internal charts differ only where a published total is marked
        exact_charts = (charts if internal.charts == content.charts
                        else render_charts(internal.charts, wording, Path(tmp)))
        internal_docx = render_docx(internal, exact_charts, template, out_dir / INTERNAL_DOCX,
                                    number_header, internal_mark=mark)
    clock.lap("docx")
    html = render_html(content, charts, config.template(HTML_TEMPLATE), out_dir / HTML,
                       number_header)
    clock.lap("html")
    xlsx = write_appendix_xlsx(out_dir / XLSX, content.appendices, fig)
    internal_xlsx = write_appendix_xlsx(out_dir / INTERNAL_XLSX, internal.appendices, exact,
                                        internal_mark=mark)
    clock.lap("xlsx")
    pdf_path, pdf_note = (convert_to_pdf(docx, out_dir / PDF) if pdf
                          else (None, "Không tạo bản PDF trong lần chạy này."))
    clock.lap("pdf")
    if pdf_path is None:
        (out_dir / PDF).unlink(missing_ok=True)  # never leave last night's PDF looking current
    notes = tuple(content.notes) + ((pdf_note,) if pdf_note else ())
    if not any(item.sensitive for item in config.form.items()):
        notes += ("Biểu mẫu (form.yaml) chưa đánh dấu chỉ tiêu nào “sensitive: true”: báo cáo "
                  "phát hành ghi đủ mọi số nhỏ của từng đơn vị. Đánh dấu các chỉ tiêu về trẻ em "
                  "bị xâm hại, có hoàn cảnh đặc biệt (xem config/form.yaml của chương trình).",)
    if fig.unresolved:  # never seen in a test; said plainly should it ever happen
        notes += (f"Cần xem lại trước khi phát hành: {len(fig.unresolved)} ô số nhỏ trong bảng "
                  "phát hành vẫn có thể tính ngược từ các số tổng (" + ", ".join(
                      f"{unit or 'toàn địa bàn'} {key}" for unit, key in fig.unresolved[:5])
                  + ").",)
    return ReportFiles(docx=docx, html=html, xlsx=xlsx, charts=tuple(charts.values()),
                       pdf=pdf_path, note=" ".join(notes), final=final, as_of=as_of,
                       notes=notes, internal_docx=internal_docx, internal_xlsx=internal_xlsx)


def summary_markdown(result: Consolidated, config: Config, files: ReportFiles) -> str:
    """A short Markdown summary for a Prefect artifact: reporting rate, problems, the files."""
    rep = result.reporting.iloc[0]
    status = result.status
    severity = list(result.findings["severity"]) if len(result.findings) else []
    errors, warnings = severity.count(ERROR), severity.count(WARNING)
    when = short_date(files.as_of) if files.as_of else str(rep.get("as_of", ""))
    kind = "bản chính thức" if files.final else "dự thảo"
    incomplete = [str(n) for n, done in zip(status["unit_name"], status["complete"], strict=True)
                  if not done]
    shown = ", ".join(incomplete[:20]) + (f" và {len(incomplete) - 20} đơn vị khác"
                                          if len(incomplete) > 20 else "")
    lines = [
        f"## Báo cáo tổng hợp ({kind}) — số liệu đến ngày {when}",
        "",
        f"*{config.plan.report.title}*" + (
            f" — **chỉ gồm {len(result.scope.codes)}/{result.scope.total} đơn vị: "
            f"{', '.join(result.scope.codes)}**" if result.scope else ""),
        "",
        "| Chỉ số | Giá trị |",
        "|---|---|",
        f"| Đơn vị phải báo cáo | {int(rep['units_expected'])} |",
        f"| Đã hoàn thành | {int(rep['units_complete'])} ({percent(rep['reporting_rate'])}) |",
        f"| Hoàn thành đúng hạn | {int(rep['units_on_time'])} ({percent(rep['on_time_rate'])}) |",
        f"| Hoàn thành trễ hạn | {int(rep['units_late'])} |",
        f"| Quá hạn chưa hoàn thành | {int(rep['units_overdue'])} |",
        f"| Đang nhập (chưa đến hạn) | {int(rep['units_in_progress'])} |",
        f"| Chưa bắt đầu nhập | {int(rep['units_not_started'])} |",
        f"| Lỗi / cảnh báo trong số liệu | {errors} / {warnings} |",
        "",
    ]
    if incomplete:
        lines += [f"**Chưa hoàn thành ({len(incomplete)}):** {shown}.", ""]
    lines += ["**Tệp báo cáo (bản phát hành, số nhỏ được bảo vệ):**", "",
              f"- Báo cáo (Word): `{files.docx}`",
              f"- Bản xem trên trình duyệt: `{files.html}`",
              f"- Phụ lục (Excel, có công thức tổng): `{files.xlsx}`",
              f"- Bản PDF: `{files.pdf}`" if files.pdf else "- Bản PDF: chưa có"]
    lines += [f"- Biểu đồ: `{path}`" for path in files.charts]
    if files.internal():
        lines += ["", "**Bản nội bộ (số liệu chính xác, không phát hành):**", ""]
        lines += [f"- `{path}`" for path in files.internal()]
    if files.note:
        lines += ["", f"> {files.note}"]
    return "\n".join(lines) + "\n"
