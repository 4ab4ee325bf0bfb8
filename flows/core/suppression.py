"""Small counts protected in what leaves the office: primary and complementary suppression.

The published report and appendix show every unit's count of a sensitive indicator
(`sensitive: true` in form.yaml) from 1 to the threshold (`small_counts` in privacy.yaml) as a
mark ("<5"), and hide ("x") as few other cells as it takes for none of those to be worked out
from what is published: the unit's own totals (sex, form of abuse, age group: the equalities and
inequalities of rules.yaml), the town totals (a sum over the units) and the other indicators the
rules tie them to.

One year at a time (no rule crosses years), the problem is a table of cells — every unit's
value of every key of a sensitive indicator or of a rule naming one, and the town total of each
key — and a list of linear relations between them (Σ coef · cell `==` or `<=` const): the rules
that hold for that unit (or for the town) on its true numbers, and town = Σ units for every key.
Then:

1. primary: a sensitive unit cell from 1 to the threshold is hidden as SMALL (shown "<5");
2. complementary, to a fixed point: an equality with exactly one hidden member gives it away
   (the total minus the others), so its smallest non-zero published member is hidden too
   (HIDDEN, shown "x") — a sensitive unit cell before another unit cell before a town total,
   then the one that leaves fewest equalities to protect in turn;
3. audit, as a reader would work, knowing "<5" is 1..threshold and "x" at least 1 (above the
   threshold for a sensitive unit count): interval propagation over every relation, and when
   that finds nothing, a linear programme (HiGHS) for each hidden cell's least and greatest
   value. A cell pinned to one whole number is protected by hiding one more published cell of
   the relations that pin it (for the linear programme: those of its proof, its dual) or, when
   they have none left, by showing their largest small cell as "x" (no upper bound) instead of
   "<5"; then 2–3 again, until the audit finds nothing.

Zero is never hidden (it identifies nobody), a blank stays blank, and a town total is hidden
only where it would give a unit's cell away. Limits: the reader knows the linear rules only (a
rule with `when`, a tolerance, `!=` or the pair operators is left out); the linear programme is
over real numbers, its bounds rounded to whole ones (a pattern that only whole numbers give away
could be missed); a cell that nothing more can protect is reported in `Protection.unresolved`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from highspy import HighsBasisStatus, HighsLp, HighsModelStatus, MatrixFormat, _Highs

from flows.core.expr import Aggregate, Binary, Months, Negate, Node, Number, Ref
from flows.core.layout import make_key

TOWN = ""  # the unit code of a town total
SMALL, HIDDEN = "small", "hidden"  # shown as `shown_as` ("<5") / `hidden_as` ("x")
_PUBLISHED, _SMALL, _HIDDEN = 0, 1, 2
_TOWN_SUM = "town-sum"
_EPS = 1e-6
_MAX_ROUNDS = 500


def key_indicator(key: str) -> str:
    return key.split("|", 1)[0]


def key_year(key: str) -> int | None:
    year = key.rsplit("|", 1)[-1]
    return int(year) if year else None


@dataclass(frozen=True)
class Relation:
    """Σ coef · value `op` const over the value keys of one unit (or of the town), one year."""

    keys: tuple[str, ...]
    coefs: tuple[float, ...]
    op: str  # "==" or "<="
    const: float = 0.0
    rule: str = ""


# --------------------------------------------------------------------------- rules → relations

Linear = dict[str | None, float]  # value key → coefficient; None → the constant


def _ref_key(ref: Ref, year: int) -> str:
    return make_key(ref.indicator, ref.breakdown, year if ref.yearly else None)


def _linear(node: Node, year: int, months: int) -> Linear | None:
    """`node` as a linear form, or None when it is not one (max, min, a product of cells…)."""
    match node:
        case Number(value=value):
            return {None: float(value)}
        case Months():
            return {None: float(months)}
        case Ref():
            return {_ref_key(node, year): 1.0}
        case Aggregate(func="sum", refs=refs):
            out: Linear = {}
            for ref in refs:
                out[_ref_key(ref, year)] = out.get(_ref_key(ref, year), 0.0) + 1.0
            return out
        case Negate(operand=operand):
            inner = _linear(operand, year, months)
            return None if inner is None else {k: -v for k, v in inner.items()}
        case Binary(op=op, left=left, right=right):
            a, b = _linear(left, year, months), _linear(right, year, months)
            if a is None or b is None:
                return None
            if op in "+-":
                sign = 1.0 if op == "+" else -1.0
                out = dict(a)
                for k, v in b.items():
                    out[k] = out.get(k, 0.0) + sign * v
                return out
            constant_a, constant_b = set(a) <= {None}, set(b) <= {None}
            if op == "*" and (constant_a or constant_b):
                factor, form = (a.get(None, 0.0), b) if constant_a else (b.get(None, 0.0), a)
                return {k: v * factor for k, v in form.items()}
            if op == "/" and constant_b and b.get(None, 0.0):
                return {k: v / b[None] for k, v in a.items()}
    return None


def _side(node: Node | None, year: int, months: int) -> tuple[str, list[Linear]] | None:
    """("lin", [form]) or ("max"/"min", [one form per cell]) for a whole max(…)/min(…) side."""
    if node is None:
        return None
    if isinstance(node, Aggregate) and node.func in ("max", "min"):
        return node.func, [{_ref_key(ref, year): 1.0} for ref in node.refs]
    form = _linear(node, year, months)
    return None if form is None else ("lin", [form])


def _relation(left: Linear, right: Linear, op: str, rule: str) -> Relation | None:
    """left − right `op` 0 as a Relation (op "==", "<=" or "<", integers: < is <= −1)."""
    form = dict(left)
    for k, v in right.items():
        form[k] = form.get(k, 0.0) - v
    constant = -form.pop(None, 0.0) - (1.0 if op == "<" else 0.0)
    terms = [(k, v) for k, v in form.items() if abs(v) > 1e-12]
    if not terms:
        return None
    return Relation(tuple(k for k, _ in terms), tuple(v for _, v in terms),
                    "==" if op == "==" else "<=", constant, rule)


def _compose(left: tuple[str, list[Linear]], right: tuple[str, list[Linear]], op: str,
             rule: str) -> list[Relation]:
    """The linear relations `left op right` implies (op "==", "<=" or "<")."""
    (lk, lforms), (rk, rforms) = left, right
    pairs: list[tuple[Linear, Linear, str]] = []
    if lk == "lin" and rk == "lin":
        pairs = [(lforms[0], rforms[0], op)]
    elif op == "==":  # x == max(…): every one ≤ x; x == min(…): x ≤ every one
        if lk == "lin" and rk == "max":
            pairs = [(r, lforms[0], "<=") for r in rforms]
        elif lk == "lin" and rk == "min":
            pairs = [(lforms[0], r, "<=") for r in rforms]
        elif lk == "max" and rk == "lin":
            pairs = [(f, rforms[0], "<=") for f in lforms]
        elif lk == "min" and rk == "lin":
            pairs = [(rforms[0], f, "<=") for f in lforms]
    elif lk in ("lin", "max") and rk in ("lin", "min"):  # every left one ≤ every right one
        pairs = [(f, r, op) for f in lforms for r in rforms]
    relations = [_relation(a, b, o, rule) for a, b, o in pairs]
    return [r for r in relations if r is not None]


def linear_relations(rules, sensitive: Iterable[str]) -> dict[int, list[Relation]]:
    """Per year, the linear relations of the consistency rules (`flows.core.ruleset.RuleSet`)
    that name a sensitive indicator: comparisons without a `when` condition or a tolerance;
    `>=`/`>` turned around, `max(…)`/`min(…)` as one relation per cell where that is exact.
    A reader who knows the form knows these; the office's rules hold for consistent data."""
    codes = set(sensitive)
    out: dict[int, list[Relation]] = {}
    if rules is None:
        return out
    for check in rules.checks:
        rule = check.rule
        if (rule.kind != "compare" or rule.operator not in ("==", "<", "<=", ">", ">=")
                or check.when is not None or rule.tolerance or rule.tolerance_pct):
            continue
        for year in check.years:
            months = rules.months.get(year, 12)
            left = _side(check.left, year, months)
            right = _side(check.right, year, months)
            if left is None or right is None:
                continue
            op = rule.operator
            if op in (">", ">="):
                left, right, op = right, left, "<" if op == ">" else "<="
            for relation in _compose(left, right, op, rule.id):
                if any(key_indicator(k) in codes for k in relation.keys):
                    out.setdefault(year, []).append(relation)
    return out


