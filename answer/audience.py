"""Audience profiles: how selection leans for a clinician or for a patient.

Both audiences get the same structure, the same sections and a citation on every sentence; a
patient answer only *prefers* plain sentences and patient-facing publishers when it chooses
among sentences that are about equally relevant. Readability is the Flesch–Kincaid grade from
``textstat`` (US school grade; about 8 is plain language, research abstracts run 15+).

Example:
    >>> profile = profile_for(Audience.PATIENT)
    >>> profile.adjust(0.60, grade=14.0, source="NHLBI") < 0.60
    True
    >>> profile_for(Audience.CLINICIAN).adjust(0.60, grade=14.0, source="NHLBI")
    0.6
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import textstat

from answer.schema import Audience

# Publishers among MedQuAD's NIH sources that write for the public in plain language
# (MedlinePlus health topics and NIHSeniorHealth are written for lay readers; the NHLBI, NIDDK,
# NINDS and CDC pages are patient-facing health topics). GARD, GHR and NCI's PDQ pages are
# also public but denser, so they get no bonus. Matched case-insensitively as substrings, so
# "MPlusHealthTopics", "MedlinePlus" and "NIH MedlinePlus" all count.
PATIENT_SOURCES = (
    "medlineplus",
    "mplus",
    "seniorhealth",
    "nhlbi",
    "niddk",
    "ninds",
    "cdc",
)

# The grade at which plain-language guidance aims (NIH: 7th-8th grade).
PLAIN_GRADE = 8.0


@lru_cache(maxsize=65536)
def grade(text: str) -> float:
    """Flesch–Kincaid grade of ``text`` (cached: the same sentences recur across answers)."""
    return float(textstat.flesch_kincaid_grade(text))


def is_patient_source(source: str) -> bool:
    """True for a publisher that writes for patients (see :data:`PATIENT_SOURCES`)."""
    lowered = source.lower().replace(" ", "")
    return any(marker in lowered for marker in PATIENT_SOURCES)


@dataclass(frozen=True)
class AudienceProfile:
    """Weights that lean sentence selection towards one audience.

    Attributes:
        grade_penalty: subtracted per grade above :data:`PLAIN_GRADE` from a sentence's score.
        max_penalty: the cap on that penalty, so a hard but uniquely relevant sentence can win.
        source_bonus: added for a sentence from a patient-facing publisher.
        research_sentences: how many research sentences the answer carries at most.
    """

    audience: Audience
    grade_penalty: float = 0.0
    max_penalty: float = 0.0
    source_bonus: float = 0.0
    research_sentences: int = 3

    def adjust(self, score: float, *, grade: float, source: str) -> float:
        """The selection score of a sentence with relevance ``score`` for this audience."""
        penalty = min(self.max_penalty, self.grade_penalty * max(0.0, grade - PLAIN_GRADE))
        bonus = self.source_bonus if is_patient_source(source) else 0.0
        return score - penalty + bonus


# Relevance scores of good sentences sit around 0.5-0.7 (see answer/compose.py); a penalty of
# 0.02 a grade, capped at 0.16, lets a grade-8 sentence beat a grade-16 one that is up to
# 0.16 more relevant, but not a far more relevant one.
_PROFILES = {
    Audience.CLINICIAN: AudienceProfile(Audience.CLINICIAN),
    Audience.PATIENT: AudienceProfile(
        Audience.PATIENT,
        grade_penalty=0.02,
        max_penalty=0.16,
        source_bonus=0.04,
        research_sentences=2,
    ),
}


def profile_for(audience: Audience) -> AudienceProfile:
    """The selection profile of ``audience``."""
    return _PROFILES[audience]
