"""Exact expected information gain about the targets' joint, on a compiled :class:`~.propagate.JunctionTree`.

Let ``T`` be all targets (held together by the engine's root clique) and ``Q`` an unanswered
question that is a leaf. The gain ``I(T; Q | e)`` in bits is computed without any work of
size ``2^|T|`` per candidate answer:

* ``Q`` depends on ``T`` only through a separator ``S`` of the root: the parents of ``Q`` if
  the root hosts it, else the separator of the root's child branch that holds ``Q``. ``S`` is
  a function of ``T``, so ``I(T; Q | e) = I(S; Q | e) = H(Q | e) − H(Q | S, e)``.
* One collect pass gives ``B(s) = P(S = s | e)`` (the root belief summed onto ``S``) and, by
  re-running only the path from ``Q``'s clique up to the root's child, the ratios
  ``r_a(s) = P(Q = a | S = s, e)``. Then ``P(Q = a | e) = Σ_s r_a(s) B(s)`` and
  ``H(Q | S, e) = −Σ_s B(s) Σ_a r_a(s) ln r_a(s)``.

Both entropies are of ``Q`` (a few states), so the difference keeps full precision even when
``H(T | e)`` is many bits.

Candidates sharing a host clique form one *group*, computed as one stacked product over all
their answers, for all rows or for a subset of rows.

:func:`best_joint_questions` finds each row's best question without computing every gain:
``I(T; Q | e) <= I(parents(Q); Q | e)`` (``Q`` depends on ``T`` only through its parents), and
that bound costs one product per clique after a distribute pass. Exact gains are computed,
best bound first, only for candidates whose bound can still beat the row's best exact gain,
so the answer is the same as ranking every gain exactly.

Layer 3 of :mod:`distancing_bn.engine`: imports :mod:`.kernels` and :mod:`.propagate` only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kernels import FloatArray, apply3, row_normalise, safe_div, spread3
from .propagate import JunctionTree, QueryResult, concat_results, passes

__all__ = ["BestQuestions", "best_joint_questions", "joint_gains", "upper_bounds"]

_LN2 = float(np.log(2.0))
_PRUNE_SLACK = 1e-9  # bits (per unit of cost): a bound this close to the best is still computed
_ROUND_WIDTH = 2  # exact gains computed per row and round, best bound first


@dataclass(frozen=True, slots=True)
class _Group:
    """Candidates hosted by one clique (or, at the root, sharing one parent set)."""

    members: tuple[int, ...]  # positions in the candidate list
    names: tuple[str, ...]  # the members' question ids
    table: FloatArray  # (Σ answers of members, host clique size): P(answer | configuration)
    spans: tuple[tuple[int, int], ...]  # each member's rows of `table`
    host: int  # clique id
    root_positions: tuple[int, ...] | None  # parents' positions in the root clique, if hosted there


@dataclass(frozen=True, slots=True)
class BestQuestions:
    """Per row: the best candidate (index, -1 if none is available) and its exact gain in bits."""

    index: NDArray[np.intp]
    gain: FloatArray  # NaN where no candidate is available
    computed: NDArray[np.bool_]  # (rows, candidates): which gains were computed exactly
    result: QueryResult  # the posterior from the same collect pass


def _groups(engine: JunctionTree, candidates: Sequence[str], *, single: bool = False) -> list[_Group]:
    """Group the candidates by host clique (``single``: one group each); cached on the engine."""
    key = ("groups", tuple(candidates), single)
    cached = engine.gain_layouts.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    if single:
        groups = [
            _Group((j,), (g.names[i],), g.table[s:t], ((0, t - s),), g.host, g.root_positions)
            for g in _groups(engine, candidates)
            for i, (j, (s, t)) in enumerate(zip(g.members, g.spans, strict=True))
        ]
        groups.sort(key=lambda g: g.members)
        engine.gain_layouts.put(key, groups)
        return groups
    net = engine.network
    root = engine.cliques[engine.root]
    by_key: dict[Any, list[int]] = {}
    for j, name in enumerate(candidates):
        v = net.index[name]
        k = engine.leaf_host[v]
        if k == engine.root:
            gk: Any = ("leaf", tuple(sorted(root.vars.index(net.index[x]) for x in net.parents[name])))
        else:
            gk = ("clique", k)
        by_key.setdefault(gk, []).append(j)
    groups = []
    for gk, members in by_key.items():
        tables, spans, start = [], [], 0
        host = engine.leaf_host[net.index[candidates[members[0]]]]
        c = engine.cliques[host]
        for j in members:
            v = net.index[candidates[j]]
            assert c.table is not None
            tables.append(c.table[c.leaf_cols[v]])
            spans.append((start, start + engine.cards[v]))
            start += engine.cards[v]
        names = tuple(candidates[j] for j in members)
        root_positions = gk[1] if gk[0] == "leaf" else None
        groups.append(_Group(tuple(members), names, np.vstack(tables), tuple(spans), host, root_positions))
    engine.gain_layouts.put(key, groups)
    return groups


class _GainKernel:
    """Everything the exact gain needs from one collect pass, for all rows or a subset."""

    def __init__(
        self,
        engine: JunctionTree,
        belief: Mapping[int, FloatArray],
        full: Mapping[int, FloatArray] | None = None,
        evidence: Collection[int] | None = None,
    ) -> None:
        self.engine = engine
        self.belief = belief
        self.full = full  # calibrated beliefs, when a distribute pass was run
        self.evidence = None if evidence is None else frozenset(evidence)  # observables with evidence
        self.rows = belief[engine.root].shape[0]
        self._sums: dict[Any, FloatArray] = {}  # full-row caches only
        self._old: dict[int, FloatArray] = {}
        self._branches: dict[int, FloatArray] | None = None  # B on every root child's separator

    def _branch_sums(self, node: int, idx: NDArray[np.intp] | None) -> FloatArray:
        """``B(s)`` on the separator between the root and its child ``node``."""
        if self.full is not None:  # from the child's calibrated belief: a product the child's size
            if node not in self._sums:
                c = self.engine.cliques[node]
                assert c.to_sep is not None
                self._sums[node] = row_normalise(c.to_sep.apply(self.full[node]))
            b = self._sums[node]
        else:
            if self._branches is None:  # every branch at once, all rows: one product
                self._branches = self.engine.child_separator_sums(self.engine.root, self.p)
            b = self._branches[node]
        return b if idx is None else b[idx]

    @cached_property
    def p(self) -> FloatArray:
        """``P(T | e)``: the root belief normalised (computed only when needed)."""
        b = self.belief[self.engine.root]
        tot = b.sum(axis=1, keepdims=True)
        return np.divide(b, tot, out=np.zeros_like(b), where=tot > 0)

    def entropy(self) -> FloatArray:
        """``H(T | e)`` in bits for every row."""
        return -(self.p * np.log2(np.maximum(self.p, 1e-300))).sum(axis=1)

    def _separator_sums(self, node: int, idx: NDArray[np.intp] | None) -> FloatArray:
        """The clique's collect belief summed onto its upward separator (its raw message up)."""
        c = self.engine.cliques[node]
        assert c.to_sep is not None
        if idx is not None:
            return c.to_sep.apply(self.belief[node][idx])
        if node not in self._old:
            self._old[node] = c.to_sep.apply(self.belief[node])
        return self._old[node]

    def _host_answers(self, g: _Group, b: FloatArray) -> FloatArray:
        """``Σ_x b(x) P(Q = a | x)`` on the host's separator up, ``(rows, answers, separator)``."""
        eng = self.engine
        c = eng.cliques[g.host]
        assert c.to_sep is not None
        if c.to_sep.dense:
            return (b @ eng.answer_projection((g.host, g.names), g.table, c)).reshape(b.shape[0], g.table.shape[0], -1)
        return apply3(c.to_sep, b[:, None, :] * g.table[None, :, :])

    def group(self, g: _Group, idx: NDArray[np.intp] | None) -> tuple[FloatArray, FloatArray]:
        """Return ``P(Q = a | e)`` and ``Σ_s B(s) (−r_a(s) ln r_a(s))`` (nats), each ``(rows, answers)``."""
        eng = self.engine
        cliques = eng.cliques
        table = g.table
        n_ans = table.shape[0]
        rows = self.rows if idx is None else len(idx)

        def bel(k: int) -> FloatArray:
            return self.belief[k] if idx is None else self.belief[k][idx]

        assert g.root_positions is None, "root-hosted questions go through _lifted_ratios"
        node = g.host
        c = cliques[node]
        assert c.to_sep is not None
        new = self._host_answers(g, bel(node))
        r = safe_div(new, self._separator_sums(node, idx)[:, None, :])
        while c.parent != eng.root:
            parent = cliques[c.parent]
            assert c.parent_to_sep is not None and parent.to_sep is not None
            bp = bel(c.parent)
            if _pair_is_cheaper(c, parent, n_ans):
                pair = (bp @ eng.pair_projection(node)).reshape(rows, c.parent_to_sep.sub, parent.to_sep.sub)
                new = np.matmul(r, pair)
                old = pair.sum(axis=1) if idx is not None else self._separator_sums(c.parent, None)
            else:
                new = apply3(parent.to_sep, bp[:, None, :] * spread3(c.parent_to_sep, r))
                old = self._separator_sums(c.parent, idx)
            r = safe_div(new, old[:, None, :])
            node, c = c.parent, parent
        assert c.parent_to_sep is not None
        B = self._branch_sums(node, idx)
        z = np.matmul(r, B[:, :, None])[..., 0]  # P(Q = a | e)
        h_cond = -np.matmul(r * np.log(np.maximum(r, 1e-300)), B[:, :, None])[..., 0]  # Σ_s B(s) (−r ln r)
        return z, h_cond

    def all_groups(self, candidates: Sequence[str]) -> Iterator[tuple[_Group, FloatArray, FloatArray]]:
        """:meth:`group` for every candidate and all rows, with the answers flowing up the tree.

        Each clique stacks the answers of the questions it hosts and those arriving from its
        children, and sends them all up in one product, so the work is a few operations per
        clique and per root branch rather than per host clique and path step.
        """
        eng = self.engine
        cliques = eng.cliques
        groups = _groups(eng, candidates)
        by_host = {g.host: g for g in groups if g.root_positions is None}
        at_root = [g for g in groups if g.root_positions is not None]
        if at_root:  # questions whose parents are all targets: one product with P(T | e) for all
            lifted, lifted_log = self._lifted_ratios(at_root)
            yield _branch_group(eng, at_root), self.p @ lifted, -(self.p @ lifted_log)
        constant, skip = self._constant_subtrees(candidates)
        # clique -> [(child, (groups stacked so far, r on the child's separator))]
        arriving: dict[int, list[tuple[int, tuple[list[_Group], FloatArray]]]] = {}
        for node in reversed(eng.order):
            if node == eng.root or node in skip:
                continue
            c = cliques[node]
            assert c.to_sep is not None and c.parent_to_sep is not None
            hit = constant.get(node)
            if hit is not None and hit[1] is not None:  # no evidence below: r was computed before
                hosts, r1, rlogr1 = hit[1]
                stacked = [by_host[h] for h in hosts]  # the same questions; positions may differ
                r = np.broadcast_to(r1, (self.rows, *r1.shape[1:]))
                rlogr = np.broadcast_to(rlogr1, r.shape)
            else:
                stacked, sent = self._stack_and_send(node, by_host, arriving)
                if sent is None:
                    continue
                r = sent
                rlogr = r * np.log(np.maximum(r, 1e-300))
                if hit is not None:  # remember it for the next query with this subtree free
                    r1, rlogr1 = r[:1].copy(), rlogr[:1].copy()
                    r1.setflags(write=False)
                    rlogr1.setflags(write=False)
                    eng.gain_layouts.put(hit[0], ([g.host for g in stacked], r1, rlogr1))
            if c.parent != eng.root:
                arriving.setdefault(c.parent, []).append((node, (stacked, r)))
                continue
            B = self._branch_sums(node, None)
            z = np.matmul(r, B[:, :, None])[..., 0]
            h_cond = -np.matmul(rlogr, B[:, :, None])[..., 0]
            yield _branch_group(eng, stacked), z, h_cond

    def _lifted_ratios(self, groups: Sequence[_Group]) -> tuple[FloatArray, FloatArray]:
        """``P(Q = a | t)`` and its ``x ln x`` for root-hosted groups, ``(root size, answers)`` (cached)."""
        eng = self.engine
        key = ("root-lifted", tuple(g.names for g in groups))
        cached: Any = eng.gain_layouts.get(key)
        if cached is None:  # a root-hosted question's table is already over the root's configurations
            lifted = np.ascontiguousarray(np.vstack([g.table for g in groups]).T)
            cached = (lifted, lifted * np.log(np.maximum(lifted, 1e-300)))
            eng.gain_layouts.put(key, cached)
        return cached

    def _constant_subtrees(self, candidates: Sequence[str]) -> tuple[dict[int, Any], set[int]]:
        """Topmost cliques with no evidence below (-> (cache key, cached value or None)); cliques to skip."""
        eng = self.engine
        if self.evidence is None:
            return {}, set()
        net = eng.network
        free = {k for k in eng.order if k != eng.root and self.evidence.isdisjoint(eng.subtree_evidence[k])}
        cand_ids = {net.index[q] for q in candidates}
        constant: dict[int, Any] = {}
        skip: set[int] = set()
        for k in free:
            if eng.cliques[k].parent in free:
                continue
            names = tuple(sorted(net.variables[v] for v in eng.subtree_evidence[k] if v in cand_ids))
            key = ("constant-r", k, names)
            value = eng.gain_layouts.get(key)
            constant[k] = (key, value)
            if value is not None:
                todo = list(eng.cliques[k].children)
                while todo:
                    d = todo.pop()
                    skip.add(d)
                    todo.extend(eng.cliques[d].children)
        return constant, skip

    def _stack_and_send(
        self,
        node: int,
        by_host: Mapping[int, _Group],
        arriving: dict[int, list[tuple[int, tuple[list[_Group], FloatArray]]]],
    ) -> tuple[list[_Group], FloatArray | None]:
        """Stack a clique's own answers and its children's, and sum them onto its separator up."""
        eng = self.engine
        cliques = eng.cliques
        c = cliques[node]
        assert c.to_sep is not None
        b = self.belief[node]
        parts: list[FloatArray] = []
        stacked: list[_Group] = []
        own = by_host.get(node)
        if own is not None:
            stacked.append(own)
            parts.append(self._host_answers(own, b))
        incoming = arriving.pop(node, [])
        if incoming:
            spreads = []
            for ch_node, (_gs, r) in incoming:
                proj = cliques[ch_node].parent_to_sep
                assert proj is not None
                spreads.append(spread3(proj, r))
            spread = np.concatenate(spreads, axis=1)
            parts.append(apply3(c.to_sep, b[:, None, :] * spread))
            for _ch, (gs, _r) in incoming:
                stacked.extend(gs)
        if not parts:
            return stacked, None
        new = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return stacked, safe_div(new, self._separator_sums(node, None)[:, None, :])

    @staticmethod
    def gains(g: _Group, z: FloatArray, h_cond: FloatArray) -> FloatArray:
        """``I(S; Q | e) = H(Q | e) − H(Q | S, e)`` in bits, ``(rows, members)``, from :meth:`group`."""
        starts = [s for s, _ in g.spans]
        h_q = -np.add.reduceat(z * np.log(np.maximum(z, 1e-300)), starts, axis=1)
        return np.maximum(0.0, (h_q - np.add.reduceat(h_cond, starts, axis=1)) / _LN2)


