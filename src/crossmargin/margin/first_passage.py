"""The chance that an account reaches its liquidation condition within a horizon: the first passage of a
Brownian motion to a barrier (float64 model figures, not ledger money).

**One risk factor** (:func:`hit_probability`). The log price ``X_t = ln(S_t / S_0)`` is a Brownian motion
with volatility ``sigma`` and drift ``mu`` (per unit time; ``mu = 0`` by default, the driftless model).
The pool is liquidated when the price reaches the barrier ``b``, its distance ``a = ln(b / S_0)`` (below
the price: ``a < 0``). By the reflection principle, without drift,

    P(reach a within T) = 2 N(-|a| / (sigma sqrt T))

and with drift, for a barrier above (``a > 0``; one below is its mirror image, ``a -> -a``, ``mu -> -mu``):

    P = N((mu T - a) / (sigma sqrt T)) + exp(2 mu a / sigma ** 2) N(-(a + mu T) / (sigma sqrt T))

(the inverse Gaussian distribution of the first-passage time; the second term is evaluated without
overflow). The expected time to reach the barrier is infinite unless the drift points to it (then
``|a| / |mu|``, Wald): :func:`median_hit_time` reports the median first-passage time instead, which without
drift is ``(a / (sigma z))**2`` with ``z = N^-1(3/4) = 0.6745`` (where ``2 N(-|a| / (sigma sqrt t)) = 1/2``),
and is infinite when the barrier is more likely never reached than reached (a drift away from it that
leaves ``exp(-2 |mu| |a| / sigma ** 2) <= 1/2``). The probability curve over horizons is
:func:`hit_probability` at each.

**An account** (:func:`liquidation_odds`). Each of its pools (the cross pool, each isolated position's
pool) is scored on its health ``H = equity - threshold x maintenance`` (base currency, the condition of
:func:`crossmargin.margin.pools.is_liquidatable`: liquidated when ``H`` falls below 0). Its risk factors are
the assets its value depends on: its positions' underlyings and the assets it holds or owes (not the base
currency). For each factor ``u``:

- the *barrier*: the factor ``s*_u`` by which ``u``'s price and every mark on it must move, every other
  price held, for the pool to change status: the exact solver's answer
  (:func:`crossmargin.margin.liquidation_price.liquidation_scale` with the underlying's move, whatever the
  rulebook's ``liquidation_price_moves``); None when no such move exists (a long fully covered by
  collateral) or the solver does not price the pool (an option, a scenario grid, a VaR floor, volatility
  scaling, a moving balance with a size discount);
- the *one-factor probability*, ``u`` moving alone (others held): :func:`hit_probability` at
  ``ln s*_u`` with ``u``'s volatility and drift; exact under the model. 0 where the solver says no move
  of ``u`` alone liquidates the pool; where the solver does not price it, the linear one below;
- the *slope* ``g_u`` of ``H`` per unit log return of ``u`` (base currency): the secant to the barrier,
  ``-H_0 / ln s*_u`` (moving ``u`` alone to ``s*_u`` takes ``H`` to 0, as the exact solver says), or,
  without a barrier, the tangent (central difference of the exact health at ``1 +- 1e-3`` x the price).
  A barrier so close to the price that ``ln s*_u`` is 0 in float64 (a health of a few units in the last
  place of the pool's figures; analytically a healthy pool's barrier is never at distance 0) has no secant:
  its one-factor probability is 1 (:func:`hit_probability` at distance 0, reached at once) and its slope the
  tangent, as the whole-book odds take it (:mod:`crossmargin.sim.forecast_odds`).

The pool's probability, over all its factors at once, reduces the account to one factor, its health:
``H_t = H_0 + sum_u g_u X_u,t``, a Brownian motion with volatility ``sigma_H = sqrt(g' C g)`` (``C`` the
covariance rate of the log prices, ``rho_uv sigma_u sigma_v``: the market's correlations unless others are
given, 1 for a pair not given, as the VaR floor reads them) and drift ``sum_u g_u mu_u``, liquidated at
``H = 0``: :func:`hit_probability` at ``-H_0``. With one factor and a barrier it is the exact one-factor
figure. With several it is an approximation: the health is linear in each log price only between the
exact barrier points it is drawn through (a linear contract's health is linear in the price, not its
logarithm; tier edges bend it), and joint moves can liquidate a pool no single move does (there the
tangent slopes carry it). ``tests/margin/test_first_passage.py`` measures it against a Monte Carlo of the
true health of a long-short two-asset account over a week: 0.335, 0.148 and 0.019 against 0.335, 0.143 and
0.014 at correlations -0.3, 0.5 and 0.9 (coarse in relative terms where the legs nearly hedge). A pool already
liquidatable (or with no health left) has probability 1 and median time 0. A pool without positions is
scored only where it owes an asset and the rules liquidate a pool without a requirement at negative
equity; otherwise no price can liquidate it. The account's probability is the largest of its pools', the
chance that the likeliest is liquidated: a lower bound on the chance that any is (equal to it when the
pools' barriers are on one underlying on one side: their events are nested).

Units: horizons and times in seconds; volatilities and drifts annualized (per sqrt(year), per year: the
document's ``vols``; a year of 365 days, :data:`crossmargin.margin.realized_volatility.SECONDS_PER_YEAR`),
drifts of the log price; health and slopes in base currency, ``sigma_H`` in base currency per
sqrt(second).
"""

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

