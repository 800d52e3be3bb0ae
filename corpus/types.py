"""The evidence data model: documents, their sections, and the passages cut from them.

Every layer above ``corpus`` speaks in these types. They are frozen dataclasses so a passage
can be shared between the index, the retriever and an answer without anyone changing it.

Example:
    >>> doc = Document(id="pubmedqa:123", title="Ferritin and B12", text="Background text.",
    ...                tier=EvidenceTier.OBSERVATIONAL, source="PubMedQA", year=2011,
    ...                url="https://pubmed.ncbi.nlm.nih.gov/123/", licence="MIT",
    ...                dataset="pubmedqa")
    >>> doc.tier.kind
    <EvidenceKind.RESEARCH: 'research'>
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, TypeVar

E = TypeVar("E", bound=enum.Enum)

# A UTF-16 surrogate on its own: JSON can spell one ("\ud800"), but no UTF-8 text can hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_choice(choices: type[E], value: object, what: str) -> E:
    """Parse ``value`` as a member of a closed choice, with an error that lists the members.

    Example:
        >>> parse_choice(EvidenceTier, " RCT ", "evidence tier")
        <EvidenceTier.RCT: 'rct'>
    """
    try:
        return choices(str(value).strip().lower())
    except ValueError:
        names = ", ".join(str(member.value) for member in choices)
        raise ValueError(f"unknown {what} {value!r}; expected one of: {names}") from None


class EvidenceKind(str, enum.Enum):
    """The two groups an answer is split into: guideline evidence stands above research."""

    GUIDELINE = "guideline"
    RESEARCH = "research"


class EvidenceTier(str, enum.Enum):
    """The closed, ordered set of evidence tiers, strongest first.

    ``guideline`` covers clinical practice guidelines, consensus statements and
    health-authority guidance. The others are research, ordered by study design.
    """

    GUIDELINE = "guideline"
    SYSTEMATIC_REVIEW = "systematic_review"  # meta-analyses included
    RCT = "rct"
    OBSERVATIONAL = "observational"  # cohort, case-control, cross-sectional
    CASE_REPORT = "case_report"
    PRECLINICAL = "preclinical"  # animal, in vitro
    OTHER = "other"

    @property
    def rank(self) -> int:
        """0 for the strongest tier; larger is weaker."""
        return _TIER_ORDER.index(self)

    @property
    def kind(self) -> EvidenceKind:
        return EvidenceKind.GUIDELINE if self is EvidenceTier.GUIDELINE else EvidenceKind.RESEARCH

    @classmethod
    def parse(cls, value: str) -> EvidenceTier:
        """Parse a tier name, with an error that lists the valid names."""
        return parse_choice(cls, value, "evidence tier")


_TIER_ORDER = list(EvidenceTier)
RESEARCH_DESIGNS = tuple(tier for tier in EvidenceTier if tier.kind is EvidenceKind.RESEARCH)


@dataclass(frozen=True)
class Section:
    """A labelled span of a document's text: ``text[start:end]`` under ``heading``."""

    heading: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One source record: a guideline page or a research abstract.

    ``sections`` partition ``text`` into labelled spans (PubMedQA's BACKGROUND/METHODS/...,
    MedQuAD's question as the heading). A document without sections is one unlabelled span.
    """

    id: str
    title: str
    text: str
    tier: EvidenceTier
    source: str  # publisher (guidelines) or journal / data set (research)
    licence: str
    dataset: str
    year: int | None = None
    url: str | None = None  # URL, or an identifier such as a PMID
    mesh: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("document id must not be empty")
        if not self.text.strip():
            raise ValueError(f"document {self.id!r} has no text")
        for name in DOCUMENT_FIELDS:
            for text in _texts(getattr(self, name)):
                if surrogate := _SURROGATE.search(text):
                    raise ValueError(
                        f"document {self.id!r}: field {name!r} is not valid Unicode (a lone "
                        f"surrogate U+{ord(surrogate.group()):04X} at character "
                        f"{surrogate.start()})"
                    )

    def spans(self) -> tuple[Section, ...]:
        """The sections, or the whole text as one unlabelled section."""
        return self.sections or (Section("", 0, len(self.text)),)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON value: the tier by name, MeSH terms as a list, sections as
        ``{heading, start, end}`` objects. A document's content hash (:mod:`index.records`)
        and its generic JSONL record (:mod:`corpus.formats.jsonl`) are both made from this."""
        data = {name: getattr(self, name) for name in DOCUMENT_FIELDS}
        data["tier"] = self.tier.value
        data["mesh"] = list(self.mesh)
        data["sections"] = [asdict(section) for section in self.sections]
        return data


DOCUMENT_FIELDS = tuple(f.name for f in fields(Document))
"""The fields of a :class:`Document`, in declaration order."""


def _texts(value: object) -> Iterator[str]:
    """The strings of a document field: itself, its items, or its sections' headings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _texts(item.heading if isinstance(item, Section) else item)


def passage_id(document_id: str, start: int, end: int) -> str:
    """A stable id from the document id and character offsets (never Python's salted hash)."""
    digest = hashlib.sha1(f"{document_id}\x00{start}\x00{end}".encode()).hexdigest()
    return f"p{digest[:16]}"


@dataclass(frozen=True)
class Passage:
    """A chunk of a document, carrying the document's evidence fields with it.

    ``text == document.text[start:end]``. ``section`` is the heading it sits under.
    """

    id: str
    document_id: str
    text: str
    start: int
    end: int
    section: str
    title: str
    tier: EvidenceTier
    source: str
    licence: str
    dataset: str
    year: int | None = None
    url: str | None = None
    mesh: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, document: Document, start: int, end: int, section: str = "") -> Passage:
        """The span ``document.text[start:end]`` under ``section``, with its stable id and the
        document's evidence fields."""
        return cls(
            id=passage_id(document.id, start, end),
            document_id=document.id,
            text=document.text[start:end],
            start=start,
            end=end,
            section=section,
            title=document.title,
            tier=document.tier,
            source=document.source,
            licence=document.licence,
            dataset=document.dataset,
            year=document.year,
            url=document.url,
            mesh=document.mesh,
        )

    @property
    def kind(self) -> EvidenceKind:
        return self.tier.kind

    @property
    def topic(self) -> str:
        """What the passage's page is about: its title up to a " — " heading separator."""
        return self.title.split(" — ")[0].strip()

    @property
    def embedding_text(self) -> str:
        """What the encoder and BM25 see: the title and heading carried into the passage."""
        heading = f"{self.section}. " if self.section and self.section != self.title else ""
        return f"{self.title}. {heading}{self.text}"


class TokenCounter(Protocol):
    """Counts the model's word pieces in texts, without special tokens.

    The chunker packs sentences by this count so a passage (plus its title) fits the encoder.
    """

    @property
    def name(self) -> str:
        """What the counter is, recorded in the chunking parameters of an index manifest."""
        ...

    def count(self, texts: Sequence[str]) -> list[int]:
        """The number of tokens in each text, in order."""
        ...
