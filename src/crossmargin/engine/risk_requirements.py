"""Risk-based requirements in the float mirror: the scenario grid (:mod:`crossmargin.margin.scenario`) and
the VaR floor (:mod:`crossmargin.margin.var_floor`), pool by pool, for books of futures, perpetuals and
options.

Both are functions of a whole pool (a worst case over the pool's positions on each underlying; a
quadratic form over its exposures), so they are computed pool-major: :func:`pool_requirements` reads
each pool's slots (``order[start[n]:stop[n]]`` for the ``n``-th pool asked for) and writes the pool's
maintenance and initial requirement (base currency), starting from its tier sums. It takes the book's
typed arrays (:class:`~crossmargin.engine.kernels.SlotArrays`, ``PoolArrays``, the market and rule arrays)
and the factors' (:class:`FactorArrays`); a position's PnL is :func:`crossmargin.engine.terms.unrealized_pnl`.

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
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from crossmargin.engine import terms
from crossmargin.engine.kernels import PoolArrays, SlotArrays
from crossmargin.engine.rule_arrays import B1, F64, I64, INDEX, AssetArrays, InstrumentArrays, MarketArrays
from crossmargin.margin.options import year_fraction
from crossmargin.margin.valuation import atm_vol, is_option
from crossmargin.margin.var_floor import DAYS_PER_YEAR
from crossmargin.model import InputError, Instrument, Market, OptionRight, RuleChoices


class OptionArrays(NamedTuple):
    """Per instrument: whether it is an option, and its Black-76 inputs (zeros for the others); its smile
    as ``(moneyness, vol)`` points ``[:points]`` of each row."""

    option: B1
    coin_settled: B1
    strike: F64
    years: F64  # to expiry from the market's valuation time
    sign: F64  # +1 a call, -1 a put
    rate: float
    moneyness: F64  # [instrument, point]
    vol: F64
    points: I64  # [instrument] how many smile points


class FactorArrays(NamedTuple):
    """The factor arrays of a book under one set of rules (see module doc): what :func:`pool_requirements`
    reads."""

    of_instrument: I64  # [instrument] its underlying's factor
    of_asset: I64  # [asset] its factor (-1: the base)
    settles_in_underlying: B1  # [instrument]
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


class RiskFactors(FactorArrays):
    """:class:`FactorArrays` with the factors' names and the option inputs as plain attributes: the kernel
    never sees the names (see :class:`~crossmargin.engine.rule_arrays.InstrumentArrays`) and takes the
    options as an argument of their own (Numba cannot carry a namedtuple nested in another into a parallel
    loop)."""

    names: tuple[str, ...]
    options: OptionArrays

    def prices(self, market: Market) -> F64:
        """Each factor's price in base currency."""
        return np.array([float(market.price(name)) for name in self.names])


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
        points=np.array([len(points) for points in smiles], dtype=np.int64),
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
    factors = RiskFactors(
        of_instrument=np.array([names.index(u) for u in underlyings], dtype=np.int64),
        of_asset=np.array([names.index(a) if a in names else -1 for a in assets.names], dtype=np.int64),
        settles_in_underlying=np.array(
            [instruments[name].settle == instruments[name].underlying for name in arrays.names], dtype=np.bool_
        ),
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
    factors.names = names
    factors.options = option_arrays(market, instruments, arrays)
    return factors


@njit(cache=True)
def slots_by_pool(pool: INDEX, pools: int) -> tuple[I64, I64]:
    """``(first, slots)``: pool ``p``'s slots are ``slots[first[p]:first[p + 1]]``, ascending (empty slots, pool
    -1, left out). A counting sort: one pass counts, one places (a sort of four million slots took a second)."""
    first = np.zeros(pools + 1, dtype=np.int64)
    for j in range(pool.shape[0]):
        if pool[j] >= 0:
            first[pool[j] + 1] += 1
    for p in range(pools):
        first[p + 1] += first[p]
    slots = np.empty(first[pools], dtype=np.int64)
    fill = first[:pools].copy()
    for j in range(pool.shape[0]):
        p = pool[j]
        if p >= 0:
            slots[fill[p]] = j
            fill[p] += 1
    return first, slots


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
def _premium(i: int, forward: float, shock: float, option: OptionArrays) -> tuple[float, float]:
    """Option ``i``'s premium per unit of underlying in its settle asset, and its delta, at ``forward`` with
    its smile volatility x ``(1 + shock)`` (``valuation.option_premium``, ``options.inverse_price``)."""
    sigma = _smile(option.strike[i], forward, option.moneyness[i], option.vol[i], option.points[i]) * (1.0 + shock)
    price, delta = _black76(forward, option.strike[i], max(sigma, 0.0), option.years[i], option.rate, option.sign[i])
    return (price / forward if option.coin_settled[i] else price), delta


@njit(cache=True, error_model="numpy")
def pool_requirements(
    lo: int,
    hi: int,
    items: INDEX,
    start: I64,
    stop: I64,
    order: I64,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    factors: FactorArrays,
    options: OptionArrays,
    factor_price: F64,
    out: F64,
) -> None:
    """The maintenance and initial requirement (base currency) of each of ``items[lo:hi]`` into ``out[p]`` (see
    module doc): the grid's (when ``factors.moves`` is not empty) in place of the tier sums
    ``pools.sums[p, 2:4]``, then at least the VaR (when ``factors.var_scale`` > 0). The ``n``-th pool's slots
    are ``order[start[n]:stop[n]]``; a pool without positions keeps its tier sums. Run through
    :func:`crossmargin.engine.kernels.on_cores`; the scratch arrays are cleared after each pool where it wrote
    them."""
    balance, prices = pools.balance, market.prices
    count_factors = factor_price.shape[0]
    grid = factors.moves.shape[0]
    loss = np.zeros((count_factors, grid, factors.shocks.shape[0]))
    delta = np.zeros(count_factors)  # the positions' deltas, units of each underlying
    gross = np.zeros(count_factors)
    sold = np.zeros(count_factors)
    exposure = np.zeros(count_factors)
    held = np.zeros(count_factors, dtype=np.bool_)
    touched = np.zeros(count_factors, dtype=np.int64)
    for n in range(lo, hi):
        p = items[n]
        maintenance, initial = pools.sums[p, 2], pools.sums[p, 3]
        if stop[n] > start[n]:
            count = 0
            for s in range(start[n], stop[n]):
                f = factors.of_instrument[slots.instrument[order[s]]]
                if not held[f]:
                    held[f] = True
                    touched[count] = f
                    count += 1
                _position(
                    order[s], f, slots, market, t, factors, options, factor_price, grid > 0, loss, delta, gross, sold
                )
            if grid > 0:
                maintenance = _grid(p, touched[:count], balance, factors, factor_price, loss, delta, gross, sold, held)
                initial = maintenance * factors.initial_factor
            if factors.var_scale > 0.0:
                of_asset = factors.of_asset
                for a in range(balance.shape[0]):
                    if of_asset[a] >= 0:
                        exposure[of_asset[a]] += balance[a, p] * prices[a]
                for k in range(count):
                    exposure[touched[k]] += delta[touched[k]] * factor_price[touched[k]]
                maintenance = max(maintenance, _value_at_risk(exposure, factors))
                initial = max(initial, maintenance)
                exposure[:] = 0.0
            for k in range(count):
                f = touched[k]
                loss[f] = 0.0
                delta[f], gross[f], sold[f], held[f] = 0.0, 0.0, 0.0, False
        out[p, 0], out[p, 1] = maintenance, initial


@njit(cache=True, parallel=True)
def on_threads(
    parts: int,
    n: int,
    items: INDEX,
    start: I64,
    stop: I64,
    order: I64,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    factors: FactorArrays,
    options: OptionArrays,
    factor_price: F64,
    out: F64,
) -> None:
    """:func:`pool_requirements` over ``parts`` ranges of ``n`` pools on the threads: ``kernels.on_cores``'s
    spreading for this module's kernel, calling it by name (a kernel passed in would be part of the cache
    key, which then differs in every process; see there). Its arguments are named: Numba cannot carry a
    namedtuple among star-arguments into a parallel loop."""
    for part in prange(parts):
        lo, hi = part * n // parts, (part + 1) * n // parts
        pool_requirements(
            lo, hi, items, start, stop, order, slots, pools, market, t, factors, options, factor_price, out
        )


@njit(cache=True, inline="always", error_model="numpy")
def _position(
    j: int,
    f: int,
    slots: SlotArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    factors: FactorArrays,
    options: OptionArrays,
    factor_price: F64,
    on_grid: bool,
    loss: F64,
    delta: F64,
    gross: F64,
    sold: F64,
) -> None:
    """Add slot ``j``'s delta (units of its underlying ``f``) and, ``on_grid``, its loss at every (move,
    shock), its gross notional and the notional of an option sold (base currency): the per-position part of
    ``scenario._underlying``."""
    moves, shocks = factors.moves, factors.shocks
    i = slots.instrument[j]
    size, c, e, inverse = slots.size[j], t.contract_size[i], slots.entry[j], t.inverse[i]
    units = size * c
    mark, settle_price, price = market.marks[i], market.prices[t.settle[i]], factor_price[f]
    in_underlying = factors.settles_in_underlying[i]
    if not options.option[i]:
        delta[f] += units / mark if inverse else units
        if not on_grid:
            return
        now = terms.unrealized_pnl(size, c, e, mark, inverse) * settle_price
        for k in range(moves.shape[0]):
            moved = settle_price * (1.0 + moves[k]) if in_underlying else settle_price
            change = now - terms.unrealized_pnl(size, c, e, mark * (1.0 + moves[k]), inverse) * moved
            for v in range(shocks.shape[0]):
                loss[f, k, v] += change
        gross[f] += abs(units) * price / mark if inverse else abs(units) * price
        return
    coin = options.coin_settled[i]
    forward = price if coin else price / settle_price
    premium, option_delta = _premium(i, forward, 0.0, options)
    delta[f] += units * option_delta
    if not on_grid:
        return
    now = units * (premium - e) * settle_price
    for k in range(moves.shape[0]):
        moved = settle_price * (1.0 + moves[k]) if in_underlying else settle_price
        moved_forward = price * (1.0 + moves[k]) if coin else price * (1.0 + moves[k]) / moved
        for v in range(shocks.shape[0]):
            loss[f, k, v] += now - units * (_premium(i, moved_forward, shocks[v], options)[0] - e) * moved
    gross[f] += abs(units) * price
    if units < 0.0:
        sold[f] += abs(units) * price


@njit(cache=True, inline="always", error_model="numpy")
def _grid(
    p: int,
    touched: I64,
    balance: F64,
    factors: FactorArrays,
    factor_price: F64,
    loss: F64,
    delta: F64,
    gross: F64,
    sold: F64,
    held: B1,
) -> float:
    """Pool ``p``'s grid requirement (:func:`crossmargin.margin.scenario.scenario_requirement`: the
    ``ScenarioMargin`` terms) from its positions' losses, deltas and notionals on its underlyings ``touched``:
    its balance of each underlying moved with it, worst losses with the short-option minimum, the delta and
    concentration add-ons, the correlation credit."""
    moves, of_asset = factors.moves, factors.of_asset
    for a in range(balance.shape[0]):
        f = of_asset[a]
        if f >= 0 and held[f] and balance[a, p] != 0.0:
            for k in range(moves.shape[0]):
                loss[f, k] -= balance[a, p] * factor_price[f] * moves[k]
    total, largest, addons = 0.0, 0.0, 0.0
    for f in touched:
        worst = max(0.0, loss[f].max(), factors.short_minimum * sold[f])
        total += worst
        largest = max(largest, worst)
        net = delta[f]
        for a in range(balance.shape[0]):
            if of_asset[a] == f:
                net += balance[a, p]
        addons += factors.addon * abs(net) * factor_price[f]
        if factors.threshold < math.inf:
            addons += factors.rate * max(0.0, gross[f] - factors.threshold)
    return float(total - factors.credit * (total - largest) + addons)


@njit(cache=True, inline="always", error_model="numpy")
def _value_at_risk(exposure: F64, factors: FactorArrays) -> float:
    """The delta-normal VaR of ``exposure`` (base currency per factor):
    :func:`crossmargin.margin.var_floor.var_requirement` (the ``VarFloor`` terms in ``var_scale``)."""
    covariance = factors.covariance
    variance = 0.0
    for f in range(exposure.shape[0]):
        if exposure[f] != 0.0:
            for g in range(exposure.shape[0]):
                variance += exposure[f] * covariance[f, g] * exposure[g]
    return float(factors.var_scale * math.sqrt(max(variance, 0.0)))


terms.depends_on_terms(globals())
