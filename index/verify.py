"""Checking an index end to end: files, counts, FAISS against exact search, BM25 rebuilt.

Example:
    >>> report = verify(Path("var/demo-index"))
    >>> report.ok, [check.name for check in report.checks if not check.ok]
    (True, [])
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.dense import DenseKind, exact_search
from index.errors import IndexLoadError
from index.lexical import Bm25LexicalStore
from index.load import PassageIndex, check_files
from index.manifest import Manifest, corpus_fingerprint
from index.records import tier_counts

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
    path: Path | str, *, queries: int = VERIFY_QUERIES, min_recall: float = 0.9
) -> VerifyReport:
    """Check an index end to end.

    1. Every file exists with the size and SHA-256 the manifest records.
    2. Passages, documents, vectors, FAISS and BM25 agree on counts; tiers and the corpus
       fingerprint match the manifest; stored vectors are unit length.
    3. FAISS holds exactly the stored vectors (sampled rows reconstructed bit for bit).
    4. Searching FAISS with up to ``queries`` stored vectors returns what exact numpy search
       over vectors.npy returns: the same scores for a flat index; for HNSW the recall@10
       against exact search, which must reach ``min_recall``.
    5. BM25 rebuilt from the passage texts equals the stored BM25 arrays.
    """
    link = Path(path)
    directory = link.resolve()
    checks: list[Check] = []
    try:
        manifest = Manifest.read(directory)
        check_files(directory, manifest, checksums=True)
        checks.append(Check("checksums", True, f"{len(manifest.files)} files match the manifest"))
        index = PassageIndex.load(directory)
    except IndexLoadError as error:
        checks.append(Check("load", False, str(error)))
        return VerifyReport(directory, tuple(checks))

    n = len(index.passages)
    vectors = index.vectors()
    counts = {
        "manifest": manifest.passages,
        "passages": n,
        "vectors": int(vectors.shape[0]),
        "faiss": index.dense.ntotal,
        "bm25": index.lexical.num_docs,
        "documents.jsonl": sum(r.passages for r in index.documents.values()),
    }
    per_document = Counter(p.document_id for p in index.passages)
    documents_agree = all(per_document[r.id] == r.passages for r in index.documents.values())
    documents_agree = documents_agree and set(per_document) <= set(index.documents)
    checks.append(
        Check(
            "counts",
            len(set(counts.values())) == 1 and documents_agree,
            ", ".join(f"{name} {count}" for name, count in counts.items())
            + ("" if documents_agree else "; passages disagree with documents.jsonl"),
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
    same_rows = bool(np.array_equal(index.dense.reconstruct(sample), vectors[sample]))
    checks.append(Check("faiss rows", same_rows, f"{len(sample)} sampled rows vs vectors.npy"))

    k = min(VERIFY_K, n)
    exact_rows, exact_scores = exact_search(vectors, vectors[sample], k)
    found = index.dense.search_batch(vectors[sample], k)
    found_rows = np.stack([hits.rows for hits in found])
    found_scores = np.stack([hits.scores for hits in found])
    # The scores FAISS reports must be the true inner products of the rows it returns.
    true_scores = np.einsum("qd,qkd->qk", vectors[sample], vectors[found_rows])
    honest = bool(np.allclose(found_scores, true_scores, atol=1e-4))
    recall = float(
        np.mean([len(set(a) & set(b)) / k for a, b in zip(found_rows, exact_rows, strict=True)])
    )
    recall_at_10: float | None = None
    if manifest.dense.kind is DenseKind.FLAT:
        exact = honest and bool(np.allclose(found_scores, exact_scores, atol=1e-4))
        checks.append(
            Check(
                "faiss search", exact, f"{len(sample)} queries: exact top-{k} (recall {recall:.4f})"
            )
        )
    else:
        recall_at_10 = recall
        checks.append(
            Check(
                "faiss search",
                honest and recall >= min_recall,
                f"{len(sample)} queries: recall@{k} {recall:.4f} vs exact (min {min_recall})",
            )
        )

    rebuilt = Bm25LexicalStore.build([p.embedding_text for p in index.passages], manifest.bm25)
    same_bm25 = rebuilt.same_index(index.lexical)
    checks.append(Check("bm25", same_bm25, "rebuilt from passage texts"))
    return VerifyReport(directory, tuple(checks), recall_at_10, manifest)
