"""Answer-quality measures: ROUGE against references, lead focus coverage, type fit and defects.

Every function here is pure: an :class:`answer.schema.Answer` (or text) in, a number, flag or
tuple out. The measures, and the rules behind the ones that are ours (docs/eval.md):

* **ROUGE-1 recall and ROUGE-L F1** of the answer's quoted text (:func:`answer.render.plain_text`)
  against each reference answer, by Google's ``rouge-score`` (Porter stemming on); the best
  reference counts, for each measure separately (:func:`rouge`).
* **Lead focus coverage.** The *lead* is the bottom-line section. A focus (a short phrase such as
  "polycystic renal disease") is *mentioned* by a text when at least half of the focus's content
  tokens occur in it (:func:`focus_covered`). Tokens are lower-cased, British "-aem-" spellings
  folded ("anaemia" -> "anemia"), a letter-digit hyphen closed ("B-12" -> "b12"),
  Snowball-stemmed, and stop words dropped. A token also matches one within a small edit
  (difflib ratio >= 0.8, tokens of 5+ letters: users' foci carry typos such as "Hydrslazine"),
  and a focus the engine's synonym table knows is also mentioned by its synonyms ("DVT" by
  "deep vein thrombosis"; :func:`retriever.question.concept`). The lead's quotes are read with
  their labels ("On Hemochromatosis (NHLBI): ..."), which the reader sees with them. Coverage
  is reported twice: on the lead's quotes only, and also counting an evidence-gap sentence of
  the lead that names the focus (an honest "the evidence does not relate X to Y" tells the
  clinician about their question); both over the answered items (an abstention has no lead,
  and is counted in the abstention rate instead).
* **Unresolved anaphora**: a quote whose first sentence opens with a word that leans on a
  sentence the reader cannot see ("It", "These", "Such", "Affected individuals", "In this
  study", ...; :data:`ANAPHORIC_OPENING`). Only the first sentence of a quote is checked: a quoted
  span that starts with its antecedent is fine, and so is a quote shown after a label that
  names its page. "It is important / recommended / ..." is the impersonal "it", not a
  reference back, and is not counted.
* **Cross-document juxtaposition**: two adjacent quote sentences of the lead citing disjoint sets
  of documents, neither framed by a ``label``: they would read as one claim.
* **Repeats**: quote sentences already shown in an earlier turn of the same conversation.

This module holds no state and reads nothing; normalisation is deliberately its own (not
:mod:`answer.terms`), so that tuning the composer's term matching cannot move these figures.

Example:
    >>> focus_covered("Iron pills treat iron-deficiency anaemia.", "iron deficiency anemia")
    True
    >>> round(rouge("Anemia is treated with iron", ["Iron pills treat anemia"]).rouge1_recall, 2)
    0.75
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from answer.schema import Answer, SectionKind, Sentence, SentenceKind

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

FOCUS_THRESHOLD = 0.5
# A focus token matches a text token this similar (difflib ratio), both of this length or more.
TYPO_RATIO = 0.8
TYPO_MIN_LENGTH = 5
"""Share of a focus's content tokens a text must contain to mention it."""

# Function words and question words: they say nothing about what a focus is.
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "the",
        "their",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)

_TOKEN = re.compile(r"[a-z0-9]+")
_LETTER_DIGIT_HYPHEN = re.compile(r"(?<=[a-z])-(?=\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|vs|Dr|Mr|Mrs|Ms|Fig|al|approx|No|St)\.$")

ANAPHORIC_OPENING = re.compile(
    r"^(?:"
    r"(?:It|Its|This|These|That|Those|They|Their|Them|Such|He|She|His|Her|Both|Hence|Thus|"
    r"Therefore|However|Also|Moreover|Furthermore|Additionally|Similarly|Otherwise)\b"
    r"|In (?:addition|contrast|this study|these patients|this trial|this case|such cases)\b"
    r"|(?:Affected|The affected) (?:individuals|people|persons|patients|children|infants|babies)\b"
    r"|This (?:condition|disorder|disease|syndrome|protein|gene|test|treatment)\b"
    # "The treatment" leans back; "The treatment for chronic diarrhea" names its subject.
    r"|The (?:condition|disorder|disease|syndrome|protein|gene|test|treatment)\b"
    r"(?!\s+(?:of|for|in|with)\b)"
    r"|(?:People|Individuals|Patients|Children) with (?:this|the) "
    r"(?:condition|disorder|disease|syndrome)\b"
    r")"
)
"""Openings that lean on an antecedent the reader of a lone quote has not seen."""

_IMPERSONAL_IT = re.compile(
    r"^It(?:'s| is| was| may be| can be| has been)(?: not)? (?:important|essential|recommended|"
    r"possible|impossible|known|unknown|estimated|thought|believed|unclear|clear|likely|unlikely|"
    r"best|difficult|hard|common|rare|necessary|advisable|also)\b"
)


