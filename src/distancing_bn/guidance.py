"""Guidance for the likely causes, and the notices raised by the answers.

An *urgent* notice (kind ``crisis``: talk of self-harm; kind ``safety``: signs of control,
threats or fear) comes first and replaces relationship tips: when one is raised, no cause's tips
are shown. A *professional-help* notice (low mood, loss of interest, lingering grief, heavy
drinking or drug use) is shown above the tips. Notices are raised by answers and, where the
model says so, by a cause's probability (``notices: {id: threshold}`` on the cause).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .results import DISCLAIMER, Posterior
from .spec import URGENT_NOTICE_KINDS

if TYPE_CHECKING:
    from .model import Model
    from .spec import Notice

__all__ = ["CauseGuidance", "Guidance", "guidance_for", "raised_notices"]


@dataclass(frozen=True, slots=True)
class CauseGuidance:
    """The tips for one likely cause."""

    cause: str
    label: str
    probability: float
    tips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Guidance:
    """What to read next: urgent notices first, then professional help, then tips per cause.

    ``safety`` holds the urgent notices (kinds ``crisis`` and ``safety``): when there is one,
    relationship tips are withheld. ``general`` is shown when no cause stands out.
    """

    safety: tuple[Notice, ...]
    professional_help: tuple[Notice, ...]
    causes: tuple[CauseGuidance, ...]
    disclaimer: str = DISCLAIMER
    general: tuple[str, ...] = ()

    @property
    def urgent(self) -> bool:
        """True when a safety or crisis notice was raised."""
        return bool(self.safety)

    @property
    def notices(self) -> tuple[Notice, ...]:
        """Every raised notice, urgent ones first."""
        return self.safety + self.professional_help

    @property
    def tips_withheld(self) -> bool:
        """True when an urgent notice replaced the relationship tips."""
        return bool(self.safety)

    def summary(self, *, disclaimer: bool = True) -> str:
        """Return the guidance as plain text (notices first; the disclaimer last, once)."""
        out: list[str] = []
        for n in self.safety:
            out += [f"!! {n.title}", f"   {n.text}"]
        if self.safety:
            out.append("   (Relationship tips are not shown: your safety comes before working on the relationship.)")
        for n in self.professional_help:
            out += [f"* {n.title}", f"  {n.text}"]
        for c in self.causes:
            out.append(f"{c.label} ({c.probability:.0%}):")
            out += [f"  - {t}" for t in c.tips]
        if not self.causes and not self.safety:
            out.append("No single cause stands out." if self.general else "No cause stands out yet.")
            out += [f"  - {t}" for t in self.general]
        if disclaimer:
            out.append(self.disclaimer)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        parts = []
        for n in self.safety:
            parts.append(
                f"<div style='border:2px solid #b00;padding:6px'><b>{html.escape(n.title)}</b>"
                f"<p>{html.escape(n.text)}</p></div>"
            )
        for n in self.professional_help:
            parts.append(f"<p><b>{html.escape(n.title)}</b> {html.escape(n.text)}</p>")
        for c in self.causes:
            tips = "".join(f"<li>{html.escape(t)}</li>" for t in c.tips)
            parts.append(f"<p><b>{html.escape(c.label)}</b> ({c.probability:.0%})</p><ul>{tips}</ul>")
        if not self.causes and not self.safety and self.general:
            tips = "".join(f"<li>{html.escape(t)}</li>" for t in self.general)
            parts.append(f"<p><b>No single cause stands out.</b></p><ul>{tips}</ul>")
        parts.append(f"<p><i>{html.escape(self.disclaimer)}</i></p>")
        return "<div>" + "".join(parts) + "</div>"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (notices by kind, urgent ones first)."""

        def notice(n: Notice) -> dict[str, str]:
            return {"id": n.id, "kind": n.kind, "title": n.title, "text": n.text}

        return {
            "urgent": self.urgent,
            "safety": [notice(n) for n in self.safety],
            "professional_help": [notice(n) for n in self.professional_help],
            "causes": [
                {"cause": c.cause, "label": c.label, "probability": c.probability, "tips": list(c.tips)}
                for c in self.causes
            ],
            "general": list(self.general),
            "disclaimer": self.disclaimer,
        }


_KIND_ORDER = {"crisis": 0, "safety": 1, "professional_help": 2}


def raised_notices(model: Model, answers: Mapping[str, Any], posterior: Posterior | None = None) -> list[Notice]:
    """Return the notices raised, urgent kinds first (crisis, safety, then professional help).

    A question raises its notices by its answer (a soft answer by its likeliest label); a cause
    with ``notices: {id: threshold}`` raises one when ``posterior`` puts it at or above the threshold.
    """
    if model.spec is None:
        return []
    out: list[Notice] = []
    for q, a in answers.items():
        sq = model.spec.question(q)
        if isinstance(a, Mapping):
            a = tuple(a.get(x, 0.0) for x in sq.answers)
        if isinstance(a, tuple):
            a = sq.answers[max(range(len(a)), key=a.__getitem__)]
        for nid, triggers in sq.notices:
            notice = model.spec.notice(nid)
            if a in triggers and notice not in out:
                out.append(notice)
    if posterior is not None:
        probs = posterior.probabilities
        for c in model.spec.causes:
            for nid, threshold in c.notices:
                notice = model.spec.notice(nid)
                if float(probs[c.id]) >= threshold and notice not in out:
                    out.append(notice)
    return sorted(out, key=lambda n: _KIND_ORDER.get(n.kind, 3))


def guidance_for(
    model: Model,
    posterior: Posterior,
    *,
    answers: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    max_causes: int = 3,
) -> Guidance:
    """Return the guidance for a posterior.

    Tips are given for the relationship causes with P(present) ≥ ``threshold`` (at most
    ``max_causes``), never for a safety cause, and none at all when an urgent notice is raised.
    When no cause reaches the threshold, the model's general guidance is given instead.
    """
    given = dict(posterior.answers) if answers is None else dict(answers)
    notices = raised_notices(model, given, posterior)
    urgent = tuple(n for n in notices if n.kind in URGENT_NOTICE_KINDS)
    help_ = tuple(n for n in notices if n.kind not in URGENT_NOTICE_KINDS)
    causes: list[CauseGuidance] = []
    general: tuple[str, ...] = ()
    if model.spec is not None and not urgent:
        top = posterior.top_causes(len(model.causes))
        likely = [c for c, p in top.items() if p >= threshold and model.cause_kind(c) == "relationship"]
        for c in likely[:max_causes]:
            sc = model.spec.cause(c)
            causes.append(CauseGuidance(c, sc.label, float(top[c]), sc.guidance))
        if not causes:
            general = model.spec.general_guidance
    return Guidance(urgent, help_, tuple(causes), model.disclaimer, general)
