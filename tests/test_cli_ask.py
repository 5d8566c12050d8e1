"""``distancing-bn ask`` run as a real subprocess, driven through stdin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from distancing_bn.formats import load_model
from distancing_bn.model import Model

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PROMPT = re.compile(r"^Q(\d+)\. (.+)$", re.MULTILINE)
SAFETY_TITLE = "Your safety comes first"
DISCLAIMER_PART = "not a clinical"


def run_cli(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m distancing_bn ARGS`` with the repository's ``src`` first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def interactive() -> subprocess.CompletedProcess[str]:
    # answer 3 (the strongest answer), then unsure, then back (undoes 'unsure'), then garbage, then quit
    return run_cli("ask", stdin="3\nu\nb\nxyz\nq\n")


def test_interactive_exit_code_and_prompt(interactive: subprocess.CompletedProcess[str], model: Model) -> None:
    out = interactive.stdout
    assert interactive.returncode == 0, interactive.stderr
    assert "Traceback" not in interactive.stderr
    assert out.startswith(model.title)
    assert "u = unsure, b = back, q = quit" in out
    prompts = PROMPT.findall(out)
    first = model.rank_questions({}).best
    assert prompts[0] == ("1", model.question_text(first))
    # the numbered answers of the first question, with their display labels
    spec_q = model.spec.question(first)
    for i, a in enumerate(model.answers_of(first), start=1):
        assert f"   {i}) {spec_q.display(a)}\n" in out


def test_interactive_answer_unsure_back_invalid_quit(
    interactive: subprocess.CompletedProcess[str], model: Model
) -> None:
    out = interactive.stdout
    first = model.rank_questions({}).best
    strongest = model.answers_of(first)[-1]
    second = model.rank_questions({first: strongest}).best
    prompts = PROMPT.findall(out)
    texts = [t for _, t in prompts]
    # Q1 answered; Q2 'unsure'; Q3 shown, 'b' takes back the 'unsure', so Q2 is asked again
    assert texts[0] == model.question_text(first)
    assert texts[1] == model.question_text(second)
    assert [n for n, _ in prompts] == ["1", "2", "3", "2"]
    assert texts[3] == model.question_text(second)
    n_answers = len(model.answers_of(second))
    assert f"please type a number from 1 to {n_answers}, u, b or q" in out
    assert out.count("Most likely so far:") == 3
    assert "(end of input)" not in out  # 'q' quits cleanly


def test_interactive_final_report(interactive: subprocess.CompletedProcess[str], model: Model) -> None:
    out = interactive.stdout
    first = model.rank_questions({}).best
    strongest = model.answers_of(first)[-1]
    post = model.posterior({first: strongest})
    assert "What the answers suggest (probability now, before any answer):" in out
    report = out.split("What the answers suggest", 1)[1]
    for c in model.causes:  # one line per cause in the posterior table
        p = post.probabilities[c]
        prior = model.prior.probabilities[c]
        assert re.search(rf"^  {re.escape(model.label(c))}\s+{p:6.1%}  \(was {prior:5.1%}\)", report, re.MULTILINE), c
    top = post.top_causes(1).index[0]
    assert f"Why '{model.label(top)}' stands out:" in report
    assert "Because you said" in report
    assert model.spec.question(first).display(strongest) in report
    assert DISCLAIMER_PART in report.splitlines()[-1]
    assert SAFETY_TITLE not in out


def test_end_of_input_stops_and_reports() -> None:
    res = run_cli("ask", stdin="1\n")
    assert res.returncode == 0, res.stderr
    assert "(end of input)" in res.stdout
    assert "What the answers suggest" in res.stdout
    assert DISCLAIMER_PART in res.stdout


def test_max_questions(model: Model) -> None:
    res = run_cli("ask", "--max-questions", "3", stdin="1\n" * 10)
    assert res.returncode == 0, res.stderr
    prompts = PROMPT.findall(res.stdout)
    assert len(prompts) == 3
    assert [n for n, _ in prompts] == ["1", "2", "3"]
    assert "Stopping: the question budget (3) is used up." in res.stdout
    assert "What the answers suggest" in res.stdout


def test_answers_file_runs_without_asking(tmp_path: Path, model: Model) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"threatened_or_afraid": "yes", "low_mood": "most_days"}), encoding="utf-8")
    res = run_cli("ask", "--answers", str(path))  # stdin is empty: nothing may be asked
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert not PROMPT.search(out)
    assert "> " not in out
    assert "What the answers suggest" in out
    assert "Because you said" in out
    safety = model.spec.notice("safety_control")
    help_ = model.spec.notice("professional_help_mood")
    assert f"!! {safety.title}" in out
    assert safety.text.split(".")[0] in out
    assert "Relationship tips are not shown" in out
    assert f"* {help_.title}" in out
    assert DISCLAIMER_PART in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"low_mood": \n', "bad.json:2: not valid JSON"),
        ('["low_mood", "most_days"]', "expected a JSON object"),
        (None, "bad.json: cannot read"),
    ],
    ids=["syntax", "not-an-object", "missing"],
)
def test_answers_file_bad_json(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2
    assert "error: DataError" in res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_answers_file_unknown_question(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"threatend_or_afraid": "yes"}), encoding="utf-8")
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2
    assert "error: UnknownQuestionError" in res.stderr
    assert "did you mean 'threatened_or_afraid'" in res.stderr
    assert "Traceback" not in res.stderr


# ----------------------------------------------------------------------------- bad input, never a traceback
def test_unicode_digits_at_the_prompt_are_an_invalid_choice() -> None:
    res = run_cli("ask", stdin="²\n١\n1\nq\n")  # str.isdigit() is True for both; int() fails on '²'
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.count("please type a number from 1 to") == 2
    assert "Q2." in res.stdout


def test_bytes_that_are_not_utf8_on_stdin_are_an_invalid_choice() -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONIOENCODING="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "distancing_bn", "ask"],
        input=b"\xff\xfe\n1\nq\n",
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert b"Traceback" not in res.stderr and b"please type a number" in res.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "bad.json:1: not UTF-8 text (byte 1)"),
        (b'{"less_contact": "a_lot"}\n\x81', "bad.json:2: not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"less_contact": ' + b"9" * 5000 + b"}", "a number of 5000 digits"),
        (b'{"less_contact": {"no": NaN, "a_little": 1, "a_lot": 1}}', "NaN is not a JSON value"),
        (
            b'{"less_contact": "a_lot", "onset": "sudden", "less_contact": "no"}',
            "the key 'less_contact' is given twice",
        ),
        (b'{"onset": {"gradual": 1, "gradual": 2}}', "the key 'gradual' is given twice"),
        (b"x" * (16 << 20) + b"x", "larger than 16 MiB"),
    ],
    ids=["not-utf8", "not-utf8-line-2", "deep", "huge-number", "nan", "repeated-key", "repeated-soft-key", "huge-file"],
)
def test_answers_file_bad_bytes(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("error: DataError: ") and message in res.stderr
    assert "a_lot" not in res.stderr  # answers are never echoed


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ('{"less_contact": {"no": 1e308, "a_little": 1, "a_lot": 1e999}}', "InvalidAnswerError"),  # inf
        ({"less_contact": {"no": -1, "a_little": 1, "a_lot": 1}}, "InvalidAnswerError"),
        ({"less_contact": {"no": 0, "a_little": 0, "a_lot": 0}}, "InvalidAnswerError"),
        ({"less_contact": [1, 2, 3]}, "InvalidAnswerError"),
        ({"less_contact": 10**300}, "InvalidAnswerError"),
        ({"x" * 100_000: "yes"}, "UnknownQuestionError"),
    ],
)
def test_answers_file_bad_answers(tmp_path: Path, answers: dict[str, Any] | str, error: str) -> None:
    path = tmp_path / "answers.json"
    path.write_text(answers if isinstance(answers, str) else json.dumps(answers), encoding="utf-8")
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: {error}: ") and len(res.stderr) < 400


def test_max_questions_must_be_a_whole_number() -> None:
    for bad in ("-1", "²", "x"):
        res = run_cli("ask", "--max-questions", bad)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert "argument --max-questions: expected a whole number >= 0" in res.stderr


DETERMINISTIC_MODEL = """\
format: distancing-bn/1
id: decided
title: A deterministic example
description: d
version: "1"
causes:
  - {id: a, label: Cause A, description: d, prior: 0.3, rationale: r, guidance: [tip a]}
  - {id: b, label: Cause B, description: d, prior: 0.8, rationale: r, guidance: [tip b]}
