"""Known answers and invariants of the inference layer (``Model.posterior``/``posterior_batch``).

Hand computations by Bayes' rule on a two-cause toy network and on Monty Hall, brute-force
enumeration of the joint for ``log P(e)`` and the targets' joint, batch/single agreement, and
underflow safety. No pgmpy needed (the pgmpy oracle lives in ``tests/oracle``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import distancing_bn
from distancing_bn import Model, Network
from distancing_bn.engine.plan import FOLD_KEPT
from distancing_bn.simulate import sample_cases

AB = ("absent", "present")


# ----------------------------------------------------------------------------- networks
# A and B are independent causes; E (no/yes) depends on both, F (low/mid/high) on A only.
PA, PB = F(3, 10), F(1, 5)
P_E_YES = {(0, 0): F(1, 10), (0, 1): F(1, 2), (1, 0): F(7, 10), (1, 1): F(9, 10)}
P_F = {0: (F(6, 10), F(3, 10), F(1, 10)), 1: (F(2, 10), F(3, 10), F(5, 10))}


def toy_network() -> Network:
    e = np.array([[[1 - float(P_E_YES[a, b]), float(P_E_YES[a, b])] for b in (0, 1)] for a in (0, 1)])
    return Network.create(
        "toy",
        {"A": AB, "B": AB, "E": ("no", "yes"), "F": ("low", "mid", "high")},
        {"A": (), "B": (), "E": ("A", "B"), "F": ("A",)},
        {
            "A": [1 - float(PA), float(PA)],
            "B": [1 - float(PB), float(PB)],
            "E": e,
            "F": [[float(x) for x in P_F[0]], [float(x) for x in P_F[1]]],
        },
        targets=["A", "B"],
    )


@pytest.fixture(scope="module")
def toy() -> Model:
    return Model(toy_network())


def monty_hall() -> Model:
    doors = ("d1", "d2", "d3")
    host = np.zeros((3, 3, 3))  # (prize, choice, opened)
    for prize, choice in itertools.product(range(3), range(3)):
        allowed = [d for d in range(3) if d not in (prize, choice)]
        for d in allowed:
            host[prize, choice, d] = 1 / len(allowed)
    net = Network.create(
        "monty",
        {"prize": doors, "choice": doors, "opened": doors},
        {"prize": (), "choice": (), "opened": ("prize", "choice")},
        {"prize": np.full(3, 1 / 3), "choice": np.full(3, 1 / 3), "opened": host},
        targets=["prize"],
        observables=["choice", "opened"],
    )
    return Model(net)


@pytest.fixture(scope="module")
def default_model() -> Model:
    return distancing_bn.load_model()


def brute_force(model: Model, answers: Mapping[str, Any]) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Enumerate the full joint: return P(e), every target's marginal and the targets' joint."""
    net = model.network
    variables = list(net.variables)
    cards = [net.card(v) for v in variables]
    targets = list(net.targets)
    p_e = 0.0
    joint = np.zeros([net.card(t) for t in targets])
    for config in itertools.product(*(range(c) for c in cards)):
        x = dict(zip(variables, config, strict=True))
        p = 1.0
        for v in variables:
            p *= float(net.cpts[v][(*(x[u] for u in net.parents[v]), x[v])])
        for q, a in answers.items():
            states = net.states[q]
            p *= float(a[states[x[q]]]) if isinstance(a, Mapping) else float(states[x[q]] == a)
        p_e += p
        joint[tuple(x[t] for t in targets)] += p
    margs = {t: joint.sum(axis=tuple(j for j in range(len(targets)) if j != i)) / p_e for i, t in enumerate(targets)}
    return p_e, margs, joint / p_e


def sampled_answers(model: Model, n: int, seed: int, share: float = 0.3) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n, seed=seed)
    out = []
    for i in range(n):
        out.append({q: model.answers_of(q)[int(cases[q][i])] for q in model.questions if rng.random() < share})
    return out


