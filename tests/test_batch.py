"""Batch scoring of DataFrames (issue 5): ``Model.score`` / :func:`distancing_bn.batch.score_frame`.

Checks the shape of the output (rows, order, index, id columns, columns), agreement with the
one-case API (``posterior`` and ``rank_questions``) row by row, how invalid cells, impossible
evidence and unknown columns are handled, the notices column, a Hypothesis property over
arbitrary cell contents, and survey mappings (hard/soft codes, reverse scoring, missing codes,
ignore, validation errors with file and line).
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distancing_bn import load_model
from distancing_bn.errors import DataError, DistancingBNWarning
from distancing_bn.mapping import SurveyMapping, load_mapping
from distancing_bn.simulate import sample_cases

TAIL = ["top_cause", "top_probability", "notices", "next_question", "next_gain_bits", "stop_reason", "status"]
NEXT = ("next_question", "next_gain_bits", "stop_reason")


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model()


def score(model: Any, frame: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """``model.score`` with the 'kept as id columns' warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DistancingBNWarning)
        return model.score(frame, **kwargs)


def p_cols(model: Any, facets: bool = False) -> list[str]:
    return [f"p_{c}" for c in model.causes] + ([f"p_{f}" for f in model.facets] if facets else [])


def examples(model: Any) -> pd.DataFrame:
    """A table like a survey export: ``case_id``, then every question (labels, 'unsure' or blank text)."""
    return random_answer_frame(model, 12, seed=7).rename(columns={"case": "case_id"}).fillna("")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------- output shape
def test_output_has_every_row_in_order_with_index_and_ids(model: Any) -> None:
    frame = examples(model)
    frame.index = [1000 - 7 * i for i in range(len(frame))]  # descending, not a RangeIndex
    out = score(model, frame)
    assert len(out) == len(frame)
    assert list(out.index) == list(frame.index)
    pd.testing.assert_series_equal(out["case_id"], frame["case_id"])
    assert len(model.causes) == 12
    assert list(out.columns) == ["case_id", *p_cols(model), *TAIL]


def test_duplicate_and_unsorted_index_is_kept(model: Any) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c", "d"], "less_contact": ["no", "a_lot", "bogus", ""]}, index=["x", "x", "a", "b"]
    )
    out = score(model, frame, next_question=False)
    assert list(out.index) == ["x", "x", "a", "b"]
    assert list(out["id"]) == ["a", "b", "c", "d"]
    assert list(out["status"].str.split(":").str[0]) == ["ok", "ok", "invalid", "ok"]


def test_facets_add_p_facet_columns(model: Any) -> None:
    out = score(model, examples(model), facets=True, next_question=False)
    assert list(out.columns) == ["case_id", *p_cols(model, facets=True), *[c for c in TAIL if c not in NEXT]]
    ok = out[out["status"] == "ok"]
    vals = ok[p_cols(model, facets=True)].to_numpy()
    assert np.all((vals >= 0) & (vals <= 1))


def test_top_cause_is_the_most_probable_cause(model: Any) -> None:
    out = score(model, examples(model), next_question=False)
    ok = out[out["status"] == "ok"]
    probs = ok[p_cols(model)]
    assert list(ok["top_cause"]) == [c[2:] for c in probs.idxmax(axis=1)]
    np.testing.assert_allclose(ok["top_probability"], probs.max(axis=1), rtol=0, atol=0)


def test_no_next_question_drops_the_columns(model: Any) -> None:
    out = score(model, examples(model), next_question=False)
    assert "next_question" not in out.columns
    assert "next_gain_bits" not in out.columns


def test_every_question_answered_leaves_no_next_question(model: Any) -> None:
    cases = sample_cases(model, 1, seed=3)
    row = {q: model.answers_of(q)[cases[q][0]] for q in model.questions}
    out = score(model, pd.DataFrame([row]))
    assert out["status"].iloc[0] == "ok"
    assert blank(out["next_question"].iloc[0])
    assert math.isnan(out["next_gain_bits"].iloc[0])


