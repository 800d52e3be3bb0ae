"""Suggested follow-up questions, taken from the evidence rather than written by us.

MedQuAD pages carry the question they answer as their section heading ("What causes Pernicious
Anemia ?"), and PubMedQA titles are questions too. A suggestion is such a heading of a retrieved
(or sibling) passage that differs from every question already asked, so it is grounded: the
index holds a passage that answers it. Headings on the same focus as the best guideline passage
come first ("Pernicious Anemia" -> its causes, its treatments), then the rest in retrieval order.

Example:
    >>> suggest_followups("What is pernicious anemia?", passages, limit=3)
    ['What causes Pernicious Anemia?', 'How to diagnose Pernicious Anemia?', ...]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from answer.terms import content_terms
from corpus.types import EvidenceKind, Passage

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


def same_question(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two questions' content terms overlap enough to ask the same thing.

    Terms match when equal or when one is a prefix (of 4+ letters) of the other, and the
    overlap is a Jaccard similarity over matched terms: "How is pernicious anemia treated?"
    and "What are the treatments for Pernicious Anemia?" give 3 / 3 = 1.0.
    """
    if not a or not b:
        return a == b
    matched = sum(1 for term in a if any(_match(term, other) for other in b))
    return matched / (len(a) + len(b) - matched) >= SAME_QUESTION_JACCARD


def tidy_question(heading: str) -> str:
    """Tidy a heading: "Who is at risk for Anemia? ?" -> "Who is at risk for Anemia?"."""
    text = _SPACES.sub(" ", heading).strip()
    text = _REPEATED_MARK.sub("?", text)
    text = _HEDGED_VERB.sub("What is", text)
    return _SPACE_BEFORE_MARK.sub(r"\1", text)


def focus_of(passage: Passage) -> str:
    """The topic a passage is about: its title up to a " — " heading separator, lower-cased."""
    return passage.title.split(" — ")[0].strip().lower()


def _question_of(passage: Passage) -> str | None:
    for candidate in (passage.section, passage.title):
        text = tidy_question(candidate or "")
        if text.endswith("?") and len(text.split()) >= 3:
            return text
    return None


def suggest_followups(
    question: str,
    passages: Sequence[Passage],
    *,
    asked: Iterable[str] = (),
    limit: int = 3,
) -> list[str]:
    """Up to ``limit`` questions that the given passages answer and nobody has asked yet.

    Args:
        question: the question being answered now.
        passages: retrieved passages, best first, optionally followed by siblings of the best
            guideline passage (same page or focus); only their headings and titles are read.
        asked: earlier questions of the conversation, also excluded.
        limit: at most this many suggestions.
    """
    seen = [content_terms(q) for q in (question, *asked)]
    guideline = [p for p in passages if p.kind is EvidenceKind.GUIDELINE]
    focus = focus_of(guideline[0]) if guideline else None
    same_focus: list[str] = []
    others: list[str] = []
    for passage in passages:
        text = _question_of(passage)
        if text is None:
            continue
        terms = content_terms(text)
        if any(same_question(terms, earlier) for earlier in seen):
            continue
        seen.append(terms)
        (same_focus if focus and focus_of(passage) == focus else others).append(text)
    return (same_focus + others)[:limit]
