"""Several present states, and targets with none given or named (issue 14, part 4)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distancing_bn.errors import ModelWarning
from distancing_bn.formats import load_model, load_network
from distancing_bn.model import Model

pytest.importorskip("pgmpy")

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "two_causes.yaml"
BOTH = {"Cirrhosis": ["decompensate", "compensate"]}


def _load(path: Path, **kwargs: object) -> Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        return load_network(path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hepar2_path(external_dir: Path) -> Path:
    return external_dir / "networks" / "hepar2.bif"


@pytest.fixture(scope="module")
def both(hepar2_path: Path) -> Model:
    return _load(hepar2_path, targets=["Cirrhosis", "PBC"], present=BOTH)


@pytest.fixture(scope="module")
def unnamed(hepar2_path: Path) -> Model:
    return _load(hepar2_path, targets=["Cirrhosis", "PBC"])


def _answers(model: Model) -> dict[str, str]:
    """A few answers that move Cirrhosis (first state of three askable nodes near it)."""
    picks = [q for q in ("ascites", "spleen", "edema", "fatigue") if q in model.questions][:3]
    assert len(picks) == 3
    return {q: model.network.states[q][0] for q in picks}


def test_probability_adds_up_both_present_states_as_pgmpy_does(both: Model) -> None:
    from pgmpy.inference import VariableElimination

    from distancing_bn.interop import to_pgmpy

    answers = _answers(both)
    post = both.posterior(answers)
    want = VariableElimination(to_pgmpy(both.network)).query(["Cirrhosis"], evidence=answers, show_progress=False)
    names = want.state_names["Cirrhosis"]
    expected = want.values[names.index("decompensate")] + want.values[names.index("compensate")]
    assert post.probabilities["Cirrhosis"] == pytest.approx(expected, abs=1e-9)
    assert post.probabilities["Cirrhosis"] == pytest.approx(1 - float(post.marginal("Cirrhosis")["absent"]), abs=1e-12)
    # no answer: 7.8%, not the 5.4% of 'decompensate' alone
    prior = both.posterior({})
    assert round(float(prior.probabilities["Cirrhosis"]), 3) == 0.078
    assert round(float(prior.marginal("Cirrhosis")["decompensate"]), 3) == 0.054


def test_results_say_which_states_they_count(both: Model) -> None:
    post = both.posterior(_answers(both))
    info = next(v for v in post.variables if v.id == "Cirrhosis")
    assert info.present_states == ("decompensate", "compensate")
    data = post.to_dict()
    assert data["present_states"]["Cirrhosis"] == ["decompensate", "compensate"]
    assert data["present_states"]["PBC"] == ["present"]
    assert set(data["distributions"]) == {"Cirrhosis"}
    assert sum(data["distributions"]["Cirrhosis"].values()) == pytest.approx(1.0, abs=1e-12)
    assert "'decompensate' or 'compensate'" in post.summary()
    expl = both.explain(_answers(both), "Cirrhosis")
    assert expl.to_dict()["present_states"] == ["decompensate", "compensate"]
    assert expl.summary().startswith(f"Cirrhosis ('decompensate' or 'compensate'): {expl.probability:.1%}")


def test_top_explanations_count_both_states_as_present(both: Model) -> None:
    top = both.posterior(_answers(both)).top_explanations(6)
    for row in top.itertuples():
        assert ("Cirrhosis" in row.present.split(" + ")) == (row.Cirrhosis != "absent")


def test_score_columns_and_top_cause_agree_with_the_posterior(both: Model) -> None:
    rows = [_answers(both), {}, {q: both.network.states[q][-1] for q in _answers(both)}]
    out = both.score(pd.DataFrame(rows), next_question=False)
    for i, answers in enumerate(rows):
        probs = both.posterior(answers).probabilities
        assert out["p_Cirrhosis"].iloc[i] == pytest.approx(probs["Cirrhosis"], abs=1e-12)
        assert out["p_PBC"].iloc[i] == pytest.approx(probs["PBC"], abs=1e-12)
        assert out["top_cause"].iloc[i] == probs[["Cirrhosis", "PBC"]].idxmax()


def test_explain_uses_the_summed_probability(both: Model) -> None:
    answers = _answers(both)
    expl = both.explain(answers, "Cirrhosis")
    assert expl.probability == pytest.approx(float(both.posterior(answers).probabilities["Cirrhosis"]), abs=1e-12)
    for q, p_wo in zip(expl.questions, expl.p_without, strict=True):
        rest = {k: v for k, v in answers.items() if k != q}
        assert p_wo == pytest.approx(float(both.posterior(rest).probabilities["Cirrhosis"]), abs=1e-9)
    odds = lambda p: np.log2(p / (1 - p))  # noqa: E731
    for b, p_wo in zip(expl.bits, expl.p_without, strict=True):
        assert b == pytest.approx(odds(expl.probability) - odds(p_wo), abs=1e-9)


def test_decision_gain_counts_both_states(hepar2_path: Path) -> None:
    model = _load(hepar2_path, targets=["Cirrhosis"], present=BOTH)
    answers = {"fatigue": model.network.states["fatigue"][0]}
    ranking = model.rank_questions(answers, criterion="decision")

    def wrong(p: float) -> float:
        return min(p, 1 - p)

    u0 = wrong(float(model.posterior(answers).probabilities["Cirrhosis"]))
    for q in ranking.questions[:3]:
        after = 0.0
        for s, p_o in ranking.answer_probabilities[ranking.questions.index(q)].items():
            if p_o > 0:
                after += p_o * wrong(float(model.posterior({**answers, q: s}).probabilities["Cirrhosis"]))
        got = float(ranking.gain_bits[ranking.questions.index(q)])
        assert got == pytest.approx(max(0.0, u0 - after), abs=1e-9)


def test_present_matrix_marks_both_states(both: Model) -> None:
    from distancing_bn.information import _present_matrix

    m = _present_matrix(both)
    cards = [both.network.card(t) for t in both.network.targets]
    states = np.indices(cards).reshape(len(cards), -1)
    i = list(both.network.targets).index("Cirrhosis")
    absent = both.network.states["Cirrhosis"].index("absent")
    np.testing.assert_array_equal(m[:, i], (states[i] != absent).astype(float))


# ----------------------------------------------------------------------------- nothing given or named
def test_unnamed_target_counts_every_state_but_its_usual_one(unnamed: Model) -> None:
    info = next(v for v in unnamed.variables if v.id == "Cirrhosis")
    assert info.states[info.usual] == "absent"  # the likeliest state with no answer
    assert info.present_states == ("decompensate", "compensate")
    answers = _answers(unnamed)
    post = unnamed.posterior(answers)
    assert post.probabilities["Cirrhosis"] == pytest.approx(1 - float(post.marginal("Cirrhosis")["absent"]), abs=1e-12)
    assert set(post.to_dict()["distributions"]) == {"Cirrhosis"}  # PBC names 'present'


def test_unnamed_target_summary_names_its_likeliest_other_state(unnamed: Model) -> None:
    for answers in ({}, _answers(unnamed)):
        post = unnamed.posterior(answers)
        m = post.marginal("Cirrhosis").drop("absent")
        top = str(m.idxmax())
        line = next(x for x in post.summary().splitlines() if x.strip().startswith("Cirrhosis"))
        assert f"not 'absent', most likely {top!r} {m.max():.1%}" in line
        assert f"{1 - float(post.marginal('Cirrhosis')['absent']):6.1%}" in line


def test_summary_of_a_changed_usual_state_follows_the_prior() -> None:
    from distancing_bn.network import Network

    states = {"t": ("low", "mid", "high"), "q": ("no", "yes")}
    parents = {"t": (), "q": ("t",)}
    cpts = {"t": np.array([0.2, 0.7, 0.1]), "q": np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])}
    model = Model(Network.create("three", states, parents, cpts, targets=["t"]))
    info = model.variables[0]
    assert info.states[info.usual] == "mid" and info.present_states == ("low", "high")
    post = model.posterior({"q": "yes"})
    p = np.array([0.2 * 0.1, 0.7 * 0.2, 0.1 * 0.9]) / (0.02 + 0.14 + 0.09)
    assert post.probabilities["t"] == pytest.approx(p[0] + p[2], abs=1e-12)
    assert f"not 'mid', most likely 'high' {p[2]:.1%}" in post.summary()


def test_yaml_models_count_only_their_present_state() -> None:
    model = load_model(EXAMPLE)
    post = model.posterior({})
    for v in model.variables:
        assert v.usual is None and len(v.present_states) == 1
        assert post.probabilities[v.id] == float(post.marginals[v.id][v.states.index(v.present_states[0])])
    assert post.to_dict()["distributions"] == {}
    assert "most likely" not in post.summary()