# --------------------------------------------------------------------------- the linear programme


class _Programme:
    """min c · x subject to A_ub x <= b_ub, A_eq x == b_eq and bounds, built once and solved
    for many objectives c: HiGHS keeps its basis from one solve to the next, so each new
    objective starts from the last optimum rather than from a model built from scratch."""

    def __init__(self, triplets: tuple[np.ndarray, np.ndarray, np.ndarray], rhs: np.ndarray,
                 n_ub: int, lower: np.ndarray, upper: np.ndarray):
        """`triplets` (row, column, coefficient) with the `n_ub` inequality rows first, then
        the equalities; `rhs` one per row."""
        rows, cols, coefs = triplets
        n_rows, n_cols = len(rhs), len(lower)
        order = np.lexsort((rows, cols))  # column-wise, as HiGHS stores it
        lp = HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, n_rows
        lp.col_cost_ = np.zeros(n_cols)
        lp.col_lower_, lp.col_upper_ = lower, upper
        lp.row_lower_ = np.concatenate([np.full(n_ub, -np.inf), rhs[n_ub:]])
        lp.row_upper_ = rhs
        lp.a_matrix_.format_ = MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
        lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(n_cols + 1)).astype(np.int32)
        lp.a_matrix_.index_ = rows[order].astype(np.int32)
        lp.a_matrix_.value_ = coefs[order].astype(float)
        # The raw binding: `highspy.Highs` prints HiGHS's banner to the process's stdout as
        # it is made, before its output can be turned off.
        self._highs = _Highs()
        self._highs.setOptionValue("output_flag", False)
        self._highs.passModel(lp)
        self._columns = np.arange(n_cols, dtype=np.int32)

    def solve(self, objective: np.ndarray, fresh: bool = False) -> np.ndarray | None:
        """The x of min objective · x; None when there is no optimum (unbounded). `fresh`:
        from scratch (presolve, no basis kept), whatever was solved before."""
        self._highs.changeColsCost(len(objective), self._columns, objective.astype(float))
        if fresh:
            self._highs.clearSolver()
        self._highs.run()
        if self._highs.getModelStatus() != HighsModelStatus.kOptimal:
            return None
        return np.array(self._highs.getSolution().col_value)

    def duals(self) -> tuple[np.ndarray, np.ndarray]:
        """Of the last optimum: the dual of every row (in the programme's row order), and of
        every column that sits at its upper bound (0 elsewhere); the signs of scipy's
        `linprog` marginals (`eqlin`/`ineqlin`, `upper`)."""
        solution = self._highs.getSolution()
        at_upper = np.array([s == HighsBasisStatus.kUpper
                             for s in self._highs.getBasis().col_status], dtype=bool)
        return (np.array(solution.row_dual),
                np.where(at_upper, np.array(solution.col_dual), 0.0))


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class Protection:
    """What the published tables hide: one row per hidden cell (`unit_code` TOWN for a town
    total), `state` SMALL ("<5") or HIDDEN ("x"); `unresolved` lists cells the audit still
    found exactly and nothing more could protect (none in any test)."""

    cells: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["unit_code", "key", "state"]))
    unresolved: tuple[tuple[str, str], ...] = ()

    def states(self) -> dict[tuple[str, str], str]:
        """(unit code or TOWN, key) → SMALL or HIDDEN."""
        return {(u, k): s for u, k, s in zip(self.cells["unit_code"], self.cells["key"],
                                              self.cells["state"], strict=True)}