import numpy as np

from crossmargin.margin.account import cross_pool, isolated_pool, leg_label, solver_follows, solver_prices
from crossmargin.margin.liquidation_price import liquidation_scale
from crossmargin.margin.pools import Pool, PoolFigures, evaluate_pool
from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.margin.scaling import Move, scaled_market
from crossmargin.margin.valuation import atm_vol
from crossmargin.model import Account, InputError, Portfolio, RuleChoices
from crossmargin.model.numbers import ONE, exact

_NORMAL = NormalDist()
MEDIAN_Z = _NORMAL.inv_cdf(0.75)
"""``N^-1(3/4)``: the driftless median first-passage time to a distance ``a`` is ``(a / (sigma MEDIAN_Z))**2``."""
BUMP = Decimal("0.001")
"""Relative price move of the central difference giving a tangent slope."""
_TAIL_FROM = 30.0  # beyond this many standard deviations the normal tail is taken from its asymptotic series
_PSD_TOLERANCE = 1e-10  # a negative health variance smaller than this share of its terms counts as 0


def _finite(value: float, name: str, low: float | None = None) -> float:
    if not math.isfinite(value) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low:g}"
        raise InputError(name, f"must be a finite number{bound}, got {value!r}")
    return value


def _scaled_tail(y: float) -> float:
    """``exp(y**2 / 2) N(-y)`` (the normal tail over its density's exponential), for ``y >= 0``."""
    if y < _TAIL_FROM:
        return math.exp(0.5 * y * y) * _NORMAL.cdf(-y)
    inverse = 1.0 / (y * y)
    series = 1.0 - inverse + 3.0 * inverse * inverse - 15.0 * inverse**3
    return series / (y * math.sqrt(2.0 * math.pi))


def hit_probability(distance: float, volatility: float, horizon: float, drift: float = 0.0) -> float:
    """The probability that ``X_t = drift t + volatility W_t`` (``X_0 = 0``) reaches ``distance`` (< 0: a
    barrier below; > 0: above; 0: already there, 1) within ``horizon`` (see module doc). Any unit of time,
    the same for all three: ``volatility`` per sqrt(unit) (>= 0), ``drift`` per unit, ``horizon`` in units
    (>= 0). Without volatility: 1 when the drift alone gets there by ``horizon``, else 0."""
    _finite(distance, "distance")
    _finite(volatility, "volatility", 0.0)
    _finite(horizon, "horizon", 0.0)
    _finite(drift, "drift")
    if distance == 0.0:
        return 1.0
    a = abs(distance)
    mu = drift if distance > 0 else -drift
    if horizon == 0.0:
        return 0.0
    if volatility == 0.0:
        return 1.0 if mu * horizon >= a else 0.0
    spread = volatility * math.sqrt(horizon)
    first = _NORMAL.cdf((mu * horizon - a) / spread)
    y = (a + mu * horizon) / spread
    if y < 0.0:  # a drift away beyond the barrier's distance: the exponent 2 mu a / sigma^2 is negative
        second = math.exp(2.0 * mu * (a / volatility) / volatility) * _NORMAL.cdf(-y)
    else:  # exp(2 mu a / sigma^2) N(-y) = exp(-(a - mu T)^2 / (2 sigma^2 T)) exp(y^2 / 2) N(-y): no overflow
        second = math.exp(-0.5 * ((a - mu * horizon) / spread) ** 2) * _scaled_tail(y)
    return min(1.0, first + second)


