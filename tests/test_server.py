"""The HTTP API of ``distancing-bn serve`` through FastAPI's test client.

Every endpoint with good and bad input; bad input gives 4xx with the library's own message;
limits (body size, batch rows, rate); the page and its files; nothing a person answers reaches
the logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (FastAPI) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient

import distancing_bn as dbn
from distancing_bn import cli
from distancing_bn.server import Limits, create_app

STATIC = Path(dbn.__file__).parent / "static"
INTERVIEW = Path(__file__).parent / "data" / "interview.yaml"  # screens, checklists, a safety cause


@pytest.fixture(scope="module")
def model() -> dbn.Model:
    return dbn.load_model()


@pytest.fixture(scope="module")
def client(model: dbn.Model) -> Iterator[TestClient]:
    with TestClient(create_app(model, limits=Limits(rate_limit=0))) as c:
        yield c


@pytest.fixture(scope="module")
def interview() -> dbn.Model:
    return dbn.load_model(INTERVIEW)


@pytest.fixture(scope="module")
def iclient(interview: dbn.Model) -> Iterator[TestClient]:
    with TestClient(create_app(interview, limits=Limits(rate_limit=0))) as c:
        yield c


@dataclass(frozen=True)
class Picks:
    """Ids taken from the model, so that the tests follow the bundled model as it changes."""

    plain: tuple[str, ...]  # three questions outside checklists that raise no notice
    answers: dict[str, str]  # each of them with its last answer
    urgent: dict[str, Any]  # answers that raise an urgent notice (a question, or a checklist item)
    calm: dict[str, Any]  # the same question or checklist answered "no"
    help: dict[str, Any]  # answers that raise a professional-help notice

    def score_row(self, answers: dict[str, Any], model: dbn.Model) -> dict[str, str]:
        """The same answers as cells of a batch row (a checklist as its items)."""
        row = {}
        for q, a in answers.items():
            if q in model.groups:
                row |= {i: model.answers_of(i)[1 if i in a else 0] for i in model.groups[q].items}
            else:
                row[q] = a
        return row


def _trigger(model: dbn.Model, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Answers raising a notice of one of ``kinds``, and the same question answered 'no'."""
    kind = {n.id: n.kind for n in model.spec.notices}
    group_of = {i: g for g, grp in model.groups.items() for i in grp.items}
    found = [(q.id, triggers[-1]) for q in model.spec.questions for nid, triggers in q.notices if kind[nid] in kinds]
    for q, answer in found:
        if q in model.questions and q not in group_of:
            return {q: answer}, {q: model.answers_of(q)[0]}
    q, _ = found[0]
    return {group_of[q]: [q]}, {group_of[q]: "none"}


@pytest.fixture(scope="module")
def picks(model: dbn.Model) -> Picks:
    in_groups = {i for g in model.groups.values() for i in g.items}
    plain = tuple(
        q
        for q in model.questions
        if q not in in_groups and not model.spec.question(q).notices and q not in model.screens
    )[:3]
    urgent, calm = _trigger(model, ("safety", "crisis"))
    help_, _ = _trigger(model, ("professional_help",))
    return Picks(plain, {q: model.answers_of(q)[-1] for q in plain}, urgent, calm, help_)


def _takes_checklists(model: dbn.Model) -> bool:
    gid, group = next(iter(model.groups.items()))
    try:
        dbn.Session(model).answer(gid, [group.items[0]])
    except dbn.DistancingBNError:
        return False
    return True


