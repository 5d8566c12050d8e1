"""Tests of :mod:`distancing_bn.information`: expected gain, costs, lookahead, stop rule.

The small example model (two causes, one facet, four questions) is small enough to enumerate its
full joint distribution; the brute-force numbers below come from that table alone.
"""

from __future__ import annotations

import itertools
import json
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distancing_bn.errors import InvalidAnswerError, UnknownQuestionError
from distancing_bn.evidence import from_codes
from distancing_bn.formats import load_model
from distancing_bn.information import (
    QuestionRanking,
    StopDecision,
    StopRule,
    batch_gains_from_evidence,
    entropy_bits,
    next_question,
    rank_questions,
)
from distancing_bn.model import Model
from distancing_bn.network import Network
from distancing_bn.simulate import sample_cases
from distancing_bn.spec import parse_spec
from strategies import evidence_for, random_networks

TOL = 1e-9
FRAME_COLUMNS = [
    "question",
    "kind",
    "text",
    "expected_gain_bits",
    "cost",
    "gain_per_cost",
    "answered",
    "answer_probabilities",
]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def example_text(example_path: Path) -> str:
    return example_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def example(example_text: str) -> Model:
    return Model.from_spec(parse_spec(example_text))


def answer_sets(model: Model, n: int, seed: int) -> list[dict[str, str]]:
    """``n`` answer sets drawn from forward samples (so each has P > 0); the first is empty."""
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n, seed=seed)
    qs = list(model.questions)
    out = [{}]
    for row in range(1, n):
        chosen = rng.choice(qs, size=int(rng.integers(1, min(8, len(qs)) + 1)), replace=False)
        out.append({str(q): model.network.states[q][int(cases[q][row])] for q in chosen})
    return out


# ----------------------------------------------------------------------------- brute force
def full_joint(net: Network) -> np.ndarray:
    """The joint distribution of every variable, axes in ``net.variables`` order (enumeration)."""
    letters = dict(zip(net.variables, string.ascii_letters, strict=False))
    terms, operands = [], []
    for v in net.variables:
        terms.append("".join(letters[p] for p in net.parents[v]) + letters[v])
        operands.append(net.cpts[v])
    out = "".join(letters[v] for v in net.variables)
    return np.einsum(",".join(terms) + "->" + out, *operands)


