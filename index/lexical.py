"""The lexical store: BM25 with bm25s, saved as plain ``.npy`` arrays and JSON (never pickle).

Scoring. bm25s precomputes every (term, passage) score into a sparse matrix, so a query costs
one column sum per query term. The default ``method="lucene"`` scores

    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(q, d) = sum over query tokens t of idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl))

which is never negative. The reference is rank-bm25 (rank_bm25 0.2.2): ``BM25Okapi`` computes
the same sum with ``idf = ln((N - df + 0.5) / (df + 0.5))``, floors negative idfs at
``epsilon * mean idf``, and multiplies the term-frequency part by ``(k1 + 1)``. So:

* ``method="robertson"`` equals ``BM25Okapi(epsilon=0)`` divided by ``(k1 + 1)`` exactly
  (bm25s clamps a negative idf to 0, which is what ``epsilon=0`` does);
* ``method="lucene"`` equals a ``BM25Okapi`` whose ``_calc_idf`` uses the Lucene idf above,
  divided by ``(k1 + 1)``.

tests/test_index_lexical.py checks both identities on real abstracts. Scaling by the constant
``(k1 + 1)`` changes no ranking.

Tokenisation (shared by passages and queries): lowercase, the scikit-learn/bm25s token pattern
``\\b\\w\\w+\\b``, optional English stop words (bm25s's list), optional Snowball English
stemming (PyStemmer). Which of these to use, and k1/b, were measured on the SciFact train split
by benchmarks/bm25_tuning.py; the defaults of :class:`Bm25Settings` are the winners, and every
index records its settings in its manifest.

Example:
    >>> store = Bm25LexicalStore.build(["Iron deficiency lowers ferritin.", "B12 and folate."])
    >>> store.search("ferritin", k=5).rows
    array([0])
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from corpus.types import parse_choice
from index.types import Hits, PassageFilter

# The files bm25s.BM25.save writes (we pass no corpus, so no corpus.jsonl).
BM25_FILES = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
    "vocab.index.json",
    "params.index.json",
)

_TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


class StopWords(enum.StrEnum):
    """Which stop words are dropped before indexing and querying."""

    NONE = "none"
    ENGLISH = "english"  # bm25s.stopwords.STOPWORDS_EN


class Stemming(enum.StrEnum):
    """Which stemmer maps words to index terms."""

    NONE = "none"
    SNOWBALL_ENGLISH = "snowball_english"  # PyStemmer's Snowball "english" (Porter2)


class Bm25Method(enum.StrEnum):
    """bm25s scoring variants with an exact rank-bm25 counterpart (see the module docstring)."""

    LUCENE = "lucene"
    ROBERTSON = "robertson"


@dataclass(frozen=True)
class Bm25Settings:
    """BM25 parameters and the tokenisation they were chosen with.

    Chosen on the SciFact train split (809 claims, nDCG@10 over chunked abstracts, a document
    scoring its best passage; benchmarks/bm25_tuning.py prints the table):

    * Snowball stemming: +0.035 nDCG@10 in every cell of the grid; clearly worth it.
    * English stop words: ahead in 5 of the 6 stemmed (method, k1, b) cells, by 0.001-0.004.
    * k1=0.9, b=0.4 (also Anserini's defaults) was the best of the three (k1, b) pairs for
      ``lucene``. ``robertson`` with (1.2, 0.75) scored 0.0013 higher, a difference far inside
      the noise of 809 queries (the script prints a paired t-test); ``lucene`` is kept because
      its idf is never zero, whereas ``robertson`` ignores every term found in more than half
      of the passages, which happens for the topic words of a small, focused corpus.
    """

    k1: float = 0.9
    b: float = 0.4
    method: Bm25Method = Bm25Method.LUCENE
    stopwords: StopWords = StopWords.ENGLISH
    stemming: Stemming = Stemming.SNOWBALL_ENGLISH

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise ValueError(f"k1 must be non-negative, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ValueError(f"b must be within [0, 1], got {self.b}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("method", "stopwords", "stemming"):
            data[key] = getattr(self, key).value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bm25Settings:
        return cls(
            k1=float(data["k1"]),
            b=float(data["b"]),
            method=parse_choice(Bm25Method, data["method"], "BM25 method"),
            stopwords=parse_choice(StopWords, data["stopwords"], "stop word list"),
            stemming=parse_choice(Stemming, data["stemming"], "stemmer"),
        )


def _no_stemming(words: list[str]) -> list[str]:
    return words


def _snowball_english() -> Callable[[list[str]], list[str]]:
    stemmer = Stemmer.Stemmer("english")
    stem_words: Callable[[list[str]], list[str]] = stemmer.stemWords
    return stem_words


_STEMMERS: dict[Stemming, Callable[[], Callable[[list[str]], list[str]]]] = {
    Stemming.NONE: lambda: _no_stemming,
    Stemming.SNOWBALL_ENGLISH: _snowball_english,
}
_STOPWORDS: dict[StopWords, frozenset[str]] = {
    StopWords.NONE: frozenset(),
    StopWords.ENGLISH: frozenset(STOPWORDS_EN),
}


class Bm25Tokenizer:
    """Turns text into BM25 terms; the same instance tokenises passages and queries.

    Example:
        >>> Bm25Tokenizer(Bm25Settings()).tokenize(["The ferritin levels were low"])
        [['ferritin', 'level', 'were', 'low']]
    """

    def __init__(self, settings: Bm25Settings) -> None:
        self._stopwords = _STOPWORDS[settings.stopwords]
        self._stem_words = _STEMMERS[settings.stemming]()
        # Stemming each distinct word once: corpora repeat words far more than they add new ones.
        self._stems: dict[str, str] = {}

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        stopwords = self._stopwords
        words = [
            [word for word in _TOKEN_PATTERN.findall(text.lower()) if word not in stopwords]
            for text in texts
        ]
        stems = self._stems
        unseen = list({word for doc in words for word in doc if word not in stems})
        if unseen:
            stems.update(zip(unseen, self._stem_words(unseen), strict=True))
        return [[stems[word] for word in doc] for doc in words]


class Bm25LexicalStore:
    """BM25 over passage texts; row ``i`` is passage ``i`` of the index.

    A query whose terms occur in no passage returns no hits; passages scoring 0 are never
    returned.

    Example:
        >>> store = Bm25LexicalStore.build(texts, Bm25Settings())
        >>> store.save(Path("bm25"))
        >>> Bm25LexicalStore.load(Path("bm25"), Bm25Settings()).search("ferritin", 10)
    """

    def __init__(self, bm25: bm25s.BM25, settings: Bm25Settings) -> None:
        self._bm25 = bm25
        self._settings = settings
        self._tokenizer = Bm25Tokenizer(settings)
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], settings: Bm25Settings | None = None) -> Bm25LexicalStore:
        """Index ``texts`` (one per passage, in row order)."""
        settings = settings or Bm25Settings()
        if not texts:
            raise ValueError("cannot build a BM25 index over no passages")
        tokens = Bm25Tokenizer(settings).tokenize(texts)
        # Term ids in order of first appearance: bm25s would number a set of strings, whose
        # order changes with Python's hash seed, so identical corpora would give other files.
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(term, len(vocab)) for term in doc] for doc in tokens]
        bm25 = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method.value)
        bm25.index((ids, vocab), show_progress=False)
        return cls(bm25, settings)

    @classmethod
    def load(
        cls, directory: Path, settings: Bm25Settings, *, mmap: bool = True
    ) -> Bm25LexicalStore:
        """Read arrays written by :meth:`save` (``allow_pickle=False``, memory-mapped)."""
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        stored = (float(params["k1"]), float(params["b"]), str(params["method"]))
        expected = (settings.k1, settings.b, settings.method.value)
        if stored != expected:
            raise ValueError(
                f"BM25 arrays were built with (k1, b, method) {stored}, not {expected}"
            )
        bm25 = bm25s.BM25.load(
            str(directory), mmap=mmap, allow_pickle=False, load_corpus=False, show_progress=False
        )
        return cls(bm25, settings)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory), allow_pickle=False, show_progress=False)

    def same_index(self, other: Bm25LexicalStore) -> bool:
        """Whether both hold the same vocabulary and score matrix (``verify`` uses this)."""
        mine, theirs = self._bm25, other._bm25
        if self._settings != other._settings or mine.vocab_dict != theirs.vocab_dict:
            return False
        return all(
            np.array_equal(np.asarray(mine.scores[key]), np.asarray(theirs.scores[key]))
            for key in ("data", "indices", "indptr")
        )

    @property
    def settings(self) -> Bm25Settings:
        return self._settings

    @property
    def num_docs(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def __len__(self) -> int:
        return self.num_docs

    def tokenize(self, query: str) -> list[str]:
        """The index terms of ``query``."""
        return self._tokenizer.tokenize([query])[0]

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """The BM25 score of every passage for ``query`` (zeros when no term is known)."""
        ids = [self._vocab[term] for term in self.tokenize(query) if term in self._vocab]
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def document_frequency(self, word: str) -> int:
        """How many passages ``word`` scores above zero (its one term's document frequency)."""
        return int(np.count_nonzero(self.scores(word)))

    def search(self, query: str, k: int, where: PassageFilter | None = None) -> Hits:
        """The ``k`` best-scoring passages for ``query``, ties broken by lower row.

        ``where`` is not applied: the BM25 arrays hold no passage metadata, so the caller
        filters the rows (:mod:`index.types`).

        Raises:
            ValueError: ``k`` is below 1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return _top_k(self.scores(query), k)

    def search_batch(self, queries: Sequence[str], k: int) -> list[Hits]:
        """:meth:`search` for each query, tokenising them together."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        results = []
        for terms in self._tokenizer.tokenize(queries):
            ids = [self._vocab[term] for term in terms if term in self._vocab]
            if not ids:
                results.append(_top_k(np.zeros(0, dtype=np.float32), k))
                continue
            results.append(_top_k(np.asarray(self._bm25.get_scores_from_ids(ids)), k))
        return results


def _top_k(scores: npt.NDArray[np.float32], k: int) -> Hits:
    depth = min(k, len(scores))
    if depth == 0:
        return Hits(np.zeros(0, np.int64), np.zeros(0, np.float32))
    if depth < len(scores):
        candidates = np.argpartition(-scores, depth - 1)[:depth]
    else:
        candidates = np.arange(len(scores))
    candidates = candidates[scores[candidates] > 0]
    # lexsort's last key is primary: score descending, then row ascending.
    order = candidates[np.lexsort((candidates, -scores[candidates]))]
    return Hits(order.astype(np.int64), scores[order].astype(np.float32))
