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
  ``log P(e)``, so nothing underflows and ``log P(e)`` is exact.

The results equal the junction tree's (tests/test_relevance.py). Layer 2 of
:mod:`distancing_bn.engine`: imports :mod:`.kernels`, :mod:`.plan` and
:mod:`distancing_bn.network`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..network import Network
from .kernels import FloatArray, row_normalise, safe_div
from .plan import host_of, spanning_tree, triangulate
from .propagate import QueryResult

__all__ = ["OneShotPlan", "plan_one_shot"]

_CHUNK = 8  # factors multiplied in one einsum before the product is rescaled


@dataclass(frozen=True, eq=False)
class _Factor:
    kind: str  # "family" (a variable's table over its parents and itself), "leaf", "premise"
    var: str
    scope: tuple[int, ...]  # axis ids, in the einsum's order for this factor
    table: FloatArray


@dataclass(frozen=True, eq=False)
class OneShotPlan:
    """Cliques, tree and table placement for one network and one set of answered variables.

    Attributes
    ----------
    states
        Total clique states (the cost of a query per row).
    cliques
        Per clique, its axis ids.
    """

    network: Network
    axes: tuple[str, ...]
    cards: tuple[int, ...]
    cliques: tuple[tuple[int, ...], ...]
    parent: tuple[int, ...]
    order: tuple[int, ...]  # root first
    root: int
    factors: tuple[tuple[_Factor, ...], ...]  # per clique
    home: Mapping[str, int]  # axis variable -> its smallest clique
    states: int

    def query(
        self, likelihoods: Mapping[str, FloatArray], rows: int, wanted: Sequence[str], *, joint: bool = False
    ) -> QueryResult:
        """``log P(e)``, the marginals of ``wanted`` and (``joint``) the targets' joint, for every row."""
        net = self.network
        row = len(self.axes)  # the row axis's label
        log_scale = np.zeros(rows)
        lam = {v: np.asarray(a, dtype=np.float64) for v, a in likelihoods.items()}
        pots: list[FloatArray] = []
        for k, clique in enumerate(self.cliques):
            operands: list[object] = [np.ones((rows, *(self.cards[i] for i in clique))), [row, *clique]]
            count = 0
            pot: FloatArray | None = None
            for f in self.factors[k]:
                operands += self._operand(f, lam, row)
                count += 1
                if count == _CHUNK:
                    pot = self._product(operands, [row, *clique], log_scale)
                    operands, count = [pot, [row, *clique]], 0
            pots.append(self._product(operands, [row, *clique], log_scale) if count or pot is None else pot)
        belief: list[FloatArray | None] = [None] * len(self.cliques)
        up: list[FloatArray | None] = [None] * len(self.cliques)
        seps = [self._separator(k) for k in range(len(self.cliques))]
        children: list[list[int]] = [[] for _ in self.cliques]
        for k, p in enumerate(self.parent):
            if p >= 0:
                children[p].append(k)
        for k in reversed(self.order):
            clique = self.cliques[k]
            operands = [pots[k], [row, *clique]]
            for ch in children[k]:
                operands += [up[ch], [row, *seps[ch]]]
            b = _einsum(*operands, [row, *clique]) if children[k] else pots[k]
            belief[k] = b
            if self.parent[k] >= 0:
                msg = _einsum(b, [row, *clique], [row, *seps[k]])
                s = msg.reshape(rows, -1).sum(axis=1)
                s = np.where(s > 0, s, 1.0)
                msg = msg / s.reshape(-1, *([1] * (msg.ndim - 1)))
                with np.errstate(divide="ignore"):
                    log_scale += np.log(s)
                up[k] = msg
        root_b = belief[self.root]
        assert root_b is not None
        total = root_b.reshape(rows, -1).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_evidence = log_scale + np.log(total)
        out: dict[str, FloatArray] = {}
        target_joint = None
        if joint:
            targets = [self.axes.index(t) for t in net.targets]
            tj = _einsum(root_b, [row, *self.cliques[self.root]], [row, *targets]).reshape(rows, -1)
            target_joint = row_normalise(tj).reshape(rows, *(self.cards[t] for t in targets))
        if wanted:
            need = {self.home[w] for w in wanted}
            if need - {self.root}:
                self._distribute(belief, up, seps, children, need, rows, row)
            for w in wanted:
                k = self.home[w]
                b = belief[k]
                assert b is not None
                m = _einsum(b, [row, *self.cliques[k]], [row, self.axes.index(w)])
                out[w] = row_normalise(m)
        return QueryResult(log_evidence, out, target_joint)

    def _operand(self, f: _Factor, lam: Mapping[str, FloatArray], row: int) -> list[object]:
        """The einsum operands of one factor: its table (with the row's answer absorbed or alongside)."""
        if f.kind == "leaf":
            a = lam[f.var]  # (rows, card): Σ_a P(a | parents) λ(a), parents first then the row
            t = f.table.reshape(-1, f.table.shape[-1]) @ a.T
            return [np.moveaxis(t.reshape(*f.table.shape[:-1], a.shape[0]), -1, 0), [row, *f.scope]]
        if f.kind == "family" and f.var in lam:
            return [f.table, list(f.scope), lam[f.var], [row, f.scope[-1]]]
        return [f.table, list(f.scope)]

    @staticmethod
    def _product(operands: list[object], out: list[int], log_scale: FloatArray) -> FloatArray:
        """The einsum of ``operands`` onto ``out``, divided by each row's largest entry (its log kept)."""
        pot = _einsum(*operands, out)
        rows = pot.shape[0]
        top = pot.reshape(rows, -1).max(axis=1)
        top = np.where(top > 0, top, 1.0)
        log_scale += np.log(top)
        return pot / top.reshape(-1, *([1] * (pot.ndim - 1)))

    def _separator(self, k: int) -> list[int]:
        p = self.parent[k]
        if p < 0:
            return []
        return sorted(set(self.cliques[k]) & set(self.cliques[p]))

    def _distribute(
        self,
        belief: list[FloatArray | None],
        up: list[FloatArray | None],
        seps: list[list[int]],
        children: list[list[int]],
        need: set[int],
        rows: int,
        row: int,
    ) -> None:
        """Hugin updates from the root towards the cliques in ``need`` only."""
        on_path: set[int] = set()
        for k in need:
            while k >= 0 and k not in on_path:
                on_path.add(k)
                k = self.parent[k]
        for k in self.order:
            if k not in on_path:
                continue
            b = belief[k]
            assert b is not None
            for ch in children[k]:
                if ch not in on_path:
                    continue
                down = _einsum(b, [row, *self.cliques[k]], [row, *seps[ch]])
                down = safe_div(down, up[ch])  # type: ignore[arg-type]
                s = down.reshape(rows, -1).sum(axis=1)
                down = down / np.where(s > 0, s, 1.0).reshape(-1, *([1] * (down.ndim - 1)))
                cb = belief[ch]
                assert cb is not None
                belief[ch] = _einsum(cb, [row, *self.cliques[ch]], down, [row, *seps[ch]], [row, *self.cliques[ch]])


