"""Batch scoring of tables of answers: DataFrames, CSV files (streamed), Dask DataFrames.

Every input row comes out, in order, with its id columns unchanged, ``p_<cause>`` for every
cause (and facet with ``facets=True``), ``top_cause``, ``top_probability``, optionally
``next_question`` and ``next_gain_bits``, and ``status`` (``ok`` or why the row has no result).
CSV files are read and written in chunks (constant memory); the output goes to a temporary
file that is renamed only when the whole run succeeded.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
import stat
import sys
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .csvio import file_error, read_csv_chunks, write_csv_chunk
from .errors import DataError, DistancingBNWarning
from .evidence import Evidence, encode_labels, factorize_cells, one_hot
from .mapping import ColumnMap, SurveyMapping, likelihood_table, load_mapping

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["ScoreSummary", "score_csv", "score_frame"]

ErrorMode = Literal["mark", "raise"]
DEFAULT_CHUNK = 50_000
OUTPUT_COLUMNS = (
    "top_cause",
    "top_probability",
    "notices",
    "next_question",
    "next_gain_bits",
    "stop_reason",
    "status",
)
_TIE = 1e-12  # probabilities this close to the row's best count as tied: the first in model order wins
# columns named like identifiers are taken as id columns without a warning
_ID_LIKE = re.compile(r"(^|[_\s-])(id|ids|key|case|row|respondent|participant|user|uuid)($|[_\s-])", re.IGNORECASE)
_ENGINE_CHUNK = 8192  # rows per engine call: large enough for BLAS, small enough for the caches


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """What a file-to-file run did."""

    rows: int
    ok: int
    marked: int
    output: str

    @property
    def all_ok(self) -> bool:
        """True when every row scored."""
        return self.marked == 0


def _resolve_mapping(model: Model, mapping: SurveyMapping | str | Path | None) -> SurveyMapping | None:
    if mapping is None or isinstance(mapping, SurveyMapping):
        return mapping
    return load_mapping(mapping, model.network, model_id=model.id)


class _Plan:
    """Which columns inform which questions, which are ids; decided once per input header.

    Linear in the number of columns; refuses a header of which no column is a question or a
    mapped column (``separator``: the CSV delimiter it was read with, for the hint).
    """

    def __init__(
        self,
        model: Model,
        columns: Sequence[str],
        mapping: SurveyMapping | None,
        id_columns: Sequence[str] | None,
        strict: bool,
        *,
        separator: str | None = None,
    ) -> None:
        columns = list(columns)
        repeated = sorted(c for c, k in Counter(columns).items() if k > 1)
        if repeated:
            raise DataError(f"the input has repeated column names {_names(repeated)}; each column needs its own name")
        questions = set(model.questions)
        by_column: dict[str, ColumnMap] = {}
        for cm in mapping.columns if mapping is not None else ():
            by_column.setdefault(cm.column, cm)
        self.direct = [c for c in columns if c in questions]
        self.mapped = [by_column[c] for c in columns if c in by_column and c not in questions]
        if not self.direct and not self.mapped:
            raise DataError(_no_question_message(model, columns, mapping, separator))
        used = set(self.direct) | {cm.column for cm in self.mapped}
        ignored = set(mapping.ignore) if mapping is not None else set()
        if id_columns is None:
            self.ids = [c for c in columns if c not in used]
            chosen: set[str] = set()
        else:
            present = set(columns)
            missing = [c for c in id_columns if c not in present]
            if missing:
                raise DataError(f"id column(s) {_names(missing)} not in the input; columns: {_names(columns)}")
            self.ids = list(id_columns)
            chosen = set(id_columns)
        unknown = [
            c for c in columns if c not in used and c not in ignored and c not in chosen and not _ID_LIKE.search(c)
        ]
        reserved = {f"p_{v}" for v in (*model.causes, *model.facets)} | set(OUTPUT_COLUMNS)
        clash = [c for c in self.ids if c in reserved]
        if clash:
            raise DataError(
                f"input column(s) {_names(clash)} have the names of output columns; "
                "rename them or leave them out with id_columns"
            )
        if unknown:
            hints = []
            for c in unknown[:_SHOWN]:  # difflib only for the names shown
                close = difflib.get_close_matches(str(c), list(model.questions), n=1, cutoff=0.75)
                hints.append(f"{_cut(c)} (did you mean '{close[0]}'?)" if close else _cut(c))
            msg = (
                f"{len(unknown)} column(s) are not questions of model '{model.id}' and not mapped: "
                + ", ".join(hints)
                + (" ..." if len(unknown) > _SHOWN else "")
            )
            if strict:
                raise DataError(msg + "; remove them, map them, or pass id_columns / strict=False")
            kept = "; they are kept as id columns" if id_columns is None else "; they are left out of the output"
            warnings.warn(msg + kept, DistancingBNWarning, stacklevel=4)


_SHOWN = 15  # column names listed in a message


def _cut(name: Any) -> str:
    """A column name or cell for a message: repr'd, cut to 40 characters."""
    return repr(str(name))[:40]


