"""Loading and saving models: YAML model files, network files (BIF, XMLBIF, XDSL, Hugin NET,
UAI), pgmpy objects.

``load_model`` finds the bundled default model both in a source checkout (editable install)
and inside an installed wheel. pgmpy is imported only through :mod:`interop`, on demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ._files import write_atomically
from .errors import ModelError
from .model import Model
from .network import DEFAULT_MEMORY_BUDGET
from .spec import dump_spec, load_spec

__all__ = ["default_model_path", "from_pgmpy", "load_model", "load_network", "model_info", "save_model"]

DEFAULT_MODEL = "distancing.yaml"
YAML_SUFFIXES = (".yaml", ".yml")
NETWORK_SUFFIXES = (".bif", ".bif.gz", ".xmlbif", ".bifxml", ".xml", ".xdsl", ".net", ".uai")  # read
WRITE_SUFFIXES = (".bif", ".xmlbif", ".bifxml", ".xdsl", ".net", ".uai")


def _network_suffix(path: Path) -> str:
    """The network suffix of ``path`` ('.bif.gz' for gzipped files), else ''."""
    name = path.name.lower()
    inner = name[:-3] if name.endswith(".gz") else name
    suffix = Path(inner).suffix
    if suffix not in NETWORK_SUFFIXES:
        return ""
    return suffix + ".gz" if name.endswith(".gz") else suffix


def models_dir() -> Path:
    """Return the folder of bundled models (inside the wheel, or the checkout's ``models/``)."""
    packaged = resources.files("distancing_bn") / "models"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "models"
    if checkout.is_dir():
        return checkout
    raise ModelError("the bundled models were not found: reinstall distancing-bn")


def default_model_path() -> Path:
    """Return the path of the bundled default model ``distancing.yaml``."""
    return models_dir() / DEFAULT_MODEL


def load_model(
    path: str | Path | None = None,
    *,
    targets: Sequence[str] | None = None,
    observables: Sequence[str] | None = None,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    present: Mapping[str, Sequence[str] | str] | None = None,
    side_file: str | Path | None = None,
) -> Model:
    """Load a model: the bundled default (``path=None``), a YAML model or a network file.

    Parameters
    ----------
    path
        ``None`` for the default model, a ``.yaml`` model file, or a network file (see
        :func:`load_network`; ``targets`` is needed unless the file gives roles).
    targets, observables, present, side_file
        For network files, see :func:`load_network`.
    memory_budget
        Bytes the compiled model may use (default 2 GiB; ``None``: no limit); see
        ``docs/inference.md``.

    Raises
    ------
    ModelSyntaxError, ModelValidationError
        The file cannot be parsed, or its content is wrong (every problem, with file and line).
    ModelTooLargeError
        Its tables or junction tree would not fit ``memory_budget`` (checked before allocating).
    """
    p = default_model_path() if path is None else Path(path)
    suffix = p.suffix.lower()
    if _network_suffix(p):
        return load_network(
            p,
            targets=targets,
            observables=observables,
            memory_budget=memory_budget,
            present=present,
            side_file=side_file,
        )
    if suffix not in YAML_SUFFIXES:
        valid = ", ".join((*YAML_SUFFIXES, *NETWORK_SUFFIXES))
        raise ModelError(f"{p}: unknown model format '{suffix or '(no suffix)'}'; valid: {valid}")
    return Model.from_spec(load_spec(p), memory_budget=memory_budget)


def load_network(
    path: str | Path,
    *,
    targets: Sequence[str] | None = None,
    observables: Sequence[str] | None = None,
    reported: Sequence[str] = (),
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    present: Mapping[str, Sequence[str] | str] | None = None,
    texts: Mapping[str, str] | None = None,
    costs: Mapping[str, float] | None = None,
    side_file: str | Path | None = None,
) -> Model:
    """Load a network file as a :class:`Model`.

    Formats: BIF (``.bif``, ``.bif.gz``), XMLBIF (``.xmlbif``, ``.bifxml``, ``.xml``), XDSL
    (``.xdsl``, with GeNIe's diagnosis roles), Hugin ``.net`` and ``.uai``; found from the
    content where the suffix does not say. ``targets`` default to the file's (XDSL targets);
    ``observables`` to the file's observations, else every non-target; ``reported`` lists
    latent variables whose marginals are reported besides the targets. ``present`` maps a
    variable to the state (or states) that count as present, e.g.
    ``{"Cirrhosis": ["decompensate", "compensate"]}``; ``texts`` and ``costs`` give question
    texts and costs; ``side_file`` (YAML or JSON with keys ``texts``, ``costs``, ``present``,
    ``disclaimer``) gives the same from a file, the arguments taking precedence.

    Raises
    ------
    ModelError
        No targets given and none in the file; an unknown suffix.
    ModelSyntaxError, ModelValidationError
        See :func:`distancing_bn.interop.read_network_file`.
    """
    from .interop import load_side_file, read_network_file, with_extras

    side = load_side_file(side_file) if side_file is not None else {}
    network = read_network_file(
        path,
        targets=targets,
        observables=observables,
        reported=reported,
        present={**side.get("present", {}), **(present or {})},
        texts={**side.get("texts", {}), **(texts or {})},
        costs={**side.get("costs", {}), **(costs or {})},
    )
    if side.get("disclaimer"):
        network = with_extras(network, disclaimer=side["disclaimer"])
    return Model(network, memory_budget=memory_budget)


def from_pgmpy(
    network: Any,
    *,
    targets: Sequence[str],
    observables: Sequence[str] | None = None,
    reported: Sequence[str] = (),
    name: str = "network",
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
) -> Model:
    """Wrap a pgmpy ``DiscreteBayesianNetwork`` as a :class:`Model`."""
    from .interop import network_from_pgmpy

    net = network_from_pgmpy(network, targets=targets, observables=observables, reported=reported, name=name)
    return Model(net, memory_budget=memory_budget)


def save_model(model: Model, path: str | Path) -> None:
    """Write ``model`` by suffix: ``.yaml`` (YAML models), ``.bif``, ``.xmlbif``/``.bifxml``,
    ``.xdsl`` (with roles, present states, texts, costs and the disclaimer), ``.net`` or ``.uai``.

    The file is written atomically (a temporary file in the same folder, then renamed) and gets
    the mode of any new file (``0o666`` less the umask).

    Raises
    ------
    ModelError
        The suffix is unknown, the model cannot be held by that format (a name that would not
        read back; nothing is written), or the file cannot be written (a missing or read-only
        folder).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in WRITE_SUFFIXES:
        from .interop import with_extras, write_network_file

        network = model.network
        if model.spec is not None:  # our own models: texts, costs, present states and the disclaimer travel along
            network = with_extras(
                network,
                present={c: ("present",) for c in model.causes if "present" in network.states[c]},
                texts={q: model.question_text(q) for q in model.questions},
                costs={q: model.cost(q) for q in model.questions},
                disclaimer=model.disclaimer,
            )
        write_network_file(network, p, noisy=_noisy_questions(model) if suffix == ".xdsl" else None)
        return
    if suffix not in YAML_SUFFIXES:
        raise ModelError(
            f"{p}: cannot write '{suffix or '(no suffix)'}'; valid: " + ", ".join((*YAML_SUFFIXES, *WRITE_SUFFIXES))
        )
    if model.spec is None:
        raise ModelError(f"{p}: only models loaded from YAML can be written as YAML; use " + ", ".join(WRITE_SUFFIXES))
    write_atomically(p, dump_spec(model.spec).encode("utf-8"), what="model file")


def _noisy_questions(model: Model) -> dict[str, tuple[tuple[float, ...], list[tuple[float, ...]]]]:
    """Our noisy-OR/noisy-MAX questions (leak, strengths) whose parents are two-state causes or facets."""
    if model.spec is None:
        return {}
    net = model.network
    out = {}
    for q in model.spec.questions:
        if q.table is not None or q.leak is None or q.id not in net.observables:
            continue
        parents = tuple(lk.parent for lk in q.links)
        if parents != net.parents[q.id] or any(net.states[p] != ("absent", "present") for p in parents):
            continue
        out[q.id] = (tuple(q.leak), [tuple(lk.strength) for lk in q.links])
    return out


def model_info(model: Model) -> dict[str, Any]:
    """Return a JSON-safe description with keys ``causes``, ``facets``, ``questions``, ``links``."""
    prior = model.prior.probabilities
    spec = model.spec
    net = model.network
    causes = []
    for c in model.causes:
        item: dict[str, Any] = {
            "id": c,
            "label": model.label(c),
            "prior": float(prior[c]),
            "states": list(net.states[c]),
        }
        if spec is not None:
            sc = spec.cause(c)
            item |= {
                "description": sc.description,
                "leak_prior": sc.prior,
                "rationale": sc.rationale,
                "facets": [f.id for f in sc.facets],
            }
        causes.append(item)
    facets = []
    for f in model.facets:
        item = {"id": f, "label": model.label(f), "prior": float(prior[f]), "parents": list(net.parents[f])}
        if spec is not None:
            sf = next(x for x in spec.facets if x.id == f)
            item |= {
                "cause": sf.cause,
                "description": sf.description,
                "p_present": sf.p_present,
                "p_absent": sf.p_absent,
            }
        facets.append(item)
    questions = []
    for q in model.questions:
        item = {
            "id": q,
            "text": model.question_text(q),
            "answers": list(net.states[q]),
            "parents": list(net.parents[q]),
            "cost": model.cost(q),
        }
        if spec is not None:
            sq = spec.question(q)
            item |= {
                "unsure": sq.unsure,
                "kind": "table" if sq.table else ("noisy-or" if len(sq.answers) == 2 else "noisy-max"),
                "notices": {n: list(a) for n, a in sq.notices},
            }
        questions.append(item)
    if spec is not None:
        links = [
            {
                "id": f"{lk.source}->{lk.target}",
                "from": lk.source,
                "to": lk.target,
                "strength": lk.strength,
                "rationale": lk.rationale,
            }
            for lk in spec.links
        ]
    else:
        targets = set(net.targets)
        links = [
            {"id": f"{p}->{v}", "from": p, "to": v}
            for v in net.variables
            if v in targets
            for p in net.parents[v]
            if p in targets
        ]
    return {
        "id": model.id,
        "title": model.title,
        "causes": causes,
        "facets": facets,
        "questions": questions,
        "links": links,
        "disclaimer": model.disclaimer,
    }
