"""The HTTP API and the browser questionnaire behind ``distancing-bn serve``.

A versioned JSON API (``/v1/...``) over one loaded model, and a single page at ``/`` that runs
the interview through that API. The server is stateless: every request carries the answers
given so far, and nothing a person answers is stored or logged (the access log has the
method, the route, the status and the time; never a body or a query string).

Needs the ``serve`` extra (FastAPI and uvicorn)::

    pip install "distancing-bn[serve]"

>>> from distancing_bn.server import create_app    # doctest: +SKIP
>>> app = create_app()                              # the bundled model; run it with uvicorn
"""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass, fields
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from .errors import DataError, DistancingBNError
from .information import StopRule
from .session import Session

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model

__all__ = ["API_VERSION", "Limits", "create_app"]

API_VERSION = "v1"
log = logging.getLogger("distancing_bn.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

URGENT_KINDS = ("safety", "crisis")
STOP_TEXT = {
    "decided": "The answers point clearly enough for now: each possible reason is now either likely or unlikely.",
    "no_gain": "No remaining question is expected to change the picture much.",
    "budget": "The set number of questions has been asked.",
    "exhausted": "Every question has been asked.",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits of the server.

    ``max_body_bytes`` bounds every request body but a batch; ``max_score_bytes`` and
    ``max_score_rows`` bound ``POST /v1/score``; a client (by address) may make ``rate_limit``
    requests per ``rate_window_s`` seconds (0: no limit).
    """

    max_body_bytes: int = 64 * 1024
    max_score_bytes: int = 2 * 1024 * 1024
    max_score_rows: int = 10_000
    rate_limit: int = 300
    rate_window_s: float = 60.0


# ---------------------------------------------------------------------- request bodies
# Checked by the library (its messages name the question and the valid answers); typed here for the schema.
AnswerValue = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "an answer id, or 'unsure'"},
                {"type": "array", "items": {"type": "string"}, "description": "checklist: the item ids that apply"},
                {
                    "type": "object",
                    "description": "soft answer {answer: likelihood}, checklist {item: answer}, "
                    "or grid {row: answer or 'unsure'}",
                },
                {"type": "null"},
            ]
        }
    ),
]


class AnswersIn(BaseModel):
    """The answers given so far: everything the server needs (it keeps nothing)."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, AnswerValue] = Field(
        default_factory=dict,
        description="Question id -> answer id (or {answer: likelihood} for a soft answer); "
        "checklist (group) id -> the list of item ids that apply, or 'none'; grid (group) id -> "
        "{row id: that row's answer id, or 'unsure'} (rows left out are unsure). In the order given.",
        examples=[{"less_contact": "a_lot", "sudden_change": "yes"}],
    )
    unsure: list[str] = Field(
        default_factory=list,
        description="Questions or checklists shown and answered 'not sure': no evidence, not asked again.",
    )
    model_sha256: str | None = Field(
        default=None, description="If given, the request is refused (409) unless the server's model has this hash."
    )


class StopIn(BaseModel):
    """Stop-rule settings (see :class:`distancing_bn.StopRule`); unset ones keep the library's defaults."""

    model_config = ConfigDict(extra="forbid")

    min_gain_bits: float | None = Field(default=None, ge=0, le=64)
    decided_low: float | None = Field(default=None, ge=0, le=1)
    decided_high: float | None = Field(default=None, ge=0, le=1)
    max_questions: int | None = Field(default=None, ge=0, le=10_000)


class NextIn(AnswersIn):
    """The answers so far and, optionally, the stop rule."""

    stop: StopIn | None = None


class ExplainIn(AnswersIn):
    """The answers so far and the cause to explain (default: the likeliest relationship cause)."""

    cause: str | None = None


class ScoreIn(BaseModel):
    """Rows of answers to score: one object per row, question id -> answer id (other keys are id columns)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, str | int | float | None]]
    facets: bool = False
    next_question: bool = True


# ---------------------------------------------------------------------- reply bodies (the OpenAPI schema)
class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Out):
    type: str = Field(description="the library's error class, or RequestValidationError, PayloadTooLarge, …")
    message: str


class ErrorOut(_Out):
    """Every error reply."""

    error: ErrorDetail


class AnswerOut(_Out):
    id: str
    label: str


class QuestionOut(_Out):
    kind: Literal["question"]
    id: str
    text: str
    label: str
    theme: str
    answers: list[AnswerOut]
    unsure: bool = Field(description="whether 'not sure' is offered")
    cost: float
    screen: int | None = Field(description="asked before any ranking, lower numbers first")
    group: str | None = Field(description="the checklist this question belongs to")
    notices: dict[str, list[str]] = Field(description="notice id -> the answers that raise it")


class ItemOut(_Out):
    id: str
    label: str
    text: str
    answers: list[AnswerOut] = Field(description="the row's own answers, in the order of the grid's scale")


class GroupOut(_Out):
    kind: Literal["group"]
    id: str
    text: str
    label: str
    theme: str
    grid: bool = Field(description="a rating grid (one answer per row) rather than a checklist (pick any)")
    scale: list[str] = Field(description="a grid's column headings, one per answer of its rows (empty for a checklist)")
    items: list[ItemOut] = Field(description="the rows; in /v1/next only those not answered yet")
    none_label: str
    cost: float
    screen: int | None


class NoticeOut(_Out):
    id: str
    kind: str = Field(description="safety, crisis or professional_help")
    title: str
    text: str
    urgent: bool = Field(description="safety and crisis notices: shown first; relationship tips withheld")


class CauseOut(_Out):
    id: str
    label: str
    kind: str = Field(description="relationship, or safety (drives a notice; never a cause to work on)")
    description: str
    prior: float


class ModelOut(_Out):
    api: str
    id: str
    title: str
    description: str
    version: str
    model_sha256: str | None
    disclaimer: str
    causes: list[CauseOut]
    questions: list[QuestionOut]
    groups: list[GroupOut]
    screens: list[str]
    observed: dict[str, str]
    themes: list[str]
    notices: list[NoticeOut]


class CauseP(_Out):
    id: str
    label: str
    kind: str
    probability: float = Field(description="P(present | answers)")
    prior: float = Field(description="P(present) before any answer")


class FacetP(_Out):
    id: str
    label: str
    probability: float
    prior: float


class PosteriorOut(_Out):
    model_sha256: str | None
    causes: list[CauseP] = Field(description="highest probability first")
    facets: list[FacetP]
    answered: int
    log_evidence: float | None = Field(description="natural log of P(answers)")


class NextOut(_Out):
    model_sha256: str | None
    done: bool
    next: QuestionOut | GroupOut | None = Field(discriminator="kind")
    screen: bool
    stop_reason: str | None = Field(description="decided, no_gain, budget or exhausted")
    stop_message: str | None
    stop_text: str | None
    asked: int
    notices: list[NoticeOut]
    urgent: bool


class ContributionOut(_Out):
    question: str
    label: str
    text: str
    answer: str | None
    answer_label: str
    effect: str = Field(description="raised, lowered, unchanged, made certain or ruled out")
    strength: str = Field(description="decisive, strong, moderate, slight, very slight or none")
    factor: float | None = Field(description="odds multiplied by; null when made certain or ruled out")
    bits: float | None


class ExplainOut(_Out):
    model_sha256: str | None
    cause: str
    label: str
    probability: float
    supports: list[ContributionOut]
    against: list[ContributionOut]
    contributions: list[ContributionOut]


class CauseTipsOut(_Out):
    cause: str
    label: str
    probability: float
    tips: list[str]


class GuidanceOut(_Out):
    model_sha256: str | None
    urgent: bool
    tips_withheld: bool
    notices: list[NoticeOut] = Field(description="urgent first")
    causes: list[CauseTipsOut]
    general: list[str]
    disclaimer: str


class ScoreSummaryOut(_Out):
    rows: int
    ok: int
    marked: int


class ScoreOut(_Out):
    model_sha256: str | None
    columns: list[str]
    rows: list[dict[str, Any]]
    summary: ScoreSummaryOut
    warnings: list[str]


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what}
    for code, what in {
        409: "the answers were given for another model (model_sha256)",
        413: "the body (or the batch) is too large",
        422: "bad answers (the library's message) or a body of the wrong shape",
        429: "too many requests from this address",
    }.items()
}


# ---------------------------------------------------------------------- model description
def _spec_question(model: Model, q: str) -> Any:
    return model.spec.question(q) if model.spec is not None else None


def _answer_label(model: Model, q: str, answer: str) -> str:
    sq = _spec_question(model, q)
    return sq.display(answer) if sq is not None else answer


def _notice(n: Any) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "title": n.title, "text": n.text, "urgent": n.kind in URGENT_KINDS}


def _question(model: Model, q: str) -> dict[str, Any]:
    sq = _spec_question(model, q)
    group = next((g.id for g in model.groups.values() if q in g.items), None)
    return {
        "kind": "question",
        "id": q,
        "text": model.question_text(q),
        "label": model.question_label(q),
        "theme": model.question_theme(q),
        "answers": [{"id": a, "label": _answer_label(model, q, a)} for a in model.answers_of(q)],
        "unsure": bool(getattr(sq, "unsure", True)),
        "cost": model.cost(q),
        "screen": getattr(sq, "screen", None),
        "group": group,
        "notices": {nid: list(a) for nid, a in getattr(sq, "notices", ())},
    }


def _group(model: Model, g: Any, done: Collection[str] = ()) -> dict[str, Any]:
    items = [q for q in g.items if q not in done]
    scale = list(g.scale)
    if g.is_grid and not scale:
        scale = [_answer_label(model, g.items[0], a) for a in model.answers_of(g.items[0])]
    return {
        "kind": "group",
        "id": g.id,
        "text": g.text,
        "label": g.label,
        "theme": model.question_theme(g.id),
        "grid": g.is_grid,
        "scale": scale,
        "items": [
            {
                "id": q,
                "label": model.question_label(q),
                "text": model.question_text(q),
                "answers": [{"id": a, "label": _answer_label(model, q, a)} for a in model.answers_of(q)],
            }
            for q in items
        ],
        "none_label": g.none_label or "None of these",
        "cost": g.cost,
        "screen": g.screen,
    }


def _asked_item(model: Model, qid: str, done: Collection[str] = ()) -> dict[str, Any]:
    """A question or group to show; a group's rows already asked (``done``) are left out."""
    groups = model.groups
    return _group(model, groups[qid], done) if qid in groups else _question(model, qid)


def describe(model: Model) -> dict[str, Any]:
    """Return the JSON description of ``model`` served at ``GET /v1/model``."""
    spec = model.spec
    prior = model.prior.probabilities
    causes = []
    for c in model.causes:
        sc = spec.cause(c) if spec is not None else None
        causes.append(
            {
                "id": c,
                "label": model.label(c),
                "kind": model.cause_kind(c),
                "description": getattr(sc, "description", ""),
                "prior": _p(prior[c]),
            }
        )
    questions = [_question(model, q) for q in model.questions]
    groups = [_group(model, g) for g in model.groups.values()]
    themes = list(dict.fromkeys(q["theme"] for q in (*groups, *questions)))
    return {
        "api": API_VERSION,
        "id": model.id,
        "title": model.title,
        "description": spec.description if spec is not None else "",
        "version": spec.version if spec is not None else "",
        "model_sha256": spec.sha256 if spec is not None else None,
        "disclaimer": model.disclaimer,
        "causes": causes,
        "questions": questions,
        "groups": groups,
        "screens": list(model.screens),
        "observed": model.observed,
        "themes": themes,
        "notices": [_notice(n) for n in spec.notices] if spec is not None else [],
    }


# ---------------------------------------------------------------------- the library calls
def _session(model: Model, body: AnswersIn, stop: StopIn | None = None) -> Session:
    """A fresh session with the client's answers, then its 'not sure' steps (library checks every one)."""
    rule = None
    if stop is not None:
        known = {f.name for f in fields(StopRule)}
        given = {k: v for k, v in stop.model_dump(exclude_none=True).items() if k in known}
        try:
            rule = StopRule(**given)
        except ValueError as exc:  # e.g. decided_low above decided_high
            raise DataError(f"stop: {exc}") from None
    s = Session(model, stop=rule)
    for q, a in body.answers.items():
        s.answer(q, a)
    for q in body.unsure:
        s.answer(q, "unsure")
    return s


def _notices(guide: Any) -> tuple[list[dict[str, Any]], bool]:
    return [_notice(n) for n in guide.notices], bool(guide.urgent)


def _guidance(model: Model, s: Session) -> dict[str, Any]:
    guide = s.guidance()
    notices, urgent = _notices(guide)
    return {
        "urgent": urgent,
        "tips_withheld": bool(guide.tips_withheld),
        "notices": notices,
        "causes": [
            {"cause": c.cause, "label": c.label, "probability": _p(c.probability), "tips": list(c.tips)}
            for c in guide.causes
        ],
        "general": list(guide.general),
        "disclaimer": guide.disclaimer,
    }


def _p(x: float) -> float:
    """A probability for JSON: 12 decimals (0.3, not 0.29999999999999977)."""
    return round(float(x), 12)


def _posterior(model: Model, s: Session) -> dict[str, Any]:
    post = s.posterior
    probs = post.probabilities
    prior = post.prior_probabilities
    causes = [
        {
            "id": c,
            "label": model.label(c),
            "kind": model.cause_kind(c),
            "probability": _p(probs[c]),
            "prior": _p(prior[c]),
        }
        for c in model.causes
    ]
    causes.sort(key=lambda c: -c["probability"])
    facets = [
        {"id": f, "label": model.label(f), "probability": _p(probs[f]), "prior": _p(prior[f])} for f in model.facets
    ]
    return {
        "causes": causes,
        "facets": facets,
        "answered": len(post.answers),
        "log_evidence": post.log_evidence if math.isfinite(post.log_evidence) else None,
    }


def _strength(factor: float | None, effect: str) -> str:
    """Plain words for how much an answer moved the odds (private: belongs in the library's explain)."""
    if effect in ("made certain", "ruled out"):
        return "decisive"
    if factor is None or factor <= 0:
        return "none"
    f = max(factor, 1 / factor)
    return "strong" if f >= 4 else "moderate" if f >= 2 else "slight" if f >= 1.25 else "very slight"


def _explain(model: Model, s: Session, cause: str | None) -> dict[str, Any]:
    post = s.posterior
    if cause is None:
        ranked = post.probabilities[list(model.causes)].sort_values(ascending=False)
        relationship = [c for c in ranked.index if model.cause_kind(c) == "relationship"]
        cause = relationship[0] if relationship else str(ranked.index[0])
    ex = post.explain(cause)
    rows = []
    answers = dict(post.answers)
    for r in ex.to_dict()["contributions"]:
        q = r["question"]
        raw = answers.get(q)
        rows.append(
            {
                "question": q,
                "label": model.question_label(q),
                "text": r["text"],
                "answer": raw if isinstance(raw, str) else None,
                "answer_label": r["answer"],
                "effect": r["effect"],
                "strength": _strength(r["factor"], r["effect"]),
                "factor": r["factor"],
                "bits": r["bits"],
            }
        )
    moved = [r for r in rows if r["effect"] != "unchanged" and r["strength"] not in ("none", "very slight")]
    return {
        "cause": ex.cause,
        "label": ex.label,
        "probability": _p(ex.probability),
        "supports": [r for r in moved if r["effect"] in ("raised", "made certain")],
        "against": [r for r in moved if r["effect"] in ("lowered", "ruled out")],
        "contributions": rows,
    }


def _next(model: Model, s: Session) -> dict[str, Any]:
    d = s.decision()
    notices, urgent = _notices(s.guidance())
    return {
        "done": d.question is None,
        "next": _asked_item(model, d.question, set(s.asked)) if d.question is not None else None,
        "screen": bool(d.screen),
        "stop_reason": d.code,
        "stop_message": d.reason,
        "stop_text": STOP_TEXT.get(d.code or "", d.reason) if d.question is None else None,
        "asked": s.steps,
        "notices": notices,
        "urgent": urgent,
    }


def _read_csv(body: bytes) -> pd.DataFrame:
    """Parse a CSV body as text cells (private: a library reader of CSV bytes belongs in csvio)."""
    import pandas as pd

    from .csvio import detect_separator

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the CSV body is not UTF-8 text (byte {exc.start} cannot be read)") from None
    if not text.strip():
        raise DataError("the CSV body is empty; send a header line of question ids and one line per row")
    header = text.splitlines()[0]
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=detect_separator(header),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise DataError(f"the CSV body cannot be read: {first}") from None


_SCORE_LOCK = threading.Lock()


def _score(
    model: Model, make_frame: Callable[[], pd.DataFrame], facets: bool, next_question: bool, max_rows: int
) -> tuple[pd.DataFrame, list[str]]:
    """Read and score a batch, one batch at a time, with the warnings kept for the reply (not the log)."""
    import pandas as pd

    with _SCORE_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = make_frame()
        if len(frame) > max_rows:
            raise _TooManyRows(f"{len(frame):,} rows sent; at most {max_rows:,} per request (send them in parts)")
        frame = frame.map(lambda v: "" if v is None else str(v))
        scored = model.score(frame, facets=facets, next_question=next_question, errors="mark")
    notes = [
        "some rows have more fields than the header; the fields beyond the header were not read"
        if issubclass(w.category, pd.errors.ParserWarning)
        else str(w.message)
        for w in caught
    ]
    return scored, list(dict.fromkeys(notes))


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()})
    return out


