"""Expected information gain checked against brute force from pgmpy's VariableElimination.

For every checked question ``Q`` and answers ``e`` the oracle computes, with one pgmpy query per
term::

    I(T; Q | e) = H(T | e) − Σ_a P(Q = a | e) · H(T | e, Q = a)

where ``P(Q = a | e)`` is also a pgmpy query, and compares it with ``rank_questions`` to 1e-9.
``T`` is the causes' joint (criterion ``joint``), each cause on its own summed over the causes
(criterion ``marginal``), or one named variable (``target=``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distancing_bn.formats import from_pgmpy, load_model
from distancing_bn.interop import to_pgmpy
from distancing_bn.model import Model
from distancing_bn.network import Network
from distancing_bn.simulate import sample_cases
from strategies import evidence_for, random_networks

pytestmark = pytest.mark.oracle
pytest.importorskip("pgmpy")

TOL = 1e-9


# ----------------------------------------------------------------------------- brute force
def _h(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


class Oracle:
    """Brute-force entropies and answer probabilities, one pgmpy query each (cached)."""

    def __init__(self, pgmpy_model: Any) -> None:
        from pgmpy.inference import VariableElimination

        self.ve = VariableElimination(pgmpy_model)

    @functools.cache  # noqa: B019 - one Oracle per module, kept for its life
    def _query(self, variables: tuple[str, ...], evidence: tuple[tuple[str, str], ...], joint: bool) -> Any:
        return self.ve.query(list(variables), evidence=dict(evidence) or None, joint=joint, show_progress=False)

    def distribution(self, variable: str, states: Sequence[str], evidence: Mapping[str, str]) -> np.ndarray:
        """P(variable | evidence) in our state order."""
        f = self._query((variable,), tuple(sorted(evidence.items())), True)
        names = [str(s) for s in f.state_names[variable]]
        values = np.asarray(f.values, dtype=float).ravel()
        return np.array([values[names.index(s)] for s in states])

    def entropy(self, targets: Sequence[str], evidence: Mapping[str, str], criterion: str) -> float:
        """H(T | e) of the joint of ``targets`` ('joint') or Σ_i H(T_i | e) ('marginal')."""
        ev = tuple(sorted(evidence.items()))
        if criterion == "joint":
            return _h(self._query(tuple(targets), ev, True).values)
        res = self._query(tuple(targets), ev, False)
        return sum(_h(res[t].values) for t in targets)

    def gain(
        self, targets: Sequence[str], question: str, states: Sequence[str], evidence: Mapping[str, str], criterion: str
    ) -> tuple[float, np.ndarray]:
        """Return (I(T; Q | e), P(Q | e)) by brute force."""
        p = self.distribution(question, states, evidence)
        h0 = self.entropy(targets, evidence, criterion)
        after = sum(
            pa * self.entropy(targets, {**evidence, question: a}, criterion)
            for a, pa in zip(states, p, strict=True)
            if pa > 0
        )
        return h0 - after, p


def check_ranking(
    model: Model,
    oracle: Oracle,
    answers: Mapping[str, str],
    questions: Sequence[str],
    targets: Sequence[str],
    measure: str,
    **kwargs: Any,
) -> float:
    """Compare rank_questions(**kwargs) with the oracle's ``measure`` on ``questions`` (unanswered).

    The model enters its premise (always-observed questions) itself; the oracle gets it as evidence.
    """
    r = model.rank_questions(answers, costs=False, **kwargs)
    evidence = {**answers, **model.observed}
    assert r.entropy_bits == pytest.approx(oracle.entropy(targets, evidence, measure), abs=TOL)
    for q in questions:
        states = model.network.states[q]
        expected, p = oracle.gain(targets, q, states, evidence, measure)
        i = r.questions.index(q)
        got = float(r.gain_bits[i])
        # the ranking clips rounding noise at 0
        assert got == pytest.approx(max(expected, 0.0), abs=TOL), (q, dict(answers))
        probs = np.array([r.answer_probabilities[i][s] for s in states])
        np.testing.assert_allclose(probs, p, rtol=0, atol=TOL, err_msg=f"{q} given {evidence}")
    return max((float(r.gain_bits[r.questions.index(q)]) for q in questions), default=0.0)


def random_answers(model: Model, n_sets: int, n_questions: int, seed: int) -> list[tuple[dict[str, str], list[str]]]:
    """``n_sets`` (answers, candidate questions) pairs; answers drawn from a forward sample so P(e) > 0."""
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n_sets, seed=seed)
    qs = list(model.questions)
    out = []
    for row in range(n_sets):
        k = int(rng.integers(0, 8)) if row else 0  # the first set: no answers at all
        answered = [str(q) for q in rng.choice(qs, size=k, replace=False)]
        answers = {q: model.network.states[q][int(cases[q][row])] for q in answered}
        rest = [q for q in qs if q not in answers]
        out.append((answers, [str(q) for q in rng.choice(rest, size=n_questions, replace=False)]))
    return out


# ----------------------------------------------------------------------------- default model
@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def oracle(model: Model) -> Oracle:
    return Oracle(model.to_pgmpy())


@pytest.mark.parametrize("case", range(5))
def test_joint_gain_matches_pgmpy_default_model(model: Model, oracle: Oracle, case: int) -> None:
    assert model.engine.has_joint
    assert model.observed == {"distance_noticed": "yes"}  # the premise, entered on both sides
    answers, questions = random_answers(model, 5, 6, seed=11)[case]
    best = check_ranking(model, oracle, answers, questions, list(model.causes), "joint", criterion="joint")
    assert best > 1e-3  # the comparison is not between zeros


@pytest.mark.parametrize("case", range(3))
def test_marginal_gain_matches_pgmpy_default_model(model: Model, oracle: Oracle, case: int) -> None:
    answers, questions = random_answers(model, 3, 4, seed=23)[case]
    check_ranking(model, oracle, answers, questions, list(model.causes), "marginal", criterion="marginal")
    r = model.rank_questions(answers, criterion="marginal")
    assert r.criterion == "marginal"


# ----------------------------------------------------------------------------- published network
ASIA_EVIDENCE = [
    {},
    {"xray": "yes"},
    {"smoke": "yes", "dysp": "no"},
    {"asia": "yes", "either": "no"},
    {"bronc": "yes", "xray": "no", "smoke": "no"},
]


@pytest.fixture(scope="module")
def asia(external_dir: Path) -> tuple[Model, Oracle]:
    from pgmpy.readwrite import BIFReader

    reference = BIFReader(str(external_dir / "networks" / "asia.bif")).get_model()  # parsed once
    return from_pgmpy(reference, targets=["lung", "tub"], name="asia"), Oracle(reference)


@pytest.mark.parametrize("answers", ASIA_EVIDENCE, ids=lambda e: ",".join(e) or "none")
def test_target_gain_matches_pgmpy_asia(asia: tuple[Model, Oracle], answers: dict[str, str]) -> None:
    model, oracle = asia
    questions = [q for q in model.questions if q not in answers]
    check_ranking(model, oracle, answers, questions, ["lung"], "joint", target="lung")
    r = model.rank_questions(answers, target="lung")
    assert r.criterion == "target=lung"
    for q in answers:  # answered questions gain nothing
        assert r.gain_bits[r.questions.index(q)] == 0.0


# ----------------------------------------------------------------------------- random networks
@given(data=st.data())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_joint_gain_matches_pgmpy_random_networks(data: st.DataObject) -> None:
    kwargs = data.draw(random_networks(max_nodes=6))
    net = Network.create(**kwargs)
    model = Model(net)
    oracle = Oracle(to_pgmpy(net))
    answers = data.draw(evidence_for(net))
    r = model.rank_questions(answers, criterion="joint")
    criterion = "joint" if model.engine.has_joint else "marginal"
    assert r.criterion == criterion
    questions = [q for q in model.questions if q not in answers]
    check_ranking(model, oracle, answers, questions, list(model.causes), criterion, criterion="joint")
