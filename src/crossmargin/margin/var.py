"""Value at Risk and expected shortfall of a portfolio's P&L: pure float64 functions over NumPy arrays.

Units and signs:

* P&L is in the base currency, positive a gain. A loss is ``-P&L``.
* VaR and expected shortfall (ES) are reported as losses: a positive number is a loss of that size. They are
  not clipped at 0: a book that gains in every scenario has a negative VaR (the smallest gain, negated).
* VaR at ``level`` is the ``level``-quantile of losses; ES is the mean loss at or beyond the VaR.
* Returns are simple returns (price ratio - 1), arrays shaped ``[scenario, asset]`` (or ``[time, asset]``).
* Covariances are of returns over one day unless stated; ``horizon_days`` scales them linearly (square-root
  of time for the standard deviation) under the zero-mean normal model.

Three methods: ``historical`` (full revaluation of observed horizon returns), ``parametric`` (delta-normal
closed form) and ``monte_carlo`` (full revaluation of correlated normal draws).
"""

from collections.abc import Callable
from dataclasses import dataclass
from math import isfinite, sqrt
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
PnlOf = Callable[[F64], F64]

_SYMMETRY_TOLERANCE = 1e-12  # relative to the largest |entry| of a covariance
_PSD_TOLERANCE = 1e-10  # a negative variance smaller than this share of the largest |entry| counts as 0


@dataclass(frozen=True)
class RiskMeasure:
    """VaR and expected shortfall of one book, in base currency, as positive losses (see the module docstring)."""

    var: float  # loss at the level: the empirical level-quantile of losses (inverted CDF) or the closed form
    expected_shortfall: float  # mean loss at or beyond the VaR (empirical: mean of losses >= var) or the closed form
    level: float  # confidence level in (0, 1), e.g. 0.99
    horizon_days: float  # the horizon the returns are over, in days
    method: str  # "historical", "parametric" or "monte_carlo"
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


def tail(losses: F64, level: float) -> tuple[float, float]:
    """``(VaR, ES)`` of a sample of losses (base currency, positive a loss) at ``level`` in (0, 1).

    VaR is the inverted-CDF ``level``-quantile (the ``ceil(n * level)``-th smallest loss); ES is the mean of the
    losses at or above it.
    """
    _check_level(level)
    sample = np.asarray(losses, dtype=np.float64)
    if sample.ndim != 1 or sample.size < 1:
        raise ValueError(f"losses must be a non-empty 1-D array, got shape {sample.shape}")
    if not np.all(np.isfinite(sample)):
        raise ValueError("losses must be finite")
    var = float(np.quantile(sample, level, method="inverted_cdf"))
    return var, float(np.mean(sample[sample >= var]))


def _empirical(pnl: F64, level: float, horizon_days: float, method: str) -> RiskMeasure:
    var, es = tail(-pnl, level)
    return RiskMeasure(var, es, level, horizon_days, method, int(pnl.size))


def historical(pnl_of: PnlOf, returns: F64, level: float, horizon_days: float) -> RiskMeasure:
    """Historical VaR and ES by full revaluation of each observed scenario.

    ``returns`` is ``[scenario, asset]`` of simple returns already over ``horizon_days`` (e.g. from
    :func:`horizon_returns`); they are not rescaled, ``horizon_days`` is recorded. ``pnl_of`` maps such an
    array to the P&L of each scenario in base currency.
    """
    _check_level(level)
    _check_horizon(horizon_days)
    scenarios = _returns_array(returns, "returns")
    return _empirical(_pnl(pnl_of, scenarios), level, horizon_days, "historical")


def parametric(exposures: F64, covariance: F64, level: float, horizon_days: float) -> RiskMeasure:
    """Delta-normal VaR and ES: P&L = ``exposures . returns``, returns ~ N(0, ``covariance * horizon_days``).

    ``exposures`` are base-currency values per asset (P&L per unit simple return); ``covariance`` is of daily
    returns. With ``sigma`` the P&L standard deviation and ``z`` the standard normal ``level``-quantile,
    VaR = ``z * sigma`` and ES = ``sigma * pdf(z) / (1 - level)``.
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


def covariance(returns: F64) -> F64:
    """Sample covariance (ddof=1) of ``[time, asset]`` returns, ``[asset, asset]``."""
    array = _returns_array(returns, "returns")
    if array.shape[0] < 2:
        raise ValueError(f"returns need at least 2 times for a sample covariance, got {array.shape[0]}")
    centred = array - array.mean(axis=0)
    result: F64 = centred.T @ centred / (array.shape[0] - 1)
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
    pnl_of: PnlOf, covariance: F64, level: float, horizon_days: float, paths: int, seed: int
) -> RiskMeasure:
    """Monte Carlo VaR and ES: ``paths`` horizon returns ~ N(0, ``covariance * horizon_days``), fully revalued.

    ``covariance`` is of daily simple returns; ``pnl_of`` maps the ``[path, asset]`` returns to each path's
    P&L in base currency. Deterministic for a ``seed``.
    """
    _check_level(level)
    _check_horizon(horizon_days)
    _check_count("paths", paths)
    returns = correlated_normals(_covariance_array(covariance) * horizon_days, paths, seed)
    return _empirical(_pnl(pnl_of, returns), level, horizon_days, "monte_carlo")
