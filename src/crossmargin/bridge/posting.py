"""Feeding a running ``crossmargin serve`` from ``crossmargin watch``: price lines to ``POST /v1/prices`` (a key
of scope ``feeder`` or ``admin``), fills to ``POST /v1/trades`` (``matcher`` or ``admin``), as docs/service.md
describes the bodies.

Updates are sent in the order they came. Price lines waiting together go in one post (up to the service's 1,000
lines); each trade is its own post. Every post carries an ``Idempotency-Key`` (``watch-<run>-<n>``, ``run`` drawn
once per watch), so a post retried after a lost answer applies once. Posts are paced by a token bucket of
``rate`` requests a second. A 429 or 503 answer, or no answer, is retried after a backoff doubling from
``backoff_s``, up to ``attempts`` tries; a 4xx answer is final. The service's answer to each post is emitted as a
line: ``posted`` (``seq``, the number of lines it caused), ``refused`` (``status`` and the service's ``error``) or
``failed`` (no answer after every try). Keys are sent in the ``Authorization`` header only and never emitted.

HTTP goes through the standard library (one short request at a time, on a worker thread), no client dependency.
"""

import asyncio
import json
import secrets
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from crossmargin.bridge.watch import Emit, Event, json_line

PRICE_KEYS = ("t", "source", "symbol", "price")
"""The fields of a price line the service takes."""
TRADE_KEYS = ("buyer", "seller", "instrument", "size", "price", "buyer_fee", "seller_fee")
"""The fields of a trade the service takes."""
RETRIED = frozenset({429, 503})
"""Answers worth another try: over the key's rate, the log not writable for now."""
TIMEOUT_S = 30.0
"""The most one request waits for its answer."""
MAX_LINES = 1_000
"""Price lines one post may carry (the service's limit)."""
CLOSING_S = 5.0
"""The most :meth:`ServiceFeed.close` spends on the posts still queued (at Ctrl-C)."""


@dataclass(frozen=True)
class Answer:
    """The service's answer: HTTP ``status`` (0: none came) and its JSON body (or the transport error's text)."""

    status: int
    body: Any


class RateLimit:
    """A token bucket: ``rate`` requests a second on average, bursts of up to ``rate`` (at least one); ``clock``
    gives seconds, ``sleep`` waits."""

    def __init__(
        self, rate: float, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.capacity = max(1.0, rate)
        self.tokens, self.at = self.capacity, clock()

    async def take(self) -> None:
        """Wait until a request may go, and count it."""
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await self.sleep((1 - self.tokens) / self.rate)


def request(
    url: str, method: str, key: str | None, body: bytes | None, idempotency: str | None, timeout_s: float = TIMEOUT_S
) -> Answer:
    """One HTTP request to the service (blocking, at most ``timeout_s``); ``Answer(0, why)`` when no answer came."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    call = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=timeout_s) as answer:
            return Answer(answer.status, json.loads(answer.read() or b"null"))
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return Answer(err.code, json.loads(text))
        except ValueError:
            return Answer(err.code, text.decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError) as err:
        return Answer(0, f"{type(err).__name__}: {getattr(err, 'reason', err)}")


class ServiceFeed:
    """Posts the watcher's ``price`` and ``trade`` lines to the service at ``url`` (see the module doc) and
    emits each answer. :meth:`offer` queues an update; :meth:`start` posts from then on; :meth:`close` lets the
    posts still queued go, stops, and reports what was not sent. ``timeout_s`` bounds one request, ``closing_s``
    the last posts at :meth:`close`."""

    def __init__(
        self,
        url: str,
        feeder_key: str,
        matcher_key: str,
        emit: Emit,
        rate: float = 10.0,
        attempts: int = 5,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = TIMEOUT_S,
        closing_s: float = CLOSING_S,
    ) -> None:
        self.url = url.rstrip("/")
        self.keys = {"prices": feeder_key, "trade": matcher_key}
        self.emit = emit
        self.limit = RateLimit(rate, clock)
        self.attempts, self.backoff_s = attempts, backoff_s
        self.timeout_s, self.closing_s = timeout_s, closing_s
        self.run_id = secrets.token_hex(6)
        self.sent = 0
        self.queue: deque[Event] = deque()
        self.in_flight: list[Event] = []
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def health(self) -> Answer:
        """The service's ``GET /v1/health`` answer."""
        return await asyncio.to_thread(request, f"{self.url}/v1/health", "GET", None, None, None, self.timeout_s)

    def offer(self, event: Event) -> None:
        """Queue ``event`` if the service takes it (a price line or a trade)."""
        if event.get("event") in ("price", "trade"):
            self.queue.append(event)
            self.ready.set()

    def start(self) -> None:
        """Post from now on, in a task of the running event loop (:meth:`run`), until :meth:`close`."""
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        """Post what is queued, in order, for ever (until cancelled)."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.queue:
                await self._post_next()

    async def close(self) -> None:
        """Let the posts still queued go (each tried once from now on, for at most ``closing_s`` in all), then stop;
        report what could not be sent as an ``unsent`` line (``prices`` lines and ``trades``)."""
        self.attempts = 1

        async def drained() -> None:
            while self.queue or self.in_flight:
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(drained(), self.closing_s)
        except TimeoutError:
            left = [e["event"] for e in (*self.in_flight, *self.queue)]
            await self.emit({"event": "unsent", "prices": left.count("price"), "trades": left.count("trade")})
        finally:
            if self.task is not None:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

    async def _post_next(self) -> None:
        first = self.queue[0]
        if first["event"] == "trade":
            what, path = "trade", "/v1/trades"
            batch = [self.queue.popleft()]
            body = json_line({k: first[k] for k in TRADE_KEYS})
        else:
            what, path = "prices", "/v1/prices"
            batch = []
            while self.queue and self.queue[0]["event"] == "price" and len(batch) < MAX_LINES:
                batch.append(self.queue.popleft())
            body = json_line([{k: line[k] for k in PRICE_KEYS} for line in batch])
        self.in_flight = batch
        try:
            answer = await self._post(path, self.keys[what], body.encode())
        finally:
            self.in_flight = []
        event: Event = {"what": what}
        if what == "prices":
            event["lines"] = len(batch)
        else:
            event["venue_trade_id"] = first["venue_trade_id"]
        if 200 <= answer.status < 300 and isinstance(answer.body, dict):
            caused = answer.body.get("events")
            event.update(seq=answer.body.get("seq"), caused=len(caused) if isinstance(caused, list) else 0)
            await self.emit({"event": "posted", **event})
        elif answer.status:
            error = answer.body.get("error") if isinstance(answer.body, dict) else answer.body
            await self.emit({"event": "refused", **event, "status": answer.status, "error": error})
        else:
            await self.emit({"event": "failed", **event, "error": answer.body})

    async def _post(self, path: str, key: str, body: bytes) -> Answer:
        self.sent += 1
        idempotency = f"watch-{self.run_id}-{self.sent}"
        delay = self.backoff_s
        answer = Answer(0, "not tried")
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            await self.limit.take()
            answer = await asyncio.to_thread(
                request, f"{self.url}{path}", "POST", key, body, idempotency, self.timeout_s
            )
            if answer.status and answer.status not in RETRIED:
                return answer
        return answer
