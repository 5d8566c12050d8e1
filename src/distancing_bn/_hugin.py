"""Hugin ``.net`` files (the NET language of Hugin, also written by pyAgrum, GeNIe and SamIam).

A thin reader of our own: pgmpy 1.1.2's ``NETReader`` fails on the comments that pyAgrum
writes after each table row (``% tub=yes``), see ``tests/test_formats.py``. Only discrete
chance nodes with explicit ``data`` tables are read; decision and utility nodes (influence
diagrams), continuous nodes, object-oriented ``class`` files and tables given by expressions
(``model_nodes``/``model_data``) are refused with a message that says so.

A table ``potential (C | P1 P2) { data = ((...)...); }`` nests the first parent outermost and
the child innermost, which is our layout, so the numbers are read in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from ._netparts import EXTRAS_TAG, Parts, apply_extras, check_sizes, format_number, parse_number
from .errors import ModelError, ModelSyntaxError

__all__ = ["dump", "parse", "unwritable"]

_TOKEN = re.compile(r'\s+|%[^\n]*|"(?:[^"\\\n]|\\.)*"|[(){}=;|,]|[^\s(){}=;|,"%]+')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Tokens:
    """The tokens of a NET file, with their line numbers, skipping blanks and ``%`` comments."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.items: list[tuple[str, int]] = []
        line = 1
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:  # an unterminated string
                raise ModelSyntaxError("a string is not closed with '\"'", file=path, line=line)
            tok = m.group(0)
            if not tok[0].isspace() and tok[0] != "%":
                self.items.append((tok, line))
            line += tok.count("\n")
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None

    @property
    def line(self) -> int | None:
        if self.i < len(self.items):
            return self.items[self.i][1]
        return self.items[-1][1] if self.items else None

    def next(self, what: str) -> str:
        if self.i >= len(self.items):
            raise ModelSyntaxError(f"the file ends where {what} was expected: it looks cut short", file=self.path)
        tok = self.items[self.i][0]
        self.i += 1
        return tok

    def expect(self, want: str) -> None:
        line = self.line
        got = self.next(f"'{want}'")
        if got != want:
            raise ModelSyntaxError(f"expected '{want}', got {_short(got)!r}", file=self.path, line=line)


def _short(tok: str) -> str:
    return tok if len(tok) <= 40 else tok[:39] + "…"


def _unquote(tok: str) -> str:
    return re.sub(r"\\(.)", r"\1", tok[1:-1]) if tok.startswith('"') else tok


_MAX_DEPTH = 64  # nested lists: one level per parent and one for the child (MAX_TABLE_CELLS allows 20)


def _value(toks: _Tokens, depth: int = 0) -> object:
    """A value: a string, a word or number, or a parenthesised list of values."""
    line = toks.line
    tok = toks.next("a value")
    if tok == "(" and depth >= _MAX_DEPTH:
        raise ModelSyntaxError(f"lists are nested more than {_MAX_DEPTH} deep", file=toks.path, line=line)
    if tok == "(":
        items: list[object] = []
        while toks.peek() != ")":
            if toks.peek() is None:
                toks.next("')'")
            if toks.peek() == ",":
                toks.next(",")
                continue
            items.append(_value(toks, depth + 1))
        toks.next(")")
        return items
    return tok


def _attributes(toks: _Tokens) -> dict[str, tuple[object, int | None]]:
    """``{ name = value; ... }`` as name -> (value, line)."""
    toks.expect("{")
    out: dict[str, tuple[object, int | None]] = {}
    while toks.peek() != "}":
        line = toks.line
        key = toks.next("an attribute or '}'")
        toks.expect("=")
        out[key] = (_value(toks), line)
        toks.expect(";")
    toks.next("}")
    return out


def _flatten(value: object) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield str(value)


