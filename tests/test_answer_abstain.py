"""The abstention features, the model and the support judgement."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from answer.abstain import (
    ABSTAIN_NOTICE,
    ABSTAIN_PROBABILITY,
    ABSTAIN_THRESHOLD,
    INPUTS,
    MODEL,
    WEAK_PROBABILITY,
    WEAK_THRESHOLD,
    AbstentionFeatures,
    AbstentionModel,
    Support,
    abstention_features,
    judge_support,
    model_inputs,
)
from answer.compose import ExtractiveComposer
from answer.settings import Settings
from corpus.types import EvidenceTier, Passage, passage_id
from index.embedder import SentenceTransformerEmbedder
from index.load import PassageIndex
from retriever.concepts import concept
from retriever.dense import DenseRetriever
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.lexical import LexicalRetriever
from retriever.question import QuestionAnalysis, QuestionType
from retriever.types import Evidence, Filters, ScoredPassage
from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401

RELATION = QuestionAnalysis(
    question="Does folic acid lower homocysteine?",
    focus=(concept("folic acid"), concept("homocysteine")),
    qtype=QuestionType.RELATION,
    types=(QuestionType.RELATION,),
    frame="Does {focus} lower {focus2}?",
    refers_back=False,
)
NO_FOCUS = QuestionAnalysis(
    question="What is it?",
    focus=(),
    qtype=QuestionType.DEFINITION,
    types=(QuestionType.DEFINITION,),
    frame="What is it?",
    refers_back=True,
)


def passage(text: str, title: str) -> Passage:
    doc = f"doc:{title}:{text}"
    return Passage(
        id=passage_id(doc, 0, len(text)),
        document_id=doc,
        text=text,
        start=0,
        end=len(text),
        section="",
        title=title,
        tier=EvidenceTier.GUIDELINE,
        source="TEST",
        licence="CC0",
        dataset="test",
    )


def evidence(
    scored: list[tuple[Passage, float]],
    analysis: QuestionAnalysis | None = RELATION,
    lexical_top: float | None = 7.0,
    dense_top: float | None = 0.62,
    joint_z: float | None = 9.5,
) -> Evidence:
    fused = [ScoredPassage(p, s) for p, s in scored]
    return Evidence(
        question="q",
        standalone_query="q",
        fused=fused,
        guideline=fused[:1],
        research=[],
        analysis=analysis,
        lexical_top=lexical_top,
        dense_top=dense_top,
        joint_z=joint_z,
    )


def features(**changes: object) -> AbstentionFeatures:
    base: dict[str, object] = {
        "best_relevance": 0.6,
        "focus_concepts": 2,
        "focus_covered": False,
        "focus_share": 0.5,
        "lexical_top": 0.0,
        "dense_top": 0.0,
        "joint_z": 0.0,
        "fused_gap": 0.0,
    }
    return AbstentionFeatures(**(base | changes))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- features


def test_features_of_a_passage_that_covers_the_focus() -> None:
    iron = passage("Iron is part of hemoglobin.", "Iron")
    folate = passage("Folic acid lowers homocysteine in adults.", "Folic Acid")
    got = abstention_features(evidence([(iron, 2.5), (folate, 1.75)]), 0.58)
    # The second passage names both concepts; fused gap 2.5 - 1.75 = 0.75.
    assert got == AbstentionFeatures(0.58, 2, True, 1.0, 7.0, 0.62, 9.5, 0.75)
    assert got.reported


def test_the_title_counts_and_the_best_passage_gives_the_share() -> None:
    by_title = passage("It lowers homocysteine.", "Folic Acid")
    assert abstention_features(evidence([(by_title, 1.0)]), 0.5).focus_covered
    one = passage("Homocysteine rises with age.", "Ageing")
    other = passage("Folic acid is a B vitamin.", "Vitamins")
    got = abstention_features(evidence([(one, 1.0), (other, 0.5)]), 0.5)
    # Each passage names one of the two concepts: together they name both, but no single
    # passage covers the focus.
    assert (got.focus_covered, got.focus_share, got.focus_concepts) == (False, 0.5, 2)


def test_features_without_focus_or_signals() -> None:
    only = passage("Anything at all.", "Other")
    bare = evidence([(only, 1.25)], NO_FOCUS, lexical_top=None, dense_top=None, joint_z=None)
    got = abstention_features(bare, None)
    # No focus: vacuously covered. One fused passage: no gap. No signals reported.
    assert got == AbstentionFeatures(None, 0, True, 1.0, None, None, None, 0.0)
    assert not got.reported


def test_the_analysis_argument_overrides_the_evidence() -> None:
    only = passage("Homocysteine rises with age.", "Ageing")
    assert abstention_features(evidence([(only, 1.0)]), 0.5, NO_FOCUS).focus_covered
    assert not abstention_features(evidence([(only, 1.0)]), 0.5).focus_covered


def test_model_inputs() -> None:
    f = features(lexical_top=math.e - 1, focus_covered=True, best_relevance=None)
    assert model_inputs(f, ["log_lexical_top", "focus_covered", "best_relevance"]) == [
        pytest.approx(1.0),
        1.0,
        0.0,
    ]
    # A leg that found nothing scores 0 (log(1 + 0) = 0).
    assert model_inputs(
        features(lexical_top=None, dense_top=None), ["log_lexical_top", "dense_top"]
    ) == [0.0, 0.0]
    with pytest.raises(KeyError):
        model_inputs(f, ["no such input"])


# ----------------------------------------------------------------------------- the model

HAND = AbstentionModel(
    inputs=("best_relevance", "focus_covered"),
    means=(0.5, 0.5),
    scales=(0.1, 0.5),
    coefficients=(-2.0, -1.0),
    intercept=0.5,
)


def test_known_coefficients_give_a_known_probability() -> None:
    # z = 0.5 - 2 * (0.6 - 0.5) / 0.1 - 1 * (0 - 0.5) / 0.5 = 0.5 - 2 + 1 = -0.5
    # p = 1 / (1 + e^0.5) = 0.377541
    f = features(best_relevance=0.6, focus_covered=False)
    assert HAND.logit(f) == pytest.approx(-0.5)
    assert HAND.probability(f) == pytest.approx(0.377541, abs=1e-6)
    # Covered: z = 0.5 - 2 - 1 = -2.5, p = 0.075858
    assert HAND.probability(features(focus_covered=True)) == pytest.approx(0.075858, abs=1e-6)


def test_probability_is_stable_at_the_extremes() -> None:
    assert HAND.probability(features(best_relevance=-100.0)) == pytest.approx(1.0)
    assert HAND.probability(features(best_relevance=100.0)) == pytest.approx(0.0, abs=1e-12)


def test_model_validation() -> None:
    with pytest.raises(ValueError, match="one length"):
        AbstentionModel(("best_relevance",), (0.5, 0.1), (0.1,), (1.0,), 0.0)
    with pytest.raises(ValueError, match="unknown inputs"):
        AbstentionModel(("typo",), (0.5,), (0.1,), (1.0,), 0.0)
    with pytest.raises(ValueError, match="positive"):
        AbstentionModel(("best_relevance",), (0.5,), (0.0,), (1.0,), 0.0)


def test_the_served_model_is_consistent() -> None:
    assert set(MODEL.inputs) <= set(INPUTS)
    assert 0 < WEAK_PROBABILITY <= ABSTAIN_PROBABILITY < 1
    # Every input measures how well the index matches: a better match never raises the
    # probability of "unanswerable".
    assert all(c < 0 for c in MODEL.coefficients)


def test_the_served_model_at_the_training_means() -> None:
    # Every standardised input is 0 at the means, so z = intercept = -1.948358 and
    # p = 1 / (1 + e^1.948358) = 1 / (1 + 7.01716) = 0.12473: between the cuts, a weak answer.
    means = dict(zip(MODEL.inputs, MODEL.means, strict=True))
    at_means = features(
        best_relevance=means["best_relevance"],
        dense_top=means["dense_top"],
        joint_z=means["joint_z"],
    )
    assert MODEL.probability(at_means) == pytest.approx(0.12473, abs=1e-5)
    assert judge_support(at_means) is Support.WEAK


# ----------------------------------------------------------------------------- the judgement


def test_judgement_cuts_on_the_probability() -> None:
    f = features(best_relevance=0.6, focus_covered=False)  # p = 0.3775 under HAND
    assert judge_support(f, model=HAND, abstain_at=0.5, weak_at=0.3) is Support.WEAK
    assert judge_support(f, model=HAND, abstain_at=0.5, weak_at=0.4) is Support.STRONG
    assert judge_support(f, model=HAND, abstain_at=0.37, weak_at=0.3) is Support.NONE
    # Nothing quotable: abstain whatever the model says.
    assert judge_support(features(best_relevance=None), model=HAND) is Support.NONE


def test_without_signals_the_best_sentence_score_decides() -> None:
    def unreported(best: float | None) -> AbstentionFeatures:
        return features(best_relevance=best, lexical_top=None, dense_top=None, joint_z=None)

    assert judge_support(unreported(None)) is Support.NONE
    assert judge_support(unreported(ABSTAIN_THRESHOLD - 1e-6)) is Support.NONE
    assert judge_support(unreported(ABSTAIN_THRESHOLD)) is Support.WEAK
    assert judge_support(unreported(WEAK_THRESHOLD - 1e-6)) is Support.WEAK
    assert judge_support(unreported(WEAK_THRESHOLD)) is Support.STRONG
    assert judge_support(unreported(0.5), abstain_below=0.6, weak_below=0.7) is Support.NONE
    # The model, whatever it says, is not asked.
    assert judge_support(unreported(0.9), model=HAND, abstain_at=0.0, weak_at=0.0) is (
        Support.STRONG
    )


def test_judgement_rejects_disordered_cuts() -> None:
    with pytest.raises(ValueError):
        judge_support(features(), abstain_at=0.3, weak_at=0.5)
    with pytest.raises(ValueError):
        judge_support(features(), abstain_at=1.5, weak_at=0.5)
    with pytest.raises(ValueError, match="weak_below"):
        judge_support(features(), abstain_below=0.6, weak_below=0.5)


def test_relevance_thresholds_are_ordered_everywhere() -> None:
    assert 0 < ABSTAIN_THRESHOLD <= WEAK_THRESHOLD < 1
    with pytest.raises(ValueError, match="weak_threshold"):
        Settings(answer={"abstain_threshold": 0.6, "weak_threshold": 0.5})
    settings = Settings()
    assert settings.answer.abstain_threshold == ABSTAIN_THRESHOLD
    assert settings.answer.weak_threshold == WEAK_THRESHOLD


# ----------------------------------------------------------------------------- the signals

QUESTION = "Does folic acid supplementation lower homocysteine?"
OFF_TOPIC = "How do I pay for a car with cash?"


def test_evidence_carries_each_legs_top_score(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    hybrid = HybridRetriever(retriever_index, retriever_embedder)
    got = hybrid.evidence(QUESTION)
    assert got.standalone_query == QUESTION
    # Oracles: each leg alone, searched with the same standalone question.
    lexical = LexicalRetriever(retriever_index.lexical, retriever_index.passages)
    dense = DenseRetriever(retriever_embedder, retriever_index.dense, retriever_index.passages)
    assert got.lexical_top == pytest.approx(lexical.retrieve(QUESTION, 1)[0].score, rel=1e-6)
    assert got.dense_top == pytest.approx(dense.retrieve(QUESTION, 1)[0].score, abs=1e-5)
    # 40 passages, fewer than the dense depth (200): the z-scores are not reported.
    assert len(retriever_index.passages) < hybrid.config.dense_depth and got.joint_z is None
    # A filter nothing passes leaves the legs empty.
    narrow = hybrid.evidence(QUESTION, filters=Filters(year_from=2100))
    assert (narrow.lexical_top, narrow.dense_top, narrow.joint_z) == (None, None, None)


def test_joint_z_is_the_top_score_of_the_default_fusion(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    # Depths of 10, so the dense list is full; the default fusion is z-score fusion by
    # document with equal weights, which is what joint_z computes whatever the fusion (and
    # before the synonym table's "folate" for "folic acid" joins the BM25 leg).
    config = RetrievalConfig(lexical_depth=10, dense_depth=10, synonym_weight=0.0)
    got = HybridRetriever(retriever_index, retriever_embedder, config).evidence(QUESTION)
    assert got.joint_z == pytest.approx(got.fused[0].score, abs=1e-9)
    named = replace(config, synonym_weight=1.0)
    again = HybridRetriever(retriever_index, retriever_embedder, named).evidence(QUESTION)
    assert again.joint_z == got.joint_z
    rrf = RetrievalConfig.plain_rrf(lexical_depth=10, dense_depth=10)
    other = HybridRetriever(retriever_index, retriever_embedder, rrf).evidence(QUESTION)
    assert other.fused[0].score < 1 < other.joint_z  # type: ignore[operator]


def test_prepare_serves_the_judgement_of_its_features(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    config = RetrievalConfig(lexical_depth=10, dense_depth=10)
    hybrid = HybridRetriever(retriever_index, retriever_embedder, config)
    composer = ExtractiveComposer(retriever_embedder)
    for question in (QUESTION, OFF_TOPIC):
        got = hybrid.evidence(question)
        prepared = composer.prepare(got)
        features = abstention_features(got, prepared.best, prepared.analysis)
        assert features.reported
        assert prepared.support is judge_support(features)
    assert composer.compose(hybrid.evidence(OFF_TOPIC)).sections[0].sentences[0].text == (
        ABSTAIN_NOTICE
    )
