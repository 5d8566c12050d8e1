"""Checks of the default knowledge base (issue 12): premise, calibration, robustness, separation.

Run from the repository root::

    PYTHONPATH=src python benchmarks/model_checks.py            # default model, 2,000 cases, seed 0
    PYTHONPATH=src python benchmarks/model_checks.py --cases 4000 --seed 1 --json out.json

Every case is drawn from a model by forward sampling and kept only when its always-observed
questions (the premise, ``distance_noticed = yes``) take their observed answer, so cases are
draws from P(everything | premise), the population the model speaks about. Inference is exact.

- **Premise**: P(no cause present | nothing answered), exact over the 2^k cause states, and
  the predicted answers of the generic signs.
- **Calibration**: expected calibration error (10 equal-width bins, every case x cause pair)
  of the cause posteriors, (a) with every question answered and (b) after the screens and a
  fixed number of adaptive questions.
- **Robustness**: cases drawn from a perturbed truth, scored with the unperturbed model:
  (i) every question-link strength x0.6 and every question leak x2, (ii) every probability
  resampled from a Beta (a Dirichlet for several answers) with its value as mean and
  concentration 20. Reported: single-cause accuracy (top cause is the one present) after the
  screens and 15 adaptive questions, and the share of calls (a cause at >= 0.9) that are right;
  and, as the ceiling, the same figures when the perturbed truth scores its own cases.
- **Separation**: for each cause, cases with that cause alone present (the others clamped
  absent) and every question answered: recall (top cause is that cause) and the confusion
  matrix (share of each cause's cases whose top cause is another).

The adaptive policy: the model's screens first (a checklist reveals all its items at once),
then, each step, the unasked question with the largest expected information gain about the
causes' joint (criterion ``joint``, no costs). Screens are not counted in "k questions".

Options (issue 15, part 4), each adding one check to the same run:

- ``--reliability-png FILE``: a reliability diagram of the cause posteriors (every answer, and
  after the screens and 8 adaptive questions) on the calibration cases, written to FILE.
- ``--confusion-steps K``: the separation cases (one cause present) scored after the screens
  and k = 0..K adaptive questions: recall per cause and the worst confusion at every k.
- ``--never-asked N``: N adaptive interviews (``simulate_interviews(model, N)``: the default
  criterion, stop rule and costs) re-run to record which questions each session asked; the
  questions no session asked are listed. Use ``--never-asked 0`` to skip.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from distancing_bn import load_model
from distancing_bn.model import Model
from distancing_bn.simulate import batch_gains
from distancing_bn.spec import _SafeLoader  # the project's loader: yes/no stay text

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models" / "distancing.yaml"
GENERIC_SIGNS = ("less_contact", "less_connected", "less_affection")
Codes = dict[str, NDArray[np.int64]]


# ----------------------------------------------------------------------------- sampling
def sample_given_premise(model: Model, n: int, *, seed: int = 0, clamp: Mapping[str, int] | None = None) -> Codes:
    """Draw ``n`` cases from P(all variables | observed premise), optionally with causes clamped.

    Forward sampling with rejection on the always-observed questions; ``clamp`` fixes the state
    index of some root-or-not variables (their own table is ignored, their children use it).
    """
    net = model.network
    rng = np.random.default_rng(seed)
    need = {v: net.states[v].index(s) for v, s in model.observed.items()}
    parts: list[Codes] = []
    got = 0
    while got < n:
        m = max(256, 2 * (n - got))
        out: Codes = {}
        for v in net.variables:
            if clamp and v in clamp:
                out[v] = np.full(m, clamp[v], dtype=np.int64)
                continue
            ps = net.parents[v]
            cpt = net.cpts[v]
            card = net.card(v)
            flat = cpt.reshape(-1, card)
            idx = np.ravel_multi_index(tuple(out[p] for p in ps), cpt.shape[:-1]) if ps else np.zeros(m, np.int64)
            cum = np.cumsum(flat[idx], axis=1)
            u = rng.random(m)[:, None] * cum[:, -1:]
            out[v] = np.minimum((u >= cum).sum(axis=1), card - 1).astype(np.int64)
        keep = np.ones(m, dtype=bool)
        for v, k in need.items():
            keep &= out[v] == k
        parts.append({v: a[keep] for v, a in out.items()})
        got += int(keep.sum())
    return {v: np.concatenate([p[v] for p in parts])[:n] for v in parts[0]}


def truth_matrix(model: Model, cases: Codes) -> NDArray[np.bool_]:
    """Return a boolean (n, causes) matrix: cause present in the case."""
    return np.column_stack([cases[c] == model.network.states[c].index("present") for c in model.causes])


def cause_posteriors(model: Model, codes: Mapping[str, NDArray[np.int64]], n: int) -> NDArray[np.float64]:
    """Return P(cause present | answers) as an (n, causes) array (the premise is always entered)."""
    out = model.marginals_from_codes(dict(codes), n)
    return np.column_stack([out[c][:, model.network.states[c].index("present")] for c in model.causes])


def all_answers(model: Model, cases: Codes) -> Codes:
    """Every askable question answered as in the case."""
    return {q: cases[q] for q in model.questions}


def adaptive_answers(model: Model, cases: Codes, n: int, k: int) -> Codes:
    """Answers after the screens and ``k`` greedy questions (max expected gain, joint criterion)."""
    qs = list(model.questions)
    asked = np.zeros((n, len(qs)), dtype=bool)
    for s in model.screens:
        items = model.groups[s].items if model.is_group(s) else (s,)
        for it in items:
            asked[:, qs.index(it)] = True
    for _ in range(k):
        codes = {q: np.where(asked[:, j], cases[q], -1) for j, q in enumerate(qs)}
        g = batch_gains(model, codes, n)
        g[asked] = -1.0
        asked[np.arange(n), g.argmax(axis=1)] = True
    return {q: np.where(asked[:, j], cases[q], -1) for j, q in enumerate(qs)}


# ----------------------------------------------------------------------------- metrics
def ece(p: NDArray[np.float64], y: NDArray[np.bool_], bins: int = 10) -> float:
    """Expected calibration error over all (case, cause) pairs, equal-width bins."""
    p, y = p.ravel(), y.ravel().astype(float)
    edges = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = edges == b
        if sel.any():
            total += sel.sum() / p.size * abs(p[sel].mean() - y[sel].mean())
    return float(total)


def single_cause_accuracy(p: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[float, int]:
    """Top-cause accuracy over cases with exactly one cause present; and how many there were."""
    one = y.sum(axis=1) == 1
    if not one.any():
        return float("nan"), 0
    return float(y[one][np.arange(int(one.sum())), p[one].argmax(axis=1)].mean()), int(one.sum())


def confident_calls(p: NDArray[np.float64], y: NDArray[np.bool_], at: float = 0.9) -> tuple[float, int]:
    """Share of (case, cause) pairs with posterior >= ``at`` whose cause is present; and their count."""
    sel = p >= at
    return (float(y[sel].mean()) if sel.any() else float("nan")), int(sel.sum())


# ----------------------------------------------------------------------------- premise
def premise_report(model: Model) -> dict[str, Any]:
    """P(no cause | premise) exactly, cause marginals, and predicted answers of generic signs."""
    net = model.network
    causes = list(model.causes)
    k = len(causes)
    grid = np.array(np.meshgrid(*[[0, 1]] * k, indexing="ij")).reshape(k, -1).T  # (2^k, k)
    col = {c: grid[:, i] for i, c in enumerate(causes)}
    logp = np.zeros(len(grid))
    for c in causes:
        ps = net.parents[c]
        idx = (*(col[p] for p in ps), col[c])
        logp += np.log(net.cpts[c][idx])
    for q, ans in model.observed.items():
        ps = net.parents[q]
        if not set(ps) <= set(causes):
            raise ValueError(f"observed question '{q}' has a non-cause parent; not handled here")
        idx = (*(col[p] for p in ps), np.full(len(grid), net.states[q].index(ans)))
        logp += np.log(net.cpts[q][idx])
    w = np.exp(logp - logp.max())
    w /= w.sum()
    p_none = float(w[grid.sum(axis=1) == 0].sum())
    prior = model.posterior({})
    probs = prior.probabilities
    marg = {c: float(probs[c]) for c in causes}
    signs: dict[str, dict[str, float]] = {}
    for s in GENERIC_SIGNS:
        if s not in model.questions:
            continue
        states = model.network.states[s]
        codes = {s: np.arange(len(states))}
        le = model.marginals_from_codes(codes, len(states))["__log_evidence__"][:, 0]
        base = model.marginals_from_codes({}, 1)["__log_evidence__"][0, 0]
        signs[s] = {a: float(np.exp(le[i] - base)) for i, a in enumerate(states)}
    mean_present = float((w * grid.sum(axis=1)).sum())
    return {"p_no_cause": p_none, "mean_causes_present": mean_present, "cause_marginals": marg, "generic_signs": signs}


# ----------------------------------------------------------------------------- perturbation
def _read(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)


def _levels(value: Any, f: Any) -> Any:
    if isinstance(value, Mapping):
        return {a: f(v) for a, v in value.items()}
    return f(value)


def _cap(d: Any, cap: float = 0.95) -> Any:
    if isinstance(d, Mapping):
        s = sum(d.values())
        return {a: v * cap / s for a, v in d.items()} if s > cap else d
    return min(d, cap)


def perturb(data: dict[str, Any], mode: str, *, seed: int = 0, concentration: float = 20.0) -> dict[str, Any]:
    """Return a perturbed copy of a model file's data: ``"shrink"`` or ``"beta"`` (see module doc)."""
    import copy

    d = copy.deepcopy(data)
    rng = np.random.default_rng(seed)

    def beta(p: float) -> float:
        if p <= 0 or p >= 1:
            return p
        return float(np.clip(rng.beta(concentration * p, concentration * (1 - p)), 1e-4, 1 - 1e-4))

    def dirichlet(levels: Mapping[str, float]) -> dict[str, float]:
        keys = list(levels)
        vals = [levels[a] for a in keys]
        rest = 1 - sum(vals)
        alpha = np.maximum(np.array([*vals, rest]) * concentration, 1e-3)
        x = rng.dirichlet(alpha)
        return {a: float(max(v, 1e-5)) for a, v in zip(keys, x[:-1], strict=True)}

    for q in d["questions"]:
        if "table" in q:
            if mode == "beta":
                for key, row in q["table"]["rows"].items():
                    x = rng.dirichlet(np.maximum(np.array(row) * concentration, 1e-3))
                    x = np.maximum(x, 1e-6)
                    q["table"]["rows"][key] = [float(v) for v in x / x.sum()]
            continue
        if mode == "shrink":
            q["leak"] = _cap(_levels(q["leak"], lambda v: 2 * v))
            for link in q["links"]:
                link["strength"] = _levels(link["strength"], lambda v: 0.6 * v)
        elif mode == "beta":
            q["leak"] = dirichlet(q["leak"]) if isinstance(q["leak"], Mapping) else beta(q["leak"])
            for link in q["links"]:
                s = link["strength"]
                link["strength"] = dirichlet(s) if isinstance(s, Mapping) else beta(s)
        else:
            raise ValueError(f"unknown perturbation '{mode}'; valid: 'shrink', 'beta'")
    if mode == "beta":
        for c in d["causes"]:
            c["prior"] = beta(c["prior"])
            for f in c.get("facets", []):
                f["p_present"] = beta(f["p_present"])
                f["p_absent"] = beta(f.get("p_absent", 0.0))
        for link in d.get("links", []):
            link["strength"] = beta(link["strength"])
    return d


