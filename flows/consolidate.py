"""The Prefect flow `consolidate`: thin wiring of sources → core → store → outputs.

The logic lives in `flows.core`; this module only orders the steps, logs and publishes.
"""

from __future__ import annotations

import errno
import logging
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from sqlalchemy.exc import DBAPIError

from flows.config import Config, ConfigError, load_config
from flows.core.approved import use_approved
from flows.core.audit import completion_dates, late_edit_findings
from flows.core.consolidate import Checked, Consolidated, check, summarise, unit_status
from flows.core.extract import Extraction, extract_workbook
from flows.core.findings import (
    ERROR,
    WARNING,
    Finding,
    append_findings,
    is_lost,
    severity_words,
)
from flows.core.layout import Layout, build_layout
from flows.core.locate import Locator
from flows.core.scope import Scope, refuse_scope, restrict, subset_title
from flows.core.timeliness import as_of_date, end_of_day
from flows.notify import send_reminders
from flows.outputs import names
from flows.outputs.findings_xlsx import write_findings_xlsx
from flows.outputs.private import keep_private
from flows.outputs.report import ReportFiles, render_report, summary_markdown
from flows.outputs.review_xlsx import write_review_xlsx
from flows.outputs.rundirs import (
    freeze,
    new_run_dir,
    output_problem,
    point_latest,
    run_lock,
)
from flows.outputs.tables import write_csv, write_json
from flows.shared_limits import google_limiters, one_run_at_a_time, run_limit_name
from flows.sources.base import Source
from flows.sources.folder import FolderSource
from flows.store.history import History, HistoryUnusable, as_unusable, set_aside
from flows.store.review import released_findings, review_night
from flows.store.review_workbook import take_review_decisions, take_review_workbook


@dataclass
class RunSummary:
    """What a consolidation run produced; printed by the CLI, returned by the flow."""

    out_dir: str
    as_of: str
    units_expected: int
    units_found: int
    units_complete: int
    units_on_time: int
    reporting_rate: float
    errors: int
    warnings: int
    files: list[str]
    lost_units: list[str] = field(default_factory=list)  # could not be read this run
    # what went wrong around the data (the history, a reminder), in words for the office
    trouble: list[str] = field(default_factory=list)
    # the source held no workbook at all (a wrong folder, an empty registry): the message
    empty_source: str = ""
    scope: str = ""  # "chỉ gồm 2/9 đơn vị: P01, X02" for a run over some units only


def _log() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run's logger inside a run; the module's logger when the steps run plainly."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("giamsat")


def make_source(source: str, config: Config, registry: str | None = None,
                shared: bool = False) -> Source:
    """`google` → the Google Sheets source (registry of unit → sheet); otherwise a folder.

    `shared`: a flow run, whose Google budgets are shared on the Prefect server when there is
    one (see flows.shared_limits)."""
    if source == "google":
        from flows.config.google import load_google_settings
        from flows.sources.google.source import GoogleSource

        settings = config.google or load_google_settings(config.directory)
        return GoogleSource(config, registry,
                            limiters=google_limiters(settings) if shared else None)
    return FolderSource(Path(source), config)


def _name(ref: str) -> str:
    return Path(ref).name


@task(cache_policy=NO_CACHE, task_run_name="read-{ref}")
def read_and_extract(source: Source, ref: str, layout: Layout, config: Config) -> Extraction:
    """Read one workbook. Whatever goes wrong stays with this workbook: the run goes on."""
    logger = _log()
    name = _name(ref)
    try:
        raw = source.read(ref)
        extraction = extract_workbook(raw, layout, config.units.by_code())
    except Exception as exc:  # a bug must not cost the other communes their consolidation
        logger.error("Reading %s failed:\n%s", name, traceback.format_exc())
        return Extraction(source=name, findings=[Finding(
            "internal-error", {"source": name, "kind": type(exc).__name__}, source=name,
            key="file")])
    state = "snapshot (unreachable)" if extraction.unreachable else "read"
    logger.info("%s: %s, unit %s, %d values, %d findings", name, state,
                extraction.unit_code or "?", len(extraction.values), len(extraction.findings))
    return extraction


