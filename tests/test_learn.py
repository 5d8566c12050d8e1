"""EM learning (distancing_bn.learn): recovery, monotone likelihood, prior strength, counting, pgmpy."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distancing_bn import load_model
from distancing_bn.errors import DataError
from distancing_bn.learn import em, fit
from distancing_bn.model import Model
from distancing_bn.sensitivity import parameters, with_value

SMALL = """
format: distancing-bn/1
id: small
title: Small learning test
description: Two causes, one facet, noisy-OR and noisy-MAX questions.
causes:
  - id: stress
    label: Stress
    description: Outside stress.
    prior: 0.3
    rationale: Test prior.
    guidance: [Talk.]
    facets:
      - id: work
        label: Work
        description: Work stress.
        p_present: 0.6
        p_absent: 0.1
        rationale: Test facet.
  - id: drift
    label: Drift
    description: Drifting apart.
    prior: 0.25
    rationale: Test prior.
    guidance: [Talk.]
questions:
  - {id: q1, text: "Q1?", answers: [no, yes], leak: 0.1, links: [{facet: work, strength: 0.8, rationale: t}]}
  - id: q2
    text: "Q2?"
    answers: [no, some, lots]
    leak: {some: 0.15, lots: 0.05}
    links:
      - {cause: stress, strength: {some: 0.4, lots: 0.2}, rationale: t}
      - {cause: drift, strength: {some: 0.3, lots: 0.5}, rationale: t}
  - {id: q3, text: "Q3?", answers: [no, yes], leak: 0.05, links: [{cause: drift, strength: 0.7, rationale: t}]}
  - id: q4
    text: "Q4?"
    answers: [no, yes]
    leak: 0.1
    links: [{cause: stress, strength: 0.6, rationale: t}, {cause: drift, strength: 0.3, rationale: t}]
  - id: q5
    text: "Q5?"
    answers: [no, yes]
    leak: 0.2
    links: [{cause: drift, strength: 0.6, rationale: t}, {facet: work, strength: 0.5, rationale: t}]
"""

TABULAR = """
format: distancing-bn/1
id: tabular
title: One latent cause, explicit tables
description: A latent class model written with explicit one-parent tables.
causes:
  - {id: c, label: C, description: A cause., prior: 0.4, rationale: t, guidance: [x]}
questions:
  - id: a
    text: "A?"
    answers: [no, yes]
    table: {parents: [c], rows: {absent: [0.7, 0.3], present: [0.2, 0.8]}, rationale: t}
  - id: b
    text: "B?"
    answers: [no, yes]
    table: {parents: [c], rows: {absent: [0.6, 0.4], present: [0.3, 0.7]}, rationale: t}
  - id: d
    text: "D?"
    answers: [low, mid, high]
    table: {parents: [c], rows: {absent: [0.5, 0.3, 0.2], present: [0.2, 0.3, 0.5]}, rationale: t}
"""


def _model(tmp_path: Path, text: str, name: str) -> Model:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return load_model(path)


def sample(model: Model, n: int, seed: int, *, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Ancestral samples of the questions (and of ``keep`` latent variables) of a model."""
    rng = np.random.default_rng(seed)
    net = model.network
    vals: dict[str, np.ndarray] = {}
    for v in net.variables:
        cpt = net.cpts[v]
        idx = tuple(vals[p] for p in net.parents[v])
        probs = cpt[idx] if idx else np.broadcast_to(cpt, (n, cpt.shape[-1]))
        u = rng.random(n)[:, None]
        vals[v] = (u > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, cpt.shape[-1] - 1)
    cols = (*net.observables, *keep)
    return pd.DataFrame({q: np.array(net.states[q], dtype=object)[vals[q]] for q in cols})


def _moved(model: Model, by: float = 0.08) -> Model:
    spec = model.spec
    assert spec is not None
    for p in parameters(spec):
        spec = with_value(spec, p, min(p.high, max(p.low, p.value + (by if p.value < 0.5 else -by))))
    return Model.from_spec(spec)


