"""Fixtures for the API tests: a small engine over real passages, and real uvicorn servers.

``KeywordEngine`` answers from the 13 real records of tests/data/answer_corpus.jsonl (one
passage per record), ranked by shared words and quoted sentence by sentence. It is a stand-in
for the real engine in tests of the HTTP plumbing (status codes, streaming, storage, auth);
the integration tests (tests/test_api_integration.py) run the real engine on a real index.

Import what you use explicitly, e.g. ``from tests.fixtures_api import KeywordEngine``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from answer.engine import Engine, StreamEvent
from answer.schema import Answer, AnswerSection, Audience, Reference, SectionKind, Sentence
from answer.settings import Settings
from api.app import create_app
from corpus.chunking import split_sentences
from corpus.types import Document, EvidenceKind, EvidenceTier, Passage, passage_id
from retriever.types import (
    Conversation,
    EmptyQueryError,
    Evidence,
    Filters,
    ScoredPassage,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "answer_corpus.jsonl"

# A question containing this makes KeywordEngine fail: for the 500 and error-event tests.
FAIL = "PLEASE-FAIL"
FAIL_MIDSTREAM = "PLEASE-FAIL-LATER"

_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset(
    ("the", "and", "are", "with", "what", "for", "how", "does", "that", "this", "from", "have",
     "has", "was", "were", "can", "you", "your", "who", "which", "when", "about", "there",
     "their", "them", "they", "its", "into", "not", "but", "all", "any", "more", "less", "also")
)  # fmt: skip


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def load_passages() -> list[Passage]:
    """One passage per record of answer_corpus.jsonl, with its real provenance."""
    passages = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        title, _, heading = row["title"].partition(" — ")
        text = row["text"].strip()
        passages.append(
            Passage(
                id=passage_id(row["id"], 0, len(text)),
                document_id=row["id"],
                text=text,
                start=0,
                end=len(text),
                section=heading or title,
                title=title,
                tier=EvidenceTier(row["tier"]),
                source=row["publisher"] or row["dataset"],
                licence=row["licence"],
                dataset=row["dataset"],
                year=row["year"],
                url=row["url"],
            )
        )
    return passages


def _passes(passage: Passage, filters: Filters | None) -> bool:
    if filters is None:
        return True
    if filters.kinds is not None and passage.kind not in filters.kinds:
        return False
    if filters.designs is not None and passage.tier not in filters.designs:
        return False
    if filters.sources is not None and passage.source.casefold() not in {
        s.casefold() for s in filters.sources
    }:
        return False
    if filters.year_from is not None and (passage.year is None or passage.year < filters.year_from):
        return False
    return not (
        filters.year_to is not None and (passage.year is None or passage.year > filters.year_to)
    )


class KeywordEngine(Engine):
    """Answers from real passages, ranked by the number of words shared with the query.

    A follow-up's standalone query is the follow-up plus the previous question, so tests can
    see that earlier turns were used. Records every call's conversation in ``calls``.
    """

    def __init__(self, passages: list[Passage] | None = None) -> None:
        self.passages = passages if passages is not None else load_passages()
        self._by_id = {p.id: p for p in self.passages}
        self.calls: list[tuple[str, Conversation | None]] = []

    @property
    def index(self) -> None:
        return None

    @property
    def manifest(self) -> dict[str, Any]:
        return {"passages": len(self.passages), "model": {"name": "keyword-overlap"}}

    def passage(self, passage_id: str) -> Passage | None:
        return self._by_id.get(passage_id)

    def _evidence(
        self, question: str, conversation: Conversation | None, top_k: int, filters: Filters | None
    ) -> Evidence:
        if not question.strip():
            raise EmptyQueryError("query must not be empty")
        if FAIL in question and FAIL_MIDSTREAM not in question:
            raise RuntimeError(f"engine exploded on {question!r}")
        standalone = question
        if conversation is not None and conversation.last_question:
            standalone = f"{question} {conversation.last_question}"
        query = words(standalone)
        scored = [
            ScoredPassage(p, float(len(query & words(p.embedding_text))))
            for p in self.passages
            if _passes(p, filters)
        ]
        scored = [s for s in scored if s.score > 0]
        scored.sort(key=lambda s: -s.score)  # stable: ties keep file order
        fused = scored[:top_k]
        return Evidence(
            question=question,
            standalone_query=standalone,
            fused=fused,
            guideline=[s for s in fused if s.passage.kind is EvidenceKind.GUIDELINE],
            research=[s for s in fused if s.passage.kind is EvidenceKind.RESEARCH],
            used_context=standalone != question,
            timings_ms={"retrieval": 0.1},
        )

    def search(self, query: str, *, top_k: int = 10, filters: Filters | None = None) -> Evidence:
        return self._evidence(query, None, top_k, filters)

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience = Audience.CLINICIAN,
        filters: Filters | None = None,
    ) -> Answer:
        self.calls.append((question, conversation))
        evidence = self._evidence(question, conversation, 4, filters)
        if not evidence.fused:
            return Answer(
                question=question,
                standalone_query=evidence.standalone_query,
                audience=audience,
                abstained=True,
                sections=[
                    AnswerSection(
                        kind=SectionKind.NOTICE,
                        title="Notice",
                        sentences=[Sentence(text="The indexed evidence does not answer this.")],
                    )
                ],
                references=[],
            )
        references: list[Reference] = []
        sections = []
        for kind, title, group in (
            (SectionKind.BOTTOM_LINE, "Bottom line", evidence.fused[:1]),
            (SectionKind.GUIDELINES, "From the guidelines", evidence.guideline[:2]),
            (SectionKind.RESEARCH, "From the research", evidence.research[:2]),
        ):
            sentences = []
            for scored in group:
                p = scored.passage
                ref = next((r for r in references if r.passage_id == p.id), None)
                if ref is None:
                    ref = Reference(
                        n=len(references) + 1,
                        passage_id=p.id,
                        document_id=p.document_id,
                        tier=p.kind.value,
                        design=p.tier.value,
                        title=p.title,
                        source=p.source,
                        year=p.year,
                        url=p.url,
                    )
                    references.append(ref)
                start, end = split_sentences(p.text)[0]
                design = None if p.kind is EvidenceKind.GUIDELINE else p.tier.value
                sentences.append(Sentence(text=p.text[start:end], citations=[ref.n], design=design))
            if sentences:
                sections.append(AnswerSection(kind=kind, title=title, sentences=sentences))
        return Answer(
            question=question,
            standalone_query=evidence.standalone_query,
            audience=audience,
            sections=sections,
            references=references,
            suggested_followups=["What are the treatments for pernicious anemia?"],
            timings_ms={"retrieval": 0.1, "compose": 0.1},
        )

    def stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience = Audience.CLINICIAN,
        filters: Filters | None = None,
    ) -> Iterator[StreamEvent]:
        answer = self.answer(
            question, conversation=conversation, audience=audience, filters=filters
        )
        events = events_of(answer, passages=4)
        yield next(events)  # retrieval
        if FAIL_MIDSTREAM in question:
            raise RuntimeError(f"engine exploded late on {question!r}")
        yield from events


def events_of(answer: Answer, passages: int) -> Iterator[StreamEvent]:
    """The documented event sequence (docs/api.md) for a finished answer."""
    yield StreamEvent(
        "retrieval",
        {
            "standalone_query": answer.standalone_query,
            "topic_shift": answer.topic_shift,
            "passages": passages,
        },
    )
    for section in answer.sections:
        yield StreamEvent("section", {"kind": section.kind.value, "title": section.title})
        for sentence in section.sentences:
            yield StreamEvent(
                "sentence",
                {
                    "section": section.kind.value,
                    "text": sentence.text,
                    "citations": sentence.citations,
                    "design": sentence.design,
                },
            )
    yield StreamEvent(
        "references",
        {
            "references": [r.model_dump(mode="json") for r in answer.references],
            "suggested_followups": answer.suggested_followups,
            "disclaimer": answer.disclaimer,
        },
    )
    yield StreamEvent("done", {"answer": answer.model_dump(mode="json")})


# ------------------------------------------------------------------ the integration corpus

INTEGRATION_GUIDELINES = ("Pernicious Anemia", "Iron-Deficiency Anemia")
_RESEARCH_TOPIC = re.compile(r"B12|cobalamin|homocysteine|folic|ferritin|iron", re.IGNORECASE)


def integration_documents() -> list[Document]:
    """A small real slice of the demo corpus (corpus/data/demo.jsonl), about 70 passages.

    Every NIH page on pernicious and iron-deficiency anemia, the first ten research abstracts
    on B12, homocysteine, folic acid, ferritin or iron, and the PubMedQA ones among them with a
    year (for the year filter), in file order.
    """
    from corpus.demo import load_demo

    documents = load_demo().documents
    guidelines = [d for d in documents if d.title in INTEGRATION_GUIDELINES]
    research = [
        d
        for d in documents
        if d.tier.kind is EvidenceKind.RESEARCH and _RESEARCH_TOPIC.search(d.title)
    ]
    chosen = research[:10] + [d for d in research[10:] if d.year is not None]
    return guidelines + chosen


# ----------------------------------------------------------------------------- SSE parsing


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``[(event, data)]`` of a text/event-stream body (data parsed as JSON where it is)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data_lines = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
        if not data_lines:  # a comment only, e.g. a keep-alive ": ping"
            continue
        data = "\n".join(data_lines)
        try:
            events.append((name, json.loads(data)))
        except json.JSONDecodeError:
            events.append((name, data))
    return events


# ---------------------------------------------------------------------------- real servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    base_url: str, timeout: float = 180.0, process: subprocess.Popen[Any] | None = None
) -> dict[str, Any]:
    """Poll /healthz until the server answers, then /readyz until the engine is loaded."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before it was ready")
            try:
                if client.get("/healthz").status_code == 200:
                    ready = client.get("/readyz")
                    if ready.status_code == 200:
                        return dict(ready.json())
                    if ready.json().get("status") == "failed":
                        raise RuntimeError(f"engine failed to load: {ready.json()}")
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url} not ready after {timeout} s")
            time.sleep(0.1)


