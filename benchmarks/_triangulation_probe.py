"""Probe: junction-tree sizes of other elimination heuristics, and where our planned memory goes.

Run from the repository root (reads only; builds no junction tree)::

    PYTHONPATH=src python benchmarks/_triangulation_probe.py [NAME ...] [--json out/triangulation_probe.json]

For every bnlearn network of ``bench_memory.py`` (same roles: the first three roots with
children are targets, the leaves observables, the rest reported) the structure and the
cardinalities are read from the BIF headers, and the graph our planner triangulates is built
the same way as in :func:`distancing_bn.inference.estimate_memory`: the moral graph of every
variable except the observable leaves, with each leaf's parents joined. Heuristics on it:

- ``min-fill``: our planner's ``_triangulate`` (greedy min-fill, ties by clique weight);
- ``min-weight``: the variable whose clique has the fewest states;
- ``w-min-fill``: the fill edges weighted by the product of their end cardinalities;
- ``agrum``: pyAgrum's ``JunctionTreeGenerator`` on the same network (its default
  triangulation), observable leaves then dropped from the cliques (they are simplicial, so
  this is its triangulation of our graph).

Each on three graphs: as compiled (``free``), with the targets joined (what holding the
targets in the root clique costs) and pruned to the answered leaves of the benchmark's
evidence (relevance pruning at query time: unanswered leaves are barren). Sizes are the
largest clique and the total states of the maximal cliques.

The breakdown splits :func:`estimate_memory`'s bytes (built from the same structure with
uniform tables; the estimate only depends on structure, cards and roles) into the clique
potentials, the int64 configurations, the hosted questions' log and plain tables, the root's
stacked marginal matrix and the largest build temporary.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from bench_memory import EXTRA_NETWORKS, SHARED_NETWORKS, choose_roles, read_text  # noqa: E402

from distancing_bn.network import Network  # noqa: E402

try:  # the layered engine (issue 16); before it, one module
    from distancing_bn.engine import estimate_memory
    from distancing_bn.engine.kernels import FLOAT_BYTES as _FLOAT
    from distancing_bn.engine.plan import triangulate as _triangulate
except ImportError:
    from distancing_bn.inference import _FLOAT, _triangulate, estimate_memory  # type: ignore[no-redef]

Graph = dict[int, set[int]]


def bif_network(path: Path) -> tuple[list[str], dict[str, list[str]], dict[str, int]]:
    """Variables (file order), parents and cardinalities from a BIF file's headers."""
    text = read_text(path)
    order: list[str] = []
    cards: dict[str, int] = {}
    for m in re.finditer(r"variable\s+(\S+)\s*\{[^}]*?\[\s*(\d+)\s*\]", text):
        order.append(m.group(1))
        cards[m.group(1)] = int(m.group(2))
    parents: dict[str, list[str]] = {v: [] for v in order}
    for m in re.finditer(r"probability\s*\(\s*([^|)\s]+)\s*(?:\|\s*([^)]*))?\)", text):
        parents[m.group(1)] = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
    return order, parents, cards


def planner_graph(
    order: Sequence[str], parents: dict[str, list[str]], roles: dict[str, list[str]], leaves: Sequence[str]
) -> tuple[Graph, dict[str, int]]:
    """The graph estimate_memory triangulates: core variables, families and the given leaves' parents joined."""
    obs = set(roles["observables"])
    has_children = {p for ps in parents.values() for p in ps}
    leaf = {v for v in order if v in obs and v not in has_children}
    core = [v for v in order if v not in leaf]
    idx = {v: i for i, v in enumerate(core)}
    g: Graph = {i: set() for i in range(len(core))}

    def connect(group: Sequence[str]) -> None:
        ids = [idx[x] for x in group]
        for a in ids:
            g[a].update(b for b in ids if b != a)

    for v in core:
        connect([v, *parents[v]])
    for v in leaves:
        if v in leaf:
            connect(parents[v])
    return g, idx


