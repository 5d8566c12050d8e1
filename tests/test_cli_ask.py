"""``distancing-bn ask`` run as a real subprocess, driven through stdin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

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
    assert "Stopping: question budget reached (3)." in res.stdout
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
