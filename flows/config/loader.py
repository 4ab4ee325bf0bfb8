"""The one configuration loader: every file of a config folder, checked once, all problems at once.

`load_config` reads form, units, plan, rules, quality, limits, machines, privacy, reminders
and google from the config folder and the report wording from the templates, validates each
against its model, then checks what refers to what (a rule naming an unknown indicator, the
report naming an unknown code, Google settings when Google is needed). Every mistake of every
file is collected into one `ConfigError` — file, key path, what is expected, in Vietnamese —
before any workbook is opened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from flows.config.base import ConfigError, load_yaml, parse_data
from flows.config.catalogue import CATALOGUE_FILE, Catalogue, CatalogueFile, compile_catalogue
from flows.config.form import Form, form_problems
from flows.config.google import (
    CREDENTIALS_ENV,
    ENDPOINT_ENV,
    GoogleSettings,
    credentials_problems,
    folder_problems,
)
from flows.config.limits import LIMITS_FILE, Limits
from flows.config.machines import MACHINES_FILE, Machines
from flows.config.plan import Plan, plan_problems, report_problems
from flows.config.privacy import PRIVACY_FILE, CompiledPrivacy, Privacy, compile_privacy
from flows.config.quality import Quality
from flows.config.reminders import ReminderSettings
from flows.config.rules import RuleFile
from flows.config.units import Units, units_problems
from flows.config.workspace import config_dir, find_template, shipped_config, template_dirs

WORDING_FILE = "bao-cao.yaml"
# What a command may need beyond the always-required files.
NEEDS = frozenset({"google", "provision", "reminders"})


class Config(BaseModel):
    """Everything loaded from one config folder (and the templates beside it)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    directory: Path
    form: Form
    units: Units
    plan: Plan
    quality: Quality = Quality()
    limits: Limits = Limits()
    machines: Machines = Machines()
    rules: Any = None  # flows.core.rules.RuleSet, compiled against the form
    reminders: ReminderSettings | None = None  # None: no reminders.yaml, no reminders
    google: GoogleSettings | None = None  # paths resolved; None without google.yaml
    templates: tuple[Path, ...] = ()
    wording: dict = {}
    catalogue: Catalogue | None = None  # every finding code, with the rules of rules.yaml
    # the personal-data screen of free-text cells (privacy.yaml); None: no screening
    privacy: CompiledPrivacy | None = None

    def template(self, name: str) -> Path:
        """The deployment's copy of a template file, else the shipped one."""
        dirs = self.templates or template_dirs(self.directory)
        return find_template(dirs, name)


class _Collector:
    """Parses files one by one, keeping every problem instead of stopping at the first."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.problems: list[str] = []

    def parse(self, model: type, name: str, required: bool = True) -> Any:
        path = self.folder / name
        if not path.is_file() and not required:
            return None
        return self.attempt(lambda: parse_data(model, load_yaml(path), name))

    def attempt(self, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return None


def _merged(shipped: dict, own: dict) -> dict:
    """The deployment's wording over the shipped one, key by key: a copy made by `giamsat init`
    before an upgrade keeps its edits and gets the sentences added since."""
    merged = dict(shipped)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(shipped.get(key), dict):
            merged[key] = _merged(shipped[key], value)
        else:
            merged[key] = value
    return merged


def _wording(dirs: tuple[Path, ...], collect: _Collector) -> dict:
    path = find_template(dirs, WORDING_FILE)
    data = collect.attempt(lambda: load_yaml(path))
    if data is not None and not isinstance(data, dict):
        collect.problems.append(f"{WORDING_FILE}: cần một nhóm khoá: giá trị")
        return {}
    shipped = find_template(dirs[-1:], WORDING_FILE)
    if shipped != path and shipped.is_file():
        base = collect.attempt(lambda: load_yaml(shipped))
        if isinstance(base, dict):
            return _merged(base, data or {})
    return data or {}


def _catalogue(dirs: tuple[Path, ...], rule_file: RuleFile | None,
               collect: _Collector) -> Catalogue | None:
    path = find_template(dirs, CATALOGUE_FILE)
    data = collect.attempt(lambda: load_yaml(path))
    if data is None:
        return None
    parsed = collect.attempt(lambda: parse_data(CatalogueFile, data, CATALOGUE_FILE))
    compiled = collect.attempt(lambda: compile_catalogue(parsed)) if parsed else None
    if compiled is None:
        return None
    return compiled.with_rules(rule_file.rules if rule_file else [], collect.problems)


def _official_texts(units: Units, plan: Plan, reminders: ReminderSettings | None) -> list[str]:
    """Names of the deployment that are not a child's: units and their addresses, the region,
    the report's issuer and signer, the office's contact line."""
    report = plan.report
    texts = [text for unit in units.units for text in (unit.name, unit.full_name, *unit.emails)]
    texts += units.staff_emails
    texts += [units.region.name, units.region.short_name, units.region.province,
              report.parent_body, report.issuer, report.issuer_name, report.place,
              report.signer.name, *report.parent_lines, *report.issuer_lines]
    if reminders is not None:
        texts += [reminders.from_name, reminders.contact, reminders.from_address,
                  reminders.reply_to, reminders.smtp.username or ""]
    return [t for t in texts if isinstance(t, str) and t.strip()]


def _privacy(folder: Path, units: Units | None, plan: Plan | None,
             reminders: ReminderSettings | None, collect: _Collector) -> CompiledPrivacy | None:
    """The deployment's privacy.yaml, else the shipped one (a folder made before the file
    existed is still screened), compiled with the deployment's official names."""
    if (folder / PRIVACY_FILE).is_file():
        parsed = collect.parse(Privacy, PRIVACY_FILE)
    else:
        shipped = shipped_config() / PRIVACY_FILE
        parsed = collect.attempt(lambda: parse_data(Privacy, load_yaml(shipped), PRIVACY_FILE)) \
            if shipped.is_file() else None
    if parsed is None or units is None or plan is None:
        return None
    return collect.attempt(lambda: compile_privacy(parsed, _official_texts(units, plan,
                                                                           reminders)))


