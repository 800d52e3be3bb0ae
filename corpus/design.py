"""Guess a research abstract's study design from its title, abstract and MeSH terms.

The rules are transparent keyword cues of the kind PubMed's publication types and the methods
sections of abstracts use ("systematic review", "randomly assigned", "cohort", "we report a
case", "mice", "in vitro"), weighted more in the title than in the body, plus MeSH descriptors
where a record has them ("Randomized Controlled Trials as Topic", "Cohort Studies", "Animals",
"Case Reports"). The strongest design with enough support wins, in the order of
``EvidenceTier``; a human-data study with no recognisable design is observational, and a text
with no cue at all is ``OTHER``. It never returns ``GUIDELINE``: that tier comes from the
publisher, not from the text.

Run ``python -m corpus.design --evaluate tests/data/design_labels.jsonl`` for its accuracy and
confusion matrix on hand-labelled PubMedQA and SciFact records.

Example:
    >>> classify_design("Oral vitamin B12 versus intramuscular vitamin B12: a randomised trial",
    ...                 "Patients were randomly assigned to oral or intramuscular B12.")
    <EvidenceTier.RCT: 'rct'>
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corpus.types import EvidenceTier


@dataclass(frozen=True)
class _Cues:
    """Evidence for one design: text patterns (title counts ``TITLE_WEIGHT`` times) and MeSH."""

    patterns: tuple[re.Pattern[str], ...]
    mesh: frozenset[str]


def _patterns(*expressions: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(expression, re.IGNORECASE) for expression in expressions)


TITLE_WEIGHT = 3
MESH_WEIGHT = 2
# A design needs at least this much support to be chosen over a weaker one.
THRESHOLD = 2

_CUES: dict[EvidenceTier, _Cues] = {
    EvidenceTier.SYSTEMATIC_REVIEW: _Cues(
        _patterns(
            r"\bmeta-?analys[ie]s\b",
            r"\bsystematic(ally)? review",
            r"\bpooled analysis\b",
            r"\b(we|were) searched\b.{0,60}\b(medline|pubmed|embase|cochrane|databases?)\b",
            r"\b(medline|pubmed|embase|cochrane library)\b.{0,80}\bsearched\b",
            r"\bliterature search\b",
        ),
        frozenset({"Meta-Analysis as Topic", "Review Literature as Topic"}),
    ),
    EvidenceTier.RCT: _Cues(
        _patterns(
            r"\brandomi[sz]ed\b(?!.{0,40}\b(trials?|studies) (are|is) (needed|required|warranted))",
            r"\brandomly (assigned|allocated|divided)\b",
            r"\brandomi[sz]ation\b",
            r"\bdouble-?blind(ed)?\b",
            r"\bplacebo-?controlled\b",
            r"\bsingle-?blind(ed)?\b",
        ),
        frozenset(
            {
                "Randomized Controlled Trials as Topic",
                "Double-Blind Method",
                "Single-Blind Method",
                "Random Allocation",
                "Placebos",
            }
        ),
    ),
    EvidenceTier.CASE_REPORT: _Cues(
        _patterns(
            r"\bwe (report|describe|present) (a|an|the|two|three) (unique |rare |unusual )?"
            r"(case|patient|man|woman|boy|girl|child|infant)",
            r"\bcase reports?\b",
            r"\bcase series\b",
            r"\ba \d+-(year|month|week)-old (man|woman|male|female|boy|girl|patient|child|infant)",
        ),
        frozenset({"Case Reports"}),
    ),
    EvidenceTier.PRECLINICAL: _Cues(
        _patterns(
            r"\b(mice|mouse|murine|rats?|rodents?|rabbits?|zebrafish|drosophila|"
            r"c\. elegans|caenorhabditis|yeast|xenopus|primates?|macaques?|pigs?|piglets?|"
            r"dogs?|sheep|hamsters?)\b",
            r"\bin vitro\b",
            r"\bcell lines?\b",
            r"\bcultured (cells|neurons|cardiomyocytes|fibroblasts)\b",
            r"\bknock-?out\b",
            r"\bknock-?down\b",
            r"\bxenografts?\b",
            r"\btransgenic\b",
            r"\bin vivo\b",
            r"\bcrystal structure\b",
            r"\bembryos?\b",
        ),
        frozenset({"Animals", "Mice", "Rats", "Cells, Cultured", "Cell Line", "Disease Models, Animal"}),
    ),
    EvidenceTier.OBSERVATIONAL: _Cues(
        _patterns(
            r"\bcohorts?\b",
            r"\bcase-?control\b",
            r"\bcross-?sectional\b",
            r"\bretrospective(ly)?\b",
            r"\bprospective(ly)?\b",
            r"\bpopulation-based\b",
            r"\bregistry\b",
            r"\bsurvey\b",
            r"\bquestionnaires?\b",
            r"\b(odds|hazard|risk) ratios?\b",
            r"\bprevalence\b",
            r"\bincidence\b",
            r"\bfollow-?up\b",
            r"\b(patients|participants|subjects|women|men|children|adults|volunteers)\b",
            r"\bmedical records\b",
            r"\bchart review\b",
            r"\bnon-?randomi[sz]ed\b",
        ),
        frozenset(
            {
                "Cohort Studies",
                "Case-Control Studies",
                "Cross-Sectional Studies",
                "Retrospective Studies",
                "Prospective Studies",
                "Follow-Up Studies",
                "Longitudinal Studies",
                "Risk Factors",
                "Questionnaires",
                "Surveys and Questionnaires",
                "Health Surveys",
                "Registries",
                "Prevalence",
                "Incidence",
                "Odds Ratio",
                "Proportional Hazards Models",
            }
        ),
    ),
}

# Cues that a study is about people, which outweigh incidental animal words ("rat" in a
# questionnaire name) when both appear.
_HUMAN = _patterns(r"\b(patients|participants|women|men|children|adults|volunteers|humans)\b")


def design_scores(title: str, abstract: str, mesh: Iterable[str] = ()) -> dict[EvidenceTier, int]:
    """The support for each research design: the numbers :func:`classify_design` decides on."""
    mesh_terms = {term.strip() for term in mesh}
    scores: dict[EvidenceTier, int] = {}
    for tier, cues in _CUES.items():
        score = 0
        for pattern in cues.patterns:
            if pattern.search(title):
                score += TITLE_WEIGHT
            if pattern.search(abstract):
                score += 1
        score += MESH_WEIGHT * len(cues.mesh & mesh_terms)
        scores[tier] = score
    return scores


def classify_design(title: str, abstract: str, mesh: Sequence[str] = ()) -> EvidenceTier:
    """The study design of a research record, as an ``EvidenceTier`` (never ``GUIDELINE``).

    Args:
        title: the title (or, for PubMedQA, the question).
        abstract: the abstract text.
        mesh: MeSH descriptors, if the record has them.

    Returns:
        The strongest design whose cues reach the threshold, else ``OBSERVATIONAL`` for a
        study of people, else ``OTHER``.
    """
    scores = design_scores(title, abstract, mesh)
    for tier in (EvidenceTier.SYSTEMATIC_REVIEW, EvidenceTier.RCT, EvidenceTier.CASE_REPORT):
        if scores[tier] >= THRESHOLD:
            return tier
    preclinical = scores[EvidenceTier.PRECLINICAL]
    observational = scores[EvidenceTier.OBSERVATIONAL]
    if preclinical >= THRESHOLD and preclinical >= observational:
        return EvidenceTier.PRECLINICAL
    if observational >= THRESHOLD:
        return EvidenceTier.OBSERVATIONAL
    if preclinical >= THRESHOLD:
        return EvidenceTier.PRECLINICAL
    return EvidenceTier.OTHER
