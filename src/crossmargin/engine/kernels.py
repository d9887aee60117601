"""Fused float64 kernels (Numba, compiled once and cached on disk) over the risk book's arrays.

The arithmetic mirrors :mod:`crossmargin.margin` term by term (see the names): position notional,
PnL, bracket, requirement (rate, amount, fees, size premium, rounding), counted PnL; pool equity from
weight bands, liability weights and size discounts. Sides: index 0 maintenance, 1 initial. Kernels
marked ``parallel`` share their work out over the cores by pool, so no two threads write one pool.
"""

import math
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from crossmargin.engine.prefetch import prefetch_row
from crossmargin.engine.rule_arrays import F64, I64, INDEX

MAINTENANCE, INITIAL = 0, 1
PARALLEL_ITEMS = 4096  # pools at least this many are shared out over the cores
AHEAD = 32  # slots ahead whose pool row a revaluation prefetches


@njit(cache=True, inline="always", error_model="numpy")
def weighted_amount(
    x: float, a: int, side: int, band_from: F64, weight: F64, offset: F64, liability: F64, imf: F64
) -> float:
    """``Asset.weighted_amount``: marginal bands (or a size discount) for holdings, liability weights for debts."""
    if x >= 0.0:
        if imf[a] > 0.0:
            return float(x * min(weight[side, a, 0], 1.1 / (1.0 + imf[a] * math.sqrt(x))))
        b = 0
        while b + 1 < band_from.shape[1] and band_from[a, b + 1] <= x:
            b += 1
        return float(offset[side, a, b] + weight[side, a, b] * x)
    rate = float(liability[side, a])
    if imf[a] > 0.0:
        rate = max(rate, 0.8 * rate + imf[a] * math.sqrt(-x))
    return float(x * rate)


@njit(cache=True, inline="always", error_model="numpy")
def _premium(rate: float, imf: float, units: float) -> float:
    if imf == 0.0:
        return rate
    return max(rate, 0.8 * rate + imf * math.sqrt(units))


@njit(cache=True, inline="always", error_model="numpy")
def _round_up(value: float, quantum: float) -> float:
    return math.ceil(value / quantum) * quantum


@njit(cache=True, inline="always", error_model="numpy")
def _bracket(key: float, i: int, k: int, edges: F64) -> int:
    """``positions.bracket_index``: instrument ``i``'s bracket of ``key``, searched from bracket ``k``."""
    while key > edges[i, k]:
        k += 1
    while k > 0 and key <= edges[i, k - 1]:
        k -= 1
    return k


@njit(cache=True, inline="always", error_model="numpy")
def _close_fee(rate: float, q: float, c: float, e: float, inverse: bool, imr: float) -> float:
    """The fee to close (settle units): ``rate`` x the notional at the bankruptcy price of a position of ``q``
    contracts from entry ``e`` at the bracket's max leverage (initial rate ``imr``)."""
    if rate == 0.0:
        return 0.0
    side = 1.0 if q > 0.0 else -1.0
    if inverse:
        return rate * abs(q) * c * (1.0 + side * imr) / e
    return rate * abs(q) * c * e * (1.0 - side * imr)


@njit(cache=True, inline="always", error_model="numpy")
def _verdict(
    equity: float, maintenance: float, positions: INDEX, p: int, threshold: float, at_equality: bool,
    without_requirement: bool,
) -> bool:  # fmt: skip
    """``pools.is_liquidatable`` for pool ``p``: equity below threshold x maintenance (``<=`` at equality with
    positions; the pool's position count is read only then, saving a cache miss a pool otherwise)."""
    required = maintenance * threshold
    if maintenance == 0.0 and not without_requirement:
        return False
    if at_equality and positions[p] > 0:
        return equity <= required
    return equity < required


