"""Quotes keep their context: units, research roles, study sizes and source labels.

Every text here is quoted from the shipped demo corpus (corpus/data/demo.jsonl), from the
MedQuAD page or research abstract named next to it.
"""

from __future__ import annotations

import numpy as np
import pytest

from answer.quotes import (
    Role,
    leans_back,
    names_topic,
    quote_units,
    reports_findings,
    research_role,
    sample_size,
    source_label,
    undefined_abbreviation,
)
from answer.sentences import candidate_spans
from corpus.types import EvidenceTier, Passage

# GHR, "African iron overload" (medquad:3_GHR_QA/0000026#1), the end of its first section.
AFRICAN_IRON_OVERLOAD = (
    "African iron overload is associated with an increased risk of developing infections such "
    "as tuberculosis. People with African iron overload may have a slightly low number of red "
    "blood cells (mild anemia), possibly because the iron that accumulates in the liver, bone "
    "marrow, and spleen is less available for production of red blood cells. Affected "
    "individuals also have high levels of a protein called ferritin in their blood, which can "
    "be detected with a blood test."
)


def passage(text: str, title: str = "African iron overload", source: str = "GHR") -> Passage:
    return Passage(
        id="p0000000000000001",
        document_id="doc",
        text=text,
        start=0,
        end=len(text),
        section="",
        title=title,
        tier=EvidenceTier.GUIDELINE,
        source=source,
        licence="CC BY 4.0",
        dataset="medquad",
    )


def units_of(p: Passage) -> list[str]:
    spans = candidate_spans(p)
    vectors = np.eye(len(spans), 8, dtype=np.float32)
    return [u.span.text for u in quote_units(p, spans, vectors)]


@pytest.mark.parametrize(
    "text",
    [
        "Affected individuals also have high levels of a protein called ferritin in their blood.",
        "This protein is involved in the process of iron absorption in the body.",
        "These patients had lower serum vitamin B12 levels.",
        "In this study, ferritin was measured in 120 children.",
        "It is particularly associated with consumption of a traditional African beer.",
        "They may also have an enlarged spleen.",
    ],
)
def test_sentences_that_lean_on_an_earlier_one(text: str) -> None:
    assert leans_back(text)


@pytest.mark.parametrize(
    "text",
    [
        "African iron overload results from a diet high in iron.",
        "Ferritin stores and releases iron in cells.",
        "Iron-deficiency anemia is a common, easily treated condition.",
        "Italy has a high prevalence of thalassemia.",  # "It" inside a word is not "It"
    ],
)
def test_sentences_that_stand_alone(text: str) -> None:
    assert not leans_back(text)


def test_a_leaning_sentence_is_quoted_with_its_antecedent_as_one_contiguous_span() -> None:
    p = passage(AFRICAN_IRON_OVERLOAD)
    units = units_of(p)
    joined = [u for u in units if "Affected individuals" in u]
    assert joined == [
        "People with African iron overload may have a slightly low number of red blood cells "
        "(mild anemia), possibly because the iron that accumulates in the liver, bone marrow, "
        "and spleen is less available for production of red blood cells. Affected individuals "
        "also have high levels of a protein called ferritin in their blood, which can be "
        "detected with a blood test."
    ]
    assert all(u in p.text for u in units)  # verbatim, contiguous
    assert not any(u.startswith("Affected individuals") for u in units)


def test_a_comparison_with_what_the_reader_does_not_see_is_not_quoted() -> None:
    # GHR, "Imerslund-Grasbeck syndrome" (demo corpus): the AMN gene is named in a part of the
    # page before these sentences.
    cubilin = (
        "Without cubilin function in the small intestine, vitamin B12 is not taken into the "
        "body. Like AMN gene mutations, some CUBN gene mutations impair cubilin's function in "
        "both the small intestine and the kidneys, leading to a shortage of vitamin B12 and "
        "proteinuria."
    )
    units = units_of(passage(cubilin, title="Imerslund-Grasbeck syndrome"))
    assert not any("Like AMN" in u for u in units)
    named = "Mutations in the AMN gene impair cubilin's function. " + cubilin.split(". ", 1)[1]
    # After a sentence that names what it compares with, the two are quoted as one.
    units = units_of(passage(named, title="Imerslund-Grasbeck syndrome"))
    assert named in units and not any(u.startswith("Like AMN") for u in units)


