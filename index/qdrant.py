"""The Qdrant backend: dense vectors, BM25 sparse vectors and passage payloads in one collection.

Each index version has its own collection (``QdrantConfig.collection(build_id)``), whose point
``i`` is row ``i`` of the index: the passage's vector as ``dense`` (inner product over L2-normalised
vectors, so the cosine, as FAISS), its BM25 vector as ``bm25`` (:mod:`index.sparse`), and the
passage itself as payload, with ``source_key`` (the publisher as filters compare it) and
``document_hash`` (its document's content hash, what ``add`` compares). Filters on tier,
publisher and year run in Qdrant (:func:`qdrant_filter`), as payload conditions, so a narrow
filter still fills ``k``.

``QdrantClient(path=...)`` (local mode) keeps the collection inside the index version directory
and needs no server; it searches exactly, in this process, and lets one process open a
collection at a time. With a URL the collection lives on a server or cluster and the index
directory holds only the manifest; the passages are read back from the payloads when the index
is opened.

Example:
    >>> collection = QdrantCollection.open(config, version_dir)
    >>> dense = QdrantDenseStore(collection, config)
    >>> dense.search(embedder.encode_queries(["low ferritin"]), k=5, where=PassageFilter(
    ...     year_from=2010)).rows
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient, models

from corpus.types import Passage
from index.errors import IndexCorruptError, IndexUnavailableError
from index.layout import BUILD_ID
from index.lexical import Bm25Settings, Bm25Tokenizer
from index.records import DocumentRecord, passage_from_dict, passage_to_dict
from index.sparse import SparseTerms, query_vector, term_index
from index.storage import QdrantConfig, Quantization, SparseWeights
from index.types import Hits, PassageFilter, Vectors, source_key

logger = logging.getLogger(__name__)

QDRANT_DIR = "qdrant"  # local mode: the collection's storage, inside the version directory
DENSE = "dense"
SPARSE = "bm25"
# Payload fields beside the passage's own.
SOURCE_KEY = "source_key"
DOCUMENT_HASH = "document_hash"
# Points per scroll page and per retrieve call.
PAGE = 512

_EMPTY = Hits(np.zeros(0, np.int64), np.zeros(0, np.float32))


def qdrant_filter(where: PassageFilter | None) -> models.Filter | None:
    """A :class:`~index.types.PassageFilter` as Qdrant payload conditions.

    An undated passage has ``year: null``, which no range matches: it fails any year bound,
    as :meth:`PassageFilter.admits` says.
    """
    if where is None:
        return None
    must: list[models.Condition] = []
    if where.tiers is not None:
        tiers = sorted(tier.value for tier in where.tiers)
        must.append(models.FieldCondition(key="tier", match=models.MatchAny(any=tiers)))
    if where.sources is not None:
        sources = sorted(where.sources)
        must.append(models.FieldCondition(key=SOURCE_KEY, match=models.MatchAny(any=sources)))
    if where.year_from is not None or where.year_to is not None:
        bounds = models.Range(gte=where.year_from, lte=where.year_to)
        must.append(models.FieldCondition(key="year", range=bounds))
    return models.Filter(must=must) if must else None


def _admits_nothing(where: PassageFilter | None) -> bool:
    # MatchAny needs at least one value: an empty choice is answered here.
    return where is not None and (where.tiers == frozenset() or where.sources == frozenset())


def payload_of(passage: Passage, document_hash: str) -> dict[str, Any]:
    """The point payload of a passage (its JSON row plus the two fields filters and ``add``
    use)."""
    return {
        **passage_to_dict(passage),
        SOURCE_KEY: source_key(passage.source),
        DOCUMENT_HASH: document_hash,
    }


def passage_of(payload: Mapping[str, Any]) -> Passage:
    return passage_from_dict({k: v for k, v in payload.items() if k not in _EXTRA_FIELDS})


_EXTRA_FIELDS = frozenset({SOURCE_KEY, DOCUMENT_HASH})


def _hits(points: Sequence[models.ScoredPoint], *, positive: bool = False) -> Hits:
    """Rows and scores, best first, ties by lower row (as the FAISS and bm25s stores)."""
    rows = np.fromiter((int(p.id) for p in points), np.int64, len(points))
    scores = np.fromiter((p.score for p in points), np.float32, len(points))
    if positive:  # a BM25 weight of 0 (Robertson's idf) matches nothing, as in bm25s
        keep = scores > 0
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))
    return Hits(rows[order], scores[order])


class QdrantCollection:
    """A client and the collection of one index version: everything the backend asks Qdrant.

    Example:
        >>> collection = QdrantCollection.open(config, version_dir)
        >>> collection.count()
        996
    """

    def __init__(self, client: QdrantClient, config: QdrantConfig, name: str) -> None:
        self._client = client
        self._config = config
        self.name = name

    @classmethod
    def open(
        cls, config: QdrantConfig, build_id: str, directory: Path, *, api_key: str | None = None
    ) -> QdrantCollection:
        """The collection of version ``build_id``: local mode under ``directory``, else on its
        server.

        Raises:
            IndexUnavailableError: another process holds the local collection, or the server
                cannot be reached.
        """
        try:
            if config.local:
                client = QdrantClient(path=str(directory / QDRANT_DIR))
            else:
                client = QdrantClient(url=config.url, api_key=api_key, timeout=60)
                client.get_collections()  # fail here, with one line, if it is not reachable
        except RuntimeError as error:  # local mode: the storage folder is locked
            raise IndexUnavailableError(
                f"{directory / QDRANT_DIR} is open in another process (a local Qdrant "
                "collection allows one); stop it, or use a Qdrant server (--qdrant-url)"
            ) from error
        except Exception as error:  # httpx/grpc errors differ by transport and version
            raise IndexUnavailableError(
                f"cannot reach Qdrant at {config.url}: {str(error).splitlines()[0]}"
            ) from error
        return cls(client, config, config.collection(build_id))

    @property
    def config(self) -> QdrantConfig:
        return self._config

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ writing

    def exists(self) -> bool:
        return bool(self._client.collection_exists(self.name))

    def create(self, dimension: int) -> None:
        """Create the collection (and, on a server, the payload indexes filters use)."""
        cfg = self._config
        quantization = None
        if cfg.quantization is Quantization.INT8:
            quantization = models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
        self._client.create_collection(
            self.name,
            vectors_config={
                DENSE: models.VectorParams(
                    size=dimension,
                    distance=models.Distance.DOT,  # stored vectors are unit length
                    on_disk=cfg.on_disk,
                    hnsw_config=models.HnswConfigDiff(
                        m=cfg.hnsw_m, ef_construct=cfg.hnsw_ef_construct
                    ),
                    quantization_config=quantization,
                )
            },
            sparse_vectors_config={
                SPARSE: models.SparseVectorParams(
                    index=models.SparseIndexParams(on_disk=cfg.on_disk),
                    modifier=models.Modifier.IDF if cfg.sparse is SparseWeights.IDF else None,
                )
            },
            shard_number=cfg.shards,
            replication_factor=cfg.replication,
        )
        if cfg.local:
            return  # local mode scans; it has no payload indexes
        schema = {
            "tier": models.PayloadSchemaType.KEYWORD,
            SOURCE_KEY: models.PayloadSchemaType.KEYWORD,
            "year": models.PayloadSchemaType.INTEGER,
            "document_id": models.PayloadSchemaType.KEYWORD,
        }
        for field_name, field_type in schema.items():
            self._client.create_payload_index(self.name, field_name, field_type, wait=True)

    def upsert(
        self,
        first_row: int,
        passages: Sequence[Passage],
        document_hashes: Mapping[str, str],
        vectors: Vectors,
        sparse: Sequence[SparseTerms],
    ) -> None:
        """Write rows ``first_row ..`` and wait until they are stored."""
        points = [
            models.PointStruct(
                id=first_row + i,
                vector={
                    DENSE: vectors[i].tolist(),
                    SPARSE: models.SparseVector(indices=terms.indices, values=terms.values),
                },
                payload=payload_of(passage, document_hashes[passage.document_id]),
            )
            for i, (passage, terms) in enumerate(zip(passages, sparse, strict=True))
        ]
        self._client.upsert(self.name, points=points, wait=True)

    def drop(self) -> None:
        self._client.delete_collection(self.name)

    def retire_others(self, keep: set[str]) -> list[str]:
        """Drop the server's other collections of this index (same prefix, a build id after
        it) except ``keep``: superseded versions and abandoned builds. Returns their names."""
        pattern = re.compile(rf"{re.escape(self._config.prefix)}-{BUILD_ID.pattern}")
        names = [c.name for c in self._client.get_collections().collections]
        dropped = [n for n in names if pattern.fullmatch(n) and n not in keep | {self.name}]
        for name in dropped:
            logger.info("dropping collection %s", name)
            self._client.delete_collection(name)
        return dropped

    # ------------------------------------------------------------------ reading

    def count(self) -> int:
        return int(self._client.count(self.name, exact=True).count)

    def records(self, *, vectors: Sequence[str] = ()) -> Iterator[models.Record]:
        """Every point, a page at a time, with its payload and the named vectors."""
        offset: Any = None
        while True:
            page, offset = self._client.scroll(
                self.name,
                limit=PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=list(vectors) or False,
            )
            yield from page
            if offset is None:
                return

    def vectors(self, rows: npt.NDArray[np.int64]) -> Vectors:
        """The stored dense vectors of ``rows``, in that order."""
        out = np.zeros((len(rows), 0), np.float32)
        found: dict[int, list[float]] = {}
        wanted = [int(row) for row in rows]
        for start in range(0, len(wanted), PAGE):
            batch = sorted(set(wanted[start : start + PAGE]) - found.keys())
            for point in self._client.retrieve(self.name, batch, with_vectors=[DENSE]):
                vector = point.vector
                assert isinstance(vector, dict)
                found[int(point.id)] = vector[DENSE]  # type: ignore[assignment]
        missing = [row for row in wanted if row not in found]
        if missing:
            raise IndexUnavailableError(f"collection {self.name} has no point {missing[0]}")
        if wanted:
            out = np.asarray([found[row] for row in wanted], dtype=np.float32)
        return out

    def sparse_vectors(self, rows: Sequence[int]) -> dict[int, SparseTerms]:
        """The stored BM25 vectors of ``rows`` (``verify`` compares them with recomputed ones)."""
        out: dict[int, SparseTerms] = {}
        for start in range(0, len(rows), PAGE):
            batch = [int(row) for row in rows[start : start + PAGE]]
            for point in self._client.retrieve(self.name, batch, with_vectors=[SPARSE]):
                vector = (point.vector or {}).get(SPARSE)  # type: ignore[union-attr]
                if isinstance(vector, models.SparseVector):
                    pairs = sorted(zip(vector.indices, vector.values, strict=True))
                    out[int(point.id)] = SparseTerms([i for i, _ in pairs], [v for _, v in pairs])
        return out

    def search_dense(self, vector: Vectors, k: int, where: PassageFilter | None) -> Hits:
        if _admits_nothing(where):
            return _EMPTY
        result = self._client.query_points(
            self.name,
            query=np.asarray(vector, np.float32).reshape(-1).tolist(),
            using=DENSE,
            limit=k,
            query_filter=qdrant_filter(where),
            search_params=self._search_params(k),
            with_payload=False,
        )
        return _hits(result.points)

    def search_sparse(self, terms: SparseTerms, k: int, where: PassageFilter | None) -> Hits:
        if not terms.indices or _admits_nothing(where):
            return _EMPTY
        result = self._client.query_points(
            self.name,
            query=models.SparseVector(indices=terms.indices, values=terms.values),
            using=SPARSE,
            limit=k,
            query_filter=qdrant_filter(where),
            with_payload=False,
        )
        return _hits(result.points, positive=True)

    def search_rrf(
        self,
        vector: Vectors,
        terms: SparseTerms,
        k: int,
        *,
        depth: int,
        rrf_k: int,
        where: PassageFilter | None,
    ) -> Hits:
        """Both legs ``depth`` deep, fused by Qdrant: ``sum 1 / (rrf_k + rank)``, ranks from 1."""
        if _admits_nothing(where):
            return _EMPTY
        flt = qdrant_filter(where)
        legs = [
            models.Prefetch(
                query=np.asarray(vector, np.float32).reshape(-1).tolist(),
                using=DENSE,
                limit=depth,
                filter=flt,
                params=self._search_params(depth),
            )
        ]
        if terms.indices:
            sparse = models.SparseVector(indices=terms.indices, values=terms.values)
            legs.append(models.Prefetch(query=sparse, using=SPARSE, limit=depth, filter=flt))
        result = self._client.query_points(
            self.name,
            prefetch=legs,
            # Qdrant counts ranks from 0, and rrf_k counts them from 1 (retriever.fusion.rrf).
            query=models.RrfQuery(rrf=models.Rrf(k=rrf_k + 1)),
            limit=k,
            with_payload=False,
        )
        return _hits(result.points)

    def _search_params(self, k: int) -> models.SearchParams | None:
        if self._config.local:
            return None  # local mode scans exactly; it warns about search parameters
        quantization = None
        if self._config.quantization is not Quantization.NONE:
            quantization = models.QuantizationSearchParams(rescore=True)
        return models.SearchParams(hnsw_ef=max(self._config.hnsw_ef, k), quantization=quantization)


class QdrantDenseStore:
    """Dense search in the collection (:class:`index.types.DenseStore`); ``where`` runs in
    Qdrant."""

    def __init__(self, collection: QdrantCollection) -> None:
        self.collection = collection

    def search(self, query: Vectors, k: int, where: PassageFilter | None = None) -> Hits:
        """The ``k`` nearest rows of one query vector that pass ``where``."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return self.collection.search_dense(query, k, where)


