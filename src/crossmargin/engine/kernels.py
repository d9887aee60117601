"""Fused float64 kernels (Numba, compiled once and cached on disk) over the risk book's arrays.

The arithmetic mirrors :mod:`crossmargin.margin` term by term (see the names): position notional,
PnL, bracket, requirement (rate, amount, fees, size premium, rounding), counted PnL; pool equity from
weight bands, liability weights and size discounts. Sides: index 0 maintenance, 1 initial. Money per
pool and asset is kept in the asset's own units so that a price tick on an asset is one multiply.
"""

import math

import numpy as np
from numba import njit

from crossmargin.engine.rule_arrays import F64, I64, INDEX

MAINTENANCE, INITIAL = 0, 1


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
def _verdict(
    equity: float, maintenance: float, positions: int, threshold: float, at_equality: bool, without_requirement: bool
) -> bool:
    """``pools.is_liquidatable``: equity below threshold x maintenance (``<=`` at equality with positions)."""
    required = maintenance * threshold
    if maintenance == 0.0 and not without_requirement:
        return False
    if at_equality and positions > 0:
        return equity <= required
    return equity < required


@njit(cache=True, error_model="numpy")
def revalue_positions(
    lo: int,
    hi: int,
    size: F64,
    entry: F64,
    instrument: INDEX,
    pool: INDEX,
    marks: F64,
    imr_now: F64,
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
    cached: F64,
    pool_money: F64,
    figures: F64,
    liquidatable: np.ndarray,
    prices: F64,
    pool_positions: INDEX,
    by_asset: bool,
    update_figures: bool,
    fresh: bool,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
) -> None:
    """Revalue positions ``[lo, hi)`` and move the change into their pools' sums.

    ``cached[j]`` holds position j's (counted PnL maintenance, counted PnL initial, maintenance, initial),
    in settle units with ``by_asset`` and in base currency otherwise; ``pool_money[row, 0..3, p]`` their
    sums per pool, one row per settle asset with ``by_asset`` else one row (pools last: a block's
    positions come in pool order, so each sum is written as a forward stream, which measured faster
    than keeping a pool's four sums together). ``imr_now`` is
    the initial-rate table after open-interest scaling. A slot with size 0 is empty.

    With ``update_figures`` (pools whose equity is linear in their money: base-currency rows) each pool's
    figures move by the same change and its verdict is decided again here, so a tick needs no second
    pass over the pools (see :func:`evaluate_pools`). With ``fresh`` the caches and sums start cleared
    and the old values are not read (the full revaluation).
    """
    for j in range(lo, hi):
        q = size[j]
        new0 = new1 = new2 = new3 = 0.0
        if q != 0.0:
            i = instrument[j]
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
            key = abs(q) * c if size_basis[i] else margined
            k = 0
            while key > edges[i, k]:
                k += 1
            close = 0.0
            if close_fee[i] > 0.0:
                side = 1.0 if q > 0.0 else -1.0
                if inverse[i]:
                    close = close_fee[i] * abs(q) * c * (1.0 + side * imr[i, k]) / e
                else:
                    close = close_fee[i] * abs(q) * c * e * (1.0 - side * imr[i, k])
            units = abs(q) * c
            rate_m = _premium(mmr[i, k], imf[i], units) + liquidation_fee[i]
            rate_i = _premium(imr_now[i, k], imf[i], units)
            if step > 0.0:
                fraction = maintenance_fraction[i]
                if fraction == fraction:
                    maintenance = _round_up(_round_up(margined * imr[i, k], step) * fraction, step) - amount[i, k]
                else:
                    maintenance = _round_up(margined * rate_m - amount[i, k] + close, step)
                initial = _round_up(margined * rate_i + close, step)
            else:
                maintenance = margined * rate_m - amount[i, k] + close
                initial = margined * rate_i + close
            if pnl <= 0.0:
                counted_m = counted_i = pnl
            else:
                counted_m = pnl * upnl_weight[i]
                weight_i = initial_upnl_weight[i]
                if imf[i] > 0.0:
                    weight_i = min(weight_i, 1.1 / (1.0 + imf[i] * math.sqrt(pnl)))
                counted_i = min(pnl * weight_i, upnl_cap[i])
            new0, new1, new2, new3 = counted_m, counted_i, maintenance, initial
        p = pool[j]
        if not by_asset:
            price = prices[settle[instrument[j]]]
            new0, new1, new2, new3 = new0 * price, new1 * price, new2 * price, new3 * price
        if p >= 0:
            a = settle[instrument[j]] if by_asset else 0
            if fresh:
                d0, d1, d2, d3 = new0, new1, new2, new3
            else:
                d0, d1, d2, d3 = new0 - cached[j, 0], new1 - cached[j, 1], new2 - cached[j, 2], new3 - cached[j, 3]
            pool_money[a, 0, p] += d0
            pool_money[a, 1, p] += d1
            pool_money[a, 2, p] += d2
            pool_money[a, 3, p] += d3
            if update_figures:
                figures[p, 0] += d0
                figures[p, 1] += d1
                figures[p, 2] += d2
                figures[p, 3] += d3
                liquidatable[p] = _verdict(
                    figures[p, 0], figures[p, 2], pool_positions[p], threshold, at_equality, without_requirement
                )
        cached[j, 0], cached[j, 1], cached[j, 2], cached[j, 3] = new0, new1, new2, new3


