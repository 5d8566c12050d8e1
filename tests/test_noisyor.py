"""The noisy-OR / noisy-MAX backend (:mod:`distancing_bn.engine.noisyor`) is exact.

Compared, to 1e-9, with the junction tree (:func:`distancing_bn.engine.compile_engine`),
pyAgrum's LazyPropagation and pgmpy's VariableElimination on the benchmark tiers 9/40 and
15/100 (hard, soft and three-level answers, up to 30% positive, with a premise), with the tree
on small random networks under Hypothesis (cause-to-cause links, facets, explicit tables, wide
questions, premises, several rows at once), with the tree on the default model, and at 30/400
with Quickscore computed in exact rationals (``fractions``). Also: detection of local structure
from the tables, and the next-question gains against :func:`distancing_bn.information.rank_questions`.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distancing_bn import load_model
from distancing_bn.cpt import binary_table, noisy_max, noisy_or
from distancing_bn.engine import compile_engine
from distancing_bn.engine.local import detect_noisy, local_structure
from distancing_bn.engine.noisyor import NoisyEngine, choose_backend
from distancing_bn.errors import ModelTooLargeError, UnknownQuestionError
from distancing_bn.evidence import Evidence, from_answers, normalise_answers
from distancing_bn.information import batch_gains_from_evidence, entropy_bits, rank_questions
from distancing_bn.network import Network
from strategies import random_networks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from tiers import likelihoods, make_tier, tier_evidence, to_pgmpy, to_pyagrum

TOL = 1e-9


# ---------------------------------------------------------------------------- helpers
def assert_same(a, b, names, *, joint: bool = False) -> None:
    """Two QueryResults agree: log P(e) (both -inf where impossible) and every marginal, to TOL."""
    la, lb = a.log_evidence, b.log_evidence
    assert np.array_equal(np.isfinite(la), np.isfinite(lb))
    ok = np.isfinite(la)
    np.testing.assert_allclose(lb[ok], la[ok], rtol=0, atol=TOL)
    for v in names:
        np.testing.assert_allclose(b.marginals[v], a.marginals[v], rtol=0, atol=TOL, err_msg=v)
    if joint:
        np.testing.assert_allclose(b.target_joint, a.target_joint, rtol=0, atol=TOL)


def small_network(
    seed: int,
    *,
    causes: int = 4,
    facets: int = 2,
    questions: int = 7,
    explicit: float = 0.15,
    premise: bool = False,
    max_parents: int = 6,
) -> Network:
    """A random diagnostic network: noisy-OR cause links, facets, noisy-OR/MAX and explicit questions."""
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(causes)]
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for j, c in enumerate(names):
        ps = [names[i] for i in range(j) if rng.random() < 0.35]
        states[c], parents[c] = ("absent", "present"), tuple(ps)
        if ps and rng.random() < 0.2:  # a cause without local structure
            cpts[c] = rng.dirichlet([1.0, 1.0], size=(2,) * len(ps))
        else:
            cpts[c] = noisy_or(float(rng.uniform(0.05, 0.6)), [float(rng.uniform(0.1, 0.9)) for _ in ps])
    fnames = []
    for k in range(facets):
        f = f"f{k}"
        fnames.append(f)
        states[f], parents[f] = ("absent", "present"), (names[int(rng.integers(causes))],)
        cpts[f] = binary_table(float(rng.uniform(0.0, 0.3)), float(rng.uniform(0.3, 1.0)))
    latent = names + fnames
    qnames = []
    for k in range(questions):
        q = f"q{k}"
        qnames.append(q)
        n_pa = int(rng.integers(1, min(max_parents, len(latent)) + 1))
        ps = [latent[i] for i in sorted(rng.choice(len(latent), size=n_pa, replace=False))]
        levels = int(rng.choice([2, 3]))
        states[q] = ("no", "yes") if levels == 2 else ("no", "some", "a_lot")
        parents[q] = tuple(ps)
        if rng.random() < explicit:
            cpts[q] = rng.dirichlet([1.0] * levels, size=(2,) * n_pa)
        else:
            leak = rng.dirichlet([4.0] + [1.0] * (levels - 1))[1:] * 0.5
            strengths = [rng.dirichlet([1.0] * levels)[1:] for _ in ps]
            cpts[q] = noisy_max([float(x) for x in leak], [[float(x) for x in s] for s in strengths])
    observed = {}
    if premise:
        observed = {qnames[-1]: states[qnames[-1]][1]}
    return Network.create(
        f"small_{seed}",
        states,
        parents,
        cpts,
        targets=names,
        observables=[q for q in qnames if q not in observed],
        reported=fnames,
        observed=observed,
    )


def random_likelihoods(net: Network, rows: int, seed: int) -> dict[str, np.ndarray]:
    """Per row and question: unanswered, a hard level, a step ('at most y'), or a random soft likelihood."""
    rng = np.random.default_rng(seed)
    out = {}
    for q in net.observables:
        k = net.card(q)
        lam = np.ones((rows, k))
        kind = rng.integers(0, 5, size=rows)
        for r in range(rows):
            if kind[r] == 1 or kind[r] == 2:
                lam[r] = np.eye(k)[int(rng.integers(k)) if kind[r] == 1 else 0]
            elif kind[r] == 3:
                lam[r] = rng.uniform(0.0, 2.0, size=k)
            elif kind[r] == 4:
                lam[r, int(rng.integers(1, k + 1)) :] = 0.0
        out[q] = lam
    return out


def brute_gains(engine, net: Network, lik: Mapping[str, np.ndarray], cands, criterion: str) -> np.ndarray:
    """Gains from one query per answer of every candidate (the definition of rank_questions)."""
    row = {q: a for q, a in lik.items()}
    base = engine.query(row, 1, marginals=list(net.targets), joint=criterion == "joint")

    def uncertainty(res):
        if criterion == "joint":
            return entropy_bits(res.target_joint.reshape(1, -1))[0]
        return sum(entropy_bits(res.marginals[t])[0] for t in net.targets)

    h0 = uncertainty(base)
    out = []
    for q in cands:
        ps, hs = [], []
        for a in range(net.card(q)):
            r2 = dict(row)
            r2[q] = np.eye(net.card(q))[a : a + 1]
            res = engine.query(r2, 1, marginals=list(net.targets), joint=criterion == "joint")
            ps.append(math.exp(res.log_evidence[0] - base.log_evidence[0]) if np.isfinite(res.log_evidence[0]) else 0.0)
            hs.append(uncertainty(res))
        p = np.array(ps) / sum(ps)
        out.append(max(0.0, h0 - float(np.sum(np.where(p > 0, p * np.array(hs), 0.0)))))
    return np.array(out)


# ---------------------------------------------------------------------------- local structure
@pytest.mark.parametrize("seed", range(6))
def test_noisy_tables_are_detected_with_their_parameters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = 2 + seed % 3
    n = 1 + seed % 4
    leak = rng.dirichlet([5.0] + [1.0] * (levels - 1))[1:] * 0.4
    strengths = [rng.dirichlet([1.0] * levels)[1:] for _ in range(n)]
    table = noisy_max(list(leak), [list(s) for s in strengths])
    states = {f"p{i}": ("a", "b") for i in range(n)} | {"y": tuple(f"l{k}" for k in range(levels))}
    cpts = {f"p{i}": np.array([0.7, 0.3]) for i in range(n)} | {"y": table}
    net = Network.create("one", states, {"y": tuple(f"p{i}" for i in range(n))}, cpts, targets=["p0"])
    found = detect_noisy(net, "y")
    assert found is not None
    assert found.kind == ("noisy-or" if levels == 2 else "noisy-max")
    np.testing.assert_allclose(found.leak, np.concatenate([[1 - leak.sum()], leak]), atol=1e-12)
    np.testing.assert_allclose(found.strengths[:, 1:], np.array(strengths), atol=1e-12)  # type: ignore[index]
    np.testing.assert_allclose(found.cumulative(), np.cumsum(table, axis=-1), atol=1e-12)


def test_a_perturbed_table_is_not_detected() -> None:
    table = noisy_max([0.05, 0.02], [[0.3, 0.4], [0.5, 0.1], [0.2, 0.2]])
    states = {"a": ("n", "y"), "b": ("n", "y"), "c": ("n", "y"), "q": ("0", "1", "2")}
    prior = np.array([0.8, 0.2])
    parents = {"q": ("a", "b", "c")}
    good = Network.create("g", states, parents, {"a": prior, "b": prior, "c": prior, "q": table}, targets=["a"])
    assert detect_noisy(good, "q") is not None
    moved = table.copy()
    moved[1, 1, 0] += [1e-9, -1e-9, 0.0]  # still a proper distribution, no longer a product
    bad = Network.create("b", states, parents, {"a": prior, "b": prior, "c": prior, "q": moved}, targets=["a"])
    assert detect_noisy(bad, "q") is None
    assert local_structure(bad)["q"] is None


def test_an_inhibiting_parent_factorises_but_is_not_noisy_or() -> None:
    f0 = (
        0.9 * np.array([1.0, 0.95 / 0.9])[:, None] * np.array([1.0, 2.0 / 3.0])[None, :]
    )  # P(no | a, b): a lowers P(yes)
    table = np.stack([f0, 1.0 - f0], axis=-1)
    states = {"a": ("n", "y"), "b": ("n", "y"), "q": ("no", "yes")}
    cpts = {"a": np.array([0.5, 0.5]), "b": np.array([0.5, 0.5]), "q": table}
    net = Network.create("i", states, {"q": ("a", "b")}, cpts, targets=["a"])
    found = detect_noisy(net, "q")
    assert found is not None and found.kind == "product"


def test_default_model_local_structure() -> None:
    net = load_model().network
    found = local_structure(net)
    explicit = {v for v, s in found.items() if s is None}
    assert explicit == {"duration", "stress_eased", "always_like_this", "onset"}
    assert all(found[c] is not None and found[c].kind in ("noisy-or", "product") for c in net.targets)
    assert found["less_contact"].kind == "noisy-max"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- benchmark tiers
@pytest.fixture(scope="module", params=[(9, 40), (15, 100)], ids=["9x40", "15x100"])
def tier(request):
    net = make_tier(*request.param)
    return net, compile_engine(net), NoisyEngine(net)


def _agrum_posteriors(ie, net: Network, answers: Mapping[str, int | tuple[float, ...]]) -> dict[str, np.ndarray]:
    ie.setEvidence({q: (int(a) if isinstance(a, int) else list(a)) for q, a in answers.items()})
    ie.makeInference()
    return {t: ie.posterior(t).toarray() for t in net.targets}


def test_tier_builders_agree(tier) -> None:
    """pgmpy's and pyAgrum's copies of a tier carry exactly our tables."""
    net = tier[0]
    bn = to_pyagrum(net)
    model = to_pgmpy(net)
    for v in net.variables:
        cpt = bn.cpt(v)
        axis = {p: i for i, p in enumerate(net.parents[v])} | {v: len(net.parents[v])}
        ours = np.transpose(net.cpts[v], [axis[n] for n in reversed(cpt.names)])
        np.testing.assert_array_equal(cpt.toarray(), ours)
        cpd = model.get_cpds(v)
        assert list(cpd.variables) == [v, *net.parents[v]]
        np.testing.assert_array_equal(np.moveaxis(cpd.values, 0, -1), net.cpts[v])


@pytest.mark.parametrize(
    ("positive", "answered", "soft"),
    [(0.1, 1.0, 0.0), (0.3, 1.0, 0.0), (0.1, 0.1, 0.0), (0.3, 0.3, 0.0), (0.1, 0.5, 0.3)],
)
def test_tiers_match_pyagrum_and_the_tree(tier, positive: float, answered: float, soft: float) -> None:
    import pyagrum as gum

    net, jt, ne = tier
    answers = tier_evidence(net, 4, positive, answered=answered, soft=soft, seed=int(100 * positive + 10 * answered))
    lik = likelihoods(net, answers)
    assert_same(jt.query(lik, 4), ne.query(lik, 4), net.targets)
    ie = gum.LazyPropagation(to_pyagrum(net))
    for r, ans in enumerate(answers):
        want = _agrum_posteriors(ie, net, ans)
        one = ne.query({q: a[r : r + 1] for q, a in lik.items()}, 1)
        for t in net.targets:
            np.testing.assert_allclose(one.marginals[t][0], want[t], rtol=0, atol=TOL)


@pytest.mark.parametrize("positive", [0.1, 0.3])
def test_tiers_match_pgmpy(tier, positive: float) -> None:
    from pgmpy.inference import VariableElimination

    net, _, ne = tier
    ve = VariableElimination(to_pgmpy(net))
    for ans in tier_evidence(net, 2, positive, answered=1.0 if positive < 0.3 else 0.4, seed=7):
        ev = {q: net.states[q][a] for q, a in ans.items()}
        res = ve.query(list(net.targets), evidence=ev, joint=False, show_progress=False)
        ours = ne.query(likelihoods(net, [ans]), 1)
        for t in net.targets:
            f = res[t]
            want = np.array([f.values[f.state_names[t].index(s)] for s in net.states[t]])
            np.testing.assert_allclose(ours.marginals[t][0], want, rtol=0, atol=TOL)


def test_tier_with_a_premise_matches_pyagrum() -> None:
    import pyagrum as gum

    base = make_tier(9, 40)
    premise = "Q001"  # three levels, entered as always 'some'
    net = Network.create(
        "premise",
        dict(base.states),
        dict(base.parents),
        dict(base.cpts),
        targets=list(base.targets),
        observables=[q for q in base.observables if q != premise],
        observed={premise: "some"},
    )
    ne, jt = NoisyEngine(net), compile_engine(net)
    answers = tier_evidence(net, 3, 0.2, answered=0.6, seed=3)
    lik = likelihoods(net, answers)
    assert_same(jt.query(lik, 3), ne.query(lik, 3), net.targets)
    ie = gum.LazyPropagation(to_pyagrum(net))
    for r, ans in enumerate(answers):
        want = _agrum_posteriors(ie, net, {**ans, premise: 1})
        got = ne.query({q: a[r : r + 1] for q, a in lik.items()}, 1)
        for t in net.targets:
            np.testing.assert_allclose(got.marginals[t][0], want[t], rtol=0, atol=TOL)


# ---------------------------------------------------------------------------- random networks
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    causes=st.integers(1, 5),
    facets=st.integers(0, 3),
    questions=st.integers(1, 9),
    premise=st.booleans(),
    aux=st.sampled_from([2, 3, 5]),
    rows=st.integers(1, 6),
)
def test_random_networks_match_the_tree(
    seed: int, causes: int, facets: int, questions: int, premise: bool, aux: int, rows: int
) -> None:
    net = small_network(seed, causes=causes, facets=facets, questions=questions + premise, premise=premise)
    jt = compile_engine(net)
    ne = NoisyEngine(net, aux_parents=aux)
    lik = random_likelihoods(net, rows, seed + 1)
    wanted = [*net.targets, *net.reported, *net.observables[:3]]
    assert_same(
        jt.query(lik, rows, marginals=wanted, joint=True),
        ne.query(lik, rows, marginals=wanted, joint=True),
        wanted,
        joint=True,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=random_networks(max_nodes=8, max_parents=3), rows=st.integers(1, 4), seed=st.integers(0, 1000))
def test_general_networks_match_the_tree(parts, rows: int, seed: int) -> None:
    """Any network (2-4 states, observables with children, little local structure): still exact."""
    net = Network.create(
        parts["name"],
        parts["states"],
        parts["parents"],
        parts["cpts"],
        targets=parts["targets"],
        observables=parts["observables"],
    )
    lik = random_likelihoods(net, rows, seed)
    wanted = [*net.targets, *net.observables]
    assert_same(
        compile_engine(net).query(lik, rows, marginals=wanted),
        NoisyEngine(net).query(lik, rows, marginals=wanted),
        wanted,
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), criterion=st.sampled_from(["marginal", "joint"]), aux=st.sampled_from([2, 5]))
def test_random_network_gains_match_their_definition(seed: int, criterion: str, aux: int) -> None:
    net = small_network(seed, causes=3, facets=2, questions=6)
    jt = compile_engine(net)
    ne = NoisyEngine(net, aux_parents=aux)
    lik = random_likelihoods(net, 1, seed)
    open_q = [q for q in net.observables if np.all(lik[q] == 1.0)]
    if not open_q:
        lik.pop(net.observables[0])
        open_q = [net.observables[0]]
    got = ne.gains(lik, 1, open_q, criterion=criterion)  # type: ignore[arg-type]
    want = brute_gains(jt, net, lik, open_q, criterion)
    np.testing.assert_allclose(got.gains[0], want, rtol=0, atol=TOL)


def test_impossible_rows() -> None:
    states = {"c": ("absent", "present"), "d": ("absent", "present"), "q1": ("no", "yes"), "q2": ("no", "yes")}
    parents = {"q1": ("c", "d"), "q2": ("c",)}
    cpts = {
        "c": np.array([0.7, 0.3]),
        "d": np.array([0.6, 0.4]),
        "q1": noisy_or(0.0, [1.0, 0.0]),  # yes exactly when c is present
        "q2": np.array([[0.0, 1.0], [1.0, 0.0]]),  # yes exactly when c is absent
    }
    net = Network.create("impossible", states, parents, cpts, targets=["c", "d"])
    lik = {"q1": np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]]), "q2": np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])}
    res = NoisyEngine(net).query(lik, 3)
    assert np.isneginf(res.log_evidence[[0, 2]]).all() and np.isfinite(res.log_evidence[1])
    assert np.all(res.marginals["c"][[0, 2]] == 0.0)
    assert_same(compile_engine(net).query(lik, 3), res, ["c", "d"])


def test_rows_in_passes_under_a_small_budget() -> None:
    net = small_network(11, causes=5, facets=2, questions=9)
    lik = random_likelihoods(net, 40, 2)
    small = NoisyEngine(net, memory_budget=60_000)
    assert_same(compile_engine(net).query(lik, 40), small.query(lik, 40), net.targets)


def test_errors_name_the_variable() -> None:
    net = make_tier(9, 40)
    ne = NoisyEngine(net)
    with pytest.raises(UnknownQuestionError, match="Q0400"):
        ne.query({"Q0400": np.ones((1, 2))}, 1)
    with pytest.raises(ValueError, match="Q000"):
        ne.query({"Q000": np.ones((2, 2))}, 1)
    with pytest.raises(ValueError, match="criterion"):
        ne.gains({}, 1, criterion="decision")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the default model
@pytest.fixture(scope="module")
def default_model():
    model = load_model()
    return model, NoisyEngine(model.network)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_model_matches_the_tree(default_model, seed: int) -> None:
    model, ne = default_model
    net = model.network
    lik = random_likelihoods(net, 12, seed)
    wanted = [*net.targets, *net.reported, "duration", "less_contact", "isolates_you", "always_like_this"]
    assert_same(model.engine.query(lik, 12, marginals=wanted), ne.query(lik, 12, marginals=wanted), wanted)
    assert_same(model.engine.query(lik, 12, joint=True), ne.query(lik, 12, joint=True), net.targets, joint=True)


@pytest.mark.parametrize("criterion", ["marginal", "joint"])
def test_default_model_gains_equal_rank_questions(default_model, criterion: str) -> None:
    model, ne = default_model
    net = model.network
    answers = {
        "shuts_down": "often",
        "longer_hours": "yes",
        "duration": "months",
        "less_contact": "a_lot",
        "low_mood": "no",
    }
    ranking = rank_questions(model, answers, criterion=criterion, costs=False, groups=False)  # type: ignore[arg-type]
    norm = normalise_answers(net, answers)
    cands = [q for q in model.questions if q not in norm]
    got = ne.gains(from_answers(net, norm).likelihoods, 1, cands, criterion=criterion)  # type: ignore[arg-type]
    want = np.array([ranking.gain_bits[ranking.questions.index(q)] for q in cands])
    np.testing.assert_allclose(got.gains[0], want, rtol=0, atol=TOL)
    assert got.entropy[0] == pytest.approx(ranking.entropy_bits, abs=TOL)
    lik = random_likelihoods(net, 6, 5)
    batch = batch_gains_from_evidence(model, Evidence(6, lik), criterion=criterion)
    mine = ne.gains(lik, 6, list(model.questions), criterion=criterion)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.where(mine.open, mine.gains, 0.0), np.where(mine.open, batch, 0.0), rtol=0, atol=TOL)


def test_default_model_ranks_the_same_with_either_engine(default_model) -> None:
    """Swapped in for the junction tree, the backend gives rank_questions the same answers."""
    model, ne = default_model
    answers = {"shuts_down": "sometimes", "worn_out": "yes", "low_mood": "no", "less_contact": "a_little"}
    want = {c: rank_questions(model, answers, criterion=c, groups=False) for c in ("joint", "marginal")}
    swapped = load_model()
    swapped.__dict__["engine"] = ne  # the cached property, replaced
    for c, ranking in want.items():
        got = rank_questions(swapped, answers, criterion=c, groups=False)  # type: ignore[arg-type]
        assert got.questions == ranking.questions
        np.testing.assert_allclose(got.gain_bits, ranking.gain_bits, rtol=0, atol=TOL)
    lik = random_likelihoods(model.network, 5, 9)
    ev = Evidence(5, lik)
    answered = np.stack([~np.all(lik[q] == 1.0, axis=1) for q in model.questions], axis=1)
    for c in ("joint", "marginal", "decision"):
        want_b = batch_gains_from_evidence(model, ev, criterion=c)
        got_b = batch_gains_from_evidence(swapped, ev, criterion=c)
        np.testing.assert_allclose(np.where(answered, 0, got_b), np.where(answered, 0, want_b), rtol=0, atol=TOL)
    qs = list(model.questions)
    tree_best = model.engine.best_questions(lik, 5, qs, available=~answered, marginals=list(model.network.targets))
    ours = ne.best_questions(lik, 5, qs, available=~answered, marginals=list(model.network.targets))
    np.testing.assert_array_equal(ours.index, tree_best.index)
    np.testing.assert_allclose(ours.gain, tree_best.gain, rtol=0, atol=TOL)
    assert_same(tree_best.result, ours.result, model.network.targets)


# ---------------------------------------------------------------------------- 30 causes, 400 questions
Dyadic = tuple[int, int]  # the exact number n · 2**e (every float is one)


def _dy(x: float | Fraction) -> Dyadic:
    f = Fraction(x)
    den = f.denominator
    assert den & (den - 1) == 0, "not a dyadic rational"
    return f.numerator, -(den.bit_length() - 1)


def _mul(a: Dyadic, b: Dyadic) -> Dyadic:
    return a[0] * b[0], a[1] + b[1]


def _add(a: Dyadic, b: Dyadic) -> Dyadic:
    e = min(a[1], b[1])
    return (a[0] << (a[1] - e)) + (b[0] << (b[1] - e)), e


def _ratio(a: Dyadic, b: Dyadic) -> Fraction:
    shift = a[1] - b[1]
    return Fraction(a[0] << max(shift, 0), b[0] << max(-shift, 0))


def quickscore_exact(net: Network, answers: Mapping[str, int]) -> tuple[float, dict[str, Fraction]]:
    """log P(e), and P(cause present | e) as exact fractions, by Quickscore over the positive answers.

    Independent of the engine. Each answered question's cumulative table is taken as the
    idealised noisy-MAX its entries define, ``F_y(x) = L_y Π_i (A_i / L_y)^{x_i}`` with
    ``L_y = P(Y <= y | no cause)`` and ``A_i = P(Y <= y | cause i alone)`` read from the table;
    a negative answer is ``F_0``, a positive one ``y`` is ``F_y - F_{y-1}``, so the evidence is
    a signed sum of ``2^k`` fully factorised products (``k`` positive answers). Each is summed
    exactly over the causes' prior (noisy-OR links), one connected component at a time.
    Every number is a float or a sum of products of floats, i.e. a dyadic rational ``n · 2^e``;
    the ratios ``A_i / L_y`` are cleared by multiplying every term by the same product of
    leaks, so all sums stay exact integers scaled by powers of two, and only the final
    ratio is a Fraction.
    """
    causes = list(net.targets)
    root: dict[str, str] = {c: c for c in causes}

    def find(c: str) -> str:
        while root[c] != c:
            c = root[c]
        return c

    for c in causes:
        for p in net.parents[c]:
            root[find(c)] = find(p)
    groups: dict[str, list[str]] = {}
    for c in causes:
        groups.setdefault(find(c), []).append(c)
    one: Dyadic = (1, 0)

    def power(x: Dyadic, k: int) -> Dyadic:
        return x[0] ** k, x[1] * k

    def cum(q: str, y: int) -> tuple[Dyadic, dict[str, Dyadic]]:
        """(L_y, {parent: A_i}); F_{K-1} = 1 has no factors."""
        if y >= net.card(q) - 1:
            return one, {}
        cpt, n = net.cpts[q], len(net.parents[q])

        def at(idx: tuple[int, ...]) -> Dyadic:
            tot: Dyadic = (0, 0)
            for x in cpt[idx][: y + 1]:
                tot = _add(tot, _dy(float(x)))
            return tot

        return at((0,) * n), {p: at(tuple(int(j == i) for j in range(n))) for i, p in enumerate(net.parents[q])}

    # h_c(present) = num_c / den_c; negative answers are common to every term
    base_const, base_num, base_den = one, dict.fromkeys(causes, one), dict.fromkeys(causes, one)
    positives = []
    for q, a in answers.items():
        if a == 0:
            leak, cs = cum(q, 0)
            base_const = _mul(base_const, leak)
            for p, c in cs.items():
                base_num[p], base_den[p] = _mul(base_num[p], c), _mul(base_den[p], leak)
        else:
            positives.append(((1, *cum(q, a)), (-1, *cum(q, a - 1))))
    prior = {c: [_dy(float(x)) for x in net.cpts[c].reshape(-1)] for c in causes}
    configs = {}
    for r, members in groups.items():
        rows = []
        for bits in itertools.product((0, 1), repeat=len(members)):
            x = dict(zip(members, bits, strict=True))
            w = one
            for c in members:
                row = 0
                for p in net.parents[c]:
                    row = 2 * row + x[p]
                w = _mul(w, prior[c][2 * row + x[c]])
            rows.append((x, w))
        configs[r] = rows
    total: Dyadic = (0, 0)
    present: dict[str, Dyadic] = dict.fromkeys(causes, (0, 0))
    for choice in itertools.product((0, 1), repeat=len(positives)):
        sign, const = 1, base_const
        num, den = dict(base_num), dict(base_den)
        scale = one  # the other options' leaks: every term times the same Π_c den_c · scale
        for pick, options in zip(choice, positives, strict=True):
            s, leak, cs = options[pick]
            _, other_leak, other_cs = options[1 - pick]
            sign *= s
            const = _mul(const, leak)
            scale = _mul(scale, power(other_leak, len(other_cs)))
            for p, c in cs.items():
                num[p], den[p] = _mul(num[p], c), _mul(den[p], leak)
        z: dict[str, Dyadic] = {}
        zi: dict[str, Dyadic] = {}
        for r, members in groups.items():
            zr: Dyadic = (0, 0)
            for c in members:
                zi[c] = (0, 0)
            for x, w in configs[r]:
                term = w
                for c in members:
                    term = _mul(term, num[c] if x[c] else den[c])
                zr = _add(zr, term)
                for c in members:
                    if x[c]:
                        zi[c] = _add(zi[c], term)
            z[r] = zr
        head = _mul((sign * const[0], const[1]), scale)
        order = list(groups)
        before = [head]  # head · Π z over the groups before each one, and after it
        for r in order:
            before.append(_mul(before[-1], z[r]))
        after = [one]
        for r in reversed(order):
            after.append(_mul(after[-1], z[r]))
        after.reverse()
        total = _add(total, before[-1])
        for j, r in enumerate(order):
            rest = _mul(before[j], after[j + 1])
            for c in groups[r]:
                present[c] = _add(present[c], _mul(rest, zi[c]))
    # the common denominator: every den_c of every term times its scale is the same product
    common = one
    for c in causes:
        common = _mul(common, base_den[c])
    for options in positives:
        for _, leak, cs in options:
            common = _mul(common, power(leak, len(cs)))
    log_pe = math.log(total[0]) + total[1] * math.log(2) - math.log(common[0]) - common[1] * math.log(2)
    return log_pe, {c: _ratio(present[c], total) for c in causes}


def _sparse_answers(net: Network, n_pos: int, n_neg: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(net.observables))
    out = {}
    for rank, j in enumerate(order[: n_pos + n_neg]):
        q = net.observables[int(j)]
        out[q] = int(rng.integers(1, net.card(q))) if rank < n_pos else 0
    return out


def _check_exact(net: Network, ne: NoisyEngine, answers: dict[str, int]) -> None:
    log_pe, present = quickscore_exact(net, answers)
    res = ne.query(likelihoods(net, [answers]), 1)
    assert res.log_evidence[0] == pytest.approx(log_pe, abs=TOL)
    for c in net.targets:
        assert res.marginals[c][0, 1] == pytest.approx(float(present[c]), abs=TOL)


@pytest.fixture(scope="module")
def tier30():
    net = make_tier(30, 400)
    return net, NoisyEngine(net)


@pytest.mark.parametrize(("n_pos", "n_neg", "seed"), [(4, 120, 0), (5, 40, 1), (6, 60, 2), (3, 397, 5)])
def test_30x400_matches_exact_quickscore(tier30, n_pos: int, n_neg: int, seed: int) -> None:
    _check_exact(*tier30, _sparse_answers(tier30[0], n_pos, n_neg, seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3])
def test_30x400_matches_exact_quickscore_many_positives(tier30, seed: int) -> None:
    _check_exact(*tier30, _sparse_answers(tier30[0], 8, 392, seed))


def test_a_plan_over_the_budget_is_refused_with_its_variables() -> None:
    net = make_tier(20, 200)
    lik = likelihoods(net, tier_evidence(net, 1, 0.3, answered=0.3, seed=1))
    with pytest.raises(ModelTooLargeError, match="the clique the answers couple") as info:
        NoisyEngine(net, memory_budget=1 << 16).query(lik, 1)
    assert info.value.variables and all(v in net.targets for v in info.value.variables)


# ---------------------------------------------------------------------------- choosing a backend
def test_choose_backend() -> None:
    net = make_tier(9, 40)
    lik = likelihoods(net, tier_evidence(net, 50, 0.1, seed=1))
    assert choose_backend(net, lik, 50, backend="noisy").backend == "noisy"
    assert choose_backend(net, lik, 50, backend="junction_tree").backend == "junction_tree"
    with pytest.raises(ValueError, match="backend"):
        choose_backend(net, lik, 50, backend="fast")
    big = make_tier(30, 400)
    choice = choose_backend(big, likelihoods(big, tier_evidence(big, 2, 0.1, answered=0.1, seed=2)), 2)
    assert choice.backend == "noisy" and choice.tree_seconds is None
