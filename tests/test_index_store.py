"""The index directory: layout, manifest, loading, verification and the named load errors."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from corpus.chunking import ChunkingConfig, CounterKind, chunk_documents
from corpus.types import Document, EvidenceTier, Section
from index.build import build_index
from index.dense import DenseConfig, DenseKind
from index.embedder import SentenceTransformerEmbedder
from index.errors import (
    IndexCorruptError,
    IndexFormatError,
    IndexLoadError,
    IndexModelMismatchError,
    IndexNotFoundError,
)
from index.layout import DATA_FILES
from index.lexical import Bm25Settings
from index.load import PassageIndex
from index.manifest import FORMAT_VERSION, FileEntry, Manifest, corpus_fingerprint
from index.publish import IndexLockedError
from index.records import document_content_hash
from index.storage import StorageConfig
from index.verify import verify
from tests.fixtures_index import (  # noqa: F401
    KeywordEmbedder,
    ReplayEmbedder,
    copy_index,
    index_embedder,
    sample_documents,
    sample_index,
)

FAST_CHUNKING = ChunkingConfig(counter=CounterKind.ESTIMATE)  # plumbing tests: no tokenizer


def test_layout_is_a_link_to_a_complete_version(sample_index: Path) -> None:  # noqa: F811
    assert sample_index.is_symlink()
    target = os.readlink(sample_index)
    assert "/" not in target and target.startswith("index.")  # relative, a sibling
    version = sample_index.resolve()
    names = {str(p.relative_to(version)) for p in version.rglob("*") if p.is_file()}
    assert names == {*DATA_FILES, "manifest.json"}
    siblings = sorted(p.name for p in sample_index.parent.iterdir())
    assert siblings == [".index.lock", "index", target]


def test_manifest_records_how_the_index_was_built(
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    docs = sample_documents()
    passages = chunk_documents(docs, ChunkingConfig())
    manifest = Manifest.read(sample_index)
    assert manifest.format_version == StorageConfig().format_version == 3
    assert (manifest.model_name, manifest.dimension, manifest.normalized) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        True,
    )
    assert manifest.chunking == ChunkingConfig().to_dict()
    assert (manifest.documents, manifest.passages) == (20, len(passages))
    assert manifest.tiers == {t.value: n for t, n in Counter(p.tier for p in passages).items()}
    assert manifest.bm25 == Bm25Settings() and manifest.dense == DenseConfig()
    assert manifest.corpus_fingerprint == corpus_fingerprint(
        (d.id, document_content_hash(d)) for d in docs
    )
    assert sample_index.resolve().name == f"index.{manifest.build_id}"
    version = sample_index.resolve()
    assert set(manifest.files) == set(DATA_FILES)
    for name, entry in manifest.files.items():
        assert FileEntry.of(version / name) == entry
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest


def test_fingerprint_ignores_order_and_sees_content() -> None:
    docs = sample_documents()
    pairs = [(d.id, document_content_hash(d)) for d in docs]
    assert corpus_fingerprint(pairs) == corpus_fingerprint(reversed(pairs))
    changed = [(pairs[0][0], "0" * 64), *pairs[1:]]
    assert corpus_fingerprint(changed) != corpus_fingerprint(pairs)


def test_content_hash_is_pinned() -> None:
    """The hash every built index stores per document: if it changed, ``add`` would re-embed
    every unchanged document of an existing index."""
    document = Document(
        id="pubmedqa:1",
        title="Ferritin and B12",
        text="Background. Results.",
        tier=EvidenceTier.RCT,
        source="PubMedQA",
        licence="MIT",
        dataset="pubmedqa",
        year=2011,
        url="https://pubmed.ncbi.nlm.nih.gov/1/",
        mesh=("Ferritins", "Vitamin B 12"),
        sections=(Section("BACKGROUND", 0, 11), Section("RESULTS", 12, 20)),
    )
    expected = "675f2d414cbb3395cd92b2560949cdf0ddd7d19af9ebc6eafe789b9695b4a5f5"
    assert document_content_hash(document) == expected


def test_load_gives_consistent_views(
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    index = PassageIndex.load(sample_index, expected_model=index_embedder.model_name)
    assert list(index.passages) == chunk_documents(sample_documents(), ChunkingConfig())
    for row, passage in enumerate(index.passages):
        assert index.row(passage.id) == row
        assert index.get(passage.id) is passage
    assert index.get("p-none") is None and index.row("p-none") is None
    # Stored vectors are the model's encodings of the passages' embedding text.
    rows = [0, len(index) // 2, len(index) - 1]
    fresh = index_embedder.encode_documents([index.passages[r].embedding_text for r in rows])
    np.testing.assert_allclose(index.vectors(rows), fresh, atol=1e-5)
    assert index.vectors(rows).dtype == np.float32
    # All three stores agree on rows: a passage's own vector and its own text find it first.
    hits = index.dense.search(index.vectors([5]), k=3)
    assert hits.rows[0] == 5
    lexical = index.lexical.search(index.passages[5].embedding_text, k=3)
    assert lexical.rows[0] == 5
    query = index_embedder.encode_queries(["How is African iron overload treated?"])
    best = index.passages[int(index.dense.search(query, k=1).rows[0])]
    assert best.document_id == "medquad:3_GHR_QA/0000026#5"
    assert index.lexical.search_batch(["iron overload treatment"], 1)[0].rows.tolist() == [
        index.row(best.id)
    ]


def test_verify_passes_on_a_fresh_build(sample_index: Path) -> None:  # noqa: F811
    report = verify(sample_index)
    assert report.ok, report.to_dict()
    assert [c.name for c in report.checks] == [
        "checksums",
        "counts",
        "tiers",
        "fingerprint",
        "normalised",
        "faiss rows",
        "faiss search",
        "bm25",
    ]
    assert report.recall_at_10 is None  # exact index: nothing to estimate


def test_hnsw_index_verifies_with_recall(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    replay = ReplayEmbedder(index_embedder, sample_index)
    out = tmp_path / "hnsw"
    manifest = build_index(sample_documents(), out, replay, dense=DenseConfig(kind=DenseKind.HNSW))
    assert replay.encoded == 0 and manifest.dense.kind is DenseKind.HNSW
    report = verify(out)
    assert report.ok, report.to_dict()
    assert report.recall_at_10 == 1.0  # 29 passages: HNSW's graph reaches every one


# ----------------------------------------------------------------------------- load errors


@pytest.fixture()
def damaged(tmp_path: Path, sample_index: Path) -> Path:  # noqa: F811
    """A private copy of the sample index that a test may damage."""
    return copy_index(sample_index, tmp_path / "copy")


def _rewrite_manifest(link: Path, change: dict[str, object]) -> None:
    path = link.resolve() / "manifest.json"
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))


def test_wrong_model_or_dimension(damaged: Path) -> None:
    with pytest.raises(IndexModelMismatchError, match="built with model"):
        PassageIndex.load(damaged, expected_model="sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(IndexModelMismatchError, match="384-dimensional"):
        PassageIndex.load(damaged, expected_dimension=768)
    index = PassageIndex.load(damaged)
    with pytest.raises(IndexModelMismatchError):
        index.check_embedder(KeywordEmbedder())
    assert issubclass(IndexModelMismatchError, IndexLoadError)


def test_no_index_at_the_path(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="followup index build"):
        PassageIndex.load(tmp_path / "absent")
    (tmp_path / "dangling").symlink_to("index.gone")
    with pytest.raises(IndexNotFoundError):
        PassageIndex.load(tmp_path / "dangling")


def test_newer_format_version(damaged: Path) -> None:
    _rewrite_manifest(damaged, {"format_version": FORMAT_VERSION + 1})
    with pytest.raises(IndexFormatError, match="newer than this code reads"):
        PassageIndex.load(damaged)


def test_missing_or_unreadable_manifest(damaged: Path) -> None:
    manifest = damaged.resolve() / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(IndexCorruptError, match="not valid JSON"):
        PassageIndex.load(damaged)
    manifest.write_text(json.dumps({"format_version": 1}))
    with pytest.raises(IndexCorruptError, match="malformed"):
        PassageIndex.load(damaged)
    manifest.unlink()
    with pytest.raises(IndexCorruptError, match="no manifest.json"):
        PassageIndex.load(damaged)


@pytest.mark.parametrize("name", DATA_FILES)
def test_missing_file(damaged: Path, name: str) -> None:
    (damaged.resolve() / name).unlink()
    with pytest.raises(IndexCorruptError, match="is missing"):
        PassageIndex.load(damaged)
    assert not verify(damaged).ok


def test_truncated_file(damaged: Path) -> None:
    path = damaged.resolve() / "vectors.npy"
    path.write_bytes(path.read_bytes()[: -384 * 4])
    with pytest.raises(IndexCorruptError, match="bytes; the manifest says"):
        PassageIndex.load(damaged)


def test_damaged_bytes_are_caught_by_checksums(damaged: Path) -> None:
    path = damaged.resolve() / "records.sqlite"
    data = bytearray(path.read_bytes())
    at = data.index(b'"text":"') + 8
    assert chr(data[at]).isalpha()
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")  # same size, still valid JSON
    path.write_bytes(bytes(data))
    PassageIndex.load(damaged)  # sizes match: the fast load does not hash
    with pytest.raises(IndexCorruptError, match="SHA-256"):
        PassageIndex.load(damaged, verify_checksums=True)
    report = verify(damaged)
    assert not report.ok and "records.sqlite" in report.checks[-1].detail


def test_garbage_faiss_file(damaged: Path) -> None:
    path = damaged.resolve() / "dense.faiss"
    path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(IndexCorruptError, match="dense.faiss"):
        PassageIndex.load(damaged)


def test_inconsistent_counts_with_matching_checksums(damaged: Path) -> None:
    version = damaged.resolve()
    with sqlite3.connect(version / "records.sqlite") as connection:
        connection.execute("DELETE FROM passages WHERE row = (SELECT max(row) FROM passages)")
    connection.close()
    manifest = Manifest.read(version)
    files = dict(manifest.files, **{"records.sqlite": FileEntry.of(version / "records.sqlite")})
    (version / "manifest.json").write_text(manifest.with_files(files).to_json())
    with pytest.raises(IndexCorruptError, match="lists 28 passages"):
        PassageIndex.load(damaged, verify_checksums=True)


# ----------------------------------------------------------------------------- atomic layout


def test_rebuild_switches_the_link_and_cleans_leftovers(tmp_path: Path) -> None:
    docs = sample_documents()
    out = tmp_path / "index"
    first = build_index(docs[:5], out, KeywordEmbedder(), FAST_CHUNKING)
    # Leftovers of a crashed writer, and a file of someone else's that must survive.
    (tmp_path / ".index.20000101T000000Z-0badc0de.partial").mkdir()
    (tmp_path / "index.20000101T000000Z-0badc0de").mkdir()
    (tmp_path / ".index.20000101T000000Z-0badc0de.link").symlink_to("nowhere")
    (tmp_path / "index.notes.txt").write_text("keep me")
    second = build_index(docs[5:9], out, KeywordEmbedder(), FAST_CHUNKING)
    assert second.build_id != first.build_id
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".index.lock", "index", f"index.{second.build_id}", "index.notes.txt"]
    )
    assert PassageIndex.load(out).manifest.documents == 4


def test_refuses_to_replace_a_real_directory(tmp_path: Path) -> None:
    out = tmp_path / "index"
    out.mkdir()
    (out / "precious.txt").write_text("not an index")
    with pytest.raises(FileExistsError, match="not an index link"):
        build_index(sample_documents()[:2], out, KeywordEmbedder(), FAST_CHUNKING)
    assert (out / "precious.txt").exists()
    (out / "precious.txt").unlink()  # an empty directory is fine
    build_index(sample_documents()[:2], out, KeywordEmbedder(), FAST_CHUNKING)
    assert out.is_symlink()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "index"
    with (tmp_path / ".index.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with pytest.raises(IndexLockedError, match="another process is writing"):
            build_index(sample_documents()[:2], out, KeywordEmbedder(), FAST_CHUNKING)
    build_index(sample_documents()[:2], out, KeywordEmbedder(), FAST_CHUNKING)


def test_loader_follows_a_switch_made_while_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = sample_documents()
    out = tmp_path / "index"
    build_index(docs[:3], out, KeywordEmbedder(), FAST_CHUNKING)
    real = PassageIndex._load_version.__func__  # type: ignore[attr-defined]
    calls: list[Path] = []

    def racing(cls: type[PassageIndex], directory: Path, *args: object) -> PassageIndex:
        calls.append(directory)
        if len(calls) == 1:
            # A writer switches DIR and deletes the version this reader has just resolved.
            build_index(docs[3:7], out, KeywordEmbedder(), FAST_CHUNKING)
        return real(cls, directory, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(PassageIndex, "_load_version", classmethod(racing))
    index = PassageIndex.load(out)
    assert len(calls) == 2 and calls[0] != calls[1]
    assert index.manifest.documents == 4
