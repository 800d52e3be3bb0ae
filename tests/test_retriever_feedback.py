"""Pseudo-relevance feedback and document pooling: hand-computed values on small inputs, and
the options plumbed through RetrievalConfig into HybridRetriever (real index and model)."""

from __future__ import annotations

import numpy as np
import pytest

from index.load import PassageIndex
from retriever.dense import DenseRetriever
from retriever.feedback import FeedbackConfig, feedback_words, relevance_model, rocchio
from retriever.fusion import ArrayRun, DocumentScore, pool_arrays, sum_arrays
from retriever.hybrid import HybridRetriever, RetrievalConfig
from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401

QUESTION = "Does folic acid supplementation lower homocysteine?"


# ----------------------------------------------------------------------------- rocchio


def test_rocchio_moves_towards_the_feedback_mean_and_renormalises() -> None:
    # q = (1, 0); feedback mean = ((0, 1) + (0, 1)) / 2 = (0, 1); beta 1 -> (1, 1) / sqrt(2)
    moved = rocchio([1.0, 0.0], [[0.0, 1.0], [0.0, 1.0]], beta=1.0)
    assert moved == pytest.approx([2**-0.5, 2**-0.5])
    # beta 0.5 -> (1, 0.5) / sqrt(1.25) = (0.8944, 0.4472)
    assert rocchio([1.0, 0.0], [[0.0, 1.0]], 0.5) == pytest.approx([0.894427, 0.447214], 1e-5)
    assert moved.dtype == np.float32


def test_rocchio_without_feedback_or_weight_returns_the_query() -> None:
    assert rocchio([0.6, 0.8], np.zeros((0, 2)), 1.0) == pytest.approx([0.6, 0.8])
    assert rocchio([0.6, 0.8], [[1.0, 0.0]], 0.0) == pytest.approx([0.6, 0.8])
    # q + 1 * (-q) = 0: nothing to normalise, the query comes back.
    assert rocchio([0.6, 0.8], [[-0.6, -0.8]], 1.0) == pytest.approx([0.6, 0.8])


# ----------------------------------------------------------------------------- RM3


def test_relevance_model_weights_terms_by_document_prior_and_frequency() -> None:
    docs = [["iron", "ferritin", "ferritin", "anaemia"], ["ferritin", "b12"]]
    # priors 3/4, 1/4. P(ferritin) = 3/4 * 2/4 + 1/4 * 1/2 = 0.5; P(iron) = P(anaemia)
    # = 3/4 * 1/4 = 0.1875; P(b12) = 1/4 * 1/2 = 0.125. Top 3 renormalised over 0.875.
    terms = relevance_model(docs, [3.0, 1.0], n_terms=3)
    # iron before anaemia: seen first
    assert [t for t, _ in terms] == ["ferritin", "iron", "anaemia"]
    assert [w for _, w in terms] == pytest.approx([0.5 / 0.875, 0.1875 / 0.875, 0.1875 / 0.875])


def test_relevance_model_excludes_query_terms_and_handles_zero_scores() -> None:
    docs = [["iron", "ferritin"], ["ferritin"]]
    # All scores 0: equal priors 1/2. P(ferritin) = 1/2 * 1/2 + 1/2 * 1 = 0.75, excluded.
    assert relevance_model(docs, [0.0, 0.0], 5, exclude=frozenset({"ferritin"})) == [("iron", 1.0)]
    assert relevance_model([], [], 5) == []
    with pytest.raises(ValueError, match="2 documents but 1 scores"):
        relevance_model(docs, [1.0], 5)


def test_feedback_words_drop_stop_words_and_numbers() -> None:
    assert feedback_words("The ferritin level was 12 in the Iron study") == [
        "ferritin",
        "level",
        "iron",
        "study",
    ]


def test_feedback_config_validation() -> None:
    with pytest.raises(ValueError, match="rocchio_beta=-1"):
        FeedbackConfig(rocchio_beta=-1)
    with pytest.raises(ValueError, match="rm3_terms"):
        FeedbackConfig(rm3_terms=0)


# ----------------------------------------------------------------------------- pooling


