"""Suggested follow-up questions, taken from the evidence rather than written by us.

MedQuAD pages carry the question they answer as their section heading ("What causes Pernicious
Anemia ?"), and PubMedQA titles are questions too. A suggestion is such a heading of a retrieved
(or sibling) passage: about the answer's own subject, of a type the conversation has not asked
yet (after a cause, its symptoms, diagnosis and treatment), and grounded: the engine's own
search for it finds the page it came from.

Example:
    >>> focus = analyze("What is pernicious anemia?").focus
    >>> suggest_followups("What is pernicious anemia?", passages, focus=focus)  # doctest: +SKIP
    ['What causes Pernicious Anemia?', 'What are the symptoms of Pernicious Anemia?', ...]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Protocol

from answer.lead import mentions
from answer.terms import content_terms
from corpus.types import EvidenceKind, Passage
from index.passage_records import topic_key
from retriever.concepts import Concept
from retriever.question import QuestionType, analyze
from retriever.types import ScoredPassage

_SPACE_BEFORE_MARK = re.compile(r"\s+([?.!,;:])")
_SPACES = re.compile(r"\s+")
_REPEATED_MARK = re.compile(r"\?(\s*\?)+")
# MedQuAD's generated headings hedge the verb: "What is (are) Anemia ?".
_HEDGED_VERB = re.compile(r"^What is \(are\)")

# Two questions whose content terms overlap this much ask the same thing in other words
# ("What is pernicious anemia?" vs "What is (are) Pernicious Anemia ?" -> 1.0).
SAME_QUESTION_JACCARD = 0.8


def _match(a: str, b: str) -> bool:
    # Snowball leaves "treatment" and "treat" apart; a shared stem of 4+ letters joins them.
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


@lru_cache(maxsize=65536)
def same_question(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two questions' content terms overlap enough to ask the same thing.

    Terms match when equal or when one is a prefix (of 4+ letters) of the other, and the
    overlap is a Jaccard similarity over matched terms: "How is pernicious anemia treated?"
    and "What are the treatments for Pernicious Anemia?" give 3 / 3 = 1.0.
    """
    if not a or not b:
        return a == b
    if len(a) < SAME_QUESTION_JACCARD * len(b):
        return False  # even with every term of ``a`` matched the overlap is |a| / |b|
    shared = a & b
    matched = len(shared) + sum(1 for term in a - shared if any(_match(term, o) for o in b))
    return matched / (len(a) + len(b) - matched) >= SAME_QUESTION_JACCARD


def tidy_question(heading: str) -> str:
    """Tidy a heading: "Who is at risk for Anemia? ?" -> "Who is at risk for Anemia?"."""
    text = _SPACES.sub(" ", heading).strip()
    text = _REPEATED_MARK.sub("?", text)
    text = _HEDGED_VERB.sub("What is", text)
    return _SPACE_BEFORE_MARK.sub(r"\1", text)


def focus_of(passage: Passage) -> str:
    """The topic a passage is about, lower-cased for comparing: the key the index groups a
    page's passages by (:func:`index.passage_records.topic_key`)."""
    return topic_key(passage)


def _question_of(passage: Passage) -> str | None:
    return _heading_question(passage.section, passage.title)


@lru_cache(maxsize=16384)
def _heading_question(section: str, title: str) -> str | None:
    for candidate in (section, title):
        text = tidy_question(candidate or "")
        if text.endswith("?") and len(text.split()) >= 3:
            return text
    return None


# After a question of one type, the next ones a reader usually asks about the same condition
# (cause -> symptoms -> diagnosis -> treatment ...); types already asked are skipped.
NEXT_TYPES = (
    QuestionType.CAUSE,
    QuestionType.SYMPTOMS,
    QuestionType.DIAGNOSIS,
    QuestionType.TREATMENT,
    QuestionType.PREVENTION,
    QuestionType.PROGNOSIS,
    QuestionType.COMPLICATIONS,
    QuestionType.RISK,
    QuestionType.DEFINITION,
)


# Suggested questions whose search results a SearchGrounding keeps.
GROUNDING_CACHE_SIZE = 8192


class Grounding(Protocol):
    """Whether the index answers a suggested question: its own search for the question must
    find the page the question came from."""

    def __call__(self, question: str, source: Passage) -> bool: ...