def load_data(data: dict[str, Any]) -> Model:
    """Load a model from file data (written to a temporary file and validated as usual)."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "perturbed.yaml"
        p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return load_model(p)


# ----------------------------------------------------------------------------- the checks
def calibration(model: Model, n: int, seed: int, k: int) -> dict[str, Any]:
    """ECE with every answer and after the screens and ``k`` adaptive questions."""
    cases = sample_given_premise(model, n, seed=seed)
    y = truth_matrix(model, cases)
    p_all = cause_posteriors(model, all_answers(model, cases), n)
    p_k = cause_posteriors(model, adaptive_answers(model, cases, n, k), n)
    acc_all, n_one = single_cause_accuracy(p_all, y)
    acc_k, _ = single_cause_accuracy(p_k, y)
    return {
        "cases": n,
        "ece_all_answers": ece(p_all, y),
        f"ece_after_{k}": ece(p_k, y),
        "single_cause_cases": n_one,
        "single_cause_accuracy_all": acc_all,
        f"single_cause_accuracy_{k}": acc_k,
        "calls_right_all": confident_calls(p_all, y)[0],
        f"calls_right_{k}": confident_calls(p_k, y)[0],
    }


def robustness(model: Model, data: dict[str, Any], mode: str, n: int, seed: int, k: int) -> dict[str, Any]:
    """Cases from a perturbed truth scored with ``model``."""
    truth_model = load_data(perturb(data, mode, seed=seed))
    cases = sample_given_premise(truth_model, n, seed=seed + 7)
    y = truth_matrix(model, cases)
    p_k = cause_posteriors(model, adaptive_answers(model, cases, n, k), n)
    acc, n_one = single_cause_accuracy(p_k, y)
    right, calls = confident_calls(p_k, y)
    # the ceiling: the perturbed truth scoring its own cases (same questions policy)
    p_o = cause_posteriors(truth_model, adaptive_answers(truth_model, cases, n, k), n)
    return {
        "mode": mode,
        "cases": n,
        f"single_cause_accuracy_{k}": acc,
        "single_cause_cases": n_one,
        "calls_ge_0.9": calls,
        "calls_right": right,
        "ece": ece(p_k, y),
        f"oracle_single_cause_accuracy_{k}": single_cause_accuracy(p_o, y)[0],
        "oracle_calls_right": confident_calls(p_o, y)[0],
    }


def separation(model: Model, per_cause: int, seed: int) -> dict[str, Any]:
    """Recall and confusion in single-cause cases with every question answered."""
    causes = list(model.causes)
    absent = {c: model.network.states[c].index("absent") for c in causes}
    present = {c: model.network.states[c].index("present") for c in causes}
    conf = np.zeros((len(causes), len(causes)))
    for i, c in enumerate(causes):
        clamp = {**absent, c: present[c]}
        cases = sample_given_premise(model, per_cause, seed=seed + i, clamp=clamp)
        p = cause_posteriors(model, all_answers(model, cases), per_cause)
        top = p.argmax(axis=1)
        conf[i] = np.bincount(top, minlength=len(causes)) / per_cause
    recall = {c: float(conf[i, i]) for i, c in enumerate(causes)}
    off = conf.copy()
    np.fill_diagonal(off, 0)
    j, k = np.unravel_index(off.argmax(), off.shape)
    return {
        "per_cause": per_cause,
        "recall": recall,
        "confusion": conf.round(3).tolist(),
        "causes": causes,
        "worst_pair": [causes[j], causes[k], float(off[j, k])],
    }


def run(model_path: Path, n: int, seed: int, k_cal: int = 8, k_rob: int = 15, per_cause: int = 300) -> dict[str, Any]:
    """Run every check; return a JSON-able dict."""
    t0 = time.perf_counter()
    model = load_model(model_path)
    data = _read(model_path)
    out: dict[str, Any] = {"model": str(model_path), "seed": seed}
    out["premise"] = premise_report(model)
    out["calibration"] = calibration(model, n, seed, k_cal)
    out["calibration_15"] = calibration(model, n, seed, k_rob)
    out["robustness"] = [robustness(model, data, m, n, seed, k_rob) for m in ("shrink", "beta")]
    out["separation"] = separation(model, per_cause, seed)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# ----------------------------------------------------------------------------- part 4 options
def reliability_png(model: Model, n: int, seed: int, k: int, path: Path, bins: int = 10) -> dict[str, Any]:
    """Draw the reliability diagram (every answer; screens + ``k``) to ``path``; return its bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sample_given_premise(model, n, seed=seed)
    y = truth_matrix(model, cases).ravel().astype(float)
    series = {
        "every answer": cause_posteriors(model, all_answers(model, cases), n).ravel(),
        f"screens + {k} questions": cause_posteriors(model, adaptive_answers(model, cases, n, k), n).ravel(),
    }
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    out: dict[str, Any] = {"cases": n, "pairs": int(y.size), "file": str(path)}
    for label, p in series.items():
        b = np.minimum((p * bins).astype(int), bins - 1)
        cnt = np.bincount(b, minlength=bins)
        mp = [float(p[b == i].mean()) if cnt[i] else None for i in range(bins)]
        fr = [float(y[b == i].mean()) if cnt[i] else None for i in range(bins)]
        keep = [i for i in range(bins) if cnt[i]]
        e = ece(p, y.astype(bool), bins)
        ax.plot([mp[i] for i in keep], [fr[i] for i in keep], "o-", label=f"{label} (ECE {e:.3f})")
        out[label] = {"counts": cnt.tolist(), "mean_predicted": mp, "observed": fr, "ece": e}
    ax.set_xlabel("predicted P(cause present)")
    ax.set_ylabel("share of (case, cause) pairs with the cause present")
    ax.set_title(f"Default model, {n} sampled cases x {len(model.causes)} causes")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return out


