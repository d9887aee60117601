"""The margin-ratio history: points from the mirror once a second of feed time and on every change of an
account's money or positions, halved when full, and ``GET /v1/accounts/{id}/history``. Expected figures by
hand from the example book (tests/service/api_support.py's module doc and test_api's worked liquidation)."""

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from crossmargin.live import events as live
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop
from crossmargin.model.document_text import parse_document
from crossmargin.service.api import create_app
from crossmargin.service.history import CAPACITY, MarginHistory
from crossmargin.service.host import BookHost
from crossmargin.service.store import Store
from tests.service.api_support import ACCOUNTS, BOOK_TEXT, Served

# The example at the opening: hedged's equity 51000, MM 17475 (margin ratio 17475 / 51000 = 0.3426...);
# near-liquidation's 1000 and 910 (0.91).
HEDGED = (51000.0, 17475.0)


def _loop() -> EngineLoop:
    return EngineLoop(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))


def _clock(loop: EngineLoop, t: float) -> list[live.OutboundEvent]:
    seq = loop.seq + 1
    return loop.handle(live.Clock(seq=seq, time=Decimal(str(t)), id=f"e{seq}"))


def _deposit(loop: EngineLoop, account: str, amount: int) -> set[str]:
    """A deposit's event applied; the accounts it changed (its figures events)."""
    seq = loop.seq + 1
    event = live.Deposit(
        seq=seq, time=loop.oracle.clock, id=f"e{seq}", account=account, asset="USDT", amount=Decimal(amount)
    )
    return {e.account for e in loop.handle(event) if isinstance(e, live.Figures)}


def _times(history: MarginHistory, account: str) -> list[float]:
    return [float(t) for t, _, _ in history.points(account)]


def test_a_point_for_every_account_at_the_start_then_once_a_second_of_feed_time() -> None:
    loop, history = _loop(), MarginHistory()
    history.record(loop, ())
    assert {a: len(history.points(a)) for a in ACCOUNTS} == dict.fromkeys(ACCOUNTS, 1)
    ((t, equity, maintenance),) = history.points("hedged")
    assert (t, equity, maintenance) == (0.0, *HEDGED)
    for t in (0.5, 0.99):  # less than a second: nothing
        _clock(loop, t)
        history.record(loop, ())
    _clock(loop, 1.0)
    history.record(loop, ())
    assert _times(history, "near-liquidation") == [0.0, 1.0]


def test_a_change_adds_a_point_and_replaces_one_at_the_same_time() -> None:
    loop, history = _loop(), MarginHistory()
    history.record(loop, ())
    _clock(loop, 0.25)
    history.record(loop, _deposit(loop, "hedged", 100))  # a change a quarter second on: a point of its own
    assert [(t, e) for t, e, _ in history.points("hedged")] == [(0.0, 51000.0), (0.25, 51100.0)]
    assert len(history.points("diversified")) == 1  # nobody else's
    history.record(loop, _deposit(loop, "hedged", 1))  # again at 0.25: the last point replaced
    assert [(t, e) for t, e, _ in history.points("hedged")] == [(0.0, 51000.0), (0.25, 51101.0)]


def test_a_full_history_keeps_every_other_point_and_doubles_its_spacing() -> None:
    loop, history = _loop(), MarginHistory(capacity=8)
    history.record(loop, ())
    for t in range(1, 17):
        _clock(loop, t)
        history.record(loop, ())
    # Points at 0..7 fill the 8; at 8 they halve to 0, 2, 4, 6 and the spacing becomes 2 s: 8, 10, 12, 14 fill
    # them again; at 16 they halve to 0, 4, 8, 12 (spacing 4 s) and 16 follows.
    assert _times(history, "hedged") == [0, 4, 8, 12, 16]
    assert all(e == HEDGED[0] for _, e, _ in history.points("hedged"))


def test_bytes_per_account() -> None:
    history = MarginHistory()
    history.record(_loop(), ())
    columns = history.t.shape[1]
    assert columns >= len(ACCOUNTS)
    # 240 points of 8 + 4 + 4 bytes, and a count (2), a spacing (8) and a cross pool (8): 3858 bytes.
    assert history.nbytes == (CAPACITY * 16 + 18) * columns == 3858 * columns
    assert [a.dtype.itemsize for a in (history.t, history.equity, history.maintenance)] == [8, 4, 4]


def test_the_history_endpoint_and_a_restart(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        host = BookHost.open(store, ("portfolio.yaml", BOOK_TEXT))
        with TestClient(create_app(host)) as client:
            served = Served(host, store, client)
            line = {"t": 1, "source": "binance", "symbol": "BTC", "price": 63900}
            assert client.post("/v1/prices", json=[line], headers=served.auth("admin")).status_code == 200
            path = "/v1/accounts/near-liquidation/history"
            answer = client.get(path, headers=served.auth("account:near-liquidation"))
            assert client.get(path, headers=served.auth("account:hedged")).status_code == 403
            assert client.get("/v1/accounts/nobody/history", headers=served.auth("admin")).status_code == 404
        restarted = BookHost.open(store).history.view("near-liquidation")  # a restart: the history starts again
    finally:
        store.close()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["account"] == "near-liquidation"
    first, second = body["points"]
    assert first == {"t": "0", "margin_ratio": "0.91", "equity": "1000", "maintenance_margin": "910"}
    # After BTC at 63900 (test_api's worked case) the account was partly liquidated: 1.46 BTC left, marked
    # 63836.1; equity 457.819, MM = 1.46 x 63836.1 x 0.005 - 50 = 93200.706 x 0.005 - 50 = 416.00353.
    assert second["t"] == "1"
    figures = tuple(float(second[k]) for k in ("equity", "maintenance_margin", "margin_ratio"))
    assert figures == pytest.approx((457.819, 416.00353, 416.00353 / 457.819), rel=1e-6)  # float32 figures
    assert [p["t"] for p in restarted["points"]] == ["1"]
    assert float(restarted["points"][0]["equity"]) == pytest.approx(457.819, rel=1e-6)
