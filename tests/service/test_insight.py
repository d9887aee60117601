"""The dashboard's data: the book's figures near liquidation, the liquidation map, the oracle's view and the
account's detail, over the real app on SQLite (and PostgreSQL where the log is read). Expected figures by
hand (arithmetic in the comments) or from a second method (the model's own quote, ``what-if --compare``, the
response's own event lines).

The map's book (:data:`MAP_BOOK`): one linear perpetual X-PERP on X (contract 1 X, settled in USDT, one tier:
maintenance rate 0.01, no maintenance amount), marked 100; generic rules (liquidatable when equity < MM).
With the mark at P and nothing else moving, an account of ``b`` USDT and ``q`` contracts from 100 has
equity ``b + q (P - 100)`` and MM ``0.01 |q| P``:

- a: 1000 USDT, long 100:  1000 + 100 (P - 100) = P          ->  99 P = 9000     ->  P = 90.9090...
- b: 700 USDT, long 50:    700 + 50 (P - 100) = 0.5 P        ->  49.5 P = 4300   ->  P = 86.8686...
- c: 1000 USDT, short 100: 1000 - 100 (P - 100) = P          ->  101 P = 11000   ->  P = 108.9108...

Their notionals at those prices (|q| x 1 x P): a 900000 / 99 = 9090.9090..., b 215000 / 49.5 = 4343.4343...,
c 1100000 / 101 = 10891.0891...
"""

import contextlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossmargin.liquidation.amm import ConstantProduct
from crossmargin.liquidation.liquidity import AtMark, DepthLevels, LinearImpact, Side, SquareRootImpact
from crossmargin.liquidation.order_book import OrderBook
from crossmargin.live import events as live
from crossmargin.live.document import loop_config_of
from crossmargin.live.loop import EngineLoop
from crossmargin.model.document_text import parse_document
from crossmargin.service.api import create_app
from crossmargin.service.host import BookHost
from crossmargin.service.insight import LiquidationPriceCache, PricedBook, depth_within, priced_book
from crossmargin.service.store import Store
from crossmargin.service.views import book_figures
from tests.service.api_support import BOOK, BOOK_TEXT, WAIT_S, Served, cli_json_lines, dec, evaluated, serving

A_LIQ, B_LIQ, C_LIQ = Decimal(9000) / 99, Decimal(4300) / Decimal("49.5"), Decimal(11000) / 101
A_NOTIONAL, B_NOTIONAL, C_NOTIONAL = 100 * A_LIQ, 50 * B_LIQ, 100 * C_LIQ
REL = Decimal("1e-9")
"""The array path's liquidation prices are within 1e-9 of the exact solver's (and so of the hand's)."""
LEVELS = "{model: levels, levels: [[0.01, 10], [0.04, 20], [0.12, 30]]}"


def map_book(liquidity: str = LEVELS) -> str:
    """The map's book (module doc), its X-PERP liquidity as given; the oracle wants two agreeing sources for
    X (one alone is unconfirmed while within 20% of the last price two gave)."""
    return f"""
version: 1
base: USD
rulebook: generic
assets:
  USDT: {{weight: 1}}
  X: {{weight: 0.5}}
instruments:
  X-PERP:
    kind: perpetual
    underlying: X
    settle: USDT
    contract_size: 1
    tiers:
      - {{max_notional: null, mmr: 0.01, max_leverage: 50}}
prices: {{USDT: 1, X: 100}}
marks: {{X-PERP: 100}}
insurance_fund: 0
liquidity:
  X-PERP: {liquidity}
oracle:
  symbols:
    X: {{quorum: 2, max_deviation: 0.2}}
accounts:
  - id: a
    balances: {{USDT: 1000}}
    positions: [{{instrument: X-PERP, size: 100, entry_price: 100}}]
  - id: b
    balances: {{USDT: 700}}
    positions: [{{instrument: X-PERP, size: 50, entry_price: 100}}]
  - id: c
    balances: {{USDT: 1000}}
    positions: [{{instrument: X-PERP, size: -100, entry_price: 100}}]
"""


@contextlib.contextmanager
def serving_book(url: str, text: str, store: Store | None = None) -> Iterator[Served]:
    """The book ``text`` served on the database at ``url`` (or on ``store``, left open), as
    :func:`tests.service.api_support.serving` serves the example."""
    opened = store or Store(url)
    try:
        host = BookHost.open(opened, ("map.yaml", text))
        with TestClient(create_app(host)) as client:
            yield Served(host, opened, client)
    finally:
        if store is None:
            opened.close()


