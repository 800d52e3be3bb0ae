"""The real engine on a small real index behind real uvicorn servers.

The index is built once per session (tests/fixtures_api.integration_documents: ~70 passages of
corpus/data/demo.jsonl) with the index package's build_index and the real model. One server
runs in a thread of this process (the engine loads in its lifespan, as in production); the
persistence, privacy and command tests start ``followup serve`` / ``followup chat`` as
subprocesses. Clients are httpx and the official ``openai`` package.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from answer.render import to_markdown
from answer.schema import Answer
from answer.settings import Settings
from api.app import create_app
from tests.fixtures_api import ROOT, ServeProcess, ThreadServer, integration_documents, parse_sse

KEY = "integration-test-key"
HEADERS = {"X-API-Key": KEY}
Q1 = "What is pernicious anemia?"
FOLLOWUP = "How is it treated?"


@pytest.fixture(scope="session")
def api_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index (real chunker, real model, FAISS and BM25) of the integration documents."""
    from index.build import build_index
    from index.embedder import SentenceTransformerEmbedder

    out = tmp_path_factory.mktemp("api-integration") / "index"
    build_index(integration_documents(), out, SentenceTransformerEmbedder.load())
    return out


@pytest.fixture(scope="session")
def sentence_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sentence-embedding cache for every engine of the session: the first engine fills
    it, later ones (the subprocesses) read it, as a restarted server does."""
    return tmp_path_factory.mktemp("api-sentence-cache")


@pytest.fixture(scope="session")
def live(
    api_index: Path, sentence_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """create_app(settings) with the real engine (built in the lifespan) on real uvicorn."""
    data = tmp_path_factory.mktemp("api-live")
    settings = Settings(
        index={"path": api_index},
        embedder={"threads": 1},
        answer={"sentence_cache_dir": sentence_cache},
        api={"data_dir": data, "api_keys": [KEY]},
    )
    app = create_app(settings)
    with ThreadServer(app, startup_timeout=300) as server:
        yield server


@pytest.fixture(scope="session")
def http(live: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, headers=HEADERS, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def client(live: ThreadServer) -> openai.OpenAI:
    """The official OpenAI client, authenticating with our key as its Bearer token."""
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0)


# ------------------------------------------------------------------------ the real engine


def test_readyz_shows_the_loaded_index(http: httpx.Client, api_index: Path) -> None:
    ready = http.get("/readyz").json()
    assert ready["status"] == "ready"
    manifest = ready["manifest"]
    assert manifest["model"]["name"].endswith("all-MiniLM-L6-v2")
    corpus = manifest["corpus"]
    assert corpus["documents"] == len(integration_documents())
    assert corpus["passages"] > corpus["documents"]  # long pages were chunked


def test_every_sentence_is_quoted_from_a_passage_it_cites(http: httpx.Client) -> None:
    answer = Answer.model_validate(http.post("/v1/answers", json={"question": Q1}).json())
    assert not answer.abstained
    by_n = {r.n: r for r in answer.references}
    cited = 0
    for section in answer.sections:
        for sentence in section.sentences:
            if not sentence.citations:
                continue
            texts = [
                http.get(f"/v1/passages/{by_n[n].passage_id}").json()["text"]
                for n in sentence.citations
            ]
            assert any(sentence.text in text for text in texts), sentence.text
            cited += 1
    assert cited >= 2


def test_a_followup_in_a_conversation_uses_the_earlier_turn(http: httpx.Client) -> None:
    created = http.post("/v1/conversations", json={"question": Q1}).json()
    followup = http.post(
        f"/v1/conversations/{created['id']}/followups", json={"question": FOLLOWUP}
    ).json()
    answer = followup["answer"]
    assert not answer["topic_shift"]
    # "it" was resolved from the stored conversation alone (the client sent only the new
    # question), into the same readable question the CLI searches for.
    assert answer["standalone_query"] == "How is pernicious anemia treated?"
    assert any(r["title"] == "Pernicious Anemia" for r in answer["references"])
    turns = http.get(f"/v1/conversations/{created['id']}").json()["turns"]
    assert [t["question"] for t in turns] == [Q1, FOLLOWUP]


def test_stream_matches_the_plain_answer(http: httpx.Client) -> None:
    plain = http.post("/v1/answers", json={"question": Q1}).json()
    with http.stream("POST", "/v1/answers", json={"question": Q1, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "retrieval" and names[-2:] == ["references", "done"]
    assert set(names[1:-2]) == {"section", "sentence"}
    sentences = [data for name, data in events if name == "sentence"]
    done = events[-1][1]["answer"]
    assert done["sections"] == plain["sections"]
    assert [s["text"] for s in sentences] == [
        x["text"] for s in plain["sections"] for x in s["sentences"]
    ]


def test_search_filters_on_the_real_index(http: httpx.Client) -> None:
    def search(**filters: Any) -> dict[str, Any]:
        body = {"query": "folic acid homocysteine anemia", "top_k": 20, "filters": filters}
        response = http.post("/v1/search", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    everything = search()
    assert everything["guideline"] and everything["research"]
    assert not search(tiers=["guideline"])["research"]
    assert {p["design"] for p in search(designs=["rct"])["fused"]} == {"rct"}
    years = {p["year"] for p in search(year_from=2005, year_to=2010)["fused"]}
    assert years and years <= {2006, 2008}


# ----------------------------------------------------------------------------- OpenAI


def test_openai_client_plain_completion(client: openai.OpenAI, http: httpx.Client) -> None:
    completion = client.chat.completions.create(
        model="followup", messages=[{"role": "user", "content": Q1}]
    )
    content = completion.choices[0].message.content
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    # The content is the Markdown rendering of the same answer /v1/answers gives.
    answer = Answer.model_validate(http.post("/v1/answers", json={"question": Q1}).json())
    assert content == to_markdown(answer)
    assert "[1]" in content and "## References" in content
    references = completion.model_extra["references"]
    assert [r["passage_id"] for r in references] == [r.passage_id for r in answer.references]
    assert completion.usage.total_tokens > 0


def test_openai_client_streamed_completion(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(
        model="followup", messages=[{"role": "user", "content": Q1}]
    )
    stream = client.chat.completions.create(
        model="followup", messages=[{"role": "user", "content": Q1}], stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == plain.choices[0].message.content
    assert len([c for c in chunks if c.choices[0].delta.content]) > 2  # it really streamed
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["references"] == plain.model_extra["references"]
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)


def test_openai_messages_are_the_conversation(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="followup", messages=[{"role": "user", "content": Q1}]
    )
    followup = client.chat.completions.create(
        model="followup",
        messages=[
            {"role": "system", "content": "You are helpful."},  # ignored
            {"role": "user", "content": Q1},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": FOLLOWUP},
        ],
        extra_body={
            "cited_passage_ids": [r["passage_id"] for r in first.model_extra["references"]]
        },
    )
    assert "pernicious" in followup.model_extra["standalone_query"].lower()
    assert followup.choices[0].message.content.count("[1]") >= 1


def test_openai_client_sees_our_errors(client: openai.OpenAI, live: ThreadServer) -> None:
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": Q1}])
    assert unknown_model.value.status_code == 404
    keyless = openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        keyless.chat.completions.create(
            model="followup", messages=[{"role": "user", "content": Q1}]
        )
    assert [m.id for m in client.models.list()] == ["followup"]


# -------------------------------------------------------------------- the real commands


def test_a_killed_server_loses_nothing(
    api_index: Path, sentence_cache: Path, live: ThreadServer, tmp_path: Path
) -> None:
    """SIGKILL mid-conversation, restart on the same data dir: every answered turn is there,
    and the conversation continues from them."""
    data = tmp_path / "data"
    env = {"FOLLOWUP_ANSWER__SENTENCE_CACHE_DIR": str(sentence_cache)}
    args = ("--api-key", KEY)
    first = ServeProcess(api_index, data, extra=args, env=env, headers=HEADERS)
    try:
        first.start()
        # While the engine loaded, the server was alive and said so.
        assert "loading" in first.readiness_seen
        assert first.answers_while_loading == 503
        with httpx.Client(base_url=first.url, headers=HEADERS, timeout=120) as http:
            created = http.post("/v1/conversations", json={"question": Q1}).json()
            cid = created["id"]
            second = http.post(f"/v1/conversations/{cid}/followups", json={"question": FOLLOWUP})
            assert second.status_code == 200
            before = http.get(f"/v1/conversations/{cid}").json()

            # A third question is in flight when the server dies.
            def ask() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the server is gone: expected
                    http.post(
                        f"/v1/conversations/{cid}/followups", json={"question": "Who gets it?"}
                    )

            inflight = threading.Thread(target=ask)
            inflight.start()
            first.kill()
            inflight.join(timeout=60)
        log = first.log()
    finally:
        first.stop()
    # The access log names the routes but never the questions (they travel in bodies).
    assert "POST /v1/conversations" in log
    assert "pernicious" not in log.lower() and "treated" not in log

    again = ServeProcess(api_index, data, extra=args, env=env, headers=HEADERS)
    with again, httpx.Client(base_url=again.url, headers=HEADERS, timeout=120) as http:
        after = http.get(f"/v1/conversations/{cid}").json()
        assert after["turns"][:2] == before["turns"]  # nothing acknowledged was lost
        assert len(after["turns"]) in (2, 3)  # the in-flight turn: all or nothing
        nxt = http.post(
            f"/v1/conversations/{cid}/followups", json={"question": "Can it be prevented?"}
        )
        assert nxt.status_code == 200
        body = nxt.json()
        assert body["turn"] == len(after["turns"])
        # It was asked in the restored conversation: the earlier topic is in its query.
        assert "pernicious" in body["answer"]["standalone_query"].lower()


def _cli(
    *args: str, stdin: str | None = None, timeout: float = 300, cache: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "120"}
    if cache is not None:
        env["FOLLOWUP_ANSWER__SENTENCE_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "followup", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_chat_answers_followups_in_the_terminal(
    api_index: Path, sentence_cache: Path, live: ThreadServer
) -> None:
    result = _cli(
        "chat",
        "--index",
        str(api_index),
        cache=sentence_cache,
        # No /quit: the input just ends, as when a script pipes questions in.
        stdin=f"{Q1}\n\n{FOLLOWUP}\n/new\nWhat causes iron-deficiency anemia?\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Follow-up: {FOLLOWUP}" in out
    assert "searched for:" in out  # the follow-up's standalone query is shown
    assert out.count("References") == 3
    # After /new the next question starts a conversation of its own.
    assert "Follow-up: What causes iron-deficiency anemia?" not in out
    assert "New conversation." in out


def test_serve_refuses_a_missing_index_at_once(tmp_path: Path) -> None:
    result = _cli("serve", "--index", str(tmp_path / "nowhere"), "--port", "1", timeout=60)
    assert result.returncode == 2
    assert f"no index at {tmp_path / 'nowhere'}" in result.stderr
