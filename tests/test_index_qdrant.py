"""The Qdrant storage backend, in local mode (no server), against the FAISS/bm25s backend.

Oracles: the same real vectors give the same dense rows and scores as exact FAISS; BM25 as
sparse vectors gives bm25s's scores (both weightings); filters pushed into Qdrant return the
passages that pass, best first, as filtering FAISS's full ranking by hand does. Then the
commands (build, add, remove, info, verify), resume after an interrupted build, and a test
against a real Qdrant server that runs only when QDRANT_URL is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.loaders import load_corpus
from corpus.types import EvidenceTier
from followup.cli import main as run_cli
from index.build import build_index
from index.errors import IndexUnavailableError
from index.load import PassageIndex
from index.storage import QdrantConfig, SparseWeights, StorageBackend, StorageConfig
from index.types import PassageFilter, Vectors
from index.verify import verify
from tests.fixtures_index import KeywordEmbedder, sample_documents
from tests.fixtures_retriever import (  # noqa: F401
    DOCS,
    retriever_embedder,
    retriever_index,
    retriever_qdrant_index,
)

QUERIES = [
    "Does folic acid supplementation lower plasma homocysteine?",
    "vitamin B12 for vegetarians",
    "iron deficiency anaemia in children",
    "the the the",  # stop words only: no terms, no hits
]


def qdrant(prefix: str = "test", sparse: SparseWeights = SparseWeights.BM25) -> StorageConfig:
    return StorageConfig(StorageBackend.QDRANT, QdrantConfig(prefix=prefix, sparse=sparse))


def test_dense_search_equals_faiss(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_qdrant_index: PassageIndex,  # noqa: F811
) -> None:
    vectors = retriever_index.vectors()
    np.testing.assert_array_equal(retriever_qdrant_index.vectors(), vectors)
    for row in range(0, len(vectors), 7):
        faiss = retriever_index.dense.search(vectors[row], 10)
        ours = retriever_qdrant_index.dense.search(vectors[row], 10)
        assert ours.rows.tolist() == faiss.rows.tolist()
        np.testing.assert_allclose(ours.scores, faiss.scores, atol=1e-5)


@pytest.mark.parametrize("sparse", [SparseWeights.BM25, SparseWeights.IDF])
def test_bm25_sparse_vectors_score_as_bm25s(
    tmp_path: Path,
    sparse: SparseWeights,
    retriever_index: PassageIndex,  # noqa: F811
) -> None:
    # Both weightings: the precomputed BM25 weight, and the tf part times Qdrant's idf
    # (Lucene's formula), must give bm25s's score of every passage that has a query term.
    out = tmp_path / "index"
    documents = load_corpus(DOCS).documents
    build_index(documents, out, _Stored(retriever_index), storage=qdrant(sparse=sparse))
    index = PassageIndex.load(out)
    try:
        for query in QUERIES:
            expected = retriever_index.lexical.search(query, 100)
            got = index.lexical.search(query, 100)
            assert got.rows.tolist() == expected.rows.tolist(), query
            np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5)
        for word in ["iron", "homocysteine", "zebra", "the"]:
            assert index.lexical.document_frequency(word) == (
                retriever_index.lexical.document_frequency(word)  # type: ignore[attr-defined]
            )
    finally:
        index.close()


FILTERS = [
    PassageFilter(tiers=frozenset({EvidenceTier.GUIDELINE})),
    PassageFilter(tiers=frozenset({EvidenceTier.RCT, EvidenceTier.OBSERVATIONAL})),
    PassageFilter(sources=frozenset({"  medlineplus "})),
    PassageFilter(year_from=2005, year_to=2012),  # undated passages fail it
    PassageFilter(tiers=frozenset()),  # nothing passes
]


@pytest.mark.parametrize("where", FILTERS)
def test_filters_run_in_qdrant(
    where: PassageFilter,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_qdrant_index: PassageIndex,  # noqa: F811
) -> None:
    passages = retriever_index.passages
    allowed = [row for row, p in enumerate(passages) if where.admits(p)]
    vector = retriever_index.vectors([0])[0]
    # FAISS ranks every row: keep those that pass, as the hybrid retriever does.
    everything = retriever_index.dense.search(vector, len(passages))
    expected = [row for row in everything.rows.tolist() if row in allowed][:5]
    assert retriever_qdrant_index.dense.search(vector, 5, where).rows.tolist() == expected
    lexical = retriever_qdrant_index.lexical.search(QUERIES[2], 40, where)
    assert set(lexical.rows.tolist()) <= set(allowed)
    full = retriever_index.lexical.search(QUERIES[2], 40).rows.tolist()
    assert lexical.rows.tolist() == [row for row in full if row in allowed]


def test_server_side_rrf_equals_client_rrf(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_qdrant_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    from retriever.fusion import rrf

    query = QUERIES[0]
    vector = retriever_embedder.encode_queries([query])[0]
    legs = [
        retriever_index.lexical.search(query, 20),
        retriever_index.dense.search(vector, 20),
    ]
    runs = [list(zip(h.rows.tolist(), h.scores.tolist(), strict=True)) for h in legs]
    expected = rrf(runs, k=60, top_k=10)
    assert retriever_qdrant_index.fused is not None
    got = retriever_qdrant_index.fused.search(vector, query, 10, depth=20, rrf_k=60)
    # Equal RRF sums may be ordered differently: compare the scores, and the rows as sets.
    np.testing.assert_allclose(got.scores, [s for _, s in expected], rtol=1e-6)
    assert set(got.rows.tolist()) == {row for row, _ in expected}


def test_cli_build_add_remove_info_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = tmp_path / "docs.jsonl"
    more = tmp_path / "more.jsonl"
    lines = (Path(__file__).parent / "data" / "index_docs.jsonl").read_text().splitlines()
    documents.write_text("\n".join(lines[:12]) + "\n")
    more.write_text("\n".join(lines[12:]) + "\n")
    out = tmp_path / "index"
    argv = ["index", "build", "--corpus", str(documents), "--format", "jsonl", "--out", str(out)]
    argv += ["--backend", "qdrant"]
    assert run_cli([*argv, "--threads", "2", "--no-progress"]) == 0
    assert "Qdrant collection index-" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["storage"]["backend"] == "qdrant" and manifest["format_version"] == 2
    assert not (out / "passages.jsonl").exists() and (out / "qdrant").is_dir()
    assert (
        run_cli(["index", "add", "--index", str(out), "--corpus", str(more), "--no-progress"]) == 0
    )
    assert run_cli(["index", "remove", "--index", str(out), "--ids", "scifact:4983"]) == 0
    capsys.readouterr()
    assert run_cli(["index", "info", "--index", str(out)]) == 0
    assert "Qdrant collection index-" in capsys.readouterr().out
    assert run_cli(["index", "verify", "--index", str(out)]) == 0
    assert run_cli([*argv[:-2], "--qdrant-url", "http://127.0.0.1:9"]) == 1
    assert "--backend qdrant" in capsys.readouterr().err
    assert run_cli([*argv, "--qdrant-url", "http://127.0.0.1:9", "--no-progress"]) == 1
    assert "cannot reach Qdrant" in capsys.readouterr().err


def test_a_second_process_gets_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "index"
    build_index(sample_documents()[:5], out, KeywordEmbedder(), storage=qdrant())
    index = PassageIndex.load(out)
    try:
        with pytest.raises(IndexUnavailableError, match="open in another process"):
            PassageIndex.load(out)
    finally:
        index.close()
    PassageIndex.load(out).close()  # released


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    config = QdrantConfig(prefix="test", url="http://127.0.0.1:9")
    storage = StorageConfig(StorageBackend.QDRANT, config)
    with pytest.raises(IndexUnavailableError, match="cannot reach Qdrant at http://127.0.0.1:9"):
        build_index(sample_documents()[:3], tmp_path / "index", KeywordEmbedder(), storage=storage)


class _Failing(KeywordEmbedder):
    """Encodes ``budget`` passages, then fails (a build killed midway)."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.encoded = 0

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        if self.encoded + len(texts) > self.budget:
            raise KeyboardInterrupt
        self.encoded += len(texts)
        return super().encode_documents(texts)


