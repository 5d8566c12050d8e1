"""Tests of :class:`distancing_bn.session.Session` and the guidance it gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from distancing_bn.errors import DataError, DistancingBNError, InvalidAnswerError, UnknownQuestionError
from distancing_bn.formats import load_model
from distancing_bn.guidance import Guidance
from distancing_bn.information import StopRule
from distancing_bn.model import Model
from distancing_bn.results import Posterior
from distancing_bn.session import SKIPPED, Session
from distancing_bn.spec import parse_spec


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def example(example_path: Path) -> Model:
    return load_model(example_path)


def same_posterior(a: Posterior, b: Posterior) -> None:
    """Bit-for-bit equality of two posteriors' numbers."""
    assert dict(a.answers) == dict(b.answers)
    assert a.marginals.keys() == b.marginals.keys()
    for v in a.marginals:
        np.testing.assert_array_equal(a.marginals[v], b.marginals[v], err_msg=v)
    assert a.log_evidence == b.log_evidence
    if a.target_joint is None:
        assert b.target_joint is None
    else:
        np.testing.assert_array_equal(a.target_joint, b.target_joint)
    pd.testing.assert_series_equal(a.probabilities, b.probabilities, check_exact=True)


# ----------------------------------------------------------------------------- flow
def test_answer_skip_undo_flow(model: Model) -> None:
    s = model.session()
    assert s.asked == () and s.answers == {} and s.history == []
    # the screens come first, in their order: a checklist, then a question
    q1 = s.next_question()
    assert q1 == model.screens[0] and q1 in model.groups
    items = model.groups[q1].items
    assert s.answer(q1, "none") is s  # chainable
    assert s.answers == {q: model.answers_of(q)[0] for q in items}
    q2 = s.next_question()
    assert q2 == model.screens[1] and q2 != q1
    s.skip(q2)
    assert s.asked == (q1, *items, q2)
    assert s.answers == {q: model.answers_of(q)[0] for q in items}
    q3 = s.next_question()
    assert q3 not in (q1, q2)  # a skipped screen is not asked again
    assert q3 == (model.screens[2] if len(model.screens) > 2 else s.ranking().best_excluding(set(s.asked)))
    text2 = model.groups[q2].text if q2 in model.groups else model.question_text(q2)
    assert s.history == [
        {"question": q1, "answer": {q: model.answers_of(q)[0] for q in items}, "text": model.groups[q1].text},
        {"question": q2, "answer": SKIPPED, "text": text2},
    ]
    s.undo()
    assert s.asked == (q1, *items)
    assert s.next_question() == q2
    s.undo()
    assert s.asked == ()
    assert s.next_question() == q1
    with pytest.raises(DistancingBNError, match="nothing to undo"):
        s.undo()
    # past the screens, the best-ranked open question or checklist is asked, and the same steps hold
    for screen in model.screens:
        s.answer(screen, "none" if screen in model.groups else model.answers_of(screen)[0])
    done = set(s.asked)
    q4 = s.next_question()
    assert q4 is not None and q4 not in done
    assert q4 == model.rank_questions(s.answers, exclude=done).best_excluding(done)
    before = dict(s.answers)
    s.skip(q4)
    q5 = s.next_question()
    assert q5 is not None and q5 not in (*done, q4)
    assert s.answers == before
    s.undo()
    assert s.next_question() == q4


def test_answer_labels_are_normalised(example: Model) -> None:
    s = example.session()
    s.answer("works_late", " YES ")
    assert s.answers == {"works_late": "yes"}


def test_undo_restores_previous_posterior_exactly(model: Model) -> None:
    s = model.session()
    s.answer("past_pattern", "more_than_once")
    s.answer("low_mood", "yes")
    before = s.posterior
    ranking_before = s.ranking().to_frame()
    s.answer("less_connected", "very_much")
    assert not np.array_equal(s.posterior.probabilities, before.probabilities)
    s.undo()
    after = s.posterior
    assert after is not before  # recomputed, not a stale cache
    same_posterior(before, after)
    pd.testing.assert_frame_equal(s.ranking().to_frame(), ranking_before, check_exact=True)
    # undoing a skip or an 'unsure' leaves the posterior as it was too
    s.skip("bereavement").undo()
    same_posterior(before, s.posterior)


def test_answering_twice_raises(model: Model) -> None:
    s = model.session()
    s.answer("past_pattern", "no")
    with pytest.raises(DistancingBNError, match="already asked"):
        s.answer("past_pattern", "once")
    with pytest.raises(DistancingBNError, match="already asked"):
        s.skip("past_pattern")
    s.skip("low_mood")
    with pytest.raises(DistancingBNError, match="already asked"):
        s.answer("low_mood", "no")
    s.answer("grief_lingers", "unsure")
    with pytest.raises(DistancingBNError, match="already asked"):
        s.answer("grief_lingers", "yes")
    assert s.asked == ("past_pattern", "low_mood", "grief_lingers")
    # after undo the question can be answered again
    s.undo().answer("grief_lingers", "yes")
    assert s.answers["grief_lingers"] == "yes"


