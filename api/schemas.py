"""Request and response models of the HTTP API (the Answer itself is ``answer.schema.Answer``).

Request models forbid unknown fields, so a misspelt field (``"questoin"``) is a 422 rather than
silently ignored; the OpenAI-compatible request is the exception, since OpenAI clients send
many options (temperature, top_p, ...) that an extractive engine has no use for.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from answer.schema import Answer, Audience, Reference
from corpus.types import EvidenceKind, EvidenceTier, Passage
from retriever.types import Filters, ScoredPassage

# Bounds that keep one request's work small; the body size limit is the other half.
MAX_HISTORY_MESSAGES = 200
MAX_CITED_IDS = 200
MAX_TOP_K = 50
MAX_MESSAGE_CHARS = 20_000  # one history message: an earlier answer's Markdown is a few kB
MAX_NAME_CHARS = 200  # a publisher or journal name
MAX_FILTER_ITEMS = 50  # values in one filter list

# Ids (conversations, passages, model names, field names): letters, digits, '_' and '-'.
# Nothing invisible or direction-changing (U+202A-U+202E, U+2066-U+2069) can hide in one.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
_ID = re.compile(ID_PATTERN)

EXAMPLE_QUESTION = "Are vitamin B12 levels higher with lower ferritin levels?"
EXAMPLE_FOLLOWUP = "What about in pregnancy?"
# The examples' earlier answer is real: a sentence the demo index's answer to EXAMPLE_QUESTION
# quotes, from the passage it cites as [1] (NIH, "Pernicious Anemia"; its id in the demo index).
# tests/test_api_hardening2.py posts the example to an app on the demo index.
EXAMPLE_ANSWER = (
    "A low level of vitamin B12 in the blood indicates pernicious anemia. However, a falsely "
    "normal or high value of vitamin B12 in the blood may occur if antibodies interfere with "
    "the test. [1]"
)
EXAMPLE_CITED = "p817388178747f46c"


# Characters that show nothing: a question of only these (and spaces) is empty.
_INVISIBLE = re.compile("[\\s\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]+")


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: empty, spaces, or zero-width characters only."""
    return not _INVISIBLE.sub("", text)


def _text(value: str, name: str = "question") -> str:
    value = value.strip()
    if is_blank(value):
        raise ValueError(f"{name} must not be empty")
    return value


# A UTF-16 surrogate on its own: JSON can spell one ("\ud800"), but it is no Unicode
# character, and encoding it (to the model's tokenizer, the log, SQLite) fails.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _ValidText(BaseModel):
    """Every request model: its text fields (and lists of text) must be valid Unicode, and
    the names of extra fields (where a model allows them) must be ids."""

    @field_validator("*", mode="before")  # before length limits, which cannot read it
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        if any(isinstance(t, str) and _LONE_SURROGATE.search(t) for t in texts):
            raise ValueError("contains an unpaired surrogate: not valid Unicode text")
        return value

    @model_validator(mode="after")
    def _extra_names_are_ids(self) -> Any:
        for name in self.model_extra or {}:
            if not _ID.match(name):
                shown = name.encode("unicode_escape").decode()  # invisible characters as \\u...
                raise ValueError(f"field name '{shown}' is not a name of letters, digits, _ and -")
        return self


class _Request(_ValidText):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------- shared


class Message(_Request):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(
        max_length=MAX_MESSAGE_CHARS,
        description="The question (user) or the answer's text (assistant).",
    )

    @field_validator("content")
    @classmethod
    def _check_content(cls, value: str) -> str:
        return _text(value, "content")


