"""Exactness of the inference layer against pgmpy's ``VariableElimination``.

Every oracle query runs on ``model.to_pgmpy()`` (our tables, normalised exactly on load), never
on pgmpy's own reader model, whose published rows sum to 0.9999999. Soft answers go to pgmpy as
virtual evidence (a ``TabularCPD`` of likelihoods, scaled to a maximum of 1); ``log P(e)`` is
rebuilt by the chain rule ``P(e) = Π_i E[λ_i(X_i) | e_<i]`` from pgmpy marginals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.oracle
pytest.importorskip("pgmpy")

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.inference import VariableElimination  # noqa: E402

import distancing_bn  # noqa: E402
from distancing_bn import ImpossibleEvidenceError, Model, Network  # noqa: E402
from distancing_bn.simulate import sample_cases  # noqa: E402
from strategies import evidence_for, random_networks  # noqa: E402

ATOL = 1e-9

# targets per published network (see the brief in the module docstring)
NETWORK_TARGETS: dict[str, list[str]] = {
    "asia": ["lung", "tub", "bronc"],
    "alarm": [
        "HYPOVOLEMIA",
        "LVFAILURE",
        "ANAPHYLAXIS",
        "PULMEMBOLUS",
        "INTUBATION",
        "KINKEDTUBE",
        "DISCONNECT",
    ],
    "child": ["Disease"],
    "insurance": ["Accident", "ThisCarDam"],
    # the root nodes of HEPAR II that are disorders (the others are history/demographics)
    "hepar2": ["alcoholism", "gallstones", "diabetes"],
    # root nodes that are printer/driver/network faults
    "win95pts": [
        "AppOK",
        "DataFile",
        "PrtOn",
        "PrtPaper",
        "PrtDriver",
        "PrtCbl",
        "PrtPort",
        "PrtMem",
        "TnrSpply",
        "NtwrkCnfg",
        "PTROFFLINE",
        "DrvOK",
    ],
}


# ----------------------------------------------------------------------------- oracle helpers
def _split(net: Network, answers: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Split answers into pgmpy hard evidence and soft likelihood vectors (in our state order)."""
    hard: dict[str, str] = {}
    soft: dict[str, np.ndarray] = {}
    for q, a in answers.items():
        if isinstance(a, Mapping):
            soft[q] = np.array([float(a.get(s, 0.0)) for s in net.states[q]])
        else:
            hard[q] = a
    return hard, soft


def _virtual(net: Network, soft: Mapping[str, np.ndarray]) -> list[TabularCPD] | None:
    if not soft:
        return None
    return [
        TabularCPD(q, len(lik), (lik / lik.max()).reshape(-1, 1), state_names={q: list(net.states[q])})
        for q, lik in soft.items()
    ]


def pgmpy_joint(pg: Any, net: Network, variables: Sequence[str], answers: Mapping[str, Any]) -> np.ndarray | None:
    """Return P(variables | answers) from pgmpy, axes in ``variables`` order and our state order.

    ``None`` when pgmpy finds the evidence impossible (its normalised joint is not finite).
    A fresh ``VariableElimination`` per call: pgmpy rebuilds its model for virtual evidence.
    """
    hard, soft = _split(net, answers)
    ve = VariableElimination(pg)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = ve.query(
            list(variables),
            evidence=hard or None,
            virtual_evidence=_virtual(net, soft),
            joint=True,
            show_progress=False,
        )
    arr = np.asarray(factor.values, dtype=float)
    order = [str(v) for v in factor.variables]
    arr = np.transpose(arr, [order.index(v) for v in variables])
    for axis, v in enumerate(variables):
        labels = [str(s) for s in factor.state_names[v]]
        arr = np.take(arr, [labels.index(s) for s in net.states[v]], axis=axis)
    if not np.all(np.isfinite(arr)) or not arr.sum() > 0:
        return None
    return arr


def marginal_of(joint: np.ndarray, variables: Sequence[str], v: str) -> np.ndarray:
    i = list(variables).index(v)
    return joint.sum(axis=tuple(a for a in range(joint.ndim) if a != i))