def _names(names: Sequence[Any], shown: int = _SHOWN) -> str:
    """A list of column names for a message: each cut, at most ``shown`` of them."""
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return "[" + ", ".join(_cut(c) for c in names[:shown]) + more + "]"


def _no_question_message(
    model: Model, columns: Sequence[str], mapping: SurveyMapping | None, separator: str | None
) -> str:
    """Why a header that informs no question is refused, what it was and what would fix it."""
    what = f"no column of the input is a question of model '{model.id}'"
    if mapping is not None:
        what += f" or a column of the mapping '{mapping.id}'"
    seen = f"the header has {len(columns)} column(s): {_names(columns, 5)}"
    expected = ", ".join(f"'{q}'" for q in model.questions[:5]) + (", ..." if len(model.questions) > 5 else "")
    known = set(model.questions) | ({cm.column for cm in mapping.columns} if mapping is not None else set())
    hints = []
    if separator is not None:
        for other in (",", ";", "\t", "|"):
            if other != separator and any(
                part.strip() in known for c in columns if other in c for part in c.split(other)
            ):
                shown = "tab" if other == "\t" else other
                hints.append(
                    f"the header looks {shown!r}-separated: give the delimiter with sep={other!r} (--sep {shown!r})"
                )
                break
        else:
            if len(columns) == 1:
                hints.append(
                    f"the header was split at {separator!r} into one column; if the file uses another delimiter, "
                    "give it with sep= (--sep)"
                )
    if mapping is None:
        hints.append("if the columns are a survey's own, describe them in a mapping (mapping=, --mapping)")
    return f"{what}; {seen}; questions are for example {expected}" + "".join(f"; {h}" for h in hints)


def _evidence(
    model: Model, frame: pd.DataFrame, plan: _Plan, row_offset: int, errors: ErrorMode
) -> tuple[Evidence, np.ndarray, dict[str, np.ndarray]]:
    """Build likelihoods for every question; return evidence, per-row status and the rows each notice is raised in."""

    net = model.network
    n = len(frame)
    status = np.full(n, "ok", dtype=object)
    lik: dict[str, np.ndarray] = {}

    def merge(q: str, arr: np.ndarray) -> None:
        lik[q] = lik[q] * arr if q in lik else arr

    def fail(col: str, bad_rows: np.ndarray, values: pd.Series, valid: str) -> None:
        first = int(bad_rows[0])
        if errors == "raise":
            raise DataError(
                f"row {row_offset + first + 1}, column '{col}': {_cut(values.iloc[first])} is not "
                f"a valid answer; valid: {valid}",
                row=row_offset + first + 1,
                column=col,
            )
        for r in bad_rows:
            if status[r] == "ok":
                status[r] = f"invalid: column '{col}' has {_cut(values.iloc[r])}; valid: {valid}"

    for col in plan.direct:
        states = net.states[col]
        codes, bad = encode_labels(frame[col], states)
        if bad.any():
            fail(col, np.flatnonzero(bad), frame[col], ", ".join((*states, "unsure", "(blank)")))
        if (codes >= 0).any():
            merge(col, one_hot(codes, len(states)))
    for cm in plan.mapped:
        card = net.card(cm.question)
        keys, uniques, odd = factorize_cells(frame[cm.column])
        table, bad = likelihood_table(cm, list(uniques), card)
        table = np.vstack([table, np.ones((1, card))])
        bad = np.append(bad, False)
        keys = np.where(keys < 0, len(uniques), keys)
        bad_cells = bad[keys] if odd is None else bad[keys] | odd
        if bad_cells.any():
            valid = (
                ", ".join(sorted(cm.answers, key=lambda x: (len(x), x)))
                + ", missing: "
                + (", ".join(sorted(cm.missing)) or "(blank)")
            )
            fail(cm.column, np.flatnonzero(bad_cells), frame[cm.column], valid)
        merge(cm.question, table[keys])
    notices = _notices(model, Evidence(n, lik))  # from every valid cell, even in a marked row
    invalid = status != "ok"
    if invalid.any():
        for q in lik:
            lik[q] = np.where(invalid[:, None], 1.0, lik[q])
    return Evidence(n, lik), status, notices


