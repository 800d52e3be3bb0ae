"""Fixtures for the API tests: the real engine behind the app, a fault where a test needs one,
and real uvicorn servers.

The route tests serve the session's real engine (``answer_engine`` of tests/fixtures_answer.py:
the 13 real records of tests/data/answer_corpus.jsonl, indexed) through :func:`engine_app`.
:class:`FaultyEngine` wraps it for the faults a request cannot cause (an exception inside the
engine, an error event). The integration tests (tests/test_api_integration.py) run the engine
loaded in the app's lifespan behind real servers.

Import what you use explicitly, e.g. ``from tests.fixtures_api import engine_app``.
"""

from __future__ import annotations

import contextlib
import enum
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

from answer.schema import Answer, Audience
from answer.settings import Settings
from answer.types import Engine, StreamEvent
from api.app import create_app
from corpus.types import Document, EvidenceKind, Passage
from index.manifest import Manifest
from retriever.types import Conversation, Evidence, Filters

ROOT = Path(__file__).resolve().parent.parent


def engine_app(engine: Engine, tmp_path: Path, **api: Any) -> Any:
    """The app serving ``engine``, its conversations under ``tmp_path``; ``api`` are
    ``settings.api`` fields."""
    settings = Settings(index={"path": tmp_path / "no-index"}, api={"data_dir": tmp_path, **api})
    return create_app(settings, engine=engine)


class Fault(enum.Enum):
    """Where :class:`FaultyEngine` fails."""

    RAISE = "raise"  # answer() and stream() raise before anything is produced
    RAISE_MIDSTREAM = "raise-midstream"  # stream() raises after its first event
    ERROR_EVENT = "error-event"  # stream() reports a 422 error event, and nothing else
    LATE_ERROR_EVENT = "late-error-event"  # stream() reports a 500 after its first event


class FaultyEngine:
    """The real engine, failing as ``fault`` says; everything else is the real engine's.

    The exceptions quote the question, as a library's might: the API must not log them.
    """

    def __init__(self, engine: Engine, fault: Fault) -> None:
        self._engine = engine
        self._fault = fault

    @property
    def manifest(self) -> Manifest | None:
        return self._engine.manifest

    def passage(self, passage_id: str) -> Passage | None:
        return self._engine.passage(passage_id)

    def search(self, query: str, *, top_k: int = 10, filters: Filters | None = None) -> Evidence:
        return self._engine.search(query, top_k=top_k, filters=filters)

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        if self._fault is Fault.RAISE:
            raise RuntimeError(f"engine exploded on {question!r}")
        return self._engine.answer(
            question, conversation=conversation, audience=audience, filters=filters
        )

    def stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Iterator[StreamEvent]:
        if self._fault is Fault.RAISE:
            raise RuntimeError(f"engine exploded on {question!r}")
        if self._fault is Fault.ERROR_EVENT:
            yield StreamEvent("error", {"status": 422, "detail": "query must not be empty"})
            return
        events = self._engine.stream(
            question, conversation=conversation, audience=audience, filters=filters
        )
        yield next(iter(events))  # retrieval
        if self._fault is Fault.RAISE_MIDSTREAM:
            raise RuntimeError(f"engine exploded late on {question!r}")
        yield StreamEvent("error", {"status": 500, "detail": "answer composition failed"})


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
        >>> with ThreadServer(create_app(settings, engine=engine)) as server:
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