def test_invalid_answers_raise_and_leave_no_trace(model: Model) -> None:
    s = model.session()
    with pytest.raises(InvalidAnswerError, match=r"valid: 'no', 'once', 'more_than_once', 'unsure'"):
        s.answer("past_pattern", "twice")
    with pytest.raises(UnknownQuestionError, match="did you mean 'past_pattern'"):
        s.answer("past_patern", "no")
    with pytest.raises(UnknownQuestionError):
        s.skip("no_such_question")
    assert s.asked == ()


def test_unsure_counts_as_asked_without_evidence(model: Model) -> None:
    s = model.session(stop=StopRule(max_questions=3))
    q = s.next_question()
    assert q in model.groups  # the safety checklist comes first
    items = model.groups[q].items
    s.answer(q, "unsure")
    assert s.asked == (q, *items)
    assert s.answers == {}
    assert s.history[0]["answer"] == dict.fromkeys(items, "unsure")
    same_posterior(s.posterior, model.posterior({}))
    q2 = s.next_question()
    assert q2 not in (None, q)
    s.answer(q2, None)  # None is 'unsure' too
    assert s.asked == (q, *items, q2, *(model.groups[q2].items if q2 in model.groups else ()))
    assert s.answers == {}
    assert not s.done
    s.answer(s.next_question(), "unsure")
    assert s.answers == {}
    same_posterior(s.posterior, model.posterior({}))
    assert s.steps == 3
    assert s.done
    assert s.stop_reason == "the question budget (3) is used up"


def test_soft_answer_is_kept(example: Model) -> None:
    s = example.session()
    s.answer("works_late", {"no": 0.2, "yes": 0.8})
    data = s.to_dict()
    assert data["history"] == [["works_late", {"no": 0.2, "yes": 0.8}]]
    restored = Session.from_dict(json.loads(json.dumps(data)), example)
    same_posterior(restored.posterior, s.posterior)


def test_soft_answer_posterior_and_history(example: Model) -> None:
    s = example.session()
    s.answer("works_late", {"no": 0.2, "yes": 0.8})
    expected = example.posterior({"works_late": {"no": 0.2, "yes": 0.8}})
    same_posterior(s.posterior, expected)
    assert s.history[0]["answer"] == {"no": 0.2, "yes": 0.8}
    assert s.next_question() is not None


# ----------------------------------------------------------------------------- persistence
def test_to_dict_json_from_dict_round_trip(model: Model) -> None:
    s = model.session(stop=StopRule(min_gain_bits=0.01, max_questions=10), criterion="marginal", costs=False)
    s.answer("past_pattern", "once")
    s.skip("low_mood")
    s.answer("grief_lingers", "unsure")
    s.answer("less_connected", "somewhat")
    data = json.loads(json.dumps(s.to_dict()))
    assert data["model"] == model.id
    assert data["model_sha256"] == model.spec.sha256
    assert data["history"] == [
        ["past_pattern", "once"],
        ["low_mood", SKIPPED],
        ["grief_lingers", "unsure"],
        ["less_connected", "somewhat"],
    ]
    r = Session.from_dict(data, model)
    assert r.history == s.history
    assert r.asked == s.asked and r.answers == s.answers
    assert r.stop_rule == s.stop_rule and r.criterion == "marginal" and r.costs is False
    same_posterior(r.posterior, s.posterior)
    assert r.next_question() == s.next_question()
    assert r.next_question() is not None


def test_from_dict_default_model_and_wrong_model(model: Model, example: Model) -> None:
    s = model.session()
    s.answer("past_pattern", "no")
    r = Session.from_dict(json.loads(json.dumps(s.to_dict())))  # the bundled model by default
    assert r.model.id == model.id
    assert r.history == s.history
    other = example.session().to_dict()
    with pytest.raises(DistancingBNError, match="saved for model 'two_causes'"):
        Session.from_dict(other, model)


# ----------------------------------------------------------------------------- stop
def test_done_and_stop_reason_with_max_questions(model: Model) -> None:
    budget = len(model.screens) + 2  # the screens, then two ranked steps
    s = model.session(stop=StopRule(max_questions=budget))
    assert not s.done and s.stop_reason is None
    for _ in range(budget):
        q = s.next_question()
        assert q is not None
        s.answer(q, "none" if q in model.groups else model.answers_of(q)[0])
    assert s.steps == budget
    assert s.done
    assert s.next_question() is None
    assert s.decision().code == "budget"
    assert s.stop_reason == f"the question budget ({budget}) is used up"
    assert f"done: the question budget ({budget}) is used up" in repr(s)
    s.undo()
    assert not s.done and s.stop_reason is None


