"""Model-file keys of the interview: screens, checklists, always-observed premises, cause kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import distancing_bn as dbn
from distancing_bn.errors import ModelValidationError
from distancing_bn.spec import MAX_GROUP_OUTCOMES, MAX_GROUP_SIZE, dump_spec, load_spec, parse_spec

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


def _three_level(n: int) -> str:
    """``n`` three-level questions ``r0``..``r{n-1}`` (never / sometimes / often), each linked to one cause."""
    return "".join(
        f"""  - id: r{i}
    label: Row {i}
    theme: Talking
    text: Row question {i}?
    answers: [never, sometimes, often]
    leak: {{sometimes: 0.1, often: 0.05}}
    leak_rationale: Test number.
    links:
      - {{cause: drifting, strength: {{sometimes: 0.3, often: 0.3}}, rationale: Test number.}}
"""
        for i in range(n)
    )


def _with_grid(n: int, grid: str) -> str:
    text = EXAMPLE.read_text().replace("\ngroups:\n", "\n" + _three_level(n) + "\ngroups:\n", 1)
    return text.rstrip("\n") + "\n" + grid


GRID = """  - id: rows
    kind: grid
    label: Rows
    theme: Talking
    text: How often?
    items: [r0, r1, r2]
"""


def test_a_grid_is_read_and_written_back() -> None:
    scaled = GRID + "    scale: [Never, Now and then, Often]\n"
    spec = parse_spec(_with_grid(3, scaled), file="grid.yaml")
    group = spec.group("rows")
    assert group.is_grid and group.kind == "grid" and group.scale == ("Never", "Now and then", "Often")
    assert parse_spec(dump_spec(spec)) == spec
    assert not spec.group("life_events").is_grid  # a checklist unless it says kind: grid
    plain = parse_spec(_with_grid(3, GRID)).group("rows")
    assert plain.scale == () and plain.is_grid


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (GRID.replace("[r0, r1, r2]", "[r0, r1, less_talk]"), "share one answer scale"),
        (
            GRID.replace("[r0, r1, r2]", "[r0, r1, sad]") + "    scale: [No, Some, Yes]\n",
            "as many answers as its scale",
        ),
        (GRID + "    scale: [Never, Often]\n", "the scale has 2 headings but the items have 3 answers"),
        (GRID + "    scale: [Never, '', Often]\n", "column headings"),
        (GRID.replace("kind: grid", "kind: table"), "expected one of 'checklist', 'grid'"),
        (
            GRID.replace("    kind: grid\n", ""),
            "checklist items are yes/no (for questions that share one answer scale, write kind: grid)",
        ),
        (GRID.replace("    kind: grid\n", "") + "    scale: [a, b, c]\n", "only a grid"),
        (
            GRID.replace("[r0, r1, r2]", "[r0, r1, r2, r3, r4, r5, r6]"),
            f"more than {MAX_GROUP_OUTCOMES:,} (MAX_GROUP_OUTCOMES",
        ),
        (GRID.replace("[r0, r1, r2]", "[r0, r1, long_hours]"), "already in group 'life_events'"),
    ],
)
def test_bad_grids_are_named_with_their_line(grid: str, message: str) -> None:
    text = _with_grid(7, grid)
    with pytest.raises(ModelValidationError) as info:
        parse_spec(text, file="grid.yaml")
    err = str(info.value)
    assert message in err
    found = re.search(r"grid\.yaml:(\d+) groups\[2\]\.(\w+): ", err)
    assert found, err  # file:line, then where in the file
    line, key = int(found.group(1)), found.group(2)
    assert text.splitlines()[line - 1].strip().startswith(f"{key}:"), (line, key)


def test_the_outcome_cap_holds_at_its_value_and_six_three_level_rows_fit() -> None:
    assert MAX_GROUP_OUTCOMES == 1024 == 2**10 and 3**6 <= MAX_GROUP_OUTCOMES < 3**7
    six = GRID.replace("[r0, r1, r2]", "[r0, r1, r2, r3, r4, r5]")
    assert len(parse_spec(_with_grid(6, six)).group("rows").items) == 6
