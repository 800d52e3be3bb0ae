"""Domain errors and the one place where they become HTTP responses.

Every error response of the service is JSON with a ``detail`` string, so a client (and the
widget, which shows ``detail`` to the reader) always gets a sentence it can display:

==============================  ======  ==================================================
error                           status  when
==============================  ======  ==================================================
request validation              422     wrong types, missing fields, malformed JSON, a body
                                        that is not UTF-8, nested too deeply or holds a
                                        number too long to read
:class:`QuestionTooLongError`   422     a question over ``api.max_question_chars``
:class:`InvalidHistoryError`    422     a history that cannot become a conversation
``EmptyQueryError``             422     an empty question that reached the retriever
:class:`UnknownModelError`      404     ``/v1/chat/completions`` with another model name
:class:`NotFoundError`          404     unknown conversation or passage
:class:`TurnLimitError`         409     a follow-up to a conversation at ``api.max_turns``
:class:`BodyTooLargeError`      413     a request body over ``api.max_body_bytes``
:class:`NotAuthenticatedError`  401     a key is required and missing or wrong
:class:`RateLimitedError`       429     more requests than ``api.rate_limit`` (Retry-After)
:class:`EngineNotReadyError`    503     the index is still loading (or failed to load)
:class:`StoreUnavailableError`  503     the conversation database is damaged or unusable
an engine ``error`` event       its own the engine reports a failure before streaming
anything else                   500     logged without the request's text
==============================  ======  ==================================================

Example:
    >>> app = FastAPI()
    >>> install_error_handlers(app, log_questions=False)
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retriever.types import EmptyQueryError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """Base of the errors the API turns into a status code and a ``detail`` message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(ApiError):
    """A conversation or passage id that does not exist."""


class QuestionTooLongError(ApiError):
    """A question over the configured character limit."""


class InvalidHistoryError(ApiError):
    """A history that cannot be turned into a conversation (e.g. an answer with no question)."""


class UnknownModelError(ApiError):
    """An OpenAI-compatible request for a model this service does not serve."""


class NotAuthenticatedError(ApiError):
    """A key is required and the request has none, or a wrong one."""


class EngineNotReadyError(ApiError):
    """The engine is still loading its index and model, or failed to."""


class TurnLimitError(ApiError):
    """A follow-up to a conversation that already holds the most turns allowed."""


class RateLimitedError(ApiError):
    """A key (or, without keys, a client address) sent more requests than its rate allows.

    Args:
        detail: the sentence for the client.
        retry_after: whole seconds until a request will be accepted again.
    """

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StoreUnavailableError(ApiError):
    """The conversation database cannot be used: damaged, not a database, or not writable.

    ``detail`` is for clients and says what is wrong without the server's paths; the log line
    (written where the error is raised) names the file and SQLite's error.
    """


class EngineReportedError(ApiError):
    """The engine's stream began with an ``error {status, detail}`` event.

    Nothing has been sent yet, so it becomes an ordinary HTTP error with that status.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status if 400 <= status < 600 else 500


class BodyTooLargeError(StarletteHTTPException):
    """Raised while a request body is read, once it passes the limit.

    It is an ``HTTPException`` on purpose: FastAPI re-raises those from body parsing instead of
    turning them into a 400, so the handler below answers 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=body_too_large_detail(limit))