def _error(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    return str(body["error"]["message"])


def _library_message(fn: Any) -> str:
    with pytest.raises(dbn.DistancingBNError) as info:
        fn()
    return str(info.value)


# ---------------------------------------------------------------------- GET /v1/model
def test_model_describes_causes_questions_and_answers_with_labels(client: TestClient, model: dbn.Model) -> None:
    r = client.get("/v1/model")
    assert r.status_code == 200
    info = r.json()
    assert info["api"] == "v1" and info["id"] == model.id
    assert info["model_sha256"] == model.spec.sha256 and len(info["model_sha256"]) == 64
    assert info["disclaimer"] == model.disclaimer
    assert [c["id"] for c in info["causes"]] == list(model.causes)
    assert all(c["label"] and c["kind"] in ("relationship", "safety") for c in info["causes"])
    assert [q["id"] for q in info["questions"]] == list(model.questions)
    for q in info["questions"]:
        assert q["label"] and q["text"] and q["theme"] in info["themes"]
        assert [a["id"] for a in q["answers"]] == list(model.answers_of(q["id"]))
        assert all(a["label"] for a in q["answers"])
    for q in info["questions"]:
        shown = model.spec.question(q["id"])
        assert [a["label"] for a in q["answers"]] == [shown.display(a) for a in model.answers_of(q["id"])]
        assert q["notices"] == {n: list(a) for n, a in shown.notices}
    assert [n["id"] for n in info["notices"]] == [n.id for n in model.spec.notices]
    assert all(n["urgent"] == (n["kind"] in ("safety", "crisis")) for n in info["notices"])
    assert any(n["urgent"] for n in info["notices"]) and not all(n["urgent"] for n in info["notices"])
    groups = getattr(model, "groups", {})
    assert [g["id"] for g in info["groups"]] == list(groups)
    for g in info["groups"]:
        assert [i["id"] for i in g["items"]] == list(groups[g["id"]].items) and g["none_label"]
    assert info["screens"] == list(getattr(model, "screens", ()))


def test_openapi_schema_lists_every_endpoint_and_no_page_loads_from_the_internet(client: TestClient) -> None:
    paths = client.get("/v1/openapi.json").json()["paths"]
    assert set(paths) == {f"/v1/{p}" for p in ("model", "posterior", "next", "explain", "guidance", "score")}
    assert "text/csv" in paths["/v1/score"]["post"]["requestBody"]["content"]
    replies = paths["/v1/next"]["post"]["responses"]
    assert replies["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/NextOut")
    assert replies["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    for swagger in ("/docs", "/redoc"):  # FastAPI's doc pages pull their scripts from a CDN
        assert client.get(swagger).status_code == 404


# ---------------------------------------------------------------------- POST /v1/posterior
def test_posterior_matches_the_library(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    answers = picks.answers
    r = client.post("/v1/posterior", json={"answers": answers})
    assert r.status_code == 200
    body = r.json()
    expected = model.posterior(answers).probabilities
    got = {c["id"]: c["probability"] for c in body["causes"]} | {f["id"]: f["probability"] for f in body["facets"]}
    assert got == pytest.approx(expected.to_dict(), abs=1e-12)
    probs = [c["probability"] for c in body["causes"]]
    assert probs == sorted(probs, reverse=True)
    assert body["answered"] == 3 and body["model_sha256"] == model.spec.sha256
    prior = client.post("/v1/posterior", json={}).json()
    assert {c["id"]: c["probability"] for c in prior["causes"]} == pytest.approx(
        {c: model.prior.probabilities[c] for c in model.causes}
    )


def test_posterior_soft_answer_and_unsure(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    q = picks.plain[0]
    soft = {q: {a: (i + 1) / 10 for i, a in enumerate(model.answers_of(q))}}
    r = client.post("/v1/posterior", json={"answers": soft, "unsure": [picks.plain[1]]})
    assert r.status_code == 200
    got = {c["id"]: c["probability"] for c in r.json()["causes"]}
    assert got == pytest.approx({c: model.posterior(soft).probabilities[c] for c in model.causes}, abs=1e-12)


@pytest.mark.parametrize(
    ("case", "kind"),
    [
        ("misspelt question", "UnknownQuestionError"),
        ("no such answer", "InvalidAnswerError"),
        ("a number", "InvalidAnswerError"),
        ("a negative likelihood", "InvalidAnswerError"),
    ],
)
def test_posterior_bad_answers_give_422_with_the_library_message(
    client: TestClient, model: dbn.Model, picks: Picks, case: str, kind: str
) -> None:
    q = picks.plain[0]
    answers = {
        "misspelt question": {q + "x": model.answers_of(q)[0]},
        "no such answer": {q: "heaps"},
        "a number": {q: 3},
        "a negative likelihood": {q: {a: -1.0 if i == 0 else 1.0 for i, a in enumerate(model.answers_of(q))}},
    }[case]
    message = _error(client.post("/v1/posterior", json={"answers": answers}), 422, kind)
    assert message == _library_message(lambda: model.posterior(answers))


@pytest.mark.parametrize(
    "body",
    [[1, 2], {"answers": "less_contact=a_lot"}, {"answers": {}, "surprise": 1}, {"unsure": "less_contact"}],
)
def test_malformed_bodies_give_422_naming_the_field(client: TestClient, body: Any) -> None:
    message = _error(client.post("/v1/posterior", json=body), 422, "RequestValidationError")
    assert re.search(r"body|answers|surprise|unsure", message)
    assert "less_contact=a_lot" not in message  # the rule, never the value sent


def test_not_json_gives_422(client: TestClient) -> None:
    r = client.post("/v1/next", content=b"{not json", headers={"content-type": "application/json"})
    _error(r, 422, "RequestValidationError")


def test_answers_for_another_model_version_are_refused(client: TestClient) -> None:
    r = client.post("/v1/posterior", json={"answers": {}, "model_sha256": "0" * 64})
    assert "another version of the model" in _error(r, 409, "ModelChanged")


# ---------------------------------------------------------------------- POST /v1/next
def _replay(model: dbn.Model, answers: dict[str, Any], unsure: list[str] = ()) -> dbn.Session:
    s = dbn.Session(model)
    for q, a in answers.items():
        s.answer(q, a)
    for q in unsure:
        s.answer(q, "unsure")
    return s


def test_next_is_the_sessions_next_question(client: TestClient, model: dbn.Model) -> None:
    answers: dict[str, Any] = {}
    for _ in range(3):
        body = client.post("/v1/next", json={"answers": answers}).json()
        expected = _replay(model, answers).next_question()
        assert body["done"] is False and body["stop_reason"] is None
        nxt = body["next"]
        assert nxt["id"] == expected
        assert nxt["kind"] in ("question", "group") and nxt["text"] and nxt["label"]
        if nxt["kind"] == "question":
            answers[nxt["id"]] = nxt["answers"][-1]["id"]
        else:
            answers[nxt["id"]] = [nxt["items"][0]["id"]]
        assert body["asked"] == len(answers) - 1


def test_next_does_not_ask_an_unsure_question_again(client: TestClient, model: dbn.Model) -> None:
    first = client.post("/v1/next", json={}).json()["next"]["id"]
    second = client.post("/v1/next", json={"unsure": [first]}).json()
    assert second["next"]["id"] != first
    assert second["next"]["id"] == _replay(model, {}, [first]).next_question()


def test_next_stops_on_the_question_budget(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    q, a = next(iter(picks.answers.items()))
    s = dbn.Session(model, stop=dbn.StopRule(max_questions=1))
    for screen in model.screens:  # screens are asked whatever the budget
        s.answer(screen, "unsure")
    s.answer(q, a)
    unsure = list(model.screens)
    body = client.post("/v1/next", json={"answers": {q: a}, "unsure": unsure, "stop": {"max_questions": 1}}).json()
    assert body["done"] is True and body["next"] is None
    assert body["stop_reason"] == s.decision().code == "budget" and body["stop_message"] == s.stop_reason
    assert body["stop_text"] and "bits" not in body["stop_text"]


def test_next_reports_the_urgent_notice(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    body = client.post("/v1/next", json={"answers": picks.urgent}).json()
    assert body["urgent"] is True and body["notices"][0]["urgent"] is True
    assert [n["id"] for n in body["notices"]] == [n.id for n in _replay(model, picks.urgent).guidance().notices]
    calm = client.post("/v1/next", json={"answers": picks.calm}).json()
    assert calm["urgent"] is False and not [n for n in calm["notices"] if n["urgent"]]


def test_next_bad_steps_give_422(client: TestClient, picks: Picks) -> None:
    q, a = next(iter(picks.answers.items()))
    _error(client.post("/v1/next", json={"answers": {q: a}, "unsure": [q]}), 422, "DistancingBNError")
    _error(client.post("/v1/next", json={"unsure": ["no_such_question"]}), 422, "UnknownQuestionError")


@pytest.mark.parametrize("stop", [{"max_questions": -1}, {"decided_low": 2}, {"min_gain_bits": "lots"}, {"x": 1}])
def test_next_bad_stop_rule_gives_422(client: TestClient, stop: dict[str, Any]) -> None:
    _error(client.post("/v1/next", json={"stop": stop}), 422, "RequestValidationError")


def test_next_stop_rule_out_of_order_gives_the_librarys_message(client: TestClient) -> None:
    message = _error(
        client.post("/v1/next", json={"stop": {"decided_low": 0.9, "decided_high": 0.2}}), 422, "DataError"
    )
    assert "decided_low <= decided_high" in message


def test_model_describes_checklists_screens_themes_and_observed(iclient: TestClient, interview: dbn.Model) -> None:
    info = iclient.get("/v1/model").json()
    assert info["screens"] == list(interview.screens) == ["afraid", "safety_check"]
    assert info["observed"] == {"distance_noticed": "yes"}
    assert "distance_noticed" not in {q["id"] for q in info["questions"]}
    groups = {g["id"]: g for g in info["groups"]}
    life = groups["life_events"]
    assert [i["id"] for i in life["items"]] == ["long_hours", "money", "bereaved"]
    assert [i["label"] for i in life["items"]] == ["Longer hours", "Money worries", "A recent loss"]
    assert life["theme"] == "Life changes" and life["cost"] == 1.5 and life["none_label"]
    assert groups["safety_check"]["screen"] == 2
    by_id = {q["id"]: q for q in info["questions"]}
    assert by_id["long_hours"]["group"] == "life_events" and by_id["afraid"]["group"] is None
    assert by_id["afraid"]["label"] == "Afraid of them" and by_id["afraid"]["screen"] == 1
    assert info["themes"][:2] == ["Life changes", "Safety"] and "Talking" in info["themes"]
    assert {c["id"]: c["kind"] for c in info["causes"]}["control"] == "safety"


def test_screens_come_first(iclient: TestClient, interview: dbn.Model) -> None:
    first = iclient.post("/v1/next", json={}).json()["next"]
    assert first["id"] == dbn.Session(interview).next_question()
    if first["id"] != "afraid":
        pytest.skip("the library's next_question does not ask screens first yet (contract: screens)")
    assert first["kind"] == "question"
    if not _takes_checklists(interview):
        pytest.skip("the library's Session does not take checklist answers yet (contract: Session group answers)")
    second = iclient.post("/v1/next", json={"answers": {"afraid": "no"}}).json()["next"]
    assert second["id"] == "safety_check" and second["kind"] == "group"
    assert [i["id"] for i in second["items"]] == ["checks_phone", "cuts_off"]


def test_checklists_take_picked_items_none_and_unsure(iclient: TestClient, interview: dbn.Model) -> None:
    if not _takes_checklists(interview):
        pytest.skip("the library's Session does not take checklist answers yet (contract: Session group answers)")
    gid = "life_events"
    for value in (["money"], ["long_hours", "bereaved"], "none", {"long_hours": "yes", "money": "no"}):
        body = iclient.post("/v1/next", json={"answers": {"afraid": "no", gid: value}})
        assert body.status_code == 200, body.text
        assert body.json()["next"] is None or body.json()["next"]["id"] != gid
        post = iclient.post("/v1/posterior", json={"answers": {gid: value}}).json()
        expected = _replay(interview, {gid: value}).posterior.probabilities
        assert {c["id"]: c["probability"] for c in post["causes"]} == pytest.approx(
            {c: expected[c] for c in interview.causes}, abs=1e-12
        )
    after = iclient.post("/v1/next", json={"answers": {"afraid": "no"}, "unsure": ["safety_check", gid]}).json()
    assert after["next"] is None or after["next"]["id"] not in ("safety_check", gid)
    r = iclient.post("/v1/next", json={"answers": {gid: ["not_an_item"]}})
    _error(r, 422, _kind_of(interview, gid))


def test_grids_are_described_and_answered_per_row(client: TestClient, model: dbn.Model) -> None:
    grids = {gid: g for gid, g in model.groups.items() if g.is_grid}
    assert grids  # the default model asks its three-level questions in rating grids
    info = {g["id"]: g for g in client.get("/v1/model").json()["groups"]}
    for gid, group in grids.items():
        g = info[gid]
        assert g["grid"] is True and len(g["scale"]) == len(model.answers_of(group.items[0]))
        if group.scale:
            assert g["scale"] == list(group.scale)
        for row in g["items"]:  # each row's own answers, in the order of the columns
            assert [a["id"] for a in row["answers"]] == list(model.answers_of(row["id"]))
    checklist = next(g for g in info.values() if not g["grid"])
    assert checklist["scale"] == []
    screens = {s: "none" for s in model.screens}
    nxt = client.post("/v1/next", json={"answers": screens}).json()
    gid = nxt["next"]["id"]  # after the screens, the first grid
    assert gid in grids and [i["id"] for i in nxt["next"]["items"]] == list(grids[gid].items)
    # a row answered alone is left out of the grid that /v1/next offers
    found = next(
        (g, q)
        for g, group in grids.items()
        for q in group.items
        if _replay(model, {**screens, q: model.answers_of(q)[0]}).next_question() == g
    )
    alone = {**screens, found[1]: model.answers_of(found[1])[0]}
    nxt = client.post("/v1/next", json={"answers": alone}).json()
    assert nxt["next"]["id"] == found[0]
    assert [i["id"] for i in nxt["next"]["items"]] == [q for q in grids[found[0]].items if q != found[1]]
    items = list(grids[gid].items)
    # per-row answers with unsure, rows left out unsure, 'none' and 'unsure' for all: as the library
    value = {items[0]: model.answers_of(items[0])[-1], items[1]: "unsure", items[2]: model.answers_of(items[2])[1]}
    for answer in (value, "none", {items[1]: model.answers_of(items[1])[0]}):
        body = {"answers": {**screens, gid: answer}}
        post = client.post("/v1/posterior", json=body).json()
        expected = _replay(model, body["answers"]).posterior.probabilities
        assert {c["id"]: c["probability"] for c in post["causes"]} == pytest.approx(
            {c: expected[c] for c in model.causes}, abs=1e-12
        )
        nxt = client.post("/v1/next", json=body).json()
        assert nxt["asked"] == len(screens) + 1 and (nxt["next"] is None or nxt["next"]["id"] != gid)
    after = client.post("/v1/next", json={"answers": screens, "unsure": [gid]}).json()
    assert after["next"] is None or after["next"]["id"] != gid
    bad = client.post("/v1/next", json={"answers": {gid: {items[0]: "lots"}}})
    assert "lots" in _error(bad, 422, "InvalidAnswerError")
    wrong = client.post("/v1/next", json={"answers": {gid: [items[0]]}})
    assert "mapping of its rows" in _error(wrong, 422, "InvalidAnswerError")


def test_a_likely_safety_cause_raises_the_urgent_notice_first(iclient: TestClient) -> None:
    answers = {"afraid": "yes", "sad": "yes"}
    body = iclient.post("/v1/guidance", json={"answers": answers}).json()
    assert body["urgent"] is True and body["notices"][0]["kind"] == "safety"
    assert body["tips_withheld"] is True and body["causes"] == []
    post = iclient.post("/v1/posterior", json={"answers": answers}).json()
    assert {c["id"]: c["kind"] for c in post["causes"]}["control"] == "safety"


def _kind_of(model: dbn.Model, gid: str) -> str:
    try:
        _replay(model, {gid: ["not_an_item"]})
    except dbn.DistancingBNError as exc:
        return type(exc).__name__
    raise AssertionError("the library accepted an unknown checklist item")


# ---------------------------------------------------------------------- POST /v1/explain
def test_explain_the_top_cause_by_default(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    answers = picks.answers
    body = client.post("/v1/explain", json={"answers": answers}).json()
    post = model.posterior(answers)
    relationship = [c for c in post.top_causes(len(model.causes)).index if model.cause_kind(c) == "relationship"]
    assert body["cause"] == relationship[0]
    assert body["label"] == model.label(body["cause"])
    assert body["probability"] == pytest.approx(post.probabilities[body["cause"]])
    assert {r["question"] for r in body["contributions"]} == set(answers)
    moved = [r for r in body["contributions"] if r["strength"] not in ("none", "very slight")]
    assert body["supports"] == [r for r in moved if r["effect"] in ("raised", "made certain")]
    assert body["against"] == [r for r in moved if r["effect"] in ("lowered", "ruled out")]
    assert any(r["effect"] != "unchanged" for r in body["contributions"])
    for r in body["contributions"]:
        assert r["label"] and r["answer"] == answers[r["question"]]
        assert r["answer_label"] == model.spec.question(r["question"]).display(r["answer"])
        assert r["strength"] in ("decisive", "strong", "moderate", "slight", "very slight", "none")


def test_explain_a_named_cause_and_an_unknown_one(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    answers = picks.answers
    cause = model.causes[-1]
    body = client.post("/v1/explain", json={"answers": answers, "cause": cause}).json()
    assert body["cause"] == cause and body["probability"] == pytest.approx(
        model.posterior(answers).probabilities[cause]
    )
    message = _error(
        client.post("/v1/explain", json={"answers": answers, "cause": "boredom"}), 422, "UnknownQuestionError"
    )
    assert message == _library_message(lambda: model.explain(answers, "boredom"))


# ---------------------------------------------------------------------- POST /v1/guidance
def test_guidance_puts_the_urgent_notice_first_and_withholds_tips(client: TestClient, picks: Picks) -> None:
    answers = dict(picks.help)
    for q, a in picks.urgent.items():  # both may be items of one checklist
        answers[q] = [*answers[q], *a] if isinstance(answers.get(q), list) else a
    body = client.post("/v1/guidance", json={"answers": answers}).json()
    assert body["urgent"] is True and body["tips_withheld"] is True
    kinds = [n["kind"] for n in body["notices"]]
    assert kinds[0] in ("safety", "crisis") and "professional_help" in kinds
    assert kinds.index("professional_help") > max(i for i, k in enumerate(kinds) if k in ("safety", "crisis"))
    assert body["causes"] == [] and body["disclaimer"]


def test_guidance_is_the_librarys(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    for answers in (picks.answers, picks.help, {}):
        body = client.post("/v1/guidance", json={"answers": answers}).json()
        guide = _replay(model, answers).guidance()
        assert body["urgent"] is guide.urgent and body["tips_withheld"] is guide.tips_withheld
        assert [n["id"] for n in body["notices"]] == [n.id for n in guide.notices]
        assert [(c["cause"], c["label"], c["tips"]) for c in body["causes"]] == [
            (c.cause, c.label, list(c.tips)) for c in guide.causes
        ]
        assert body["general"] == list(guide.general) and body["disclaimer"] == model.disclaimer
        assert all(c["tips"] and c["label"] for c in body["causes"])


def test_guidance_bad_answer(client: TestClient, picks: Picks) -> None:
    r = client.post("/v1/guidance", json={"answers": {picks.plain[0]: "always"}})
    _error(r, 422, "InvalidAnswerError")


# ---------------------------------------------------------------------- POST /v1/score
def test_score_json_rows_match_the_library(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    import pandas as pd

    rows = [
        {"id": "a", **picks.answers},
        {"id": "b", picks.plain[0]: "heaps"},
        {"id": "c", **picks.score_row(picks.urgent, model)},
    ]
    r = client.post("/v1/score", json={"rows": rows})
    assert r.status_code == 200
    body = r.json()
    expected = model.score(pd.DataFrame(rows).fillna(""))
    assert body["columns"] == list(expected.columns)
    assert body["summary"] == {"rows": 3, "ok": 2, "marked": 1}
    assert body["warnings"] == []
    got = body["rows"]
    assert [g["id"] for g in got] == ["a", "b", "c"]
    for c in model.causes:
        assert got[0][f"p_{c}"] == pytest.approx(expected[f"p_{c}"].iloc[0], abs=1e-12)
    assert got[1]["status"].startswith("invalid") and got[1]["top_cause"] is None
    urgent = [n.id for n in model.spec.notices if n.kind in ("safety", "crisis")]
    assert got[2]["notices"] == expected["notices"].iloc[2] and any(n in got[2]["notices"] for n in urgent)


def test_score_csv_in_and_out(client: TestClient, model: dbn.Model, picks: Picks) -> None:
    q1, q2 = picks.plain[:2]
    csv = f"id;{q1};{q2}\n1;{picks.answers[q1]};{picks.answers[q2]}\n2;{model.answers_of(q1)[0]};\n"
    r = client.post("/v1/score", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200 and [row["id"] for row in r.json()["rows"]] == ["1", "2"]
    assert r.json()["warnings"] == []
    no = model.answers_of(q1)[0]
    odd = client.post("/v1/score", content=f"note,{q1}\nx,{no}\n", headers={"content-type": "text/csv"})
    assert "'note'" in odd.json()["warnings"][0]  # told to the client, not to the log
    wide = client.post("/v1/score", content=f"{q1},x\n{no},1,2\n", headers={"content-type": "text/csv"})
    assert wide.status_code == 200 and "more fields than the header" in " ".join(wide.json()["warnings"])
    r = client.post("/v1/score?facets=true", content=csv, headers={"content-type": "text/csv", "accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0].startswith("id,p_") and "status" in lines[0] and f"p_{model.facets[0]}" in lines[0]
    assert len(lines) == 3 and lines[1].startswith("1,") and lines[1].endswith(",ok")


def test_score_defuses_formula_cells_in_csv_output(client: TestClient, picks: Picks) -> None:
    row = {"id": "=1+1", **picks.answers}
    r = client.post("/v1/score", json={"rows": [row]}, headers={"accept": "text/csv"})
    assert r.text.splitlines()[1].startswith("'=1+1,")


@pytest.mark.parametrize(
    ("content", "ctype", "status", "kind"),
    [
        (b"", "text/csv", 422, "DataError"),
        (b"\xff\xfeq\n", "text/csv", 422, "DataError"),
        (b'{"rows": [1]}', "application/json", 422, "RequestValidationError"),
        (b'{"rows": [{"q": "no"}], "extra": 1}', "application/json", 422, "RequestValidationError"),
        (b"<rows/>", "application/xml", 415, "UnsupportedMediaType"),
        (b"name,age\nx,3\n", "text/csv", 422, "DataError"),
    ],
)
def test_score_bad_input(client: TestClient, content: bytes, ctype: str, status: int, kind: str) -> None:
    _error(client.post("/v1/score", content=content, headers={"content-type": ctype}), status, kind)


def test_score_row_and_size_limits(model: dbn.Model, picks: Picks) -> None:
    limits = Limits(max_score_rows=5, max_score_bytes=2000, rate_limit=0)
    q = picks.plain[0]
    no = model.answers_of(q)[0]
    with TestClient(create_app(model, limits=limits)) as c:
        many = f"{q}\n" + f"{no}\n" * 6
        assert "at most 5 per request" in _error(
            c.post("/v1/score", content=many, headers={"content-type": "text/csv"}), 413, "PayloadTooLarge"
        )
        big = f"{q}\n" + f"{no}\n" * 1000
        assert "2,000 bytes" in _error(
            c.post("/v1/score", content=big, headers={"content-type": "text/csv"}), 413, "PayloadTooLarge"
        )
        ok = c.post("/v1/score", content=f"{q}\n{no}\n", headers={"content-type": "text/csv"})
        assert ok.status_code == 200


# ---------------------------------------------------------------------- limits
def test_body_limit_with_and_without_content_length(model: dbn.Model, picks: Picks) -> None:
    q, a = next(iter(picks.answers.items()))
    with TestClient(create_app(model, limits=Limits(max_body_bytes=200, rate_limit=0))) as c:
        big = {"answers": {q: a}, "unsure": ["some_question"] * 40}
        _error(c.post("/v1/next", json=big), 413, "PayloadTooLarge")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"answers": {}, "unsure": ['
            for _ in range(40):
                yield b'"some_question",'
            yield b'"x"]}'

        _error(
            c.post("/v1/next", content=chunks(), headers={"content-type": "application/json"}), 413, "PayloadTooLarge"
        )
        assert c.post("/v1/next", json={"answers": {q: a}}).status_code == 200


def test_rate_limit_per_client(model: dbn.Model) -> None:
    with TestClient(create_app(model, limits=Limits(rate_limit=3, rate_window_s=60))) as c:
        assert [c.get("/v1/model").status_code for _ in range(3)] == [200, 200, 200]
        r = c.get("/v1/model")
        assert "at most 3 per 60 s" in _error(r, 429, "RateLimited")
        assert 0 < int(r.headers["retry-after"]) <= 60
    with TestClient(create_app(model, limits=Limits(rate_limit=3, rate_window_s=0.05))) as c:
        import time

        for _ in range(3):
            c.get("/v1/model")
        time.sleep(0.06)
        assert c.get("/v1/model").status_code == 200  # a new window


def test_unknown_route_and_method(client: TestClient) -> None:
    _error(client.get("/v1/nothing"), 404, "NotFound")
    _error(client.get("/v1/posterior"), 405, "MethodNotAllowed")


def test_api_responses_are_not_cached(client: TestClient) -> None:
    r = client.post("/v1/posterior", json={})
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------- the page
def test_page_and_its_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    for src in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        assert src.startswith("/static/"), src
        assert client.get(src).status_code == 200
    _error(client.get("/static/nothing.js"), 404, "NotFound")


def test_page_files_fetch_nothing_from_the_internet() -> None:
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import", text, re.IGNORECASE), name
    js = (STATIC / "app.js").read_text()
    assert "innerHTML" not in js and "eval(" not in js  # text goes in as text


def test_page_controls_are_labelled() -> None:
    html = (STATIC / "index.html").read_text()
    assert '<html lang="en">' in html and 'name="viewport"' in html
    for button in re.findall(r"<button[^>]*>(.*?)</button>", html, re.DOTALL):
        assert button.strip(), "a button without a visible name"
    js = (STATIC / "app.js").read_text()
    assert js.count('el("label", { for: ') >= 3  # every radio and checkbox has its label


# ---------------------------------------------------------------------- privacy
SECRET_ID = "zzsecretid"


def test_nothing_answered_reaches_the_logs(
    model: dbn.Model, picks: Picks, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = {**picks.answers, **picks.urgent, **picks.help}
    q = picks.plain[0]
    secrets = {"heaps", "zzsecret", SECRET_ID, *answers}
    secrets |= {str(v) for a in answers.values() for v in (a if isinstance(a, list) else [a])}
    secrets = {x for x in secrets if len(x) >= 4}  # 'no' and 'yes' are parts of ordinary words
    with TestClient(create_app(model, limits=Limits(rate_limit=0)), raise_server_exceptions=False) as c:
        c.post("/v1/posterior", json={"answers": answers})
        c.post(f"/v1/next?{q}={picks.answers[q]}", json={"answers": answers})
        c.post("/v1/explain", json={"answers": answers})
        c.post("/v1/guidance", json={"answers": answers})
        c.post("/v1/posterior", json={"answers": {q: "heaps"}})  # a library error
        c.post("/v1/posterior", json={"answers": {q: ["zzsecret"]}, "zzsecret": 1})
        csv = f"{SECRET_ID},{q}\nzzsecret,{picks.answers[q]}\n"
        c.post("/v1/score", content=csv, headers={"content-type": "text/csv"})
        c.get(f"/v1/{SECRET_ID}?{q}={picks.answers[q]}")
        c.get(f"/static/{SECRET_ID}.js")

        def broken(*_: Any, **__: Any) -> Any:
            raise RuntimeError(f"zzsecret: {q}={picks.answers[q]}")

        monkeypatch.setattr("distancing_bn.server._guidance", broken)
        r = c.post("/v1/guidance", json={"answers": answers})
        assert r.status_code == 500 and r.json()["error"]["type"] == "InternalError"
        assert "zzsecret" not in r.text
    server = [rec for rec in caplog.records if not rec.name.startswith("httpx")]  # httpx: the test's client
    lines = [rec.getMessage() for rec in server]
    access = [m for m in lines if re.match(r"^(GET|POST) \S+ \d{3} [\d.]+ms$", m)]
    assert len(access) == 10, lines
    assert "POST /v1/next 200" in "\n".join(access) and "GET - 404" in "\n".join(access)
    assert any("internal error (RuntimeError)" in m for m in lines)
    for text in lines:
        for secret in secrets:
            assert secret not in text, (secret, text)
    # tracebacks (exc_info) would carry the message: none may be attached
    assert not [rec for rec in server if rec.exc_info or rec.exc_text]


# ---------------------------------------------------------------------- the command
def test_serve_command_binds_loopback_and_warns_for_other_hosts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    assert cli.main(["serve", "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8123
    assert calls[-1]["access_log"] is False and "warning" not in err and "http://127.0.0.1:8123/" in err
    assert cli.main(["serve", "--host", "0.0.0.0", "--rate-limit", "0"]) == 0
    err = capsys.readouterr().err
    assert calls[-1]["host"] == "0.0.0.0" and "warning: listening on 0.0.0.0" in err
    assert calls[-1]["app"].guard_limits.rate_limit == 0


def test_serve_command_port_in_use_or_unknown_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    uvicorn = pytest.importorskip("uvicorn")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("must not start"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1 port {port}: ") and "another --port" in err
    assert cli.main(["serve", "--host", "no-such-host.invalid"]) == 2
    assert "error: cannot listen on no-such-host.invalid" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["serve", "--port", "0"], ["serve", "--port", "70000"], ["serve", "--rate-limit", "-1"]]
)
def test_serve_command_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2 and "error:" in capsys.readouterr().err


def test_serve_command_bad_model_is_a_library_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: distancing-bn/1\nid: [\n")
    assert cli.main(["serve", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error: ModelSyntaxError")


def test_concurrent_requests_give_the_same_answers_as_one_at_a_time(client: TestClient, model: dbn.Model) -> None:
    import random
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(7)
    bodies = []
    for _ in range(16):
        picked = rng.sample(list(model.questions), 4)
        bodies.append({"answers": {q: rng.choice(model.answers_of(q)) for q in picked}})

    def both(body: dict[str, Any]) -> tuple[Any, Any]:
        return client.post("/v1/next", json=body).json(), client.post("/v1/explain", json=body).json()

    one_by_one = [both(b) for b in bodies]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(both, bodies)) == one_by_one
