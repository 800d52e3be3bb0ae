"""The lexical retriever: BM25 over the index's passages.

Example::

    retriever = LexicalRetriever(index.lexical, index.passages)
    [sp.passage.id for sp in retriever.retrieve("ferritin and vitamin B12", top_k=3)]
"""

from __future__ import annotations

from collections.abc import Sequence

from corpus.types import Passage
from index.types import Hits, LexicalStore, PassageFilter
from retriever.types import EmptyQueryError, ScoredPassage


def check_query(query: str) -> str:
    """The query stripped of surrounding whitespace.

    Raises:
        EmptyQueryError: The query is empty or only whitespace.
    """
    stripped = query.strip()
    if not stripped:
        raise EmptyQueryError("the query is empty")
    return stripped


def check_top_k(top_k: int) -> None:
    """Raise ``ValueError`` unless ``top_k`` is at least 1."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")


def to_scored(passages: Sequence[Passage], hits: Hits) -> list[ScoredPassage]:
    """Pair each hit row with its passage."""
    return [
        ScoredPassage(passages[row], float(score))
        for row, score in zip(hits.rows.tolist(), hits.scores.tolist(), strict=True)
    ]


class LexicalRetriever:
    """BM25 search through a :class:`index.types.LexicalStore`.

    Passages with no query term in them are never returned, so fewer than ``top_k`` passages
    may come back.

    Args:
        store: The lexical store; its row ``i`` is ``passages[i]``.
        passages: The index's passages in row order.

    Example::

        retriever = LexicalRetriever(index.lexical, index.passages)
        retriever.retrieve("iron deficiency anaemia", top_k=5)
    """

    def __init__(self, store: LexicalStore, passages: Sequence[Passage]) -> None:
        self._store = store
        self._passages = passages

    def hits(self, query: str, k: int, where: PassageFilter | None = None) -> Hits:
        """Rows and BM25 scores of the ``k`` best passages (``where`` is pushed down to the
        store, which may or may not apply it: :mod:`index.types`).

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
        """
        check_top_k(k)
        return self._store.search(check_query(query), k, where)

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]:
        """At most ``top_k`` passages, best first.

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
            ValueError: ``top_k`` is below 1.
        """
        return to_scored(self._passages, self.hits(query, top_k))
