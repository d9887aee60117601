"""Exponentially weighted estimates from a window of returns: RiskMetrics' EWMA variances and covariance, and
the age weights of Boudoukh, Richardson and Whitelaw's hybrid historical simulation.

Units and conventions:

* Returns are simple returns (price ratio - 1) over one row of the history, ``[time, asset]`` in ascending
  time; variances and covariances are of such returns (per row, not annualized).
* ``lam`` (lambda) is the decay in (0, 1): the weight of an observation falls by ``lam`` per row of age.
* EWMA is zero-mean, as RiskMetrics (1996) and Hull use it for daily returns. With returns ``r_1 .. r_n``:

      s2_1     = seed
      s2_(i+1) = lam * s2_i + (1 - lam) * r_i ** 2

  ``s2_i`` is the variance of ``r_i`` estimated before ``r_i`` was seen; ``s2_(n+1)`` is the current
  estimate, for the next return. The seed is the sample variance of the whole window (mean removed, divided
  by ``n - 1``), as Hull seeds his spreadsheets; its weight in ``s2_(n+1)`` is ``lam ** n`` (3.8e-14 for 500
  rows at 0.94), so it only matters for short windows. The covariance follows the same recursion with the
  outer products ``r_i r_i'`` and the sample covariance as seed.
"""

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

RISKMETRICS_LAMBDA = 0.94  # RiskMetrics Technical Document (1996), daily data
HULL_AGE_LAMBDA = 0.995  # Hull, Risk Management and Financial Institutions, weighting of observations


def check_decay(lam: float, name: str = "lam") -> None:
    """Raise ``ValueError`` unless ``lam`` is in (0, 1)."""
    if not 0.0 < lam < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {lam}")


def _window(returns: F64) -> F64:
    array = np.asarray(returns, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"returns must be a 2-D [time, asset] array, got shape {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"returns need at least 2 times to seed an EWMA with a sample variance, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ValueError("returns must be finite")
    return array


def _sample_covariance(array: F64) -> F64:
    centred = array - array.mean(axis=0)
    result: F64 = centred.T @ centred / (array.shape[0] - 1)
    return result


def ewma_variances(returns: F64, lam: float = RISKMETRICS_LAMBDA) -> F64:
    """``[time + 1, asset]`` EWMA variances of one-row ``returns`` (see the module docstring).

    Row ``i`` (0-based) is ``s2_(i+1)``, the variance of ``returns[i]`` estimated the row before; the last row
    is the current estimate, for the next return.
    """
    check_decay(lam)
    array = _window(returns)
    path = np.empty((array.shape[0] + 1, array.shape[1]))
    path[0] = np.diag(_sample_covariance(array))
    for i, row in enumerate(array):
        path[i + 1] = lam * path[i] + (1.0 - lam) * row * row
    return path


def ewma_covariance(returns: F64, lam: float = RISKMETRICS_LAMBDA) -> F64:
    """The current ``[asset, asset]`` EWMA covariance of one-row ``returns``, for the next return:

    ``lam ** n * seed + (1 - lam) * sum_i lam ** (n - i) r_i r_i'`` (i = 1 .. n, seed the sample covariance),
    which is the recursion of the module docstring unrolled.
    """
    check_decay(lam)
    array = _window(returns)
    n = array.shape[0]
    decay = (1.0 - lam) * lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
    result: F64 = lam**n * _sample_covariance(array) + (array * decay[:, None]).T @ array
    return result


def age_weights(n: int, lam: float = HULL_AGE_LAMBDA) -> F64:
    """Probability weights of ``n`` scenarios, oldest first: scenario ``i`` (1 = oldest, ``n`` = latest) gets
    ``lam ** (n - i) * (1 - lam) / (1 - lam ** n)``, so each is ``lam`` times the next and they sum to 1
    (Boudoukh, Richardson and Whitelaw 1998; Hull's weighting of observations)."""
    check_decay(lam)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    weights: F64 = lam ** np.arange(n - 1, -1, -1, dtype=np.float64) * (1.0 - lam) / (1.0 - lam**n)
    return weights