class Brute:
    """I(T; Q | e) and the adaptive two-step value from the enumerated joint."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.net = model.network
        self.joint = full_joint(self.net)
        self.axis = {v: i for i, v in enumerate(self.net.variables)}

    def _restricted(self, evidence: Mapping[str, str]) -> np.ndarray:
        p = self.joint
        for q, a in evidence.items():
            mask = np.zeros(self.net.card(q))
            mask[self.net.states[q].index(a)] = 1.0
            shape = [1] * p.ndim
            shape[self.axis[q]] = -1
            p = p * mask.reshape(shape)
        return p

    def _marginal(self, p: np.ndarray, keep: Sequence[str]) -> np.ndarray:
        drop = tuple(i for v, i in self.axis.items() if v not in keep)
        return p.sum(axis=drop)

    def entropy(self, evidence: Mapping[str, str]) -> float:
        m = self._marginal(self._restricted(evidence), self.model.causes)
        return float(entropy_bits((m / m.sum()).ravel()))

    def answer_probabilities(self, q: str, evidence: Mapping[str, str]) -> np.ndarray:
        m = self._marginal(self._restricted(evidence), [q])
        return m / m.sum()

    def gain(self, q: str, evidence: Mapping[str, str]) -> float:
        p = self.answer_probabilities(q, evidence)
        after = sum(
            pa * self.entropy({**evidence, q: a}) for a, pa in zip(self.net.states[q], p, strict=True) if pa > 0
        )
        return self.entropy(evidence) - after

    def two_step(self, q1: str, evidence: Mapping[str, str], costs: bool) -> float:
        p = self.answer_probabilities(q1, evidence)
        value = self.gain(q1, evidence)
        rest = [q for q in self.model.questions if q not in evidence and q != q1]
        for a, pa in zip(self.net.states[q1], p, strict=True):
            if pa <= 0 or not rest:
                continue
            after = {**evidence, q1: a}
            gains = [self.gain(q2, after) for q2 in rest]
            score = [g / self.model.cost(q2) if costs else g for g, q2 in zip(gains, rest, strict=True)]
            value += pa * gains[int(np.argmax(score))]
        return value


EXAMPLE_EVIDENCE = [
    {},
    {"works_late": "yes"},
    {"less_talk": "a_lot"},
    {"less_talk": "a_little", "onset": "sudden"},
    {"feels_afraid": "yes", "works_late": "no", "onset": "gradual"},
]


def _ids(e: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in e.items()) or "none"


# ----------------------------------------------------------------------------- gains
@pytest.mark.parametrize("evidence", EXAMPLE_EVIDENCE, ids=_ids)
def test_gain_matches_enumeration_on_example(example: Model, evidence: dict[str, str]) -> None:
    brute = Brute(example)
    r = rank_questions(example, evidence, costs=False)
    assert r.entropy_bits == pytest.approx(brute.entropy(evidence), abs=TOL)
    for i, q in enumerate(r.questions):
        if q in evidence:
            continue
        assert r.gain_bits[i] == pytest.approx(brute.gain(q, evidence), abs=TOL), q
        probs = [r.answer_probabilities[i][s] for s in example.network.states[q]]
        np.testing.assert_allclose(probs, brute.answer_probabilities(q, evidence), atol=TOL)


@pytest.mark.parametrize("criterion", ["joint", "marginal"])
def test_gain_is_between_zero_and_current_uncertainty(model: Model, criterion: str) -> None:
    for answers in answer_sets(model, 6, seed=3):
        r = rank_questions(model, answers, criterion=criterion)  # type: ignore[arg-type]
        assert r.criterion == criterion
        assert np.isfinite(r.gain_bits).all()
        assert (r.gain_bits >= 0).all()
        assert (r.gain_bits <= r.entropy_bits + 1e-12).all()
        h_q: dict[str, float] = {}
        for i, q in enumerate(r.questions):  # also I(T; Q | e) <= H(Q | e)
            if not r.answered[i] and r.kind(q) == "question":
                h_q[q] = float(entropy_bits(np.array(list(r.answer_probabilities[i].values()))))
                assert r.gain_bits[i] <= h_q[q] + 1e-9, q
        gain = dict(zip(r.questions, r.gain_bits, strict=True))
        for (
            g,
            group,
        ) in model.groups.items():  # a checklist: max_i I(T; Q_i | e) <= I(T; Q_1..Q_k | e) <= Σ_i H(Q_i | e)
            items = [q for q in group.items if q not in answers]
            if not items:
                assert r.answered[r.questions.index(g)] and gain[g] == 0.0
                continue
            assert gain[g] >= max(gain[q] for q in items) - 1e-9, g
            assert gain[g] <= sum(h_q[q] for q in items) + 1e-9, g


@given(data=st.data())
@settings(max_examples=15, deadline=None)
def test_gain_bounds_random_networks(data: st.DataObject) -> None:
    net = Network.create(**data.draw(random_networks(max_nodes=6)))
    m = Model(net)
    answers = data.draw(evidence_for(net, soft=True))
    r = rank_questions(m, answers)
    assert (r.gain_bits >= 0).all()
    assert (r.gain_bits <= r.entropy_bits + 1e-9).all()
    for i in range(len(r.questions)):
        if not r.answered[i]:
            assert sum(r.answer_probabilities[i].values()) == pytest.approx(1.0, abs=1e-9)


def test_answered_questions_gain_zero_and_come_last(model: Model) -> None:
    answers = {"low_mood": "yes", "past_pattern": "no", "less_connected": "very_much"}
    r = rank_questions(model, answers)
    assert len(r.questions) == len(model.questions) + len(model.groups)
    frame = r.to_frame()
    n_open = len(r.questions) - len(answers)  # every checklist still has open items
    assert not frame["answered"].iloc[:n_open].any()
    assert frame["answered"].iloc[n_open:].all()
    assert set(frame["question"].iloc[n_open:]) == set(answers)
    assert (frame.loc[frame["answered"], "expected_gain_bits"] == 0.0).all()
    for q, a in answers.items():  # an answered question's answer is certain
        probs = r.answer_probabilities[r.questions.index(q)]
        assert probs == {s: float(s == a) for s in model.answers_of(q)}
    # a checklist whose items are all answered is answered too: no gain, ranked last
    mood = dict.fromkeys(model.groups["mood_checklist"].items, "no")
    closed = rank_questions(model, {**answers, **mood}).to_frame()
    done = closed[closed["answered"]]
    assert set(done["question"]) == set(answers) | set(mood) | {"mood_checklist"}
    assert (done["expected_gain_bits"] == 0.0).all()
    assert not closed["answered"].iloc[: len(closed) - len(done)].any()


def test_answer_probabilities_sum_to_one(model: Model) -> None:
    for answers in answer_sets(model, 4, seed=8):
        r = rank_questions(model, answers)
        base = model.posterior(answers).log_evidence
        for i, q in enumerate(r.questions):
            probs = r.answer_probabilities[i]
            if r.kind(q) == "group":  # a checklist: P(no item applies | e), when it is open
                items = [x for x in model.groups[q].items if x not in answers]
                if not items:
                    assert probs == {}
                    continue
                none = {x: model.answers_of(x)[0] for x in items}
                expected = np.exp(model.posterior({**answers, **none}).log_evidence - base)
                assert list(probs) == ["none"]
                assert probs["none"] == pytest.approx(expected, abs=1e-9), q
                continue
            assert list(probs) == list(model.answers_of(q))
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-12), q
            assert all(0.0 <= p <= 1.0 for p in probs.values())


def test_answer_probabilities_match_posterior_predictive(example: Model) -> None:
    """P(Q = a | e) = P(e, Q = a) / P(e), from two posterior calls' log-evidence."""
    e = {"onset": "sudden"}
    r = rank_questions(example, e)
    base = example.posterior(e).log_evidence
    for a in example.answers_of("less_talk"):
        p = np.exp(example.posterior({**e, "less_talk": a}).log_evidence - base)
        assert r.answer_probabilities[r.questions.index("less_talk")][a] == pytest.approx(p, abs=1e-12)


