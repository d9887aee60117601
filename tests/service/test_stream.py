"""The stream over a real socket: the app under uvicorn on a loopback port (in a thread), the ``websockets``
client subscribing and httpx posting, on SQLite and PostgreSQL. The worked case is test_api's: one quote
(BTC at 63900) liquidates near-liquidation, and the account's topic and ``liquidations`` carry the lines
``crossmargin replay --json`` prints for the same feed line."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from crossmargin.service.host import BookHost
from crossmargin.service.keys import add_key
from crossmargin.service.store import Store
from tests.service.api_support import BOOK_TEXT, WAIT_S, on_loopback, replayed, wait_for, without_stream_fields

LIQUIDATING = {"t": 1, "source": "binance", "symbol": "BTC", "price": 63900}


@dataclass
class Live:
    """A server on a real socket: its base URLs, its host and store."""

    http: str
    ws: str
    host: BookHost
    store: Store

    def key(self, scope: str) -> str:
        return add_key(self.store, scope)[1]


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    store = Store(database_url)
    try:
        with on_loopback(store, ("portfolio.yaml", BOOK_TEXT)) as (port, host):
            yield Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", host, store)
    finally:
        store.close()


def _connect(live: Live, query: str, **options: Any) -> ClientConnection:
    client: ClientConnection = connect(f"{live.ws}/v1/stream?{query}", proxy=None, open_timeout=WAIT_S, **options)
    return client


def _next(client: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(client.recv(timeout=WAIT_S))
    return message


def _closed(client: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """The messages before the server closed the socket, and its close code."""
    messages = []
    try:
        while True:
            messages.append(_next(client))
    except ConnectionClosed as closed:
        return messages, None if closed.rcvd is None else closed.rcvd.code


def test_a_liquidating_price_reaches_the_accounts_topic_and_liquidations(live: Live, tmp_path: Path) -> None:
    admin = live.key("admin")
    *lines, end = replayed(tmp_path, [LIQUIDATING])  # second method: `crossmargin replay --json`
    followed = [line for line in lines if line["event"] != "price_status"]
    # test_api works these by hand: near-liquidation's standing (equity 700 < MM 908.5), its fill (1540
    # contracts, 148.887 slippage), its figures after (equity 457.819) and the mark the fill moved (63836.1).
    assert [line["event"] for line in followed] == ["liquidatable", "liquidation", "figures", "mark_moved"]
    assert Decimal(followed[2]["equity"]) == Decimal("457.819")
    with (
        _connect(live, f"topic=account:near-liquidation&topic=liquidations&key={admin}") as client,
        httpx.Client(base_url=live.http, trust_env=False, timeout=WAIT_S) as http,
    ):
        assert _next(client) == {
            "event": "subscribed",
            "topics": ["account:near-liquidation", "liquidations"],
            "events": 0,
        }
        answer = http.post("/v1/prices", json=[LIQUIDATING], headers={"Authorization": f"Bearer {live.key('feeder')}"})
        assert answer.status_code == 200, answer.text
        messages = [_next(client) for _ in followed]
        health = http.get("/v1/health").json()
        # A sentinel: read up to the next event's message, so whatever else came in between is seen.
        deposit = {"asset": "USDT", "amount": "1"}
        http.post("/v1/accounts/near-liquidation/deposits", json=deposit, headers={"Authorization": f"Bearer {admin}"})
        between = [_next(client)]
        while between[-1]["cause"] != "e2":
            between.append(_next(client))
        *extra, sentinel = between
    assert [without_stream_fields(m) for m in messages] == followed
    assert {m["cause"] for m in messages} == {"e1"}
    assert (sentinel["event"], sentinel["cause"]) == ("figures", "e2")
    assert extra == []  # no mirror echo of the exact figures just sent (they agree within float error)
    assert (health["events"], health["digest"]) == (end["events"], end["digest"])


def test_a_topic_outside_the_scope_closes_4403_and_no_key_4401(live: Live) -> None:
    own = live.key("account:hedged")
    with _connect(live, f"topic=account:hedged&topic=liquidations&key={own}") as client:
        messages, code = _closed(client)
    assert code == 4403
    assert [m["error"]["field"] for m in messages] == ["authorization"]
    with _connect(live, "topic=account:hedged") as client:
        messages, code = _closed(client)
    assert code == 4401
    assert messages == [
        {"error": {"field": "authorization", "message": "an 'Authorization: Bearer <key>' header is required"}}
    ]
    with _connect(live, "topic=account:hedged", additional_headers={"Authorization": f"Bearer {own}"}) as client:
        assert _next(client) == {"event": "subscribed", "topics": ["account:hedged"], "events": 0}


def test_a_client_that_leaves_is_unsubscribed(live: Live) -> None:
    with _connect(live, f"topic=prices&key={live.key('feeder')}") as client:
        assert _next(client)["event"] == "subscribed"
        assert live.host.hub.followed("prices")
    wait_for(lambda: not live.host.hub.followed("prices"), "the subscription ending with its socket")
