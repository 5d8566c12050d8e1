"""The interactive questionnaire behind ``distancing-bn ask`` (stdin/stdout, works when piped).

A person answers one question (or checklist, or grid) at a time, by number, by the answer's
words or by their first letters; a grid takes one answer per line (``1 3 2 1``, or line by
line). Keys: ``u`` not sure, ``b`` back, ``l`` list and volunteer, ``q`` stop, ``?`` help. An
urgent notice (safety, crisis) is shown as soon as an answer raises it. Every text is wrapped
to the terminal and speaks in labels, never in ids.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ._text import NEGLIGIBLE_FACTOR, odds_phrase, percent, points, strength_word, terminal_width, wrap

if TYPE_CHECKING:
    from .model import Model
    from .session import Session

__all__ = [
    "add_ask_command",
    "load_answers",
    "load_saved_session",
    "match_grid",
    "non_negative_int",
    "report",
    "save_session",
]

URGENT_KINDS = ("safety", "crisis")
MAX_INPUT = 200  # characters of one typed line that are looked at
LIST_AT_ONCE = 20  # a longer list of questions to volunteer starts with its themes

KEYS = (
    ("u", "not sure (go on to another question)"),
    ("b", "back: take back the last answer"),
    ("l", "list the questions not answered yet, and answer any of them (l money: those about money)"),
    ("q", "stop the questions and see the summary"),
    ("?", "show this help"),
)
HOW_TO_ANSWER = (
    "To answer, type the number of an answer, or its words: the first few letters are enough "
    "when they fit only one answer. Capitals do not matter."
)
HOW_TO_PICK = (
    "Type the numbers of all that apply, with spaces between them (for example: 1 3), "
    "0 if none of these apply, or u if you are not sure."
)
HOW_TO_GRID = (
    "Type one answer for each line, in order, with spaces between them (for example: {example}); "
    "u for a line you are not sure of, or u alone if you are not sure of any. "
    "Press Enter alone to answer one line at a time."
)
HOW_TO_GRID_AGAIN = "One answer for each line, in order (u: not sure; Enter alone: line by line)."
ROW_LETTERS = "abcdefghijklmnopqrstuvwxyz"
INTRO = (
    "This questionnaire asks about what you have noticed, one question at a time, each time "
    "choosing the question that can tell the most. At the end it shows which possible reasons "
    "fit your answers best, which answers point to them, and some ideas that may help."
)


# ----------------------------------------------------------------------------- model helpers
def _groups(model: Model) -> Mapping[str, Any]:
    return getattr(model, "groups", None) or {}


def _question_label(model: Model, item: str) -> str:
    """Short words for a question or checklist (its text when it has no label)."""
    get = getattr(model, "question_label", None)
    if get is not None:
        return str(get(item))
    group = _groups(model).get(item)
    if group is not None:
        return str(getattr(group, "label", None) or group.text)
    return model.question_text(item)


def _question_theme(model: Model, item: str) -> str:
    get = getattr(model, "question_theme", None)
    return str(get(item)) if get is not None else "Other"


def _item_text(model: Model, item: str) -> str:
    group = _groups(model).get(item)
    return str(group.text) if group is not None else model.question_text(item)


def _display(model: Model, question: str, answer: str) -> str:
    """How an answer is shown: its label from the model file, else its id in words, capitalised."""
    shown = model.spec.question(question).display(answer) if model.spec is not None else answer.replace("_", " ")
    return shown[:1].upper() + shown[1:]


def _is_grid(model: Model, item: str) -> bool:
    return bool(getattr(_groups(model).get(item), "is_grid", False))


def grid_scale(model: Model, group: Any) -> list[str]:
    """A grid's column headings: its ``scale``, else its first item's answers as shown."""
    scale = list(getattr(group, "scale", ()) or ())
    if scale:
        return scale
    first = group.items[0]
    return [_display(model, first, a) for a in model.answers_of(first)]


def _grid_heading(model: Model, group_id: str, question: str, answer: str) -> str:
    """The column heading a grid row's answer was given under (the answer as shown elsewhere)."""
    options = model.answers_of(question)
    if answer in options:
        return grid_scale(model, _groups(model)[group_id])[options.index(answer)]
    return answer


def _cause_kind(model: Model, cause: str) -> str:
    get = getattr(model, "cause_kind", None)
    if get is not None:
        return str(get(cause))
    if model.spec is None:
        return "relationship"
    return str(getattr(model.spec.cause(cause), "kind", "relationship"))


def _relationship_causes(model: Model) -> list[str]:
    """The causes a person may work on (a safety cause speaks through its notice instead)."""
    return [c for c in model.causes if _cause_kind(model, c) != "safety"]


def _notices(guidance: Any) -> list[Any]:
    """Every notice of a Guidance, urgent ones first."""
    found = getattr(guidance, "notices", None)
    if found is None:
        found = (*getattr(guidance, "safety", ()), *getattr(guidance, "professional_help", ()))
    return sorted(found, key=lambda n: n.kind not in URGENT_KINDS)


def _is_urgent(notice: Any) -> bool:
    return notice.kind in URGENT_KINDS


def _n_steps(session: Session) -> int:
    """Steps taken: questions and checklists (a checklist counts once), each undone by one ``undo()``."""
    steps = getattr(session, "steps", None)
    return int(steps) if steps is not None else len(session.asked)


def _screens(model: Model) -> tuple[str, ...]:
    return tuple(getattr(model, "screens", ()) or ())