class SearchGrounding:
    """:class:`Grounding` by search: the question's ``depth`` best hits include its page.

    Args:
        retrieve: a standalone search, ``(query, top_k) -> passages`` (the engine passes its
            BM25 leg: cheap, and a question that only its words find is still found).
        depth: how many hits are looked at.
    """

    def __init__(
        self, retrieve: Callable[[str, int], Sequence[ScoredPassage]], depth: int = 3
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._retrieve = retrieve
        self._depth = depth
        # The topics each question's search finds: the candidates are page headings, asked
        # again from answer to answer, and an index's search for them does not change.
        self._found: dict[str, frozenset[str]] = {}

    def __call__(self, question: str, source: Passage) -> bool:
        found = self._found.get(question)
        if found is None:
            if len(self._found) >= GROUNDING_CACHE_SIZE:
                self._found.clear()
            hits = self._retrieve(question, self._depth)
            found = self._found[question] = frozenset(focus_of(hit.passage) for hit in hits)
        return focus_of(source) in found


def _rank(qtype: QuestionType) -> int:
    return NEXT_TYPES.index(qtype) if qtype in NEXT_TYPES else len(NEXT_TYPES)


def suggest_followups(
    question: str,
    passages: Sequence[Passage],
    *,
    types: Sequence[QuestionType] | None = None,
    asked: Iterable[str] = (),
    focus: Sequence[Concept] = (),
    about: Iterable[str] = (),
    grounded: Grounding | None = None,
    limit: int = 3,
) -> list[str]:
    """Up to ``limit`` next questions about the answer's subject that the index answers.

    Candidates are the question headings of ``passages`` (MedQuAD pages carry the question
    they answer). A candidate is kept when

    * its page is about the answer's subject: the page topic names a ``focus`` concept, or is
      one of ``about`` (the topics of the pages the answer leads with); without either, the
      topic of the first guideline passage;
    * it asks a type not asked yet in the conversation (``question`` and ``asked``), and is
      not a paraphrase of an asked question;
    * ``grounded`` (if given) confirms that searching for it finds its page.

    They come in the usual order of a consultation (:data:`NEXT_TYPES`), then in the order of
    ``passages``.

    Args:
        question: the question being answered now (its standalone form).
        types: its types, when the caller has its analysis (else it is analysed here).
        passages: retrieved passages, best first, and siblings of the pages they come from.
        asked: earlier questions of the conversation.
        focus: the question's focus concepts.
        about: page topics (lower-cased :func:`focus_of`) the answer itself is about.
        grounded: the retrieval check.
        limit: at most this many suggestions.
    """
    earlier = [question, *asked]
    seen = [content_terms(q) for q in earlier]
    asked_types = set(_types(question) if types is None else types)
    asked_types.update(t for q in asked if q != question for t in _types(q))
    topics = {topic.lower() for topic in about}
    if not focus and not topics:
        guideline = [p for p in passages if p.kind is EvidenceKind.GUIDELINE]
        topics = {focus_of(guideline[0])} if guideline else set()
    found: list[tuple[int, int, str, Passage]] = []  # (type rank, order, question, page)
    for order, passage in enumerate(passages):
        text = _question_of(passage)
        if text is None:
            continue
        topic = focus_of(passage)
        if topic not in topics and not any(mentions(c, topic) for c in focus):
            continue
        qtype = _types(text)[0]
        if qtype in asked_types:  # cheap (cached) before the paraphrase check
            continue
        terms = content_terms(text)
        if any(same_question(terms, earlier_terms) for earlier_terms in seen):
            continue
        seen.append(terms)
        found.append((_rank(qtype), order, text, passage))
    suggestions: list[str] = []
    kinds: set[int] = set()
    for rank, _, text, source in sorted(found, key=lambda item: item[:2]):
        if rank in kinds and rank < len(NEXT_TYPES):
            continue  # one question per type
        if grounded is not None and not grounded(text, source):
            continue
        kinds.add(rank)
        suggestions.append(text)
        if len(suggestions) == limit:
            break
    return suggestions


def heading_type(passage: Passage) -> QuestionType | None:
    """The type of the question a passage's heading asks ("What are the treatments for
    Iron-Deficiency Anemia ?": treatment), or ``None`` when its heading asks none."""
    text = _question_of(passage)
    return None if text is None else _types(text)[0]


def warm_headings(passages: Iterable[Passage]) -> None:
    """Analyse the question headings of ``passages`` now (up to :data:`HEADINGS_KEPT` are
    kept), so that no answer pays for analysing them."""
    for passage in passages:
        text = _question_of(passage)
        if text is not None:
            _types(text)


HEADINGS_KEPT = 4096


@lru_cache(maxsize=HEADINGS_KEPT)
def _types(question: str) -> tuple[QuestionType, ...]:
    # Cached: the same page headings are candidates for answer after answer.
    try:
        return analyze(question).types
    except ValueError:  # no word in it
        return (QuestionType.OTHER,)
