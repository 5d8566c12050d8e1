"""Relevance first: pruned queries equal the whole tree's, enumeration's and pgmpy's.

The engine drops barren variables and d-separated parts before compiling (see
:mod:`distancing_bn.engine.relevance`). Here pruning is forced wherever it applies (the cost
model's margins set to zero) and every result is compared with the whole tree
(``relevance=False``), with brute-force enumeration of the joint (random networks: hard and
soft answers, several answered sets in one batch, observed premises, reported variables,
marginals of any variable, the targets' joint and ``log P(e)``) and with pgmpy on the published
networks.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distancing_bn import ModelTooLargeError, load_model
from distancing_bn.engine import compile_engine as _compile_engine
from distancing_bn.engine import compiled as compiled_module
from distancing_bn.engine import oneshot as oneshot_module
from distancing_bn.engine.relevance import Relevance
from distancing_bn.network import Network
from strategies import random_networks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import make_diagnostic_network

# these tests are about the junction tree and its pruning: the noisy-OR backend is tested in
# test_noisyor.py and the choice between them in test_backend_choice.py
compile_engine = functools.partial(_compile_engine, backend="junction_tree")

TOL = 1e-9


def force_pruning(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Make the cost model choose the pruned network whenever the evidence prunes anything, queried
    by its one-shot plan, by its one-shot plan in lean mode (every belief made again in the
    distribute pass, none kept) or (``trees``) by its compiled junction tree."""
    monkeypatch.setattr(compiled_module, "_PRUNE_MARGIN", 0.0)
    monkeypatch.setattr(compiled_module, "_STATIC_MARGIN", 0.0)
    if mode == "lean":
        monkeypatch.setattr(oneshot_module, "LEAN_BYTES", 0)
    if mode == "trees":
        monkeypatch.setattr(compiled_module, "_ONE_SHOT_ROWS", 0)
        monkeypatch.setattr(compiled_module, "_ONE_SHOT_CALL", 1e3)


