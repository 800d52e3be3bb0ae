"""The evidence policy, one rule at a time (rules: retriever/policy.py docstring)."""

from __future__ import annotations

import copy

import pytest

from corpus.types import EvidenceKind, EvidenceTier, Passage, passage_id
from retriever.policy import PolicyConfig, apply_policy, passes, relevance_bands
from retriever.types import Filters, ScoredPassage

T = EvidenceTier


def make(
    name: str, tier: EvidenceTier, score: float, year: int | None = None, source: str = "NIDDK"
) -> ScoredPassage:
    text = f"Passage {name} about ferritin and vitamin B12."
    passage = Passage(
        id=passage_id(name, 0, len(text)),
        document_id=name,
        text=text,
        start=0,
        end=len(text),
        section="",
        title=f"Title {name}",
        tier=tier,
        source=source,
        licence="CC BY 4.0",
        dataset="test",
        year=year,
    )
    return ScoredPassage(passage, score)


def names(scored: list[ScoredPassage]) -> list[str]:
    return [sp.passage.document_id for sp in scored]


WIDE = PolicyConfig(fused_k=10, guideline_k=10, research_k=10, band_tolerance=0.1)


def test_groups_split_by_kind_and_fused_keeps_relevance_order() -> None:
    cands = [
        make("g1", T.GUIDELINE, 1.0),
        make("r1", T.OBSERVATIONAL, 0.5, 2010),
        make("g2", T.GUIDELINE, 0.2),
        make("r2", T.RCT, 0.0, 2012),
    ]
    result = apply_policy(cands, config=WIDE)
    assert names(result.fused) == ["g1", "r1", "g2", "r2"]
    assert names(result.guideline) == ["g1", "g2"]
    assert names(result.research) == ["r1", "r2"]  # 0.5 vs 0.0: different bands, no reorder


def test_within_a_band_stronger_design_comes_first() -> None:
    # Scores 1.0 .. 0.0 normalise to themselves. Band 0 opens at 1.0 and holds rel >= 0.9:
    # the observational study (1.0), the case report (0.95) and the RCT (0.92).
    # Band 1 opens at the review (0.5). Within band 0: RCT (rank 2), observational (3),
    # case report (4).
    cands = [
        make("obs", T.OBSERVATIONAL, 1.0, 2020),
        make("case", T.CASE_REPORT, 0.95, 2021),
        make("rct", T.RCT, 0.92, 2001),
        make("review", T.SYSTEMATIC_REVIEW, 0.5, 2015),
        make("low", T.PRECLINICAL, 0.0, 2019),
    ]
    result = apply_policy(cands, config=WIDE)
    assert names(result.research) == ["rct", "obs", "case", "review", "low"]
    # The fused list is not reordered by design.
    assert names(result.fused) == ["obs", "case", "rct", "review", "low"]


def test_design_never_jumps_a_band() -> None:
    # rel: obs 1.0, rct 0.8 (0.2 below the band head 1.0 > tolerance 0.1): separate bands.
    cands = [make("obs", T.OBSERVATIONAL, 1.0), make("rct", T.RCT, 0.8), make("x", T.OTHER, 0.0)]
    assert names(apply_policy(cands, config=WIDE).research) == ["obs", "rct", "x"]


def test_recency_breaks_design_ties_and_unknown_years_come_last() -> None:
    # All three RCTs in one band (rel 1.0, 0.97, 0.95); newest first, the undated one last.
    cands = [
        make("undated", T.RCT, 1.0, None),
        make("old", T.RCT, 0.97, 1999),
        make("new", T.RCT, 0.95, 2018),
        make("floor", T.OTHER, 0.0, 2000),
    ]
    assert names(apply_policy(cands, config=WIDE).research) == ["new", "old", "undated", "floor"]


def test_zero_tolerance_is_pure_relevance_order() -> None:
    cands = [make("obs", T.OBSERVATIONAL, 1.0), make("rct", T.RCT, 0.99), make("r", T.RCT, 0.0)]
    cfg = PolicyConfig(research_k=10, band_tolerance=0.0)
    assert names(apply_policy(cands, config=cfg).research) == ["obs", "rct", "r"]


