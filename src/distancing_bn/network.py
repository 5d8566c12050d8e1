"""The compiled network: variables, states, roles and CPT arrays.

A :class:`Network` is the engine's view of any discrete Bayesian network, whether it came from
one of our YAML models (:func:`compile_spec`) or from a BIF/XMLBIF/XDSL file or a pgmpy model
(see :mod:`distancing_bn.interop`). Imports numpy, :mod:`errors`, :mod:`spec` and :mod:`cpt`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cpt import binary_table, noisy_max, noisy_or
from .errors import ModelTooLargeError, ModelValidationError, Problem, UnknownVariableError
from .spec import CAUSE_STATES, ModelSpec

__all__ = ["DEFAULT_MEMORY_BUDGET", "Network", "check_budget", "compile_spec", "too_large"]

_TOL = 1e-9
DEFAULT_MEMORY_BUDGET = 2 << 30  # bytes (2 GiB): compiled tables and junction tree, and one evidence row
_FLOAT = 8  # bytes per table entry


@dataclass(frozen=True, eq=False)
class Network:
    """A discrete Bayesian network with roles.

    Attributes
    ----------
    name
        A short identifier.
    variables
        Every variable, in a topological order (parents before children).
    states
        Variable -> its ordered state names.
    parents
        Variable -> its parents, in the order of the CPT's leading axes.
    cpts
        Variable -> read-only array of shape ``(*parent cards, card)``; the last axis sums to 1.
    targets
        The variables whose posterior is the diagnosis (our causes).
    observables
        The variables that can be answered (our questions).
    reported
        Non-observable variables whose marginals are reported besides the targets (our facets).
    observed
        Variables always entered in one state (a premise such as "distance noticed"): neither
        targets nor observables; every query is conditioned on them.
    present
        Variable -> the states that count as 'present' (given when loading, or a file's fault
        states); a variable not listed falls back to its state names (see ``Model.variables``).
    texts, costs
        Question texts and costs given with a network file (a side file, arguments, XDSL).
    disclaimer
        The line a network file gives to show with every result (``None``: it gives none).
    """

    name: str
    variables: tuple[str, ...]
    states: Mapping[str, tuple[str, ...]]
    parents: Mapping[str, tuple[str, ...]]
    cpts: Mapping[str, NDArray[np.float64]]
    targets: tuple[str, ...]
    observables: tuple[str, ...]
    reported: tuple[str, ...] = ()
    observed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    present: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    costs: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    disclaimer: str | None = field(default=None, repr=False)
    index: Mapping[str, int] = field(init=False, repr=False)
    observable_set: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", MappingProxyType({v: i for i, v in enumerate(self.variables)}))
        object.__setattr__(self, "observable_set", frozenset(self.observables))

    @classmethod
    def create(
        cls,
        name: str,
        states: Mapping[str, Sequence[str]],
        parents: Mapping[str, Sequence[str]],
        cpts: Mapping[str, Any],
        *,
        targets: Sequence[str],
        observables: Sequence[str] | None = None,
        reported: Sequence[str] = (),
        observed: Mapping[str, str] | None = None,
        tolerance: float = _TOL,
    ) -> Network:
        """Validate the parts of a network and return it.

        ``observables`` defaults to every variable that is not a target. Table rows must sum to
        1 within ``tolerance`` and are then divided by their sum, so that every table is a proper
        conditional distribution (published files carry rounded rows such as 0.9999999; left as
        they are, the result would depend on whether an engine prunes barren nodes).

        Raises
        ------
        ModelValidationError
            Unknown names, wrong table shapes, rows not summing to 1, a cycle, or a target that
            is also observable; every problem at once.
        """
        problems: list[Problem] = []
        names = list(states)
        known = set(names)

        def unknown(kind: str, items: Sequence[str]) -> None:
            for item in items:
                if item not in known:
                    hint = difflib.get_close_matches(item, names, n=3)
                    more = f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""
                    problems.append(Problem(f"unknown {kind} '{item}'{more}", key_path=kind))

        unknown("target", list(targets))
        if observables is None:
            observables = [v for v in names if v not in set(targets)]
        unknown("observable", list(observables))
        unknown("reported variable", list(reported))
        for kind, table in (("parents", parents), ("tables", cpts)):
            for v in table:
                if v not in known:
                    problems.append(Problem(f"{kind} given for '{v}', which has no states", key_path=str(v)))
        for v in set(targets) & set(observables):
            problems.append(Problem(f"'{v}' is both a target and an observable", key_path="roles"))
        observed = dict(observed or {})
        unknown("observed variable", list(observed))
        for v, state in observed.items():
            if v in set(targets) | set(observables):
                problems.append(
                    Problem(f"'{v}' is always observed, so it cannot be a target or observable", key_path=v)
                )
            elif v in known and state not in tuple(states[v]):
                problems.append(Problem(f"'{v}' has no state '{state}'; valid: {', '.join(states[v])}", key_path=v))
            elif any(v in tuple(parents.get(w, ())) for w in names):
                problems.append(Problem(f"'{v}' is always observed, so it cannot be a parent", key_path=v))
        if not targets:
            problems.append(Problem("a network needs at least one target", key_path="targets"))
        arrays: dict[str, NDArray[np.float64]] = {}
        for v in names:
            st = tuple(states[v])
            if len(st) < 1 or len(set(st)) != len(st):
                problems.append(Problem(f"states of '{v}' must be distinct and non-empty, got {st}", key_path=v))
            ps = tuple(parents.get(v, ()))
            unknown(f"parent of '{v}'", list(ps))
            if v not in cpts:
                problems.append(Problem(f"no table for '{v}'", key_path=v))
                continue
            try:
                arr = np.array(cpts[v], dtype=np.float64)
            except (TypeError, ValueError):
                problems.append(Problem(f"table of '{v}' is not a rectangular array of numbers", key_path=v))
                continue
            if any(p not in known for p in ps):
                continue
            want = (*tuple(len(states[p]) for p in ps), len(st))
            if arr.shape != want:
                problems.append(
                    Problem(
                        f"table of '{v}' has shape {arr.shape}; expected {want} (parents {ps}, then its states)",
                        key_path=v,
                    )
                )
                continue
            if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1 + _TOL):
                problems.append(Problem(f"table of '{v}' has entries outside [0, 1]", key_path=v))
                continue
            sums = np.asarray(arr.sum(axis=-1))
            bad = np.argwhere(np.atleast_1d(np.abs(sums - 1) > tolerance))
            if bad.size:
                idx = tuple(int(i) for i in bad[0]) if ps else ()
                conf = ", ".join(f"{p}={states[p][i]}" for p, i in zip(ps, idx, strict=True)) or "(no parents)"
                problems.append(
                    Problem(
                        f"table of '{v}' sums to {sums[idx]:.12g} for parents {conf}; "
                        f"each row must sum to 1 (±{tolerance:g})",
                        key_path=v,
                    )
                )
                continue
            arr = arr / sums[..., None]  # rows within tolerance: make them sum to 1 exactly
            arr.setflags(write=False)
            arrays[v] = arr
        order: list[str] = []
        if not problems:
            order = _topological(names, {v: tuple(parents.get(v, ())) for v in names}, problems)
        if problems:
            raise ModelValidationError(problems)
        return cls(
            name=name,
            variables=tuple(order),
            states=MappingProxyType({v: tuple(states[v]) for v in order}),
            parents=MappingProxyType({v: tuple(parents.get(v, ())) for v in order}),
            cpts=MappingProxyType({v: arrays[v] for v in order}),
            targets=tuple(targets),
            observables=tuple(v for v in order if v in set(observables)),
            reported=tuple(reported),
            observed=MappingProxyType(observed),
        )

    def card(self, variable: str) -> int:
        """Return the number of states of ``variable``."""
        return len(self.states[variable])

    def children(self, variable: str) -> tuple[str, ...]:
        """Return the variables that have ``variable`` as a parent."""
        return tuple(v for v in self.variables if variable in self.parents[v])

    def check_variable(self, name: str, kind: str = "variable", among: Sequence[str] | None = None) -> None:
        """Raise :class:`UnknownVariableError` (with close matches) if ``name`` is unknown.

        The message quotes ``name`` cut to 40 characters (only its type if it is not text).
        """
        pool = list(self.variables if among is None else among)
        if not isinstance(name, str):
            shown = f"a {type(name).__name__}"
            raise UnknownVariableError(f"{kind} ids are text; got {shown}", question_id=shown)
        if name not in pool:
            close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5) if len(name) <= 100 else []
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownVariableError(f"unknown {kind} {_cut(name)!r}{hint}", question_id=name[:40], suggestions=close)


def _topological(names: Sequence[str], parents: Mapping[str, Sequence[str]], problems: list[Problem]) -> list[str]:
    remaining = {v: set(parents[v]) for v in names}
    order: list[str] = []
    ready = [v for v in names if not remaining[v]]
    children: dict[str, list[str]] = {v: [] for v in names}
    for v in names:
        for p in parents[v]:
            children[p].append(v)
    while ready:
        v = ready.pop(0)
        order.append(v)
        for ch in children[v]:
            remaining[ch].discard(v)
            if not remaining[ch] and ch not in order and ch not in ready:
                ready.append(ch)
    if len(order) < len(names):
        stuck = [v for v in names if v not in order]
        problems.append(Problem(f"the network has a cycle among {', '.join(stuck)}", key_path="parents"))
    return order


def compile_spec(spec: ModelSpec, *, memory_budget: int | None = DEFAULT_MEMORY_BUDGET) -> Network:
    """Compile a validated :class:`ModelSpec` into a :class:`Network`.

    Causes are targets with states ``absent/present`` (a leaky noisy-OR over their parent
    causes, whose leak is the cause's ``prior``); facets are reported latent children of their
    cause; questions are observables (noisy-OR, noisy-MAX or an explicit table).

    Raises
    ------
    ModelTooLargeError
        The tables would take more than ``memory_budget`` bytes (``None``: no limit); checked
        from the numbers of parents, before any table is built.
    """
    _check_table_sizes(spec, check_budget(memory_budget))
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, NDArray[np.float64]] = {}
    for c in spec.causes:
        incoming = [lk for lk in spec.links if lk.target == c.id]
        states[c.id] = CAUSE_STATES
        parents[c.id] = tuple(lk.source for lk in incoming)
        cpts[c.id] = noisy_or(c.prior, [lk.strength for lk in incoming])
    for f in spec.facets:
        states[f.id] = CAUSE_STATES
        parents[f.id] = (f.cause,)
        cpts[f.id] = binary_table(f.p_absent, f.p_present)
    for q in spec.questions:
        states[q.id] = q.answers
        if q.table is not None:
            parents[q.id] = q.table.parents
            shape = (2,) * len(q.table.parents) + (len(q.answers),)
            cpts[q.id] = np.array(q.table.rows, dtype=np.float64).reshape(shape)
        else:
            parents[q.id] = tuple(lk.parent for lk in q.links)
            cpts[q.id] = noisy_max(q.leak or (), [lk.strength for lk in q.links])
    return Network.create(
        spec.id,
        states,
        parents,
        cpts,
        targets=[c.id for c in spec.causes],
        observables=[q.id for q in spec.questions if q.observed is None],
        reported=[f.id for f in spec.facets],
        observed={q.id: q.observed for q in spec.questions if q.observed is not None},
    )


def _check_table_sizes(spec: ModelSpec, budget: int | None) -> None:
    """Refuse a spec whose tables (every two-state parent doubles one) exceed ``budget`` bytes."""
    if budget is None:
        return
    families: list[tuple[tuple[str, ...], int]] = []  # (variable and parents, entries of its table)
    for c in spec.causes:
        ps = tuple(lk.source for lk in spec.links if lk.target == c.id)
        families.append(((c.id, *ps), 2 ** (len(ps) + 1)))
    families += [((f.id, f.cause), 4) for f in spec.facets]
    for q in spec.questions:
        families.append(((q.id, *q.parents), 2 ** len(q.parents) * len(q.answers)))
    if not families:
        return
    total = _FLOAT * sum(n for _, n in families)
    variables, entries = max(families, key=lambda f: f[1])
    needed = total + 3 * _FLOAT * entries  # building a noisy-MAX table takes a few copies of it
    if needed > budget:
        raise too_large(spec.id, f"the table of {_cut(variables[0])!r}", variables, entries, needed, budget)


def check_budget(memory_budget: int | None) -> int | None:
    """Return a memory budget in bytes (``None``: no limit), or raise ValueError if it is not one."""
    if memory_budget is None:
        return None
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int | np.integer) or memory_budget < 1:
        raise ValueError(f"memory_budget must be a positive number of bytes or None, got {memory_budget!r}")
    return int(memory_budget)


def too_large(
    name: str, what: str, variables: Sequence[str], states: int, needed: int, budget: int, *, at_least: bool = False
) -> ModelTooLargeError:
    """The error for a model whose tables or junction tree would need ``needed`` bytes, over ``budget``.

    ``at_least``: ``needed`` counts only the part found too large (planning stopped there).
    """
    names = [_cut(v) for v in variables]
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return ModelTooLargeError(
        f"model {_cut(name)!r} is too large to compile: {what} spans {states:,} joint states "
        f"({len(names)} variables: {shown}), and compiling would take {'at least' if at_least else 'about'} "
        f"{_size(needed)} "
        f"({needed:,} bytes), over the memory budget of {_size(budget)}. Link each question to fewer "
        "causes or facets, and each cause to fewer causes (every two-state parent doubles a table and "
        "the clique of the junction tree that holds it); split a question linked to many causes into "
        "several questions; or raise memory_budget (bytes; None for no limit).",
        needed_bytes=needed,
        budget_bytes=budget,
        largest_states=states,
        variables=variables,
    )


def _cut(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _size(n_bytes: int) -> str:
    """``n_bytes`` in binary units: '512 B', '2.0 GiB', '8.0 TiB' (any int)."""
    if n_bytes < 1024:
        return f"{n_bytes} B"
    value = float(min(n_bytes, 1 << 1000))
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024 or unit == "EiB":
            break
    return f"{value:,.1f} {unit}"
