"""The dense retriever: nearest passages to the query's embedding.

Example::

    retriever = DenseRetriever(embedder, index.dense, index.passages)
    retriever.retrieve("Is ferritin low in B12 deficiency?", top_k=3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from corpus.types import Passage
from index.types import DenseStore, Embedder, Hits, PassageFilter, Vectors
from retriever.lexical import check_query, check_top_k, to_scored
from retriever.types import ScoredPassage


class DenseRetriever:
    """Inner-product search over normalised passage vectors.

    It receives its embedder and its dense store and never loads a model itself.

    Args:
        embedder: Encodes the query; must be the model the store's vectors came from.
        store: The dense store; its row ``i`` is ``passages[i]``.
        passages: The index's passages in row order.

    Example::

        retriever = DenseRetriever(embedder, index.dense, index.passages)
        vector = retriever.encode("iron deficiency anaemia")
        retriever.hits_for_vector(vector, k=5).rows
    """

    def __init__(self, embedder: Embedder, store: DenseStore, passages: Sequence[Passage]) -> None:
        self._embedder = embedder
        self._store = store
        self._passages = passages

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def encode(self, query: str) -> Vectors:
        """The query's normalised embedding, shape ``(dimension,)``.

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
        """
        return np.asarray(self._embedder.encode_queries([check_query(query)])[0], np.float32)

    def hits_for_vector(self, vector: Vectors, k: int, where: PassageFilter | None = None) -> Hits:
        """Rows and inner products of the ``k`` passages nearest to ``vector`` (``where`` is
        pushed down to the store, which may or may not apply it: :mod:`index.types`)."""
        check_top_k(k)
        return self._store.search(np.asarray(vector, np.float32).reshape(1, -1), k, where)

    def hits(self, query: str, k: int) -> Hits:
        """Rows and cosine scores of the ``k`` nearest passages.

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
        """
        check_top_k(k)
        return self.hits_for_vector(self.encode(query), k)

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]:
        """At most ``top_k`` passages, best first.

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
            ValueError: ``top_k`` is below 1.
        """
        return to_scored(self._passages, self.hits(query, top_k))
