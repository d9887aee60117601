"""A liquidation cascade forecast from the live book: for each shocked move of a price, where the cascade
it starts ends, in seconds at a million accounts, with no exact work per fill.

The stress runner (:mod:`crossmargin.sim.stress.runner`) follows a cascade exactly: every due account
confirmed and liquidated on the ledger, one after the other. This forecast follows it on the risk book's
arrays, as a fixed point (:func:`forecast_move`):

1. **Shock.** The target's price moves by ``m`` (a fraction: -0.05 is 5 % down). An instrument: its mark
   alone. An underlying: the mark of every instrument on it and its index price (the collateral held in it),
   as a scenario moves it (:class:`Shock`).
2. **Crossings.** Every position's liquidation price is computed once
   (:func:`~crossmargin.engine.liquidation_prices.book_liquidation_prices`), sorted per instrument once, and
   swept (:mod:`.forecast_sweep`): a position is crossed once its instrument's mark has reached its
   liquidation price from the book's mark (the lowest mark so far for a price below the book's, the highest
   for one above). Its pool is due; so are the pools due before any move
   (:func:`~crossmargin.engine.book_pools.due_pools`).
3. **Liquidation.** The due pools are valued at the round's marks and prices (:mod:`.forecast_pools`, the
   book's own kernels); one the rulebook does not find liquidatable there (its other positions moved too)
   waits and is looked at again each round. The others are liquidated by the liquidation terms
   (:mod:`.forecast_sizing`): closed in full or in part by the engine's rule, largest maintenance margin
   first, sized with the slippage a first fill of the round priced. Their closes fill against each
   instrument's depth (:mod:`.forecast_fills`: through the liquidity model's ``quote`` and ``impacted_mark``
   only) as :class:`Orders` says, and the pools are then taken one after the other in the engine's order
   (:func:`~crossmargin.sim.forecast_fills.in_turn`): with ``account`` orders (the default) each meets the
   marks the accounts before it left; the insurance fund pays a pool's shortfall if it can cover it whole;
   beyond the fund the pool is taken over at its bankruptcy price, off the market, by auto-deleveraging
   under ``shortfall: adl`` (its positions taken by the opposite positions in the rulebook's ranking order,
   each taker reduced at that price and its loss booked: :mod:`.forecast_adl`) or by the backstop, or the
   rest is spread under ``socialized``; each account's fills then move the marks by their permanent impact.
   With ``round`` orders each instrument and side is one order of the round's summed units, who goes to
   the market settled over a few passes of the round's fills (:data:`TAKEOVER_PASSES`), the marks moved
   once at the round's end.
4. **Prices worked again where pools change.** A pool closed in part has its liquidation prices worked
   again at the round's new marks with its new sizes (the book's own solver on those pools alone,
   :func:`~crossmargin.sim.forecast_pools.liquidation_prices`): a further fall liquidates it again, as the
   exact path does, a little at a time. After the first round, so are those of every pool the shock moved
   (a position on the shocked instruments, or a balance of the shocked asset) that holds a position it did
   not move: their prices for those positions were solved with the shocked marks held at the book's.
5. **Repeat** with the moved marks until a round liquidates nobody (the fixed point: no new crossing) or
   ``rounds`` rounds (the engine loop's ``cascade_rounds``, 100, by default). The pools auto-deleveraging
   reached are valued again and have their prices worked again, as step 4.

What it holds fixed, and so where it departs from the exact path:

- **Liquidation prices hold everything else.** A position is crossed when its own instrument's mark reaches
  its price, computed with every other price held, as the liquidation map reads it (worked again only as
  step 4 says): a pool whose other marks the cascade moved against it (two instruments' liquidations
  pushing on one account) is found only when one of its own prices is reached. Where the rulebook solves
  liquidation prices with the whole underlying moving (``liquidation_price_moves: underlying``), an
  instrument-only shock reads prices that assume the underlying's other instruments and collateral move
  with it; the other way round, prices solved for the instrument alone do not see an underlying shock's
  move of the collateral. The pool is valued at the round's real marks before it is liquidated.
- **Auto-deleveraging** takes at the ranking of float figures at the pinned marks (:mod:`.forecast_adl`; a
  taker left with part of its position scored again, as the engine scores it; ``random`` by account id) and
  the takers are liquidated, if at all, from the next round, as the engine loop screens them.
- **Closes in closed form** (:mod:`.forecast_sizing`): requirements proportional to what is left, no size
  steps; the ``fill_price`` rule is read as ``market`` (a ``fillable`` limit and a ``bankruptcy`` settlement
  are not followed); a pool is sized at the round's marks, not at the mark the accounts before it left.
- **Fills** (:mod:`.forecast_fills`): ``account`` orders sample each round's quotes on a grid and scale them
  with the mark; a pool the depth could not fill whole keeps the rest until its prices are reached again.

The checks against the stress runner on the same book and an instantaneous shock, and the tolerances they
measure: :mod:`crossmargin.sim.forecast_check` and docs/forecast.md.

Units: marks and prices in mark units (settle units per underlying; quote units per coin for an inverse
contract), money in the book's base currency, moves as fractions of the price.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_pools import cross_pools, due_pools
from crossmargin.engine.liquidation_prices import LiquidationPrices, MoveArrays, book_liquidation_prices, move_arrays
from crossmargin.engine.risk_requirements import slots_by_pool
from crossmargin.engine.rule_arrays import B1, F64, I64, MarketArrays
from crossmargin.liquidation.liquidity import AtMark, LiquidityModel
from crossmargin.live.loop import CASCADE_ROUNDS
from crossmargin.margin.account import solver_follows
from crossmargin.model import InputError
from crossmargin.model.rules import LiquidationTerms, Shortfall
from crossmargin.sim.forecast_adl import Ledger, Queues, by_account, queues, scores
from crossmargin.sim.forecast_fills import (
    Closes,
    Orders,
    PositionArrays,
    Quotes,
    Relative,
    TurnPools,
    Turns,
    account_order,
    fill_round,
    in_turn,
    relative_quotes,
)
from crossmargin.sim.forecast_pools import (
    Holdings,
    PoolValues,
    liquidation_prices,
    summed,
    unrealized_pnl,
    value_pools,
)
from crossmargin.sim.forecast_sizing import cover, fee_rate, fund_share, plan_closes, settled
from crossmargin.sim.forecast_sweep import Crossings, Sweep

__all__ = [
    "TAKEOVER_PASSES", "Liquidated", "MoveForecast", "Orders", "Prepared", "Round", "Shock", "forecast",
    "forecast_move", "open_notional", "prepare", "shock_of",
]  # fmt: skip


@dataclass(frozen=True)
class Shock:
    """What a move moves: the ``target`` as named, the ``instruments`` whose marks move (indices into the
    book's instruments), the ``asset`` whose index price moves with them (an index into the book's assets;
    None: an instrument alone, or an underlying the book holds no price of) and the ``reference`` instrument
    whose mark a forecast reports as its price (the named instrument; for an underlying, its instrument with
    the largest open notional)."""

    target: str
    instruments: tuple[int, ...]
    asset: int | None
    reference: int


def open_notional(book: RiskBook) -> F64:
    """Each instrument's open notional at its mark, longs and shorts added (base currency)."""
    used = book.pool >= 0
    i = book.instrument[used].astype(np.int64)
    t = book.instruments
    units = np.abs(book.size[used]) * t.contract_size[i]
    marks = book.marks[i]
    value = np.where(t.inverse[i], units / marks, units * marks) * book.prices[t.settle[i]]
    return summed(i, value, len(t.names))


