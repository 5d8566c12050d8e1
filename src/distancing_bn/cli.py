"""The ``distancing-bn`` command line: thin wrappers over the Python API.

Exit codes: 0 ok; 1 a batch finished but some rows were marked; 2 a bad model, evidence, data
or usage, or a file that cannot be opened, read or written. Errors of the package are printed
as ``error: <Type>: <message>`` on stderr, and so is an ``OSError`` naming a file (as a
``DataError``: a missing, unreadable or full file is bad input, not a bug); any other exception
is a bug and keeps its traceback. SIGTERM and SIGHUP end a ``score`` run like Ctrl-C (exit
128 + the signal's number) after removing its temporary file. Heavy modules are imported inside the commands so
that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_MARKED, EXIT_ERROR = 0, 1, 2

# The library's messages give advice in Python terms (``targets=[...]``, ``strict=False``); on
# the command line the same advice names the options. Each pattern is a phrase a library
# message ends with, and its replacement the command line's words for it.
_CLI_WORDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"load_network\(path, targets=\[\.\.\.\]\)"),
        "give them with --target NAME (repeat it for several targets)",
    ),
    (re.compile(r"or pass id_columns / strict=False"), "name the columns to keep with --id-col, or drop --strict"),
    (re.compile(r"leave them out with id_columns"), "leave them out by naming the columns to keep with --id-col"),
    (re.compile(r"sep='[^']*' \((--sep '[^']*')\)"), r"\1"),
    (re.compile(r"sep= \(--sep\)"), "--sep"),
    (re.compile(r"\(mapping=, --mapping\)"), "(--mapping)"),
    (
        re.compile(r"StopRule needs 0 <= decided_low <= decided_high <= 1, got (\S+) and (\S+)"),
        r"--decided-low must be at most --decided-high, got \1 and \2",
    ),
    (
        re.compile(r"or raise memory_budget \(bytes; None for no limit\)"),
        "or load it in Python with a larger memory_budget (the command line keeps the default budget)",
    ),
)


def for_cli(message: str) -> str:
    """Return a library message with its Python advice in the command line's words (options)."""
    for pattern, words in _CLI_WORDING:
        message = pattern.sub(words, message)
    return message


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        metavar="MODEL",
        help="a .yaml model or .bif/.xmlbif/.xdsl network (default: the bundled model)",
    )
    p.add_argument(
        "--target",
        action="append",
        dest="targets",
        metavar="NAME",
        help="target variable of a network file (repeat for several)",
    )
    _network_role_args(p)


def _present_arg(text: str) -> tuple[str, list[str]]:
    """``NAME=STATE[,STATE...]`` -> (name, states), for ``--present``."""
    name, sep, states = text.partition("=")
    chosen = [s.strip() for s in states.split(",") if s.strip()]
    if not sep or not name.strip() or not chosen:
        raise argparse.ArgumentTypeError(f"expected NAME=STATE[,STATE...], got {text[:40]!r}")
    return name.strip(), chosen


def _network_role_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--observable",
        action="append",
        dest="observables",
        metavar="NAME",
        help="question (observable variable) of a network file (repeat; default: the file's, else every non-target)",
    )
    p.add_argument(
        "--present",
        action="append",
        dest="present",
        type=_present_arg,
        metavar="NAME=STATE[,STATE...]",
        help="the state(s) of a network variable that count as present (repeat for several variables)",
    )


def _load(args: argparse.Namespace) -> Any:
    from .formats import load_model

    present = dict(getattr(args, "present", None) or []) or None
    return load_model(args.model, targets=args.targets, observables=getattr(args, "observables", None), present=present)


