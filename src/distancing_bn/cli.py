"""The ``distancing-bn`` command line: thin wrappers over the Python API.

Exit codes: 0 ok; 1 a batch finished but some rows were marked; 2 a bad model, evidence, data
or usage. Errors of the package are printed as ``error: <Type>: <message>`` on stderr; any other
exception is a bug and keeps its traceback. Heavy modules are imported inside the commands so
that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_MARKED, EXIT_ERROR = 0, 1, 2


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="a .yaml model or .bif/.xmlbif/.xdsl network (default: the bundled model)")
    p.add_argument("--target", action="append", dest="targets", metavar="NAME",
                   help="target variable of a network file (repeat for several)")


def _load(args: argparse.Namespace) -> Any:
    from .formats import load_model

    return load_model(args.model, targets=args.targets)


def _cmd_validate(args: argparse.Namespace) -> int:
    from .errors import ModelValidationError
    from .formats import default_model_path

    path = args.model or str(default_model_path())
    try:
        model = _load(args)
    except ModelValidationError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return EXIT_ERROR
    print(f"{path}: ok ({len(model.causes)} causes, {len(model.facets)} facets, {len(model.questions)} questions)")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    model = _load(args)
    info = model.info()
    if args.json:
        json.dump(info, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    print(f"{info['title']} ({info['id']})")
    print(f"\nCauses ({len(info['causes'])}), with marginal prior P(present):")
    for c in info["causes"]:
        print(f"  {c['id']:<28} {c['prior']:6.1%}  {c['label']}")
        for f in (f for f in info["facets"] if f.get("cause") == c["id"]):
            print(f"      - {f['id']:<24} {f['prior']:6.1%}  {f['label']}")
    if info["links"]:
        print(f"\nLinks between causes ({len(info['links'])}):")
        for lk in info["links"]:
            strength = f"  strength {lk['strength']:.2f}" if "strength" in lk else ""
            print(f"  {lk['from']} -> {lk['to']}{strength}")
    print(f"\nQuestions ({len(info['questions'])}):")
    for q in info["questions"]:
        print(f"  {q['id']:<28} [{' / '.join(q['answers'])}]  {q['text']}")
    print(f"\n{info['disclaimer']}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    model = _load(args)
    model.save(args.to)
    print(f"wrote {args.to}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``distancing-bn``."""
    parser = argparse.ArgumentParser(
        prog="distancing-bn",
        description="Explainable Bayesian diagnosis of why a partner pulls away. "
                    "A reflective aid, not a clinical assessment.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check a model file; print every problem with file and line")
    _model_arg(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("info", help="describe a model: causes with priors, facets, questions, links")
    _model_arg(p)
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("export", help="write a model as .yaml, .bif, .xmlbif or .xdsl")
    _model_arg(p)
    p.add_argument("--to", required=True, metavar="FILE", help="output file; the format follows its suffix")
    p.set_defaults(func=_cmd_export)

    for extra in _extra_commands():
        extra(sub)
    return parser


def _extra_commands() -> list[Any]:
    from ._ask import add_ask_command

    return [add_ask_command]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    from .errors import DistancingBNError

    try:
        return int(args.func(args))
    except DistancingBNError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
