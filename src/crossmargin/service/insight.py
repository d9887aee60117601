"""What the risk dashboard reads about the book as a whole, as pure functions over an engine loop: every
position's liquidation price (the array path, :func:`~crossmargin.engine.liquidation_prices.book_liquidation_prices`)
cached per event, the accounts near liquidation, the liquidation map of one instrument and the oracle's view
of every symbol. Figures are JSON-ready: decimal strings (exact figures by
:func:`~crossmargin.report.numbers.decimal_string`, float figures of the mirror by
:func:`~crossmargin.report.numbers.float_string`), ``None`` for none.

Units: prices and marks in the instrument's mark units (settle units per underlying for a linear contract,
quote units per coin for an inverse one); notionals and depths in the instrument's quote currency (the
settle asset of a linear contract, the book's base currency of an inverse one, in which its underlying is
priced); offsets and spans are fractions of the mark; ``t`` and ages are feed seconds.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_pools import cross_pools, due_pools
from crossmargin.engine.liquidation_prices import LiquidationPrices, Outcome, book_liquidation_prices
from crossmargin.engine.rule_arrays import B1, F64, I64
from crossmargin.liquidation.liquidity import AtMark, LiquidityModel, Side
from crossmargin.live.loop import EngineLoop
from crossmargin.model import Instrument
from crossmargin.model.numbers import ZERO, exact
from crossmargin.oracle.config import Status
from crossmargin.oracle.feed import SourceUpdate
from crossmargin.report.numbers import decimal_string, float_string

BANDS = (("1%", 0.01), ("5%", 0.05), ("10%", 0.10))
"""The ``within`` bands of the book's figures: label, and the largest distance of an account's nearest
liquidation price from its instrument's mark, as a fraction of the mark (inclusive)."""
WAIT_FACTOR = 4.0
"""After a computation of the liquidation prices taking ``d`` seconds, the next waits ``WAIT_FACTOR x d``: the
computations then take at most a fifth of wall time, ``d / (d + 4 d)``."""


@dataclass(frozen=True)
class PricedBook:
    """Every position's liquidation price (by slot of the risk book, :class:`LiquidationPrices`) and what it
    was computed against, after event ``seq``: the slots' sizes (contracts, positive long), each instrument's
    mark (float, by instrument index, and exact, by name: the marks liquidations fill off), each pool's
    account (the index of its cross pool), the liquidity each instrument's liquidations filled against and the
    ``within`` counts (:data:`BANDS`)."""

    seq: int
    prices: LiquidationPrices
    size: F64
    marks: F64
    exact_marks: Mapping[str, Decimal]
    cross: I64
    liquidity: Mapping[str, LiquidityModel]
    within: Mapping[str, int]


def liquidatable_accounts(book: RiskBook) -> int:
    """Accounts with a pool (cross or isolated) the mirror finds liquidatable now (:func:`due_pools`)."""
    return len({book.owners[int(p)].account for p in due_pools(book)})


def within_counts(prices: LiquidationPrices, marks: F64, cross: I64, due: B1) -> dict[str, int]:
    """For each of :data:`BANDS`: the accounts whose nearest liquidation price (over their positions, priced
    ones only) is within the band of its instrument's mark (``|price - mark| / mark <= band``), or that are
    liquidatable already (``due``: per pool, True at the cross pool of each such account). Cumulative: an
    account within 1% is within 5% too."""
    slots = np.flatnonzero(prices.outcome == Outcome.PRICED)
    mark = marks[prices.instrument[slots]]
    distance = np.abs(prices.price[slots] - mark) / mark
    owner = cross[prices.pool[slots]]
    counts = {}
    for label, band in BANDS:
        hit = due.copy()
        hit[owner[distance <= band]] = True
        counts[label] = int(np.count_nonzero(hit))
    return counts


def priced_book(loop: EngineLoop) -> PricedBook:
    """Every position's liquidation price now, with what :class:`PricedBook` keeps beside it."""
    book = loop.book
    prices = book_liquidation_prices(book)
    cross = cross_pools(book)
    due = np.zeros(book.pool_count, dtype=np.bool_)
    due[cross[due_pools(book)]] = True
    marks = book.marks.copy()
    within = within_counts(prices, marks, cross, due)
    return PricedBook(
        seq=loop.seq, prices=prices, size=book.size.copy(), marks=marks, exact_marks=dict(loop.state.market.marks),
        cross=cross, liquidity=dict(loop.liquidator.liquidity), within=within,
    )  # fmt: skip


