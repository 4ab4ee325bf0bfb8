"""Small counts protected in what leaves the office (issue 13, item 3).

First `flows.core.suppression` on small hand-made tables. Then the demo's report as the office
distributes it, read back from the files (phu-luc.xlsx, the tables of bao-cao.docx): no count of
a sensitive indicator from 1 to the threshold is visible, and a linear programme over everything
published — every cell and total of every table, the form's rules — pins none of the hidden
cells to one value; the internal version holds exactly the numbers of values.csv and says on
every page and every sheet that it is not for distribution.

The linear programme here (scipy's HiGHS) is written apart from the one in the product, and
from the published files only: a cell no table shows is unknown (at least 0), "<5" is 1 to the
threshold, "x" at least 1 — at least threshold + 1 for a unit's count of a sensitive indicator
that is not small, as a reader who knows the method could tell.
"""

from __future__ import annotations

import math
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from docx import Document
from openpyxl import load_workbook
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from flows.config import ConfigError, parse_data
from flows.config.privacy import Privacy, SmallCounts
from flows.core.consolidate import consolidate
from flows.core.extract import extract_workbook
from flows.core.layout import make_key
from flows.core.suppression import (
    HIDDEN,
    SMALL,
    TOWN,
    Relation,
    key_indicator,
    key_year,
    linear_relations,
    protect,
)
from flows.demo import DEMO_AS_OF, build_workspace
from flows.outputs.report import render_report
from flows.outputs.report.appendix_xlsx import DATA_SHEET
from flows.outputs.report.content import build_content
from flows.outputs.report.figures import Figures
from flows.outputs.report.model import CATEGORY, COVERAGE, TOTAL, UNIT
from flows.outputs.report.wording import config_wording
from flows.outputs.tables import write_csv
from flows.sources.xlsx import read_workbook

THRESHOLD = 4
MARK = "Tài liệu nội bộ — không phát hành"


# --------------------------------------------------------------------------- the reader's LP


def instances(truth: dict[tuple[str, str], float], relations: dict[int, list[Relation]],
              units: list[str]) -> list[tuple[list[tuple[tuple[str, str], float]], str, float]]:
    """Every relation a reader knows, for each unit and the town, where it holds on the true
    numbers (a blank is left out), and town = Σ units for every key."""
    out = []
    for year_relations in relations.values():
        for relation in year_relations:
            for unit in [*units, TOWN]:
                terms = [((unit, k), c) for k, c in zip(relation.keys, relation.coefs,
                                                         strict=True) if (unit, k) in truth]
                if not terms:
                    continue
                lhs = sum(c * truth[cell] for cell, c in terms)
                if (abs(lhs - relation.const) < 1e-6 if relation.op == "=="
                        else lhs <= relation.const + 1e-6):
                    out.append((terms, relation.op, relation.const))
    for _, key in [cell for cell in truth if cell[0] == TOWN]:
        parts = [((u, key), -1.0) for u in units if (u, key) in truth]
        out.append(([((TOWN, key), 1.0), *parts], "==", 0.0))
    return out


