"""The inference engine: a network compiled once, queried many times, exactly.

The one entry is :func:`compile_engine` (``Model.engine`` calls it): it returns an
:class:`Engine` whose methods give posteriors (``query``, ``marginals``, ``joint``), the exact
joint gain (``joint_gains``, ``best_questions``) and every candidate's expected gain for a batch
(``expected_gains``). The layers above the engine import only the names listed in ``__all__``
below, from this package, never a submodule or a name with a leading underscore.

Layers, bottom to top; a module imports only modules of lower layers (never one above it, nor
this package's ``__init__``), so there is no import cycle (``tests/test_engine_layers.py``
walks the run-time imports and fails on a cycle or on a private import from outside):

0. :mod:`.kernels` — numpy only: projections, row normalisation, safe division, ``exp`` of
   log-beliefs per row, a bounded cache.
1. :mod:`.plan` — the shape of a junction tree: triangulation, merging, spanning tree, root
   clique, memory estimate (:class:`MemoryEstimate`, :func:`estimate_memory`).
2. :mod:`.propagate` — the compiled tree: build its arrays, collect, distribute, log-evidence
   (:class:`QueryResult`).
3. :mod:`.gains` — the exact joint-gain kernels on a compiled tree; :mod:`.relevance` — what
   the evidence makes irrelevant (barren variables, hard-answer cuts, d-separated parts) and
   the smaller networks that remain; :mod:`.oneshot` — exact queries of such a network planned
   and run in one go; :mod:`.local`, :mod:`.noisyor` — the noisy-OR / noisy-MAX backend.
4. :mod:`.compiled` — the :class:`Engine` and :func:`compile_engine`, which pick among the
   layers below; :func:`impossible_evidence`.
5. this ``__init__`` — re-exports the public names.

Outside the package, :mod:`distancing_bn.network`, :mod:`distancing_bn.errors` and (for
:func:`impossible_evidence`) :mod:`distancing_bn.evidence` are the only modules the engine uses.
"""

from __future__ import annotations

from ..network import DEFAULT_MEMORY_BUDGET
from .compiled import Engine, compile_engine, impossible_evidence, noisy_backend_applies
from .gains import BestQuestions
from .kernels import entropy_bits
from .noisyor import check_backend
from .plan import MemoryEstimate, estimate_memory
from .propagate import QueryResult

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "BestQuestions",
    "Engine",
    "MemoryEstimate",
    "QueryResult",
    "check_backend",
    "compile_engine",
    "entropy_bits",
    "estimate_memory",
    "impossible_evidence",
    "noisy_backend_applies",
]