class LiquidationPriceCache:
    """The book's liquidation prices, computed in this one place, at most once per event (``loop.seq``: every
    price, mark and position change is an event) and at most as often as keeps their cost to about a fifth of
    wall time: a computation that took ``d`` seconds is followed by the next no sooner than
    :data:`WAIT_FACTOR` x ``d`` later (until then the figures of an earlier event stand, and say which). The
    first computation is not timed (it loads the compiled kernels), nor is the first for a loop rebuilt from
    the log (its pools may be numbered anew, so the old figures cannot stand for it).

    ``clock``: the wall clock computations are timed by (seconds); ``compute``: what computes them."""

    def __init__(
        self,
        clock: Callable[[], float] = time.perf_counter,
        compute: Callable[[EngineLoop], PricedBook] = priced_book,
    ) -> None:
        self.clock, self.compute = clock, compute
        self.seconds = 0.0
        """How long the last computation took (wall clock)."""
        self._loop: EngineLoop | None = None
        self._priced: PricedBook | None = None
        self._next = float("-inf")
        """When (on ``clock``) the next computation may start."""
        self._timed = False

    def refresh(self, loop: EngineLoop) -> PricedBook:
        """The liquidation prices of ``loop``, computed again if an event came since the last computation and
        the wait after it is over."""
        priced = self._priced
        if priced is None or self._loop is not loop:
            return self._compute(loop)
        if priced.seq == loop.seq or self.clock() < self._next:
            return priced
        return self._compute(loop)

    def current(self, loop: EngineLoop) -> PricedBook:
        """The last liquidation prices of ``loop`` (computed now if there are none for it: never an older
        loop's)."""
        if self._priced is None or self._loop is not loop:
            return self._compute(loop)
        return self._priced

    def _compute(self, loop: EngineLoop) -> PricedBook:
        start = self.clock()
        priced = self.compute(loop)
        end = self.clock()
        timed = self._timed and self._loop is loop
        self._loop, self._priced, self._timed, self.seconds = loop, priced, True, end - start
        self._next = end + (WAIT_FACTOR * self.seconds if timed else 0.0)
        return priced


# ------------------------------------------------------------------ the liquidation map


def quote_currency(instrument: Instrument, base: str) -> str:
    """The currency an instrument's notional is shown in: the settle asset of a linear contract (or an
    option), the base currency of an inverse one (its contract size is in the currency its mark quotes the
    coin in, which the book prices its underlying in)."""
    return base if instrument.inverse else instrument.settle


def depth_within(model: LiquidityModel, side: Side, mark: Decimal, offset: Decimal) -> Decimal | None:
    """The notional (quote currency: units filled x their average price) ``model`` fills on ``side`` between
    ``mark`` and ``mark x (1 -/+ offset)`` (a sell walks below the mark, a buy above; ``0 <= offset < 1``);
    None for :class:`~crossmargin.liquidation.liquidity.AtMark` (unlimited at the mark).

    The units are those whose worst fill price reaches the edge
    (:meth:`~crossmargin.liquidation.liquidity.LiquidityModel.units_within`: for :class:`DepthLevels` every
    level at an offset up to ``offset``; for :class:`LinearImpact` (worst price ``mark x (1 -/+ n / D)``)
    ``n = D x offset``; for :class:`SquareRootImpact` (worst price ``mark x (1 -/+ 1.5 c sqrt(n / D))``)
    ``n = D x (2 offset / (3 c))^2``; for a pool, the units that move its price to the edge net of its fee).
    The model's own quote prices them."""
    units = model.units_within(side, mark, offset)
    if units is None:
        return None
    if units == 0:
        return ZERO
    return model.quote(side, units, mark).notional


def _bin_sums(where: np.ndarray, notional: F64, bins: int) -> F64:
    return np.bincount(where, weights=notional, minlength=bins).astype(np.float64)