def score_frame(
    model: Model,
    frame: pd.DataFrame,
    *,
    mapping: SurveyMapping | str | Path | None = None,
    id_columns: Sequence[str] | None = None,
    next_question: bool = True,
    errors: ErrorMode = "mark",
    facets: bool = False,
    strict: bool = False,
    workers: int = 1,
    _plan: _Plan | None = None,
    _row_offset: int = 0,
) -> pd.DataFrame:
    """Score every row of ``frame``; see :meth:`distancing_bn.Model.score`.

    ``workers > 1`` scores blocks of 8192 rows in that many threads, each with one BLAS thread
    (threadpoolctl, restored afterwards); the results are the same.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame with one column per question (or a dask DataFrame), got "
            f"{type(frame).__name__}; for a list of answer dicts use pandas.DataFrame(rows), for one "
            "person's answers model.posterior(answers)"
        )
    if errors not in ("mark", "raise"):
        raise ValueError(f"errors must be 'mark' or 'raise', got {errors!r}")
    _check_workers(workers)
    resolved = _resolve_mapping(model, mapping)
    plan = _plan or _Plan(model, [str(c) for c in frame.columns], resolved, id_columns, strict)
    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    ev, status, notices = _evidence(model, frame, plan, _row_offset, errors)
    n = len(frame)
    causes = list(model.causes)
    names = causes + (list(model.facets) if facets else [])
    probs = {v: np.full(n, np.nan) for v in names}
    log_ev = np.full(n, np.nan)
    one_pass = next_question and _one_pass_next_question(model)
    if one_pass:
        available = ~_answered(model, ev)
        costs = model.question_costs
        nq_index = np.full(n, -1, dtype=np.intp)
        nq_gain = np.full(n, np.nan)

    def engine_chunk(s: int) -> None:  # fills rows s .. s + _ENGINE_CHUNK of the arrays above
        t = min(n, s + _ENGINE_CHUNK)
        lik = {q: a[s:t] for q, a in ev.likelihoods.items()}
        if one_pass:  # the posterior and the best question from the same collect pass
            best = model.engine.best_questions(
                lik, t - s, model.questions, available=available[s:t], costs=costs, marginals=names
            )
            res = best.result
            nq_index[s:t] = best.index
            nq_gain[s:t] = best.gain
        else:
            res = model.engine.query(lik, t - s, marginals=names)
        for v in names:
            probs[v][s:t] = model._info[v].p(res.marginals[v])
        log_ev[s:t] = res.log_evidence

    starts = range(0, n, _ENGINE_CHUNK)
    if workers > 1 and len(starts) > 1:  # numpy and BLAS release the GIL: chunks run side by side
        from concurrent.futures import ThreadPoolExecutor

        with _single_threaded_blas(), ThreadPoolExecutor(min(workers, len(starts))) as pool:
            list(pool.map(engine_chunk, starts))
    else:
        for s in starts:
            engine_chunk(s)
    impossible = ~np.isfinite(log_ev) & (status == "ok")
    if impossible.any():
        if errors == "raise":
            r = int(np.flatnonzero(impossible)[0])
            raise DataError(
                f"row {_row_offset + r + 1}: the answers together have probability zero under the model",
                row=_row_offset + r + 1,
            )
        status[impossible] = "impossible: these answers together have probability zero under the model"
    bad = status != "ok"
    tail: dict[str, Any] = {}
    for v in names:
        col = probs[v]
        col[bad] = np.nan
        tail[f"p_{v}"] = col
    cause_mat = np.column_stack([probs[c] for c in causes]) if causes else np.zeros((n, 0))
    top_idx = _first_best(np.where(np.isnan(cause_mat), -1.0, cause_mat)) if causes else np.zeros(n, dtype=int)
    top_cause = np.asarray(causes, dtype=object)[top_idx] if causes else np.full(n, None)
    tail["top_cause"] = np.where(bad, None, top_cause)
    tail["top_probability"] = np.where(bad, np.nan, cause_mat[np.arange(n), top_idx] if causes else np.nan)
    tail["notices"] = _with_cause_notices(model, notices, probs, bad)
    if next_question:
        if one_pass:
            none = (nq_index < 0) | bad
            nq = np.where(none, None, np.asarray(model.questions, dtype=object)[np.maximum(nq_index, 0)])
            gain = np.where(none, np.nan, nq_gain)
        else:
            nq, gain = _next_questions(model, ev, bad)
        nq, gain, reason = _interview_step(model, ev, cause_mat, nq, gain, bad)
        tail["next_question"] = nq
        tail["next_gain_bits"] = gain
        tail["stop_reason"] = reason
    tail["status"] = status
    # the id columns in one selection and the results in one frame: no per-column insert
    return pd.concat([frame[plan.ids], pd.DataFrame(tail, index=frame.index)], axis=1)


def _interview_step(
    model: Model, ev: Evidence, cause_mat: np.ndarray, nq: np.ndarray, gain: np.ndarray, bad: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the interview's order per row: a pending screen first, else the default stop rule.

    Past the screens, the next question is the best single question (checklists that are not
    screens are ranked only in interactive sessions: ``Session``, ``ask``, ``serve``).

    A question screen is pending while it is unanswered; a checklist screen while any of its
    items is. Otherwise the row stops (empty next question) with ``stop_reason`` ``decided``
    (every cause below or above the rule's bounds), ``no_gain`` (best gain below its floor) or
    ``exhausted`` (nothing left to ask); rows with a bad status get neither.
    """
    from .information import StopRule

    rule = StopRule()
    n = ev.rows
    nq = np.asarray(nq, dtype=object).copy()
    gain = np.asarray(gain, dtype=np.float64).copy()
    reason = np.full(n, "", dtype=object)
    with np.errstate(invalid="ignore"):
        decided = ((cause_mat <= rule.decided_low) | (cause_mat >= rule.decided_high)).all(axis=1)
    exhausted = np.array([q is None for q in nq], dtype=bool)
    no_gain = ~exhausted & (np.nan_to_num(gain, nan=0.0) < rule.min_gain_bits)
    reason[no_gain] = "no_gain"
    reason[exhausted] = "exhausted"
    reason[decided] = "decided"  # the stop rule's order: decided before no gain and nothing left
    stop = decided | no_gain
    nq[stop] = None
    gain[stop] = np.nan
    answered = _answered(model, ev)
    col = {q: j for j, q in enumerate(model.questions)}
    pending = np.zeros(n, dtype=bool)
    for name in model.screens:  # the first pending screen wins: earlier screens fill in first
        items = model.groups[name].items if model.is_group(name) else (name,)
        waiting = ~answered[:, [col[q] for q in items]].all(axis=1) & ~pending
        nq[waiting] = name
        gain[waiting] = np.nan
        reason[waiting] = ""
        pending |= waiting
    nq[bad] = None
    gain[bad] = np.nan
    reason[bad] = ""
    return nq, gain, reason


