"""Shared by the watch tests: stand-ins for a remote venue reached through ccxt.pro, and the venue's updates after
the recorded Binance USDⓈ-M account of tests/bridge/fixtures/binanceusdm-cross.json.

A stand-in has the exchange's async methods and ``has`` map. It holds the venue's state (positions, balance,
marks, own trades), starting as the recording's responses; ``fetch_*`` answer from it. :class:`StreamingVenue`
adds the ``watch_*`` methods, each returning the next update a script hands it (:meth:`StreamingVenue.deliver`
waits until the watcher has taken it), or raising a scripted error. It stands in for the venue, not for crossmargin:
the watcher under test is the real one.

The account (from the fixture's notes): Binance USDⓈ-M, one-way, cross, wallet 100284.61735942 USDT; BTCUSDT long
1.5 at 66104.2, ETHUSDT short 40 at 2581.37. Its fills below are Binance ``userTrades`` rows turned into ccxt's
unified trades by ccxt's own ``parse_trade`` (offline), so the watcher reads what ccxt would hand it.
"""

import asyncio
import copy
import signal
import socket
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import ccxt

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.writing import yaml_text
from tests.bridge.support import recording, responses

FIXTURE = "binanceusdm-cross"
SCRIPT_TIMEOUT_S = 60.0
"""Seconds a stand-in's script may take (a few tenths in a passing run) before it stops the watch as failed."""
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
WALLET = Decimal("100284.61735942")
"""The fixture's cross wallet (USDT)."""

Script = Callable[["StreamingVenue"], Coroutine[Any, Any, None]]


def served_book() -> tuple[str, str]:
    """The fixture's import as ``crossmargin import --out book.yaml`` writes it, the book a service starts from:
    (file name, YAML text)."""
    return f"{FIXTURE}.yaml", yaml_text(document_from_responses(responses(FIXTURE)))


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def binance_trade(
    trade_id: int, symbol: str, side: str, qty: str, price: str, fee: str, time_ms: int
) -> dict[str, Any]:
    """A Binance USDⓈ-M ``userTrades`` row as ccxt's ``parse_trade`` makes it a unified trade (fee in USDT)."""
    market = next(m for m in recording(FIXTURE)["fetch_markets"] if m["symbol"] == symbol)
    row = {
        "buyer": side == "BUY", "commission": fee, "commissionAsset": "USDT", "id": trade_id, "maker": False,
        "orderId": 9000 + trade_id, "price": price, "qty": qty, "quoteQty": str(Decimal(qty) * Decimal(price)),
        "realizedPnl": "0", "side": side, "positionSide": "BOTH", "symbol": market["id"], "time": time_ms,
    }  # fmt: skip
    parsed: dict[str, Any] = ccxt.binanceusdm().parse_trade(row, _plain(market))
    return parsed


def _plain(value: Any) -> Any:
    """``value`` with exact decimals as the floats and strings ccxt works with."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, Decimal) else value


def mark_update(symbol: str, price: str, time_ms: int) -> dict[str, Any]:
    """The fixture's ``fetch_mark_prices`` entry for ``symbol`` moved to ``price`` at ``time_ms``."""
    ticker: dict[str, Any] = copy.deepcopy(recording(FIXTURE)["fetch_mark_prices"][symbol])
    ticker.update(markPrice=price, timestamp=time_ms)
    ticker["info"].update(markPrice=price, time=time_ms)
    return ticker


async def snapshots(venue: "RestVenue", count: int) -> None:
    """Wait until ``venue`` has answered ``count`` snapshots in all (``fetch_balance`` is a snapshot's last call)
    and the watcher has emitted the last one's lines (it does before it next waits)."""
    while venue.calls.get("fetch_balance", 0) < count:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.001)