def parse(text: str, path: str, name: str) -> Parts:
    """Read the text of a Hugin NET file."""
    toks = _Tokens(text, path)
    parts = Parts(name=name)
    tables: list[tuple[str, tuple[str, ...], object, int | None]] = []
    while (tok := toks.peek()) is not None:
        line = toks.line
        toks.next("a block")
        if tok == "net":
            _attributes(toks)
        elif tok in ("node", "discrete"):
            if tok == "discrete":
                toks.expect("node")
            var = toks.next("a node name")
            attrs = _attributes(toks)
            if "states" not in attrs:
                raise ModelSyntaxError(f"node {_short(var)!r} has no 'states = (...)'", file=path, line=line)
            raw = attrs["states"][0]
            states = tuple(_unquote(s) for s in (raw if isinstance(raw, list) else [raw]) if isinstance(s, str))
            if var in parts.states:
                raise ModelSyntaxError(f"node {_short(var)!r} is declared twice", file=path, line=line)
            parts.states[var] = states
            if "label" in attrs and isinstance(attrs["label"][0], str):
                label = _unquote(attrs["label"][0]).strip()
                if label and label != var:
                    parts.texts[var] = label
        elif tok in ("continuous", "decision", "utility", "function", "class"):
            kind = {"class": "object-oriented classes", "continuous": "continuous nodes"}.get(
                tok, "decision and utility nodes (influence diagrams)"
            )
            raise ModelSyntaxError(
                f"this NET file has {kind}: only discrete chance nodes can be read", file=path, line=line
            )
        elif tok == "potential":
            toks.expect("(")
            names: list[str] = []
            given: list[str] = []
            into = names
            while toks.peek() != ")":
                item = toks.next("a node name or ')'")
                if item == "|":
                    into = given
                elif item != ",":
                    into.append(item)
            toks.next(")")
            attrs = _attributes(toks) if toks.peek() == "{" else {}
            if len(names) != 1:
                raise ModelSyntaxError(
                    f"a potential must be for one node (got {len(names)}): joint potentials are not read",
                    file=path,
                    line=line,
                )
            if "data" not in attrs:
                how = "given by an expression (model_data)" if "model_data" in attrs else "missing"
                raise ModelSyntaxError(
                    f"the table of {_short(names[0])!r} is {how}: give its numbers as 'data = (...)'",
                    file=path,
                    line=line,
                )
            tables.append((names[0], tuple(given), attrs["data"][0], line))
        else:
            raise ModelSyntaxError(
                f"expected 'net', 'node' or 'potential', got {_short(tok)!r}: not a Hugin NET file",
                file=path,
                line=line,
            )
    for var, given, data, line in tables:
        for v in (var, *given):
            if v not in parts.states:
                raise ModelSyntaxError(f"the table names {_short(v)!r}, which is not a node", file=path, line=line)
        if var in parts.cpts:
            raise ModelSyntaxError(f"node {_short(var)!r} has two tables", file=path, line=line)
        shape = (*tuple(len(parts.states[p]) for p in given), len(parts.states[var]))
        check_sizes(var, shape[-1], int(np.prod(shape, dtype=object)), path, line)
        numbers = [parse_number(t, f"the table of {_short(var)!r}", path, line) for t in _flatten(data)]
        if len(numbers) != int(np.prod(shape)):
            raise ModelSyntaxError(
                f"the table of {_short(var)!r} has {len(numbers)} numbers; expected {int(np.prod(shape))} "
                f"({' x '.join(map(str, shape))}: parents {', '.join(given) or '(none)'}, then its states)",
                file=path,
                line=line,
            )
        parts.parents[var] = given
        parts.cpts[var] = np.array(numbers, dtype=np.float64).reshape(shape)
        parts.lines[var] = line or 0
    for var in parts.states:
        parts.parents.setdefault(var, ())
    if found := re.search(rf"^%\s*{re.escape(EXTRAS_TAG)}(.*)$", text, re.MULTILINE):
        apply_extras(parts, found.group(1), path, text.count("\n", 0, found.start()) + 1)
    return parts


def unwritable(variables: list[str], states: dict[str, tuple[str, ...]]) -> str | None:
    """Return why these names cannot be written as NET so that they read back, or None."""
    for v in variables:
        if not _IDENT.fullmatch(v):
            return f"variable {v[:40]!r}: NET node names need letters, digits and '_', not starting with a digit"
        for s in states[v]:
            if not s or re.search(r'["\\\x00-\x1f\x7f]', s) or s != s.strip():
                return (
                    f"state {s[:40]!r} of {v[:40]!r}: NET state names need no quotes, backslashes or control characters"
                )
    return None


def _nested(arr: np.ndarray, indent: str) -> str:
    if arr.ndim == 1:
        return "(" + " ".join(format_number(x) for x in arr) + ")"
    inner = indent + " "
    return "(" + ("\n" + inner).join(_nested(sub, inner) for sub in arr) + ")"


def dump(
    variables: list[str],
    states: dict[str, tuple[str, ...]],
    parents: dict[str, tuple[str, ...]],
    cpts: dict[str, np.ndarray],
    texts: dict[str, str],
    extras: str | None = None,
) -> str:
    """Return a Hugin NET file of these variables (names checked with :func:`unwritable` first).

    A text is written as the node's ``label`` where NET can hold it (no quotes, backslashes or
    line breaks); ``extras`` (see :func:`_netparts.extras_json`) goes into a last comment line.
    """
    if why := unwritable(variables, states):
        raise ModelError(f"cannot write as NET: {why}")
    out = ["net", "{", "}", ""]
    for v in variables:
        out += [f"node {v}", "{", "    states = (" + " ".join(f'"{s}"' for s in states[v]) + ");"]
        if v in texts and not re.search(r'["\\\x00-\x1f\x7f]', texts[v]):
            out.append(f'    label = "{texts[v]}";')
        out += ["}", ""]
    for v in variables:
        given = f" | {' '.join(parents[v])}" if parents[v] else ""
        out += [f"potential ({v}{given})", "{", "    data = " + _nested(cpts[v], " " * 11) + ";", "}", ""]
    if extras:
        out.append(f"% {EXTRAS_TAG}{extras}")
    return "\n".join(out) + "\n"
