"""Hypothesis strategies shared by the test suite.

Import them from any test module (``tests/`` is on ``sys.path`` under pytest's default
``rootdir`` import mode)::

    from strategies import evidence_for, random_networks, small_specs

Strategies
----------
``small_spec_data()``
    A random *valid* model in the ``distancing-bn/1`` format, as plain Python data (a dict).
``small_specs()``
    The same, dumped to YAML text with :func:`yaml.safe_dump` (what a person would write).
``random_networks()``
    Keyword arguments for :meth:`distancing_bn.network.Network.create`: a random discrete
    network with 2–10 nodes, 2–4 states each, strictly positive Dirichlet CPTs.
``distributions(size)`` / ``sub_distributions(levels)``
    A probability vector (sums to 1) / non-negative numbers summing to at most 1 (a noisy-MAX
    leak or strength over the non-first answers).
``evidence_for(network, soft=False)``
    Random answers for some observables of a network: ``{observable: state label}``, and with
    ``soft=True`` some values are ``{state label: likelihood}`` mappings instead.
``mutated_yaml(text)``
    Bytes of a *bad* variant of a valid YAML file: bytes flipped, numbers replaced by huge or
    odd values, keys duplicated, aliases (an alias bomb, a recursive alias), deep nesting,
    odd tags, control characters, non-UTF-8 bytes or a cut-short file, one or more at once.
``hostile_ids(known)`` / ``hostile_values(labels)`` / ``hostile_answers(network)``
    Bad input of every kind for the answer API: ids and labels of any type and size (huge
    strings and numbers, unicode, case variants, nested structures), soft answers with NaN,
    inf, negative, all-zero, text or huge-integer likelihoods and unknown or missing labels,
    mixed with valid answers; and answers that are not a mapping at all.
``json_values()`` / ``hostile_sessions(saved)``
    JSON-shaped garbage (nested lists and objects of scalars), and saved sessions
    (``Session.to_dict()`` output) with fields replaced or removed by it.

Helpers (plain functions, not strategies): :func:`likelihoods_from` turns such evidence into the
``(1, states)`` likelihood matrices that :meth:`distancing_bn.engine.Engine.query` takes.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import yaml
from hypothesis import strategies as st

__all__ = [
    "ANSWER_SETS",
    "distributions",
    "evidence_for",
    "hostile_answers",
    "hostile_ids",
    "hostile_sessions",
    "hostile_values",
    "identifiers",
    "json_values",
    "likelihoods_from",
    "mutated_yaml",
    "probabilities",
    "random_networks",
    "small_spec_data",
    "small_specs",
    "sub_distributions",
    "texts",
]

FORMAT = "distancing-bn/1"

#: Ordered answer lists used for questions (first = nothing unusual, last = strongest sign).
#: ``[no, yes]`` is the most common on purpose: YAML 1.1 would read those as booleans.
ANSWER_SETS: tuple[tuple[str, ...], ...] = (
    ("no", "yes"),
    ("no", "yes"),
    ("never", "often"),
    ("n", "y"),
    ("no", "a_little", "a_lot"),
    ("never", "sometimes", "often"),
    ("low", "mid", "high"),
    ("never", "rarely", "sometimes", "often"),
    ("no", "a_bit", "quite", "very_much"),
)

_TEXT_ALPHABET = string.ascii_letters + string.digits + " .,;:'\"#-?!()/&%*é—ü"


def texts(max_size: int = 30) -> st.SearchStrategy[str]:
    """Non-blank one-line text with YAML-awkward characters (``:``, ``#``, quotes, ``-``)."""
    return st.text(_TEXT_ALPHABET, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


def identifiers() -> st.SearchStrategy[str]:
    """Valid ids: ``^[a-z][a-z0-9_]*$`` (sometimes YAML-1.1 words such as ``yes``/``no``/``on``)."""
    return st.one_of(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.sampled_from(["yes", "no", "on", "off", "y", "n", "null", "true_ish"]),
    )


def probabilities(*, open_interval: bool = False) -> st.SearchStrategy[float]:
    """A probability in [0, 1] (or in (0, 1) with ``open_interval=True``); edges included."""
    if open_interval:
        return st.one_of(st.floats(0.001, 0.999), st.sampled_from([1e-6, 0.5, 1 - 1e-6]))
    return st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.5]))


