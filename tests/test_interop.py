"""Tests of :mod:`distancing_bn.interop` against pgmpy (and pyAgrum): conversion, file formats."""

from __future__ import annotations

import functools
import itertools
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import example as case
from hypothesis import strategies as st

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
SUFFIXES = (".bif", ".xmlbif", ".xdsl")  # read by pgmpy's readers too
ALL_SUFFIXES = (*SUFFIXES, ".net", ".uai")


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
@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
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
    for suffix in (".xmlbif", ".xdsl", ".net", ".uai"):  # BIF is covered above; pgmpy's BIF parser costs ~1 s a file
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
    with pytest.raises(
        ModelError, match=r"cannot write '\.csv'; valid: \.bif, \.xmlbif, \.bifxml, \.xdsl, \.net, \.uai"
    ):
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
    with pytest.raises(ModelSyntaxError, match=r"nope\.bif: cannot read the BIF network file: No such file"):
        read_network_file(tmp_path / "nope.bif", targets=["a"])


@pytest.mark.parametrize(
    ("suffix", "content", "message"),
    [
        (".xmlbif", b"<not xml", r"cannot read XMLBIF network: ParseError"),
        (".xdsl", b"garbage", r"cannot read XDSL network: ParseError"),
        (".bif", b"\xff\xfe\x00garbage", r"the file is not UTF-8 text \(byte 0\)"),
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
    with pytest.raises(
        ModelError,
        match=r"unknown network format '[^']*'; valid: \.bif, \.bif\.gz, \.xmlbif, \.bifxml, \.xml, \.xdsl, "
        r"\.net, \.uai",
    ):
        read_network_file(tmp_path / name, targets=["a"])


# ----------------------------------------------------------------------------- hostile and broken files
ASIA_NAME = "asia.bif"


def asia_text(external_dir: Path) -> str:
    return (external_dir / "networks" / ASIA_NAME).read_text(encoding="utf-8")


def test_validation_problems_of_a_network_file_name_the_file_and_line(external_dir: Path, tmp_path: Path) -> None:
    text = asia_text(external_dir)
    bad = text.replace("table 0.01, 0.99;", "table 0.2, 0.9;", 1)  # asia's row sums to 1.1
    path = tmp_path / "asia.bif"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ModelValidationError) as info:
        read_network_file(path, targets=["lung"])
    [problem] = info.value.problems
    assert problem.file == str(path) and problem.key_path == "asia"
    assert problem.line == line_of(bad, "probability ( asia )")
    assert str(problem).startswith(f"{path}:{problem.line} asia: table of 'asia' sums to 1.1")


def test_unknown_target_in_a_network_file_names_the_file(external_dir: Path) -> None:
    path = external_dir / "networks" / ASIA_NAME
    with pytest.raises(ModelValidationError, match=r"unknown target 'lungs'; did you mean 'lung'") as info:
        read_network_file(path, targets=["lungs"])
    assert all(p.file == str(path) for p in info.value.problems)
    assert str(path) in str(info.value)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_bif_cut_inside_a_block_says_where(external_dir: Path, tmp_path: Path) -> None:
    text = asia_text(external_dir)
    cut = text[: text.index("probability ( tub | asia )") + 40]
    path = tmp_path / "cut.bif"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ModelSyntaxError, match=r"the 'probability' block is not closed with '\}'") as info:
        read_network_file(path, targets=["lung"])
    assert info.value.line == line_of(cut, "probability ( tub | asia )")
    assert "pgmpy" not in str(info.value)


def test_bif_cut_between_blocks_lists_every_missing_table_in_bif_terms(external_dir: Path, tmp_path: Path) -> None:
    text = asia_text(external_dir)
    cut = text[: text.index("probability ( tub | asia )")]
    path = tmp_path / "cut.bif"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ModelValidationError) as info:
        read_network_file(path, targets=["lung"])
    problems = {p.key_path: p for p in info.value.problems}
    assert set(problems) == {"tub", "smoke", "lung", "bronc", "either", "xray", "dysp"}
    tub = problems["tub"]
    assert tub.file == str(path) and tub.line == line_of(cut, "variable tub")
    assert "variable 'tub' is declared but its table is missing: add a 'probability ( tub … )' block" in tub.message
    assert "pgmpy" not in str(info.value)


