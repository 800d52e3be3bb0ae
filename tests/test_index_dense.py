"""FAISS dense store: hand-computed ranks, the exact-numpy oracle, HNSW and IVF-SQ8 recall,
persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.chunking import ChunkingConfig, chunk_documents
from corpus.demo import load_demo
from index.dense import DenseConfig, DenseKind, FaissDenseStore, exact_search, ivf_lists
from index.embedder import SentenceTransformerEmbedder
from index.types import Hits
from tests.fixtures_index import index_embedder, sample_documents, sentence_passages  # noqa: F401

DEMO_VECTORS = Path(__file__).parent / "data" / "demo_vectors.npz"


@pytest.fixture(scope="module")
def real_vectors(index_embedder: SentenceTransformerEmbedder) -> np.ndarray:  # noqa: F811
    """Real embeddings of 40 sentences of the sample documents (a few seconds to encode)."""
    texts = [p.embedding_text for p in sentence_passages(sample_documents())][:40]
    return index_embedder.encode_documents(texts)


@pytest.fixture(scope="module")
def demo_vectors() -> tuple[np.ndarray, np.ndarray]:
    """Real vectors of the 996 demo passages and of 393 demo questions and titles
    (tests/data/demo_vectors.SOURCE.md), renormalised after their float16 storage."""
    with np.load(DEMO_VECTORS, allow_pickle=False) as data:
        passages, queries = (data[name].astype(np.float32) for name in ("passages", "queries"))
    return (
        passages / np.linalg.norm(passages, axis=1, keepdims=True),
        queries / np.linalg.norm(queries, axis=1, keepdims=True),
    )


def _recall(found: list[Hits], exact_rows: np.ndarray) -> float:
    pairs = zip(found, exact_rows, strict=True)
    return float(np.mean([len(set(h.rows) & set(r)) / len(r) for h, r in pairs]))


def test_hand_computed_ranking() -> None:
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    store = FaissDenseStore.build(vectors, DenseConfig())
    hits = store.search(np.array([0.8, 0.6], dtype=np.float32), k=3)
    # Inner products with q = (0.8, 0.6): row0 0.8, row1 0.48 + 0.48 = 0.96, row2 0.6, row3 -0.8.
    assert hits.rows.tolist() == [1, 0, 2]
    np.testing.assert_allclose(hits.scores, [0.96, 0.8, 0.6], rtol=1e-6)
    # Asking for more rows than exist returns them all, never FAISS's -1 padding.
    assert store.search(np.array([[0.8, 0.6]], dtype=np.float32), k=10).rows.tolist() == [
        1,
        0,
        2,
        3,
    ]


def test_flat_equals_exact_numpy_search(real_vectors: np.ndarray) -> None:
    store = FaissDenseStore.build(real_vectors, DenseConfig(kind=DenseKind.FLAT))
    queries = real_vectors[::4]
    exact_rows, exact_scores = exact_search(real_vectors, queries, 10)
    found = store.search_batch(queries, 10)
    for hits, rows, scores in zip(found, exact_rows, exact_scores, strict=True):
        np.testing.assert_allclose(hits.scores, scores, atol=1e-5)
        # Ids agree wherever scores are not tied within float error.
        distinct = np.abs(np.diff(scores, append=-np.inf)) > 1e-5
        assert hits.rows[distinct].tolist() == rows[distinct].tolist()
        # Scores are non-increasing and rows unique.
        assert np.all(np.diff(hits.scores) <= 1e-6)
        assert len(set(hits.rows.tolist())) == len(hits.rows)
    # Each query is a stored vector: it finds itself first, with cosine 1.
    assert [hits.rows[0] for hits in found] == list(range(0, len(real_vectors), 4))


def test_hnsw_recall_against_exact(real_vectors: np.ndarray) -> None:
    config = DenseConfig(kind=DenseKind.HNSW, hnsw_m=16, hnsw_ef_search=16)
    store = FaissDenseStore.build(real_vectors, config)
    queries = real_vectors[::3]
    exact_rows, _ = exact_search(real_vectors, queries, 10)
    found = store.search_batch(queries, 10)
    assert _recall(found, exact_rows) >= 0.95
    # The reported scores are the true inner products of the rows returned.
    for query, hits in zip(queries, found, strict=True):
        np.testing.assert_allclose(hits.scores, real_vectors[hits.rows] @ query, atol=1e-5)
    # k above efSearch (16) still returns k rows, without changing the shared index.
    assert len(store.search(queries[0], k=len(real_vectors)).rows) == len(real_vectors)
    assert store._index.hnsw.efSearch == 16


def test_demo_vectors_are_the_models(
    demo_vectors: tuple[np.ndarray, np.ndarray],
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    passages, queries = demo_vectors
    documents = load_demo().documents
    chunks = chunk_documents(documents, ChunkingConfig())
    assert len(chunks) == len(passages), "remake tests/data/demo_vectors.npz (its SOURCE.md)"
    fresh = index_embedder.encode_documents([chunks[i].embedding_text for i in (0, 995)])
    np.testing.assert_allclose(np.sum(fresh * passages[[0, 995]], axis=1), 1, atol=1e-3)
    first_title = index_embedder.encode_queries([documents[0].title])[0]  # after 15 questions
    np.testing.assert_allclose(first_title @ queries[15], 1, atol=1e-3)


def test_ivf_lists() -> None:
    # 4·sqrt(N), at most N // 39, at least 1: 4·sqrt(996) = 126.2 but 996 // 39 = 25;
    # 4·sqrt(10^6) = 4,000 (10^6 // 39 = 25,641).
    assert [ivf_lists(n) for n in (0, 38, 39, 996, 1_000_000)] == [1, 1, 1, 25, 4000]


def test_ivf_sq8_recall_on_real_demo_vectors(demo_vectors: tuple[np.ndarray, np.ndarray]) -> None:
    passages, queries = demo_vectors
    store = FaissDenseStore.build(passages, DenseConfig(kind=DenseKind.IVF_SQ8))
    exact_rows, _ = exact_search(passages, queries, 10)
    found = store.search_batch(queries, 10)
    recall = _recall(found, exact_rows)
    assert recall >= 0.95  # default parameters
    # Every stored component is within half an 8-bit step of the vector given, and the scores
    # are the inner products of those stored vectors.
    held = store.reconstruct(np.arange(len(passages)))
    assert np.abs(held - passages).max() <= DenseKind.IVF_SQ8.max_code_error
    for query, hits in zip(queries, found, strict=True):
        assert len(hits.rows) == 10 and np.all(np.diff(hits.scores) <= 0)
        np.testing.assert_allclose(hits.scores, held[hits.rows] @ query, atol=1e-5)
    # nprobe reaches FAISS: searching 1 of the 25 lists finds less.
    one_list = FaissDenseStore.build(passages, DenseConfig(kind=DenseKind.IVF_SQ8, ivf_nprobe=1))
    assert _recall(one_list.search_batch(queries, 10), exact_rows) < recall


@pytest.mark.parametrize("kind", list(DenseKind))
def test_save_load_round_trip(tmp_path: Path, real_vectors: np.ndarray, kind: DenseKind) -> None:
    config = DenseConfig(kind=kind)
    store = FaissDenseStore.build(real_vectors, config)
    store.save(tmp_path / "dense.faiss")
    loaded = FaissDenseStore.load(tmp_path / "dense.faiss", config)
    assert (loaded.ntotal, loaded.dimension, loaded.kind) == (len(real_vectors), 384, kind)
    # As given (flat, hnsw), or within the 8-bit code error (ivf-sq8).
    held = loaded.reconstruct([0, 5, 9])
    np.testing.assert_allclose(held, real_vectors[[0, 5, 9]], rtol=0, atol=kind.max_code_error)
    for a, b in zip(
        store.search_batch(real_vectors[:5], 5),
        loaded.search_batch(real_vectors[:5], 5),
        strict=True,
    ):
        assert a.rows.tolist() == b.rows.tolist()


def test_errors() -> None:
    store = FaissDenseStore.build(np.eye(3, dtype=np.float32), DenseConfig())
    with pytest.raises(ValueError, match="use search_batch"):
        store.search(np.eye(3, dtype=np.float32), k=1)
    with pytest.raises(ValueError, match="dimension 2, the index has 3"):
        store.search(np.ones(2, dtype=np.float32), k=1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        store.search(np.ones(3, dtype=np.float32), k=0)
    with pytest.raises(ValueError, match="expected one of: flat, hnsw, ivf-sq8"):
        DenseKind.parse("ivf")
    with pytest.raises(ValueError, match="hnsw_m must be at least 1"):
        DenseConfig(hnsw_m=0)
    with pytest.raises(ValueError, match="ivf_nprobe must be at least 1, got 0"):
        DenseConfig(ivf_nprobe=0)
    assert DenseConfig.from_dict(DenseConfig(kind=DenseKind.HNSW).to_dict()) == DenseConfig(
        kind=DenseKind.HNSW
    )
