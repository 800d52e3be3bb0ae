"""The evidence policy: which retrieved passages an answer sees, and in what order.

A pure function over a fused, relevance-ranked candidate list. The rules, applied in order:

1. **Filters.** A passage is dropped unless it passes every filter that is set
   (:class:`retriever.types.Filters`; ``None`` means no restriction):

   * ``kinds``: its tier's kind (guideline or research) is one of them;
   * ``designs``: its tier (guideline, systematic review, RCT, ...) is one of them;
   * ``sources``: its publisher/journal (``Passage.source``) equals one of them, compared
     case-insensitively with surrounding whitespace ignored;
   * ``year_from`` / ``year_to``: its year is known and within the inclusive range. A passage
     with no year fails a year filter: a filter is a promise about what is shown, and an
     undated passage cannot keep it.

2. **Fused list.** The passages that pass, in the input (relevance) order, cut to ``fused_k``.

3. **Groups.** The passages that pass are split by kind into a guideline group and a research
   group, each cut to its own size (``guideline_k``, ``research_k``) after ordering (rule 4).
   A group may be short or empty; the other group never fills its places.

4. **Order within a group: relevance first, then design, then recency.** Scores are first
   min-max normalised over the whole filtered candidate list (``rel = (s - min) / (max - min)``;
   all 1.0 when ``max == min``). Each group is then cut into *relevance bands* greedily, walking
   it in relevance order: a band opens at its first passage and takes every following passage
   whose ``rel`` is within ``band_tolerance`` of the band's first ``rel``; the next passage opens
   a new band. (Anchoring a band at its head, rather than on a fixed grid, means two passages
   with nearly equal scores are never split by a grid line they happen to straddle, and a band
   never drifts further than ``band_tolerance`` from its head.) Bands keep their order. Within
   a band passages are ordered by study design strength (:attr:`EvidenceTier.rank`, strongest
   first), then by year (newer first; a passage with no year comes after the dated ones of the
   same design), then by their relevance order. Guideline passages all share one tier, so
   within a band they are ordered by year, then relevance.

   ``band_tolerance = 0`` gives pure relevance order (each band holds only exact ties).

The policy only reorders and cuts; it never changes a score, and it never mutates its input.

Example::

    result = apply_policy(fused, filters=Filters(year_from=2010))
    [sp.passage.tier.value for sp in result.research]  # ['rct', 'observational', ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corpus.types import EvidenceTier, Passage
from retriever.types import Filters, ScoredPassage, passage_filter

PASSAGES_PER_KIND = 4
"""Guideline and research passages an answer sees (and quotes from: ``ComposeConfig``)."""


@dataclass(frozen=True)
class PolicyConfig:
    """Sizes of the lists the policy returns and the width of a relevance band.

    Attributes:
        fused_k: Passages in the fused (relevance-only) list.
        guideline_k: Passages in the guideline group.
        research_k: Passages in the research group.
        band_tolerance: Width of a relevance band on the min-max normalised score, in [0, 1].
            The default 0.1 keeps study design from overriding more than a tenth of the score
            range of the candidate list.
    """

    fused_k: int = 8
    guideline_k: int = PASSAGES_PER_KIND
    research_k: int = PASSAGES_PER_KIND
    band_tolerance: float = 0.1

    def __post_init__(self) -> None:
        for name in ("fused_k", "guideline_k", "research_k"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.band_tolerance <= 1.0:
            raise ValueError(f"band_tolerance must be within [0, 1], got {self.band_tolerance}")


@dataclass(frozen=True)
class PolicyResult:
    """The fused list and the two groups, each best first."""

    fused: list[ScoredPassage]
    guideline: list[ScoredPassage]
    research: list[ScoredPassage]


def passes(passage: Passage, filters: Filters | None) -> bool:
    """Whether ``passage`` passes every filter that is set (rule 1 of the module docstring)."""
    return filters is None or passage_filter(filters).admits(passage)


def relevance_bands(relevance: Sequence[float], tolerance: float) -> list[int]:
    """Band number of each item, given relevance values in non-increasing order.

    A band opens at an item and takes every following item within ``tolerance`` of that
    first item's value.

    Example:
        >>> relevance_bands([1.0, 0.95, 0.9, 0.85, 0.3], 0.1)
        [0, 0, 0, 1, 2]
    """
    bands: list[int] = []
    band, head = -1, None
    for value in relevance:
        if head is None or head - value > tolerance:
            band, head = band + 1, value
        bands.append(band)
    return bands


def _design_then_year(scored: ScoredPassage) -> tuple[int, bool, int]:
    year = scored.passage.year
    # (has no year, -year): dated passages first, newest first.
    return (scored.passage.tier.rank, year is None, -(year or 0))


def _order_group(
    group: list[tuple[ScoredPassage, float]], tolerance: float, k: int
) -> list[ScoredPassage]:
    """Rule 4: the first ``k`` of a group given as ``(passage, rel)`` in relevance order.

    Bands are cut and ordered one at a time, and only until ``k`` passages are placed.
    """
    ordered: list[ScoredPassage] = []
    start = 0
    while start < len(group) and len(ordered) < k:
        head = group[start][1]
        end = start + 1
        while end < len(group) and head - group[end][1] <= tolerance:
            end += 1
        # sorted() is stable: equal design and year keep relevance order.
        ordered.extend(sorted((scored for scored, _ in group[start:end]), key=_design_then_year))
        start = end
    return ordered[:k]


def apply_policy(
    candidates: Sequence[ScoredPassage],
    *,
    filters: Filters | None = None,
    config: PolicyConfig | None = None,
) -> PolicyResult:
    """Filter, group and order fused candidates by the rules in the module docstring.

    Args:
        candidates: Fused candidates, best first (scores non-increasing). Pass the whole fused
            candidate list, not just the top few: the bands are measured on its score range.
        filters: Restrictions on the evidence; ``None`` means none.
        config: List sizes and band width; defaults to :class:`PolicyConfig`.

    Returns:
        The fused list and the guideline and research groups.
    """
    config = config or PolicyConfig()
    if filters is None:
        kept = list(candidates)
    else:
        kept = [scored for scored in candidates if passes(scored.passage, filters)]
    if not kept:
        return PolicyResult([], [], [])
    low = min(scored.score for scored in kept)
    high = max(scored.score for scored in kept)
    span = high - low
    guideline: list[tuple[ScoredPassage, float]] = []
    research: list[tuple[ScoredPassage, float]] = []
    for scored in kept:
        rel = 1.0 if span == 0 else (scored.score - low) / span
        group = guideline if scored.passage.tier is EvidenceTier.GUIDELINE else research
        group.append((scored, rel))
    tolerance = config.band_tolerance
    return PolicyResult(
        fused=kept[: config.fused_k],
        guideline=_order_group(guideline, tolerance, config.guideline_k),
        research=_order_group(research, tolerance, config.research_k),
    )
