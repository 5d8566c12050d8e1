"""Learning a model's numbers from data: EM that keeps the noisy-OR / noisy-MAX form.

Every number of a distancing-bn model belongs to a small distribution ("vector"): a cause's
prior ``(1 - p, p)``, a link between causes ``(1 - s, s)``, a facet's ``p_present`` or
``p_absent``, a question's leak or one link's strength over its answers, or one row of an
explicit table. In the noisy-OR / noisy-MAX form each link acts through a hidden activation
(the answer that parent alone would produce; the child shows the largest, the leak and a
cause's prior being activations that are always drawn), and each vector is the distribution
of one such hidden variable. EM on those hidden variables is exact EM for the model's own
likelihood, so the learned model keeps its form.

E-step: one batched query per EM step. The engine's network gets, for every learned variable
with two or more variables in its family, a barren deterministic "family" variable whose
states are the family's configurations (the parents and, for a cause or facet, the variable
itself; a question's own likelihood is applied here), so its posterior marginal is the
family's. Summed over rows that gives the expected family counts ``N[u, y]`` (parent
configuration ``u``, state ``y``): the sufficient statistics of every table. Given ``u`` and
``y`` the hidden activations of a noisy-OR / noisy-MAX table have a closed-form posterior,
so their expected counts follow from ``N`` with no further query. Identical evidence rows
are passed once, with their count as a weight (``weights`` adds the caller's own); rows go
to the engine in chunks of bounded size.

M-step: with the model's own numbers ``s0`` as a Dirichlet prior of strength ``a`` (that many
pseudo-observations per vector), ``s_k = (a s0_k + n_k) / (a + n)`` (the MAP estimate). The
penalised log-likelihood ``sum log P(e) + sum_k a s0_k log s_k`` never decreases; with
``prior_strength=0`` that is the log-likelihood itself. Columns named after causes or facets
(``absent``/``present``) are observed: their counts are plain counts.

Premises (questions with ``observed:``) are evidence in every row by default, so EM
maximises ``P(rows, premise)``; that also rewards numbers that make the premise likelier.
For a sample not selected on the premise (a general-population survey), ``premises=False``
leaves them out of the fit.
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
_FAMILY = "__family__:"  # prefix of the added family variables
_EDGE = 1e-9  # learned priors stay strictly inside (0, 1), as the file format requires
_CHUNK = 8192  # evidence rows per engine call: large enough for BLAS, small enough for the caches


@dataclass(frozen=True, slots=True)
class _Vector:
    """One distribution of the model: where it lives, its values over levels 0..K-1, its table part.

    ``part`` is, for a noisy-OR / noisy-MAX table (``noisy``), the activation it draws (0: the
    leak or a cause's prior; ``i + 1``: the link of the variable's parent ``i``); for a plain
    table (a facet, an explicit table) the row, i.e. the parent configuration.
    """

    kind: str  # prior, cause_link, facet, leak, strength, table
    key: tuple[str, ...]
    values: tuple[float, ...]
    var: str  # the variable whose table holds it
    part: int
    noisy: bool

    @property
    def label(self) -> str:
        return f"{self.kind} {' '.join(self.key)}"


def _vectors(spec: ModelSpec, learn: set[str]) -> list[_Vector]:
    """Every learnable vector of the variables in ``learn``."""
    out: list[_Vector] = []
    for c in spec.causes:
        if c.id in learn:
            out.append(_Vector("prior", (c.id,), (1 - c.prior, c.prior), c.id, 0, True))
            incoming = [lk for lk in spec.links if lk.target == c.id]
            for i, lk in enumerate(incoming):
                out.append(
                    _Vector("cause_link", (lk.source, lk.target), (1 - lk.strength, lk.strength), c.id, i + 1, True)
                )
        for f in c.facets:
            if f.id in learn:
                out.append(_Vector("facet", (f.id, "p_present"), (1 - f.p_present, f.p_present), f.id, 1, False))
                out.append(_Vector("facet", (f.id, "p_absent"), (1 - f.p_absent, f.p_absent), f.id, 0, False))
    for q in spec.questions:
        if q.id not in learn:
            continue
        if q.table is not None:
            for u, row in enumerate(q.table.rows):
                out.append(_Vector("table", (q.id, str(u)), tuple(row), q.id, u, False))
            continue
        leak = tuple(q.leak or ())
        out.append(_Vector("leak", (q.id,), (1 - sum(leak), *leak), q.id, 0, True))
        for i, lk in enumerate(q.links):
            strength = (1 - sum(lk.strength), *lk.strength)
            out.append(_Vector("strength", (q.id, lk.parent), strength, q.id, i + 1, True))
    return out


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


def _network(
    spec: ModelSpec, observed: Sequence[str], keep: set[str], families: Sequence[str], premises: bool
) -> tuple[Network, dict[str, str]]:
    """The E-step network: the spec's without barren variables, observed causes and facets
    answerable, premises left out unless ``premises``, and a family variable per learned
    variable whose family has two or more members.

    Returns the network and, per learned variable, the variable whose marginal is its
    family's (itself, its one parent, or the added family variable; absent: no parents).
    """
    net = compile_spec(spec, memory_budget=None)
    obs = set(observed)
    names = [v for v in net.variables if v in keep and (premises or v not in net.observed)]
    states = {v: net.states[v] for v in names}
    parents = {v: net.parents[v] for v in names}
    cpts = {v: net.cpts[v] for v in names}
    questions = {q.id for q in spec.questions}
    where: dict[str, str] = {}
    for v in families:
        members = parents[v] if v in questions else (*parents[v], v)  # a question's likelihood is applied later
        if len(members) == 1:
            where[v] = members[0]
        elif members:
            name = where[v] = f"{_FAMILY}{v}"
            cards = [len(states[m]) for m in members]
            size = math.prod(cards)
            states[name] = tuple(str(i) for i in range(size))
            parents[name] = tuple(members)
            cpts[name] = np.eye(size).reshape((*cards, size))
    targets = [t for t in net.targets if t not in obs and t in states]
    if not targets:  # every cause observed: a network needs a target, so add an unconnected one
        states[_DUMMY], parents[_DUMMY], cpts[_DUMMY] = CAUSE_STATES, (), np.array([0.5, 0.5])
        targets = [_DUMMY]
    network = Network.create(
        net.name,
        states,
        parents,
        cpts,
        targets=targets,
        observables=[*(q for q in net.observables if q in states), *observed],
        reported=[r for r in net.reported if r not in obs and r in states],
        observed={v: a for v, a in net.observed.items() if v in states},
    )
    return network, where


@dataclass(frozen=True)
class FitResult:
    """What EM did.

    ``log_likelihood[i]`` is ``sum log P(row)`` (natural log, rows weighted) under the model
    after ``i`` EM steps (``[0]``: the model given); ``objective`` adds the prior's log density
    (what EM never decreases). ``rows`` is the number (or total weight) of rows the model can
    explain; ``patterns`` the number of distinct evidence rows passed to the engine.
    """

    model: Model
    log_likelihood: list[float]
    objective: list[float]
    converged: bool
    iterations: int
    rows: float
    prior_strength: float
    learned: tuple[str, ...]
    patterns: int = 0
    changes: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """A short text."""
        return (
            f"EM on {self.rows:g} rows ({self.patterns} distinct), prior strength {self.prior_strength:g}: "
            f"{self.iterations} iterations, {'converged' if self.converged else 'not converged'}; log-likelihood "
            f"{self.log_likelihood[0]:.2f} -> {self.log_likelihood[-1]:.2f}; {len(self.learned)} distributions learned"
        )


class _Data:
    """The distinct evidence rows as likelihood matrices per question (and observed cause/facet), with weights."""

    def __init__(
        self,
        model: Model,
        frame: pd.DataFrame,
        mapping: SurveyMapping | str | None,
        weights: Sequence[float] | np.ndarray | None,
        *,
        unique: bool = True,
    ) -> None:
        from .batch import _evidence, _Plan, _resolve_mapping
        from .evidence import encode_labels, one_hot

        spec = model.spec
        assert spec is not None
        if len(frame) == 0:
            raise DataError("the frame has no rows to learn from")
        latent = [*model.causes, *model.facets]
        self.observed = [v for v in latent if v in frame.columns]
        m = _resolve_mapping(model, mapping)
        rest = frame.drop(columns=self.observed)
        lik: dict[str, np.ndarray] = {}
        if any(c in model.questions for c in rest.columns) or m is not None:
            plan = _Plan(model, list(rest.columns), m, None, False)
            ev, _, _ = _evidence(model, rest, plan, 0, "raise")
            lik.update(ev.likelihoods)
        for v in self.observed:
            codes, bad = encode_labels(frame[v].astype(object).map(_state_text), CAUSE_STATES)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"row {i + 1}, column '{v}': not a state of a cause or facet; valid: absent, present, 0, 1, blank",
                    row=i + 1,
                    column=v,
                )
            lik[v] = one_hot(codes, 2)
        if not lik:
            raise DataError("no column of the frame is a question, a mapped column, a cause or a facet")
        w = _weights(weights, len(frame))
        names = sorted(lik)
        if unique:  # identical evidence rows once, with their total weight
            mat = np.hstack([lik[v] for v in names])
            _, first, inverse = np.unique(mat, axis=0, return_index=True, return_inverse=True)
            w = np.bincount(inverse.ravel(), weights=w, minlength=first.size)
            lik = {v: lik[v][first] for v in names}
        used = w > 0
        if not used.all():
            w = w[used]
            lik = {v: a[used] for v, a in lik.items()}
        self.lik = lik
        self.weights = w
        self.rows = int(w.size)  # evidence rows passed to the engine
        self.answered = {v for v, a in lik.items() if (a.min(axis=1) < a.max(axis=1)).any()}
        self.premises = [q.id for q in spec.questions if q.observed is not None]


def _weights(weights: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    try:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError("weights must be numbers, one per row of the frame") from None
    if w.size != n:
        raise DataError(f"weights has {w.size} values for {n} rows; give one weight per row")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        i = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise DataError(f"weights: row {i + 1} has a weight that is not a finite number >= 0", row=i + 1)
    if not (w > 0).any():
        raise DataError("weights: every row has weight 0; nothing to learn from")
    return w


def _state_text(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return "present" if value else "absent"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value in (0.0, 1.0)):
        return CAUSE_STATES[int(value)] if value in (0, 1) else value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return CAUSE_STATES[int(value.strip())]
    return value


def _e_step(
    spec: ModelSpec, data: _Data, keep: set[str], families: Sequence[str], premises: bool, budget: int | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per evidence row ``log P(e)``; per learned variable the expected family counts ``(configs, states)``.

    One engine compiled for the current numbers, queried in chunks of at most ``_CHUNK`` rows.
    """
    from .engine import compile_engine

    net, where = _network(spec, data.observed, keep, families, premises)
    engine = compile_engine(net, memory_budget=budget, joint_limit=0)  # the targets' joint is not needed
    wanted = sorted(set(where.values()))
    tables = {v: net.cpts[v].reshape(-1, len(net.states[v])) for v in families}
    counts = {v: np.zeros_like(t) for v, t in tables.items()}
    questions = {q.id for q in spec.questions}
    log_ev = np.empty(data.rows)
    for s in range(0, data.rows, _CHUNK):
        t = min(data.rows, s + _CHUNK)
        lik = {v: a[s:t] for v, a in data.lik.items()}
        res = engine.query(lik, t - s, marginals=wanted)
        log_ev[s:t] = res.log_evidence
        ok = np.isfinite(res.log_evidence)
        if not ok.any():
            continue
        w = data.weights[s:t][ok]
        for v, table in tables.items():
            fam = res.marginals[where[v]][ok] if v in where else np.ones((int(ok.sum()), 1))
            if v in questions:  # a question: its own likelihood, then the counts
                lam = _likelihood(net, v, lik, t - s)[ok]
                dens = lam @ table.T  # (rows, configs): P(own evidence | configuration)
                ratio = np.divide(fam, dens, out=np.zeros_like(fam), where=dens > 0) * w[:, None]
                counts[v] += (ratio.T @ lam) * table
            else:
                counts[v] += (w @ fam).reshape(table.shape)
    return log_ev, counts


