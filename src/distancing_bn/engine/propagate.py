"""The compiled junction tree: build its arrays from a plan, then collect and distribute.

A :class:`JunctionTree` is compiled once from a :class:`~.plan.Plan`. Evidence is one
likelihood matrix per observable, shape ``(rows, states)``; the same two message passes
(collect to the root, distribute back) serve one row or a million.

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
- When the plan holds the targets in the root clique, one collect pass gives
  ``P(targets, e)`` (top explanations, joint gain).

Layer 2 of :mod:`distancing_bn.engine`: imports :mod:`.kernels`, :mod:`.plan` and
:mod:`distancing_bn.network`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..network import DEFAULT_MEMORY_BUDGET, Network
from .kernels import (
    LOG_ZERO,
    FloatArray,
    Projection,
    Recent,
    exp_rows,
    hard_answers,
    row_normalise,
    safe_div,
)
from .plan import FOLD_KEPT, FOLD_LIMIT, FOLD_SEP, JOINT_LIMIT, MERGE_LIMIT, MemoryEstimate, estimate_memory, host_of

__all__ = ["Clique", "JunctionTree", "QueryResult", "concat_results", "passes"]

RECENT = 256  # gain layouts kept per tree for recent candidate sets (one per set of answered questions)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Raw batched results: every array has a leading row axis."""

    log_evidence: FloatArray  # (rows,) natural log of P(e); -inf where impossible
    marginals: Mapping[str, FloatArray]  # variable -> (rows, card)
    target_joint: FloatArray | None  # (rows, *target cards) in the network's target order, or None

    @property
    def possible(self) -> NDArray[np.bool_]:
        """Return a mask of the rows whose evidence has non-zero probability."""
        return np.isfinite(self.log_evidence)


def _configs(cards: tuple[int, ...]) -> NDArray[np.int64]:
    """Every configuration of variables with these cardinalities, one row each, the last varying fastest."""
    return np.indices(cards).reshape(len(cards), -1).T if cards else np.zeros((1, 0), dtype=np.int64)


@dataclass(eq=False)
class Clique:
    vars: tuple[int, ...]
    cards: tuple[int, ...]
    size: int
    potential: FloatArray  # (size,)
    parent: int = -1
    children: list[int] = field(default_factory=list)
    to_sep: Projection | None = None  # this clique onto the separator with its parent
    parent_to_sep: Projection | None = None  # the parent onto the same separator
    leaves: list[int] = field(default_factory=list)  # hosted observable leaves (var ids)

    @property
    def configs(self) -> NDArray[np.int64]:
        """``(size, len(vars))``: the state of each variable in each configuration, made anew.

        Not kept: it is the largest array of a large clique (8 bytes per state and variable),
        and is needed only to build projections and tables.
        """
        return _configs(self.cards)

    leaf_cols: dict[int, slice] = field(default_factory=dict)  # rows of W per leaf
    log_table: FloatArray | None = None  # W: (Σ hosted answers, size)
    table: FloatArray | None = None  # M: exp(W), for soft answers
    evidence: dict[int, Projection] = field(default_factory=dict)  # non-leaf observables hosted here
    fold: FloatArray | None = None  # [W_leaves; E_child…; log φ] for the one-product collect step
    fold_rows: dict[Any, slice] | None = None  # which rows of `fold` belong to which leaf/child
    folded_children: list[int] = field(default_factory=list)  # children absorbed through `fold`
    fold_used: Recent = field(default_factory=lambda: Recent(64))  # `fold` rows per answered set (recent ones)