@njit(cache=True, error_model="numpy")
def revalue_range(
    lo: int,
    hi: int,
    pool_lo: int,
    pool_hi: int,
    size: F64,
    entry: F64,
    instrument: INDEX,
    pool: INDEX,
    bracket: INDEX,
    marks: F64,
    imr_now: F64,
    scale: F64,
    contract_size: F64,
    inverse: np.ndarray,
    size_basis: np.ndarray,
    settle: I64,
    edges: F64,
    mmr: F64,
    imr: F64,
    amount: F64,
    liquidation_fee: F64,
    close_fee: F64,
    imf: F64,
    upnl_weight: F64,
    initial_upnl_weight: F64,
    upnl_cap: F64,
    quantum: F64,
    maintenance_fraction: F64,
    haircut: np.ndarray,
    at_entry: np.ndarray,
    cached: F64,
    pool_money: F64,
    figures: F64,
    liquidatable: np.ndarray,
    prices: F64,
    pool_positions: INDEX,
    by_asset: bool,
    decide: bool,
    fresh: bool,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
) -> None:
    """Revalue the positions of slots ``[lo, hi)`` whose pool is in ``[pool_lo, pool_hi)`` (an empty slot has
    pool -1) and move the change into their pools.

    ``bracket[j]`` is where the search for position j's bracket starts (its last bracket: a mark moves
    few positions across an edge) and is left at the bracket found. ``cached[j]`` holds position j's
    (counted PnL maintenance, counted PnL initial, maintenance, initial), in settle units with
    ``by_asset`` and in base currency otherwise. With ``by_asset`` (uPnL counted inside the settle
    collateral, weighed with the balance) the change goes to ``pool_money[asset, 0..3, pool]`` and
    :func:`evaluate_pools` makes the figures; otherwise the pool's figures are linear in its positions'
    money and the change goes straight into ``figures[pool]``, with ``decide`` deciding the pool's verdict
    again in the same pass. ``imr_now`` is the initial-rate table after open-interest scaling, ``scale`` each
    instrument's volatility multiplier of both requirements (1 without volatility scaling). ``at_entry[mode,
    side]`` (mode 0 cross, 1 isolated: a pool without ``haircut``; side 0 maintenance, 1 initial) says which
    requirements value the position at its entry price instead of the mark (the notional that also picks
    their bracket). A slot with size 0 is empty. With ``fresh`` the old values are not read (the full
    revaluation, into cleared sums).
    """
    valued_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
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
            c = contract_size[i]
            m = marks[i]
            e = entry[j]
            if inverse[i]:
                notional = abs(q) * c / m
                pnl = q * c * (1.0 / e - 1.0 / m)
            else:
                notional = abs(q) * c * m
                pnl = q * c * (m - e)
            step = quantum[i]
            margined = math.floor(notional / step) * step if step > 0.0 else notional
            units = abs(q) * c
            k = _bracket(units if size_basis[i] else margined, i, bracket[j], edges)
            bracket[j] = k
            margined_m = margined_i = margined
            k_m = k_i = k
            if valued_at_entry:
                mode = 1 if p >= 0 and not haircut[p] else 0
                if at_entry[mode, 0] or at_entry[mode, 1]:
                    at_e = abs(q) * c / e if inverse[i] else abs(q) * c * e
                    margined_e = math.floor(at_e / step) * step if step > 0.0 else at_e
                    k_e = k if size_basis[i] else _bracket(margined_e, i, k, edges)
                    if at_entry[mode, 0]:
                        margined_m, k_m = margined_e, k_e
                    if at_entry[mode, 1]:
                        margined_i, k_i = margined_e, k_e
            close_m = _close_fee(close_fee[i], q, c, e, inverse[i], imr[i, k_m])
            close_i = close_m if k_i == k_m else _close_fee(close_fee[i], q, c, e, inverse[i], imr[i, k_i])
            rate_m = _premium(mmr[i, k_m], imf[i], units) + liquidation_fee[i]
            rate_i = _premium(imr_now[i, k_i], imf[i], units)
            if step > 0.0:
                fraction = maintenance_fraction[i]
                if fraction == fraction:
                    by_initial = _round_up(_round_up(margined_m * imr[i, k_m], step) * fraction, step)
                    maintenance = by_initial - amount[i, k_m] + close_m
                else:
                    maintenance = _round_up(margined_m * rate_m - amount[i, k_m] + close_m, step)
                initial = _round_up(margined_i * rate_i + close_i, step)
            else:
                maintenance = margined_m * rate_m - amount[i, k_m] + close_m
                initial = margined_i * rate_i + close_i
            maintenance, initial = maintenance * scale[i], initial * scale[i]
            loss, gain = min(pnl, 0.0), max(pnl, 0.0)
            weight_i = initial_upnl_weight[i]
            if imf[i] > 0.0:
                weight_i = min(weight_i, 1.1 / (1.0 + imf[i] * math.sqrt(gain)))
            counted_m = loss + gain * upnl_weight[i]
            counted_i = loss + min(gain * weight_i, upnl_cap[i])
            new0, new1, new2, new3 = counted_m, counted_i, maintenance, initial
        if not by_asset:
            price = prices[settle[i]]
            new0, new1, new2, new3 = new0 * price, new1 * price, new2 * price, new3 * price
        if p >= 0:
            if fresh:
                d0, d1, d2, d3 = new0, new1, new2, new3
            else:
                d0, d1, d2, d3 = new0 - cached[j, 0], new1 - cached[j, 1], new2 - cached[j, 2], new3 - cached[j, 3]
            if by_asset:
                a = settle[i]
                pool_money[a, 0, p] += d0
                pool_money[a, 1, p] += d1
                pool_money[a, 2, p] += d2
                pool_money[a, 3, p] += d3
            else:
                figures[p, 0] += d0
                figures[p, 1] += d1
                figures[p, 2] += d2
                figures[p, 3] += d3
                if decide:
                    liquidatable[p] = _verdict(
                        figures[p, 0], figures[p, 2], pool_positions, p, threshold, at_equality, without_requirement
                    )
        cached[j, 0], cached[j, 1], cached[j, 2], cached[j, 3] = new0, new1, new2, new3


