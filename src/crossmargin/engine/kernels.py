"""Fused float64 kernels (Numba, compiled once and cached on disk) over the risk book's arrays.

Every margin term is evaluated by its float form in :mod:`crossmargin.engine.terms` (each beside the exact
form it mirrors); these loops only walk the book and move sums. A kernel takes the book's arrays as typed
namedtuples: the slots (:class:`SlotArrays`), the pools (:class:`PoolArrays`), the market
(:class:`~crossmargin.engine.rule_arrays.MarketArrays`) and the groups of rules it reads (the instruments',
the assets' and the rulebook's choices: the fields of :class:`~crossmargin.engine.rule_arrays.RuleArrays`).
Each structure is flat, an argument of its own: Numba 0.68 cannot carry a namedtuple nested in another, nor
one among star-arguments, into a parallel loop (its lowering fails), so the spreaders name their arguments.
Sides: index 0 maintenance, 1 initial. Kernels marked ``parallel`` share their work out over the cores by
pool, so no two threads write one pool.
"""

import math
from typing import Any, NamedTuple

import numba
from numba import njit, prange

from crossmargin.engine import terms
from crossmargin.engine.prefetch import prefetch_row
from crossmargin.engine.rule_arrays import B1, F64, INDEX, AssetArrays, ChoiceArrays, InstrumentArrays, MarketArrays
from crossmargin.engine.terms import INITIAL, MAINTENANCE

PARALLEL_ITEMS = 4096  # pools at least this many are shared out over the cores
AHEAD = 32  # slots ahead whose pool row a revaluation prefetches


class SlotArrays(NamedTuple):
    """Per position slot ``j`` (an empty slot has size 0 and pool -1)."""

    size: F64  # contracts, positive long
    entry: F64  # entry price
    instrument: INDEX
    pool: INDEX
    bracket: INDEX  # the bracket found last (where the next search starts)
    cached: F64  # [j, 4]: counted PnL (maintenance, initial), maintenance, initial (see revalue_range)


class PoolArrays(NamedTuple):
    """Per asset and pool, and per pool (base currency unless said)."""

    balance: F64  # [asset, pool], asset units
    pool_money: F64  # [asset, 4, pool]: positions' money by settle asset, its units (uPnL in settle collateral)
    haircut: B1  # False: an isolated pool, its margin at full value
    positions: INDEX  # positions in the pool
    sums: F64  # [pool, 4]: equity, initial equity, maintenance, initial margin
    liquidatable: B1


