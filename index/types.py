"""The roles of the index layer, as small protocols.

An :class:`Embedder` turns text into L2-normalised float32 rows. A :class:`DenseStore` and a
:class:`LexicalStore` each answer a query with the rows of the passages they matched; the row
number is the passage's position in :attr:`index.load.PassageIndex.passages`. Two storage
backends implement them (:mod:`index.storage`): FAISS and bm25s files in the index directory,
and a Qdrant collection (:mod:`index.qdrant`); nothing above the index layer knows which.

Filters are pushed down: ``search(..., where=PassageFilter(...))`` asks a store to search only
among the passages that pass. Qdrant does so (payload filters, so a narrow filter still fills
``k``); FAISS and bm25s search every row and leave the filter to the caller, who always
re-checks the rows it gets (:class:`retriever.hybrid.HybridRetriever` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from corpus.types import EvidenceTier, Passage

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Encodes queries and documents into normalised vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> Vectors: ...

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors: ...


@dataclass(frozen=True)
class Hits:
    """Rows and scores of one query's matches, best first."""

    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]


def source_key(source: str) -> str:
    """How publishers and journals are compared: case-insensitively, surrounding space ignored."""
    return source.strip().casefold()


@dataclass(frozen=True)
class PassageFilter:
    """Which passages a search may return; ``None`` means no restriction.

    A passage passes when its tier is one of ``tiers``, its :func:`source_key` one of
    ``sources``, and its year within ``[year_from, year_to]`` (an undated passage fails any year
    bound). The retriever's ``Filters`` (kinds, designs) become one of these.
    """

    tiers: frozenset[EvidenceTier] | None = None
    sources: frozenset[str] | None = None
    year_from: int | None = None
    year_to: int | None = None

    def __post_init__(self) -> None:
        if self.sources is not None:
            object.__setattr__(self, "sources", frozenset(map(source_key, self.sources)))

    def admits(self, passage: Passage) -> bool:
        """Whether ``passage`` passes every restriction that is set."""
        if self.tiers is not None and passage.tier not in self.tiers:
            return False
        if self.sources is not None and source_key(passage.source) not in self.sources:
            return False
        if self.year_from is None and self.year_to is None:
            return True
        if passage.year is None:
            return False
        if self.year_from is not None and passage.year < self.year_from:
            return False
        return self.year_to is None or passage.year <= self.year_to


class DenseStore(Protocol):
    """Nearest neighbours by inner product over normalised vectors.

    ``where``: search only among passages that pass it, where the store can (see the module
    docstring); rows that fail it may still come back from a store that cannot.
    """

    def search(self, query: Vectors, k: int, where: PassageFilter | None = None) -> Hits: ...


class LexicalStore(Protocol):
    """BM25 over the passages' embedding text (``where`` as for :class:`DenseStore`)."""

    def search(self, query: str, k: int, where: PassageFilter | None = None) -> Hits: ...


class FusedStore(Protocol):
    """Dense and BM25 search fused by the store itself, in one request (Qdrant's reciprocal
    rank fusion, ``sum 1 / (rrf_k + rank)`` over the two legs, each ``depth`` deep)."""

    def search(
        self,
        vector: Vectors,
        text: str,
        k: int,
        *,
        depth: int,
        rrf_k: int,
        where: PassageFilter | None = None,
    ) -> Hits: ...


class TermCounts(Protocol):
    """A lexical store's analyser and document frequencies, for the retriever's term
    statistics (which words of a conversation are rare enough to carry)."""

    @property
    def num_docs(self) -> int: ...

    def tokenize(self, query: str) -> list[str]:
        """The index terms of ``query``."""
        ...

    def document_frequency(self, word: str) -> int:
        """How many passages hold the one index term of ``word`` (0 unless it has one)."""
        ...


class Companion(Protocol):
    """A file that a layer above derives from an index version's passages, written into the
    version beside them and checksummed in its manifest (the answer layer's sentence
    embeddings, so that serving an index encodes nothing but queries)."""

    @property
    def name(self) -> str: ...

    def write(self, passages: Sequence[Passage], directory: Path, previous: Path | None) -> None:
        """Write the file into ``directory``; ``previous`` is the version it replaces, if any,
        whose file may be reused."""
        ...