def greedy(g: Graph, cards: Sequence[int], cost: Callable[[Graph, int], tuple[float, ...]]) -> list[frozenset[int]]:
    """Eliminate greedily by ``cost`` (recomputed only where the graph changed); return the maximal cliques."""
    g = {v: set(n) for v, n in g.items()}
    cache = {v: cost(g, v) for v in g}
    cliques: list[frozenset[int]] = []
    while g:
        v = min(g, key=lambda u: (cache[u], u))
        nb = g.pop(v)
        clique = frozenset({v, *nb})
        for a in nb:
            g[a].discard(v)
            g[a].update(b for b in nb if b != a)
        touched = set(nb)
        for a in nb:
            touched |= g[a]
        for u in touched:
            cache[u] = cost(g, u)
        del cache[v]
        cliques.append(clique)
    return maximal(cliques)


def maximal(cliques: Sequence[frozenset[int]]) -> list[frozenset[int]]:
    out: list[frozenset[int]] = []
    for c in sorted(set(cliques), key=len, reverse=True):
        if not any(c <= d for d in out):
            out.append(c)
    return out


def fill_edges(g: Graph, v: int) -> list[tuple[int, int]]:
    nb = sorted(g[v])
    return [(a, b) for i, a in enumerate(nb) for b in nb[i + 1 :] if b not in g[a]]


def heuristics(cards: Sequence[int]) -> dict[str, Callable[[Graph], list[frozenset[int]]]]:
    def weight(g: Graph, v: int) -> int:
        return math.prod(cards[u] for u in g[v]) * cards[v]

    def min_weight(g: Graph, v: int) -> tuple[float, ...]:
        return (weight(g, v), len(fill_edges(g, v)))

    def w_min_fill(g: Graph, v: int) -> tuple[float, ...]:
        return (sum(cards[a] * cards[b] for a, b in fill_edges(g, v)), weight(g, v))

    def ours(g: Graph) -> list[frozenset[int]]:
        return [frozenset(c) for c in _triangulate(g, cards)]

    return {
        "min-fill": ours,
        "min-weight": lambda g: greedy(g, cards, min_weight),
        "w-min-fill": lambda g: greedy(g, cards, w_min_fill),
    }


def sizes(cliques: Sequence[frozenset[int] | Sequence[int]], cards: Sequence[int]) -> dict[str, int]:
    s = [math.prod(cards[v] for v in c) for c in cliques]
    return {"largest": max(s, default=1), "total": sum(s)}


def agrum_cliques(path: Path, idx: dict[str, int], join: Sequence[str], drop: set[str]) -> list[frozenset[int]] | str:
    """pyAgrum's default triangulation: targets joined by arcs, leaves in ``drop`` erased, the rest dropped after."""
    import pyagrum as gum

    try:
        bn = gum.loadBN(str(path))
    except Exception:
        alt = path.parent / "derived" / f"{path.name.split('.')[0]}_pyagrum_compatible.bif"
        if not alt.is_file():
            return "pyAgrum cannot read the file"
        bn = gum.loadBN(str(alt))
    for a, b in itertools.pairwise(join):  # roots: arcs between them keep a DAG and join them
        bn.addArc(a, b)
    if len(join) > 2:
        bn.addArc(join[0], join[-1])
    for v in drop:
        bn.erase(v)
    jt = gum.JunctionTreeGenerator().junctionTree(bn)
    out = []
    for c in jt.nodes():
        names = {bn.variable(v).name() for v in jt.clique(c)}
        out.append(frozenset(idx[n] for n in names if n in idx))
    return maximal(out)