@pytest.fixture(params=["one-shot", "lean", "trees"])
def always_prune(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Pruning forced (see :func:`force_pruning`), in each of its three modes."""
    force_pruning(monkeypatch, request.param)
    yield request.param


@pytest.fixture(params=["one-shot", "trees"])
def always_prune_fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """As :func:`always_prune` without the lean mode (slow tests; lean has its own test on them)."""
    force_pruning(monkeypatch, request.param)
    yield request.param


# ----------------------------------------------------------------------------- oracles
def enumerate_query(
    net: Network, lik: Mapping[str, np.ndarray], row: int, wanted: Sequence[str]
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """log P(e), marginals of ``wanted`` and the targets' joint of one row, by summing the whole joint."""
    names = list(net.variables)
    axis = {v: k for k, v in enumerate(names)}
    joint = np.ones([net.card(v) for v in names])
    for v in names:
        table = net.cpts[v]
        shape = [1] * len(names)
        for p, n in zip((*net.parents[v], v), table.shape, strict=True):
            shape[axis[p]] = n
        order = sorted(range(table.ndim), key=lambda k: axis[(*net.parents[v], v)[k]])
        joint = joint * np.transpose(table, order).reshape(shape)
    for v, state in net.observed.items():
        shape = [1] * len(names)
        shape[axis[v]] = net.card(v)
        joint = joint * (np.arange(net.card(v)) == net.states[v].index(state)).reshape(shape)
    for v, a in lik.items():
        shape = [1] * len(names)
        shape[axis[v]] = net.card(v)
        joint = joint * a[row].reshape(shape)
    total = joint.sum()
    marg = {}
    for w in wanted:
        other = tuple(k for k in range(len(names)) if k != axis[w])
        marg[w] = joint.sum(axis=other) / total
    t_axes = [axis[t] for t in net.targets]
    other = tuple(k for k in range(len(names)) if k not in t_axes)
    tj = np.transpose(joint.sum(axis=other), np.argsort(np.argsort(t_axes))) / total
    return math.log(total), marg, tj


def assert_same(a: Any, b: Any, wanted: Sequence[str], *, joint: bool) -> None:
    np.testing.assert_allclose(a.log_evidence, b.log_evidence, rtol=0, atol=TOL)
    assert set(a.marginals) == set(b.marginals) == set(wanted)
    for w in wanted:
        np.testing.assert_allclose(a.marginals[w], b.marginals[w], rtol=0, atol=TOL)
    if joint:
        np.testing.assert_allclose(a.target_joint, b.target_joint, rtol=0, atol=TOL)


# ----------------------------------------------------------------------------- random networks
@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A random network with hidden, reported and observed variables, and a batch of evidence."""
    kw = draw(random_networks(max_nodes=8, max_parents=3))
    names = sorted(kw["states"], key=lambda v: int(v[1:]))
    parents = kw["parents"]
    has_child = {p for v in names for p in parents[v]}
    rest = [v for v in names if v not in kw["targets"]]
    observables = [v for v in rest if draw(st.booleans())]
    hidden = [v for v in rest if v not in observables]
    reported = [v for v in hidden if draw(st.booleans())]
    leaves = [v for v in observables if v not in has_child]
    observed = {}
    if leaves and len(observables) > 1 and draw(st.booleans()):
        v = draw(st.sampled_from(leaves))
        observed[v] = draw(st.sampled_from(kw["states"][v]))
        observables.remove(v)
    net = Network.create(
        "random",
        kw["states"],
        parents,
        kw["cpts"],
        targets=kw["targets"],
        observables=observables,
        reported=reported,
        observed=observed,
    )
    rows = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    patterns = [
        [v for v in observables if rng.random() < draw(st.sampled_from([0.2, 0.5, 0.9]))]
        for _ in range(draw(st.integers(1, 2)))
    ]
    soft_share = draw(st.sampled_from([0.0, 0.0, 0.3]))
    lik: dict[str, np.ndarray] = {}
    for v in observables:
        lik[v] = np.ones((rows, net.card(v)))
    for r in range(rows):
        for v in patterns[r % len(patterns)]:
            k = net.card(v)
            if rng.random() < soft_share:
                lik[v][r] = rng.uniform(0.0, 1.0, size=k) + 0.01
            else:
                lik[v][r] = np.eye(k)[rng.integers(k)]
    pool = [v for v in net.variables if v not in net.observed]  # (a premise has no marginal to ask)
    wanted = draw(
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(pool), unique=True, max_size=4),
        )
    )
    return {"net": net, "lik": lik, "rows": rows, "wanted": wanted, "joint": draw(st.booleans())}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_pruned_queries_equal_the_whole_tree_and_enumeration(always_prune: str, case: dict[str, Any]) -> None:
    net, lik, rows = case["net"], case["lik"], case["rows"]
    pruned = compile_engine(net, memory_budget=None)
    whole = compile_engine(net, memory_budget=None, relevance=False)
    assert pruned.prunes and not whole.prunes
    joint = case["joint"] and whole.has_joint
    wanted = case["wanted"]
    names = list(net.targets) + list(net.reported) if wanted is None else wanted
    a = pruned.query(lik, rows, marginals=wanted, joint=joint)
    b = whole.query(lik, rows, marginals=wanted, joint=joint)
    assert_same(a, b, names, joint=joint)
    for r in range(rows):
        log_z, marg, tj = enumerate_query(net, lik, r, names)
        assert abs(a.log_evidence[r] - log_z) < TOL
        for w in names:
            np.testing.assert_allclose(a.marginals[w][r], marg[w], rtol=0, atol=TOL)
        if joint:
            np.testing.assert_allclose(a.target_joint[r], tj, rtol=0, atol=TOL)
    # the same query again comes from the cache of pruned trees, with the same answers
    again = pruned.query(lik, rows, marginals=wanted, joint=joint)
    assert_same(again, a, names, joint=joint)


def chain() -> Network:
    """t -> a -> b -> c and t -> d: answering a cuts b and c off from the target."""
    rng = np.random.default_rng(3)

    def table(*shape: int) -> np.ndarray:
        return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1] or None).reshape(shape)

    return Network.create(
        "chain",
        {v: ("x", "y", "z") for v in "tabcd"},
        {"t": (), "a": ("t",), "b": ("a",), "c": ("b",), "d": ("t",)},
        {"t": table(3), "a": table(3, 3), "b": table(3, 3), "c": table(3, 3), "d": table(3, 3)},
        targets=["t"],
        observables=["a", "b", "c", "d"],
    )


def test_a_part_cut_off_by_a_hard_answer_still_counts_in_log_evidence(always_prune: str) -> None:
    net = chain()
    lik = {"a": np.array([[0.0, 1.0, 0.0]]), "c": np.array([[0.0, 0.0, 1.0]])}
    pruned = compile_engine(net, memory_budget=None)
    red = Relevance(net).reduce(["a", "c"], ["a"], ["t"])
    assert red.query is not None and red.evidence is not None
    assert set(red.query.variables) == {"t", "a"}  # b and c are d-separated from t given a
    assert set(red.evidence.variables) == {"b", "c"} | set(red.copies)  # their own factor of P(e)
    assert red.log_offset == pytest.approx(math.log(3))
    res = pruned.query(lik, 1, marginals=["t"])
    log_z, marg, _ = enumerate_query(net, lik, 0, ["t"])
    assert abs(res.log_evidence[0] - log_z) < TOL
    np.testing.assert_allclose(res.marginals["t"][0], marg["t"], atol=TOL)
    # soft on the inner answer: nothing is cut, the whole chain is kept
    soft = {"a": np.array([[0.2, 1.0, 0.5]]), "c": np.array([[0.0, 0.0, 1.0]])}
    res = pruned.query(soft, 1, marginals=["t"])
    log_z, marg, _ = enumerate_query(net, soft, 0, ["t"])
    assert abs(res.log_evidence[0] - log_z) < TOL
    np.testing.assert_allclose(res.marginals["t"][0], marg["t"], atol=TOL)


def test_barren_questions_are_dropped() -> None:
    net = chain()
    red = Relevance(net).reduce(["d"], [], ["t"])
    assert red.query is not None and set(red.query.variables) == {"t", "d"}  # a, b, c unanswered: barren
    assert red.evidence is None and not red.copies and red.log_offset == 0.0


def test_a_batch_of_two_answered_sets_is_two_groups_and_many_sets_one_union(always_prune: str) -> None:
    net = chain()
    pruned = compile_engine(net, memory_budget=None)
    whole = compile_engine(net, memory_budget=None, relevance=False)
    rows = 40
    rng = np.random.default_rng(0)
    lik = {v: np.ones((rows, 3)) for v in "abcd"}
    for r in range(rows):
        for v in ("d",) if r % 2 else ("b", "c"):
            lik[v][r] = np.eye(3)[rng.integers(3)]
    assert_same(pruned.query(lik, rows), whole.query(lik, rows), ["t"], joint=False)
    assert len(pruned._pruned) == 2  # one pruned tree per answered set
    many = {v: np.where(rng.random((rows, 1)) < 0.5, np.eye(3)[rng.integers(3, size=rows)], 1.0) for v in "abcd"}
    assert_same(pruned.query(many, rows), whole.query(many, rows), ["t"], joint=False)


def test_the_cache_of_pruned_trees_is_bounded(always_prune: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled_module, "_PRUNED_KEPT", 3)
    net = make_diagnostic_network(6, 30, seed=1)
    eng = compile_engine(net, memory_budget=None)
    qs = list(net.observables)
    for j in range(10):
        eng.query({qs[j]: np.array([[0.0, 1.0] if net.card(qs[j]) == 2 else [0.0, 0.0, 1.0]])}, 1)
    assert len(eng._pruned) == 3
    assert eng._pruned.nbytes <= compiled_module._PRUNED_BYTES


# ----------------------------------------------------------------------------- the cost model
def test_the_default_model_keeps_its_one_tree() -> None:
    model = load_model()
    assert not model.engine.prunes
    assert model.engine.has_joint and model.engine.fast_joint_gain
    assert model.engine.tree is model.engine.joint_tree  # holding the causes together costs nothing


def test_a_large_diagnostic_network_is_pruned_by_the_cost_model_and_stays_exact() -> None:
    net = make_diagnostic_network(18, 150, seed=2, n_links=6)
    eng = compile_engine(net, memory_budget=None)
    assert eng.prunes and eng.memory is not None and max(eng.memory.plan.sizes) >= 1 << 16  # type: ignore[union-attr]
    qs = list(net.observables)
    rng = np.random.default_rng(4)
    for rows in (1, 3):
        answered = [qs[j] for j in rng.permutation(len(qs))[:15]]
        lik = {q: np.eye(net.card(q))[rng.integers(1, net.card(q), size=rows)] for q in answered}
        lik[answered[0]] = rng.uniform(0.1, 1.0, size=(rows, net.card(answered[0])))  # one soft answer
        a = eng.query(lik, rows)
        red = Relevance(net).reduce(answered, [], net.targets)
        assert red.query is not None and len(red.query.variables) == 18 + 15
        check = compile_engine(red.query, memory_budget=None, relevance=False).query(lik, rows)
        assert_same(a, check, list(net.targets), joint=False)
    assert eng._tree is None  # relevance first: the whole tree (65,536-state cliques) was never compiled
    assert len(eng._pruned) == 2 and all(e.runs == 1 for e in eng._pruned.values())


def test_a_network_whose_whole_tree_does_not_fit_is_queried_pruned() -> None:
    net = make_diagnostic_network(30, 400, seed=0, n_links=10)
    with pytest.raises(ModelTooLargeError):
        compile_engine(net, backend="junction_tree")  # (by default the noisy-OR backend answers: test_backend_choice)
    eng = compile_engine(net, relevance=True)
    assert eng.memory is None and eng.prunes
    qs = list(net.observables)
    lik = {q: np.eye(net.card(q))[[1]] for q in qs[:6]}
    res = eng.query(lik, 1)
    red = Relevance(net).reduce(qs[:6], [], net.targets)
    check = compile_engine(red.query, memory_budget=None, relevance=False).query(lik, 1)  # type: ignore[arg-type]
    assert_same(res, check, list(net.targets), joint=False)


# ----------------------------------------------------------------------------- published networks
PUBLISHED = ("asia", "alarm", "child", "insurance", "hepar2", "win95pts", "andes", "pathfinder")


def published(external_dir: Path, name: str) -> Network:
    import pgmpy.readwrite as rw

    from distancing_bn.interop import read_network_file

    path = external_dir / "networks" / f"{name}.bif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = rw.BIFReader(str(path)).get_model()
        roots = sorted(n for n in model.nodes() if not list(model.predecessors(n)))
        return read_network_file(path, targets=roots[:12])


def sampled_evidence(net: Network, share: float, seed: int) -> dict[str, int]:
    """Forward-sample the network; answer ``share`` of the observables with their sampled state."""
    rng = np.random.default_rng(seed)
    value: dict[str, int] = {}
    for v in net.variables:
        table = net.cpts[v][tuple(value[p] for p in net.parents[v])]
        value[v] = int(rng.choice(net.card(v), p=table))
    obs = list(net.observables)
    chosen = rng.permutation(len(obs))[: max(1, round(share * len(obs)))]
    return {obs[j]: value[obs[j]] for j in chosen}


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_networks_pruned_equal_whole_and_pgmpy(always_prune_fast: str, external_dir: Path, name: str) -> None:
    from pgmpy.inference import VariableElimination

    from distancing_bn.interop import to_pgmpy

    net = published(external_dir, name)
    pruned = compile_engine(net)
    whole = compile_engine(net, relevance=False)
    ve = VariableElimination(to_pgmpy(net))
    for seed in range(2):
        ev = sampled_evidence(net, 0.1, seed)
        lik = {v: np.eye(net.card(v))[[s]] for v, s in ev.items()}
        wanted = [*net.targets[:3], next(v for v in net.variables if v not in ev)]
        a = pruned.query(lik, 1, marginals=wanted)
        assert_same(a, whole.query(lik, 1, marginals=wanted), wanted, joint=False)
        labels = {v: net.states[v][s] for v, s in ev.items()}
        for w in wanted:
            if w in ev:
                continue
            f = ve.query([w], evidence=labels, show_progress=False)
            expected = np.array([f.values[list(f.state_names[w]).index(s)] for s in net.states[w]])
            np.testing.assert_allclose(a.marginals[w][0], expected, atol=TOL)


@pytest.mark.parametrize("name", ["hepar2", "andes"])
def test_lean_queries_of_published_networks_equal_the_whole_tree(
    monkeypatch: pytest.MonkeyPatch, external_dir: Path, name: str
) -> None:
    # every variable asked for: the lean distribute pass makes every clique's belief again
    force_pruning(monkeypatch, "lean")
    net = published(external_dir, name)
    pruned = compile_engine(net)
    whole = compile_engine(net, relevance=False)
    for seed in range(2):
        ev = sampled_evidence(net, 0.1, seed)
        lik = {v: np.eye(net.card(v))[[s, (s + 1) % net.card(v)]] for v, s in ev.items()}  # two rows
        wanted = list(net.variables)
        a = pruned.query(lik, 2, marginals=wanted)
        assert_same(a, whole.query(lik, 2, marginals=wanted), wanted, joint=False)
    assert pruned._pruned and all(e.trees is None for e in pruned._pruned.values())  # one-shot plans answered


def test_a_heavy_whole_tree_is_compiled_for_batches_not_for_a_few_rows(
    monkeypatch: pytest.MonkeyPatch, external_dir: Path
) -> None:
    # a tree whose arrays are estimated beyond _EAGER_BYTES waits for a batch: one-shot plans,
    # which hold no arrays between queries, answer a few rows however often they are asked
    monkeypatch.setattr(compiled_module, "_EAGER_BYTES", 0)
    net = published(external_dir, "hepar2")
    eng = compile_engine(net)
    whole = compile_engine(net, relevance=False)
    assert eng.prunes and eng._tree is None
    for seed in range(6):
        lik = {v: np.eye(net.card(v))[[s]] for v, s in sampled_evidence(net, 0.1, seed).items()}
        assert_same(eng.query(lik, 1), whole.query(lik, 1), list(net.targets), joint=False)
        assert_same(eng.query({}, 1), whole.query({}, 1), list(net.targets), joint=False)
    assert eng._tree is None
    rows = compiled_module._ONE_SHOT_ROWS + 1
    rng = np.random.default_rng(0)
    lik = {q: np.eye(net.card(q))[rng.integers(net.card(q), size=rows)] for q in net.observables}
    assert_same(eng.query(lik, rows), whole.query(lik, rows), list(net.targets), joint=False)
    assert eng._tree is not None  # a batch answering everything: nothing to prune, the whole tree pays


def test_hepar2_keeps_its_roots_apart_unless_their_joint_is_asked(external_dir: Path) -> None:
    net = published(external_dir, "hepar2")
    eng = compile_engine(net)
    assert eng.memory is not None and not eng.memory.plan.has_joint  # type: ignore[union-attr]
    assert eng.memory.joint is not None and eng.has_joint  # the joint, as a second tree, on demand
    assert max(eng.memory.plan.sizes) < max(eng.memory.joint.plan.sizes)  # type: ignore[union-attr]


def test_reductions_of_every_answer_subset_of_a_small_network(always_prune: str) -> None:
    net = chain()
    pruned = compile_engine(net, memory_budget=None)
    for k in range(5):
        for subset in itertools.combinations("abcd", k):
            lik = {v: np.eye(3)[[i % 3]] for i, v in enumerate(subset)}
            res = pruned.query(lik, 1, marginals=["t", "b"])
            log_z, marg, _ = enumerate_query(net, lik, 0, ["t", "b"])
            assert abs(res.log_evidence[0] - log_z) < TOL
            for w in ("t", "b"):
                np.testing.assert_allclose(res.marginals[w][0], marg[w], atol=TOL)


@pytest.mark.parametrize("rows", [1, 5])
def test_many_answers_per_clique_stay_exact(always_prune: str, rows: int) -> None:
    # dozens of answered questions land in the same few cliques: their products are taken in chunks
    net = make_diagnostic_network(10, 60, seed=3, n_links=3)
    pruned = compile_engine(net, memory_budget=None)
    whole = compile_engine(net, memory_budget=None, relevance=False)
    rng = np.random.default_rng(rows)
    qs = list(net.observables)
    answered = [qs[j] for j in rng.permutation(len(qs))[:45]]
    lik = {q: np.eye(net.card(q))[rng.integers(net.card(q), size=rows)] for q in answered}
    for q in answered[:5]:
        lik[q] = rng.uniform(0.0, 1.0, size=(rows, net.card(q)))
    wanted = list(net.targets)
    a = pruned.query(lik, rows, marginals=wanted, joint=True)
    assert_same(a, whole.query(lik, rows, marginals=wanted, joint=True), wanted, joint=True)
    plans = [p for e in pruned._pruned.values() for p in e.plans if p is not None]
    assert max(len(c.factors) for p in plans for c in p.cliques) > oneshot_module._CHUNK
