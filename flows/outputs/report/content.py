"""The whole report as data: a pure function of the consolidation, the config and the wording.

No layout here (that is the templates' job) and no fixed wording (that is `bao-cao.yaml`'s).
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from flows.config import Config, ConfigError, nfc
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING
from flows.core.layout import make_key
from flows.core.timeliness import LATE, ON_TIME
from flows.core.vnformat import long_date, percent, short_date
from flows.outputs.report.appendix import build_appendices
from flows.outputs.report.figures import Figures
from flows.outputs.report.model import (
    CAPTION,
    CHART,
    H2,
    TEXT,
    Header,
    Para,
    ReportContent,
    Section,
)
from flows.outputs.report.results import Results, trend_spec, unknown_codes
from flows.outputs.report.wording import Wording

_SENTENCE_END = re.compile(r"\.\s+(?=[A-ZĐÀ-Ỹ])")
# The usual order of unit kinds in "các xã, phường, thị trấn".
KIND_ORDER = ["xã", "phường", "thị trấn", "quận", "huyện", "thị xã", "thành phố"]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def common_words(config: Config, as_of: date) -> dict[str, object]:
    """Names every sentence may use, all taken from the config."""
    region = config.units.region
    kinds = sorted({u.kind for u in config.units.active()}, key=KIND_ORDER.index)
    region_kind = region.name.removesuffix(region.short_name).strip() or region.name
    report = config.plan.report
    issuer_name = report.issuer_name or " ".join(report.header_lines()[1]).capitalize()
    return {
        "units_word": "các " + ", ".join(kinds),
        "region_kind": lower_first(region_kind),
        "region_name": region.name,
        "issuer_name": issuer_name,
        "as_of": long_date(as_of),
        "as_of_short": short_date(as_of),
        "deadline": long_date(config.plan.deadline),
        "plan_name": config.plan.name,
        "first_year": config.form.years[0],
        "title_lower": lower_first(report.title),
    }


def doc_number(config: Config, final: bool, wording: Wording) -> tuple[str, list[str]]:
    """"05/BC-UBND" (numbers below 10 get a leading zero) or "…/BC-UBND" for a draft."""
    report = config.plan.report
    number = report.number.strip() if final else ""
    notes = []
    if final and not number:
        notes.append("Chưa có số báo cáo (plan.yaml: report.number): để “…” cho văn thư điền.")
    if number.isdigit() and int(number) < 10:
        number = f"{int(number):02d}"
    return f"{number or wording.raw('blank_number')}/{report.symbol}", notes


def build_header(config: Config, as_of: date, final: bool, wording: Wording,
                 number: str) -> Header:
    report = config.plan.report
    parent, issuer = report.header_lines()
    recipients = [r if r.startswith("-") else f"- {r}" for r in report.recipients]
    if not any(r.lstrip("- ").startswith("Lưu") for r in recipients):
        recipients.append(f"- {wording.raw('filing')}")
    when = long_date(as_of) if final else str(wording.raw("blank_date"))
    signer = report.signer
    return Header(
        parent_lines=parent, issuer_lines=issuer, number=f"Số: {number}",
        place_date=f"{report.place}, {when}", kind=str(wording.raw("kind")), title=report.title,
        recipients=recipients,
        signer_lines=[line for line in (signer.on_behalf, signer.capacity, signer.title) if line],
        signer_name=signer.name, draft=not final, draft_mark=str(wording.raw("draft_mark")))


# --------------------------------------------------------------------------- section I


def situation(result: Consolidated, fig: Figures, wording: Wording, common: dict,
              chart: bool) -> list[Para]:
    status = result.status
    rep = result.reporting.iloc[0]
    names = fig.names
    on_time = status[status["timeliness"] == ON_TIME]
    late = status[status["timeliness"] == LATE]
    incomplete = status[~status["complete"].astype(bool)]
    paras = [Para(H2, wording.say("headings.reporting", **common)), Para(TEXT, wording.say(
        "situation.summary", complete=int(rep["units_complete"]),
        expected=int(rep["units_expected"]), reporting_rate=percent(rep["reporting_rate"]),
        on_time=int(rep["units_on_time"]), on_time_rate=percent(rep["on_time_rate"]),
        late=int(rep["units_late"]), incomplete=len(incomplete), **common))]
    if len(on_time):
        paras.append(Para(TEXT, wording.say(
            "situation.on_time", count=len(on_time),
            names=", ".join(names[c] for c in on_time["unit_code"]))))
    if len(late):
        paras.append(Para(TEXT, wording.say("situation.late", count=len(late), names=", ".join(
            wording.say("situation.late_unit", unit=names[r.unit_code], days=int(r.days_late))
            for r in late.itertuples()))))
    if len(incomplete):
        no_book = wording.say("situation.no_workbook")
        parts = []
        for r in incomplete.itertuples():
            state = no_book if not r.found else lower_first(str(r.timeliness))
            pct = percent(float(r.completeness)) if r.found and r.started else ""
            parts.append(wording.say("situation.incomplete_unit", unit=names[r.unit_code],
                                     state=state, percent=pct))
        paras.append(Para(TEXT, wording.say("situation.incomplete", count=len(incomplete),
                                            names=", ".join(parts))))
    if chart:
        paras += [Para(CHART, chart="completeness"),
                  Para(CAPTION, wording.say("situation.chart_caption", **common))]
    return paras


def quality(result: Consolidated, fig: Figures, wording: Wording, common: dict,
            appendix: str) -> list[Para]:
    """Section I.2: errors and warnings per unit, with the main problems in their words."""
    paras = [Para(H2, wording.say("headings.quality", **common))]
    status = result.status
    flagged = status[(status["errors"] > 0) | (status["warnings"] > 0)].copy()
    if flagged.empty:
        return paras + [Para(TEXT, wording.say("quality.clean", **common))]
    flagged["order"] = range(len(flagged))
    flagged = flagged.sort_values(["errors", "warnings", "order"], ascending=[False, False, True])
    paras.append(Para(TEXT, wording.say(
        "quality.summary", units=len(flagged), expected=fig.expected,
        errors=int(status["errors"].sum()), warnings=int(status["warnings"].sum()),
        appendix=appendix, **common)))
    findings = result.findings
    serious = findings[findings["severity"].isin([ERROR, WARNING])]
    by_unit = {code: group for code, group in serious.groupby("unit_code", sort=False)}
    limit = int(wording.raw("quality.max_units"))
    examples_max = int(wording.raw("quality.max_examples"))
    length = int(wording.raw("quality.example_length"))
    for r in flagged.head(limit).itertuples():
        group = by_unit.get(r.unit_code)
        examples = [] if group is None else list(dict.fromkeys(
            wording.say("quality.example",
                        indicator=f.indicator if not pd.isna(f.year) else "",
                        message=first_sentence(str(f.message), length))
            for f in group.itertuples()))
        paras.append(Para(TEXT, wording.say(
            "quality.unit", unit=fig.names[r.unit_code], errors=int(r.errors),
            warnings=int(r.warnings), examples="; ".join(examples[:examples_max]))))
    if len(flagged) > limit:
        paras.append(Para(TEXT, wording.say("quality.more", count=len(flagged) - limit,
                                            appendix=appendix)))
    return paras


def first_sentence(message: str, length: int) -> str:
    """The finding's first sentence (the method note after it is for the office), shortened.

    A full stop inside quotes or brackets (“C. Hỗ trợ…”) or a number (1.234) ends nothing."""
    depth, end = 0, len(message)
    for i, ch in enumerate(message):
        if ch in "“(":
            depth += 1
        elif ch in "”)":
            depth -= 1
        elif ch == "." and depth <= 0 and _SENTENCE_END.match(message, i):
            end = i
            break
    sentence = message[:end].strip().rstrip(".")
    return sentence if len(sentence) <= length else sentence[:length - 1].rstrip(" ,;") + "…"


# --------------------------------------------------------------------------- free text


def clean_text(text: str) -> str:
    """A commune's lines ("- a\\n- b;") as one sentence: "a; b."."""
    lines = [line.strip().lstrip("-–•+* ").strip().rstrip(";.").strip()
             for line in nfc(text).replace("\r", "\n").split("\n")]
    joined = "; ".join(line for line in lines if line)
    return f"{joined}." if joined else ""


