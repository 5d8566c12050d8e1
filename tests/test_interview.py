"""The interview: screens first, checklists with exact gains, the stop rule over several causes."""

from __future__ import annotations

import itertools
import string
from pathlib import Path

import numpy as np
import pytest

import distancing_bn as dbn
from distancing_bn.errors import DataError, InvalidAnswerError
from distancing_bn.information import StopRule, entropy_bits, rank_questions

EXAMPLE = Path(__file__).parent / "data" / "interview.yaml"


@pytest.fixture(scope="module")
def model() -> dbn.Model:
    return dbn.load_model(EXAMPLE)


_JOINTS: dict[int, tuple[dbn.Model, np.ndarray, list[str]]] = {}


def _full_joint(model: dbn.Model) -> tuple[np.ndarray, list[str]]:
    """P(every variable) by brute force: the product of all tables, one axis per variable (kept per model)."""
    if id(model) in _JOINTS and _JOINTS[id(model)][0] is model:
        return _JOINTS[id(model)][1], _JOINTS[id(model)][2]
    joint, names = _product_of_tables(model)
    _JOINTS[id(model)] = (model, joint, names)
    return joint, names


def _product_of_tables(model: dbn.Model) -> tuple[np.ndarray, list[str]]:
    net = model.network
    names = list(net.variables)
    letters = dict(zip(names, string.ascii_letters, strict=False))
    operands = []
    subscripts = []
    for v in names:
        operands.append(np.asarray(net.cpts[v]))
        subscripts.append("".join(letters[p] for p in net.parents[v]) + letters[v])
    out = "".join(letters[v] for v in names)
    return np.einsum(",".join(subscripts) + "->" + out, *operands), names


def _condition(joint: np.ndarray, names: list[str], model: dbn.Model, answers: dict[str, str]) -> np.ndarray:
    net = model.network
    index = [slice(None)] * len(names)
    for q, a in {**model.observed, **answers}.items():
        index[names.index(q)] = net.states[q].index(a)
    sub = np.asarray(joint[tuple(index)])
    return sub  # axes: the variables not fixed, in order


def _brute_gain(model: dbn.Model, answers: dict[str, str], items: list[str], criterion: str) -> float:
    joint, names = _full_joint(model)
    fixed = {**model.observed, **answers}
    free = [v for v in names if v not in fixed]
    sub = _condition(joint, names, model, answers)
    sub = sub / sub.sum()
    causes = list(model.causes)
    keep = [free.index(c) for c in causes] + [free.index(q) for q in items]
    others = tuple(i for i in range(len(free)) if i not in keep)
    pt_g = sub.sum(axis=others)  # the kept axes, in variable order: move them to causes, then items
    axes_now = sorted(keep)
    pt_g = np.moveaxis(pt_g, [axes_now.index(k) for k in keep], list(range(len(keep))))
    n_c = len(causes)
    pt = pt_g.sum(axis=tuple(range(n_c, n_c + len(items))))

    def uncertainty(p: np.ndarray) -> float:
        p = p / p.sum()
        if criterion == "joint":
            return float(entropy_bits(p.ravel()))
        margins = [p.sum(axis=tuple(j for j in range(n_c) if j != i)) for i in range(n_c)]
        if criterion == "marginal":
            return float(sum(entropy_bits(m) for m in margins))
        return float(sum(min(m[1], m[0]) for m in margins))

    total = 0.0
    for outcome in itertools.product(*(range(model.network.card(q)) for q in items)):
        p_o = pt_g[(Ellipsis, *outcome)]
        if p_o.sum() > 0:
            total += float(p_o.sum()) * uncertainty(p_o)
    return uncertainty(pt) - total


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
@pytest.mark.parametrize(
    "answers",
    [{}, {"less_talk": "a_lot"}, {"money": "yes", "sad": "no"}, {"tired": "yes"}, {"tired": "no", "afraid": "yes"}],
)
def test_checklist_gain_equals_brute_force_enumeration(model: dbn.Model, criterion: str, answers: dict) -> None:
    ranking = rank_questions(model, answers, criterion=criterion, costs=False)
    frame = ranking.to_frame().set_index("question")
    for gid, group in model.groups.items():
        items = [q for q in group.items if q not in answers]
        if len(items) < 2:
            assert frame.loc[gid, "answered"]
            continue
        expected = _brute_gain(model, answers, items, criterion)
        assert frame.loc[gid, "expected_gain_bits"] == pytest.approx(expected, abs=1e-12), gid
        assert frame.loc[gid, "kind"] == "group"
    # a single question's gain agrees with the same brute force (one item)
    for q in ("long_hours", "sad"):
        if q not in answers:
            assert frame.loc[q, "expected_gain_bits"] == pytest.approx(
                _brute_gain(model, answers, [q], criterion), abs=1e-12
            )


