"""The bundled survey mappings fit the default model and keep their constructs.

Both files load against the default model, every survey column is either mapped or ignored,
the ECR anxiety items are not read as signs of a withdrawing partner, the doc's example is a
valid mapping, and real rows of both data sets score with status ``ok``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from distancing_bn import load_model
from distancing_bn.mapping import SurveyMapping, load_mapping, parse_mapping

REPO = Path(__file__).resolve().parents[1]
MAPPINGS = REPO / "models" / "mappings"
ECR_REVERSED = (3, 15, 19, 22, 25, 27, 29, 31, 33, 35)


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model()


@pytest.fixture(scope="module")
def divorce(model: Any) -> SurveyMapping:
    return load_mapping(MAPPINGS / "divorce.yaml", model.network)


@pytest.fixture(scope="module")
def ecr(model: Any) -> SurveyMapping:
    return load_mapping(MAPPINGS / "ecr.yaml", model.network)


def causes_behind(model: Any, question: str) -> set[str]:
    """The causes a question hangs from, directly or through one of their facets."""
    out: set[str] = set()
    for parent in model.network.parents[question]:
        out |= {parent} if parent in model.causes else set(model.network.parents[parent])
    return out


def test_every_survey_column_is_mapped_or_ignored(divorce: SurveyMapping, ecr: SurveyMapping) -> None:
    dps = {f"Atr{i}" for i in range(1, 55)} | {"Class"}
    ecr_cols = {f"Q{i}" for i in range(1, 37)} | {"age", "gender", "country"}
    for mapping, cols in ((divorce, dps), (ecr, ecr_cols)):
        mapped = {c.column for c in mapping.columns}
        assert not mapped & mapping.ignore
        assert mapped | mapping.ignore == cols, sorted(cols ^ (mapped | mapping.ignore))


def test_mapped_questions_and_answers_are_the_models(model: Any, divorce: SurveyMapping, ecr: SurveyMapping) -> None:
    for mapping in (divorce, ecr):
        per_question: dict[str, int] = {}
        for c in mapping.columns:
            assert c.question in model.questions
            assert c.rationale.strip(), c.column
            per_question[c.question] = per_question.get(c.question, 0) + 1
        assert max(per_question.values()) <= 3  # the files' own cap on near-duplicate items
    assert "Class" in divorce.ignore  # the outcome is never evidence


def test_ecr_reads_only_avoidance_items_and_only_as_avoidance_signs(model: Any, ecr: SurveyMapping) -> None:
    for c in ecr.columns:
        number = int(c.column[1:])
        assert number % 2 == 1, f"{c.column} is an anxiety item"
        assert "avoidant_attachment" in causes_behind(model, c.question), c.question
        assert "coercive_control" not in causes_behind(model, c.question), c.question
        assert c.reverse == (number in ECR_REVERSED), c.column
    # the anxiety items that once went to expects_rejection (a fear-of-intimacy sign) stay out
    assert {"Q2", "Q6", "Q8"} <= ecr.ignore
    assert all(c.question != "expects_rejection" for c in ecr.columns)


def test_divorce_items_go_to_the_revised_questions(divorce: SurveyMapping) -> None:
    where = {c.column: c.question for c in divorce.columns}
    # anger and contempt during arguments are not read as signs of coercive control (they would
    # raise the safety notice for most divorced couples of the survey), nor as a recent change
    assert not {"Atr31", "Atr41", "Atr34", "Atr35", "Atr36"} & set(where)
    assert {where[a] for a in ("Atr42", "Atr43", "Atr45")} == {"shuts_down"}
    assert {where[a] for a in ("Atr49", "Atr50", "Atr51")} == {"defensive"}


def test_every_answer_is_soft_and_the_middle_code_is_no_evidence(divorce: SurveyMapping, ecr: SurveyMapping) -> None:
    for mapping, middle in ((divorce, "2"), (ecr, "3")):
        for c in mapping.columns:
            lik = {k: np.asarray(v, dtype=float) for k, v in c.answers.items()}
            assert np.allclose(lik[middle], lik[middle][0]), c.column
            for code, row in lik.items():
                assert row.min() > 0, (c.column, code)  # never a hard answer: no row can be impossible
                assert row.max() / row.min() <= 2.5 + 1e-9, (c.column, code)


def test_the_doc_example_is_a_valid_mapping(model: Any) -> None:
    text = (REPO / "docs" / "mapping-format.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(format: distancing-bn-mapping/1.*?)```", text, flags=re.S)
    assert block is not None
    mapping = parse_mapping(block.group(1), model.network, file="mapping-format.md")
    assert [c.question for c in mapping.columns] == ["pulls_back_after_closeness"]


def test_real_divorce_rows_score_ok(model: Any, external_dir: Path) -> None:
    frame = pd.read_csv(external_dir / "divorce" / "divorce.csv", sep=";")
    out = model.score(frame, mapping=MAPPINGS / "divorce.yaml", next_question=False)
    assert len(out) == 170 and (out["status"] == "ok").all()
    married, divorced = (out.loc[frame["Class"] == k, "p_communication_breakdown"].mean() for k in (0, 1))
    assert divorced > married + 0.3


def test_real_ecr_rows_score_ok_and_anxiety_does_not_raise_fear_of_intimacy(model: Any, external_dir: Path) -> None:
    frame = pd.read_csv(external_dir / "ecr" / "data.csv", nrows=2000)
    out = model.score(frame, mapping=MAPPINGS / "ecr.yaml", next_question=False)
    assert len(out) == 2000 and (out["status"] == "ok").all()
    items = frame[[f"Q{i}" for i in range(1, 37)]].replace(0, np.nan).astype(float)
    for q in ECR_REVERSED:
        items[f"Q{q}"] = 6 - items[f"Q{q}"]
    avoidance = items[[f"Q{i}" for i in range(1, 37, 2)]].mean(axis=1)
    anxiety = items[[f"Q{i}" for i in range(2, 37, 2)]].mean(axis=1)
    assert out["p_avoidant_attachment"].corr(avoidance, method="spearman") > 0.9
    # with Q2/Q6/Q8 -> expects_rejection this was +0.20 (first 5,000 rows)
    assert abs(out["p_fear_of_intimacy"].corr(anxiety, method="spearman")) < 0.1
