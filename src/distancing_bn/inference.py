"""Exact batched inference on a compiled :class:`~distancing_bn.network.Network`.

The network is compiled once into a junction tree (moralise, triangulate by greedy min-fill,
join the maximal cliques by a maximum-weight spanning tree). Evidence is one likelihood matrix
per observable, shape ``(rows, states)``; the same two message passes (collect to the root,
distribute back) serve one row or a million, with every message normalised per row and the
scales kept in log space, so ``log P(e)`` is exact and nothing underflows.

Observable leaves (every question of our models) are not put in cliques: each one is absorbed
into the clique that holds its parents as one matrix product ``λ @ P(q | parents)ᵀ``, and a
question that no row answered costs nothing. When the targets' joint is small enough
(``joint_limit`` states), the targets are forced into the root clique, so one collect pass
gives ``P(targets, e)`` for top explanations and joint information gain.

Imports numpy and :mod:`network` only.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .network import Network

__all__ = ["Engine", "QueryResult", "compile_engine"]

FloatArray = NDArray[np.float64]
_RESCALE_EVERY = 8


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Raw batched results: every array has a leading row axis."""

    log_evidence: FloatArray  # (rows,) natural log of P(e); -inf where impossible
    marginals: Mapping[str, FloatArray]  # variable -> (rows, card)
    target_joint: FloatArray | None  # (rows, *target cards) in Engine.target_order, or None

    @property
    def possible(self) -> NDArray[np.bool_]:
        """Return a mask of the rows whose evidence has non-zero probability."""
        return np.isfinite(self.log_evidence)


@dataclass(eq=False)
class _Clique:
    vars: tuple[int, ...]
    cards: tuple[int, ...]
    potential: FloatArray
    parent: int = -1
    children: list[int] = field(default_factory=list)
    sep_shape: tuple[int, ...] = ()  # separator with the parent, laid out on this clique's axes
    sep_in_parent: tuple[int, ...] = ()  # the same separator laid out on the parent's axes
    sum_axes: tuple[int, ...] = ()  # axes of (rows, *cards) to sum for the message up
    leaves: list[tuple[int, FloatArray, tuple[int, ...]]] = field(default_factory=list)
    evidence: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)


