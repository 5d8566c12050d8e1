"""pgmpy interop: the only module that imports pgmpy (lazily, inside functions).

Converts a :class:`~distancing_bn.network.Network` to and from a pgmpy
``DiscreteBayesianNetwork`` and reads/writes BIF, XMLBIF and XDSL files with pgmpy's readers
and writers. pgmpy's tables have the child on the first axis and parents after it (in
``evidence`` order); ours have the parents first and the child last.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, ModelSyntaxError
from .network import Network

__all__ = ["network_from_pgmpy", "read_network_file", "to_pgmpy", "write_network_file"]

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


def read_network_file(
    path: str | Path, *, targets: Sequence[str], observables: Sequence[str] | None = None, reported: Sequence[str] = ()
) -> Network:
    """Read a BIF, XMLBIF or XDSL file with pgmpy's readers and return a :class:`Network`.

    Raises
    ------
    ModelSyntaxError
        The file cannot be read or parsed.
    ModelError
        The network is not valid, or ``targets``/``observables`` name unknown variables.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in NETWORK_SUFFIXES:
        raise ModelError(f"{p}: unknown network format '{suffix}'; valid: {', '.join(NETWORK_SUFFIXES)} (or .yaml)")
    if not p.is_file():
        raise ModelSyntaxError("no such file", file=str(p))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if suffix == ".bif":
                from pgmpy.readwrite import BIFReader

                model = BIFReader(str(p)).get_model()
            elif suffix == ".xmlbif":
                from pgmpy.readwrite import XMLBIFReader

                model = XMLBIFReader(str(p)).get_model()
            else:
                from pgmpy.readwrite import XDSLReader

                model = XDSLReader(str(p)).get_model()
        except Exception as exc:  # pgmpy raises many kinds; report them as one of ours
            raise ModelSyntaxError(
                f"cannot read {suffix[1:].upper()} network: {type(exc).__name__}: {exc}", file=str(p)
            ) from exc
    if len(model.nodes()) == 0:
        raise ModelSyntaxError(f"no variables found: not a {suffix[1:].upper()} network", file=str(p))
    return network_from_pgmpy(model, targets=targets, observables=observables, name=p.stem, reported=reported)


def write_network_file(network: Network, path: str | Path) -> None:
    """Write ``network`` as BIF, XMLBIF or XDSL (by suffix), atomically."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in NETWORK_SUFFIXES:
        raise ModelError(f"{p}: cannot write '{suffix}'; valid: {', '.join(NETWORK_SUFFIXES)}")
    from pgmpy.readwrite import BIFWriter, XDSLWriter, XMLBIFWriter

    writer_cls = {".bif": BIFWriter, ".xmlbif": XMLBIFWriter, ".xdsl": XDSLWriter}[suffix]
    writer = writer_cls(to_pgmpy(network))
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer.write(tmp)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
