"""Wrong answers give the package's own errors, with messages that say what to do."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distancing_bn
from distancing_bn import (
    DataError,
    DistancingBNError,
    EvidenceError,
    ImpossibleEvidenceError,
    InvalidAnswerError,
    Model,
    Network,
    UnknownQuestionError,
)

Q = "job_insecurity"  # a no/yes question of the default model
Q3 = "defensive"  # a never/sometimes/often question


@pytest.fixture(scope="module")
def model() -> Model:
    return distancing_bn.load_model()


@pytest.fixture(scope="module")
def deterministic() -> Model:
    """Two questions that both copy the cause exactly: contradicting answers have P(e) = 0."""
    yes_no = ("no", "yes")
    return Model(
        Network.create(
            "copies",
            {"c": ("absent", "present"), "q1": yes_no, "q2": yes_no, "q3": yes_no},
            {"c": (), "q1": ("c",), "q2": ("c",), "q3": ("c",)},
            {
                "c": [0.6, 0.4],
                "q1": [[1.0, 0.0], [0.0, 1.0]],
                "q2": [[1.0, 0.0], [0.0, 1.0]],
                "q3": [[0.5, 0.5], [0.5, 0.5]],
            },
            targets=["c"],
        )
    )


# ----------------------------------------------------------------------------- the class tree
@pytest.mark.parametrize(
    "cls",
    [EvidenceError, UnknownQuestionError, InvalidAnswerError, ImpossibleEvidenceError, DataError],
)
def test_errors_are_ours_and_value_errors(cls: type) -> None:
    assert issubclass(cls, DistancingBNError)
    assert issubclass(cls, ValueError)


# ----------------------------------------------------------------------------- unknown questions
def test_unknown_question_suggests_closest_id(model: Model) -> None:
    with pytest.raises(UnknownQuestionError) as info:
        model.posterior({"job_insecurty": "yes"})
    err = info.value
    assert isinstance(err, EvidenceError)
    assert err.question_id == "job_insecurty"
    assert err.suggestions[0] == Q
    msg = str(err)
    assert "job_insecurty" in msg and f"did you mean '{Q}'" in msg
    assert not msg.startswith('"')  # not KeyError's quoted repr


def test_unknown_question_without_close_match(model: Model) -> None:
    with pytest.raises(UnknownQuestionError) as info:
        model.posterior({"zzzzzzzzzzzz": "yes"})
    assert "zzzzzzzzzzzz" in str(info.value) and info.value.suggestions == ()


def test_cause_is_not_a_question(model: Model) -> None:
    cause = model.causes[0]
    with pytest.raises(UnknownQuestionError, match="cause/target, not a question"):
        model.posterior({cause: "present"})


def test_unknown_question_even_when_unanswered(model: Model) -> None:
    with pytest.raises(UnknownQuestionError):
        model.posterior({"job_insecurty": None})


# ----------------------------------------------------------------------------- invalid answers
def test_invalid_answer_lists_valid_answers_and_suggests(model: Model) -> None:
    with pytest.raises(InvalidAnswerError) as info:
        model.posterior({Q: "yse"})
    err = info.value
    msg = str(err)
    assert err.question_id == Q and err.got == "yse" and err.valid == ("no", "yes")
    assert f"'{Q}'" in msg
    assert "'no', 'yes', 'unsure'" in msg
    assert "Did you mean 'yes'?" in msg


def test_invalid_answer_on_three_level_question(model: Model) -> None:
    with pytest.raises(InvalidAnswerError) as info:
        model.posterior({Q3: "oftn"})
    msg = str(info.value)
    assert "'never', 'sometimes', 'often', 'unsure'" in msg and "Did you mean 'often'?" in msg


def test_answers_are_case_and_space_insensitive(model: Model) -> None:
    a = model.posterior({Q: " YES "})
    b = model.posterior({Q: "yes"})
    assert a.answers == {Q: "yes"}
    pd.testing.assert_series_equal(a.probabilities, b.probabilities)


def test_answers_must_be_a_mapping(model: Model) -> None:
    with pytest.raises(InvalidAnswerError, match="mapping"):
        model.posterior([(Q, "yes")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("soft", "needle"),
    [
        ({"no": 0.5, "yes": 0.5, "maybe": 0.1}, "unknown labels 'maybe'"),
        ({"no": 0.5}, "missing labels 'yes'"),
        ({"no": 0.5, "yes": -0.1}, "likelihood of 'yes'"),
        ({"no": float("nan"), "yes": 1.0}, "likelihood of 'no'"),
        ({"no": float("inf"), "yes": 1.0}, "likelihood of 'no'"),
        ({"no": "high", "yes": 1.0}, "likelihood of 'no'"),
        ({"no": None, "yes": 1.0}, "likelihood of 'no'"),
        ({"no": 0.0, "yes": 0.0}, "sum to 0"),
        ({}, "missing labels"),
    ],
)
def test_invalid_soft_answers(model: Model, soft: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidAnswerError) as info:
        model.posterior({Q: soft})
    assert info.value.question_id == Q
    assert f"'{Q}'" in str(info.value)
    assert needle in str(info.value)


def test_valid_soft_answer(model: Model) -> None:
    post = model.posterior({Q: {"no": 0.0, "yes": 3}})
    assert post.answers == {Q: (0.0, 3.0)}
    # a soft answer that is all on one label is that hard answer
    np.testing.assert_allclose(post.probabilities, model.posterior({Q: "yes"}).probabilities, atol=1e-12)


def test_huge_soft_likelihoods_are_not_impossible(model: Model) -> None:
    post = model.posterior({Q: {"no": 1e308, "yes": 1.5e308}})
    ref = model.posterior({Q: {"no": 1.0, "yes": 1.5}})
    np.testing.assert_allclose(post.probabilities, ref.probabilities, atol=1e-12)


# ----------------------------------------------------------------------------- impossible evidence
def test_impossible_evidence_names_the_conflicting_questions_not_the_answers(deterministic: Model) -> None:
    for query in (deterministic.posterior, deterministic.rank_questions):
        with pytest.raises(ImpossibleEvidenceError) as info:
            query({"q1": "yes", "q3": "yes", "q2": "no"})
        err = info.value
        assert isinstance(err, EvidenceError) and isinstance(err, ValueError)
        assert set(err.answers) == {"q1", "q2", "q3"}
        assert err.conflict == ("q1", "q2")  # q3 is possible with either
        msg = str(err)
        assert "the answers to 'q1' and 'q2' cannot both hold" in msg and "probability zero" in msg
        assert "q3" not in msg and "yes" not in msg.replace("'unsure'", "") and "=no" not in msg


def test_impossible_evidence_with_soft_answer(deterministic: Model) -> None:
    with pytest.raises(ImpossibleEvidenceError) as info:
        deterministic.posterior({"q1": "yes", "q2": {"no": 1.0, "yes": 0.0}})
    assert info.value.conflict == ("q1", "q2") and "soft" not in str(info.value)


def test_impossible_evidence_message_is_short_with_many_answers() -> None:
    # 60 copies of one cause: answering 30 'yes' and 30 'no' is impossible; two answers show it
    states = {"c": ("absent", "present"), **{f"q{i}": ("no", "yes") for i in range(60)}}
    parents = {f"q{i}": ("c",) for i in range(60)}
    cpts = {"c": [0.5, 0.5], **{f"q{i}": [[1.0, 0.0], [0.0, 1.0]] for i in range(60)}}
    model = Model(Network.create("copies60", states, parents, cpts, targets=["c"]))
    answers = {f"q{i}": "yes" if i % 2 else "no" for i in range(60)}
    with pytest.raises(ImpossibleEvidenceError) as info:
        model.posterior(answers)
    assert len(info.value.conflict) == 2 and len(info.value.answers) == 60
    assert len(str(info.value)) < 200


def test_possible_evidence_on_deterministic_network(deterministic: Model) -> None:
    post = deterministic.posterior({"q1": "yes", "q2": "yes"})
    assert post.probabilities["c"] == 1.0
    assert post.log_evidence == pytest.approx(math.log(0.4), abs=1e-12)


def test_impossible_rows_in_a_batch_are_marked(deterministic: Model) -> None:
    frame = pd.DataFrame({"q1": ["yes", "yes"], "q2": ["no", "yes"]})
    out = deterministic.posterior_batch(frame)
    assert out["log_evidence"].iloc[0] == -math.inf
    assert out["p_c"].iloc[1] == 1.0


# ----------------------------------------------------------------------------- batch data errors
def test_batch_invalid_cell_names_row_and_column(model: Model) -> None:
    frame = pd.DataFrame({Q: ["yes", "no", None, "maybe"], Q3: ["often", "never", "sometimes", "often"]})
    with pytest.raises(DataError) as info:
        model.posterior_batch(frame)
    err = info.value
    assert err.row == 4 and err.column == Q
    msg = str(err)
    assert "row 4" in msg and f"'{Q}'" in msg and "'maybe'" in msg
    assert "'no', 'yes', 'unsure'" in msg


def test_batch_invalid_cell_first_row(model: Model) -> None:
    frame = pd.DataFrame({Q3: ["ofen", "often"]}, index=[10, 20])
    with pytest.raises(DataError) as info:
        model.posterior_batch(frame)
    assert info.value.row == 1 and info.value.column == Q3  # 1-based position, not the index label


# ----------------------------------------------------------------------------- fuzzing
def _junk_values(model: Model) -> st.SearchStrategy[Any]:
    labels = sorted({s for q in model.questions for s in model.answers_of(q)})
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.sampled_from([*labels, "unsure", "UNSURE", " yes ", "", "nan", "None"]),
        st.binary(max_size=4),
    )
    soft_key = st.one_of(st.sampled_from(labels), st.text(max_size=5), st.integers(0, 2))
    soft_val = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(0, 1),
        st.integers(-1, 3),
        st.text(max_size=3),
        st.none(),
    )
    return st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(soft_key, soft_val, max_size=4))


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_junk_answers_give_only_evidence_errors(model: Model, data: st.DataObject) -> None:
    keys = st.one_of(
        st.sampled_from(model.questions),
        st.sampled_from(model.causes),
        st.text(max_size=10),
        st.integers(0, 5),
        st.none(),
    )
    answers = data.draw(st.dictionaries(keys, _junk_values(model), max_size=5), label="answers")
    try:
        post = model.posterior(answers)
    except EvidenceError as err:
        assert isinstance(err, DistancingBNError) and str(err)
        return
    assert math.isfinite(post.log_evidence)
    for v in model.variables:
        m = post.marginal(v.id).to_numpy()
        assert not np.isnan(m).any() and m.sum() == pytest.approx(1.0, abs=1e-12)
    assert not post.probabilities.isna().any()


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_soft_answers_never_give_nan(model: Model, data: st.DataObject) -> None:
    qs = data.draw(st.lists(st.sampled_from(model.questions), unique=True, max_size=6), label="questions")
    answers = {}
    for q in qs:
        states = model.answers_of(q)
        lik = data.draw(st.lists(st.floats(0, 1e6), min_size=len(states), max_size=len(states)))
        if sum(lik) > 0:
            answers[q] = dict(zip(states, lik, strict=True))
    try:
        post = model.posterior(answers)
    except ImpossibleEvidenceError:  # zeros on every state the model allows
        return
    assert math.isfinite(post.log_evidence)
    assert not post.probabilities.isna().any()
    assert all(post.marginal(c).sum() == pytest.approx(1.0, abs=1e-12) for c in model.causes)


# ----------------------------------------------------------------------------- labels differing in case
@pytest.fixture(scope="module")
def cased() -> Model:
    """A network file's question whose answers differ only in case (YES / yes), and a plain one."""
    return Model(
        Network.create(
            "cased",
            {"c": ("absent", "present"), "q": ("YES", "yes", "no"), "r": ("Low", "high")},
            {"q": ("c",), "r": ("c",)},
            {"c": [0.5, 0.5], "q": [[0.1, 0.3, 0.6], [0.5, 0.2, 0.3]], "r": [[0.8, 0.2], [0.3, 0.7]]},
            targets=["c"],
        )
    )


