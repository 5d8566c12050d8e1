"""The most informative next question: expected information gain, costs, lookahead, stop rule.

For the causes' joint ``T`` (criterion ``joint``), the expected gain of question ``Q`` given the
answers ``e`` is the mutual information, in bits::

    I(T; Q | e) = H(T | e) − Σ_a P(Q = a | e) · H(T | e, Q = a)

Criterion ``marginal`` sums ``I(T_i; Q | e)`` over the causes (for networks whose joint is too
large); ``target=NAME`` is the information about that one variable. An answered question gains 0.
Criterion ``decision`` is not in bits: it is the expected drop in the number of causes that would
be called wrongly (present when absent or the reverse) if each were called by its probability,
``U(e) = Σ_i min(P(T_i | e), 1 − P(T_i | e))``; ties are broken by the joint gain.

A group (a checklist of yes/no questions, or a rating grid of questions that share one answer
scale, asked as one screen) is ranked beside the questions: its gain is the same quantity over
the joint of its answers, exact over all ``Π_j |Q_j|`` outcomes (``2**k`` for a checklist of k
items; ``I(T; Q_1..Q_k | e)`` for ``joint``).

Vectorised: every candidate answer becomes one extra evidence row (``e`` plus ``Q = a``), so the
whole ranking is ONE batched query of ``1 + Σ_Q |answers(Q)|`` rows (a collect pass only, for
the joint criterion). ``lookahead=2`` scores a first question by the expected information of the
best adaptive two-question sequence that starts with it, one batched query of about
``(Σ_Q |Q|)²`` rows (≈ 25,000 rows for the default model, still one engine call per chunk).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import itertools
import math
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from .engine import entropy_bits, impossible_evidence
from .evidence import Evidence, from_answers, normalise_answers

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .model import Model

__all__ = [
    "QuestionRanking",
    "StopDecision",
    "StopRule",
    "batch_gains_from_evidence",
    "decide_stop",
    "entropy_bits",
    "next_question",
    "next_screen",
    "open_groups",
    "rank_questions",
]

Criterion = Literal["joint", "marginal", "decision"]
CRITERIA = ("joint", "marginal", "decision")
StopCode = Literal["decided", "no_gain", "budget", "exhausted"]
_LOOKAHEAD_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class QuestionRanking:
    """Candidate questions ranked by expected information gain (bits), optionally per cost."""

    questions: tuple[str, ...]
    texts: tuple[str, ...]
    gain_bits: NDArray[np.float64]
    costs: NDArray[np.float64]
    answer_probabilities: tuple[dict[str, float], ...]
    answered: tuple[bool, ...]
    entropy_bits: float
    criterion: str
    by_cost: bool
    lookahead: int = 1
    disclaimer: str = ""
    kinds: tuple[str, ...] = ()  # "question" or "group" per entry; empty: all questions
    tie_break: NDArray[np.float64] | None = None  # second key of the order (joint gain for "decision")
    labels: tuple[str, ...] = ()  # short words per entry, for people (empty: the texts)

    def kind(self, name: str) -> str:
        """Return ``"question"`` or ``"group"`` (a checklist) for a ranked entry."""
        return self.kinds[self.questions.index(name)] if self.kinds else "question"

    @property
    def gain_per_cost(self) -> NDArray[np.float64]:
        """Expected gain divided by cost (bits per unit of cost)."""
        return self.gain_bits / self.costs

    def _order(self) -> NDArray[np.intp]:
        score = self.gain_per_cost if self.by_cost else self.gain_bits
        answered = np.asarray(self.answered)
        # unanswered first by score (desc), then answered; ties keep model order
        if self.tie_break is not None:
            second = self.tie_break / self.costs if self.by_cost else self.tie_break
            return np.lexsort((np.arange(len(score)), -second, -np.round(score, 12), answered))
        return np.lexsort((np.arange(len(score)), -score, answered))

    def to_frame(self) -> pd.DataFrame:
        """Return ``question, kind, text, expected_gain_bits, cost, gain_per_cost, answered, answer_probabilities``.

        For ``criterion="decision"`` the gain column holds expected wrong calls avoided, not bits.
        """
        import pandas as pd

        o = self._order()
        return pd.DataFrame(
            {
                "question": np.asarray(self.questions, dtype=object)[o],
                "kind": np.asarray(self.kinds or ("question",) * len(self.questions), dtype=object)[o],
                "text": np.asarray(self.texts, dtype=object)[o],
                "expected_gain_bits": self.gain_bits[o],
                "cost": self.costs[o],
                "gain_per_cost": self.gain_per_cost[o],
                "answered": np.asarray(self.answered)[o],
                "answer_probabilities": [self.answer_probabilities[i] for i in o],
            }
        )

    @property
    def best(self) -> str | None:
        """The top unanswered question, or None when every question is answered."""
        return self.best_excluding(())

    def best_excluding(self, exclude: Collection[str]) -> str | None:
        """The top unanswered question not in ``exclude`` (e.g. skipped), or None."""
        for i in self._order():
            if not self.answered[i] and self.questions[i] not in exclude:
                return self.questions[i]
        return None

    @property
    def best_gain_bits(self) -> float:
        """Expected gain of the best question (0 if none)."""
        b = self.best
        return 0.0 if b is None else float(self.gain_bits[self.questions.index(b)])

    def summary(self, k: int = 5) -> str:
        """Return the top ``k`` questions as text."""
        lines = [
            f"Current uncertainty {self.entropy_bits:.3f} bits; top questions ({self.criterion}"
            f"{', per cost' if self.by_cost else ''}):"
        ]
        unit = "calls" if self.criterion == "decision" else "bits"
        shown = dict(zip(self.questions, self.labels or self.texts, strict=True))
        for row in self.to_frame().head(k).itertuples():
            lines.append(f"  {row.expected_gain_bits:6.3f} {unit}  cost {row.cost:g}  {shown[row.question]}")
        if self.disclaimer:
            lines.append(self.disclaimer)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        n_open = sum(not a for a in self.answered)
        return f"<QuestionRanking {n_open} candidates | best: {self.best} {self.best_gain_bits:.3g} bits>"

    def _repr_html_(self) -> str:
        try:
            frame = self.to_frame().drop(columns=["answer_probabilities"]).head(15)
            body = frame.to_html(index=False, escape=True, float_format=lambda x: f"{x:.3f}", border=0)
            return (
                f"<div><b>Next questions</b> (uncertainty {self.entropy_bits:.3f} bits)"
                f"{body}<p><i>{html.escape(self.disclaimer)}</i></p></div>"
            )
        except Exception:
            return f"<pre>{html.escape(repr(self))}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        frame = self.to_frame()
        return {
            "criterion": self.criterion,
            "entropy_bits": self.entropy_bits,
            "best": self.best,
            "questions": frame.to_dict(orient="records"),
        }

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the expected gain of the top questions; return the Axes."""
        from .plots import plot_ranking

        return plot_ranking(self, ax=ax, **kwargs)