def median_hit_time(distance: float, volatility: float, drift: float = 0.0) -> float:
    """The median time for ``X`` (as :func:`hit_probability`) to reach ``distance``, in its unit of time:
    ``(distance / (volatility MEDIAN_Z))**2`` without drift, solved by bisection with it; ``inf`` when
    reaching it is not more likely than not, ever (see module doc)."""
    _finite(distance, "distance")
    _finite(volatility, "volatility", 0.0)
    _finite(drift, "drift")
    if distance == 0.0:
        return 0.0
    a = abs(distance)
    mu = drift if distance > 0 else -drift
    if volatility == 0.0:
        return a / mu if mu > 0 else math.inf
    if mu == 0.0:
        return (a / (volatility * MEDIAN_Z)) ** 2
    if mu < 0 and math.exp(2.0 * mu * (a / volatility) / volatility) <= 0.5:
        return math.inf
    high = max((a / (volatility * MEDIAN_Z)) ** 2, sys.float_info.min)  # the driftless median, to start from
    while hit_probability(a, volatility, high, mu) < 0.5:
        if not math.isfinite(2.0 * high):
            return math.inf
        high *= 2.0
    while high > sys.float_info.min and hit_probability(a, volatility, 0.5 * high, mu) >= 0.5:
        high *= 0.5
    low = 0.5 * high  # the median lies in (low, high]: bisected to the float's resolution
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if hit_probability(a, volatility, middle, mu) < 0.5:
            low = middle
        else:
            high = middle
    return high


def expected_hit_time(distance: float, volatility: float, drift: float = 0.0) -> float:
    """The expected time for ``X`` to reach ``distance``: ``|distance| / |drift|`` when the drift points to it
    (Wald), ``inf`` otherwise (without drift too: reaching it is certain, but its expected time infinite)."""
    _finite(distance, "distance")
    _finite(volatility, "volatility", 0.0)
    _finite(drift, "drift")
    if distance == 0.0:
        return 0.0
    toward = drift if distance > 0 else -drift
    return abs(distance) / toward if toward > 0 else math.inf


def correlation(correlations: Mapping[tuple[str, str], float], a: str, b: str) -> float:
    """The correlation of ``a`` and ``b`` in ``correlations`` (either order; 1 for one asset or a pair not
    given, as the market reads them)."""
    if a == b:
        return 1.0
    return correlations.get((a, b), correlations.get((b, a), 1.0))


def health_volatility(
    slopes: Mapping[str, float], volatilities: Mapping[str, float], correlations: Mapping[tuple[str, str], float]
) -> float:
    """``sqrt(g' C g)``: the volatility of ``sum_u g_u X_u`` with ``slopes`` ``g_u`` and each ``X_u`` Brownian at
    ``volatilities[u]`` (any unit; the result in the slopes' unit per sqrt of the volatilities' time),
    correlated by ``correlations`` (:func:`correlation`). A negative ``g' C g`` beyond rounding
    (correlations that are not positive semi-definite) is refused."""
    names = sorted(slopes)
    weighted = np.array([slopes[u] * volatilities[u] for u in names], dtype=np.float64)
    rho = np.array([[correlation(correlations, a, b) for b in names] for a in names], dtype=np.float64)
    terms = weighted[:, None] * rho * weighted[None, :]
    variance = float(terms.sum())
    if variance < -_PSD_TOLERANCE * float(np.abs(terms).sum()):
        raise InputError("correlations", "the correlations are not positive semi-definite")
    return math.sqrt(max(variance, 0.0))


@dataclass(frozen=True)
class FactorOdds:
    """One risk factor of a pool (see module doc): its annualized ``volatility`` and ``drift``; whether the
    exact solver ``solved`` the pool for it and its ``barrier`` scale ``s*`` (None: no move of this factor
    alone liquidates the pool, or not solved); the health's ``slope`` per unit log return (base currency) and
    whether it is the secant to the barrier (``"barrier"``) or the ``"tangent"``; the ``probability`` of
    liquidation within the horizon when it alone moves. In a pool already liquidatable: no barrier, slope 0,
    probability 1."""

    underlying: str
    volatility: float
    drift: float
    solved: bool
    barrier: float | None
    slope: float
    slope_kind: str
    probability: float


@dataclass(frozen=True)
class PoolOdds:
    """One pool: ``"cross"`` or an isolated position's label (:func:`~crossmargin.margin.account.leg_label`).
    ``health`` ``H_0`` (base currency) and ``health_volatility`` ``sigma_H`` (base currency per
    sqrt(second)); ``probability`` of liquidation within the horizon, all factors at once (see module doc);
    ``median_time_s`` the median first-passage time of that model (s; ``inf``: more likely never);
    ``dominant`` the factor of the largest ``|g_u| sigma_u`` (None: no factor) and ``dominant_probability``
    its one-factor figure, others held; ``factors`` by name."""

    pool: str
    isolated: bool
    liquidatable: bool
    health: float
    health_volatility: float
    probability: float
    median_time_s: float
    dominant: str | None
    dominant_probability: float
    factors: tuple[FactorOdds, ...]


