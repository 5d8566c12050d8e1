"""pgmpy interop: the only module that imports pgmpy (lazily, inside functions).

Converts a :class:`~distancing_bn.network.Network` to and from a pgmpy
``DiscreteBayesianNetwork`` and reads/writes BIF, XMLBIF and XDSL files with pgmpy's readers
and writers. pgmpy's tables have the child on the first axis and parents after it (in
``evidence`` order); ours have the parents first and the child last.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ._files import read_capped, write_atomically
from .errors import ModelError, ModelSyntaxError, ModelValidationError, Problem
from .network import Network
from .spec import _LIMITS_DOC, MAX_NETWORK_FILE_BYTES, MAX_STATES, MAX_TABLE_CELLS, _show

__all__ = [
    "check_writable",
    "network_file_bytes",
    "network_from_pgmpy",
    "read_network_file",
    "to_pgmpy",
    "write_network_file",
]

NETWORK_SUFFIXES = (".bif", ".xmlbif", ".xdsl")
FILE_TOLERANCE = 1e-6  # published tables are rounded (rows such as 0.9999999)


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
) -> Network:
    """Wrap a pgmpy discrete Bayesian network as a :class:`Network`.

    Raises
    ------
    ModelError
        A node has no table, or a name in ``targets``/``observables`` is unknown.
    """
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for node in model.nodes():
        cpd = model.get_cpds(node)
        if cpd is None:
            raise ModelError(f"node '{node}' of the pgmpy model has no CPD")
        names = [str(v) for v in cpd.variables]
        child = names[0]
        ps = tuple(names[1:])
        states[child] = tuple(str(s) for s in cpd.state_names[cpd.variables[0]])
        parents[child] = ps
        values = np.asarray(cpd.get_values(), dtype=np.float64)  # (card, prod parent cards)
        shape = (*tuple(len(cpd.state_names[p]) for p in cpd.variables[1:]), len(states[child]))
        cpts[child] = values.T.reshape(shape)
    for v, ps in parents.items():  # pgmpy may list parent states as ints: use the parents' own labels
        for p in ps:
            if p not in states:
                raise ModelError(f"parent '{p}' of '{v}' has no CPD in the pgmpy model")
    return Network.create(
        name, states, parents, cpts, targets=targets, observables=observables, reported=reported, tolerance=tolerance
    )


_FORMAT_NAMES = {".bif": "BIF", ".xmlbif": "XMLBIF", ".xdsl": "XDSL"}


def read_network_file(
    path: str | Path, *, targets: Sequence[str], observables: Sequence[str] | None = None, reported: Sequence[str] = ()
) -> Network:
    """Read a BIF, XMLBIF or XDSL file with pgmpy's readers and return a :class:`Network`.

    The file is read once, at most :data:`~distancing_bn.spec.MAX_NETWORK_FILE_BYTES`, before
    pgmpy parses it; every problem found in the network is reported with the file's name.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read (missing, not a regular file, too large), cannot be parsed, or
        is cut short (a block or table is missing).
    ModelValidationError
        The network is not valid, or ``targets``/``observables`` name unknown variables; every
        problem names the file and, where it can, the line.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in NETWORK_SUFFIXES:
        raise ModelError(f"{p}: unknown network format '{suffix}'; valid: {', '.join(NETWORK_SUFFIXES)} (or .yaml)")
    fmt = _FORMAT_NAMES[suffix]
    raw = read_capped(p, limit=MAX_NETWORK_FILE_BYTES, limit_name="MAX_NETWORK_FILE_BYTES", what=f"{fmt} network file")
    if not raw.strip():
        raise ModelSyntaxError(f"the file is empty: not a {fmt} network", file=str(p))
    text = _network_text(raw, suffix, p)
    if suffix == ".bif":
        _check_bif_table_sizes(text, p)
    model = _parse_network(raw, text, suffix, p)
    if len(model.nodes()) == 0:
        raise ModelSyntaxError(f"no variables found: not a {fmt} network", file=str(p))
    _check_every_table_given(model, text, suffix, p)
    try:
        return network_from_pgmpy(model, targets=targets, observables=observables, name=p.stem, reported=reported)
    except ModelValidationError as exc:  # name the file, and the line of the variable a problem is about
        raise ModelValidationError(
            [replace(pr, file=str(p), line=_line_of(text, pr.key_path, suffix)) for pr in exc.problems]
        ) from None


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
}


def _unreadable(name: str, suffix: str, kind: str) -> bool:
    """Return True if ``name`` would not read back unchanged from a ``suffix`` file."""
    if not name:
        return True
    if suffix == ".bif":
        return bool(_BIF_UNSAFE.search(name))
    if _XML_UNSAFE.search(name) or name != name.strip():
        return True
    if suffix == ".xmlbif":
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


def network_file_bytes(network: Network, suffix: str) -> bytes:
    """Return ``network`` as the bytes of a BIF, XMLBIF or XDSL file (UTF-8), checking its names first."""
    if suffix not in NETWORK_SUFFIXES:
        raise ModelError(f"cannot write '{suffix}'; valid: {', '.join(NETWORK_SUFFIXES)}")
    check_writable(network, suffix)
    import warnings

    from pgmpy.readwrite import BIFWriter, XDSLWriter, XMLBIFWriter

    model = to_pgmpy(network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if suffix == ".bif":
            return str(BIFWriter(model)).encode("utf-8")
        if suffix == ".xmlbif":
            return str(XMLBIFWriter(model)).encode("utf-8")
        with tempfile.TemporaryDirectory() as folder:  # pgmpy's XDSL writer only writes to a path
            tmp = Path(folder) / "network.xdsl"
            XDSLWriter(model).write(str(tmp))
            return tmp.read_bytes()


def write_network_file(network: Network, path: str | Path) -> None:
    """Write ``network`` as BIF, XMLBIF or XDSL (by suffix), atomically; the mode follows the umask.

    Raises
    ------
    ModelError
        The suffix is unknown, a name would not read back from that format (nothing is written),
        or the file cannot be written (a missing or read-only folder).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in NETWORK_SUFFIXES:
        raise ModelError(f"{p}: cannot write '{suffix}'; valid: {', '.join(NETWORK_SUFFIXES)}")
    try:
        data = network_file_bytes(network, suffix)
    except ModelError as exc:
        raise ModelError(f"{p}: {exc}") from None
    write_atomically(p, data, what=f"{_FORMAT_NAMES[suffix]} file")