def free_text(fig: Figures, config: Config, wording: Wording, codes: list[str],
              numbered: bool) -> list[Para]:
    """The communes' own words for some text indicators, one line per unit, attributed."""
    paras: list[Para] = []
    for n, code in enumerate(codes, start=1):
        item = config.form.item(code)
        texts = fig.text_series(make_key(code))
        if numbered:
            paras.append(Para(H2, f"{n}. {item.label}"))
        written = []
        for unit in fig.codes:
            text = clean_text(str(texts.get(unit, "") or ""))
            if text:
                written.append(unit)
                paras.append(Para(TEXT, wording.say("free_text.unit", unit=fig.names[unit],
                                                    text=text)))
        if not written:
            paras.append(Para(TEXT, wording.say("free_text.none")))
        silent = [fig.names[u] for u in fig.codes if u not in written]
        if written and silent:
            paras.append(Para(TEXT, wording.say("free_text.missing", names=", ".join(silent))))
    return paras


def highlights(fig: Figures, config: Config, wording: Wording, common: dict,
               letter: str) -> list[Para]:
    """The communes' notable results, as the last lettered part of section II."""
    paras: list[Para] = []
    for code in config.plan.report.highlights:
        heading = wording.say("headings.highlights", letter=letter,
                              label=config.form.item(code).label, **common)
        paras += [Para(H2, heading)] + free_text(fig, config, wording, [code], numbered=False)
        letter = chr(ord(letter) + 1)
    return paras