@st.composite
def sub_distributions(draw: st.DrawFn, levels: int) -> list[float]:
    """``levels`` non-negative numbers whose sum is at most 1 (a noisy-MAX leak or strength)."""
    raw = draw(st.lists(st.floats(0.0, 1.0), min_size=levels, max_size=levels))
    total = draw(st.floats(0.0, 1.0))
    s = sum(raw)
    if s == 0:
        return [0.0] * levels
    out = [total * x / s for x in raw]
    excess = sum(out) - 1.0
    if excess > 0:  # rounding only; keep the sum <= 1
        out[out.index(max(out))] -= excess
    return [min(max(x, 0.0), 1.0) for x in out]


@st.composite
def distributions(draw: st.DrawFn, size: int) -> list[float]:
    """A probability vector of ``size`` entries summing to 1 within 1e-12."""
    raw = draw(st.lists(st.floats(0.01, 1.0), min_size=size, max_size=size))
    s = sum(raw)
    out = [x / s for x in raw]
    out[-1] = max(0.0, 1.0 - sum(out[:-1]))
    return out


@st.composite
def _level_value(draw: st.DrawFn, answers: Sequence[str]) -> Any:
    """A leak or strength: a number for two answers, a mapping over the non-first answers else."""
    if len(answers) == 2:
        return draw(probabilities())
    probs = draw(sub_distributions(len(answers) - 1))
    mapping = dict(zip(answers[1:], probs, strict=True))
    if draw(st.integers(0, 4)) == 0:  # a missing label means 0
        mapping.pop(draw(st.sampled_from(list(mapping))))
    return mapping


