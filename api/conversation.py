"""Turning what clients send (messages) and what the store keeps (turns) into a Conversation.

Example:
    >>> history = [Message(role="user", content="Is B12 low with low ferritin?"),
    ...            Message(role="assistant", content="Lower ferritin went with ... [1]")]
    >>> from_history(history, cited=["p1a2b3c4d5e6f7a8b"]).turns[-1].cited
    ('p1a2b3c4d5e6f7a8b',)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from answer.render import cited_passage_ids, plain_text
from answer.schema import Answer
from api.errors import InvalidHistoryError
from api.store import StoredTurn
from retriever.types import Conversation, Turn

# Passage ids (corpus.types.passage_id) quoted in an earlier answer's text, e.g. in links of
# a Markdown references block: they are the passages that answer cited.
_PASSAGE_ID = re.compile(r"\bp[0-9a-f]{16}\b")


# The blocks of answer.render.to_markdown that follow the answer's sentences.
_TRAILER_HEADINGS = ("## References", "## Suggested follow-up questions", "---")
_MARKERS = re.compile(r"(\s*\[\d+\])+")
_DESIGN_NOTE = re.compile(r"\s*\*\([^)]*\)\*")


def turn_of(question: str, answer: Answer) -> Turn:
    """The retriever's view of one answered question."""
    return Turn(question=question, answer=plain_text(answer), cited=cited_passage_ids(answer))


def message_text(content: str) -> str:
    """The quoted sentences of an earlier answer as a client sends it back.

    Clients send back what they were given: for chat completions that is the Markdown of
    ``answer.render.to_markdown``. Its headings, notices, [n] markers, design notes, references
    and disclaimer would only add noise to the follow-up query, so they are dropped; plain text
    passes through unchanged (apart from [n] markers).
    """
    kept = []
    for line in content.splitlines():
        stripped = line.strip()
        if stripped.startswith(_TRAILER_HEADINGS):
            break
        if not stripped or stripped.startswith(("#", "> **Note:**")):
            continue
        stripped = stripped.removeprefix("- ")
        kept.append(_DESIGN_NOTE.sub("", _MARKERS.sub("", stripped)).strip())
    return " ".join(part for part in kept if part)


def from_turns(turns: Iterable[StoredTurn]) -> Conversation:
    """The conversation so far, from a stored conversation's turns."""
    return Conversation(turns=tuple(turn_of(t.question, t.answer) for t in turns))


def ids_in(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_PASSAGE_ID.findall(text)))


def from_history(
    history: Sequence[tuple[str, str]] | Sequence[object],
    *,
    cited: Sequence[str] = (),
    strict: bool = True,
) -> Conversation:
    """A conversation from client-side messages, oldest first.

    Each user message opens a turn; the assistant message after it is that turn's answer.
    Passage ids quoted in an assistant message count as cited by it, and ``cited`` (the
    client's list for the last answer) is added to the last assistant turn.

    Args:
        history: messages with ``role`` ("user" / "assistant") and ``content``, or
            ``(role, content)`` pairs.
        cited: passage ids the last assistant message cited.
        strict: reject an assistant message with no question before it, and two assistant
            messages in a row (for the native API); when false they are skipped (OpenAI
            clients sometimes open with an assistant greeting).

    Raises:
        InvalidHistoryError: a history that does not alternate as described (strict), or
            ``cited`` without any assistant message.
    """
    turns: list[Turn] = []
    open_turn = False  # the last turn has a question and no answer yet
    last_answered: int | None = None
    for position, message in enumerate(history):
        role, content = (
            message
            if isinstance(message, tuple)
            else (
                message.role,  # type: ignore[attr-defined]
                message.content,  # type: ignore[attr-defined]
            )
        )
        if role == "user":
            turns.append(Turn(question=content))
            open_turn = True
        elif role == "assistant":
            if not open_turn:
                if strict:
                    raise InvalidHistoryError(
                        f"history[{position}] is an assistant message without a user "
                        "question before it"
                    )
                continue
            turns[-1] = Turn(turns[-1].question, message_text(content), ids_in(content))
            open_turn = False
            last_answered = len(turns) - 1
    if cited:
        if last_answered is None:
            raise InvalidHistoryError(
                "cited_passage_ids were given but history has no assistant message to attach "
                "them to"
            )
        last = turns[last_answered]
        turns[last_answered] = Turn(
            last.question, last.answer, tuple(dict.fromkeys((*last.cited, *cited)))
        )
    return Conversation(turns=tuple(turns))
