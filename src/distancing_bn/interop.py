"""Network files and pgmpy: the only module that imports pgmpy (lazily, inside functions).

Converts a :class:`~distancing_bn.network.Network` to and from a pgmpy
``DiscreteBayesianNetwork``; reads BIF (also gzipped) and XMLBIF with pgmpy's readers, and
XDSL, Hugin NET and UAI with thin readers of our own (:mod:`_xdsl`, :mod:`_hugin`, :mod:`_uai`:
pgmpy's readers get those wrong, see ``tests/test_formats.py``); writes every one of them.
The format is found from the file's content where its suffix does not say (``.xml``, ``.gz``).
pgmpy's tables have the child on the first axis and parents after it (in ``evidence`` order);
ours have the parents first and the child last.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ._files import read_capped, write_atomically
from ._netparts import Parts
from .errors import ModelError, ModelSyntaxError, ModelValidationError, ModelWarning, Problem
from .network import Network
from .spec import _LIMITS_DOC, MAX_NETWORK_FILE_BYTES, MAX_STATES, MAX_TABLE_CELLS, _show

_FORMAT_NAMES = {
    ".bif": "BIF",
    ".xmlbif": "XMLBIF",
    ".bifxml": "XMLBIF",
    ".xdsl": "XDSL",
    ".net": "Hugin NET",
    ".uai": "UAI",
}

__all__ = [
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "check_writable",
    "detect_format",
    "load_side_file",
    "network_file_bytes",
    "network_from_pgmpy",
    "read_network_file",
    "to_pgmpy",
    "write_network_file",
]

READ_SUFFIXES = (".bif", ".bif.gz", ".xmlbif", ".bifxml", ".xml", ".xdsl", ".net", ".uai")
WRITE_SUFFIXES = (".bif", ".xmlbif", ".bifxml", ".xdsl", ".net", ".uai")
NETWORK_SUFFIXES = WRITE_SUFFIXES  # kept for callers of the first version
FILE_TOLERANCE = 1e-4  # rows of published tables are rounded (0.333333 x 3, six-decimal files)
WARN_ABOVE = 1e-9  # a row further than this from 1 is reported (float noise is not)
EXACT_ENOUGH = 1e-12  # tables whose rows are all this close to 1 are kept exactly as written
_FORMATS = {"bif": "BIF", "xmlbif": "XMLBIF", "xdsl": "XDSL", "net": "Hugin NET", "uai": "UAI"}
_BY_SUFFIX = {
    ".bif": "bif",
    ".xmlbif": "xmlbif",
    ".bifxml": "xmlbif",
    ".xml": "xmlbif",
    ".xdsl": "xdsl",
    ".net": "net",
    ".uai": "uai",
}


def to_pgmpy(network: Network) -> Any:
    """Return a pgmpy ``DiscreteBayesianNetwork`` equal to ``network`` (ids and state names kept)."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(network.variables)
    model.add_edges_from((p, v) for v in network.variables for p in network.parents[v])
    cpds = []
    for v in network.variables:
        ps = list(network.parents[v])
        arr = network.cpts[v]
        card = network.card(v)
        values = np.moveaxis(arr, -1, 0).reshape(card, -1)
        state_names = {v: list(network.states[v])} | {p: list(network.states[p]) for p in ps}
        cpds.append(
            TabularCPD(
                v,
                card,
                values,
                evidence=ps or None,
                evidence_card=[network.card(p) for p in ps] or None,
                state_names=state_names,
            )
        )
    model.add_cpds(*cpds)
    return model


def network_from_pgmpy(
    model: Any,
    *,
    targets: Sequence[str],
    observables: Sequence[str] | None = None,
    name: str = "network",
    reported: Sequence[str] = (),
    tolerance: float = FILE_TOLERANCE,
    present: Mapping[str, Sequence[str]] | None = None,
) -> Network:
    """Wrap a pgmpy discrete Bayesian network as a :class:`Network`.

    Rows within ``tolerance`` of 1 are divided by their sums (one :class:`ModelWarning` names
    the furthest row).

    Raises
    ------
    ModelError
        A node has no table, or a name in ``targets``/``observables`` is unknown.
    """
    parts = _parts_from_pgmpy(model, name)
    return build_network(
        parts, targets=targets, observables=observables, reported=reported, present=present, tolerance=tolerance
    )


