"""Exact inference where the questions are noisy-OR / noisy-MAX: the answers decide the graph.

A question ``Y`` (levels ``0 … K-1``) whose cumulative table factorises over its parents,
``F_y(x) = P(Y <= y | x) = L_y Π_i g_{i,y}(x_i)`` (leaky noisy-OR and noisy-MAX; found from the
tables by :mod:`distancing_bn.engine.local`), enters the evidence through one identity. A
likelihood ``λ`` over its levels (a hard answer is one-hot, unanswered is all ones) is

    Σ_y λ_y P(Y = y | x) = Σ_y (λ_y − λ_{y+1}) F_y(x)        (λ_K = 0; telescoping)

a sum of as many products of one factor per parent as there are non-zero weights
``w_y = λ_y − λ_{y+1}``. With a single weight the answer *couples nothing*: it is a likelihood on
each parent and a constant. That covers the lowest answer (``w_0 = 1``: ``P(Y = 0 | x) = F_0``),
"at most level y" (a step ``λ``), unanswered (``F_{K-1} = 1``: nothing at all) and any soft
answer of that shape. Every other answer — a positive one is ``F_y − F_{y−1}``, a soft one is a
mix of levels and so a weighted sum of the ``F_y`` — couples its parents (Quickscore's
observation, Heckerman 1989). A question with at most one parent never couples anything,
whatever its table; a question without local structure couples its parents for any informative
answer; a variable without local structure (a cause, a facet) is simply a full table.

The method (each choice measured on the benchmark tiers, benchmarks/bench_tiers.py):

1. **Absorb.** Every coupling-free answer of every row becomes log-likelihoods on the parents in
   ONE product ``S @ W`` (``S``: the rows' selected terms, ``W``: the log factors of every term of
   every question), one-parent questions in one more; a per-variable maximum keeps everything in
   range and goes into ``log P(e)``.
2. **Group.** Rows are grouped by their set of coupling answers (a bit pattern per row); all rows
   of a group share one plan and are computed together as arrays: there is a Python loop per
   distinct pattern, never per row.
3. **Plan** (:mod:`distancing_bn.engine.reduced`, cached per pattern). The reduced graph has the
   latent variables (causes, facets, inner observables), their tables (cause-to-cause links and
   facets are tables like any other), and one factor per coupling answer over its parents; a
   coupling answer with :data:`AUX_PARENTS` parents or more is entered instead as Díez and Galán's
   multiplicative factorisation (an auxiliary variable over its terms, joined to each parent by
   ``g_{i,y}(x_i)`` and carrying the signed weights ``w_y L_y``), so that the premise of the
   default model, over twelve causes, adds a star rather than a 4,096-state clique. Variables
   joined to at most one other by fixed tables (most facets, lone causes) are summed out all at
   once by two products; the rest are eliminated greedily by clique size (min-fill gave cliques
   within a few percent on the tiers and cost 10–20× more to run, every new pattern), and
   neighbouring cliques are merged up to 128 states (larger merges measured slower). The log
   potential of every small clique is one gather-and-sum over the rows' log-likelihoods, the
   coupling answers' tables and the fixed tables, whose indices are built for all cliques at once.
4. **Propagate.** One collect pass (messages scaled by their largest magnitude, scales summed in
   log space, so ``log P(e)`` is exact for any number of answers, -inf only for impossible rows)
   and, for marginals, one Hugin distribute pass. Clique arrays keep the row axis last.

Quickscore's sum over subsets of the positive answers (``2^k`` fully factorised terms), or
enumerating every cause they touch, were the alternatives: both are exponential in the number
of positive answers (40 at 30/400 with 10% positive), the elimination only in the treewidth of
what they couple (largest cliques of 128 to 16k states there). The tests compare with an exact
Quickscore in rationals. Signed messages (the auxiliary variables) are checked against the
junction tree to 1e-9.

**Next question** (:meth:`NoisyEngine.gains`). For a question with product-form cumulative
tables, "at most level y" is a coupling-free answer, so ``P(e, Q <= y)`` and the posteriors given
it come from rows that share the plan of ``e`` (made from ``e``'s step 1 plus that answer's
log-likelihoods): one batched pass over ``1 + Σ_Q (K_Q − 1)`` rows per evidence row gives every
``P(T_i, Q = y, e) = P(T_i, Q <= y, e) − P(T_i, Q <= y − 1, e)`` and so every ``marginal`` gain
(``Σ_i I(T_i; Q | e)``). The ``joint`` criterion (``I(T; Q | e)``, when the targets' joint is small)
reads ``P(T | e)`` once and, for questions over targets only, ``P(T, Q = y | e) = P(T | e) P(Q = y | T)``:
three matrix products for all candidates. Both are exactly the definitions of
:func:`distancing_bn.information.rank_questions`. Rows go in chunks: memory stays bounded.

:func:`choose_backend` compares this backend's estimated cost with the junction tree's (from
:func:`distancing_bn.engine.estimate_memory`) per model and per batch; ``backend=`` forces one.

Imports numpy, :mod:`distancing_bn.errors`, :mod:`distancing_bn.network`,
:mod:`distancing_bn.engine.plan` (the tree's memory estimate), :mod:`distancing_bn.engine.propagate`
(``QueryResult``), :mod:`distancing_bn.engine.local` and :mod:`distancing_bn.engine.reduced`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelTooLargeError
from ..network import DEFAULT_MEMORY_BUDGET, Network, check_budget, too_large
from .local import detect_noisy
from .plan import MemoryEstimate, estimate_memory
from .propagate import QueryResult
from .reduced import FLOOR, LOG0, Leaf, Plan, bits, configs, eliminate, safe_log

__all__ = [
    "AUX_PARENTS",
    "BackendChoice",
    "BestChoice",
    "GainResult",
    "NoisyEngine",
    "check_backend",
    "choose_backend",
    "noisy_cost",
    "weigh_backends",
]

FloatArray = NDArray[np.float64]
Backend = Literal["junction_tree", "noisy"]
Evidence = tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_], FloatArray]  # step 1 of a query
BACKENDS: tuple[str, ...] = ("auto", "junction_tree", "noisy")
AUX_PARENTS = 5  # a coupling answer with this many parents or more gets an auxiliary term variable
_MERGE_LIMIT = 128  # neighbouring cliques are merged while their union has at most this many states
_JOINT_LIMIT = 1 << 14  # the targets' joint is offered when it has at most this many states
_PLANS = 2048  # plans kept per engine (the oldest go first)
_GAIN_ROWS = 8192  # expanded rows per chunk of the next-question computation
_GAIN_JOINT = 1 << 16  # gains from the targets' joint when it has at most this many states
_LN2 = math.log(2.0)
# cost model of choose_backend (seconds; measured with benchmarks/bench_tiers.py on the benchmark machine)
_T_QUERY = 3e-4  # noisy backend: step 1 and the fixed part of one query
_T_PLAN = 1e-3  # planning a new set of coupling answers
_T_PLAN_ANSWER = 4e-5  # and per coupling answer in it
_T_CLIQUE = 3e-5  # array calls per clique and pass
_T_STATE = 2e-8  # one clique state of one row, both passes
_T_TREE_QUERY = 2e-4  # junction tree: the fixed part of one query
_T_TREE_CLIQUE = 3e-5  # per clique
_T_TREE_STATE = 5e-8  # per clique state of one row
_T_TREE_BYTE = 2e-9  # compiling, per byte of the tree
_PREFER_TREE = 0.7  # the noisy backend must be estimated at least this much cheaper
_NOT_WORTH_WEIGHING = 2e-3  # a tree query estimated below this is not weighed (the estimate costs 0.1–1 ms)
_CHOICE_SAMPLE = 8  # rows of a batch the noisy backend's estimate looks at (scaled to the batch)


@dataclass(frozen=True, slots=True)
class BestChoice:
    """Per row: the best candidate (index, -1 if none) and its gain, as the tree engine's ``BestQuestions``."""

    index: NDArray[np.intp]
    gain: FloatArray  # NaN where no candidate is available
    computed: NDArray[np.bool_]  # (rows, candidates): which gains were computed exactly (all of them here)
    result: QueryResult  # the posterior of the rows


