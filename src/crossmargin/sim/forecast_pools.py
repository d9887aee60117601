"""Some pools of a risk book valued at a market of the forecast's own: what a liquidation of each starts from
(:mod:`crossmargin.sim.forecast`).

The book values its pools at its own market; a cascade forecast needs the pools it liquidates in a round
valued at that round's marks and prices, with the sizes the forecast has left them, without moving the book.
:func:`value_pools` copies those pools and their positions into a compact book of arrays (pools renumbered
``0 .. n - 1``) and values it with the risk book's own kernels, as the book values a new account: each
position's money (:func:`crossmargin.engine.kernels.revalue_range`: tier brackets, uPnL weights, valuation at
entry), then each balance weighted in a cross pool and at full value in an isolated one
(:func:`~crossmargin.engine.kernels.add_collateral`), or, where the rulebook counts uPnL inside the settle
collateral, each settle asset's balance and counted uPnL weighted together
(:func:`~crossmargin.engine.kernels.evaluate_pools`), and the rulebook's verdict
(:func:`~crossmargin.engine.kernels.decide`). One set of rules: nothing here restates a margin term.

Figures, all float64 in base currency (settle units times the settle asset's price): per pool its
**equity** and **maintenance** margin and the rulebook's verdict on them, and its **net value**: every
balance at full price plus every position's uPnL, what a bankruptcy is measured on (the liquidation
engine's ``net_value``); per position its **maintenance** margin, its **notional** at the mark and its
**counted uPnL** (maintenance side).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from crossmargin.engine import kernels
from crossmargin.engine.kernels import PoolArrays, SlotArrays
from crossmargin.engine.liquidation_prices import MoveArrays, Outcome, price_pools_on_cores
from crossmargin.engine.rule_arrays import B1, F64, I64, INDEX, RuleArrays
from crossmargin.engine.rule_arrays import MarketArrays as Market


class Holdings(NamedTuple):
    """The book's positions and balances as the forecast holds them, in the book's dtypes: per slot ``size``
    (contracts, positive long; the forecast lowers it as it closes positions), ``entry``, ``instrument``,
    ``bracket`` (where a bracket search starts), per asset and pool ``balance`` (asset units), per pool
    ``haircut`` (False: an isolated pool, its margin at full value), and the slots by pool (``first``,
    ``order``: :func:`~crossmargin.engine.risk_requirements.slots_by_pool`)."""

    size: F64
    entry: F64
    instrument: INDEX
    bracket: INDEX
    balance: F64
    haircut: B1
    first: I64
    order: I64


class PoolValues(NamedTuple):
    """What :func:`value_pools` finds, base currency. Per pool of the list (its order): ``equity``,
    ``maintenance``, ``net_value`` and ``liquidatable`` (the rulebook's verdict). Per open position of those
    pools (``slots``: the book's slot of each, pool by pool in the list's order; ``owner``: its pool as an
    index into the list): ``position_mm``, ``notional`` (at the mark) and ``counted`` (counted uPnL,
    maintenance side)."""

    equity: F64
    maintenance: F64
    net_value: F64
    liquidatable: B1
    slots: I64
    owner: I64
    position_mm: F64
    notional: F64
    counted: F64


def gathered(pools: I64, first: I64, order: I64) -> tuple[I64, I64]:
    """The slots of ``pools`` pool by pool (``order[first[p]:first[p + 1]]`` for each ``p`` in turn) and, for
    each, the index in ``pools`` of its pool."""
    counts = first[pools + 1] - first[pools]
    owner = np.repeat(np.arange(len(pools), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    at = first[pools][owner] + np.arange(owner.shape[0], dtype=np.int64) - starts[owner]
    return order[at], owner


def summed(index: INDEX, weights: npt.ArrayLike, count: int) -> F64:
    """``weights`` added up by ``index`` (each below ``count``): ``count`` sums, float64."""
    return np.asarray(np.bincount(index, weights=weights, minlength=count), dtype=np.float64)


def unrealized_pnl(size: F64, contract_size: F64, entry: F64, mark: F64, inverse: B1) -> F64:
    """Positions' uPnL in their settle units at ``mark`` (elementwise): ``q c (mark - entry)`` for a linear
    contract, ``q c (1 / entry - 1 / mark)`` for an inverse one (q contracts, positive long, of size c)."""
    return np.where(inverse, size * contract_size * (1.0 / entry - 1.0 / mark), size * contract_size * (mark - entry))


@dataclass(frozen=True)
class Compact:
    """Some pools of the book copied into a book of their own, renumbered ``0 .. n - 1`` in the list's order
    and valued at a market (:func:`compact`): the book's ``slots`` of their open positions, pool by pool, each
    one's ``owner`` (its pool's place in the list), and the kernels' arrays: ``slot_arrays`` (the positions'
    money cached at the market) and ``pool_arrays`` (``sums``: each pool's figures, base currency, and its
    verdict)."""

    slots: I64
    owner: I64
    slot_arrays: SlotArrays
    pool_arrays: PoolArrays


def compact(pools: I64, holdings: Holdings, market: Market, rules: RuleArrays) -> Compact:
    """``pools`` (distinct pool indices) copied with the sizes of ``holdings`` and valued at ``market`` (the
    book's market arrays with the forecast's marks and prices) by the risk book's kernels (module doc)."""
    slots, owner = gathered(pools, holdings.first, holdings.order)
    open_ = holdings.size[slots] != 0.0
    slots, owner = slots[open_], owner[open_]
    n, k = len(pools), len(slots)
    t, assets, choices = rules.instruments, rules.assets, rules.choices
    slot_arrays = SlotArrays(
        holdings.size[slots], holdings.entry[slots], holdings.instrument[slots], owner.astype(np.int32),
        holdings.bracket[slots], np.zeros((k, 4)),
    )  # fmt: skip
    pool_arrays = PoolArrays(
        holdings.balance.take(pools, axis=1),
        np.zeros((holdings.balance.shape[0] if choices.folded else 0, 4, n)),
        np.ascontiguousarray(holdings.haircut[pools]),
        np.bincount(owner, minlength=n).astype(np.int32),
        np.zeros((n, 4)),
        np.zeros(n, dtype=np.bool_),
    )
    kernels.revalue_range(0, k, -1, n, slot_arrays, pool_arrays, market, t, choices, False)
    holdings.bracket[slots] = slot_arrays.bracket
    every = np.arange(n, dtype=np.int64)
    if choices.folded:
        kernels.on_cores(kernels.evaluate_pools, every, pool_arrays, market.prices, assets, choices)
    else:
        for a in np.flatnonzero(pool_arrays.balance.any(axis=1)):
            kernels.on_cores(kernels.add_collateral, every, int(a), float(market.prices[a]), pool_arrays, assets)
        kernels.on_cores(kernels.decide, every, pool_arrays.sums, pool_arrays, choices)
    return Compact(slots, owner, slot_arrays, pool_arrays)


