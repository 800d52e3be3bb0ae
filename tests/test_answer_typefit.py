"""Does a sentence fit a question type? Each rule on real sentences.

Every sentence is quoted verbatim from corpus/data/demo.jsonl; the document id is in the
comment. Each type gets sentences that fit and sentences from the same corpus that do not.
"""

from __future__ import annotations

import pytest

from answer.typefit import (
    VOCABULARY,
    answers_specifically,
    asks_age,
    asks_duration,
    asks_how_common,
    asks_value,
    asks_which_test,
    asks_who,
    defines,
    fits_type,
    has_amount,
    listed,
    names_people,
    names_test,
    states_age,
    states_duration,
    states_how_common,
    states_limit,
    states_purpose,
)
from retriever.concepts import concept
from retriever.question import QuestionType, asks_purpose

QT = QuestionType

# scifact:5152028
FOLIC_DOSE = (
    "High-dose folic acid (5 mg/d) improves endothelial function in CAD, although the "
    "mechanism is controversial."
)
# scifact:11705328
FOLIC_DOSAGE = (
    "CONCLUSIONS A dosage of folic acid of 0.8 mg/d appears necessary to achieve the "
    "maximum reduction in serum homocysteine level across the range of homocysteine levels "
    "in the population."
)
# scifact:33409100
CAPSULE = (
    "INTERVENTION Participants received a daily capsule containing 40 mg of folic acid, 100"
    " mg of pyridoxine hydrochloride (vitamin B6), and 2 mg of cyanocobalamin (vitamin B12)"
    " or a placebo."
)
# medquad:5_NIDDK_QA/0000138#8
EPO = (
    "Additionally, health care providers should consider the use of EPO only when a "
    "patients hemoglobin level is below 10 g/dL."
)
# medquad:8_NHLBI_QA_XML/0000106#7
PINT = (
    "Typically, a pint (1 unit) of blood is removed each week until your hematocrit level "
    "approaches normal."
)
# medquad:2_GARD_QA/0000530#1
B12_INJECTIONS = (
    "Treatment is based on the signs and symptoms present in each person, but may include "
    "vitamin B12 injections and endoscopic surveillance."
)
# medquad:2_GARD_QA/0000258#1
TRANSFUSIONS = "For HbH disease, occasional red blood cell transfusions may be needed."
# NHLBI, "Deep Vein Thrombosis" (MedQuAD): what raises the risk of a condition answers "Can X
# cause it?".
RAISES_RISK = "Hormone therapy or birth control pills also can increase the risk of clotting."
# medquad:2_GARD_QA/0000706#1
BETA_CAUSE = (
    "Beta-thalassemia is caused by mutations in the HBB gene and is usually inherited in an"
    " autosomal recessive manner."
)
# medquad:2_GARD_QA/0000258#1
PALE_SKIN = (
    "Affected people have anemia, which can cause pale skin, weakness, fatigue, and more "
    "serious complications."
)
# medquad:2_GARD_QA/0002766#1
EARLY_SYMPTOMS = "Early symptoms may be vague, such as fatigue or weakness."
# medquad:3_GHR_QA/0000026#1
FERRITIN_TEST = (
    "Affected individuals also have high levels of a protein called ferritin in their "
    "blood, which can be detected with a blood test."
)
# medquad:5_NIDDK_QA/0000185#6
FERRITIN_RANGE = "Levels above 300 g/L in men and 200 g/L in women are considered abnormal."
# scifact:15615957
FOLATE_HCY = (
    "Serum folate increased 174.3% (p<0.0001) and correlated with a decrease in plasma "
    "homocysteine of -19.9% (p<0.03)."
)
# scifact:18557974
BERRIES = (
    "In conclusion, a diet high in fresh berries, citrus fruit, and vegetables effectively "
    "increases serum and RBC folate and decreases plasma homocysteine."
)
# medquad:2_GARD_QA/0000258#3
INHERITANCE = (
    "The inheritance of alpha-thalassemia is complex because the condition involves two "
    "genes: HBA1 and HBA2."
)
# medquad:2_GARD_QA/0000530#6
PREVENTING = (
    "For example, management is focused on preventing vitamin B12, folate and iron "
    "deficiencies in the early stages of the condition."
)
# medquad:8_NHLBI_QA_XML/0000053#1 (after its "Outlook" heading)
DIC_OUTLOOK = "The outlook for DIC depends on its severity and underlying cause."
# medquad:5_NIDDK_QA/0000185#8
LIFE_EXPECTANCY = (
    "For example, treating hemochromatosis can stop the progression of liver damage in its "
    "early stages and lead to a normal life expectancy."
)
# medquad:2_GARD_QA/0005622#5
TRANSPLANT = (
    "While these therapies may offer the possibility of a cure, the complications "
    "associated with transplantation surgery must be considered."
)
# medquad:5_NIDDK_QA/0000103#7
ANTACIDS = "Antacids, however, can have side effects."
# medquad:2_GARD_QA/0000530#1
ABSORPTION = (
    "Overtime, this can wear away the stomach's protective barrier and interfere with the "
    "absorption of several key vitamins (i.e."
)
# medquad:8_NHLBI_QA_XML/0000129#7
ANAGRELIDE = (
    "However, research shows that when compared with hydroxyurea, anagrelide has worse outcomes."
)
# medquad:5_NIDDK_QA/0000138#1
ANEMIA_IS = "Anemia is a condition in which the body has fewer red blood cells than normal."
# medquad:8_NHLBI_QA_XML/0000082#1
IDA_IS = (
    "Iron-deficiency anemia is a common, easily treated condition that occurs if you don't "
    "have enough iron in your body."
)
# medquad:4_MPlus_Health_Topics_QA/0000946#1
VEGETARIAN = (
    "Nutrients vegetarians may need to focus on include protein, iron, calcium, zinc and "
    "vitamin B12."
)


