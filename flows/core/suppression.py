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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from highspy import HighsBasisStatus, HighsLp, HighsModelStatus, MatrixFormat, _Highs

from flows.core.expr import Aggregate, Binary, Months, Negate, Node, Number, Ref
from flows.core.layout import make_key

TOWN = ""  # the unit code of a town total
SMALL, HIDDEN = "small", "hidden"  # shown as `shown_as` ("<5") / `hidden_as` ("x")
_PUBLISHED, _SMALL, _HIDDEN = 0, 1, 2
_EPS = 1e-6
_MAX_ROUNDS = 500
_PART_CELLS = 400  # a group's programme larger than this finds its points part by part
_PUSHES = 6  # rounds of pushing a part's cells one whole number from their true value
_ROOM_ROUNDS = 4  # pushes over a whole group, each finding room for the cells left
_MOVE_COST = 1e-3  # what a cell's move costs in a push over a whole group (one found: 1)


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
        self.columns = n_cols

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

    def bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """New bounds for every column."""
        self._highs.changeColsBounds(len(lower), self._columns, lower.astype(float),
                                     upper.astype(float))

    def unbounded(self) -> bool:
        """Whether the last objective had no least value."""
        return self._highs.getModelStatus() == HighsModelStatus.kUnbounded

    def duals(self) -> tuple[np.ndarray, np.ndarray]:
        """Of the last optimum: the dual of every row (in the programme's row order), and of
        every column that sits at its upper bound (0 elsewhere); the signs of scipy's
        `linprog` marginals (`eqlin`/`ineqlin`, `upper`)."""
        solution = self._highs.getSolution()
        at_upper = np.array([s == HighsBasisStatus.kUpper
                             for s in self._highs.getBasis().col_status], dtype=bool)
        return (np.array(solution.row_dual),
                np.where(at_upper, np.array(solution.col_dual), 0.0))


