"""The roles of the index layer, as small protocols.

An :class:`Embedder` turns text into L2-normalised float32 rows. A :class:`DenseStore` and a
:class:`LexicalStore` each answer a query with the rows of the passages they matched; the row
number is the passage's position in :attr:`index.load.PassageIndex.passages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from corpus.types import Passage

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Encodes queries and documents into normalised vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> Vectors: ...

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors: ...


@dataclass(frozen=True)
class Hits:
    """Rows and scores of one query's matches, best first."""

    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]


class DenseStore(Protocol):
    """Nearest neighbours by inner product over normalised vectors."""

    def search(self, query: Vectors, k: int) -> Hits: ...


class LexicalStore(Protocol):
    """BM25 over the passages' embedding text."""

    def search(self, query: str, k: int) -> Hits: ...


class Companion(Protocol):
    """A file that a layer above derives from an index version's passages, written into the
    version beside them and checksummed in its manifest (the answer layer's sentence
    embeddings, so that serving an index encodes nothing but queries)."""

    @property
    def name(self) -> str: ...

    def write(self, passages: Sequence[Passage], directory: Path, previous: Path | None) -> None:
        """Write the file into ``directory``; ``previous`` is the version it replaces, if any,
        whose file may be reused."""
        ...