@njit(cache=True, error_model="numpy")
def revalue_range(
    lo: int,
    hi: int,
    pool_lo: int,
    pool_hi: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
    fresh: bool,
) -> None:
    """Revalue the positions of slots ``[lo, hi)`` whose pool is in ``[pool_lo, pool_hi)`` (an empty slot has
    pool -1) and move the change into their pools.

    ``slots.bracket[j]`` is where the search for position j's bracket starts (its last bracket: a mark
    moves few positions across an edge) and is left at the bracket found. ``slots.cached[j]`` holds
    position j's (counted PnL maintenance, counted PnL initial, maintenance, initial), in settle units
    under uPnL in the settle collateral (``choices.folded``) and in base currency otherwise. Folded,
    the change goes to ``pools.pool_money[asset, 0..3, pool]`` and :func:`evaluate_pools` makes the figures;
    otherwise the pool's figures are linear in its positions' money and the change goes straight into
    ``pools.sums[pool]``, the pool's verdict decided again in the same pass (unless ``fresh``). Each
    requirement is valued at the mark or, where ``choices.at_entry[mode, side]`` says so (mode 1: an
    isolated pool, without haircut), at the entry price, a notional that also picks its bracket. With
    ``fresh`` the old values are not read (the full revaluation, into cleared sums). The arrays and choices the
    loop reads are taken out of their namedtuples before it: read through them inside the loop (a verdict's
    choices especially) they cost a tick some 20 ns a position.
    """
    size, entry, instrument, pool, bracket, cached = slots
    figures, liquidatable, positions = pools.sums, pools.liquidatable, pools.positions
    haircut, money = pools.haircut, pools.pool_money
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    by_asset = choices.folded
    decide = not fresh and not by_asset
    at_entry = choices.at_entry
    any_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
    for j in range(lo, hi):  # the pool row a few slots on is hinted to the cache (a tick's misses overlap)
        if not by_asset and j + AHEAD < hi and pool[j + AHEAD] >= 0:
            prefetch_row(figures, pool[j + AHEAD])
        p = pool[j]
        if p < pool_lo or p >= pool_hi:
            continue
        q = size[j]
        new0 = new1 = new2 = new3 = 0.0
        i = instrument[j]
        if q != 0.0:
            e = entry[j]
            inverse = t.inverse[i]
            c = t.contract_size[i]
            mark = market.marks[i]
            units = abs(q) * c
            pnl = terms.unrealized_pnl(q, c, e, mark, inverse)
            margined = terms.margined_notional(terms.notional(units, mark, inverse), t.quantum[i])
            k = terms.bracket(terms.bracket_key(units, margined, i, t), i, bracket[j], t.edges)
            bracket[j] = k
            margined_m = margined_i = margined
            k_m = k_i = k
            if any_at_entry:
                isolated = p >= 0 and not haircut[p]
                entry_m = terms.valued_at_entry(at_entry, isolated, MAINTENANCE)
                entry_i = terms.valued_at_entry(at_entry, isolated, INITIAL)
                if entry_m or entry_i:
                    margined_e = terms.margined_notional(terms.notional(units, e, inverse), t.quantum[i])
                    k_e = terms.bracket(terms.bracket_key(units, margined_e, i, t), i, k, t.edges)
                    if entry_m:
                        margined_m, k_m = margined_e, k_e
                    if entry_i:
                        margined_i, k_i = margined_e, k_e
            scale = market.scale[i]
            new2 = terms.maintenance_requirement(margined_m, units, q, e, i, k_m, t) * scale
            new3 = terms.initial_requirement(margined_i, units, q, e, i, k_i, t, market.initial_rate) * scale
            new0, new1 = terms.counted_pnl(pnl, i, t)
        if not by_asset:
            price = market.prices[t.settle[i]]
            new0, new1, new2, new3 = new0 * price, new1 * price, new2 * price, new3 * price
        if p >= 0:
            if fresh:
                d0, d1, d2, d3 = new0, new1, new2, new3
            else:
                d0, d1, d2, d3 = new0 - cached[j, 0], new1 - cached[j, 1], new2 - cached[j, 2], new3 - cached[j, 3]
            if by_asset:
                a = t.settle[i]
                money[a, 0, p] += d0
                money[a, 1, p] += d1
                money[a, 2, p] += d2
                money[a, 3, p] += d3
            else:
                figures[p, 0] += d0
                figures[p, 1] += d1
                figures[p, 2] += d2
                figures[p, 3] += d3
                if decide:
                    liquidatable[p] = terms.is_liquidatable(
                        figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
                    )
        cached[j, 0], cached[j, 1], cached[j, 2], cached[j, 3] = new0, new1, new2, new3


@njit(cache=True, parallel=True, error_model="numpy")
def revalue_split(
    parts: int,
    n_pools: int,
    lo: int,
    hi: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
    fresh: bool,
) -> None:
    """:func:`revalue_range` on ``parts`` threads, each owning a contiguous range of pools (so no two threads
    write one pool's sums, nor, but at the range edges, one cache line); every thread reads the whole
    slot range's pool column and revalues only its own pools' positions."""
    for part in prange(parts):
        pool_lo = -1 if part == 0 else part * n_pools // parts
        pool_hi = (part + 1) * n_pools // parts if part < parts - 1 else n_pools
        revalue_range(lo, hi, pool_lo, pool_hi, slots, pools, market, t, choices, fresh)


