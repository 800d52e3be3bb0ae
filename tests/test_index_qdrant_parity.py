"""Parity of the two storage backends on the demo corpus (slow: it encodes ~1,000 passages).

Run with ``pytest -m slow tests/test_index_qdrant_parity.py``. The demo corpus is indexed once
with FAISS and bm25s, and again into a local Qdrant collection with the same vectors; the
hybrid retriever's top 10 for every demo question (and follow-up, asked standalone) must
overlap by at least 0.9 on average, and the engine must answer the seed question with the same
references from both. A SciFact subset is compared the way benchmarks/qdrant_parity.py compares
the whole train split: nDCG@10 of the served hybrid within 0.01.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from answer.engine import build_engine
from answer.settings import Settings
from benchmarks.qdrant_parity import evaluate_backend, summary
from corpus.demo import load_demo
from eval.runs import BeirData, load_beir, load_documents
from index.build import build_index
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex
from index.storage import QdrantConfig, StorageBackend, StorageConfig
from retriever.hybrid import HybridRetriever
from tests.fixtures_index import ReplayEmbedder

pytestmark = pytest.mark.slow

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "data" / "demo_questions.jsonl"
SEED = "Are vitamin B12 levels higher with lower ferritin levels?"
SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


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
    assert references[0] == references[1] and references[0]


def test_scifact_subset_ndcg(tmp_path: Path) -> None:
    # The first 60 train claims over their judged abstracts and the first 300 of the corpus
    # (about 900 passages): every claim has distractors, and encoding takes a few minutes.
    full = load_beir(SCIFACT, "train")
    qids = list(full.queries)[:60]
    data = BeirData(
        full.name,
        full.root,
        full.split,
        {q: full.queries[q] for q in qids},
        {q: full.qrels[q] for q in qids},
    )
    judged = {doc for q in qids for doc in data.qrels[q]}
    documents = [
        d
        for i, d in enumerate(load_documents(SCIFACT))
        if i < 300 or d.id.removeprefix("scifact:") in judged
    ]
    embedder = SentenceTransformerEmbedder.load(threads=2)
    build_index(documents, tmp_path / "faiss", embedder)
    replay = ReplayEmbedder(embedder, tmp_path / "faiss")
    storage = StorageConfig(StorageBackend.QDRANT, QdrantConfig(prefix="scifact"))
    build_index(documents, tmp_path / "qdrant", replay, storage=storage)
    assert replay.encoded == 0
    faiss, qdrant = (PassageIndex.load(tmp_path / name) for name in ("faiss", "qdrant"))
    try:
        runs = {
            name: evaluate_backend(index, embedder, Settings(), data)
            for name, index in (("faiss", faiss), ("qdrant", qdrant))
        }
    finally:
        qdrant.close()
    figures, _ = summary(runs, data)
    print(figures)
    assert figures["queries"] == 60
    assert abs(figures["ndcg@10_difference"]) <= 0.01
    assert figures["mean_top10_overlap"] >= 0.9