def _parts_from_pgmpy(model: Any, name: str) -> Parts:
    parts = Parts(name=name)
    for node in model.nodes():
        cpd = model.get_cpds(node)
        if cpd is None:
            raise ModelError(f"node '{node}' of the network has no table")
        names = [str(v) for v in cpd.variables]
        child = names[0]
        parts.states[child] = tuple(str(s) for s in cpd.state_names[cpd.variables[0]])
        parts.parents[child] = tuple(names[1:])
        values = np.asarray(cpd.get_values(), dtype=np.float64)  # (card, prod parent cards)
        shape = (*tuple(len(cpd.state_names[p]) for p in cpd.variables[1:]), len(parts.states[child]))
        parts.cpts[child] = values.T.reshape(shape)
    for v, ps in parts.parents.items():  # pgmpy may list parent states as ints: use the parents' own labels
        for p in ps:
            if p not in parts.states:
                raise ModelError(f"parent '{p}' of '{v}' has no table in the network")
    return parts


def build_network(
    parts: Parts,
    *,
    targets: Sequence[str] | None,
    observables: Sequence[str] | None = None,
    reported: Sequence[str] = (),
    present: Mapping[str, Sequence[str]] | None = None,
    texts: Mapping[str, str] | None = None,
    costs: Mapping[str, float] | None = None,
    tolerance: float = FILE_TOLERANCE,
    file: str | None = None,
    what: str = "network",
) -> Network:
    """Validate the parts of a network (roles from the file unless given) and return it.

    Roles: ``targets`` default to the file's (XDSL ``diagtype="target"``); ``observables`` to
    the file's observations (less any given target), else to every non-target. Present states:
    the file's fault states, overridden per variable by ``present``. Texts and costs: the
    file's, overridden by ``texts``/``costs``. ``model.questions`` keep the file's order.
    """
    where = f"{file}: " if file else ""
    if targets is None or len(targets) == 0:
        if not parts.targets:
            raise ModelError(
                f"{where}this {what} gives no roles, so it needs targets: pass them, "
                "e.g. load_network(path, targets=[...]) or --target NAME"
            )
        targets = parts.targets
        if observables is None and parts.observables is not None:
            observables = parts.observables
    elif observables is None and parts.observables is not None:
        observables = [v for v in parts.observables if v not in set(targets)]
    reported = list(reported) or [v for v in parts.reported if v not in set(targets)]
    if parts.observed and observables is not None:
        observables = [v for v in observables if v not in parts.observed]
    _warn_rounded_rows(parts, tolerance, where)
    try:
        net = Network.create(
            parts.name,
            parts.states,
            parts.parents,
            parts.cpts,
            targets=targets,
            observables=observables,
            reported=reported,
            tolerance=tolerance,
            **({"observed": parts.observed} if parts.observed else {}),
        )
    except ModelValidationError as exc:
        if file is None:
            raise
        raise ModelValidationError(
            [replace(pr, file=file, line=pr.line or parts.lines.get(pr.key_path or "") or None) for pr in exc.problems]
        ) from None
    in_file = set(net.observables)
    kept = {v: _as_written(parts.cpts[v], net.cpts[v]) for v in net.variables}
    net = replace(net, observables=tuple(v for v in parts.states if v in in_file), cpts=MappingProxyType(kept))
    return with_extras(
        net,
        present={**parts.present, **(present or {})},
        texts={**parts.texts, **(texts or {})},
        costs={**parts.costs, **(costs or {})},
        disclaimer=parts.disclaimer,
        file=file,
        from_file=set(parts.present),
    )


def _as_written(given: np.ndarray, rescaled: np.ndarray) -> np.ndarray:
    """The table as the file gives it where every row is 1 to float noise (so files round-trip exactly)."""
    arr = np.array(given, dtype=np.float64)
    if arr.shape != rescaled.shape or not np.all(np.abs(arr.sum(axis=-1) - 1.0) <= EXACT_ENOUGH):
        return rescaled
    arr.setflags(write=False)
    return arr


