"""Batch scoring under generated bad input: only the library's errors, and every row back in order.

``Model.score`` (DataFrames), ``score_csv`` (files and bytes) and the ``score`` command must either
return one output row per input row, in order, or raise a :class:`DistancingBNError` (the CLI:
exit 2 with ``error: <Type>: ...``); never another exception, never a traceback.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distancing_bn as dbn
from distancing_bn.errors import DistancingBNError

pytestmark = pytest.mark.filterwarnings("ignore::distancing_bn.errors.DistancingBNWarning")
REPO = Path(__file__).resolve().parents[1]
MODEL = dbn.load_model(REPO / "models" / "examples" / "two_causes.yaml")
QUESTIONS = list(MODEL.questions)

odd_cells = st.one_of(
    st.none(),
    st.just(math.nan),
    st.sampled_from(["yes", "no", "YES", " a_lot ", "unsure", "", "=cmd()", "+1", "-0", "\t", "²", "yes\n"]),
    st.text(max_size=30),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=5),
)
column_names = st.one_of(st.sampled_from([*QUESTIONS, "id", "Q1"]), st.text(min_size=1, max_size=12))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    columns=st.lists(column_names, min_size=1, max_size=5),
    rows=st.integers(0, 6),
    data=st.data(),
    next_question=st.booleans(),
    strict=st.booleans(),
)
def test_score_frame_returns_every_row_or_a_library_error(
    columns: list[str], rows: int, data: st.DataObject, next_question: bool, strict: bool
) -> None:
    frame = pd.DataFrame({c: [data.draw(odd_cells) for _ in range(rows)] for c in dict.fromkeys(columns)})
    frame.index = pd.Index(data.draw(st.permutations(range(rows))))
    try:
        out = MODEL.score(frame, next_question=next_question, strict=strict)
    except DistancingBNError:
        return
    assert len(out) == len(frame)
    assert list(out.index) == list(frame.index)
    assert set(out["status"]) <= {"ok"} | {s for s in out["status"] if isinstance(s, str)}


@pytest.mark.parametrize("bad", [[1, 2], {"a": 1}, "x.csv", 3, None, np.zeros(3)])
def test_score_of_something_that_is_not_a_table_is_a_data_error(bad: object) -> None:
    with pytest.raises(DistancingBNError):
        MODEL.score(bad)


csv_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.lists(st.sampled_from(["yes", "no", "a_lot", "", '"x,y"', "\x00", "é", "=1", '"', "\r", "\n"]), max_size=5),
        max_size=6,
    ).map(lambda rows: ("\n".join(",".join(r) for r in rows)).encode("utf-8", "surrogatepass")),
).map(lambda body: b"works_late,less_talk,onset\n" + body)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=csv_bytes, sep=st.sampled_from([",", ";", "\t"]))
def test_score_csv_on_hostile_bytes_raises_only_library_errors(
    tmp_path_factory: pytest.TempPathFactory, body: bytes, sep: str
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    src, dst = folder / "in.csv", folder / "out.csv"
    src.write_bytes(body)
    try:
        dbn.score_csv(src, dst, model=MODEL, sep=sep, progress=False)
    except DistancingBNError:
        assert not dst.exists() or dst.stat().st_size >= 0
        assert not list(folder.glob(".*partial")), "a failed run left a temporary file"
        return
    assert dst.exists()


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args], input=stdin, capture_output=True, cwd=REPO, env=env, timeout=120
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(body=csv_bytes)
def test_score_command_never_shows_a_traceback(body: bytes) -> None:
    res = _cli("score", "-", "--quiet", "--model", str(REPO / "models" / "examples" / "two_causes.yaml"), stdin=body)
    err = res.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert res.returncode in (0, 1, 2), err
    if res.returncode == 2:
        assert err.startswith("error: ") or "usage:" in err
