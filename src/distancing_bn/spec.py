"""Model-file schema: safe YAML loading, validation with file and line, frozen spec objects.

Imports only :mod:`distancing_bn.errors` (and PyYAML, numpy-free). Every problem found in a
file is collected and raised at once as :class:`~distancing_bn.errors.ModelValidationError`.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import math
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ._files import read_capped
from .errors import ModelSyntaxError, ModelValidationError, Problem

__all__ = [
    "FORMAT",
    "GROUP_KINDS",
    "MAX_GROUP_OUTCOMES",
    "MAX_GROUP_SIZE",
    "MAX_NETWORK_FILE_BYTES",
    "MAX_NUMBER_CHARS",
    "MAX_STATES",
    "MAX_TABLE_CELLS",
    "MAX_YAML_DEPTH",
    "MAX_YAML_FILE_BYTES",
    "MAX_YAML_NODES",
    "Cause",
    "CauseLink",
    "Facet",
    "Group",
    "Location",
    "ModelSpec",
    "Notice",
    "Question",
    "QuestionLink",
    "Table",
    "dump_spec",
    "load_spec",
    "parse_spec",
]

FORMAT = "distancing-bn/1"
UNSURE = "unsure"
CAUSE_STATES = ("absent", "present")
_ID = re.compile(r"[a-z][a-z0-9_]*")  # always used with fullmatch: "yes\n" is not an id
_SUM_TOL = 1e-9
NoticeKind = Literal["safety", "crisis", "professional_help"]
CauseKind = Literal["relationship", "safety"]
URGENT_NOTICE_KINDS = ("safety", "crisis")  # shown first; relationship tips are withheld


# ----------------------------------------------------------------------------- limits
# Every limit on a model, mapping or network file, in one place (docs/model-format.md, "Limits").
# Each is far above what real files need, and each refusal names the limit and the place.
MAX_YAML_FILE_BYTES = 8 * 2**20
"""Largest YAML model or mapping file read, in bytes (the default model has 75 KB)."""

MAX_NETWORK_FILE_BYTES = 64 * 2**20
"""Largest BIF, XMLBIF or XDSL file read, in bytes (``pathfinder.bif``, the largest tested, has 1.6 MB)."""

MAX_YAML_NODES = 200_000
"""Most YAML nodes in one file (each mapping, list, key and value counts one), where an alias
counts as the full copy it stands for (the default model has 3,402)."""

MAX_YAML_DEPTH = 50
"""Deepest nesting of mappings and lists in a YAML file, aliases expanded (the default model: 7)."""

MAX_NUMBER_CHARS = 100
"""Longest number in a YAML file, in characters (a probability needs at most about 20)."""

MAX_STATES = 1_000
"""Most answers of one question (states of one variable); ``pathfinder.bif`` has at most 63."""

MAX_TABLE_CELLS = 2**20
"""Most cells (parent configurations times answers) in one conditional table; an explicit
``table:`` with ``n`` parents has ``2**n`` rows. The largest table of the tested networks
(``pathfinder.bif``) has 8,064 cells."""

MAX_GROUP_SIZE = 10
"""Most rows (questions) in one checklist or rating grid."""

MAX_GROUP_OUTCOMES = 1024
"""Most joint answers of one group: the product of its items' answer counts (``2**k`` for a
checklist of k items, ``3**k`` for a grid of k three-level items). A group's exact gain
enumerates them all, so a checklist holds up to 10 items and a three-level grid up to 6."""

GROUP_KINDS = ("checklist", "grid")

_SHOW_CHARS = 40  # an echoed value from a file is repr'd and cut to this many characters


def _show(value: Any) -> str:
    """Return ``repr(value)`` cut to 40 characters (nested data shortened before it is built)."""
    text = _REPR.repr(value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 1] + "…"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 2, 4, 4, _SHOW_CHARS, _SHOW_CHARS


# ----------------------------------------------------------------------------- spec objects
@dataclass(frozen=True, slots=True)
class Location:
    """Where a node came from: file, 1-based line and key path."""

    file: str | None = None
    line: int | None = None
    key_path: str = ""

    def __str__(self) -> str:
        where = self.file or "<model>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where} {self.key_path}".rstrip()


_NOWHERE = Location()


def _loc() -> Any:
    return field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Notice:
    """A safety or professional-help notice raised by some answers."""

    id: str
    kind: NoticeKind
    title: str
    text: str
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class Facet:
    """A specific form of a cause: a latent binary child of that cause."""

    id: str
    cause: str
    label: str
    description: str
    p_present: float
    p_absent: float
    rationale: str
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class Cause:
    """A latent binary reason for the distance (a target of the diagnosis)."""

    id: str
    label: str
    description: str
    prior: float
    rationale: str
    guidance: tuple[str, ...]
    facets: tuple[Facet, ...] = ()
    kind: CauseKind = "relationship"
    notices: tuple[tuple[str, float], ...] = ()  # (notice id, posterior threshold)
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class CauseLink:
    """A noisy-OR link from one cause to another."""

    source: str
    target: str
    strength: float
    rationale: str
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class QuestionLink:
    """A noisy-OR / noisy-MAX link from a cause or facet to a question.

    ``strength[k]`` is the probability that this parent alone produces answer ``k + 1``
    (the first answer takes the rest).
    """

    parent: str
    strength: tuple[float, ...]
    rationale: str
    kind: Literal["cause", "facet"] = "cause"
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class Table:
    """An explicit conditional table: one probability row per parent configuration."""

    parents: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]  # parent configurations in row-major order
    rationale: str
    location: Location = _loc()


@dataclass(frozen=True, slots=True)
class Question:
    """An observable sign, asked as a question with ordered answers."""

    id: str
    text: str
    answers: tuple[str, ...]
    answer_labels: tuple[tuple[str, str], ...] = ()
    unsure: bool = True
    cost: float = 1.0
    leak: tuple[float, ...] | None = None
    leak_rationale: str = ""
    links: tuple[QuestionLink, ...] = ()
    table: Table | None = None
    notices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    label: str = ""
    theme: str = ""
    screen: int | None = None
    observed: str | None = None
    location: Location = _loc()

    def display(self, answer: str) -> str:
        """Return how ``answer`` is shown to a person."""
        return dict(self.answer_labels).get(answer, answer.replace("_", " "))

    @property
    def parents(self) -> tuple[str, ...]:
        """Return the ids of the causes and facets this question depends on."""
        return self.table.parents if self.table is not None else tuple(lk.parent for lk in self.links)


@dataclass(frozen=True, slots=True)
class Group:
    """Questions asked together as one screen: a checklist or a rating grid.

    A ``checklist`` holds yes/no questions ("pick any that apply"): each item's first answer
    means "no", a picked item takes its second answer. A ``grid`` holds questions that share
    one answer scale (any number of levels), one row per item; ``scale`` gives the column
    headings, one per answer in the items' order (empty: the first item's answer labels).
    """

    id: str
    text: str
    label: str
    items: tuple[str, ...]
    cost: float = 1.0
    screen: int | None = None
    theme: str = ""
    none_label: str = ""
    kind: str = "checklist"
    scale: tuple[str, ...] = ()
    location: Location = _loc()

    @property
    def is_grid(self) -> bool:
        """True for a rating grid (one row per item, one column per answer)."""
        return self.kind == "grid"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A validated model file."""

    id: str
    title: str
    description: str
    causes: tuple[Cause, ...]
    questions: tuple[Question, ...]
    links: tuple[CauseLink, ...] = ()
    notices: tuple[Notice, ...] = ()
    version: str = ""
    disclaimer: str = ""
    groups: tuple[Group, ...] = ()
    general_guidance: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)

    @property
    def facets(self) -> tuple[Facet, ...]:
        """Return every facet, in file order."""
        return tuple(f for c in self.causes for f in c.facets)

    def cause(self, cause_id: str) -> Cause:
        """Return the cause with this id."""
        return next(c for c in self.causes if c.id == cause_id)

    def question(self, question_id: str) -> Question:
        """Return the question with this id."""
        return next(q for q in self.questions if q.id == question_id)

    def notice(self, notice_id: str) -> Notice:
        """Return the notice with this id."""
        return next(n for n in self.notices if n.id == notice_id)

    def group(self, group_id: str) -> Group:
        """Return the checklist with this id."""
        return next(g for g in self.groups if g.id == group_id)