# ----------------------------------------------------------------------------- known answers
def test_toy_posterior_by_hand(toy: Model) -> None:
    # P(A, B, E=yes) summed by hand, then Bayes' rule
    a1 = PA * (PB * P_E_YES[1, 1] + (1 - PB) * P_E_YES[1, 0])
    a0 = (1 - PA) * (PB * P_E_YES[0, 1] + (1 - PB) * P_E_YES[0, 0])
    b1 = PB * (PA * P_E_YES[1, 1] + (1 - PA) * P_E_YES[0, 1])
    assert a1 + a0 == F(348, 1000)
    post = toy.posterior({"E": "yes"})
    assert post.marginal("A")["present"] == pytest.approx(float(a1 / (a1 + a0)), abs=1e-12)
    assert post.marginal("B")["present"] == pytest.approx(float(b1 / (a1 + a0)), abs=1e-12)
    assert post.log_evidence == pytest.approx(math.log(0.348), abs=1e-12)

    # and with F = high as well (F depends on A only)
    hi = 2
    a1f, a0f = a1 * P_F[1][hi], a0 * P_F[0][hi]
    b1f = PB * (PA * P_E_YES[1, 1] * P_F[1][hi] + (1 - PA) * P_E_YES[0, 1] * P_F[0][hi])
    p_e = a1f + a0f
    assert p_e == F(1236, 10000)
    post = toy.posterior({"E": "yes", "F": "high"})
    assert post.marginal("A")["present"] == pytest.approx(float(a1f / p_e), abs=1e-12)
    assert post.marginal("B")["present"] == pytest.approx(float(b1f / p_e), abs=1e-12)
    assert post.probabilities["A"] == pytest.approx(float(a1f / p_e), abs=1e-12)
    assert post.log_evidence == pytest.approx(math.log(float(p_e)), abs=1e-12)