_LOADED: dict[tuple, tuple[float, Config]] = {}
_REUSE_S = 120.0  # a run loads the config in the CLI and again in the flow: once is enough


def _fingerprint(folder: Path, needs: frozenset[str]) -> tuple:
    """What a loaded config depends on: every file of the folder and of its template folders."""
    stamps = []
    for where in (folder, *template_dirs(folder)):
        for path in sorted(where.iterdir()) if where.is_dir() else ():
            if path.is_file():
                info = path.stat()
                stamps.append((str(path), info.st_mtime_ns, info.st_size))
    # the credentials checks read these
    env = tuple(os.environ.get(name, "") for name in (ENDPOINT_ENV, CREDENTIALS_ENV))
    return (str(folder.resolve()), tuple(sorted(needs)), tuple(stamps), env)


def load_config(directory: Path | str | None = None, *, need: Iterable[str] = ()) -> Config:
    """Load and cross-check every file of one config folder (a folder loaded a moment ago
    whose files have not changed since is not parsed again).

    `need` adds what a command requires beyond the always-checked files: ``google`` (the
    Google source: google.yaml and its credentials), ``provision`` (also a real folder id) and
    ``reminders`` (sending reminders: reminders.yaml must exist).

    Raises:
        ConfigError: every problem found, each naming its file and key.
    """
    needs = set(need)
    unknown = needs - NEEDS
    if unknown:
        raise ValueError(f"unknown needs: {sorted(unknown)}")
    folder = config_dir(directory)
    if not folder.is_dir():
        raise ConfigError([f"{folder}: không có thư mục cấu hình này (cần các tệp form.yaml, "
                           "units.yaml, plan.yaml). Tạo một thư mục mới bằng: giamsat init "
                           "<thư mục>."])
    key = _fingerprint(folder, frozenset(needs))
    seen = _LOADED.get(key)
    if seen is not None and time.monotonic() - seen[0] < _REUSE_S:
        return seen[1]
    config = _load(folder, needs)
    _LOADED.clear()  # one folder at a time is what a process uses
    _LOADED[key] = (time.monotonic(), config)
    return config


def _load(folder: Path, needs: set[str]) -> Config:
    from flows.core.ruleset import compile_rules  # the expression parser lives with the checks

    collect = _Collector(folder)
    form: Form | None = collect.parse(Form, "form.yaml")
    units: Units | None = collect.parse(Units, "units.yaml")
    plan: Plan | None = collect.parse(Plan, "plan.yaml")
    quality = collect.parse(Quality, "quality.yaml", required=False) or Quality()
    limits = collect.parse(Limits, LIMITS_FILE, required=False) or Limits()
    machines = collect.parse(Machines, MACHINES_FILE, required=False) or Machines()
    rule_file = collect.parse(RuleFile, "rules.yaml", required=False)
    reminders = collect.parse(ReminderSettings, "reminders.yaml",
                              required="reminders" in needs)
    google = collect.parse(GoogleSettings, "google.yaml",
                           required=bool(needs & {"google", "provision"}))
    if form is not None:
        collect.problems += form_problems(form)
    if units is not None:
        collect.problems += units_problems(units)
    if plan is not None:
        collect.problems += plan_problems(plan)
    rules = None
    if form is not None and plan is not None:
        collect.problems += report_problems(plan, form)
        rules = collect.attempt(lambda: compile_rules(rule_file or RuleFile(), form, plan))
    if google is not None:
        google = google.resolved(folder)
        if needs & {"google", "provision"}:
            collect.problems += credentials_problems(google)
        if "provision" in needs:
            collect.problems += folder_problems(google)
    privacy = _privacy(folder, units, plan, reminders, collect)
    dirs = template_dirs(folder)
    wording = _wording(dirs, collect)
    catalogue = _catalogue(dirs, rule_file, collect)
    if collect.problems:
        raise ConfigError(list(dict.fromkeys(collect.problems)))
    return Config(directory=folder, form=form, units=units, plan=plan, quality=quality,
                  limits=limits, machines=machines, rules=rules, reminders=reminders,
                  google=google, templates=dirs,
                  wording=wording, catalogue=catalogue, privacy=privacy)