def test_labels_differing_only_in_case_match_exactly(cased: Model) -> None:
    assert cased.posterior({"q": "YES"}).answers == {"q": "YES"}
    assert cased.posterior({"q": " yes "}).answers == {"q": "yes"}
    assert cased.posterior({"q": "NO", "r": "LOW"}).answers == {"q": "no", "r": "Low"}  # no clash: any case
    p_yes_upper = cased.posterior({"q": "YES"}).probabilities["c"]
    assert p_yes_upper == pytest.approx(0.5 / 0.6, abs=1e-12)
    with pytest.raises(InvalidAnswerError) as info:
        cased.posterior({"q": "Yes"})
    assert "'YES', 'yes' differ only in case: give one exactly" in str(info.value)


def test_labels_differing_only_in_case_api_and_batch_agree(cased: Model) -> None:
    frame = pd.DataFrame({"q": ["YES", "yes", "no", "NO", "Yes"]})
    codes, bad = distancing_bn.evidence.encode_labels(frame["q"], cased.network.states["q"])
    assert codes[:4].tolist() == [0, 1, 2, 2] and bad.tolist() == [False, False, False, False, True]
    out = cased.posterior_batch(frame.iloc[:4])
    for i, label in enumerate(frame["q"][:4]):
        assert out["p_c"].iloc[i] == pytest.approx(cased.posterior({"q": label}).probabilities["c"], abs=1e-12)