def confusion_by_step(model: Model, per_cause: int, seed: int, steps: int) -> dict[str, Any]:
    """Recall per cause and the worst confusion in single-cause cases after the screens and k questions."""
    causes = list(model.causes)
    absent = {c: model.network.states[c].index("absent") for c in causes}
    present = {c: model.network.states[c].index("present") for c in causes}
    conf = np.zeros((steps + 1, len(causes), len(causes)))
    for i, c in enumerate(causes):
        cases = sample_given_premise(model, per_cause, seed=seed + i, clamp={**absent, c: present[c]})
        for k, codes in enumerate(adaptive_steps(model, cases, per_cause, steps)):
            top = cause_posteriors(model, codes, per_cause).argmax(axis=1)
            conf[k, i] = np.bincount(top, minlength=len(causes)) / per_cause
    rows = []
    for k in range(steps + 1):
        off = conf[k].copy()
        np.fill_diagonal(off, 0)
        a, b = np.unravel_index(off.argmax(), off.shape)
        diag = np.diag(conf[k])
        rows.append(
            {
                "k": k,
                "mean_recall": float(diag.mean()),
                "lowest_recall": [causes[int(diag.argmin())], float(diag.min())],
                "worst_pair": [causes[a], causes[b], float(off[a, b])],
                "recall": {c: float(diag[j]) for j, c in enumerate(causes)},
            }
        )
    return {"per_cause": per_cause, "steps": rows}


