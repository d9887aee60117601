"""``crossmargin watch``: keep an imported venue book current from ccxt's streaming methods (ccxt.pro), polling the
venue's REST methods where it has no stream (docs/import.md, "Watch").

One asyncio task follows each kind of update, each the best way the exchange's ``has`` map offers:

- prices: ``watch_mark_prices``, else ``watch_ticker`` per held market, else ``watch_tickers``; polled:
  ``fetch_mark_prices``, ``fetch_tickers``, else ``fetch_markets`` (dYdX, whose markets carry the oracle price).
  Each held market's mark becomes a price line ``{t, source: <venue>, symbol: <instrument>, price}`` in the feed
  format (docs/oracle.md);
- own fills: ``watch_my_trades``, else ``fetch_my_trades`` per held market since the watch began; each becomes a
  trade of the account against the outside market ``@market`` (see :class:`~crossmargin.bridge.tracking.Fill`);
- positions and balances: ``watch_positions`` and ``watch_balance`` as signals, each followed by a snapshot read
  with ``fetch_positions`` and ``fetch_balance`` the importer's way; without those streams the snapshot is polled.
  A snapshot the fills do not explain gives ``drift`` lines (:class:`~crossmargin.bridge.tracking.BookTracker`).

Every update is handed to ``emit`` as a JSON-ready mapping (numbers exact ``Decimal``), one per printed line:
``watch`` (the plan, first), ``price``, ``trade``, ``drift``, ``skipped``, ``stream_error``.

``t`` is the update's own timestamp in Unix seconds (milliseconds kept exact), the wall clock for an update
without one, and never goes back: a line stamped before the last one sent takes the last one's ``t``.

A stream or poll that fails is retried after a backoff (``backoff_s``, doubling to ``backoff_max_s``, back to the
start after a success), each failure reported as a ``stream_error`` line with the credentials removed from its
text. ccxt's authentication and permission errors end the watch (retrying cannot cure them). Outbound calls are
paced: each poll waits ``poll_s`` after the last, a stream-triggered snapshot comes at most once per
``snapshot_gap_s``, and ccxt's own rate limiter spaces the REST calls (``enableRateLimit``).
"""

import asyncio
import contextlib
import importlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossmargin.bridge.live import scrubbed
from crossmargin.bridge.responses import VENUES, Responses, mapping_at, number
from crossmargin.bridge.tracking import BookTracker, Drift, Fill, Skipped
from crossmargin.bridge.writing import number_text
from crossmargin.clearing.events import MARKET
from crossmargin.model import InputError

Event = dict[str, Any]
"""One update as a printed line's fields (numbers as ``Decimal``)."""
Emit = Callable[[Event], Awaitable[None]]

PRICE_STREAMS = (
    ("watchMarkPrices", "watch_mark_prices"),
    ("watchTicker", "watch_ticker"),
    ("watchTickers", "watch_tickers"),
)
PRICE_POLLS = (
    ("fetchMarkPrices", "fetch_mark_prices"),
    ("fetchTickers", "fetch_tickers"),
    ("fetchMarkets", "fetch_markets"),
)
"""Where prices come from, in the order preferred: (ccxt ``has`` key, method). ``watch_ticker`` (one stream per
held market) comes before ``watch_tickers``: on some venues the per-market channel carries the mark where the
all-markets one carries mid prices only (Hyperliquid's ``activeAssetCtx`` against ``allMids``)."""
SIGNALS = {"positions": ("watchPositions", "watch_positions"), "balance": ("watchBalance", "watch_balance")}
"""The streams that signal a change of positions or balances (read then with a snapshot)."""
FATAL_ERRORS = frozenset({"AuthenticationError", "PermissionDenied", "AccountSuspended", "AccountNotEnabled"})
"""ccxt error classes (and their subclasses) that end the watch instead of being retried."""
SEEN_FILLS = 100_000
"""Fill ids remembered to recognise a fill seen before (a poll returns every fill since the watch began)."""


@dataclass(frozen=True)
class Pacing:
    """The watcher's timing, in seconds: ``poll_s`` between two polls of one kind; ``settle_s`` that a difference
    must last before it is drift; ``snapshot_gap_s`` at least between two snapshots; the backoff after a failure
    starts at ``backoff_s`` and doubles up to ``backoff_max_s``."""

    poll_s: float = 5.0
    settle_s: float = 5.0
    snapshot_gap_s: float = 1.0
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0