@njit(cache=True, parallel=True, error_model="numpy")
def revalue_split(parts: int, n_pools: int, lo: int, hi: int, *arrays: Any) -> None:
    """:func:`revalue_range` on ``parts`` threads, each owning a contiguous range of pools (so no two threads
    write one pool's sums, nor, but at the range edges, one cache line); every thread reads the whole
    slot range's pool column and revalues only its own pools' positions. ``arrays`` are
    :func:`revalue_range`'s arguments after ``pool_hi``."""
    for part in prange(parts):
        pool_lo = -1 if part == 0 else part * n_pools // parts
        pool_hi = (part + 1) * n_pools // parts if part < parts - 1 else n_pools
        revalue_range(lo, hi, pool_lo, pool_hi, *arrays)


@njit(cache=True, error_model="numpy")
def evaluate_pools(
    lo: int,
    hi: int,
    pools: INDEX,
    balance: F64,
    pool_money: F64,
    haircut: np.ndarray,
    positions: INDEX,
    prices: F64,
    band_from: F64,
    weight: F64,
    offset: F64,
    liability: F64,
    imf: F64,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
    figures: F64,
    liquidatable: np.ndarray,
) -> None:
    """Equity, initial equity, maintenance and initial margin (base currency) of each pool in ``pools``, where
    uPnL is counted inside the settle collateral: ``pool_money[asset]`` (settle units) is weighed together
    with the balance of that asset.

    ``figures[p] = (equity, initial equity, maintenance, initial)``; ``liquidatable[p]`` the float verdict
    of the rulebook's condition (equity below ``threshold`` x maintenance, ``<=`` at equality), for the
    pools ``pools[lo:hi]`` (distinct: :func:`on_cores` shares them out over threads).
    """
    for idx in range(lo, hi):
        p = pools[idx]
        f0 = f1 = f2 = f3 = 0.0
        for a in range(balance.shape[0]):
            held = balance[a, p]
            pnl_m = pool_money[a, 0, p]
            pnl_i = pool_money[a, 1, p]
            maintenance = pool_money[a, 2, p]
            initial = pool_money[a, 3, p]
            if held == 0.0 and pnl_m == 0.0 and pnl_i == 0.0 and maintenance == 0.0 and initial == 0.0:
                continue
            if haircut[p]:
                equity = weighted_amount(held + pnl_m, a, 0, band_from, weight, offset, liability, imf)
                initial_equity = weighted_amount(held + pnl_i, a, 1, band_from, weight, offset, liability, imf)
            else:
                equity, initial_equity = held + pnl_m, held + pnl_i
            price = prices[a]
            f0 += equity * price
            f1 += initial_equity * price
            f2 += maintenance * price
            f3 += initial * price
        figures[p, 0], figures[p, 1], figures[p, 2], figures[p, 3] = f0, f1, f2, f3
        liquidatable[p] = _verdict(f0, f2, positions, p, threshold, at_equality, without_requirement)


