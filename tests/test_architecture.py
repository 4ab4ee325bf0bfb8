"""The rooms of `flows/` and who may import whom, read from the source itself (no imports run).

* `flows.core` is pure: it imports nothing from sources, outputs, the store, notifications,
  the CLI or the Prefect flows at the top of `flows/`, and nothing that opens files or networks.
* Nothing in the product imports `flows.testing` (the emulator, fake clocks, benchmarks): only
  the tests, `python -m flows.bench` and the `giamsat google-emulator` command do.
* Only `flows.sources` touches gspread or openpyxl's readers; only the Prefect flows and the CLI
  import Prefect.
* No import cycles between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "flows"
FLOWS = {"flows.consolidate", "flows.provision", "flows.serve",  # the Prefect flows on top
         "flows.shared_limits", "flows.deploy",  # and the server's limits, the work pool,
         "flows.shards"}  # the read shards over its workers
MAY_IMPORT_TESTING = {"flows.bench", "flows.cli.google"}


def module_name(path: Path) -> str:
    """flows/core/cells.py → flows.core.cells; a package's __init__ → the package."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth (function-level imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            modules = subs & SOURCES  # `from package import submodule` imports the submodule
            found |= subs
            if modules != subs:
                found.add(node.module)
    return found


SOURCES = {module_name(p) for p in ROOT.rglob("*.py")}
MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
GRAPH = {name: imports(path) for name, path in MODULES.items()}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(source: str, *forbidden: str) -> dict[str, list[str]]:
    bad = {}
    for name, deps in GRAPH.items():
        if within(name, source):
            hits = sorted(d for d in deps if any(within(d, f) for f in forbidden))
            if hits:
                bad[name] = hits
    return bad


def test_core_is_pure():
    assert offenders("flows.core", "flows.sources", "flows.outputs", "flows.store",
                     "flows.notify", "flows.cli", "flows.demo", "flows.testing", *FLOWS,
                     "prefect", "gspread", "openpyxl", "sqlalchemy", "requests", "smtplib",
                     "docxtpl", "matplotlib") == {}


def test_config_imports_only_config_and_the_pure_core():
    assert offenders("flows.config", "flows.sources", "flows.outputs", "flows.store",
                     "flows.notify", "flows.cli", "flows.demo", "flows.testing", *FLOWS,
                     "prefect", "gspread", "openpyxl") == {}


def test_nothing_in_the_product_imports_the_testing_package():
    bad = {name: deps for name, deps in offenders("flows", "flows.testing").items()
           if not within(name, "flows.testing") and name not in MAY_IMPORT_TESTING}
    assert bad == {}


@pytest.mark.parametrize("library", ["gspread", "google.oauth2", "openpyxl"])
def test_only_sources_and_outputs_touch_formats_and_google(library):
    allowed = ("flows.sources", "flows.outputs", "flows.testing")
    bad = {name: deps for name, deps in offenders("flows", library).items()
           if not any(within(name, a) for a in allowed)}
    if library != "openpyxl":
        bad = {name: deps for name, deps in bad.items() if not within(name, "flows.outputs")}
    assert bad == {}


def test_only_the_flows_and_the_cli_import_prefect():
    bad = {name: deps for name, deps in offenders("flows", "prefect").items()
           if name not in FLOWS and not within(name, "flows.cli")
           and not within(name, "flows.testing")}
    assert bad == {}


def test_no_import_cycles():
    # Every edge counts, a package re-exporting its submodules too: importing `flows.config`
    # runs `flows/config/__init__.py`, which imports every config module.
    edges = {name: {d for d in deps if d in MODULES and d != name}
             for name, deps in GRAPH.items()}
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for name in sorted(edges):
        visit(name, [])
    assert cycles == []


def test_the_prefect_flows_sit_at_the_top_of_flows():
    for name in FLOWS:
        assert MODULES[name].parent == ROOT
    top = {p.stem for p in ROOT.glob("*.py")}
    assert top == {"__init__", "__main__", "bench", "consolidate", "deploy", "provision",
                   "serve", "shards", "shared_limits"}
