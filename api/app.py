"""The HTTP API: ``create_app(settings)`` builds the service; nothing happens at import time.

Resources live in the lifespan: the conversation store opens at startup, and the engine (index
plus model, seconds to load) loads in a background thread, so ``/healthz`` answers at once and
``/readyz`` says 503 until the engine is ready; ``/v1`` routes answer 503 until then too.
With several worker processes (``followup serve --workers``) each worker instead loads before
it accepts requests (``load_in_background=False``), so no request meets a loading worker.

Access. With ``settings.api.api_keys`` set, every ``/v1`` route needs a key, as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (401 otherwise). Open without a key:
``/healthz`` and ``/readyz`` (probes carry no credentials; they reveal only which index is
loaded), the chat page ``/`` with ``/static`` (no data in them; the page's own API calls need
a key) and the API documentation (``/docs``, ``/openapi.json``).

Privacy. Questions travel only in request bodies, never in URLs, so the server's access log
holds no question; this package logs a question only with ``settings.api.log_questions``.

Example:
    >>> app = create_app(Settings(index={"path": "var/demo-index"}))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from answer.settings import Settings
from answer.types import Engine
from api.deps import ApiKeyDep, EngineState, load_resources
from api.errors import StoreUnavailableError, install_error_handlers
from api.limits import BodyLimitMiddleware, RateLimiter, enforce_rate_limit
from api.routes import V1_ERRORS, answers, conversations, health, openai, passages, search
from api.routes.ui import mount_ui
from api.store import DATABASE_FILE, ConversationStore
from api.timing import ServerTimingMiddleware

logger = logging.getLogger(__name__)

API_VERSION = "1"

DESCRIPTION = """\
Answers to medical (follow-up) questions drawn verbatim from guideline and research passages,
every sentence cited. Errors are JSON `{"detail": "..."}`. Streaming routes answer with
Server-Sent Events when the request has `"stream": true`.
"""


async def _load(settings: Settings, state: EngineState, engine: Engine | None) -> None:
    try:
        state.resources = await asyncio.to_thread(load_resources, settings, engine)
    except Exception as exc:  # reported by /readyz; the process stays up for probes and logs
        state.error = f"failed to load the engine: {type(exc).__name__}: {exc}"
        logger.exception("engine failed to load from %s", settings.index.path)
        return
    logger.info("engine ready (index %s)", settings.index.path)


def create_app(
    settings: Settings, engine: Engine | None = None, *, load_in_background: bool = True
) -> FastAPI:
    """The API service.

    Args:
        settings: the whole configuration; ``settings.api`` is this layer's part.
        engine: an engine to serve; when None, ``build_engine(settings)`` runs in the lifespan.
        load_in_background: build the engine after the server starts listening, so /healthz
            answers at once and /readyz says 503 meanwhile (see the module docstring). False
            makes startup wait for it: with several worker processes behind one socket, a
            worker then takes requests only once it can answer them, instead of some requests
            meeting a worker that is still loading.

    Returns:
        The application; run it with uvicorn.
    """
    engine_state = EngineState()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ConversationStore(
            settings.api.data_dir / DATABASE_FILE, max_turns=settings.api.max_turns
        )
        # A damaged or unusable database does not stop the server: the store logged the file
        # and SQLite's error, /readyz reports it, and conversation routes answer 503.
        with contextlib.suppress(StoreUnavailableError):
            await asyncio.to_thread(store.open)
        app.state.store = store
        loading: asyncio.Task[None] | None = None
        if engine is not None or not load_in_background:  # ready before the first request
            await _load(settings, engine_state, engine)
        else:  # seconds of loading: /healthz answers meanwhile, /readyz says 503
            loading = asyncio.create_task(_load(settings, engine_state, None))
        try:
            yield
        finally:
            if loading is not None and not loading.done():
                loading.cancel()
            store.close()

    app = FastAPI(
        title="followup",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine_state = engine_state
    app.state.rate_limiter = (
        RateLimiter(settings.api.rate_limit) if settings.api.rate_limit is not None else None
    )
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]

    install_error_handlers(app, log_questions=settings.api.log_questions)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(ServerTimingMiddleware)
    # Outermost, so that errors (401, 413, ...) carry CORS headers and browsers show them.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api.cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "Accept"],
        max_age=600,
    )

    app.include_router(health.router)
    v1 = APIRouter(
        prefix="/v1", dependencies=[ApiKeyDep, Depends(enforce_rate_limit)], responses=V1_ERRORS
    )
    for module in (answers, conversations, search, passages, openai):
        v1.include_router(module.router)
    app.include_router(v1)
    mount_ui(app)
    return app


# Request models whose ``question`` is limited by ``api.max_question_chars`` (a setting, so the
# limit is added to the generated schema here rather than written into the models).
_QUESTION_MODELS = ("AnswerRequest", "ConversationCreate", "FollowupCreate")


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's OpenAPI document, with the configured question length limit."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        models = schema["components"]["schemas"]
        for name in _QUESTION_MODELS:
            question = models[name]["properties"]["question"]
            for variant in question.get("anyOf", [question]):
                if variant.get("type") == "string":
                    variant["maxLength"] = settings.api.max_question_chars
        app.openapi_schema = schema
    return app.openapi_schema
