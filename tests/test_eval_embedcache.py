"""eval.embedcache: vectors persist by text, the model loads only on a miss, benchmark caches
are adopted only when their texts match. A deterministic hashing embedder stands in for the
model here: this tests the cache's plumbing, not embeddings (those use the real model elsewhere)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from eval.embedcache import CachedEmbedder, seed_from_benchmark_cache


class HashingEmbedder:
    """Unit vectors from a text's SHA-256: deterministic, distinct per text."""

    model_name = "test/hashing"
    dimension = 8

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) for t in texts]
        matrix = np.asarray(rows, np.float32) + 1.0
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts)


def _cached(tmp_path: Path, inner: HashingEmbedder) -> CachedEmbedder:
    return CachedEmbedder(lambda: inner, tmp_path, model_name="test/hashing", dimension=8)


def test_vectors_persist_and_model_is_not_loaded_again(tmp_path: Path) -> None:
    inner = HashingEmbedder()
    first = _cached(tmp_path, inner)
    vectors = first.encode_documents(["a", "b", "a"])
    assert np.array_equal(vectors, inner._encode(["a", "b", "a"]))
    assert (first.hits, first.misses) == (0, 3)
    second = _cached(tmp_path, HashingEmbedder())
    again = second.encode_documents(["b", "a"])
    assert np.array_equal(again, vectors[[1, 0]])
    assert not second.loaded and (second.hits, second.misses) == (2, 0)
    # Queries are a separate namespace: the same text is a miss there.
    second.encode_queries(["a"])
    assert second.loaded and second.misses == 1


def test_model_mismatch_is_an_error(tmp_path: Path) -> None:
    wrong = CachedEmbedder(HashingEmbedder, tmp_path, model_name="other/model", dimension=8)
    with pytest.raises(ValueError, match="other/model"):
        wrong.encode_documents(["x"])


def test_seed_from_benchmark_cache_checks_texts(tmp_path: Path) -> None:
    texts, ids = ["t1", "t2"], ["1", "2"]
    vectors = HashingEmbedder()._encode(texts)
    npy = tmp_path / "bench" / "model__recipe.npy"
    npy.parent.mkdir()
    np.save(npy, vectors, allow_pickle=False)
    digest = hashlib.sha256(b"t1\x00t2\x00").hexdigest()
    npy.with_suffix(".json").write_text(json.dumps({"ids": ids, "texts_sha256": digest}))
    cached = _cached(tmp_path / "cache", HashingEmbedder())
    assert seed_from_benchmark_cache(cached, npy, ids, ["t1", "other"]) == 0  # texts differ
    assert seed_from_benchmark_cache(cached, npy, ids, texts) == 2
    assert np.array_equal(cached.encode_documents(["t2"]), vectors[[1]])
    assert not cached.loaded


def test_seed_from_per_text_cache(tmp_path: Path) -> None:
    from eval.embedcache import seed_from_text_cache

    vectors = HashingEmbedder()._encode(["x", "y", "z"])
    npy = tmp_path / "m__by-text.npy"
    np.save(npy, vectors, allow_pickle=False)
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in ("x", "y", "z")]
    npy.with_suffix(".json").write_text(json.dumps({"keys": keys}))
    cached = _cached(tmp_path / "cache", HashingEmbedder())
    # Only the texts asked for, and present, are adopted: "z" is not asked, "w" is not there.
    assert seed_from_text_cache(cached, npy, ["y", "x", "w"]) == 2
    assert np.array_equal(cached.encode_documents(["x", "y"]), vectors[:2])
    assert not cached.loaded
    assert seed_from_text_cache(cached, npy, ["y"], queries=True) == 1
    assert np.array_equal(cached.encode_queries(["y"]), vectors[[1]])


def test_benchmark_caches_of_another_model_are_not_adopted(tmp_path: Path) -> None:
    # A torch per-text cache ("all-MiniLM-L6-v2__by-text") must not seed an int8 ONNX run:
    # the index would be labelled with one encoder and hold the other's vectors.
    from eval.runs import made_with, seed_benchmark_caches

    folder = tmp_path / "bench"
    folder.mkdir()
    npy = folder / "hashing__by-text.npy"
    np.save(npy, HashingEmbedder()._encode(["x"]), allow_pickle=False)
    npy.with_suffix(".json").write_text(json.dumps({"keys": [hashlib.sha1(b"x").hexdigest()]}))
    other = CachedEmbedder(
        HashingEmbedder, tmp_path / "c1", model_name="test/hashing@onnx-int8:ab", dimension=8
    )
    same = CachedEmbedder(HashingEmbedder, tmp_path / "c2", model_name="test/hashing", dimension=8)
    assert not made_with(npy, other.model_name) and made_with(npy, same.model_name)
    assert seed_benchmark_caches(other, folder, passages=[], queries={"q": "x"}) == 0
    assert seed_benchmark_caches(same, folder, passages=[], queries={"q": "x"}) == 1
