"""Per-key rates (429, a token bucket) and the request size limit (413), on their own and over the API, where
a refused request applies nothing. The clock of the bucket is replaced by a hand-moved one: no test here
depends on how fast it runs."""

import asyncio
import json
from collections.abc import Iterator, MutableMapping
from types import SimpleNamespace
from typing import Any

import pytest

from crossmargin.service.api import Limits
from crossmargin.service.limits import BodyLimit, RateLimiter
from tests.service.api_support import Served, closed_with, serving


class HandClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> HandClock:
    hand = HandClock()
    monkeypatch.setattr("crossmargin.service.limits.time", SimpleNamespace(monotonic=hand))  # its clock only
    return hand


def test_the_bucket_by_hand(clock: HandClock) -> None:
    limiter = RateLimiter(rate=2.0, burst=3.0)
    # A full bucket of 3: three requests at once pass, the fourth is refused.
    assert [limiter.allow(1) for _ in range(4)] == [True, True, True, False]
    clock.now += 0.25  # 0.25 s x 2 a second = 0.5 token: still short of one
    assert limiter.allow(1) is False
    clock.now += 0.25  # 0.5 + 0.5 = 1 token
    assert [limiter.allow(1), limiter.allow(1)] == [True, False]
    clock.now += 100.0  # a long pause fills the bucket to its burst, no further
    assert [limiter.allow(1) for _ in range(4)] == [True, True, True, False]


def test_each_key_has_its_own_bucket(clock: HandClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1.0)
    assert [limiter.allow(1), limiter.allow(1)] == [True, False]
    assert [limiter.allow(2), limiter.allow(2)] == [True, False]


# ------------------------------------------------------------------ the body limit, as ASGI middleware


def _drive(
    limit: int, headers: list[tuple[bytes, bytes]], chunks: list[bytes], reads: int | None = None
) -> list[MutableMapping[str, Any]]:
    """Run a request through BodyLimit in front of an app that reads ``reads`` body messages (all: None) and
    answers 200; what was sent back."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        count = 0
        while reads is None or count < reads:
            message = await receive()
            count += 1
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodyLimit(app, limit)(scope, receive, send))
    return sent


def _status(sent: list[MutableMapping[str, Any]]) -> int:
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    status: int = start["status"]
    return status


def test_the_body_limit_by_content_length() -> None:
    assert _status(_drive(10, [(b"content-length", b"10")], [b"x" * 10])) == 200
    refused = _drive(10, [(b"content-length", b"11")], [b"x" * 11])
    assert _status(refused) == 413
    assert json.loads(refused[-1]["body"]) == {"error": {"field": "body", "message": "larger than 10 bytes"}}
    assert _status(_drive(10, [(b"content-length", b"ten")], [b"x"])) == 413  # not a length


def test_the_body_limit_on_a_body_without_a_length() -> None:
    assert _status(_drive(10, [], [b"x" * 5, b"x" * 5])) == 200
    assert _status(_drive(10, [], [b"x" * 6, b"x" * 5])) == 413  # refused as soon as it passes the limit


def test_a_response_already_started_is_not_answered_twice() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()  # past the limit: BodyLimit stops the app, the answer already began

    sent: list[MutableMapping[str, Any]] = []
    chunks = iter(
        [{"type": "http.request", "body": b"x" * 6, "more_body": True}, {"type": "http.request", "body": b"x" * 6}]
    )

    async def receive() -> Any:
        return next(chunks)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(app, 10)({"type": "http", "headers": []}, receive, send))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]


# ------------------------------------------------------------------ over the API


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    # Two requests a key at once, and (in effect) never another: 1e-6 a second refills a token in 11 days.
    with serving(database_url, Limits(rate=1e-6, burst=2.0, body=512)) as service:
        yield service


def test_a_key_over_its_rate_is_refused_with_429_and_nothing_applied(served: Served) -> None:
    key = served.auth("account:hedged")
    deposit = {"asset": "USDT", "amount": "1"}
    assert [served.client.get("/v1/accounts/hedged", headers=key).status_code for _ in range(2)] == [200, 200]
    before = served.fingerprint()
    answer = served.client.post("/v1/accounts/hedged/deposits", json=deposit, headers=key)
    assert answer.status_code == 429
    assert answer.json()["error"]["field"] == "authorization"
    assert served.fingerprint() == before
    # Another key has its own bucket; health needs no key and is never limited.
    assert (
        served.client.post("/v1/accounts/hedged/deposits", json=deposit, headers=served.auth("admin")).status_code
        == 200
    )
    assert all(served.client.get("/v1/health").status_code == 200 for _ in range(5))
    # The stream counts against the same bucket: a socket of the exhausted key is closed with 4429.
    with served.client.websocket_connect(
        f"/v1/stream?topic=account:hedged&key={served.key('account:hedged')}"
    ) as socket:
        messages, code = closed_with(socket)
    assert code == 4429 and messages[0]["error"]["field"] == "authorization"


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_applied(served: Served) -> None:
    admin = served.auth("admin")
    before = served.fingerprint()
    line = {"t": 1, "source": "binance", "symbol": "BTC", "price": 63900}  # would liquidate near-liquidation
    big = json.dumps([line] * 10).encode()
    assert len(big) > 512
    answer = served.client.post("/v1/prices", content=big, headers={**admin, "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"error": {"field": "body", "message": "larger than 512 bytes"}}

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big[:300]
        yield big[300:]

    answer = served.client.post("/v1/prices", content=chunked(), headers={**admin, "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert served.fingerprint() == before
    small = json.dumps([line]).encode()
    assert served.client.post("/v1/prices", content=small, headers=served.auth("feeder")).status_code == 200
