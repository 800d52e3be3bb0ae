"""The passage index on disk: passages, vectors, FAISS, BM25 and a manifest, updated atomically.

Layout. The path a user names (``DIR``) is a symbolic link to a sibling version directory
``DIR.<build id>``::

    var/demo-index -> demo-index.20250101T120000Z-1a2b3c4d
    var/demo-index.20250101T120000Z-1a2b3c4d/
        manifest.json      format/package versions, model, chunking, BM25, counts, file checksums
        passages.jsonl     one Passage per line; line i is row i of every store
        documents.jsonl    one {id, content_hash, passages} per indexed document
        vectors.npy        float32 (passages, dimension), L2-normalised
        dense.faiss        IndexFlatIP or IndexHNSWFlat over vectors.npy
        bm25/              bm25s arrays (.npy) and vocabulary/parameters (.json)

Atomic builds. Every build, ``add`` and ``remove`` writes a complete new version into a hidden
``.DIR.<build id>.partial`` directory, fsyncs every file and the directory, renames it to
``DIR.<build id>``, then points ``DIR`` at it by creating a temporary symlink and
``os.replace``-ing it over ``DIR`` (a single ``rename(2)``, which is atomic). A process killed at
any moment leaves ``DIR`` pointing at the previous, complete version; the next build removes
the leftovers. Writers take an exclusive ``flock`` on ``.DIR.lock`` (released by the kernel when
a writer dies).

The window. After the switch the writer deletes the previous version. A reader that resolved
``DIR`` just before the switch and opens its files after that deletion would find them gone, so
:meth:`PassageIndex.load` resolves ``DIR`` once, reads everything from that one version, and if
a file vanished and ``DIR`` now points elsewhere, loads again from the new version. Once loaded,
an index keeps working after its directory is deleted (open and memory-mapped files survive
unlinking on POSIX).

Example:
    >>> embedder = SentenceTransformerEmbedder.load()
    >>> build_index(load_corpus(DEMO_CORPUS).documents, Path("var/demo-index"), embedder)
    >>> index = PassageIndex.load(Path("var/demo-index"), expected_model=embedder.model_name)
    >>> hits = index.dense.search(embedder.encode_queries(["low ferritin"]), k=5)
    >>> [index.passages[row].title for row in hits.rows]
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from corpus.types import Document, EvidenceTier, Passage
from index.dense import DenseConfig, DenseKind, FaissDenseStore, exact_search
from index.errors import (
    IndexCorruptError,
    IndexLoadError,
    IndexModelMismatchError,
    IndexNotFoundError,
)
from index.lexical import BM25_FILES, Bm25LexicalStore, Bm25Settings
from index.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    FileEntry,
    Manifest,
    corpus_fingerprint,
    package_version,
    sha256_file,
)
from index.types import Companion, Embedder, Vectors

if TYPE_CHECKING:
    from corpus.chunking import ChunkingConfig

logger = logging.getLogger(__name__)

PASSAGES_FILE = "passages.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
VECTORS_FILE = "vectors.npy"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
DATA_FILES = (
    PASSAGES_FILE,
    DOCUMENTS_FILE,
    VECTORS_FILE,
    DENSE_FILE,
    *(f"{BM25_DIR}/{name}" for name in BM25_FILES),
)

_BUILD_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
# Loads retried when DIR was switched to a new version while it was being read.
_LOAD_ATTEMPTS = 3
# Stored vectors sampled as queries by verify(); enough for a recall estimate within ~1%.
VERIFY_QUERIES = 1000
VERIFY_K = 10


class IndexLockedError(RuntimeError):
    """Another process is building or updating the same index directory."""


# --------------------------------------------------------------------------- documents, passages


def document_content_hash(document: Document) -> str:
    """SHA-256 of everything in a document that its passages carry.

    Text, title and sections decide the passages and their embedding text; the evidence fields
    (tier, source, year, ...) are copied into each passage. A change to any of them means the
    document's passages must be replaced on ``add``.
    """
    record = {
        "id": document.id,
        "title": document.title,
        "text": document.text,
        "tier": document.tier.value,
        "source": document.source,
        "licence": document.licence,
        "dataset": document.dataset,
        "year": document.year,
        "url": document.url,
        "mesh": list(document.mesh),
        "sections": [[s.heading, s.start, s.end] for s in document.sections],
    }
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    data = asdict(passage)
    data["tier"] = passage.tier.value
    data["mesh"] = list(passage.mesh)
    return data


def passage_from_dict(data: Mapping[str, Any]) -> Passage:
    values = dict(data)
    values["tier"] = EvidenceTier(values["tier"])
    values["mesh"] = tuple(values.get("mesh") or ())
    return Passage(**values)


@dataclass(frozen=True)
class DocumentRecord:
    """What the index remembers about one document: its content hash and passage count."""

    id: str
    content_hash: str
    passages: int


def _tier_counts(passages: Iterable[Passage]) -> dict[str, int]:
    counts = Counter(passage.tier for passage in passages)
    return {tier.value: counts[tier] for tier in EvidenceTier if counts[tier]}


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


# --------------------------------------------------------------------------- durable writes


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    """fsync every file, then every directory bottom-up, so renames publish durable data."""
    for root, _dirs, files in os.walk(directory, topdown=False):
        for name in files:
            _fsync_path(Path(root) / name)
        _fsync_path(Path(root))


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")


def _new_build_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class _Layout:
    """Names of the link, its versions, partial builds and the lock, all siblings of ``DIR``."""

    link: Path

    @property
    def parent(self) -> Path:
        return self.link.parent

    @property
    def name(self) -> str:
        return self.link.name

    def version(self, build_id: str) -> Path:
        return self.parent / f"{self.name}.{build_id}"

    def partial(self, build_id: str) -> Path:
        return self.parent / f".{self.name}.{build_id}.partial"

    def temp_link(self, build_id: str) -> Path:
        return self.parent / f".{self.name}.{build_id}.link"

    @property
    def lock(self) -> Path:
        return self.parent / f".{self.name}.lock"

    def current(self) -> Path | None:
        """The version directory ``DIR`` points to, or None if there is none yet."""
        if not self.link.is_symlink():
            return None
        return self.parent / os.readlink(self.link)

    def leftovers(self) -> list[Path]:
        """Partial builds, temporary links and versions that ``DIR`` no longer points to."""
        current = self.current()
        patterns = {
            re.compile(rf"\.{re.escape(self.name)}\.({_BUILD_ID.pattern})\.(partial|link)"),
            re.compile(rf"{re.escape(self.name)}\.({_BUILD_ID.pattern})"),
        }
        found = []
        for entry in self.parent.iterdir():
            if any(p.fullmatch(entry.name) for p in patterns) and entry != current:
                found.append(entry)
        return sorted(found)


@contextlib.contextmanager
def _writer_lock(layout: _Layout) -> Iterator[None]:
    layout.parent.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"another process is writing {layout.link} (lock {layout.lock})"
                ) from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _clean_leftovers(layout: _Layout) -> None:
    for path in layout.leftovers():
        logger.info("removing leftover %s", path)
        _remove(path)


def _check_link_target(layout: _Layout) -> None:
    link = layout.link
    if link.is_symlink() or not link.exists():
        return
    if link.is_dir() and not any(link.iterdir()):
        link.rmdir()  # an empty directory (say, made by mkdir -p) can become the link
        return
    raise FileExistsError(
        f"{link} exists and is not an index link made by `followup index build`; "
        "remove it or choose another --out"
    )


def _publish(layout: _Layout, build_id: str, write: Callable[[Path], Manifest]) -> Manifest:
    """Write a version with ``write(partial_dir)``, then switch ``DIR`` to it atomically.

    Must be called with the writer lock held.
    """
    _check_link_target(layout)
    _clean_leftovers(layout)
    previous = layout.current()
    partial = layout.partial(build_id)
    partial.mkdir(parents=True)
    version = layout.version(build_id)
    try:
        manifest = write(partial)
        _fsync_tree(partial)
        os.rename(partial, version)
    except BaseException:
        _remove(partial)  # a killed process cannot get here; the next writer cleans up then
        raise
    _fsync_path(layout.parent)
    temp_link = layout.temp_link(build_id)
    temp_link.symlink_to(version.name)  # relative: the parent folder can move as a whole
    os.replace(temp_link, layout.link)  # the atomic switch
    _fsync_path(layout.parent)
    logger.info("%s now points to %s", layout.link, version.name)
    if previous is not None and previous != version:
        _remove(previous)
    return manifest


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
    _write_jsonl(directory / PASSAGES_FILE, (passage_to_dict(p) for p in passages))
    _write_jsonl(directory / DOCUMENTS_FILE, (asdict(r) for r in records))
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
        tiers=_tier_counts(passages),
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


# --------------------------------------------------------------------------- build, add, remove


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
    layout = _Layout(Path(out).absolute())
    build_id = _new_build_id()

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

    with _writer_lock(layout):
        return _publish(layout, build_id, write)


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
    layout: _Layout,
    current: PassageIndex,
    *,
    keep_rows: npt.NDArray[np.int64],
    new_passages: Sequence[Passage],
    new_vectors: Vectors,
    records: Sequence[DocumentRecord],
    started: float,
    companions: Sequence[Companion],
) -> Manifest:
    build_id = _new_build_id()
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

    return _publish(layout, build_id, write)


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
    layout = _Layout(Path(path).absolute())
    docs = _unique_documents(documents)
    with _writer_lock(layout):
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
    layout = _Layout(Path(path).absolute())
    wanted = list(dict.fromkeys(document_ids))
    with _writer_lock(layout):
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


# --------------------------------------------------------------------------- loading


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _check_files(directory: Path, manifest: Manifest, *, checksums: bool) -> None:
    missing = [name for name in DATA_FILES if name not in manifest.files]
    if missing:
        raise IndexCorruptError(f"manifest of {directory} does not list {', '.join(missing)}")
    for name, entry in manifest.files.items():
        path = directory / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexCorruptError(f"{path} is missing") from None
        if size != entry.size:
            raise IndexCorruptError(f"{path} has {size} bytes; the manifest says {entry.size}")
        if checksums and sha256_file(path) != entry.sha256:
            raise IndexCorruptError(f"{path} does not match its SHA-256 in the manifest")


class PassageIndex:
    """An index directory opened for search: passages, dense and lexical stores, vectors.

    Row ``i`` of :attr:`dense`, :attr:`lexical` and :meth:`vectors` is ``passages[i]``.
    Construct with :meth:`load`.

    Example:
        >>> index = PassageIndex.load(Path("var/demo-index"), expected_model=embedder.model_name)
        >>> hits = index.lexical.search("ferritin B12", k=3)
        >>> [index.passages[row].id for row in hits.rows]
        >>> index.get(index.passages[0].id) is index.passages[0]
        True
    """

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        passages: list[Passage],
        documents: dict[str, DocumentRecord],
        dense: FaissDenseStore,
        lexical: Bm25LexicalStore,
        vectors: Vectors,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.passages = passages
        self.documents = documents
        self.dense = dense
        self.lexical = lexical
        self._vectors = vectors
        self._rows = {passage.id: row for row, passage in enumerate(passages)}
        if len(self._rows) != len(passages):
            raise IndexCorruptError(f"{directory / PASSAGES_FILE} repeats passage ids")

    @classmethod
    def load(
        cls,
        path: Path | str,
        expected_model: str | None = None,
        expected_dimension: int | None = None,
        *,
        verify_checksums: bool = False,
    ) -> PassageIndex:
        """Open an index, checking its manifest, files and counts.

        Vectors, FAISS codes and BM25 arrays are memory-mapped, so loading costs little more
        than parsing the passages. File sizes are always checked; SHA-256 checksums only with
        ``verify_checksums`` (``followup index verify`` always checks them).

        Args:
            path: the index link made by :func:`build_index`, or a version directory.
            expected_model: the embedding model the caller will encode queries with.
            expected_dimension: that model's dimension.
            verify_checksums: also hash every file.

        Raises:
            IndexNotFoundError: nothing exists at ``path``.
            IndexModelMismatchError: the index was built with another model or dimension.
            IndexCorruptError: a file is missing, truncated, damaged or inconsistent.
            IndexFormatError: the index was written by a newer format version.
        """
        link = Path(path)
        if not link.exists():
            raise IndexNotFoundError(
                f"no index at {link}; build one with `followup index build --out {link}`"
            )
        for attempt in range(_LOAD_ATTEMPTS):
            directory = link.resolve()
            try:
                return cls._load_version(
                    directory, expected_model, expected_dimension, verify_checksums
                )
            except IndexCorruptError:
                # DIR was switched to a newer version (and the old one deleted) mid-read.
                if attempt + 1 < _LOAD_ATTEMPTS and link.resolve() != directory:
                    logger.info("%s changed while loading; loading the new version", link)
                    continue
                raise
        raise AssertionError("unreachable")

    @classmethod
    def _load_version(
        cls,
        directory: Path,
        expected_model: str | None,
        expected_dimension: int | None,
        verify_checksums: bool,
    ) -> PassageIndex:
        if not directory.is_dir():
            raise IndexCorruptError(f"{directory} is not an index directory")
        manifest = Manifest.read(directory)
        if expected_model is not None and manifest.model_name != expected_model:
            raise IndexModelMismatchError(
                f"{directory} was built with model {manifest.model_name!r}, "
                f"not {expected_model!r}; rebuild it with `followup index build`"
            )
        if expected_dimension is not None and manifest.dimension != expected_dimension:
            raise IndexModelMismatchError(
                f"{directory} holds {manifest.dimension}-dimensional vectors, "
                f"the model makes {expected_dimension}"
            )
        _check_files(directory, manifest, checksums=verify_checksums)
        try:
            vectors = np.load(directory / VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise IndexCorruptError(f"{directory / VECTORS_FILE}: {error}") from error
        if vectors.dtype != np.float32 or vectors.shape != (manifest.passages, manifest.dimension):
            raise IndexCorruptError(
                f"{directory / VECTORS_FILE} is {vectors.dtype} {vectors.shape}, expected "
                f"float32 ({manifest.passages}, {manifest.dimension})"
            )
        try:
            dense = FaissDenseStore.load(directory / DENSE_FILE, manifest.dense)
        except RuntimeError as error:  # FAISS reports unreadable files as RuntimeError
            raise IndexCorruptError(f"{directory / DENSE_FILE}: {error}") from error
        if dense.ntotal != manifest.passages or dense.dimension != manifest.dimension:
            raise IndexCorruptError(
                f"{directory / DENSE_FILE} holds {dense.ntotal} x {dense.dimension}, expected "
                f"{manifest.passages} x {manifest.dimension}"
            )
        try:
            lexical = Bm25LexicalStore.load(directory / BM25_DIR, manifest.bm25)
        except (ValueError, OSError, KeyError) as error:
            raise IndexCorruptError(f"{directory / BM25_DIR}: {error}") from error
        if lexical.num_docs != manifest.passages:
            raise IndexCorruptError(
                f"{directory / BM25_DIR} scores {lexical.num_docs} passages, "
                f"expected {manifest.passages}"
            )
        try:
            passages = [passage_from_dict(row) for row in _read_jsonl(directory / PASSAGES_FILE)]
            documents = {
                str(row["id"]): DocumentRecord(
                    str(row["id"]), str(row["content_hash"]), int(row["passages"])
                )
                for row in _read_jsonl(directory / DOCUMENTS_FILE)
            }
        except (ValueError, TypeError, KeyError) as error:
            raise IndexCorruptError(
                f"{directory}: unreadable passages or documents: {error}"
            ) from error
        if len(passages) != manifest.passages or len(documents) != manifest.documents:
            raise IndexCorruptError(
                f"{directory} lists {len(passages)} passages of {len(documents)} documents; "
                f"the manifest says {manifest.passages} of {manifest.documents}"
            )
        return cls(directory, manifest, passages, documents, dense, lexical, vectors)

    def __len__(self) -> int:
        return len(self.passages)

    def get(self, passage_id: str) -> Passage | None:
        row = self._rows.get(passage_id)
        return None if row is None else self.passages[row]

    def row(self, passage_id: str) -> int | None:
        return self._rows.get(passage_id)

    def vectors(self, rows: npt.ArrayLike | None = None) -> Vectors:
        """Stored float32 vectors of ``rows`` (all rows when None), as an in-memory copy."""
        if rows is None:
            return np.array(self._vectors, dtype=np.float32)
        index = np.asarray(rows, dtype=np.int64)
        return np.array(self._vectors[index], dtype=np.float32)

    def check_embedder(self, embedder: Embedder) -> None:
        """Raise :class:`IndexModelMismatchError` unless ``embedder`` built this index."""
        if (embedder.model_name, embedder.dimension) != (
            self.manifest.model_name,
            self.manifest.dimension,
        ):
            raise IndexModelMismatchError(
                f"index built with {self.manifest.model_name!r} ({self.manifest.dimension}d), "
                f"embedder is {embedder.model_name!r} ({embedder.dimension}d): query it with "
                "the encoder it was built with (embedder.backend 'auto'), or rebuild it"
            )


# --------------------------------------------------------------------------- verify


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
        _check_files(directory, manifest, checksums=True)
        checks.append(Check("checksums", True, f"{len(manifest.files)} files match the manifest"))
        index = PassageIndex._load_version(directory, None, None, verify_checksums=False)
    except IndexLoadError as error:
        checks.append(Check("load", False, str(error)))
        return VerifyReport(directory, tuple(checks))

    n = len(index.passages)
    counts = {
        "manifest": manifest.passages,
        "passages": n,
        "vectors": int(index._vectors.shape[0]),
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
    tiers = _tier_counts(index.passages)
    checks.append(Check("tiers", tiers == dict(manifest.tiers), json.dumps(tiers)))
    fingerprint = corpus_fingerprint((r.id, r.content_hash) for r in index.documents.values())
    checks.append(
        Check("fingerprint", fingerprint == manifest.corpus_fingerprint, fingerprint[:16])
    )
    vectors = index.vectors()
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
