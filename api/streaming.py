"""Server-Sent Events: the engine's events on the wire, and OpenAI's chunk stream.

The native stream is exactly the engine's events (docs/api.md): ``retrieval``, then
``section`` and ``sentence`` events, ``references``, ``done``; on failure one ``error``
event ``{status, detail}`` ends it. The first event is computed before the response starts
(:func:`prime`), so an error in retrieval is still an ordinary HTTP error with its status.

The framing is sse-starlette's ``EventSourceResponse``: it sends a comment line (``: ping``)
every :data:`PING_SECONDS` while an event is being computed, so proxies that close idle
connections keep the stream open, and it stops the stream when the client disconnects. The
events are produced by a plain iterator in a worker thread, a run of them per trip
(:func:`in_runs`): nothing is locked between two events.

Example:
    >>> first, events = prime(engine.stream("Is B12 low with low ferritin?"))
    >>> response = sse_response(sse_events(first, events))
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import islice
from typing import Any

from fastapi.encoders import jsonable_encoder
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from answer.render import to_markdown
from answer.schema import Answer, AnswerSection, SectionKind, Sentence
from answer.types import StreamEvent
from api.errors import EngineReportedError, detail_for, log_unexpected, status_for

logger = logging.getLogger(__name__)

SSE_MEDIA_TYPE = "text/event-stream"
# A keep-alive comment this often while no event is sent: below the 30-60 s idle timeouts of
# common proxies and load balancers.
PING_SECONDS = 15


def encode(name: str | None, data: Any) -> ServerSentEvent:
    """One event: ``event: <name>`` (none for OpenAI's chunks) and its data as one JSON line."""
    payload = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(payload, event=name, sep="\n")


def prime(events: Iterator[StreamEvent]) -> tuple[StreamEvent | None, Iterator[StreamEvent]]:
    """Compute the first event now, so a failure before it is an HTTP error with its status.

    The engine may raise, or report the failure as an ``error`` event; either way nothing has
    been sent yet.

    Raises:
        EngineReportedError: the first event is an ``error`` event.
    """
    first = next(events, None)
    if first is not None and first.name == "error":
        raise EngineReportedError(
            int(first.data.get("status", 500)), str(first.data.get("detail", "the answer failed"))
        )
    return first, events


def answer_of(event: StreamEvent) -> Answer:
    """The Answer carried by a ``done`` event (a model or its JSON)."""
    value = event.data["answer"]
    return value if isinstance(value, Answer) else Answer.model_validate(value)


def sse_events(
    first: StreamEvent | None,
    events: Iterator[StreamEvent],
    *,
    on_done: Callable[[Answer], dict[str, Any]] | None = None,
    log_questions: bool = False,
) -> Iterator[ServerSentEvent]:
    """The wire form of the engine's events.

    Args:
        first: the event :func:`prime` computed.
        events: the rest.
        on_done: called with the final answer before ``done`` is sent (to store it); the dict
            it returns is merged into the ``done`` data (``conversation_id``).
        log_questions: passed to the error log.
    """
    try:
        pending = [first] if first is not None else []
        for event in chain(pending, events):
            data = dict(event.data)
            if event.name == "done" and on_done is not None:
                data.update(on_done(answer_of(event)))
            yield encode(event.name, data)
    except Exception as exc:  # the response has started: report in-band
        status = status_for(exc)
        if status >= 500 and not isinstance(exc, EngineReportedError):  # the engine logged it
            log_unexpected(exc, "answer stream", log_questions=log_questions)
        yield encode("error", {"status": status, "detail": detail_for(exc)})


def chain(first: list[StreamEvent], rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    """The primed event(s), then the rest."""
    yield from first
    yield from rest


def sse_response(body: Iterator[ServerSentEvent]) -> EventSourceResponse:
    """The stream, with keep-alive pings; no caching, and no buffering by a reverse proxy."""
    return EventSourceResponse(
        in_runs(body), ping=PING_SECONDS, sep="\n", headers={"Cache-Control": "no-cache"}
    )


# Events taken from the iterator per trip to a worker thread.
RUN = 64


async def in_runs(events: Iterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    """``events``, advanced in a worker thread up to :data:`RUN` at a time: one thread hand-off
    per run, not per event (under 8 clients, a hand-off per sentence made a streamed answer
    take up to twice as long as a plain one). The engine composes the whole answer before its
    first section event, so a run holds nothing back that was ready earlier."""
    while True:
        run = await run_in_threadpool(list, islice(events, RUN))
        for event in run:
            yield event
        if len(run) < RUN:
            return


# ----------------------------------------------------------------------- OpenAI chunks


class MarkdownProgress:
    """The Markdown of an answer as its events arrive, in deltas that add up to the whole.

    ``to_markdown`` of a partial answer (the sections and sentences so far) is the final
    Markdown's prefix followed by a trailer (the disclaimer block); what comes before the
    trailer never changes as sentences are added, so it can be sent at once. At ``done`` the
    rest of the final Markdown is sent. Should the renderer ever stop being prefix-stable,
    the deltas stop early and the last one carries the remainder, so the content still adds
    up to ``to_markdown(answer)`` as long as nothing sent so far differs from it.

    Args:
        question: the question (for the partial answers).
    """

    def __init__(self, question: str) -> None:
        self._question = question
        self._standalone = question
        self._sections: list[AnswerSection] = []
        self._sent = ""
        self._progressive = True

    @property
    def sent(self) -> str:
        return self._sent

    def feed(self, event: StreamEvent) -> str:
        """The new Markdown this event makes final ("" if none)."""
        data = event.data
        if event.name == "retrieval":
            self._standalone = str(data.get("standalone_query") or self._question)
        elif event.name == "section":
            self._sections.append(
                AnswerSection(
                    kind=SectionKind(data["kind"]), title=str(data["title"]), sentences=[]
                )
            )
        elif event.name == "sentence" and self._sections:
            section = self._sections[-1]
            sentence = Sentence.model_validate(
                {key: value for key, value in data.items() if key != "section"}
            )
            self._sections[-1] = section.model_copy(
                update={"sentences": [*section.sentences, sentence]}
            )
            return self._advance(self._stable())
        return ""

    def finish(self, answer: Answer) -> str:
        """The rest of the final Markdown."""
        final = to_markdown(answer)
        if not final.startswith(self._sent):
            logger.warning("streamed Markdown is not a prefix of the final answer's Markdown")
            common = 0
            for a, b in zip(self._sent, final, strict=False):
                if a != b:
                    break
                common += 1
            self._sent = final
            return final[common:]
        return self._advance(final)

    def _advance(self, text: str | None) -> str:
        if text is None or not text.startswith(self._sent):
            self._progressive = False
            return ""
        delta, self._sent = text[len(self._sent) :], text
        return delta

    def _stable(self) -> str | None:
        if not self._progressive:
            return None
        sections = [s for s in self._sections if s.sentences]
        partial = self._partial(sections)
        trailer = "\n\n" + to_markdown(self._partial([]))
        rendered = to_markdown(partial)
        if not rendered.endswith(trailer):
            return None
        return rendered[: -len(trailer)]

    def _partial(self, sections: list[AnswerSection]) -> Answer:
        return Answer(
            question=self._question,
            standalone_query=self._standalone,
            sections=sections,
            references=[],
            generator="extractive",  # not rendered
        )


def completion_id() -> str:
    """A chat completion id, unique across worker processes."""
    return f"chatcmpl-{secrets.token_hex(12)}"
