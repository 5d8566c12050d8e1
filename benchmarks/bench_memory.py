"""Peak memory of exact inference on whole network files: distancing_bn against pyAgrum (issue 14 part 5).

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_memory.py [PATH ...] [--json out/bench_memory.json]

``PATH`` is a network file or a folder of ``.bif``/``.bif.gz`` files (default: the bnlearn
networks in ``/work/shared/data/external/networks`` and, when present, ``/work/bnlearn``), plus
the synthetic 30-cause/400-question diagnostic network (``--no-synthetic`` leaves it out).

For every network, each tool runs in a fresh subprocess of its own, with an address-space cap
(``--cap-gb``, default 6 GiB, through ``RLIMIT_AS``) so that a blow-up fails cleanly with a
``MemoryError`` or ``std::bad_alloc`` instead of taking the machine, and a time limit
(``--timeout``). Peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (whole process,
interpreter and imports included); each child also records its peak after every phase, so
the table gives the rise over the imports too. BLAS and aGrUM run one thread each.

Query (the same for both tools): targets are the first ``--n-targets`` root nodes (file
order) that have children, observables the leaves, and every other node is reported. One
world is forward-sampled (``--seed``) and ``--frac`` of the observables (at least one) are
answered with its values, so P(e) > 0. Ours: ``load_network`` then ``model.engine`` (the
compiled tree) and ``model.posterior(answers)``. pyAgrum: ``loadBN``, ``LazyPropagation`` with
the evidence and the wanted nodes as targets, ``makeInference`` and ``posterior``.

Exactness: pyAgrum's BIF reader keeps about 7 significant digits of each table entry (on
hepar2 its tables differ from the file's decimals by up to 3e-8), so its posteriors are
compared with ours to 1e-6. A third subprocess then fills pyAgrum's tables with our double
precision ones and compares to 1e-9.

The planned junction tree (largest clique and total states) comes from
:func:`distancing_bn.inference.estimate_memory`, without building any table; pyAgrum's from
``LazyPropagation.junctionTree()`` (the tree it used for the query, after its pruning) and
``JunctionTreeGenerator`` (the whole network). ``--only NAME,...`` keeps some networks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED_NETWORKS = ROOT.parents[1] / "shared" / "data" / "external" / "networks"
if not SHARED_NETWORKS.is_dir():  # a worktree two levels below /work, or the main checkout
    SHARED_NETWORKS = Path("/work/shared/data/external/networks")
EXTRA_NETWORKS = Path("/work/bnlearn")
SYNTHETIC = "synthetic:30x400"
GOAL_BYTES = 5 * 10**9  # "pyAgrum answers within 5 GB"
FILE_TOL = 1e-6  # pyAgrum's tables as read from BIF (about 7 significant digits)
EXACT_TOL = 1e-9  # pyAgrum on our double-precision tables
MIB = 2**20


# ---------------------------------------------------------------------- structure and roles
def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def bif_structure(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Variables in file order and their parents, read from a BIF file's headers (no tables)."""
    text = read_text(path)
    order = re.findall(r"^\s*variable\s+(\S+)\s*\{", text, flags=re.MULTILINE)
    parents: dict[str, list[str]] = {v: [] for v in order}
    for m in re.finditer(r"probability\s*\(\s*([^|)\s]+)\s*(?:\|\s*([^)]*))?\)", text):
        parents[m.group(1)] = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
    return order, parents


def choose_roles(order: Sequence[str], parents: dict[str, list[str]], n_targets: int) -> dict[str, list[str]]:
    """Targets: the first roots with children; observables: the other leaves; reported: the rest."""
    has_children = {p for ps in parents.values() for p in ps}
    targets = [v for v in order if not parents[v] and v in has_children][:n_targets]
    observables = [v for v in order if v not in has_children and v not in targets]
    reported = [v for v in order if v not in targets and v not in observables]
    return {"targets": targets, "observables": observables, "reported": reported}


