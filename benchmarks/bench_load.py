"""Load time and peak memory of reading a BIF network: ours against pyAgrum's ``loadBN``.

The old route (pgmpy's ``BIFReader``, its import included in the peak) is shown for reference.
Each load runs in a fresh subprocess (so peak RSS is that of the whole process: interpreter,
imports and the read); the figures are medians of ``--repeat`` runs. Times are of the read
alone (after the imports), as measured inside the child.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_load.py [--repeat 5] [hepar2 pathfinder andes]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETWORKS = HERE.parent.parent / "shared" / "data" / "external" / "networks"

CHILD = {
    "ours": (
        "import time\nfrom distancing_bn.interop import read_network_file\n"
        "t = time.perf_counter()\nnet = read_network_file(PATH, targets=[TARGET])\n"
        "seconds = time.perf_counter() - t\nsize = len(net.variables)\n"
    ),
    "ours (parse only)": (
        "import time\nfrom pathlib import Path\nfrom distancing_bn import _bif\n"
        "t = time.perf_counter()\nparts = _bif.parse(Path(PATH).read_text(), PATH, 'x')\n"
        "seconds = time.perf_counter() - t\nsize = len(parts.states)\n"
    ),
    "pgmpy BIFReader (the old route)": (
        "import time\nfrom pgmpy.readwrite import BIFReader\n"
        "t = time.perf_counter()\nm = BIFReader(PATH).get_model()\nseconds = time.perf_counter() - t\n"
        "size = len(m.nodes())\n"
    ),
    "pyAgrum loadBN": (
        "import time\nimport pyagrum as gum\n"
        "t = time.perf_counter()\nbn = gum.loadBN(PATH)\nseconds = time.perf_counter() - t\nsize = bn.size()\n"
    ),
}
TAIL = (
    "import json, resource\n"
    "print(json.dumps({'seconds': seconds, 'size': size, "
    "'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
)


def first_variable(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("variable "):
            return line.split()[1]
    raise SystemExit(f"{path}: no variable")


def run_once(tool: str, path: Path) -> dict[str, float]:
    code = f"PATH = {str(path)!r}\nTARGET = {first_variable(path)!r}\n" + CHILD[tool] + TAIL
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("networks", nargs="*", default=["hepar2", "pathfinder", "andes"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    rows = []
    print(f"| network | tool | load s (median of {args.repeat}) | / pyAgrum | peak RSS MiB (median) |")
    print("|---|---|---:|---:|---:|")
    for name in args.networks:
        path = NETWORKS / f"{name}.bif"
        runs_of = {tool: [] for tool in CHILD}  # type: ignore[var-annotated]
        for _ in range(args.repeat):  # interleaved, so that a busy spell of the machine hits every tool
            for tool in CHILD:
                runs_of[tool].append(run_once(tool, path))
        agrum = statistics.median(r["seconds"] for r in runs_of["pyAgrum loadBN"])
        for tool, runs in runs_of.items():
            row = {
                "network": name,
                "tool": tool,
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mib": statistics.median(r["peak_mib"] for r in runs),
                "variables": runs[0]["size"],
                "ratio_to_pyagrum": statistics.median(r["seconds"] for r in runs) / agrum,
            }
            rows.append(row)
            print(
                f"| {name} | {tool} | {row['seconds']:.4f} | {row['ratio_to_pyagrum']:.2f}× | {row['peak_mib']:.0f} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