def test_a_leaning_sentence_after_a_heading_is_kept_only_framed_by_its_page() -> None:
    # GHR, "Imerslund-Grasbeck syndrome": a section opens with "This condition ...".
    text = (
        "How is Imerslund-Grasbeck syndrome inherited? This condition is inherited in an "
        "autosomal recessive pattern, which means both copies of the gene in each cell have "
        "mutations."
    )
    p = passage(text, title="Imerslund-Grasbeck syndrome")
    spans = candidate_spans(p)
    units = quote_units(p, spans, np.eye(len(spans), 8, dtype=np.float32))
    assert [u.framed for u in units] == [True]
    assert source_label(p) == "On Imerslund-Grasbeck syndrome (GHR)"


def test_a_leaning_sentence_whose_antecedent_was_cut_is_not_quoted() -> None:
    # The table row before it is no quotable sentence, so "They" has no antecedent to show.
    text = "Normal range 12-300 ng/mL 10-150 ng/mL\nThey are measured with a simple blood test."
    assert units_of(passage(text)) == []


# MedlinePlus, "Appendicitis" (MedQuAD 4_MPlus_Health_Topics_QA), as the MedQuAD loader lays it
# out: a list's items on their own lines, the paragraph after it on its own line.
APPENDICITIS = (
    "The main symptom is pain in the abdomen, often on the right side. It is usually sudden "
    "and gets worse over time. Other symptoms may include\n- Swelling in the abdomen\n- Loss "
    "of appetite\n- Nausea and vomiting\n- Constipation or diarrhea\n- Inability to pass gas\n"
    "- Low fever\nNot everyone with appendicitis has all these symptoms."
)


def test_a_sentence_that_leans_on_a_list_is_quoted_with_the_list() -> None:
    # "these symptoms" are the list's; its lead-in ("Other symptoms") leans on the two
    # sentences before it, so all of it is one unit, verbatim.
    units = units_of(passage(APPENDICITIS, title="Appendicitis", source="MedlinePlus"))
    assert units[-1] == APPENDICITIS
    assert not any(u.startswith(("Not everyone", "Other symptoms")) for u in units)


def test_a_sentence_after_items_without_a_lead_in_is_not_quoted() -> None:
    # Items straight after a heading: nothing says what they are a list of.
    text = "What are the symptoms?\n- Swelling in the abdomen\n- Low fever\n" + (
        "Not everyone with appendicitis has all these symptoms."
    )
    assert units_of(passage(text, title="Appendicitis")) == []


@pytest.mark.parametrize(
    ("text", "role"),
    [
        # SciFact, "Gene--nutrition interactions in coronary artery disease ..."
        ("Levels of plasma homocysteine, folate and vitamin B12 were also determined.", "methods"),
        ("We measured iron indexes, tHcy, CRP, and BMI.", "methods"),
        # SciFact, "Plasma homocysteine concentration is decreased by dietary intervention"
        (
            "The serum concentration of vitamin B12 remained unchanged during the intervention.",
            "result",
        ),
        (
            "Plasma tHcy was significantly lower in the intervention group than in controls.",
            "result",
        ),
        ("We identified no recipient with CJD.", "result"),
    ],
)
def test_research_sentences_are_results_or_methods(text: str, role: str) -> None:
    assert research_role(text) is Role(role)


def test_sample_size_is_the_largest_group_an_abstract_names() -> None:
    assert (
        sample_size(
            "In a double-blind, 6-wk study, 55 postmenopausal women aged 47-72 y "
            "were randomly assigned to 1 of 4 soy protein groups."
        )
        == 55
    )
    assert sample_size("The biomarkers were evaluated in the FINRISK97 cohort (n = 7,827).") == 7827
    assert sample_size("In 1980, serum ferritin was measured.") is None  # a year is no size
    assert sample_size("Ferritin stores iron.") is None


def test_a_quote_names_its_page_topic_or_is_framed() -> None:
    p = passage(AFRICAN_IRON_OVERLOAD)
    assert names_topic("People with African iron overload may have mild anemia.", p)
    assert not names_topic("Ferritin stores and releases iron in cells.", p)


