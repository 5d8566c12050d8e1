"""Interview speed on the default model: ranking questions, checklists and grids for one case.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_interview.py [--repeats N]

Prints a markdown table (medians of N timed calls after one warm-up call) of:

- ``rank_questions`` with its groups (checklists and rating grids, each gain exact over every
  joint answer), before any answer and after the screens (issue 11's goal: at most 5 ms);
- the same three steps further into a session (where more groups sit under answered questions,
  so fewer of their outcome tables are the answer-free ones kept from earlier calls);
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


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this thread (ms): on a shared machine the second
    leaves out the time spent waiting for a core."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c) * 1e3)
        wall.append((time.perf_counter() - t) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    model = dbn.load_model()
    session = model.session()
    for name in model.screens:
        session.answer(name, "none" if model.is_group(name) else model.answers_of(name)[0])
    after = session.answers
    # mid-session: the next three steps of a session answering the middle answer of every row
    for _ in range(3):
        step = session.next_question()
        if step is None:
            break
        rows_of = model.groups[step].items if model.is_group(step) else (step,)
        middle = {q: model.answers_of(q)[len(model.answers_of(q)) // 2] for q in rows_of if q not in session.asked}
        session.answer(step, middle if model.is_group(step) else middle[step])
    mid = session.answers
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(model.to_pgmpy())
    evidence = {**{q: a for q, a in after.items()}, **model.observed}
    rows = [
        ("rank, with groups, no answer", lambda: model.rank_questions({})),
        ("rank, with groups, after the screens", lambda: model.rank_questions(after)),
        ("rank, with groups, after the screens and three more steps", lambda: model.rank_questions(mid)),
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
    print("| call | median wall (ms) | median CPU of the thread (ms) |")
    print("|---|---:|---:|")
    times = {}
    for label, fn in rows:
        times[label] = median_ms(fn, args.repeats)
        print(f"| {label} | {times[label][0]:.1f} | {times[label][1]:.1f} |")
    ref = times["pgmpy VariableElimination, causes' marginals, after the screens"][0]
    rank = times["rank, with groups, after the screens"]
    print(
        f"\nRanking with groups after the screens: {ref / rank[0]:.2f}x the speed of one pgmpy posterior of the "
        f"causes (same run), {rank[1] / times['posterior, after the screens'][1]:.2f}x the CPU time of one posterior."
    )


if __name__ == "__main__":
    main()