def breakdown(order: Sequence[str], parents: dict[str, list[str]], cards: dict[str, int], roles: dict[str, list[str]]):
    """estimate_memory on the structure (uniform tables), with its bytes split by what holds them."""
    states = {v: tuple(f"s{i}" for i in range(cards[v])) for v in order}
    cpts = {v: np.full((*(cards[p] for p in parents[v]), cards[v]), 1.0 / cards[v]) for v in order}
    net = Network.create(
        "probe",
        states,
        parents,
        cpts,
        targets=roles["targets"],
        observables=roles["observables"],
        reported=roles["reported"],
    )
    est = estimate_memory(net, memory_budget=None)
    plan = getattr(est, "plan", None) or getattr(est, "_plan", None)
    assert plan is not None
    c = plan.cards
    hosted = [0] * len(plan.sizes)
    for v in plan.leaf_vars:
        fam = {net.index[p] for p in net.parents[net.variables[v]]}
        k = min((k for k, s in enumerate(plan.sets) if fam <= s), key=lambda k: (plan.sizes[k], k != plan.root))
        hosted[k] += c[v]
    wanted = sum(c[net.index[v]] for v in (*net.targets, *net.reported))
    parts = {
        "potentials": _FLOAT * sum(plan.sizes),
        "configurations": _FLOAT * sum(s * len(q) for s, q in zip(plan.sizes, plan.cliques, strict=True)),
        "question_tables": 2 * _FLOAT * sum(s * h for s, h in zip(plan.sizes, hosted, strict=True)),
        "root_marginal_matrix": _FLOAT * plan.sizes[plan.root] * wanted,
        "build_temporary": max(
            _FLOAT * s * (len(q) + max(c) + 1) for s, q in zip(plan.sizes, plan.cliques, strict=True)
        ),
    }
    parts["rest_of_tree"] = est.tree_bytes - sum(parts.values())
    parts["one_row"] = est.row_bytes
    parts["one_gain_row"] = est.gain_row_bytes
    parts["tables"] = est.table_bytes
    parts["needed"] = est.needed_bytes
    return {
        "largest": est.largest_states,
        "total": sum(plan.sizes),
        "root": plan.sizes[plan.root],
        "has_joint": plan.has_joint,
        "bytes": parts,
    }


def probe(path: Path, answered: Sequence[str] | None, seed: int) -> dict[str, Any]:
    order, parents, cmap = bif_network(path)
    roles = choose_roles(order, parents, 3)
    if answered is None:  # the benchmark's count, a seeded choice
        rng = np.random.default_rng(seed)
        n = max(1, round(0.1 * len(roles["observables"])))
        answered = [roles["observables"][i] for i in sorted(rng.choice(len(roles["observables"]), n, replace=False))]
    out: dict[str, Any] = {"network": path.name.split(".")[0], "breakdown": breakdown(order, parents, cmap, roles)}
    graphs = {}
    g, idx = planner_graph(order, parents, roles, roles["observables"])
    cards = [cmap[v] for v in idx]
    graphs["free"] = g
    joined = {v: set(n) for v, n in g.items()}
    t = [idx[x] for x in roles["targets"]]
    for a in t:
        joined[a].update(b for b in t if b != a)
    graphs["joined"] = joined
    graphs["pruned"], _ = planner_graph(order, parents, roles, answered)
    hs = heuristics(cards)
    res: dict[str, dict[str, Any]] = {}
    for gname, graph in graphs.items():
        for hname, h in hs.items():
            res.setdefault(hname, {})[gname] = sizes(h(graph), cards)
    obs_leaves = {v for v in order if v in set(roles["observables"])}
    for gname, join, drop in (
        ("free", [], set()),
        ("joined", roles["targets"], set()),
        ("pruned", [], obs_leaves - set(answered)),
    ):
        cl = agrum_cliques(path, idx, join, drop)
        res.setdefault("agrum", {})[gname] = cl if isinstance(cl, str) else sizes(cl, cards)
    out["heuristics"] = res
    out["answered"] = len(answered)
    return out


