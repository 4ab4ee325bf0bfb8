"""Personal data in free-text cells: found at the cell, reported, and withheld from every table.

The form collects counts; its free-text cells (assessments, proposals, document titles) are
where a commune may write what identifies a child: a name, an age, a phone number, an ID, a
house address. Every such cell of the values and lists tables is screened at once with the
patterns of `privacy.yaml` (`flows.config.privacy`): official names are set aside first, then
each pattern runs once over all the texts. Each cell with a hit is one error finding
naming the kinds found, never the text; `withhold` then replaces the cell's text with the
mask in the tables (and in the reading findings that quote it), so what is written from them
never holds it.

The office may decide that such a finding is not an error (`false-positive`): its id is then
in `released`, and the cell's text is used as typed. The answers a commune types in its
results tab (`flows.core.results_tab`) are free text too: one holding personal data is not
taken (`withhold_explanations`), and an error at its row says so, without the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from flows.config.loader import Config
from flows.config.privacy import CompiledPrivacy
from flows.core.a1 import a1
from flows.core.completeness import cell_kind
from flows.core.extract import Extraction
from flows.core.findings import Finding
from flows.core.index import ValueIndex
from flows.core.layout import Layout, make_key

RULE = "personal-data"
EXPLANATION_RULE = "personal-data-explanation"  # an answer typed in the results tab
RULES = (RULE, EXPLANATION_RULE)
_SPACES = re.compile(r"[^\S\n]+")  # runs of spaces and tabs in a line: one space
# Parameters of the reading findings that quote what the commune typed.
QUOTING = ("typed", "found")


def free_text(layout: Layout) -> np.ndarray:
    """Per input cell (plus a trailing 'unknown'): is it free text to screen? Not the unit's
    name and code, nor the reporter's name, position and phone: those are expected."""
    return np.array([cell_kind(c) == "text" and c.role is None for c in layout.inputs]
                    + [False])


def screen(texts: pd.Series, privacy: CompiledPrivacy) -> pd.DataFrame:
    """One boolean column per kind of personal data: which of the texts hold it.

    All texts are searched at once, as one string of lines (no pattern crosses a line): the
    official names are blanked out in place (same length, so every text keeps its place),
    then each pattern runs once over the whole string and its matches fall to their texts.
    """
    cleaned = [_SPACES.sub(" ", text) for text in texts.astype("object").fillna("").astype(str)]
    lines = "\n".join(cleaned)
    for official in privacy.official:
        lines = official.sub(_blank, lines)
    ends = np.cumsum([len(text) + 1 for text in cleaned])
    found = {}
    for kind, patterns in privacy.patterns.items():
        hit = np.zeros(len(cleaned), dtype=bool)
        for pattern in patterns:
            starts = np.fromiter((m.start() for m in pattern.finditer(lines)), dtype=np.int64)
            hit[np.searchsorted(ends, starts, side="right")] = True
        found[kind] = hit
    return pd.DataFrame(found, index=texts.index)


def _blank(match: re.Match) -> str:
    return "#" * len(match.group(0))


def kinds_found(texts: pd.Series, privacy: CompiledPrivacy) -> pd.Series:
    """Per text, the labels of the kinds found in it (empty list when none)."""
    hits = screen(texts, privacy)
    labels = [privacy.labels[k] for k in hits.columns]
    return pd.Series([[label for label, hit in zip(labels, row, strict=True) if hit]
                      for row in hits.to_numpy()], index=texts.index, dtype=object)


def _value_cells(values: pd.DataFrame, layout: Layout, positions: np.ndarray) -> pd.Series:
    """Which rows of the values table are free-text cells."""
    if values.empty:
        return pd.Series(False, index=values.index)
    return pd.Series(free_text(layout)[positions], index=values.index)


def _list_cells(lists: pd.DataFrame, layout: Layout) -> pd.Series:
    """Which rows of the lists table are free-text columns."""
    if lists.empty:
        return pd.Series(False, index=lists.index)
    columns = {(c.indicator, c.list_column) for c, free in zip(layout.inputs, free_text(layout),
                                                                strict=False)
               if free and c.list_row is not None}
    pairs = pd.MultiIndex.from_arrays([lists["list"].astype(str), lists["column"].astype(str)])
    return pd.Series(pairs.isin(list(columns)) if columns else False, index=lists.index)


def _year(value: object) -> int | None:
    return None if pd.isna(value) else int(value)


def personal_data(values: pd.DataFrame, positions: np.ndarray, lists: pd.DataFrame,
                  layout: Layout, privacy: CompiledPrivacy, names: dict[str, str]
                  ) -> tuple[list[Finding], np.ndarray, np.ndarray]:
    """One error finding per free-text cell holding personal data, and which rows of the
    values and the lists tables they are (a boolean array per table, in its row order).

    `positions`: each value row's input position in `layout.inputs` (`ValueIndex.pos`).
    """
    value_kinds = _found(values, _value_cells(values, layout, positions), privacy)
    list_kinds = _found(lists, _list_cells(lists, layout), privacy)
    findings = [
        Finding(RULE, {"kinds": kinds}, unit_code=row.unit_code,
                unit_name=names.get(row.unit_code, ""), sheet=row.sheet, cell=row.cell,
                indicator=row.indicator, breakdown=row.breakdown or "", year=_year(row.year),
                key=make_key(row.indicator, row.breakdown or "", _year(row.year)))
        for row, kinds in zip(values.loc[value_kinds.index].itertuples(), value_kinds,
                              strict=True)]
    findings += [
        Finding(RULE, {"kinds": kinds}, unit_code=row.unit_code,
                unit_name=names.get(row.unit_code, ""), sheet=row.sheet, cell=row.cell,
                indicator=row.list, breakdown=f"{row.row},{row.column}",
                key=make_key(row.list, f"{row.row},{row.column}"))
        for row, kinds in zip(lists.loc[list_kinds.index].itertuples(), list_kinds,
                              strict=True)]
    return findings, values.index.isin(value_kinds.index), lists.index.isin(list_kinds.index)


