"""Learning a model's numbers from data: EM that keeps the noisy-OR / noisy-MAX form.

Every number of a distancing-bn model belongs to a small distribution ("vector"): a cause's
prior ``(1 - p, p)``, a link between causes ``(1 - s, s)``, a facet's ``p_present`` or
``p_absent``, a question's leak or one link's strength over its answers, or one row of an
explicit table. In the noisy-OR / noisy-MAX form each link acts through a hidden activation
(the answer that parent alone would produce; the question shows the largest), and each vector
is the distribution of one such hidden variable, drawn only under a *condition* (its parent
present, or absent, or always). EM on those hidden variables is exact EM for the model's own
likelihood, so the learned model keeps its form.

E-step without expanding any table: ``P(e)`` is linear in every vector (the tables are
products of per-parent distribution functions), so with ``g_k = dP(e)/ds_k`` the expected
count of level ``k`` is ``s_k g_k / P(e)``, and ``sum_k s_k g_k = P(e, condition)``. The
engine gives ``P(condition | e)`` (a cause's or facet's marginal) and, from one more query
with some probability moved from level 0 to level ``k``, the exact difference
``g_k - g_0``; together they fix every ``g_k``. Every query is vectorised over all rows.

M-step: with the model's own numbers ``s0`` as a Dirichlet prior of strength ``a`` (that many
pseudo-observations per vector), ``s_k = (a s0_k + n_k) / (a + n)`` (the MAP estimate). The
penalised log-likelihood ``sum log P(e) + sum_k a s0_k log s_k`` never decreases; with
``prior_strength=0`` that is the log-likelihood itself. Columns named after causes or facets
(``absent``/``present``) are observed: their counts are plain counts. Rows of tables with two
or more parents keep their values (their condition's probability is not a marginal the engine
returns); the result lists them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError
from .network import Network, compile_spec
from .spec import CAUSE_STATES, ModelSpec

if TYPE_CHECKING:
    import pandas as pd

    from .mapping import SurveyMapping
    from .model import Model

__all__ = ["FitResult", "em", "fit"]

_DUMMY = "__no_latent_cause__"
_EDGE = 1e-9  # learned priors stay strictly inside (0, 1), as the file format requires


@dataclass(frozen=True, slots=True)
class _Vector:
    """One distribution of the model: where it lives, its values over levels 0..K-1, its condition."""

    kind: str  # prior, cause_link, facet, leak, strength, table
    key: tuple[str, ...]
    values: tuple[float, ...]
    condition: tuple[str, int] | None  # (variable, state index) the hidden draw needs; None: always

    @property
    def label(self) -> str:
        return f"{self.kind} {' '.join(self.key)}"


def _vectors(spec: ModelSpec, learn: set[str]) -> tuple[list[_Vector], list[str]]:
    """Every learnable vector of the variables in ``learn``, and the tables kept fixed."""
    out: list[_Vector] = []
    fixed: list[str] = []
    for c in spec.causes:
        if c.id in learn:
            out.append(_Vector("prior", (c.id,), (1 - c.prior, c.prior), None))
        for f in c.facets:
            if f.id in learn:
                out.append(_Vector("facet", (f.id, "p_present"), (1 - f.p_present, f.p_present), (c.id, 1)))
                out.append(_Vector("facet", (f.id, "p_absent"), (1 - f.p_absent, f.p_absent), (c.id, 0)))
    for lk in spec.links:
        if lk.target in learn:
            out.append(_Vector("cause_link", (lk.source, lk.target), (1 - lk.strength, lk.strength), (lk.source, 1)))
    for q in spec.questions:
        if q.id not in learn:
            continue
        if q.table is not None:
            if len(q.table.parents) > 1:
                fixed.append(q.id)
                continue
            for u, row in enumerate(q.table.rows):
                cond = (q.table.parents[0], u) if q.table.parents else None
                out.append(_Vector("table", (q.id, str(u)), tuple(row), cond))
            continue
        leak = tuple(q.leak or ())
        out.append(_Vector("leak", (q.id,), (1 - sum(leak), *leak), None))
        for lk in q.links:
            out.append(_Vector("strength", (q.id, lk.parent), (1 - sum(lk.strength), *lk.strength), (lk.parent, 1)))
    return out, fixed


def _set(spec: ModelSpec, vec: _Vector, values: Sequence[float], rationale: str | None = None) -> ModelSpec:
    """Return ``spec`` with ``vec`` set to ``values`` (levels 0..K-1) and, if given, a new rationale."""
    rep = dataclasses.replace
    v = tuple(float(x) for x in values)
    why = {} if rationale is None else {"rationale": rationale}
    if vec.kind in ("prior", "facet"):
        causes = []
        for c in spec.causes:
            if vec.kind == "prior" and c.id == vec.key[0]:
                c = rep(c, prior=min(max(v[1], _EDGE), 1 - _EDGE), **why)
            elif vec.kind == "facet":
                c = rep(
                    c,
                    facets=tuple(rep(f, **{vec.key[1]: v[1]}, **why) if f.id == vec.key[0] else f for f in c.facets),
                )
            causes.append(c)
        return rep(spec, causes=tuple(causes))
    if vec.kind == "cause_link":
        return rep(
            spec,
            links=tuple(
                rep(lk, strength=v[1], **why) if (lk.source, lk.target) == vec.key else lk for lk in spec.links
            ),
        )
    questions = []
    for q in spec.questions:
        if q.id == vec.key[0]:
            if vec.kind == "leak":
                q = rep(q, leak=v[1:], **({} if rationale is None else {"leak_rationale": rationale}))
            elif vec.kind == "strength":
                q = rep(
                    q, links=tuple(rep(lk, strength=v[1:], **why) if lk.parent == vec.key[1] else lk for lk in q.links)
                )
            else:
                assert q.table is not None
                rows = list(q.table.rows)
                rows[int(vec.key[1])] = v
                q = rep(q, table=rep(q.table, rows=tuple(rows), **why))
        questions.append(q)
    return rep(spec, questions=tuple(questions))


def _relevant(spec: ModelSpec, evidence: Sequence[str]) -> set[str]:
    """The causes, and the facets and questions that are (ancestors of) answered variables.

    Everything else is barren (no evidence at or below it): leaving it out changes no
    likelihood and no marginal of what stays, and makes every E-step query cheaper.
    """
    parents: dict[str, tuple[str, ...]] = {
        c.id: tuple(lk.source for lk in spec.links if lk.target == c.id) for c in spec.causes
    }
    parents.update({f.id: (f.cause,) for f in spec.facets})
    parents.update({q.id: q.parents for q in spec.questions})
    keep = {c.id for c in spec.causes}
    seen: set[str] = set()
    stack = list(evidence)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            keep.add(v)
            stack.extend(parents.get(v, ()))
    return keep


def _network(spec: ModelSpec, observed: Sequence[str], keep: set[str] | None = None) -> Network:
    """The spec's network without barren variables, with the observed causes and facets answerable."""
    net = compile_spec(spec, memory_budget=None)
    if not observed and keep is None:
        return net
    obs = set(observed)
    names = [v for v in net.variables if keep is None or v in keep]
    states = {v: net.states[v] for v in names}
    parents = {v: net.parents[v] for v in names}
    cpts = {v: net.cpts[v] for v in names}
    targets = [t for t in net.targets if t not in obs and t in states]
    if not targets:  # every cause observed: a network needs a target, so add an unconnected one
        states[_DUMMY], parents[_DUMMY], cpts[_DUMMY] = CAUSE_STATES, (), np.array([0.5, 0.5])
        targets = [_DUMMY]
    return Network.create(
        net.name,
        states,
        parents,
        cpts,
        targets=targets,
        observables=[*(q for q in net.observables if q in states), *observed],
        reported=[r for r in net.reported if r not in obs and r in states],
        observed={v: a for v, a in net.observed.items() if v in states},
    )