@dataclass(frozen=True, slots=True)
class StopRule:
    """When to stop asking (unanswered screens are always asked first, whatever the rule).

    Stop when (checked in this order): ``max_questions`` steps were taken; every cause is
    *decided*, its probability below ``decided_low`` or above ``decided_high``; or the best
    question or checklist is expected to gain less than ``min_gain_bits`` (in the ranking
    criterion's unit). Defaults: no budget, 0.1, 0.9, 0.1 bits (chosen by simulation; see
    docs/inference.md, *The default criterion*).
    """

    min_gain_bits: float = 0.1
    decided_low: float = 0.1
    decided_high: float = 0.9
    max_questions: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_gain_bits", "decided_low", "decided_high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"StopRule.{name} must be a finite number, got {type(value).__name__}")
        if not 0 <= self.decided_low <= self.decided_high <= 1:
            raise ValueError(
                f"StopRule needs 0 <= decided_low <= decided_high <= 1, got {self.decided_low} and {self.decided_high}"
            )
        mq = self.max_questions
        if mq is not None and (isinstance(mq, bool) or not isinstance(mq, int) or mq < 0):
            raise ValueError(f"StopRule.max_questions must be a whole number >= 0 or None, got {mq!r}")


@dataclass(frozen=True, slots=True)
class StopDecision:
    """The next question (or checklist), or None with the reason asking should stop.

    ``code`` is one of ``decided``, ``no_gain``, ``budget``, ``exhausted`` when stopping;
    ``screen`` is True when the next question is a screen asked before any ranking.
    """

    question: str | None
    reason: str | None
    ranking: QuestionRanking | None = field(default=None, repr=False)
    code: StopCode | None = None
    screen: bool = False

    @property
    def stop(self) -> bool:
        """True when no further question should be asked."""
        return self.question is None


def _fast_joint(model: Model, criterion: str, target: str | None, candidates: Sequence[str]) -> bool:
    """True when the separator-based exact gain applies (see ``Engine.joint_gains``)."""
    return criterion == "joint" and target is None and model.engine.joint_gain_applies(candidates)


def _candidate_rows(
    model: Model, norm: Mapping[str, Any], candidates: Sequence[str]
) -> tuple[dict[str, np.ndarray], int, list[tuple[int, int]]]:
    """Return likelihoods for row 0 = e and one row per (candidate, answer); spans per candidate."""
    net = model.network
    sizes = [net.card(q) for q in candidates]
    rows = 1 + sum(sizes)
    lik: dict[str, np.ndarray] = dict(from_answers(net, norm, rows).likelihoods)
    spans = []
    start = 1
    for q, k in zip(candidates, sizes, strict=True):
        arr = np.ones((rows, k))
        arr[start : start + k] = np.eye(k)
        lik[q] = arr
        spans.append((start, start + k))
        start += k
    return lik, rows, spans


