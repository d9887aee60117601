"""The watcher driven by stand-in venues (tests/bridge/watch_support.py) over the recorded Binance USDⓈ-M account:
the lines it emits for marks, own fills and what the fills do not explain, its reconnection after a stream error,
its polling fallback, and its exact JSON lines.

The account (fixture binanceusdm-cross): wallet 100284.61735942 USDT, BTC-PERP long 1.5 at 66104.2, ETH-PERP short
40 at 2581.37. The fills, by hand (Binance's taker fee 0.04 % of the fill's value, charged in USDT):

- buy 0.5 BTC at 67500: fee 0.5 x 67500 x 0.0004 = 13.5; the long becomes 2 at
  (1.5 x 66104.2 + 0.5 x 67500) / 2 = (99156.3 + 33750) / 2 = 66453.15; wallet 100284.61735942 - 13.5 = 100271.11735942
- buy 10 ETH at 2530 against the short: realizes 10 x (2581.37 - 2530) = 513.7, fee 10 x 2530 x 0.0004 = 10.12; the
  short becomes 30 at 2581.37; wallet 100271.11735942 + 513.7 - 10.12 = 100774.69735942
"""

import asyncio
import contextlib
import copy
from collections.abc import Awaitable, Callable
from decimal import Decimal

import ccxt
import pytest

from crossmargin.bridge.watch import Event, FeedClock, Pacing, Watcher, json_line, mark_of
from crossmargin.model import InputError
from tests.bridge.support import recording, responses
from tests.bridge.watch_support import (
    BTC,
    ETH,
    FIXTURE,
    WALLET,
    RestVenue,
    StreamingVenue,
    binance_trade,
    mark_update,
    snapshots,
)

FAST = Pacing(poll_s=0.02, settle_s=0.0, snapshot_gap_s=0.0, backoff_s=0.01, backoff_max_s=0.04)
START_MS = 1729771200000  # 2024-10-24 12:00:00Z, the recording's time
SECRET = "cm-test-api-key-0123456789"
AFTER_FIRST = WALLET - Decimal("13.5")  # 100271.11735942
AFTER_SECOND = AFTER_FIRST + Decimal("513.7") - Decimal("10.12")  # 100774.69735942

FILL_BTC = binance_trade(5001, BTC, "BUY", "0.5", "67500", "13.5", START_MS + 2000)
FILL_ETH = binance_trade(5002, ETH, "BUY", "10", "2530", "10.12", START_MS + 3000)


def watched(
    venue: RestVenue,
    drive: Callable[[], Awaitable[None]],
    pacing: Pacing = FAST,
    secrets: tuple[str, ...] = (),
    lines: list[Event] | None = None,
    name: str = FIXTURE,
) -> list[Event]:
    """The lines a watcher of ``venue`` emits (into ``lines``, which ``drive`` may read as they come) while
    ``drive`` runs beside it on the same event loop."""
    emitted: list[Event] = [] if lines is None else lines

    async def emit(event: Event) -> None:
        emitted.append(event)

    async def main() -> None:
        watcher = Watcher(venue, responses(name), emit, pacing, secrets, wall=lambda: 1729771300.0, since_ms=START_MS)
        task = asyncio.create_task(watcher.run())
        try:
            await drive()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(main(), 10))
    return emitted


def of(lines: list[Event], kind: str) -> list[Event]:
    return [line for line in lines if line["event"] == kind]