DOCS = np.array([0, 0, 1, 0, 1, 2])  # passage row -> document code
RUN = ArrayRun.of([0, 2, 1, 3, 4, 5], [5.0, 4.0, 3.0, 2.0, 1.5, 1.0])


def test_pool_max_is_collapse() -> None:
    pooled = pool_arrays(RUN, DOCS, DocumentScore.MAX)
    assert pooled.keys.tolist() == [0, 1, 2] and pooled.scores.tolist() == [5.0, 4.0, 1.0]


def test_pool_top2_and_sum() -> None:
    # doc 0: rows 0, 1, 3 -> 5 + 3 (+ 2); doc 1: rows 2, 4 -> 4 + 1.5; doc 2: row 5 -> 1
    top2 = pool_arrays(RUN, DOCS, DocumentScore.TOP2)
    assert top2.keys.tolist() == [0, 1, 2] and top2.scores.tolist() == [8.0, 5.5, 1.0]
    total = pool_arrays(RUN, DOCS, DocumentScore.SUM)
    assert total.scores.tolist() == [10.0, 5.5, 1.0]


def test_pool_top2_can_reorder_documents() -> None:
    # doc 1's best passage (6.0) beats doc 0's (5.0), but 5 + 4 = 9 > 6 under top2.
    run = ArrayRun.of([2, 0, 1], [6.0, 5.0, 4.0])
    assert pool_arrays(run, DOCS, DocumentScore.MAX).keys.tolist() == [1, 0]
    assert pool_arrays(run, DOCS, DocumentScore.TOP2).keys.tolist() == [0, 1]


def test_sum_arrays_adds_weighted_runs() -> None:
    # row 1: 2 + 0.5 * 4 = 4; row 0: 3; row 2: 0.5 * 1 = 0.5
    total = sum_arrays(
        [(ArrayRun.of([0, 1], [3.0, 2.0]), 1.0), (ArrayRun.of([1, 2], [4.0, 1.0]), 0.5)]
    )
    assert total.keys.tolist() == [1, 0, 2] and total.scores.tolist() == [4.0, 3.0, 0.5]


# ----------------------------------------------------------------------------- plumbing


def test_config_defaults_and_parsing() -> None:
    cfg = RetrievalConfig()
    assert cfg.document_score is DocumentScore.MAX
    assert cfg.feedback == FeedbackConfig() and cfg.feedback.rocchio_beta == 0.0
    assert cfg.feedback.rm3_weight == 0.0
    assert RetrievalConfig(document_score="top2").document_score is DocumentScore.TOP2  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max, top2, sum"):
        RetrievalConfig(document_score="mean")  # type: ignore[arg-type]


def test_rocchio_option_changes_the_dense_leg(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    # Oracle: with only the dense leg weighted, the served order is the dense search of the
    # Rocchio vector built from the first search's 3 best passages.
    cfg = RetrievalConfig(
        fusion="weighted",  # type: ignore[arg-type]
        unit="passage",  # type: ignore[arg-type]
        lexical_weight=0.0,
        lexical_depth=5,
        dense_depth=5,
        feedback=FeedbackConfig(rocchio_beta=1.0, rocchio_passages=3),
    )
    served = HybridRetriever(retriever_index, retriever_embedder, cfg).retrieve(QUESTION, 3)
    dense = DenseRetriever(retriever_embedder, retriever_index.dense, retriever_index.passages)
    vector = dense.encode(QUESTION)
    first = dense.hits_for_vector(vector, 5).rows[:3]
    moved = rocchio(vector, retriever_index.vectors(first), 1.0)
    expected = dense.hits_for_vector(moved, 5).rows[:3].tolist()
    assert [retriever_index.row(sp.passage.id) for sp in served] == expected


def test_rm3_and_pooling_options_run_through_the_retriever(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    plain = HybridRetriever(retriever_index, retriever_embedder).retrieve(QUESTION, 5)
    for cfg in (
        RetrievalConfig(feedback=FeedbackConfig(rm3_weight=0.5)),
        RetrievalConfig(document_score=DocumentScore.SUM),
    ):
        got = HybridRetriever(retriever_index, retriever_embedder, cfg).retrieve(QUESTION, 5)
        ids = [sp.passage.document_id for sp in got]
        assert len(ids) == len(set(ids)) and len(got) == len(plain)
