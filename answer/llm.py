"""The optional generator: an OpenAI-compatible chat endpoint writes, we validate.

The model sees the question and the retrieved passages, numbered ``[1]..[k]`` (guidelines
first), and must reply with one JSON object::

    {"abstain": false,
     "bottom_line": {"text": "...", "citations": [1]},
     "guidelines": [{"text": "...", "citations": [1, 2]}, ...],
     "research":   [{"text": "...", "citations": [3]}, ...]}

Nothing it writes reaches the user unchecked (:func:`validate`):

* a citation to a number that was not provided is removed; a sentence left without a valid
  citation is removed (and a notice says how many were);
* a sentence under "guidelines" that cites a research passage moves to the research section,
  and one under "research" that cites only guidelines moves to the guideline section;
* a missing or uncited bottom line is replaced by the first valid guideline (else research)
  sentence;
* output that is not such an object, or that has no valid sentence left, is malformed.

When the endpoint fails (connection error, HTTP error, timeout) or the output is malformed,
the answer is the extractive one with a notice saying so, and ``Answer.generator`` says
``extractive``. Abstention is decided before the endpoint is called, by the same evidence
score as the extractive path (:mod:`answer.abstain`), so an LLM never answers what the index
does not cover.

Example:
    >>> client = ChatClient("http://127.0.0.1:8080/v1", model="m", timeout_s=10)
    >>> generator = LLMGenerator(client, composer)
    >>> generator.generate(evidence).generator
    'llm:m'
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from answer.abstain import WEAK_NOTICE, Support
from answer.assemble import Draft, DraftSentence, assemble
from answer.compose import ExtractiveComposer, abstention
from answer.schema import Answer, Audience, SectionKind
from corpus.types import EvidenceKind, Passage
from retriever.types import Conversation, Evidence

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 2
"""Attempts after a failed one; ``settings.llm.max_retries`` defaults to this."""

LLM_DISCLAIMER = (
    "This answer was written by a language model from the indexed guideline and research "
    "passages cited below, and checked so that every sentence cites one of them; the wording "
    "is the model's, so compare it with the sources. It is information, not medical advice: it "
    "does not replace a clinician who knows the patient, and it may be incomplete or out of date."
)
FALLBACK_UNAVAILABLE_NOTICE = (
    "The language model could not be reached, so this answer was quoted directly from the "
    "evidence instead."
)
FALLBACK_INVALID_NOTICE = (
    "The language model's answer did not pass validation, so this answer was quoted directly "
    "from the evidence instead."
)
REMOVED_NOTICE = (
    "{count} sentence(s) of the generated answer were removed because they cited no passage "
    "that was provided."
)

SYSTEM_PROMPT = """You answer medical questions for a {audience} using ONLY the numbered \
passages provided. Reply with ONE JSON object and nothing else, in exactly this form:
{{"abstain": false,
  "bottom_line": {{"text": "<one sentence>", "citations": [<passage numbers>]}},
  "guidelines": [{{"text": "<one sentence>", "citations": [<numbers>]}}],
  "research": [{{"text": "<one sentence>", "citations": [<numbers>]}}]}}
