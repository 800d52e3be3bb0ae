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
  A key missing from a run gets that run's lowest normalised value, i.e. it is treated as if
  it were ranked last there.

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
from typing import Any, TypeVar

from corpus.types import parse_choice

K = TypeVar("K", bound=Hashable)
Run = Sequence[tuple[K, float]]

RRF_K = 60
"""The RRF constant from Cormack et al. (2009); it damps the weight of the very top ranks."""


class FusionMode(enum.StrEnum):
    """How the lexical and dense runs are combined."""

    RRF = "rrf"
    WEIGHTED = "weighted"

    @classmethod
    def parse(cls, value: str) -> FusionMode:
        """Parse a mode name, with an error that lists the valid names."""
        return parse_choice(cls, value, "fusion mode")


class Normalization(enum.StrEnum):
    """How :func:`weighted` puts each run's scores on a common scale."""

    MINMAX = "minmax"
    ZSCORE = "zscore"


def _check_weights(runs: Sequence[Run[K]], weights: Sequence[float] | None) -> list[float]:
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
    normalization: Normalization = Normalization.MINMAX,
    top_k: int | None = None,
) -> list[tuple[K, float]]:
    """Convex combination of normalised scores: ``sum_i w_i * norm_i(score_i)``.

    Args:
        runs: Ranked lists of ``(key, score)``, higher score better. A key that repeats within
            one run keeps its first score.
        weights: One non-negative weight per run; default all 1.
        normalization: Min-max (default) or z-score, applied to each run separately.
        top_k: Keep only the best ``top_k`` fused keys; ``None`` keeps all.

    Returns:
        ``(key, fused score)`` pairs, best first. A key absent from a run receives that run's
        lowest normalised score (0 under min-max).
    """
    w = _check_weights(runs, weights)
    normed: list[dict[K, float]] = []
    order: dict[K, None] = {}
    for run in runs:
        table: dict[K, float] = {}
        for key, score in normalize(run, normalization):
            table.setdefault(key, score)
            order.setdefault(key, None)
        normed.append(table)
    floors = [min(table.values()) if table else 0.0 for table in normed]
    fused = {
        key: sum(
            weight * table.get(key, floor)
            for table, weight, floor in zip(normed, w, floors, strict=True)
        )
        for key in order
    }
    return _ranked(fused, top_k)


def fuse(
    mode: FusionMode,
    runs: Sequence[Run[K]],
    *,
    weights: Sequence[float] | None = None,
    k: float = RRF_K,
    normalization: Normalization = Normalization.MINMAX,
    top_k: int | None = None,
) -> list[tuple[K, float]]:
    """Dispatch to :func:`rrf` or :func:`weighted` by ``mode``; unused options are ignored."""
    return _FUSERS[mode](runs, weights, k, normalization, top_k)


_FUSERS: dict[FusionMode, Callable[..., list[tuple[Any, float]]]] = {
    FusionMode.RRF: lambda runs, weights, k, _norm, top_k: rrf(
        runs, k=k, weights=weights, top_k=top_k
    ),
    FusionMode.WEIGHTED: lambda runs, weights, _k, norm, top_k: weighted(
        runs, weights=weights, normalization=norm, top_k=top_k
    ),
}