class FiltersIn(_Request):
    """Restrictions on the evidence. Omitted or null fields do not restrict."""

    tiers: list[EvidenceKind] | None = Field(
        None,
        max_length=MAX_FILTER_ITEMS,
        description="Evidence groups to keep: 'guideline' and/or 'research'.",
    )
    designs: list[EvidenceTier] | None = Field(
        None,
        max_length=MAX_FILTER_ITEMS,
        description="Evidence tiers or study designs to keep, e.g. ['guideline', 'rct'].",
    )
    publishers: list[Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]] | None = Field(
        None,
        max_length=MAX_FILTER_ITEMS,
        description="Publishers or journals to keep (case-insensitive exact names).",
    )
    year_from: StrictInt | None = Field(
        None, ge=1000, le=3000, description="Earliest year, inclusive; not after year_to."
    )
    year_to: StrictInt | None = Field(
        None, ge=1000, le=3000, description="Latest year, inclusive; not before year_from."
    )

    @field_validator("publishers")
    @classmethod
    def _names_not_blank(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(is_blank(name) for name in value):
            raise ValueError("a publisher name must not be empty")
        return value

    @model_validator(mode="after")
    def _years_in_order(self) -> FiltersIn:
        if (
            self.year_from is not None
            and self.year_to is not None
            and self.year_from > self.year_to
        ):
            raise ValueError(f"year_from ({self.year_from}) is after year_to ({self.year_to})")
        return self

    def to_filters(self) -> Filters:
        return Filters(
            kinds=frozenset(self.tiers) if self.tiers is not None else None,
            designs=frozenset(self.designs) if self.designs is not None else None,
            sources=frozenset(self.publishers) if self.publishers is not None else None,
            year_from=self.year_from,
            year_to=self.year_to,
        )


# ---------------------------------------------------------------------------------- answers


class AnswerRequest(_Request):
    """A question, optionally with the conversation so far (client-side history)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {
                    "question": EXAMPLE_FOLLOWUP,
                    "audience": "patient",
                    "history": [
                        {"role": "user", "content": EXAMPLE_QUESTION},
                        {"role": "assistant", "content": EXAMPLE_ANSWER},
                    ],
                    "cited_passage_ids": [EXAMPLE_CITED],
                    "filters": {"tiers": ["guideline"]},
                    "stream": False,
                },
            ]
        },
    )

    question: str = Field(description="The (follow-up) question, in plain words.")
    audience: Audience | None = Field(None, description="Wording; default from the settings.")
    history: list[Message] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_MESSAGES,
        description="Earlier messages, oldest first: user questions each followed by the "
        "assistant's answer.",
    )
    cited_passage_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_CITED_IDS,
        description="Passages the last assistant answer cited (its references' passage_id); "
        "they anchor the follow-up.",
    )
    filters: FiltersIn | None = None
    stream: StrictBool = Field(
        False, description="Answer as Server-Sent Events (text/event-stream)."
    )

    @field_validator("question")
    @classmethod
    def _check_question(cls, value: str) -> str:
        return _text(value)


class ConversationCreate(_Request):
    """Start a server-side conversation, optionally with its first question."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION, "audience": "clinician"},
                {"audience": "patient"},
                {"question": EXAMPLE_QUESTION, "stream": True},
            ]
        },
    )

    question: str | None = Field(None, description="The first question, if any.")
    audience: Audience | None = Field(
        None, description="Default wording for the conversation's answers."
    )
    filters: FiltersIn | None = None
    stream: StrictBool = Field(
        False, description="Answer the first question as Server-Sent Events."
    )

    @field_validator("question")
    @classmethod
    def _check_question(cls, value: str | None) -> str | None:
        return None if value is None else _text(value)


class FollowupCreate(_Request):
    """The next question in a server-side conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_FOLLOWUP},
                {"question": "And for children?", "stream": True},
            ]
        },
    )

    question: str = Field(description="The follow-up question.")
    audience: Audience | None = Field(None, description="Overrides the conversation's audience.")
    filters: FiltersIn | None = None
    stream: StrictBool = Field(False, description="Answer as Server-Sent Events.")

    @field_validator("question")
    @classmethod
    def _check_question(cls, value: str) -> str:
        return _text(value)


class RegenerateCreate(_Request):
    """Answer a conversation's last question again, e.g. for the other audience."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"audience": "patient"}, {"audience": "clinician", "stream": True}]
        },
    )

    audience: Audience | None = Field(
        None, description="Wording of the new answer; default: the last turn's audience."
    )
    filters: FiltersIn | None = None
    stream: StrictBool = Field(False, description="Answer as Server-Sent Events.")


class TurnOut(BaseModel):
    """One question of a conversation and the answer it got."""

    index: int = Field(description="0 for the first question.")
    question: str
    audience: Audience
    asked_at: str = Field(description="UTC time, ISO 8601.")
    answer: Answer


class ConversationOut(BaseModel):
    """A server-side conversation with all its turns, oldest first."""

    id: str
    audience: Audience
    created_at: str
    updated_at: str
    turns: list[TurnOut]


class ConversationCreated(BaseModel):
    """A new conversation; ``answer`` is the first answer when a question was given."""

    id: str
    audience: Audience
    created_at: str
    turn: int | None = Field(None, description="0 when the first question was answered.")
    answer: Answer | None = None


class FollowupOut(BaseModel):
    """The answer to a follow-up, and where it sits in the conversation."""

    conversation_id: str
    turn: int
    answer: Answer


# ----------------------------------------------------------------------- search, passages


