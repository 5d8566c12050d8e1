"""Conditional probability tables from compact parameters (pure numpy functions).

Convention everywhere in the package: a CPT of a variable with parents ``(p_1, …, p_n)`` is an
array of shape ``(card(p_1), …, card(p_n), card(child))`` whose last axis sums to 1.
Imports numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["binary_table", "noisy_max", "noisy_or"]

FloatArray = NDArray[np.float64]


def noisy_max(leak: Sequence[float], strengths: Sequence[Sequence[float]]) -> FloatArray:
    """Return the leaky noisy-MAX table of an ordinal child with binary parents.

    Parameters
    ----------
    leak
        Probabilities of the child's answers ``1 … K-1`` when no parent is present
        (answer 0 takes the rest).
    strengths
        One sequence per parent: the probabilities of answers ``1 … K-1`` produced by that
        parent alone.

    Returns
    -------
    numpy.ndarray
        Shape ``(2,) * n_parents + (K,)``.

    Examples
    --------
    >>> noisy_max([0.1], [[0.8]]).round(3).tolist()
    [[0.9, 0.1], [0.18, 0.82]]
    """
    leak_dist = _level_distribution(leak)
    k = leak_dist.size
    cdf = np.cumsum(leak_dist)
    n = len(strengths)
    table_cdf = cdf.reshape((1,) * n + (k,))
    for i, s in enumerate(strengths):
        dist = _level_distribution(s)
        if dist.size != k:
            raise ValueError(f"parent {i} has {dist.size} levels, the leak has {k}")
        factor = np.stack([np.ones(k), np.cumsum(dist)])  # absent: no effect; present: its CDF
        shape = [1] * (n + 1)
        shape[i] = 2
        shape[-1] = k
        table_cdf = table_cdf * factor.reshape(shape)
    table_cdf = np.broadcast_to(table_cdf, (2,) * n + (k,)).copy()
    table_cdf[..., -1] = 1.0  # exact: every CDF ends at 1
    probs = np.diff(table_cdf, prepend=0.0, axis=-1)
    return np.clip(probs, 0.0, 1.0)


def noisy_or(leak: float, strengths: Sequence[float]) -> FloatArray:
    """Return the leaky noisy-OR table ``(2,) * n + (2,)`` of a binary child.

    ``P(present | parents) = 1 - (1 - leak) * prod(1 - s_i)`` over the present parents.

    Examples
    --------
    >>> noisy_or(0.1, [0.5])[1].tolist()
    [0.45, 0.55]
    """
    return noisy_max([leak], [[s] for s in strengths])


def binary_table(p_absent: float, p_present: float) -> FloatArray:
    """Return the table ``(2, 2)`` of a binary child of one binary parent."""
    return np.array([[1.0 - p_absent, p_absent], [1.0 - p_present, p_present]])


def _level_distribution(upper: Sequence[float]) -> FloatArray:
    upper_arr = np.asarray(upper, dtype=float)
    return np.concatenate([[max(0.0, 1.0 - upper_arr.sum())], upper_arr])
