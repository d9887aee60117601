"""Auto-deleveraging in a forecast: who takes a bankrupt position, and what taking it does to them
(:mod:`crossmargin.sim.forecast`).

When the insurance fund cannot pay a bankrupt pool's shortfall under ``shortfall: adl``, the liquidation
engine closes each of its positions at the pool's bankruptcy price against the opposite positions in ranking
order (:mod:`crossmargin.liquidation.ranking`): each taker's position is reduced by what it takes, at that
price, and the difference to the mark is its loss. A taker so weakened (its hedge gone, its equity down) can
be liquidated in turn: on a large book these second liquidations are as many as the first.

The queues (:func:`queues`): every open position ranked once a move, as the engine pins its ranking at the
start of an event (after its prices, before its first liquidation), by the rulebook's ``adl_ranking`` on
float figures at the shocked marks and prices (:func:`scores`): ``profit_x_leverage`` and ``leverage_pnl``
(PnL over entry notional, times the leverage of the position's pool (notional over the pool's net value) in
profit, divided by it at a loss), Hyperliquid's ``mark_over_entry_x_notional_over_account_value``, Drift's
``pro_rata_base_size``; a pool with no positive net value last; ties by account id. ``random`` (dYdX) hashes
the engine's event count, which a forecast does not have: its queue is by account id. Sizes are the current
ones as the queue is walked (:func:`deleverage`), as the engine's are.

Money in base currency, sizes in contracts (positive long), prices in mark units.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from crossmargin.engine import terms
from crossmargin.engine.rule_arrays import B1, F64, I64, InstrumentArrays
from crossmargin.sim.forecast_pools import summed, unrealized_pnl

LAST = -1e30
"""The score of a position whose pool has no positive net value: ranked last, as the engine ranks it."""


def scores(ranking: str, size: F64, entry: F64, instrument: I64, pool: I64, balance: F64, t: InstrumentArrays,
           marks: F64, prices: F64) -> F64:  # fmt: skip
    """Each position's ADL score under ``ranking`` (module doc) at ``marks`` and ``prices``: ``size``,
    ``entry``, ``instrument`` and ``pool`` per position (open ones: size not 0), ``balance`` per asset and
    pool (asset units)."""
    c, inverse, mark = t.contract_size[instrument], t.inverse[instrument], marks[instrument]
    settle = prices[t.settle[instrument]]
    units = np.abs(size) * c
    notional = np.where(inverse, units / mark, units * mark) * settle
    entry_notional = np.where(inverse, units / entry, units * entry) * settle
    pnl = unrealized_pnl(size, c, entry, mark, inverse) * settle
    net = (balance.T @ prices + summed(pool, pnl, balance.shape[1]))[pool]
    if ranking == "pro_rata_base_size":
        return np.abs(size)
    if ranking == "random":
        return np.zeros(len(size))
    with np.errstate(divide="ignore", invalid="ignore"):
        if ranking == "mark_over_entry_x_notional_over_account_value":
            found = np.where(size > 0.0, mark / entry, entry / mark) * notional / net
        elif ranking in ("profit_x_leverage", "leverage_pnl"):
            ratio, leverage = pnl / entry_notional, notional / net
            found = np.where(ratio >= 0.0, ratio * leverage, ratio / leverage)
        else:
            raise ValueError(f"no ADL ranking {ranking!r}")
    return np.where(net > 0.0, found, LAST)


class Queues(NamedTuple):
    """Every (instrument, side)'s takers in ranking order: ``slot`` (positions), the segment of instrument
    ``i``'s longs ``start[2 i + 1]:start[2 i + 2]``, of its shorts ``start[2 i]:start[2 i + 1]``, and each
    segment's ``head`` (the first position not yet used up; moved as the queue is walked)."""

    slot: I64
    start: I64
    head: I64


def queues(score: F64, instrument: I64, long: B1, rank: I64, count: int) -> Queues:
    """The queues of the positions ``score``d (their ``instrument``, ``long``, and their accounts' ``rank`` by
    id, ties broken by it), ``count`` instruments."""
    segment = 2 * instrument + long.astype(np.int64)
    slot = np.lexsort((rank, -score, segment)).astype(np.int64)
    start = np.searchsorted(segment[slot], np.arange(2 * count + 1)).astype(np.int64)
    return Queues(slot, start, start[:-1].copy())


class Ledger(NamedTuple):
    """The forecast's own positions and balances as auto-deleveraging changes them: per slot ``size``
    (contracts, positive long), ``entry``, ``instrument`` and ``pool``; per asset and pool ``balance``
    (asset units); per pool ``rank`` (its account's place by id), ``touched`` (a position of it was taken)
    and ``shift`` (what the takes did to its net value, base currency)."""

    size: F64
    entry: F64
    instrument: I64
    pool: I64
    balance: F64
    rank: I64
    touched: B1
    shift: F64


@njit(error_model="numpy")
def deleverage(
    contracts: float, i: int, long: bool, price: float, bankrupt: int, mark: float, queue: Queues,
    ledger: Ledger, t: InstrumentArrays, prices: F64,
) -> None:  # fmt: skip
    """``contracts`` (> 0) of a bankrupt ``long`` (else short) position in instrument ``i`` taken at ``price``
    by the opposite positions in ``queue`` order, none of the bankrupt account's (``bankrupt``: its rank):
    each taker's position reduced by what it takes, the PnL of that part at ``price`` realized into its
    pool's settle balance, its pool's net value moved by that part's PnL at ``price`` less at ``mark``."""
    segment = 2 * i + (0 if long else 1)
    k, end = queue.head[segment], queue.start[segment + 1]
    c, inverse, a = t.contract_size[i], t.inverse[i], t.settle[i]
    left = contracts
    while left > 0.0 and k < end:
        j = queue.slot[k]
        held = ledger.size[j]
        p = ledger.pool[j]
        if held == 0.0 or ledger.rank[p] == bankrupt:
            if held == 0.0 and k == queue.head[segment]:
                queue.head[segment] = k + 1
            k += 1
            continue
        part = min(left, abs(held)) * (1.0 if held > 0.0 else -1.0)
        realized = terms.unrealized_pnl(part, c, ledger.entry[j], price, inverse)
        ledger.balance[a, p] += realized
        ledger.shift[p] += (realized - terms.unrealized_pnl(part, c, ledger.entry[j], mark, inverse)) * prices[a]
        ledger.size[j] = held - part
        ledger.touched[p] = True
        left -= abs(part)
        if ledger.size[j] == 0.0 and k == queue.head[segment]:
            queue.head[segment] = k + 1
        k += 1
