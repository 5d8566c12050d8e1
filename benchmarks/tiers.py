"""The benchmark tiers of issue 16: seeded noisy-OR / noisy-MAX diagnostic networks, three ways.

``make_tier(n_causes, n_questions, seed)`` returns a :class:`distancing_bn.network.Network`:

* ``n_causes`` binary causes ``C00 …`` (``absent/present``) with priors drawn in [0.02, 0.3];
  ``round(n_causes / 3)`` cause-to-cause links, each from a lower to a higher index (so the
  graph is acyclic), a cause with incoming links being a leaky noisy-OR over them (its prior
  as the leak, strengths in [0.2, 0.6]);
* ``n_questions`` questions ``Q000 …``, each with 1–4 parent causes drawn without replacement;
  even-numbered ones yes/no (leaky noisy-OR, leak in [0.01, 0.1], strengths in [0.3, 0.9]),
  odd-numbered ones three levels ``no/some/a_lot`` (leaky noisy-MAX, each parent's levels drawn
  from a Dirichlet and kept at least 5% each).

``to_pgmpy`` / ``to_pyagrum`` build the same network for those libraries (the tests check that
the three agree on the CPTs and on posteriors); ``tier_evidence`` draws answer sets with a given
share of positive answers. :data:`TIERS` lists the four sizes of the issue. Imports numpy and
distancing_bn; pgmpy and pyAgrum only inside their builders.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from distancing_bn.cpt import noisy_max, noisy_or  # noqa: E402
from distancing_bn.network import Network  # noqa: E402

__all__ = ["TIERS", "make_tier", "tier_evidence", "to_pgmpy", "to_pyagrum"]

TIERS: tuple[tuple[int, int], ...] = ((9, 40), (15, 100), (20, 200), (30, 400))
CAUSE_STATES = ("absent", "present")
YES_NO = ("no", "yes")
THREE = ("no", "some", "a_lot")


def make_tier(n_causes: int, n_questions: int, seed: int = 0) -> Network:
    """Return the seeded tier network (see the module docstring); the same seed gives the same tables."""
    rng = np.random.default_rng([n_causes, n_questions, seed])
    causes = [f"C{i:02d}" for i in range(n_causes)]
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    pairs = [(i, j) for i in range(n_causes) for j in range(i + 1, n_causes)]
    n_links = min(round(n_causes / 3), len(pairs))
    chosen = sorted(int(k) for k in rng.choice(len(pairs), size=n_links, replace=False)) if n_links else []
    incoming: dict[int, list[int]] = {j: [] for j in range(n_causes)}
    for k in chosen:
        i, j = pairs[k]
        incoming[j].append(i)
    for j, c in enumerate(causes):
        prior = float(rng.uniform(0.02, 0.3))
        states[c] = CAUSE_STATES
        parents[c] = tuple(causes[i] for i in incoming[j])
        cpts[c] = noisy_or(prior, [float(rng.uniform(0.2, 0.6)) for _ in incoming[j]])
    questions = []
    for q in range(n_questions):
        name = f"Q{q:03d}"
        questions.append(name)
        k = int(rng.integers(1, 5))
        ps = sorted(int(x) for x in rng.choice(n_causes, size=min(k, n_causes), replace=False))
        parents[name] = tuple(causes[i] for i in ps)
        if q % 2 == 0:
            states[name] = YES_NO
            cpts[name] = noisy_or(float(rng.uniform(0.01, 0.1)), [float(rng.uniform(0.3, 0.9)) for _ in ps])
        else:
            states[name] = THREE
            leak = rng.uniform(0.005, 0.05, size=2)
            strengths = []
            for _ in ps:
                s = 0.05 + 0.85 * rng.dirichlet([1.0, 1.5, 1.5])
                s = s / s.sum()
                strengths.append([float(s[1]), float(s[2])])
            cpts[name] = noisy_max([float(x) for x in leak], strengths)
    return Network.create(
        f"tier_{n_causes}x{n_questions}_s{seed}", states, parents, cpts, targets=causes, observables=questions
    )


def tier_evidence(
    network: Network,
    rows: int,
    positive: float = 0.10,
    *,
    answered: float = 1.0,
    soft: float = 0.0,
    seed: int = 0,
) -> list[dict[str, int | tuple[float, ...]]]:
    """Answer sets: per row, ``round(answered·M)`` of the ``M`` questions answered, ``round(positive·M)`` positively.

    A positive answer is a level above the lowest (drawn among them); the other answered
    questions get the lowest level. ``soft``: the share of answered questions given as a random
    likelihood tuple instead. Every set has non-zero probability (every table is leaky).
    """
    rng = np.random.default_rng(seed)
    qs = list(network.observables)
    m = len(qs)
    n_ans = round(answered * m)
    n_pos = min(round(positive * m), n_ans)
    out: list[dict[str, int | tuple[float, ...]]] = []
    for _ in range(rows):
        chosen = rng.permutation(m)[:n_ans]
        row: dict[str, int | tuple[float, ...]] = {}
        for rank, j in enumerate(chosen):
            q = qs[int(j)]
            k = network.card(q)
            if rng.random() < soft:
                row[q] = tuple(float(x) for x in rng.uniform(0.05, 1.0, size=k))
            else:
                row[q] = int(rng.integers(1, k)) if rank < n_pos else 0
        out.append(row)
    return out


def likelihoods(network: Network, answers: Sequence[dict[str, int | tuple[float, ...]]]) -> dict[str, np.ndarray]:
    """Likelihood matrices ``(rows, states)`` for answer sets from :func:`tier_evidence` (unanswered: ones)."""
    rows = len(answers)
    out: dict[str, np.ndarray] = {}
    for q in network.observables:
        k = network.card(q)
        arr = np.ones((rows, k))
        given = False
        for r, row in enumerate(answers):
            a = row.get(q)
            if a is None:
                continue
            given = True
            arr[r] = np.eye(k)[a] if isinstance(a, int) else a
        if given:
            out[q] = arr
    return out


def to_pgmpy(network: Network) -> Any:
    """The same network as a pgmpy ``DiscreteBayesianNetwork`` (through distancing_bn.interop)."""
    from distancing_bn.interop import to_pgmpy as convert

    return convert(network)


def to_pyagrum(network: Network) -> Any:
    """The same network as a pyAgrum ``BayesNet``, every table filled in one call.

    pyAgrum keeps a CPT's variables as (child, parents…) and fills flat values with the last
    of them varying slowest, i.e. in the reverse order: the array is transposed to that order.
    """
    import pyagrum as gum

    bn = gum.BayesNet(network.name)
    for v in network.variables:
        bn.add(gum.LabelizedVariable(v, v, list(network.states[v])))
    for v in network.variables:
        for p in network.parents[v]:
            bn.addArc(p, v)
    for v in network.variables:
        cpt = bn.cpt(v)
        axis = {p: i for i, p in enumerate(network.parents[v])} | {v: len(network.parents[v])}
        perm = [axis[name] for name in reversed(cpt.names)]
        cpt.fillWith(np.transpose(network.cpts[v], perm).ravel().tolist())
    return bn


if __name__ == "__main__":
    for n, m in TIERS:
        net = make_tier(n, m)
        links = sum(len(net.parents[c]) for c in net.targets)
        print(net.name, f"{len(net.variables)} variables, {links} cause-to-cause links")
