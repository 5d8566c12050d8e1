"""One-way sensitivity, next-question stability, the tornado plot and the sensitivity command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distancing_bn import load_model
from distancing_bn.cli import main
from distancing_bn.errors import DataError, ModelValidationError
from distancing_bn.model import Model
from distancing_bn.sensitivity import parameters, question_stability, sensitivity, with_value

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "models" / "examples" / "two_causes.yaml"


@pytest.fixture(scope="module")
def example() -> Model:
    return load_model(EXAMPLE)


def _answers(model: Model) -> dict[str, str]:
    q = model.questions
    return {q[0]: model.answers_of(q[0])[-1], q[1]: model.answers_of(q[1])[1]}


def _p(model: Model, answers: dict[str, str]) -> np.ndarray:
    post = model.posterior(answers).probabilities
    return np.array([post[c] for c in model.causes])


def test_parameters_cover_every_kind(example: Model) -> None:
    kinds = {p.kind for p in parameters(example.spec)}
    assert kinds == {"prior", "facet", "cause_link", "leak", "strength", "table"}
    for p in parameters(example.spec):
        assert p.low <= p.value <= p.high
        assert Model.from_spec(with_value(example.spec, p, p.high)).spec is not None


def test_derivatives_match_finite_differences_and_ranges_are_exact(example: Model) -> None:
    answers = _answers(example)
    res = sensitivity(example, answers, spread=0.05)
    frame = res.frame
    h = 1e-6
    checked = 0
    for p in parameters(example.spec):
        if p.high - p.low < 3 * h:
            continue
        lo_t, hi_t = max(p.low, p.value - h), min(p.high, p.value + h)
        fd = (
            _p(Model.from_spec(with_value(example.spec, p, hi_t)), answers)
            - _p(Model.from_spec(with_value(example.spec, p, lo_t)), answers)
        ) / (hi_t - lo_t)
        rows = frame[frame["parameter"] == p.id].set_index("cause").loc[list(example.causes)]
        assert rows["derivative"].to_numpy() == pytest.approx(fd, abs=1e-5)
        low, high = float(rows["low"].iloc[0]), float(rows["high"].iloc[0])
        assert low == pytest.approx(max(p.low, p.value - 0.05)) and high == pytest.approx(min(p.high, p.value + 0.05))
        assert rows["p_low"].to_numpy() == pytest.approx(
            _p(Model.from_spec(with_value(example.spec, p, low)), answers), abs=1e-10
        )
        assert rows["p_high"].to_numpy() == pytest.approx(
            _p(Model.from_spec(with_value(example.spec, p, high)), answers), abs=1e-10
        )
        checked += 1
    assert checked >= 15


def test_ranked_within_each_cause_and_prior_matters_without_answers(example: Model) -> None:
    res = sensitivity(example, {})
    for c in example.causes:
        top = res.top(c, 50)
        assert list(top["swing"]) == sorted(top["swing"], reverse=True)
        assert top["parameter"].iloc[0] == f"prior {c}" or top["kind"].iloc[0] in ("prior", "cause_link")
    # with no answers a question's numbers cannot move any cause
    assert res.frame.loc[res.frame["kind"].isin(["leak", "strength", "table"]), "swing"].max() == 0.0
    assert res.ranking()["max_swing"].is_monotonic_decreasing


def test_with_value_keeps_tables_valid_and_refuses_out_of_range(example: Model) -> None:
    cell = next(p for p in parameters(example.spec) if p.kind == "table")
    spec = with_value(example.spec, cell, 0.9)
    q = spec.question(cell.key[0])
    assert all(sum(r) == pytest.approx(1.0) for r in q.table.rows)
    strength = next(p for p in parameters(example.spec) if p.kind == "strength" and p.high < 1)
    with pytest.raises(ModelValidationError, match="outside its valid range"):
        with_value(example.spec, strength, strength.high + 0.01)


def test_question_stability(example: Model) -> None:
    answers = {example.questions[0]: example.answers_of(example.questions[0])[-1]}
    firm = question_stability(example, answers, concentration=1e7, samples=20, seed=1)
    assert firm.p_first == 1.0 and firm.p_top3 == 1.0
    assert firm.chosen == example.rank_questions(answers).to_frame().query("~answered")["question"].iloc[0]
    loose = question_stability(example, answers, concentration=2, samples=60, seed=1)
    assert sum(loose.firsts.values()) == 60
    assert 0 <= loose.p_first <= loose.p_top3 <= 1
    assert loose.p_first < 1.0  # two pseudo-observations per number: the choice does change
    again = question_stability(example, answers, concentration=2, samples=60, seed=1)
    assert again == loose
    with pytest.raises(DataError, match="concentration"):
        question_stability(example, answers, concentration=0)


def test_tornado_plot(example: Model, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    res = sensitivity(example, _answers(example))
    ax = res.plot(example.causes[0], n=6)
    assert len(ax.patches) == 6
    assert len(ax.get_yticklabels()) == 6
    ax.figure.savefig(tmp_path / "t.png")
    with pytest.raises(DataError, match="unknown cause"):
        res.plot("nope")


def test_cli(example: Model, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ans = tmp_path / "a.json"
    ans.write_text(json.dumps(_answers(example)))
    png = tmp_path / "t.png"
    rc = main(["sensitivity", str(EXAMPLE), "--answers", str(ans), "--samples", "10", "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0 and png.stat().st_size > 1000
    assert "d P/d value" in out and "next question" in out
    rc = main(["sensitivity", str(EXAMPLE), "--answers", str(ans), "--samples", "0", "--json", "--top", "3"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(data["causes"]) == set(example.causes)
    assert all(len(v) == 3 for v in data["causes"].values()) and "next_question" not in data
    bad = tmp_path / "b.json"
    bad.write_text('{"no_such_question": "yes"}')
    for argv in (
        ["sensitivity", str(EXAMPLE), "--answers", str(bad)],
        ["sensitivity", str(EXAMPLE), "--answers", str(tmp_path / "missing.json")],
        ["sensitivity", str(EXAMPLE), "--cause", "nope"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["sensitivity", str(EXAMPLE), "--spread", "2"])
    assert "(0, 1]" in capsys.readouterr().err


def test_every_sensitivity_option_has_help() -> None:
    import argparse

    from distancing_bn.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices["sensitivity"]
    for action in parser._actions:
        assert action.help, f"sensitivity {action.option_strings or action.dest} has no help"