@st.composite
def small_spec_data(draw: st.DrawFn) -> dict[str, Any]:
    """Return a random valid ``distancing-bn/1`` model as plain data.

    1–4 causes with 0–2 facets each, random acyclic cause links (from an earlier cause to a later
    one), 1–6 questions with 2–4 answers (noisy-OR numbers for two answers, noisy-MAX mappings for
    more, occasionally an explicit table with up to three parents), every cause and facet linked
    from at least one question, and occasionally a notice raised by one question's last answer.
    """
    n_causes = draw(st.integers(1, 4))
    n_facets = [draw(st.integers(0, 2)) for _ in range(n_causes)]
    n_questions = draw(st.integers(1, 6))
    with_notice = draw(st.integers(0, 3)) == 0
    n_ids = n_causes + sum(n_facets) + n_questions + int(with_notice)
    ids = draw(st.lists(identifiers(), min_size=n_ids, max_size=n_ids, unique=True))
    it = iter(ids)
    cause_ids = [next(it) for _ in range(n_causes)]
    facet_ids = [[next(it) for _ in range(k)] for k in n_facets]
    question_ids = [next(it) for _ in range(n_questions)]
    notice_id = next(it) if with_notice else None

    data: dict[str, Any] = {
        "format": FORMAT,
        "id": draw(identifiers()),
        "title": draw(texts()),
        "description": draw(texts(60)),
    }
    if draw(st.booleans()):
        data["version"] = draw(st.sampled_from(["0.1", "1.0", "2024-01"]))
    if draw(st.booleans()):
        data["disclaimer"] = draw(texts(60))
    if notice_id is not None:
        data["notices"] = [
            {
                "id": notice_id,
                "kind": draw(st.sampled_from(["safety", "professional_help"])),
                "title": draw(texts()),
                "text": draw(texts(60)),
            }
        ]

    causes = []
    for cid, fids in zip(cause_ids, facet_ids, strict=True):
        cause: dict[str, Any] = {
            "id": cid,
            "label": draw(texts()),
            "description": draw(texts(60)),
            "prior": draw(probabilities(open_interval=True)),
            "rationale": draw(texts()),
            "guidance": draw(st.lists(texts(40), min_size=1, max_size=2)),
        }
        facets = []
        for fid in fids:
            facet: dict[str, Any] = {
                "id": fid,
                "label": draw(texts()),
                "description": draw(texts()),
                "p_present": draw(probabilities()),
                "rationale": draw(texts()),
            }
            if draw(st.booleans()):
                facet["p_absent"] = draw(probabilities())
            facets.append(facet)
        if facets:
            cause["facets"] = facets
        causes.append(cause)
    data["causes"] = causes

    pairs = list(itertools.combinations(range(n_causes), 2))
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    if chosen:
        data["links"] = [
            {
                "from": cause_ids[i],
                "to": cause_ids[j],
                "strength": draw(probabilities()),
                "rationale": draw(texts()),
            }
            for i, j in chosen
        ]

    latent = [("cause", c) for c in cause_ids] + [("facet", f) for fs in facet_ids for f in fs]
    # question 0 is never a table, so every latent node can be assigned to a noisy question
    is_table = [False] + [draw(st.integers(0, 4)) == 0 for _ in range(n_questions - 1)]
    noisy = [i for i in range(n_questions) if not is_table[i]]
    parents_of: list[list[tuple[str, str]]] = [[] for _ in range(n_questions)]
    for node in latent:
        parents_of[draw(st.sampled_from(noisy))].append(node)
    for i in range(n_questions):
        if is_table[i]:
            parents_of[i] = draw(st.lists(st.sampled_from(latent), min_size=1, max_size=3, unique=True))
        elif not parents_of[i]:
            parents_of[i] = draw(st.lists(st.sampled_from(latent), min_size=1, max_size=2, unique=True))

    questions = []
    for qid, table, parents in zip(question_ids, is_table, parents_of, strict=True):
        answers = list(draw(st.sampled_from(ANSWER_SETS)))
        q: dict[str, Any] = {"id": qid, "text": draw(texts(60)), "answers": answers}
        if draw(st.integers(0, 3)) == 0:
            q["answer_labels"] = {answers[-1]: draw(texts())}
        if draw(st.integers(0, 4)) == 0:
            q["unsure"] = False
        if draw(st.integers(0, 3)) == 0:
            q["cost"] = draw(st.sampled_from([0.5, 1.0, 2, 3.5]))
        if table:
            configs = [" ".join(c) for c in itertools.product(("absent", "present"), repeat=len(parents))]
            q["table"] = {
                "parents": [p for _, p in parents],
                "rows": {conf: draw(distributions(len(answers))) for conf in configs},
                "rationale": draw(texts()),
            }
        else:
            q["leak"] = draw(_level_value(answers))
            if draw(st.booleans()):
                q["leak_rationale"] = draw(texts())
            q["links"] = [
                {kind: pid, "strength": draw(_level_value(answers)), "rationale": draw(texts())}
                for kind, pid in parents
            ]
        questions.append(q)
    if notice_id is not None:
        q = questions[draw(st.integers(0, n_questions - 1))]
        q["notices"] = {notice_id: [q["answers"][-1]]}
    data["questions"] = questions
    return data


def small_specs() -> st.SearchStrategy[str]:
    """Random valid ``distancing-bn/1`` model files (YAML text from ``yaml.safe_dump``)."""
    return small_spec_data().map(lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True))


