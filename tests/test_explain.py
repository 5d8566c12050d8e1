"""Explanations: bits of log-odds per answer, recomputed by hand from two posteriors.

``bits(q, c) = log2 odds(c | e) − log2 odds(c | e without q)`` (see :mod:`distancing_bn.explain`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

import distancing_bn
from distancing_bn import Explanation, Model, Network
from distancing_bn.simulate import sample_cases

AB = ("absent", "present")


@pytest.fixture(scope="module")
def default_model() -> Model:
    return distancing_bn.load_model()


@pytest.fixture(scope="module")
def example(example_path: Any) -> Model:
    return distancing_bn.load_model(example_path)


@pytest.fixture(scope="module")
def toy() -> Model:
    """A and B independent causes; E depends on both, F on A only (so F alone never moves B)."""
    return Model(
        Network.create(
            "toy",
            {"A": AB, "B": AB, "E": ("no", "yes"), "F": ("low", "mid", "high")},
            {"A": (), "B": (), "E": ("A", "B"), "F": ("A",)},
            {
                "A": [0.7, 0.3],
                "B": [0.8, 0.2],
                "E": [[[0.9, 0.1], [0.5, 0.5]], [[0.3, 0.7], [0.1, 0.9]]],
                "F": [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]],
            },
            targets=["A", "B"],
        )
    )


def log2_odds(p: float) -> float:
    return math.log2(p) - math.log2(1 - p)


def by_hand(model: Model, answers: Mapping[str, Any], cause: str) -> dict[str, tuple[float, float]]:
    """Per answered question: (bits, p_without) from two separate ``model.posterior`` calls."""
    post = model.posterior(answers)
    p = float(post.probabilities[cause])
    out = {}
    for q in post.answers:
        without = {k: v for k, v in answers.items() if k != q}
        p_wo = float(model.posterior(without).probabilities[cause])
        out[q] = (log2_odds(p) - log2_odds(p_wo), p_wo)
    return out


def sampled_answers(model: Model, n: int, seed: int, share: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n, seed=seed)
    out = []
    for i in range(n):
        answers: dict[str, Any] = {}
        for q in model.questions:
            if rng.random() < share:
                states = model.answers_of(q)
                if rng.random() < 0.2:
                    answers[q] = dict(zip(states, rng.uniform(0.1, 1.0, len(states)).tolist(), strict=True))
                else:
                    answers[q] = states[int(cases[q][i])]
        out.append(answers)
    return out


# ----------------------------------------------------------------------------- the numbers
def test_bits_equal_hand_computation_default_model(default_model: Model) -> None:
    for answers in sampled_answers(default_model, 4, seed=2, share=0.12):
        post = default_model.posterior(answers)
        for cause in default_model.causes[:4]:
            expl = post.explain(cause)
            hand = by_hand(default_model, answers, cause)
            assert expl.questions == tuple(post.answers)
            assert expl.probability == pytest.approx(float(post.probabilities[cause]), abs=1e-15)
            for q, bits, p_wo in zip(expl.questions, expl.bits, expl.p_without, strict=True):
                assert bits == pytest.approx(hand[q][0], abs=1e-12), (cause, q)
                assert p_wo == pytest.approx(hand[q][1], abs=1e-13), (cause, q)


def test_bits_equal_hand_computation_toy(toy: Model) -> None:
    for answers in (
        {"E": "yes"},
        {"E": "yes", "F": "high"},
        {"E": "no", "F": {"low": 0.2, "mid": 1, "high": 0.4}},
    ):
        post = toy.posterior(answers)
        for cause in ("A", "B"):
            hand = by_hand(toy, answers, cause)
            expl = post.explain(cause)
            np.testing.assert_allclose(expl.bits, [hand[q][0] for q in expl.questions], rtol=0, atol=1e-12)
            np.testing.assert_allclose(
                np.exp2(expl.bits),
                expl.to_frame().set_index("question").loc[list(expl.questions), "factor"],
                rtol=1e-12,
            )


def test_single_answer_bits_are_the_log_likelihood_ratio(toy: Model) -> None:
    # with one answer, bits = log2 P(E=yes | A) / P(E=yes | not A) (Bayes' rule in odds form)
    p_yes_a = 0.2 * 0.9 + 0.8 * 0.7
    p_yes_not_a = 0.2 * 0.5 + 0.8 * 0.1
    expl = toy.posterior({"E": "yes"}).explain("A")
    assert expl.bits[0] == pytest.approx(math.log2(p_yes_a / p_yes_not_a), abs=1e-12)
    assert expl.p_without[0] == pytest.approx(0.3, abs=1e-15)


def test_model_explain_shortcut(example: Model) -> None:
    answers = {"works_late": "yes", "less_talk": "a_lot"}
    a = example.explain(answers, "stress")
    b = example.posterior(answers).explain("stress")
    assert isinstance(a, Explanation)
    np.testing.assert_array_equal(a.bits, b.bits)


# ----------------------------------------------------------------------------- explain_all
def test_explain_all_shape_and_consistency(default_model: Model) -> None:
    answers = sampled_answers(default_model, 1, seed=5, share=0.15)[0]
    assert len(answers) >= 3
    post = default_model.posterior(answers)
    table = post.explain_all()
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (len(post.answers), len(default_model.variables))
    assert list(table.index) == list(post.answers)
    assert table.index.name == "question"
    assert list(table.columns) == [v.id for v in default_model.variables]
    for name in (*default_model.causes, *default_model.facets[:5]):
        np.testing.assert_allclose(table[name].to_numpy(), post.explain(name).bits, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(table.to_numpy()))


def test_explain_all_without_answers(example: Model) -> None:
    post = example.posterior({})
    table = post.explain_all()
    assert table.shape == (0, len(example.variables))
    expl = post.explain("stress")
    assert expl.questions == () and expl.bits.shape == (0,)
    assert expl.sentences() == []
    assert "no answer moved it" in expl.summary()


# ----------------------------------------------------------------------------- words
def test_sentences_mention_question_text(example: Model) -> None:
    answers = {"works_late": "yes", "less_talk": "a_lot", "onset": "sudden"}
    post = example.posterior(answers)
    expl = post.explain("stress")
    sentences = expl.sentences()
    assert sentences, "strong answers must produce sentences"
    texts = {q: example.question_text(q) for q in answers}
    assert texts["works_late"] == "Is your partner working longer hours than before?"
    for s in sentences:
        assert any(t in s for t in texts.values()), s
    moved = [q for q, b in zip(expl.questions, expl.bits, strict=True) if abs(b) >= 0.07]
    for q in moved:
        assert any(texts[q] in s for s in sentences)
    assert expl.texts == tuple(texts[q] for q in expl.questions)
    summary = expl.summary()
    assert summary.startswith(f"{expl.label}: ") and example.disclaimer in summary
    assert repr(expl).startswith("<Explanation stress ")
    frame = expl.to_frame()
    assert list(frame.columns) == ["question", "text", "answer", "bits", "factor", "p_without"]
    assert list(frame["bits"].abs()) == sorted(frame["bits"].abs(), reverse=True)


def test_soft_answer_is_described(example: Model) -> None:
    expl = example.posterior({"works_late": {"no": 0.25, "yes": 1.0}}).explain("stress")
    assert expl.answers == ("soft(0.25, 1)",)
    assert expl.bits[0] > 0


def test_answer_that_does_not_move_a_cause_has_zero_bits(toy: Model) -> None:
    # F depends on A only: with F alone (no E to couple A and B), B does not move
    post = toy.posterior({"F": "high"})
    assert post.probabilities["B"] == pytest.approx(0.2, abs=1e-15)
    expl = post.explain("B")
    assert expl.bits.tolist() == [pytest.approx(0.0, abs=1e-12)]
    assert expl.sentences() == []
    assert post.explain_all().loc["F", "B"] == pytest.approx(0.0, abs=1e-12)
    # whereas A moves: P(high | A) / P(high | not A) = 0.5 / 0.1
    assert post.explain("A").bits[0] == pytest.approx(math.log2(5.0), abs=1e-12)
    # a soft answer with equal likelihoods moves nothing at all
    flat = toy.posterior({"E": "yes", "F": {"low": 0.4, "mid": 0.4, "high": 0.4}})
    for cause in ("A", "B"):
        bits = dict(zip(flat.explain(cause).questions, flat.explain(cause).bits, strict=True))
        assert bits["F"] == pytest.approx(0.0, abs=1e-12)


def test_explanation_to_dict_is_json_safe(example: Model) -> None:
    import json

    d = example.posterior({"works_late": "yes"}).explain("stress").to_dict()
    assert json.loads(json.dumps(d))["cause"] == "stress"
    assert d["contributions"][0]["question"] == "works_late"


# ----------------------------------------------------------------------------- certain and ruled out
@pytest.fixture(scope="module")
def copies() -> Model:
    """``Q`` copies cause A exactly (a deterministic table); ``R`` is a noisy sign of A and B."""
    return Model(
        Network.create(
            "copies",
            {"A": AB, "B": AB, "Q": ("no", "yes"), "R": ("no", "yes")},
            {"Q": ("A",), "R": ("A", "B")},
            {
                "A": [0.7, 0.3],
                "B": [0.8, 0.2],
                "Q": [[1.0, 0.0], [0.0, 1.0]],
                "R": [[[0.9, 0.1], [0.5, 0.5]], [[0.3, 0.7], [0.1, 0.9]]],
            },
            targets=["A", "B"],
        )
    )


@pytest.mark.parametrize(
    ("answer", "bits", "words"), [("yes", math.inf, "made it certain"), ("no", -math.inf, "ruled it out")]
)
def test_an_answer_that_decides_a_cause_is_said_in_words(copies: Model, answer: str, bits: float, words: str) -> None:
    post = copies.posterior({"Q": answer, "R": "yes"})
    expl = post.explain("A")
    assert expl.probability == (1.0 if answer == "yes" else 0.0)
    frame = expl.to_frame().set_index("question")
    assert frame.loc["Q", "bits"] == bits
    assert frame.loc["R", "bits"] == 0.0  # A is decided with or without R
    sentences = expl.sentences()
    assert len(sentences) == 1 and words in sentences[0] and "inf" not in sentences[0]
    assert "times" not in sentences[0]
    assert words in expl.summary() and "inf" not in expl.summary()
    d = expl.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON
    q = next(c for c in d["contributions"] if c["question"] == "Q")
    assert q["bits"] is None and q["effect"] == ("made certain" if answer == "yes" else "ruled out")
    assert next(c for c in d["contributions"] if c["question"] == "R")["effect"] == "unchanged"
    assert post.explain_all().loc["Q", "A"] == bits
    # B is still moved by R in the usual way
    assert "times as likely" in " ".join(post.explain("B").sentences())
