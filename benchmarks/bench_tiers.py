"""Benchmark tiers of issue 16: our two backends vs pyAgrum and pgmpy, same run, warm engines.

Run from the repository root::

    python benchmarks/bench_tiers.py [--quick] [--out benchmarks/tiers_results.md] [--json FILE]

For each tier of :mod:`tiers` (9/40, 15/100, 20/200, 30/400; ``--tiers 9x40,15x100`` picks some):

* **single posterior of all causes**, one query per evidence set, a new set every query (so
  our noisy backend plans anew each time: its plan cache never helps), median over the sets:
  ours with the noisy-OR backend (:class:`distancing_bn.engine.noisyor.NoisyEngine`), ours with
  the junction tree (``compile_engine``, where it fits in ``--tree-limit`` bytes), pyAgrum's
  ``LazyPropagation`` (one object, reused: ``setEvidence`` then ``makeInference`` each time),
  pgmpy's ``VariableElimination`` (one ``joint=False`` query over the causes) where it runs;
* two evidence regimes: **positives** (p% of the questions answered, every answer positive: the
  case that couples the most causes per answer, and the one where pyAgrum prunes the most) and
  **questionnaire** (every question answered, p% positively); p = 10%, and its growth up to 30%;
* **batch posteriors**: one call for many rows, rows per second: the positives regime (10%), and
  forward samples of the network with a quarter of the questions answered (``synthetic.sample_evidence``);
* **next question**: the gain of every unanswered question (criterion ``marginal``, and
  ``joint`` where the causes' joint is small) for one evidence set of the positives regime,
  vs the per-answer pyAgrum loop (one inference per answer of every candidate; at the large
  tiers timed on a subset of the candidates and scaled to all of them, which is said).

Engines are built once (build time reported) and warmed by one query. A competitor whose single
query exceeds ``--cap`` seconds is stopped and reported as ">cap". One BLAS thread. Every
posterior is checked against pyAgrum (max abs difference in the table). ``--quick`` runs fewer
evidence sets, smaller batches and only the 10% shares. Imports numpy, distancing_bn, pyAgrum
and pgmpy.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from synthetic import sample_evidence  # noqa: E402
from tiers import TIERS, likelihoods, make_tier, tier_evidence, to_pgmpy, to_pyagrum  # noqa: E402

from distancing_bn.engine import compile_engine, estimate_memory  # noqa: E402
from distancing_bn.engine.noisyor import NoisyEngine  # noqa: E402
from distancing_bn.errors import ModelTooLargeError  # noqa: E402
from distancing_bn.network import Network  # noqa: E402

Answers = Mapping[str, int | tuple[float, ...]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt(t: float | None) -> str:
    """Seconds as µs / ms / s; None: not run."""
    if t is None:
        return "—"
    if math.isinf(t):
        return "timeout"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def one_row(net: Network, answers: Answers) -> dict[str, np.ndarray]:
    return likelihoods(net, [answers])


# ---------------------------------------------------------------------------- competitors
class Agrum:
    """One reused LazyPropagation with every cause as a target."""

    def __init__(self, net: Network) -> None:
        import pyagrum as gum

        self.net = net
        self.ie = gum.LazyPropagation(to_pyagrum(net))
        for t in net.targets:
            self.ie.addTarget(t)

    def posterior(self, answers: Answers) -> dict[str, np.ndarray]:
        ie = self.ie
        ie.setEvidence({q: (int(a) if isinstance(a, int) else list(a)) for q, a in answers.items()})
        ie.makeInference()
        return {v: ie.posterior(v).toarray() for v in self.net.targets}

    def predictive(self, answers: Answers, questions: Sequence[str]) -> dict[str, np.ndarray]:
        """P(question | answers) for unanswered questions (a second object, those as its targets)."""
        import pyagrum as gum

        ie = gum.LazyPropagation(self.ie.BN())
        for q in questions:
            ie.addTarget(q)
        ie.setEvidence({q: int(a) for q, a in answers.items()})  # type: ignore[call-overload]
        ie.makeInference()
        return {q: ie.posterior(q).toarray() for q in questions}


class Pgmpy:
    """VariableElimination, one joint=False query over the causes."""

    def __init__(self, net: Network) -> None:
        from pgmpy.inference import VariableElimination

        self.net = net
        self.ve = VariableElimination(to_pgmpy(net))

    def posterior(self, answers: Answers) -> dict[str, np.ndarray]:
        net = self.net
        ev = {q: net.states[q][int(a)] for q, a in answers.items()}  # type: ignore[call-overload]
        res = self.ve.query(list(net.targets), evidence=ev, joint=False, show_progress=False)
        return {
            t: np.array([res[t].values[res[t].state_names[t].index(s)] for s in net.states[t]]) for t in net.targets
        }


def timed(fn: Callable[[Any], Any], items: Sequence[Any], cap: float) -> tuple[float, list[Any]]:
    """Median seconds of ``fn`` over ``items`` (after one warm-up call); inf if a call exceeds ``cap``."""
    t0 = time.perf_counter()
    first = fn(items[0])
    if time.perf_counter() - t0 > cap:
        return math.inf, [first]
    out, times = [], []
    for it in items:
        t0 = time.perf_counter()
        out.append(fn(it))
        dt = time.perf_counter() - t0
        times.append(dt)
        if dt > cap:
            return math.inf, out
    return float(np.median(times)), out


def _cell(kind: str, n: int, m: int, answers: Sequence[Answers], cap: float, out: Any) -> None:
    """In a forked child: build the competitor for tier n/m and time it on ``answers``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_tier(n, m)
        runner = Agrum(net) if kind == "agrum" else Pgmpy(net)
        out.put(timed(runner.posterior, answers, cap))