@task(cache_policy=NO_CACHE)
def check_all(extractions: list[Extraction], config: Config, layout: Layout,
              as_of: date, released: frozenset[str] = frozenset()) -> Checked:
    return check(extractions, config, layout, as_of, config.rules, released)


@task(cache_policy=NO_CACHE)
def record_history(checked: Checked, config: Config, as_of: date, state_dir: Path,
                   run_id: str, now: datetime) -> Consolidated:
    """Append tonight's values to the audit history, then summarise with what it shows:
    when each unit really became complete, and values changed after the deadline or after
    the unit declared itself complete."""
    logger = _log()
    status = unit_status(checked.index, checked.chosen, config, as_of)
    values = checked.index.values
    until = end_of_day(as_of, config.plan.tz)  # a replay of a past day knows only its past
    read, problems = _use_history(state_dir, lambda history: (
        history.record(run_id, now, values, status), history.completion_evidence(until=until),
        history.changes(include_initial=False)))
    if read is None:  # no evidence tonight: the typed dates and no late-edit warnings
        logger.error("History unusable: %s", [f.params for f in problems])
        return review_night(summarise(checked, config, as_of, extra=problems), config,
                            state_dir, run_id, now, usable=False)
    written, evidence, changes = read
    locator = Locator(values, checked.index.layout, checked.index)
    names = {u.code: u.full_name for u in config.units.units}
    dates, disagree = completion_dates(
        {u: e.complete_at for u, e in evidence.items()}, status, config.plan.tz,
        {u: e.seen_incomplete_at for u, e in evidence.items()}, locator)
    late = late_edit_findings(changes, evidence, config.plan.deadline, config.plan.tz, names,
                              locator, until=until)
    logger.info("History: %d changed values recorded; %d late edits", written, len(late))
    completion = pd.Series(dates.to_numpy(), index=status["unit_code"])
    return review_night(summarise(checked, config, as_of, completion,
                                  problems + disagree + late), config, state_dir, run_id, now)


def apply_review_workbook(root: Path, config: Config, state_dir: Path,
                          moment: datetime) -> list[Finding]:
    """The decisions the office typed in `<out>/duyet.xlsx` (the review workbook of an earlier
    run, filled in and put back there), applied before tonight's review; the refused ones as
    findings. The logic is `flows.store.review_workbook`'s."""
    return take_review_workbook(root / names.REVIEW_XLSX, config, state_dir, moment)


def approved_numbers(result: Consolidated, config: Config, layout: Layout,
                     state_dir: Path) -> tuple[Consolidated, list[Finding]]:
    """A final run's numbers: every unit that stands approved (or edited after approval) with
    its values as the last run before its last approval read them, from the audit history;
    the others live. A history that cannot be used now leaves every unit live, saying why."""
    if not result.approvals:
        return result, []
    read, problems = _use_history(state_dir, lambda history: {
        unit: history.values_as_of(unit, at) for unit, at in result.approvals.items()})
    if read is None:
        return result, problems
    _log().info("Final: approved numbers of %d units", sum(v is not None for v in read.values()))
    return use_approved(result, read, layout, config.catalogue), problems


def _use_history(state_dir: Path, work) -> tuple[object | None, list[Finding]]:
    """Run `work(history)`; a history that cannot be used is never lost nor silently restarted.

    A damaged or foreign SQLite file is set aside (renamed with the time) and the run goes on
    with a new one, saying so; a locked, read-only or unreachable one is left alone and the
    run goes on without history. Either way a `history-*` finding makes the run end Failed.
    """
    problems: list[Finding] = []
    for _attempt in range(2):
        try:
            with History(folder=state_dir) as history:
                try:
                    return work(history), problems
                except DBAPIError as exc:
                    raise as_unusable(exc) from None
        except OSError as exc:  # the state folder cannot be made or written
            why = HistoryUnusable("cannot-open", exc.strerror or str(exc))
            problems.append(Finding("history-unavailable", {
                "where": str(state_dir), "reason": why.reason, "detail": why.detail},
                key="history"))
            return None, problems
        except HistoryUnusable as why:
            path = History(folder=state_dir).path
            if why.reason in ("damaged", "foreign") and path is not None and path.exists() \
                    and not problems:
                aside = set_aside(path)
                problems.append(Finding("history-set-aside", {
                    "file": str(path), "aside": aside.name, "reason": why.reason,
                    "detail": why.detail}, key="history"))
                continue
            problems.append(Finding("history-unavailable", {
                "where": str(path or "GIAMSAT_HISTORY_URL"), "reason": why.reason,
                "detail": why.detail}, key="history"))
            return None, problems
    return None, problems


