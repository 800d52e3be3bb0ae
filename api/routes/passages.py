"""GET /v1/passages/{id}: the full passage behind a citation."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PassagesDep
from api.errors import NotFoundError
from api.routes import PathId, not_found
from api.schemas import PassageOut

router = APIRouter(tags=["passages"])


@router.get(
    "/passages/{passage_id}",
    response_model=PassageOut,
    summary="The passage behind a citation",
    responses=not_found("No passage has this id in the loaded index."),
)
def read_passage(passage_id: PathId, passages: PassagesDep) -> PassageOut:
    """Text, title, section, source, year, URL, tier and design, licence, data set, document
    id and character offsets of one passage (``references[].passage_id`` of an answer)."""
    passage = passages.get(passage_id)
    if passage is None:
        raise NotFoundError(f"passage {passage_id!r} not found")
    return PassageOut.of(passage)
