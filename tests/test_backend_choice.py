"""compile_engine picks the junction tree or the noisy-OR backend by cost; both answer exactly the same.

The choice comes from the cost estimates of :func:`distancing_bn.engine.noisyor.choose_backend`
(no timing), so which backend answers is deterministic; ``backend=`` forces one.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from distancing_bn import load_model
from distancing_bn.engine import compile_engine
from distancing_bn.engine.relevance import Relevance
from distancing_bn.errors import ModelTooLargeError
from distancing_bn.network import Network

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import sample_evidence
from tiers import likelihoods, make_tier, tier_evidence

TOL = 1e-9


def assert_same(a, b, names) -> None:  # type: ignore[no-untyped-def]
    la, lb = a.log_evidence, b.log_evidence
    assert np.array_equal(np.isfinite(la), np.isfinite(lb))
    ok = np.isfinite(la)
    np.testing.assert_allclose(lb[ok], la[ok], rtol=0, atol=TOL)
    for v in names:
        np.testing.assert_allclose(b.marginals[v], a.marginals[v], rtol=0, atol=TOL, err_msg=v)


@pytest.fixture(scope="module")
def tier15() -> Network:
    return make_tier(15, 100)


def test_the_noisy_backend_answers_where_answers_couple_few_causes(tier15: Network) -> None:
    auto, tree = compile_engine(tier15), compile_engine(tier15, backend="junction_tree")
    for rows, share in ((1, 0.1), (40, 0.1), (40, 0.3)):
        lik = likelihoods(tier15, tier_evidence(tier15, rows, share, answered=0.1, seed=rows))
        choice = auto.choose(lik, rows)
        assert choice.backend == "noisy" and choice.noisy_seconds < choice.tree_seconds  # type: ignore[operator]
        got = auto.query(lik, rows)
        assert auto.last_backend == "noisy"
        assert_same(tree.query(lik, rows), got, [*tier15.targets, *tier15.reported])
        assert tree.last_backend == "junction_tree"


def test_the_junction_tree_answers_where_it_is_cheaper() -> None:
    net = make_tier(9, 40)  # one 512-state clique: the tree is a few array calls
    auto, noisy = compile_engine(net), compile_engine(net, backend="noisy")
    lik, _, _ = sample_evidence(net, 500, 0.25, seed=3)
    assert auto.choose(lik, 500).backend == "junction_tree"
    got = auto.query(lik, 500, joint=True)
    assert auto.last_backend == "junction_tree"
    want = noisy.query(lik, 500, joint=True)
    assert noisy.last_backend == "noisy"
    assert_same(want, got, net.targets)
    np.testing.assert_allclose(got.target_joint, want.target_joint, rtol=0, atol=TOL)


def test_the_default_model_keeps_its_tree_and_equals_the_noisy_backend() -> None:
    model = load_model()
    net = model.network
    assert model.engine.backend == "auto"
    lik, _, _ = sample_evidence(net, 300, 0.25, seed=5)
    got = model.engine.query(lik, 300)
    assert model.engine.last_backend == "junction_tree"  # its cost estimate: the compiled tree is cheaper
    assert_same(compile_engine(net, backend="noisy").query(lik, 300), got, [*net.targets, *net.reported])


def test_a_network_whose_tree_does_not_fit_is_answered_by_the_noisy_backend() -> None:
    net = make_tier(30, 400)  # the junction tree's largest clique: 16.8M states
    with pytest.raises(ModelTooLargeError):
        compile_engine(net, backend="junction_tree")
    eng = compile_engine(net)
    assert eng.memory is None and eng.choose({}, 1).reason == "the junction tree does not fit in the memory budget"
    qs = list(net.observables)
    lik = {q: np.eye(net.card(q))[[1]] for q in qs[:6]}
    res = eng.query(lik, 1)
    assert eng.last_backend == "noisy"
    red = Relevance(net).reduce(qs[:6], [], net.targets)  # an independent exact answer: the pruned network's tree
    check = compile_engine(red.query, memory_budget=None, relevance=False, backend="junction_tree").query(lik, 1)  # type: ignore[arg-type]
    assert_same(res, check, list(net.targets))
    with pytest.raises(ModelTooLargeError, match="16,777,216 joint states"):
        eng.tree  # noqa: B018  (asked for, the whole tree says why it cannot be built)
    with pytest.raises(ValueError, match="noisy-OR backend"):
        compile_engine(make_tier(9, 40), backend="noisy").tree  # noqa: B018


def test_forced_noisy_backend_ranks_questions_as_the_tree_does() -> None:
    net = make_tier(9, 40)
    noisy, tree = compile_engine(net, backend="noisy"), compile_engine(net, backend="junction_tree")
    lik = likelihoods(net, tier_evidence(net, 6, 0.1, answered=0.1, seed=8))
    cands = list(net.observables)
    for criterion in ("joint", "marginal"):
        a = tree.expected_gains(lik, 6, cands, criterion=criterion)
        b = noisy.expected_gains(lik, 6, cands, criterion=criterion)
        answered = np.stack([~np.all(lik[q] == 1.0, axis=1) if q in lik else np.zeros(6, bool) for q in cands], 1)
        np.testing.assert_allclose(b[~answered], a[~answered], rtol=0, atol=1e-9)
    assert noisy.joint_gain_applies(cands) and noisy.has_joint
    available = ~np.stack([~np.all(lik[q] == 1.0, axis=1) if q in lik else np.zeros(6, bool) for q in cands], 1)
    best_t = tree.best_questions(lik, 6, cands, available=available)
    best_n = noisy.best_questions(lik, 6, cands, available=available)
    np.testing.assert_allclose(best_n.gain, best_t.gain, rtol=0, atol=1e-9)


def test_a_network_of_full_tables_never_weighs_the_noisy_backend() -> None:
    states = {v: ("no", "yes") for v in ("a", "b", "q")}
    parents = {"a": (), "b": (), "q": ("a", "b")}
    cpts = {"a": [0.7, 0.3], "b": [0.6, 0.4], "q": [[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.6, 0.4]]]}
    net = Network.create("full", states, parents, cpts, targets=["a", "b"])
    eng = compile_engine(net)
    assert eng.choose({}, 1).reason == "the network is not mostly noisy-OR / noisy-MAX"
    eng.query({"q": np.array([[0.0, 1.0]])}, 1)
    assert eng.last_backend == "junction_tree"


def test_backend_is_checked_and_the_engine_pickles_with_it(tier15: Network) -> None:
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'junction_tree', 'noisy', got 'fast'"):
        compile_engine(tier15, backend="fast")
    from distancing_bn import Model

    with pytest.raises(ValueError, match="backend must be one of 'auto', 'junction_tree', 'noisy', got 'fast'"):
        Model(tier15, backend="fast")  # at once, not at the first query
    assert Model(tier15, backend="noisy").memory_estimate is None  # no junction tree is planned for it
    eng = compile_engine(tier15)
    lik = likelihoods(tier15, tier_evidence(tier15, 3, 0.1, answered=0.1, seed=4))
    first = eng.query(lik, 3)
    cloudpickle = pytest.importorskip("cloudpickle")  # how dask ships an engine to its workers
    back = pickle.loads(cloudpickle.dumps(eng))  # our own object, as a process pool ships it
    assert_same(first, back.query(lik, 3), tier15.targets)
    assert back.last_backend == "noisy"


def test_a_model_whose_tree_does_not_fit_works_end_to_end_on_the_noisy_backend() -> None:
    import pandas as pd

    from distancing_bn import Model

    net = make_tier(30, 400)
    with pytest.raises(ModelTooLargeError):
        Model(net, backend="junction_tree")
    model = Model(net)
    assert model.memory_estimate is None and model.memory_budget == 2 << 30
    qs = list(net.observables)
    answers = {q: net.states[q][1] for q in qs[:6]} | {q: net.states[q][0] for q in qs[6:30]}
    post = model.posterior(answers)
    assert model.engine.last_backend == "noisy"
    lik = {q: np.eye(net.card(q))[[net.states[q].index(a)]] for q, a in answers.items()}
    red = Relevance(net).reduce(list(answers), [], net.targets)  # an independent exact answer
    check = compile_engine(red.query, memory_budget=None, relevance=False, backend="junction_tree").query(lik, 1)  # type: ignore[arg-type]
    for c in net.targets:
        np.testing.assert_allclose(post.marginal(c).to_numpy(), check.marginals[c][0], rtol=0, atol=TOL)
    ranking = model.rank_questions(answers)
    assert ranking.criterion == "marginal" and ranking.best not in answers  # 2^30 causes: no joint
    frame = pd.DataFrame([{q: net.states[q][(i + j) % 2] for j, q in enumerate(qs[:12])} for i in range(20)])
    scored = model.score(frame, next_question=True)
    assert len(scored) == 20 and scored["status"].eq("ok").all() and scored["next_question"].notna().all()
    first = model.score(frame.iloc[[3]])
    cause = net.targets[0]
    column = f"p_{cause}"
    assert abs(first[column].iloc[0] - scored[column].iloc[3]) < 1e-9


def test_a_model_ranks_questions_the_same_on_either_backend(tier15: Network) -> None:
    from distancing_bn import Model

    qs = list(tier15.observables)
    answers = {q: tier15.states[q][1] for q in qs[:6]} | {q: tier15.states[q][0] for q in qs[6:30]}
    tree = Model(tier15, backend="junction_tree").rank_questions(answers)
    noisy = Model(tier15, backend="noisy").rank_questions(answers)
    assert tree.questions == noisy.questions and tree.best == noisy.best
    np.testing.assert_allclose(noisy.gain_bits, tree.gain_bits, rtol=0, atol=1e-9)
