"""Standalone questions for follow-ups, rule by rule, on the demo seed conversation and on real
multi-turn conversations.

The MTRAG conversations are the user turns of ../shared/data/mtrag/reference.jsonl, quoted
verbatim (conversation ids in the comments); they are not medical (IBM Cloud docs, FiQA), so
they exercise the generic noun-phrase focus rather than the medical synonym table. The slow test
replays every conversation in that file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retriever.concepts import concept
from retriever.question import QuestionType, analyze
from retriever.rewrite import (
    BARE_FRAME,
    MAX_CHAIN,
    ConversationState,
    Rewrite,
    RewriteRule,
    replay,
    rewrite,
    shares_head,
)

R = RewriteRule
MTRAG = Path(__file__).resolve().parents[2] / "shared" / "data" / "mtrag" / "reference.jsonl"

SEED = [
    "Are vitamin B12 levels higher with lower ferritin levels?",
    "How is iron deficiency treated?",
    "What dose?",
    "And for B12?",
    "What does a high ferritin mean?",
    "What causes pernicious anemia?",
]


def standalones(questions: list[str]) -> list[str]:
    return [r.standalone for r in replay(questions)]


def rules(questions: list[str]) -> list[RewriteRule]:
    return [r.rule for r in replay(questions)]


def assert_reads_as_a_question(turn: Rewrite) -> None:
    text = turn.standalone
    assert text.endswith("?"), text
    assert not text[0].islower(), text
    assert "{" not in text and "}" not in text, text


# ------------------------------------------------------------------ the demo seed conversation


def test_seed_conversation() -> None:
    turns = replay(SEED)
    assert [t.standalone for t in turns] == [
        "Are vitamin B12 levels higher with lower ferritin levels?",
        "How is iron deficiency treated?",
        "How is iron deficiency treated? What dose?",
        "How is vitamin B12 deficiency treated? What dose?",
        "What does a high ferritin mean?",
        "What causes pernicious anemia?",
    ]
    assert [t.rule for t in turns] == [
        R.FIRST,
        R.NEW_TOPIC,  # iron shares no head with vitamin B12 or ferritin
        R.INHERIT_FOCUS,
        R.SUBSTITUTE_FOCUS,
        R.NEW_TOPIC,
        R.NEW_TOPIC,
    ]
    assert [t.topic_shift for t in turns] == [False, True, False, True, True, True]
    # the analysis is of the standalone question: the follow-up's own type leads
    assert [t.analysis.qtype for t in turns] == [
        QuestionType.RELATION,
        QuestionType.TREATMENT,
        QuestionType.DOSAGE,
        QuestionType.DOSAGE,
        QuestionType.DIAGNOSIS,
        QuestionType.CAUSE,
    ]
    b12 = turns[3].state.focus[0]
    assert (b12.name, b12.head, b12.qualifier) == (
        "vitamin B12 deficiency",
        "vitamin B12",
        "deficiency",
    )
    assert turns[3].state.frame == "How is {focus} treated? What dose?"


def test_pronoun_in_a_treatment_conversation_is_the_nutrient() -> None:
    turns = replay(
        [
            "How is iron deficiency treated?",
            "What dose?",
            "Is it safe in pregnancy?",
            "And for B12?",
        ]
    )
    assert turns[2].rule is R.PRONOUN
    assert turns[2].standalone == "Is iron safe in pregnancy?"
    assert turns[2].state.frame == "How is {focus} treated? What dose? Is {head} safe in pregnancy?"
    assert turns[3].standalone == (
        "How is vitamin B12 deficiency treated? What dose? Is vitamin B12 safe in pregnancy?"
    )


# ------------------------------------------------------------------ rule by rule


def test_first_turn_stands_as_asked() -> None:
    turn = rewrite("how is iron deficiency treated")
    assert turn.rule is R.FIRST and isinstance(turn.rule, str)  # str mixin: reads as "first"
    assert turn.standalone == "How is iron deficiency treated?"
    assert not turn.topic_shift
    assert turn.state == ConversationState(
        focus=(concept("iron deficiency"),),
        frame="How is {focus} treated?",
        qtype=QuestionType.TREATMENT,
        standalone="How is iron deficiency treated?",
    )


def test_a_bare_noun_phrase_opens_a_topic_as_a_question() -> None:
    turn = rewrite("Ferritin")
    assert turn.standalone == "What is known about ferritin?"
    assert turn.state.frame == BARE_FRAME
    follow = rewrite("What does a high level mean?", turn.state)
    assert follow.rule is R.INHERIT_FOCUS
    assert follow.standalone == "What is known about ferritin? What does a high level mean?"
    assert follow.analysis.qtype is QuestionType.DIAGNOSIS


def test_inherit_focus_chains_frames() -> None:
    turns = replay(["How is iron deficiency treated?", "What dose?", "How often?"])
    assert [t.rule for t in turns[1:]] == [R.INHERIT_FOCUS, R.INHERIT_FOCUS]
    assert turns[2].standalone == "How is iron deficiency treated? What dose? How often?"
    assert turns[2].state.qtype is QuestionType.DOSAGE  # "How often?" has no type of its own


def test_the_chain_keeps_the_full_question_and_the_latest_follow_ups() -> None:
    questions = ["How is iron deficiency treated?", "What dose?", "How often?", "For how long?"]
    last = replay(questions)[-1]
    assert last.standalone == "How is iron deficiency treated? How often? For how long?"
    assert last.state.frame is not None
    assert last.state.frame.count("?") == MAX_CHAIN


def test_substitute_focus_keeps_the_qualifier() -> None:
    turn = replay(["How is iron deficiency treated?", "What about folate?"])[-1]
    assert turn.rule is R.SUBSTITUTE_FOCUS
    assert turn.standalone == "How is folate deficiency treated?"
    assert turn.topic_shift


def test_substitute_focus_with_a_shared_head_is_no_topic_shift() -> None:
    turn = replay(["How is iron deficiency treated?", "And for iron deficiency anemia?"])[-1]
    assert turn.rule is R.SUBSTITUTE_FOCUS
    assert turn.standalone == "How is iron deficiency anemia treated?"
    assert not turn.topic_shift


def test_substitute_focus_replaces_the_first_of_two_concepts() -> None:
    turn = replay([SEED[0], "And for folate?"])[-1]
    assert turn.standalone == "Are folate levels higher with lower ferritin levels?"
    assert [c.name for c in turn.state.focus] == ["folate levels", "ferritin levels"]


def test_a_bare_noun_phrase_without_a_cue_is_not_forced_into_a_two_concept_frame() -> None:
    turn = replay([SEED[0], "Folate"])[-1]
    assert turn.rule is R.NEW_TOPIC
    assert turn.standalone == "What is known about folate?"


def test_substitution_into_a_frame_without_a_placeholder_prefixes_the_focus() -> None:
    turn = replay(["What dose?", "And for B12?"])[-1]
    assert turn.standalone == "Vitamin B12: what dose?"


def test_pronoun_is_replaced_by_the_focus_name() -> None:
    turns = replay(["What causes pernicious anemia?", "Is it safe in pregnancy?"])
    assert turns[1].rule is R.PRONOUN
    assert turns[1].standalone == "Is pernicious anemia safe in pregnancy?"
    assert not turns[1].topic_shift


def test_possessive_pronoun_becomes_an_of_phrase() -> None:
    turn = replay(["What causes pernicious anemia?", "What are its symptoms?"])[-1]
    assert turn.standalone == "What are the symptoms of pernicious anemia?"
    assert turn.analysis.qtype is QuestionType.SYMPTOMS


def test_plural_pronoun_names_every_focus_concept() -> None:
    turn = replay([SEED[0], "Why are they related?"])[-1]
    assert turn.standalone == "Why are vitamin B12 levels and ferritin levels related?"


def test_pronoun_after_the_questions_own_focus_is_left_alone() -> None:
    # LiveQA TQ85: "it" is the calcium supplement named earlier in the same question.
    question = (
        "Is a calcium supplement beneficial for osteoporosis, and should it be taken with "
        "magnesium?"
    )
    turn = replay(["What causes anemia?", question])[-1]
    assert turn.rule is R.NEW_TOPIC
    assert turn.standalone == question


def test_unchanged_when_the_head_is_shared() -> None:
    turn = replay(["What causes iron deficiency?", "How is iron deficiency anemia treated?"])[-1]
    assert turn.rule is R.UNCHANGED
    assert not turn.topic_shift
    assert turn.state.frame == "How is {focus} treated?"  # a full question restarts the chain


def test_new_topic_resets_the_state() -> None:
    turns = replay(
        ["How is iron deficiency treated?", "What dose?", "What causes pernicious anemia?"]
    )
    assert turns[-1].rule is R.NEW_TOPIC and turns[-1].topic_shift
    assert turns[-1].state.frame == "What causes {focus}?"
    assert [c.name for c in turns[-1].state.focus] == ["pernicious anemia"]


def test_population_words_inherit_the_focus_and_how_much_takes_it_as_object() -> None:
    turns = replay(
        [
            "Why does the body need folic acid?",
            "Who needs extra folic acid?",
            "Why does it matter before pregnancy?",
            "How much should a woman take before pregnancy?",
        ]
    )
    assert [c.name for c in turns[0].state.focus] == ["folate"]  # "the body" is no focus
    assert turns[0].analysis.qtype is QuestionType.DEFINITION  # purpose, not cause
    # The pronoun is filled with the user's words ("folic acid"), not the table's "folate".
    assert turns[2].standalone == "Why does folic acid matter before pregnancy?"
    last = turns[3]
    assert last.rule is R.INHERIT_FOCUS and not last.topic_shift  # was new_topic (woman, pregnancy)
    assert last.standalone == "How much folate should a woman take before pregnancy?"
    assert [c.name for c in last.analysis.focus] == ["folate"]
    assert last.analysis.qtype is QuestionType.DOSAGE
    assert last.state.population == ("woman", "pregnancy")  # its own population


def test_how_much_takes_the_nutrient_of_a_deficiency() -> None:
    turn = replay(["How is iron deficiency treated?", "How much should I take?"])[-1]
    assert turn.standalone == "How much iron should I take?"
    assert turn.state.frame == "How is {focus} treated? How much {head} should I take?"


def test_the_attribute_of_a_one_concept_conversation_takes_the_focus() -> None:
    turns = replay(["How is iron deficiency treated?", "What dose?", "What are the symptoms?"])
    assert turns[2].standalone == "What are the symptoms of iron deficiency?"
    assert turns[2].state.frame == (
        "How is {focus} treated? What dose? What are the symptoms of {focus}?"
    )
    # with two concepts, which one is meant is open: the chain keeps both
    two = replay([SEED[0], "What are the symptoms?"])[-1]
    assert two.standalone == (
        "Are vitamin B12 levels higher with lower ferritin levels? What are the symptoms?"
    )


def test_a_pronoun_resolves_past_a_generic_test_word() -> None:
    turns = replay(
        [
            "What is hemochromatosis?",
            "Is it inherited?",
            "How is it treated?",
            "Which blood tests show it?",
        ]
    )
    last = turns[-1]
    assert last.rule is R.PRONOUN and not last.topic_shift
    assert last.standalone == "Which blood tests show hemochromatosis?"
    assert [c.name for c in last.analysis.focus] == ["hemochromatosis"]
    assert last.analysis.qtype is QuestionType.DIAGNOSIS


def test_the_population_of_the_focus_question_is_carried() -> None:
    turns = replay(
        [
            "Why do pregnant women get anemia?",
            "How common is it?",
            "What are the risks for the baby?",
            "Should she take iron supplements?",
        ]
    )
    assert [t.state.population for t in turns] == [("pregnant women",)] * 4
    assert turns[1].standalone == "How common is anemia in pregnant women?"
    # "baby" is a population word, not a new focus; the baby of a pregnancy keeps the
    # pregnant women
    risks = turns[2]
    assert risks.rule is R.INHERIT_FOCUS and not risks.topic_shift
    assert [c.name for c in risks.state.focus] == ["anemia"]
    assert risks.standalone == "What are the risks of anemia in pregnant women for the baby?"
    assert risks.analysis.qtype is QuestionType.RISK
    # its own focus and frame, but "she" can only be the pregnant women: no topic shift, and
    # the standalone question names them
    supplements = turns[3]
    assert supplements.standalone == "Should a pregnant woman take iron supplements?"
    assert supplements.rule is R.UNCHANGED and not supplements.topic_shift
    assert [c.name for c in supplements.state.focus] == ["iron supplements"]


def test_a_follow_up_naming_its_own_population_replaces_the_inherited_one() -> None:
    turns = replay(
        ["Why do pregnant women get anemia?", "How common is it in children?", "How is it treated?"]
    )
    assert turns[1].standalone == "How common is anemia in children?"
    assert turns[2].standalone == "How is anemia treated in children?"
    assert turns[2].state.population == ("children",)


def test_a_she_without_a_population_in_the_conversation_is_a_topic_shift() -> None:
    turn = replay(["What is anemia?", "Should she take iron supplements?"])[-1]
    assert turn.rule is R.NEW_TOPIC and turn.topic_shift


def test_seed_variant_with_iron_deficiency_anemia() -> None:
    turns = replay(
        [
            "Are vitamin B12 levels higher with lower ferritin levels?",
            "How is iron deficiency anemia treated?",
            "What dose?",
            "And for B12?",
            "What does a high ferritin mean?",
            "What causes pernicious anemia?",
        ]
    )
    assert turns[3].standalone == "How is vitamin B12 deficiency anemia treated? What dose?"
    ferritin, pernicious = turns[4], turns[5]
    assert ferritin.analysis.qtype is QuestionType.DIAGNOSIS
    assert [c.name for c in ferritin.state.focus] == ["ferritin"]
    assert ferritin.rule is R.NEW_TOPIC and ferritin.topic_shift
    assert pernicious.rule is R.NEW_TOPIC and pernicious.topic_shift


def test_a_pronoun_subject_keeps_the_focus_and_the_compared_concept_is_secondary() -> None:
    turns = replay(
        [
            "What is thalassemia?",
            "How is it inherited?",
            "Can it be mistaken for iron deficiency?",
            "How is it treated?",
        ]
    )
    compared = turns[2]
    assert compared.standalone == "Can thalassemia be mistaken for iron deficiency?"
    assert compared.analysis.qtype is QuestionType.COMPARISON
    assert [c.name for c in compared.state.focus] == ["thalassemia", "iron deficiency"]
    assert not compared.topic_shift
    assert turns[3].standalone == "How is thalassemia treated?"


def test_a_related_new_question_stands_as_asked() -> None:
    turns = replay(
        ["What is sickle cell disease?", "Can it be cured?", "What is sickle cell trait?"]
    )
    assert turns[1].standalone == "Can sickle cell disease be cured?"
    assert turns[2].standalone == "What is sickle cell trait?"
    assert [c.name for c in turns[2].state.focus] == ["sickle cell trait"]


def test_shares_head() -> None:
    assert shares_head([concept("iron deficiency anemia")], [concept("low iron")])
    assert shares_head([concept("B12 levels")], [concept("cobalamin deficiency")])
    assert not shares_head([concept("ferritin")], [concept("vitamin B12 deficiency")])
    assert shares_head(
        [concept("Red Hat OpenShift")], [concept("Red Hat OpenShift virtualization")]
    )


def test_replay_threads_the_state() -> None:
    by_hand: list[Rewrite] = []
    state = None
    for question in SEED:
        by_hand.append(rewrite(question, state))
        state = by_hand[-1].state
    assert replay(SEED) == by_hand


def test_the_analysis_uses_the_vocabulary() -> None:
    class Index:
        def known(self, word: str) -> bool:
            return word in {"iron", "deficiency", "treated", "cobalamin"}

    turn = replay(["How is iron deficiency treated?", "And for B12?"], Index())[-1]
    assert turn.standalone == "How is vitamin B12 deficiency treated?"
    assert [c.name for c in turn.analysis.focus] == ["vitamin B12 deficiency"]


def test_empty_question_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one word"):
        rewrite(" ? ", replay(SEED)[-1].state)


# ------------------------------------------------------------------ real MTRAG conversations


def test_mtrag_pronouns_resolve_to_the_last_focus() -> None:
    # 72013190593248ab20cca034f21ce38a (IBM Cloud)
    turns = replay(
        [
            "What are the different types of dialog nodes?",
            "Whatar are intents?",
            "How is it created?",
            "Are those the only steps?",
        ]
    )
    assert [t.rule for t in turns] == [R.FIRST, R.NEW_TOPIC, R.PRONOUN, R.PRONOUN]
    assert turns[1].analysis.qtype is QuestionType.DEFINITION  # "Whatar" read as "What"
    assert turns[2].standalone == "How is intents created?"
    assert turns[3].standalone == "Are intents the only steps?"


def test_mtrag_a_bare_noun_phrase_is_substituted_into_the_chain() -> None:
    # 178381df2725fbcdc403a5148c881eb5 (IBM Cloud)
    turns = replay(
        [
            "Is Red Hat Virtualization the same as Red Hat OpenShift virtualization?",
            "What is Red Hat OpenShift?",
            "What benefits does it offer?",
            "Virtualization",
        ]
    )
    assert [t.rule for t in turns] == [R.FIRST, R.UNCHANGED, R.PRONOUN, R.SUBSTITUTE_FOCUS]
    assert turns[0].analysis.qtype is QuestionType.COMPARISON
    assert turns[2].standalone == "What benefits does Red Hat OpenShift offer?"
    assert turns[3].standalone == "What is Virtualization? What benefits does Virtualization offer?"


def test_a_pronoun_for_one_of_two_concepts_leaves_the_relation_behind() -> None:
    turns = replay(
        [
            "Are vitamin B12 levels higher with lower ferritin levels?",
            "How is it treated?",
            "What dose?",
            "What does a high ferritin mean?",
        ]
    )
    assert [t.standalone for t in turns[1:3]] == [
        "How is vitamin B12 levels treated?",
        "How is vitamin B12 levels treated? What dose?",  # not the relation question again
    ]
    assert [c.name for c in turns[2].analysis.focus] == ["vitamin B12 levels"]
    # Ferritin was set aside, not dropped: asking about it continues the topic.
    assert turns[3].rule is R.UNCHANGED and not turns[3].topic_shift


def test_mtrag_definition_follow_ups() -> None:
    # e46e16fa1806c08152b84a4bedddfded (IBM Cloud)
    turns = replay(
        [
            "Are the Lite pricing plans available with all account types in IBM Cloud",
            "What is it?",
            "What is an account?",
            "How can I create one?",
        ]
    )
    assert [t.rule for t in turns] == [R.FIRST, R.PRONOUN, R.UNCHANGED, R.INHERIT_FOCUS]
    assert [t.standalone for t in turns[1:]] == [
        "What is Lite pricing plans?",
        "What is an account?",
        "What is an account? How can I create one?",
    ]


def test_mtrag_an_elliptical_follow_up_inherits_both_concepts() -> None:
    # fa60731970330a3f86312cd7c38762c0 (FiQA)
    turns = replay(
        [" What's the difference between Market Cap and NAV?", "Which is more important?"]
    )
    assert [c.name for c in turns[0].state.focus] == ["Market Cap", "NAV"]
    assert turns[1].rule is R.INHERIT_FOCUS
    assert turns[1].standalone == (
        "What's the difference between Market Cap and NAV? Which is more important?"
    )


def test_mtrag_a_dummy_it_is_not_resolved() -> None:
    # 132020691f5aa996948ace2b9e4ff27c (FiQA), turns 7-8
    turns = replay(
        [
            "Could I put in my will donations for my dearests organization after my death?",
            "Is it necessary to have a will?",
        ]
    )
    assert turns[1].rule is R.INHERIT_FOCUS
    assert "Is it necessary to have a will?" in turns[1].standalone


def test_mtrag_plural_pronoun_and_generic_focus() -> None:
    # 6a618ed660ae299ab1ce599e600214c1 (IBM Cloud), turns 1-3
    turns = replay(
        [
            "How does version 6.15.0 differ from 6.14.0?",
            "Tell me more about the new commands",
            "How do I use them?",
        ]
    )
    assert [c.name for c in turns[0].state.focus] == ["version 6.15.0", "6.14.0"]
    assert turns[1].standalone == "Tell me more about the new commands?"
    assert turns[2].rule is R.PRONOUN
    assert turns[2].standalone == "How do I use commands?"


def test_mtrag_follow_ups_read_as_questions() -> None:
    # 464ef8cb927e21f86d3a1677876c0126 (FiQA)
    turns = replay(
        [
            "How many types of bonds are there?",
            "What does ETF stand for?",
            "What is it?",
            "What do they have in common with mutual funds?",
            "Which one is better?",
        ]
    )
    assert [t.standalone for t in turns[2:]] == [
        "What is ETF?",
        "What do ETF have in common with mutual funds?",
        "What do ETF have in common with mutual funds? Which one is better?",
    ]
    for turn in turns:
        assert_reads_as_a_question(turn)


@pytest.mark.slow
def test_every_mtrag_conversation_rewrites_into_questions() -> None:
    longest: dict[str, list[str]] = {}
    for line in MTRAG.open(encoding="utf-8"):
        row = json.loads(line)
        users = [t["text"] for t in row["input"] if t["speaker"] == "user" and t["text"].strip()]
        if len(users) > len(longest.get(row["conversation_id"], [])):
            longest[row["conversation_id"]] = users
    assert len(longest) > 100
    for questions in longest.values():
        turns = replay(questions)
        assert turns[0].rule is R.FIRST
        for turn in turns:
            assert_reads_as_a_question(turn)
            assert turn.analysis == analyze(turn.standalone)
        assert replay(questions) == turns  # deterministic
