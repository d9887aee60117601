"""Black-76 option pricing and greeks on a forward, in float64 (plain Python floats in and out).

Units and conventions:

* ``forward`` and ``strike`` are prices of one unit of the underlying in the quote (settle) currency.
* ``vol`` is annualized (0.2 = 20 %); ``t`` is in years of 365 days (see :func:`year_fraction`); ``rate`` is the
  continuously compounded annual rate that discounts the payoff, ``D = exp(-rate * t)``.
* Values are per 1 unit of underlying, in the quote currency (linear). Signs are those of a long option: the price is
  never negative, a call's delta is >= 0 and a put's <= 0, gamma and vega are never negative, and theta is
  what the value gains (positive) or loses (negative) per calendar day as time passes with nothing else moving.
* Inverse (coin-settled) options are valued in the underlying coin: :func:`inverse_price`, :func:`inverse_delta`.

Degenerate inputs have no density to differentiate and are settled explicitly: when ``t == 0`` or ``vol == 0`` (or
``vol * sqrt(t)`` underflows to 0) the value is the discounted intrinsic value ``D * max(F - K, 0)`` (call) or
``D * max(K - F, 0)`` (put); delta is ``D`` for an in-the-money call (``-D`` for a put), 0 out of the money and
``D / 2`` (``-D / 2``) exactly at the money; gamma and vega are 0. Theta is 0 at expiry (``t == 0``); with
``vol == 0`` and ``t > 0`` it is the discounting's pull alone, ``rate * price / 365``, the limit of the general
formula as ``vol`` goes to 0.
"""

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from crossmargin.model import OptionRight

DAYS_PER_YEAR = 365.0
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
VOL_POINT = 0.01
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    """A long option's value and sensitivities, per 1 unit of underlying, in the quote currency."""

    price: float  # option value per 1 unit of underlying, in the quote/settle currency (linear)
    delta: float  # dV/dF
    gamma: float  # d2V/dF2
    vega: float  # dV/dsigma per one volatility point (0.01), i.e. 0.01 * dV/dsigma
    theta: float  # value change per calendar day as time passes: -(dV/dT) / 365, T in years


def _cdf(x: float) -> float:
    """The standard normal distribution function, through ``erfc`` to keep the lower tail accurate."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _pdf(x: float) -> float:
    """The standard normal density."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _check(name: str, value: float, *, positive: bool = False, non_negative: bool = False) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is finite (and positive / non-negative when asked)."""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0.0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    if non_negative and value < 0.0:
        raise ValueError(f"{name} must be non-negative, got {value!r}")


def year_fraction(valuation: datetime, expiry: datetime) -> float:
    """Years of 365 days from ``valuation`` to ``expiry`` (elapsed seconds / (365 * 86400)); 0 once expired.

    Both datetimes must be timezone-aware; a naive one raises ValueError naming it.
    """
    for name, moment in (("valuation", valuation), ("expiry", expiry)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return max((expiry - valuation).total_seconds(), 0.0) / SECONDS_PER_YEAR


def black76(forward: float, strike: float, vol: float, t: float, rate: float, right: OptionRight) -> Greeks:
    """Black-76 value and greeks of a long option on ``forward``, discounted at ``rate`` over ``t`` years.

    ``forward`` and ``strike`` must be positive, ``vol`` and ``t`` non-negative, all finite (ValueError naming the
    argument otherwise). See the module docstring for units, signs and the ``t == 0`` / ``vol == 0`` conventions.
    """
    _check("forward", forward, positive=True)
    _check("strike", strike, positive=True)
    _check("vol", vol, non_negative=True)
    _check("t", t, non_negative=True)
    _check("rate", rate)
    sign = 1.0 if right is OptionRight.CALL else -1.0
    discount = math.exp(-rate * t)
    root_t = math.sqrt(t)
    spread = vol * root_t
    if spread == 0.0:
        intrinsic = max(sign * (forward - strike), 0.0)
        exercised = 1.0 if intrinsic > 0.0 else 0.5 if forward == strike else 0.0
        price = discount * intrinsic
        theta = 0.0 if t == 0.0 else rate * price / DAYS_PER_YEAR
        return Greeks(price, sign * discount * exercised, 0.0, 0.0, theta)
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    price = discount * sign * (forward * _cdf(sign * d1) - strike * _cdf(sign * d2))
    density = _pdf(d1)
    dv_dsigma = discount * forward * density * root_t
    dv_dt = -rate * price + discount * forward * density * vol / (2.0 * root_t)
    return Greeks(
        price=price,
        delta=sign * discount * _cdf(sign * d1),
        gamma=discount * density / (forward * spread),
        vega=VOL_POINT * dv_dsigma,
        theta=-dv_dt / DAYS_PER_YEAR,
    )


def inverse_price(greeks: Greeks, forward: float) -> float:
    """The option's value in the underlying coin per 1 unit of underlying notional: ``price / forward``."""
    _check("forward", forward, positive=True)
    return greeks.price / forward


def inverse_delta(greeks: Greeks, forward: float) -> float:
    """Premium-adjusted delta (Deribit's convention): ``delta - price / forward``, i.e. ``F * d(price / F) / dF``.

    The exposure, in units of underlying, of a coin-settled option whose premium is itself held in the coin.
    """
    _check("forward", forward, positive=True)
    return greeks.delta - greeks.price / forward


def smile_vol(strike: float, forward: float, smile: Sequence[tuple[float, float]]) -> float:
    """The annualized vol at ``strike`` from a smile of ``(moneyness K/F, vol)`` points.

    Linear in moneyness between points, flat beyond the first and last; a single point is a flat smile. Raises
    ValueError on an empty smile, moneyness not strictly ascending or not positive, or a vol not positive.
    """
    _check("strike", strike, positive=True)
    _check("forward", forward, positive=True)
    if not smile:
        raise ValueError("smile must have at least one point")
    for moneyness, vol in smile:
        _check("smile moneyness", moneyness, positive=True)
        _check("smile vol", vol, positive=True)
    points = [m for m, _ in smile]
    if any(b <= a for a, b in pairwise(points)):
        raise ValueError(f"smile moneyness must be strictly ascending, got {points}")
    x = strike / forward
    if x <= points[0]:
        return smile[0][1]
    if x >= points[-1]:
        return smile[-1][1]
    upper = bisect_right(points, x)
    (m0, v0), (m1, v1) = smile[upper - 1], smile[upper]
    return v0 + (v1 - v0) * (x - m0) / (m1 - m0)
