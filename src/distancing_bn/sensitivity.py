"""Which numbers matter: one-way parameter sensitivity and the stability of the next question.

Every number of a distancing-bn model (a cause's prior, a link between causes, a facet's
probabilities, a question's leak and link strengths, a cell of an explicit table) enters every
conditional table *linearly* when it alone changes (the leaky noisy-OR / noisy-MAX tables are
products of per-parent distribution functions, each linear in its own numbers). So ``P(e)`` and
``P(cause, e)`` are both linear in any one parameter ``t`` and a posterior is the ratio
``(a + b t) / (c + d t)``: two exact evaluations of the model (at the value and at one other
value) fix it everywhere. The derivative and the posterior at both ends of an interval come
from that ratio, not from finite differences (the tests check them against rebuilt models).

A parameter of a vector (a leak or a link strength over the answers ``1 .. K-1`` of a
question, or a table row) is changed as the model file would change it: for a leak or a link
the first answer takes up the difference; in a table row the other cells are rescaled so the
row still sums to 1.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import DataError, ModelValidationError, Problem
from .spec import CAUSE_STATES, ModelSpec

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .model import Model

__all__ = [
    "Parameter",
    "QuestionStability",
    "SensitivityResult",
    "parameters",
    "perturbed_specs",
    "question_stability",
    "sensitivity",
    "with_value",
]

Kind = Literal["prior", "cause_link", "facet", "leak", "strength", "table"]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One number of a model file, with where it lives and the values it may take.

    ``key`` locates it: ``(cause,)`` for a prior; ``(source, target)`` for a link between
    causes; ``(facet, 'p_present' | 'p_absent')``; ``(question, answer)`` for a leak;
    ``(question, parent, answer)`` for a link strength; ``(question, parent states, answer)``
    for a table cell. ``low`` and ``high`` bound the values that keep the tables valid.
    """

    id: str
    kind: Kind
    key: tuple[str, ...]
    value: float
    low: float
    high: float

    @property
    def question(self) -> str | None:
        """The question this number belongs to (None for causes, links and facets)."""
        return self.key[0] if self.kind in ("leak", "strength", "table") else None


def _levels(q: Any, values: Sequence[float]) -> list[tuple[str, float, float]]:
    """(answer, value, upper bound) for the free levels of a leak/strength vector."""
    rest = 1.0 - float(sum(values))
    return [(a, float(v), float(v) + max(rest, 0.0)) for a, v in zip(q.answers[1:], values, strict=True)]


def parameters(spec: ModelSpec) -> tuple[Parameter, ...]:
    """Return every number of ``spec`` as a :class:`Parameter`, in file order."""
    out: list[Parameter] = []
    for c in spec.causes:
        out.append(Parameter(f"prior {c.id}", "prior", (c.id,), c.prior, 0.0, 1.0))
        for f in c.facets:
            out.append(Parameter(f"facet {f.id} p_present", "facet", (f.id, "p_present"), f.p_present, 0.0, 1.0))
            out.append(Parameter(f"facet {f.id} p_absent", "facet", (f.id, "p_absent"), f.p_absent, 0.0, 1.0))
    for lk in spec.links:
        out.append(
            Parameter(f"link {lk.source} -> {lk.target}", "cause_link", (lk.source, lk.target), lk.strength, 0.0, 1.0)
        )
    for q in spec.questions:
        if q.table is not None:
            configs = list(itertools.product(CAUSE_STATES, repeat=len(q.table.parents)))
            for cfg, row in zip(configs, q.table.rows, strict=True):
                for a, v in zip(q.answers[1:], row[1:], strict=True):
                    where = " ".join(cfg) or "-"
                    out.append(Parameter(f"table {q.id} [{where}] {a}", "table", (q.id, where, a), float(v), 0.0, 1.0))
            continue
        for a, v, hi in _levels(q, q.leak or ()):
            out.append(Parameter(f"leak {q.id} {a}", "leak", (q.id, a), v, 0.0, hi))
        for lk in q.links:
            for a, v, hi in _levels(q, lk.strength):
                out.append(
                    Parameter(f"strength {q.id} <- {lk.parent} {a}", "strength", (q.id, lk.parent, a), v, 0.0, hi)
                )
    return tuple(out)


def _set_level(values: Sequence[float], index: int, value: float) -> tuple[float, ...]:
    new = list(values)
    new[index] = value
    return tuple(new)


