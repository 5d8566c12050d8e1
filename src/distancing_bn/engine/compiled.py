"""The compiled engine: the one object the layers above query.

:func:`compile_engine` returns an :class:`Engine`: posteriors (``query``, ``marginals``,
``joint``), the exact joint gain (``joint_gains``, ``best_questions``) and the expected gain
of every candidate for a batch of rows (``expected_gains``). It owns the junction tree
(:mod:`.propagate`) and the gain kernels (:mod:`.gains`).

Top layer of :mod:`distancing_bn.engine`: imports every layer below it, and
:mod:`distancing_bn.evidence` and :mod:`distancing_bn.errors` for :func:`impossible_evidence`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import ImpossibleEvidenceError
from ..evidence import from_answers
from ..network import DEFAULT_MEMORY_BUDGET, Network
from .gains import BestQuestions, best_joint_questions, joint_gains
from .kernels import FloatArray, entropy_bits
from .plan import JOINT_LIMIT, MERGE_LIMIT, MemoryEstimate
from .propagate import JunctionTree, QueryResult

__all__ = ["Engine", "compile_engine", "impossible_evidence"]

_FAST_CHUNK = 4096  # rows per exact joint-gain call in expected_gains
_EXPANDED_CHUNK = 16_384  # expanded rows (a row and each answer of each candidate) per query in expected_gains

Uncertainty = Callable[[Mapping[str, FloatArray]], FloatArray]


class Engine:
    """A network compiled for exact queries; batched over rows of likelihoods.

    Attributes
    ----------
    network
        The network it was compiled for.
    memory
        The plan's :class:`~.plan.MemoryEstimate` (batches beyond ``max_rows`` run in passes).
    has_joint
        The targets' joint is available (``query(..., joint=True)``, :meth:`joint`).
    target_order
        The order of the targets' axes in a joint.
    tree
        The compiled :class:`~.propagate.JunctionTree` (for tests and benchmarks; the layers
        above use the methods).
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
        tree = JunctionTree(
            network, joint_limit=joint_limit, merge_limit=merge_limit, memory_budget=memory_budget, estimate=estimate
        )
        self.tree = tree
        self.network = network
        self.memory = tree.memory
        self.max_rows = tree.max_rows
        self.max_gain_rows = tree.max_gain_rows
        self.has_joint = tree.has_joint
        self.target_order = tree.target_order

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
        return self.tree.query(likelihoods, rows, marginals=marginals, joint=joint)

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

    # ------------------------------------------------------------------ information gain
    @property
    def fast_joint_gain(self) -> bool:
        """True when :meth:`joint_gains` applies to leaf questions: the root clique holds exactly the targets."""
        return self.tree.fast_joint_gain

    def joint_gain_applies(self, candidates: Sequence[str]) -> bool:
        """True when :meth:`joint_gains` (and :meth:`best_questions`) can rank ``candidates``."""
        hosts = self.tree.leaf_host
        index = self.network.index
        return self.tree.fast_joint_gain and all(index[q] in hosts for q in candidates)

    def joint_gains(
        self, likelihoods: Mapping[str, FloatArray], rows: int, candidates: Sequence[str]
    ) -> tuple[FloatArray, FloatArray, list[FloatArray], FloatArray]:
        """Exact I(T; Q | e) in bits for every row and candidate leaf question Q (T = all targets).

        Needs :meth:`joint_gain_applies`; candidates must be unanswered. See
        :func:`.gains.joint_gains` for the method and the arrays returned (gains, H(T | e),
        P(Q = a | e) per candidate, log P(e)).
        """
        return joint_gains(self.tree, likelihoods, rows, candidates)

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
        return best_joint_questions(
            self.tree, likelihoods, rows, candidates, available=available, costs=costs, marginals=marginals
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
) -> Engine:
    """Compile ``network`` into an :class:`Engine` (do it once, query many times).

    Raises
    ------
    ModelTooLargeError
        The compiled tree would exceed ``memory_budget`` bytes (see :func:`~.plan.estimate_memory`).
    """
    return Engine(
        network, joint_limit=joint_limit, merge_limit=merge_limit, memory_budget=memory_budget, estimate=estimate
    )
