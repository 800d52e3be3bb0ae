"""Fixtures for the answer tests: real passages, the real model, and Evidence built from them.

The passages are chunks (by the real chunker) of 13 real records in tests/data/answer_corpus.jsonl
(see answer_corpus.SOURCE.md). ``evidence_for`` ranks them by cosine with the real model, a
stand-in for the hybrid retriever, so the composer can be tested on its own: the retriever's
ranking is not what these tests are about.

The session fixtures ``answer_index``, ``answer_settings`` and ``answer_engine`` (registered in
tests/conftest.py, so there is one of each per session) are the real thing on the same records:
the index built by the index package, and the engine ``build_engine`` makes of it, as
``followup serve`` does. The engine tests and the API's route tests share them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from answer.engine import IndexEngine, build_engine, sentence_cache_path
from answer.sentences import SentenceBank
from answer.settings import Settings
from corpus.chunking import ChunkingConfig, chunk_documents
from corpus.types import Document, EvidenceKind, EvidenceTier, Passage, Section
from index.build import build_index
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex
from retriever.types import Evidence, ScoredPassage

DATA = Path(__file__).parent / "data" / "answer_corpus.jsonl"


def load_documents() -> list[Document]:
    """The fixture records as documents; a MedQuAD question becomes the section heading."""
    documents = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        tier = EvidenceTier.parse(row["tier"])
        title, sections = row["title"], ()
        if " — " in title:  # MedQuAD: "Focus — Question ?"
            title, question = title.split(" — ", 1)
            sections = (Section(question, 0, len(row["text"])),)
        documents.append(
            Document(
                id=row["id"],
                title=title,
                text=row["text"],
                tier=tier,
                source=row["publisher"] or row["dataset"],
                licence=row["licence"],
                dataset=row["dataset"],
                year=row["year"],
                url=row["url"],
                sections=sections,
            )
        )
    return documents


@functools.cache
def load_passages() -> tuple[Passage, ...]:
    return tuple(chunk_documents(load_documents(), ChunkingConfig(max_tokens=200)))


class MemoEmbedder:
    """The real model, remembering every text it encoded (tests encode the same texts often:
    the fixture ranking and ``build_index`` both encode every passage)."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        self._model = model
        self._memo: dict[tuple[bool, str], np.ndarray] = {}

    @property
    def model_name(self) -> str:
        return self._model.model_name

    @property
    def dimension(self) -> int:
        return self._model.dimension

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (query, t) not in self._memo]
        if missing:
            encode = self._model.encode_queries if query else self._model.encode_documents
            for text, vector in zip(missing, encode(missing), strict=True):
                self._memo[(query, text)] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[(query, t)] for t in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, False)


@functools.cache
def load_embedder() -> MemoEmbedder:
    """The real model, loaded once per test process."""
    return MemoEmbedder(SentenceTransformerEmbedder.load(threads=None))


@functools.cache
def load_bank() -> SentenceBank:
    """One sentence bank per test process: each fixture sentence is encoded once."""
    return SentenceBank(load_embedder())


@functools.cache
def _passage_vectors() -> np.ndarray:
    return load_embedder().encode_documents([p.embedding_text for p in load_passages()])


def evidence_for(
    question: str,
    *,
    top_k: int = 8,
    kinds: frozenset[EvidenceKind] | None = None,
    standalone_query: str | None = None,
) -> Evidence:
    """Evidence for ``question``: the passages ranked by cosine with the real model."""
    query = standalone_query or question
    passages = load_passages()
    scores = _passage_vectors() @ load_embedder().encode_queries([query])[0]
    order = np.argsort(-scores, kind="stable")
    ranked = [
        ScoredPassage(passages[i], float(scores[i]))
        for i in order
        if kinds is None or passages[i].kind in kinds
    ][:top_k]
    return Evidence(
        question=question,
        standalone_query=query,
        fused=ranked,
        guideline=[s for s in ranked if s.passage.kind is EvidenceKind.GUIDELINE],
        research=[s for s in ranked if s.passage.kind is EvidenceKind.RESEARCH],
    )


def passage_by_text(fragment: str) -> Passage:
    """The first fixture passage whose text contains ``fragment``."""
    return next(p for p in load_passages() if fragment in p.text)


@pytest.fixture(scope="session")
def answer_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of the 13 records (about 50 passages): FAISS, BM25 and the manifest."""
    out = tmp_path_factory.mktemp("answer-index") / "index"
    build_index(load_documents(), out, load_embedder())
    return out


@pytest.fixture(scope="session")
def answer_settings(answer_index: Path) -> Settings:
    """The default settings on :func:`answer_index`, with a sentence cache seeded from the test
    process's bank (each fixture sentence is encoded once per run, whoever needs it first)."""
    cache = answer_index.parent / "cache"
    index = PassageIndex.load(answer_index)
    bank = load_bank()
    bank.warm(index.passages)
    bank.save(sentence_cache_path(cache, index.manifest, load_embedder().model_name))
    return Settings(index={"path": answer_index}, answer={"sentence_cache_dir": cache})


@pytest.fixture(scope="session")
def answer_engine(answer_settings: Settings) -> IndexEngine:
    """The real engine on :func:`answer_index`, built as ``followup serve`` builds it."""
    return build_engine(answer_settings)