def _warn_rounded_rows(parts: Parts, tolerance: float, where: str) -> None:
    """Warn once, naming the furthest row, if rows off by more than float noise will be rescaled."""
    worst: tuple[float, str, tuple[int, ...], float] | None = None
    count = 0
    for v, arr in parts.cpts.items():
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            continue
        sums = np.asarray(arr.sum(axis=-1))
        dev = np.abs(sums - 1.0)
        off = (dev > WARN_ABOVE) & (dev <= tolerance)
        count += int(np.count_nonzero(off))
        if off.any():
            i = np.unravel_index(int(np.argmax(np.where(off, dev, -1.0))), dev.shape) if dev.ndim else ()
            d = float(dev[i])
            if worst is None or d > worst[0]:
                worst = (d, v, tuple(int(x) for x in i), float(sums[i]))
    if worst is None:
        return
    d, v, idx, total = worst
    ps = parts.parents.get(v, ())
    conf = ", ".join(f"{p}={parts.states[p][k]}" for p, k in zip(ps, idx, strict=False)) or "(no parents)"
    warnings.warn(
        f"{where}{count} table row(s) sum to 1 only within {tolerance:g} and were divided by their sums; "
        f"the furthest is '{v}' given {conf}, summing to {total:.12g}",
        ModelWarning,
        stacklevel=4,
    )


def with_extras(
    network: Network,
    *,
    present: Mapping[str, Sequence[str]] | None = None,
    texts: Mapping[str, str] | None = None,
    costs: Mapping[str, float] | None = None,
    disclaimer: str | None = None,
    file: str | None = None,
    from_file: set[str] | frozenset[str] = frozenset(),
) -> Network:
    """Return ``network`` with present states, question texts, costs and a disclaimer, checked.

    Raises
    ------
    ModelValidationError
        A name that is not a variable, a state the variable does not have, every state of a
        variable named present, a text or cost for a variable that is not a question, or a cost
        that is not a positive finite number; every problem at once.
    """
    problems: list[Problem] = []
    out_present: dict[str, tuple[str, ...]] = {}
    for v, given in (present or {}).items():
        if v not in network.states:
            problems.append(Problem(f"present states given for unknown variable {_show(v)}", file, None, "present"))
            continue
        chosen = (given,) if isinstance(given, str) else tuple(given)
        valid = network.states[v]
        bad = [s for s in chosen if s not in valid]
        if bad or not chosen:
            problems.append(
                Problem(
                    f"{_show(bad[0]) if bad else 'no state'} is not a state of '{v}'; valid: "
                    + ", ".join(map(repr, valid)),
                    file,
                    None,
                    "present",
                )
            )
            continue
        if set(chosen) == set(valid):
            if v in from_file:
                continue  # GeNIe lets every state of a target be a fault: it names no present state
            problems.append(Problem(f"every state of '{v}' is named present: name only some", file, None, "present"))
            continue
        out_present[v] = tuple(s for s in valid if s in set(chosen))
    questions = set(network.observables)
    out_texts: dict[str, str] = {}
    for v, text in (texts or {}).items():
        if v not in network.states:
            problems.append(Problem(f"a text is given for unknown variable {_show(v)}", file, None, "texts"))
        elif not isinstance(text, str) or not text.strip():
            problems.append(Problem(f"the text of '{v}' must be non-empty text", file, None, "texts"))
        else:
            out_texts[v] = text
    out_costs: dict[str, float] = {}
    for v, cost in (costs or {}).items():
        if v not in questions:
            if v not in network.states:
                problems.append(Problem(f"a cost is given for unknown variable {_show(v)}", file, None, "costs"))
            continue  # a cost of a node that is not asked here (e.g. a target) has no use
        ok = isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost) and cost > 0
        if not ok:
            problems.append(
                Problem(f"the cost of '{v}' must be a positive number, got {_show(cost)}", file, None, "costs")
            )
        else:
            out_costs[v] = float(cost)
    if problems:
        raise ModelValidationError(problems)
    return replace(
        network,
        present=MappingProxyType({**dict(network.present), **out_present}),
        texts=MappingProxyType({**dict(network.texts), **out_texts}),
        costs=MappingProxyType({**dict(network.costs), **out_costs}),
        disclaimer=disclaimer if disclaimer is not None else network.disclaimer,
    )


