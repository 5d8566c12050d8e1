"""The user-facing :class:`Model`: a compiled network plus (for YAML models) its spec.

Its methods delegate to the modules below it (evidence, engine, explain, information,
session, batch); nothing below this module imports it at run time.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .engine import (
    Engine,
    MemoryEstimate,
    QueryResult,
    check_backend,
    compile_engine,
    estimate_memory,
    impossible_evidence,
    noisy_backend_applies,
)
from .errors import DataError, ModelTooLargeError
from .evidence import Evidence, encode_labels, from_answers, from_codes, normalise_answers
from .network import DEFAULT_MEMORY_BUDGET, Network, compile_spec
from .results import DISCLAIMER, Posterior, VariableInfo
from .spec import Group, ModelSpec

if TYPE_CHECKING:
    import pandas as pd

    from .information import QuestionRanking, StopDecision, StopRule
    from .session import Session

__all__ = ["Model"]

_PRESENT_NAMES = ("present", "yes", "true", "abnormal", "positive")
BATCH_CHUNK = 8192


def _present_index(states: Sequence[str], present: Sequence[str] = ()) -> int:
    """Index of the state reported as 'present': the first of ``present`` if given, else by name.

    ``present`` comes from ``Network.present`` (``load_network(..., present=...)``, ``--present``,
    XDSL fault states). Without it, a state named present/yes/true/abnormal/positive; failing
    that, the last state. ``Model._info`` uses this only where ``present_states`` names some state:
    otherwise it counts every state but the likeliest one a priori (``VariableInfo.usual``).
    """
    if present:
        return list(states).index(present[0])
    folded = [s.lower() for s in states]
    for name in _PRESENT_NAMES:
        if name in folded:
            return folded.index(name)
    return len(states) - 1


def present_states(network: Network, variable: str) -> tuple[str, ...] | None:
    """The states of ``variable`` that count as present, or ``None`` if none is given or named."""
    given = network.present.get(variable)
    if given:
        return tuple(given)
    folded = [s.lower() for s in network.states[variable]]
    for name in _PRESENT_NAMES:
        if name in folded:
            return (network.states[variable][folded.index(name)],)
    return None


class Model:
    """A diagnostic model: ask it for posteriors, explanations and the next question.

    Create it with :func:`distancing_bn.load_model` (YAML, or the bundled default),
    :func:`distancing_bn.load_network` (BIF/XMLBIF/XDSL) or :func:`distancing_bn.from_pgmpy`.
    A model is immutable; it compiles its network once and caches the plan.

    ``memory_budget`` (bytes, default 2 GiB; ``None``: no limit) bounds the compiled junction
    tree plus one evidence row: a larger model raises
    :class:`~distancing_bn.errors.ModelTooLargeError` here, before anything of its tree is
    built, and batches run in passes that fit (see :attr:`memory_estimate`) — unless its
    questions are noisy-OR / noisy-MAX (:func:`~distancing_bn.engine.noisy_backend_applies`):
    then the noisy-OR backend answers everything and :attr:`memory_estimate` is ``None`` (as it
    is with ``backend='noisy'``, which plans no junction tree).
    ``backend``: ``'auto'`` (default: per query, the exact backend estimated cheaper),
    ``'junction_tree'`` or ``'noisy'`` (see :func:`distancing_bn.engine.compile_engine`).
    """

    __slots__ = ("__dict__", "_frozen", "backend", "memory_budget", "memory_estimate", "network", "spec")
    network: Network
    spec: ModelSpec | None
    memory_estimate: MemoryEstimate | None
    memory_budget: int | None
    backend: str

    def __init__(
        self,
        network: Network,
        spec: ModelSpec | None = None,
        *,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        backend: str = "auto",
    ) -> None:
        check_backend(backend)  # said now, not at the first query
        object.__setattr__(self, "network", network)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "memory_budget", memory_budget)
        object.__setattr__(self, "backend", backend)
        estimate: MemoryEstimate | None = None  # with backend='noisy' no junction tree is planned
        if backend != "noisy":
            try:
                estimate = estimate_memory(network, memory_budget=memory_budget)
            except ModelTooLargeError:
                if backend == "junction_tree" or not noisy_backend_applies(network):
                    raise
                # estimate stays None: the noisy-OR backend answers (no junction tree is ever built)
        object.__setattr__(self, "memory_estimate", estimate)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False) and name not in type(self).__dict__:
            raise AttributeError(f"a Model is immutable; cannot set '{name}'")
        object.__setattr__(self, name, value)

    @classmethod
    def from_spec(cls, spec: ModelSpec, *, memory_budget: int | None = DEFAULT_MEMORY_BUDGET) -> Model:
        """Compile a validated spec (tables and junction tree within ``memory_budget`` bytes).

        Raises
        ------
        ModelTooLargeError
            The tables or the junction tree would exceed ``memory_budget`` (``None``: no limit).
        """
        return cls(compile_spec(spec, memory_budget=memory_budget), spec, memory_budget=memory_budget)

    # ------------------------------------------------------------------ description
    @property
    def id(self) -> str:
        """The model's id."""
        return self.spec.id if self.spec else self.network.name

    @property
    def title(self) -> str:
        """A human title."""
        return self.spec.title if self.spec else self.network.name

    @property
    def disclaimer(self) -> str:
        """The line shown with every result."""
        if self.spec is None:  # a network file: only the line it gives itself
            return self.network.disclaimer or ""
        return self.spec.disclaimer if self.spec.disclaimer else DISCLAIMER

    @property
    def causes(self) -> tuple[str, ...]:
        """The target variables (causes), in model order."""
        return self.network.targets

    @property
    def facets(self) -> tuple[str, ...]:
        """The reported latent variables (facets)."""
        return self.network.reported

    @property
    def questions(self) -> tuple[str, ...]:
        """The observable variables (questions)."""
        return self.network.observables

    @property
    def observed(self) -> dict[str, str]:
        """Questions always entered with one answer (the premise), never asked: id -> answer."""
        return dict(self.network.observed)

    @cached_property
    def groups(self) -> dict[str, Group]:
        """The checklists (yes/no questions asked together as one screen), by id, in file order."""
        return {g.id: g for g in self.spec.groups} if self.spec is not None else {}

    @cached_property
    def screens(self) -> tuple[str, ...]:
        """Questions and checklists asked before any ranking by gain, in their screen order."""
        if self.spec is None:
            return ()
        items = [(q.screen, i, q.id) for i, q in enumerate(self.spec.questions) if q.screen is not None]
        items += [(g.screen, len(items) + i, g.id) for i, g in enumerate(self.spec.groups) if g.screen is not None]
        return tuple(name for _, _, name in sorted(items))

    def is_group(self, name: str) -> bool:
        """True when ``name`` is a checklist id."""
        return name in self.groups

    def question_label(self, name: str) -> str:
        """Return the short label of a question or checklist (its text where it has none)."""
        if name in self.groups:
            return self.groups[name].label
        q = self._questions_by_id.get(name)
        return (q.label or q.text) if q is not None else name

    def question_theme(self, name: str) -> str:
        """Return the theme a question or checklist is listed under ("Other" where none is given)."""
        if name in self.groups:
            return self.groups[name].theme or "Other"
        q = self._questions_by_id.get(name)
        return (q.theme if q is not None else "") or "Other"

    def cause_kind(self, cause: str) -> str:
        """Return ``"relationship"`` or ``"safety"`` (plain networks: ``"relationship"``)."""
        if self.spec is None:
            return "relationship"
        return next((c.kind for c in self.spec.causes if c.id == cause), "relationship")

    @property
    def relationship_causes(self) -> tuple[str, ...]:
        """The causes shown as something to work on (not the safety ones)."""
        return tuple(c for c in self.causes if self.cause_kind(c) == "relationship")

    def answers_of(self, question: str) -> tuple[str, ...]:
        """Return the ordered answer labels of a question."""
        self.network.check_variable(question, "question", self.questions)
        return self.network.states[question]

    @cached_property
    def _questions_by_id(self) -> dict[str, Any]:
        return {q.id: q for q in self.spec.questions} if self.spec is not None else {}

    def question_text(self, question: str) -> str:
        """Return the text a person is asked (the id for networks without texts)."""
        q = self._questions_by_id.get(question)
        return q.text if q is not None else self.network.texts.get(question, question)

    def label(self, name: str) -> str:
        """Return the human label of a cause or facet (the id for plain networks)."""
        return self._info[name].label if name in self._info else name

    def cost(self, question: str) -> float:
        """Return the cost of asking a question or checklist (1 for plain networks)."""
        if question in self.groups:
            return self.groups[question].cost
        q = self._questions_by_id.get(question)
        return q.cost if q is not None else self.network.costs.get(question, 1.0)

    @property
    def question_costs(self) -> NDArray[np.float64]:
        """Costs of all questions, in :attr:`questions` order."""
        return np.array([self.cost(q) for q in self.questions], dtype=np.float64)

    @cached_property
    def question_texts(self) -> tuple[str, ...]:
        """Texts of all questions, in :attr:`questions` order."""
        return tuple(self.question_text(q) for q in self.questions)

    @cached_property
    def _info(self) -> dict[str, VariableInfo]:
        net = self.network
        out = {}
        labels: dict[str, str] = {}
        if self.spec is not None:
            labels = {c.id: c.label for c in self.spec.causes} | {f.id: f.label for f in self.spec.facets}
        for v in (*net.targets, *net.reported):
            kind = (
                ("cause" if v in net.targets else "facet")
                if self.spec
                else ("target" if v in net.targets else "latent")
            )
            states = net.states[v]
            named = present_states(net, v) or ()
            counted = tuple(states.index(x) for x in named) or ((0,) if len(states) < 2 else ())
            out[v] = VariableInfo(v, kind, labels.get(v, v), states, _present_index(states, named), counted)
        unnamed = [v for v, info in out.items() if not info.counted]
        if unnamed:  # nothing given or named: count every state but the likeliest a priori (one pass)
            prior = self._query(Evidence(1, {}), marginals=unnamed).marginals
            for v in unnamed:
                usual = int(np.argmax(prior[v][0]))
                others = tuple(i for i in range(len(out[v].states)) if i != usual)
                out[v] = VariableInfo(v, out[v].kind, out[v].label, out[v].states, others[0], others, usual)
        return out

    @property
    def variables(self) -> tuple[VariableInfo, ...]:
        """The reported variables (causes/targets, then facets) with labels and 'present' state."""
        return tuple(self._info.values())

    # ------------------------------------------------------------------ engine
    @cached_property
    def engine(self) -> Engine:
        """The compiled engine (planned when the model is made, built on first use, then cached)."""
        return compile_engine(
            self.network, estimate=self.memory_estimate, memory_budget=self.memory_budget, backend=self.backend
        )

    @cached_property
    def prior(self) -> Posterior:
        """The posterior with no answers (the model's priors)."""
        return self._posterior({}, self._query(Evidence(1, {}), joint=self.engine.has_joint), priors=None)

    def _query(self, evidence: Evidence, *, joint: bool = False, marginals: Sequence[str] | None = None) -> QueryResult:
        return self.engine.query(evidence.likelihoods, evidence.rows, joint=joint, marginals=marginals)

    def _posterior(self, answers: Mapping[str, Any], res: QueryResult, priors: Posterior | None) -> Posterior:
        marg = {v: res.marginals[v][0] for v in self._info}
        pri = priors.marginals if priors is not None else marg
        texts = {q: self.question_text(q) for q in answers}
        return Posterior(
            model_id=self.id,
            answers=dict(answers),
            variables=self.variables,
            marginals=marg,
            priors=pri,
            log_evidence=float(res.log_evidence[0]),
            target_order=self.engine.target_order if res.target_joint is not None else (),
            target_joint=res.target_joint[0] if res.target_joint is not None else None,
            disclaimer=self.disclaimer,
            question_text=texts,
            _model=self,
        )

    def posterior(self, answers: Mapping[str, Any] | None = None) -> Posterior:
        """Return the posterior of every cause and facet given ``answers``.

        Parameters
        ----------
        answers
            Question id -> answer label; ``None``/``'unsure'`` mean no evidence; a mapping
            label -> likelihood is a soft answer.

        Raises
        ------
        UnknownQuestionError, InvalidAnswerError
            An unknown question id (closest ids suggested) or an invalid answer (valid listed).
        ImpossibleEvidenceError
            The answers together have probability zero.
        """
        norm = normalise_answers(self.network, answers)
        res = self._query(from_answers(self.network, norm), joint=self.engine.has_joint)
        if not np.isfinite(res.log_evidence[0]):
            raise impossible_evidence(self.engine, norm)
        return self._posterior(norm, res, self.prior)

    def guidance(self, answers: Mapping[str, Any] | None = None) -> Any:
        """Return guidance for the likely causes, or the safety notice that replaces it.

        See :func:`distancing_bn.guidance.guidance_for`.
        """
        from .guidance import guidance_for

        return guidance_for(self, self.posterior(answers))

    def explain(self, answers: Mapping[str, Any], cause: str) -> Any:
        """Shortcut for ``model.posterior(answers).explain(cause)``."""
        return self.posterior(answers).explain(cause)

    # ------------------------------------------------------------------ batches
    def encode_frame(self, frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Turn question columns of labels into integer codes (-1 = unanswered), vectorised.

        Returns the codes and, per question, a boolean mask of invalid cells.
        """
        codes: dict[str, np.ndarray] = {}
        invalid: dict[str, np.ndarray] = {}
        for q in self.questions:
            if q in frame.columns:
                codes[q], invalid[q] = encode_labels(frame[q], self.network.states[q])
        return codes, invalid

    def posterior_batch(
        self, frame: pd.DataFrame, *, states: str = "present", chunk_size: int = BATCH_CHUNK
    ) -> pd.DataFrame:
        """Return the posterior of every cause and facet for every row of ``frame``.

        ``frame`` has one column per answered question (labels; blank/NaN/'unsure' =
        unanswered); other columns are ignored. The result has the same index and order, a
        column ``p_<id>`` per cause and facet (``<id>[<state>]`` per state with
        ``states='all'``) and ``log_evidence`` (natural log; ``-inf`` marks impossible rows).

        Raises
        ------
        DataError
            A cell is not a valid answer (row is 1-based, as in a file; column and valid
            answers named).
        """
        import pandas as pd

        codes, invalid = self.encode_frame(frame)
        for q, bad in invalid.items():
            if bad.any():
                i = int(np.argmax(bad))
                valid = ", ".join(f"'{s}'" for s in (*self.network.states[q], "unsure"))
                raise DataError(
                    f"row {i + 1}, column '{q}': {str(frame[q].iloc[i])[:40]!r} is not a valid answer; valid: {valid}",
                    row=i + 1,
                    column=q,
                )
        n = len(frame)
        out = self.marginals_from_codes(codes, n, chunk_size=chunk_size)
        result = {}
        for info in self.variables:
            m = out[info.id]
            if states == "all":
                for j, s in enumerate(info.states):
                    result[f"{info.id}[{s}]"] = m[:, j]
            else:
                result[f"p_{info.id}"] = info.p(m)
        result["log_evidence"] = out["__log_evidence__"][:, 0]
        return pd.DataFrame(result, index=frame.index)

    def marginals_from_codes(
        self, codes: Mapping[str, np.ndarray], n: int, *, chunk_size: int = BATCH_CHUNK
    ) -> dict[str, np.ndarray]:
        """Return marginals ``(n, card)`` per reported variable and ``__log_evidence__``, in chunks."""
        names = [v.id for v in self.variables]
        out = {v: np.empty((n, self.network.card(v))) for v in names}
        out["__log_evidence__"] = np.empty((n, 1))
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            ev = from_codes(self.network, {q: c[start:stop] for q, c in codes.items()}, stop - start)
            res = self._query(ev, marginals=names)
            for v in names:
                out[v][start:stop] = res.marginals[v]
            out["__log_evidence__"][start:stop, 0] = res.log_evidence
        return out

    # ------------------------------------------------------------------ questions
    def rank_questions(self, answers: Mapping[str, Any] | None = None, **kwargs: Any) -> QuestionRanking:
        """Rank the unanswered questions by expected information gain; see :mod:`information`."""
        from .information import rank_questions

        return rank_questions(self, answers, **kwargs)

    def next_question(
        self, answers: Mapping[str, Any] | None = None, *, stop: StopRule | None = None, **kwargs: Any
    ) -> StopDecision:
        """Return the best next question, or none with the reason the stop rule fired."""
        from .information import next_question

        return next_question(self, answers, stop=stop, **kwargs)

    def session(self, **kwargs: Any) -> Session:
        """Start an adaptive questionnaire session; see :class:`distancing_bn.session.Session`."""
        from .session import Session

        return Session(self, **kwargs)

    def score(
        self,
        frame: Any,
        mapping: Any = None,
        id_columns: Sequence[str] | None = None,
        next_question: bool = True,
        errors: str = "mark",
        *,
        facets: bool = False,
        strict: bool = False,
        workers: int = 1,
    ) -> Any:
        """Score every row of a table of answers; return a new table in the same row order.

        Parameters
        ----------
        frame
            A pandas DataFrame (or a ``dask.dataframe.DataFrame``, scored partition by
            partition) whose columns are question ids (cells: answer labels) and/or survey
            columns described by ``mapping``.
        mapping
            A survey mapping file path or :class:`~distancing_bn.mapping.SurveyMapping`.
        id_columns
            Columns copied to the output (default: every column that is not a question).
        next_question
            Add ``next_question`` and ``next_gain_bits`` (exact expected gain, per cost).
        errors
            ``'mark'``: an invalid cell marks its row's ``status``; ``'raise'``: raise
            :class:`~distancing_bn.errors.DataError` with the 1-based row and the column.
        facets
            Also return ``p_<facet>`` columns.
        strict
            Refuse columns that are neither questions, mapped, ignored nor id columns.
        workers
            Threads scoring blocks of 8192 rows side by side (pandas input only); the result
            does not depend on it. ``distancing-bn score`` uses every CPU (at most 4).

        Returns
        -------
        pandas.DataFrame
            Id columns, ``p_<cause>``…, ``top_cause``, ``top_probability``, [``next_question``,
            ``next_gain_bits``], ``status`` (``ok`` or why the row has no result).
        """
        from . import batch

        kwargs = {
            "mapping": mapping,
            "id_columns": id_columns,
            "next_question": next_question,
            "errors": errors,
            "facets": facets,
            "strict": strict,
        }
        if type(frame).__module__.startswith("dask"):
            return batch.score_dask(self, frame, **kwargs)
        return batch.score_frame(self, frame, workers=workers, **kwargs)  # type: ignore[arg-type]

    def simulate(self, n_cases: int = 2000, **kwargs: Any) -> Any:
        """Compare question policies on simulated cases; see :func:`distancing_bn.simulate.simulate`."""
        from .simulate import simulate

        return simulate(self, n_cases, **kwargs)

    # ------------------------------------------------------------------ interop
    def to_pgmpy(self) -> Any:
        """Return an equivalent pgmpy ``DiscreteBayesianNetwork`` (ids and answer labels kept)."""
        from .interop import to_pgmpy

        return to_pgmpy(self.network)

    def save(self, path: str | Path) -> None:
        """Write the model as ``.yaml`` (YAML models), ``.bif``, ``.xmlbif`` or ``.xdsl`` by suffix."""
        from .formats import save_model

        save_model(self, path)

    def info(self) -> dict[str, Any]:
        """Return a JSON-safe description: causes, facets, questions, links."""
        from .formats import model_info

        return model_info(self)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return (
            f"<Model {self.id} | {len(self.causes)} causes, {len(self.facets)} facets, {len(self.questions)} questions>"
        )

    def _repr_html_(self) -> str:
        import pandas as pd

        try:
            pri = self.prior.probabilities
            causes = pd.DataFrame(
                {"cause": [self.label(c) for c in self.causes], "prior": [pri[c] for c in self.causes]}
            )
            qs = pd.DataFrame(
                {
                    "question": list(self.questions),
                    "text": [self.question_text(q) for q in self.questions],
                    "answers": [", ".join(self.network.states[q]) for q in self.questions],
                }
            )
            return (
                f"<div><b>{html.escape(self.title)}</b> ({len(self.causes)} causes, "
                f"{len(self.facets)} facets, {len(self.questions)} questions)"
                + causes.to_html(index=False, escape=True, float_format=lambda x: f"{x:.3f}", border=0)
                + "<details><summary>questions</summary>"
                + qs.to_html(index=False, escape=True, border=0)
                + "</details>"
                + f"<p><i>{html.escape(self.disclaimer)}</i></p></div>"
            )
        except Exception:
            return f"<pre>{html.escape(repr(self))}</pre>"

    # ------------------------------------------------------------------ learning
    def fit(
        self,
        frame: pd.DataFrame,
        *,
        mapping: Any = None,
        prior_strength: float = 10.0,
        max_iter: int = 50,
        tol: float = 1e-6,
        learn: Sequence[str] | None = None,
    ) -> Model:
        """Return a new model whose numbers are learned from ``frame`` by EM; see :func:`distancing_bn.learn.em`."""
        from .learn import fit

        return fit(self, frame, mapping=mapping, prior_strength=prior_strength, max_iter=max_iter, tol=tol, learn=learn)
