"""A forecast round's liquidation orders filled against the instruments' depth, and the marks they leave.

Through the :class:`~crossmargin.liquidation.liquidity.LiquidityModel` interface only: its float mirror
(``fractions``, the level, linear and square-root books, whose depth is set in offsets from the mark) for every
order at once, no exact work; else (the AMMs, an order book) ``quote`` and ``impacted_mark``, a few exact quotes
per instrument and side a round, never one per fill. A close of a long sells (walks the bids, below the mark), a
close of a short buys. Two ways to cut a round's closes into orders (:class:`Orders`):

- ``round``: one order per instrument and side, the round's summed units, quoted at the round's mark; every
  close fills at that order's average price, and the mark moves by the order's permanent impact
  (``impacted_mark - mark``; a round's sell and buy moves add up). A venue that liquidates a round as one
  order, or the square-root law read over the whole wave.
- ``account``: one order per position closed, account after account in their order (the key the caller
  gives: the engine loop takes a round's due accounts sorted by id), each quoted at the mark the accounts
  before it left, and the mark moves after each account by the sum of its orders' impacts: the liquidation
  engine's own sequence (:meth:`~crossmargin.liquidation.engine.Liquidator.apply_impact` after each
  account). :func:`fill_round` fills every close so; :func:`in_turn` takes the pools one after the other and
  lets the insurance fund decide, pool by pool, which go to the market at all. An order's fill, average price and
  impact are taken as fractions of the mark it meets, and each later account's mark is the one before times
  (1 + its impact): exact for depth set in offsets from the mark, read from its float mirror order by order.
  Other depth is quoted exactly once a round at the round's mark, for each distinct order size (up to
  :data:`EXACT` of them) or on a grid of sizes spanning the round's (:func:`sizes`) read between grid points
  linearly in log size; its depth depends on the price (a pool of :mod:`~crossmargin.liquidation.amm` holds
  more of the base at a lower price, an order book's levels stand at prices), so the quotes at the round's
  mark stand for the whole round.

Where the depth runs out (``filled < requested``) each close fills its share of what the order filled; the
rest is not liquidated in this round. A mark the impact would take to zero or below is left where it is (as
``apply_impact`` leaves it). Units: order sizes in units of the underlying, prices in mark units, money in
base currency.

:func:`in_turn`'s loop is compiled by Numba in each process (about a second, the first time), not cached on
disk: Numba keys a disk cache on a kernel's own file alone, and this one inlines an engine term.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numba import njit

from crossmargin.engine import terms
from crossmargin.engine.rule_arrays import B1, F64, I64, InstrumentArrays
from crossmargin.liquidation.liquidity import LiquidityModel, Side
from crossmargin.model.numbers import from_float
from crossmargin.sim.forecast_adl import Ledger, Queues, deleverage, no_queues
from crossmargin.sim.forecast_pools import summed
from crossmargin.sim.forecast_sizing import pay

EXACT = 32
"""Up to this many distinct order sizes on an instrument's side in a round, each is quoted (``account``
orders); beyond, the quotes are sampled on :data:`STEP`'s grid."""
STEP = 2.0**0.25
"""The grid's ratio from one sampled order size to the next (the sizes ``STEP ** k`` spanning the round's):
the average price and the impact of the sampled models, read between grid points linearly in log size, are
then within some 0.1 % of their own value (a square-root impact's curvature over a step of ln 1.19)."""


class Quotes:
    """Quotes already made in a round, as :func:`fill_round` takes them (fractions of the mark), kept by
    (instrument, side, units, mark): the round's passes ask again for most of them. A model with a float mirror
    (:meth:`~crossmargin.liquidation.liquidity.LiquidityModel.fractions`) is read from it, not quoted."""

    def __init__(self) -> None:
        self.made: dict[tuple[int, Side, float, float], tuple[float, float, float]] = {}

    def quoted(
        self, i: int, model: LiquidityModel, side: Side, units: float, mark: float
    ) -> tuple[float, float, float]:
        """(average price, share filled, mark after) of one order, as fractions of ``mark``."""
        mirrored = model.fractions(side, np.array([units]))
        if mirrored is not None:
            return float(mirrored.average[0]), float(mirrored.share[0]), float(mirrored.after[0])
        key = (i, side, units, mark)
        found = self.made.get(key)
        if found is None:
            quote = model.quote(side, _decimal(units), _decimal(mark))
            impacted = model.impacted_mark(quote)
            share = float(quote.filled / quote.requested)
            found = self.made[key] = (float(quote.average_price) / mark, share, float(impacted) / mark)
        return found