# A rating grid: three-level questions sharing one scale, one of them through a facet, one with two
# causes, one with two facets (so the example stays non-local), and a grid given its own headings.
GRID_QUESTIONS = """
  - id: flat
    label: Time together feels flat
    theme: Closeness
    text: Does time together feel flat?
    answers: [no, a_little, a_lot]
    leak: {a_little: 0.1, a_lot: 0.03}
    leak_rationale: Test number.
    links:
      - {cause: drifting, strength: {a_little: 0.3, a_lot: 0.4}, rationale: Test number.}
      - {cause: low_mood_cause, strength: {a_little: 0.2, a_lot: 0.3}, rationale: Test number.}
  - id: snappy
    label: Short with you
    theme: Talking
    text: Is your partner short with you?
    answers: [no, a_little, a_lot]
    leak: {a_little: 0.1, a_lot: 0.05}
    leak_rationale: Test number.
    links:
      - {facet: work_stress, strength: {a_little: 0.3, a_lot: 0.3}, rationale: Test number.}
  - id: worried
    label: On edge
    theme: Mood
    text: Does your partner seem on edge?
    answers: [never, sometimes, often]
    leak: {sometimes: 0.15, often: 0.05}
    leak_rationale: Test number.
    links:
      - {facet: work_stress, strength: {sometimes: 0.3, often: 0.3}, rationale: Test number.}
      - {facet: money_stress, strength: {sometimes: 0.2, often: 0.4}, rationale: Test number.}
      - {cause: control, strength: {sometimes: 0.2, often: 0.5}, rationale: Test number.}
  - id: gloomy
    label: Gloomy
    theme: Mood
    text: Does your partner seem gloomy?
    answers: [never, sometimes, often]
    leak: {sometimes: 0.1, often: 0.02}
    leak_rationale: Test number.
    links:
      - {cause: low_mood_cause, strength: {sometimes: 0.4, often: 0.4}, rationale: Test number.}
"""
GRID_GROUPS = """
  - id: changes
    kind: grid
    label: What has changed
    theme: Closeness
    text: How much have these changed?
    items: [less_talk, flat, snappy]
    cost: 1.5
  - id: moods
    kind: grid
    label: Moods
    theme: Mood
    text: How often does your partner seem like this?
    items: [worried, gloomy]
    scale: [Never or rarely, Sometimes, Often]
"""


def _grid_text(local: bool = False) -> str:
    text = EXAMPLE.read_text()
    text = text.replace("\ngroups:\n", "\n" + GRID_QUESTIONS.lstrip("\n") + "\ngroups:\n", 1)
    text = text.rstrip("\n") + "\n" + GRID_GROUPS.lstrip("\n")
    if local:  # at most one facet per question: the local path
        text = text.replace("      - {facet: money_stress, strength: 0.4, rationale: Test number.}\n", "", 1)
        text = text.replace(
            "      - {facet: money_stress, strength: {sometimes: 0.2, often: 0.4}, rationale: Test number.}\n", "", 1
        )
    return text


@pytest.fixture(scope="module", params=[False, True], ids=["blocks", "local"])
def grid_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dbn.Model:
    """The example with two rating grids (one with a two-answer row and its own headings)."""
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    path.write_text(_grid_text(local=request.param))
    return dbn.load_model(path)


