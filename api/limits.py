"""Limits on what one client may ask: the request body size, and the request rate per key.

Body size, as ASGI middleware: 413 with a JSON ``detail``. A declared ``Content-Length`` over
the limit is refused before the body is read. A body sent without one (chunked) is counted as
it arrives, and reading stops with a 413 as soon as it passes the limit, so a client cannot
make the server buffer more than the limit either way.

Request rate, as a dependency of the ``/v1`` routes (after the key check): at most
``api.rate_limit`` requests per API key, or per client address when no keys are set, in a
moving window (the ``limits`` package, in memory, so per worker process). Over it: 429 with
``Retry-After``, the seconds until the oldest request in the window leaves it.

Example:
    >>> app.add_middleware(BodyLimitMiddleware, max_bytes=256_000)
    >>> app.state.rate_limiter = RateLimiter("300/minute")
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence

import limits
from fastapi import Request
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import key_matches
from api.errors import BodyTooLargeError, RateLimitedError, body_too_large_detail, error_response


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413.

    Args:
        app: the ASGI app it wraps.
        max_bytes: the largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises it from body parsing, and its
                    # handler answers 413 (see api.errors.BodyTooLargeError).
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, body_too_large_detail(self.max_bytes))
        await response(scope, receive, send)


class RateLimiter:
    """At most ``rate`` hits per client id in a moving window.

    Args:
        rate: in the ``limits`` notation, e.g. ``"300/minute"``.
    """

    def __init__(self, rate: str) -> None:
        self._rate = limits.parse(rate)  # ValueError for a rate it cannot read
        self._limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())

    def hit(self, client: str) -> None:
        """Count one request of ``client``.

        Raises:
            RateLimitedError: ``client`` is over the rate; nothing was counted.
        """
        if self._limiter.hit(self._rate, client):
            return
        reset_at, _ = self._limiter.get_window_stats(self._rate, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimitedError(
            f"over the rate limit of {self._rate}; retry in {retry_after} s", retry_after
        )


def client_id(request: Request, keys: Sequence[SecretStr]) -> str:
    """Who is asking: a digest of the configured key the request presents, or, without keys,
    the client's address (so that made-up keys buy no fresh allowance)."""
    bearer = request.headers.get("authorization", "")
    presented = (
        bearer[7:] if bearer[:7].lower() == "bearer " else "",
        request.headers.get("x-api-key", ""),
    )
    for key in presented:
        if key and key_matches(key, keys):
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return "address:" + (request.client.host if request.client else "unknown")


async def enforce_rate_limit(request: Request) -> None:
    """The ``/v1`` dependency: count the request, or raise :class:`RateLimitedError`."""
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        limiter.hit(client_id(request, request.app.state.settings.api.api_keys))