def _with_cause_notices(
    model: Model, hits: dict[str, np.ndarray], probs: dict[str, np.ndarray], bad: np.ndarray
) -> np.ndarray:
    """Per row, the ids of the notices raised by its answers or its causes' probabilities, urgent first."""
    n = len(bad)
    if model.spec is None:
        return np.full(n, "", dtype=object)
    hits = {k: v.copy() for k, v in hits.items()}
    for c in model.spec.causes:
        for nid, threshold in c.notices:
            hits[nid] = hits.get(nid, np.zeros(n, dtype=bool)) | (
                (np.nan_to_num(probs[c.id], nan=-1.0) >= threshold) & ~bad
            )
    out = np.full(n, "", dtype=object)
    for notice in sorted(model.spec.notices, key=lambda x: {"crisis": 0, "safety": 1}.get(x.kind, 2)):
        hit = hits.get(notice.id)
        if hit is not None and hit.any():
            out[hit] = np.where(out[hit] == "", notice.id, out[hit] + " " + notice.id)
    return out


def _first_best(score: np.ndarray) -> np.ndarray:
    """Per row, the first column within ``_TIE`` of the row's maximum (rounding cannot flip ties)."""
    best = score.max(axis=1, keepdims=True)
    return np.argmax(score >= best - _TIE, axis=1)