def _cmd_validate(args: argparse.Namespace) -> int:
    from .errors import ModelValidationError
    from .formats import default_model_path

    path = args.model or str(default_model_path())
    try:
        model = _load(args)
    except ModelValidationError as exc:
        for problem in exc.problems:
            print(for_cli(str(problem)), file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return EXIT_ERROR
    groups = list(getattr(model, "groups", {}).values())
    grids = sum(1 for g in groups if g.kind == "grid")
    parts = [_count(len(groups) - grids, "checklist"), _count(grids, "rating grid")]
    extra = "".join(f", {p}" for p in parts if p)
    print(
        f"{path}: ok ({len(model.causes)} causes, {len(model.facets)} facets, {len(model.questions)} questions{extra})"
    )
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    """``'3 checklists'``, ``'1 rating grid'``; empty for none."""
    return f"{n} {noun}{'s' if n != 1 else ''}" if n else ""


def _rounded(value: Any) -> Any:
    """``value`` with every float to 12 significant digits (0.26899999999999996 -> 0.269)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _with_labels(model: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Add each question's ``label`` and ``answer_labels`` (answer -> the words a person sees)."""
    from ._table import question_label

    spec = model.spec
    for q in info["questions"]:
        q.setdefault("label", question_label(model, q["id"]))
        shown = spec.question(q["id"]).display if spec is not None else str
        q.setdefault("answer_labels", {a: shown(a) for a in q["answers"]})
    return info


def _cmd_info(args: argparse.Namespace) -> int:
    model = _load(args)
    info = _with_labels(model, model.info())
    if args.json:
        json.dump(_rounded(info), sys.stdout, indent=2, ensure_ascii=False)
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
    groups = list(getattr(model, "groups", {}).values())
    if groups:
        print(f"\nQuestion groups, each asked as one screen ({len(groups)}):")
        for g in groups:
            kind = "rating grid" if g.is_grid else "checklist"
            screen = f", screen {g.screen}" if g.screen is not None else ""
            print(f"  {g.id:<28} {kind}, {len(g.items)} items{screen}  {g.label}")
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


def _cmd_score(args: argparse.Namespace) -> int:
    from .batch import score_csv

    model = _load(args)
    fmt = args.format
    if fmt == "auto":
        fmt = "table" if args.output == "-" and sys.stdout.isatty() else "csv"
    if fmt == "table" and args.output != "-":
        print("error: --format table writes to the terminal; drop -o or use --format csv", file=sys.stderr)
        return EXIT_ERROR
    kwargs = {
        "mapping": args.mapping,
        "id_columns": args.id_cols,
        "next_question": not args.no_next_question,
        "errors": args.errors,
        "facets": args.facets,
        "strict": args.strict,
        "chunk_size": args.chunk_size,
        "workers": args.workers,
        "sep": _sep(args.sep),
        "raw_cells": args.raw_cells,
    }
    if fmt == "table":
        import io

        import pandas as pd

        buf = io.StringIO()
        old, sys.stdout = sys.stdout, buf
        try:
            summary = score_csv(args.src, "-", model, progress=False, **kwargs)
        finally:
            sys.stdout = old
        frame = pd.read_csv(io.StringIO(buf.getvalue()), dtype=str, keep_default_na=False)
        from ._table import URGENT_KINDS, notice_titles, render_score_table, wrap_paragraphs

        print(render_score_table(model, frame))
        kinds = notice_titles(model)
        raised = {x for cell in frame.get("notices", pd.Series(dtype=str)) for x in str(cell).split()}
        after = [f"{summary.rows} rows: {summary.ok} ok, {summary.marked} marked."]
        if any(kinds.get(x, ("", ""))[1] in URGENT_KINDS for x in raised):
            after.append(
                "Rows marked '!' raise an urgent notice (signs of control, threats, fear or crisis): for "
                "those people, safety and outside support come before any relationship advice."
            )
        after.append(model.disclaimer)
        print()
        print(wrap_paragraphs(after))
    else:
        summary = score_csv(args.src, args.output, model, progress=False if args.quiet else None, **kwargs)
        if args.output != "-" and not args.quiet:
            print(
                f"scored {summary.rows} rows ({summary.ok} ok, {summary.marked} marked) -> {summary.output}",
                file=sys.stderr,
            )
    return EXIT_OK if summary.all_ok else EXIT_MARKED


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


MAX_SIMULATED_CASES = 1_000_000  # each case keeps its answers and gains: about 3 KB for the default model


def _case_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_SIMULATED_CASES:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SIMULATED_CASES:,} cases, got {value:,}")
    return value


def _sep(text: str | None) -> str | None:
    return None if text is None else {"tab": "\t", "\\t": "\t"}.get(text, text)