# ----------------------------------------------------------------------------- output
class _Out:
    """Write wrapped text to a stream."""

    def __init__(self, stream: TextIO, width: int) -> None:
        self.stream = stream
        self.width = width

    def line(self, text: str = "") -> None:
        print(text, file=self.stream)

    def say(self, text: str, *, indent: str = "", hang: str | None = None) -> None:
        print(wrap(text, self.width, indent=indent, hang=hang), file=self.stream)

    def item(self, mark: str, text: str, *, indent: str = "  ") -> None:
        """A list item: ``mark`` then the text, its later lines under the text."""
        head = f"{indent}{mark} "
        self.say(text, indent=head, hang=" " * len(head))

    def prompt(self, text: str = "> ") -> None:
        print(text, end="", file=self.stream, flush=True)

    def rule(self, char: str = "-") -> None:
        print(char * min(self.width, 60), file=self.stream)


def _keys_help(out: _Out) -> None:
    out.say(HOW_TO_ANSWER)
    out.line("You can also type:")
    for key, what in KEYS:
        out.item(f"{key:<2}", what, indent="  ")


def header(model: Model, out: _Out, *, interactive: bool = True) -> None:
    """The title, what this is, the disclaimer (once), and how to answer."""
    out.say(model.title)
    out.line("=" * min(len(model.title), out.width))
    if interactive:
        out.say(INTRO)
        out.line()
    out.say(model.disclaimer)
    if interactive:
        out.line()
        _keys_help(out)
    out.line()


# ----------------------------------------------------------------------------- typed input
def _clean(text: str) -> str:
    return " ".join(text[:MAX_INPUT].split())


def match_answer(text: str, options: Sequence[tuple[str, str]]) -> tuple[int | None, str]:
    """Find the answer ``text`` names among ``options`` (id, shown text); return (index, problem).

    A number (1-based), the shown text or the id (any case), or the start of exactly one shown
    text names an answer. ``problem`` says what is wrong when no single answer is named.
    """
    typed = _clean(text)
    n = len(options)
    if not typed:
        return None, "Please type an answer."
    if typed.isascii() and typed.isdecimal():
        if 1 <= int(typed) <= n:
            return int(typed) - 1, ""
        return None, f"There is no answer {typed[:6]}; the answers are numbered 1 to {n}."
    folded = typed.casefold()
    for i, (ident, shown) in enumerate(options):
        if folded in (shown.casefold(), ident.casefold(), ident.replace("_", " ").casefold()):
            return i, ""
    starts = [i for i, (_, shown) in enumerate(options) if shown.casefold().startswith(folded)]
    if len(starts) == 1:
        return starts[0], ""
    if starts:
        which = ", ".join(options[i][1] for i in starts)
        return None, f"That fits more than one answer ({which}); type more of it, or its number."
    return None, "That is not one of the answers."


def match_picks(text: str, n_items: int) -> tuple[list[int] | str | None, str]:
    """Read a checklist answer: item numbers (1-based, in any order), ``0`` or 'none' for none of them.

    Return (sorted 0-based picks, or 'none'; problem) or (None, problem).
    """
    typed = _clean(text).casefold()
    tokens = [t for t in re.split(r"[\s,;]+", typed) if t]
    if not tokens:
        return None, "Please type the numbers of the ones that apply, or 0 for none."
    if tokens in (["0"], ["none"]):
        return "none", ""
    if not all(t.isascii() and t.isdecimal() for t in tokens):
        return None, "Please type numbers only, with spaces between them."
    numbers = sorted({int(t) for t in tokens})
    if 0 in numbers:
        return None, "0 means none of these, so it cannot go with other numbers."
    if numbers[-1] > n_items:
        return None, f"There is no item {numbers[-1]}; the items are numbered 1 to {n_items}."
    return [k - 1 for k in numbers], ""


def match_grid(text: str, n_rows: int, options: Sequence[tuple[str, str]]) -> tuple[list[int | None] | None, str]:
    """Read a grid answer: one answer per row, in order; return (0-based answers, None for unsure; problem).

    Each answer is its number (1-based), ``u`` (not sure) or the words of an answer (as in
    :func:`match_answer`), separated by spaces or commas. With fewer than ten answers, the
    numbers may also be typed without spaces (``1321``).
    """
    typed = _clean(text).casefold()
    tokens = [t for t in re.split(r"[\s,;]+", typed) if t]
    n = len(options)
    if len(tokens) == 1 and n_rows > 1 and n < 10 and len(tokens[0]) == n_rows and re.fullmatch(r"[0-9u]+", tokens[0]):
        tokens = list(tokens[0])
    if not tokens:
        return None, f"Please type {n_rows} answers, one for each line."
    if len(tokens) != n_rows:
        return (
            None,
            f"That is {len(tokens)} answer{'s' if len(tokens) != 1 else ''}; please type {n_rows}, one for each line.",
        )
    out: list[int | None] = []
    for row, token in enumerate(tokens):
        if token in ("u", "?", "unsure", "not sure"):
            out.append(None)
            continue
        index, problem = match_answer(token, options)
        if index is None:
            return None, f"Line {ROW_LETTERS[row]}: {problem}"
        out.append(index)
    return out, ""


def _invalid_hint(n: int, *, checklist: bool = False) -> str:
    first = f"numbers from 1 to {n}, or 0 for none" if checklist else f"a number from 1 to {n} or the answer's words"
    return f"Please type {first} (or u, b, l, q; ? for help)."


