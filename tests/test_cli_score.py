"""``distancing-bn score`` run as a subprocess (issue 5): exit codes, stdout/stderr, files.

Exit codes: 0 every row scored, 1 some rows marked, 2 usage, file, model or data errors.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAIN_EXAMPLE = REPO / "examples" / "answers.csv"  # the README's: every row scores
EXAMPLE_ANSWERS = REPO / "examples" / "answers-with-a-bad-row.csv"  # the same with one typo
EXAMPLE_IDS = [f"c{i:03d}" for i in range(1, 15)]
BAD_ROW = 12  # c012 has less_affection=somewhat_maybe


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [e.get("PYTHONPATH")])])
    e.pop("CI", None)
    e.pop("COLUMNS", None)
    return e | extra


def cli(
    *args: str, stdin: bytes | None = None, cwd: Path = REPO, timeout: float = 120, columns: int | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", "score", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env() if columns is None else env(COLUMNS=str(columns)),
        timeout=timeout,
        check=False,
    )


def parse(text: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.decode("utf-8"), newline="")))


@pytest.fixture(scope="module")
def default_run() -> subprocess.CompletedProcess:
    return cli(str(EXAMPLE_ANSWERS))


def clean_answers(tmp_path: Path) -> Path:
    """The example without its bad row: every row scores."""
    lines = EXAMPLE_ANSWERS.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "clean.csv"
    path.write_text("".join(line for line in lines if not line.startswith("c012,")), encoding="utf-8")
    return path


def test_example_to_stdout_exits_1_with_one_marked_row(default_run: subprocess.CompletedProcess) -> None:
    assert default_run.returncode == 1, default_run.stderr.decode()
    rows = parse(default_run.stdout)
    assert [r["case_id"] for r in rows] == EXAMPLE_IDS
    assert [i + 1 for i, r in enumerate(rows) if r["status"] != "ok"] == [BAD_ROW]
    assert "less_affection" in rows[BAD_ROW - 1]["status"]
    assert {"p_fear_of_intimacy", "top_cause", "notices", "next_question", "next_gain_bits"} <= set(rows[0])
    assert b"Traceback" not in default_run.stderr


def test_output_file_and_summary_on_stderr(tmp_path: Path, default_run: subprocess.CompletedProcess) -> None:
    dst = tmp_path / "out.csv"
    res = cli(str(EXAMPLE_ANSWERS), "-o", str(dst))
    assert res.returncode == 1
    assert res.stdout == b""
    assert dst.read_bytes() == default_run.stdout
    err = res.stderr.decode()
    assert "14 rows" in err and "13 ok" in err and "1 marked" in err and str(dst) in err
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_format_table_is_readable_and_shows_the_disclaimer() -> None:
    res = cli(str(EXAMPLE_ANSWERS), "--format", "table")
    assert res.returncode == 1
    out = res.stdout.decode()
    assert "not a clinical" in out  # the model's disclaimer
    assert "14 rows: 13 ok, 1 marked" in out
    for case in EXAMPLE_IDS:
        assert case in out
    import distancing_bn as dbn

    assert dbn.load_model().label("external_stressors") in out  # cause labels, not ids
    assert "p_fear_of_intimacy" not in out  # not the CSV columns
    assert titles()["safety_control"] in out  # c009 answered afraid_of_partner=yes: the notice's title
    assert "safety_control" not in out and "professional_help_mood" not in out  # never the notice ids


def titles() -> dict[str, str]:
    """The default model's notice titles by notice id (the table shows notices by title)."""
    import distancing_bn as dbn

    return {n.id: n.title for n in dbn.load_model().spec.notices}


def table_rows(out: str) -> list[int]:
    """The row numbers of the table (the lines above the first blank line), in order.

    A row's first line starts with its number right-aligned in the first column; the lines
    under it (more causes, notices, status) start with more spaces.
    """
    table = out.split("\n\n", 1)[0].splitlines()[2:]  # below the header and its rule
    return [int(m.group(1)) for line in table if (m := re.match(r"^ {0,4}(\d+)  \S", line))]