# ----------------------------------------------------------------------------- costs
def test_unit_costs_rank_like_no_costs_spec(example_text: str) -> None:
    assert "    cost: 2.0\n" in example_text
    unit = Model.from_spec(parse_spec(example_text.replace("    cost: 2.0\n", "")))
    assert all(unit.cost(q) == 1.0 for q in unit.questions)
    for e in EXAMPLE_EVIDENCE:
        with_costs = rank_questions(unit, e, costs=True).to_frame()
        without = rank_questions(unit, e, costs=False).to_frame()
        pd.testing.assert_frame_equal(with_costs, without)


def test_unit_costs_rank_like_no_costs_monkeypatched(model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"past_pattern": "no"}
    before = rank_questions(model, answers, costs=True).to_frame()
    monkeypatch.setattr(Model, "cost", lambda self, q: 1.0)
    with_costs = rank_questions(model, answers, costs=True).to_frame()
    without = rank_questions(model, answers, costs=False).to_frame()
    pd.testing.assert_frame_equal(with_costs, without)
    # the default model has questions that cost more than 1, so costs did matter before
    assert (before["cost"] > 1).any()
    assert list(before["question"]) != list(with_costs["question"])


@pytest.mark.parametrize("which", ["example", "model"])
def test_costs_order_by_gain_per_cost(which: str, example: Model, model: Model) -> None:
    m = example if which == "example" else model
    r = rank_questions(m, {}, costs=True)
    frame = r.to_frame()
    assert r.by_cost
    np.testing.assert_array_equal(frame["cost"], [m.cost(q) for q in frame["question"]])
    np.testing.assert_allclose(frame["gain_per_cost"], frame["expected_gain_bits"] / frame["cost"])
    assert (np.diff(frame["gain_per_cost"].to_numpy()) <= 0).all()
    assert r.best == frame["question"].iloc[0]
    plain = rank_questions(m, {}, costs=False).to_frame()
    assert (plain["cost"] == 1.0).all()
    assert (np.diff(plain["expected_gain_bits"].to_numpy()) <= 0).all()
    # costs change the order, never the gains
    g1 = dict(zip(frame["question"], frame["expected_gain_bits"], strict=True))
    g2 = dict(zip(plain["question"], plain["expected_gain_bits"], strict=True))
    assert g1 == g2


