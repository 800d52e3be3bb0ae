"""Follow-up query building and topic-shift detection on small, real-looking conversations.

Uses the real model and a real index (tests/data/retriever_docs.jsonl). The conversations are
written like a user of the engine would write them; the expectations are about behaviour
(context used or not, which topic comes back), not about exact scores. Tests of the query
builder's own mechanics (salient words, cues) search the question as typed
(``FollowupConfig(rewrite=False)``); the rewriter's part is tested through ``plan``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from index.load import PassageIndex
from retriever.followup import (
    FollowupConfig,
    LexicalTermStatistics,
    ShiftRule,
    blend,
    build_query,
    context_texts,
    detect_shift,
    find_cue,
    imposed_shift,
    index_terms,
)
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.policy import PolicyConfig
from retriever.question import QuestionType
from retriever.rewrite import Rewrite, RewriteRule, replay
from retriever.types import Conversation, EmptyQueryError, Evidence, Turn
from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401

B12 = Turn(
    "Which foods contain vitamin B12 for people on a vegetarian diet?",
    answer="Vitamin B12 is found in animal foods such as eggs and dairy; vegetarians may need "
    "fortified foods or supplements.",
)
FOLATE = Turn("Does folic acid supplementation lower homocysteine levels?")
ANAEMIA = Turn("What causes iron deficiency anemia in children?")
IRON = Turn("How is iron deficiency treated?")
POLICY = PolicyConfig(fused_k=40, guideline_k=10, research_k=10)


def with_followup(**changes: Any) -> RetrievalConfig:
    config = RetrievalConfig(policy=POLICY)
    return replace(config, followup=replace(config.followup, **changes))


@pytest.fixture(scope="module")
def hybrid(retriever_index: PassageIndex, retriever_embedder) -> HybridRetriever:  # noqa: F811
    return HybridRetriever(retriever_index, retriever_embedder, RetrievalConfig(policy=POLICY))


@pytest.fixture(scope="module")
def typed(retriever_index: PassageIndex, retriever_embedder) -> HybridRetriever:  # noqa: F811
    """The default retriever, but searching the follow-up as typed (no rewriting)."""
    return HybridRetriever(retriever_index, retriever_embedder, with_followup(rewrite=False))


@pytest.fixture(scope="module")
def stats(retriever_index: PassageIndex) -> LexicalTermStatistics:  # noqa: F811
    return LexicalTermStatistics(retriever_index.lexical)


def titles(evidence, n: int = 3) -> list[str]:
    return [sp.passage.title for sp in evidence.fused[:n]]


# ----------------------------------------------------------------------------- query building


def test_first_question_is_searched_as_asked(hybrid: HybridRetriever) -> None:
    plan, _ = hybrid.plan("What causes iron deficiency anemia in children?")
    assert plan.standalone_query == "What causes iron deficiency anemia in children?"
    assert not plan.used_context and not plan.topic_shift
    assert [part.text for part in plan.lexical] == [plan.question]
    assert plan.signals is None


def test_a_synonym_is_also_searched_by_the_name_the_table_gives_it(
    hybrid: HybridRetriever,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    plan, _ = hybrid.plan("What causes cobalamin deficiency?")
    assert plan.synonyms is not None
    assert (plan.synonyms.text, plan.synonyms.weight) == ("vitamin B12", 1.0)
    # Named as the pages name it, a concept adds nothing.
    assert hybrid.plan("What causes vitamin B12 deficiency?")[0].synonyms is None
    off = RetrievalConfig(policy=POLICY, synonym_weight=0.0)
    without = HybridRetriever(retriever_index, retriever_embedder, off)
    assert without.plan("What causes cobalamin deficiency?")[0].synonyms is None
    # The name finds the pages that use it; the abstention signals stay the question's own.
    named, plain = (
        hybrid.evidence("Is cobalamin deficiency common?"),
        without.evidence("Is cobalamin deficiency common?"),
    )
    assert (named.lexical_top, named.dense_top) == (plain.lexical_top, plain.dense_top)
    assert "B12" in named.fused[0].passage.text


def test_elliptical_follow_up_takes_salient_words_from_the_earlier_turn(
    typed: HybridRetriever,
) -> None:
    plan, _ = typed.plan("What dose should I take?", Conversation((B12,)))
    assert not plan.topic_shift and plan.used_context
    assert plan.signals is not None and plan.signals.cue == "what dose"
    words = plan.lexical[1].text.split()
    assert {"b12", "vegetarian"} <= set(words)
    # Stop words and question words never become context words.
    assert not {"which", "for", "on", "a", "the"} & set(words)
    assert plan.standalone_query == f"What dose should I take? {plan.lexical[1].text}"
    assert plan.lexical[1].weight == FollowupConfig().lexical_weight


def test_the_conversation_brings_the_topic_back_into_the_results(hybrid: HybridRetriever) -> None:
    # "How is it treated?" alone is about nothing in particular; after a question about iron
    # deficiency anaemia its passages must come first.
    convo = Conversation((ANAEMIA,))
    with_context = hybrid.evidence("How is it treated?", convo)
    assert with_context.used_context and not with_context.topic_shift
    assert all("iron" in title.lower() for title in titles(with_context, 2))
    alone = hybrid.evidence("How is it treated?")
    assert not alone.used_context
    assert not all("iron" in title.lower() for title in titles(alone, 2))


def test_pronoun_follow_up_keeps_the_topic_even_with_low_similarity(
    typed: HybridRetriever,
) -> None:
    # As typed, the two questions' embeddings are far apart (cosine < 0.3), but "it" leans on
    # the earlier turn, so folic acid stays in the query.
    plan, _ = typed.plan("Is it safe in pregnancy?", Conversation((FOLATE,)))
    assert plan.signals is not None and plan.signals.similarity < 0.3
    assert plan.signals.cue == "it"
    assert not plan.topic_shift
    assert "folic" in plan.standalone_query


# ----------------------------------------------------------------------------- rewriting


def ids(evidence: Evidence) -> list[str]:
    return [sp.passage.id for sp in evidence.fused]


def test_a_substituted_focus_is_searched_without_the_old_one(
    hybrid: HybridRetriever,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    convo = Conversation((IRON,))
    plan, _ = hybrid.plan("And for B12?", convo)
    # A question about B12 that reads on its own, with nothing of iron in any part of the query.
    assert "B12" in plan.standalone_query and plan.standalone_query.endswith("?")
    assert "iron" not in plan.standalone_query.lower()
    assert plan.analysis is not None and plan.analysis.qtype is QuestionType.TREATMENT
    assert plan.topic_shift and not plan.used_context
    assert not any("iron" in part.text.lower() for part in plan.lexical)
    assert plan.dense_weights[1:] == (0.0,)
    # So the results are exactly those of the standalone question asked alone.
    evidence = hybrid.evidence("And for B12?", convo)
    assert ids(evidence) == ids(hybrid.evidence(plan.standalone_query))
    assert "iron" not in evidence.fused[0].passage.title.lower()
    # Why the default shift rule is SUBSTITUTION: the two questions are close, so under the
    # embedding rule the old focus comes back as a context word.
    config = with_followup(shift_rule=ShiftRule.EMBEDDING)
    embedding = HybridRetriever(retriever_index, retriever_embedder, config)
    dragged, _ = embedding.plan("And for B12?", convo)
    assert not dragged.topic_shift
    assert any("iron" in part.text.lower() for part in dragged.lexical[1:])


def test_an_elliptical_follow_up_keeps_the_focus(hybrid: HybridRetriever) -> None:
    convo = Conversation((IRON,))
    plan, _ = hybrid.plan("What dose?", convo)
    assert plan.standalone_query == "How is iron deficiency treated? What dose?"
    assert plan.analysis is not None and plan.analysis.qtype is QuestionType.DOSAGE
    assert not plan.topic_shift and plan.used_context
    evidence = hybrid.evidence("What dose?", convo)
    assert all("iron" in title.lower() for title in titles(evidence, 2))


def test_a_pronoun_is_resolved_to_the_earlier_focus(hybrid: HybridRetriever) -> None:
    plan, _ = hybrid.plan("Is it safe in pregnancy?", Conversation((FOLATE,)))
    assert plan.standalone_query.startswith("Is folate") and "pregnancy" in plan.standalone_query
    assert not plan.topic_shift and plan.used_context


@pytest.mark.parametrize(
    "earlier",
    [(IRON, Turn("What dose?")), (IRON, Turn("And for B12?"))],
    ids=["after an elliptical follow-up", "after a substitution"],
)
def test_a_topic_change_is_not_dragged_back(
    hybrid: HybridRetriever, earlier: tuple[Turn, ...]
) -> None:
    question = "How is hemophilia inherited in families?"
    plan, _ = hybrid.plan(question, Conversation(earlier))
    assert plan.topic_shift and not plan.used_context
    assert plan.standalone_query == question
    assert ids(hybrid.evidence(question, Conversation(earlier))) == ids(hybrid.evidence(question))


@pytest.mark.parametrize(
    "question", ["How large was the effect?", "What was the dose?", "How long was the study?"]
)
def test_the_effect_leans_on_the_earlier_question(question: str) -> None:
    # "the effect", "the dose", "the study" name no new topic: those of what was asked before.
    rewritten = replay([FOLATE.question, question])[-1]
    assert rewritten.rule is RewriteRule.INHERIT_FOCUS and not rewritten.topic_shift
    assert rewritten.standalone.endswith(f"homocysteine levels? {question}")


def test_a_definite_noun_naming_a_thing_of_its_own_is_a_new_topic() -> None:
    assert replay(["What causes measles?", "How does the brain work?"])[-1].topic_shift


def test_imposed_shift_follows_the_rule() -> None:
    swapped = replay([IRON.question, "And for B12?"])[-1]
    new_focus = replay([FOLATE.question, "How is hemophilia inherited in families?"])[-1]
    kept = replay([IRON.question, "What dose?"])[-1]
    assert swapped.rule is RewriteRule.SUBSTITUTE_FOCUS and swapped.topic_shift
    assert new_focus.rule is RewriteRule.NEW_TOPIC and new_focus.topic_shift

    def imposed(rewritten: Rewrite, **changes: Any) -> bool | None:
        return imposed_shift(FollowupConfig(**changes), rewritten)

    # SUBSTITUTION: only a swapped focus is imposed; the rest is left to detect_shift.
    substitution = {"shift_rule": ShiftRule.SUBSTITUTION}
    assert [imposed(r, **substitution) for r in (swapped, new_focus, kept)] == [True, None, None]
    # RECOGNISED (the default): also a new topic between entries of the synonym table.
    # Hemophilia is not one, so that shift is still left to detect_shift.
    known = replay(["What does a high ferritin mean?", "What causes pernicious anemia?"])[-1]
    assert known.rule is RewriteRule.NEW_TOPIC and known.recognised
    assert not new_focus.recognised
    assert [imposed(r) for r in (swapped, new_focus, kept, known)] == [True, None, None, True]
    assert imposed(known, **substitution) is None
    rewriter = {"shift_rule": ShiftRule.REWRITER}
    assert [imposed(r, **rewriter) for r in (swapped, new_focus, kept)] == [True, True, False]
    assert imposed(swapped, shift_rule=ShiftRule.EMBEDDING) is None
    assert imposed(swapped, rewrite=False) is None  # the typed question: no rewriter decisions


def test_shift_rule_names_are_checked() -> None:
    names: dict[str, Any] = {"shift_rule": "rewriter"}  # as read from a settings file
    assert FollowupConfig(**names).shift_rule is ShiftRule.REWRITER
    with pytest.raises(ValueError, match="embedding"):
        FollowupConfig(**{**names, "shift_rule": "cosine"})


@pytest.mark.parametrize(
    "question",
    ["How is hemophilia inherited in families?", "What are the symptoms of a hookworm infection?"],
)
def test_topic_shift_uses_the_question_alone(hybrid: HybridRetriever, question: str) -> None:
    convo = Conversation((FOLATE,))
    evidence = hybrid.evidence(question, convo)
    assert evidence.topic_shift and not evidence.used_context
    assert evidence.standalone_query == question
    # Exactly what the question alone retrieves: nothing of the old topic is dragged back.
    alone = hybrid.evidence(question)
    assert [sp.passage.id for sp in evidence.fused] == [sp.passage.id for sp in alone.fused]


def test_salient_words_prefer_rare_terms_and_recent_turns(stats: LexicalTermStatistics) -> None:
    convo = Conversation((FOLATE,))
    vectors = np.eye(2, 4, dtype=np.float32)[[0, 0]]  # identical: similarity 1, no shift
    cfg = FollowupConfig(lexical_terms=3)
    plan = build_query("Any side effects?", convo, vectors, stats, cfg)
    # Candidates: folic, acid, supplementation, lower, homocysteine, levels (question words
    # dropped). With three slots, the three of highest idf in this index are chosen
    # (here lower 1.84, homocysteine 1.57, levels 1.57; next supplementation 1.27).
    candidates = ["folic", "acid", "supplementation", "lower", "homocysteine", "levels"]
    by_idf = sorted(candidates, key=lambda w: -stats.idf(w))
    assert stats.idf(by_idf[2]) > stats.idf(by_idf[3])  # no tie at the cut
    assert set(plan.lexical[1].text.split()) == set(by_idf[:3])
    # Shown in the order they were said, not by salience.
    assert plan.lexical[1].text.split() == [w for w in candidates if w in by_idf[:3]]

    # Two earlier turns, one word each: the older turn's word counts decay ** 1 times its idf.
    older, newer = Turn("hookworm"), Turn("homocysteine")
    assert stats.idf("hookworm") > stats.idf("homocysteine")  # 3.31 > 1.57 here
    convo2 = Conversation((older, newer))
    vectors3 = np.eye(3, 4, dtype=np.float32)[[0, 0, 0]]
    one = FollowupConfig(lexical_terms=1)
    ratio = stats.idf("homocysteine") / stats.idf("hookworm")  # 0.48

    def chosen(decay: float) -> str:
        cfg = replace(one, decay=decay)
        return build_query("Any side effects?", convo2, vectors3, stats, cfg).lexical[1].text

    assert chosen(ratio * 0.9) == "homocysteine"  # recent word wins under strong decay
    assert chosen(1.0) == "hookworm"  # no decay: the rarer word wins


def test_dense_weights_decay_with_age(stats: LexicalTermStatistics) -> None:
    convo = Conversation((ANAEMIA, B12, FOLATE))
    vectors = np.ones((4, 4), np.float32) / 2  # all identical: no shift
    cfg = FollowupConfig(max_turns=3, dense_weight=0.5, decay=0.5)
    plan = build_query("And the dose?", convo, vectors, stats, cfg)
    # follow-up 1; the most recent earlier question 0.5; then 0.25; then 0.125.
    assert plan.dense_weights == pytest.approx((1.0, 0.5, 0.25, 0.125))
    assert context_texts("And the dose?", convo, cfg) == [
        "And the dose?",
        FOLATE.question,
        B12.question,
        ANAEMIA.question,
    ]


def test_only_max_turns_earlier_turns_are_considered(stats: LexicalTermStatistics) -> None:
    convo = Conversation((ANAEMIA, B12, FOLATE))
    cfg = FollowupConfig(max_turns=1)
    assert context_texts("More?", convo, cfg) == ["More?", FOLATE.question]
    with pytest.raises(ValueError, match="expected 2 vectors"):
        build_query("More?", convo, np.ones((4, 4), np.float32), stats, cfg)


def test_blend_is_the_normalised_weighted_sum() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    # 1 * (1, 0) + 0.5 * (0, 1) = (1, 0.5); norm sqrt(1.25) = 1.118034 -> (0.894427, 0.447214)
    assert blend(vectors, [1.0, 0.5]) == pytest.approx([0.894427, 0.447214], abs=1e-6)
    assert blend(vectors, [1.0, 0.0]) == pytest.approx([1.0, 0.0])


# ----------------------------------------------------------------------------- topic shift


def test_shift_rule_on_fixed_vectors(stats: LexicalTermStatistics) -> None:
    convo = Conversation((FOLATE,))
    cfg = FollowupConfig(shift_similarity=0.3, hard_shift_similarity=0.15, short_question_terms=2)

    def vectors(cosine: float) -> np.ndarray:
        return np.array([[1.0, 0.0], [cosine, np.sqrt(1 - cosine**2)]], np.float32)

    def shift(question: str, cosine: float) -> bool:
        return detect_shift(question, convo, vectors(cosine), stats, cfg)[0]

    plain = "Which vaccines protect against measles outbreaks?"  # no cue, no shared word
    assert shift(plain, 0.2)  # below shift_similarity, nothing leans on the conversation
    assert not shift(plain, 0.5)
    # A cue keeps a low-similarity follow-up on topic, unless below the hard line.
    cued = "Are those vaccines safe for pregnant women?"  # "those"
    assert not shift(cued, 0.2)
    assert shift(cued, 0.1)
    # So does a shared content word ("homocysteine").
    shared = "Which vaccines change homocysteine?"
    is_shift, signals = detect_shift(shared, convo, vectors(0.2), stats, cfg)
    assert not is_shift and "homocystein" in signals.shared_terms
    assert shift(shared, 0.1)
    # An elliptical question (at most 2 content words) never shifts, whatever the cosine.
    assert not shift("Is it safe in pregnancy?", -0.2)
    assert not shift("Vaccines?", 0.0)


def test_cues() -> None:
    assert find_cue("Is it safe in pregnancy?") == "it"
    assert find_cue("What about children?") == "what about"
    assert find_cue("What dose should I take?") == "what dose"
    assert find_cue("Which vaccines protect against measles?") is None


def test_index_terms_skip_question_words(stats: LexicalTermStatistics) -> None:
    assert index_terms("What does folic acid do?", stats) == ["folic", "acid"]


# ----------------------------------------------------------------------------- carried passages


def test_cited_passages_are_carried_forward(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    # Shallow legs (3 candidates each), so a cited passage outside them shows that carrying
    # adds it as a candidate, with RRF weight carry_weight at rank 1 of the carried list.
    config = RetrievalConfig.plain_rrf(
        lexical_depth=3,
        dense_depth=3,
        policy=PolicyConfig(fused_k=40, guideline_k=10, research_k=10),
    )
    hybrid = HybridRetriever(retriever_index, retriever_embedder, config)
    no_carry = HybridRetriever(
        retriever_index,
        retriever_embedder,
        replace(config, followup=replace(config.followup, carry_weight=0.0)),
    )
    question = "How large was the effect?"
    convo = Conversation((Turn(FOLATE.question, answer="Yes, by about a quarter."),))
    without = {sp.passage.id: sp.score for sp in no_carry.evidence(question, convo).fused}
    # A passage in neither leg's top 3 is cited by the earlier answer.
    cited = next(p for p in retriever_index.passages if p.id not in without)
    convo = Conversation((replace(convo.turns[0], cited=(cited.id,)),))
    plan, _ = hybrid.plan(question, convo)
    assert plan.carried == (cited.id,) and not plan.topic_shift

    with_carry = {sp.passage.id: sp.score for sp in hybrid.evidence(question, convo).fused}
    # Only in the carried list, at rank 1: 0.5 / (60 + 1) = 0.008197
    assert with_carry[cited.id] == pytest.approx(0.5 / 61)
    # Everything else keeps its score.
    assert {pid: s for pid, s in with_carry.items() if pid != cited.id} == pytest.approx(without)


def test_cited_passages_are_carried_forward_in_the_default_fusion(
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder,  # noqa: F811
) -> None:
    # Default (z-score, by document): the carried list is min-max normalised, so a lone carried
    # passage adds carry_weight * 1.0 to its document's score.
    policy = PolicyConfig(fused_k=40, guideline_k=10, research_k=10)
    config = RetrievalConfig(lexical_depth=3, dense_depth=3, policy=policy)
    no_carry = replace(config, followup=replace(config.followup, carry_weight=0.0))
    question = "How large was the effect?"
    convo = Conversation((Turn(FOLATE.question, answer="Yes, by about a quarter."),))
    without = HybridRetriever(retriever_index, retriever_embedder, no_carry).evidence(
        question, convo
    )
    seen = {sp.passage.document_id for sp in without.fused}
    cited = next(p for p in retriever_index.passages if p.document_id not in seen)
    convo = Conversation((replace(convo.turns[0], cited=(cited.id,)),))
    with_carry = HybridRetriever(retriever_index, retriever_embedder, config).evidence(
        question, convo
    )
    ids = [sp.passage.id for sp in with_carry.fused]
    assert cited.id in ids
    # Its document is in neither leg, so it gets both legs' floors (their lowest z-scores)
    # plus 0.5 * 1.0 for the carried list. A document missing from one leg at least gets a
    # floor there too, so the carried document beats the weakest document without the bonus.
    weakest = min(sp.score for sp in without.fused)
    assert with_carry.fused[ids.index(cited.id)].score > weakest


def test_nothing_is_carried_across_a_topic_shift(hybrid: HybridRetriever) -> None:
    hemophilia = next(sp.passage for sp in hybrid.evidence("hemophilia").fused)
    convo = Conversation((Turn("Tell me about bleeding disorders", cited=(hemophilia.id,)),))
    plan, _ = hybrid.plan("Which foods are rich in folic acid?", convo)
    assert plan.topic_shift and plan.carried == ()


def test_unknown_cited_ids_are_ignored(hybrid: HybridRetriever) -> None:
    convo = Conversation((Turn(ANAEMIA.question, cited=("p0000000000000000",)),))
    assert hybrid.evidence("How is it treated?", convo).fused


def test_empty_follow_up_raises(hybrid: HybridRetriever) -> None:
    with pytest.raises(EmptyQueryError):
        hybrid.evidence("   ", Conversation((B12,)))
