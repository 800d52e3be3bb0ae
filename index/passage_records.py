"""The passage and document records of an index version, found by row, id, document or topic.

:class:`PassageRecords` is what :class:`index.load.PassageIndex` asks of them. Two
implementations:

* :class:`SqliteRecords`: the file ``records.sqlite`` (format 3 of a FAISS index), read
  lazily. Only the passages a query touches are parsed, and the last
  :data:`PASSAGE_CACHE` of them are kept, so a million passages cost a few MB of memory
  instead of about 3 GB of Python objects. :func:`write_records` writes it.
* :class:`MemoryRecords`: every passage in a list (``passages.jsonl`` of format 1, and
  the payloads of a Qdrant collection), with the lookups built on first use.

The SQLite file holds two tables. ``passages``: ``row`` (its row in every store), ``id``,
``document`` (the document id), ``document_code`` (documents numbered in order of first
appearance among the rows, as the retriever numbers them), ``topic`` (:attr:`Passage.topic`
lower-cased, for sibling sections of a page) and ``record`` (the passage as JSON,
:func:`index.records.passage_to_dict`). ``documents``: ``position`` (the order of
``documents.jsonl``), ``id``, ``content_hash``, ``passages``. A version directory never
changes once published, so the file is opened read-only and immutable (no locking).

Example:
    >>> write_records(path, passages, documents)
    >>> records = SqliteRecords.open(path)
    >>> records.passages[0] == passages[0], records.row(passages[0].id)
    (True, 0)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, overload

import numpy as np
import numpy.typing as npt

from corpus.types import Passage
from index.errors import IndexCorruptError
from index.records import DocumentRecord, passage_from_dict, passage_to_dict

# Parsed passages kept in memory (about 3 KB each): the candidates of a few hundred queries,
# and every passage of a small index.
PASSAGE_CACHE = 8192

# Rows read per statement when a whole table is walked.
_BATCH = 2048

_SCHEMA = """
CREATE TABLE documents (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    passages INTEGER NOT NULL
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document TEXT NOT NULL,
    document_code INTEGER NOT NULL,
    topic TEXT NOT NULL,
    record TEXT NOT NULL
);
"""
# Made after the rows are in: one sort instead of a B-tree insert per row.
_INDEXES = """
CREATE INDEX passages_by_document ON passages (document);
CREATE INDEX passages_by_topic ON passages (topic);
"""


def topic_key(passage: Passage) -> str:
    """How passages are grouped into pages: :attr:`Passage.topic`, lower-cased."""
    return passage.topic.lower()


class PassageRecords(Protocol):
    """An index version's passages (row ``i`` of every store is ``passages[i]``) and documents."""

    @property
    def passages(self) -> Sequence[Passage]: ...

    @property
    def documents(self) -> Mapping[str, DocumentRecord]: ...

    def row(self, passage_id: str) -> int | None:
        """The row of a passage id, ``None`` if the index has no such passage."""
        ...

    def document_rows(self, document_id: str) -> list[int]:
        """The rows of a document's passages, in row order."""
        ...

    def topic_rows(self, topic: str) -> list[int]:
        """The rows of the passages whose :func:`topic_key` is ``topic``, in row order."""
        ...

    def document_codes(self) -> npt.NDArray[np.int64]:
        """An integer per row: rows of one document share it; documents are numbered in
        order of first appearance."""
        ...

    def close(self) -> None: ...


def _document_codes(document_ids: Iterable[str], count: int) -> npt.NDArray[np.int64]:
    codes: dict[str, int] = {}
    return np.fromiter((codes.setdefault(d, len(codes)) for d in document_ids), np.int64, count)


