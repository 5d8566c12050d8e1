"""Batch-scoring benchmark (issue 5): ``distancing-bn score`` end to end vs the pandas I/O floor.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_score.py [--quick] [--with-5m] [--json PATH]

Input: a CSV with an ``id`` column and all 63 question columns of the default model, a quarter
of the cells answered (each cell independently) with labels forward-sampled from the model,
the rest blank. Generated vectorised (``simulate.sample_cases`` + pyarrow's CSV writer) once
into /tmp/dbn_bench/ and reused while its ``.meta.json`` matches.

Every measured command runs as its own child process (wall time from the parent, so Python
start-up and the model load are included; peak RSS = VmHWM of the child, polled from
/proc/<pid>/status, cross-checked with ``os.wait4``'s ru_maxrss):

(i)   I/O floor: ``pd.read_csv(src, dtype=str, keep_default_na=False)`` + ``to_csv`` of the
      same frame (whole file in memory, one process);
(ii)  ``python -m distancing_bn score SRC -o DST --quiet`` (next question on);
(iii) the same with ``--no-next-question``;
(iv)  rows/s on the ECR survey file with ``--mapping models/mappings/ecr.yaml``;
(v)   peak RSS without next question at 100k, 1M (and 5M rows with ``--with-5m``);
(vi)  profile of one 50,000-row chunk in process: CSV parse, encode, engine, notices, next
      question, frame assembly, CSV write.

The with-next-question run is measured on 100,000 rows and extrapolated linearly to 1M rows
when a 1M-row run would take more than ~8 minutes (it is chunked, so time is linear in rows).
Writes JSON (default benchmarks/.results_score.json) for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

warnings.simplefilter("ignore")

DATA = Path("/tmp/dbn_bench")
ECR = Path("/work/shared/data/external/ecr/data.csv")
ECR_MAP = ROOT / "models" / "mappings" / "ecr.yaml"
GEN_VERSION = 2
TARGET_NQ = 3.0
TARGET_NO_NQ = 2.0
NQ_FULL_LIMIT_S = 8 * 60

FLOOR_CODE = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
t2 = time.perf_counter()
df.to_csv(sys.argv[2], index=False)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "write": t3 - t2, "rows": len(df)}))
"""


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data
def generate(path: Path, rows: int, seed: int = 0, chunk: int = 250_000) -> float:
    """Write the benchmark CSV (vectorised, chunked); return seconds. Reused when meta matches."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    import distancing_bn as d
    from distancing_bn.simulate import sample_cases

    meta = {"rows": rows, "seed": seed, "version": GEN_VERSION}
    mpath = path.with_suffix(".meta.json")
    if path.exists() and mpath.exists() and json.loads(mpath.read_text()) == meta:
        return 0.0
    t0 = time.perf_counter()
    m = d.load_model()
    qs = list(m.questions)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    schema = pa.schema([("id", pa.string())] + [(q, pa.string()) for q in qs])
    with pacsv.CSVWriter(
        str(tmp), schema, write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed")
    ) as w:
        for i, s in enumerate(range(0, rows, chunk)):
            n = min(rows, s + chunk) - s
            cases = sample_cases(m, n, seed=seed * 1_000_003 + i)
            rng = np.random.default_rng([seed, i])
            answered = rng.random((n, len(qs))) < 0.25
            cols = [pa.array(np.char.add("r", np.arange(s, s + n).astype(str)))]
            for j, q in enumerate(qs):
                labels = np.asarray(m.network.states[q], dtype=object)[cases[q]]
                cols.append(pa.array(labels, type=pa.string(), mask=~answered[:, j]))  # null -> blank cell
            w.write_table(pa.Table.from_arrays(cols, schema=schema))
    os.replace(tmp, path)
    mpath.write_text(json.dumps(meta))
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- child processes
def run_child(cmd: list[str], label: str) -> dict:
    """Run ``cmd``; wall time, VmHWM (polled) and wait4 ru_maxrss of the child, its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
    hwm = 0
    status_path = f"/proc/{p.pid}/status"
    while True:
        try:
            with open(status_path) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
                        break
        except OSError:
            pass
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode(errors="replace")
    res = {
        "label": label,
        "cmd": cmd,
        "wall": wall,
        "vmhwm_kib": hwm,
        "ru_maxrss_kib": ru.ru_maxrss,
        "rc": p.returncode,
        "load": os.getloadavg()[0],
    }
    if p.returncode not in (0, 1):  # 1 = some rows marked (not a failure)
        raise RuntimeError(f"{label}: exit {p.returncode}\n{text[-2000:]}")
    with contextlib.suppress(ValueError, IndexError):
        res["child"] = json.loads(text.strip().splitlines()[-1])
    log(
        f"  {label}: {wall:.2f} s, peak RSS {max(hwm, 0) / 1024:.0f} MiB (ru_maxrss {ru.ru_maxrss / 1024:.0f} MiB), "
        f"rc {p.returncode}, load {res['load']:.2f}"
    )
    return res


