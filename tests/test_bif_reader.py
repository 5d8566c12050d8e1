"""Our BIF reader (:mod:`distancing_bn._bif`): pgmpy's ``BIFReader`` is the oracle on every
published file, malformed files give our typed errors with their line, and reading a BIF
file never imports pgmpy."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EXTERNAL_DIR
from distancing_bn import _bif
from distancing_bn._netparts import Parts
from distancing_bn.errors import ModelSyntaxError, ModelValidationError
from distancing_bn.interop import _parts_from_pgmpy, read_network_file

EXTERNAL_BIFS = sorted(
    [*EXTERNAL_DIR.rglob("*.bif"), *EXTERNAL_DIR.rglob("*.bif.gz")] if EXTERNAL_DIR.is_dir() else [],
)
DATA_BIFS = sorted((Path(__file__).parent / "data").rglob("*.bif*"))


def pgmpy_parts(text: str) -> Parts:
    """The parts the pgmpy route built: BIFReader's model, turned into our layout."""
    import warnings

    from pgmpy.readwrite import BIFReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parts_from_pgmpy(BIFReader(string=text).get_model(), "x")


def assert_same(ours: Parts, theirs: Parts) -> None:
    assert list(ours.states) == list(theirs.states)
    assert ours.states == theirs.states
    assert ours.parents == theirs.parents  # parents in the same order
    for v, table in theirs.cpts.items():
        assert ours.cpts[v].shape == table.shape, v
        assert ours.cpts[v].dtype == np.float64
        np.testing.assert_allclose(ours.cpts[v], table, rtol=0, atol=1e-15, err_msg=v)


def text_of(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig").replace("\r\n", "\n")


@pytest.mark.parametrize("path", EXTERNAL_BIFS + DATA_BIFS, ids=lambda p: p.name)
def test_published_files_read_as_pgmpy_reads_them(path: Path) -> None:
    text = text_of(path)
    ours = _bif.parse(text, str(path), "x")
    assert_same(ours, pgmpy_parts(text if text.endswith("\n") else text + "\n"))
    probability_lines = [i for i, ln in enumerate(text.splitlines(), 1) if ln.lstrip().startswith("probability")]
    assert sorted(ours.lines.values()) == probability_lines


def test_external_files_are_found(external_dir: Path) -> None:
    assert {p.name for p in EXTERNAL_BIFS} >= {"asia.bif", "alarm.bif", "hepar2.bif", "pathfinder.bif", "andes.bif"}


@pytest.mark.filterwarnings("ignore::distancing_bn.errors.ModelWarning")
def test_gzipped_bif_gives_the_same_tables(external_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "alarm.bif.gz"
    path.write_bytes(gzip.compress((external_dir / "networks" / "alarm.bif").read_bytes()))
    net = read_network_file(path, targets=["HYPOVOLEMIA"])
    plain = read_network_file(external_dir / "networks" / "alarm.bif", targets=["HYPOVOLEMIA"])
    assert net.variables == plain.variables
    for v in net.variables:
        np.testing.assert_array_equal(net.cpts[v], plain.cpts[v])


# the dialects: pyAgrum (quoted network name, 'discrete[2]', values without commas), JavaBayes
# (comments, properties, 'probability ( child parent )' without '|', 'table' with parents)
DIALECTS = {
    "pyagrum": (
        'network "anonymousBN" {\n// written by aGrUM 3.3.1\n}\n\n'
        "variable a {\n   type discrete[2] {0, 1};\n}\n\nvariable b {\n   type discrete[3] {lo, mid, hi};\n}\n\n"
        "probability (a) {\n   table 0.7041607449227523 0.29583925507724773;\n}\n"
        "probability (b | a) {\n   (1) 0.2 0.3 0.5;\n   (0) 0.1 0.1 0.8;\n}\n"
    ),
    "javabayes": (
        "/* JavaBayes\n   version 0.346 */\nnetwork Dogs {\n  property author = someone ;\n}\n"
        "variable Light { // a comment\n  type discrete [ 2 ] { on, off };\n  property position = (10, 20) ;\n}\n"
        "variable Dog {\n  type discrete [ 2 ] { out, in };\n}\n"
        "variable Bark {\n  type discrete [ 2 ] { yes, no };\n}\n"
        "probability ( Light ) {\n  table 0.15 0.85 ;\n}\n"
        "probability ( Dog Light ) {\n  table 0.99 0.1 0.01 0.9 ;\n}\n"
        "probability ( bark | dog, light ) {\n  (out, on) 0.7, 0.3;\n  (in, on) 0.6, 0.4;\n"
        "  (out, off) 0.2, 0.8; /* a\n comment */ (in, off) 0.01, 0.99;\n}\n"
    ),
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_dialects_read_as_pgmpy_reads_them(dialect: str) -> None:
    text = DIALECTS[dialect]
    ours = _bif.parse(text, "t.bif", "t")
    assert_same(ours, pgmpy_parts(text))


def test_table_with_parents_lists_the_child_slowest() -> None:
    parts = _bif.parse(DIALECTS["javabayes"], "t.bif", "t")
    # 'table 0.99 0.1 0.01 0.9' for Dog given Light: P(out|on)=0.99, P(out|off)=0.1
    np.testing.assert_array_equal(parts.cpts["Dog"], [[0.99, 0.01], [0.1, 0.9]])
    assert parts.parents["Bark"] == ("Dog", "Light")  # names matched whatever their case


def test_quoted_names_and_default_rows() -> None:
    text = (
        'network n {\n}\nvariable "my a" {\n  type discrete [ 2 ] { "x 1", "y 2" };\n}\n'
        "variable c {\n  type discrete [ 3 ] { p, q, r };\n}\n"
        'probability ( "my a" ) {\n  table 0.25, 0.75;\n}\n'
        'probability ( c | "my a" ) {\n  default 0.2, 0.3, 0.5;\n  ("y 2") 1, 0, 0;\n}\n'
    )
    parts = _bif.parse(text, "q.bif", "q")
    assert parts.states == {"my a": ("x 1", "y 2"), "c": ("p", "q", "r")}
    np.testing.assert_array_equal(parts.cpts["c"], [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])


# ----------------------------------------------------------------------------- malformed files
GOOD = (
    "network t {\n}\n"  # 1-2
    "variable a {\n  type discrete [ 3 ] { x, y, z };\n}\n"  # 3-5
    "variable b {\n  type discrete [ 2 ] { n, m };\n}\n"  # 6-8
    "probability ( a ) {\n  table 0.2, 0.3, 0.5;\n}\n"  # 9-11
    "probability ( b | a ) {\n  (x) 0.5, 0.5;\n  (y) 0.25, 0.75;\n  (z) 0.1, 0.9;\n}\n"  # 12-17
)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("(y) 0.25, 0.75;", "(y) 0.25, 0.75", 14, r"the row \(y\) does not end with ';'"),
        ("(y) 0.25", "(w) 0.25", 14, r"names state 'w' of 'a', which has no such state; valid: x, y, z"),
        ("(z) 0.1, 0.9;", "(z) 0.1, 0.8, 0.1;", 15, r"the row \(z\) gives 3 value\(s\); expected 2"),
        ("table 0.2, 0.3, 0.5;", "table 0.2, 0.8;", 10, r"'table' gives 2 value\(s\); expected 3"),
        ("(z) 0.1, 0.9;", "(z) 0.1, 0.9x;", 15, r"gives '0.9x', which is not a number"),
        ("(z) 0.1", "(y) 0.1", 15, r"the row \(y\) is given twice \(first at line 14\)"),
        ("(z) 0.1", "(z, x) 0.1", 15, r"gives 2 parent state\(s\) for 1 parent\(s\) \(a\)"),
        ("variable b {", "variable a {", 6, r"variable 'a' is declared twice \(first at line 3\)"),
        ("network t {\n", "network t {\n/* never closed\n", 2, r"a '/\*' comment is never closed"),
        ("( b | a )", "( b | q )", 12, r"names 'q', which is not declared as a variable"),
        ("[ 2 ] { n, m }", "[ 3 ] { n, m }", 6, r"variable 'b' declares 3 states but lists 2"),
        ("}\n", "}\nprobability ( b ) {\n  table 0.5, 0.5;\n}\n", 15, r"the table of 'b' is given twice"),
    ],
)
def test_malformed_files_raise_typed_errors_with_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    path = tmp_path / "bad.bif"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelSyntaxError, match=message) as info:
        read_network_file(path, targets=["a"])
    assert info.value.file == str(path)
    assert info.value.line == line