def _found(table: pd.DataFrame, screened: pd.Series, privacy: CompiledPrivacy) -> pd.Series:
    """The kinds found in the screened rows of a table, for the rows where any was found."""
    kinds = kinds_found(table.loc[screened.to_numpy(), "value"], privacy)
    return kinds[kinds.str.len() > 0]


def withhold(values: pd.DataFrame, lists: pd.DataFrame, findings: list[Finding],
             value_hit: np.ndarray, list_hit: np.ndarray, mask: str
             ) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """The tables with the text of every flagged cell replaced by `mask`, and the findings at
    those cells (a reading finding quoting what was typed: spaces trimmed, Unicode fixed) with
    their quoted value masked too."""
    value_hit, list_hit = np.asarray(value_hit, dtype=bool), np.asarray(list_hit, dtype=bool)
    if value_hit.any():
        values = values.copy()
        values.loc[values.index[value_hit], "value"] = mask
    if list_hit.any():
        lists = lists.copy()
        lists.loc[lists.index[list_hit], "value"] = mask
    flagged = {(f.unit_code, f.key) for f in findings if f.rule == RULE}
    if not flagged:
        return values, lists, findings
    masked = []
    for f in findings:
        if f.rule != RULE and (f.unit_code, f.key) in flagged:
            params = {k: mask if k in QUOTING else v for k, v in f.params.items()}
            f = replace(f, value=mask if f.value else "", params=params)
        masked.append(f)
    return values, lists, masked


def _released_rows(table: pd.DataFrame, hit: np.ndarray, keys: set[tuple[str, str]],
                   key_of) -> np.ndarray:
    """The flagged rows of a table whose cell the office released (its finding is not an
    error): not masked."""
    out = np.zeros(len(table), dtype=bool)
    if not keys:
        return out
    for i in np.flatnonzero(hit):
        row = table.iloc[i]
        out[i] = (str(row["unit_code"]), key_of(row)) in keys
    return out


def withhold_personal_data(index: ValueIndex, lists: pd.DataFrame, findings: list[Finding],
                           config: Config, released: Collection[str] = ()
                           ) -> tuple[ValueIndex, pd.DataFrame, list[Finding]]:
    """The checks' last step: an error at every free-text cell holding personal data, and the
    cell's text masked in the values and lists tables and in the findings quoting it.

    `released`: the ids of the personal-data findings the office marked not an error; their
    finding still fires (its state stays the office's), but the text is used as typed."""
    if config.privacy is None:
        return index, lists, findings
    names = {u.code: u.full_name for u in config.units.units}
    found, in_values, in_lists = personal_data(index.values, index.pos, lists, index.layout,
                                               config.privacy, names)
    if not found:
        return index, lists, findings
    kept = [f for f in found if f.finding_id not in released]
    freed = {(f.unit_code, f.key) for f in found if f.finding_id in released}
    in_values = in_values & ~_released_rows(index.values, in_values, freed, lambda r: make_key(
        r["indicator"], r["breakdown"] or "", _year(r["year"])))
    in_lists = in_lists & ~_released_rows(lists, in_lists, freed, lambda r: make_key(
        r["list"], f"{r['row']},{r['column']}"))
    values, lists, findings = withhold(index.values, lists, findings + kept, in_values,
                                       in_lists, config.privacy.mask)
    return ValueIndex(values, index.layout), lists, findings + [
        f for f in found if f.finding_id in released]


def answer_key(tab: str, row: int) -> str:
    """The stable locator of an answer typed in the results tab (its tab and row)."""
    return f"answer|{tab}|{row}"


def withhold_explanations(chosen: Mapping[str, Extraction], config: Config,
                          released: Collection[str] = ()
                          ) -> tuple[list[Finding], frozenset[tuple[str, str, int]]]:
    """The communes' answers screened like the free-text cells: an error at the row of each
    answer holding personal data (the kinds found, never the text), and those answers as
    (unit, tab, row), which the review must not take. An answer whose finding the office
    marked not an error (`released`) is taken as typed."""
    if config.privacy is None:
        return [], frozenset()
    typed = [(code, answer) for code, extraction in chosen.items()
             for answer in extraction.explanations]
    if not typed:
        return [], frozenset()
    kinds = kinds_found(pd.Series([a.text for _, a in typed], dtype=object), config.privacy)
    names = {u.code: u.full_name for u in config.units.units}
    findings, withheld = [], set()
    for (code, answer), found in zip(typed, kinds, strict=True):
        if not found:
            continue
        finding = Finding(EXPLANATION_RULE, {"kinds": found, "row": answer.row},
                          unit_code=code, unit_name=names.get(code, ""), sheet=answer.tab,
                          cell=a1(answer.row, answer.column) if answer.column else "",
                          key=answer_key(answer.tab, answer.row))
        findings.append(finding)
        if finding.finding_id not in released:
            withheld.add((code, answer.tab, answer.row))
    return findings, frozenset(withheld)