@njit(cache=True, inline="always", error_model="numpy")
def _collateral(
    held: float, a: int, haircut: bool, price: float, band_from: F64, weight: F64, offset: F64, liability: F64,
    imf: F64,
) -> tuple[float, float]:  # fmt: skip
    """A balance's contribution to (equity, initial equity) in base currency: at full value in an isolated
    pool (no haircut), weighted in a cross pool."""
    if not haircut:
        return held * price, held * price
    return (
        weighted_amount(held, a, 0, band_from, weight, offset, liability, imf) * price,
        weighted_amount(held, a, 1, band_from, weight, offset, liability, imf) * price,
    )


@njit(cache=True, error_model="numpy")
def add_collateral(
    lo: int,
    hi: int,
    holders: INDEX,
    a: int,
    balance: F64,
    haircut: np.ndarray,
    price: float,
    band_from: F64,
    weight: F64,
    offset: F64,
    liability: F64,
    imf: F64,
    figures: F64,
) -> None:
    """Add asset ``a``'s balance valued at ``price`` (both sides) to the equity of each pool in
    ``holders[lo:hi]`` (distinct pools). A price change is added as ``price`` = new minus old price: bands
    and weights are in the asset's units, so the weighted amount is linear in the price."""
    flat = imf[a] == 0.0 and (band_from.shape[1] == 1 or band_from[a, 1] == np.inf)
    held_m, held_i = weight[0, a, 0] * price, weight[1, a, 0] * price
    owed_m, owed_i = liability[0, a] * price, liability[1, a] * price
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
            m, i = _collateral(held, a, True, price, band_from, weight, offset, liability, imf)
            figures[p, 0] += m
            figures[p, 1] += i


@njit(cache=True, error_model="numpy")
def move_balance(
    p: int,
    a: int,
    amount: float,
    balance: F64,
    haircut: np.ndarray,
    price: float,
    band_from: F64,
    weight: F64,
    offset: F64,
    liability: F64,
    imf: F64,
    figures: F64,
) -> None:
    """Set pool ``p``'s balance of asset ``a`` to ``amount`` and move its figures by the change in value."""
    old_m, old_i = _collateral(balance[a, p], a, haircut[p], price, band_from, weight, offset, liability, imf)
    new_m, new_i = _collateral(amount, a, haircut[p], price, band_from, weight, offset, liability, imf)
    balance[a, p] = amount
    figures[p, 0] += new_m - old_m
    figures[p, 1] += new_i - old_i


@njit(cache=True, error_model="numpy")
def decide(
    lo: int,
    hi: int,
    pools: INDEX,
    figures: F64,
    positions: INDEX,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
    liquidatable: np.ndarray,
) -> None:
    """The rulebook's verdict for each pool in ``pools[lo:hi]`` from its figures."""
    for idx in range(lo, hi):
        p = pools[idx]
        liquidatable[p] = _verdict(
            figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
        )


# One spreading function per kernel, naming its kernel, so that its cache key is its argument types alone. A
# kernel passed in as an argument instead is typed by its dispatcher object, whose name holds a memory
# address: the key differs in every process, the cache never hits, its index grows by an entry a process, and
# once the index holds more dispatchers than Numba keeps alive (NUMBA_FUNCTION_CACHE_SIZE) saving it fails.
# A spreader lives in its kernel's module: Numba invalidates a cache when its own source file changes only.


@njit(cache=True, parallel=True)
def _decide_on_threads(parts: int, n: int, *arrays: Any) -> None:
    """:func:`decide` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        decide(part * n // parts, (part + 1) * n // parts, *arrays)


@njit(cache=True, parallel=True)
def _evaluate_pools_on_threads(parts: int, n: int, *arrays: Any) -> None:
    """:func:`evaluate_pools` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        evaluate_pools(part * n // parts, (part + 1) * n // parts, *arrays)


@njit(cache=True, parallel=True)
def _add_collateral_on_threads(parts: int, n: int, *arrays: Any) -> None:
    """:func:`add_collateral` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        add_collateral(part * n // parts, (part + 1) * n // parts, *arrays)


_SPREADERS = {
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
