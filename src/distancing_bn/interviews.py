"""Simulated interviews: the product's own policy run on cases sampled from the model.

Each case is drawn from the model *given its premise* (the always-observed questions take their
observed answer; cases that contradict it are drawn again). A :class:`~distancing_bn.session.Session`
then interviews the case exactly as ``ask`` would: screens first, then the best question or
checklist or grid by the chosen criterion (per unit of cost by default), answers read off the
case, until the stop rule fires. Each answer is "unsure" with probability ``unsure_rate``: a
single question as a whole, a checklist's or grid's rows each on its own (a person can be unsure
of one row and sure of the others).

Reported per criterion: steps (screens: a question, checklist or grid counts as one) and items
asked (every row counts, unsure ones too), median and 90th percentile; top-cause accuracy at the
stop and with every question answered (over cases with at least one cause present; the top
cause is the likeliest one), the same on cases with exactly one cause (with unsure answers,
also with every question asked and each answer unsure at the same rate: what a session that
never stopped could reach), and for each notice
the share of the cases showing a sign of it (an answer that raises it, in the case's full
answers) in which the notice was shown, and after how many steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .guidance import raised_notices
from .information import CRITERIA, StopRule
from .session import Session
from .simulate import _check_count, sample_cases

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["InterviewReport", "sample_premise_cases", "simulate_interviews"]


def sample_premise_cases(model: Model, n: int, *, seed: int | None = 0) -> dict[str, NDArray[np.int64]]:
    """Draw ``n`` cases from the model given its always-observed questions (see :func:`sample_cases`)."""
    return sample_cases(model, n, seed=seed)


@dataclass(frozen=True, slots=True)
class InterviewReport:
    """Per criterion: interview length, accuracy at the stop and with every answer, notices shown."""

    table: Any  # pandas DataFrame, one row per criterion
    cases: Any  # pandas DataFrame, one row per (criterion, case)
    n_cases: int
    seed: int | None
    unsure_rate: float
    stop: StopRule
    n_with_cause: int = 0  # the cases the top-cause accuracy counts (at least one cause present)
    notices: tuple[tuple[str, str], ...] = ()  # (id, title) of the notices reported, urgent first
    n_single_cause: int = 0  # the cases with exactly one cause present

    def to_frame(self) -> pd.DataFrame:
        """Return the per-criterion table."""
        return self.table

    def summary(self) -> str:
        """Return the table as text."""
        lines = [
            f"Simulated {self.n_cases} interviews (seed {self.seed}; {self.unsure_rate:.0%} of answers 'unsure'; "
            f"stop when every cause is below {self.stop.decided_low:g} or above {self.stop.decided_high:g}, "
            f"or the best gain is below {self.stop.min_gain_bits:g}"
            + (f", or after {self.stop.max_questions} questions" if self.stop.max_questions is not None else "")
            + ").",
        ]
        for row in self.table.to_dict(orient="records"):
            lines.append(f"criterion {row['criterion']}:")
            lines.append(
                f"  steps (a checklist or grid counts once): median {row['median_questions']:g}, "
                f"90th percentile {row['p90_questions']:g}"
            )
            lines.append(
                f"  items asked (every row counts): median {row['median_items']:g}, "
                f"90th percentile {row['p90_items']:g}"
            )
            lines.append(
                f"  top-cause accuracy: {row['accuracy_at_stop']:.3f} at the stop, "
                f"{row['accuracy_all_questions']:.3f} with every question answered"
            )
            lines.append(
                f"  cases with one cause: {row['single_cause_at_stop']:.3f} at the stop, "
                f"{row['single_cause_all_questions']:.3f} with every question"
            )
            if self.unsure_rate > 0:
                lines.append(
                    f"  every question asked, {self.unsure_rate:.0%} of them unsure too: top-cause accuracy "
                    f"{row['accuracy_all_asked']:.3f}, one cause {row['single_cause_all_asked']:.3f}"
                )
            for nid, title in self.notices:
                if row.get(f"{nid}_cases"):
                    lines.append(
                        f"  notice {title!r}: shown in {row[f'{nid}_shown']:.1%} of "
                        f"{row[f'{nid}_cases']} cases with a sign of it, after a median of "
                        f"{row[f'{nid}_median_step']:g} steps (at most {row[f'{nid}_max_step']:g})"
                    )
            lines.append(f"  every screen asked within the first {row['screens_within']:g} steps")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _answer_for(
    model: Model, name: str, truth: dict[str, int], done: set[str], rng: np.random.Generator, unsure_rate: float
) -> Any:
    """The case's answer to a question or group; each single answer or row unsure with ``unsure_rate``."""
    if model.is_group(name):
        items = [q for q in model.groups[name].items if q not in done]
        unsure = rng.random(len(items)) < unsure_rate
        return {q: "unsure" if u else model.answers_of(q)[truth[q]] for q, u in zip(items, unsure, strict=True)}
    if rng.random() < unsure_rate:
        return "unsure"
    return model.answers_of(name)[truth[name]]