def _set_row(row: Sequence[float], index: int, value: float) -> tuple[float, ...]:
    """Set cell ``index`` of a table row and rescale the others so the row sums to 1."""
    others = [v for i, v in enumerate(row) if i != index]
    total = float(sum(others))
    # when the cell held the whole row, the rest is spread evenly
    new = [v * (1.0 - value) / total for v in row] if total > 0 else [(1.0 - value) / (len(row) - 1)] * len(row)
    new[index] = value
    return tuple(new)


def with_value(spec: ModelSpec, param: Parameter, value: float) -> ModelSpec:
    """Return a copy of ``spec`` with one number changed (others as the file would keep them).

    Raises
    ------
    ModelValidationError
        ``value`` lies outside ``[param.low, param.high]`` (the tables would not be valid).
    """
    if not (param.low - 1e-12 <= value <= param.high + 1e-12):
        raise ModelValidationError(
            [Problem(f"{param.id}: {str(value)[:40]} is outside its valid range [{param.low:g}, {param.high:g}]")]
        )
    value = float(min(max(value, param.low), param.high))
    rep = dataclasses.replace
    if param.kind in ("prior", "facet"):
        causes = []
        for c in spec.causes:
            if param.kind == "prior" and c.id == param.key[0]:
                c = rep(c, prior=value)
            elif param.kind == "facet" and any(f.id == param.key[0] for f in c.facets):
                c = rep(
                    c, facets=tuple(rep(f, **{param.key[1]: value}) if f.id == param.key[0] else f for f in c.facets)
                )
            causes.append(c)
        return rep(spec, causes=tuple(causes))
    if param.kind == "cause_link":
        links = tuple(rep(lk, strength=value) if (lk.source, lk.target) == param.key else lk for lk in spec.links)
        return rep(spec, links=links)
    questions = []
    for q in spec.questions:
        if q.id == param.key[0]:
            i = q.answers.index(param.key[-1])
            if param.kind == "leak":
                q = rep(q, leak=_set_level(q.leak or (), i - 1, value))
            elif param.kind == "strength":
                q = rep(
                    q,
                    links=tuple(
                        rep(lk, strength=_set_level(lk.strength, i - 1, value)) if lk.parent == param.key[1] else lk
                        for lk in q.links
                    ),
                )
            else:
                assert q.table is not None
                configs = [" ".join(c) or "-" for c in itertools.product(CAUSE_STATES, repeat=len(q.table.parents))]
                r = configs.index(param.key[1])
                rows = list(q.table.rows)
                rows[r] = _set_row(rows[r], i, value)
                q = rep(q, table=rep(q.table, rows=tuple(rows)))
        questions.append(q)
    return rep(spec, questions=tuple(questions))


def _require_spec(model: Model) -> ModelSpec:
    if model.spec is None:
        raise DataError(
            "sensitivity needs a distancing-bn YAML model (its numbers are read from the spec); "
            "this model was loaded from a network file"
        )
    return model.spec


