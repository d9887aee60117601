"""Risk-based requirements in the float mirror: the scenario grid (:mod:`crossmargin.margin.scenario`) and
the VaR floor (:mod:`crossmargin.margin.var_floor`), pool by pool, for books of futures, perpetuals and
options.

Both are functions of a whole pool (a worst case over the pool's positions on each underlying; a
quadratic form over its exposures), so they are computed pool-major: :func:`pool_requirements` reads
each pool's slots (``slots[start[n]:stop[n]]`` for the ``n``-th pool asked for) and writes the pool's
maintenance and initial requirement (base currency), starting from its tier sums.

A *factor* is an asset other than the base or an underlying: every one needs a price in the market
(the exact maths falls back on a mark where an underlying has none; the mirror does not), and under a
VaR floor a volatility. At a move ``m`` and a volatility shock ``v`` of the grid, as in the exact maths:
a future's or perpetual's value is its PnL at the mark x ``(1 + m)`` times its settle price (x ``(1 + m)``
too where it settles in its own underlying); an option's is its Black-76 premium (over the forward when
coin-settled) at the forward x ``(1 + m)`` and its smile volatility there x ``(1 + v)``, less its entry
premium, times the same settle price; a balance of the underlying loses ``balance x price x m``. An
option's delta (for the add-on and the VaR floor) is its Black-76 delta at the market.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numba import njit, prange

from crossmargin.engine.rule_arrays import B1, F64, I64, INDEX, AssetArrays, InstrumentArrays
from crossmargin.margin.options import year_fraction
from crossmargin.margin.valuation import atm_vol, is_option
from crossmargin.margin.var_floor import DAYS_PER_YEAR
from crossmargin.model import InputError, Instrument, Market, OptionRight, RuleChoices


@dataclass(frozen=True)
class RiskFactors:
    """The factor arrays of a book under one set of rules (see module doc)."""

    names: tuple[str, ...]
    of_instrument: I64  # [instrument] its underlying's factor
    of_asset: I64  # [asset] its factor (-1: the base)
    settles_in_underlying: B1  # [instrument]
    options: "OptionArrays"
    short_minimum: float
    moves: F64  # the grid's moves (empty: no scenario grid)
    shocks: F64  # the grid's volatility shocks
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


@dataclass(frozen=True)
class OptionArrays:
    """Per instrument: whether it is an option, and its Black-76 inputs (zeros for the others); its smile
    as ``(moneyness, vol)`` points ``[:count]`` of each row."""

    option: B1
    coin_settled: B1
    strike: F64
    years: F64  # to expiry from the market's valuation time
    sign: F64  # +1 a call, -1 a put
    rate: float
    moneyness: F64  # [instrument, point]
    vol: F64
    count: I64

    def kernel_inputs(self) -> "OptionInputs":
        """The arrays :func:`pool_requirements` reads, in its order."""
        return (self.coin_settled, self.strike, self.years, self.sign, self.rate, self.moneyness, self.vol, self.count)


OptionInputs = tuple[B1, F64, F64, F64, float, F64, F64, I64]


def option_arrays(market: Market, instruments: Mapping[str, Instrument], arrays: InstrumentArrays) -> OptionArrays:
    """The option inputs of every instrument (an :class:`~crossmargin.model.InputError` names a missing
    valuation time or volatility)."""
    specs = [instruments[name] for name in arrays.names]
    smiles = [
        [(float(m), float(v)) for m, v in market.vol_points(spec.name, spec.underlying)] if is_option(spec) else []
        for spec in specs
    ]
    if any(is_option(spec) for spec in specs) and market.valuation_time is None:
        raise InputError("valuation_time", "needed to value the book's options")
    width = max((len(points) for points in smiles), default=1) or 1
    moneyness, vol = np.ones((len(specs), width)), np.zeros((len(specs), width))
    for i, points in enumerate(smiles):
        for k, (m, v) in enumerate(points):
            moneyness[i, k], vol[i, k] = m, v
    return OptionArrays(
        option=np.array([is_option(s) for s in specs], dtype=np.bool_),
        coin_settled=np.array([is_option(s) and s.coin_settled for s in specs], dtype=np.bool_),
        strike=np.array([float(s.strike) if s.strike is not None else 0.0 for s in specs]),
        years=np.array(
            [
                year_fraction(market.valuation_time, s.expiry)
                if is_option(s) and market.valuation_time is not None and s.expiry is not None
                else 0.0
                for s in specs
            ]
        ),
        sign=np.array([-1.0 if s.right is OptionRight.PUT else 1.0 for s in specs]),
        rate=float(market.rate),
        moneyness=moneyness,
        vol=vol,
        count=np.array([len(points) for points in smiles], dtype=np.int64),
    )


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
        options=option_arrays(market, instruments, arrays),
        short_minimum=float(grid.short_option_minimum) if grid is not None else 0.0,
        moves=np.array([float(m) for m in grid.moves]) if grid is not None else np.zeros(0),
        shocks=np.array([float(v) for v in grid.vol_shocks]) if grid is not None else np.zeros(1),
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


@njit(cache=True, error_model="numpy")
def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@njit(cache=True, error_model="numpy")
def _smile(strike: float, forward: float, moneyness: F64, vol: F64, count: int) -> float:
    """``options.smile_vol``: linear in moneyness between points, flat beyond them."""
    x = strike / forward
    if x <= moneyness[0]:
        return float(vol[0])
    if x >= moneyness[count - 1]:
        return float(vol[count - 1])
    k = 1
    while moneyness[k] <= x:
        k += 1
    return float(vol[k - 1] + (vol[k] - vol[k - 1]) * (x - moneyness[k - 1]) / (moneyness[k] - moneyness[k - 1]))


@njit(cache=True, error_model="numpy")
def _black76(forward: float, strike: float, vol: float, t: float, rate: float, sign: float) -> tuple[float, float]:
    """``options.black76``'s price and delta (per unit of underlying, strike currency)."""
    discount = math.exp(-rate * t)
    spread = vol * math.sqrt(t)
    if spread == 0.0:
        intrinsic = max(sign * (forward - strike), 0.0)
        exercised = 1.0 if intrinsic > 0.0 else 0.5 if forward == strike else 0.0
        return discount * intrinsic, sign * discount * exercised
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    price = discount * sign * (forward * _cdf(sign * d1) - strike * _cdf(sign * d2))
    return price, sign * discount * _cdf(sign * d1)


