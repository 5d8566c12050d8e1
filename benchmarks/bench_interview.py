"""Interview speed on the default model: ranking questions, checklists and grids for one case.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_interview.py [--repeats N]

Prints a markdown table (medians of N timed calls after one warm-up call) of:

- ``rank_questions`` with its groups (checklists and rating grids, each gain exact over every
  joint answer), before any answer and after the screens (issue 11's goal: at most 5 ms);
- the same without groups, and one posterior;
- pgmpy's VariableElimination for the causes' marginals given the same answers, the reference
  in the same run (a ratio, since the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import distancing_bn as dbn


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    model = dbn.load_model()
    session = model.session()
    for name in model.screens:
        session.answer(name, "none" if model.is_group(name) else model.answers_of(name)[0])
    after = session.answers
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(model.to_pgmpy())
    evidence = {**{q: a for q, a in after.items()}, **model.observed}
    rows = [
        ("rank, with groups, no answer", lambda: model.rank_questions({})),
        ("rank, with groups, after the screens", lambda: model.rank_questions(after)),
        ("rank, questions only, after the screens", lambda: model.rank_questions(after, groups=False)),
        ("posterior, after the screens", lambda: model.posterior(after)),
        (
            "pgmpy VariableElimination, causes' marginals, after the screens",
            lambda: [ve.query([c], evidence=evidence, show_progress=False) for c in model.causes],
        ),
    ]
    est = model.memory_estimate
    grids = [g for g in model.groups.values() if g.is_grid]
    outcomes = max(math.prod(len(model.answers_of(q)) for q in g.items) for g in model.groups.values())
    print(
        f"Default model: {len(model.causes)} causes, {len(model.facets)} facets, {len(model.questions)} questions, "
        f"{len(model.groups) - len(grids)} checklists and {len(grids)} grids (largest: {outcomes:,} joint answers); "
        f"largest clique {est.largest_states:,} states.\n"
    )
    print("| call | median (ms) |")
    print("|---|---:|")
    times = {}
    for label, fn in rows:
        times[label] = median_ms(fn, args.repeats)
        print(f"| {label} | {times[label]:.1f} |")
    ref = times["pgmpy VariableElimination, causes' marginals, after the screens"]
    print(
        f"\nRanking with groups after the screens: {ref / times['rank, with groups, after the screens']:.2f}x "
        "the speed of one pgmpy posterior of the causes (same run)."
    )


if __name__ == "__main__":
    main()