def _uncertainty(
    model: Model, lik: Mapping[str, np.ndarray], rows: int, criterion: str, target: str | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (log P(e_row), uncertainty in bits per row) for the chosen criterion."""
    eng = model.engine
    if target is not None:
        res = eng.query(lik, rows, marginals=[target])
        return res.log_evidence, entropy_bits(res.marginals[target])
    if criterion == "joint":
        res = eng.query(lik, rows, marginals=[], joint=True)
        assert res.target_joint is not None
        return res.log_evidence, entropy_bits(res.target_joint.reshape(rows, -1))
    res = eng.query(lik, rows, marginals=list(model.causes))
    if criterion == "decision":
        ps = [model._info[c].p(res.marginals[c]) for c in model.causes]
        wrong = sum(np.minimum(p, 1.0 - p) for p in ps)
        return res.log_evidence, np.asarray(wrong, dtype=np.float64)
    return res.log_evidence, sum(entropy_bits(res.marginals[c]) for c in model.causes)


def _gains(
    log_z: NDArray[np.float64], h: NDArray[np.float64], spans: Sequence[tuple[int, int]], base: int = 0
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """Expected gains per candidate from per-row log P(e, a) and entropies; row ``base`` is e."""
    gains = np.empty(len(spans))
    probs = []
    for i, (s, t) in enumerate(spans):
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.exp(log_z[s:t] - log_z[base])
        p = np.where(np.isfinite(p), p, 0.0)
        p = p / p.sum() if p.sum() > 0 else p
        hh = np.where(p > 0, h[s:t], 0.0)
        gains[i] = max(0.0, float(h[base] - p @ hh))
        probs.append(p)
    return gains, probs


def open_groups(model: Model, done: Collection[str]) -> list[tuple[str, list[str]]]:
    """Checklists still worth asking: (id, items not yet answered or asked); at least two items left."""
    out = []
    for gid, g in model.groups.items():
        if gid in done:
            continue
        items = [q for q in g.items if q not in done]
        if len(items) >= 2:
            out.append((gid, items))
    return out


def _blocks(model: Model, given: Collection[str], items: Sequence[str]) -> list[list[str]]:
    """Split ``items`` into blocks independent given the causes and the answers ``given``.

    d-separation in the moral graph of the ancestral set of items, causes and answered
    questions, with the causes and answered questions removed: items in one connected part
    share a block, items in different parts are independent given the causes and the answers.
    """
    net = model.network
    cond = set(net.targets) | set(given) | set(net.observed)
    todo = [*items, *cond]
    ancestral: set[str] = set()
    while todo:
        v = todo.pop()
        if v not in ancestral:
            ancestral.add(v)
            todo.extend(net.parents[v])
    parent = {v: v for v in ancestral if v not in cond}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for v in ancestral:  # moralise: a node and its parents form one clique, minus the conditioning set
        family = [u for u in (v, *net.parents[v]) if u not in cond]
        for a, b in itertools.pairwise(family):
            parent[find(a)] = find(b)
    out: dict[str, list[str]] = {}
    for q in items:
        out.setdefault(find(q), []).append(q)
    return list(out.values())


def _outcomes(cards: Sequence[int]) -> NDArray[np.intp]:
    """Every joint answer of items with these answer counts: ``(Π cards, k)``, the first item slowest.

    Row 0 is every item at its first answer (a checklist's "none of these").
    """
    return np.indices(tuple(cards)).reshape(len(cards), -1).T


def _product_table(tables: Sequence[NDArray[np.float64]], spread: tuple[int, ...]) -> NDArray[np.float64]:
    """``out[o, d] = Π_B tables[B][o_B, d]`` over every joint outcome of the blocks (first block slowest).

    ``tables[B]`` is ``(outcomes of B, *shape_B)`` with ``shape_B`` broadcastable to ``spread``;
    the result is ``(outcomes, Π spread)``.
    """
    if not tables:
        return np.ones((1, math.prod(spread)))
    out = tables[0]
    for t in tables[1:]:
        both = out[:, None] * t[None]
        out = both.reshape(-1, *both.shape[2:])
    return np.broadcast_to(out, (out.shape[0], *spread)).reshape(out.shape[0], -1)


def _mixture(tables: Sequence[NDArray[np.float64]], weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """``out[w, o] = Σ_d weights[w, d] Π_B tables[B][o_B, d]`` for every joint outcome ``o`` of the blocks.

    ``tables[B]`` is ``P(o_B | d)``, ``(outcomes of block B, *shape_B)``, the ``shape_B``
    broadcasting to one shape of ``m`` cells (``d`` flattened); ``weights`` is ``(w, m)``. The
    blocks are cut into two runs of about equal outcome counts ``N_L·N_R = N``; each run's product
    table is built over ``d`` and the two are contracted by one matrix product per weight row:
    ``(N_L + N_R)·m`` products and one BLAS call of ``N·m`` multiply-adds, not ``N·m`` Python-side
    products per block. Outcomes are in mixed radix, the first block slowest.
    """
    return _combine(*_halves(tables), weights)


def _halves(tables: Sequence[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The product tables of the two runs of blocks that :func:`_mixture` contracts: ``(N_L, m)``, ``(N_R, m)``."""
    spread = np.broadcast_shapes(*(t.shape[1:] for t in tables))
    sizes = [t.shape[0] for t in tables]
    total = math.prod(sizes)
    cut = min(range(len(sizes) + 1), key=lambda c: math.prod(sizes[:c]) + total // max(1, math.prod(sizes[:c])))
    return _product_table(tables[:cut], spread), _product_table(tables[cut:], spread)


def _combine(
    left: NDArray[np.float64], right: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``out[w, (l, r)] = Σ_d weights[w, d] left[l, d] right[r, d]``: ``(w, N_L·N_R)``."""
    stacked = (weights[:, None, :] * left[None, :, :]).reshape(-1, left.shape[1])  # (w·N_L, m)
    return _contract(stacked, right).reshape(weights.shape[0], -1)


def _contract(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``a @ b.T``; :func:`_group_gains` runs it on one BLAS thread.

    A multi-threaded BLAS call this small costs more in thread wake-ups than it computes (20 ms
    instead of 0.1 ms for ``27 x 2048 @ 2048 x 27`` on a busy two-core machine), so the calling
    thread does them alone (threadpoolctl, once per ranking; the previous limit is restored after).
    """
    return a @ b.T


@functools.cache
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency of the package
        return None
    return ThreadpoolController()


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _group_gains(
    model: Model,
    norm: Mapping[str, Any],
    groups: Sequence[tuple[str, Sequence[str]]],
    criterion: str,
    target: str | None,
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """Exact expected gain of each group over all ``Π_j |Q_j|`` joint answers of its open items.

    With the causes' joint at hand (criteria joint, marginal, decision), the items are split into
    blocks independent given the causes and the answers (:func:`_blocks`): one batched query
    gives ``P(T, o_B | e)`` for every outcome ``o_B`` of every block (``Σ_B Π_{j∈B} |Q_j|`` rows,
    not ``Π_j |Q_j|``), and the outcome distribution is their product over blocks given ``T``:
    ``P(T, o | e) = P(T | e) Π_B P(o_B | T, e)``, summed over ``T`` by :func:`_mixture`.
    Otherwise every joint outcome is one row. Each group's entry in the second list is
    ``P(o | e)`` over its outcomes; outcome 0 is every item at its first answer.
    """
    binary, local = _shape_of(model.network)
    if target is None and model.engine.has_joint and binary:
        with _one_blas_thread():
            if local:
                return _group_gains_local(model, norm, groups, criterion)
            return _group_gains_by_blocks(model, norm, groups, criterion)
    return _group_gains_by_rows(model, norm, groups, criterion, target)


def _local_given_targets(net: Any) -> bool:
    """True when, given the targets, every question depends on at most one latent, itself a child of targets only.

    Then ``P(latent | T, e)`` is local (its own table times the likelihoods of the answered
    questions below it) and a checklist's outcome table given ``T`` follows from the tables alone,
    with no extra query: :func:`_group_gains_local`. Our YAML models with at most one facet per
    question are such networks.
    """
    targets = set(net.targets)
    asked = set(net.observables) | set(net.observed)
    has_children = {p for v in net.variables for p in net.parents[v]}
    for v in net.variables:
        ps = net.parents[v]
        if v in targets:
            if any(p not in targets for p in ps):
                return False
        elif v in asked:
            if v in has_children or any(p in asked for p in ps) or sum(p not in targets for p in ps) > 1:
                return False
        elif any(p not in targets for p in ps):
            return False
    return True


def _on_target_axes(net: Any, v: str, targets: Sequence[str]) -> NDArray[np.float64]:
    """``v``'s table with one leading axis per target (size 1 where ``v`` has no such parent).

    Then, if ``v`` has a non-target parent (at most one latent), that parent's axis; last ``v``'s.
    Tables in this form multiply by broadcasting, whatever targets each one mentions.
    """
    ps = list(net.parents[v])
    tset = set(targets)
    mine = [t for t in targets if t in ps]
    other = [p for p in ps if p not in tset]
    cpt = np.transpose(net.cpts[v], [ps.index(t) for t in mine] + [ps.index(p) for p in other] + [len(ps)])
    shape = [net.card(t) if t in ps else 1 for t in targets] + [net.card(p) for p in other] + [net.card(v)]
    return cpt.reshape(shape)


_LOCAL_TABLES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_SHAPES: weakref.WeakKeyDictionary[Any, tuple[bool, bool]] = weakref.WeakKeyDictionary()


def _shape_of(net: Any) -> tuple[bool, bool]:
    """(every target is binary, the network is local given the targets), once per network."""
    found = _SHAPES.get(net)
    if found is None:
        found = (all(net.card(t) == 2 for t in net.targets), _local_given_targets(net))
        _SHAPES[net] = found
    return found


def _local_tables(net: Any) -> dict[str, tuple[Any, ...]]:
    """Per variable of a network: its table on target axes, the same with its own axis first, its latent
    parent, and the entropy (bits) of its own axis (for a question with no latent: ``H(Q | T)``).

    Computed once per network (a network's tables do not change after it is built).
    """
    found = _LOCAL_TABLES.get(net)
    if found is None:
        targets = list(net.targets)
        tset = set(targets)
        found = {}
        for v in net.variables:
            if v in tset:
                continue
            t = _on_target_axes(net, v, targets)
            first = np.ascontiguousarray(np.moveaxis(t, -1, 0))
            found[v] = (t, first, next((p for p in net.parents[v] if p not in tset), None), _xlogx(first))
        _LOCAL_TABLES[net] = found
    return found


def _xlogx(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Entropy in bits over axis 0 (as :func:`entropy_bits`, in fewer array passes)."""
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -np.einsum("i...,i...->...", p, logs)


def _group_gains_local(
    model: Model, norm: Mapping[str, Any], groups: Sequence[tuple[str, Sequence[str]]], criterion: str
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """Group gains when the network is local given the targets (see :func:`_local_given_targets`).

    One query gives ``P(T | e)``. A block of items sharing a latent ``f`` has
    ``P(o_B | T, e) = Σ_f P(f | T, e) Π_q P(o_q | f, T)``, with ``P(f | T, e)`` its table times the
    likelihoods of the answered questions below it; an item with no latent has its own table.
    Each table is built over only the targets it mentions (one axis per target, size 1 where it
    mentions none: :func:`_on_target_axes`), so it costs a few small products; the group's tables
    are then spread over ``D``, the targets they mention, and summed over ``P(D | e)`` by
    :func:`_mixture` (``I(T; G | e) = I(D; G | e)``). Exact.
    """
    net = model.network
    targets = list(net.targets)
    cards = [net.card(t) for t in targets]
    ev = from_answers(net, norm, 1).likelihoods
    res = model.engine.query(ev, 1, marginals=[], joint=True)
    if not np.isfinite(res.log_evidence[0]):
        raise impossible_evidence(model.engine, norm)
    assert res.target_joint is not None
    joint = res.target_joint.reshape(cards)
    lik = {q: np.asarray(a[0], dtype=np.float64) for q, a in ev.items()}
    lik.update({q: np.eye(net.card(q))[net.states[q].index(a)] for q, a in net.observed.items()})
    local = _local_tables(net)
    latents: dict[str, NDArray[np.float64]] = {}

    def table(v: str) -> NDArray[np.float64]:
        return local[v][0]

    def latent(q: str) -> str | None:
        return local[q][2]

    below: dict[str, list[str]] = {}
    for q in lik:
        if (f := latent(q)) is not None:
            below.setdefault(f, []).append(q)

    def latent_given_targets(f: str) -> NDArray[np.float64]:
        """P(f | T, e) over the targets it mentions: its table times the answers below it, normalised."""
        if f not in latents:
            b = table(f)
            for q in below.get(f, ()):
                b = b * (table(q) @ lik[q])
            tot = b.sum(axis=-1, keepdims=True)
            latents[f] = b / np.where(tot > 0, tot, 1.0)  # a zero row stays zero
        return latents[f]

    plans = _static_plans(net)
    gains = np.zeros(len(groups))
    probs: list[NDArray[np.float64]] = []
    for _, items in groups:
        blocks: dict[str | None, list[str]] = {}
        for q in items:
            blocks.setdefault(latent(q), []).append(q)
        static = not any(f in below for f in blocks if f is not None)  # P(o | T, e) = P(o | T): no answer below
        key = tuple(items)
        plan = plans.get(key) if static else None
        if plan is None:
            plan = _plan(blocks, local, latent_given_targets, targets)
            if static:
                if len(plans) >= _MAX_PLANS:  # bounded: forget them all, they are rebuilt as needed
                    plans.clear()
                plans[key] = plan
        d, rest, left, right, h_given_d = plan
        position = {t: i for i, t in enumerate(d)}
        p_d = joint.sum(axis=rest).reshape(-1)
        if criterion == "joint":
            p_o = _combine(left, right, p_d[None, :])[0]
            gains[len(probs)] = max(0.0, float(entropy_bits(p_o) - p_d @ np.where(p_d > 0, h_given_d, 0.0)))
        else:
            states = np.indices([net.card(t) for t in d]).reshape(len(d), -1) if d else np.zeros((0, 1), np.intp)
            weights = np.empty((1 + len(targets), p_d.size))  # P(D | e), then P(T_i present, D | e)
            weights[0] = p_d
            for i, t in enumerate(targets):
                k = list(model._info[t].counted_states)
                if t in position:
                    weights[1 + i] = np.where(np.isin(states[position[t]], k), p_d, 0.0)
                else:
                    keep = tuple(j for j in rest if j != i)
                    ax = _axis_of(i, targets, position)
                    weights[1 + i] = np.take(joint.sum(axis=keep), k, axis=ax).sum(axis=ax).reshape(-1)
            out = _combine(left, right, weights)
            p_o = out[0]
            gains[len(probs)] = _cause_gain(p_o, out[1:].T, weights[1:].sum(axis=1), criterion)
        probs.append(p_o)
    return gains, probs


_MAX_PLANS = 512
_PLANS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Any]] = weakref.WeakKeyDictionary()


def _static_plans(net: Any) -> dict[tuple[str, ...], Any]:
    """Per network: the plans of groups whose outcome tables do not depend on the answers, by open items."""
    found = _PLANS.get(net)
    if found is None:
        found = {}
        _PLANS[net] = found
    return found


def _plan(
    blocks: Mapping[str | None, Sequence[str]],
    local: Mapping[str, tuple[Any, ...]],
    latent_given_targets: Callable[[str], NDArray[np.float64]],
    targets: Sequence[str],
) -> tuple[list[str], tuple[int, ...], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """A group's outcome tables given ``D``, the targets they mention: ``(D, the other target axes, the two
    product tables of :func:`_halves`, H(O | D, e) over D)``. Everything but ``P(D | e)``."""
    parts: list[NDArray[np.float64]] = []  # P(o_B | T, e): (outcomes of B, one axis per target)
    h_parts: list[NDArray[np.float64]] = []  # H(O_B | T, e) in bits, on target axes
    for f, block in blocks.items():
        if f is None:
            parts.extend(local[q][1] for q in block)
            h_parts.extend(local[q][3] for q in block)
            continue
        a = latent_given_targets(f)[None]  # (outcomes so far, target axes..., card f)
        for q in block:
            tab = local[q][1]  # (card q, target axes..., card f)
            a = a[:, None] * tab[None]
            a = a.reshape(-1, *a.shape[2:])
        parts.append(a.sum(axis=-1))
        h_parts.append(_xlogx(parts[-1]))
    spread = np.broadcast_shapes(*(t.shape[1:] for t in parts))
    d = [t for t, n in zip(targets, spread, strict=True) if n > 1]
    rest = tuple(i for i, n in enumerate(spread) if n == 1)
    h_given_d = np.broadcast_to(sum(h_parts), spread).reshape(-1)
    left, right = _halves(parts)
    return d, rest, left, right, h_given_d


def _axis_of(i: int, targets: Sequence[str], position: Mapping[str, int]) -> int:
    """Axis of target ``i`` in the joint summed down to ``D`` and ``i`` (axes in target order)."""
    kept = [j for j, t in enumerate(targets) if t in position or j == i]
    return kept.index(i)


def _group_gains_by_blocks(
    model: Model, norm: Mapping[str, Any], groups: Sequence[tuple[str, Sequence[str]]], criterion: str
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    net = model.network
    split = [_blocks(model, norm, items) for _, items in groups]
    rows = 1 + sum(math.prod(net.card(q) for q in b) for blocks in split for b in blocks)
    lik: dict[str, np.ndarray] = dict(from_answers(net, norm, rows).likelihoods)
    spans: list[list[tuple[int, int]]] = []
    start = 1
    for blocks in split:
        spans.append([])
        for block in blocks:
            cards = [net.card(q) for q in block]
            picked = _outcomes(cards)
            n = len(picked)
            for j, q in enumerate(block):
                if q not in lik:
                    lik[q] = np.ones((rows, net.card(q)))
                lik[q][start : start + n] = np.eye(cards[j])[picked[:, j]]
            spans[-1].append((start, start + n))
            start += n
    res = model.engine.query(lik, rows, marginals=[], joint=True)
    assert res.target_joint is not None
    joint = res.target_joint.reshape(rows, -1)
    p0 = joint[0]
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.exp(res.log_evidence - res.log_evidence[0])
    scale = np.where(np.isfinite(scale), scale, 0.0)
    live = p0 > 0
    present = _present_matrix(model) if criterion != "joint" else None
    gains = np.zeros(len(groups))
    probs: list[NDArray[np.float64]] = []
    p_live = p0[live]
    weights = p_live[None, :] if present is None else np.vstack([p_live, (present[live] * p_live[:, None]).T])
    for block_spans in spans:
        tables = []  # P(o_B | T = t, e) per block, over the states t of positive probability
        h_given_t = np.zeros_like(p_live)  # H(O | T = t, e), summed over blocks
        for s, t in block_spans:
            f = scale[s:t, None] * joint[s:t][:, live] / p_live
            h_given_t += entropy_bits(f, axis=0)
            tables.append(f)
        out = _mixture(tables, weights)
        p_o = out[0]
        if present is None:
            gains[len(probs)] = max(0.0, float(entropy_bits(p_o) - p_live @ h_given_t))
        else:
            gains[len(probs)] = _cause_gain(p_o, out[1:].T, weights[1:].sum(axis=1), criterion)
        probs.append(p_o)
    return gains, probs


def _present_matrix(model: Model) -> NDArray[np.float64]:
    """``(|T|, causes)``: 1 where a state of the causes' joint has that cause present."""
    cards = [model.network.card(c) for c in model.network.targets]
    states = np.indices(cards).reshape(len(cards), -1)
    infos = [model._info[c] for c in model.network.targets]
    return np.column_stack([np.isin(states[i], info.counted_states) for i, info in enumerate(infos)]).astype(np.float64)


def _cause_gain(
    p_o: NDArray[np.float64], both: NDArray[np.float64], before: NDArray[np.float64], criterion: str
) -> float:
    """A checklist's marginal or decision gain from P(o | e), P(T_i present, o | e) and P(T_i present | e)."""
    cond = np.divide(both, p_o[:, None], out=np.zeros_like(both), where=p_o[:, None] > 0)
    u0 = _cause_uncertainty(before[None, :], criterion)[0]
    return max(0.0, float(u0 - p_o @ _cause_uncertainty(cond, criterion)))


def _cause_uncertainty(p: NDArray[np.float64], criterion: str) -> NDArray[np.float64]:
    """Per row of P(cause present): the sum of binary entropies (marginal) or of min(p, 1 − p) (decision)."""
    if criterion == "decision":
        return np.minimum(p, 1.0 - p).sum(axis=1)
    return (entropy_bits(np.stack([p, 1.0 - p], axis=-1), axis=-1)).sum(axis=1)


def _group_gains_by_rows(
    model: Model,
    norm: Mapping[str, Any],
    groups: Sequence[tuple[str, Sequence[str]]],
    criterion: str,
    target: str | None,
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """Exact expected gain of each group over all ``Π_j |Q_j|`` joint answers of its open items.

    Row 0 is ``e``; then one row per joint outcome of each group (:func:`_outcomes`; outcome 0:
    every item at its first answer). One batched query.
    """
    net = model.network
    rows = 1 + sum(math.prod(net.card(q) for q in items) for _, items in groups)
    lik: dict[str, np.ndarray] = dict(from_answers(net, norm, rows).likelihoods)
    spans = []
    start = 1
    for _, items in groups:
        cards = [net.card(q) for q in items]
        picked = _outcomes(cards)
        n = len(picked)
        for j, q in enumerate(items):
            if q not in lik:
                lik[q] = np.ones((rows, net.card(q)))
            lik[q][start : start + n] = np.eye(cards[j])[picked[:, j]]
        spans.append((start, start + n))
        start += n
    log_z, h = _uncertainty(model, lik, rows, criterion, target)
    return _gains(log_z, h, spans)


def rank_questions(
    model: Model,
    answers: Mapping[str, Any] | None = None,
    *,
    criterion: Criterion = "joint",
    target: str | None = None,
    costs: bool = True,
    lookahead: int = 1,
    groups: bool = True,
    exclude: Collection[str] = (),
) -> QuestionRanking:
    """Rank every question by expected information gain about the causes (bits).

    Parameters
    ----------
    answers
        Answers so far (as for :meth:`Model.posterior`).
    criterion
        ``'joint'``: I(T; Q | e) for T the joint of all causes (falls back to ``'marginal'``
        when the joint is too large for the network); ``'marginal'``: Σ_i I(T_i; Q | e);
        ``'decision'``: expected wrong present/absent calls avoided (ties broken by ``'joint'``).
    target
        Rank by the information about this one variable instead.
    costs
        Order by gain per unit of cost (questions' ``cost``; 1 for plain networks).
    lookahead
        1 (myopic) or 2 (best expected two-question sequence starting with each question;
        checklists are then not ranked).
    groups
        Rank the model's checklists too (exactly, over the joint of their open items).
    exclude
        Questions and checklists asked without an answer (unsure, skipped): a checklist's
        excluded items are left out of it.

    Raises
    ------
    UnknownQuestionError, InvalidAnswerError, ImpossibleEvidenceError
    """
    if lookahead not in (1, 2):
        raise ValueError(f"lookahead must be 1 or 2, got {lookahead!r}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(map(repr, CRITERIA))}, got {criterion!r}")
    net = model.network
    if target is not None:
        net.check_variable(
            target,
            "target variable",
            [*net.targets, *net.reported, *(v for v in net.variables if v not in net.observables)],
        )
    if criterion == "joint" and not model.engine.has_joint:
        criterion = "marginal"
    tie_break = criterion == "decision" and target is None and lookahead == 1
    norm = normalise_answers(net, answers)
    candidates = [q for q in model.questions if q not in norm]
    fast = _fast_joint(model, criterion, target, candidates)
    if fast and lookahead == 1:
        ev = from_answers(net, norm)
        g, h0, pr, log_e = model.engine.joint_gains(ev.likelihoods, 1, candidates)
        if not np.isfinite(log_e[0]):
            raise impossible_evidence(model.engine, norm)
        gains, probs = g[0], [x[0] for x in pr]
        h = np.array([h0[0]])
    else:
        lik, rows, spans = _candidate_rows(model, norm, candidates)
        log_z, h = _uncertainty(model, lik, rows, criterion, target)
        if not np.isfinite(log_z[0]):
            raise impossible_evidence(model.engine, norm)
        gains, probs = _gains(log_z, h, spans)
    if lookahead == 2 and candidates:
        gains = _lookahead_gains(model, norm, candidates, spans, log_z, h, probs, criterion, target, costs)
    ranking = _assemble(model, norm, candidates, gains, probs, float(h[0]), criterion, target, costs, lookahead)
    if groups and lookahead == 1 and model.groups:
        done = set(norm) | set(exclude)
        ranking = _with_groups(model, ranking, norm, open_groups(model, done), criterion, target)
    if tie_break:
        joint = rank_questions(model, norm, criterion="joint", costs=costs, groups=groups, exclude=exclude)
        ranking = dataclasses.replace(ranking, tie_break=joint.gain_bits)
    return ranking


def _with_groups(
    model: Model,
    ranking: QuestionRanking,
    norm: Mapping[str, Any],
    groups: Sequence[tuple[str, Sequence[str]]],
    criterion: str,
    target: str | None,
) -> QuestionRanking:
    """Append every checklist (open or not) to a ranking of the questions."""
    gains: dict[str, float] = {}
    probs: dict[str, float] = {}
    if groups:
        g, p = _group_gains(model, norm, groups, criterion, target)
        for (gid, _), gain, pr in zip(groups, g, p, strict=True):
            gains[gid] = float(gain)
            probs[gid] = float(pr[0])
    ids = tuple(model.groups)
    cost = np.array([model.cost(g) for g in ids]) if ranking.by_cost else np.ones(len(ids))
    return dataclasses.replace(
        ranking,
        questions=ranking.questions + ids,
        texts=ranking.texts + tuple(model.groups[g].text for g in ids),
        labels=ranking.labels + tuple(model.question_label(g) for g in ids),
        gain_bits=np.concatenate([ranking.gain_bits, [gains.get(g, 0.0) for g in ids]]),
        costs=np.concatenate([ranking.costs, cost]),
        answer_probabilities=ranking.answer_probabilities
        + tuple({"none": probs[g]} if g in probs else {} for g in ids),
        answered=ranking.answered + tuple(g not in gains for g in ids),
        kinds=("question",) * len(ranking.questions) + ("group",) * len(ids),
    )


def _assemble(
    model: Model,
    norm: Mapping[str, Any],
    candidates: Sequence[str],
    gains: NDArray[np.float64],
    probs: Sequence[NDArray[np.float64]],
    entropy: float,
    criterion: str,
    target: str | None,
    costs: bool,
    lookahead: int,
) -> QuestionRanking:
    net = model.network
    all_q = model.questions
    cost = model.question_costs
    gain_all = np.zeros(len(all_q))
    prob_all: list[dict[str, float]] = []
    cand_index = {q: i for i, q in enumerate(candidates)}
    for j, q in enumerate(all_q):
        states = net.states[q]
        if q in cand_index:
            i = cand_index[q]
            gain_all[j] = gains[i]
            prob_all.append({s: float(x) for s, x in zip(states, probs[i], strict=True)})
        else:
            a = norm[q]
            if isinstance(a, str):
                prob_all.append({s: float(s == a) for s in states})
            else:  # a soft answer: the normalised likelihoods
                tot = float(sum(a))
                prob_all.append({s: float(x) / tot for s, x in zip(states, a, strict=True)})
    return QuestionRanking(
        questions=tuple(all_q),
        texts=model.question_texts,
        gain_bits=gain_all,
        costs=cost if costs else np.ones(len(all_q)),
        answer_probabilities=tuple(prob_all),
        answered=tuple(q in norm for q in all_q),
        entropy_bits=entropy,
        criterion=f"target={target}" if target else criterion,
        by_cost=costs,
        lookahead=lookahead,
        disclaimer=model.disclaimer,
        labels=tuple(model.question_label(q) for q in all_q),
    )


def _lookahead_gains(
    model: Model,
    norm: Mapping[str, Any],
    candidates: Sequence[str],
    spans: Sequence[tuple[int, int]],
    log_z: NDArray[np.float64],
    h: NDArray[np.float64],
    probs: Sequence[NDArray[np.float64]],
    criterion: str,
    target: str | None,
    costs: bool,
) -> NDArray[np.float64]:
    """Expected information of the best adaptive two-question sequence starting with each candidate.

    ``value(Q1) = I(T; Q1 | e) + Σ_a P(Q1 = a | e) · I(T; Q2*(a) | e, Q1 = a)`` where ``Q2*(a)`` is
    the best second question after that answer (by gain, or by gain per cost with ``costs``).
    Every (Q1, a, Q2, b) row is built at once and evaluated in chunks of one batched query each.
    """
    net = model.network
    sizes = [net.card(q) for q in candidates]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    blocks = [(i, k) for i in range(len(candidates)) for k in range(sizes[i]) if probs[i][k] > 0]
    block_len = [1 + total - sizes[i] for i, _ in blocks]
    starts = np.concatenate([[0], np.cumsum(block_len)]).astype(int)
    rows = int(starts[-1])
    lik: dict[str, np.ndarray] = dict(from_answers(net, norm, rows).likelihoods)
    for j, q in enumerate(candidates):
        arr = np.ones((rows, sizes[j]))
        for b, (i, k) in enumerate(blocks):
            o = starts[b]
            if i == j:
                arr[o : o + block_len[b], :] = 0.0
                arr[o : o + block_len[b], k] = 1.0
            else:
                pos = o + 1 + offsets[j] - (sizes[i] if j > i else 0)
                arr[pos : pos + sizes[j]] = np.eye(sizes[j])
        lik[q] = arr
    lz = np.empty(rows)
    hh = np.empty(rows)
    for c0 in range(0, rows, _LOOKAHEAD_CHUNK):
        c1 = min(rows, c0 + _LOOKAHEAD_CHUNK)
        lz[c0:c1], hh[c0:c1] = _uncertainty(model, {q: v[c0:c1] for q, v in lik.items()}, c1 - c0, criterion, target)
    cost = np.array([model.cost(q) for q in candidates])
    second = np.zeros(len(candidates))
    for b, (i, k) in enumerate(blocks):
        o = starts[b]
        rest = [j for j in range(len(candidates)) if j != i]
        sub_spans = []
        for j in rest:
            pos = o + 1 + offsets[j] - (sizes[i] if j > i else 0)
            sub_spans.append((int(pos), int(pos + sizes[j])))
        if not sub_spans:
            continue
        g2, _ = _gains(lz, hh, sub_spans, base=int(o))
        pick = int(np.argmax(g2 / cost[rest])) if costs else int(np.argmax(g2))
        second[i] += probs[i][k] * g2[pick]
    first = np.array(
        [max(0.0, float(h[0] - probs[i] @ np.where(probs[i] > 0, h[s:t], 0.0))) for i, (s, t) in enumerate(spans)]
    )
    return first + second


def next_screen(model: Model, done: Collection[str]) -> str | None:
    """Return the first screen (question or checklist) not yet asked, or None."""
    for name in model.screens:
        if name in done:
            continue
        if name in model.groups and all(q in done for q in model.groups[name].items):
            continue
        return name
    return None


def next_question(
    model: Model,
    answers: Mapping[str, Any] | None = None,
    *,
    stop: StopRule | None = None,
    asked: int | None = None,
    exclude: Collection[str] = (),
    **kwargs: Any,
) -> StopDecision:
    """Return the next question or checklist, or ``question=None`` with the reason the stop rule fired.

    Unanswered screens come first, in their order. ``asked`` is the number of steps so far
    (default: the number of answers); ``exclude`` lists what was asked without an answer.
    """
    rule = stop or StopRule()
    norm = normalise_answers(model.network, answers)
    n_asked = len(norm) if asked is None else asked
    done = set(norm) | set(exclude)
    return decide_stop(
        rule,
        lambda: model.posterior(norm),
        lambda: rank_questions(model, norm, exclude=exclude, **kwargs),
        n_asked=n_asked,
        exclude=done,
        screen=next_screen(model, done),
        causes=model.causes,
    )


def decide_stop(
    rule: StopRule,
    posterior: Callable[[], Any],
    ranking: Callable[[], QuestionRanking],
    *,
    n_asked: int,
    exclude: Collection[str] = (),
    screen: str | None = None,
    causes: Sequence[str] | None = None,
) -> StopDecision:
    """Apply ``rule`` in its documented order; the posterior and ranking are computed only if needed.

    ``screen`` (the next unanswered screen) is returned before the rule is looked at.
    ``exclude`` lists what was already asked without an answer (unsure or skipped): it is not
    asked again. ``causes`` are the variables that must be decided (default: all reported).
    """
    if screen is not None:
        return StopDecision(screen, None, screen=True)
    if rule.max_questions is not None and n_asked >= rule.max_questions:
        return StopDecision(None, f"the question budget ({rule.max_questions}) is used up", code="budget")
    probs = posterior().probabilities
    if causes is not None:
        probs = probs[list(causes)]
    if len(probs) and bool(((probs <= rule.decided_low) | (probs >= rule.decided_high)).all()):
        return StopDecision(
            None,
            f"every cause is now either likely (at least {rule.decided_high:.0%}) "
            f"or unlikely (at most {rule.decided_low:.0%})",
            code="decided",
        )
    ranked = ranking()
    best = ranked.best_excluding(exclude)
    if best is None:
        return StopDecision(None, "every question has been asked", ranked, code="exhausted")
    gain = float(ranked.gain_bits[ranked.questions.index(best)])
    if gain < rule.min_gain_bits:
        return StopDecision(None, "no question left is likely to change the picture much", ranked, code="no_gain")
    return StopDecision(best, None, ranked)


def batch_gains_from_evidence(model: Model, evidence: Evidence, *, criterion: str = "joint") -> NDArray[np.float64]:
    """Expected gain (bits) of every question for every evidence row: an array ``(rows, questions)``.

    Each row is expanded into ``1 + Σ_Q |Q|`` rows (its evidence, then the same evidence with
    each answer of each question) and the expanded rows go through the engine in chunks: no
    Python loop over rows. Gains of questions a row already answered are meaningless there
    (the caller masks them). Same definition as :func:`rank_questions` (without costs).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(map(repr, CRITERIA))}, got {criterion!r}")
    uncertainty = None
    if criterion == "decision" and model.engine.has_joint:  # (without the joint, decision ranks as marginal)

        def uncertainty(marginals: Mapping[str, np.ndarray]) -> np.ndarray:
            ps = [model._info[c].p(marginals[c]) for c in model.causes]
            return np.asarray(sum(np.minimum(p, 1.0 - p) for p in ps), dtype=np.float64)

    engine_criterion = "marginal" if criterion == "marginal" else "joint"
    return model.engine.expected_gains(
        evidence.likelihoods, evidence.rows, model.questions, criterion=engine_criterion, uncertainty=uncertainty
    )