# ----------------------------------------------------------------------------- saving
def save_session(path: str, session: Session) -> None:
    """Write ``session.to_dict()`` to ``path`` as JSON, atomically (a temporary file, then a rename).

    The file is created readable by its owner only: it holds a person's answers.
    """
    data = json.dumps(session.to_dict(), ensure_ascii=False, indent=1, allow_nan=False)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ask-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_saved_session(path: str, model: Model, *, max_questions: int | None = None) -> Session:
    """Resume the session saved in ``path`` (by ``--save``) with ``model``.

    Raises
    ------
    DataError
        The file cannot be read or is not a saved session, it was saved with another model or
        another version of this model (its ``model_sha256`` differs), or its answers do not fit
        this model. Messages never quote the saved answers.
    """
    from .errors import DataError, DistancingBNError, ImpossibleEvidenceError
    from .session import Session

    data = _read_json(path, "a saved session")
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a saved session (expected the JSON object that --save writes)", file=path)
    saved_model = data.get("model")
    if saved_model != model.id:
        raise DataError(
            f"{path}: this session was saved for another questionnaire; it cannot be resumed with '{model.id}'",
            file=path,
        )
    here = model.spec.sha256 if model.spec is not None else None
    if "model_sha256" not in data or data["model_sha256"] != here:
        raise DataError(
            f"{path}: this session was saved with a different version of the model (its sha256 differs), "
            "so its answers cannot be reused; start a new session",
            file=path,
        )
    data = dict(data)
    if max_questions is not None:
        stop = data.get("stop")
        data["stop"] = {**(stop if isinstance(stop, dict) else {}), "max_questions": max_questions}
    problems = {
        "UnknownQuestionError": "it names a question this model does not have",
        "InvalidAnswerError": "it holds an answer this model does not accept",
        "ImpossibleEvidenceError": "its answers cannot all hold together under this model",
        "DataError": "it is not in the format that --save writes",
    }
    try:
        session = Session.from_dict(data, model)
        session.posterior  # noqa: B018 - the answers must have a probability
    except (DistancingBNError, ImpossibleEvidenceError) as exc:  # messages may quote answers: say it in words
        why = problems.get(type(exc).__name__, "its list of answers is not consistent")
        raise DataError(f"{path}: not a session that can be resumed: {why}", file=path) from None
    return session