def _accuracy(p: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[float, float]:
    has_any = y.any(axis=1)
    top = p.argmax(axis=1)
    hit = y[np.arange(len(y)), top]
    single = y.sum(axis=1) == 1
    acc = float(hit[has_any].mean()) if has_any.any() else float("nan")
    one = float(hit[single].mean()) if single.any() else float("nan")
    return acc, one


def simulate_interviews(
    model: Model,
    n_cases: int = 500,
    *,
    seed: int | None = 0,
    criteria: Sequence[str] = ("joint",),
    unsure_rate: float = 0.0,
    stop: StopRule | None = None,
    costs: bool = True,
) -> InterviewReport:
    """Interview ``n_cases`` cases sampled from the model with each criterion; see the module doc.

    Raises
    ------
    ValueError
        ``n_cases`` < 1, a bad ``seed``, ``unsure_rate`` outside [0, 1) or an unknown criterion.
    """
    import pandas as pd

    _check_count("n_cases", n_cases, minimum=1)
    if seed is not None:
        _check_count("seed", seed, minimum=0)
    if not (isinstance(unsure_rate, int | float) and 0 <= unsure_rate < 1):
        raise ValueError(f"unsure_rate must be a number in [0, 1), got {unsure_rate!r}")
    for c in criteria:
        if c not in CRITERIA:
            raise ValueError(f"unknown criterion {c!r}; valid: {', '.join(CRITERIA)}")
    rule = stop or StopRule()
    net = model.network
    truth = sample_premise_cases(model, n_cases, seed=seed)
    causes = list(model.causes)
    infos = [model._info[c] for c in causes]
    y = np.column_stack([np.isin(truth[c], i.counted_states) for c, i in zip(causes, infos, strict=True)])
    qs = list(model.questions)
    full = model.marginals_from_codes({q: truth[q] for q in qs}, n_cases)
    p_full = np.column_stack([i.p(full[c]) for c, i in zip(causes, infos, strict=True)])
    acc_full, one_full = _accuracy(p_full, y)
    acc_asked, one_asked = acc_full, one_full
    if unsure_rate > 0:  # every question asked, each answer unsure at the same rate: the ceiling of a session
        drop = np.random.default_rng(None if seed is None else seed + 11)
        codes = {q: np.where(drop.random(n_cases) < unsure_rate, -1, truth[q]) for q in qs}
        asked = model.marginals_from_codes(codes, n_cases)
        acc_asked, one_asked = _accuracy(
            np.column_stack([i.p(asked[c]) for c, i in zip(causes, infos, strict=True)]), y
        )
    signs = _signs(model, truth, n_cases)
    rows = []
    case_rows = []
    for criterion in criteria:
        rng = np.random.default_rng(None if seed is None else seed + 7)
        memo = _Memo(model, causes)
        p_stop = np.empty((n_cases, len(causes)))
        for i in range(n_cases):
            case = {v: int(a[i]) for v, a in truth.items() if v in net.states}
            s = Session(model, stop=rule, criterion=criterion, costs=costs)
            first_seen: dict[str, int] = {}
            screen_steps: list[int] = []
            while (step := memo.decide(s))[0] is not None:
                name = step[0]
                if name in model.screens:
                    screen_steps.append(s.steps + 1)
                s.answer(name, _answer_for(model, name, case, set(s.asked), rng, unsure_rate))
                for kind in memo.notices(s):
                    first_seen.setdefault(kind, s.steps)
            p_stop[i] = memo.probabilities(s)
            record: dict[str, Any] = {
                "criterion": criterion,
                "case": i,
                "questions": s.steps,
                "items": s.items_asked,
                "stop": step[1],
                "last_screen_step": max(screen_steps, default=0),
            }
            for kind in signs:
                record[f"{kind}_step"] = first_seen.get(kind, -1)
            case_rows.append(record)
        acc, one = _accuracy(p_stop, y)
        frame = pd.DataFrame([r for r in case_rows if r["criterion"] == criterion])
        row: dict[str, Any] = {
            "criterion": criterion,
            "median_questions": float(frame["questions"].median()),
            "p90_questions": float(frame["questions"].quantile(0.9)),
            "median_items": float(frame["items"].median()),
            "p90_items": float(frame["items"].quantile(0.9)),
            "accuracy_at_stop": acc,
            "accuracy_all_questions": acc_full,
            "single_cause_at_stop": one,
            "single_cause_all_questions": one_full,
            "accuracy_all_asked": acc_asked,
            "single_cause_all_asked": one_asked,
            "screens_within": float(frame["last_screen_step"].max()),
        }
        for kind, has in signs.items():
            steps = frame[f"{kind}_step"].to_numpy()[has]
            shown = steps >= 0
            row[f"{kind}_cases"] = int(has.sum())
            row[f"{kind}_shown"] = float(shown.mean()) if has.any() else float("nan")
            row[f"{kind}_median_step"] = float(np.median(steps[shown])) if shown.any() else float("nan")
            row[f"{kind}_max_step"] = float(steps[shown].max()) if shown.any() else float("nan")
        rows.append(row)
    return InterviewReport(
        pd.DataFrame(rows),
        pd.DataFrame(case_rows),
        n_cases,
        seed,
        float(unsure_rate),
        rule,
        n_with_cause=int(y.any(axis=1).sum()),
        n_single_cause=int((y.sum(axis=1) == 1).sum()),
        notices=tuple((n.id, n.title) for n in _ordered_notices(model) if n.id in signs),
    )


class _Memo:
    """Decisions, notices and probabilities per answer history, shared by the cases of one run.

    Cases that answered the same questions the same way are in the same state: most share
    their first steps (the screens, the first questions), so each state is computed once.
    """

    _LIMIT = 500_000

    def __init__(self, model: Model, causes: list[str]) -> None:
        self.model = model
        self.causes = causes
        self.steps: dict[tuple[Any, ...], tuple[str | None, str | None]] = {}
        self.kinds: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self.probs: dict[tuple[Any, ...], NDArray[np.float64]] = {}

    @staticmethod
    def key(s: Session) -> tuple[Any, ...]:
        return tuple((q, a if isinstance(a, str) else tuple(sorted(a.items()))) for q, a in s._history)

    def decide(self, s: Session) -> tuple[str | None, str | None]:
        k = self.key(s)
        if k not in self.steps:
            d = s.decision()
            self._put(self.steps, k, (d.question, d.code))
            return d.question, d.code
        return self.steps[k]

    def notices(self, s: Session) -> tuple[str, ...]:
        k = self.key(s)
        if k not in self.kinds:
            kinds = tuple(n.id for n in raised_notices(self.model, s.answers, s.posterior))
            self._put(self.kinds, k, kinds)
            return kinds
        return self.kinds[k]

    def probabilities(self, s: Session) -> NDArray[np.float64]:
        k = self.key(s)
        if k not in self.probs:
            p = s.posterior.probabilities[self.causes].to_numpy()
            self._put(self.probs, k, p)
            return p
        return self.probs[k]

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self._LIMIT:  # bounded: forget the oldest half
            for old in list(table)[: self._LIMIT // 2]:
                del table[old]
        table[key] = value


def _ordered_notices(model: Model) -> list[Any]:
    order = {"crisis": 0, "safety": 1}
    return sorted(model.spec.notices, key=lambda n: order.get(n.kind, 2)) if model.spec is not None else []


def _signs(model: Model, truth: dict[str, NDArray[np.int64]], n: int) -> dict[str, NDArray[np.bool_]]:
    """Per notice id: the cases whose full answers contain an answer that raises it."""
    out: dict[str, NDArray[np.bool_]] = {}
    if model.spec is None:
        return out
    for q in model.spec.questions:
        if q.observed is not None:
            continue
        for nid, triggers in q.notices:
            hit = np.isin(truth[q.id], [q.answers.index(a) for a in triggers])
            out[nid] = out.get(nid, np.zeros(n, dtype=bool)) | hit
    return out