# ---------------------------------------------------------------------- child processes
def _phase(out: dict[str, Any], name: str, start: float) -> float:
    """Record the time and the peak RSS so far of a finished phase; return a new start time."""
    now = time.perf_counter()
    out["phases"][name] = {
        "seconds": round(now - start, 3),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return now


def _save(out: dict[str, Any], path: str) -> None:
    Path(path).write_text(json.dumps(out))


def _sample_answers(network: Any, observables: Sequence[str], frac: float, seed: int) -> dict[str, int]:
    """One forward-sampled world; ``frac`` of ``observables`` (at least one) answered with it: name -> state index."""
    import numpy as np

    rng = np.random.default_rng(seed)
    value: dict[str, int] = {}
    for v in network.variables:  # topological order
        cpt = network.cpts[v]
        row = cpt[tuple(value[p] for p in network.parents[v])]
        value[v] = int(min(np.searchsorted(np.cumsum(row), rng.random(), side="right"), len(row) - 1))
    n = max(1, round(frac * len(observables))) if observables else 0
    chosen = sorted(int(i) for i in rng.choice(len(observables), size=n, replace=False)) if n else []
    return {observables[i]: value[observables[i]] for i in chosen}


def child_ours(args: argparse.Namespace) -> None:
    """Load, compile and query with distancing_bn; write phases, plan, answers and posteriors."""
    out: dict[str, Any] = {"tool": "ours", "phases": {}, "status": "started"}
    start = time.perf_counter()
    try:
        sys.path.insert(0, str(ROOT / "src"))
        sys.path.insert(0, str(HERE))
        import warnings

        import numpy as np

        from distancing_bn import Model, load_network
        from distancing_bn.network import DEFAULT_MEMORY_BUDGET

        try:  # the layered engine (issue 16); before it, one module
            from distancing_bn.engine import estimate_memory
        except ImportError:
            from distancing_bn.inference import estimate_memory  # type: ignore[no-redef]

        warnings.simplefilter("ignore")  # the rounded-row ModelWarning of water and mildew
        start = _phase(out, "import", start)
        roles = json.loads(Path(args.roles).read_text())
        if args.file == SYNTHETIC:
            from synthetic import make_diagnostic_network

            from distancing_bn.interop import write_network_file

            network = make_diagnostic_network(n_causes=30, n_questions=400, seed=0)
            model = Model(network, memory_budget=None)
            roles.update(targets=list(network.targets), observables=list(network.observables), reported=[])
            bif = Path(args.roles).with_suffix(".bif")
            write_network_file(network, bif)  # for pyAgrum; not part of any phase's peak that matters
            roles["bif"] = str(bif)
        else:
            model = load_network(
                args.file,
                targets=roles["targets"],
                observables=roles["observables"],
                reported=roles["reported"],
                memory_budget=None,
            )
        start = _phase(out, "load", start)
        network = model.network
        answers = _sample_answers(network, roles["observables"], args.frac, args.seed)
        roles["answers"] = answers
        Path(args.roles).write_text(json.dumps(roles))
        np.savez(
            Path(args.roles).with_suffix(".npz"),
            **{f"cpt{i}": network.cpts[v] for i, v in enumerate(network.variables)},
        )
        out["tables"] = {v: list(network.parents[v]) for v in network.variables}
        t = time.perf_counter()
        est = estimate_memory(network, memory_budget=None)
        plan = getattr(est, "plan", None) or getattr(est, "_plan", None)
        assert plan is not None
        out["plan"] = {
            "seconds": round(time.perf_counter() - t, 3),
            "largest_states": est.largest_states,
            "total_states": sum(plan.sizes),
            "n_cliques": est.n_cliques,
            "has_joint": plan.has_joint,
            "root_states": plan.sizes[plan.root],
            "table_bytes": est.table_bytes,
            "tree_bytes": est.tree_bytes,
            "row_bytes": est.row_bytes,
            "gain_row_bytes": est.gain_row_bytes,
            "needed_bytes": est.needed_bytes,
            "default_budget_refuses": est.needed_bytes > DEFAULT_MEMORY_BUDGET,
        }
        start = time.perf_counter()
        _save(out, args.out)
        model.engine  # noqa: B018  the compiled junction tree
        start = _phase(out, "compile", start)
        labels = {q: network.states[q][i] for q, i in answers.items()}
        post = model.posterior(labels)
        start = _phase(out, "query", start)
        out["posteriors"] = {v: [float(x) for x in post.marginals[v]] for v in (*network.targets, *network.reported)}
        out["status"] = "ok"
    except MemoryError as exc:
        out["status"] = "MemoryError"
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        out["traceback"] = traceback.format_exc()[-1500:]
    except Exception as exc:
        out["status"] = "error"
        out["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        out["traceback"] = traceback.format_exc()[-2000:]
    _save(out, args.out)


def child_pyagrum(args: argparse.Namespace) -> None:
    """Load and query with pyAgrum's LazyPropagation (``--exact``: on our double-precision tables)."""
    out: dict[str, Any] = {"tool": "pyagrum", "phases": {}, "status": "started"}
    start = time.perf_counter()
    try:
        import numpy as np
        import pyagrum as gum

        gum.setNumberOfThreads(1)
        start = _phase(out, "import", start)
        roles = json.loads(Path(args.roles).read_text())
        path = roles.get("bif", args.file)
        try:
            bn = gum.loadBN(path)
        except Exception as exc:  # child.bif: pyAgrum's BIF grammar refuses a state name such as Asy/Patch
            fallback = Path(path).parent / "derived" / f"{Path(path).name.split('.')[0]}_pyagrum_compatible.bif"
            if not fallback.is_file():
                raise
            out["note"] = f"loadBN refused the file ({str(exc).splitlines()[0][:80]}); read {fallback.name}"
            bn = gum.loadBN(str(fallback))
        if args.exact:  # our tables, in double precision, into pyAgrum's tensors
            tables = json.loads(Path(args.tables).read_text())["tables"]
            cpts = np.load(Path(args.roles).with_suffix(".npz"))
            for i, (v, ps) in enumerate(tables.items()):
                tensor = bn.cpt(v)
                names = [tensor.variable(k).name() for k in range(tensor.nbrDim())]
                axes = [*ps, v]  # our layout: (*parents, states)
                arr = np.transpose(cpts[f"cpt{i}"], [axes.index(x) for x in reversed(names)])
                tensor.fillWith(arr.ravel().tolist())
        start = _phase(out, "load", start)
        wanted = [*roles["targets"], *roles["reported"]]
        ie = gum.LazyPropagation(bn)
        ie.setEvidence({q: int(i) for q, i in roles["answers"].items()})
        ie.addTarget(wanted[0])
        for v in wanted[1:]:
            ie.addTarget(v)
        start = _phase(out, "compile", start)
        ie.makeInference()
        posteriors = {v: [float(x) for x in ie.posterior(v).toarray()] for v in wanted}
        start = _phase(out, "query", start)
        out["peak_mib"] = out["phases"]["query"]["peak_mib"]
        out["posteriors"] = posteriors
        out["status"] = "ok"
        jt = ie.junctionTree()  # the tree used for this query, after pruning
        out["jt_used"] = _jt_sizes(bn, jt)
        out["jt_full"] = _jt_sizes(bn, gum.JunctionTreeGenerator().junctionTree(bn))
    except MemoryError as exc:
        out["status"] = "MemoryError"
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    except Exception as exc:
        text = str(exc)
        out["status"] = "MemoryError" if "bad_alloc" in text else "error"
        out["error"] = f"{type(exc).__name__}: {text[:300]}"
    _save(out, args.out)


def _jt_sizes(bn: Any, jt: Any) -> dict[str, int]:
    sizes = [math.prod(bn.variable(v).domainSize() for v in jt.clique(c)) for c in jt.nodes()]
    return {"largest_states": max(sizes, default=0), "total_states": sum(sizes), "n_cliques": len(sizes)}


def run_child(mode: list[str], out: Path, cap: int, timeout: float) -> dict[str, Any]:
    """Run this script as a child under an address-space cap; return its record and ``ru_maxrss``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out.unlink(missing_ok=True)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *mode, "--out", str(out)],
        env=env,
        preexec_fn=limit,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - start > timeout:
            proc.kill()
            timed_out = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    record: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {"phases": {}, "status": "no record"}
    record["wall_seconds"] = round(time.perf_counter() - start, 2)
    record["maxrss_mib"] = round(usage.ru_maxrss / 1024, 1)
    if timed_out:
        record["status"] = f"timeout ({timeout:.0f} s)"
    elif record.get("status") in ("started", "no record"):
        record["status"] = f"killed (exit {proc.returncode})"
        record["error"] = stderr.strip().splitlines()[-1][:300] if stderr.strip() else ""
    return record


# ---------------------------------------------------------------------- the harness
def networks(paths: Sequence[str], synthetic: bool, only: set[str] | None) -> list[str]:
    found: list[Path] = []
    for p in map(Path, paths or [str(SHARED_NETWORKS), str(EXTRA_NETWORKS)]):
        if p.is_dir():
            found += sorted(x for x in p.iterdir() if x.name.endswith((".bif", ".bif.gz")))
        elif p.is_file():
            found.append(p)
    out = [str(p) for p in found]
    if synthetic:
        out.append(SYNTHETIC)
    return [f for f in out if only is None or _name(f) in only]


def _name(file: str) -> str:
    return "synthetic_30x400" if file == SYNTHETIC else Path(file).name.split(".")[0]


def _max_diff(a: dict[str, list[float]] | None, b: dict[str, list[float]] | None) -> float | None:
    if not a or not b:
        return None
    diffs = [max(abs(x - y) for x, y in zip(a[v], b[v], strict=True)) for v in a if v in b]
    return max(diffs, default=None)


def bench_one(file: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    name = _name(file)
    roles_path = work / f"{name}.json"
    if file == SYNTHETIC:
        roles: dict[str, Any] = {"targets": [], "observables": [], "reported": []}
        n_nodes = 430
    else:
        order, parents = bif_structure(Path(file))
        roles = choose_roles(order, parents, args.n_targets)
        n_nodes = len(order)
    roles_path.write_text(json.dumps(roles))
    cap = int(args.cap_gb * 2**30)
    common = ["--file", file, "--roles", str(roles_path), "--frac", str(args.frac), "--seed", str(args.seed)]
    row: dict[str, Any] = {"network": name, "file": file, "nodes": n_nodes}
    ours_out = work / f"{name}.ours.json"
    row["ours"] = run_child(["--child", "ours", *common], ours_out, cap, args.timeout)
    roles = json.loads(roles_path.read_text())
    row["roles"] = {k: len(roles.get(k, [])) for k in ("targets", "observables", "reported", "answers")}
    row["answered"] = sorted(roles.get("answers", {}))
    if "answers" not in roles:
        row["pyagrum"] = {"status": "not run: no roles and answers (our load failed)"}
        return row
    row["pyagrum"] = run_child(["--child", "pyagrum", *common], work / f"{name}.pyagrum.json", cap, args.timeout)
    if row["ours"].get("status") == "ok" and row["pyagrum"].get("status") == "ok":
        exact = run_child(
            ["--child", "pyagrum", "--exact", "--tables", str(ours_out), *common],
            work / f"{name}.exact.json",
            cap,
            args.timeout,
        )
        row["diff_file"] = _max_diff(row["ours"].get("posteriors"), row["pyagrum"].get("posteriors"))
        row["diff_double"] = _max_diff(row["ours"].get("posteriors"), exact.get("posteriors"))
        row["exact_status"] = exact.get("status")
    for tool in ("ours", "pyagrum"):
        row[tool].pop("posteriors", None)
        row[tool].pop("tables", None)
    pa = row["pyagrum"]
    pa_ok = pa.get("status") == "ok" and pa["maxrss_mib"] * MIB <= GOAL_BYTES
    row["goal_applies"] = pa_ok
    if pa_ok and row["ours"].get("status") == "ok":
        row["ratio"] = round(row["ours"]["maxrss_mib"] / pa["maxrss_mib"], 2)
        row["ratio_over_imports"] = round(_rise(row["ours"]) / max(_rise(pa), 1.0), 2)
    return row


def _rise(rec: dict[str, Any]) -> float:
    """Peak RSS above the RSS after the imports (MiB)."""
    base = rec.get("phases", {}).get("import", {}).get("peak_mib", 0.0)
    return float(rec.get("maxrss_mib", 0.0)) - float(base)


def _peak(rec: dict[str, Any], phase: str) -> str:
    got = rec.get("phases", {}).get(phase, {}).get("peak_mib")
    return "–" if got is None else f"{got:.0f}"


def _secs(rec: dict[str, Any], *phases: str) -> str:
    got = [rec.get("phases", {}).get(p, {}).get("seconds") for p in phases]
    return "/".join("–" if g is None else f"{g:.1f}" for g in got)


def _states(n: int | None) -> str:
    if n is None:
        return "–"
    return f"{n / 1e6:.1f}M" if n >= 10**6 else (f"{n / 1e3:.0f}k" if n >= 10**4 else str(n))


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| network | nodes | T/O/R/answered | ours | ours peak MiB (after load) | ours load/compile/query s | "
        "our plan largest/total (joint) | needs (est.) | pyAgrum | pyAgrum peak MiB (rise) | pyAgrum load/compile/query s | "
        "pyAgrum JT used largest/total | pyAgrum JT full largest/total | ours ÷ pyAgrum peak | max diff file / double |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        o, p = r["ours"], r["pyagrum"]
        plan = o.get("plan", {})
        used, full = p.get("jt_used", {}), p.get("jt_full", {})
        roles = r.get("roles", {})
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ("n/a" if not r.get("goal_applies") else "–")
        diffs = (
            f"{r['diff_file']:.1e} / {r['diff_double']:.1e}"
            if r.get("diff_file") is not None and r.get("diff_double") is not None
            else "–"
        )
        lines.append(
            f"| {r['network']} | {r['nodes']} | {roles.get('targets', 0)}/{roles.get('observables', 0)}/"
            f"{roles.get('reported', 0)}/{roles.get('answers', 0)} | {_status(o)} | {o.get('maxrss_mib', 0):.0f} ({_peak(o, 'load')}) | "
            f"{_secs(o, 'load', 'compile', 'query')} | {_states(plan.get('largest_states'))}/{_states(plan.get('total_states'))}"
            f"{' J' if plan.get('has_joint') else ''} | {plan.get('needed_bytes', 0) / MIB:,.0f} MiB{' (refused at 2 GiB)' if plan.get('default_budget_refuses') else ''} | {_status(p)} | "
            f"{p.get('maxrss_mib', 0):.0f} ({_rise(p):.0f}) | {_secs(p, 'load', 'compile', 'query')} | "
            f"{_states(used.get('largest_states'))}/{_states(used.get('total_states'))} | "
            f"{_states(full.get('largest_states'))}/{_states(full.get('total_states'))} | {ratio} | {diffs} |"
        )
    return "\n".join(lines)


def _status(rec: dict[str, Any]) -> str:
    s = str(rec.get("status", "?"))
    return s if s == "ok" else s.split(":")[0][:28]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="network files or folders (default: ../shared networks and /work/bnlearn)")
    ap.add_argument("--json", default="out/bench_memory.json", help="where to write every record")
    ap.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap per child, GiB")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per child")
    ap.add_argument("--n-targets", type=int, default=3)
    ap.add_argument("--frac", type=float, default=0.1, help="fraction of the observables answered")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated network names")
    ap.add_argument("--no-synthetic", action="store_true")
    # child-process arguments
    ap.add_argument("--child", choices=["ours", "pyagrum"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--roles", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--tables", help=argparse.SUPPRESS)
    ap.add_argument("--exact", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "ours":
        child_ours(args)
        return
    if args.child == "pyagrum":
        child_pyagrum(args)
        return
    only = {x.strip() for x in args.only.split(",") if x.strip()} or None
    files = networks(args.paths, not args.no_synthetic, only)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        for file in files:
            row = bench_one(file, args, Path(tmp))
            rows.append(row)
            o, p = row["ours"], row["pyagrum"]
            print(
                f"{row['network']:18s} ours {_status(o):14s} {o.get('maxrss_mib', 0):7.0f} MiB {o.get('wall_seconds', 0):6.1f} s | "
                f"pyAgrum {_status(p):14s} {p.get('maxrss_mib', 0):7.0f} MiB {p.get('wall_seconds', 0):6.1f} s"
                f" | ratio {row.get('ratio', '–')} | diff {row.get('diff_file')} / {row.get('diff_double')}",
                flush=True,
            )
    print()
    print(table(rows))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "cap_gb": args.cap_gb,
        "timeout": args.timeout,
        "n_targets": args.n_targets,
        "frac": args.frac,
        "seed": args.seed,
        "python": sys.version.split()[0],
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
