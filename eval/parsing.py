"""Read an answer written by any system into one auditable shape: our JSON schema or Markdown.

An :class:`AuditedAnswer` is a list of sections of sentences with their ``[n]`` citations, plus
a numbered reference list with each reference's evidence kind (guideline or research) where it
can be read. :func:`from_answer` converts our :class:`answer.schema.Answer`;
:func:`parse_markdown` reads Markdown leniently. The accepted Markdown is documented in
docs/eval.md; in short:

* Headings (``#`` to ``######``, or a line that is only ``**bold**``) start sections. A heading
  mentioning guidelines / health authorities / recommendations is the guideline section; one
  mentioning research / studies / trials / literature is the research section; "bottom line",
  "summary", "key points", "answer" start the bottom line; "notice", "disclaimer", "caution",
  "limitations" start a notice (exempt from citation rules); "references", "sources",
  "bibliography" start the reference list; "follow-up" / "related questions" start the
  suggested follow-ups (exempt). Other headings start an ordinary section whose sentences must
  cite.
* Citations are ``[1]``, ``[1, 3]``, ``[1-3]``, ``[1][2]`` and footnote-style ``[^1]``.
  A citation group written after the full stop (``... is low. [2]``) belongs to the sentence
  before it.
* A reference is a line ``[n] ...``, ``n. ...``, ``n) ...`` or ``[^n]: ...`` (optionally a list
  item) inside the reference list, or a ``[n] ...`` line anywhere that looks like a reference
  (it has a URL, a year, an em dash or a tier tag). Its tier is read from a tag such as
  ``(guideline)``, ``[research]``, ``(rct)`` or ``Tier: systematic review`` (any
  :class:`corpus.types.EvidenceTier` name, or "guideline"/"research"), else from the reference
  sub-heading it sits under ("### Guideline sources"), else it is unknown.
* A paragraph containing "not medical advice", starting like our disclaimer, or starting with
  a label "Note:", "Notice:", "Warning:", "Caution:" or "Disclaimer:" (as in answer.render's
  ``> **Note:** ...`` blocks) is a notice.

Example:
    >>> doc = parse_markdown("## From the Guidelines\\nFerritin is low [1].\\n\\n"
    ...                      "## References\\n[1] Iron — NIH, 2020. https://x.org (guideline)")
    >>> doc.sections[0].kind, doc.sections[0].sentences[0].citations, doc.references[0].kind
    (<SectionKind.GUIDELINES: 'guidelines'>, (1,), <EvidenceKind.GUIDELINE: 'guideline'>)
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from answer.schema import DISCLAIMER, Answer, SectionKind, SentenceKind
from corpus.types import EvidenceKind, EvidenceTier


class AnswerFormat(str, enum.Enum):
    """Where an audited answer came from."""

    JSON = "json"  # our answer.schema.Answer
    MARKDOWN = "markdown"


@dataclass(frozen=True)
class AuditedSentence:
    text: str
    citations: tuple[int, ...] = ()
    exempt: bool = False  # the engine's own words about the evidence (an evidence gap)


@dataclass(frozen=True)
class AuditedSection:
    """A section; ``kind`` is None for a section whose heading says nothing about its role."""

    title: str
    kind: SectionKind | None
    sentences: tuple[AuditedSentence, ...]

    @property
    def exempt(self) -> bool:
        """Notice sections never cite, so citation coverage does not count them."""
        return self.kind is SectionKind.NOTICE


@dataclass(frozen=True)
class AuditedReference:
    """A numbered reference; ``kind`` is None when its tier could not be read."""

    n: int
    text: str
    kind: EvidenceKind | None
    design: str | None = None
    passage_id: str | None = None


@dataclass(frozen=True)
class AuditedAnswer:
    """An answer in the shape every audit check reads."""

    format: AnswerFormat
    sections: tuple[AuditedSection, ...]
    references: tuple[AuditedReference, ...]
    question: str = ""
    abstained: bool = False
    generator: str = "unknown"
    followups: tuple[str, ...] = ()

    def reference(self, n: int) -> AuditedReference | None:
        return next((r for r in self.references if r.n == n), None)


class AnswerParseError(ValueError):
    """The file is neither an answer in our JSON schema nor Markdown with any text."""


# --------------------------------------------------------------------------- our JSON schema


def from_answer(answer: Answer) -> AuditedAnswer:
    """Our schema, converted without loss of anything the audit checks."""
    sections = tuple(
        AuditedSection(
            title=section.title,
            kind=section.kind,
            sentences=tuple(
                AuditedSentence(s.text, tuple(s.citations), s.kind is not SentenceKind.QUOTE)
                for s in section.sentences
            ),
        )
        for section in answer.sections
    )
    references = tuple(
        AuditedReference(
            n=ref.n,
            text=_reference_text(ref.title, ref.source, ref.year, ref.url),
            kind=_kind_of(ref.tier) or _kind_of(ref.design),
            design=ref.design,
            passage_id=ref.passage_id,
        )
        for ref in answer.references
    )
    return AuditedAnswer(
        format=AnswerFormat.JSON,
        sections=sections,
        references=references,
        question=answer.question,
        abstained=answer.abstained,
        generator=answer.generator,
        followups=tuple(answer.suggested_followups),
    )


def _reference_text(title: str, source: str, year: int | None, url: str | None) -> str:
    parts = [title, f" — {source}" if source else "", f", {year}" if year else ""]
    return "".join(parts) + (f". {url}" if url else "")


def _kind_of(value: str | None) -> EvidenceKind | None:
    if not value:
        return None
    text = re.sub(r"[\s-]+", "_", value.strip().lower())
    if text in {"research", "study", "studies"}:
        return EvidenceKind.RESEARCH
    text = _TIER_ALIASES.get(text, text)
    try:
        return EvidenceTier.parse(text).kind
    except ValueError:
        return None


_TIER_ALIASES = {
    "guidelines": "guideline",
    "health_authority": "guideline",
    "systematic_reviews": "systematic_review",
    "meta_analysis": "systematic_review",
    "randomised_controlled_trial": "rct",
    "randomized_controlled_trial": "rct",
    "cohort": "observational",
    "case_control": "observational",
    "cross_sectional": "observational",
    "animal": "preclinical",
    "in_vitro": "preclinical",
    # The labels answer.render writes after references ("(Observational study)").
    "observational_study": "observational",
    "preclinical_study": "preclinical",
    "other_research": "other",
}


# --------------------------------------------------------------------------- files


def load_answer(path: Path | str) -> AuditedAnswer:
    """Read an answer file: our JSON schema (``.json``, or text starting ``{``), else Markdown.

    Raises:
        AnswerParseError: JSON that does not fit the schema, or an empty file.
        OSError: the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return from_answer(Answer.model_validate(json.loads(text)))
        except (ValueError, ValidationError) as error:
            raise AnswerParseError(f"{path}: not an answer in our JSON schema: {error}") from None
    if not text.strip():
        raise AnswerParseError(f"{path} is empty")
    return parse_markdown(text)


# --------------------------------------------------------------------------- Markdown

# Section roles by heading text, tried in this order (a "Research references" heading is a
# reference list, so references come before research).
_HEADING_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("references", re.compile(r"\b(references?|sources?|bibliography|citations|works cited)\b")),
    ("followups", re.compile(r"follow[\s-]?ups?|related questions|you (might|may) also ask")),
    ("notice", re.compile(r"\b(notice|disclaimer|caution|warning|limitations?|note)\b")),
    ("guidelines", re.compile(r"guideline|health authorit|recommendation|official guidance")),
    ("research", re.compile(r"research|stud(y|ies)|trials?\b|literature|evidence from papers")),
    ("bottom_line", re.compile(r"bottom line|summary|in short|key points?|tl;?dr|^answer\b")),
)
_ROLE_KIND = {
    "notice": SectionKind.NOTICE,
    "guidelines": SectionKind.GUIDELINES,
    "research": SectionKind.RESEARCH,
    "bottom_line": SectionKind.BOTTOM_LINE,
}

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_BOLD_HEADING = re.compile(r"^\s*(?:\*\*|__)([^*_]{1,80}?)(?:\*\*|__)\s*:?\s*$")
_REFERENCE_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\[\^?(\d{1,4})\]:?|(\d{1,4})[.)])\s+(?P<body>\S.*)$"
)
_BRACKET_REFERENCE_LINE = re.compile(r"^\s*(?:[-*+]\s+)?\[\^?(\d{1,4})\]:?\s+(?P<body>\S.*)$")
_LOOKS_LIKE_REFERENCE = re.compile(r"https?://|www\.|\b(19|20)\d{2}\b|—|\bdoi\b|\bPMID\b", re.I)
_TIER_TAG = re.compile(
    r"[(\[]\s*(?:tier\s*:\s*)?([A-Za-z][A-Za-z \-]{1,40}?)\s*[)\]]\s*\.?\s*$"
    r"|\btier\s*:\s*([A-Za-z][A-Za-z \-]{1,40})",
    re.I,
)
_CITATION = re.compile(r"\[\^?(\d{1,4}(?:\s*[,;–-]\s*\^?\d{1,4})*)\]")
_CITATION_GROUP_ONLY = re.compile(r"^(?:\s*\[\^?\d{1,4}(?:\s*[,;–-]\s*\^?\d{1,4})*\][.,;]?)+\s*$")
_GLUED_GROUP = re.compile(r"([.!?])((?:\[\^?\d{1,4}(?:\s*[,;–-]\s*\^?\d{1,4})*\])+)(?=\s|$)")
_LABEL_ONLY = re.compile(r"^\([^()\[\]]{1,60}\)\.?$")
_LEADING_GROUP = re.compile(r"^(?:\s*\[\^?\d{1,4}(?:\s*[,;–-]\s*\^?\d{1,4})*\])+")
_LINK = re.compile(r"!?\[([^\]]*[^\]\d^,;–\- ][^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_BLOCKQUOTE = re.compile(r"^\s*>\s?")
# A sentence ends at . ! or ? followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9\[])")
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "et al.",
    "vs.",
    "approx.",
    "Dr.",
    "Fig.",
    "No.",
    "cf.",
    "etc.",
    "St.",
    "Mr.",
    "Mrs.",
    "Ms.",
)
_NOTICE_TEXT = re.compile(
    r"not (a substitute for )?medical advice|does not replace a clinician|"
    r"^the indexed evidence does not",  # an evidence-gap statement (answer.lead)
    re.I,
)
# "> **Note:** ..." (how answer.render writes notices), "Warning: ...", "Disclaimer: ...".
_NOTICE_LABEL = re.compile(r"^(note|notice|warning|caution|disclaimer)\s*:", re.I)


