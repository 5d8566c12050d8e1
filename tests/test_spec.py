"""Tests of :mod:`distancing_bn.spec`: loading, validation messages (with lines), dumping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distancing_bn.errors import ModelError, ModelSyntaxError, ModelValidationError, Problem
from distancing_bn.spec import ModelSpec, dump_spec, load_spec, parse_spec
from strategies import small_specs

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "two_causes.yaml"
BASE = EXAMPLE.read_text(encoding="utf-8")
FILE = "m.yaml"


# ----------------------------------------------------------------------------- helpers
def mutate(old: str, new: str, text: str = BASE) -> str:
    """Replace the first ``old`` in the example's text (which must contain it) by ``new``."""
    assert old in text, f"the example no longer contains {old!r}"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """Return the 1-based line of the ``nth`` line of ``text`` that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} is not in the text {nth} time(s)"
    return hits[nth - 1]


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(ModelValidationError) as info:
        parse_spec(text, file=FILE)
    assert all(p.file == FILE for p in info.value.problems)
    return info.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def problem_matching(text: str, pattern: str) -> Problem:
    problems = problems_of(text)
    found = [p for p in problems if re.search(pattern, p.message)]
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


def assert_problem(p: Problem, *, message: str, line: int, key_path: str) -> None:
    assert re.search(message, p.message), p.message
    assert p.line == line, str(p)
    assert p.key_path == key_path, str(p)


# ----------------------------------------------------------------------------- loading
def test_load_spec_example() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.id == "two_causes"
    assert [c.id for c in spec.causes] == ["stress", "drifting"]
    assert [f.id for f in spec.facets] == ["work_stress"]
    assert [q.id for q in spec.questions] == ["works_late", "less_talk", "onset", "feels_afraid"]
    assert spec.links[0].source == "stress" and spec.links[0].target == "drifting"
    assert spec.question("less_talk").leak == (0.15, 0.05)
    assert spec.question("onset").table is not None
    assert spec.question("onset").table.rows[2] == (0.3, 0.7)  # 'present absent'
    assert spec.question("feels_afraid").cost == 2.0
    assert spec.source == str(EXAMPLE)
    assert spec.sha256 is not None and len(spec.sha256) == 64


def test_load_spec_reads_yes_and_no_as_text() -> None:
    spec = load_spec(EXAMPLE)
    q = spec.question("feels_afraid")
    assert q.answers == ("no", "yes")
    assert q.notices == (("safety_fear", ("yes",)),)


def test_parse_spec_unsure_yes_is_not_a_boolean() -> None:
    text = mutate("    cost: 2.0\n", "    cost: 2.0\n    unsure: yes\n")
    assert_problem(
        only_problem(text),
        message=r"expected true or false, got text 'yes'",
        line=line_of(text, "unsure: yes"),
        key_path="questions[3].unsure",
    )


def test_dump_spec_round_trips_example() -> None:
    spec = load_spec(EXAMPLE)
    assert parse_spec(dump_spec(spec)) == spec


@given(small_specs())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_dump_spec_round_trips_random_specs(text: str) -> None:
    spec = parse_spec(text)
    assert isinstance(spec, ModelSpec)
    dumped = dump_spec(spec)
    assert parse_spec(dumped) == spec
    assert dump_spec(parse_spec(dumped)) == dumped


def test_dump_spec_round_trips_leak_rationale_of_a_table_question() -> None:
    text = mutate(
        "    answers: [gradual, sudden]\n",
        "    answers: [gradual, sudden]\n    leak_rationale: Kept for the record.\n",
    )
    spec = parse_spec(text)
    assert parse_spec(dump_spec(spec)) == spec


# ----------------------------------------------------------------------------- one defect each
def test_parse_spec_raises_unknown_key_with_did_you_mean() -> None:
    text = mutate("    leak_rationale: Hours vary", "    leak_rationales: Hours vary")
    p = only_problem(text)
    assert_problem(
        p,
        message=r"unknown key 'leak_rationales'; valid keys: 'id', 'text', .*"
        r"Did you mean 'leak_rationale'\?",
        line=line_of(text, "leak_rationales"),
        key_path="questions[0].leak_rationales",
    )


def test_parse_spec_raises_unknown_top_level_key() -> None:
    text = mutate("version:", "verison:")
    assert_problem(
        only_problem(text),
        message=r"unknown key 'verison'.*Did you mean 'version'",
        line=line_of(text, "verison:"),
        key_path="verison",
    )


def test_parse_spec_raises_missing_required_key() -> None:
    text = mutate("    rationale: Elicited for the example.\n", "")
    assert_problem(
        only_problem(text),
        message=r"^missing required key 'rationale'$",
        line=line_of(text, "- id: drifting"),
        key_path="causes[1]",
    )


@pytest.mark.parametrize(
    ("old", "new", "nth", "message", "key_path"),
    [
        pytest.param(
            "- id: work_stress",
            "- id: drifting",
            1,
            r"duplicate id 'drifting' \(already used by a cause\)",
            "causes[0].facets[0].id",
            id="facet-vs-cause",
        ),
        pytest.param(
            "- id: onset",
            "- id: stress",
            2,
            r"duplicate id 'stress' \(already used by a cause\)",
            "questions[2].id",
            id="question-vs-cause",
        ),
        pytest.param(
            "- id: works_late",
            "- id: work_stress",
            2,
            r"duplicate id 'work_stress' \(already used by a facet\)",
            "questions[0].id",
            id="question-vs-facet",
        ),
        pytest.param(
            "- id: feels_afraid",
            "- id: safety_fear",
            2,
            r"duplicate id 'safety_fear' \(already used by a notice\)",
            "questions[3].id",
            id="question-vs-notice",
        ),
        pytest.param(
            "- id: drifting",
            "- id: stress",
            2,
            r"duplicate id 'stress' \(already used by a cause\)",
            "causes[1].id",
            id="cause-vs-cause",
        ),
    ],
)
def test_parse_spec_raises_duplicate_id(old: str, new: str, nth: int, message: str, key_path: str) -> None:
    text = mutate(old, new)
    p = problem_matching(text, r"duplicate id")
    assert_problem(p, message=message, line=line_of(text, new, nth=nth), key_path=key_path)


@pytest.mark.parametrize("bad", ["On-set", "1onset", "on set", "onSet", "_onset"])
def test_parse_spec_raises_malformed_id(bad: str) -> None:
    text = mutate("- id: onset", f"- id: {bad}")
    assert_problem(
        only_problem(text),
        message=rf"id '{re.escape(bad)}' is not valid; use lowercase letters",
        line=line_of(text, f"id: {bad}"),
        key_path="questions[2].id",
    )


def test_parse_spec_raises_unknown_cause_in_links() -> None:
    text = mutate("    to: drifting", "    to: drifitng")
    assert_problem(
        only_problem(text),
        message=r"unknown cause 'drifitng'; valid: 'stress', 'drifting'\. "
        r"Did you mean 'drifting'\?",
        line=line_of(text, "to: drifitng"),
        key_path="links[0].to",
    )


def test_parse_spec_raises_facet_in_cause_links() -> None:
    text = mutate("  - from: stress", "  - from: work_stress")
    assert_problem(
        only_problem(text),
        message=r"unknown cause 'work_stress' \(a facet; links join causes\)",
        line=line_of(text, "from: work_stress"),
        key_path="links[0].from",
    )


CYCLE_LINK = """  - from: drifting
    to: stress
    strength: 0.1
    rationale: Feeling apart is stressful too.
