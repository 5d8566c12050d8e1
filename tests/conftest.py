"""Shared fixtures and settings: Hypothesis profiles, a fixed seed, the Agg backend, data paths."""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # before anything imports matplotlib

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=50, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_MODEL = REPO / "models" / "examples" / "two_causes.yaml"
EXTERNAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Seed the global random generators so that any test using them is repeatable."""
    random.seed(20240601)
    np.random.seed(20240601)  # noqa: NPY002 - the legacy global state is what we pin here


@pytest.fixture(scope="session")
def example_path() -> Path:
    """The small complete example model, ``models/examples/two_causes.yaml``."""
    return EXAMPLE_MODEL


@pytest.fixture(scope="session")
def external_dir() -> Path:
    """The shared external test data (``/work/shared/data/external``); skips if it is missing."""
    if not EXTERNAL_DIR.is_dir():
        pytest.skip(f"external test data not found at {EXTERNAL_DIR}")
    return EXTERNAL_DIR