@dataclass(frozen=True, slots=True)
class GainResult:
    """Per row and candidate, the expected information gain (bits) of asking it next."""

    gains: FloatArray  # (rows, candidates); 0 where the row already answered it or P(e) = 0
    entropy: FloatArray  # (rows,) the uncertainty the gains reduce: H(T | e) or Σ_i H(T_i | e), bits
    answer_probs: tuple[FloatArray, ...]  # per candidate (rows, levels): P(Q = a | e)
    log_evidence: FloatArray  # (rows,) natural log of P(e)
    criterion: str
    candidates: tuple[str, ...]

    def best(self) -> tuple[NDArray[np.intp], FloatArray]:
        """Per row: the index of the best unanswered candidate (-1 if none) and its gain."""
        g = np.where(self.open, self.gains, -np.inf)
        idx = np.argmax(g, axis=1) if g.shape[1] else np.zeros(g.shape[0], dtype=np.intp)
        best = g[np.arange(g.shape[0]), idx] if g.shape[1] else np.full(g.shape[0], -np.inf)
        idx = np.where(np.isfinite(best), idx, -1)
        return idx.astype(np.intp), np.where(np.isfinite(best), best, np.nan)

    @property
    def open(self) -> NDArray[np.bool_]:
        """(rows, candidates): True where the candidate is still unanswered in a possible row."""
        return np.isfinite(self.gains)


