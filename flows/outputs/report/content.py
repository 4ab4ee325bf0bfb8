"""The whole report as data: a pure function of the consolidation, the config and the wording.

No layout here (that is the templates' job) and no fixed wording (that is `bao-cao.yaml`'s).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from flows.config import Config, ConfigError, nfc
from flows.config.catalogue import Catalogue
from flows.core import review
from flows.core.approved import APPROVED_NUMBERS
from flows.core.consolidate import Consolidated
from flows.core.findings import ERROR, WARNING
from flows.core.layout import make_key
from flows.core.review import finding_parts
from flows.core.scope import Scope
from flows.core.timeliness import IN_PROGRESS, LATE, NOT_STARTED, ON_TIME, OVERDUE
from flows.core.vnformat import long_date, percent, short_date
from flows.outputs.report.appendix import build_appendices
from flows.outputs.report.data_quality import fixed_sentence, kinds, lower_first, serious
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

# The usual order of unit kinds in "các xã, phường, thị trấn".
KIND_ORDER = ["xã", "phường", "thị trấn", "quận", "huyện", "thị xã", "thành phố"]


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
                 number: str, scope: Scope | None = None) -> Header:
    """The header block; a run over some units only says so in the title."""
    report = config.plan.report
    title = report.title if scope is None else wording.say(
        "scope_title", title=report.title, count=len(scope.codes), total=scope.total,
        names=", ".join(scope.names))
    parent, issuer = report.header_lines()
    recipients = [r if r.startswith("-") else f"- {r}" for r in report.recipients]
    if not any(r.lstrip("- ").startswith("Lưu") for r in recipients):
        recipients.append(f"- {wording.raw('filing')}")
    when = long_date(as_of) if final else str(wording.raw("blank_date"))
    signer = report.signer
    return Header(
        parent_lines=parent, issuer_lines=issuer, number=f"Số: {number}",
        place_date=f"{report.place}, {when}", kind=str(wording.raw("kind")), title=title,
        recipients=recipients,
        signer_lines=[line for line in (signer.on_behalf, signer.capacity, signer.title) if line],
        signer_name=signer.name, draft=not final, draft_mark=str(wording.raw("draft_mark")))


# --------------------------------------------------------------------------- section I


STATE_WORDS = {ON_TIME: "on_time", LATE: "late", OVERDUE: "overdue", IN_PROGRESS: "in_progress",
               NOT_STARTED: "not_started"}


def _unit_words(row, name: str, wording: Wording) -> str:
    """One unit in its state's line: how late it finished, or how far it got."""
    if row.timeliness == LATE:
        return wording.say("situation.late_unit", unit=name, days=int(row.days_late))
    if row.timeliness in (OVERDUE, IN_PROGRESS):
        return wording.say("situation.progress_unit", unit=name,
                           percent=percent(float(row.completeness)))
    if row.timeliness == NOT_STARTED:
        filled = float(row.completeness) if row.found else 0.0
        return wording.say("situation.not_started_unit", unit=name, found=bool(row.found),
                           percent=percent(filled) if filled > 0 else "")
    return name


def situation(result: Consolidated, fig: Figures, wording: Wording, common: dict,
              chart: bool, catalogue: Catalogue | None = None, final: bool = False
              ) -> list[Para]:
    """Section I.1: how many units finished, on time or late, and how far each other one got;
    every unit in exactly one line. Then the review: in a draft, the units approved, returned
    or edited after approval; in the final report, whose approved numbers it used and whose
    live ones, and why."""
    status = result.status
    rep = result.reporting.iloc[0]
    names = fig.names
    scope = result.scope
    paras = [Para(H2, wording.say("headings.reporting", **common))]
    if not status["found"].astype(bool).any():
        return paras + [Para(TEXT, wording.say("situation.none_received",
                                               expected=len(status), **common))]
    paras.append(Para(TEXT, wording.say(
        "situation.summary", complete=int(rep["units_complete"]),
        expected=int(rep["units_expected"]), reporting_rate=percent(rep["reporting_rate"]),
        on_time=int(rep["units_on_time"]), on_time_rate=percent(rep["on_time_rate"]),
        late=int(rep["units_late"]), incomplete=int(len(status) - rep["units_complete"]),
        scope=scope is not None, scope_total=scope.total if scope else 0,
        scope_names=", ".join(scope.names) if scope else "", **common)))
    for state, key in STATE_WORDS.items():
        rows = status[status["timeliness"] == state]
        if rows.empty:
            continue
        days = int(rows["days_late"].max()) if state in (OVERDUE, NOT_STARTED) else 0
        paras.append(Para(TEXT, wording.say(
            f"situation.states.{key}", count=len(rows), days=days,
            names=", ".join(_unit_words(r, names[r.unit_code], wording)
                            for r in rows.itertuples()))))
    reviewed = (numbers_lines(status, names, wording, catalogue) if final
                else [review_line(status, names, wording, catalogue)])
    paras += [Para(TEXT, line) for line in reviewed if line]
    if chart:
        paras += [Para(CHART, chart="completeness"),
                  Para(CAPTION, wording.say("situation.chart_caption", **common))]
    return paras