def sizes(units: F64) -> F64:
    """The order sizes to quote for ``units`` (> 0): each distinct one, up to :data:`EXACT`; else the grid
    ``STEP ** k`` from the largest at or below the least to the smallest at or above the most."""
    distinct = np.unique(units)
    if len(distinct) <= EXACT:
        return distinct
    step = np.log(STEP)
    low, high = np.log(distinct[0]) / step, np.log(distinct[-1]) / step
    k = np.arange(np.floor(low + 1e-9), np.ceil(high - 1e-9) + 1)  # a size on the grid is its own point
    return np.asarray(np.exp(k * step), dtype=np.float64)


class Orders(StrEnum):
    """How a round's closes are cut into orders (module doc)."""

    ROUND = "round"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Closes:
    """A round's closes, one per position closed (wholly or in part): its ``instrument`` (index), ``long``
    (True: the close sells), ``units`` of the underlying (> 0) and its ``account``'s place in the order the
    accounts are liquidated (``account`` orders; smaller first)."""

    instrument: I64
    long: B1
    units: F64
    account: I64


@dataclass(frozen=True)
class Filled:
    """Per close: its average fill ``price`` (mark units), the ``share`` of it filled (1 unless the depth ran
    out) and the mark its order ``met`` (the round's; for ``account`` orders, the mark the accounts before it
    left); per instrument: the ``marks`` after the round's impact."""

    price: F64
    share: F64
    met: F64
    marks: F64


def _decimal(x: float) -> Decimal:
    return from_float(x, 17)


def _by_round(
    closes: Closes, chosen: np.ndarray, i: int, model: LiquidityModel, mark: float, filled: Filled, quotes: Quotes
) -> float:
    """Each side's summed order for one instrument's ``chosen`` closes; the sum of their moves of the mark."""
    move = 0.0
    for long in (True, False):
        these = chosen[closes.long[chosen] == long]
        if not len(these):
            continue
        side = Side.SELL if long else Side.BUY
        average, share, after = quotes.quoted(i, model, side, float(closes.units[these].sum()), mark)
        filled.price[these] = average * mark
        filled.share[these] = share
        filled.met[these] = mark
        move += (after - 1.0) * mark
    return move


class Relative(NamedTuple):
    """Per close, its order's quote as fractions of the mark it meets (``account`` orders: each order alone):
    ``average`` price over the mark, the ``share`` filled, and the ``move`` of the mark it leaves over the
    mark (negative for a sell)."""

    average: F64
    share: F64
    move: F64


def relative_quotes(closes: Closes, models: Sequence[LiquidityModel], marks: F64, quotes: Quotes) -> Relative:
    """Each close's order quoted at its instrument's mark in ``marks``, alone, as fractions of it: from the model's
    float mirror where it has one, else each distinct size quoted or read off :func:`sizes`' grid (module
    doc)."""
    n = len(closes.units)
    found = Relative(np.empty(n), np.empty(n), np.empty(n))
    for i in np.unique(closes.instrument).tolist():
        for long in (True, False):
            chosen = np.flatnonzero((closes.instrument == i) & (closes.long == long))
            if not len(chosen):
                continue
            units = closes.units[chosen]
            side = Side.SELL if long else Side.BUY
            mirrored = models[i].fractions(side, units)
            if mirrored is not None:
                found.average[chosen], found.share[chosen] = mirrored.average, mirrored.share
                found.move[chosen] = mirrored.after - 1.0
                continue
            grid = sizes(units)
            sampled = np.array([quotes.quoted(i, models[i], side, float(u), float(marks[i])) for u in grid])
            at, logs = np.log(units), np.log(grid)
            found.average[chosen] = np.interp(at, logs, sampled[:, 0])
            found.share[chosen] = np.interp(at, logs, sampled[:, 1])
            found.move[chosen] = np.interp(at, logs, sampled[:, 2]) - 1.0
    return found


def _by_account(closes: Closes, chosen: np.ndarray, relative: Relative, mark: float, filled: Filled) -> float:
    """One instrument's ``chosen`` closes as orders account by account (module doc); the mark after them."""
    accounts, which = np.unique(closes.account[chosen], return_inverse=True)
    factor = 1.0 + summed(which, relative.move[chosen], len(accounts))
    factor = np.where(factor > 0.0, factor, 1.0)
    before = np.concatenate([[1.0], np.cumprod(factor)[:-1]])
    filled.met[chosen] = mark * before[which]
    filled.price[chosen] = filled.met[chosen] * relative.average[chosen]
    filled.share[chosen] = relative.share[chosen]
    return float(mark * before[-1] * factor[-1])