def _notices(model: Model, ev: Evidence) -> dict[str, np.ndarray]:
    """Per notice id, the rows whose answers raise it (a soft answer by its likeliest label)."""
    n = ev.rows
    out: dict[str, np.ndarray] = {}
    if model.spec is None:
        return out
    for notice in model.spec.notices:
        hit = np.zeros(n, dtype=bool)
        for q in model.spec.questions:
            triggers = dict(q.notices).get(notice.id)
            if not triggers or q.id not in ev.likelihoods:
                continue
            lam = ev.likelihoods[q.id]
            answered = ~np.all(lam == lam[:, :1], axis=1)
            idx = [q.answers.index(a) for a in triggers]
            hit |= answered & np.isin(lam.argmax(axis=1), idx)
        out[notice.id] = hit
    return out


def _answered(model: Model, ev: Evidence) -> np.ndarray:
    """``(rows, questions)``: which questions each row answered (hard or soft)."""
    answered = np.zeros((ev.rows, len(model.questions)), dtype=bool)
    for j, q in enumerate(model.questions):
        if q in ev.likelihoods:
            answered[:, j] = ~np.all(ev.likelihoods[q] == 1.0, axis=1)
    return answered


def _one_pass_next_question(model: Model) -> bool:
    """True when the exact joint gain with bounds applies (see ``Engine.best_questions``)."""
    return model.engine.joint_gain_applies(model.questions)


