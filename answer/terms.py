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

from retriever.terms import STOP_WORDS

_STEMMER = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"[a-z0-9]+")
_LETTER_DIGIT_HYPHEN = re.compile(r"(?<=[a-z])-(?=\d)")


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
