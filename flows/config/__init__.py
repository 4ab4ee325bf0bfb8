"""Typed configuration of one deployment, loaded and checked by one loader (`load_config`).

Every file has its model in this package: `form.yaml` (form), `units.yaml` (units),
`plan.yaml` (plan), `rules.yaml` (rules), `quality.yaml` (quality), `privacy.yaml` (privacy),
`reminders.yaml` (reminders), `google.yaml` (google); `workspace` says where the files are.
"""

from flows.config.base import (
    ConfigError,
    ConfigModel,
    describe_error,
    key_path,
    load_yaml,
    nfc,
    parse_data,
    parse_file,
)
from flows.config.form import (
    NUMERIC_TYPES,
    Block,
    Category,
    Dimension,
    Form,
    Item,
    ListColumn,
    Tab,
)
from flows.config.loader import Config, load_config
from flows.config.plan import Plan, ReportMeta, Signer, Window
from flows.config.quality import Outliers, Quality
from flows.config.units import Region, Unit, Units
from flows.config.workspace import shipped_config

DEFAULT_CONFIG_DIR = shipped_config()

__all__ = [
    "DEFAULT_CONFIG_DIR", "NUMERIC_TYPES", "Block", "Category", "Config", "ConfigError",
    "ConfigModel", "Dimension", "Form", "Item", "ListColumn", "Outliers", "Plan", "Quality",
    "Region", "ReportMeta", "Signer", "Tab", "Unit", "Units", "Window", "describe_error",
    "key_path", "load_config", "load_yaml", "nfc", "parse_data", "parse_file",
]
