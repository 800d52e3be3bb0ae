"""A content-addressed embedding cache, so a data set is encoded at most once on this machine.

Encoding SciFact takes minutes on two shared cores. :class:`CachedEmbedder` wraps any
:class:`index.types.Embedder` and keeps every vector it has computed, keyed by the SHA-256 of
the text, in plain files (no pickle)::

    <cache>/embeddings/<model slug>/documents.npy   float32 (n, dimension), L2-normalised
    <cache>/embeddings/<model slug>/documents.json  {"model", "dimension", "keys": [sha256, ...]}
    <cache>/embeddings/<model slug>/queries.npy     the same for queries
    <cache>/embeddings/<model slug>/queries.json

Queries and documents are kept apart because an encoder may embed them differently. The wrapped
model is only loaded when a text is missing, so a repeated evaluation never loads it.

:func:`seed_from_benchmark_cache` imports vectors that the retrieval benchmarks cached under
``var/cache/<dataset>/<model>__<recipe>.npy`` (see benchmarks/retrieval_data.py): their sidecar
records the row ids and a SHA-256 over the texts, so the caller recomputes the texts, the hash
is compared, and only then are the rows adopted. :func:`seed_from_text_cache` reads their
per-text caches (``<model>__by-text.npy``, keyed by the SHA-1 of each text).

Example:
    >>> embedder = CachedEmbedder(SentenceTransformerEmbedder.load, Path("var/cache"),
    ...                           model_name=MODEL_NAME, dimension=384)
    >>> embedder.encode_documents(["Ferritin reflects iron stores."]).shape  # encodes, saves
    (1, 384)
    >>> embedder.encode_documents(["Ferritin reflects iron stores."]).shape  # from the cache
    (1, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.types import Embedder, Vectors

if TYPE_CHECKING:
    from answer.settings import EmbedderSettings

logger = logging.getLogger(__name__)


SAVE_EVERY = 256
"""Unsaved single-text encodings after which the cache is written anyway."""


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Store:
    """One namespace (documents or queries): key -> row of a float32 matrix, saved on demand."""

    def __init__(self, folder: Path, name: str, model_name: str, dimension: int) -> None:
        self._npy = folder / f"{name}.npy"
        self._meta = folder / f"{name}.json"
        self._model = model_name
        self._dimension = dimension
        self._rows: dict[str, int] = {}
        self._blocks: list[Vectors] = []
        self._loaded = False
        self._dirty = 0  # rows added since the last save

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not (self._npy.exists() and self._meta.exists()):
            return
        meta = json.loads(self._meta.read_text(encoding="utf-8"))
        vectors = np.load(self._npy, allow_pickle=False)
        if meta.get("model") != self._model or vectors.shape != (
            len(meta["keys"]),
            self._dimension,
        ):
            logger.warning(
                "ignoring embedding cache %s: made for another model or damaged", self._npy
            )
            return
        self._rows = {key: row for row, key in enumerate(meta["keys"])}
        self._blocks = [np.ascontiguousarray(vectors, dtype=np.float32)]

    def _matrix(self) -> Vectors:
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        if not self._blocks:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return self._blocks[0]

    def get(self, keys: Sequence[str]) -> tuple[Vectors, list[int]]:
        """Vectors for ``keys`` (zeros where missing) and the positions that are missing."""
        self._load()
        out = np.zeros((len(keys), self._dimension), dtype=np.float32)
        missing = [i for i, key in enumerate(keys) if key not in self._rows]
        found = [i for i, key in enumerate(keys) if key in self._rows]
        if found:
            matrix = self._matrix()
            out[found] = matrix[[self._rows[keys[i]] for i in found]]
        return out, missing

    def put(self, keys: Sequence[str], vectors: Vectors) -> None:
        self._load()
        fresh = [(k, i) for i, k in enumerate(keys) if k not in self._rows]
        if not fresh:
            return
        start = len(self._rows)
        unique: dict[str, int] = {}
        for key, i in fresh:
            unique.setdefault(key, i)
        for offset, key in enumerate(unique):
            self._rows[key] = start + offset
        self._blocks.append(np.ascontiguousarray(vectors[list(unique.values())], dtype=np.float32))
        self._dirty += len(unique)

    def save(self) -> None:
        if not self._dirty:
            return
        self._npy.parent.mkdir(parents=True, exist_ok=True)
        matrix = self._matrix()
        keys = sorted(self._rows, key=self._rows.__getitem__)
        # Write next to the target and rename, so a crash never leaves a half-written cache.
        with tempfile.NamedTemporaryFile(dir=self._npy.parent, suffix=".npy", delete=False) as fh:
            np.save(fh, matrix, allow_pickle=False)
        os.replace(fh.name, self._npy)
        meta = {"model": self._model, "dimension": self._dimension, "keys": keys}
        tmp = self._meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, self._meta)
        self._dirty = 0

    @property
    def unsaved(self) -> int:
        return self._dirty

    def __len__(self) -> int:
        self._load()
        return len(self._rows)


class CachedEmbedder:
    """An :class:`index.types.Embedder` that remembers every vector it computes.

    Args:
        load: returns the real embedder; called at most once, on the first cache miss.
        cache_dir: the cache root (``var/cache``); files go under ``embeddings/<model slug>/``.
        model_name: the real embedder's model name (checked against it once it is loaded).
        dimension: its dimension (likewise).
    """

    def __init__(
        self,
        load: Callable[[], Embedder],
        cache_dir: Path,
        *,
        model_name: str,
        dimension: int,
    ) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be at least 1, got {dimension}")
        self._load = load
        self._inner: Embedder | None = None
        self._model_name = model_name
        self._dimension = dimension
        folder = Path(cache_dir) / "embeddings" / re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)
        self.folder = folder
        self._documents = _Store(folder, "documents", model_name, dimension)
        self._queries = _Store(folder, "queries", model_name, dimension)
        self.hits = 0
        self.misses = 0

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def loaded(self) -> bool:
        """Whether the real model had to be loaded."""
        return self._inner is not None

    def inner(self) -> Embedder:
        """The real embedder, loaded on first use and checked against the declared name/size."""
        if self._inner is None:
            inner = self._load()
            if (inner.model_name, inner.dimension) != (self._model_name, self._dimension):
                raise ValueError(
                    f"cache is for {self._model_name!r} ({self._dimension}d), the loaded model is "
                    f"{inner.model_name!r} ({inner.dimension}d)"
                )
            self._inner = inner
        return self._inner

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(self._queries, texts, query=True, progress=False)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        return self._encode(self._documents, texts, query=False, progress=progress)

    def _encode(
        self, store: _Store, texts: Sequence[str], *, query: bool, progress: bool
    ) -> Vectors:
        keys = [text_key(t) for t in texts]
        out, missing = store.get(keys)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            wanted = [texts[i] for i in missing]
            if len(missing) > 1:
                logger.info("encoding %d of %d texts not in the cache", len(missing), len(texts))
            inner = self.inner()
            fresh = (
                inner.encode_queries(wanted)
                if query
                else inner.encode_documents(wanted, progress=progress)
            )
            out[missing] = fresh
            store.put([keys[i] for i in missing], fresh)
            # Batches are saved at once; single queries (a retriever encoding one question at
            # a time) are saved every SAVE_EVERY rows and on flush(), not after every call.
            if len(missing) > 1 or store.unsaved >= SAVE_EVERY:
                store.save()
        return out

    def flush(self) -> None:
        """Write any vectors not saved yet (call when a run ends)."""
        self._documents.save()
        self._queries.save()

    def seed(self, texts: Sequence[str], vectors: Vectors, *, queries: bool = False) -> int:
        """Adopt vectors computed elsewhere for ``texts``; returns how many were new."""
        if len(texts) != len(vectors) or (len(vectors) and vectors.shape[1] != self._dimension):
            raise ValueError(f"{len(texts)} texts for vectors of shape {vectors.shape}")
        store = self._queries if queries else self._documents
        before = len(store)
        store.put([text_key(t) for t in texts], np.asarray(vectors, dtype=np.float32))
        store.save()
        return len(store) - before


def seed_from_text_cache(
    embedder: CachedEmbedder,
    npy: Path,
    texts: Sequence[str],
    *,
    queries: bool = False,
) -> int:
    """Adopt the vectors of ``texts`` from a benchmark per-text cache, where present.

    That cache (``<model>__by-text.npy`` with a ``.json`` listing ``keys``, the SHA-1 of each
    row's UTF-8 text; see ``CachingEmbedder`` in benchmarks/retrieval_data.py) is keyed by
    text, so a row is adopted exactly when one of ``texts`` hashes to its key. Returns the
    number of vectors adopted.
    """
    meta_path = npy.with_suffix(".json")
    if not (npy.exists() and meta_path.exists()):
        return 0
    keys = json.loads(meta_path.read_text(encoding="utf-8")).get("keys")
    if not isinstance(keys, list):
        return 0
    rows = {key: row for row, key in enumerate(keys)}
    found = [(t, rows[k]) for t in dict.fromkeys(texts) if (k := _sha1(t)) in rows]
    if not found:
        return 0
    vectors = np.load(npy, mmap_mode="r", allow_pickle=False)
    if vectors.ndim != 2 or vectors.shape[1] != embedder.dimension or len(vectors) != len(keys):
        return 0
    picked = np.asarray(vectors[[row for _, row in found]], dtype=np.float32)
    adopted = embedder.seed([t for t, _ in found], picked, queries=queries)
    logger.info("adopted %d vectors from %s", adopted, npy)
    return adopted


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def seed_from_benchmark_cache(
    embedder: CachedEmbedder,
    npy: Path,
    ids: Sequence[str],
    texts: Sequence[str],
    *,
    queries: bool = False,
) -> int:
    """Adopt a benchmark cache file if its sidecar matches ``ids`` and ``texts`` exactly.

    The sidecar (``npy`` with ``.json``) must list the same ids and the SHA-256 over the texts
    (each text UTF-8 encoded, followed by a NUL byte) that benchmarks/retrieval_data.py records.
    Returns the number of vectors adopted (0 when the file is absent or does not match).
    """
    meta_path = npy.with_suffix(".json")
    if not (npy.exists() and meta_path.exists()):
        return 0
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    if meta.get("ids") != list(ids) or meta.get("texts_sha256") != digest.hexdigest():
        logger.info("benchmark cache %s was made from other texts; not used", npy)
        return 0
    vectors = np.load(npy, allow_pickle=False)
    if vectors.shape != (len(texts), embedder.dimension):
        return 0
    adopted = embedder.seed(texts, vectors, queries=queries)
    logger.info("adopted %d vectors from %s", adopted, npy)
    return adopted


def encoder_for_eval(
    encoder: EmbedderSettings, cache: Path, *, root: Path | None = None
) -> CachedEmbedder:
    """The encoder ``followup eval`` builds indexes with, behind the embedding cache ``cache``.

    The encoder new indexes get (``index.encoders.DEFAULT_BACKEND``), unless the settings
    (``encoder``) name one; the model loads only when a text is not cached. ``root``: where a
    relative ``encoder.export_dir`` is (default: the working directory).
    """
    from index.embedder import default_model_path
    from index.encoders import DEFAULT_BACKEND, encoder_name, load_embedder

    backend = DEFAULT_BACKEND if encoder.backend == "auto" else encoder.backend
    export_dir = encoder.export_dir if root is None else root / encoder.export_dir
    pooling = json.loads((default_model_path() / "1_Pooling" / "config.json").read_text())
    return CachedEmbedder(
        lambda: load_embedder(
            backend,
            threads=encoder.threads,
            batch_size=encoder.batch_size,
            export_dir=export_dir,
        ),
        cache,
        model_name=encoder_name(backend),
        dimension=int(pooling["word_embedding_dimension"]),
    )