def engine_memory(path: Path, seed: int = 0, frac: float = 0.1) -> dict[str, Any]:
    """Compile with our engine (no budget) and sum its arrays by what holds them; traced peaks of build and query.

    Needs the memory to build the tree: run it on networks that ``bench_memory.py`` answers.
    """
    import tracemalloc
    import warnings

    from bench_memory import _sample_answers

    from distancing_bn import load_network

    warnings.simplefilter("ignore")
    order, parents, _ = bif_network(path)
    roles = choose_roles(order, parents, 3)
    model = load_network(
        path, targets=roles["targets"], observables=roles["observables"], reported=roles["reported"], memory_budget=None
    )
    net = model.network
    answers = _sample_answers(net, roles["observables"], frac, seed)
    tracemalloc.start()
    engine = getattr(model.engine, "tree", model.engine)  # the junction tree (layered engine) or the engine
    _, build_peak = tracemalloc.get_traced_memory()
    held: dict[str, int] = {}
    seen: set[int] = set()

    def add(label: str, x: Any) -> None:
        if isinstance(x, np.ndarray):
            base = x if x.base is None else x.base
            if isinstance(base, np.ndarray) and id(base) not in seen:
                seen.add(id(base))
                held[label] = held.get(label, 0) + base.nbytes

    for c in engine.cliques:
        add("configurations", c.configs)
        add("potentials", c.potential)
        add("question_tables", c.table)
        add("question_tables", c.log_table)
        add("folds", c.fold)
        for p in (c.to_sep, c.parent_to_sep, *c.evidence.values()):
            if p is not None and p.dense:
                add("projections", p.matrix)
                add("projections", p.index)
    for p in engine._marginal.values():
        if p.dense:
            add("marginal_projections", p.matrix)
            add("marginal_projections", p.index)
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    post = model.posterior({q: net.states[q][i] for q, i in answers.items()})
    after, query_peak = tracemalloc.get_traced_memory()
    for k, (b, u, _share) in (engine._prior or {}).items():
        add("prior_pass", b)
        add("prior_pass", u)
        del k
    for v in engine._stacked.values():
        add("root_marginal_matrix", v[0])
    for v in getattr(engine, "_gain_matrices", {}).values():
        add("child_separator_matrices", v)
    tracemalloc.stop()
    assert post.marginals
    est = model.memory_estimate
    return {
        "network": path.name.split(".")[0],
        "held_mib": {k: round(v / 2**20, 1) for k, v in sorted(held.items(), key=lambda kv: -kv[1])},
        "held_total_mib": round(sum(held.values()) / 2**20, 1),
        "build_traced_peak_mib": round(build_peak / 2**20, 1),
        "query_traced_peak_rise_mib": round((query_peak - before) / 2**20, 1),
        "query_kept_mib": round((after - before) / 2**20, 1),
        "estimate_tree_mib": round(est.tree_bytes / 2**20, 1),
        "estimate_row_mib": round(est.row_bytes / 2**20, 1),
    }


