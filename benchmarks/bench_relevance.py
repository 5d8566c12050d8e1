"""Relevance-first engine: one posterior of every target, same run, against pyAgrum and pgmpy.

Run from the repository root::

    python benchmarks/bench_relevance.py [--quick] [--baseline /work/main/src] [--json out.json]

Networks: the default model (models/distancing.yaml), the published alarm, hepar2, win95pts,
andes and pathfinder (../shared/data/external/networks; every root node is a target) and the
synthetic diagnostic networks of benchmarks/synthetic.py with 20 causes / 200 questions and 30
causes / 400 questions (1–4 parent causes per question, leaky noisy-OR and noisy-MAX,
round(causes / 3) cause-to-cause links).

Evidence, one set per query, every set different: "10% positive answers". For the diagnostic
networks (the default model and the synthetic ones) 10% of the questions are answered with a
level above the lowest, the others unanswered; for the published networks 10% of the
non-target variables are observed at the state a forward sample gave them (so P(e) > 0).

Per network and evidence set, one query of every target's marginal (and log P(e)):

* ours: the engine as compile_engine builds it (relevance by cost), warm: compiled once before
  timing; "fresh" times each set the first time it is seen (a pruned tree, if chosen, is
  planned and compiled inside the timed call), "cached" the same sets again (the pruned trees
  come from the engine's cache);
* ours, whole tree: relevance=False (today's engine), where it fits;
* pyAgrum LazyPropagation: one object, reused, evidence set each time (its relevance
  reasoning and junction tree rebuilt by pyAgrum as needed);
* pgmpy VariableElimination, one query per target, on the first few sets.

Medians of time.perf_counter per query. Exactness is checked in the same run (ours against
pyAgrum on every set, against pgmpy where it ran, pruned against the whole tree).

With --baseline SRC the default model and the published networks are also measured, in a
child process, with the engine found under SRC (e.g. main's src, before this package) on the
settings of bench_inference.py sections (a) and (d): a quarter of the questions / non-targets
answered, targets and reported variables, so that no figure of RESULTS.md gets worse unseen.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NETWORK_DIR = Path("/work/shared/data/external/networks")
warnings.simplefilter("ignore")

# the same settings as bench_inference.py's sections (a) and (d)
REGRESSION_PUBLISHED: dict[str, list[str] | None] = {
    "asia": ["lung", "tub", "bronc"],
    "alarm": [
        "HYPOVOLEMIA",
        "LVFAILURE",
        "ANAPHYLAXIS",
        "PULMEMBOLUS",
        "INTUBATION",
        "KINKEDTUBE",
        "DISCONNECT",
        "INSUFFANESTH",
        "ERRLOWOUTPUT",
        "ERRCAUTER",
    ],
    "child": ["Disease"],
    "insurance": ["Accident", "ThisCarDam"],
    "hepar2": [
        "THepatitis",
        "ChHepatitis",
        "PBC",
        "fibrosis",
        "Steatosis",
        "Cirrhosis",
        "Hyperbilirubinemia",
        "RHepatitis",
        "carcinoma",
        "gallstones",
    ],
    "win95pts": None,
}


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def fmt_t(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


# ---------------------------------------------------------------------------- networks and evidence
def load_network(name: str, targets: Sequence[str] | None = None) -> Any:
    """The network ``name``: 'default', 'syn20x200', 'syn30x400' or a published file (roots as targets)."""
    import numpy as np  # noqa: F401

    if name == "default":
        from distancing_bn.network import compile_spec
        from distancing_bn.spec import load_spec

        return compile_spec(load_spec(ROOT / "models" / "distancing.yaml"))
    if name.startswith("syn"):
        sys.path.insert(0, str(HERE))
        from synthetic import make_diagnostic_network

        c, q = (int(x) for x in name[3:].split("x"))
        return make_diagnostic_network(c, q, seed=0, n_links=round(c / 3))
    import pgmpy.readwrite as rw

    from distancing_bn.interop import read_network_file

    path = NETWORK_DIR / f"{name}.bif"
    if targets is None:
        model = rw.BIFReader(str(path)).get_model()
        targets = [n for n in model.nodes() if not list(model.predecessors(n))]
    return read_network_file(path, targets=list(targets))


def forward_sample(net: Any, rng: Any) -> dict[str, int]:
    import numpy as np

    value: dict[str, int] = {}
    for v in net.variables:
        p = np.asarray(net.cpts[v][tuple(value[u] for u in net.parents[v])], dtype=float)
        value[v] = int(rng.choice(net.card(v), p=p / p.sum()))
    return value


def evidence_sets(net: Any, kind: str, n: int, share: float, seed: int) -> list[dict[str, int]]:
    """``n`` answer sets {variable: state index}: 'positive' (diagnostic) or 'sampled' (published)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    if kind == "positive":
        qs = list(net.observables)
        k = max(1, round(share * len(qs)))
        for _ in range(n):
            chosen = rng.permutation(len(qs))[:k]
            out.append({qs[j]: int(rng.integers(1, net.card(qs[j]))) for j in chosen})
        return out
    pool = [v for v in net.observables]
    k = max(1, round(share * len(pool)))
    for _ in range(n):
        value = forward_sample(net, rng)
        chosen = rng.permutation(len(pool))[:k]
        out.append({pool[j]: value[pool[j]] for j in chosen})
    return out


