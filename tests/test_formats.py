"""Network file formats: every reader and writer, by content, against pgmpy and pyAgrum.

Reproduces each failure of issue 14: gzipped BIF, aGrUM's XMLBIF without a network name,
rounded tables (0.333333 x 3, six-decimal files), GeNIe's multi-parent XDSL tables, and
pgmpy's Hugin and UAI readers.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest

from distancing_bn.errors import ModelError, ModelSyntaxError, ModelValidationError, ModelWarning
from distancing_bn.interop import detect_format, read_network_file, write_network_file
from distancing_bn.model import Model
from distancing_bn.network import Network

pytestmark = pytest.mark.oracle
pytest.importorskip("pgmpy")

NETWORKS = ["asia", "alarm", "child", "insurance", "hepar2", "win95pts", "andes", "pathfinder"]
ROOT = {
    "asia": "asia",
    "alarm": "HYPOVOLEMIA",
    "child": "BirthAsphyxia",
    "insurance": "Age",
    "hepar2": "alcoholism",
    "win95pts": "AppOK",
    "andes": "GOAL_2",
    "pathfinder": "Fault",
}
OWN_FORMATS = (".net", ".uai", ".xdsl")  # our readers and writers: fast enough for every network


@functools.cache
def published(external_dir: Path, name: str) -> Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        return read_network_file(external_dir / "networks" / f"{name}.bif", targets=[ROOT[name]])


def assert_exactly_equal(a: Network, b: Network) -> None:
    assert list(a.variables) == list(b.variables) or set(a.variables) == set(b.variables)
    for v in a.variables:
        assert a.states[v] == b.states[v], v
        assert a.parents[v] == b.parents[v], v
        np.testing.assert_array_equal(a.cpts[v], b.cpts[v], err_msg=v)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("suffix", OWN_FORMATS)
def test_every_published_network_round_trips_exactly(
    external_dir: Path, tmp_path: Path, name: str, suffix: str
) -> None:
    net = published(external_dir, name)
    path = tmp_path / f"{name}{suffix}"
    write_network_file(net, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)  # written rows need no rescaling
        back = read_network_file(path, targets=[ROOT[name]])
    assert_exactly_equal(net, back)


@pytest.mark.parametrize("name", ["asia", "alarm", "hepar2"])
@pytest.mark.parametrize("suffix", [".bif", ".xmlbif", ".bifxml"])
def test_pgmpy_formats_round_trip_exactly(external_dir: Path, tmp_path: Path, name: str, suffix: str) -> None:
    net = published(external_dir, name)
    path = tmp_path / f"{name}{suffix}"
    write_network_file(net, path)
    assert_exactly_equal(net, read_network_file(path, targets=[ROOT[name]]))


# ----------------------------------------------------------------------------- formats by content
def test_gzipped_bif_reads_like_the_bif(external_dir: Path, tmp_path: Path) -> None:
    raw = (external_dir / "networks" / "asia.bif").read_bytes()
    for name in ("asia.bif.gz", "asia.gz"):
        (tmp_path / name).write_bytes(gzip.compress(raw))
        assert_exactly_equal(read_network_file(tmp_path / name, targets=["lung"]), published(external_dir, "asia"))


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    from distancing_bn.spec import MAX_NETWORK_FILE_BYTES

    path = tmp_path / "big.bif.gz"
    path.write_bytes(gzip.compress(b" " * (MAX_NETWORK_FILE_BYTES + 10)))
    with pytest.raises(ModelSyntaxError, match=r"unpacks to more than 64 MiB"):
        read_network_file(path, targets=["a"])


def test_xml_suffix_is_read_by_content(external_dir: Path, tmp_path: Path) -> None:
    net = published(external_dir, "asia")
    for suffix in (".xmlbif", ".xdsl"):
        write_network_file(net, tmp_path / f"a{suffix}")
        xml = tmp_path / f"{suffix[1:]}.xml"
        xml.write_bytes((tmp_path / f"a{suffix}").read_bytes())
        assert detect_format(xml.read_bytes(), "xmlbif") == suffix[1:]
        assert_exactly_equal(read_network_file(xml, targets=["lung"]), net)


# aGrUM writes XMLBIF without <NAME> in <NETWORK> (and its own PROPERTY lines)
AGRUM_XMLBIF = """<?xml version="1.0" ?>
<BIF VERSION="0.3">
<NETWORK>
<PROPERTY>software aGrUM</PROPERTY>
<VARIABLE TYPE="nature">
  <NAME>rain</NAME>
  <PROPERTY>fast = rain{no|yes}</PROPERTY>
  <OUTCOME>no</OUTCOME>
  <OUTCOME>yes</OUTCOME>