@dataclass(frozen=True)
class LiquidationOdds:
    """An account's chance of liquidation within ``horizon_s`` seconds: ``probability`` the largest of its
    ``pools``' (see module doc; 0 without a scored pool)."""

    account: str
    horizon_s: float
    probability: float
    pools: tuple[PoolOdds, ...]


def _health(pool: Pool, portfolio: Portfolio, rules: RuleChoices) -> tuple[float, PoolFigures]:
    figures = evaluate_pool(pool, portfolio, rules)
    with exact():
        health = figures.equity - rules.liquidation_threshold * figures.maintenance_margin
    return float(health), figures


def _moved_health(pool: Pool, portfolio: Portfolio, rules: RuleChoices, move: Move, scale: Decimal) -> float:
    return _health(pool, portfolio.with_market(scaled_market(portfolio, move, scale)), rules)[0]


def _factors(pool: Pool, portfolio: Portfolio) -> list[str]:
    """The assets the pool's value moves with: its positions' underlyings and its non-base balances."""
    names = {portfolio.instruments[p.instrument].underlying for p in pool.positions}
    names |= {a for a, amount in pool.balances.items() if amount}
    return sorted(names - {portfolio.base})


def _barrier(
    pool: Pool, portfolio: Portfolio, rules: RuleChoices, move: Move, rising: bool
) -> tuple[bool, Decimal | None]:
    """Whether the exact solver answers for ``move`` and its scale (searching down first when the health
    rises with the price; None: no move changes the pool's status)."""
    if not _solved(pool, portfolio, rules):
        return False, None
    try:
        return True, liquidation_scale(pool, portfolio, rules, move, long=rising)
    except InputError:  # a moving balance with a size discount: not piecewise linear, the solver refuses it
        return False, None


def _factor_odds(
    u: str,
    pool: Pool,
    portfolio: Portfolio,
    rules: RuleChoices,
    health: float,
    horizon_s: float,
    volatility: float,
    drift: float,
) -> FactorOdds:
    """One factor of a healthy pool (see module doc)."""
    move = Move.of_underlying(portfolio, u)
    with exact():
        up, down = ONE + BUMP, ONE - BUMP
    rise = _moved_health(pool, portfolio, rules, move, up) - _moved_health(pool, portfolio, rules, move, down)
    tangent = rise / (math.log(float(up)) - math.log(float(down)))
    solved, scale = _barrier(pool, portfolio, rules, move, tangent > 0)
    sigma, mu = volatility / math.sqrt(SECONDS_PER_YEAR), drift / SECONDS_PER_YEAR
    if scale is not None:
        distance = math.log(float(scale))
        alone = hit_probability(distance, sigma, horizon_s, mu)
        if distance == 0.0:  # a barrier within the float's resolution of the price: reached at once, no secant
            return FactorOdds(u, volatility, drift, True, float(scale), tangent, "tangent", alone)
        return FactorOdds(u, volatility, drift, True, float(scale), -health / distance, "barrier", alone)
    # solved without a barrier: no move of this factor alone liquidates the pool; unsolved: the tangent's line
    linear = 0.0 if tangent == 0.0 else hit_probability(-health, abs(tangent) * sigma, horizon_s, tangent * mu)
    alone = 0.0 if solved else linear
    return FactorOdds(u, volatility, drift, solved, None, tangent, "tangent", alone)


