"""What a route may ask for: settings, engine, passages, conversation store, an API key check.

Each is an ``Annotated[..., Depends()]`` alias, so a route reads ``engine: EngineDep`` and tests
swap the real thing with ``app.dependency_overrides[get_engine] = lambda: my_engine``.

Example:
    >>> @router.get("/v1/passages/{passage_id}", response_model=PassageOut)
    ... def read_passage(passage_id: str, passages: PassagesDep) -> PassageOut: ...
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from answer.engine import build_engine
from answer.settings import Settings
from answer.types import Engine, PassageLookup
from api.errors import EngineNotReadyError, NotAuthenticatedError
from api.store import ConversationStore
from corpus.types import Passage

logger = logging.getLogger(__name__)


class _EnginePassages:
    """A :class:`PassageLookup` over ``Engine.passage`` (a dict lookup: no lock needed)."""

    def __init__(self, lookup: Callable[[str], Passage | None]) -> None:
        self._lookup = lookup

    def get(self, passage_id: str) -> Passage | None:
        return self._lookup(passage_id)


@dataclass(frozen=True)
class Resources:
    """What the routes serve from: the engine, a passage lookup and the index manifest."""

    engine: Engine
    passages: PassageLookup
    manifest: dict[str, Any] | None


def load_resources(settings: Settings, engine: Engine | None = None) -> Resources:
    """Build the engine (unless given) and take its passage lookup and index manifest.

    Raises:
        FileNotFoundError: there is no index at ``settings.index.path``.
        index.errors.IndexLoadError: the index is damaged or was built with another model.
    """
    if engine is None:
        manifest_file = Path(settings.index.path) / "manifest.json"
        if not manifest_file.is_file():  # fail before spending seconds on the model
            raise FileNotFoundError(
                f"no index at {settings.index.path} ({manifest_file.name} missing)"
            )
        engine = build_engine(settings)
    # Requests share the engine across threads: its caches lock their own updates, and the
    # encoders, FAISS and BM25 are safe to call concurrently (tests/test_api_concurrency.py).
    manifest = engine.manifest
    return Resources(
        engine=engine,
        passages=_EnginePassages(engine.passage),
        manifest=manifest.to_dict() if manifest is not None else None,
    )


@dataclass
class EngineState:
    """Where the resources are: loading, ready, or failed (with the reason)."""

    resources: Resources | None = None
    error: str | None = None

    @property
    def status(self) -> Literal["ready", "loading", "failed"]:
        if self.resources is not None:
            return "ready"
        return "failed" if self.error is not None else "loading"

    @property
    def manifest(self) -> dict[str, Any] | None:
        return self.resources.manifest if self.resources is not None else None


# ----------------------------------------------------------------------------- dependencies


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _resources(request: Request) -> Resources:
    state: EngineState = request.app.state.engine_state
    if state.resources is None:
        if state.error is not None:
            raise EngineNotReadyError("the answer engine failed to load; see /readyz")
        raise EngineNotReadyError("the index is still loading; retry in a few seconds")
    return state.resources


async def get_engine(request: Request) -> Engine:
    return _resources(request).engine


async def get_passages(request: Request) -> PassageLookup:
    return _resources(request).passages


async def get_store(request: Request) -> ConversationStore:
    store: ConversationStore = request.app.state.store
    return store


# The dependencies are ``async def`` although they never await: they do no blocking work, and
# FastAPI runs a plain ``def`` dependency in the thread pool, a thread hand-off per request each.
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
StoreDep = Annotated[ConversationStore, Depends(get_store)]
PassagesDep = Annotated[PassageLookup, Depends(get_passages)]

_bearer = HTTPBearer(auto_error=False, description="An API key as `Authorization: Bearer <key>`.")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key in the X-API-Key header."
)


def key_matches(given: str, keys: Sequence[SecretStr]) -> bool:
    """Whether ``given`` is one of ``keys``, in time independent of where they differ.

    Every key is compared (no early exit), each with :func:`hmac.compare_digest`, so the time
    taken tells nothing about which key nearly matched or how much of it.
    """
    candidate = given.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key.get_secret_value().encode())
    return matched


async def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> None:
    """Pass when no keys are configured, or a presented key matches one of them.

    Raises:
        NotAuthenticatedError: keys are configured and none was presented, or it was wrong.
    """
    keys = settings.api.api_keys
    if not keys:
        return
    presented = [k for k in (bearer.credentials if bearer else None, header_key) if k]
    if not presented:
        raise NotAuthenticatedError(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
        )
    if not any([key_matches(k, keys) for k in presented]):  # list: check every one
        raise NotAuthenticatedError("the API key is not valid")


ApiKeyDep = Depends(require_api_key)
