"""Every account's chance of liquidation within a horizon, for the whole risk book at once, and the buffer an
agent with a reaction time needs (float64 model figures, not ledger money).

The model is :mod:`crossmargin.margin.first_passage`'s (read its module doc), driftless, evaluated on the
risk book's arrays instead of account by account:

- each pool's health ``H_0 = equity - threshold x maintenance`` from the book's figures (base currency);
- its risk factors: the underlyings of its positions and the non-base assets it holds or owes;
- for each factor ``u`` the barrier ``s*_u`` from the array liquidation prices
  (:func:`crossmargin.engine.liquidation_prices.book_liquidation_prices`, with every mark on the underlying and
  its price moving, as the exact odds do whatever the rulebook's ``liquidation_price_moves``): ``ln s*_u`` is
  ``ln(price / mark)`` of the pool's slots on ``u``, the one below taken where the health rises with the
  price, the one above where it falls (the exact solver's first direction). A factor the pool only holds (no
  position on it) moves the health linearly, ``H(s) = H_0 + D (s - 1)``: its barrier is ``1 - H_0 / D`` where
  that lies in the solver's range;
- the tangent ``dH / d ln s_u``: the central difference of the pool's health at ``1 +- 1e-3`` x every price of
  ``u`` (:data:`~crossmargin.margin.first_passage.BUMP`), each side one full revaluation of the book's figures
  (the book's own kernels on copies of its pool arrays), as the exact path differences the exact health;
- the slope ``g_u = -H_0 / ln s*_u`` on a barrier, else the tangent; the one-factor probability on a barrier,
  0 where the solver says no move of ``u`` alone liquidates the pool, the tangent's line where it does not
  price the pool (an option);
- ``sigma_H = sqrt(g' C g)`` with ``C_uv = rho_uv sigma_u sigma_v`` (per second), and the pool's probability
  ``2 N(-H_0 / (sigma_H sqrt T))`` (one factor: its one-factor figure), its median first-passage time
  ``(H_0 / (sigma_H z))**2`` with ``z = N^-1(3/4)``.

An account's probability is the largest of its pools' and its median time the smallest (driftless, the two go
together: the likeliest pool is the soonest); an account without a pool that can be liquidated has 0 and
``inf``. A pool already liquidatable (or with no health left) has 1 and 0.

**Buffer calibration** (:func:`calibrate`). An agent that starts de-risking when an account's health is ``d``
above the point it must not reach, and needs up to ``T`` seconds to be done, fails when the health falls by
``d`` within ``T``: driftless, ``P = 2 N(-d / (sigma_H sqrt T))``. Asking ``P <= e`` gives the buffer

    d = sigma_H sqrt(T) N^-1(1 - e / 2)

(base currency). Measured from insolvency (equity 0: the venue's liquidation engine, or a trader's agent,
starting at the liquidation point where the equity is ``threshold x MM``), the maintenance margin suffices when
``threshold x MM >= d``: the multiple ``d / (threshold x MM)`` of today's maintenance margin that would (1: just
enough). Measured from the liquidation point, an agent starting now de-risks before it when ``H_0 >= d``. As a
move of the price: ``d / |g|`` of the pool's dominant factor (the largest ``|g_u| sigma_u``), a log return.

Scope: rules whose requirements the liquidation-price solver follows (no scenario grid, VaR floor or volatility
scaling: refused naming ``rules``, their requirement is not a sum the book's revaluation gives). Accuracy
against the exact :func:`~crossmargin.margin.first_passage.liquidation_odds`: ``tests/sim/test_forecast_odds.py``
(docs/liquidation-odds.md states the measured figures).

Units: horizons, reaction times and medians in seconds; volatilities annualized (a year of
:data:`~crossmargin.margin.realized_volatility.SECONDS_PER_YEAR` seconds); health, slopes and buffers in base
currency; ``sigma_H`` in base currency per sqrt(second).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numba
import numpy as np
import numpy.typing as npt
from numba import njit

from crossmargin.engine import kernels
from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_pools import cross_pools
from crossmargin.engine.kernels import PoolArrays
from crossmargin.engine.liquidation_prices import (
    SCALE_MAX,
    SCALE_MIN,
    LiquidationPrices,
    book_liquidation_prices,
    move_arrays,
)
from crossmargin.engine.risk_requirements import slots_by_pool
from crossmargin.engine.rule_arrays import MarketArrays
from crossmargin.margin.account import solver_follows
from crossmargin.margin.first_passage import BUMP, MEDIAN_Z, correlation
from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.margin.valuation import atm_vol
from crossmargin.model import InputError
from crossmargin.model.rules import PriceMove

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B1 = npt.NDArray[np.bool_]

DAY_S = 86_400.0
"""One day in seconds: the default horizon."""
_UP, _DOWN = 1.0 + float(BUMP), 1.0 - float(BUMP)
_PSD_TOLERANCE = 1e-10  # as first_passage: a negative health variance smaller than this share of its terms is 0

# what a (pool, factor) pair's slots said (the array solver's outcomes, gathered per pair)
_KIND_UNSOLVED, _KIND_NONE = 1, 2


@dataclass(frozen=True)
class BookOdds:
    """Every pool's and every account's odds (see module doc).

    Per pool (the book's pool order): ``health`` ``H_0`` and ``sigma_h`` (base currency, per sqrt(second)),
    ``probability`` within ``horizon_s``, ``median_s`` (``inf``: more likely never), ``scored`` (the pool can be
    liquidated at some prices), ``dominant`` (index into ``factors``, -1: none) and its ``dominant_slope`` (base
    currency per unit log return), ``maintenance`` (base currency), ``account`` (index into ``accounts``).
    Per account (``accounts``: ids, the book's order): ``account_probability``, ``account_median_s`` and
    ``account_pool`` (its likeliest pool, -1: none scored). ``volatilities``: the annualized figure used per
    factor (``factors``, sorted)."""

    horizon_s: float
    factors: tuple[str, ...]
    volatilities: tuple[float, ...]
    health: F64
    sigma_h: F64
    probability: F64
    median_s: F64
    scored: B1
    dominant: I64
    dominant_slope: F64
    maintenance: F64
    threshold: float
    account: I64
    accounts: tuple[str, ...]
    account_probability: F64
    account_median_s: F64
    account_pool: I64

    def ranked(self, top: int | None = None) -> I64:
        """Account indices by probability, largest first (then the shorter median, then the book's order); the
        first ``top`` of them (None: all)."""
        order = np.lexsort((np.arange(len(self.accounts)), self.account_median_s, -self.account_probability))
        return order if top is None else order[:top]


def _normal_tail(x: F64) -> F64:
    """``N(-x)`` elementwise."""
    return _erfc_half(np.asarray(x, dtype=np.float64))


@njit(cache=True)
def _erfc_half(x: F64) -> F64:
    out = np.empty_like(x)
    for k in range(x.shape[0]):
        out[k] = 0.5 * math.erfc(x[k] / math.sqrt(2.0))
    return out


def driftless_hit(distance: F64, sigma: F64, horizon: float) -> F64:
    """``2 N(-|distance| / (sigma sqrt horizon))`` elementwise (any unit of time, ``sigma`` per sqrt of it): 1
    at distance 0, 0 without volatility. :func:`crossmargin.margin.first_passage.hit_probability` without drift."""
    a = np.abs(np.asarray(distance, dtype=np.float64))
    s = np.asarray(sigma, dtype=np.float64) * math.sqrt(horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(s > 0.0, a / np.where(s > 0.0, s, 1.0), np.inf)
    ratio = np.where(a == 0.0, 0.0, ratio)
    return np.minimum(1.0, 2.0 * _normal_tail(np.ravel(ratio)).reshape(ratio.shape))


def driftless_median(distance: F64, sigma: F64) -> F64:
    """``(distance / (sigma z))**2`` elementwise (``inf`` without volatility, 0 at distance 0)."""
    a = np.abs(np.asarray(distance, dtype=np.float64))
    s = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        median = np.where(s > 0.0, (a / (np.where(s > 0.0, s, 1.0) * MEDIAN_Z)) ** 2, np.inf)
    return np.where(a == 0.0, 0.0, median)


def _health(sums: F64, threshold: float) -> F64:
    return np.asarray(sums[:, 0] - threshold * sums[:, 2], dtype=np.float64)


def _bumped_health(book: RiskBook, factor: str, scale: float) -> F64:
    """Every pool's health with every mark on ``factor`` and its price x ``scale`` (a full revaluation on copies
    of the pool arrays: the book is not touched)."""
    count = book.pool_count
    names = book.instruments.names
    on = np.array([book.instrument_table[n].underlying == factor for n in names], dtype=np.bool_)
    marks = np.where(on, book.marks * scale, book.marks)
    prices = book.prices.copy()
    if factor in book.assets.names:
        prices[book.assets.index(factor)] *= scale
    market = MarketArrays(marks, prices, book.imr_now, book.scale)
    pools = PoolArrays(
        book.balance, book.pool_money.copy(), book.haircut, book.positions_in_pool, book.sums.copy(),
        book.liquidatable.copy(),
    )  # fmt: skip
    copy = book.account_major._replace(bracket=book.account_major.bracket.copy())
    rules = book.rule_arrays
    arrays = (copy, pools, market, rules.in_use, rules.assets, rules.choices)
    threads = numba.get_num_threads()
    entries = int(copy.first[count])
    if entries >= 20_000 and threads > 1:
        parts = threads * 8
        bounds = np.searchsorted(copy.first[: count + 1], np.arange(parts + 1) * entries // parts)
        bounds[-1] = count
        with numba.parallel_chunksize(1):
            kernels.revalue_pools_on_threads(bounds, *arrays, np.empty((parts, 2, int(kernels.CHUNK))))
    else:
        kernels.revalue_pools(0, count, *arrays, np.empty((2, int(kernels.CHUNK))))
    return _health(pools.sums[:count], float(book.rules.liquidation_threshold))


@njit(cache=True)
def _gather(
    first: I64,
    order: I64,
    instrument: npt.NDArray[np.int32],
    price: F64,
    outcome: npt.NDArray[np.int8],
    marks: F64,
    factor_of: I64,
    pair_first: I64,
    pair_factor: I64,
    down: F64,
    up: F64,
    kind: npt.NDArray[np.int8],
) -> None:
    """Per (pool, factor) pair, what its slots' liquidation prices say: the log barrier below (``down``, the
    largest negative ``ln(price / mark)``) and above (``up``, the smallest positive), NaN where none; ``kind``
    ``_KIND_UNSOLVED`` where a slot is not solved, ``_KIND_NONE`` where one found no change of status."""
    for p in range(first.shape[0] - 1):
        for n in range(first[p], first[p + 1]):
            j = order[n]
            i = instrument[j]
            f = factor_of[i]
            k = pair_first[p]
            while k < pair_first[p + 1] and pair_factor[k] != f:
                k += 1
            o = outcome[j]
            if o == 0:  # priced
                x = math.log(price[j] / marks[i])
                if x <= 0.0 and not (down[k] >= x):
                    down[k] = x
                if x > 0.0 and not (up[k] <= x):
                    up[k] = x
            elif o == 1:  # no change of status
                if kind[k] == 0:
                    kind[k] = _KIND_NONE
            elif o == 2 or o == 3:
                kind[k] = _KIND_UNSOLVED


@njit(cache=True)
def _pool_moments(
    pair_first: I64, pair_factor: I64, slope: F64, sigma: F64, rho: F64, variance: F64, dominant: I64, bad: B1
) -> None:
    """Per pool: ``g' C g`` over its pairs (``sigma`` per factor, per sqrt(second); ``rho`` the correlation
    matrix), its dominant pair (the largest ``|g_u| sigma_u``, -1: none) and whether the variance is negative
    beyond rounding (correlations that cannot be)."""
    for p in range(pair_first.shape[0] - 1):
        total, size, best, best_k = 0.0, 0.0, -1.0, -1
        for a in range(pair_first[p], pair_first[p + 1]):
            wa = slope[a] * sigma[pair_factor[a]]
            if abs(wa) > best:
                best, best_k = abs(wa), a
            for b in range(pair_first[p], pair_first[p + 1]):
                term = wa * rho[pair_factor[a], pair_factor[b]] * slope[b] * sigma[pair_factor[b]]
                total += term
                size += abs(term)
        bad[p] = total < -_PSD_TOLERANCE * size
        variance[p] = max(total, 0.0)
        dominant[p] = best_k


def _scored(book: RiskBook, count: int) -> B1:
    """Pools that some prices can liquidate: with positions, or owing an asset where a pool without a
    requirement is liquidated at negative equity (as :mod:`~crossmargin.margin.first_passage` scores them)."""
    owes = (book.balance[:, :count] < 0.0).any(axis=0) & bool(book.rules.liquidate_without_requirement)
    return np.asarray((book.positions_in_pool[:count] > 0) | owes)


def _volatilities(book: RiskBook, names: list[str], needed: B1, volatilities: Mapping[str, float] | None) -> F64:
    """Each factor's annualized volatility: given, else (none given) the market's at moneyness 1; a factor a
    scored pool needs without one is refused naming the field."""
    found = np.zeros(len(names))
    for f, name in enumerate(names):
        if volatilities is not None and name in volatilities:
            value = float(volatilities[name])
            if not (math.isfinite(value) and value >= 0.0):
                raise InputError(f"volatilities.{name}", f"must be a finite number >= 0, got {value!r}")
            found[f] = value
        elif volatilities is None and (vol := atm_vol(book.market, name)) is not None:
            found[f] = vol
        elif needed[f]:
            field = f"volatilities.{name}" if volatilities is not None else f"vols.{name}"
            raise InputError(field, f"a volatility for every asset an account is exposed to ({name})")
    return found


def _correlations(names: list[str], given: Mapping[tuple[str, str], float]) -> F64:
    for (a, b), value in given.items():
        if not (math.isfinite(value) and -1.0 <= value <= 1.0):
            raise InputError(f"correlations.{a}.{b}", f"a correlation in [-1, 1], got {value!r}")
    return np.array([[correlation(given, a, b) for b in names] for a in names], dtype=np.float64).reshape(
        len(names), len(names)
    )


def book_odds(
    book: RiskBook,
    horizon_s: float,
    volatilities: Mapping[str, float] | None = None,
    correlations: Mapping[tuple[str, str], float] | None = None,
    prices: LiquidationPrices | None = None,
) -> BookOdds:
    """Every pool's and account's chance of liquidation within ``horizon_s`` seconds (> 0) and median time
    (module doc). ``volatilities``: asset -> annualized volatility (>= 0), by default the market's ``vols`` at
    moneyness 1; ``correlations``: (asset, asset) -> correlation (1 for a pair not given), by default the
    market's; ``prices``: the book's liquidation prices when already worked out with every mark on the
    underlying moving (the rulebook's default ``liquidation_price_moves: underlying``), else computed here."""
    if not (math.isfinite(horizon_s) and horizon_s > 0.0):
        raise InputError("horizon_s", f"must be a finite number > 0, got {horizon_s!r}")
    if not solver_follows(book.rules):
        raise InputError("rules", "a scenario grid, VaR floor or volatility scaling: the array odds need a "
                         "requirement the book sums; use liquidation_odds account by account")  # fmt: skip
    rho_given = (
        {pair: float(v) for pair, v in book.market.correlations.items()} if correlations is None else dict(correlations)
    )
    count = book.pool_count
    threshold = float(book.rules.liquidation_threshold)
    figures = book.figures[:count]
    health = _health(figures, threshold)
    maintenance = np.asarray(figures[:, 2], dtype=np.float64)
    scored = _scored(book, count)
    due = book.liquidatable[:count] | (health <= 0.0)

    # the factors: underlyings of the instruments and the non-base assets
    names_i = list(book.instruments.names)
    underlying = [book.instrument_table[n].underlying for n in names_i]
    assets = [a for a in book.assets.names if a != book.base]
    names = sorted(set(underlying) | set(assets))
    index = {n: f for f, n in enumerate(names)}
    factor_of = np.array([index[u] for u in underlying], dtype=np.int64)
    n_factors = len(names)

    # (pool, factor) pairs, pool-major
    on_slots = np.zeros((count, n_factors), dtype=np.bool_)
    used = book.pool >= 0
    on_slots[book.pool[used].astype(np.int64), factor_of[book.instrument[used]]] = True
    present = on_slots.copy()
    for a in assets:
        present[:, index[a]] |= book.balance[book.assets.index(a), :count] != 0.0
    present &= scored[:, None]
    pair_pool, pair_factor = np.nonzero(present)
    pair_pool, pair_factor = pair_pool.astype(np.int64), pair_factor.astype(np.int64)
    pair_first = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_pool, minlength=count), out=pair_first[1:])
    vols = _volatilities(book, names, np.bincount(pair_factor, minlength=n_factors) > 0, volatilities)
    rho = _correlations(names, rho_given)

    # what the array solver says per pair (every mark on the underlying moving, as the exact odds move it)
    if prices is None or book.rules.liquidation_price_moves is not PriceMove.UNDERLYING:
        prices = book_liquidation_prices(book, move_arrays(book, PriceMove.UNDERLYING))
    first, order = slots_by_pool(book.pool, count)
    n_pairs = pair_pool.shape[0]
    down, up = np.full(n_pairs, np.nan), np.full(n_pairs, np.nan)
    kind = np.zeros(n_pairs, dtype=np.int8)
    _gather(
        first, order, book.instrument, prices.price, prices.outcome, book.marks, factor_of, pair_first, pair_factor,
        down, up, kind,
    )  # fmt: skip
    from_slots = on_slots[pair_pool, pair_factor]
    del present, on_slots
    unsolved_pool = np.zeros(count, dtype=np.bool_)
    unsolved_pool[pair_pool[kind == _KIND_UNSOLVED]] = True

    # per factor: the tangent of every pair on it (two revaluations), the barrier and the slope
    h0 = health[pair_pool]
    slope = np.zeros(n_pairs)
    alone = np.zeros(n_pairs)
    no_barrier = np.zeros(n_pairs, dtype=np.bool_)
    sigma = vols / math.sqrt(SECONDS_PER_YEAR)
    log_span = math.log(_UP) - math.log(_DOWN)
    for f, name in enumerate(names):
        on = np.flatnonzero((pair_factor == f) & ~due[pair_pool])
        if not len(on):
            continue
        rise = _bumped_health(book, name, _UP)[pair_pool[on]] - _bumped_health(book, name, _DOWN)[pair_pool[on]]
        tangent = rise / log_span
        slots_say = from_slots[on]
        # a factor only held: the health is linear in its price, H_0 + D (s - 1), D = dH/ds
        d_per_s = rise / (_UP - _DOWN)
        with np.errstate(divide="ignore", invalid="ignore"):
            linear_root = np.where(d_per_s != 0.0, 1.0 - h0[on] / d_per_s, np.nan)
        in_range = (linear_root > SCALE_MIN) & (linear_root < SCALE_MAX)
        held_log = np.where(in_range, np.log(np.where(in_range, linear_root, 1.0)), np.nan)
        first_side = np.where(tangent > 0.0, down[on], up[on])
        other_side = np.where(tangent > 0.0, up[on], down[on])
        slot_log = np.where(np.isnan(first_side), other_side, first_side)
        unsolved = np.where(slots_say, kind[on] == _KIND_UNSOLVED, unsolved_pool[pair_pool[on]])
        log_barrier = np.where(unsolved, np.nan, np.where(slots_say, slot_log, held_log))
        barrier = ~np.isnan(log_barrier)
        with np.errstate(divide="ignore", invalid="ignore"):
            secant = -h0[on] / np.where(barrier & (log_barrier != 0.0), log_barrier, 1.0)
        slope[on] = np.where(barrier & (log_barrier != 0.0), secant, tangent)
        linear = np.where(tangent != 0.0, driftless_hit(h0[on], np.abs(tangent) * sigma[f], horizon_s), 0.0)
        one = driftless_hit(np.where(barrier, log_barrier, 1.0), np.full(len(on), sigma[f]), horizon_s)
        alone[on] = np.where(barrier, one, np.where(unsolved, linear, 0.0))
        no_barrier[on] = ~barrier & ~unsolved

    variance = np.zeros(count)
    dominant_pair = np.full(count, -1, dtype=np.int64)
    bad = np.zeros(count, dtype=np.bool_)
    _pool_moments(pair_first, pair_factor, slope, sigma, rho, variance, dominant_pair, bad)
    if bad.any():
        raise InputError("correlations", "the correlations are not positive semi-definite")
    sigma_h = np.sqrt(variance)
    pairs = np.diff(pair_first)
    single = pairs == 1
    first_pair = np.minimum(pair_first[:-1], max(n_pairs - 1, 0))
    never = (pairs == 0) | (single & (no_barrier[first_pair] if n_pairs else False))
    probability = np.where(single, alone[first_pair] if n_pairs else 0.0, driftless_hit(health, sigma_h, horizon_s))
    probability = np.where(pairs == 0, 0.0, probability)
    median = np.where(never, np.inf, driftless_median(health, sigma_h))
    probability = np.where(due, 1.0, probability)
    median = np.where(due, 0.0, median)
    probability = np.where(scored, probability, 0.0)
    median = np.where(scored, median, np.inf)
    dominant = np.where(dominant_pair >= 0, pair_factor[np.maximum(dominant_pair, 0)] if n_pairs else -1, -1)
    dominant_slope = np.where(dominant_pair >= 0, slope[np.maximum(dominant_pair, 0)] if n_pairs else 0.0, 0.0)

    # accounts: each pool to its account's cross pool, then to the account's place
    cross = cross_pools(book)
    accounts_cross = np.flatnonzero(book.haircut[:count])
    account_of_cross = np.full(count, -1, dtype=np.int64)
    account_of_cross[accounts_cross] = np.arange(len(accounts_cross), dtype=np.int64)
    account = account_of_cross[cross]
    ids = tuple(book.owners[int(p)].account for p in accounts_cross)
    n_accounts = len(ids)
    account_probability = np.zeros(n_accounts)
    account_median = np.full(n_accounts, np.inf)
    account_pool = np.full(n_accounts, -1, dtype=np.int64)
    live = np.flatnonzero(scored)
    if len(live):
        # the likeliest pool of each account: sort by (account, -probability, median), take each first
        order_live = live[np.lexsort((median[live], -probability[live], account[live]))]
        firsts = order_live[np.r_[True, np.diff(account[order_live]) != 0]]
        account_probability[account[firsts]] = probability[firsts]
        account_median[account[firsts]] = median[firsts]
        account_pool[account[firsts]] = firsts
    return BookOdds(
        horizon_s, tuple(names), tuple(float(v) for v in vols), health, sigma_h, probability, median, scored,
        dominant.astype(np.int64), dominant_slope, maintenance, threshold, account, ids, account_probability,
        account_median, account_pool,
    )  # fmt: skip