def fill_round(
    closes: Closes, models: Sequence[LiquidityModel], marks: F64, orders: Orders, quotes: Quotes | None = None
) -> Filled:
    """The round's ``closes`` filled against ``models`` (one per instrument, by index) from ``marks`` (module
    doc); ``quotes``: the round's quotes so far (kept across its passes)."""
    quotes = Quotes() if quotes is None else quotes
    n = len(closes.units)
    filled = Filled(np.empty(n), np.ones(n), np.empty(n), marks.copy())
    relative = relative_quotes(closes, models, marks, quotes) if orders is Orders.ACCOUNT else None
    for i in np.unique(closes.instrument).tolist():
        chosen = np.flatnonzero(closes.instrument == i)
        mark = float(marks[i])
        if relative is None:
            after = mark + _by_round(closes, chosen, i, models[i], mark, filled, quotes)
        else:
            after = _by_account(closes, chosen, relative, mark, filled)
        filled.marks[i] = after if after > 0.0 else mark
    return filled


class PositionArrays(NamedTuple):
    """Per position of a round's pools: its ``slot`` in the book, ``instrument``, ``size`` at the round's
    start (contracts, positive long), the part of it ``closed`` (signed like it, after the depth),
    ``contract_size``, ``inverse``, ``entry`` and its settle asset's ``settle_price`` (base currency)."""

    slot: I64
    instrument: I64
    size: F64
    closed: F64
    contract_size: F64
    inverse: B1
    entry: F64
    settle_price: F64


@dataclass(frozen=True)
class Turns:
    """A round's pools taken in the engine's order (:func:`in_turn`): per position, the mark its order met
    (``met``), its average fill ``price`` (a taken-over one's: its pool's bankruptcy price) and the contracts
    ``closed`` (signed like it); per pool, ``taken_over`` (off the market), the insurance fund's ``draw`` and
    the loss ``beyond`` it (base currency); the ``marks`` after the round and the ``fund`` left."""

    met: F64
    price: F64
    closed: F64
    taken_over: B1
    draw: F64
    beyond: F64
    marks: F64
    fund: float


class TurnPools(NamedTuple):
    """A round's pools as :func:`in_turn` takes them: their ``order``, each one's ``account`` (its place in the
    accounts' order) and ``pool`` (its index in the book), its positions ``start[x]:end[x]``, the one taken
    first (``lead``: the largest maintenance margin), and per pool its ``net_value`` at the round's marks, the
    ``charges`` of its closes (fees and the sale of collateral, worked out beforehand) and the fee ``income``
    its fills bring the insurance fund (base currency)."""

    order: I64
    account: I64
    pool: I64
    start: I64
    end: I64
    lead: I64
    net_value: F64
    charges: F64
    income: F64


def in_turn(
    pools: TurnPools, positions: PositionArrays, relative: Relative, fund: float, socialized: bool, marks: F64,
    adl: Queues | None, ledger: Ledger, t: InstrumentArrays, prices: F64,
) -> Turns:  # fmt: skip
    """The round's pools one after the other, as the liquidation engine takes them (:class:`TurnPools`), their
    closes by ``relative`` (quoted at the round's ``marks``). A pool meets the marks the accounts before it
    left; its net value there (moved by its positions' PnL to them, and by what auto-deleveraging earlier in
    the move took from it) plus its closes' slippage less its charges is what it leaves; the insurance fund
    (``fund`` at the start, each pool's fee income in as it fills) pays a shortfall it can cover whole; beyond
    it, under ``socialized`` the fund pays what it has and the rest is spread, else the pool is taken over at
    its bankruptcy price off the market (its loss beyond the fund: its net value at the marks it met below
    zero), its positions taken by the ``adl`` queues where there are queues
    (:func:`~crossmargin.sim.forecast_adl.deleverage`). Each account's orders then move the marks by the sum of
    their impacts, a mark that would not stay positive left where it is. The ``ledger``'s sizes are closed
    as filled or taken over (a position an earlier take reduced closes no more than is left)."""
    n = len(positions.size)
    met, price, closed = np.empty(n), np.empty(n), np.zeros(n)
    count = len(pools.net_value)
    taken, draw, beyond = np.zeros(count, dtype=np.bool_), np.zeros(count), np.zeros(count)
    moved = marks.copy()
    queue = adl if adl is not None else no_queues()
    left = _in_turn(
        pools, positions, relative.average, relative.move, fund, socialized, marks, queue, adl is not None, ledger,
        t, prices, moved, met, price, closed, taken, draw, beyond,
    )  # fmt: skip
    return Turns(met, price, closed, taken, draw, beyond, moved, left)