@njit(cache=True, error_model="numpy")
def _premium(i: int, forward: float, shock: float, option: OptionInputs) -> tuple[float, float]:
    """Option ``i``'s premium per unit of underlying in its settle asset, and its delta, at ``forward`` with
    its smile volatility x ``(1 + shock)``."""
    coin, strike, years, sign, rate, moneyness, vol, count = option
    sigma = _smile(strike[i], forward, moneyness[i], vol[i], count[i]) * (1.0 + shock)
    price, delta = _black76(forward, strike[i], max(sigma, 0.0), years[i], rate, sign[i])
    return (price / forward if coin[i] else price), delta


@njit(cache=True, error_model="numpy")
def pool_requirements(
    lo: int, hi: int, pools: INDEX, start: I64, stop: I64, slots: I64, size: F64, entry: F64, instrument: INDEX,
    marks: F64, prices: F64, balance: F64, contract_size: F64, inverse: np.ndarray, settle: I64, of_instrument: I64,
    of_asset: I64, settles_in_underlying: np.ndarray, is_option: np.ndarray, coin_settled: np.ndarray, strike: F64,
    years: F64, sign: F64, option_rate: float, moneyness: F64, vol: F64, points: I64, factor_price: F64, moves: F64,
    shocks: F64, short_minimum: float, addon: float, threshold: float, rate: float, credit: float,
    initial_factor: float, var_scale: float, covariance: F64, tiers: F64, out: F64,
) -> None:  # fmt: skip
    """The maintenance and initial requirement of each of ``pools[lo:hi]`` into ``out[p]`` (see module doc):
    the grid's (when ``moves`` is not empty) in place of the tier sums ``tiers[p]``, then at least the VaR
    (when ``var_scale`` > 0). A pool without positions keeps its tier sums. ``coin_settled`` .. ``points``
    are :meth:`OptionArrays.kernel_inputs`. Run through :func:`crossmargin.engine.kernels.on_cores`; the
    scratch arrays are cleared after each pool where it wrote them."""
    option = (coin_settled, strike, years, sign, option_rate, moneyness, vol, points)
    factors = factor_price.shape[0]
    grid, shocked = moves.shape[0], shocks.shape[0]
    loss = np.zeros((factors, grid, shocked))
    delta = np.zeros(factors)  # the positions' deltas, units of each underlying
    gross = np.zeros(factors)
    sold = np.zeros(factors)
    exposure = np.zeros(factors)
    held = np.zeros(factors, dtype=np.bool_)
    touched = np.zeros(factors, dtype=np.int64)
    for n in range(lo, hi):
        p = pools[n]
        maintenance, initial = tiers[p, 0], tiers[p, 1]
        if stop[n] > start[n]:
            count = 0
            for s in range(start[n], stop[n]):
                f = of_instrument[instrument[slots[s]]]
                if not held[f]:
                    held[f] = True
                    touched[count] = f
                    count += 1
                _position(slots[s], f, size, entry, instrument, marks, prices, contract_size, inverse, settle,
                          settles_in_underlying, is_option, option, factor_price, moves, shocks, grid > 0, loss,
                          delta, gross, sold)  # fmt: skip
            if grid > 0:
                maintenance = _grid(p, touched[:count], balance, of_asset, factor_price, moves, loss, delta, gross,
                                    sold, held, short_minimum, addon, threshold, rate, credit)  # fmt: skip
                initial = maintenance * initial_factor
            if var_scale > 0.0:
                for a in range(balance.shape[0]):
                    if of_asset[a] >= 0:
                        exposure[of_asset[a]] += balance[a, p] * prices[a]
                for k in range(count):
                    exposure[touched[k]] += delta[touched[k]] * factor_price[touched[k]]
                variance = 0.0
                for f in range(factors):
                    if exposure[f] != 0.0:
                        for g in range(factors):
                            variance += exposure[f] * covariance[f, g] * exposure[g]
                maintenance = max(maintenance, var_scale * math.sqrt(max(variance, 0.0)))
                initial = max(initial, maintenance)
                exposure[:] = 0.0
            for k in range(count):
                f = touched[k]
                loss[f] = 0.0
                delta[f], gross[f], sold[f], held[f] = 0.0, 0.0, 0.0, False
        out[p, 0], out[p, 1] = maintenance, initial


