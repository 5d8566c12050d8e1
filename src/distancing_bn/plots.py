"""Plots of the result objects: posteriors, question rankings, sessions, explanations, networks.

Every function has the form ``plot_<thing>(obj, *, ax=None, **kwargs) -> Axes``: it draws on
``ax`` (or on a new figure with constrained layout when ``ax`` is None), never calls
``plt.show()`` and returns the Axes. The functions draw only; the numbers come from the result
objects (``to_frame()``, ``trajectory()``, ``table``). The one exception is
:func:`plot_calibration`, which bins predictions, and :func:`plot_network`, which lays the graph
out in layers.

matplotlib is imported inside the functions, so ``import distancing_bn`` does not load it.
Layer L7: imports :mod:`errors` at run time and the result types only for type checking.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .information import QuestionRanking
    from .model import Model
    from .results import Explanation, Posterior
    from .session import Session
    from .simulate import SimulationResult

__all__ = [
    "plot_batch",
    "plot_calibration",
    "plot_explanation",
    "plot_network",
    "plot_policy_curves",
    "plot_posterior",
    "plot_ranking",
    "plot_top_causes",
    "plot_tornado",
    "plot_trajectory",
]

# one colour per role, used by every plot
CAUSE_COLOR = "#c44e52"
FACET_COLOR = "#dd8452"
QUESTION_COLOR = "#4c72b0"
OTHER_COLOR = "#8c8c8c"
UP_COLOR = "#c44e52"
DOWN_COLOR = "#4c72b0"

_DEFAULT_SIZE = (6.4, 4.8)


# --------------------------------------------------------------------------- helpers
def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """Return ``ax``, or the Axes of a new constrained-layout figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize or _DEFAULT_SIZE, layout="constrained")
    return new


def _tall(n_rows: int, per_row: float = 0.28, base: float = 1.6) -> tuple[float, float]:
    """A figure size tall enough for ``n_rows`` horizontal bars (never below the default)."""
    return (_DEFAULT_SIZE[0], float(min(16.0, max(_DEFAULT_SIZE[1], base + per_row * n_rows))))


def _shorten(text: str, width: int = 28, lines: int = 2) -> str:
    """Wrap ``text`` to ``width`` characters per line, at most ``lines`` lines (ellipsis if cut)."""
    text = " ".join(str(text).split())
    if width < 2:
        return ""
    if "_" in text and " " not in text:  # ids wrap at underscores
        parts = textwrap.wrap(text.replace("_", "_ "), width + 1, break_long_words=True)
        parts = [p.replace("_ ", "_").rstrip() for p in parts]
    else:
        parts = textwrap.wrap(text, width, break_long_words=True) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        last = parts[-1]
        parts[-1] = last[: max(0, width - 1)].rstrip() + "…"
    return "\n".join(parts)


def _ax_size_points(ax: Axes) -> tuple[float, float]:
    """The Axes' width and height in points (before or after drawing)."""
    fig = ax.get_figure()
    bbox = ax.get_position()
    w_in, h_in = fig.get_size_inches()  # type: ignore[union-attr]
    return float(bbox.width * w_in * 72), float(bbox.height * h_in * 72)


def _label_of(obj: Any, name: str) -> str:
    model = getattr(obj, "model", None) or getattr(obj, "_model", None)
    if model is not None and hasattr(model, "label"):
        try:
            return str(model.label(name))
        except Exception:  # a missing label is no reason to fail a plot
            return name
    return name


def _question_name(model: Any, question: str) -> str:
    """A question's (or checklist's) short label, else its text, else its id."""
    label = getattr(model, "question_label", None)
    if callable(label):
        try:
            return str(label(question))
        except Exception:  # a missing label is no reason to fail a plot
            return question
    text = getattr(model, "question_text", None)
    return str(text(question)) if callable(text) else question


def _node_name(model: Any, name: str, role: str) -> str:
    """A node's name in the network plot: causes and facets by label, questions by their short
    label when the model gives one (never by their long text), everything else by id."""
    if role in ("cause", "facet"):
        return str(model.label(name))
    if role in ("question", "other") and getattr(model, "spec", None) is not None:  # "other": a premise
        q = next((x for x in model.spec.questions if x.id == name), None)
        label = getattr(q, "label", "") if q is not None else ""
        return str(label) if label else name
    return name


def _labels_for(labels: Any) -> Mapping[str, str] | None:
    """``labels`` as id -> label: a mapping as given, or a model's cause and facet labels."""
    if labels is None or isinstance(labels, Mapping):
        return labels
    if hasattr(labels, "label") and hasattr(labels, "causes"):
        return {v: str(labels.label(v)) for v in (*labels.causes, *getattr(labels, "facets", ()))}
    raise DataError(f"labels must be a mapping from id to label or a Model, got {type(labels).__name__}")


def _boxes_overlap(a: Any, b: Any, pad: float = 0.0) -> bool:
    """True when two display-space bounding boxes overlap by more than ``pad`` pixels."""
    return a.x0 < b.x1 - pad and b.x0 < a.x1 - pad and a.y0 < b.y1 - pad and b.y0 < a.y1 - pad