@njit(cache=True, error_model="numpy")
def evaluate_pools(
    lo: int, hi: int, items: INDEX, pools: PoolArrays, prices: F64, assets: AssetArrays, choices: ChoiceArrays
) -> None:
    """Equity, initial equity, maintenance and initial margin (base currency) of each pool in ``items[lo:hi]``
    (distinct: :func:`on_cores` shares them out over threads), where uPnL is counted inside the settle
    collateral: ``pools.pool_money[asset]`` (settle units) is weighed together with the balance of that
    asset. ``pools.sums[p] = (equity, initial equity, maintenance, initial)``; ``pools.liquidatable[p]`` the
    float verdict of the rulebook's condition."""
    balance, money, figures = pools.balance, pools.pool_money, pools.sums
    haircut, liquidatable, positions = pools.haircut, pools.liquidatable, pools.positions
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    for idx in range(lo, hi):
        p = items[idx]
        f0 = f1 = f2 = f3 = 0.0
        for a in range(balance.shape[0]):
            held = balance[a, p]
            pnl_m, pnl_i, maintenance, initial = money[a, 0, p], money[a, 1, p], money[a, 2, p], money[a, 3, p]
            if held == 0.0 and pnl_m == 0.0 and pnl_i == 0.0 and maintenance == 0.0 and initial == 0.0:
                continue
            if haircut[p]:
                equity = terms.weighted_amount(held + pnl_m, a, MAINTENANCE, assets)
                initial_equity = terms.weighted_amount(held + pnl_i, a, INITIAL, assets)
            else:
                equity, initial_equity = held + pnl_m, held + pnl_i
            price = prices[a]
            f0 += equity * price
            f1 += initial_equity * price
            f2 += maintenance * price
            f3 += initial * price
        figures[p, 0], figures[p, 1], figures[p, 2], figures[p, 3] = f0, f1, f2, f3
        liquidatable[p] = terms.is_liquidatable(f0, f2, positions, p, threshold, at_equality, without_requirement)


@njit(cache=True, inline="always", error_model="numpy")
def _collateral(held: float, a: int, haircut: bool, price: float, assets: AssetArrays) -> tuple[float, float]:
    """A balance's contribution to (equity, initial equity) in base currency: at full value in an isolated
    pool (no haircut), weighted in a cross pool."""
    if not haircut:
        return held * price, held * price
    return (
        terms.weighted_amount(held, a, MAINTENANCE, assets) * price,
        terms.weighted_amount(held, a, INITIAL, assets) * price,
    )


@njit(cache=True, error_model="numpy")
def add_collateral(
    lo: int, hi: int, holders: INDEX, a: int, price: float, pools: PoolArrays, assets: AssetArrays
) -> None:
    """Add asset ``a``'s balance valued at ``price`` (both sides) to the equity of each pool in
    ``holders[lo:hi]`` (distinct pools). A price change is added as ``price`` = new minus old price: bands
    and weights are in the asset's units, so the weighted amount is linear in the price. An asset of flat
    weights without a size discount takes each balance's weight without a band search."""
    balance, figures, haircut = pools.balance, pools.sums, pools.haircut
    flat = assets.imf[a] == 0.0 and (assets.band_from.shape[1] == 1 or assets.band_from[a, 1] == math.inf)
    held_m, held_i = assets.weight[0, a, 0] * price, assets.weight[1, a, 0] * price
    owed_m, owed_i = assets.liability[0, a] * price, assets.liability[1, a] * price
    for idx in range(lo, hi):
        p = holders[idx]
        held = balance[a, p]
        if not haircut[p]:
            figures[p, 0] += held * price
            figures[p, 1] += held * price
        elif flat:
            figures[p, 0] += held * (held_m if held >= 0.0 else owed_m)
            figures[p, 1] += held * (held_i if held >= 0.0 else owed_i)
        else:
            m, i = _collateral(held, a, True, price, assets)
            figures[p, 0] += m
            figures[p, 1] += i