def test_resume_encodes_only_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.bulk

    monkeypatch.setattr(index.bulk, "BATCH", 4)
    monkeypatch.setattr("index.build._chunked", _small_batches)
    documents = sample_documents()
    out = tmp_path / "index"
    with pytest.raises(KeyboardInterrupt):
        build_index(documents, out, _Failing(budget=8), storage=qdrant())
    assert not out.exists()
    resumed = _Failing(budget=10_000)
    manifest = build_index(documents, out, resumed, storage=qdrant(), resume=True)
    assert resumed.encoded == manifest.passages - 8
    assert verify(out).ok
    fresh = _Failing(budget=10_000)
    build_index(documents, tmp_path / "fresh", fresh, storage=qdrant())
    a, b = PassageIndex.load(out), PassageIndex.load(tmp_path / "fresh")
    try:
        assert [p.id for p in a.passages] == [p.id for p in b.passages]
        np.testing.assert_array_equal(a.vectors(), b.vectors())
    finally:
        a.close()
        b.close()


def _small_batches(documents, chunking):  # type: ignore[no-untyped-def]
    from index.build import _chunk

    def batches():  # type: ignore[no-untyped-def]
        passages = _chunk(list(documents), chunking)
        return (passages[i : i + 4] for i in range(0, len(passages), 4))

    return batches


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="set QDRANT_URL to a Qdrant server")
def test_against_a_qdrant_server(tmp_path: Path) -> None:
    # The same build, search, filters, add, remove and verify, with the collection on a server
    # (docs/scale-out.md has a Docker Compose file for one).
    from index.build import add_documents, remove_documents

    url, key = os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY")
    config = QdrantConfig(prefix=f"followup-test-{os.getpid()}", url=url)
    storage = StorageConfig(StorageBackend.QDRANT, config)
    documents, embedder, out = sample_documents(), KeywordEmbedder(), tmp_path / "index"
    build_index(documents[:12], out, embedder, storage=storage, qdrant_api_key=key)
    assert [p.name for p in out.resolve().iterdir()] == ["manifest.json"]
    add_documents(out, documents[12:], embedder, qdrant_api_key=key)
    remove_documents(out, [documents[0].id], qdrant_api_key=key)
    assert verify(out, qdrant_api_key=key).ok
    local = tmp_path / "local"
    build_index(documents[1:], local, embedder, storage=qdrant())
    server, here = PassageIndex.load(out, qdrant_api_key=key), PassageIndex.load(local)
    try:
        where = PassageFilter(tiers=frozenset({EvidenceTier.GUIDELINE}))
        for query in QUERIES:
            ids = [
                [index.passages[row].id for row in index.lexical.search(query, 10, where).rows]
                for index in (server, here)
            ]
            assert ids[0] == ids[1]
    finally:
        server.close()
        here.close()


class _Stored:
    """The vectors an index already holds, by passage text (nothing is encoded)."""

    def __init__(self, index: PassageIndex) -> None:
        vectors = index.vectors()
        self._known = {p.embedding_text: vectors[row] for row, p in enumerate(index.passages)}
        self.model_name = index.manifest.model_name
        self.dimension = index.manifest.dimension

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("no query is encoded here")

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        return np.stack([self._known[t] for t in texts])