class RestVenue:
    """A venue with the REST methods only (no ``watch_*``): the polling fallback's stand-in."""

    def __init__(self, name: str = FIXTURE, secret: str = "") -> None:
        data = recording(name)
        self.positions: list[dict[str, Any]] = copy.deepcopy(data["fetch_positions"])
        self.balance: dict[str, Any] = copy.deepcopy(data["fetch_balance"])
        self.marks: dict[str, Any] = copy.deepcopy(data.get("fetch_mark_prices") or data.get("fetch_tickers") or {})
        self.trades: list[dict[str, Any]] = []
        self.secret = secret
        self.failures: dict[str, list[Exception]] = {}
        self.calls: dict[str, int] = {}
        self.closed = False
        self.has: dict[str, bool] = {
            "fetchPositions": True, "fetchBalance": True, "fetchMarkPrices": True, "fetchMyTrades": True,
        }  # fmt: skip
        self.on_snapshot: Callable[[int], None] | None = None
        self.credentials: list[dict[str, str]] = []  # what the command handed the exchange object it made

    def _called(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        waiting = self.failures.get(method)
        if waiting:
            raise waiting.pop(0)

    # ------------------------------------------------------------------ the venue's state

    def position(self, symbol: str, signed: str, entry: str) -> None:
        """Set the venue's position in ``symbol`` to ``signed`` contracts (negative short) entered at ``entry``."""
        for p in self.positions:
            if p["symbol"] == symbol:
                size = Decimal(signed)
                p.update(contracts=abs(size), side="long" if size > 0 else "short", entryPrice=Decimal(entry))
                p["info"].update(positionAmt=str(size), entryPrice=entry)

    def wallet(self, amount: Decimal) -> None:
        """Set the venue's USDT cross wallet to ``amount``."""
        for asset in self.balance["info"]["assets"]:
            if asset["asset"] == "USDT":
                asset.update(crossWalletBalance=str(amount), walletBalance=str(amount))

    def fill(self, trade: dict[str, Any]) -> None:
        """Record an own fill (what ``fetch_my_trades`` answers from now on)."""
        self.trades.append(trade)

    # ------------------------------------------------------------------ ccxt's methods

    async def fetch_positions(self, symbols: Any = None, params: Any = None) -> list[dict[str, Any]]:
        self._called("fetch_positions")
        return copy.deepcopy(self.positions)

    async def fetch_balance(self, params: Any = None) -> dict[str, Any]:
        self._called("fetch_balance")
        if self.on_snapshot is not None:
            self.on_snapshot(self.calls["fetch_balance"])
        return copy.deepcopy(self.balance)

    async def fetch_mark_prices(self, symbols: Any = None, params: Any = None) -> dict[str, Any]:
        self._called("fetch_mark_prices")
        return copy.deepcopy(self.marks)

    async def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: Any = None, params: Any = None
    ) -> list[dict[str, Any]]:
        self._called("fetch_my_trades")
        return [
            copy.deepcopy(t)
            for t in self.trades
            if t["symbol"] == symbol and (since is None or t["timestamp"] >= since)
        ]

    async def close(self) -> None:
        self.closed = True


class StreamingVenue(RestVenue):
    """A venue with ccxt.pro's streams too: each ``watch_*`` call returns the next update (or raises the next
    error) handed to it by :meth:`deliver`; ``watch_ticker`` has one stream per market (``watch_ticker <symbol>``)
    and is offered only when ``has`` says so. ``script``, if given, runs once on
    the watcher's own event loop, started by the first call the watcher makes."""

    STREAMS = ("watch_mark_prices", "watch_my_trades", "watch_positions", "watch_balance")

    def __init__(self, name: str = FIXTURE, secret: str = "", script: Script | None = None) -> None:
        super().__init__(name, secret)
        self.has.update(watchMarkPrices=True, watchMyTrades=True, watchPositions=True, watchBalance=True)
        self.script = script
        self.script_task: asyncio.Task[None] | None = None
        self.queues: dict[str, asyncio.Queue[tuple[Any, asyncio.Event]]] = {}

    def _queue(self, method: str) -> "asyncio.Queue[tuple[Any, asyncio.Event]]":
        if self.script is not None and self.script_task is None:
            self.script_task = asyncio.get_running_loop().create_task(self._scripted(self.script))
        return self.queues.setdefault(method, asyncio.Queue())

    async def _scripted(self, script: Script) -> None:
        """Run ``script``; one that fails, or stalls past :data:`SCRIPT_TIMEOUT_S`, stops the watch with Ctrl-C
        (the command's own way out) instead of leaving it waiting for updates that never come, and keeps its
        error on :attr:`script_task` for the test to raise."""
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S):
                await script(self)
        except asyncio.CancelledError:
            raise
        except BaseException:
            signal.raise_signal(signal.SIGINT)
            raise

    def script_error(self) -> BaseException | None:
        """What the script raised (its stall past the timeout included); None if it ended well or never ran."""
        task = self.script_task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()

    def _called(self, method: str) -> None:
        self._queue(method)
        super()._called(method)

    async def deliver(self, method: str, update: Any) -> None:
        """Hand ``update`` to the stream ``method`` (an exception: raised there) and wait until the watcher has
        taken it."""
        taken = asyncio.Event()
        await self._queue(method).put((update, taken))
        await taken.wait()

    async def signal(self, method: str) -> None:
        """Signal a change on the stream ``method`` (``watch_positions``, ``watch_balance``) and wait until the
        snapshot it triggers has been read and its lines emitted."""
        target = self.calls.get("fetch_balance", 0) + 1
        await self.deliver(method, [] if method == "watch_positions" else copy.deepcopy(self.balance))
        await snapshots(self, target)

    async def _stream(self, method: str) -> Any:
        self._called(method)
        update, taken = await self._queue(method).get()
        taken.set()
        if isinstance(update, Exception):
            raise update
        return copy.deepcopy(update)

    async def watch_mark_prices(self, symbols: Any = None, params: Any = None) -> Any:
        return await self._stream("watch_mark_prices")

    async def watch_ticker(self, symbol: str, params: Any = None) -> Any:
        return await self._stream(f"watch_ticker {symbol}")

    async def watch_my_trades(
        self, symbol: Any = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        return await self._stream("watch_my_trades")

    async def watch_positions(
        self, symbols: Any = None, since: Any = None, limit: Any = None, params: Any = None
    ) -> Any:
        return await self._stream("watch_positions")

    async def watch_balance(self, params: Any = None) -> Any:
        return await self._stream("watch_balance")