def pinned(truth: dict[tuple[str, str], float], shown: dict[tuple[str, str], object],
           relations: dict[int, list[Relation]], units: list[str], sensitive: set[str],
           threshold: int = THRESHOLD, small: str = "<5", hidden: str = "x"
           ) -> list[tuple[tuple[str, str], float, float]]:
    """The cells a reader pins to one whole number from what is shown (a number, a mark, or
    nothing): each marked cell and each unshown small sensitive count, min and max by LP."""
    unknown = [cell for cell in truth if not isinstance(shown.get(cell), int | float)]
    index = {cell: i for i, cell in enumerate(unknown)}
    bounds = []
    for cell in unknown:
        mark, value = shown.get(cell), truth[cell]
        unit_count = cell[0] != TOWN and key_indicator(cell[1]) in sensitive
        if mark == small:
            assert 1 <= value <= threshold, (cell, value)
            bounds.append((1, threshold))
        elif mark == hidden:
            assert value >= 1, (cell, value)  # zero is never hidden
            bounds.append((threshold + 1 if unit_count and value > threshold else 1, None))
        else:
            assert mark is None, (cell, mark)
            bounds.append((0, None))
    rows = {"==": ([], []), "<=": ([], [])}
    for terms, op, const in instances(truth, relations, units):
        row, rhs = {}, const
        for cell, c in terms:
            if cell in index:
                row[index[cell]] = row.get(index[cell], 0.0) + c
            else:
                rhs -= c * shown[cell]
        if row:
            rows[op][0].append(row)
            rows[op][1].append(rhs)

    def matrix(entries):
        if not entries:
            return None
        data = [(i, j, c) for i, row in enumerate(entries) for j, c in row.items()]
        i, j, c = zip(*data, strict=True)
        return coo_matrix((c, (i, j)), shape=(len(entries), len(unknown))).tocsr()

    a_eq, a_ub = matrix(rows["=="][0]), matrix(rows["<="][0])
    b_eq, b_ub = rows["=="][1] or None, rows["<="][1] or None
    interesting = [cell for cell in unknown if cell in shown or (
        cell[0] != TOWN and key_indicator(cell[1]) in sensitive
        and 1 <= truth[cell] <= threshold)]
    # Feasible points first: a cell seen at two whole numbers in them is not pinned (its min
    # is at most the lower, its max at least the higher), so only the others need their own
    # min and max. The probes cap every cell (a point under a cap is still a point), so that
    # none is unbounded.
    low = np.full(len(unknown), np.inf)
    high = np.full(len(unknown), -np.inf)
    cap = 2 * max(truth.values(), default=0) + 10
    capped = [(lo, cap if hi is None else hi) for lo, hi in bounds]
    rng = np.random.default_rng(1)
    for _ in range(6):
        direction = rng.normal(size=len(unknown))
        for sign in (1.0, -1.0):
            point = linprog(sign * direction, A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
                            bounds=capped, method="highs")
            if point.status == 0:
                np.minimum(low, point.x, out=low)
                np.maximum(high, point.x, out=high)
    apart = np.ceil(low - 1e-6) < np.floor(high + 1e-6)
    found = []
    for cell in interesting:
        if apart[index[cell]]:
            continue
        objective = np.zeros(len(unknown))
        objective[index[cell]] = 1.0
        ends = []
        for sign in (1.0, -1.0):
            result = linprog(sign * objective, A_eq=a_eq, b_eq=b_eq, A_ub=a_ub, b_ub=b_ub,
                             bounds=bounds, method="highs")
            assert result.status in (0, 3), (cell, result.message)  # the truth is feasible
            ends.append(sign * result.fun if result.status == 0 else -sign * math.inf)
        low, high = ends
        if math.isfinite(high) and math.ceil(low - 1e-6) >= math.floor(high + 1e-6):
            found.append((cell, low, high))
    return found


# --------------------------------------------------------------------------- hand-made tables

SEX = ["X|tong|2022", "X|nam|2022", "X|nu|2022"]
BY_SEX = {2022: [Relation(tuple(SEX), (1.0, -1.0, -1.0), "==", 0.0, "nam-nu")]}


def table(rows: dict[str, list[float]], keys: list[str] = SEX) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=keys, dtype=float)