@dataclass(frozen=True)
class FitResult:
    """What EM did.

    ``log_likelihood[i]`` is ``sum log P(row)`` (natural log) under the model after ``i`` EM
    steps (``[0]``: the model given); ``objective`` adds the prior's log density (what EM
    never decreases). ``fixed`` lists questions whose tables kept their values.
    """

    model: Model
    log_likelihood: list[float]
    objective: list[float]
    converged: bool
    iterations: int
    rows: int
    prior_strength: float
    learned: tuple[str, ...]
    fixed: tuple[str, ...] = ()
    changes: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """A short text."""
        return (
            f"EM on {self.rows} rows, prior strength {self.prior_strength:g}: {self.iterations} iterations, "
            f"{'converged' if self.converged else 'not converged'}; log-likelihood "
            f"{self.log_likelihood[0]:.2f} -> {self.log_likelihood[-1]:.2f}; {len(self.learned)} distributions learned"
        )


class _Data:
    """The rows as likelihood matrices per question (and per observed cause/facet)."""

    def __init__(self, model: Model, frame: pd.DataFrame, mapping: SurveyMapping | str | None) -> None:
        from .batch import _evidence, _Plan, _resolve_mapping
        from .evidence import encode_labels, one_hot

        spec = model.spec
        assert spec is not None
        latent = [*model.causes, *model.facets]
        self.observed = [v for v in latent if v in frame.columns]
        m = _resolve_mapping(model, mapping)
        rest = frame.drop(columns=self.observed)
        self.lik: dict[str, np.ndarray] = {}
        if any(c in model.questions for c in rest.columns) or m is not None:
            plan = _Plan(model, list(rest.columns), m, None, False)
            ev, _, _ = _evidence(model, rest, plan, 0, "raise")
            self.lik.update(ev.likelihoods)
        for v in self.observed:
            codes, bad = encode_labels(frame[v].astype(object).map(_state_text), CAUSE_STATES)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"row {i + 1}, column '{v}': not a state of a cause or facet; valid: absent, present, 0, 1, blank",
                    row=i + 1,
                    column=v,
                )
            mat = one_hot(codes, 2)
            self.lik[v] = mat
        premises = [q.id for q in spec.questions if getattr(q, "observed", None) is not None]
        self.keep = _relevant(spec, [*self.lik, *premises])  # a premise is evidence in every row
        self.rows = len(frame)
        if self.rows == 0:
            raise DataError("the frame has no rows to learn from")
        if not self.lik:
            raise DataError("no column of the frame is a question, a mapped column, a cause or a facet")


