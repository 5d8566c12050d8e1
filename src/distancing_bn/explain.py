"""Which answer moved which cause, and by how much (bits of log-odds).

The contribution of answer ``q`` to cause ``c`` is

    bits(q, c) = log2 odds(c | e) − log2 odds(c | e without q),   odds(c) = P(c) / (1 − P(c)),

where ``e`` is all the answers given and "present" is the cause's reported state. An answer
that made the cause certain, or ruled it out, contributes ``+inf`` or ``-inf`` bits (said in
words by :meth:`Explanation.sentences`). All the "leave one out" posteriors come from ONE
batched query (one row per answer left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .evidence import from_answers
from .results import Explanation, Posterior

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["contribution_bits", "explain", "explain_all", "leave_one_out"]


def leave_one_out(model: Model, posterior: Posterior) -> tuple[list[str], dict[str, np.ndarray]]:
    """Return the answered questions and, per variable, P(present | e without that answer)."""
    questions = list(posterior.answers)
    n = len(questions)
    net = model.network
    lik = {}
    for q, lk in from_answers(net, posterior.answers, rows=n).likelihoods.items():
        arr = np.array(lk)  # (n, card); row i drops answer i
        arr[questions.index(q)] = 1.0
        lik[q] = arr
    names = [v.id for v in posterior.variables]
    res = model.engine.query(lik, n, marginals=names) if n else None
    out = {}
    for v in posterior.variables:
        out[v.id] = v.p(res.marginals[v.id]) if res is not None else np.empty(0)
    return questions, out


def _log2_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return np.log2(p) - np.log2(1.0 - p)


def contribution_bits(p: float, p_without: np.ndarray) -> np.ndarray:
    """``log2 odds(p) − log2 odds(p_without)`` per answer, exactly at the edges.

    0 where leaving the answer out changes nothing; ``+inf`` where the answer made the cause
    certain (``p = 1``), ``-inf`` where it ruled it out (``p = 0``).
    """
    with np.errstate(invalid="ignore"):
        bits = _log2_odds(np.full(len(p_without), p)) - _log2_odds(p_without)
    return np.where(p_without == p, 0.0, bits)


def explain(model: Model, posterior: Posterior, cause: str) -> Explanation:
    """Return the :class:`Explanation` of ``cause`` for this posterior."""
    info = posterior._info(cause)
    questions, without = leave_one_out(model, posterior)
    p = float(info.p(posterior.marginals[cause]))
    p_wo = without[cause]
    bits = contribution_bits(p, p_wo)
    return Explanation(
        cause=cause,
        label=info.label,
        probability=p,
        questions=tuple(questions),
        texts=tuple(model.question_text(q) for q in questions),
        question_labels=tuple(model.question_label(q) for q in questions),
        answers=tuple(_answer_text(model, q, posterior.answers[q]) for q in questions),
        bits=bits,
        p_without=p_wo,
        disclaimer=posterior.disclaimer,
        present_states=info.present_states,
    )


def explain_all(model: Model, posterior: Posterior) -> pd.DataFrame:
    """Return the bits of every answer (rows) for every cause and facet (columns)."""
    import pandas as pd

    questions, without = leave_one_out(model, posterior)
    cols = {}
    for v in posterior.variables:
        cols[v.id] = contribution_bits(float(v.p(posterior.marginals[v.id])), without[v.id])
    return pd.DataFrame(cols, index=pd.Index(questions, name="question"))


def _answer_text(model: Model, question: str, answer: str | tuple[float, ...]) -> str:
    if isinstance(answer, str):
        return model.spec.question(question).display(answer) if model.spec is not None else answer
    return "soft(" + ", ".join(f"{x:g}" for x in answer) + ")"