# ----------------------------------------------------------------------------- safe YAML with lines
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_LIMITS_DOC = "see docs/model-format.md, Limits"


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader where only ``true``/``false`` are booleans (``yes``/``no`` are text).

    It checks the nesting depth and the number of nodes while it composes, so that PyYAML's
    recursive composer never exhausts the stack or the memory on a hostile file.
    """

    def __init__(self, stream: str, file: str | None = None) -> None:
        super().__init__(stream)
        self.file = file
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):  # the anchored node, composed before: nothing new
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise _limit_error(
                f"the file has more than {MAX_YAML_NODES:,} YAML nodes (MAX_YAML_NODES)", self.file, mark
            )
        if self.depth >= MAX_YAML_DEPTH:
            raise _limit_error(_DEPTH_MESSAGE, self.file, mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), list("tTfF")
)
_DEPTH_MESSAGE = f"mappings and lists are nested more than {MAX_YAML_DEPTH} deep, aliases expanded (MAX_YAML_DEPTH)"


def _limit_error(message: str, file: str | None, mark: Any) -> ModelSyntaxError:
    return ModelSyntaxError(f"{message}; {_LIMITS_DOC}", file=file, line=mark.line + 1, column=mark.column + 1)


class _Doc:
    """Plain Python data from a YAML file plus the line of every key path."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []

    def line(self, path: str) -> int | None:
        """Return the line of ``path``, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            shorter = re.sub(r"(\.[^.\[]*|\[\d+\])\Z", "", path)
            path = shorter if shorter != path else ""
        return self.lines.get(path)

    def location(self, path: str) -> Location:
        return Location(self.file, self.line(path), path)

    def problem(self, path: str, message: str, *, line: int | None = None) -> None:
        self.problems.append(Problem(message, self.file, line or self.line(path), _cut_path(path)))


class _Builder:
    """Turn a composed YAML node graph into plain data, recording lines in a :class:`_Doc`.

    A node reached again through an alias is built once and shared (as ``yaml.safe_load``
    does), yet counts against :data:`MAX_YAML_NODES` and :data:`MAX_YAML_DEPTH` as the full copy
    it stands for, so that any code walking the data stays within those limits too. An alias
    inside its own anchor is refused. Recursion follows only nodes built for the first time, so
    it is as deep as the file's own nesting, which the loader bounds.
    """

    def __init__(self, doc: _Doc, loader: _SafeLoader) -> None:
        self.doc = doc
        self.loader = loader
        self.built: dict[int, tuple[Any, int, int]] = {}  # id(node) -> (value, expanded size, height)
        self.open: set[int] = set()  # ids of the collections being built
        self.expanded = 0

    def value(self, node: yaml.Node, path: str, depth: int = 0) -> tuple[Any, int]:
        """Return the data of ``node`` and its height (nesting below it, aliases expanded)."""
        key = id(node)
        if key in self.open:
            raise ModelSyntaxError(
                f"recursive alias at {_cut_path(path) or 'the top'}: it refers to the anchor that contains it "
                f"(line {node.start_mark.line + 1})",
                file=self.doc.file,
                line=self.doc.line(path),
            )
        if key in self.built:  # an alias: its line is that of the key or list holding it
            value, size, height = self.built[key]
            self.count(size, path)
        else:
            self.doc.lines.setdefault(path, node.start_mark.line + 1)
            before = self.expanded
            self.count(1, path)
            self.open.add(key)
            try:
                value, height = self.fresh(node, path, depth)
            finally:
                self.open.discard(key)
            self.built[key] = (value, self.expanded - before, height)
        if depth + height > MAX_YAML_DEPTH:
            raise self.limit_error(_DEPTH_MESSAGE, path)
        return value, height

    def fresh(self, node: yaml.Node, path: str, depth: int) -> tuple[Any, int]:
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            height = 0
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "a mapping" if isinstance(key_node, yaml.MappingNode) else "a list"
                    self.doc.problem(
                        path, f"a key must be text or a number, got {kind}", line=key_node.start_mark.line + 1
                    )
                    continue
                key = self.scalar(key_node)
                key = key if isinstance(key, str) else str(key)
                sub = f"{path}.{key}" if path else key
                if key in out:
                    self.doc.problem(sub, f"duplicate key {_show(key)}", line=key_node.start_mark.line + 1)
                self.doc.lines[sub] = key_node.start_mark.line + 1
                self.count(1, sub)
                out[key], h = self.value(value_node, sub, depth + 1)
                height = max(height, h + 1)
            return out, height
        if isinstance(node, yaml.SequenceNode):
            items = []
            height = 0
            for i, item in enumerate(node.value):
                v, h = self.value(item, f"{path}[{i}]", depth + 1)
                items.append(v)
                height = max(height, h + 1)
            return items, height
        return self.scalar(node), 0

    def scalar(self, node: yaml.Node) -> Any:
        mark = node.start_mark
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            raise _limit_error(
                f"a number written with {len(node.value):,} characters is longer than {MAX_NUMBER_CHARS} "
                "(MAX_NUMBER_CHARS)",
                self.doc.file,
                mark,
            )
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        # PyYAML's scalar constructors fail with these on odd values (`2001-13-45`, `!!bool maybe`)
        except (ValueError, LookupError, AttributeError, TypeError, ArithmeticError):
            tag = node.tag.rsplit(":", 1)[-1]
            raise ModelSyntaxError(
                f"{_show(node.value)} is not a valid {tag}",
                file=self.doc.file,
                line=mark.line + 1,
                column=mark.column + 1,
            ) from None

    def count(self, n: int, path: str) -> None:
        self.expanded += n
        if self.expanded > MAX_YAML_NODES:
            raise self.limit_error(
                f"the file expands to more than {MAX_YAML_NODES:,} YAML nodes, each alias counted as a full copy "
                "of its anchor (MAX_YAML_NODES)",
                path,
            )

    def limit_error(self, message: str, path: str) -> ModelSyntaxError:
        where = f" at {_cut_path(path)}" if path else ""
        return ModelSyntaxError(f"{message}{where}; {_LIMITS_DOC}", file=self.doc.file, line=self.doc.line(path))


def _cut_path(path: str) -> str:
    """Return a key path for messages: each key longer than 40 characters is cut."""
    if len(path) <= _SHOW_CHARS:
        return path
    parts = re.split(r"(\.|\[\d+\])", path)
    return "".join(p if len(p) <= _SHOW_CHARS else p[: _SHOW_CHARS - 1] + "…" for p in parts)


def _parse_yaml(text: str, file: str | None) -> tuple[Any, _Doc]:
    """Return the data of a YAML text and the :class:`_Doc` holding its lines and problems.

    Raises
    ------
    ModelSyntaxError
        The text is not valid YAML, or exceeds a limit (nodes, depth, length of a number).
    """
    doc = _Doc(file)
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text, file)
        node = loader.get_single_node()
        data = _Builder(doc, loader).value(node, "")[0] if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ModelSyntaxError(
            f"not valid YAML: {msg}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (e.g. a control character)
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else _show(exc.character)
        raise ModelSyntaxError(
            f"not valid YAML: character {char} is not allowed ({exc.reason})", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ModelSyntaxError(f"not valid YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, doc


# ----------------------------------------------------------------------------- field readers
class _Reader:
    """Typed access to a YAML mapping that records problems instead of raising."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def mapping(self, value: Any, path: str, keys: Sequence[str], required: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.doc.problem(path, f"expected a mapping, got {_kind(value)}")
            return {}
        for key in value:
            if key not in keys:
                hint = _did_you_mean(key, keys)
                self.doc.problem(_join(path, key), f"unknown key {_q(key)}; valid keys: {_names(keys)}{hint}")
        for key in required:
            if key not in value:
                self.doc.problem(path, f"missing required key {_q(key)}")
        return value

    def text(self, m: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = m.get(key, default)
        if value is None:
            if key in m and default is None:
                self.doc.problem(_join(path, key), "text is empty")
            return ""  # missing: already reported by mapping()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.doc.problem(_join(path, key), f"expected text, got {_kind(value)}")
            return ""
        if not value.strip() and default is None:
            self.doc.problem(_join(path, key), "text is empty")
        return value.strip()

    def ident(self, m: Mapping[str, Any], key: str, path: str) -> str:
        value = self.text(m, key, path)
        if value and not _ID.fullmatch(value):
            self.doc.problem(
                _join(path, key),
                f"id {_show(value)} is not valid; use lowercase letters, digits and '_', starting with a letter",
            )
        return value

    def prob(self, value: Any, path: str, *, open_interval: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.doc.problem(path, f"expected a probability (a number in [0, 1]), got {_kind(value)}")
            return math.nan
        x = float(value)
        lo_ok = x > 0 if open_interval else x >= 0
        hi_ok = x < 1 if open_interval else x <= 1
        if not (math.isfinite(x) and lo_ok and hi_ok):
            rng = "(0, 1)" if open_interval else "[0, 1]"
            self.doc.problem(path, f"probability {_show(value)} is outside {rng}")
            return math.nan
        return x

    def number(self, m: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = m.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            self.doc.problem(_join(path, key), f"expected a positive number, got {_show(value)}")
            return default
        return float(value)

    def seq(self, m: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = m.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.doc.problem(_join(path, key), f"expected a list, got {_kind(value)}")
            return []
        return value

    def level_probs(self, value: Any, path: str, answers: Sequence[str], what: str) -> tuple[float, ...] | None:
        """Read a noisy-OR number (two answers) or a noisy-MAX mapping over non-first answers."""
        upper = answers[1:]
        if len(answers) == 2:
            if isinstance(value, dict):
                self.doc.problem(
                    path,
                    f"{what} of a question with two answers {_names(answers)} is a single number "
                    f"(the probability of '{answers[1]}'), got a mapping",
                )
                return None
            p = self.prob(value, path)
            return None if math.isnan(p) else (p,)
        if not isinstance(value, dict):
            self.doc.problem(
                path,
                f"{what} of a question with answers {_names(answers)} must be a mapping "
                f"from {_names(upper)} to probabilities, got {_kind(value)}",
            )
            return None
        out = []
        for key in value:
            if key not in upper:
                valid = f"valid: {_names(upper)}"
                if key == answers[0]:
                    self.doc.problem(
                        _join(path, key),
                        f"{_q(key)} is the first (baseline) answer: it takes the remaining probability; {valid}",
                    )
                else:
                    self.doc.problem(
                        _join(path, key),
                        f"{_q(key)} is not an answer of this question; {valid}{_did_you_mean(key, upper)}",
                    )
        ok = True
        for label in upper:
            p = self.prob(value.get(label, 0.0), _join(path, label))
            ok &= not math.isnan(p)
            out.append(p)
        if ok and sum(out) > 1 + _SUM_TOL:
            self.doc.problem(
                path,
                f"{what} probabilities sum to {sum(out):.6g}; "
                f"they must sum to at most 1 (the first answer '{answers[0]}' takes the rest)",
            )
            return None
        return tuple(out) if ok else None


def _join(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list, bool)):
        return {dict: "a mapping", list: "a list"}.get(type(value), f"boolean {value}")
    return f"text {_show(value)}" if isinstance(value, str) else f"{type(value).__name__} {_show(value)}"


def _q(item: Any) -> str:
    """Return ``'item'`` for a message, cut to 40 characters."""
    text = str(item)
    return f"'{text}'" if len(text) <= _SHOW_CHARS - 2 else f"'{text[: _SHOW_CHARS - 3]}…'"


def _names(items: Sequence[str]) -> str:
    return ", ".join(_q(x) for x in items)


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=3, cutoff=0.6)
    return f". Did you mean {_names(close)}?" if close else ""


# ----------------------------------------------------------------------------- parsing
_TOP_KEYS = (
    "format",
    "id",
    "title",
    "description",
    "version",
    "disclaimer",
    "notices",
    "causes",
    "links",
    "questions",
    "groups",
    "general_guidance",
)
_CAUSE_KEYS = ("id", "label", "description", "prior", "rationale", "guidance", "facets", "kind", "notices")
_CAUSE_KINDS = ("relationship", "safety")
_GROUP_KEYS = ("id", "text", "label", "items", "cost", "screen", "theme", "none_label", "kind", "scale")
_FACET_KEYS = ("id", "label", "description", "p_present", "p_absent", "rationale")
_LINK_KEYS = ("from", "to", "strength", "rationale")
_QUESTION_KEYS = (
    "id",
    "text",
    "answers",
    "answer_labels",
    "unsure",
    "cost",
    "leak",
    "leak_rationale",
    "links",
    "table",
    "notices",
    "label",
    "theme",
    "screen",
    "observed",
)
_QLINK_KEYS = ("cause", "facet", "strength", "rationale")
_TABLE_KEYS = ("parents", "rows", "rationale")
_NOTICE_KEYS = ("id", "kind", "title", "text")
_NOTICE_KINDS = ("safety", "crisis", "professional_help")


def load_spec(path: str | Path) -> ModelSpec:
    """Read and validate a model file.

    Parameters
    ----------
    path
        A ``.yaml``/``.yml`` file in the ``distancing-bn/1`` format.

    Raises
    ------
    ModelSyntaxError
        The file is not valid YAML (file, line, column given).
    ModelValidationError
        The content is wrong; ``.problems`` lists every problem with file and line.
    """
    p = Path(path)
    raw = read_yaml_bytes(p, what="model file")
    return parse_spec(_decode(raw, str(p)), file=str(p), sha256=hashlib.sha256(raw).hexdigest())


def read_yaml_bytes(path: Path, *, what: str) -> bytes:
    """Return the bytes of a YAML model or mapping file, at most :data:`MAX_YAML_FILE_BYTES`.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read, is not a regular file (a folder, ``/dev/zero``, a pipe) or is
        larger than the limit.
    """
    return read_capped(path, limit=MAX_YAML_FILE_BYTES, limit_name="MAX_YAML_FILE_BYTES", what=what)


def read_yaml_text(path: Path, *, what: str) -> str:
    """Return the text of a UTF-8 YAML file (a byte-order mark is dropped); see :func:`read_yaml_bytes`."""
    return _decode(read_yaml_bytes(path, what=what), str(path))


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ModelSyntaxError(f"the file is not UTF-8 text (byte {exc.start})", file=file, line=line) from None


def parse_spec(text: str, *, file: str | None = None, sha256: str | None = None) -> ModelSpec:
    """Validate the text of a model file and return its :class:`ModelSpec`."""
    data, doc = _parse_yaml(text, file)
    r = _Reader(doc)
    top = r.mapping(data, "", _TOP_KEYS, ("format", "id", "title", "description", "causes", "questions"))
    if top.get("format", FORMAT) != FORMAT and "format" in top:
        doc.problem("format", f"unknown format {_show(top['format'])}; valid: '{FORMAT}'")
    notices = tuple(n for i, item in enumerate(r.seq(top, "notices", "")) if (n := _notice(r, item, f"notices[{i}]")))
    causes = tuple(c for i, item in enumerate(r.seq(top, "causes", "")) if (c := _cause(r, item, f"causes[{i}]")))
    links = tuple(lk for i, item in enumerate(r.seq(top, "links", "")) if (lk := _cause_link(r, item, f"links[{i}]")))
    questions = tuple(
        q for i, item in enumerate(r.seq(top, "questions", "")) if (q := _question(r, item, f"questions[{i}]"))
    )
    groups = tuple(g for i, item in enumerate(r.seq(top, "groups", "")) if (g := _group(r, item, f"groups[{i}]")))
    if "causes" in top and not causes and not doc.problems:
        doc.problem("causes", "the model needs at least one cause")
    if "questions" in top and not questions and not doc.problems:
        doc.problem("questions", "the model needs at least one question")
    spec = ModelSpec(
        id=r.ident(top, "id", "") if top else "",
        title=r.text(top, "title", "") if top else "",
        description=r.text(top, "description", "") if top else "",
        version=r.text(top, "version", "", default="") if top else "",
        disclaimer=r.text(top, "disclaimer", "", default="") if top else "",
        causes=causes,
        links=links,
        questions=questions,
        notices=notices,
        groups=groups,
        general_guidance=_texts(r, top, "general_guidance", "") if top else (),
        source=file,
        sha256=sha256,
    )
    _check_semantics(spec, doc)
    if doc.problems:
        problems = (Problem(p.message, p.file, p.line, _cut_path(p.key_path or "")) for p in doc.problems)
        raise ModelValidationError(sorted(problems, key=lambda p: (p.line or 0, p.key_path or "")))
    return spec


def _notice(r: _Reader, item: Any, path: str) -> Notice | None:
    m = r.mapping(item, path, _NOTICE_KEYS, _NOTICE_KEYS)
    if not m:
        return None
    kind = m.get("kind")
    if kind not in _NOTICE_KINDS:
        r.doc.problem(_join(path, "kind"), f"unknown notice kind {_show(kind)}; valid: {_names(_NOTICE_KINDS)}")
    return Notice(r.ident(m, "id", path), kind, r.text(m, "title", path), r.text(m, "text", path), r.doc.location(path))


def _texts(r: _Reader, m: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    items = r.seq(m, key, path)
    out = []
    for i, g in enumerate(items):
        if not isinstance(g, str) or not g.strip():
            r.doc.problem(_join(_join(path, key), i), f"{key} must be non-empty text, got {_kind(g)}")
        else:
            out.append(" ".join(g.split()))
    if key in m and not out and not items:
        r.doc.problem(_join(path, key), f"{key} is empty; give at least one piece of advice")
    return tuple(out)


def _guidance(r: _Reader, m: Mapping[str, Any], path: str) -> tuple[str, ...]:
    return _texts(r, m, "guidance", path)


def _screen(r: _Reader, m: Mapping[str, Any], path: str) -> int | None:
    value = m.get("screen")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        r.doc.problem(_join(path, "screen"), f"expected a whole number from 1 to 1000 (the order), got {_show(value)}")
        return None
    return value


def _group(r: _Reader, item: Any, path: str) -> Group | None:
    m = r.mapping(item, path, _GROUP_KEYS, ("id", "text", "label", "items"))
    if not m:
        return None
    items = r.seq(m, "items", path)
    ids = tuple(str(x) for x in items if isinstance(x, str))
    if len(ids) != len(items):
        r.doc.problem(_join(path, "items"), "expected a list of question ids")
    if not 2 <= len(items) <= MAX_GROUP_SIZE:
        r.doc.problem(
            _join(path, "items"),
            f"a group has 2 to {MAX_GROUP_SIZE} questions (MAX_GROUP_SIZE; its exact gain enumerates "
            f"every joint answer), got {len(items)}",
        )
    kind = m.get("kind", "checklist")
    if kind not in GROUP_KINDS:
        r.doc.problem(_join(path, "kind"), f"expected one of {_names(GROUP_KINDS)}, got {_show(kind)}")
        kind = "checklist"
    scale = r.seq(m, "scale", path)
    headings = tuple(str(x) for x in scale if isinstance(x, str) and x.strip())
    if len(headings) != len(scale):
        r.doc.problem(_join(path, "scale"), "expected a list of column headings (non-empty text)")
    if scale and kind != "grid":
        r.doc.problem(_join(path, "scale"), "only a grid (kind: grid) has a scale of column headings")
    return Group(
        id=r.ident(m, "id", path),
        text=r.text(m, "text", path),
        label=r.text(m, "label", path),
        items=ids,
        cost=r.number(m, "cost", path, 1.0),
        screen=_screen(r, m, path),
        theme=r.text(m, "theme", path, default=""),
        none_label=r.text(m, "none_label", path, default=""),
        kind=str(kind),
        scale=headings,
        location=r.doc.location(path),
    )


def _cause_notices(r: _Reader, m: Mapping[str, Any], path: str) -> tuple[tuple[str, float], ...]:
    nmap = m.get("notices", {})
    if not isinstance(nmap, dict):
        r.doc.problem(_join(path, "notices"), f"expected a mapping from notice ids to thresholds, got {_kind(nmap)}")
        return ()
    out = []
    for nid, threshold in nmap.items():
        x = r.prob(threshold, _join(_join(path, "notices"), nid), open_interval=True)
        if not math.isnan(x):
            out.append((str(nid), x))
    return tuple(out)


def _cause(r: _Reader, item: Any, path: str) -> Cause | None:
    safety = isinstance(item, dict) and item.get("kind") == "safety"  # its notice speaks, not tips
    required = ("id", "label", "description", "prior", "rationale") + (() if safety else ("guidance",))
    m = r.mapping(item, path, _CAUSE_KEYS, required)
    if not m:
        return None
    cid = r.ident(m, "id", path)
    facets = []
    for i, f in enumerate(r.seq(m, "facets", path)):
        fp = f"{path}.facets[{i}]"
        fm = r.mapping(f, fp, _FACET_KEYS, ("id", "label", "description", "p_present", "rationale"))
        if not fm:
            continue
        facets.append(
            Facet(
                id=r.ident(fm, "id", fp),
                cause=cid,
                label=r.text(fm, "label", fp),
                description=r.text(fm, "description", fp),
                p_present=r.prob(fm.get("p_present"), _join(fp, "p_present")) if "p_present" in fm else math.nan,
                p_absent=r.prob(fm.get("p_absent", 0.0), _join(fp, "p_absent")),
                rationale=r.text(fm, "rationale", fp),
                location=r.doc.location(fp),
            )
        )
    return Cause(
        id=cid,
        label=r.text(m, "label", path),
        description=r.text(m, "description", path),
        prior=r.prob(m.get("prior"), _join(path, "prior"), open_interval=True) if "prior" in m else math.nan,
        rationale=r.text(m, "rationale", path),
        guidance=_guidance(r, m, path),
        facets=tuple(facets),
        kind=_cause_kind(r, m, path),
        notices=_cause_notices(r, m, path),
        location=r.doc.location(path),
    )


def _cause_kind(r: _Reader, m: Mapping[str, Any], path: str) -> Any:
    kind = m.get("kind", "relationship")
    if kind not in _CAUSE_KINDS:
        r.doc.problem(_join(path, "kind"), f"unknown cause kind {_show(kind)}; valid: {_names(_CAUSE_KINDS)}")
        return "relationship"
    return kind


def _cause_link(r: _Reader, item: Any, path: str) -> CauseLink | None:
    m = r.mapping(item, path, _LINK_KEYS, _LINK_KEYS)
    if not m:
        return None
    return CauseLink(
        source=r.text(m, "from", path),
        target=r.text(m, "to", path),
        strength=r.prob(m.get("strength"), _join(path, "strength")) if "strength" in m else math.nan,
        rationale=r.text(m, "rationale", path),
        location=r.doc.location(path),
    )


def _question(r: _Reader, item: Any, path: str) -> Question | None:
    m = r.mapping(item, path, _QUESTION_KEYS, ("id", "text", "answers"))
    if not m:
        return None
    qid = r.ident(m, "id", path)
    answers = _answers(r, m, path)
    labels = m.get("answer_labels", {})
    if not isinstance(labels, dict):
        r.doc.problem(
            _join(path, "answer_labels"), f"expected a mapping from answers to display text, got {_kind(labels)}"
        )
        labels = {}
    for key, text in labels.items():
        if key not in answers:
            r.doc.problem(
                _join(_join(path, "answer_labels"), key),
                f"{_q(key)} is not an answer of this question; valid: {_names(answers)}",
            )
        elif not isinstance(text, str) or not text.strip():
            r.doc.problem(_join(_join(path, "answer_labels"), key), "display text must be non-empty text")
    unsure = m.get("unsure", True)
    if not isinstance(unsure, bool):
        r.doc.problem(_join(path, "unsure"), f"expected true or false, got {_kind(unsure)}")
        unsure = True
    has_table = "table" in m
    if has_table and ("links" in m or "leak" in m):
        r.doc.problem(path, "give either 'table' or 'leak' with 'links', not both")
    if not has_table and "links" not in m:
        r.doc.problem(
            path, f"question {_q(qid)} has no links: link it to at least one cause or facet (or give a table)"
        )
    if not has_table and "links" in m and "leak" not in m:
        r.doc.problem(
            path,
            "missing required key 'leak' (the probabilities of the answers when no linked cause or facet is present)",
        )
    leak = None
    links: list[QuestionLink] = []
    table = None
    if len(answers) >= 2:
        if "leak" in m:
            leak = r.level_probs(m["leak"], _join(path, "leak"), answers, "leak")
        for i, lk in enumerate(r.seq(m, "links", path)):
            lp = f"{path}.links[{i}]"
            lm = r.mapping(lk, lp, _QLINK_KEYS, ("strength", "rationale"))
            if not lm:
                continue
            kinds = [k for k in ("cause", "facet") if k in lm]
            if len(kinds) != 1:
                r.doc.problem(lp, "give exactly one of 'cause' or 'facet'")
                continue
            strength = (
                r.level_probs(lm.get("strength"), _join(lp, "strength"), answers, "strength")
                if "strength" in lm
                else None
            )
            links.append(
                QuestionLink(
                    r.text(lm, kinds[0], lp), strength or (), r.text(lm, "rationale", lp), kinds[0], r.doc.location(lp)
                )
            )
        if "links" in m and not links and isinstance(m["links"], list):
            r.doc.problem(
                _join(path, "links"), f"question {_q(qid)} has no links: link it to at least one cause or facet"
            )
        if too_big := _too_many_cells(len(links), len(answers)):
            r.doc.problem(_join(path, "links"), too_big)
        if has_table:
            table = _table(r, m["table"], _join(path, "table"), answers)
    else:  # the answers are wrong (already reported): keep the parents so they count as informed
        for lk in m.get("links", []) if isinstance(m.get("links"), list) else []:
            if isinstance(lk, dict) and (parent := lk.get("cause", lk.get("facet"))):
                links.append(QuestionLink(str(parent), (), "", "facet" if "facet" in lk else "cause"))
    notices = []
    nmap = m.get("notices", {})
    if not isinstance(nmap, dict):
        r.doc.problem(
            _join(path, "notices"), f"expected a mapping from notice ids to lists of answers, got {_kind(nmap)}"
        )
        nmap = {}
    for nid, trig in nmap.items():
        np_ = _join(_join(path, "notices"), nid)
        trig = [trig] if isinstance(trig, str) else trig
        if not isinstance(trig, list) or not trig:
            r.doc.problem(np_, "expected a list of the answers that raise this notice")
            continue
        for a in trig:
            if a not in answers:
                r.doc.problem(
                    np_,
                    f"{_q(a)} is not an answer of this question; "
                    f"valid: {_names(answers)}{_did_you_mean(str(a), answers)}",
                )
        notices.append((str(nid), tuple(str(a) for a in trig)))
    return Question(
        id=qid,
        text=r.text(m, "text", path),
        answers=answers,
        answer_labels=tuple((k, v.strip()) for k, v in labels.items() if isinstance(v, str) and k in answers),
        unsure=unsure,
        cost=r.number(m, "cost", path, 1.0),
        leak=leak,
        leak_rationale=r.text(m, "leak_rationale", path, default=""),
        links=tuple(links),
        table=table,
        notices=tuple(notices),
        label=r.text(m, "label", path, default=""),
        theme=r.text(m, "theme", path, default=""),
        screen=_screen(r, m, path),
        observed=_observed(r, m, path, answers),
        location=r.doc.location(path),
    )


def _observed(r: _Reader, m: Mapping[str, Any], path: str, answers: Sequence[str]) -> str | None:
    if "observed" not in m:
        return None
    value = m["observed"]
    if not isinstance(value, str) or value not in answers:
        r.doc.problem(
            _join(path, "observed"), f"{_show(value)} is not an answer of this question; valid: {_names(answers)}"
        )
        return None
    return value


def _answers(r: _Reader, m: Mapping[str, Any], path: str) -> tuple[str, ...]:
    value = m.get("answers")
    ap = _join(path, "answers")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) < 2:
        r.doc.problem(ap, f"expected a list of at least two answer labels, got {_kind(value)}")
        return ()
    if len(value) > MAX_STATES:
        r.doc.problem(ap, f"{len(value):,} answers are more than {MAX_STATES:,} (MAX_STATES; {_LIMITS_DOC})")
        return ()
    out: list[str] = []
    for i, a in enumerate(value):
        a = str(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a
        if not isinstance(a, str) or not _ID.fullmatch(a):
            r.doc.problem(
                _join(ap, i),
                f"answer label {_show(a)} is not valid; use lowercase letters, digits and '_', starting with a letter",
            )
        elif a == UNSURE:
            r.doc.problem(
                _join(ap, i), "'unsure' is reserved (it always means no evidence) and is offered by 'unsure: true'"
            )
        elif a in out:
            r.doc.problem(_join(ap, i), f"duplicate answer {_q(a)}")
        else:
            out.append(a)
    return tuple(out) if len(out) == len(value) else ()


def _table(r: _Reader, value: Any, path: str, answers: Sequence[str]) -> Table | None:
    m = r.mapping(value, path, _TABLE_KEYS, ("parents", "rows", "rationale"))
    if not m:
        return None
    parents = m.get("parents")
    if not isinstance(parents, list) or not parents or not all(isinstance(p, str) for p in parents):
        r.doc.problem(_join(path, "parents"), f"expected a non-empty list of cause or facet ids, got {_kind(parents)}")
        return None
    if len(set(parents)) != len(parents):
        r.doc.problem(_join(path, "parents"), "a parent is listed twice")
        return None
    if too_big := _too_many_cells(len(parents), len(answers)):
        r.doc.problem(_join(path, "parents"), too_big)
        return None
    rows = m.get("rows")
    if not isinstance(rows, dict):
        r.doc.problem(
            _join(path, "rows"),
            f"expected a mapping from parent states (e.g. 'absent present') to probability lists, got {_kind(rows)}",
        )
        return None
    configs = [" ".join(c) for c in itertools.product(CAUSE_STATES, repeat=len(parents))]
    out: list[tuple[float, ...]] = []
    ok = True
    for key in rows:
        norm = " ".join(str(key).split())
        if norm not in configs:
            r.doc.problem(
                _join(_join(path, "rows"), key),
                f"{_q(key)} is not a configuration of the parents {_names(parents)}; "
                f"write their states ('absent'/'present') in that order, e.g. '{configs[-1]}'",
            )
            ok = False
    normed: dict[str, tuple[Any, Any]] = {}
    for k, v in rows.items():
        norm_key = " ".join(str(k).split())
        if norm_key in normed:
            r.doc.problem(_join(_join(path, "rows"), k), f"row {_q(norm_key)} is given twice")
            ok = False
        normed[norm_key] = (k, v)
    for conf in configs:
        if conf not in normed:
            r.doc.problem(_join(path, "rows"), f"missing row for parent states '{conf}' (parents {_names(parents)})")
            ok = False
            continue
        key, row = normed[conf]
        rp = _join(_join(path, "rows"), key)
        if not isinstance(row, list) or len(row) != len(answers):
            r.doc.problem(
                rp, f"expected {len(answers)} probabilities, one per answer {_names(answers)}, got {_kind(row)}"
            )
            ok = False
            continue
        probs = [r.prob(x, rp) for x in row]
        if any(math.isnan(x) for x in probs):
            ok = False
            continue
        if abs(sum(probs) - 1) > _SUM_TOL:
            r.doc.problem(
                rp, f"row for parent states '{conf}' sums to {sum(probs):.12g}; each row must sum to 1 (±1e-9)"
            )
            ok = False
        out.append(tuple(probs))
    return Table(tuple(parents), tuple(out), r.text(m, "rationale", path), r.doc.location(path)) if ok else None


def _too_many_cells(n_parents: int, n_states: int) -> str | None:
    """Return why a table of ``n_parents`` binary parents is too large, or None if it fits.

    Every question and cause compiles to a full table (noisy-OR/MAX ones too), of
    ``2**n_parents * n_states`` cells.
    """
    if n_parents < 64 and 2**n_parents * n_states <= MAX_TABLE_CELLS:
        return None
    rows = f"{2**n_parents:,}" if n_parents < 64 else f"2**{n_parents}"
    return (
        f"{n_parents} parents make a table of {rows} rows of {n_states} probabilities, more than "
        f"{MAX_TABLE_CELLS:,} cells (MAX_TABLE_CELLS; {_LIMITS_DOC})"
    )


# ----------------------------------------------------------------------------- semantic checks
def _check_semantics(spec: ModelSpec, doc: _Doc) -> None:
    seen: dict[str, str] = {}
    for kind, items in (
        ("notice", spec.notices),
        ("cause", spec.causes),
        ("facet", spec.facets),
        ("question", spec.questions),
        ("checklist", spec.groups),
    ):
        for obj in items:
            if not obj.id:
                continue
            if obj.id in seen:
                doc.problems.append(
                    Problem(
                        f"duplicate id {_q(obj.id)} (already used by a {seen[obj.id]})",
                        obj.location.file,
                        obj.location.line,
                        obj.location.key_path + ".id",
                    )
                )
            else:
                seen[obj.id] = kind
    cause_ids = [c.id for c in spec.causes]
    facet_ids = [f.id for f in spec.facets]
    latent = cause_ids + facet_ids
    notice_ids = [n.id for n in spec.notices]
    # links between causes
    parents: dict[str, list[str]] = {c: [] for c in cause_ids}
    for lk in spec.links:
        for end, key in ((lk.source, "from"), (lk.target, "to")):
            if end and end not in cause_ids:
                what = " (a facet; links join causes)" if end in facet_ids else ""
                doc.problems.append(
                    Problem(
                        f"unknown cause {_q(end)}{what}; valid: {_names(cause_ids)}{_did_you_mean(end, cause_ids)}",
                        lk.location.file,
                        doc.line(f"{lk.location.key_path}.{key}"),
                        f"{lk.location.key_path}.{key}",
                    )
                )
        if lk.source in cause_ids and lk.target in cause_ids:
            if lk.source == lk.target:
                doc.problems.append(
                    Problem(
                        f"cause {_q(lk.source)} links to itself",
                        lk.location.file,
                        lk.location.line,
                        lk.location.key_path,
                    )
                )
            elif lk.source in parents[lk.target]:
                doc.problems.append(
                    Problem(
                        f"duplicate link {lk.source} -> {lk.target}",
                        lk.location.file,
                        lk.location.line,
                        lk.location.key_path,
                    )
                )
            else:
                parents[lk.target].append(lk.source)
    for c in spec.causes:
        if too_big := _too_many_cells(len(parents.get(c.id, ())), len(CAUSE_STATES)):
            doc.problems.append(Problem(f"cause {_q(c.id)}: {too_big}", c.location.file, c.location.line, "links"))
    cycle = _find_cycle(parents)
    if cycle:
        first = next(lk for lk in spec.links if lk.source == cycle[0] and lk.target == cycle[1])
        doc.problems.append(
            Problem(
                f"the links between causes form a cycle: {' -> '.join(cycle)}; links must form a DAG",
                first.location.file,
                first.location.line,
                "links",
            )
        )
    # questions
    informed: dict[str, int] = dict.fromkeys(latent, 0)
    for q in spec.questions:
        names = q.parents
        for i, p in enumerate(names):
            kp = f"{q.location.key_path}.table.parents[{i}]" if q.table else f"{q.links[i].location.key_path}"
            if p not in informed:
                doc.problems.append(
                    Problem(
                        f"unknown cause or facet {_q(p)}{_did_you_mean(p, latent)}", q.location.file, doc.line(kp), kp
                    )
                )
            else:
                informed[p] += 1
        if len(set(names)) != len(names):
            doc.problems.append(
                Problem(
                    f"question {_q(q.id)} links to the same parent twice",
                    q.location.file,
                    q.location.line,
                    q.location.key_path,
                )
            )
        for qlink in q.links:
            if (qlink.kind == "cause" and qlink.parent in facet_ids) or (
                qlink.kind == "facet" and qlink.parent in cause_ids
            ):
                other = "facet" if qlink.kind == "cause" else "cause"
                kp = f"{qlink.location.key_path}.{qlink.kind}"
                doc.problems.append(
                    Problem(
                        f"{_q(qlink.parent)} is a {other}, not a {qlink.kind}; write '{other}: {qlink.parent}'",
                        q.location.file,
                        doc.line(kp),
                        kp,
                    )
                )
        for nid, _ in q.notices:
            if nid not in notice_ids:
                kp = f"{q.location.key_path}.notices.{nid}"
                doc.problems.append(
                    Problem(
                        f"unknown notice {_q(nid)}; "
                        f"valid: {_names(notice_ids) or '(none declared)'}{_did_you_mean(nid, notice_ids)}",
                        q.location.file,
                        doc.line(kp),
                        kp,
                    )
                )
    for c in spec.causes:
        for obj in (c, *c.facets):
            if obj.id and informed.get(obj.id, 0) == 0 and not _has_informed_descendant(obj.id, spec, informed):
                kind = "cause" if obj is c else "facet"
                doc.problems.append(
                    Problem(
                        f"{kind} {_q(obj.id)} is informed by no question; link at least one question to it",
                        obj.location.file,
                        obj.location.line,
                        obj.location.key_path,
                    )
                )

    _check_interview(spec, doc, notice_ids)


def _check_interview(spec: ModelSpec, doc: _Doc, notice_ids: Sequence[str]) -> None:
    """Checklists, screens, observed questions and cause-driven notices."""

    def problem(obj: Any, message: str, key: str = "") -> None:
        kp = f"{obj.location.key_path}.{key}" if key else obj.location.key_path
        doc.problems.append(Problem(message, obj.location.file, doc.line(kp) or obj.location.line, kp))

    questions = {q.id: q for q in spec.questions}
    owner: dict[str, str] = {}
    for g in spec.groups:
        known = []
        for item in g.items:
            q = questions.get(item)
            if q is None:
                problem(g, f"unknown question {_q(item)}{_did_you_mean(item, list(questions))}", "items")
            elif not g.is_grid and len(q.answers) != 2:
                problem(
                    g,
                    f"question {_q(item)} has {len(q.answers)} answers; checklist items are yes/no "
                    "(for questions that share one answer scale, write kind: grid)",
                    "items",
                )
            elif q.observed is not None:
                problem(g, f"question {_q(item)} is always observed, so it cannot be in a group", "items")
            elif item in owner:
                problem(g, f"question {_q(item)} is already in group {_q(owner[item])}", "items")
            else:
                owner[item] = g.id
                known.append(q)
        if g.is_grid and known:
            _check_grid(g, known, problem)
        outcomes = math.prod(len(q.answers) for q in known)
        if outcomes > MAX_GROUP_OUTCOMES:
            problem(
                g,
                f"the group's items have {outcomes:,} joint answers (the product of their answer counts), more "
                f"than {MAX_GROUP_OUTCOMES:,} (MAX_GROUP_OUTCOMES; its exact gain enumerates them all); "
                "split it into smaller groups",
                "items",
            )
    for q in spec.questions:
        if q.observed is not None and q.screen is not None:
            problem(q, f"question {_q(q.id)} is always observed, so it cannot be a screen", "screen")
    if spec.questions and all(q.observed is not None for q in spec.questions):
        doc.problems.append(Problem("every question is 'observed': leave at least one to ask", spec.source, None, ""))
    for c in spec.causes:
        for nid, _ in c.notices:
            if nid not in notice_ids:
                problem(c, f"unknown notice {_q(nid)}; valid: {_names(notice_ids) or '(none declared)'}", "notices")


def _check_grid(g: Group, items: Sequence[Question], problem: Callable[..., None]) -> None:
    """A grid's items share one answer scale: the same answers (or, with ``scale``, as many)."""
    first = items[0]
    for q in items[1:]:
        if g.scale and len(q.answers) != len(first.answers):
            problem(
                g,
                f"question {_q(q.id)} has {len(q.answers)} answers and {_q(first.id)} has {len(first.answers)}; "
                "the rows of a grid have as many answers as its scale",
                "items",
            )
        elif not g.scale and (
            q.answers != first.answers or [q.display(a) for a in q.answers] != [first.display(a) for a in q.answers]
        ):
            problem(
                g,
                f"question {_q(q.id)} answers {_names(q.answers)} and {_q(first.id)} answers "
                f"{_names(first.answers)}; the rows of a grid share one answer scale (or give the grid a scale: "
                "of column headings, one per answer)",
                "items",
            )
    if g.scale and len(g.scale) != len(first.answers):
        problem(
            g,
            f"the scale has {len(g.scale)} headings but the items have {len(first.answers)} answers",
            "scale",
        )


def _has_informed_descendant(node: str, spec: ModelSpec, informed: Mapping[str, int]) -> bool:
    """A cause is informed when a question links to it or to one of its facets."""
    for c in spec.causes:
        if c.id == node:
            return any(informed.get(f.id, 0) > 0 for f in c.facets)
    return False


def _find_cycle(parents: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return a cycle among the causes (first node repeated at the end), or None.

    An iterative depth-first search, so that a long chain of links cannot exhaust the stack.
    """
    children: dict[str, list[str]] = {n: [] for n in parents}
    for child, ps in parents.items():
        for p in ps:
            children[p].append(child)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in parents:
        if start in state:
            continue
        path = [start]
        todo = [iter(children[start])]
        state[start] = 1
        while todo:
            ch = next(todo[-1], None)
            if ch is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(ch) == 1:
                return [*path[path.index(ch) :], ch]
            elif ch not in state:
                state[ch] = 1
                path.append(ch)
                todo.append(iter(children[ch]))
    return None


# ----------------------------------------------------------------------------- writing
def _level_value(probs: Sequence[float], answers: Sequence[str]) -> Any:
    if len(answers) == 2:
        return float(probs[0])
    return {a: float(p) for a, p in zip(answers[1:], probs, strict=True)}


def spec_to_data(spec: ModelSpec) -> dict[str, Any]:
    """Return the spec as plain data in the file format (the inverse of parsing)."""
    data: dict[str, Any] = {"format": FORMAT, "id": spec.id, "title": spec.title, "description": spec.description}
    if spec.version:
        data["version"] = spec.version
    if spec.disclaimer:
        data["disclaimer"] = spec.disclaimer
    if spec.notices:
        data["notices"] = [{"id": n.id, "kind": n.kind, "title": n.title, "text": n.text} for n in spec.notices]
    data["causes"] = []
    for c in spec.causes:
        cd: dict[str, Any] = {
            "id": c.id,
            "label": c.label,
            "description": c.description,
            "prior": c.prior,
            "rationale": c.rationale,
        }
        if c.guidance or c.kind != "safety":  # a safety cause may have none: its notice speaks
            cd["guidance"] = list(c.guidance)
        if c.kind != "relationship":
            cd["kind"] = c.kind
        if c.notices:
            cd["notices"] = dict(c.notices)
        if c.facets:
            cd["facets"] = [
                {
                    "id": f.id,
                    "label": f.label,
                    "description": f.description,
                    "p_present": f.p_present,
                    "p_absent": f.p_absent,
                    "rationale": f.rationale,
                }
                for f in c.facets
            ]
        data["causes"].append(cd)
    if spec.links:
        data["links"] = [
            {"from": lk.source, "to": lk.target, "strength": lk.strength, "rationale": lk.rationale}
            for lk in spec.links
        ]
    data["questions"] = []
    for q in spec.questions:
        qd: dict[str, Any] = {"id": q.id, "text": q.text, "answers": list(q.answers)}
        for key in ("label", "theme", "screen", "observed"):
            if (value := getattr(q, key)) not in ("", None):
                qd[key] = value
        if q.answer_labels:
            qd["answer_labels"] = dict(q.answer_labels)
        if not q.unsure:
            qd["unsure"] = False
        if q.cost != 1.0:
            qd["cost"] = q.cost
        if q.leak_rationale and q.table is not None:
            qd["leak_rationale"] = q.leak_rationale
        if q.table is not None:
            configs = [" ".join(c) for c in itertools.product(CAUSE_STATES, repeat=len(q.table.parents))]
            qd["table"] = {
                "parents": list(q.table.parents),
                "rows": {k: list(r) for k, r in zip(configs, q.table.rows, strict=True)},
                "rationale": q.table.rationale,
            }
        else:
            qd["leak"] = _level_value(q.leak or (), q.answers)
            if q.leak_rationale:
                qd["leak_rationale"] = q.leak_rationale
            qd["links"] = [
                {lk.kind: lk.parent, "strength": _level_value(lk.strength, q.answers), "rationale": lk.rationale}
                for lk in q.links
            ]
        if q.notices:
            qd["notices"] = {nid: list(ans) for nid, ans in q.notices}
        data["questions"].append(qd)
    if spec.groups:
        data["groups"] = []
        for g in spec.groups:
            gd: dict[str, Any] = {"id": g.id, "text": g.text, "label": g.label, "items": list(g.items)}
            if g.cost != 1.0:
                gd["cost"] = g.cost
            for key in ("screen", "theme", "none_label"):
                if (value := getattr(g, key)) not in ("", None):
                    gd[key] = value
            if g.is_grid:
                gd["kind"] = g.kind
            if g.scale:
                gd["scale"] = list(g.scale)
            data["groups"].append(gd)
    if spec.general_guidance:
        data["general_guidance"] = list(spec.general_guidance)
    return data


class _Dumper(yaml.SafeDumper):
    """Safe dumper that quotes strings a YAML 1.1 reader would take for booleans."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_spec(spec: ModelSpec) -> str:
    """Return the YAML text of a spec; ``parse_spec(dump_spec(s)) == s``."""
    return yaml.dump(spec_to_data(spec), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
