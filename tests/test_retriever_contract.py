"""The Retriever contract, inherited by every retriever (lexical, dense, hybrid).

Contract (retriever.types.Retriever): at most ``top_k`` results, scores non-increasing, passage
ids unique, the same output for the same input, and EmptyQueryError for an empty or
whitespace-only query. Run on a real index (40 passages of tests/data/retriever_docs.jsonl) with
the real model, once per storage backend: FAISS and bm25s files, and a local Qdrant collection
holding the same vectors.
"""

from __future__ import annotations

import pytest

from index.load import PassageIndex
from retriever.adaptive import QueryFeatures, leg_weights
from retriever.dense import DenseRetriever
from retriever.fusion import FusionMode, FusionUnit, Normalization, collapse, rrf, weighted
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.lexical import LexicalRetriever
from retriever.types import EmptyQueryError, Retriever
from tests.fixtures_retriever import (  # noqa: F401
    retriever_embedder,
    retriever_index,
    retriever_qdrant_index,
)

QUERIES = [
    "Does folic acid supplementation lower plasma homocysteine?",
    "vitamin B12 for vegetarians",
    "iron deficiency anaemia in children",
    "hemophilia bleeding",
    "zebra quantum",  # no term in the index: fewer results (possibly none) is fine
]


@pytest.fixture(params=["faiss", "qdrant"])
def search_index(
    request: pytest.FixtureRequest,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_qdrant_index: PassageIndex,  # noqa: F811
) -> PassageIndex:
    """The retriever index on each storage backend."""
    return {"faiss": retriever_index, "qdrant": retriever_qdrant_index}[request.param]


class RetrieverContract:
    """Tests every :class:`Retriever` must pass; subclasses provide the ``retriever`` fixture."""

    @pytest.fixture
    def retriever(self) -> Retriever:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.mark.parametrize("query", QUERIES)
    @pytest.mark.parametrize("top_k", [1, 3, 10, 100])
    def test_at_most_top_k(self, retriever: Retriever, query: str, top_k: int) -> None:
        assert len(retriever.retrieve(query, top_k)) <= top_k

    @pytest.mark.parametrize("query", QUERIES)
    def test_scores_non_increasing(self, retriever: Retriever, query: str) -> None:
        scores = [sp.score for sp in retriever.retrieve(query, 20)]
        assert all(a >= b for a, b in zip(scores, scores[1:], strict=False))

    @pytest.mark.parametrize("query", QUERIES)
    def test_ids_unique(self, retriever: Retriever, query: str) -> None:
        ids = [sp.passage.id for sp in retriever.retrieve(query, 40)]
        assert len(ids) == len(set(ids))

    @pytest.mark.parametrize("query", QUERIES[:3])
    def test_deterministic(self, retriever: Retriever, query: str) -> None:
        first = retriever.retrieve(query, 10)
        second = retriever.retrieve(query, 10)
        assert [(sp.passage.id, sp.score) for sp in first] == [
            (sp.passage.id, sp.score) for sp in second
        ]

    def test_finds_something_for_an_on_topic_query(self, retriever: Retriever) -> None:
        assert retriever.retrieve(QUERIES[0], 5)

    def test_shorter_top_k_is_a_prefix(self, retriever: Retriever) -> None:
        long = [sp.passage.id for sp in retriever.retrieve(QUERIES[1], 10)]
        short = [sp.passage.id for sp in retriever.retrieve(QUERIES[1], 3)]
        assert short == long[: len(short)]

    @pytest.mark.parametrize("query", ["", " ", "\n\t  "])
    def test_empty_query_raises(self, retriever: Retriever, query: str) -> None:
        with pytest.raises(EmptyQueryError):
            retriever.retrieve(query, 5)

    def test_top_k_below_one_raises(self, retriever: Retriever) -> None:
        with pytest.raises(ValueError, match="top_k"):
            retriever.retrieve(QUERIES[0], 0)


class TestLexicalRetriever(RetrieverContract):
    @pytest.fixture
    def retriever(self, search_index: PassageIndex) -> Retriever:
        return LexicalRetriever(search_index.lexical, search_index.passages)

    def test_exact_terms_rank_their_passage_first(self, retriever: Retriever) -> None:
        top = retriever.retrieve("hookworm", 3)
        assert top[0].passage.title == "Parasites - Hookworm"

    def test_unknown_terms_give_no_results(self, retriever: Retriever) -> None:
        assert retriever.retrieve("zebra quantum", 5) == []