@pytest.mark.parametrize("columns", [40, 60, 80, 132])
def test_format_table_fits_the_terminal_with_true_row_numbers(columns: int) -> None:
    import distancing_bn as dbn

    res = cli(str(EXAMPLE_ANSWERS), "--format", "table", columns=columns)
    assert res.returncode == 1, res.stderr.decode()
    out = res.stdout.decode()
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert table_rows(out) == list(range(1, 15))
    # the bad row's whole status is there, on lines of its own under the row
    flat = " ".join(" ".join(lines).split())
    assert (
        "status: invalid: column 'less_affection' has 'somewhat_maybe'; valid: no, a_little, a_lot, unsure, (blank)"
        in flat
    )
    model = dbn.load_model()
    words = set(out.replace(",", " ").split())
    ids = {x for x in (*model.questions, *model.causes) if "_" in x}  # "defensive" is also a word
    assert not words & ids  # the next question by its label or text, causes by label: never ids


def test_format_table_row_numbers_are_data_rows_not_a_leftover_column(tmp_path: Path) -> None:
    # a leftover first column (as in the divorce data's Atr1) must not stand in for the row number
    src = tmp_path / "answers.csv"
    src.write_text("Atr1,less_contact,onset\n7,a_lot,sudden\n7,no,gradual\n3,a_little,\n", encoding="utf-8")
    res = cli(str(src), "--format", "table", columns=80)
    assert res.returncode == 0, res.stderr.decode()
    assert table_rows(res.stdout.decode()) == [1, 2, 3]
    src.write_text("less_contact,onset\na_lot,sudden\nno,gradual\n", encoding="utf-8")  # no id column
    res = cli(str(src), "--format", "table", columns=80)
    out = res.stdout.decode()
    assert res.returncode == 0 and table_rows(out) == [1, 2]
    assert out.splitlines()[0].split()[:2] == ["row", "most"]


def test_main_example_scores_every_row() -> None:
    res = cli(str(MAIN_EXAMPLE), "--format", "table", columns=100)
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout.decode()
    assert "14 rows: 14 ok, 0 marked" in out
    flat = " ".join(out.split())
    assert (
        f"! notice: {titles()['safety_control']}" in flat and f"* notice: {titles()['professional_help_mood']}" in flat
    )
    assert f"* notice: {titles()['professional_help_substance']}" in flat  # c013: heavy use
    assert res.stderr == b""


def test_stdin_input(default_run: subprocess.CompletedProcess) -> None:
    res = cli("-", stdin=EXAMPLE_ANSWERS.read_bytes())
    assert res.returncode == 1
    assert res.stdout == default_run.stdout


def test_no_next_question_drops_the_columns() -> None:
    res = cli(str(EXAMPLE_ANSWERS), "--no-next-question", "--chunk-size", "5")
    assert res.returncode == 1
    rows = parse(res.stdout)
    assert [r["case_id"] for r in rows] == EXAMPLE_IDS
    assert "next_question" not in rows[0] and "next_gain_bits" not in rows[0]
    assert "status" in rows[0]


def test_errors_raise_exits_2_naming_row_and_column(tmp_path: Path) -> None:
    dst = tmp_path / "out.csv"
    res = cli(str(EXAMPLE_ANSWERS), "--errors", "raise", "-o", str(dst))
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "error: DataError" in err
    assert f"row {BAD_ROW}" in err and "less_affection" in err and "somewhat_maybe" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    res = cli(str(tmp_path / "nope.csv"), "-o", str(tmp_path / "out.csv"))
    assert res.returncode == 2
    err = res.stderr.decode()
    assert err.startswith("error:") and "nope.csv" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_options_exit_2(tmp_path: Path) -> None:
    res = cli(str(EXAMPLE_ANSWERS), "--chunk-size", "0")
    assert res.returncode == 2 and b"--chunk-size" in res.stderr
    res = cli(str(EXAMPLE_ANSWERS), "--id-col", "no_such_column")
    assert res.returncode == 2 and b"no_such_column" in res.stderr
    res = cli(str(EXAMPLE_ANSWERS), "--errors", "ignore")  # argparse usage error
    assert res.returncode == 2
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(
        "format: distancing-bn-mapping/1\nid: x\nmodel: distancing\ncolumns:\n"
        "  Q1: {question: less_contakt, answers: {1: no}}\n",
        encoding="utf-8",
    )
    res = cli(str(EXAMPLE_ANSWERS), "--mapping", str(mapping))
    assert res.returncode == 2
    assert f"{mapping}:5" in res.stderr.decode() and "less_contakt" in res.stderr.decode()


