"""Per-key request rates and request sizes."""

import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts of up to ``burst``."""

    rate: float
    burst: float
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key_id: int) -> bool:
        """Take one request's token for ``key_id``; False if its bucket is empty (the request is refused)."""
        now = time.monotonic()
        tokens, since = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return False
        self._buckets[key_id] = (tokens - 1, now)
        return True


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 (by its Content-Length before
    anything is read, or as soon as a chunked body passes the limit)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"error":{"field":"body","message":"larger than %d bytes"}}' % limit
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
