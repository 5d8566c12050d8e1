"""Exact joint gain kernels (:mod:`distancing_bn.engine.gains`).

``Engine.best_questions`` skips candidates by an upper bound; it must pick exactly the question
that ranking every exact gain picks (same tie rule), with the same gain, and give the same
posterior as a plain query. The bound itself must never be below the exact gain. Exactness of
the gains against pgmpy is in ``tests/oracle/test_information_oracle.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from distancing_bn import load_model
from distancing_bn.engine.gains import upper_bounds
from distancing_bn.model import Model
from distancing_bn.network import Network
from distancing_bn.simulate import sample_cases
from strategies import random_networks


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


def random_likelihoods(model: Model, rows: int, seed: int, share: float = 0.25, soft: float = 0.1) -> dict:
    """Answers sampled from the model for a share of questions; some of them soft."""
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, rows, seed=seed)
    out = {}
    for q in model.questions:
        k = model.network.card(q)
        lam = np.ones((rows, k))
        hard = rng.random(rows) < share
        lam[hard] = np.eye(k)[cases[q][hard]]
        soft_rows = ~hard & (rng.random(rows) < soft)
        lam[soft_rows] = rng.random((int(soft_rows.sum()), k)) + 0.05
        out[q] = lam
    return out


def reference_best(model: Model, lik: dict, rows: int, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every exact gain, then the first question within 1e-12 of the best gain per cost."""
    qs = list(model.questions)
    gains = model.engine.joint_gains(lik, rows, qs)[0]
    answered = np.stack([~np.all(lik[q] == 1.0, axis=1) for q in qs], axis=1)
    score = np.where(answered, -np.inf, gains / costs)
    top = score.max(axis=1, keepdims=True)
    index = np.argmax(score >= top - 1e-12, axis=1)
    none = ~np.isfinite(top[:, 0])
    return np.where(none, -1, index), np.where(none, np.nan, gains[np.arange(rows), index])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("unit_costs", [True, False])
def test_best_question_equals_ranking_every_gain(model: Model, seed: int, unit_costs: bool) -> None:
    rows = 1500
    lik = random_likelihoods(model, rows, seed)
    qs = list(model.questions)
    rng = np.random.default_rng(seed + 10)
    costs = np.ones(len(qs)) if unit_costs else rng.uniform(0.5, 3.0, len(qs))
    available = ~np.stack([~np.all(lik[q] == 1.0, axis=1) for q in qs], axis=1)
    best = model.engine.best_questions(lik, rows, qs, available=available, costs=costs, marginals=model.causes)
    ref_index, ref_gain = reference_best(model, lik, rows, costs)
    np.testing.assert_array_equal(best.index, ref_index)
    np.testing.assert_allclose(best.gain, ref_gain, rtol=0, atol=1e-12)
    # the bound did its job: far fewer exact gains than candidates
    assert best.computed.sum() < 0.5 * available.sum()
    query = model.engine.query(lik, rows, marginals=list(model.causes))
    for c in model.causes:
        np.testing.assert_allclose(best.result.marginals[c], query.marginals[c], rtol=0, atol=1e-13)
    np.testing.assert_allclose(best.result.log_evidence, query.log_evidence, rtol=0, atol=1e-10)


def test_upper_bound_is_never_below_the_exact_gain(model: Model) -> None:
    rows = 800
    lik = random_likelihoods(model, rows, seed=3, share=0.4, soft=0.2)
    qs = list(model.questions)
    gains = model.engine.joint_gains(lik, rows, qs)[0]
    tree = model.engine.tree
    _lam, belief, up, _ = tree.collect(lik, rows)
    full = tree.distribute(belief, up, rows)
    bound = upper_bounds(tree, full, qs, rows)
    unanswered = np.stack([np.all(lik[q] == 1.0, axis=1) for q in qs], axis=1)
    assert np.all(bound[unanswered] >= gains[unanswered] - 1e-12)
    # questions whose parents are all causes: the bound is the gain itself
    root_hosted = [j for j, q in enumerate(qs) if tree.leaf_host[model.network.index[q]] == tree.root]
    assert root_hosted
    sub = unanswered[:, root_hosted]
    np.testing.assert_allclose(bound[:, root_hosted][sub], gains[:, root_hosted][sub], atol=1e-12)


def test_rows_with_everything_answered_have_no_question(model: Model) -> None:
    qs = list(model.questions)
    cases = sample_cases(model, 3, seed=4)
    lik = {q: np.eye(model.network.card(q))[cases[q]] for q in qs}
    available = np.zeros((3, len(qs)), dtype=bool)
    available[1, 5] = True  # only row 1 may be asked, and only question 5
    lik[qs[5]][1] = 1.0
    best = model.engine.best_questions(lik, 3, qs, available=available)
    assert best.index.tolist() == [-1, 5, -1]
    assert np.isnan(best.gain[[0, 2]]).all() and best.gain[1] >= 0


def test_ties_go_to_the_first_question() -> None:
    """Two questions with identical tables tie exactly; the first one is chosen in every row."""
    cpts = {
        "c1": np.array([0.7, 0.3]),
        "c2": np.array([0.6, 0.4]),
        "q1": np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.3, 0.7], [0.1, 0.9]]]),
        "q2": np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.3, 0.7], [0.1, 0.9]]]),
        "q3": np.array([[0.8, 0.2], [0.5, 0.5]]),
    }
    net = Network.create(
        name="tie",
        states={v: ("a", "b") for v in cpts},
        parents={"c1": (), "c2": (), "q1": ("c1", "c2"), "q2": ("c1", "c2"), "q3": ("c1",)},
        cpts=cpts,
        targets=["c1", "c2"],
        observables=["q3", "q2", "q1"],
    )
    m = Model(net)
    qs = list(m.questions)
    lik = {"q3": np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])}
    available = np.ones((3, 3), dtype=bool)
    available[1:, qs.index("q3")] = False
    best = m.engine.best_questions(lik, 3, qs, available=available)
    first_of_pair = min(qs.index("q1"), qs.index("q2"))
    assert best.index.tolist() == [first_of_pair] * 3


@given(data=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_best_question_on_random_networks(data: st.DataObject) -> None:
    kwargs: dict[str, Any] = data.draw(random_networks(max_nodes=8))
    net = Network.create(**kwargs)
    m = Model(net)
    qs = list(m.questions)
    assume(qs and m.engine.joint_gain_applies(qs))
    rows = 40
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    lik = {}
    for q in qs:
        k = net.card(q)
        lam = np.ones((rows, k))
        hard = rng.random(rows) < 0.4
        lam[hard] = np.eye(k)[rng.integers(0, k, int(hard.sum()))]
        lik[q] = lam
    costs = rng.uniform(0.5, 2.0, len(qs))
    available = np.stack([np.all(lik[q] == 1.0, axis=1) for q in qs], axis=1)
    best = m.engine.best_questions(lik, rows, qs, available=available, costs=costs)
    ref_index, ref_gain = reference_best(m, lik, rows, costs)
    possible = np.isfinite(m.engine.query(lik, rows, marginals=[]).log_evidence)
    np.testing.assert_array_equal(best.index[possible], ref_index[possible])
    np.testing.assert_allclose(best.gain[possible], ref_gain[possible], rtol=0, atol=1e-12)
