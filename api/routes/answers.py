"""POST /v1/answers: one question, with the conversation so far sent by the client."""

from __future__ import annotations

from fastapi import APIRouter, Response

from answer.schema import Answer
from api.answering import audience_for, check_cited, check_question, log_answer
from api.conversation import from_history
from api.deps import EngineDep, PassagesDep, SettingsDep
from api.routes import streamed
from api.schemas import AnswerRequest
from api.streaming import prime, sse_events, sse_response

router = APIRouter(tags=["answers"])

ANSWER_STREAM = streamed(
    "The Answer JSON; with `stream: true`, Server-Sent Events: retrieval, section, sentence, "
    "references, done (or error), as in docs/api.md (Streaming).",
    ("retrieval", "section", "sentence", "references", "done", "error"),
)


@router.post(
    "/answers",
    response_model=Answer,
    summary="Answer a question (stateless; the client sends the history)",
    responses=ANSWER_STREAM,
)
def create_answer(
    body: AnswerRequest, engine: EngineDep, passages: PassagesDep, settings: SettingsDep
) -> Response:
    """Answer ``question`` with every sentence cited.

    ``history`` (user questions each followed by the assistant's answer) and
    ``cited_passage_ids`` (the passages the last answer cited) make it a follow-up: the
    retriever resolves it against the earlier turns, unless it judges the topic has changed.
    """
    check_question(body.question, settings)
    conversation = from_history(body.history, cited=body.cited_passage_ids)
    check_cited(passages, body.cited_passage_ids)
    audience = audience_for(body.audience, settings)
    filters = body.filters.to_filters() if body.filters else None
    if body.stream:
        first, events = prime(
            engine.stream(
                body.question, conversation=conversation, audience=audience, filters=filters
            )
        )
        return sse_response(sse_events(first, events, log_questions=settings.api.log_questions))
    answer = engine.answer(
        body.question, conversation=conversation, audience=audience, filters=filters
    )
    log_answer("answer", body.question, answer, settings, turns=len(conversation.turns))
    # Serialised once, as built: FastAPI would dump it, validate it again against Answer and
    # encode the result, about 30 times the cost of this call.
    return Response(answer.model_dump_json(), media_type="application/json")