def adaptive_steps(model: Model, cases: Codes, n: int, steps: int) -> list[Codes]:
    """Answers after the screens and k = 0..``steps`` greedy questions (see :func:`adaptive_answers`)."""
    qs = list(model.questions)
    asked = np.zeros((n, len(qs)), dtype=bool)
    for s in model.screens:
        items = model.groups[s].items if model.is_group(s) else (s,)
        for it in items:
            asked[:, qs.index(it)] = True
    out: list[Codes] = []
    for k in range(steps + 1):
        codes = {q: np.where(asked[:, j], cases[q], -1) for j, q in enumerate(qs)}
        out.append(codes)
        if k == steps:
            break
        g = batch_gains(model, codes, n)
        g[asked] = -1.0
        asked[np.arange(n), g.argmax(axis=1)] = True
    return out


def never_asked(model: Model, n: int, seed: int) -> dict[str, Any]:
    """Run ``simulate_interviews(model, n)``, re-run its sessions, and list the questions none asked."""
    from distancing_bn.interviews import _answer_for, _Memo, sample_premise_cases, simulate_interviews
    from distancing_bn.session import Session

    report = simulate_interviews(model, n, seed=seed)
    truth = sample_premise_cases(model, n, seed=seed)
    net = model.network
    memo = _Memo(model, list(model.causes))
    times = dict.fromkeys(model.questions, 0)
    lengths = []
    for i in range(n):
        case = {v: int(a[i]) for v, a in truth.items() if v in net.states}
        s = Session(model, stop=report.stop, criterion="joint", costs=True)
        while (name := memo.decide(s)[0]) is not None:
            s.answer(name, _answer_for(model, name, case, set(s.asked)))
        lengths.append(s.steps)
        for q in s.answers:
            if q in times:
                times[q] += 1
    same = report.cases["questions"].tolist() == lengths
    never = sorted(q for q, t in times.items() if t == 0 and q not in model.observed)
    rare = sorted((t, q) for q, t in times.items() if 0 < t <= max(1, n // 100) and q not in model.observed)
    return {
        "sessions": n,
        "seed": seed,
        "median_steps": float(np.median(lengths)),
        "same_lengths_as_simulate_interviews": same,
        "questions": len(model.questions),
        "never_asked": never,
        "asked_in_at_most_1pct": [q for _, q in rare],
    }


def _print(res: dict[str, Any]) -> None:
    pr = res["premise"]
    print(f"model {res['model']}  seed {res['seed']}  ({res['seconds']} s)")
    print(
        f"premise: P(no cause | nothing answered) = {pr['p_no_cause']:.4f}; mean causes present {pr['mean_causes_present']:.2f}"
    )
    print("  cause marginals: " + ", ".join(f"{c} {v:.3f}" for c, v in pr["cause_marginals"].items()))
    for s, dist in pr["generic_signs"].items():
        print(f"  {s}: " + ", ".join(f"{a} {v:.2f}" for a, v in dist.items()))
    for key in ("calibration", "calibration_15"):
        print(
            key + ": " + ", ".join(f"{a} {v:.3f}" if isinstance(v, float) else f"{a} {v}" for a, v in res[key].items())
        )
    for r in res["robustness"]:
        print("robustness: " + ", ".join(f"{a} {v:.3f}" if isinstance(v, float) else f"{a} {v}" for a, v in r.items()))
    sep = res["separation"]
    print(f"separation ({sep['per_cause']} single-cause cases per cause, every question answered):")
    causes = sep["causes"]
    short = [c[:6] for c in causes]
    print("  true \\ top      " + " ".join(f"{s:>6}" for s in short) + "  recall")
    for i, c in enumerate(causes):
        print(f"  {c[:16]:<16} " + " ".join(f"{v:6.2f}" for v in sep["confusion"][i]) + f"  {sep['recall'][c]:.3f}")
    print(f"  worst confusion: {sep['worst_pair'][0]} -> {sep['worst_pair'][1]} {sep['worst_pair'][2]:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-cause", type=int, default=300)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    ap.add_argument("--reliability-png", type=Path, default=None, help="write a reliability diagram to this PNG")
    ap.add_argument("--confusion-steps", type=int, default=0, help="confusion after the screens and 0..K questions")
    ap.add_argument("--never-asked", type=int, default=200, help="adaptive interviews for the never-asked list")
    ap.add_argument("--only-options", action="store_true", help="skip the issue-12 checks; run only the options")
    a = ap.parse_args(argv)
    for name, low in (("cases", 1), ("per_cause", 1), ("confusion_steps", 0), ("never_asked", 0)):
        if getattr(a, name) < low:
            ap.error(f"--{name.replace('_', '-')} must be a whole number >= {low}")
    t0 = time.perf_counter()
    res = (
        {"model": str(a.model), "seed": a.seed}
        if a.only_options
        else run(a.model, a.cases, a.seed, per_cause=a.per_cause)
    )
    if not a.only_options:
        _print(res)
    model = load_model(a.model)
    if a.reliability_png:
        r = reliability_png(model, a.cases, a.seed, 8, a.reliability_png)
        res["reliability"] = r
        print(
            f"reliability diagram written to {a.reliability_png}: "
            + ", ".join(f"{k} ECE {v['ece']:.4f}" for k, v in r.items() if isinstance(v, dict))
        )
    if a.confusion_steps:
        c = confusion_by_step(model, a.per_cause, a.seed, a.confusion_steps)
        res["confusion_by_step"] = c
        print(f"confusion by question count ({c['per_cause']} single-cause cases per cause; k after the screens):")
        for r in c["steps"]:
            lo, wp = r["lowest_recall"], r["worst_pair"]
            print(
                f"  k={r['k']:2d}  mean recall {r['mean_recall']:.3f}  lowest {lo[0]} {lo[1]:.3f}"
                f"  worst {wp[0]} -> {wp[1]} {wp[2]:.3f}"
            )
    if a.never_asked:
        nv = never_asked(model, a.never_asked, a.seed)
        res["never_asked"] = nv
        print(
            f"{nv['sessions']} adaptive interviews (median {nv['median_steps']:g} steps; lengths match "
            f"simulate_interviews: {nv['same_lengths_as_simulate_interviews']}): "
            f"{len(nv['never_asked'])} of {nv['questions']} questions never asked"
        )
        print("  never asked: " + (", ".join(nv["never_asked"]) or "none"))
        print("  asked in at most 1% of sessions: " + (", ".join(nv["asked_in_at_most_1pct"]) or "none"))
    res["seconds_total"] = round(time.perf_counter() - t0, 1)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