def floor_cmd(src: Path, dst: Path) -> list[str]:
    return [sys.executable, "-c", FLOOR_CODE, str(src), str(dst)]


def score_cmd(src: Path, dst: Path, nq: bool, mapping: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "distancing_bn", "score", str(src), "-o", str(dst), "--quiet"]
    if not nq:
        cmd.append("--no-next-question")
    if mapping is not None:
        cmd += ["--mapping", str(mapping)]
    return cmd


def med(xs: list[dict], key: str = "wall") -> float:
    return float(np.median([x[key] for x in xs]))


# ---------------------------------------------------------------------------- profile
def profile_chunk(src: Path, rows: int = 50_000) -> dict:
    """Stage times of one chunk through the same code path as score_csv/score_frame."""
    import io

    import pandas as pd  # noqa: F401  (imported before timing: the parse stage must not include it)

    import distancing_bn as d
    from distancing_bn import batch as B
    from distancing_bn.csvio import read_csv_chunks

    m = d.load_model()
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    chunks, _sep, header = read_csv_chunks(src, None, rows)
    chunk = next(chunks)
    t["csv_parse"] = time.perf_counter() - t0
    plan = B._Plan(m, header, None, None, False)
    t0 = time.perf_counter()
    enc = B._evidence(m, chunk, plan, 0, "mark")  # (evidence, status[, notices]) depending on the version
    ev = enc[0]
    t["encode"] = time.perf_counter() - t0
    names = list(m.causes)
    t0 = time.perf_counter()
    for s in range(0, rows, B._ENGINE_CHUNK):
        e = min(rows, s + B._ENGINE_CHUNK)
        m.engine.query({q: a[s:e] for q, a in ev.likelihoods.items()}, e - s, marginals=names)
    t["engine"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    B._notices(m, ev)
    t["notices"] = time.perf_counter() - t0
    # next question: the one-pass kernel (posterior + best question) minus the posterior alone
    available = ~B._answered(m, ev)
    costs = m.question_costs
    t0 = time.perf_counter()
    for s in range(0, rows, B._ENGINE_CHUNK):
        e = min(rows, s + B._ENGINE_CHUNK)
        lik = {q: a[s:e] for q, a in ev.likelihoods.items()}
        m.engine.best_questions(lik, e - s, m.questions, available=available[s:e], costs=costs, marginals=names)
    t["next_question"] = max(0.0, time.perf_counter() - t0 - t["engine"])
    # whole score_frame (without next question: adds frame assembly to the stages above)
    t0 = time.perf_counter()
    scored = B.score_frame(m, chunk, next_question=False, _plan=plan)
    sf_no = time.perf_counter() - t0
    t["assemble_frame"] = max(0.0, sf_no - t["encode"] - t["engine"] - t["notices"])
    from distancing_bn.csvio import write_csv_chunk

    scored_nq = scored.assign(next_question="x", next_gain_bits=np.full(len(scored), 0.123456))
    t0 = time.perf_counter()
    write_csv_chunk(scored_nq, io.BytesIO(), header=True)
    t["csv_write"] = time.perf_counter() - t0
    t["_score_frame_no_nq"] = sf_no
    t["_rows"] = rows
    return t


# ---------------------------------------------------------------------------- main
def run(quick: bool, with_5m: bool) -> dict:
    res: dict = {"load_start": os.getloadavg(), "quick": quick}
    big = 100_000 if quick else 1_000_000
    small = 20_000 if quick else 100_000
    files = {n: DATA / f"answers_{n}.csv" for n in (small, big)}
    if with_5m:
        files[5_000_000] = DATA / "answers_5000000.csv"
    res["generate_s"] = {}
    for n, f in files.items():
        s = generate(f, n)
        res["generate_s"][n] = s
        log(f"  data {f}: {f'generated in {s:.1f} s' if s else 'reused'}, {f.stat().st_size / 2**20:.0f} MiB")
    res["file_mib"] = {str(n): f.stat().st_size / 2**20 for n, f in files.items()}
    tmpdir = Path(tempfile.mkdtemp(prefix="dbn_score_"))
    out = tmpdir / "out.csv"
    reps = 2
    try:
        # start-up cost (import + model load + tiny file)
        tiny = tmpdir / "tiny.csv"
        with open(files[small]) as fh:
            tiny.write_text("".join(next(fh) for _ in range(11)))
        res["startup"] = run_child(score_cmd(tiny, out, True), "startup (10 rows)")
        # (i)-(iii) on the small file, interleaved repeats
        sm: dict[str, list] = {"floor": [], "no_nq": [], "nq": []}
        for _r in range(reps):
            sm["floor"].append(run_child(floor_cmd(files[small], out), f"floor {small:,}"))
            sm["no_nq"].append(run_child(score_cmd(files[small], out, False), f"score --no-next-question {small:,}"))
        sm["nq"].append(run_child(score_cmd(files[small], out, True), f"score (next question) {small:,}"))
        res["small"] = {"rows": small, **sm}
        # big file: floor, without next question (also gives the 1M peak RSS)
        bg: dict[str, list] = {"floor": [], "no_nq": [], "nq": []}
        nq_est = sm["nq"][0]["wall"] * big / small
        res["nq_big_estimate"] = nq_est
        big_reps = 1 if quick else 2
        for _r in range(big_reps):  # interleaved, so a burst of load hits all three alike
            bg["floor"].append(run_child(floor_cmd(files[big], out), f"floor {big:,}"))
            bg["no_nq"].append(run_child(score_cmd(files[big], out, False), f"score --no-next-question {big:,}"))
            if nq_est <= NQ_FULL_LIMIT_S:
                bg["nq"].append(run_child(score_cmd(files[big], out, True), f"score (next question) {big:,}"))
        if nq_est <= NQ_FULL_LIMIT_S:
            res["nq_big_extrapolated"] = False
        else:
            log(
                f"  score with next question on {big:,} rows would take ~{nq_est / 60:.0f} min: extrapolated from {small:,}"
            )
            res["nq_big_extrapolated"] = True
        res["big"] = {"rows": big, **bg}
        # (iv) ECR with its mapping
        ecr_rows = sum(1 for _ in open(ECR)) - 1
        ecr = {"rows": ecr_rows, "no_nq": [], "nq": [], "floor": []}
        for _r in range(reps):
            ecr["floor"].append(run_child(floor_cmd(ECR, out), "floor ECR"))
            ecr["no_nq"].append(run_child(score_cmd(ECR, out, False, ECR_MAP), "ECR --no-next-question"))
        ecr["nq"].append(run_child(score_cmd(ECR, out, True, ECR_MAP), "ECR (next question)"))
        res["ecr"] = ecr
        # (v) 5M rows, memory (without next question)
        if with_5m:
            res["huge"] = {
                "rows": 5_000_000,
                "no_nq": [run_child(score_cmd(files[5_000_000], out, False), "score --no-next-question 5,000,000")],
            }
        # (vi) profile
        log("  profiling one 50,000-row chunk")
        try:
            res["profile"] = profile_chunk(files[small], 50_000 if not quick else 10_000)
        except Exception as exc:  # private functions of batch.py may change; keep the rest
            log(f"  profile failed: {type(exc).__name__}: {exc}")
            res["profile"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        for f in tmpdir.iterdir():
            f.unlink()
        tmpdir.rmdir()
    res["load_end"] = os.getloadavg()
    return res


def fmt_s(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.1f} s"


def report_md(res: dict) -> list[str]:
    """Markdown lines for RESULTS.md (used by run_all.py)."""
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    sm, bg = res["small"], res["big"]
    ns, nb = sm["rows"], bg["rows"]
    L = [
        f"Input: `id` + the 63 questions of the default model, each cell answered with probability 1/4 "
        f"(labels forward-sampled from the model), else blank; {nb:,} rows = {res['file_mib'][str(nb)]:.0f} MiB, "
        f"{ns:,} rows = {res['file_mib'][str(ns)]:.0f} MiB (generated once into /tmp/dbn_bench/, reused). Every "
        f"command is a separate child process timed from outside (start-up and model load included: "
        f"`score` on a 10-row file takes {fmt_s(res['startup']['wall'])}). Floor = `pd.read_csv(src, dtype=str, "
        f"keep_default_na=False)` + `df.to_csv(dst, index=False)` in one process (pandas import included). "
        f"Commands: `python -m distancing_bn score SRC -o DST --quiet [--no-next-question]`. "
        f"Load average during the run: {res['load_start'][0]:.2f} → {res['load_end'][0]:.2f} "
        f"(per-command loads are in RESULTS.json).",
        "",
        "| rows | command | runs | wall (median) | rows/s | ratio to floor | peak RSS |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]

    def row(n: int, name: str, xs: list, floor: float | None) -> None:
        w = med(xs)
        ratio = f"{w / floor:.2f}x" if floor else "1x"
        L.append(
            f"| {n:,} | {name} | {len(xs)} | {fmt_s(w)} | {n / w:,.0f} | {ratio} | "
            f"{max(x['vmhwm_kib'] for x in xs) / 1024:,.0f} MiB |"
        )

    f_s, f_b = med(sm["floor"]), med(bg["floor"])
    row(ns, "I/O floor (read_csv + to_csv)", sm["floor"], None)
    row(ns, "score --no-next-question", sm["no_nq"], f_s)
    row(ns, "score (with next question)", sm["nq"], f_s)
    row(nb, "I/O floor (read_csv + to_csv)", bg["floor"], None)
    row(nb, "score --no-next-question", bg["no_nq"], f_b)
    if bg["nq"]:
        row(nb, "score (with next question)", bg["nq"], f_b)
        nq_big = med(bg["nq"])
    else:
        nq_big = res["nq_big_estimate"]
        L.append(
            f"| {nb:,} | score (with next question), **extrapolated** ×{nb // ns} from the {ns:,}-row run | – | "
            f"≈{fmt_s(nq_big)} | ≈{nb / nq_big:,.0f} | ≈{nq_big / f_b:.1f}x | (not run) |"
        )
    L.append("")
    if res.get("nq_big_extrapolated"):
        L.append(
            f"The full {nb:,}-row run with next question would have taken ≈{nq_big / 60:.0f} min (> 8 min), so "
            f"it was measured on {ns:,} rows and extrapolated linearly (scoring is chunked, 50,000 rows per "
            f"chunk, so time is linear in rows)."
        )
        L.append("")
    r_nq_b, r_nq_s = nq_big / f_b, med(sm["nq"]) / f_s
    r_no_b, r_no_s = med(bg["no_nq"]) / f_b, med(sm["no_nq"]) / f_s
    L.append(
        f"- target ≤{TARGET_NQ:g}x the floor with next question: {r_nq_b:.1f}x at {nb:,} rows"
        f"{' (extrapolated)' if not bg['nq'] else ''}, {r_nq_s:.1f}x at {ns:,} rows → {met(r_nq_b <= TARGET_NQ)}"
        + ("" if r_nq_b <= TARGET_NQ else f" ({r_nq_b / TARGET_NQ:.1f}x over the target)")
    )
    L.append(
        f"- target ≤{TARGET_NO_NQ:g}x the floor without next question: {r_no_b:.2f}x at {nb:,} rows, "
        f"{r_no_s:.2f}x at {ns:,} rows → {met(r_no_b <= TARGET_NO_NQ)}"
        + ("" if r_no_b <= TARGET_NO_NQ else f" ({r_no_b / TARGET_NO_NQ:.1f}x over the target)")
    )
    # floor breakdown
    fb = bg["floor"][0].get("child")
    if fb:
        L.append(
            f"- floor breakdown at {nb:,} rows (first run, in the child): pandas import {fb['import']:.1f} s, "
            f"read_csv {fb['read']:.1f} s, to_csv {fb['write']:.1f} s"
        )
    L.append("")
    # ECR
    e = res["ecr"]
    L.append("### ECR survey file with its mapping")
    L.append("")
    L.append(
        f"`python -m distancing_bn score /work/shared/data/external/ecr/data.csv -o DST --mapping "
        f"models/mappings/ecr.yaml --quiet [--no-next-question]`: {e['rows']:,} rows, 36 items → soft evidence "
        f"on the mapped questions."
    )
    L.append("")
    L.append("| command | runs | wall (median) | rows/s | ratio to floor | peak RSS |")
    L.append("|---|---:|---:|---:|---:|---:|")
    fe = med(e["floor"])
    for name, key in (
        ("I/O floor", "floor"),
        ("score --no-next-question", "no_nq"),
        ("score (with next question)", "nq"),
    ):
        w = med(e[key])
        L.append(
            f"| {name} | {len(e[key])} | {fmt_s(w)} | {e['rows'] / w:,.0f} | "
            f"{'1x' if key == 'floor' else f'{w / fe:.2f}x'} | {max(x['vmhwm_kib'] for x in e[key]) / 1024:,.0f} MiB |"
        )
    L.append("")
    # memory
    L.append("### Peak memory without next question (VmHWM of the `score` child)")
    L.append("")
    L.append(
        "VmHWM is read from /proc/<pid>/status of the child every 20 ms (monotone, so the last read is the "
        "peak up to ≤20 ms before exit). `os.wait4`'s ru_maxrss is kept in RESULTS.json but not shown: on Linux it "
        "carries over the forking parent's peak (this script's, after generating data), so it is only an upper bound."
    )
    L.append("")
    L.append("| rows | file | peak RSS (VmHWM) | wall | rows/s |")
    L.append("|---:|---:|---:|---:|---:|")
    mems = [(ns, sm["no_nq"]), (nb, bg["no_nq"])] + (
        [(res["huge"]["rows"], res["huge"]["no_nq"])] if "huge" in res else []
    )
    for n, xs in mems:
        L.append(
            f"| {n:,} | {res['file_mib'].get(str(n), 0):.0f} MiB | "
            f"{max(x['vmhwm_kib'] for x in xs) / 1024:,.0f} MiB | {fmt_s(med(xs))} | {n / med(xs):,.0f} |"
        )
    L.append("")
    mems = [(n, xs) for n, xs in mems if n >= 100_000] or mems  # below one 50k chunk is not comparable
    peaks = [max(x["vmhwm_kib"] for x in xs) for _, xs in mems]
    flat = len(peaks) >= 2 and max(peaks) <= 1.25 * min(peaks)
    L.append(
        f"- memory flat as the file grows ({', '.join(f'{n:,}' for n, _ in mems)} rows; peaks within 25%): "
        f"{met(flat)} ({max(peaks) / min(peaks):.2f}x from the smallest to the largest file)"
    )
    if "huge" not in res:
        L.append(
            "- the 5,000,000-row run was not made in this run (it takes ≈5× the 1M-row run without next "
            "question; pass `--with-5m`, or `--add-5m` to add it to an existing result); flatness is shown "
            "between 100k and 1M rows."
        )
    else:
        L.append(
            f"- the 5,000,000-row file ({res['file_mib'].get('5000000', 0):.0f} MiB) was generated and scored "
            f"{'in the same run' if not res['huge'].get('added') else 'in a separate run just before the others (`bench_score.py --add-5m`, kept in benchmarks/.results_score_5m.json)'}"
            f"; load average then {res['huge']['no_nq'][0]['load']:.2f}"
            + (f"; code at its end: {res['huge']['code']}" if res["huge"].get("code") else "")
            + "."
        )
    L.append("")
    # profile
    p = res["profile"]
    if "error" in p:
        L.append(f"Profile of one chunk failed: {p['error']}")
        L.append("")
        return L
    stages = ["csv_parse", "encode", "engine", "notices", "next_question", "assemble_frame", "csv_write"]
    tot = sum(p[s] for s in stages)
    L.append(f"### Where the time goes: one {int(p['_rows']):,}-row chunk, in process")
    L.append("")
    L.append(
        "Same functions as `score_csv`, one thread (the command runs the engine stages in "
        "`--workers` threads and parses the next chunk meanwhile): `csvio.read_csv_chunks` (pyarrow), "
        "`_evidence`, `Engine.query` over the causes in sub-chunks of `_ENGINE_CHUNK`, `_notices`, "
        "`Engine.best_questions` (the posterior and the best question in one pass; shown here is "
        "its time beyond the posterior alone), output frame, `csvio.write_csv_chunk`."
    )
    L.append("")
    L.append("| stage | time | share (with next question) | share (without) | rows/s of the stage |")
    L.append("|---|---:|---:|---:|---:|")
    tot_no = tot - p["next_question"]
    for s in stages:
        L.append(
            f"| {s.replace('_', ' ')} | {fmt_s(p[s])} | {p[s] / tot:.0%} | "
            f"{'–' if s == 'next_question' else f'{p[s] / tot_no:.0%}'} | {(p['_rows'] / p[s]) if p[s] > 0 else float('inf'):,.0f} |"
        )
    L.append(
        f"| total | {fmt_s(tot)} | 100% | 100% | {p['_rows'] / tot:,.0f} (without next question: "
        f"{p['_rows'] / tot_no:,.0f}) |"
    )
    L.append("")
    return L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k/100k rows")
    ap.add_argument("--with-5m", action="store_true", help="also generate and score a 5,000,000-row file (memory)")
    ap.add_argument("--json", default=str(HERE / ".results_score.json"))
    ap.add_argument(
        "--add-5m", action="store_true", help="only run the 5M-row memory run and add it to the existing --json result"
    )
    args = ap.parse_args()
    if args.add_5m:
        res = json.loads(Path(args.json).read_text())
        f = DATA / "answers_5000000.csv"
        g = generate(f, 5_000_000)
        log(f"  data {f}: {f'generated in {g:.1f} s' if g else 'reused'}, {f.stat().st_size / 2**20:.0f} MiB")
        res["generate_s"]["5000000"] = g
        res["file_mib"]["5000000"] = f.stat().st_size / 2**20
        tmpdir = Path(tempfile.mkdtemp(prefix="dbn_score_"))
        try:
            run5 = run_child(score_cmd(f, tmpdir / "out.csv", False), "score --no-next-question 5,000,000")
        finally:
            for x in tmpdir.iterdir():
                x.unlink()
            tmpdir.rmdir()
        res["huge"] = {"rows": 5_000_000, "no_nq": [run5], "added": True, "file_mib": f.stat().st_size / 2**20}
        (HERE / ".results_score_5m.json").write_text(json.dumps(res["huge"], indent=1, default=float))
        res["command"] += " && PYTHONPATH=src python benchmarks/bench_score.py --add-5m"
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
        print("\n".join(report_md(res)))
        return
    res = run(args.quick, args.with_5m)
    res["command"] = (
        "PYTHONPATH=src python benchmarks/bench_score.py"
        + (" --quick" if args.quick else "")
        + (" --with-5m" if args.with_5m else "")
    )
    Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    print("\n".join(report_md(json.loads(json.dumps(res, default=float)))))


if __name__ == "__main__":
    main()
