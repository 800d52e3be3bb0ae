"""The default generator: an answer quoted sentence by sentence from the retrieved passages.

Nothing here writes prose. Every sentence of an answer is a verbatim span of a retrieved
passage (see :mod:`answer.sentences`), cited to that passage; the only other text is a fixed
notice from :mod:`answer.abstain`, which cites nothing.

Scoring. Each candidate sentence of the top guideline and top research passages gets

    relevance = 0.75 * cos(sentence, query) + 0.25 * share of the query's content terms in it

with unit-length MiniLM embeddings (from the :class:`~answer.sentences.SentenceBank`, so a
passage's sentences are encoded once, not per answer). The embedding half finds paraphrases,
the lexical half keeps the question's own entities ("B12", "ferritin") in view. The audience
profile (:mod:`answer.audience`) then adjusts relevance into a selection score, and a sentence
that opens with "It"/"This"/"They" loses a little, since its referent is not quoted.

Selection. The bottom line is the best sentence overall, from a guideline unless research
beats it clearly. Each section is filled by maximal marginal relevance (Carbonell and Goldstein
1998, lambda = 0.7) among sentences within a margin of the section's best (and within a wider
margin of the answer's best, so a barely related study is not quoted next to on-point
guideline text), skipping
near-duplicates (cosine > 0.9 or term Jaccard > 0.6) and capping sentences per source so the
points differ. The best sentence score decides abstention; the weak-evidence notice is added
when it, or the bottom line's own score, is below the weak threshold (see answer/abstain.py).

Example:
    >>> composer = ExtractiveComposer(embedder)
    >>> answer = composer.compose(evidence, Audience.PATIENT)
    >>> answer.section(SectionKind.GUIDELINES).sentences[0].citations
    [1]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from answer.abstain import (
    ABSTAIN_NOTICE,
    ABSTAIN_THRESHOLD,
    NO_GUIDELINE_NOTICE,
    NO_RESEARCH_NOTICE,
    WEAK_NOTICE,
    WEAK_THRESHOLD,
    Support,
    judge_support,
)
from answer.assemble import Draft, DraftSentence, assemble
from answer.audience import AudienceProfile, grade, profile_for
from answer.followups import suggest_followups
from answer.schema import ABSTAINED_DISCLAIMER, Answer, Audience, SectionKind
from answer.sentences import SentenceBank, SentenceSpan, is_anaphoric
from answer.terms import content_terms, jaccard, overlap
from corpus.types import EvidenceKind, Passage
from index.types import Embedder, Vectors
from retriever.types import Conversation, Evidence, ScoredPassage

logger = logging.getLogger(__name__)

SEMANTIC_WEIGHT = 0.75


def relevance(cosine: float, lexical: float, semantic_weight: float = SEMANTIC_WEIGHT) -> float:
    """The relevance of a sentence to the query: a mix of embedding cosine and term overlap."""
    return semantic_weight * cosine + (1.0 - semantic_weight) * lexical


@dataclass(frozen=True)
class ComposeConfig:
    """Knobs of the extractive generator (defaults are the documented choices).

    Attributes:
        passages_per_kind: top guideline and top research passages whose sentences compete.
        guideline_sentences: at most this many sentences under "From the Guidelines".
        research_sentences: at most this many under "From the Research" (an audience profile
            may lower it).
        per_guideline_document: at most this many sentences from one guideline document.
        per_study: at most this many sentences from one research document, so the research
            section shows several studies and their designs.
        semantic_weight: weight of the cosine in :func:`relevance`.
        mmr_lambda: relevance versus novelty in maximal marginal relevance.
        section_margin: a section quotes only sentences within this of its best score.
        duplicate_cosine: sentences more similar than this are duplicates.
        duplicate_jaccard: sentences whose content terms overlap more than this are duplicates.
        anaphora_penalty: subtracted from a sentence that opens with a back-reference.
        guideline_preference: research takes the bottom line only if it beats the best
            guideline sentence by more than this.
        abstain_below: abstain when the best relevance is below this.
        weak_below: add the weak-evidence notice when the best relevance is below this.
        sentence_floor: no sentence below this relevance is quoted.
        answer_margin: nor any sentence more than this below the answer's best relevance: a
            study far less relevant than the guideline text it would stand next to is noise.
        followups: suggested follow-up questions (the issue asks for 2-3).
    """

    passages_per_kind: int = 4
    guideline_sentences: int = 3
    research_sentences: int = 3
    per_guideline_document: int = 3
    per_study: int = 2
    semantic_weight: float = SEMANTIC_WEIGHT
    mmr_lambda: float = 0.7
    section_margin: float = 0.15
    duplicate_cosine: float = 0.9
    duplicate_jaccard: float = 0.6
    anaphora_penalty: float = 0.05
    guideline_preference: float = 0.1
    abstain_below: float = ABSTAIN_THRESHOLD
    weak_below: float = WEAK_THRESHOLD
    sentence_floor: float = ABSTAIN_THRESHOLD
    answer_margin: float = 0.35
    followups: int = 3

    def __post_init__(self) -> None:
        for name in ("passages_per_kind", "guideline_sentences", "per_guideline_document"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("research_sentences", "per_study", "followups"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("section_margin", "answer_margin", "anaphora_penalty", "guideline_preference"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("semantic_weight", "mmr_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.weak_below < self.abstain_below:
            raise ValueError(
                f"weak_below ({self.weak_below}) must not be below abstain_below "
                f"({self.abstain_below})"
            )


@dataclass(frozen=True)
class Candidate:
    """A candidate sentence with its scores."""

    passage: Passage
    rank: int  # the passage's position among the retrieved passages of its kind
    span: SentenceSpan
    vector: Vectors = field(repr=False)
    terms: frozenset[str] = field(repr=False)
    cosine: float
    relevance: float
    score: float  # relevance adjusted for the audience and style: what selection ranks by

    @property
    def kind(self) -> EvidenceKind:
        return self.passage.kind


@dataclass(frozen=True)
class Prepared:
    """Scored candidates of one evidence set, and the support they give an answer."""

    guideline: list[Candidate]
    research: list[Candidate]
    best: float | None
    support: Support

    @property
    def passages(self) -> list[Passage]:
        """The passages the candidates came from, guideline first, in retrieval order."""
        seen: dict[str, Passage] = {}
        for candidate in sorted(self.guideline, key=lambda c: c.rank) + sorted(
            self.research, key=lambda c: c.rank
        ):
            seen.setdefault(candidate.passage.id, candidate.passage)
        return list(seen.values())


def top_passages(evidence: Evidence, kind: EvidenceKind, limit: int) -> list[Passage]:
    """The best ``limit`` passages of ``kind``: the retriever's per-kind list, else fused."""
    per_kind = evidence.guideline if kind is EvidenceKind.GUIDELINE else evidence.research
    scored: Iterable[ScoredPassage] = per_kind or (
        s for s in evidence.fused if s.passage.kind is kind
    )
    passages: list[Passage] = []
    seen: set[str] = set()
    for item in scored:
        if item.passage.id not in seen:
            seen.add(item.passage.id)
            passages.append(item.passage)
        if len(passages) == limit:
            break
    return passages