def test_streams_give_price_lines_trades_and_the_drift_the_fills_do_not_explain() -> None:
    venue = StreamingVenue()

    async def drive() -> None:
        await snapshots(venue, 1)  # the first snapshot: the venue as imported, no drift
        await venue.deliver("watch_mark_prices", {BTC: mark_update(BTC, "67500.1", START_MS + 1000)})
        await venue.deliver("watch_my_trades", [FILL_BTC])
        venue.position(BTC, "2", "66453.15")
        venue.wallet(AFTER_FIRST)
        await venue.signal("watch_positions")
        await venue.deliver("watch_my_trades", [FILL_ETH])
        venue.position(ETH, "-30", "2581.37")
        venue.wallet(AFTER_SECOND)
        await venue.signal("watch_balance")
        venue.wallet(AFTER_SECOND - 5)  # a funding payment of 5 USDT: no fill explains it
        await venue.signal("watch_balance")
        venue.position(ETH, "-25", "2581.37")  # 5 ETH bought back by a fill the watcher never saw
        await venue.signal("watch_positions")

    lines = watched(venue, drive)
    (start,) = of(lines, "watch")
    assert start["follow"] == {
        "prices": {"stream": "watch_mark_prices"},
        "fills": {"stream": "watch_my_trades"},
        "positions": {"stream": "watch_positions", "read": "fetch_positions"},
        "balance": {"stream": "watch_balance", "read": "fetch_balance"},
    }
    assert start["accounts"] == ["binanceusdm-USDT"]
    assert start["instruments"] == {BTC: "BTC-PERP", ETH: "ETH-PERP"}
    # the mark at 12:00:01.000Z is t = 1729771201 feed seconds
    assert of(lines, "price") == [
        {"event": "price", "t": Decimal(1729771201), "source": "binanceusdm", "symbol": "BTC-PERP",
         "price": Decimal("67500.1")},
    ]  # fmt: skip
    trades = [{k: line[k] for k in ("t", "buyer", "seller", "instrument", "size", "price", "buyer_fee", "seller_fee")}
              for line in of(lines, "trade")]  # fmt: skip
    assert trades == [
        {"t": Decimal(1729771202), "buyer": "binanceusdm-USDT", "seller": "@market", "instrument": "BTC-PERP",
         "size": Decimal("0.5"), "price": Decimal(67500), "buyer_fee": Decimal("13.5"), "seller_fee": 0},
        {"t": Decimal(1729771203), "buyer": "binanceusdm-USDT", "seller": "@market", "instrument": "ETH-PERP",
         "size": Decimal(10), "price": Decimal(2530), "buyer_fee": Decimal("10.12"), "seller_fee": 0},
    ]  # fmt: skip
    assert [t["venue_trade_id"] for t in of(lines, "trade")] == ["5001", "5002"]
    # the fills explain every snapshot but two: the funding payment and the unseen fill
    assert of(lines, "drift") == [
        {"event": "drift", "kind": "balance", "account": "binanceusdm-USDT", "asset": "USDT",
         "venue": Decimal("100769.69735942"), "book": Decimal("100774.69735942"), "difference": Decimal(-5)},
        {"event": "drift", "kind": "position", "account": "binanceusdm-USDT", "instrument": "ETH-PERP",
         "side": "short", "venue": Decimal(-25), "book": Decimal(-30), "difference": Decimal(5)},
    ]  # fmt: skip
    assert of(lines, "stream_error") == [] and of(lines, "skipped") == []
    assert venue.closed


def test_a_stream_error_is_reported_without_the_key_and_the_stream_reconnects_with_backoff() -> None:
    venue = StreamingVenue(secret=SECRET)

    async def drive() -> None:
        await snapshots(venue, 1)
        for _ in range(2):
            await venue.deliver("watch_mark_prices", ccxt.NetworkError(f"connection reset (apiKey={SECRET})"))
        await venue.deliver("watch_mark_prices", {ETH: mark_update(ETH, "2530.5", START_MS + 4000)})
        await venue.deliver("watch_mark_prices", ccxt.NetworkError("socket closed"))
        await venue.deliver("watch_mark_prices", {ETH: mark_update(ETH, "2531", START_MS + 5000)})

    lines = watched(venue, drive, secrets=(SECRET,))
    shown = [(line["event"], line.get("retry_in_s"), line.get("price")) for line in lines[1:]]
    # backoff 0.01 s doubling while the stream keeps failing, back to 0.01 s after the update in between
    assert shown == [
        ("stream_error", 0.01, None),
        ("stream_error", 0.02, None),
        ("price", None, Decimal("2530.5")),
        ("stream_error", 0.01, None),
        ("price", None, Decimal("2531")),
    ]
    first = lines[1]
    assert first["stream"] == "watch_mark_prices"
    assert first["error"] == "NetworkError: connection reset (apiKey=***)"
    assert SECRET not in json_line(lines)


def test_an_authentication_error_ends_the_watch_naming_the_venue_without_the_key() -> None:
    venue = StreamingVenue(secret=SECRET)
    lines: list[Event] = []

    async def emit(event: Event) -> None:
        lines.append(event)

    async def main() -> None:
        watcher = Watcher(venue, responses(FIXTURE), emit, FAST, (SECRET,), wall=lambda: 1729771300.0)
        task = asyncio.create_task(watcher.run())
        await snapshots(venue, 1)
        await venue.deliver("watch_my_trades", ccxt.AuthenticationError(f"Invalid Api-Key ID {SECRET}"))
        await task

    with pytest.raises(InputError) as raised:
        asyncio.run(asyncio.wait_for(main(), 10))
    assert raised.value.field == "binanceusdm"
    assert raised.value.message == "watch_my_trades: AuthenticationError: Invalid Api-Key ID ***"
    assert venue.closed


