"""Tests of :mod:`distancing_bn.interop` against pgmpy (and pyAgrum): conversion, file formats."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from distancing_bn.errors import ModelError, ModelSyntaxError, ModelValidationError
from distancing_bn.interop import (
    FILE_TOLERANCE,
    network_from_pgmpy,
    read_network_file,
    to_pgmpy,
    write_network_file,
)
from distancing_bn.network import Network, compile_spec
from distancing_bn.spec import load_spec
from strategies import random_networks

pytestmark = pytest.mark.oracle
pytest.importorskip("pgmpy")

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "two_causes.yaml"
SUFFIXES = (".bif", ".xmlbif", ".xdsl")


@pytest.fixture(scope="module")
def example() -> Network:
    return compile_spec(load_spec(EXAMPLE))


# ----------------------------------------------------------------------------- oracle helpers
def pgmpy_table(cpd: Any, parents: tuple[str, ...], states: dict[str, tuple[str, ...]]) -> np.ndarray:
    """A pgmpy CPD laid out as ours: axes in ``parents`` order then the child, our state order."""
    names = [str(x) for x in cpd.variables]
    arr = np.asarray(cpd.get_values(), dtype=float).reshape([len(cpd.state_names[x]) for x in cpd.variables])
    for axis, var in enumerate(cpd.variables):
        labels = [str(s) for s in cpd.state_names[var]]
        arr = np.take(arr, [labels.index(s) for s in states[str(var)]], axis=axis)
    assert sorted(names[1:]) == sorted(parents)
    return np.transpose(arr, [names.index(p) for p in parents] + [0])


def pyagrum_table(bn: Any, v: str, parents: tuple[str, ...], states: dict[str, tuple[str, ...]]) -> np.ndarray:
    """A pyAgrum CPT laid out as ours, read cell by cell by label (pyAgrum has its own axes)."""
    import pyagrum as gum

    cpt = bn.cpt(v)
    assert sorted(cpt.names) == sorted([v, *parents])
    out = np.full((*tuple(len(states[p]) for p in parents), len(states[v])), np.nan)
    inst = gum.Instantiation(cpt)
    inst.setFirst()
    while not inst.end():
        labels = {inst.variable(i).name(): inst.variable(i).label(inst.val(i)) for i in range(inst.nbrDim())}
        idx = (*tuple(states[p].index(labels[p]) for p in parents), states[v].index(labels[v]))
        out[idx] = cpt.get(inst)
        inst.inc()
    assert not np.isnan(out).any()
    return out


def pgmpy_reader(path: Path) -> Any:
    from pgmpy.readwrite import BIFReader, XDSLReader, XMLBIFReader

    reader = {".bif": BIFReader, ".xmlbif": XMLBIFReader, ".xdsl": XDSLReader}[path.suffix]
    return reader(str(path)).get_model()


def assert_same_network(a: Network, b: Network, atol: float = 1e-15) -> None:
    """Same variables, states, parents and tables (to ``atol``: Network.create may renormalise)."""
    assert set(a.variables) == set(b.variables)
    for v in a.variables:
        assert a.states[v] == b.states[v], v
        assert a.parents[v] == b.parents[v], v
        np.testing.assert_allclose(a.cpts[v], b.cpts[v], rtol=0, atol=atol, err_msg=v)


# ----------------------------------------------------------------------------- to/from pgmpy
def test_to_pgmpy_example_passes_check_model(example: Network) -> None:
    model = to_pgmpy(example)
    assert model.check_model()
    assert set(model.nodes()) == set(example.variables)
    assert set(model.edges()) == {(p, v) for v in example.variables for p in example.parents[v]}
    for v in example.variables:
        cpd = model.get_cpds(v)
        assert [str(s) for s in cpd.state_names[v]] == list(example.states[v])
        np.testing.assert_allclose(
            pgmpy_table(cpd, example.parents[v], dict(example.states)),
            example.cpts[v],
            rtol=0,
            atol=1e-15,
        )


def test_to_pgmpy_example_known_value(example: Network) -> None:
    cpd = to_pgmpy(example).get_cpds("less_talk")
    assert cpd.get_value(less_talk="a_lot", stress="present", drifting="absent") == pytest.approx(0.145, abs=1e-15)


def test_network_from_pgmpy_round_trip_example(example: Network) -> None:
    back = network_from_pgmpy(to_pgmpy(example), targets=example.targets, observables=example.observables)
    assert_same_network(example, back)
    assert back.targets == example.targets
    assert set(back.observables) == set(example.observables)


@given(random_networks(max_nodes=7))
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
def test_network_from_pgmpy_round_trip_random(kwargs: dict[str, Any]) -> None:
    net = Network.create(**kwargs)
    model = to_pgmpy(net)
    assert model.check_model()
    assert_same_network(net, network_from_pgmpy(model, targets=net.targets))


def test_network_from_pgmpy_raises_unknown_target(example: Network) -> None:
    with pytest.raises(ModelValidationError, match=r"unknown target 'strss'; did you mean 'stress'"):
        network_from_pgmpy(to_pgmpy(example), targets=["strss"])


# ----------------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_write_network_file_round_trip(example: Network, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"two_causes{suffix}"
    write_network_file(example, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    back = read_network_file(path, targets=example.targets)
    assert back.name == "two_causes"
    assert_same_network(example, back, atol=1e-12)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_write_network_file_matches_pgmpy_reader(example: Network, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"two_causes{suffix}"
    write_network_file(example, path)
    model = pgmpy_reader(path)
    assert model.check_model()
    for v in example.variables:
        got = pgmpy_table(model.get_cpds(v), example.parents[v], dict(example.states))
        np.testing.assert_allclose(got, example.cpts[v], rtol=0, atol=1e-12, err_msg=v)


@given(random_networks(max_nodes=6))
@settings(
    max_examples=6,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_write_network_file_round_trip_random(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    net = Network.create(**kwargs)
    for suffix in (
        ".xmlbif",
        ".xdsl",
    ):  # BIF is covered above; pgmpy's BIF parser costs ~1 s a file
        path = tmp_path / f"random{suffix}"
        write_network_file(net, path)
        assert_same_network(net, read_network_file(path, targets=net.targets), atol=1e-12)


@pytest.mark.parametrize(
    ("suffix", "pyagrum_name", "atol"),
    [
        # pyAgrum 3.3.1's BIF parser reads numbers in single precision (0.7 -> 0.699999988),
        # so BIF can only agree to float32 precision; XMLBIF is read in double.
        # (XDSL is left out: pyAgrum 3.3.1 and pgmpy disagree on the order of the parents in
        # <probabilities>, pyAgrum taking the first parent as the fastest-changing one.)
        (".bif", "two_causes.bif", 1e-7),
        (".xmlbif", "two_causes.bifxml", 1e-12),
    ],
)
def test_write_network_file_matches_pyagrum(
    example: Network, tmp_path: Path, suffix: str, pyagrum_name: str, atol: float
) -> None:
    gum = pytest.importorskip("pyagrum")
    path = tmp_path / f"two_causes{suffix}"
    write_network_file(example, path)
    path.rename(tmp_path / pyagrum_name)  # pyAgrum knows XMLBIF as '.bifxml'
    bn = gum.loadBN(str(tmp_path / pyagrum_name))
    assert set(bn.names()) == set(example.variables)
    for v in example.variables:
        assert tuple(bn.variable(v).labels()) == example.states[v]
        got = pyagrum_table(bn, v, example.parents[v], dict(example.states))
        np.testing.assert_allclose(got, example.cpts[v], rtol=0, atol=atol, err_msg=v)


def test_write_network_file_raises_unknown_suffix(example: Network, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"cannot write '\.csv'; valid: \.bif, \.xmlbif, \.xdsl"):
        write_network_file(example, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- published networks
# name: (targets, nodes, free parameters) -- counts from the bnlearn repository / the data README
PUBLISHED = {
    "asia": (["lung", "tub"], 8, 18),
    "alarm": (["HYPOVOLEMIA", "LVFAILURE"], 37, 509),
    "child": (["BirthAsphyxia"], 20, 230),
    "insurance": (["Age"], 27, 1008),
    "hepar2": (["alcoholism"], 70, 1453),
    "win95pts": (["AppOK"], 76, 574),
    "andes": (["GOAL_2"], 223, 1157),
    "pathfinder": (["Fault"], 109, 72079),  # the slowest (about 5 s), under the 10 s 'slow' bar
}


@functools.cache
def published(external_dir: Path, name: str) -> Network:
    """Read a published network once per session (pgmpy's BIF parser is slow)."""
    return read_network_file(external_dir / "networks" / f"{name}.bif", targets=PUBLISHED[name][0])


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_read_network_file_published(external_dir: Path, name: str) -> None:
    targets, n_nodes, n_free = PUBLISHED[name]
    net = published(external_dir, name)
    assert net.name == name
    assert len(net.variables) == n_nodes
    assert net.targets == tuple(targets)
    assert set(net.observables) == set(net.variables) - set(targets)
    free = sum((net.card(v) - 1) * int(np.prod([net.card(p) for p in net.parents[v]])) for v in net.variables)
    assert free == n_free
    seen: set[str] = set()
    for v in net.variables:
        assert set(net.parents[v]) <= seen
        seen.add(v)
        np.testing.assert_allclose(net.cpts[v].sum(axis=-1), 1.0, atol=FILE_TOLERANCE)


def test_read_network_file_asia_known_values(external_dir: Path) -> None:
    net = published(external_dir, "asia")
    assert net.states["asia"] == ("yes", "no")
    np.testing.assert_allclose(net.cpts["asia"], [0.01, 0.99])
    assert net.parents["either"] == ("lung", "tub")
    # either = lung OR tub (a deterministic table)
    for lung, tub in itertools.product(range(2), repeat=2):
        expected = [1.0, 0.0] if (lung == 0 or tub == 0) else [0.0, 1.0]
        np.testing.assert_array_equal(net.cpts["either"][lung, tub], expected)


@pytest.mark.parametrize("name", ["asia", "child"])
def test_read_network_file_matches_pgmpy_reader(external_dir: Path, name: str) -> None:
    net = published(external_dir, name)
    model = pgmpy_reader(external_dir / "networks" / f"{name}.bif")
    for v in net.variables:
        raw = pgmpy_table(model.get_cpds(v), net.parents[v], dict(net.states))
        np.testing.assert_allclose(net.cpts[v], raw, rtol=0, atol=FILE_TOLERANCE, err_msg=v)
        # rows are kept as given or divided by their sum (published rows are rounded)
        assert np.allclose(net.cpts[v], raw, rtol=0, atol=1e-15) or np.allclose(
            net.cpts[v], raw / raw.sum(axis=-1, keepdims=True), rtol=0, atol=1e-15
        ), v


def test_read_network_file_keeps_odd_state_names(external_dir: Path) -> None:
    net = published(external_dir, "child")
    assert "0-3_days" in net.states["Age"]
    assert "Asy/Patchy" in net.states["XrayReport"]


# ----------------------------------------------------------------------------- errors
def test_read_network_file_raises_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelSyntaxError, match=r"nope\.bif: no such file"):
        read_network_file(tmp_path / "nope.bif", targets=["a"])