def likelihoods(net: Any, ev: Mapping[str, int]) -> dict[str, Any]:
    import numpy as np

    return {v: np.eye(net.card(v))[[s]] for v, s in ev.items()}


def with_premise(net: Any, ev: Mapping[str, int]) -> dict[str, int]:
    """Evidence plus the network's always-observed premise (our engine enters it by itself)."""
    return {**ev, **{v: net.states[v].index(s) for v, s in net.observed.items()}}


# ---------------------------------------------------------------------------- competitors
def to_pyagrum(net: Any) -> Any:
    import numpy as np
    import pyagrum as gum

    bn = gum.BayesNet(net.name)
    for v in net.variables:
        bn.add(gum.LabelizedVariable(v, v, list(net.states[v])))
    for v in net.variables:
        for p in net.parents[v]:
            bn.addArc(p, v)
    for v in net.variables:
        ps = net.parents[v]
        arr = net.cpts[v]
        cpt = bn.cpt(v)
        if not ps:
            cpt.fillWith(arr.tolist())
            continue
        for conf in np.ndindex(*arr.shape[:-1]):
            cpt[{p: int(i) for p, i in zip(ps, conf, strict=True)}] = arr[conf].tolist()
    return bn


class PyAgrum:
    """LazyPropagation, reused: set the evidence, infer, read every target's posterior."""

    def __init__(self, net: Any, wanted: Sequence[str]) -> None:
        import pyagrum as gum

        self.net = net
        self.ie = gum.LazyPropagation(to_pyagrum(net))
        self.ie.eraseAllTargets()
        for w in wanted:
            self.ie.addTarget(w)
        self.wanted = list(wanted)

    def query(self, ev: Mapping[str, int]) -> dict[str, Any]:
        self.ie.setEvidence(with_premise(self.net, ev))
        self.ie.makeInference()
        return {w: self.ie.posterior(w).toarray() for w in self.wanted}


class Pgmpy:
    """VariableElimination, one query per wanted variable."""

    def __init__(self, net: Any, wanted: Sequence[str]) -> None:
        from pgmpy.inference import VariableElimination

        from distancing_bn.interop import to_pgmpy

        self.net = net
        self.ve = VariableElimination(to_pgmpy(net))
        self.wanted = list(wanted)

    def query(self, ev: Mapping[str, int]) -> dict[str, Any]:
        import numpy as np

        labels = {v: self.net.states[v][s] for v, s in with_premise(self.net, ev).items()}
        out = {}
        for w in self.wanted:
            f = self.ve.query([w], evidence=labels, show_progress=False)
            names = list(f.state_names[w])
            out[w] = np.array([f.values[names.index(s)] for s in self.net.states[w]])
        return out


def max_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    import numpy as np

    return max(float(np.abs(np.ravel(a[k]) - np.ravel(b[k])).max()) for k in a)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- section A: relevance
