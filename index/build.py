"""Building and updating an index: chunk, embed, write a version, publish it.

:func:`build_index` writes a new index from a corpus; :func:`add_documents` and
:func:`remove_documents` write a new version from the current one, encoding only passages it
does not already hold. Each version is published atomically (:mod:`index.publish`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from corpus.types import Document, EvidenceTier, Passage
from index.dense import DenseConfig, FaissDenseStore
from index.errors import IndexCorruptError, IndexLoadError
from index.layout import (
    BM25_DIR,
    BUILD_ID,
    DATA_FILES,
    DENSE_FILE,
    RECORDS_FILE,
    VECTORS_FILE,
    Layout,
    new_build_id,
)
from index.lexical import Bm25LexicalStore, Bm25Settings
from index.load import PassageIndex
from index.manifest import (
    MANIFEST_FILE,
    FileEntry,
    Manifest,
    corpus_fingerprint,
    package_version,
)
from index.passage_records import write_records
from index.publish import publish, writer_lock
from index.records import DocumentRecord, document_content_hash, tier_counts
from index.storage import StorageBackend, StorageConfig
from index.types import Companion, Embedder, Vectors

if TYPE_CHECKING:
    from corpus.chunking import ChunkingConfig
    from index.bulk import Batches, Encode

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
    write_records(directory / RECORDS_FILE, passages, records)
    np.save(directory / VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32))
    FaissDenseStore.build(vectors, dense).save(directory / DENSE_FILE)
    texts = [passage.embedding_text for passage in passages]
    Bm25LexicalStore.build(texts, bm25).save(directory / BM25_DIR)
    for companion in companions:
        companion.write(passages, directory, previous)
    return _write_manifest(
        directory,
        DATA_FILES,
        companions,
        records=records,
        passages=len(passages),
        tiers=tier_counts(passages),
        model_name=model_name,
        dimension=int(vectors.shape[1]),
        chunking=chunking,
        bm25=bm25,
        dense=dense,
        storage=StorageConfig(),
        build_id=build_id,
        parent_build_id=parent_build_id,
        started=started,
    )


def _write_manifest(
    directory: Path,
    data_files: Sequence[str],
    companions: Sequence[Companion],
    *,
    records: Sequence[DocumentRecord],
    passages: int,
    tiers: Mapping[str, int],
    model_name: str,
    dimension: int,
    chunking: Mapping[str, Any],
    bm25: Bm25Settings,
    dense: DenseConfig,
    storage: StorageConfig,
    build_id: str,
    parent_build_id: str | None,
    started: float,
) -> Manifest:
    """The manifest of a written version, with the size and checksum of its files."""
    written = [c.name for c in companions if (directory / c.name).is_file()]
    files = {name: FileEntry.of(directory / name) for name in (*data_files, *written)}
    manifest = Manifest(
        format_version=storage.format_version,
        package_version=package_version(),
        model_name=model_name,
        dimension=dimension,
        normalized=True,
        chunking=dict(chunking),
        corpus_fingerprint=corpus_fingerprint((r.id, r.content_hash) for r in records),
        documents=len(records),
        passages=passages,
        tiers=dict(tiers),
        bm25=bm25,
        dense=dense,
        build_id=build_id,
        parent_build_id=parent_build_id,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        files=files,
        storage=storage,
    )
    (directory / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


@dataclass(frozen=True)
class _QdrantJob:
    """What a Qdrant version is written from: passage batches (read twice) and their vectors."""

    batches: Batches
    encode: Encode
    document_hashes: Mapping[str, str]
    records: Callable[[Counter[str]], list[DocumentRecord]]


def _write_qdrant_version(
    directory: Path,
    job: _QdrantJob,
    *,
    storage: StorageConfig,
    api_key: str | None,
    resumable: bool,
    model_name: str,
    dimension: int,
    chunking: Mapping[str, Any],
    bm25: Bm25Settings,
    dense: DenseConfig,
    build_id: str,
    parent_build_id: str | None,
    started: float,
    progress: bool,
    companions: Sequence[Companion] = (),
    previous: Path | None = None,
) -> Manifest:
    """Stream a version into its collection (:mod:`index.bulk`), then write the manifest."""
    from index.bulk import RESUME_FILE, check_resume, count_passages, write_collection
    from index.qdrant import QdrantCollection

    config = storage.qdrant
    assert config is not None  # StorageConfig ties the two together
    counts, stats = count_passages(job.batches, bm25)
    if not counts.passages:
        raise ValueError("the documents produced no passages")
    records = job.records(counts.per_document)
    plan = {
        "corpus": corpus_fingerprint((r.id, r.content_hash) for r in records),
        "model": model_name,
        "chunking": dict(chunking),
        "bm25": bm25.to_dict(),
        "storage": storage.to_dict(),
    }
    resume = check_resume(directory, plan) and resumable
    collection = QdrantCollection.open(config, build_id, directory, api_key=api_key)
    try:
        write_collection(
            collection,
            job.batches,
            job.encode,
            bm25,
            stats=stats,
            document_hashes=job.document_hashes,
            dimension=dimension,
            resume=resume,
            progress=progress,
        )
        stored = collection.count()
    finally:
        collection.close()  # local mode: release the folder before it is renamed
    if stored != counts.passages:
        raise IndexCorruptError(f"{collection.name} holds {stored} of {counts.passages} passages")
    # Companions need every passage at once: a local collection's corpus fits in memory; a
    # server's index directory holds the manifest only.
    if config.local:
        passages = [p for batch in job.batches() for p in batch]
        for companion in companions:
            companion.write(passages, directory, previous)
    else:
        companions = ()
    (directory / RESUME_FILE).unlink()
    return _write_manifest(
        directory,
        (),
        companions,
        records=records,
        passages=counts.passages,
        tiers={t.value: counts.tiers[t.value] for t in EvidenceTier if t.value in counts.tiers},
        model_name=model_name,
        dimension=dimension,
        chunking=chunking,
        bm25=bm25,
        dense=dense,
        storage=storage,
        build_id=build_id,
        parent_build_id=parent_build_id,
        started=started,
    )


def _retire_collections(
    manifest: Manifest, previous: Manifest | None, directory: Path, api_key: str | None
) -> None:
    """After a switch on a server: drop the index's collections but the new one and the one
    it replaced (a running server may still be searching that one)."""
    from index.qdrant import QdrantCollection

    config = manifest.storage.qdrant
    if config is None or config.local:
        return
    keep = set()
    if previous is not None and previous.storage == manifest.storage:
        keep.add(config.collection(previous.build_id))
    collection = QdrantCollection.open(config, manifest.build_id, directory, api_key=api_key)
    try:
        collection.retire_others(keep)
    finally:
        collection.close()


def _chunked(documents: Sequence[Document], chunking: ChunkingConfig) -> Batches:
    """:data:`~index.bulk.Batches` of the documents' passages, chunked as they are read."""
    from index.bulk import BATCH

    def batches() -> Iterator[list[Passage]]:
        batch: list[Passage] = []
        for document in documents:
            batch.extend(_chunk([document], chunking))
            while len(batch) >= BATCH:
                yield batch[:BATCH]
                batch = batch[BATCH:]
        if batch:
            yield batch

    return batches


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
    storage: StorageConfig | None = None,
    qdrant_api_key: str | None = None,
    resume: bool = False,
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
        storage: FAISS files (default) or a Qdrant collection (:mod:`index.storage`), which is
            streamed in batches (:mod:`index.bulk`).
        qdrant_api_key: the Qdrant server's key, if it needs one.
        resume: (Qdrant) continue the unfinished build of ``out`` left by an interrupted run,
            if there is one, without encoding or uploading its stored passages again.

    Returns:
        The manifest of the new index.

    Raises:
        ValueError: duplicate document ids, or no passages to index.
        FileExistsError: ``out`` is a non-empty directory that is not an index link.
        IndexLockedError: another process is writing ``out``.
        IndexUnavailableError: the Qdrant server cannot be reached.
    """
    from corpus.chunking import ChunkingConfig

    started = time.perf_counter()
    chunking = chunking if chunking is not None else ChunkingConfig()
    docs = _unique_documents(documents)
    layout = Layout(Path(out).absolute())
    storage = storage or StorageConfig()
    if storage.backend is StorageBackend.QDRANT:
        return _build_qdrant(
            docs,
            layout,
            embedder,
            chunking,
            dense=dense or DenseConfig(),
            bm25=bm25 or Bm25Settings(),
            storage=storage,
            api_key=qdrant_api_key,
            resume=resume,
            progress=progress,
            companions=companions,
            started=started,
        )

    def encoded() -> tuple[list[Passage], list[DocumentRecord], Vectors]:
        passages = _chunk(docs, chunking)
        if not passages:
            raise ValueError("the documents produced no passages")
        logger.info("encoding %d passages from %d documents", len(passages), len(docs))
        vectors = embedder.encode_documents([p.embedding_text for p in passages], progress=progress)
        return passages, _records(docs, passages), vectors

    return _publish_new(
        layout,
        encoded,
        model_name=embedder.model_name,
        chunking=chunking.to_dict(),
        bm25=bm25,
        dense=dense,
        companions=companions,
        started=started,
    )


def write_index(
    out: Path | str,
    passages: Sequence[Passage],
    documents: Sequence[DocumentRecord],
    vectors: Vectors,
    *,
    model_name: str,
    chunking: Mapping[str, Any],
    dense: DenseConfig | None = None,
    bm25: Bm25Settings | None = None,
    companions: Sequence[Companion] = (),
    previous: Path | None = None,
) -> Manifest:
    """Publish an index of passages already cut and vectors already encoded, as
    :func:`build_index` publishes one (FAISS storage).

    For passages that were not chunked here (benchmarks that make their corpus, conversions
    of another index): ``chunking`` is recorded as given, ``vectors[i]`` must be the
    ``model_name`` encoding of ``passages[i].embedding_text``, and ``documents`` must list
    every passage's document. ``previous`` is an index version whose companion files may be
    reused.

    Raises:
        ValueError: the counts disagree, a passage or document id repeats, or a passage's
            document is not listed.
        IndexLockedError: another process is writing ``out``.
    """
    return _publish_new(
        Layout(Path(out).absolute()),
        lambda: (passages, documents, vectors),
        model_name=model_name,
        chunking=chunking,
        bm25=bm25,
        dense=dense,
        companions=companions,
        started=time.perf_counter(),
        previous=previous,
    )


def _publish_new(
    layout: Layout,
    content: Callable[[], tuple[Sequence[Passage], Sequence[DocumentRecord], Vectors]],
    *,
    model_name: str,
    chunking: Mapping[str, Any],
    bm25: Bm25Settings | None,
    dense: DenseConfig | None,
    companions: Sequence[Companion],
    started: float,
    previous: Path | None = None,
) -> Manifest:
    """Publish a new index version (no parent) at ``layout``: ``content`` gives its passages,
    document records and vectors, and is called under the writer lock."""
    build_id = new_build_id()

    def write(directory: Path) -> Manifest:
        passages, records, vectors = content()
        return _write_version(
            directory,
            passages=passages,
            records=records,
            vectors=vectors,
            model_name=model_name,
            chunking=chunking,
            bm25=bm25 or Bm25Settings(),
            dense=dense or DenseConfig(),
            build_id=build_id,
            parent_build_id=None,
            started=started,
            companions=companions,
            previous=previous,
        )

    with writer_lock(layout):
        return publish(layout, build_id, write)


def _build_qdrant(
    docs: Sequence[Document],
    layout: Layout,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    dense: DenseConfig,
    bm25: Bm25Settings,
    storage: StorageConfig,
    api_key: str | None,
    resume: bool,
    progress: bool,
    companions: Sequence[Companion],
    started: float,
) -> Manifest:
    hashes = {d.id: document_content_hash(d) for d in docs}

    def encode(first_row: int, batch: Sequence[Passage]) -> Vectors:
        return embedder.encode_documents([p.embedding_text for p in batch])

    def records(per_document: Counter[str]) -> list[DocumentRecord]:
        return [DocumentRecord(d.id, hashes[d.id], per_document[d.id]) for d in docs]

    job = _QdrantJob(_chunked(docs, chunking), encode, hashes, records)
    with writer_lock(layout):
        build_id = (_unfinished_build(layout) if resume else None) or new_build_id()
        previous = _current_manifest(layout)

        def write(directory: Path) -> Manifest:
            return _write_qdrant_version(
                directory,
                job,
                storage=storage,
                api_key=api_key,
                resumable=True,
                model_name=embedder.model_name,
                dimension=embedder.dimension,
                chunking=chunking.to_dict(),
                bm25=bm25,
                dense=dense,
                build_id=build_id,
                parent_build_id=None,
                started=started,
                progress=progress,
                companions=companions,
            )

        manifest = publish(layout, build_id, write, resumable=True)
        _retire_collections(manifest, previous, layout.link, api_key)
        return manifest


def _unfinished_build(layout: Layout) -> str | None:
    """The build id of the newest interrupted Qdrant build of ``layout``, if any."""
    from index.bulk import RESUME_FILE

    partial = re.compile(rf"\.{re.escape(layout.name)}\.({BUILD_ID.pattern})\.partial")
    found = sorted(
        match.group(1)
        for path in layout.leftovers()
        if (match := partial.fullmatch(path.name)) and (path / RESUME_FILE).is_file()
    )
    if not found:
        logger.info("no unfinished build of %s to resume; starting a new one", layout.link)
    return found[-1] if found else None


def _current_manifest(layout: Layout) -> Manifest | None:
    current = layout.current()
    try:
        return Manifest.read(current) if current is not None else None
    except IndexLoadError:
        return None


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
    qdrant_api_key: str | None = None,
) -> Manifest:
    build_id = new_build_id()
    stored = list(current.passages)  # one pass over the records, not a read per row
    passages = [stored[int(row)] for row in keep_rows] + list(new_passages)
    manifest = current.manifest
    if manifest.storage.backend is StorageBackend.QDRANT:
        return _rewrite_qdrant(
            layout,
            current,
            build_id,
            passages,
            keep_rows,
            new_vectors,
            records,
            started,
            companions,
            qdrant_api_key,
        )
    vectors = np.concatenate([current.vectors(keep_rows), new_vectors]).astype(np.float32)

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


def _rewrite_qdrant(
    layout: Layout,
    current: PassageIndex,
    build_id: str,
    passages: Sequence[Passage],
    keep_rows: npt.NDArray[np.int64],
    new_vectors: Vectors,
    records: Sequence[DocumentRecord],
    started: float,
    companions: Sequence[Companion],
    api_key: str | None,
) -> Manifest:
    """A new collection from the current one's vectors (read a batch at a time) and the new
    passages' vectors."""
    from index.bulk import batched

    manifest = current.manifest
    kept = len(keep_rows)

    def encode(first_row: int, batch: Sequence[Passage]) -> Vectors:
        end = first_row + len(batch)
        old = current.vectors(keep_rows[first_row:end])
        new = new_vectors[max(0, first_row - kept) : max(0, end - kept)]
        return np.concatenate([old, new]).astype(np.float32)

    hashes = {r.id: r.content_hash for r in records}
    job = _QdrantJob(batched(passages), encode, hashes, lambda _: list(records))

    def write(directory: Path) -> Manifest:
        return _write_qdrant_version(
            directory,
            job,
            storage=manifest.storage,
            api_key=api_key,
            resumable=False,
            model_name=manifest.model_name,
            dimension=manifest.dimension,
            chunking=manifest.chunking,
            bm25=manifest.bm25,
            dense=manifest.dense,
            build_id=build_id,
            parent_build_id=manifest.build_id,
            started=started,
            progress=False,
            companions=companions,
            previous=current.directory,
        )

    written = publish(layout, build_id, write)
    _retire_collections(written, manifest, layout.link, api_key)
    return written