def test_a_research_finding_joined_to_a_methods_antecedent_is_not_quoted() -> None:
    # Shortened from two SciFact abstracts on microcytosis in the demo corpus.
    methods = (
        "340 subjects with microcytic hypochromic anemia from Southwest Iran were studied. "
        "These include 325 individuals: 171 with Beta-thalassemia trait."
    )
    findings = (
        "In North Europeans, microcytosis was present in 3% of males. "
        "These differences were significant in both sexes and in every age group."
    )
    for text, expected in ((methods, False), (findings, True)):
        p = passage(text, title="Microcytosis", source="SciFact")
        spans = candidate_spans(p)
        units = quote_units(p, spans, np.eye(len(spans), 8, dtype=np.float32))
        assert [u.sentences for u in units] == [1, 2]
        assert reports_findings(units[1], p.text) is expected


@pytest.mark.parametrize(
    "text",
    [
        # SciFact abstracts that state their question, or announce explanations without giving
        # them: they name a finding's words ("reduce the risk", "association") but report none.
        "We investigated the hypothesis that folic acid supplementation and dietary folate intake "
        "before conception and during pregnancy reduce the risk of preeclampsia.",
        "Possible explanations for the association between folate deficiency and pregnancy "
        "complications are suggested.",
        "A randomized, placebo-controlled study of folic acid (5 mg/d) for 6 weeks was undertaken "
        "in 33 patients.",
        # SciFact (demo corpus), pulmonary iron in a hemochromatosis mouse: the background.
        "Emerging evidence suggests that pulmonary iron accumulation is implicated in a "
        "spectrum of chronic lung diseases.",
        "However, the mechanism(s) involved in pulmonary iron deposition and its role in the in "
        "vivo pathogenesis of lung diseases remains unknown.",
        # SciFact (demo corpus), preoperative anaemia and colectomy outcomes.
        "This study investigated the National Surgical Quality Improvement Program (NSQIP) "
        "database to determine if preoperative anemia in patients undergoing open and "
        "laparoscopic colectomies is an independent predictor for an adverse composite outcome.",
    ],
)
def test_a_sentence_that_states_the_question_is_methods(text: str) -> None:
    assert research_role(text) is Role.METHODS


def test_a_finding_stays_a_result() -> None:
    text = (
        "Intervention trials and observational studies show that periconceptional (<12 weeks "
        "gestation) folic acid supplementation significantly reduced the risk of neural tube "
        "defects."
    )
    assert research_role(text) is Role.RESULT


# NIDDK, "Hemochromatosis": the sentences after the serum ferritin test's bullet item.
SERUM_FERRITIN = (
    "The serum ferritin test detects the amount of ferritina protein that stores ironin the "
    "blood. Levels above 300 \u00b5g/L in men and 200 \u00b5g/L in women are considered abnormal. "
    "Levels above 1,000 \u00b5g/L in men or women indicate a high chance of iron overload and "
    "organ damage. If either test shows higher-than-average levels of iron in the body, health "
    "care providers can order a special blood test that can detect two copies of the C282Y "
    "mutation to confirm the diagnosis."
)


def test_levels_and_either_test_lean_on_the_sentence_before() -> None:
    assert leans_back("Levels above 300 \u00b5g/L in men and 200 \u00b5g/L in women are abnormal.")
    assert leans_back("If either test shows higher-than-average levels of iron in the body.")
    assert not leans_back("Levels of ferritin rise in inflammation.")
    units = units_of(passage(SERUM_FERRITIN, title="Hemochromatosis", source="NIDDK"))
    # "Levels above 300 ..." is never quoted without the test it is about.
    assert not any(u.startswith("Levels above") for u in units)
    assert any(u.startswith("The serum ferritin test") and "Levels above 300" in u for u in units)


def test_a_demonstrative_inside_the_sentence_leans_back() -> None:
    # NHLBI, "Pernicious Anemia"; SciFact, a folate feeding study.
    assert leans_back(
        "If vitamin B12 deficiency isn't treated, these infants may have permanent growth problems."
    )
    assert leans_back(
        "The serum concentration of vitamin B12 remained unchanged during the intervention."
    )
    assert not leans_back(
        "Doctors treat pernicious anemia by replacing the missing vitamin B12 in the body."
    )