def settled(served: Served, path: str, at: str, **params: Any) -> dict[str, Any]:
    """``GET path`` once its liquidation prices (field ``at``) are those of the last event applied: the
    service's publisher computes them again within a round (100 ms) after an event."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = served.client.get(path, params=params, headers=served.auth("admin"))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body[at] == served.host.loop.seq or time.monotonic() > deadline:
            assert body[at] == served.host.loop.seq, body
            return body
        time.sleep(0.02)


def _prices(served: Served, price: str, sources: tuple[str, ...] = ("s1", "s2"), t: int = 1) -> dict[str, Any]:
    lines = [{"t": t, "source": s, "symbol": "X", "price": price} for s in sources]
    answer = served.client.post("/v1/prices", json=lines, headers=served.auth("admin"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _bin(row: dict[str, Any]) -> tuple[Decimal, ...]:
    return tuple(dec(row[k]) for k in ("long_notional", "short_notional", "long_cumulative", "short_cumulative"))


@pytest.fixture
def mapped(sqlite_url: str) -> Iterator[Served]:
    with serving_book(sqlite_url, map_book()) as service:
        yield service


# ------------------------------------------------------------------ the liquidation map


def test_the_map_of_a_hand_worked_book(mapped: Served) -> None:
    answer = settled(mapped, "/v1/liquidation-map/X-PERP", "computed_at", bins=8, span="0.2")
    assert (answer["instrument"], answer["mark"], answer["quote"]) == ("X-PERP", "100", "USDT")
    assert (answer["positions_without_price"], answer["positions_outside"], answer["computed_at"]) == (0, 0, 0)
    # 8 bins of 5 from 100 x 0.8 = 80 to 100 x 1.2 = 120.
    assert [(r["low"], r["high"]) for r in answer["bins"]] == [(str(80 + 5 * k), str(85 + 5 * k)) for k in range(8)]
    # a's 90.91 in [90, 95), b's 86.87 in [85, 90), c's 108.91 in [105, 110). Longs cumulate from the mark down
    # (bin 2: a; bins 1 and 0: a + b), shorts from the mark up (bins 5 to 7: c).
    ab = A_NOTIONAL + B_NOTIONAL
    zero = Decimal(0)
    expected: list[tuple[Decimal | int, ...]] = [
        (0, 0, ab, 0), (B_NOTIONAL, 0, ab, 0), (A_NOTIONAL, 0, A_NOTIONAL, 0), (0, 0, 0, 0),
        (0, 0, 0, 0), (0, C_NOTIONAL, 0, C_NOTIONAL), (0, 0, 0, C_NOTIONAL), (0, 0, 0, C_NOTIONAL),
    ]  # fmt: skip
    for row, want in zip(answer["bins"], expected, strict=True):
        assert _bin(row) == pytest.approx(tuple(zero + w for w in want), rel=REL)
    # Depth, levels (offset, X): (0.01, 10), (0.04, 20), (0.12, 30). Selling below the mark: to 95 and to 90
    # (offsets 0.05, 0.1) the first two fill, 10 x 99 + 20 x 96 = 990 + 1920 = 2910; to 85 and 80 (0.15, 0.2)
    # the third too, + 30 x 88 = 2640: 5550. Buying above: to 105, 110: 10 x 101 + 20 x 104 = 3090; to 115,
    # 120: + 30 x 112 = 3360: 6450.
    assert [r["depth"] for r in answer["bins"]] == ["5550", "5550", "2910", "2910", "3090", "3090", "6450", "6450"]


def test_the_depth_follows_the_depth_parameter_and_a_price_moves_the_map(mapped: Served) -> None:
    admin = mapped.auth("admin")
    assert mapped.client.post("/v1/parameters", json={"depth": "2"}, headers=admin).status_code == 200
    doubled = settled(mapped, "/v1/liquidation-map/X-PERP", "computed_at", bins=8, span="0.2")
    assert doubled["bins"][0]["depth"] == "11100"  # twice the units at each level: 2 x 5550
    # X at 96 from both sources: the mark follows the index (basis 0), 96. No account is due (a's 90.91 is the
    # highest long liquidation price), and their liquidation prices stay where they were.
    _prices(mapped, "96")
    moved = settled(mapped, "/v1/liquidation-map/X-PERP", "computed_at", bins=8, span="0.2")
    assert (moved["mark"], moved["computed_at"]) == ("96", 3)  # events: the parameter, then one a price line
    # Bins of 2 x 96 x 0.2 / 8 = 4.8 from 76.8: [76.8, 81.6), [81.6, 86.4), [86.4, 91.2), [91.2, 96), ... The
    # longs now share bin 2, c moves to bin 6, [105.6, 110.4).
    assert [r["low"] for r in moved["bins"]] == ["76.8", "81.6", "86.4", "91.2", "96", "100.8", "105.6", "110.4"]
    assert moved["bins"][-1]["high"] == "115.2"
    ab = A_NOTIONAL + B_NOTIONAL
    assert _bin(moved["bins"][2]) == pytest.approx((ab, 0, ab, 0), rel=REL)
    assert _bin(moved["bins"][6]) == pytest.approx((0, C_NOTIONAL, 0, C_NOTIONAL), rel=REL)
    # Selling from 96 to 86.4 (offset 0.1), at depth 2: 20 x 96 x 0.99 + 40 x 96 x 0.96 = 1900.8 + 3686.4.
    assert moved["bins"][2]["depth"] == "5587.2"


def test_an_odd_bin_count_and_positions_outside_the_span(mapped: Served) -> None:
    # span 0.1: 3 bins of 20/3 from 90 to 110. [90, 96.67) holds a (90.91); the middle one, [96.67, 103.33),
    # the mark and nobody; [103.33, 110] c (108.91). b (86.87) lies outside.
    answer = settled(mapped, "/v1/liquidation-map/X-PERP", "computed_at", bins=3, span="0.1")
    assert answer["positions_outside"] == 1
    low, middle, high = answer["bins"]
    assert _bin(low) == pytest.approx((A_NOTIONAL, 0, A_NOTIONAL, 0), rel=REL)
    assert _bin(middle) == (Decimal(0),) * 4
    assert _bin(high) == pytest.approx((0, C_NOTIONAL, 0, C_NOTIONAL), rel=REL)
    # The middle bin's depth sells to its low edge, 100 - 10/3 (offset 1/30 = 0.0333): the first level, 10 x 99.
    assert middle["depth"] == "990"


def test_the_map_refuses_what_it_cannot_draw(mapped: Served) -> None:
    admin = mapped.auth("admin")
    unknown = mapped.client.get("/v1/liquidation-map/Y-PERP", headers=admin)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "instrument"
    for params, field in (
        ({"bins": 1}, "bins"), ({"bins": 501}, "bins"), ({"span": "0"}, "span"), ({"span": "0.91"}, "span"),
        ({"span": "nan"}, "span"), ({"span": "-0.1"}, "span"),
    ):  # fmt: skip
        refused = mapped.client.get("/v1/liquidation-map/X-PERP", params=params, headers=admin)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, (params, refused.text)
    assert mapped.client.get("/v1/liquidation-map/X-PERP", headers=mapped.auth("feeder")).status_code == 403
    edges = mapped.client.get("/v1/liquidation-map/X-PERP", params={"bins": 500, "span": "0.9"}, headers=admin)
    assert edges.status_code == 200 and len(edges.json()["bins"]) == 500


def test_depth_of_impact_models_by_hand_and_by_their_quotes() -> None:
    mark = Decimal(100)
    # Linear, D = 100: the worst price mark x (1 - n / D) reaches 90 at n = 10; the average is
    # mark x (1 - n / 2D) = 95: 950. A buy to 110: 10 at 105 on average: 1050.
    linear = LinearImpact(Decimal(100))
    assert depth_within(linear, Side.SELL, mark, Decimal("0.1")) == 950
    assert depth_within(linear, Side.BUY, mark, Decimal("0.1")) == 1050
    # Square root, c = 0.05, D = 500: 1.5 x 0.05 x sqrt(n / 500) = 0.03 at sqrt(n / 500) = 0.4, n = 80; the
    # average moves by 0.05 x 0.4 = 0.02: 80 x 98 = 7840 selling.
    root = SquareRootImpact(Decimal("0.05"), Decimal(500))
    assert depth_within(root, Side.SELL, mark, Decimal("0.03")) == 7840
    # Second method: the model's own quote of those units puts the last one at the edge.
    assert linear.quote(Side.SELL, Decimal(10), mark).worst_price == 90
    assert root.quote(Side.SELL, Decimal(80), mark).worst_price == 97
    levels = DepthLevels(((Decimal("0.01"), Decimal(10)), (Decimal("0.04"), Decimal(20))))
    assert depth_within(levels, Side.SELL, mark, Decimal("0.009")) == 0  # inside the first level: nothing
    assert depth_within(levels, Side.SELL, mark, Decimal("0.01")) == 990  # a level at the edge counts
    assert depth_within(AtMark(), Side.SELL, mark, Decimal("0.1")) is None


def test_depth_of_pools_and_a_two_sided_book() -> None:
    # A constant-product pool of 100 X at 3000 (k = 3e7), no fee: its price 3e7 / x^2 reaches 3000 x 0.81 =
    # 2430 at x = 100 / 0.9 = 111.11, so 11.11 X sell for 3000 x 100 x 11.11 / 111.11 = 30,000.
    pool = ConstantProduct(Decimal(100), Decimal(300000))
    sold = depth_within(pool, Side.SELL, Decimal(3000), Decimal("0.19"))
    assert sold is not None and abs(sold - 30000) < Decimal("1e-40")
    # Within 1 % a buy takes x = 100 / sqrt(1.01) off the pool: 100 (1 - 1 / sqrt(1.01)) = 0.4963 X for
    # 3e7 / (100 / sqrt(1.01)) - 300000 = 300000 (sqrt(1.01) - 1) = 1496.27 (the pool's own quote, second method)
    root = Decimal("1.01").sqrt()
    bought = depth_within(pool, Side.BUY, Decimal(3000), Decimal("0.01"))
    assert bought is not None and abs(bought - 300000 * (root - 1)) < Decimal("1e-20")
    # a fee of 0.3 % leaves nothing within 0.2 % of the mark
    assert depth_within(ConstantProduct(Decimal(100), Decimal(300000), Decimal("0.003")), Side.SELL,
                        Decimal(3000), Decimal("0.002")) == 0  # fmt: skip
    # a two-sided book counts each side's own levels: 1 + 10 bids within 1 % at 99.9 and 99, 5 asks at 100.2
    book = OrderBook(
        ((Decimal("0.001"), Decimal(1)), (Decimal("0.01"), Decimal(10))), ((Decimal("0.002"), Decimal(5)),)
    )
    assert depth_within(book, Side.SELL, Decimal(100), Decimal("0.01")) == Decimal("1089.9")  # 99.9 + 990
    assert depth_within(book, Side.BUY, Decimal(100), Decimal("0.01")) == Decimal("501.0")  # 5 x 100.2


# ------------------------------------------------------------------ the book's figures


def test_the_example_books_figures_near_liquidation_by_hand(sqlite_url: str) -> None:
    with serving(sqlite_url) as served:
        book = settled(served, "/v1/book", "liquidation_prices_at")
    # Nearest liquidation prices at the opening (each account's, over its positions):
    # - near-liquidation: 190950 / 2.985 = 63969.85 against 64000: 0.047% -> every band;
    # - coin-and-isolated, its isolated ETH-PERP long: 400 + 5 (P - 3150) = 0.005 x 5 P -> 4.975 P = 15350,
    #   P = 3085.43 against 3200: 3.58% -> 5% and 10% (its inverse short: 103038.63 against 64010, 61%);
    # - diversified: its BTC-PERP long at 33391.48 (48% off 64000) is its nearest; hedged: 131103.03 (105%).
    assert book["within"] == {"1%": 1, "5%": 2, "10%": 2}
    assert (book["liquidatable"], book["adl_count"], book["liquidation_prices_at"]) == (0, 0, 0)
    # Initial margin: every cross pool's (evaluate) and the isolated ETH-PERP pool's, 16000 x 0.01 = 160.
    initial = sum(dec(a["initial_margin"]) for a in evaluated().values()) + 160
    assert float(book["initial_margin"]) == pytest.approx(float(initial), rel=1e-12)


def test_an_account_held_back_counts_as_liquidatable_and_in_every_band(mapped: Served) -> None:
    # X at 89 from one source: unconfirmed (one of a quorum of two, 11% from the last quorum price 100, within
    # max_deviation 0.2). a (liquidated below 90.91) is due, but the policy liquidates on valid and degraded
    # prices only: held back, still liquidatable in the mirror. b's 86.87 is (89 - 86.87) / 89 = 2.4% away ->
    # 5% and 10%; c's 108.91, 22% away, in none.
    lines = _prices(mapped, "89", sources=("s1",))
    assert next(e["event"] for e in lines["events"] if e.get("account") == "a") == "liquidation_suppressed"
    book = settled(mapped, "/v1/book", "liquidation_prices_at")
    assert (book["liquidatable"], book["within"]) == (1, {"1%": 1, "5%": 2, "10%": 2})


def test_deleveraging_is_counted_from_the_log_across_a_restart(database_url: str) -> None:
    # Liquidations fill at the mark and the fund is empty. X at 85 from both sources (valid): a's equity is
    # 1000 + 100 x (85 - 100) = -500, bankrupt below 90: its long is closed at 90 against the only short, c's
    # (one adl line); b (700 + 50 x (85 - 100) = -50) finds no short left.
    text = map_book("{model: mark}")
    store = Store(database_url)
    try:
        with serving_book(database_url, text, store) as served:
            events = _prices(served, "85")["events"]
            assert [(e["account"], e["from"]) for e in events if e["event"] == "adl"] == [("c", "a")]
            assert settled(served, "/v1/book", "liquidation_prices_at")["adl_count"] == 1
        with serving_book(database_url, text, store) as again:
            assert again.host.loop.seq == 2
            assert again.client.get("/v1/book", headers=again.auth("admin")).json()["adl_count"] == 1
    finally:
        store.close()


def test_the_liquidation_prices_are_computed_once_an_event_and_wait_four_times_their_cost() -> None:
    loop = EngineLoop(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))
    now = [0.0]
    computed: list[int] = []

    def slow(of: EngineLoop) -> PricedBook:  # a computation that takes 2 s of the clock
        computed.append(of.seq)
        now[0] += 2.0
        return priced_book(of)

    def tick(seq: int) -> None:
        loop.handle(live.Clock(seq=seq, time=Decimal(seq), id=f"e{seq}"))

    cache = LiquidationPriceCache(clock=lambda: now[0], compute=slow)
    assert cache.refresh(loop).seq == 0  # the first is not timed (it loads the kernels): no wait after it
    assert cache.refresh(loop).seq == 0 and computed == [0]  # no event since: not again
    tick(1)
    assert cache.refresh(loop).seq == 1  # timed: 2 s, so the next waits until 2 + 4 x 2 = 10 s after its start
    assert cache.seconds == 2.0
    tick(2)
    now[0] += 7.9
    assert cache.refresh(loop).seq == 1 and cache.current(loop).seq == 1  # the figures of event 1 stand
    now[0] += 0.1
    assert cache.refresh(loop).seq == 2
    assert computed == [0, 1, 2]
    other = EngineLoop(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))
    assert cache.current(other).seq == 0 and computed == [0, 1, 2, 0]  # never another loop's figures


# ------------------------------------------------------------------ the oracle


def test_the_oracle_view_by_hand(sqlite_url: str) -> None:
    with serving(sqlite_url) as served:
        feed = [
            {"t": 1, "source": "binance", "symbol": "BTC", "price": 64000},
            {"t": 1, "source": "coinbase", "symbol": "BTC", "price": 64010, "confidence": "5"},
        ]
        assert served.client.post("/v1/prices", json=feed, headers=served.auth("feeder")).status_code == 200
        fresh = served.client.get("/v1/oracle", headers=served.auth("account:hedged")).json()
        assert served.client.post("/v1/clock", json={"t": 62}, headers=served.auth("feeder")).status_code == 200
        stale = served.client.get("/v1/oracle", headers=served.auth("matcher")).json()
        assert served.client.get("/v1/oracle").status_code == 401
    by_symbol = {s["symbol"]: s for s in fresh["symbols"]}
    assert set(by_symbol) == {"USDT", "USDC", "BTC", "ETH", "BTC-PERP", "ETH-PERP", "BTCUSD-PERP", "BTC-0328"}
    assert {s: v["kind"] for s, v in by_symbol.items() if v["kind"] == "instrument"} == dict.fromkeys(
        ("BTC-PERP", "ETH-PERP", "BTCUSD-PERP", "BTC-0328"), "instrument"
    )
    # BTC: the median of 64000 and 64010 (they agree within 2%), 64005, valid with the default quorum of one.
    btc = by_symbol["BTC"]
    assert (fresh["clock"], fresh["any_not_valid"]) == ("1", False)
    assert (btc["status"], btc["level"], btc["reason"], btc["price"]) == ("valid", "valid", "", "64005")
    assert btc["sources"] == [
        {"source": "binance", "symbol": "BTC", "price": "64000", "t": "1", "age_s": "0", "confidence": None},
        {"source": "coinbase", "symbol": "BTC", "price": "64010", "t": "1", "age_s": "0", "confidence": "5"},
    ]
    assert by_symbol["BTC-PERP"]["sources"] == btc["sources"]  # a perpetual is marked off its underlying's index
    assert by_symbol["ETH"]["sources"] == [] and by_symbol["ETH"]["price"] == "3200"  # no feed: the document's
    # At t = 62 the reports are 61 s old, beyond max_age_s 60: BTC and what is marked off it are invalid, with no
    # price to stand behind (the last one is still shown).
    stale_by_symbol = {s["symbol"]: s for s in stale["symbols"]}
    btc = stale_by_symbol["BTC"]
    assert (stale["clock"], stale["any_not_valid"]) == ("62", True)
    assert (btc["status"], btc["level"], btc["price"], btc["last_price"]) == ("invalid", "invalid", None, "64005")
    assert "61 s old" in btc["reason"]
    assert [s["age_s"] for s in btc["sources"]] == ["61", "61"]
    invalid = {s for s, v in stale_by_symbol.items() if v["status"] == "invalid"}
    assert invalid == {"BTC", "BTC-PERP", "BTCUSD-PERP", "BTC-0328"}


# ------------------------------------------------------------------ the account's detail


def test_the_account_detail_shows_weights_and_both_modes(sqlite_url: str) -> None:
    with serving(sqlite_url) as served:
        plain = served.view("diversified")
        answer = served.client.get(
            "/v1/accounts/diversified", params={"detail": "true"}, headers=served.auth("account:diversified")
        )
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    # Weights from the document: USDT 1; USDC owed (-5000) at its liability weights 1.02 / 1.05; 0.5 BTC in
    # its first band, 0.95 / 0.9; ETH 0.9 / 0.85. Each value is amount x price x weight.
    weights = {c["asset"]: (c["weight"], c["initial_weight"]) for c in detail["collateral"]}
    assert weights == {"USDT": ("1", "1"), "USDC": ("1.02", "1.05"), "BTC": ("0.95", "0.9"), "ETH": ("0.9", "0.85")}
    for line in detail["collateral"]:
        assert dec(line["value"]) == dec(line["amount"]) * dec(line["price"]) * dec(line["weight"])
    # Second method: what-if --compare on the same document.
    (compared,) = cli_json_lines("what-if", BOOK, "--account", "diversified", "--compare", "--json")
    assert detail["modes"] == {"cross": compared["cross"], "isolated": compared["isolated"]}
    # Without ``detail`` the answer is the plain view, and the detail only adds to it.
    assert "modes" not in plain and "weight" not in plain["collateral"][0]
    unweighted = [{k: v for k, v in c.items() if "weight" not in k} for c in detail["collateral"]]
    added = {"modes": None, "liquidation_odds": None}
    assert {**detail, "collateral": unweighted, **added} == {**plain, **added}
    for position in detail["positions"]:  # the exact solver's liquidation price beside mark, uPnL, IM and MM
        assert {"mark", "unrealized_pnl", "initial_margin", "maintenance_margin", "liquidation_price"} <= set(position)


def test_book_figures_without_a_host_compute_the_prices_and_count_no_log() -> None:
    loop = EngineLoop(loop_config_of(parse_document(BOOK_TEXT, "portfolio.yaml")))
    figures = book_figures(loop)
    assert (figures["within"], figures["adl_count"], figures["liquidation_prices_at"]) == (
        {"1%": 1, "5%": 2, "10%": 2}, None, 0
    )  # fmt: skip
    assert json.loads(json.dumps(figures)) == figures
