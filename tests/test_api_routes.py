"""The /v1 routes over the real engine on a small real index, through the ASGI app.

The engine is the session's ``answer_engine`` (13 real records of tests/data/answer_corpus.jsonl,
indexed; tests/fixtures_answer.py). What is tested here is the HTTP layer: request to
Conversation, answers, the event stream, stored conversations, search filters, passages, health
and the OpenAPI document; a FaultyEngine (tests/fixtures_api.py) supplies the faults no request
can cause. tests/test_api_integration.py runs the engine loaded in the app's lifespan behind a
real uvicorn server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from answer.engine import IndexEngine
from answer.render import to_markdown
from answer.schema import Answer
from api.deps import get_engine
from index.load import PassageIndex
from tests.fixtures_api import Fault, FaultyEngine, engine_app, parse_sse

Q1 = "What causes pernicious anemia?"
FOLLOWUP = "How is it treated?"
EVENT_ORDER = ("retrieval", "section", "sentence", "references", "done")


@pytest.fixture
def app(answer_engine: IndexEngine, tmp_path: Path):
    return engine_app(answer_engine, tmp_path)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def check_event_order(names: list[str]) -> None:
    """retrieval, then (section, sentence+)+, then references, then done: docs/api.md."""
    assert names[0] == "retrieval"
    assert names[-2:] == ["references", "done"]
    body = names[1:-2]
    assert body and body[0] == "section"
    assert set(body) <= {"section", "sentence"}
    for i, name in enumerate(body):
        if name == "section":  # every section has at least one sentence
            assert i + 1 < len(body) and body[i + 1] == "sentence"


# ------------------------------------------------------------------------------- health


def test_healthz_and_readyz_with_the_manifest(client: TestClient, answer_index: Path) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    manifest = ready.json()["manifest"]
    assert manifest == PassageIndex.load(answer_index).manifest.to_dict()
    assert manifest["corpus"]["documents"] == 13  # the records of answer_corpus.jsonl


def test_readyz_is_503_while_the_index_is_missing(tmp_path: Path) -> None:
    """No engine given and no index on disk: loading fails fast and readiness says why."""
    from answer.settings import Settings
    from api.app import create_app

    app = create_app(Settings(index={"path": tmp_path / "none"}, api={"data_dir": tmp_path}))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # alive all the same
        for _ in range(100):
            ready = client.get("/readyz")
            if ready.json()["status"] != "loading":
                break
        assert ready.status_code == 503
        assert ready.json()["status"] == "failed"
        assert "no index at" in ready.json()["detail"]
        # And the API says 503 with a reason instead of failing obscurely.
        answer = client.post("/v1/answers", json={"question": Q1})
        assert answer.status_code == 503
        assert answer.json() == {"detail": "the answer engine failed to load; see /readyz"}
        assert answer.headers["retry-after"] == "5"


# ------------------------------------------------------------------------------- answers


def test_answer_is_the_answer_schema(client: TestClient) -> None:
    response = client.post("/v1/answers", json={"question": Q1})
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert answer.question == Q1
    assert answer.references and answer.references[0].n == 1
    # Every citation points at a reference.
    numbers = {r.n for r in answer.references}
    assert all(c in numbers for s in answer.sections for x in s.sentences for c in x.citations)


def test_history_and_cited_ids_are_the_conversation_a_stored_one_gives(client) -> None:
    """Stateless follow-up (history, Markdown answer, cited ids) and stateful one (the stored
    turn) give the engine the same conversation, so the same answer."""
    first = client.post("/v1/answers", json={"question": Q1}).json()
    cited = [r["passage_id"] for r in first["references"]]
    response = client.post(
        "/v1/answers",
        json={
            "question": FOLLOWUP,
            "history": [
                {"role": "user", "content": Q1},
                {"role": "assistant", "content": to_markdown(Answer.model_validate(first))},
            ],
            "cited_passage_ids": cited,
        },
    )
    assert response.status_code == 200
    stateless = response.json()
    assert stateless["standalone_query"] == "How is pernicious anemia treated?"  # resolved
    cid = client.post("/v1/conversations", json={"question": Q1}).json()["id"]
    stored = client.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
    assert _without_timings(stored.json()["answer"]) == _without_timings(stateless)
    alone = client.post("/v1/answers", json={"question": FOLLOWUP}).json()
    assert alone["standalone_query"] == FOLLOWUP  # without the history, nothing to resolve


def _without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def test_audience_and_filters_are_passed_on(client: TestClient) -> None:
    response = client.post(
        "/v1/answers",
        json={
            "question": "Does folic acid lower homocysteine?",
            "audience": "patient",
            "filters": {"tiers": ["research"]},
        },
    )
    answer = response.json()
    assert answer["audience"] == "patient"
    assert answer["references"] and {r["tier"] for r in answer["references"]} == {"research"}


# ---------------------------------------------------------------------------- streaming


def test_streamed_answer_has_the_documented_events_in_order(client: TestClient) -> None:
    with client.stream("POST", "/v1/answers", json={"question": Q1, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        body = response.read().decode()
    events = parse_sse(body)
    check_event_order([name for name, _ in events])
    retrieval = events[0][1]
    assert set(retrieval) == {"standalone_query", "topic_shift", "passages"}
    assert set(events[1][1]) == {"kind", "title"}
    sentence = ("section", "text", "kind", "label", "citations", "design", "year", "sample_size")
    assert set(events[2][1]) == set(sentence)  # as docs/api.md lists them
    references = events[-2][1]
    assert set(references) == {"references", "suggested_followups", "disclaimer"}
    done = events[-1][1]
    plain = client.post("/v1/answers", json={"question": Q1}).json()
    assert done["answer"]["sections"] == plain["sections"]  # the same answer, streamed
    assert "conversation_id" not in done  # stateless


def test_a_failure_mid_stream_ends_with_an_error_event(
    app, client: TestClient, answer_engine: IndexEngine, caplog
) -> None:
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(
        answer_engine, Fault.RAISE_MIDSTREAM
    )
    question = "What causes my private pernicious anemia?"
    response = client.post("/v1/answers", json={"question": question, "stream": True})
    assert response.status_code == 200  # the stream had started
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["retrieval", "error"]
    assert events[-1][1] == {"status": 500, "detail": "internal server error"}
    assert "private" not in caplog.text  # the message quoted the question: withheld


def test_a_failure_before_the_first_event_is_a_plain_http_error(
    app, client: TestClient, answer_engine: IndexEngine
) -> None:
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(answer_engine, Fault.RAISE)
    response = client.post("/v1/answers", json={"question": Q1, "stream": True})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


# ------------------------------------------------------------------------ conversations


def test_conversation_lifecycle(client: TestClient) -> None:
    created = client.post("/v1/conversations", json={"question": Q1, "audience": "patient"})
    assert created.status_code == 201
    body = created.json()
    cid = body["id"]
    assert body["turn"] == 0 and body["answer"]["question"] == Q1
    assert body["audience"] == "patient"

    followup = client.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
    assert followup.status_code == 200
    assert followup.json()["turn"] == 1
    assert followup.json()["conversation_id"] == cid
    # The stored first turn was used: the follow-up was resolved against it.
    assert followup.json()["answer"]["standalone_query"] == "How is pernicious anemia treated?"
    assert followup.json()["answer"]["audience"] == "patient"  # the conversation's default

    got = client.get(f"/v1/conversations/{cid}").json()
    assert [t["question"] for t in got["turns"]] == [Q1, FOLLOWUP]
    assert got["turns"][1]["answer"] == followup.json()["answer"]

    assert client.delete(f"/v1/conversations/{cid}").status_code == 204
    assert client.get(f"/v1/conversations/{cid}").status_code == 404
    assert client.delete(f"/v1/conversations/{cid}").status_code == 404


def test_a_conversation_can_start_empty(client: TestClient) -> None:
    created = client.post("/v1/conversations", json={}).json()
    assert created["answer"] is None and created["turn"] is None
    assert created["audience"] == "clinician"  # settings.answer.audience
    followup = client.post(f"/v1/conversations/{created['id']}/followups", json={"question": Q1})
    assert followup.json()["turn"] == 0
    assert followup.json()["answer"]["standalone_query"] == Q1  # nothing earlier to use


def test_streamed_conversation_is_stored_when_done(client: TestClient) -> None:
    first = parse_sse(client.post("/v1/conversations", json={"question": Q1, "stream": True}).text)
    check_event_order([name for name, _ in first])
    cid = first[-1][1]["conversation_id"]
    second = parse_sse(
        client.post(
            f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP, "stream": True}
        ).text
    )
    assert second[0][1]["standalone_query"] == "How is pernicious anemia treated?"
    assert second[-1][1]["conversation_id"] == cid
    assert second[-1][1]["turn"] == 1
    turns = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert [t["answer"] for t in turns] == [first[-1][1]["answer"], second[-1][1]["answer"]]


def test_a_failed_stream_stores_nothing(
    app, client: TestClient, answer_engine: IndexEngine
) -> None:
    cid = client.post("/v1/conversations", json={"question": Q1}).json()["id"]
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(
        answer_engine, Fault.RAISE_MIDSTREAM
    )
    events = parse_sse(
        client.post(
            f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP, "stream": True}
        ).text
    )
    assert events[-1][0] == "error"
    assert len(client.get(f"/v1/conversations/{cid}").json()["turns"]) == 1


def test_regenerate_answers_the_last_question_again_in_its_place(client: TestClient) -> None:
    cid = client.post("/v1/conversations", json={"question": Q1}).json()["id"]
    client.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
    before = client.get(f"/v1/conversations/{cid}").json()["turns"]

    again = client.post(f"/v1/conversations/{cid}/regenerate", json={"audience": "patient"})
    assert again.status_code == 200
    body = again.json()
    assert body["conversation_id"] == cid and body["turn"] == 1
    assert body["answer"]["audience"] == "patient"
    # Answered with the turn before it as context, as the follow-up was.
    assert body["answer"]["standalone_query"] == before[1]["answer"]["standalone_query"]
    after = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert after[0] == before[0]  # earlier turns are untouched
    assert after[1]["answer"] == body["answer"] and after[1]["audience"] == "patient"
    assert after[1]["question"] == before[1]["question"]
    assert after[1]["asked_at"] == before[1]["asked_at"]


def test_regenerate_streamed_is_stored_when_done(client: TestClient) -> None:
    cid = client.post("/v1/conversations", json={"question": Q1}).json()["id"]
    events = parse_sse(
        client.post(
            f"/v1/conversations/{cid}/regenerate", json={"audience": "patient", "stream": True}
        ).text
    )
    check_event_order([name for name, _ in events])
    done = events[-1][1]
    assert done["conversation_id"] == cid and done["turn"] == 0
    stored = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert len(stored) == 1
    assert stored[0]["answer"] == done["answer"]
    assert stored[0]["audience"] == "patient"


def test_regenerate_needs_a_question(client: TestClient) -> None:
    empty = client.post("/v1/conversations", json={}).json()["id"]
    response = client.post(f"/v1/conversations/{empty}/regenerate", json={})
    assert response.status_code == 404
    assert "no question yet" in response.json()["detail"]
    assert client.post("/v1/conversations/c-unknown/regenerate", json={}).status_code == 404
    # Unknown fields are refused, like every request model here.
    assert client.post(f"/v1/conversations/{empty}/regenerate", json={"q": 1}).status_code == 422


# ------------------------------------------------------------------ search and passages


def _search(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/search", json={"query": "anemia iron homocysteine", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_search_groups_and_scores(client: TestClient) -> None:
    result = _search(client, top_k=6)
    assert result["standalone_query"] == "anemia iron homocysteine"
    assert len(result["fused"]) == 6
    # One passage per document (the engine fuses by document), best first.
    assert len({p["document_id"] for p in result["fused"]}) == 6
    scores = [p["score"] for p in result["fused"]]
    assert scores == sorted(scores, reverse=True)
    assert {p["tier"] for p in result["guideline"]} == {"guideline"}
    assert {p["tier"] for p in result["research"]} == {"research"}
    assert len(result["guideline"]) <= 6 and len(result["research"]) <= 6
    assert {p["id"] for p in result["fused"]} <= {
        p["id"] for p in result["guideline"] + result["research"]
    }


def test_search_sees_the_passages_an_answer_cites(client: TestClient) -> None:
    """One retrieval path: with the same filters, every document an answer cites is among the
    documents a search of the answer's size returns (an answer may quote another chunk of a
    retrieved abstract, where its findings are)."""
    for filters in ({}, {"tiers": ["research"]}, {"designs": ["rct"]}):
        body = {"question": "Does folic acid lower homocysteine?", "filters": filters}
        answer = client.post("/v1/answers", json=body).json()
        assert answer["references"], filters
        found = _search(client, query=body["question"], top_k=8, filters=filters)
        documents = {p["document_id"] for p in found["guideline"] + found["research"]}
        assert {r["document_id"] for r in answer["references"]} <= documents, filters


def test_search_filters_tier_design_publisher_and_year(client: TestClient) -> None:
    guideline = _search(client, filters={"tiers": ["guideline"]})
    assert guideline["fused"] and not guideline["research"]
    rct = _search(client, filters={"designs": ["rct"]})
    # The fixture has two RCT records (the folic acid trial and the soy trial).
    assert {p["design"] for p in rct["fused"]} == {"rct"}
    assert {p["document_id"] for p in rct["fused"]} == {"scifact:11705328", "scifact:4442799"}
    nhlbi = _search(client, filters={"publishers": ["nhlbi"]})  # case-insensitive
    assert nhlbi["fused"] and {p["source"] for p in nhlbi["fused"]} == {"NHLBI"}
    # Only the PubMedQA record has a year (2015).
    year = client.post(
        "/v1/search",
        json={"query": "gluten diet iron", "filters": {"year_from": 2010, "year_to": 2020}},
    ).json()
    assert [p["year"] for p in year["fused"]] == [2015]


def test_passage_has_everything_a_citation_needs(client: TestClient, answer_index: Path) -> None:
    passage = PassageIndex.load(answer_index).passages[0]  # the first chunk of the first record
    got = client.get(f"/v1/passages/{passage.id}").json()
    assert got == {
        "id": passage.id,
        "document_id": "medquad:8_NHLBI_QA_XML/0000102#1",
        "text": passage.text,
        "title": "Pernicious Anemia",
        "section": "What is (are) Pernicious Anemia ?",
        "source": "NHLBI",
        "year": None,
        "url": "http://www.nhlbi.nih.gov/health/health-topics/topics/prnanmia",
        "tier": "guideline",
        "design": "guideline",
        "licence": "CC BY 4.0 (MedQuAD); underlying NIH text US-government",
        "dataset": "MedQuAD",
        "start": 0,
        "end": len(passage.text),
    }


# ------------------------------------------------------------------- the UI and OpenAPI


def test_chat_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<followup-chat" in page.text
    assert client.get("/static/followup-widget.js").status_code == 200


def test_openapi_documents_every_route_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/answers", "post"),
        ("/v1/conversations", "post"),
        ("/v1/conversations/{conversation_id}/followups", "post"),
        ("/v1/conversations/{conversation_id}/regenerate", "post"),
        ("/v1/conversations/{conversation_id}", "get"),
        ("/v1/search", "post"),
        ("/v1/passages/{passage_id}", "get"),
        ("/v1/chat/completions", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ]:
        ok = paths[path][method]["responses"]["200" if path != "/v1/conversations" else "201"]
        assert "$ref" in str(ok["content"]["application/json"]["schema"]), path  # a model
    schemas = spec["components"]["schemas"]
    for name in (
        "AnswerRequest",
        "ConversationCreate",
        "FollowupCreate",
        "RegenerateCreate",
        "SearchRequest",
        "ChatCompletionRequest",
    ):
        assert schemas[name]["examples"], name
    assert "text/event-stream" in paths["/v1/answers"]["post"]["responses"]["200"]["content"]
    assert paths["/v1/conversations/{conversation_id}"]["delete"]["responses"]["204"]


# ------------------------------------------------------- engines that report errors as events


def test_an_error_event_before_anything_is_an_http_error(
    app, client: TestClient, answer_engine: IndexEngine
) -> None:
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(answer_engine, Fault.ERROR_EVENT)
    response = client.post("/v1/answers", json={"question": Q1, "stream": True})
    assert response.status_code == 422
    assert response.json() == {"detail": "query must not be empty"}
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "followup", "stream": True, "messages": [{"role": "user", "content": Q1}]},
    )
    assert chat.status_code == 422


def test_a_late_error_event_ends_both_kinds_of_stream(
    app, client: TestClient, answer_engine: IndexEngine
) -> None:
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(
        answer_engine, Fault.LATE_ERROR_EVENT
    )
    native = parse_sse(client.post("/v1/answers", json={"question": Q1, "stream": True}).text)
    assert native[-1] == ("error", {"status": 500, "detail": "answer composition failed"})
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "followup", "stream": True, "messages": [{"role": "user", "content": Q1}]},
    )
    events = parse_sse(chat.text)
    # OpenAI's way: a data line with an "error" object, and no [DONE].
    assert events[-1][1] == {
        "error": {"message": "answer composition failed", "code": 500, "type": "server_error"}
    }
    assert all(data != "[DONE]" for _, data in events)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/answers", {"question": "iron \ud800"}),
        (
            "post",
            "/v1/answers",
            {"question": "iron", "history": [{"role": "user", "content": "a\udfff"}]},
        ),
        ("post", "/v1/search", {"query": "iron \ud800"}),
        ("post", "/v1/conversations", {"question": "iron \ud800"}),
        (
            "post",
            "/v1/chat/completions",
            {"model": "followup", "messages": [{"role": "user", "content": "iron \ud800"}]},
        ),
        (
            "post",
            "/v1/chat/completions",
            {
                "model": "followup",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}],
            },
        ),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(
    client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    # JSON can spell a lone surrogate ("\ud800"); json.dumps keeps it escaped on the wire.
    response = client.request(
        method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "unpaired surrogate" in response.text


def test_a_lone_surrogate_in_a_follow_up_is_a_422(client: TestClient) -> None:
    created = client.post("/v1/conversations", json={"question": "What is ferritin?"}).json()
    response = client.post(
        f"/v1/conversations/{created['id']}/followups",
        content=json.dumps({"question": "and \ud800"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "unpaired surrogate" in response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/answers", {"question": "\u200b\u200d \ufeff"}, "question must not be empty"),
        ("/v1/search", {"query": "\u2060\u00ad"}, "query must not be empty"),
        ("/v1/answers", {"question": "What is ferritin?", "stream": 0}, "stream"),
        ("/v1/search", {"query": "ferritin", "top_k": True}, "top_k"),
    ],
)
def test_invisible_text_and_coerced_types_are_422(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422 and field in response.text


def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/v1/conversations/c_unknown")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert client.get("/v1/answers").headers["allow"] == "POST"