def add_documents(
    path: Path | str,
    documents: Iterable[Document],
    embedder: Embedder,
    *,
    progress: bool = False,
    companions: Sequence[Companion] = (),
    qdrant_api_key: str | None = None,
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
            layout.link,
            expected_model=embedder.model_name,
            expected_dimension=embedder.dimension,
            qdrant_api_key=qdrant_api_key,
        )
        try:
            return _add(
                layout, current, docs, embedder, progress, companions, qdrant_api_key, started
            )
        finally:
            current.close()


def _add(
    layout: Layout,
    current: PassageIndex,
    docs: Sequence[Document],
    embedder: Embedder,
    progress: bool,
    companions: Sequence[Companion],
    qdrant_api_key: str | None,
    started: float,
) -> UpdateReport:
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
        qdrant_api_key=qdrant_api_key,
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
    path: Path | str,
    document_ids: Iterable[str],
    *,
    companions: Sequence[Companion] = (),
    qdrant_api_key: str | None = None,
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
        current = PassageIndex.load(layout.link, qdrant_api_key=qdrant_api_key)
        try:
            return _remove(layout, current, wanted, companions, qdrant_api_key, started)
        finally:
            current.close()


def _remove(
    layout: Layout,
    current: PassageIndex,
    wanted: Sequence[str],
    companions: Sequence[Companion],
    qdrant_api_key: str | None,
    started: float,
) -> UpdateReport:
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
        qdrant_api_key=qdrant_api_key,
    )
    return UpdateReport(
        manifest,
        removed_documents=tuple(present),
        missing_documents=missing,
        removed_passages=len(current.passages) - len(keep_rows),
    )
