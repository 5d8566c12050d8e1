"""The interactive questionnaire behind ``distancing-bn ask`` (stdin/stdout, works when piped)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .model import Model
    from .session import Session

__all__ = ["add_ask_command", "report"]


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
            choice = line.strip().lower()
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
            if choice.isdigit() and 1 <= int(choice) <= len(answers):
                session.answer(q, answers[int(choice) - 1])
                break
            if choice in answers:
                session.answer(q, choice)
                break
            print(f"  please type a number from 1 to {len(answers)}, u, b or q", file=out)
        print(_top_line(session), file=out)


def _cmd_ask(args: argparse.Namespace) -> int:
    from .errors import DataError
    from .formats import load_model
    from .information import StopRule

    model = load_model(args.model, targets=args.targets)
    if args.answers:
        try:
            with open(args.answers, encoding="utf-8") as fh:
                answers = json.load(fh)
        except OSError as exc:
            raise DataError(f"{args.answers}: cannot read: {exc.strerror}", file=args.answers) from None
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{args.answers}:{exc.lineno}: not valid JSON: {exc.msg}", file=args.answers, line=exc.lineno
            ) from None
        if not isinstance(answers, dict):
            raise DataError(f"{args.answers}: expected a JSON object mapping question ids to answers")
        model.posterior(answers)  # validate before printing anything
        print(f"{model.title}\n{model.disclaimer}", file=sys.stdout)
        report(model, answers, sys.stdout)
        return 0
    session = model.session(stop=StopRule(max_questions=args.max_questions))
    _ask_loop(model, session, sys.stdin, sys.stdout)
    report(model, session.answers, sys.stdout)
    return 0


def add_ask_command(sub: Any) -> None:
    """Register ``ask`` on the CLI's subparsers."""
    p = sub.add_parser("ask", help="answer the most informative questions one at a time (interactive)")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL", help="model file (default: bundled)")
    p.add_argument("--target", action="append", dest="targets", metavar="NAME", help="target of a network file")
    p.add_argument("--answers", metavar="FILE.json", help="answers as a JSON object: report without asking")
    p.add_argument("--max-questions", type=int, default=None, metavar="N", help="ask at most N questions")
    p.set_defaults(func=_cmd_ask)
