"""POST /v1/search: retrieval only, with evidence filters."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep
from api.schemas import ScoredPassageOut, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Search the evidence (no answer)",
)
def search(body: SearchRequest, engine: EngineDep) -> SearchResponse:
    """The passages an answer would draw on: fused, and grouped into guideline and research.

    Filters keep only passages of the given tiers ('guideline', 'research'), designs
    ('rct', 'systematic_review', ...), publishers, and years.
    """
    filters = body.filters.to_filters() if body.filters else None
    evidence = engine.search(body.query, top_k=body.top_k, filters=filters)
    return SearchResponse(
        query=body.query,
        standalone_query=evidence.standalone_query,
        topic_shift=evidence.topic_shift,
        fused=[ScoredPassageOut.scored(s) for s in evidence.fused],
        guideline=[ScoredPassageOut.scored(s) for s in evidence.guideline],
        research=[ScoredPassageOut.scored(s) for s in evidence.research],
        timings_ms=evidence.timings_ms,
    )
