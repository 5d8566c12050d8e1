"""Bad input of every kind gets one of the library's errors, never another exception.

Properties over generated hostile input (``tests/strategies.py``): ids and labels of every kind
and size, soft answers with NaN / inf / negative / all-zero / text likelihoods, wrong types,
huge strings and numbers, nested structures. The entry points: ``Model.posterior``,
``rank_questions``, ``explain``, ``guidance``, ``next_question``, ``Session`` (answer, skip,
undo, to_dict, from_dict), and the ``ask`` (``--answers`` and the prompt) and ``simulate``
commands run as subprocesses. An error of the library is fine; anything else fails the test.
When a call succeeds its result is checked too (probabilities in [0, 1], sentences in words).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distancing_bn
from distancing_bn import DistancingBNError, Model, Network, Session
from strategies import hostile_answers, hostile_ids, hostile_sessions, hostile_values, json_values

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "models" / "examples" / "two_causes.yaml"
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def models() -> dict[str, Model]:
    """The default model, the small example and a network with awkward labels (case, digits, 'True')."""
    cased = Network.create(
        "awkward",
        {"c": ("absent", "present"), "d": ("no", "yes"), "q": ("YES", "yes", "no"), "r": ("0", "1", "True")},
        {"q": ("c",), "r": ("c", "d")},
        {
            "c": [0.5, 0.5],
            "d": [0.7, 0.3],
            "q": [[0.1, 0.3, 0.6], [0.5, 0.5, 0.0]],  # 'no' rules c out
            "r": [[[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], [[1.0, 0.0, 0.0], [0.3, 0.3, 0.4]]],
        },
        targets=["c", "d"],
    )
    return {
        "default": distancing_bn.load_model(),
        "example": distancing_bn.load_model(EXAMPLE),
        "awkward": Model(cased),
    }


def library_errors_only(call: Any) -> Any:
    """Run ``call()``; return its result, or None if it raised one of the library's errors."""
    try:
        return call()
    except DistancingBNError:
        return None


def check_posterior(post: Any) -> None:
    p = post.probabilities.to_numpy()
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    json.dumps(post.to_dict(), allow_nan=False)


def _deep(depth: int) -> Any:
    value: Any = "yes"
    for _ in range(depth):
        value = [value]
    return value


# answers that broke an entry point before (issue 10), drawn as often as the generated ones
KNOWN_BAD: list[tuple[str, Any]] = [
    ("default", {"less_contact": {"no": 10**400, "a_little": 1, "a_lot": 1}}),  # OverflowError in float()
    ("default", {"less_contact": _deep(100_000)}),  # RecursionError in str()
    ("default", {"x" * 1_000_019: "yes"}),  # a million-character id in the message
    ("default", {"job_insecurity": {"no": math.nan, "yes": 1.0}}),
    ("default", {"job_insecurity": {"no": 0.0, "yes": 0.0}}),
    ("default", {"job_insecurity": {"no": 1.0, "yes": 1.0, 10**5000: 1.0}}),  # a key str() cannot print
    ("awkward", {"q": "Yes"}),  # answers 'YES' and 'yes' differ only in case
    ("awkward", {"q": "no"}),  # rules cause c out: explanations with -inf bits
    ("awkward", {"q": "YES", "r": "1"}),
    ("example", {"onset": {"gradual": True, "sudden": 1}}),
]


KNOWN_BAD_VALUES = [{"no": 10**400, "yes": 1}, {"no": math.nan, "yes": 1}, "Yes", {"YES": 1.0}, _deep(1000)]


@st.composite
def model_and_answers(draw: st.DrawFn) -> tuple[Model, Any]:
    if draw(st.booleans()):
        name, answers = draw(st.sampled_from(KNOWN_BAD))
        return models()[name], answers
    model = models()[draw(st.sampled_from(["default", "example", "awkward"]))]
    return model, draw(hostile_answers(model.network))


@settings(SLOW, max_examples=120)
@given(
    case=model_and_answers(),
    cause=st.one_of(st.sampled_from([None, 10**5000, "x" * 100_000, ("c",)]), hostile_ids(["c", "stress"])),
)
def test_answers_api_raises_only_library_errors(case: tuple[Model, Any], cause: Any) -> None:
    model, answers = case
    post = library_errors_only(lambda: model.posterior(answers))
    if post is not None:
        check_posterior(post)
        for c in model.causes[:3]:
            expl = post.explain(c)
            text = " ".join(expl.sentences()) + expl.summary()
            assert not re.search(r"\b(inf|nan)\b", text), text
            json.dumps(expl.to_dict(), allow_nan=False)
        post.explain_all()
    for criterion in ("joint", "marginal"):
        ranking = library_errors_only(lambda c=criterion: model.rank_questions(answers, criterion=c))
        if ranking is not None:
            assert np.all(np.isfinite(ranking.gain_bits)) and np.all(ranking.gain_bits >= 0)
            assert (post is None) == (ranking is None)  # the same answers are valid for both
    library_errors_only(lambda: model.explain(answers, cause))
    library_errors_only(lambda: model.guidance(answers))
    library_errors_only(lambda: model.next_question(answers))
    library_errors_only(lambda: model.rank_questions(answers, target=cause))


