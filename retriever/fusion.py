"""Fusion of ranked lists from several retrievers, as pure functions.

Each input run is a ranked list of ``(key, score)`` pairs, best first; keys are anything hashable
(passage rows, passage ids, document ids). Nothing here does I/O or mutates its inputs, and the
output is deterministic: ties are broken by the order in which keys were first seen, taking the
runs in the order given.

Two methods:

* :func:`rrf`: reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009),
  ``score(d) = sum_i w_i / (k + rank_i(d))`` with 1-based ranks and ``k = 60`` from the paper.
  It uses ranks only, so it needs no score calibration between retrievers.
* :func:`weighted`: a convex combination of normalised scores,
  ``score(d) = sum_i w_i * norm_i(s_i(d))``. Min-max normalisation maps each run to [0, 1]
  (a run whose scores are all equal maps to 1.0, guarding ``max == min``); z-score
  normalisation maps each run to mean 0 and unit standard deviation (a constant run maps to 0).
  A key missing from a run is treated as no better than the last key there: 0 under min-max,
  the run's lowest z-score under z-score.

How deep each retriever goes (its candidate depth) is chosen by the caller; these functions fuse
whatever they are given and cut the result to ``top_k`` only if asked.

Example:
    >>> rrf([[("a", 9.0), ("b", 7.0)], [("b", 0.9), ("c", 0.8)]])[:2]
    [('b', 0.03252247488101534), ('a', 0.01639344262295082)]
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from corpus.types import parse_choice

K = TypeVar("K", bound=Hashable)
Run = Sequence[tuple[K, float]]

RRF_K = 60
"""The RRF constant from Cormack et al. (2009); it damps the weight of the very top ranks."""


class FusionMode(enum.StrEnum):
    """How the lexical and dense runs are combined.

    ``ADAPTIVE`` is weighted fusion whose leg weights depend on the query
    (:mod:`retriever.adaptive`): the retriever works the weights out per query, and the
    functions here, given those weights, fuse exactly as ``WEIGHTED``.
    """

    RRF = "rrf"
    WEIGHTED = "weighted"
    ADAPTIVE = "adaptive"

    @classmethod
    def parse(cls, value: str) -> FusionMode:
        """Parse a mode name, with an error that lists the valid names."""
        return parse_choice(cls, value, "fusion mode")


class FusionUnit(enum.StrEnum):
    """What is fused: passages as retrieved, or the documents they belong to.

    ``DOCUMENT`` max-pools each run by document first (:func:`collapse`), so a document whose
    best BM25 passage and best dense passage differ gets credit from both; each document is
    then represented by its best passage.
    """

    PASSAGE = "passage"
    DOCUMENT = "document"

    @classmethod
    def parse(cls, value: str) -> FusionUnit:
        """Parse a unit name, with an error that lists the valid names."""
        return parse_choice(cls, value, "fusion unit")


class Normalization(enum.StrEnum):
    """How :func:`weighted` puts each run's scores on a common scale."""

    MINMAX = "minmax"
    ZSCORE = "zscore"