def review_line(status, names: dict[str, str], wording: Wording,
                catalogue: Catalogue | None) -> str:
    """Where the office's review stands: units approved, returned, edited after approval ("" when
    no unit has been reviewed yet, or without the review columns)."""
    if catalogue is None or "review_state" not in status:
        return ""
    parts = []
    for code in (review.APPROVED, review.RETURNED, review.EDITED):
        state = review.word(catalogue, code)
        units = [names[c] for c in status.loc[status["review_state"] == state, "unit_code"]]
        if units:
            parts.append(wording.say("situation.review_part", state=state, count=len(units),
                                     names=", ".join(units)))
    return wording.say("situation.review", parts="; ".join(parts)) if parts else ""


def numbers_lines(status, names: dict[str, str], wording: Wording,
                  catalogue: Catalogue | None) -> list[str]:
    """The final report's word on the numbers it used: the units whose approved numbers
    (with the day of their last approval; edited after it: said so), then the units used as
    they stand now with their review state (returned: with the reason). Without the review
    columns, nothing; when the history could not be used, one line saying every unit is live."""
    if catalogue is None or "numbers_used" not in status:
        return []
    if not status["review_state"].astype(str).ne("").any():
        return [wording.say("situation.final.no_review")]
    approved = catalogue.text(APPROVED_NUMBERS)
    edited, returned = review.word(catalogue, review.EDITED), review.word(catalogue,
                                                                           review.RETURNED)
    used, live = [], []
    for row in status.itertuples():
        name = names[row.unit_code]
        if row.numbers_used == approved:
            day = short_date(datetime.fromisoformat(str(row.approved_at)).date())
            key = "edited_unit" if row.review_state == edited else "approved_unit"
            used.append(wording.say(f"situation.final.{key}", unit=name, date=day))
        else:
            live.append(wording.say("situation.final.live_unit", unit=name,
                                    state=row.review_state,
                                    reason=row.review_note if row.review_state == returned
                                    else ""))
    return [wording.say(f"situation.final.{key}", count=len(units), names="; ".join(units))
            for key, units in (("approved", used), ("live", live)) if units]


def quality(result: Consolidated, fig: Figures, wording: Wording, common: dict,
            appendix: str, catalogue: Catalogue) -> list[Para]:
    """Section I.2, for the People's Committee: one paragraph on how many errors must be fixed
    and warnings reviewed, at which units, of which kinds in plain words (the catalogue's
    categories and check names, never a finding's message); the appendix lists each unit, and
    the cells and how to fix them are in findings.xlsx, for the communes."""
    paras = [Para(H2, wording.say("headings.quality", **common))]
    status = result.status
    # what the office closed (accepted, false positive) is counted apart, not as a problem
    found, explained, closed = finding_parts(serious(result), catalogue)
    found = pd.concat([found, explained]) if len(explained) else found
    errors = int((found["severity"] == ERROR).sum()) if len(found) else 0
    warnings = int((found["severity"] == WARNING).sum()) if len(found) else 0
    decided = " ".join(t for t in (
        wording.say("quality.decided", closed=len(closed), explained=len(explained)),
        fixed_sentence(result, wording)) if t)
    if not errors and not warnings:
        return paras + [Para(TEXT, " ".join(
            t for t in (wording.say("quality.clean", **common), decided) if t))]

    def units(severity: str) -> str:
        having = set(found.loc[found["severity"] == severity, "unit_code"])
        codes = [c for c in status["unit_code"] if c in having]
        named = len(codes) <= int(wording.raw("quality.max_named")) and len(codes) < fig.expected
        return wording.say("quality.units", count=len(codes), expected=fig.expected,
                           names=wording.join([fig.names[c] for c in codes]) if named else "")

    summary = wording.say(
        "quality.summary", errors=errors, warnings=warnings, error_units=units(ERROR),
        warning_units=units(WARNING), error_kinds=kinds(found, ERROR, wording, catalogue),
        warning_kinds=kinds(found, WARNING, wording, catalogue), appendix=appendix, **common)
    return paras + [Para(TEXT, " ".join(t for t in (summary, decided) if t))]


