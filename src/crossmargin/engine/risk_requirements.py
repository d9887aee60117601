"""Risk-based requirements in the float mirror: the scenario grid (:mod:`crossmargin.margin.scenario`) and
the VaR floor (:mod:`crossmargin.margin.var_floor`), pool by pool, for books of futures and perpetuals.

Both are functions of a whole pool (a worst case over the pool's positions on each underlying; a
quadratic form over its exposures), so they are computed pool-major: :func:`pool_requirements` reads
each pool's slots through an index of slots by pool (``first[p] .. first[p + 1]`` of ``slots``) and
writes the pool's maintenance and initial requirement (base currency), starting from its tier sums.

A *factor* is an asset other than the base or an underlying: every one needs a price in the market
(the exact maths falls back on a mark where an underlying has none; the mirror does not), and under a
VaR floor a volatility. For a future or perpetual the grid's volatility shocks change nothing, so only
the moves are walked: each position's value at a move ``m`` is its PnL at the mark x ``(1 + m)`` times
its settle price (x ``(1 + m)`` too where it settles in its own underlying), exactly the exact maths'
revaluation; a balance of the underlying loses ``balance x price x m``.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numba import njit, prange

from crossmargin.engine.rule_arrays import B1, F64, I64, INDEX, AssetArrays, InstrumentArrays
from crossmargin.margin.valuation import atm_vol
from crossmargin.margin.var_floor import DAYS_PER_YEAR
from crossmargin.model import InputError, Instrument, Market, RuleChoices


@dataclass(frozen=True)
class RiskFactors:
    """The factor arrays of a book under one set of rules (see module doc)."""

    names: tuple[str, ...]
    of_instrument: I64  # [instrument] its underlying's factor
    of_asset: I64  # [asset] its factor (-1: the base)
    settles_in_underlying: B1  # [instrument]
    moves: F64  # the grid's moves (empty: no scenario grid)
    addon: float
    threshold: float  # inf: no concentration add-on
    rate: float
    credit: float
    initial_factor: float
    var_scale: float  # z(level) x sqrt(horizon days); 0: no VaR floor
    covariance: F64  # [factor, factor] of daily returns

    def prices(self, market: Market) -> F64:
        """Each factor's price in base currency."""
        return np.array([float(market.price(name)) for name in self.names])


def risk_factors(
    rules: RuleChoices,
    market: Market,
    instruments: Mapping[str, Instrument],
    arrays: InstrumentArrays,
    assets: AssetArrays,
) -> RiskFactors | None:
    """The factors of a book under ``rules`` (None: no scenario grid or VaR floor); an
    :class:`~crossmargin.model.InputError` names a missing price or volatility."""
    grid, floor = rules.scenario_margin, rules.var_floor
    if grid is None and floor is None:
        return None
    underlyings = [instruments[name].underlying for name in arrays.names]
    names = tuple(sorted({a for a in assets.names if a != market.base} | set(underlyings)))
    for name in names:
        if name not in market.prices:
            raise InputError(f"prices.{name}", "the risk book's scenario grid and VaR floor need a price for it")
    covariance = np.zeros((len(names), len(names)))
    if floor is not None:
        sigma = []
        for name in names:
            vol = atm_vol(market, name)
            if vol is None:
                raise InputError(f"vols.{name}", "the risk book's VaR floor needs a volatility for every asset")
            sigma.append(vol / math.sqrt(DAYS_PER_YEAR))
        rho = np.array([[float(market.correlation(a, b)) for b in names] for a in names])
        covariance = rho * np.outer(sigma, sigma)
    return RiskFactors(
        names=names,
        of_instrument=np.array([names.index(u) for u in underlyings], dtype=np.int64),
        of_asset=np.array([names.index(a) if a in names else -1 for a in assets.names], dtype=np.int64),
        settles_in_underlying=np.array(
            [instruments[name].settle == instruments[name].underlying for name in arrays.names], dtype=np.bool_
        ),
        moves=np.array([float(m) for m in grid.moves]) if grid is not None else np.zeros(0),
        addon=float(grid.delta_addon) if grid is not None else 0.0,
        threshold=(
            float(grid.concentration_threshold)
            if grid is not None and grid.concentration_threshold is not None
            else math.inf
        ),
        rate=float(grid.concentration_rate) if grid is not None else 0.0,
        credit=float(grid.correlation_credit) if grid is not None else 0.0,
        initial_factor=float(grid.initial_factor) if grid is not None else 1.0,
        var_scale=(
            NormalDist().inv_cdf(float(floor.level)) * math.sqrt(float(floor.horizon_days))
            if floor is not None
            else 0.0
        ),
        covariance=covariance,
    )


