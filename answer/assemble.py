"""Turn drafted sections (sentences that point at passages) into a numbered :class:`Answer`.

Both generators, extractive and LLM, draft sentences that cite :class:`Passage` objects; this
module alone numbers them. Citations are numbered in order of first appearance (bottom line,
then the sections in order), every reference is cited, every citation resolves, and notices
cite nothing. Keeping the numbering in one place is what lets the tests check those rules once.

Example:
    >>> answer = assemble(
    ...     question="Is B12 low?", standalone_query="Is B12 low?", audience=Audience.CLINICIAN,
    ...     sections=[Draft(SectionKind.GUIDELINES, [DraftSentence("Text.", (passage,))])])
    >>> answer.sections[0].sentences[0].citations, answer.references[0].n
    ([1], 1)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from answer.schema import (
    DISCLAIMER,
    Answer,
    AnswerSection,
    Audience,
    Reference,
    SectionKind,
    Sentence,
    SentenceKind,
)
from corpus.types import EvidenceKind, Passage

SECTION_TITLES = {
    SectionKind.NOTICE: "Note",
    SectionKind.BOTTOM_LINE: "Bottom line",
    SectionKind.GUIDELINES: "From the Guidelines",
    SectionKind.RESEARCH: "From the Research",
}


@dataclass(frozen=True)
class DraftSentence:
    """A sentence and the passages it cites (none only for a notice or an evidence gap).

    ``label`` is template framing shown before a quote ("On African iron overload (GHR)"),
    ``sample_size`` the participants of the cited study where its abstract states them.
    """

    text: str
    passages: tuple[Passage, ...] = ()
    kind: SentenceKind = SentenceKind.QUOTE
    label: str | None = None
    sample_size: int | None = None


@dataclass(frozen=True)
class Draft:
    """A section before numbering."""

    kind: SectionKind
    sentences: list[DraftSentence] = field(default_factory=list)


def design_of(passages: Sequence[Passage]) -> str | None:
    """The study design shown next to a sentence: the strongest research tier it cites."""
    research = [p.tier for p in passages if p.kind is EvidenceKind.RESEARCH]
    return min(research, key=lambda tier: tier.rank).value if research else None


def year_of(passages: Sequence[Passage]) -> int | None:
    """The year shown next to a research sentence: the newest cited research record's."""
    years = [p.year for p in passages if p.kind is EvidenceKind.RESEARCH and p.year]
    return max(years) if years else None


# What a research reference shows where its record names no journal: SciFact and PubMedQA
# records carry the data set's name as their source, which is no place of publication.
NOT_RECORDED = "journal not recorded"


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


# A title that opens with its own citation (SciFact keeps some PDF headers as titles):
# "British Journal of Nutrition (2003), 89, 295–301 q The Authors 2003 DOI ...". The chat page's
# widget reads the journal the same way (TITLE_CITATION in api/static/followup-widget.js).
_TITLE_CITATION = re.compile(
    r"^\s*([A-Z][A-Za-z&.,' -]{2,80}?)\s+\((\d{4})\)\s*[,;]?\s*"
    r"\d+(?:\s*\(\d+\))?\s*[,:]\s*\d+(?:\s*[–-]\s*\d+)?\s*"
)


def source_of(passage: Passage) -> str:
    """The publisher or journal a reference names: never a data set's name for research.

    A research record whose source is its data set ("SciFact", "BEIR SciFact corpus") names
    the journal its title cites, if it cites one, and otherwise :data:`NOT_RECORDED`.

    Example:
        >>> source_of(scifact_passage)  # source "SciFact", dataset "scifact"
        'journal not recorded'
    """
    source = passage.source.strip()
    dataset = _squash(passage.dataset)
    if passage.kind is EvidenceKind.RESEARCH and (
        not source or (dataset and dataset in _squash(source))
    ):
        cited = _TITLE_CITATION.match(passage.title)
        return cited.group(1).strip().rstrip(",.") if cited else NOT_RECORDED
    return source


def reference_for(n: int, passage: Passage) -> Reference:
    """The reference entry ``[n]`` for ``passage``."""
    return Reference(
        n=n,
        passage_id=passage.id,
        document_id=passage.document_id,
        tier=passage.kind.value,
        design=passage.tier.value,
        title=passage.title,
        source=source_of(passage),
        year=passage.year,
        url=passage.url,
    )


def assemble(
    *,
    question: str,
    standalone_query: str,
    audience: Audience,
    sections: Sequence[Draft],
    abstained: bool = False,
    topic_shift: bool = False,
    generator: str = "extractive",
    suggested_followups: Sequence[str] = (),
    disclaimer: str = DISCLAIMER,
    timings_ms: dict[str, float] | None = None,
) -> Answer:
    """Number the citations of ``sections`` and build the :class:`Answer`.

    Empty sections are left out. A notice's sentences, and evidence-gap sentences anywhere,
    never cite, whatever the draft says.

    Raises:
        ValueError: a non-notice sentence cites no passage (uncited text must never reach
            the user; the generators filter such sentences before they get here).
    """
    numbers: dict[str, int] = {}
    cited: list[Passage] = []
    built: list[AnswerSection] = []
    for draft in sections:
        if not draft.sentences:
            continue
        sentences = []
        for sentence in draft.sentences:
            if draft.kind is SectionKind.NOTICE:
                sentences.append(Sentence(text=sentence.text, kind=SentenceKind.NOTICE))
                continue
            if sentence.kind is not SentenceKind.QUOTE:
                sentences.append(Sentence(text=sentence.text, kind=sentence.kind))
                continue
            if not sentence.passages:
                raise ValueError(f"uncited sentence in {draft.kind.value}: {sentence.text!r}")
            citations = []
            for passage in sentence.passages:
                if passage.id not in numbers:
                    numbers[passage.id] = len(numbers) + 1
                    cited.append(passage)
                if numbers[passage.id] not in citations:
                    citations.append(numbers[passage.id])
            sentences.append(
                Sentence(
                    text=sentence.text,
                    label=sentence.label,
                    citations=citations,
                    design=design_of(sentence.passages),
                    year=year_of(sentence.passages),
                    sample_size=sentence.sample_size,
                )
            )
        built.append(
            AnswerSection(kind=draft.kind, title=SECTION_TITLES[draft.kind], sentences=sentences)
        )
    references = [reference_for(numbers[p.id], p) for p in cited]
    return Answer(
        question=question,
        standalone_query=standalone_query,
        audience=audience,
        abstained=abstained,
        topic_shift=topic_shift,
        generator=generator,
        sections=built,
        references=references,
        suggested_followups=list(suggested_followups),
        disclaimer=disclaimer,
        timings_ms=dict(timings_ms or {}),
    )