def in_child(
    kind: str, n: int, m: int, answers: Sequence[Answers], cap: float, budget: float = 180.0
) -> tuple[float, list[Any]]:
    """Run a competitor's cell in a child process, killed after ``cap`` per query (a C++ call cannot be stopped)."""
    import multiprocessing
    import queue

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_cell, args=(kind, n, m, answers, cap, out), daemon=True)
    proc.start()
    try:
        result = out.get(timeout=min(budget, cap * (len(answers) + 2) + 30))
    except queue.Empty:
        result = (math.inf, [])
    if proc.is_alive():
        proc.kill()
    proc.join()
    return result


def max_diff(
    a: Sequence[Mapping[str, np.ndarray]], b: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
) -> float:
    d = 0.0
    for x, y in zip(a, b, strict=False):
        for t in names:
            d = max(d, float(np.max(np.abs(np.ravel(x[t]) - np.ravel(y[t])))))
    return d


# ---------------------------------------------------------------------------- gains
def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum())


def agrum_gains(pa: Agrum, net: Network, answers: Answers, cands: Sequence[str]) -> np.ndarray:
    """The marginal criterion by the per-answer loop: one inference per answer of every candidate."""
    base = pa.posterior(answers) | pa.predictive(answers, cands)
    h0 = sum(entropy_bits(base[t]) for t in net.targets)
    out = []
    for q in cands:
        p = base[q]
        h = 0.0
        for a in range(net.card(q)):
            if p[a] <= 0:
                continue
            post = pa.posterior({**answers, q: a})
            h += p[a] * sum(entropy_bits(post[t]) for t in net.targets)
        out.append(max(0.0, h0 - h))
    return np.array(out)


