"""Incremental updates: add embeds only new passages, remove re-encodes nothing, both consistent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from corpus.types import EvidenceTier
from index.build import add_documents, build_index, remove_documents
from index.dense import DenseConfig, DenseKind
from index.embedder import SentenceTransformerEmbedder
from index.errors import IndexModelMismatchError
from index.lexical import Bm25LexicalStore
from index.load import PassageIndex
from index.verify import verify
from tests.fixtures_index import (  # noqa: F401
    KeywordEmbedder,
    ReplayEmbedder,
    copy_index,
    index_embedder,
    sample_documents,
    sample_index,
)

QUERIES = ["iron overload treatment", "Fanconi anemia", "hemoglobin in children", "soy protein"]


@pytest.fixture(scope="module")
def first_14(
    tmp_path_factory: pytest.TempPathFactory,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> Path:
    """An index of the first 14 sample documents (their real vectors, replayed)."""
    out = tmp_path_factory.mktemp("first-14") / "index"
    build_index(sample_documents()[:14], out, ReplayEmbedder(index_embedder, sample_index))
    return out


def _by_id(index: PassageIndex) -> dict[str, np.ndarray]:
    vectors = index.vectors()
    return {p.id: vectors[row] for row, p in enumerate(index.passages)}


def _lexical_by_id(index: PassageIndex, query: str) -> dict[str, float]:
    scores = index.lexical.scores(query)
    return {p.id: float(scores[row]) for row, p in enumerate(index.passages)}


def _assert_same_index(a: PassageIndex, b: PassageIndex) -> None:
    """Same passages, vectors, BM25 scores and dense results, whatever the row order."""
    assert {p.id: p for p in a.passages} == {p.id: p for p in b.passages}
    va, vb = _by_id(a), _by_id(b)
    for pid, vector in va.items():
        np.testing.assert_allclose(vector, vb[pid], atol=1e-5)
    for query in QUERIES:
        la, lb = _lexical_by_id(a, query), _lexical_by_id(b, query)
        for pid, score in la.items():
            assert score == pytest.approx(lb[pid], rel=1e-5, abs=1e-6)
    probe = a.vectors([0, 3])
    for ha, hb in zip(a.dense.search_batch(probe, 5), b.dense.search_batch(probe, 5), strict=True):
        assert [a.passages[r].id for r in ha.rows] == [b.passages[r].id for r in hb.rows]
    assert a.manifest.corpus_fingerprint == b.manifest.corpus_fingerprint
    assert (a.manifest.documents, a.manifest.passages, dict(a.manifest.tiers)) == (
        b.manifest.documents,
        b.manifest.passages,
        dict(b.manifest.tiers),
    )


def test_add_encodes_only_new_passages_and_equals_a_fresh_build(
    tmp_path: Path,
    first_14: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    link = copy_index(first_14, tmp_path)
    before = PassageIndex.load(link)
    docs = sample_documents()
    # All 20 documents: the first 14 are already indexed and unchanged, 6 are new.
    report = add_documents(link, docs, index_embedder)
    after = PassageIndex.load(link)
    new_ids = {d.id for d in docs[14:]}
    new_passages = [p for p in after.passages if p.document_id in new_ids]
    assert report.added_documents == tuple(d.id for d in docs[14:])
    assert report.unchanged_documents == tuple(d.id for d in docs[:14])
    assert report.replaced_documents == () and report.removed_passages == 0
    assert report.added_passages == report.encoded_passages == len(new_passages) > 0
    assert after.manifest.parent_build_id == before.manifest.build_id
    # Old rows keep their order and their vectors; new passages come after them.
    assert after.passages[: len(before)] == before.passages
    np.testing.assert_array_equal(after.vectors(range(len(before))), before.vectors())
    _assert_same_index(after, PassageIndex.load(sample_index))
    assert verify(link).ok
    # The replaced version is gone; only the link and the new version remain.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "index",
        f"index.{after.manifest.build_id}",
    ]


def test_adding_what_is_there_changes_nothing(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link).manifest
    report = add_documents(link, sample_documents(), index_embedder)
    assert not report.changed and report.encoded_passages == 0
    assert len(report.unchanged_documents) == 20
    assert PassageIndex.load(link).manifest == before  # no new version was written


def test_changed_text_replaces_the_documents_passages(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link)
    doc = sample_documents()[2]  # one passage: "What are the treatments for African iron overload?"
    old = [p for p in before.passages if p.document_id == doc.id]
    assert len(old) == 1
    extra = " Regular blood tests track ferritin during treatment."
    changed = dataclasses.replace(doc, text=doc.text + extra)
    report = add_documents(link, [changed], index_embedder)
    after = PassageIndex.load(link)
    assert report.replaced_documents == (doc.id,)
    assert (report.added_passages, report.removed_passages, report.encoded_passages) == (1, 1, 1)
    assert after.get(old[0].id) is None
    [new] = [p for p in after.passages if p.document_id == doc.id]
    assert new.text.endswith(extra.strip())
    fresh = index_embedder.encode_documents([new.embedding_text])
    np.testing.assert_allclose(after.vectors([after.row(new.id)]), fresh, atol=1e-5)
    assert after.manifest.corpus_fingerprint != before.manifest.corpus_fingerprint
    assert verify(link).ok


def test_changed_metadata_reuses_the_stored_vectors(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link)
    doc = sample_documents()[12]
    reclassified = dataclasses.replace(doc, tier=EvidenceTier.SYSTEMATIC_REVIEW)
    report = add_documents(link, [reclassified], index_embedder)
    after = PassageIndex.load(link)
    # Same passage ids and embedding text: nothing is encoded, the passages carry the new tier.
    assert report.replaced_documents == (doc.id,) and report.encoded_passages == 0
    moved = [p for p in after.passages if p.document_id == doc.id]
    assert moved and all(p.tier is EvidenceTier.SYSTEMATIC_REVIEW for p in moved)
    for passage in moved:
        np.testing.assert_array_equal(
            after.vectors([after.row(passage.id)]), before.vectors([before.row(passage.id)])
        )
    assert after.manifest.tiers["systematic_review"] == len(moved)
    assert verify(link).ok


def test_remove_keeps_every_store_consistent(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link)
    docs = sample_documents()
    gone = {docs[0].id, docs[15].id}
    report = remove_documents(link, [docs[0].id, "no-such-doc", docs[15].id])
    after = PassageIndex.load(link)
    assert set(report.removed_documents) == gone
    assert report.missing_documents == ("no-such-doc",)
    kept = [p for p in before.passages if p.document_id not in gone]
    assert after.passages == kept
    assert report.removed_passages == len(before) - len(kept)
    # Vectors are carried over, not re-encoded.
    np.testing.assert_array_equal(after.vectors(), before.vectors([before.row(p.id) for p in kept]))
    # BM25 statistics are those of the remaining passages.
    fresh = Bm25LexicalStore.build([p.embedding_text for p in kept], after.manifest.bm25)
    assert fresh.same_index(after.lexical)
    assert set(after.documents) == {d.id for d in docs} - gone
    assert verify(link).ok


def test_remove_with_nothing_to_remove_or_everything(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link).manifest
    report = remove_documents(link, ["absent"])
    assert not report.changed and report.missing_documents == ("absent",)
    with pytest.raises(ValueError, match="leave the index empty"):
        remove_documents(link, [d.id for d in sample_documents()])
    assert PassageIndex.load(link).manifest == before


def test_add_refuses_another_model_and_duplicate_ids(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    doc = sample_documents()[0]
    with pytest.raises(IndexModelMismatchError):
        add_documents(link, [dataclasses.replace(doc, id="new")], KeywordEmbedder())
    with pytest.raises(ValueError, match="more than once"):
        add_documents(link, [doc, doc], KeywordEmbedder(model_name="x"))


def test_ivf_sq8_index_through_add_and_remove(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    replay = ReplayEmbedder(index_embedder, sample_index)
    docs = sample_documents()
    config = DenseConfig(kind=DenseKind.IVF_SQ8, ivf_nprobe=8)
    link = tmp_path / "ivf"
    build_index(docs[:14], link, replay, dense=config)
    add_documents(link, docs[14:], replay)
    remove_documents(link, [docs[0].id])
    updated = PassageIndex.load(link)
    assert updated.manifest.dense == config  # kind and nprobe carried through both updates
    report = verify(link)
    assert report.ok, report.to_dict()
    assert report.recall_at_10 is not None and report.recall_at_10 >= 0.9
    build_index(docs[1:], tmp_path / "fresh", replay, dense=config)
    _assert_same_index(updated, PassageIndex.load(tmp_path / "fresh"))
    assert replay.encoded == 0