def _format_of(path: Path) -> tuple[str, bool]:
    """Return (format by suffix or '' if unknown, whether the name ends in '.gz')."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    return _BY_SUFFIX.get(Path(name).suffix, ""), gz


_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")


def detect_format(raw: bytes, by_suffix: str = "") -> str:
    """Return the format of a network file's bytes: 'bif', 'xmlbif', 'xdsl', 'net' or 'uai'.

    The content decides (``.xml`` may be XMLBIF or XDSL); ``by_suffix`` is kept where the
    content says nothing clear.
    """
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.DOTALL)
        root = _XML_ROOT.search(body)
        tag = root.group(1).decode("ascii", "replace") if root else ""
        if tag == "smile":
            return "xdsl"
        if tag.upper() in ("BIF", "NETWORK"):
            return "xmlbif"
        return by_suffix if by_suffix in ("xmlbif", "xdsl") else "xmlbif"
    text = head.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines()]
    words = " ".join(ln for ln in lines if ln and not ln.startswith(("//", "%", "#", "/*", "*"))).split()
    first = words[0] if words else ""
    if first.upper() in ("BAYES", "MARKOV"):
        return "uai"
    if first == "network":
        return "bif"
    if first in ("net", "node", "discrete", "potential", "class") or first.startswith("net{"):
        return "net" if by_suffix != "bif" else "bif"
    return by_suffix


def _gunzip(raw: bytes, path: Path) -> bytes:
    from .spec import MAX_NETWORK_FILE_BYTES as limit

    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ModelSyntaxError(f"the file is not valid gzip data ({exc})", file=str(path)) from None
    if len(out) > limit:
        raise ModelSyntaxError(
            f"the file unpacks to more than {limit // 2**20} MiB, the limit (MAX_NETWORK_FILE_BYTES; {_LIMITS_DOC})",
            file=str(path),
        )
    if not d.eof:
        raise ModelSyntaxError("the gzip data is cut short", file=str(path))
    return out


def read_network_file(
    path: str | Path,
    *,
    targets: Sequence[str] | None = None,
    observables: Sequence[str] | None = None,
    reported: Sequence[str] = (),
    present: Mapping[str, Sequence[str]] | None = None,
    texts: Mapping[str, str] | None = None,
    costs: Mapping[str, float] | None = None,
) -> Network:
    """Read a BIF (``.bif``, ``.bif.gz``), XMLBIF (``.xmlbif``, ``.bifxml``, ``.xml``), XDSL,
    Hugin NET or UAI file and return a :class:`Network`.

    The file is read once, at most :data:`~distancing_bn.spec.MAX_NETWORK_FILE_BYTES` (also
    once unpacked), and its format is found from its content where the suffix does not say.
    ``targets`` may be left out when the file gives roles (XDSL diagnosis). Rows that sum to 1
    within 1e-4 are divided by their sums with one :class:`~distancing_bn.errors.ModelWarning`.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read (missing, not a regular file, too large), cannot be parsed, or
        is cut short (a block or table is missing).
    ModelValidationError
        The network is not valid (a row further than 1e-4 from 1 names the node and the parent
        configuration), or roles, present states, texts or costs name unknown variables or
        states; every problem names the file and, where it can, the line.
    """
    p = Path(path)
    by_suffix, gz = _format_of(p)
    if not by_suffix and not gz:
        raise ModelError(
            f"{p}: unknown network format '{''.join(p.suffixes[-2:]) or '(no suffix)'}'; valid: "
            f"{', '.join(READ_SUFFIXES)} (or .yaml)"
        )
    raw = read_capped(
        p,
        limit=MAX_NETWORK_FILE_BYTES,
        limit_name="MAX_NETWORK_FILE_BYTES",
        what=f"{_FORMATS.get(by_suffix, 'network')} network file",
    )
    if gz or raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, p)
    fmt = detect_format(raw, by_suffix) or "bif"
    name = _FORMATS[fmt]
    if not raw.strip():
        raise ModelSyntaxError(f"the file is empty: not a {name} network", file=str(p))
    stem = p.name[: -len(".gz")] if p.name.lower().endswith(".gz") else p.name
    stem = Path(stem).stem
    common = {"targets": targets, "observables": observables, "reported": reported, "present": present}
    extra = {"texts": texts, "costs": costs, "file": str(p), "what": f"{name} network"}
    if fmt in ("net", "uai", "xdsl"):
        from . import _hugin, _uai, _xdsl

        text = _text_of(raw, p, fmt)
        if fmt == "net":
            parts = _hugin.parse(text, str(p), stem)
        elif fmt == "uai":
            parts = _uai.parse(text, str(p), stem)
        else:
            parts = _xdsl.parse(raw, text, str(p), stem)
        if not parts.states:
            raise ModelSyntaxError(f"no variables found: not a {name} network", file=str(p))
        missing = [v for v in parts.states if v not in parts.cpts]
        if missing:
            raise ModelValidationError(
                [Problem(f"variable '{v}' is declared but its table is missing", str(p), None, v) for v in missing]
            )
        return build_network(parts, **common, **extra)
    suffix = "." + fmt
    if fmt == "bif":  # our own reader: pgmpy's costs ~340 MiB and seconds (benchmarks/bench_load.py)
        from . import _bif

        parts = _bif.parse(_network_text(raw, suffix, p), str(p), stem)
        return build_network(parts, **common, **extra)
    if fmt == "xmlbif":
        raw = _with_network_name(raw, stem)
    text = _network_text(raw, suffix, p)
    model = _parse_network(raw, text, suffix, p)
    if len(model.nodes()) == 0:
        raise ModelSyntaxError(f"no variables found: not a {name} network", file=str(p))
    _check_every_table_given(model, text, suffix, p)
    parts = _parts_from_pgmpy(model, stem)
    parts.lines = {v: line for v in parts.states if (line := _line_of(text, v, suffix)) is not None}
    return build_network(parts, **common, **extra)


def _text_of(raw: bytes, path: Path, fmt: str) -> str:
    if fmt == "xdsl":
        return raw.decode("utf-8", errors="replace")  # only to find lines: etree decodes the bytes itself
    try:
        return raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ModelSyntaxError(f"the file is not UTF-8 text (byte {exc.start})", file=str(path), line=line) from None


_NETWORK_TAG = re.compile(rb"<NETWORK(\s[^>]*)?>(\s*<NAME>)?", re.IGNORECASE)


def _with_network_name(raw: bytes, name: str) -> bytes:
    """Give an XMLBIF file without ``<NETWORK><NAME>`` (as aGrUM writes it) a name pgmpy can read."""
    found = _NETWORK_TAG.search(raw)
    if found is None or found.group(2) is not None:
        return raw
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).encode("ascii")
    return raw[: found.end()] + b"<NAME>" + safe + b"</NAME>" + raw[found.end() :]


def load_side_file(path: str | Path) -> dict[str, Any]:
    """Read a side file of texts, costs and present states for a network (YAML or JSON).

    The file maps ``texts`` (variable -> question text), ``costs`` (variable -> cost),
    ``present`` (variable -> a state or a list of states) and ``disclaimer`` (a line). Every
    key is optional.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read or parsed, or it is not such a mapping.
    """
    from .spec import MAX_YAML_FILE_BYTES

    p = Path(path)
    raw = read_capped(p, limit=MAX_YAML_FILE_BYTES, limit_name="MAX_YAML_FILE_BYTES", what="side file")
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            import yaml

            data = yaml.safe_load(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelSyntaxError(f"cannot read the side file: {type(exc).__name__}", file=str(p)) from None
    except Exception as exc:  # yaml's errors
        raise ModelSyntaxError(f"cannot read the side file: {type(exc).__name__}", file=str(p)) from None
    if data is None:
        data = {}
    keys = {"texts", "costs", "present", "disclaimer"}
    if not isinstance(data, dict) or set(data) - keys:
        extra = sorted(map(str, set(data) - keys)) if isinstance(data, dict) else []
        raise ModelSyntaxError(
            "a side file maps texts, costs, present and disclaimer"
            + (f"; unknown: {', '.join(extra[:5])}" if extra else ""),
            file=str(p),
        )
    for key in ("texts", "costs", "present"):
        if not isinstance(data.get(key, {}), dict):
            raise ModelSyntaxError(f"'{key}' must map variable names to values", file=str(p))
    if "disclaimer" in data and not isinstance(data["disclaimer"], str):
        raise ModelSyntaxError("'disclaimer' must be text", file=str(p))
    return data


def _network_text(raw: bytes, suffix: str, path: Path) -> str:
    """Return the text of a network file (UTF-8; XML files may declare another encoding)."""
    if suffix != ".bif":
        return raw.decode("utf-8", errors="replace")  # only to find lines: etree decodes the bytes itself
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ModelSyntaxError(f"the file is not UTF-8 text (byte {exc.start})", file=str(path), line=line) from None
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):  # pgmpy's BIF reader drops a last block not followed by a line end
        text += "\n"
    tail = text[text.rfind("}\n") + 2 :] if "}\n" in text else text
    if unclosed := re.search(r"^\s*(variable|probability)\b", tail, re.MULTILINE):
        line = text.count("\n", 0, len(text) - len(tail) + unclosed.start(1)) + 1
        raise ModelSyntaxError(
            f"the '{unclosed.group(1)}' block is not closed with '}}': the file looks cut short",
            file=str(path),
            line=line,
        )
    return text


_BIF_BLOCK = re.compile(r"(variable|probability).*?\}\n", re.DOTALL)  # as pgmpy's BIF reader splits a file
_BIF_STATES = re.compile(r"type\s+\w+\s*\[\s*\d+\s*\]\s*\{([^}]+)\}\s*;")
_BIF_HEADER = re.compile(r"probability\s*\(([^|)]*)(?:\|([^)]*))?\)")  # linear: no overlapping groups


def _check_bif_table_sizes(text: str, path: Path) -> None:
    """Refuse a BIF file whose tables would be too large, before pgmpy allocates them.

    pgmpy fills a table given row by row into an array of every parent configuration, so a few
    lines naming many parents could ask for gigabytes. Counts the states of each variable and
    the cells of each table as pgmpy's reader will, and checks :data:`~distancing_bn.spec.MAX_STATES`
    and :data:`~distancing_bn.spec.MAX_TABLE_CELLS`.
    """
    states: dict[str, int] = {}
    tables: list[tuple[str, list[str], int]] = []
    for block in _BIF_BLOCK.finditer(text):
        line = text.count("\n", 0, block.start()) + 1
        body = block.group(0)
        if block.group(1) == "variable":
            name = body[len("variable") : body.find("{")].strip()
            declared = _BIF_STATES.search(body)
            if declared:
                raw = declared.group(1)
                n = len([x for x in raw.split(",") if x.strip()] if "," in raw else raw.split())
                if n > MAX_STATES:
                    raise ModelSyntaxError(
                        f"variable '{_cut(name)}' has {n:,} states, more than {MAX_STATES:,} "
                        f"(MAX_STATES; {_LIMITS_DOC})",
                        file=str(path),
                        line=line,
                    )
                states[name.lower()] = n
        elif header := _BIF_HEADER.match(body.split("\n", 1)[0]):
            child, given = header.group(1).strip(), header.group(2)
            words = child.split() or [""]  # without '|', pgmpy reads 'child parent parent ...'
            parents = [x.strip() for x in given.split(",")] if given is not None else words[1:]
            tables.append((child if given is not None else words[0], parents, line))
    for child, parents, line in tables:
        cells = states.get(child.lower(), 1)
        for parent in parents:
            cells *= states.get(parent.lower(), 1)
            if cells > MAX_TABLE_CELLS:
                raise ModelSyntaxError(
                    f"the table of '{_cut(child)}' given its {len(parents)} parents has more than "
                    f"{MAX_TABLE_CELLS:,} cells (MAX_TABLE_CELLS; {_LIMITS_DOC})",
                    file=str(path),
                    line=line,
                )


def _cut(name: str) -> str:
    return name if len(name) <= 38 else name[:37] + "…"


def _parse_network(raw: bytes, text: str, suffix: str, path: Path) -> Any:
    """Return pgmpy's model of the file (XML is parsed from the bytes, with its own encoding)."""
    import warnings

    fmt = _FORMAT_NAMES[suffix]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if suffix == ".bif":
                from pgmpy.readwrite import BIFReader

                return BIFReader(string=text).get_model()
            if suffix == ".xmlbif":
                from pgmpy.readwrite import XMLBIFReader

                return XMLBIFReader(io.BytesIO(raw)).get_model()
            from pgmpy.readwrite import XDSLReader

            return XDSLReader(io.BytesIO(raw)).get_model()
        except Exception as exc:  # pgmpy raises many kinds; report them as one of ours
            detail = f"{type(exc).__name__}: {exc}"
            detail = detail if len(detail) <= 200 else detail[:199] + "…"
            raise ModelSyntaxError(f"cannot read {fmt} network: {detail}", file=str(path)) from None