def floors(rows: Sequence[dict[str, Any]], bench: dict[str, Any]) -> list[str]:
    """Markdown: the least a materialised junction tree can take, against 2× pyAgrum's measured peak.

    Floor = our process after its imports (measured) + 16 bytes per clique state: the kept potentials
    and one working belief per clique, nothing else (no configurations, no dense question tables,
    no prior-pass copy, no build temporaries). Trees: the current plan, the best of the three
    heuristics on the compiled graph, and the best on the graph pruned to the answered leaves.
    """
    by_name = {r["network"]: r for r in bench.get("rows", [])}
    out = [
        "| network | pyAgrum peak | 2× goal | ours now | floor, current plan | floor, best heuristic | floor, best pruned to answers |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        b = by_name.get(row["network"])
        if b is None or b["pyagrum"].get("status") != "ok":
            continue
        base = b["ours"].get("phases", {}).get("import", {}).get("peak_mib", 40.0)
        goal = 2 * b["pyagrum"]["maxrss_mib"]
        hs = [h for h in row["heuristics"].values() if not isinstance(h["free"], str)]
        best = min(min(h["free"]["total"], h["joined"]["total"]) for h in hs)
        pruned = min(h["pruned"]["total"] for h in hs if not isinstance(h["pruned"], str))

        def mib(states: int, base: float = base) -> float:
            return base + 16 * states / 2**20

        now = f"{b['ours']['maxrss_mib']:,.0f}" if b["ours"].get("status") == "ok" else str(b["ours"]["status"])
        cells = [mib(row["breakdown"]["total"]), mib(best), mib(pruned)]
        marks = [f"{c:,.0f}{' ✓' if c <= goal else ''}" for c in cells]
        out.append(
            f"| {row['network']} | {b['pyagrum']['maxrss_mib']:,.0f} | {goal:,.0f} | {now} | "
            + " | ".join(marks)
            + " |"
        )
    return out


def thin_read(path: Path) -> dict[str, Any]:
    """Time and peak of reading a BIF file's states and tables with regular expressions and numpy.

    A sketch of what a reader without pgmpy costs (no validation, row-form tables not reordered):
    to compare with ``load_network``'s pgmpy route in ``bench_memory.py``. Run in a fresh process.
    """
    import resource
    import time

    start = time.perf_counter()
    text = read_text(path)
    states = {
        m.group(1): [x.strip() for x in m.group(3).split(",")]
        for m in re.finditer(r"variable\s+(\S+)\s*\{[^}]*?\[\s*(\d+)\s*\]\s*\{([^}]*)\}", text)
    }
    entries = 0
    for m in re.finditer(r"probability\s*\(\s*([^|)\s]+)\s*(?:\|\s*([^)]*))?\)\s*\{([^}]*)\}", text):
        body = m.group(3)
        if "table" in body:
            numbers = re.sub(r"[^0-9eE.+\-]+", " ", body.split("table", 1)[1]).split()
        else:
            numbers = [x for _, row in re.findall(r"\(([^)]*)\)([^;]*);", body) for x in row.replace(",", " ").split()]
        entries += np.array(numbers, dtype=np.float64).size
    return {
        "network": path.name.split(".")[0],
        "variables": len(states),
        "entries": entries,
        "seconds": round(time.perf_counter() - start, 2),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _fmt(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 10**6 else (f"{n / 1e3:.0f}k" if n >= 10**4 else str(n))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="network names (default: every BIF of bench_memory.py's folders)")
    ap.add_argument("--bench", default="out/bench_memory.json", help="bench_memory.py's JSON, for its answered sets")
    ap.add_argument("--json", default="out/triangulation_probe.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine", action="store_true", help="build our engine for NAME and sum its arrays instead")
    ap.add_argument("--reader", action="store_true", help="time a regex-and-numpy BIF read of NAME instead")
    args = ap.parse_args(argv)
    if args.reader:
        for name in args.names:
            p = next(d / f"{name}.bif" for d in (SHARED_NETWORKS, EXTRA_NETWORKS) if (d / f"{name}.bif").is_file())
            print(json.dumps(thin_read(p)), flush=True)
        return
    if args.engine:
        for name in args.names:
            p = next(d / f"{name}.bif" for d in (SHARED_NETWORKS, EXTRA_NETWORKS) if (d / f"{name}.bif").is_file())
            print(json.dumps(engine_memory(p, args.seed)), flush=True)
        return
    answered: dict[str, list[str]] = {}
    if Path(args.bench).is_file():
        for row in json.loads(Path(args.bench).read_text())["rows"]:
            if row.get("answered"):
                answered[row["network"]] = row["answered"]
    files = sorted(
        p
        for d in (SHARED_NETWORKS, EXTRA_NETWORKS)
        if d.is_dir()
        for p in d.iterdir()
        if p.name.endswith((".bif", ".bif.gz"))
    )
    rows = []
    print("| network | heuristic | free largest/total | targets joined | pruned to answers |")
    print("|---|---|---|---|---|")
    for p in files:
        name = p.name.split(".")[0]
        if args.names and name not in args.names:
            continue
        row = probe(p, answered.get(name), args.seed)
        rows.append(row)
        for h, r in row["heuristics"].items():
            cells = [
                r[g] if isinstance(r[g], str) else f"{_fmt(r[g]['largest'])}/{_fmt(r[g]['total'])}"
                for g in ("free", "joined", "pruned")
            ]
            print(f"| {name} | {h} | " + " | ".join(cells) + " |", flush=True)
    print()
    print("| network | plan largest/total/root (joint) | " + " | ".join(rows[0]["breakdown"]["bytes"]) + " |")
    print("|---|---|" + "---|" * len(rows[0]["breakdown"]["bytes"]))
    for row in rows:
        b = row["breakdown"]
        cells = [f"{v / 2**20:,.0f}" for v in b["bytes"].values()]
        joint = " J" if b["has_joint"] else ""
        print(
            f"| {row['network']} | {_fmt(b['largest'])}/{_fmt(b['total'])}/{_fmt(b['root'])}{joint} | "
            + " | ".join(cells)
            + " |"
        )
    if Path(args.bench).is_file():
        print()
        print("\n".join(floors(rows, json.loads(Path(args.bench).read_text()))))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.json} (bytes in MiB above)")


if __name__ == "__main__":
    main()