@pytest.mark.parametrize(
    ("suffix", "content", "message"),
    [
        (".xmlbif", b"<not xml", r"cannot read XMLBIF network: ParseError"),
        (".xdsl", b"garbage", r"cannot read XDSL network: ParseError"),
        (".bif", b"\xff\xfe\x00garbage", r"cannot read BIF network: UnicodeDecodeError"),
    ],
)
def test_read_network_file_raises_garbage(tmp_path: Path, suffix: str, content: bytes, message: str) -> None:
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(content)
    with pytest.raises(ModelSyntaxError, match=message) as info:
        read_network_file(path, targets=["a"])
    assert info.value.file == str(path)


@pytest.mark.parametrize("content", ["this is not a network\n", ""])
def test_read_network_file_raises_garbage_bif_text(tmp_path: Path, content: str) -> None:
    path = tmp_path / "garbage.bif"
    path.write_text(content)
    with pytest.raises(ModelSyntaxError):
        read_network_file(path, targets=["a"])


@pytest.mark.parametrize("name", ["model.csv", "model", "model.yaml"])
def test_read_network_file_raises_unknown_suffix(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError, match=r"unknown network format '[^']*'; valid: \.bif, \.xmlbif, \.xdsl"):
        read_network_file(tmp_path / name, targets=["a"])
