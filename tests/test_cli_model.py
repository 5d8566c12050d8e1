"""`distancing-bn validate | info | export` as subprocesses: exit codes, messages, JSON."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import distancing_bn

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "models" / "distancing.yaml"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=180,
    )


def test_validate_default_model_exits_0() -> None:
    import distancing_bn as dbn

    model = dbn.load_model()
    out = run("validate")
    assert out.returncode == 0, out.stderr
    assert f"ok ({len(model.causes)} causes, {len(model.facets)} facets" in out.stdout
    example = REPO / "tests" / "data" / "interview.yaml"
    interview = dbn.load_model(example)
    out = run("validate", str(example))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f"{len(interview.questions)} questions, {len(interview.groups)} checklists)")


def test_validate_and_info_count_checklists_and_rating_grids_apart() -> None:
    import distancing_bn as dbn

    groups = list(dbn.load_model().groups.values())
    grids = [g for g in groups if g.is_grid]
    assert grids and len(grids) < len(groups)
    out = run("validate")
    assert out.stdout.strip().endswith(f"{len(groups) - len(grids)} checklists, {len(grids)} rating grids)")
    info = run("info").stdout
    assert f"Question groups, each asked as one screen ({len(groups)}):" in info
    for g in groups:
        line = next(x for x in info.splitlines() if x.strip().startswith(g.id + " "))
        assert ("rating grid" if g.is_grid else "checklist") in line and g.label in line


def test_validate_broken_model_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    assert "  - id: external_stressors" in text and re.search(r"^    prior: 0\.\d+$", text, flags=re.MULTILINE)
    bad = re.sub(r"^    prior: 0\.\d+$", "    prior: 1.5", text, count=1, flags=re.MULTILINE).replace(
        "  - id: external_stressors", "  - id: fear_of_intimacy", 1
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    out = run("validate", str(path))
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith(str(path))]
    assert any("probability 1.5 is outside (0, 1)" in ln for ln in lines)
    assert any("duplicate id 'fear_of_intimacy'" in ln for ln in lines)
    for ln in lines[:-1]:
        assert ln.split(" ")[0].rsplit(":", 1)[1].isdigit(), ln  # file:line


def test_validate_yaml_syntax_error_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("format: distancing-bn/1\ncauses: [\n", encoding="utf-8")
    out = run("validate", str(path))
    assert out.returncode == 2
    assert "error: ModelSyntaxError" in out.stderr and "syntax.yaml:" in out.stderr


def test_info_json_has_the_documented_keys() -> None:
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    for key in ("causes", "facets", "questions", "links"):
        assert isinstance(info[key], list) and all("id" in item for item in info[key])
    import distancing_bn as dbn

    model = dbn.load_model()
    assert [c["id"] for c in info["causes"]] == list(model.causes)
    assert [q["id"] for q in info["questions"]] == list(model.questions)
    q = info["questions"][0]
    assert isinstance(q["text"], str) and q["text"] and isinstance(q["answers"], list) and len(q["answers"]) >= 2


def test_info_json_has_labels_and_rounded_numbers() -> None:
    import distancing_bn as dbn

    model = dbn.load_model()
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    printed: list[str] = []
    info = json.loads(out.stdout, parse_float=lambda s: printed.append(s) or float(s))
    digits = {s: len(re.sub(r"e.*$", "", s, flags=re.IGNORECASE).replace(".", "").lstrip("-0")) for s in printed}
    assert printed and max(digits.values()) <= 12, max(digits, key=digits.__getitem__)
    assert "0.26899999999999996" not in out.stdout
    for q in info["questions"]:
        assert isinstance(q["label"], str) and q["label"]
        assert list(q["answer_labels"]) == q["answers"]
        sq = model.spec.question(q["id"])
        assert q["answer_labels"] == {a: sq.display(a) for a in sq.answers}
    labelled = [q for q in model.spec.questions if q.answer_labels]
    assert labelled, "the default model labels some answers"
    shown = {q["id"]: q for q in info["questions"]}[labelled[0].id]["answer_labels"]
    assert shown[labelled[0].answer_labels[0][0]] == labelled[0].answer_labels[0][1]
    prior = model.prior.probabilities[model.causes[0]]
    assert info["causes"][0]["prior"] == float(f"{prior:.12g}")


def test_info_text_lists_causes_and_disclaimer() -> None:
    import distancing_bn as dbn

    model = dbn.load_model()
    out = run("info")
    assert out.returncode == 0
    assert f"Causes ({len(model.causes)})" in out.stdout and "not a clinical" in out.stdout
    assert all(c in out.stdout for c in model.causes)


@pytest.mark.parametrize("suffix", [".bif", ".xmlbif", ".xdsl", ".yaml"])
def test_export_round_trips(tmp_path: Path, suffix: str) -> None:
    dst = tmp_path / f"model{suffix}"
    out = run("export", "--to", str(dst))
    assert out.returncode == 0, out.stderr
    assert dst.is_file() and dst.stat().st_size > 1000
    if suffix == ".yaml":
        assert run("validate", str(dst)).returncode == 0
    else:
        info = run("info", str(dst), "--target", "fear_of_intimacy", "--json")
        assert info.returncode == 0, info.stderr
        questions = json.loads(info.stdout)["questions"]
        if suffix == ".xdsl":  # the file carries its roles: the model's own questions, facets latent
            assert len(questions) == len(distancing_bn.load_model().questions)
        else:  # no roles in the file: every non-target is an observable
            model = distancing_bn.load_model()
            assert len(questions) == len(model.network.variables) - 1


def test_export_unknown_suffix_exits_2(tmp_path: Path) -> None:
    out = run("export", "--to", str(tmp_path / "model.txt"))
    assert out.returncode == 2 and "error: ModelError" in out.stderr and ".bif" in out.stderr


def test_network_file_without_target_exits_2(tmp_path: Path) -> None:
    network = tmp_path / "model.bif"
    assert run("export", "--to", str(network)).returncode == 0
    for command in ("info", "validate", "export"):
        extra = ("--to", str(tmp_path / "again.yaml")) if command == "export" else ()
        out = run(command, str(network), *extra)
        assert out.returncode == 2 and "needs targets" in out.stderr
        assert "--target NAME" in out.stderr  # the option, in the command line's words
        assert "load_network" not in out.stderr and "targets=[" not in out.stderr  # not Python's


def test_unknown_target_suggests_close_match(external_dir: Path) -> None:
    out = run("info", str(external_dir / "networks" / "asia.bif"), "--target", "lungs")
    assert out.returncode == 2 and "'lung'" in out.stderr


def assert_clean_error(out: subprocess.CompletedProcess[str], kind: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"error: {kind}: "), out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_export_into_a_missing_folder_exits_2_without_a_traceback(tmp_path: Path) -> None:
    out = run("export", "--to", str(tmp_path / "missing" / "model.yaml"))
    assert_clean_error(out, "ModelError")
    assert "cannot write the model file: No such file or directory" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_under_a_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    out = run("export", "--to", str(tmp_path / "file" / "model.bif"))
    assert_clean_error(out, "ModelError")
    assert "Not a directory" in out.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write into read-only folders")
def test_export_into_a_read_only_folder_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        out = run("export", "--to", str(folder / "model.xmlbif"))
        assert_clean_error(out, "ModelError")
        assert "Permission denied" in out.stderr and list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("suffix", [".yaml", ".bif"])
def test_exported_file_mode_follows_the_umask(tmp_path: Path, suffix: str) -> None:
    old = os.umask(0o027)
    try:
        out = run("export", "--to", str(tmp_path / f"model{suffix}"))
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE((tmp_path / f"model{suffix}").stat().st_mode) == 0o640


def test_export_of_names_a_format_cannot_hold_exits_2_and_writes_nothing(external_dir: Path, tmp_path: Path) -> None:
    child = external_dir / "networks" / "child.bif"  # states such as '0-3_days' that XMLBIF would rename
    out = run("export", str(child), "--target", "BirthAsphyxia", "--to", str(tmp_path / "child.xmlbif"))
    assert_clean_error(out, "ModelError")
    assert re.search(r"cannot write state '[^']+' of variable '\w+' as XMLBIF: it would not read back", out.stderr)
    assert list(tmp_path.iterdir()) == []


def test_validate_truncated_network_lists_missing_tables_with_file_and_line(external_dir: Path, tmp_path: Path) -> None:
    text = (external_dir / "networks" / "asia.bif").read_text(encoding="utf-8")
    path = tmp_path / "cut.bif"
    path.write_text(text[: text.index("probability ( tub | asia )")], encoding="utf-8")
    out = run("validate", str(path), "--target", "lung")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{path}:6 tub: variable 'tub' is declared but its table is missing" in out.stderr
    assert "pgmpy" not in out.stderr


def _subcommands() -> dict[str, object]:
    import argparse

    from distancing_bn.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", ["score", "info", "validate", "export", "simulate"])
def test_every_option_has_help(command: str) -> None:
    parser = _subcommands()[command]
    for action in parser._actions:  # type: ignore[attr-defined]
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
    out = run(command, "--help")
    assert out.returncode == 0 and "usage: distancing-bn " + command in out.stdout


@pytest.mark.parametrize("curves", [False, True])
def test_simulate_says_which_cases_its_accuracy_counts(curves: bool) -> None:
    import numpy as np

    import distancing_bn as dbn
    from distancing_bn.interviews import sample_premise_cases
    from distancing_bn.simulate import sample_cases

    model = dbn.load_model()
    truth = sample_cases(model, 50, seed=0) if curves else sample_premise_cases(model, 50, seed=0)
    count = np.zeros(50, dtype=int)
    for c in model.causes:
        count += truth[c] == model.network.states[c].index("present")
    counted = int((count > 0).sum())
    out = run("simulate", "--cases", "50", "--max-questions", "1", *(["--curves"] if curves else []))
    assert out.returncode == 0, out.stderr
    assert "Simulated 50" in out.stdout
    flat = " ".join(out.stdout.split())
    if counted < 50:
        assert f"counts the {counted} of 50 cases that have at least one cause present" in flat
        assert f"in the other {50 - counted} the draw gave no cause" in flat
    else:
        assert "counts all 50 cases" in flat
    if not curves:
        assert f"'Cases with one cause' counts the {int((count == 1).sum())} with exactly one" in flat


def test_for_cli_words_python_advice_as_options() -> None:
    from distancing_bn.cli import for_cli
    from distancing_bn.network import too_large

    text = for_cli(str(too_large("m", "its largest clique", ["a", "b"], 10**9, 8 * 10**9, 10**6)))
    assert "None for no limit" not in text and "in Python with a larger memory_budget" in text
    assert for_cli("x.bif: a .bif network needs targets: load_network(path, targets=[...])") == (
        "x.bif: a .bif network needs targets: give them with --target NAME (repeat it for several targets)"
    )
    said = "the header looks ';'-separated: give the delimiter with sep=';' (--sep ';')"
    assert for_cli(said) == "the header looks ';'-separated: give the delimiter with --sep ';'"
    assert for_cli("nothing to change here") == "nothing to change here"


def test_simulate_stop_rule_errors_name_the_options() -> None:
    out = run("simulate", "--cases", "5", "--decided-low", "0.95", "--decided-high", "0.9")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --decided-low must be at most --decided-high, got 0.95 and 0.9"
