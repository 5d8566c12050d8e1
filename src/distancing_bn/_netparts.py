"""The parts of a network file as our own readers return them, before validation.

Shared by the Hugin (:mod:`_hugin`), UAI (:mod:`_uai`) and XDSL (:mod:`_xdsl`) readers and
writers and by :mod:`interop`, which turns :class:`Parts` into a validated ``Network``.
Tables use our layout: one axis per parent (in ``parents`` order), the child's states last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .errors import ModelSyntaxError
from .spec import _LIMITS_DOC, MAX_STATES, MAX_TABLE_CELLS

__all__ = ["EXTRAS_TAG", "Parts", "apply_extras", "check_sizes", "extras_json", "format_number"]


@dataclass
class Parts:
    """What a network file says: variables in file order, tables, and any roles or texts."""

    name: str
    states: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cpts: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # where each variable's table is
    targets: list[str] | None = None  # roles given by the file (XDSL diagnosis), else None
    observables: list[str] | None = None
    reported: list[str] = field(default_factory=list)
    observed: dict[str, str] = field(default_factory=dict)  # always-observed premises (XDSL property)
    present: dict[str, tuple[str, ...]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    disclaimer: str | None = None


def check_sizes(name: str, n_states: int, table_cells: int, path: str, line: int | None) -> None:
    """Refuse a variable with too many states or a table with too many cells (before building it)."""
    if n_states > MAX_STATES:
        raise ModelSyntaxError(
            f"variable {_cut(name)!r} has {n_states:,} states, more than {MAX_STATES:,} (MAX_STATES; {_LIMITS_DOC})",
            file=path,
            line=line,
        )
    if table_cells > MAX_TABLE_CELLS:
        raise ModelSyntaxError(
            f"the table of {_cut(name)!r} has {table_cells:,} cells, more than {MAX_TABLE_CELLS:,} "
            f"(MAX_TABLE_CELLS; {_LIMITS_DOC})",
            file=path,
            line=line,
        )


def format_number(x: float) -> str:
    """The shortest text that reads back as exactly ``x`` ('0.1', '1', '2.5e-07')."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_number(token: str, what: str, path: str, line: int | None) -> float:
    """Read one decimal number, or raise a syntax error naming ``what`` it was for."""
    if not _NUMBER.fullmatch(token):
        raise ModelSyntaxError(f"{what}: expected a number, got {_cut(token)!r}", file=path, line=line)
    return float(token)


def _cut(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


EXTRAS_TAG = "distancing-bn: "


def extras_json(
    *,
    targets: Sequence[str],
    observables: Sequence[str],
    reported: Sequence[str],
    present: Mapping[str, Sequence[str]],
    texts: Mapping[str, str],
    costs: Mapping[str, float],
    observed: Mapping[str, str],
    disclaimer: str | None,
) -> str:
    """One line of JSON (ASCII, no line breaks) with what a NET or UAI file has no place for."""
    data: dict[str, object] = {"targets": list(targets), "observables": list(observables)}
    for key, value in (
        ("reported", list(reported)),
        ("present", {k: list(v) for k, v in present.items()}),
        ("texts", dict(texts)),
        ("costs", dict(costs)),
        ("observed", dict(observed)),
    ):
        if value:
            data[key] = value
    if disclaimer:
        data["disclaimer"] = disclaimer
    return json.dumps(data, ensure_ascii=True)


def apply_extras(parts: Parts, line_text: str, path: str, line: int | None) -> None:
    """Read the line written by :func:`extras_json` into ``parts`` (names are checked later)."""
    try:
        data = json.loads(line_text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        parts.targets = [str(v) for v in data.get("targets", [])] or None
        parts.observables = [str(v) for v in data["observables"]] if "observables" in data else None
        parts.reported = [str(v) for v in data.get("reported", [])]
        parts.present.update({str(k): tuple(str(s) for s in v) for k, v in data.get("present", {}).items()})
        parts.texts.update({str(k): str(v) for k, v in data.get("texts", {}).items()})
        parts.costs.update({str(k): float(v) for k, v in data.get("costs", {}).items()})
        parts.observed.update({str(k): str(v) for k, v in data.get("observed", {}).items()})
        if isinstance(data.get("disclaimer"), str):
            parts.disclaimer = data["disclaimer"]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelSyntaxError(
            f"the '{EXTRAS_TAG.strip()}' line (roles, texts, costs) is damaged: {type(exc).__name__}",
            file=path,
            line=line,
        ) from None
