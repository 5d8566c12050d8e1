"""Tests of :mod:`distancing_bn.simulate`: forward sampling, policy comparison, the CLI command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distancing_bn.formats import load_model
from distancing_bn.model import Model
from distancing_bn.simulate import SimulationResult, batch_gains, sample_cases, simulate

REPO = Path(__file__).resolve().parents[1]
POLICIES = {"eig", "random", "fixed"}
COLUMNS = ["policy", "questions", "top1_accuracy", "brier", "log_loss"]


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def result(model: Model) -> SimulationResult:
    return simulate(model, 40, max_questions=5, seed=0)


def _present(model: Model, name: str) -> int:
    return next(v.present for v in model.variables if v.id == name)


# ----------------------------------------------------------------------------- sampling
def test_sample_cases_shapes_and_ranges(model: Model) -> None:
    cases = sample_cases(model, 50, seed=1)
    assert set(cases) == set(model.network.variables)
    for v, codes in cases.items():
        assert codes.shape == (50,)
        assert codes.dtype == np.int64
        assert codes.min() >= 0 and codes.max() < model.network.card(v)
    again = sample_cases(model, 50, seed=1)
    assert all(np.array_equal(cases[v], again[v]) for v in cases)
    other = sample_cases(model, 50, seed=2)
    assert any(not np.array_equal(cases[v], other[v]) for v in cases)


def _with_premise(model: Model, cases: dict[str, np.ndarray]) -> np.ndarray:
    """The cases whose always-observed questions (the premise) have the model's answers."""
    keep = np.ones(len(next(iter(cases.values()))), dtype=bool)
    for q, a in model.observed.items():
        keep &= cases[q] == model.network.states[q].index(a)
    return keep


def test_sample_cases_match_priors(model: Model) -> None:
    """Among the cases that meet the premise, each cause's frequency is its prior (premise entered)."""
    assert model.observed == {"distance_noticed": "yes"}
    cases = sample_cases(model, 40_000, seed=7)
    keep = _with_premise(model, cases)
    n = int(keep.sum())
    assert n > 10_000
    prior = model.prior
    for c in (*model.causes, *model.facets[:5]):
        p = float(prior.probabilities[c])
        freq = float(np.mean(cases[c][keep] == _present(model, c)))
        sigma = np.sqrt(p * (1 - p) / n)
        assert abs(freq - p) <= 3 * sigma, (c, freq, p)


def test_sample_cases_match_answer_probabilities(model: Model) -> None:
    """A question's answer frequencies (premise met) match P(Q = a) from the ranking (the prior predictive)."""
    cases = sample_cases(model, 40_000, seed=9)
    keep = _with_premise(model, cases)
    n = int(keep.sum())
    r = model.rank_questions({}, groups=False)
    for q in r.to_frame()["question"].head(4):
        probs = r.answer_probabilities[r.questions.index(q)]
        for k, (a, p) in enumerate(probs.items()):
            freq = float(np.mean(cases[q][keep] == k))
            assert abs(freq - p) <= 3 * np.sqrt(p * (1 - p) / n) + 1e-12, (q, a, freq, p)


def test_sampled_cases_meet_the_premise(model: Model) -> None:
    cases = sample_cases(model, 2000, seed=5)
    assert _with_premise(model, cases).all()


def test_batch_gains_masks_answered_questions(model: Model) -> None:
    qs = list(model.questions)
    codes = {qs[0]: np.array([0, -1]), qs[1]: np.array([-1, 1])}
    g = batch_gains(model, codes, 2)
    assert g.shape == (2, len(qs))
    assert g[0, 0] == 0.0 and g[1, 1] == 0.0
    np.testing.assert_allclose(
        g[0, 1:],
        model.rank_questions({qs[0]: model.answers_of(qs[0])[0]}, costs=False, groups=False).gain_bits[1:],
        atol=1e-9,
    )


# ----------------------------------------------------------------------------- simulate
def test_simulate_table_layout(result: SimulationResult, model: Model) -> None:
    t = result.to_frame()
    assert list(t.columns) == COLUMNS
    assert set(t["policy"]) == POLICIES
    n_q = len(model.questions)
    for policy, grp in t.groupby("policy"):
        assert grp["questions"].tolist() == [0, 1, 2, 3, 4, 5, n_q], policy
    assert result.n_cases == 40 and result.seed == 0 and result.criterion == "joint"


def test_simulate_metrics_in_range(result: SimulationResult) -> None:
    t = result.table
    assert t["top1_accuracy"].between(0, 1).all()
    assert t["brier"].between(0, 1).all()
    assert (t["log_loss"] >= 0).all()
    assert np.isfinite(t[["top1_accuracy", "brier", "log_loss"]].to_numpy()).all()


def test_simulate_start_and_end_rows_agree_across_policies(result: SimulationResult, model: Model) -> None:
    t = result.table.set_index(["policy", "questions"])
    for k in (0, len(model.questions)):
        rows = t.xs(k, level="questions")
        assert (rows.nunique() == 1).all(), k


