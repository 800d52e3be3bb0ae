"""The optional LLM rewriter: an OpenAI-compatible chat endpoint makes follow-ups standalone.

:class:`LLMRewriter` is a :class:`retriever.rewrite.Rewriter`, like the rule rewriter it falls
back to. The model sees the earlier user questions and the follow-up, and must reply with one
standalone question and nothing else. Nothing it writes is searched unchecked
(:func:`validate_rewrite`); the reply is rejected when it is

* empty, or longer than three times the questions it was given (or :data:`MAX_CHARS`);
* more than one line, or carries markup (Markdown, a list marker, a "Question:" label);
* not one question: several, or neither a final "?" nor a question word or auxiliary first
  ("Oral iron is safe." is an answer; "how is it treated" is tidied into "How is it treated?");
* missing one of the follow-up's own content words. Every word of the follow-up outside
  :data:`DROPPABLE_WORDS` (question words, auxiliaries, pronouns, determiners, the glue of an
  ellipsis such as "and for") must be in the rewrite, stems compared (Snowball English, the
  stemmer of the BM25 index), or named there by a synonym from
  :mod:`retriever.question`'s table ("B12" by "cobalamin"). So "And for B12?" may become "How is
  vitamin B12 deficiency treated?" but never "How is iron deficiency treated?": the pronouns
  and the ellipsis are what the model may replace, not what the user asked about.

A rejected reply, an unreachable endpoint, an HTTP error or a timeout give the rule rewriter's
:class:`~retriever.rewrite.Rewrite`, logged at warning level with the reason only (questions
are health data and are never logged). A first question (no earlier questions) is its own
standalone question and is not sent to the endpoint.

Example:
    >>> client = ChatClient("http://127.0.0.1:8080/v1", model="m", timeout_s=5)
    >>> rewriter = LLMRewriter(client, RuleRewriter(vocabulary))
    >>> rewriter.rewrite("And for B12?", ["How is iron deficiency treated?"]).standalone
    'How is vitamin B12 deficiency treated?'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import Stemmer

from answer.llm import LLMError
from retriever.concepts import concept, normalize
from retriever.question import AUXILIARIES, QUESTION_WORDS, Vocabulary, analyze, as_question
from retriever.rewrite import Rewrite, Rewriter

logger = logging.getLogger(__name__)

MAX_CHARS = 300
"""The longest rewrite accepted, whatever the length of the conversation."""

LENGTH_FACTOR = 3
"""A rewrite longer than this many times the questions it was given (follow-up and earlier
questions together) is rejected: a standalone question restates, it does not elaborate."""

DROPPABLE_WORDS = (
    QUESTION_WORDS
    | AUXILIARIES
    | frozenset(
        (  # noqa: SIM905 - a word list reads better as text
            # pronouns and determiners: what a rewrite replaces by their referent
            "it its itself this that these those they them their theirs he she him her his "
            "hers i me my mine we us our you your yours one ones a an the some any "
            # the glue of an ellipsis ("and for B12?", "what about folate?")
            "and or but so then also too about for of in on at to from with by as into than "
            # conversational filler
            "ok okay please thanks thank hi hello hey well yes yeah oh again instead same else"
        ).split()
    )
)
"""Words of a follow-up that a rewrite may drop. Negations, quantities ("much", "more") and
populations ("pregnancy") are not among them: dropping them changes the question."""

SYSTEM_PROMPT = (
    "You rewrite the last question of a medical conversation into one standalone question "
    "that can be understood without the conversation. Replace pronouns and elliptical "
    'references ("it", "this", "and for ...?", "what about ...?") with what they refer to in '
    "the earlier questions, and keep every other word the user wrote. Do not answer the "
    "question and do not add facts. Reply with the standalone question only: one line, no "
    "quotes, no label, no explanation."
)

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MARKUP = re.compile(r"[*_`#<>\[\]{}|]|^\s*(?:[-+\u2022]|\d+[.)])\s")
_LABEL = re.compile(r"^\s*(?:standalone|rewritten|rewrite|question|answer)\b[^:?]{0,30}:", re.I)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}
# The BM25 index's stemmer (index.lexical: Snowball English); building one is cheap.
_STEMMER = Stemmer.Stemmer("english")


class ChatCompleter(Protocol):
    """What the rewriter needs of an endpoint (:class:`answer.llm.ChatClient` is one)."""

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to ``messages``; raises :class:`answer.llm.LLMError`."""
        ...


class InvalidRewriteError(ValueError):
    """The model's reply is not an acceptable standalone question (the message says why,
    without quoting the question)."""