def _errors(a: Model, b: Model) -> np.ndarray:
    assert a.spec is not None and b.spec is not None
    return np.array([abs(p.value - q.value) for p, q in zip(parameters(a.spec), parameters(b.spec), strict=True)])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return _model(tmp_path_factory.mktemp("learn"), SMALL, "small")


@pytest.mark.slow
def test_em_recovers_parameters_as_rows_grow(small: Model) -> None:
    start = _moved(small)
    assert _errors(small, start).max() == pytest.approx(0.08)
    few = em(start, sample(small, 500, 1), prior_strength=1, max_iter=200, tol=1e-7)
    many = em(start, sample(small, 10_000, 2), prior_strength=1, max_iter=200, tol=1e-7)
    e_few, e_many = _errors(small, few.model), _errors(small, many.model)
    # stated tolerance: at 10,000 rows every number within 0.07 of the truth and 0.025 on average
    # (the facet's p_present is the least identified: it is seen only through two questions),
    # and the average error at least halves from 500 rows
    assert e_many.max() < 0.07
    assert e_many.mean() < 0.025
    assert e_many.mean() < 0.5 * e_few.mean()
    assert many.converged


def test_objective_and_log_likelihood_never_decrease(small: Model) -> None:
    data = sample(small, 2000, 3)
    start = _moved(small, 0.15)
    with_prior = em(start, data, prior_strength=20, max_iter=40, tol=0)
    assert len(with_prior.objective) == 41
    assert np.all(np.diff(with_prior.objective) >= -1e-7)
    mle = em(start, data, prior_strength=0, max_iter=40, tol=0)
    assert np.all(np.diff(mle.log_likelihood) >= -1e-7)
    assert mle.log_likelihood[-1] > mle.log_likelihood[0] + 10
    assert mle.objective == mle.log_likelihood


def test_prior_strength_moves_little_data_a_little(small: Model) -> None:
    start = _moved(small, 0.15)
    data = sample(small, 50, 4)
    weak = em(start, data, prior_strength=0.5, max_iter=30)
    strong = em(start, data, prior_strength=5000, max_iter=30)
    assert _errors(start, strong.model).max() < 0.01
    assert _errors(start, weak.model).max() > 0.05


def test_saved_model_is_valid_and_says_what_was_learned(small: Model, tmp_path: Path) -> None:
    res = em(small, sample(small, 300, 5), max_iter=5)
    out = tmp_path / "learned.yaml"
    res.model.save(out)
    again = load_model(out)
    assert again.spec is not None
    assert again.spec.cause("stress").rationale.startswith("Learned by EM from 300 rows")
    assert "Test prior." in again.spec.cause("stress").rationale
    q2 = again.spec.question("q2")
    assert all("Learned by EM from 300 rows" in lk.rationale for lk in q2.links)
    assert "Learned by EM" in q2.leak_rationale
    assert "p_present 0.6" in again.spec.facets[0].rationale and "p_absent 0.1" in again.spec.facets[0].rationale
    assert [p.value for p in parameters(again.spec)] == pytest.approx([p.value for p in parameters(res.model.spec)])


def test_model_fit_delegates(small: Model) -> None:
    data = sample(small, 400, 6)
    a = small.fit(data, prior_strength=3, max_iter=4)
    b = fit(small, data, prior_strength=3, max_iter=4)
    assert [p.value for p in parameters(a.spec)] == [p.value for p in parameters(b.spec)]
    assert a is not small and a.spec != small.spec