class Engine:
    """A network compiled into a junction tree; query it with likelihood matrices."""

    def __init__(self, network: Network, *, joint_limit: int = 1 << 14) -> None:
        self.network = network
        net = network
        names = net.variables
        idx = net.index
        self.cards = tuple(net.card(v) for v in names)
        obs = set(net.observables)
        has_children = {p for v in names for p in net.parents[v]}
        self.leaf_vars = tuple(idx[v] for v in names if v in obs and v not in has_children)
        leaf_set = set(self.leaf_vars)
        core = [i for i in range(len(names)) if i not in leaf_set]
        adj: dict[int, set[int]] = {i: set() for i in core}

        def connect(group: Sequence[int]) -> None:
            for a, b in itertools.combinations(group, 2):
                adj[a].add(b)
                adj[b].add(a)

        for i in core:
            connect([i, *(idx[p] for p in net.parents[names[i]])])
        for i in self.leaf_vars:
            connect([idx[p] for p in net.parents[names[i]]])
        target_idx = [idx[t] for t in net.targets]
        joint_size = int(np.prod([self.cards[i] for i in target_idx]))
        self.has_joint = joint_size <= joint_limit and all(i in adj for i in target_idx)
        if self.has_joint:
            connect(target_idx)
        cliques = _triangulate(adj, self.cards)
        if not cliques:  # every variable is an observable leaf with no parents
            cliques = [()]
        root = 0
        if self.has_joint:
            root = next(k for k, c in enumerate(cliques) if set(target_idx) <= set(c))
        else:
            root = max(range(len(cliques)), key=lambda k: len(cliques[k]))
        self.target_order = tuple(net.targets)
        self._target_axes = tuple(cliques[root].index(i) for i in target_idx) if self.has_joint else ()
        self.cliques = [_Clique(c, tuple(self.cards[i] for i in c), np.ones(tuple(self.cards[i] for i in c))) for c in cliques]
        self.root = root
        self._build_tree()
        self._assign(core)
        self.order = self._bfs()  # root first
        self.home: dict[int, int] = {}
        for k in sorted(range(len(self.cliques)), key=lambda k: int(np.prod(self.cliques[k].cards))):
            for v in self.cliques[k].vars:
                self.home.setdefault(v, k)

    # ------------------------------------------------------------------ compile helpers
    def _build_tree(self) -> None:
        n = len(self.cliques)
        edges = sorted(
            ((len(set(a.vars) & set(b.vars)), i, j) for (i, a), (j, b) in itertools.combinations(enumerate(self.cliques), 2)),
            key=lambda e: -e[0],
        )
        group = list(range(n))

        def find(x: int) -> int:
            while group[x] != x:
                group[x] = group[group[x]]
                x = group[x]
            return x

        nbrs: dict[int, list[int]] = {i: [] for i in range(n)}
        for _, i, j in edges:
            gi, gj = find(i), find(j)
            if gi != gj:
                group[gi] = gj
                nbrs[i].append(j)
                nbrs[j].append(i)
        seen = {self.root}
        todo = [self.root]
        while todo:
            k = todo.pop()
            for m in nbrs[k]:
                if m not in seen:
                    seen.add(m)
                    self.cliques[m].parent = k
                    self.cliques[k].children.append(m)
                    todo.append(m)
        for k in range(n):  # disconnected components hang from the root with an empty separator
            if k not in seen:
                top = k
                while self.cliques[top].parent != -1:
                    top = self.cliques[top].parent
                if top != self.root and top not in self.cliques[self.root].children:
                    self.cliques[top].parent = self.root
                    self.cliques[self.root].children.append(top)
                seen.add(k)
        for c in self.cliques:
            if c.parent == -1:
                continue
            sep = set(self.cliques[c.parent].vars) & set(c.vars)
            c.sep_shape = (1,) + tuple(card if v in sep else 1 for v, card in zip(c.vars, c.cards, strict=True))
            par = self.cliques[c.parent]
            c.sep_in_parent = (-1,) + tuple(card if v in sep else 1 for v, card in zip(par.vars, par.cards, strict=True))
            c.sum_axes = tuple(a + 1 for a, v in enumerate(c.vars) if v not in sep)

    def _host(self, family: set[int]) -> int:
        best = [k for k, c in enumerate(self.cliques) if family <= set(c.vars)]
        return min(best, key=lambda k: (int(np.prod(self.cliques[k].cards)), k != self.root))

    def _assign(self, core: Sequence[int]) -> None:
        net = self.network
        names = net.variables
        idx = net.index
        for i in core:
            ps = [idx[p] for p in net.parents[names[i]]]
            k = self._host({i, *ps})
            c = self.cliques[k]
            axes = [c.vars.index(v) for v in (*ps, i)]
            letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            sub = "".join(letters[a] for a in range(len(c.vars)))
            cpt_sub = "".join(letters[a] for a in axes)
            c.potential = np.einsum(f"{sub},{cpt_sub}->{sub}", c.potential, net.cpts[names[i]])
        for i in core:
            if names[i] in net.observables:
                k = self.home_of_single(i)
                c = self.cliques[k]
                shape = [1] * (len(c.vars) + 1)
                shape[c.vars.index(i) + 1] = self.cards[i]
                c.evidence.append((i, tuple(shape)))
        for i in self.leaf_vars:
            ps = [idx[p] for p in net.parents[names[i]]]
            k = self._host(set(ps))
            c = self.cliques[k]
            ordered = sorted(ps, key=c.vars.index)
            perm = [ps.index(p) for p in ordered] + [len(ps)]
            table = np.transpose(net.cpts[names[i]], perm).reshape(-1, self.cards[i])
            shape = (-1, *(self.cards[v] if v in ps else 1 for v in c.vars))
            c.leaves.append((i, np.ascontiguousarray(table.T), shape))

    def home_of_single(self, var: int) -> int:
        """Return the smallest clique that contains ``var``."""
        return self._host({var})

    def _bfs(self) -> list[int]:
        out = [self.root]
        for k in out:
            out.extend(self.cliques[k].children)
        return out

    # ------------------------------------------------------------------ queries
    def query(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        *,
        marginals: Sequence[str] | None = None,
        joint: bool = False,
    ) -> QueryResult:
        """Return ``log P(e)``, marginals and (optionally) the targets' joint for every row.

        Parameters
        ----------
        likelihoods
            Observable -> array ``(rows, states)`` of non-negative likelihoods; observables not
            given are unanswered (all ones).
        rows
            Number of evidence rows.
        marginals
            Variables whose posterior marginals to return (default: targets and reported).
            An empty sequence skips the distribute pass.
        joint
            Also return the targets' joint ``(rows, *cards)`` (needs ``has_joint``).
        """
        net = self.network
        lam = {net.index[v]: np.asarray(a, dtype=np.float64) for v, a in likelihoods.items()}
        wanted = list(net.targets) + list(net.reported) if marginals is None else list(marginals)
        up: dict[int, FloatArray] = {}
        belief: dict[int, FloatArray] = {}
        log_scale = np.zeros(rows)
        for k in reversed(self.order):
            c = self.cliques[k]
            b = np.broadcast_to(c.potential, (rows, *c.cards)).copy()
            for n_done, (v, table_t, shape) in enumerate((lf for lf in c.leaves if lf[0] in lam), start=1):
                b *= (lam[v] @ table_t).reshape(shape)
                if n_done % _RESCALE_EVERY == 0:
                    log_scale += _normalise(b)
            for v, shape in c.evidence:
                if v in lam:
                    b *= lam[v].reshape(shape)
            for ch in c.children:
                b *= up[ch].reshape(self.cliques[ch].sep_in_parent)
            belief[k] = b
            if k != self.root:
                msg = b.sum(axis=c.sum_axes, keepdims=True) if c.sum_axes else b.copy()
                log_scale += _normalise(msg)
                up[k] = msg
        root_b = belief[self.root]
        total = root_b.reshape(rows, -1).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_evidence = log_scale + np.log(total)
        possible = total > 0
        target_joint = None
        if joint:
            if not self.has_joint:
                raise ValueError("the targets' joint is too large for this network")
            tj = root_b
            other = tuple(a + 1 for a in range(root_b.ndim - 1) if a not in self._target_axes)
            if other:
                tj = tj.sum(axis=other)
            kept = sorted(self._target_axes)
            tj = np.moveaxis(tj, [1 + kept.index(a) for a in self._target_axes], list(range(1, 1 + len(kept))))
            target_joint = _safe_div(tj, total.reshape((rows,) + (1,) * (tj.ndim - 1)))
        out: dict[str, FloatArray] = {}
        if wanted:
            full = self._distribute(belief, up, rows)
            for name in wanted:
                v = net.index[name]
                if v in self.leaf_vars:
                    out[name] = self._leaf_marginal(v, full, lam, rows)
                    continue
                k = self.home[v]
                c = self.cliques[k]
                axis = c.vars.index(v)
                m = full[k].sum(axis=tuple(a + 1 for a in range(len(c.vars)) if a != axis)) if len(c.vars) > 1 else full[k]
                out[name] = _safe_div(m, m.sum(axis=1, keepdims=True))
        return QueryResult(log_evidence, out, target_joint)

    def _distribute(self, belief: dict[int, FloatArray], up: dict[int, FloatArray], rows: int) -> dict[int, FloatArray]:
        full = {self.root: belief[self.root]}
        for k in self.order:
            b = full[k]
            for ch in self.cliques[k].children:
                cc = self.cliques[ch]
                # message down = (sum of b over the child's non-separator vars of the parent) / message up
                sep_vars = set(cc.vars) & set(self.cliques[k].vars)
                axes = tuple(a + 1 for a, v in enumerate(self.cliques[k].vars) if v not in sep_vars)
                down = b.sum(axis=axes) if axes else b
                # both cliques list their variables sorted by id, so the separator axes line up
                down = _safe_div(down.reshape((rows, *cc.sep_shape[1:])), up[ch])
                _normalise(down)
                full[ch] = belief[ch] * down
        return full

    def _leaf_marginal(self, v: int, full: dict[int, FloatArray], lam: Mapping[int, FloatArray], rows: int) -> FloatArray:
        """Return P(leaf | e): predictive if unanswered, posterior-with-its-evidence otherwise."""
        k = next(k for k, c in enumerate(self.cliques) if any(lf[0] == v for lf in c.leaves))
        c = self.cliques[k]
        _, table_t, shape = next(lf for lf in c.leaves if lf[0] == v)
        b = full[k]
        if v in lam:  # remove this leaf's own message, then add it back per state
            msg = (lam[v] @ table_t).reshape(shape)
            b = _safe_div(b, np.broadcast_to(msg, b.shape))
        parents = {self.network.index[p] for p in self.network.parents[self.network.variables[v]]}
        ps_axes = tuple(a + 1 for a, u in enumerate(c.vars) if u not in parents)
        pa = b.sum(axis=ps_axes) if ps_axes else b
        pred = pa.reshape(rows, -1) @ table_t.T
        if v in lam:
            pred = pred * lam[v]
        return _safe_div(pred, pred.sum(axis=1, keepdims=True))


