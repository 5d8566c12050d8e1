"""Execute every notebook in ``notebooks/`` headless with nbclient (one test per notebook).

The kernel is started from this process's environment, so ``PYTHONPATH`` is pointed at the
repository's ``src`` to let the kernel import the package from a source checkout; with the
package installed normally that entry is harmless. Skipped when nbclient, nbformat or a
``python3`` kernel is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
CELL_TIMEOUT = 120  # seconds per cell


def _has_kernel(name: str) -> bool:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        KernelSpecManager().get_kernel_spec(name)
    except Exception:
        return False
    return True


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the kernel (which inherits os.environ) import the package and draw off-screen."""
    src = str(REPO / "src")
    current = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (src, current) if p))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_env: None) -> None:
    if not _has_kernel(KERNEL):
        pytest.skip(f"no '{KERNEL}' Jupyter kernel installed (python -m ipykernel install --user --name {KERNEL})")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    errors = [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors


def test_there_are_notebooks() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"01-quickstart.ipynb", "02-batch-scoring.ipynb", "03-model-exploration.ipynb"} <= names