# ----------------------------------------------------------------------------- one cell, 40 characters
LONG = "x" * 1_000_019


@pytest.mark.parametrize(
    "answers",
    [
        {LONG: "yes"},  # an unknown question id, a million characters long
        {Q: LONG},  # a label
        {Q: {"no": "1" * 1100, "yes": 1.0}},  # a soft likelihood quoted in full before
        {Q: {"no": 1.0, "yes": 1.0, "maybe" * 200: 1.0}},  # an unknown soft label
        {Q: {"no": 1.0, "yes": 1.0, **{f"label{i}": 1.0 for i in range(1000)}}},  # a thousand of them
        {Q: {"no": 10**5000, "yes": 1.0}},  # too many digits for str(), too large for float()
        {Q: [[[[["deep"]]]]]},
        {10**5000: "yes"},
        {("a", "tuple"): "yes"},
        {None: "yes"},
    ],
)
def test_error_messages_quote_at_most_one_cell_cut_to_40_characters(model: Model, answers: dict[Any, Any]) -> None:
    with pytest.raises(EvidenceError) as info:
        model.posterior(answers)
    msg = str(info.value)
    assert len(msg) < 300, msg
    assert "x" * 41 not in msg and "1" * 41 not in msg and "label5" not in msg and "deep" not in msg