def test_an_abstract_sentence_with_an_undefined_abbreviation_is_flagged() -> None:
    # SciFact, iron and ferritin release by alveolar macrophages of smokers.
    assert (
        undefined_abbreviation(
            "AM recovered from 12 smokers (8 HS, 4 LS) contained greater than 10 nmol of iron "
            "per 10(6) cells."
        )
        == "AM"
    )
    # Defined in the same sentence, or known to every clinician.
    assert (
        undefined_abbreviation(
            "Since 2004, several reported transfusion transmissions of "
            "variant Creutzfeldt-Jakob disease (vCJD) ..."
        )
        is None
    )
    assert (
        undefined_abbreviation(
            "During 14 years of follow-up, we documented 658 incident cases of nonfatal MI and 281 "
            "cases of fatal CHD."
        )
        is None
    )


def test_an_abbreviation_the_abstract_defines_elsewhere_is_undefined_in_the_quote() -> None:
    # SciFact, homocysteine in vitiligo (demo corpus): the abstract defines "homocysteine (Hcy)"
    # in an earlier sentence, so "Hcy" alone means nothing to a reader of the quote.
    abstract = (
        "Therefore, it is possible that an increase of local homocysteine (Hcy) interferes with "
        "normal melanogenesis and plays a role in the pathogenesis of vitiligo. Vitamin B12 and "
        "folic acid, levels of which are decreased in vitiligo, are important cofactors in the "
        "metabolism of Hcy."
    )
    quote = abstract[abstract.index("Vitamin B12") :]
    assert undefined_abbreviation(quote, abstract) == "Hcy"
    assert undefined_abbreviation(quote) is None  # without the abstract it looks like a word
    assert undefined_abbreviation(abstract[: abstract.index(" Vitamin")], abstract) is None


def test_a_definite_measure_or_a_contrast_leans_back() -> None:
    # NHLBI, "Anemia"; NIDDK, "Anemia of Inflammation and Chronic Disease"; NHLBI,
    # "Iron-Deficiency Anemia".
    assert leans_back(
        "The amount is given as a percentage of the total amount of iron you need every day."
    )
    assert not leans_back("The amount of iron you need depends on your age.")
    assert leans_back("In AI/ACD, however, iron stores are normal or high.")
    assert leans_back("Soon, the stored iron gets used up.")


def test_a_sentence_in_an_abstracts_background_is_not_a_finding() -> None:
    # The SciFact abstract on folic acid and preeclampsia in the demo corpus: its background
    # sentence names "reduce the risk", a finding's words, but reports no finding of the study.
    text = (
        "Background/Objectives:Folic acid supplementation has been suggested to reduce the risk "
        "of preeclampsia. However, results from few epidemiologic studies have been inconclusive. "
        "Results:Compared with nonusers, folic acid supplement users had a reduced risk of "
        "preeclampsia (OR=0.61, 95% CI: 0.43, 0.87)."
    )
    p = passage(text, title="Folic acid and preeclampsia", source="SciFact")
    spans = candidate_spans(p)
    assert [s.text[:20] for s in spans] == [
        "Folic acid supplemen",
        "However, results fro",
        "Compared with nonuse",
    ]
    units = quote_units(p, spans, np.eye(len(spans), 8, dtype=np.float32))
    findings = {u.last[:20]: reports_findings(u, p.text) for u in units}
    assert findings == {
        "Folic acid supplemen": False,
        "However, results fro": False,
        "Compared with nonuse": True,
    }


def test_a_sentence_that_sends_the_reader_to_a_link_is_not_quoted() -> None:
    # GARD, "Hemochromatosis" (demo corpus).
    text = (
        "Treatment for hemochromatosis might include phlebotomy and iron chelation therapy. "
        "For more detailed information regarding the treatment of hemochromatosis, please "
        "reference Medscape at the following link."
    )
    assert units_of(passage(text, title="Hemochromatosis", source="GARD")) == [
        "Treatment for hemochromatosis might include phlebotomy and iron chelation therapy."
    ]
