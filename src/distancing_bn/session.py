"""An adaptive questionnaire session: ask, answer, skip, undo, stop, guidance, save and resume."""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from .errors import DataError, DistancingBNError
from .evidence import UNSURE, is_unanswered, normalise_answers, quote
from .guidance import Guidance, guidance_for
from .information import QuestionRanking, StopRule, decide_stop, rank_questions

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .model import Model
    from .results import Posterior

__all__ = ["Session"]

SKIPPED = "(skipped)"


class Session:
    """Ask the most informative question, one at a time, until the stop rule fires.

    >>> import distancing_bn as dbn
    >>> s = dbn.load_model().session()
    >>> q = s.next_question()
    >>> s.answer(q, dbn.load_model().answers_of(q)[0]).posterior is not None
    True
    """

    def __init__(
        self, model: Model, *, stop: StopRule | None = None, criterion: str = "joint", costs: bool = True
    ) -> None:
        self.model = model
        self.stop_rule = stop or StopRule()
        self.criterion = criterion
        self.costs = costs
        self._history: list[tuple[str, Any]] = []  # (question, answer | 'unsure' | SKIPPED)
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ state
    @property
    def answers(self) -> dict[str, Any]:
        """The answers given so far (unsure and skipped questions left out)."""
        return {q: a for q, a in self._history if not isinstance(a, str) or (a != SKIPPED and not is_unanswered(a))}

    @property
    def asked(self) -> tuple[str, ...]:
        """Every question answered, marked unsure or skipped, in order."""
        return tuple(q for q, _ in self._history)

    @property
    def history(self) -> list[dict[str, Any]]:
        """One record per step: question, answer (or 'unsure' / '(skipped)'), text."""
        return [
            {"question": q, "answer": a if isinstance(a, str) else dict(a), "text": self.model.question_text(q)}
            for q, a in self._history
        ]

    @property
    def posterior(self) -> Posterior:
        """The posterior given the answers so far."""
        if "posterior" not in self._cache:
            self._cache["posterior"] = self.model.posterior(self.answers)
        return self._cache["posterior"]

    def ranking(self) -> QuestionRanking:
        """The current ranking of the questions."""
        if "ranking" not in self._cache:
            self._cache["ranking"] = rank_questions(
                self.model,
                self.answers,
                criterion=self.criterion,  # type: ignore[arg-type]
                costs=self.costs,
            )
        return self._cache["ranking"]

    def _decide(self) -> tuple[str | None, str | None]:
        if "decision" in self._cache:
            return self._cache["decision"]
        d = decide_stop(
            self.stop_rule,
            lambda: self.posterior,
            self.ranking,
            n_asked=len(self._history),
            exclude=set(self.asked),
        )
        decision = (d.question, d.reason)
        self._cache["decision"] = decision
        return decision

    def next_question(self) -> str | None:
        """Return the best question not yet asked, or None when the stop rule fires."""
        return self._decide()[0]

    @property
    def done(self) -> bool:
        """True when the stop rule has fired."""
        return self._decide()[0] is None

    @property
    def stop_reason(self) -> str | None:
        """Why the session stopped (None while it goes on)."""
        return self._decide()[1]

    # ------------------------------------------------------------------ actions
    def answer(self, question_id: str, label: Any) -> Session:
        """Record an answer ('unsure' records the question as asked with no evidence)."""
        self.model.network.check_variable(question_id, "question", self.model.questions)
        if question_id in self.asked:
            raise DistancingBNError(f"question '{question_id}' was already asked; undo() first to change it")
        norm = normalise_answers(self.model.network, {question_id: label})
        value: Any = norm.get(question_id, UNSURE)
        if isinstance(value, tuple):  # keep soft answers as label -> likelihood
            value = dict(zip(self.model.answers_of(question_id), value, strict=True))
        self._history.append((question_id, value))
        self._cache.clear()
        return self

    def skip(self, question_id: str) -> Session:
        """Record that a question was not answered (it will not be asked again)."""
        self.model.network.check_variable(question_id, "question", self.model.questions)
        if question_id in self.asked:
            raise DistancingBNError(f"question '{question_id}' was already asked")
        self._history.append((question_id, SKIPPED))
        self._cache.clear()
        return self

    def undo(self) -> Session:
        """Take back the last step."""
        if not self._history:
            raise DistancingBNError("nothing to undo")
        self._history.pop()
        self._cache.clear()
        return self

    def guidance(self) -> Guidance:
        """Guidance and notices for the likely causes and the answers given."""
        return guidance_for(self.model, self.posterior)

    def trajectory(self) -> pd.DataFrame:
        """Each cause's P(present) after each step (row 0: before any answer)."""
        import pandas as pd

        rows = []
        for i in range(len(self._history) + 1):
            ans = {
                q: a for q, a in self._history[:i] if not isinstance(a, str) or (a != SKIPPED and not is_unanswered(a))
            }
            p = self.model.posterior(ans).probabilities[list(self.model.causes)]
            rows.append(p.rename(self._history[i - 1][0] if i else "(start)"))
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict to save the session (no model inside, just its id and hash)."""
        spec = self.model.spec
        return {
            "model": self.model.id,
            "model_sha256": spec.sha256 if spec is not None else None,
            "stop": asdict(self.stop_rule),
            "criterion": self.criterion,
            "costs": self.costs,
            "history": [[q, a if isinstance(a, str) else dict(a)] for q, a in self._history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], model: Model | None = None) -> Session:
        """Resume a session saved with :meth:`to_dict` (``model`` defaults to the bundled one).

        Raises
        ------
        DataError
            ``data`` is not a saved session: not a mapping, an unknown key, a value of the wrong
            type (the key is named), or a session saved for another model.
        UnknownQuestionError, InvalidAnswerError, DistancingBNError
            A step of its history names an unknown question, an invalid answer, or a question
            asked twice.
        """
        from .formats import load_model

        saved = _saved_session(data)
        model = model or load_model()
        if saved["model"] != model.id:
            raise DataError(f"this session was saved for model {quote(saved['model'])}, not {model.id!r}")
        s = cls(model, stop=StopRule(**saved["stop"]), criterion=saved["criterion"], costs=saved["costs"])
        for i, (q, a) in enumerate(saved["history"]):
            if a == SKIPPED:
                s.skip(q)
            elif isinstance(a, list):  # older files stored soft answers as a list in answer order
                labels = model.answers_of(q)
                if len(a) != len(labels):
                    raise DataError(
                        f"saved session: history[{i}]: a soft answer to '{q}' needs {len(labels)} likelihoods, "
                        f"got {len(a)}"
                    )
                s.answer(q, dict(zip(labels, a, strict=True)))
            else:
                s.answer(q, a)
        return s

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        state = f"done: {self.stop_reason}" if self.done else f"next: {self.next_question()}"
        return f"<Session {self.model.id} | {len(self._history)} asked | {state}>"

    def _repr_html_(self) -> str:
        try:
            steps = "".join(
                f"<li>{html.escape(h['text'])} — <b>{html.escape(str(h['answer']))}</b></li>" for h in self.history
            )
            nxt = (
                f"<p>Stopped: {html.escape(self.stop_reason or '')}</p>"
                if self.done
                else f"<p>Next: {html.escape(self.model.question_text(self.next_question() or ''))}</p>"
            )
            return f"<div><ol>{steps}</ol>{nxt}{self.posterior._repr_html_()}</div>"
        except Exception:
            return f"<pre>{html.escape(repr(self))}</pre>"

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw each cause's probability after each answer; return the Axes."""
        from .plots import plot_trajectory

        return plot_trajectory(self, ax=ax, **kwargs)


