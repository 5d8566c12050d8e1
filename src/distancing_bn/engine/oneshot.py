"""Exact queries of a small network, planned and run in one go (no arrays kept between queries).

A :class:`~.propagate.JunctionTree` pays, once, for matrices that make every later query a
few BLAS products: worth it for a network queried many times. A network made for one set of
answers (:mod:`.relevance`) is queried once or a few times, so here the plan is only the
cliques, the tree and which table goes where, and a query multiplies the tables themselves:

* every variable that is not an answered question without children (nor the premise) is an
  axis; its table enters its clique as it is, times its likelihood if it has one;
* an answered question without children enters as ``Σ_a P(a | parents) λ(a)``, a factor over
  its parents (one product per question), the premise as its table at the premise's state;
* clique potentials are :func:`numpy.einsum` products over the clique's axes and a row axis,
  messages are sums onto separators (collect), then the Hugin update (distribute); every
  potential and message is divided by its row's total, the logs of those totals summed into
  ``log P(e)``, so nothing underflows and ``log P(e)`` is exact;
* when every clique's belief together would exceed :data:`LEAN_BYTES`, a query is *lean*: the
  collect pass keeps only its messages (separator-sized) and the root's belief, and the
  distribute pass makes each clique's belief again, root first, from its tables and every
  message into it, takes its marginals and its children's messages, and drops it. At most one
  clique's belief (and the messages) is held at a time, for about twice the products.

The results equal the junction tree's (tests/test_relevance.py). Layer 3 of
:mod:`distancing_bn.engine`: imports :mod:`.kernels`, :mod:`.plan`, :mod:`.propagate`
(:class:`~.propagate.QueryResult`) and :mod:`distancing_bn.network`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..network import Network
from .kernels import FLOAT_BYTES, FloatArray, row_normalise, safe_div
from .plan import host_of, merge_small_cliques, spanning_tree, triangulate_quick
from .propagate import QueryResult

__all__ = ["OneShotPlan", "plan_one_shot"]

_CHUNK = 8  # factors multiplied in one einsum before the product is rescaled
_MERGE = 512  # neighbouring cliques are merged while their union has at most this many states (fewer calls)
LEAN_BYTES = 16 << 20  # beliefs of every clique beyond this (per query): keep none, make each again when needed


@dataclass(frozen=True, eq=False)
class _Factor:
    kind: str  # "family" (a variable's table over its parents and itself), "leaf", "premise"
    var: str
    labels: tuple[int, ...]  # the table's axes as labels of its host clique
    table: FloatArray


@dataclass(frozen=True, eq=False)
class _Clique:
    axes: tuple[int, ...]  # axis ids (sorted)
    shape: tuple[int, ...]
    row: int  # the row axis's label in this clique's einsums (its variables are 0 … row - 1)
    labels: list[int]  # [row, 0, …]
    factors: tuple[_Factor, ...]
    covered: bool  # the factors' axes cover the clique (else a block of ones joins the product)
    parent: int
    up: list[int]  # labels of the separator with the parent, in this clique
    children: tuple[int, ...]
    down: tuple[list[int], ...]  # per child: labels of its separator, in this clique


@dataclass(frozen=True, eq=False)
class OneShotPlan:
    """Cliques, tree and table placement for one network and one set of answered variables.

    Attributes
    ----------
    states
        Total clique states.
    cliques
        The cliques, root first.
    """

    network: Network
    axes: tuple[str, ...]
    cards: tuple[int, ...]
    cliques: tuple[_Clique, ...]  # root first: the collect pass runs backwards
    home: Mapping[str, int]  # axis variable -> its smallest clique
    states: int
    _stacked: dict[object, object] = field(default_factory=dict)  # stacked marginal matrices; "uses": queries run

    @property
    def work(self) -> int:
        """Clique states times the tables multiplied into them, summed: the cost of a query per row.

        Every table placed in a clique is a product over the clique's states for every row, so a
        clique holding 40 questions costs about 40 times its states, not its states once.
        """
        return sum(math.prod(c.shape) * (1 + len(c.factors)) for c in self.cliques)

    def query(
        self, likelihoods: Mapping[str, FloatArray], rows: int, wanted: Sequence[str], *, joint: bool = False
    ) -> QueryResult:
        """``log P(e)``, the marginals of ``wanted`` and (``joint``) the targets' joint, for every row."""
        log_scale = np.zeros(rows)
        cliques = self.cliques
        lean = FLOAT_BYTES * self.states * rows > LEAN_BYTES
        belief: list[FloatArray | None] = [None] * len(cliques)
        up: list[FloatArray] = [None] * len(cliques)  # type: ignore[list-item]
        for k in range(len(cliques) - 1, -1, -1):  # collect: children (later) before parents
            c = cliques[k]
            b = self._potential(
                c, likelihoods, rows, log_scale, [(up[ch], c.down[j]) for j, ch in enumerate(c.children)]
            )
            if k == 0 or not lean:
                belief[k] = b
            if c.parent >= 0:
                msg = np.einsum(b, c.labels, c.up)
                s = msg.reshape(rows, -1).sum(axis=1)
                s = np.where(s > 0, s, 1.0)
                up[k] = msg / s.reshape(-1, *([1] * (msg.ndim - 1)))
                log_scale += np.log(s)
            del b
        root_belief = belief[0]
        assert root_belief is not None
        total = root_belief.reshape(rows, -1).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_evidence = log_scale + np.log(total)
        target_joint = None
        if joint:
            root = cliques[0]
            local = [root.axes.index(self.axes.index(t)) for t in self.network.targets]
            tj = np.einsum(root_belief, root.labels, [root.row, *local]).reshape(rows, -1)
            target_joint = row_normalise(tj).reshape(rows, *(self.cards[root.axes[i]] for i in local))
        out: dict[str, FloatArray] = {}
        if wanted:
            by_clique: dict[int, list[str]] = {}
            for w in wanted:
                by_clique.setdefault(self.home[w], []).append(w)
            if lean:
                self._distribute_lean(belief, up, by_clique, likelihoods, rows, out)
                return QueryResult(log_evidence, out, target_joint)
            if set(by_clique) != {0}:
                self._distribute(belief, up, set(by_clique), rows)  # type: ignore[arg-type]
            reused = self._stacked.setdefault("uses", 0) > 0  # type: ignore[call-overload]
            self._stacked["uses"] += 1  # type: ignore[index, operator]
            for k, names in by_clique.items():
                b = belief[k]
                assert b is not None
                if not reused:  # a plan queried once: sum each marginal out (no matrix to build)
                    self._marginals_of(k, b, names, out)
                    continue
                matrix, bounds = self._stacked_marginals(k, tuple(names))
                flat = b.reshape(rows, -1) @ matrix
                for name, lo, hi in zip(names, bounds, bounds[1:], strict=False):
                    out[name] = row_normalise(flat[:, lo:hi])
        return QueryResult(log_evidence, out, target_joint)

    def _marginals_of(self, k: int, b: FloatArray, names: Sequence[str], out: dict[str, FloatArray]) -> None:
        """The marginals of ``names`` summed out of clique ``k``'s belief ``b``, into ``out``."""
        c = self.cliques[k]
        for name in names:
            pos = c.axes.index(self.axes.index(name))
            others = tuple(1 + i for i in range(len(c.shape)) if i != pos)
            out[name] = row_normalise(b.sum(axis=others) if others else b)

    def _distribute_lean(
        self,
        belief: list[FloatArray | None],
        up: list[FloatArray],
        by_clique: Mapping[int, Sequence[str]],
        lam: Mapping[str, FloatArray],
        rows: int,
        out: dict[str, FloatArray],
    ) -> None:
        """The distribute pass of a lean query: each belief made again, used and dropped (root first)."""
        cliques = self.cliques
        on_path = self._path_to(by_clique)
        down: dict[int, FloatArray] = {}  # messages from parents not yet used
        scratch = np.zeros(rows)  # the scales of a belief made again: they cancel in the marginals
        for k, c in enumerate(cliques):  # root first: a parent before its children
            if k not in on_path:
                continue
            if k == 0:
                b = belief[0]
                belief[0] = None
            else:
                messages = [(up[ch], c.down[j]) for j, ch in enumerate(c.children)]
                b = self._potential(c, lam, rows, scratch, [*messages, (down.pop(k), c.up)])
            assert b is not None
            self._marginals_of(k, b, by_clique.get(k, ()), out)
            for j, ch in enumerate(c.children):
                if ch in on_path:
                    down[ch] = self._down(b, c, j, up[ch], rows)
            del b

    def _potential(
        self,
        c: _Clique,
        lam: Mapping[str, FloatArray],
        rows: int,
        log_scale: FloatArray,
        messages: Sequence[tuple[FloatArray, list[int]]],
    ) -> FloatArray:
        """The clique's tables (answers absorbed) times its children's messages, rescaled per row."""
        operands: list[object] = []
        has_row = False
        count = 0
        for f in c.factors:
            if f.kind == "leaf":
                a = lam[f.var]
                if rows == 1:
                    values = a[0].tolist()
                    if values.count(1.0) == 1 and values.count(0.0) == len(values) - 1:  # hard: pick the column
                        operands += [f.table[..., values.index(1.0)], list(f.labels)]
                        count += 1
                        continue
                t = f.table.reshape(-1, f.table.shape[-1]) @ a.T  # Σ_a P(a | parents) λ(a): (parents, rows)
                operands += [np.moveaxis(t.reshape(*f.table.shape[:-1], rows), -1, 0), [c.row, *f.labels]]
                has_row = True
            elif f.kind == "family" and f.var in lam:
                operands += [f.table, list(f.labels), lam[f.var], [c.row, f.labels[-1]]]
                has_row = True
            else:
                operands += [f.table, list(f.labels)]
            count += 1
            if count == _CHUNK and len(c.factors) > _CHUNK:  # rescale before a long product can underflow
                pot = self._rescaled(operands, c, rows, has_row, log_scale, partial=True)
                operands, count, has_row = [pot, c.labels], 0, True
        for m, labels in messages:
            operands += [m, labels]
            has_row = True
        pot = self._rescaled(operands, c, rows, has_row, log_scale)
        return pot

    @staticmethod
    def _rescaled(
        operands: list[object], c: _Clique, rows: int, has_row: bool, log_scale: FloatArray, *, partial: bool = False
    ) -> FloatArray:
        """The einsum of ``operands`` over the clique and the rows, divided by each row's largest entry.

        ``partial``: only some of the clique's factors are in ``operands`` (they may not cover it).
        """
        if not has_row:
            operands = [*operands, np.ones(rows), [c.row]]
        covered = c.covered
        if partial:
            seen: set[int] = set()
            for labels in operands[1::2]:
                seen.update(labels)  # type: ignore[call-overload]
            covered = seen.issuperset(c.labels)
        if not covered:
            operands = [*operands, np.ones(c.shape), c.labels[1:]]
        pot = np.einsum(*operands, c.labels)
        top = pot.reshape(rows, -1).max(axis=1)
        top = np.where(top > 0, top, 1.0)
        log_scale += np.log(top)
        pot /= top.reshape(-1, *([1] * len(c.shape)))  # in place: no second clique-sized array
        return pot

    def _distribute(self, belief: list[FloatArray], up: list[FloatArray], need: set[int], rows: int) -> None:
        """Hugin updates from the root towards the cliques in ``need`` only."""
        cliques = self.cliques
        on_path = self._path_to(need)
        for k, c in enumerate(cliques):
            if k not in on_path:
                continue
            for j, ch in enumerate(c.children):
                if ch not in on_path:
                    continue
                cc = cliques[ch]
                down = self._down(belief[k], c, j, up[ch], rows)
                belief[ch] = np.einsum(belief[ch], cc.labels, down, cc.up, cc.labels)

    def _path_to(self, need: Iterable[int]) -> set[int]:
        """The cliques on the paths from the root to those in ``need``."""
        on_path: set[int] = set()
        for k in need:
            while k >= 0 and k not in on_path:
                on_path.add(k)
                k = self.cliques[k].parent
        return on_path

    @staticmethod
    def _down(b: FloatArray, c: _Clique, j: int, up_child: FloatArray, rows: int) -> FloatArray:
        """The Hugin message from clique ``c`` (belief ``b``) to its ``j``-th child, divided by its row's total."""
        down = safe_div(np.einsum(b, c.labels, c.down[j]), up_child)
        s = down.reshape(rows, -1).sum(axis=1)
        return down / np.where(s > 0, s, 1.0).reshape(-1, *([1] * (down.ndim - 1)))

    def _stacked_marginals(self, k: int, names: tuple[str, ...]) -> tuple[FloatArray, list[int]]:
        """0/1 matrix (clique states × Σ cards) giving the marginals of ``names`` side by side (cached)."""
        key = (k, names)
        hit = self._stacked.get(key)  # type: ignore[assignment]
        if hit is None:
            c = self.cliques[k]
            configs = np.indices(c.shape).reshape(len(c.shape), -1).T if c.shape else np.zeros((1, 0), dtype=np.intp)
            blocks, bounds = [], [0]
            for name in names:
                pos = c.axes.index(self.axes.index(name))
                card = self.cards[c.axes[pos]]
                m = np.zeros((configs.shape[0], card))
                m[np.arange(configs.shape[0]), configs[:, pos]] = 1.0
                blocks.append(m)
                bounds.append(bounds[-1] + card)
            hit = self._stacked[key] = (np.ascontiguousarray(np.hstack(blocks)), bounds)
        return hit