def asked_questions(conversation: Conversation | None) -> list[str]:
    """The questions of the earlier turns."""
    return [turn.question for turn in conversation.turns] if conversation else []


class ExtractiveComposer:
    """Composes cited, verbatim answers from retrieved evidence.

    Args:
        embedder: encodes the query (and, through the bank, sentences).
        bank: the sentence embedding cache; a fresh in-memory one by default.
        config: selection settings.

    Example:
        >>> composer = ExtractiveComposer(embedder, SentenceBank(embedder))
        >>> composer.compose(evidence).abstained
        False
    """

    def __init__(
        self,
        embedder: Embedder,
        bank: SentenceBank | None = None,
        config: ComposeConfig | None = None,
    ) -> None:
        self._embedder = embedder
        self._bank = bank if bank is not None else SentenceBank(embedder)
        self._config = config if config is not None else ComposeConfig()

    @property
    def config(self) -> ComposeConfig:
        return self._config

    @property
    def bank(self) -> SentenceBank:
        return self._bank

    # ----------------------------------------------------------------------------- scoring

    def prepare(self, evidence: Evidence, audience: Audience = Audience.CLINICIAN) -> Prepared:
        """Score the candidate sentences of the top passages and judge the support."""
        config = self._config
        profile = profile_for(audience)
        guideline = top_passages(evidence, EvidenceKind.GUIDELINE, config.passages_per_kind)
        research = top_passages(evidence, EvidenceKind.RESEARCH, config.passages_per_kind)
        passages = guideline + research
        if not passages:
            return Prepared([], [], None, Support.NONE)
        query_vector = self._embedder.encode_queries([evidence.standalone_query])[0]
        query_terms = content_terms(evidence.standalone_query)
        ranks = {p.id: i for i, p in enumerate(guideline)} | {
            p.id: i for i, p in enumerate(research)
        }
        candidates: list[Candidate] = []
        for passage, entry in zip(passages, self._bank.entries(passages), strict=True):
            if not entry.spans:
                continue
            cosines = entry.vectors @ query_vector
            for span, vector, cosine in zip(
                entry.spans, entry.vectors, cosines.tolist(), strict=True
            ):
                terms = content_terms(span.text)
                rel = relevance(cosine, overlap(query_terms, terms), config.semantic_weight)
                candidates.append(
                    Candidate(
                        passage=passage,
                        rank=ranks[passage.id],
                        span=span,
                        vector=vector,
                        terms=terms,
                        cosine=cosine,
                        relevance=rel,
                        score=self._selection_score(rel, span.text, passage, profile),
                    )
                )
        best = max((c.relevance for c in candidates), default=None)
        support = judge_support(
            best, abstain_below=config.abstain_below, weak_below=config.weak_below
        )
        return Prepared(
            guideline=[c for c in candidates if c.kind is EvidenceKind.GUIDELINE],
            research=[c for c in candidates if c.kind is EvidenceKind.RESEARCH],
            best=best,
            support=support,
        )

    def _selection_score(
        self, rel: float, text: str, passage: Passage, profile: AudienceProfile
    ) -> float:
        score = rel - (self._config.anaphora_penalty if is_anaphoric(text) else 0.0)
        if profile.grade_penalty or profile.source_bonus:
            score = profile.adjust(score, grade=grade(text), source=passage.source)
        return score

    # ----------------------------------------------------------------------------- selection

    def _duplicate(self, candidate: Candidate, chosen: Sequence[Candidate]) -> bool:
        config = self._config
        return any(
            float(candidate.vector @ other.vector) > config.duplicate_cosine
            or jaccard(candidate.terms, other.terms) > config.duplicate_jaccard
            for other in chosen
        )

    def _select(
        self,
        pool: Sequence[Candidate],
        limit: int,
        *,
        chosen: Sequence[Candidate],
        per_document: int,
        best_relevance: float,
    ) -> list[Candidate]:
        """Maximal marginal relevance over ``pool``, avoiding duplicates of ``chosen``."""
        config = self._config
        floor = max(config.sentence_floor, best_relevance - config.answer_margin)
        eligible = [c for c in pool if c.relevance >= floor]
        if not eligible or limit == 0:
            return []
        best = max(c.score for c in eligible)
        eligible = [c for c in eligible if c.score >= best - config.section_margin]
        # Deterministic order for ties: retrieval rank, then position in the passage.
        eligible.sort(key=lambda c: (-c.score, c.rank, c.span.start))
        selected: list[Candidate] = []
        per_doc: dict[str, int] = {}
        for other in chosen:
            per_doc[other.passage.document_id] = per_doc.get(other.passage.document_id, 0) + 1
        while eligible and len(selected) < limit:
            taken = [*chosen, *selected]

            def marginal(c: Candidate, taken: list[Candidate] = taken) -> float:
                similarity = max((float(c.vector @ t.vector) for t in taken), default=0.0)
                return config.mmr_lambda * c.score - (1.0 - config.mmr_lambda) * similarity

            pick = max(eligible, key=marginal)  # max keeps the first of equals: sorted above
            eligible.remove(pick)
            document = pick.passage.document_id
            if per_doc.get(document, 0) >= per_document or self._duplicate(pick, taken):
                continue
            per_doc[document] = per_doc.get(document, 0) + 1
            selected.append(pick)
        return selected

    def _bottom_line(self, prepared: Prepared) -> Candidate | None:
        floor = self._config.sentence_floor

        def best_of(pool: Sequence[Candidate]) -> Candidate | None:
            eligible = [c for c in pool if c.relevance >= floor]
            return min(eligible, key=lambda c: (-c.score, c.rank, c.span.start), default=None)

        guideline, research = best_of(prepared.guideline), best_of(prepared.research)
        if guideline is None:
            return research
        if (
            research is not None
            and research.score > guideline.score + self._config.guideline_preference
        ):
            return research
        return guideline

    # ----------------------------------------------------------------------------- answers

    def compose(
        self,
        evidence: Evidence,
        audience: Audience = Audience.CLINICIAN,
        *,
        conversation: Conversation | None = None,
        related: Sequence[Passage] = (),
        notices: Sequence[str] = (),
        prepared: Prepared | None = None,
    ) -> Answer:
        """The extractive answer to ``evidence``.

        Args:
            evidence: what the retriever found.
            audience: clinician (default) or patient wording preferences.
            conversation: earlier turns; their questions are not suggested again.
            related: more passages whose headings may be suggested as follow-ups (the engine
                passes other sections of the best guideline page).
            notices: fixed notices to show first (e.g. the LLM fallback notice).
            prepared: the result of :meth:`prepare` for the same evidence and audience, if
                the caller already has it.
        """
        started = time.perf_counter()
        prepared = prepared if prepared is not None else self.prepare(evidence, audience)
        if prepared.support is Support.NONE:
            return abstention(evidence, audience, notices=notices, started=started)
        config = self._config
        profile = profile_for(audience)
        bottom = self._bottom_line(prepared)
        assert bottom is not None  # support above the abstain cut implies an eligible sentence
        guideline = self._select(
            [c for c in prepared.guideline if c is not bottom],
            config.guideline_sentences,
            chosen=[bottom],
            per_document=config.per_guideline_document,
            best_relevance=prepared.best or 0.0,
        )
        if not guideline and bottom.kind is EvidenceKind.GUIDELINE:
            guideline = [bottom]
        research = self._select(
            [c for c in prepared.research if c is not bottom],
            min(config.research_sentences, profile.research_sentences),
            chosen=[bottom, *guideline],
            per_document=config.per_study,
            best_relevance=prepared.best or 0.0,
        )
        if not research and bottom.kind is EvidenceKind.RESEARCH:
            research = [bottom]

        notice_texts = list(notices)
        # The answer leads with its bottom line; when guideline preference put a less relevant
        # sentence there than the best one, the lead is what must be relevant enough.
        if prepared.support is Support.WEAK or bottom.relevance < config.weak_below:
            notice_texts.append(WEAK_NOTICE)
        if not guideline:
            notice_texts.append(NO_GUIDELINE_NOTICE)
        if not research:
            notice_texts.append(NO_RESEARCH_NOTICE)

        def drafts(chosen: Sequence[Candidate]) -> list[DraftSentence]:
            return [DraftSentence(c.span.text, (c.passage,)) for c in chosen]

        followups = suggest_followups(
            evidence.question,
            [*prepared.passages, *(s.passage for s in evidence.fused), *related],
            asked=asked_questions(conversation),
            limit=config.followups,
        )
        timings = dict(evidence.timings_ms)
        timings["compose"] = (time.perf_counter() - started) * 1000.0
        return assemble(
            question=evidence.question,
            standalone_query=evidence.standalone_query,
            audience=audience,
            topic_shift=evidence.topic_shift,
            sections=[
                Draft(SectionKind.NOTICE, [DraftSentence(text) for text in notice_texts]),
                Draft(SectionKind.BOTTOM_LINE, drafts([bottom])),
                Draft(SectionKind.GUIDELINES, drafts(guideline)),
                Draft(SectionKind.RESEARCH, drafts(research)),
            ],
            suggested_followups=followups,
            timings_ms=timings,
        )