def test_empty_frame(model: Any) -> None:
    frame = pd.DataFrame({"id": pd.Series([], dtype=object), "less_contact": pd.Series([], dtype=object)})
    out = score(model, frame)
    assert len(out) == 0
    assert list(out.columns) == ["id", *p_cols(model), *TAIL]


# ---------------------------------------------------------------------------- agreement with the one-case API
def random_answer_frame(model: Any, n: int, seed: int) -> pd.DataFrame:
    """Rows sampled from the model, about a quarter of the questions answered, blanks and 'unsure' mixed in."""
    rng = np.random.default_rng(seed)
    cases = sample_cases(model, n, seed=seed)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"case": f"r{i:03d}"}
        for q in model.questions:
            u = rng.random()
            if u < 0.25:
                label = model.answers_of(q)[cases[q][i]]
                row[q] = label.upper() if rng.random() < 0.1 else label
            elif u < 0.32:
                row[q] = "unsure"
            elif u < 0.45:
                row[q] = ""
            elif u < 0.55:
                row[q] = " "
            else:
                row[q] = None
        rows.append(row)
    return pd.DataFrame(rows)


def row_answers(model: Any, row: pd.Series) -> dict[str, Any]:
    return {q: row[q] for q in model.questions if not blank(row[q])}


def screen_items(model: Any) -> list[str]:
    """Every question the screens ask (a checklist screen's items, a question screen itself)."""
    return [q for name in model.screens for q in (model.groups[name].items if name in model.groups else (name,))]