</VARIABLE>
<VARIABLE TYPE="nature">
  <NAME>wet</NAME>
  <OUTCOME>no</OUTCOME>
  <OUTCOME>yes</OUTCOME>
</VARIABLE>
<DEFINITION><FOR>rain</FOR><TABLE>0.8 0.2</TABLE></DEFINITION>
<DEFINITION><FOR>wet</FOR><GIVEN>rain</GIVEN><TABLE>0.9 0.1 0.25 0.75</TABLE></DEFINITION>
</NETWORK>
</BIF>
"""


@pytest.mark.parametrize("suffix", [".bifxml", ".xmlbif", ".xml"])
def test_agrum_xmlbif_without_a_network_name_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"weather{suffix}"
    path.write_text(AGRUM_XMLBIF, encoding="utf-8")
    net = read_network_file(path, targets=["rain"])
    assert net.name == "weather"
    np.testing.assert_array_equal(net.cpts["wet"], [[0.9, 0.1], [0.25, 0.75]])


# ----------------------------------------------------------------------------- tolerance
def three_states(row: str) -> str:
    return (
        "network t {\n}\nvariable a {\n  type discrete [ 3 ] { x, y, z };\n}\n"
        "variable b {\n  type discrete [ 2 ] { n, m };\n}\n"
        f"probability ( a ) {{\n  table {row};\n}}\n"
        "probability ( b | a ) {\n  (x) 0.5, 0.5;\n  (y) 0.25, 0.75;\n  (z) 0.1, 0.9;\n}\n"
    )


def test_rows_rounded_to_six_decimals_are_rescaled_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "thirds.bif"
    path.write_text(three_states("0.333333, 0.333333, 0.333333"), encoding="utf-8")
    with pytest.warns(ModelWarning) as record:
        net = read_network_file(path, targets=["a"])
    assert len(record) == 1
    assert "the furthest is 'a' given (no parents), summing to 0.999999" in str(record[0].message)
    assert str(path) in str(record[0].message)
    np.testing.assert_allclose(net.cpts["a"], [1 / 3] * 3, rtol=0, atol=1e-15)


def test_rows_further_than_1e4_name_file_node_and_parents(tmp_path: Path) -> None:
    text = three_states("0.2, 0.3, 0.5").replace("(y) 0.25, 0.75;", "(y) 0.25, 0.7;")
    path = tmp_path / "bad.bif"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelValidationError) as info:
        read_network_file(path, targets=["a"])
    [problem] = info.value.problems
    assert problem.file == str(path) and problem.key_path == "b"
    assert "table of 'b' sums to 0.95 for parents a=y" in problem.message


# ----------------------------------------------------------------------------- Hugin NET
def test_pgmpy_net_reader_fails_on_pyagrum_comments_and_ours_reads_them(tmp_path: Path) -> None:
    from pgmpy.readwrite import NETReader

    text = (
        'net\n{\n}\nnode a\n{\n  states = ("s0" "s1");\n}\nnode b\n{\n  states = ("t0" "t1");\n}\n'
        "potential (a) {\n  data = (0.3 0.7);\n}\n"
        "potential ( b | a ) {\n  data =\n  ((0.2 0.8)   % a=s0\n  (0.6 0.4));   % a=s1\n}\n"
    )
    path = tmp_path / "ab.net"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="cannot reshape"):
        NETReader(str(path)).get_model()
    net = read_network_file(path, targets=["a"])
    np.testing.assert_array_equal(net.cpts["b"], [[0.2, 0.8], [0.6, 0.4]])


# ----------------------------------------------------------------------------- UAI
UAI = "BAYES\n2\n2 2\n2\n1 0\n2 0 1\n\n2\n 0.3 0.7\n\n4\n 0.2 0.8\n 0.6 0.4\n"


def test_pgmpy_uai_reader_transposes_tables_and_ours_does_not(tmp_path: Path) -> None:
    from pgmpy.readwrite import UAIReader

    path = tmp_path / "ab.uai"
    path.write_text(UAI, encoding="utf-8")
    net = read_network_file(path, targets=["v0"])
    # the file: P(v1=0 | v0=0) = 0.2, P(v1=1 | v0=0) = 0.8, P(v1=0 | v0=1) = 0.6
    np.testing.assert_array_equal(net.cpts["v1"], [[0.2, 0.8], [0.6, 0.4]])
    cpd = UAIReader(str(path)).get_model().get_cpds("var_1")
    assert cpd.get_value(var_1=0, var_0=1) == pytest.approx(0.8)  # pgmpy: the file's P(v1=1 | v0=0)


def test_uai_markov_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.uai"
    path.write_text(UAI.replace("BAYES", "MARKOV"), encoding="utf-8")
    with pytest.raises(ModelSyntaxError, match=r"a Markov network \(undirected\) is not a Bayesian network"):
        read_network_file(path, targets=["v0"])


# ----------------------------------------------------------------------------- XDSL as GeNIe writes it
# GeNIe lists a node's numbers with the last parent changing fastest (the node's own states
# fastest of all). Below, dysp's parents are 'either bronc'.
GENIE_XDSL = """<?xml version="1.0" encoding="UTF-8"?>
<!-- written the way GeNIe 4 saves a diagnostic network -->
<smile version="1.0" id="Asia" numsamples="10000" discsamples="10000">
  <nodes>
    <cpt id="smoke" diagtype="observation" ranked="true">
      <state id="no" />
      <state id="yes" />
      <probabilities>0.5 0.5</probabilities>
    </cpt>
    <cpt id="bronc" diagtype="target">
      <state id="Absent" />
      <state id="Present" fault="true" />
      <parents>smoke</parents>
      <probabilities>0.7 0.3 0.4 0.6</probabilities>
    </cpt>
    <cpt id="lung" diagtype="target">
      <state id="no" />
      <state id="yes" fault="true" />
      <parents>smoke</parents>
      <probabilities>0.99 0.01 0.9 0.1</probabilities>
    </cpt>
    <cpt id="either">
      <state id="Nothing" />
      <state id="Something" />
      <parents>lung</parents>
      <probabilities>1 0 0 1</probabilities>
    </cpt>
    <cpt id="dysp" diagtype="observation" ranked="true">
      <state id="Absent" />
      <state id="Present" />
      <parents>either bronc</parents>
      <probabilities>0.9 0.1 0.2 0.8 0.3 0.7 0.1 0.9</probabilities>
    </cpt>
    <cpt id="aux" diagtype="auxiliary">
      <state id="a" />
      <state id="b" />
      <parents>dysp</parents>
      <probabilities>0.5 0.5 0.5 0.5</probabilities>
    </cpt>
  </nodes>
  <extensions>
    <genie version="1.0" app="GeNIe 4.0" name="Asia">
      <node id="dysp"><name>Short of breath?</name></node>
      <node id="smoke"><name>smoke</name></node>
    </genie>
  </extensions>