def _pool_odds(
    label: str,
    isolated: bool,
    pool: Pool,
    portfolio: Portfolio,
    rules: RuleChoices,
    horizon_s: float,
    volatilities: Mapping[str, float],
    drifts: Mapping[str, float],
    correlations: Mapping[tuple[str, str], float],
) -> PoolOdds:
    health, figures = _health(pool, portfolio, rules)
    names = _factors(pool, portfolio)
    if figures.liquidatable or health <= 0.0:
        factors = tuple(
            FactorOdds(u, volatilities[u], drifts.get(u, 0.0), False, None, 0.0, "tangent", 1.0) for u in names
        )
        return PoolOdds(label, isolated, figures.liquidatable, health, 0.0, 1.0, 0.0, None, 1.0, factors)
    found = [
        _factor_odds(u, pool, portfolio, rules, health, horizon_s, volatilities[u], drifts.get(u, 0.0)) for u in names
    ]
    per_second = {u: volatilities[u] / math.sqrt(SECONDS_PER_YEAR) for u in names}
    sigma_h = health_volatility({f.underlying: f.slope for f in found}, per_second, correlations) if found else 0.0
    mu_h = sum(f.slope * f.drift for f in found) / SECONDS_PER_YEAR
    never = not found or (len(found) == 1 and found[0].solved and found[0].barrier is None)
    if len(found) == 1:
        probability = found[0].probability
    else:
        probability = hit_probability(-health, sigma_h, horizon_s, mu_h) if found else 0.0
    median = math.inf if never else median_hit_time(-health, sigma_h, mu_h)
    dominant = max(found, key=lambda f: (abs(f.slope) * f.volatility, f.underlying), default=None)
    return PoolOdds(
        label, isolated, False, health, sigma_h, probability, median,
        None if dominant is None else dominant.underlying, 0.0 if dominant is None else dominant.probability,
        tuple(found),
    )  # fmt: skip


def _solved(pool: Pool, portfolio: Portfolio, rules: RuleChoices) -> bool:
    """Whether the exact solver prices the pool (not under a grid, a VaR floor, volatility scaling, nor with
    an option)."""
    return solver_follows(rules) and all(solver_prices(portfolio.instruments[p.instrument]) for p in pool.positions)


def _scored(pool: Pool, rules: RuleChoices) -> bool:
    """Whether the pool can be liquidated at some prices: it has positions, or owes an asset where a pool
    without a requirement is liquidated at negative equity."""
    owes = any(amount < 0 for amount in pool.balances.values())
    return bool(pool.positions) or (owes and rules.liquidate_without_requirement)


def liquidation_odds(
    account: Account,
    portfolio: Portfolio,
    rules: RuleChoices,
    horizon_s: float,
    volatilities: Mapping[str, float] | None = None,
    drifts: Mapping[str, float] | None = None,
    correlations: Mapping[tuple[str, str], float] | None = None,
) -> LiquidationOdds:
    """The chance that ``account`` (at ``portfolio``'s market, under ``rules``) is liquidated within
    ``horizon_s`` seconds (> 0), pool by pool (see module doc). ``volatilities``: asset -> annualized
    volatility of its log price (>= 0), by default the market's ``vols`` at moneyness 1 (a realized index's
    figures, :mod:`crossmargin.margin.realized_volatility`, fit here); ``drifts``: asset -> annualized drift
    of its log price (default 0); ``correlations``: (asset, asset) -> the correlation of their log returns
    (in [-1, 1]; 1 for a pair not given), by default the market's. Every risk factor of a scored pool needs
    a volatility: one missing is refused, naming ``volatilities.<asset>`` (``vols.<asset>`` when read from
    the market)."""
    _finite(horizon_s, "horizon_s", 0.0)
    if horizon_s == 0.0:
        raise InputError("horizon_s", "must be > 0, got 0")
    given = dict(volatilities or {})
    drift_of = dict(drifts or {})
    for name, value in given.items():
        _finite(value, f"volatilities.{name}", 0.0)
    for name, value in drift_of.items():
        _finite(value, f"drifts.{name}")
    if correlations is None:
        rho = {pair: float(value) for pair, value in portfolio.market.correlations.items()}
    else:
        rho = dict(correlations)
        for (a, b), value in rho.items():
            if not (math.isfinite(value) and -1.0 <= value <= 1.0):
                raise InputError(f"correlations.{a}.{b}", f"a correlation in [-1, 1], got {value!r}")
    pools = [("cross", False, cross_pool(account))]
    pools += [(leg_label(p, account), True, isolated_pool(p, portfolio)) for p in account.positions if p.isolated]
    scored = []
    for label, isolated, pool in pools:
        if not _scored(pool, rules):
            continue
        vols = {}
        for u in _factors(pool, portfolio):
            if u in given:
                vols[u] = given[u]
            elif volatilities is None and (vol := atm_vol(portfolio.market, u)) is not None:
                vols[u] = vol
            else:
                field = f"volatilities.{u}" if volatilities is not None else f"vols.{u}"
                raise InputError(field, f"a volatility for every asset the account is exposed to ({u})")
        scored.append(_pool_odds(label, isolated, pool, portfolio, rules, horizon_s, vols, drift_of, rho))
    probability = max((p.probability for p in scored), default=0.0)
    return LiquidationOdds(account.id, horizon_s, probability, tuple(scored))
