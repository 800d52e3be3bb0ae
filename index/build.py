"""Building and updating an index: chunk, embed, write a version, publish it.

:func:`build_index` writes a new index from a corpus; :func:`add_documents` and
:func:`remove_documents` write a new version from the current one, encoding only passages it
does not already hold. Each version is published atomically (:mod:`index.publish`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from corpus.types import Document, Passage
from index.dense import DenseConfig, FaissDenseStore
from index.layout import (
    BM25_DIR,
    DATA_FILES,
    DENSE_FILE,
    DOCUMENTS_FILE,
    PASSAGES_FILE,
    VECTORS_FILE,
    Layout,
    new_build_id,
)
from index.lexical import Bm25LexicalStore, Bm25Settings
from index.load import PassageIndex
from index.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    FileEntry,
    Manifest,
    corpus_fingerprint,
    package_version,
)
from index.publish import publish, writer_lock
from index.records import (
    DocumentRecord,
    document_content_hash,
    passage_to_dict,
    tier_counts,
    write_jsonl,
)
from index.types import Companion, Embedder, Vectors

if TYPE_CHECKING:
    from corpus.chunking import ChunkingConfig

logger = logging.getLogger(__name__)


def _unique_documents(documents: Iterable[Document]) -> list[Document]:
    seen: set[str] = set()
    unique = []
    for document in documents:
        if document.id in seen:
            raise ValueError(f"document id {document.id!r} appears more than once")
        seen.add(document.id)
        unique.append(document)
    return unique


def _chunk(documents: Sequence[Document], chunking: ChunkingConfig) -> list[Passage]:
    # Imported here: the index only needs the chunker when it builds or adds.
    from corpus.chunking import chunk_documents

    return chunk_documents(list(documents), chunking)


def _chunking_from_dict(data: Mapping[str, Any]) -> ChunkingConfig:
    from corpus.chunking import ChunkingConfig

    return ChunkingConfig.from_dict(dict(data))


def _write_version(
    directory: Path,
    *,
    passages: Sequence[Passage],
    records: Sequence[DocumentRecord],
    vectors: Vectors,
    model_name: str,
    chunking: Mapping[str, Any],
    bm25: Bm25Settings,
    dense: DenseConfig,
    build_id: str,
    parent_build_id: str | None,
    started: float,
    companions: Sequence[Companion] = (),
    previous: Path | None = None,
) -> Manifest:
    """Write every data file and companion file, then the manifest with their sizes and
    checksums."""
    if len(vectors) != len(passages):
        raise ValueError(f"{len(vectors)} vectors for {len(passages)} passages")
    if not passages:
        raise ValueError("an index needs at least one passage")
    repeated = [pid for pid, n in Counter(p.id for p in passages).items() if n > 1]
    if repeated:
        raise ValueError(f"passage ids occur more than once: {', '.join(repeated[:5])}")
    write_jsonl(directory / PASSAGES_FILE, (passage_to_dict(p) for p in passages))
    write_jsonl(directory / DOCUMENTS_FILE, (asdict(r) for r in records))
    np.save(directory / VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32))
    FaissDenseStore.build(vectors, dense).save(directory / DENSE_FILE)
    texts = [passage.embedding_text for passage in passages]
    Bm25LexicalStore.build(texts, bm25).save(directory / BM25_DIR)
    for companion in companions:
        companion.write(passages, directory, previous)
    written = [c.name for c in companions if (directory / c.name).is_file()]
    files = {name: FileEntry.of(directory / name) for name in (*DATA_FILES, *written)}
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        package_version=package_version(),
        model_name=model_name,
        dimension=int(vectors.shape[1]),
        normalized=True,
        chunking=dict(chunking),
        corpus_fingerprint=corpus_fingerprint((r.id, r.content_hash) for r in records),
        documents=len(records),
        passages=len(passages),
        tiers=tier_counts(passages),
        bm25=bm25,
        dense=dense,
        build_id=build_id,
        parent_build_id=parent_build_id,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        files=files,
    )
    (directory / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _records(documents: Sequence[Document], passages: Sequence[Passage]) -> list[DocumentRecord]:
    per_document = Counter(passage.document_id for passage in passages)
    return [DocumentRecord(d.id, document_content_hash(d), per_document[d.id]) for d in documents]


def build_index(
    documents: Iterable[Document],
    out: Path | str,
    embedder: Embedder,
    chunking: ChunkingConfig | None = None,
    *,
    dense: DenseConfig | None = None,
    bm25: Bm25Settings | None = None,
    progress: bool = False,
    companions: Sequence[Companion] = (),
) -> Manifest:
    """Chunk, embed and index ``documents`` into ``out``, replacing any index there atomically.

    Args:
        documents: the corpus; ids must be unique.
        out: the index path; it becomes a symlink to the new version directory.
        embedder: encodes the passages; its name and dimension go into the manifest.
        chunking: how documents are cut into passages (default ``ChunkingConfig()``).
        dense: FAISS kind and parameters (default exact flat search).
        bm25: BM25 parameters and tokenisation (default: the tuned :class:`Bm25Settings`).
        progress: show a progress bar while encoding.
        companions: files derived from the passages, written into the version too.

    Returns:
        The manifest of the new index.

    Raises:
        ValueError: duplicate document ids, or no passages to index.
        FileExistsError: ``out`` is a non-empty directory that is not an index link.
        IndexLockedError: another process is writing ``out``.
    """
    from corpus.chunking import ChunkingConfig

    started = time.perf_counter()
    chunking = chunking if chunking is not None else ChunkingConfig()
    docs = _unique_documents(documents)
    layout = Layout(Path(out).absolute())
    build_id = new_build_id()

    def write(directory: Path) -> Manifest:
        passages = _chunk(docs, chunking)
        if not passages:
            raise ValueError("the documents produced no passages")
        logger.info("encoding %d passages from %d documents", len(passages), len(docs))
        vectors = embedder.encode_documents([p.embedding_text for p in passages], progress=progress)
        return _write_version(
            directory,
            passages=passages,
            records=_records(docs, passages),
            vectors=vectors,
            model_name=embedder.model_name,
            chunking=chunking.to_dict(),
            bm25=bm25 or Bm25Settings(),
            dense=dense or DenseConfig(),
            build_id=build_id,
            parent_build_id=None,
            started=started,
            companions=companions,
        )

    with writer_lock(layout):
        return publish(layout, build_id, write)


@dataclass(frozen=True)
class UpdateReport:
    """What an ``add`` or ``remove`` changed.

    ``manifest`` is the new version's manifest, or the unchanged one when nothing changed.
    """

    manifest: Manifest
    added_documents: tuple[str, ...] = ()
    replaced_documents: tuple[str, ...] = ()
    unchanged_documents: tuple[str, ...] = ()
    removed_documents: tuple[str, ...] = ()
    missing_documents: tuple[str, ...] = ()
    added_passages: int = 0
    removed_passages: int = 0
    encoded_passages: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added_documents or self.replaced_documents or self.removed_documents)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["manifest"] = self.manifest.to_dict()
        data["changed"] = self.changed
        return data


def _rewrite(
    layout: Layout,
    current: PassageIndex,
    *,
    keep_rows: npt.NDArray[np.int64],
    new_passages: Sequence[Passage],
    new_vectors: Vectors,
    records: Sequence[DocumentRecord],
    started: float,
    companions: Sequence[Companion],
) -> Manifest:
    build_id = new_build_id()
    passages = [current.passages[int(row)] for row in keep_rows] + list(new_passages)
    vectors = np.concatenate([current.vectors(keep_rows), new_vectors]).astype(np.float32)
    manifest = current.manifest

    def write(directory: Path) -> Manifest:
        return _write_version(
            directory,
            passages=passages,
            records=records,
            vectors=vectors,
            model_name=manifest.model_name,
            chunking=manifest.chunking,
            bm25=manifest.bm25,
            dense=manifest.dense,
            build_id=build_id,
            parent_build_id=manifest.build_id,
            started=started,
            companions=companions,
            previous=current.directory,
        )

    return publish(layout, build_id, write)


def add_documents(
    path: Path | str,
    documents: Iterable[Document],
    embedder: Embedder,
    *,
    progress: bool = False,
    companions: Sequence[Companion] = (),
) -> UpdateReport:
    """Add documents to an index, embedding only passages it does not already hold.

    A document already indexed with the same content is skipped. A document whose content
    changed has its old passages replaced. A new passage whose id and embedding text both
    match a stored passage reuses the stored vector; only the rest are encoded. FAISS and BM25
    are rebuilt from the stored vectors and the passage texts (no re-encoding), and the new
    version replaces the old one atomically, as in :func:`build_index`.

    Raises:
        IndexModelMismatchError: ``embedder`` is not the model the index was built with.
        IndexLockedError: another process is writing the index.
        ValueError: duplicate document ids among ``documents``.
    """
    started = time.perf_counter()
    layout = Layout(Path(path).absolute())
    docs = _unique_documents(documents)
    with writer_lock(layout):
        current = PassageIndex.load(
            layout.link, expected_model=embedder.model_name, expected_dimension=embedder.dimension
        )
        known = current.documents
        added, replaced, unchanged = [], [], []
        for document in docs:
            content_hash = document_content_hash(document)
            if document.id not in known:
                added.append(document)
            elif known[document.id].content_hash != content_hash:
                replaced.append(document)
            else:
                unchanged.append(document.id)
        if not added and not replaced:
            return UpdateReport(current.manifest, unchanged_documents=tuple(unchanged))

        chunking = _chunking_from_dict(current.manifest.chunking)
        incoming = added + replaced
        new_passages = _chunk(incoming, chunking)
        replaced_ids = {d.id for d in replaced}
        keep_rows = np.array(
            [i for i, p in enumerate(current.passages) if p.document_id not in replaced_ids],
            dtype=np.int64,
        )
        # Reuse a stored vector when the passage is byte-for-byte what was embedded before.
        reuse_rows = np.full(len(new_passages), -1, dtype=np.int64)
        for i, passage in enumerate(new_passages):
            row = current.row(passage.id)
            if row is not None and current.passages[row].embedding_text == passage.embedding_text:
                reuse_rows[i] = row
        to_encode = np.flatnonzero(reuse_rows < 0)
        new_vectors = np.zeros((len(new_passages), current.manifest.dimension), dtype=np.float32)
        if len(to_encode):
            texts = [new_passages[i].embedding_text for i in to_encode]
            new_vectors[to_encode] = embedder.encode_documents(texts, progress=progress)
        reused = np.flatnonzero(reuse_rows >= 0)
        if len(reused):
            new_vectors[reused] = current.vectors(reuse_rows[reused])

        by_id = {d.id: d for d in incoming}
        per_document = Counter(p.document_id for p in new_passages)
        records = [
            DocumentRecord(r.id, r.content_hash, r.passages)
            for r in current.documents.values()
            if r.id not in replaced_ids
        ] + [
            DocumentRecord(d.id, document_content_hash(by_id[d.id]), per_document[d.id])
            for d in incoming
        ]
        manifest = _rewrite(
            layout,
            current,
            keep_rows=keep_rows,
            new_passages=new_passages,
            new_vectors=new_vectors,
            records=records,
            started=started,
            companions=companions,
        )
        return UpdateReport(
            manifest,
            added_documents=tuple(d.id for d in added),
            replaced_documents=tuple(d.id for d in replaced),
            unchanged_documents=tuple(unchanged),
            added_passages=len(new_passages),
            removed_passages=len(current.passages) - len(keep_rows),
            encoded_passages=len(to_encode),
        )


def remove_documents(
    path: Path | str, document_ids: Iterable[str], *, companions: Sequence[Companion] = ()
) -> UpdateReport:
    """Remove documents (and all their passages) from an index, atomically.

    Ids that are not in the index are reported in ``missing_documents``. Nothing is encoded:
    FAISS is rebuilt from the stored vectors and BM25 from the remaining passage texts.

    Raises:
        ValueError: the removal would leave the index empty (build a new one instead).
        IndexLockedError: another process is writing the index.
    """
    started = time.perf_counter()
    layout = Layout(Path(path).absolute())
    wanted = list(dict.fromkeys(document_ids))
    with writer_lock(layout):
        current = PassageIndex.load(layout.link)
        present = [i for i in wanted if i in current.documents]
        missing = tuple(i for i in wanted if i not in current.documents)
        if not present:
            return UpdateReport(current.manifest, missing_documents=missing)
        gone = set(present)
        keep_rows = np.array(
            [i for i, p in enumerate(current.passages) if p.document_id not in gone],
            dtype=np.int64,
        )
        if len(keep_rows) == 0:
            raise ValueError("removing these documents would leave the index empty")
        records = [r for r in current.documents.values() if r.id not in gone]
        manifest = _rewrite(
            layout,
            current,
            keep_rows=keep_rows,
            new_passages=[],
            new_vectors=np.zeros((0, current.manifest.dimension), dtype=np.float32),
            records=records,
            started=started,
            companions=companions,
        )
        return UpdateReport(
            manifest,
            removed_documents=tuple(present),
            missing_documents=missing,
            removed_passages=len(current.passages) - len(keep_rows),
        )