def relevance_row(name: str, n_sets: int, pg_sets: int, quick: bool) -> dict[str, Any]:
    import numpy as np

    from distancing_bn.engine import compile_engine

    net = load_network(name)
    kind = "sampled" if name not in ("default",) and not name.startswith("syn") else "positive"
    sets = evidence_sets(net, kind, n_sets + 1, 0.10, seed=16)
    warm, sets = sets[0], sets[1:]
    wanted = list(net.targets)
    row: dict[str, Any] = {"name": name, "vars": len(net.variables), "targets": len(wanted), "answered": len(sets[0])}
    t0 = time.perf_counter()
    eng = compile_engine(net, relevance=True)
    row["compile"] = time.perf_counter() - t0
    row["prunes"] = eng.prunes
    row["whole_fits"] = eng.memory is not None
    if eng.memory is not None:
        row["whole_states"] = sum(eng.memory.plan.sizes)
        row["whole_largest"] = max(eng.memory.plan.sizes)

    def ours(e: Any, ev: Mapping[str, int]) -> Any:
        return e.query(likelihoods(net, ev), 1, marginals=wanted)

    ours(eng, warm)
    fresh, results = [], []
    for ev in sets:
        t0 = time.perf_counter()
        res = ours(eng, ev)
        fresh.append(time.perf_counter() - t0)
        results.append(res)
    cached = [timed(lambda ev=ev: ours(eng, ev)) for ev in sets]
    row["fresh"] = statistics.median(fresh)
    row["cached"] = statistics.median(cached)
    pruned = [e for e in eng._pruned.values() if not isinstance(e, str) and e.trees is not None]
    row["pruned_used"] = len(pruned)
    if pruned:
        row["pruned_states"] = statistics.median([e.states for e in pruned])
        row["pruned_largest"] = statistics.median(
            [max(max(x.plan.sizes) for x in e.estimates) for e in pruned]  # type: ignore[union-attr]
        )
    finite = [bool(np.isfinite(r.log_evidence[0])) for r in results]
    row["possible_sets"] = sum(finite)
    # the whole tree (today's engine), where it fits
    if eng.memory is not None and (not quick or row["whole_states"] < 1 << 20):
        t0 = time.perf_counter()
        whole = compile_engine(net, relevance=False)
        whole.tree  # noqa: B018 - compile now, not inside the first query
        row["whole_compile"] = time.perf_counter() - t0
        ours(whole, warm)
        times, diff, dlog = [], 0.0, 0.0
        for ev, res in zip(sets, results, strict=True):
            t0 = time.perf_counter()
            w = ours(whole, ev)
            times.append(time.perf_counter() - t0)
            if np.isfinite(res.log_evidence[0]):
                diff = max(diff, max_diff(res.marginals, w.marginals))
                dlog = max(dlog, float(abs(res.log_evidence[0] - w.log_evidence[0])))
        row["whole"] = statistics.median(times)
        row["diff_whole"] = diff
        row["dlog_whole"] = dlog
        del whole
    # pyAgrum
    pa = PyAgrum(net, wanted)
    ok = [ev for ev, f in zip(sets, finite, strict=True) if f]
    pa.query(warm)
    row["pyagrum"] = statistics.median([timed(lambda ev=ev: pa.query(ev)) for ev in ok])
    row["diff_pyagrum"] = max(
        max_diff({w: r.marginals[w][0] for w in wanted}, pa.query(ev))
        for ev, r, f in zip(sets, results, finite, strict=True)
        if f
    )
    # pgmpy on the first sets
    try:
        pg = Pgmpy(net, wanted)
        checked = [(ev, r) for ev, r, f in zip(sets, results, finite, strict=True) if f][:pg_sets]
        times, diff = [], 0.0
        for ev, r in checked:
            t0 = time.perf_counter()
            q = pg.query(ev)
            times.append(time.perf_counter() - t0)
            diff = max(diff, max_diff({w: r.marginals[w][0] for w in wanted}, q))
        row["pgmpy"] = statistics.median(times)
        row["pgmpy_sets"] = len(checked)
        row["diff_pgmpy"] = diff
    except Exception as exc:  # pgmpy could not build or run it
        row["pgmpy_error"] = f"{type(exc).__name__}: {str(exc)[:80]}"
    log(
        f"  {name}: fresh {fmt_t(row['fresh'])} cached {fmt_t(row['cached'])} whole {fmt_t(row.get('whole'))}"
        f" pyAgrum {fmt_t(row['pyagrum'])} pgmpy {fmt_t(row.get('pgmpy'))}"
    )
    return row