def _likelihood(net: Network, v: str, lik: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
    """A question's likelihood rows: its evidence, its premise answer, or all ones."""
    if v in lik:
        return np.asarray(lik[v], dtype=np.float64)
    out = np.zeros((rows, len(net.states[v]))) if v in net.observed else np.ones((rows, len(net.states[v])))
    if v in net.observed:
        out[:, net.states[v].index(net.observed[v])] = 1.0
    return out


def _noisy_counts(dists: Sequence[np.ndarray], family: np.ndarray) -> list[np.ndarray]:
    """Expected counts of each activation of a leaky noisy-MAX table, from its family counts.

    ``dists[0]`` is the leak's distribution over the child's levels, ``dists[i + 1]`` that of
    parent ``i``'s activation; ``family[u, y]`` the expected count of parent configuration
    ``u`` (C order, binary parents) with child level ``y``. The child is the largest
    activation of the leak and the present parents, so, with ``G`` the CDF of the largest of
    the others, ``P(Z_j = k, Y = y | u) = s_j[k] (G(k) [y = k] + (G(y) - G(y - 1)) [y > k])``.
    A parent's activation is drawn only where it is present; the leak's always.
    """
    m = len(dists) - 1
    k_levels = family.shape[1]
    configs = np.indices((2,) * m).reshape(m, -1).T if m else np.zeros((1, 0), dtype=np.int64)
    active = np.column_stack([np.ones(len(configs), dtype=bool), configs.astype(bool)])
    cdf = np.cumsum(np.asarray(dists, dtype=np.float64), axis=1)
    cdf[:, -1] = 1.0
    factor = np.where(active[:, :, None], cdf[None, :, :], 1.0)  # (configs, activations, levels)
    eye = np.eye(k_levels)
    above = np.triu(np.ones((k_levels, k_levels)), 1)  # [k < y]
    out = []
    for j, s in enumerate(dists):
        g = np.prod(np.delete(factor, j, axis=1), axis=1)  # (configs, levels): CDF of the others' largest
        step = np.diff(g, prepend=0.0, axis=1)
        joint = np.asarray(s)[None, :, None] * (eye[None] * g[:, :, None] + above[None] * step[:, None, :])
        child = joint.sum(axis=1)  # P(y | u) where j is drawn
        ratio = np.divide(family, child, out=np.zeros_like(family), where=child > 0)
        rows = active[:, j]
        out.append(np.einsum("uky,uy->k", joint[rows], ratio[rows]))
    return out


def _vector_counts(spec: ModelSpec, vectors: Sequence[_Vector], families: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Expected counts of every vector's levels (same order), from the family counts."""
    noisy: dict[str, list[np.ndarray]] = {}
    out = []
    for v in vectors:
        if not v.noisy:
            out.append(families[v.var][v.part])
            continue
        if v.var not in noisy:
            noisy[v.var] = _noisy_counts(_activations(spec, v.var), families[v.var])
        out.append(noisy[v.var][v.part])
    return out


def _activations(spec: ModelSpec, var: str) -> list[np.ndarray]:
    """The current leak and link distributions of a noisy-OR / noisy-MAX variable, in its parents' order."""
    if any(c.id == var for c in spec.causes):
        prior = spec.cause(var).prior
        links = [lk.strength for lk in spec.links if lk.target == var]
        return [np.array([1 - prior, prior]), *(np.array([1 - s, s]) for s in links)]
    q = spec.question(var)
    leak = tuple(q.leak or ())
    return [np.array([1 - sum(leak), *leak]), *(np.array([1 - sum(lk.strength), *lk.strength]) for lk in q.links)]


def _log_prior(vectors: Sequence[_Vector], current: Mapping[str, tuple[float, ...]], strength: float) -> float:
    total = 0.0
    for v in vectors:
        for a, s in zip(v.values, current[v.label], strict=True):
            if a > 0:
                total += strength * a * math.log(max(s, 1e-300))
    return total


def em(
    model: Model,
    frame: pd.DataFrame,
    *,
    mapping: SurveyMapping | str | None = None,
    prior_strength: float = 10.0,
    max_iter: int = 50,
    tol: float = 1e-6,
    learn: Sequence[str] | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    premises: bool = True,
    progress: Callable[[int, float], None] | None = None,
    _unique: bool = True,
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
        Stop when the objective rises by less than ``tol`` per row (per unit of weight).
    learn
        Ids of the causes, facets and questions whose numbers are learned (a cause: its prior
        and its incoming links). Default: every cause and facet, and every question the frame
        answers in some row (a question never answered would keep its numbers anyway).
        Variables with no answered variable at or below them keep their numbers (the data say
        nothing about them).
    weights
        One weight >= 0 per row (for example how many respondents gave that row); default 1.
    premises
        Enter the model's premises (always-observed answers) as evidence in every row (the
        rows are people for whom they hold); ``False`` leaves them out, for a sample not
        selected on them.
    progress
        Called after every E-step with the iteration and the log-likelihood.

    Raises
    ------
    DataError
        A model without a spec, an empty frame, no usable column, a bad cell (row and column
        named), an unknown id in ``learn``, bad weights, or a bad option value.
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
    data = _Data(model, frame, mapping, weights, unique=_unique)
    known = {*model.causes, *model.facets, *model.questions}
    if learn is None:
        chosen = {*model.causes, *model.facets, *(q for q in data.answered if q in model.questions)}
    else:
        unknown = [x for x in learn if x not in known]
        if unknown:
            raise DataError(f"learn: {str(unknown[0])[:40]!r} is not a cause, facet or question of '{model.id}'")
        chosen = set(learn)
    keep = _relevant(spec, [*data.lik, *(data.premises if premises else ())])
    if not premises:
        chosen -= set(data.premises)
    vectors = _vectors(spec, chosen & keep)  # barren variables keep their numbers exactly
    families = sorted({v.var for v in vectors})
    strength = float(prior_strength)
    current = {v.label: v.values for v in vectors}
    log_lik: list[float] = []
    objective: list[float] = []
    converged = False
    it = 0
    work = spec
    budget = model.memory_budget
    while True:
        le, fam = _e_step(work, data, keep, families, premises, budget)
        ok = np.isfinite(le)
        if not ok.any():
            raise DataError("every row is impossible under the model: no answer pattern it can explain")
        total_weight = float(data.weights[ok].sum())
        log_lik.append(float(data.weights[ok] @ le[ok]))
        objective.append(log_lik[-1] + _log_prior(vectors, current, strength))
        if progress is not None:
            progress(it, log_lik[-1])
        if it > 0 and objective[-1] - objective[-2] < tol * total_weight:
            converged = True
            break
        if it >= max_iter:
            break
        new_spec = work
        for v, counts in zip(vectors, _vector_counts(work, vectors, fam), strict=True):
            counts = np.where(np.asarray(v.values) > 0, np.clip(counts, 0.0, None), 0.0)  # structural zeros stay
            total = counts.sum() + strength
            if total <= 0:
                continue
            new = (strength * np.asarray(v.values) + counts) / total
            current[v.label] = tuple(float(x) for x in new)
            new_spec = _set(new_spec, v, new)
        work = new_spec
        it += 1
    n_rows = total_weight
    final = work
    changes: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    notes: dict[tuple[str, ...], list[str]] = {}
    for v in vectors:
        changes[v.label] = (v.values, current[v.label])
        notes.setdefault(_holder(v), []).append(_show(v))
    for v in vectors:
        was = "; ".join(notes[_holder(v)])
        note = (
            f"Learned by EM from {n_rows:g} rows (prior: the file's numbers as {strength:g} pseudo-rows each; "
            f"the file had {was}). {_rationale(spec, v)}".strip()
        )
        final = _set(final, v, current[v.label], note)
    from .model import Model as _Model

    learned_model = _Model.from_spec(final, memory_budget=model.memory_budget)
    return FitResult(
        model=learned_model,
        log_likelihood=log_lik,
        objective=objective,
        converged=converged,
        iterations=it,
        rows=n_rows,
        prior_strength=strength,
        learned=tuple(v.label for v in vectors),
        patterns=data.rows,
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
    weights: Sequence[float] | np.ndarray | None = None,
    premises: bool = True,
) -> Model:
    """Return a new model with numbers learned from ``frame`` by EM (see :func:`em`)."""
    return em(
        model,
        frame,
        mapping=mapping,
        prior_strength=prior_strength,
        max_iter=max_iter,
        tol=tol,
        learn=learn,
        weights=weights,
        premises=premises,
    ).model
