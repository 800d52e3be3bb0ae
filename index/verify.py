"""Checking an index end to end: files, counts, dense search against exact search, BM25 rebuilt.

Example:
    >>> report = verify(Path("var/demo-index"))
    >>> report.ok, [check.name for check in report.checks if not check.ok]
    (True, [])
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from index.dense import DenseKind, FaissDenseStore, exact_search
from index.errors import IndexLoadError
from index.lexical import Bm25LexicalStore, Bm25Tokenizer
from index.load import PassageIndex, check_files
from index.manifest import Manifest, corpus_fingerprint
from index.records import tier_counts
from index.storage import StorageBackend
from index.types import Hits, Vectors

if TYPE_CHECKING:
    from index.sparse import SparseTerms

# Stored vectors sampled as queries by verify(); enough for a recall estimate within ~1%.
VERIFY_QUERIES = 1000
VERIFY_K = 10


@dataclass(frozen=True)
class Check:
    """One verification step: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify`; ``recall_at_10`` is set for approximate dense indexes only."""

    directory: Path
    checks: tuple[Check, ...]
    recall_at_10: float | None = None
    manifest: Manifest | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "recall_at_10": self.recall_at_10,
            "checks": [asdict(check) for check in self.checks],
        }


def verify(
    path: Path | str,
    *,
    queries: int = VERIFY_QUERIES,
    min_recall: float = 0.9,
    qdrant_api_key: str | None = None,
) -> VerifyReport:
    """Check an index end to end.

    1. Every file exists with the size and SHA-256 the manifest records.
    2. Passages, documents, vectors and the stores agree on counts; tiers and the corpus
       fingerprint match the manifest; stored vectors are unit length.
    3. FAISS: it holds the stored vectors (sampled rows reconstructed bit for bit, or for
       ``ivf-sq8`` within its 8-bit code error, :attr:`DenseKind.max_code_error`).
    4. Searching the dense store with up to ``queries`` stored vectors returns what exact
       numpy search over the stored vectors returns: the same scores for an exact index; for
       an approximate one (FAISS HNSW or IVF-SQ8, Qdrant on a server) the recall@10 against
       exact search, which must reach ``min_recall``. The scores are the inner products of
       the vectors the store holds.
    5. BM25 rebuilt from the passage texts equals the stored BM25 arrays (FAISS), or the
       sampled points' stored BM25 vectors (Qdrant).
    """
    link = Path(path)
    directory = link.resolve()
    checks: list[Check] = []
    try:
        manifest = Manifest.read(directory)
        check_files(directory, manifest, checksums=True)
        checks.append(Check("checksums", True, f"{len(manifest.files)} files match the manifest"))
        index = PassageIndex.load(directory, qdrant_api_key=qdrant_api_key)
    except IndexLoadError as error:
        checks.append(Check("load", False, str(error)))
        return VerifyReport(directory, tuple(checks))
    try:
        recall = _check_index(index, checks, queries, min_recall)
    finally:
        index.close()
    return VerifyReport(directory, tuple(checks), recall, manifest)


def _check_index(
    index: PassageIndex, checks: list[Check], queries: int, min_recall: float
) -> float | None:
    manifest = index.manifest
    n = len(index.passages)
    vectors = index.vectors()
    backend = manifest.storage.backend
    counts = {
        "manifest": manifest.passages,
        "passages": n,
        "vectors": int(vectors.shape[0]),
        **_STORE_COUNTS[backend](index),
        "documents": sum(r.passages for r in index.documents.values()),
    }
    per_document = Counter(p.document_id for p in index.passages)
    documents_agree = all(per_document[r.id] == r.passages for r in index.documents.values())
    documents_agree = documents_agree and set(per_document) <= set(index.documents)
    checks.append(
        Check(
            "counts",
            len(set(counts.values())) == 1 and documents_agree,
            ", ".join(f"{name} {count}" for name, count in counts.items())
            + ("" if documents_agree else "; passages disagree with their documents"),
        )
    )
    tiers = tier_counts(index.passages)
    checks.append(Check("tiers", tiers == dict(manifest.tiers), json.dumps(tiers)))
    fingerprint = corpus_fingerprint((r.id, r.content_hash) for r in index.documents.values())
    checks.append(
        Check("fingerprint", fingerprint == manifest.corpus_fingerprint, fingerprint[:16])
    )
    norms = np.linalg.norm(vectors, axis=1)
    worst = float(np.abs(norms - 1).max()) if n else 0.0
    checks.append(Check("normalised", worst < 1e-3, f"max |norm - 1| = {worst:.2e}"))
    sample = np.random.default_rng(0).permutation(n)[: min(queries, n)]
    return _BACKEND_CHECKS[backend](index, vectors, sample, checks, min_recall)


def _dense_check(
    name: str,
    found: list[Hits],
    vectors: Vectors,
    sample: npt.NDArray[np.int64],
    exact_index: bool,
    min_recall: float,
    held: Callable[[npt.NDArray[np.int64]], Vectors] | None = None,
) -> tuple[Check, float | None]:
    """The dense store's answers to sampled stored vectors against exact numpy search.

    ``held`` gives the store's own copies of rows, when it keeps them other than as given.
    """
    k = min(VERIFY_K, len(vectors))
    exact_rows, exact_scores = exact_search(vectors, vectors[sample], k)
    found_rows = np.stack([hits.rows[:k] for hits in found])
    found_scores = np.stack([hits.scores[:k] for hits in found])
    # The scores the store reports must be the inner products of the vectors it holds.
    held_rows = vectors[found_rows] if held is None else held(found_rows)
    true_scores = np.einsum("qd,qkd->qk", vectors[sample], held_rows)
    honest = bool(np.allclose(found_scores, true_scores, atol=1e-4))
    recall = float(
        np.mean([len(set(a) & set(b)) / k for a, b in zip(found_rows, exact_rows, strict=True)])
    )
    if exact_index:
        exact = honest and bool(np.allclose(found_scores, exact_scores, atol=1e-4))
        detail = f"{len(sample)} queries: exact top-{k} (recall {recall:.4f})"
        return Check(name, exact, detail), None
    detail = f"{len(sample)} queries: recall@{k} {recall:.4f} vs exact (min {min_recall})"
    return Check(name, honest and recall >= min_recall, detail), recall


def _faiss_counts(index: PassageIndex) -> dict[str, int]:
    dense, lexical = index.dense, index.lexical
    assert isinstance(dense, FaissDenseStore) and isinstance(lexical, Bm25LexicalStore)
    return {"faiss": dense.ntotal, "bm25": lexical.num_docs}


def _faiss_checks(
    index: PassageIndex,
    vectors: Vectors,
    sample: npt.NDArray[np.int64],
    checks: list[Check],
    min_recall: float,
) -> float | None:
    dense, lexical = index.dense, index.lexical
    assert isinstance(dense, FaissDenseStore) and isinstance(lexical, Bm25LexicalStore)
    code_error = float(np.abs(dense.reconstruct(sample) - vectors[sample]).max())
    allowed = dense.kind.max_code_error
    detail = f"{len(sample)} sampled rows vs vectors.npy: max difference {code_error:.1e}"
    checks.append(Check("faiss rows", code_error <= allowed, f"{detail} (allowed {allowed:.1e})"))
    k = min(VERIFY_K, len(vectors))
    found = dense.search_batch(vectors[sample], k)
    exact_index = dense.kind is DenseKind.FLAT

    def held(rows: npt.NDArray[np.int64]) -> Vectors:
        return dense.reconstruct(rows.ravel()).reshape(*rows.shape, -1)

    check, recall = _dense_check(
        "faiss search", found, vectors, sample, exact_index, min_recall, held
    )
    checks.append(check)
    texts = [p.embedding_text for p in index.passages]
    rebuilt = Bm25LexicalStore.build(texts, index.manifest.bm25)
    checks.append(Check("bm25", rebuilt.same_index(lexical), "rebuilt from passage texts"))
    return recall


def _qdrant_counts(index: PassageIndex) -> dict[str, int]:
    from index.qdrant import QdrantDenseStore

    assert isinstance(index.dense, QdrantDenseStore)
    return {"points": index.dense.collection.count()}


def _qdrant_checks(
    index: PassageIndex,
    vectors: Vectors,
    sample: npt.NDArray[np.int64],
    checks: list[Check],
    min_recall: float,
) -> float | None:
    from index.qdrant import QdrantDenseStore
    from index.sparse import Bm25Statistics, passage_vector

    dense = index.dense
    assert isinstance(dense, QdrantDenseStore)
    config = dense.collection.config
    k = min(VERIFY_K, len(vectors))
    found = [dense.search(vectors[row], k) for row in sample]
    # Local mode scans exactly; a server searches its HNSW graph.
    name = "qdrant dense search"
    check, recall = _dense_check(name, found, vectors, sample, config.local, min_recall)
    checks.append(check)
    settings = index.manifest.bm25
    tokenizer = Bm25Tokenizer(settings)
    stats = Bm25Statistics()
    terms = tokenizer.tokenize([p.embedding_text for p in index.passages])
    stats.add_all(terms)
    stored = dense.collection.sparse_vectors(sample.tolist())
    wrong = [
        int(row)
        for row in sample
        if not _same_terms(
            stored.get(int(row)), passage_vector(terms[row], stats, settings, config.sparse)
        )
    ]
    detail = f"{len(sample)} sampled points rebuilt from passage texts"
    checks.append(Check("bm25", not wrong, detail + (f"; row {wrong[0]} differs" if wrong else "")))
    return recall


def _same_terms(stored: SparseTerms | None, expected: SparseTerms) -> bool:
    return (
        stored is not None
        and stored.indices == expected.indices
        and bool(np.allclose(stored.values, expected.values, rtol=1e-5, atol=1e-7))
    )


_STORE_COUNTS: dict[StorageBackend, Callable[[PassageIndex], dict[str, int]]] = {
    StorageBackend.FAISS: _faiss_counts,
    StorageBackend.QDRANT: _qdrant_counts,
}
_BACKEND_CHECKS: dict[
    StorageBackend,
    Callable[[PassageIndex, Vectors, npt.NDArray[np.int64], list[Check], float], float | None],
] = {
    StorageBackend.FAISS: _faiss_checks,
    StorageBackend.QDRANT: _qdrant_checks,
}
