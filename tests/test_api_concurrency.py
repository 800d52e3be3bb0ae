"""Requests run concurrently in one worker, with no global lock: answers and streams given from
many threads at once are the answers given one at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from answer.engine import IndexEngine, build_engine
from answer.sentences import SentenceCompanion
from answer.settings import Settings
from api.app import create_app
from corpus.demo import load_demo
from index.build import build_index
from index.encoders import load_embedder
from tests.fixtures_api import ThreadServer

QUESTIONS = [
    "Are vitamin B12 levels higher with lower ferritin levels?",
    "How is iron deficiency anemia treated?",
    "What is thalassemia?",
    "What causes pernicious anemia?",
    "Who needs extra folic acid?",
    "Which blood tests show hemochromatosis?",
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> IndexEngine:
    """The default encoder (int8 ONNX) over a slice of the demo corpus, with its sentences."""
    root = tmp_path_factory.mktemp("concurrency")
    embedder = load_embedder(threads=1, export_dir=root / "encoders")
    documents = [
        d
        for d in load_demo().documents
        if any(w in d.title.lower() for w in ("anemia", "folic", "hemochromatosis", "thalass"))
    ]
    build_index(documents, root / "index", embedder, companions=[SentenceCompanion(embedder)])
    settings = Settings(
        index={"path": root / "index"},
        embedder={"threads": 1, "export_dir": root / "encoders"},
        answer={"sentence_cache_dir": None},
    )
    return build_engine(settings)


def _plain(answer: Any) -> dict[str, Any]:
    return answer.model_dump(exclude={"timings_ms"})


def test_answers_from_many_threads_are_the_answers_one_at_a_time(engine: IndexEngine) -> None:
    alone = {q: _plain(engine.answer(q)) for q in QUESTIONS}
    asked = QUESTIONS * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda q: _plain(engine.answer(q)), asked))
    assert together == [alone[q] for q in asked]


def test_streams_interleave_without_mixing(engine: IndexEngine) -> None:
    def events(question: str) -> list[tuple[str, Any]]:
        return [(event.name, event.data.get("text")) for event in engine.stream(question)]

    alone = {q: events(q) for q in QUESTIONS}
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(events, QUESTIONS * 3))
    assert together == [alone[q] for q in QUESTIONS * 3]


@pytest.fixture(scope="module")
def server(engine: IndexEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    settings = Settings(api={"data_dir": tmp_path_factory.mktemp("data")})
    with ThreadServer(create_app(settings, engine=engine)) as running:
        yield running


def test_http_answers_in_parallel(server: ThreadServer) -> None:
    def ask(question: str) -> dict[str, Any]:
        response = httpx.post(f"{server.url}/v1/answers", json={"question": question}, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        body.pop("timings_ms", None)
        return json.loads(json.dumps(body))

    alone = {q: ask(q) for q in QUESTIONS}
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(ask, QUESTIONS * 4))
    assert [a["standalone_query"] for a in together] == QUESTIONS * 4
    assert [a["sections"] for a in together] == [alone[q]["sections"] for q in QUESTIONS * 4]