def _score_args(p: argparse.ArgumentParser, *, output: bool) -> None:
    p.add_argument("src", metavar="SRC", help="CSV file of answers ('-' for stdin)")
    if output:
        p.add_argument("-o", "--output", metavar="DST", default="-", help="output CSV ('-' for stdout, the default)")
    p.add_argument("--model", dest="model", default=None, metavar="PATH", help="model file (default: bundled)")
    p.add_argument("--target", action="append", dest="targets", metavar="NAME", help="target of a network file")
    _network_role_args(p)
    p.add_argument("--mapping", metavar="PATH", help="survey mapping YAML (see docs/mapping-format.md)")
    p.add_argument("--id-col", action="append", dest="id_cols", metavar="NAME", help="id column to keep (repeat)")
    p.add_argument("--facets", action="store_true", help="also output p_<facet> columns")
    p.add_argument("--no-next-question", action="store_true", help="skip the next-question columns")
    p.add_argument("--strict", action="store_true", help="refuse unknown columns")
    p.add_argument("--errors", choices=("mark", "raise"), default="mark", help="invalid cells: mark the row or stop")
    p.add_argument(
        "--chunk-size", type=_positive_int, default=50_000, metavar="N", help="rows read at a time (default 50000)"
    )
    p.add_argument("--sep", metavar="S", help="delimiter: one character, or 'tab' (default: detected among , ; tab)")
    p.add_argument(
        "--raw-cells",
        action="store_true",
        help="write id and text cells exactly as read, even those a spreadsheet would run as formulas",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="threads (default: CPUs, at most 4)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    p.add_argument(
        "--format",
        choices=("auto", "csv", "table"),
        default="auto",
        help="stdout format: a readable table on a terminal, CSV otherwise (default: auto)",
    )


def _cmd_simulate(args: argparse.Namespace) -> int:
    model = _load(args)
    if args.curves:
        crit = args.criteria[0]
        result = model.simulate(args.cases, seed=args.seed, max_questions=args.max_questions, criterion=crit)
        print(result.summary(every=args.every))
        print(_counted_cases(model, args.cases, args.seed, premise=False))
        return EXIT_OK
    from .information import StopRule
    from .interviews import simulate_interviews

    try:
        rule = StopRule(
            min_gain_bits=args.min_gain,
            decided_low=args.decided_low,
            decided_high=args.decided_high,
            max_questions=args.max_questions,
        )
    except ValueError as exc:
        print(f"error: {for_cli(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    report = simulate_interviews(
        model,
        args.cases,
        seed=args.seed,
        criteria=args.criteria,
        unsure_rate=args.unsure_rate,
        stop=rule,
        costs=not args.no_costs,
    )
    print(report.summary())
    print(_counted_cases(model, args.cases, args.seed, premise=True))
    return EXIT_OK


def _counted_cases(model: Any, n: int, seed: int, *, premise: bool) -> str:
    """Which simulated cases the accuracies count, and why fewer than all when so.

    The cases are drawn again with the simulation's seed (the same draw, given the model's
    premise, as both simulations draw them): top-cause accuracy counts only the cases in which
    at least one cause is present (with none, no top cause can be right). ``premise`` selects
    the interview wording (it also counts the single-cause cases).
    """
    import numpy as np

    from .simulate import sample_cases

    truth = sample_cases(model, n, seed=seed)
    count = np.zeros(n, dtype=int)
    for cause in model.causes:
        count += np.isin(truth[cause], model._info[cause].counted_states)
    with_cause, single = int((count > 0).sum()), int((count == 1).sum())
    if with_cause == n:
        said = f"Top-cause accuracy counts all {n:,} cases: each has at least one cause present."
    else:
        said = (
            f"Top-cause accuracy counts the {with_cause:,} of {n:,} cases that have at least one cause present: "
            f"in the other {n - with_cause:,} the draw gave no cause, so no top cause can be right."
        )
    if premise:
        return said + f" 'Cases with one cause' counts the {single:,} with exactly one."
    return said + f" The Brier score counts all {n:,}."


def _criteria(text: str) -> list[str]:
    from .information import CRITERIA

    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in CRITERIA]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(CRITERIA)}, got {text[:40]!r}")
    return items


