"""Parity of the two storage backends on the demo corpus (slow: it encodes ~1,000 passages).

Run with ``pytest -m slow tests/test_index_qdrant_parity.py``. The demo corpus is indexed once
with FAISS and bm25s, and again into a local Qdrant collection with the same vectors; the
hybrid retriever's top 10 for every demo question (and follow-up, asked standalone) must
overlap by at least 0.9 on average, and the engine must answer the seed question with the same
references from both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from answer.engine import build_engine
from answer.settings import Settings
from corpus.demo import load_demo
from index.build import build_index
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex
from index.storage import QdrantConfig, StorageBackend, StorageConfig
from retriever.hybrid import HybridRetriever
from tests.fixtures_index import ReplayEmbedder

pytestmark = pytest.mark.slow

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "data" / "demo_questions.jsonl"
SEED = "Are vitamin B12 levels higher with lower ferritin levels?"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("parity")
    embedder = SentenceTransformerEmbedder.load(threads=2)
    documents = load_demo().documents
    build_index(documents, root / "faiss", embedder)
    replay = ReplayEmbedder(embedder, root / "faiss")
    storage = StorageConfig(StorageBackend.QDRANT, QdrantConfig(prefix="demo"))
    build_index(documents, root / "qdrant", replay, storage=storage)
    assert replay.encoded == 0
    return root / "faiss", root / "qdrant"


def questions() -> list[str]:
    out = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        out.append(record["question"])
        out.extend(f["question"] for f in record.get("followups", []))
    return out


def test_top_10_overlap(indexes: tuple[Path, Path]) -> None:
    embedder = SentenceTransformerEmbedder.load(threads=2)
    faiss, qdrant = (PassageIndex.load(path) for path in indexes)
    try:
        tops = [
            [
                [sp.passage.id for sp in HybridRetriever(i, embedder).retrieve(q, 10)]
                for q in questions()
            ]
            for i in (faiss, qdrant)
        ]
    finally:
        qdrant.close()
    overlap = [len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(*tops, strict=True)]
    print(f"mean top-10 overlap over {len(overlap)} questions: {np.mean(overlap):.3f}")
    assert np.mean(overlap) >= 0.9


def test_seed_question_same_references(indexes: tuple[Path, Path], tmp_path: Path) -> None:
    references = []
    for path in indexes:
        engine = build_engine(Settings(index={"path": path}, embedder={"backend": "torch"}))
        answer = engine.answer(SEED)
        references.append([r.passage_id for r in answer.references])
        index = engine.index
        if isinstance(index, PassageIndex):
            index.close()
    assert references[0] == references[1] and references[0]