def test_costs_can_change_the_best_question(example_text: str) -> None:
    # make the best question (less_talk) very expensive: per cost it is no longer first
    text = example_text.replace(
        "    answers: [no, a_little, a_lot]\n", "    answers: [no, a_little, a_lot]\n    cost: 100\n"
    )
    m = Model.from_spec(parse_spec(text))
    assert rank_questions(m, {}, costs=False).best == "less_talk"
    by_cost = rank_questions(m, {}, costs=True)
    assert by_cost.best == "works_late"
    assert by_cost.to_frame()["question"].tolist().index("less_talk") > 0


# ----------------------------------------------------------------------------- lookahead
@pytest.mark.parametrize("costs", [False, True])
@pytest.mark.parametrize("evidence", EXAMPLE_EVIDENCE, ids=_ids)
def test_lookahead_two_matches_brute_force(example: Model, evidence: dict[str, str], costs: bool) -> None:
    brute = Brute(example)
    one = rank_questions(example, evidence, costs=costs, lookahead=1)
    two = rank_questions(example, evidence, costs=costs, lookahead=2)
    assert two.lookahead == 2
    for i, q in enumerate(two.questions):
        if q in evidence:
            assert two.gain_bits[i] == 0.0
            continue
        assert two.gain_bits[i] == pytest.approx(brute.two_step(q, evidence, costs), abs=TOL), q
        assert two.gain_bits[i] >= one.gain_bits[i] - 1e-12, q
        # two questions can never reveal more than all there is to know
        assert two.gain_bits[i] <= two.entropy_bits + 1e-9


def test_lookahead_two_at_least_one_default_model(model: Model) -> None:
    answers = {"past_pattern": "more_than_once"}
    one = rank_questions(model, answers, lookahead=1, groups=False)
    two = rank_questions(model, answers, lookahead=2)
    assert two.questions == one.questions == model.questions  # lookahead 2 ranks no checklists
    open_ = ~np.asarray(one.answered)
    assert (two.gain_bits[open_] >= one.gain_bits[open_] - 1e-12).all()
    assert (two.gain_bits[open_] <= two.entropy_bits + 1e-9).all()
    assert (two.gain_bits[open_] > one.gain_bits[open_]).any()


def test_lookahead_with_one_question_left_equals_myopic(example: Model) -> None:
    e = {"works_late": "no", "less_talk": "no", "onset": "sudden"}
    one = rank_questions(example, e, lookahead=1)
    two = rank_questions(example, e, lookahead=2)
    np.testing.assert_allclose(two.gain_bits, one.gain_bits, atol=1e-12)


@pytest.mark.parametrize("bad", [{"lookahead": 3}, {"lookahead": 0}, {"criterion": "mutual"}])
def test_bad_arguments_raise(example: Model, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"^(lookahead|criterion) must be"):
        rank_questions(example, {}, **bad)  # type: ignore[arg-type]


def test_bad_answers_raise(example: Model) -> None:
    with pytest.raises(UnknownQuestionError, match="works_late"):
        rank_questions(example, {"work_late": "yes"})
    with pytest.raises(InvalidAnswerError, match="'no', 'yes'"):
        rank_questions(example, {"works_late": "maybe"})


def test_target_ranks_by_one_variable(example: Model) -> None:
    r = rank_questions(example, {}, target="work_stress", costs=False)
    assert r.criterion == "target=work_stress"
    p = example.prior.marginal("work_stress").to_numpy()
    assert r.entropy_bits == pytest.approx(float(entropy_bits(p)), abs=1e-12)
    # works_late hangs off work_stress only: it is the most informative about it
    assert r.best == "works_late"


