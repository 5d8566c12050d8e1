"""GeNIe/SMILE ``.xdsl`` files, with their diagnostic roles.

A thin reader and writer of our own: pgmpy 1.1.2's ``XDSLReader`` ignores GeNIe's diagnosis
attributes (``diagtype`` and the ``fault`` states), reads ``deterministic`` nodes as missing,
and splits ``<parents>`` on single spaces only; see ``tests/test_formats.py``.

Read: ``cpt`` nodes (numbers with the last parent changing fastest and the node's own states
fastest of all, which is our layout), ``deterministic`` nodes (``resultingstates``), the
diagnosis roles (``diagtype="target"`` — also accepted as ``"fault"`` —, ``"observation"``
and ``"auxiliary"``) and ``fault="true"`` states, which count as the target's present states.
A node's ``<name>`` in the GeNIe extension is its text when it differs from its id; a
``<property id="cost">`` is the cost of asking an observation, ``<property id="role">facet``
marks an auxiliary node whose marginal is reported, and ``<property id="disclaimer">`` under
``<properties>`` of the network is the line shown with every result, and
``<property id="observed">STATE`` marks a premise that every query is conditioned on. ``noisymax``
nodes are read as SMILE defines them (Díez parameters, see :func:`_noisy_max_table`) and our
noisy-MAX questions are written as such; ``equation``, ``decision`` and ``utility`` nodes
are refused.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ._netparts import Parts, check_sizes, format_number, parse_number
from .errors import ModelSyntaxError

__all__ = ["dump", "parse"]

_ROLES = {"target": "target", "fault": "target", "observation": "observation", "auxiliary": "auxiliary"}


def _line(text: str, node_id: str) -> int | None:
    found = re.search(rf"<\w+\s+id=\"{re.escape(node_id)}\"", text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def parse(raw: bytes, text: str, path: str, name: str) -> Parts:
    """Read an XDSL file (``raw``: its bytes, parsed with their declared encoding; ``text``: for lines)."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ModelSyntaxError(
            f"cannot read XDSL network: ParseError: {exc}", file=path, line=exc.position[0]
        ) from None
    if root.tag != "smile":
        raise ModelSyntaxError(f"the root element is <{root.tag[:40]}>, not <smile>: not an XDSL file", file=path)
    nodes = root.find("nodes")
    if nodes is None:
        raise ModelSyntaxError("no <nodes> element: not an XDSL network", file=path)
    parts = Parts(name=name)
    roles: dict[str, str] = {}
    facets: set[str] = set()
    for node in nodes:
        node_id = node.get("id", "")
        line = _line(text, node_id)
        if node.tag not in ("cpt", "deterministic", "noisymax"):
            how = {
                "equation": "continuous nodes are not supported",
            }.get(node.tag, "influence-diagram nodes are not supported")
            raise ModelSyntaxError(f"node {node_id[:40]!r} is a <{node.tag[:20]}> node: {how}", file=path, line=line)
        if not node_id:
            raise ModelSyntaxError(f"a <{node.tag}> node has no id", file=path, line=line)
        if node_id in parts.states:
            raise ModelSyntaxError(f"node {node_id[:40]!r} is declared twice", file=path, line=line)
        states = tuple(s.get("id", "") for s in node.findall("state"))
        if node.tag == "noisymax" and node.findtext("property[@id='order']") == "reversed":
            states = states[::-1]  # ours: a question's answers, written from the last to the first
        fault = tuple(s.get("id", "") for s in node.findall("state") if s.get("fault", "").lower() == "true")
        found = node.find("parents")
        parents = tuple((found.text or "").split()) if found is not None else ()
        for p in parents:
            if p not in parts.states:
                raise ModelSyntaxError(
                    f"node {node_id[:40]!r} names parent {p[:40]!r} before it is declared (or not at all)",
                    file=path,
                    line=line,
                )
        shape = (*tuple(len(parts.states[p]) for p in parents), len(states))
        check_sizes(node_id, len(states), int(np.prod(shape, dtype=object)), path, line)
        parts.states[node_id] = states
        parts.parents[node_id] = parents
        parts.cpts[node_id] = _table(node, node_id, states, shape, path, line)
        parts.lines[node_id] = line or 0
        if (role := node.get("diagtype")) is not None:
            if role.lower() not in _ROLES:
                raise ModelSyntaxError(
                    f"node {node_id[:40]!r} has diagtype {role[:20]!r}; valid: target, observation, auxiliary",
                    file=path,
                    line=line,
                )
            roles[node_id] = _ROLES[role.lower()]
        if fault:
            parts.present[node_id] = fault
        for prop in node.findall("property"):
            key, value = prop.get("id", ""), (prop.text or "").strip()
            if key == "cost":
                parts.costs[node_id] = parse_number(value, f"the cost of {node_id[:40]!r}", path, line)
            elif key == "role" and value == "facet":
                facets.add(node_id)
            elif key == "observed":
                if value not in states:
                    raise ModelSyntaxError(
                        f"node {node_id[:40]!r} is observed in state {value[:40]!r}, which it does not have",
                        file=path,
                        line=line,
                    )
                parts.observed[node_id] = value
    order: dict[str, list[str]] = {}
    for prop in root.findall("properties/property"):
        if prop.get("id") == "disclaimer" and (prop.text or "").strip():
            parts.disclaimer = (prop.text or "").strip()
        elif prop.get("id") in ("targets", "reported"):  # our own: the order of causes and facets
            order[str(prop.get("id"))] = (prop.text or "").split()
    for ext in root.findall("extensions/genie/node"):
        node_id, label = ext.get("id", ""), ext.findtext("name")
        if node_id in parts.states and label is not None and label.strip() and label.strip() != node_id:
            parts.texts[node_id] = label.strip()
    if roles:
        parts.targets = [v for v in parts.states if roles.get(v) == "target"]
        parts.observables = [v for v in parts.states if roles.get(v) == "observation"]
        facets -= set(parts.targets) | set(parts.observables)
    parts.reported = [v for v in parts.states if v in facets]
    if parts.targets and sorted(order.get("targets", [])) == sorted(parts.targets):
        parts.targets = order["targets"]
    if parts.reported and sorted(order.get("reported", [])) == sorted(parts.reported):
        parts.reported = order["reported"]
    return parts


