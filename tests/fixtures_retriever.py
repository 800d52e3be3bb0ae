"""Fixtures for the retriever tests: 20 real documents (40 passages), the real model, an index
(FAISS files) and the same index in a local Qdrant collection (the same vectors, not re-encoded).

Import the fixtures you use explicitly, e.g.
``from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401``.

Each test module that imports them gets its own fixture definitions, so the model and the index
are memoised here: they are loaded and built once per test session, not once per module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corpus.loaders import load_corpus
from index.build import build_index
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex

DOCS = Path(__file__).parent / "data" / "retriever_docs.jsonl"
_SESSION: dict[str, Any] = {}


@pytest.fixture(scope="session")
def retriever_embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once per session (offline)."""
    if "embedder" not in _SESSION:
        _SESSION["embedder"] = SentenceTransformerEmbedder.load(threads=2, batch_size=32)
    embedder: SentenceTransformerEmbedder = _SESSION["embedder"]
    return embedder


@pytest.fixture(scope="session")
def retriever_index(
    tmp_path_factory: pytest.TempPathFactory, retriever_embedder: SentenceTransformerEmbedder
) -> PassageIndex:
    """A flat index over tests/data/retriever_docs.jsonl, built once per session."""
    if "index" not in _SESSION:
        out = tmp_path_factory.mktemp("retriever-index") / "index"
        build_index(load_corpus(DOCS).documents, out, retriever_embedder)
        _SESSION["index"] = PassageIndex.load(out, expected_model=retriever_embedder.model_name)
    index: PassageIndex = _SESSION["index"]
    return index


@pytest.fixture(scope="session")
def retriever_qdrant_index(
    tmp_path_factory: pytest.TempPathFactory,
    retriever_index: PassageIndex,
    retriever_embedder: SentenceTransformerEmbedder,
) -> PassageIndex:
    """The same corpus and vectors as ``retriever_index``, in a local Qdrant collection."""
    from index.storage import QdrantConfig, StorageBackend, StorageConfig
    from tests.fixtures_index import ReplayEmbedder

    if "qdrant" not in _SESSION:
        out = tmp_path_factory.mktemp("retriever-qdrant") / "index"
        replay = ReplayEmbedder(retriever_embedder, retriever_index.directory)
        storage = StorageConfig(StorageBackend.QDRANT, QdrantConfig(prefix="retriever"))
        build_index(load_corpus(DOCS).documents, out, replay, storage=storage)
        assert replay.encoded == 0
        _SESSION["qdrant"] = PassageIndex.load(out, expected_model=retriever_embedder.model_name)
    index: PassageIndex = _SESSION["qdrant"]
    return index