# ---------------------------------------------------------------------------- one tier
def run_tier(n: int, m: int, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {"tier": f"{n}/{m}"}
    log(f"== tier {n}/{m}")
    t0 = time.perf_counter()
    net = make_tier(n, m)
    ne = NoisyEngine(net)
    res["noisy_build"] = time.perf_counter() - t0
    jt = None
    try:
        est = estimate_memory(net)
        res["tree_largest"] = est.largest_states
        res["tree_bytes"] = est.tree_bytes
        if est.tree_bytes <= args.tree_limit:
            t0 = time.perf_counter()
            jt = compile_engine(net, backend="junction_tree")
            res["tree_compile"] = time.perf_counter() - t0
    except ModelTooLargeError as exc:
        res["tree_largest"] = exc.largest_states
        res["tree_bytes"] = None
    t0 = time.perf_counter()
    auto = compile_engine(net)  # what a user gets: the backend chosen per query by the cost estimate
    auto.query({}, 1)  # builds the noisy backend too, where it is weighed
    res["auto_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pa = Agrum(net)
    res["agrum_build"] = time.perf_counter() - t0
    run_pgmpy = n * m <= args.pgmpy_size
    sets = args.sets
    shares = (0.10,) if args.quick else (0.05, 0.10, 0.20, 0.30)
    for regime in ("positives", "questionnaire"):
        for share in shares:
            key = f"{regime}_{round(share * 100)}"
            answers = tier_evidence(net, sets, share, answered=share if regime == "positives" else 1.0, seed=17)
            rows = [one_row(net, a) for a in answers]
            row: dict[str, Any] = {}
            t, ours = timed(lambda r: ne.query(r, 1), rows, args.cap)
            row["noisy"] = t
            if jt is not None:
                row["tree"] = timed(lambda r: jt.query(r, 1), rows, args.cap)[0]
            row["auto"] = timed(lambda r: auto.query(r, 1), rows, args.cap)[0]
            row["auto_noisy"] = sum(auto.choose(r, 1).backend == "noisy" for r in rows) / len(rows)
            skip_agrum = res.get(f"{regime}_agrum_timeout", False)
            if skip_agrum:
                row["agrum"] = math.inf
            else:
                t, theirs = in_child("agrum", n, m, answers[: args.rival_sets], args.cap, args.cell_budget)
                row["agrum"] = t
                if math.isinf(t):
                    res[f"{regime}_agrum_timeout"] = True  # larger shares only get slower
                else:
                    mine = [{c: q.marginals[c][0] for c in net.targets} for q in ours]
                    row["maxdiff_agrum"] = max_diff(mine, theirs, net.targets)
            if run_pgmpy and share == 0.10:
                row["pgmpy"] = in_child("pgmpy", n, m, answers[: max(3, sets // 4)], args.cap, args.cell_budget)[0]
            res[key] = row
            log(
                f"  single {key}: "
                + ", ".join(f"{k} {fmt(v) if 'diff' not in k else f'{v:.1e}'}" for k, v in row.items())
            )
    # batch posteriors
    rows_n = args.batch if n <= 15 else max(50, args.batch // (4 if n <= 20 else 8))
    lik = likelihoods(net, tier_evidence(net, rows_n, 0.10, answered=0.10, seed=23))
    ne.query({q: a[:1] for q, a in lik.items()}, 1)
    t0 = time.perf_counter()
    ne.query(lik, rows_n)
    res["batch_noisy"] = rows_n / (time.perf_counter() - t0)
    res["batch_rows"] = rows_n
    t0 = time.perf_counter()
    auto.query(lik, rows_n)
    res["batch_auto"] = rows_n / (time.perf_counter() - t0)
    res["batch_auto_backend"] = auto.last_backend
    if jt is not None:
        t0 = time.perf_counter()
        jt.query(lik, rows_n)
        res["batch_tree"] = rows_n / (time.perf_counter() - t0)
    # forward samples of the network, a quarter of the questions answered (what a scored file looks like)
    lik, _, _ = sample_evidence(net, rows_n, 0.25, seed=31)
    t0 = time.perf_counter()
    ne.query(lik, rows_n)
    res["batch_sampled_noisy"] = rows_n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    auto.query(lik, rows_n)
    res["batch_sampled_auto"] = rows_n / (time.perf_counter() - t0)
    res["batch_sampled_auto_backend"] = auto.last_backend
    if jt is not None:
        t0 = time.perf_counter()
        jt.query(lik, rows_n)
        res["batch_sampled_tree"] = rows_n / (time.perf_counter() - t0)
    log(
        f"  batch {rows_n} rows: noisy {res['batch_noisy']:.0f} rows/s"
        + (f", tree {res['batch_tree']:.0f}" if jt else "")
    )
    # next question
    answers = tier_evidence(net, args.gain_sets, 0.10, answered=0.10, seed=29)
    cand_sets = [[q for q in net.observables if q not in a] for a in answers]
    rows = [one_row(net, a) for a in answers]
    ne.gains(rows[0], 1, cand_sets[0])
    t, got = timed(lambda i: ne.gains(rows[i], 1, cand_sets[i], criterion="marginal"), range(len(rows)), args.cap * 20)
    res["gain_noisy"] = t
    if ne.has_joint:
        res["gain_noisy_joint"] = timed(
            lambda i: ne.gains(rows[i], 1, cand_sets[i], criterion="joint"), range(len(rows)), args.cap * 20
        )[0]
    subset = cand_sets[0] if len(cand_sets[0]) <= args.gain_subset else cand_sets[0][: args.gain_subset]
    t0 = time.perf_counter()
    ref = agrum_gains(pa, net, answers[0], subset)
    dt = time.perf_counter() - t0
    res["gain_agrum"] = dt * len(cand_sets[0]) / len(subset)
    res["gain_agrum_scaled"] = len(subset) < len(cand_sets[0])
    res["gain_maxdiff"] = float(np.max(np.abs(got[0].gains[0, : len(subset)] - ref)))
    log(
        f"  next question over {len(cand_sets[0])} candidates: noisy {fmt(res['gain_noisy'])}, "
        f"pyAgrum loop {fmt(res['gain_agrum'])}{' (scaled)' if res['gain_agrum_scaled'] else ''}, "
        f"max diff {res['gain_maxdiff']:.1e}"
    )
    return res


# ---------------------------------------------------------------------------- report
def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "—"
    if math.isinf(a):
        return ">cap"
    return f"{a / b:.1f}×"


def report(results: list[dict[str, Any]], args: argparse.Namespace, cmd: str, elapsed: float) -> str:
    import pgmpy
    import pyagrum

    L = [
        "## Benchmark tiers (issue 16): noisy-OR backend vs junction tree vs pyAgrum vs pgmpy",
        "",
        f"Command: `{cmd}`" + ("  (quick mode)" if args.quick else ""),
        "",
        f"- {platform.machine()}, {os.cpu_count()} logical cores, load average at start {args.load:.2f}; "
        f"python {platform.python_version()}, numpy {np.__version__}, pyAgrum {pyagrum.__version__}, "
        f"pgmpy {pgmpy.__version__}; one BLAS thread; wall time {elapsed:.0f} s",
        f"- {args.sets} evidence sets per cell for our backends, the first {args.rival_sets} of them for pyAgrum "
        f"and pgmpy (a new set every query), medians; a competitor's query over {args.cap:g} s, or its cell over "
        f"{args.cell_budget:g} s, is reported as a timeout",
        "",
        "### Single posterior of all causes, 10% positive answers",
        "",
        "Positives regime: 10% of the questions answered, all positively. Questionnaire regime: every "
        'question answered, 10% positively. "ours, auto": `compile_engine(network)` as a user gets it, '
        "the backend chosen per query by its cost estimate (share of the queries sent to the noisy "
        "backend in brackets); the two backends forced beside it. Ratio: pyAgrum's time over auto's.",
        "",
        "| tier | regime | ours, auto | ours, noisy-OR | ours, junction tree | pyAgrum LazyPropagation | pgmpy VE | "
        "pyAgrum / ours | max diff vs pyAgrum |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for regime in ("positives", "questionnaire"):
            c = r.get(f"{regime}_10", {})
            d = c.get("maxdiff_agrum")
            auto = f"{fmt(c.get('auto'))} ({c.get('auto_noisy', 0):.0%} noisy)"
            L.append(
                f"| {r['tier']} | {regime} | {auto} | {fmt(c.get('noisy'))} | {fmt(c.get('tree'))} | "
                f"{fmt(c.get('agrum'))} | {fmt(c.get('pgmpy'))} | {ratio(c.get('agrum'), c.get('auto'))} | "
                f"{'—' if d is None else f'{d:.1e}'} |"
            )
    if not args.quick:
        L += [
            "",
            "### Growth with the share of positive answers (single posterior; noisy-OR backend / pyAgrum)",
            "",
            "| tier | regime | 5% | 10% | 20% | 30% |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in results:
            for regime in ("positives", "questionnaire"):
                cells = []
                for share in (5, 10, 20, 30):
                    c = r.get(f"{regime}_{share}", {})
                    cells.append(f"{fmt(c.get('noisy'))} / {fmt(c.get('agrum'))}")
                L.append(f"| {r['tier']} | {regime} | " + " | ".join(cells) + " |")
    L += [
        "",
        "### Batch posteriors, next question, build",
        "",
        "| tier | batch rows/s auto (backend) | batch rows/s noisy-OR | batch rows/s junction tree | "
        "batch, sampled rows: auto / noisy-OR / tree | "
        "next question (marginal), ours | per-answer pyAgrum loop | ratio | next question (joint), ours | "
        "build: auto / noisy / tree / pyAgrum | tree's largest clique |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        scaled = " (scaled)" if r.get("gain_agrum_scaled") else ""
        bt = r.get("batch_tree")
        st = r.get("batch_sampled_tree")
        sampled = (
            f"{r['batch_sampled_auto']:,.0f} / {r['batch_sampled_noisy']:,.0f} / {'—' if st is None else f'{st:,.0f}'}"
        )
        short = {"noisy": "noisy", "junction_tree": "tree"}
        L.append(
            f"| {r['tier']} | {r['batch_auto']:,.0f} ({short.get(r['batch_auto_backend'], '?')}) | "
            f"{r['batch_noisy']:,.0f} | {'—' if bt is None else f'{bt:,.0f}'} | {sampled} | "
            f"{fmt(r['gain_noisy'])} | "
            f"{fmt(r['gain_agrum'])}{scaled} | {ratio(r['gain_agrum'], r['gain_noisy'])} | "
            f"{fmt(r.get('gain_noisy_joint'))} | {fmt(r['auto_build'])} / {fmt(r['noisy_build'])} / "
            f"{fmt(r.get('tree_compile'))} / {fmt(r['agrum_build'])} | {r.get('tree_largest', 0):,} |"
        )
    L.append("")
    L.append(
        "Next question: evidence of the positives regime (10%), every unanswered question a candidate; "
        f"the pyAgrum loop is timed on at most {args.gain_subset} candidates and scaled to all of them "
        "(marked), its gains checked against ours (max diff "
        + ", ".join(f"{r['tier']}: {r['gain_maxdiff']:.1e}" for r in results)
        + ")."
    )
    return "\n".join(L) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer evidence sets, smaller batches, 10%% only")
    ap.add_argument("--tiers", default="", help="comma-separated, e.g. 9x40,15x100 (default: all four)")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown tables here")
    ap.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    ap.add_argument("--cap", type=float, default=20.0, help="seconds a competitor's single query may take")
    ap.add_argument("--tree-limit", type=int, default=512 << 20, help="compile the junction tree up to this many bytes")
    ap.add_argument("--pgmpy-size", type=int, default=20 * 200, help="run pgmpy up to causes × questions")
    ap.add_argument("--cell-budget", type=float, default=180.0, help="seconds a competitor's whole cell may take")
    args = ap.parse_args(argv)
    args.sets = 8 if args.quick else 30
    args.rival_sets = 8 if args.quick else 12  # competitors: fewer sets (they are slower)
    args.batch = 400 if args.quick else 2000
    args.gain_sets = 2 if args.quick else 5
    args.gain_subset = 12 if args.quick else 40
    args.load = os.getloadavg()[0]
    chosen = [tuple(int(x) for x in t.split("x")) for t in args.tiers.split(",") if t] or list(TIERS)
    t0 = time.perf_counter()
    results = [run_tier(n, m, args) for n, m in chosen]
    cmd = "python benchmarks/bench_tiers.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(results, args, cmd.strip(), time.perf_counter() - t0)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