def buffer_quantile(miss: float) -> float:
    """``N^-1(1 - miss / 2)``: the buffer in standard deviations of the health over the reaction time that a
    driftless health crosses within it with probability ``miss`` (in (0, 1))."""
    if not (math.isfinite(miss) and 0.0 < miss < 1.0):
        raise InputError("miss", f"must be a probability in (0, 1), got {miss!r}")
    return NormalDist().inv_cdf(1.0 - miss / 2.0)


def required_buffer(sigma_h: F64 | float, reaction_s: float, miss: float) -> F64:
    """``d = sigma_H sqrt(T) N^-1(1 - e / 2)`` (module doc): the health an agent reacting within ``reaction_s``
    seconds (> 0) needs above the point it must not reach to get there first with probability ``1 - miss``;
    ``sigma_h`` in base currency per sqrt(second), ``d`` in base currency."""
    if not (math.isfinite(reaction_s) and reaction_s > 0.0):
        raise InputError("reaction_s", f"must be a finite number > 0, got {reaction_s!r}")
    return np.asarray(sigma_h, dtype=np.float64) * math.sqrt(reaction_s) * buffer_quantile(miss)


@dataclass(frozen=True)
class Calibration:
    """Buffer calibration per pool (module doc): ``buffer`` ``d`` (base currency), ``mm_multiple`` the
    multiple of the maintenance margin whose ``threshold x MM`` equals ``d`` (NaN without a maintenance
    margin), ``price_move`` ``d / |g|`` of the dominant factor (log return; NaN without one), ``mm_meets``
    (``threshold x MM >= d``: starting at the liquidation point, the agent de-risks before insolvency with
    probability at least ``1 - miss``) and ``health_meets`` (``H_0 >= d``: starting now, before the liquidation
    point). Per account, its pool of the largest ``mm_multiple`` (``account_pool``; -1: none)."""

    reaction_s: float
    miss: float
    buffer: F64
    mm_multiple: F64
    price_move: F64
    mm_meets: B1
    health_meets: B1
    account_pool: I64

    def book_multiple(self, odds: BookOdds, percentile: float) -> float:
        """The multiple of the maintenance margin that would suffice for ``percentile`` % of the accounts with
        a maintenance margin (NaN: none)."""
        pools = self.account_pool[self.account_pool >= 0]
        values = self.mm_multiple[pools]
        values = values[np.isfinite(values)]
        return float(np.percentile(values, percentile)) if len(values) else math.nan