def test_the_grid_models_take_the_paths_they_are_meant_to(grid_model: dbn.Model) -> None:
    from distancing_bn.information import _local_given_targets

    local = "money_stress" not in grid_model.network.parents["worried"]
    assert _local_given_targets(grid_model.network) == local
    assert grid_model.groups["changes"].is_grid and grid_model.groups["moods"].scale[0] == "Never or rarely"


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
@pytest.mark.parametrize(
    "answers",
    [{}, {"snappy": "a_lot"}, {"money": "yes", "sad": "no"}, {"tired": "yes", "gloomy": "often"}, {"afraid": "yes"}],
)
def test_grid_gain_equals_brute_force_enumeration_of_the_full_joint(
    grid_model: dbn.Model, criterion: str, answers: dict
) -> None:
    frame = rank_questions(grid_model, answers, criterion=criterion, costs=False).to_frame().set_index("question")
    checked = 0
    for gid, group in grid_model.groups.items():
        items = [q for q in group.items if q not in answers]
        if len(items) < 2:
            assert frame.loc[gid, "answered"]
            continue
        expected = _brute_gain(grid_model, answers, items, criterion)
        assert frame.loc[gid, "expected_gain_bits"] == pytest.approx(expected, abs=1e-12), gid
        checked += group.is_grid
    assert checked >= 1


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
def test_every_group_path_agrees_on_grids(grid_model: dbn.Model, criterion: str) -> None:
    """The row-per-outcome path (3**k rows, one query) against the block or local one."""
    from distancing_bn.information import _group_gains, _group_gains_by_rows, open_groups

    for answers in ({}, {"flat": "a_little", "afraid": "no"}):
        groups = open_groups(grid_model, set(answers))
        fast, p_fast = _group_gains(grid_model, answers, groups, criterion, None)
        rows, p_rows = _group_gains_by_rows(grid_model, answers, groups, criterion, None)
        np.testing.assert_allclose(fast, rows, rtol=0, atol=1e-12)
        for a, b, (_, items) in zip(p_fast, p_rows, groups, strict=True):
            assert a.shape == b.shape == (int(np.prod([grid_model.network.card(q) for q in items])),)
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)  # the same outcome order too
            assert a.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
def test_mixed_answer_counts_are_enumerated_exactly(grid_model: dbn.Model, criterion: str) -> None:
    """The gain code takes any product of answer counts (2 x 3 x 3 x 2 here), whatever the file allows."""
    from distancing_bn.information import _group_gains, _group_gains_by_rows

    items = ["sad", "worried", "flat", "long_hours"]
    for answers in ({}, {"gloomy": "sometimes", "money": "yes"}):
        fast, p_fast = _group_gains(grid_model, answers, [("mixed", items)], criterion, None)
        rows, _ = _group_gains_by_rows(grid_model, answers, [("mixed", items)], criterion, None)
        expected = _brute_gain(grid_model, answers, items, criterion)
        assert fast[0] == pytest.approx(expected, abs=1e-12) and rows[0] == pytest.approx(expected, abs=1e-12)
        assert p_fast[0].shape == (36,)


def test_a_grid_for_one_target_is_its_mutual_information(grid_model: dbn.Model) -> None:
    joint, names = _full_joint(grid_model)
    items = list(grid_model.groups["changes"].items)
    fixed = dict(grid_model.observed)
    sub = _condition(joint, names, grid_model, {})
    free = [v for v in names if v not in fixed]
    keep = [free.index("drifting"), *(free.index(q) for q in items)]
    p = sub.sum(axis=tuple(i for i in range(len(free)) if i not in keep))
    p = np.moveaxis(p, [sorted(keep).index(k) for k in keep], list(range(len(keep))))
    p = p / p.sum()
    p_t, p_o = p.sum(axis=tuple(range(1, p.ndim))), p.sum(axis=0)
    expected = float(entropy_bits(p_t) + entropy_bits(p_o.ravel()) - entropy_bits(p.ravel()))
    frame = rank_questions(grid_model, {}, target="drifting", costs=False).to_frame().set_index("question")
    assert frame.loc["changes", "expected_gain_bits"] == pytest.approx(expected, abs=1e-12)


def test_grid_answers_per_row_with_unsure(grid_model: dbn.Model) -> None:
    s = grid_model.session()
    s.answer("changes", {"less_talk": "a_lot", "flat": "unsure"})  # snappy left out: unsure as well
    assert s.answers == {"less_talk": "a_lot"}
    assert s.steps == 1 and s.items_asked == 3
    assert {"less_talk", "flat", "snappy"} <= set(s.asked)
    assert s.ranking().to_frame().set_index("question").loc["changes", "answered"]
    s.answer("snappy", "a_little")  # a row left unsure may be volunteered later, once
    assert s.answers["snappy"] == "a_little"
    with pytest.raises(dbn.DistancingBNError, match="already asked"):
        s.answer("snappy", "no")
    with pytest.raises(dbn.DistancingBNError, match="grid 'changes' was already asked"):
        s.answer("changes", "unsure")
    assert grid_model.session().answer("moods", "unsure").answers == {}
    with pytest.raises(InvalidAnswerError, match="not an open row"):
        grid_model.session().answer("moods", {"long_hours": "yes"})
    with pytest.raises(InvalidAnswerError, match="mapping of its rows"):
        grid_model.session().answer("moods", ["worried"])  # a checklist's form is refused
    with pytest.raises(InvalidAnswerError):
        grid_model.session().answer("moods", {"worried": "a_lot"})  # not one of its answers
    again = dbn.Session.from_dict(s.to_dict(), grid_model)
    assert again.answers == s.answers and again.steps == s.steps and again.items_asked == s.items_asked