def test_toy_prior_by_hand(toy: Model) -> None:
    np.testing.assert_allclose(toy.prior.marginal("A").to_numpy(), [0.7, 0.3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(toy.prior.marginal("B").to_numpy(), [0.8, 0.2], rtol=0, atol=1e-15)
    assert toy.prior.log_evidence == pytest.approx(0.0, abs=1e-13)  # log 1, up to rounding


@pytest.mark.parametrize("e", [None, "no", "yes", {"no": 0.2, "yes": 0.7}])
@pytest.mark.parametrize("f", [None, "low", "mid", "high", {"low": 0.0, "mid": 1.0, "high": 0.5}])
def test_toy_matches_enumeration(toy: Model, e: Any, f: Any) -> None:
    answers = {k: v for k, v in (("E", e), ("F", f)) if v is not None}
    p_e, margs, joint = brute_force(toy, answers)
    post = toy.posterior(answers)
    assert post.log_evidence == pytest.approx(math.log(p_e), rel=1e-13, abs=1e-13)
    for t in ("A", "B"):
        np.testing.assert_allclose(post.marginal(t).to_numpy(), margs[t], rtol=0, atol=1e-13)
    assert post.target_order == ("A", "B")
    np.testing.assert_allclose(post.target_joint, joint, rtol=0, atol=1e-13)


def test_monty_hall() -> None:
    model = monty_hall()
    post = model.posterior({"choice": "d1", "opened": "d2"})
    m = post.marginal("prize")
    assert m["d3"] == pytest.approx(2 / 3, abs=1e-12)  # switch!
    assert m["d1"] == pytest.approx(1 / 3, abs=1e-12)
    assert m["d2"] == 0.0
    # P(choice = d1, opened = d2) = 1/3 * (1/3 * 1/2 + 1/3 * 1) = 1/6
    assert post.log_evidence == pytest.approx(math.log(1 / 6), abs=1e-12)
    # every (choice, opened) pair with choice != opened: the remaining door has 2/3
    for c, o in itertools.permutations(range(3), 2):
        other = ({0, 1, 2} - {c, o}).pop()
        p = model.posterior({"choice": f"d{c + 1}", "opened": f"d{o + 1}"}).marginal("prize")
        assert p.iloc[other] == pytest.approx(2 / 3, abs=1e-12)
        assert p.iloc[c] == pytest.approx(1 / 3, abs=1e-12)
    # the choice alone tells nothing about the prize
    np.testing.assert_allclose(model.posterior({"choice": "d2"}).marginal("prize"), [1 / 3] * 3, atol=1e-15)


# ----------------------------------------------------------------------------- invariants
def test_posterior_sums_to_one(default_model: Model) -> None:
    for answers in sampled_answers(default_model, 15, seed=1, share=0.5):
        post = default_model.posterior(answers)
        for v in default_model.variables:
            m = post.marginal(v.id).to_numpy()
            assert np.all(m >= 0) and m.sum() == pytest.approx(1.0, abs=1e-12)
        if post.target_joint is not None:
            assert post.target_joint.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all((post.probabilities >= 0) & (post.probabilities <= 1))


def test_unsure_and_none_give_exactly_the_prior(default_model: Model) -> None:
    blanks: list[Any] = [None, "unsure", "Unsure ", "UNSURE", "", float("nan")]
    answers = {q: blanks[i % len(blanks)] for i, q in enumerate(default_model.questions)}
    post = default_model.posterior(answers)
    prior = default_model.prior
    assert post.answers == {}
    # no answer: the evidence is the premise alone, as when it is answered in a network without it
    net = default_model.network
    assert dict(net.observed) == {"distance_noticed": "yes"}
    open_net = Network.create(
        net.name,
        net.states,
        net.parents,
        net.cpts,
        targets=net.targets,
        observables=[*net.observables, *net.observed],
        reported=net.reported,
    )
    premise = Model(open_net).posterior(dict(net.observed))
    assert premise.log_evidence < -0.01
    assert post.log_evidence == prior.log_evidence == pytest.approx(premise.log_evidence, abs=1e-13)
    for c in default_model.causes:
        np.testing.assert_allclose(prior.marginal(c).to_numpy(), premise.marginal(c).to_numpy(), rtol=0, atol=1e-13)
    for v in default_model.variables:
        np.testing.assert_array_equal(post.marginal(v.id).to_numpy(), prior.marginal(v.id).to_numpy())
    np.testing.assert_array_equal(post.target_joint, prior.target_joint)
    # 'unsure' next to real answers is the same as leaving the question out
    real = {"job_insecurity": "yes"}
    with_unsure = default_model.posterior(real | {q: "unsure" for q in default_model.questions[:10] if q not in real})
    pd.testing.assert_series_equal(
        with_unsure.probabilities,
        default_model.posterior(real).probabilities,
        check_exact=False,
        rtol=0,
        atol=1e-15,
    )
    # and no answers at all is the prior
    pd.testing.assert_series_equal(default_model.posterior().probabilities, prior.probabilities)
    pd.testing.assert_series_equal(default_model.posterior({}).probabilities, prior.probabilities)


def test_order_of_answers_does_not_matter(default_model: Model) -> None:
    rng = np.random.default_rng(3)
    for answers in sampled_answers(default_model, 5, seed=4, share=0.6):
        items = list(answers.items())
        if items:
            q = items[0][0]
            items[0] = (
                q,
                dict(zip(default_model.answers_of(q), rng.uniform(0.1, 1, 3).tolist(), strict=False)),
            )
        base = default_model.posterior(dict(items))
        for _ in range(3):
            perm = [items[i] for i in rng.permutation(len(items))]
            other = default_model.posterior(dict(perm))
            np.testing.assert_allclose(other.probabilities, base.probabilities, rtol=0, atol=1e-13)
            assert other.log_evidence == pytest.approx(base.log_evidence, rel=1e-13, abs=1e-13)


# ----------------------------------------------------------------------------- batches
def _frame(model: Model, answers: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(answers, columns=list(model.questions), dtype=object)


def test_batch_equals_single_queries(default_model: Model, toy: Model) -> None:
    for model, rows in (
        (default_model, sampled_answers(default_model, 25, seed=8)),
        (toy, [{}, {"E": "yes"}, {"F": "mid"}, {"E": "no", "F": "high"}]),
    ):
        frame = _frame(model, rows)
        frame.index = pd.Index([f"r{i}" for i in range(len(rows))])
        batch = model.posterior_batch(frame)
        assert list(batch.index) == list(frame.index)
        assert list(batch.columns) == [f"p_{v.id}" for v in model.variables] + ["log_evidence"]
        for (label, row), answers in zip(batch.iterrows(), rows, strict=True):
            post = model.posterior(answers)
            for v in model.variables:
                assert row[f"p_{v.id}"] == pytest.approx(post.probabilities[v.id], abs=1e-12), label
            assert row["log_evidence"] == pytest.approx(post.log_evidence, rel=1e-12, abs=1e-12)
        full = model.posterior_batch(frame, states="all")
        for v in model.variables:
            cols = [f"{v.id}[{s}]" for s in v.states]
            np.testing.assert_allclose(full[cols].sum(axis=1), 1.0, atol=1e-12)
            np.testing.assert_allclose(full[cols[v.present]], batch[f"p_{v.id}"], atol=1e-15)


def test_batch_blank_cells_are_unanswered(toy: Model) -> None:
    frame = pd.DataFrame(
        {
            "E": ["yes", None, "unsure", "", float("nan"), " YES "],
            "F": [None, "high", float("nan"), "", "unsure", None],
            "other": range(6),
        }
    )
    batch = toy.posterior_batch(frame)
    prior = toy.prior.probabilities
    for i in (2, 3, 4):
        assert batch.iloc[i]["p_A"] == pytest.approx(prior["A"], abs=1e-15)
        assert batch.iloc[i]["log_evidence"] == pytest.approx(0.0, abs=1e-15)
    assert batch.iloc[0]["p_A"] == pytest.approx(toy.posterior({"E": "yes"}).probabilities["A"], abs=1e-12)
    assert batch.iloc[5]["p_A"] == pytest.approx(batch.iloc[0]["p_A"], abs=1e-15)
    assert batch.iloc[1]["p_A"] == pytest.approx(toy.posterior({"F": "high"}).probabilities["A"], abs=1e-12)


def test_batch_row_order_and_chunk_size_do_not_change_results(default_model: Model) -> None:
    rows = sampled_answers(default_model, 40, seed=12)
    frame = _frame(default_model, rows)
    base = default_model.posterior_batch(frame)
    # bit-identical is not promised (BLAS may round differently for other shapes): 1e-12
    for chunk in (1, 7, 40, 1000):
        other = default_model.posterior_batch(frame, chunk_size=chunk)
        pd.testing.assert_frame_equal(other, base, check_exact=False, rtol=1e-12, atol=1e-12)
    perm = np.random.default_rng(0).permutation(len(frame))
    shuffled = default_model.posterior_batch(frame.iloc[perm])
    assert list(shuffled.index) == list(frame.index[perm])
    pd.testing.assert_frame_equal(shuffled.loc[frame.index], base, check_exact=False, rtol=1e-12, atol=1e-12)
    shuffled7 = default_model.posterior_batch(frame.iloc[perm], chunk_size=7)
    pd.testing.assert_frame_equal(shuffled7.loc[frame.index], base, check_exact=False, rtol=1e-12, atol=1e-12)


def test_empty_batch(toy: Model) -> None:
    out = toy.posterior_batch(pd.DataFrame({"E": pd.Series([], dtype=object)}))
    assert len(out) == 0 and "p_A" in out.columns and "log_evidence" in out.columns


# ----------------------------------------------------------------------------- joint of the targets
def test_top_explanations_match_the_enumerated_joint(toy: Model) -> None:
    answers = {"E": "yes", "F": "mid"}
    _, _, joint = brute_force(toy, answers)
    top = toy.posterior(answers).top_explanations(k=10)
    assert len(top) == 4
    assert list(top["rank"]) == [1, 2, 3, 4]
    assert top["probability"].sum() == pytest.approx(1.0, abs=1e-12)
    assert list(top["probability"]) == sorted(top["probability"], reverse=True)
    a, b = np.unravel_index(np.argmax(joint), joint.shape)
    assert (top.iloc[0]["A"], top.iloc[0]["B"]) == (AB[a], AB[b])
    assert top.iloc[0]["probability"] == pytest.approx(joint.max(), abs=1e-13)
    for row in top.itertuples():
        assert row.probability == pytest.approx(joint[AB.index(row.A), AB.index(row.B)], abs=1e-13)
        present = [t for t in ("A", "B") if getattr(row, t) == "present"]
        assert row.present == (" + ".join(present) or "none")


def test_top_explanations_on_default_model(default_model: Model) -> None:
    for answers in sampled_answers(default_model, 4, seed=21, share=0.4):
        post = default_model.posterior(answers)
        top5 = post.top_explanations(5)
        assert len(top5) == 5
        assert top5["probability"].sum() <= 1 + 1e-12
        everything = post.top_explanations(10_000)
        assert len(everything) == 2 ** len(default_model.causes)
        assert everything["probability"].sum() == pytest.approx(1.0, abs=1e-12)
        joint = post.target_joint
        idx = np.unravel_index(np.argmax(joint), joint.shape)
        best = {t: default_model.network.states[t][i] for t, i in zip(post.target_order, idx, strict=True)}
        assert {t: top5.iloc[0][t] for t in post.target_order} == best
        assert top5.iloc[0]["probability"] == pytest.approx(joint.max(), abs=1e-15)
        # the joint's marginals are the posterior marginals
        for i, t in enumerate(post.target_order):
            m = joint.sum(axis=tuple(j for j in range(joint.ndim) if j != i))
            np.testing.assert_allclose(m, post.marginal(t).to_numpy(), atol=1e-12)


# ----------------------------------------------------------------------------- underflow
N_LEAVES = 400


@pytest.fixture(scope="module")
def many_leaves() -> Model:
    states: dict[str, tuple[str, ...]] = {"c": AB}
    parents: dict[str, tuple[str, ...]] = {"c": ()}
    cpts: dict[str, Any] = {"c": [0.7, 0.3]}
    for i in range(N_LEAVES):
        states[f"q{i}"] = ("no", "yes")
        parents[f"q{i}"] = ("c",)
        cpts[f"q{i}"] = [[0.999, 0.001], [0.99, 0.01]]
    return Model(Network.create("many", states, parents, cpts, targets=["c"]))


def _expected(lik_absent: float, lik_present: float) -> tuple[float, float]:
    """log P(e) and P(c = present | e) for N_LEAVES answers with these per-answer likelihoods."""
    la = math.log(0.7) + N_LEAVES * math.log(lik_absent)
    lp = math.log(0.3) + N_LEAVES * math.log(lik_present)
    top = max(la, lp)
    log_e = top + math.log(math.exp(la - top) + math.exp(lp - top))
    return log_e, math.exp(lp - log_e)


def test_many_small_hard_answers_do_not_underflow(many_leaves: Model) -> None:
    post = many_leaves.posterior({f"q{i}": "yes" for i in range(N_LEAVES)})
    log_e, p = _expected(0.001, 0.01)
    assert math.isfinite(post.log_evidence) and post.log_evidence < -1000  # P(e) ~ 1e-800
    assert post.log_evidence == pytest.approx(log_e, rel=1e-12)
    assert post.marginal("c").sum() == pytest.approx(1.0, abs=1e-12)
    assert post.marginal("c")["present"] == pytest.approx(p, abs=1e-12)
    batch = many_leaves.posterior_batch(pd.DataFrame([{f"q{i}": "yes" for i in range(N_LEAVES)}] * 3))
    np.testing.assert_allclose(batch["log_evidence"], log_e, rtol=1e-12)
    np.testing.assert_allclose(batch["p_c"], p, atol=1e-12)


def test_many_small_soft_answers_do_not_underflow(many_leaves: Model) -> None:
    soft = {"no": 1e-3, "yes": 2e-3}
    post = many_leaves.posterior({f"q{i}": soft for i in range(N_LEAVES)})
    # each answer multiplies P(e | c) by 0.001 * P(no | c) + 0.002 * P(yes | c)
    log_e, p = _expected(1e-3 * 0.999 + 2e-3 * 0.001, 1e-3 * 0.99 + 2e-3 * 0.01)
    assert math.isfinite(post.log_evidence)
    assert post.log_evidence == pytest.approx(log_e, rel=1e-12)
    assert post.marginal("c").sum() == pytest.approx(1.0, abs=1e-12)
    assert post.marginal("c")["present"] == pytest.approx(p, abs=1e-12)


def _check_scaled_soft_answer(model: Model, scale: float) -> None:
    q = "job_insecurity"
    base = model.posterior({q: {"no": 1.0, "yes": 2.0}})
    post = model.posterior({q: {"no": 1.0 * scale, "yes": 2.0 * scale}})
    np.testing.assert_allclose(post.probabilities, base.probabilities, rtol=0, atol=1e-12)
    assert post.log_evidence == pytest.approx(base.log_evidence + math.log(scale), rel=1e-12)


@pytest.mark.parametrize("scale", [1e-300, 1e-5, 1e5, 1e300])
def test_soft_answer_scale_does_not_change_the_posterior(default_model: Model, scale: float) -> None:
    _check_scaled_soft_answer(default_model, scale)


def test_subnormal_soft_answer_does_not_change_the_posterior(default_model: Model) -> None:
    _check_scaled_soft_answer(default_model, 5e-324)


# ----------------------------------------------------------------------------- memory budget
def pairs_network(n_causes: int) -> Network:
    """``n_causes`` two-state causes and one question per pair of them: tiny tables, one huge clique."""
    causes = [f"c{i}" for i in range(n_causes)]
    states: dict[str, tuple[str, ...]] = {c: AB for c in causes}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, Any] = {c: [0.9, 0.1] for c in causes}
    for a, b in itertools.combinations(causes, 2):
        q = f"q_{a}_{b}"
        states[q] = ("no", "yes")
        parents[q] = (a, b)
        cpts[q] = [[[0.9, 0.1], [0.5, 0.5]], [[0.5, 0.5], [0.1, 0.9]]]
    return Network.create("pairs", states, parents, cpts, targets=causes)


def test_clique_over_the_budget_is_refused_before_it_is_built() -> None:
    net = pairs_network(30)  # the moral graph is complete: one clique of 2^30 states
    with pytest.raises(distancing_bn.ModelTooLargeError) as info:
        Model(net)
    err = info.value
    assert isinstance(err, distancing_bn.ModelError)
    assert err.largest_states == 2**30 and len(err.variables) == 30
    assert err.budget_bytes == 2 << 30 and err.needed_bytes > err.budget_bytes
    msg = str(err)
    assert "1,073,741,824 joint states" in msg and "c0, c1" in msg and "2.0 GiB" in msg
    assert f"{err.needed_bytes:,} bytes" in msg
    assert "fewer causes" in msg and "memory_budget" in msg


def test_memory_budget_is_a_keyword_of_the_model_and_the_engine() -> None:
    net = pairs_network(8)  # 256 states
    estimate = Model(net).memory_estimate
    assert estimate.largest_states == 256 and set(estimate.largest) == set(net.targets)
    with pytest.raises(distancing_bn.ModelTooLargeError, match=r"memory budget of 1\.0 KiB"):
        Model(net, memory_budget=1024)
    with pytest.raises(distancing_bn.ModelTooLargeError):
        distancing_bn.engine.compile_engine(net, memory_budget=estimate.needed_bytes - 1)
    exact = Model(net, memory_budget=estimate.needed_bytes).memory_estimate
    assert exact.needed_bytes == estimate.needed_bytes and exact.max_rows() == 1
    assert Model(net, memory_budget=None).memory_estimate.max_rows() is None
    for bad in (0, -1, 1.5, "2GiB", True):
        with pytest.raises(ValueError, match="memory_budget must be a positive number of bytes or None"):
            Model(net, memory_budget=bad)  # type: ignore[arg-type]


def test_sizes_do_not_overflow_with_forty_three_state_targets() -> None:
    # 3^40 > 2^63: an int64 product wraps around to a negative size, which passed the joint limit
    names = [f"t{i}" for i in range(40)]
    states: dict[str, tuple[str, ...]] = {t: ("a", "b", "c") for t in names}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, Any] = {t: [0.5, 0.3, 0.2] for t in names}
    for t in names:
        states[f"q_{t}"] = ("no", "yes")
        parents[f"q_{t}"] = (t,)
        cpts[f"q_{t}"] = [[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]]
    model = Model(Network.create("wide", states, parents, cpts, targets=names))
    assert not model.engine.has_joint and model.memory_estimate.largest_states <= 128  # merged small cliques
    post = model.posterior({"q_t0": "yes"})
    expected = np.array([0.5 * 0.1, 0.3 * 0.5, 0.2 * 0.9])
    np.testing.assert_allclose(post.marginals["t0"], expected / expected.sum(), atol=1e-12)
    assert model.rank_questions({"q_t0": "yes"}).criterion == "marginal"


def _array_bytes(obj: Any, seen: set[int]) -> int:
    """Bytes of every numpy array reachable from ``obj`` (each buffer once)."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        if base is not obj and id(base) in seen:
            return 0
        seen.add(id(base))
        return base.nbytes
    if isinstance(obj, Mapping):
        return sum(_array_bytes(k, seen) + _array_bytes(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return sum(_array_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return _array_bytes(vars(obj), seen)
    return 0


@pytest.mark.parametrize(
    "which",
    ["toy", "monty", "default", "pairs"],
)
def test_memory_estimate_bounds_the_compiled_arrays(which: str, default_model: Model) -> None:
    makers = {
        "toy": lambda: Model(toy_network()),
        "monty": monty_hall,
        "pairs": lambda: Model(pairs_network(9)),
        "default": lambda: Model(default_model.network),
    }
    model = makers[which]()
    engine = model.engine
    model.prior  # noqa: B018 - fills the lazy caches (prior pass, projections)
    model.rank_questions({})
    skip = {id(model.network), *(id(a) for a in model.network.cpts.values())}
    actual = _array_bytes({k: v for k, v in vars(engine).items() if k not in ("network", "memory")}, skip)
    estimate = engine.memory.tree_bytes
    assert actual <= estimate <= 4 * actual + 4096


def test_batches_run_in_passes_within_the_budget(default_model: Model) -> None:
    rows = 300
    cases = sample_cases(default_model, rows, seed=5)
    rng = np.random.default_rng(5)
    codes = {q: np.where(rng.random(rows) < 0.3, cases[q], -1) for q in default_model.questions}
    ev = distancing_bn.evidence.from_codes(default_model.network, codes, rows)
    est = default_model.memory_estimate
    small = Model(default_model.network, memory_budget=est.needed_bytes + 7 * est.gain_row_bytes)
    assert small.engine.max_rows < rows and small.engine.max_gain_rows == 8
    names = [v.id for v in default_model.variables]
    qs = list(default_model.questions)
    whole = default_model.engine.query(ev.likelihoods, rows, marginals=names, joint=True)
    passes = small.engine.query(ev.likelihoods, rows, marginals=names, joint=True)
    np.testing.assert_allclose(passes.log_evidence, whole.log_evidence, rtol=1e-12)
    np.testing.assert_allclose(passes.target_joint, whole.target_joint, atol=1e-12)
    for v in names:
        np.testing.assert_allclose(passes.marginals[v], whole.marginals[v], atol=1e-12)
    g1, h1, p1, l1 = default_model.engine.joint_gains(ev.likelihoods, rows, qs)
    g2, h2, p2, l2 = small.engine.joint_gains(ev.likelihoods, rows, qs)
    np.testing.assert_allclose(g2, g1, atol=1e-12)
    np.testing.assert_allclose(h2, h1, atol=1e-12)
    np.testing.assert_allclose(l2, l1, rtol=1e-12)
    for a, b in zip(p1, p2, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-12)
    available = np.column_stack([codes[q] < 0 for q in qs])
    kw = {"available": available, "costs": default_model.question_costs, "marginals": names}
    b1 = default_model.engine.best_questions(ev.likelihoods, rows, qs, **kw)
    b2 = small.engine.best_questions(ev.likelihoods, rows, qs, **kw)
    np.testing.assert_array_equal(b2.index, b1.index)
    np.testing.assert_allclose(b2.gain, b1.gain, atol=1e-12)
    np.testing.assert_allclose(b2.result.marginals[names[0]], b1.result.marginals[names[0]], atol=1e-12)


PUBLISHED_TARGETS = {
    "asia": ["lung", "tub"],
    "alarm": ["HYPOVOLEMIA", "LVFAILURE"],
    "child": ["BirthAsphyxia"],
    "child_pyagrum_compatible": ["BirthAsphyxia"],
    "insurance": ["Age"],
    "hepar2": ["alcoholism"],
    "win95pts": ["AppOK"],
    "andes": ["GOAL_2"],
    "pathfinder": ["Fault"],
}
REPO_MODELS = sorted((Path(__file__).resolve().parents[1] / "models").rglob("*.yaml"))


@pytest.mark.parametrize(
    "path",
    [p for p in REPO_MODELS if "mappings" not in p.parts],
    ids=lambda p: p.name,
)
def test_bundled_models_compile_far_inside_the_default_budget(path: Path) -> None:
    estimate = distancing_bn.load_model(path).memory_estimate
    # 2%: the default model's root clique is the joint of its 12 causes (4096 states); its arrays take about 14 MB
    assert estimate.needed_bytes < estimate.budget / 50  # type: ignore[operator]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PUBLISHED_TARGETS))
def test_published_networks_compile_far_inside_the_default_budget(external_dir: Path, name: str) -> None:
    path = next((external_dir / "networks").rglob(f"{name}.bif"))
    model = distancing_bn.load_network(path, targets=PUBLISHED_TARGETS[name])
    estimate = model.memory_estimate
    assert estimate.budget == 2 << 30
    assert estimate.needed_bytes < estimate.budget / 10  # andes, the largest, needs about 140 MiB
    assert model.engine.max_rows >= 100


def test_caches_stay_bounded_over_many_different_answer_sets(default_model: Model) -> None:
    model = Model(default_model.network)
    rng = np.random.default_rng(11)
    questions = list(model.questions)
    for _ in range(400):  # every call a different set of answered questions
        chosen = rng.choice(len(questions), size=int(rng.integers(1, 25)), replace=False)
        answers = {questions[j]: model.answers_of(questions[j])[0] for j in chosen}
        model.engine.joint_gains(
            distancing_bn.evidence.from_answers(model.network, answers).likelihoods,
            1,
            [q for q in questions if q not in answers],
        )
    for c in model.engine.tree.cliques:
        if c.fold is not None:
            assert len(c.fold_used) <= 64 and c.fold_used.nbytes <= FOLD_KEPT * c.fold.nbytes
    assert len(model.engine.tree.gain_layouts) <= 256