@task(cache_policy=NO_CACHE)
def remind(result: Consolidated, config: Config, as_of: date, state_dir: Path,
           mode: str) -> tuple[list[str], list[Finding]]:
    """Today's reminder emails (`send`), or their drafts as .eml files (`dry-run`); the log
    lines and a finding for each reminder that could not go out."""
    if mode == "off":
        return [], []
    names = {u.code: u.full_name for u in config.units.units}
    try:
        sent = send_reminders(result, config, as_of, state_dir, dry_run=mode != "send")
    except ConfigError as exc:  # a reminder problem never costs the night's consolidation
        return ([f"Thư nhắc: {problem}" for problem in exc.problems],
                [Finding("reminder-config", {"problem": problem}, key=f"reminders|{problem}")
                 for problem in exc.problems])
    failed = [Finding("reminder-failed", {"reason": r.status.removeprefix("failed: ")},
                      unit_code=r.unit_code, unit_name=names.get(r.unit_code, ""),
                      key=f"reminder|{as_of.isoformat()}")
              for r in sent if r.status.startswith("failed")]
    return [f"Thư nhắc {r.unit_code} → {', '.join(r.to)}: {r.status}" for r in sent], failed


@task(cache_policy=NO_CACHE)
def write_outputs(result: Consolidated, out_dir: Path, meta: dict, catalogue) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(out_dir / names.VALUES, result.values),
        write_csv(out_dir / names.LISTS, result.lists),
        write_csv(out_dir / names.FINDINGS, severity_words(result.findings, catalogue)),
        write_csv(out_dir / names.STATUS, result.status),
        write_csv(out_dir / names.REPORTING, result.reporting),
        write_findings_xlsx(out_dir / names.FINDINGS_XLSX, result.findings, result.status,
                            catalogue, meta.get("scope", "")),
        write_review_xlsx(out_dir / names.REVIEW_XLSX, result.status, result.findings,
                          catalogue, meta.get("plan", ""), str(meta.get("started", ""))),
        write_json(out_dir / names.RUN_JSON, meta),
    ]
    return [str(path) for path in written]


@task(cache_policy=NO_CACHE)
def write_report(result: Consolidated, config: Config, layout: Layout, out_dir: Path,
                 as_of: date, final: bool, pdf: bool) -> ReportFiles:
    """The Word report, its HTML view, the appendix workbook, charts and (with LibreOffice) PDF."""
    files = render_report(result, config, layout, out_dir, as_of, final=final, pdf=pdf)
    if files.note:
        _log().warning("%s", files.note)
    return files


def publish_artifacts(result: Consolidated, config: Config, files: ReportFiles) -> None:
    """The unit status table and a run summary, under stable keys so the UI keeps history."""
    columns = ["unit_code", "unit_name", "completeness", "timeliness", "days_late", "errors",
               "warnings", "access"]
    table = result.status[columns].astype(object).where(result.status[columns].notna(), "")
    create_table_artifact(table=table.to_dict("records"), key="giamsat-unit-status",
                          description="Tình hình nhập liệu của từng đơn vị")
    create_markdown_artifact(markdown=summary_markdown(result, config, files),
                             key="giamsat-run-summary", description="Tóm tắt lần tổng hợp")


def run_summary(result: Consolidated, out_dir: Path, as_of: date, files: list[str]) -> RunSummary:
    status = result.status
    severities = result.findings["severity"]
    return RunSummary(
        out_dir=str(out_dir), as_of=as_of.isoformat(), units_expected=len(status),
        units_found=int(status["found"].sum()),
        units_complete=int(status["complete"].sum()),
        units_on_time=int(result.reporting["units_on_time"].iloc[0]),
        reporting_rate=float(result.reporting["reporting_rate"].iloc[0]),
        errors=int((severities == ERROR).sum()), warnings=int((severities == WARNING).sum()),
        files=files,
    )