def pgmpy_log_evidence(pg: Any, net: Network, answers: Mapping[str, Any]) -> float:
    """``log P(e)`` by the chain rule over the answers, each factor from a pgmpy marginal."""
    total = 0.0
    seen: dict[str, Any] = {}
    for q, a in answers.items():
        p = pgmpy_joint(pg, net, [q], seen)
        assert p is not None
        lik = (
            np.array([float(a.get(s, 0.0)) for s in net.states[q]])
            if isinstance(a, Mapping)
            else np.array([float(s == a) for s in net.states[q]])
        )
        total += math.log(float(p @ lik))
        seen[q] = a
    return total


def sampled_answers(
    model: Model, n: int, *, seed: int, fraction: float | None, soft_share: float
) -> list[dict[str, Any]]:
    """``n`` evidence sets with P(e) > 0: hard answers from forward samples of the model.

    Each set answers a random number of questions (``fraction=None``: 0 to all) or that share
    of them; ``soft_share`` of the answered questions get a random positive likelihood vector.
    """
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n, seed=seed)
    qs = list(model.questions)
    out = []
    for i in range(n):
        k = int(rng.integers(0, len(qs) + 1)) if fraction is None else max(1, round(fraction * len(qs)))
        chosen = [qs[j] for j in rng.choice(len(qs), size=k, replace=False)]
        answers: dict[str, Any] = {}
        for q in chosen:
            states = model.answers_of(q)
            if rng.random() < soft_share:
                answers[q] = dict(zip(states, rng.uniform(0.01, 1.0, len(states)).tolist(), strict=True))
            else:
                answers[q] = states[int(cases[q][i])]
        out.append(answers)
    return out


def check_against_pgmpy(model: Model, pg: Any, answers: Mapping[str, Any], extra: Sequence[str] = ()) -> None:
    """Our posterior of every target (and ``extra`` reported variables) and the target joint.

    The model enters its premise (always-observed questions) itself; pgmpy gets it as evidence.
    """
    net = model.network
    post = model.posterior(answers)
    variables = [*model.causes, *extra]
    joint = pgmpy_joint(pg, net, variables, {**answers, **model.observed})
    assert joint is not None, "sampled evidence must be possible"
    for v in variables:
        np.testing.assert_allclose(
            post.marginal(v).to_numpy(),
            marginal_of(joint, variables, v),
            rtol=0,
            atol=ATOL,
            err_msg=f"{v} given {answers}",
        )
    if post.target_joint is not None:
        target_joint = joint.sum(axis=tuple(range(len(model.causes), joint.ndim)))
        target_joint = np.transpose(target_joint, [list(model.causes).index(t) for t in post.target_order])
        np.testing.assert_allclose(post.target_joint, target_joint, rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- default model
@pytest.fixture(scope="module")
def default_model() -> Model:
    return distancing_bn.load_model()


@pytest.fixture(scope="module")
def default_pgmpy(default_model: Model) -> Any:
    return default_model.to_pgmpy()


def test_posterior_matches_pgmpy_on_default_model(default_model: Model, default_pgmpy: Any) -> None:
    rng = np.random.default_rng(7)
    sets = sampled_answers(default_model, 200, seed=11, fraction=None, soft_share=0.2)
    assert any(not s for s in sets) or min(len(s) for s in sets) <= 3
    assert any(isinstance(a, Mapping) for s in sets for a in s.values())
    facets = list(default_model.facets)
    for answers in sets:
        extra = [facets[j] for j in rng.choice(len(facets), size=5, replace=False)]
        check_against_pgmpy(default_model, default_pgmpy, answers, extra)


def test_log_evidence_matches_pgmpy_on_default_model(default_model: Model, default_pgmpy: Any) -> None:
    sets = sampled_answers(default_model, 40, seed=5, fraction=None, soft_share=0.3)
    small = [s for s in sets if 1 <= len(s) <= 12][:6]
    small.append(sampled_answers(default_model, 1, seed=9, fraction=0.2, soft_share=0.3)[0])
    assert len(small) >= 4 and any(isinstance(a, Mapping) for s in small for a in s.values())
    premise = default_model.observed
    assert premise == {"distance_noticed": "yes"}
    for answers in small:  # log P(premise, answers): the premise is part of the evidence
        expected = pgmpy_log_evidence(default_pgmpy, default_model.network, {**premise, **answers})
        got = default_model.posterior(answers).log_evidence
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), answers
    # no answers: the evidence is the premise alone, log P(distance noticed) < 0
    alone = pgmpy_log_evidence(default_pgmpy, default_model.network, premise)
    assert alone < -0.01
    assert default_model.posterior({}).log_evidence == pytest.approx(alone, rel=1e-10, abs=1e-12)


