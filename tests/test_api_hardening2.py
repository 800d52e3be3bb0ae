"""Hardening from a fault and fuzz run: each test sends the input and asserts what comes back.

The app is the real one (``create_app``) with the real engine on a small real index (the NIH
pages on pernicious anemia from the demo corpus) and real SQLite under a temporary directory.
The module's main app runs behind a real uvicorn server; apps with other settings (a damaged
database, a turn or rate limit) run in-process with Starlette's TestClient.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from answer.engine import IndexEngine, build_engine
from answer.settings import Settings
from api.app import create_app
from api.store import DATABASE_FILE, ConversationStore
from api.streaming import RUN, in_runs, sse_events
from retriever.types import Conversation, Evidence, Filters
from tests.fixtures_api import ROOT, ThreadServer, integration_documents, parse_sse

QUESTION = "What is pernicious anemia?"
FOLLOWUP = "How is it treated?"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of the demo corpus's pages on pernicious anemia."""
    from index.build import build_index
    from index.embedder import SentenceTransformerEmbedder

    root = tmp_path_factory.mktemp("hardening")
    documents = [d for d in integration_documents() if d.title == "Pernicious Anemia"]
    build_index(documents, root / "index", SentenceTransformerEmbedder.load())
    return Settings.model_validate(
        {
            "index": {"path": root / "index"},
            "embedder": {"threads": 1},
            "answer": {"sentence_cache_dir": root / "cache"},
            "api": {"data_dir": root / "data", "rate_limit": None},
        }
    )


@pytest.fixture(scope="module")
def engine(settings: Settings) -> IndexEngine:
    return build_engine(settings)


def app_with(settings: Settings, engine: IndexEngine, data_dir: Path, **api: Any) -> Any:
    """The real app on the module's engine, with its conversations in ``data_dir``."""
    changed = type(settings.api).model_validate({**dict(settings.api), "data_dir": data_dir, **api})
    return create_app(settings.model_copy(update={"api": changed}), engine=engine)


