"""Nothing lost, nothing hung (issue 10): the CSV reader, the output file and bad input.

Every row comes back in order with its id bytes through the pyarrow -> pandas handover (one
rule for blank lines, a Hypothesis property), wide headers are linear and capped, the output
is never the input, never a directory and never half-written, cells a spreadsheet would run
are defused (and kept exact with ``raw_cells``), answers that differ only in case are told
apart, and every bad input is a :class:`DataError` with the row, line and file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import sys
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distancing_bn.csvio as csvio
from distancing_bn import load_model
from distancing_bn.batch import _Plan, score_csv
from distancing_bn.csvio import MAX_COLUMNS, read_csv_chunks, write_csv_chunk
from distancing_bn.errors import DataError, DistancingBNWarning, InvalidAnswerError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_ANSWERS = REPO / "examples" / "answers.csv"


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model()


def run(model: Any, src: Path | str, dst: Path | str, **kwargs: Any) -> Any:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("next_question", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DistancingBNWarning)
        return score_csv(src, dst, model, **kwargs)


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def cells_read(src: Path, chunk_size: int, sep: str | None = None) -> list[list[str]]:
    chunks, _sep, _header = read_csv_chunks(src, sep, chunk_size)
    return [row for chunk in chunks for row in chunk.astype(object).values.tolist()]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


# ---------------------------------------------------------------------------- blank lines, one rule
BLANK_LINES = ["", "   ", "\t", " \t ", "\r"]


@pytest.mark.parametrize("columns", [1, 2, 3])
@pytest.mark.parametrize("blank", BLANK_LINES)
def test_blank_lines_are_skipped_whatever_the_number_of_columns(tmp_path: Path, columns: int, blank: str) -> None:
    header = ["less_contact", "b", "c"][:columns]
    rows = [[f"r{i}", *["x"] * (columns - 1)] for i in range(6)]
    lines = [",".join(header)] + [",".join(r) for r in rows]
    lines.insert(3, blank)  # between r1 and r2
    lines.insert(6, blank)
    src = tmp_path / "blank.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for cs in (1, 4, 100):
        assert cells_read(src, cs) == rows


def test_a_quoted_blank_cell_is_a_row_in_a_one_column_file(tmp_path: Path) -> None:
    src = tmp_path / "quoted.csv"
    src.write_text('less_contact\nno\n""\n"   "\n   \n\nno\n', encoding="utf-8")
    assert cells_read(src, 2) == [["no"], [""], ["   "], ["no"]]


def test_whitespace_line_then_a_huge_cell_loses_no_row_and_shifts_none(model: Any, tmp_path: Path) -> None:
    """The issue's case: pyarrow reads the whitespace line as a cell, gives up at the > 1 MiB
    cell, and pandas, which skips it, took over one row off (exit 0, a row missing)."""
    for columns in (1, 2):
        lines = ["less_contact" + (",case_id" if columns == 2 else "")]
        lines += [["no", "a_lot"][i % 2] + (f",c{i}" if columns == 2 else "") for i in range(3000)]
        lines[11] = "   "  # row 10 is a blank line: skipped
        lines[2501] = "x" * (csvio._ARROW_BLOCK + 10) + (",c2500" if columns == 2 else "")  # invalid answer
        src = tmp_path / f"huge{columns}.csv"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        dst = tmp_path / f"huge{columns}.out.csv"
        summary = run(model, src, dst, chunk_size=700)
        assert (summary.rows, summary.marked) == (2999, 1)
        out = read_rows(dst)[1:]
        assert len(out) == 2999
        bad = [i for i, r in enumerate(out) if r[-1] != "ok"]  # status is the last column
        assert bad == [2499]  # data line 2501 is row 2500 once the blank line is skipped
        if columns == 2:
            expected = [f"c{i}" for i in range(3000) if i != 10]
            assert [r[0] for r in out] == expected


# ---------------------------------------------------------------------------- the handover, as a property
CELL = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
    st.sampled_from(["", " ", "  ", "\t", '"', '""', ",", ";", "\n", "\r\n", "\r", "=1+1", "-1", "007", " x ", "é"]),
)


def _write_table(header: list[str], rows: list[list[str]], sep: str, newline: str) -> str:
    """CSV text, each cell quoted where it must be: one that holds the delimiter, a quote or a
    line break, and in a one-column file a blank one (else its line is a blank line)."""

    def cell(text: str, alone: bool) -> str:
        if any(ch in text for ch in (sep, '"', "\r", "\n")) or (alone and not text.strip(" \t")):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(sep.join(cell(c, len(r) == 1) for c in r) + newline for r in [header, *rows])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_rows_order_and_bytes_survive_the_pyarrow_to_pandas_handover(data: st.DataObject) -> None:
    import tempfile

    columns = data.draw(st.integers(1, 4), label="columns")
    sep = data.draw(st.sampled_from([",", ";", "\t"]), label="sep")
    newline = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), label="newline")
    n = data.draw(st.integers(1, 40), label="rows")
    rows = [data.draw(st.lists(CELL, min_size=columns, max_size=columns), label=f"row {i}") for i in range(n)]
    header = [f"c{j}" for j in range(columns)]
    head = _write_table(header, [], sep, newline)
    body: list[tuple[str, list[str] | None]] = [(_write_table(header, [r], sep, newline)[len(head) :], r) for r in rows]
    # blank lines between records: skipped
    blank = st.sampled_from(["", "  ", " " if sep == "\t" else "\t"])
    for _ in range(data.draw(st.integers(0, 3), label="blank lines")):
        body.insert(data.draw(st.integers(0, len(body)), label="at"), (data.draw(blank) + newline, None))
    # a row pyarrow gives up on: a cell longer than its block, or a row with fields missing
    kind = data.draw(st.sampled_from(["long", "short"] if columns > 1 else ["long"]), label="kind")
    if kind == "long":
        trigger = ["L" * 700 + str(j) for j in range(columns)]
        body.insert(data.draw(st.integers(0, len(body)), label="long at"), (sep.join(trigger) + newline, trigger))
    else:
        short = ["S"] + [""] * (columns - 1)
        body.insert(data.draw(st.integers(0, len(body)), label="short at"), ("S" + newline, short))
    expected = [row for _, row in body if row is not None]
    chunk = data.draw(st.integers(1, 50), label="chunk")
    text = head + "".join(text for text, _ in body)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.csv"
        src.write_bytes(text.encode("utf-8"))
        for block in (csvio._ARROW_BLOCK, 512):  # a long cell fits the first, not the second
            with mock.patch.object(csvio, "_ARROW_BLOCK", block):
                pandas_reads = kind == "short" or block == 512
                if pandas_reads and lone_cr_hazard(text, sep):  # pandas would drop a cell: refused
                    with pytest.raises(DataError, match="lone carriage return"):
                        cells_read(src, chunk, sep)
                    continue
                try:
                    assert cells_read(src, chunk, sep) == expected
                except DataError as exc:  # pyarrow gave up for another reason (a blank line of spaces)
                    assert "lone carriage return" in str(exc) and lone_cr_hazard(text, sep)


def lone_cr_hazard(text: str, sep: str) -> bool:
    """A blank line ending in a lone CR right before the delimiter (pandas' C parser loses a cell)."""
    blank = " " if sep == "\t" else " \t"
    return re.search(r"[\r\n][" + blank + r"]*\r" + re.escape(sep), text) is not None


def test_pandas_loses_a_cell_after_a_blank_line_ending_in_a_lone_cr(tmp_path: Path) -> None:
    """Why the hazard is refused: pandas' C parser reads ',,0' after '\\r\\r' as ['', '0', '']."""
    text = "c0,c1,c2\r\r,,0\r"
    assert pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).values.tolist() != [["", "", "0"]]
    src = tmp_path / "cr.csv"
    src.write_text(text, encoding="utf-8", newline="")
    assert cells_read(src, 10) == [["", "", "0"]]  # pyarrow reads it right
    with mock.patch.object(csvio, "_ARROW_BLOCK", 4), pytest.raises(DataError, match=r"cr\.csv: line 2 is blank"):
        cells_read(src, 10)  # pandas would have to