@njit(cache=True, error_model="numpy")
def evaluate_pools(
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
    folded: bool,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
    figures: F64,
    liquidatable: np.ndarray,
) -> None:
    """Equity, initial equity, maintenance and initial margin (base currency) of each pool in ``pools``.

    ``figures[p] = (equity, initial equity, maintenance, initial)``; ``liquidatable[p]`` the float verdict
    of the rulebook's condition (equity below ``threshold`` x maintenance, ``<=`` at equality). ``folded``
    (uPnL inside the settle collateral): ``pool_money`` holds settle units per asset, weighed with the
    balance; otherwise its one row holds base currency, added to the weighted balances.
    """
    count = pools.shape[0]
    for idx in range(count):
        p = pools[idx]
        if folded:
            figures[p, 0] = figures[p, 1] = figures[p, 2] = figures[p, 3] = 0.0
        else:
            figures[p, 0], figures[p, 1] = pool_money[0, 0, p], pool_money[0, 1, p]
            figures[p, 2], figures[p, 3] = pool_money[0, 2, p], pool_money[0, 3, p]
    for a in range(balance.shape[0]):
        price = prices[a]
        for idx in range(count):
            p = pools[idx]
            held = balance[a, p]
            if not folded:
                if held != 0.0:
                    if haircut[p]:
                        figures[p, 0] += weighted_amount(held, a, 0, band_from, weight, offset, liability, imf) * price
                        figures[p, 1] += weighted_amount(held, a, 1, band_from, weight, offset, liability, imf) * price
                    else:
                        figures[p, 0] += held * price
                        figures[p, 1] += held * price
                continue
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
            figures[p, 0] += equity * price
            figures[p, 1] += initial_equity * price
            figures[p, 2] += maintenance * price
            figures[p, 3] += initial * price
    for idx in range(count):
        p = pools[idx]
        liquidatable[p] = _verdict(
            figures[p, 0], figures[p, 2], positions[p], threshold, at_equality, without_requirement
        )


@njit(cache=True, error_model="numpy")
def add_collateral(
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
    """Add asset ``a``'s weighted balance (both sides) to the equity of each pool in ``holders``.

    A flat weight without size discount (most assets) is applied directly, without the band search.
    """
    flat = imf[a] == 0.0 and (band_from.shape[1] == 1 or band_from[a, 1] == np.inf)
    held_m, held_i = weight[0, a, 0] * price, weight[1, a, 0] * price
    owed_m, owed_i = liability[0, a] * price, liability[1, a] * price
    for idx in range(holders.shape[0]):
        p = holders[idx]
        held = balance[a, p]
        if not haircut[p]:
            figures[p, 0] += held * price
            figures[p, 1] += held * price
        elif flat:
            figures[p, 0] += held * (held_m if held >= 0.0 else owed_m)
            figures[p, 1] += held * (held_i if held >= 0.0 else owed_i)
        else:
            figures[p, 0] += weighted_amount(held, a, 0, band_from, weight, offset, liability, imf) * price
            figures[p, 1] += weighted_amount(held, a, 1, band_from, weight, offset, liability, imf) * price


@njit(cache=True, error_model="numpy")
def decide(
    count: int,
    figures: F64,
    positions: INDEX,
    threshold: float,
    at_equality: bool,
    without_requirement: bool,
    liquidatable: np.ndarray,
) -> None:
    """The rulebook's verdict for pools ``0 .. count - 1`` from their figures."""
    for p in range(count):
        liquidatable[p] = _verdict(
            figures[p, 0], figures[p, 2], positions[p], threshold, at_equality, without_requirement
        )
