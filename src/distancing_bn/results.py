"""Result objects: small frozen values that know how to show themselves.

``Posterior`` (one person's answers) and ``Explanation`` (which answer moved a cause).
They hold numpy arrays and ids; numbers come out as pandas objects, text as plain strings or
escaped HTML. Imports numpy and pandas only (plots are imported lazily by ``plot``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["DISCLAIMER", "URGENT_KINDS", "Explanation", "Posterior", "VariableInfo"]

DISCLAIMER = "A reflective aid for thinking things through, not a clinical or diagnostic assessment."
URGENT_KINDS = ("safety", "crisis")  # notice kinds shown first, ahead of everything else


@dataclass(frozen=True, slots=True)
class VariableInfo:
    """How a reported variable is named and which of its states counts as 'present'."""

    id: str
    kind: str  # cause | facet | target | latent
    label: str
    states: tuple[str, ...]
    present: int  # index of the first state counted as present
    counted: tuple[int, ...] = ()  # every state counted as present (() means only ``present``)
    usual: int | None = None  # none given or named present: the likeliest state a priori
    # (the default state), and ``counted`` is every other state

    @property
    def counted_states(self) -> tuple[int, ...]:
        """Indices of the states whose probabilities add up to P(present)."""
        return self.counted or (self.present,)

    @property
    def present_states(self) -> tuple[str, ...]:
        """Names of the states whose probabilities add up to P(present)."""
        return tuple(self.states[i] for i in self.counted_states)

    def p(self, marginal: Any) -> Any:
        """P(present) from a marginal (states on the last axis): the sum over the counted states."""
        m = np.asarray(marginal)
        k = self.counted_states
        return m[..., k[0]] if len(k) == 1 else m[..., list(k)].sum(axis=-1)

    def counts(self) -> str:
        """Which states P(present) counts, in words: ``'decompensate'`` or ``'not absent'``."""
        if self.usual is not None:
            return f"not {self.states[self.usual]!r}"
        return " or ".join(repr(s) for s in self.present_states)


def _as_said(answer: str) -> str:
    """An answer as quoted in a sentence: words get a capital first letter, as labelled answers
    have ('sudden' -> 'Sudden', like 'Yes, a lot'); ids with underscores and other text as they are."""
    text = str(answer)
    if text[:1].islower() and "_" not in text:
        return text[0].upper() + text[1:]
    return text


def _html_table(frame: pd.DataFrame, caption: str, note: str) -> str:

    body = frame.to_html(escape=True, index=False, float_format=lambda x: f"{x:.3f}", border=0)
    return (
        f"<div class='distancing-bn'><p><b>{html.escape(caption)}</b></p>{body}"
        f"<p style='font-size:smaller'><i>{html.escape(note)}</i></p></div>"
    )


def _safe_html(obj: Any, render: Any) -> str:
    try:
        return str(render())
    except Exception:  # a repr must never break a notebook
        return f"<pre>{html.escape(repr(obj))}</pre>"


@dataclass(frozen=True, slots=True)
class Posterior:
    """The posterior of every cause (target) and facet given one set of answers.

    Attributes
    ----------
    answers
        The answers used: question id -> label, or a tuple of likelihoods for a soft answer.
    log_evidence
        Natural log of P(answers) under the model, the always-observed premise included (so it is
        log P(premise) with no answers).
    """

    model_id: str
    answers: Mapping[str, str | tuple[float, ...]]
    variables: tuple[VariableInfo, ...]
    marginals: Mapping[str, NDArray[np.float64]]
    priors: Mapping[str, NDArray[np.float64]]
    log_evidence: float
    target_order: tuple[str, ...] = ()
    target_joint: NDArray[np.float64] | None = None
    disclaimer: str = DISCLAIMER
    question_text: Mapping[str, str] = field(default_factory=dict, repr=False)
    _model: Any = field(default=None, repr=False, compare=False)

    # ---------------------------------------------------------------- numbers
    def _info(self, name: str) -> VariableInfo:
        for v in self.variables:
            if v.id == name:
                return v
        import difflib

        from .errors import UnknownVariableError
        from .evidence import quote

        text = name if isinstance(name, str) else ""
        close = difflib.get_close_matches(text, [v.id for v in self.variables], n=3) if 0 < len(text) <= 100 else []
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        shown = quote(name)
        raise UnknownVariableError(f"no posterior for {shown}{hint}", question_id=shown, suggestions=close)

    def marginal(self, name: str) -> pd.Series:
        """Return P(name = state | answers) over the variable's states (sums to 1)."""
        import pandas as pd

        info = self._info(name)
        return pd.Series(self.marginals[name], index=pd.Index(info.states, name="state"), name=name)

    @property
    def probabilities(self) -> pd.Series:
        """P(present | answers) of every cause and facet (index: ids, in model order)."""
        import pandas as pd

        return pd.Series({v.id: float(v.p(self.marginals[v.id])) for v in self.variables}, name="p_present")

    @property
    def prior_probabilities(self) -> pd.Series:
        """P(present) before any answer."""
        import pandas as pd

        return pd.Series({v.id: float(v.p(self.priors[v.id])) for v in self.variables}, name="p_prior")

    @property
    def prior_ratio(self) -> pd.Series:
        """How each cause moved: P(present | answers) / P(present)."""

        return (self.probabilities / self.prior_probabilities).rename("ratio")

    def to_frame(self) -> pd.DataFrame:
        """Return one row per cause/facet: ``id, kind, label, prior, posterior, ratio``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "id": [v.id for v in self.variables],
                "kind": [v.kind for v in self.variables],
                "label": [v.label for v in self.variables],
                "prior": self.prior_probabilities.to_numpy(),
                "posterior": self.probabilities.to_numpy(),
                "ratio": self.prior_ratio.to_numpy(),
            }
        )

    def top_causes(self, k: int = 3) -> pd.Series:
        """Return the ``k`` most probable targets (causes), highest first."""

        targets = [v.id for v in self.variables if v.kind in ("cause", "target")]
        return self.probabilities[targets].sort_values(ascending=False).head(k)

    def top_explanations(self, k: int = 5) -> pd.DataFrame:
        """Return the ``k`` most probable joint configurations of the causes.

        Columns: ``rank``, ``present`` (the causes present, ``'none'`` if none), one column per
        target with its state, and ``probability``.
        """
        import pandas as pd

        if self.target_joint is None:
            from .errors import DistancingBNError

            raise DistancingBNError("the joint of the targets is too large to enumerate for this network")
        flat = self.target_joint.ravel()
        k = min(k, flat.size)
        top = np.argpartition(-flat, k - 1)[:k] if k < flat.size else np.arange(flat.size)
        top = top[np.argsort(-flat[top], kind="stable")]
        infos = [self._info(t) for t in self.target_order]
        idx = np.unravel_index(top, self.target_joint.shape)
        rows = []
        for r, flat_i in enumerate(top):
            states = {info.id: info.states[int(idx[j][r])] for j, info in enumerate(infos)}
            present = [info.id for j, info in enumerate(infos) if int(idx[j][r]) in info.counted_states]
            rows.append(
                {"rank": r + 1, "present": " + ".join(present) or "none", **states, "probability": float(flat[flat_i])}
            )
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- explanations
    def explain(self, cause: str) -> Explanation:
        """Return how each answer moved ``cause`` (bits of log-odds); see :mod:`explain`."""
        from .explain import explain

        return explain(self._model, self, cause)

    def explain_all(self) -> pd.DataFrame:
        """Return the contributions (bits) of every answer to every cause: answers × causes."""

        from .explain import explain_all

        return explain_all(self._model, self)

    # ---------------------------------------------------------------- display
    def summary(self, k: int = 5, *, guidance: bool = False, disclaimer: bool = True) -> str:
        """Return a readable text: the ``k`` likeliest causes against their priors.

        ``guidance=True`` puts the notices the answers raise above the probabilities, urgent
        ones (safety, crisis) first with a line saying the list of causes is not what matters
        then. ``disclaimer=False`` leaves out the closing disclaimer (for a report that shows it
        once, elsewhere).
        """
        n = len(self.answers)
        lines = [f"Posterior for model '{self.model_id}' from {n} answer{'s' if n != 1 else ''}"]
        if guidance:
            lines += self._notice_lines()
        frame = self.to_frame()
        hidden = self._safety_causes()
        frame = frame[frame["kind"].isin(["cause", "target"]) & ~frame["id"].isin(hidden)]
        frame = frame.sort_values("posterior", ascending=False, kind="stable")
        width = max((len(x) for x in frame["label"]), default=10)
        infos = {v.id: v for v in self.variables}
        for row in frame.head(k).itertuples():
            arrow = "up" if row.ratio > 1.05 else "down" if row.ratio < 0.95 else "about the same"
            line = f"  {row.label:<{width}}  {row.posterior:6.1%}  (prior {row.prior:5.1%}, {arrow})"
            info = infos[row.id]
            if info.usual is not None or len(info.counted_states) > 1:  # say what the figure adds up
                m = self.marginals[info.id]
                top = max(info.counted_states, key=lambda i: (m[i], -i))
                line += f"; {info.counts()}, most likely {info.states[top]!r} {m[top]:.1%}"
            lines.append(line)
        if disclaimer:
            lines.append(self.disclaimer)
        return "\n".join(lines)

    def _safety_causes(self) -> set[str]:
        """Causes the model marks ``kind: safety``: never listed as causes to work on."""
        spec = getattr(self._model, "spec", None)
        if spec is None:
            return set()
        return {c.id for c in spec.causes if getattr(c, "kind", "relationship") == "safety"}

    def _notice_lines(self) -> list[str]:
        """The notices the answers raise, urgent first, wrapped for a terminal."""
        import textwrap

        if self._model is None:
            return []
        found = self._model.guidance(dict(self.answers))
        notices = getattr(found, "notices", None)
        if notices is None:  # guidance without a combined list: safety, then professional help
            notices = (*getattr(found, "safety", ()), *getattr(found, "professional_help", ()))
        urgent = [x for x in notices if x.kind in URGENT_KINDS]
        other = [x for x in notices if x.kind not in URGENT_KINDS]
        lines: list[str] = []

        def wrap(text: str, indent: str = "   ") -> list[str]:
            return textwrap.wrap(" ".join(text.split()), 88, initial_indent=indent, subsequent_indent=indent)

        for notice in urgent:
            lines += [f"!! {notice.title}", *wrap(notice.text)]
        if urgent:
            lines += wrap(
                "What matters first is the notice above, not the list of causes below: the causes are "
                "about the relationship, and safety comes before working on it."
            )
        for notice in other:
            lines += [f"*  {notice.title}", *wrap(notice.text)]
        if lines:
            lines.append("Most likely causes, against their priors:")
        return lines

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        top = self.top_causes(1)
        head = f"{top.index[0]} {top.iloc[0]:.2f}" if len(top) else "-"
        n_t = sum(v.kind in ("cause", "target") for v in self.variables)
        return f"<Posterior {n_t} causes | {len(self.answers)} answers | top: {head}>"

    def _repr_html_(self) -> str:
        def render() -> str:
            frame = self.to_frame().sort_values(["kind", "posterior"], ascending=[True, False])
            return _html_table(frame, f"Posterior ({len(self.answers)} answers)", self.disclaimer)

        return _safe_html(self, render)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (used by the CLI's --json)."""
        return {
            "model": self.model_id,
            "answers": {k: (v if isinstance(v, str) else list(v)) for k, v in self.answers.items()},
            "log_evidence": self.log_evidence,
            "probabilities": {k: float(v) for k, v in self.probabilities.items()},
            "prior": {k: float(v) for k, v in self.prior_probabilities.items()},
            "present_states": {v.id: list(v.present_states) for v in self.variables},
            "distributions": {
                v.id: {s: float(x) for s, x in zip(v.states, self.marginals[v.id], strict=True)}
                for v in self.variables
                if v.usual is not None or len(v.counted_states) > 1
            },
            "disclaimer": self.disclaimer,
        }

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the posterior bars with the prior marked; return the Axes."""
        from .plots import plot_posterior

        return plot_posterior(self, ax=ax, **kwargs)


@dataclass(frozen=True, slots=True)
class Explanation:
    """How much each answer moved one cause, in bits of log-odds.

    ``bits`` of an answer = log2 odds(cause | all answers) − log2 odds(cause | all answers but
    that one); ``factor = 2 ** bits`` is how many times the odds were multiplied by it.
    """

    cause: str
    label: str
    probability: float
    questions: tuple[str, ...]
    texts: tuple[str, ...]
    answers: tuple[str, ...]
    bits: NDArray[np.float64]
    p_without: NDArray[np.float64]
    disclaimer: str = DISCLAIMER
    question_labels: tuple[str, ...] = ()  # short labels of the questions (the texts when empty)
    present_states: tuple[str, ...] = ()  # the cause's states whose probabilities ``probability`` adds up

    @property
    def labels(self) -> tuple[str, ...]:
        """The questions' short labels, in :attr:`questions` order (their texts when none were given)."""
        return self.question_labels if len(self.question_labels) == len(self.questions) else self.texts

    def to_frame(self) -> pd.DataFrame:
        """Return ``question, text, answer, bits, factor, p_without`` sorted by |bits|, largest first."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "question": list(self.questions),
                "text": list(self.texts),
                "answer": list(self.answers),
                "bits": self.bits,
                "factor": np.exp2(self.bits),
                "p_without": self.p_without,
            }
        )
        order = np.argsort(-np.abs(self.bits), kind="stable")
        return frame.iloc[order].reset_index(drop=True)

    def sentences(self, k: int = 5) -> list[str]:
        """Return plain sentences for the ``k`` answers that moved the cause most.

        An answer that made the cause certain (or ruled it out) moved its log-odds by infinitely
        many bits: it is said in words, never as a factor.
        """
        out = []
        for row in self.to_frame().head(k).itertuples():
            if abs(row.bits) < 0.07:  # under 5% change in odds: not worth a sentence
                continue
            if math.isinf(row.bits):
                how = (
                    "became certain (that answer made it certain)"
                    if row.bits > 0
                    else "was ruled out (that answer ruled it out)"
                )
            else:
                f = row.factor
                how = (
                    f"became {f:.1f} times as likely (odds)"
                    if f >= 1
                    else f"became {1 / f:.1f} times less likely (odds)"
                )
            out.append(f"Because you said '{_as_said(row.answer)}' to \"{row.text}\", {self.label} {how}.")
        return out

    def summary(self, k: int = 5, *, disclaimer: bool = True) -> str:
        """Return the cause's probability and the main reasons (and the disclaimer, unless ``disclaimer=False``)."""
        counts = f" ({' or '.join(map(repr, self.present_states))})" if len(self.present_states) > 1 else ""
        lines = [f"{self.label}{counts}: {self.probability:.1%}"]
        lines += [f"  - {s}" for s in self.sentences(k)] or ["  (no answer moved it)"]
        if disclaimer:
            lines.append(self.disclaimer)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<Explanation {self.cause} {self.probability:.2f} | {len(self.questions)} answers>"

    def _repr_html_(self) -> str:
        return _safe_html(
            self, lambda: _html_table(self.to_frame(), f"Why {self.label}: {self.probability:.1%}", self.disclaimer)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (strict JSON: an infinite contribution has ``bits``/``factor`` null).

        Each contribution has ``effect``: ``'raised'``, ``'lowered'``, ``'unchanged'``,
        ``'made certain'`` or ``'ruled out'``.
        """
        records = self.to_frame().to_dict(orient="records")
        for r in records:
            b = float(r["bits"])
            r["effect"] = (
                ("made certain" if b > 0 else "ruled out")
                if math.isinf(b)
                else "raised"
                if b > 0
                else "lowered"
                if b < 0
                else "unchanged"
            )
            for key in ("bits", "factor", "p_without"):
                r[key] = float(r[key]) if math.isfinite(r[key]) else None
        return {
            "cause": self.cause,
            "probability": self.probability,
            "present_states": list(self.present_states),
            "contributions": records,
        }

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the contributions as a diverging bar chart; return the Axes."""
        from .plots import plot_explanation

        return plot_explanation(self, ax=ax, **kwargs)
