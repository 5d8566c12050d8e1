"""Answers -> evidence: one likelihood matrix per observable, shape ``(rows, states)``.

A hard answer is a one-hot row, an unanswered question (``None``, ``'unsure'``, NaN, empty)
is left out (all ones), and a soft answer is a row of likelihoods. Imports numpy, pandas (for
frames only, no I/O) and :mod:`network`.
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
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
    "label_index",
    "normalise_answers",
    "one_hot",
    "quote",
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
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def quote(value: Any) -> str:
    """One offending value for a message: repr'd and cut to 40 characters, never a whole structure.

    Text and numbers are shown (``'somtimes'``, ``-0.5``); anything else only by its type
    (``a list``), so that a message never echoes a person's other answers.
    """
    if isinstance(value, str):
        text = repr(value[:40])
    elif isinstance(value, bool | np.bool_):
        text = repr(bool(value))
    elif isinstance(value, int | np.integer) and int(value).bit_length() <= 128:
        text = repr(int(value))
    elif isinstance(value, float | np.floating):
        text = repr(float(value))
    else:
        text = f"a {type(value).__name__}" if not isinstance(value, int) else "a very large number"
    return text if len(text) <= 40 else text[:39] + "…"


def _as_label(value: Any) -> str | None:
    """The text of an answer label: text, a boolean or a number (some networks name states so), else None."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value)) if int(value).bit_length() <= 64 else None
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return None


@functools.lru_cache(maxsize=1024)
def _label_lookup(states: tuple[str, ...]) -> tuple[dict[str, int], dict[str, int]]:
    """Exact label -> index, and lower-cased label -> index (-1 where labels differ only in case)."""
    folded: dict[str, int] = {}
    for i, s in enumerate(states):
        key = s.lower()
        folded[key] = -1 if key in folded else i
    return {s: i for i, s in enumerate(states)}, folded


def label_index(text: str, states: tuple[str, ...]) -> int | None:
    """Return the index of the answer ``text`` names, or None if it names none.

    An exact match wins; otherwise the match ignores case, unless several answers differ only
    in case (``YES`` and ``yes`` in a network file): then only an exact match names one.
    """
    exact, folded = _label_lookup(states)
    i = exact.get(text)
    if i is None:
        i = folded.get(text.lower(), -1)
    return i if i >= 0 else None


def _label(network: Network, question: str, value: Any) -> str:
    states = network.states[question]
    text = _as_label(value)
    if text is not None:
        i = label_index(text, states)
        if i is not None:
            return states[i]
    valid = ", ".join(f"'{s}'" for s in (*states, UNSURE))
    if text is None:
        what = (
            f"answer {quote(value)} for question '{question}' is neither an answer label nor a soft answer "
            "{label: likelihood}"
        )
    else:
        what = f"answer {quote(value)} is not valid for question '{question}'"
    hint = ""
    same = [s for s in states if text is not None and s.lower() == text.lower()]
    if len(same) > 1:
        hint = f". Answers {', '.join(map(repr, same))} differ only in case: give one exactly"
    elif text is not None and len(text) <= 100:
        close = difflib.get_close_matches(text, list(states), n=1, cutoff=0.6)
        hint = f". Did you mean '{close[0]}'?" if close else ""
    raise InvalidAnswerError(f"{what}; valid: {valid}{hint}", question_id=question, got=value, valid=states)


