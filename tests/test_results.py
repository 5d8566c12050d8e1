"""The result objects: ``Posterior`` tables, text, HTML, JSON, and the same API on a BIF network."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import distancing_bn
from distancing_bn import Model, Posterior, UnknownQuestionError
from distancing_bn.errors import EvidenceError
from distancing_bn.results import DISCLAIMER
from distancing_bn.spec import parse_spec

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def example(example_path: Path) -> Model:
    return distancing_bn.load_model(example_path)


@pytest.fixture(scope="module")
def post(example: Model) -> Posterior:
    return example.posterior({"works_late": "yes", "less_talk": "a_lot", "onset": "unsure"})


@pytest.fixture(scope="module")
def hostile(example_path: Path) -> Model:
    """The example model with HTML in a label, a question text and the disclaimer."""
    text = example_path.read_text(encoding="utf-8")
    assert "label: Outside stress" in text
    text = text.replace("label: Outside stress", f"label: '{SCRIPT}'")
    text = text.replace(
        "text: Is your partner working longer hours than before?",
        "text: 'Is <b>your</b> partner working & late?'",
    )
    text = text.replace("disclaimer: A reflective aid", "disclaimer: <i>Not</i> advice. A reflective aid")
    return Model.from_spec(parse_spec(text))


# ----------------------------------------------------------------------------- numbers
def test_probabilities_and_priors(example: Model, post: Posterior) -> None:
    ids = [v.id for v in example.variables]
    assert ids == [*example.causes, *example.facets] == ["stress", "drifting", "work_stress"]
    assert list(post.probabilities.index) == ids
    assert list(post.prior_probabilities.index) == ids
    pd.testing.assert_series_equal(post.prior_probabilities, example.prior.probabilities.rename("p_prior"))
    assert post.prior_probabilities["stress"] == pytest.approx(0.3, abs=1e-15)
    np.testing.assert_allclose(post.prior_ratio, post.probabilities / post.prior_probabilities)
    assert post.answers == {"works_late": "yes", "less_talk": "a_lot"}  # 'unsure' dropped
    m = post.marginal("stress")
    assert list(m.index) == ["absent", "present"] and m.index.name == "state" and m.name == "stress"
    assert m["present"] == post.probabilities["stress"]
    assert m.sum() == pytest.approx(1.0, abs=1e-15)


def test_to_frame(example: Model, post: Posterior) -> None:
    frame = post.to_frame()
    assert list(frame.columns) == ["id", "kind", "label", "prior", "posterior", "ratio"]
    assert list(frame["id"]) == ["stress", "drifting", "work_stress"]
    assert list(frame["kind"]) == ["cause", "cause", "facet"]
    assert list(frame["label"]) == ["Outside stress", "Drifting apart", "Work stress"]
    np.testing.assert_allclose(frame["posterior"], post.probabilities.to_numpy())
    np.testing.assert_allclose(frame["prior"], post.prior_probabilities.to_numpy())
    np.testing.assert_allclose(frame["ratio"], frame["posterior"] / frame["prior"])


def test_top_causes(post: Posterior) -> None:
    top = post.top_causes(5)
    assert list(top.index) == sorted(["stress", "drifting"], key=lambda c: -post.probabilities[c])
    assert "work_stress" not in top.index  # facets are not causes
    assert len(post.top_causes(1)) == 1


def test_marginal_of_unknown_name(post: Posterior) -> None:
    with pytest.raises(UnknownQuestionError) as info:
        post.marginal("stres")
    assert isinstance(info.value, EvidenceError)
    assert "stres" in str(info.value) and "did you mean 'stress'" in str(info.value)
    with pytest.raises(UnknownQuestionError):
        post.explain("nothing_like_it")


# ----------------------------------------------------------------------------- text
def test_summary_contains_disclaimer(example: Model, post: Posterior) -> None:
    text = post.summary()
    assert example.disclaimer in text
    assert text.splitlines()[-1] == example.disclaimer
    assert text.startswith("Posterior for model 'two_causes' from 2 answers")
    assert "Outside stress" in text and "Drifting apart" in text
    assert "Work stress" not in text  # facets are not listed as causes
    assert str(post) == text
    assert example.posterior({}).summary().count("about the same") == 2


def test_summaries_leave_the_disclaimer_out_on_request(example: Model, post: Posterior) -> None:
    assert example.disclaimer not in post.summary(disclaimer=False)
    assert post.summary(disclaimer=False) == post.summary().rsplit("\n", 1)[0]
    expl = post.explain("stress")
    assert expl.summary().endswith(example.disclaimer)
    assert example.disclaimer not in expl.summary(disclaimer=False)
    assert expl.summary(disclaimer=False) == expl.summary().rsplit("\n", 1)[0]


def test_summary_with_guidance_puts_urgent_notices_above_the_causes() -> None:
    model = distancing_bn.load_model()
    answers = {"afraid_of_partner": "yes", "low_mood": "yes", "less_contact": "a_lot"}
    text = model.posterior(answers).summary(guidance=True)
    lines = text.splitlines()
    titles = {n.id: n.title for n in model.spec.notices}
    safety = lines.index(f"!! {titles['safety_control']}")
    help_ = lines.index(f"*  {titles['professional_help_mood']}")
    first_cause = next(i for i, line in enumerate(lines) if "(prior " in line)
    assert 0 < safety < help_ < first_cause  # urgent first, both above every probability
    between = " ".join(" ".join(lines[safety:help_]).split())
    assert "not the list of causes below" in between  # the urgent notice says the causes are not the point
    assert text.count(model.disclaimer) == 1 and lines[-1] == model.disclaimer


def test_summary_with_guidance_and_no_notice_is_the_plain_summary() -> None:
    model = distancing_bn.load_model()
    post = model.posterior({"less_contact": "a_lot"})
    assert post.summary(guidance=True) == post.summary()
    assert "!!" not in post.summary(guidance=True, disclaimer=False)


def test_explanation_sentences_quote_answers_as_a_person_saw_them() -> None:
    model = dbn_default()
    answers = {"onset": "sudden", "less_contact": "a_lot", "longer_hours": "yes"}
    text = " ".join(model.posterior(answers).explain("external_stressors").sentences())
    for q, a in answers.items():
        shown = model.spec.question(q).display(a)
        assert f"'{shown[0].upper()}{shown[1:]}'" in text  # one style: a capital first letter
    assert "a_lot" not in text  # never the answer id


def dbn_default() -> Model:
    return distancing_bn.load_model()


def test_explanation_labels_fall_back_to_the_question_texts(post: Posterior) -> None:
    import dataclasses

    expl = post.explain("stress")
    assert expl.labels == expl.texts
    short = dataclasses.replace(expl, question_labels=tuple(q.upper() for q in expl.questions))
    assert short.labels == tuple(q.upper() for q in expl.questions)
    assert dataclasses.replace(expl, question_labels=("only one",)).labels == expl.texts  # wrong length: ignored


def test_default_disclaimer_when_the_model_has_none() -> None:
    model = distancing_bn.load_model()
    assert model.prior.disclaimer == model.disclaimer
    assert model.disclaimer in model.posterior({}).summary()
    assert DISCLAIMER  # the fallback used for networks without a spec


def test_repr(post: Posterior, example: Model) -> None:
    text = repr(post)
    m = re.fullmatch(r"<Posterior (\d+) causes \| (\d+) answers \| top: (\w+) (\d\.\d\d)>", text)
    assert m, text
    assert m.group(1) == "2" and m.group(2) == "2"
    best = post.top_causes(1)
    assert m.group(3) == best.index[0] and float(m.group(4)) == pytest.approx(best.iloc[0], abs=0.005)
    assert repr(example.prior).startswith("<Posterior 2 causes | 0 answers | top: ")


# ----------------------------------------------------------------------------- HTML
def test_repr_html_escapes_model_texts(hostile: Model) -> None:
    post = hostile.posterior({"works_late": "yes"})
    out = post._repr_html_()
    assert SCRIPT not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<i>Not</i>" not in out and "&lt;i&gt;Not&lt;/i&gt;" in out
    assert out.startswith("<div") and "<table" in out
    expl_html = post.explain("stress")._repr_html_()
    assert SCRIPT not in expl_html and "&lt;script&gt;" in expl_html
    assert "<b>your</b>" not in expl_html and "&lt;b&gt;your&lt;/b&gt;" in expl_html
    assert "&amp;" in expl_html
    model_html = hostile._repr_html_()
    assert SCRIPT not in model_html and "&lt;script&gt;" in model_html
    assert "<b>your</b>" not in model_html


def test_repr_html_plain(post: Posterior) -> None:
    out = post._repr_html_()
    for label in ("Outside stress", "Drifting apart", "Work stress"):
        assert label in out
    assert "Posterior (2 answers)" in out


# ----------------------------------------------------------------------------- JSON
def test_to_dict_is_json_serialisable(example: Model) -> None:
    post = example.posterior({"works_late": "yes", "less_talk": {"no": 0.2, "a_little": 0.3, "a_lot": 1}})
    d = post.to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["model"] == "two_causes"
    assert back["answers"] == {"works_late": "yes", "less_talk": [0.2, 0.3, 1.0]}
    assert back["log_evidence"] == pytest.approx(post.log_evidence)
    assert set(back["probabilities"]) == {"stress", "drifting", "work_stress"}
    assert back["probabilities"]["stress"] == pytest.approx(post.probabilities["stress"])
    assert back["prior"]["stress"] == pytest.approx(0.3)
    assert back["disclaimer"] == example.disclaimer
    assert math.isfinite(back["log_evidence"])


# ----------------------------------------------------------------------------- a published network
def test_same_api_on_asia(external_dir: Path) -> None:
    pytest.importorskip("pgmpy")
    targets = ["lung", "tub", "bronc"]
    model = distancing_bn.load_network(external_dir / "networks" / "asia.bif", targets=targets)
    assert model.causes == tuple(targets) and model.facets == ()
    assert set(model.questions) == {"asia", "smoke", "either", "xray", "dysp"}
    post = model.posterior({"xray": "yes", "dysp": "yes", "smoke": "unsure"})
    probs = post.probabilities
    assert list(probs.index) == targets
    assert ((probs > 0) & (probs < 1)).all()
    for t in targets:
        m = post.marginal(t)
        assert list(m.index) == list(model.network.states[t])
        assert probs[t] == m["yes"]  # 'yes' is the reported state
    frame = post.to_frame()
    assert list(frame["kind"]) == ["target"] * 3 and list(frame["label"]) == targets
    assert DISCLAIMER not in post.summary()  # a network file gives no disclaimer: none is invented
    assert re.fullmatch(r"<Posterior 3 causes \| 2 answers \| top: \w+ \d\.\d\d>", repr(post))
    json.dumps(post.to_dict(), allow_nan=False)
    top = post.top_explanations(3)
    assert list(top.columns) == ["rank", "present", *targets, "probability"]
    assert post.explain("lung").questions == ("xray", "dysp")
    assert "<table" in post._repr_html_()
    # x-ray and dyspnoea both raise the chance of lung cancer
    assert post.explain("lung").bits.min() > 0
    assert probs["lung"] > model.prior.probabilities["lung"]