def lost_units(extractions: list[Extraction], chosen: dict[str, Extraction],
               catalogue) -> list[str]:
    """Workbooks this run could not read live (an access or system finding): the unit's code
    when it was that unit's workbook, else the file's name."""
    lost = set()
    for e in extractions:
        if any(is_lost(f, catalogue) for f in e.findings):
            lost.add(e.unit_code if e.unit_code and chosen.get(e.unit_code) is e else e.source)
    return sorted(lost)


def writing_failed(root: Path, exc: OSError) -> str:
    """Why the outputs could not be written, in one Vietnamese sentence."""
    why = {errno.ENOSPC: "ổ đĩa đã đầy", errno.EDQUOT: "hết hạn mức dung lượng",
           errno.EACCES: "không có quyền ghi", errno.EPERM: "không có quyền ghi",
           errno.EROFS: "ổ đĩa chỉ cho đọc"}.get(exc.errno or 0, exc.strerror or str(exc))
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"Không ghi được kết quả vào {root}{where}: {why}. Các tệp kết quả trước đó vẫn "
            "nguyên vẹn; giải phóng dung lượng hoặc cấp quyền ghi rồi chạy lại.")


def trouble(findings: pd.DataFrame) -> list[str]:
    """System problems of the run itself (not of one workbook): the history, the reminders."""
    if findings.empty:
        return []
    mine = findings[(findings["category"] == "system") & (findings["rule"] != "internal-error")]
    return [f"{row.unit_code}: {row.message}" if row.unit_code else str(row.message)
            for row in mine.itertuples()]


def _output_dir(out: Path, dated: bool, final: bool, as_of: date, config: Config,
                scope: Scope | None) -> Path:
    """Where this run writes. A subset run always gets its own folder under `runs/`, named for
    its units, so it never overwrites nor poses as the town's outputs."""
    if final:
        folder = out / "final" / as_of.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    if dated or scope is not None:
        label = f"subset-{'-'.join(scope.codes)}" if scope is not None else ""
        return new_run_dir(out, datetime.now(config.plan.tz), str(flow_run.get_id() or "local"),
                           label)
    return out


class Steps:
    """How the run's steps are called: as Prefect tasks (the flow: each step a task run in the
    UI, the workbooks read by the flow's thread pool) or plainly (`PlainSteps`: the same work
    without Prefect, for simulations of many nights and for measuring Prefect's cost)."""

    # a flow run takes the Prefect server's limits (one run at a time, the Google budgets)
    shared = True

    def prefetch(self, reader: Source, refs: list[str], config: Config,
                 config_dir: str | None, registry: str | None) -> str:
        """Tonight's Google fetches spread over the work pool's workers, when there are many
        (flows.shards); what was done, for the log."""
        if reader.label != "google":
            return ""
        from flows.shards import pull_in_shards

        return pull_in_shards(reader, refs, config, config_dir, registry,
                              str(flow_run.get_id() or "local")).line()

    def read_all(self, reader: Source, refs: list[str], layout: Layout,
                 config: Config) -> list[Extraction]:
        futures = [read_and_extract.submit(quote(reader), ref, quote(layout), quote(config))
                   for ref in refs]
        return [future.result() for future in futures]

    def check(self, extractions, config, layout, as_of, released=frozenset()) -> Checked:
        return check_all(quote(extractions), quote(config), quote(layout), as_of,
                         quote(released))

    def history(self, checked, config, as_of, state, run_id, moment) -> Consolidated:
        return record_history(quote(checked), quote(config), as_of, state, run_id, moment)

    def remind(self, result, config, as_of, state, mode) -> tuple[list[str], list[Finding]]:
        return remind(quote(result), quote(config), as_of, state, mode)

    def outputs(self, result, target, meta, catalogue) -> list[str]:
        return write_outputs(quote(result), target, quote(meta), quote(catalogue))

    def report(self, result, config, layout, target, as_of, final, pdf) -> ReportFiles:
        return write_report(quote(result), quote(config), quote(layout), target, as_of, final,
                            pdf)

    def publish(self, result, config, report) -> None:
        publish_artifacts(result, config, report)


