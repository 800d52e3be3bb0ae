"""Query-adaptive fusion: features, weights and key terms on fixed inputs; the retriever and
the served settings on a real index and model."""

from __future__ import annotations

import math
import typing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from answer.settings import RetrievalSettings, Settings
from index.lexical import Bm25Settings, Bm25Tokenizer
from index.load import PassageIndex
from retriever.adaptive import (
    FITTED,
    AdaptiveFusion,
    QueryFeatures,
    content_words,
    key_terms,
    leg_weights,
    lexical_share,
    overlap,
    query_features,
    top_z,
)
from retriever.dense import DenseRetriever
from retriever.fusion import ArrayRun, FusionMode, fuse, fuse_arrays
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.policy import PolicyConfig
from tests.fixtures_retriever import DOCS, retriever_embedder, retriever_index  # noqa: F401

# LiveQA-Med dev TQ7 as typed (subject line, then the message), ../shared/data/liveqa-med-dev.
MESSAGE = (
    "DVT Can a birth control called Ocella cause DVT? My daughter experiences pains "
    "cramping,redness and swelling in her thigh and also really bad huge blood clots during her "
    "menstrual cycles after she was prescribed Osella for birth control. Also these syntoms "
    "worsened after she gave birth.\n\t\t\t\tThis has been happening for a year now should she "
    "see discuss this with her doctor right away?"
)

# The idf of each of MESSAGE's index terms in the MedQuAD subset index of
# scripts/medquad_subset.py (LexicalTermStatistics over var/medquad-subset-index), rounded.
# Terms absent here are in no passage ("ocella", "osella", "syntom") or are stop words.
MEDQUAD_IDF = {
    "dvt": 5.658, "birth": 3.194, "control": 2.713, "call": 1.634, "caus": 1.045,
    "daughter": 6.374, "experi": 3.395, "pain": 2.51, "cramp": 4.908, "red": 3.325,
    "swell": 3.78, "thigh": 5.156, "bad": 5.863, "huge": 8.32, "blood": 1.589, "clot": 4.021,
    "menstrual": 5.376, "cycl": 5.411, "prescrib": 3.893, "worsen": 3.959, "gave": 7.222,
    "happen": 4.231, "year": 2.816, "discuss": 5.101, "doctor": 2.348, "away": 3.901,
}  # fmt: skip


class RecordedStatistics:
    """The index's analyser (the real BM25 tokenizer) with idf values recorded from an index."""

    def __init__(self, idf: dict[str, float]) -> None:
        self._tokenizer = Bm25Tokenizer(Bm25Settings())
        self._idf = idf

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize([text])[0]

    def idf(self, word: str) -> float:
        terms = self.analyze(word)
        return self._idf.get(terms[0], 0.0) if len(terms) == 1 else 0.0


STATS = RecordedStatistics(MEDQUAD_IDF)


# ----------------------------------------------------------------------------- features


def test_top_z_of_a_peaked_and_of_a_flat_run() -> None:
    # [3, 1, 1, 1]: mean 1.5, variance (2.25 + 3 * 0.25) / 4 = 0.75, z = 1.5 / sqrt(0.75).
    assert top_z([3.0, 1.0, 1.0, 1.0]) == pytest.approx(math.sqrt(3.0))
    assert top_z([2.0, 2.0, 2.0]) == 0.0
    assert top_z([5.0]) == 0.0
    assert top_z([]) == 0.0


def test_overlap_of_the_top_lists() -> None:
    assert overlap([1, 2, 3], [3, 4, 1]) == pytest.approx(2 / 3)  # {1, 3} of 3
    assert overlap(list(range(20)), list(range(5, 25))) == pytest.approx(0.5)  # 5..9 of top 10
    assert overlap([], [1, 2]) == 0.0


def test_query_features_count_rare_terms_and_read_both_legs() -> None:
    words = [("DVT", "dvt", 5.658), ("birth", "birth", 3.194), ("clots", "clot", 4.021)]
    features = query_features(
        words,
        np.array([7, 8, 9]),
        np.array([3.0, 1.0, 1.0]),
        np.array([9, 7, 5]),
        np.array([0.9, 0.9, 0.9]),
    )
    # Rare: idf >= 4 -> dvt and clot, 2 of 3. BM25 [3, 1, 1]: mean 5/3, std sqrt(8/9).
    assert features == QueryFeatures(
        terms=3,
        rare_share=pytest.approx(2 / 3),
        lexical_top_z=pytest.approx((3 - 5 / 3) / math.sqrt(8 / 9)),
        dense_top_z=0.0,
        overlap=pytest.approx(2 / 3),  # {7, 9}
    )