def _role(heading: str) -> str | None:
    text = heading.strip().lower()
    for role, pattern in _HEADING_ROLES:
        if pattern.search(text):
            return role
    return None


def parse_markdown(text: str) -> AuditedAnswer:
    """Parse a Markdown answer leniently (see the module docstring for what is accepted)."""
    blocks = _blocks(text)
    sections: list[AuditedSection] = []
    references: list[AuditedReference] = []
    followups: list[str] = []
    title = ""
    role: str | None = None
    ref_level = 0
    tier_hint: EvidenceKind | None = None
    current: list[str] = []
    question = ""

    def close() -> None:
        if current:
            sentences = _sentences(current)
            kind = _ROLE_KIND.get(role or "")
            if sentences:
                sections.append(AuditedSection(title, kind, tuple(sentences)))
        current.clear()

    for level, heading, body in blocks:
        if heading is not None:
            new_role = _role(heading)
            if role == "references" and level > ref_level and new_role != "references":
                # A sub-heading of the reference list ("### Guideline sources") tags its tier.
                tier_hint = _hint_from_heading(heading)
                continue
            close()
            if level == 1 and new_role is None and not sections and not question:
                question = heading  # a top-level title (often the question) starts no section
                title, role = "", None
                continue
            title, role = heading, new_role
            if role == "references":
                ref_level, tier_hint = level, _hint_from_heading(heading)
            continue
        assert body is not None
        if role != "notice" and _is_notice_text(body):
            close()
            saved = (title, role)
            title, role = "Notice", "notice"
            current.append(body)
            close()
            title, role = saved
            continue
        if role == "references":
            ref = _reference(body, tier_hint)
            if ref is not None:
                references.append(ref)
            continue
        bracket = _BRACKET_REFERENCE_LINE.match(body)
        if bracket and _LOOKS_LIKE_REFERENCE.search(bracket.group("body")):
            ref = _reference(body, None)
            if ref is not None:
                references.append(ref)
                continue
        if role == "followups":
            followups.append(_plain(body))
            continue
        current.append(body)
    close()
    return AuditedAnswer(
        format=AnswerFormat.MARKDOWN,
        sections=tuple(sections),
        references=tuple(references),
        question=question,
        followups=tuple(followups),
    )