# ----------------------------------------------------------------------------- published networks
@pytest.fixture(scope="module")
def networks_dir(external_dir: Path) -> Path:
    return external_dir / "networks"


def check_network(networks_dir: Path, name: str) -> None:
    """30 sampled evidence sets, a quarter of the observables answered (a tenth of those soft)."""
    model = distancing_bn.load_network(networks_dir / f"{name}.bif", targets=NETWORK_TARGETS[name])
    pg = model.to_pgmpy()
    sets = sampled_answers(model, 30, seed=sum(map(ord, name)), fraction=0.25, soft_share=0.1)
    for answers in sets:
        check_against_pgmpy(model, pg, answers)
    for answers in sets[:2]:  # log P(e): the chain rule costs one pgmpy query per answer
        expected = pgmpy_log_evidence(pg, model.network, answers)
        assert model.posterior(answers).log_evidence == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_posterior_matches_pgmpy_on_asia(networks_dir: Path) -> None:
    check_network(networks_dir, "asia")


def test_posterior_matches_pgmpy_on_alarm(networks_dir: Path) -> None:
    check_network(networks_dir, "alarm")


def test_posterior_matches_pgmpy_on_child(networks_dir: Path) -> None:
    check_network(networks_dir, "child")


def test_posterior_matches_pgmpy_on_insurance(networks_dir: Path) -> None:
    check_network(networks_dir, "insurance")


def test_posterior_matches_pgmpy_on_hepar2(networks_dir: Path) -> None:
    check_network(networks_dir, "hepar2")


def test_posterior_matches_pgmpy_on_win95pts(networks_dir: Path) -> None:
    check_network(networks_dir, "win95pts")


# ----------------------------------------------------------------------------- random networks
@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kwargs=random_networks(max_nodes=8))
def test_posterior_matches_pgmpy_on_random_networks(data: st.DataObject, kwargs: dict[str, Any]) -> None:
    net = Network.create(**kwargs)
    model = Model(net)
    drawn = data.draw(evidence_for(net, soft=True), label="answers")
    # a soft answer must give every label a likelihood (ours refuses missing labels): fill in 0
    answers = {q: {s: a.get(s, 0.0) for s in net.states[q]} if isinstance(a, Mapping) else a for q, a in drawn.items()}
    pg = model.to_pgmpy()
    targets = list(model.causes)
    joint = pgmpy_joint(pg, net, targets, answers)
    if joint is None:  # pgmpy: P(e) = 0
        with pytest.raises(ImpossibleEvidenceError):
            model.posterior(answers)
        return
    post = model.posterior(answers)
    for t in targets:
        np.testing.assert_allclose(
            post.marginal(t).to_numpy(),
            marginal_of(joint, targets, t),
            rtol=0,
            atol=ATOL,
            err_msg=t,
        )
    if post.target_joint is not None:
        np.testing.assert_allclose(
            post.target_joint,
            np.transpose(joint, [targets.index(t) for t in post.target_order]),
            rtol=0,
            atol=ATOL,
        )
    expected = pgmpy_log_evidence(pg, net, answers)
    assert post.log_evidence == pytest.approx(expected, rel=1e-9, abs=1e-9)