def test_stops_when_every_question_was_asked(example: Model) -> None:
    s = example.session(stop=StopRule(min_gain_bits=0.0, decided_low=0.0, decided_high=1.0))
    for q in example.questions:
        s.skip(q)
    assert s.done
    assert s.stop_reason == "every question has been asked"


def test_stops_when_confident(example: Model) -> None:
    s = example.session(stop=StopRule(decided_low=0.5, decided_high=0.5, min_gain_bits=0.0))
    s.answer("less_talk", "a_lot").answer("onset", "gradual")
    assert s.done and s.decision().code == "decided"
    assert s.stop_reason is not None and "either likely" in s.stop_reason


# ----------------------------------------------------------------------------- guidance
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("afraid_of_partner", "yes"),
        ("threatens_harm", "yes"),
        ("controls_money", "yes"),
        ("safety_checklist", ["isolates_you"]),
    ],
)
def test_safety_notice_replaces_tips(model: Model, question: str, answer: str) -> None:
    s = model.session()
    s.answer("past_pattern", "more_than_once")  # makes a cause likely enough to have tips
    assert model.session().answer("past_pattern", "more_than_once").guidance().causes
    s.answer(question, answer)
    g = s.guidance()
    assert isinstance(g, Guidance)
    assert [n.id for n in g.safety] == ["safety_control"]
    assert g.safety[0].kind == "safety"
    assert g.causes == ()
    assert g.tips_withheld
    text = g.summary()
    assert g.safety[0].title in text
    assert "Relationship tips are not shown" in text
    assert "not a clinical" in text
    assert g.to_dict()["causes"] == []


@pytest.mark.parametrize(
    ("question", "answer"), [("afraid_of_partner", "no"), ("controls_money", "no"), ("safety_checklist", "none")]
)
def test_non_trigger_answers_raise_no_safety_notice(model: Model, question: str, answer: str) -> None:
    g = model.session().answer(question, answer).guidance()
    assert g.safety == () and not g.tips_withheld


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("low_mood", "yes"),
        ("lost_interest", "yes"),
        ("grief_lingers", "yes"),
        ("mood_checklist", ["low_mood", "lost_interest"]),
    ],
)
def test_professional_help_notice_shown_with_tips(model: Model, question: str, answer: str) -> None:
    g = model.session().answer(question, answer).guidance()
    assert [n.id for n in g.professional_help] == ["professional_help_mood"]
    assert g.safety == () and not g.tips_withheld
    assert g.causes, "tips are still given alongside the professional-help notice"
    assert all(c.tips for c in g.causes)
    text = g.summary()
    assert g.professional_help[0].title in text
    assert "Relationship tips are not shown" not in text
    for c in g.causes:
        assert c.tips[0] in text


def test_low_mood_no_raises_no_notice(model: Model) -> None:
    g = model.session().answer("low_mood", "no").guidance()
    assert g.professional_help == () and g.safety == ()
    g = model.session().answer("mood_checklist", "none").guidance()
    assert g.professional_help == () and g.safety == ()


def test_safety_and_professional_help_together(model: Model) -> None:
    g = model.session().answer("low_mood", "yes").answer("afraid_of_partner", "yes").guidance()
    assert g.safety and g.professional_help
    assert g.causes == ()
    text = g.summary()
    assert text.index(g.safety[0].title) < text.index(g.professional_help[0].title)


# ----------------------------------------------------------------------------- trajectory and display
def test_trajectory_shape(model: Model) -> None:
    s = model.session()
    s.answer("past_pattern", "more_than_once").skip("low_mood").answer("grief_lingers", "unsure")
    s.answer("less_connected", "very_much")
    t = s.trajectory()
    assert t.shape == (5, len(model.causes))
    assert list(t.columns) == list(model.causes)
    assert list(t.index) == ["(start)", "past_pattern", "low_mood", "grief_lingers", "less_connected"]
    np.testing.assert_allclose(t.iloc[0], model.prior.probabilities[list(model.causes)])
    np.testing.assert_allclose(t.iloc[-1], s.posterior.probabilities[list(model.causes)])
    # skipping or 'unsure' does not move anything
    np.testing.assert_array_equal(t.iloc[1], t.iloc[2])
    np.testing.assert_array_equal(t.iloc[2], t.iloc[3])
    assert ((t >= 0) & (t <= 1)).all().all()