# ----------------------------------------------------------------------------- weights


def test_zero_model_gives_equal_weights() -> None:
    features = QueryFeatures(terms=40, rare_share=0.5, lexical_top_z=3, dense_top_z=1, overlap=0)
    assert leg_weights(features, AdaptiveFusion()) == (1.0, 1.0)
    assert AdaptiveFusion(max_terms=16).uniform and not AdaptiveFusion(peak=0.1).uniform


def test_weight_rules_on_fixed_features() -> None:
    long = QueryFeatures(terms=32, rare_share=0.0, lexical_top_z=2.0, dense_top_z=2.0, overlap=0)
    # log2(32) - 3 = 2; logit -1 * 2 = -2; a = 1 / (1 + e^2) = 0.1192.
    lexical, dense = leg_weights(long, AdaptiveFusion(length=-1.0))
    assert (lexical, dense) == (pytest.approx(0.238406), pytest.approx(1.761594))
    peaked = replace(long, terms=8, lexical_top_z=4.0)
    # peak 0.5 * (4 - 2) = 1; a = 1 / (1 + e^-1) = 0.7311.
    assert lexical_share(peaked, AdaptiveFusion(peak=0.5)) == pytest.approx(0.731059)
    agree = replace(long, terms=8, overlap=0.5)
    assert lexical_share(agree, AdaptiveFusion(intercept=1.0, agreement=-2.0)) == 0.5
    assert lexical_share(long, AdaptiveFusion(intercept=-1e9)) == pytest.approx(0.0)


def test_model_checks_its_values() -> None:
    with pytest.raises(ValueError, match="max_terms"):
        AdaptiveFusion(max_terms=-1)
    with pytest.raises(ValueError, match="length"):
        AdaptiveFusion(length=float("nan"))


# ----------------------------------------------------------------------------- key terms


def test_content_words_drop_stop_words_boilerplate_numbers_and_unknown_words() -> None:
    words = content_words("Hello, thanks! NDC 0093 Ocella DVT clots and DVT again", STATS)
    # "hello"/"thanks": boilerplate; "0093": a number; "ndc", "ocella": in no passage;
    # "and", "again": stop words; the second "DVT" repeats a term.
    assert [w for w, _, _ in words] == ["DVT", "clots"]


def test_a_short_query_is_searched_as_typed() -> None:
    query = "Can Ocella cause DVT?"
    assert key_terms(query, STATS, 6) == query
    assert key_terms(MESSAGE, STATS, 0) == MESSAGE


def test_key_terms_of_a_long_message_by_idf_alone_keep_the_story() -> None:
    # 26 content terms; the 6 highest idf: huge 8.32, gave 7.22, daughter 6.37, bad 5.86,
    # DVT 5.66, cycles 5.41 -- mostly the story around the question, rare in a formal corpus.
    assert key_terms(MESSAGE, STATS, 6) == "DVT daughter bad huge cycles gave"


def test_key_terms_guided_by_passages_about_the_question() -> None:
    feedback = [
        "Deep vein thrombosis (DVT) is a blood clot in a deep vein, usually in the thigh.",
        "Birth control pills with estrogen raise the risk of DVT and blood clots.",
        "Heavy menstrual bleeding with clots; swelling and pain in the leg.",
        "Symptoms of a blood clot include swelling, redness and pain.",
    ]
    # Weight = idf * (0.05 + share of the 4 texts holding the term):
    #   dvt 5.658 * 0.55 = 3.11, clot 4.021 * 1.05 = 4.22, swell 3.78 * 0.55 = 2.08,
    #   thigh 5.156 * 0.30 = 1.55, menstrual 5.376 * 0.30 = 1.61, pain 2.51 * 0.55 = 1.38;
    #   then red 3.325 * 0.30 = 1.00 and birth 3.194 * 0.30 = 0.96; huge 8.32 * 0.05 = 0.42.
    assert key_terms(MESSAGE, STATS, 6, feedback) == "DVT pains swelling thigh clots menstrual"


# ----------------------------------------------------------------------------- the retriever


QUESTION = (
    "Hello, my doctor said my homocysteine is high and I am a vegetarian. I read that folic "
    "acid supplementation could lower homocysteine, and I wonder whether B12 matters too. "
    "Thank you for any advice."
)


