"""Tests for :mod:`distancing_bn.plots`: every plot draws on Agg and returns its Axes.

The conftest selects the Agg backend before matplotlib is imported. Each test checks the number
of bars or lines drawn, and that the result objects' ``.plot()`` delegates reach the plots.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import distancing_bn as dbn  # noqa: E402
from distancing_bn import plots  # noqa: E402
from distancing_bn.errors import DataError  # noqa: E402
from distancing_bn.simulate import sample_cases  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ANSWERS = {"less_contact": "a_lot", "longer_hours": "yes", "onset": "sudden", "money_worries": "somewhat"}


@pytest.fixture(scope="module")
def model() -> dbn.Model:
    return dbn.load_model()


@pytest.fixture(scope="module")
def posterior(model: dbn.Model) -> dbn.Posterior:
    return model.posterior(ANSWERS)


@pytest.fixture(scope="module")
def scored(model: dbn.Model) -> pd.DataFrame:
    frame = pd.read_csv(REPO / "examples" / "answers.csv")
    return model.score(frame, id_columns=["case_id"], next_question=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bars(ax: Axes) -> int:
    return len(ax.patches)


def _labelled_lines(ax: Axes) -> list[str]:
    return [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]


# --------------------------------------------------------------------------- posterior
def test_plot_posterior_one_bar_per_cause(model, posterior):
    ax = plots.plot_posterior(posterior)
    assert isinstance(ax, Axes)
    assert _bars(ax) == len(model.causes)
    assert len(ax.get_yticklabels()) == len(model.causes)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["posterior", "prior"]


def test_plot_posterior_with_facets_adds_a_bar_per_facet(model, posterior):
    ax = plots.plot_posterior(posterior, facets=True, sort=False)
    assert _bars(ax) == len(model.causes) + len(model.facets)


def test_plot_posterior_draws_on_the_given_axes(posterior):
    fig, ax = plt.subplots()
    assert plots.plot_posterior(posterior, ax=ax) is ax
    assert len(fig.axes) == 1


def test_posterior_plot_method_delegates(model, posterior):
    ax = posterior.plot(facets=True)
    assert _bars(ax) == len(model.causes) + len(model.facets)


# --------------------------------------------------------------------------- ranking
def test_plot_ranking_draws_top_questions(model):
    ranking = model.rank_questions(ANSWERS)
    ax = plots.plot_ranking(ranking, top=7)
    assert _bars(ax) == 7
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert " ".join(labels[-1].split()).rstrip("…")[:20] == model.question_label(ranking.best)[:20]  # best at the top
    assert not set(labels) & set(model.questions)  # words, not ids
    ax = plots.plot_ranking(ranking, top=7, labels="id")
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == ranking.best


def test_plot_ranking_per_cost_draws_two_bars_per_question(model):
    ranking = model.rank_questions(ANSWERS)
    ax = ranking.plot(top=5, per_cost=True, labels="text")
    assert _bars(ax) == 10
    assert ax.get_legend() is not None


def test_plot_ranking_leaves_out_answered_questions(model):
    ranking = model.rank_questions(ANSWERS)
    ax = plots.plot_ranking(ranking, top=len(model.questions))
    assert _bars(ax) == len(model.questions) - len(ANSWERS)


# --------------------------------------------------------------------------- session
def _shown(text: str) -> str:
    """A tick label's words on one line, without the ellipsis of a cut."""
    return " ".join(text.split()).rstrip("…").strip()