Rules: every sentence cites at least one passage number it is based on; "guidelines" cites only \
passages marked GUIDELINE; "research" cites only passages marked RESEARCH and names the study \
design; at most 3 sentences per section; no text outside the JSON. If the passages do not \
answer the question, reply {{"abstain": true}}.{style}"""

_PATIENT_STYLE = " Use plain language a patient can follow (short sentences, everyday words)."
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class LLMError(Exception):
    """The endpoint could not produce a reply (unreachable, HTTP error, timeout, bad body)."""


class MalformedOutputError(ValueError):
    """The reply is not the JSON object the prompt asks for, or nothing valid is left in it."""


class ChatClient:
    """``POST {base_url}/chat/completions`` through the official ``openai`` client.

    The client is built once and reused (one connection pool); it retries connection errors,
    timeouts, 408/409/429 and 5xx answers with exponential back-off, honouring the server's
    ``Retry-After``.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8080/v1``.
        model: the model name sent with each request.
        api_key: sent as a bearer token when given.
        timeout_s: time allowed for one attempt.
        max_retries: attempts after the first one fails.

    Example:
        >>> ChatClient("http://127.0.0.1:8080/v1", model="m").complete(
        ...     [{"role": "user", "content": "hi"}])  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 20.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not model:
            raise ValueError("model must not be empty")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {max_retries}")
        import openai  # here: its import takes most of a second, and most engines have no LLM

        self._model = model
        self._timeout = timeout_s
        self._client: openai.OpenAI = openai.OpenAI(
            base_url=base_url,
            # The client insists on a key; an endpoint without keys ignores the header.
            api_key=api_key or "no-key",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant message's content for ``messages``.

        Raises:
            LLMError: on a connection error, a timeout or an HTTP error status (after the
                retries), or a body without ``choices[0].message.content``.
        """
        import openai

        try:
            completion = self._client.chat.completions.create(
                model=self._model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
            )
        except openai.APITimeoutError as error:
            raise LLMError(f"timed out after {self._timeout:g} s") from error
        except openai.APIStatusError as error:
            raise LLMError(f"HTTP {error.status_code} from {self._client.base_url}") from error
        except openai.OpenAIError as error:
            raise LLMError(type(error).__name__) from error
        try:  # the client does not validate the body: a field may be missing
            content = completion.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as error:
            raise LLMError("response has no choices[0].message.content") from error
        if not isinstance(content, str):
            raise LLMError("message content is not text")
        return content


# --------------------------------------------------------------------------------- prompt


def number_passages(passages: Sequence[Passage]) -> dict[int, Passage]:
    """Numbers ``1..k`` for the passages, in the given order."""
    return {n: passage for n, passage in enumerate(passages, start=1)}


def build_messages(
    question: str, numbered: dict[int, Passage], audience: Audience
) -> list[dict[str, str]]:
    """The chat messages: the format rules, then the numbered passages and the question."""
    style = _PATIENT_STYLE if audience is Audience.PATIENT else ""
    system = SYSTEM_PROMPT.format(audience=audience.value, style=style)
    blocks = []
    for n, passage in numbered.items():
        label = "GUIDELINE" if passage.kind is EvidenceKind.GUIDELINE else "RESEARCH"
        year = f", {passage.year}" if passage.year else ""
        header = f"[{n}] {label} ({passage.tier.value}) {passage.title} — {passage.source}{year}"
        blocks.append(f"{header}\n{passage.text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class RawSentence:
    """A sentence as the model wrote it: text and the numbers it claims to cite."""

    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True)
class ParsedOutput:
    """The model's reply, parsed but not yet validated."""

    abstain: bool = False
    bottom_line: tuple[RawSentence, ...] = ()
    guidelines: tuple[RawSentence, ...] = ()
    research: tuple[RawSentence, ...] = ()


def _raw_sentence(item: Any) -> RawSentence:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise MalformedOutputError(f"a sentence must be an object with a text, got {item!r}")
    numbers = item.get("citations", [])
    if not isinstance(numbers, list):
        raise MalformedOutputError(f"citations must be a list, got {numbers!r}")
    citations = [n for n in numbers if isinstance(n, int) and not isinstance(n, bool)]
    citations += [int(n) for n in numbers if isinstance(n, str) and n.strip().isdigit()]
    # Markers written into the text ("... [2].") count as citations and are taken out of it.
    text = item["text"]
    for match in _MARKER.finditer(text):
        citations += [int(n) for n in match.group(1).split(",")]
    text = _MARKER.sub("", text).strip()
    return RawSentence(text, tuple(dict.fromkeys(citations)))


def _sentences(value: Any, name: str) -> tuple[RawSentence, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise MalformedOutputError(
            f"{name} must be a list of sentences, got {type(value).__name__}"
        )
    return tuple(_raw_sentence(item) for item in value)


def parse_output(content: str) -> ParsedOutput:
    """Parse the model's reply (a JSON object, optionally in a code fence).

    Raises:
        MalformedOutputError: it is not a JSON object of the documented shape.
    """
    text = _FENCE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise MalformedOutputError("no JSON object in the reply")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as error:
        raise MalformedOutputError(f"invalid JSON: {error}") from error
    if not isinstance(data, dict):
        raise MalformedOutputError("the reply is not a JSON object")
    return ParsedOutput(
        abstain=data.get("abstain") is True,
        bottom_line=_sentences(data.get("bottom_line"), "bottom_line"),
        guidelines=_sentences(data.get("guidelines"), "guidelines"),
        research=_sentences(data.get("research"), "research"),
    )


# --------------------------------------------------------------------------------- validation


@dataclass
class Validated:
    """Validated sections, ready to assemble, and what validation changed."""

    bottom_line: list[DraftSentence] = field(default_factory=list)
    guidelines: list[DraftSentence] = field(default_factory=list)
    research: list[DraftSentence] = field(default_factory=list)
    removed: int = 0  # sentences dropped for having no valid citation
    dropped_citations: int = 0  # citation numbers that pointed at no provided passage
    moved: int = 0  # sentences moved to the section their citations belong to


def validate(parsed: ParsedOutput, numbered: dict[int, Passage]) -> Validated:
    """Check every sentence against the passages that were provided (see module docstring).

    Raises:
        MalformedOutputError: no valid sentence is left.
    """
    result = Validated()

    def resolve(sentence: RawSentence) -> DraftSentence | None:
        valid = [numbered[n] for n in sentence.citations if n in numbered]
        result.dropped_citations += len(sentence.citations) - len(valid)
        if not valid or not sentence.text:
            result.removed += 1
            return None
        return DraftSentence(sentence.text, tuple(valid))

    for raw in parsed.bottom_line[:1]:
        draft = resolve(raw)
        if draft is not None:
            result.bottom_line.append(draft)
    for raw, home in [(s, "guidelines") for s in parsed.guidelines] + [
        (s, "research") for s in parsed.research
    ]:
        draft = resolve(raw)
        if draft is None:
            continue
        kinds = {p.kind for p in draft.passages}
        if home == "guidelines" and EvidenceKind.RESEARCH in kinds:
            home = "research"
            result.moved += 1
        elif home == "research" and kinds == {EvidenceKind.GUIDELINE}:
            home = "guidelines"
            result.moved += 1
        getattr(result, home).append(draft)
    if not (result.bottom_line or result.guidelines or result.research):
        raise MalformedOutputError("no sentence with a valid citation is left")
    if not result.bottom_line:
        result.bottom_line.append((result.guidelines or result.research)[0])
    return result


# --------------------------------------------------------------------------------- generator


class LLMGenerator:
    """Answers through a chat endpoint, validated, with the extractive answer as fallback.

    Args:
        client: the chat client.
        composer: the extractive composer: scores the evidence (for abstention), and answers
            when the endpoint cannot.

    Example:
        >>> LLMGenerator(ChatClient(url, model="m"), composer).generate(evidence).generator
        'llm:m'
    """

    def __init__(self, client: ChatClient, composer: ExtractiveComposer) -> None:
        self._client = client
        self._composer = composer

    @property
    def name(self) -> str:
        return f"llm:{self._client.model}"

    def generate(
        self,
        evidence: Evidence,
        audience: Audience = Audience.CLINICIAN,
        *,
        conversation: Conversation | None = None,
        related: Sequence[Passage] = (),
    ) -> Answer:
        """The validated LLM answer, or the extractive fallback with a notice."""
        started = time.perf_counter()
        prepared = self._composer.prepare(
            evidence, audience, conversation=conversation, related=related
        )
        if prepared.support is Support.NONE:
            return abstention(evidence, audience, started=started)

        def fallback(notice: str) -> Answer:
            return self._composer.compose(
                evidence,
                audience,
                conversation=conversation,
                related=related,
                notices=[notice],
                prepared=prepared,
            )

        numbered = number_passages(prepared.passages)
        messages = build_messages(evidence.standalone_query, numbered, audience)
        try:
            content = self._client.complete(messages)
        except LLMError as error:
            logger.warning("LLM endpoint failed (%s); answering extractively", error)
            return fallback(FALLBACK_UNAVAILABLE_NOTICE)
        llm_ms = (time.perf_counter() - started) * 1000.0
        try:
            parsed = parse_output(content)
            if parsed.abstain:
                return abstention(evidence, audience, generator=self.name, started=started)
            checked = validate(parsed, numbered)
        except MalformedOutputError as error:
            logger.warning("LLM output rejected (%s); answering extractively", error)
            return fallback(FALLBACK_INVALID_NOTICE)
        if checked.removed or checked.dropped_citations or checked.moved:
            logger.info(
                "LLM output: %d sentences removed, %d citations dropped, %d sentences moved",
                checked.removed,
                checked.dropped_citations,
                checked.moved,
            )
        notices = []
        if prepared.support is Support.WEAK:
            notices.append(WEAK_NOTICE)
        if checked.removed:
            notices.append(REMOVED_NOTICE.format(count=checked.removed))
        timings = dict(evidence.timings_ms)
        timings["llm"] = llm_ms
        timings["compose"] = (time.perf_counter() - started) * 1000.0
        return assemble(
            question=evidence.question,
            standalone_query=evidence.standalone_query,
            audience=audience,
            topic_shift=evidence.topic_shift,
            generator=self.name,
            sections=[
                Draft(SectionKind.NOTICE, [DraftSentence(t) for t in notices]),
                Draft(SectionKind.BOTTOM_LINE, checked.bottom_line),
                Draft(SectionKind.GUIDELINES, checked.guidelines),
                Draft(SectionKind.RESEARCH, checked.research),
            ],
            suggested_followups=self._composer.suggest(
                evidence, conversation, [*numbered.values(), *related]
            ),
            disclaimer=LLM_DISCLAIMER,
            timings_ms=timings,
        )