def with_screens_answered(model: Any, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``frame`` with every screen question answered (sampled) in its even rows, so that ranking decides them."""
    cases = sample_cases(model, len(frame), seed=seed)
    out = frame.copy()
    for q in screen_items(model):
        for i in range(0, len(frame), 2):
            out.loc[out.index[i], q] = model.answers_of(q)[cases[q][i]]
    return out


def test_score_equals_posterior_and_rank_questions_row_by_row(model: Any) -> None:
    """Each row: the posterior, then the interview's next step (screens first) over the questions.

    Batch scoring ranks questions only (no checklists besides the screens), so it is compared
    with ``next_question(..., groups=False)``: the same screens, stop rule and ranking.
    """
    frame = with_screens_answered(model, random_answer_frame(model, 30, seed=11), seed=12)
    out = score(model, frame, facets=True, id_columns=["case"])
    assert (out["status"] == "ok").all()
    seen = {"screen": 0, "ranked": 0}
    for i in range(len(frame)):
        answers = row_answers(model, frame.iloc[i])
        post = model.posterior(answers).probabilities
        got = out.iloc[i]
        for v in (*model.causes, *model.facets):
            assert abs(got[f"p_{v}"] - post[v]) <= 1e-12, (i, v)
        nq = got["next_question"]
        decision = model.next_question(answers, groups=False)  # the same stop rule as the interview
        if decision.stop:
            assert pd.isna(nq) and np.isnan(got["next_gain_bits"]) and got["stop_reason"] == decision.code, i
            continue
        assert got["stop_reason"] == "", i
        if decision.screen:  # a pending screen comes first, with no gain
            assert nq == decision.question, (i, nq, decision.question)
            assert np.isnan(got["next_gain_bits"]), i
            seen["screen"] += 1
            continue
        ranking = model.rank_questions(answers, costs=True, groups=False)
        best = ranking.best
        assert decision.question == best
        assert nq in model.questions and not ranking.answered[ranking.questions.index(nq)], (i, nq)
        qi = ranking.questions.index(nq)
        # ties in gain per cost may be broken either way; the value must be the best one
        bi = ranking.questions.index(best)
        assert nq == best or abs(ranking.gain_per_cost[qi] - ranking.gain_per_cost[bi]) <= 1e-9, (i, nq, best)
        assert abs(got["next_gain_bits"] - ranking.gain_bits[qi]) <= 1e-9, (i, nq)
        seen["ranked"] += 1
    assert seen["screen"] > 0 and seen["ranked"] > 0, seen  # both kinds of rows were checked


def test_stop_reason_of_a_decided_row_with_every_question_answered(model: Any) -> None:
    """Every question answered and every cause decided: batch and interview both stop."""
    cases = sample_cases(model, 40, seed=3)
    rows = [{q: model.answers_of(q)[cases[q][i]] for q in model.questions} for i in range(40)]
    out = score(model, pd.DataFrame(rows))
    assert out["next_question"].isna().all()
    codes = [model.next_question(r).code for r in rows]
    assert set(out["stop_reason"]) <= {"decided", "exhausted"}
    assert "decided" in codes  # the case the rule's order matters for is among these rows
    # the interview checks 'decided' before 'exhausted'; batch scoring agrees only where not decided
    for got, code in zip(out["stop_reason"], codes, strict=True):
        if code == "exhausted":
            assert got == "exhausted"


def test_stop_reason_follows_the_stop_rule_order_when_every_question_is_answered(model: Any) -> None:
    cases = sample_cases(model, 40, seed=3)
    rows = [{q: model.answers_of(q)[cases[q][i]] for q in model.questions} for i in range(40)]
    out = score(model, pd.DataFrame(rows))
    assert list(out["stop_reason"]) == [model.next_question(r).code for r in rows]


def test_score_of_a_row_does_not_depend_on_the_other_rows(model: Any) -> None:
    frame = random_answer_frame(model, 12, seed=5)
    whole = score(model, frame, next_question=False)
    for i in (0, 5, 11):
        alone = score(model, frame.iloc[[i]], next_question=False)
        np.testing.assert_allclose(
            alone[p_cols(model)].to_numpy(), whole.iloc[[i]][p_cols(model)].to_numpy(), rtol=0, atol=1e-12
        )


# ---------------------------------------------------------------------------- invalid cells
def test_invalid_cell_marks_only_its_row(model: Any) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "less_contact": ["a_lot", "a_bit", "no"], "onset": ["sudden", "", "gradual"]}
    )
    out = score(model, frame)
    assert list(out["status"][[0, 2]]) == ["ok", "ok"]
    status = out["status"].iloc[1]
    assert status.startswith("invalid")
    assert "less_contact" in status and "a_bit" in status
    for label in model.answers_of("less_contact"):
        assert label in status
    assert out.loc[1, p_cols(model)].isna().all()
    assert math.isnan(out["top_probability"].iloc[1])
    assert blank(out["top_cause"].iloc[1])
    assert blank(out["next_question"].iloc[1])
    assert math.isnan(out["next_gain_bits"].iloc[1])
    # the good rows are unaffected by the bad one
    good = score(model, frame.iloc[[0, 2]])
    pd.testing.assert_frame_equal(out.iloc[[0, 2]], good, check_dtype=False)


def test_errors_raise_names_row_and_column(model: Any) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "onset": ["sudden", "", "gradual", "sudden"],
            "less_contact": ["a_lot", "no", "", "loads"],
        },
        index=[9, 8, 7, 6],
    )
    with pytest.raises(DataError) as exc:
        score(model, frame, errors="raise")
    assert exc.value.row == 4  # 1-based position, not the index label
    assert exc.value.column == "less_contact"
    assert "row 4" in str(exc.value) and "less_contact" in str(exc.value) and "loads" in str(exc.value)


def test_errors_must_be_mark_or_raise(model: Any) -> None:
    with pytest.raises(ValueError, match="errors"):
        score(model, examples(model), errors="ignore")


def test_answers_are_matched_ignoring_case_and_spaces(model: Any) -> None:
    frame = pd.DataFrame({"less_contact": ["a_lot", " A_LOT ", "A_Lot"], "onset": ["sudden", "SUDDEN", "Sudden "]})
    out = score(model, frame, next_question=False)
    assert (out["status"] == "ok").all()
    vals = out[p_cols(model)].to_numpy()
    np.testing.assert_array_equal(vals[0], vals[1])
    np.testing.assert_array_equal(vals[0], vals[2])


# ---------------------------------------------------------------------------- impossible evidence
IMPOSSIBLE_MAPPING = """\
format: distancing-bn-mapping/1
id: two_reports
model: distancing
columns:
  self_report:
    question: less_contact
    answers: {1: no, 2: a_little, 3: a_lot}
  friend_report:
    question: less_contact
    answers: {1: no, 2: a_little, 3: a_lot}
"""


def test_disagreeing_hard_answers_mark_the_row_impossible(model: Any, tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(IMPOSSIBLE_MAPPING, encoding="utf-8")
    frame = pd.DataFrame(
        {"id": ["same", "differ", "one"], "self_report": ["3", "1", "2"], "friend_report": ["3", "3", ""]}
    )
    out = score(model, frame, mapping=path)
    assert list(out["id"]) == ["same", "differ", "one"]
    assert out["status"].iloc[1].startswith("impossible")
    assert out["status"].iloc[0] == "ok" and out["status"].iloc[2] == "ok"
    assert out.loc[1, p_cols(model)].isna().all()
    assert blank(out["top_cause"].iloc[1]) and blank(out["next_question"].iloc[1])
    expected = model.posterior({"less_contact": "a_lot"}).probabilities
    for c in model.causes:
        assert abs(out[f"p_{c}"].iloc[0] - expected[c]) <= 1e-12
    with pytest.raises(DataError) as exc:
        score(model, frame, mapping=path, errors="raise")
    assert exc.value.row == 2


# ---------------------------------------------------------------------------- unknown columns, strict, id_columns
def typo_frame() -> pd.DataFrame:
    return pd.DataFrame({"case_id": ["a", "b"], "less_contakt": ["a_lot", "no"], "onset": ["sudden", "gradual"]})


def test_unknown_column_warns_once_with_a_close_match(model: Any) -> None:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = model.score(typo_frame(), next_question=False)
    ours = [w for w in rec if issubclass(w.category, DistancingBNWarning)]
    assert len(ours) == 1
    msg = str(ours[0].message)
    assert msg.count("less_contakt") == 1
    assert "did you mean 'less_contact'" in msg
    assert "case_id" not in msg  # named like an identifier: an id column without a warning
    # kept as an id column, unchanged, and not used as evidence
    assert list(out["less_contakt"]) == ["a_lot", "no"]
    expected = model.posterior({"onset": "sudden"}).probabilities
    assert abs(out["p_fear_of_intimacy"].iloc[0] - expected["fear_of_intimacy"]) <= 1e-12


def test_strict_refuses_unknown_columns(model: Any) -> None:
    with pytest.raises(DataError, match="less_contakt"):
        model.score(typo_frame(), strict=True)
    with pytest.raises(DataError, match="less_contakt"):
        model.score(typo_frame(), strict=True, id_columns=["case_id"])
    # a column named as an id column is known
    with warnings.catch_warnings():
        warnings.simplefilter("error", DistancingBNWarning)
        out = model.score(typo_frame(), strict=True, id_columns=["case_id", "less_contakt"], next_question=False)
    assert (out["status"] == "ok").all()


def test_id_columns_select_the_output_columns(model: Any) -> None:
    frame = pd.DataFrame({"case_id": ["a", "b"], "site": ["007", "1e5"], "less_contact": ["a_lot", "no"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DistancingBNWarning)
        out = model.score(frame, id_columns=["site"], next_question=False)
    assert list(out.columns) == ["site", *p_cols(model), *[c for c in TAIL if c not in NEXT]]
    assert list(out["site"]) == ["007", "1e5"]
    with pytest.raises(DataError, match="nope"):
        model.score(frame, id_columns=["nope"])


def test_unknown_column_warns_even_with_id_columns(model: Any) -> None:
    with pytest.warns(DistancingBNWarning, match="less_contakt"):
        model.score(typo_frame(), id_columns=["case_id"], next_question=False)


# ---------------------------------------------------------------------------- notices
def test_notices_column(model: Any) -> None:
    frame = pd.DataFrame(
        {
            "id": ["afraid", "not", "mood", "both", "blank"],
            "afraid_of_partner": ["yes", "no", "", "yes", ""],
            "low_mood": ["no", "no", "yes", "yes", "unsure"],
        }
    )
    out = score(model, frame, next_question=False)
    assert (out["status"] == "ok").all()
    notices = [n.split() for n in out["notices"]]
    assert notices[0] == ["safety_control"]
    assert notices[1] == []
    assert notices[2] == ["professional_help_mood"]
    assert notices[3] == ["safety_control", "professional_help_mood"]  # safety first
    assert notices[4] == []


def test_safety_notice_survives_an_invalid_cell_elsewhere(model: Any) -> None:
    frame = pd.DataFrame({"afraid_of_partner": ["yes"], "less_contact": ["a_bit"]})
    out = score(model, frame)
    assert out["status"].iloc[0].startswith("invalid")
    assert "safety_control" in out["notices"].iloc[0].split()


# ---------------------------------------------------------------------------- property: any cells, any shape
JUNK = st.one_of(
    st.just(""),
    st.just("unsure"),
    st.just(" UNSURE "),
    st.just(None),
    st.just(float("nan")),
    st.just("nan"),
    st.text(max_size=8),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


def expected_invalid(value: Any, labels: tuple[str, ...]) -> bool:
    if blank(value):
        return False
    text = str(value).strip().lower()
    return text not in ("", "unsure", "nan") and text not in {s.lower() for s in labels}


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_frame_keeps_every_row_and_marks_exactly_the_invalid_rows(model: Any, data: st.DataObject) -> None:
    qs = data.draw(st.lists(st.sampled_from(model.questions), unique=True, max_size=8), label="questions")
    n = data.draw(st.integers(0, 30), label="rows")
    columns: dict[str, list[Any]] = {
        "id": data.draw(
            st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), min_size=n, max_size=n), label="ids"
        )
    }
    for q in qs:
        labels = model.answers_of(q)
        cell = st.one_of(st.sampled_from(labels), st.sampled_from(labels).map(str.upper), JUNK)
        columns[q] = data.draw(st.lists(cell, min_size=n, max_size=n), label=q)
    order = data.draw(st.permutations(list(columns)), label="column order")
    index = data.draw(st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n, unique=True), label="index")
    frame = pd.DataFrame({c: pd.Series(columns[c], dtype=object) for c in order})
    frame.index = index
    nq = data.draw(st.booleans(), label="next_question") if n <= 12 else False
    if not qs:  # no question column at all: refused, whatever the rows (issue 10)
        with pytest.raises(DataError, match="no column of the input is a question"):
            score(model, frame, next_question=nq)
        return
    out = score(model, frame, next_question=nq, facets=data.draw(st.booleans(), label="facets"))

    assert len(out) == n
    assert list(out.index) == index
    pd.testing.assert_series_equal(out["id"], frame["id"])
    bad_cols = [[q for q in qs if expected_invalid(columns[q][i], model.answers_of(q))] for i in range(n)]
    for i in range(n):
        status = out["status"].iloc[i]
        if bad_cols[i]:
            assert status.startswith("invalid"), (i, status)
            named = re.search(r"column '([^']*)'", status)
            assert named and named.group(1) in bad_cols[i], (i, status, bad_cols[i])
            assert out[p_cols(model)].iloc[i].isna().all()
        else:
            assert status == "ok", (i, status, {q: columns[q][i] for q in qs})
            vals = out[p_cols(model)].iloc[i].to_numpy(dtype=float)
            assert np.all((vals >= 0) & (vals <= 1))
            if nq and not blank(out["next_question"].iloc[i]):
                step, gain = out["next_question"].iloc[i], out["next_gain_bits"].iloc[i]
                if step in model.groups:  # a checklist is proposed only as a pending screen, with no gain
                    assert step in model.screens and math.isnan(gain), (i, step, gain)
                else:
                    assert step in model.questions and gain >= 0, (i, step, gain)


# ---------------------------------------------------------------------------- survey mappings
MAPPING = """\
format: distancing-bn-mapping/1
id: tiny_survey
model: distancing
description: A test survey.
missing: [99]
ignore: [stamp]
columns:
  Q7:
    question: less_contact
    scale: [1, 5]
    reverse: true
    answers:
      1: no
      2: no
      3: {no: 1, a_little: 1}
      4: a_little
      5: a_lot
    missing: [0]
  Q8:
    question: onset
    answers:
      early: gradual
      late: {gradual: 0.25, sudden: 1}
"""


@pytest.fixture()
def mapping_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def p_of(model: Any, answers: dict[str, Any]) -> np.ndarray:
    post = model.posterior(answers).probabilities
    return np.array([post[c] for c in model.causes])


def test_mapping_hard_soft_reverse_and_missing_codes(model: Any, mapping_path: Path) -> None:
    cells = ["2", "1", 4, "3", "5.0", "99", "0", "", "4"]
    onset = ["", "", "", "", "", "", "", "late", "early"]
    frame = pd.DataFrame(
        {"id": list("abcdefghi"), "Q7": pd.Series(cells, dtype=object), "Q8": onset, "stamp": ["t"] * len(cells)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DistancingBNWarning)  # Q7, Q8 mapped, stamp ignored, 'id' an id
        out = model.score(frame, mapping=mapping_path, next_question=False)
    assert (out["status"] == "ok").all(), list(out["status"])
    got = out[p_cols(model)].to_numpy()
    soft_onset = {"gradual": 0.25, "sudden": 1.0}
    expected = [
        {"less_contact": "a_little"},  # 2 reversed on [1, 5] reads as 4
        {"less_contact": "a_lot"},  # 1 -> 5
        {"less_contact": "no"},  # 4 -> 2 (a number cell)
        {"less_contact": {"no": 1.0, "a_little": 1.0, "a_lot": 0.0}},  # 3 -> 3: soft
        {"less_contact": "no"},  # '5.0' is code 5 -> 1
        {},  # 99: global missing code
        {},  # 0: the column's missing code
        {"onset": soft_onset},  # soft answer of another column
        {"less_contact": "no", "onset": "gradual"},  # two columns, two questions
    ]
    for i, answers in enumerate(expected):
        np.testing.assert_allclose(got[i], p_of(model, answers), rtol=0, atol=1e-12, err_msg=str(i))


def test_mapping_invalid_code_marks_the_row(model: Any, mapping_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "Q7": ["2", "7", "x"], "Q8": ["early", "", "late"]})
    out = score(model, frame, mapping=mapping_path)
    assert out["status"].iloc[0] == "ok"
    for i, bad in ((1, "7"), (2, "x")):
        status = out["status"].iloc[i]
        assert status.startswith("invalid") and "Q7" in status and bad in status, status
        assert "99" in status and "0" in status  # the missing codes are listed among the valid ones
    with pytest.raises(DataError) as exc:
        score(model, frame, mapping=mapping_path, errors="raise")
    assert (exc.value.row, exc.value.column) == (2, "Q7")


def test_mapping_object_and_path_give_the_same_scores(model: Any, mapping_path: Path) -> None:
    mp = load_mapping(mapping_path, model.network, model_id=model.id)
    assert isinstance(mp, SurveyMapping)
    assert mp.for_column("Q7") is not None and mp.for_column("stamp") is None
    assert "stamp" in mp.ignore
    frame = pd.DataFrame({"id": ["a", "b"], "Q7": ["2", "3"], "Q8": ["late", ""]})
    pd.testing.assert_frame_equal(score(model, frame, mapping=mp), score(model, frame, mapping=str(mapping_path)))


def test_ignored_column_is_not_warned_about(model: Any, mapping_path: Path) -> None:
    frame = pd.DataFrame({"Q7": ["2"], "stamp": ["2024-01-01"], "extra": ["x"]})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        model.score(frame, mapping=mapping_path, next_question=False)
    msgs = [str(w.message) for w in rec if issubclass(w.category, DistancingBNWarning)]
    assert len(msgs) == 1
    assert "'extra'" in msgs[0] and "stamp" not in msgs[0]
    with pytest.raises(DataError, match="extra"):
        model.score(frame, mapping=mapping_path, strict=True)
    model.score(frame.drop(columns="extra"), mapping=mapping_path, strict=True, next_question=False)


BAD_MAPPINGS = {
    # name: (replace this, with this, line containing the marker, what the message must say)
    "unknown question": (
        "question: less_contact",
        "question: less_contakt",
        "less_contakt",
        ["less_contakt", "did you mean", "'less_contact'"],
    ),
    "unknown answer label": ("4: a_little", "4: a_litle", "4: a_litle", ["a_litle", "a_little"]),
    "negative likelihood": ("{no: 1, a_little: 1}", "{no: -1, a_little: 1}", "no: -1", [">= 0", "-1"]),
    "reverse without scale": ("    scale: [1, 5]\n", "", "reverse: true", ["reverse", "scale"]),
    "code outside the scale": ("5: a_lot", "6: a_lot", "6: a_lot", ["outside the scale", "6"]),
    "wrong model id": (
        "model: distancing",
        "model: someone_else",
        "model: someone_else",
        ["someone_else", "distancing"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_MAPPINGS))
def test_mapping_validation_errors_name_file_and_line(model: Any, tmp_path: Path, case: str) -> None:
    old, new, marker, words = BAD_MAPPINGS[case]
    assert old in MAPPING
    text = MAPPING.replace(old, new, 1)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if marker in s)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    frame = pd.DataFrame({"Q7": ["2"]})
    with pytest.raises(DataError) as exc:
        model.score(frame, mapping=path)
    msg = str(exc.value)
    assert f"bad.yaml:{line}" in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    assert exc.value.file == str(path)
    assert exc.value.line == line
    with pytest.raises(DataError):
        load_mapping(path, model.network, model_id=model.id)


def test_mapping_file_that_cannot_be_read(model: Any, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.yaml"):
        model.score(pd.DataFrame({"Q7": ["2"]}), mapping=tmp_path / "nowhere.yaml")


def test_workers_give_the_same_frame(model: Any) -> None:
    """Blocks of rows scored in threads: same values, order and index as one thread."""
    n = 20_000  # three engine blocks
    cases = sample_cases(model, n, seed=21)
    rng = np.random.default_rng(21)
    qs = list(model.questions)[:20]
    frame = pd.DataFrame(
        {q: np.where(rng.random(n) < 0.3, np.asarray(model.network.states[q], dtype=object)[cases[q]], "") for q in qs},
        index=pd.RangeIndex(100, 100 + n),
    )
    one = score(model, frame, workers=1)
    two = score(model, frame, workers=2)
    pd.testing.assert_frame_equal(one, two)
    assert list(two.index) == list(frame.index)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_workers_must_be_a_positive_whole_number(model: Any, workers: Any) -> None:
    with pytest.raises(ValueError, match="workers must be a whole number of at least 1"):
        score(model, examples(model), workers=workers)
