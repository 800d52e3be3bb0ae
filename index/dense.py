"""The dense store: FAISS inner-product search over L2-normalised vectors.

On unit vectors the inner product is the cosine similarity. :attr:`DenseKind.FLAT` is exact
(``IndexFlatIP``) and is the default; :attr:`DenseKind.HNSW` (``IndexHNSWFlat`` with
``METRIC_INNER_PRODUCT``) is the approximate choice for corpora beyond about 200,000 passages,
where a flat scan per query starts to cost tens of milliseconds. :attr:`DenseKind.IVF_SQ8`
(``IndexIVFScalarQuantizer``, 8-bit codes) is approximate and compressed, for a million
passages in well under 1 GB: one byte per component instead of four, and no graph. ``verify``
measures an approximate index's recall@10 against exact search.

Example:
    >>> store = FaissDenseStore.build(vectors, DenseConfig())
    >>> hits = store.search(embedder.encode_queries(["ferritin"]), k=5)
    >>> hits.rows, hits.scores
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from corpus.types import parse_choice
from index.types import Hits, PassageFilter, Vectors

# Beyond this many passages a flat scan gets slow enough per query that HNSW is worth its
# recall loss; ``followup index build --dense hnsw`` chooses it explicitly.
HNSW_ADVISED_ABOVE = 200_000

# FAISS warns when k-means gets fewer than 39 training points per centroid; ivf_lists() keeps
# every list above that, and k-means trains on at most this many points per list (a seeded
# sample: at 1M passages 200,000 points for 4,000 lists; training and adding took 52 s there).
MIN_POINTS_PER_LIST = 39
TRAIN_POINTS_PER_LIST = 50


class DenseKind(enum.StrEnum):
    """Which FAISS index holds the vectors."""

    FLAT = "flat"  # exact: IndexFlatIP
    HNSW = "hnsw"  # approximate: IndexHNSWFlat, METRIC_INNER_PRODUCT
    IVF_SQ8 = "ivf-sq8"  # approximate, 8-bit codes: IndexIVFScalarQuantizer, inner product

    @classmethod
    def parse(cls, value: str) -> DenseKind:
        """Parse a kind name, with an error that lists the valid names."""
        return parse_choice(cls, value, "dense index kind")

    @property
    def max_code_error(self) -> float:
        """The most one component of a stored vector can differ from what the index returns.

        0 where the index keeps the float32 vectors. An 8-bit code decodes to the middle of its
        step; a step is 1/255 of the component's range over the indexed vectors, and the
        components of a unit vector lie in [-1, 1], so the error is at most 1/255.
        """
        return 1 / 255 if self is DenseKind.IVF_SQ8 else 0.0


@dataclass(frozen=True)
class DenseConfig:
    """How the dense index is built.

    Attributes:
        kind: exact flat search, approximate HNSW, or approximate IVF with 8-bit codes.
        hnsw_m: HNSW graph degree (FAISS default 32); more is better recall, more memory.
        hnsw_ef_construction: candidate list while building; 200 is a common quality setting.
        hnsw_ef_search: candidate list while searching; must be at least the k asked for.
        ivf_nprobe: inverted lists searched per query (``ivf-sq8``; there are
            :func:`ivf_lists` of them); more is better recall and slower. At 1M passages
            192 gave recall@10 0.978 against exact search on the served benchmark's
            questions, where 128 gave 0.938 (on another set of queries, 0.964: docs/index.md).
    """

    kind: DenseKind = DenseKind.FLAT
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    ivf_nprobe: int = 192

    def __post_init__(self) -> None:
        for name in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nprobe"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DenseConfig:
        values = dict(data)
        values["kind"] = DenseKind.parse(str(values.get("kind", DenseKind.FLAT.value)))
        return cls(**values)


def ivf_lists(passages: int) -> int:
    """How many inverted lists an ``ivf-sq8`` index over ``passages`` vectors has.

    4·sqrt(N), the low end of the range the FAISS guidelines give (4·sqrt(N) to 16·sqrt(N)):
    fewer, longer lists, so a fixed ``ivf_nprobe`` covers more of the corpus. At most
    N / :data:`MIN_POINTS_PER_LIST`, so that small corpora still train every list; at least 1.
    """
    return max(1, min(round(4 * math.sqrt(passages)), passages // MIN_POINTS_PER_LIST))


# Each factory makes an empty index for ``vectors``, trained on them where the kind needs it.
def _new_flat(vectors: Vectors, config: DenseConfig) -> faiss.Index:
    return faiss.IndexFlatIP(vectors.shape[1])


def _new_hnsw(vectors: Vectors, config: DenseConfig) -> faiss.Index:
    index = faiss.IndexHNSWFlat(vectors.shape[1], config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.hnsw_ef_construction
    index.hnsw.efSearch = config.hnsw_ef_search
    return index


def _new_ivf_sq8(vectors: Vectors, config: DenseConfig) -> faiss.Index:
    dimension = vectors.shape[1]
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dimension),
        dimension,
        ivf_lists(len(vectors)),
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
        False,  # codes of the vectors themselves, not of their residuals: as good here, simpler
    )
    # k-means on a seeded sample; the 8-bit ranges on every vector, so none is clipped.
    index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
    index.cp.min_points_per_centroid = 1  # ivf_lists() already keeps 39 where N allows
    # Row -> list position, for reconstruct(). (faiss's stubs leave out DirectMap.)
    index.set_direct_map_type(faiss.DirectMap.Array)  # type: ignore[attr-defined]
    if len(vectors):
        index.train(vectors)
    return index


_FACTORIES: dict[DenseKind, Callable[[Vectors, DenseConfig], faiss.Index]] = {
    DenseKind.FLAT: _new_flat,
    DenseKind.HNSW: _new_hnsw,
    DenseKind.IVF_SQ8: _new_ivf_sq8,
}


# Per-call search parameters: changing the shared index's would race with concurrent searches.
# HNSW returns at most efSearch neighbours, so efSearch grows to the depth asked for.
_SEARCH_PARAMETERS: dict[DenseKind, Callable[[DenseConfig, int], Any]] = {
    DenseKind.FLAT: lambda config, depth: None,
    DenseKind.HNSW: lambda config, depth: faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
        efSearch=max(config.hnsw_ef_search, depth)
    ),
    # (faiss's stubs leave out the keyword constructors of the SearchParameters classes.)
    DenseKind.IVF_SQ8: lambda config, depth: faiss.SearchParametersIVF(  # type: ignore[call-arg]
        nprobe=config.ivf_nprobe
    ),
}


def _as_matrix(vectors: npt.ArrayLike, dimension: int | None = None) -> Vectors:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise ValueError(f"expected a (n, d) array of vectors, got shape {matrix.shape}")
    if dimension is not None and matrix.shape[1] != dimension:
        raise ValueError(f"vectors have dimension {matrix.shape[1]}, the index has {dimension}")
    return matrix


def _to_hits(rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float32]) -> Hits:
    keep = rows >= 0  # FAISS pads with -1 when fewer than k rows exist
    return Hits(
        rows=np.ascontiguousarray(rows[keep], dtype=np.int64),
        scores=np.ascontiguousarray(scores[keep], dtype=np.float32),
    )


class FaissDenseStore:
    """A FAISS index whose row ``i`` is passage ``i`` of the :class:`~index.load.PassageIndex`.

    Example:
        >>> store = FaissDenseStore.build(vectors, DenseConfig(kind=DenseKind.FLAT))
        >>> store.save(Path("dense.faiss"))
        >>> same = FaissDenseStore.load(Path("dense.faiss"), DenseConfig())
        >>> [hits.rows for hits in same.search_batch(vectors[:2], k=3)]
    """

    def __init__(self, index: Any, config: DenseConfig) -> None:
        self._index = index  # a faiss.Index; the SWIG classes carry no types
        self._config = config
        if config.kind is DenseKind.HNSW:
            self._index.hnsw.efSearch = config.hnsw_ef_search

    @classmethod
    def build(cls, vectors: npt.ArrayLike, config: DenseConfig) -> FaissDenseStore:
        """Build an index over ``vectors`` (rows must already be L2-normalised)."""
        matrix = _as_matrix(vectors)
        index = _FACTORIES[config.kind](matrix, config)
        if len(matrix):
            index.add(matrix)
        return cls(index, config)

    @classmethod
    def load(cls, path: Path, config: DenseConfig) -> FaissDenseStore:
        """Read an index written by :meth:`save`, memory-mapping its vectors where FAISS can."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        return cls(index, config)

    def save(self, path: Path) -> None:
        # Through a Python file, not faiss.write_index(path): FAISS ignores an error closing
        # the file, so a full disk would leave a truncated file and no error. (faiss's type
        # stubs leave out PyCallbackIOWriter.)
        with path.open("wb") as handle:
            writer = faiss.PyCallbackIOWriter(handle.write)  # type: ignore[attr-defined]
            faiss.write_index(self._index, writer)

    @property
    def config(self) -> DenseConfig:
        return self._config

    @property
    def kind(self) -> DenseKind:
        return self._config.kind

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def reconstruct(self, rows: npt.ArrayLike) -> Vectors:
        """The stored vectors of ``rows``: as given for ``flat`` and ``hnsw``, decoded from
        their 8-bit codes for ``ivf-sq8`` (within :attr:`DenseKind.max_code_error`)."""
        wanted = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(wanted), self.dimension), dtype=np.float32)
        for i, row in enumerate(wanted):
            out[i] = self._index.reconstruct(int(row))
        return out

    def search(self, query: Vectors, k: int, where: PassageFilter | None = None) -> Hits:
        """The ``k`` nearest rows of one query vector, shape ``(d,)`` or ``(1, d)``.

        ``where`` is not applied: FAISS holds no passage metadata, so the caller filters the
        rows (:mod:`index.types`).

        Raises:
            ValueError: ``k`` is below 1, or more than one query was given (use
                :meth:`search_batch`), or the dimension differs.
        """
        matrix = _as_matrix(query, self.dimension)
        if matrix.shape[0] != 1:
            raise ValueError(
                f"search takes one query vector, got {matrix.shape[0]}; use search_batch"
            )
        return self.search_batch(matrix, k)[0]

    def search_batch(self, queries: Vectors, k: int) -> list[Hits]:
        """The ``k`` nearest rows of each query vector in an ``(n, d)`` array."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        matrix = _as_matrix(queries, self.dimension)
        depth = min(k, self.ntotal)
        if depth == 0 or len(matrix) == 0:
            empty = Hits(np.zeros(0, np.int64), np.zeros(0, np.float32))
            return [empty for _ in range(len(matrix))]
        params = _SEARCH_PARAMETERS[self.kind](self._config, depth)
        scores, rows = self._index.search(matrix, depth, params=params)
        return [_to_hits(rows[i], scores[i]) for i in range(len(matrix))]


def exact_search(
    vectors: Vectors, queries: Vectors, k: int, *, block: int = 256
) -> tuple[npt.NDArray[np.int64], Vectors]:
    """Exact top-``k`` inner-product search in numpy: the oracle that FAISS is checked against.

    Rows with equal scores come lowest row first. Queries are scored ``block`` at a time so
    memory stays at ``block * len(vectors)`` floats.

    Returns:
        ``(rows, scores)``, each of shape ``(len(queries), min(k, len(vectors)))``.
    """
    matrix = _as_matrix(vectors)
    query = _as_matrix(queries, matrix.shape[1])
    depth = min(k, len(matrix))
    rows = np.zeros((len(query), depth), dtype=np.int64)
    scores = np.zeros((len(query), depth), dtype=np.float32)
    if depth == 0:
        return rows, scores
    for start in range(0, len(query), block):
        block_scores = query[start : start + block] @ matrix.T
        if depth < len(matrix):
            candidates = np.argpartition(-block_scores, depth - 1, axis=1)[:, :depth]
        else:
            candidates = np.tile(np.arange(len(matrix)), (len(block_scores), 1))
        for i, cand in enumerate(candidates):
            cand_scores = block_scores[i, cand]
            # lexsort's last key is primary: score descending, then row ascending.
            order = cand[np.lexsort((cand, -cand_scores))]
            rows[start + i] = order
            scores[start + i] = block_scores[i, order]
    return rows, scores
