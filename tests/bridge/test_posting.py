"""Posting the watcher's lines to the real service on loopback (tests/service/api_support.py): the service's
state moves by the prices and trades posted; refusals and an absent service are reported; the rate limit paces.

The book is the import of tests/bridge/fixtures/binanceusdm-cross.json, as ``crossmargin import`` writes it:
wallet 100284.61735942 USDT, BTC-PERP long 1.5 at 66104.2, ETH-PERP short 40 at 2581.37. BTC and ETH are not
priced assets there, so a BTC-PERP line is the mark's only source and the mark is its price. The trades, by
hand (as in tests/bridge/test_watch.py):

- buy 0.5 BTC-PERP at 67500, fee 13.5: long 2 at (1.5 x 66104.2 + 0.5 x 67500) / 2 = 66453.15
- buy 10 ETH-PERP at 2530, fee 10.12: short 30 at 2581.37, realizing 10 x (2581.37 - 2530) = 513.7
- wallet 100284.61735942 - 13.5 + 513.7 - 10.12 = 100774.69735942; fee pool 13.5 + 10.12 = 23.62
"""

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from crossmargin.bridge.posting import RateLimit, ServiceFeed
from crossmargin.bridge.watch import Event
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from tests.bridge.watch_support import free_port, served_book
from tests.service.api_support import on_loopback

ACCOUNT = "binanceusdm-USDT"