def truth_of(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    truth = {(u, k): float(v) for (u, k), v in frame.stack().items() if v == v}
    for key in frame.columns:
        if frame[key].notna().any():
            truth[(TOWN, key)] = float(frame[key].sum())
    return truth


def shown_of(frame: pd.DataFrame, protection) -> dict[tuple[str, str], object]:
    """Every cell and town total shown: its number, or its mark."""
    states = protection.states()
    return {cell: ({SMALL: "<5", HIDDEN: "x"}[states[cell]] if cell in states else value)
            for cell, value in truth_of(frame).items()}


def check(frame: pd.DataFrame, relations=BY_SEX, sensitive=frozenset({"X"})):
    protection = protect(frame, sensitive, relations, THRESHOLD)
    shown = shown_of(frame, protection)
    assert pinned(truth_of(frame), shown, relations, list(frame.index), set(sensitive)) == []
    assert protection.unresolved == ()
    return protection.states()


def test_the_readers_check_finds_a_count_given_away_by_its_row_or_the_town_total():
    """The check the other tests rely on: "<5" alone in a row of a sum is found (10 − 7), and
    so is an "x" the town total gives away; with both members of the row marked, neither."""
    frame = table({"A": [10, 3, 7], "B": [20, 10, 10]})
    truth = truth_of(frame)
    alone = {**truth, ("A", SEX[1]): "<5"}
    assert pinned(truth, alone, BY_SEX, ["A", "B"], {"X"}) == [(("A", SEX[1]), 3.0, 3.0)]
    by_town = {**truth, ("B", SEX[0]): "x"}
    assert pinned(truth, by_town, BY_SEX, ["A", "B"], {"X"}) == [(("B", SEX[0]), 20.0, 20.0)]
    both = {**truth, ("A", SEX[1]): "<5", ("A", SEX[2]): "x", ("B", SEX[1]): "x",
            ("B", SEX[2]): "x"}
    assert pinned(truth, both, BY_SEX, ["A", "B"], {"X"}) == []


def test_one_small_cell_in_a_row_takes_the_smallest_other_one_with_it():
    frame = table({"A": [9, 2, 7], "B": [20, 10, 10], "C": [15, 8, 7]})
    states = check(frame)
    assert states[("A", "X|nam|2022")] == SMALL
    assert states[("A", "X|nu|2022")] == HIDDEN  # 7, not the row's total 9
    assert ("A", "X|tong|2022") not in states
    # the columns nam and nu then have one hidden cell each: a second unit's goes too, and
    # the town totals stay exact
    for key in ("X|nam|2022", "X|nu|2022"):
        assert sum(states.get((u, key)) is not None for u in "ABC") >= 2
    assert not any(unit == TOWN for unit, _ in states)


def test_a_column_with_one_small_cell_hides_the_smallest_other_unit_not_the_total():
    frame = table({"A": [3], "B": [10], "C": [12], "D": [0]}, ["Y||2022"])
    states = check(frame, relations={}, sensitive=frozenset({"Y"}))
    assert states == {("A", "Y||2022"): SMALL, ("B", "Y||2022"): HIDDEN}


def test_zero_is_never_hidden_and_a_row_of_zeros_is_untouched():
    frame = table({"A": [0, 0, 0], "B": [9, 2, 7], "C": [20, 10, 10], "D": [12, 6, 6],
                   "E": [np.nan, np.nan, np.nan]})
    states = check(frame)
    assert not any(unit in "AE" for unit, _ in states)
    assert all(truth_of(frame)[cell] > 0 for cell in states)


def test_a_town_total_that_would_give_a_unit_away_is_hidden():
    # one unit has the only case: the town's total is that unit's number
    frame = table({"A": [2], "B": [0], "C": [0]}, ["Y||2022"])
    assert check(frame, relations={}, sensitive=frozenset({"Y"})) == {
        ("A", "Y||2022"): SMALL, (TOWN, "Y||2022"): HIDDEN}
    # three units with 1 each and a town total of 3: each "<5" is at least 1, so each is 1
    frame = table({"A": [1], "B": [1], "C": [1], "D": [20]}, ["Y||2022"])
    states = check(frame, relations={}, sensitive=frozenset({"Y"}))
    assert (TOWN, "Y||2022") in states or ("D", "Y||2022") in states


def test_a_total_of_small_parts_each_at_least_one_is_shown_as_x():
    # 4 = 1 + 1 + 1 + 1: with the total shown "<5" (at most 4), every part would be 1
    keys = ["Z|tong|2022", "Z|a|2022", "Z|b|2022", "Z|c|2022", "Z|d|2022"]
    relations = {2022: [Relation(tuple(keys), (1.0, -1.0, -1.0, -1.0, -1.0), "==")]}
    frame = table({"A": [4, 1, 1, 1, 1], "B": [30, 6, 8, 7, 9], "C": [25, 5, 5, 7, 8]}, keys)
    states = check(frame, relations=relations, sensitive=frozenset({"Z"}))
    assert states[("A", "Z|tong|2022")] == HIDDEN


def test_another_indicator_tied_by_a_rule_is_hidden_where_it_gives_a_small_count_away():
    # Y ≥ X (children assessed ≥ children abused): Y = 1 shown makes the "<5" of X exactly 1
    relations = {2022: [Relation(("X||2022", "Y||2022"), (1.0, -1.0), "<=", 0.0, "y-ge-x")]}
    frame = table({"A": [1, 1], "B": [9, 12], "C": [7, 9]}, ["X||2022", "Y||2022"])
    states = check(frame, relations=relations, sensitive=frozenset({"X"}))
    assert states[("A", "X||2022")] == SMALL
    assert ("A", "Y||2022") in states  # not sensitive itself, hidden to protect X


@pytest.mark.slow
def test_random_tables_leave_nothing_a_reader_can_pin(shipped_config):
    """Tables shaped like C4 (form × sex), C3 (cases by form) and C5 (age groups), tied as
    the shipped rules tie them, with many small counts: the LP above pins nothing."""
    sensitive = {"C3", "C4", "C5"}
    relations = linear_relations(shipped_config.rules, sensitive)
    dimensions = shipped_config.form.dimensions
    forms = [c.code for c in dimensions["hinh_thuc"].categories if not c.total]
    ages = [c.code for c in dimensions["nhom_tuoi"].categories if not c.total]
    for seed in range(6):
        rng = np.random.default_rng(seed)
        rows = {}
        for u in range(int(rng.integers(3, 7))):
            row, totals = {}, {"nam": 0, "nu": 0}
            for f in forms:
                for s in ("nam", "nu"):
                    row[f"C4|{f},{s}|2022"] = v = int(rng.poisson(0.7) if rng.random() < .5 else 0)
                    totals[s] += v
                row[f"C4|{f},tong|2022"] = row[f"C4|{f},nam|2022"] + row[f"C4|{f},nu|2022"]
                row[f"C3|{f}|2022"] = min(row[f"C4|{f},tong|2022"], int(rng.integers(0, 2)))
            for s, v in totals.items():
                row[f"C4|tong,{s}|2022"] = v
            row["C4|tong,tong|2022"] = tt = totals["nam"] + totals["nu"]
            row["C3|tong|2022"] = sum(row[f"C3|{f}|2022"] for f in forms)
            for a, v in zip(ages, rng.multinomial(tt, [1 / len(ages)] * len(ages)), strict=True):
                row[f"C5|{a}|2022"] = int(v)
            row["C5|tong|2022"] = tt
            rows[f"U{u}"] = row
        frame = pd.DataFrame(rows).T.astype(float)
        check(frame, relations={2022: relations[2022]}, sensitive=frozenset(sensitive))


def test_the_rules_a_reader_knows(shipped_config):
    relations = linear_relations(shipped_config.rules, {"C1", "C3", "C4", "C5"})[2022]
    forms = {(r.rule, tuple(zip(r.keys, r.coefs, strict=True)), r.op) for r in relations}
    assert ("c4-nam-nu", (("C4|tinh_duc,tong|2022", 1.0), ("C4|tinh_duc,nam|2022", -1.0),
                          ("C4|tinh_duc,nu|2022", -1.0)), "==") in forms
    # tong ≥ max(groups): one "≤" per group; the rule with a `when` is left out
    assert ("c1-tong-ge-nhom-lon-nhat", (("C1|a,nam|2022", 1.0), ("C1|tong,nam|2022", -1.0)),
            "<=") in forms
    # C5's total is C4's: a reader can move between the two tables
    assert ("c5-bang-c4", (("C5|tong|2022", 1.0), ("C4|tong,tong|2022", -1.0)), "==") in forms
    assert not any(r.rule == "c3-co-tre-co-vu" for r in relations)
    assert all(any(key_indicator(k) in {"C1", "C3", "C4", "C5"} for k in r.keys)
               for r in relations)
    assert all(key_year(k) == 2022 for r in relations for k in r.keys)


def test_the_threshold_and_marks_are_config_and_checked_in_vietnamese(test_config):
    assert test_config.privacy.small_counts == SmallCounts(threshold=4, shown_as="<5",
                                                           hidden_as="x")
    base = {"mask": "[ẩn]", "kinds": {"name": "họ tên"}, "patterns": {"name": ["X"]}}
    for wrong, words in (({"threshold": 1}, "threshold"), ({"shown_as": "5"}, "con số"),
                         ({"shown_as": "x"}, "phải khác nhau")):
        with pytest.raises(ConfigError) as error:
            parse_data(Privacy, {**base, "small_counts": wrong}, "privacy.yaml")
        assert words in str(error.value) and "small_counts" in str(error.value)
    sensitive = {i.code for i in test_config.form.items() if i.sensitive}
    assert sensitive == {"C1", "C3", "C4", "C5"}


# --------------------------------------------------------------------------- the demo's report


@pytest.fixture(scope="module")
def demo(shipped_config, shipped_layout, tmp_path_factory):
    root = tmp_path_factory.mktemp("suppression")
    build_workspace(shipped_config, root / "demo")
    units = shipped_config.units.by_code()
    extractions = [extract_workbook(read_workbook(path), shipped_layout, units)
                   for path in sorted((root / "demo" / "nguon").glob("*.xlsx"))]
    result = consolidate(extractions, shipped_config, shipped_layout, DEMO_AS_OF,
                         shipped_config.rules)
    out = root / "ket-qua"
    files = render_report(result, shipped_config, shipped_layout, out, DEMO_AS_OF, pdf=False)
    write_csv(out / "values.csv", result.values)
    exact = Figures.build(result, shipped_config)
    wording = config_wording(shipped_config)
    published = build_content(result, shipped_config, DEMO_AS_OF, False, wording,
                              exact.protected(shipped_config))
    internal = build_content(result, shipped_config, DEMO_AS_OF, False, wording, exact)
    return {"result": result, "files": files, "exact": exact, "published": published,
            "internal": internal, "out": out}


def read_vn(text: str) -> object:
    """A table cell as shown: a number, a mark, or None when blank."""
    text = text.strip().removesuffix("**").strip()
    if not text:
        return None
    if re.fullmatch(r"[\d.]+(,\d+)?", text):
        return float(text.replace(".", "").replace(",", "."))
    return text


def evaluate(wb, sheet: str, value: object) -> object:
    """A cell of phu-luc.xlsx as Excel shows it (its few formulas computed here)."""
    if not (isinstance(value, str) and value.startswith("=")):
        return value

    def cells(ref: str) -> list[object]:
        where, _, span = ref.rpartition("!")
        ws = wb[where.strip("'")] if where else wb[sheet]
        return [c.value for row in ws[span] for c in row]

    if m := re.fullmatch(r"=SUM\((.+)\)", value):
        return float(sum(v for v in cells(m.group(1)) if isinstance(v, int | float)))
    if m := re.fullmatch(r'=COUNTA?\((.+)\)&"/(\d+)"', value):
        return "coverage"
    if m := re.fullmatch(r'=COUNTIF\((.+),"(.+)"\)', value):
        return "count"
    raise AssertionError(f"unexpected formula {value}")


def number_tables(content):
    return [(a, t) for a in content.appendices for t in a.tables
            if t.key not in ("status", "quality")]


def shown_in_xlsx(path, content) -> dict[tuple[str, str], list[object]]:
    """(unit or TOWN, key) → what the workbook shows there, everywhere it shows it: the unit
    and total rows of the unit tables, the town tables, the data sheet."""
    wb = load_workbook(path)
    shown: dict[tuple[str, str], list[object]] = {}
    for appendix, tbl in number_tables(content):
        ws = wb[appendix.sheet]
        captions = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
        top = captions[tbl.caption] + 1 + len(tbl.header)
        for i, row in enumerate(tbl.rows):
            for j, (cell, column) in enumerate(zip(row.cells, tbl.columns, strict=True)):
                value = evaluate(wb, appendix.sheet, ws.cell(top + i, 3 + j).value)
                key = make_key(column.indicator, column.breakdown, column.year)
                if row.kind == UNIT and column.kind in ("integer", "money"):
                    where = (row.unit_code, key)
                elif row.kind == TOTAL and column.kind in ("integer", "money"):
                    where = (TOWN, key)
                elif row.kind == CATEGORY and cell.key is not None:
                    where = (TOWN, make_key(*cell.key))
                else:
                    continue
                if value is not None:
                    shown.setdefault(where, []).append(
                        float(value) if isinstance(value, int | float) else value)
    ws = wb[DATA_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    head = next(i for i, row in enumerate(rows) if row[0] == "Mã đơn vị")
    keys = rows[head][2:]
    for row in rows[head + 2:]:
        for key, value in zip(keys, row[2:], strict=True):
            if value is not None:
                shown.setdefault((row[0], key), []).append(
                    float(value) if isinstance(value, int | float) else value)
    return shown


def shown_in_docx(path, content) -> dict[tuple[str, str], list[object]]:
    document = Document(str(path))
    grids = [t for t in document.tables if t.style is not None and t.style.name == "Table Grid"]
    tables = [t for a in content.appendices for t in a.tables]
    assert len(grids) == len(tables)
    shown: dict[tuple[str, str], list[object]] = {}
    for grid, tbl in zip(grids, tables, strict=True):
        if tbl.key in ("status", "quality"):
            continue
        header = [c.text for c in grid.rows[0].cells]
        assert all(any(h.startswith(f"{c.indicator}.") for h in header) for c in tbl.columns
                   if tbl.units())  # the header names each column's indicator
        for row, docx_row in zip(tbl.rows, grid.rows[len(tbl.header):], strict=True):
            if row.kind == COVERAGE:
                continue
            for j, (cell, column) in enumerate(zip(row.cells, tbl.columns, strict=True)):
                key = make_key(column.indicator, column.breakdown, column.year)
                where = ((row.unit_code, key) if row.kind == UNIT else
                         (TOWN, make_key(*cell.key)) if cell.key is not None else (TOWN, key))
                value = read_vn(docx_row.cells[2 + j].text)
                if value is not None and column.kind in ("integer", "money"):
                    shown.setdefault(where, []).append(value)
    return shown


def one_each(shown: dict[tuple[str, str], list[object]]) -> dict[tuple[str, str], object]:
    """Every place shows the same for a cell."""
    for cell, values in shown.items():
        assert len(set(values)) == 1, (cell, values)
    return {cell: values[0] for cell, values in shown.items()}


def demo_truth(demo) -> tuple[dict[tuple[str, str], float], list[str]]:
    fig = demo["exact"]
    truth = {(u, k): float(v) for (u, k), v in fig.numbers.stack().items() if v == v}
    for key in fig.numbers.columns:
        if fig.numbers[key].notna().any():
            truth[(TOWN, key)] = float(fig.numbers[key].sum())
    return truth, fig.codes


@pytest.mark.slow
def test_the_distributed_appendix_shows_no_small_count_and_none_can_be_worked_out(
        demo, shipped_config):
    files, content = demo["files"], demo["published"]
    sensitive = {i.code for i in shipped_config.form.items() if i.sensitive}
    truth, units = demo_truth(demo)
    xlsx = one_each(shown_in_xlsx(files.xlsx, content))
    docx = one_each(shown_in_docx(files.docx, content))
    for cell in set(xlsx) & set(docx):
        assert xlsx[cell] == docx[cell], cell  # the two files show the same
    shown = {**xlsx, **docx}
    marks = {v for v in shown.values() if isinstance(v, str)}
    assert marks == {"<5", "x"}
    small = [c for c, v in shown.items() if v == "<5"]
    assert len(small) > 100 and any(c[0] == TOWN for c, v in shown.items() if v == "x")
    for cell, value in shown.items():
        if isinstance(value, float):
            assert value == truth[cell], cell  # every number shown is the true one
            if cell[0] != TOWN and key_indicator(cell[1]) in sensitive:
                assert not 1 <= value <= THRESHOLD, cell  # no small count is visible
    # every small count of a sensitive indicator that a table shows is marked
    for (unit, key), value in truth.items():
        if unit != TOWN and key_indicator(key) in sensitive and 1 <= value <= THRESHOLD:
            assert shown.get((unit, key)) in (None, "<5", "x"), (unit, key)
    relations = linear_relations(shipped_config.rules, sensitive)
    assert pinned(truth, shown, relations, units, sensitive) == []
    # what a formula shows is what the table says: no =SUM over marked cells
    wb = load_workbook(files.xlsx)
    for ws in wb.worksheets:
        assert MARK not in str(ws.oddHeader.center.text or "")
    notes = " ".join(t.note for _, t in number_tables(content))
    assert "“<5”: số của đơn vị từ 1 đến 4" in notes and "“x”: số liệu không công bố" in notes


@pytest.mark.slow
def test_the_published_report_names_no_small_count_in_its_sentences_and_charts(demo):
    content = demo["published"]
    trends = {spec["code"]: spec for spec in content.charts["trends"]}
    internal = {spec["code"]: spec for spec in demo["internal"].charts["trends"]}
    assert "C4" in trends
    for code, spec in trends.items():
        for year, value, mark, exact in zip(spec["years"], spec["values"], spec["marks"],
                                            internal[code]["values"], strict=True):
            assert (value is None and mark == "x") or (value == exact and not mark), (code, year)
    assert trends["C4"]["marks"] == ["x", "x", "x"]  # the demo's abuse counts are small
    text = "\n".join(p.text for s in content.sections for p in s.paras)
    c4 = text[text.index("4. Số trẻ em bị xâm hại"):text.index("5. Số trẻ em bị xâm hại")]
    assert "không công bố" in c4 and "cao nhất" not in c4 and "thấp nhất" not in c4
    internal_text = "\n".join(p.text for s in demo["internal"].sections for p in s.paras)
    assert "không công bố" not in internal_text


@pytest.mark.slow
def test_the_internal_version_holds_the_numbers_of_values_csv(demo):
    files, content = demo["files"], demo["internal"]
    values = pd.read_csv(demo["out"] / "values.csv", dtype=str, keep_default_na=False)
    numbers = pd.to_numeric(values["value"], errors="coerce")
    csv = {(u, make_key(i, b, int(y) if y else None)): float(v)
           for u, i, b, y, v in zip(values["unit_code"], values["indicator"],
                                    values["breakdown"], values["year"], numbers, strict=True)
           if v == v}
    for name, shown in (("xlsx", shown_in_xlsx(files.internal_xlsx, content)),
                        ("docx", shown_in_docx(files.internal_docx, content))):
        cells = one_each(shown)
        units = {c: v for c, v in cells.items() if c[0] != TOWN}
        assert len(units) > 900, name
        for cell, value in cells.items():
            assert isinstance(value, float), (name, cell, value)  # no mark at all
            if cell[0] == TOWN:
                parts = [v for (u, k), v in csv.items() if k == cell[1]]
                assert value == sum(parts), (name, cell)
            else:
                assert value == csv[cell], (name, cell)
        # every number of values.csv that an appendix column holds is there
        keys = {k for _, k in units}
        assert {c for c in csv if c[1] in keys} == set(units), name


def effective_parts(document):
    """Per section, the header and footer parts each of its pages shows (the first page's
    too), following "same as previous" back to the section that defines them."""
    kinds = ["header", "footer"]
    if document.settings.odd_and_even_pages_header_footer:
        kinds += ["even_page_header", "even_page_footer"]
    out = []
    for n, section in enumerate(document.sections):
        wanted = kinds + (["first_page_header", "first_page_footer"]
                          if section.different_first_page_header_footer else [])
        for kind in wanted:
            m = n
            while m > 0 and getattr(document.sections[m], kind).is_linked_to_previous:
                m -= 1
            part = getattr(document.sections[m], kind)
            out.append((n, kind, None if part.is_linked_to_previous else part))
    return out


@pytest.mark.slow
def test_every_page_and_sheet_of_the_internal_files_says_it_is_internal(demo):
    files = demo["files"]
    document = Document(str(files.internal_docx))
    parts = effective_parts(document)
    assert len(parts) >= 4 * len(document.sections)  # header, footer, first page's both
    for n, kind, part in parts:
        assert part is not None and MARK in "\n".join(p.text for p in part.paragraphs), \
            (n, kind)
    assert MARK in document.core_properties.title
    wb = load_workbook(files.internal_xlsx)
    assert len(wb.worksheets) >= 4
    for ws in wb.worksheets:
        assert ws.cell(1, 1).value == MARK, ws.title
        for part in (ws.oddHeader, ws.oddFooter, ws.evenHeader, ws.evenFooter, ws.firstHeader,
                     ws.firstFooter):
            assert part.center.text == MARK, ws.title
    # the published files carry no such mark
    with zipfile.ZipFile(files.docx) as archive:
        xml = " ".join(archive.read(n).decode() for n in archive.namelist()
                       if n.startswith("word/") and n.endswith(".xml"))
    assert MARK not in xml
    assert all(MARK not in str(c.value) for ws in load_workbook(files.xlsx).worksheets
               for row in ws.iter_rows() for c in row if c.value)
    assert files.manifest() == {
        "published": ["bao-cao.docx", "report.html", "phu-luc.xlsx", "bieu-do-hoan-thanh.png",
                      "bieu-do-xu-huong.png"],
        "internal": ["bao-cao-noi-bo.docx", "phu-luc-noi-bo.xlsx"]}