def shock_of(book: RiskBook, target: str | None) -> Shock:
    """The shock of ``target``: an instrument of the book or an underlying of one of its instruments; None
    names the underlying of the instrument with the largest open notional. An unknown name is refused
    (``instrument``)."""
    names = book.instruments.names
    marked = [i for i, name in enumerate(names) if name in book.market.marks]
    if not marked:
        raise InputError("instrument", "the book has no marked instrument to move")
    notional = open_notional(book)
    if target is None:
        target = book.instrument_table[names[max(marked, key=lambda i: (notional[i], -i))]].underlying
    if target in names and names.index(target) in marked:
        i = names.index(target)
        return Shock(target, (i,), None, i)
    moved = tuple(i for i in marked if book.instrument_table[names[i]].underlying == target)
    if not moved:
        known = ", ".join(
            sorted({*(names[i] for i in marked), *(book.instrument_table[names[i]].underlying for i in marked)})
        )
        raise InputError(
            "instrument", f"{target!r} is neither an instrument nor an underlying of the book (known: {known})"
        )
    asset = book.assets.names.index(target) if target in book.asset_table and target in book.market.prices else None
    return Shock(target, moved, asset, max(moved, key=lambda i: (notional[i], -i)))


@dataclass(frozen=True)
class Prepared:
    """A book made ready for any number of moves (:func:`prepare`): every position's liquidation price
    (``prices``) and their sorted sweep (``crossings``), what moves with each instrument when a price is
    solved (``moves``), each pool's account (``cross``: its cross pool), the pools ``due`` before any move,
    the slots by pool (``first``, ``order``), each instrument's liquidity (``models``, by index), the
    liquidation terms, the insurance fund at the start (base currency), each pool's account's place by id
    (``rank``: the order the engine takes due accounts in, and breaks ADL ties by) and, where the terms
    deleverage, the open positions in the deleveraging queues' segments by that place (``adl_order``:
    :func:`~crossmargin.sim.forecast_adl.by_account`; every move's queues start from it)."""

    book: RiskBook
    prices: LiquidationPrices
    crossings: Crossings
    moves: MoveArrays
    cross: I64
    due: I64
    first: I64
    order: I64
    models: tuple[LiquidityModel, ...]
    terms: LiquidationTerms
    insurance_fund: float
    rank: I64
    adl_order: I64 | None