@njit(cache=True, parallel=True)
def on_threads(parts: int, n: int, *arrays: Any) -> None:
    """:func:`pool_requirements` over ``parts`` ranges of ``n`` pools on the threads: ``kernels.on_cores``'s
    spreading for this module's kernel, calling it by name (a kernel passed in would be part of the cache
    key, which then differs in every process; see there)."""
    for part in prange(parts):
        pool_requirements(part * n // parts, (part + 1) * n // parts, *arrays)


@njit(cache=True, error_model="numpy")
def _position(
    j: int, f: int, size: F64, entry: F64, instrument: INDEX, marks: F64, prices: F64, contract_size: F64,
    inverse: np.ndarray, settle: I64, settles_in_underlying: np.ndarray, is_option: np.ndarray, option: OptionInputs,
    factor_price: F64, moves: F64, shocks: F64, on_grid: bool, loss: F64, delta: F64, gross: F64, sold: F64,
) -> None:  # fmt: skip
    """Add slot ``j``'s delta (units of its underlying ``f``) and, ``on_grid``, its loss at every (move,
    shock), its gross notional and the notional of an option sold (base currency)."""
    i = instrument[j]
    units = size[j] * contract_size[i]
    mark, settle_price, price = marks[i], prices[settle[i]], factor_price[f]
    if not is_option[i]:
        delta[f] += units / mark if inverse[i] else units
        if not on_grid:
            return
        now = _pnl(units, mark, entry[j], inverse[i]) * settle_price
        for k in range(moves.shape[0]):
            moved = settle_price * (1.0 + moves[k]) if settles_in_underlying[i] else settle_price
            change = now - _pnl(units, mark * (1.0 + moves[k]), entry[j], inverse[i]) * moved
            for v in range(shocks.shape[0]):
                loss[f, k, v] += change
        gross[f] += abs(units) * price / mark if inverse[i] else abs(units) * price
        return
    coin = option[0][i]
    forward = price if coin else price / settle_price
    premium, option_delta = _premium(i, forward, 0.0, option)
    delta[f] += units * option_delta
    if not on_grid:
        return
    now = units * (premium - entry[j]) * settle_price
    for k in range(moves.shape[0]):
        moved = settle_price * (1.0 + moves[k]) if settles_in_underlying[i] else settle_price
        moved_forward = price * (1.0 + moves[k]) if coin else price * (1.0 + moves[k]) / moved
        for v in range(shocks.shape[0]):
            loss[f, k, v] += now - units * (_premium(i, moved_forward, shocks[v], option)[0] - entry[j]) * moved
    gross[f] += abs(units) * price
    if units < 0.0:
        sold[f] += abs(units) * price


@njit(cache=True, error_model="numpy")
def _grid(
    p: int, touched: I64, balance: F64, of_asset: I64, factor_price: F64, moves: F64, loss: F64, delta: F64,
    gross: F64, sold: F64, held: np.ndarray, short_minimum: float, addon: float, threshold: float, rate: float,
    credit: float,
) -> float:  # fmt: skip
    """Pool ``p``'s grid requirement from its positions' losses, deltas and notionals on its underlyings
    ``touched``: its balance of each underlying moved with it, worst losses, add-ons, the credit."""
    for a in range(balance.shape[0]):
        f = of_asset[a]
        if f >= 0 and held[f] and balance[a, p] != 0.0:
            for k in range(moves.shape[0]):
                loss[f, k] -= balance[a, p] * factor_price[f] * moves[k]
    total, largest, addons = 0.0, 0.0, 0.0
    for f in touched:
        worst = max(0.0, loss[f].max(), short_minimum * sold[f])
        total += worst
        largest = max(largest, worst)
        net = delta[f]
        for a in range(balance.shape[0]):
            if of_asset[a] == f:
                net += balance[a, p]
        addons += addon * abs(net) * factor_price[f]
        if threshold < math.inf:
            addons += rate * max(0.0, gross[f] - threshold)
    return total - credit * (total - largest) + addons