def test_xmlbif_without_a_definition_says_so_in_xmlbif_terms(example: Network, tmp_path: Path) -> None:
    path = tmp_path / "model.xmlbif"
    write_network_file(example, path)
    text = path.read_text(encoding="utf-8")
    start = text.index("<DEFINITION>\n      <FOR>stress</FOR>")
    cut = text[:start] + text[text.index("</DEFINITION>", start) + len("</DEFINITION>") :]
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ModelValidationError, match=r"add a <DEFINITION> whose <FOR> is stress") as info:
        read_network_file(path, targets=["stress"])
    assert info.value.problems[0].line == line_of(cut, "<NAME>stress</NAME>")


def test_bif_without_a_final_line_end_keeps_its_last_table(external_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "asia.bif"
    path.write_text(asia_text(external_dir).rstrip("\n"), encoding="utf-8")
    assert "dysp" in read_network_file(path, targets=["lung"]).variables


def test_bif_with_a_table_too_large_is_refused_before_pgmpy_allocates_it(tmp_path: Path) -> None:
    from distancing_bn.spec import MAX_TABLE_CELLS

    n = 40  # pgmpy would ask for an array of 2**40 columns for this 4 KB file
    parts = ["network x {\n}\n"]
    parts += [f"variable v{i} {{\n  type discrete [ 2 ] {{ a, b }};\n}}\n" for i in range(n + 1)]
    parts += [f"probability ( v{i} ) {{\n  table 0.5, 0.5;\n}}\n" for i in range(n)]
    parts.append(
        f"probability ( v{n} | {', '.join(f'v{i}' for i in range(n))} ) {{\n  ({', '.join(['a'] * n)}) 0.5, 0.5;\n}}\n"
    )
    path = tmp_path / "wide.bif"
    path.write_text("".join(parts), encoding="utf-8")
    with pytest.raises(
        ModelSyntaxError,
        match=rf"table of 'v{n}' given its {n} parents has more than {MAX_TABLE_CELLS:,} cells \(MAX_TABLE_CELLS",
    ) as info:
        read_network_file(path, targets=["v0"])
    assert info.value.line == "".join(parts).count("\n", 0, "".join(parts).index(f"probability ( v{n} |")) + 1


def test_bif_variable_with_too_many_states_is_refused(tmp_path: Path) -> None:
    from distancing_bn.spec import MAX_STATES

    states = ", ".join(f"s{i}" for i in range(MAX_STATES + 1))
    path = tmp_path / "many.bif"
    path.write_text(f"network x {{\n}}\nvariable v {{\n  type discrete [ {MAX_STATES + 1} ] {{ {states} }};\n}}\n")
    with pytest.raises(ModelSyntaxError, match=rf"variable 'v' has {MAX_STATES + 1:,} states, more than"):
        read_network_file(path, targets=["v"])


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_network_symlink_to_dev_zero_is_refused(tmp_path: Path, suffix: str) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    link = tmp_path / f"zero{suffix}"
    link.symlink_to("/dev/zero")
    with pytest.raises(ModelSyntaxError, match=r"it is a character device, not a regular file"):
        read_network_file(link, targets=["a"])


def test_network_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    from distancing_bn.spec import MAX_NETWORK_FILE_BYTES

    path = tmp_path / "big.xmlbif"
    with path.open("wb") as fh:
        fh.truncate(MAX_NETWORK_FILE_BYTES + 1)  # sparse
    with pytest.raises(ModelSyntaxError, match=r"larger than 64 MiB, the limit \(MAX_NETWORK_FILE_BYTES"):
        read_network_file(path, targets=["a"])


# ----------------------------------------------------------------------------- names that would not read back
def two_node(root: str = "r", child: str = "v", root_states: tuple[str, str] = ("s0", "s1")) -> Network:
    states = {root: root_states, child: ("c0", "c1")}
    cpts = {root: np.array([0.3, 0.7]), child: np.array([[0.2, 0.8], [0.6, 0.4]])}
    return Network.create("n", states, {root: (), child: (root,)}, cpts, targets=[root], observables=[child])


@pytest.mark.parametrize(
    ("suffix", "network", "message"),
    [
        (".bif", two_node(root="my var"), r"variable 'my var' as BIF"),
        (".bif", two_node(root="a;b{c}"), r"variable 'a;b\{c\}' as BIF"),
        (".bif", two_node(root_states=("s,0", "s1")), r"state 's,0' of variable 'r' as BIF"),
        (".bif", two_node(root="Var", child="var"), r"variables 'Var' and 'var' as BIF"),
        (".xmlbif", two_node(root_states=("0-3_days", "s1")), r"state '0-3_days' of variable 'r' as XMLBIF"),
        (".xmlbif", two_node(root=" r"), r"variable ' r' as XMLBIF"),
        (".xdsl", two_node(root="my var"), r"variable 'my var' as XDSL"),
        (".xdsl", two_node(root_states=("s\t0", "s1")), r"state 's\\t0' of variable 'r' as XDSL"),
    ],
)
def test_names_that_would_not_read_back_are_refused_before_writing(
    tmp_path: Path, suffix: str, network: Network, message: str
) -> None:
    path = tmp_path / f"model{suffix}"
    with pytest.raises(ModelError, match=message) as info:
        write_network_file(network, path)
    assert "would not read back" in str(info.value) and str(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


_RISKY = [*" _-.;,{}()|\"'/\\*<>=+#\té1aZeE", "table", "default", "probability", "variable"]
risky_names = st.lists(st.sampled_from(_RISKY), min_size=1, max_size=5).map("".join)


@given(
    root=risky_names,
    state=risky_names,
    suffix=st.sampled_from(ALL_SUFFIXES),
)
@case(root="_", state="default", suffix=".bif")  # a parent state named like the BIF keyword
@case(root="table", state="table", suffix=".bif")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_names_are_written_so_that_they_read_back_or_refused(root: str, state: str, suffix: str) -> None:
    if root == "v" or state == "s1":
        return
    net = two_node(root=root, root_states=(state, "s1"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"model{suffix}"
        try:
            write_network_file(net, path)
        except ModelError as exc:
            assert "would not read back" in str(exc) and not path.exists()
            return
        back = read_network_file(path, targets=[root])
    assert set(back.variables) == {root, "v"}
    assert back.states[root] == (state, "s1") and back.parents["v"] == (root,)


def test_ordinary_names_of_published_networks_can_be_written(external_dir: Path, tmp_path: Path) -> None:
    child = published(external_dir, "child")  # states such as '<5', '>=7.5', 'Asy/Patchy'
    for suffix in (".bif", ".xdsl"):
        write_network_file(child, tmp_path / f"child{suffix}")
    with pytest.raises(ModelError, match=r"XMLBIF state names need ASCII letters, digits and '_' only"):
        write_network_file(child, tmp_path / "child.xmlbif")


# ----------------------------------------------------------------------------- how files are written
@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_network_file_mode_follows_the_umask(example: Network, tmp_path: Path, suffix: str, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_network_file(example, tmp_path / f"model{suffix}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / f"model{suffix}").stat().st_mode) == 0o666 & ~umask


def test_writing_into_a_missing_folder_is_a_model_error(example: Network, tmp_path: Path) -> None:
    path = tmp_path / "missing" / "model.bif"
    with pytest.raises(ModelError, match=r"missing/model\.bif: cannot write the BIF file: No such file or directory"):
        write_network_file(example, path)
    assert list(tmp_path.iterdir()) == []


def test_writing_under_a_file_is_a_model_error(example: Network, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match=r"cannot write the XDSL file: Not a directory"):
        write_network_file(example, tmp_path / "file" / "model.xdsl")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write into read-only folders")
def test_writing_into_a_read_only_folder_is_a_model_error(example: Network, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ModelError, match=r"cannot write the BIF file: Permission denied"):
            write_network_file(example, folder / "model.bif")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(example: Network, tmp_path: Path) -> None:
    path = tmp_path / "model.bif"
    path.write_text("old")
    with pytest.raises(ModelError):
        write_network_file(two_node(root="my var"), path)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model.bif"]