def prepare(
    book: RiskBook,
    terms: LiquidationTerms,
    liquidity: Mapping[str, LiquidityModel],
    insurance_fund: float,
    prices: LiquidationPrices | None = None,
) -> Prepared:
    """``book`` made ready for forecasts: its liquidation prices (given, or computed now: the long part, some
    1.4 s at a million accounts), sorted; ``liquidity`` by instrument (an instrument without a model fills
    at the mark). A rulebook whose liquidation prices the solver does not follow (a scenario grid, a VaR
    floor, volatility scaling) is refused (``rulebook``): the forecast would find no crossing."""
    if not solver_follows(book.rules):
        raise InputError("rulebook", "its requirement is not solved for liquidation prices (a scenario grid, a VaR "
                         "floor or volatility scaling): nothing to forecast from")  # fmt: skip
    priced = book_liquidation_prices(book) if prices is None else prices
    first, order = slots_by_pool(book.pool, book.pool_count)
    models = tuple(liquidity.get(name, AtMark()) for name in book.instruments.names)
    cross = cross_pools(book)
    accounts = np.flatnonzero(book.haircut[: book.pool_count])  # the cross pools, one an account
    by_id = np.zeros(book.pool_count, dtype=np.int64)
    by_id[accounts] = account_order([book.owners[int(p)].account for p in accounts])
    rank = by_id[cross]
    adl_order = None
    if terms.shortfall is Shortfall.ADL:
        pool = book.pool.astype(np.int64)
        held = np.flatnonzero((pool >= 0) & (book.size != 0.0))
        adl_order = by_account(held, book.instrument.astype(np.int64), book.size > 0.0, rank[pool.clip(min=0)])
    return Prepared(
        book, priced, Crossings(priced, book.marks), move_arrays(book), cross, due_pools(book), first, order, models,
        terms, float(insurance_fund), rank, adl_order,
    )  # fmt: skip


def _distinct(count: int, *parts: I64) -> I64:
    """The pools in any of ``parts`` (indices below ``count``), each once, ascending: a mark per pool of the book,
    cheaper than sorting the parts once they are large."""
    marked = np.zeros(count, dtype=np.bool_)
    for part in parts:
        marked[part] = True
    return np.flatnonzero(marked).astype(np.int64)


class Liquidated(NamedTuple):
    """Every pool a forecast liquidated, round by round: its ``pool`` (index in the book), its ``account``
    (the account's cross pool), the ``round`` (from 1), the ``trigger`` (the slot whose liquidation price was
    crossed; -1: due before any move), its liquidated ``notional`` and its ``shortfall`` (base currency).
    Per-account time to liquidation attaches here: a trigger's liquidation price over its instrument's book
    mark, less one, is the move of that mark that liquidates the account, what a first-passage model
    (margin/first_passage.py) turns into a time."""

    pool: I64
    account: I64
    round: I64
    trigger: I64
    notional: F64
    shortfall: F64


@dataclass(frozen=True)
class Round:
    """One round of a cascade: the reference ``price`` its crossings were found at, every moved instrument's
    mark after its fills (``marks``, by name), what it liquidated (``positions``, ``accounts``: accounts
    with a pool liquidated, ``notional``: at the fill price, base currency) and the ``shortfall`` of its
    bankrupt pools (base currency)."""

    number: int
    price: float
    marks: Mapping[str, float]
    positions: int
    accounts: int
    notional: float
    shortfall: float


@dataclass(frozen=True)
class MoveForecast:
    """The cascade of one move (fraction of the price): the reference instrument's mark before and after the
    shock and at the end (``final_price``; ``final_marks``: every instrument whose mark moved), the rounds,
    ``converged`` (a round liquidated nobody, rather than the limit ending it), and the totals, base
    currency: ``liquidated_notional`` (at the fill prices; a taken-over pool's at its bankruptcy price),
    ``liquidated_size`` (the same contracts at the book's marks and prices before the shock: how much open
    interest the cascade closes, in today's money), ``positions`` (distinct positions closed, wholly or in
    part) and ``accounts`` liquidated, ``slippage`` (cost of the fills against the marks, >= 0), ``fees``, the
    bankrupt pools' ``shortfall`` (the bad debt before anyone pays it), the insurance fund's
    ``insurance_fund_draw`` (its fee income not counted against it), what went ``beyond_fund`` (to
    auto-deleveraging, the backstop or spread, by the terms' ``shortfall``: ``shortfall_rule``), and the fund
    at the start and end (fee income in, draws out)."""

    move: float
    instrument: str
    start_price: float
    shocked_price: float
    final_price: float
    final_marks: Mapping[str, float]
    rounds: tuple[Round, ...]
    converged: bool
    liquidated_notional: float
    liquidated_size: float
    positions: int
    accounts: int
    slippage: float
    fees: float
    shortfall: float
    insurance_fund_draw: float
    beyond_fund: float
    shortfall_rule: str
    insurance_fund_start: float
    insurance_fund_end: float
    liquidated: Liquidated


