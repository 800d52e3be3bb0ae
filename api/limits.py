"""The request body size limit, as ASGI middleware: 413 with a JSON ``detail``.

A declared ``Content-Length`` over the limit is refused before the body is read. A body sent
without one (chunked) is counted as it arrives, and reading stops with a 413 as soon as it
passes the limit, so a client cannot make the server buffer more than the limit either way.

Example:
    >>> app.add_middleware(BodyLimitMiddleware, max_bytes=256_000)
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLargeError, body_too_large_detail, error_response


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
