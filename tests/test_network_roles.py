"""Roles, present states, texts, costs and disclaimers of network files (issue 14, parts 3, 4, 6)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from distancing_bn.errors import ModelValidationError, ModelWarning
from distancing_bn.formats import load_model, load_network
from distancing_bn.model import Model, present_states
from distancing_bn.network import Network

pytest.importorskip("pgmpy")

EXAMPLE = Path(__file__).resolve().parents[1] / "models" / "examples" / "two_causes.yaml"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def hepar2_path(external_dir: Path) -> Path:
    return external_dir / "networks" / "hepar2.bif"


def load_quietly(path: Path, **kwargs: object):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        return load_network(path, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- present states
def test_hepar2_cirrhosis_states_are_not_named_present(hepar2_path: Path) -> None:
    model = load_quietly(hepar2_path, targets=["Cirrhosis"])
    assert model.network.states["Cirrhosis"] == ("decompensate", "compensate", "absent")
    assert present_states(model.network, "Cirrhosis") is None  # neither given nor named: not guessed


def test_hepar2_cirrhosis_present_states_can_be_given(hepar2_path: Path) -> None:
    model = load_quietly(hepar2_path, targets=["Cirrhosis"], present={"Cirrhosis": ["decompensate", "compensate"]})
    assert model.network.present["Cirrhosis"] == ("decompensate", "compensate")
    assert present_states(model.network, "Cirrhosis") == ("decompensate", "compensate")
    info = next(v for v in model.variables if v.id == "Cirrhosis")
    assert info.states[info.present] != "absent"


def test_a_single_present_state_is_the_one_reported(hepar2_path: Path) -> None:
    model = load_quietly(hepar2_path, targets=["Cirrhosis"], present={"Cirrhosis": "compensate"})
    posterior = model.posterior({})
    assert posterior.probabilities["Cirrhosis"] == pytest.approx(float(posterior.marginal("Cirrhosis")["compensate"]))


def test_unknown_present_state_is_refused_with_the_valid_ones(hepar2_path: Path) -> None:
    with pytest.raises(ModelValidationError, match=r"'cirrhosis' is not a state of 'Cirrhosis'; valid: 'decompensate'"):
        load_quietly(hepar2_path, targets=["Cirrhosis"], present={"Cirrhosis": ["cirrhosis"]})
    with pytest.raises(ModelValidationError, match=r"every state of 'Cirrhosis' is named present"):
        load_quietly(
            hepar2_path, targets=["Cirrhosis"], present={"Cirrhosis": ["decompensate", "compensate", "absent"]}
        )


def test_named_present_state_is_found_without_help(external_dir: Path) -> None:
    model = load_network(external_dir / "networks" / "asia.bif", targets=["lung"])
    assert present_states(model.network, "lung") == ("yes",)


# ----------------------------------------------------------------------------- disclaimer, order, texts, costs
def test_network_files_show_no_built_in_disclaimer(hepar2_path: Path) -> None:
    model = load_quietly(hepar2_path, targets=["Cirrhosis"])
    assert model.disclaimer == ""
    assert model.posterior({}).disclaimer == ""


def test_questions_keep_the_file_order(hepar2_path: Path) -> None:
    model = load_quietly(hepar2_path, targets=["Cirrhosis"])
    text = hepar2_path.read_text(encoding="utf-8")
    declared = [line.split()[1] for line in text.splitlines() if line.startswith("variable ")]
    assert list(model.questions) == [v for v in declared if v != "Cirrhosis"]


def test_side_file_gives_texts_costs_present_and_disclaimer(hepar2_path: Path, tmp_path: Path) -> None:
    side = tmp_path / "hepar2.json"
    side.write_text(
        json.dumps(
            {
                "texts": {"fatigue": "Do you often feel tired?"},
                "costs": {"fatigue": 0.5},
                "present": {"Cirrhosis": ["decompensate", "compensate"]},
                "disclaimer": "For teaching only.",
            }
        ),
        encoding="utf-8",
    )
    model = load_quietly(hepar2_path, targets=["Cirrhosis"], side_file=side, costs={"ESR": 3})
    assert model.question_text("fatigue") == "Do you often feel tired?"
    assert model.cost("fatigue") == 0.5 and model.cost("ESR") == 3.0 and model.cost("age") == 1.0
    assert model.network.present["Cirrhosis"] == ("decompensate", "compensate")
    assert model.disclaimer == "For teaching only."


def test_bad_costs_and_texts_name_each_problem(hepar2_path: Path) -> None:
    with pytest.raises(ModelValidationError) as info:
        load_quietly(hepar2_path, targets=["Cirrhosis"], costs={"ESR": -1, "nope": 2}, texts={"ESR": " "})
    messages = [p.message for p in info.value.problems]
    assert any("the cost of 'ESR' must be a positive number" in m for m in messages)
    assert any("a cost is given for unknown variable 'nope'" in m for m in messages)
    assert any("the text of 'ESR' must be non-empty text" in m for m in messages)


# ----------------------------------------------------------------------------- roles written and read back
@pytest.mark.parametrize("source", [EXAMPLE, None], ids=["two_causes", "default"])
@pytest.mark.parametrize("suffix", [".xdsl", ".net", ".uai"])
def test_our_model_written_keeps_roles_texts_costs_and_disclaimer(
    tmp_path: Path, suffix: str, source: Path | None
) -> None:
    model = load_model(source)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    text = path.read_text(encoding="utf-8")
    if suffix == ".xdsl":
        assert 'diagtype="target"' in text and 'diagtype="observation"' in text and 'fault="true"' in text
    else:
        assert "distancing-bn: " in text  # NET and UAI have no place for roles: a comment line holds them
    back = load_model(path)  # no targets needed: the file gives its roles
    assert back.causes == model.causes
    assert back.questions == model.questions
    assert back.facets == model.facets  # facets stay reported latent variables, not questions
    assert [back.question_text(q) for q in back.questions] == [model.question_text(q) for q in model.questions]
    assert list(back.question_costs) == list(model.question_costs)
    assert back.disclaimer == model.disclaimer
    assert all(back.network.present[c] == ("present",) for c in back.causes)
    a, b = model.posterior({}).probabilities, back.posterior({}).probabilities
    assert (abs(a - b) < 1e-12).all()


def test_roles_in_the_file_can_be_overridden(tmp_path: Path) -> None:
    model = load_model(EXAMPLE)
    path = tmp_path / "two_causes.xdsl"
    model.save(path)
    first = model.causes[0]
    back = load_model(path, targets=[first])
    assert back.causes == (first,)
    assert set(back.questions) == set(model.questions)


# ----------------------------------------------------------------------------- the command line
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_observable_and_present(external_dir: Path) -> None:
    path = str(external_dir / "networks" / "asia.bif")
    out = run_cli(
        "info",
        path,
        "--target",
        "lung",
        "--observable",
        "xray",
        "--observable",
        "dysp",
        "--present",
        "lung=yes",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert [q["id"] for q in info["questions"]] == ["xray", "dysp"]


def test_cli_bad_present_is_a_message_not_a_traceback(external_dir: Path) -> None:
    path = str(external_dir / "networks" / "asia.bif")
    for flag in ("lung", "lung=maybe"):
        out = run_cli("info", path, "--target", "lung", "--present", flag)
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert "NAME=STATE" in out.stderr or "'maybe' is not a state of 'lung'" in out.stderr


def test_always_observed_premise_survives_an_xdsl_round_trip(tmp_path: Path) -> None:
    interview = Path(__file__).parent / "data" / "interview.yaml"
    if not interview.exists():
        pytest.skip("no interview example in this checkout")
    model = load_model(interview)
    path = tmp_path / "interview.xdsl"
    model.save(path)
    back = load_model(path)
    assert dict(back.network.observed) == dict(model.network.observed) == {"distance_noticed": "yes"}
    assert "distance_noticed" not in back.questions
    a, b = model.posterior({}).probabilities, back.posterior({}).probabilities
    assert (abs(a - b) < 1e-12).all()


# ----------------------------------------------------------------------------- memory-aware plans
def chain_network(card: int = 20, length: int = 21) -> Network:
    """Three root targets joined only through a long chain: holding them together is costly."""
    rng = np.random.default_rng(7)
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    labels = tuple(f"s{i}" for i in range(card))
    hooks = {0: "t0", length // 2: "t1", length - 1: "t2"}
    for t in hooks.values():
        states[t], parents[t] = labels, ()
        cpts[t] = rng.dirichlet(np.ones(card))
    for i in range(length):
        ps = tuple(x for x in ((f"x{i - 1}",) if i else ()) + ((hooks[i],) if i in hooks else ()))
        states[f"x{i}"], parents[f"x{i}"] = labels, ps
        cpts[f"x{i}"] = rng.dirichlet(np.ones(card), size=(card,) * len(ps))
    return Network.create("chain", states, parents, cpts, targets=["t0", "t1", "t2"])


def test_targets_are_not_forced_together_when_it_would_grow_the_tree() -> None:
    from distancing_bn.engine import estimate_memory

    net = chain_network()
    plan = estimate_memory(net).plan
    assert not plan.has_joint  # together: 20 cliques of 160,000 states instead of about 9,000 states in all
    assert max(plan.sizes) <= 20**3


def test_cheap_targets_still_share_the_root_clique() -> None:
    from distancing_bn.engine import estimate_memory

    plan = estimate_memory(load_model(EXAMPLE).network).plan
    assert plan.has_joint


def test_plan_without_the_joint_is_exact_against_pgmpy() -> None:
    from pgmpy.inference import VariableElimination

    from distancing_bn.interop import to_pgmpy

    net = chain_network(card=6, length=9)
    model = Model(net, memory_budget=None)
    evidence = {"x4": "s2", "x8": "s5"}
    ours = model.posterior(evidence)
    ve = VariableElimination(to_pgmpy(net))
    for t in net.targets:
        want = ve.query([t], evidence=evidence, show_progress=False)
        order = [want.state_names[t].index(s) for s in net.states[t]]
        np.testing.assert_allclose(np.asarray(ours.marginal(t)), want.values[order], rtol=0, atol=1e-9)


def test_forty_three_state_targets_plan_without_overflow() -> None:
    states = {f"t{i}": ("a", "b", "c") for i in range(40)} | {f"q{i}": ("no", "yes") for i in range(40)}
    parents = {f"t{i}": () for i in range(40)} | {f"q{i}": (f"t{i}",) for i in range(40)}
    cpts = {f"t{i}": np.array([0.5, 0.3, 0.2]) for i in range(40)}
    cpts |= {f"q{i}": np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]) for i in range(40)}
    net = Network.create("wide", states, parents, cpts, targets=[f"t{i}" for i in range(40)])
    model = Model(net)
    assert not model.engine.has_joint  # 3**40 joint states: never held together
    assert float(model.posterior({"q0": "yes"}).marginal("t0")["c"]) == pytest.approx(
        0.2 * 0.8 / (0.5 * 0.1 + 0.3 * 0.5 + 0.2 * 0.8)
    )
