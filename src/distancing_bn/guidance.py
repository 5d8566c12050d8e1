"""Guidance for the likely causes, and the notices raised by the answers.

A *safety* notice (signs of control, threats or fear) replaces relationship tips: when one is
raised, no cause's tips are shown. A *professional-help* notice (signs of low mood, loss of
interest or lingering grief) is shown alongside them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .results import DISCLAIMER, Posterior

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
    """What to read next: safety notices first, then professional help, then tips per cause."""

    safety: tuple[Notice, ...]
    professional_help: tuple[Notice, ...]
    causes: tuple[CauseGuidance, ...]
    disclaimer: str = DISCLAIMER

    @property
    def tips_withheld(self) -> bool:
        """True when a safety notice replaced the relationship tips."""
        return bool(self.safety)

    def summary(self) -> str:
        """Return the guidance as plain text."""
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
        if not out:
            out.append("No cause stands out yet; answering more questions will sharpen the picture.")
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
        parts.append(f"<p><i>{html.escape(self.disclaimer)}</i></p>")
        return "<div>" + "".join(parts) + "</div>"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "safety": [{"id": n.id, "title": n.title, "text": n.text} for n in self.safety],
            "professional_help": [{"id": n.id, "title": n.title, "text": n.text} for n in self.professional_help],
            "causes": [
                {"cause": c.cause, "label": c.label, "probability": c.probability, "tips": list(c.tips)}
                for c in self.causes
            ],
            "disclaimer": self.disclaimer,
        }


def raised_notices(model: Model, answers: dict[str, Any]) -> list[Notice]:
    """Return the notices raised by the answers (a soft answer raises by its likeliest label)."""
    if model.spec is None:
        return []
    out: list[Notice] = []
    for q, a in answers.items():
        sq = model.spec.question(q)
        if isinstance(a, tuple):
            a = sq.answers[max(range(len(a)), key=a.__getitem__)]
        for nid, triggers in sq.notices:
            notice = model.spec.notice(nid)
            if a in triggers and notice not in out:
                out.append(notice)
    return out


def guidance_for(model: Model, posterior: Posterior, *, threshold: float = 0.5, max_causes: int = 3) -> Guidance:
    """Return the guidance for a posterior.

    Tips are given for the causes with P(present) ≥ ``threshold`` (at most ``max_causes``); when
    none reaches it, for the (at most two) causes that rose most above their prior.
    """
    notices = raised_notices(model, dict(posterior.answers))
    safety = tuple(n for n in notices if n.kind == "safety")
    help_ = tuple(n for n in notices if n.kind == "professional_help")
    causes: list[CauseGuidance] = []
    if model.spec is not None and not safety:
        top = posterior.top_causes(len(model.causes))
        likely = [c for c, p in top.items() if p >= threshold][:max_causes]
        if not likely:
            ratio = posterior.prior_ratio[list(model.causes)].sort_values(ascending=False)
            likely = [c for c, r in ratio.items() if r > 1.1][:2]
        for c in likely:
            sc = model.spec.cause(c)
            causes.append(CauseGuidance(c, sc.label, float(top[c]), sc.guidance))
    return Guidance(safety, help_, tuple(causes), model.disclaimer)
