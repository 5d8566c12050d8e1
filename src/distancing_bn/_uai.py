"""UAI ``.uai`` files (the UAI 2008 evaluation format), Bayesian networks (``BAYES``) only.

A thin reader of our own: pgmpy 1.1.2's ``UAIReader`` lays the numbers of every table out
transposed (it reads P(tub=yes | asia=no) where the file has P(tub=no | asia=yes)), see
``tests/test_formats.py``. A table's numbers run over its scope with the last variable (the
child) changing fastest, which is our layout.

UAI has no names. Ours are kept in comments, which other readers skip: ``# name`` after each
scope line (as pyAgrum writes it) and one last line ``# distancing-bn names: {json}`` that
maps each variable to its states. Without them, variables are ``v0``, ``v1``… and states
``0``, ``1``….
"""

from __future__ import annotations

import json
import re

import numpy as np

from ._netparts import EXTRAS_TAG, Parts, apply_extras, check_sizes, format_number, parse_number
from .errors import ModelError, ModelSyntaxError

__all__ = ["NAMES_TAG", "dump", "parse"]

NAMES_TAG = "# distancing-bn names: "


def parse(text: str, path: str, name: str) -> Parts:
    """Read the text of a UAI file."""
    tokens: list[tuple[str, int]] = []
    comments: dict[int, str] = {}
    names_json: str | None = None
    extras: tuple[str, int] | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        body, _, comment = raw.partition("#")
        if raw.startswith(NAMES_TAG):
            names_json = raw[len(NAMES_TAG) :]
        elif raw.startswith("# " + EXTRAS_TAG):
            extras = (raw[len("# " + EXTRAS_TAG) :], n)
        elif comment.strip():
            comments[n] = comment.strip()
        tokens += [(t, n) for t in body.split()]
    pos = 0

    def take(what: str) -> tuple[str, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise ModelSyntaxError(f"the file ends where {what} was expected: it looks cut short", file=path)
        pos += 1
        return tokens[pos - 1]

    def integer(what: str, low: int = 0) -> tuple[int, int]:
        tok, line = take(what)
        if not re.fullmatch(r"\d+", tok) or int(tok) < low:
            raise ModelSyntaxError(f"{what}: expected a whole number >= {low}, got {tok[:40]!r}", file=path, line=line)
        return int(tok), line

    kind, line = take("'BAYES'")
    if kind.upper() != "BAYES":
        why = "a Markov network (undirected) is not a Bayesian network" if kind.upper() == "MARKOV" else "not UAI"
        raise ModelSyntaxError(f"the file starts with {kind[:40]!r}, not 'BAYES': {why}", file=path, line=line)
    n_vars, _ = integer("the number of variables")
    cards = [integer(f"the number of states of variable {i}", 1)[0] for i in range(n_vars)]
    for i, c in enumerate(cards):
        check_sizes(f"v{i}", c, c, path, None)
    n_funcs, line = integer("the number of tables")
    if n_funcs != n_vars:
        raise ModelSyntaxError(
            f"{n_funcs} tables for {n_vars} variables: a Bayesian network has one table per variable",
            file=path,
            line=line,
        )
    scopes: list[tuple[int, ...]] = []
    scope_lines: list[int] = []
    for f in range(n_funcs):
        size, line = integer(f"the scope size of table {f}", 1)
        scope = tuple(integer(f"a variable of table {f}")[0] for _ in range(size))
        if any(v >= n_vars for v in scope) or len(set(scope)) != len(scope):
            raise ModelSyntaxError(f"table {f} names an unknown or repeated variable", file=path, line=line)
        scopes.append(scope)
        scope_lines.append(line)
    children = [s[-1] for s in scopes]
    if sorted(children) != list(range(n_vars)):
        raise ModelSyntaxError("each variable must be the last of exactly one table's scope", file=path)
    var_names = [f"v{i}" for i in range(n_vars)]
    state_names = [tuple(str(j) for j in range(c)) for c in cards]
    from_comments = [comments.get(line, "") for line in scope_lines]
    by_child = {children[f]: from_comments[f] for f in range(n_funcs)}
    if all(re.fullmatch(r"\S+", by_child[i]) for i in range(n_vars)) and len(set(by_child.values())) == n_vars:
        var_names = [by_child[i] for i in range(n_vars)]
    if names_json is not None:
        try:
            named = json.loads(names_json)
            keys = list(named)
            if len(keys) == n_vars and all(len(named[k]) == cards[i] for i, k in enumerate(keys)):
                var_names = [str(k) for k in keys]
                state_names = [tuple(str(s) for s in named[k]) for k in keys]
        except (ValueError, TypeError):
            pass  # a damaged names line: keep the numbered names
    parts = Parts(name=name)
    for i in range(n_vars):
        parts.states[var_names[i]] = state_names[i]
    for f, scope in enumerate(scopes):
        shape = tuple(cards[v] for v in scope)
        child = var_names[scope[-1]]
        check_sizes(child, shape[-1], int(np.prod(shape, dtype=object)), path, scope_lines[f])
        count, line = integer(f"the number of entries of the table of {child[:40]!r}")
        want = int(np.prod(shape))
        if count != want:
            raise ModelSyntaxError(
                f"the table of {child[:40]!r} has {count} entries; its scope needs {want}", file=path, line=line
            )
        values = [parse_number(take("a number")[0], f"the table of {child[:40]!r}", path, line) for _ in range(want)]
        parts.parents[child] = tuple(var_names[v] for v in scope[:-1])
        parts.cpts[child] = np.array(values, dtype=np.float64).reshape(shape)
        parts.lines[child] = line
    if pos < len(tokens):
        raise ModelSyntaxError(
            f"unexpected {tokens[pos][0][:40]!r} after the last table", file=path, line=tokens[pos][1]
        )
    if extras is not None:
        apply_extras(parts, extras[0], path, extras[1])
    return parts


def dump(
    variables: list[str],
    states: dict[str, tuple[str, ...]],
    parents: dict[str, tuple[str, ...]],
    cpts: dict[str, np.ndarray],
    extras: str | None = None,
) -> str:
    """Return a UAI file of these variables, with their names (and ``extras``) in comments."""
    for v in variables:
        if "\n" in v or "\r" in v or any("\n" in s or "\r" in s for s in states[v]):
            raise ModelError(f"cannot write as UAI: the name of {v[:40]!r} or of a state has a line break")
    index = {v: i for i, v in enumerate(variables)}
    out = ["BAYES", str(len(variables)), " ".join(str(len(states[v])) for v in variables), str(len(variables))]
    for v in variables:
        scope = [index[p] for p in parents[v]] + [index[v]]
        comment = f"   # {v}" if re.fullmatch(r"\S+", v) else ""
        out.append(" ".join(map(str, [len(scope), *scope])) + comment)
    out.append("")
    for v in variables:
        arr = cpts[v]
        out.append(str(arr.size))
        for row in arr.reshape(-1, arr.shape[-1]):
            out.append(" " + " ".join(format_number(x) for x in row))
        out.append("")
    out.append(NAMES_TAG + json.dumps({v: list(states[v]) for v in variables}, ensure_ascii=True))
    if extras:
        out.append("# " + EXTRAS_TAG + extras)
    return "\n".join(out) + "\n"
