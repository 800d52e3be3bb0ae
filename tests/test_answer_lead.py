"""The lead's rules: gap statements, concept labels and focus coverage, on real sentences.

The sentences are quoted from the shipped demo corpus (corpus/data/demo.jsonl).
"""

from __future__ import annotations

import pytest

from answer.lead import (
    concept_label,
    core,
    covers,
    gap_statement,
    listing,
    mentions,
    narrowing_of,
    narrowings,
)
from answer.typefit import defines, direction_of, has_dose, states_direction
from retriever.concepts import concept
from retriever.question import analyze

SEED = "Are vitamin B12 levels higher with lower ferritin levels?"


@pytest.mark.parametrize(
    ("question", "statement"),
    [
        (
            SEED,
            "The indexed evidence does not directly relate vitamin B12 levels to ferritin levels.",
        ),
        ("What dose of iron?", "The indexed evidence does not state a dose for iron."),
        (
            "How is pernicious anemia treated?",
            "The indexed evidence does not directly describe how pernicious anemia is treated.",
        ),
        (
            "What does a high ferritin mean?",
            "The indexed evidence does not directly explain what high ferritin means.",
        ),
        (
            "What causes pernicious anemia?",
            "The indexed evidence does not directly describe the causes of pernicious anemia.",
        ),
        # LiveQA questions on two things: the gap is between them ("how calcium supplements,
        # osteoporosis and magnesium is treated" was the type template's reading).
        (
            "Can NSAIDs cause erectile dysfunction?",
            "The indexed evidence does not directly relate NSAIDs to erectile dysfunction.",
        ),
        (
            "Are there any drug-drug interactions between gabapentin and hydrocodone?",
            "The indexed evidence does not directly describe interactions of gabapentin and "
            "hydrocodone.",
        ),
    ],
)
def test_gap_statements_name_the_concepts_in_a_fixed_template(
    question: str, statement: str
) -> None:
    assert gap_statement(analyze(question)) == statement


def test_listing() -> None:
    assert listing(["a"]) == "a"
    assert listing(["a", "b"]) == "a and b"
    assert listing(["a", "b", "c"]) == "a, b and c"


def test_concept_labels_name_the_page_only_when_it_is_about_something_else() -> None:
    ferritin = concept("ferritin levels")
    assert concept_label(ferritin, "African iron overload", "GHR") == (
        "On ferritin levels (African iron overload, GHR)"
    )
    assert concept_label(ferritin, None, "GHR") == "On ferritin levels (GHR)"
    assert concept_label(ferritin, None, None) == "On ferritin levels"


def test_a_qualified_concept_is_covered_by_its_core() -> None:
    # "Pernicious Anemia" (NHLBI): about B12 deficiency without the words "B12 deficiency".
    sentence = "Doctors treat pernicious anemia by replacing the missing vitamin B12 in the body."
    deficiency = concept("vitamin B12 deficiency")
    assert core(deficiency) is not None
    assert not deficiency.mentioned_in(sentence)
    assert mentions(deficiency, sentence)
    # SciFact, "Microcytosis, iron deficiency and thalassaemia in a multi-ethnic community".
    anemia = analyze("What causes iron-deficiency anemia?").focus[0]
    assert mentions(
        anemia,
        "In North Europeans, microcytosis was present in 3% of males (half were iron-deficient).",
    )
    assert not mentions(anemia, "Iron is found in red meat.")


def test_a_sentence_on_a_nutrient_does_not_cover_taking_it_as_a_supplement() -> None:
    # MedlinePlus "Iron" and NHLBI "Iron-Deficiency Anemia" (demo corpus).
    supplements = concept("iron supplements")
    risk = "People at higher risk of having too little iron are young children and women."
    assert supplements.mentioned_in(risk)  # a search for one finds the other ...
    assert not mentions(supplements, risk)  # ... but it does not answer about taking it
    assert mentions(supplements, "Also, your doctor may prescribe iron supplements.")
    # SciFact, dose-dependent effects of folic acid on homocysteine (demo corpus): a dose of it
    # is taking it. The demo question "Does folic acid supplementation lower homocysteine
    # levels?" stated a gap before.
    folate = analyze("Does folic acid supplementation lower homocysteine levels?").focus[0]
    assert mentions(
        folate,
        "Median serum homocysteine level decreased with increasing folic acid dosage, to a "
        "maximum at 0.8 mg of folic acid per day.",
    )
    assert not mentions(folate, "Folic acid (folate) is a form of vitamin B that's found in foods.")