"""


def test_parse_spec_raises_cycle_among_causes_naming_the_path() -> None:
    text = mutate("\nquestions:", CYCLE_LINK + "\nquestions:")
    assert_problem(
        only_problem(text),
        message=r"the links between causes form a cycle: stress -> drifting -> stress; "
        r"links must form a DAG",
        line=line_of(text, "- from: stress"),
        key_path="links",
    )


def test_parse_spec_raises_self_link() -> None:
    text = mutate("    to: drifting", "    to: stress")
    assert_problem(
        only_problem(text),
        message=r"cause 'stress' links to itself",
        line=line_of(text, "- from: stress"),
        key_path="links[0]",
    )


@pytest.mark.parametrize(
    ("old", "new", "message", "key_path"),
    [
        pytest.param(
            "prior: 0.3",
            "prior: 1.5",
            r"probability 1\.5 is outside \(0, 1\)",
            "causes[0].prior",
            id="prior-above-1",
        ),
        pytest.param(
            "prior: 0.3",
            "prior: 0",
            r"probability 0 is outside \(0, 1\)",
            "causes[0].prior",
            id="prior-0-open-interval",
        ),
        pytest.param(
            "strength: 0.2",
            "strength: -0.1",
            r"probability -0\.1 is outside \[0, 1\]",
            "links[0].strength",
            id="link-strength",
        ),
        pytest.param(
            "strength: 0.8",
            "strength: 1.01",
            r"probability 1\.01 is outside \[0, 1\]",
            "questions[0].links[0].strength",
            id="noisy-or-strength",
        ),
        pytest.param(
            "leak: 0.1",
            "leak: 2",
            r"probability 2 is outside \[0, 1\]",
            "questions[0].leak",
            id="noisy-or-leak",
        ),
        pytest.param(
            "a_lot: 0.05}",
            "a_lot: -0.05}",
            r"probability -0\.05 is outside \[0, 1\]",
            "questions[1].leak.a_lot",
            id="noisy-max-leak",
        ),
        pytest.param(
            "p_present: 0.6",
            "p_present: 1.6",
            r"probability 1\.6 is outside \[0, 1\]",
            "causes[0].facets[0].p_present",
            id="p_present",
        ),
        pytest.param(
            "p_present: 0.6",
            "p_present: 0.6\n        p_absent: .nan",
            r"probability nan is outside \[0, 1\]",
            "causes[0].facets[0].p_absent",
            id="p_absent-nan",
        ),
        pytest.param(
            "prior: 0.3",
            "prior: high",
            r"expected a probability \(a number in \[0, 1\]\), got text 'high'",
            "causes[0].prior",
            id="prior-text",
        ),
    ],
)
def test_parse_spec_raises_probability_out_of_range(old: str, new: str, message: str, key_path: str) -> None:
    text = mutate(old, new)
    last = new.splitlines()[-1].strip()
    assert_problem(only_problem(text), message=message, line=line_of(text, last), key_path=key_path)


def test_parse_spec_raises_noisy_max_strengths_over_one() -> None:
    text = mutate("strength: {a_little: 0.4, a_lot: 0.1}", "strength: {a_little: 0.7, a_lot: 0.5}")
    assert_problem(
        only_problem(text),
        message=r"strength probabilities sum to 1\.2; they must sum to at most 1 "
        r"\(the first answer 'no' takes the rest\)",
        line=line_of(text, "a_little: 0.7"),
        key_path="questions[1].links[0].strength",
    )


def test_parse_spec_raises_strength_key_not_an_answer() -> None:
    text = mutate("strength: {a_little: 0.4, a_lot: 0.1}", "strength: {a_little: 0.4, a_lott: 0.1}")
    assert_problem(
        only_problem(text),
        message=r"'a_lott' is not an answer of this question; valid: 'a_little', 'a_lot'\. "
        r"Did you mean 'a_lot'",
        line=line_of(text, "a_lott"),
        key_path="questions[1].links[0].strength.a_lott",
    )


def test_parse_spec_raises_strength_key_is_the_baseline_answer() -> None:
    text = mutate("leak: {a_little: 0.15, a_lot: 0.05}", "leak: {no: 0.8, a_little: 0.15}")
    assert_problem(
        only_problem(text),
        message=r"'no' is the first \(baseline\) answer: it takes the remaining",
        line=line_of(text, "leak: {no"),
        key_path="questions[1].leak.no",
    )


def test_parse_spec_raises_number_where_mapping_needed() -> None:
    text = mutate("strength: {a_little: 0.3, a_lot: 0.5}", "strength: 0.5")
    assert_problem(
        only_problem(text),
        message=r"strength of a question with answers 'no', 'a_little', 'a_lot' must be a mapping "
        r"from 'a_little', 'a_lot' to probabilities, got float 0\.5",
        line=line_of(text, "strength: 0.5"),
        key_path="questions[1].links[1].strength",
    )


def test_parse_spec_raises_mapping_where_number_needed_in_cause_link() -> None:
    text = mutate("    strength: 0.2", "    strength: {present: 0.2}")
    assert_problem(
        only_problem(text),
        message=r"expected a probability \(a number in \[0, 1\]\), got a mapping",
        line=line_of(text, "strength: {present"),
        key_path="links[0].strength",
    )


def test_parse_spec_raises_mapping_where_number_needed_in_noisy_or() -> None:
    text = mutate("strength: 0.8", "strength: {yes: 0.8}")
    assert_problem(
        only_problem(text),
        message=r"number",
        line=line_of(text, "strength: {yes"),
        key_path="questions[0].links[0].strength",
    )


def test_parse_spec_raises_table_row_missing() -> None:
    text = mutate("        present present: [0.6, 0.4]\n", "")
    assert_problem(
        only_problem(text),
        message=r"missing row for parent states 'present present' \(parents 'stress', 'drifting'\)",
        line=line_of(text, "rows:"),
        key_path="questions[2].table.rows",
    )


def test_parse_spec_raises_table_row_wrong_length() -> None:
    text = mutate("present present: [0.6, 0.4]", "present present: [0.6, 0.3, 0.1]")
    assert_problem(
        only_problem(text),
        message=r"expected 2 probabilities, one per answer 'gradual', 'sudden'",
        line=line_of(text, "present present"),
        key_path="questions[2].table.rows.present present",
    )


def test_parse_spec_raises_table_row_not_summing_to_one() -> None:
    text = mutate("absent present: [0.85, 0.15]", "absent present: [0.85, 0.25]")
    assert_problem(
        only_problem(text),
        message=r"row for parent states 'absent present' sums to 1\.1; each row must sum to 1",
        line=line_of(text, "absent present"),
        key_path="questions[2].table.rows.absent present",
    )


def test_parse_spec_raises_table_row_not_a_configuration() -> None:
    text = mutate("present present: [0.6, 0.4]", "present presnt: [0.6, 0.4]")
    problems = problems_of(text)
    assert len(problems) == 2, "\n".join(map(str, problems))
    assert_problem(
        problems[1],
        message=r"'present presnt' is not a configuration of the parents 'stress', "
        r"'drifting'; write their states",
        line=line_of(text, "present presnt"),
        key_path="questions[2].table.rows.present presnt",
    )
    assert_problem(
        problems[0],
        message=r"missing row for parent states 'present present'",
        line=line_of(text, "rows:"),
        key_path="questions[2].table.rows",
    )


def test_parse_spec_raises_table_row_repeated() -> None:
    text = mutate(
        "        present present: [0.6, 0.4]\n",
        "        present present: [0.6, 0.4]\n        present  present: [0.5, 0.5]\n",
    )
    p = only_problem(text)
    assert re.search(r"present present", p.message), p.message
    assert p.line == line_of(text, "present  present")


def test_parse_spec_raises_question_with_no_links() -> None:
    text = mutate(
        """    links:
      - cause: stress
        strength: 0.02
        rationale: Stress alone seldom produces fear; the notice matters more than the cause.