class SearchRequest(_Request):
    """Retrieval only: the passages an answer would be drawn from."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "ferritin and vitamin B12", "top_k": 5},
                {
                    "query": "iron supplements in pregnancy",
                    "filters": {"designs": ["rct", "systematic_review"], "year_from": 2005},
                },
                {"query": "anemia", "filters": {"tiers": ["guideline"], "publishers": ["NIH"]}},
            ]
        },
    )

    query: str = Field(description="What to search for.")
    top_k: StrictInt = Field(10, ge=1, le=MAX_TOP_K, description="Passages in the fused list.")
    filters: FiltersIn | None = None

    @field_validator("query")
    @classmethod
    def _check_query(cls, value: str) -> str:
        return _text(value, "query")


class PassageOut(BaseModel):
    """A passage with everything needed to cite it."""

    id: str
    document_id: str
    text: str
    title: str
    section: str
    source: str = Field(description="Publisher (guidelines) or journal / data set (research).")
    year: int | None
    url: str | None
    tier: str = Field(description="'guideline' or 'research'.")
    design: str = Field(description="Evidence tier or study design, e.g. 'guideline', 'rct'.")
    licence: str
    dataset: str
    start: int = Field(description="Offset of the passage in its document's text.")
    end: int = Field(description="End offset (exclusive) in the document's text.")

    @classmethod
    def of(cls, passage: Passage) -> PassageOut:
        return cls(
            id=passage.id,
            document_id=passage.document_id,
            text=passage.text,
            title=passage.title,
            section=passage.section,
            source=passage.source,
            year=passage.year,
            url=passage.url,
            tier=passage.tier.kind.value,
            design=passage.tier.value,
            licence=passage.licence,
            dataset=passage.dataset,
            start=passage.start,
            end=passage.end,
        )


class ScoredPassageOut(PassageOut):
    score: float = Field(description="The retriever's score (fused lists: the fusion score).")

    @classmethod
    def scored(cls, item: ScoredPassage) -> ScoredPassageOut:
        return cls(**PassageOut.of(item.passage).model_dump(), score=item.score)


class SearchResponse(BaseModel):
    """The retrieved passages: fused, and split into guideline and research."""

    query: str
    standalone_query: str = Field(description="The query text actually searched.")
    topic_shift: bool
    fused: list[ScoredPassageOut]
    guideline: list[ScoredPassageOut]
    research: list[ScoredPassageOut]
    timings_ms: dict[str, float] = Field(default_factory=dict)


# ----------------------------------------------------------------------------------- errors


class ErrorOut(BaseModel):
    """Every error response: one sentence a client can show."""

    detail: str


class ValidationIssue(BaseModel):
    """One problem of a request that failed validation (without the input it was in)."""

    loc: list[str | int] = Field(description="Where: e.g. ['body', 'question'].")
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    """Invalid input: the sentence, and for a request that failed validation each problem."""

    errors: list[ValidationIssue] = Field(
        default_factory=list,
        description="Each problem, when the request failed validation (not for a question "
        "that is too long or has no word, or a history that does not alternate).",
    )


# ----------------------------------------------------------------------------------- health


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready", "loading", "failed"]
    detail: str | None = None
    manifest: dict[str, Any] | None = Field(None, description="The loaded index's manifest.")


# ------------------------------------------------------------------ OpenAI chat completions


class TextPart(_ValidText):
    model_config = ConfigDict(extra="allow")

    type: Id
    text: str | None = Field(None, max_length=MAX_MESSAGE_CHARS)


class ChatMessage(_ValidText):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: (
        Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | list[TextPart] | None
    ) = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class ChatCompletionRequest(_ValidText):
    """OpenAI's chat completion request; the last message must be the user's question.

    Unknown OpenAI options (temperature, max_tokens, ...) are accepted and ignored. Extra
    fields of this service: ``audience``, ``filters`` and ``cited_passage_ids`` (send them with
    ``extra_body`` from the OpenAI client).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "followup",
                    "messages": [{"role": "user", "content": EXAMPLE_QUESTION}],
                },
                {
                    "model": "followup",
                    "stream": True,
                    "messages": [
                        {"role": "user", "content": EXAMPLE_QUESTION},
                        {"role": "assistant", "content": EXAMPLE_ANSWER},
                        {"role": "user", "content": EXAMPLE_FOLLOWUP},
                    ],
                    "audience": "patient",
                },
            ]
        },
    )

    model: Id = Field(description="The served model's id (see GET /v1/models).")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_HISTORY_MESSAGES)
    stream: StrictBool = False
    audience: Audience | None = None
    filters: FiltersIn | None = None
    cited_passage_ids: list[Id] = Field(default_factory=list, max_length=MAX_CITED_IDS)


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatCompletionChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Word counts (whitespace-separated), standing in for tokens: no tokenizer of a model."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """OpenAI's chat completion, plus ``references`` and ``suggested_followups``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatCompletionChoice]
    usage: Usage
    references: list[Reference] = Field(description="The structured references behind [n].")
    suggested_followups: list[str] = Field(default_factory=list)
    standalone_query: str = Field(description="The query text actually searched.")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "followup"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