# --------------------------------------------------------------------------- one year


class _Problem:
    """The cells and relations of one year, and the suppression state of every cell."""

    def __init__(self, numbers: pd.DataFrame, keys: list[str], relations: list[Relation],
                 sensitive: set[str], threshold: int):
        related = [k for r in relations for k in r.keys if k in numbers.columns]
        self.keys = list(dict.fromkeys([*keys, *related]))
        frame = numbers.reindex(columns=self.keys)
        self.units = [str(u) for u in frame.index]
        values = frame.to_numpy(dtype=float)
        n_units, n_keys = values.shape
        present = ~np.isnan(values)
        unit_rows, unit_cols = np.nonzero(present)
        town_cols = np.flatnonzero(present.any(axis=0))
        self.cell_id = np.full((n_units + 1, n_keys), -1)
        self.cell_id[unit_rows, unit_cols] = np.arange(len(unit_rows))
        self.cell_id[n_units, town_cols] = len(unit_rows) + np.arange(len(town_cols))
        self.value = np.concatenate([values[unit_rows, unit_cols],
                                     np.nansum(values, axis=0)[town_cols]])
        self.unit_of = np.concatenate([unit_rows, np.full(len(town_cols), -1)])
        self.key_of = np.concatenate([unit_cols, town_cols])
        sensitive_key = np.array([key_indicator(k) in sensitive for k in self.keys], dtype=bool)
        self.town = self.unit_of < 0
        self.sensitive = sensitive_key[self.key_of] if len(self.key_of) else np.zeros(0, bool)
        self.threshold = threshold
        self.tier = np.where(self.town, 2, np.where(self.sensitive, 0, 1))
        self._relations(relations, sensitive_key, n_units, town_cols)
        self.state = np.zeros(len(self.value), dtype=np.int8)
        small = (self.sensitive & ~self.town & (self.value >= 1)
                 & (self.value <= threshold))
        self.state[small] = _SMALL
        hidden = (self.state > 0).astype(float)
        self.count = np.bincount(self.term_rel, weights=hidden[self.term_cell],
                                 minlength=len(self.rel_eq)).astype(int)
        self.stuck: set[int] = set()

    # ------------------------------------------------------------------ building

    def _relations(self, relations: list[Relation], sensitive_key: np.ndarray, n_units: int,
                   town_cols: np.ndarray) -> None:
        """Every relation instance that holds on the true values (a blank counts as 0 and is
        left out), for each unit and the town; then town = Σ units for every key."""
        column = {k: i for i, k in enumerate(self.keys)}
        cells: list[np.ndarray] = []
        coefs: list[np.ndarray] = []
        eq: list[bool] = []
        const: list[float] = []
        names: list[str] = []
        for relation in relations:
            pairs = [(column[k], c) for k, c in zip(relation.keys, relation.coefs, strict=True)
                     if k in column]
            if not pairs:
                continue
            cols = np.array([p[0] for p in pairs])
            coef = np.array([p[1] for p in pairs], dtype=float)
            ids = self.cell_id[:, cols]
            there = ids >= 0
            vals = np.where(there, self.value[np.where(there, ids, 0)], 0.0)
            lhs = vals @ coef
            holds = (np.abs(lhs - relation.const) <= _EPS if relation.op == "=="
                     else lhs <= relation.const + _EPS)
            touches = (there & sensitive_key[cols]).any(axis=1)
            for row in np.flatnonzero(holds & touches):
                keep = there[row]
                cells.append(ids[row][keep])
                coefs.append(coef[keep])
                eq.append(relation.op == "==")
                const.append(relation.const)
                names.append(relation.rule)
        for col in town_cols:
            ids = self.cell_id[:, col]
            ids = ids[ids >= 0]
            cells.append(ids)  # the town cell is last: it is row n_units of cell_id
            coefs.append(np.concatenate([-np.ones(len(ids) - 1), [1.0]]))
            eq.append(True)
            const.append(0.0)
            names.append(_TOWN_SUM)
        lengths = np.array([len(c) for c in cells], dtype=int)
        self.rel_start = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
        self.term_cell = np.concatenate(cells).astype(int) if cells else np.zeros(0, int)
        self.term_coef = np.concatenate(coefs) if coefs else np.zeros(0)
        self.term_rel = np.repeat(np.arange(len(cells)), lengths)
        self.rel_eq = np.array(eq, dtype=bool)
        self.rel_const = np.array(const, dtype=float)
        self.rel_name = names
        self._members = [self.term_cell[a:b].tolist()
                         for a, b in zip(self.rel_start[:-1], self.rel_start[1:], strict=True)]
        self._relations_of: list[list[int]] = [[] for _ in range(len(self.value))]
        for r, cell in zip(self.term_rel.tolist(), self.term_cell.tolist(), strict=True):
            self._relations_of[cell].append(r)

    def members(self, relation: int) -> list[int]:
        return self._members[relation]

    def relations_of(self, cell: int) -> list[int]:
        return self._relations_of[cell]

    # ------------------------------------------------------------------ choosing

    def hide(self, cell: int) -> None:
        if self.state[cell] == _PUBLISHED:
            self.count[self.relations_of(cell)] += 1
        self.state[cell] = _HIDDEN

    def cost(self, cell: int) -> int:
        """How many equalities hiding `cell` would leave with one hidden member each."""
        return sum(1 for r in self.relations_of(cell) if self.rel_eq[r] and self.count[r] == 0)

    def best(self, cells: Iterable[int]) -> int | None:
        """The published non-zero cell to hide next among `cells`: a sensitive unit cell
        before another unit cell before a town total, then the one that leaves fewest
        equalities to protect in turn, then the smallest value."""
        free = [c for c in dict.fromkeys(cells)
                if self.state[c] == _PUBLISHED and self.value[c] > 0]
        if not free:
            return None
        return min(free, key=lambda c: (self.tier[c], self.cost(c), self.value[c], c))

    def choose(self, relation: int) -> int | None:
        return self.best(self.members(relation))

    def complement(self) -> None:
        """Step 2: no equality keeps exactly one hidden member."""
        while True:
            changed = False
            for relation in np.flatnonzero(self.rel_eq & (self.count == 1)):
                if self.count[relation] != 1:
                    continue
                cell = self.choose(relation)
                if cell is not None:  # else: the audit finds it and says so
                    self.hide(cell)
                    changed = True
            if not changed:
                return

    # ------------------------------------------------------------------ the audit

    def priors(self) -> tuple[np.ndarray, np.ndarray]:
        """What a reader knows of each cell before any relation: a published value exactly,
        "<5" 1..threshold, "x" at least 1 (above the threshold for a sensitive unit count)."""
        lo, hi = self.value.copy(), self.value.copy()
        small = self.state == _SMALL
        lo[small], hi[small] = 1.0, float(self.threshold)
        hidden = self.state == _HIDDEN
        above = hidden & self.sensitive & ~self.town & (self.value > self.threshold)
        lo[hidden] = np.where(self.value[hidden] >= 1, 1.0, 0.0)
        lo[above] = float(self.threshold + 1)
        hi[hidden] = np.inf
        return lo, hi

    def propagate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Interval propagation to a fixed point; also which relation last tightened each
        bound (-1: the prior)."""
        lo, hi = self.priors()
        src_lo = np.full(len(lo), -1)
        src_hi = np.full(len(lo), -1)
        cell, coef, rel = self.term_cell, self.term_coef, self.term_rel
        n_rel = len(self.rel_eq)
        open_terms = self.state[cell] > 0
        for _ in range(200):
            low = np.where(coef > 0, coef * lo[cell], coef * hi[cell])  # −inf possible
            high = np.where(coef > 0, coef * hi[cell], coef * lo[cell])  # +inf possible
            low_inf, high_inf = np.isinf(low), np.isinf(high)
            low_fin, high_fin = np.where(low_inf, 0.0, low), np.where(high_inf, 0.0, high)
            sum_low = np.bincount(rel, low_fin, n_rel)
            n_low = np.bincount(rel, low_inf.astype(float), n_rel)
            sum_high = np.bincount(rel, high_fin, n_rel)
            n_high = np.bincount(rel, high_inf.astype(float), n_rel)
            others_low = sum_low[rel] - low_fin
            others_low_inf = (n_low[rel] - low_inf) > 0
            others_high = sum_high[rel] - high_fin
            others_high_inf = (n_high[rel] - high_inf) > 0
            constant = self.rel_const[rel]
            upper = np.where(others_low_inf, np.inf, constant - others_low)  # coef·x ≤ upper
            lower = np.where(self.rel_eq[rel] & ~others_high_inf, constant - others_high,
                             -np.inf)  # coef·x ≥ lower
            with np.errstate(invalid="ignore"):
                new_hi = np.where(coef > 0, upper / coef, lower / coef)
                new_lo = np.where(coef > 0, lower / coef, upper / coef)
            new_hi = np.floor(new_hi + 1e-7)
            new_lo = np.ceil(new_lo - 1e-7)
            better_lo = open_terms & (new_lo > lo[cell])
            better_hi = open_terms & (new_hi < hi[cell])
            if not better_lo.any() and not better_hi.any():
                break
            for better, new, bound, src, pick in ((better_lo, new_lo, lo, src_lo, np.maximum),
                                                   (better_hi, new_hi, hi, src_hi, np.minimum)):
                cells, values, rels = cell[better], new[better], rel[better]
                pick.at(bound, cells, values)
                won = values == bound[cells]
                src[cells[won]] = rels[won]
        return lo, hi, src_lo, src_hi

    def groups(self) -> dict[int, list[int]]:
        """Hidden cells linked through relations, by group: each group is its own programme."""
        hidden = np.flatnonzero(self.state > 0)
        mask = self.state[self.term_cell] > 0
        rels, cells = self.term_rel[mask], self.term_cell[mask]
        parent = {int(c): int(c) for c in hidden}

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        first: dict[int, int] = {}
        for r, c in zip(rels.tolist(), cells.tolist(), strict=True):
            if r in first:
                parent[root(c)] = root(first[r])
            else:
                first[r] = c
        out: dict[int, list[int]] = {}
        for c in hidden.tolist():
            out.setdefault(root(c), []).append(c)
        return out

    def exact_found(self) -> dict[int, tuple[list[int], list[int], list[int]]]:
        """Hidden cells a linear programme pins to one whole number, group by group of linked
        hidden cells → (the relations of the proof, the published cells in them, the small
        cells whose upper bound the proof uses)."""
        if not (self.state > 0).any():
            return {}
        lo, hi = self.priors()
        found: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for members in self.groups().values():
            found.update(self._exact_group(members, lo, hi))
        return found

    def _exact_group(self, members: list[int], lo: np.ndarray, hi: np.ndarray
                     ) -> dict[int, tuple[list[int], list[int], list[int]]]:
        """The least and greatest value of each cell of one group under every relation and
        mark. A few random objectives first, then the cells not yet seen at two whole numbers
        pushed together (all up, all down, then some up and some down), then for each cell
        still not seen apart its maximum and minimum; every solution found counts for every
        cell. Only the last decide (a cell is pinned by its own least and greatest value, and
        its proof is theirs): the rest only spares solves for cells that are not pinned."""
        local = {c: i for i, c in enumerate(members)}
        rels = list(dict.fromkeys(r for c in members for r in self.relations_of(c)))
        eq_rows = [r for r in rels if self.rel_eq[r]]
        ub_rows = [r for r in rels if not self.rel_eq[r]]
        # inequalities first, as the audit always gave them to HiGHS: the order steers which
        # of several equally good proofs it finds
        rows = ub_rows + eq_rows
        programme = _Programme(*self._rows(rows, local), len(ub_rows), lo[members], hi[members])
        low = np.full(len(members), np.inf)
        high = np.full(len(members), -np.inf)

        def solve(objective: np.ndarray, fresh: bool = False) -> bool:
            """Whether min objective · x has an optimum; it counts for every cell."""
            x = programme.solve(objective, fresh)
            if x is None:
                return False
            np.minimum(low, x, out=low)
            np.maximum(high, x, out=high)
            return True

        def apart(i: int) -> bool:  # seen at two whole numbers: not pinned
            return bool(np.ceil(low[i] - 1e-6) < np.floor(high[i] + 1e-6))

        def left() -> np.ndarray:  # 1.0 for every cell not yet seen apart
            return (np.ceil(low - 1e-6) >= np.floor(high + 1e-6)).astype(float)

        rng = np.random.default_rng(0)
        for _ in range(3):
            objective = rng.normal(size=len(members))
            solve(objective)
            solve(-objective)
        for _ in range(4):  # push every cell not yet seen apart up, then down, together
            waiting = left()
            if not waiting.any():
                break
            before = waiting.sum()
            solve(-waiting * (1 + rng.random(len(members))))
            solve(waiting * (1 + rng.random(len(members))))
            if left().sum() == before:
                break
        misses = 0
        for _ in range(10):  # some up and some down: cells a total ties together part ways
            waiting = left()
            if not waiting.any() or misses == 2:
                break
            before = waiting.sum()
            signs = rng.choice([-1.0, 1.0], size=len(members))
            solve(signs * waiting * (1 + rng.random(len(members))))
            misses += int(left().sum() == before)
        found: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for i, cell in enumerate(members):
            if apart(i):
                continue
            unit = np.zeros(len(members))
            unit[i] = 1.0
            if not solve(-unit) or apart(i):
                continue  # unbounded above, or not pinned
            if not solve(unit) or apart(i):
                continue
            # Pinned: its proof from solves from scratch. At a degenerate optimum the duals
            # depend on the basis HiGHS starts from, and the proof must not depend on which
            # objectives came before.
            if not solve(-unit, fresh=True):
                continue
            highest = programme.duals()
            if not solve(unit, fresh=True):
                continue
            proof, widen = [], []
            for row_dual, upper_dual in (programme.duals(), highest):  # lowest, then highest
                used = np.abs(row_dual) > 1e-9
                # the equalities first, then the inequalities
                proof += [rows[k] for k in np.flatnonzero(used[len(ub_rows):]) + len(ub_rows)]
                proof += [rows[k] for k in np.flatnonzero(used[:len(ub_rows)])]
                widen += [members[k] for k in np.flatnonzero(np.abs(upper_dual) > 1e-9)
                          if self.state[members[k]] == _SMALL]
            proof = list(dict.fromkeys(proof))
            given = [m for r in proof for m in self.members(r) if self.state[m] == _PUBLISHED]
            found[cell] = (proof, given, list(dict.fromkeys(widen)))
        return found

    def _rows(self, rows: list[int], local: dict[int, int]
              ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """The relations `rows` over the hidden cells `local` (published members moved to the
        right-hand side), as (row, column, coefficient) triplets and the right-hand side."""
        data, row_ids, col_ids = [], [], []
        rhs = np.zeros(len(rows))
        for i, r in enumerate(rows):
            lo, hi = self.rel_start[r], self.rel_start[r + 1]
            rhs[i] = self.rel_const[r]
            for c, a in zip(self.term_cell[lo:hi].tolist(), self.term_coef[lo:hi].tolist(),
                            strict=True):
                if c in local:
                    data.append(a)
                    row_ids.append(i)
                    col_ids.append(local[c])
                else:
                    rhs[i] -= a * self.value[c]
        triplets = (np.array(row_ids, dtype=int), np.array(col_ids, dtype=int),
                    np.array(data, dtype=float))
        return triplets, rhs

    def audit(self, exact: bool) -> tuple[dict[int, tuple[str, list[int], list[int],
                                                         list[int]]],
                                          tuple[np.ndarray, np.ndarray]]:
        """Hidden cells a reader can work out exactly → (how: "bounds" by interval
        propagation or "exact" by the linear programme, the relations that gave it away, the
        published cells in them, the small cells whose upper bound they use); and which
        relation last bounded each cell from below and from above. The linear programme only
        when `exact` and propagation finds nothing."""
        lo, hi, src_lo, src_hi = self.propagate()
        found: dict[int, tuple[str, list[int], list[int], list[int]]] = {}
        for c in np.flatnonzero((self.state > 0) & (lo == hi)):
            if int(c) not in self.stuck:
                found[int(c)] = ("bounds", [int(r) for r in (src_lo[c], src_hi[c]) if r >= 0],
                                 [], [])
        if exact and not found:
            for c, (proof, given, widen) in self.exact_found().items():
                if c not in self.stuck:
                    found[c] = ("exact", proof, given, widen)
        return found, (src_lo, src_hi)

    # ------------------------------------------------------------------ protecting

    def _levels(self, cell: int, causes: list[int], follow) -> list[list[int]]:
        """Relations by distance from `cell`: its causes, then what `follow` gives for the
        hidden members of the level before."""
        levels, seen, level = [], set(), list(dict.fromkeys(causes))
        while level:
            seen |= set(level)
            levels.append(level)
            hidden = [int(m) for r in level for m in self.members(r) if self.state[m] > 0]
            level = [r for r in dict.fromkeys(r for m in hidden for r in follow(m))
                     if r not in seen]
        return levels

    def remedy(self, cell: int, how: str, causes: list[int], given: list[int],
               widen: list[int], sources: tuple[np.ndarray, np.ndarray]
               ) -> tuple[int | None, bool]:
        """The cell to hide next so that `cell` is no longer found, and whether it is a small
        cell to show as "x" (no upper bound) rather than a published cell to hide.

        Found exactly: the best published cell of the proof, else its largest small cell
        whose upper bound the proof uses. Then, as for a cell found by propagation: the
        nearest relation, along the chain that bounded it, with a published non-zero member
        gives its best one; with none, the nearest small cell of the chain (its largest); then
        the same over every relation linked to it through hidden cells."""
        if how == "exact":
            if (best := self.best(given)) is not None:
                return best, False
            if widen:
                return max(widen, key=lambda m: (self.value[m], -m)), True

        def bounded_by(m: int) -> list[int]:
            return [int(s[m]) for s in sources if s[m] >= 0]

        for follow in (bounded_by, self.relations_of):  # the chain, then everything linked
            levels = self._levels(cell, causes, follow)
            for level in levels:
                best = self.best(m for r in level for m in self.members(r))
                if best is not None:
                    return best, False
            for level in levels:
                small = [int(m) for r in level for m in self.members(r)
                         if self.state[m] == _SMALL]
                if small:
                    return max(small, key=lambda m: (self.value[m], -m)), True
        return None, False

    def augment(self, found: dict[int, tuple[str, list[int], list[int], list[int]]],
                sources: tuple[np.ndarray, np.ndarray]) -> None:
        """One step for each cell found whose relations nothing changed yet this round (the
        next audit says what is left; a wider mark only as the round's first step, on fresh
        bounds); a cell nothing can protect is set aside as unresolved."""
        touched: set[int] = set()
        first = True
        for cell, (how, causes, given, widen) in found.items():
            if touched & (set(causes) | set(self.relations_of(cell))):
                continue
            choice, wider = self.remedy(cell, how, causes, given, widen, sources)
            if choice is None:
                if first:
                    self.stuck.add(cell)
                continue
            if wider and not first:
                continue
            self.hide(choice)
            touched |= set(causes) | set(self.relations_of(choice))
            first = False

    def solve(self) -> None:
        for _ in range(_MAX_ROUNDS):
            self.complement()
            found, sources = self.audit(exact=False)
            if not found:
                found, sources = self.audit(exact=True)
                if not found:
                    return
            self.augment(found, sources)
        self.stuck |= set(self.audit(exact=True)[0])

    def result(self) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
        hidden = np.flatnonzero(self.state > 0)
        codes = [TOWN if self.unit_of[c] < 0 else self.units[self.unit_of[c]] for c in hidden]
        frame = pd.DataFrame({
            "unit_code": codes,
            "key": [self.keys[self.key_of[c]] for c in hidden],
            "state": [SMALL if self.state[c] == _SMALL else HIDDEN for c in hidden],
        })
        stuck = [(TOWN if self.unit_of[c] < 0 else self.units[self.unit_of[c]],
                  self.keys[self.key_of[c]]) for c in sorted(self.stuck)]
        return frame, stuck


# --------------------------------------------------------------------------- entry point


def protect(numbers: pd.DataFrame, sensitive: Iterable[str],
            relations: dict[int, list[Relation]], threshold: int) -> Protection:
    """Which cells the published tables hide.

    `numbers` is the unit × value-key matrix (NaN where blank; columns `make_key(indicator,
    breakdown, year)`), `sensitive` the sensitive indicator codes, `relations` what
    `linear_relations` gives, `threshold` the largest count shown as small.
    """
    codes = set(sensitive)
    keys = [str(k) for k in numbers.columns if key_indicator(str(k)) in codes]
    by_year: dict[int | None, list[str]] = {}
    for key in keys:
        by_year.setdefault(key_year(key), []).append(key)
    frames, stuck = [], []
    for year, year_keys in by_year.items():
        problem = _Problem(numbers, year_keys, relations.get(year, []) if year else [], codes,
                           threshold)
        problem.solve()
        frame, unresolved = problem.result()
        frames.append(frame)
        stuck += unresolved
    cells = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=["unit_code", "key", "state"]))
    return Protection(cells, tuple(stuck))