def test_observed_causes_are_plain_counts(small: Model) -> None:
    data = sample(small, 3000, 7, keep=("stress", "drift", "work"))
    res = em(small, data, prior_strength=0, max_iter=1, learn=["stress", "drift", "work"])
    spec = res.model.spec
    assert spec.cause("stress").prior == pytest.approx((data["stress"] == "present").mean(), abs=1e-12)
    f = spec.facets[0]
    on = data["stress"] == "present"
    assert f.p_present == pytest.approx((data.loc[on, "work"] == "present").mean(), abs=1e-12)
    assert f.p_absent == pytest.approx((data.loc[~on, "work"] == "present").mean(), abs=1e-12)
    # a one-parent noisy-OR with its parent observed converges to the frequencies
    res = em(small, data, prior_strength=0, max_iter=500, tol=1e-12, learn=["q3"])
    q3 = res.model.spec.question("q3")
    drift = data["drift"] == "present"
    leak = (data.loc[~drift, "q3"] == "yes").mean()
    p_on = (data.loc[drift, "q3"] == "yes").mean()
    assert q3.leak[0] == pytest.approx(leak, abs=1e-6)
    assert 1 - (1 - q3.leak[0]) * (1 - q3.links[0].strength[0]) == pytest.approx(p_on, abs=1e-5)


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("iterations", [1, 4, 20])
def test_equal_to_pgmpy_em_on_a_latent_class_model(tmp_path: Path, iterations: int) -> None:
    """Tabular case (explicit one-parent tables, cause fully latent): every EM iterate equals pgmpy's."""
    pytest.importorskip("pgmpy")
    from pgmpy.estimators import ExpectationMaximization

    model = _model(tmp_path, TABULAR, "tabular")
    data = sample(model, 3000, 8)
    start = _moved(model, 0.1)
    ours = em(start, data, prior_strength=0, max_iter=iterations, tol=0)
    assert ours.iterations == iterations
    bn = start.to_pgmpy()
    bn.latents = {"c"}
    init = {cpd.variable: cpd for cpd in bn.get_cpds()}
    cpds = ExpectationMaximization(bn, data).get_parameters(
        latent_card={"c": 2}, max_iter=iterations, atol=0, init_cpds=init, show_progress=False, seed=0
    )
    theirs = {cpd.variable: cpd for cpd in cpds}
    spec = ours.model.spec
    # pgmpy renames the latent's states 0, 1 in the order of the initial tables: absent, present
    assert theirs["a"].state_names["c"] == [0, 1]
    assert spec.cause("c").prior == pytest.approx(theirs["c"].get_values()[1, 0], abs=1e-9)
    for q in ("a", "b", "d"):
        ours_rows = np.array(spec.question(q).table.rows)  # (parent state, answer)
        order = [theirs[q].state_names[q].index(a) for a in spec.question(q).answers]  # pgmpy may sort states
        assert ours_rows == pytest.approx(theirs[q].get_values()[order].T, abs=1e-9)  # pgmpy: (answer, parent)
    assert abs(spec.cause("c").prior - start.spec.cause("c").prior) > 1e-3  # EM did move it


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prior_strength": -1}, "prior_strength"),
        ({"max_iter": 1.5}, "max_iter"),
        ({"learn": ["nope"]}, "not a cause, facet or question"),
    ],
)
def test_bad_options_are_data_errors(small: Model, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        em(small, sample(small, 10, 9), **kwargs)


def test_bad_frames_are_data_errors(small: Model) -> None:
    with pytest.raises(DataError, match="no rows"):
        em(small, sample(small, 10, 9).iloc[:0])
    with pytest.raises(DataError, match="row 2, column 'q1'"):
        em(small, pd.DataFrame({"q1": ["yes", "perhaps", "no"]}))
    with pytest.raises(DataError, match="column 'stress'"):
        em(small, pd.DataFrame({"q1": ["yes", "no"], "stress": ["present", "maybe"]}))


def test_e_step_matches_the_model_including_a_premise(tmp_path: Path) -> None:
    """The pruned E-step network gives the model's own log P(e), premises (always-observed answers) included."""
    text = SMALL.replace(
        "    leak: 0.2\n    links: [{cause: drift, strength: 0.6",
        "    observed: 'yes'\n    leak: 0.2\n    links: [{cause: drift, strength: 0.6",
    )
    assert text != SMALL
    model = _model(tmp_path, text, "premise")
    assert model.observed == {"q5": "yes"}
    data = sample(model, 200, 10).drop(columns=["q2"])
    res = em(model, data, max_iter=0)
    expected = model.posterior_batch(data)["log_evidence"].sum()
    assert res.log_likelihood[0] == pytest.approx(expected, rel=1e-12)


def _values(model: Model) -> np.ndarray:
    assert model.spec is not None
    return np.array([p.value for p in parameters(model.spec)])


def test_weighted_unique_rows_give_the_same_iterates_as_the_full_rows(small: Model) -> None:
    data = sample(small, 3000, 11).drop(columns=["q5"])  # four questions: many repeated rows
    counts = data.value_counts(sort=False).reset_index(name="n")
    assert len(counts) < len(data) / 10
    start = _moved(small, 0.1)
    kw = {"prior_strength": 2.0, "max_iter": 6, "tol": 0.0}
    full = em(start, data, _unique=False, **kw)
    packed = em(start, counts.drop(columns=["n"]), weights=counts["n"].to_numpy(), _unique=False, **kw)
    auto = em(start, data, **kw)  # the default: identical rows found and weighted internally
    assert full.patterns == 3000 and packed.patterns == auto.patterns == len(counts)
    assert full.rows == packed.rows == auto.rows == 3000
    for other in (packed, auto):
        assert other.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-12, abs=1e-9)
        assert other.objective == pytest.approx(full.objective, rel=1e-12, abs=1e-9)
        assert np.abs(_values(other.model) - _values(full.model)).max() < 1e-12
    assert np.abs(_values(full.model) - _values(start)).max() > 1e-3  # EM did move the numbers


