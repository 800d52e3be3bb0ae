"""The index manifest: what an index directory holds and how it was built.

``manifest.json`` is written last into a build directory and records the format version, the
package version, the embedding model and its dimension, normalisation, the chunking and BM25
parameters, the dense index kind, the storage backend (:mod:`index.storage`), a fingerprint of
the corpus, passage counts by evidence tier, timings, and the size and SHA-256 of every other
file. Loading an index starts here.

Example:
    >>> manifest = Manifest.read(Path("var/demo-index"))
    >>> manifest.model_name, manifest.dimension, manifest.passages
    ('sentence-transformers/all-MiniLM-L6-v2', 384, 812)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.dense import DenseConfig
from index.errors import IndexCorruptError, IndexFormatError
from index.lexical import Bm25Settings
from index.storage import FORMAT_VERSIONS, StorageConfig

# Bump when the directory layout or a file format changes; readers refuse newer versions. Each
# backend writes its own (index.storage.FORMAT_VERSIONS); this is the newest one read.
FORMAT_VERSION = max(FORMAT_VERSIONS.values())
MANIFEST_FILE = "manifest.json"
_CHUNK = 1 << 20


def package_version() -> str:
    """The installed version of ``followup``, or ``0+unknown`` when running from a source tree."""
    try:
        return importlib.metadata.version("followup")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def corpus_fingerprint(content_hashes: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted ``(document id, content hash)`` pairs of a corpus.

    Two corpora with the same documents in any order share a fingerprint; changing any
    document's content changes it.
    """
    digest = hashlib.sha256()
    for document_id, content_hash in sorted(content_hashes):
        digest.update(f"{document_id}\x00{content_hash}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """Size and SHA-256 of one file of the index, relative to the index directory."""

    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> FileEntry:
        return cls(size=path.stat().st_size, sha256=sha256_file(path))


@dataclass(frozen=True)
class Manifest:
    """Everything needed to check that an index fits the code and model that open it.

    Attributes:
        format_version: layout version (:data:`FORMAT_VERSION` when written by this code).
        package_version: version of ``followup`` that wrote it.
        model_name: the embedding model's name; queries must be encoded with the same model.
        dimension: embedding dimension.
        normalized: whether stored vectors are L2-normalised (always true here).
        chunking: the chunking parameters (``ChunkingConfig.to_dict()``).
        corpus_fingerprint: :func:`corpus_fingerprint` over the indexed documents.
        documents: number of documents.
        passages: number of passages (rows of every store).
        tiers: passages per evidence tier value.
        bm25: BM25 parameters and tokenisation.
        dense: FAISS index kind and parameters.
        build_id: identifies this version of the index; also its directory suffix.
        built_at: UTC time the build finished, ISO 8601.
        build_seconds: wall time of the build or update.
        parent_build_id: the version an ``add``/``remove`` started from, if any.
        files: size and SHA-256 of every other file, by relative path.
        storage: the backend holding vectors and BM25 postings (FAISS files by default).
    """

    format_version: int
    package_version: str
    model_name: str
    dimension: int
    normalized: bool
    chunking: Mapping[str, Any]
    corpus_fingerprint: str
    documents: int
    passages: int
    tiers: Mapping[str, int]
    bm25: Bm25Settings
    dense: DenseConfig
    build_id: str
    built_at: str
    build_seconds: float
    parent_build_id: str | None = None
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    storage: StorageConfig = field(default_factory=StorageConfig)

    def with_files(self, files: Mapping[str, FileEntry]) -> Manifest:
        return replace(self, files=dict(files))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "package_version": self.package_version,
            "model": {
                "name": self.model_name,
                "dimension": self.dimension,
                "normalized": self.normalized,
            },
            "chunking": dict(self.chunking),
            "corpus": {
                "fingerprint": self.corpus_fingerprint,
                "documents": self.documents,
                "passages": self.passages,
                "tiers": dict(self.tiers),
            },
            "bm25": self.bm25.to_dict(),
            "dense": self.dense.to_dict(),
            "storage": self.storage.to_dict(),
            "build": {
                "id": self.build_id,
                "parent_id": self.parent_build_id,
                "built_at": self.built_at,
                "seconds": self.build_seconds,
            },
            "files": {
                name: {"size": entry.size, "sha256": entry.sha256}
                for name, entry in sorted(self.files.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Parse a manifest; the version is checked before anything else.

        Raises:
            IndexFormatError: the format version is newer than :data:`FORMAT_VERSION`.
            IndexCorruptError: a field is missing or has the wrong type.
        """
        try:
            version = int(data["format_version"])
        except (KeyError, TypeError, ValueError) as error:
            raise IndexCorruptError(f"manifest has no valid format_version: {error}") from error
        if version > FORMAT_VERSION:
            raise IndexFormatError(
                f"index format version {version} is newer than this code reads "
                f"({FORMAT_VERSION}); upgrade followup or rebuild the index"
            )
        try:
            model, corpus, build = data["model"], data["corpus"], data["build"]
            return cls(
                format_version=version,
                package_version=str(data["package_version"]),
                model_name=str(model["name"]),
                dimension=int(model["dimension"]),
                normalized=bool(model["normalized"]),
                chunking=dict(data["chunking"]),
                corpus_fingerprint=str(corpus["fingerprint"]),
                documents=int(corpus["documents"]),
                passages=int(corpus["passages"]),
                tiers={str(k): int(v) for k, v in corpus["tiers"].items()},
                bm25=Bm25Settings.from_dict(data["bm25"]),
                dense=DenseConfig.from_dict(data["dense"]),
                build_id=str(build["id"]),
                parent_build_id=None if build.get("parent_id") is None else str(build["parent_id"]),
                built_at=str(build["built_at"]),
                build_seconds=float(build["seconds"]),
                files={
                    str(name): FileEntry(size=int(entry["size"]), sha256=str(entry["sha256"]))
                    for name, entry in data["files"].items()
                },
                storage=StorageConfig.from_dict(data.get("storage", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise IndexCorruptError(f"manifest is malformed: {error!r}") from error

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read ``manifest.json`` from an index directory.

        Raises:
            IndexCorruptError: the manifest is missing or not valid JSON.
            IndexFormatError: it was written by a newer format version.
        """
        path = directory / MANIFEST_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise IndexCorruptError(
                f"{directory} has no {MANIFEST_FILE}; is it an index?"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise IndexCorruptError(f"{path} is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise IndexCorruptError(f"{path} does not hold a JSON object")
        return cls.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