def test_unknown_question_of_another_type_names_its_type(model: Model) -> None:
    with pytest.raises(UnknownQuestionError, match=r"question ids are text; got \('a', 'tuple'\)|got a tuple"):
        model.posterior({("a", "tuple"): "yes"})


@pytest.mark.parametrize(
    "value",
    [
        {"no": 10**400, "yes": 1.0},  # OverflowError in float()
        {"no": True, "yes": 1.0},  # a boolean is not a likelihood
        {"no": "0.5", "yes": 1.0},  # nor is text
        {"no": np.float32("nan"), "yes": 1.0},
        {"no": -0.0, "yes": 0.0},
        {1: 1.0, "no": 1.0, "yes": 1.0},
    ],
)
def test_more_invalid_soft_answers_raise_everywhere(model: Model, value: dict[Any, Any]) -> None:
    for query in (model.posterior, model.rank_questions, model.guidance):
        with pytest.raises(InvalidAnswerError):
            query({Q: value})
    with pytest.raises(InvalidAnswerError):
        model.session().answer(Q, value)


@pytest.mark.parametrize("soft", [(math.nan, 1.0), (math.inf, 1.0), (-1.0, 1.0), (0.0, 0.0), (1.0,), "maybe"])
def test_from_answers_checks_answers_that_were_not_normalised(model: Model, soft: Any) -> None:
    with pytest.raises(InvalidAnswerError):
        distancing_bn.evidence.from_answers(model.network, {Q: soft})
    with pytest.raises(UnknownQuestionError):
        distancing_bn.evidence.from_answers(model.network, {"external_stressors": "present"})  # a cause