def test_a_grid_row_answered_alone_leaves_the_rest(grid_model: dbn.Model) -> None:
    s = grid_model.session().answer("gloomy", "often")
    s.answer("moods", {"worried": "never"})
    assert s.answers == {"gloomy": "often", "worried": "never"}
    with pytest.raises(InvalidAnswerError, match="not an open row"):
        grid_model.session().answer("gloomy", "often").answer("moods", {"gloomy": "never"})


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> dbn.Model:
    """The example with at most one facet per question: local given the causes."""
    text = EXAMPLE.read_text().replace("      - {facet: money_stress, strength: 0.4, rationale: Test number.}\n", "", 1)
    path = tmp_path_factory.mktemp("local") / "local.yaml"
    path.write_text(text)
    return dbn.load_model(path)


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
@pytest.mark.parametrize("answers", [{}, {"tired": "yes"}, {"money": "yes", "sad": "no", "afraid": "yes"}])
def test_local_checklist_gains_equal_brute_force(local_model: dbn.Model, criterion: str, answers: dict) -> None:
    from distancing_bn.information import _local_given_targets

    assert _local_given_targets(local_model.network)
    assert not _local_given_targets(dbn.load_model(EXAMPLE).network)  # 'tired' has two facets there
    frame = rank_questions(local_model, answers, criterion=criterion, costs=False).to_frame().set_index("question")
    for gid, group in local_model.groups.items():
        items = [q for q in group.items if q not in answers]
        if len(items) >= 2:
            expected = _brute_gain(local_model, answers, items, criterion)
            assert frame.loc[gid, "expected_gain_bits"] == pytest.approx(expected, abs=1e-12), gid


@pytest.mark.parametrize("criterion", ["joint", "marginal", "decision"])
def test_the_local_path_equals_the_general_one_on_the_default_model(criterion: str) -> None:
    from distancing_bn.information import _group_gains_by_blocks, _group_gains_local, open_groups

    default = dbn.load_model()
    for answers in ({}, {"less_contact": "a_lot", "low_mood": "yes"}, {"longer_hours": "yes", "self_harm_talk": "no"}):
        groups = open_groups(default, set(answers))
        fast, p_fast = _group_gains_local(default, answers, groups, criterion)
        slow, p_slow = _group_gains_by_blocks(default, answers, groups, criterion)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-11)
        np.testing.assert_allclose([p[0] for p in p_fast], [p[0] for p in p_slow], rtol=0, atol=1e-12)


def test_blocks_follow_d_separation(model: dbn.Model) -> None:
    from distancing_bn.information import _blocks

    items = ["long_hours", "money", "bereaved"]
    assert sorted(map(sorted, _blocks(model, {}, items))) == [["bereaved"], ["long_hours"], ["money"]]
    # an answer shared by the two stress facets couples their questions given the causes
    assert sorted(map(sorted, _blocks(model, {"tired": "yes"}, items))) == [["bereaved"], ["long_hours", "money"]]


def test_a_checklist_gains_at_least_its_best_item(model: dbn.Model) -> None:
    frame = rank_questions(model, {}, costs=False).to_frame().set_index("question")
    for gid, group in model.groups.items():
        best_item = max(frame.loc[q, "expected_gain_bits"] for q in group.items)
        assert frame.loc[gid, "expected_gain_bits"] >= best_item - 1e-12


def test_screens_come_first_in_their_order_whatever_the_gains(model: dbn.Model) -> None:
    s = model.session()
    assert s.next_question() == "afraid"
    assert s.decision().screen
    s.answer("afraid", "no")
    assert s.next_question() == "safety_check"
    s.answer("safety_check", "none")
    assert s.answers == {"afraid": "no", "checks_phone": "no", "cuts_off": "no"}
    assert not s.decision().screen
    assert s.next_question() not in model.screens


def test_an_unsure_screen_is_not_asked_again(model: dbn.Model) -> None:
    s = model.session()
    s.answer("afraid", "unsure")
    s.answer("safety_check", "unsure")
    assert s.answers == {}
    nxt = s.next_question()
    assert nxt not in ("afraid", "safety_check", "checks_phone", "cuts_off")
    # an item the checklist left unsure can still be volunteered, once
    s.answer("cuts_off", "yes")
    assert s.answers == {"cuts_off": "yes"}
    with pytest.raises(dbn.DistancingBNError, match="already asked"):
        s.answer("cuts_off", "no")