_SESSION_KEYS = ("model", "model_sha256", "stop", "criterion", "costs", "history")


def _saved_session(data: Any) -> dict[str, Any]:
    """Check the shape of a saved session (see :meth:`Session.to_dict`); return it with defaults."""

    def bad(where: str, what: str, got: Any) -> DataError:
        return DataError(f"saved session: {where} must be {what}, got {quote(got)}")

    if not isinstance(data, Mapping):
        raise bad("the data", "a mapping (a JSON object) with the keys " + ", ".join(_SESSION_KEYS), data)
    unknown = [k for k in data if k not in _SESSION_KEYS]
    if unknown:
        raise bad(f"key {quote(unknown[0])}", "one of " + ", ".join(_SESSION_KEYS), unknown[0])
    model = data.get("model")
    if not isinstance(model, str):
        raise bad("'model'", "the id of the model (text)", model)
    stop = data.get("stop", {})
    if not isinstance(stop, Mapping):
        raise bad("'stop'", "a mapping of stop-rule settings", stop)
    rule = {f.name: f for f in fields(StopRule)}
    for key, value in stop.items():
        if key not in rule:
            raise bad(f"'stop' key {quote(key)}", "one of " + ", ".join(rule), key)
        if key == "max_questions":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
            if not ok:
                raise bad("'stop.max_questions'", "null or a whole number >= 0", value)
        elif not _finite_number(value):
            raise bad(f"'stop.{key}'", "a finite number", value)
    criterion = data.get("criterion", "joint")
    if criterion not in ("joint", "marginal"):
        raise bad("'criterion'", "'joint' or 'marginal'", criterion)
    costs = data.get("costs", True)
    if not isinstance(costs, bool):
        raise bad("'costs'", "true or false", costs)
    history = data.get("history", [])
    if not isinstance(history, list | tuple):
        raise bad("'history'", "a list of [question, answer] pairs", history)
    steps = []
    for i, step in enumerate(history):
        if not (isinstance(step, list | tuple) and len(step) == 2 and isinstance(step[0], str)):
            raise bad(f"'history'[{i}]", "a [question id, answer] pair", step)
        answer = step[1]
        if not (answer is None or isinstance(answer, str | Mapping | list)):
            raise bad(f"'history'[{i}] answer", "a label, a soft answer or null", answer)
        steps.append((step[0], answer))
    return {"model": model, "stop": dict(stop), "criterion": criterion, "costs": costs, "history": steps}


def _finite_number(value: Any) -> bool:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False