@settings(SLOW, max_examples=80)
@given(data=st.data())
def test_session_raises_only_library_errors(data: st.DataObject) -> None:
    model = models()[data.draw(st.sampled_from(["example", "awkward"]))]
    session = model.session()
    questions = list(model.questions)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["answer", "answer", "skip", "undo"]))
        q = data.draw(st.one_of(st.sampled_from(questions), hostile_ids(questions)))
        labels = model.network.states[q] if isinstance(q, str) and q in model.network.states else ()
        if action == "answer":
            value = data.draw(st.one_of(st.sampled_from(KNOWN_BAD_VALUES), hostile_values(labels)))
            library_errors_only(lambda q=q, value=value: session.answer(q, value))
        elif action == "skip":
            library_errors_only(lambda q=q: session.skip(q))
        else:
            library_errors_only(session.undo)
        post = library_errors_only(lambda: session.posterior)
        if post is not None:
            check_posterior(post)
            library_errors_only(session.next_question)
    saved = json.loads(json.dumps(session.to_dict(), allow_nan=False))
    again = library_errors_only(lambda: Session.from_dict(saved, model))
    assert again is not None and again.history == session.history  # what it saved, it resumes


@functools.cache
def saved_session() -> dict[str, Any]:
    model = models()["example"]
    s = model.session()
    s.answer("works_late", "yes").skip("onset").answer("less_talk", {"no": 0.2, "a_little": 0.5, "a_lot": 0.3})
    return json.loads(json.dumps(s.to_dict()))


@settings(SLOW, max_examples=80)
@given(data=hostile_sessions(saved_session()))
def test_from_dict_raises_only_library_errors(data: Any) -> None:
    model = models()["example"]
    resumed = library_errors_only(lambda: Session.from_dict(data, model))
    if resumed is not None:
        json.dumps(resumed.to_dict(), allow_nan=False)
        library_errors_only(lambda: resumed.posterior)


# ----------------------------------------------------------------------------- the commands
def run_cli(*args: str, stdin: bytes = b"", timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PYTHONIOENCODING="utf-8")
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


def assert_clean_exit(res: subprocess.CompletedProcess[bytes]) -> None:
    err = res.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert res.returncode in (0, 2), err
    if res.returncode == 2:
        assert err.startswith(("error: ", "usage: ")), err
        assert len(err.splitlines()[-1]) < 1000


def answers_files() -> st.SearchStrategy[bytes]:
    """The bytes of an answers file: JSON objects of (mostly) real question ids, or anything."""
    ids = st.one_of(st.sampled_from(["works_late", "less_talk", "onset", "stress"]), st.text(max_size=6))
    objects = st.dictionaries(
        ids, st.one_of(hostile_values(["no", "yes"]).filter(_jsonable), json_values()), max_size=4
    )
    as_json = st.one_of(objects, json_values()).map(lambda v: json.dumps(v).encode())
    return st.one_of(
        as_json, as_json.map(lambda b: b.replace(b"}", b',"works_late": "no"}', 1)), st.binary(max_size=64)
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


@settings(SLOW, max_examples=20)
@given(content=answers_files())
def test_ask_with_an_answers_file_exits_cleanly(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("answers") / "answers.json"
    path.write_bytes(content)
    assert_clean_exit(run_cli("ask", str(EXAMPLE), "--answers", str(path)))


@settings(SLOW, max_examples=10)
@given(
    lines=st.lists(
        st.one_of(st.sampled_from(["1", "2", "3", "u", "b", "B", "Q", "yes", "²", "0", "-1"]), st.text(max_size=8)),
        max_size=8,
    )
)
def test_ask_at_the_prompt_exits_cleanly(lines: list[str]) -> None:
    stdin = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n\xff\n"
    res = run_cli("ask", str(EXAMPLE), stdin=stdin)
    assert_clean_exit(res)
    assert res.returncode == 0


def _number_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-3, 3).map(str),
        st.sampled_from(["²", "1.5", "", " 2", "9" * 40, "0x10", "1e3", "-0"]),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=4),
    )


@settings(SLOW, max_examples=12)
@given(cases=_number_texts(), every=_number_texts(), seed=_number_texts())
def test_simulate_exits_cleanly(cases: str, every: str, seed: str) -> None:
    small = cases.strip().isdecimal() and 0 < int(cases) <= 3
    args = ["simulate", str(EXAMPLE), "--max-questions", "1", "--every", every, "--seed", seed]
    res = run_cli(*args, "--cases", cases if small or not cases.strip().isdecimal() else "3")
    assert_clean_exit(res)
    if res.returncode == 0:
        assert b"Simulated" in res.stdout and not math.isnan(0.0)


def test_load_model_and_load_network_take_the_memory_budget(external_dir: Path) -> None:
    from distancing_bn.errors import ModelTooLargeError
    from distancing_bn.formats import load_model, load_network

    with pytest.raises(ModelTooLargeError):
        load_model(memory_budget=1024)
    with pytest.raises(ModelTooLargeError):
        load_network(external_dir / "networks" / "asia.bif", targets=["lung"], memory_budget=1024)
    assert load_model(memory_budget=None).causes