def body_too_large_detail(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


# What FastAPI's body parsing raises besides JSONDecodeError (which it makes a 422 itself).
# It answers these 400 "There was an error parsing the body", a status the API does not
# declare; they are invalid JSON bodies like any other, so they get the same 422.
_UNREADABLE_BODY: Mapping[type[Exception], str] = {
    UnicodeDecodeError: "request body is not valid UTF-8",
    RecursionError: "request body is nested too deeply to read",
    ValueError: f"request body has a number longer than {sys.get_int_max_str_digits()} digits",
}


def unreadable_body_reason(exc: StarletteHTTPException) -> str | None:
    """Why FastAPI could not parse a request body, if ``exc`` is its 400 for that."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    for cls in type(cause).__mro__:
        if cls in _UNREADABLE_BODY:
            return _UNREADABLE_BODY[cls]
    return "request body could not be read as JSON"


# Domain error -> status code. Subclasses are looked up along their MRO.
STATUS: Mapping[type[Exception], int] = {
    NotFoundError: 404,
    UnknownModelError: 404,
    TurnLimitError: 409,
    RateLimitedError: 429,
    StoreUnavailableError: 503,
    QuestionTooLongError: 422,
    InvalidHistoryError: 422,
    EmptyQueryError: 422,
    NotAuthenticatedError: 401,
    EngineNotReadyError: 503,
    EngineReportedError: 500,  # the event's own status, see status_for()
}

_HEADERS: Mapping[int, Mapping[str, str]] = {
    401: {"WWW-Authenticate": "Bearer"},
    503: {"Retry-After": "5"},
}


def status_for(exc: BaseException) -> int:
    """The HTTP status for a domain error; 500 for anything unexpected."""
    if isinstance(exc, EngineReportedError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    return 500


def detail_for(exc: BaseException) -> str:
    """The client-facing message; internal errors never echo their (possibly private) text."""
    if isinstance(exc, ApiError):
        return exc.detail
    if isinstance(exc, StarletteHTTPException):
        return str(exc.detail)
    if isinstance(exc, EmptyQueryError):  # the retriever's words, which never quote the query
        return str(exc) or "question must not be empty"
    return "internal server error"


def describe_validation(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable sentence from pydantic's error list: ``body.question: Field required``."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        msg = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            ctx = error.get("ctx")
            if ctx is None:  # ours (unreadable_body_reason): the message is the sentence
                parts.append(msg)
                continue
            position = loc[1] if len(loc) > 1 else "?"
            parts.append(
                f"request body is not valid JSON ({ctx.get('error', '')} at character {position})"
            )
            continue
        msg = msg.removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def _slim(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Without ``input``: a 1 MB question is not sent back, nor logged anywhere.
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]


def error_response(
    status: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON body every error has: ``{"detail": "..."}`` (plus machine-readable extras)."""
    return JSONResponse(
        {"detail": detail, **extra},
        status_code=status,
        headers={**_HEADERS.get(status, {}), **(headers or {})} or None,
    )


def validation_response(errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """422 with a readable ``detail`` and the ``errors`` list (without their input)."""
    return error_response(422, describe_validation(errors), errors=_slim(errors))


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of ``app`` accepts at the request's path."""
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


def install_error_handlers(app: FastAPI, *, log_questions: bool) -> None:
    """Register the handlers that turn every error into ``{"detail": "..."}``.

    Args:
        app: the application.
        log_questions: when false, unexpected errors are logged with their traceback's frames
            only, since an exception message may quote the question (health data).
    """

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc.errors())

    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = unreadable_body_reason(exc)
        if reason is not None:
            return validation_response([{"loc": ("body",), "msg": reason, "type": "json_invalid"}])
        headers = dict(_HEADERS.get(exc.status_code, {}))
        headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the methods of one route; a path has more
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return JSONResponse(
            {"detail": detail_for(exc)}, status_code=exc.status_code, headers=headers or None
        )

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(status_for(exc), detail_for(exc), headers)

    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    for cls in STATUS:
        app.add_exception_handler(cls, on_domain)
    # Not add_exception_handler(Exception): Starlette re-raises after such a handler, and the
    # server would then log the exception's message, which may quote a question.
    app.add_middleware(UnexpectedErrorMiddleware, log_questions=log_questions)


class UnexpectedErrorMiddleware:
    """Answers 500 ``{"detail": "internal server error"}`` and logs without the message.

    Args:
        app: the ASGI app it wraps.
        log_questions: passed on to :func:`log_unexpected`.
    """

    def __init__(self, app: ASGIApp, *, log_questions: bool) -> None:
        self.app = app
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            where = f"{scope.get('method', '?')} {scope.get('path', '?')}"
            log_unexpected(exc, where, log_questions=self.log_questions)
            if not started:
                await error_response(500, "internal server error")(scope, receive, send)


def log_unexpected(exc: BaseException, where: str, *, log_questions: bool) -> None:
    """Log an unexpected error; its message (which may quote a question) only if allowed."""
    if log_questions:
        logger.error("unexpected error in %s", where, exc_info=exc)
        return
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "unexpected %s in %s (message withheld: log_questions is off)\n%s",
        type(exc).__name__,
        where,
        frames,
    )
