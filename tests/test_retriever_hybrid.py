"""HybridRetriever.evidence: fusion, filters and the policy on a real index and model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corpus.types import EvidenceKind, EvidenceTier
from index.load import PassageIndex
from retriever.dense import DenseRetriever
from retriever.fusion import FusionMode, FusionUnit, Normalization, weighted
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.lexical import LexicalRetriever
from retriever.policy import PolicyConfig
from retriever.types import EmptyQueryError, Filters
from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401

QUESTION = "Does folic acid supplementation lower homocysteine?"


@pytest.fixture(scope="module")
def hybrid(retriever_index: PassageIndex, retriever_embedder) -> HybridRetriever:  # noqa: F811
    return HybridRetriever(retriever_index, retriever_embedder)


def test_evidence_groups_and_fused_list(hybrid: HybridRetriever) -> None:
    evidence = hybrid.evidence(QUESTION)
    cfg = hybrid.config.policy
    assert evidence.question == QUESTION and evidence.standalone_query == QUESTION
    assert 0 < len(evidence.fused) <= cfg.fused_k
    assert 0 < len(evidence.guideline) <= cfg.guideline_k
    assert 0 < len(evidence.research) <= cfg.research_k
    assert all(sp.passage.kind is EvidenceKind.GUIDELINE for sp in evidence.guideline)
    assert all(sp.passage.kind is EvidenceKind.RESEARCH for sp in evidence.research)
    assert set(evidence.timings_ms) == {
        "query_ms",
        "lexical_ms",
        "dense_ms",
        "fusion_ms",
        "total_ms",
    }
    # The fused list is the standalone retrieval, cut to fused_k.
    expected = [sp.passage.id for sp in hybrid.retrieve(QUESTION, cfg.fused_k)]
    assert [sp.passage.id for sp in evidence.fused] == expected
    # The best research passage answers the question: a folic acid trial or review.
    assert "folic acid" in evidence.research[0].passage.title.lower() or "folate" in (
        evidence.research[0].passage.title.lower()
    )


def test_research_only_filter(hybrid: HybridRetriever) -> None:
    evidence = hybrid.evidence(QUESTION, filters=Filters(kinds=frozenset({EvidenceKind.RESEARCH})))
    assert evidence.guideline == []
    assert evidence.fused and all(sp.passage.kind is EvidenceKind.RESEARCH for sp in evidence.fused)


def test_design_and_year_filters(hybrid: HybridRetriever) -> None:
    rct = hybrid.evidence(QUESTION, filters=Filters(designs=frozenset({EvidenceTier.RCT})))
    assert rct.fused and all(sp.passage.tier is EvidenceTier.RCT for sp in rct.fused)
    dated = hybrid.evidence(QUESTION, filters=Filters(year_from=2010))
    assert dated.fused and all(sp.passage.year and sp.passage.year >= 2010 for sp in dated.fused)


def test_source_filter(hybrid: HybridRetriever) -> None:
    evidence = hybrid.evidence(QUESTION, filters=Filters(sources=frozenset({"medlineplus"})))
    assert evidence.fused and {sp.passage.source for sp in evidence.fused} == {"MedlinePlus"}


def test_filtered_fusion_ranks_among_allowed_passages_only(hybrid: HybridRetriever) -> None:
    # With a filter, RRF ranks are counted among the passages that pass it, so the best
    # allowed passage of both legs gets 1/61 + 1/61 if the legs agree on it.
    rrf = HybridRetriever(hybrid._index, hybrid._dense.embedder, RetrievalConfig.plain_rrf())
    evidence = rrf.evidence(QUESTION, filters=Filters(kinds=frozenset({EvidenceKind.GUIDELINE})))
    assert evidence.fused[0].score <= 2 / 61 + 1e-12
    assert evidence.fused[0].score >= 1 / 61


def test_weighted_fusion_config(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    # Oracle: the WEIGHTED mode equals fusion.weighted over the two legs' own results.
    config = RetrievalConfig(
        fusion=FusionMode.WEIGHTED,
        normalization=Normalization.MINMAX,
        unit=FusionUnit.PASSAGE,
        lexical_weight=0.4,
        dense_weight=0.6,
        lexical_depth=10,
        dense_depth=10,
        synonym_weight=0.0,  # the legs as searched for the question's own words
    )
    hybrid = HybridRetriever(retriever_index, retriever_embedder, config)
    lexical = LexicalRetriever(retriever_index.lexical, retriever_index.passages)
    dense = DenseRetriever(retriever_embedder, retriever_index.dense, retriever_index.passages)
    runs = [
        [(sp.passage.id, sp.score) for sp in leg.retrieve(QUESTION, 10)] for leg in (lexical, dense)
    ]
    expected = weighted(runs, weights=[0.4, 0.6], top_k=5)
    got = [(sp.passage.id, sp.score) for sp in hybrid.retrieve(QUESTION, 5)]
    assert [pid for pid, _ in got] == [pid for pid, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected])


def test_depths_are_separate_from_top_k(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    shallow = HybridRetriever(
        retriever_index, retriever_embedder, RetrievalConfig(lexical_depth=2, dense_depth=2)
    )
    # Two candidates per leg: at most four fused passages, however large top_k is.
    assert len(shallow.retrieve(QUESTION, 40)) <= 4


def test_research_group_orders_design_within_a_band(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    cfg = RetrievalConfig(policy=PolicyConfig(research_k=10, band_tolerance=1.0))
    evidence = HybridRetriever(retriever_index, retriever_embedder, cfg).evidence(QUESTION)
    # One band holds everything: research is ordered by design rank alone.
    ranks = [sp.passage.tier.rank for sp in evidence.research]
    assert ranks == sorted(ranks)


def test_empty_question_raises(hybrid: HybridRetriever) -> None:
    with pytest.raises(EmptyQueryError):
        hybrid.evidence("")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="lexical_depth"):
        RetrievalConfig(lexical_depth=0)
    with pytest.raises(ValueError, match="rrf, weighted"):
        RetrievalConfig(fusion="borda")  # type: ignore[arg-type]
    assert RetrievalConfig(fusion="weighted").fusion is FusionMode.WEIGHTED  # type: ignore[arg-type]
    cfg = RetrievalConfig()
    with pytest.raises(AttributeError):
        cfg.rrf_k = 1  # type: ignore[misc]
    assert replace(cfg, rrf_k=10).rrf_k == 10