@pytest.mark.parametrize("text", [FOLIC_DOSE, FOLIC_DOSAGE, CAPSULE, EPO, PINT, FERRITIN_RANGE])
def test_has_amount(text: str) -> None:
    assert has_amount(text)


@pytest.mark.parametrize(
    "text",
    [
        VEGETARIAN,
        INHERITANCE,  # "two genes" is a count, not a dose
        FOLATE_HCY,  # percentages are not amounts
        "Take 2 of them every 3 years.",
    ],
)
def test_has_no_amount(text: str) -> None:
    assert not has_amount(text)


def test_has_amount_units() -> None:
    assert has_amount("1,000 micrograms a day")
    assert has_amount("400 IU of vitamin D")
    assert has_amount("ferritin below 15 ng/mL")
    assert has_amount("5-10 mg/kg/day")
    assert has_amount("two to 3 tablets")  # the number next to the unit counts


@pytest.mark.parametrize(
    ("qtype", "fits", "misfits"),
    [
        # A hemoglobin threshold in g/dL is a concentration, not a dose.
        (QT.DOSAGE, [FOLIC_DOSE, CAPSULE], [B12_INJECTIONS, VEGETARIAN, EPO]),
        (QT.TREATMENT, [B12_INJECTIONS, TRANSFUSIONS, LIFE_EXPECTANCY], [BETA_CAUSE, ANEMIA_IS]),
        (QT.CAUSE, [BETA_CAUSE, PALE_SKIN], [ANTACIDS, FERRITIN_RANGE]),
        (QT.SYMPTOMS, [PALE_SKIN, EARLY_SYMPTOMS], [BETA_CAUSE, FOLIC_DOSE]),
        (QT.DIAGNOSIS, [FERRITIN_TEST, FERRITIN_RANGE, EPO], [TRANSFUSIONS, ANTACIDS]),
        (QT.RISK, [BETA_CAUSE, INHERITANCE], [TRANSFUSIONS, FOLIC_DOSE]),
        (QT.PREVENTION, [PREVENTING], [BETA_CAUSE, ANEMIA_IS]),
        (QT.PROGNOSIS, [DIC_OUTLOOK, LIFE_EXPECTANCY], [INHERITANCE, ANTACIDS]),
        (QT.COMPLICATIONS, [PALE_SKIN, TRANSPLANT], [EARLY_SYMPTOMS, FOLIC_DOSE]),
        (QT.SIDE_EFFECTS, [ANTACIDS], [B12_INJECTIONS, INHERITANCE]),
        (QT.INTERACTION, [ABSORPTION], [BETA_CAUSE, ANEMIA_IS]),
        (QT.COMPARISON, [ANAGRELIDE, ANEMIA_IS], [TRANSFUSIONS, ANTACIDS]),
    ],
)
def test_vocabulary_rules(qtype: QuestionType, fits: list[str], misfits: list[str]) -> None:
    for text in fits:
        assert fits_type(qtype, text), (qtype, text)
    for text in misfits:
        assert not fits_type(qtype, text), (qtype, text)