# --------------------------------------------------------------------------- tokens


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokens(text: str) -> tuple[str, ...]:
    """Normalised, stemmed tokens of ``text`` in order (stop words kept, for phrases).

    Example:
        >>> tokens("Vitamin B-12 and anaemia")
        ('vitamin', 'b12', 'and', 'anemia')
    """
    lowered = _LETTER_DIGIT_HYPHEN.sub("", text.lower()).replace("aem", "em")
    return tuple(_stemmer().stemWords(_TOKEN.findall(lowered)))


def content_tokens(text: str) -> frozenset[str]:
    """The stemmed tokens of ``text`` without stop words."""
    return frozenset(t for t in tokens(text) if t not in STOP_WORDS)


def mentions(text: str, term: str) -> bool:
    """True when ``term``'s tokens occur in ``text`` as one contiguous run.

    Example:
        >>> mentions("A lack of intrinsic factor causes it.", "Intrinsic factors")
        True
    """
    needle = tokens(term)
    hay = tokens(text)
    if not needle:
        return False
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def _close(token: str, others: frozenset[str]) -> bool:
    return token in others or (
        len(token) >= TYPO_MIN_LENGTH
        and any(
            SequenceMatcher(None, token, other).ratio() >= TYPO_RATIO
            for other in others
            if len(other) >= TYPO_MIN_LENGTH
        )
    )


def focus_covered(text: str, focus: str, threshold: float = FOCUS_THRESHOLD) -> bool:
    """True when ``text`` holds at least ``threshold`` of ``focus``'s content tokens (each
    exactly or within a small edit), or names the focus through the synonym table.

    A focus without content tokens is never covered.

    Example:
        >>> focus_covered("Gabapentin and hydrocodone", "Gabamentine")
        True
    """
    from retriever.concepts import concept  # the engine's synonym table

    wanted = content_tokens(focus)
    if not wanted:
        return False
    have = content_tokens(text)
    if sum(_close(token, have) for token in wanted) / len(wanted) >= threshold:
        return True
    return concept(focus).mentioned_in(text)


# --------------------------------------------------------------------------- ROUGE


@dataclass(frozen=True)
class RougeScores:
    """ROUGE of one answer against its best reference (per measure)."""

    rouge1_recall: float
    rougeL_f1: float  # noqa: N815 - the measure's usual name


@functools.cache
def _scorer() -> RougeScorer:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def rouge(prediction: str, references: Sequence[str]) -> RougeScores:
    """ROUGE-1 recall and ROUGE-L F1 of ``prediction``, each the maximum over ``references``.

    Raises:
        ValueError: no references.
    """
    if not references:
        raise ValueError("ROUGE needs at least one reference answer")
    scores = [_scorer().score(reference, prediction) for reference in references]
    return RougeScores(
        rouge1_recall=max(s["rouge1"].recall for s in scores),
        rougeL_f1=max(s["rougeL"].fmeasure for s in scores),
    )


# --------------------------------------------------------------------------- the lead


def lead(answer: Answer) -> tuple[Sentence, ...]:
    """The bottom-line section's sentences (none when the answer has no bottom line)."""
    section = answer.section(SectionKind.BOTTOM_LINE)
    return tuple(section.sentences) if section is not None else ()


def lead_text(answer: Answer, *, quotes_only: bool = False) -> str:
    """The lead's text as read: quotes (with their labels) and evidence-gap sentences, or
    only the quotes."""
    allowed = (
        {SentenceKind.QUOTE} if quotes_only else {SentenceKind.QUOTE, SentenceKind.EVIDENCE_GAP}
    )
    return " ".join(
        f"{s.label}: {s.text}" if s.label else s.text for s in lead(answer) if s.kind in allowed
    )


def lead_opens_with_gap(answer: Answer) -> bool:
    """True when the lead's first sentence is an evidence-gap statement."""
    sentences = lead(answer)
    return bool(sentences) and sentences[0].kind is SentenceKind.EVIDENCE_GAP


@dataclass(frozen=True)
class Coverage:
    """Which focus phrases the lead covers, by quotes alone and counting gap statements."""

    focus: tuple[str, ...]
    by_quotes: tuple[bool, ...]
    with_gaps: tuple[bool, ...]

    @property
    def quote_rate(self) -> float | None:
        return sum(self.by_quotes) / len(self.focus) if self.focus else None

    @property
    def gap_rate(self) -> float | None:
        return sum(self.with_gaps) / len(self.focus) if self.focus else None