class JunctionTree:
    """A network compiled into a junction tree; query it with likelihood matrices.

    The methods without a leading underscore (``collect``, ``distribute``, ``finish``, the
    projections and ``gain_layouts``) are what :mod:`.gains` builds on; the layers above the
    engine use the :class:`~distancing_bn.engine.compiled.Engine` instead.
    """

    def __init__(
        self,
        network: Network,
        *,
        joint_limit: int = JOINT_LIMIT,
        merge_limit: int = MERGE_LIMIT,
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
        plan = estimate.plan
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
        self._building = Recent(2)  # configurations of the cliques the build used last
        for c in plan.cliques:
            cards = tuple(self.cards[i] for i in c)
            size = math.prod(cards)
            self.cliques.append(Clique(c, cards, size, np.ones(size)))
        self._build_tree()
        self._assign(core)
        self.order = self._bfs()  # root first
        self.home: dict[int, int] = {}
        for k in sorted(range(len(self.cliques)), key=lambda k: self.cliques[k].size):
            for v in self.cliques[k].vars:
                self.home.setdefault(v, k)
        self._marginal: dict[int, Projection] = {}  # per variable, from its home clique (built on first use)
        rc = self.cliques[root]
        self._joint = (
            Projection(self._cfg(rc), rc.cards, [rc.vars.index(i) for i in target_idx]) if self.has_joint else None
        )
        self.leaf_host = {v: k for k, c in enumerate(self.cliques) for v in c.leaves}
        for clique in self.cliques:
            self._build_fold(clique)
        self.subtree_evidence: dict[int, frozenset[int]] = {}  # observables at or below each clique
        for k in reversed(self.order):
            clique = self.cliques[k]
            below = set(clique.leaves) | set(clique.evidence)
            for ch in clique.children:
                below |= self.subtree_evidence[ch]
            self.subtree_evidence[k] = frozenset(below)
        self._building.clear()  # built: later projections make their configurations again
        self._prior: dict[int, tuple[FloatArray, FloatArray | None, float]] | None = None
        self._root_projections: dict[tuple[int, ...], Projection] = {}
        self._stacked = Recent(16)  # stacked marginal projections, per list of wanted variables
        self._gain_matrices: dict[Any, Any] = {}  # matrices compiled on first use, one per clique or pair
        self.gain_layouts = Recent(RECENT)  # matrices and layouts per set of candidates: recent ones only

    # ------------------------------------------------------------------ compile helpers
    def _build_tree(self) -> None:
        for k, (parent, children) in enumerate(self.memory.plan.tree):  # type: ignore[union-attr]
            self.cliques[k].parent = parent
            self.cliques[k].children = list(children)
        for c in self.cliques:
            if c.parent == -1:
                continue
            par = self.cliques[c.parent]
            sep = sorted(set(par.vars) & set(c.vars))
            c.to_sep = Projection(self._cfg(c), c.cards, [c.vars.index(v) for v in sep])
            c.parent_to_sep = Projection(self._cfg(par), par.cards, [par.vars.index(v) for v in sep])

    def _cfg(self, c: Clique) -> NDArray[np.int64]:
        """``c.configs`` while the tree is built, kept for the two cliques used last only (bounded peak)."""
        got = self._building.touch(id(c))
        if got is None:
            got = c.configs
            self._building.put(id(c), got)
        return got

    def _host(self, family: set[int]) -> int:
        return host_of(family, self.memory.plan.sets, self.memory.plan.sizes, self.root)  # type: ignore[union-attr]

    def _family_table(self, c: Clique, var: int, parents: Sequence[int]) -> FloatArray:
        """P(var = a | parents restricted from each clique configuration): (card, clique size)."""
        cpt = self.network.cpts[self.network.variables[var]]
        return np.ascontiguousarray(cpt.reshape(-1, self.cards[var])[self._parent_index(c, parents, cpt)].T)

    def _family_entries(self, c: Clique, var: int, parents: Sequence[int], state: int | None = None) -> FloatArray:
        """P(var = x_var | parents) at each clique configuration (``state``: that state instead): (clique size,).

        One entry per configuration, gathered directly: never the ``(card, size)`` table (2.2 GB
        for a 100-state variable in mildew's 2.8M-state clique).
        """
        cpt = self.network.cpts[self.network.variables[var]]
        card = self.cards[var]
        own = self._cfg(c)[:, c.vars.index(var)] if state is None else state
        return cpt.reshape(-1)[self._parent_index(c, parents, cpt) * card + own]

    def _parent_index(self, c: Clique, parents: Sequence[int], cpt: FloatArray) -> NDArray[np.intp]:
        """The row of ``cpt`` (flattened over its parents) at each clique configuration."""
        if not parents:
            return np.zeros(c.size, dtype=np.intp)
        configs = self._cfg(c)
        return np.ravel_multi_index(tuple(configs[:, c.vars.index(p)] for p in parents), cpt.shape[:-1])

    def _assign(self, core: Sequence[int]) -> None:
        net = self.network
        names = net.variables
        idx = net.index
        families = [(i, [idx[p] for p in net.parents[names[i]]]) for i in core]
        hosts = [self._host({i, *ps}) for i, ps in families]
        for k in np.argsort(hosts, kind="stable").tolist():  # by host: each clique's configurations made once
            i, ps = families[k]
            c = self.cliques[hosts[k]]
            c.potential = c.potential * self._family_entries(c, i, ps)
            if names[i] in net.observables:
                h = self.cliques[self._host({i})]
                h.evidence[i] = Projection(self._cfg(h), h.cards, [h.vars.index(i)])
        for name, state in net.observed.items():  # P(observed state | parents), once, in a host
            i = idx[name]
            ps = [idx[p] for p in net.parents[name]]
            c = self.cliques[self._host(set(ps))]
            c.potential = c.potential * self._family_entries(c, i, ps, net.states[name].index(state))
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
                c.log_table = np.where(c.table > 0, np.log(np.where(c.table > 0, c.table, 1.0)), LOG_ZERO)

    def _build_fold(self, c: Clique) -> None:
        """Stack the log tables, children's spreading matrices and log φ of a clique, if small."""
        # a child is folded in when its separator is small: a product row costs 2·sep·size flops,
        # a gather-and-multiply about two passes over the clique
        folded = [
            ch
            for ch in c.children
            if self.cliques[ch].parent_to_sep.dense  # type: ignore[union-attr]
            and self.cliques[ch].parent_to_sep.sub <= FOLD_SEP
        ]  # type: ignore[union-attr]
        seps = [self.cliques[ch].parent_to_sep for ch in folded]
        height = (c.log_table.shape[0] if c.log_table is not None else 0) + sum(p.sub for p in seps) + 1  # type: ignore[union-attr]
        if height * c.size > FOLD_LIMIT:
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
            blocks.append(np.maximum(np.log(c.potential), LOG_ZERO)[None, :])
        rows["bias"] = slice(start, start + 1)
        c.fold = np.ascontiguousarray(np.vstack(blocks))
        c.fold_rows = rows
        c.fold_used = Recent(64, max_bytes=FOLD_KEPT * c.fold.nbytes)

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
            return concat_results(
                [
                    self.query(part, t - s, marginals=marginals, joint=joint)
                    for s, t, part in passes(likelihoods, rows, self.max_rows)
                ]
            )
        net = self.network
        wanted = list(net.targets) + list(net.reported) if marginals is None else list(marginals)
        lam, belief, up, log_scale = self.collect(likelihoods, rows)
        root_b = belief[self.root]
        total = root_b.sum(axis=1)
        with np.errstate(divide="ignore"):
            log_evidence = log_scale + np.log(total)
        return self.finish(lam, belief, up, rows, root_b, log_evidence, wanted, joint)

    def collect(
        self, likelihoods: Mapping[str, FloatArray], rows: int
    ) -> tuple[dict[int, FloatArray], dict[int, FloatArray], dict[int, FloatArray], FloatArray]:
        """Run the collect pass; return (likelihoods by var id, beliefs, messages up, log scale)."""
        net = self.network
        lam = {net.index[v]: np.asarray(a, dtype=np.float64) for v, a in likelihoods.items()}
        hard = {v: hard_answers(a) for v, a in lam.items() if v in self.leaf_host}
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
            self._collect_cliques(lam, hard, up, belief, rows, log_scale, ones, self._prior)
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
                self._collect_cliques({}, {}, up, belief, 1, log_scale, np.ones((1, 1)), False, record)
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
        prior: Mapping[int, tuple[FloatArray, FloatArray | None, float]] | Literal[False] | None,
        record: dict[int, float] | None = None,
    ) -> None:
        """The collect pass proper: leaves to root, filling ``belief`` and ``up``.

        Cliques whose subtree holds no evidence take their values from ``prior`` (``None``: the
        prior pass, run on first need; ``False``: none); ``record`` receives each clique's share
        of the log scale (for :meth:`_prior_pass`).
        """
        present = lam.keys()
        for k in reversed(self.order):
            c = self.cliques[k]
            if prior is not False and present.isdisjoint(self.subtree_evidence[k]):
                if prior is None:
                    prior = self._prior_pass()
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

    def finish(
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
            tj = row_normalise(self._joint.apply(root_b))
            target_joint = tj.reshape((rows, *(self.cards[net.index[t]] for t in net.targets)))
        out: dict[str, FloatArray] = {}
        in_root = set(self.cliques[self.root].vars)
        if wanted and all(net.index[w] in in_root for w in wanted):  # no distribute pass needed
            stacked, bounds = self._stacked_root_marginals(tuple(net.index[w] for w in wanted))
            flat = root_b @ stacked  # every wanted marginal in one read of the root belief
            for name, (lo, hi) in zip(wanted, bounds, strict=True):
                out[name] = row_normalise(flat[:, lo:hi])
        elif wanted:
            full = full if full is not None else self.distribute(belief, up, rows)
            for name in wanted:
                v = net.index[name]
                if v in self.leaf_host:
                    out[name] = self._leaf_marginal(v, full, lam, rows)
                else:
                    out[name] = row_normalise(self._marginal_projection(v).apply(full[self.home[v]]))
        return QueryResult(log_evidence, out, target_joint)

    # ------------------------------------------------------------------ information gain
    @property
    def fast_joint_gain(self) -> bool:
        """True when the separator-based joint gain applies: the root clique holds exactly the targets."""
        root_vars = set(self.cliques[self.root].vars)
        return self.has_joint and root_vars == {self.network.index[t] for t in self.network.targets}

    def _marginal_projection(self, v: int) -> Projection:
        """The projection of ``v``'s home clique onto ``v`` (cached)."""
        proj = self._marginal.get(v)
        if proj is None:  # every variable at home in that clique at once: one making of its configurations
            k = self.home[v]
            c = self.cliques[k]
            configs = c.configs
            for u in c.vars:
                if self.home[u] == k and u not in self._marginal:
                    self._marginal[u] = Projection(configs, c.cards, [c.vars.index(u)])
            proj = self._marginal[v]
        return proj

    def _stacked_root_marginals(self, variables: tuple[int, ...]) -> tuple[FloatArray, list[tuple[int, int]]]:
        """0/1 matrix (root size × Σ cards) giving the marginals of ``variables`` side by side."""
        key = variables
        cached = self._stacked.get(key)
        if cached is None:
            rc = self.cliques[self.root]
            configs = rc.configs
            blocks, bounds, start = [], [], 0
            for v in variables:
                m = np.zeros((rc.size, self.cards[v]))
                m[np.arange(rc.size), configs[:, rc.vars.index(v)]] = 1.0
                blocks.append(m)
                bounds.append((start, start + self.cards[v]))
                start += self.cards[v]
            cached = (np.ascontiguousarray(np.hstack(blocks)), bounds)
            self._stacked.put(key, cached)
        return cached

    def answer_projection(self, key: Any, table: FloatArray, c: Clique) -> FloatArray:
        """(clique size, answers × separator): P(answer | x) placed at each configuration's separator entry."""
        cache_key = ("answers", key)
        cached = self.gain_layouts.get(cache_key)
        if cached is None:
            sep = c.to_sep
            assert sep is not None and sep.dense
            m = np.zeros((c.size, table.shape[0], sep.sub))
            m[np.arange(c.size), :, sep.index] = table.T
            cached = np.ascontiguousarray(m.reshape(c.size, -1))
            self.gain_layouts.put(cache_key, cached)
        return cached

    def pair_projection(self, child: int) -> FloatArray:
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

    def root_projection(self, positions: tuple[int, ...]) -> Projection:
        proj = self._root_projections.get(positions)
        if proj is None:
            root = self.cliques[self.root]
            proj = self._root_projections[positions] = Projection(root.configs, root.cards, positions)
        if not proj.dense:
            raise NotImplementedError("the root projection is too large for the fast gain")
        return proj

    def _absorb_folded(
        self,
        c: Clique,
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
            parts.append(np.maximum(np.log(up[ch]), LOG_ZERO))
        parts.append(ones)
        left = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        key = tuple(hard_leaves)
        weights = c.fold_used.get(key)
        if weights is None:  # the rows of `fold` this set of answered questions uses (recent sets kept)
            sel += [c.fold_rows[("child", ch)] for ch in c.folded_children] + [c.fold_rows["bias"]]
            index = np.concatenate([np.arange(r.start, r.stop) for r in sel])
            weights = np.ascontiguousarray(c.fold[index])
            c.fold_used.put(key, weights)
        b = exp_rows(left @ weights, log_scale)
        multiply_soft(c, answered, lam, hard, b, log_scale)
        return b

    def _absorb_leaves(
        self,
        c: Clique,
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
            b = exp_rows(onehot @ c.log_table[cols], log_scale)
            b *= c.potential
        else:
            b = np.repeat(c.potential[None, :], rows, axis=0)
        multiply_soft(c, answered, lam, hard, b, log_scale)
        return b

    def distribute(self, belief: dict[int, FloatArray], up: dict[int, FloatArray], rows: int) -> dict[int, FloatArray]:
        full = {self.root: belief[self.root]}
        for k in self.order:
            children = self.cliques[k].children
            if not children:
                continue
            sums = self.child_separator_sums(k, full[k])
            for ch in children:
                cc = self.cliques[ch]
                down = row_normalise(safe_div(sums[ch], up[ch]))
                proj = cc.to_sep
                assert proj is not None
                if proj.dense:  # one pass: the child's belief times its separator entry
                    full[ch] = belief[ch] * np.take(down, proj.index, axis=1)
                else:
                    child = belief[ch].copy()
                    proj.multiply_into(child, down)
                    full[ch] = child
        return full

    def child_separator_sums(self, k: int, b: FloatArray) -> dict[int, FloatArray]:
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
            b = safe_div(b, lam[v] @ table)
        pred = b @ table.T
        if v in lam:
            pred = pred * lam[v]
        return row_normalise(pred)


def passes(
    likelihoods: Mapping[str, FloatArray], rows: int, per_pass: int
) -> Iterator[tuple[int, int, dict[str, FloatArray]]]:
    """Split evidence rows into passes of at most ``per_pass`` rows: (start, stop, likelihoods)."""
    for s in range(0, rows, per_pass):
        t = min(rows, s + per_pass)
        yield s, t, {v: a[s:t] for v, a in likelihoods.items()}


def concat_results(parts: Sequence[QueryResult]) -> QueryResult:
    """One :class:`QueryResult` from the results of consecutive passes."""
    first = parts[0]
    return QueryResult(
        np.concatenate([p.log_evidence for p in parts]),
        {v: np.concatenate([p.marginals[v] for p in parts]) for v in first.marginals},
        None if first.target_joint is None else np.concatenate([p.target_joint for p in parts]),  # type: ignore[misc]
    )


def multiply_soft(
    c: Clique,
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
