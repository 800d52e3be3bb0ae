"""The retriever's contract: what goes in (a query or a conversation) and what comes out.

Example:
    >>> convo = Conversation(turns=(Turn("Are B12 levels higher with low ferritin?",
    ...                                  answer="...", cited=("p0123",)),))
    >>> convo.last_question
    'Are B12 levels higher with low ferritin?'
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from corpus.types import EvidenceKind, EvidenceTier, Passage
from index.types import DenseStore, LexicalStore, PassageFilter, Vectors
from retriever.question import QuestionAnalysis


class EmptyQueryError(ValueError):
    """Raised by every retriever for a query that is empty or only whitespace."""


@dataclass(frozen=True)
class ScoredPassage:
    """A passage with the score one retriever (or the fusion) gave it."""

    passage: Passage
    score: float


class Retriever(Protocol):
    """One verb: a query in, at most ``top_k`` passages out, best first.

    Contract (tests/test_retriever_contract.py): at most ``top_k`` results, scores
    non-increasing, ids unique, the same output for the same input, and
    :class:`EmptyQueryError` for an empty query.
    """

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]: ...


class SearchIndex(Protocol):
    """What the retrievers need from an opened index (``index.load.PassageIndex`` is one).

    Row ``i`` of :attr:`dense`, :attr:`lexical` and :meth:`vectors` is ``passages[i]``.
    """

    @property
    def passages(self) -> Sequence[Passage]: ...

    @property
    def dense(self) -> DenseStore: ...

    @property
    def lexical(self) -> LexicalStore: ...

    def row(self, passage_id: str) -> int | None: ...

    def vectors(self, rows: npt.ArrayLike | None = None) -> Vectors: ...

    def document_codes(self) -> npt.NDArray[np.int64]:
        """An integer per row, shared by the rows of one document (documents numbered in
        order of first appearance)."""
        ...


@dataclass(frozen=True)
class Filters:
    """Restrictions a caller may put on the evidence. ``None`` means no restriction."""

    kinds: frozenset[EvidenceKind] | None = None
    designs: frozenset[EvidenceTier] | None = None
    sources: frozenset[str] | None = None
    year_from: int | None = None
    year_to: int | None = None


@functools.lru_cache(maxsize=64)
def passage_filter(filters: Filters) -> PassageFilter:
    """``filters`` as the index layer's :class:`~index.types.PassageFilter`: the tiers of the
    wanted kinds and designs, the sources, the year range (the one definition of what passes,
    applied by the policy and pushed down to the stores)."""
    tiers = None
    if filters.kinds is not None or filters.designs is not None:
        tiers = frozenset(
            tier
            for tier in EvidenceTier
            if (filters.kinds is None or tier.kind in filters.kinds)
            and (filters.designs is None or tier in filters.designs)
        )
    return PassageFilter(tiers, filters.sources, filters.year_from, filters.year_to)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the user's question, the answer's text and the passages it cited."""

    question: str
    answer: str = ""
    cited: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """The conversation so far; the follow-up is asked separately."""

    turns: tuple[Turn, ...] = ()

    @property
    def last_question(self) -> str | None:
        return self.turns[-1].question if self.turns else None


@dataclass(frozen=True)
class Evidence:
    """What the retriever hands to the answer layer for one (follow-up) question.

    ``standalone_query`` is the question searched for, standalone ("How is vitamin B12
    deficiency treated?" for "And for B12?"), so users can see it. ``topic_shift`` is true
    when a follow-up was judged to change the topic, in which case the earlier turns were not
    used. ``analysis`` is the standalone question's focus and type, for the answer layer.
    ``lexical_top`` and ``dense_top`` are the best BM25 score and the best dense score (cosine
    with the query vector) among each leg's candidates before fusion, after filters (``None``
    when a leg found nothing). ``joint_z`` is how far the best document stands out: the top
    score of a z-score fusion of the two legs by document with equal weights (each leg's
    scores in standard deviations above its candidates' mean, summed), computed so whatever
    fusion ranks the evidence (with the default fusion, no carried passages and no synonym
    query, it is the top fused score); ``None`` when the dense leg has fewer candidates than its
    depth (a small index or a narrow filter), where z-scores are not comparable. All three are
    read before the synonym query (``RetrievalConfig.synonym_weight``) joins the BM25 leg: they
    tell the answer layer how well the index matches the question's own words
    (answer/abstain.py uses them to decide whether to abstain).
    """

    question: str
    standalone_query: str
    fused: list[ScoredPassage]
    guideline: list[ScoredPassage]
    research: list[ScoredPassage]
    topic_shift: bool = False
    used_context: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    analysis: QuestionAnalysis | None = None
    lexical_top: float | None = None
    dense_top: float | None = None
    joint_z: float | None = None