def value_pools(pools: I64, holdings: Holdings, market: Market, rules: RuleArrays) -> PoolValues:
    """``pools`` (distinct pool indices) valued at ``market`` (the book's market arrays with the forecast's
    marks and prices) with the sizes of ``holdings`` (module doc)."""
    book = compact(pools, holdings, market, rules)
    slots, owner, positions, figures = book.slots, book.owner, book.slot_arrays, book.pool_arrays
    n = len(pools)
    t, folded = rules.instruments, rules.choices.folded
    marks = market.marks[positions.instrument]
    c, inverse = t.contract_size[positions.instrument], t.inverse[positions.instrument]
    price = market.prices[t.settle[positions.instrument]]
    to_base = price if folded else np.ones(len(slots))
    units = np.abs(positions.size) * c
    pnl = unrealized_pnl(positions.size, c, positions.entry, marks, inverse) * price
    net = figures.balance.T @ market.prices + summed(owner, pnl, n)
    return PoolValues(
        equity=figures.sums[:, 0], maintenance=figures.sums[:, 2], net_value=net,
        liquidatable=figures.liquidatable, slots=slots, owner=owner,
        position_mm=positions.cached[:, 2] * to_base, notional=np.where(inverse, units / marks, units * marks) * price,
        counted=positions.cached[:, 0] * to_base,
    )  # fmt: skip


def liquidation_prices(pools: I64, holdings: Holdings, market: Market, rules: RuleArrays, moves: MoveArrays
                       ) -> tuple[I64, F64, B1]:  # fmt: skip
    """The liquidation price of every open position of ``pools`` at ``market`` with the sizes of
    ``holdings``, by the book's own solver (:func:`crossmargin.engine.liquidation_prices.price_pools`, on the
    compact book of :func:`compact`): the book's slots and their prices (mark units; NaN where the solver
    finds none within its range or does not solve the pool), and each pool's verdict at ``market`` (a pool
    liquidatable there has the price where it would turn healthy)."""
    book = compact(pools, holdings, market, rules)
    n = len(pools)
    first = np.concatenate([[0], np.cumsum(np.bincount(book.owner, minlength=n))]).astype(np.int64)
    order = np.arange(len(book.slots), dtype=np.int64)
    price = np.full(len(book.slots), np.nan)
    outcome = np.full(len(book.slots), Outcome.EMPTY, dtype=np.int8)
    line = rules.instruments._replace(quantum=np.zeros_like(rules.instruments.quantum))
    price_pools_on_cores(
        np.arange(n, dtype=np.int64), first, order, book.slot_arrays, book.pool_arrays, market, line, rules.assets,
        rules.choices, moves, price, outcome,
    )  # fmt: skip
    return book.slots, np.where(outcome == Outcome.PRICED, price, np.nan), book.pool_arrays.liquidatable