_TABLE_TERMS = {
    ".bif": "a 'probability ( {v} … )' block",
    ".xmlbif": "a <DEFINITION> whose <FOR> is {v}",
    ".xdsl": 'a <cpt id="{v}"> with <probabilities>',
}


def _check_every_table_given(model: Any, text: str, suffix: str, path: Path) -> None:
    """Refuse a file that declares a variable without giving its table (a cut-short file)."""
    missing = [str(v) for v in model.nodes() if model.get_cpds(v) is None]
    if missing:
        raise ModelValidationError(
            [
                Problem(
                    f"variable '{v}' is declared but its table is missing: add " + _TABLE_TERMS[suffix].format(v=v),
                    str(path),
                    _line_of(text, v, suffix),
                    v,
                )
                for v in missing
            ]
        )


def _line_of(text: str, name: str | None, suffix: str) -> int | None:
    """Return the line where variable ``name`` has its table (else where it is declared), if any."""
    if not name:
        return None
    n = re.escape(name)
    patterns = {
        ".bif": (rf"^\s*probability\s*\(\s*{n}\s*[|)]", rf"^\s*variable\s+{n}\s*\{{"),
        ".xmlbif": (rf"<FOR>\s*{n}\s*</FOR>", rf"<NAME>\s*{n}\s*</NAME>"),
        ".xdsl": (rf"<cpt\s+id=\"{n}\"",),
    }[suffix]
    for pattern in patterns:
        if found := re.search(pattern, text, re.MULTILINE):
            return text.count("\n", 0, found.start()) + 1
    return None


