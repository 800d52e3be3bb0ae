"""An index directory opened for search: :class:`PassageIndex`, whatever its storage backend.

A FAISS index is read from the files of its version directory (memory-mapped); a Qdrant index
(:mod:`index.qdrant`) from its collection, whose payloads hold the passages. Either way the
result is the same object with the same rows, so nothing above the index layer knows which.

Loading and a concurrent writer. After switching ``DIR`` to a new version the writer deletes
the previous one (:mod:`index.publish`). A reader that resolved ``DIR`` just before the switch
and opens its files after that deletion would find them gone, so :meth:`PassageIndex.load`
resolves ``DIR`` once, reads everything from that one version, and if a file vanished and
``DIR`` now points elsewhere, loads again from the new version. Once loaded, an index keeps
working after its directory is deleted (open and memory-mapped files survive unlinking on
POSIX).

Example:
    >>> embedder = SentenceTransformerEmbedder.load()
    >>> build_index(load_corpus(DEMO_CORPUS).documents, Path("var/demo-index"), embedder)
    >>> index = PassageIndex.load(Path("var/demo-index"), expected_model=embedder.model_name)
    >>> hits = index.dense.search(embedder.encode_queries(["low ferritin"]), k=5)
    >>> [index.passages[row].title for row in hits.rows]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from corpus.types import Passage
from index.dense import FaissDenseStore
from index.errors import (
    IndexCorruptError,
    IndexFormatError,
    IndexLoadError,
    IndexModelMismatchError,
    IndexNotFoundError,
)
from index.layout import (
    BM25_DIR,
    DENSE_FILE,
    DOCUMENTS_FILE,
    FAISS_DATA_FILES,
    PASSAGES_FILE,
    RECORDS_FILE,
    VECTORS_FILE,
)
from index.lexical import Bm25LexicalStore
from index.manifest import Manifest, sha256_file
from index.passage_records import MemoryRecords, PassageRecords, SqliteRecords
from index.records import DocumentRecord, passage_from_dict, read_jsonl
from index.storage import StorageBackend
from index.types import DenseStore, Embedder, FusedStore, LexicalStore, Vectors

logger = logging.getLogger(__name__)

# Loads retried when DIR was switched to a new version while it was being read.
_LOAD_ATTEMPTS = 3

# Stored vectors of some rows (all rows for None), as an in-memory float32 copy.
RowVectors = Callable[[npt.NDArray[np.int64] | None], Vectors]


def check_files(directory: Path, manifest: Manifest, *, checksums: bool) -> None:
    """Raise :class:`IndexCorruptError` unless every file the manifest lists has its size (and,
    with ``checksums``, its SHA-256)."""
    required: tuple[str, ...] = ()
    if manifest.storage.backend is StorageBackend.FAISS:
        if manifest.format_version not in FAISS_DATA_FILES:
            raise IndexFormatError(
                f"{directory} is a FAISS index of format {manifest.format_version}, which no "
                "version of followup writes; rebuild it with `followup index build`"
            )
        required = FAISS_DATA_FILES[manifest.format_version]
    missing = [name for name in required if name not in manifest.files]
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
    Construct with :meth:`load`. A Qdrant index also offers :attr:`fused` (server-side
    fusion); :meth:`close` releases its collection (a local one admits one process).

    The passages of a current FAISS index stay on disk (:mod:`index.passage_records`):
    :attr:`passages` is a sequence that reads a row when it is indexed, and the lookups by
    id, document and topic read only what they return. Walking every passage works, but
    reads them all.

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
        records: PassageRecords,
        dense: DenseStore,
        lexical: LexicalStore,
        vectors: RowVectors,
        *,
        fused: FusedStore | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.dense = dense
        self.lexical = lexical
        self.fused = fused
        self._records = records
        self._vectors = vectors
        self._close = close

    @property
    def passages(self) -> Sequence[Passage]:
        return self._records.passages

    @property
    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._records.documents

    def close(self) -> None:
        """Release the storage (the records file; a Qdrant client): searching afterwards
        fails."""
        self._records.close()
        if self._close is not None:
            self._close()
            self._close = None

    @classmethod
    def load(
        cls,
        path: Path | str,
        expected_model: str | None = None,
        expected_dimension: int | None = None,
        *,
        verify_checksums: bool = False,
        qdrant_api_key: str | None = None,
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
            qdrant_api_key: the key of the Qdrant server a Qdrant index lives on, if it
                needs one.

        Raises:
            IndexNotFoundError: nothing exists at ``path``.
            IndexModelMismatchError: the index was built with another model or dimension.
            IndexCorruptError: a file is missing, truncated, damaged or inconsistent.
            IndexFormatError: the index was written by a newer format version.
            IndexUnavailableError: its Qdrant collection cannot be opened.
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
                    directory, expected_model, expected_dimension, verify_checksums, qdrant_api_key
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
        qdrant_api_key: str | None = None,
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
        check_files(directory, manifest, checksums=verify_checksums)
        if manifest.storage.backend is StorageBackend.QDRANT:
            return _open_qdrant(directory, manifest, qdrant_api_key)
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
        records = _READ_RECORDS[manifest.format_version](directory)
        passages, documents = len(records.passages), len(records.documents)
        if passages != manifest.passages or documents != manifest.documents:
            records.close()
            raise IndexCorruptError(
                f"{directory} lists {passages} passages of {documents} documents; "
                f"the manifest says {manifest.passages} of {manifest.documents}"
            )
        return cls(directory, manifest, records, dense, lexical, _memmap_rows(vectors))

    def __len__(self) -> int:
        return len(self.passages)

    def get(self, passage_id: str) -> Passage | None:
        row = self._records.row(passage_id)
        return None if row is None else self.passages[row]

    def row(self, passage_id: str) -> int | None:
        return self._records.row(passage_id)

    def document_passages(self, document_id: str) -> list[Passage]:
        """A document's passages, in row order (empty for an unknown document)."""
        return [self.passages[row] for row in self._records.document_rows(document_id)]

    def topic_passages(self, topic: str) -> list[Passage]:
        """The passages whose :attr:`~corpus.types.Passage.topic`, lower-cased, is ``topic``
        (the sections of one page), in row order."""
        return [self.passages[row] for row in self._records.topic_rows(topic)]

    def document_codes(self) -> npt.NDArray[np.int64]:
        """An integer per row, shared by the rows of one document (documents numbered in
        order of first appearance)."""
        return self._records.document_codes()

    def vectors(self, rows: npt.ArrayLike | None = None) -> Vectors:
        """Stored float32 vectors of ``rows`` (all rows when None), as an in-memory copy."""
        return self._vectors(None if rows is None else np.asarray(rows, dtype=np.int64))

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


