"""Content terms of a text, for the lexical half of sentence scoring and for near-duplicates.

Terms are lower-cased, Snowball-stemmed words without stop words, with a letter–digit hyphen
closed up so that "B-12" and "B12" meet. The stemmer is the one BM25 uses in the index layer.

Example:
    >>> sorted(content_terms("Are vitamin B-12 levels higher with lower ferritin levels?"))
    ['b12', 'ferritin', 'higher', 'level', 'lower', 'vitamin']
    >>> overlap(content_terms("ferritin levels"), content_terms("Ferritin level is low."))
    1.0
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"[a-z0-9]+")
_LETTER_DIGIT_HYPHEN = re.compile(r"(?<=[a-z])-(?=\d)")

# Function words plus the question words of MedQuAD headings ("What is (are) ...").
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "may",
        "might",
        "must",
        "shall",
        "tell",
        "know",
        "get",
        "much",
        "many",
    ]
)


@lru_cache(maxsize=65536)
def content_terms(text: str) -> frozenset[str]:
    """The stemmed content words of ``text`` (cached: sentences recur across answers)."""
    lowered = _LETTER_DIGIT_HYPHEN.sub("", text.lower())
    words = [w for w in _TOKEN.findall(lowered) if w not in STOP_WORDS and len(w) > 1]
    return frozenset(_STEMMER.stemWords(words))


def overlap(query: frozenset[str], sentence: frozenset[str]) -> float:
    """The share of the query's terms that the sentence contains (0 for an empty query)."""
    if not query:
        return 0.0
    return len(query & sentence) / len(query)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two term sets (0 when both are empty)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0