def test_simulate_start_and_end_rows_match_direct_computation(result: SimulationResult, model: Model) -> None:
    truth = sample_cases(model, 40, seed=0)  # simulate draws its cases with the same seed
    causes = list(model.causes)
    y = np.column_stack([truth[c] == _present(model, c) for c in causes]).astype(float)
    has_any = y.sum(axis=1) > 0
    prior = model.prior.probabilities[causes].to_numpy()
    t = result.table[result.table["policy"] == "eig"].set_index("questions")
    # no question asked: every case gets the prior
    assert t.loc[0, "brier"] == pytest.approx(float(((prior[None, :] - y) ** 2).mean()), abs=1e-12)
    assert t.loc[0, "top1_accuracy"] == pytest.approx(float(y[has_any, int(np.argmax(prior))].mean()))
    # every question asked: the posterior given each case's answers
    frame = pd.DataFrame({q: [model.answers_of(q)[i] for i in truth[q]] for q in model.questions})
    post = model.posterior_batch(frame)[[f"p_{c}" for c in causes]].to_numpy()
    full = t.loc[len(model.questions)]
    assert full["brier"] == pytest.approx(float(((post - y) ** 2).mean()), abs=1e-9)
    assert full["top1_accuracy"] == pytest.approx(float(y[np.arange(40), post.argmax(axis=1)][has_any].mean()))


def test_simulate_brier_decreases_with_questions_for_eig(result: SimulationResult, model: Model) -> None:
    eig = result.table[result.table["policy"] == "eig"].set_index("questions")["brier"]
    steps = eig.loc[0:5].to_numpy()
    assert np.diff(steps).mean() < 0
    assert steps[-1] < steps[0]
    assert eig.loc[len(model.questions)] < steps[-1]


def test_simulate_same_seed_same_table(model: Model) -> None:
    a = simulate(model, 12, max_questions=2, seed=3)
    b = simulate(model, 12, max_questions=2, seed=3)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)


def test_simulate_unknown_policy_raises(model: Model) -> None:
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        simulate(model, 5, max_questions=1, policies=("greedy",))


def test_summary_and_needed(result: SimulationResult) -> None:
    text = result.summary(every=1)
    assert text.startswith("Simulated 40 cases (seed 0, criterion joint).")
    for k in range(6):
        assert any(line.startswith(f"{k:3d}  ") for line in text.splitlines()), k
    need = result.needed()
    assert set(need) == POLICIES
    assert all(v is None or 0 <= v <= result.table["questions"].max() for v in need.values())
    assert "Questions needed to come within 1%" in text


# ----------------------------------------------------------------------------- CLI
def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.fixture(scope="module")
def cli_runs() -> list[tuple[int, str, str]]:
    """The same command twice, run side by side."""
    cmd = [
        sys.executable,
        "-m",
        "distancing_bn",
        "simulate",
        "--cases",
        "30",
        "--max-questions",
        "3",
        "--seed",
        "0",
        "--curves",
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_cli_env())
        for _ in range(2)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append((p.returncode, stdout, stderr))
    return out


def test_cli_simulate_prints_the_table(cli_runs: list[tuple[int, str, str]], model: Model) -> None:
    code, out, err = cli_runs[0]
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Simulated 30 cases (seed 0, criterion joint)."
    assert lines[1] == "Top-1 accuracy (Brier) by number of questions asked:"
    assert lines[2].split() == ["n", "eig", "fixed", "random"]
    assert any(line.startswith("  0  ") for line in lines)
    assert any(line.startswith(f"{len(model.questions):3d}  ") for line in lines)
    assert any(line.startswith("Questions needed to come within 1% of the all-questions accuracy:") for line in lines)


def test_cli_simulate_same_seed_same_output(cli_runs: list[tuple[int, str, str]]) -> None:
    assert cli_runs[0][0] == cli_runs[1][0] == 0
    assert cli_runs[0][1] == cli_runs[1][1]


def test_cli_simulate_matches_api(cli_runs: list[tuple[int, str, str]], model: Model) -> None:
    # the row for 0 questions does not depend on the policy runs: compare it with the API
    res = simulate(model, 30, max_questions=0, seed=0)
    row0 = next(line for line in res.summary().splitlines() if line.startswith("  0  "))
    assert row0 in cli_runs[0][1].splitlines()


def test_cli_simulate_shows_the_budget_row(cli_runs: list[tuple[int, str, str]]) -> None:
    assert any(line.startswith("  3  ") for line in cli_runs[0][1].splitlines())


# ----------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "0"], "argument --every: expected at least 1, got 0"),
        (["--cases", "-5"], "argument --cases: expected at least 1, got -5"),
        (["--cases", "0"], "argument --cases: expected at least 1, got 0"),
        (["--cases", "²"], "argument --cases: expected a whole number, got '²'"),
        (["--cases", "9" * 30], "argument --cases: expected at most 1,000,000 cases"),
        (["--seed", "-1"], "argument --seed: expected a whole number >= 0, got '-1'"),
        (["--max-questions", "-3"], "argument --max-questions: expected a whole number >= 0"),
    ],
)
def test_cli_simulate_refuses_bad_numbers(args: list[str], message: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "distancing_bn", "simulate", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_cli_env(),
        timeout=120,
        check=False,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and message in res.stderr


@pytest.mark.parametrize(
    "kwargs",
    [{"n_cases": 0}, {"n_cases": -5}, {"n_cases": 2.5}, {"seed": -1}, {"max_questions": -1}, {"n_cases": True}],
)
def test_simulate_refuses_bad_numbers(model: Model, kwargs: dict[str, object]) -> None:
    args = {"n_cases": 5, **kwargs}
    with pytest.raises(ValueError, match="must be a whole number >= "):
        simulate(model, args.pop("n_cases"), **args)  # type: ignore[arg-type]


def test_summary_refuses_every_zero(result: SimulationResult) -> None:
    with pytest.raises(ValueError, match="every must be a whole number >= 1"):
        result.summary(every=0)