# ----------------------------------------------------------------------------- batch gains
@pytest.mark.parametrize("criterion", ["joint", "marginal"])
def test_batch_gains_from_evidence_equal_rank_questions(model: Model, criterion: str) -> None:
    n = 6
    rng = np.random.default_rng(4)
    cases = sample_cases(model, n, seed=4)
    qs = list(model.questions)
    mask = rng.random((n, len(qs))) < np.linspace(0.0, 0.3, n)[:, None]  # row 0: nothing answered
    codes = {q: np.where(mask[:, j], cases[q], -1) for j, q in enumerate(qs)}
    gains = batch_gains_from_evidence(model, from_codes(model.network, codes, n), criterion=criterion)
    assert gains.shape == (n, len(qs))
    for row in range(n):
        answers = {q: model.network.states[q][int(codes[q][row])] for q in qs if codes[q][row] >= 0}
        r = rank_questions(model, answers, criterion=criterion, costs=False, groups=False)  # type: ignore[arg-type]
        assert r.questions == tuple(qs)
        open_ = ~np.asarray(r.answered)
        np.testing.assert_allclose(gains[row, open_], r.gain_bits[open_], rtol=0, atol=TOL, err_msg=f"row {row}")


# ----------------------------------------------------------------------------- stop rule
def test_stop_rule_defaults() -> None:
    rule = StopRule()
    assert (rule.min_gain_bits, rule.decided_low, rule.decided_high, rule.max_questions) == (0.1, 0.1, 0.9, None)
    with pytest.raises(ValueError, match="decided_low <= decided_high"):
        StopRule(decided_low=0.9, decided_high=0.1)


def test_next_question_returns_a_decision(model: Model) -> None:
    d = next_question(model, {})
    assert isinstance(d, StopDecision)
    assert not d.stop and d.reason is None
    # the first screen comes before any ranking
    assert d.question == model.screens[0] and d.screen and d.ranking is None
    assert model.next_question({}).question == d.question
    # with the screens answered, the best-ranked question or checklist
    answers: dict[str, str] = {}
    for screen in model.screens:
        for q in model.groups[screen].items if screen in model.groups else (screen,):
            answers[q] = model.answers_of(q)[0]
    d = next_question(model, answers)
    assert not d.stop and d.reason is None and not d.screen
    assert isinstance(d.ranking, QuestionRanking)
    assert d.question is not None and d.question not in answers and d.question not in model.screens
    assert d.question == d.ranking.best == rank_questions(model, answers).best
    assert model.next_question(answers).question == d.question


def test_stop_budget(example: Model) -> None:
    answers = {"works_late": "yes", "onset": "sudden"}
    d = next_question(example, answers, stop=StopRule(max_questions=2))
    assert d.stop and d.question is None
    assert d.reason == "the question budget (2) is used up" and d.code == "budget"
    # 'asked' counts questions answered 'unsure' too
    d = next_question(example, {}, stop=StopRule(max_questions=3), asked=3)
    assert d.reason == "the question budget (3) is used up"
    assert not next_question(example, answers, stop=StopRule(max_questions=3)).stop