def test_repr_html_escapes(example_path: Path) -> None:
    text = example_path.read_text(encoding="utf-8").replace(
        "text: Is your partner working longer hours than before?",
        'text: "Is your partner <script>x()</script> & late?"',
    )
    m = Model.from_spec(parse_spec(text))
    s = m.session()
    s.answer("works_late", "yes")
    out = s._repr_html_()
    assert "<script>" not in out
    assert "&lt;script&gt;x()&lt;/script&gt; &amp; late?" in out
    assert "<ol>" in out and "<b>yes</b>" in out
    assert out.startswith("<div>")
    # the next question is escaped too
    s2 = m.session(stop=StopRule(min_gain_bits=0.0, decided_low=0.0, decided_high=1.0))
    for q in ("less_talk", "onset", "feels_afraid"):
        s2.skip(q)
    assert s2.next_question() == "works_late"
    out2 = s2._repr_html_()
    assert "<script>" not in out2 and "Next: Is your partner &lt;script&gt;" in out2


def test_repr(model: Model) -> None:
    s = model.session()
    assert repr(s) == f"<Session {model.id} | 0 asked | next: {s.next_question()}>"


def test_model_guidance_matches_the_session_and_puts_safety_first(model: Model) -> None:
    answers = {"less_contact": "a_lot", "onset": "sudden", "longer_hours": "yes"}
    s = model.session()
    for q, a in answers.items():
        s.answer(q, a)
    assert model.guidance(answers).to_dict() == s.guidance().to_dict()
    assert next(c.cause for c in model.guidance(answers).causes) == "external_stressors"
    unsafe = model.guidance({**answers, "afraid_of_partner": "yes"})
    assert unsafe.tips_withheld and not unsafe.causes


# ----------------------------------------------------------------------------- saved sessions that are not
@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (None, "the data must be a mapping"),
        ([1, 2], "the data must be a mapping"),
        ("x" * 10_000, "the data must be a mapping"),
        ({"model": "distancing", "extra": 1}, "key 'extra' must be one of"),
        ({"model": 5}, "'model' must be the id of the model"),
        ({"model": "x" * 1000}, "saved for model 'xxxx"),
        ({"model": "distancing", "stop": [1]}, "'stop' must be a mapping"),
        ({"model": "distancing", "stop": {"patience": 1}}, "'stop' key 'patience' must be one of"),
        ({"model": "distancing", "stop": {"decided_low": "wide"}}, "'stop.decided_low' must be a finite number"),
        ({"model": "distancing", "stop": {"decided_low": float("nan")}}, "'stop.decided_low' must be a finite number"),
        ({"model": "distancing", "stop": {"max_questions": -1}}, "'stop.max_questions' must be null or"),
        ({"model": "distancing", "stop": {"max_questions": True}}, "'stop.max_questions' must be null or"),
        ({"model": "distancing", "criterion": "best"}, "'criterion' must be 'joint' or 'marginal'"),
        ({"model": "distancing", "costs": "yes"}, "'costs' must be true or false"),
        ({"model": "distancing", "history": {"a": 1}}, "'history' must be a list"),
        ({"model": "distancing", "history": [["past_pattern"]]}, "'history'[0] must be a [question id, answer] pair"),
        ({"model": "distancing", "history": [[1, "no"]]}, "'history'[0] must be a [question id, answer] pair"),
        ({"model": "distancing", "history": [["past_pattern", 3.5]]}, "'history'[0] answer must be a label"),
        ({"model": "distancing", "history": [["past_pattern", [1, 2]]]}, "needs 3 likelihoods, got 2"),
    ],
)
def test_from_dict_refuses_what_is_not_a_saved_session(model: Model, data: Any, needle: str) -> None:
    with pytest.raises(DataError) as info:
        Session.from_dict(data, model)
    assert needle in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("history", "error"),
    [
        ([["past_patern", "no"]], UnknownQuestionError),
        ([["past_pattern", "maybe"]], InvalidAnswerError),
        ([["past_pattern", {"no": float("nan"), "once": 1, "repeatedly": 1}]], InvalidAnswerError),
        ([["past_pattern", "no"], ["past_pattern", "no"]], DistancingBNError),
    ],
)
def test_from_dict_replays_the_history_with_the_usual_errors(model: Model, history: Any, error: type) -> None:
    with pytest.raises(error):
        Session.from_dict({"model": model.id, "history": history}, model)


@pytest.mark.parametrize("question", [["a", "list"], 5, None, ("a",), "x" * 100_000])
def test_answer_and_skip_refuse_unknown_ids_of_any_kind(model: Model, question: Any) -> None:
    s = model.session()
    for act in (lambda: s.answer(question, "no"), lambda: s.skip(question)):
        with pytest.raises(UnknownQuestionError) as info:
            act()
        assert len(str(info.value)) < 200
    assert s.asked == ()
