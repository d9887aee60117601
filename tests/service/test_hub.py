"""The stream's topics: the hub on its own (who gets what, once; a subscriber too far behind is dropped) and
through the API (the TestClient's WebSocket, on SQLite and PostgreSQL): ``prices`` carries the replay's
price statuses, ``account:<id>`` the account's figures whenever they change (and only then), ``book`` the
aggregates ``GET /v1/book`` shows."""

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.service import hub as hub_module
from crossmargin.service.hub import Hub
from tests.service.api_support import Served, receive, replayed, serving, without_stream_fields

BTC_63900 = {"t": 1, "source": "binance", "symbol": "BTC", "price": 63900}


def _drain(queue: asyncio.Queue[bytes]) -> list[bytes]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


# ------------------------------------------------------------------ the hub


def test_a_message_goes_to_its_topics_followers_only() -> None:
    hub = Hub()
    prices, book = hub.subscribe(frozenset({"prices"})), hub.subscribe(frozenset({"book"}))
    hub.publish("prices", b"p1")
    hub.publish("liquidations", b"nobody follows this")
    assert (_drain(prices.queue), _drain(book.queue)) == ([b"p1"], [])
    assert hub.followed("prices") and hub.followed("book") and not hub.followed("liquidations")


def test_a_message_on_several_followed_topics_arrives_once() -> None:
    hub = Hub()
    both = hub.subscribe(frozenset({"liquidations", "account:a"}))
    fill = b'{"event":"liquidation","account":"a"}'
    hub.publish("liquidations", fill)
    hub.publish("account:a", fill)  # the same line, for the account: not again
    moved = b'{"event":"mark_moved"}'
    hub.publish("liquidations", moved)
    figures = b'{"event":"figures","account":"a"}'
    hub.publish("account:a", figures)
    assert _drain(both.queue) == [fill, moved, figures]


def test_unsubscribing_forgets_empty_topics() -> None:
    hub = Hub()
    first, second = hub.subscribe(frozenset({"account:a", "book"})), hub.subscribe(frozenset({"account:b"}))
    assert sorted(hub.followed_accounts()) == ["a", "b"]
    hub.unsubscribe(first)
    assert (hub.followed_accounts(), hub.followed("book")) == (["b"], False)
    hub.unsubscribe(first)  # twice is harmless
    hub.unsubscribe(second)
    assert dict(hub.subscribers) == {}


def test_a_subscriber_too_far_behind_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_LIMIT", 3)
    hub = Hub()
    slow, other = hub.subscribe(frozenset({"prices", "book"})), hub.subscribe(frozenset({"prices"}))
    for number in range(3):
        hub.publish("prices", b"%d" % number)
    assert not slow.dropped.is_set()
    _drain(other.queue)
    hub.publish("prices", b"3")  # slow's fourth waiting message: dropped, from every topic
    assert slow.dropped.is_set() and not other.dropped.is_set()
    assert hub.subscribers["prices"] == {other} and not hub.followed("book")
    assert _drain(other.queue) == [b"3"]


# ------------------------------------------------------------------ through the API


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serving(database_url) as service:
        yield service


def test_prices_carries_the_replays_price_statuses(served: Served, tmp_path: Path) -> None:
    with served.client.websocket_connect(f"/v1/stream?topic=prices&key={served.key('feeder')}") as socket:
        assert receive(socket)["event"] == "subscribed"
        assert served.client.post("/v1/prices", json=[BTC_63900], headers=served.auth("feeder")).status_code == 200
        expected = [line for line in replayed(tmp_path, [BTC_63900]) if line["event"] == "price_status"]
        # BTC and the three marks that follow it: BTC-PERP, BTCUSD-PERP, BTC-0328.
        assert [line["symbol"] for line in expected] == ["BTC", "BTC-PERP", "BTCUSD-PERP", "BTC-0328"]
        messages = [receive(socket) for _ in expected]
    assert [without_stream_fields(m) for m in messages] == expected
    assert [(m["cause"], m["seq"]) for m in messages] == [("e1", 1), ("e1", 2), ("e1", 3), ("e1", 4)]


def test_an_accounts_figures_come_when_prices_move_them_and_only_then(served: Served, tmp_path: Path) -> None:
    admin = served.auth("admin")
    with served.client.websocket_connect(
        f"/v1/stream?topic=account:hedged&key={served.key('account:hedged')}"
    ) as socket:
        assert receive(socket)["event"] == "subscribed"
        assert served.client.post("/v1/prices", json=[BTC_63900], headers=admin).status_code == 200
        figures = receive(socket)
        # hedged's marks after the event: BTC-PERP 63836.1 (63900, less half of near-liquidation's last fill's
        # move, test_api's worked case), BTC-0328 as the oracle marks it (the replay's status line).
        lines = replayed(tmp_path, [BTC_63900])
        future = Decimal([x for x in lines if x.get("symbol") == "BTC-0328"][-1]["price"])
        assert future == 64150
        #   equity = 50000 + 10 x (63836.1 - 63800) - 10 x (64150 - 64400) = 50000 + 361 + 2500 = 52861
        #   IM = 638361 x 0.02 + 641500 x 0.05 = 12767.22 + 32075 = 44842.22
        #   MM = (638361 x 0.01 - 1300) + (641500 x 0.025 - 3750) = 5083.61 + 12287.5 = 17371.11
        assert (figures["event"], figures["account"], figures["basis"], figures["cause"]) == (
            "figures", "hedged", "mirror", "e1"
        )  # fmt: skip
        shown = tuple(float(figures[k]) for k in ("equity", "initial_margin", "maintenance_margin"))
        assert shown == pytest.approx((52861, 44842.22, 17371.11), rel=1e-12)
        assert figures["liquidatable"] is False
        # A price hedged does not depend on moves none of its figures: nothing is sent. The next message is
        # the exact figures of hedged's own deposit (the sentinel), 52861 + 1.
        eth = {"t": 1, "source": "binance", "symbol": "ETH", "price": 3100}
        assert served.client.post("/v1/prices", json=[eth], headers=admin).status_code == 200
        deposit = {"asset": "USDT", "amount": "1"}
        assert served.client.post("/v1/accounts/hedged/deposits", json=deposit, headers=admin).status_code == 200
        sentinel = receive(socket)
    assert (sentinel["event"], sentinel["basis"], sentinel["cause"]) == ("figures", "exact", "e3")
    assert Decimal(sentinel["equity"]) == Decimal("52862")


def test_book_carries_the_aggregates_get_book_shows(served: Served) -> None:
    admin = served.auth("admin")
    with served.client.websocket_connect(f"/v1/stream?topic=book&key={served.key('admin')}") as socket:
        assert receive(socket)["event"] == "subscribed"
        first = receive(socket)  # the publisher's first round: the book at the opening
        assert first == {"event": "book", **served.client.get("/v1/book", headers=admin).json()}
        assert served.client.post("/v1/prices", json=[BTC_63900], headers=admin).status_code == 200
        second = receive(socket)  # the next round after the change
    assert second == {"event": "book", **served.client.get("/v1/book", headers=admin).json()}
    assert (first["events"], second["events"]) == (0, 1)