def _table(
    node: ET.Element, node_id: str, states: tuple[str, ...], shape: tuple[int, ...], path: str, line: int | None
) -> np.ndarray:
    """The table of a ``cpt`` (its probabilities) or ``deterministic`` node (its resulting states)."""
    cells = int(np.prod(shape))
    if node.tag == "noisymax":
        table = _noisy_max_table(node, node_id, shape, path, line)
        if node.findtext("property[@id='order']") == "reversed":  # ours: answers were written last to first
            table = table[..., ::-1]
        return table
    if node.tag == "deterministic":
        found = (node.findtext("resultingstates") or "").split()
        if len(found) * len(states) != cells:
            raise ModelSyntaxError(
                f"node {node_id[:40]!r} has {len(found)} resulting states; expected {cells // max(len(states), 1)}",
                file=path,
                line=line,
            )
        table = np.zeros((len(found), len(states)))
        for i, s in enumerate(found):
            if s not in states:
                raise ModelSyntaxError(
                    f"node {node_id[:40]!r}: unknown resulting state {s[:40]!r}", file=path, line=line
                )
            table[i, states.index(s)] = 1.0
        return table.reshape(shape)
    text = node.findtext("probabilities")
    if text is None:
        raise ModelSyntaxError(
            f"variable {node_id[:40]!r} is declared but its table is missing: add <probabilities>", file=path, line=line
        )
    numbers = [parse_number(t, f"the table of {node_id[:40]!r}", path, line) for t in text.split()]
    if len(numbers) != cells:
        raise ModelSyntaxError(
            f"the table of {node_id[:40]!r} has {len(numbers)} numbers; expected {cells} "
            f"({' x '.join(map(str, shape))}: parents, then its states)",
            file=path,
            line=line,
        )
    return np.array(numbers, dtype=np.float64).reshape(shape)


def _noisy_max_table(node: ET.Element, node_id: str, shape: tuple[int, ...], path: str, line: int | None) -> np.ndarray:
    """The table of a GeNIe ``noisymax`` node from its (Díez) parameters, as SMILE defines it.

    ``<strengths>`` gives, parent after parent, that parent's state indices from the strongest
    to the distinguished one (last). ``<parameters>`` gives, parent after parent and in that
    order, one distribution over the node's states per parent state (the node's last state is
    its distinguished one), then the leak distribution. With the states ranked from the last
    (lowest) up, P(node <= y | parents) is the product over parents of P(y_i <= y | x_i) times
    the leak's P(<= y).
    """
    parent_cards, m = shape[:-1], shape[-1]
    what = f"the noisy-MAX parameters of {node_id[:40]!r}"
    strengths = [parse_number(t, what, path, line) for t in (node.findtext("strengths") or "").split()]
    params = [parse_number(t, what, path, line) for t in (node.findtext("parameters") or "").split()]
    want = (sum(parent_cards) + 1) * m
    if len(params) != want or len(strengths) != sum(parent_cards):
        raise ModelSyntaxError(
            f"{what}: {len(params)} parameters and {len(strengths)} strengths; expected {want} and "
            f"{sum(parent_cards)} (a distribution over its {m} states per parent state, then the leak)",
            file=path,
            line=line,
        )
    cols = np.array(params, dtype=np.float64).reshape(-1, m)
    # upper[k] = P(state index >= k): the share at or below level k when the last state is lowest
    upper = np.cumsum(cols[:, ::-1], axis=1)[:, ::-1]
    table = np.broadcast_to(upper[-1], (*parent_cards, m)).copy()
    offset = 0
    for i, card in enumerate(parent_cards):
        order = [int(x) for x in strengths[offset : offset + card]]
        if sorted(order) != list(range(card)):
            raise ModelSyntaxError(
                f"{what}: the strengths of parent {i + 1} are not an order of its states", file=path, line=line
            )
        by_state = np.empty((card, m))
        for pos, state in enumerate(order):
            by_state[state] = upper[offset + pos]
        view = [1] * len(parent_cards) + [m]
        view[i] = card
        table *= by_state.reshape(view)
        offset += card
    probs = table - np.concatenate([table[..., 1:], np.zeros((*parent_cards, 1))], axis=-1)
    return np.clip(probs, 0.0, 1.0)