def abstention(
    evidence: Evidence,
    audience: Audience,
    *,
    notices: Sequence[str] = (),
    generator: str = "extractive",
    started: float | None = None,
) -> Answer:
    """The answer that declines: one notice, no citations, no references, ``abstained``."""
    timings = dict(evidence.timings_ms)
    if started is not None:
        timings["compose"] = (time.perf_counter() - started) * 1000.0
    return assemble(
        question=evidence.question,
        standalone_query=evidence.standalone_query,
        audience=audience,
        abstained=True,
        topic_shift=evidence.topic_shift,
        generator=generator,
        sections=[
            Draft(SectionKind.NOTICE, [DraftSentence(t) for t in (*notices, ABSTAIN_NOTICE)])
        ],
        timings_ms=timings,
        disclaimer=ABSTAINED_DISCLAIMER,
    )


def compose(
    evidence: Evidence,
    audience: Audience = Audience.CLINICIAN,
    *,
    embedder: Embedder,
    bank: SentenceBank | None = None,
    config: ComposeConfig | None = None,
    conversation: Conversation | None = None,
) -> Answer:
    """One-shot extractive answer (see :class:`ExtractiveComposer` for repeated use)."""
    composer = ExtractiveComposer(embedder, bank, config)
    return composer.compose(evidence, audience, conversation=conversation)


__all__ = [
    "Candidate",
    "ComposeConfig",
    "ExtractiveComposer",
    "Prepared",
    "abstention",
    "compose",
    "relevance",
    "top_passages",
]
