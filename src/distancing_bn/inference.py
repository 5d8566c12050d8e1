"""Exact batched inference on a compiled :class:`~distancing_bn.network.Network`.

The network is compiled once into a junction tree (moralise, triangulate by greedy min-fill,
merge neighbouring cliques while their union stays small (``merge_limit`` states: fewer array
operations per query, the same flops within a factor), join the cliques by a maximum-weight
spanning tree). Evidence is one likelihood matrix
per observable, shape ``(rows, states)``; the same two message passes (collect to the root,
distribute back) serve one row or a million.

Every clique belief is a flat ``(rows, clique size)`` array, and every step of a pass is a
matrix product with a small matrix computed at compile time: summing a clique onto a
separator, spreading a separator message over a clique, absorbing a question. So a pass is
a few BLAS calls per clique, whatever the batch size.

- Observable leaves (every question of our models) are not put in cliques. Answered hard
  (one-hot) leaves hosted by a clique are absorbed together in log space by ONE product
  ``E @ W`` (``E``: the rows' one-hot answers, ``W[a, x] = log P(a | parents(x))``), then
  exponentiated after subtracting each row's maximum; soft answers are absorbed one by one as
  ``λ @ M`` with ``M[a, x] = P(a | parents(x))``. A question no row answered costs nothing.
- Messages are normalised per row; the scales are multiplied and moved into ``log P(e)`` before
  they can underflow, so ``log P(e)`` is exact and nothing underflows.
- When the targets' joint is small enough (``joint_limit`` states) and holding them together
  costs little (at most twice the tree's total states and largest clique, or 2**16 more
  states), the targets are put in the root clique, so one collect pass gives
  ``P(targets, e)`` (top explanations, joint gain).

Imports numpy, :mod:`errors`, :mod:`evidence` (answers to likelihoods) and :mod:`network`.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ImpossibleEvidenceError
from .evidence import from_answers
from .network import DEFAULT_MEMORY_BUDGET, Network, check_budget, too_large

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "Engine",
    "MemoryEstimate",
    "QueryResult",
    "compile_engine",
    "estimate_memory",
    "impossible_evidence",
]

FloatArray = NDArray[np.float64]
_LOG_ZERO = -1e250  # stands for log 0 inside W, so that 0 * log 0 stays 0 in E @ W
_IMPOSSIBLE = -1e200
_FOLD_SEP = 32  # children with larger separators are multiplied in by a gather instead
_MERGE_LIMIT = 128  # neighbouring cliques are merged while their union has at most this many states
_FOLD_LIMIT = 1 << 18  # largest stacked table (rows × clique size) for the one-product collect step
_JOINT_LIMIT = 1 << 14  # the targets are held in the root clique when their joint has at most this many states
_FLOAT = 8  # bytes per float64 / int64 entry


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
    size: int
    configs: NDArray[np.int64]  # (size, len(vars)): the state of each variable in each configuration
    potential: FloatArray  # (size,)
    parent: int = -1
    children: list[int] = field(default_factory=list)
    to_sep: _Projection | None = None  # this clique onto the separator with its parent
    parent_to_sep: _Projection | None = None  # the parent onto the same separator
    leaves: list[int] = field(default_factory=list)  # hosted observable leaves (var ids)
    leaf_cols: dict[int, slice] = field(default_factory=dict)  # rows of W per leaf
    log_table: FloatArray | None = None  # W: (Σ hosted answers, size)
    table: FloatArray | None = None  # M: exp(W), for soft answers
    evidence: dict[int, _Projection] = field(default_factory=dict)  # non-leaf observables hosted here
    fold: FloatArray | None = None  # [W_leaves; E_child…; log φ] for the one-product collect step
    fold_rows: dict[Any, slice] | None = None  # which rows of `fold` belong to which leaf/child
    folded_children: list[int] = field(default_factory=list)  # children absorbed through `fold`
    fold_used: _Recent = field(default_factory=lambda: _Recent(64))  # `fold` rows per answered set (recent ones)


_DENSE_LIMIT = 1 << 16  # projections with more entries than this use reshape-and-sum instead
_FOLD_KEPT = 8  # the rows of `fold` used by recent sets of answers take at most this many folds
_RECENT = 256  # gain layouts kept per engine for recent candidate sets (one per set of answered questions)


class _Recent(dict[Any, Any]):
    """A cache of at most ``size`` entries and, if given, ``max_bytes`` of arrays; the oldest go first.

    ``get`` is the plain dict lookup (the hot path). Shared by threads without a lock: an entry
    lost to a race is simply rebuilt by its caller.
    """

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        super().__init__()
        self.size = size
        self.max_bytes = max_bytes
        self.nbytes = 0

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the oldest entries beyond the bounds."""
        weigh = self.max_bytes is not None
        if weigh and isinstance(value, np.ndarray):
            if value.nbytes > self.max_bytes:  # type: ignore[operator]
                return
            self.nbytes += value.nbytes
        self[key] = value
        while len(self) > self.size or (weigh and self.nbytes > self.max_bytes):  # type: ignore[operator]
            try:
                old = self.pop(next(iter(self)))
            except (KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
                break
            if weigh and isinstance(old, np.ndarray):
                self.nbytes -= old.nbytes


class _Projection:
    """Restriction of a clique's configurations to some of its variables (in a given order).

    ``apply`` sums a ``(rows, size)`` belief onto ``(rows, sub)``; ``multiply_into`` multiplies a
    ``(rows, sub)`` message into a ``(rows, size)`` belief. Small ones are 0/1 matrices used
    through BLAS; large ones reshape and sum.
    """

    def __init__(self, configs: NDArray[np.int64], cards: Sequence[int], positions: Sequence[int]) -> None:
        self.cards = tuple(cards)
        self.positions = tuple(positions)
        size = configs.shape[0]
        self.sub = math.prod(cards[p] for p in positions)
        self.dense = size * self.sub <= _DENSE_LIMIT
        if self.dense:
            if positions:
                idx = np.ravel_multi_index(tuple(configs[:, p] for p in positions), [cards[p] for p in positions])
            else:
                idx = np.zeros(size, dtype=np.int64)
            self.index = idx.astype(np.intp)
            self.matrix = np.zeros((size, self.sub))
            self.matrix[np.arange(size), idx] = 1.0
        else:
            self.other = tuple(a + 1 for a in range(len(cards)) if a not in positions)
            kept = sorted(positions)
            self.perm = [0, *(1 + kept.index(p) for p in positions)]
            self.bshape = tuple(cards[a] if a in positions else 1 for a in range(len(cards)))
            self.increasing = list(positions) == kept

    def apply(self, x: FloatArray) -> FloatArray:
        rows = x.shape[0]
        if self.dense:
            return x @ self.matrix
        y = x.reshape(rows, *self.cards)
        if self.other:
            y = y.sum(axis=self.other)
        return np.ascontiguousarray(np.transpose(y, self.perm)).reshape(rows, self.sub)

    def multiply_into(self, b: FloatArray, m: FloatArray) -> None:
        if self.dense:  # a gather: each configuration picks its separator entry
            b *= np.take(m, self.index, axis=1)
            return
        if not self.increasing:
            raise NotImplementedError("expanding a projection needs increasing positions")
        b.reshape(b.shape[0], *self.cards)[...] *= m.reshape(m.shape[0], *self.bshape)


# ---------------------------------------------------------------------- planning and memory
@dataclass(frozen=True, eq=False)
class _Plan:
    """The shape of a junction tree, decided before any of its arrays is built."""

    network: Network
    cards: tuple[int, ...]  # per variable id
    leaf_vars: tuple[int, ...]  # observable leaves: hosted by a clique, never in one
    core: tuple[int, ...]  # every other variable
    has_joint: bool  # the targets are held together in the root clique
    cliques: tuple[tuple[int, ...], ...]
    sets: tuple[frozenset[int], ...]
    sizes: tuple[int, ...]  # states per clique (Python ints)
    root: int
    tree: tuple[tuple[int, tuple[int, ...]], ...]  # per clique: (parent or -1, children)


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """What compiling a network takes, estimated before any array of its junction tree is built.

    Every size is an exact Python int (no overflow, however large the model).

    Attributes
    ----------
    table_bytes
        The network's tables (CPT arrays).
    tree_bytes
        The compiled junction tree: clique potentials and configurations, question tables,
        projections, the prior pass, and the largest temporary array of the build.
    row_bytes
        Working memory per evidence row of one query (collect and distribute passes).
    gain_row_bytes
        Working memory per row of the exact joint information gain (0 where it does not apply).
    largest_states, largest
        The largest clique: its number of states and its variables.
    n_cliques
        The number of cliques.
    budget
        The memory budget in bytes it was planned for (``None``: no limit).
    """

    table_bytes: int
    tree_bytes: int
    row_bytes: int
    gain_row_bytes: int
    largest_states: int
    largest: tuple[str, ...]
    n_cliques: int
    budget: int | None
    _plan: _Plan | None = field(default=None, repr=False, compare=False)

    @property
    def needed_bytes(self) -> int:
        """The tables and the tree plus one evidence row: the least that compiling and querying need."""
        return self.table_bytes + self.tree_bytes + max(self.row_bytes, self.gain_row_bytes)

    def max_rows(self, *, gains: bool = False) -> int | None:
        """Evidence rows one engine pass may hold within the budget (``None``: no limit; at least 1)."""
        if self.budget is None:
            return None
        per_row = max(1, self.gain_row_bytes if gains else self.row_bytes)
        return max(1, (self.budget - self.table_bytes - self.tree_bytes) // per_row)


def estimate_memory(
    network: Network,
    *,
    joint_limit: int = _JOINT_LIMIT,
    merge_limit: int = _MERGE_LIMIT,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
) -> MemoryEstimate:
    """Plan the junction tree of ``network`` and estimate its memory, without building any of it.

    Parameters
    ----------
    memory_budget
        Bytes the compiled tree and one evidence row may take (default 2 GiB); ``None``: no
        limit. Batches are then split into passes of :meth:`MemoryEstimate.max_rows` rows.

    Raises
    ------
    ModelTooLargeError
        The estimate exceeds ``memory_budget``. A variable whose family (itself and its
        parents; a question's parents) is too large is refused before anything is triangulated,
        and the triangulation stops at the first clique that cannot fit.
    """
    budget = check_budget(memory_budget)
    net = network
    names = net.variables
    idx = net.index
    cards = tuple(net.card(v) for v in names)
    obs = set(net.observables)
    has_children = {p for v in names for p in net.parents[v]}
    leaf_vars = tuple(idx[v] for v in names if v in obs and v not in has_children)
    # an always-observed variable is a fixed likelihood over its parents, folded into a clique
    observed = tuple(idx[v] for v in net.observed)
    leaf_set = set(leaf_vars) | set(observed)
    core = tuple(i for i in range(len(names)) if i not in leaf_set)
    table_bytes = sum(_FLOAT * a.size for a in net.cpts.values())
    parents = {i: tuple(idx[p] for p in net.parents[names[i]]) for i in range(len(names))}
    if budget is not None:  # a family is a clique of the moral graph: the tree holds it whole
        families = [(i, *parents[i]) for i in core] + [parents[i] for i in leaf_vars]
        big = max(families, key=lambda f: math.prod(cards[i] for i in f))
        states = math.prod(cards[i] for i in big)
        needed = table_bytes + _clique_bytes(states, len(big))
        if needed > budget:
            raise too_large(
                net.name, "a variable and its parents", _names(net, big), states, needed, budget, at_least=True
            )
    adj: dict[int, set[int]] = {i: set() for i in core}

    def connect(group: Sequence[int]) -> None:
        for a, b in itertools.combinations(group, 2):
            adj[a].add(b)
            adj[b].add(a)

    for i in core:
        connect([i, *parents[i]])
    for i in (*leaf_vars, *observed):
        connect(parents[i])
    target_idx = [idx[t] for t in net.targets]
    joint_size = math.prod(cards[i] for i in target_idx)
    room = None if budget is None else budget - table_bytes
    try:
        cliques = _triangulate(adj, cards, room=room) or [()]
        has_joint = False
        if joint_size <= joint_limit and all(i in adj for i in target_idx):
            cliques, has_joint = _root_clique_choice(adj, cards, target_idx, cliques, room)
    except _CliqueTooLarge as exc:
        states = math.prod(cards[i] for i in exc.clique)
        needed = table_bytes + _clique_bytes(states, len(exc.clique))
        assert budget is not None
        raise too_large(
            net.name, "a clique of its junction tree", _names(net, exc.clique), states, needed, budget, at_least=True
        ) from None
    if merge_limit > 1:
        protect = set(target_idx) if has_joint else set()
        cliques = _merge_small_cliques(cliques, cards, merge_limit, protect)
    if has_joint:
        root = next(k for k, c in enumerate(cliques) if set(target_idx) <= set(c))
        # a diagnostic network (every question a leaf) gets a root of exactly the targets, above the
        # clique that holds them: the separator-based joint gains need it (see Engine.joint_gains)
        if set(cliques[root]) != set(target_idx) and len(leaf_vars) == len(obs):
            cliques = [*cliques, tuple(sorted(target_idx))]
            root = len(cliques) - 1
    else:
        root = max(range(len(cliques)), key=lambda k: len(cliques[k]))
    sets = tuple(frozenset(c) for c in cliques)
    sizes = tuple(math.prod(cards[i] for i in c) for c in cliques)
    plan = _Plan(net, cards, leaf_vars, core, has_joint, tuple(cliques), sets, sizes, root, _spanning_tree(sets, root))
    estimate = _estimate(plan, table_bytes, joint_size if has_joint else 0, budget)
    if budget is not None and estimate.needed_bytes > budget:
        k = max(range(len(sizes)), key=sizes.__getitem__)
        raise too_large(net.name, "its largest clique", estimate.largest, sizes[k], estimate.needed_bytes, budget)
    return estimate


def _estimate(plan: _Plan, table_bytes: int, joint_size: int, budget: int | None) -> MemoryEstimate:
    """Count the bytes of the arrays :class:`Engine` builds for ``plan`` (see its compile helpers)."""
    net = plan.network
    cards, sets, sizes = plan.cards, plan.sets, plan.sizes
    n = len(sizes)
    hosted = [0] * n  # answers of the leaf questions each clique hosts
    n_leaves = [0] * n
    for v in plan.leaf_vars:
        k = _host_of({net.index[p] for p in net.parents[net.variables[v]]}, sets, sizes, plan.root)
        hosted[k] += cards[v]
        n_leaves[k] += 1
    sep = [0] * n
    tree = 0
    temporary = 0
    for k, (parent, children) in enumerate(plan.tree):
        size = sizes[k]
        tree += _FLOAT * size * (1 + len(plan.cliques[k]) + 2 * hosted[k])  # potential, configurations, W and M
        temporary = max(temporary, _FLOAT * size * (len(plan.cliques[k]) + max(cards, default=1) + 1))
        height = hosted[k] + 1
        for ch in children:
            sub = math.prod(cards[i] for i in sets[ch] & sets[k])
            if size * sub <= _DENSE_LIMIT:
                tree += 2 * _FLOAT * size * (sub + 1)  # the parent's projection, and its stacked copy
                height += sub if sub <= _FOLD_SEP else 0
        if height * size <= _FOLD_LIMIT:
            tree += (1 + _FOLD_KEPT) * _FLOAT * height * size  # the fold and the rows used by recent answers
        if parent >= 0:
            sep[k] = math.prod(cards[i] for i in sets[k] & sets[parent])
            if size * sep[k] <= _DENSE_LIMIT:
                tree += _FLOAT * size * (sep[k] + 1) * (1 + hosted[k])  # projection; answer projection
    for v in range(len(cards)):  # each variable's marginal from its smallest clique
        homes = [k for k in range(n) if v in sets[k]]
        if homes:
            size = min(sizes[k] for k in homes)
            tree += _FLOAT * size * (cards[v] + 1) if size * cards[v] <= _DENSE_LIMIT else 0
    reported = [net.index[v] for v in (*net.targets, *net.reported)]
    root_size = sizes[plan.root]
    joint_matrix = joint_size if root_size * joint_size <= _DENSE_LIMIT else 0  # dense projections only
    tree += _FLOAT * root_size * (sum(cards[i] for i in reported) + 2 * hosted[plan.root] + joint_matrix)
    tree += _FLOAT * (sum(sizes) + sum(sep))  # the prior pass
    answers = sum(cards[i] for i in net.index.values() if net.variables[i] in set(net.observables))
    row = _FLOAT * (2 * sum(sizes) + 2 * sum(sep) + 3 * max(sizes) + joint_size + 2 * answers + len(reported))
    gain_row = 0
    targets = {net.index[t] for t in net.targets}
    if plan.has_joint and sets[plan.root] == targets:  # the exact joint gain applies
        below = list(hosted)  # answers of the questions hosted in each clique's subtree
        order = [plan.root]
        for k in order:
            order.extend(plan.tree[k][1])
        for k in reversed(order):
            if plan.tree[k][0] >= 0 and plan.tree[k][0] != plan.root:
                below[plan.tree[k][0]] += below[k]
        stacked = [below[k] * sizes[k] for k in range(n) if k != plan.root]
        gain_row = _FLOAT * (
            3 * sum(sizes)
            + 2 * sum(sep)
            + sum(below[k] * sep[k] for k in range(n) if k != plan.root)
            + 3 * max(stacked, default=0)
            + 4 * answers
            + 8 * sum(n_leaves)
        )
    k = max(range(n), key=sizes.__getitem__)
    return MemoryEstimate(
        table_bytes=table_bytes,
        tree_bytes=tree + temporary,
        row_bytes=row,
        gain_row_bytes=gain_row,
        largest_states=sizes[k],
        largest=tuple(net.variables[i] for i in plan.cliques[k]),
        n_cliques=n,
        budget=budget,
        _plan=plan,
    )


def _clique_bytes(states: int, n_vars: int) -> int:
    """The least one clique takes: its potential, configurations (built twice) and one row of belief."""
    return _FLOAT * states * (2 + 2 * n_vars)


def _names(net: Network, ids: Sequence[int]) -> tuple[str, ...]:
    return tuple(net.variables[i] for i in ids)


class _CliqueTooLarge(Exception):
    def __init__(self, clique: tuple[int, ...]) -> None:
        self.clique = clique


_JOINT_ALLOWANCE = 1 << 16  # states: holding the targets together may always add this much


def _root_clique_choice(
    adj: dict[int, set[int]],
    cards: Sequence[int],
    target_idx: Sequence[int],
    free: list[tuple[int, ...]],
    room: int | None,
) -> tuple[list[tuple[int, ...]], bool]:
    """Return the cliques to use and whether the targets share the root clique.

    Holding the targets together gives their exact joint in one pass, but it can grow the tree
    a great deal (barley: 24.8M to 77.3M states). It is kept only when the tree it gives has at
    most twice the total states and twice the largest clique of the tree without it (or adds
    at most :data:`_JOINT_ALLOWANCE` states to each), sizes counted in Python integers.
    """
    together = {v: set(n) for v, n in adj.items()}
    for a, b in itertools.combinations(target_idx, 2):
        together[a].add(b)
        together[b].add(a)
    try:
        joint = _triangulate(together, cards, room=room) or [()]
    except _CliqueTooLarge:
        return free, False

    def cost(cliques: list[tuple[int, ...]]) -> tuple[int, int]:
        sizes = [math.prod(cards[i] for i in c) for c in cliques]
        return sum(sizes), max(sizes)

    total_free, largest_free = cost(free)
    total_joint, largest_joint = cost(joint)
    fits = total_joint <= max(2 * total_free, total_free + _JOINT_ALLOWANCE) and largest_joint <= max(
        2 * largest_free, largest_free + _JOINT_ALLOWANCE
    )
    return (joint, True) if fits else (free, False)


def _host_of(family: set[int], sets: Sequence[frozenset[int]], sizes: Sequence[int], root: int) -> int:
    """The smallest clique holding ``family`` (the root on a tie)."""
    best = [k for k, c in enumerate(sets) if family <= c]
    return min(best, key=lambda k: (sizes[k], k != root))


def _spanning_tree(sets: Sequence[frozenset[int]], root: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Join the cliques by a maximum-weight spanning tree (weight: shared variables) hung from ``root``."""
    n = len(sets)
    edges = sorted(
        ((len(a & b), i, j) for (i, a), (j, b) in itertools.combinations(enumerate(sets), 2)), key=lambda e: -e[0]
    )
    group = list(range(n))

    def find(x: int) -> int:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    nbrs: dict[int, list[int]] = {i: [] for i in range(n)}
    for _, i, j in edges:  # Kruskal: max-weight spanning tree (a forest is joined by empty separators)
        gi, gj = find(i), find(j)
        if gi != gj:
            group[gi] = gj
            nbrs[i].append(j)
            nbrs[j].append(i)
    parent = [-1] * n
    children: list[list[int]] = [[] for _ in range(n)]
    seen = {root}
    todo = [root]
    while todo:
        k = todo.pop()
        for m in nbrs[k]:
            if m not in seen:
                seen.add(m)
                parent[m] = k
                children[k].append(m)
                todo.append(m)
    return tuple((parent[k], tuple(children[k])) for k in range(n))


class Engine:
    """A network compiled into a junction tree; query it with likelihood matrices."""

    def __init__(
        self,
        network: Network,
        *,
        joint_limit: int = _JOINT_LIMIT,
        merge_limit: int = _MERGE_LIMIT,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        estimate: MemoryEstimate | None = None,
    ) -> None:
        """Compile ``network``; ``estimate`` (from :func:`estimate_memory` with the same options) skips replanning.

        Raises
        ------
        ModelTooLargeError
            The compiled tree, with room for one evidence row, would exceed ``memory_budget``
            bytes (``None``: no limit); raised before any table of the tree is built.
        """
        if estimate is None:
            estimate = estimate_memory(
                network, joint_limit=joint_limit, merge_limit=merge_limit, memory_budget=memory_budget
            )
        plan = estimate._plan
        if plan is None or plan.network is not network:
            raise ValueError("the memory estimate was made for another network")
        self.network = network
        self.memory = estimate  # the plan and its estimate; batches larger than max_rows run in passes
        self.max_rows = estimate.max_rows() or sys.maxsize
        self.max_gain_rows = estimate.max_rows(gains=True) or sys.maxsize
        net = network
        self.cards = plan.cards
        self.leaf_vars = plan.leaf_vars
        core = plan.core
        self.has_joint = plan.has_joint
        target_idx = [net.index[t] for t in net.targets]
        root = self.root = plan.root
        self.target_order = tuple(net.targets)
        self.cliques = []
        for c in plan.cliques:
            cards = tuple(self.cards[i] for i in c)
            size = math.prod(cards)
            configs = np.indices(cards).reshape(len(c), -1).T if c else np.zeros((1, 0), dtype=np.int64)
            self.cliques.append(_Clique(c, cards, size, configs, np.ones(size)))
        self._build_tree()
        self._assign(core)
        self.order = self._bfs()  # root first
        self.home: dict[int, int] = {}
        for k in sorted(range(len(self.cliques)), key=lambda k: self.cliques[k].size):
            for v in self.cliques[k].vars:
                self.home.setdefault(v, k)
        self._marginal = {
            v: _Projection(self.cliques[k].configs, self.cliques[k].cards, [self.cliques[k].vars.index(v)])
            for v, k in self.home.items()
        }
        rc = self.cliques[root]
        self._joint = (
            _Projection(rc.configs, rc.cards, [rc.vars.index(i) for i in target_idx]) if self.has_joint else None
        )
        self.leaf_host = {v: k for k, c in enumerate(self.cliques) for v in c.leaves}
        for clique in self.cliques:
            self._build_fold(clique)
        self._subtree_evidence: dict[int, frozenset[int]] = {}  # observables at or below each clique
        for k in reversed(self.order):
            clique = self.cliques[k]
            below = set(clique.leaves) | set(clique.evidence)
            for ch in clique.children:
                below |= self._subtree_evidence[ch]
            self._subtree_evidence[k] = frozenset(below)
        self._prior: dict[int, tuple[FloatArray, FloatArray | None, float]] | None = None
        self._root_projections: dict[tuple[int, ...], _Projection] = {}
        self._stacked = _Recent(16)  # stacked marginal projections, per list of wanted variables
        self._gain_matrices: dict[Any, Any] = {}  # matrices compiled on first use, one per clique or pair
        self._gain_layouts = _Recent(_RECENT)  # matrices and layouts per set of candidates: recent ones only

    # ------------------------------------------------------------------ compile helpers
    def _build_tree(self) -> None:
        for k, (parent, children) in enumerate(self.memory._plan.tree):  # type: ignore[union-attr]
            self.cliques[k].parent = parent
            self.cliques[k].children = list(children)
        for c in self.cliques:
            if c.parent == -1:
                continue
            par = self.cliques[c.parent]
            sep = sorted(set(par.vars) & set(c.vars))
            c.to_sep = _Projection(c.configs, c.cards, [c.vars.index(v) for v in sep])
            c.parent_to_sep = _Projection(par.configs, par.cards, [par.vars.index(v) for v in sep])

    def _host(self, family: set[int]) -> int:
        return _host_of(family, self.memory._plan.sets, self.memory._plan.sizes, self.root)  # type: ignore[union-attr]

    def _family_table(self, c: _Clique, var: int, parents: Sequence[int]) -> FloatArray:
        """P(var = a | parents restricted from each clique configuration): (card, clique size)."""
        name = self.network.variables[var]
        cpt = self.network.cpts[name]
        if parents:
            pa_idx = np.ravel_multi_index(tuple(c.configs[:, c.vars.index(p)] for p in parents), cpt.shape[:-1])
        else:
            pa_idx = np.zeros(c.size, dtype=np.int64)
        return np.ascontiguousarray(cpt.reshape(-1, self.cards[var])[pa_idx].T)

    def _assign(self, core: Sequence[int]) -> None:
        net = self.network
        names = net.variables
        idx = net.index
        for i in core:
            ps = [idx[p] for p in net.parents[names[i]]]
            c = self.cliques[self._host({i, *ps})]
            table = self._family_table(c, i, ps)  # (card, size)
            c.potential = c.potential * table[c.configs[:, c.vars.index(i)], np.arange(c.size)]
            if names[i] in net.observables:
                h = self.cliques[self._host({i})]
                h.evidence[i] = _Projection(h.configs, h.cards, [h.vars.index(i)])
        for name, state in net.observed.items():  # P(observed state | parents), once, in a host
            i = idx[name]
            ps = [idx[p] for p in net.parents[name]]
            c = self.cliques[self._host(set(ps))]
            c.potential = c.potential * self._family_table(c, i, ps)[net.states[name].index(state)]
        for i in self.leaf_vars:
            ps = [idx[p] for p in net.parents[names[i]]]
            self.cliques[self._host(set(ps))].leaves.append(i)
        for c in self.cliques:
            if not c.leaves:
                continue
            tables = []
            start = 0
            for v in c.leaves:
                ps = [idx[p] for p in net.parents[names[v]]]
                tables.append(self._family_table(c, v, ps))
                c.leaf_cols[v] = slice(start, start + self.cards[v])
                start += self.cards[v]
            c.table = np.vstack(tables)
            with np.errstate(divide="ignore"):
                c.log_table = np.where(c.table > 0, np.log(np.where(c.table > 0, c.table, 1.0)), _LOG_ZERO)

    def _build_fold(self, c: _Clique) -> None:
        """Stack the log tables, children's spreading matrices and log φ of a clique, if small."""
        # a child is folded in when its separator is small: a product row costs 2·sep·size flops,
        # a gather-and-multiply about two passes over the clique
        folded = [
            ch
            for ch in c.children
            if self.cliques[ch].parent_to_sep.dense  # type: ignore[union-attr]
            and self.cliques[ch].parent_to_sep.sub <= _FOLD_SEP
        ]  # type: ignore[union-attr]
        seps = [self.cliques[ch].parent_to_sep for ch in folded]
        height = (c.log_table.shape[0] if c.log_table is not None else 0) + sum(p.sub for p in seps) + 1  # type: ignore[union-attr]
        if height * c.size > _FOLD_LIMIT:
            return
        c.folded_children = folded
        blocks: list[FloatArray] = []
        rows: dict[Any, slice] = {}
        start = 0
        if c.log_table is not None:
            blocks.append(c.log_table)
            for v, sl in c.leaf_cols.items():
                rows[v] = sl
            start = c.log_table.shape[0]
        for ch, proj in zip(folded, seps, strict=True):
            blocks.append(proj.matrix.T)  # type: ignore[union-attr]
            rows[("child", ch)] = slice(start, start + proj.sub)  # type: ignore[union-attr]
            start += proj.sub  # type: ignore[union-attr]
        with np.errstate(divide="ignore"):
            blocks.append(np.maximum(np.log(c.potential), _LOG_ZERO)[None, :])
        rows["bias"] = slice(start, start + 1)
        c.fold = np.ascontiguousarray(np.vstack(blocks))
        c.fold_rows = rows
        c.fold_used = _Recent(64, max_bytes=_FOLD_KEPT * c.fold.nbytes)

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
        if rows > self.max_rows:  # bounded memory: the rows in passes of at most max_rows
            return _concat_results(
                [
                    self.query(part, t - s, marginals=marginals, joint=joint)
                    for s, t, part in _passes(likelihoods, rows, self.max_rows)
                ]
            )
        net = self.network
        wanted = list(net.targets) + list(net.reported) if marginals is None else list(marginals)
        lam, belief, up, log_scale = self._collect(likelihoods, rows)
        root_b = belief[self.root]
        total = root_b.sum(axis=1)
        with np.errstate(divide="ignore"):
            log_evidence = log_scale + np.log(total)
        return self._finish(lam, belief, up, rows, root_b, log_evidence, wanted, joint)

    def _collect(
        self, likelihoods: Mapping[str, FloatArray], rows: int
    ) -> tuple[dict[int, FloatArray], dict[int, FloatArray], dict[int, FloatArray], FloatArray]:
        """Run the collect pass; return (likelihoods by var id, beliefs, messages up, log scale)."""
        net = self.network
        lam = {net.index[v]: np.asarray(a, dtype=np.float64) for v, a in likelihoods.items()}
        hard = {v: _hard_answers(a) for v, a in lam.items() if v in self.leaf_host}
        up: dict[int, FloatArray] = {}
        belief: dict[int, FloatArray] = {}
        log_scale = np.zeros(rows)
        for v, a in lam.items():  # soft likelihoods: only ratios matter; keep the scale in log P(e)
            if hard.get(v) is None:
                top = a.max(axis=1)
                ok = top > 0
                lam[v] = a / np.where(ok, top, 1.0)[:, None]
                log_scale += np.log(np.where(ok, top, 1.0))
        ones = np.ones((rows, 1))
        with np.errstate(divide="ignore"):
            self._collect_cliques(lam, hard, up, belief, rows, log_scale, ones, self._prior_pass())
        return lam, belief, up, log_scale

    def _prior_pass(self) -> dict[int, tuple[FloatArray, FloatArray | None, float]]:
        """Per clique, its belief, message up and log-scale share with no evidence (computed once).

        A clique with no evidence anywhere in its subtree gets exactly these in every query, so
        the collect pass copies them instead of recomputing (read-only arrays, one row).
        """
        if self._prior is None:
            record: dict[int, float] = {}
            up: dict[int, FloatArray] = {}
            belief: dict[int, FloatArray] = {}
            log_scale = np.zeros(1)
            with np.errstate(divide="ignore"):
                self._collect_cliques({}, {}, up, belief, 1, log_scale, np.ones((1, 1)), None, record)
            prior: dict[int, tuple[FloatArray, FloatArray | None, float]] = {}
            for k, b in belief.items():
                b.setflags(write=False)
                u = up.get(k)
                if u is not None:
                    u.setflags(write=False)
                prior[k] = (b, u, record[k])
            self._prior = prior
        return self._prior

    def _collect_cliques(
        self,
        lam: dict[int, FloatArray],
        hard: Mapping[int, FloatArray | None],
        up: dict[int, FloatArray],
        belief: dict[int, FloatArray],
        rows: int,
        log_scale: FloatArray,
        ones: FloatArray,
        prior: Mapping[int, tuple[FloatArray, FloatArray | None, float]] | None,
        record: dict[int, float] | None = None,
    ) -> None:
        """The collect pass proper: leaves to root, filling ``belief`` and ``up``.

        Cliques whose subtree holds no evidence take their values from ``prior``;
        ``record`` receives each clique's share of the log scale (for :meth:`_prior_pass`).
        """
        present = lam.keys()
        for k in reversed(self.order):
            c = self.cliques[k]
            if prior is not None and present.isdisjoint(self._subtree_evidence[k]):
                b0, u0, share = prior[k]
                belief[k] = b0 if rows == 1 else np.broadcast_to(b0, (rows, b0.shape[1]))
                if u0 is not None:
                    up[k] = u0 if rows == 1 else np.broadcast_to(u0, (rows, u0.shape[1]))
                log_scale += share
                continue
            before = float(log_scale[0]) if record is not None else 0.0
            if c.fold is not None:
                b = self._absorb_folded(c, lam, hard, up, rows, log_scale, ones)
                for ch in c.children:
                    if ch not in c.folded_children:
                        self.cliques[ch].parent_to_sep.multiply_into(b, up[ch])  # type: ignore[union-attr]
            else:
                b = self._absorb_leaves(c, lam, hard, rows, log_scale)
                for ch in c.children:
                    self.cliques[ch].parent_to_sep.multiply_into(b, up[ch])  # type: ignore[union-attr]
            for v, proj in c.evidence.items():
                if v in lam:
                    proj.multiply_into(b, lam[v])
            belief[k] = b
            if k != self.root:
                msg = c.to_sep.apply(b)  # type: ignore[union-attr]
                s = msg.sum(axis=1)
                s = np.where(s > 0, s, 1.0)
                msg /= s[:, None]
                log_scale += np.log(s)
                up[k] = msg
            if record is not None:
                record[k] = float(log_scale[0]) - before

    def _finish(
        self,
        lam: dict[int, FloatArray],
        belief: dict[int, FloatArray],
        up: dict[int, FloatArray],
        rows: int,
        root_b: FloatArray,
        log_evidence: FloatArray,
        wanted: Sequence[str],
        joint: bool,
        full: dict[int, FloatArray] | None = None,
    ) -> QueryResult:
        """Marginals (and the targets' joint) from a collect pass; ``full``: a distribute pass already run."""
        net = self.network
        target_joint = None
        if joint:
            if self._joint is None:
                raise ValueError("the targets' joint is too large for this network")
            tj = _row_normalise(self._joint.apply(root_b))
            target_joint = tj.reshape((rows, *(self.cards[net.index[t]] for t in net.targets)))
        out: dict[str, FloatArray] = {}
        in_root = set(self.cliques[self.root].vars)
        if wanted and all(net.index[w] in in_root for w in wanted):  # no distribute pass needed
            stacked, bounds = self._stacked_root_marginals(tuple(net.index[w] for w in wanted))
            flat = root_b @ stacked  # every wanted marginal in one read of the root belief
            for name, (lo, hi) in zip(wanted, bounds, strict=True):
                out[name] = _row_normalise(flat[:, lo:hi])
        elif wanted:
            full = full if full is not None else self._distribute(belief, up, rows)
            for name in wanted:
                v = net.index[name]
                if v in self.leaf_host:
                    out[name] = self._leaf_marginal(v, full, lam, rows)
                else:
                    out[name] = _row_normalise(self._marginal[v].apply(full[self.home[v]]))
        return QueryResult(log_evidence, out, target_joint)

    # ------------------------------------------------------------------ information gain
    @property
    def fast_joint_gain(self) -> bool:
        """True when :meth:`joint_gains` applies: the root clique holds exactly the targets."""
        root_vars = set(self.cliques[self.root].vars)
        return self.has_joint and root_vars == {self.network.index[t] for t in self.network.targets}

    def joint_gains(
        self, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """Exact I(T; Q | e) in bits for every row and candidate leaf question Q (T = all targets).

        Needs :attr:`fast_joint_gain`; candidates must be unanswered leaves. Computed as
        ``H(Q | e) − H(Q | S, e)`` with ``S`` the root separator above ``Q``, from one collect
        pass: see :mod:`distancing_bn.gains`.

        Returns
        -------
        gains : (rows, candidates) bits
        entropy : (rows,) H(T | e) in bits
        answer_probs : per candidate, (rows, answers) P(Q = a | e)
        log_evidence : (rows,) natural log of P(e)
        """
        from .gains import joint_gains

        if rows > self.max_gain_rows:  # bounded memory: the rows in passes
            parts = [
                joint_gains(self, part, t - s, candidates)
                for s, t, part in _passes(likelihoods, rows, self.max_gain_rows)
            ]
            return (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                [np.concatenate([p[2][j] for p in parts]) for j in range(len(candidates))],
                np.concatenate([p[3] for p in parts]),
            )
        return joint_gains(self, likelihoods, rows, candidates)

    def _stacked_root_marginals(self, variables: tuple[int, ...]) -> tuple[FloatArray, list[tuple[int, int]]]:
        """0/1 matrix (root size × Σ cards) giving the marginals of ``variables`` side by side."""
        key = variables
        cached = self._stacked.get(key)
        if cached is None:
            rc = self.cliques[self.root]
            blocks, bounds, start = [], [], 0
            for v in variables:
                m = np.zeros((rc.size, self.cards[v]))
                m[np.arange(rc.size), rc.configs[:, rc.vars.index(v)]] = 1.0
                blocks.append(m)
                bounds.append((start, start + self.cards[v]))
                start += self.cards[v]
            cached = (np.ascontiguousarray(np.hstack(blocks)), bounds)
            self._stacked.put(key, cached)
        return cached

    def _answer_projection(self, key: Any, table: FloatArray, c: _Clique) -> FloatArray:
        """(clique size, answers × separator): P(answer | x) placed at each configuration's separator entry."""
        cache_key = ("answers", key)
        cached = self._gain_layouts.get(cache_key)
        if cached is None:
            sep = c.to_sep
            assert sep is not None and sep.dense
            m = np.zeros((c.size, table.shape[0], sep.sub))
            m[np.arange(c.size), :, sep.index] = table.T
            cached = np.ascontiguousarray(m.reshape(c.size, -1))
            self._gain_layouts.put(cache_key, cached)
        return cached

    def _pair_projection(self, child: int) -> FloatArray:
        """(parent size, child separator × parent's own separator) 0/1 matrix, for path re-runs."""
        cache_key = ("pair", child)
        if cache_key not in self._gain_matrices:
            cc = self.cliques[child]
            parent = self.cliques[cc.parent]
            a, b = cc.parent_to_sep, parent.to_sep
            assert a is not None and b is not None and a.dense and b.dense
            m = np.zeros((parent.size, a.sub * b.sub))
            m[np.arange(parent.size), a.index * b.sub + b.index] = 1.0
            self._gain_matrices[cache_key] = m
        return self._gain_matrices[cache_key]

    def _root_projection(self, positions: tuple[int, ...]) -> _Projection:
        proj = self._root_projections.get(positions)
        if proj is None:
            root = self.cliques[self.root]
            proj = self._root_projections[positions] = _Projection(root.configs, root.cards, positions)
        if not proj.dense:
            raise NotImplementedError("the root projection is too large for the fast gain")
        return proj

    def _absorb_folded(
        self,
        c: _Clique,
        lam: Mapping[int, FloatArray],
        hard: Mapping[int, FloatArray | None],
        up: Mapping[int, FloatArray],
        rows: int,
        log_scale: FloatArray,
        ones: FloatArray,
    ) -> FloatArray:
        """Potential × answered leaves × children's messages as ONE product in log space, then exp.

        ``log b = [onehot answers | log m_child … | 1] @ [W_leaves ; E_child … ; log φ]``, where
        ``E_child`` spreads a separator over the clique (0/1). Soft answers are multiplied after.
        """
        assert c.fold is not None and c.fold_rows is not None
        answered = [v for v in c.leaves if v in lam]
        hard_leaves = [v for v in answered if hard[v] is not None]
        parts: list[FloatArray] = [hard[v] for v in hard_leaves]  # type: ignore[misc]
        sel = [c.fold_rows[v] for v in hard_leaves]
        for ch in c.folded_children:  # (the caller silences log 0 warnings)
            parts.append(np.maximum(np.log(up[ch]), _LOG_ZERO))
        parts.append(ones)
        left = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        key = tuple(hard_leaves)
        weights = c.fold_used.get(key)
        if weights is None:  # the rows of `fold` this set of answered questions uses (recent sets kept)
            sel += [c.fold_rows[("child", ch)] for ch in c.folded_children] + [c.fold_rows["bias"]]
            index = np.concatenate([np.arange(r.start, r.stop) for r in sel])
            weights = np.ascontiguousarray(c.fold[index])
            c.fold_used.put(key, weights)
        b = _exp_rows(left @ weights, log_scale)
        _multiply_soft(c, answered, lam, hard, b, log_scale)
        return b

    def _absorb_leaves(
        self,
        c: _Clique,
        lam: Mapping[int, FloatArray],
        hard: Mapping[int, FloatArray | None],
        rows: int,
        log_scale: FloatArray,
    ) -> FloatArray:
        """Return the clique's potential times the messages of its answered leaves, (rows, size)."""
        answered = [v for v in c.leaves if v in lam]
        hard_leaves = [v for v in answered if hard[v] is not None]
        if hard_leaves:
            assert c.log_table is not None
            cols = np.concatenate([np.arange(c.leaf_cols[v].start, c.leaf_cols[v].stop) for v in hard_leaves])
            onehot = np.concatenate([hard[v] for v in hard_leaves], axis=1)  # type: ignore[misc]
            b = _exp_rows(onehot @ c.log_table[cols], log_scale)
            b *= c.potential
        else:
            b = np.repeat(c.potential[None, :], rows, axis=0)
        _multiply_soft(c, answered, lam, hard, b, log_scale)
        return b

    def _distribute(self, belief: dict[int, FloatArray], up: dict[int, FloatArray], rows: int) -> dict[int, FloatArray]:
        full = {self.root: belief[self.root]}
        for k in self.order:
            children = self.cliques[k].children
            if not children:
                continue
            sums = self._child_separator_sums(k, full[k])
            for ch in children:
                cc = self.cliques[ch]
                down = _row_normalise(_safe_div(sums[ch], up[ch]))
                proj = cc.to_sep
                assert proj is not None
                if proj.dense:  # one pass: the child's belief times its separator entry
                    full[ch] = belief[ch] * np.take(down, proj.index, axis=1)
                else:
                    child = belief[ch].copy()
                    proj.multiply_into(child, down)
                    full[ch] = child
        return full

    def _child_separator_sums(self, k: int, b: FloatArray) -> dict[int, FloatArray]:
        """Clique ``k``'s belief summed onto the separator of each child: one product when small."""
        c = self.cliques[k]
        key = ("children", k)
        stacked = self._gain_matrices.get(key)
        if stacked is None:
            projs = [self.cliques[ch].parent_to_sep for ch in c.children]
            if all(p is not None and p.dense for p in projs):
                stacked = np.ascontiguousarray(np.hstack([p.matrix for p in projs]))  # type: ignore[union-attr]
            else:
                stacked = np.zeros((0, 0))
            self._gain_matrices[key] = stacked
        if stacked.size == 0:
            return {ch: self.cliques[ch].parent_to_sep.apply(b) for ch in c.children}  # type: ignore[union-attr]
        flat = b @ stacked
        out, start = {}, 0
        for ch in c.children:
            sub = self.cliques[ch].parent_to_sep.sub  # type: ignore[union-attr]
            out[ch] = flat[:, start : start + sub]
            start += sub
        return out

    def _leaf_marginal(
        self, v: int, full: dict[int, FloatArray], lam: Mapping[int, FloatArray], rows: int
    ) -> FloatArray:
        """Return P(leaf | e): its predictive distribution if unanswered, else with its evidence.

        For an answered leaf the clique belief includes the leaf's own message; it is divided
        out again (exact unless that message is zero at a configuration of positive belief).
        """
        c = self.cliques[self.leaf_host[v]]
        assert c.table is not None
        table = c.table[c.leaf_cols[v]]  # (card, size)
        b = full[self.leaf_host[v]]
        if v in lam:
            b = _safe_div(b, lam[v] @ table)
        pred = b @ table.T
        if v in lam:
            pred = pred * lam[v]
        return _row_normalise(pred)


def _passes(
    likelihoods: Mapping[str, FloatArray], rows: int, per_pass: int
) -> Iterator[tuple[int, int, dict[str, FloatArray]]]:
    """Split evidence rows into passes of at most ``per_pass`` rows: (start, stop, likelihoods)."""
    for s in range(0, rows, per_pass):
        t = min(rows, s + per_pass)
        yield s, t, {v: a[s:t] for v, a in likelihoods.items()}


def _concat_results(parts: Sequence[QueryResult]) -> QueryResult:
    """One :class:`QueryResult` from the results of consecutive passes."""
    first = parts[0]
    return QueryResult(
        np.concatenate([p.log_evidence for p in parts]),
        {v: np.concatenate([p.marginals[v] for p in parts]) for v in first.marginals},
        None if first.target_joint is None else np.concatenate([p.target_joint for p in parts]),  # type: ignore[misc]
    )


def _exp_rows(logb: FloatArray, log_scale: FloatArray) -> FloatArray:
    """Exponentiate log-beliefs in place after subtracting each row's maximum (kept in ``log_scale``).

    Rows whose maximum is about log 0 (every configuration ruled out) become exact zeros.
    """
    top = logb.max(axis=1)
    impossible = top < _IMPOSSIBLE
    top = np.where(impossible, 0.0, top)
    logb -= top[:, None]
    b = np.exp(logb, out=logb)
    if impossible.any():
        b[impossible] = 0.0
    log_scale += top
    return b


def _apply3(proj: _Projection, x: FloatArray) -> FloatArray:
    """``proj.apply`` on a (rows, answers, size) array."""
    rows, k, size = x.shape
    return proj.apply(x.reshape(rows * k, size)).reshape(rows, k, -1)


def _spread3(proj: _Projection, m: FloatArray) -> FloatArray:
    """Spread a (rows, answers, sep) message over the projection's clique: (rows, answers, size)."""
    if proj.dense:
        return np.take(m, proj.index, axis=2)
    rows, k, sep = m.shape
    out = np.ones((rows * k, math.prod(proj.cards)))
    proj.multiply_into(out, m.reshape(rows * k, sep))
    return out.reshape(rows, k, -1)


def _multiply_soft(
    c: _Clique,
    answered: Sequence[int],
    lam: Mapping[int, FloatArray],
    hard: Mapping[int, FloatArray | None],
    b: FloatArray,
    log_scale: FloatArray,
) -> None:
    """Multiply the soft answers' messages into ``b``, rescaling rows so nothing underflows."""
    soft = [v for v in answered if hard[v] is None]
    for i, v in enumerate(soft, start=1):
        assert c.table is not None
        b *= lam[v] @ c.table[c.leaf_cols[v]]
        if i % 8 == 0 or i == len(soft):
            top = b.max(axis=1)
            ok = top > 0
            b /= np.where(ok, top, 1.0)[:, None]
            log_scale += np.log(np.where(ok, top, 1.0))


def _hard_answers(lam: FloatArray) -> FloatArray | None:
    """Return the rows' one-hot answers (zeros for unanswered rows), or None if any row is soft."""
    if lam.shape[0] == 1:  # one row, a few values: plain Python is quicker than array calls
        values = lam[0].tolist()
        ones = values.count(1.0)
        if ones + values.count(0.0) != len(values):
            return None
        if len(values) == 1 or ones == 1:
            return lam
        return lam * 0.0 if ones == len(values) else None
    if not ((lam == 0.0) | (lam == 1.0)).all():
        return None
    card = lam.shape[1]
    sums = lam.sum(axis=1)
    if card == 1:
        return lam
    if not np.all((sums == 1.0) | (sums == card)):
        return None
    return lam * (sums == 1.0)[:, None]


def _row_normalise(x: FloatArray) -> FloatArray:
    s = x.sum(axis=1, keepdims=True)
    return np.divide(x, s, out=np.zeros_like(x), where=s > 0)


def _safe_div(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a / b``, and 0 where ``b`` is 0 (a configuration ruled out); ``b >= 0``, ``a`` finite."""
    return a / np.where(b > 0, b, np.inf)


def _merge_small_cliques(
    cliques: list[tuple[int, ...]], cards: Sequence[int], limit: int, protect: set[int]
) -> list[tuple[int, ...]]:
    """Merge neighbouring cliques of a junction tree while their union has at most ``limit`` states.

    Fewer, larger cliques mean fewer array operations per query (what a single case pays for);
    merging two neighbours of a junction tree keeps it one. The clique holding every variable of
    ``protect`` (the targets' root) is left as it is. Smallest unions are merged first.
    """
    sets = [frozenset(c) for c in cliques]
    n = len(sets)
    if n < 2:
        return cliques
    edges = sorted(
        ((len(sets[i] & sets[j]), i, j) for i, j in itertools.combinations(range(n), 2)), key=lambda e: -e[0]
    )
    group = list(range(n))

    def find(x: int) -> int:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
    for _w, i, j in edges:
        gi, gj = find(i), find(j)
        if gi != gj:
            group[gi] = gj
            nbrs[i].add(j)
            nbrs[j].add(i)
    alive = {i: sets[i] for i in range(n)}

    def states(vs: frozenset[int]) -> int:
        return math.prod(cards[v] for v in vs)

    while True:
        best: tuple[int, int, int] | None = None
        for i, vi in alive.items():
            if protect and protect <= vi:
                continue
            for j in nbrs[i]:
                if j < i and not (protect and protect <= alive[j]):
                    size = states(vi | alive[j])
                    if size <= limit and (best is None or size < best[0]):
                        best = (size, i, j)
        if best is None:
            break
        _size, i, j = best
        alive[j] = alive[j] | alive.pop(i)
        for k in nbrs.pop(i):
            if k != j:
                nbrs[k].discard(i)
                nbrs[k].add(j)
                nbrs[j].add(k)
        nbrs[j].discard(i)
        for k in list(nbrs[j]):  # a neighbour inside the merged clique is absorbed too
            if alive[k] <= alive[j] and not (protect and protect <= alive[k]):
                alive.pop(k)
                for m in nbrs.pop(k):
                    if m != j:
                        nbrs[m].discard(k)
                        nbrs[m].add(j)
                        nbrs[j].add(m)
                nbrs[j].discard(k)
    return [tuple(sorted(v)) for v in alive.values()]


def _triangulate(adj: dict[int, set[int]], cards: Sequence[int], *, room: int | None = None) -> list[tuple[int, ...]]:
    """Eliminate by greedy min-fill (ties: smallest clique weight); return the maximal cliques.

    With ``room`` (bytes), stop with :class:`_CliqueTooLarge` at the first clique that cannot fit.
    """
    g = {v: set(n) for v, n in adj.items()}
    cliques: list[set[int]] = []
    while g:

        def cost(v: int) -> tuple[int, int]:
            nb = g[v]
            d = len(nb)
            inside = sum(len(g[a] & nb) for a in nb) // 2  # edges already among the neighbours
            return d * (d - 1) // 2 - inside, math.prod(cards[u] for u in nb) * cards[v]

        v = min(g, key=cost)
        nb = g[v]
        clique = {v, *nb}
        if room is not None and _clique_bytes(math.prod(cards[u] for u in clique), len(clique)) > room:
            raise _CliqueTooLarge(tuple(sorted(clique)))
        for a, b in itertools.combinations(nb, 2):
            g[a].add(b)
            g[b].add(a)
        for u in nb:
            g[u].discard(v)
        del g[v]
        if not any(clique <= c for c in cliques):
            cliques.append(clique)
    return [tuple(sorted(c)) for c in cliques]


def impossible_evidence(engine: Engine, answers: Mapping[str, str | tuple[float, ...]]) -> ImpossibleEvidenceError:
    """The error for normalised answers whose probability is zero, naming the few that conflict.

    The conflict is found by leaving answers out one at a time while the rest stay impossible
    (one one-row query each, on this error path only), so it is a set of answers that cannot
    hold together although every smaller part of it can. The message names those questions,
    never the answers given.
    """

    def possible(subset: Sequence[str]) -> bool:
        ev = from_answers(engine.network, {q: answers[q] for q in subset})
        return bool(np.isfinite(engine.query(ev.likelihoods, 1, marginals=[]).log_evidence[0]))

    conflict = list(answers)
    for q in list(answers):
        rest = [x for x in conflict if x != q]
        if rest and not possible(rest):
            conflict = rest
    names = [repr(_cut_id(q)) for q in conflict]
    listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    if len(names) == 1:
        what = f"the answer to {listed} has probability zero under the model"
    else:
        head, last = (", ".join(names[:-1]), names[-1]) if len(names) <= 5 else (listed, "")
        joined = f"{head} and {last}" if last else head
        what = f"the answers to {joined} cannot {'both' if len(names) == 2 else 'all'} hold under the model"
    return ImpossibleEvidenceError(
        f"these answers together have probability zero: {what}; change one of them, or answer 'unsure'",
        answers=tuple(answers),
        conflict=tuple(conflict),
    )


def _cut_id(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def compile_engine(
    network: Network,
    *,
    joint_limit: int = _JOINT_LIMIT,
    merge_limit: int = _MERGE_LIMIT,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
) -> Engine:
    """Compile ``network`` into an :class:`Engine` (do it once, query many times).

    Raises
    ------
    ModelTooLargeError
        The compiled tree would exceed ``memory_budget`` bytes (see :func:`estimate_memory`).
    """
    return Engine(network, joint_limit=joint_limit, merge_limit=merge_limit, memory_budget=memory_budget)
