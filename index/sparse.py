"""BM25 as sparse vectors, for a store that scores by dot product (Qdrant).

A passage's vector has one dimension per distinct index term (our own analyser,
:class:`index.lexical.Bm25Tokenizer`) and a query's vector holds each term's count in the query,
so the dot product is the BM25 sum over query tokens that bm25s computes
(:mod:`index.lexical`'s module docstring has the formulas):

* :attr:`SparseWeights.BM25`: a term's weight is ``idf(t) * tf / (tf + k1 * (1 - b + b * |d| /
  avgdl))`` with the idf of the configured method, computed over the whole corpus at build time.
  The scores equal bm25s's (to float32 rounding; tests/test_index_qdrant.py checks).
* :attr:`SparseWeights.IDF`: the weight is the term-frequency part only; Qdrant's IDF modifier
  multiplies in ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Lucene's idf) at query time, from the
  collection's own counts.

A term's dimension is a stable 32-bit hash of the term (BLAKE2b), so no vocabulary has to be
stored or shared: a query is mapped to dimensions by the analyser alone. Two terms can share a
dimension; among the ~30,000 terms of SciFact the chance of any collision is about 10%, and a
collision merges two rare terms' postings, which moves scores, never breaks a search.

Example:
    >>> stats = Bm25Statistics()
    >>> stats.add(["ferritin", "low"]); stats.add(["ferritin"])
    >>> passage_vector(["ferritin", "low"], stats, Bm25Settings(), SparseWeights.BM25)
    SparseTerms(indices=..., values=...)
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from index.lexical import Bm25Method, Bm25Settings
from index.storage import SparseWeights


def term_index(term: str) -> int:
    """The sparse dimension of an index term: the first 4 bytes of its BLAKE2b digest."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


@dataclass(frozen=True)
class SparseTerms:
    """A sparse vector: distinct dimensions, ascending, and their weights."""

    indices: list[int]
    values: list[float]


def _lucene_idf(df: int, n: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _robertson_idf(df: int, n: int) -> float:
    # bm25s clamps the ratio at 1, so a term in more than half the passages weighs 0.
    return math.log(max(1.0, (n - df + 0.5) / (df + 0.5)))


_IDF: dict[Bm25Method, Callable[[int, int], float]] = {
    Bm25Method.LUCENE: _lucene_idf,
    Bm25Method.ROBERTSON: _robertson_idf,
}


@dataclass
class Bm25Statistics:
    """Passage count, total length and document frequency by dimension, gathered in one pass.

    Holds one counter per distinct term, never the passages: what a streaming build keeps.
    """

    passages: int = 0
    tokens: int = 0
    df: Counter[int] = field(default_factory=Counter)

    def add(self, terms: Sequence[str]) -> None:
        self.passages += 1
        self.tokens += len(terms)
        self.df.update({term_index(term) for term in terms})

    def add_all(self, documents: Iterable[Sequence[str]]) -> None:
        for terms in documents:
            self.add(terms)

    @property
    def average_length(self) -> float:
        return self.tokens / self.passages if self.passages else 0.0

    def idf(self, dimension: int, method: Bm25Method) -> float:
        return _IDF[method](self.df[dimension], self.passages)


def passage_vector(
    terms: Sequence[str], stats: Bm25Statistics, settings: Bm25Settings, weights: SparseWeights
) -> SparseTerms:
    """A passage's BM25 vector (see the module docstring for the two kinds of weight).

    Raises:
        ValueError: IDF weights with a method other than Lucene's (Qdrant's idf is Lucene's).
    """
    if weights is SparseWeights.IDF and settings.method is not Bm25Method.LUCENE:
        raise ValueError(
            f"Qdrant's IDF modifier computes Lucene's idf; BM25 method {settings.method.value!r} "
            "needs precomputed weights (sparse 'bm25')"
        )
    counts = Counter(term_index(term) for term in terms)
    norm = settings.k1 * (1 - settings.b + settings.b * len(terms) / (stats.average_length or 1))
    indices = sorted(counts)
    values = []
    for dimension in indices:
        tf = counts[dimension]
        part = tf / (tf + norm)
        if weights is SparseWeights.BM25:
            part *= stats.idf(dimension, settings.method)
        values.append(part)
    return SparseTerms(indices, values)


def query_vector(terms: Sequence[str]) -> SparseTerms:
    """A query's vector: each distinct dimension with its term count (bm25s sums a repeated
    query term once per occurrence)."""
    counts = Counter(term_index(term) for term in terms)
    indices = sorted(counts)
    return SparseTerms(indices, [float(counts[i]) for i in indices])