# ----------------------------------------------------------------------------- writing
_XML_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# what pgmpy's BIF reader splits names on, strips as comments, or reads as the start of a table
_BIF_UNSAFE = re.compile(r'[\s"{}(),;|]|//|/\*|(?:table|default)[\deE+\-.]')
_XMLBIF_STATE = re.compile(r"[A-Za-z0-9_]+")
_VALID_NAMES = {
    (".bif", "variable"): "no spaces, quotes, '{}(),;|', '//', or 'table'/'default' before a digit",
    (".bif", "state"): "no spaces, quotes, '{}(),;|', '//', or 'table'/'default' before a digit",
    (".xmlbif", "variable"): "no control characters and no spaces at either end",
    (".xmlbif", "state"): "ASCII letters, digits and '_' only (pgmpy renames any other state)",
    (".xdsl", "variable"): "no spaces or control characters",
    (".xdsl", "state"): "no control characters and no spaces at either end",
    (".bifxml", "variable"): "no control characters and no spaces at either end",
    (".bifxml", "state"): "ASCII letters, digits and '_' only (pgmpy renames any other state)",
}


def _unreadable(name: str, suffix: str, kind: str) -> bool:
    """Return True if ``name`` would not read back unchanged from a ``suffix`` file."""
    if not name:
        return True
    if suffix == ".bif":
        return bool(_BIF_UNSAFE.search(name))
    if _XML_UNSAFE.search(name) or name != name.strip():
        return True
    if suffix in (".xmlbif", ".bifxml"):
        return kind == "state" and not _XMLBIF_STATE.fullmatch(name)
    return kind == "variable" and any(c.isspace() for c in name)


