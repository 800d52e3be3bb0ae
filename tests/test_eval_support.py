"""eval.support: extractive containment, near-exact similarity, generated-support calibration."""

from __future__ import annotations

import pytest

from eval.embedcache import CachedEmbedder
from eval.support import (
    NEAR_EXACT,
    GeneratedSupportScorer,
    SupportMethod,
    calibrate,
    extractive_support,
    lexical_recall,
    normalise,
    youden_threshold,
)
from index.load import PassageIndex

PASSAGE = (
    "Serum ferritin is the most sensitive test for iron deficiency. In a cohort of 1,200 "
    "adults, vitamin B12 was 12% higher when ferritin was below 30 µg/L. The reason is unclear."
)


def test_extractive_exact_after_normalising() -> None:
    result = extractive_support(
        "In a cohort of 1,200  adults, Vitamin B12 was 12% higher when ferritin was below "
        "30 µg/L [2].",
        PASSAGE,
    )
    assert (result.supported, result.score, result.method) == (True, 1.0, SupportMethod.EXACT)
    # Curly quotes and dashes unified, case folded, citation and final stop removed, and a
    # quote around the whole sentence dropped.
    assert normalise("“Iron — the  “metal” [1].”") == 'iron - the "metal"'


def test_extractive_near_exact_and_failures() -> None:
    # One letter changed in a 60-character sentence: ratio ~ 0.98 >= 0.95.
    near = extractive_support(
        "Serum ferritin is the most sensitive tset for iron deficiency.", PASSAGE
    )
    assert near.supported and near.method is SupportMethod.NEAR_EXACT and near.score >= NEAR_EXACT
    # A changed number never passes, however similar the characters are.
    number = extractive_support(
        "In a cohort of 1,200 adults, vitamin B12 was 21% higher when ferritin was below 30 µg/L.",
        PASSAGE,
    )
    assert not number.supported and number.score > NEAR_EXACT
    unrelated = extractive_support("Folate deficiency causes neural tube defects.", PASSAGE)
    assert not unrelated.supported and unrelated.score < 0.6


def test_lexical_recall_by_hand() -> None:
    # Content words of the sentence (stemmed): ferritin, sensit, test, iron -> 4; "zinc" is not
    # in the passage, so recall = 4 / 5.
    assert lexical_recall("Ferritin: sensitive test for iron and zinc.", PASSAGE) == pytest.approx(
        4 / 5
    )
    assert lexical_recall("The and of.", PASSAGE) == 0.0


def test_youden_threshold_by_hand() -> None:
    # Separated: negatives <= 0.3, positives >= 0.8 -> the middle of the gap, 0.55, TPR 1, FPR 0.
    assert youden_threshold([0.9, 0.8, 0.95], [0.1, 0.3, 0.2]) == (pytest.approx(0.55), 1.0, 0.0)
    # Overlap: positive 0.25 sits among the negatives. Best J = 2/3 - 0 at threshold 0.55.
    threshold, tpr, fpr = youden_threshold([0.9, 0.8, 0.25], [0.1, 0.3, 0.2])
    assert threshold == pytest.approx(0.55) and tpr == pytest.approx(2 / 3) and fpr == 0.0
    with pytest.raises(ValueError):
        youden_threshold([], [0.1])


def test_generated_support_and_calibration_on_real_passages(
    tiny_beir_index: PassageIndex, cached_embedder: CachedEmbedder
) -> None:
    calibration = calibrate(tiny_beir_index.passages, cached_embedder, pairs=20)
    assert calibration.positives == calibration.negatives >= 10
    # A passage's own sentences against unrelated abstracts: cleanly separable.
    assert calibration.tpr >= 0.9 and calibration.fpr <= 0.1
    assert 0.2 < calibration.threshold < 1.0
    scorer = GeneratedSupportScorer(cached_embedder, calibration.threshold)
    passage = tiny_beir_index.passages[0].text
    other = next(
        p.text
        for p in tiny_beir_index.passages
        if p.document_id != tiny_beir_index.passages[0].document_id
    )
    first_sentence = passage.split(". ")[0] + "."
    own, foreign = scorer.check([first_sentence, first_sentence], [passage, other])
    assert own.supported and own.method is SupportMethod.GENERATED
    assert not foreign.supported and foreign.score < own.score