def test_quiet_success_prints_nothing_on_stderr(tmp_path: Path) -> None:
    src = clean_answers(tmp_path)
    dst = tmp_path / "out.csv"
    res = cli(str(src), "-o", str(dst), "--quiet", "--sep", ",", "--id-col", "case_id")
    assert res.returncode == 0, res.stderr.decode()
    assert res.stderr == b"" and res.stdout == b""
    rows = parse(dst.read_bytes())
    assert len(rows) == 13 and all(r["status"] == "ok" for r in rows)
    res = cli(str(src), "--quiet", "--no-next-question")
    assert res.returncode == 0
    assert res.stderr == b""
    assert len(parse(res.stdout)) == 13


def test_sep_tab_alias(tmp_path: Path) -> None:
    src = tmp_path / "tabs.csv"
    src.write_text(EXAMPLE_ANSWERS.read_text(encoding="utf-8").replace(",", "\t"), encoding="utf-8")
    res = cli(str(src), "--sep", "tab", "--no-next-question")
    assert res.returncode == 1
    assert [r["case_id"] for r in parse(res.stdout)] == EXAMPLE_IDS


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, b"interrupted"), (signal.SIGTERM, 143, b""), (signal.SIGHUP, 129, b"")],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_interrupted_run_leaves_no_output(tmp_path: Path, sig: int, code: int, said: bytes) -> None:
    """A signal that ends a run removes its temporary file (SIGKILL cannot be caught: see docs/cli.md)."""
    lines = EXAMPLE_ANSWERS.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], "".join(lines[1:])
    src = tmp_path / "big.csv"
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(header)
        fh.write(body * 14_300)  # ~200k rows
    dst = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distancing_bn", "score", str(src), "-o", str(dst)],
        cwd=REPO,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):  # the run has begun writing
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no .partial file appeared"
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err.decode()
    assert said in err and b"Traceback" not in err
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def test_format_table_with_output_file_is_a_usage_error(tmp_path: Path) -> None:
    res = cli(str(EXAMPLE_ANSWERS), "--format", "table", "-o", str(tmp_path / "out.csv"))
    assert res.returncode == 2
    assert b"error:" in res.stderr


def test_output_in_a_missing_directory_exits_2(tmp_path: Path) -> None:
    res = cli(str(EXAMPLE_ANSWERS), "-o", str(tmp_path / "nowhere" / "out.csv"))
    assert res.returncode == 2
    assert b"Traceback" not in res.stderr
    assert b"error:" in res.stderr


def test_workers_do_not_change_the_output(tmp_path: Path) -> None:
    rows = ["case_id,less_contact,hot_and_cold"] + [
        f"k{i},{['no', 'a_lot', '', 'a_little'][i % 4]},{['never', 'often', 'unsure'][i % 3]}" for i in range(9000)
    ]
    src = tmp_path / "many.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    outs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"out{workers}.csv"
        res = cli(str(src), "-o", str(dst), "--quiet", "--workers", workers)
        assert res.returncode == 0, res.stderr.decode()
        outs.append(dst.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].count(b"\n") == 9001


def test_workers_must_be_positive(tmp_path: Path) -> None:
    res = cli(str(EXAMPLE_ANSWERS), "--workers", "0")
    assert res.returncode == 2
    assert b"--workers" in res.stderr and b"at least 1" in res.stderr


