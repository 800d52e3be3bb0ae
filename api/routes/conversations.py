"""Server-side conversations: create, follow up, answer again, read, delete (kept in SQLite)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from sse_starlette import EventSourceResponse

from answer.schema import Answer, Audience
from api.answering import audience_for, check_question, log_answer
from api.conversation import from_turns
from api.deps import EngineDep, SettingsDep, StoreDep
from api.routes import PathId, Responses, not_found
from api.routes.answers import ANSWER_STREAM
from api.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    ErrorOut,
    FollowupCreate,
    FollowupOut,
    RegenerateCreate,
    TurnOut,
)
from api.store import NoTurnError, StoredConversation
from api.streaming import prime, sse_events, sse_response

router = APIRouter(prefix="/conversations", tags=["conversations"])

NOT_FOUND = not_found("No conversation has this id (or it was deleted).")
FULL: Responses = {
    409: {
        "model": ErrorOut,
        "description": "The conversation holds the most turns allowed (`api.max_turns`); "
        "start a new one.",
    }
}


def conversation_out(conversation: StoredConversation) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        audience=conversation.audience,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        turns=[
            TurnOut(
                index=t.index,
                question=t.question,
                audience=t.audience,
                asked_at=t.created_at,
                answer=t.answer,
            )
            for t in conversation.turns
        ],
    )


@router.post(
    "",
    response_model=ConversationCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Start a conversation (and answer its first question)",
    responses=ANSWER_STREAM,
)
def create_conversation(
    body: ConversationCreate, engine: EngineDep, store: StoreDep, settings: SettingsDep
) -> ConversationCreated | EventSourceResponse:
    """A new conversation. With ``question``, the first answer too (streamed with ``stream``).

    A streamed conversation is stored when its answer is complete, together with that answer,
    and its id arrives in the ``done`` event (``conversation_id``).
    """
    audience = audience_for(body.audience, settings)
    if body.question is None:
        created = store.create(audience)
        return ConversationCreated(
            id=created.id, audience=audience, created_at=created.created_at, turn=None, answer=None
        )
    question = body.question
    check_question(question, settings)
    filters = body.filters.to_filters() if body.filters else None
    if body.stream:

        def store_first(answer: Answer) -> dict[str, Any]:
            created = store.create(audience, question=question, answer=answer)
            log_answer("conversation", question, answer, settings, turn=0)
            return {"conversation_id": created.id}

        first, events = prime(engine.stream(question, audience=audience, filters=filters))
        return sse_response(
            sse_events(first, events, on_done=store_first, log_questions=settings.api.log_questions)
        )
    answer = engine.answer(question, audience=audience, filters=filters)
    created = store.create(audience, question=question, answer=answer)
    log_answer("conversation", question, answer, settings, turn=0)
    return ConversationCreated(
        id=created.id, audience=audience, created_at=created.created_at, turn=0, answer=answer
    )


@router.post(
    "/{conversation_id}/followups",
    response_model=FollowupOut,
    summary="Ask the next question in a conversation",
    responses={**ANSWER_STREAM, **NOT_FOUND, **FULL},
)
def create_followup(
    conversation_id: PathId,
    body: FollowupCreate,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> FollowupOut | EventSourceResponse:
    """Answer a follow-up using the conversation's earlier turns, and store it as the next turn.

    409 when the conversation already holds ``api.max_turns`` turns.
    """
    check_question(body.question, settings)
    stored = store.get(conversation_id)  # 404 (and 409) before any work
    store.check_room(stored)
    conversation = from_turns(stored.turns)
    audience: Audience = audience_for(body.audience, settings, stored.audience)
    filters = body.filters.to_filters() if body.filters else None
    question = body.question
    if body.stream:

        def store_turn(answer: Answer) -> dict[str, Any]:
            turn = store.add_turn(conversation_id, question, audience, answer)
            log_answer("followup", question, answer, settings, turn=turn.index)
            return {"conversation_id": conversation_id, "turn": turn.index}

        first, events = prime(
            engine.stream(question, conversation=conversation, audience=audience, filters=filters)
        )
        return sse_response(
            sse_events(first, events, on_done=store_turn, log_questions=settings.api.log_questions)
        )
    answer = engine.answer(question, conversation=conversation, audience=audience, filters=filters)
    turn = store.add_turn(conversation_id, question, audience, answer)
    log_answer("followup", question, answer, settings, turn=turn.index)
    return FollowupOut(conversation_id=conversation_id, turn=turn.index, answer=answer)


@router.post(
    "/{conversation_id}/regenerate",
    response_model=FollowupOut,
    summary="Answer the last question again, e.g. for the other audience",
    responses={**ANSWER_STREAM, **NOT_FOUND},
)
def regenerate_last_answer(
    conversation_id: PathId,
    body: RegenerateCreate,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> FollowupOut | EventSourceResponse:
    """Answer the last question again, with the turns before it as context, and store the new
    answer in its place (the question and its time stay).

    A reader who switches from clinician to patient wording sees the current answer rewritten,
    and a reload shows what they saw last. Streamed, the turn is replaced when the answer is
    complete; a failed or stopped stream leaves the stored answer as it was. 404 for a
    conversation without a question.
    """
    stored = store.get(conversation_id)  # 404 before any work
    if not stored.turns:
        raise NoTurnError(conversation_id)
    last = stored.turns[-1]
    conversation = from_turns(stored.turns[:-1])
    audience: Audience = audience_for(body.audience, settings, last.audience)
    filters = body.filters.to_filters() if body.filters else None
    question = last.question
    if body.stream:

        def store_answer(answer: Answer) -> dict[str, Any]:
            turn = store.replace_answer(conversation_id, last.index, audience, answer)
            log_answer("regenerate", question, answer, settings, turn=turn.index)
            return {"conversation_id": conversation_id, "turn": turn.index}

        first, events = prime(
            engine.stream(question, conversation=conversation, audience=audience, filters=filters)
        )
        return sse_response(
            sse_events(
                first, events, on_done=store_answer, log_questions=settings.api.log_questions
            )
        )
    answer = engine.answer(question, conversation=conversation, audience=audience, filters=filters)
    turn = store.replace_answer(conversation_id, last.index, audience, answer)
    log_answer("regenerate", question, answer, settings, turn=turn.index)
    return FollowupOut(conversation_id=conversation_id, turn=turn.index, answer=answer)


@router.get(
    "/{conversation_id}",
    response_model=ConversationOut,
    summary="A conversation with all its turns and answers",
    responses=NOT_FOUND,
)
def read_conversation(conversation_id: PathId, store: StoreDep) -> ConversationOut:
    return conversation_out(store.get(conversation_id))


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a conversation and its turns",
    responses=NOT_FOUND,
)
def delete_conversation(conversation_id: PathId, store: StoreDep) -> Response:
    """204; afterwards the conversation is 404 everywhere."""
    store.delete(conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