@njit(error_model="numpy")
def _bankruptcy_price(q: float, c: float, inverse: bool, mark: float, value: float, settle_price: float) -> float:
    """:func:`crossmargin.liquidation.engine.bankruptcy_price` of closing ``q`` contracts from a pool worth
    ``value`` (base currency) at ``mark``; the mark where no positive price does it."""
    scale = q * c * settle_price
    if inverse:
        reciprocal = 1.0 / mark + value / scale
        return 1.0 / reciprocal if reciprocal > 0.0 else mark
    found = mark - value / scale
    return found if found > 0.0 else mark


@njit(error_model="numpy")
def _in_turn(
    pools: TurnPools, positions: PositionArrays, average: F64, move: F64, fund: float, socialized: bool, marks: F64,
    queue: Queues, adl: bool, ledger: Ledger, t: InstrumentArrays, prices: F64, moved: F64, met: F64, price: F64,
    closed: F64, taken: B1, draw: F64, beyond: F64,
) -> float:  # fmt: skip
    """:func:`in_turn`'s loop: ``moved`` (the marks as they move), ``met``, ``price``, ``closed``, ``taken``,
    ``draw`` and ``beyond`` filled; the fund left."""
    pending = np.zeros(marks.shape[0])
    k = 0
    order = pools.order
    while k < order.shape[0]:
        turn = pools.account[order[k]]
        pending[:] = 0.0
        while k < order.shape[0] and pools.account[order[k]] == turn:
            x = order[k]
            value, slip = pools.net_value[x] + ledger.shift[pools.pool[x]], 0.0
            for j in range(pools.start[x], pools.end[x]):
                i = positions.instrument[j]
                c, e, inv, p = (
                    positions.contract_size[j],
                    positions.entry[j],
                    positions.inverse[j],
                    positions.settle_price[j],
                )
                held = ledger.size[positions.slot[j]]
                met[j] = moved[i]
                price[j] = met[j] * average[j]
                value += (
                    terms.unrealized_pnl(held, c, e, met[j], inv) - terms.unrealized_pnl(held, c, e, marks[i], inv)
                ) * p
                closing = positions.closed[j]
                if abs(closing) > abs(held):  # an earlier take left less than planned
                    closing = held
                closed[j] = closing
                slip += (
                    terms.unrealized_pnl(closing, c, e, price[j], inv)
                    - terms.unrealized_pnl(closing, c, e, met[j], inv)
                ) * p
            short = max(pools.charges[x] - value - slip, 0.0)
            if short > 0.0:
                draw[x], beyond[x], taken[x], fund = pay(short, fund, socialized, max(-value, 0.0))
            if not taken[x]:
                fund += pools.income[x]
                for j in range(pools.start[x], pools.end[x]):
                    if closed[j] != 0.0:
                        pending[positions.instrument[j]] += move[j] * met[j]
                        ledger.size[positions.slot[j]] -= closed[j]
            else:
                # the lead position closes the pool to zero at its bankruptcy price, the rest at the mark
                for j in range(pools.start[x], pools.end[x]):
                    held = ledger.size[positions.slot[j]]
                    closed[j] = held
                    if held == 0.0:
                        continue
                    i = positions.instrument[j]
                    worth = value if j == pools.lead[x] else 0.0
                    bankrupt = _bankruptcy_price(
                        held, positions.contract_size[j], positions.inverse[j], met[j], worth, positions.settle_price[j]
                    )
                    price[j] = bankrupt
                    if adl:
                        deleverage(abs(held), i, held > 0.0, bankrupt, turn, met[j], queue, ledger, t, prices)
                    ledger.size[positions.slot[j]] = 0.0
            k += 1
        for i in range(moved.shape[0]):
            if pending[i] != 0.0 and moved[i] + pending[i] > 0.0:
                moved[i] += pending[i]
    return fund


def account_order(keys: Sequence[str]) -> I64:
    """Each key's place when the keys are sorted (the engine loop takes a round's due accounts by id)."""
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[np.argsort(np.array(keys, dtype=object), kind="stable")] = np.arange(len(keys), dtype=np.int64)
    return ranks