class MemoryRecords:
    """Every record in memory: the passages in a list, the lookups built when first asked."""

    def __init__(self, passages: list[Passage], documents: dict[str, DocumentRecord]) -> None:
        self._passages = passages
        self._documents = documents
        self._rows = {passage.id: row for row, passage in enumerate(passages)}
        if len(self._rows) != len(passages):
            raise ValueError("passage ids repeat")
        self._by_document: dict[str, list[int]] | None = None
        self._by_topic: dict[str, list[int]] | None = None
        self._codes: npt.NDArray[np.int64] | None = None

    @property
    def passages(self) -> Sequence[Passage]:
        return self._passages

    @property
    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._documents

    def row(self, passage_id: str) -> int | None:
        return self._rows.get(passage_id)

    def document_rows(self, document_id: str) -> list[int]:
        if self._by_document is None:
            groups = defaultdict(list)
            for row, passage in enumerate(self._passages):
                groups[passage.document_id].append(row)
            self._by_document = dict(groups)
        return list(self._by_document.get(document_id, ()))

    def topic_rows(self, topic: str) -> list[int]:
        if self._by_topic is None:
            groups = defaultdict(list)
            for row, passage in enumerate(self._passages):
                groups[topic_key(passage)].append(row)
            self._by_topic = dict(groups)
        return list(self._by_topic.get(topic, ()))

    def document_codes(self) -> npt.NDArray[np.int64]:
        if self._codes is None:
            ids = (p.document_id for p in self._passages)
            self._codes = _document_codes(ids, len(self._passages))
        return self._codes

    def close(self) -> None:
        pass


def write_records(
    path: Path, passages: Iterable[Passage], documents: Sequence[DocumentRecord]
) -> None:
    """Write ``records.sqlite``: ``passages`` in row order, ``documents`` in their order.

    The caller fsyncs and publishes the directory (:mod:`index.publish`), so SQLite keeps no
    journal while writing.

    Raises:
        ValueError: a passage id repeats, a document id repeats, or a passage's document is
            not among ``documents``.
    """
    known = {record.id for record in documents}
    codes: dict[str, int] = {}

    def rows() -> Iterator[tuple[int, str, str, int, str, str]]:
        for row, passage in enumerate(passages):
            if passage.document_id not in known:
                raise ValueError(
                    f"passage {passage.id} belongs to document {passage.document_id!r}, "
                    "which is not among the documents"
                )
            code = codes.setdefault(passage.document_id, len(codes))
            record = json.dumps(passage_to_dict(passage), ensure_ascii=False, separators=(",", ":"))
            yield row, passage.id, passage.document_id, code, topic_key(passage), record

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?)",
            ((i, r.id, r.content_hash, r.passages) for i, r in enumerate(documents)),
        )
        connection.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)", rows())
        connection.executescript(_INDEXES)
        connection.commit()
    except sqlite3.IntegrityError as error:
        raise ValueError(f"{path.name}: a passage or document id repeats ({error})") from error
    finally:
        connection.close()


