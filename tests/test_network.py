"""Tests of :mod:`distancing_bn.network`: ``Network.create`` validation and ``compile_spec``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from distancing_bn.cpt import noisy_max, noisy_or
from distancing_bn.errors import ModelError, ModelTooLargeError, ModelValidationError, UnknownVariableError
from distancing_bn.model import Model
from distancing_bn.network import Network, compile_spec
from distancing_bn.spec import load_spec, parse_spec
from strategies import random_networks, small_specs

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "two_causes.yaml"


@pytest.fixture(scope="module")
def example() -> Network:
    return compile_spec(load_spec(EXAMPLE))


def assert_topological(net: Network) -> None:
    seen: set[str] = set()
    for v in net.variables:
        assert set(net.parents[v]) <= seen, f"{v} comes before one of its parents {net.parents[v]}"
        seen.add(v)


def toy(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a valid two-node network a -> b, with ``overrides`` applied."""
    kwargs: dict[str, Any] = {
        "name": "toy",
        "states": {"a": ("f", "t"), "b": ("no", "yes")},
        "parents": {"b": ("a",)},
        "cpts": {"a": [0.3, 0.7], "b": [[0.9, 0.1], [0.2, 0.8]]},
        "targets": ["a"],
    }
    kwargs.update(overrides)
    return kwargs


# ----------------------------------------------------------------------------- compile_spec
def test_compile_spec_example_roles(example: Network) -> None:
    assert example.name == "two_causes"
    assert example.targets == ("stress", "drifting")
    assert set(example.observables) == {"works_late", "less_talk", "onset", "feels_afraid"}
    assert example.reported == ("work_stress",)
    assert set(example.variables) == {"stress", "drifting", "work_stress", *example.observables}


def test_compile_spec_example_states(example: Network) -> None:
    for v in ("stress", "drifting", "work_stress"):
        assert example.states[v] == ("absent", "present")
    assert example.states["less_talk"] == ("no", "a_little", "a_lot")
    assert example.states["onset"] == ("gradual", "sudden")
    assert example.states["works_late"] == ("no", "yes")


def test_compile_spec_example_shapes_and_parents(example: Network) -> None:
    assert {v: example.parents[v] for v in example.variables} == {
        "stress": (),
        "drifting": ("stress",),
        "work_stress": ("stress",),
        "works_late": ("work_stress",),
        "less_talk": ("stress", "drifting"),
        "onset": ("stress", "drifting"),
        "feels_afraid": ("stress",),
    }
    assert {v: example.cpts[v].shape for v in example.variables} == {
        "stress": (2,),
        "drifting": (2, 2),
        "work_stress": (2, 2),
        "works_late": (2, 2),
        "less_talk": (2, 2, 3),
        "onset": (2, 2, 2),
        "feels_afraid": (2, 2),
    }


def test_compile_spec_example_is_topological(example: Network) -> None:
    assert_topological(example)
    assert example.variables[0] == "stress"
    assert dict(example.index) == {v: i for i, v in enumerate(example.variables)}


def test_compile_spec_cause_with_parent_is_noisy_or_with_prior_as_leak(example: Network) -> None:
    # drifting: prior 0.2 (the leak), link from stress with strength 0.2
    np.testing.assert_allclose(example.cpts["drifting"], [[0.8, 0.2], [0.64, 0.36]], atol=1e-15)
    np.testing.assert_allclose(example.cpts["drifting"], noisy_or(0.2, [0.2]), rtol=0, atol=1e-15)


def test_compile_spec_example_tables(example: Network) -> None:
    np.testing.assert_allclose(example.cpts["stress"], [0.7, 0.3], atol=1e-15)
    np.testing.assert_allclose(example.cpts["work_stress"], [[1.0, 0.0], [0.4, 0.6]], atol=1e-15)
    np.testing.assert_allclose(example.cpts["works_late"], [[0.9, 0.1], [0.18, 0.82]], atol=1e-15)
    np.testing.assert_allclose(
        example.cpts["less_talk"],
        noisy_max([0.15, 0.05], [[0.4, 0.1], [0.3, 0.5]]),
        rtol=0,
        atol=1e-15,
    )
    np.testing.assert_allclose(
        example.cpts["onset"],
        [[[0.5, 0.5], [0.85, 0.15]], [[0.3, 0.7], [0.6, 0.4]]],
        rtol=0,
        atol=1e-15,
    )
    np.testing.assert_allclose(example.cpts["feels_afraid"], [[0.97, 0.03], [0.97 * 0.98, 1 - 0.97 * 0.98]], atol=1e-15)


def test_compile_spec_tables_are_read_only(example: Network) -> None:
    with pytest.raises(ValueError, match="read-only"):
        example.cpts["stress"][0] = 0.5


def test_network_children_and_card(example: Network) -> None:
    assert set(example.children("stress")) == {
        "drifting",
        "work_stress",
        "less_talk",
        "onset",
        "feels_afraid",
    }
    assert example.children("works_late") == ()
    assert example.card("less_talk") == 3


