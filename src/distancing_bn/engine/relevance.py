"""What the evidence makes irrelevant, and the smaller networks that remain.

Given which variables carry evidence (answered questions, the premise) and which are wanted
(marginals asked for; every target when their joint is), a query needs only part of the
network, with the same answers exactly:

* **Barren variables.** A variable that is neither evidence nor wanted and has no descendant
  that is, sums out to 1: only the *ancestral set* of the evidence and the wanted variables
  is kept (an unanswered question is always barren unless asked for).
* **Hard evidence cuts.** A variable answered with one state in every row (``E = e``) fixes
  its children's tables: each child gets its own copy of ``E`` (a root with a uniform prior and
  the same answer), and ``E`` keeps only its parents. The product of tables is unchanged except
  for a factor ``1 / |E|`` per copy, which :attr:`Reduction.log_offset` gives back to
  ``log P(e)``.
* **d-separated parts.** After the cuts, the network falls apart into connected parts, each
  with its own factor of ``P(e)``: those holding a wanted variable form :attr:`Reduction.query`
  (collect and distribute), the others :attr:`Reduction.evidence` (a collect pass for their
  ``log P(e)`` only). ``log P(e)`` is the sum of both plus the offset, exactly.

The networks returned are plain :class:`~distancing_bn.network.Network` objects (shared,
read-only tables; nothing is copied but the copies' uniform priors), compiled by the layers
above like any other. Layer 3 of :mod:`distancing_bn.engine`: imports numpy and
:mod:`distancing_bn.network` only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..network import Network

__all__ = ["Reduction", "Relevance"]

_COPY = "\u2063"  # invisible separator: a copy of an answered variable is named E⁣→child (never a user's name)


@dataclass(frozen=True, eq=False)
class Reduction:
    """The networks a query needs, for one set of evidence and wanted variables.

    Attributes
    ----------
    query
        The connected parts holding a wanted variable (``None``: nothing is wanted).
    evidence
        The parts with evidence but nothing wanted (``None``: there are none).
    copies
        Copy name -> the answered variable whose likelihood it takes.
    log_offset
        ``Σ log |E|`` over the copies: add it to the parts' ``log P(e)``.
    kept
        Variables kept in all (copies included).
    """

    query: Network | None
    evidence: Network | None
    copies: MappingProxyType[str, str]
    log_offset: float
    kept: int


class Relevance:
    """The graph facts of one network that reductions need, computed once (bit masks over variables)."""

    def __init__(self, network: Network) -> None:
        net = network
        self.network = net
        idx = net.index
        names = net.variables
        self.children: dict[str, list[str]] = {v: [] for v in names}
        for v in names:
            for p in net.parents[v]:
                self.children[p].append(v)
        self.ancestors: list[int] = [0] * len(names)  # bit i: variable i; each variable is its own ancestor
        for i, v in enumerate(names):  # topological order: parents first
            mask = 1 << i
            for p in net.parents[v]:
                mask |= self.ancestors[idx[p]]
            self.ancestors[i] = mask
        self.inner = frozenset(v for v in net.observables if self.children[v])  # answered, they can cut
        self.premise = tuple(net.observed)

    def kept_count(self, evidence: Iterable[str], wanted: Iterable[str]) -> int:
        """How many variables the ancestral set of ``evidence`` and ``wanted`` holds (before any cut)."""
        return self._ancestral(evidence, wanted).bit_count()

    def _ancestral(self, evidence: Iterable[str], wanted: Iterable[str]) -> int:
        idx = self.network.index
        anc = self.ancestors
        mask = 0
        for v in (*evidence, *wanted, *self.premise):
            mask |= anc[idx[v]]
        return mask

    def reduce(self, evidence: Collection[str], cut: Collection[str], wanted: Collection[str]) -> Reduction:
        """The reduction for ``evidence`` (variables answered in some row), ``cut`` (answered with one state in
        every row; a subset of :attr:`inner`) and ``wanted`` (variables whose marginals or joint are asked)."""
        net = self.network
        names = net.variables
        mask = self._ancestral(evidence, wanted)
        kept = [v for i, v in enumerate(names) if mask >> i & 1]
        keep = set(kept)
        parents: dict[str, tuple[str, ...]] = {v: net.parents[v] for v in kept}
        copies: dict[str, str] = {}
        for s in cut:
            if s not in keep:
                continue
            for c in self.children[s]:
                if c in keep:
                    copy = f"{s}{_COPY}{c}"
                    copies[copy] = s
                    parents[c] = tuple(copy if p == s else p for p in parents[c])
        # connected parts: a variable and its (possibly copied) parents share a part
        group = {v: v for v in (*copies, *kept)}

        def find(x: str) -> str:
            while group[x] != x:
                group[x] = group[group[x]]
                x = group[x]
            return x

        for v in kept:
            for p in parents[v]:
                a, b = find(v), find(p)
                if a != b:
                    group[a] = b
        want = set(wanted)
        wanted_parts = {find(v) for v in want}
        in_query = [v for v in (*copies, *kept) if find(v) in wanted_parts]
        in_evidence = [v for v in (*copies, *kept) if find(v) not in wanted_parts]
        query = self._network(in_query, parents, copies, "relevant") if in_query else None
        evidence_net = None
        ev = set(evidence) | set(self.premise)
        if in_evidence and any(v in ev or v in copies for v in in_evidence):
            evidence_net = self._network(in_evidence, parents, copies, "evidence", roles=False)
        offset = sum(math.log(net.card(s)) for s in copies.values())
        return Reduction(query, evidence_net, MappingProxyType(copies), offset, len(kept) + len(copies))

    def _network(
        self,
        variables: list[str],
        parents: dict[str, tuple[str, ...]],
        copies: dict[str, str],
        suffix: str,
        *,
        roles: bool = True,
    ) -> Network:
        """A network over ``variables`` (copies first, then in the original topological order)."""
        net = self.network
        states = {}
        cpts = {}
        for v in variables:
            if v in copies:
                src = copies[v]
                states[v] = net.states[src]
                k = net.card(src)
                table = np.full(k, 1.0 / k)
                table.setflags(write=False)
                cpts[v] = table
            else:
                states[v] = net.states[v]
                cpts[v] = net.cpts[v]
        present = set(variables)
        observables = tuple(v for v in variables if v in copies or v in net.observable_set)
        return Network(
            name=f"{net.name}|{suffix}",
            variables=tuple(variables),
            states=MappingProxyType(states),
            parents=MappingProxyType({v: parents.get(v, ()) for v in variables}),
            cpts=MappingProxyType(cpts),
            targets=tuple(t for t in net.targets if t in present) if roles else (),
            observables=observables,
            reported=tuple(r for r in net.reported if r in present) if roles else (),
            observed=MappingProxyType({v: s for v, s in net.observed.items() if v in present}),
        )
