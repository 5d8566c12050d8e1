"""Synthetic diagnostic networks for benchmarks: binary causes, many questions.

``make_diagnostic_network(n_causes=9, n_questions=40, seed=0)`` returns a
:class:`distancing_bn.network.Network` shaped like our questionnaire models:

* ``n_causes`` binary causes (``absent/present``) with leak priors in [0.05, 0.4] and a few
  cause -> cause links (noisy-OR; links always go from a lower to a higher index, so a DAG);
* ``n_questions`` questions, each with 1-4 parent causes; the even-numbered ones are yes/no
  (leaky noisy-OR), the odd-numbered ones three-level ``no/a_little/a_lot`` (leaky noisy-MAX).

Targets are the causes, observables the questions. Deterministic for a given seed.
"""

from __future__ import annotations

import os
import sys

import numpy as np

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from distancing_bn.cpt import noisy_max, noisy_or  # noqa: E402
from distancing_bn.network import Network  # noqa: E402

__all__ = ["make_diagnostic_network", "sample_evidence"]

CAUSE_STATES = ("absent", "present")


def make_diagnostic_network(n_causes: int = 9, n_questions: int = 40, seed: int = 0, n_links: int = 3) -> Network:
    """Return a random leaky noisy-OR / noisy-MAX diagnostic network (see module docstring)."""
    rng = np.random.default_rng(seed)
    causes = [f"C{i}" for i in range(n_causes)]
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    # cause -> cause links: pairs (i < j), distinct
    pairs = [(i, j) for i in range(n_causes) for j in range(i + 1, n_causes)]
    chosen = rng.choice(len(pairs), size=min(n_links, len(pairs)), replace=False)
    incoming: dict[int, list[int]] = {j: [] for j in range(n_causes)}
    for k in sorted(int(c) for c in chosen):
        i, j = pairs[k]
        incoming[j].append(i)
    for j, c in enumerate(causes):
        prior = float(rng.uniform(0.05, 0.4))
        srcs = incoming[j]
        states[c] = CAUSE_STATES
        parents[c] = tuple(causes[i] for i in srcs)
        cpts[c] = noisy_or(prior, [float(rng.uniform(0.2, 0.6)) for _ in srcs])
    questions = []
    for q in range(n_questions):
        name = f"Q{q:02d}"
        questions.append(name)
        k = int(rng.integers(1, 5))
        ps = sorted(int(x) for x in rng.choice(n_causes, size=min(k, n_causes), replace=False))
        parents[name] = tuple(causes[i] for i in ps)
        if q % 2 == 0:
            states[name] = ("no", "yes")
            leak = float(rng.uniform(0.02, 0.2))
            cpts[name] = noisy_or(leak, [float(rng.uniform(0.3, 0.9)) for _ in ps])
        else:
            states[name] = ("no", "a_little", "a_lot")
            leak = rng.uniform(0.01, 0.1, size=2)
            strengths = []
            for _ in ps:
                s = rng.dirichlet([1.0, 1.5, 1.5])  # P(no), P(a_little), P(a_lot) from this parent
                s = 0.05 + 0.95 * s  # keep every level possible
                s = s / s.sum()
                strengths.append([float(s[1]), float(s[2])])
            cpts[name] = noisy_max([float(x) for x in leak], strengths)
    return Network.create(
        f"synthetic_{n_causes}x{n_questions}_s{seed}", states, parents, cpts, targets=causes, observables=questions
    )


def sample_evidence(
    network: Network, rows: int, frac: float = 0.25, seed: int = 0, among: list[str] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Forward-sample ``rows`` full assignments; return one-hot evidence on a random subset.

    For each row, ``round(frac * len(among))`` of the ``among`` variables (default: the
    observables) are answered with their sampled value. Returns ``(likelihoods, values,
    names)`` where ``likelihoods`` maps every variable of ``among`` to a ``(rows, card)``
    matrix (all ones where unanswered in that row), ``values`` is the ``(rows, n_vars)`` int
    sample in ``network.variables`` order, and ``names`` is ``among``.
    Since the evidence is a sub-assignment of a sampled world, P(e) > 0 for every row.
    """
    rng = np.random.default_rng(seed)
    idx = network.index
    vals = np.zeros((rows, len(network.variables)), dtype=np.int64)
    for v in network.variables:  # topological order
        cpt = network.cpts[v]
        ps = network.parents[v]
        probs = cpt[tuple(vals[:, idx[p]] for p in ps)] if ps else np.broadcast_to(cpt, (rows, cpt.shape[-1]))
        u = rng.random(rows)[:, None]
        cdf = np.cumsum(probs, axis=1)
        vals[:, idx[v]] = np.minimum((u > cdf).sum(axis=1), cpt.shape[-1] - 1)
    names = list(network.observables if among is None else among)
    n_ans = round(frac * len(names))
    # a random subset of n_ans answered variables per row
    keys = rng.random((rows, len(names)))
    answered = np.argsort(keys, axis=1)[:, :n_ans]
    mask = np.zeros((rows, len(names)), dtype=bool)
    np.put_along_axis(mask, answered, True, axis=1)
    lik: dict[str, np.ndarray] = {}
    for j, v in enumerate(names):
        card = network.card(v)
        m = np.ones((rows, card))
        r = np.nonzero(mask[:, j])[0]
        m[r] = 0.0
        m[r, vals[r, idx[v]]] = 1.0
        lik[v] = m
    return lik, vals, names


if __name__ == "__main__":
    net = make_diagnostic_network()
    print(net.name, len(net.variables), "variables;", "targets", net.targets)
    for c in net.targets:
        print(c, net.parents[c])
