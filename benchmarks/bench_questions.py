"""Next-question benchmark (issue 4): ``Model.rank_questions`` vs brute-force pgmpy.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_questions.py [--quick] [--json PATH]

Setup: the default model (models/distancing.yaml), criterion ``joint`` (T = the joint of the
9 causes, 512 states), a quarter of the 63 questions answered with labels forward-sampled from
the model (so P(e) > 0), every unanswered question ranked.

* ours: median wall time of ``m.rank_questions(answers)`` (criterion joint, costs on) over many
  repeats on several evidence sets;
* brute force: pgmpy ``VariableElimination`` with one query per question and per answer:
  ``H(T|e)`` from one joint query of T, ``P(Q=a|e)`` from one query of Q, ``H(T|e,a)`` from one
  joint query of T per answer; gain = H(T|e) − Σ_a P(a|e) H(T|e,a). Timed on a few evidence
  sets only (it is slow);
* the gains of both are checked to agree to 1e-9 bits before anything is timed;
* ``lookahead=2`` timed once.

Writes JSON (default benchmarks/.results_questions.json) for benchmarks/run_all.py and prints a
summary. Targets (issue 4): ranking ≤ 5 ms; ≥ 500x the brute force.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

warnings.simplefilter("ignore")

TARGET_MS = 5.0
TARGET_RATIO = 500.0


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def evidence_sets(model, n_sets: int, seed: int) -> list[dict[str, str]]:
    """``n_sets`` answer dicts: a quarter of the questions (random subset), labels sampled."""
    from distancing_bn.simulate import sample_cases

    qs = list(model.questions)
    k = round(len(qs) / 4)
    cases = sample_cases(model, n_sets, seed=seed)
    rng = np.random.default_rng(seed + 1)
    out = []
    for r in range(n_sets):
        chosen = rng.choice(len(qs), size=k, replace=False)
        out.append({qs[j]: model.network.states[qs[j]][int(cases[qs[j]][r])] for j in sorted(chosen)})
    return out


class BruteForce:
    """Information gain of every unanswered question by pgmpy variable elimination."""

    def __init__(self, model) -> None:
        from pgmpy.inference import VariableElimination

        self.model = model
        self.ve = VariableElimination(model.to_pgmpy())
        self.targets = list(model.network.targets)
        self.queries = 0

    def _h_joint(self, ev: dict[str, str]) -> float:
        self.queries += 1
        f = self.ve.query(self.targets, evidence=ev, joint=True, show_progress=False)
        return entropy_bits(f.values)

    def _answer_probs(self, q: str, ev: dict[str, str]) -> np.ndarray:
        self.queries += 1
        f = self.ve.query([q], evidence=ev, show_progress=False)
        names = list(f.state_names[q])
        vals = np.asarray(f.values, dtype=float)
        return np.array([vals[names.index(s)] for s in self.model.network.states[q]])

    def gains(self, answers: dict[str, str]) -> dict[str, float]:
        h0 = self._h_joint(answers)
        out = {}
        for q in self.model.questions:
            if q in answers:
                continue
            pa = self._answer_probs(q, answers)
            expected = 0.0
            for s, p in zip(self.model.network.states[q], pa, strict=True):
                if p > 0:
                    expected += p * self._h_joint({**answers, q: s})
            out[q] = max(0.0, h0 - expected)
        return out


def run(quick: bool) -> dict:
    import distancing_bn as d

    m = d.load_model()
    n_sets = 4 if quick else 10
    repeats = 20 if quick else 100
    n_brute = 1 if quick else 3
    evs = evidence_sets(m, n_sets, seed=11)
    res: dict = {
        "model": "models/distancing.yaml",
        "questions": len(m.questions),
        "causes": len(m.causes),
        "joint_states": int(np.prod([m.network.card(t) for t in m.network.targets])),
        "answered": len(evs[0]),
        "evidence_sets": n_sets,
        "repeats": repeats,
        "load_start": os.getloadavg(),
    }
    log(
        f"bench_questions: {len(m.questions)} questions, {len(evs[0])} answered, {res['joint_states']} joint states;"
        f" load {os.getloadavg()[0]:.2f}"
    )
    # ---- correctness first (brute force on the evidence sets we will time it on)
    bf = BruteForce(m)
    brute_times = []
    maxdiff = 0.0
    for i in range(n_brute):
        ev = evs[i]
        bf.queries = 0
        t0 = time.perf_counter()
        g_bf = bf.gains(ev)
        brute_times.append(time.perf_counter() - t0)
        r = m.rank_questions(ev)
        ours = dict(zip(r.questions, r.gain_bits, strict=True))
        diff = max(abs(ours[q] - g) for q, g in g_bf.items())
        maxdiff = max(maxdiff, diff)
        log(
            f"  brute force set {i}: {brute_times[-1]:.1f} s, {bf.queries} pgmpy queries, max |ours - pgmpy| = {diff:.1e}"
        )
    res["brute"] = {
        "sets": n_brute,
        "times": brute_times,
        "median": float(np.median(brute_times)),
        "queries_per_set": bf.queries,
    }
    res["maxdiff_bits"] = maxdiff
    res["agree"] = bool(maxdiff <= 1e-9)
    if not res["agree"]:
        log(f"  WARNING: gains differ by {maxdiff:.2e} bits (> 1e-9)")
    # ---- ours: many repeats, every evidence set; median of per-call times
    per_set = []
    all_times = []
    for ev in evs:
        for _ in range(3):
            m.rank_questions(ev)  # warm-up
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            m.rank_questions(ev)
            ts.append(time.perf_counter() - t0)
        per_set.append(float(np.median(ts)))
        all_times += ts
    q1, med, q3 = np.percentile(all_times, [25, 50, 75])
    res["ours"] = {
        "median": float(med),
        "iqr": float(q3 - q1),
        "per_set_medians": per_set,
        "min": float(np.min(all_times)),
        "p90": float(np.percentile(all_times, 90)),
    }
    # same-run ratio on the brute-forced sets only (like for like), and overall
    ours_on_brute = float(np.median(per_set[:n_brute]))
    res["ratio"] = res["brute"]["median"] / ours_on_brute
    res["ours_on_brute_sets"] = ours_on_brute
    log(
        f"  ours rank_questions: median {med * 1e3:.2f} ms (IQR {(q3 - q1) * 1e3:.2f} ms) over {len(all_times)} calls;"
        f" brute force {res['brute']['median']:.1f} s → {res['ratio']:,.0f}x"
    )
    # ---- what the fast path costs inside: engine.joint_gains alone
    from distancing_bn.evidence import from_answers, normalise_answers

    ev = evs[0]
    norm = normalise_answers(m.network, ev)
    cands = [q for q in m.questions if q not in norm]
    lik = from_answers(m.network, norm).likelihoods
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        m.engine.joint_gains(lik, 1, cands)
        ts.append(time.perf_counter() - t0)
    res["joint_gains_only"] = float(np.median(ts))
    # ---- lookahead 2, once
    t0 = time.perf_counter()
    r2 = m.rank_questions(evs[0], lookahead=2)
    res["lookahead2"] = {
        "time": time.perf_counter() - t0,
        "best": r2.best,
        "best_myopic": m.rank_questions(evs[0]).best,
    }
    log(
        f"  lookahead=2: {res['lookahead2']['time']:.2f} s (best {r2.best}; myopic best {res['lookahead2']['best_myopic']})"
    )
    res["load_end"] = os.getloadavg()
    return res


def fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def report_md(res: dict) -> list[str]:
    """Markdown lines for RESULTS.md (used by run_all.py)."""
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    o = res["ours"]
    L = [
        f"Default model, criterion `joint` (T = joint of the {res['causes']} causes, {res['joint_states']} states), "
        f"{res['answered']} of {res['questions']} questions answered (labels forward-sampled from the model, random "
        f"quarter of the questions), every unanswered question ranked. Ours: `m.rank_questions(answers)` (costs on), "
        f"{res['repeats']} timed calls on each of {res['evidence_sets']} evidence sets after 3 warm-up calls. "
        f"Brute force: pgmpy `VariableElimination`, one query per question and answer "
        f"(H(T|e): 1 joint query; P(Q=a|e): 1 query per question; H(T|e,a): 1 joint query per answer — "
        f"{res['brute']['queries_per_set']} queries per evidence set), timed on the first {res['brute']['sets']} "
        f"evidence sets. Load average during the run: {res['load_start'][0]:.2f} → {res['load_end'][0]:.2f}.",
        "",
        f"Correctness (checked before timing): max |ours − pgmpy| over all gains = {res['maxdiff_bits']:.1e} bits "
        f"({'agree to 1e-9' if res['agree'] else 'DO NOT agree to 1e-9'}).",
        "",
        "| method | per full ranking (median) | spread | brute force / method |",
        "|---|---:|---:|---:|",
        f"| ours `rank_questions` (all {res['evidence_sets']} sets) | {fmt_t(o['median'])} | IQR {fmt_t(o['iqr'])}, "
        f"p90 {fmt_t(o['p90'])}, min {fmt_t(o['min'])} | {res['brute']['median'] / o['median']:,.0f}x |",
        f"| ours, on the {res['brute']['sets']} brute-forced sets | {fmt_t(res['ours_on_brute_sets'])} | | "
        f"{res['ratio']:,.0f}x |",
        f"| of which `Engine.joint_gains` alone (set 0) | {fmt_t(res['joint_gains_only'])} | | |",
        f"| pgmpy brute force | {fmt_t(res['brute']['median'])} | "
        f"{', '.join(fmt_t(t) for t in res['brute']['times'])} | 1x |",
        f"| ours `rank_questions(lookahead=2)` (once, set 0) | {fmt_t(res['lookahead2']['time'])} | "
        f"best {res['lookahead2']['best']} (myopic: {res['lookahead2']['best_myopic']}) | |",
        "",
        f"- target ranking ≤ {TARGET_MS:g} ms: {fmt_t(o['median'])} → {met(o['median'] * 1e3 <= TARGET_MS)}"
        + ("" if o["median"] * 1e3 <= TARGET_MS else f" ({o['median'] * 1e3 / TARGET_MS:.1f}x over)"),
        f"- target ≥ {TARGET_RATIO:g}x brute-force pgmpy (same run, same evidence sets): {res['ratio']:,.0f}x → "
        f"{met(res['ratio'] >= TARGET_RATIO)}"
        + ("" if res["ratio"] >= TARGET_RATIO else f" ({TARGET_RATIO / res['ratio']:.1f}x short)"),
        f"- gains agree with brute force to 1e-9 bits: {res['maxdiff_bits']:.1e} → {met(res['agree'])}",
    ]
    return L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(HERE / ".results_questions.json"))
    args = ap.parse_args()
    res = run(args.quick)
    res["command"] = "PYTHONPATH=src python benchmarks/bench_questions.py" + (" --quick" if args.quick else "")
    Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    print("\n".join(report_md(res)))


if __name__ == "__main__":
    main()