def test_screens_are_asked_even_when_the_budget_is_zero(model: dbn.Model) -> None:
    s = model.session(stop=StopRule(max_questions=0))
    assert s.next_question() == "afraid"
    s.answer("afraid", "no").answer("safety_check", "none")
    assert s.done and s.decision().code == "budget"


def test_checklist_answers_in_every_form(model: dbn.Model) -> None:
    picked = model.session().answer("life_events", ["money"]).answers
    assert picked == {"long_hours": "no", "money": "yes", "bereaved": "no"}
    as_dict = model.session().answer("life_events", {"money": "yes", "bereaved": "unsure"}).answers
    assert as_dict == {"long_hours": "no", "money": "yes"}
    assert model.session().answer("life_events", "unsure").answers == {}
    with pytest.raises(InvalidAnswerError, match="not an open question"):
        model.session().answer("life_events", ["sad"])
    with pytest.raises(InvalidAnswerError):
        model.session().answer("life_events", {"money": "maybe"})


def test_an_item_asked_alone_leaves_the_rest_of_its_checklist(model: dbn.Model) -> None:
    s = model.session().answer("money", "yes")
    s.answer("life_events", ["bereaved"])
    assert s.answers == {"money": "yes", "long_hours": "no", "bereaved": "yes"}
    s2 = model.session().answer("money", "yes").answer("long_hours", "no")
    frame = s2.ranking().to_frame().set_index("question")
    assert frame.loc["life_events", "answered"]  # one item left: the question itself is asked instead


def test_the_stop_rule_waits_for_every_cause(model: dbn.Model) -> None:
    s = model.session(stop=StopRule(min_gain_bits=0.0))
    s.answer("afraid", "no").answer("safety_check", "none")
    seen = 0
    while not s.done:
        probs = s.posterior.probabilities[list(model.causes)]
        assert not ((probs <= 0.1) | (probs >= 0.9)).all()
        q = s.next_question()
        assert q is not None
        s.answer(q, "unsure" if seen % 3 == 2 else (["money"] if model.is_group(q) else model.answers_of(q)[-1]))
        seen += 1
    code = s.decision().code
    probs = s.posterior.probabilities[list(model.causes)]
    assert code in ("decided", "exhausted")
    if code == "decided":
        assert ((probs <= 0.1) | (probs >= 0.9)).all()


def test_save_and_resume_checks_the_model_file(model: dbn.Model, tmp_path: Path) -> None:
    s = model.session().answer("afraid", "no").answer("life_events", ["money"])
    data = s.to_dict()
    again = dbn.Session.from_dict(data, model)
    assert again.answers == s.answers and again.next_question() == s.next_question()
    changed = tmp_path / "interview.yaml"
    changed.write_text(EXAMPLE.read_text().replace("prior: 0.3", "prior: 0.31"))
    with pytest.raises(DataError, match="another version"):
        dbn.Session.from_dict(data, dbn.load_model(changed))


def test_cause_thresholds_raise_notices_and_safety_causes_get_no_tips(model: dbn.Model) -> None:
    g = model.guidance({"afraid": "yes", "checks_phone": "yes"})
    assert g.urgent and g.tips_withheld and g.notices[0].id == "safety"
    assert g.causes == ()
    quiet = model.guidance({"long_hours": "no", "money": "no", "less_talk": "no", "sad": "no"})
    assert not quiet.urgent and quiet.causes == () and quiet.general
    mood = model.guidance({"sad": "yes", "bereaved": "yes"})
    assert [n.kind for n in mood.notices] == ["professional_help"]
    assert all(c.cause != "control" for c in model.guidance({"checks_phone": "yes"}).causes)


def test_batch_scoring_follows_the_interview(model: dbn.Model) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "afraid": ["", "no", "no", "yes"],
            "checks_phone": ["", "", "no", "yes"],
            "cuts_off": ["", "", "no", "yes"],
            "long_hours": ["", "", "yes", ""],
            "sad": ["", "", "yes", ""],
        }
    )
    out = model.score(frame)
    assert out["next_question"].tolist()[:2] == ["afraid", "safety_check"]  # the pending screen first
    assert out["stop_reason"].tolist()[:2] == ["", ""]
    # a row past its screens gets the best question or a stop reason, as a session would
    row = out.iloc[2]
    answers = {k: v for k, v in frame.iloc[2].items() if v}
    decision = model.next_question(answers)
    assert (pd.isna(row["next_question"]) and row["stop_reason"] == decision.code) or (
        row["next_question"] == model.rank_questions(answers, groups=False).best
    )
    # notices from answers and from a cause's probability, urgent ones first
    assert out["notices"].iloc[3].split()[0] == "safety"
    assert "mood" in out["notices"].iloc[2].split()
