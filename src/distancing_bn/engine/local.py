"""Local structure read from the tables themselves: which variables are noisy-OR / noisy-MAX.

A variable ``Y`` with levels ``0 … K-1`` has *product-form cumulative tables* when, for every
level ``y``, ``P(Y <= y | x) = L_y · Π_i g_{i,y}(x_i)``: a constant times one function per
parent. A leaky noisy-OR (``K = 2``) and a leaky noisy-MAX over binary parents are exactly
this with ``g_{i,y}(absent) = 1`` and ``g_{i,y}(present)`` the cumulative distribution of the
levels that parent alone produces; the leak is ``L``. Nothing else is assumed: the test is run
on the numbers of the table (to ``1e-12``), so a table written out by hand, read from a BIF
file or built by :func:`distancing_bn.cpt.noisy_max` is found alike, and a table that is not of
this form (one entry moved by more than the tolerance) is not.

Why it matters (see :mod:`distancing_bn.engine.noisyor`): the likelihood of the lowest answer,
``P(Y = 0 | x) = L_0 Π_i g_{i,0}(x_i)``, is a product of one factor per parent, so such an
answer couples none of its parents; every other answer is a difference of two such products.

Imports numpy and :mod:`distancing_bn.network` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..network import Network

__all__ = ["DETECT_TOLERANCE", "NoisyMax", "detect_noisy", "local_structure"]

FloatArray = NDArray[np.float64]
DETECT_TOLERANCE = 1e-12  # largest |P(Y <= y | x) − product form| accepted, over every entry
Kind = Literal["noisy-or", "noisy-max", "product"]


@dataclass(frozen=True, eq=False)
class NoisyMax:
    """A variable whose cumulative table factorises over its parents (see the module docstring).

    Attributes
    ----------
    variable, parents
        The variable and its parents, in the order of its table's axes.
    kind
        ``'noisy-or'`` (two levels) or ``'noisy-max'`` (more) when every parent is binary and
        its state 0 is the inactive one (each ``g_{i,y}(1)`` a probability, non-decreasing in
        ``y``); ``'product'`` when the cumulative table factorises all the same (an inhibiting
        parent, parents with more states).
    cumulative_leak
        ``(K,)``: ``L_y``, with ``L_{K-1} = 1``.
    factors
        Per parent, ``(K, card)``: ``g_{i,y}(s)``, with ``g_{i,K-1} = 1``; ``g_{i,y}(0) = 1``
        whenever ``P(Y <= y | x)`` is not zero for every ``x``.
    """

    variable: str
    parents: tuple[str, ...]
    kind: Kind
    cumulative_leak: FloatArray
    factors: tuple[FloatArray, ...]

    @property
    def levels(self) -> int:
        """The number of levels ``K`` of the variable."""
        return int(self.cumulative_leak.shape[0])

    @property
    def leak(self) -> FloatArray:
        """``(K,)``: the level distribution when every parent is in its state 0."""
        cdf = self.cumulative_leak * np.prod([f[:, 0] for f in self.factors], axis=0)
        return np.diff(cdf, prepend=0.0)

    @property
    def strengths(self) -> FloatArray | None:
        """``(parents, K)``: per binary parent, the level distribution it produces alone.

        That is, the noisy-MAX activation parameters (for noisy-OR, column 1 is the usual
        link strength). ``None`` unless every parent has two states.
        """
        if any(f.shape[1] != 2 for f in self.factors):
            return None
        if not self.factors:
            return np.zeros((0, self.levels))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.stack(
                [np.where(f[:, 0] > 0, f[:, 1] / np.where(f[:, 0] > 0, f[:, 0], 1.0), 1.0) for f in self.factors]
            )
        return np.diff(ratio, prepend=0.0, axis=1)

    def cumulative(self) -> FloatArray:
        """Rebuild ``P(Y <= y | x)`` from the parameters: shape ``(*parent cards, K)``."""
        n = len(self.factors)
        out = self.cumulative_leak.reshape((1,) * n + (-1,))
        for i, f in enumerate(self.factors):
            shape = [1] * (n + 1)
            shape[i] = f.shape[1]
            shape[-1] = f.shape[0]
            out = out * f.T.reshape(shape)
        return np.broadcast_to(out, (*(f.shape[1] for f in self.factors), self.levels)).copy()


def detect_noisy(network: Network, variable: str, *, tolerance: float = DETECT_TOLERANCE) -> NoisyMax | None:
    """Return the product-form parameters of ``variable``'s table, or ``None`` if it has none.

    Every level's cumulative table is compared, entry by entry, with the product of its
    one-parent slices through the configuration where it is largest; all of it in array
    operations (one per parent), never a loop over entries.
    """
    cpt = network.cpts[variable]
    parents = network.parents[variable]
    n = len(parents)
    k = cpt.shape[-1]
    cdf = np.cumsum(cpt, axis=-1)
    cdf[..., -1] = 1.0
    leak = np.ones(k)
    factors = [np.ones((k, cpt.shape[i])) for i in range(n)]
    for y in range(k - 1):
        f = cdf[..., y]
        ref = np.unravel_index(int(np.argmax(f)), f.shape) if n else ()
        top = float(f[ref])
        if top <= tolerance:  # P(Y <= y | x) is zero everywhere: L_y = 0
            if top > 0.0:
                return None
            leak[y] = 0.0
            continue
        model = np.full(f.shape, top)
        for i in range(n):
            index = list(ref)
            index[i] = slice(None)
            g = f[tuple(index)] / top  # (card_i,)
            factors[i][y] = g
            shape = [1] * n
            shape[i] = g.shape[0]
            model = model * g.reshape(shape)
        if np.max(np.abs(model - f)) > tolerance:
            return None
        # put the constant in L_y and scale each parent's factor to 1 in its state 0 when possible
        scale = top
        for i in range(n):
            g0 = factors[i][y, 0]
            if g0 > 0:
                factors[i][y] /= g0
                scale *= g0
        leak[y] = scale
    frozen = []
    for fac in factors:
        fac.setflags(write=False)
        frozen.append(fac)
    leak.setflags(write=False)
    return NoisyMax(variable, tuple(parents), _kind(network, parents, leak, frozen, k), leak, tuple(frozen))


def _kind(network: Network, parents: tuple[str, ...], leak: FloatArray, factors: list[FloatArray], k: int) -> Kind:
    """Noisy-OR / noisy-MAX when every parent is binary with state 0 inactive; else ``'product'``."""
    causal = all(network.card(p) == 2 for p in parents) and all(
        np.all(f[:, 0] == 1.0) and np.all(f[:, 1] <= 1.0 + 1e-12) and np.all(np.diff(f[:, 1]) >= -1e-12)
        for f in factors
    )
    if not causal:
        return "product"
    return "noisy-or" if k == 2 else "noisy-max"


def local_structure(network: Network, *, tolerance: float = DETECT_TOLERANCE) -> Mapping[str, NoisyMax | None]:
    """Every variable of ``network`` -> its :class:`NoisyMax` parameters, or ``None`` if its table has none.

    A variable without parents, or with one, always has them (any table over one parent is a
    product of one factor); what matters is a variable with several parents.
    """
    return {v: detect_noisy(network, v, tolerance=tolerance) for v in network.variables}