@contextlib.contextmanager
def service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The real service over the imported book on loopback: its URL and a key of each scope."""
    store = Store(f"sqlite:///{tmp_path / 'service.db'}")
    try:
        keys = {scope: add_key(store, scope, f"test {scope}")[1] for scope in ("admin", "feeder", "matcher")}
        with on_loopback(store, served_book()) as (port, _):
            yield f"http://127.0.0.1:{port}", keys
    finally:
        store.close()


def price(t: int, symbol: str, value: str) -> Event:
    return {"event": "price", "t": Decimal(t), "source": "binanceusdm", "symbol": symbol, "price": Decimal(value)}


def trade(trade_id: str, buyer: str, instrument: str, size: str, value: str, fee: str) -> Event:
    return {
        "event": "trade", "t": Decimal(1729771202), "venue_trade_id": trade_id, "buyer": buyer, "seller": "@market",
        "instrument": instrument, "size": Decimal(size), "price": Decimal(value), "buyer_fee": Decimal(fee),
        "seller_fee": Decimal(0), "venue_fee": None,
    }  # fmt: skip


def posted(url: str, feeder: str, matcher: str, events: list[Event], answers: int, **options: Any) -> list[Event]:
    """The answer lines of a feed that was offered ``events``, once ``answers`` of them have come."""
    lines: list[Event] = []

    async def emit(event: Event) -> None:
        lines.append(event)

    async def main() -> None:
        feed = ServiceFeed(url, feeder, matcher, emit, **options)
        task = asyncio.create_task(feed.run())
        for event in events:
            feed.offer(event)
        try:
            while len(lines) < answers:
                await asyncio.sleep(0.005)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(main(), 20))
    return lines


def test_prices_and_trades_move_the_services_book(tmp_path: Path) -> None:
    with service(tmp_path) as (url, keys):
        events = [
            price(1729771201, "BTC-PERP", "67500.1"),
            price(1729771201, "ETH-PERP", "2530.2"),
            trade("5001", ACCOUNT, "BTC-PERP", "0.5", "67500", "13.5"),
            trade("5002", ACCOUNT, "ETH-PERP", "10", "2530", "10.12"),
        ]
        lines = posted(url, keys["feeder"], keys["matcher"], events, answers=3)
        # the two price lines waiting together went in one post: events 1 and 2; then one event per trade
        assert [(line["event"], line["what"], line["seq"]) for line in lines] == [
            ("posted", "prices", 2), ("posted", "trade", 3), ("posted", "trade", 4),
        ]  # fmt: skip
        assert lines[0]["lines"] == 2 and [line.get("venue_trade_id") for line in lines[1:]] == ["5001", "5002"]
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        account = httpx.get(f"{url}/v1/accounts/{ACCOUNT}", headers=admin).json()
        held = {p["instrument"]: (p["size"], p["entry_price"], p["mark"]) for p in account["positions"]}
        assert held == {"BTC-PERP": ("2", "66453.15", "67500.1"), "ETH-PERP": ("-30", "2581.37", "2530.2")}
        assert [(c["asset"], c["amount"]) for c in account["collateral"]] == [("USDT", "100774.69735942")]
        assert httpx.get(f"{url}/v1/book", headers=admin).json()["fee_pool"] == "23.62"
        assert httpx.get(f"{url}/v1/health").json()["events"] == 4


def test_a_refused_post_is_reported_with_the_services_error_and_changes_nothing(tmp_path: Path) -> None:
    with service(tmp_path) as (url, keys):
        events = [
            trade("9", "nobody", "BTC-PERP", "1", "67500", "0"),  # no such account
            trade("10", ACCOUNT, "BTC-PERP", "1", "67500", "0"),  # a feeder key may not post trades
        ]
        first = posted(url, keys["feeder"], keys["matcher"], events[:1], answers=1)
        second = posted(url, keys["feeder"], keys["feeder"], events[1:], answers=1)
        assert first == [
            {"event": "refused", "what": "trade", "venue_trade_id": "9", "status": 422,
             "error": {"field": "buyer", "message": "no account with id 'nobody'"}},
        ]  # fmt: skip
        assert second == [
            {"event": "refused", "what": "trade", "venue_trade_id": "10", "status": 403,
             "error": {"field": "authorization", "message": "a key of scope feeder may not do this"}},
        ]  # fmt: skip
        assert httpx.get(f"{url}/v1/health").json()["events"] == 0


def test_a_service_that_does_not_answer_is_retried_then_reported_as_failed() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    lines = posted(url, "k", "k", [price(1, "BTC-PERP", "1")], answers=1, attempts=2, backoff_s=0.01)
    (failed,) = lines
    assert (failed["event"], failed["what"], failed["lines"]) == ("failed", "prices", 1)
    assert "Connection refused" in failed["error"]


def closed(url: str, feeder: str, matcher: str, events: list[Event], **options: Any) -> list[Event]:
    """The answer lines of a feed started, offered ``events`` and closed at once (as at Ctrl-C)."""
    lines: list[Event] = []

    async def emit(event: Event) -> None:
        lines.append(event)

    async def main() -> None:
        feed = ServiceFeed(url, feeder, matcher, emit, **options)
        feed.start()
        for event in events:
            feed.offer(event)
        await feed.close()
        assert feed.task is not None and feed.task.done()

    asyncio.run(asyncio.wait_for(main(), 20))
    return lines


def test_closing_lets_the_queued_posts_go_first(tmp_path: Path) -> None:
    with service(tmp_path) as (url, keys):
        events = [price(1729771201, "BTC-PERP", "67500.1"), trade("5001", ACCOUNT, "BTC-PERP", "0.5", "67500", "13.5")]
        lines = closed(url, keys["feeder"], keys["matcher"], events)
        assert [(line["event"], line["what"], line["seq"]) for line in lines] == [
            ("posted", "prices", 1), ("posted", "trade", 2),
        ]  # fmt: skip


def test_closing_reports_what_a_hanging_service_did_not_take() -> None:
    with socket.socket() as silent:  # listens, never answers: a request waits for its timeout
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        events = [price(1, "BTC-PERP", "1"), price(1, "ETH-PERP", "1"), trade("7", ACCOUNT, "BTC-PERP", "1", "1", "0")]
        lines = closed(url, "k", "k", events, timeout_s=0.5, closing_s=0.1)
    # the two price lines were in flight in one post, the trade still queued
    assert lines == [{"event": "unsent", "prices": 2, "trades": 1}]


def test_the_rate_limit_spaces_requests_after_a_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def take(limit: RateLimit, count: int) -> None:
        for _ in range(count):
            await limit.take()

    asyncio.run(take(RateLimit(2.0, lambda: now[0], sleep), 5))
    # a bucket of 2: two at once, then one every 1 / 2 s
    assert slept == [0.5, 0.5, 0.5]