def plan_one_shot(network: Network, answered: Sequence[str], wanted: Sequence[str], *, joint: bool) -> OneShotPlan:
    """Plan :class:`OneShotPlan` queries of ``network`` with likelihoods given for ``answered``.

    Answered variables without children become factors over their parents (not axes) unless
    they are wanted; every other variable is an axis. With ``joint``, the targets share one
    clique (the root). Neighbouring cliques are merged while small (:data:`_MERGE` states).
    """
    net = network
    has_child = {p for v in net.variables for p in net.parents[v]}
    given = set(answered)
    want = set(wanted) | (set(net.targets) if joint else set())
    observed = net.observed
    axes = [v for v in net.variables if not (v not in has_child and v not in want and (v in given or v in observed))]
    axis = {v: i for i, v in enumerate(axes)}
    cards = tuple(net.card(v) for v in axes)
    raw: list[tuple[str, str, tuple[int, ...], FloatArray]] = []
    for v in net.variables:
        table = np.asarray(net.cpts[v])
        ps = tuple(axis[p] for p in net.parents[v])
        if v in axis:
            raw.append(("family", v, (*ps, axis[v]), table))
            if v in observed:  # a premise asked for: its state, as a factor on its own axis
                raw.append(("premise", v, (axis[v],), np.eye(net.card(v))[net.states[v].index(observed[v])]))
        elif v in observed:
            at = np.array(table[..., net.states[v].index(observed[v])])  # (ascontiguousarray makes 0-d arrays 1-d)
            raw.append(("premise", v, ps, at))
        else:
            raw.append(("leaf", v, ps, table))
    adj: dict[int, set[int]] = {i: set() for i in range(len(axes))}
    scopes = [set(scope) for _, _, scope, _ in raw]
    targets = {axis[t] for t in net.targets} if joint else set()
    for scope in [*scopes, targets]:
        for a, b in itertools.combinations(scope, 2):
            adj[a].add(b)
            adj[b].add(a)
    cliques = merge_small_cliques(triangulate_quick(adj, cards) or [()], cards, _MERGE, targets)
    sets = [frozenset(c) for c in cliques]
    sizes = [math.prod(cards[i] for i in c) for c in cliques]
    if joint:
        root = min((k for k, c in enumerate(sets) if targets <= c), key=lambda k: sizes[k])
    else:
        root = max(range(len(cliques)), key=lambda k: sizes[k])
    tree = spanning_tree(sets, root)
    order = [root]
    for k in order:
        order.extend(tree[k][1])
    position = {k: i for i, k in enumerate(order)}  # cliques renumbered root first
    placed: list[list[tuple[str, str, tuple[int, ...], FloatArray]]] = [[] for _ in cliques]
    for f, scope in zip(raw, scopes, strict=True):
        placed[host_of(scope, sets, sizes, root)].append(f)
    built: list[_Clique] = []
    for k in order:
        members = tuple(sorted(cliques[k]))
        local = {a: i for i, a in enumerate(members)}
        row = len(members)
        parent, children = tree[k]
        factors = tuple(_Factor(kind, v, tuple(local[a] for a in scope), t) for kind, v, scope, t in placed[k])
        covered = set().union(*(set(f.labels) for f in factors)) == set(range(row)) if factors else row == 0
        sep_up = sorted(sets[k] & sets[parent]) if parent >= 0 else []
        built.append(
            _Clique(
                axes=members,
                shape=tuple(cards[a] for a in members),
                row=row,
                labels=[row, *range(row)],
                factors=factors,
                covered=covered,
                parent=position[parent] if parent >= 0 else -1,
                up=[row, *(local[a] for a in sep_up)],
                children=tuple(position[ch] for ch in children),
                down=tuple([row, *(local[a] for a in sorted(sets[k] & sets[ch]))] for ch in children),
            )
        )
    home: dict[str, int] = {}
    for i in sorted(range(len(built)), key=lambda i: math.prod(built[i].shape)):
        for a in built[i].axes:
            home.setdefault(axes[a], i)
    return OneShotPlan(network=net, axes=tuple(axes), cards=cards, cliques=tuple(built), home=home, states=sum(sizes))