# ----------------------------------------------------------------------------- the interview
class _Interview:
    """One run of the questionnaire over a session."""

    def __init__(self, model: Model, session: Session, inp: TextIO, out: _Out, *, save: str | None = None) -> None:
        self.model = model
        self.session = session
        self.inp = inp
        self.out = out
        self.save_path = save
        self.save_failed = False
        self.steps: list[int] = [1] * _n_steps(session)  # session steps each answer added (undone by 'b')
        self.shown: set[str] = set()  # urgent notices already shown
        self.screens_said = False
        self.grid_said = False  # the full grid instructions are shown once, then one short line
        self.list_words = ""  # what followed 'l' (find questions with those words)

    # ------------------------------------------------------------ plumbing
    def read(self, prompt: str = "> ") -> str | None:
        self.out.prompt(prompt)
        line = self.inp.readline()
        if not line:
            self.out.line()
            self.out.line("(end of input)")
            return None
        return line.rstrip("\r\n")

    def save(self) -> None:
        if self.save_path is None or self.save_failed:
            return
        try:
            save_session(self.save_path, self.session)
        except (OSError, TypeError, ValueError) as exc:
            self.save_failed = True
            why = getattr(exc, "strerror", None) or "it could not be written"
            print(
                f"warning: the session could not be saved ({why}); answers from now on are not saved", file=sys.stderr
            )

    def answered(self) -> set[str]:
        """Questions and checklists already asked (answered, unsure or skipped)."""
        done = set(self.session.asked) | set(self.session.answers)
        for gid, group in _groups(self.model).items():  # an 'unsure' checklist leaves its items open
            if all(i in done for i in group.items):
                done.add(gid)
        return done

    def record(self, item: str, value: Any) -> bool:
        """Give ``value`` to ``item``; False (and nothing recorded) when it contradicts earlier answers."""
        from .errors import ImpossibleEvidenceError

        before = _n_steps(self.session)
        self.session.answer(item, value)
        try:
            self.session.posterior  # noqa: B018 - checks the answers still have a probability
        except ImpossibleEvidenceError as exc:
            for _ in range(_n_steps(self.session) - before):
                self.session.undo()
            members = set(getattr(_groups(self.model).get(item), "items", ()))
            others = [x for x in exc.conflict if x != item and x not in members]
            if not others:
                self.out.say("The model gives that answer no chance at all; please choose another.", indent="  ")
            elif len(others) == 1:
                self.out.say(
                    "That answer cannot hold together with your answer to: "
                    f"{_item_text(self.model, others[0])} Choose another, or b to go back.",
                    indent="  ",
                )
            else:
                self.out.say(
                    "That answer cannot hold together with earlier answers; choose another, or b to go back.",
                    indent="  ",
                )
            return False
        self.steps.append(max(1, _n_steps(self.session) - before))
        self.save()
        return True

    def back(self) -> None:
        if not self.steps:
            self.out.say("There is nothing to go back to yet.", indent="  ")
            return
        for _ in range(self.steps.pop()):
            self.session.undo()
        self.save()
        self.out.say("Took back the last answer.", indent="  ")

    # ------------------------------------------------------------ one question
    def ask(self, item: str) -> str:
        """Ask one question or checklist; return answered, back, list, quit or eof."""
        group = _groups(self.model).get(item)
        number = len(self.steps) + 1
        self.out.line()
        if group is not None and getattr(group, "is_grid", False):
            return self._ask_grid(item, group, number)
        if group is not None:
            return self._ask_group(item, group, number)
        answers = self.model.answers_of(item)
        options = [(a, _display(self.model, item, a)) for a in answers]
        self.out.line(f"Question {number}")
        self.out.say(self.model.question_text(item))
        for i, (_, shown) in enumerate(options, start=1):
            self.out.item(f"{i})", shown, indent="   ")
        while True:
            typed = self.read()
            if typed is None:
                return "eof"
            key = _clean(typed).casefold()
            if key in ("q", "b"):
                return {"q": "quit", "b": "back"}[key]
            if key == "l" or key.startswith("l "):
                self.list_words = key[2:]
                return "list"
            if key == "?":
                _keys_help(self.out)
                continue
            if key == "u":
                if self.record(item, "unsure"):
                    return "answered"
                continue
            index, problem = match_answer(typed, options)
            if index is None:
                self.out.say(f"{problem} {_invalid_hint(len(options))}", indent="  ")
                continue
            if self.record(item, answers[index]):
                return "answered"

    def _ask_group(self, gid: str, group: Any, number: int) -> str:
        items = list(group.items)
        self.out.line(f"Question {number} (a checklist)")
        self.out.say(group.text)
        for i, q in enumerate(items, start=1):
            self.out.item(f"{i})", _question_label(self.model, q), indent="   ")
        self.out.item("0)", getattr(group, "none_label", None) or "None of these", indent="   ")
        self.out.say(HOW_TO_PICK, indent="   ")
        while True:
            typed = self.read()
            if typed is None:
                return "eof"
            key = _clean(typed).casefold()
            if key in ("q", "b"):
                return {"q": "quit", "b": "back"}[key]
            if key == "l" or key.startswith("l "):
                self.list_words = key[2:]
                return "list"
            if key == "?":
                self.out.say(HOW_TO_PICK)
                _keys_help(self.out)
                continue
            if key == "u":
                if self.record(gid, "unsure"):
                    return "answered"
                continue
            picks, problem = match_picks(typed, len(items))
            if picks is None:
                self.out.say(f"{problem} {_invalid_hint(len(items), checklist=True)}", indent="  ")
                continue
            value: Any = "none" if picks == "none" else [items[k] for k in picks]
            if self.record(gid, value):
                return "answered"

    def _ask_grid(self, gid: str, group: Any, number: int) -> str:
        """A rating grid: the stem, one lettered line per item, the answers once; one answer per line."""
        items = list(group.items)
        done = set(self.session.asked) | set(self.session.answers)
        items = [q for q in items if q not in done]  # rows already answered alone are left out
        scale = grid_scale(self.model, group)
        options = list(zip(self.model.answers_of(items[0]), scale, strict=True))
        self.out.line(f"Question {number} (one answer per line)")
        self.out.say(group.text)
        for k, q in enumerate(items):
            self.out.item(f"{ROW_LETTERS[k]})", _question_label(self.model, q), indent="   ")
        answers_line = " · ".join(f"{i} {shown}" for i, (_, shown) in enumerate(options, start=1))
        self.out.say(f"{answers_line} · u Not sure", indent="   Answers: ", hang="            ")
        example = " ".join(str(1 + (k * 2) % len(options)) for k in range(len(items)))
        self.out.say(HOW_TO_GRID_AGAIN if self.grid_said else HOW_TO_GRID.format(example=example), indent="   ")
        self.grid_said = True
        while True:
            typed = self.read()
            if typed is None:
                return "eof"
            key = _clean(typed).casefold()
            if key in ("q", "b"):
                return {"q": "quit", "b": "back"}[key]
            if key == "l" or key.startswith("l "):
                self.list_words = key[2:]
                return "list"
            if key == "?":
                self.out.say(HOW_TO_GRID.format(example=example))
                _keys_help(self.out)
                continue
            if key == "u":
                if self.record(gid, "unsure"):
                    return "answered"
                continue
            if key == "":
                picks = self._grid_rows(items, options)
                if isinstance(picks, str):
                    if picks == "again":
                        self.out.say(HOW_TO_GRID.format(example=example), indent="   ")
                        continue
                    return picks
            else:
                found, problem = match_grid(typed, len(items), options)
                if found is None:
                    self.out.say(f"{problem} Type ? for help.", indent="  ")
                    continue
                picks = found
            value = {
                q: "unsure" if k is None else self.model.answers_of(q)[k] for q, k in zip(items, picks, strict=True)
            }
            if self.record(gid, value):
                said = [f"{ROW_LETTERS[r]}) {'not sure' if k is None else scale[k]}" for r, k in enumerate(picks)]
                self.out.say(" · ".join(said), indent="  Your answers: ", hang="    ")
                return "answered"

    def _grid_rows(self, items: Sequence[str], options: Sequence[tuple[str, str]]) -> list[int | None] | str:
        """Ask a grid one line at a time; return the answers, or again (b: the whole grid), quit or eof."""
        answers_line = " · ".join(f"{i} {shown}" for i, (_, shown) in enumerate(options, start=1))
        out: list[int | None] = []
        while len(out) < len(items):
            k = len(out)
            self.out.item(f"{ROW_LETTERS[k]})", _question_label(self.model, items[k]), indent="   ")
            self.out.say(f"{answers_line} · u Not sure", indent="      ")
            while True:
                typed = self.read(f"{ROW_LETTERS[k]}> ")
                if typed is None:
                    return "eof"
                key = _clean(typed).casefold()
                if key == "q":
                    return "quit"
                if key == "b":
                    return "again"
                if key == "u":
                    out.append(None)
                    break
                index, problem = match_answer(typed, options)
                if index is None:
                    self.out.say(f"{problem} {_invalid_hint(len(options))}", indent="  ")
                    continue
                out.append(index)
                break
        return out

    # ------------------------------------------------------------ volunteering
    def pending(self) -> list[str]:
        """Questions and checklists not answered yet, by theme (the themes of the screens first)."""
        done = self.answered()
        grouped = _groups(self.model)
        in_group = {q for g in grouped.values() for q in g.items}
        items = [g for g in grouped if g not in done]
        items += [q for q in self.model.questions if q not in done and q not in in_group]
        items += [q for q in self.model.questions if q not in done and q in in_group]
        themes: dict[str, list[str]] = {}
        for item in _screens(self.model):
            if item in items:
                themes.setdefault(_question_theme(self.model, item), [])
        for item in items:
            themes.setdefault(_question_theme(self.model, item), []).append(item)
        return [item for members in themes.values() for item in members]

    def show_list(self, order: Sequence[str], picked: Sequence[str]) -> None:
        """Print the ``picked`` items of ``order`` under their themes, with their numbers in ``order``."""
        grouped = _groups(self.model)
        theme = None
        for n, item in enumerate(order, start=1):
            if item not in picked:
                continue
            if _question_theme(self.model, item) != theme:
                theme = _question_theme(self.model, item)
                self.out.say(theme, indent="  ")
            extra = (" (grid)" if _is_grid(self.model, item) else " (checklist)") if item in grouped else ""
            self.out.item(f"{f'{n})':>4}", _question_label(self.model, item) + extra, indent="  ")

    def volunteer(self, words: str = "") -> str:
        """List the questions not answered yet (those with ``words``, if given); ask the one chosen."""
        order = self.pending()
        if not order:
            self.out.say("Every question has been answered.", indent="  ")
            return "cancel"
        picked = self.matching(order, words) if words else order
        self.out.line()
        if words and not picked:
            self.out.say("No question left has those words; here are all of them.")
            picked = order
        themes = list(dict.fromkeys(_question_theme(self.model, i) for i in order))
        if picked is order and len(order) > LIST_AT_ONCE and len(themes) > 1:
            chosen = self.choose_theme(order, themes)
            if isinstance(chosen, str):
                return chosen
            picked = chosen
        self.out.say("Questions not answered yet, by theme:")
        self.show_list(order, picked)
        self.out.say(
            "Type the number of the question to answer now, or a word to find one "
            "(such as money), or press Enter to go back."
        )
        while True:
            typed = self.read("number> ")
            if typed is None:
                return "eof"
            key = _clean(typed).casefold()
            if key in ("", "b", "l"):
                return "cancel"
            if key == "q":
                return "quit"
            chosen = None
            if key.isascii() and key.isdecimal():
                if 1 <= int(key) <= len(order):
                    chosen = order[int(key) - 1]
                else:
                    self.out.say(f"There is no question {key[:6]}; they are numbered 1 to {len(order)}.", indent="  ")
                    continue
            else:
                found = self.matching(order, key)
                if len(found) == 1:
                    chosen = found[0]
                elif found:
                    self.out.say("These have those words:")
                    self.show_list(order, found)
                    continue
                else:
                    self.out.say(
                        "No question left has those words. Type a number from the list, or press Enter to go back.",
                        indent="  ",
                    )
                    continue
            outcome = self.ask(chosen)
            return "cancel" if outcome in ("back", "list") else outcome

    def choose_theme(self, order: Sequence[str], themes: Sequence[str]) -> list[str] | str:
        """A long list starts with its themes: return the items picked, or cancel, quit or eof."""
        counts = {t: sum(_question_theme(self.model, i) == t for i in order) for t in themes}
        self.out.say(f"{len(order)} questions are not answered yet. Which kind?")
        for k, theme in enumerate(themes, start=1):
            self.out.item(f"{f'{k})':>4}", f"{theme} ({counts[theme]})", indent="  ")
        self.out.item(f"{'a)':>4}", "all of them", indent="  ")
        self.out.say(
            "Type the number of a kind, a for all, or a word to find questions (such as money); Enter goes back."
        )
        while True:
            typed = self.read("kind> ")
            if typed is None:
                return "eof"
            key = _clean(typed).casefold()
            if key in ("", "b", "l"):
                return "cancel"
            if key == "q":
                return "quit"
            if key in ("a", "all"):
                return list(order)
            if key.isascii() and key.isdecimal() and 1 <= int(key) <= len(themes):
                return [i for i in order if _question_theme(self.model, i) == themes[int(key) - 1]]
            named = [t for t in themes if t.casefold().startswith(key)]
            if len(named) == 1:
                return [i for i in order if _question_theme(self.model, i) == named[0]]
            found = self.matching(order, key)
            if found:
                return found
            self.out.say(
                f"Please type a number from 1 to {len(themes)}, a for all, or a word from a question; Enter goes back.",
                indent="  ",
            )

    def matching(self, items: Sequence[str], words: str) -> list[str]:
        """The items whose label or text contains every word of ``words`` (any case)."""
        wanted = _clean(words).casefold().split()
        out = []
        for item in items:
            hay = f"{_question_label(self.model, item)} {_item_text(self.model, item)}".casefold()
            if all(w in hay for w in wanted):
                out.append(item)
        return out

    # ------------------------------------------------------------ notices
    def urgent_notices(self) -> str:
        """Show at once every urgent notice the answers raise that was not shown; return go or stop."""
        raised = [n for n in _notices(self.session.guidance()) if _is_urgent(n)]
        self.shown &= {n.id for n in raised}  # a notice taken back by 'b' is shown again if raised again
        new = [n for n in raised if n.id not in self.shown]
        if not new:
            return "go"
        out = self.out
        for n in new:
            self.shown.add(n.id)
            out.line()
            out.rule("!")
            out.say(n.title, indent="!! ", hang="   ")
            out.say(n.text, indent="   ")
            out.rule("!")
        out.say("You can stop here and see the summary, or go on with the questions. Type c to go on, or q to stop.")
        if self.save_path is not None and not self.save_failed:
            out.say(
                f"Your answers are being saved in {self.save_path}. If someone else could read it, "
                "type d to delete it now and save nothing more."
            )
        while True:
            typed = self.read("c or q> ")
            if typed is None:
                return "stop"
            key = _clean(typed).casefold()
            if key in ("c", "go", "go on", "continue", "y", "yes"):
                return "go"
            if key in ("q", "s", "stop", "n", "no"):
                return "stop"
            if key == "d" and self.save_path is not None:
                self.forget_saved()
                continue
            out.say("Please type c to go on with the questions, or q to stop and see the summary.", indent="  ")

    def forget_saved(self) -> None:
        """Delete the saved session and save nothing more."""
        path, self.save_path = self.save_path, None
        if path is None:
            return
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.out.say(f"The file {path} could not be deleted ({exc.strerror}); nothing more is saved.", indent="  ")
            return
        self.out.say(f"Deleted {path}; nothing more will be saved. Type c to go on, or q to stop.", indent="  ")

    # ------------------------------------------------------------ the loop
    def top_line(self) -> None:
        post = self.session.posterior
        causes = _relationship_causes(self.model)
        top = post.probabilities[causes].sort_values(ascending=False).head(3)
        text = " · ".join(f"{self.model.label(c)} {percent(p)}" for c, p in top.items())
        self.out.say(text, indent="  Most likely so far: ", hang="    ")

    def run(self) -> str:
        """Ask until the stop rule fires or the person stops; return why it ended."""
        screens = set(_screens(self.model))
        if self.steps and self.urgent_notices() == "stop":  # a resumed session: its notice first
            return "notice"
        while True:
            item = self.session.next_question()
            if item is None:
                self.out.line()
                self.out.say(stop_words(self.model, self.session))
                return "decided"
            if item in screens and not self.screens_said and not self.steps:
                self.out.say(
                    "First, a few questions asked of everyone: they make sure nothing urgent is missed.",
                )
                self.screens_said = True
            outcome = self.ask(item)
            if outcome == "list":
                outcome = self.volunteer(self.list_words)
            if outcome in ("quit", "eof"):
                return outcome
            if outcome == "back":
                self.back()
                continue
            if outcome == "answered":
                if self.urgent_notices() == "stop":
                    return "notice"
                self.top_line()


