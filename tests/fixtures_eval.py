"""Fixtures for the eval tests: the real model, and real indexes over tiny real fixtures.

tests/conftest.py registers this module as a plugin, so every test can request its fixtures.

* ``tests/data/eval_beir_tiny/``: 20 SciFact abstracts, 6 judged claims (see its SOURCE.md).
* ``tests/data/eval_mtrag_tiny.jsonl``: 5 MTRAG tasks (see eval_mtrag_tiny.SOURCE.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.embedcache import CachedEmbedder
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex

DATA = Path(__file__).parent / "data"
TINY_BEIR = DATA / "eval_beir_tiny"
TINY_MTRAG = DATA / "eval_mtrag_tiny.jsonl"
BROKEN_ANSWER = DATA / "eval_broken_answer.md"


@pytest.fixture(scope="session")
def eval_embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, offline, on one thread (the machine is shared)."""
    return SentenceTransformerEmbedder.load(threads=1)


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the whole session, so each fixture text is encoded once."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="session")
def cached_embedder(eval_embedder: SentenceTransformerEmbedder, eval_cache: Path) -> CachedEmbedder:
    return CachedEmbedder(
        lambda: eval_embedder,
        eval_cache,
        model_name=eval_embedder.model_name,
        dimension=eval_embedder.dimension,
    )


@pytest.fixture(scope="session")
def indexes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-indexes")


@pytest.fixture(scope="session")
def tiny_beir_index(cached_embedder: CachedEmbedder, indexes_dir: Path) -> PassageIndex:
    """The index of the tiny BEIR fixture, built through eval.runs.ensure_index."""
    from eval.runs import ensure_index, load_documents

    path = ensure_index(load_documents(TINY_BEIR), indexes_dir, "eval_beir_tiny", cached_embedder)
    return PassageIndex.load(path, expected_model=cached_embedder.model_name)