def _number(text: str, ok: Any, expected: str) -> float:
    """Parse an argparse float; refuse it (and NaN or text) unless ``ok(value)``."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}")
    return value


def _rate(text: str) -> float:
    return _number(text, lambda x: 0 <= x < 1, "a number from 0 up to (not including) 1")


def _probability(text: str) -> float:
    return _number(text, lambda x: 0 <= x <= 1, "a number from 0 to 1")


def _bits(text: str) -> float:
    return _number(text, lambda x: 0 <= x < float("inf"), "a number >= 0")


def _add_score_commands(sub: Any) -> None:
    p = sub.add_parser("score", help="score a CSV of answers: probabilities, top cause, next question, status")
    _score_args(p, output=True)
    p.set_defaults(func=_cmd_score)
    from ._ask import non_negative_int

    p = sub.add_parser(
        "simulate",
        help="run the interview on cases sampled from the model: length, accuracy, notices shown",
        description=(
            "Sample cases from the model (given its premise) and interview each one as 'ask' would: screens "
            "first, then the best question or checklist, until the stop rule fires. Reports the questions "
            "asked, top-cause accuracy at the stop and with every question, and how often notices were shown."
        ),
    )
    _model_arg(p)
    p.add_argument(
        "--cases", type=_case_count, default=500, metavar="N", help="cases to simulate (1 to 1,000,000; default 500)"
    )
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="random seed (a whole number >= 0)")
    p.add_argument(
        "--criterion",
        "--criteria",
        dest="criteria",
        type=_criteria,
        default=["joint"],
        metavar="LIST",
        help="how the next question is chosen: joint, marginal or decision, or several separated by commas "
        "to compare them (default: joint)",
    )
    p.add_argument(
        "--unsure-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of questions answered 'unsure' (0 to below 1; default 0)",
    )
    p.add_argument(
        "--decided-low", type=_probability, default=0.1, metavar="P", help="a cause below P counts as ruled out (0.1)"
    )
    p.add_argument(
        "--decided-high", type=_probability, default=0.9, metavar="P", help="a cause above P counts as found (0.9)"
    )
    p.add_argument(
        "--min-gain", type=_bits, default=0.1, metavar="BITS", help="stop when no question gains this much (0.1)"
    )
    p.add_argument(
        "--max-questions", type=non_negative_int, default=None, metavar="K", help="stop after K questions (no limit)"
    )
    p.add_argument("--no-costs", action="store_true", help="rank by gain alone, not gain per unit of cost")
    p.add_argument(
        "--curves",
        action="store_true",
        help="instead: accuracy after each number of questions for the eig, random and fixed orders (no stop rule)",
    )
    p.add_argument("--every", type=_positive_int, default=5, metavar="K", help="with --curves: print every K questions")
    p.set_defaults(func=_cmd_simulate)


def _spread(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text[:40]!r}")
    return value


def _concentration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text[:40]!r}")
    return value


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from ._ask import load_answers
    from .errors import DataError
    from .sensitivity import question_stability, sensitivity

    model = _load(args)
    if model.spec is None:
        raise DataError("sensitivity needs a distancing-bn YAML model; network files carry no named parameters")
    answers = load_answers(args.answers) if args.answers else {}
    causes = list(model.causes)
    if args.cause is not None:
        if args.cause not in causes:
            raise DataError(f"unknown cause {args.cause[:40]!r}; causes: {', '.join(causes)}")
        causes = [args.cause]
    result = sensitivity(model, answers, spread=args.spread)
    stab = (
        None
        if args.samples == 0
        else question_stability(model, answers, concentration=args.concentration, samples=args.samples, seed=args.seed)
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = result.plot(causes[0], n=args.top)
        ax.figure.savefig(args.plot, dpi=120)
    if args.json:
        out: dict[str, Any] = {
            "spread": args.spread,
            "causes": {
                c: result.top(c, args.top).drop(columns=["cause", "label"]).to_dict(orient="records") for c in causes
            },
        }
        if stab is not None:
            out["next_question"] = {
                "chosen": stab.chosen,
                "p_first": stab.p_first,
                "p_top3": stab.p_top3,
                "samples": stab.samples,
                "concentration": stab.concentration,
                "firsts": stab.firsts,
            }
        json.dump(out, sys.stdout, indent=2)
        print()
        return EXIT_OK
    print(f"{len(answers)} answer(s); each number moves across its value ± {args.spread:g} (cut to valid values).")
    for c in causes:
        top = result.top(c, args.top)
        print(f"\n{model.label(c)}: P(present) = {top['posterior'].iloc[0]:.3f}")
        print(f"  {'parameter':<58} {'value':>6} {'d P/d value':>12} {'P at low':>9} {'P at high':>9}")
        for _, r in top.iterrows():
            print(
                f"  {str(r['parameter'])[:58]:<58} {r['value']:6.3f} {r['derivative']:12.4f} "
                f"{r['p_low']:9.3f} {r['p_high']:9.3f}"
            )
    if stab is not None:
        print("\n" + stab.summary())
    if args.plot:
        print(f"\nwrote {args.plot}")
    print(model.disclaimer)
    return EXIT_OK


def _add_sensitivity_command(sub: Any) -> None:
    from ._ask import non_negative_int

    p = sub.add_parser("sensitivity", help="which numbers move each cause most, and how stable the next question is")
    _model_arg(p)
    p.add_argument("--answers", metavar="FILE.json", help="answers as a JSON object (default: no answers)")
    p.add_argument("--cause", metavar="ID", help="report only this cause")
    p.add_argument("--top", type=_positive_int, default=8, metavar="N", help="parameters per cause (default 8)")
    p.add_argument("--spread", type=_spread, default=0.1, metavar="S", help="move each number by ± S (default 0.1)")
    p.add_argument(
        "--samples",
        type=non_negative_int,
        default=200,
        metavar="N",
        help="resampled models for the next-question stability (0: skip; default 200)",
    )
    p.add_argument(
        "--concentration", type=_concentration, default=50.0, metavar="C", help="Beta concentration (default 50)"
    )
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="random seed")
    p.add_argument("--plot", metavar="FILE.png", help="write a tornado plot of the first cause reported")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_sensitivity)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .server import Limits, create_app
    except ImportError as exc:
        print(
            f"error: serve needs FastAPI and uvicorn ({exc.name} is missing); "
            "install them with: pip install 'distancing-bn[serve]'",
            file=sys.stderr,
        )
        return EXIT_ERROR
    model = _load(args)
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"warning: listening on {args.host}, not only this computer: anyone who can reach it can use the "
            "questionnaire; there is no login and no TLS (put a proxy with HTTPS in front)",
            file=sys.stderr,
        )
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"error: cannot listen on {args.host} port {args.port}: {problem}", file=sys.stderr)
        return EXIT_ERROR
    app = create_app(model, limits=Limits(rate_limit=args.rate_limit))
    from uvicorn.config import LOGGING_CONFIG

    config = json.loads(json.dumps(LOGGING_CONFIG))
    level = "WARNING" if args.quiet else "INFO"
    config["loggers"]["distancing_bn.server"] = {"handlers": ["default"], "level": level, "propagate": False}
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {model.title} at http://{shown}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,  # uvicorn's access log prints query strings; the app logs routes only
        log_config=config,
        server_header=False,
        log_level=level.lower(),
    )
    return EXIT_OK


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, no such address), or None."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{exc.strerror or 'unknown address'} (give an address such as 127.0.0.1 or 0.0.0.0)"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            fix = "; choose another --port" if exc.errno == errno.EADDRINUSE else ""
            return f"{exc.strerror or type(exc).__name__}{fix}"
    return None


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def _add_serve_command(sub: Any) -> None:
    from ._ask import non_negative_int

    p = sub.add_parser(
        "serve",
        help="run the browser questionnaire and the JSON HTTP API (needs the 'serve' extra)",
        description="Serve the questionnaire page at / and the JSON API at /v1 (see docs/http-api.md). "
        "Nothing answered is stored or logged.",
    )
    _model_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--rate-limit",
        type=non_negative_int,
        default=300,
        metavar="N",
        help="requests per minute per client address (default 300; 0: no limit)",
    )
    p.add_argument("--quiet", action="store_true", help="log warnings and errors only (no access log)")
    p.set_defaults(func=_cmd_serve)


def _extra_commands() -> list[Any]:
    from ._ask import add_ask_command

    return [add_ask_command, _add_score_commands, _add_serve_command, _add_sensitivity_command]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    import warnings

    from .errors import DistancingBNError

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"warning: {for_cli(str(message))}", file=sys.stderr)

    warnings.showwarning = show
    try:
        return int(args.func(args))
    except DistancingBNError as exc:
        print(f"error: {type(exc).__name__}: {for_cli(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except OSError as exc:
        if exc.filename is None:  # not a file that cannot be opened, read or written: a bug
            raise
        from .csvio import file_error

        error = file_error(exc.filename, exc, "open")
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