def stop_words(model: Model, session: Session) -> str:
    """Why the questions stopped, in plain words (no ids, no bits)."""
    decision = getattr(session, "decision", None)
    code = getattr(decision(), "code", None) if decision is not None else None
    reason = session.stop_reason or ""
    if code == "budget" or (code is None and "budget" in reason):
        n = session.stop_rule.max_questions
        return f"That was the last question: you asked for at most {n}."
    if code == "exhausted" or (code is None and reason.startswith("every question")):
        return "Every question has been asked."
    if code == "no_gain" or (code is None and reason.startswith("no question")):
        return "No question left is likely to change the picture much, so the questions stop here."
    causes = _relationship_causes(model)
    top = session.posterior.probabilities[causes].sort_values(ascending=False)
    if not len(top) or top.iloc[0] < 0.5:
        return "The picture is clear enough to stop here: none of the possible reasons looks likely."
    text = "The picture is clear enough to stop here: each possible reason now looks either likely or unlikely."
    if len(top):
        lead = top.iloc[0] - (top.iloc[1] if len(top) > 1 else 0.0)
        text += f" {model.label(str(top.index[0]))} looks likely ({percent(top.iloc[0])})"
        text += f", {points(lead)} ahead of the next reason." if len(top) > 1 else "."
    return text