def test_coverage_counts_the_concepts_a_quote_or_its_page_label_names() -> None:
    focus = analyze(SEED).focus
    # "African iron overload" (GHR): ferritin, but no B12.
    ferritin_only = "Ferritin stores and releases iron in cells."
    assert covers(focus, ferritin_only) == 1
    # "Pernicious Anemia" (NHLBI): B12, but no ferritin.
    b12_only = "Low levels of vitamin B12 can lead to pernicious anemia."
    assert covers(focus, b12_only) == 1
    treatment = analyze("How is hemochromatosis treated?").focus
    # "Hemochromatosis" (NHLBI): the quote names no condition; its page label does.
    phlebotomy = (
        "Treatments include therapeutic phlebotomy, iron chelation therapy, dietary changes."
    )
    assert covers(treatment, phlebotomy) == 0
    assert covers(treatment, phlebotomy, "Hemochromatosis") == 1


def test_a_dose_is_an_amount_taken_not_a_blood_concentration() -> None:
    # SciFact abstracts in the demo corpus.
    assert has_dose("Participants received a daily capsule containing 40 mg of folic acid.")
    assert not has_dose(
        "The concentration of hemoglobin in blacks was found to be 0.5 to 1.0 g/dl lower than "
        "that of income-matched whites in several large surveys."
    )
    assert not has_dose("Release of ferritin in vitro was increased (176 +/- 35 ng/10(6) AM).")
    assert not has_dose("340 subjects with microcytic hypochromic anemia [MCV<80fl; MCH<27pg].")


def test_reading_a_value_needs_a_sentence_about_that_direction() -> None:
    assert direction_of("What does a high ferritin mean?") == "high"
    assert direction_of("What does low ferritin mean?") == "low"
    assert direction_of("What is ferritin?") is None
    # A deficiency in a question names a condition: the gap statement read "does not directly
    # explain what low iron-deficiency anemia means". In an answer it speaks of low values.
    assert direction_of("What blood tests diagnose iron-deficiency anemia?") is None
    assert states_direction("Half were iron-deficient.", "low")
    # "African iron overload" (GHR) and "Hemochromatosis" (NIDDK).
    assert states_direction(
        "Affected individuals also have high levels of a protein called ferritin in their blood.",
        "high",
    )
    assert not states_direction(
        "Health care providers will test serum ferritin levels periodically.", "high"
    )


def test_a_definition_names_the_focus_as_its_subject() -> None:
    focus = analyze("What is hemochromatosis?").focus
    # "Hemochromatosis" (NHLBI and GARD).
    assert defines(
        "Hemochromatosis is a disease in which too much iron builds up in the body.", focus
    )
    assert not defines("You can't prevent primary, or inherited, hemochromatosis.", focus)


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        # NHLBI, "Iron-Deficiency Anemia" and "Pernicious Anemia" (demo corpus).
        (
            "Severe iron-deficiency anemia can lead to heart problems, infections and other "
            "complications.",
            "severe",
        ),
        (
            "For less severe pernicious anemia, your doctor may recommend large doses of vitamin "
            "B12 pills.",
            "less severe",
        ),
        ("Treatment for iron-deficiency anemia will depend on its cause and severity.", None),
        ("Mild iron-deficiency anemia may not cause any signs or symptoms.", "mild"),
        # GHR, "iron-refractory iron deficiency anemia" (demo corpus): a rare inherited form.
        (
            "The symptoms of iron-refractory iron deficiency anemia can include tiredness "
            "(fatigue), weakness, pale skin, and other complications.",
            "iron-refractory",
        ),
    ],
)
def test_a_sentence_narrowed_to_some_cases_of_the_focus(text: str, severity: str | None) -> None:
    focus = [concept("iron-deficiency anemia"), concept("pernicious anemia")]
    assert narrowing_of(focus, text) == severity
    assert narrowings("How is severe anemia treated?") == {"severe"}


def test_a_gap_after_a_partial_answer_names_the_type_not_a_missing_relation() -> None:
    # After "Vitamin C helps your body absorb iron ..." (an interaction), "does not directly
    # relate iron to vitamin C" would contradict the quote.
    a = analyze("Is it safe to take iron with vitamin C?")
    assert (
        gap_statement(a)
        == "The indexed evidence does not directly describe interactions of iron and vitamin C."
    )
    side = analyze("Are iron supplements and vitamin C safe to take?")
    assert gap_statement(side, between=False).startswith(
        "The indexed evidence does not directly describe the side effects of"
    )