def liquidation_map(loop: EngineLoop, priced: PricedBook, instrument: str, bins: int, span: Decimal) -> dict[str, Any]:
    """Where the positions in ``instrument`` are liquidated, in ``bins`` equal bins from ``mark x (1 - span)``
    to ``mark x (1 + span)`` (the mark, liquidation prices and liquidity of ``priced``; ``computed_at`` is its
    event).

    Per bin: its edges (``low``, ``high``, mark units, exact), the notional of the long and of the short
    positions whose liquidation price lies in it (``|size| x contract_size x price``, the model's notional
    at the liquidation price, for a linear contract; ``|size| x contract_size`` for an inverse one: its
    notional in the coin, ``|size| x contract_size / price``, valued at that price), and the cumulative
    notional of each side that would be liquidated if the mark moved to the bin's far edge, everything else
    held: for a bin below the mark, the positions whose liquidation price lies between its low edge and the
    mark; above it, between the mark and its high edge. (A long's liquidation price usually lies below the
    mark and a short's above; a hedged long can be liquidated by a rise, and it counts there. With an odd
    number of bins the middle one holds the mark: its long cumulative counts its longs below the mark, its
    short cumulative its shorts above.) ``depth``: the notional the instrument's liquidity fills from the
    mark to the bin's far edge on the side liquidation orders walk there (sell below the mark, buy above;
    the middle bin of an odd count: sell, to its low edge), :func:`depth_within`; None where liquidations
    fill at the mark. ``positions_without_price``: positions with no liquidation price (none within nine
    orders of magnitude of the mark, or not solved: an option, a scenario grid); ``positions_outside``:
    priced positions beyond the span."""
    book = loop.book
    spec = book.instrument_table[instrument]
    index = book.instruments.index(instrument)
    mark = priced.exact_marks[instrument]
    with exact():
        edges = [mark * (1 - span) + 2 * mark * span * k / bins for k in range(bins + 1)]
    lows = np.array([float(e) for e in edges])
    prices = priced.prices
    held = np.flatnonzero((prices.instrument == index) & (prices.outcome != Outcome.EMPTY))
    priced_slots = held[prices.outcome[held] == Outcome.PRICED]
    price = prices.price[priced_slots]
    inside = (price >= lows[0]) & (price <= lows[-1])
    slots, price = priced_slots[inside], price[inside]
    size = priced.size[slots]
    contracts = np.abs(size) * float(spec.contract_size)
    notional = contracts if spec.inverse else contracts * price
    where = np.clip(np.searchsorted(lows, price, side="right") - 1, 0, bins - 1)
    mark_f = float(priced.marks[index])
    sides = {}
    for name, chosen in (("long", size > 0), ("short", size < 0)):
        amount = np.where(chosen, notional, 0.0)
        fall = np.cumsum(_bin_sums(where, np.where(price <= mark_f, amount, 0.0), bins)[::-1])[::-1]
        rise = np.cumsum(_bin_sums(where, np.where(price >= mark_f, amount, 0.0), bins))
        sides[name] = (_bin_sums(where, amount, bins), fall, rise)
    model = priced.liquidity.get(instrument, AtMark())
    rows = []
    for k in range(bins):
        below, above = 2 * k + 1 < bins, 2 * k + 1 > bins
        long_notional, long_fall, long_rise = (s[k] for s in sides["long"])
        short_notional, short_fall, short_rise = (s[k] for s in sides["short"])
        with exact():
            offset = abs((edges[k + 1] if above else edges[k]) - mark) / mark
        depth = depth_within(model, Side.BUY if above else Side.SELL, mark, offset)
        rows.append(
            {
                "low": decimal_string(edges[k]), "high": decimal_string(edges[k + 1]),
                "long_notional": float_string(long_notional), "short_notional": float_string(short_notional),
                "long_cumulative": float_string(long_rise if above else long_fall),
                "short_cumulative": float_string(short_fall if below else short_rise),
                "depth": None if depth is None else decimal_string(depth),
            }
        )  # fmt: skip
    return {
        "instrument": instrument,
        "mark": decimal_string(mark),
        "quote": quote_currency(spec, book.base),
        "bins": rows,
        "positions_without_price": int(len(held) - len(priced_slots)),
        "positions_outside": int(len(priced_slots) - len(slots)),
        "computed_at": priced.seq,
    }


# ------------------------------------------------------------------ the oracle


def _source(update: SourceUpdate, clock: Decimal) -> dict[str, Any]:
    with exact():
        age = clock - update.t
    return {
        "source": update.source, "symbol": update.symbol, "price": update.price, "t": update.t, "age_s": age,
        "confidence": update.confidence,
    }  # fmt: skip


LEVELS = {Status.VALID: "valid", Status.DEGRADED: "degraded", Status.UNCONFIRMED: "degraded", Status.INVALID: "invalid"}
"""The oracle's four statuses on a banner's three levels: an unconfirmed price (fewer agreeing sources than the
quorum, near the last price a quorum gave) shows as degraded."""


def oracle_view(loop: EngineLoop) -> dict[str, Any]:
    """Every symbol the engine prices (assets, then instruments) as the oracle sees it now: its ``status``
    (the oracle's own: valid, degraded, unconfirmed, invalid) and ``level`` (:data:`LEVELS`), why
    (``reason``; "" when valid), the ``price`` it stands behind (None when invalid), the ``last_price`` it
    shows whatever its status, the ``engine_price`` the engine values at (an instrument's mark may stand
    displaced by liquidations' impact) and each source's latest update (an instrument's: those of its
    underlying's index, then its own trades), with its age on the feed's clock. Values are Decimals (written
    as decimal strings by :func:`~crossmargin.service.views.json_bytes`)."""
    oracle, market = loop.oracle, loop.state.market
    clock = oracle.clock
    symbols = []
    for symbol in loop.statuses:
        quote = oracle.price(symbol)
        instrument = symbol in oracle.underlying
        named = (oracle.underlying[symbol], symbol) if instrument else (symbol,)
        updates = [u for name in named for u in oracle.latest.get(name, {}).values()]
        symbols.append(
            {
                "symbol": symbol, "kind": "instrument" if instrument else "asset", "status": str(quote.status),
                "level": LEVELS[quote.status], "reason": "" if quote.status is Status.VALID else quote.reason,
                "price": None if quote.status is Status.INVALID else quote.price, "last_price": quote.price,
                "engine_price": market.marks[symbol] if instrument else market.prices[symbol],
                "sources": [_source(u, clock) for u in updates],
            }
        )  # fmt: skip
    return {"clock": clock, "any_not_valid": any(s["status"] != Status.VALID for s in symbols), "symbols": symbols}