# --------------------------------------------------------------------------- free text


def clean_text(text: str) -> str:
    """A commune's lines ("- a\\n- b;") as one sentence: "a; b."."""
    lines = [line.strip().lstrip("-–•+* ").strip().rstrip(";.").strip()
             for line in nfc(text).replace("\r", "\n").split("\n")]
    joined = "; ".join(line for line in lines if line)
    return f"{joined}." if joined else ""


def free_text(fig: Figures, config: Config, wording: Wording, codes: list[str],
              numbered: bool) -> list[Para]:
    """The communes' own words for some text indicators, one line per unit, attributed.

    A cell withheld for personal data (its text is the mask) is never quoted as a commune's
    words: the part only counts how many were left out, naming no unit."""
    mask = config.privacy.mask if config.privacy is not None else None
    paras: list[Para] = []
    for n, code in enumerate(codes, start=1):
        item = config.form.item(code)
        texts = fig.text_series(make_key(code)).to_dict()
        if numbered:
            paras.append(Para(H2, f"{n}. {item.label}"))
        written, withheld = [], []
        for unit in fig.codes:
            typed = str(texts.get(unit, "") or "")
            if mask is not None and nfc(typed).strip() == mask:
                withheld.append(unit)
                continue
            text = clean_text(typed)
            if text:
                written.append(unit)
                paras.append(Para(TEXT, wording.say("free_text.unit", unit=fig.names[unit],
                                                    text=text)))
        if not written and not withheld:
            paras.append(Para(TEXT, wording.say("free_text.none")))
        if withheld:
            paras.append(Para(TEXT, wording.say("free_text.withheld", count=len(withheld))))
        said = set(written) | set(withheld)
        silent = [fig.names[u] for u in fig.codes if u not in said]
        if (written or withheld) and silent:
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


def _meta(result: Consolidated, as_of: date, final: bool, number: str) -> dict:
    rep = result.reporting.iloc[0]
    meta = {key: (value.item() if hasattr(value, "item") else value)
            for key, value in rep.items()}
    severities = result.findings["severity"] if len(result.findings) else pd.Series(dtype=str)
    meta.update(errors=int((severities == ERROR).sum()),
                warnings=int((severities == WARNING).sum()),
                as_of_text=short_date(as_of), final=final, number=number)
    return meta


def nothing_received(result: Consolidated, config: Config, as_of: date, final: bool,
                     wording: Wording, fig: Figures, header: Header, number: str,
                     notes: list[str]) -> ReportContent:
    """The report when no workbook came in: it says so at the top, and nothing else."""
    common = common_words(config, as_of)
    sections = [
        Section(wording.say("headings.situation", **common),
                situation(result, fig, wording, common, chart=False)),
        Section(wording.say("headings.results", **common),
                [Para(TEXT, wording.say("situation.none_received_rest", **common))]),
    ]
    return ReportContent(header=header, intro=wording.say("intro", **common), sections=sections,
                         closing=wording.say("closing", **common), appendices=[], charts={},
                         notes=notes, meta=_meta(result, as_of, final, number))


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
    header = build_header(config, as_of, final, wording, number, result.scope)
    if not result.status["found"].astype(bool).any():  # one plain sentence, no empty tables
        return nothing_received(result, config, as_of, final, wording, fig, header, number,
                                notes)
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
                situation(result, fig, wording, common, "completeness" in charts,
                          config.catalogue, final)
                + quality(result, fig, wording, common,
                          numbers.get("quality", numbers["status"]), config.catalogue)),
        Section(wording.say("headings.results", **common),
                result_paras + highlights(fig, config, wording, common, next_letter)),
        Section(wording.say("headings.problems", **common),
                free_text(fig, config, wording, config.plan.report.problems,
                          numbered=len(config.plan.report.problems) > 1)),
        Section(wording.say("headings.proposals", **common),
                free_text(fig, config, wording, config.plan.report.proposals,
                          numbered=len(config.plan.report.proposals) > 1)),
    ]
    return ReportContent(header=header, intro=wording.say("intro", **common), sections=sections,
                         closing=wording.say("closing", **common), appendices=appendices,
                         charts=charts, notes=notes, meta=_meta(result, as_of, final, number))