def test_weights_scale_like_repeated_rows(small: Model) -> None:
    data = sample(small, 200, 12)
    kw = {"prior_strength": 1.0, "max_iter": 3, "tol": 0.0}
    doubled = em(small, pd.concat([data, data], ignore_index=True), **kw)
    weighted = em(small, data, weights=np.full(200, 2.0), **kw)
    assert weighted.rows == 400
    assert np.abs(_values(weighted.model) - _values(doubled.model)).max() < 1e-12
    assert weighted.log_likelihood == pytest.approx(doubled.log_likelihood, rel=1e-12)


@pytest.mark.parametrize(
    ("weights", "message"),
    [([1.0] * 9, "9 values for 10 rows"), ([1.0] * 9 + [-1.0], "row 10"), ([0.0] * 10, "every row has weight 0")],
)
def test_bad_weights_are_data_errors(small: Model, weights: list[float], message: str) -> None:
    with pytest.raises(DataError, match=message):
        em(small, sample(small, 10, 9), weights=weights)


def test_noisy_max_activation_counts_match_enumeration() -> None:
    """The closed-form posterior of the hidden activations equals brute-force enumeration."""
    import itertools

    from distancing_bn.cpt import noisy_max
    from distancing_bn.learn import _noisy_counts

    rng = np.random.default_rng(13)
    dists = [rng.dirichlet(np.ones(3)) for _ in range(3)]  # leak and two parents, three levels
    dists[2][1] = 0.0  # a structural zero
    dists[2] /= dists[2].sum()
    table = noisy_max(dists[0][1:], [d[1:] for d in dists[1:]]).reshape(4, 3)
    family = rng.random((4, 3)) * 10  # expected counts of (parent configuration, child level)
    expected = [np.zeros(3) for _ in dists]
    for u, (p1, p2) in enumerate(itertools.product((0, 1), repeat=2)):
        for z in itertools.product(range(3), repeat=3):
            on = (True, bool(p1), bool(p2))
            if any(zj > 0 and not a for zj, a in zip(z, on, strict=True)):
                continue  # an absent parent's activation is 0
            p = np.prod([d[zj] if a else 1.0 for d, zj, a in zip(dists, z, on, strict=True)])
            y = max(z)
            for j, a in enumerate(on):
                if a:
                    expected[j][z[j]] += family[u, y] * p / table[u, y]
    got = _noisy_counts(dists, family)
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx(e, rel=1e-12, abs=1e-12)
    assert got[2][1] == 0.0
    assert got[0].sum() == pytest.approx(family.sum())  # the leak is drawn in every row


