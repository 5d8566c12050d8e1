"""Answers -> evidence: one likelihood matrix per observable, shape ``(rows, states)``.

A hard answer is a one-hot row, an unanswered question (``None``, ``'unsure'``, NaN, empty)
is left out (all ones), and a soft answer is a row of likelihoods. Imports numpy, pandas (for
frames only, no I/O) and :mod:`network`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidAnswerError, UnknownQuestionError
from .network import Network

__all__ = [
    "UNSURE",
    "Answer",
    "Evidence",
    "encode_labels",
    "factorize_cells",
    "from_answers",
    "from_codes",
    "is_unanswered",
    "normalise_answers",
    "one_hot",
]

UNSURE = "unsure"
Answer = str | Mapping[str, float] | None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Likelihood matrices for ``rows`` evidence rows (observables not listed are unanswered)."""

    rows: int
    likelihoods: Mapping[str, NDArray[np.float64]]


def is_unanswered(value: Any) -> bool:
    """Return True for the values that mean 'no evidence': None, 'unsure', '', NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in ("", UNSURE)
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _label(network: Network, question: str, value: Any) -> str:
    states = network.states[question]
    text = str(value).strip()
    if text in states:
        return text
    folded = [s for s in states if s.lower() == text.lower()]
    if len(folded) == 1:  # case is ignored only where it picks one answer
        return folded[0]
    valid = ", ".join(f"'{s}'" for s in (*states, UNSURE))
    close = difflib.get_close_matches(text, list(states), n=1, cutoff=0.6)
    hint = f". Did you mean '{close[0]}'?" if close else ""
    shown = repr(value)[:40]
    raise InvalidAnswerError(
        f"answer {shown} is not valid for question '{question}'; valid: {valid}{hint}",
        question_id=question,
        got=value,
        valid=states,
    )


def _soft(network: Network, question: str, value: Mapping[Any, Any]) -> tuple[float, ...]:
    states = network.states[question]
    unknown = [k for k in value if str(k) not in states]
    missing = [s for s in states if s not in {str(k) for k in value}]
    valid = ", ".join(f"'{s}'" for s in states)
    if unknown or missing:
        what = (
            f"unknown labels {', '.join(map(repr, unknown))}"
            if unknown
            else f"missing labels {', '.join(map(repr, missing))}"
        )
        raise InvalidAnswerError(
            f"soft answer for question '{question}' has {what}; give a likelihood for each of: {valid}",
            question_id=question,
            got=dict(value),
            valid=states,
        )
    lik = []
    for s in states:
        x = next(v for k, v in value.items() if str(k) == s)
        try:
            xf = float(x)
        except (TypeError, ValueError):
            xf = math.nan
        if not math.isfinite(xf) or xf < 0:
            raise InvalidAnswerError(
                f"soft answer for question '{question}': likelihood of '{s}' is {x!r}; "
                "likelihoods must be finite and >= 0",
                question_id=question,
                got=dict(value),
                valid=states,
            )
        lik.append(xf)
    if sum(lik) <= 0:
        raise InvalidAnswerError(
            f"soft answer for question '{question}': likelihoods sum to 0; at least one must be positive",
            question_id=question,
            got=dict(value),
            valid=states,
        )
    return tuple(lik)


def normalise_answers(network: Network, answers: Mapping[str, Any] | None) -> dict[str, str | tuple[float, ...]]:
    """Validate answers; return question -> label or soft likelihood tuple (unanswered dropped).

    Raises
    ------
    UnknownQuestionError
        A key is not an observable of the network (closest ids suggested).
    InvalidAnswerError
        A label is not one of the question's answers, or a soft answer is malformed.
    """
    out: dict[str, str | tuple[float, ...]] = {}
    if answers is None:
        return out
    if not isinstance(answers, Mapping):
        raise InvalidAnswerError(
            f"answers must be a mapping from question id to answer, got {type(answers).__name__}",
            question_id="",
            got=answers,
        )
    observables = set(network.observables)
    for question, value in answers.items():
        q = str(question)
        if q not in observables:
            close = difflib.get_close_matches(q, list(network.observables), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            role = " (it is a cause/target, not a question)" if q in network.targets else ""
            raise UnknownQuestionError(f"unknown question '{q}'{role}{hint}", question_id=q, suggestions=close)
        if isinstance(value, Mapping):
            out[q] = _soft(network, q, value)
        elif not is_unanswered(value):
            out[q] = _label(network, q, value)
    return out


def from_answers(network: Network, answers: Mapping[str, str | tuple[float, ...]], rows: int = 1) -> Evidence:
    """Build evidence from normalised answers (see :func:`normalise_answers`), repeated ``rows`` times."""
    lik: dict[str, NDArray[np.float64]] = {}
    for q, a in answers.items():
        states = network.states[q]
        if isinstance(a, str):
            vec = np.zeros(len(states))
            vec[states.index(a)] = 1.0
        else:
            vec = np.asarray(a, dtype=np.float64)
        lik[q] = vec[None, :] if rows == 1 else np.broadcast_to(vec, (rows, len(states)))
    return Evidence(rows, lik)


def from_codes(network: Network, codes: Mapping[str, NDArray[np.integer[Any]]], rows: int) -> Evidence:
    """Build evidence from integer answer codes per question (``-1`` = unanswered), vectorised."""
    lik: dict[str, NDArray[np.float64]] = {}
    for q, c in codes.items():
        c = np.asarray(c)
        if (c >= 0).any():
            lik[q] = one_hot(c, network.card(q))
    return Evidence(rows, lik)


def one_hot(codes: NDArray[np.integer[Any]], card: int) -> NDArray[np.float64]:
    """Likelihood rows ``(len(codes), card)`` for answer codes: one-hot, or all ones for ``-1``."""
    table = np.vstack([np.eye(card), np.ones((1, card))])  # code -1 -> the last row: all ones
    return np.take(table, np.where(codes >= 0, codes, card), axis=0)


def factorize_cells(column: Any) -> tuple[NDArray[np.intp], Any, NDArray[np.bool_] | None]:
    """``pandas.factorize`` of a column whose cells may be lists, dicts or sets.

    Returns the keys (``-1`` = NaN/None), the distinct values and, if some cells cannot be
    hashed, a mask of those cells (they get key ``-1`` here; they are never a valid answer).
    """
    import pandas as pd

    try:
        keys, uniques = pd.factorize(column, use_na_sentinel=True)
        return keys, uniques, None
    except TypeError:  # an unhashable cell
        values = pd.Series(column, dtype=object)
        odd = np.fromiter((not _hashable(v) for v in values), dtype=bool, count=len(values))
        keys, uniques = pd.factorize(values.where(~odd, None), use_na_sentinel=True)
        return keys, uniques, odd


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def encode_labels(column: Any, states: tuple[str, ...]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Turn a column of answer labels into codes (``-1`` = unanswered) and a mask of invalid cells.

    Labels match exactly after stripping, else case-insensitively where that picks a single
    answer (with answers 'YES' and 'yes', 'Yes' is invalid); blank, NaN/None and 'unsure' are
    unanswered; lists and dicts are invalid. Vectorised: each distinct value is looked up
    once (``pandas.factorize``).
    """
    exact = {s: i for i, s in enumerate(states)}
    folded: dict[str, int] = {}
    for i, s in enumerate(states):
        folded[s.lower()] = -2 if s.lower() in folded else i  # -2: two answers differ only in case
    keys, uniques, odd = factorize_cells(column)
    table = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last entry: NaN / None
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for j, u in enumerate(uniques):
        text = str(u).strip()
        code = exact.get(text, folded.get(text.lower(), -1))
        if code >= 0:
            table[j] = code
        elif code == -2 or text.lower() not in ("", UNSURE, "nan"):
            bad[j] = True
    keys = np.where(keys < 0, len(uniques), keys)
    return table[keys], (bad[keys] | odd) if odd is not None else bad[keys]