@st.composite
def random_networks(draw: st.DrawFn, max_nodes: int = 10, max_parents: int = 3) -> dict[str, Any]:
    """Return keyword arguments for :meth:`Network.create` describing a random valid network.

    2–``max_nodes`` nodes with 2–4 states, a random DAG (each node takes up to ``max_parents``
    parents among the nodes before it in a hidden order), CPTs drawn from a Dirichlet and kept
    strictly positive (every entry >= 1e-6). The ``states`` mapping lists the nodes in a shuffled
    order, so it is usually *not* topological. ``targets`` is a random non-empty proper subset of
    the nodes and ``observables`` is the rest (so both are non-empty).

    Keys: ``name``, ``states``, ``parents``, ``cpts`` (numpy arrays of shape
    ``(*parent cards, card)``), ``targets``, ``observables``.
    """
    n = draw(st.integers(2, max_nodes))
    names = [f"v{i}" for i in range(n)]  # v0 < v1 < ... is the hidden topological order
    cards = [draw(st.integers(2, 4)) for _ in range(n)]
    states = {v: tuple(f"{v}_s{k}" for k in range(c)) for v, c in zip(names, cards, strict=True)}
    parents: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(names):
        ps = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=min(i, max_parents))) if i else []
        parents[v] = tuple(ps)
    seed = draw(st.integers(0, 2**32 - 1))
    alpha = draw(st.sampled_from([0.5, 1.0, 5.0]))
    rng = np.random.default_rng(seed)
    cpts: dict[str, np.ndarray] = {}
    for i, v in enumerate(names):
        shape = (*tuple(cards[names.index(p)] for p in parents[v]), cards[i])
        table = rng.dirichlet(np.full(cards[i], alpha), size=shape[:-1] or None).reshape(shape)
        table = np.maximum(table, 1e-6)
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    order = draw(st.permutations(names))
    targets = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n - 1, unique=True))
    return {
        "name": "random",
        "states": {v: states[v] for v in order},
        "parents": {v: parents[v] for v in order},
        "cpts": {v: cpts[v] for v in order},
        "targets": sorted(targets, key=names.index),
        "observables": [v for v in order if v not in targets],
    }


@st.composite
def evidence_for(draw: st.DrawFn, network: Any, *, soft: bool = False) -> dict[str, Any]:
    """Return random answers for a random subset (possibly empty) of ``network.observables``.

    Each value is a state label of that observable. With ``soft=True`` some values are instead a
    mapping ``{state label: likelihood}`` over every label, non-negative, at least one positive.
    """
    chosen = draw(st.lists(st.sampled_from(network.observables), unique=True)) if network.observables else []
    out: dict[str, Any] = {}
    for v in chosen:
        labels = list(network.states[v])
        if soft and draw(st.booleans()):
            weights = draw(st.lists(st.floats(0.0, 1.0), min_size=len(labels), max_size=len(labels)))
            if not any(w > 0 for w in weights):
                weights[draw(st.integers(0, len(labels) - 1))] = 1.0
            out[v] = dict(zip(labels, weights, strict=True))  # every label, as the API requires
        else:
            out[v] = draw(st.sampled_from(labels))
    return out