def calibrate(odds: BookOdds, reaction_s: float, miss: float) -> Calibration:
    """Every pool's buffer for an agent reacting within ``reaction_s`` seconds to miss with probability at most
    ``miss`` (module doc), and each account's pool of the largest multiple of its maintenance margin."""
    buffer = required_buffer(odds.sigma_h, reaction_s, miss)
    cover = odds.threshold * odds.maintenance
    with np.errstate(divide="ignore", invalid="ignore"):
        multiple = np.where(cover > 0.0, buffer / np.where(cover > 0.0, cover, 1.0), np.nan)
        slope = np.abs(odds.dominant_slope)
        move = np.where((odds.dominant >= 0) & (slope > 0.0), buffer / np.where(slope > 0.0, slope, 1.0), np.nan)
    live = odds.scored & np.isfinite(multiple)
    candidates = np.flatnonzero(live)
    account_pool = np.full(len(odds.accounts), -1, dtype=np.int64)
    if len(candidates):
        ranked = candidates[np.lexsort((-multiple[candidates], odds.account[candidates]))]
        firsts = ranked[np.r_[True, np.diff(odds.account[ranked]) != 0]]
        account_pool[odds.account[firsts]] = firsts
    return Calibration(reaction_s, miss, buffer, multiple, move, cover >= buffer, odds.health >= buffer, account_pool)