def test_the_good_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "good.bif"
    path.write_text(GOOD, encoding="utf-8")
    net = read_network_file(path, targets=["a"])
    np.testing.assert_array_equal(net.cpts["b"], [[0.5, 0.5], [0.25, 0.75], [0.1, 0.9]])


def test_a_row_not_given_is_reported_by_validation(tmp_path: Path) -> None:
    path = tmp_path / "short.bif"
    path.write_text(GOOD.replace("  (z) 0.1, 0.9;\n", ""), encoding="utf-8")
    with pytest.raises(ModelValidationError, match=r"table of 'b' sums to 0 for parents a=z") as info:
        read_network_file(path, targets=["a"])
    assert info.value.problems[0].line == 12


def test_text_that_is_not_bif_says_what_it_found() -> None:
    with pytest.raises(ModelSyntaxError, match=r"found 'hello there'; expected a 'network'") as info:
        _bif.parse("network t {\n}\nhello there\n", "x.bif", "x")
    assert info.value.line == 3


# ----------------------------------------------------------------------------- no pgmpy
def test_reading_a_bif_file_does_not_import_pgmpy(external_dir: Path, tmp_path: Path) -> None:
    gz = tmp_path / "asia.bif.gz"
    gz.write_bytes(gzip.compress((external_dir / "networks" / "asia.bif").read_bytes()))
    code = (
        "import sys\nfrom distancing_bn.interop import read_network_file\n"
        f"for p in [{str(external_dir / 'networks' / 'asia.bif')!r}, {str(gz)!r}]:\n"
        "    assert 'dysp' in read_network_file(p, targets=['lung']).variables\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pgmpy', 'pyparsing', 'sklearn', 'pandas')))\n"
    )
    src = str(Path(_bif.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
