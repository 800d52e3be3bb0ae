"""The answer package's seam: the :class:`Engine` the API serves from, and its stream's events.

``answer.engine.IndexEngine`` (made by ``answer.engine.build_engine``) is the engine; the API
depends only on this Protocol, so a test can hand it another implementation.

Example:
    >>> def first_event(engine: Engine) -> str:
    ...     return next(iter(engine.stream("What is pernicious anemia?"))).name
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from answer.schema import Answer, Audience
    from corpus.types import Passage
    from index.manifest import Manifest
    from retriever.types import Conversation, Evidence, Filters


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event: ``event: <name>`` with a JSON ``data`` payload.

    Order: retrieval, then (section, sentence*)*, references, done; or an ``error``
    ``{status, detail}`` as the last event. See docs/api.md.
    """

    name: str
    data: dict[str, Any]


class PassageLookup(Protocol):
    """Finds passages by id (``index.load.PassageIndex`` is one)."""

    def get(self, passage_id: str) -> Passage | None: ...


class Engine(Protocol):
    """Answers, whole or streamed, and searches over one loaded index: what the API serves.

    ``answer`` and ``search`` raise ``retriever.types.EmptyQueryError`` for an empty question
    or query; ``search`` raises ``ValueError`` for ``top_k`` below 1. ``stream`` never raises
    for a failure of its own: it ends with an ``error`` event instead (status 422 for a bad
    question, 500 otherwise).
    """

    @property
    def manifest(self) -> Manifest | None:
        """The manifest of the index answers come from (``None`` without an index)."""
        ...

    def passage(self, passage_id: str) -> Passage | None:
        """A passage of the index by id, ``None`` if there is none."""
        ...

    def search(self, query: str, *, top_k: int = 10, filters: Filters | None = None) -> Evidence:
        """The evidence an answer to ``query`` would draw on, each list ``top_k`` long."""
        ...

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """The cited answer to ``question``, asked in ``conversation``."""
        ...

    def stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Iterator[StreamEvent]:
        """The answer as events, in the order :class:`StreamEvent` gives."""
        ...
