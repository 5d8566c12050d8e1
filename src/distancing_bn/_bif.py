"""BIF reader of our own: regular expressions for the structure, numpy for the numbers.

Reads the BIF written by bnlearn, pgmpy, pyAgrum, JavaBayes and GeNIe: a ``network`` block,
``variable`` blocks (``type discrete [ n ] { s1, s2 };`` and ``property`` lines) and
``probability`` blocks holding either ``table v1, v2, …;`` or one row per parent
configuration ``(a, b) v1, v2;`` plus an optional ``default v1, v2;``. Comments (``//``,
``/* */``) and quoted names are understood; commas between values are optional.

The semantics follow pgmpy's ``BIFReader`` where it is defined (it is the test oracle):

- ``table`` lists the child's states slowest (``(states, parent configurations)``, the last
  parent fastest);
- ``probability ( a b c )`` without ``|`` reads child ``a`` given ``b`` and ``c``;
- names in a probability block match the declared ones whatever their case;
- configurations not listed (and no ``default``) get zeros, which validation then reports.

Each block is checked with whole-block regular expressions and numpy (no Python loop per row
or per value); only when that check fails is the block walked statement by statement, to
name the line and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ._netparts import Parts
from .errors import ModelSyntaxError, ModelValidationError, Problem
from .spec import _LIMITS_DOC, MAX_STATES, MAX_TABLE_CELLS

__all__ = ["parse"]

_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?(?:\*/|\Z)', re.DOTALL)
_SPACE = re.compile(r"\s*")
_NAME = r'(?:"[^"\n]*"|[^\s{}()";,|]+)'
_NETWORK = re.compile(rf"network\s*(?P<name>{_NAME})?\s*\{{(?P<body>[^{{}}]*)\}}\s*;?")
_VARIABLE = re.compile(rf"variable\s+(?P<name>{_NAME})\s*\{{(?P<body>(?:[^{{}}]|\{{[^{{}}]*\}})*)\}}\s*;?")
_PROBABILITY = re.compile(r"probability\s*\((?P<head>[^()]*)\)\s*\{(?P<body>[^{}]*)\}\s*;?")
_KEYWORD = re.compile(r"(network|variable|probability)\b")
_PROPERTY = re.compile(r"(?:\A|(?<=;))\s*property\b[^;]*;")
_TYPE = re.compile(r"\s*type\s+(?P<kind>\w+)\s*\[\s*(?P<n>\d+)\s*\]\s*\{(?P<states>[^{}]*)\}\s*;")
_STATE = re.compile(r'"[^"]*"|[^\s,"]+')
_HEAD_TOKEN = re.compile(r'"[^"]*"|\||[^\s,|"]+')
_TABLE = re.compile(r"\s*table\b(?P<values>[^;()]*);\s*")
_DEFAULT = re.compile(r"(?:\A|(?<=;))\s*default\b(?P<values>[^;()]*);")
_WORD = r'(?:"[^"]*"|[^\s,;()"]+)'
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBERS = re.compile(rf"[\s,]*(?:{_NUMBER}(?:[\s,]+|\Z))*+")  # possessive: no backtracking stack per number
_NUMBER_ONLY = re.compile(_NUMBER)
_CONF = re.compile(r"\(([^()]*)\)")
_STATEMENT = re.compile(r"\s*(?:\((?P<conf>[^()]*)\)|(?P<kw>table|default)\b)(?P<values>[^;()]*)(?P<end>;)?")


@dataclass
class _Block:
    """A probability block as found: its header, body, and where they start in the text."""

    head: str
    body: str
    start: int
    body_start: int
    line: int


def parse(text: str, path: str, name: str) -> Parts:
    """Return the parts of a BIF network (``text`` decoded, line ends ``\\n``).

    Raises
    ------
    ModelSyntaxError
        The text is not BIF (with the line), a name is declared twice or unknown, a row names
        an unknown state or gives the wrong number of values, or a size limit is passed.
    ModelValidationError
        A declared variable has no probability block.
    """
    text = _without_comments(text, path)
    parts = Parts(name=name)
    declared_at: dict[str, int] = {}
    blocks: list[_Block] = []
    pos, line, counted = 0, 1, 0
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
        if pos >= len(text):
            break
        line += text.count("\n", counted, pos)
        counted = pos
        if m := _VARIABLE.match(text, pos):
            _variable(m, parts, declared_at, path, line)
        elif m := _PROBABILITY.match(text, pos):
            blocks.append(_Block(m["head"], m["body"], pos, m.start("body"), line))
        elif m := _NETWORK.match(text, pos):
            pass  # the network's name and properties: the file's stem names the network
        else:
            word = _KEYWORD.match(text, pos)
            found = text[pos : pos + 30].split("\n", 1)[0]
            what = f"a malformed '{word.group(1)}' block" if word else f"'{found}'"
            raise ModelSyntaxError(
                f"cannot read the BIF network: found {what}; expected a 'network', 'variable' or 'probability' block",
                file=path,
                line=line,
            )
        pos = m.end()
    if not parts.states:
        raise ModelSyntaxError("no variables found: not a BIF network", file=path)
    lowered = {v.lower(): v for v in reversed(list(parts.states))}
    for block in blocks:
        _probability(block, text, parts, lowered, path)
    missing = [v for v in parts.states if v not in parts.cpts]
    if missing:
        raise ModelValidationError(
            [
                Problem(
                    f"variable '{v}' is declared but its table is missing: add a 'probability ( {v} … )' block",
                    path,
                    declared_at[v],
                    v,
                )
                for v in missing
            ]
        )
    parts.parents = {v: parts.parents[v] for v in parts.states}
    parts.cpts = {v: parts.cpts[v] for v in parts.states}
    return parts


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _cut(name: str) -> str:
    return name if len(name) <= 38 else name[:37] + "…"


def _unquote(word: str) -> str:
    return word[1:-1].strip() if word.startswith('"') else word


def _without_comments(text: str, path: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside quoted names, keeping every line end."""
    if "/" not in text:
        return text

    def blank(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith('"'):
            return s
        if s.startswith("/*") and (len(s) < 4 or not s.endswith("*/")):
            raise ModelSyntaxError("a '/*' comment is never closed with '*/'", file=path, line=_line(text, m.start()))
        return " " + "\n" * s.count("\n")

    return _COMMENT.sub(blank, text)


def _variable(m: re.Match[str], parts: Parts, declared_at: dict[str, int], path: str, line: int) -> None:
    """Add one ``variable`` block's states to ``parts``."""
    name = _unquote(m["name"])
    if name in parts.states:
        raise ModelSyntaxError(
            f"variable '{_cut(name)}' is declared twice (first at line {declared_at[name]})", file=path, line=line
        )
    body = _PROPERTY.sub(" ", m["body"])
    decl = _TYPE.search(body)
    rest = body[: decl.start()] + body[decl.end() :] if decl else body
    if decl is None or rest.strip():
        raise ModelSyntaxError(
            f"variable '{_cut(name)}' needs exactly one 'type discrete [ n ] {{ s1, s2, … }};' "
            "(and optional 'property …;' lines)",
            file=path,
            line=line,
        )
    if decl["kind"] != "discrete":
        raise ModelSyntaxError(
            f"variable '{_cut(name)}' is of type '{decl['kind']}'; only 'discrete' variables can be read",
            file=path,
            line=line,
        )
    listed = decl["states"]
    words = [s.strip() for s in listed.split(",")] if "," in listed else _STATE.findall(listed)
    states = tuple(_unquote(s) for s in words if s)
    if len(states) > MAX_STATES:
        raise ModelSyntaxError(
            f"variable '{_cut(name)}' has {len(states):,} states, more than {MAX_STATES:,} (MAX_STATES; {_LIMITS_DOC})",
            file=path,
            line=line,
        )
    if len(states) != int(decl["n"]) or not states:
        raise ModelSyntaxError(
            f"variable '{_cut(name)}' declares {int(decl['n'])} states but lists {len(states)}", file=path, line=line
        )
    if len(set(states)) != len(states):
        twice = next(s for i, s in enumerate(states) if s in states[:i])
        raise ModelSyntaxError(f"variable '{_cut(name)}' lists state '{_cut(twice)}' twice", file=path, line=line)
    parts.states[name] = states
    declared_at[name] = line


def _resolve(word: str, lowered: dict[str, str], parts: Parts, path: str, line: int) -> str:
    name = _unquote(word)
    if name in parts.states:
        return name
    if (found := lowered.get(name.lower())) is not None:  # as pgmpy: names match whatever their case
        return found
    raise ModelSyntaxError(
        f"the probability block names '{_cut(name)}', which is not declared as a variable", file=path, line=line
    )


def _probability(block: _Block, text: str, parts: Parts, lowered: dict[str, str], path: str) -> None:
    """Add one ``probability`` block's parents and table to ``parts``."""
    line = block.line
    words = _HEAD_TOKEN.findall(block.head)
    if "|" in words:
        bar = words.index("|")
        child_words, parent_words = words[:bar], words[bar + 1 :]
    else:  # JavaBayes' older form, also read by pgmpy: 'child parent parent …'
        child_words, parent_words = words[:1], words[1:]
    if len(child_words) != 1 or "|" in parent_words:
        raise ModelSyntaxError(
            f"cannot read the header 'probability ({block.head.strip()})': expected 'probability ( child | a, b )'",
            file=path,
            line=line,
        )
    child = _resolve(child_words[0], lowered, parts, path, line)
    parents = tuple(_resolve(w, lowered, parts, path, line) for w in parent_words)
    if child in parts.cpts:
        raise ModelSyntaxError(
            f"the table of '{_cut(child)}' is given twice (first at line {parts.lines[child]})", file=path, line=line
        )
    if child in parents or len(set(parents)) != len(parents):
        raise ModelSyntaxError(
            f"the parents of '{_cut(child)}' repeat a name: {', '.join(parents)}", file=path, line=line
        )
    cards = tuple(len(parts.states[p]) for p in parents)
    card = len(parts.states[child])
    cells = card
    for c in cards:
        cells *= c
        if cells > MAX_TABLE_CELLS:
            raise ModelSyntaxError(
                f"the table of '{_cut(child)}' given its {len(parents)} parents has more than "
                f"{MAX_TABLE_CELLS:,} cells (MAX_TABLE_CELLS; {_LIMITS_DOC})",
                file=path,
                line=line,
            )
    body = block.body
    if "property" in body:
        body = _PROPERTY.sub(lambda m: " " + "\n" * m.group(0).count("\n"), body)
    table = _table(body, child, parents, cards, card, parts)
    if table is None:  # the quick reading failed: find the first wrong statement and say what it is
        _diagnose(body, text, block.body_start, child, parents, parts, path)
        raise ModelSyntaxError(f"cannot read the table of '{_cut(child)}'", file=path, line=line)
    parts.parents[child] = parents
    parts.cpts[child] = table
    parts.lines[child] = line


@lru_cache(maxsize=256)
def _rows_pattern(n_parents: int, card: int) -> re.Pattern[str]:
    """A body of rows ``(s1, s2) v1, v2;``, each with exactly ``n_parents`` states and ``card`` numbers."""
    states = rf"\s*{_WORD}(?:[\s,]+{_WORD}){{{n_parents - 1}}}\s*" if n_parents else r"\s*"
    values = rf"[\s,]*{_NUMBER}(?:[\s,]+{_NUMBER}){{{card - 1}}}[\s,]*"
    return re.compile(rf"(?:\s*\({states}\){values};)*+\s*")  # possessive: a stack per row cost 150 MiB on mildew


def _numbers(text: str, count: int) -> NDArray[np.float64] | None:
    """Exactly ``count`` numbers separated by commas or spaces, parsed in one call, else None."""
    if not _NUMBERS.fullmatch(text):
        return None
    values = np.fromstring(text.replace(",", " "), dtype=np.float64, sep=" ")  # the text is checked above
    return values if values.size == count else None


def _table(
    body: str, child: str, parents: tuple[str, ...], cards: tuple[int, ...], card: int, parts: Parts
) -> NDArray[np.float64] | None:
    """The block's table in our layout (parents' axes, then the child's), or None if it is not well formed."""
    configs = int(np.prod(cards, dtype=np.int64))
    shape = (*cards, card)
    if m := _TABLE.fullmatch(body):
        values = _numbers(m["values"], card * configs)
        if values is None:
            return None
        return np.ascontiguousarray(values.reshape(card, configs).T).reshape(shape)
    out = np.zeros((configs, card), dtype=np.float64)
    defaults = list(_DEFAULT.finditer(body)) if "default" in body else []  # a state may be named default
    if defaults:
        if len(defaults) != 1 or (given := _numbers(defaults[0]["values"], card)) is None:
            return None
        out[:] = given
        d = defaults[0]
        body = body[: d.start()] + " " * (d.end() - d.start()) + body[d.end() :]
    elif not body.strip():
        return None
    if not _rows_pattern(len(parents), card).fullmatch(body):
        return None
    confs = _CONF.findall(body)
    rows = len(confs)
    if rows == 0:
        return out.reshape(shape)
    values = np.fromstring(_CONF.sub(" ", body).replace(",", " ").replace(";", " "), dtype=np.float64, sep=" ")
    flat = np.zeros(rows, dtype=np.int64)
    if parents:
        conf = np.array(_STATE.findall(",".join(confs)), dtype=np.str_).reshape(rows, len(parents))
        if '"' in body:
            conf = np.char.strip(np.char.strip(conf, '"'))
        for j, (p, c) in enumerate(zip(parents, cards, strict=True)):  # one pass per parent, not per row
            known = np.array(parts.states[p], dtype=np.str_)
            order = np.argsort(known)
            index = order[np.minimum(np.searchsorted(known[order], conf[:, j]), c - 1)]
            if np.any(known[index] != conf[:, j]):
                return None
            flat = flat * c + index
    if np.unique(flat).size != rows:
        return None
    out[flat] = values.reshape(rows, card)
    return out.reshape(shape)


def _diagnose(
    body: str, text: str, body_start: int, child: str, parents: tuple[str, ...], parts: Parts, path: str
) -> None:
    """Walk a block that did not read statement by statement and raise at the first wrong one."""
    card = len(parts.states[child])
    configs = int(np.prod([len(parts.states[p]) for p in parents], dtype=np.int64))
    seen: dict[tuple[str, ...], int] = {}
    kinds: set[str] = set()
    pos = 0
    while (pos := _SPACE.match(body, pos).end()) < len(body):  # type: ignore[union-attr]
        line = _line(text, body_start + pos)
        m = _STATEMENT.match(body, pos)
        if m is None:
            raise ModelSyntaxError(
                f"in the table of '{_cut(child)}': found '{body[pos : pos + 20].split(chr(10))[0]}'; expected "
                "'(parent states) values;', 'table values;' or 'default values;'",
                file=path,
                line=line,
            )
        kind = m["kw"] or "row"
        what = f"the row ({m['conf'].strip()})" if kind == "row" else f"'{kind}'"
        if m["end"] is None:
            raise ModelSyntaxError(
                f"in the table of '{_cut(child)}': {what} does not end with ';'", file=path, line=line
            )
        if kind in kinds and kind != "row":
            raise ModelSyntaxError(f"the table of '{_cut(child)}' has a second '{kind}'", file=path, line=line)
        kinds.add(kind)
        if "table" in kinds and len(kinds) > 1:
            raise ModelSyntaxError(
                f"the table of '{_cut(child)}' mixes 'table' with rows or 'default'", file=path, line=line
            )
        if kind == "row":
            given = [_unquote(w) for w in _STATE.findall(m["conf"])]
            if len(given) != len(parents):
                raise ModelSyntaxError(
                    f"in the table of '{_cut(child)}': {what} gives {len(given)} parent state(s) for "
                    f"{len(parents)} parent(s) ({', '.join(parents) or 'none'})",
                    file=path,
                    line=line,
                )
            for p, s in zip(parents, given, strict=True):
                if s not in parts.states[p]:
                    valid = ", ".join(parts.states[p][:10]) + (", …" if len(parts.states[p]) > 10 else "")
                    raise ModelSyntaxError(
                        f"in the table of '{_cut(child)}': {what} names state '{_cut(s)}' of '{_cut(p)}', "
                        f"which has no such state; valid: {valid}",
                        file=path,
                        line=line,
                    )
            if tuple(given) in seen:
                raise ModelSyntaxError(
                    f"in the table of '{_cut(child)}': {what} is given twice (first at line {seen[tuple(given)]})",
                    file=path,
                    line=line,
                )
            seen[tuple(given)] = line
        words = m["values"].replace(",", " ").split()
        wanted = card * configs if kind == "table" else card
        if len(words) != wanted:
            raise ModelSyntaxError(
                f"in the table of '{_cut(child)}': {what} gives {len(words)} value(s); expected {wanted} "
                + (
                    f"({card} states × {configs} parent configurations)"
                    if kind == "table"
                    else f"(one per state of '{_cut(child)}')"
                ),
                file=path,
                line=line,
            )
        bad = next((w for w in words if not _NUMBER_ONLY.fullmatch(w)), None)
        if bad is not None:
            raise ModelSyntaxError(
                f"in the table of '{_cut(child)}': {what} gives '{_cut(bad)}', which is not a number",
                file=path,
                line=line,
            )
        pos = m.end()
    if not kinds:
        raise ModelSyntaxError(
            f"the probability block of '{_cut(child)}' gives no table", file=path, line=_line(text, body_start)
        )