def _is_notice_text(body: str) -> bool:
    plain = _plain(body)
    return bool(_NOTICE_TEXT.search(plain) or _NOTICE_LABEL.match(plain)) or plain.startswith(
        DISCLAIMER[:40]
    )


def _blocks(text: str) -> list[tuple[int, str | None, str | None]]:
    """``(heading level, heading, None)`` or ``(0, None, paragraph)`` blocks in order.

    Paragraphs are split at blank lines; every list item and every reference-like line is a
    block of its own, so references and bullets never merge.
    """
    out: list[tuple[int, str | None, str | None]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append((0, None, " ".join(line.strip() for line in paragraph)))
            paragraph.clear()

    in_front_matter = False
    for number, raw in enumerate(text.splitlines()):
        line = _BLOCKQUOTE.sub("", raw.rstrip())
        if number == 0 and line.strip() == "---":
            in_front_matter = True
            continue
        if in_front_matter:
            in_front_matter = line.strip() != "---"
            continue
        if not line.strip() or re.fullmatch(r"\s*([-*_])\s*(\1\s*){2,}", line):
            flush()
            continue
        heading = _HEADING.match(line)
        bold = _BOLD_HEADING.match(line)
        if heading or bold:
            flush()
            if heading:
                out.append((len(heading.group(1)), _plain(heading.group(2)), None))
            else:
                assert bold is not None
                out.append((6, bold.group(1).strip(), None))  # weakest level
            continue
        if _LIST_MARKER.match(line) or _REFERENCE_LINE.match(line):
            flush()
            paragraph.append(line)
            continue
        paragraph.append(line)
    flush()
    return out


def _hint_from_heading(heading: str) -> EvidenceKind | None:
    text = heading.lower()
    if re.search(r"guideline|health authorit|recommendation", text):
        return EvidenceKind.GUIDELINE
    if re.search(r"research|stud(y|ies)|trials?\b|literature", text):
        return EvidenceKind.RESEARCH
    return None


def _reference(line: str, hint: EvidenceKind | None) -> AuditedReference | None:
    match = _REFERENCE_LINE.match(line)
    if match is None:
        return None
    n = int(match.group(1) or match.group(2))
    body = match.group("body").strip()
    kind: EvidenceKind | None = None
    design: str | None = None
    for tag in _TIER_TAG.finditer(body):
        candidate = (tag.group(1) or tag.group(2) or "").strip()
        found = _kind_of(candidate)
        if found is not None:
            kind, design = found, candidate.lower()
    if kind is None:
        kind = hint
    return AuditedReference(n=n, text=_plain(body), kind=kind, design=design)


def citation_numbers(text: str) -> list[int]:
    """Every reference number cited in ``text``, in order, ranges expanded (``[2-4]`` → 2, 3, 4)."""
    numbers: list[int] = []
    for group in _CITATION.finditer(text):
        for part in re.split(r"\s*[,;]\s*", group.group(1)):
            bounds = [int(x) for x in re.split(r"\s*[–-]\s*\^?", part.strip().lstrip("^")) if x]
            if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 50:
                numbers.extend(range(bounds[0], bounds[1] + 1))
            else:
                numbers.extend(bounds)
    return numbers


def strip_citations(text: str) -> str:
    """``text`` without its ``[n]`` markers and the spaces they leave before punctuation."""
    stripped = _CITATION.sub("", text)
    stripped = re.sub(r"\s+([.,;:!?])", r"\1", stripped)
    return re.sub(r"\s{2,}", " ", stripped).strip()


def _plain(text: str) -> str:
    """Markdown inline syntax removed: links keep their text, emphasis and list markers go."""
    out = _LIST_MARKER.sub("", text)
    out = _LINK.sub(r"\1", out)
    for _ in range(2):  # nested emphasis (***bold italic***)
        out = _EMPHASIS.sub(r"\2", out)
    return re.sub(r"\s+", " ", out).strip()


def _sentences(paragraphs: Iterable[str]) -> list[AuditedSentence]:
    out: list[AuditedSentence] = []
    for paragraph in paragraphs:
        # "ferritin.[1] They": the group glued after the stop moves before it ("ferritin [1].").
        text = _GLUED_GROUP.sub(r" \2\1", _plain(paragraph))
        pieces = split_sentences(text)
        for index, piece in enumerate(pieces):
            lead = _LEADING_GROUP.match(piece)
            if lead and index > 0 and out and not _CITATION_GROUP_ONLY.match(piece):
                # "... is low. [2] Ferritin ...": the leading group cites the sentence before.
                last = out[-1]
                moved = tuple(
                    dict.fromkeys(last.citations + tuple(citation_numbers(lead.group(0))))
                )
                out[-1] = AuditedSentence(f"{last.text} {lead.group(0).strip()}", moved)
                piece = piece[lead.end() :].strip()
            if _LABEL_ONLY.match(piece) and out:
                # "... higher. [2] *(RCT)*": a trailing design label belongs to the sentence.
                last = out[-1]
                out[-1] = AuditedSentence(f"{last.text} {piece}", last.citations)
                continue
            if _CITATION_GROUP_ONLY.match(piece) and out:
                # "... is low. [2]": the trailing group cites the sentence before it.
                last = out[-1]
                merged = tuple(dict.fromkeys(last.citations + tuple(citation_numbers(piece))))
                out[-1] = AuditedSentence(f"{last.text} {piece.strip()}", merged)
                continue
            if not re.search(r"\w", _CITATION.sub("", piece)):
                continue
            out.append(AuditedSentence(piece, tuple(dict.fromkeys(citation_numbers(piece)))))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph of answer text, keeping common abbreviations whole."""
    protected = text
    for i, abbreviation in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbreviation, f"\x00{i}\x00")
    parts = [p.strip() for p in _SENTENCE_END.split(protected) if p.strip()]
    restored = []
    for part in parts:
        for i, abbreviation in enumerate(_ABBREVIATIONS):
            part = part.replace(f"\x00{i}\x00", abbreviation)
        restored.append(part)
    return restored
