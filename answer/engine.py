"""The engine: one object that the CLI, the API and the eval harness share, built in one place.

Example:
    >>> engine = build_engine(Settings(index={"path": "var/demo-index"}))  # doctest: +SKIP
    >>> engine.answer("Are vitamin B12 levels higher with lower ferritin levels?").abstained
    False
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from answer.schema import Answer, Audience
from answer.settings import Settings
from retriever.types import Conversation, Evidence, Filters


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event: ``event: <name>`` with a JSON ``data`` payload.

    Order: retrieval, then (section, sentence*)*, references, done. See docs/TEAM.md.
    """

    name: str
    data: dict[str, Any]


class Engine:
    """Retrieval plus answer composition over one loaded index."""

    def search(self, query: str, *, top_k: int = 10, filters: Filters | None = None) -> Evidence:
        raise NotImplementedError

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience = Audience.CLINICIAN,
        filters: Filters | None = None,
    ) -> Answer:
        raise NotImplementedError

    def stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience = Audience.CLINICIAN,
        filters: Filters | None = None,
    ) -> Iterator[StreamEvent]:
        raise NotImplementedError


def build_engine(settings: Settings) -> Engine:
    """Load the index and model named in ``settings`` and assemble the engine."""
    raise NotImplementedError
