"""The compiled engine: the one object the layers above query.

:func:`compile_engine` returns an :class:`Engine`: posteriors (``query``, ``marginals``,
``joint``), the exact joint gain (``joint_gains``, ``best_questions``) and the expected gain
of every candidate for a batch of rows (``expected_gains``). It owns the junction tree
(:mod:`.propagate`), the gain kernels (:mod:`.gains`) and, for noisy-OR / noisy-MAX networks,
the second backend (:mod:`.noisyor`), and picks between them (``backend='auto'``).

Top layer of :mod:`distancing_bn.engine`: imports every layer below it, and
:mod:`distancing_bn.evidence` and :mod:`distancing_bn.errors` for :func:`impossible_evidence`.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import ImpossibleEvidenceError, ModelTooLargeError
from ..evidence import from_answers
from ..network import DEFAULT_MEMORY_BUDGET, Network, check_budget
from .gains import BestQuestions, best_joint_questions, joint_gains
from .kernels import FloatArray, Recent, entropy_bits
from .local import detect_noisy
from .noisyor import BackendChoice, Evidence, NoisyEngine, check_backend, weigh_backends
from .oneshot import OneShotPlan, plan_one_shot
from .plan import JOINT_LIMIT, MERGE_LIMIT, MemoryEstimate, Plan, estimate_memory, leaf_host_sizes
from .propagate import JunctionTree, QueryResult, concat_results, passes
from .relevance import Reduction, Relevance

__all__ = ["Engine", "compile_engine", "impossible_evidence", "noisy_backend_applies"]

_FAST_CHUNK = 4096  # rows per exact joint-gain call in expected_gains
_EXPANDED_CHUNK = 16_384  # expanded rows (a row and each answer of each candidate) per query in expected_gains

# The cost model that picks the whole tree or a pruned one, in seconds (measured on the benchmark
# machine, benchmarks/bench_relevance.py; only their ratios matter, and only near the break-even).
_PER_CLIQUE = 20e-6  # one clique of one query (collect and distribute): Python and call overhead
_PER_WANTED = 20e-6  # one marginal asked for, or one answer entered (a projection and a normalisation)
_PER_STATE_ROW = 5e-9  # one clique state of one evidence row: the products and sums
_PER_ANSWER_STATE_ROW = 1e-9  # one answered question times its host clique's states, per row (E @ W)
_ANSWER_STATE_COPY = 2e-9  # … once per query: the rows of W for this set of answers
_PLAN_BASE = 1.5e-4  # reducing and planning a network for one set of answers: fixed part
_PLAN_VARIABLE = 2e-5  # … per variable kept
_PLAN_PAIR = 5e-7  # … per pair of variables kept (triangulating)
_ONE_SHOT_CALL = 10e-6  # one array call of a one-shot query (a clique's product, a message, a marginal)
_ONE_SHOT_STATE_ROW = 7e-9  # one clique state times one table placed in it, of one row, in a one-shot query
_ONE_SHOT_ROWS = 256  # larger groups of rows may compile the pruned network's junction tree
_COMPILE_BASE = 4e-4  # compiling a junction tree: fixed part
_COMPILE_VARIABLE = 1e-4  # … per variable
_COMPILE_STATE = 2e-8  # … per clique state built
_EAGER = 0.15  # seconds: a whole tree estimated to compile within this is compiled with the engine
_EAGER_BYTES = 32 << 20  # … and only when its arrays are estimated within this (else queries start one-shot)
_PRUNE_MARGIN = 2.0  # a pruned network is used when its cost, planning included, is this much lower
_STATIC_MARGIN = 2  # no pruning ever when the whole tree is within this factor of the smallest pruned one
_PRUNED_KEPT = 64  # pruned trees kept (one per set of answered questions, wanted variables and joint)
_PRUNED_BYTES = 256 << 20  # … and at most these bytes of their arrays
_MAX_GROUPS = 16  # a batch with more distinct answered sets is pruned for their union instead
_NO_TREE = "this engine answers with the noisy-OR backend (backend='noisy'): it has no junction tree"
_NOISY_SHARE = 0.8  # 'auto' weighs the noisy backend when this share of multi-parent questions is noisy-OR/MAX

Uncertainty = Callable[[Mapping[str, FloatArray]], FloatArray]


class _Pruned:
    """One reduction: its one-shot plans (made at once) and its compiled trees (built for batches, on first need)."""

    def __init__(self, reduction: Reduction, answered: Sequence[str], wanted: Sequence[str], joint: bool) -> None:
        self.reduction = reduction
        given = {*answered, *reduction.copies}
        q, e = reduction.query, reduction.evidence
        self.plans = (
            None if q is None else plan_one_shot(q, [v for v in q.variables if v in given], wanted, joint=joint),
            None if e is None else plan_one_shot(e, [v for v in e.variables if v in given], (), joint=False),
        )
        used = [p for p in self.plans if p is not None]
        self.states = sum(p.states for p in used)
        self.work = sum(p.work for p in used)
        self.cliques = sum(len(p.cliques) for p in used)
        self.calls = sum(3 * len(p.cliques) + sum(len(c.factors) for c in p.cliques) // 2 for p in used) + len(wanted)
        self.trees: tuple[JunctionTree | None, JunctionTree | None] | None = None
        self.tree_cost = 0.0  # estimated seconds to compile the trees (known once planned)
        self.tree_states = 0
        self.tree_answer_states = 0
        self.nbytes = 8 * self.states  # grows to the trees' bytes once they are built
        self.runs = 0

    def one_shot_cost(self, rows: int) -> float:
        return _ONE_SHOT_CALL * self.calls + _ONE_SHOT_STATE_ROW * rows * self.work

    def compile_trees(self, budget: int | None, options: Mapping[str, int], joint: bool) -> bool:
        """Plan and build the junction trees of the reduction (False: they would not fit or not hold the joint)."""
        red = self.reduction
        try:
            q = None if red.query is None else estimate_memory(red.query, memory_budget=budget, joint=joint, **options)
            e = (
                None
                if red.evidence is None
                else estimate_memory(red.evidence, memory_budget=budget, joint=False, **options)
            )
        except ModelTooLargeError:
            return False
        if joint and q is not None and not q.plan.has_joint:  # type: ignore[union-attr]
            return False
        self.trees = (
            None if q is None else JunctionTree(q.plan.network, estimate=q),  # type: ignore[union-attr]
            None if e is None else JunctionTree(e.plan.network, estimate=e),  # type: ignore[union-attr]
        )
        self.nbytes = sum(x.tree_bytes for x in (q, e) if x is not None)
        return True


class Engine:
    """A network compiled for exact queries; batched over rows of likelihoods.

    Before a query, what its evidence makes irrelevant can be dropped (:mod:`.relevance`):
    barren variables (unanswered questions), parts cut off by hard answers and d-separated from
    what is wanted (their own factor of ``P(e)`` is still computed). A cost estimate, in
    seconds, picks for each group of rows the whole tree (compiled with the engine when that is
    quick, else on first need, ski-rental style) or the network that remains: queried by a
    one-shot plan (:mod:`.oneshot`: cliques and table placement only, no compiled arrays) or,
    for large groups and sets seen again, by its own compiled junction tree. Pruned networks
    are kept in a cache bounded in count and bytes, keyed by the set of answered variables, the
    variables asked for and the joint flag. A batch is grouped by its rows' answered sets, each
    group one vectorised query (more than :data:`_MAX_GROUPS` distinct sets: one group, pruned
    for their union). When the whole tree is within :data:`_STATIC_MARGIN` of the smallest
    pruned one (the default model), queries go straight to it, as before. A whole tree whose
    arrays are estimated beyond :data:`_EAGER_BYTES` (pathfinder, munin, mildew …) is compiled
    only for a batch of more than :data:`_ONE_SHOT_ROWS` rows or for gains: a few rows are
    answered by one-shot plans, lean when large (:mod:`.oneshot`), so a query of a large
    network holds about one clique at a time (``relevance=False`` forces the whole tree).

    Attributes
    ----------
    network
        The network it was compiled for.
    memory
        The whole network's :class:`~.plan.MemoryEstimate` (batches beyond ``max_rows`` run in
        passes); ``None`` when it does not fit and only pruned trees are used (``relevance=True``).
    has_joint
        The targets' joint is available (``query(..., joint=True)``, :meth:`joint`).
    target_order
        The order of the targets' axes in a joint.
    prunes
        Whether queries may use pruned trees.
    backend
        ``'auto'``, ``'junction_tree'`` or ``'noisy'``: as asked when compiled.
    last_backend
        Which backend answered the last query (``'junction_tree'`` or ``'noisy'``; ``None``
        before any); for tests and benchmarks.

    Backends: with ``backend='auto'`` (the default), a network whose questions are mostly
    noisy-OR / noisy-MAX (:data:`_NOISY_SHARE` of those with several parents) may be answered by
    :class:`~.noisyor.NoisyEngine`: each query (a batch of rows) goes to the backend estimated
    cheaper for its answers (:meth:`choose`, with the cost model of :mod:`.noisyor`), and every
    query goes there when the junction tree does not fit in the memory budget. Gains (``expected_gains``,
    ``joint_gains``, ``best_questions``) use the junction tree whenever it fits. Both backends
    are exact; ``backend='junction_tree'`` or ``'noisy'`` forces one.
    """

    def __init__(
        self,
        network: Network,
        *,
        joint_limit: int = JOINT_LIMIT,
        merge_limit: int = MERGE_LIMIT,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        estimate: MemoryEstimate | None = None,
        relevance: bool | None = None,
        backend: str = "auto",
    ) -> None:
        """Compile ``network``; ``estimate`` (from :func:`estimate_memory` with the same options) skips replanning.

        ``relevance``: ``None`` (default) prunes by the cost estimate; ``False`` never prunes;
        ``True`` prunes by the cost estimate too, and accepts a network whose whole tree does
        not fit the budget (every query is then pruned, and fails only if what remains does
        not fit).

        Raises
        ------
        ModelTooLargeError
            The compiled tree, with room for one evidence row, would exceed ``memory_budget``
            bytes (``None``: no limit); raised before any table of the tree is built (with
            ``relevance=True``: only when a query's pruned tree would; with ``backend='auto'``
            on a noisy-OR network, or ``'noisy'``: never, the noisy backend answers instead).
        ValueError
            ``backend`` is not one of ``'auto'``, ``'junction_tree'``, ``'noisy'``.
        """
        check_backend(backend)
        self.network = network
        self.backend = backend
        self.last_backend: str | None = None
        self._options = {"joint_limit": joint_limit, "merge_limit": merge_limit}
        self._budget = check_budget(memory_budget) if estimate is None else estimate.budget
        self._too_large: ModelTooLargeError | None = None
        self._noisy: NoisyEngine | None = None
        self._weighs_noisy = backend == "auto" and noisy_backend_applies(network)
        self._only_noisy = backend == "noisy"
        if estimate is None and not self._only_noisy:
            try:
                estimate = estimate_memory(network, memory_budget=self._budget, **self._options)
            except ModelTooLargeError as exc:
                if relevance is not True and not self._weighs_noisy:
                    raise
                self._too_large = exc
                self._only_noisy = relevance is not True  # the noisy backend answers everything
        elif estimate is not None and (estimate.plan is None or estimate.plan.network is not network):
            raise ValueError("the memory estimate was made for another network")
        if self._only_noisy:
            estimate, relevance = None, False
        self.memory = estimate
        self.target_order = tuple(network.targets)
        self._lock = threading.Lock()
        self._tree: JunctionTree | None = None
        self._joint_tree: JunctionTree | None = None
        joint_est = None if estimate is None else (estimate if estimate.plan.has_joint else estimate.joint)  # type: ignore[union-attr]
        self._joint_estimate = joint_est
        self.max_rows = sys.maxsize if estimate is None else estimate.max_rows() or sys.maxsize
        self.max_gain_rows = sys.maxsize if joint_est is None else joint_est.max_rows(gains=True) or sys.maxsize
        joint_size = math.prod(network.card(t) for t in network.targets)
        self.has_joint = joint_est is not None or (estimate is None and joint_size <= joint_limit)
        if self._only_noisy:
            self.has_joint = self.noisy.has_joint
        self._relevance: Relevance | None = None
        self._pruned = Recent(_PRUNED_KEPT, max_bytes=_PRUNED_BYTES, weigh=_pruned_bytes)
        self._host_sizes: dict[int, dict[int, int]] = {}  # per plan: leaf -> its host clique's states
        self._spent = 0.0  # estimated seconds spent compiling pruned trees
        # a heavy whole tree (its arrays beyond _EAGER_BYTES) is compiled only when it pays: until then
        # queries of a few rows run one-shot plans, which hold no arrays between queries
        self._heavy = estimate is not None and estimate.tree_bytes > _EAGER_BYTES
        if relevance is not False:
            rel = Relevance(network)
            if estimate is None or self._heavy or self._pruning_can_pay(rel, estimate):
                self._relevance = rel
        eager = self._relevance is None and estimate is not None
        if not eager and estimate is not None:  # a whole tree that compiles quickly is compiled now
            plan = estimate.plan
            assert plan is not None
            eager = (
                not self._heavy
                and _compile_cost(len(plan.cards), sum(plan.sizes), sum(leaf_host_sizes(plan).values())) <= _EAGER
            )
        if eager:
            self._tree = JunctionTree(network, estimate=estimate)
            if estimate.plan.has_joint:  # type: ignore[union-attr]
                self._joint_tree = self._tree
        self._built_with_engine = (self._tree is not None, self._joint_tree is not None)  # (whole, joint)
        self.prunes = self._relevance is not None
        self._least_pruned = 0.0  # seconds: no pruned query can cost less (planning the smallest reduction)
        self._whole_shape: dict[bool, tuple[int, int]] = {}  # per joint flag: the whole tree's cliques and states
        if self._relevance is not None:
            smallest = self._relevance.kept_count((), (*network.targets, *network.reported))
            self._least_pruned = _plan_cost(smallest) + _ONE_SHOT_CALL * smallest
            for flag, est in ((False, estimate), (True, joint_est)):
                if est is not None:
                    self._whole_shape[flag] = (len(est.plan.sizes), sum(est.plan.sizes))  # type: ignore[union-attr]

    def __getstate__(self) -> dict[str, object]:
        """The engine without its lock (for dask and other process pools) and without its noisy backend
        (rebuilt on first use there); caches travel as they are."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["_noisy"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the whole trees
    @property
    def tree(self) -> JunctionTree:
        """The whole network's junction tree (compiled on first use; for tests and benchmarks)."""
        if self._tree is None:
            if self.memory is None:
                if self._too_large is None:
                    raise ValueError(_NO_TREE)
                raise self._too_large
            with self._lock:
                if self._tree is None:
                    self._tree = JunctionTree(self.network, estimate=self.memory)
                    if self.memory.plan.has_joint:  # type: ignore[union-attr]
                        self._joint_tree = self._tree
        return self._tree

    @property
    def joint_tree(self) -> JunctionTree:
        """The whole network's tree that holds the targets in its root clique (compiled on first use)."""
        if self._joint_tree is None:
            est = self._joint_estimate
            if est is None:
                if self._too_large is not None:
                    raise self._too_large
                if self._only_noisy:
                    raise ValueError(_NO_TREE)
                raise ValueError("the targets' joint is too large for this network")
            if est is self.memory:
                return self.tree
            with self._lock:
                if self._joint_tree is None:
                    self._joint_tree = JunctionTree(self.network, estimate=est)
        return self._joint_tree

    def _pruning_can_pay(self, rel: Relevance, estimate: MemoryEstimate) -> bool:
        """False when the whole tree is within :data:`_STATIC_MARGIN` of the smallest pruned tree."""
        net = self.network
        wanted = (*net.targets, *net.reported)
        red = rel.reduce((), (), wanted)
        smallest = 0
        for part in (red.query, red.evidence):
            if part is not None:
                try:
                    plan = estimate_memory(part, memory_budget=None, joint=False, **self._options).plan
                    smallest += sum(plan.sizes)  # type: ignore[union-attr]
                except ModelTooLargeError:  # pragma: no cover - no budget given
                    return False
        whole = sum(estimate.plan.sizes)  # type: ignore[union-attr]
        return whole > _STATIC_MARGIN * max(smallest, 1)

    # ------------------------------------------------------------------ posteriors
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
            Also return the targets' joint ``(rows, *cards)`` (needs :attr:`has_joint`).
        """
        if self._only_noisy or self._weighs_noisy:
            choice, evidence = self._pick(likelihoods, rows, joint)
            if choice.backend == "noisy":
                self.last_backend = "noisy"
                return self.noisy.query(likelihoods, rows, marginals=marginals, joint=joint, evidence=evidence)
        self.last_backend = "junction_tree"
        if self._relevance is None or self._whole_is_cheap(rows, joint, marginals):
            tree = self.joint_tree if joint else self.tree
            return tree.query(likelihoods, rows, marginals=marginals, joint=joint)
        return self._query_pruned(likelihoods, rows, marginals, joint)

    @property
    def noisy(self) -> NoisyEngine:
        """The noisy-OR / noisy-MAX backend (built on first use)."""
        if self._noisy is None:
            with self._lock:
                if self._noisy is None:
                    self._noisy = NoisyEngine(self.network, memory_budget=self._budget, **self._options)
        return self._noisy

    def choose(self, likelihoods: Mapping[str, FloatArray], rows: int, *, joint: bool = False) -> BackendChoice:
        """The backend :meth:`query` would use for these rows, with the estimates (seconds) it was chosen from."""
        return self._pick(likelihoods, rows, joint)[0]

    def _pick(
        self, likelihoods: Mapping[str, FloatArray], rows: int, joint: bool
    ) -> tuple[BackendChoice, Evidence | None]:
        """:meth:`choose`, and the noisy backend's step 1 when it was made for the estimate (the query reuses it).

        The engine's own cases first (forced, not a noisy-OR network, no joint, no whole tree);
        then :func:`.noisyor.weigh_backends`, with the tree priced as built with the engine or not,
        never by whether a later query built it: the choice has no history.
        """
        if self._only_noisy:
            reason = "forced" if self.backend == "noisy" else "the junction tree does not fit in the memory budget"
            return BackendChoice("noisy", None, None, None, reason), None
        if not self._weighs_noisy:
            reason = "forced" if self.backend == "junction_tree" else "the network is not mostly noisy-OR / noisy-MAX"
            return BackendChoice("junction_tree", None, None, None, reason), None
        if joint and not self.noisy.has_joint:
            return BackendChoice(
                "junction_tree", None, None, None, "the noisy backend has no joint of the targets"
            ), None
        est = self._joint_estimate if joint else self.memory
        if est is None:  # the whole tree does not fit (relevance=True): pruned trees answer
            return BackendChoice("junction_tree", None, None, None, "pruned junction trees (relevance=True)"), None
        return weigh_backends(self.noisy, est, likelihoods, rows, compiled=self._built_with_engine[joint])

    def _whole_is_cheap(self, rows: int, joint: bool, marginals: Sequence[str] | None) -> bool:
        """True when the compiled whole tree costs less than any pruned query could (no need to look closer)."""
        shape = self._whole_shape.get(joint)
        if shape is None or (self._joint_tree if joint else self._tree) is None:
            return False
        wanted = len(self.network.targets) + len(self.network.reported) if marginals is None else len(marginals)
        whole = _cost(shape[0], shape[1], 0, rows) + _PER_WANTED * wanted
        return whole < _PRUNE_MARGIN * self._least_pruned

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

    # ------------------------------------------------------------------ relevance
    def _query_pruned(
        self, likelihoods: Mapping[str, FloatArray], rows: int, marginals: Sequence[str] | None, joint: bool
    ) -> QueryResult:
        """Group the rows by answered set, then query each group on the tree its cost estimate picks."""
        net = self.network
        wanted = (*net.targets, *net.reported) if marginals is None else tuple(marginals)
        lik = {v: np.asarray(a, dtype=np.float64) for v, a in likelihoods.items()}
        names = list(lik)
        if rows == 1:
            answered = [v for v in names if any(x != 1.0 for x in lik[v][0].tolist())]
            return self._query_group(lik, rows, answered, wanted, joint)
        if not names:
            return self._query_group(lik, rows, [], wanted, joint)
        mask = np.stack([~np.all(lik[v] == 1.0, axis=1) for v in names], axis=1)  # (rows, observables)
        patterns, inverse = np.unique(np.packbits(mask, axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        if len(patterns) == 1 or len(patterns) > _MAX_GROUPS:
            answered = [v for v, hit in zip(names, mask.any(axis=0).tolist(), strict=True) if hit]
            return self._query_group(lik, rows, answered, wanted, joint)
        parts: list[tuple[NDArray[np.intp], QueryResult]] = []
        for g in range(len(patterns)):
            idx = np.flatnonzero(inverse == g)
            first = mask[idx[0]].tolist()
            answered = [v for v, hit in zip(names, first, strict=True) if hit]
            sub = {v: a[idx] for v, a in lik.items()}
            parts.append((idx, self._query_group(sub, len(idx), answered, wanted, joint)))
        return _scatter(parts, rows)

    def _query_group(
        self,
        lik: Mapping[str, FloatArray],
        rows: int,
        answered: Sequence[str],
        wanted: Sequence[str],
        joint: bool,
    ) -> QueryResult:
        """One group of rows sharing their answered set: the whole tree, or the pruned network."""
        rel = self._relevance
        assert rel is not None
        cut = frozenset(v for v in answered if v in rel.inner and _one_hot_everywhere(lik[v]))
        want = frozenset(wanted) | (frozenset(self.network.targets) if joint else frozenset())
        key = (frozenset(answered), cut, frozenset(wanted), joint)
        costs = self._whole_cost(rows, joint, answered, wanted)
        whole = None if costs is None or self._defers_whole(rows, joint) else sum(costs)
        entry = self._pruned.touch(key)
        if entry is None:
            if whole is not None:
                kept = rel.kept_count(answered, want)
                floor = _plan_cost(kept) + _ONE_SHOT_CALL * kept  # about one array call per variable kept
                if floor * _PRUNE_MARGIN >= whole:  # planning alone would cost more than the whole tree
                    return self._whole(lik, rows, wanted, joint)
            red = rel.reduce(answered, cut, want)
            fresh = _plan_cost(red.kept)
            entry = _Pruned(red, answered, wanted, joint)
            self._pruned.put(key, entry)
        else:
            fresh = 0.0
        one_shot = fresh + entry.one_shot_cost(rows)
        trees = math.inf
        if entry.trees is not None:
            trees = _cost(entry.cliques, entry.tree_states, entry.tree_answer_states, rows)
        elif rows > _ONE_SHOT_ROWS or entry.runs >= 2:  # a batch, or a set seen again: compiling may pay
            build = _compile_cost(entry.reduction.kept, entry.states, 0) / max(1, entry.runs)
            hosts = self._answer_states(joint, answered)  # its answers' host cliques: at most the whole tree's
            trees = fresh + build + _cost(entry.cliques, entry.states, hosts, rows)
        best = min(one_shot, trees)
        if whole is not None and best * _PRUNE_MARGIN >= whole:
            return self._whole(lik, rows, wanted, joint)
        entry.runs += 1
        if costs is not None:  # what the whole tree would have saved, towards compiling it (ski rental)
            self._spent += max(0.0, best - costs[0])
        if trees < one_shot and (entry.trees is not None or self._compile_pruned(entry, joint)):
            return self._run_pruned(entry, lik, rows, wanted, joint, entry.trees)  # type: ignore[arg-type]
        return self._run_pruned(entry, lik, rows, wanted, joint, None)

    def _defers_whole(self, rows: int, joint: bool) -> bool:
        """True when a heavy whole tree, not compiled yet, is not compiled for this query.

        A tree whose arrays are estimated beyond :data:`_EAGER_BYTES` is compiled for a batch
        (more than :data:`_ONE_SHOT_ROWS` rows) or for gains, never for a few rows: one-shot
        plans answer those and hold no arrays between queries (``relevance=False`` forces the
        whole tree).
        """
        return self._heavy and rows <= _ONE_SHOT_ROWS and (self._joint_tree if joint else self._tree) is None

    def _compile_pruned(self, entry: _Pruned, joint: bool) -> bool:
        if not entry.compile_trees(self._budget, self._options, joint):
            return False
        q, e = entry.trees  # type: ignore[misc]
        trees = [t for t in (q, e) if t is not None]
        entry.tree_states = sum(sum(t.memory.plan.sizes) for t in trees)  # type: ignore[union-attr]
        entry.tree_answer_states = sum(sum(leaf_host_sizes(t.memory.plan).values()) for t in trees)  # type: ignore[arg-type]
        self._pruned.put(self._key_of(entry), entry)  # its bytes changed
        return True

    def _key_of(self, entry: _Pruned) -> object:
        for k, v in list(self._pruned.items()):
            if v is entry:
                return k
        return object()

    def _whole(self, lik: Mapping[str, FloatArray], rows: int, wanted: Sequence[str], joint: bool) -> QueryResult:
        tree = self.joint_tree if joint else self.tree
        return tree.query(lik, rows, marginals=wanted, joint=joint)

    def _whole_cost(
        self, rows: int, joint: bool, answered: Sequence[str], want: Sequence[str] = ()
    ) -> tuple[float, float] | None:
        """Seconds of one query of ``rows`` rows on the whole tree, and of compiling it first if it is not yet
        (0 once pruned networks have cost as much more than it, ski-rental style); ``None``: it does not fit."""
        est = self._joint_estimate if joint else self.memory
        if est is None:
            return None
        plan = est.plan
        assert plan is not None
        hosts = self._hosts(plan)
        answer_states = self._answer_states(joint, answered)
        cost = _cost(len(plan.sizes), sum(plan.sizes), answer_states, rows) + _PER_WANTED * (len(want) + len(answered))
        build = 0.0
        if (self._joint_tree if joint else self._tree) is None:
            build = _compile_cost(len(plan.cards), sum(plan.sizes), sum(hosts.values()))
            if self._spent >= build:
                build = 0.0
        return cost, build

    def _hosts(self, plan: Plan) -> dict[int, int]:
        """Per leaf question of the whole tree's plan: its host clique's states (cached per plan)."""
        hosts = self._host_sizes.get(id(plan))
        if hosts is None:
            hosts = self._host_sizes[id(plan)] = leaf_host_sizes(plan)
        return hosts

    def _answer_states(self, joint: bool, answered: Sequence[str]) -> int:
        """The answered questions' host clique states in the whole tree (0 when it does not fit)."""
        est = self._joint_estimate if joint else self.memory
        if est is None or est.plan is None:
            return 0
        hosts = self._hosts(est.plan)
        index = self.network.index
        return sum(hosts.get(index[v], 0) for v in answered)

    def _run_pruned(
        self,
        entry: _Pruned,
        lik: Mapping[str, FloatArray],
        rows: int,
        wanted: Sequence[str],
        joint: bool,
        trees: tuple[JunctionTree | None, JunctionTree | None] | None,
    ) -> QueryResult:
        """Query the reduction's parts (compiled ``trees``, or the one-shot plans) and add up ``log P(e)``."""
        red = entry.reduction
        log_evidence = np.full(rows, red.log_offset)
        marginals: Mapping[str, FloatArray] = {}
        target_joint = None
        for k, asked in ((0, True), (1, False)):
            plan = entry.plans[k]
            if plan is None:
                continue
            sub = plan.network
            part = {v: lik[red.copies.get(v, v)] for v in sub.observables if red.copies.get(v, v) in lik}
            want = wanted if asked else ()
            if trees is not None:
                res = trees[k].query(part, rows, marginals=want, joint=joint and asked)  # type: ignore[union-attr]
            else:
                res = self._one_shot(plan, part, rows, want, joint and asked)
            if asked:
                marginals = res.marginals
                target_joint = res.target_joint
            log_evidence = log_evidence + res.log_evidence
        return QueryResult(log_evidence, marginals, target_joint)

    def _one_shot(
        self, plan: OneShotPlan, lik: Mapping[str, FloatArray], rows: int, wanted: Sequence[str], joint: bool
    ) -> QueryResult:
        """``plan.query`` in passes of rows that fit the budget (about four arrays of every clique per row)."""
        per_pass = rows if self._budget is None else max(1, self._budget // (32 * max(plan.states, 1)))
        if rows <= per_pass:
            return plan.query(lik, rows, wanted, joint=joint)
        return concat_results(
            [plan.query(part, t - s, wanted, joint=joint) for s, t, part in passes(lik, rows, per_pass)]
        )

    # ------------------------------------------------------------------ information gain
    @property
    def fast_joint_gain(self) -> bool:
        """True when :meth:`joint_gains` applies to leaf questions: the root clique holds exactly the targets."""
        if self._only_noisy:
            return self.noisy.fast_joint_gain
        est = self._joint_estimate
        if est is None:
            return False
        plan = est.plan
        assert plan is not None
        return plan.sets[plan.root] == {self.network.index[t] for t in self.network.targets}

    def joint_gain_applies(self, candidates: Sequence[str]) -> bool:
        """True when :meth:`joint_gains` (and :meth:`best_questions`) can rank ``candidates`` (leaf questions)."""
        if self._only_noisy:
            return self.noisy.joint_gain_applies(candidates)
        if not self.fast_joint_gain:
            return False
        plan = self._joint_estimate.plan  # type: ignore[union-attr]
        leaves = set(plan.leaf_vars)  # type: ignore[union-attr]
        index = self.network.index
        return all(index[q] in leaves for q in candidates)

    def joint_gains(
        self, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """Exact I(T; Q | e) in bits for every row and candidate leaf question Q (T = all targets).

        Needs :meth:`joint_gain_applies`; candidates must be unanswered. See
        :func:`.gains.joint_gains` for the method and the arrays returned (gains, H(T | e),
        P(Q = a | e) per candidate, log P(e)).
        """
        if self._only_noisy:
            return self.noisy.joint_gains(likelihoods, rows, candidates)
        return joint_gains(self.joint_tree, likelihoods, rows, candidates)

    def best_questions(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        candidates: Sequence[str],
        *,
        available: NDArray[np.bool_],
        costs: FloatArray | None = None,
        marginals: Sequence[str] = (),
    ) -> BestQuestions:
        """Each row's candidate of largest ``I(T; Q | e) / cost``, exactly, and the posterior (one pass).

        ``available`` ``(rows, candidates)`` marks what a row may be asked; see
        :func:`.gains.best_joint_questions`.
        """
        if self._only_noisy:
            return self.noisy.best_questions(  # type: ignore[return-value]  # same fields
                likelihoods, rows, candidates, available=available, costs=costs, marginals=marginals
            )
        return best_joint_questions(
            self.joint_tree, likelihoods, rows, candidates, available=available, costs=costs, marginals=marginals
        )

    def expected_gains(
        self,
        likelihoods: Mapping[str, FloatArray],
        rows: int,
        candidates: Sequence[str],
        *,
        criterion: str = "joint",
        uncertainty: Uncertainty | None = None,
    ) -> FloatArray:
        """Expected gain of every candidate for every evidence row: an array ``(rows, candidates)``.

        ``criterion`` ``'joint'``: ``I(T; Q | e)`` in bits, exact through :meth:`joint_gains`
        when it applies, else as below with ``H(T)`` the entropy of the targets' joint (of the
        sum of their marginals' entropies when the joint is not available); ``'marginal'``:
        ``Σ_i I(T_i; Q | e)``. ``uncertainty`` replaces the entropy by another measure of the
        targets' marginals (``(rows,)`` per call), e.g. the expected number of wrong calls.

        Outside the exact joint path, each row is expanded into ``1 + Σ_Q |Q|`` rows (its
        evidence, then the same evidence with each answer of each candidate) and the expanded
        rows go through :meth:`query` in chunks: no Python loop over rows. Gains of candidates
        a row already answered are meaningless there (the caller masks them).
        """
        if criterion not in ("joint", "marginal"):
            raise ValueError(f"criterion must be 'joint' or 'marginal', got {criterion!r}")
        if self._only_noisy:
            return self.noisy.expected_gains(
                likelihoods, rows, candidates, criterion=criterion, uncertainty=uncertainty
            )
        qs = list(candidates)
        n = rows
        if criterion == "joint" and uncertainty is None and self.joint_gain_applies(qs):
            out = np.zeros((n, len(qs)))
            for c0 in range(0, n, _FAST_CHUNK):
                c1 = min(n, c0 + _FAST_CHUNK)
                chunk = {q: a[c0:c1] for q, a in likelihoods.items()}
                out[c0:c1] = self.joint_gains(chunk, c1 - c0, qs)[0]
            return out
        use_joint = criterion == "joint" and self.has_joint and uncertainty is None
        net = self.network
        sizes = np.array([net.card(q) for q in qs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        block = 1 + int(offsets[-1])
        per_chunk = max(1, _EXPANDED_CHUNK // block)
        gains = np.zeros((n, len(qs)))
        asked = set(qs)
        for c0 in range(0, n, per_chunk):
            c1 = min(n, c0 + per_chunk)
            m = c1 - c0
            expanded = m * block
            lik: dict[str, FloatArray] = {
                q: np.repeat(a[c0:c1], block, axis=0) for q, a in likelihoods.items() if q not in asked
            }
            for j, q in enumerate(qs):
                base = likelihoods.get(q)
                arr = np.repeat(base[c0:c1], block, axis=0) if base is not None else np.ones((expanded, sizes[j]))
                sel = (np.arange(m)[:, None] * block + 1 + offsets[j] + np.arange(sizes[j])[None, :]).ravel()
                arr[sel] = np.tile(np.eye(sizes[j]), (m, 1))
                lik[q] = arr
            if use_joint:
                res = self.query(lik, expanded, marginals=[], joint=True)
                assert res.target_joint is not None
                h = entropy_bits(res.target_joint.reshape(expanded, -1))
            else:
                res = self.query(lik, expanded, marginals=list(net.targets))
                if uncertainty is not None:
                    h = np.asarray(uncertainty(res.marginals), dtype=np.float64)
                else:
                    h = sum(entropy_bits(res.marginals[t]) for t in net.targets)  # type: ignore[assignment]
            log_z = res.log_evidence.reshape(m, block)
            h = h.reshape(m, block)
            with np.errstate(over="ignore", invalid="ignore"):
                p = np.exp(log_z[:, 1:] - log_z[:, :1])
            p = np.where(np.isfinite(p), p, 0.0)
            hh = np.where(p > 0, h[:, 1:], 0.0)
            for j in range(len(qs)):
                s, t = offsets[j], offsets[j + 1]
                pj = p[:, s:t]
                tot = pj.sum(axis=1, keepdims=True)
                pj = np.divide(pj, tot, out=np.zeros_like(pj), where=tot > 0)
                gains[c0:c1, j] = np.maximum(0.0, h[:, 0] - (pj * hh[:, s:t]).sum(axis=1))
        return gains


def noisy_backend_applies(network: Network) -> bool:
    """True when ``backend='auto'`` weighs the noisy-OR backend for ``network``.

    That is, when at least :data:`_NOISY_SHARE` of its questions with several parents are
    leaky noisy-OR / noisy-MAX (found from the tables themselves).
    """
    multi = [q for q in network.observables if len(network.parents[q]) > 1]
    return bool(multi) and sum(detect_noisy(network, q) is not None for q in multi) >= _NOISY_SHARE * len(multi)


def _plan_cost(kept: int) -> float:
    """Estimated seconds of reducing and planning a network of ``kept`` variables for one query."""
    return _PLAN_BASE + _PLAN_VARIABLE * kept + _PLAN_PAIR * kept * kept


def _cost(cliques: int, states: int, answer_states: int, rows: int) -> float:
    """Estimated seconds of one query pass (see the constants above)."""
    per_row = _PER_STATE_ROW * states + _PER_ANSWER_STATE_ROW * answer_states
    return _PER_CLIQUE * cliques + _ANSWER_STATE_COPY * answer_states + rows * per_row


def _compile_cost(variables: int, states: int, answer_states: int) -> float:
    """Estimated seconds of planning and compiling a tree (its questions' tables over their host cliques included)."""
    return _COMPILE_BASE + _COMPILE_VARIABLE * variables + _COMPILE_STATE * (states + answer_states)


def _one_hot_everywhere(lam: FloatArray) -> bool:
    """True when every row of ``lam`` is one state (a hard answer)."""
    if lam.shape[0] == 1:
        values = lam[0].tolist()
        return values.count(1.0) == 1 and values.count(0.0) == len(values) - 1
    return bool(np.all((lam == 0.0) | (lam == 1.0)) and np.all(lam.sum(axis=1) == 1.0))


def _pruned_bytes(entry: _Pruned | str) -> int:
    return entry.nbytes if isinstance(entry, _Pruned) else 0


def _scatter(parts: Sequence[tuple[NDArray[np.intp], QueryResult]], rows: int) -> QueryResult:
    """One result of ``rows`` rows from the results of groups of rows (``parts``: row indices, result)."""
    first = parts[0][1]
    log_evidence = np.empty(rows)
    marginals = {v: np.empty((rows, *a.shape[1:])) for v, a in first.marginals.items()}
    joint = None if first.target_joint is None else np.empty((rows, *first.target_joint.shape[1:]))
    for idx, res in parts:
        log_evidence[idx] = res.log_evidence
        for v, a in res.marginals.items():
            marginals[v][idx] = a
        if joint is not None:
            joint[idx] = res.target_joint
    return QueryResult(log_evidence, marginals, joint)


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
    joint_limit: int = JOINT_LIMIT,
    merge_limit: int = MERGE_LIMIT,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    estimate: MemoryEstimate | None = None,
    relevance: bool | None = None,
    backend: str = "auto",
) -> Engine:
    """Compile ``network`` into an :class:`Engine` (do it once, query many times).

    ``relevance``: see :class:`Engine` (default: prune what the evidence makes irrelevant when
    the cost estimate says it pays). ``backend``: ``'auto'`` (default: per query, the backend
    estimated cheaper; see :class:`Engine`), ``'junction_tree'`` or ``'noisy'`` to force one.

    Raises
    ------
    ModelTooLargeError
        The compiled tree would exceed ``memory_budget`` bytes (see :func:`~.plan.estimate_memory`).
    """
    return Engine(
        network,
        joint_limit=joint_limit,
        merge_limit=merge_limit,
        memory_budget=memory_budget,
        estimate=estimate,
        relevance=relevance,
        backend=backend,
    )