def _state_text(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return "present" if value else "absent"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value in (0.0, 1.0)):
        return CAUSE_STATES[int(value)] if value in (0, 1) else value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return CAUSE_STATES[int(value.strip())]
    return value


def _query(spec: ModelSpec, data: _Data, marginals: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from .engine import compile_engine

    net = _network(spec, data.observed, data.keep)
    eng = compile_engine(net, memory_budget=None)
    res = eng.query(data.lik, data.rows, marginals=list(marginals))
    return res.log_evidence, res.marginals


def _log_prior(vectors: Sequence[_Vector], current: Mapping[str, tuple[float, ...]], strength: float) -> float:
    total = 0.0
    for v in vectors:
        for a, s in zip(v.values, current[v.label], strict=True):
            if a > 0:
                total += strength * a * math.log(max(s, 1e-300))
    return total


def _expected_counts(
    spec: ModelSpec,
    vec: _Vector,
    values: tuple[float, ...],
    data: _Data,
    le: np.ndarray,
    cond_p: np.ndarray,
    ok: np.ndarray,
) -> np.ndarray:
    """Expected counts of each level of ``vec``'s hidden draw, summed over rows (see the module text)."""
    s = np.asarray(values)
    k_levels = s.size
    r = np.zeros((data.rows, k_levels))
    for k in range(1, k_levels):
        if s[k] <= 0 and s[0] <= 0:
            continue
        delta = 0.5 * min(s[0], 1 - s[k]) if s[0] > 0 else -0.5 * s[k]
        moved = s.copy()
        moved[0] -= delta
        moved[k] += delta
        le_k, _ = _query(_set(spec, vec, moved), data, [])
        with np.errstate(invalid="ignore"):
            r[:, k] = np.expm1(np.where(np.isfinite(le_k), le_k - le, -np.inf)) / delta
    g0 = cond_p - r[:, 1:] @ s[1:]
    g = g0[:, None] + r
    counts = np.where(ok[:, None], s[None, :] * g, 0.0)
    return np.clip(counts, 0.0, None).sum(axis=0)


def em(
    model: Model,
    frame: pd.DataFrame,
    *,
    mapping: SurveyMapping | str | None = None,
    prior_strength: float = 10.0,
    max_iter: int = 50,
    tol: float = 1e-6,
    learn: Sequence[str] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Learn the model's numbers from ``frame`` by EM; return the new model and the trace.

    Parameters
    ----------
    frame
        One row per respondent: question columns (answer labels; blank = unanswered), columns
        a ``mapping`` describes, and optionally cause or facet columns (``absent``/``present``
        or 0/1; blank = unknown) whose values are then observed.
    mapping
        A survey mapping (file or :class:`~distancing_bn.mapping.SurveyMapping`).
    prior_strength
        Pseudo-observations per distribution given to the model's current numbers (0: maximum
        likelihood; 10: ten rows' worth, so a few rows move the numbers a little and thousands
        of rows a lot).
    max_iter
        At most this many EM steps.
    tol
        Stop when the objective rises by less than ``tol`` per row.
    learn
        Ids of the causes, facets and questions whose numbers are learned (a cause: its prior
        and its incoming links). Default: every cause and facet, and every question the frame
        answers in some row (a question never answered would keep its numbers anyway).
        Variables with no answered variable at or below them keep their numbers (the data say
        nothing about them).
    progress
        Called after every E-step with the iteration and the log-likelihood.

    Raises
    ------
    DataError
        A model without a spec, an empty frame, no usable column, a bad cell (row and column
        named), an unknown id in ``learn``, or a bad option value.
    """
    spec = model.spec
    if spec is None:
        raise DataError("learning needs a distancing-bn YAML model (its numbers are read from the spec)")
    if not (isinstance(prior_strength, (int, float)) and prior_strength >= 0 and math.isfinite(prior_strength)):
        raise DataError(f"prior_strength must be a number >= 0, got {str(prior_strength)[:40]!r}")
    if not (isinstance(max_iter, int) and max_iter >= 0):
        raise DataError(f"max_iter must be a whole number >= 0, got {str(max_iter)[:40]!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise DataError(f"tol must be a number >= 0, got {str(tol)[:40]!r}")
    data = _Data(model, frame, mapping)
    known = {*model.causes, *model.facets, *model.questions}
    if learn is None:
        answered = {q for q, a in data.lik.items() if q in model.questions and (a.min(axis=1) < a.max(axis=1)).any()}
        chosen = {*model.causes, *model.facets, *answered}
    else:
        unknown = [x for x in learn if x not in known]
        if unknown:
            raise DataError(f"learn: {str(unknown[0])[:40]!r} is not a cause, facet or question of '{model.id}'")
        chosen = set(learn)
    vectors, fixed = _vectors(spec, chosen & data.keep)  # barren variables keep their numbers exactly
    conds = sorted({v.condition[0] for v in vectors if v.condition is not None})
    strength = float(prior_strength)
    current = {v.label: v.values for v in vectors}
    log_lik: list[float] = []
    objective: list[float] = []
    converged = False
    it = 0
    work = spec
    while True:
        le, marg = _query(work, data, conds)
        ok = np.isfinite(le)
        if not ok.any():
            raise DataError("every row is impossible under the model: no answer pattern it can explain")
        log_lik.append(float(le[ok].sum()))
        objective.append(log_lik[-1] + _log_prior(vectors, current, strength))
        if progress is not None:
            progress(it, log_lik[-1])
        if it > 0 and objective[-1] - objective[-2] < tol * data.rows:
            converged = True
            break
        if it >= max_iter:
            break
        new_spec = work
        for v in vectors:
            cp = np.ones(data.rows) if v.condition is None else marg[v.condition[0]][:, v.condition[1]]
            cp = np.where(ok, cp, 0.0)
            counts = _expected_counts(work, v, current[v.label], data, np.where(ok, le, 0.0), cp, ok)
            counts = np.where(np.asarray(v.values) > 0, counts, 0.0)  # structural zeros stay zero
            total = counts.sum() + strength
            if total <= 0:
                continue
            new = (strength * np.asarray(v.values) + counts) / total
            current[v.label] = tuple(float(x) for x in new)
            new_spec = _set(new_spec, v, new)
        work = new_spec
        it += 1
    n_rows = int(ok.sum())
    final = work
    changes: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    notes: dict[tuple[str, ...], list[str]] = {}
    for v in vectors:
        changes[v.label] = (v.values, current[v.label])
        notes.setdefault(_holder(v), []).append(_show(v))
    for v in vectors:
        was = "; ".join(notes[_holder(v)])
        note = (
            f"Learned by EM from {n_rows} rows (prior: the file's numbers as {strength:g} pseudo-rows each; "
            f"the file had {was}). {_rationale(spec, v)}".strip()
        )
        final = _set(final, v, current[v.label], note)
    from .model import Model as _Model

    learned_model = _Model.from_spec(final, memory_budget=model.memory_estimate.budget)
    return FitResult(
        model=learned_model,
        log_likelihood=log_lik,
        objective=objective,
        converged=converged,
        iterations=it,
        rows=n_rows,
        prior_strength=strength,
        learned=tuple(v.label for v in vectors),
        fixed=tuple(fixed),
        changes=changes,
    )


def _holder(v: _Vector) -> tuple[str, ...]:
    """Which rationale a vector's note goes into (a facet's two numbers and a table's rows share one)."""
    if v.kind in ("facet", "table"):
        return (v.kind, v.key[0])
    return (v.kind, *v.key)


def _show(v: _Vector) -> str:
    name = {"facet": v.key[-1], "table": f"row {v.key[-1]}"}.get(v.kind, "")
    vals = ", ".join(f"{x:.3g}" for x in v.values[1:])
    return f"{name} {vals}".strip()


def _rationale(spec: ModelSpec, v: _Vector) -> str:
    if v.kind == "prior":
        return spec.cause(v.key[0]).rationale
    if v.kind == "facet":
        return next(f.rationale for f in spec.facets if f.id == v.key[0])
    if v.kind == "cause_link":
        return next(lk.rationale for lk in spec.links if (lk.source, lk.target) == v.key)
    q = spec.question(v.key[0])
    if v.kind == "leak":
        return q.leak_rationale
    if v.kind == "strength":
        return next(lk.rationale for lk in q.links if lk.parent == v.key[1])
    return q.table.rationale if q.table is not None else ""


def fit(
    model: Model,
    frame: pd.DataFrame,
    *,
    mapping: SurveyMapping | str | None = None,
    prior_strength: float = 10.0,
    max_iter: int = 50,
    tol: float = 1e-6,
    learn: Sequence[str] | None = None,
) -> Model:
    """Return a new model with numbers learned from ``frame`` by EM (see :func:`em`)."""
    return em(
        model, frame, mapping=mapping, prior_strength=prior_strength, max_iter=max_iter, tol=tol, learn=learn
    ).model