""",
        "",
    )
    assert_problem(
        only_problem(text),
        message=r"question 'feels_afraid' has no links: link it to at least one cause or facet",
        line=line_of(text, "- id: feels_afraid"),
        key_path="questions[3]",
    )


def test_parse_spec_raises_question_with_empty_links() -> None:
    text = mutate(
        """    links:
      - cause: stress
        strength: 0.02
        rationale: Stress alone seldom produces fear; the notice matters more than the cause.
""",
        "    links: []\n",
    )
    assert_problem(
        only_problem(text),
        message=r"question 'feels_afraid' has no links",
        line=line_of(text, "links: []"),
        key_path="questions[3].links",
    )


NEW_CAUSE = """  - id: lonely
    label: Loneliness
    description: They feel alone even when together.
    prior: 0.1
    rationale: Elicited.
    guidance:
      - Ask them.
"""


def test_parse_spec_raises_cause_informed_by_no_question() -> None:
    text = mutate("\nlinks:", NEW_CAUSE + "\nlinks:")
    assert_problem(
        only_problem(text),
        message=r"cause 'lonely' is informed by no question; link at least one question to it",
        line=line_of(text, "- id: lonely"),
        key_path="causes[2]",
    )


def test_parse_spec_raises_facet_informed_by_no_question() -> None:
    text = mutate("      - facet: work_stress", "      - cause: stress")
    assert_problem(
        only_problem(text),
        message=r"facet 'work_stress' is informed by no question",
        line=line_of(text, "- id: work_stress"),
        key_path="causes[0].facets[0]",
    )


@pytest.mark.parametrize(
    ("old", "new", "key_path"),
    [
        pytest.param(
            "text: Did the change come suddenly or gradually?",
            'text: ""',
            "questions[2].text",
            id="question-text",
        ),
        pytest.param("label: Drifting apart", "label: '   '", "causes[1].label", id="cause-label"),
        pytest.param(
            "description: Long hours or conflict at work.",
            "description: ''",
            "causes[0].facets[0].description",
            id="facet-description",
        ),
    ],
)
def test_parse_spec_raises_empty_text(old: str, new: str, key_path: str) -> None:
    text = mutate(old, new)
    assert_problem(only_problem(text), message=r"^text is empty$", line=line_of(text, new), key_path=key_path)


@pytest.mark.parametrize(
    ("old", "new", "key_path"),
    [
        pytest.param(
            "text: Did the change come suddenly or gradually?",
            "text:",
            "questions[2].text",
            id="question-text",
        ),
        pytest.param("label: Drifting apart", "label:", "causes[1].label", id="cause-label"),
        pytest.param(
            "rationale: Elicited for the example.",
            "rationale: ~",
            "causes[1].rationale",
            id="cause-rationale",
        ),
    ],
)
def test_parse_spec_raises_null_text(old: str, new: str, key_path: str) -> None:
    text = mutate(old, new)
    p = only_problem(text)
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.strip() == new)
    assert p.key_path == key_path and p.line == line
    assert p.message == "text is empty"


def test_parse_spec_raises_unknown_notice() -> None:
    text = mutate("notices: {safety_fear: [yes]}", "notices: {safety_fears: [yes]}")
    assert_problem(
        only_problem(text),
        message=r"unknown notice 'safety_fears'; valid: 'safety_fear'\. "
        r"Did you mean 'safety_fear'\?",
        line=line_of(text, "safety_fears"),
        key_path="questions[3].notices.safety_fears",
    )


def test_parse_spec_raises_unknown_notice_kind() -> None:
    text = mutate("kind: safety", "kind: danger")
    assert_problem(
        only_problem(text),
        message=r"unknown notice kind 'danger'; valid: 'safety', 'crisis', 'professional_help'",
        line=line_of(text, "kind: danger"),
        key_path="notices[0].kind",
    )


def test_parse_spec_raises_notice_answer_not_an_answer() -> None:
    text = mutate("notices: {safety_fear: [yes]}", "notices: {safety_fear: [yess]}")
    assert_problem(
        only_problem(text),
        message=r"'yess' is not an answer of this question; valid: 'no', 'yes'\. "
        r"Did you mean 'yes'\?",
        line=line_of(text, "[yess]"),
        key_path="questions[3].notices.safety_fear",
    )


def test_parse_spec_raises_unsure_declared_as_answer() -> None:
    text = mutate("answers: [no, a_little, a_lot]", "answers: [no, unsure, a_lot]")
    assert_problem(
        only_problem(text),
        message=r"'unsure' is reserved \(it always means no evidence\)",
        line=line_of(text, "[no, unsure, a_lot]"),
        key_path="questions[1].answers[1]",
    )


def test_parse_spec_invalid_answers_do_not_cascade() -> None:
    text = mutate("answers: [no, yes]\n    leak: 0.1", "answers: [no, unsure]\n    leak: 0.1")
    assert_problem(
        only_problem(text),
        message=r"'unsure' is reserved",
        line=line_of(text, "[no, unsure]"),
        key_path="questions[0].answers[1]",
    )


def test_parse_spec_raises_version_of_wrong_type() -> None:
    text = mutate('version: "0.1"', "version: [0, 1]")
    assert_problem(
        only_problem(text),
        message=r"expected text, got a list",
        line=line_of(text, "version:"),
        key_path="version",
    )


def test_parse_spec_raises_duplicate_yaml_key() -> None:
    text = mutate("    prior: 0.3\n", "    prior: 0.3\n    prior: 0.25\n")
    assert_problem(
        only_problem(text),
        message=r"^duplicate key 'prior'$",
        line=line_of(text, "prior: 0.25"),
        key_path="causes[0].prior",
    )


def test_parse_spec_raises_wrong_format() -> None:
    text = mutate("format: distancing-bn/1", "format: distancing-bn/2")
    assert_problem(
        only_problem(text),
        message=r"unknown format 'distancing-bn/2'; valid: 'distancing-bn/1'",
        line=1,
        key_path="format",
    )


def test_parse_spec_raises_syntax_error_with_line_and_column() -> None:
    text = mutate("title: A two-cause example", "title: A two-cause: example")
    with pytest.raises(ModelSyntaxError, match=r"^m\.yaml:3:19: not valid YAML: mapping values are not allowed"):
        parse_spec(text, file=FILE)
    try:
        parse_spec(text, file=FILE)
    except ModelSyntaxError as exc:
        assert (exc.file, exc.line, exc.column) == (FILE, 3, 19)


def test_parse_spec_raises_syntax_error_on_unclosed_flow_sequence() -> None:
    text = mutate("answers: [gradual, sudden]", "answers: [gradual, sudden")
    with pytest.raises(ModelSyntaxError, match=r"not valid YAML") as info:
        parse_spec(text, file=FILE)
    assert info.value.line is not None and info.value.line >= line_of(text, "[gradual, sudden")
    assert info.value.column is not None


def test_load_spec_raises_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.replace("Outside stress", "Outside stréss").encode("latin-1"))
    with pytest.raises(ModelSyntaxError, match=r"latin1\.yaml:\d+: the file is not UTF-8 text \(byte \d+\)") as info:
        load_spec(path)
    assert info.value.file == str(path)
    assert info.value.line == line_of(BASE, "Outside stress")


def test_load_spec_accepts_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_spec(path) == load_spec(EXAMPLE)


def test_load_spec_raises_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ModelSyntaxError, match=r"nope\.yaml: cannot read the model file: No such file"):
        load_spec(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n"])
def test_parse_spec_raises_not_a_mapping(text: str) -> None:
    p = problems_of(text)[0]
    assert p.message.startswith("expected a mapping, got")
    assert p.key_path == ""


# ----------------------------------------------------------------------------- several at once
def test_parse_spec_reports_every_problem_at_once() -> None:
    text = mutate("prior: 0.3", "prior: 1.3")
    text = mutate("    leak_rationale: Hours vary", "    leak_rationales: Hours vary", text)
    text = mutate("absent present: [0.85, 0.15]", "absent present: [0.85, 0.25]", text)
    text = mutate("notices: {safety_fear: [yes]}", "notices: {safety_fear: [yess]}", text)
    with pytest.raises(ModelValidationError, match=r"^4 problems in the model:\n") as info:
        parse_spec(text, file=FILE)
    problems = info.value.problems
    assert [p.key_path for p in problems] == [
        "causes[0].prior",
        "questions[0].leak_rationales",
        "questions[2].table.rows.absent present",
        "questions[3].notices.safety_fear",
    ]
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert f"{FILE}:{line_of(text, 'prior: 1.3')} causes[0].prior: probability 1.3" in str(info.value)


# ----------------------------------------------------------------------------- robustness
@st.composite
def corrupted_example(draw: st.DrawFn) -> str:
    """The example's text with one random corruption."""
    lines = BASE.splitlines(keepends=True)
    kind = draw(st.sampled_from(["delete", "duplicate", "number", "swap", "truncate"]))
    if kind == "delete":
        i = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[:i] + lines[i + 1 :])
    if kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[: i + 1] + lines[i:])
    if kind == "number":
        spans = [m.span() for m in re.finditer(r"\d+(?:\.\d+)?", BASE)]
        a, b = draw(st.sampled_from(spans))
        return BASE[:a] + draw(st.sampled_from(["-1", "2", "'x'", "x", "1e400", ".nan", "", "[1]"])) + BASE[b:]
    if kind == "swap":
        i = draw(st.integers(0, len(BASE) - 2))
        j = draw(st.integers(0, len(BASE) - 1))
        chars = list(BASE)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    return BASE[: draw(st.integers(0, len(BASE)))]


@given(corrupted_example())
@settings(max_examples=200)
def test_parse_spec_corrupted_example_raises_only_model_errors(text: str) -> None:
    try:
        spec = parse_spec(text, file=FILE)
    except ModelValidationError as exc:
        assert exc.problems
        assert all(isinstance(p, Problem) and p.message for p in exc.problems)
    except ModelSyntaxError as exc:
        assert exc.file == FILE
    else:
        assert isinstance(spec, ModelSpec)


def test_model_error_classes() -> None:
    assert issubclass(ModelSyntaxError, ModelError) and issubclass(ModelValidationError, ModelError)
    assert issubclass(ModelError, ValueError)
