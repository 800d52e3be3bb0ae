"""FAISS dense store: hand-computed ranks, the exact-numpy oracle, HNSW recall, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.dense import DenseConfig, DenseKind, FaissDenseStore, exact_search
from index.embedder import SentenceTransformerEmbedder
from tests.fixtures_index import index_embedder, sample_documents, sentence_passages  # noqa: F401


@pytest.fixture(scope="module")
def real_vectors(index_embedder: SentenceTransformerEmbedder) -> np.ndarray:  # noqa: F811
    """Real embeddings of 40 sentences of the sample documents (a few seconds to encode)."""
    texts = [p.embedding_text for p in sentence_passages(sample_documents())][:40]
    return index_embedder.encode_documents(texts)


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
    recall = np.mean(
        [
            len(set(h.rows.tolist()) & set(r.tolist())) / 10
            for h, r in zip(found, exact_rows, strict=True)
        ]
    )
    assert recall >= 0.95
    # The reported scores are the true inner products of the rows returned.
    for query, hits in zip(queries, found, strict=True):
        np.testing.assert_allclose(hits.scores, real_vectors[hits.rows] @ query, atol=1e-5)
    # k above efSearch (16) still returns k rows, without changing the shared index.
    assert len(store.search(queries[0], k=len(real_vectors)).rows) == len(real_vectors)
    assert store._index.hnsw.efSearch == 16


@pytest.mark.parametrize("kind", list(DenseKind))
def test_save_load_round_trip(tmp_path: Path, real_vectors: np.ndarray, kind: DenseKind) -> None:
    config = DenseConfig(kind=kind)
    store = FaissDenseStore.build(real_vectors, config)
    store.save(tmp_path / "dense.faiss")
    loaded = FaissDenseStore.load(tmp_path / "dense.faiss", config)
    assert (loaded.ntotal, loaded.dimension, loaded.kind) == (len(real_vectors), 384, kind)
    np.testing.assert_array_equal(loaded.reconstruct([0, 5, 9]), real_vectors[[0, 5, 9]])
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
    with pytest.raises(ValueError, match="expected one of: flat, hnsw"):
        DenseKind.parse("ivf")
    with pytest.raises(ValueError, match="hnsw_m must be at least 1"):
        DenseConfig(hnsw_m=0)
    assert DenseConfig.from_dict(DenseConfig(kind=DenseKind.HNSW).to_dict()) == DenseConfig(
        kind=DenseKind.HNSW
    )