def _check_weights(runs: Sequence[Any], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(runs)
    if len(weights) != len(runs):
        raise ValueError(f"got {len(weights)} weights for {len(runs)} runs")
    if any(w < 0 or not math.isfinite(w) for w in weights):
        raise ValueError(f"weights must be finite and non-negative, got {list(weights)}")
    return [float(w) for w in weights]


def _ranked(scores: dict[K, float], top_k: int | None) -> list[tuple[K, float]]:
    # sorted() is stable, so equal scores keep first-seen order: deterministic tie-breaking.
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return ranked if top_k is None else ranked[:top_k]


def rrf(
    runs: Sequence[Run[K]],
    *,
    k: float = RRF_K,
    weights: Sequence[float] | None = None,
    top_k: int | None = None,
) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: ``sum_i w_i / (k + rank_i)`` over the runs a key appears in.

    Args:
        runs: Ranked lists of ``(key, score)``, best first; only the order is used. A key that
            repeats within one run counts at its first (best) rank.
        k: The rank constant (default 60, Cormack et al. 2009); must be >= 0.
        weights: One non-negative weight per run; default all 1.
        top_k: Keep only the best ``top_k`` fused keys; ``None`` keeps all.

    Returns:
        ``(key, fused score)`` pairs, best first.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    w = _check_weights(runs, weights)
    fused: dict[K, float] = {}
    for run, weight in zip(runs, w, strict=True):
        seen: set[K] = set()
        for rank, (key, _) in enumerate(run, start=1):
            if key in seen:
                continue
            seen.add(key)
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return _ranked(fused, top_k)


def _minmax(scores: list[float]) -> list[float]:
    low, high = min(scores), max(scores)
    if high == low:  # one hit, or all tied: every key is as good as the best
        return [1.0] * len(scores)
    span = high - low
    return [(s - low) / span for s in scores]


def _zscore(scores: list[float]) -> list[float]:
    mean = sum(scores) / len(scores)
    var = sum((s - mean) ** 2 for s in scores) / len(scores)
    if var == 0.0:
        return [0.0] * len(scores)
    std = math.sqrt(var)
    return [(s - mean) / std for s in scores]


_NORMALIZERS: dict[Normalization, Callable[[list[float]], list[float]]] = {
    Normalization.MINMAX: _minmax,
    Normalization.ZSCORE: _zscore,
}


def normalize(run: Run[K], method: Normalization = Normalization.MINMAX) -> list[tuple[K, float]]:
    """One run with its scores normalised (a new list; the input is untouched)."""
    if not run:
        return []
    keys = [key for key, _ in run]
    return list(zip(keys, _NORMALIZERS[method]([float(s) for _, s in run]), strict=True))


def weighted(
    runs: Sequence[Run[K]],
    *,
    weights: Sequence[float] | None = None,
    normalization: Normalization | Sequence[Normalization] = Normalization.MINMAX,
    top_k: int | None = None,
) -> list[tuple[K, float]]:
    """Convex combination of normalised scores: ``sum_i w_i * norm_i(score_i)``.

    Args:
        runs: Ranked lists of ``(key, score)``, higher score better. A key that repeats within
            one run keeps its first score; the repeats are dropped before normalising.
        weights: One non-negative weight per run; default all 1.
        normalization: Min-max (default) or z-score, applied to each run separately; or one
            method per run.
        top_k: Keep only the best ``top_k`` fused keys; ``None`` keeps all.

    Returns:
        ``(key, fused score)`` pairs, best first. A key absent from a run receives 0 under
        min-max (the bottom of the scale, also when the run is constant) and the run's lowest
        z-score under z-score.
    """
    w = _check_weights(runs, weights)
    if isinstance(normalization, Normalization):
        methods = [normalization] * len(runs)
    else:
        methods = list(normalization)
        if len(methods) != len(runs):
            raise ValueError(f"got {len(methods)} normalisations for {len(runs)} runs")
    normed: list[dict[K, float]] = []
    order: dict[K, None] = {}
    for run, method in zip(runs, methods, strict=True):
        first: dict[K, float] = {}
        for key, score in run:
            first.setdefault(key, score)  # a repeated key keeps its first (best) score
        table = dict(normalize(list(first.items()), method))
        for key in table:
            order.setdefault(key, None)
        normed.append(table)
    # Missing from a run: as bad as the worst key present there. Under min-max that is 0 even
    # for a constant run (whose keys all normalise to 1.0), so a one-passage run still counts.
    floors = [
        0.0 if method is Normalization.MINMAX or not table else min(table.values())
        for table, method in zip(normed, methods, strict=True)
    ]
    fused = {
        key: sum(
            weight * table.get(key, floor)
            for table, weight, floor in zip(normed, w, floors, strict=True)
        )
        for key in order
    }
    return _ranked(fused, top_k)


def collapse(run: Run[K], group: Callable[[K], Hashable]) -> list[tuple[Hashable, float]]:
    """Max-pool a run by group: each group scored by its best key (MaxP for documents).

    Args:
        run: Ranked list of ``(key, score)``, best first.
        group: Maps a key to its group (e.g. a passage row to its document id).

    Returns:
        ``(group, best score)`` pairs, best first; ties keep first-seen order.

    Example:
        >>> collapse([("d1#2", 0.9), ("d2#1", 0.7), ("d1#1", 0.4)], lambda key: key[:2])
        [('d1', 0.9), ('d2', 0.7)]
    """
    best: dict[Hashable, float] = {}
    for key, score in run:
        name = group(key)
        if name not in best or score > best[name]:
            best[name] = score
    return sorted(best.items(), key=lambda item: -item[1])


def fuse(
    mode: FusionMode,
    runs: Sequence[Run[K]],
    *,
    weights: Sequence[float] | None = None,
    k: float = RRF_K,
    normalization: Normalization | Sequence[Normalization] = Normalization.MINMAX,
    top_k: int | None = None,
) -> list[tuple[K, float]]:
    """Dispatch to :func:`rrf` or :func:`weighted` by ``mode`` (``ADAPTIVE``: weighted, with
    the query's weights passed in); unused options are ignored."""
    return _FUSERS[mode](runs, weights, k, normalization, top_k)


_FUSERS: dict[FusionMode, Callable[..., list[tuple[Any, float]]]] = {
    FusionMode.RRF: lambda runs, weights, k, _norm, top_k: rrf(
        runs, k=k, weights=weights, top_k=top_k
    ),
    FusionMode.WEIGHTED: lambda runs, weights, _k, norm, top_k: weighted(
        runs, weights=weights, normalization=norm, top_k=top_k
    ),
    FusionMode.ADAPTIVE: lambda runs, weights, _k, norm, top_k: weighted(
        runs, weights=weights, normalization=norm, top_k=top_k
    ),
}


# ----------------------------------------------------------------------------- array fast path
#
# The same fusion over integer keys held in numpy arrays, for the retriever's hot path (no
# Python loop over candidates). tests/test_retriever_fusion.py checks it against the pure
# functions above, which remain the definition.

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ArrayRun:
    """A ranked run as arrays: integer ``keys`` and their ``scores``, best first."""

    keys: IntArray
    scores: FloatArray

    @classmethod
    def of(cls, keys: npt.ArrayLike, scores: npt.ArrayLike) -> ArrayRun:
        return cls(
            np.asarray(keys, np.int64).reshape(-1), np.asarray(scores, np.float64).reshape(-1)
        )


def _first_occurrences(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Unique keys in first-seen order, and the index of each key's first occurrence."""
    unique, first = np.unique(keys, return_index=True)
    order = np.argsort(first, kind="stable")
    return unique[order], first[order]


def _normalized(scores: FloatArray, method: Normalization) -> tuple[FloatArray, float]:
    """Normalised scores and the value a missing key gets (see :func:`weighted`)."""
    if len(scores) == 0:
        return scores, 0.0
    if method is Normalization.MINMAX:
        low, high = float(scores.min()), float(scores.max())
        normed = np.ones_like(scores) if high == low else (scores - low) / (high - low)
        return normed, 0.0
    std = float(scores.std())
    normed = np.zeros_like(scores) if std == 0.0 else (scores - scores.mean()) / std
    return normed, float(normed.min())


def fuse_arrays(
    mode: FusionMode,
    runs: Sequence[ArrayRun],
    *,
    weights: Sequence[float] | None = None,
    k: float = RRF_K,
    normalization: Normalization | Sequence[Normalization] = Normalization.MINMAX,
) -> ArrayRun:
    """:func:`fuse` over integer keys in arrays; the same result, without Python loops.

    Keys repeated within a run count once, at their first (best) position, as in :func:`fuse`.
    """
    w = _check_weights(runs, weights)
    methods = (
        [normalization] * len(runs)
        if isinstance(normalization, Normalization)
        else list(normalization)
    )
    if len(methods) != len(runs):
        raise ValueError(f"got {len(methods)} normalisations for {len(runs)} runs")
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    deduped, ranks = [], []
    for run in runs:
        _, first = _first_occurrences(run.keys)
        keep = np.sort(first)  # positions of first occurrences, in rank order
        deduped.append(ArrayRun(run.keys[keep], run.scores[keep]))
        ranks.append(keep.astype(np.float64) + 1.0)  # a repeat still takes up its position
    if not any(len(run.keys) for run in deduped):
        return ArrayRun(np.zeros(0, np.int64), np.zeros(0, np.float64))
    union, _ = _first_occurrences(np.concatenate([run.keys for run in deduped]))
    fused = np.zeros(len(union), np.float64)
    sorter = np.argsort(union)
    for run, rank, weight, method in zip(deduped, ranks, w, methods, strict=True):
        if len(run.keys) == 0:
            continue
        where = sorter[np.searchsorted(union, run.keys, sorter=sorter)]
        if mode is FusionMode.RRF:
            fused[where] += weight / (k + rank)
            continue
        normed, floor = _normalized(run.scores, method)
        values = np.full(len(union), floor)
        values[where] = normed
        fused += weight * values
    # Best first; equal scores keep first-seen order (the position in ``union``).
    order = np.lexsort((np.arange(len(union)), -fused))
    return ArrayRun(union[order], fused[order])


def collapse_arrays(run: ArrayRun, group_of: IntArray) -> ArrayRun:
    """:func:`collapse` for arrays: ``group_of[key]`` is the integer group of each key."""
    groups = group_of[run.keys]
    unique, first = _first_occurrences(groups)
    best = np.full(len(unique), -np.inf)
    sorter = np.argsort(unique)
    where = sorter[np.searchsorted(unique, groups, sorter=sorter)]
    np.maximum.at(best, where, run.scores)
    order = np.lexsort((first, -best))
    return ArrayRun(unique[order], best[order])


class DocumentScore(enum.StrEnum):
    """How a leg scores a document from its passages' scores (issue 17, item 3).

    ``max``: its best passage (the default). ``top2``: the sum of its two best passages (a
    document with one matching passage keeps that passage's score). ``sum``: the sum of all
    its passages in the leg's candidate list.
    """

    MAX = "max"
    TOP2 = "top2"
    SUM = "sum"

    @classmethod
    def parse(cls, value: str) -> DocumentScore:
        return parse_choice(cls, value, "document score")


def pool_arrays(
    run: ArrayRun, group_of: IntArray, method: DocumentScore = DocumentScore.MAX
) -> ArrayRun:
    """A passage run pooled by document: ``group_of[key]`` is each key's document code.

    ``max`` is :func:`collapse_arrays`. Documents are ordered by their pooled score, ties by
    where their first passage stood in ``run``.
    """
    if method is DocumentScore.MAX:
        return collapse_arrays(run, group_of)
    groups = group_of[run.keys]
    unique, first = _first_occurrences(groups)
    sorter = np.argsort(unique)
    where = sorter[np.searchsorted(unique, groups, sorter=sorter)]
    if method is DocumentScore.TOP2:
        # Rank of each passage within its document (runs are best first, so a stable sort by
        # document keeps each document's passages best first).
        by_group = np.argsort(where, kind="stable")
        starts = np.searchsorted(where[by_group], where[by_group])
        within = np.empty(len(where), np.int64)
        within[by_group] = np.arange(len(where)) - starts
        keep = within < 2
    else:
        keep = np.ones(len(where), bool)
    total = np.zeros(len(unique), np.float64)
    np.add.at(total, where[keep], run.scores[keep])
    order = np.lexsort((first, -total))
    return ArrayRun(unique[order], total[order])


def sum_arrays(parts: Sequence[tuple[ArrayRun, float]]) -> ArrayRun:
    """Weighted sum of score runs, best first; a row missing from a run adds 0 there (BM25 is
    a sum over query terms, so this is BM25 of the union query with per-part weights)."""
    if len(parts) == 1 and parts[0][1] == 1.0:
        return parts[0][0]
    keys = np.concatenate([run.keys for run, _ in parts])
    scores = np.concatenate([run.scores * weight for run, weight in parts])
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    total = np.zeros(len(unique), np.float64)
    np.add.at(total, inverse, scores)
    order = np.lexsort((first, -total))  # ties: first-seen order
    return ArrayRun(unique[order], total[order])