@pytest.fixture(scope="module")
def http(settings: Settings, engine: IndexEngine) -> Iterator[httpx.Client]:
    """A client of the main app behind a real uvicorn server."""
    with (
        ThreadServer(create_app(settings, engine=engine)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def detail(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return str(response.json()["detail"])


# ------------------------------------------------------ bodies FastAPI cannot parse: 422

POST_ROUTES = [
    "/v1/answers",
    "/v1/conversations",
    "/v1/conversations/c_any/followups",
    "/v1/conversations/c_any/regenerate",
    "/v1/search",
    "/v1/chat/completions",
]
UNREADABLE = {
    "invalid UTF-8": (b'{"question": "iron \xff\xfe"}', "request body is not valid UTF-8"),
    "nested 1,000 deep": (
        b'{"question": "iron", "filters": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        "request body is nested too deeply to read",
    ),
    "a 5,000-digit integer": (
        b'{"query": "iron", "top_k": ' + b"9" * 5000 + b"}",
        f"request body has a number longer than {sys.get_int_max_str_digits()} digits",
    ),
}


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("kind", list(UNREADABLE))
def test_an_unreadable_body_is_the_declared_422(http: httpx.Client, path: str, kind: str) -> None:
    body, reason = UNREADABLE[kind]
    response = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert detail(response, 422) == reason
    assert response.json()["errors"] == [{"loc": ["body"], "msg": reason, "type": "json_invalid"}]


def test_every_error_status_is_declared_with_its_body(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "413", "422", "429", "503"):
                assert status in responses, (method, path, status)
            schema = responses["422"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ValidationErrorOut"}, (method, path)
    error = spec["components"]["schemas"]["ValidationErrorOut"]
    assert error["required"] == ["detail"] and "errors" in error["properties"]


# ----------------------------------------------------------------------------- OpenAPI


def test_streamed_responses_are_declared_as_event_streams(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in [
        "/v1/answers",
        "/v1/conversations",
        "/v1/conversations/{conversation_id}/followups",
        "/v1/conversations/{conversation_id}/regenerate",
        "/v1/chat/completions",
    ]:
        assert "text/event-stream" in paths[path]["post"]["responses"]["200"]["content"], path


def test_the_schema_states_the_length_limits(http: httpx.Client, settings: Settings) -> None:
    models = http.get("/openapi.json").json()["components"]["schemas"]
    for name in ("AnswerRequest", "FollowupCreate"):
        question = models[name]["properties"]["question"]
        assert question["maxLength"] == settings.api.max_question_chars == 2000
    # ConversationCreate's question may be null.
    create = models["ConversationCreate"]["properties"]["question"]["anyOf"]
    assert {"type": "string", "maxLength": 2000} in create
    assert models["Message"]["properties"]["content"]["maxLength"] == 20_000
    assert models["AnswerRequest"]["properties"]["history"]["maxItems"] == 200


def test_years_out_of_order_are_a_422_naming_both(http: httpx.Client) -> None:
    response = http.post(
        "/v1/search", json={"query": "anemia", "filters": {"year_from": 2020, "year_to": 2010}}
    )
    assert detail(response, 422) == "body.filters: year_from (2020) is after year_to (2010)"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/answers", {"question": QUESTION, "stream": 0}, "stream"),
        ("/v1/search", {"query": "anemia", "top_k": True}, "top_k"),
        ("/v1/search", {"query": "anemia", "filters": {"year_from": "2010"}}, "year_from"),
    ],
)
def test_no_value_is_coerced(
    http: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == field


# ------------------------------------------- ids: nothing invisible or direction-changing

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("char", BIDI)
def test_an_id_with_a_direction_override_is_a_422(http: httpx.Client, char: str) -> None:
    conversation = http.post("/v1/conversations", json={}).json()["id"]
    spoofed = f"{conversation}{char}"
    for response in (
        http.get(f"/v1/conversations/{spoofed}"),
        http.delete(f"/v1/conversations/{spoofed}"),
        http.post(f"/v1/conversations/{spoofed}/followups", json={"question": FOLLOWUP}),
        http.get(f"/v1/passages/p0000000000000000{char}"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"][0] == "path"
    cited = http.post(
        "/v1/answers",
        json={
            "question": FOLLOWUP,
            "history": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "Pernicious anemia is a type of anemia."},
            ],
            "cited_passage_ids": [f"p0000000000000000{char}"],
        },
    )
    assert cited.json()["errors"][0]["loc"] == ["body", "cited_passage_ids", 0]
    chat = {"model": f"followup{char}", "messages": [{"role": "user", "content": QUESTION}]}
    assert http.post("/v1/chat/completions", json=chat).status_code == 422
    # A field name is an id too: OpenAI's request takes extra options, but not such names.
    chat = {"model": "followup", "messages": [{"role": "user", "content": QUESTION}]}
    extra = http.post("/v1/chat/completions", json={**chat, f"temperature{char}": 0})
    assert detail(extra, 422).startswith("body: field name 'temperature\\u")
    # The conversation itself is untouched.
    assert http.get(f"/v1/conversations/{conversation}").status_code == 200


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/answers", {"question": ZERO_WIDTH}, ["body", "question"]),
        ("/v1/search", {"query": ZERO_WIDTH}, ["body", "query"]),
        ("/v1/conversations", {"question": f" {ZERO_WIDTH} "}, ["body", "question"]),
        (
            "/v1/answers",
            {"question": FOLLOWUP, "history": [{"role": "user", "content": ZERO_WIDTH}]},
            ["body", "history", 0, "content"],
        ),
        (
            "/v1/search",
            {"query": "anemia", "filters": {"publishers": [ZERO_WIDTH]}},
            ["body", "filters", "publishers"],
        ),
    ],
)
def test_zero_width_only_text_is_a_422(
    http: httpx.Client, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc


def test_zero_width_only_chat_question_is_a_422(http: httpx.Client) -> None:
    chat = {"model": "followup", "messages": [{"role": "user", "content": ZERO_WIDTH}]}
    response = http.post("/v1/chat/completions", json=chat)
    assert detail(response, 422) == "the last user message must not be empty"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/answers", {"question": "???"}),
        ("/v1/answers", {"question": "\U0001f642", "stream": True}),
        ("/v1/search", {"query": "..."}),
        ("/v1/conversations", {"question": "- -"}),
        (
            "/v1/chat/completions",
            {"model": "followup", "messages": [{"role": "user", "content": "?!"}]},
        ),
    ],
)
def test_a_question_without_a_word_is_a_422(
    http: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    """Visible, but nothing to search for: the retriever's EmptyQueryError, not a 500."""
    assert detail(http.post(path, json=body), 422) == "a question needs at least one word"


# --------------------------------------------------------------------- conversation length


def test_a_follow_up_past_the_turn_limit_is_a_409_naming_it(
    settings: Settings, engine: IndexEngine, tmp_path: Path
) -> None:
    with TestClient(app_with(settings, engine, tmp_path, max_turns=2)) as client:
        conversation = client.post("/v1/conversations", json={"question": QUESTION}).json()
        cid = conversation["id"]
        second = client.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
        assert second.status_code == 200 and second.json()["turn"] == 1
        third = client.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
        assert third.status_code == 409
        assert third.json() == {
            "detail": f"conversation '{cid}' has reached the limit of 2 turns; "
            "start a new conversation"
        }
        streamed = client.post(
            f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP, "stream": True}
        )
        assert streamed.status_code == 409
        # Nothing was stored, and answering the last question again is still allowed.
        assert len(client.get(f"/v1/conversations/{cid}").json()["turns"]) == 2
        regenerated = client.post(f"/v1/conversations/{cid}/regenerate", json={})
        assert regenerated.status_code == 200 and regenerated.json()["turn"] == 1


def test_the_store_enforces_the_limit_when_it_appends(tmp_path: Path, engine: IndexEngine) -> None:
    """Two follow-ups computed at once cannot both pass the limit: the append checks it."""
    from api.errors import TurnLimitError

    answer = engine.answer(QUESTION)
    store = ConversationStore(tmp_path / DATABASE_FILE, max_turns=1).open()
    convo = store.create(answer.audience, question=QUESTION, answer=answer)
    with pytest.raises(TurnLimitError, match="limit of 1 turns"):
        store.add_turn(convo.id, FOLLOWUP, answer.audience, answer)
    assert len(store.get(convo.id).turns) == 1


# ---------------------------------------------------------------- a damaged database


def damaged_database(data_dir: Path, engine: IndexEngine) -> Path:
    """A conversation database whose first page (the header) is intact and the rest is not:
    it opens, and its tables cannot be read."""
    path = data_dir / DATABASE_FILE
    store = ConversationStore(path).open()
    answer = engine.answer(QUESTION)
    for _ in range(20):  # enough turns to fill several pages
        store.create(answer.audience, question=QUESTION, answer=answer)
    store.close()  # checkpoints the WAL into the file
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\x5a" * (len(data) - page)
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_database_fails_readiness_and_names_the_file_in_the_log(
    settings: Settings, engine: IndexEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = damaged_database(tmp_path, engine)
    with (
        caplog.at_level(logging.ERROR, logger="api.store"),
        TestClient(app_with(settings, engine, tmp_path)) as client,
    ):
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "failed"
        reason = "conversations are unavailable: database disk image is malformed"
        assert reason in ready.json()["detail"]
        for response in (
            client.post("/v1/conversations", json={}),
            client.get("/v1/conversations/c_any"),
            client.post("/v1/conversations/c_any/followups", json={"question": FOLLOWUP}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["detail"].startswith("conversations are unavailable: ")
        # Stateless answers need no database.
        assert client.post("/v1/answers", json={"question": QUESTION}).status_code == 200
    logged = [r.getMessage() for r in caplog.records if r.name == "api.store"]
    assert logged and all(str(path) in line for line in logged)
    assert "database disk image is malformed" in logged[0]


def serve(
    index: Path, data_dir: Path, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``followup serve`` up to its checks (it exits before serving when one fails)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "followup", "serve"]
        + ["--index", str(index), "--data-dir", str(data_dir), "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_refuses_a_file_that_is_not_a_database_in_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / DATABASE_FILE).write_text("these are notes, not a database\n" * 100)
    result = serve(settings.index.path, tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / DATABASE_FILE}: conversations are unavailable: "
        "file is not a database\n"
    )


def test_serve_refuses_a_read_only_data_directory_in_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "read-only"
    data.mkdir()
    data.chmod(0o555)
    # root writes anywhere: the command then runs without the capability that allows it.
    no_override = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
    result = serve(settings.index.path, data, no_override if os.geteuid() == 0 else ())
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"error: {data / DATABASE_FILE}: conversations are unavailable: "
        "unable to open database file\n"
    )


# ---------------------------------------------------------------- logs keep no messages

SECRET = "my daughter's pernicious anemia"


class FailingRetriever:
    """A retriever fault that a real index cannot be made to produce on demand."""

    def evidence(
        self,
        question: str,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
    ) -> Evidence:
        raise RuntimeError(question)  # as a message may quote the question


def test_a_failed_stream_logs_the_exception_type_and_not_its_message(
    engine: IndexEngine, caplog: pytest.LogCaptureFixture
) -> None:
    failing = IndexEngine(FailingRetriever(), engine.composer)
    with caplog.at_level(logging.ERROR):
        events = list(failing.stream(SECRET))
    assert [e.name for e in events] == ["error"]
    assert events[0].data == {"status": 500, "detail": "retrieval failed"}
    assert "retrieval failed: RuntimeError" in caplog.text
    assert SECRET not in caplog.text


def test_the_api_stream_logs_the_exception_type_and_not_its_message(
    engine: IndexEngine, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Iterator[Any]:
        stream = engine.stream(QUESTION)
        yield next(stream)
        raise ValueError(SECRET)

    with caplog.at_level(logging.ERROR):
        events = [(e.event, e.data) for e in sse_events(None, broken())]
    assert events[-1] == ("error", '{"status":500,"detail":"internal server error"}')
    assert "unexpected ValueError in answer stream" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize("count", [0, 1, RUN, RUN + 1, 2 * RUN + 3])
def test_a_stream_is_sent_whole_and_in_order_in_runs(count: int) -> None:
    threads: set[int] = set()

    def events() -> Iterator[int]:
        for i in range(count):
            threads.add(threading.get_ident())  # advanced in worker threads, not the loop's
            yield i

    async def drain() -> list[int]:
        return [event async for event in in_runs(events())]  # type: ignore[arg-type]

    assert asyncio.run(drain()) == list(range(count))
    assert threading.get_ident() not in threads


# ------------------------------------------------------------------------ rate limits


def test_over_the_rate_a_key_gets_429_with_retry_after(
    settings: Settings, engine: IndexEngine, tmp_path: Path
) -> None:
    app = app_with(settings, engine, tmp_path, rate_limit="3/minute", api_keys=["k1", "k2"])
    with TestClient(app) as client:
        one = {"X-API-Key": "k1"}
        for _ in range(3):
            assert client.get("/v1/models", headers=one).status_code == 200
        refused = client.get("/v1/models", headers=one)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["detail"].startswith("over the rate limit of 3 per 1 minute")
        # Another key has its own allowance; a wrong key is refused before it is counted;
        # probes are not limited.
        assert client.get("/v1/models", headers={"Authorization": "Bearer k2"}).status_code == 200
        assert client.get("/v1/models", headers={"X-API-Key": "nope"}).status_code == 401
        assert client.get("/readyz").status_code == 200


def test_without_keys_made_up_keys_share_the_address_allowance(
    settings: Settings, engine: IndexEngine, tmp_path: Path
) -> None:
    with TestClient(app_with(settings, engine, tmp_path, rate_limit="2/minute")) as client:
        statuses = [
            client.get("/v1/models", headers={"X-API-Key": f"made-up-{n}"}).status_code
            for n in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_a_rate_the_limits_package_cannot_read_is_a_settings_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="api.rate_limit"):
        Settings.model_validate({"api": {"rate_limit": "lots"}})


# ------------------------------------------------------------------- streaming framing


def test_a_stream_keeps_the_documented_events_and_order(http: httpx.Client) -> None:
    response = http.post("/v1/answers", json={"question": QUESTION, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in parse_sse(response.text)]
    assert names[0] == "retrieval" and names[-2:] == ["references", "done"]
    assert set(names[1:-2]) == {"section", "sentence"} and names[1] == "section"
    assert response.text.startswith("event: retrieval\ndata: {")


# ---------------------------------------------- the documented example, on the demo index


@pytest.mark.slow
def test_the_documented_answer_example_works_on_the_demo_index(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from corpus.demo import load_demo
    from index.build import build_index
    from index.embedder import SentenceTransformerEmbedder

    root = tmp_path_factory.mktemp("demo")
    build_index(load_demo().documents, root / "index", SentenceTransformerEmbedder.load())
    demo = Settings.model_validate(
        {
            "index": {"path": root / "index"},
            "answer": {"sentence_cache_dir": root / "cache"},
            "api": {"data_dir": root / "data"},
        }
    )
    with TestClient(create_app(demo, load_in_background=False)) as client:
        spec = client.get("/openapi.json").json()
        examples = spec["components"]["schemas"]["AnswerRequest"]["examples"]
        assert [bool(e.get("cited_passage_ids")) for e in examples] == [False, True]
        for example in examples:
            response = client.post("/v1/answers", json=example)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert not answer["abstained"] and answer["references"]