# ----------------------------------------------------------------------------- the report
def _reasons(
    model: Model, answers: Mapping[str, Any], cause: str, out: _Out, picked_in: Mapping[str, str] | None = None
) -> None:
    """What points to ``cause`` (strongest first), then what speaks against it.

    ``picked_in`` maps the items answered through a checklist to it: those are said as picked
    (or not picked) by their labels, as the person saw them.
    """
    import math

    post = model.posterior(answers)
    p, start = float(post.probabilities[cause]), float(post.prior_probabilities[cause])
    label = model.label(cause)
    out.line()
    if p < 0.5 and p < start * 1.1:
        out.say(
            f"No reason stands out: {label}, the most likely one, is at {percent(p)} "
            f"(it was {percent(start)} at the start)."
        )
        return
    frame = model.explain(answers, cause).to_frame()
    support = frame[frame["factor"] >= NEGLIGIBLE_FACTOR]
    against = frame[frame["factor"] <= 1 / NEGLIGIBLE_FACTOR]
    out.say(f"Why {label} stands out" if p >= 0.5 else f"What moved {label}, the most likely so far")
    if support.empty:
        out.say("No single answer points to it much; it leads because of how the answers add up.", indent="  ")
    else:
        out.say("What points to it (strongest first):", indent="  ")
        for row in support.head(5).itertuples():
            if math.isinf(row.factor):
                how = "under the model this answer makes it certain"
            else:
                how = f"{strength_word(row.factor)} evidence for it ({odds_phrase(row.factor)})"
            out.item("-", f"{_what_was_said(model, row, picked_in or {})}: {how}.", indent="   ")
    if not against.empty:
        out.say("What speaks against it:", indent="  ")
        for row in against.head(3).itertuples():
            how = (
                "this answer rules it out"
                if row.factor == 0
                else f"{strength_word(row.factor)} evidence against it ({odds_phrase(row.factor)})"
            )
            out.item("-", f"{_what_was_said(model, row, picked_in or {})}: {how}.", indent="   ")
    out.say(
        '("As likely" compares the odds of this reason with and without that one answer.)',
        indent="  ",
    )


def _what_was_said(model: Model, row: Any, picked_in: Mapping[str, str]) -> str:
    """'You answered "Yes" to "..."', for a checklist item 'You picked "..." (checklist)', for a grid row
    'You answered "Often" to "..." (grid)', the answer as the column the person chose."""
    q = row.question
    group = picked_in.get(q)
    if group is not None and q in model.questions and _is_grid(model, group):
        shown = _grid_heading(model, group, q, _answer_id(model, q, row.answer))
        return f'You answered "{shown}" to "{_question_label(model, q)}" ({_question_label(model, group)})'
    if group is not None and q in model.questions:
        picked = _applies(model, q, row.answer)
        verb = "picked" if picked else "did not pick"
        return f'You {verb} "{_question_label(model, q)}" ({_question_label(model, group)})'
    return f'You answered "{_shown(model, row)}" to "{row.text}"'