def test_fusion_functions_fuse_adaptive_as_weighted_with_the_given_weights() -> None:
    runs = [[("a", 3.0), ("b", 1.0)], [("b", 0.9), ("c", 0.1)]]
    assert fuse(FusionMode.ADAPTIVE, runs, weights=[0.4, 1.6]) == fuse(
        FusionMode.WEIGHTED, runs, weights=[0.4, 1.6]
    )
    arrays = [ArrayRun.of([1, 2], [3.0, 1.0]), ArrayRun.of([2, 3], [0.9, 0.1])]
    adaptive = fuse_arrays(FusionMode.ADAPTIVE, arrays, weights=[0.4, 1.6])
    fixed = fuse_arrays(FusionMode.WEIGHTED, arrays, weights=[0.4, 1.6])
    assert adaptive.keys.tolist() == fixed.keys.tolist()
    assert adaptive.scores.tolist() == fixed.scores.tolist()


def test_adaptive_with_a_zero_model_is_the_weighted_fusion(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    weighted = HybridRetriever(retriever_index, retriever_embedder, RetrievalConfig())
    adaptive = HybridRetriever(
        retriever_index,
        retriever_embedder,
        RetrievalConfig(fusion=FusionMode.ADAPTIVE, adaptive=AdaptiveFusion()),
    )
    assert [sp.passage.id for sp in adaptive.retrieve(QUESTION, 10)] == [
        sp.passage.id for sp in weighted.retrieve(QUESTION, 10)
    ]


def test_adaptive_that_trusts_dense_only_ranks_documents_as_the_dense_leg(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    config = RetrievalConfig(
        fusion=FusionMode.ADAPTIVE, adaptive=AdaptiveFusion(intercept=-60.0, max_terms=4)
    )
    fused = HybridRetriever(retriever_index, retriever_embedder, config).candidates(QUESTION)
    dense = DenseRetriever(retriever_embedder, retriever_index.dense, retriever_index.passages)
    # The dense leg reaches all 40 passages, so every document is in it; BM25's weight is
    # 2 * sigmoid(-60) ~ 1e-26, so the documents come in the dense leg's MaxP order.
    order: list[str] = []
    for sp in dense.retrieve(QUESTION, len(retriever_index.passages)):
        if sp.passage.document_id not in order:
            order.append(sp.passage.document_id)
    assert [sp.passage.document_id for sp in fused] == order


def test_config_accepts_adaptive_by_name() -> None:
    assert RetrievalConfig(fusion="adaptive").fusion is FusionMode.ADAPTIVE  # type: ignore[arg-type]
    assert RetrievalConfig().adaptive == FITTED


# ----------------------------------------------------------------------------- served settings


def test_settings_offer_every_fusion_mode_and_take_the_retrievers_default() -> None:
    field = RetrievalSettings.model_fields["fusion"]
    assert set(typing.get_args(field.annotation)) == {mode.value for mode in FusionMode}
    defaults = RetrievalConfig()
    served = Settings().retrieval
    assert (served.fusion, served.lexical_depth, served.dense_depth) == (
        defaults.fusion.value,
        defaults.lexical_depth,
        defaults.dense_depth,
    )


@pytest.mark.parametrize("fusion", ["adaptive", "rrf"])
def test_build_engine_plumbs_the_fusion_setting(
    fusion: str,
    tmp_path: Path,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    from answer.engine import build_engine
    from corpus.loaders import load_corpus
    from index.build import build_index

    build_index(load_corpus(DOCS).documents, tmp_path / "index", retriever_embedder)
    settings = Settings(
        index={"path": tmp_path / "index"},
        retrieval={"fusion": fusion, "top_k": 5},
        answer={"sentence_cache_dir": None, "precompute_sentences": False},
    )
    engine = build_engine(settings)
    policy = PolicyConfig(fused_k=5, guideline_k=4, research_k=4)  # as build_engine sets it
    config = RetrievalConfig(fusion=FusionMode.parse(fusion), policy=policy)
    expected = HybridRetriever(retriever_index, retriever_embedder, config).evidence(QUESTION)
    served = engine.search(QUESTION, top_k=5).fused
    assert [sp.passage.id for sp in served] == [sp.passage.id for sp in expected.fused]
    assert [sp.score for sp in served] == pytest.approx([sp.score for sp in expected.fused])