class SqliteRecords:
    """``records.sqlite`` opened for reading; passages are parsed when asked for.

    Safe to share between threads (one connection, each statement under a lock). Once
    opened it keeps working after its directory is deleted (POSIX keeps the open file).

    Example:
        >>> records = SqliteRecords.open(directory / "records.sqlite")
        >>> [p.title for p in records.passages[:3]]
    """

    def __init__(self, connection: sqlite3.Connection, passages: int, path: Path) -> None:
        self._connection = connection
        self._count = passages
        self._path = path
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, Passage] = OrderedDict()
        self._codes: npt.NDArray[np.int64] | None = None
        self._passages = _LazyPassages(self)
        self._documents = _LazyDocuments(self)

    @classmethod
    def open(cls, path: Path) -> SqliteRecords:
        """Open the file read-only.

        Raises:
            IndexCorruptError: it is missing or not a records file.
        """
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing")
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            (count,) = connection.execute("SELECT count(*) FROM passages").fetchone()
            connection.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as error:
            connection.close()
            raise IndexCorruptError(f"{path}: {error}") from error
        return cls(connection, int(count), path)

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        try:
            with self._lock:
                return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            raise IndexCorruptError(f"{self._path}: {error}") from error

    @property
    def passages(self) -> Sequence[Passage]:
        return self._passages

    @property
    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._documents

    def __len__(self) -> int:
        return self._count

    @property
    def parsed(self) -> int:
        """How many passages are held parsed in memory (at most :data:`PASSAGE_CACHE`)."""
        return len(self._cache)

    def passage(self, row: int) -> Passage:
        """The passage at ``row`` (``0 <= row < len``)."""
        with self._lock:
            cached = self._cache.get(row)
            if cached is not None:
                self._cache.move_to_end(row)
                return cached
        found = self._query("SELECT record FROM passages WHERE row = ?", (row,))
        if not found:
            raise IndexError(f"row {row} is out of range ({self._count} passages)")
        return self._remember(row, str(found[0][0]))

    def _remember(self, row: int, record: str) -> Passage:
        """Parse a row's record and keep it (or the copy another thread kept first)."""
        passage = passage_from_dict(json.loads(record))
        with self._lock:
            passage = self._cache.setdefault(row, passage)
            self._cache.move_to_end(row)
            while len(self._cache) > PASSAGE_CACHE:
                self._cache.popitem(last=False)
        return passage

    def scan(self, start: int = 0, stop: int | None = None) -> Iterator[Passage]:
        """The passages of rows ``start`` to ``stop`` in order, read in batches (for the
        callers that walk every passage: verify, add, remove)."""
        stop = self._count if stop is None else min(stop, self._count)
        for first in range(start, stop, _BATCH):
            rows = self._query(
                "SELECT row, record FROM passages WHERE row >= ? AND row < ? ORDER BY row",
                (first, min(first + _BATCH, stop)),
            )
            for row, record in rows:
                yield self._remember(int(str(row)), str(record))

    def row(self, passage_id: str) -> int | None:
        found = self._query("SELECT row FROM passages WHERE id = ?", (passage_id,))
        return int(str(found[0][0])) if found else None

    def document_rows(self, document_id: str) -> list[int]:
        found = self._query(
            "SELECT row FROM passages WHERE document = ? ORDER BY row", (document_id,)
        )
        return [int(str(row)) for (row,) in found]

    def topic_rows(self, topic: str) -> list[int]:
        found = self._query("SELECT row FROM passages WHERE topic = ? ORDER BY row", (topic,))
        return [int(str(row)) for (row,) in found]

    def document_codes(self) -> npt.NDArray[np.int64]:
        if self._codes is None:
            found = self._query("SELECT document_code FROM passages ORDER BY row")
            self._codes = np.fromiter((int(str(c)) for (c,) in found), np.int64, len(found))
        return self._codes

    def document(self, document_id: str) -> DocumentRecord | None:
        found = self._query(
            "SELECT content_hash, passages FROM documents WHERE id = ?", (document_id,)
        )
        if not found:
            return None
        content_hash, passages = found[0]
        return DocumentRecord(document_id, str(content_hash), int(str(passages)))

    def document_count(self) -> int:
        return int(str(self._query("SELECT count(*) FROM documents")[0][0]))

    def document_records(self) -> Iterator[DocumentRecord]:
        """Every document in its order, read in batches."""
        last = -1
        while True:
            rows = self._query(
                "SELECT position, id, content_hash, passages FROM documents "
                "WHERE position > ? ORDER BY position LIMIT ?",
                (last, _BATCH),
            )
            if not rows:
                return
            for position, document_id, content_hash, passages in rows:
                yield DocumentRecord(str(document_id), str(content_hash), int(str(passages)))
                last = int(str(position))

    def close(self) -> None:
        self._connection.close()


class _LazyPassages(Sequence[Passage]):
    """The passages of a :class:`SqliteRecords` as a sequence, parsed when indexed."""

    def __init__(self, records: SqliteRecords) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> Passage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Passage]: ...

    def __getitem__(self, index: int | slice) -> Passage | Sequence[Passage]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return list(self._records.scan(start, stop))
            return [self._records.passage(row) for row in range(start, stop, step)]
        row = index + len(self) if index < 0 else index
        if not 0 <= row < len(self):
            raise IndexError(f"row {index} is out of range ({len(self)} passages)")
        return self._records.passage(row)

    def __iter__(self) -> Iterator[Passage]:
        return self._records.scan()

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same passages (a list, or another index's)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable like them


class _LazyDocuments(Mapping[str, DocumentRecord]):
    """The documents of a :class:`SqliteRecords` by id, read when asked for."""

    def __init__(self, records: SqliteRecords) -> None:
        self._records = records

    def __getitem__(self, document_id: str) -> DocumentRecord:
        record = self._records.document(document_id)
        if record is None:
            raise KeyError(document_id)
        return record

    def __contains__(self, document_id: object) -> bool:
        return isinstance(document_id, str) and self._records.document(document_id) is not None

    def __iter__(self) -> Iterator[str]:
        return (record.id for record in self._records.document_records())

    def __len__(self) -> int:
        return self._records.document_count()