def test_network_check_variable_raises_with_close_match(example: Network) -> None:
    with pytest.raises(UnknownVariableError, match=r"unknown question 'less_tak'; did you mean 'less_talk'\?"):
        example.check_variable("less_tak", kind="question", among=example.observables)
    example.check_variable("onset")


@given(small_specs())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_compile_spec_random_specs(text: str) -> None:
    spec = parse_spec(text)
    net = compile_spec(spec)
    assert net.targets == tuple(c.id for c in spec.causes)
    assert set(net.observables) == {q.id for q in spec.questions}
    assert net.reported == tuple(f.id for f in spec.facets)
    assert_topological(net)
    for q in spec.questions:
        assert net.states[q.id] == q.answers
        assert net.cpts[q.id].shape == (2,) * len(q.parents) + (len(q.answers),)
    for v in net.variables:
        np.testing.assert_allclose(net.cpts[v].sum(axis=-1), 1.0, atol=1e-9)


# ----------------------------------------------------------------------------- Network.create
def test_network_create_toy() -> None:
    net = Network.create(**toy())
    assert net.variables == ("a", "b")
    assert net.targets == ("a",)
    assert net.observables == ("b",)  # defaults to every non-target
    assert net.cpts["b"].dtype == np.float64


def test_network_create_orders_variables_topologically() -> None:
    kwargs = toy(states={"b": ("no", "yes"), "a": ("f", "t")})
    assert Network.create(**kwargs).variables == ("a", "b")


@pytest.mark.parametrize(
    ("overrides", "message", "key_path"),
    [
        pytest.param(
            {"parents": {"b": ("c",)}},
            r"unknown parent of 'b' 'c'",
            "parent of 'b'",
            id="unknown-parent",
        ),
        pytest.param(
            {"cpts": {"a": [0.3, 0.7], "b": [0.9, 0.1]}},
            r"table of 'b' has shape \(2,\); expected \(2, 2\) "
            r"\(parents \('a',\), then its states\)",
            "b",
            id="wrong-shape",
        ),
        pytest.param(
            {"cpts": {"a": [0.3, 0.7], "b": [[0.9, 0.1], [0.2, 0.7]]}},
            r"table of 'b' sums to 0\.9 for parents a=t; each row must sum to 1 \(±1e-09\)",
            "b",
            id="row-sum",
        ),
        pytest.param(
            {
                "parents": {"a": ("b",), "b": ("a",)},
                "cpts": {"a": [[0.3, 0.7], [0.5, 0.5]], "b": [[0.9, 0.1], [0.2, 0.8]]},
            },
            r"the network has a cycle among a, b",
            "parents",
            id="cycle",
        ),
        pytest.param(
            {"observables": ["a", "b"]},
            r"'a' is both a target and an observable",
            "roles",
            id="target-also-observable",
        ),
        pytest.param(
            {"targets": ["aa"]},
            r"unknown target 'aa'; did you mean 'a'\?",
            "target",
            id="unknown-target-hint",
        ),
        pytest.param({"targets": ["zzz"]}, r"^unknown target 'zzz'$", "target", id="unknown-target-no-hint"),
        pytest.param(
            {"observables": ["bb"]},
            r"unknown observable 'bb'; did you mean 'b'\?",
            "observable",
            id="unknown-observable",
        ),
        pytest.param({"targets": []}, r"a network needs at least one target", "targets", id="no-target"),
        pytest.param(
            {"cpts": {"a": [1.3, -0.3], "b": [[0.9, 0.1], [0.2, 0.8]]}},
            r"table of 'a' has entries outside \[0, 1\]",
            "a",
            id="entries-out-of-range",
        ),
        pytest.param({"cpts": {"a": [0.3, 0.7]}}, r"no table for 'b'", "b", id="missing-table"),
        pytest.param(
            {"states": {"a": ("f", "f"), "b": ("no", "yes")}},
            r"states of 'a' must be distinct and non-empty",
            "a",
            id="duplicate-states",
        ),
    ],
)
def test_network_create_raises(overrides: dict[str, Any], message: str, key_path: str) -> None:
    with pytest.raises(ModelValidationError, match=r"^1 problem in the model:\n") as info:
        Network.create(**toy(**overrides))
    (problem,) = info.value.problems
    assert problem.key_path == key_path
    assert re.search(message, problem.message), problem.message


def test_network_create_reports_every_problem_at_once() -> None:
    kwargs = toy(targets=["aa"], cpts={"a": [0.3, 0.7], "b": [0.5, 0.5]}, observables=["bb"])
    with pytest.raises(ModelValidationError, match=r"^3 problems in the model:") as info:
        Network.create(**kwargs)
    assert [p.key_path for p in info.value.problems] == ["target", "observable", "b"]


def test_network_create_raises_root_row_sum() -> None:
    with pytest.raises(ModelValidationError, match=r"table of 'a' sums to 0\.9"):
        Network.create(**toy(cpts={"a": [0.3, 0.6], "b": [[0.9, 0.1], [0.2, 0.8]]}))