def _subset(values: PoolValues, keep: B1) -> PoolValues:
    """The pools of ``values`` where ``keep``, their positions with them (owners renumbered)."""
    index = np.cumsum(keep) - 1
    mine = keep[values.owner]
    return PoolValues(
        values.equity[keep], values.maintenance[keep], values.net_value[keep], values.liquidatable[keep],
        values.slots[mine], index[values.owner[mine]], values.position_mm[mine], values.notional[mine],
        values.counted[mine],
    )  # fmt: skip


@dataclass(frozen=True)
class _Fills:
    """A round's closes at their fills, per position of the valued pools: the ``share`` closed (after the
    depth), its ``notional`` at the fill price, its ``slippage`` (PnL at the fill less at the round's mark) and
    ``drift`` (the whole position's PnL at the mark its order met less at the round's: what the accounts
    liquidated before it moved), base currency; and the ``marks`` after."""

    share: F64
    notional: F64
    slippage: F64
    drift: F64
    marks: F64


TAKEOVER_PASSES = 4
"""Passes of a round's fills at most: with ``round`` orders each decides again who goes to the market (the
insurance fund paying, or taken over off it) with the slippage the last pass priced, and the summed orders
settle in two or three; with ``account`` orders two, to size the closes with a fill's slippage, the turns
deciding the rest."""