def _branch_group(engine: JunctionTree, groups: Sequence[_Group]) -> _Group:
    """The groups of one root branch as one group: their answers side by side, in order (cached)."""
    key = ("branch", tuple((g.members, g.names) for g in groups))
    cached = engine.gain_layouts.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    members: list[int] = []
    spans: list[tuple[int, int]] = []
    start = 0
    for g in groups:
        members.extend(g.members)
        spans.extend((start + s, start + t) for s, t in g.spans)
        start += g.table.shape[0]
    names = tuple(n for g in groups for n in g.names)
    out = _Group(tuple(members), names, np.empty((start, 0)), tuple(spans), groups[0].host, None)
    engine.gain_layouts.put(key, out)
    return out


def _pair_is_cheaper(child: Any, parent: Any, answers: int) -> bool:
    """Re-run a path step through the (child sep × parent sep) joint, or by spreading answers?"""
    if not (child.parent_to_sep.dense and parent.to_sep.dense):
        return False
    a, b = child.parent_to_sep.sub, parent.to_sep.sub
    pair = parent.size * a * b + answers * a * b
    spread = answers * parent.size * (b + 2)
    return pair <= spread


def joint_gains(
    engine: JunctionTree, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
    """Exact I(T; Q | e) in bits for every row and candidate leaf question Q (T = all targets).

    Needs ``engine.fast_joint_gain``; candidates must be unanswered leaves. Computed as
    ``H(Q | e) − H(Q | S, e)`` with ``S`` the root separator above ``Q``, from one collect
    pass (see the module docstring). Rows beyond ``engine.max_gain_rows`` run in passes.

    Returns
    -------
    gains : (rows, candidates) bits
    entropy : (rows,) H(T | e) in bits
    answer_probs : per candidate, (rows, answers) P(Q = a | e)
    log_evidence : (rows,) natural log of P(e)
    """
    if rows > engine.max_gain_rows:  # bounded memory: the rows in passes
        parts = [
            _joint_gains(engine, part, t - s, candidates)
            for s, t, part in passes(likelihoods, rows, engine.max_gain_rows)
        ]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            [np.concatenate([p[2][j] for p in parts]) for j in range(len(candidates))],
            np.concatenate([p[3] for p in parts]),
        )
    return _joint_gains(engine, likelihoods, rows, candidates)