def test_raising_the_risk_answers_whether_one_thing_causes_another() -> None:
    two = (concept("birth control"), concept("deep vein thrombosis"))
    assert fits_type(QT.CAUSE, RAISES_RISK, two)
    # Of one concept, the risk may be its own effect: NHLBI, "Iron-Deficiency Anemia".
    effect = "The condition can increase a pregnant woman's risk for a premature baby."
    assert not fits_type(QT.CAUSE, effect, (concept("anemia"),))
    # NHLBI, "Pernicious Anemia" (demo corpus), for "Can a vegetarian diet lead to low vitamin
    # B12?": those who keep the diet are at risk.
    at_risk = (
        "Strict vegetarians who don't eat any animal or dairy products and don't take a vitamin "
        "B12 supplement are at risk for pernicious anemia."
    )
    assert fits_type(QT.CAUSE, at_risk, (concept("vegetarian diet"), concept("vitamin B12")))


def test_relation_needs_two_focus_concepts_and_a_relational_word() -> None:
    folate, homocysteine = concept("folate"), concept("homocysteine")
    focus = [folate, homocysteine]
    assert fits_type(QT.RELATION, FOLATE_HCY, focus)  # both, "correlated"
    assert fits_type(QT.RELATION, BERRIES, focus)  # both, "increases"/"decreases"
    # relational words but only one of the two concepts
    assert not fits_type(QT.RELATION, FOLIC_DOSE, [concept("homocysteine"), concept("ferritin")])
    # both concepts but no relational word ("Nutrients vegetarians may need to focus on ...")
    assert not fits_type(QT.RELATION, VEGETARIAN, [concept("iron"), concept("vitamin B12")])


def test_relation_with_one_or_no_focus_concept() -> None:
    # medquad:2_GARD_QA/0000530#2
    text = (
        "It is often associated with impaired absorption of vitamin B12 and possibly other "
        "vitamin deficiencies (such as folate and iron)."
    )
    assert fits_type(QT.RELATION, text, [concept("B12")])
    assert not fits_type(QT.RELATION, text, [concept("ferritin")])
    assert fits_type(QT.RELATION, text)
    assert not fits_type(QT.RELATION, TRANSFUSIONS)


def test_definition_mentions_the_focus_or_defines_something() -> None:
    assert fits_type(QT.DEFINITION, ANEMIA_IS, [concept("anaemia")])
    assert fits_type(QT.DEFINITION, IDA_IS, [concept("iron deficiency anaemia")])
    assert not fits_type(QT.DEFINITION, TRANSFUSIONS, [concept("anemia")])
    # without a focus, a copula definition
    assert fits_type(QT.DEFINITION, ANEMIA_IS)
    assert fits_type(QT.DEFINITION, IDA_IS)
    assert not fits_type(QT.DEFINITION, EARLY_SYMPTOMS)


def test_other_always_fits() -> None:
    assert fits_type(QT.OTHER, ANTACIDS)
    assert fits_type(QT.OTHER, "")


def test_every_type_has_a_rule() -> None:
    for qtype in QT:
        fits_type(qtype, ANEMIA_IS, [concept("anemia")])  # no KeyError
    assert set(VOCABULARY) | {QT.DOSAGE, QT.RELATION, QT.DEFINITION, QT.OTHER} == set(QT)


def test_a_sentence_about_being_mistaken_for_another_condition_compares() -> None:
    # NHLBI, "Thalassemias" (the demo corpus).
    text = (
        "Mild anemia caused by alpha thalassemia trait might be mistaken for iron-deficiency "
        "anemia."
    )
    assert fits_type(QuestionType.COMPARISON, text)