def _einsum(*args: object) -> FloatArray:
    """:func:`numpy.einsum` in sublist form, the labels (any ints) renumbered from 0 (numpy takes < 52)."""
    *pairs, out = args
    labels: dict[int, int] = {}
    call: list[object] = []
    for i in range(0, len(pairs), 2):
        call.append(pairs[i])
        call.append([labels.setdefault(x, len(labels)) for x in pairs[i + 1]])  # type: ignore[attr-defined]
    call.append([labels[x] for x in out])  # type: ignore[attr-defined]
    return np.einsum(*call)  # type: ignore[no-any-return]


def plan_one_shot(network: Network, answered: Sequence[str], wanted: Sequence[str], *, joint: bool) -> OneShotPlan:
    """Plan :class:`OneShotPlan` queries of ``network`` with likelihoods given for ``answered``.

    Answered variables without children become factors over their parents (not axes) unless
    they are wanted; every other variable is an axis. With ``joint``, the targets share one
    clique (the root).
    """
    net = network
    has_child = {p for v in net.variables for p in net.parents[v]}
    given = set(answered)
    want = set(wanted) | (set(net.targets) if joint else set())
    observed = net.observed
    axes = [v for v in net.variables if not (v not in has_child and v not in want and (v in given or v in observed))]
    axis = {v: i for i, v in enumerate(axes)}
    cards = tuple(net.card(v) for v in axes)
    factors: list[_Factor] = []
    for v in net.variables:
        table = np.asarray(net.cpts[v])
        ps = tuple(axis[p] for p in net.parents[v])
        if v in axis:
            factors.append(_Factor("family", v, (*ps, axis[v]), table))
            if v in observed:  # a premise asked for: its state, as a factor on its own axis
                state = np.eye(net.card(v))[net.states[v].index(observed[v])]
                factors.append(_Factor("premise", v, (axis[v],), state))
        elif v in observed:
            at = np.array(table[..., net.states[v].index(observed[v])])  # (ascontiguousarray makes 0-d arrays 1-d)
            factors.append(_Factor("premise", v, ps, at))
        else:
            factors.append(_Factor("leaf", v, ps, table))
    adj: dict[int, set[int]] = {i: set() for i in range(len(axes))}
    scopes = [set(f.scope) for f in factors]
    if joint:
        scopes.append({axis[t] for t in net.targets})
    for scope in scopes:
        for a, b in itertools.combinations(scope, 2):
            adj[a].add(b)
            adj[b].add(a)
    cliques = triangulate(adj, cards) or [()]
    sets = [frozenset(c) for c in cliques]
    sizes = [math.prod(cards[i] for i in c) for c in cliques]
    if joint:
        targets = {axis[t] for t in net.targets}
        root = min((k for k, c in enumerate(sets) if targets <= c), key=lambda k: sizes[k])
    else:
        root = max(range(len(cliques)), key=lambda k: sizes[k])
    tree = spanning_tree(sets, root)
    placed: list[list[_Factor]] = [[] for _ in cliques]
    for f, scope in zip(factors, scopes, strict=False):
        placed[host_of(scope, sets, sizes, root)].append(f)
    order = [root]
    for k in order:
        order.extend(tree[k][1])
    home: dict[str, int] = {}
    for k in sorted(range(len(cliques)), key=lambda k: sizes[k]):
        for i in cliques[k]:
            home.setdefault(axes[i], k)
    return OneShotPlan(
        network=net,
        axes=tuple(axes),
        cards=cards,
        cliques=tuple(tuple(c) for c in cliques),
        parent=tuple(p for p, _ in tree),
        order=tuple(order),
        root=root,
        factors=tuple(tuple(p) for p in placed),
        home=home,
        states=sum(sizes),
    )