def test_stop_confident(example: Model) -> None:
    answers = {"less_talk": "a_lot", "onset": "gradual"}
    probs = example.posterior(answers).probabilities[list(example.causes)]
    lo, hi = float(probs.min()), float(probs.max())
    # every cause outside [low, high]: stop, whatever the top cause's lead
    d = next_question(example, answers, stop=StopRule(decided_low=lo, decided_high=hi, min_gain_bits=0.0))
    assert d.stop and d.code == "decided"
    assert d.reason == f"every cause is now either likely (at least {hi:.0%}) or unlikely (at most {lo:.0%})"
    # one cause still in between: go on, even when the top cause is far ahead
    mid = sorted(probs)[len(probs) // 2]
    rule = StopRule(decided_low=mid - 1e-9, decided_high=mid + 1e-9, min_gain_bits=0.0)
    if len(probs) > 2:
        assert not next_question(example, answers, stop=rule).stop


def test_stop_min_gain(example: Model) -> None:
    best = rank_questions(example, {}).best_gain_bits
    d = next_question(example, {}, stop=StopRule(min_gain_bits=5.0))
    assert d.stop
    assert d.code == "no_gain"
    assert d.reason == "no question left is likely to change the picture much"
    assert d.ranking is not None and d.ranking.best_gain_bits == best < 5.0
    assert d.ranking is not None


def test_stop_all_answered(example: Model) -> None:
    answers = {"works_late": "no", "less_talk": "no", "onset": "sudden", "feels_afraid": "no"}
    d = next_question(example, answers, stop=StopRule(decided_low=0.0, decided_high=1.0))
    assert d.stop
    assert d.reason == "every question has been asked" and d.code == "exhausted"


def test_stop_budget_checked_first(example: Model) -> None:
    answers = {"works_late": "no", "less_talk": "no", "onset": "sudden", "feels_afraid": "no"}
    d = next_question(example, answers, stop=StopRule(max_questions=4, decided_low=0.5, decided_high=0.5))
    assert d.reason == "the question budget (4) is used up"


# ----------------------------------------------------------------------------- display
def test_to_frame_columns(model: Model) -> None:
    frame = rank_questions(model, {"past_pattern": "no"}).to_frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert len(frame) == len(model.questions) + len(model.groups)
    assert set(frame["question"]) == set(model.questions) | set(model.groups)
    kinds = dict(zip(frame["question"], frame["kind"], strict=True))
    assert kinds == {q: "group" if q in model.groups else "question" for q in frame["question"]}
    texts = [model.groups[q].text if q in model.groups else model.question_text(q) for q in frame["question"]]
    assert frame["text"].tolist() == texts
    # groups=False: the questions only
    plain = rank_questions(model, {"past_pattern": "no"}, groups=False).to_frame()
    assert list(plain.columns) == FRAME_COLUMNS
    assert set(plain["question"]) == set(model.questions) and (plain["kind"] == "question").all()


def test_best_is_none_when_everything_is_answered(example: Model) -> None:
    answers = {q: example.answers_of(q)[-1] for q in example.questions}
    r = rank_questions(example, answers)
    assert r.best is None
    assert r.best_gain_bits == 0.0
    assert all(r.answered)
    assert (r.gain_bits == 0).all()
    assert "best: None" in repr(r)


def test_repr_html_escapes(example_text: str) -> None:
    text = example_text.replace(
        "text: Is your partner working longer hours than before?",
        'text: "Is your partner <script>alert(1)</script> & late?"',
    ).replace("disclaimer: A reflective aid", "disclaimer: <b>A</b> reflective aid")
    m = Model.from_spec(parse_spec(text))
    r = rank_questions(m, {})
    out = r._repr_html_()
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; late?" in out
    assert "<b>A</b>" not in out and "&lt;b&gt;A&lt;/b&gt;" in out
    assert "answer_probabilities" not in out


def test_summary_to_dict_and_repr(model: Model) -> None:
    r = rank_questions(model, {})
    text = r.summary(3)
    assert text.splitlines()[0].startswith(f"Current uncertainty {r.entropy_bits:.3f} bits")
    assert model.question_label(r.best) in text.splitlines()[1] and r.best not in text.splitlines()[1]
    assert "not a clinical" in text
    d = json.loads(json.dumps(r.to_dict()))
    assert d["best"] == r.best
    assert [x["question"] for x in d["questions"]] == r.to_frame()["question"].tolist()
    n_open = len(model.questions) + len(model.groups)  # nothing answered: every question and checklist
    assert repr(r).startswith(f"<QuestionRanking {n_open} candidates | best: {r.best}")


def test_entropy_bits_helper() -> None:
    assert float(entropy_bits(np.array([0.5, 0.5]))) == pytest.approx(1.0)
    assert float(entropy_bits(np.array([1.0, 0.0]))) == 0.0
    np.testing.assert_allclose(entropy_bits(np.full((3, 4), 0.25)), [2.0, 2.0, 2.0])
    for a in itertools.product([0.1, 0.2], repeat=2):
        p = np.array([*a, 1 - sum(a)])
        assert float(entropy_bits(p)) == pytest.approx(float(-(p * np.log2(p)).sum()))