def test_bands_are_measured_on_the_min_max_normalised_score() -> None:
    # Raw RRF-like scores 0.0330, 0.0328, 0.0100: rel = (s - 0.01) / 0.023 = 1.0, 0.991, 0.0.
    # The first two share a band, so the RCT moves ahead of the observational study.
    cands = [
        make("obs", T.OBSERVATIONAL, 0.0330),
        make("rct", T.RCT, 0.0328),
        make("r", T.RCT, 0.0100),
    ]
    assert names(apply_policy(cands, config=WIDE).research) == ["rct", "obs", "r"]


def test_equal_scores_are_one_band() -> None:
    cands = [make("obs", T.OBSERVATIONAL, 0.5), make("rct", T.RCT, 0.5)]
    assert names(apply_policy(cands, config=WIDE).research) == ["rct", "obs"]


def test_guidelines_in_a_band_are_ordered_by_year() -> None:
    cands = [make("g-old", T.GUIDELINE, 1.0, 2005), make("g-new", T.GUIDELINE, 0.96, 2019)]
    cands.append(make("r", T.RCT, 0.0))
    assert names(apply_policy(cands, config=WIDE).guideline) == ["g-new", "g-old"]


def test_group_sizes_are_separate_and_not_filled_from_the_other_group() -> None:
    cands = [make(f"g{i}", T.GUIDELINE, 1.0 - i / 10) for i in range(5)]
    cands.append(make("r0", T.RCT, 0.1))
    cfg = PolicyConfig(fused_k=3, guideline_k=2, research_k=3, band_tolerance=0.0)
    result = apply_policy(cands, config=cfg)
    assert names(result.fused) == ["g0", "g1", "g2"]
    assert names(result.guideline) == ["g0", "g1"]
    assert names(result.research) == ["r0"]


def test_band_helper() -> None:
    # Head 1.0 takes 0.95 and 0.9; 0.85 is 0.15 below the head: a new band; 0.3 another.
    assert relevance_bands([1.0, 0.95, 0.9, 0.85, 0.3], 0.1) == [0, 0, 0, 1, 2]
    assert relevance_bands([], 0.1) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(kinds=frozenset({EvidenceKind.GUIDELINE})), ["g"]),
        (Filters(kinds=frozenset({EvidenceKind.RESEARCH})), ["rct", "obs", "undated"]),
        (Filters(designs=frozenset({T.RCT, T.GUIDELINE})), ["g", "rct"]),
        (Filters(sources=frozenset({" the lancet "})), ["rct"]),
        (Filters(year_from=2010), ["rct"]),
        (Filters(year_to=2010), ["g", "obs"]),
        (Filters(year_from=2000, year_to=2009), ["g", "obs"]),
        (Filters(year_from=2000, year_to=2009, kinds=frozenset({EvidenceKind.RESEARCH})), ["obs"]),
        (Filters(), ["g", "rct", "obs", "undated"]),
        (None, ["g", "rct", "obs", "undated"]),
    ],
)
def test_filters(filters: Filters | None, expected: list[str]) -> None:
    cands = [
        make("g", T.GUIDELINE, 1.0, 2005, source="NHLBI"),
        make("rct", T.RCT, 0.8, 2015, source="The Lancet"),
        make("obs", T.OBSERVATIONAL, 0.6, 2008, source="BMJ"),
        make("undated", T.CASE_REPORT, 0.4, None, source="BMJ"),
    ]
    result = apply_policy(cands, filters=filters, config=PolicyConfig(band_tolerance=0.0))
    assert names(result.fused) == expected


def test_undated_passage_fails_any_year_filter() -> None:
    undated = make("u", T.RCT, 1.0, None).passage
    assert passes(undated, Filters())
    assert not passes(undated, Filters(year_from=1900))
    assert not passes(undated, Filters(year_to=2100))


def test_policy_does_not_mutate_or_rescore() -> None:
    cands = [make("obs", T.OBSERVATIONAL, 1.0), make("rct", T.RCT, 0.95)]
    before = copy.deepcopy(cands)
    result = apply_policy(cands, config=WIDE)
    assert cands == before
    assert {sp.score for sp in result.research} == {1.0, 0.95}


def test_nothing_left_after_filters() -> None:
    result = apply_policy([make("g", T.GUIDELINE, 1.0)], filters=Filters(year_from=2000))
    assert (result.fused, result.guideline, result.research) == ([], [], [])


def test_bad_config_names_the_value() -> None:
    with pytest.raises(ValueError, match="band_tolerance"):
        PolicyConfig(band_tolerance=1.5)
    with pytest.raises(ValueError, match="research_k"):
        PolicyConfig(research_k=-1)
