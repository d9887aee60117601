"""Value at Risk and expected shortfall of a portfolio's P&L: pure float64 functions over NumPy arrays.

Units and signs:

* P&L is in the base currency, positive a gain. A loss is ``-P&L``.
* VaR and expected shortfall (ES) are reported as losses: a positive number is a loss of that size. They are
  not clipped at 0: a book that gains in every scenario has a negative VaR (the smallest gain, negated).
* ``level`` is the confidence level in (0, 1), e.g. 0.99; ``1 - level`` is the tail probability.
* Returns are simple returns (price ratio - 1), arrays shaped ``[scenario, asset]`` (or ``[time, asset]`` in
  ascending time).
* Covariances are of returns over one day (one row of a history) unless stated; ``horizon_days`` scales them
  linearly (square root of time for the standard deviation) under the zero-mean normal model.

Empirical tails (see :func:`tail`): by default the standard convention of Hull and of Acerbi and Tasche
(2002): VaR is the ``ceil(n (1 - level))``-th worst of ``n`` losses and ES the mean of the worst
``n (1 - level)`` losses (a fractional last one counted for its fraction).

Methods: ``historical`` (full revaluation of observed horizon returns, equally weighted), ``age_weighted``
(the same scenarios, exponentially weighted by age), ``volatility_weighted`` (observed returns rescaled to
today's EWMA volatility), ``parametric`` (delta-normal closed form) and ``monte_carlo`` (full revaluation of
correlated normal draws). Covariance estimators: :func:`covariance` (equally weighted, three estimators) and
:func:`crossmargin.margin.ewma.ewma_covariance`.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from math import isfinite, sqrt
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from crossmargin.margin.ewma import HULL_AGE_LAMBDA, RISKMETRICS_LAMBDA, age_weights, check_decay, ewma_variances

F64 = npt.NDArray[np.float64]
PnlOf = Callable[[F64], F64]

_SYMMETRY_TOLERANCE = 1e-12  # relative to the largest |entry| of a covariance
_PSD_TOLERANCE = 1e-10  # a negative variance smaller than this share of the largest |entry| counts as 0
_TIE_TOLERANCE = 1e-12  # relative: a count of scenarios (or a weight) this close to a whole count (the tail) is it


class Tail(StrEnum):
    """How VaR and ES are read off an equally weighted sample of losses (see :func:`tail`)."""

    STANDARD = "standard"
    INVERTED_CDF = "inverted-cdf"


class Estimator(StrEnum):
    """Equally weighted covariance estimators of one-row returns (see :func:`covariance`)."""

    SAMPLE = "sample"
    POPULATION = "population"
    ZERO_MEAN = "zero-mean"


@dataclass(frozen=True)
class RiskMeasure:
    """VaR and expected shortfall of one book, in base currency, as positive losses (see the module docstring)."""

    var: float  # loss at the level: an empirical tail figure (see tail) or the closed form
    expected_shortfall: float  # mean loss in the tail of probability 1 - level (see tail) or the closed form
    level: float  # confidence level in (0, 1), e.g. 0.99
    horizon_days: float  # the horizon the returns are over, in days (rows of a history)
    method: str  # "historical", "age_weighted", "volatility_weighted", "parametric" or "monte_carlo"
    samples: int  # scenarios used (0 for parametric)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _check_horizon(horizon_days: float) -> None:
    if not (isfinite(horizon_days) and horizon_days > 0.0):
        raise ValueError(f"horizon_days must be finite and > 0, got {horizon_days}")


def _check_count(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _returns_array(returns: F64, name: str) -> F64:
    array = np.asarray(returns, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty 2-D [scenario, asset] array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _covariance_array(covariance: F64) -> F64:
    matrix = np.asarray(covariance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
        raise ValueError(f"covariance must be a non-empty square 2-D array, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("covariance must be finite")
    scale = float(np.max(np.abs(matrix)))
    if float(np.max(np.abs(matrix - matrix.T))) > _SYMMETRY_TOLERANCE * scale:
        raise ValueError("covariance must be symmetric")
    if float(np.min(np.diag(matrix))) < 0.0:
        raise ValueError("covariance must have non-negative variances on its diagonal")
    return matrix


def _pnl(pnl_of: PnlOf, returns: F64) -> F64:
    pnl = np.asarray(pnl_of(returns), dtype=np.float64)
    if pnl.shape != (returns.shape[0],):
        raise ValueError(f"pnl_of must return one P&L per scenario, shape {(returns.shape[0],)}, got {pnl.shape}")
    if not np.all(np.isfinite(pnl)):
        raise ValueError("pnl_of must return finite P&L")
    return pnl


def horizon_returns(prices: F64, horizon: int) -> F64:
    """Overlapping ``horizon``-step simple returns ``prices[t + horizon] / prices[t] - 1``.

    ``prices`` is ``[time, asset]`` in ascending time, positive and finite; the result is
    ``[time - horizon, asset]``.
    """
    _check_count("horizon", horizon)
    array = np.asarray(prices, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"prices must be a 2-D [time, asset] array, got shape {array.shape}")
    if array.shape[0] <= horizon:
        raise ValueError(f"prices too short: {array.shape[0]} times give no {horizon}-step return")
    if not np.all(np.isfinite(array)):
        raise ValueError("prices must be finite")
    if not np.all(array > 0.0):
        raise ValueError("prices must be positive")
    result: F64 = array[horizon:] / array[:-horizon] - 1.0
    return result


def _snapped(count: float) -> float:
    """``count`` (a number of scenarios, ``n x (1 - level)`` or ``n x level``), taken as the nearest whole number
    when within a relative 1e-12 of it: ``1 - 0.99`` is 0.010000000000000009 in binary, and 500 of it would
    otherwise round up to a 6th scenario."""
    whole = round(count)
    return float(whole) if abs(count - whole) <= _TIE_TOLERANCE * max(count, 1.0) else count


def _losses(losses: F64) -> F64:
    sample = np.asarray(losses, dtype=np.float64)
    if sample.ndim != 1 or sample.size < 1:
        raise ValueError(f"losses must be a non-empty 1-D array, got shape {sample.shape}")
    if not np.all(np.isfinite(sample)):
        raise ValueError("losses must be finite")
    return sample


def tail(losses: F64, level: float, convention: Tail = Tail.STANDARD) -> tuple[float, float]:
    """``(VaR, ES)`` of an equally weighted sample of ``n`` losses (base currency, positive a loss) at ``level``.

    With ``m = n x (1 - level)`` the tail's size in scenarios (within a relative 1e-12 of a whole number, that
    number) and the losses ranked worst first, ``L_1 >= L_2 >= ... >= L_n``:

    * ``Tail.STANDARD`` (Hull; Acerbi and Tasche 2002): VaR is ``L_k`` with ``k = ceil(m)``; ES is the mean of
      the worst ``m`` losses, the ``k``-th counted for its fraction ``m - (k - 1)``:
      ``ES = (L_1 + ... + L_(k-1) + (m - k + 1) L_k) / m``. At 99 % on 500 scenarios: VaR = 5th worst, ES = mean
      of the worst 5; on 250: VaR = 3rd worst, ES = (L_1 + L_2 + 0.5 L_3) / 2.5.
    * ``Tail.INVERTED_CDF``: VaR is the ``level``-quantile of the losses by NumPy's ``inverted_cdf``, the
      ``ceil(n x level)``-th smallest (the 6th worst of 500 at 99 %); ES is the mean of the losses at or above it.
    """
    _check_level(level)
    sample = _losses(losses)
    ordered = np.sort(sample)[::-1]
    n = sample.size
    if convention is Tail.STANDARD:
        share = _snapped(n * (1.0 - level))
        k = math.ceil(share)
        var = float(ordered[k - 1])
        return var, (math.fsum(ordered[: k - 1].tolist()) + (share - (k - 1)) * var) / share
    var = float(ordered[n - math.ceil(_snapped(n * level))])
    return var, float(np.mean(sample[sample >= var]))


def weighted_tail(losses: F64, weights: F64, level: float) -> tuple[float, float]:
    """``(VaR, ES)`` of losses (base currency, positive a loss) whose scenarios carry probability ``weights``
    (non-negative, scaled here to sum to 1), on the standard convention of :func:`tail` generalized to weights.

    Ranked worst first with cumulative weights ``c_j = w_1 + ... + w_j`` and tail probability ``p = 1 - level``:
    VaR is ``L_k`` for the first ``k`` with ``c_k >= p``; ES is
    ``(w_1 L_1 + ... + w_(k-1) L_(k-1) + (p - c_(k-1)) L_k) / p``, the ``k``-th loss counted for the part of its
    weight that completes ``p`` (Hull's weighting of observations). A ``c_k`` within a relative 1e-12 of ``p``
    counts as reaching it, so that equal weights give :func:`tail`'s figures.
    """
    _check_level(level)
    sample = _losses(losses)
    raw = np.asarray(weights, dtype=np.float64)
    if raw.shape != sample.shape:
        raise ValueError(f"weights must have the shape of losses, {sample.shape}, got {raw.shape}")
    total = float(raw.sum())
    if not np.all(np.isfinite(raw)) or np.any(raw < 0.0) or not 0.0 < total < math.inf:
        raise ValueError("weights must be finite, non-negative and not all 0")
    order = np.argsort(-sample, kind="stable")
    ordered, share = sample[order], raw[order] / total
    cumulative = np.cumsum(share)
    p = 1.0 - level
    k = min(int(np.searchsorted(cumulative, p * (1.0 - _TIE_TOLERANCE))), sample.size - 1)
    before = float(cumulative[k - 1]) if k > 0 else 0.0
    var = float(ordered[k])
    body = math.fsum((share[:k] * ordered[:k]).tolist())
    return var, (body + max(p - before, 0.0) * var) / p


def _empirical(pnl: F64, level: float, horizon_days: float, method: str, convention: Tail) -> RiskMeasure:
    var, es = tail(-pnl, level, convention)
    return RiskMeasure(var, es, level, horizon_days, method, int(pnl.size))


def historical(
    pnl_of: PnlOf, returns: F64, level: float, horizon_days: float, convention: Tail = Tail.STANDARD
) -> RiskMeasure:
    """Historical VaR and ES by full revaluation of each observed scenario, equally weighted.

    ``returns`` is ``[scenario, asset]`` of simple returns already over ``horizon_days`` (e.g. from
    :func:`horizon_returns`); they are not rescaled, ``horizon_days`` is recorded. ``pnl_of`` maps such an
    array to the P&L of each scenario in base currency. Tail figures by :func:`tail` on ``convention``.
    """
    _check_level(level)
    _check_horizon(horizon_days)
    scenarios = _returns_array(returns, "returns")
    return _empirical(_pnl(pnl_of, scenarios), level, horizon_days, "historical", convention)


def age_weighted(
    pnl_of: PnlOf, returns: F64, level: float, horizon_days: float, lam: float = HULL_AGE_LAMBDA
) -> RiskMeasure:
    """Age-weighted historical VaR and ES (Boudoukh, Richardson and Whitelaw 1998; Hull's weighting of
    observations): the scenarios of :func:`historical`, oldest first, weighted by
    :func:`~crossmargin.margin.ewma.age_weights` (each ``lam`` times the next), tail figures by
    :func:`weighted_tail`."""
    _check_level(level)
    _check_horizon(horizon_days)
    check_decay(lam, "lam")
    scenarios = _returns_array(returns, "returns")
    var, es = weighted_tail(-_pnl(pnl_of, scenarios), age_weights(scenarios.shape[0], lam), level)
    return RiskMeasure(var, es, level, horizon_days, "age_weighted", scenarios.shape[0])


def volatility_scaled(returns: F64, lam: float = RISKMETRICS_LAMBDA) -> F64:
    """One-row ``returns`` (``[time, asset]``, ascending) rescaled to today's volatility (Hull and White 1998):
    ``r_i x s_(n+1) / s_i`` per asset, ``s_i`` the EWMA volatility of ``r_i`` estimated the row before and
    ``s_(n+1)`` the current one (:func:`~crossmargin.margin.ewma.ewma_variances`). An asset whose estimate is 0
    scales a zero return to 0; a nonzero return against a zero estimate (the seed underflowed) is refused."""
    array = _returns_array(returns, "returns")
    path = np.sqrt(ewma_variances(array, lam))
    then, now = path[:-1], path[-1]
    if np.any((then == 0.0) & (array != 0.0)):
        raise ValueError("returns: a nonzero return where its EWMA volatility is 0; use a larger lambda")
    with np.errstate(over="ignore"):
        scaled: F64 = array * np.divide(now, then, out=np.ones_like(then), where=then > 0.0)
    if not np.all(np.isfinite(scaled)):
        raise ValueError("returns: a volatility-scaled return overflows; use a larger lambda")
    return scaled


def compounded(returns: F64, horizon: int) -> F64:
    """Overlapping ``horizon``-row returns compounded from one-row ``returns``: ``prod(1 + r) - 1`` over each
    window, ``[time - horizon + 1, asset]``. For ``horizon`` > 1 every ``1 + r`` must be positive."""
    _check_count("horizon", horizon)
    array = _returns_array(returns, "returns")
    if array.shape[0] < horizon:
        raise ValueError(f"returns too short: {array.shape[0]} rows give no {horizon}-row return")
    if horizon == 1:
        return array
    if not np.all(array > -1.0):
        raise ValueError(f"returns: a one-row return of -100 % or worse cannot be compounded over {horizon} rows")
    sums = np.vstack([np.zeros((1, array.shape[1])), np.cumsum(np.log1p(array), axis=0)])
    result: F64 = np.expm1(sums[horizon:] - sums[:-horizon])
    return result


def volatility_weighted(
    pnl_of: PnlOf,
    returns: F64,
    level: float,
    horizon: int,
    lam: float = RISKMETRICS_LAMBDA,
    convention: Tail = Tail.STANDARD,
) -> RiskMeasure:
    """Volatility-weighted historical VaR and ES (Hull and White 1998): one-row ``returns`` rescaled by
    :func:`volatility_scaled`, compounded over ``horizon`` rows (:func:`compounded`), fully revalued by
    ``pnl_of`` and equally weighted (:func:`tail` on ``convention``). ``horizon`` is recorded as
    ``horizon_days``."""
    _check_level(level)
    _check_count("horizon", horizon)
    scenarios = compounded(volatility_scaled(returns, lam), horizon)
    return _empirical(_pnl(pnl_of, scenarios), level, float(horizon), "volatility_weighted", convention)


def parametric(exposures: F64, covariance: F64, level: float, horizon_days: float) -> RiskMeasure:
    """Delta-normal VaR and ES: P&L = ``exposures . returns``, returns ~ N(0, ``covariance * horizon_days``).

    ``exposures`` are base-currency values per asset (P&L per unit simple return); ``covariance`` is of daily
    returns, from any estimator (:func:`covariance`, :func:`~crossmargin.margin.ewma.ewma_covariance`). The P&L
    mean is taken as 0 whatever the estimator. With ``sigma`` the P&L standard deviation and
    ``z = N^-1(level)`` the standard normal quantile of the given level (exact, from
    :class:`statistics.NormalDist`, not a table's 2.33), VaR = ``z * sigma`` and
    ES = ``sigma * pdf(z) / (1 - level)``.
    """
    _check_level(level)
    _check_horizon(horizon_days)
    matrix = _covariance_array(covariance)
    weights = np.asarray(exposures, dtype=np.float64)
    if weights.shape != (matrix.shape[0],):
        raise ValueError(f"exposures must have shape {(matrix.shape[0],)} to match covariance, got {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("exposures must be finite")
    variance = float(weights @ matrix @ weights) * horizon_days
    if variance < -_PSD_TOLERANCE * float(np.max(np.abs(matrix))) * float(weights @ weights) * horizon_days:
        raise ValueError("covariance must be positive semi-definite")
    sigma = sqrt(max(variance, 0.0))
    normal = NormalDist()
    z = normal.inv_cdf(level)
    return RiskMeasure(z * sigma, sigma * normal.pdf(z) / (1.0 - level), level, horizon_days, "parametric", 0)


def covariance(returns: F64, estimator: Estimator = Estimator.SAMPLE) -> F64:
    """Equally weighted ``[asset, asset]`` covariance of ``[time, asset]`` returns ``r_1 .. r_n``:

    * ``Estimator.SAMPLE``: ``sum (r_i - mean)(r_i - mean)' / (n - 1)``, the unbiased sample covariance;
    * ``Estimator.POPULATION``: the same sum over ``n`` (Hull's equally weighted figures in the four-index
      example are on it);
    * ``Estimator.ZERO_MEAN``: ``sum r_i r_i' / n``, the mean taken as 0, as risk practice estimates daily
      returns (RiskMetrics; Hull) whose mean is small against their noise.

    ``SAMPLE`` and ``POPULATION`` need at least 2 times, ``ZERO_MEAN`` 1.
    """
    array = _returns_array(returns, "returns")
    n = array.shape[0]
    if estimator is Estimator.ZERO_MEAN:
        zero_mean: F64 = array.T @ array / n
        return zero_mean
    if n < 2:
        raise ValueError(f"returns need at least 2 times for a {estimator} covariance, got {n}")
    centred = array - array.mean(axis=0)
    result: F64 = centred.T @ centred / (n - 1 if estimator is Estimator.SAMPLE else n)
    return result


def correlated_normals(covariance: F64, n: int, seed: int) -> F64:
    """``[n, asset]`` draws from N(0, ``covariance``) with ``numpy.random.default_rng(seed)``; same seed, same draws.

    Factors by Cholesky; a positive semi-definite matrix Cholesky refuses (singular, e.g. perfectly correlated
    assets) is factored by eigen-decomposition with negative rounding-level eigenvalues clipped to 0.
    """
    _check_count("n", n)
    matrix = _covariance_array(covariance)
    try:
        factor = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        eigenvalues, eigenvectors = np.linalg.eigh(matrix)
        if float(eigenvalues.min()) < -_PSD_TOLERANCE * float(np.max(np.abs(matrix))):
            raise ValueError("covariance must be positive semi-definite") from None
        factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    draws: F64 = np.random.default_rng(seed).standard_normal((n, matrix.shape[0])) @ factor.T
    return draws


def monte_carlo(
    pnl_of: PnlOf,
    covariance: F64,
    level: float,
    horizon_days: float,
    paths: int,
    seed: int,
    convention: Tail = Tail.STANDARD,
) -> RiskMeasure:
    """Monte Carlo VaR and ES: ``paths`` horizon returns ~ N(0, ``covariance * horizon_days``), fully revalued.

    ``covariance`` is of daily simple returns; ``pnl_of`` maps the ``[path, asset]`` returns to each path's
    P&L in base currency. Tail figures by :func:`tail` on ``convention``. Deterministic for a ``seed``.
    """
    _check_level(level)
    _check_horizon(horizon_days)
    _check_count("paths", paths)
    returns = correlated_normals(_covariance_array(covariance) * horizon_days, paths, seed)
    return _empirical(_pnl(pnl_of, returns), level, horizon_days, "monte_carlo", convention)