def test_a_purpose_question_wants_what_the_thing_does() -> None:
    assert asks_purpose("Why does folate matter before pregnancy?")
    assert asks_purpose("Why does the body need folic acid?")
    assert not asks_purpose("Why do pregnant women get anemia?")
    # MedlinePlus, "Folic Acid", and NHLBI, "Anemia".
    assert states_purpose(
        "Getting enough folic acid before and during pregnancy can prevent major birth defects "
        "of her baby's brain or spine."
    )
    assert not states_purpose(
        "Anemia can develop during pregnancy due to low levels of iron and folic acid (folate) "
        "and changes in the blood."
    )


def test_a_which_test_question_wants_a_test_by_name() -> None:
    assert asks_which_test("Which blood tests show hemochromatosis?")
    assert asks_which_test("What tests diagnose thalassemia?")
    assert not asks_which_test("How is hemochromatosis diagnosed?")
    # NIDDK, "Hemochromatosis".
    assert names_test(
        "The transferrin saturation test shows how much iron is bound to the protein that "
        "carries iron in the blood."
    )
    assert not names_test(
        "Experts recommend testing for hemochromatosis in people who have symptoms, "
        "complications, or a family history of the disease."
    )
    assert not names_test("A blood test involves drawing blood at a health care providers office.")


def test_a_who_question_wants_people() -> None:
    assert asks_who("Who needs extra folic acid?")
    assert not asks_who("What is sickle cell trait?")
    # NHLBI, "Anemia".
    assert names_people("Folic acid also is very important for pregnant women.")
    assert not names_people("Your body needs folic acid to make and maintain new cells.")


def test_a_definition_defines_the_focus_itself() -> None:
    focus = [concept("hemochromatosis")]
    # NHLBI and GHR, "Hemochromatosis".
    assert defines(
        "Hemochromatosis is a condition in which too much iron builds up in the body "
        "(iron overload).",
        focus,
    )
    assert not defines("Primary hemochromatosis is an inherited disease.", focus)
    assert not defines("There are two types of hemochromatosis.", focus)


def test_a_treatment_answer_names_a_treatment() -> None:
    # NHLBI, "Thalassemias" and "Iron-Deficiency Anemia".
    assert answers_specifically(
        QT.TREATMENT,
        "Doctors diagnose thalassemias using blood tests. The disorders are treated with blood "
        "transfusions, medicines, and other procedures.",
        [],
    )
    assert not answers_specifically(
        QT.TREATMENT, "An important part of managing thalassemias is treating complications.", []
    )
    assert not answers_specifically(
        QT.TREATMENT, "Doctors usually can successfully treat iron-deficiency anemia.", []
    )
    assert answers_specifically(QT.RISK, "Anything that fits a risk question.", [])


def test_a_named_test_is_not_a_word_before_tests() -> None:
    # NHLBI, "Hemochromatosis": "from tests" names no test.
    assert not names_test(
        "Your doctor will diagnose hemochromatosis based on your medical and family histories, "
        "a physical exam, and the results from tests and procedures."
    )


def test_a_concept_named_only_in_a_list_is_not_answered_specifically() -> None:
    # NIDDK, "Anemia of Inflammation and Chronic Disease", and NHLBI, "Anemia" (demo corpus),
    # for "Who needs extra folic acid?": the first is about three nutrients, the second about
    # folic acid.
    folate = concept("folic acid")
    listing = (
        "People with anemia caused by iron, vitamin B12, or folic acid deficiencies are usually "
        "advised to include sources of these nutrients in their diets."
    )
    about = "Folic acid also is very important for pregnant women."
    assert listed(listing, folate) and not listed(about, folate)
    assert not answers_specifically(QuestionType.OTHER, listing, [folate])
    assert answers_specifically(QuestionType.OTHER, about, [folate])


def test_an_age_question_wants_an_age() -> None:
    assert asks_age("At what age should one receive shingles vaccine?")
    assert asks_age("How old are children when thalassemia major shows?")
    assert not asks_age("What is sickle cell trait?")
    # NHLBI, "Thrombocythemia and Thrombocytosis"; NIDDK, "Anemia in Chronic Kidney Disease".
    assert states_age(
        "The disease affects people of all ages, but it's most common in adults who are older "
        "than 60."
    )
    assert states_age(
        "The Kidney Disease: Improving Global Outcomes Anemia Work Group recommends that health "
        "care providers diagnose anemia in males older than age 15 when their hemoglobin falls "
        "below 13 grams per deciliter (g/dL) and in females older than 15 when it falls below "
        "12 g/dL."
    )
    # NIDDK, "Short Bowel Syndrome": a duration is no age.
    assert not states_age(
        "Intestinal adaptation can take up to 2 years to occur, and during this time a person "
        "may be heavily dependent on parenteral or enteral nutrition."
    )


