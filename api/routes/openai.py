"""POST /v1/chat/completions: the answer engine behind OpenAI's chat API.

The messages are the conversation: earlier user and assistant messages become its turns,
the last message is the question (it must be the user's). System messages are ignored: the
engine quotes evidence and takes no instructions. The reply's content is the answer in
Markdown (``answer.render.to_markdown``) with [n] markers and a references block; the
structured references travel in ``references`` on the completion (and on the last chunk of a
stream), where the OpenAI client exposes them as ``completion.model_extra["references"]``.
Passages the previous answer cited can be sent back as ``cited_passage_ids`` (``extra_body``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from sse_starlette import EventSourceResponse, ServerSentEvent

from answer.render import to_markdown
from answer.schema import Answer
from answer.types import StreamEvent
from api.answering import audience_for, check_cited, check_question, log_answer
from api.conversation import from_history
from api.deps import EngineDep, PassagesDep, SettingsDep
from api.errors import (
    EngineReportedError,
    InvalidHistoryError,
    UnknownModelError,
    detail_for,
    log_unexpected,
    status_for,
)
from api.routes import not_found, streamed
from api.schemas import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ModelList,
    ModelOut,
    Usage,
    is_blank,
)
from api.streaming import (
    MarkdownProgress,
    answer_of,
    chain,
    completion_id,
    encode,
    prime,
    sse_response,
)

router = APIRouter(tags=["openai"])

MODEL_ID = "followup"
_CREATED = int(time.time())


def _words(text: str) -> int:
    return len(text.split())


@router.get("/models", response_model=ModelList, summary="The one model served (OpenAI format)")
def list_models() -> ModelList:
    return ModelList(data=[ModelOut(id=MODEL_ID, created=_CREATED)])


def _question_and_history(body: ChatCompletionRequest) -> tuple[str, list[tuple[str, str]]]:
    messages: list[tuple[str, str]] = [
        (m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")
    ]
    if not messages or messages[-1][0] != "user":
        raise InvalidHistoryError("the last message must be the user's question")
    question = messages[-1][1].strip()
    if is_blank(question):
        raise InvalidHistoryError("the last user message must not be empty")
    return question, messages[:-1]


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat completion",
    responses={
        **streamed(
            "A chat.completion; with `stream: true`, chat.completion.chunk events and "
            "`data: [DONE]`.",
            None,
        ),
        **not_found("Another model than the one served."),
    },
)
def chat_completions(
    body: ChatCompletionRequest,
    engine: EngineDep,
    passages: PassagesDep,
    settings: SettingsDep,
) -> ChatCompletion | EventSourceResponse:
    """Answer the last user message, with the earlier messages as the conversation."""
    if body.model != MODEL_ID:
        raise UnknownModelError(f"unknown model {body.model!r}; this service serves {MODEL_ID!r}")
    question, history = _question_and_history(body)
    check_question(question, settings)
    conversation = from_history(history, cited=body.cited_passage_ids, strict=False)
    check_cited(passages, body.cited_passage_ids)
    audience = audience_for(body.audience, settings)
    filters = body.filters.to_filters() if body.filters else None
    created = int(time.time())
    cid = completion_id()
    if body.stream:
        first, events = prime(
            engine.stream(question, conversation=conversation, audience=audience, filters=filters)
        )
        chunks = _chunks(
            cid, created, body.model, question, first, events, settings.api.log_questions
        )
        return sse_response(chunks)
    answer = engine.answer(question, conversation=conversation, audience=audience, filters=filters)
    log_answer("chat", question, answer, settings, turns=len(conversation.turns))
    content = to_markdown(answer)
    prompt_words = sum(_words(m.text()) for m in body.messages)
    return ChatCompletion(
        id=cid,
        created=created,
        model=body.model,
        choices=[ChatCompletionChoice(message=ChatCompletionMessage(content=content))],
        usage=Usage(
            prompt_tokens=prompt_words,
            completion_tokens=_words(content),
            total_tokens=prompt_words + _words(content),
        ),
        references=answer.references,
        suggested_followups=answer.suggested_followups,
        standalone_query=answer.standalone_query,
    )


def _data(payload: Any) -> ServerSentEvent:
    return encode(None, payload)


def _chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **extra: Any,
) -> ServerSentEvent:
    return _data(
        {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
    )


def _chunks(
    cid: str,
    created: int,
    model: str,
    question: str,
    first: StreamEvent | None,
    events: Iterator[StreamEvent],
    log_questions: bool,
) -> Iterator[ServerSentEvent]:
    """OpenAI's stream: a role chunk, content deltas, a final chunk with the references, [DONE]."""
    progress = MarkdownProgress(question)
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    answer: Answer | None = None
    try:
        pending = [first] if first is not None else []
        for event in chain(pending, events):
            if event.name == "error":
                raise EngineReportedError(
                    int(event.data.get("status", 500)), str(event.data.get("detail", "failed"))
                )
            if event.name == "done":
                answer = answer_of(event)
                delta = progress.finish(answer)
            else:
                delta = progress.feed(event)
            if delta:
                yield _chunk(cid, created, model, {"content": delta})
    except Exception as exc:  # the response has started: report in-band, as OpenAI does
        status = status_for(exc)
        if status >= 500 and not isinstance(exc, EngineReportedError):  # the engine logged it
            log_unexpected(exc, "chat completion stream", log_questions=log_questions)
        yield _data(
            {
                "error": {
                    "message": detail_for(exc),
                    "code": status,
                    "type": "server_error" if status >= 500 else "invalid_request_error",
                }
            }
        )
        return
    if answer is None:
        yield _data(
            {
                "error": {
                    "message": "the answer stream ended early",
                    "code": 500,
                    "type": "server_error",
                }
            }
        )
        return
    yield _chunk(
        cid,
        created,
        model,
        {},
        "stop",
        references=jsonable_encoder(answer.references),
        suggested_followups=answer.suggested_followups,
        standalone_query=answer.standalone_query,
    )
    yield ServerSentEvent("[DONE]", sep="\n")