class PlainSteps(Steps):
    """The steps as plain function calls: no task runs, no artifacts, no server limits."""

    shared = False

    def prefetch(self, reader, refs, config, config_dir, registry):
        return ""

    def read_all(self, reader, refs, layout, config):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:  # as the flow's task runner
            return list(pool.map(lambda ref: read_and_extract.fn(reader, ref, layout, config),
                                 refs))

    def check(self, extractions, config, layout, as_of, released=frozenset()):
        return check_all.fn(extractions, config, layout, as_of, released)

    def history(self, checked, config, as_of, state, run_id, moment):
        return record_history.fn(checked, config, as_of, state, run_id, moment)

    def remind(self, result, config, as_of, state, mode):
        return remind.fn(result, config, as_of, state, mode)

    def outputs(self, result, target, meta, catalogue):
        return write_outputs.fn(result, target, meta, catalogue)

    def report(self, result, config, layout, target, as_of, final, pdf):
        return write_report.fn(result, config, layout, target, as_of, final, pdf)

    def publish(self, result, config, report) -> None:
        return None


@dataclass
class Outcome:
    """What a run ended with: its summary (None when refused before reading) and, when it must
    end Failed, why."""

    summary: RunSummary | None
    failure: str = ""


def run_consolidation(
    source: str, out: str, as_of: date | None = None, config_dir: str | None = None,
    registry: str | None = None, units: list[str] | None = None, final: bool = False,
    dated: bool = False, state_dir: str | None = None, reminders: str = "dry-run",
    now: datetime | None = None, pdf: bool = True, steps: Steps | None = None,
) -> Outcome:
    """The whole run (see `consolidate_flow` for the parameters), its steps called by `steps`."""
    steps = steps or PlainSteps()
    logger = _log()
    config, scope, unknown = restrict(load_config(config_dir), units)
    refused = refuse_scope(config, scope, unknown, final)
    if refused:
        logger.error("%s", refused)
        return Outcome(None, refused)
    as_of = as_of or as_of_date(config.plan.tz)
    layout = build_layout(config)
    root = Path(out)
    refused = output_problem(root, Path(source) if source != "google" else None)
    if refused:
        logger.error("%s", refused)
        return Outcome(None, refused)
    with ExitStack() as held:
        if steps.shared:  # one run at a time across machines, then on this output folder
            try:
                held.enter_context(one_run_at_a_time(config, root))
            except TimeoutError:
                words = config.catalogue.render("run-slot-timeout", {
                    "slot": run_limit_name(config, root),
                    "seconds": int(config.machines.run_wait_seconds)})
                message = f"{words.message} {words.instruction}"
                logger.error("%s", message)
                return Outcome(None, message)
        held.enter_context(run_lock(root))
        started = datetime.now(config.plan.tz).isoformat(timespec="microseconds")
        reader = make_source(source, config, registry, steps.shared)
        refs = reader.refs()
        logger.info("Consolidating %d workbooks from %s (as of %s)", len(refs), reader.label,
                    as_of)
        shards = steps.prefetch(reader, refs, config, config_dir, registry)
        if shards:
            logger.info("%s", shards)
        extractions = steps.read_all(reader, refs, layout, config)
        if units:
            expected = {u.code for u in config.units.units}
            extractions = [e for e in extractions if e.unit_code in expected]
        state = Path(state_dir) if state_dir else root / "state"
        moment = now or datetime.now(UTC)
        run_id = str(flow_run.get_id() or f"local-{moment:%Y%m%dT%H%M%S%f}")
        keep_private(state)  # the history and the drafts: the office's account only
        # the office's decisions first, so that a personal-data finding it marked not an error
        # tonight releases its text in tonight's checks
        decided = apply_review_workbook(root, config, state, moment)
        decided += take_review_decisions(reader, config, state, moment)  # Google's dashboard
        checked = steps.check(extractions, config, layout, as_of,
                              released_findings(config, state))
        result = steps.history(checked, config, as_of, state, run_id, moment)
        for line in reader.finish(result, as_of):
            logger.info("%s", line)
        lines, failed = steps.remind(result, config, as_of, state, reminders)
        for line in lines:
            logger.info("%s", line)
        operations = reader.findings() + failed + decided
        if final:  # the official report consolidates each unit's approved numbers
            result, unusable = approved_numbers(result, config, layout, state)
            operations += unusable
        if not refs:  # say it plainly, not with a report of empty tables
            operations.append(Finding("source-empty", {"source": reader.label},
                                      key="source-empty"))
        result = replace(result, scope=scope)
        if operations:
            result = replace(result, findings=append_findings(result.findings, operations,
                                                              config.catalogue))
        meta = {"as_of": as_of.isoformat(), "source": reader.label, "plan": config.plan.name,
                "form": config.form.id,
                "form_version": config.form.version, "workbooks": len(refs),
                "units": list(scope.codes) if scope else "all",
                "scope": subset_title(config, scope), "final": final,
                "flow_run_id": str(flow_run.get_id() or ""),
                "reporting": result.reporting.iloc[0].to_dict(), "started": started,
                "finished": datetime.now(config.plan.tz).isoformat(timespec="microseconds")}
        try:  # every file is written atomically: a failure leaves no half-written output
            target = _output_dir(root, dated, final, as_of, config, scope)
            files = steps.outputs(result, target, meta, config.catalogue)
            report = steps.report(result, config, layout, target, as_of, final, pdf)
            files += [str(path) for path in report.paths()]
            # which report files may leave the office, which are internal (README: Outputs)
            write_json(target / names.RUN_JSON, {**meta, "report_files": report.manifest()})
            if dated and not final and scope is None:  # a subset never replaces the town
                point_latest(root, target)
            if final:
                freeze(target)
        except OSError as exc:
            message = writing_failed(root, exc)
            logger.error("%s", message)
            return Outcome(None, message)
        steps.publish(result, config, report)
        keep_private(state)  # what the run wrote there tonight, too
    summary = run_summary(result, target, as_of, files)
    summary.lost_units = lost_units(extractions, result.chosen, config.catalogue)
    summary.trouble = trouble(result.findings)
    summary.scope = subset_title(config, scope)
    if not refs:
        words = config.catalogue.render("source-empty", {"source": reader.label})
        summary.empty_source = f"{words.message} {words.instruction}"
    logger.info("Done: %d/%d units found, %d errors, %d warnings", summary.units_found,
                summary.units_expected, summary.errors, summary.warnings)
    if summary.lost_units or summary.trouble or summary.empty_source:
        message = " ".join(([summary.empty_source] if summary.empty_source else []) +
            ([f"Không đọc được {len(summary.lost_units)} đơn vị: "
              f"{', '.join(summary.lost_units)}; các đơn vị khác đã được tổng hợp."]
             if summary.lost_units else []) + summary.trouble)
        logger.error("%s", message)
        return Outcome(summary, message)
    return Outcome(summary)