class _Cascade:
    """One move's cascade in progress (module doc): the forecast's own marks, prices and sizes, the sweep, and
    what it has liquidated so far."""

    def __init__(self, prepared: Prepared, shock: Shock, move: float, orders: Orders) -> None:
        book = prepared.book
        self.prepared, self.shock, self.orders = prepared, shock, orders
        self.book, self.terms = book, prepared.terms
        self.t = book.rule_arrays.instruments
        self.marks0 = book.marks.copy()
        self.marks = book.marks.copy()
        self.prices = book.prices.copy()
        for i in shock.instruments:
            self.marks[i] *= 1.0 + move
        if shock.asset is not None:
            self.prices[shock.asset] *= 1.0 + move
        self.low, self.high = np.minimum(self.marks0, self.marks), np.maximum(self.marks0, self.marks)
        self.balance = book.balance.copy()
        self.holdings = Holdings(
            book.size.copy(), book.entry, book.instrument, book.bracket.copy(), self.balance, book.haircut,
            prepared.first, prepared.order,
        )  # fmt: skip
        count = book.pool_count
        self.ledger = Ledger(
            self.holdings.size, book.entry, book.instrument.astype(np.int64), book.pool.astype(np.int64),
            self.balance, prepared.rank, np.zeros(count, dtype=np.bool_), np.zeros(count),
        )  # fmt: skip
        self.queues: Queues | None = None
        self.shocked_size, self.shocked_balance, self.shocked_marks = book.size, book.balance, self.marks.copy()
        self.threshold = float(book.rules.liquidation_threshold)
        self.sweep = Sweep(prepared.crossings)
        self.closed_out = np.zeros(book.pool_count, dtype=np.bool_)
        self.trigger = np.full(book.pool_count, -1, dtype=np.int64)
        self.waiting = np.zeros(0, dtype=np.int64)
        self.fund = prepared.insurance_fund
        self.closed = np.zeros(len(book.size), dtype=np.bool_)
        self.accounts: set[int] = set()
        self.rounds: list[Round] = []
        self.logged: list[tuple[I64, I64, I64, F64, F64]] = []
        self.totals = dict.fromkeys(("notional", "size", "slippage", "fees", "draw", "beyond"), 0.0)

    def market(self) -> MarketArrays:
        """The book's market arrays at the forecast's marks and prices."""
        return self.book.market_arrays._replace(marks=self.marks, prices=self.prices)

    def run(self, rounds: int) -> bool:
        """Rounds until one liquidates nobody (True) or ``rounds`` of them (False)."""
        for number in range(1, rounds + 1):
            candidates = self._candidates(number)
            if not len(candidates):
                return True
            values = value_pools(candidates, self.holdings, self.market(), self.book.rule_arrays)
            due = values.liquidatable & (np.bincount(values.owner, minlength=len(candidates)) > 0)
            self.waiting = candidates[~due]
            if not due.any():
                return True
            changed = self._liquidate(number, candidates[due], _subset(values, due))
            if number == 1:  # the pools the shock moved worked again with those the round changed, once each
                exposed = self._exposed()
                also = np.ones(self.book.pool_count, dtype=np.bool_)
                also[exposed] = False
                changed = np.concatenate([changed[also[changed]], exposed])
            self._restate(changed)
        return False

    def _candidates(self, number: int) -> I64:
        """The pools to value this round: newly crossed, waiting, and (first round) due before any move."""
        crossed = self.sweep.crossed(self.low, self.high, self.marks)
        count = self.book.pool_count
        pools, at = np.unique(self.book.pool[crossed].astype(np.int64), return_index=True)  # at: first crossed
        self.trigger[pools] = crossed[at]
        due = self.prepared.due if number == 1 else pools[:0]
        found = _distinct(count, pools, self.waiting, due)
        return found[~self.closed_out[found]]

    def _exposed(self) -> I64:
        """The pools still open that the shock moved (a position in a shocked instrument, or a balance of the
        shocked asset) and that hold a position it did not move: their liquidation prices were solved with
        the shocked marks held, so they are worked again once, after the first round."""
        book, holdings = self.book, self.holdings
        used = (book.pool >= 0) & (holdings.size != 0.0)
        pool = book.pool[used].astype(np.int64)
        shocked = np.isin(holdings.instrument[used], self.shock.instruments)
        count = book.pool_count
        moved = summed(pool, shocked, count) > 0
        if self.shock.asset is not None:
            moved |= book.balance[self.shock.asset, :count] != 0.0
        other = summed(pool, ~shocked, count) > 0
        return np.flatnonzero(moved & other & ~self.closed_out).astype(np.int64)

    def _restate(self, pools: I64) -> None:
        """Work the liquidation prices of ``pools`` again at the current marks and sizes (a pool found
        liquidatable there waits for the next round)."""
        if not len(pools):
            return
        rules = self.book.rule_arrays
        slots, price, due = liquidation_prices(pools, self.holdings, self.market(), rules, self.prepared.moves)
        instrument = self.holdings.instrument[slots].astype(np.int64)
        self.sweep.restate(slots, price, instrument, self.marks)
        self.waiting = _distinct(self.book.pool_count, self.waiting, pools[due])

    def _closes(self, values: PoolValues, share: F64, account: I64, skip: B1) -> tuple[Closes, B1]:
        """The orders closing ``share`` of the positions of ``values`` (``skip``: taken over, off the market),
        ``account``: each pool's place in the accounts' order; and which positions they close."""
        t, holdings, slots = self.t, self.holdings, values.slots
        i = holdings.instrument[slots].astype(np.int64)
        q = holdings.size[slots] * np.where(skip, 0.0, share)
        units = np.abs(q) * t.contract_size[i] / np.where(t.inverse[i], self.marks[i], 1.0)
        going = units > 0.0
        return Closes(i[going], q[going] > 0.0, units[going], account[values.owner[going]]), going

    def _filled(self, values: PoolValues, share: F64, going: B1, price: F64, met: F64, done: F64, marks: F64) -> _Fills:
        """The fills of the positions ``going`` to the market (``share`` of each closed, ``done`` of that
        filled, at ``price`` from the mark it ``met``), the ``marks`` after."""
        t, holdings, slots = self.t, self.holdings, values.slots
        i = holdings.instrument[slots].astype(np.int64)
        c, inverse, mark, entry = t.contract_size[i], t.inverse[i], self.marks[i], holdings.entry[slots]
        at_price, at_met = mark.copy(), mark.copy()
        at_price[going], at_met[going] = price, met
        filled = np.zeros(len(slots))
        filled[going] = share[going] * done
        size = holdings.size[slots]
        closed = size * filled
        settle = self.prices[t.settle[i]]
        notional = np.where(inverse, np.abs(closed) * c / at_price, np.abs(closed) * c * at_price) * settle
        slip = unrealized_pnl(closed, c, entry, at_price, inverse) - unrealized_pnl(closed, c, entry, mark, inverse)
        drift = unrealized_pnl(size, c, entry, at_met, inverse) - unrealized_pnl(size, c, entry, mark, inverse)
        return _Fills(filled, notional, slip * settle, drift * settle, marks)

    def _positions(self, values: PoolValues, closed: F64) -> PositionArrays:
        """The positions of ``values`` as :func:`~crossmargin.sim.forecast_fills.in_turn` takes them, the share
        ``closed`` of each (after the depth)."""
        t, holdings, slots = self.t, self.holdings, values.slots
        i = holdings.instrument[slots].astype(np.int64)
        size = holdings.size[slots]
        return PositionArrays(
            slots, i, size, size * closed, t.contract_size[i], t.inverse[i], holdings.entry[slots],
            self.prices[t.settle[i]],
        )  # fmt: skip

    def _fills(self, values: PoolValues, share: F64, account: I64, skip: B1, quotes: Quotes) -> _Fills:
        """The closes ``share`` of the positions of ``values`` filled all at once (``skip``: positions taken
        over, off the market; ``quotes``: the round's so far)."""
        closes, going = self._closes(values, share, account, skip)
        filled = fill_round(closes, self.prepared.models, self.marks, self.orders, quotes)
        return self._filled(values, share, going, filled.price, filled.met, filled.share, filled.marks)

    def _balances_after(self, values: PoolValues, pools: I64, filled: _Fills) -> tuple[F64, F64]:
        """Per pool, its negative and its positive balances at full price (base currency, each >= 0) once each
        position's closed share has realized its PnL at its fill price into its settle asset."""
        t, slots = self.t, values.slots
        i = self.holdings.instrument[slots].astype(np.int64)
        settle = t.settle[i].astype(np.int64)
        closed = self.holdings.size[slots] * filled.share
        realized = unrealized_pnl(closed, t.contract_size[i], self.holdings.entry[slots], self.marks[i], t.inverse[i])
        realized += filled.slippage / self.prices[settle]
        amounts = self.balance.take(pools, axis=1)
        np.add.at(amounts, (settle, values.owner), realized)
        valued = amounts * self.prices[:, None]
        return np.maximum(-valued, 0.0).sum(axis=0), np.maximum(valued, 0.0).sum(axis=0)

    def _liquidate(self, number: int, pools: I64, values: PoolValues) -> I64:
        """Liquidate the due ``pools`` (valued: ``values``) at this round's marks (module doc, step 3); the pools
        whose prices are to be worked again (:meth:`_settle_round`)."""
        book, terms, holdings = self.book, self.terms, self.holdings
        rank = self.prepared.rank[pools]
        order = np.lexsort((pools, rank))
        slots = values.slots
        n = len(pools)
        instrument = holdings.instrument[slots].astype(np.int64)
        long = holdings.size[slots] > 0.0
        owed = -(self.balance.take(pools, axis=1).clip(max=0.0).T @ self.prices)
        rate = fee_rate(terms)
        cross = book.haircut[pools]
        quotes = Quotes()
        # Who goes to the market depends on the fills' slippage, which depends on who goes there: passes of the
        # round's fills, from the pools bankrupt at the mark beyond the fund, each deciding again; with account
        # orders the turns below decide, pool by pool, and the passes only size the closes with a fill's
        # slippage and price their charges.
        taken = np.empty(n, dtype=np.bool_)
        taken[order] = cover(np.maximum(-values.net_value, 0.0)[order], np.zeros(n), self.fund, terms).taken_over
        cost = np.full(len(slots), rate)
        for attempt in range(TAKEOVER_PASSES):
            skip = taken[values.owner]
            plan = plan_closes(values, terms, self.threshold, cost, owed, instrument, long)
            filled = self._fills(values, plan.share, rank, skip, quotes)
            closing = values.notional * plan.share
            with np.errstate(divide="ignore", invalid="ignore"):
                cost = rate + np.where(closing > 0.0, np.maximum(-filled.slippage, 0.0) / closing, 0.0)
            owed_after, held = self._balances_after(values, pools, filled)
            left = settled(values, terms, filled.notional, filled.slippage, plan.full, owed_after, held, cross)
            short_at_turn = np.maximum(-(values.net_value + summed(values.owner, filled.drift, n)), 0.0)
            fund = self.fund + float(left.fees[~taken].sum()) * fund_share(terms)
            paid = cover(np.where(taken, short_at_turn, left.shortfall)[order], short_at_turn[order], fund, terms)
            again = np.empty(n, dtype=np.bool_)
            again[order] = paid.taken_over
            if attempt and (self.orders is Orders.ACCOUNT or np.array_equal(again, taken)):
                break
            taken = again
        else:  # the passes ran out: filled once more as last decided
            filled = self._fills(values, plan.share, rank, taken[values.owner], quotes)
        if self.orders is Orders.ACCOUNT:  # each pool meets the marks the accounts before it left
            orders_out, going = self._closes(values, plan.share, rank, np.zeros(len(slots), dtype=np.bool_))
            quoted = relative_quotes(orders_out, self.prepared.models, self.marks, quotes)
            relative = Relative(np.ones(len(slots)), np.zeros(len(slots)), np.zeros(len(slots)))
            for whole, part in zip(relative, (quoted.average, quoted.share, quoted.move), strict=True):
                whole[going] = part
            share = plan.share * relative.share
        else:  # the round's summed orders' fills, the marks moved once at the end
            share = filled.share
            with np.errstate(divide="ignore", invalid="ignore"):
                average = np.where(filled.notional > 0.0, self._prices_of(values, filled) / self.marks[instrument], 1.0)
            relative = Relative(average, np.ones(len(slots)), np.zeros(len(slots)))
        first = np.searchsorted(values.owner, np.arange(n + 1))
        lead = np.empty(n, dtype=np.int64)
        ranked = np.lexsort((~long, instrument, -values.position_mm, values.owner))
        lead[values.owner[ranked][::-1]] = ranked[::-1]  # each pool's largest maintenance margin
        charges = values.net_value + left.slippage - left.net_value
        turn = TurnPools(order, rank, pools, first[:-1], first[1:], lead, values.net_value, charges,
                         left.fees * fund_share(terms))  # fmt: skip
        self._queues_for(float(np.maximum(left.shortfall, np.maximum(-values.net_value, 0.0)).sum()) > self.fund)
        self.ledger.shift[:] = 0.0
        turns = in_turn(
            turn, self._positions(values, share), relative, self.fund, terms.shortfall is Shortfall.SOCIALIZED,
            self.marks, self.queues, self.ledger, self.t, self.prices,
        )  # fmt: skip
        self.fund = turns.fund
        marks = turns.marks if self.orders is Orders.ACCOUNT else filled.marks
        return self._settle_round(number, pools, values, np.where(turns.taken_over, 0.0, left.fees), turns, marks)

    def _prices_of(self, values: PoolValues, filled: _Fills) -> F64:
        """The average fill price of each position of ``values`` that ``filled`` closed (mark units)."""
        t, slots = self.t, values.slots
        i = self.holdings.instrument[slots].astype(np.int64)
        units = np.abs(self.holdings.size[slots] * filled.share) * t.contract_size[i]
        settle = self.prices[t.settle[i]]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t.inverse[i], units * settle / filled.notional, filled.notional / (units * settle))

    def _queues_for(self, needed: bool) -> None:
        """The auto-deleveraging queues, ranked at the shocked market when first ``needed`` in the move (the
        engine pins the market it ranks at at the event's start), where the terms deleverage; each pool's net
        value there with what it holds now, for the takers scored again."""
        if self.queues is not None or not needed or self.terms.shortfall is not Shortfall.ADL:
            return
        book, ledger = self.book, self.ledger
        score = scores(
            self.terms.adl_ranking, self.shocked_size, ledger.entry, ledger.instrument, ledger.pool.clip(min=0),
            self.shocked_balance, self.t, self.shocked_marks, self.prices,
        )  # fmt: skip
        score = np.where((ledger.pool >= 0) & (self.shocked_size != 0.0), score, -np.inf)
        rank = self.prepared.rank[ledger.pool.clip(min=0)]
        held = (ledger.pool >= 0) & (ledger.size != 0.0)
        pnl = unrealized_pnl(ledger.size, self.t.contract_size[ledger.instrument], ledger.entry,
                             self.shocked_marks[ledger.instrument], self.t.inverse[ledger.instrument])  # fmt: skip
        pnl = np.where(held, pnl * self.prices[self.t.settle[ledger.instrument]], 0.0)
        count = book.pool_count
        net = ledger.balance[:, :count].T @ self.prices + summed(ledger.pool.clip(min=0), pnl, count)
        self.queues = queues(
            score, ledger.instrument, self.shocked_size > 0.0, rank, len(book.instruments.names),
            self.terms.adl_ranking, self.shocked_marks, net, self.prepared.adl_order,
        )  # fmt: skip

    def _settle_round(self, number: int, pools: I64, values: PoolValues, fees: F64, turns: Turns, marks: F64) -> I64:
        """Book what the round's turns did (``fees``: each pool's): positions closed (the PnL of what went to the
        market realized at its fill price into the pool's settle balance, as the ledger books a fill), notional,
        shortfall and who paid it, the pools closed out, the marks; the pools whose prices are to be worked again
        (those it changed and left open, and the takers auto-deleveraging reached)."""
        book, t, slots = self.book, self.t, values.slots
        i = self.holdings.instrument[slots].astype(np.int64)
        c, inverse, entry = t.contract_size[i], t.inverse[i], self.holdings.entry[slots]
        settle = self.prices[t.settle[i]]
        closed = turns.closed
        units = np.abs(closed) * c
        notional = np.where(inverse, units / turns.price, units * turns.price) * settle
        market = ~turns.taken_over[values.owner]
        slip = unrealized_pnl(closed, c, entry, turns.price, inverse) - unrealized_pnl(
            closed, c, entry, turns.met, inverse
        )
        market_closed = np.where(market, closed, 0.0)  # its PnL at the fill price realized into the settle asset
        realized = unrealized_pnl(market_closed, c, entry, turns.price, inverse)
        np.add.at(self.balance, (t.settle[i].astype(np.int64), pools[values.owner]), realized)
        closes = closed != 0.0
        self.closed[slots[closes]] = True
        liquidated = summed(values.owner, closes, len(pools)) > 0
        left_open = summed(values.owner, self.holdings.size[slots] != 0.0, len(pools)) > 0
        self.closed_out[pools[liquidated & ~left_open]] = True
        lost = turns.draw + turns.beyond
        chosen = pools[liquidated]
        pool_notional = summed(values.owner, notional, len(pools))
        self.logged.append(
            (chosen, np.full(len(chosen), number, dtype=np.int64), self.trigger[chosen], pool_notional[liquidated],
             lost[liquidated])
        )  # fmt: skip
        round_accounts = set(self.prepared.cross[chosen].tolist())
        self.accounts |= round_accounts
        totals = self.totals
        totals["notional"] += float(notional.sum())
        today = np.where(inverse, units / self.marks0[i], units * self.marks0[i]) * book.prices[t.settle[i]]
        totals["size"] += float(today.sum())
        totals["slippage"] -= float((np.where(market, slip, 0.0) * settle).sum())
        totals["fees"] += float(fees.sum())
        totals["draw"] += float(turns.draw.sum())
        totals["beyond"] += float(turns.beyond.sum())
        price = float(self.marks[self.shock.reference])
        self.marks = marks
        self.low, self.high = np.minimum(self.low, self.marks), np.maximum(self.high, self.marks)
        names = book.instruments.names
        moved = {names[k]: float(self.marks[k]) for k in np.flatnonzero(self.marks != self.marks0)}
        self.rounds.append(
            Round(
                number, price, moved, int(closes.sum()), len(round_accounts), float(notional.sum()), float(lost.sum())
            )
        )
        takers = np.flatnonzero(self.ledger.touched)
        self.ledger.touched[:] = False
        return _distinct(book.pool_count, pools[liquidated & left_open], takers[~self.closed_out[takers]])

    def result(self, move: float, converged: bool) -> MoveForecast:
        """The forecast of the cascade so far."""
        book, ref = self.book, self.shock.reference
        names = book.instruments.names
        logged = self.logged
        chosen = np.concatenate([np.zeros(0, dtype=np.int64), *(item[0] for item in logged)])
        totals = self.totals
        shocked = self.marks0[ref] * (1.0 + move) if ref in self.shock.instruments else self.marks0[ref]
        return MoveForecast(
            move=move, instrument=names[ref], start_price=float(self.marks0[ref]), shocked_price=float(shocked),
            final_price=float(self.marks[ref]),
            final_marks={names[k]: float(self.marks[k]) for k in np.flatnonzero(self.marks != self.marks0)},
            rounds=tuple(self.rounds), converged=converged, liquidated_notional=totals["notional"],
            liquidated_size=totals["size"],
            positions=int(self.closed.sum()), accounts=len(self.accounts), slippage=totals["slippage"],
            fees=totals["fees"], shortfall=totals["draw"] + totals["beyond"], insurance_fund_draw=totals["draw"],
            beyond_fund=totals["beyond"], shortfall_rule=str(self.terms.shortfall),
            insurance_fund_start=self.prepared.insurance_fund, insurance_fund_end=self.fund,
            liquidated=Liquidated(
                chosen, self.prepared.cross[chosen],
                np.concatenate([np.zeros(0, dtype=np.int64), *(item[1] for item in logged)]),
                np.concatenate([np.zeros(0, dtype=np.int64), *(item[2] for item in logged)]),
                np.concatenate([np.zeros(0), *(item[3] for item in logged)]),
                np.concatenate([np.zeros(0), *(item[4] for item in logged)]),
            ),
        )  # fmt: skip


def forecast_move(
    prepared: Prepared, shock: Shock, move: float, orders: Orders = Orders.ACCOUNT, rounds: int = CASCADE_ROUNDS
) -> MoveForecast:
    """The cascade after ``shock`` moves its target by ``move`` (> -1), to its fixed point or ``rounds`` rounds
    (module doc)."""
    if not move > -1.0:
        raise InputError("moves", f"a move must be above -1 (a price stays positive), got {move}")
    cascade = _Cascade(prepared, shock, move, orders)
    return cascade.result(move, cascade.run(rounds))


def forecast(
    prepared: Prepared,
    shock: Shock,
    moves: Sequence[float],
    orders: Orders = Orders.ACCOUNT,
    rounds: int = CASCADE_ROUNDS,
    advance: Callable[[int, int], None] | None = None,
) -> tuple[MoveForecast, ...]:
    """:func:`forecast_move` for each of ``moves`` in turn, from the same prepared book (``advance(done,
    total)`` after each)."""
    found = []
    for n, move in enumerate(moves, start=1):
        found.append(forecast_move(prepared, shock, move, orders, rounds))
        if advance is not None:
            advance(n, len(moves))
    return tuple(found)