def check_writable(network: Network, suffix: str) -> None:
    """Refuse a network whose names a ``suffix`` file cannot hold so that they read back.

    Raises
    ------
    ModelError
        Names the first variable or state that would not read back, and what that format allows.
    """
    fmt = _FORMAT_NAMES[suffix]
    if suffix in (".net", ".uai"):
        from . import _hugin

        why = (
            _hugin.unwritable(list(network.variables), dict(network.states))
            if suffix == ".net"
            else next(
                (
                    f"the name of {_show(v)} or of one of its states has a line break"
                    for v in network.variables
                    if any("\n" in x or "\r" in x for x in (v, *network.states[v]))
                ),
                None,
            )
        )
        if why:
            raise ModelError(f"cannot write as {fmt}: it would not read back; {why}")
        return
    for v in network.variables:
        if _unreadable(v, suffix, "variable"):
            raise ModelError(
                f"cannot write variable {_show(v)} as {fmt}: it would not read back; "
                f"{fmt} variable names need {_VALID_NAMES[suffix, 'variable']}"
            )
        for s in network.states[v]:
            if _unreadable(s, suffix, "state"):
                raise ModelError(
                    f"cannot write state {_show(s)} of variable {_show(v)} as {fmt}: it would not read back; "
                    f"{fmt} state names need {_VALID_NAMES[suffix, 'state']}"
                )
    if suffix == ".bif":  # pgmpy's BIF reader matches variable names whatever their case
        seen: dict[str, str] = {}
        for v in network.variables:
            if (other := seen.setdefault(v.lower(), v)) != v:
                raise ModelError(
                    f"cannot write variables {_show(other)} and {_show(v)} as BIF: they would not read back, as "
                    "its reader takes names that differ only in case for one variable"
                )