class QdrantLexicalStore:
    """BM25 in the collection (:class:`index.types.LexicalStore` and
    :class:`index.types.TermCounts`); ``where`` runs in Qdrant.

    Args:
        collection: the version's collection.
        settings: the index's BM25 settings (the analyser).
        document_frequencies: passages per sparse dimension, read when the index was opened.
        num_docs: passages in the collection.
    """

    def __init__(
        self,
        collection: QdrantCollection,
        settings: Bm25Settings,
        document_frequencies: Counter[int],
        num_docs: int,
    ) -> None:
        self._collection = collection
        self._settings = settings
        self._tokenizer = Bm25Tokenizer(settings)
        self._df = document_frequencies
        self._num_docs = num_docs

    @property
    def settings(self) -> Bm25Settings:
        return self._settings

    @property
    def num_docs(self) -> int:
        return self._num_docs

    def tokenize(self, query: str) -> list[str]:
        return self._tokenizer.tokenize([query])[0]

    def document_frequency(self, word: str) -> int:
        terms = self.tokenize(word)
        return self._df[term_index(terms[0])] if len(terms) == 1 else 0

    def search(self, query: str, k: int, where: PassageFilter | None = None) -> Hits:
        """The ``k`` best-scoring passages for ``query`` that pass ``where``."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return self._collection.search_sparse(query_vector(self.tokenize(query)), k, where)


class QdrantFusedStore:
    """Both legs fused by Qdrant's reciprocal rank fusion, server-side, in one request.

    Example:
        >>> fused = QdrantFusedStore(collection, lexical)
        >>> fused.search(vector, "low ferritin", k=10, depth=100).rows
    """

    def __init__(self, collection: QdrantCollection, lexical: QdrantLexicalStore) -> None:
        self._collection = collection
        self._lexical = lexical

    def search(
        self,
        vector: Vectors,
        text: str,
        k: int,
        *,
        depth: int,
        rrf_k: int,
        where: PassageFilter | None = None,
    ) -> Hits:
        if k < 1 or depth < 1:
            raise ValueError(f"k and depth must be at least 1, got {k} and {depth}")
        terms = query_vector(self._lexical.tokenize(text))
        return self._collection.search_rrf(vector, terms, k, depth=depth, rrf_k=rrf_k, where=where)


@dataclass(frozen=True)
class OpenedStores:
    """What :func:`open_stores` read from a collection, row-aligned."""

    passages: list[Passage]
    documents: dict[str, DocumentRecord]
    dense: QdrantDenseStore
    lexical: QdrantLexicalStore
    fused: QdrantFusedStore

    def vectors(self, rows: npt.NDArray[np.int64] | None) -> Vectors:
        return self.dense.collection.vectors(
            np.arange(len(self.passages), dtype=np.int64) if rows is None else rows
        )


def open_stores(collection: QdrantCollection, settings: Bm25Settings) -> OpenedStores:
    """Read every point's payload and BM25 dimensions (one pass over the collection) into the
    passages, their documents and the document frequencies, and wrap the collection in the
    three stores.

    Raises:
        IndexCorruptError: the points are not rows ``0 .. n-1``, or a payload is not a passage.
    """
    by_row: dict[int, Passage] = {}
    hashes: dict[str, str] = {}
    per_document: Counter[str] = Counter()
    df: Counter[int] = Counter()
    try:
        for record in collection.records(vectors=[SPARSE]):
            payload = record.payload or {}
            passage = passage_of(payload)
            by_row[int(record.id)] = passage
            hashes[passage.document_id] = str(payload[DOCUMENT_HASH])
            per_document[passage.document_id] += 1
            sparse = (record.vector or {}).get(SPARSE)  # type: ignore[union-attr]
            if isinstance(sparse, models.SparseVector):
                df.update(sparse.indices)
    except (KeyError, TypeError, ValueError) as error:
        raise IndexCorruptError(
            f"collection {collection.name}: unreadable payload: {error}"
        ) from error
    if sorted(by_row) != list(range(len(by_row))):
        raise IndexCorruptError(f"collection {collection.name}: points are not rows 0..n-1")
    passages = [by_row[row] for row in range(len(by_row))]
    documents = {
        doc: DocumentRecord(doc, content_hash, per_document[doc])
        for doc, content_hash in hashes.items()
    }
    dense = QdrantDenseStore(collection)
    lexical = QdrantLexicalStore(collection, settings, df, len(passages))
    return OpenedStores(passages, documents, dense, lexical, QdrantFusedStore(collection, lexical))