def _joint_gains(
    engine: JunctionTree, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
    lam, belief, _up, log_scale = engine.collect(likelihoods, rows)
    kernel = _GainKernel(engine, belief, evidence=lam.keys())
    with np.errstate(divide="ignore"):
        log_evidence = log_scale + np.log(belief[engine.root].sum(axis=1))
    gains = np.zeros((rows, len(candidates)))
    probs: list[FloatArray] = [np.zeros((rows, 0))] * len(candidates)
    parts = list(kernel.all_groups(candidates))
    if parts:  # every group side by side: one entropy, one normalisation for all candidates
        everything = _branch_group(engine, [g for g, _z, _h in parts])
        z = np.concatenate([z for _g, z, _h in parts], axis=1)
        h = np.concatenate([h for _g, _z, h in parts], axis=1)
        gains[:, list(everything.members)] = kernel.gains(everything, z, h)
        starts = [s for s, _ in everything.spans]
        lengths = np.diff([*starts, z.shape[1]])
        zn = z / np.repeat(np.maximum(np.add.reduceat(z, starts, axis=1), 1e-300), lengths, axis=1)
        for j, (s, t) in zip(everything.members, everything.spans, strict=True):
            probs[j] = zn[:, s:t]
    return gains, kernel.entropy(), probs, log_evidence


def upper_bounds(
    engine: JunctionTree, full: Mapping[int, FloatArray], candidates: Sequence[str], rows: int
) -> FloatArray:
    """``I(parents(Q); Q | e)`` in bits for every row and candidate: an upper bound of the joint gain."""
    net = engine.network
    out = np.zeros((rows, len(candidates)))
    by_host: dict[int, list[int]] = {}
    for j, q in enumerate(candidates):
        by_host.setdefault(engine.leaf_host[net.index[q]], []).append(j)
    for host, members in by_host.items():
        key = ("bound", host, tuple(candidates[j] for j in members))
        w = engine.gain_layouts.get(key)
        c = engine.cliques[host]
        assert c.table is not None
        if w is None:  # [P(a | x) for every answer | −H(Q | x) for every member]
            tables = [c.table[c.leaf_cols[net.index[candidates[j]]]] for j in members]
            neg_h = [(t * np.log(np.maximum(t, 1e-300))).sum(axis=0) for t in tables]
            w = np.ascontiguousarray(np.vstack([*tables, *neg_h]).T)
            engine.gain_layouts.put(key, w)
        y = full[host] @ w
        cards = [engine.cards[net.index[candidates[j]]] for j in members]
        tot = y[:, : cards[0]].sum(axis=1, keepdims=True)  # Σ_a P(a | x) = 1: the belief's total
        y /= np.where(tot > 0, tot, 1.0)
        n_ans = w.shape[1] - len(members)
        pq = y[:, :n_ans]
        starts = np.concatenate([[0], np.cumsum(cards)[:-1]])
        neg_hq = np.add.reduceat(pq * np.log(np.maximum(pq, 1e-300)), starts, axis=1)
        out[:, members] = np.maximum(0.0, (y[:, n_ans:] - neg_hq) / _LN2)
    return out


def best_joint_questions(
    engine: JunctionTree,
    likelihoods: Mapping[str, FloatArray],
    rows: int,
    candidates: Sequence[str],
    *,
    available: NDArray[np.bool_],
    costs: FloatArray | None = None,
    marginals: Sequence[str] = (),
) -> BestQuestions:
    """Each row's candidate of largest ``I(T; Q | e) / cost``, exactly, and the posterior.

    ``available`` ``(rows, candidates)`` marks the questions a row may be asked (unanswered).
    Ties go to the first candidate, as in ranking. The same collect pass gives the marginals of
    ``marginals`` (returned as ``result``). Gains of candidates whose upper bound is below the
    row's best exact gain are never computed: see the module docstring.
    """
    if rows > engine.max_gain_rows:  # bounded memory: the rows in passes
        parts = [
            best_joint_questions(
                engine, part, t - s, candidates, available=available[s:t], costs=costs, marginals=marginals
            )
            for s, t, part in passes(likelihoods, rows, engine.max_gain_rows)
        ]
        return BestQuestions(
            np.concatenate([p.index for p in parts]),
            np.concatenate([p.gain for p in parts]),
            np.concatenate([p.computed for p in parts]),
            concat_results([p.result for p in parts]),
        )
    n_cand = len(candidates)
    cost = np.ones(n_cand) if costs is None else np.asarray(costs, dtype=np.float64)
    lam, belief, up, log_scale = engine.collect(likelihoods, rows)
    root_b = belief[engine.root]
    total = root_b.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_evidence = log_scale + np.log(total)
    full = engine.distribute(belief, up, rows)  # for the bounds, and for marginals off the root
    result = engine.finish(lam, belief, up, rows, root_b, log_evidence, list(marginals), False, full)
    kernel = _GainKernel(engine, belief, full)
    bound = upper_bounds(engine, full, candidates, rows)
    bound_score = np.where(available, bound / cost, -np.inf)
    exact = np.full((rows, n_cand), -np.inf)
    computed = np.zeros((rows, n_cand), dtype=bool)
    best = np.full(rows, -np.inf)
    groups = _groups(engine, candidates, single=True)  # rows rarely need two of a host's questions
    col_group = np.array([g.members[0] for g in groups], dtype=np.intp).argsort()
    at_root = np.array([g.root_positions is not None for g in groups], dtype=bool)[col_group]
    if at_root.any():  # the bound of a question hosted by the root is its exact gain
        exact[:, at_root] = bound[:, at_root]
        computed[:, at_root] = True
        best = np.where(available[:, at_root], bound_score[:, at_root], -np.inf).max(axis=1)
    # visit each row's candidates in decreasing order of their bound; a row is done when its next
    # bound cannot beat its best exact gain (bounds only decrease from there)
    order = np.argsort(-bound_score, axis=1, kind="stable") if n_cand else np.zeros((rows, 0), dtype=np.intp)
    sorted_bounds = np.take_along_axis(bound_score, order, axis=1)
    pos = np.zeros(rows, dtype=np.intp)
    active = np.arange(rows)
    while active.size:
        open_rows = pos[active] < n_cand
        active = active[open_rows]
        if not active.size:
            break
        first = sorted_bounds[active, pos[active]]
        keep = np.isfinite(first) & (first >= best[active] - _PRUNE_SLACK)
        active = active[keep]
        need = np.zeros((active.size, len(groups)), dtype=bool)
        for k in range(_ROUND_WIDTH):
            at = np.minimum(pos[active] + k, n_cand - 1)
            col = order[active, at]
            ok = (pos[active] + k < n_cand) & (sorted_bounds[active, at] >= best[active] - _PRUNE_SLACK)
            ok &= ~computed[active, col]
            need[np.flatnonzero(ok), col_group[col[ok]]] = True
        pos[active] += _ROUND_WIDTH
        for gi in np.flatnonzero(need.any(axis=0)):
            g = groups[gi]
            idx = active[need[:, gi]]
            z, h = kernel.group(g, idx)
            cols = list(g.members)
            gains = kernel.gains(g, z, h)
            exact[np.ix_(idx, cols)] = gains
            computed[np.ix_(idx, cols)] = True
            scores = np.where(available[np.ix_(idx, cols)], gains / cost[cols], -np.inf)
            best[idx] = np.maximum(best[idx], scores.max(axis=1))
    score = np.where(computed & available, exact / cost, -np.inf)
    if n_cand:
        top = score.max(axis=1, keepdims=True)
        index = np.argmax(score >= top - 1e-12, axis=1).astype(np.intp)
        none = ~np.isfinite(top[:, 0])
    else:
        index = np.zeros(rows, dtype=np.intp)
        none = np.ones(rows, dtype=bool)
    gain = np.where(none, np.nan, exact[np.arange(rows), index] if n_cand else np.nan)
    index = np.where(none, -1, index)
    return BestQuestions(index, gain, computed, result)