def _fit_title(ax: Axes) -> None:
    """Wrap the Axes' title onto more lines when it is wider than the Axes (a narrow plot)."""
    fig = ax.get_figure()
    fig.canvas.draw()  # type: ignore[union-attr]
    title, axes = ax.title.get_window_extent(), ax.get_window_extent()
    if title.width > axes.width > 0:
        text = ax.get_title()
        width = max(12, int(len(text) * axes.width / title.width) - 1)
        ax.set_title(textwrap.fill(text, width), fontsize=ax.title.get_fontsize())
        fig.canvas.draw()  # type: ignore[union-attr]  # the layout makes room for the new lines


def _fit_xticklabels(ax: Axes, names: Sequence[str], *, fontsize: float = 8.0) -> None:
    """Set x tick labels that do not collide: wrapped level text when there is room, else
    upright text on one line (a size smaller if that is what it takes); when even that is too
    tight, every k-th label and the last one.

    Decided on the drawn figure (its final layout), so it holds for any figure size.
    """
    import math

    fig = ax.get_figure()
    n = len(names)
    ax.set_xticks(np.arange(n))

    def draw() -> list[Any]:
        fig.canvas.draw()  # type: ignore[union-attr]
        return [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]

    def collide(boxes: list[Any]) -> bool:
        return any(_boxes_overlap(a, b, pad=-2.0) for a, b in itertools.pairwise(boxes))

    ax.set_xticklabels([""] * n)
    draw()  # the final layout: how wide the Axes really is
    spacing_px = ax.get_window_extent().width / max(n, 1)
    chars = int(spacing_px * 72.0 / fig.dpi / (0.6 * fontsize))  # type: ignore[union-attr]
    if chars >= 9:  # level, wrapped to the room between ticks (at most three lines)
        ax.set_xticklabels([_shorten(s, chars, 3) for s in names], fontsize=fontsize, rotation=0, ha="center")
        if not collide(draw()):
            return
    shown = [_shorten(s, 34, 1) for s in names]
    for fs in (fontsize, fontsize - 1.0):
        ax.set_xticklabels(shown, fontsize=fs, rotation=90, ha="center", va="top")
        boxes = draw()
        if not collide(boxes):
            return
    # every k-th label, k from the labels' own width; the last label stays, its neighbour goes
    need = max(2, math.ceil((max(b.width for b in boxes) + 3.0) / max(spacing_px, 1e-9)))  # ticks per label
    step = need
    while step < n:
        keep = [i % step == 0 for i in range(n)]
        keep[-1] = True
        if 0 < (n - 1) % step < need:
            keep[(n - 1) // step * step] = False  # too close to the last one
        ax.set_xticklabels([s if k else "" for s, k in zip(shown, keep, strict=True)], fontsize=fs, rotation=90)
        if not collide(draw()):
            return
        step += 1
    ax.set_xticklabels([s if i in (0, n - 1) else "" for i, s in enumerate(shown)], fontsize=fs, rotation=90)


# --------------------------------------------------------------------------- posterior
def plot_posterior(
    posterior: Posterior, *, ax: Axes | None = None, facets: bool = False, sort: bool = True, labels: str = "label"
) -> Axes:
    """Draw P(present | answers) of every cause as horizontal bars, with the prior marked.

    Parameters
    ----------
    posterior
        A :class:`~distancing_bn.Posterior`.
    ax
        The Axes to draw on (default: a new figure, taller when there are many bars).
    facets
        Also draw the facets (below the causes, in a second colour).
    sort
        Most probable first (within causes, and within facets); otherwise model order.
    labels
        ``'label'`` (the human labels, wrapped) or ``'id'``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    frame = posterior.to_frame()
    is_cause = frame["kind"].isin(["cause", "target"])
    if not facets:
        frame = frame[is_cause]
    frame = frame.assign(_cause=frame["kind"].isin(["cause", "target"]))
    if sort:
        frame = frame.sort_values(["_cause", "posterior"], ascending=[False, False], kind="stable")
    else:
        frame = frame.sort_values("_cause", ascending=False, kind="stable")
    frame = frame.iloc[::-1]  # barh draws bottom-up: first row at the top
    n = len(frame)
    ax = _new_axes(ax, _tall(n) if n > 12 else None)
    y = np.arange(n)
    colors = np.where(frame["_cause"], CAUSE_COLOR, FACET_COLOR)
    ax.barh(y, frame["posterior"], height=0.7, color=colors, zorder=2)
    ax.vlines(frame["prior"], y - 0.42, y + 0.42, color="black", linewidth=2, zorder=3)
    fs = 8 if n <= 15 else 7
    for yi, p, pr in zip(y, frame["posterior"], frame["prior"], strict=True):
        ax.text(max(p, pr) + 0.015, yi, f"{p:.0%}", va="center", fontsize=fs, zorder=4)
    names = frame["label"] if labels == "label" else frame["id"]
    ax.set_yticks(y, [_shorten(s, 30, 2) for s in names], fontsize=fs + 1 if n <= 15 else fs)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("P(present | answers)")
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kinds = sorted(set(frame["kind"]), key=["cause", "target", "facet", "latent"].index)
    handles = [
        Patch(
            color=CAUSE_COLOR if k in ("cause", "target") else FACET_COLOR,
            label=f"posterior ({k})" if len(kinds) > 1 else "posterior",
        )
        for k in kinds
    ]
    handles.append(Line2D([], [], color="black", linewidth=2, label="prior"))
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    n_ans = len(posterior.answers)
    noun = "target" if "target" in kinds else "cause"
    ax.set_title(
        f"How likely each {noun if not facets else noun + ' and facet'} is after "
        f"{n_ans} answer{'s' if n_ans != 1 else ''}",
        fontsize=11,
    )
    return ax


# --------------------------------------------------------------------------- ranking
def plot_ranking(
    ranking: QuestionRanking, *, ax: Axes | None = None, top: int = 10, per_cost: bool = False, labels: str = "label"
) -> Axes:
    """Draw the expected information gain (bits) of the ``top`` unanswered questions.

    Parameters
    ----------
    ranking
        A :class:`~distancing_bn.QuestionRanking` (its own order is kept: best at the top).
    top
        How many questions to draw.
    per_cost
        Also draw the gain per unit of cost, as a second bar per question.
    labels
        ``'label'`` (the questions' short labels, or their texts where the ranking has none),
        ``'text'`` (the question texts, shortened) or ``'id'`` (question ids).

    Returns
    -------
    matplotlib.axes.Axes
    """
    frame = ranking.to_frame()
    frame = frame[~frame["answered"].astype(bool)].head(top).iloc[::-1]
    n = len(frame)
    wordy = labels != "id"
    ax = _new_axes(ax, _tall(n, 0.5 if wordy else 0.28) if n > 12 or wordy else None)
    y = np.arange(n)
    if labels == "label":
        own = getattr(ranking, "labels", None)
        by_id = dict(zip(ranking.questions, own, strict=False)) if own else {}
        names = [by_id.get(q, t) for q, t in zip(frame["question"], frame["text"], strict=True)]
    else:
        names = list(frame["text"] if labels == "text" else frame["question"])
    width, n_lines = (34, 3) if wordy else (28, 2)
    if per_cost:
        h = 0.38
        ax.barh(
            y + h / 2,
            frame["expected_gain_bits"],
            height=h,
            color=QUESTION_COLOR,
            label="expected gain (bits)",
            zorder=2,
        )
        ax.barh(y - h / 2, frame["gain_per_cost"], height=h, color=FACET_COLOR, label="gain per unit of cost", zorder=2)
        ax.legend(loc="lower right", fontsize=8)
        xmax = float(np.nanmax(np.r_[frame["expected_gain_bits"], frame["gain_per_cost"], 1e-9]))
        ax.set_xlabel(f"bits, or bits per unit of cost (uncertainty now {ranking.entropy_bits:.2f} bits)")
    else:
        gains = frame["expected_gain_bits"].to_numpy(dtype=float)
        ax.barh(y, gains, height=0.7, color=QUESTION_COLOR, zorder=2)
        for yi, g in zip(y, gains, strict=True):
            ax.text(g, yi, f" {g:.3f}", va="center", fontsize=8)
        xmax = float(np.nanmax(np.r_[gains, 1e-9]))
        ax.set_xlabel(f"expected information gain, bits (uncertainty now {ranking.entropy_bits:.2f} bits)")
    ax.set_xlim(0, xmax * 1.18)
    ax.set_yticks(y, [_shorten(s, width, n_lines) for s in names], fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"Most informative next questions ({ranking.criterion})", fontsize=11)
    return ax


# --------------------------------------------------------------------------- session
def plot_trajectory(session: Session, *, ax: Axes | None = None, labels: str = "label") -> Axes:
    """Draw each cause's P(present) after each step of a session (one line per cause).

    The x ticks are the questions in the order asked, by their labels (``labels='id'``: ids);
    step 0 is before any answer. Tick labels never collide: they are wrapped when there is room,
    turned upright when not, and thinned out when even that is too tight. The legend sits to the
    right of the plot, clear of the x label.

    Returns
    -------
    matplotlib.axes.Axes
    """
    traj = session.trajectory()
    model = getattr(session, "model", None)
    n_steps = len(traj)
    if ax is None:  # wide enough for the steps, plus the legend on the right
        width = float(min(16.0, max(4.2, 0.2 * n_steps) + 3.4))
        ax = _new_axes(None, (width, _DEFAULT_SIZE[1] + 0.6))
    x = np.arange(n_steps)
    n = traj.shape[1]
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    styles = ["-", "--", ":", "-."]
    for j, cause in enumerate(traj.columns):
        name = _label_of(session, cause) if labels == "label" else cause
        ax.plot(
            x,
            traj[cause].to_numpy(dtype=float),
            marker="o",
            markersize=3,
            linewidth=1.6,
            color=cmap(j % cmap.N),
            linestyle=styles[(j // cmap.N) % len(styles)],
            label=_shorten(name, 28, 2),
        )
    steps = [str(s) for s in traj.index]
    names = [
        "before any answer" if i == 0 else (_question_name(model, s) if labels == "label" else s)
        for i, s in enumerate(steps)
    ]
    ax.set_xlim(-0.5, max(n_steps - 0.5, 0.5))
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(present | answers so far)")
    ax.set_xlabel("question answered, in the order asked")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False, title="cause")
    ax.set_title("How each cause moved, answer by answer", fontsize=11)
    _fit_xticklabels(ax, names)
    _fit_title(ax)
    return ax


# --------------------------------------------------------------------------- explanation
def plot_explanation(explanation: Explanation, *, ax: Axes | None = None, top: int = 10, labels: str = "label") -> Axes:
    """Draw how much each answer moved one cause: diverging bars of bits of log-odds.

    Positive bits (right) made the cause more likely, negative (left) less likely; one bit
    doubles (or halves) the odds. Each bar is named by the question's label (or its text when
    the model gives no label) and the answer as a person saw it; ``labels='text'`` uses the
    question texts, ``labels='id'`` the ids.

    Returns
    -------
    matplotlib.axes.Axes
    """
    frame = explanation.to_frame().head(top)
    shown_by_id = dict(zip(explanation.questions, explanation.labels, strict=True))
    frame = frame.assign(_label=[shown_by_id.get(q, q) for q in frame["question"]]).iloc[::-1]
    n = len(frame)
    ax = _new_axes(ax, _tall(n, 0.5) if n > 8 or labels != "id" else None)
    y = np.arange(n)
    bits = frame["bits"].to_numpy(dtype=float)
    finite = np.where(np.isfinite(bits), bits, 0.0)
    lim = float(np.max(np.abs(finite))) if n else 1.0
    lim = max(lim, 0.25) * 1.3
    drawn = np.clip(np.where(np.isfinite(bits), bits, np.sign(bits) * lim), -lim, lim)
    ax.barh(y, drawn, height=0.7, color=np.where(bits >= 0, UP_COLOR, DOWN_COLOR), zorder=2)
    ax.axvline(0, color="black", linewidth=0.8, zorder=3)
    if labels == "id":
        names = [_shorten(f"{q} = {a}", 38, 2) for q, a in zip(frame["question"], frame["answer"], strict=True)]
    else:
        column = frame["text"] if labels == "text" else frame["_label"]
        names = [
            f"{_shorten(q, 36, 2)}\nyou said: {_shorten(a, 26, 1)}"
            for q, a in zip(column, frame["answer"], strict=True)
        ]
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(-lim, lim)
    for yi, b, d in zip(y, bits, drawn, strict=True):
        text = ("made it certain" if b > 0 else "ruled it out") if np.isinf(b) else f"{b:+.2f}"
        ax.text(d, yi, f" {text} ", va="center", ha="left" if b >= 0 else "right", fontsize=7.5, zorder=4)
    ax.set_ylim(-0.6, max(n, 1) - 0.4)
    if n == 0:
        ax.text(0, 0, "no answers given", ha="center", va="center")
    ax.set_xlabel(
        "bits of log-odds (+1 doubles the odds, −1 halves them)\nright: made it more likely; left: less likely"
    )
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_shorten(f"Why '{explanation.label}' is at {explanation.probability:.0%}", 60, 1), fontsize=11)
    return ax


# --------------------------------------------------------------------------- network
def _layers_by_depth(variables: Sequence[str], parents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for v in variables:  # topological order: parents first
        depth[v] = 1 + max((depth[p] for p in parents[v]), default=-1)
    return depth


def _order_layers(layers: list[list[str]], parents: Mapping[str, Sequence[str]], sweeps: int = 4) -> list[list[str]]:
    """Reduce edge crossings: sort each layer by the mean position of its neighbours (barycentres)."""
    children: dict[str, list[str]] = {v: [] for layer in layers for v in layer}
    for layer in layers:
        for v in layer:
            for p in parents[v]:
                if p in children:
                    children[p].append(v)

    def positions() -> dict[str, float]:
        return {v: (i + 0.5) / len(layer) for layer in layers for i, v in enumerate(layer)}

    for _ in range(sweeps):
        for neighbours, seq in ((parents, range(1, len(layers))), (children, range(len(layers) - 2, -1, -1))):
            for li in seq:
                pos = positions()
                keyed = []
                for i, v in enumerate(layers[li]):
                    near = [pos[u] for u in neighbours[v] if u in pos and u not in layers[li]]
                    keyed.append((float(np.mean(near)) if near else (i + 0.5) / len(layers[li]), i, v))
                layers[li] = [v for _, _, v in sorted(keyed)]
    return layers


def plot_network(
    model: Model,
    *,
    ax: Axes | None = None,
    max_labels: int = 150,
    layout: str = "auto",
    labels: str = "auto",
    fontsize: float | None = None,
) -> Axes:
    """Draw the network in layers from left to right, edges pointing rightwards.

    Parameters
    ----------
    model
        A :class:`~distancing_bn.Model`.
    ax
        The Axes to draw on; by default a new figure sized to the network (taller for long
        layers), since a 100-node network cannot be read at 6.4 × 4.8 inches.
    max_labels
        Above this many nodes no labels are drawn (only coloured dots).
    layout
        ``'roles'`` (causes, facets, questions: three columns; links between causes drawn as
        arcs), ``'depth'`` (column = longest path from a root) or ``'auto'`` (roles for models
        with facets or a model file, depth otherwise).
    labels
        ``'auto'`` (human labels for causes and facets, ids for questions), ``'id'`` or ``'none'``.
        Labels are wrapped/abbreviated to the room available and left out of a column when even
        the smallest font would not fit.
    fontsize
        Fix the label font size instead of fitting it.

    Returns
    -------
    matplotlib.axes.Axes
    """
    net = model.network
    variables = list(net.variables)
    parents = {v: tuple(net.parents[v]) for v in variables}
    targets, reported, observables = set(net.targets), set(net.reported), set(net.observables)
    use_roles = layout == "roles" or (layout == "auto" and (bool(reported) or model.spec is not None))
    if use_roles:
        role_layer = {v: 0 if v in targets else 1 if v in reported else 2 if v in observables else 1 for v in variables}
        layers = [[v for v in variables if role_layer[v] == k] for k in range(3)]
        layers = [layer for layer in layers if layer]
    else:
        depth = _layers_by_depth(variables, parents)
        layers = [[v for v in variables if depth[v] == k] for k in range(max(depth.values()) + 1)]
    layers = _order_layers(layers, parents)
    n_layers = len(layers)
    tallest = max(len(layer) for layer in layers)

    if ax is None:
        width = float(min(13.0, max(_DEFAULT_SIZE[0], 2.7 * n_layers + 0.6)))
        height = float(min(16.0, max(_DEFAULT_SIZE[1], 1.2 + tallest * (0.3 if tallest <= 25 else 0.19))))
        ax = _new_axes(None, (width, height))
    fig = ax.get_figure()
    if fig is not None and fig.get_layout_engine() is not None:  # type: ignore[union-attr]
        fig.canvas.draw()  # type: ignore[union-attr]  # let the layout engine place the Axes, to measure them
    w_pt, h_pt = _ax_size_points(ax)

    pos: dict[str, tuple[float, float]] = {}
    layer_of: dict[str, int] = {}
    for li, layer in enumerate(layers):
        for i, v in enumerate(layer):
            pos[v] = (float(li), 1.0 - (i + 0.5) / len(layer))
            layer_of[v] = li

    def role(v: str) -> str:
        return "cause" if v in targets else "facet" if v in reported else "question" if v in observables else "other"

    colors = {"cause": CAUSE_COLOR, "facet": FACET_COLOR, "question": QUESTION_COLOR, "other": OTHER_COLOR}
    names = {
        "cause": "cause" if model.spec is not None else "target",
        "facet": "facet",
        "question": "question" if model.spec is not None else "observable",
        "other": "other",
    }

    segs, arcs = [], []
    for v in variables:
        for p in parents[v]:
            (segs if layer_of[p] != layer_of[v] else arcs).append((p, v))
    n_edges = len(segs) + len(arcs)

    # labels: fit the font to each column's height, abbreviate to the column width
    x_left = 0.5 + (0.45 if arcs else 0.0)  # room for the arcs left of the first column
    x_right = 0.5
    col_pt = w_pt / max(n_layers - 1 + x_left + x_right, 1.0)
    show_labels = labels != "none" and len(variables) <= max_labels
    text_of: dict[str, tuple[str, float]] = {}  # node -> (shown label, font size)
    half_w: dict[str, float] = dict.fromkeys(variables, 0.0)  # half the box width, in x data units
    dot_size: dict[str, float] = {}
    plan = []  # per column: (raw labels, lines per label, font size or None for dots, slot height)
    for layer in layers:
        slot_pt = h_pt / max(len(layer), 1)
        raw = [_node_name(model, v, role(v)) if labels == "auto" else v for v in layer]
        lines = 2 if any(" " in t for t in raw) and slot_pt > 18 else 1
        longest = max(len(t) for t in raw) / lines + (3 if lines > 1 else 0)
        fs_height = slot_pt / (1.45 * lines + 0.5)
        fs_width = max(6.0, col_pt * 0.85 / (0.58 * longest))  # shrink to fit the words, not below 6 pt
        fs = fontsize if fontsize is not None else float(min(8.5, fs_height, fs_width))
        plan.append((raw, lines, fs if show_labels and fs >= 4.0 else None, slot_pt))
    if not use_roles and fontsize is None:  # plain networks: one font size for every labelled column
        sizes = [fs for _, _, fs, _ in plan if fs is not None]
        plan = [(raw, lines, fs if fs is None else min(sizes), slot) for raw, lines, fs, slot in plan]
    for layer, (raw, lines, fs, slot_pt) in zip(layers, plan, strict=True):
        if fs is None:
            for v in layer:
                dot_size[v] = max(6.0, min(40.0, slot_pt**2 * 0.3))
            continue
        chars = max(4, int(col_pt * 0.85 / (0.58 * fs)))
        for v, t in zip(layer, raw, strict=True):
            shown = _shorten(t, chars, lines)
            text_of[v] = (shown, fs)
            widest = max(len(part) for part in shown.split("\n"))
            half_w[v] = (0.54 * fs * widest / 2 + 0.25 * fs) / col_pt

    # edges: straight lines between columns (hidden under the label boxes at their ends);
    # links within a column as arrows that leave and enter the boxes on the left, bulging left
    from matplotlib.collections import LineCollection
    from matplotlib.patches import FancyArrowPatch

    alpha = 0.55 if n_edges < 60 else 0.35 if n_edges < 200 else 0.22
    ax.add_collection(
        LineCollection([(pos[p], pos[v]) for p, v in segs], colors="#555555", linewidths=0.7, alpha=alpha, zorder=1)
    )
    for p, v in arcs:
        a = (pos[p][0] - half_w[p], pos[p][1])
        b = (pos[v][0] - half_w[v], pos[v][1])
        dist_pt = max(abs(b[1] - a[1]) * h_pt, 1.0)
        rad = -float(np.sign(b[1] - a[1]) or 1.0) * min(0.9, 110.0 / dist_pt)
        ax.add_patch(
            FancyArrowPatch(
                a,
                b,
                connectionstyle=f"arc3,rad={rad:.3f}",
                arrowstyle="-|>",
                mutation_scale=8,
                color="#444444",
                alpha=min(1.0, alpha + 0.35),
                linewidth=0.8,
                zorder=1,
                shrinkA=1,
                shrinkB=1,
            )
        )

    roles_present: list[str] = []
    for v in variables:
        if role(v) not in roles_present:
            roles_present.append(role(v))
        if v in text_of:
            shown, fs = text_of[v]
            ax.text(
                *pos[v],
                shown,
                ha="center",
                va="center",
                fontsize=fs,
                zorder=3,
                linespacing=1.0,
                bbox={"boxstyle": "round,pad=0.22", "fc": "white", "ec": colors[role(v)], "lw": 0.9},
            )
        else:
            ax.scatter(*pos[v], s=dot_size[v], c=colors[role(v)], zorder=2, edgecolors="white", linewidths=0.4)
    from matplotlib.lines import Line2D

    order = ["cause", "facet", "question", "other"]
    counts = {r: sum(role(v) == r for v in variables) for r in order}
    boxed = {role(v) for v in text_of}
    handles = [
        Line2D(
            [],
            [],
            marker="s",
            linestyle="",
            markersize=7,
            markerfacecolor="white",
            markeredgecolor=colors[r],
            markeredgewidth=1.5,
            label=f"{names[r]} ({counts[r]})",
        )
        if r in boxed
        else Line2D([], [], marker="o", linestyle="", markersize=5, color=colors[r], label=f"{names[r]} ({counts[r]})")
        for r in order
        if r in roles_present
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), fontsize=8, frameon=False
    )
    ax.set_xlim(-x_left, n_layers - 1 + x_right)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    how = "by role" if use_roles else "by depth from the roots"
    ax.set_title(
        f"{model.title.rstrip(':')} — {len(variables)} variables, {n_edges} links\n(columns {how}; edges point right)",
        fontsize=10,
    )
    return ax


# --------------------------------------------------------------------------- batch
def _ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    if "status" in frame.columns:
        return frame[frame["status"].astype(str) == "ok"]
    return frame


def plot_batch(
    scored_frame: pd.DataFrame,
    *,
    ax: Axes | None = None,
    causes: Sequence[str] | None = None,
    labels: Mapping[str, str] | Model | None = None,
) -> Axes:
    """Draw the spread of each cause's probability over the scored rows (one box per cause).

    Parameters
    ----------
    scored_frame
        The output of :meth:`Model.score` (columns ``p_<cause>`` and ``status``); rows whose
        status is not ``ok`` are left out.
    causes
        Which causes to draw (default: every ``p_`` column, in order).
    labels
        id -> label, or the model itself (its cause labels); ids when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    labels = _labels_for(labels)
    ok = _ok_rows(scored_frame)
    cols = (
        [f"p_{c}" for c in causes]
        if causes is not None
        else [c for c in scored_frame.columns if str(c).startswith("p_")]
    )
    missing = [c for c in cols if c not in scored_frame.columns]
    if missing:
        valid = ", ".join(str(c)[2:] for c in scored_frame.columns if str(c).startswith("p_"))
        raise DataError(f"no column(s) {missing} in the scored frame; valid causes: {valid}")
    n = len(cols)
    ax = _new_axes(ax, _tall(n) if n > 12 else None)
    data = [ok[c].to_numpy(dtype=float) for c in cols][::-1]
    y = np.arange(1, n + 1)
    import matplotlib as mpl

    horizontal = (
        {"orientation": "horizontal"}
        if tuple(int(x) for x in mpl.__version__.split(".")[:2]) >= (3, 10)
        else {"vert": False}
    )
    ax.boxplot(
        data,
        positions=y,
        widths=0.6,
        patch_artist=True,
        **horizontal,
        boxprops={"facecolor": "#f2d0d1", "edgecolor": CAUSE_COLOR},
        medianprops={"color": CAUSE_COLOR, "linewidth": 1.6},
        flierprops={"marker": ".", "markersize": 2, "alpha": 0.3, "markeredgecolor": "#555555"},
    )
    means = [float(np.mean(d)) if len(d) else np.nan for d in data]
    ax.scatter(means, y, marker="D", s=14, color="black", zorder=3, label="mean")
    ids = [str(c)[2:] for c in cols][::-1]
    names = [labels.get(i, i) if labels else i for i in ids]
    ax.set_yticks(y, [_shorten(s, 30, 2) for s in names], fontsize=8 if n <= 15 else 7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(present | the row's answers)")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(facecolor="#f2d0d1", edgecolor=CAUSE_COLOR, label="middle half of the rows"),
            Line2D([], [], color=CAUSE_COLOR, linewidth=1.6, label="median"),
            Line2D([], [], marker="D", linestyle="", color="black", markersize=4, label="mean"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=3,
        fontsize=7.5,
        frameon=False,
    )
    ax.set_title(f"Each cause's probability across {len(ok):,} scored rows", fontsize=11)
    return ax


def plot_top_causes(
    scored_frame: pd.DataFrame, *, ax: Axes | None = None, labels: Mapping[str, str] | Model | None = None
) -> Axes:
    """Draw how many rows (status ``ok``) have each cause as their most probable one.

    ``labels``: id -> label, or the model itself (its cause labels); ids when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    labels = _labels_for(labels)
    ok = _ok_rows(scored_frame)
    counts = ok["top_cause"].value_counts(sort=True).iloc[::-1]
    n = len(counts)
    ax = _new_axes(ax, _tall(n) if n > 12 else None)
    y = np.arange(n)
    ax.barh(y, counts.to_numpy(), height=0.7, color=CAUSE_COLOR, zorder=2)
    total = max(int(counts.sum()), 1)
    for yi, c in zip(y, counts.to_numpy(), strict=True):
        ax.text(c, yi, f" {c:,} ({c / total:.0%})", va="center", fontsize=8)
    names = [labels.get(str(i), str(i)) if labels else str(i) for i in counts.index]
    ax.set_yticks(y, [_shorten(s, 30, 2) for s in names], fontsize=8)
    ax.set_ylim(-0.6, max(n, 1) - 0.4)
    ax.set_xlim(0, (float(counts.max()) if n else 1.0) * 1.3)
    ax.set_xlabel("rows")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"Most likely cause per row ({len(ok):,} of {len(scored_frame):,} rows scored)", fontsize=11)
    return ax


# --------------------------------------------------------------------------- calibration
def _pairs(obj: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(obj, tuple | list) and len(obj) == 2:
        p, y = obj
    elif isinstance(obj, Mapping) and "p" in obj and "y" in obj:
        p, y = obj["p"], obj["y"]
    elif hasattr(obj, "p") and hasattr(obj, "y"):
        p, y = obj.p, obj.y
    elif hasattr(obj, "predicted") and hasattr(obj, "observed"):
        p, y = obj.predicted, obj.observed
    else:
        raise DataError(
            f"plot_calibration needs predictions and outcomes; got {type(obj).__name__}. "
            "Pass (p, y): probabilities and 0/1 outcomes of the same shape, for example p from "
            "model.marginals_from_codes(...) and y from simulate.sample_cases(...)"
        )
    p = np.asarray(p, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if p.shape != y.shape:
        raise DataError(f"plot_calibration: p has {p.size} values but y has {y.size}; they must match")
    return p, y


def plot_calibration(result_or_arrays: Any, *, ax: Axes | None = None, bins: int = 10) -> Axes:
    """Draw a reliability diagram: mean predicted probability against observed frequency per bin.

    Parameters
    ----------
    result_or_arrays
        ``(p, y)`` (probabilities and 0/1 outcomes, any matching shapes, flattened), a mapping
        with keys ``'p'`` and ``'y'``, or an object with attributes ``p``/``y`` or
        ``predicted``/``observed``.
    bins
        Equal-width bins over [0, 1]; empty bins are not drawn. Marker area grows with the
        number of predictions in the bin.

    Raises
    ------
    DataError
        Neither arrays nor an object carrying them, or shapes that differ.

    Returns
    -------
    matplotlib.axes.Axes
    """
    p, y = _pairs(result_or_arrays)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    has = count > 0
    mean_p = np.bincount(idx, weights=p, minlength=bins)[has] / count[has]
    mean_y = np.bincount(idx, weights=y, minlength=bins)[has] / count[has]
    ax = _new_axes(ax, (5.6, 5.2))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#777777", linewidth=1, label="perfect calibration")
    size = 12 + 140 * np.sqrt(count[has] / max(int(count.max()), 1))
    ax.plot(mean_p, mean_y, color=QUESTION_COLOR, linewidth=1.4, zorder=2)
    ax.scatter(
        mean_p,
        mean_y,
        s=size,
        color=QUESTION_COLOR,
        edgecolors="white",
        zorder=3,
        label="model (bigger dot = more predictions)",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Calibration over {p.size:,} predictions ({bins} bins)", fontsize=11)
    return ax


# --------------------------------------------------------------------------- simulation
_METRIC_NAMES = {
    "top1_accuracy": "top-1 accuracy (higher is better)",
    "brier": "Brier score (lower is better)",
    "log_loss": "log-loss, nats (lower is better)",
}


def plot_policy_curves(
    result: SimulationResult | pd.DataFrame, *, ax: Axes | None = None, metric: str = "top1_accuracy"
) -> Axes:
    """Draw ``metric`` against the number of questions asked, one line per question policy.

    When the simulation stopped early (``max_questions``), its final all-questions row is drawn
    as a dotted reference line per policy instead of a jump along the x axis.

    Raises
    ------
    DataError
        ``metric`` is not a column of the result's table (valid ones listed).

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = result.table if hasattr(result, "table") else result
    valid = [c for c in table.columns if c not in ("policy", "questions")]
    if metric not in valid:
        raise DataError(f"unknown metric '{metric}'; valid: {', '.join(map(repr, valid))}")
    ax = _new_axes(ax)
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10"]
    all_q, all_v = None, []
    for j, (policy, grp) in enumerate(table.groupby("policy", sort=False)):
        q = grp["questions"].to_numpy()
        v = grp[metric].to_numpy(dtype=float)
        if len(q) > 2 and q[-1] - q[-2] > 1:  # the all-questions point of a truncated run
            all_q = int(q[-1])
            all_v.append(float(v[-1]))
            q, v = q[:-1], v[:-1]
        ax.plot(q, v, marker="o", markersize=2.5, linewidth=1.6, color=cmap(j % 10), label=str(policy))
    if all_q is not None:
        from matplotlib.lines import Line2D

        levels = sorted(set(np.round(all_v, 12)))  # every policy ends at the same value
        for level in levels:
            ax.axhline(level, color="#555555", linestyle=":", linewidth=1.2)
        lo, hi = ax.get_ylim()
        pad = 0.04 * (max(hi, *levels) - min(lo, *levels))
        ax.set_ylim(min(lo, min(levels) - pad), max(hi, max(levels) + pad))  # keep the reference in view
        handles, _ = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="#555555", linestyle=":", label=f"all {all_q} questions asked"))
        ax.legend(handles=handles, title="policy", fontsize=8, title_fontsize=8)
    else:
        ax.legend(title="policy", fontsize=8, title_fontsize=8)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("questions asked")
    ax.set_ylabel(_METRIC_NAMES.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    n_cases = getattr(result, "n_cases", None)
    where = f" on {n_cases:,} simulated cases" if n_cases else ""
    ax.set_title(f"Question policies compared{where}", fontsize=11)
    return ax


# --------------------------------------------------------------------------- sensitivity
def plot_tornado(result: Any, cause: str, *, n: int = 12, ax: Axes | None = None) -> Axes:
    """Draw a tornado plot: how far each of the ``n`` most influential numbers moves one cause.

    ``result`` is a :class:`distancing_bn.sensitivity.SensitivityResult`. Each bar spans the
    cause's posterior with the parameter at the low and at the high end of its interval
    (red: the posterior rises with the parameter; blue: it falls); the vertical line is the
    posterior at the model's values.

    Raises
    ------
    DataError
        An unknown cause.

    Returns
    -------
    matplotlib.axes.Axes
    """
    top = result.top(cause, n)
    top = top.iloc[::-1].reset_index(drop=True)
    ax = _new_axes(ax, (10.0, _tall(len(top), 0.42, 1.8)[1]))
    base = float(top["posterior"].iloc[0]) if len(top) else 0.0
    for i, row in top.iterrows():
        left, right = sorted((float(row["p_low"]), float(row["p_high"])))
        rising = float(row["p_high"]) >= float(row["p_low"])
        ax.barh(i, right - left, left=left, color=UP_COLOR if rising else DOWN_COLOR, alpha=0.85, height=0.6)
    labels = [
        _shorten(f"{r['parameter']} ({r['value']:.2f}: {r['low']:.2f}-{r['high']:.2f})", 46, 2)
        for _, r in top.iterrows()
    ]
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.axvline(base, color="#333333", linewidth=1)
    ends = top[["p_low", "p_high"]].to_numpy()
    span_lo = float(min(ends.min(), base)) if len(top) else 0.0
    span_hi = float(max(ends.max(), base)) if len(top) else 1.0
    pad = max(0.02, 0.08 * (span_hi - span_lo))
    ax.set_xlim(max(0.0, span_lo - pad), min(1.0, span_hi + pad))
    ax.set_xlabel(f"P({_shorten(str(top['label'].iloc[0]) if len(top) else cause, 40, 1)} present)")
    ax.set_title(
        f"Numbers that move this cause most (each across its value ± {result.spread:g})\n"
        "red: rises with the number; blue: falls; line: the model's value",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    return ax
