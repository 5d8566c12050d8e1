"""Question-policy evaluation on simulated cases.

Cases are sampled from the model itself (causes hidden, every question answered). Three
policies reveal answers one question at a time:

- ``eig``: adaptive, the unasked question with the largest expected information gain for that
  case's answers so far (criterion ``joint`` by default), batched over all cases at each step;
- ``random``: a random order per case;
- ``fixed``: one order for everyone, questions sorted once by their prior information gain.

After each number of questions asked it reports the top-1 accuracy (is the most probable cause
truly present? over cases with at least one cause present), the mean Brier score and the mean
log-loss of the causes' marginals. Exact inference throughout; only the cases are random.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .evidence import from_codes
from .information import batch_gains_from_evidence

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .model import Model

__all__ = ["SimulationResult", "batch_gains", "batch_gains_from_evidence", "sample_cases", "simulate"]


def sample_cases(model: Model, n: int, *, seed: int | None = 0) -> dict[str, NDArray[np.int64]]:
    """Draw ``n`` joint samples given the model's premise; return variable -> state index per case.

    Forward sampling; where the model has always-observed questions, cases in which they take
    another answer are drawn again (rejection sampling), so the cases follow the same
    distribution as every posterior, which is conditioned on the premise.

    Raises
    ------
    ValueError
        The premise held in too few draws (see ``_MAX_DRAWS``).
    """
    net = model.network
    if not net.observed:
        return _forward(model, n, seed)
    want = {q: net.states[q].index(a) for q, a in net.observed.items()}
    parts: list[dict[str, NDArray[np.int64]]] = []
    have = 0
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_DRAWS):
        draw = _forward(model, max(n, 64), int(rng.integers(2**31)))
        keep = np.ones(max(n, 64), dtype=bool)
        for q, k in want.items():
            keep &= draw[q] == k
        parts.append({v: a[keep] for v, a in draw.items()})
        have += int(keep.sum())
        if have >= n:
            return {v: np.concatenate([p[v] for p in parts])[:n] for v in draw}
    raise ValueError(f"the model's premise held in too few sampled cases ({have} of {n} wanted)")


_MAX_DRAWS = 50  # rounds of rejection sampling before giving up on the premise


def _forward(model: Model, n: int, seed: int | None) -> dict[str, NDArray[np.int64]]:
    """Forward sampling from the joint (no conditioning)."""
    rng = np.random.default_rng(seed)
    net = model.network
    out: dict[str, NDArray[np.int64]] = {}
    for v in net.variables:
        ps = net.parents[v]
        cpt = net.cpts[v]
        card = net.card(v)
        flat = cpt.reshape(-1, card)
        idx = np.ravel_multi_index(tuple(out[p] for p in ps), cpt.shape[:-1]) if ps else np.zeros(n, dtype=np.int64)
        cum = np.cumsum(flat[idx], axis=1)
        u = rng.random(n)[:, None] * cum[:, -1:]
        out[v] = np.minimum((u >= cum).sum(axis=1), card - 1).astype(np.int64)
    return out


def batch_gains(
    model: Model, codes: Mapping[str, NDArray[np.int64]], n: int, *, criterion: str = "joint"
) -> NDArray[np.float64]:
    """Expected gain (bits) of every question for every row of answer codes (-1 = unanswered).

    Answered questions gain 0.
    """
    gains = batch_gains_from_evidence(model, from_codes(model.network, codes, n), criterion=criterion)
    for j, q in enumerate(model.questions):
        if q in codes:
            gains[np.asarray(codes[q]) >= 0, j] = 0.0
    return gains


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Per policy and number of questions asked: accuracy, Brier score, log-loss."""

    table: Any  # pandas DataFrame: policy, questions, top1_accuracy, brier, log_loss
    n_cases: int
    seed: int | None
    criterion: str

    def needed(self, tolerance: float = 0.01) -> dict[str, int | None]:
        """Questions each policy needs to come within ``tolerance`` of the all-questions accuracy."""
        t = self.table
        out: dict[str, int | None] = {}
        for policy, grp in t.groupby("policy", sort=False):
            full = float(grp["top1_accuracy"].iloc[-1])
            ks = grp["questions"].to_numpy()
            ok = grp[grp["top1_accuracy"] >= full - tolerance]
            first = int(ok["questions"].iloc[0]) if len(ok) else None
            gap = len(ks) > 1 and ks[-1] - ks[-2] > 1  # the simulation stopped at a budget
            out[str(policy)] = None if (first is None or (gap and first == ks[-1])) else first
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the long table."""
        return self.table

    def summary(self, every: int = 5) -> str:
        """Return a wide text table every ``every`` (>= 1) questions, and the questions needed."""
        _check_count("every", every, minimum=1)
        t = self.table
        wide = t.pivot(index="questions", columns="policy", values="top1_accuracy")
        brier = t.pivot(index="questions", columns="policy", values="brier")
        simulated = [k for k in wide.index if k < wide.index.max()]
        last = max(simulated) if simulated else None
        keep = [k for k in wide.index if k % every == 0 or k == wide.index.max() or k == last]
        lines = [
            f"Simulated {self.n_cases} cases (seed {self.seed}, criterion {self.criterion}).",
            "Top-1 accuracy (Brier) by number of questions asked:",
        ]
        pols = list(wide.columns)
        lines.append("  n  " + "".join(f"{p:>20}" for p in pols))
        for k in keep:
            lines.append(f"{k:3d}  " + "".join(f"{wide.loc[k, p]:>12.3f} ({brier.loc[k, p]:.3f})" for p in pols))
        need = self.needed()
        lines.append(
            "Questions needed to come within 1% of the all-questions accuracy: "
            + ", ".join(f"{p} {n if n is not None else 'more than simulated'}" for p, n in need.items())
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, *, ax: Axes | None = None, metric: str = "top1_accuracy", **kwargs: Any) -> Axes:
        """Draw the metric against questions asked, one line per policy; return the Axes."""
        from .plots import plot_policy_curves

        return plot_policy_curves(self, ax=ax, metric=metric, **kwargs)


def _check_count(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _metrics(
    model: Model, truth: Mapping[str, NDArray[np.int64]], codes: Mapping[str, NDArray[np.int64]], n: int
) -> tuple[float, float, float, NDArray[np.float64]]:
    out = model.marginals_from_codes(codes, n)
    causes = list(model.causes)
    infos = [model._info[c] for c in causes]
    p = np.column_stack([info.p(out[c]) for c, info in zip(causes, infos, strict=True)])
    y = np.column_stack([np.isin(truth[c], info.counted_states) for c, info in zip(causes, infos, strict=True)]).astype(
        float
    )
    has_any = y.sum(axis=1) > 0
    top = p.argmax(axis=1)
    acc = float(y[np.arange(n), top][has_any].mean()) if has_any.any() else float("nan")
    brier = float(((p - y) ** 2).mean())
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    log_loss = float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean())
    return acc, brier, log_loss, p


def simulate(
    model: Model,
    n_cases: int = 2000,
    *,
    seed: int | None = 0,
    policies: Sequence[str] = ("eig", "random", "fixed"),
    max_questions: int | None = None,
    criterion: str = "joint",
) -> SimulationResult:
    """Compare question policies on ``n_cases`` cases sampled from the model; see the module doc.

    Raises
    ------
    ValueError
        ``n_cases`` is not a whole number >= 1, ``seed`` not None or a whole number >= 0,
        ``max_questions`` not None or a whole number >= 0, or a policy is unknown.
    """
    import pandas as pd

    _check_count("n_cases", n_cases, minimum=1)
    if seed is not None:
        _check_count("seed", seed, minimum=0)
    if max_questions is not None:
        _check_count("max_questions", max_questions, minimum=0)

    rng = np.random.default_rng(None if seed is None else seed + 1)
    truth = sample_cases(model, n_cases, seed=seed)
    qs = list(model.questions)
    k_max = len(qs) if max_questions is None else min(max_questions, len(qs))
    full_codes = {q: truth[q] for q in qs}
    acc_all = _metrics(model, truth, full_codes, n_cases)
    prior_rank = model.rank_questions({}, criterion=criterion, costs=False, groups=False)  # type: ignore[arg-type]
    fixed_order = [q for q in prior_rank.to_frame()["question"]]
    rows = []
    for policy in policies:
        asked = np.zeros((n_cases, len(qs)), dtype=bool)
        if policy == "random":
            order = np.argsort(rng.random((n_cases, len(qs))), axis=1)
        elif policy == "fixed":
            order = np.tile([qs.index(q) for q in fixed_order], (n_cases, 1))
        elif policy != "eig":
            raise ValueError(f"unknown policy '{policy}'; valid: 'eig', 'random', 'fixed'")
        for k in range(k_max + 1):
            codes = {q: np.where(asked[:, j], truth[q], -1) for j, q in enumerate(qs)}
            if k == len(qs):
                acc, brier, ll = acc_all[:3]
            else:
                acc, brier, ll, _ = _metrics(model, truth, codes, n_cases)
            rows.append({"policy": policy, "questions": k, "top1_accuracy": acc, "brier": brier, "log_loss": ll})
            if k == k_max:
                break
            if policy == "eig":
                g = batch_gains(model, codes, n_cases, criterion=criterion)
                g[asked] = -1.0
                pick = g.argmax(axis=1)
            else:
                pick = order[:, k]
            asked[np.arange(n_cases), pick] = True
    if k_max < len(qs):
        for policy in policies:
            rows.append(
                {
                    "policy": policy,
                    "questions": len(qs),
                    "top1_accuracy": acc_all[0],
                    "brier": acc_all[1],
                    "log_loss": acc_all[2],
                }
            )
    return SimulationResult(pd.DataFrame(rows), n_cases, seed, criterion)