def test_the_property_would_have_seen_the_old_bug(tmp_path: Path) -> None:
    """The blank line counted by pyarrow but not by pandas, one file of the property's kind."""
    src = tmp_path / "old.csv"
    body = ["c0"] + [f"r{i}" for i in range(20)]
    body.insert(3, "  ")
    body.insert(15, "L" * 700)
    src.write_text("\n".join(body) + "\n", encoding="utf-8")
    with mock.patch.object(csvio, "_ARROW_BLOCK", 128):
        got = [r[0] for r in cells_read(src, 4)]
    assert got == [b for b in body[1:] if b.strip()]


def test_scored_ids_come_back_byte_exact_in_raw_mode(model: Any, tmp_path: Path) -> None:
    ids = ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "007", " padded ", 'say "hi"', "1,5", "é", "", "multi\nline"]
    src = tmp_path / "ids.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "less_contact"])
        w.writerows([i, "no"] for i in ids)
    dst = tmp_path / "out.csv"
    with mock.patch.object(csvio, "_ARROW_BLOCK", 64):  # through the handover as well
        run(model, src, dst, raw_cells=True, chunk_size=3)
    assert [r[0] for r in read_rows(dst)[1:]] == ids


# ---------------------------------------------------------------------------- wide headers
def test_too_many_columns_is_a_data_error_before_any_work(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "wide.csv"
    src.write_text(",".join(["less_contact", *(f"c{i}" for i in range(MAX_COLUMNS))]) + "\nno\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{MAX_COLUMNS + 1:,} columns; at most {MAX_COLUMNS:,}"):
        run(model, src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_every_real_file_is_far_inside_the_column_limit(external_dir: Path) -> None:
    widest = 0
    for path in external_dir.rglob("*.csv"):
        _chunks, _sep, header = read_csv_chunks(path, None, 10)
        widest = max(widest, len(header))
    assert 0 < widest * 20 < MAX_COLUMNS


def test_a_wide_header_asks_difflib_only_for_the_names_shown(model: Any) -> None:
    columns = ["less_contact", *(f"survey_item_{i}" for i in range(3000))]
    with (
        mock.patch("distancing_bn.batch.difflib.get_close_matches", return_value=[]) as close,
        pytest.warns(DistancingBNWarning, match=r"3000 column\(s\) are not questions"),
    ):
        _Plan(model, columns, None, None, False)
    assert close.call_count <= 15


def test_repeated_names_in_a_wide_header_are_all_named(model: Any) -> None:
    columns = ["less_contact", *(f"c{i}" for i in range(2000)), "c7", "c1999"]
    with pytest.raises(DataError, match=r"repeated column names \['c1999', 'c7'\]"):
        _Plan(model, columns, None, None, False)


def test_wide_files_come_in_smaller_chunks(tmp_path: Path) -> None:
    width = 2000
    src = tmp_path / "wide.csv"
    src.write_text(
        ",".join(f"c{i}" for i in range(width)) + "\n" + ("x," * (width - 1) + "x\n") * 5000, encoding="utf-8"
    )
    chunks, _sep, _header = read_csv_chunks(src, None, 50_000)
    sizes = [len(c) for c in chunks]
    assert sum(sizes) == 5000
    assert max(sizes) * width <= csvio._CELLS_PER_CHUNK


# ---------------------------------------------------------------------------- the output is never the input
def test_output_equal_to_the_input_is_refused_before_any_work(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "answers.csv"
    original = EXAMPLE_ANSWERS.read_bytes()
    src.write_bytes(original)
    (tmp_path / "link.csv").symlink_to(src)
    os.link(src, tmp_path / "hard.csv")
    for dst in (src, tmp_path / "link.csv", tmp_path / "hard.csv", tmp_path / "." / "answers.csv"):
        with pytest.raises(DataError, match="the output is the input file"):
            run(model, src, dst)
        assert src.read_bytes() == original
    assert leftovers(tmp_path) == []


def test_output_that_is_a_directory_is_refused_before_reading_the_input(model: Any, tmp_path: Path) -> None:
    # the input does not even exist: the output is checked first
    with pytest.raises(DataError, match="the output is a directory"):
        run(model, tmp_path / "missing.csv", tmp_path)


def test_a_symlinked_output_keeps_its_link(model: Any, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(real)
    run(model, EXAMPLE_ANSWERS, tmp_path / "link.csv")
    assert (tmp_path / "link.csv").is_symlink()
    assert real.read_text(encoding="utf-8").startswith("case_id,p_")


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device like /dev/null (minor 3) or /dev/full (7) in ``tmp_path``, so that a
    regression that renamed a file over its output replaces this copy, never the real one."""
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        with open(path, "wb") as fh:
            fh.write(b"")
    except OSError:
        pytest.skip("cannot make a device node here (not root, or a nodev file system)")
    return path


def test_a_device_output_is_written_in_place(model: Any, tmp_path: Path) -> None:
    null = _device(tmp_path, "null", 3)
    run(model, EXAMPLE_ANSWERS, null)
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert leftovers(tmp_path) == []


def test_a_pipe_output_is_written_in_place(model: Any, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run(model, EXAMPLE_ANSWERS, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a file
    reader.join(timeout=60)
    assert got and got[0].startswith(b"case_id,p_") and got[0].count(b"\n") == 15


def test_disk_full_is_a_data_error(model: Any, tmp_path: Path) -> None:
    full = _device(tmp_path, "full", 7)
    with pytest.raises(DataError, match=r"full: cannot write the file: No space left on device"):
        run(model, EXAMPLE_ANSWERS, full)
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_a_file_size_limit_leaves_no_partial_file(tmp_path: Path) -> None:
    """``ulimit -f``: the write fails mid-way (EFBIG); the temporary file is removed."""
    import subprocess

    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from distancing_bn.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    big = tmp_path / "big.csv"
    lines = EXAMPLE_ANSWERS.read_text(encoding="utf-8").splitlines(keepends=True)
    big.write_text(lines[0] + "".join(lines[1:]) * 20, encoding="utf-8")
    dst = tmp_path / "out.csv"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    res = subprocess.run(
        [sys.executable, "-c", code, "score", str(big), "-o", str(dst), "--quiet"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert "error: DataError:" in err and "cannot write the file: File too large" in err and "Traceback" not in err
    assert not dst.exists()
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- permissions
def test_a_new_output_follows_the_umask_and_a_replaced_one_keeps_its_mode(model: Any, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        run(model, EXAMPLE_ANSWERS, tmp_path / "new.csv")
        existing = tmp_path / "existing.csv"
        existing.write_text("old\n", encoding="utf-8")
        existing.chmod(0o600)
        run(model, EXAMPLE_ANSWERS, existing)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert existing.read_text(encoding="utf-8").startswith("case_id,")


# ---------------------------------------------------------------------------- formulas in cells
FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")']
HARMLESS = ["-5", "+1.5e3", "-0", "007", "a=b", " =x", "'=x", "", "é"]


def test_cells_a_spreadsheet_would_run_get_a_quote_in_front(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "ids.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "=note", "less_contact"])
        w.writerows([i, i, "no"] for i in [*FORMULAS, *HARMLESS])
    dst = tmp_path / "out.csv"
    run(model, src, dst)
    rows = read_rows(dst)
    assert rows[0][:2] == ["case_id", "'=note"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS] + HARMLESS
    assert [r[1] for r in rows[1:]] == ["'" + f for f in FORMULAS] + HARMLESS
    for r in rows[1:]:  # numbers are never touched
        assert all(not c.startswith("'") for c in r[2:])
    run(model, src, dst, raw_cells=True)
    rows = read_rows(dst)
    assert rows[0][:2] == ["case_id", "=note"]
    assert [r[0] for r in rows[1:]] == [*FORMULAS, *HARMLESS]


def test_defusing_keeps_chunks_independent() -> None:
    frame = pd.DataFrame({"id": ["=a", "b", "-1", "-x,y"], "p": [0.5, -0.25, np.nan, 1.0]})
    whole, parts = io.BytesIO(), io.BytesIO()
    write_csv_chunk(frame, whole, header=True)
    for i in range(len(frame)):
        write_csv_chunk(frame.iloc[i : i + 1], parts, header=i == 0)
    assert whole.getvalue() == parts.getvalue()
    assert whole.getvalue().decode() == "id,p\n'=a,0.5\nb,-0.25\n-1,\n\"'-x,y\",1\n"


# ---------------------------------------------------------------------------- answers that differ only in case
CASE_BIF = """network case {
}
variable cause {
  type discrete [ 2 ] { present, absent };
}
variable sign {
  type discrete [ 4 ] { YES, yes, no, Maybe };
}
probability ( cause ) {
  table 0.3, 0.7;
}
probability ( sign | cause ) {
  (present) 0.5, 0.3, 0.1, 0.1;
  (absent) 0.1, 0.2, 0.6, 0.1;
}
"""


def test_answers_that_differ_only_in_case_agree_between_the_api_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "case.bif"
    path.write_text(CASE_BIF, encoding="utf-8")
    net_model = load_model(path, targets=["cause"])
    labels = ["YES", "yes", "no", "NO", " maybe ", "MAYBE"]
    api = [float(net_model.posterior({"sign": a}).probabilities["cause"]) for a in labels]
    assert api[0] != pytest.approx(api[1])  # YES and yes are two answers
    assert api[2] == api[3] and api[4] == api[5]  # unambiguous case-insensitive matches
    with pytest.raises(InvalidAnswerError, match="'Yes' is not valid"):
        net_model.posterior({"sign": "Yes"})  # YES or yes? ambiguous: refused
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(labels) + 1)], "sign": [*labels, "Yes"]})
    scored = net_model.score(frame, next_question=False)
    np.testing.assert_allclose(scored["p_cause"].to_numpy()[:-1], api, rtol=0, atol=1e-12)
    assert scored["status"].iloc[-1].startswith("invalid: column 'sign' has 'Yes'")
    src = tmp_path / "case.csv"
    frame.to_csv(src, index=False)
    dst = tmp_path / "case.out.csv"
    score_csv(src, dst, net_model, next_question=False, progress=False)
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    np.testing.assert_allclose(out["p_cause"].iloc[:-1].astype(float), api, rtol=1e-5)
    assert out["status"].iloc[-1].startswith("invalid")


# ---------------------------------------------------------------------------- bad input: typed errors
def test_a_non_utf8_mapping_file_is_a_data_error(model: Any, tmp_path: Path) -> None:
    mapping = tmp_path / "latin1.yaml"
    mapping.write_bytes(b"format: distancing-bn-mapping/1\nid: x\nmodel: distancing\n# caf\xe9\ncolumns: {}\n")
    with pytest.raises(DataError, match=r"latin1\.yaml:4: the mapping file is not UTF-8") as exc:
        run(model, EXAMPLE_ANSWERS, tmp_path / "out.csv", mapping=mapping)
    assert exc.value.line == 4


def test_a_quoted_header_with_a_line_break_is_read(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "qh.csv"
    src.write_text('"case\nid",less_contact\nc1,no\nc2,a_lot\n', encoding="utf-8")
    dst = tmp_path / "out.csv"
    run(model, src, dst)
    rows = read_rows(dst)
    assert rows[0][0] == "case\nid"
    assert [r[0] for r in rows[1:]] == ["c1", "c2"]


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_line_ends_give_the_same_output(model: Any, tmp_path: Path, newline: str) -> None:
    text = EXAMPLE_ANSWERS.read_text(encoding="utf-8")
    src = tmp_path / "ends.csv"
    src.write_bytes(text.replace("\n", newline).encode("utf-8"))
    run(model, src, tmp_path / "ends.out.csv")
    run(model, EXAMPLE_ANSWERS, tmp_path / "plain.out.csv")
    assert (tmp_path / "ends.out.csv").read_bytes() == (tmp_path / "plain.out.csv").read_bytes()


def test_a_header_field_over_128_kib_is_read(model: Any, tmp_path: Path) -> None:
    name = "n" * (200 << 10)
    src = tmp_path / "long.csv"
    src.write_text(f"{name},less_contact\nx,no\n", encoding="utf-8")
    run(model, src, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").split(",", 1)[0] == name


def test_a_header_with_no_line_end_is_refused_after_16_mib(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "noend.csv"
    src.write_bytes(b"less_contact," + b"x" * (csvio.MAX_HEADER_BYTES + (1 << 20)))
    with pytest.raises(DataError, match=r"header .* longer than 16 MiB"):
        run(model, src, tmp_path / "out.csv")


def test_an_unreadable_input_is_a_data_error(model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "secret.csv"
    src.write_bytes(EXAMPLE_ANSWERS.read_bytes())
    real_open = open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path) == src:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(csvio, "open", refuse, raising=False)
    with pytest.raises(DataError, match=r"secret\.csv: cannot read the file: permission denied"):
        run(model, src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and leftovers(tmp_path) == []
    with pytest.raises(DataError, match="cannot read the file: is a directory"):
        run(model, tmp_path, tmp_path / "out.csv")


@pytest.mark.parametrize("sep", [",,", "é", '"', "\n", ""])
def test_a_delimiter_that_is_not_one_ascii_character_is_refused(model: Any, tmp_path: Path, sep: str) -> None:
    with pytest.raises(DataError, match="the delimiter must be one ASCII character"):
        run(model, EXAMPLE_ANSWERS, tmp_path / "out.csv", sep=sep)
    assert not (tmp_path / "out.csv").exists()


def test_list_and_dict_cells_mark_their_rows(model: Any, tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "less_contact": [["no"], {"no": 1}, "no", {1, 2}]})
    out = model.score(frame, next_question=False)
    assert [s.split(":")[0] for s in out["status"]] == ["invalid", "invalid", "ok", "invalid"]
    assert "['no']" in out["status"].iloc[0]
    with pytest.raises(DataError, match=r"row 1, column 'less_contact'"):
        model.score(frame, next_question=False, errors="raise")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "format: distancing-bn-mapping/1\nid: m\nmodel: distancing\ncolumns:\n"
        "  Q1: {question: less_contact, answers: {1: no, 2: a_lot}}\n",
        encoding="utf-8",
    )
    out = model.score(pd.DataFrame({"Q1": [[1], 2, {"a": 1}]}), mapping=mapping, next_question=False)
    assert [s.split(":")[0] for s in out["status"]] == ["invalid", "ok", "invalid"]


@pytest.mark.parametrize("value", [[{"less_contact": "no"}], {"less_contact": ["no"]}, "answers.csv", None])
def test_score_takes_a_dataframe_only(model: Any, value: Any) -> None:
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        model.score(value)


def test_a_header_that_matches_nothing_names_the_header_and_the_fix(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "semi.csv"
    src.write_text("case_id;less_contact;onset\nc1;no;sudden\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        run(model, src, tmp_path / "out.csv", sep=",")
    msg = str(exc.value)
    assert "no column of the input is a question of model 'distancing'" in msg
    assert "'case_id;less_contact;onset'" in msg and "--sep ';'" in msg
    assert "less_contact" in msg and "--mapping" in msg
    src.write_text("Q1,Q2\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"\['Q1', 'Q2'\].*--mapping") as exc:
        run(model, src, tmp_path / "out.csv")
    assert "--sep" not in str(exc.value)
    with pytest.raises(DataError, match="no column of the input is a question"):
        model.score(pd.DataFrame({"id": ["a"]}))


# ---------------------------------------------------------------------------- where the bad row is
def test_a_row_with_too_many_fields_is_named_by_row_and_line(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "many.csv"
    src.write_text(
        '\ncase_id,less_contact\nc1,no\n\n"c\n2",no\nc3,no,extra\nc4,no\n', encoding="utf-8"
    )  # a blank line before the header and one before row 2, which spans two lines
    with pytest.raises(DataError, match=r"row 3 \(line 7\) has 3 fields, the header has 2") as exc:
        run(model, src, tmp_path / "out.csv")
    assert (exc.value.row, exc.value.line, exc.value.file) == (3, 7, str(src))
    assert "extra" not in str(exc.value)


def test_late_invalid_utf8_is_named_by_its_row(model: Any, tmp_path: Path) -> None:
    lines = ["case_id,less_contact"] + [f"c{i},no" for i in range(3000)]
    data = ("\n".join(lines) + "\n").encode("utf-8").replace(b"c2700,", b"c2700\xff,")
    src = tmp_path / "latin.csv"
    src.write_bytes(data)
    with pytest.raises(DataError, match=r"row 2701 \(line 2702\) is not valid UTF-8") as exc:
        run(model, src, tmp_path / "out.csv", chunk_size=1000)
    assert exc.value.row == 2701
    assert not (tmp_path / "out.csv").exists()


def test_an_unclosed_quote_is_named_by_its_row(model: Any, tmp_path: Path) -> None:
    src = tmp_path / "open.csv"
    src.write_text('case_id,less_contact\nc1,no\nc2,no\n"c3,no\nc4,no\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3 \(line 4\) opens a double quote that is never closed"):
        run(model, src, tmp_path / "out.csv")


# ---------------------------------------------------------------------------- stdin streams
class _Lazy(io.RawIOBase):
    """A stream of ``rows`` CSV rows made as they are read; counts the bytes handed out."""

    def __init__(self, rows: int) -> None:
        self.rows, self.next_row, self.given = rows, 0, 0
        self.pending = b"case_id,less_contact\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer) and self.next_row < self.rows:
            stop = min(self.rows, self.next_row + 5000)
            self.pending += b"".join(b"c%d,no\n" % i for i in range(self.next_row, stop))
            self.next_row = stop
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.given += n
        return n


def test_stdin_is_read_as_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = _Lazy(3_000_000)  # ~30 MB
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(lazy)))
    chunks, _sep, header = read_csv_chunks("-", None, 1000)
    assert header == ["case_id", "less_contact"]
    first = next(chunks)
    assert first["case_id"].iloc[0] == "c0" and len(first) == 1000
    assert lazy.given < 8 << 20  # far less than the whole input
    seen = 1000
    for chunk in chunks:
        assert chunk["case_id"].iloc[0] == f"c{seen}"
        seen += len(chunk)
        if seen >= 200_000:
            break
    assert lazy.given < 16 << 20


def test_stdin_scores_like_the_file(model: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = EXAMPLE_ANSWERS.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    run(model, "-", tmp_path / "stdin.csv")
    run(model, EXAMPLE_ANSWERS, tmp_path / "file.csv")
    assert (tmp_path / "stdin.csv").read_bytes() == (tmp_path / "file.csv").read_bytes()


# ---------------------------------------------------------------------------- messages: one cell, cut
def test_messages_cut_names_and_cells_to_40_characters(model: Any, tmp_path: Path) -> None:
    long = "k" * 500
    with pytest.raises(DataError) as exc:
        _Plan(model, ["less_contact", long], None, [long + "x"], False)
    assert long not in str(exc.value) and "'" + "k" * 38 in str(exc.value)
    frame = pd.DataFrame({"less_contact": ["z" * 500]})
    with pytest.raises(DataError) as exc:
        model.score(frame, errors="raise", next_question=False)
    assert "z" * 41 not in str(exc.value)
    out = model.score(frame, next_question=False)
    assert "z" * 41 not in out["status"].iloc[0]
