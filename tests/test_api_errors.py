"""Every bad input gets a clear 4xx with JSON {"detail": "..."}: one test per kind of mistake.

Each test says what the client gets. The limits are the defaults of settings.api:
max_question_chars = 2000, max_body_bytes = 256000.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from answer.engine import IndexEngine
from api.deps import get_engine
from tests.fixtures_api import Fault, FaultyEngine, engine_app

Q1 = "What causes pernicious anemia?"


@pytest.fixture
def app(answer_engine: IndexEngine, tmp_path: Path) -> Any:
    return engine_app(answer_engine, tmp_path)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def detail(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return str(body["detail"])


# ------------------------------------------------------------------------ questions


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_gets_422(client: TestClient, question: str) -> None:
    response = client.post("/v1/answers", json={"question": question})
    assert detail(response, 422) == "body.question: question must not be empty"


def test_empty_followup_and_query_get_422(client: TestClient) -> None:
    cid = client.post("/v1/conversations", json={}).json()["id"]
    followup = client.post(f"/v1/conversations/{cid}/followups", json={"question": " "})
    assert detail(followup, 422) == "body.question: question must not be empty"
    search = client.post("/v1/search", json={"query": ""})
    assert detail(search, 422) == "body.query: query must not be empty"


def test_question_one_over_the_limit_gets_422_with_the_limit(client: TestClient) -> None:
    response = client.post("/v1/answers", json={"question": "a" * 2001})
    assert detail(response, 422) == "question is 2001 characters long; the limit is 2000"
    # Exactly at the limit is fine.
    assert client.post("/v1/answers", json={"question": "anemia " + "a" * 1993}).status_code == 200


def test_one_megabyte_question_gets_413_before_anything_reads_it(client: TestClient) -> None:
    """A 1 MB question makes a body over 256 kB: refused on its Content-Length alone."""
    response = client.post("/v1/answers", json={"question": "a" * 1_000_000})
    assert detail(response, 413) == "request body is larger than the limit of 256000 bytes"


def test_an_oversized_body_without_content_length_gets_413(client: TestClient) -> None:
    """A chunked body declares no length: it is counted as it arrives and cut off at the limit."""

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'"}'

    response = client.post(
        "/v1/answers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert detail(response, 413) == "request body is larger than the limit of 256000 bytes"


def test_long_question_in_chat_completions_gets_422(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"model": "followup", "messages": [{"role": "user", "content": "b" * 3000}]},
    )
    assert detail(response, 422) == "question is 3000 characters long; the limit is 2000"


# ------------------------------------------------------------------ malformed requests


def test_malformed_json_gets_422_saying_where(client: TestClient) -> None:
    response = client.post(
        "/v1/answers", content=b'{"question": "x",', headers={"Content-Type": "application/json"}
    )
    assert detail(response, 422).startswith("request body is not valid JSON (")
    assert "at character" in response.json()["detail"]


def test_missing_body_gets_422(client: TestClient) -> None:
    response = client.post("/v1/answers")
    assert detail(response, 422) == "body: Field required"


def test_missing_question_gets_422(client: TestClient) -> None:
    response = client.post("/v1/answers", json={"audience": "patient"})
    assert detail(response, 422) == "body.question: Field required"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": 123}, "body.question: Input should be a valid string"),
        ({"question": Q1, "stream": "please"}, "body.stream: Input should be a valid boolean"),
        (
            {"question": Q1, "audience": "doctor"},
            "body.audience: Input should be 'clinician' or 'patient'",
        ),
        ({"question": Q1, "history": "earlier"}, "body.history: Input should be a valid list"),
        (
            {"question": Q1, "history": [{"role": "system", "content": "x"}]},
            "body.history.0.role: Input should be 'user' or 'assistant'",
        ),
        ({"question": Q1, "filters": {"year_from": "last year"}}, "body.filters.year_from:"),
        ({"question": Q1, "questoin": "typo"}, "body.questoin: Extra inputs are not permitted"),
    ],
)
def test_wrong_types_get_422_naming_the_field(client: TestClient, body: dict, message: str) -> None:
    assert detail(client.post("/v1/answers", json=body), 422).startswith(message)


def test_unknown_design_gets_422_listing_the_valid_ones(client: TestClient) -> None:
    response = client.post(
        "/v1/search", json={"query": "iron", "filters": {"designs": ["anecdote"]}}
    )
    message = detail(response, 422)
    assert message.startswith("body.filters.designs.0: Input should be 'guideline'")
    assert "'rct'" in message


def test_years_in_the_wrong_order_get_422(client: TestClient) -> None:
    response = client.post(
        "/v1/search", json={"query": "iron", "filters": {"year_from": 2020, "year_to": 2010}}
    )
    assert detail(response, 422) == "body.filters: year_from (2020) is after year_to (2010)"


def test_top_k_out_of_range_gets_422(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": "iron", "top_k": 0})
    assert detail(response, 422) == "body.top_k: Input should be greater than or equal to 1"


def test_history_that_does_not_alternate_gets_422(client: TestClient) -> None:
    response = client.post(
        "/v1/answers",
        json={"question": Q1, "history": [{"role": "assistant", "content": "Hello"}]},
    )
    assert detail(response, 422) == (
        "history[0] is an assistant message without a user question before it"
    )


def test_cited_ids_without_an_answer_or_unknown_get_422(client: TestClient) -> None:
    known = client.post("/v1/search", json={"query": Q1}).json()["fused"][0]["id"]
    no_answer = client.post("/v1/answers", json={"question": Q1, "cited_passage_ids": [known]})
    assert "no assistant message" in detail(no_answer, 422)
    unknown = client.post(
        "/v1/answers",
        json={
            "question": Q1,
            "history": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "cited_passage_ids": [known, "p_nope"],
        },
    )
    assert detail(unknown, 422) == "cited_passage_ids[1]: unknown passage id 'p_nope'"


def test_validation_errors_do_not_echo_the_input(client: TestClient) -> None:
    response = client.post("/v1/answers", json={"question": Q1, "stream": "x" * 1000})
    assert "x" * 100 not in response.text
    assert response.json()["errors"] == [
        {
            "loc": ["body", "stream"],
            "msg": "Input should be a valid boolean",
            "type": "bool_type",  # strict: "x", 0 and "true" are not coerced
        }
    ]


# --------------------------------------------------------------------------- unknown ids


def test_unknown_conversation_gets_404_everywhere(client: TestClient) -> None:
    for response in (
        client.get("/v1/conversations/c_unknown"),
        client.post("/v1/conversations/c_unknown/followups", json={"question": Q1}),
        client.delete("/v1/conversations/c_unknown"),
    ):
        assert detail(response, 404) == "conversation 'c_unknown' not found"


def test_unknown_passage_gets_404(client: TestClient) -> None:
    assert detail(client.get("/v1/passages/p0000000000000000"), 404) == (
        "passage 'p0000000000000000' not found"
    )


def test_unknown_route_and_wrong_method_get_json(client: TestClient) -> None:
    assert detail(client.get("/v1/nothing-here"), 404) == "Not Found"
    assert detail(client.get("/v1/answers"), 405) == "Method Not Allowed"


# --------------------------------------------------------------------- chat completions


def test_chat_completion_mistakes(client: TestClient) -> None:
    def post(**body):
        return client.post("/v1/chat/completions", json={"model": "followup", **body})

    assert (
        detail(post(messages=[]), 422)
        == "body.messages: List should have at least 1 item after validation, not 0"
    )
    assert detail(
        post(messages=[{"role": "user", "content": Q1}, {"role": "assistant", "content": "a"}]), 422
    ) == ("the last message must be the user's question")
    assert detail(post(messages=[{"role": "user", "content": "  "}]), 422) == (
        "the last user message must not be empty"
    )
    wrong_model = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": Q1}]},
    )
    assert detail(wrong_model, 404) == "unknown model 'gpt-4o'; this service serves 'followup'"


# --------------------------------------------------------------------------------- 500


def test_an_engine_failure_gets_500_and_the_log_keeps_the_question_out(
    app: Any, client: TestClient, answer_engine: IndexEngine, caplog: pytest.LogCaptureFixture
) -> None:
    app.dependency_overrides[get_engine] = lambda: FaultyEngine(answer_engine, Fault.RAISE)
    secret = "What is my private symptom?"
    response = client.post("/v1/answers", json={"question": secret})
    assert detail(response, 500) == "internal server error"
    assert "RuntimeError" in caplog.text  # logged, with its traceback's frames...
    assert "fixtures_api.py" in caplog.text
    assert "private symptom" not in caplog.text  # ...but not the message quoting the question