def _noisy_max_lines(
    v: str,
    role: str,
    states: tuple[str, ...],
    parents: tuple[str, ...],
    leak: Sequence[float],
    strengths: Sequence[Sequence[float]],
    cost: float | None,
) -> list[str]:
    """A ``noisymax`` node for one of our noisy-MAX questions (see :func:`dump`)."""

    def level(upper: Sequence[float]) -> list[float]:  # answers 0 .. K-1, answer 0 takes the rest
        return [max(0.0, 1.0 - sum(upper)), *upper]

    k = len(states)
    distinguished = [0.0] * (k - 1) + [1.0]
    columns: list[float] = []
    for s in strengths:
        columns += level(s)[::-1] + distinguished  # the parent present (strongest), then absent
    columns += level(leak)[::-1]
    lines = [f'    <noisymax id={quoteattr(v)} diagtype="{role}">']
    lines += [f"      <state id={quoteattr(s)} />" for s in states[::-1]]
    if parents:
        lines.append(f"      <parents>{escape(' '.join(parents))}</parents>")
    lines.append("      <strengths>" + " ".join("1 0" for _ in parents) + "</strengths>")
    lines.append("      <parameters>" + " ".join(format_number(x) for x in columns) + "</parameters>")
    if cost is not None:
        lines.append(f'      <property id="cost">{format_number(cost)}</property>')
    lines += ['      <property id="order">reversed</property>', "    </noisymax>"]
    return lines


def dump(
    name: str,
    variables: Sequence[str],
    states: Mapping[str, tuple[str, ...]],
    parents: Mapping[str, tuple[str, ...]],
    cpts: Mapping[str, np.ndarray],
    *,
    targets: Sequence[str],
    observables: Sequence[str],
    reported: Sequence[str] = (),
    present: Mapping[str, tuple[str, ...]] | None = None,
    texts: Mapping[str, str] | None = None,
    costs: Mapping[str, float] | None = None,
    disclaimer: str | None = None,
    observed: Mapping[str, str] | None = None,
    noisy: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]] | None = None,
) -> bytes:
    """Return an XDSL file with the roles as GeNIe writes them (targets, observations, auxiliaries).

    ``noisy`` maps a question to its leak and per-parent strengths (our noisy-MAX: answers
    from the lowest, parents with states ``absent, present``); such a question is written as a
    GeNIe ``noisymax`` node, its answers from the last to the first (GeNIe's distinguished
    state is the last), with ``<property id="order">reversed</property>`` so that it reads back
    in our order.
    """
    present = present or {}
    texts = texts or {}
    costs = costs or {}
    tset, oset, rset = set(targets), set(observables), set(reported)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<smile version="1.0" id={quoteattr(name)} numsamples="10000" discsamples="10000">',
    ]
    props = [f'    <property id="targets">{escape(" ".join(targets))}</property>']
    if reported:
        props.append(f'    <property id="reported">{escape(" ".join(reported))}</property>')
    if disclaimer:
        props.append(f'    <property id="disclaimer">{escape(disclaimer)}</property>')
    out += ["  <properties>", *props, "  </properties>"]
    out.append("  <nodes>")
    for v in variables:
        role = "target" if v in tset else "observation" if v in oset else "auxiliary"
        if noisy and v in noisy:
            out += _noisy_max_lines(v, role, states[v], parents[v], *noisy[v], costs.get(v) if v in oset else None)
            continue
        out.append(f'    <cpt id={quoteattr(v)} diagtype="{role}">')
        faults = set(present.get(v, ())) if v in tset else set()
        for s in states[v]:
            flag = ' fault="true"' if s in faults else ""
            out.append(f"      <state id={quoteattr(s)}{flag} />")
        if parents[v]:
            out.append(f"      <parents>{escape(' '.join(parents[v]))}</parents>")
        out.append("      <probabilities>" + " ".join(format_number(x) for x in cpts[v].ravel()) + "</probabilities>")
        if v in costs and v in oset:
            out.append(f'      <property id="cost">{format_number(costs[v])}</property>')
        if v in rset and v not in tset and v not in oset:
            out.append('      <property id="role">facet</property>')
        if observed and v in observed:
            out.append(f'      <property id="observed">{escape(observed[v])}</property>')
        out.append("    </cpt>")
    out += ["  </nodes>", "  <extensions>", f'    <genie version="1.0" app="distancing-bn" name={quoteattr(name)}>']
    for v in variables:
        out.append(f"      <node id={quoteattr(v)}><name>{escape(texts.get(v, v))}</name></node>")
    out += ["    </genie>", "  </extensions>", "</smile>", ""]
    return "\n".join(out).encode("utf-8")
