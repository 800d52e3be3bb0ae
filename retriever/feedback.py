"""Pseudo-relevance feedback, as pure functions (issue 17, item 3).

Two classic forms, each taking the best passages of a first search as if they were relevant:

* :func:`rocchio`: the dense query vector moved towards the mean of the feedback passages'
  stored vectors, ``q' = (q + beta * mean(d_i)) / ||q + beta * mean(d_i)||`` (Rocchio 1971,
  without the negative term). No passage is encoded again: the index stores its vectors.
* :func:`relevance_model`: RM3's term selection (Lavrenko and Croft 2001; the RM3 variant of
  Abdul-Jaleel et al., TREC 2004): ``P(w|R) ∝ sum_d P(d|q) * tf(w, d) / |d|`` over the feedback
  passages, ``P(d|q)`` their first-search scores normalised to sum 1. RM3 interpolates the
  expansion terms with the original query; :class:`retriever.hybrid.HybridRetriever` does the
  interpolation at the level of BM25 runs (original query's run plus ``weight`` times the
  expansion terms' run), since a BM25 query here is text without per-term weights.

Both are off by default (:class:`FeedbackConfig`): cross-validated on four dev sets
(benchmarks/fusion_cv.py, docs/eval.md) neither won.

Example::

    vector = rocchio(query_vector, index.vectors(dense.keys[:10]), beta=0.5)
    terms = relevance_model([["iron", "ferritin"], ["ferritin"]], [2.0, 1.0], n_terms=1)
    # [("ferritin", 0.6666...)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retriever.adaptive import BOILERPLATE, WORD
from retriever.terms import QUERY_STOP_WORDS


@dataclass(frozen=True)
class FeedbackConfig:
    """Pseudo-relevance feedback settings (all off by default).

    Attributes:
        rocchio_beta: Weight of the feedback passages' mean vector added to the dense query
            vector (0: no Rocchio feedback).
        rocchio_passages: How many of the dense leg's best passages feed Rocchio.
        rm3_weight: Weight of the expansion terms' BM25 run added to the query's own run
            (0: no RM3 feedback).
        rm3_terms: How many expansion terms RM3 adds.
        rm3_passages: How many of the BM25 leg's best passages feed RM3.
    """

    rocchio_beta: float = 0.0
    rocchio_passages: int = 10
    rm3_weight: float = 0.0
    rm3_terms: int = 10
    rm3_passages: int = 10

    def __post_init__(self) -> None:
        if self.rocchio_beta < 0 or self.rm3_weight < 0:
            raise ValueError(
                f"feedback weights must be >= 0, got rocchio_beta={self.rocchio_beta}, "
                f"rm3_weight={self.rm3_weight}"
            )
        for name in ("rocchio_passages", "rm3_terms", "rm3_passages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


def rocchio(query: npt.ArrayLike, feedback: npt.ArrayLike, beta: float) -> npt.NDArray[np.float32]:
    """The query vector plus ``beta`` times the feedback vectors' mean, renormalised.

    With no feedback vectors or ``beta == 0`` the query comes back unchanged (as float32). A
    zero sum (a query exactly opposite its feedback) also returns the query.

    Args:
        query: The query vector, shape ``(dimension,)``.
        feedback: The feedback passages' vectors, shape ``(n, dimension)``.
        beta: The feedback's weight, at least 0.
    """
    q = np.asarray(query, np.float32).reshape(-1)
    vectors = np.asarray(feedback, np.float32).reshape(-1, len(q))
    if beta == 0 or len(vectors) == 0:
        return q
    moved = q + np.float32(beta) * vectors.mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return q if norm == 0.0 else (moved / norm).astype(np.float32)


def relevance_model(
    documents: Sequence[Sequence[str]],
    scores: Sequence[float],
    n_terms: int,
    exclude: frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """The ``n_terms`` terms of highest ``P(w|R)`` (RM1) over the feedback documents.

    ``P(w|R) = sum_d P(d|q) * tf(w, d) / |d|`` with ``P(d|q)`` the documents' scores divided by
    their sum (negative scores count as 0; if none is positive, every document weighs the
    same). The weights returned are renormalised over the chosen terms. Ties: the term seen
    first wins.

    Args:
        documents: Each feedback document as its list of terms (already filtered: no stop words).
        scores: The first search's score of each document.
        n_terms: How many terms to return.
        exclude: Terms never returned (the query's own terms).
    """
    if len(documents) != len(scores):
        raise ValueError(f"{len(documents)} documents but {len(scores)} scores")
    positive = np.clip(np.asarray(scores, np.float64), 0.0, None)
    if positive.sum() <= 0:
        positive = np.ones(len(documents))
    prior = positive / positive.sum() if len(documents) else positive
    weight: dict[str, float] = {}
    for terms, p in zip(documents, prior.tolist(), strict=True):
        if not terms:
            continue
        for term, tf in Counter(terms).items():
            if term not in exclude:
                weight[term] = weight.get(term, 0.0) + p * tf / len(terms)
    ranked = sorted(weight.items(), key=lambda item: -item[1])[:n_terms]  # stable: first seen
    total = sum(w for _, w in ranked)
    return [(t, w / total) for t, w in ranked] if total > 0 else []


def feedback_words(text: str) -> list[str]:
    """The words of a feedback passage RM3 may pick: lower-cased, in order, repeats kept;
    no stop words, :data:`retriever.adaptive.BOILERPLATE` words, bare numbers or one-letter
    words. They are surface words, so an expansion query made of them is analysed by BM25 like
    any query."""
    words = (w.lower() for w in WORD.findall(text))
    return [
        w for w in words if w not in QUERY_STOP_WORDS and w not in BOILERPLATE and not w.isdigit()
    ]