def likelihoods_from(network: Any, evidence: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Turn ``evidence_for`` answers into one ``(1, states)`` likelihood matrix per observable."""
    out: dict[str, np.ndarray] = {}
    for v, value in evidence.items():
        labels = list(network.states[v])
        row = np.zeros((1, len(labels)))
        if isinstance(value, Mapping):
            for lab, w in value.items():
                row[0, labels.index(lab)] = w
        else:
            row[0, labels.index(value)] = 1.0
        out[v] = row
    return out


#: Values that stand in for a number of a valid file: too long, out of range, not numbers at all,
#: or scalars PyYAML's constructors fail on.
ODD_SCALARS: tuple[str, ...] = (
    "9" * 400,
    "9" * 5000,
    "-" + "9" * 101,
    "0x" + "f" * 300,
    "1" + "0" * 400 + ".5",
    "1e999",
    "-1e-999",
    ".nan",
    "-.inf",
    "1_0_0",
    "1:2:3",
    "2001-13-45",
    "!!bool maybe",
    "!!timestamp x",
    "!!int abc",
    "!!float x",
    "!!binary '@@'",
    "!!python/object:os.system {}",
    "!!set [1]",
    "~",
    "[]",
    "{}",
    '"yes\\n"',
    "'" + "x" * 10_000 + "'",
    "&a 0.5",
    "*a",
    "*undefined",
    "&r [*r]",
    "&m {k: *m}",
    "[" * 60 + "]" * 60,
    "[" * 1000 + "]" * 1000,
    "{a: " * 60 + "1" + "}" * 60,
)

#: Lines that make an alias bomb when appended at the top level (9 ** 9 expanded nodes).
ALIAS_BOMB = "".join(
    [f"a: &a [{','.join(['x'] * 9)}]\n"]
    + [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_KEY_LINE = re.compile(r"^( *(?:- )?)([a-z_]+):", re.MULTILINE)


@st.composite
def _mutation(draw: st.DrawFn, text: str) -> str | bytes:
    kind = draw(
        st.sampled_from(
            ["number", "duplicate_key", "bomb", "nest", "control", "truncate", "flip", "latin1", "tab", "alias_key"]
        )
    )
    if kind == "number":
        numbers = list(_NUMBER.finditer(text))
        if not numbers:
            return text + "extra: " + draw(st.sampled_from(ODD_SCALARS)) + "\n"
        m = draw(st.sampled_from(numbers))
        return text[: m.start()] + draw(st.sampled_from(ODD_SCALARS)) + text[m.end() :]
    keys = list(_KEY_LINE.finditer(text))
    if kind in ("duplicate_key", "tab") and not keys:  # an earlier cut left no key line
        kind = "truncate"
    if kind == "duplicate_key":
        m = draw(st.sampled_from(keys))
        line_end = text.index("\n", m.end()) + 1 if "\n" in text[m.end() :] else len(text)
        return text[:line_end] + text[m.start() : line_end] + text[line_end:]
    if kind == "bomb":
        return ALIAS_BOMB + text
    if kind == "nest":
        depth = draw(st.sampled_from([49, 51, 200, 3000]))
        return text + "deep: " + "[" * depth + "]" * depth + "\n"
    if kind == "control":
        pos = draw(st.integers(0, len(text)))
        return text[:pos] + draw(st.sampled_from(["\x00", "\x07", "\x85", "\ufeff", "\ud800", "\t", "\r"])) + text[pos:]
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "tab":
        m = draw(st.sampled_from(keys))
        return text[: m.start()] + "\t" + text[m.start() :]
    if kind == "alias_key":
        return text + "anchor_list: &key_list [1, 2]\n? *key_list\n: value\n"
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate from an earlier mutation stays a byte error
    if kind == "latin1":
        return data + "\nextra: caf\u00e9\n".encode("latin-1")
    positions = draw(st.lists(st.integers(0, max(len(data) - 1, 0)), min_size=1, max_size=8))
    flipped = bytearray(data)
    for pos in positions:
        if flipped:
            flipped[pos] = draw(st.integers(0, 255))
    return bytes(flipped)


@st.composite
def mutated_yaml(draw: st.DrawFn, text: str) -> bytes:
    """Return the bytes of ``text`` (a valid YAML file) after one to three random mutations.

    Mutations: a number replaced by a huge or odd value (see :data:`ODD_SCALARS`: 400- and
    5000-digit numbers, odd tags, aliases, recursive aliases, deep nesting), a key line
    duplicated, an alias bomb prepended, a deep list appended, a control character inserted,
    the text cut short, random bytes flipped, Latin-1 bytes appended, a tab in the indentation,
    a list used as a key.
    """
    out: str | bytes = text
    for _ in range(draw(st.integers(1, 3))):
        if isinstance(out, bytes):
            try:
                out = out.decode("utf-8")
            except UnicodeDecodeError:
                break
        out = draw(_mutation(out))
    return out if isinstance(out, bytes) else out.encode("utf-8", errors="surrogatepass")


# ----------------------------------------------------------------------------- hostile input
def _huge_texts() -> st.SearchStrategy[str]:
    return st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "'", "\x00", "²"]), st.integers(41, 20_000))


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        _huge_texts(),
        st.sampled_from(["", " ", "unsure", "UNSURE", "nan", "None", "²", "１", "\u200b", "yes\n", "-1"]),
    )


def hostile_ids(known: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Question/variable ids of every kind: valid ones (``known``), near misses, wrong types, huge ones."""
    valid = st.sampled_from(list(known)) if known else st.nothing()
    near = valid.flatmap(lambda k: st.sampled_from([k.upper(), f" {k}", k + "_", k[:-1] or "x", k * 3]))
    return st.one_of(
        valid,
        near,
        _scalars(),
        st.tuples(st.text(max_size=3)),
        st.frozensets(st.integers(), max_size=3),
        st.binary(max_size=8),
    )


def hostile_values(labels: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Answer values of every kind for a question with ``labels``: valid, near misses, soft, garbage."""
    valid = st.sampled_from(list(labels)) if labels else st.nothing()
    near = valid.flatmap(lambda a: st.sampled_from([a.upper(), f"  {a} ", a.title(), a + "x", a[:1]]))
    likelihood = st.one_of(
        st.floats(0.0, 10.0),
        st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -0.0, 0.0, 1e308, 5e-324, 10**400, True, "0.5", None]),
        st.just([0.5]),
    )
    keys = st.one_of(valid, near, st.text(max_size=5), st.integers(), _huge_texts())
    every_label = st.fixed_dictionaries({lab: likelihood for lab in labels}) if labels else st.just({})
    soft = st.one_of(every_label, st.dictionaries(keys, likelihood, max_size=5))
    return st.one_of(
        valid,
        near,
        soft,
        _scalars(),
        st.lists(st.one_of(likelihood, st.text(max_size=3)), max_size=4),
        st.tuples(st.floats(), st.floats()),
        st.integers(1, 5).map(lambda d: _nested(10**d)),
        st.sets(st.integers(), max_size=3),
    )


@st.composite
def hostile_answers(draw: st.DrawFn, network: Any) -> Any:
    """A set of answers for ``network`` in which anything may be wrong (or nothing: valid answers too)."""
    if draw(st.integers(0, 9)) == 0:  # not a mapping at all
        return draw(st.one_of(_scalars(), st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=3)))
    questions = list(network.observables)
    n = draw(st.integers(0, 4))
    out: dict[Any, Any] = {}
    for _ in range(n):
        key = draw(st.one_of(st.sampled_from(questions), hostile_ids([*questions, *network.targets])))
        labels = network.states[key] if isinstance(key, str) and key in network.states else ()
        try:
            out[key] = draw(hostile_values(labels))
        except TypeError:  # an unhashable key cannot be in a dict anyway
            continue
    return out


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON-shaped values: scalars (huge ones included) nested in lists and string-keyed objects."""
    return st.recursive(
        _scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@st.composite
def hostile_sessions(draw: st.DrawFn, saved: Mapping[str, Any]) -> Any:
    """A saved session (``Session.to_dict()``) with some fields or history steps replaced by garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values())
    data = {k: v for k, v in saved.items()}
    for key in draw(st.lists(st.sampled_from([*saved, "history_step", "stop_field", "extra"]), max_size=3)):
        if key == "history_step" and isinstance(data.get("history"), list) and data["history"]:
            history = list(data["history"])
            history[draw(st.integers(0, len(history) - 1))] = draw(
                st.one_of(json_values(), st.lists(json_values(), min_size=2, max_size=2))
            )
            data["history"] = history
        elif key == "stop_field" and isinstance(data.get("stop"), dict):
            data["stop"] = {**data["stop"], draw(st.sampled_from([*data["stop"], "x"])): draw(json_values())}
        elif draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(json_values())
    return data
