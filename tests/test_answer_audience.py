"""Patient wording: plainer sentences, patient-facing sources, nothing structural lost."""

from __future__ import annotations

import statistics

import pytest

from answer.audience import PLAIN_GRADE, grade, is_patient_source, profile_for
from answer.compose import ExtractiveComposer
from answer.schema import Audience, SectionKind
from tests.fixtures_answer import evidence_for, load_bank, load_embedder

QUESTIONS = [
    "What is iron-deficiency anemia?",
    "How is pernicious anemia diagnosed?",
    "Does folic acid lower homocysteine levels?",
    "What causes pernicious anemia?",
]


def mean_grade(answer) -> float:  # type: ignore[no-untyped-def]
    texts = [
        s.text
        for section in answer.sections
        if section.kind is not SectionKind.NOTICE
        for s in section.sentences
    ]
    return statistics.mean(grade(t) for t in texts)


def test_grade_uses_textstat_offline() -> None:
    plain = "Your body needs iron to make hemoglobin."
    dense = (
        "Homocysteine reduction is known to be maximal at a folic acid dosage of 1 mg/d, but "
        "the effect of lower doses (relevant to food fortification) is unclear."
    )
    assert grade(plain) < PLAIN_GRADE < grade(dense)


def test_patient_sources() -> None:
    for source in ("NHLBI", "MPlusHealthTopics", "MedlinePlus", "NIDDK", "CDC"):
        assert is_patient_source(source)
    for source in ("GARD", "GHR", "BEIR SciFact corpus"):
        assert not is_patient_source(source)


def test_profile_arithmetic() -> None:
    patient = profile_for(Audience.PATIENT)
    # grade 12 is 4 above plain: 0.02 * 4 = 0.08 off; a patient-facing source adds 0.04.
    assert patient.adjust(0.6, grade=12.0, source="GARD") == pytest.approx(0.52)
    assert patient.adjust(0.6, grade=12.0, source="NHLBI") == pytest.approx(0.56)
    assert patient.adjust(0.6, grade=40.0, source="GARD") == pytest.approx(0.44)  # capped at 0.16
    assert profile_for(Audience.CLINICIAN).adjust(0.6, grade=40.0, source="NHLBI") == 0.6


def test_patient_answers_read_easier_and_keep_citations() -> None:
    composer = ExtractiveComposer(load_embedder(), load_bank())
    clinician_grades, patient_grades = [], []
    for question in QUESTIONS:
        evidence = evidence_for(question)
        clinician = composer.compose(evidence, Audience.CLINICIAN)
        patient = composer.compose(evidence, Audience.PATIENT)
        for section in patient.sections:
            if section.kind is not SectionKind.NOTICE:
                assert all(s.citations for s in section.sentences)
        if clinician.section(SectionKind.GUIDELINES) is not None:
            assert patient.section(SectionKind.GUIDELINES) is not None
        research = patient.section(SectionKind.RESEARCH)
        assert research is None or len(research.sentences) <= 2
        clinician_grades.append(mean_grade(clinician))
        patient_grades.append(mean_grade(patient))
    assert statistics.mean(patient_grades) < statistics.mean(clinician_grades)