def _answer_id(model: Model, question: str, shown: str) -> str:
    """The answer id behind an explanation row's answer (its id, or its text as shown)."""
    for a in model.answers_of(question):
        if shown in (a, _display(model, question, a)) or shown.casefold() == _display(model, question, a).casefold():
            return a
    return shown


def _applies(model: Model, question: str, shown: str) -> bool:
    """True when the shown answer of a checklist item is its second one (the item applies)."""
    options = model.answers_of(question)
    return len(options) == 2 and shown.casefold() in (
        options[1].casefold(),
        _display(model, question, options[1]).casefold(),
    )


def _shown(model: Model, row: Any) -> str:
    """The answer of an explanation row as the person saw it."""
    if row.question in model.questions and row.answer in model.answers_of(row.question):
        return _display(model, row.question, row.answer)
    answer = str(row.answer)
    return answer[:1].upper() + answer[1:]


def _table(model: Model, post: Any, out: _Out) -> str | None:
    """The relationship causes, most likely first, now and at the start; return the top one."""
    causes = _relationship_causes(model)
    now = post.probabilities[causes].sort_values(ascending=False)
    before = post.prior_probabilities
    labels = {c: model.label(c) for c in causes}
    width = max((len(x) for x in labels.values()), default=10)
    numbers = len("   now  at start")
    fixed = 2 + width + numbers
    bar_room = min(20, out.width - fixed - 2)
    if fixed > out.width:  # narrow: the numbers first, each label wrapped after them
        out.line("   now  at start")
        for c, p in now.items():
            head = f"  {percent(p):>4}  {percent(before[c]):>8}  "
            out.say(labels[c], indent=head, hang=" " * len(head))
        return str(now.index[0]) if len(now) else None
    out.line(f"  {'':<{width}}   now  at start")
    for c, p in now.items():
        line = f"  {labels[c]:<{width}}  {percent(p):>4}  {percent(before[c]):>8}"
        if bar_room >= 5:
            line += "  " + "#" * round(p * bar_room)
        out.line(line.rstrip())
    return str(now.index[0]) if len(now) else None


def report(
    model: Model,
    answers: Mapping[str, Any],
    stream: TextIO,
    *,
    width: int | None = None,
    picked_in: Mapping[str, str] | None = None,
) -> None:
    """Print the summary: notices first, then the probabilities, the reasons, and the tips.

    ``picked_in`` maps items answered through a checklist to its id (see :func:`checklist_items`).
    """
    out = _Out(stream, width or terminal_width())
    post = model.posterior(answers)
    guide = model.guidance(answers)
    notices = _notices(guide)
    urgent = [n for n in notices if _is_urgent(n)]
    others = [n for n in notices if not _is_urgent(n)]
    out.line()
    out.say("Your summary")
    out.line("=" * min(12, out.width))
    for n in urgent:
        out.rule("!")
        out.say(n.title, indent="!! ", hang="   ")
        out.say(n.text, indent="   ")
        out.rule("!")
    if urgent:
        out.say(
            "The list of possible reasons below is not the point right now: safety comes first. "
            "Relationship tips are not shown.",
        )
        out.line()
    for n in others:
        out.say(n.title, indent="*  ", hang="   ")
        out.say(n.text, indent="   ")
        out.line()
    if answers:
        out.say("How likely each possible reason looks now, after your answers, and at the start:")
    else:
        out.say("No answers yet, so these are the starting estimates for each possible reason:")
    top = _table(model, post, out)
    if answers and top is not None:
        _reasons(model, answers, top, out, picked_in)
    tips = list(getattr(guide, "causes", ()))
    withheld = bool(getattr(guide, "tips_withheld", bool(urgent)))
    if withheld:
        return
    if not answers:
        out.line()
        out.say("Answer a few questions to see which reasons fit, and ideas that may help.")
        return
    general = list(getattr(guide, "general", ()) or ())
    if tips or general:
        out.line()
    if tips:
        out.say("Ideas that may help")
        for c in tips:
            out.say(f"{c.label} ({percent(c.probability)}):", indent="  ")
            for t in c.tips:
                out.item("-", t, indent="   ")
    if general:
        if tips:
            out.line()
        out.say("In general" if tips else "Some general ideas")
        for t in general:
            out.item("-", t, indent="   ")


# ----------------------------------------------------------------------------- JSON files
MAX_ANSWERS_BYTES = 16 << 20  # an answers file is a few kilobytes; refuse anything this large


def load_answers(path: str) -> dict[str, Any]:
    """Read an answers file: a JSON object of question ids and answers (labels or soft answers).

    Raises
    ------
    DataError
        The file cannot be read, is larger than 16 MiB, is not UTF-8, is not valid JSON (line
        given; numbers of more than 400 digits, NaN/Infinity and nesting too deep included),
        repeats a key (named), or is not a JSON object.
    """
    from .errors import DataError

    data = _read_json(path, "answers")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object mapping question ids to answers", file=path)
    return data


def _read_json(path: str, what: str) -> Any:
    """Read a strict JSON file (see :func:`load_answers`); ``what`` names it in messages."""
    from .errors import DataError
    from .evidence import quote

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_ANSWERS_BYTES + 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}", file=path) from None
    if len(raw) > MAX_ANSWERS_BYTES:
        raise DataError(f"{path}: larger than {MAX_ANSWERS_BYTES >> 20} MiB; {what} file is small JSON")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte {exc.start + 1})", file=path, line=line) from None

    def number(kind: str) -> Any:
        def parse(token: str) -> Any:
            if kind == "int" and len(token.lstrip("-")) > 400:
                raise _JSONProblem(f"a number of {len(token)} digits")
            return int(token) if kind == "int" else float(token)

        return parse

    def constant(token: str) -> Any:
        raise _JSONProblem(f"{token} is not a JSON value")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _JSONProblem(f"the key {quote(key)} is given twice")
            out[key] = value
        return out

    try:
        return json.loads(
            text,
            object_pairs_hook=unique_keys,
            parse_int=number("int"),
            parse_float=number("float"),
            parse_constant=constant,
        )
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    except _JSONProblem as exc:
        raise DataError(f"{path}: not valid {what}: {exc}", file=path) from None
    except RecursionError:
        raise DataError(f"{path}: not valid {what}: nested too deeply", file=path) from None