def _jsonl_records(directory: Path) -> PassageRecords:
    """Format 1: ``passages.jsonl`` and ``documents.jsonl``, read whole into memory."""
    try:
        passages = [passage_from_dict(row) for row in read_jsonl(directory / PASSAGES_FILE)]
        documents = {
            str(row["id"]): DocumentRecord(
                str(row["id"]), str(row["content_hash"]), int(row["passages"])
            )
            for row in read_jsonl(directory / DOCUMENTS_FILE)
        }
        return MemoryRecords(passages, documents)
    except (ValueError, TypeError, KeyError) as error:
        raise IndexCorruptError(
            f"{directory}: unreadable passages or documents: {error}"
        ) from error


def _sqlite_records(directory: Path) -> PassageRecords:
    """Format 3: ``records.sqlite``, read lazily."""
    return SqliteRecords.open(directory / RECORDS_FILE)


# How each FAISS format version keeps its records (index.layout.FAISS_DATA_FILES).
_READ_RECORDS: dict[int, Callable[[Path], PassageRecords]] = {
    1: _jsonl_records,
    3: _sqlite_records,
}


def _memmap_rows(vectors: Vectors) -> RowVectors:
    def take(rows: npt.NDArray[np.int64] | None) -> Vectors:
        return np.array(vectors if rows is None else vectors[rows], dtype=np.float32)

    return take


def _open_qdrant(directory: Path, manifest: Manifest, api_key: str | None) -> PassageIndex:
    """A Qdrant index: the collection's payloads give the passages and documents."""
    try:
        from index.qdrant import QdrantCollection, open_stores
    except ImportError as error:
        raise IndexLoadError(
            f"{directory} is a Qdrant index; install qdrant-client (pip install "
            "'followup[qdrant]') to open it"
        ) from error
    config = manifest.storage.qdrant
    assert config is not None  # StorageConfig ties the two together
    collection = QdrantCollection.open(config, manifest.build_id, directory, api_key=api_key)
    try:
        opened = open_stores(collection, manifest.bm25)
        if len(opened.passages) != manifest.passages or len(opened.documents) != manifest.documents:
            raise IndexCorruptError(
                f"collection {collection.name} holds {len(opened.passages)} passages of "
                f"{len(opened.documents)} documents; the manifest of {directory} says "
                f"{manifest.passages} of {manifest.documents}"
            )
        try:
            records = MemoryRecords(opened.passages, opened.documents)
        except ValueError as error:
            raise IndexCorruptError(f"collection {collection.name}: {error}") from error
    except BaseException:
        collection.close()
        raise
    return PassageIndex(
        directory,
        manifest,
        records,
        opened.dense,
        opened.lexical,
        opened.vectors,
        fused=opened.fused,
        close=collection.close,
    )