@flow(name="consolidate", task_runner=ThreadPoolTaskRunner(max_workers=4))
def consolidate_flow(
    source: str, out: str, as_of: date | None = None, config_dir: str | None = None,
    registry: str | None = None, units: list[str] | None = None, final: bool = False,
    dated: bool = False, state_dir: str | None = None, reminders: str = "dry-run",
    now: datetime | None = None, pdf: bool = True,
) -> RunSummary:
    """Read every commune workbook (a folder of .xlsx, or `google`), check them all, write the
    consolidated tables.

    `units` limits the run to some unit codes; `final` writes the numbered, dated report into
    `out/final/<as_of>/` and freezes it; `dated` (served runs) writes into `out/runs/<time>/`
    and repoints `out/latest`. The audit history and the reminder log live in `state_dir`
    (default `out/state`); `reminders` is `send`, `dry-run` (drafts as .eml files) or `off`;
    `now` stands in for the clock in simulations; `pdf` asks LibreOffice for a PDF of the
    report when it is installed. A run that could not read some unit ends
    Failed, with every output written for the others.
    """
    outcome = run_consolidation(source, out, as_of, config_dir, registry, units, final, dated,
                                state_dir, reminders, now, pdf, steps=Steps())
    if outcome.failure and outcome.summary is None:  # refused, or nothing could be written
        return Failed(message=outcome.failure)
    if outcome.failure:
        return Failed(message=outcome.failure, data=outcome.summary)
    return outcome.summary
