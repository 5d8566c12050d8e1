"""Simulated interviews: the product's policy on sampled cases, and the simulate command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import distancing_bn as dbn
from distancing_bn.information import StopRule
from distancing_bn.interviews import sample_premise_cases, simulate_interviews

EXAMPLE = Path(__file__).parent / "data" / "interview.yaml"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model() -> dbn.Model:
    return dbn.load_model(EXAMPLE)


def test_cases_hold_the_premise(model: dbn.Model) -> None:
    cases = sample_premise_cases(model, 500, seed=3)
    assert all(len(a) == 500 for a in cases.values())
    assert (cases["distance_noticed"] == 1).all()
    # given the premise a cause is more common than its own prior: Bayes did the step
    assert cases["drifting"].mean() > 0.3


def test_interviews_ask_screens_first_and_show_every_safety_notice(model: dbn.Model) -> None:
    report = simulate_interviews(model, 150, seed=1, criteria=("joint", "decision"))
    table = report.to_frame().set_index("criterion")
    assert list(table.index) == ["joint", "decision"]
    assert (table["screens_within"] <= 2).all()
    assert (table["safety_shown"] == 1.0).all() and (table["safety_cases"] > 0).all()
    assert (table["median_questions"] <= len(model.questions)).all()
    cases = report.cases
    assert set(cases["stop"]) <= {"decided", "no_gain", "budget", "exhausted"}
    assert len(cases) == 300
    text = report.summary()
    assert "criterion decision:" in text and "notice 'Your safety comes first': shown in 100.0%" in text


def test_a_budget_and_unsure_answers_are_honoured(model: dbn.Model) -> None:
    report = simulate_interviews(model, 60, seed=2, unsure_rate=0.5, stop=StopRule(max_questions=3))
    cases = report.cases
    # screens are asked whatever the budget; after them at most the budget's steps
    assert cases["questions"].max() <= 3 and set(cases["stop"]) <= {"budget", "decided", "no_gain", "exhausted"}
    again = simulate_interviews(model, 60, seed=2, unsure_rate=0.5, stop=StopRule(max_questions=3))
    assert np.array_equal(again.cases["questions"], cases["questions"])


def test_steps_and_items_are_both_counted_and_unsure_is_drawn_per_row(model: dbn.Model) -> None:
    from distancing_bn.interviews import _answer_for

    report = simulate_interviews(model, 80, seed=4, unsure_rate=0.3)
    cases = report.cases
    assert (cases["items"] >= cases["questions"]).all() and (cases["items"] > cases["questions"]).any()
    row = report.to_frame().iloc[0]
    assert row["median_items"] >= row["median_questions"] and row["p90_items"] >= row["p90_questions"]
    assert 0 < row["accuracy_all_asked"] <= 1  # every question asked, 30% of them unsure: the ceiling
    assert "30% of them unsure too" in report.summary()
    # a checklist's rows are each unsure on their own: some answers mix sure and unsure rows
    rng = np.random.default_rng(0)
    case = dict.fromkeys(model.groups["life_events"].items, 1)
    answers = [_answer_for(model, "life_events", case, set(), rng, 0.5) for _ in range(40)]
    mixed = [a for a in answers if "unsure" in a.values() and "yes" in a.values()]
    assert mixed and all(set(a) == set(case) for a in answers)
    assert _answer_for(model, "life_events", case, {"money"}, rng, 0.0) == {"long_hours": "yes", "bereaved": "yes"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unsure_rate": 1.0}, "unsure_rate"),
        ({"criteria": ("best",)}, "unknown criterion"),
        ({"n_cases": 0}, "n_cases"),
    ],
)
def test_bad_arguments_are_refused(model: dbn.Model, kwargs: dict, message: str) -> None:
    args = {"n_cases": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate_interviews(model, **args)


def test_the_simulate_command_reports_each_criterion() -> None:
    cmd = [sys.executable, "-m", "distancing_bn", "simulate", str(EXAMPLE), "--cases", "40", "--criteria"]
    res = subprocess.run([*cmd, "joint,marginal"], capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "criterion joint:" in res.stdout and "criterion marginal:" in res.stdout
    assert "steps (a checklist or grid counts once): median" in res.stdout
    assert "items asked (every row counts): median" in res.stdout
    bad = subprocess.run([*cmd, "best"], capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert bad.returncode == 2 and "expected a comma-separated list" in bad.stderr and "Traceback" not in bad.stderr