def streaming_exchange(venue: str, secrets: Mapping[str, str]) -> Any:
    """A ccxt.pro exchange object for ``venue`` holding ``secrets`` (ccxt loaded here, on demand), with ccxt's
    rate limiter on."""
    if venue not in VENUES:
        raise InputError("VENUE", f"unknown venue {venue!r}; crossmargin imports {', '.join(VENUES)}")
    try:
        pro = importlib.import_module("ccxt.pro")
    except ImportError:
        raise InputError("VENUE", "watching a venue needs ccxt: pip install 'crossmargin[exchanges]'") from None
    return getattr(pro, venue)({**secrets, "enableRateLimit": True})


def json_line(value: Any) -> str:
    """``value`` as one line of compact JSON, each ``Decimal`` a JSON number with its exact digits."""
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{json_line(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_line(v) for v in value) + "]"
    return json.dumps(value)


class FeedClock:
    """The ``t`` of each line (see the module doc); ``wall`` gives Unix seconds."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.last = Decimal(0)

    def t(self, timestamp_ms: Any) -> Decimal:
        """Feed seconds for an update stamped ``timestamp_ms`` (Unix milliseconds; None: now)."""
        if isinstance(timestamp_ms, int | Decimal) and not isinstance(timestamp_ms, bool) and timestamp_ms > 0:
            stamp = Decimal(timestamp_ms).scaleb(-3)
        else:
            stamp = Decimal(int(self.wall() * 1000)).scaleb(-3)
        self.last = max(self.last, stamp)
        return self.last


def mark_of(ticker: Mapping[str, Any], where: str) -> Decimal | None:
    """A market's mark in a ccxt ticker (or market) structure: the unified ``markPrice``, else the venue's own in
    ``info`` (Hyperliquid's ``markPx``, dYdX's ``oraclePrice``); None when it has none (``last`` is a trade, not
    a mark)."""
    info = mapping_at(ticker.get("info") or {}, f"{where}.info")
    for found in (number(ticker, "markPrice", where), number(info, "markPx", f"{where}.info")):
        if found is not None:
            return found
    return number(info, "oraclePrice", f"{where}.info")


def drift_event(drift: Drift) -> Event:
    """A drift as its printed line."""
    event: Event = {"event": "drift", "kind": drift.kind, "account": drift.account}
    event["instrument" if drift.kind == "position" else "asset"] = drift.subject
    if drift.side is not None:
        event["side"] = drift.side
    event.update(venue=drift.venue, book=drift.book, difference=drift.difference)
    return event


def trade_event(fill: Fill, t: Decimal) -> Event:
    """A fill as its printed line: the body of ``POST /v1/trades`` with ``t`` and the venue's id and fee."""
    buying = fill.size > 0
    return {
        "event": "trade",
        "t": t,
        "venue_trade_id": fill.trade_id,
        "buyer": fill.account if buying else MARKET,
        "seller": MARKET if buying else fill.account,
        "instrument": fill.instrument,
        "size": abs(fill.size),
        "price": fill.price,
        "buyer_fee": fill.fee if buying else Decimal(0),
        "seller_fee": Decimal(0) if buying else fill.fee,
        "venue_fee": None if fill.venue_fee is None else {"cost": fill.venue_fee[0], "currency": fill.venue_fee[1]},
    }


def _capable(exchange: Any, key: str, method: str) -> bool:
    return bool(exchange.has.get(key)) and callable(getattr(exchange, method, None))


def _fatal(err: BaseException) -> bool:
    return any(kind.__name__ in FATAL_ERRORS for kind in type(err).__mro__)


class Watcher:
    """Follows one venue account (see the module doc): ``exchange`` is a ccxt.pro exchange (or anything with the
    same async methods and ``has`` map), ``responses`` the import the book started from, ``emit`` takes each
    update. ``secrets`` are removed from every error text; ``wall`` gives Unix seconds, ``since_ms`` the time the
    watch began (fills polled since then); ``about`` is added to the first line."""

    def __init__(
        self,
        exchange: Any,
        responses: Responses,
        emit: Emit,
        pacing: Pacing = Pacing(),
        secrets: Sequence[str] = (),
        wall: Callable[[], float] = time.time,
        since_ms: int | None = None,
        about: Mapping[str, Any] | None = None,
    ) -> None:
        self.exchange = exchange
        self.about = dict(about or {})
        self.venue = responses.venue
        self.tracker = BookTracker(responses, pacing.settle_s)
        self.emit = emit
        self.pacing = pacing
        self.secrets = tuple(secrets)
        self.clock = FeedClock(wall)
        self.since_ms = int(wall() * 1000) if since_ms is None else since_ms
        self.symbols = sorted(self.tracker.names)
        self.wanted = asyncio.Event()
        self._seen: deque[str] = deque(maxlen=SEEN_FILLS)
        self._seen_set: set[str] = set()
        self._marks: dict[str, tuple[Any, Decimal]] = {}
        self._last_snapshot = float("-inf")

    # ------------------------------------------------------------------ the plan

    def plan(self) -> dict[str, dict[str, Any]]:
        """How each kind is followed: ``{"stream": method}``, ``{"poll": method, "every_s": poll_s}`` or
        ``{"none": why}``."""
        every = {"every_s": self.pacing.poll_s}
        plan: dict[str, dict[str, Any]] = {}
        stream = next((m for k, m in PRICE_STREAMS if _capable(self.exchange, k, m)), None)
        poll = next((m for k, m in PRICE_POLLS if _capable(self.exchange, k, m)), None)
        plan["prices"] = {"stream": stream} if stream else {"poll": poll, **every} if poll else {"none": "no method"}
        if _capable(self.exchange, "watchMyTrades", "watch_my_trades"):
            plan["fills"] = {"stream": "watch_my_trades"}
        elif _capable(self.exchange, "fetchMyTrades", "fetch_my_trades"):
            plan["fills"] = {"poll": "fetch_my_trades", **every}
        else:
            plan["fills"] = {"none": "the venue offers no own-trades method: fills show as drift"}
        for kind, (key, method) in SIGNALS.items():
            read = "fetch_positions" if kind == "positions" else "fetch_balance"
            if _capable(self.exchange, key, method):
                plan[kind] = {"stream": method, "read": read}
            else:
                plan[kind] = {"poll": read, **every}
        return plan

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Follow the venue until cancelled (Ctrl-C) or a fatal error (an :class:`InputError` naming the venue);
        the exchange is closed either way."""
        plan = self.plan()
        await self.emit(
            {
                "event": "watch",
                "venue": self.venue,
                "accounts": list(self.tracker.accounts),
                "instruments": {s: self.tracker.names[s] for s in self.symbols},
                "follow": plan,
                "poll_s": self.pacing.poll_s,
                **self.about,
            }
        )
        self.wanted.set()  # a first snapshot at once: what changed since the import shows as drift
        tasks = [asyncio.create_task(self._prices(plan["prices"]))]
        tasks.append(asyncio.create_task(self._fills(plan["fills"])))
        polled = any("poll" in plan[kind] for kind in SIGNALS)
        for kind, (_, method) in SIGNALS.items():
            if "stream" in plan[kind]:
                tasks.append(asyncio.create_task(self._signals(kind, method)))
        tasks.append(asyncio.create_task(self._snapshots(polled)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.exchange.close()

    async def _attempts(self, name: str, step: Callable[[], Awaitable[None]], every_s: float | None) -> None:
        """Run ``step`` for ever: after ``every_s`` (None: at once) when it succeeds, after the backoff when it
        fails (reported, credentials removed); a fatal error ends the watch."""
        delay = self.pacing.backoff_s
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the venue's and the network's errors: reported, retried
                text = scrubbed(f"{type(err).__name__}: {err}", self.secrets)
                if _fatal(err):
                    raise InputError(self.venue, f"{name}: {text}") from None
                await self.emit({"event": "stream_error", "stream": name, "error": text, "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.pacing.backoff_max_s)
                continue
            delay = self.pacing.backoff_s
            if every_s is not None:
                await asyncio.sleep(every_s)

    async def _prices(self, how: Mapping[str, Any]) -> None:
        if "none" in how:
            return
        method = how.get("stream") or how["poll"]
        if method == "watch_ticker":  # one stream per market, side by side
            await asyncio.gather(*(self._ticker(symbol) for symbol in self.symbols))
            return
        call = getattr(self.exchange, method)

        async def step() -> None:
            if method == "fetch_markets":
                found = await call()
                tickers = {m.get("symbol"): m for m in found if isinstance(m, Mapping)}
            else:
                tickers = await call(self.symbols)
            if isinstance(tickers, Mapping) and "symbol" in tickers:
                tickers = {tickers["symbol"]: tickers}
            await self._price_lines(mapping_at(tickers, method), method)

        await self._attempts(method, step, None if "stream" in how else self.pacing.poll_s)

    async def _ticker(self, symbol: str) -> None:
        async def step() -> None:
            ticker = await self.exchange.watch_ticker(symbol)
            await self._price_lines({symbol: ticker}, "watch_ticker")

        await self._attempts(f"watch_ticker {symbol}", step, None)

    async def _price_lines(self, tickers: Mapping[str, Any], method: str) -> None:
        for symbol in self.symbols:
            ticker = tickers.get(symbol)
            if not isinstance(ticker, Mapping):
                continue
            try:
                mark = mark_of(ticker, f"{method}.{symbol}")
            except InputError as err:
                await self.emit({"event": "skipped", "what": "price", "symbol": symbol, "reason": str(err)})
                continue
            if mark is None or mark <= 0:
                continue
            stamp = ticker.get("timestamp")
            if self._marks.get(symbol) == (stamp, mark):
                continue
            self._marks[symbol] = (stamp, mark)
            name = self.tracker.names[symbol]
            t = self.clock.t(stamp)
            await self.emit({"event": "price", "t": t, "source": self.venue, "symbol": name, "price": mark})

    async def _fills(self, how: Mapping[str, Any]) -> None:
        if "stream" in how:

            async def watched() -> None:
                await self._fill_lines(await self.exchange.watch_my_trades())

            await self._attempts("watch_my_trades", watched, None)
        elif "poll" in how:

            async def polled() -> None:
                for symbol in self.symbols:
                    await self._fill_lines(await self.exchange.fetch_my_trades(symbol, self.since_ms))

            await self._attempts("fetch_my_trades", polled, self.pacing.poll_s)

    async def _fill_lines(self, trades: Any) -> None:
        for i, trade in enumerate(trades if isinstance(trades, list) else []):
            if not isinstance(trade, Mapping):
                continue
            try:
                fill = self.tracker.fill_of(trade, f"trades[{i}]")
            except Skipped as skipped:
                key = f"skipped:{trade.get('id')}:{trade.get('timestamp')}"
                if self._first_time(key):
                    await self.emit(
                        {
                            "event": "skipped",
                            "what": "trade",
                            "venue_trade_id": trade.get("id"),
                            "reason": skipped.reason,
                        }
                    )
                continue
            if not self._first_time(fill.trade_id):
                continue
            self.tracker.apply(fill)
            await self.emit(trade_event(fill, self.clock.t(trade.get("timestamp"))))

    def _first_time(self, key: str) -> bool:
        """Whether ``key`` is new (remembering it, the oldest of :data:`SEEN_FILLS` forgotten)."""
        if key in self._seen_set:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(key)
        self._seen_set.add(key)
        return True

    async def _signals(self, kind: str, method: str) -> None:
        call = getattr(self.exchange, method)

        async def step() -> None:
            await call()
            self.wanted.set()

        await self._attempts(method, step, None)

    async def _snapshots(self, polled: bool) -> None:
        loop = asyncio.get_running_loop()

        async def step() -> None:
            due = self.tracker.next_due()
            waits = [self.pacing.poll_s] if polled else []
            if due is not None:
                waits.append(due - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wanted.wait(), max(0.0, min(waits)) if waits else None)
            self.wanted.clear()
            gap = self._last_snapshot + self.pacing.snapshot_gap_s - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
            self._last_snapshot = loop.time()
            positions = await self.exchange.fetch_positions()
            balance = await self.exchange.fetch_balance()
            for drift in self.tracker.observe(positions, balance, loop.time()):
                await self.emit(drift_event(drift))

        await self._attempts("snapshot", step, None)