def build_rewrite_messages(question: str, earlier: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages: the instructions, then the earlier questions and the follow-up.

    Example:
        >>> build_rewrite_messages("And for B12?", ["How is iron deficiency treated?"])[1]
        {'role': 'user', 'content': 'Earlier questions:\\n1. How is iron deficiency treated?\\n\\nLast question: And for B12?\\n\\nStandalone question:'}
    """  # noqa: E501 - a doctest output is one line
    numbered = "\n".join(f"{n}. {q}" for n, q in enumerate(earlier, start=1))
    user = f"Earlier questions:\n{numbered}\n\nLast question: {question}\n\nStandalone question:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _stems(words: Sequence[str]) -> set[str]:
    stems: list[str] = _STEMMER.stemWords(list(words))
    return set(stems)


def content_words(text: str) -> list[str]:
    """The words of ``text`` a rewrite must keep: normalised, outside :data:`DROPPABLE_WORDS`.

    Example:
        >>> content_words("And is it safe for B-12 in pregnancy?")
        ['safe', 'b12', 'pregnancy']
    """
    return [w for w in _TOKEN.findall(normalize(text)) if w not in DROPPABLE_WORDS]


def dropped_words(question: str, standalone: str) -> list[str]:
    """The content words of ``question`` that ``standalone`` lost (module docstring).

    Example:
        >>> dropped_words("And for B12?", "How is iron deficiency treated?")
        ['b12']
        >>> dropped_words("Is it safe in pregnancy?", "Is cobalamin safe during pregnancies?")
        []
    """
    kept = _stems(_TOKEN.findall(normalize(standalone)))
    return [
        word
        for word in content_words(question)
        if not (_stems([word]) <= kept or concept(word).mentioned_in(standalone))
    ]


def validate_rewrite(reply: str, question: str, earlier: Sequence[str]) -> str:
    """The model's ``reply`` as a tidy standalone question, if it passes the checks.

    Args:
        reply: The model's reply.
        question: The follow-up as asked.
        earlier: The earlier user questions, oldest first.

    Returns:
        The standalone question, tidied (:func:`retriever.question.as_question`).

    Raises:
        InvalidRewriteError: The reply fails a check of the module docstring.

    Example:
        >>> validate_rewrite(" how is B12 deficiency treated? ", "And for B12?", ["How is iron treated?"])
        'How is B12 deficiency treated?'
    """  # noqa: E501 - a doctest input is one line
    text = reply.strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    if not text:
        raise InvalidRewriteError("empty reply")
    given = len(question) + sum(len(q) for q in earlier)
    limit = min(MAX_CHARS, LENGTH_FACTOR * given)
    if len(text) > limit:
        raise InvalidRewriteError(f"too long ({len(text)} > {limit} characters)")
    if "\n" in text or "\r" in text:
        raise InvalidRewriteError("more than one line")
    if _MARKUP.search(text) or _LABEL.match(text):
        raise InvalidRewriteError("markup or a label")
    words = _TOKEN.findall(normalize(text))
    asks = text.endswith("?") or (bool(words) and words[0] in QUESTION_WORDS | AUXILIARIES)
    if not words or not asks or text.count("?") > 1 or "?" in text[:-1]:
        raise InvalidRewriteError("not one question")
    standalone = as_question(text)
    dropped = dropped_words(question, standalone)
    if dropped:
        raise InvalidRewriteError(f"drops {len(dropped)} content word(s) of the follow-up")
    return standalone


class LLMRewriter:
    """Standalone follow-ups from a chat endpoint, validated, with a rule rewriter as fallback.

    On success the :class:`~retriever.rewrite.Rewrite` is the fallback's with the model's
    ``standalone`` question and its ``analysis``; ``state``, ``rule`` and ``topic_shift`` stay
    the fallback's, so topic-shift decisions and the next turn's state are the rules' (the
    retriever replays the earlier turns through the rules anyway), and ``rule`` names the rule
    the fallback applied, not the model.

    Args:
        client: The endpoint (:class:`answer.llm.ChatClient`).
        fallback: The rewriter used when the endpoint fails or its reply is rejected, and whose
            state, rule and topic shift every rewrite carries
            (:class:`retriever.rewrite.RuleRewriter`).
        vocabulary: The index's vocabulary, for analysing the model's question as the fallback
            analyses its own (:func:`retriever.hybrid.index_vocabulary`).

    Example:
        >>> rewriter = LLMRewriter(ChatClient(url, model="m"), RuleRewriter())
        >>> earlier = ["How is iron deficiency treated?"]
        >>> rewriter.rewrite("Is it safe in pregnancy?", earlier).standalone
        'Is oral iron safe in pregnancy?'
    """

    def __init__(
        self,
        client: ChatCompleter,
        fallback: Rewriter,
        *,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self._client = client
        self._fallback = fallback
        self._vocabulary = vocabulary

    def rewrite(self, question: str, earlier: Sequence[str]) -> Rewrite:
        """``question`` as a standalone question: the model's if it passes validation,
        otherwise the fallback's.

        Raises:
            ValueError: If a question has no word in it (from the fallback).
        """
        ruled = self._fallback.rewrite(question, earlier)
        if not earlier:
            return ruled
        try:
            reply = self._client.complete(build_rewrite_messages(question, earlier))
        except LLMError as error:
            logger.warning("LLM rewriter failed (%s); using the rule rewrite", error)
            return ruled
        try:
            standalone = validate_rewrite(reply, question, earlier)
        except InvalidRewriteError as error:
            logger.warning("LLM rewrite rejected (%s); using the rule rewrite", error)
            return ruled
        return replace(ruled, standalone=standalone, analysis=analyze(standalone, self._vocabulary))
