"""Rule-based question analysis: focus, qualifiers, synonyms, types, frames.

The demo questions are the engine's seed conversation; the LiveQA questions are quoted from
../shared/data/liveqa-med-dev/questions.jsonl (``summary`` field, ids in the comments), with
their gold focus and TREC types in the comments. The full dev-set figures are produced by
benchmarks/question_analysis.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from retriever.concepts import SYNONYMS, Concept, concept, is_drug, is_symptom, normalize, with_head
from retriever.question import (
    CUES,
    POPULATION_WORDS,
    QuestionType,
    analyze,
    as_question,
    fill,
    is_content_word,
)

QT = QuestionType


def names(question: str) -> list[str]:
    return [c.name for c in analyze(question).focus]


# ------------------------------------------------------------------ the demo questions


def test_relation_between_two_measures() -> None:
    a = analyze("Are vitamin B12 levels higher with lower ferritin levels?")
    assert [(c.name, c.head, c.qualifier) for c in a.focus] == [
        ("vitamin B12 levels", "vitamin B12", "levels"),
        ("ferritin levels", "ferritin", "levels"),
    ]
    assert a.qtype is QT.RELATION
    assert a.frame == "Are {focus} higher with lower {focus2}?"
    assert not a.refers_back


def test_treatment_question_and_its_frame() -> None:
    a = analyze("How is iron deficiency treated?")
    assert [(c.name, c.head, c.qualifier) for c in a.focus] == [
        ("iron deficiency", "iron", "deficiency")
    ]
    assert a.qtype is QT.TREATMENT
    assert a.frame == "How is {focus} treated?"


def test_frame_without_focus_is_the_question() -> None:
    a = analyze("What dose?")
    assert a.focus == ()
    assert a.qtype is QT.DOSAGE
    assert a.frame == "What dose?"
    assert a.refers_back  # nothing to stand on: it leans on the conversation


def test_focus_without_frame() -> None:
    a = analyze("And for B12?")
    assert [c.name for c in a.focus] == ["vitamin B12"]
    assert a.frame is None
    assert a.refers_back


def test_what_does_a_high_value_mean_is_diagnosis() -> None:
    a = analyze("What does a high ferritin mean?")
    assert [c.name for c in a.focus] == ["ferritin"]  # "high" frames the value
    assert a.qtype is QT.DIAGNOSIS
    assert a.frame == "What does a high {focus} mean?"


def test_population_is_context_not_focus() -> None:
    a = analyze("Is it safe in pregnancy?")
    assert a.focus == ()
    assert a.population == ("pregnancy",)
    assert a.refers_back
    assert a.frame == "Is it safe in pregnancy?"


def test_population_is_the_focus_when_nothing_else_is() -> None:
    a = analyze("What are the symptoms of pregnancy?")
    assert [c.name for c in a.focus] == ["pregnancy"]
    assert a.population == ()
    assert a.qtype is QT.SYMPTOMS


def test_population_words_are_never_the_focus_inside_a_conversation() -> None:
    # The rewriter passes population_focus=False once a conversation has a focus.
    question = "How much should a woman take before pregnancy?"
    assert names(question) == ["woman", "pregnancy"]  # on its own: nothing else to be about
    a = analyze(question, population_focus=False)
    assert a.focus == ()
    assert a.population == ("woman", "pregnancy")
    assert a.qtype is QT.DOSAGE
    assert a.frame == question
    assert a.refers_back


@pytest.mark.parametrize(
    "word",
    "woman women man men mother baby babies infant child children teen adult elderly "  # noqa: SIM905
    "pregnancy pregnant breastfeeding".split(),
)
def test_population_words(word: str) -> None:
    assert word in POPULATION_WORDS
    assert not is_content_word(word)


def test_adjacent_population_words_are_one_phrase() -> None:
    a = analyze("Why do pregnant women get anemia?")
    assert names("Why do pregnant women get anemia?") == ["anemia"]
    assert a.population == ("pregnant women",)
    assert a.qtype is QT.CAUSE  # a "why" about what brings it on


def test_she_and_he_are_pronouns_not_focus() -> None:
    a = analyze("Should she take iron supplements?")
    assert [c.name for c in a.focus] == ["iron supplements"]
    assert a.population == ()
    assert a.refers_back


def test_a_why_about_purpose_is_a_definition() -> None:
    # "Why does X need Y" / "Why does it matter" / "Why is X important" ask what a thing does or
    # why it counts: the answer is a description (DEFINITION), not a cause.
    a = analyze("Why does the body need folic acid?")
    assert [c.name for c in a.focus] == ["folate"]  # "the body" frames, it is no focus
    assert a.qtype is QT.DEFINITION
    assert QT.CAUSE not in a.types
    assert a.frame == "Why does the body need {focus}?"
    assert analyze("Why does it matter before pregnancy?").qtype is QT.DEFINITION
    assert analyze("Why is iron important?").qtype is QT.DEFINITION
    # A demo question, led by a sentence on anaemia's causes before: what taking it is for.
    assert analyze("Why should women take folic acid before and during pregnancy?").qtype is (
        QT.DEFINITION
    )
    assert analyze("Why do pregnant women get anemia?").qtype is QT.CAUSE
    # the purpose cue is weak: a specific type still wins
    assert analyze("Why do I need a blood test?").qtype is QT.DIAGNOSIS


@pytest.mark.parametrize(
    "question",
    ["Does it affect the body?", "How does your body use it?", "Which medicine treats it?"],
)
def test_the_body_and_medicine_are_generic(question: str) -> None:
    assert analyze(question).focus == ()


def test_a_test_question_about_a_pronoun_has_no_focus_of_its_own() -> None:
    a = analyze("Which blood tests show it?")
    assert a.focus == ()  # "blood tests" is the DIAGNOSIS cue, "show" a verb
    assert a.qtype is QT.DIAGNOSIS
    assert a.refers_back


def test_mistaken_for_is_a_comparison_and_the_participle_no_focus() -> None:
    a = analyze("Can thalassemia be mistaken for iron deficiency?")
    assert [c.name for c in a.focus] == ["thalassemia", "iron deficiency"]
    assert a.qtype is QT.COMPARISON
    assert a.frame == "Can {focus} be mistaken for {focus2}?"


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        # LiveQA dev TQ27: "acquired" was a second concept ("does not directly relate dementia to
        # acquired").
        ("Is dementia inherited or acquired?", ["dementia"]),
        ("Is the liver enlarged?", ["liver"]),
        ("Are they expensive?", []),
    ],
)
def test_a_predicate_at_the_end_of_a_copular_question_is_no_focus(
    question: str, focus: list[str]
) -> None:
    assert [c.name for c in analyze(question).focus] == focus


HEREDITARY = "hereditary hemochromatosis"


@pytest.mark.parametrize(
    ("question", "qtype", "focus"),
    [
        # A demo question: "hereditary" made it a risk question, whose lead was "The other types
        # of hemochromatosis are considered rare ...".
        ("How is hereditary hemochromatosis treated?", QT.TREATMENT, [HEREDITARY]),
        ("What is hereditary hemochromatosis?", QT.DEFINITION, [HEREDITARY]),
        ("Is hemochromatosis inherited?", QT.RISK, ["hemochromatosis"]),
        ("Is dementia inherited or acquired?", QT.RISK, ["dementia"]),
    ],
)
def test_inherited_asks_about_inheritance_only_as_the_predicate(
    question: str, qtype: QT, focus: list[str]
) -> None:
    a = analyze(question)
    assert (a.qtype, [c.name for c in a.focus]) == (qtype, focus)


@pytest.mark.parametrize(
    "question",
    [
        # Demo-corpus questions that were led by "Pernicious anemia usually is easy to treat ..."
        # and by a definition.
        "What happens if pernicious anemia is not treated?",
        "Is iron-deficiency anemia dangerous?",
    ],
)
def test_untreated_and_dangerous_ask_for_complications(question: str) -> None:
    a = analyze(question)
    assert a.qtype is QT.COMPLICATIONS and QT.TREATMENT not in a.types


@pytest.mark.parametrize(
    ("question", "qtype", "population"),
    [
        ("How much iron do women need each day?", QT.DOSAGE, ("women",)),
        ("Are iron supplements safe during pregnancy?", QT.SIDE_EFFECTS, ("pregnancy",)),
        ("What exercises are safe for asthmatics?", QT.OTHER, ()),  # LiveQA: lifestyle
        ("Can children get hemochromatosis?", QT.RISK, ("children",)),
        ("How many people need a transfusion?", QT.RISK, ()),
    ],
)
def test_daily_needs_safety_and_who_gets_it(
    question: str, qtype: QT, population: tuple[str, ...]
) -> None:
    a = analyze(question)
    assert (a.qtype, a.population) == (qtype, population)


def test_primary_prevention_is_prevention_not_a_concept() -> None:
    # From eval/data/demo_questions.jsonl: "primary" was quoted as a concept ("On primary
    # (Polycythemia Vera, NHLBI): Primary polycythemia ...").
    a = analyze("Should people over 75 take statins for primary prevention of heart disease?")
    assert a.qtype is QT.PREVENTION
    assert [c.name for c in a.focus] == ["statins", "heart disease"]
    assert [c.name for c in analyze("What is primary hemochromatosis?").focus] == [
        "primary hemochromatosis"
    ]


def test_taking_one_thing_with_another_safely_is_an_interaction_question() -> None:
    a = analyze("Is it safe to take iron with vitamin C?")
    assert a.types == (QT.INTERACTION, QT.SIDE_EFFECTS)
    # "vitamin C" stays whole over an index that keeps no one-letter words.
    words = WordSet("is it safe to take iron with vitamin")
    assert [c.name for c in analyze("Is it safe to take iron with vitamin C?", words).focus] == [
        "iron",
        "vitamin C",
    ]


def test_a_verb_that_ends_a_question_after_do_is_no_focus() -> None:
    # A demo question: the gap lead read "does not directly relate ferritin to measure".
    assert [c.name for c in analyze("What does a serum ferritin test measure?").focus] == [
        "ferritin"
    ]
    assert [c.name for c in analyze("What does a colonoscopy involve?").focus] == ["colonoscopy"]


def test_a_strength_and_a_dosage_form_are_no_focus() -> None:
    # LiveQA dev TQ3: the gap lead read "does not directly relate amphetamine salts to tablets
    # and gluten".
    a = analyze("Do amphetamine salts 20mg tablets contain gluten?")
    assert [c.name for c in a.focus] == ["amphetamine salts", "gluten"]


def test_cause_of_a_named_condition() -> None:
    a = analyze("What causes pernicious anemia?")
    assert [(c.name, c.head, c.qualifier) for c in a.focus] == [
        ("pernicious anemia", "pernicious anemia", None)  # not iron-style "anemia" qualifier
    ]
    assert a.qtype is QT.CAUSE
    assert a.frame == "What causes {focus}?"


# ------------------------------------------------------------------ synonyms and concepts


@pytest.mark.parametrize(
    ("phrase", "canonical"),
    [
        ("B12", "vitamin B12"),
        ("B-12", "vitamin B12"),
        ("vitamin B-12", "vitamin B12"),
        ("cobalamin", "vitamin B12"),
        ("Cyanocobalamin", "vitamin B12"),
        ("anaemia", "anemia"),
        ("iron-deficiency", "iron deficiency"),
        ("low iron", "iron deficiency"),
        ("folic acid", "folate"),
        ("vitamin B9", "folate"),
        ("haemoglobin", "hemoglobin"),
        ("pernicious anaemia", "pernicious anemia"),
        ("DVT", "deep vein thrombosis"),
        ("AMD", "age-related macular degeneration"),
        ("NSAIDS", "NSAIDs"),
        ("non-steroidal anti-inflammatory drugs", "NSAIDs"),
        ("vegetarian", "vegetarian diet"),
    ],
)
def test_synonym_table(phrase: str, canonical: str) -> None:
    assert concept(phrase).name == canonical


def test_synonym_table_lists_the_canonical_spelling_first() -> None:
    for canonical, variants in SYNONYMS.items():
        assert normalize(variants[0]) == normalize(canonical), canonical


@pytest.mark.parametrize(
    ("phrase", "name", "head", "qualifier"),
    [
        ("vitamin B12 deficiency", "vitamin B12 deficiency", "vitamin B12", "deficiency"),
        ("B12 deficient", "vitamin B12 deficiency", "vitamin B12", "deficiency"),
        ("deficiency of vitamin B12", "vitamin B12 deficiency", "vitamin B12", "deficiency"),
        ("iron deficiency anaemia", "iron deficiency anemia", "iron", "deficiency anemia"),
        ("ferritin level", "ferritin levels", "ferritin", "levels"),
        ("iron overload", "iron overload", "iron", "overload"),
        ("calcium supplement", "calcium supplements", "calcium", "supplements"),
        ("low B12", "vitamin B12 deficiency", "vitamin B12", "deficiency"),
        # "anemia" attaches only after a nutrient
        ("sickle cell anemia", "sickle cell anemia", "sickle cell anemia", None),
        ("early AMD", "early AMD", "age-related macular degeneration", None),
        ("Noonan syndrome", "Noonan syndrome", "Noonan syndrome", None),
    ],
)
def test_heads_and_qualifiers(phrase: str, name: str, head: str, qualifier: str | None) -> None:
    c = concept(phrase)
    assert (c.name, c.head, c.qualifier) == (name, head, qualifier)


def test_mentions_tolerate_spelling_hyphens_and_plurals() -> None:
    b12 = concept("B12")
    assert b12.mentioned_in("Vitamin B-12 is found in animal foods.")
    assert b12.mentioned_in("Serum cobalamin was measured.")
    assert not b12.mentioned_in("Vitamin B6 was measured.")
    anemia = concept("anemia")
    assert anemia.mentioned_in("Iron-deficiency anaemias are common.")
    assert not anemia.mentioned_in("Anemone is a flower.")  # word boundary
    assert concept("NSAIDs").mentioned_in("Avoid taking an NSAID with it.")
    assert concept("iron").mentioned_in("IRON is stored as ferritin.")
    assert not concept("iron").mentioned_in("The environment matters.")
    # Words the question writes apart, the text may write as one (LiveQA, MedQuAD).
    smoke = concept("second hand smoke")
    assert smoke.mentioned_in("There is no safe amount of secondhand smoke.")
    assert smoke.mentioned_in("Second-hand smoke contains thousands of chemicals.")


def test_a_symptom_is_not_mentioned_by_the_disease_named_after_it() -> None:
    # GARD, "Rheumatic fever"; MedlinePlus, "Appendicitis" (MedQuAD).
    fever = concept("fever")
    assert not fever.mentioned_in(
        "People with a history of rheumatic fever have a high risk of developing recurrent "
        "episodes of the condition."
    )
    assert fever.mentioned_in("Other symptoms may include\n- Nausea and vomiting\n- Low fever")
    assert fever.mentioned_in("Early signs may include sore throat; fever; and headache.")
    assert concept("rheumatic fever").mentioned_in("Rheumatic fever is diagnosed in children.")


def test_measure_qualifiers_are_transparent_and_conditions_are_not() -> None:
    # Real sentences from corpus/data/demo.jsonl.
    ferritin_sentence = (
        "Affected individuals also have high levels of a protein called ferritin in their "
        "blood, which can be detected with a blood test."
    )  # medquad:3_GHR_QA/0000026#1
    assert concept("ferritin levels").mentioned_in(ferritin_sentence)
    iron_foods = "The following chart illustrates some good dietary sources of iron, vitamin B12, "
    iron_foods += "and folic acid."  # medquad:5_NIDDK_QA/0000138#9
    assert not concept("iron deficiency").mentioned_in(iron_foods)
    assert concept("iron deficiency").mentioned_in("Low iron is common in pregnancy.")
    assert concept("vitamin B12 deficiency").mentioned_in("Cobalamin deficiency causes it.")


def test_with_head_keeps_the_old_qualifier() -> None:
    swapped = with_head(concept("iron deficiency"), concept("B12"))
    assert (swapped.name, swapped.head, swapped.qualifier) == (
        "vitamin B12 deficiency",
        "vitamin B12",
        "deficiency",
    )
    assert swapped.mentioned_in("Cobalamin deficiency is treated with injections.")
    assert with_head(concept("ferritin levels"), concept("folate")).name == "folate levels"
    assert with_head(concept("iron deficiency anemia"), concept("folate")).name == (
        "folate deficiency anemia"
    )


def test_with_head_returns_the_new_concept_when_there_is_nothing_to_keep() -> None:
    folate = concept("folate")
    assert with_head(concept("ferritin"), folate) == folate  # no old qualifier
    b12_levels = concept("B12 levels")
    assert with_head(concept("iron deficiency"), b12_levels) == b12_levels  # its own qualifier
    # "deficiency anemia" needs a nutrient head
    assert with_head(concept("iron deficiency anemia"), concept("sickle cell")).name == (
        "sickle cell"
    )


def test_concepts_are_frozen_and_need_a_word() -> None:
    c = concept("ferritin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "iron"  # type: ignore[misc]
    with pytest.raises(ValueError, match="at least one word"):
        concept("  ?! ")


def test_drugs_and_symptoms() -> None:
    assert is_drug(concept("metformin")) and is_drug(concept("NSAIDs"))
    assert is_drug(concept("Simvastatin")) and is_drug(concept("methadone"))  # INN stems
    assert not is_drug(concept("iron deficiency"))
    assert is_symptom(concept("facial itch")) and is_symptom(concept("fever"))
    assert not is_symptom(concept("infertility"))


def test_plain_concept_constructor() -> None:
    c = Concept("ferritin", "ferritin", None, ("ferritin",))
    assert c.mentioned_in("Ferritin levels fall first.")


# ------------------------------------------------------------------ question types


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("What causes increase in white blood cell count?", QT.CAUSE),  # TQ103 CAUSE
        ("Does metformin cause high blood pressure?", QT.SIDE_EFFECTS),  # TQ89: a drug
        ("Could NSAIDS cause erectile dysfunction?", QT.SIDE_EFFECTS),  # TQ101 SIDE_EFFECT
        ("Does appendicitis always cause fever?", QT.SYMPTOMS),  # TQ59: a symptom
        ("Can chronic cervicitis cause infertility?", QT.CAUSE),  # TQ87 CAUSE
        ("Can a CT scan detect diverticulitis or diverticulosis?", QT.DIAGNOSIS),  # TQ69
        ("What is maximum daily dosage of Metformin?", QT.DOSAGE),  # TQ71
        ("How is hepatitis transmitted?", QT.RISK),  # TQ55 SUSCEPTIBILITY
        ("Is dementia inherited or acquired?", QT.RISK),  # TQ27 INHERITANCE
        ("Can I get cancer from a needlestick?", QT.RISK),  # TQ93 SUSCEPTIBILITY
        ("How common is anemia in pregnant women?", QT.RISK),  # how many: prevalence
        ("How many people have sickle cell trait?", QT.RISK),
        ("How to prevent shingles?", QT.PREVENTION),  # TQ79
        (
            "Are there any drug-drug interactions between Gabapentin and hydrocodone?",
            QT.INTERACTION,
        ),  # TQ61
        ("Can I take iron with vitamin C?", QT.INTERACTION),
        ("Are confusion and facial itch possible side effects of methadone?", QT.SIDE_EFFECTS),
        ("Whar are Schmorl's nodes?", QT.DEFINITION),  # TQ45: typo in the question word
        ("where can i find information on Beckwith-Wieddeman Syndrome?", QT.DEFINITION),  # TQ21
        ("What does HNPP mean?", QT.DEFINITION),  # an abbreviation, not a lab value
        ("How do I find out if my fibromyalgia is genetic?", QT.DIAGNOSIS),  # TQ15
        ("What are the effects of smoking on the digestive system?", QT.RELATION),  # TQ91 EFFECT
        ("Is vitamin D important for calcium?", QT.RELATION),  # yes/no about two concepts
        (
            "What is the difference between iron deficiency anemia and pernicious anemia?",
            QT.COMPARISON,
        ),
        ("What kind of doctor should I see for a toddler who may have back problems?", QT.OTHER),
        ("Do amphetamine salts 20mg tablets contain gluten?", QT.OTHER),  # TQ3 INGREDIENT
        # An attribute of the focus, not a definition (TQ19 USAGE).
        (
            "What is the stability, effectiveness and toxicity of sevoflurane once the product "
            "container has been opened?",
            QT.OTHER,
        ),
        ("Is Game of Thrones on HBO?", QT.RELATION),
        ("Hello there!", QT.OTHER),
    ],
)
def test_main_type(question: str, qtype: QuestionType) -> None:
    assert analyze(question).qtype is qtype


def test_all_types_in_order_of_appearance_main_first() -> None:
    # TQ57 (gold CAUSE, TREATMENT) and TQ65 (TREATMENT, PREVENTION)
    assert analyze("What are the causes and treatments for rib cage pain?").types == (
        QT.CAUSE,
        QT.TREATMENT,
    )
    assert analyze(
        "What are non-toxic treatments and prevention protocols for mite infestation in humans?"
    ).types == (QT.TREATMENT, QT.PREVENTION)


def test_a_definition_gives_way_to_a_specific_type() -> None:
    # TQ97 (gold DIAGNOSIS) and TQ49 (gold INFORMATION, SYMPTOM, TREATMENT)
    a = analyze("What is ischemic syncope stroke and how is it diagnosed?")
    assert a.types == (QT.DIAGNOSIS, QT.DEFINITION)
    b = analyze("What is bundle blockage and its symptoms and treatments?")
    assert b.types == (QT.SYMPTOMS, QT.DEFINITION, QT.TREATMENT)


def test_the_last_question_decides_the_main_type() -> None:
    a = analyze("How is iron deficiency treated? What dose?")
    assert a.qtype is QT.DOSAGE
    assert a.types == (QT.DOSAGE, QT.TREATMENT)
    assert [c.name for c in a.focus] == ["iron deficiency"]


def test_every_type_but_other_has_a_cue() -> None:
    cued = {cue.qtype for cue in CUES}
    assert cued >= set(QT) - {QT.OTHER}


# ------------------------------------------------------------------ focus extraction


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # LiveQA dev (gold focus in the comment)
        (
            "What is the relationship between Noonan syndrome and polycystic renal disease?",
            ["Noonan syndrome", "polycystic renal disease"],
        ),  # TQ1: both
        (
            "Can birth control drug Ocella cause Deep Vein Thrombosis",
            ["birth control", "Ocella", "deep vein thrombosis"],
        ),  # TQ7: DVT
        (
            "How to differentiate between HNPP and arthritis?",
            ["hereditary neuropathy with liability to pressure palsies", "arthritis"],
        ),  # TQ13: hnpp
        ("What are the causes and treatments for rib cage pain?", ["rib cage pain"]),  # TQ57
        (
            "Can Liver cancer be detected in an upper GI endoscopy?",
            ["Liver cancer", "upper GI endoscopy"],
        ),  # TQ95
        ("Could NSAIDS cause erectile dysfunction?", ["NSAIDs", "erectile dysfunction"]),  # TQ101
        ("What causes increase in white blood cell count?", ["white blood cell count"]),  # TQ103
        ("What exercises are safe for asthmatics?", ["exercises", "asthma"]),  # TQ47: asthma
        ("When can i stop using estradiol 75g patch?", ["estradiol 75g patch"]),  # TQ17
        # a qualifier before "of" joins its head; proper nouns join across "of"
        ("Symptoms of deficiency of vitamin B12?", ["vitamin B12 deficiency"]),
        ("Is Game of Thrones on HBO?", ["Game of Thrones", "HBO"]),
        # a synonym phrase survives the chunker's cut at "with"
        ("What is granulomatosis with polyangiitis?", ["granulomatosis with polyangiitis"]),
        # verbs in verb positions are not focus (MTRAG questions)
        ("How can I update machine learning models?", ["machine learning models"]),
        ("Do you know when the song was released?", ["song"]),
        ("How are weddings celebrated?", ["weddings"]),
        ("Can you provide more details of E. E. Cummings?", ["E E Cummings"]),
        # a gerund after a preposition or opening a question is a noun
        (
            "What are the effects of smoking on the digestive system?",
            ["smoking", "digestive system"],
        ),
        ("Hi, how is anaemia treated?", ["anemia"]),
    ],
)
def test_focus(question: str, expected: list[str]) -> None:
    assert names(question) == expected


def test_a_parenthesis_after_a_concept_is_an_alias() -> None:
    # TQ63 (gold focus "trisomy 13")
    a = analyze(
        "What are the long-term effects of trisomy 13 (Patau syndrome) and how is it diagnosed?"
    )
    assert [c.name for c in a.focus] == ["trisomy 13"]
    assert a.focus[0].mentioned_in("Patau syndrome is rare.")
    assert a.frame == "What are the long-term effects of {focus} and how is it diagnosed?"
    assert a.types == (QT.PROGNOSIS, QT.DIAGNOSIS)


class WordSet:
    """A vocabulary: the words of a few index passages."""

    def __init__(self, text: str) -> None:
        self.words = set(text.lower().split())

    def known(self, word: str) -> bool:
        return word in self.words


def test_vocabulary_drops_unknown_words_but_keeps_known_synonyms() -> None:
    vocabulary = WordSet("carvedilol interactions cobalamin deficiency hydralazine")
    a = analyze(
        "Are there are any drug-drug interactions between Carvedilol and Hydrslazine?", vocabulary
    )
    assert [c.name for c in a.focus] == ["Carvedilol"]  # the typo is not in the index
    # "B12" is unknown, but the concept has a known term (cobalamin)
    assert [c.name for c in analyze("And for B12?", vocabulary).focus] == ["vitamin B12"]
    assert analyze("And for B12?").focus == analyze("And for B12?", vocabulary).focus


def test_what_the_vocabulary_holds_no_word_of_is_unknown_and_no_back_reference() -> None:
    vocabulary = WordSet("anemia symptoms iron")
    a = analyze("How long do the symptoms of shingles last?", vocabulary)
    assert a.focus == () and [c.name for c in a.unknown] == ["shingles"]
    assert not a.refers_back  # a new subject, though the index does not hold it
    assert analyze("How long do the symptoms of shingles last?").unknown == ()  # no vocabulary
    # A phrase whose last word (its head) the index does not know is unknown as a whole, and
    # the people it is asked about do not become its subject: "acute" alone, or "children",
    # would be answered instead.
    otitis = analyze(
        "What dose of amoxicillin treats acute otitis media in children?",
        WordSet("what dose of treats acute in children"),
    )
    assert otitis.focus == ()
    assert [c.name for c in otitis.unknown] == ["amoxicillin", "acute otitis media"]
    # The typo beside a known drug: the drug is the focus, the typo unknown.
    both = analyze("Do carvedilol and hydrslazine interact?", WordSet("carvedilol"))
    assert [c.name for c in both.focus] == ["carvedilol"]
    assert [c.name for c in both.unknown] == ["hydrslazine"]


# ------------------------------------------------------------------ frames and back-references


def test_frame_drops_leading_filler_and_is_none_for_a_bare_focus() -> None:
    assert analyze("Hi, how is anaemia treated?").frame == "How is {focus} treated?"
    assert analyze("What about folate?").frame is None
    assert analyze("B12 too?").frame is None
    assert analyze("IAM").frame is None


@pytest.mark.parametrize(
    ("question", "refers_back"),
    [
        ("What about folate?", True),
        ("How is it treated?", True),
        ("What causes that?", True),
        ("Are those the only steps?", True),
        ("Are there drugs that lower ferritin?", False),  # a relative "that"
        ("What causes pernicious anemia?", False),
    ],
)
def test_refers_back(question: str, refers_back: bool) -> None:
    assert analyze(question).refers_back is refers_back


def test_fill_puts_names_back() -> None:
    b12, folate = concept("B12 deficiency"), concept("folate deficiency")
    assert fill("How is {focus} treated? What dose?", [b12]) == (
        "How is vitamin B12 deficiency treated? What dose?"
    )
    # more concepts than placeholders join the last one
    assert fill("How is {focus} treated?", [b12, folate]) == (
        "How is vitamin B12 deficiency and folate deficiency treated?"
    )
    assert fill("Is {head} safe in pregnancy?", [concept("iron deficiency")]) == (
        "Is iron safe in pregnancy?"
    )
    # no placeholder: the focus is prefixed
    assert fill("What dose?", [concept("iron deficiency")]) == "Iron deficiency: what dose?"


def test_as_question() -> None:
    assert as_question("  what dose .") == "What dose?"
    assert as_question("Add user identity information") == "Add user identity information?"
    assert as_question("How is it treated?") == "How is it treated?"


def test_empty_question_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one word"):
        analyze("   ")


def test_analysis_is_deterministic() -> None:
    question = "Are vitamin B12 levels higher with lower ferritin levels?"
    assert analyze(question) == analyze(question)


def test_a_measure_of_a_condition_is_the_condition() -> None:
    # "low iron stores" is iron deficiency, not "iron deficiency levels".
    low = concept("low iron stores")
    assert (low.name, low.qualifier) == ("iron deficiency", "deficiency")
    assert low.mentioned_in("Iron-deficiency anemia is treated with iron supplements.")
    assert concept("iron stores").name == "iron levels"
    assert concept("ferritin levels").name == "ferritin levels"