# ---------------------------------------------------------------------------- section B: no regression
def regression_measure(old: bool, quick: bool) -> dict[str, Any]:
    """Per network, the median seconds of one query on bench_inference's (a) and (d) settings."""
    import numpy as np

    if old:
        from distancing_bn.inference import Engine as make
    else:
        from distancing_bn.engine import compile_engine as make
    out: dict[str, Any] = {}
    cases: list[tuple[str, Any, list[str]]] = [("default", load_network("default"), [])]
    for name, targets in REGRESSION_PUBLISHED.items():
        cases.append((name, load_network(name, targets), []))
    for name, net, _ in cases:
        wanted = list(net.targets) + list(net.reported)
        kind_pool = list(net.observables)
        rng_sets = evidence_sets(net, "sampled", 20 if quick else 50, 0.25, seed=7)
        sets = [{v: s for v, s in ev.items() if v in set(kind_pool)} for ev in rng_sets]
        eng = make(net)
        liks = [likelihoods(net, ev) for ev in sets]
        eng.query(liks[0], 1, marginals=wanted)
        reps = []
        for _ in range(3 if quick else 9):
            t0 = time.perf_counter()
            for lik in liks:
                eng.query(lik, 1, marginals=wanted)
            reps.append((time.perf_counter() - t0) / len(liks))
        first = eng.query(liks[0], 1, marginals=wanted)
        out[name] = {
            "median": statistics.median(reps),
            "check": [float(x) for x in np.concatenate([first.marginals[w][0] for w in wanted])],
        }
        log(f"  {'main' if old else 'ours'} {name}: {fmt_t(out[name]['median'])}")
    return out


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer sets (a few minutes)")
    ap.add_argument("--baseline", help="src directory of the engine to compare with (child process)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--only", help="comma-separated networks of section A")
    ap.add_argument("--_regression", choices=["old", "new"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._regression:
        print(json.dumps(regression_measure(args._regression == "old", args.quick)))
        return
    sys.path.insert(0, str(ROOT / "src"))
    q = args.quick
    names = ["default", "alarm", "hepar2", "win95pts", "andes", "pathfinder", "syn20x200", "syn30x400"]
    if args.only:
        names = args.only.split(",")
    load = os.getloadavg()[0]
    log(f"load average {load:.2f}")
    res: dict[str, Any] = {"load_start": load, "A": []}
    for name in names:
        res["A"].append(relevance_row(name, 10 if q else 40, 2 if q or name in ("andes", "pathfinder") else 5, q))
    if args.baseline:
        env_old = dict(os.environ, PYTHONPATH=args.baseline)
        env_new = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        extra = ["--quick"] if q else []
        runs = {}
        for label, env in (("old", env_old), ("new", env_new), ("old2", env_old), ("new2", env_new)):
            kind = label.rstrip("2")
            p = subprocess.run(
                [sys.executable, __file__, "--_regression", kind, *extra], env=env, capture_output=True, text=True
            )
            if p.returncode:
                log(p.stderr[-2000:])
                raise SystemExit(f"regression child ({label}) failed")
            runs[label] = json.loads(p.stdout.strip().splitlines()[-1])
        res["B"] = runs
    res["load_end"] = os.getloadavg()[0]
    print(report(res, args))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))


def report(res: dict[str, Any], args: argparse.Namespace) -> str:
    cmd = "python benchmarks/bench_relevance.py" + (" --quick" if args.quick else "")
    cmd += f" --baseline {args.baseline}" if args.baseline else ""
    lines = [
        f"Command: `{cmd}`; load average {res['load_start']:.2f} → {res['load_end']:.2f} (2 shared cores).",
        "",
        "| network | targets | answered | ours, fresh set | ours, cached set | ours, whole tree | pyAgrum | pgmpy |"
        " pyAgrum / ours (fresh) | pyAgrum / ours (cached) | pgmpy / ours | tree states whole → pruned (largest) |"
        " max diff vs pyAgrum / pgmpy / whole |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in res["A"]:
        whole = fmt_t(r.get("whole")) if r["whole_fits"] else "does not fit (2 GiB)"
        if r.get("whole_compile") is not None:
            whole += f" (compile {fmt_t(r['whole_compile'])})"
        sizes = f"{r['whole_states']:,} ({r['whole_largest']:,})" if r["whole_fits"] else "–"
        if r.get("pruned_used"):
            sizes += f" → {r['pruned_states']:,.0f} ({r['pruned_largest']:,.0f})"
        else:
            sizes += " (not pruned)"
        pg = r.get("pgmpy")
        diffs = " / ".join(f"{r[k]:.1e}" if k in r else "–" for k in ("diff_pyagrum", "diff_pgmpy", "diff_whole"))
        lines.append(
            f"| {r['name']} | {r['targets']} | {r['answered']} | {fmt_t(r['fresh'])} | {fmt_t(r['cached'])} | {whole} |"
            f" {fmt_t(r['pyagrum'])} | {fmt_t(pg)} | {r['pyagrum'] / r['fresh']:.2f}x | {r['pyagrum'] / r['cached']:.2f}x |"
            f" {(pg / r['fresh']) if pg else float('nan'):.1f}x | {sizes} | {diffs} |"
        )
    if "B" in res:
        b = res["B"]
        lines += [
            "",
            "No regression (bench_inference.py settings (a) and (d): a quarter answered, targets and reported"
            " variables; two runs each, alternating; median per query):",
            "",
            "| network | main | ours | ours / main | same answers |",
            "|---|---:|---:|---:|---|",
        ]
        for name in b["old"]:
            old = min(b["old"][name]["median"], b["old2"][name]["median"])
            new = min(b["new"][name]["median"], b["new2"][name]["median"])
            same = max(abs(x - y) for x, y in zip(b["old"][name]["check"], b["new"][name]["check"], strict=True))
            lines.append(f"| {name} | {fmt_t(old)} | {fmt_t(new)} | {new / old:.2f} | {same:.1e} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