# ---------------------------------------------------------------------------- the engine
class NoisyEngine:
    """Exact queries and next-question gains on a network, using its noisy-OR / noisy-MAX structure.

    Drop-in for the junction-tree engine's :meth:`query` (same arguments, same
    :class:`~distancing_bn.engine.QueryResult`). Works for any network (a variable without
    local structure is a full table), and is fast where answers are mostly negative.
    """

    def __init__(
        self,
        network: Network,
        *,
        joint_limit: int = _JOINT_LIMIT,
        merge_limit: int = _MERGE_LIMIT,
        aux_parents: int = AUX_PARENTS,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.network = net = network
        self.budget = check_budget(memory_budget)
        self.merge_limit = merge_limit
        self.target_order = tuple(net.targets)
        self._floor_states: int | None = None
        has_children = {p for v in net.variables for p in net.parents[v]}
        obs = set(net.observables)
        leaf_names = [v for v in net.variables if (v in obs or v in net.observed) and v not in has_children]
        leaf_set = set(leaf_names)
        self.latent = tuple(v for v in net.variables if v not in leaf_set)
        self.lid = {v: i for i, v in enumerate(self.latent)}
        self.n_latent = len(self.latent)
        self.cards = tuple(net.card(v) for v in self.latent)
        self.offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.cards)[:-1]])) if self.cards else ()
        self.n_states = int(sum(self.cards))
        self.target_ids = tuple(sorted(self.lid[t] for t in net.targets))
        joint_states = math.prod(net.card(t) for t in net.targets)
        self.has_joint = joint_states <= joint_limit
        # the latent variables' own tables, axes in increasing id order
        self.families: list[tuple[int, ...]] = []
        self.family_tables: list[FloatArray] = []
        base = [0] * self.n_latent
        for v in self.latent:
            ids = [self.lid[p] for p in net.parents[v]] + [self.lid[v]]
            order = sorted(range(len(ids)), key=ids.__getitem__)
            self.families.append(tuple(ids[i] for i in order))
            self.family_tables.append(np.ascontiguousarray(np.transpose(net.cpts[v], order)))
            mask = 0
            for u in ids:
                mask |= 1 << u
            for u in ids:
                base[u] |= mask & ~(1 << u)
        self.base_adj = tuple(base)
        self.var_cols = [np.arange(o, o + c) for o, c in zip(self.offsets, self.cards, strict=True)]
        self.cpt_offsets = (
            np.concatenate([[0], np.cumsum([t.size for t in self.family_tables])[:-1]]).astype(int).tolist()
        )
        self.cpt_log_flat = (
            safe_log(np.concatenate([t.reshape(-1) for t in self.family_tables])) if self.family_tables else np.zeros(0)
        )
        self._pendant_tables()
        # leaves: at most one parent (unary), then several (multi); one block of columns each
        unary, multi = [], []
        for name in leaf_names:
            (unary if len(net.parents[name]) <= 1 else multi).append(name)
        self.parent_order: dict[str, tuple[int, ...]] = {}
        leaves: list[Leaf] = []
        start = 0
        for name in unary + multi:
            ids = [self.lid[p] for p in net.parents[name]]
            order = sorted(range(len(ids)), key=ids.__getitem__)
            self.parent_order[name] = tuple(order)
            cpt = np.transpose(net.cpts[name], [*order, len(ids)])
            k = net.card(name)
            noisy = detect_noisy(net, name) if len(ids) > 1 else None
            leaves.append(
                Leaf(
                    name,
                    tuple(ids[i] for i in order),
                    tuple(self.cards[ids[i]] for i in order),
                    k,
                    start,
                    noisy,
                    np.ascontiguousarray(cpt.reshape(-1, k).T),
                    noisy is not None and len(ids) >= aux_parents,
                )
            )
            start += k
        self.leaves = {lf.name: lf for lf in leaves}
        self.unary_leaves = tuple(leaves[: len(unary)])
        self.multi = tuple(leaves[len(unary) :])
        self.multi_index = {lf.name: i for i, lf in enumerate(self.multi)}
        self.n_cols = start
        self.unary_cols = sum(lf.levels for lf in self.unary_leaves)
        self._build_matrices()
        self._premise = {
            name: np.eye(self.leaves[name].levels)[None, net.states[name].index(state)]
            for name, state in net.observed.items()
        }
        self._leaf_names = tuple(lf.name for lf in (*self.unary_leaves, *self.multi))
        self._leaf_levels = tuple(lf.levels for lf in (*self.unary_leaves, *self.multi))
        self._ones: dict[int, list[FloatArray]] = {}
        self._leaf_shapes: dict[int, tuple[tuple[int, int], ...]] = {}
        self._premise_pos = tuple(i for i, name in enumerate(self._leaf_names) if name in self._premise)
        self._binary = all(c == 2 for c in self.cards)
        self._any_explicit = not self._multi_noisy.all() if self.multi else False
        self._multi_sizes = np.array([lf.levels for lf in self.multi], dtype=np.intp)
        self._plans: dict[Any, Plan] = {}
        # as the junction tree's Engine has them, for the layers above (information.rank_questions)
        self.leaf_host = {net.index[lf.name]: 0 for lf in self.leaves.values() if lf.name in net.observable_set}
        self._cum_targets: dict[str, FloatArray | None] = {}
        self._deltas: dict[str, FloatArray | None] = {}
        self._onehot: tuple[FloatArray, NDArray[np.intp]] | None = None
        self._a_all: tuple[FloatArray, dict[str, NDArray[np.intp]]] | None = None

    def _pendant_tables(self) -> None:
        """Per latent variable with at most one neighbour: its table towards it, as matrices for every plan."""
        ns = self.n_states
        fam_of: dict[int, list[int]] = {v: [] for v in range(self.n_latent)}
        for f, fam in enumerate(self.families):
            for u in fam:
                fam_of[u].append(f)
        self.pend_candidates: list[int] = []
        self.pend_neighbour: dict[int, int] = {}
        self.pend_families: dict[int, tuple[int, ...]] = {}
        self.pend_slots: dict[int, NDArray[np.intp]] = {}
        blocks = []
        slots = 0
        for v in range(self.n_latent):
            nb = self.base_adj[v]
            if nb.bit_count() > 1:
                continue
            u = nb.bit_length() - 1 if nb else -1
            card_u = self.cards[u] if u >= 0 else 1
            table = np.ones((self.cards[v], card_u))  # T(v, u): the product of the tables over v (and u)
            for f in fam_of[v]:
                fam, tab = self.families[f], self.family_tables[f]
                if len(fam) == 1:
                    table = table * tab[:, None]
                elif fam[0] == v:
                    table = table * tab
                else:
                    table = table * tab.T
            self.pend_candidates.append(v)
            self.pend_neighbour[v] = u
            self.pend_families[v] = tuple(fam_of[v])
            self.pend_slots[v] = np.arange(slots, slots + card_u)
            blocks.append((v, u, slots, card_u, table))
            slots += card_u
        self.pend_msg = np.zeros((ns, slots))
        self.pend_scatter = np.zeros((slots, ns + 1))
        self.pend_back = np.zeros((slots, ns))
        self.pend_gather = np.zeros(slots, dtype=np.intp)
        for v, u, s0, card_u, table in blocks:
            ov = self.offsets[v]
            self.pend_msg[ov : ov + self.cards[v], s0 : s0 + card_u] = table
            self.pend_back[s0 : s0 + card_u, ov : ov + self.cards[v]] = table.T
            if u >= 0:
                ou = self.offsets[u]
                self.pend_scatter[s0 + np.arange(card_u), ou + np.arange(card_u)] = 1.0
                self.pend_gather[s0 : s0 + card_u] = ou + np.arange(card_u)
            else:
                self.pend_scatter[s0, ns] = 1.0
                self.pend_gather[s0] = ns

    def _build_matrices(self) -> None:
        """The fixed matrices of step 1: one-parent tables, and the log factors of every term."""
        nu = self.unary_cols
        width = sum(lf.cards[0] if lf.parents else 1 for lf in self.unary_leaves)
        self._unary_table = np.zeros((nu, width))  # λ -> ψ(parent state) = Σ_y λ_y P(y | parent), per leaf
        self._unary_scatter = np.zeros((width, self.n_states + 1))  # log ψ -> log-likelihood of each state
        col = 0
        for lf in self.unary_leaves:
            rows = slice(lf.start, lf.start + lf.levels)
            card = lf.cards[0] if lf.parents else 1
            self._unary_table[rows, col : col + card] = lf.table
            target = self.offsets[lf.parents[0]] if lf.parents else self.n_states
            self._unary_scatter[np.arange(col, col + card), target + np.arange(card)] = 1.0
            col += card
        multi_cols = self.n_cols - nu
        w = np.zeros((multi_cols, self.n_states + 1))
        noisy_cols = np.zeros(multi_cols, dtype=bool)
        for lf in self.multi:
            if lf.noisy is None:
                continue
            r0 = lf.start - nu
            noisy_cols[r0 : r0 + lf.levels] = True
            with np.errstate(divide="ignore"):
                w[r0 : r0 + lf.levels, self.n_states] = safe_log(lf.noisy.cumulative_leak)
                for i, p in enumerate(lf.parents):
                    g = lf.noisy.factors[self.parent_order[lf.name][i]]  # (K, card)
                    off = self.offsets[p]
                    w[r0 : r0 + lf.levels, off : off + self.cards[p]] = safe_log(g)
        self._log_w = w
        self._noisy_cols = noisy_cols
        self._multi_starts = np.array([lf.start - nu for lf in self.multi], dtype=np.intp)
        self._multi_noisy = np.array([lf.noisy is not None for lf in self.multi], dtype=bool)
        last = np.zeros(multi_cols, dtype=bool)
        for lf in self.multi:
            last[lf.start - nu + lf.levels - 1] = True
        self._not_last = ~last
        self._next = np.minimum(np.arange(multi_cols) + 1, max(multi_cols - 1, 0))
        block_starts = [lf.start for lf in self.unary_leaves] + [lf.start for lf in self.multi]
        self._block_starts = np.array(block_starts, dtype=np.intp)
        self._block_sizes = np.array([lf.levels for lf in self.unary_leaves] + [lf.levels for lf in self.multi])
        self._var_starts = np.array(self.offsets, dtype=np.intp)

    # ------------------------------------------------------------------ the junction tree engine's interface
    @property
    def fast_joint_gain(self) -> bool:
        """True when :meth:`joint_gains` applies (as for the junction tree's ``Engine``)."""
        return self.has_joint

    def joint_gain_applies(self, candidates: Sequence[str]) -> bool:
        """True when :meth:`joint_gains` and :meth:`best_questions` can rank ``candidates`` (leaf questions)."""
        index = self.network.index
        return self.has_joint and all(index[q] in self.leaf_host for q in candidates)

    def marginals(
        self, likelihoods: Mapping[str, FloatArray], rows: int, variables: Sequence[str] | None = None
    ) -> Mapping[str, FloatArray]:
        """Posterior marginals ``(rows, card)`` of ``variables`` (default: targets and reported)."""
        return self.query(likelihoods, rows, marginals=variables).marginals

    def joint(self, likelihoods: Mapping[str, FloatArray], rows: int) -> FloatArray:
        """The targets' posterior joint ``(rows, *cards)`` in :attr:`target_order` (needs :attr:`has_joint`)."""
        res = self.query(likelihoods, rows, marginals=[], joint=True)
        assert res.target_joint is not None
        return res.target_joint

    def expected_gains(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        candidates: Sequence[str],
        *,
        criterion: str = "joint",
        uncertainty: Callable[[Mapping[str, FloatArray]], FloatArray] | None = None,
    ) -> FloatArray:
        """Every candidate's expected gain for every row ``(rows, candidates)``, as the tree's ``Engine`` gives it.

        ``'joint'`` (``'marginal'`` when the joint is not available) and ``'marginal'`` go through
        :meth:`gains`; a candidate a row already answered gets 0 (the caller masks it). With
        ``uncertainty`` (another measure of the targets' marginals, ``(rows,)`` per call) each row
        is expanded into one row per answer of every candidate, as the tree engine does.
        """
        if criterion not in ("joint", "marginal"):
            raise ValueError(f"criterion must be 'joint' or 'marginal', got {criterion!r}")
        if uncertainty is None:
            crit = "joint" if criterion == "joint" and self.has_joint else "marginal"
            got = self.gains(likelihoods, rows, candidates, criterion=crit)  # type: ignore[arg-type]
            return np.where(np.isfinite(got.gains), got.gains, 0.0)
        net = self.network
        qs = list(candidates)
        sizes = [net.card(q) for q in qs]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        block = 1 + int(offsets[-1])
        per_chunk = max(1, _GAIN_ROWS // block)
        out = np.zeros((rows, len(qs)))
        for c0 in range(0, rows, per_chunk):
            c1 = min(rows, c0 + per_chunk)
            m = c1 - c0
            lik = {q: np.repeat(np.asarray(a)[c0:c1], block, axis=0) for q, a in likelihoods.items()}
            for j, q in enumerate(qs):
                arr = lik.get(q)
                if arr is None:
                    arr = lik[q] = np.ones((m * block, sizes[j]))
                sel = (np.arange(m)[:, None] * block + 1 + offsets[j] + np.arange(sizes[j])[None, :]).ravel()
                arr[sel] = np.tile(np.eye(sizes[j]), (m, 1))
            res = self.query(lik, m * block, marginals=list(net.targets))
            h = np.asarray(uncertainty(res.marginals), dtype=np.float64).reshape(m, block)
            log_z = res.log_evidence.reshape(m, block)
            with np.errstate(over="ignore", invalid="ignore"):
                p = np.exp(log_z[:, 1:] - log_z[:, :1])
            p = np.where(np.isfinite(p), p, 0.0)
            for j in range(len(qs)):
                pj = p[:, offsets[j] : offsets[j + 1]]
                tot = pj.sum(axis=1, keepdims=True)
                pj = np.divide(pj, tot, out=np.zeros_like(pj), where=tot > 0)
                hj = np.where(pj > 0, h[:, 1 + offsets[j] : 1 + offsets[j + 1]], 0.0)
                out[c0:c1, j] = np.maximum(0.0, h[:, 0] - (pj * hj).sum(axis=1))
        return out

    def best_questions(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        candidates: Sequence[str],
        *,
        available: NDArray[np.bool_],
        costs: FloatArray | None = None,
        marginals: Sequence[str] = (),
    ) -> BestChoice:
        """Each row's candidate of largest ``I(T; Q | e) / cost`` (ties to the first) and the posterior.

        As the tree engine's ``best_questions`` (same fields), from every exact gain of :meth:`gains`.
        """
        crit = "joint" if self.has_joint else "marginal"
        got = self.gains(likelihoods, rows, candidates, criterion=crit)  # type: ignore[arg-type]
        cost = np.ones(len(candidates)) if costs is None else np.asarray(costs, dtype=np.float64)
        exact = np.where(np.isfinite(got.gains), got.gains, 0.0)
        score = np.where(available & np.isfinite(got.gains), exact / cost, -np.inf)
        if len(candidates):
            top = score.max(axis=1, keepdims=True)
            index = np.argmax(score >= top - 1e-12, axis=1).astype(np.intp)
            none = ~np.isfinite(top[:, 0])
            gain = np.where(none, np.nan, exact[np.arange(rows), index])
        else:
            index, none, gain = np.zeros(rows, dtype=np.intp), np.ones(rows, dtype=bool), np.full(rows, np.nan)
        result = self.query(likelihoods, rows, marginals=list(marginals))
        return BestChoice(np.where(none, -1, index).astype(np.intp), gain, np.ones(exact.shape, dtype=bool), result)

    # ------------------------------------------------------------------ evidence
    def _evidence(
        self, likelihoods: Mapping[str, FloatArray], rows: int, forced: Sequence[str]
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_], FloatArray]:
        """Step 1 for every row: (λ, term weights, log unaries, coupling pattern, log constant).

        The log unaries are shifted so that each variable's largest is 0 (the shift is in the
        log constant); ``-inf`` in the log constant marks an impossible row.
        """
        net = self.network
        ones = self._ones.get(rows)
        if ones is None:  # per leaf: its likelihoods when unanswered (a premise: its fixed answer)
            by_k = {k: np.ones((rows, k)) for k in set(self._leaf_levels)}
            ones = [
                np.repeat(self._premise[name], rows, axis=0) if name in self._premise else by_k[k]
                for name, k in zip(self._leaf_names, self._leaf_levels, strict=True)
            ]
            if len(self._ones) > 8:
                self._ones.clear()
                self._leaf_shapes.clear()
            self._ones[rows] = ones
            self._leaf_shapes[rows] = tuple((rows, k) for k in self._leaf_levels)
        get = likelihoods.get
        got = [get(name) for name in self._leaf_names]
        parts = [o if a is None else a for a, o in zip(got, ones, strict=True)]
        for i in self._premise_pos:
            parts[i] = ones[i]
        found = sum(a is not None for a in got)
        if any(type(a) is not np.ndarray for a in parts):
            parts = [np.asarray(a, dtype=np.float64) for a in parts]
        if tuple(a.shape for a in parts) != self._leaf_shapes.get(rows, ()):
            for name, a, k in zip(self._leaf_names, parts, self._leaf_levels, strict=True):
                if a.shape != (rows, k):
                    raise ValueError(f"likelihoods of {name!r} have shape {a.shape}; expected {(rows, k)}")
        lam = np.concatenate(parts, axis=1) if parts else np.ones((rows, 0))
        inner = []
        if found != len(likelihoods):
            for name, a in likelihoods.items():
                if name in self.leaves:
                    continue
                if name not in net.observable_set:
                    net.check_variable(name, "observable", among=net.observables)
                arr = np.asarray(a, dtype=np.float64)
                card = net.card(name)
                if arr.shape != (rows, card):
                    raise ValueError(f"likelihoods of {name!r} have shape {arr.shape}; expected {(rows, card)}")
                inner.append((self.lid[name], arr))
        log_top = None
        if self.n_cols:
            top = np.maximum.reduceat(lam, self._block_starts, axis=1)
            if not (top == 1.0).all():  # soft answers: each block scaled to a largest of 1
                log_top = safe_log(top).sum(axis=1)
                lam /= np.repeat(np.where(top > 0, top, 1.0), self._block_sizes, axis=1)
        nu = self.unary_cols
        u = (
            safe_log(lam[:, :nu] @ self._unary_table) @ self._unary_scatter
            if nu
            else np.zeros((rows, self.n_states + 1))
        )
        lm = lam[:, nu:]
        weights = lm - lm[:, self._next] * self._not_last
        if self.multi:
            nz = weights != 0.0
            coupled = self._multi_noisy & (np.add.reduceat(nz, self._multi_starts, axis=1) >= 2)
            if self._any_explicit:  # explicit tables: any informative answer couples
                coupled |= ~self._multi_noisy & (np.minimum.reduceat(lm, self._multi_starts, axis=1) < 1.0)
            for name in forced:
                coupled[:, self.multi_index[name]] = True
            sel = nz & self._noisy_cols
            sel &= ~np.repeat(coupled, self._multi_sizes, axis=1)
            u += sel.astype(np.float64) @ self._log_w
        else:
            coupled = np.zeros((rows, 0), dtype=bool)
        for v, arr in inner:
            u[:, self.offsets[v] : self.offsets[v] + self.cards[v]] += safe_log(arr)
        lu = u[:, : self.n_states]
        log_const = u[:, self.n_states]
        if self.n_states:
            vmax = np.maximum.reduceat(lu, self._var_starts, axis=1)
            log_const += vmax.sum(axis=1)
            if self._binary:
                lu = (lu.reshape(rows, self.n_latent, 2) - vmax[:, :, None]).reshape(rows, self.n_states)
            else:
                lu = lu - np.repeat(vmax, self.cards, axis=1)
            np.maximum(lu, FLOOR, out=lu)
        if log_top is not None:
            log_const += log_top
        log_const[log_const < -1e200] = -np.inf
        return lam, weights, lu, coupled, log_const

    # ------------------------------------------------------------------ plans
    def _plan(self, coupled: tuple[int, ...], joint: bool, narrow: frozenset[int] = frozenset()) -> Plan:
        key = (coupled, joint, narrow)
        plan = self._plans.get(key)
        if plan is None:
            plan = Plan(self, coupled, joint, narrow)
            if self.budget is not None and plan.row_bytes + 8 * plan.largest.size > self.budget:
                names = [self._name(v) for v in plan.largest.vars]
                raise too_large(
                    self.network.name,
                    "the clique the answers couple",
                    names,
                    plan.largest.size,
                    plan.row_bytes,
                    self.budget,
                )
            if len(self._plans) >= _PLANS:
                self._plans.pop(next(iter(self._plans)))
            self._plans[key] = plan
        return plan

    def _name(self, v: int) -> str:
        return self.latent[v] if v < self.n_latent else "(auxiliary)"

    def plan_for(self, likelihoods: Mapping[str, FloatArray], rows: int) -> list[tuple[NDArray[np.intp], Plan]]:
        """The row groups of a batch and their plans (planned now if new; used by the cost estimate)."""
        *_, coupled, _ = self._evidence(likelihoods, rows, ())
        return [(idx, self._plan(key, False)) for idx, key in _groups(coupled)]

    # ------------------------------------------------------------------ queries
    def query(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        *,
        marginals: Sequence[str] | None = None,
        joint: bool = False,
        evidence: Evidence | None = None,
    ) -> QueryResult:
        """Return ``log P(e)``, marginals and (optionally) the targets' joint for every row.

        Same contract as the junction tree's ``Engine.query``: ``likelihoods`` maps observables
        to ``(rows, states)`` arrays (missing: unanswered); ``marginals`` defaults to the targets
        and reported variables (an empty sequence: only ``log P(e)``); the network's premises
        are always entered; impossible rows get ``-inf`` and all-zero marginals. ``evidence``:
        :meth:`step_one` of these same likelihoods, already made (for the cost estimate).
        """
        net = self.network
        wanted = list(net.targets) + list(net.reported) if marginals is None else list(marginals)
        index = net.index
        for w in wanted:
            if w not in index:
                net.check_variable(w)
        if joint and not self.has_joint:
            raise ValueError("the targets' joint is too large for this network")
        if evidence is not None and any(w in self.multi_index for w in wanted if w not in self.lid):
            evidence = None  # a question asked for changes step 1 (its answers are kept apart)
        return self._query(likelihoods, rows, wanted, joint, evidence)

    def step_one(self, likelihoods: Mapping[str, FloatArray], rows: int) -> Evidence:
        """Step 1 of a query for every row (λ, term weights, log unaries, coupling pattern, log constant).

        Made once, it serves :meth:`cost` and then :meth:`query` of the same likelihoods.
        """
        return self._evidence(likelihoods, rows, ())

    def _query(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        wanted: list[str],
        joint: bool,
        evidence: tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_], FloatArray] | None = None,
    ) -> QueryResult:
        """The query proper; ``evidence``: step 1 already done (then ``likelihoods`` is not read)."""
        net = self.network
        lid = self.lid
        leaf_wanted = [w for w in wanted if w not in lid]
        forced = [w for w in leaf_wanted if w in self.multi_index]
        narrow = frozenset(self.multi_index[w] for w in forced if self.leaves[w].wide)
        need_lat = len(leaf_wanted) < len(wanted) or any(w not in self.multi_index for w in leaf_wanted)
        if evidence is None:
            evidence = self._evidence(likelihoods, rows, forced)
        lam, weights, lu, coupled, log_e = evidence
        groups = _groups(coupled)
        lat_all: FloatArray | None = None
        leaves: dict[str, FloatArray] = {}
        tj: FloatArray | None = None
        for idx, key in groups:
            plan = self._plan(key, joint, narrow)
            per_pass = rows if self.budget is None else max(1, (self.budget // 2) // plan.row_bytes)
            for s in range(0, len(idx), per_pass):
                part = idx[s : s + per_pass]
                whole = len(part) == rows
                sub = slice(None) if whole else part
                scale, lat, lv, j = self._run(plan, lam[sub], weights[sub], lu[sub], need_lat, leaf_wanted, joint)
                log_e[sub] += scale
                if whole:
                    lat_all, leaves, tj = lat, lv, j
                    continue
                if lat is not None:
                    if lat_all is None:
                        lat_all = np.zeros((rows, self.n_states))
                    lat_all[part] = lat
                for name, arr in lv.items():
                    if name not in leaves:
                        leaves[name] = np.zeros((rows, arr.shape[1]))
                    leaves[name][part] = arr
                if j is not None:
                    if tj is None:
                        tj = np.zeros((rows, j.shape[1]))
                    tj[part] = j
        bad = log_e < -1e200
        if bad.any():
            log_e[bad] = -np.inf
            for arr in (lat_all, tj, *leaves.values()):
                if arr is not None:
                    arr[bad] = 0.0
        out: dict[str, FloatArray] = {}
        offsets, cards = self.offsets, self.cards
        for w in wanted:
            v = lid.get(w)
            if v is None:
                out[w] = leaves[w]
            else:
                out[w] = lat_all[:, offsets[v] : offsets[v] + cards[v]]  # type: ignore[index]
        target_joint = None if tj is None else tj.reshape((rows, *(net.card(t) for t in net.targets)))
        return QueryResult(log_e, out, target_joint)

    def _run(
        self,
        plan: Plan,
        lam: FloatArray,
        weights: FloatArray,
        lu: FloatArray,
        need_lat: bool,
        leaf_wanted: Sequence[str],
        joint: bool,
    ) -> tuple[FloatArray, FloatArray | None, dict[str, FloatArray], FloatArray | None]:
        """One pass of one plan: (log scale, latent marginals, wanted leaves' marginals, targets' joint)."""
        n = lu.shape[0]
        scale = np.zeros(n)
        lu_plan, psi, pot, msg = plan.potentials(lu, lam, scale)
        belief, up = plan.collect(lu_plan, psi, pot, weights, scale)
        for r in plan.roots:
            b = belief[r]
            scale += safe_log(b.reshape(-1, b.shape[-1]).sum(axis=0))
        if not (need_lat or leaf_wanted or joint):
            return scale, None, {}, None
        full = plan.distribute(belief, up)
        lat = None
        if need_lat:
            lat = plan.latent_marginals(full, lu, msg, n, self.n_states)
            if self._binary:
                x = np.maximum(lat.reshape(n, self.n_latent, 2), 0.0)
                tot = x.sum(axis=2, keepdims=True)
                x /= np.where(tot > 0, tot, 1.0)
                lat = x.reshape(n, self.n_states)
            else:
                lat = _normalise_segments(lat, self._var_starts)
        leaves = {name: self._marginal(plan, full, name, lam, lat, n) for name in leaf_wanted}
        tj = None
        if joint:
            c = plan.cliques[plan.joint_clique]
            b = full[plan.joint_clique]
            tset = set(self.target_ids)
            axes = tuple(i for i, v in enumerate(c.vars) if v not in tset)
            j = b.sum(axis=axes) if axes else b
            inside = [v for v in c.vars if v in tset]
            perm = [j.ndim - 1, *(inside.index(self.lid[t]) for t in self.network.targets)]
            j = np.broadcast_to(np.transpose(j, perm), (n, *(self.network.card(t) for t in self.network.targets)))
            tj = _normalise(j.reshape(n, -1))
        return scale, lat, leaves, tj

    def _marginal(
        self, plan: Plan, full: list[FloatArray], name: str, lam: FloatArray, lat: FloatArray | None, n: int
    ) -> FloatArray:
        """P(name | e) for the ``n`` rows of one group (``lam``: their normalised leaf likelihoods)."""
        if name in self.lid:
            v = self.lid[name]
            return lat[:, self.offsets[v] : self.offsets[v] + self.cards[v]]  # type: ignore[index]
        lf = self.leaves[name]
        lam_q = lam[:, lf.start : lf.start + lf.levels]
        if not lf.parents:
            return _normalise(lam_q * lf.table[:, 0])
        if name in self.multi_index:  # forced into the plan as a coupling answer: its parents share a clique
            k = plan.leaf_clique[name]
            c = plan.cliques[k]
            axes = tuple(i for i, v in enumerate(c.vars) if v not in set(lf.parents))
            bpa = full[k].sum(axis=axes) if axes else full[k]
            bpa = np.broadcast_to(bpa.reshape(-1, bpa.shape[-1]).T, (n, lf.table.shape[1]))
        else:
            p = lf.parents[0]
            bpa = lat[:, self.offsets[p] : self.offsets[p] + self.cards[p]]  # type: ignore[index]
        psi = lam_q @ lf.table  # the answer's own factor, divided out again (as the junction tree does)
        b = np.divide(bpa, psi, out=np.zeros_like(psi), where=psi > 0)
        return _normalise(np.maximum(b @ lf.table.T, 0.0) * lam_q)

    # ------------------------------------------------------------------ next question
    def gains(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        candidates: Sequence[str] | None = None,
        *,
        criterion: Literal["marginal", "joint"] = "marginal",
    ) -> GainResult:
        """Expected information gain (bits) of every candidate question for every row.

        ``marginal``: ``Σ_i I(T_i; Q | e)`` over the targets; ``joint``: ``I(T; Q | e)`` with
        ``T`` all targets (needs :attr:`has_joint`). The same definition as
        :func:`distancing_bn.information.rank_questions`, without costs: ``H(e) − Σ_a P(a | e)
        H(e, Q = a)``, at least 0. Candidates default to every observable; a candidate a row
        has answered (its likelihood not all ones) gets ``-inf`` there (see
        :attr:`GainResult.open`), as does every candidate of an impossible row.
        """
        net = self.network
        if criterion not in ("marginal", "joint"):
            raise ValueError(f"criterion must be 'marginal' or 'joint', got {criterion!r}")
        if criterion == "joint" and not self.has_joint:
            raise ValueError("the targets' joint is too large for the 'joint' criterion; use 'marginal'")
        cands = list(net.observables if candidates is None else candidates)
        for q in cands:
            if q not in net.observable_set:
                net.check_variable(q, "candidate question", among=net.observables)
        levels = [net.card(q) for q in cands]
        # the joint route pays 2^N per candidate level; for 'marginal' the step rows cost less (measured)
        by_joint = criterion == "joint" and self._joint_table_ok()
        route = [by_joint and q in self._cumulative_over_targets()[1] for q in cands]
        steps = [j for j, r in enumerate(route) if not r]
        block = 1 + sum(levels[j] - 1 for j in steps)
        per_chunk = max(1, _GAIN_ROWS // block)
        if by_joint:
            per_chunk = min(per_chunk, max(1, _GAIN_ROWS // max(1, len(cands))))
        gains = np.zeros((rows, len(cands)))
        entropy = np.zeros(rows)
        probs = [np.zeros((rows, k)) for k in levels]
        log_e = np.zeros(rows)
        for c0 in range(0, rows, per_chunk):
            c1 = min(rows, c0 + per_chunk)
            m = c1 - c0
            part = {q: np.asarray(a, dtype=np.float64)[c0:c1] for q, a in likelihoods.items()}
            if any(route):
                g, h, pr, le = self._gains_by_joint(
                    part, m, [q for q, r in zip(cands, route, strict=True) if r], criterion
                )
                sel = [j for j, r in enumerate(route) if r]
                gains[c0:c1, sel] = g
                for i, j in enumerate(sel):
                    probs[j][c0:c1] = pr[i]
                entropy[c0:c1], log_e[c0:c1] = h, le
            simple = [j for j in steps if self._step_delta(cands[j]) is not None]
            for group in (simple, [j for j in steps if j not in set(simple)]):
                if not group:
                    continue
                g, h, pr, le = self._gains_by_steps(part, m, [cands[j] for j in group], criterion)
                gains[c0:c1, group] = g
                for i, j in enumerate(group):
                    probs[j][c0:c1] = pr[i]
                entropy[c0:c1], log_e[c0:c1] = h, le
            for j, q in enumerate(cands):  # a candidate the row has answered: no gain
                given = part.get(q)
                if given is not None:
                    done = ~np.all(given == given.max(axis=1, keepdims=True), axis=1) | (given.max(axis=1) <= 0)
                    gains[c0:c1][done, j] = -np.inf
        gains[~np.isfinite(log_e)] = -np.inf
        entropy[~np.isfinite(log_e)] = 0.0
        return GainResult(gains, entropy, tuple(probs), log_e, criterion, tuple(cands))

    def joint_gains(
        self, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """``I(T; Q | e)`` in bits, as the junction tree's ``Engine.joint_gains`` returns it."""
        r = self.gains(likelihoods, rows, candidates, criterion="joint")
        return np.where(np.isfinite(r.gains), r.gains, 0.0), r.entropy, list(r.answer_probs), r.log_evidence

    # the two routes: (gains, uncertainty, answer probabilities, log P(e)) for m rows
    def _gains_by_steps(
        self, part: Mapping[str, FloatArray], m: int, cands: Sequence[str], criterion: str
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """One row per evidence row and per level y < K-1 of every candidate, with "Q <= y" entered.

        For a candidate whose "at most y" couples nothing (all but explicit tables over several
        parents), the expanded rows are made from the evidence rows' step 1 plus that answer's
        log-likelihoods (nothing else changes, the plan included); the others go through a query.
        """
        net = self.network
        levels = [net.card(q) for q in cands]
        extra = np.concatenate([[0], np.cumsum([k - 1 for k in levels])]).astype(np.intp)
        block = 1 + int(extra[-1])
        total = m * block
        base = np.arange(m) * block
        deltas = [self._step_delta(q) for q in cands]
        evidence = None
        if all(d is not None for d in deltas):
            lam, weights, lu, coupled, log_c = self._evidence(part, m, ())
            add = np.concatenate([np.zeros((1, self.n_states + 1)), *deltas])  # (block, states + 1)
            lu_x = (lu[:, None, :] + add[None, :, :-1]).reshape(total, -1)
            np.maximum(lu_x, FLOOR, out=lu_x)
            log_x = (log_c[:, None] + add[None, :, -1]).reshape(total)
            log_x[log_x < -1e200] = -np.inf
            rep = np.repeat
            evidence = (rep(lam, block, axis=0), rep(weights, block, axis=0), lu_x, rep(coupled, block, axis=0), log_x)
            lik: dict[str, FloatArray] = {}
        else:
            lik = {q: np.repeat(a, block, axis=0) for q, a in part.items()}
            for j, (q, k) in enumerate(zip(cands, levels, strict=True)):
                arr = lik.get(q)
                if arr is None:
                    arr = lik[q] = np.ones((total, k))
                rows_q = (base[:, None] + 1 + extra[j] + np.arange(k - 1)[None, :]).ravel()
                arr[rows_q] = np.tile(np.tril(np.ones((k, k)))[: k - 1], (m, 1))  # "at most level y"
        if criterion == "joint":
            res = self._query(lik, total, [], True, evidence)
            table = res.target_joint.reshape(m, block, -1)  # type: ignore[union-attr]
        else:
            res = self._query(lik, total, list(net.targets), False, evidence)
            table = np.concatenate([res.marginals[t] for t in net.targets], axis=1).reshape(m, block, -1)
        log_z = res.log_evidence.reshape(m, block)
        with np.errstate(over="ignore", invalid="ignore"):
            cum = np.exp(log_z[:, 1:] - log_z[:, :1])  # P(Q <= y | e) per step row
        cum = np.where(np.isfinite(cum), cum, 0.0)
        starts = self._segments(criterion)
        gains, probs = _finish_gains(cum, table[:, 1:] * cum[:, :, None], table[:, 0], starts, levels, extra)
        return gains, _segment_entropy(table[:, 0], starts), probs, log_z[:, 0]

    def _step_delta(self, q: str) -> FloatArray | None:
        """(K-1, states + 1): what "Q <= y" adds to step 1's log-likelihoods (and constant), or None if it couples."""
        if q in self._deltas:
            return self._deltas[q]
        ns = self.n_states
        out: FloatArray | None = None
        lf = self.leaves.get(q)
        if q in self._premise:
            out = None
        elif lf is None:  # an inner observable: a likelihood on the variable itself
            v = self.lid[q]
            k = self.cards[v]
            out = np.zeros((k - 1, ns + 1))
            for y in range(k - 1):
                out[y, self.offsets[v] + y + 1 : self.offsets[v] + k] = LOG0
        elif q in self.multi_index:
            if lf.noisy is not None:
                r0 = lf.start - self.unary_cols
                out = np.ascontiguousarray(self._log_w[r0 : r0 + lf.levels - 1])
        else:
            k = lf.levels
            cum = np.cumsum(lf.table, axis=0)[: k - 1]  # (K-1, parent states): P(Q <= y | parent)
            out = np.zeros((k - 1, ns + 1))
            if lf.parents:
                p = lf.parents[0]
                out[:, self.offsets[p] : self.offsets[p] + self.cards[p]] = safe_log(cum)
            else:
                out[:, ns] = safe_log(cum[:, 0])
        self._deltas[q] = out
        return out

    def _gains_by_joint(
        self, part: Mapping[str, FloatArray], m: int, cands: Sequence[str], criterion: str
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """From the targets' joint: every candidate's parents are targets, so P(T, Q <= y | e) = P(T | e) F_y(T)."""
        net = self.network
        res = self._query(part, m, [], True)
        pj = res.target_joint.reshape(m, -1)  # type: ignore[union-attr]
        levels = [net.card(q) for q in cands]
        extra = np.concatenate([[0], np.cumsum([k - 1 for k in levels])]).astype(np.intp)
        a_all, where = self._cumulative_over_targets()
        cols = np.concatenate([where[q] for q in cands])
        cum = (pj @ a_all)[:, cols]  # P(Q <= y | e)
        if criterion == "joint":
            gains, probs, h0 = _joint_route_joint(pj, a_all[:, cols], levels, extra)
            return gains, h0, probs, res.log_evidence
        onehot, rest = self._target_states()  # all target states but the first of each
        base = pj @ onehot  # the targets' marginals
        part_cj = np.matmul((pj[:, :, None] * onehot[None, :, rest]).transpose(0, 2, 1), a_all)[:, :, cols]
        cj = np.empty((m, len(cols), onehot.shape[1]))
        cj[:, :, rest] = part_cj.transpose(0, 2, 1)  # P(T_i = s, Q <= y | e), s > 0
        first = np.setdiff1d(np.arange(onehot.shape[1]), rest)
        for f, r in zip(first, np.split(rest, np.searchsorted(rest, first[1:])), strict=True):
            cj[:, :, f] = cum - cj[:, :, r].sum(axis=2)  # s = 0: the rest of P(Q <= y | e)
        starts = self._segments("marginal")
        gains, probs = _finish_gains(cum, cj, base, starts, levels, extra)
        return gains, _segment_entropy(base, starts), probs, res.log_evidence

    def _joint_table_ok(self) -> bool:
        return math.prod(self.network.card(t) for t in self.network.targets) <= _GAIN_JOINT

    def _over_targets(self, q: str) -> FloatArray | None:
        """(Π target cards, K-1): P(Q <= y | the targets' state), if Q is a leaf whose parents are all targets."""
        if q in self._cum_targets:
            return self._cum_targets[q]
        out = None
        lf = self.leaves.get(q)
        tset = set(self.target_ids)
        if lf is not None and q not in self._premise and set(lf.parents) <= tset and self._joint_table_ok():
            conf = configs(tuple(self.network.card(t) for t in self.network.targets))
            where = [list(self.network.targets).index(self.latent[p]) for p in lf.parents]
            idx = (
                np.ravel_multi_index(tuple(conf[:, i] for i in where), lf.cards) if where else np.zeros(len(conf), int)
            )
            cum = np.cumsum(lf.table.T, axis=1)[:, : lf.levels - 1]  # (configs of parents, K-1)
            out = np.ascontiguousarray(cum[idx])
        self._cum_targets[q] = out
        return out

    def _cumulative_over_targets(self) -> tuple[FloatArray, dict[str, NDArray[np.intp]]]:
        """Every such question side by side (built once): (2^N, Σ (K-1)) and each one's columns."""
        if self._a_all is None:
            blocks, where, col = [], {}, 0
            for q in self.network.observables:
                a = self._over_targets(q)
                if a is not None:
                    blocks.append(a)
                    where[q] = np.arange(col, col + a.shape[1])
                    col += a.shape[1]
            self._a_all = (np.concatenate(blocks, axis=1) if blocks else np.zeros((1, 0)), where)
            self._cum_targets.clear()  # the columns live in the big array now
        return self._a_all

    def _target_states(self) -> tuple[FloatArray, NDArray[np.intp]]:
        if self._onehot is None:
            cards = tuple(self.network.card(t) for t in self.network.targets)
            conf = configs(cards)
            onehot = np.concatenate([np.eye(c)[conf[:, i]] for i, c in enumerate(cards)], axis=1)
            starts = np.concatenate([[0], np.cumsum(cards)[:-1]])
            rest = np.setdiff1d(np.arange(onehot.shape[1]), starts)
            self._onehot = (onehot, rest)
        return self._onehot

    def _segments(self, criterion: str) -> NDArray[np.intp]:
        if criterion == "joint":
            return np.zeros(1, dtype=np.intp)
        cards = [self.network.card(t) for t in self.network.targets]
        return np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.intp)

    # ------------------------------------------------------------------ cost
    def cost(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        *,
        evidence: Evidence | None = None,
        kept_plans: bool = True,
    ) -> float:
        """Estimated seconds for one posterior query of these rows, without building any plan.

        Per distinct set of coupling answers: planning it (unless its plan is kept) and a few
        array calls per clique; per row: its clique states. The cliques come from the same
        elimination the plan would run (pendants left out), on at most 64 of the sets (the rest
        scaled). The constants were measured with benchmarks/bench_tiers.py. ``evidence``:
        :meth:`step_one` of these likelihoods, if already made. ``kept_plans=False`` prices
        every set as new, so that the estimate does not depend on the queries run before.
        """
        *_, coupled, _ = self.step_one(likelihoods, rows) if evidence is None else evidence
        groups = _groups(coupled)
        step = max(1, len(groups) // 64)
        sample = groups[::step]
        scale = len(groups) / len(sample)
        secs = _T_QUERY
        for idx, key in sample:
            plan = self._plans.get((key, False, frozenset())) if kept_plans else None
            if plan is not None:
                cliques, states, new = len(plan.cliques), plan.states, 0.0
            else:
                cliques, states = self._shape(key)
                new = _T_PLAN + _T_PLAN_ANSWER * len(key)
            secs += scale * (new + _T_CLIQUE * cliques + _T_STATE * len(idx) * states)
        return secs

    def cost_floor(self, rows: int) -> float:
        """About the least :meth:`cost` can be for ``rows`` rows: a query with no coupling answer."""
        if self._floor_states is None:
            self._floor_states = self._shape(())[1]
        return _T_QUERY + _T_CLIQUE + _T_STATE * rows * self._floor_states

    def _shape(self, coupled: tuple[int, ...]) -> tuple[int, int]:
        """(cliques, states) a plan for these coupling answers would have, from its elimination only."""
        adj = list(self.base_adj)
        cards = list(self.cards)
        busy = 0
        for q in coupled:
            leaf = self.multi[q]
            groups = [(p, len(cards)) for p in leaf.parents] if leaf.wide else [leaf.parents]
            if leaf.wide:
                cards.append(leaf.levels)
                adj.append(0)
            for nodes in groups:
                m = 0
                for u in nodes:
                    m |= 1 << u
                busy |= m
                for u in nodes:
                    adj[u] |= m & ~(1 << u)
        nodes = (1 << len(cards)) - 1
        for v in self.pend_candidates:
            if not (busy >> v) & 1:
                nodes &= ~(1 << v)
                u = self.pend_neighbour[v]
                if u >= 0:
                    adj[u] &= ~(1 << v)
        elim = eliminate(adj, [math.log2(c) for c in cards], nodes)
        states = [math.prod(cards[u] for u in bits(nb | (1 << v))) for v, nb in elim]
        big = sum(1 for x in states if x > self.merge_limit)
        return max(1, big + sum(states) // (4 * self.merge_limit)), int(sum(states))


def _groups(coupled: NDArray[np.bool_]) -> list[tuple[NDArray[np.intp], tuple[int, ...]]]:
    """Rows with the same coupling answers: [(row indices, coupled leaf ids)]; one pass, no loop per row."""
    rows = coupled.shape[0]
    if rows == 1 or not coupled.shape[1]:
        return [(np.arange(rows), tuple(int(i) for i in np.flatnonzero(coupled[0])) if rows else ())]
    packed = np.packbits(coupled, axis=1)
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    uniq, inverse = np.unique(keys, return_inverse=True)
    if len(uniq) == 1:
        return [(np.arange(rows), tuple(int(i) for i in np.flatnonzero(coupled[0])))]
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    out = []
    for g, idx in zip(range(len(uniq)), np.split(order, bounds), strict=True):
        del g
        out.append((idx, tuple(int(i) for i in np.flatnonzero(coupled[idx[0]]))))
    return out


def _normalise(x: FloatArray) -> FloatArray:
    x = np.maximum(x, 0.0)
    s = x.sum(axis=1, keepdims=True)
    return np.divide(x, s, out=np.zeros(x.shape), where=s > 0)


def _normalise_segments(x: FloatArray, starts: NDArray[np.intp]) -> FloatArray:
    """Normalise each variable's block of columns (blocks start at ``starts``) to sum to 1."""
    x = np.maximum(x, 0.0)
    s = np.add.reduceat(x, starts, axis=1)
    s = np.repeat(s, np.diff(np.append(starts, x.shape[1])), axis=1)
    return np.divide(x, s, out=np.zeros(x.shape), where=s > 0)


def _finish_gains(
    cum: FloatArray,
    cj: FloatArray,
    base: FloatArray,
    starts: NDArray[np.intp],
    levels: Sequence[int],
    extra: NDArray[np.intp],
) -> tuple[FloatArray, list[FloatArray]]:
    """Gains from the cumulative answers: P(Q <= y | e) ``cum`` (m, steps) and P(T, Q <= y | e) ``cj`` (m, steps, W).

    ``base``: P(T | e) (m, W), the last level; ``starts``: the segments of W (one per target, or
    one for the joint). ``P(·, Q = y) = P(·, Q <= y) − P(·, Q <= y − 1)``, clipped at 0.
    """
    m = cum.shape[0]
    h0 = _segment_entropy(base, starts)
    gains = np.zeros((m, len(levels)))
    probs: list[FloatArray] = [np.zeros(0)] * len(levels)
    by_k: dict[int, list[int]] = {}
    for j, k in enumerate(levels):
        by_k.setdefault(k, []).append(j)
    for k, js in by_k.items():  # every candidate with k levels at once
        steps = (extra[js][:, None] + np.arange(k - 1)[None, :]).reshape(-1)
        nc = len(js)
        c = np.concatenate([cum[:, steps].reshape(m, nc, k - 1), np.ones((m, nc, 1))], axis=2)
        p = np.maximum(np.diff(c, axis=2, prepend=0.0), 0.0)
        t = cj[:, steps].reshape(m, nc, k - 1, -1)
        last = np.broadcast_to(base[:, None, None, :], (m, nc, 1, base.shape[1]))
        joint = np.maximum(np.diff(np.concatenate([t, last], axis=2), axis=2, prepend=0.0), 0.0)  # P(T, Q = y | e)
        h = _segment_entropy(joint, starts)  # (m, nc, K): uncertainty given Q = y
        tot = p.sum(axis=2, keepdims=True)
        p = np.divide(p, tot, out=np.zeros_like(p), where=tot > 0)
        gains[:, js] = np.maximum(0.0, h0[:, None] - (p * np.where(p > 0, h, 0.0)).sum(axis=2))
        for i, j in enumerate(js):
            probs[j] = p[:, i]
    return gains, probs


def _joint_route_joint(
    pj: FloatArray, a: FloatArray, levels: Sequence[int], extra: NDArray[np.intp]
) -> tuple[FloatArray, list[FloatArray], FloatArray]:
    """I(T; Q | e) from the joint ``pj`` (m, 2^N) and the cumulative likelihoods ``a`` (2^N, steps).

    ``H(T | e, Q = y)`` of the normalised ``pj · Δa_y`` is ``log P_y − (Σ pj log pj Δa_y + Σ pj Δa_y log Δa_y) / P_y``:
    three matrix products for every candidate and level at once.
    """
    m = pj.shape[0]
    plogp = np.where(pj > 0, pj * np.log(np.where(pj > 0, pj, 1.0)), 0.0)
    h0 = -plogp.sum(axis=1) / _LN2
    gains = np.zeros((m, len(levels)))
    probs: list[FloatArray] = []
    for j, k in enumerate(levels):
        s0 = int(extra[j])
        cols = np.concatenate([a[:, s0 : s0 + k - 1], np.ones((a.shape[0], 1))], axis=1)
        d = np.maximum(np.diff(cols, axis=1, prepend=0.0), 0.0)  # P(Q = y | T)
        py = pj @ d
        dlogd = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)
        inner = plogp @ d + pj @ dlogd
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(py > 0, (np.log(np.where(py > 0, py, 1.0)) - inner / np.where(py > 0, py, 1.0)) / _LN2, 0.0)
        tot = py.sum(axis=1, keepdims=True)
        p = np.divide(py, tot, out=np.zeros_like(py), where=tot > 0)
        gains[:, j] = np.maximum(0.0, h0 - (p * np.where(p > 0, h, 0.0)).sum(axis=1))
        probs.append(p)
    return gains, probs, h0


def _segment_entropy(x: FloatArray, starts: NDArray[np.intp]) -> FloatArray:
    """Σ over segments of the last axis (one per target) of the entropy, bits, of each normalised segment."""
    tot = np.add.reduceat(x, starts, axis=-1)
    sizes = np.diff(np.append(starts, x.shape[-1]))
    norm = np.repeat(tot, sizes, axis=-1)
    p = np.divide(x, norm, out=np.zeros(x.shape), where=norm > 0)
    return _entropybits(p)


def _entropybits(p: FloatArray) -> FloatArray:
    """Entropy in bits along the last axis (0 log 0 = 0), as :func:`distancing_bn.information.entropy_bits`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


# ---------------------------------------------------------------------------- choosing a backend
@dataclass(frozen=True, slots=True)
class BackendChoice:
    """Which backend answers a batch, and the estimates (seconds) it was chosen from."""

    backend: Backend
    noisy_seconds: float | None  # None: forced, not estimated
    tree_seconds: float | None  # None: forced, or the junction tree does not fit in the memory budget
    tree_states: int | None  # its largest clique, states
    reason: str


def check_backend(backend: str) -> None:
    """Raise ``ValueError`` naming the valid choices unless ``backend`` is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")


def _tree_cost(estimate: MemoryEstimate, rows: int, *, compiled: bool) -> float:
    """Estimated seconds for the tree of ``estimate`` to answer ``rows`` rows (building it unless ``compiled``)."""
    tree = _T_TREE_QUERY + _T_TREE_CLIQUE * estimate.n_cliques + _T_TREE_STATE * rows * estimate.row_bytes / 16
    return tree if compiled else tree + _T_TREE_BYTE * estimate.tree_bytes


def weigh_backends(
    engine: NoisyEngine,
    estimate: MemoryEstimate,
    likelihoods: Mapping[str, FloatArray],
    rows: int,
    *,
    compiled: bool,
) -> tuple[BackendChoice, Evidence | None]:
    """The cheaper backend for these rows by the two estimates, and the noisy backend's step 1
    when it was made for the estimate and the noisy backend is chosen (its query reuses it).

    The tree's estimate first (``estimate``, built unless ``compiled``): below
    :data:`_NOT_WORTH_WEIGHING` the tree answers unweighed; then the noisy backend's floor (no
    coupling answer, :meth:`NoisyEngine.cost_floor`); only when neither settles it, the noisy
    estimate, for more than :data:`_CHOICE_SAMPLE` rows from that many rows spread over the
    batch and scaled (the distinct sets of coupling answers grow more slowly than the rows: this
    errs towards the tree). The noisy backend must be estimated at least ``1 / _PREFER_TREE``
    times faster: the tree is the long-tested path and the estimates are rough. Every plan is
    priced as new, so the choice depends on these rows only, not on the queries run before
    (answers are then the same to the last bit whatever the order of queries or threads).
    """
    tree = _tree_cost(estimate, rows, compiled=compiled)
    cheaper = "the compiled tree is cheaper for these rows"
    if tree < _NOT_WORTH_WEIGHING:
        return BackendChoice("junction_tree", None, tree, estimate.largest_states, cheaper), None
    floor = engine.cost_floor(rows)
    if floor >= _PREFER_TREE * tree:
        return BackendChoice("junction_tree", floor, tree, estimate.largest_states, cheaper), None
    evidence = None
    if rows > _CHOICE_SAMPLE:
        pick = np.linspace(0, rows - 1, _CHOICE_SAMPLE).astype(np.intp)
        sample = {v: np.asarray(a)[pick] for v, a in likelihoods.items()}
        noisy = engine.cost(sample, _CHOICE_SAMPLE, kept_plans=False) * rows / _CHOICE_SAMPLE
    else:
        evidence = engine.step_one(likelihoods, rows)
        noisy = engine.cost(likelihoods, rows, evidence=evidence, kept_plans=False)
    if noisy >= _PREFER_TREE * tree:
        return BackendChoice("junction_tree", noisy, tree, estimate.largest_states, cheaper), None
    return BackendChoice("noisy", noisy, tree, estimate.largest_states, "the answers couple few causes"), evidence


def noisy_cost(
    network: Network, likelihoods: Mapping[str, FloatArray], rows: int, *, engine: NoisyEngine | None = None
) -> float:
    """Estimated seconds for the noisy backend to answer these rows (see :meth:`NoisyEngine.cost`)."""
    return (engine or NoisyEngine(network)).cost(likelihoods, rows)


def choose_backend(
    network: Network,
    likelihoods: Mapping[str, FloatArray] | None = None,
    rows: int = 1,
    *,
    backend: str = "auto",
    engine: NoisyEngine | None = None,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    compiled_tree: bool = False,
    tree_estimate: MemoryEstimate | None = None,
) -> BackendChoice:
    """Pick the backend for a model and a batch of rows, from the two cost estimates (seconds).

    The junction tree's: from :func:`distancing_bn.engine.estimate_memory` (its working memory
    per row is about twice its clique states), a fixed cost per query and per clique, and (unless
    ``compiled_tree``) building it once; the noisy backend when it does not fit in
    ``memory_budget`` (``tree_estimate``: that estimate, made once by the caller, so that
    choosing per batch costs no replanning). The noisy backend's: :meth:`NoisyEngine.cost` (no
    plan built). The rule is :func:`weigh_backends`, the one :meth:`Engine.choose` applies.
    ``backend='junction_tree'`` or ``'noisy'`` forces one and estimates nothing (a tree that does
    not fit still raises when it is compiled).
    """
    check_backend(backend)
    if backend != "auto":
        return BackendChoice(backend, None, None, None, "forced")  # type: ignore[arg-type]
    eng = engine if engine is not None else NoisyEngine(network, memory_budget=memory_budget)
    est = tree_estimate
    if est is None:
        try:
            est = estimate_memory(network, memory_budget=memory_budget)
        except ModelTooLargeError:
            est = None
    if est is None:
        return BackendChoice("noisy", None, None, None, "the junction tree does not fit in the memory budget")
    return weigh_backends(eng, est, likelihoods or {}, rows, compiled=compiled_tree)[0]