class _JSONProblem(Exception):
    """Raised inside the JSON parser's hooks; becomes a DataError."""


# ----------------------------------------------------------------------------- the command
def checklist_items(session: Session) -> dict[str, str]:
    """The items answered through a checklist in ``session``, each mapped to its checklist."""
    out: dict[str, str] = {}
    for step in session.history:
        if step["question"] in _groups(session.model) and isinstance(step["answer"], Mapping):
            out.update(dict.fromkeys(step["answer"], step["question"]))
    return out


def run_interview(
    model: Model, session: Session, inp: TextIO, stream: TextIO, *, width: int | None = None, save: str | None = None
) -> str:
    """Ask ``session``'s questions on ``inp``/``stream``; return why it ended (see :class:`_Interview`)."""
    return _Interview(model, session, inp, _Out(stream, width or terminal_width()), save=save).run()


def _cmd_ask(args: argparse.Namespace) -> int:
    from .errors import DataError
    from .formats import load_model
    from .information import StopRule

    if args.answers and (args.save or args.resume):
        print("error: --answers reports at once; it cannot go with --save or --resume", file=sys.stderr)
        return 2
    model = load_model(args.model, targets=args.targets)
    width = terminal_width()
    out = _Out(sys.stdout, width)
    if args.answers:
        answers = load_answers(args.answers)
        model.posterior(answers)  # validate before printing anything
        header(model, out, interactive=False)
        report(model, answers, sys.stdout, width=width)
        return 0
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 are an invalid choice, not a crash
        sys.stdin.reconfigure(errors="replace")
    if args.resume:
        session = load_saved_session(args.resume, model, max_questions=args.max_questions)
    else:
        session = model.session(stop=StopRule(max_questions=args.max_questions))
    save = args.save or args.resume
    if save:
        try:
            save_session(save, session)  # a path that cannot be written fails now, not after the answers
        except OSError as exc:
            raise DataError(f"{save}: cannot save the session there: {exc.strerror}", file=save) from None
    header(model, out)
    if args.resume:
        n = _n_steps(session)
        out.say(f"Going on with the session saved in {args.resume}: {n} question{'s' if n != 1 else ''} so far.")
        if session.answers:
            _Interview(model, session, sys.stdin, out).top_line()
    if save:
        out.say(f"Your answers are saved in {save} after each one (only you can read that file).")
    interview = _Interview(model, session, sys.stdin, out, save=save)
    try:
        ended = interview.run()
    except KeyboardInterrupt:
        if interview.save_path:
            print(f"\ninterrupted; the answers so far are saved in {interview.save_path}", file=sys.stderr)
        raise
    save = interview.save_path  # None once the person deleted the file
    if ended == "quit" or ended == "notice":
        out.line()
        targets = [x for t in args.targets or () for x in ("--target", t)]
        again = shlex.join(
            ["distancing-bn", "ask", *([args.model] if args.model else []), *targets, "--resume", save or ""]
        )
        out.say("You stopped the questions." + (" To go on later, run:" if save else ""))
        if save:
            out.line(f"  {again}")  # a command is never wrapped
    report(model, session.answers, sys.stdout, width=width, picked_in=checklist_items(session))
    return 0


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (ASCII digits only)."""
    value = text.strip()
    if not (value.isascii() and value.isdecimal()) or len(value) > 18:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text[:40]!r}")
    return int(value)


def _epilog() -> str:
    keys = "\n".join(wrap(what, 78, indent=f"  {k:<3} ", hang=" " * 6) for k, what in KEYS)
    return (
        "answering:\n"
        "  type the number of an answer, or its words (the first letters are\n"
        "  enough when they fit one answer; capitals do not matter). A checklist\n"
        "  takes several numbers, such as 1 3 5, or 0 for none of them. A grid\n"
        "  takes one answer per line, in order, such as 1 3 2 (u: not sure of\n"
        "  that line), or Enter alone to answer line by line.\n"
        f"{keys}\n\n"
        "saving:\n"
        "  --save FILE writes the session to FILE after every answer (a temporary\n"
        "  file, then a rename; readable by you only). --resume FILE goes on from\n"
        "  it and keeps saving to it (or to --save FILE); it is refused when the\n"
        "  model changed since the file was saved.\n\n"
        "more: docs/ask.md\n"
    )


def add_ask_command(sub: Any) -> None:
    """Register ``ask`` on the CLI's subparsers."""
    p = sub.add_parser(
        "ask",
        help="answer the most informative questions one at a time (interactive)",
        description=(
            "A questionnaire in the terminal: one question at a time, then a summary\n"
            "with the likely reasons, the answers behind them, and ideas that may help."
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", nargs="?", default=None, metavar="MODEL", help="model file (default: bundled)")
    p.add_argument("--target", action="append", dest="targets", metavar="NAME", help="target of a network file")
    p.add_argument("--answers", metavar="FILE.json", help="answers as a JSON object: report without asking")
    p.add_argument("--max-questions", type=non_negative_int, default=None, metavar="N", help="ask at most N questions")
    p.add_argument("--save", metavar="FILE", help="save the session to FILE after every answer (JSON)")
    p.add_argument("--resume", metavar="FILE", help="go on with a session saved by --save (and keep saving to it)")
    p.set_defaults(func=_cmd_ask)