def coverage(answer: Answer, focus: Sequence[str]) -> Coverage:
    """Focus coverage of the lead (module docstring: the rule).

    Example:
        >>> coverage(answer, ["vitamin b12", "ferritin"]).gap_rate  # doctest: +SKIP
        1.0
    """
    quotes = lead_text(answer, quotes_only=True)
    gaps = [s.text for s in lead(answer) if s.kind is SentenceKind.EVIDENCE_GAP]
    by_quotes = tuple(focus_covered(quotes, f) for f in focus)
    with_gaps = tuple(
        q or any(focus_covered(g, f) for g in gaps) for q, f in zip(by_quotes, focus, strict=True)
    )
    return Coverage(tuple(focus), by_quotes, with_gaps)


# --------------------------------------------------------------------------- defects


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (a quote may span several); abbreviations do not end one."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.start()].rstrip("\"')]")
        if _ABBREVIATION.search(head):
            continue
        return text[start : match.start()].strip()
    return text.strip()


def is_anaphoric(text: str) -> bool:
    """True when the first sentence of ``text`` opens leaning on an unseen antecedent.

    Example:
        >>> is_anaphoric("These patients had low ferritin. Ferritin stores iron.")
        True
        >>> is_anaphoric("Ferritin stores iron. It is measured in serum.")
        False
        >>> is_anaphoric("It is important to eat iron-rich foods.")
        False
    """
    head = first_sentence(text).lstrip("\"'(*- ")
    return ANAPHORIC_OPENING.match(head) is not None and _IMPERSONAL_IT.match(head) is None


def quotes(answer: Answer) -> tuple[str, ...]:
    """The texts of the answer's quote sentences, every section, each text once, in order."""
    seen: dict[str, None] = {}
    for section in answer.sections:
        for sentence in section.sentences:
            if sentence.kind is SentenceKind.QUOTE:
                seen.setdefault(sentence.text, None)
    return tuple(seen)


def anaphoric_quotes(answer: Answer) -> tuple[str, ...]:
    """The quotes whose first sentence opens with an unresolved reference. A quote shown after
    a label naming its page ("On Hemochromatosis (NHLBI): This condition ...") is resolved by
    the label."""
    found = (
        s.text
        for section in answer.sections
        if section.kind is not SectionKind.NOTICE
        for s in section.sentences
        if s.kind is SentenceKind.QUOTE and not s.label and is_anaphoric(s.text)
    )
    return tuple(dict.fromkeys(found))


def _documents(answer: Answer, sentence: Sentence) -> frozenset[str]:
    by_n = {r.n: r.document_id for r in answer.references}
    return frozenset(by_n[n] for n in sentence.citations if n in by_n)


def juxtapositions(answer: Answer) -> tuple[tuple[int, int], ...]:
    """Positions ``(i, i + 1)`` in the lead of adjacent, unlabelled quotes from other documents.

    A pair counts when both are quotes, neither carries a ``label``, both cite something, and
    the documents they cite do not overlap.
    """
    sentences = lead(answer)
    found = []
    for i in range(len(sentences) - 1):
        a, b = sentences[i], sentences[i + 1]
        if a.kind is not SentenceKind.QUOTE or b.kind is not SentenceKind.QUOTE:
            continue
        if a.label or b.label:
            continue
        docs_a, docs_b = _documents(answer, a), _documents(answer, b)
        if docs_a and docs_b and not docs_a & docs_b:
            found.append((i, i + 1))
    return tuple(found)


def _norm(text: str) -> str:
    return " ".join(text.split())


def repeated_quotes(answer: Answer, earlier: Sequence[Answer]) -> tuple[str, ...]:
    """The answer's quotes already shown (whitespace-insensitive) in an earlier answer."""
    shown = {_norm(text) for previous in earlier for text in quotes(previous)}
    return tuple(text for text in quotes(answer) if _norm(text) in shown)


# --------------------------------------------------------------------------- question analysis


@dataclass(frozen=True)
class QuestionView:
    """What the question analyser (``retriever.question``) says about a question."""

    qtype: Any  # retriever.question.QuestionType
    focus: tuple[Any, ...]  # retriever.question.Concept

    @property
    def focus_names(self) -> tuple[str, ...]:
        return tuple(str(c.name) for c in self.focus)


def analyse(question: str) -> QuestionView | None:
    """``retriever.question.analyze`` of ``question``; ``None`` when that module is missing."""
    try:
        from retriever.question import analyze
    except ImportError:
        return None
    result = analyze(question)
    return QuestionView(result.qtype, tuple(result.focus))


def type_fit(view: QuestionView | None, text: str) -> bool | None:
    """``answer.typefit.fits_type`` of ``text`` for the question; ``None`` if not available."""
    if view is None:
        return None
    try:
        from answer.typefit import fits_type
    except ImportError:
        return None
    return bool(fits_type(view.qtype, text, view.focus))


def has_amount(text: str) -> bool | None:
    """``answer.typefit.has_amount`` (a dose with a unit); ``None`` if not available."""
    try:
        from answer.typefit import has_amount as found
    except ImportError:
        return None
    return bool(found(text))