# ---------------------------------------------------------------------- ASGI guard
def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None and str(scope.get("path", "")).startswith("/static/"):
        return "/static/*"
    return str(path) if path is not None else "-"


class _Guard:
    """Outermost ASGI layer: body-size limit, per-client rate limit, access log, no leaked exceptions.

    The access log names the method, the matched route (never the raw path or query string),
    the status and the time. An unexpected error is logged by its type only.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _allowed(self, client: str) -> tuple[bool, float]:
        lim = self.limits
        if lim.rate_limit <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # forget old windows
                self._hits = {k: v for k, v in self._hits.items() if now - v[0] < lim.rate_window_s}
            start, count = self._hits.get(client, (now, 0))
            if now - start >= lim.rate_window_s:
                start, count = now, 0
            count += 1
            self._hits[client] = (start, count)
            return count <= lim.rate_limit, max(0.0, lim.rate_window_s - (now - start))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        method = str(scope.get("method", "-"))
        try:
            await self._handle(scope, receive, sending)
        except Exception as exc:  # never the message: it could quote an answer
            log.error("%s %s: internal error (%s)", method, _route_of(scope), type(exc).__name__)
            if not status["code"]:
                await _send_json(sending, 500, "InternalError", "the server could not handle this request")
        finally:
            ms = (time.perf_counter() - t0) * 1000
            log.info("%s %s %d %.1fms", method, _route_of(scope), status["code"], ms)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        ok, retry = self._allowed(str(client[0]) if client else "-")
        if not ok:
            retry = max(1.0, retry)
            await _send_json(
                send,
                429,
                "RateLimited",
                f"too many requests: at most {self.limits.rate_limit} per {self.limits.rate_window_s:g} s; "
                f"try again in {math.ceil(retry)} s",
                headers=[(b"retry-after", str(math.ceil(retry)).encode())],
            )
            return
        path = str(scope.get("path", ""))
        limit = self.limits.max_score_bytes if path == f"/{API_VERSION}/score" else self.limits.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = f"the request body is larger than {limit:,} bytes"
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, "PayloadTooLarge", too_big)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, "PayloadTooLarge", too_big)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_json(
    send: Send, status: int, kind: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps({"error": {"type": kind, "message": message}}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": payload})


class _App(FastAPI):
    """FastAPI with :class:`_Guard` outside everything (even Starlette's error middleware)."""

    guard_limits: Limits = Limits()

    def build_middleware_stack(self) -> ASGIApp:  # type: ignore[override]
        return _Guard(super().build_middleware_stack(), self.guard_limits)


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    """What is wrong with a request body, by location and rule only (never the value sent)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------- the app
def create_app(model: Model | None = None, *, limits: Limits | None = None) -> FastAPI:
    """Return the ASGI app serving ``model`` (default: the bundled model) at ``/v1`` and the page at ``/``."""
    if model is None:
        from .formats import load_model

        model = load_model()
    limits = limits or Limits()
    sha = model.spec.sha256 if model.spec is not None else None
    info = describe(model)  # also builds the engine and the prior once, before any thread uses them
    Session(model).next_question()
    static = files("distancing_bn") / "static"

    app = _App(
        title="distancing-bn API",
        version=API_VERSION,
        description="Posteriors, the next question, explanations, guidance and batch scoring for one model. "
        "Stateless: send the answers with every request. " + model.disclaimer,
        docs_url=None,  # Swagger UI and ReDoc load scripts from the internet
        redoc_url=None,
        openapi_url=f"/{API_VERSION}/openapi.json",
    )
    app.guard_limits = limits

    @app.exception_handler(DistancingBNError)
    async def _library_error(_: Request, exc: DistancingBNError) -> JSONResponse:
        return _error(422, type(exc).__name__, str(exc))

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:  # logged by _Guard, by type only
        return _error(500, "InternalError", "the server could not handle this request")

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "RequestValidationError", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return _error(exc.status_code, kind, str(exc.detail))

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        if request.url.path.startswith(f"/{API_VERSION}/"):
            response.headers["cache-control"] = "no-store"
        else:
            response.headers["content-security-policy"] = (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
            )
        return response

    def checked(body: AnswersIn) -> None:
        if body.model_sha256 is not None and body.model_sha256 != sha:
            raise _ModelChanged(
                "the answers were given for another version of the model (its sha256 differs); "
                "reload the model description and start again"
            )

    @app.get(
        f"/{API_VERSION}/model",
        summary="The model: causes, questions, checklists, screens, notices",
        response_model=ModelOut,
        responses={429: _ERRORS[429]},
    )
    def get_model() -> Any:
        return info

    @app.post(
        f"/{API_VERSION}/posterior",
        summary="P(cause present | answers) for every cause and facet",
        response_model=PosteriorOut,
        responses=_ERRORS,
    )
    def post_posterior(body: AnswersIn) -> Any:
        checked(body)
        return {"model_sha256": sha, **_posterior(model, _session(model, body))}

    @app.post(
        f"/{API_VERSION}/next",
        summary="The next question or checklist, or why to stop",
        response_model=NextOut,
        responses=_ERRORS,
    )
    def post_next(body: NextIn) -> Any:
        checked(body)
        return {"model_sha256": sha, **_next(model, _session(model, body, body.stop))}

    @app.post(
        f"/{API_VERSION}/explain",
        summary="Which answers moved a cause, and how strongly",
        response_model=ExplainOut,
        responses=_ERRORS,
    )
    def post_explain(body: ExplainIn) -> Any:
        checked(body)
        return {"model_sha256": sha, **_explain(model, _session(model, body), body.cause)}

    @app.post(
        f"/{API_VERSION}/guidance",
        summary="Notices (urgent first) and tips for the likely causes",
        response_model=GuidanceOut,
        responses=_ERRORS,
    )
    def post_guidance(body: AnswersIn) -> Any:
        checked(body)
        return {"model_sha256": sha, **_guidance(model, _session(model, body))}

    @app.post(
        f"/{API_VERSION}/score",
        summary="Score many rows (JSON or CSV in; JSON, or CSV with Accept: text/csv, out)",
        response_model=ScoreOut,
        responses={**_ERRORS, 415: {"model": ErrorOut, "description": "neither JSON nor CSV"}},
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {"schema": ScoreIn.model_json_schema()},
                    "text/csv": {"schema": {"type": "string"}},
                },
                "required": True,
            }
        },
    )
    async def post_score(request: Request, facets: bool = False, next_question: bool = True) -> Response:
        import pandas as pd

        raw = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        make_frame: Callable[[], pd.DataFrame]
        if kind in ("text/csv", "application/csv", "text/plain"):

            def make_frame() -> pd.DataFrame:
                return _read_csv(raw)

        elif kind in ("application/json", ""):
            try:
                body = ScoreIn.model_validate_json(raw)
            except ValueError as exc:
                errors = getattr(exc, "errors", lambda: [])()
                where = ".".join(str(x) for x in errors[0].get("loc", ())) if errors else "body"
                why = errors[0].get("msg", "invalid") if errors else "not JSON"
                return _error(422, "RequestValidationError", f"{where or 'body'}: {why}")
            rows = body.rows

            def make_frame() -> pd.DataFrame:
                return pd.DataFrame(rows, dtype=object)

            facets, next_question = body.facets, body.next_question
        else:
            return _error(415, "UnsupportedMediaType", "send the rows as application/json or text/csv")
        try:
            scored, notes = await run_in_threadpool(
                _score, model, make_frame, facets, next_question, limits.max_score_rows
            )
        except _TooManyRows as exc:
            return _error(413, "PayloadTooLarge", str(exc))
        if "text/csv" in request.headers.get("accept", ""):
            from .csvio import write_csv_chunk

            out = io.BytesIO()
            write_csv_chunk(scored, out, header=True)
            return Response(out.getvalue(), media_type="text/csv")
        ok = int((scored["status"] == "ok").sum())
        return JSONResponse(
            {
                "model_sha256": sha,
                "columns": [str(c) for c in scored.columns],
                "rows": _frame_rows(scored),
                "summary": {"rows": len(scored), "ok": ok, "marked": len(scored) - ok},
                "warnings": notes,
            }
        )

    @app.exception_handler(_ModelChanged)
    async def _changed(_: Request, exc: _ModelChanged) -> JSONResponse:
        return _error(409, "ModelChanged", str(exc))

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


class _ModelChanged(DataError):
    """The client's answers were given for a model with another hash."""


class _TooManyRows(DataError):
    """A batch with more rows than the server takes."""
