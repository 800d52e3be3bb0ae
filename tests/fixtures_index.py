"""Fixtures for the index tests: 20 real documents, the real model, and a built index.

Import the fixtures you use explicitly, e.g.
``from tests.fixtures_index import index_embedder, sample_index  # noqa: F401``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.loaders import load_corpus
from corpus.types import Document, Passage
from index.embedder import SentenceTransformerEmbedder
from index.types import Embedder, Vectors

DATA = Path(__file__).parent / "data"
DOCS_FILE = DATA / "index_docs.jsonl"
ROOT = Path(__file__).resolve().parent.parent


def sample_documents() -> list[Document]:
    """The 20 real records of tests/data/index_docs.jsonl (10 NIH pages, 10 SciFact abstracts)."""
    return list(load_corpus(DOCS_FILE, "jsonl").documents)


_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


def sentence_passages(documents: Sequence[Document]) -> list[Passage]:
    """One passage per sentence, built by hand (no chunker): for store-level unit tests."""
    passages = []
    for doc in documents:
        for match in _SENTENCE.finditer(doc.text):
            start = match.start() + len(match.group()) - len(match.group().lstrip())
            end = match.end()
            if end - start < 3:
                continue
            passages.append(Passage.of(doc, start, end))
    return passages


class KeywordEmbedder:
    """A deterministic hashed bag-of-words embedder, for plumbing tests only.

    Each lower-cased word adds 1 to dimension ``sha1(word) mod dimension``; rows are
    L2-normalised. It needs no model, so a test can build an index in milliseconds.
    """

    def __init__(self, dimension: int = 384, model_name: str = "test/keyword-hash") -> None:
        self._dimension = dimension
        self._model_name = model_name

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.sha1(word.encode()).digest()
                out[i, int.from_bytes(digest[:4], "little") % self._dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        return self._encode(texts)


class ReplayEmbedder:
    """Serves the real vectors an index already stores for known texts; encodes only the rest.

    Lets several tests start from one real build without encoding the same passages again.
    ``encoded`` counts the texts that really went through the model.
    """

    def __init__(self, embedder: Embedder, index_path: Path) -> None:
        from index.load import PassageIndex

        index = PassageIndex.load(index_path)
        vectors = index.vectors()
        self._known = {p.embedding_text: vectors[row] for row, p in enumerate(index.passages)}
        self._embedder = embedder
        self.encoded = 0

    @property
    def model_name(self) -> str:
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embedder.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        unknown = [i for i, text in enumerate(texts) if text not in self._known]
        for i, text in enumerate(texts):
            if text in self._known:
                out[i] = self._known[text]
        if unknown:
            out[unknown] = self._embedder.encode_documents([texts[i] for i in unknown])
            self.encoded += len(unknown)
        return out


def copy_index(link: Path, destination: Path) -> Path:
    """Copy the version ``link`` points to under ``destination`` and link it the same way."""
    destination.mkdir(parents=True, exist_ok=True)
    version = link.resolve()
    copied = destination / version.name.replace(link.name, "index", 1)
    shutil.copytree(version, copied)
    new_link = destination / "index"
    new_link.symlink_to(copied.name)
    return new_link


def subprocess_env() -> dict[str, str]:
    """The environment for child processes: offline, with the project importable."""
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


@pytest.fixture(scope="session")
def index_embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    return SentenceTransformerEmbedder.load(threads=2, batch_size=32)


@pytest.fixture(scope="session")
def sample_index(
    tmp_path_factory: pytest.TempPathFactory, index_embedder: SentenceTransformerEmbedder
) -> Path:
    """A flat index over the 20 sample documents, built once; copy it before changing it."""
    from index.build import build_index

    out = tmp_path_factory.mktemp("sample-index") / "index"
    build_index(sample_documents(), out, index_embedder)
    return out