# ---------------------------------------------------------------------------- bad input: exit 2, no traceback
def assert_error(res: subprocess.CompletedProcess, *parts: str) -> str:
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert err.startswith("error: DataError: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)
    return err


def test_output_equal_to_the_input_exits_2_and_keeps_the_input(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_bytes(EXAMPLE_ANSWERS.read_bytes())
    assert_error(cli(str(src), "-o", str(src)), "the output is the input file")
    assert src.read_bytes() == EXAMPLE_ANSWERS.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_output_directory_exits_2_before_any_work(tmp_path: Path) -> None:
    assert_error(cli(str(tmp_path / "missing.csv"), "-o", str(tmp_path)), "the output is a directory")


@pytest.mark.parametrize("sep", [",,", "é", ""])
def test_a_bad_delimiter_exits_2(sep: str) -> None:
    assert_error(cli(str(EXAMPLE_ANSWERS), "--sep", sep), "the delimiter must be one ASCII character")


def test_a_wrong_delimiter_exits_2_naming_the_header_and_the_fix(tmp_path: Path) -> None:
    src = tmp_path / "semi.csv"
    src.write_text(EXAMPLE_ANSWERS.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    dst = tmp_path / "out.csv"
    err = assert_error(cli(str(src), "--sep", ",", "-o", str(dst)), "no column of the input is a question", "--sep ';'")
    assert "'case_id;" in err
    assert "sep=" not in err and "mapping=" not in err  # the options, not the Python arguments
    assert not dst.exists()


def test_strict_refusal_names_the_options_not_python_arguments(tmp_path: Path) -> None:
    src = tmp_path / "extra.csv"
    src.write_text("case_id,less_contact,shoe_size\nc1,a_lot,42\n", encoding="utf-8")
    res = cli(str(src), "--strict")
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "'shoe_size'" in err and "--id-col" in err and "--strict" in err
    assert "strict=False" not in err and "id_columns" not in err
    assert cli(str(src), "--strict", "--id-col", "case_id", "--id-col", "shoe_size", "--quiet").returncode == 0


def test_a_directory_as_input_exits_2(tmp_path: Path) -> None:
    assert_error(cli(str(tmp_path)), "is a directory")


def test_a_row_with_too_many_fields_exits_2_naming_row_and_line(tmp_path: Path) -> None:
    src = tmp_path / "many.csv"
    src.write_text("case_id,less_contact\nc1,no\nc2,no\nc3,no,extra\n", encoding="utf-8")
    assert_error(cli(str(src)), "row 3 (line 4) has 3 fields")


def test_stdin_errors_exit_2(tmp_path: Path) -> None:
    assert_error(cli("-", stdin=b"case_id,less_contact\nc1,no\nc2,no,extra\n"), "<stdin>", "has 3 fields")
    assert_error(cli("-", stdin=b"case_id,less_contact\nc\xff1,no\n"), "<stdin>", "not valid UTF-8")


def test_raw_cells_keeps_formulas_and_the_default_defuses_them(tmp_path: Path) -> None:
    src = tmp_path / "f.csv"
    src.write_text("case_id,less_contact\n=1+1,no\n-5,no\n", encoding="utf-8")
    res = cli(str(src), "--no-next-question")
    assert res.returncode == 0, res.stderr.decode()
    assert [r["case_id"] for r in parse(res.stdout)] == ["'=1+1", "-5"]
    res = cli(str(src), "--no-next-question", "--raw-cells")
    assert [r["case_id"] for r in parse(res.stdout)] == ["=1+1", "-5"]


def test_main_reports_a_file_error_and_keeps_a_bug_s_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError naming a file is bad input (exit 2, one line); one naming no file is a bug."""
    import distancing_bn.batch as batch
    from distancing_bn.cli import main

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/data/answers.csv")

    monkeypatch.setattr(batch, "score_csv", unreadable)
    assert main(["score", "/data/answers.csv", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: DataError: /data/answers.csv: cannot open the file: permission denied")

    def bug(*_args: object, **_kwargs: object) -> None:
        raise OSError("an internal failure")

    monkeypatch.setattr(batch, "score_csv", bug)
    with pytest.raises(OSError, match="an internal failure"):
        main(["score", "/data/answers.csv", "--quiet"])


@pytest.mark.parametrize("width", [40, 72, 100, 200])
def test_render_score_table_fits_and_says_why_no_question(width: int) -> None:
    import pandas as pd

    import distancing_bn as dbn
    from distancing_bn._table import render_score_table

    model = dbn.load_model()
    causes = list(model.causes)
    long_status = "invalid: column 'less_affection' has 'x'; valid: " + ", ".join(["an_answer"] * 12)
    rows = []
    for i, (nq, stop, status, notices) in enumerate(
        [
            ("less_contact", "", "ok", "safety_control professional_help_mood"),
            ("", "decided", "ok", ""),
            ("", "", long_status, ""),
        ]
    ):
        row = {"person": f"p{i}", **{f"p_{c}": f"{(j + 1 + i) / (len(causes) + 3):.6f}" for j, c in enumerate(causes)}}
        rows.append(row | {"notices": notices, "next_question": nq, "stop_reason": stop, "status": status})
    text = render_score_table(model, pd.DataFrame(rows), width=width, first_row=41)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert table_rows(text) == [41, 42, 43]  # numbered from first_row
    flat = " ".join(text.split())
    assert model.question_label("less_contact")[:12] in flat and "less_contact" not in flat
    assert "nothing, each cause is settled" in flat
    assert f"status: {long_status}" in flat  # the whole status, wrapped
    assert flat.index(f"! notice: {titles()['safety_control']}") < flat.index(
        f"* notice: {titles()['professional_help_mood']}"
    )
    top = max(causes, key=lambda c: float(rows[0][f"p_{c}"]))
    assert model.label(top)[: min(10, width // 4)] in lines[2]  # the likeliest cause on the row's first line