class ThreadServer:
    """A real uvicorn server on 127.0.0.1 in a thread of the test process.

    Example:
        >>> with ThreadServer(create_app(settings, engine=KeywordEngine())) as server:
        ...     httpx.get(server.url + "/healthz")
    """

    def __init__(
        self, app: Any, *, log_config: dict[str, Any] | None = None, startup_timeout: float = 60
    ) -> None:
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", log_config=log_config
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        wait_ready(self.url, timeout=self.startup_timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def keyword_app(tmp_path: Path, **api: Any) -> Any:
    """An app over KeywordEngine with its conversations under ``tmp_path``."""
    settings = Settings(index={"path": tmp_path / "no-index"}, api={"data_dir": tmp_path, **api})
    return create_app(settings, engine=KeywordEngine())


class ServeProcess:
    """``followup serve`` in a subprocess (the real command, real uvicorn), stopped on exit.

    Args:
        index: the index directory.
        data_dir: where conversations are kept.
        extra: more command-line arguments.
        env: extra environment variables.
    """

    def __init__(
        self,
        index: Path,
        data_dir: Path,
        *,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        port: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "followup", "serve",
            "--index", str(index), "--data-dir", str(data_dir),
            "--host", "127.0.0.1", "--port", str(self.port), *extra,
        ]  # fmt: skip
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
        self.headers = headers or {}
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self.readiness_seen: list[str] = []  # /readyz statuses, in order, while starting
        self.answers_while_loading: int | None = None  # POST /v1/answers status then

    def start(self, timeout: float = 300.0) -> dict[str, Any]:
        """Start the server; poll /healthz, then /readyz until the engine is loaded."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=10.0, headers=self.headers) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.process.returncode}:\n{self.log()}"
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        ready = client.get("/readyz")
                        status = ready.json()["status"]
                        if not self.readiness_seen or self.readiness_seen[-1] != status:
                            self.readiness_seen.append(status)
                        if status == "loading" and self.answers_while_loading is None:
                            probe = client.post("/v1/answers", json={"question": "anemia"})
                            self.answers_while_loading = probe.status_code
                        if ready.status_code == 200:
                            return dict(ready.json())
                        if status == "failed":
                            raise RuntimeError(f"engine failed to load: {ready.json()}")
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"{self.url} not ready after {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing: what a crash looks like."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(AttributeError):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
