"""Numeric kernels of the engine: projections, row-wise helpers and a bounded cache.

Every function here works on ``(rows, …)`` float64 arrays, whatever the network: summing a
clique's belief onto some of its variables (:class:`Projection`), spreading a message back,
exponentiating log-beliefs row by row, dividing where zero means "ruled out". Nothing here
knows about networks or trees.

Bottom layer of :mod:`distancing_bn.engine`: imports numpy only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DENSE_LIMIT",
    "FLOAT_BYTES",
    "IMPOSSIBLE",
    "LOG_ZERO",
    "FloatArray",
    "Projection",
    "Recent",
    "apply3",
    "entropy_bits",
    "exp_rows",
    "hard_answers",
    "row_normalise",
    "safe_div",
    "spread3",
]

FloatArray = NDArray[np.float64]
LOG_ZERO = -1e250  # stands for log 0 inside W, so that 0 * log 0 stays 0 in E @ W
IMPOSSIBLE = -1e200  # a row whose largest log-belief is below this has every configuration ruled out
DENSE_LIMIT = 1 << 16  # projections with more entries than this use reshape-and-sum instead
GATHER_LIMIT = 1 << 20  # … and up to this many clique states may use a grouped sum when it is faster
_TUNE_ROWS = 64  # rows of the first large batch timed to choose between the two
FLOAT_BYTES = 8  # bytes per float64 / int64 entry


class Recent(dict[Any, Any]):
    """A cache of at most ``size`` entries and, if given, ``max_bytes`` of arrays; the oldest go first.

    ``get`` is the plain dict lookup (the hot path). Shared by threads without a lock: an entry
    lost to a race is simply rebuilt by its caller. ``weigh`` gives the bytes of a value that is
    not an array (default: arrays count their ``nbytes``, other values nothing).
    """

    def __init__(self, size: int, max_bytes: int | None = None, weigh: Any = None) -> None:
        super().__init__()
        self.size = size
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._weigh = weigh

    def _bytes(self, value: Any) -> int:
        if self._weigh is not None:
            return int(self._weigh(value))
        return value.nbytes if isinstance(value, np.ndarray) else 0

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the oldest entries beyond the bounds."""
        weigh = self.max_bytes is not None
        if weigh:
            size = self._bytes(value)
            if size > self.max_bytes:  # type: ignore[operator]
                return
            old = self.pop(key, None)
            if old is not None:
                self.nbytes -= self._bytes(old)
            self.nbytes += size
        self[key] = value
        while len(self) > self.size or (weigh and self.nbytes > self.max_bytes):  # type: ignore[operator]
            try:
                old = self.pop(next(iter(self)))
            except (KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
                break
            if weigh:
                self.nbytes -= self._bytes(old)

    def touch(self, key: Any) -> Any:
        """Return the value under ``key`` (or ``None``) and make it the newest (least recently used goes first)."""
        try:
            value = self.pop(key)
        except KeyError:
            return None
        self[key] = value
        return value


class Projection:
    """Restriction of a clique's configurations to some of its variables (in a given order).

    ``apply`` sums a ``(rows, size)`` belief onto ``(rows, sub)``; ``multiply_into`` multiplies a
    ``(rows, sub)`` message into a ``(rows, size)`` belief. Small ones are 0/1 matrices used
    through BLAS; large ones reshape and sum.
    """

    def __init__(self, configs: NDArray[np.int64], cards: Sequence[int], positions: Sequence[int]) -> None:
        self.cards = tuple(cards)
        self.positions = tuple(positions)
        size = configs.shape[0]
        self.sub = math.prod(cards[p] for p in positions)
        self.dense = size * self.sub <= DENSE_LIMIT
        if self.dense:
            if positions:
                idx = np.ravel_multi_index(tuple(configs[:, p] for p in positions), [cards[p] for p in positions])
            else:
                idx = np.zeros(size, dtype=np.int64)
            self.index = idx.astype(np.intp)
            self.matrix = np.zeros((size, self.sub))
            self.matrix[np.arange(size), idx] = 1.0
        else:
            self.other = tuple(a + 1 for a in range(len(cards)) if a not in positions)
            kept = sorted(positions)
            self.perm = [0, *(1 + kept.index(p) for p in positions)]
            self.bshape = tuple(cards[a] if a in positions else 1 for a in range(len(cards)))
            self.increasing = list(positions) == kept
            self._entry: NDArray[np.intp] | None = None  # each configuration's entry, for the grouped sum
            if size <= GATHER_LIMIT:
                sub_cards = [cards[p] for p in positions]
                self._entry = np.ravel_multi_index(tuple(configs[:, p] for p in positions), sub_cards).astype(np.intp)
            self._grouped: tuple[NDArray[np.intp], NDArray[np.intp]] | None = None
            self._use_grouped: bool | None = None  # decided by timing both ways once, on a batch

    def apply(self, x: FloatArray) -> FloatArray:
        """Sum a ``(rows, size)`` belief onto the projection's variables: ``(rows, sub)``."""
        rows = x.shape[0]
        if self.dense:
            return x @ self.matrix
        if self._use_grouped is None and rows >= _TUNE_ROWS and self._entry is not None:
            self._tune(x[:_TUNE_ROWS])
        if self._use_grouped:
            return _grouped_sum(x, *self._grouped)  # type: ignore[misc]
        return self._axis_sum(x)

    def _axis_sum(self, x: FloatArray) -> FloatArray:
        """``apply`` by summing the other variables' axes of the reshaped belief."""
        rows = x.shape[0]
        y = x.reshape(rows, *self.cards)
        if self.other:
            y = y.sum(axis=self.other)
        return np.ascontiguousarray(np.transpose(y, self.perm)).reshape(rows, self.sub)

    def _tune(self, sample: FloatArray) -> None:
        """Time the axis sum against a grouped sum (columns gathered by target entry, then
        ``add.reduceat``) on a sample of rows and keep the faster for this projection.

        numpy's sum over many small axes can be ten times slower than one pass over contiguous
        runs, or faster, depending on where the kept axes lie; which wins is measured, once.
        Both are exact (they differ only in the order of additions).
        """
        idx = self._entry
        assert idx is not None
        perm = np.argsort(idx, kind="stable").astype(np.intp)
        starts = np.flatnonzero(np.r_[True, np.diff(idx[perm]) != 0]).astype(np.intp)
        times = []
        for fn in (self._axis_sum, lambda a: _grouped_sum(a, perm, starts)):
            best = math.inf
            for _ in range(2):
                t0 = time.perf_counter()
                fn(sample)
                best = min(best, time.perf_counter() - t0)
            times.append(best)
        self._use_grouped = times[1] < times[0]
        self._grouped = (perm, starts) if self._use_grouped else None
        self._entry = None

    def multiply_into(self, b: FloatArray, m: FloatArray) -> None:
        """Multiply a ``(rows, sub)`` message into the ``(rows, size)`` belief ``b`` in place."""
        if self.dense:  # a gather: each configuration picks its separator entry
            b *= np.take(m, self.index, axis=1)
            return
        if not self.increasing:
            raise NotImplementedError("expanding a projection needs increasing positions")
        b.reshape(b.shape[0], *self.cards)[...] *= m.reshape(m.shape[0], *self.bshape)


def _grouped_sum(x: FloatArray, perm: NDArray[np.intp], starts: NDArray[np.intp]) -> FloatArray:
    """Sum the columns of ``x`` by group: gathered so that each group is contiguous, then ``add.reduceat``."""
    return np.add.reduceat(np.take(x, perm, axis=1), starts, axis=1)


def apply3(proj: Projection, x: FloatArray) -> FloatArray:
    """``proj.apply`` on a (rows, answers, size) array."""
    rows, k, size = x.shape
    return proj.apply(x.reshape(rows * k, size)).reshape(rows, k, -1)


def spread3(proj: Projection, m: FloatArray) -> FloatArray:
    """Spread a (rows, answers, sep) message over the projection's clique: (rows, answers, size)."""
    if proj.dense:
        return np.take(m, proj.index, axis=2)
    rows, k, sep = m.shape
    out = np.ones((rows * k, math.prod(proj.cards)))
    proj.multiply_into(out, m.reshape(rows * k, sep))
    return out.reshape(rows, k, -1)


def exp_rows(logb: FloatArray, log_scale: FloatArray) -> FloatArray:
    """Exponentiate log-beliefs in place after subtracting each row's maximum (kept in ``log_scale``).

    Rows whose maximum is about log 0 (every configuration ruled out) become exact zeros.
    """
    top = logb.max(axis=1)
    impossible = top < IMPOSSIBLE
    top = np.where(impossible, 0.0, top)
    logb -= top[:, None]
    b = np.exp(logb, out=logb)
    if impossible.any():
        b[impossible] = 0.0
    log_scale += top
    return b


def hard_answers(lam: FloatArray) -> FloatArray | None:
    """Return the rows' one-hot answers (zeros for unanswered rows), or None if any row is soft."""
    if lam.shape[0] == 1:  # one row, a few values: plain Python is quicker than array calls
        values = lam[0].tolist()
        ones = values.count(1.0)
        if ones + values.count(0.0) != len(values):
            return None
        if len(values) == 1 or ones == 1:
            return lam
        return lam * 0.0 if ones == len(values) else None
    if not ((lam == 0.0) | (lam == 1.0)).all():
        return None
    card = lam.shape[1]
    sums = lam.sum(axis=1)
    if card == 1:
        return lam
    if not np.all((sums == 1.0) | (sums == card)):
        return None
    return lam * (sums == 1.0)[:, None]


def row_normalise(x: FloatArray) -> FloatArray:
    """Divide each row by its sum (rows summing to 0 stay 0)."""
    s = x.sum(axis=1, keepdims=True)
    return np.divide(x, s, out=np.zeros_like(x), where=s > 0)


def safe_div(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a / b``, and 0 where ``b`` is 0 (a configuration ruled out); ``b >= 0``, ``a`` finite."""
    return a / np.where(b > 0, b, np.inf)


def entropy_bits(p: FloatArray, axis: int | tuple[int, ...] = -1) -> FloatArray:
    """Return the Shannon entropy in bits along ``axis`` (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)