questions:
  - id: shows_a
    text: Does it show A?
    answers: [no, yes]
    table: {parents: [a], rows: {absent: [1.0, 0.0], present: [0.0, 1.0]}, rationale: r}
  - id: hides_a
    text: Does it hide A?
    answers: [no, yes]
    table: {parents: [a], rows: {absent: [0.0, 1.0], present: [1.0, 0.0]}, rationale: r}
  - id: about_b
    text: Anything about B?
    answers: [no, yes]
    leak: 0.1
    leak_rationale: r
    links: [{cause: b, strength: 0.6, rationale: r}]
"""


def test_report_of_a_certain_cause_says_so_in_words(tmp_path: Path) -> None:
    model_path = tmp_path / "decided.yaml"
    model_path.write_text(DETERMINISTIC_MODEL, encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"shows_a": "yes", "about_b": "no"}), encoding="utf-8")
    res = run_cli("ask", str(model_path), "--answers", str(answers))
    assert res.returncode == 0, res.stderr
    assert "Cause A became certain (that answer made it certain)" in res.stdout
    assert "inf" not in res.stdout
    # contradicting answers are refused before anything is printed, naming only the questions
    answers.write_text(json.dumps({"shows_a": "yes", "hides_a": "yes"}), encoding="utf-8")
    res = run_cli("ask", str(model_path), "--answers", str(answers))
    assert res.returncode == 2 and res.stdout == ""
    assert "error: ImpossibleEvidenceError: " in res.stderr
    assert "'shows_a' and 'hides_a' cannot both hold" in res.stderr and "yes" not in res.stderr


def test_an_answer_contradicting_an_earlier_one_is_asked_again(tmp_path: Path) -> None:
    import io

    from distancing_bn._ask import _ask_loop
    from distancing_bn.information import StopRule

    model_path = tmp_path / "decided.yaml"
    model_path.write_text(DETERMINISTIC_MODEL, encoding="utf-8")
    model = load_model(model_path)
    session = model.session(stop=StopRule(decided_low=0.0, decided_high=1.0, min_gain_bits=0.0, max_questions=3))
    session.answer("shows_a", "yes")  # A is certain: 'hides_a' can only be 'no'
    out = io.StringIO()
    _ask_loop(model, session, io.StringIO("2\n2\n1\n2\n"), out)  # 'yes' to hides_a is refused
    text = out.getvalue()
    assert "that answer cannot hold together with your answer to: Does it show A?" in text
    assert session.answers["hides_a"] == "no" and session.posterior.probabilities["a"] == 1.0
