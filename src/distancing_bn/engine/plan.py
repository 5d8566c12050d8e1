"""Planning a junction tree: triangulation, merging, spanning tree, root clique, memory.

Everything here decides the *shape* of a tree from the network's graph and sizes, before any
array of it is built: moralise (an observable leaf joins its parents, it is never in a clique),
triangulate by greedy min-fill, optionally hold the targets together in the root clique (only
when that does not grow the tree much, see :func:`root_clique_choice`), merge neighbouring
cliques while their union stays small, join the cliques by a maximum-weight spanning tree and
count the bytes the compiled tree will take (:class:`MemoryEstimate`). Sizes are Python ints.

Layer 1 of :mod:`distancing_bn.engine`: imports :mod:`.kernels` (constants),
:mod:`distancing_bn.network` and nothing above.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import ModelTooLargeError
from ..network import DEFAULT_MEMORY_BUDGET, Network, check_budget, too_large
from .kernels import DENSE_LIMIT, FLOAT_BYTES

__all__ = [
    "FOLD_KEPT",
    "FOLD_LIMIT",
    "FOLD_SEP",
    "JOINT_LIMIT",
    "MERGE_LIMIT",
    "CliqueTooLarge",
    "MemoryEstimate",
    "Plan",
    "clique_bytes",
    "estimate_memory",
    "host_of",
    "leaf_host_sizes",
    "merge_small_cliques",
    "root_clique_choice",
    "spanning_tree",
    "triangulate",
]

FOLD_SEP = 32  # children with larger separators are multiplied in by a gather instead
MERGE_LIMIT = 128  # neighbouring cliques are merged while their union has at most this many states
FOLD_LIMIT = 1 << 18  # largest stacked table (rows × clique size) for the one-product collect step
JOINT_LIMIT = 1 << 14  # the targets are held in the root clique when their joint has at most this many states
FOLD_KEPT = 8  # the rows of `fold` used by recent sets of answers take at most this many folds


@dataclass(frozen=True, eq=False)
class Plan:
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
    joint
        When holding the targets together in one clique would grow this tree, the estimate of a
        second tree that holds them (compiled only for the queries that need the targets' joint);
        ``None`` when this tree holds them already or their joint is not available.
    """

    table_bytes: int
    tree_bytes: int
    row_bytes: int
    gain_row_bytes: int
    largest_states: int
    largest: tuple[str, ...]
    n_cliques: int
    budget: int | None
    plan: Plan | None = field(default=None, repr=False, compare=False)
    joint: MemoryEstimate | None = field(default=None, repr=False, compare=False)

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
    joint_limit: int = JOINT_LIMIT,
    merge_limit: int = MERGE_LIMIT,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    joint: bool | None = None,
) -> MemoryEstimate:
    """Plan the junction tree of ``network`` and estimate its memory, without building any of it.

    Parameters
    ----------
    joint_limit
        The targets' joint is made available only up to this many states.
    memory_budget
        Bytes the compiled tree and one evidence row may take (default 2 GiB); ``None``: no
        limit. Batches are then split into passes of :meth:`MemoryEstimate.max_rows` rows.
    joint
        ``None`` (default): hold the targets together in the root clique when that does not
        grow the tree (see :func:`root_clique_choice`), else plan that second tree as
        :attr:`MemoryEstimate.joint`; ``True``: this tree holds them (when their joint is within
        ``joint_limit`` and the growth allowed); ``False``: never.

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
    table_bytes = sum(FLOAT_BYTES * a.size for a in net.cpts.values())
    parents = {i: tuple(idx[p] for p in net.parents[names[i]]) for i in range(len(names))}
    if budget is not None:  # a family is a clique of the moral graph: the tree holds it whole
        families = [(i, *parents[i]) for i in core] + [parents[i] for i in leaf_vars]
        big = max(families, key=lambda f: math.prod(cards[i] for i in f))
        states = math.prod(cards[i] for i in big)
        needed = table_bytes + clique_bytes(states, len(big))
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
    together: list[tuple[int, ...]] | None = None
    same = False
    try:
        free = triangulate(adj, cards, room=room) or [()]
        if joint is not False and joint_size <= joint_limit and target_idx and all(i in adj for i in target_idx):
            together, same = root_clique_choice(adj, cards, target_idx, free, room)
    except CliqueTooLarge as exc:
        states = math.prod(cards[i] for i in exc.clique)
        needed = table_bytes + clique_bytes(states, len(exc.clique))
        assert budget is not None
        raise too_large(
            net.name, "a clique of its junction tree", _names(net, exc.clique), states, needed, budget, at_least=True
        ) from None
    shape = (net, cards, leaf_vars, core, target_idx, len(obs), merge_limit, table_bytes, joint_size, budget)
    if together is not None and (same or joint):
        return _finish_plan(*shape, together, has_joint=True)
    estimate = _finish_plan(*shape, free, has_joint=False)
    if together is not None:
        try:
            second = _finish_plan(*shape, together, has_joint=True)
        except ModelTooLargeError:  # the joint would not fit: queries go without it
            return estimate
        return dataclasses.replace(estimate, joint=second)
    return estimate


def _finish_plan(
    net: Network,
    cards: tuple[int, ...],
    leaf_vars: tuple[int, ...],
    core: tuple[int, ...],
    target_idx: Sequence[int],
    n_observables: int,
    merge_limit: int,
    table_bytes: int,
    joint_size: int,
    budget: int | None,
    cliques: list[tuple[int, ...]],
    *,
    has_joint: bool,
) -> MemoryEstimate:
    """Merge small cliques, choose the root, join the tree and estimate it (see :func:`estimate_memory`)."""
    if merge_limit > 1:
        protect = set(target_idx) if has_joint else set()
        cliques = merge_small_cliques(cliques, cards, merge_limit, protect)
    if has_joint:
        root = next(k for k, c in enumerate(cliques) if set(target_idx) <= set(c))
        # a diagnostic network (every question a leaf) gets a root of exactly the targets, above the
        # clique that holds them: the separator-based joint gains need it (see gains.joint_gains)
        if set(cliques[root]) != set(target_idx) and len(leaf_vars) == n_observables:
            cliques = [*cliques, tuple(sorted(target_idx))]
            root = len(cliques) - 1
    else:
        root = max(range(len(cliques)), key=lambda k: len(cliques[k]))
    sets = tuple(frozenset(c) for c in cliques)
    sizes = tuple(math.prod(cards[i] for i in c) for c in cliques)
    plan = Plan(net, cards, leaf_vars, core, has_joint, tuple(cliques), sets, sizes, root, spanning_tree(sets, root))
    estimate = _estimate(plan, table_bytes, joint_size if has_joint else 0, budget)
    if budget is not None and estimate.needed_bytes > budget:
        k = max(range(len(sizes)), key=sizes.__getitem__)
        raise too_large(net.name, "its largest clique", estimate.largest, sizes[k], estimate.needed_bytes, budget)
    return estimate


def _estimate(plan: Plan, table_bytes: int, joint_size: int, budget: int | None) -> MemoryEstimate:
    """Count the bytes of the arrays :class:`~.propagate.JunctionTree` builds for ``plan`` (see its compile helpers)."""
    net = plan.network
    cards, sets, sizes = plan.cards, plan.sets, plan.sizes
    n = len(sizes)
    hosted = [0] * n  # answers of the leaf questions each clique hosts
    n_leaves = [0] * n
    for v in plan.leaf_vars:
        k = host_of({net.index[p] for p in net.parents[net.variables[v]]}, sets, sizes, plan.root)
        hosted[k] += cards[v]
        n_leaves[k] += 1
    sep = [0] * n
    tree = 0
    temporary = 0
    for k, (parent, children) in enumerate(plan.tree):
        size = sizes[k]
        tree += FLOAT_BYTES * size * (1 + len(plan.cliques[k]) + 2 * hosted[k])  # potential, configurations, W and M
        temporary = max(temporary, FLOAT_BYTES * size * (len(plan.cliques[k]) + max(cards, default=1) + 1))
        height = hosted[k] + 1
        for ch in children:
            sub = math.prod(cards[i] for i in sets[ch] & sets[k])
            if size * sub <= DENSE_LIMIT:
                tree += 2 * FLOAT_BYTES * size * (sub + 1)  # the parent's projection, and its stacked copy
                height += sub if sub <= FOLD_SEP else 0
        if height * size <= FOLD_LIMIT:
            tree += (1 + FOLD_KEPT) * FLOAT_BYTES * height * size  # the fold and the rows used by recent answers
        if parent >= 0:
            sep[k] = math.prod(cards[i] for i in sets[k] & sets[parent])
            if size * sep[k] <= DENSE_LIMIT:
                tree += FLOAT_BYTES * size * (sep[k] + 1) * (1 + hosted[k])  # projection; answer projection
    for v in range(len(cards)):  # each variable's marginal from its smallest clique
        homes = [k for k in range(n) if v in sets[k]]
        if homes:
            size = min(sizes[k] for k in homes)
            tree += FLOAT_BYTES * size * (cards[v] + 1) if size * cards[v] <= DENSE_LIMIT else 0
    reported = [net.index[v] for v in (*net.targets, *net.reported)]
    root_size = sizes[plan.root]
    joint_matrix = joint_size if root_size * joint_size <= DENSE_LIMIT else 0  # dense projections only
    tree += FLOAT_BYTES * root_size * (sum(cards[i] for i in reported) + 2 * hosted[plan.root] + joint_matrix)
    tree += FLOAT_BYTES * (sum(sizes) + sum(sep))  # the prior pass
    answers = sum(cards[i] for i in net.index.values() if net.variables[i] in set(net.observables))
    row = FLOAT_BYTES * (2 * sum(sizes) + 2 * sum(sep) + 3 * max(sizes) + joint_size + 2 * answers + len(reported))
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
        gain_row = FLOAT_BYTES * (
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
        plan=plan,
    )


def clique_bytes(states: int, n_vars: int) -> int:
    """The least one clique takes: its potential, configurations (built twice) and one row of belief."""
    return FLOAT_BYTES * states * (2 + 2 * n_vars)


def _names(net: Network, ids: Sequence[int]) -> tuple[str, ...]:
    return tuple(net.variables[i] for i in ids)


class CliqueTooLarge(Exception):
    def __init__(self, clique: tuple[int, ...]) -> None:
        self.clique = clique


_JOINT_ALLOWANCE = 1 << 16  # states: holding the targets together may always add this much


def root_clique_choice(
    adj: dict[int, set[int]],
    cards: Sequence[int],
    target_idx: Sequence[int],
    free: list[tuple[int, ...]],
    room: int | None,
) -> tuple[list[tuple[int, ...]] | None, bool]:
    """The cliques of a triangulation holding the targets together, and whether it costs nothing.

    Holding the targets together gives their exact joint in one pass, but it can grow the tree
    a great deal (barley: 24.8M to 77.3M states; hepar2's nine roots: 1,268 to 7,312). Returns
    ``(None, False)`` when it grows the tree beyond twice the total states and twice the largest
    clique of the tree without it (and beyond :data:`_JOINT_ALLOWANCE` more states for each),
    sizes counted in Python integers. Otherwise the cliques, and ``True`` when their total is
    at most :data:`_SAME_SHARE` more than the free tree's (plus :data:`_SAME_STATES`): then one
    tree serves every query; else the joint is a second tree, for the queries that need it.
    """
    together = {v: set(n) for v, n in adj.items()}
    for a, b in itertools.combinations(target_idx, 2):
        together[a].add(b)
        together[b].add(a)
    try:
        joint = triangulate(together, cards, room=room) or [()]
    except CliqueTooLarge:
        return None, False

    def cost(cliques: list[tuple[int, ...]]) -> tuple[int, int]:
        sizes = [math.prod(cards[i] for i in c) for c in cliques]
        return sum(sizes), max(sizes)

    total_free, largest_free = cost(free)
    total_joint, largest_joint = cost(joint)
    fits = total_joint <= max(2 * total_free, total_free + _JOINT_ALLOWANCE) and largest_joint <= max(
        2 * largest_free, largest_free + _JOINT_ALLOWANCE
    )
    if not fits:
        return None, False
    return joint, total_joint <= total_free + total_free * _SAME_SHARE + _SAME_STATES


_SAME_SHARE = 1 / 8  # holding the targets together "costs nothing" within this share of the free tree's states
_SAME_STATES = 256  # … plus this many states


def host_of(family: set[int], sets: Sequence[frozenset[int]], sizes: Sequence[int], root: int) -> int:
    """The smallest clique holding ``family`` (the root on a tie)."""
    best = [k for k, c in enumerate(sets) if family <= c]
    return min(best, key=lambda k: (sizes[k], k != root))


def leaf_host_sizes(plan: Plan) -> dict[int, int]:
    """Observable leaf (variable id) -> the states of the clique that hosts it."""
    net = plan.network
    out = {}
    for v in plan.leaf_vars:
        k = host_of({net.index[p] for p in net.parents[net.variables[v]]}, plan.sets, plan.sizes, plan.root)
        out[v] = plan.sizes[k]
    return out


def spanning_tree(sets: Sequence[frozenset[int]], root: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
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


def merge_small_cliques(
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


def triangulate(adj: dict[int, set[int]], cards: Sequence[int], *, room: int | None = None) -> list[tuple[int, ...]]:
    """Eliminate by greedy min-fill (ties: smallest clique weight, then ``adj``'s order); return the maximal cliques.

    Neighbourhoods are bit masks, and after each elimination only the scores of the vertices
    near it are recomputed (a vertex's fill-in changes only if it or one of its neighbours was
    a neighbour of the eliminated vertex). With ``room`` (bytes), stop with
    :class:`CliqueTooLarge` at the first clique that cannot fit.
    """
    order = list(adj)
    pos = {v: k for k, v in enumerate(order)}
    nbr = [0] * len(order)
    for v, ns in adj.items():
        mask = 0
        for u in ns:
            mask |= 1 << pos[u]
        nbr[pos[v]] = mask
    card = [cards[v] for v in order]
    uniform = len(set(card)) <= 1  # then the weight card ** (degree + 1) orders as the degree

    def score(i: int) -> tuple[int, int]:
        mask = nbr[i]
        d = mask.bit_count()
        inside = 0
        weight = card[i]
        rest = mask
        while rest:
            low = rest & -rest
            a = low.bit_length() - 1
            inside += (nbr[a] & mask).bit_count()
            if not uniform:
                weight *= card[a]
            rest ^= low
        return d * (d - 1) // 2 - inside // 2, d if uniform else weight

    scores = {i: score(i) for i in range(len(order))}  # insertion order breaks ties, as min() does
    cliques: list[int] = []
    while scores:
        i = min(scores, key=scores.__getitem__)
        mask = nbr[i]
        clique = mask | (1 << i)
        if room is not None:
            members = list(_bits(clique))
            if clique_bytes(math.prod(card[k] for k in members), len(members)) > room:
                raise CliqueTooLarge(tuple(sorted(order[k] for k in members)))
        gone = ~(1 << i)
        near = mask
        for a in _bits(mask):
            nbr[a] = (nbr[a] | mask) & ~(1 << a) & gone
            near |= nbr[a]
        del scores[i]
        for k in _bits(near):
            if k in scores:
                scores[k] = score(k)
        if not any(clique & ~c == 0 for c in cliques):
            cliques.append(clique)
    return [tuple(sorted(order[k] for k in _bits(c))) for c in cliques]


def _bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
