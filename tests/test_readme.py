"""The README as a new user reads it: its first command works, its examples run, its claims hold.

The main command (the last part of the first line of the first code block) is run as a
subprocess from a temporary folder holding a copy of ``examples/``, with ``.venv/bin/`` replaced
by this Python, so it checks what a fresh clone would do without installing anything.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [e.get("PYTHONPATH")])])
    e["COLUMNS"] = "100"
    e.pop("CI", None)
    return e


def as_local(command: str) -> list[str]:
    """A README command line with ``.venv/bin/distancing-bn`` run by this Python instead."""
    words = shlex.split(command)
    assert words[0] == ".venv/bin/distancing-bn", command
    return [sys.executable, "-m", "distancing_bn", *words[1:]]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A folder laid out like a fresh clone, as far as the README's commands use it."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path


def main_command() -> str:
    first = blocks("bash")[0].splitlines()[0]
    return first.split("&&")[-1].strip()


def test_the_first_block_is_two_commands_that_install_score_and_test() -> None:
    lines = [line for line in blocks("bash")[0].splitlines() if line.strip()]
    assert len(lines) == 2
    install = [part.strip() for part in lines[0].split("&&")]
    assert install[0] == "python3 -m venv .venv"
    assert install[1].startswith(".venv/bin/pip install -e")
    extras = re.search(r"\.\[([\w,-]+)\]", install[1])
    assert extras is not None
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert set(extras.group(1).split(",")) <= set(declared["optional-dependencies"])
    assert main_command() == ".venv/bin/distancing-bn score examples/answers.csv --format table"
    assert lines[1].startswith(".venv/bin/python -m pytest")


def test_the_python_version_is_stated_and_matches_the_package() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    minimum = re.fullmatch(r">=\s*(3\.\d+)", declared["requires-python"].strip())
    assert minimum is not None
    assert f"Python {minimum.group(1)} or newer" in README.split("```")[0]  # before the first command


def test_the_main_command_exits_0_and_shows_the_results(clone: Path) -> None:
    res = subprocess.run(as_local(main_command()), cwd=clone, env=env(), capture_output=True, timeout=300, check=False)
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, err
    assert err == ""  # no warning on the bundled example
    rows = sum(1 for _ in (clone / "examples" / "answers.csv").open(encoding="utf-8")) - 1
    assert f"{rows} rows: {rows} ok, 0 marked." in out
    assert "most likely causes" in out and "ask next" in out
    import distancing_bn as dbn

    model = dbn.load_model()
    assert model.label("external_stressors") in out  # a cause by its label
    safety = next(n.title for n in model.spec.notices if n.kind == "safety")
    assert f"! notice: {safety}" in " ".join(out.split())  # a notice by its title
    assert "not a clinical" in out and out.count("not a clinical") == 1  # the disclaimer, once
    assert max(len(line) for line in out.splitlines()) <= 100


def test_the_bad_row_example_exits_1_and_names_the_cell(clone: Path) -> None:
    command = next(line for line in blocks("bash")[2:] if "answers-with-a-bad-row.csv" in line)
    res = subprocess.run(
        as_local(command.split(";")[0]), cwd=clone, env=env(), capture_output=True, timeout=300, check=False
    )
    assert res.returncode == 1
    flat = " ".join(res.stdout.decode().split())
    assert "status: invalid: column 'less_affection' has 'somewhat_maybe'" in flat
    assert "1 marked" in flat


def test_output_files_go_to_a_folder_git_ignores(clone: Path) -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "out/" in ignored
    outputs = re.findall(r"-o (\S+)", "\n".join(blocks("bash")))
    assert outputs and all(o.startswith("out/") for o in outputs)
    command = next(line for line in blocks("bash") if "-o out/answers.scored.csv" in line)
    mkdir, score = (part.strip() for part in command.split("&&"))
    assert mkdir == "mkdir -p out"
    (clone / "out").mkdir()
    res = subprocess.run(as_local(score), cwd=clone, env=env(), capture_output=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert (clone / "out" / "answers.scored.csv").read_text(encoding="utf-8").startswith("case_id,p_")


def test_the_notebook_extra_is_declared_and_documented() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(dep.startswith("jupyterlab") for dep in declared["optional-dependencies"]["notebook"])
    assert '".[dev,notebook]"' in README and "jupyter lab notebooks/" in README
    for link in re.findall(r"\(notebooks/([\w.-]+\.ipynb)\)", README):
        assert (REPO / "notebooks" / link).is_file(), link


def test_the_python_example_runs_and_prints_the_disclaimer_once(tmp_path: Path) -> None:
    import distancing_bn as dbn

    code = blocks("python")[0]
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env(), capture_output=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout.decode()
    assert out.count(dbn.load_model().disclaimer) == 1
    assert "Ask next:" in out
    gain = re.search(r"\((\d+\.\d+) bits\)", out)
    assert gain is not None and len(gain.group(1)) == 4  # rounded, not 16 digits


def test_no_stale_model_counts() -> None:
    # the model is revised over time: the README describes it without counting its parts
    for stale in (r"\bnine\b", r"\b30 \*\*facets", r"\b63 observable"):
        assert not re.search(stale, README, flags=re.IGNORECASE), stale