@pytest.mark.parametrize("table", [[[0.9, 0.1], [0.2]], [["x", "y"], [0.2, 0.8]]])
def test_network_create_raises_ragged_table(table: list[Any]) -> None:
    with pytest.raises(ModelValidationError, match=r"table of 'b'"):
        Network.create(**toy(cpts={"a": [0.3, 0.7], "b": table}))


def test_network_create_raises_parents_of_unknown_variable() -> None:
    with pytest.raises(ModelValidationError, match=r"'c'"):
        Network.create(**toy(parents={"b": ("a",), "c": ("a",)}))


def test_network_create_errors_are_model_errors() -> None:
    with pytest.raises(ModelError):
        Network.create(**toy(targets=["nope"]))


# ----------------------------------------------------------------------------- random networks
@given(random_networks())
def test_network_create_random_networks(kwargs: dict[str, Any]) -> None:
    net = Network.create(**kwargs)
    assert set(net.variables) == set(kwargs["states"])
    assert_topological(net)
    assert net.targets == tuple(kwargs["targets"])
    assert set(net.observables) == set(kwargs["observables"])
    for v in net.variables:
        assert net.states[v] == tuple(kwargs["states"][v])
        assert net.parents[v] == tuple(kwargs["parents"][v])
        # tables are kept as given, up to renormalising rows that sum to 1 within the tolerance
        np.testing.assert_allclose(net.cpts[v], kwargs["cpts"][v], rtol=0, atol=1e-15)
        assert np.all(net.cpts[v] > 0)


# ----------------------------------------------------------------------------- memory budget
def _spec_text(n_causes: int, *, fan: bool = False, mesh: bool = False) -> str:
    """A model of ``n_causes`` causes; ``fan``: one question linked to all; ``mesh``: causes linked to later ones."""
    import yaml

    causes = [
        {"id": f"c{i}", "label": f"C{i}", "description": "d", "prior": 0.1, "rationale": "r", "guidance": ["g"]}
        for i in range(n_causes)
    ]
    link = {"strength": 0.5, "rationale": "r"}
    questions = [
        {
            "id": f"q{i}",
            "text": "?",
            "answers": ["no", "yes"],
            "leak": 0.1,
            "leak_rationale": "r",
            "links": [{"cause": f"c{i}", **link}],
        }
        for i in range(n_causes)
    ]
    if fan:
        questions = [{**questions[0], "id": "q", "links": [{"cause": f"c{i}", **link} for i in range(n_causes)]}]
    links = (
        [{"from": f"c{i}", "to": f"c{j}", **link} for i in range(n_causes) for j in range(i + 1, n_causes)]
        if mesh
        else []
    )
    data = {"format": "distancing-bn/1", "id": "big", "title": "t", "description": "d", "version": "1"}
    return yaml.safe_dump({**data, "causes": causes, "links": links, "questions": questions}, sort_keys=False)


def test_a_question_with_forty_parents_is_refused_before_any_table_is_built() -> None:
    # the file's own limit comes first: its noisy-OR table would be 2^41 entries (16 TiB)
    with pytest.raises(ModelValidationError, match="MAX_TABLE_CELLS"):
        parse_spec(_spec_text(40, fan=True))


def test_compile_spec_refuses_a_table_over_the_memory_budget_before_building_it() -> None:
    spec = parse_spec(_spec_text(19, fan=True))  # 2^20 entries: within the file limit, 8 MiB
    with pytest.raises(ModelTooLargeError) as info:
        compile_spec(spec, memory_budget=1 << 20)
    err = info.value
    assert err.largest_states == 2**20 and err.variables[:2] == ("q", "c0") and len(err.variables) == 20
    msg = str(err)
    assert "model 'big' is too large to compile: the table of 'q' spans 1,048,576 joint states" in msg
    assert "20 variables: q, c0, c1, c2, c3, c4, c5, c6 and 12 more" in msg
    assert "over the memory budget of 1.0 MiB" in msg and "fewer causes" in msg


def test_compile_spec_refuses_thirty_mutually_linked_causes() -> None:
    with pytest.raises(ModelValidationError, match="cause 'c20': 20 parents make a table"):
        parse_spec(_spec_text(30, mesh=True))  # the file's limit: c29's table alone is 2^30 rows
    spec = parse_spec(_spec_text(19, mesh=True))  # every table within the file's limit
    with pytest.raises(ModelTooLargeError, match=r"the table of 'c18' spans 524,288 joint states"):
        Model.from_spec(spec, memory_budget=1 << 20)


def test_compile_spec_memory_budget_keyword() -> None:
    spec = parse_spec(_spec_text(12, fan=True))  # a 2^13-entry table: 64 KiB
    assert compile_spec(spec).cpts["q"].shape == (2,) * 12 + (2,)
    with pytest.raises(ModelTooLargeError, match=r"memory budget of 64\.0 KiB"):
        compile_spec(spec, memory_budget=64 * 1024)
    assert compile_spec(spec, memory_budget=None).cpts["q"].size == 2**13
    with pytest.raises(ModelTooLargeError):
        Model.from_spec(spec, memory_budget=100_000)  # the tables fit, the junction tree does not
    assert Model.from_spec(spec, memory_budget=None).posterior({"q": "yes"}).probabilities["c0"] > 0.1