def slots_by_pool(pool: INDEX, pools: int) -> tuple[I64, I64]:
    """``(first, slots)``: pool ``p``'s slots are ``slots[first[p]:first[p + 1]]`` (empty slots, pool -1,
    left out)."""
    held = np.flatnonzero(pool >= 0)
    slots = held[np.argsort(pool[held], kind="stable")].astype(np.int64)
    first = np.zeros(pools + 1, dtype=np.int64)
    first[1:] = np.cumsum(np.bincount(pool[held], minlength=pools)[:pools])
    return first, slots


@njit(cache=True, error_model="numpy")
def _pnl(units: float, mark: float, entry: float, inverse: bool) -> float:
    if inverse:
        return units * (1.0 / entry - 1.0 / mark)
    return units * (mark - entry)


@njit(cache=True, parallel=True, error_model="numpy")
def pool_requirements(
    pools: INDEX, first: I64, slots: I64, size: F64, entry: F64, instrument: INDEX, marks: F64, prices: F64,
    balance: F64, contract_size: F64, inverse: np.ndarray, settle: I64, of_instrument: I64, of_asset: I64,
    settles_in_underlying: np.ndarray, factor_price: F64, moves: F64, addon: float, threshold: float, rate: float,
    credit: float, initial_factor: float, var_scale: float, covariance: F64, tiers: F64, out: F64,
) -> None:  # fmt: skip
    """Each of ``pools``' maintenance and initial requirement into ``out[p]`` (see module doc): the grid's
    (when ``moves`` is not empty) in place of the tier sums ``tiers[p]``, then at least the VaR (when
    ``var_scale`` > 0). A pool without positions keeps its tier sums."""
    factors = factor_price.shape[0]
    grid = moves.shape[0]
    for n in prange(pools.shape[0]):
        p = pools[n]
        maintenance, initial = tiers[p, 0], tiers[p, 1]
        if first[p + 1] == first[p]:
            out[p, 0], out[p, 1] = maintenance, initial
            continue
        delta = np.zeros(factors)
        if grid > 0:
            loss = np.zeros((factors, grid))
            gross = np.zeros(factors)
            held = np.zeros(factors, dtype=np.bool_)
            for s in range(first[p], first[p + 1]):
                j = slots[s]
                i = instrument[j]
                f = of_instrument[i]
                units = size[j] * contract_size[i]
                mark, settle_price = marks[i], prices[settle[i]]
                now = _pnl(units, mark, entry[j], inverse[i]) * settle_price
                for k in range(grid):
                    moved = settle_price * (1.0 + moves[k]) if settles_in_underlying[i] else settle_price
                    loss[f, k] += now - _pnl(units, mark * (1.0 + moves[k]), entry[j], inverse[i]) * moved
                if inverse[i]:
                    delta[f] += units / mark
                    gross[f] += abs(units) * factor_price[f] / mark
                else:
                    delta[f] += units
                    gross[f] += abs(units) * factor_price[f]
                held[f] = True
            for a in range(balance.shape[0]):
                f = of_asset[a]
                if f >= 0 and held[f] and balance[a, p] != 0.0:
                    for k in range(grid):
                        loss[f, k] -= balance[a, p] * factor_price[f] * moves[k]
                    delta[f] += balance[a, p]
            total, largest, addons = 0.0, 0.0, 0.0
            for f in range(factors):
                if not held[f]:
                    continue
                worst = 0.0
                for k in range(grid):
                    worst = max(worst, loss[f, k])
                total += worst
                largest = max(largest, worst)
                addons += addon * abs(delta[f]) * factor_price[f]
                if threshold < math.inf:
                    addons += rate * max(0.0, gross[f] - threshold)
            maintenance = total - credit * (total - largest) + addons
            initial = maintenance * initial_factor
        if var_scale > 0.0:
            exposure = np.zeros(factors)
            for a in range(balance.shape[0]):
                f = of_asset[a]
                if f >= 0:
                    exposure[f] += balance[a, p] * prices[a]
            for s in range(first[p], first[p + 1]):
                j = slots[s]
                i = instrument[j]
                units = size[j] * contract_size[i]
                f = of_instrument[i]
                exposure[f] += (units / marks[i] if inverse[i] else units) * factor_price[f]
            variance = 0.0
            for f in range(factors):
                if exposure[f] != 0.0:
                    for g in range(factors):
                        variance += exposure[f] * covariance[f, g] * exposure[g]
            maintenance = max(maintenance, var_scale * math.sqrt(max(variance, 0.0)))
            initial = max(initial, maintenance)
        out[p, 0], out[p, 1] = maintenance, initial
