"""The sentence file is read lazily: its arrays are memory-mapped where they lie in the
archive, entries are looked up by key, and files of the previous format still load whole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from answer.sentences import SPLITTER_VERSION, SentenceBank, _key, _mapped_members
from index.types import Vectors
from tests.fixtures_answer import load_embedder, load_passages


class CountingEmbedder:
    """The real model, counting the sentences it encodes."""

    def __init__(self) -> None:
        self._model = load_embedder()
        self.model_name, self.dimension = self._model.model_name, self._model.dimension
        self.encoded = 0

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._model.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        self.encoded += len(texts)
        return self._model.encode_documents(texts)


def test_a_saved_file_is_mapped_and_answers_without_encoding(tmp_path: Path) -> None:
    passages = list(load_passages()[:6])
    bank = SentenceBank(load_embedder())
    bank.warm(passages)
    path = tmp_path / "sentences.npz"
    bank.save(path)

    members = _mapped_members(path)
    assert all(isinstance(members[name], np.memmap) for name in ("keys", "vectors", "starts"))
    keys = members["keys"].tolist()
    assert keys == sorted(keys) == sorted(_key(p) for p in passages)  # sorted: binary search

    counting = CountingEmbedder()
    lazy = SentenceBank(counting)
    assert lazy.load(path) == len(passages) == len(lazy)
    for a, b in zip(bank.entries(passages), lazy.entries(passages), strict=True):
        assert a.spans == b.spans
        np.testing.assert_array_equal(a.vectors, b.vectors)
    assert counting.encoded == 0 and not lazy.dirty

    # Saving again (what `index add` does with the previous version's file) keeps every entry.
    again = tmp_path / "again.npz"
    lazy.save(again, passages[:3])
    assert SentenceBank(counting).load(again) == 3


def test_a_file_of_the_previous_format_is_read_whole(tmp_path: Path) -> None:
    passages = list(load_passages()[:3])
    embedder = load_embedder()
    bank = SentenceBank(embedder)
    entries = bank.entries(passages)
    keys = [_key(p) for p in passages]
    path = tmp_path / "old.npz"
    meta = {
        "format": 2,
        "splitter_version": SPLITTER_VERSION,
        "model": embedder.model_name,
        "dimension": embedder.dimension,
    }
    np.savez(  # as the previous format wrote it: keys in passage order, a count per key
        path,
        meta=np.array(json.dumps(meta, sort_keys=True)),
        keys=np.array(keys, dtype=str),
        counts=np.array([len(e.spans) for e in entries], dtype=np.int64),
        starts=np.array([s.start for e in entries for s in e.spans], dtype=np.int64),
        ends=np.array([s.end for e in entries for s in e.spans], dtype=np.int64),
        vectors=np.concatenate([e.vectors for e in entries]).astype(np.float32),
    )
    counting = CountingEmbedder()
    old = SentenceBank(counting)
    assert old.load(path) == 3
    for a, b in zip(entries, old.entries(passages), strict=True):
        assert a.spans == b.spans
        np.testing.assert_array_equal(a.vectors, b.vectors)
    assert counting.encoded == 0