def _listed(items: Sequence[Any], limit: int = 3) -> str:
    shown = ", ".join(quote(x) for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _soft(network: Network, question: str, value: Mapping[Any, Any]) -> tuple[float, ...]:
    states = network.states[question]
    valid = ", ".join(f"'{s}'" for s in states)
    invalid = _soft_error(question, value, states)
    unknown = [k for k in value if not (isinstance(k, str) and k in states)]
    if unknown:
        raise invalid(f" has unknown labels {_listed(unknown)}; give a likelihood for each of: {valid}")
    missing = [s for s in states if s not in value]
    if missing:
        raise invalid(f" has missing labels {_listed(missing)}; give a likelihood for each of: {valid}")
    return _likelihoods(question, tuple(value[s] for s in states), states, invalid)


def _likelihoods(question: str, values: Sequence[Any], states: tuple[str, ...], invalid: Any) -> tuple[float, ...]:
    """Check soft-answer likelihoods: real numbers, finite, >= 0, not all 0 (``invalid`` makes the error)."""
    out = []
    for s, x in zip(states, values, strict=True):
        number = isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_)
        try:
            xf = float(x) if number else math.nan
        except (OverflowError, ValueError):
            xf = math.inf
        if not math.isfinite(xf) or xf < 0:
            raise invalid(f": likelihood of '{s}' is {quote(x)}; likelihoods must be finite numbers >= 0")
        out.append(xf)
    if not sum(out) > 0:
        raise invalid(": likelihoods sum to 0; at least one must be positive")
    return tuple(out)


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
            f"answers must be a mapping from question id to answer, got {quote(answers)}", question_id="", got=answers
        )
    observables = network.observable_set
    for question, value in answers.items():
        if not isinstance(question, str) or question not in observables:
            raise _unknown_question(network, question)
        if isinstance(value, Mapping):
            out[question] = _soft(network, question, value)
        elif not is_unanswered(value):
            out[question] = _label(network, question, value)
    return out


def _unknown_question(network: Network, question: Any) -> UnknownQuestionError:
    if not isinstance(question, str):
        shown = quote(question)
        return UnknownQuestionError(f"question ids are text; got {shown}", question_id=shown)
    close = (
        difflib.get_close_matches(question, list(network.observables), n=3, cutoff=0.5) if len(question) <= 100 else []
    )
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    role = " (it is a cause/target, not a question)" if question in network.targets else ""
    return UnknownQuestionError(
        f"unknown question {quote(question)}{role}{hint}", question_id=question[:40], suggestions=close
    )


def from_answers(network: Network, answers: Mapping[str, str | tuple[float, ...]], rows: int = 1) -> Evidence:
    """Build evidence from normalised answers (see :func:`normalise_answers`), repeated ``rows`` times.

    Raises
    ------
    UnknownQuestionError, InvalidAnswerError
        A question or label the network lacks, or a soft answer that is not finite, >= 0 and
        not all zero (answers that did not come through :func:`normalise_answers`).
    """
    lik: dict[str, NDArray[np.float64]] = {}
    for q, a in answers.items():
        if not isinstance(q, str) or q not in network.observable_set:
            raise _unknown_question(network, q)
        states = network.states[q]
        if isinstance(a, str):
            i = label_index(a, states)
            if i is None:  # not normalised: validate it (raises if it is no label)
                i = states.index(_label(network, q, a))
            vec = np.zeros(len(states))
            vec[i] = 1.0
        else:
            if not isinstance(a, tuple | list) or len(a) != len(states):
                raise InvalidAnswerError(
                    f"soft answer for question '{q}' must give {len(states)} likelihoods, one per answer",
                    question_id=q,
                    got=a,
                    valid=states,
                )
            vec = np.array(_likelihoods(q, a, states, _soft_error(q, a, states)), dtype=np.float64)
        lik[q] = vec[None, :] if rows == 1 else np.broadcast_to(vec, (rows, len(states)))
    return Evidence(rows, lik)


def _soft_error(question: str, value: Any, states: tuple[str, ...]) -> Callable[[str], InvalidAnswerError]:
    """A maker of the error for a malformed soft answer to ``question``."""

    def invalid(problem: str) -> InvalidAnswerError:
        return InvalidAnswerError(
            f"soft answer for question '{question}'{problem}", question_id=question, got=value, valid=states
        )

    return invalid


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

    Labels match as in :func:`label_index` after stripping (exactly, else ignoring case when no
    two answers differ only in case: with answers 'YES' and 'yes', 'Yes' is invalid); blank,
    NaN/None and 'unsure' are unanswered; lists and dicts are invalid. Vectorised: each distinct
    value is looked up once (``pandas.factorize``).
    """
    keys, uniques, odd = factorize_cells(column)
    table = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last entry: NaN / None
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for j, u in enumerate(uniques):
        text = str(u).strip()
        i = label_index(text, states)
        if i is not None:
            table[j] = i
        elif text.lower() not in ("", UNSURE, "nan"):
            bad[j] = True
    keys = np.where(keys < 0, len(uniques), keys)
    return table[keys], (bad[keys] | odd) if odd is not None else bad[keys]
