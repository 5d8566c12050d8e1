"""Inference benchmark: our batched junction tree vs pgmpy VariableElimination vs pyAgrum.

Run from the repository root::

    python benchmarks/bench_inference.py [--quick] [--out benchmarks/RESULTS.md]

Sections (all in one run, medians and IQRs of ``time.perf_counter`` over repeats):

a. default model (models/distancing.yaml, or models/examples/two_causes.yaml while the default
   does not load): one posterior of every target and reported variable, per query;
b. default model, batch posteriors: rows/s for 1k/10k/100k rows (and chunk sizes) vs per-row
   loops of pyAgrum and pgmpy;
c. synthetic 9 causes x 40 questions (benchmarks/synthetic.py): the same batch rates;
d. published networks (asia, alarm, child, insurance, hepar2, win95pts): per query, checked
   against pgmpy to 1e-9 first;
e. peak memory (ru_maxrss of a child process) for 1,000,000 rows in chunks.

Evidence: forward samples of the network, a quarter of the observables answered per row (so
P(e) > 0 always). The script writes a Markdown report (default benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from synthetic import make_diagnostic_network, sample_evidence  # noqa: E402

from distancing_bn.engine import Engine  # noqa: E402
from distancing_bn.network import Network  # noqa: E402

warnings.simplefilter("ignore")

NETWORK_DIR = Path("/work/shared/data/external/networks")
PUBLISHED: dict[str, list[str]] = {
    "asia": ["lung", "tub", "bronc"],
    # alarm: the root "fault" nodes (FIO2 and MINVOLSET are settings, not faults)
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
    # hepar2: the disorders (its roots are mostly risk factors: age, sex, alcoholism, ...)
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
    "win95pts": None,  # type: ignore[dict-item]  # every root node (all are faults/settings to diagnose)
}
CHUNKS = (4096, 16384, 65536)


# ---------------------------------------------------------------------------- helpers
def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def stats(times: Sequence[float]) -> tuple[float, float]:
    """Return (median, IQR) of ``times``."""
    t = np.asarray(times, dtype=float)
    q1, med, q3 = np.percentile(t, [25, 50, 75])
    return float(med), float(q3 - q1)


def measure(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_rate(r: float) -> str:
    return f"{r:,.0f}"


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def load_default() -> tuple[Network, str]:
    """Return the default model, or the example while the default does not load."""
    from distancing_bn.network import compile_spec
    from distancing_bn.spec import load_spec

    path = ROOT / "models" / "distancing.yaml"
    try:
        return compile_spec(load_spec(path)), "models/distancing.yaml"
    except Exception as exc:  # being written concurrently
        log(f"default model does not load ({type(exc).__name__}: {str(exc)[:200]}); using the example")
        return compile_spec(
            load_spec(ROOT / "models" / "examples" / "two_causes.yaml")
        ), "models/examples/two_causes.yaml (models/distancing.yaml did not load)"


def load_published(name: str) -> Network:
    from distancing_bn.interop import read_network_file

    targets = PUBLISHED[name]
    if targets is None:
        import pgmpy.readwrite as rw

        m = rw.BIFReader(str(NETWORK_DIR / f"{name}.bif")).get_model()
        targets = [n for n in m.nodes() if not list(m.predecessors(n))]
    # every non-target is observable (the evidence is drawn among them)
    return read_network_file(NETWORK_DIR / f"{name}.bif", targets=targets)


def wanted_of(net: Network) -> list[str]:
    return list(net.targets) + list(net.reported)


def row_evidence(net: Network, lik: Mapping[str, np.ndarray], r: int) -> dict[str, int]:
    """The answered variables of row ``r`` as {name: state index}."""
    return {v: int(np.argmax(m[r])) for v, m in lik.items() if m[r].min() == 0.0}


def one_hot_single(net: Network, ev: Mapping[str, int]) -> dict[str, np.ndarray]:
    out = {}
    for v, s in ev.items():
        a = np.zeros((1, net.card(v)))
        a[0, s] = 1.0
        out[v] = a
    return out


# ---------------------------------------------------------------------------- competitors
def to_pyagrum(net: Network):
    """Build a pyAgrum BayesNet with exactly the Network's tables."""
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