class TestDenseRetriever(RetrieverContract):
    @pytest.fixture
    def retriever(
        self,
        search_index: PassageIndex,
        retriever_embedder,  # noqa: F811
    ) -> Retriever:
        return DenseRetriever(retriever_embedder, search_index.dense, search_index.passages)

    def test_finds_a_paraphrase_without_shared_words(self, retriever: Retriever) -> None:
        # "clotting disorder" shares no word with the hemophilia page's title.
        top = retriever.retrieve("inherited clotting disorder where blood does not clot", 3)
        assert "Hemophilia" in [sp.passage.title for sp in top]

    def test_scores_are_cosines(self, retriever: Retriever) -> None:
        assert all(-1.0 <= sp.score <= 1.0 + 1e-6 for sp in retriever.retrieve(QUERIES[0], 10))


class TestHybridRetriever(RetrieverContract):
    @pytest.fixture
    def retriever(
        self,
        search_index: PassageIndex,
        retriever_embedder,  # noqa: F811
    ) -> Retriever:
        return HybridRetriever(search_index, retriever_embedder)

    def test_rrf_config_equals_rrf_of_the_two_legs(
        self,
        search_index: PassageIndex,
        retriever_embedder,  # noqa: F811
    ) -> None:
        # Oracle: the hybrid's RRF over its legs equals fusion.rrf over the legs' own results.
        config = RetrievalConfig.plain_rrf(lexical_depth=20, dense_depth=20)
        hybrid = HybridRetriever(search_index, retriever_embedder, config)
        runs = legs(search_index, retriever_embedder, QUERIES[0], 20)
        expected = rrf(runs, k=60, top_k=10)
        got = [(sp.passage.id, sp.score) for sp in hybrid.retrieve(QUERIES[0], 10)]
        assert [pid for pid, _ in got] == [pid for pid, _ in expected]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected])

    def test_default_document_fusion_equals_its_definition(
        self,
        search_index: PassageIndex,
        retriever_embedder,  # noqa: F811
    ) -> None:
        # Oracle for the default: each leg max-pooled by document, z-scores fused with equal
        # weights; each document shown through its best passage under passage-level fusion.
        # (Adaptive fusion with the fitted model keeps equal weights, and cuts only queries of
        # more than 16 content terms; this one is short.) The legs search the question's own
        # words: no synonym query.
        config = RetrievalConfig(lexical_depth=20, dense_depth=20, synonym_weight=0.0)
        assert (config.fusion, config.unit) == (FusionMode.ADAPTIVE, FusionUnit.DOCUMENT)
        assert leg_weights(
            QueryFeatures(terms=8, rare_share=1.0, lexical_top_z=3, dense_top_z=1, overlap=0),
            config.adaptive,
        ) == (1.0, 1.0)
        hybrid = HybridRetriever(search_index, retriever_embedder, config)
        runs = legs(search_index, retriever_embedder, QUERIES[0], 20)
        document = {p.id: p.document_id for p in search_index.passages}
        z = Normalization.ZSCORE
        by_passage = weighted(runs, normalization=z)
        best: dict[str, str] = {}
        for pid, _ in by_passage:
            best.setdefault(document[pid], pid)
        by_document = weighted(
            [collapse(run, document.__getitem__) for run in runs], normalization=z
        )
        expected = [(best[doc], score) for doc, score in by_document]
        got = [(sp.passage.id, sp.score) for sp in hybrid.retrieve(QUERIES[0], 40)]
        assert [pid for pid, _ in got] == [pid for pid, _ in expected]
        # float32 leg scores: sums agree to ~1e-7
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-5)
        # One passage per document.
        docs = [document[pid] for pid, _ in got]
        assert len(docs) == len(set(docs))


def legs(index: PassageIndex, embedder, query: str, depth: int) -> list[list[tuple[str, float]]]:
    """The lexical and dense retrievers' own results, as (passage id, score) runs."""
    lexical = LexicalRetriever(index.lexical, index.passages)
    dense = DenseRetriever(embedder, index.dense, index.passages)
    return [
        [(sp.passage.id, sp.score) for sp in leg.retrieve(query, depth)] for leg in (lexical, dense)
    ]
