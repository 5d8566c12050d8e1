"""Packaging: the wheel carries the default model, the import stays light, the layers hold."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import distancing_bn

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "distancing_bn"


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = dict(os.environ)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_default_model_found_from_the_checkout() -> None:
    path = distancing_bn.default_model_path()
    assert path.name == "distancing.yaml" and path.is_file()
    assert distancing_bn.load_model().id == "distancing"


@pytest.mark.slow
def test_default_model_found_from_a_built_wheel(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:  # no hatchling in this environment: build in isolation (needs the package index)
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("distancing_bn-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "distancing_bn/models/distancing.yaml" in names
    assert "distancing_bn/models/mappings/ecr.yaml" in names
    assert "distancing_bn/py.typed" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    out = _run(
        "import distancing_bn as d; p = d.default_model_path(); m = d.load_model(); "
        "print(p); print(m.id, len(m.questions))",
        PYTHONPATH=str(site),
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert Path(first).resolve().is_relative_to(site.resolve())
    assert second.startswith("distancing ")


def test_import_does_not_load_heavy_modules() -> None:
    out = _run(
        "import sys, distancing_bn; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'pgmpy', 'scipy') if m in sys.modules))",
        PYTHONPATH=str(REPO / "src"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_cli_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "distancing_bn", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert out.returncode == 0
    for command in ("validate", "info", "export", "ask", "score", "simulate"):
        assert command in out.stdout


def test_public_api_all_matches_exports() -> None:
    public = {n for n in dir(distancing_bn) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(distancing_bn, n)).__name__ == "module"}
    assert set(distancing_bn.__all__) == (public - modules) | {"__version__"}


ENGINE = (
    "errors",
    "spec",
    "cpt",
    "network",
    "evidence",
    *(f"engine/{p.stem}" for p in sorted((SRC / "engine").glob("*.py"))),
    "information",
    "explain",
)
FORBIDDEN = {"matplotlib", "pgmpy", "distancing_bn.interop", "distancing_bn.cli", "distancing_bn.plots"}


@pytest.mark.parametrize("module", ENGINE)
def test_engine_modules_do_not_import_presentation_or_pgmpy(module: str) -> None:
    """At import time; `TYPE_CHECKING` blocks and lazy imports inside functions do not count."""
    tree = ast.parse((SRC / f"{module}.py").read_text())
    imported = set()
    for node in tree.body:  # module level only: lazy imports inside `plot()` delegates are allowed
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            imported.add(f"distancing_bn.{base}" if node.level else base)
    bad = {m for m in imported for f in FORBIDDEN if m == f or m.startswith(f + ".")}
    assert not bad, f"{module} imports {bad}"


def test_no_module_below_model_imports_model_at_run_time() -> None:
    for module in (*ENGINE, "results", "formats"):
        tree = ast.parse((SRC / f"{module}.py").read_text())
        for node in tree.body:  # top-level imports only; TYPE_CHECKING blocks are ast.If
            if isinstance(node, ast.ImportFrom) and node.module == "model" and module != "formats":
                pytest.fail(f"{module} imports model at run time")