class PyAgrumRunner:
    """One LazyPropagation object, reused: set evidence, infer, read the wanted posteriors."""

    def __init__(self, net: Network, wanted: Sequence[str]) -> None:
        import pyagrum as gum

        self.bn = to_pyagrum(net)
        self.ie = gum.LazyPropagation(self.bn)
        self.ie.eraseAllTargets()
        for w in wanted:
            self.ie.addTarget(w)
        self.wanted = list(wanted)

    def query(self, ev: Mapping[str, int]) -> dict[str, np.ndarray]:
        ie = self.ie
        ie.setEvidence(dict(ev))
        ie.makeInference()
        return {w: ie.posterior(w).toarray() for w in self.wanted}


class PgmpyRunner:
    """pgmpy VariableElimination with the fastest of: one query per variable, or one
    ``joint=False`` query over the targets (when their joint is small) plus one query per
    other wanted variable. (``joint=False`` over all wanted variables builds their whole joint
    in pgmpy 1.1, which does not fit in memory for the default model.)"""

    def __init__(self, net: Network, wanted: Sequence[str]) -> None:
        from pgmpy.inference import VariableElimination

        from distancing_bn.interop import to_pgmpy

        self.net = net
        self.ve = VariableElimination(to_pgmpy(net))
        self.wanted = list(wanted)
        self.strategy = "per-variable"
        joint = int(np.prod([net.card(t) for t in net.targets]))
        self.can_group = len(net.targets) > 1 and joint <= (1 << 12)

    def _ev(self, ev: Mapping[str, int]) -> dict[str, str]:
        return {v: self.net.states[v][s] for v, s in ev.items()}

    def query(self, ev: Mapping[str, int]) -> dict[str, np.ndarray]:
        e = self._ev(ev)
        out: dict[str, np.ndarray] = {}
        rest = self.wanted
        if self.strategy == "grouped":
            q = self.ve.query(list(self.net.targets), evidence=e, joint=False, show_progress=False)
            for t in self.net.targets:
                out[t] = self._values(q[t], t)
            rest = [w for w in self.wanted if w not in out]
        for w in rest:
            out[w] = self._values(self.ve.query([w], evidence=e, show_progress=False), w)
        return out

    def _values(self, f, v: str) -> np.ndarray:
        names = list(f.state_names[v])
        vals = np.asarray(f.values, dtype=float)
        return np.array([vals[names.index(s)] for s in self.net.states[v]])

    def calibrate(self, evs: Sequence[Mapping[str, int]]) -> dict[str, float]:
        """Time both strategies on a few queries; keep the faster."""
        res = {}
        for strat in ["per-variable", "grouped"] if self.can_group else ["per-variable"]:
            self.strategy = strat
            self.query(evs[0])
            t0 = time.perf_counter()
            for ev in evs:
                self.query(ev)
            res[strat] = (time.perf_counter() - t0) / len(evs)
        self.strategy = min(res, key=res.get)  # type: ignore[arg-type]
        return res


def ours_single(engine: Engine, net: Network, ev: Mapping[str, int], wanted: Sequence[str]) -> dict[str, np.ndarray]:
    r = engine.query(one_hot_single(net, ev), 1, marginals=wanted)
    return {w: r.marginals[w][0] for w in wanted}