def _ticks(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def test_plot_trajectory_one_line_per_cause(model):
    session = model.session()
    for q, a in ANSWERS.items():
        session.answer(q, a)
    ax = session.plot()
    assert len(_labelled_lines(ax)) == len(model.causes)
    ticks = _ticks(ax)
    assert _shown(ticks[0]) == "before any answer" and len(ticks) == len(ANSWERS) + 1
    for tick, q in zip(ticks[1:], ANSWERS, strict=True):  # the questions by their labels, not ids
        assert tick != q and model.question_label(q).startswith(_shown(tick)), (tick, q)
    assert all(len(ln.get_xdata()) == len(ANSWERS) + 1 for ln in ax.get_lines())
    assert [_shown(t) for t in _ticks(plots.plot_trajectory(session, labels="id"))][1:] == list(ANSWERS)


def test_plot_trajectory_of_a_fresh_session(model):
    ax = plots.plot_trajectory(model.session())
    assert len(_labelled_lines(ax)) == len(model.causes)


def _long_session(model, n: int):
    session = model.session()
    rng = np.random.default_rng(7)
    for q in list(model.questions)[:n]:
        answers = model.answers_of(q)
        session.answer(q, answers[int(rng.integers(len(answers)))])
    return session


def _assert_clean_layout(ax: Axes) -> None:
    """No two visible x tick labels touch; the x label touches neither them nor the legend."""
    fig = ax.get_figure()
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ticks = [t.get_window_extent(r) for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
    assert len(ticks) >= 2
    for a, b in itertools.pairwise(ticks):
        assert a.x1 <= b.x0, "tick labels overlap"
    xlabel = ax.xaxis.label.get_window_extent(r)
    legend = ax.get_legend().get_window_extent(r)
    assert not xlabel.overlaps(legend), "the x label overlaps the legend"
    assert not any(xlabel.overlaps(t) for t in ticks), "the x label overlaps a tick label"
    plot_area = ax.get_window_extent(r)
    assert legend.x0 >= plot_area.x1, "the legend covers the plot"
    title = ax.title.get_window_extent(r)
    ylabel = ax.yaxis.label.get_window_extent(r)
    assert not title.overlaps(ylabel) and not title.overlaps(legend), "the title overlaps a label"
    figure = fig.bbox
    for box in (legend, xlabel, title, *ticks):
        assert figure.x0 - 1 <= box.x0 and box.x1 <= figure.x1 + 1 and figure.y0 - 1 <= box.y0, "outside the figure"


@pytest.mark.parametrize("n", [3, 12, 28, 50])
def test_plot_trajectory_tick_labels_never_collide(model, n):
    session = _long_session(model, n)
    ax = plots.plot_trajectory(session)
    _assert_clean_layout(ax)
    shown = [_shown(t) for t in _ticks(ax)[1:] if t]
    assert shown and not set(shown) & set(model.questions)  # labels, not ids


def test_plot_trajectory_on_a_small_given_axes_thins_the_ticks(model):
    session = _long_session(model, 40)
    _, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    assert plots.plot_trajectory(session, ax=ax) is ax
    _assert_clean_layout(ax)
    ticks = _ticks(ax)
    assert ticks[-1] and 2 <= sum(bool(t) for t in ticks) < len(ticks)  # every k-th, and the last


# --------------------------------------------------------------------------- explanation
def test_plot_explanation_diverging_bars(model, posterior):
    explanation = posterior.explain("external_stressors")
    ax = explanation.plot()
    assert _bars(ax) == len(ANSWERS)
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx(sorted(explanation.bits))
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert all("\nyou said: " in t for t in names)
    said = {_shown(t.split("\nyou said: ")[1]) for t in names}
    assert said == {model.spec.question(q).display(a) for q, a in ANSWERS.items()}  # display text, not ids
    assert not any(q in t for t in names for q in ANSWERS)
    ids = [t.get_text() for t in plots.plot_explanation(explanation, labels="id").get_yticklabels()]
    assert all(" = " in t for t in ids)


def test_plot_explanation_uses_the_question_labels_when_given(posterior):
    import dataclasses

    explanation = posterior.explain("external_stressors")
    short = dataclasses.replace(explanation, question_labels=tuple(f"Label {i}" for i in range(len(ANSWERS))))
    names = [t.get_text().split("\n")[0] for t in plots.plot_explanation(short).get_yticklabels()]
    assert sorted(names) == sorted(short.question_labels)


def test_plot_explanation_top_limits_bars(posterior):
    ax = plots.plot_explanation(posterior.explain("external_stressors"), top=2, labels="text")
    assert _bars(ax) == 2


def test_plot_explanation_x_label_fits_the_figure(posterior):
    ax = posterior.explain("external_stressors").plot()
    fig = ax.get_figure()
    fig.canvas.draw()
    box = ax.xaxis.label.get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1


# --------------------------------------------------------------------------- network
def test_plot_network_draws_every_variable(model):
    ax = plots.plot_network(model)
    n_vars = len(model.network.variables)
    boxes = [t for t in ax.texts if t.get_bbox_patch() is not None]
    dots = sum(
        len(c.get_offsets())
        for c in ax.collections
        if hasattr(c, "get_offsets")
        and c.get_offsets().ndim == 2
        and c.get_offsets().shape[1] == 2
        and type(c).__name__ == "PathCollection"
    )
    assert len(boxes) + dots == n_vars
    assert ax.get_legend() is not None


def test_plot_network_without_labels_draws_dots(model):
    ax = plots.plot_network(model, max_labels=5)
    assert not [t for t in ax.texts if t.get_bbox_patch() is not None]


def test_plot_network_of_a_published_network(external_dir):
    net = dbn.load_network(external_dir / "networks" / "asia.bif", targets=["tub", "lung", "bronc"])
    _, ax = plt.subplots(layout="constrained")  # the default size
    assert plots.plot_network(net, ax=ax) is ax
    assert len([t for t in ax.texts if t.get_bbox_patch() is not None]) == 8


# --------------------------------------------------------------------------- batch
def test_plot_batch_one_box_per_cause(model, scored):
    ax = plots.plot_batch(scored, labels={c: model.label(c) for c in model.causes})
    assert len(ax.get_yticklabels()) == len(model.causes)
    by_model = [t.get_text() for t in plots.plot_batch(scored, labels=model).get_yticklabels()]
    assert by_model == [t.get_text() for t in ax.get_yticklabels()]
    assert not set(by_model) & set(model.causes)
    top = [t.get_text() for t in plots.plot_top_causes(scored, labels=model).get_yticklabels()]
    assert top and not set(top) & set(model.causes)
    ax = plots.plot_batch(scored, causes=["external_stressors", "unmet_needs"])
    assert len(ax.get_yticklabels()) == 2


def test_plot_batch_raises_on_unknown_cause(scored):
    with pytest.raises(DataError, match="valid causes: fear_of_intimacy"):
        plots.plot_batch(scored, causes=["not_a_cause"])


def test_plot_top_causes_counts_ok_rows(scored):
    ax = plots.plot_top_causes(scored)
    ok = scored[scored["status"] == "ok"]
    assert _bars(ax) == ok["top_cause"].nunique()
    assert sum(p.get_width() for p in ax.patches) == len(ok)


# --------------------------------------------------------------------------- simulation
@pytest.fixture(scope="module")
def simulation(model):
    return model.simulate(40, max_questions=3, seed=0)


def test_plot_policy_curves_one_line_per_policy(simulation):
    ax = plots.plot_policy_curves(simulation)
    assert _labelled_lines(ax) == ["eig", "random", "fixed"]


def test_simulation_plot_method_takes_a_metric(simulation):
    ax = simulation.plot(metric="brier")
    assert "Brier" in ax.get_ylabel()
    assert len(_labelled_lines(ax)) == 3


def test_plot_policy_curves_raises_on_unknown_metric(simulation):
    with pytest.raises(DataError, match="valid: 'top1_accuracy'"):
        plots.plot_policy_curves(simulation, metric="accuracy")


def test_plot_calibration_from_arrays(model):
    cases = sample_cases(model, 300, seed=3)
    out = model.marginals_from_codes({q: cases[q] for q in model.questions}, 300)
    present = {v.id: v.present for v in model.variables}
    p = np.column_stack([out[c][:, present[c]] for c in model.causes])
    y = np.column_stack([cases[c] == present[c] for c in model.causes])
    ax = plots.plot_calibration((p, y), bins=5)
    assert len(ax.collections[0].get_offsets()) <= 5
    ax = plots.plot_calibration({"p": p, "y": y})
    assert isinstance(ax, Axes)


def test_plot_calibration_raises_without_predictions(simulation):
    with pytest.raises(DataError, match="Pass \\(p, y\\)"):
        plots.plot_calibration(simulation)
    with pytest.raises(DataError, match="must match"):
        plots.plot_calibration((np.zeros(3), np.zeros(4)))


# --------------------------------------------------------------------------- import hygiene
def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, distancing_bn; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p),
        },
    )
    assert out.stdout.strip() == "False"