def _chunks(runs: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive runs (`runs`: their boundaries, 0 first) put together into (first, last)
    spans of about `size` items, a run never split."""
    if len(runs) < 2:
        return []
    cut = np.searchsorted(runs, np.arange(0, runs[-1], size), side="right") - 1
    edges = np.unique(np.concatenate([runs[cut], runs[-1:]]))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _distinct(ids: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """`ids` without repeats, in no particular order, in time linear in len(ids) (np.unique
    sorts); `scratch` is any int array longer than the largest id."""
    scratch[ids] = np.arange(len(ids))
    return ids[scratch[ids] == np.arange(len(ids))]


def _gather(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """values[starts[0]:ends[0]], values[starts[1]:ends[1]], … in one array."""
    lengths = ends - starts
    if not len(lengths):
        return values[:0]
    shift = starts - np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return values[np.repeat(shift, lengths) + np.arange(int(lengths.sum()))]


class _Witnesses:
    """Feasible points of one group's programme, as the least and greatest value seen of each
    cell: a cell seen at two whole numbers is not pinned (its least value is at most the
    lower, its greatest at least the higher)."""

    def __init__(self, n: int):
        self.low = np.full(n, np.inf)
        self.high = np.full(n, -np.inf)

    def add(self, x: np.ndarray | None, index: np.ndarray | slice = slice(None)) -> bool:
        """Count the point `x` (of the cells `index`, the others at a value already seen);
        whether there was one."""
        if x is None:
            return False
        self.low[index] = np.minimum(self.low[index], x)
        self.high[index] = np.maximum(self.high[index], x)
        return True

    def apart(self, i: int) -> bool:  # seen at two whole numbers: not pinned
        return bool(np.ceil(self.low[i] - 1e-6) < np.floor(self.high[i] + 1e-6))

    def waiting(self) -> np.ndarray:  # True for every cell not yet seen apart
        return np.ceil(self.low - 1e-6) >= np.floor(self.high + 1e-6)

    def search(self, programme: _Programme) -> None:
        """Points of a group's whole `programme`: a few random objectives first, then the
        cells not yet seen at two whole numbers pushed together (all up, all down, then some
        up and some down)."""
        n = programme.columns

        def solve(objective: np.ndarray) -> bool:
            return self.add(programme.solve(objective))

        def left() -> np.ndarray:  # 1.0 for every cell not yet seen apart
            return self.waiting().astype(float)

        rng = np.random.default_rng(0)
        for _ in range(3):
            objective = rng.normal(size=n)
            solve(objective)
            solve(-objective)
        for _ in range(4):  # push every cell not yet seen apart up, then down, together
            waiting = left()
            if not waiting.any():
                break
            before = waiting.sum()
            solve(-waiting * (1 + rng.random(n)))
            solve(waiting * (1 + rng.random(n)))
            if left().sum() == before:
                break
        misses = 0
        for _ in range(10):  # some up and some down: cells a total ties together part ways
            waiting = left()
            if not waiting.any() or misses == 2:
                break
            before = waiting.sum()
            signs = rng.choice([-1.0, 1.0], size=n)
            solve(signs * waiting * (1 + rng.random(n)))
            misses += int(left().sum() == before)

    def explore(self, programme: _Programme, index: np.ndarray, truth: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, each: bool) -> None:
        """Points of a part's `programme` (over the cells `index`, their true values `truth`
        and bounds `lower`, `upper`; the true values are seen already): the cells not yet
        seen apart each pushed one whole number up from its true value, all at once, then
        down, while that finds more; with `each`, then each cell still not seen apart to its
        greatest and least value (unbounded above: not pinned)."""
        def left() -> np.ndarray:
            return self.waiting()[index]

        def solve(objective: np.ndarray) -> bool:
            return self.add(programme.solve(objective), index)

        for _ in range(_PUSHES):
            before = int(left().sum())
            for sign in (1.0, -1.0):  # at most one up (down) each: the room goes round
                waiting = left()
                if not waiting.any():
                    return
                capped = (np.where(waiting, np.maximum(lower, truth - 1), lower), upper) \
                    if sign < 0 else (lower, np.where(waiting, np.minimum(upper, truth + 1),
                                                      upper))
                programme.bounds(*capped)
                solve(-sign * waiting.astype(float))
            if int(left().sum()) == before:
                break
        if not each:
            return
        programme.bounds(lower, upper)
        for j in np.flatnonzero(left()):
            i = index[j]
            if self.apart(i):
                continue
            unit = np.zeros(programme.columns)
            unit[j] = 1.0
            if not solve(-unit):
                if programme.unbounded():  # so is the whole programme: not pinned
                    self.high[i] = np.inf
                continue
            if not self.apart(i):
                solve(unit)


class _Chain:
    """What one round of `_Problem.augment` learns of the chains of relations that bounded
    the cells found (relation → the relations that bounded its hidden members, as the round's
    propagation left them). The chains stay as they are all round: a cell hidden in it was
    published when they were made, so nothing bounded it. Cells are only hidden, never shown:

    * `dead`: relations whose chain holds no published non-zero cell, found so as the round
      went; none will hold one later in the round;
    * `reaches_small`: for each relation, whether its chain holds a small cell; the same
      from the round's first step on (a small cell is shown as "x" only as that step).

    `narrow`: the round is past its first step, where only a cell to hide is an answer."""

    def __init__(self, problem: _Problem, sources: tuple[np.ndarray, np.ndarray]):
        self.problem = problem
        self.sources = sources
        self.dead = np.zeros(len(problem.rel_eq), dtype=bool)
        self.narrow = False
        self._small: np.ndarray | None = None

    def died(self, levels: list[np.ndarray]) -> None:
        """A chain searched to its end held no cell to hide: nor do the relations it met."""
        for level in levels:
            self.dead[level] = True

    def reaches_small(self) -> np.ndarray:
        assert self.narrow, "the small cells change at the round's first step"
        if self._small is None:
            p = self.problem
            hidden = p.state[p.term_cell] > 0
            cells, rels = p.term_cell[hidden], p.term_rel[hidden]
            source = np.concatenate([s[cells] for s in self.sources])
            user = np.concatenate([rels, rels])
            linked = source >= 0  # user → source: the relation that bounded a member
            source, user = source[linked], user[linked]
            reach = np.zeros(len(p.rel_eq), dtype=bool)
            reach[p.term_rel[p.state[p.term_cell] == _SMALL]] = True
            while (new := reach[source] & ~reach[user]).any():
                reach[user[new]] = True
            self._small = reach
        return self._small


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
        lengths: list[np.ndarray] = []
        eq: list[bool] = []
        const: list[float] = []
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
            rows = np.flatnonzero(holds & touches)  # one instance each, in unit order
            keep = there[rows]
            cells.append(ids[rows][keep])
            coefs.append(np.broadcast_to(coef, keep.shape)[keep])
            lengths.append(keep.sum(axis=1))
            eq += [relation.op == "=="] * len(rows)
            const += [relation.const] * len(rows)
        # town = Σ units: the units' cells, then the town cell (row n_units of cell_id)
        ids = self.cell_id[:, town_cols].T
        keep = ids >= 0
        cells.append(ids[keep])
        counts = keep.sum(axis=1)
        town = -np.ones(int(counts.sum()))
        town[np.cumsum(counts) - 1] = 1.0
        coefs.append(town)
        lengths.append(counts)
        eq += [True] * len(town_cols)
        const += [0.0] * len(town_cols)
        sizes = np.concatenate(lengths).astype(int)
        self.rel_start = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.term_cell = np.concatenate(cells).astype(int)
        self.term_coef = np.concatenate(coefs).astype(float)
        self.term_rel = np.repeat(np.arange(len(sizes)), sizes)
        self.rel_eq = np.array(eq, dtype=bool)
        self.rel_const = np.array(const, dtype=float)
        # the terms and relations of each cell, in relation order:
        # `cell_rel[cell_start[c]:cell_start[c + 1]]`
        self.cell_term = np.argsort(self.term_cell, kind="stable")
        self.cell_rel = self.term_rel[self.cell_term]
        self.cell_start = np.searchsorted(self.term_cell[self.cell_term],
                                          np.arange(len(self.value) + 1))
        self._rel_scratch = np.zeros(len(self.rel_eq), dtype=np.int64)  # for `_distinct`
        self._cell_scratch = np.zeros(len(self.value), dtype=np.int64)

    def members(self, relation: int) -> list[int]:
        return self.term_cell[self.rel_start[relation]:self.rel_start[relation + 1]].tolist()

    def relations_of(self, cell: int) -> list[int]:
        return self.cell_rel[self.cell_start[cell]:self.cell_start[cell + 1]].tolist()

    def member_array(self, relations: np.ndarray) -> np.ndarray:
        """The members of `relations`, one relation after the other (repeats kept)."""
        return _gather(self.term_cell, self.rel_start[relations], self.rel_start[relations + 1])

    def relation_array(self, cells: np.ndarray) -> np.ndarray:
        """The relations of `cells`, one cell after the other (repeats kept)."""
        return _gather(self.cell_rel, self.cell_start[cells], self.cell_start[cells + 1])

    # ------------------------------------------------------------------ choosing

    def hide(self, cell: int) -> None:
        if self.state[cell] == _PUBLISHED:
            self.count[self.relations_of(cell)] += 1
        self.state[cell] = _HIDDEN

    def costs(self, cells: np.ndarray) -> np.ndarray:
        """How many equalities hiding each of `cells` would leave with one hidden member."""
        relations = self.relation_array(cells)
        open_ = self.rel_eq[relations] & (self.count[relations] == 0)
        lengths = self.cell_start[cells + 1] - self.cell_start[cells]
        owner = np.repeat(np.arange(len(cells)), lengths)
        return np.bincount(owner, weights=open_, minlength=len(cells))

    def best(self, cells: np.ndarray | Iterable[int]) -> int | None:
        """The published non-zero cell to hide next among `cells`: a sensitive unit cell
        before another unit cell before a town total, then the one that leaves fewest
        equalities to protect in turn, then the smallest value."""
        if not isinstance(cells, np.ndarray):
            cells = np.fromiter(cells, dtype=np.int64)
        free = cells[(self.state[cells] == _PUBLISHED) & (self.value[cells] > 0)]
        if not len(free):
            return None
        tier = self.tier[free]
        free = free[tier == tier.min()]  # repeats are harmless: equal cells tie
        if len(free) == 1:
            return int(free[0])
        return int(free[np.lexsort((free, self.value[free], self.costs(free)))[0]])

    def choose(self, relation: int) -> int | None:
        return self.best(self.term_cell[self.rel_start[relation]:self.rel_start[relation + 1]])

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
        # only a relation with a hidden member bounds anything
        terms = np.flatnonzero(self.count[self.term_rel] > 0)
        cell, coef, rel = self.term_cell[terms], self.term_coef[terms], self.term_rel[terms]
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
        """Hidden cells linked through relations, by group: each group is its own programme.
        Keyed by its first cell, groups in the order of their first cells, cells in order."""
        hidden = np.flatnonzero(self.state > 0)
        mask = self.state[self.term_cell] > 0
        rels, cells = self.term_rel[mask], self.term_cell[mask]  # in relation order
        # every cell takes the least cell it is linked to, hop by hop, to a fixed point
        label = np.arange(len(self.value))
        if len(rels):
            by_rel = np.flatnonzero(np.diff(rels, prepend=-1))
            per_rel = np.diff(np.append(by_rel, len(rels)))
            order = np.argsort(cells, kind="stable")
            by_cell = np.flatnonzero(np.diff(cells[order], prepend=-1))
            owners = cells[order][by_cell]
            while True:
                least = np.repeat(np.minimum.reduceat(label[cells], by_rel), per_rel)
                linked = np.minimum.reduceat(least[order], by_cell)
                new = label.copy()
                new[owners] = np.minimum(label[owners], linked)
                new = new[new]  # a least cell's own least cell
                if np.array_equal(new, label):
                    break
                label = new
        first = label[hidden]
        order = np.argsort(first, kind="stable")
        bounds = np.flatnonzero(np.diff(first[order], prepend=-1))
        members = np.split(hidden[order], bounds[1:])
        return {int(group[0]): group.tolist() for group in members if len(group)}

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
        mark. First feasible points: a cell seen at two whole numbers in them is not pinned
        (`_Witnesses`). Then for each cell still not seen apart its maximum and minimum; every
        solution found counts for every cell. Only the last decide (a cell is pinned by its
        own least and greatest value, and its proof is theirs): the points only spare solves
        for cells that are not pinned, so how they were found changes nothing found."""
        rels = list(dict.fromkeys(r for c in members for r in self.relations_of(c)))
        eq_rows = [r for r in rels if self.rel_eq[r]]
        ub_rows = [r for r in rels if not self.rel_eq[r]]
        # inequalities first, as the audit always gave them to HiGHS: the order steers which
        # of several equally good proofs it finds
        rows = ub_rows + eq_rows
        seen = _Witnesses(len(members))
        programme: _Programme | None = None

        def whole() -> _Programme:  # the group's programme, made when first needed
            nonlocal programme
            if programme is None:
                programme = _Programme(*self._rows(rows, {c: i for i, c in enumerate(members)}),
                                       len(ub_rows), lo[members], hi[members])
            return programme

        if len(members) > _PART_CELLS:
            self._points_by_parts(np.array(members), lo, hi, seen)
        else:  # a small group: a few objectives over the whole programme
            seen.search(whole())

        def solve(objective: np.ndarray, fresh: bool = False) -> bool:
            """Whether min objective · x has an optimum; it counts for every cell."""
            return seen.add(whole().solve(objective, fresh))

        found: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for i, cell in enumerate(members):
            if seen.apart(i):
                continue
            unit = np.zeros(len(members))
            unit[i] = 1.0
            if not solve(-unit) or seen.apart(i):
                continue  # unbounded above, or not pinned
            if not solve(unit) or seen.apart(i):
                continue
            # Pinned: its proof from solves from scratch. At a degenerate optimum the duals
            # depend on the basis HiGHS starts from, and the proof must not depend on which
            # objectives came before.
            if not solve(-unit, fresh=True):
                continue
            highest = whole().duals()
            if not solve(unit, fresh=True):
                continue
            proof, widen = [], []
            for row_dual, upper_dual in (whole().duals(), highest):  # lowest, then highest
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

    def _points_by_parts(self, members: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                         seen: _Witnesses) -> None:
        """Feasible points of a large group's programme, found part by part: the true values
        (every relation holds on them), then for a few units at a time (and the group's
        hidden town totals) a programme where every other cell keeps its true value; each of
        its points is one of the whole programme. A part's cells are pushed one whole number
        from their true values, all at once. A cell whose freedom lies in other units is
        then pushed so over the whole programme, every other cell moving as little as it can:
        the units that move are where the room is, and the cells still left have a part of
        their own units and those, to their greatest and least value one by one. What is
        left after that is for the caller's solves over the whole programme."""
        seen.add(self.value[members])
        town = self.unit_of[members] < 0
        position = np.full(len(self.value), -1)
        position[members] = np.arange(len(members))
        lhs = np.bincount(self.term_rel, weights=self.term_coef * self.value[self.term_cell],
                          minlength=len(self.rel_eq))
        unit_members, town_members = members[~town], members[town]
        units = self.unit_of[unit_members]  # members are in cell order: by unit
        runs = np.concatenate([[0], np.flatnonzero(np.diff(units)) + 1, [len(units)]])

        def part(cells: np.ndarray, each: bool) -> None:
            index = position[cells]
            if seen.waiting()[index].any():
                seen.explore(self._part(cells, lhs, lo, hi), index, self.value[cells],
                             lo[cells], hi[cells], each)

        for first, last in _chunks(runs, _PART_CELLS):
            part(np.concatenate([unit_members[first:last], town_members]), each=False)
        for _ in range(_ROOM_ROUNDS):
            left = int(seen.waiting().sum())
            if not left:
                return
            before = np.isin(units, np.unique(units[seen.waiting()[position[unit_members]]]))
            moved = self._push_whole(members, lhs, lo, hi, seen)
            waiting = seen.waiting()[position[unit_members]]
            if waiting.any():
                # the room: units that moved for others (a unit with cells to push moves for
                # them)
                room = np.isin(units, self.unit_of[moved]) & ~before
                chosen = np.isin(units, np.unique(units[waiting])) & ~room
                left_members, left_units = unit_members[chosen], units[chosen]
                left_runs = np.concatenate([[0], np.flatnonzero(np.diff(left_units)) + 1,
                                            [len(left_units)]])
                for first, last in _chunks(left_runs, 2 * _PART_CELLS):
                    part(np.concatenate([left_members[first:last], unit_members[room],
                                         town_members]), each=True)
            if int(seen.waiting().sum()) == left:
                return

    def _push_whole(self, members: np.ndarray, lhs: np.ndarray, lo: np.ndarray,
                    hi: np.ndarray, seen: _Witnesses) -> np.ndarray:
        """The group's cells not yet seen apart pushed one whole number up from their true
        values, all at once, over the whole programme, then down; every cell's move costs a
        little, so that only what must move does. The points count; returns the cells that
        moved."""
        truth = self.value[members]
        waiting = seen.waiting()
        (row, column, coef), rhs, n_ub = self._part_rows(members, lhs)
        n = len(members)
        # x = truth + up − down, up and down ≥ 0: Σ coef · (up − down) op const − lhs
        up_room, down_room = hi[members] - truth, truth - lo[members]
        programme = _Programme(
            (np.concatenate([row, row]), np.concatenate([column, column + n]),
             np.concatenate([coef, -coef])), rhs, n_ub,
            np.zeros(2 * n), np.concatenate([up_room, down_room]))
        moved = np.zeros(n, dtype=bool)
        for side in (0, 1):  # up, then down
            capped = np.concatenate([up_room, down_room])
            capped[side * n:(side + 1) * n][waiting] = np.minimum(
                capped[side * n:(side + 1) * n][waiting], 1.0)
            programme.bounds(np.zeros(2 * n), capped)
            cost = np.full(2 * n, _MOVE_COST)
            cost[side * n:(side + 1) * n][waiting] -= 1.0
            x = programme.solve(cost)
            if x is None:
                continue
            point = truth + x[:n] - x[n:]
            seen.add(point)
            moved |= np.abs(point - truth) > 1e-6
            waiting = seen.waiting()
        return members[moved]

    def _part_rows(self, cells: np.ndarray, lhs: np.ndarray
                   ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, int]:
        """The relations of `cells` over them alone (inequalities first): (row, column,
        coefficient) triplets, const − each relation's left-hand side on the true values
        (`lhs`), and how many inequalities."""
        terms = _gather(self.cell_term, self.cell_start[cells], self.cell_start[cells + 1])
        rels = np.unique(self.term_rel[terms])
        rels = np.concatenate([rels[~self.rel_eq[rels]], rels[self.rel_eq[rels]]])
        row_of = np.full(len(self.rel_eq), -1)
        row_of[rels] = np.arange(len(rels))
        column_of = np.full(len(self.value), -1)
        column_of[cells] = np.arange(len(cells))
        triplets = (row_of[self.term_rel[terms]], column_of[self.term_cell[terms]],
                    self.term_coef[terms])
        return triplets, self.rel_const[rels] - lhs[rels], int((~self.rel_eq[rels]).sum())

    def _part(self, cells: np.ndarray, lhs: np.ndarray, lo: np.ndarray, hi: np.ndarray
              ) -> _Programme:
        """The programme over `cells` alone, every other cell at its true value (`lhs`:
        each relation's left-hand side on the true values)."""
        (row, column, coef), slack, n_ub = self._part_rows(cells, lhs)
        # Σ over the part's cells op const − Σ over the others at their true values
        rhs = slack + np.bincount(row, weights=coef * self.value[cells][column],
                                  minlength=len(slack))
        return _Programme((row, column, coef), rhs, n_ub, lo[cells], hi[cells])

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

    def _levels(self, causes: list[int], follow, dead: np.ndarray | None = None
                ) -> Iterator[np.ndarray]:
        """Relations by distance from a cell: its causes, then what `follow` gives for the
        hidden members of the level before (each level without repeats, in no order; made as
        asked for). `dead`: relations left out, and so what only they lead to."""
        seen = np.zeros(len(self.rel_eq), dtype=bool) if dead is None else dead.copy()
        level = _distinct(np.asarray(causes, dtype=np.int64), self._rel_scratch)
        level = level[~seen[level]]
        while len(level):
            seen[level] = True
            yield level
            members = self.member_array(level)
            hidden = _distinct(members[self.state[members] > 0], self._cell_scratch)
            following = follow(hidden)
            level = _distinct(following[~seen[following]], self._rel_scratch)

    def remedy(self, cell: int, how: str, causes: list[int], given: list[int],
               widen: list[int], sources: tuple[np.ndarray, np.ndarray],
               chain: _Chain | None = None) -> tuple[int | None, bool]:
        """The cell to hide next so that `cell` is no longer found, and whether it is a small
        cell to show as "x" (no upper bound) rather than a published cell to hide.

        Found exactly: the best published cell of the proof, else its largest small cell
        whose upper bound the proof uses. Then, as for a cell found by propagation: the
        nearest relation, along the chain that bounded it, with a published non-zero member
        gives its best one; with none, the nearest small cell of the chain (its largest); then
        the same over every relation linked to it through hidden cells.

        `chain`: what earlier steps of the round learnt of the chains (`_Chain`); with
        `chain.narrow`, a small cell is never the answer: None instead."""
        if how == "exact":
            if (best := self.best(given)) is not None:
                return best, False
            if widen:
                return max(widen, key=lambda m: (self.value[m], -m)), True

        def bounded_by(cells: np.ndarray) -> np.ndarray:
            found = np.concatenate([s[cells] for s in sources])
            return found[found >= 0]

        chain = chain or _Chain(self, sources)
        for follow in (bounded_by, self.relation_array):  # the chain, then everything linked
            along = follow is bounded_by
            levels = []
            for level in self._levels(causes, follow, chain.dead if along else None):
                levels.append(level)
                best = self.best(self.member_array(level))
                if best is not None:
                    return best, False
            if along:
                chain.died(levels)
                if chain.narrow:
                    if chain.reaches_small()[causes].any():
                        return None, False  # its answer would be a small cell
                    continue
                # the levels without the dead relations left out
                levels = list(self._levels(causes, follow))
            elif chain.narrow:
                return None, False
            for level in levels:
                members = self.member_array(level)
                small = members[self.state[members] == _SMALL]
                if len(small):  # the largest, the first of equals
                    return int(small[np.lexsort((-small, self.value[small]))[-1]]), True
        return None, False

    def augment(self, found: dict[int, tuple[str, list[int], list[int], list[int]]],
                sources: tuple[np.ndarray, np.ndarray]) -> None:
        """One step for each cell found whose relations nothing changed yet this round (the
        next audit says what is left; a wider mark only as the round's first step, on fresh
        bounds); a cell nothing can protect is set aside as unresolved."""
        touched: set[int] = set()
        first = True
        chain = _Chain(self, sources)
        for cell, (how, causes, given, widen) in found.items():
            if touched & (set(causes) | set(self.relations_of(cell))):
                continue
            chain.narrow = not first
            choice, wider = self.remedy(cell, how, causes, given, widen, sources, chain)
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