def test_premises_false_fits_as_if_there_were_no_premise(tmp_path: Path) -> None:
    with_premise = SMALL.replace(
        "    leak: 0.2\n    links: [{cause: drift, strength: 0.6",
        "    observed: 'yes'\n    leak: 0.2\n    links: [{cause: drift, strength: 0.6",
    )
    premise = _model(tmp_path, with_premise, "premise")
    plain = _model(tmp_path, SMALL, "plain")
    data = sample(plain, 500, 14).drop(columns=["q5"])
    kw = {"prior_strength": 1.0, "max_iter": 4, "tol": 0.0}
    a = em(premise, data, premises=False, **kw)
    b = em(plain, data, **kw)
    c = em(premise, data, **kw)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)
    assert np.abs(_values(a.model) - _values(b.model)).max() < 1e-12
    # with the premise as evidence the causes under it are pulled up: P(rows, premise) rewards them
    assert c.model.spec.cause("drift").prior > a.model.spec.cause("drift").prior


TWO_PARENT = """
format: distancing-bn/1
id: twoparent
title: Two latent causes, explicit tables
description: A table with two parents, both latent.
causes:
  - {id: c1, label: C1, description: A cause., prior: 0.4, rationale: t, guidance: [x]}
  - {id: c2, label: C2, description: A cause., prior: 0.3, rationale: t, guidance: [x]}
questions:
  - id: a
    text: "A?"
    answers: [no, yes]
    table: {parents: [c1], rows: {absent: [0.7, 0.3], present: [0.2, 0.8]}, rationale: t}
  - id: b
    text: "B?"
    answers: [no, yes]
    table: {parents: [c2], rows: {absent: [0.8, 0.2], present: [0.3, 0.7]}, rationale: t}
  - id: d
    text: "D?"
    answers: [low, mid, high]
    table:
      parents: [c1, c2]
      rows:
        absent absent: [0.6, 0.3, 0.1]
        absent present: [0.3, 0.4, 0.3]
        present absent: [0.4, 0.3, 0.3]
        present present: [0.1, 0.3, 0.6]
      rationale: t
"""


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_two_parent_table_equal_to_pgmpy_em(tmp_path: Path) -> None:
    """A table with two latent parents is learned too; every number equals pgmpy's EM after 5 steps."""
    pytest.importorskip("pgmpy")
    from pgmpy.estimators import ExpectationMaximization

    model = _model(tmp_path, TWO_PARENT, "twoparent")
    data = sample(model, 2000, 15)
    start = _moved(model, 0.1)
    ours = em(start, data, prior_strength=0, max_iter=5, tol=0)
    bn = start.to_pgmpy()
    bn.latents = {"c1", "c2"}
    init = {cpd.variable: cpd for cpd in bn.get_cpds()}
    cpds = ExpectationMaximization(bn, data).get_parameters(
        latent_card={"c1": 2, "c2": 2}, max_iter=5, atol=0, init_cpds=init, show_progress=False, seed=0
    )
    theirs = {cpd.variable: cpd for cpd in cpds}
    spec = ours.model.spec
    for c in ("c1", "c2"):
        assert spec.cause(c).prior == pytest.approx(theirs[c].get_values()[1, 0], abs=1e-9)
    d = theirs["d"]
    order = [d.state_names["d"].index(a) for a in spec.question("d").answers]
    assert d.variables[1:] == ["c1", "c2"]
    ours_rows = np.array(spec.question("d").table.rows)  # (c1 c2 configuration, answer)
    assert ours_rows == pytest.approx(d.get_values()[order].T, abs=1e-9)
    assert np.abs(ours_rows - np.array(start.spec.question("d").table.rows)).max() > 1e-3