def _next_questions(model: Model, ev: Evidence, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row's best question by gain per cost, from every candidate's gain (general networks)."""
    n = ev.rows
    gains = model.engine.expected_gains(ev.likelihoods, ev.rows, model.questions)
    answered = _answered(model, ev)
    costs = model.question_costs
    score = np.where(answered, -np.inf, gains / costs)
    best = _first_best(np.where(np.isfinite(score), score, -np.inf)) if score.shape[1] else np.zeros(n, dtype=int)
    none_left = ~np.isfinite(score[np.arange(n), best])
    qs = np.asarray(model.questions, dtype=object)[best]
    qs = np.where(none_left | bad, None, qs)
    gain = np.where(none_left | bad, np.nan, gains[np.arange(n), best])
    return qs, gain


def score_csv(
    src: str | Path,
    dst: str | Path | None,
    model: Model | None = None,
    *,
    mapping: SurveyMapping | str | Path | None = None,
    id_columns: Sequence[str] | None = None,
    next_question: bool = True,
    errors: ErrorMode = "mark",
    facets: bool = False,
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    sep: str | None = None,
    progress: bool | None = None,
    workers: int | None = None,
    raw_cells: bool = False,
) -> ScoreSummary:
    """Score a CSV file into another, chunk by chunk; ``'-'`` reads stdin / writes stdout.

    The output is written to a temporary file beside ``dst`` (``.<name>.<random>.partial``)
    and renamed only on success, so a failed or interrupted run (an error, Ctrl-C, SIGTERM or
    SIGHUP) never leaves a partial file; only SIGKILL, which no program can catch, leaves the
    temporary file behind. An existing ``dst`` keeps its permissions; a new one gets those
    of the umask. A ``dst`` that is a device or a pipe (``/dev/null``) is written in place. Ids
    are read and written as text; rows keep their order; results do not depend on
    ``chunk_size``. Text cells a spreadsheet would run as formulas get a ``'`` in front
    unless ``raw_cells`` (see :mod:`distancing_bn.csvio`). ``dst=None`` writes next to
    ``src`` as ``<name>.scored.csv``.

    Raises
    ------
    DataError
        The input cannot be read, the output cannot be written (or is the input, or a
        directory), a mapping is wrong, no column is a question or a mapped column, or
        (``errors='raise'``) a cell is invalid (1-based row number and column named).
    """
    if chunk_size < 1:
        raise DataError(f"chunk_size must be at least 1, got {chunk_size}")
    n_workers = default_workers() if workers is None else _check_workers(workers)
    if dst is None:
        dst = "-" if str(src) == "-" else str(Path(src).with_suffix("")) + ".scored.csv"
    output = _Output(src, dst)  # checked before any work
    if model is None:
        from .formats import load_model

        model = load_model()
    resolved = _resolve_mapping(model, mapping)

    def run(frame: pd.DataFrame, offset: int) -> pd.DataFrame:
        return score_frame(
            model,
            frame,
            mapping=resolved,
            id_columns=id_columns,
            next_question=next_question,
            errors=errors,
            facets=facets,
            strict=strict,
            workers=n_workers,
            _plan=plan,
            _row_offset=offset,
        )

    rows = ok = 0
    bar = None
    with _runs_end_on_signals():
        chunks, separator, header = read_csv_chunks(src, sep, chunk_size)
        plan = _Plan(model, header, resolved, id_columns, strict, separator=separator)
        blas = _single_threaded_blas() if n_workers > 1 else contextlib.nullcontext()
        try:
            output.open()
            bar = _progress_bar(progress, src)
            with blas:
                wrote_header = False
                for chunk in _read_ahead(chunks) if n_workers > 1 else chunks:
                    scored = run(chunk, rows)
                    output.write(scored, header=not wrote_header, raw_cells=raw_cells)
                    wrote_header = True
                    rows += len(scored)
                    ok += int((scored["status"] == "ok").sum())
                    if bar is not None:
                        bar.update(len(scored))
                if not wrote_header:  # header-only input: write the output header alone
                    import pandas as pd

                    empty = pd.DataFrame({c: pd.Series(dtype=str) for c in header})
                    output.write(run(empty, 0), header=True, raw_cells=raw_cells)
            output.commit()
        finally:
            if bar is not None:
                bar.close()
            output.discard()
    return ScoreSummary(rows, ok, rows - ok, str(dst))


class _Output:
    """Where scored rows go: stdout; a device or pipe, written in place; or a temporary file
    beside the target, renamed over it by :meth:`commit` (removed by :meth:`discard` otherwise).

    Everything that can be known about the target is checked when it is made, before any work.
    """

    def __init__(self, src: str | Path, dst: str | Path) -> None:
        self.name = str(dst)
        self.fh: Any = None
        self.tmp: str | None = None
        self.mode: int | None = None  # the permission bits of a file being replaced
        if self.name == "-":
            self.kind = "stdout"
            return
        path = Path(dst)
        if path.is_dir():
            raise DataError(
                f"{path}: the output is a directory; give a file name, e.g. "
                f"{path / (Path(str(src)).stem if str(src) != '-' else 'answers')}.scored.csv",
                file=str(path),
            )
        if str(src) != "-" and _same_file(Path(src), path):
            raise DataError(
                f"{path}: the output is the input file {src}; scoring would replace the answers with the "
                "results: give another output name",
                file=str(path),
            )
        self.target = os.path.realpath(path)  # a link keeps pointing at the result
        try:
            info = os.stat(self.target)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise file_error(path, exc, "write") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            self.kind = "in place"  # /dev/null, /dev/stdout, a named pipe: no rename over them
            return
        parent = os.path.dirname(self.target)
        if not os.path.isdir(parent):
            raise DataError(f"{path}: cannot write the output: the directory {parent} does not exist", file=str(path))
        self.kind = "atomic"
        self.mode = info.st_mode & 0o777 if info is not None else None

    def open(self) -> None:
        if self.kind == "stdout":
            sys.stdout.flush()
            self.fh = getattr(sys.stdout, "buffer", None) or _TextSink(sys.stdout)
            return
        try:
            if self.kind == "in place":
                self.fh = open(self.target, "wb")  # noqa: SIM115 - closed by commit / discard
                return
            directory, name = os.path.split(self.target)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            for _ in range(100):
                tmp = os.path.join(directory, f".{name}.{os.urandom(4).hex()}.partial")
                try:  # a new output's mode: 0o666 less the umask, as the kernel applies it
                    fd = os.open(tmp, flags, 0o600 if self.mode is not None else 0o666)
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover - 100 random names taken
                raise FileExistsError(f"no free temporary name beside {self.target}")
            self.tmp = tmp
            if self.mode is not None:
                os.fchmod(fd, self.mode)
            self.fh = os.fdopen(fd, "wb")
        except OSError as exc:
            raise file_error(self.name, exc, "write") from None

    def write(self, frame: pd.DataFrame, *, header: bool, raw_cells: bool) -> None:
        try:
            write_csv_chunk(frame, self.fh, header=header, raw_cells=raw_cells)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise file_error(self.name, exc, "write") from None

    def commit(self) -> None:
        try:
            if self.kind == "stdout":
                self.fh.flush()
                return
            fh, self.fh = self.fh, None
            fh.close()
            if self.tmp is not None:
                os.replace(self.tmp, self.target)
                self.tmp = None
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise file_error(self.name, exc, "write") from None

    def discard(self) -> None:
        """Close and remove the temporary file of a run that did not commit (no-op after commit)."""
        if self.kind != "stdout" and self.fh is not None:
            fh, self.fh = self.fh, None
            with contextlib.suppress(OSError):
                fh.close()
        if self.tmp is not None:
            tmp, self.tmp = self.tmp, None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file (links resolved; hard links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _runs_end_on_signals() -> Iterator[None]:
    """While a run lasts, SIGTERM and SIGHUP end it as Ctrl-C does: by an exception (here
    ``SystemExit(128 + signal)``), so the temporary output file is removed on the way out.

    Only where the signal has its default action (a handler of the caller's stays) and only
    in the main thread (the only one that may set handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in _ENDING_SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _end_run)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _end_run(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _read_ahead(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Yield the chunks of ``chunks``, parsing the next one in a thread while this one is scored."""
    from concurrent.futures import ThreadPoolExecutor

    def pull() -> pd.DataFrame | None:
        return next(chunks, None)

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(pull)
        while True:
            chunk = pending.result()
            if chunk is None:
                return
            pending = pool.submit(pull)
            yield chunk


def _check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    return int(workers)


def default_workers() -> int:
    """Threads for :func:`score_csv`: the CPUs this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _single_threaded_blas() -> Any:
    """One BLAS thread per worker thread while a run lasts (threadpoolctl, restored after)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (pgmpy)
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _TextSink:
    """Bytes to a text stream without a binary buffer (a notebook's or a test's ``sys.stdout``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


def _progress_bar(progress: bool | None, src: str | Path) -> Any:
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with pgmpy
        return None
    return tqdm(desc=f"scoring {Path(str(src)).name}", unit=" rows", file=sys.stderr, leave=False)


def score_dask(model: Model, ddf: Any, **kwargs: Any) -> Any:
    """Score a ``dask.dataframe.DataFrame`` partition by partition with :func:`score_frame`."""

    meta_in = ddf._meta
    meta = score_frame(model, meta_in, **kwargs)
    meta = meta.astype({c: object for c in meta.columns if c in ("top_cause", "next_question", "status")})
    resolved = _resolve_mapping(model, kwargs.pop("mapping", None))
    plan = _Plan(
        model, [str(c) for c in meta_in.columns], resolved, kwargs.get("id_columns"), kwargs.get("strict", False)
    )

    return ddf.map_partitions(_ScorePartition(model, resolved, plan, kwargs), meta=meta)


class _ScorePartition:
    """One partition's scoring, with a token of its own: dask cannot hash a compiled engine."""

    def __init__(self, model: Model, mapping: Any, plan: _Plan, kwargs: dict[str, Any]) -> None:
        self.model, self.mapping, self.plan, self.kwargs = model, mapping, plan, kwargs
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self.token

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        out = score_frame(self.model, df, mapping=self.mapping, _plan=self.plan, **self.kwargs)
        return out.astype({c: object for c in ("top_cause", "next_question", "status") if c in out.columns})
