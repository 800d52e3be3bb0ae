"""Liveness and readiness: both open, even when API keys are required.

``/healthz`` answers as soon as the process serves HTTP; ``/readyz`` is 503 until the index and
model are loaded, then 200 with the index's manifest (model, chunking, counts, build id), and
503 again (``failed``) when the conversation database is damaged or could not be opened. They
are open because orchestrators probe them without credentials; the manifest says which index
is loaded, not anything about users or their questions.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import EngineState
from api.schemas import HealthOut, ReadyOut
from api.store import ConversationStore

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
def healthz() -> HealthOut:
    """200 while the process is up, whether or not the index has loaded."""
    return HealthOut()


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness, with the index manifest",
    responses={
        503: {
            "model": ReadyOut,
            "description": "Still loading, or failed: the engine did not load, or the "
            "conversation database is damaged or unusable (`detail` says which).",
        }
    },
)
def readyz(request: Request) -> ReadyOut | JSONResponse:
    """200 with the loaded index's manifest once the engine is ready; 503 before (or on failure)."""
    state: EngineState = request.app.state.engine_state
    store: ConversationStore = request.app.state.store
    body = ReadyOut(status=state.status, detail=state.error, manifest=state.manifest)
    if store.problem is not None:
        body = ReadyOut(status="failed", detail=store.problem, manifest=state.manifest)
    if body.status != "ready":
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return body