@njit(cache=True, error_model="numpy")
def move_balance(p: int, a: int, amount: float, price: float, pools: PoolArrays, assets: AssetArrays) -> None:
    """Set pool ``p``'s balance of asset ``a`` to ``amount`` and move its figures by the change in value."""
    haircut = pools.haircut[p]
    old_m, old_i = _collateral(pools.balance[a, p], a, haircut, price, assets)
    new_m, new_i = _collateral(amount, a, haircut, price, assets)
    pools.balance[a, p] = amount
    pools.sums[p, 0] += new_m - old_m
    pools.sums[p, 1] += new_i - old_i


@njit(cache=True, error_model="numpy")
def decide(lo: int, hi: int, items: INDEX, figures: F64, pools: PoolArrays, choices: ChoiceArrays) -> None:
    """The rulebook's verdict (into ``pools.liquidatable``) for each pool in ``items[lo:hi]`` from its
    ``figures`` (``[pool, 4]`` as :attr:`PoolArrays.sums`)."""
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    liquidatable, positions = pools.liquidatable, pools.positions
    for idx in range(lo, hi):
        p = items[idx]
        liquidatable[p] = terms.is_liquidatable(
            figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
        )


# One spreading function per kernel, naming its kernel, so that its cache key is its argument types alone. A
# kernel passed in as an argument instead is typed by its dispatcher object, whose name holds a memory
# address: the key differs in every process, the cache never hits, its index grows by an entry a process, and
# once the index holds more dispatchers than Numba keeps alive (NUMBA_FUNCTION_CACHE_SIZE) saving it fails.
# A spreader lives in its kernel's module: Numba invalidates a cache when its own source file changes only
# (and, through terms.depends_on_terms below, when the term functions it inlines change).


@njit(cache=True, parallel=True)
def _decide_on_threads(
    parts: int, n: int, items: INDEX, figures: F64, pools: PoolArrays, choices: ChoiceArrays
) -> None:
    """:func:`decide` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        decide(part * n // parts, (part + 1) * n // parts, items, figures, pools, choices)


@njit(cache=True, parallel=True)
def _evaluate_pools_on_threads(
    parts: int, n: int, items: INDEX, pools: PoolArrays, prices: F64, assets: AssetArrays, choices: ChoiceArrays
) -> None:
    """:func:`evaluate_pools` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        evaluate_pools(part * n // parts, (part + 1) * n // parts, items, pools, prices, assets, choices)


@njit(cache=True, parallel=True)
def _add_collateral_on_threads(
    parts: int, n: int, holders: INDEX, a: int, price: float, pools: PoolArrays, assets: AssetArrays
) -> None:
    """:func:`add_collateral` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        add_collateral(part * n // parts, (part + 1) * n // parts, holders, a, price, pools, assets)


_SPREADERS: dict[Any, Any] = {
    decide: _decide_on_threads,
    evaluate_pools: _evaluate_pools_on_threads,
    add_collateral: _add_collateral_on_threads,
}


def on_cores(kernel: Any, items: INDEX, *arrays: Any, spread: Any = None) -> None:
    """``kernel(lo, hi, items, *arrays)`` over the distinct ``items``: on every core when there are at least
    ``PARALLEL_ITEMS`` of them, else in this thread (starting the thread pool costs more than a few items,
    and far more on a busy machine, where a parallel region waits on every thread).

    ``spread(parts, n, items, *arrays)`` runs ``kernel`` over ``parts`` contiguous ranges of the ``n`` items
    in parallel: a cached parallel function that calls ``kernel`` by name (see the note above the
    spreaders). This module's kernels have theirs; a kernel from another module brings its own, written in
    that module."""
    n = items.shape[0]
    threads = numba.get_num_threads()
    if n >= PARALLEL_ITEMS and threads > 1:
        (spread or _SPREADERS[kernel])(threads, n, items, *arrays)
    else:
        kernel(0, n, items, *arrays)


terms.depends_on_terms(globals())
