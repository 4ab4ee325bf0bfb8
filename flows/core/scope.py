"""Runs over some units only: which units, out of how many, and when such a run is refused.

A subset run is a working view for the office (one commune's numbers before a call), never the
town's: its outputs say so in their titles and it cannot be the final report.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.config.loader import Config


@dataclass(frozen=True)
class Scope:
    """A run over some units only: which, and out of how many. Its outputs must say so."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    total: int


def restrict(config: Config, units: list[str] | None) -> tuple[Config, Scope | None, list[str]]:
    """A run over a subset of units: the others are neither expected nor reported. Returns the
    restricted config, its scope (None: all units) and the codes not in the registry."""
    if not units:
        return config, None, []
    wanted = list(dict.fromkeys(u.strip().upper() for u in units if u.strip()))
    known = {u.code.upper(): u for u in config.units.units}
    unknown = [code for code in wanted if code not in known]
    chosen = [u for u in config.units.units if u.code.upper() in wanted]
    registry = config.units.model_copy(update={"units": chosen})
    scope = Scope(tuple(u.code for u in chosen if u.active),
                  tuple(u.full_name for u in chosen if u.active), len(config.units.active()))
    return config.model_copy(update={"units": registry}), scope, unknown


def refuse_scope(config: Config, scope: Scope | None, unknown: list[str],
                 final: bool) -> str | None:
    """Why a run over these units cannot start: codes not in the registry, or a final report
    of only some units (the signed report is the town's, never a part of it)."""
    if unknown:
        words = config.catalogue.render("unknown-units", {
            "codes": unknown, "valid": [u.code for u in config.units.units]})
    elif final and scope is not None and len(scope.codes) < scope.total:
        words = config.catalogue.render("final-needs-all-units", {
            "codes": list(scope.codes), "total": scope.total})
    else:
        return None
    return f"{words.message} {words.instruction}"


def subset_title(config: Config, scope: Scope | None) -> str:
    """"chỉ gồm 2/9 đơn vị: P01, X02" for a subset run, "" for a run over every unit."""
    if scope is None:
        return ""
    return config.catalogue.text("subset-title", count=len(scope.codes), total=scope.total,
                                 codes=list(scope.codes))
