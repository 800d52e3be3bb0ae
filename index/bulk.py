"""Streaming a version into a Qdrant collection, with progress and resume.

Two passes over the passages, a batch at a time, so neither the passages nor their vectors are
ever all in memory:

1. Statistics: each passage is analysed (:class:`index.lexical.Bm25Tokenizer`) and counted into
   :class:`index.sparse.Bm25Statistics` (passages, total length, document frequency per term),
   with passages per document and per tier.
2. Upload: each batch is encoded (or its stored vectors are read), given its BM25 vectors, and
   written as points ``first_row ..`` before the next batch is read.

Resume. Batches are written in row order and each write is waited for, so the collection's
point count is the number of rows done. ``resume.json`` in the partial version directory
records what is being built (corpus fingerprint, model, settings, collection); a resumed build
checks that it matches, counts the points, and neither encodes nor uploads those rows again.

Example:
    >>> stats = write_collection(collection, batches, encode, settings, resume=False)
    >>> stats.passages
    996
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from corpus.types import Passage
from index.lexical import Bm25Settings, Bm25Tokenizer
from index.qdrant import QdrantCollection
from index.sparse import Bm25Statistics, passage_vector
from index.types import Vectors

logger = logging.getLogger(__name__)

RESUME_FILE = "resume.json"

# Passages in one batch: one encoder call and one Qdrant write.
BATCH = 256

# The passages, a batch at a time, in row order; called once per pass.
Batches = Callable[[], Iterable[Sequence[Passage]]]
# The dense vectors of a batch whose first row is ``first_row``.
Encode = Callable[[int, Sequence[Passage]], Vectors]


def batched(passages: Sequence[Passage], size: int = BATCH) -> Batches:
    """:data:`Batches` over passages already in memory (``add`` and ``remove``)."""
    return lambda: (passages[start : start + size] for start in range(0, len(passages), size))


@dataclass(frozen=True)
class PassageCounts:
    """What the statistics pass counted."""

    passages: int
    per_document: Counter[str]
    tiers: dict[str, int]


def count_passages(
    batches: Batches, settings: Bm25Settings
) -> tuple[PassageCounts, Bm25Statistics]:
    """Pass 1: passages per document and tier, and the BM25 statistics."""
    tokenizer = Bm25Tokenizer(settings)
    stats = Bm25Statistics()
    per_document: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    for batch in batches():
        stats.add_all(tokenizer.tokenize([p.embedding_text for p in batch]))
        per_document.update(p.document_id for p in batch)
        tiers.update(p.tier.value for p in batch)
    return PassageCounts(stats.passages, per_document, dict(tiers)), stats


def check_resume(directory: Path, plan: Mapping[str, Any]) -> bool:
    """Whether ``directory`` holds a build of the same ``plan`` to resume; else record ``plan``
    there, for a later resume.

    Raises:
        ValueError: ``directory`` holds a build of something else.
    """
    path = directory / RESUME_FILE
    if path.is_file():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if recorded != plan:
            differ = sorted(key for key in plan if recorded.get(key) != plan[key])
            raise ValueError(
                f"the unfinished build in {directory} differs in {', '.join(differ)}; "
                "build again without --resume"
            )
        return True
    path.write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return False


def write_collection(
    collection: QdrantCollection,
    batches: Batches,
    encode: Encode,
    settings: Bm25Settings,
    *,
    stats: Bm25Statistics,
    document_hashes: Mapping[str, str],
    dimension: int,
    resume: bool,
    progress: bool = False,
) -> int:
    """Pass 2: create the collection (or, resuming, count what it holds) and upload the rest.

    Returns:
        The rows encoded and uploaded by this call.
    """
    done = 0
    if resume and collection.exists():
        done = collection.count()
        logger.info(
            "resuming %s: %d of %d passages already stored", collection.name, done, stats.passages
        )
    else:
        if collection.exists():
            collection.drop()  # a leftover of a run that never recorded its plan
        collection.create(dimension)
    tokenizer = Bm25Tokenizer(settings)
    weights = collection.config.sparse
    started, row, uploaded = time.perf_counter(), 0, 0
    with tqdm(
        total=stats.passages, initial=done, unit="passage", disable=not progress, desc="upload"
    ) as bar:
        for batch in batches():
            first, row = row, row + len(batch)
            if row <= done:
                continue
            rest = batch[max(0, done - first) :]
            first = max(first, done)
            vectors = encode(first, rest)
            terms = tokenizer.tokenize([p.embedding_text for p in rest])
            sparse = [passage_vector(t, stats, settings, weights) for t in terms]
            collection.upsert(first, rest, document_hashes, vectors, sparse)
            uploaded += len(rest)
            bar.update(len(rest))
    seconds = time.perf_counter() - started
    logger.info(
        "uploaded %d passages to %s in %.1f s (%.1f passages/s)",
        uploaded,
        collection.name,
        seconds,
        uploaded / max(seconds, 1e-9),
    )
    return uploaded
