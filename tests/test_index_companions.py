"""The sentence file an index build writes beside the passages: checksummed, kept up to date by
add and remove, and loaded by the engine so that serving encodes nothing but queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from answer.engine import build_engine
from answer.sentences import SENTENCES_FILE, SentenceBank, SentenceCompanion
from answer.settings import Settings
from index.build import add_documents, build_index, remove_documents
from index.embedder import SentenceTransformerEmbedder
from index.errors import IndexCorruptError
from index.load import PassageIndex
from tests.fixtures_index import index_embedder, sample_documents  # noqa: F401


class CountingEmbedder:
    """The real model, counting the texts it encodes."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        self._model = model
        self.encoded = 0
        self.model_name, self.dimension = model.model_name, model.dimension

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return self._model.encode_queries(texts)

    def encode_documents(self, texts, *, progress=False):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return self._model.encode_documents(texts)


def sentences_of(index: Path, embedder: CountingEmbedder) -> int:
    bank = SentenceBank(embedder)
    return bank.load(index / SENTENCES_FILE)


def test_build_add_and_remove_keep_the_sentence_file(
    tmp_path: Path,
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    embedder = CountingEmbedder(index_embedder)
    documents = sample_documents()
    out = tmp_path / "index"
    manifest = build_index(documents[:12], out, embedder, companions=[SentenceCompanion(embedder)])
    assert SENTENCES_FILE in manifest.files  # checksummed like every other file
    first = PassageIndex.load(out, verify_checksums=True)
    assert sentences_of(out, embedder) == len(first.passages)

    # add: the sentences of passages already indexed are not encoded again.
    before = embedder.encoded
    report = add_documents(out, documents[12:], embedder, companions=[SentenceCompanion(embedder)])
    new_passages = report.added_passages
    added = PassageIndex.load(out, verify_checksums=True)
    assert sentences_of(out, embedder) == len(added.passages)
    assert embedder.encoded - before < 40 * new_passages  # passages and their sentences only
    assert embedder.encoded > before

    # remove: carried over without an encoder.
    before = embedder.encoded
    remove_documents(out, [documents[0].id], companions=[SentenceCompanion(None)])
    assert embedder.encoded == before
    PassageIndex.load(out, verify_checksums=True)
    assert (out / SENTENCES_FILE).is_file()


def test_the_engine_encodes_no_sentence_when_the_index_has_its_file(
    tmp_path: Path,
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    out = tmp_path / "index"
    build_index(
        sample_documents(), out, index_embedder, companions=[SentenceCompanion(index_embedder)]
    )
    cache = tmp_path / "cache"
    settings = Settings(
        index={"path": out},
        answer={"sentence_cache_dir": cache, "precompute_sentences": True},
    )
    engine = build_engine(settings)
    index = PassageIndex.load(out)
    assert len(engine.composer.bank) == len(index.passages)
    assert not engine.composer.bank.dirty
    assert not cache.exists()  # nothing was encoded, so nothing was cached


def test_a_damaged_sentence_file_is_caught_by_its_checksum(
    tmp_path: Path,
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    out = tmp_path / "index"
    build_index(
        sample_documents()[:4], out, index_embedder, companions=[SentenceCompanion(index_embedder)]
    )
    path = out / SENTENCES_FILE
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="SHA-256"):
        PassageIndex.load(out, verify_checksums=True)