def test_a_how_common_question_wants_how_many() -> None:
    assert asks_how_common("How common is anemia in pregnant women?")
    assert asks_how_common("What is the prevalence of sickle cell trait?")
    assert not asks_how_common("What are the risks of anemia in pregnant women for the baby?")
    # NHLBI, "Iron-Deficiency Anemia" and "Sickle Cell Disease" (demo corpus).
    assert states_how_common("About half of all pregnant women develop iron-deficiency anemia.")
    assert states_how_common("About 1 in 12 African Americans has sickle cell trait.")
    # A risk is no prevalence: this was the lead of "How common is it?" about pregnancy anemia.
    assert not states_how_common(
        "This not only will help you avoid iron-deficiency anemia, but also may lower your risk "
        "of having a low-birth-weight baby."
    )


def test_a_normal_range_question_wants_a_limit_with_its_unit() -> None:
    assert asks_value("What is the normal range for ferritin?")
    assert asks_value("What is a normal hemoglobin level?")
    assert not asks_value("What does a high ferritin mean?")
    # NIDDK, "Hemochromatosis" and "Anemia in Chronic Kidney Disease" (demo corpus).
    assert states_limit(
        "Levels above 300 µg/L in men and 200 µg/L in women are considered abnormal."
    )
    assert states_limit("Depending on the lab, the level is 25 to 50 µg/L.")
    # A goal, a p-value and a difference are no limits (NIDDK; SciFact, haemoglobin by race).
    assert not states_limit(
        "The goal is to bring serum ferritin levels to the low end of the average range."
    )
    assert not states_limit(
        "The differences still averaged 0.5 g/dl (P less than 0.001) after exclusion of all "
        "those with abnormal hemoglobin."
    )
    assert not states_limit(
        "The concentration of hemoglobin in blacks was found to be 0.5 to 1.0 g/dl lower than "
        "that of income-matched whites in several large surveys."
    )


def test_a_complication_is_what_the_focus_leads_to_not_what_leads_to_it() -> None:
    anemia = (concept("iron-deficiency anemia"),)
    # NHLBI, "Iron-Deficiency Anemia" (demo corpus): a complication, then two causes of it.
    assert fits_type(
        QT.COMPLICATIONS,
        "Severe iron-deficiency anemia can lead to heart problems, infections, problems with "
        "growth and development in children, and other complications.",
        anemia,
    )
    assert not fits_type(
        QT.COMPLICATIONS,
        "People who get kidney dialysis treatment may develop iron-deficiency anemia.",
        anemia,
    )
    assert not fits_type(
        QT.COMPLICATIONS,
        "Heavy menstrual bleeding can cause iron-deficiency anemia in women.",
        anemia,
    )


def test_a_how_long_question_wants_a_time() -> None:
    assert asks_duration("How long does treatment for pernicious anemia last?")
    assert not asks_duration("How is pernicious anemia treated?")
    # NHLBI, "Pernicious Anemia" and "Iron-Deficiency Anemia" (demo corpus): the first led this
    # question before the rule, the others answer it.
    assert not states_duration("Now, pernicious anemia usually is easy to treat with vitamin B12.")
    assert states_duration("People who have pernicious anemia may need lifelong treatment.")
    assert states_duration("Iron supplements can correct low iron levels within months.")


def test_a_symptom_question_is_answered_specifically_by_a_symptom_by_name() -> None:
    anemia = [concept("iron-deficiency anemia")]
    # NHLBI, "Iron-Deficiency Anemia" (demo corpus): the first led "What are the symptoms of
    # iron-deficiency anemia?" before the rule.
    exam = "Your doctor will do a physical exam to look for signs of iron-deficiency anemia."
    named = (
        "Iron-deficiency anemia can cause fatigue (tiredness), shortness of breath, chest pain, "
        "and other symptoms."
    )
    assert fits_type(QT.SYMPTOMS, exam) and fits_type(QT.SYMPTOMS, named)
    assert not answers_specifically(QT.SYMPTOMS, exam, anemia)
    assert answers_specifically(QT.SYMPTOMS, named, anemia)
