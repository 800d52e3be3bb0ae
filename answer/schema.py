"""The one JSON answer schema, shared by the CLI, the API and the eval harness."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

DISCLAIMER = (
    "This answer is drawn verbatim from the indexed guideline and research passages cited "
    "below. It is information, not medical advice: it does not replace a clinician who knows "
    "the patient, and it may be incomplete or out of date."
)
ABSTAINED_DISCLAIMER = (
    "No answer is given because the indexed evidence does not address this question. This is "
    "information, not medical advice: please ask a clinician who knows the patient."
)


class Audience(str, enum.Enum):
    CLINICIAN = "clinician"
    PATIENT = "patient"


class SectionKind(str, enum.Enum):
    BOTTOM_LINE = "bottom_line"
    GUIDELINES = "guidelines"
    RESEARCH = "research"
    NOTICE = "notice"  # abstention, fallback and weak-evidence notices: never cites


class SentenceKind(str, enum.Enum):
    """Whose words a sentence is."""

    QUOTE = "quote"  # verbatim from the cited passages
    EVIDENCE_GAP = (
        "evidence_gap"  # our fixed template about the evidence: never a claim, never cited
    )
    NOTICE = "notice"  # our fixed notice (abstention, weak evidence, fallback): never cited


class Sentence(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    kind: SentenceKind = Field(
        SentenceKind.QUOTE,
        description="'quote': verbatim from the cited passages. 'evidence_gap' and 'notice': "
        "fixed template text about the evidence, written by the engine, never a medical claim "
        "and never cited.",
    )
    label: str | None = Field(
        None,
        description="Template framing shown before a quote, naming what its source is about "
        "(e.g. 'On African iron overload (GHR)'); built from the source's metadata, never a claim.",
    )
    citations: list[int] = Field(default_factory=list, description="Reference numbers [n].")
    design: str | None = Field(None, description="Study design of the cited research, if any.")
    year: int | None = Field(None, description="Publication year of the cited research, if known.")
    sample_size: int | None = Field(
        None, description="Participants in the cited study, where its abstract states them."
    )


class AnswerSection(BaseModel):
    kind: SectionKind
    title: str
    sentences: list[Sentence]


class Reference(BaseModel):
    n: int = Field(description="The number used in [n] citations, in order of first appearance.")
    passage_id: str
    document_id: str
    tier: str = Field(description="'guideline' or 'research'.")
    design: str = Field(description="Evidence tier or study design, e.g. 'guideline', 'rct'.")
    title: str
    source: str = Field(description="Publisher or journal.")
    year: int | None = None
    url: str | None = None


class Answer(BaseModel):
    question: str
    standalone_query: str
    audience: Audience = Audience.CLINICIAN
    abstained: bool = False
    topic_shift: bool = False
    generator: str = Field("extractive", description="'extractive', or 'llm:<model>'.")
    sections: list[AnswerSection]
    references: list[Reference]
    suggested_followups: list[str] = Field(default_factory=list)
    disclaimer: str = DISCLAIMER
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def section(self, kind: SectionKind) -> AnswerSection | None:
        return next((s for s in self.sections if s.kind is kind), None)
