"""The terminal table of ``distancing-bn score --format table``.

One block of lines per scored row, fitted to the terminal's width (``shutil.get_terminal_size``,
80 columns when it cannot be known): the 1-based data row, the row's id (the first id column, if
any), its three most likely causes with their probabilities, the next question by its label and
the row's status. Below a row come the titles of the notices it raised (``!`` for the urgent
kinds) and, when the status does not fit its column, the whole status on its own line(s).
Every line is at most ``width`` characters long.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["URGENT_KINDS", "notice_titles", "question_label", "render_score_table", "terminal_width", "wrap_paragraphs"]

URGENT_KINDS = ("safety", "crisis")  # shown first, with "!"
RESULT_COLUMNS = ("top_cause", "top_probability", "notices", "next_question", "next_gain_bits", "stop_reason", "status")
STOP_WORDS = {  # why a row has no next question (the stop_reason column), in a person's words
    "decided": "nothing, each cause is settled",
    "no_gain": "nothing, no question would add much",
    "exhausted": "nothing, every question is answered",
    "budget": "nothing, the question budget is spent",
}
MIN_WIDTH = 40  # narrower terminals get 40-column lines
ELLIPSIS = "..."
TOP = 3  # causes shown per row
GAP = "  "


def terminal_width(fallback: int = 80) -> int:
    """The terminal's width in columns (``COLUMNS`` first, then the terminal, else ``fallback``)."""
    return max(MIN_WIDTH, shutil.get_terminal_size((fallback, 24)).columns)


def question_label(model: Model, question: str) -> str:
    """The short label of a question or checklist; its text when the model has no label."""
    label = getattr(model, "question_label", None)
    if callable(label):
        try:
            return str(label(question))
        except (KeyError, ValueError):  # not a question of this model: show the id as it is
            return question
    return model.question_text(question)


def notice_titles(model: Model) -> dict[str, tuple[str, str]]:
    """Notice id -> (title, kind) for the model's notices (empty for plain networks)."""
    spec = getattr(model, "spec", None)
    if spec is None:
        return {}
    return {n.id: (n.title, n.kind) for n in spec.notices}


def _cause_kind(model: Model, cause: str) -> str:
    spec = getattr(model, "spec", None)
    if spec is None:
        return "relationship"
    for c in spec.causes:
        if c.id == cause:
            return str(getattr(c, "kind", "relationship") or "relationship")
    return "relationship"