def test_without_streams_the_watcher_polls_at_the_stated_rate_and_takes_each_fill_once() -> None:
    venue = RestVenue()
    pacing = Pacing(poll_s=0.02, settle_s=0.2, snapshot_gap_s=0.0, backoff_s=0.01)

    async def drive() -> None:
        await snapshots(venue, 2)
        venue.marks[BTC] = mark_update(BTC, "67500.1", START_MS + 1000)
        venue.fill(FILL_BTC)  # the fill, and the position and wallet it makes, all at once
        venue.position(BTC, "2", "66453.15")
        venue.wallet(AFTER_FIRST)
        await snapshots(venue, venue.calls["fetch_balance"] + 15)  # 0.3 s: past the settling time, no drift
        venue.wallet(AFTER_FIRST - 5)
        while not any(line["event"] == "drift" for line in lines):
            await asyncio.sleep(0.01)

    lines: list[Event] = []
    watched(venue, drive, pacing, lines=lines)
    (start,) = of(lines, "watch")
    every = {"every_s": 0.02}
    assert start["follow"] == {
        "prices": {"poll": "fetch_mark_prices", **every},
        "fills": {"poll": "fetch_my_trades", **every},
        "positions": {"poll": "fetch_positions", **every},
        "balance": {"poll": "fetch_balance", **every},
    }
    assert start["poll_s"] == 0.02
    # the recorded marks (12:00:00Z) once, then BTC's new one once, however often the marks were polled
    assert [(p["t"], p["symbol"], p["price"]) for p in of(lines, "price")] == [
        (Decimal(1729771200), "BTC-PERP", Decimal("67412.35006452")),
        (Decimal(1729771200), "ETH-PERP", Decimal("2537.41230769")),
        (Decimal(1729771201), "BTC-PERP", Decimal("67500.1")),
    ]
    assert venue.calls["fetch_mark_prices"] > 3
    assert [(t["venue_trade_id"], t["size"], t["buyer_fee"]) for t in of(lines, "trade")] == [
        ("5001", Decimal("0.5"), Decimal("13.5"))
    ]
    assert venue.calls["fetch_my_trades"] > 6  # both markets, polled again and again
    assert [(d["asset"], d["difference"]) for d in of(lines, "drift")] == [("USDT", Decimal(-5))]


def test_without_a_mark_price_stream_each_markets_ticker_stream_gives_its_mark() -> None:
    # Hyperliquid (fixture hyperliquid-cross): no watch_mark_prices; the per-market ticker channel carries the mark,
    # here only in the venue's own payload (info.markPx), as the recorded tickers carry it
    name = "hyperliquid-cross"
    venue = StreamingVenue(name)
    venue.has.update(watchMarkPrices=False, watchTicker=True)
    ticker = copy.deepcopy(recording(name)["fetch_tickers"]["SOL/USDC:USDC"])
    ticker["info"]["markPx"] = "217.05"

    async def drive() -> None:
        await snapshots(venue, 1)
        await venue.deliver("watch_ticker SOL/USDC:USDC", ccxt.NetworkError("socket closed"))
        await venue.deliver("watch_ticker SOL/USDC:USDC", ticker)

    lines = watched(venue, drive, name=name)
    assert of(lines, "watch")[0]["follow"]["prices"] == {"stream": "watch_ticker"}
    assert [(e["event"], e.get("stream")) for e in of(lines, "stream_error")] == [
        ("stream_error", "watch_ticker SOL/USDC:USDC")
    ]
    # no timestamp on the ticker: t is the wall clock, 1729771300
    assert of(lines, "price") == [
        {"event": "price", "t": Decimal(1729771300), "source": "hyperliquid", "symbol": "SOL-PERP",
         "price": Decimal("217.05")},
    ]  # fmt: skip
    assert of(lines, "drift") == []


def test_a_fill_in_a_market_the_book_does_not_hold_is_skipped_once() -> None:
    venue = StreamingVenue()
    sol = dict(FILL_BTC, symbol="SOL/USDT:USDT", id="5003")

    async def drive() -> None:
        await snapshots(venue, 1)
        await venue.deliver("watch_my_trades", [sol])
        await venue.deliver("watch_my_trades", [sol])

    lines = watched(venue, drive)
    assert of(lines, "trade") == []
    assert of(lines, "skipped") == [
        {"event": "skipped", "what": "trade", "venue_trade_id": "5003",
         "reason": "SOL/USDT:USDT is not a market the book holds"},
    ]  # fmt: skip


def test_feed_time_is_the_updates_own_in_unix_seconds_and_never_goes_back() -> None:
    clock = FeedClock(lambda: 1729771300.25)
    assert clock.t(1729771201500) == Decimal("1729771201.5")
    assert clock.t(1729771200000) == Decimal("1729771201.5")  # an older update: not back
    assert clock.t(None) == Decimal("1729771300.25")  # no timestamp: the wall clock
    assert clock.t(1729771300000) == Decimal("1729771300.25")


def test_a_mark_is_the_unified_mark_else_the_venues_own_never_the_last_trade() -> None:
    assert mark_of({"markPrice": 64000.5, "last": 1}, "t") == Decimal("64000.5")
    assert mark_of({"markPrice": None, "info": {"markPx": "117438.5"}}, "t") == Decimal("117438.5")
    assert mark_of({"info": {"oraclePrice": "4268.1"}}, "t") == Decimal("4268.1")
    assert mark_of({"last": 1, "info": {}}, "t") is None


def test_a_line_is_compact_json_with_exact_numbers() -> None:
    line = json_line({"event": "price", "t": Decimal("1729771201.500"), "price": Decimal("67500.10"), "ok": None})
    assert line == '{"event":"price","t":1729771201.5,"price":67500.1,"ok":null}'
