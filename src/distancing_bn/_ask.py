"""The interactive questionnaire behind ``distancing-bn ask`` (stdin/stdout, works when piped)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .model import Model
    from .session import Session

__all__ = ["add_ask_command", "load_answers", "non_negative_int", "report"]


def _display(model: Model, question: str, answer: str) -> str:
    if model.spec is not None:
        return model.spec.question(question).display(answer)
    return answer


def _top_line(session: Session, k: int = 3) -> str:
    top = session.posterior.top_causes(k)
    return "  Most likely so far: " + " · ".join(f"{session.model.label(c)} {p:.0%}" for c, p in top.items())


def report(model: Model, answers: dict[str, Any], out: TextIO) -> None:
    """Print the final table, the top cause's explanation, guidance, notices and the disclaimer."""
    from .guidance import guidance_for

    post = model.posterior(answers)
    print("\nWhat the answers suggest (probability now, before any answer):", file=out)
    frame = post.to_frame()
    frame = frame[frame["kind"].isin(["cause", "target"])].sort_values("posterior", ascending=False)
    width = max(len(x) for x in frame["label"])
    for row in frame.itertuples():
        bar = "#" * round(row.posterior * 20)
        print(f"  {row.label:<{width}}  {row.posterior:6.1%}  (was {row.prior:5.1%})  {bar}", file=out)
    top = frame["id"].iloc[0]
    if post.answers:
        sentences = post.explain(top).sentences(4)
        if sentences:
            print(f"\nWhy '{model.label(top)}' stands out:", file=out)
            for s in sentences:
                print(f"  - {s}", file=out)
    print("", file=out)
    guide = guidance_for(model, post)
    print(guide.summary(), file=out)


def _ask_loop(model: Model, session: Session, inp: TextIO, out: TextIO) -> None:
    from .errors import ImpossibleEvidenceError
    from .evidence import label_index

    print(f"{model.title}\n{model.disclaimer}\n", file=out)
    print("Answer with the number of an answer; u = unsure, b = back, q = quit.\n", file=out)
    while True:
        q = session.next_question()
        if q is None:
            print(f"\nStopping: {session.stop_reason}.", file=out)
            return
        answers = model.answers_of(q)
        print(f"Q{len(session.asked) + 1}. {model.question_text(q)}", file=out)
        for i, a in enumerate(answers, start=1):
            print(f"   {i}) {_display(model, q, a)}", file=out)
        while True:
            print("> ", end="", file=out, flush=True)
            line = inp.readline()
            if not line:  # end of input: stop asking, report what we have
                print("\n(end of input)", file=out)
                return
            text = line.strip()
            choice = text.lower()
            if choice == "q":
                return
            if choice == "u":
                session.answer(q, "unsure")
                break
            if choice == "b":
                if session.asked:
                    session.undo()
                else:
                    print("  nothing to go back to", file=out)
                break
            if choice.isascii() and choice.isdecimal() and 1 <= int(choice) <= len(answers):  # not '²' or '١'
                label: str | None = answers[int(choice) - 1]
            else:
                i = label_index(text, answers) if len(text) <= 100 else None
                label = None if i is None else answers[i]
            if label is None:
                print(f"  please type a number from 1 to {len(answers)}, u, b or q", file=out)
                continue
            session.answer(q, label)
            try:
                session.posterior  # noqa: B018 - checks the answers still have a probability
            except ImpossibleEvidenceError as exc:
                session.undo()
                others = [x for x in exc.conflict if x != q]
                if not others:
                    print("  the model gives that answer no chance at all; choose another", file=out)
                else:
                    which = (
                        f"your answer to: {model.question_text(others[0])}" if len(others) == 1 else "earlier answers"
                    )
                    print(f"  that answer cannot hold together with {which}; choose another, or b to go back", file=out)
                continue
            break
        print(_top_line(session), file=out)


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
    from .evidence import quote

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_ANSWERS_BYTES + 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}", file=path) from None
    if len(raw) > MAX_ANSWERS_BYTES:
        raise DataError(f"{path}: larger than {MAX_ANSWERS_BYTES >> 20} MiB; an answers file is a small JSON object")
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
        data = json.loads(
            text,
            object_pairs_hook=unique_keys,
            parse_int=number("int"),
            parse_float=number("float"),
            parse_constant=constant,
        )
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    except _JSONProblem as exc:
        raise DataError(f"{path}: not valid answers: {exc}", file=path) from None
    except RecursionError:
        raise DataError(f"{path}: not valid answers: nested too deeply", file=path) from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object mapping question ids to answers", file=path)
    return data


class _JSONProblem(Exception):
    """Raised inside the JSON parser's hooks; becomes a DataError."""


def _cmd_ask(args: argparse.Namespace) -> int:
    from .formats import load_model
    from .information import StopRule

    model = load_model(args.model, targets=args.targets)
    if args.answers:
        answers = load_answers(args.answers)
        model.posterior(answers)  # validate before printing anything
        print(f"{model.title}\n{model.disclaimer}", file=sys.stdout)
        report(model, answers, sys.stdout)
        return 0
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 are an invalid choice, not a crash
        sys.stdin.reconfigure(errors="replace")
    session = model.session(stop=StopRule(max_questions=args.max_questions))
    _ask_loop(model, session, sys.stdin, sys.stdout)
    report(model, session.answers, sys.stdout)
    return 0


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (ASCII digits only)."""
    value = text.strip()
    if not (value.isascii() and value.isdecimal()) or len(value) > 18:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text[:40]!r}")
    return int(value)


def add_ask_command(sub: Any) -> None:
    """Register ``ask`` on the CLI's subparsers."""
    p = sub.add_parser("ask", help="answer the most informative questions one at a time (interactive)")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL", help="model file (default: bundled)")
    p.add_argument("--target", action="append", dest="targets", metavar="NAME", help="target of a network file")
    p.add_argument("--answers", metavar="FILE.json", help="answers as a JSON object: report without asking")
    p.add_argument("--max-questions", type=non_negative_int, default=None, metavar="N", help="ask at most N questions")
    p.set_defaults(func=_cmd_ask)