def _cut(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (an ellipsis marks a cut)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return text[:width]
    return text[: width - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _float(cell: Any) -> float:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return math.nan
    return value


def _id_column(frame: pd.DataFrame) -> str | None:
    from .batch import OUTPUT_COLUMNS

    results = set(RESULT_COLUMNS) | set(OUTPUT_COLUMNS)
    for c in frame.columns:
        if not str(c).startswith("p_") and c not in results:
            return str(c)
    return None


def _text(cell: Any) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    return str(cell)


def render_score_table(model: Model, frame: pd.DataFrame, *, width: int | None = None, first_row: int = 1) -> str:
    """Render scored rows (the output of ``score``, as objects or as text) for a terminal.

    Parameters
    ----------
    model
        The model the rows were scored with (labels, notice titles, cause kinds).
    frame
        The scored rows: id columns, ``p_<cause>`` columns, ``notices``, ``next_question``,
        ``status``, in input order.
    width
        The line width (default: the terminal's, 80 when unknown; at least 40).
    first_row
        The 1-based data-row number of the frame's first row.
    """
    width = max(MIN_WIDTH, terminal_width() if width is None else int(width))
    titles = notice_titles(model)
    causes = [c for c in model.causes if f"p_{c}" in frame.columns and _cause_kind(model, c) != "safety"]
    id_col = _id_column(frame)
    has_next = "next_question" in frame.columns

    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(frame.to_dict(orient="records")):
        status = _text(rec.get("status")) or "ok"
        ok = status == "ok"
        top: list[tuple[str, str]] = []
        if ok:
            probs = [(p, j, c) for j, c in enumerate(causes) if not math.isnan(p := _float(rec.get(f"p_{c}")))]
            probs.sort(key=lambda x: (-x[0], x[1]))
            top = [(model.label(c), f"{p:.0%}") for p, _, c in probs[:TOP]]
        nq = _text(rec.get("next_question")) if has_next and ok else ""
        stop = _text(rec.get("stop_reason")) if has_next and ok and not nq else ""
        notice_ids = _text(rec.get("notices")).split()
        notices = [(titles.get(x, (x, ""))[0], titles.get(x, (x, ""))[1] in URGENT_KINDS) for x in notice_ids]
        notices.sort(key=lambda t: not t[1])  # urgent first, stable otherwise
        rows.append(
            {
                "row": str(first_row + i),
                "id": _text(rec.get(id_col)) if id_col else "",
                "top": top or [("-", "")],
                "next": question_label(model, nq) if nq else STOP_WORDS.get(stop, stop.replace("_", " ")) or "-",
                "status": status,
                "notices": notices,
            }
        )

    row_w = max(3, *(len(r["row"]) for r in rows)) if rows else 3
    id_w = min(16, max(2, *(len(r["id"]) for r in rows))) if (id_col and rows) else (2 if id_col else 0)
    short_status = [r["status"] if r["status"] == "ok" else r["status"].split(":", 1)[0] for r in rows]
    status_w = min(12, max(6, *(len(s) for s in short_status))) if rows else 6
    pct_w = 4
    fixed = row_w + len(GAP) + (id_w + len(GAP) if id_col else 0) + pct_w + 1 + len(GAP) + status_w
    free = max(8, width - fixed)
    cause_need = max([len("most likely causes")] + [len(label) for r in rows for label, _ in r["top"]])
    next_need = max([len("ask next")] + [len(r["next"]) for r in rows]) if has_next else 0
    # the next question gets a column when the causes fit whole beside it and it gets at least
    # 24 characters (or all it needs); otherwise a line of its own under the causes
    next_column = has_next and cause_need + len(GAP) + min(next_need, 24) <= free
    if not next_column:
        cause_w, next_w = min(cause_need, free), 0
    else:
        cause_w, next_w = cause_need, min(next_need, free - cause_need - len(GAP))

    def line(row: str, id_: str, cause: str, pct: str, nxt: str, status: str) -> str:
        parts = [f"{row:>{row_w}}"]
        if id_col:
            parts.append(f"{_cut(id_, id_w):<{id_w}}")
        parts.append(f"{_cut(cause, cause_w):<{cause_w}} {pct:>{pct_w}}")
        if next_column:
            parts.append(f"{_cut(nxt, next_w):<{next_w}}")
        parts.append(_cut(status, status_w))
        return GAP.join(parts).rstrip()[:width]

    indent = " " * (row_w + len(GAP) + (id_w + len(GAP) if id_col else 0))  # under the causes
    out = [line("row", "id", "most likely causes", "", "ask next", "status")]
    out.append("-" * min(width, len(out[0])))
    for r, short in zip(rows, short_status, strict=True):
        label, pct = r["top"][0]
        out.append(line(r["row"], r["id"], label, pct, r["next"], short))
        for label, pct in r["top"][1:]:
            out.append(line("", "", label, pct, "", ""))
        if has_next and not next_column and r["next"] != "-":
            out += _wrapped(f"ask next: {r['next']}", width, indent)
        for title, urgent in r["notices"]:
            out += _wrapped(f"{'!' if urgent else '*'} notice: {title}", width, indent)
        if r["status"] != "ok" and (r["status"] != short or len(short) > status_w):
            out += _wrapped(f"status: {r['status']}", width, indent)
    return "\n".join(out)


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    """``text`` wrapped to ``width`` with every line indented (long words broken)."""
    return textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent + "  ", break_long_words=True
    ) or [indent.rstrip()]


def wrap_paragraphs(texts: Sequence[str], width: int | None = None) -> str:
    """Paragraphs wrapped to the terminal's width (for the lines under the table)."""
    w = terminal_width() if width is None else max(MIN_WIDTH, width)
    return "\n".join(textwrap.fill(" ".join(t.split()), w) for t in texts if t)
