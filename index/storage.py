"""Where an index's vectors and BM25 postings live: the storage backend, recorded in the manifest.

:attr:`StorageBackend.FAISS` (the default) keeps them as files in the index directory: a FAISS
index and bm25s arrays (:mod:`index.dense`, :mod:`index.lexical`). :attr:`StorageBackend.QDRANT`
keeps them in a Qdrant collection (:mod:`index.qdrant`): in local mode inside the index
directory (no server), or on a Qdrant server or cluster, in which case the directory holds only
the manifest. Either way the index directory, its manifest and its atomic versions are the same
(:mod:`index.publish`), and :class:`index.load.PassageIndex` opens both.

This module is plain data, so that reading a manifest never needs ``qdrant-client``.

Example:
    >>> StorageConfig.from_dict({"backend": "qdrant", "qdrant": {"prefix": "demo"}})
    StorageConfig(backend=<StorageBackend.QDRANT: 'qdrant'>, qdrant=QdrantConfig(...))
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from corpus.types import parse_choice


class StorageBackend(enum.StrEnum):
    """Which engine stores the vectors and the BM25 postings."""

    FAISS = "faiss"  # FAISS and bm25s files in the index directory
    QDRANT = "qdrant"  # a Qdrant collection, local (in the directory) or on a server

    @classmethod
    def parse(cls, value: str) -> StorageBackend:
        """Parse a backend name, with an error that lists the valid names."""
        return parse_choice(cls, value, "storage backend")


# The manifest format each backend writes. FAISS: 1 kept the passage and document records as
# JSON lines (still read), 3 keeps them in SQLite (index.passage_records), which older code
# refuses by the version. A Qdrant index is 2.
FORMAT_VERSIONS = {StorageBackend.FAISS: 3, StorageBackend.QDRANT: 2}


_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,100}")


class SparseWeights(enum.StrEnum):
    """What a passage's BM25 sparse vector holds (:mod:`index.sparse`)."""

    # Our BM25 weights, idf included, computed at build time: scores equal bm25s's exactly.
    BM25 = "bm25"
    # The term-frequency part only; Qdrant's IDF modifier multiplies in the idf at query time
    # (the Lucene formula, so ``Bm25Method.LUCENE`` only), from the collection's live counts.
    IDF = "idf"


class Quantization(enum.StrEnum):
    """How Qdrant compresses the dense vectors it searches (originals kept for rescoring)."""

    NONE = "none"
    INT8 = "int8"  # scalar quantisation: a quarter of the memory, rescored with the originals


@dataclass(frozen=True)
class QdrantConfig:
    """Where the collection is and how it is laid out.

    Attributes:
        url: The Qdrant server (``http://host:6333``); ``None`` is local mode, the collection
            stored inside the index version directory.
        prefix: Names the index's collections: each version has its own,
            ``<prefix>-<build id>`` (:meth:`collection`); on a server, give each index its own.
        sparse: BM25 weights precomputed, or Qdrant's IDF modifier.
        shards: Shards of the collection (a server spreads them over its nodes).
        replication: Copies of each shard (2 survives one node down).
        on_disk: Keep the original vectors and the sparse index on disk (memory-mapped)
            rather than in RAM.
        quantization: Compress the dense vectors searched in RAM.
        hnsw_m: HNSW graph degree on a server (local mode searches exactly).
        hnsw_ef_construct: HNSW candidate list while building.
        hnsw_ef: HNSW candidate list while searching (at least the ``k`` asked for).
    """

    prefix: str
    url: str | None = None
    sparse: SparseWeights = SparseWeights.BM25
    shards: int = 1
    replication: int = 1
    on_disk: bool = False
    quantization: Quantization = Quantization.NONE
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    hnsw_ef: int = 128

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                "a Qdrant collection prefix takes letters, digits, '-' and '_', "
                f"got {self.prefix!r}"
            )
        for name in ("shards", "replication", "hnsw_m", "hnsw_ef_construct", "hnsw_ef"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def local(self) -> bool:
        return self.url is None

    def collection(self, build_id: str) -> str:
        """The collection of the index version ``build_id``."""
        return f"{self.prefix}-{build_id}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sparse"] = self.sparse.value
        data["quantization"] = self.quantization.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QdrantConfig:
        values = dict(data)
        values["sparse"] = parse_choice(SparseWeights, str(values.get("sparse", "bm25")), "sparse")
        values["quantization"] = parse_choice(
            Quantization, str(values.get("quantization", "none")), "quantization"
        )
        return cls(**values)


@dataclass(frozen=True)
class StorageConfig:
    """The backend, and for Qdrant its collection settings."""

    backend: StorageBackend = StorageBackend.FAISS
    qdrant: QdrantConfig | None = field(default=None)

    def __post_init__(self) -> None:
        if (self.backend is StorageBackend.QDRANT) != (self.qdrant is not None):
            raise ValueError("Qdrant settings go with the qdrant backend, and only with it")

    @property
    def format_version(self) -> int:
        return FORMAT_VERSIONS[self.backend]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"backend": self.backend.value}
        if self.qdrant is not None:
            data["qdrant"] = self.qdrant.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StorageConfig:
        backend = StorageBackend.parse(str(data.get("backend", StorageBackend.FAISS.value)))
        qdrant = data.get("qdrant")
        return cls(backend, QdrantConfig.from_dict(qdrant) if qdrant is not None else None)
