"""One module per group of routes; :func:`api.app.create_app` includes their routers.

The error responses every ``/v1`` route may give are declared once here (the ``/v1`` router
carries them); a route adds only its own (404, 409, the streamed 200).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from api.schemas import ID_PATTERN, ErrorOut, ValidationErrorOut
from api.streaming import SSE_MEDIA_TYPE

Responses = dict[int | str, dict[str, Any]]

# A conversation or passage id in a path; anything else (e.g. an invisible or
# direction-changing character) is a 422 before any lookup.
PathId = Annotated[str, Path(pattern=ID_PATTERN)]

V1_ERRORS: Responses = {
    401: {"model": ErrorOut, "description": "A key is required and missing or wrong."},
    413: {"model": ErrorOut, "description": "The request body is over the size limit."},
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid input: empty or too long question, wrong types, a body that is "
        "not JSON (or not UTF-8, nested too deeply, with a number too long to read).",
    },
    429: {
        "model": ErrorOut,
        "description": "Over the key's request rate; `Retry-After` says when to retry.",
    },
    503: {"model": ErrorOut, "description": "The index is still loading."},
}


def not_found(what: str) -> Responses:
    return {404: {"model": ErrorOut, "description": what}}


def streamed(description: str, events: tuple[str, ...] | None) -> Responses:
    """The 200 of a route that answers Server-Sent Events with ``"stream": true``.

    Args:
        description: what the 200 holds, plain and streamed.
        events: the event names the stream uses, or None for unnamed events (OpenAI's).

    The schema describes one event, as OpenAPI 3.2 reads ``schema`` for an event stream
    without ``itemSchema`` (and as schemathesis checks it): its name and its data, one line
    of JSON (``[DONE]`` ends OpenAI's stream).
    """
    name: dict[str, Any] = {"type": "string"}
    if events is not None:
        name["enum"] = list(events)
    event = {
        "type": "object",
        "properties": {
            "event": name,
            "data": {"type": "string", "description": "One line of JSON."},
        },
    }
    return {200: {"description": description, "content": {SSE_MEDIA_TYPE: {"schema": event}}}}
