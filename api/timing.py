"""``Server-Timing: app;dur=<ms>, cpu;dur=<ms>`` on every response.

``app`` is the wall time the app took until it answered; ``cpu`` is the CPU time the server
process used meanwhile (all its threads: exactly this request's cost when it is the only one in
flight, more under concurrency). Where ``cpu`` is well below ``app``, the request waited for a
core rather than computed. Browsers show the header in their developer tools, and
benchmarks/api_bench.py uses it to split a request's latency into the engine's work, the app
around it (validation, serialisation, thread hand-off) and what lies outside the app (the HTTP
server, the connection, the client). For a stream it is the time to the response's headers,
i.e. to the first event.

Example:
    >>> app.add_middleware(ServerTimingMiddleware)
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>, cpu;dur=<ms>`` to HTTP responses.

    Args:
        app: the ASGI app it wraps.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, cpu = time.perf_counter(), time.process_time()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                wall_ms = (time.perf_counter() - began) * 1000
                cpu_ms = (time.process_time() - cpu) * 1000
                headers = MutableHeaders(scope=message)
                headers.append("Server-Timing", f"app;dur={wall_ms:.2f}, cpu;dur={cpu_ms:.2f}")
            await send(message)

        await self.app(scope, receive, timed_send)
