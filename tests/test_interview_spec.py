"""Model-file keys of the interview: screens, checklists, always-observed premises, cause kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

import distancing_bn as dbn
from distancing_bn.errors import ModelValidationError
from distancing_bn.spec import MAX_GROUP_SIZE, dump_spec, load_spec, parse_spec

EXAMPLE = Path(__file__).parent / "data" / "interview.yaml"


@pytest.fixture(scope="module")
def model() -> dbn.Model:
    return dbn.load_model(EXAMPLE)


def test_roles_read_from_the_file(model: dbn.Model) -> None:
    assert model.observed == {"distance_noticed": "yes"}
    assert "distance_noticed" not in model.questions
    assert model.screens == ("afraid", "safety_check")
    assert list(model.groups) == ["life_events", "safety_check"]
    assert model.groups["life_events"].items == ("long_hours", "money", "bereaved")
    assert model.cost("life_events") == 1.5
    assert model.question_label("money") == "Money worries"
    assert model.question_label("life_events") == "Recent life events"
    assert model.question_theme("cuts_off") == "Safety"
    assert model.cause_kind("control") == "safety"
    assert model.relationship_causes == ("stress", "drifting", "low_mood_cause")


def test_round_trip_keeps_every_new_key() -> None:
    spec = load_spec(EXAMPLE)
    again = parse_spec(dump_spec(spec))
    assert again == spec
    assert again.general_guidance == spec.general_guidance != ()
    assert again.cause("low_mood_cause").notices == (("mood", 0.6),)


@pytest.mark.oracle
def test_the_premise_conditions_every_posterior_exactly(model: dbn.Model) -> None:
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(model.to_pgmpy())
    for answers in ({}, {"afraid": "yes", "less_talk": "a_lot"}, {"sad": "no", "money": "yes"}):
        post = model.posterior(answers)
        for cause in model.causes:
            q = ve.query([cause], evidence={**answers, "distance_noticed": "yes"}, show_progress=False)
            assert post.probabilities[cause] == pytest.approx(q.get_value(**{cause: "present"}), abs=1e-12)
    # the premise moves the prior away from the causes' own priors
    assert model.prior.probabilities["drifting"] > 0.4 > 0.2


def _edit(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("items: [long_hours, money, bereaved]", "items: [long_hours, less_talk]", "checklist items are yes/no"),
        ("items: [long_hours, money, bereaved]", "items: [long_hours, nope]", "unknown question 'nope'"),
        ("items: [long_hours, money, bereaved]", "items: [long_hours, checks_phone]", "already in group"),
        ("items: [long_hours, money, bereaved]", "items: [long_hours]", f"2 to {MAX_GROUP_SIZE} questions"),
        ("items: [long_hours, money, bereaved]", "items: [long_hours, distance_noticed]", "always observed"),
        ("    observed: yes", "    observed: maybe", "'maybe' is not an answer"),
        ("    observed: yes", "    observed: yes\n    screen: 3", "cannot be a screen"),
        ("    screen: 1", "    screen: first", "expected a whole number"),
        ("    screen: 1", "    screen: true", "expected a whole number"),
        ("    kind: safety\n    description: Coercive", "    kind: danger\n    description: Coercive", "cause kind"),
        ("notices: {mood: 0.6}", "notices: {moood: 0.6}", "unknown notice 'moood'"),
        ("notices: {mood: 0.6}", "notices: {mood: 1.5}", "outside (0, 1)"),
    ],
)
def test_bad_interview_keys_are_named_with_their_line(old: str, new: str, message: str) -> None:
    with pytest.raises(ModelValidationError) as info:
        parse_spec(_edit(old, new), file="interview.yaml")
    text = str(info.value)
    assert message in text
    assert "interview.yaml:" in text


def test_groups_are_ids_like_any_other() -> None:
    with pytest.raises(ModelValidationError, match="duplicate id 'money'"):
        parse_spec(_edit("  - id: life_events", "  - id: money"))


def test_the_default_model_round_trips_through_its_own_writer() -> None:
    from distancing_bn.formats import default_model_path

    spec = load_spec(default_model_path())
    assert parse_spec(dump_spec(spec)) == spec  # a safety cause without guidance included
