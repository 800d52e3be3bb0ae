"""Checks and defaults shared by the routes that answer questions.

Example:
    >>> check_question("Is B12 low with low ferritin?", settings)
    >>> audience_for(None, settings)
    <Audience.CLINICIAN: 'clinician'>
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from answer.schema import Answer, Audience
from answer.settings import Settings
from answer.types import PassageLookup
from api.errors import InvalidHistoryError, QuestionTooLongError

logger = logging.getLogger(__name__)


def check_question(question: str, settings: Settings) -> None:
    """Raise :class:`QuestionTooLongError` over ``settings.api.max_question_chars``.

    Emptiness is checked by the request models (422 before this runs).
    """
    limit = settings.api.max_question_chars
    if len(question) > limit:
        raise QuestionTooLongError(
            f"question is {len(question)} characters long; the limit is {limit}"
        )


def audience_for(
    requested: Audience | None, settings: Settings, fallback: Audience | None = None
) -> Audience:
    """The requested audience, else the conversation's, else the configured default."""
    if requested is not None:
        return requested
    if fallback is not None:
        return fallback
    return Audience(settings.answer.audience)


def check_cited(passages: PassageLookup, passage_ids: Sequence[str]) -> None:
    """Raise :class:`InvalidHistoryError` naming the first id the index does not have."""
    for position, passage_id in enumerate(passage_ids):
        if passages.get(passage_id) is None:
            raise InvalidHistoryError(
                f"cited_passage_ids[{position}]: unknown passage id {passage_id!r}"
            )


def log_answer(
    kind: str, question: str, answer: Answer, settings: Settings, **fields: object
) -> None:
    """One INFO line per answer: sizes and timings, and the question only if allowed."""
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    if settings.api.log_questions:
        logger.info(
            "%s %s refs=%d abstained=%s question=%r",
            kind,
            extra,
            len(answer.references),
            answer.abstained,
            question,
        )
    else:
        logger.info(
            "%s %s chars=%d refs=%d abstained=%s",
            kind,
            extra,
            len(question),
            len(answer.references),
            answer.abstained,
        )
