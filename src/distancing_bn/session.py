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
from .information import CRITERIA, QuestionRanking, StopDecision, StopRule, decide_stop, next_screen, rank_questions

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .model import Model
    from .results import Posterior

__all__ = ["Session"]

SKIPPED = "(skipped)"


class Session:
    """Ask the screens, then the most informative question or checklist, until the stop rule fires.

    Answers may come in any order: :meth:`answer` takes any question or checklist, asked or
    volunteered. A checklist's answer is the items that apply, a rating grid's answer one
    answer per row (see :meth:`answer`).

    >>> import distancing_bn as dbn
    >>> s = dbn.load_model().session()
    >>> s.next_question() in s.model.screens
    True
    """

    def __init__(
        self, model: Model, *, stop: StopRule | None = None, criterion: str = "joint", costs: bool = True
    ) -> None:
        self.model = model
        self.stop_rule = stop or StopRule()
        self.criterion = criterion
        self.costs = costs
        # (question or checklist, answer | 'unsure' | SKIPPED); a checklist's answer: {item: answer | 'unsure'}
        self._history: list[tuple[str, Any]] = []
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ state
    @property
    def answers(self) -> dict[str, Any]:
        """The answers given so far, checklists spread over their items (unsure and skipped left out)."""
        out: dict[str, Any] = {}
        for q, a in self._history:
            if q in self.model.groups and isinstance(a, Mapping):
                out.update((item, v) for item, v in a.items() if not _no_answer(v))
            elif not _no_answer(a):
                out[q] = a
        return out

    @property
    def asked(self) -> tuple[str, ...]:
        """Every question and checklist answered, marked unsure or skipped, in order (with a checklist's items)."""
        out: list[str] = []
        for q, a in self._history:
            out.append(q)
            if q in self.model.groups and isinstance(a, Mapping):
                out.extend(a)
        return tuple(out)

    @property
    def steps(self) -> int:
        """The number of screens asked so far: a question, a checklist or a grid counts once."""
        return len(self._history)

    @property
    def items_asked(self) -> int:
        """The number of questions asked so far, every row of a checklist or grid counted (unsure ones too)."""
        return sum(q not in self.model.groups for q in self.asked)

    @property
    def history(self) -> list[dict[str, Any]]:
        """One record per step: question or checklist, answer (or 'unsure' / '(skipped)'), text."""
        return [
            {
                "question": q,
                "answer": a if isinstance(a, str) else dict(a),
                "text": self._text(q),
            }
            for q, a in self._history
        ]

    @property
    def posterior(self) -> Posterior:
        """The posterior given the answers so far."""
        if "posterior" not in self._cache:
            self._cache["posterior"] = self.model.posterior(self.answers)
        return self._cache["posterior"]

    def ranking(self) -> QuestionRanking:
        """The current ranking of the questions and checklists."""
        if "ranking" not in self._cache:
            self._cache["ranking"] = rank_questions(
                self.model,
                self.answers,
                criterion=self.criterion,  # type: ignore[arg-type]
                costs=self.costs,
                exclude=set(self.asked),
            )
        return self._cache["ranking"]

    def decision(self) -> StopDecision:
        """The next step: a screen, the best question or checklist, or the stop and its reason."""
        if "decision" not in self._cache:
            done = set(self.asked)
            self._cache["decision"] = decide_stop(
                self.stop_rule,
                lambda: self.posterior,
                self.ranking,
                n_asked=self.steps,
                exclude=done,
                screen=next_screen(self.model, done),
                causes=self.model.causes,
            )
        return self._cache["decision"]

    def next_question(self) -> str | None:
        """Return the next question or checklist id (screens first), or None when the stop rule fires."""
        return self.decision().question

    @property
    def done(self) -> bool:
        """True when the stop rule has fired."""
        return self.decision().question is None

    @property
    def stop_reason(self) -> str | None:
        """Why the session stopped, in words (None while it goes on); ``decision().code`` is the short form."""
        return self.decision().reason

    # ------------------------------------------------------------------ actions
    def answer(self, question_id: str, label: Any) -> Session:
        """Record an answer ('unsure' records the question as asked with no evidence).

        For a checklist, ``label`` is the items that apply: a list (or set) of item ids, a dict
        ``{item: answer}`` (items left out take their first answer, "no"), ``"none"`` (no item
        applies) or ``"unsure"``. For a rating grid, ``label`` is ``{item: answer}`` with each
        row's own answer id or ``"unsure"`` (rows left out are unsure), ``"none"`` (every row at
        its first answer: never, no, not at all) or ``"unsure"`` for every row. ``None`` is
        ``"unsure"`` for either. Items already asked on their own are left out of either.
        """
        if isinstance(question_id, str) and question_id in self.model.groups:
            return self._answer_group(question_id, label)
        self.model.network.check_variable(question_id, "question", self.model.questions)
        if question_id in self.asked and not self._only_unsure_in_a_checklist(question_id):
            raise DistancingBNError(f"question '{question_id}' was already asked; undo() first to change it")
        norm = normalise_answers(self.model.network, {question_id: label})
        value: Any = norm.get(question_id, UNSURE)
        if isinstance(value, tuple):  # keep soft answers as label -> likelihood
            value = dict(zip(self.model.answers_of(question_id), value, strict=True))
        self._history.append((question_id, value))
        self._cache.clear()
        return self

    def _only_unsure_in_a_checklist(self, question_id: str) -> bool:
        """True when a checklist left this item unsure and it was not asked on its own: it may be volunteered."""
        alone = any(q == question_id for q, _ in self._history)
        return not alone and question_id not in self.answers

    def _answer_group(self, group_id: str, label: Any) -> Session:
        word = "grid" if self.model.groups[group_id].is_grid else "checklist"
        if group_id in self.asked:
            raise DistancingBNError(f"{word} '{group_id}' was already asked; undo() first to change it")
        done = set(self.asked)
        items = [q for q in self.model.groups[group_id].items if q not in done]
        if not items:
            raise DistancingBNError(f"every question of {word} '{group_id}' was already asked")
        self._history.append((group_id, group_answer(self.model, group_id, items, label)))
        self._cache.clear()
        return self

    def skip(self, question_id: str) -> Session:
        """Record that a question or checklist was not answered (it will not be asked again)."""
        if not (isinstance(question_id, str) and question_id in self.model.groups):
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
        return guidance_for(self.model, self.posterior, answers=self.answers)

    def trajectory(self) -> pd.DataFrame:
        """Each cause's P(present) after each step (row 0: before any answer)."""
        import pandas as pd

        rows = []
        for i in range(len(self._history) + 1):
            part = Session(self.model)
            part._history = self._history[:i]
            p = self.model.posterior(part.answers).probabilities[list(self.model.causes)]
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
            type (the key is named), or a session saved for another model or another version of
            it (the model file's SHA-256 differs).
        UnknownQuestionError, InvalidAnswerError, DistancingBNError
            A step of its history names an unknown question, an invalid answer, or a question
            asked twice.
        """
        from .formats import load_model

        saved = _saved_session(data)
        model = model or load_model()
        if saved["model"] != model.id:
            raise DataError(f"this session was saved for model {quote(saved['model'])}, not {model.id!r}")
        now = model.spec.sha256 if model.spec is not None else None
        if saved["model_sha256"] is not None and now is not None and saved["model_sha256"] != now:
            raise DataError(
                f"this session was saved with another version of model {model.id!r} (its file changed since); "
                "its answers may no longer fit the questions, so start a new session"
            )
        try:
            rule = StopRule(**saved["stop"])
        except (TypeError, ValueError) as exc:
            raise DataError(f"saved session: 'stop': {exc}") from None
        s = cls(model, stop=rule, criterion=saved["criterion"], costs=saved["costs"])
        for i, (q, a) in enumerate(saved["history"]):
            if a == SKIPPED:
                s.skip(q)
            elif q in model.groups and isinstance(a, Mapping) and all(_no_answer(v) for v in a.values()):
                s.answer(q, UNSURE)
            elif isinstance(a, list) and q not in model.groups:  # older files: soft answers as a list
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
                else f"<p>Next: {html.escape(self._text(self.next_question() or ''))}</p>"
            )
            return f"<div><ol>{steps}</ol>{nxt}{self.posterior._repr_html_()}</div>"
        except Exception:
            return f"<pre>{html.escape(repr(self))}</pre>"

    def _text(self, name: str) -> str:
        group = self.model.groups.get(name)
        return group.text if group is not None else self.model.question_text(name)

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
    if criterion not in CRITERIA:
        raise bad("'criterion'", " or ".join(map(repr, CRITERIA)), criterion)
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
    sha = data.get("model_sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
        raise bad("'model_sha256'", "null or the 64 hex digits of the model file's SHA-256", sha)
    return {
        "model": model,
        "model_sha256": sha,
        "stop": dict(stop),
        "criterion": criterion,
        "costs": costs,
        "history": steps,
    }


def _no_answer(value: Any) -> bool:
    return isinstance(value, str) and (value == SKIPPED or is_unanswered(value))


NONE_APPLY = "none"


def group_answer(model: Model, group_id: str, items: list[str], label: Any) -> dict[str, Any]:
    """Turn a checklist's or grid's answer into ``{item: answer}`` over ``items`` (its open items).

    ``label`` for a checklist: item ids that apply (list, tuple or set), ``{item: answer}``,
    ``"none"`` or ``"unsure"``; for a grid: ``{item: answer or "unsure"}``, ``"none"`` or
    ``"unsure"``. ``None`` is ``"unsure"``.

    Raises
    ------
    InvalidAnswerError
        An item that is not an open item of the group, an answer that is not one of its labels,
        or an answer of a form the group does not take.
    """
    from .errors import InvalidAnswerError

    if label is None:  # as for a single question: not sure
        return dict.fromkeys(items, UNSURE)
    if model.groups[group_id].is_grid:
        return _grid_answer(model, group_id, items, label)

    def item_answer(q: str, picked: bool) -> str:
        return model.answers_of(q)[1 if picked else 0]

    if isinstance(label, str):
        word = label.strip().lower()
        if is_unanswered(word):
            return dict.fromkeys(items, UNSURE)
        if word == NONE_APPLY:
            return {q: item_answer(q, False) for q in items}
        label = [label]
    if isinstance(label, Mapping):
        bad = [k for k in label if k not in items]
        if bad:
            raise InvalidAnswerError(
                f"{quote(bad[0])} is not an open question of checklist '{group_id}'",
                question_id=group_id,
                got=bad[0],
                valid=tuple(items),
            )
        out = {q: item_answer(q, False) for q in items}
        for q, a in label.items():
            value = normalise_answers(model.network, {q: a}).get(q, UNSURE)
            out[q] = value if isinstance(value, str) else dict(zip(model.answers_of(q), value, strict=True))
        return out
    if isinstance(label, list | tuple | set | frozenset):
        picked = list(label)
        bad = [k for k in picked if k not in items]
        if bad:
            raise InvalidAnswerError(
                f"{quote(bad[0])} is not an open question of checklist '{group_id}'",
                question_id=group_id,
                got=bad[0],
                valid=tuple(items),
            )
        return {q: item_answer(q, q in picked) for q in items}
    raise InvalidAnswerError(
        f"a checklist answer is a list of the items that apply, 'none' or 'unsure', got {type(label).__name__}",
        question_id=group_id,
        got=None,
        valid=tuple(items),
    )


def _grid_answer(model: Model, group_id: str, items: list[str], label: Any) -> dict[str, Any]:
    """A grid's answer as ``{item: answer}``: every open row, unsure where none was given."""
    from .errors import InvalidAnswerError

    if isinstance(label, str) and is_unanswered(label.strip().lower()):
        return dict.fromkeys(items, UNSURE)
    if isinstance(label, str) and label.strip().lower() == NONE_APPLY:  # none of these: every row's first answer
        return {q: model.answers_of(q)[0] for q in items}
    if not isinstance(label, Mapping):
        raise InvalidAnswerError(
            f"a grid's answer is a mapping of its rows to their answers ({{row: answer}}, 'unsure' allowed "
            f"per row), 'none' (every row at its first answer) or 'unsure' for every row; got "
            f"{type(label).__name__}",
            question_id=group_id,
            got=None,
            valid=tuple(items),
        )
    bad = [k for k in label if k not in items]
    if bad:
        raise InvalidAnswerError(
            f"{quote(bad[0])} is not an open row of grid '{group_id}'",
            question_id=group_id,
            got=bad[0],
            valid=tuple(items),
        )
    out: dict[str, Any] = dict.fromkeys(items, UNSURE)
    for q, a in label.items():
        value = normalise_answers(model.network, {q: a}).get(q, UNSURE)
        out[q] = value if isinstance(value, str) else dict(zip(model.answers_of(q), value, strict=True))
    return out


def _finite_number(value: Any) -> bool:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False