def max_diff(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    return max(float(np.abs(np.asarray(a[k]).ravel() - np.asarray(b[k]).ravel()).max()) for k in a)


# ---------------------------------------------------------------------------- batch
def run_batch(
    engine: Engine, lik: Mapping[str, np.ndarray], rows: int, chunk: int | None, wanted: Sequence[str]
) -> dict[str, np.ndarray]:
    """Query ``rows`` rows, in chunks of ``chunk`` rows (None: all at once); concatenate."""
    if chunk is None or chunk >= rows:
        r = engine.query(lik, rows, marginals=wanted)
        return dict(r.marginals) | {"__logZ": r.log_evidence}
    parts = []
    for s in range(0, rows, chunk):
        e = min(rows, s + chunk)
        r = engine.query({v: m[s:e] for v, m in lik.items()}, e - s, marginals=wanted)
        parts.append(r)
    out = {w: np.concatenate([p.marginals[w] for p in parts]) for w in wanted}
    out["__logZ"] = np.concatenate([p.log_evidence for p in parts])
    return out


def batch_section(
    net: Network,
    engine: Engine,
    sizes: Sequence[int],
    repeats: int,
    agrum_rows: int,
    pgmpy_rows: int,
    seed: int,
    chunks: Sequence[int] = CHUNKS,
) -> dict:
    wanted = wanted_of(net)
    nmax = max(sizes)
    lik, _, _ = sample_evidence(net, nmax, 0.25, seed=seed)
    res: dict = {"wanted": len(wanted), "observables": len(net.observables), "ours": {}}
    # correctness spot check: batch rows == single-row queries
    chk = run_batch(engine, {v: m[:50] for v, m in lik.items()}, 50, None, wanted)
    diffs = []
    for r in range(0, 50, 7):
        single = ours_single(engine, net, row_evidence(net, lik, r), wanted)
        diffs.append(max_diff(single, {w: chk[w][r] for w in wanted}))
    res["batch_vs_single_maxdiff"] = max(diffs)
    for n in sizes:
        sub = {v: m[:n] for v, m in lik.items()}
        per = {}
        for chunk in [None, *[c for c in chunks if c < n]]:
            if n <= 10_000:
                times = measure(lambda: run_batch(engine, sub, n, chunk, wanted), repeats)
            else:  # large batches: 3 runs, or 1 if a run is slow (keeps the full run near 10 minutes)
                times = measure(lambda: run_batch(engine, sub, n, chunk, wanted), 1, warmup=0)
                if times[0] < 4.0:
                    times += measure(lambda: run_batch(engine, sub, n, chunk, wanted), 2, warmup=0)
            med, iqr = stats(times)
            per["all" if chunk is None else str(chunk)] = {
                "median": med,
                "iqr": iqr,
                "rate": n / med,
                "rate_iqr": n / med * iqr / med,
            }
            log(f"  ours rows={n} chunk={chunk}: {fmt_t(med)}  {n / med:,.0f} rows/s")
        res["ours"][n] = per
    # pyAgrum per row
    pa = PyAgrumRunner(net, wanted)
    evs = [row_evidence(net, lik, r) for r in range(agrum_rows)]
    pa_diff = max(max_diff(pa.query(evs[r]), {w: chk[w][r] for w in wanted}) for r in range(0, 50, 7))
    pa.query(evs[0])
    times = []
    for ev in evs:  # one pass; median and IQR of the per-row times
        t0 = time.perf_counter()
        pa.query(ev)
        times.append(time.perf_counter() - t0)
    med, iqr = stats(times)
    res["pyagrum"] = {"per_row": med, "iqr": iqr, "rate": 1 / med, "rows": agrum_rows, "maxdiff": pa_diff}
    log(f"  pyAgrum per row {fmt_t(med)}  {1 / med:,.0f} rows/s (max diff vs ours {pa_diff:.1e})")
    # pgmpy per row
    pg = PgmpyRunner(net, wanted)
    pg_evs = evs[:pgmpy_rows]
    pg.calibrate(pg_evs[:3])
    pg_diff = max(max_diff(pg.query(evs[r]), {w: chk[w][r] for w in wanted}) for r in range(0, min(50, pgmpy_rows), 7))
    t0 = time.perf_counter()
    per_row = []
    for ev in pg_evs:
        t1 = time.perf_counter()
        pg.query(ev)
        per_row.append(time.perf_counter() - t1)
    med, iqr = stats(per_row)
    res["pgmpy"] = {
        "per_row": med,
        "iqr": iqr,
        "rate": 1 / med,
        "rows": len(pg_evs),
        "strategy": pg.strategy,
        "maxdiff": pg_diff,
    }
    log(f"  pgmpy per row {fmt_t(med)}  {1 / med:,.0f} rows/s ({pg.strategy}; max diff vs ours {pg_diff:.1e})")
    return res


# ---------------------------------------------------------------------------- single query
def single_section(
    net: Network,
    engine: Engine,
    n_ev: int,
    repeats: int,
    pg_ev: int,
    pg_repeats: int,
    seed: int,
    frac_over: Sequence[str] | None = None,
    check_tol: float | None = None,
) -> dict:
    wanted = wanted_of(net)
    lik, _, _ = sample_evidence(net, max(n_ev, pg_ev), 0.25, seed=seed, among=frac_over)
    evs = [row_evidence(net, lik, r) for r in range(max(n_ev, pg_ev))]
    pa = PyAgrumRunner(net, wanted)
    pg = PgmpyRunner(net, wanted)
    calib = pg.calibrate(evs[: min(3, len(evs))])
    # correctness first
    d_pg = d_pa = 0.0
    for ev in evs[: min(5, len(evs))]:
        o = ours_single(engine, net, ev, wanted)
        d_pg = max(d_pg, max_diff(o, pg.query(ev)))
        d_pa = max(d_pa, max_diff(o, pa.query(ev)))
    res = {
        "wanted": len(wanted),
        "answered": len(evs[0]),
        "maxdiff_pgmpy": d_pg,
        "maxdiff_pyagrum": d_pa,
        "pgmpy_strategy": pg.strategy,
        "pgmpy_calibration": calib,
        "ok": bool(d_pg <= (check_tol or 1e-9)),
    }

    def per_query(fn: Callable, evl: Sequence, reps: int) -> tuple[float, float]:
        times = []
        fn(evl[0])
        for _ in range(reps):
            t0 = time.perf_counter()
            for ev in evl:
                fn(ev)
            times.append((time.perf_counter() - t0) / len(evl))
        return stats(times)

    res["ours"] = per_query(lambda ev: ours_single(engine, net, ev, wanted), evs[:n_ev], repeats)
    res["pyagrum"] = per_query(pa.query, evs[:n_ev], repeats)
    res["pgmpy"] = per_query(pg.query, evs[:pg_ev], pg_repeats)
    log(
        f"  ours {fmt_t(res['ours'][0])}  pyAgrum {fmt_t(res['pyagrum'][0])}  pgmpy {fmt_t(res['pgmpy'][0])}"
        f"  (diff pgmpy {d_pg:.1e}, pyAgrum {d_pa:.1e})"
    )
    return res


# ---------------------------------------------------------------------------- memory (child process)
def peak_rss_kib() -> int:
    """Peak resident set of this process in KiB: VmHWM (ru_maxrss survives exec, so a child
    forked from a big parent would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(model: str, rows: int, chunk: int) -> None:
    net = load_default()[0] if model == "default" else make_diagnostic_network()
    engine = Engine(net)
    wanted = wanted_of(net)
    base = peak_rss_kib()  # interpreter + numpy + model + engine
    # kept outputs: log P(e) and the targets' marginals for every row
    logz = np.empty(rows)
    tm = {t: np.empty((rows, net.card(t))) for t in net.targets}
    out_bytes = logz.nbytes + sum(a.nbytes for a in tm.values())
    t_engine = 0.0
    t0 = time.perf_counter()
    for i, s in enumerate(range(0, rows, chunk)):
        e = min(rows, s + chunk)
        lik, _, _ = sample_evidence(net, e - s, 0.25, seed=1000 + i)
        t1 = time.perf_counter()
        r = engine.query(lik, e - s, marginals=wanted)
        t_engine += time.perf_counter() - t1
        logz[s:e] = r.log_evidence
        for t in net.targets:
            tm[t][s:e] = r.marginals[t]
    total = time.perf_counter() - t0
    peak = peak_rss_kib()
    print(
        json.dumps(
            {
                "rows": rows,
                "chunk": chunk,
                "base_kib": base,
                "peak_kib": peak,
                "out_bytes": out_bytes,
                "engine_s": t_engine,
                "total_s": total,
                "finite": bool(np.isfinite(logz).all()),
            }
        )
    )


def memory_section(runs: Sequence[tuple[int, int]]) -> list[dict]:
    out = []
    for rows, chunk in runs:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_memory-child", str(rows), str(chunk)]
        p = subprocess.run(cmd, capture_output=True, text=True, check=True)
        d = json.loads(p.stdout.strip().splitlines()[-1])
        log(
            f"  memory rows={rows} chunk={chunk}: peak {d['peak_kib'] / 1024:.0f} MiB (base {d['base_kib'] / 1024:.0f})"
        )
        out.append(d)
    return out


# ---------------------------------------------------------------------------- machine info
def machine_info() -> list[str]:
    import pgmpy
    import pyagrum

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import hashlib

    src_dir = ROOT / "src" / "distancing_bn" / "engine"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(src_dir.glob("*.py"))))
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        head = "?"
    lines = [
        f"- code: git HEAD {head}, src/distancing_bn/engine/*.py sha256 "
        f"{digest.hexdigest()[:12]} (working tree, may be uncommitted)",
        f"- date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical cores, {cpu}; "
        f"load average at start {os.getloadavg()[0]:.2f} (shared, noisy machine)",
        f"- python {platform.python_version()}, numpy {np.__version__}, pgmpy {pgmpy.__version__}, "
        f"pyagrum {pyagrum.__version__}",
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}",
    ]
    try:
        from threadpoolctl import threadpool_info

        for d in threadpool_info():
            lines.append(
                f"- BLAS: {d.get('internal_api')} {d.get('version')} ({d.get('architecture')}), "
                f"{d.get('num_threads')} threads, {Path(d.get('filepath', '')).name}"
            )
    except ImportError:
        cfg = np.show_config(mode="dicts")  # type: ignore[call-arg]
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        lines.append(f"- BLAS: {blas.get('name')} {blas.get('version')}")
    return lines


# ---------------------------------------------------------------------------- report
def write_report(
    path: Path, cmd: str, info: list[str], model_label: str, res: dict, quick: bool, elapsed: float
) -> None:
    L: list[str] = []
    L.append("# Inference benchmark results")
    L.append("")
    L.append(f"Command: `{cmd}`" + ("  (quick mode: fewer repeats, smaller sizes)" if quick else ""))
    L.append("")
    L += info
    L.append(f"- wall time of the whole run: {elapsed:.0f} s")
    L.append("")
    L.append(
        "Times are medians over repeats (`time.perf_counter`), IQR in brackets. Evidence: forward samples "
        "of the network with a quarter of the observables answered (one-hot) per row, so P(e) > 0. "
        '"ours" is `Engine.query` from src/distancing_bn/engine; pyAgrum is one reused '
        "`LazyPropagation` (targets set to the wanted variables, `setEvidence`, `makeInference`, "
        "`posterior`); pgmpy is `VariableElimination.query` with the faster of one query per variable "
        "or one `joint=False` query over the targets plus one query per other variable "
        "(`joint=False` over all wanted variables builds their full joint in pgmpy 1.1 and does not fit "
        "in memory for the default model)."
    )
    L.append("")
    # a
    a = res["a"]
    L.append("## (a) Default model, one posterior of all targets and reported variables")
    L.append("")
    L.append(
        f"Model: {model_label}; {a['wanted']} variables read per query, {a['answered']} questions answered. "
        f"Max |ours − pgmpy| = {a['maxdiff_pgmpy']:.1e}, max |ours − pyAgrum| = {a['maxdiff_pyagrum']:.1e}. "
        f"pgmpy strategy: {a['pgmpy_strategy']}."
    )
    L.append("")
    L.append("| engine | per query (median) | IQR | ours is faster by |")
    L.append("|---|---:|---:|---:|")
    o = a["ours"][0]
    L.append(f"| ours (Engine.query, rows=1) | {fmt_t(o)} | {fmt_t(a['ours'][1])} | 1x |")
    L.append(
        f"| pyAgrum LazyPropagation | {fmt_t(a['pyagrum'][0])} | {fmt_t(a['pyagrum'][1])} | {a['pyagrum'][0] / o:.1f}x |"
    )
    L.append(
        f"| pgmpy VariableElimination | {fmt_t(a['pgmpy'][0])} | {fmt_t(a['pgmpy'][1])} | {a['pgmpy'][0] / o:.1f}x |"
    )
    L.append("")
    L.append(f"- target ≥100x faster than pgmpy VE: {a['pgmpy'][0] / o:.1f}x → {met(a['pgmpy'][0] / o >= 100)}")
    L.append(f"- target faster than pyAgrum: {a['pyagrum'][0] / o:.2f}x → {met(a['pyagrum'][0] / o > 1)}")
    L.append("")

    def batch_table(b: dict, title: str, target_rate: float, need_agrum_ratio: float | None) -> None:
        L.append(title)
        L.append("")
        L.append(
            f"{b['wanted']} marginals per row over {b['observables']} observables. "
            f"Batch vs one-row queries max diff {b['batch_vs_single_maxdiff']:.1e}; "
            f"pyAgrum vs ours {b['pyagrum']['maxdiff']:.1e}; pgmpy vs ours {b['pgmpy']['maxdiff']:.1e}."
        )
        L.append("")
        chunk_names = sorted({c for per in b["ours"].values() for c in per}, key=lambda c: -1 if c == "all" else int(c))
        L.append(
            "| rows | " + " | ".join("one call" if c == "all" else f"chunks of {c}" for c in chunk_names) + " | best |"
        )
        L.append("|---:|" + "---:|" * (len(chunk_names) + 1))
        best_rate = 0.0
        for n, per in b["ours"].items():
            cells = []
            for c in chunk_names:
                if c in per:
                    cells.append(f"{fmt_rate(per[c]['rate'])} [±{fmt_rate(per[c]['rate_iqr'] / 2)}]")
                else:
                    cells.append("–")
            bc = max(per, key=lambda c: per[c]["rate"])
            best_rate = max(best_rate, per[bc]["rate"])
            L.append(
                f"| {n:,} | "
                + " | ".join(cells)
                + f" | {fmt_rate(per[bc]['rate'])} ({'one call' if bc == 'all' else bc}) |"
            )
        L.append("")
        L.append("(rows/s, median; ± half the IQR.)")
        L.append("")
        nbig = max(b["ours"])
        per = b["ours"][nbig]
        big_best = max(per.values(), key=lambda d: d["rate"])["rate"]
        pa, pg = b["pyagrum"], b["pgmpy"]
        L.append("| engine | rows/s | per row | ours (best, largest batch) is faster by |")
        L.append("|---|---:|---:|---:|")
        L.append(f"| ours, {nbig:,} rows, best chunking | {fmt_rate(big_best)} | {fmt_t(1 / big_best)} | 1x |")
        L.append(
            f"| pyAgrum per-row loop ({pa['rows']:,} rows) | {fmt_rate(pa['rate'])} | {fmt_t(pa['per_row'])} | {big_best / pa['rate']:,.0f}x |"
        )
        L.append(
            f"| pgmpy per-row loop ({pg['rows']} rows, {pg['strategy']}) | {pg['rate']:,.1f} | {fmt_t(pg['per_row'])} | {big_best / pg['rate']:,.0f}x |"
        )
        L.append("")
        L.append(f"- target ≥{target_rate:,.0f} rows/s: best {fmt_rate(big_best)} → {met(big_best >= target_rate)}")
        if need_agrum_ratio:
            r = big_best / pa["rate"]
            L.append(f"- target ≥{need_agrum_ratio:.0f}x pyAgrum per-row: {r:,.0f}x → {met(r >= need_agrum_ratio)}")
        L.append("")

    batch_table(res["b"], f"## (b) Default model, batch posteriors ({model_label})", 100_000, 100)
    batch_table(res["c"], "## (c) Synthetic 9 causes × 40 questions (benchmarks/synthetic.py, seed 0)", 300_000, None)
    # d
    L.append("## (d) Published networks, one query (all target marginals), a quarter of the non-targets observed")
    L.append("")
    L.append(
        "| network | vars | targets | observed | max \\|ours − pgmpy\\| | max \\|ours − pyAgrum\\| | ours | pyAgrum | pgmpy VE | vs pyAgrum | vs pgmpy |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, d in res["d"].items():
        if "error" in d:
            L.append(f"| {name} | – | – | – | error: {d['error']} | | | | | | |")
            continue
        o = d["ours"][0]
        L.append(
            f"| {name} | {d['vars']} | {d['wanted']} | {d['answered']} | {d['maxdiff_pgmpy']:.1e}"
            f"{'' if d['ok'] else ' (FAIL)'} | {d['maxdiff_pyagrum']:.1e} | {fmt_t(o)} [{fmt_t(d['ours'][1])}] | "
            f"{fmt_t(d['pyagrum'][0])} | {fmt_t(d['pgmpy'][0])} ({d['pgmpy_strategy']}) | "
            f"{d['pyagrum'][0] / o:.2f}x | {d['pgmpy'][0] / o:.1f}x |"
        )
    L.append("")
    L.append(
        '"vs X" = X\'s time / ours (>1: ours is faster). pgmpy VE prunes barren nodes and d-separated '
        "evidence per query; pyAgrum LazyPropagation also uses relevance reasoning."
    )
    L.append("")
    # e
    L.append(
        f"## (e) Peak memory, {res['e'][0]['rows']:,} rows in chunks (default model; other chunk sizes on fewer rows)"
    )
    L.append("")
    L.append(
        "Child process per chunk size; evidence sampled chunk by chunk (never all 1M rows at once); "
        "kept per row: log P(e) and the targets' marginals. Peak = VmHWM of the child (`/proc/self/status`); baseline = after "
        "imports and compiling, before any query. The peak includes sampling one chunk of evidence."
    )
    L.append("")
    L.append(
        "| rows | chunk | peak RSS | baseline RSS | peak − baseline | kept outputs | engine time | engine rows/s |"
    )
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in res["e"]:
        L.append(
            f"| {d['rows']:,} | {d['chunk']:,} | {d['peak_kib'] / 1024:.0f} MiB | {d['base_kib'] / 1024:.0f} MiB | "
            f"{(d['peak_kib'] - d['base_kib']) / 1024:.0f} MiB | {d['out_bytes'] / 2**20:.0f} MiB | "
            f"{d['engine_s']:.2f} s | {fmt_rate(d['rows'] / d['engine_s'])} |"
        )
    L.append("")
    # summary
    L.append("## Targets")
    L.append("")
    a_pg = a["pgmpy"][0] / a["ours"][0]
    a_pa = a["pyagrum"][0] / a["ours"][0]

    def best(b: dict) -> float:
        return max(d["rate"] for d in b["ours"][max(b["ours"])].values())

    b_rate, c_rate = best(res["b"]), best(res["c"])
    b_pa = b_rate / res["b"]["pyagrum"]["rate"]
    L.append("| target | measured | status |")
    L.append("|---|---:|---|")
    L.append(f"| (a) ≥100x faster than pgmpy VE, one posterior | {a_pg:.1f}x | {met(a_pg >= 100)} |")
    L.append(f"| (a) faster than pyAgrum LazyPropagation, one posterior | {a_pa:.2f}x | {met(a_pa > 1)} |")
    L.append(f"| (b) ≥100,000 rows/s, default model | {fmt_rate(b_rate)} rows/s | {met(b_rate >= 100_000)} |")
    L.append(f"| (b) ≥100x pyAgrum per-row | {b_pa:,.0f}x | {met(b_pa >= 100)} |")
    L.append(f"| (c) ≥300,000 rows/s, synthetic 9×40 | {fmt_rate(c_rate)} rows/s | {met(c_rate >= 300_000)} |")
    L.append("")
    path.write_text("\n".join(L) + "\n")


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (< 60 s)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--_memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._memory_child:
        memory_child("default", *args._memory_child)
        return
    cmd = (
        "python benchmarks/bench_inference.py"
        + (" --quick" if args.quick else "")
        + (f" --out {args.out}" if args.out != str(HERE / "RESULTS.md") else "")
    )
    t_start = time.perf_counter()
    info = machine_info()
    q = args.quick
    res: dict = {}
    net, label = load_default()
    engine = Engine(net)
    log(f"(a) single query, {label}")
    res["a"] = single_section(
        net,
        engine,
        n_ev=20 if q else 50,
        repeats=5 if q else 15,
        pg_ev=3 if q else 10,
        pg_repeats=2 if q else 3,
        seed=1,
    )
    log("(b) batch, default model")
    res["b"] = batch_section(
        net,
        engine,
        sizes=(1000, 10_000) if q else (1000, 10_000, 100_000),
        repeats=2 if q else 5,
        agrum_rows=300 if q else 2000,
        pgmpy_rows=10 if q else 50,
        seed=2,
        chunks=(4096,) if q else CHUNKS,
    )
    log("(c) batch, synthetic 9x40")
    syn = make_diagnostic_network()
    res["c"] = batch_section(
        syn,
        Engine(syn),
        sizes=(1000, 10_000) if q else (1000, 10_000, 100_000),
        repeats=2 if q else 5,
        agrum_rows=300 if q else 2000,
        pgmpy_rows=10 if q else 50,
        seed=3,
        chunks=(4096,) if q else CHUNKS,
    )
    log("(d) published networks")
    res["d"] = {}
    for name in PUBLISHED:
        try:
            pn = load_published(name)
            pe = Engine(pn)
            log(
                f"  {name}: {len(pn.variables)} vars, {len(pn.targets)} targets, "
                f"largest clique {max(int(np.prod(c.cards)) for c in pe.tree.cliques)} states"
            )
            non_targets = [v for v in pn.variables if v not in set(pn.targets)]
            d = single_section(
                pn,
                pe,
                n_ev=10 if q else 30,
                repeats=3 if q else 9,
                pg_ev=2 if q else 5,
                pg_repeats=1 if q else 3,
                seed=4,
                frac_over=non_targets,
            )
            d["vars"] = len(pn.variables)
            res["d"][name] = d
        except Exception as exc:  # report, keep going
            log(f"  {name}: {type(exc).__name__}: {exc}")
            res["d"][name] = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    log("(e) memory")
    res["e"] = memory_section([(50_000, 16384)] if q else [(1_000_000, 16384), (100_000, 4096), (100_000, 65536)])
    elapsed = time.perf_counter() - t_start
    out = Path(args.out)
    write_report(out, cmd, info, label, res, q, elapsed)
    (out.with_suffix(".json")).write_text(json.dumps(res, indent=1, default=float))
    log(f"wrote {out} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