# --------------------------------------------------------------------------- the report


def completeness_spec(result: Consolidated, fig: Figures) -> list[dict]:
    status = result.status
    return [{"code": r.unit_code, "name": fig.names[r.unit_code],
             "completeness": float(r.completeness), "state": str(r.timeliness)}
            for r in status.itertuples()]


def build_content(result: Consolidated, config: Config, as_of: date, final: bool,
                  wording: Wording, fig: Figures | None = None) -> ReportContent:
    """Every word and number of the report, ready for the docx, HTML and xlsx writers."""
    unknown = unknown_codes(config)
    if unknown:
        raise ConfigError([f"plan.yaml: report: không có chỉ tiêu {code} trong form.yaml"
                           for code in unknown])
    fig = fig or Figures.build(result, config)
    common = common_words(config, as_of)
    number, notes = doc_number(config, final, wording)
    header = build_header(config, as_of, final, wording, number)
    attached = wording.say("appendix.attached", number=number,
                           date=long_date(as_of) if final else wording.raw("blank_date"),
                           **common)
    appendices, numbers = build_appendices(result, fig, config, wording, common, attached)
    charts: dict[str, object] = {}
    if len(result.status):
        charts["completeness"] = completeness_spec(result, fig)
    trends = trend_spec(fig, config)
    if trends:
        charts["trends"] = trends
    results = Results(fig, config, wording, common)
    result_paras = results.paras(numbers, "trends" in charts)
    used = [p.text[0] for p in result_paras if p.kind == H2 and p.text[:1].isalpha()]
    next_letter = chr(ord(used[-1].lower()) + 1) if used else "a"
    sections = [
        Section(wording.say("headings.situation", **common),
                situation(result, fig, wording, common, "completeness" in charts)
                + quality(result, fig, wording, common, numbers["status"])),
        Section(wording.say("headings.results", **common),
                result_paras + highlights(fig, config, wording, common, next_letter)),
        Section(wording.say("headings.problems", **common),
                free_text(fig, config, wording, config.plan.report.problems,
                          numbered=len(config.plan.report.problems) > 1)),
        Section(wording.say("headings.proposals", **common),
                free_text(fig, config, wording, config.plan.report.proposals,
                          numbered=len(config.plan.report.proposals) > 1)),
    ]
    rep = result.reporting.iloc[0]
    meta = {key: (value.item() if hasattr(value, "item") else value)
            for key, value in rep.items()}
    severities = result.findings["severity"] if len(result.findings) else pd.Series(dtype=str)
    meta.update(errors=int((severities == ERROR).sum()),
                warnings=int((severities == WARNING).sum()),
                as_of_text=short_date(as_of), final=final, number=number)
    return ReportContent(header=header, intro=wording.say("intro", **common), sections=sections,
                         closing=wording.say("closing", **common), appendices=appendices,
                         charts=charts, notes=notes, meta=meta)