</smile>
"""

# P(dysp = Present | either, bronc), worked out by hand from the file
DYSP_PRESENT = {("Nothing", "Absent"): 0.1, ("Nothing", "Present"): 0.8, ("Something", "Absent"): 0.7}


@pytest.fixture
def genie_file(tmp_path: Path) -> Path:
    path = tmp_path / "asia_genie.xdsl"
    path.write_text(GENIE_XDSL, encoding="utf-8")
    return path


def test_genie_xdsl_multi_parent_table_matches_the_hand_computed_one(genie_file: Path) -> None:
    net = read_network_file(genie_file)
    st = net.states
    for (either, bronc), p in DYSP_PRESENT.items():
        assert net.cpts["dysp"][st["either"].index(either), st["bronc"].index(bronc), 1] == p


def test_pyagrum_reads_genie_multi_parent_tables_with_the_parents_swapped(genie_file: Path) -> None:
    gum = pytest.importorskip("pyagrum")
    text = genie_file.read_text(encoding="utf-8")  # pyAgrum takes the extension's <name> as the variable's name
    plain = genie_file.with_name("plain.xdsl")
    plain.write_text(text.replace("Short of breath?", "dysp"), encoding="utf-8")
    bn = gum.loadBN(str(plain))
    got = bn.cpt("dysp")[{"either": "Nothing", "bronc": "Present"}]
    assert got[1] == pytest.approx(0.7)  # pyAgrum 3.3.1: the file's (Something, Absent) cell, not 0.8


def test_pgmpy_xdsl_reader_reads_the_table_right_but_no_roles(genie_file: Path) -> None:
    from pgmpy.readwrite import XDSLReader

    model = XDSLReader(str(genie_file)).get_model()
    assert model.get_cpds("dysp").get_value(dysp="Present", either="Nothing", bronc="Present") == pytest.approx(0.8)
    assert not hasattr(model, "diagtype")  # roles and fault states are not kept: hence our own reader


def test_genie_roles_load_without_targets(genie_file: Path) -> None:
    from distancing_bn.formats import load_network

    model = load_network(genie_file)
    assert model.causes == ("bronc", "lung")
    assert model.questions == ("smoke", "dysp")  # file order; 'either' and 'aux' stay latent
    assert dict(model.network.present) == {"bronc": ("Present",), "lung": ("yes",)}
    assert model.question_text("dysp") == "Short of breath?" and model.question_text("smoke") == "smoke"
    assert model.disclaimer == ""  # the file gives none


# ----------------------------------------------------------------------------- same posteriors elsewhere
def ours(net: Network, target: str, evidence: dict[str, str]) -> np.ndarray:
    model = Model(net)
    return np.asarray(model.posterior(evidence).marginal(target), dtype=float)


@pytest.mark.parametrize("suffix", [".bif", ".xmlbif", ".xdsl", ".net"])
def test_written_files_give_pgmpy_the_same_posteriors(external_dir: Path, tmp_path: Path, suffix: str) -> None:
    from pgmpy.inference import VariableElimination
    from pgmpy.readwrite import BIFReader, NETReader, XDSLReader, XMLBIFReader

    net = published(external_dir, "alarm")
    path = tmp_path / f"alarm{suffix}"
    write_network_file(net, path)
    reader = {".bif": BIFReader, ".xmlbif": XMLBIFReader, ".xdsl": XDSLReader, ".net": NETReader}[suffix]
    evidence = {"BP": "LOW", "PRESS": "HIGH"}
    got = VariableElimination(reader(str(path)).get_model()).query(
        ["HYPOVOLEMIA"], evidence=evidence, show_progress=False
    )
    want = ours(net, "HYPOVOLEMIA", evidence)
    order = [got.state_names["HYPOVOLEMIA"].index(s) for s in net.states["HYPOVOLEMIA"]]
    np.testing.assert_allclose(got.values[order], want, rtol=0, atol=1e-12)


# pyAgrum 3.3.1 reads BIF and NET numbers in single precision (0.7 -> 0.699999988), XMLBIF in double
@pytest.mark.parametrize(("suffix", "atol"), [(".bifxml", 1e-12), (".net", 1e-7), (".bif", 1e-6)])
def test_written_files_give_pyagrum_the_same_posteriors(
    external_dir: Path, tmp_path: Path, suffix: str, atol: float
) -> None:
    gum = pytest.importorskip("pyagrum")
    net = published(external_dir, "alarm")
    path = tmp_path / f"alarm{suffix}"
    write_network_file(net, path)
    bn = gum.loadBN(str(path))
    ie = gum.LazyPropagation(bn)
    evidence = {"BP": "LOW", "PRESS": "HIGH"}
    ie.setEvidence(evidence)
    ie.makeInference()
    post = ie.posterior("HYPOVOLEMIA")
    got = [post[{"HYPOVOLEMIA": s}] for s in net.states["HYPOVOLEMIA"]]
    np.testing.assert_allclose(got, ours(net, "HYPOVOLEMIA", evidence), rtol=0, atol=atol)


@pytest.mark.parametrize("suffix", [".uai", ".xdsl"])
def test_pyagrum_reads_written_multi_parent_tables_differently(tmp_path: Path, suffix: str) -> None:
    gum = pytest.importorskip("pyagrum")
    path = tmp_path / "g.xdsl"
    path.write_text(GENIE_XDSL, encoding="utf-8")
    net = read_network_file(path)
    out = tmp_path / f"g2{suffix}"
    write_network_file(net, out)
    assert read_network_file(out, targets=["lung"]).cpts["dysp"][0, 1, 1] == 0.8  # ours reads it back
    bn = gum.loadBN(str(out))
    # pyAgrum names XDSL variables by GeNIe's <name> (our question text) and UAI ones by index
    name = "Short of breath?" if suffix == ".xdsl" else str(list(net.variables).index("dysp"))
    cpt = bn.cpt(name)
    parents = {"either": "Nothing", "bronc": "Present"} if suffix == ".xdsl" else None
    if parents is None:
        e, b = (str(list(net.variables).index(v)) for v in ("either", "bronc"))
        got = cpt[{e: 0, b: 1}][1]
    else:
        got = cpt[parents][1]
    assert got == pytest.approx(0.7)  # pyAgrum 3.3.1 takes the first parent as the fastest-changing one


# ----------------------------------------------------------------------------- refusals
def test_unknown_suffix_lists_every_readable_format(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"valid: \.bif, \.bif\.gz, \.xmlbif, \.bifxml, \.xml, \.xdsl, \.net, \.uai"):
        read_network_file(tmp_path / "x.dne", targets=["a"])


def test_network_without_roles_needs_targets(external_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"gives no roles, so it needs targets: pass them"):
        read_network_file(external_dir / "networks" / "asia.bif")


def test_xdsl_noisymax_node_gives_the_hand_computed_table(tmp_path: Path) -> None:
    # Díez parameters as SMILE stores them: per parent state (in strength order) a distribution
    # over the node's states, whose last state is the distinguished one; the leak last.
    path = tmp_path / "n.xdsl"
    path.write_text(
        '<smile version="1.0" id="n"><nodes>'
        '<cpt id="A"><state id="present"/><state id="absent"/><probabilities>0.3 0.7</probabilities></cpt>'
        '<cpt id="B"><state id="present"/><state id="absent"/><probabilities>0.4 0.6</probabilities></cpt>'
        '<noisymax id="N"><state id="high"/><state id="low"/><state id="none"/><parents>A B</parents>'
        "<strengths>0 1 0 1</strengths>"
        "<parameters>0.5 0.3 0.2 0 0 1 0.1 0.6 0.3 0 0 1 0.05 0.05 0.9</parameters></noisymax>"
        "</nodes></smile>",
        encoding="utf-8",
    )
    table = read_network_file(path, targets=["A"]).cpts["N"]
    # both present: P(N <= low) = 0.5 * 0.9 * 0.95, P(N = none) = 0.2 * 0.3 * 0.9
    np.testing.assert_allclose(table[0, 0], [1 - 0.4275, 0.4275 - 0.054, 0.054], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table[0, 1], [1 - 0.475, 0.475 - 0.18, 0.18], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table[1, 1], [0.05, 0.05, 0.9], rtol=0, atol=1e-15)  # the leak alone


def test_our_noisy_max_questions_are_written_as_genie_noisymax(tmp_path: Path) -> None:
    from distancing_bn.formats import load_model

    model = load_model()
    path = tmp_path / "default.xdsl"
    model.save(path)
    text = path.read_text(encoding="utf-8")
    assert text.count("<noisymax ") > 0
    back = load_model(path)
    for v in model.network.variables:
        assert back.network.states[v] == model.network.states[v], v
        np.testing.assert_allclose(back.network.cpts[v], model.network.cpts[v], rtol=0, atol=1e-15, err_msg=v)


def test_net_lists_nested_too_deep_are_refused_without_recursing(tmp_path: Path) -> None:
    depth = 5000
    path = tmp_path / "deep.net"
    path.write_text(
        'net\n{\n}\nnode a\n{\n  states = ("y" "n");\n}\npotential (a)\n{\n  data = '
        + "(" * depth
        + "0.5 0.5"
        + ")" * depth
        + ";\n}\n",
        encoding="utf-8",
    )
    with pytest.raises(ModelSyntaxError, match=r"lists are nested more than 64 deep") as info:
        read_network_file(path, targets=["a"])
    assert info.value.line == 10


def test_xdsl_entity_expansion_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 10)
    )
    path = tmp_path / "lol.xdsl"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE smile [{entities}]><smile id="x"><nodes><cpt id="a">'
        '<state id="&a9;"/><state id="n"/><probabilities>0.5 0.5</probabilities></cpt></nodes></smile>',
        encoding="utf-8",
    )
    with pytest.raises(ModelSyntaxError, match=r"cannot read XDSL network: ParseError"):
        read_network_file(path, targets=["a"])


@pytest.mark.parametrize("suffix", [".bifxml", ".net"])
def test_files_written_by_pyagrum_are_read_with_its_numbers(external_dir: Path, tmp_path: Path, suffix: str) -> None:
    gum = pytest.importorskip("pyagrum")
    bn = gum.loadBN(str(external_dir / "networks" / "alarm.bif"))
    path = tmp_path / f"alarm{suffix}"
    gum.saveBN(bn, str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # pyAgrum writes its single-precision numbers
        net = read_network_file(path, targets=["HYPOVOLEMIA"])
    assert set(net.variables) == set(bn.names())
    for v in net.variables:
        assert tuple(bn.variable(v).labels()) == net.states[v]
        cpt = bn.cpt(v)
        for idx in itertools.product(*(range(net.card(p)) for p in net.parents[v])):
            given = {p: net.states[p][i] for p, i in zip(net.parents[v], idx, strict=True)}
            want = np.asarray(cpt[given] if given else cpt.toarray(), dtype=float)
            # pyAgrum holds BIF numbers in single precision and writes them rounded: 1e-7
            np.testing.assert_allclose(net.cpts[v][idx], want / want.sum(), rtol=0, atol=1e-7, err_msg=v)


def test_xdsl_decision_node_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.xdsl"
    path.write_text(
        '<smile version="1.0" id="d"><nodes><decision id="D"><state id="x"/><state id="y"/></decision></nodes></smile>',
        encoding="utf-8",
    )
    with pytest.raises(ModelSyntaxError, match=r"node 'D' is a <decision> node: influence-diagram nodes"):
        read_network_file(path, targets=["D"])


def test_pgmpy_skips_the_noisymax_nodes_of_our_xdsl_files(tmp_path: Path) -> None:
    from pgmpy.readwrite import XDSLReader

    from distancing_bn.formats import load_model

    model = load_model()
    path = tmp_path / "default.xdsl"
    model.save(path)
    nodes = set(XDSLReader(str(path)).get_model().nodes())
    assert nodes < set(model.network.variables) and "defensive" not in nodes  # hence: .bif, .xmlbif or .net


@pytest.mark.parametrize("name", [n for n in NETWORKS if n != "asia"])
def test_every_published_network_matches_pyagrum_on_every_node(external_dir: Path, tmp_path: Path, name: str) -> None:
    """Three root targets, every other node reported, two leaves answered: exact against pyAgrum."""
    gum = pytest.importorskip("pyagrum")
    base = published(external_dir, name)
    roots = sorted(v for v in base.variables if not base.parents[v])[:3]
    leaves = sorted(v for v in base.variables if not base.children(v))
    evidence = {v: base.states[v][0] for v in leaves[:2]}
    suffix, atol = (".net", 1e-7) if name == "child" else (".bifxml", 1e-12)  # child's states do not fit XMLBIF
    path = tmp_path / f"{name}{suffix}"
    write_network_file(base, path)
    rest = [v for v in base.variables if v not in roots and v not in leaves]
    net = read_network_file(path, targets=roots, observables=[v for v in leaves if v not in roots], reported=rest)
    post = Model(net, memory_budget=None).posterior(evidence)
    ie = gum.LazyPropagation(gum.loadBN(str(path)))
    ie.setEvidence(evidence)
    ie.makeInference()
    for v in (*roots, *rest):
        want = [ie.posterior(v)[{v: s}] for s in net.states[v]]
        np.testing.assert_allclose(np.asarray(post.marginal(v)), want, rtol=0, atol=atol, err_msg=v)