def _normalise(x: FloatArray) -> FloatArray:
    """Scale each row of ``x`` to sum 1 in place; return log of the scales (0 for zero rows)."""
    rows = x.shape[0]
    s = x.reshape(rows, -1).sum(axis=1)
    ok = s > 0
    safe = np.where(ok, s, 1.0)
    x /= safe.reshape((rows,) + (1,) * (x.ndim - 1))
    return np.log(safe)


def _safe_div(a: FloatArray, b: FloatArray) -> FloatArray:
    b = np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape))
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    np.divide(a, b, out=out, where=b > 0)
    return out


def _triangulate(adj: dict[int, set[int]], cards: Sequence[int]) -> list[tuple[int, ...]]:
    """Eliminate by greedy min-fill (ties: smallest clique weight); return the maximal cliques."""
    g = {v: set(n) for v, n in adj.items()}
    cliques: list[set[int]] = []
    while g:
        def cost(v: int) -> tuple[int, float]:
            nb = list(g[v])
            fill = sum(1 for a, b in itertools.combinations(nb, 2) if b not in g[a])
            weight = float(np.prod([cards[u] for u in nb])) * cards[v]
            return fill, weight

        v = min(g, key=cost)
        nb = g[v]
        clique = {v, *nb}
        for a, b in itertools.combinations(nb, 2):
            g[a].add(b)
            g[b].add(a)
        for u in nb:
            g[u].discard(v)
        del g[v]
        if not any(clique <= c for c in cliques):
            cliques.append(clique)
    return [tuple(sorted(c)) for c in cliques]


def compile_engine(network: Network, *, joint_limit: int = 1 << 14) -> Engine:
    """Compile ``network`` into an :class:`Engine` (do it once, query many times)."""
    return Engine(network, joint_limit=joint_limit)