def network_file_bytes(
    network: Network,
    suffix: str,
    *,
    noisy: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]] | None = None,
) -> bytes:
    """Return ``network`` as the bytes of a BIF, XMLBIF, XDSL, Hugin NET or UAI file (UTF-8).

    Names are checked first. XDSL files carry the roles (targets, observations, auxiliaries),
    the present states of targets (``fault="true"``), texts, costs and the disclaimer; NET
    files the texts (``label``); UAI files the names, in comments.
    """
    if suffix not in WRITE_SUFFIXES:
        raise ModelError(f"cannot write '{suffix}'; valid: {', '.join(WRITE_SUFFIXES)}")
    check_writable(network, suffix)
    variables = list(network.variables)
    if suffix == ".xdsl":
        from . import _xdsl

        return _xdsl.dump(
            network.name,
            variables,
            network.states,
            network.parents,
            network.cpts,
            targets=network.targets,
            observables=network.observables,
            reported=network.reported,
            present=network.present,
            texts=network.texts,
            costs=network.costs,
            disclaimer=network.disclaimer,
            observed=network.observed,
            noisy=noisy,
        )
    if suffix in (".net", ".uai"):
        from . import _hugin, _uai
        from ._netparts import extras_json

        extras = extras_json(
            targets=network.targets,
            observables=network.observables,
            reported=network.reported,
            present=network.present,
            texts=network.texts,
            costs=network.costs,
            observed=network.observed,
            disclaimer=network.disclaimer,
        )
        states, parents, cpts = dict(network.states), dict(network.parents), dict(network.cpts)
        if suffix == ".net":
            return _hugin.dump(variables, states, parents, cpts, dict(network.texts), extras).encode("utf-8")
        return _uai.dump(variables, states, parents, cpts, extras).encode("utf-8")
    from pgmpy.readwrite import BIFWriter, XMLBIFWriter

    model = to_pgmpy(network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if suffix == ".bif":
            return str(BIFWriter(model)).encode("utf-8")
        return str(XMLBIFWriter(model)).encode("utf-8")


def write_network_file(
    network: Network,
    path: str | Path,
    *,
    noisy: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]] | None = None,
) -> None:
    """Write ``network`` as BIF, XMLBIF, XDSL, Hugin NET or UAI (by suffix), atomically; the mode follows the umask.

    Raises
    ------
    ModelError
        The suffix is unknown, a name would not read back from that format (nothing is written),
        or the file cannot be written (a missing or read-only folder).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ModelError(f"{p}: cannot write '{suffix}'; valid: {', '.join(WRITE_SUFFIXES)}")
    try:
        data = network_file_bytes(network, suffix, noisy=noisy)
    except ModelError as exc:
        raise ModelError(f"{p}: {exc}") from None
    write_atomically(p, data, what=f"{_FORMAT_NAMES[suffix]} file")