def _cause_posteriors(model: Model, answers: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    from .evidence import from_answers, normalise_answers

    norm = normalise_answers(model.network, answers)
    res = model.engine.query(from_answers(model.network, norm).likelihoods, 1, marginals=list(model.causes))
    p = np.array([model._info[c].p(res.marginals[c][0]) for c in model.causes])
    return p, float(res.log_evidence[0])


@dataclass(frozen=True)
class SensitivityResult:
    """One-way sensitivity of every cause's posterior to every parameter.

    ``frame`` has one row per (parameter, cause): ``parameter, kind, value, low, high, cause,
    label, posterior, derivative, p_low, p_high, swing`` (``swing = |p_high - p_low|``), ranked
    by swing within each cause. ``low``/``high`` are the ends of the interval the parameter
    moved across (its value ± ``spread``, cut to the values that keep the tables valid).
    ``p_low``/``p_high`` are NaN where the answers would be impossible at that end.
    """

    frame: pd.DataFrame
    spread: float
    answers: dict[str, Any] = field(repr=False)

    def top(self, cause: str, n: int = 10) -> pd.DataFrame:
        """The ``n`` parameters that move ``cause``'s posterior most."""
        f = self.frame[self.frame["cause"] == cause]
        if f.empty:
            raise DataError(f"unknown cause '{cause[:40]}'; causes: {', '.join(self.frame['cause'].unique())}")
        return f.head(n).reset_index(drop=True)

    def ranking(self) -> pd.DataFrame:
        """Parameters ranked by their largest swing over all causes."""
        g = self.frame.groupby("parameter", sort=False)["swing"].max().sort_values(ascending=False, kind="stable")
        return g.rename("max_swing").reset_index()

    def plot(self, cause: str, *, n: int = 12, ax: Axes | None = None) -> Axes:
        """Tornado plot of the ``n`` parameters that move ``cause`` most (see :func:`plots.plot_tornado`)."""
        from .plots import plot_tornado

        return plot_tornado(self, cause, n=n, ax=ax)


def sensitivity(
    model: Model,
    answers: Mapping[str, Any] | None = None,
    *,
    spread: float = 0.1,
    kinds: Sequence[str] | None = None,
) -> SensitivityResult:
    """Return the one-way sensitivity of each cause's posterior to every number of the model.

    Parameters
    ----------
    answers
        As for :meth:`Model.posterior`.
    spread
        Each parameter moves across ``[value - spread, value + spread]`` cut to its valid range.
    kinds
        Only these kinds of parameter (``prior, cause_link, facet, leak, strength, table``).

    Raises
    ------
    DataError
        A model without a spec, or ``spread`` not in (0, 1].
    UnknownQuestionError, InvalidAnswerError, ImpossibleEvidenceError
        Bad answers, as for :meth:`Model.posterior`.
    """
    import pandas as pd

    from .model import Model as _Model

    spec = _require_spec(model)
    if not (isinstance(spread, (int, float)) and 0 < spread <= 1):
        raise DataError(f"spread must be a number in (0, 1], got {str(spread)[:40]!r}")
    answers = dict(answers or {})
    model.posterior(answers)  # typed errors for bad answers before any work
    p0, le0 = _cause_posteriors(model, answers)
    rows: list[dict[str, Any]] = []
    for prm in parameters(spec):
        if kinds is not None and prm.kind not in kinds:
            continue
        if prm.high - prm.low <= 0:
            continue
        lo, hi = max(prm.low, prm.value - spread), min(prm.high, prm.value + spread)
        other = hi if hi - prm.value >= prm.value - lo else lo
        step = other - prm.value
        alt = _Model.from_spec(with_value(spec, prm, other), memory_budget=None)
        p1, le1 = _cause_posteriors(alt, answers)
        if not np.isfinite(le1):  # the answers are impossible at the other value: P(cause, e) = P(e) = 0 there
            p1, le1 = np.zeros_like(p0), -np.inf
        r = np.exp(le1 - le0)  # P(e | other) / P(e | value)
        b = (p1 * r - p0) / step  # d P(cause, e) / dt, in units of P(e | value)
        d = (r - 1.0) / step  # d P(e) / dt, same units
        deriv = b - p0 * d
        deriv = np.where(np.abs(deriv) < 1e-12, 0.0, deriv)  # rounding noise of an exact zero

        def at(t: float, b: np.ndarray = b, d: float = d, t0: float = prm.value) -> np.ndarray:
            den = 1.0 + d * (t - t0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 1e-300, (p0 + b * (t - t0)) / den, np.nan)

        plo, phi = at(lo), at(hi)
        for j, c in enumerate(model.causes):
            rows.append(
                {
                    "parameter": prm.id,
                    "kind": prm.kind,
                    "value": prm.value,
                    "low": lo,
                    "high": hi,
                    "cause": c,
                    "label": model.label(c),
                    "posterior": float(p0[j]),
                    "derivative": float(deriv[j]),
                    "p_low": float(np.clip(plo[j], 0, 1)),
                    "p_high": float(np.clip(phi[j], 0, 1)),
                }
            )
    frame = pd.DataFrame(rows)
    frame["swing"] = (frame["p_high"] - frame["p_low"]).abs()
    frame.loc[frame["swing"] < 1e-12, "swing"] = 0.0
    order = {c: i for i, c in enumerate(model.causes)}
    frame = (
        frame.assign(_c=frame["cause"].map(order))
        .sort_values(["_c", "swing"], ascending=[True, False], kind="stable")
        .drop(columns="_c")
        .reset_index(drop=True)
    )
    return SensitivityResult(frame=frame, spread=float(spread), answers=answers)


# ----------------------------------------------------------------------------- stability
def _resample(value: float, high: float, rng: np.random.Generator, c: float) -> float:
    """A draw from Beta(mean=value/high, concentration c), scaled to [0, high]; 0 and high stay."""
    if high <= 0:
        return value
    m = value / high
    if m <= 0 or m >= 1:
        return value
    return float(high * rng.beta(c * m, c * (1 - m)))


def perturbed_specs(spec: ModelSpec, *, concentration: float, n: int, seed: int = 0) -> Iterator[ModelSpec]:
    """Yield ``n`` copies of ``spec`` with every number resampled around its value.

    Single probabilities are drawn from Beta(mean = value, concentration); a leak, a link
    strength or a table row (a distribution over answers) from the Dirichlet with mean the
    current distribution and the same concentration (whose margins are those Betas). Exact
    zeros and ones stay (they are structural).
    """
    rng = np.random.default_rng(seed)
    rep = dataclasses.replace

    def dist(values: Sequence[float]) -> tuple[float, ...]:
        full = np.array([max(0.0, 1.0 - float(sum(values))), *values])
        return tuple(_dirichlet(full, rng, concentration)[1:])

    for _ in range(n):
        causes = tuple(
            rep(
                c,
                prior=_resample(c.prior, 1.0, rng, concentration),
                facets=tuple(
                    rep(
                        f,
                        p_present=_resample(f.p_present, 1.0, rng, concentration),
                        p_absent=_resample(f.p_absent, 1.0, rng, concentration),
                    )
                    for f in c.facets
                ),
            )
            for c in spec.causes
        )
        links = tuple(rep(lk, strength=_resample(lk.strength, 1.0, rng, concentration)) for lk in spec.links)
        questions = []
        for q in spec.questions:
            if q.table is not None:
                rows = tuple(tuple(_dirichlet(np.array(r), rng, concentration)) for r in q.table.rows)
                questions.append(rep(q, table=rep(q.table, rows=rows)))
            else:
                questions.append(
                    rep(
                        q,
                        leak=dist(q.leak or ()),
                        links=tuple(rep(lk, strength=dist(lk.strength)) for lk in q.links),
                    )
                )
        yield rep(spec, causes=causes, links=links, questions=tuple(questions))


def _dirichlet(p: np.ndarray, rng: np.random.Generator, c: float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 0.0, None)
    p = p / p.sum()
    out = np.zeros_like(p)
    free = p > 0
    if free.sum() <= 1:
        return p
    out[free] = rng.dirichlet(c * p[free])
    # keep tiny draws strictly positive where the value was (a zero would be a new structural zero)
    out[free] = np.maximum(out[free], 1e-12)
    return out / out.sum()


@dataclass(frozen=True)
class QuestionStability:
    """How often the next question survives resampling every parameter.

    ``chosen`` is the model's next question; ``p_first`` the share of resampled models that
    still put it first, ``p_top3`` in their first three; ``firsts`` counts the question each
    resampled model put first.
    """

    chosen: str
    p_first: float
    p_top3: float
    samples: int
    concentration: float
    firsts: dict[str, int]

    def summary(self) -> str:
        """A short text."""
        common = ", ".join(f"{q} {k / self.samples:.0%}" for q, k in list(self.firsts.items())[:3])
        return (
            f"next question '{self.chosen}': first in {self.p_first:.0%} and in the top 3 in {self.p_top3:.0%} "
            f"of {self.samples} models with every number resampled (concentration {self.concentration:g}); "
            f"most often first: {common}"
        )


def question_stability(
    model: Model,
    answers: Mapping[str, Any] | None = None,
    *,
    concentration: float = 50.0,
    samples: int = 200,
    seed: int = 0,
    **rank_kwargs: Any,
) -> QuestionStability:
    """Return how stable the next question is when every number is resampled (see :func:`perturbed_specs`).

    Raises
    ------
    DataError
        A model without a spec, ``concentration`` not positive or ``samples`` below 1.
    """
    from .model import Model as _Model

    spec = _require_spec(model)
    if not (isinstance(concentration, (int, float)) and concentration > 0 and np.isfinite(concentration)):
        raise DataError(f"concentration must be a positive number, got {str(concentration)[:40]!r}")
    if not (isinstance(samples, int) and samples >= 1):
        raise DataError(f"samples must be a whole number >= 1, got {str(samples)[:40]!r}")
    answers = dict(answers or {})
    base = model.rank_questions(answers, **rank_kwargs).to_frame()
    base = base[~base["answered"]]
    if base.empty:
        raise DataError("every question is answered: there is no next question to test")
    chosen = str(base["question"].iloc[0])
    first = top3 = 0
    firsts: dict[str, int] = {}
    for s in perturbed_specs(spec, concentration=float(concentration), n=samples, seed=seed):
        alt = _Model.from_spec(s, memory_budget=None)
        fr = alt.rank_questions(answers, **rank_kwargs).to_frame()
        order = [str(q) for q in fr.loc[~fr["answered"], "question"]]
        first += order[0] == chosen
        top3 += chosen in order[:3]
        firsts[order[0]] = firsts.get(order[0], 0) + 1
    firsts = dict(sorted(firsts.items(), key=lambda kv: -kv[1]))
    return QuestionStability(chosen, first / samples, top3 / samples, samples, float(concentration), firsts)
