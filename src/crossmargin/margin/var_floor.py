"""A pool's value at risk as a margin floor (:class:`~crossmargin.model.rules.VarFloor`).

Delta-normal, so the requirement is a deterministic function of the state: each asset's exposure
``e_a`` (base currency per unit simple return) is the pool's balance of it at its price plus its
positions' deltas on it (Black-76 for options; see :func:`crossmargin.margin.exposure.position_risk`)
at its price; its daily volatility is its annualized ``vols`` entry at moneyness 1 over sqrt(365); the
covariance is ``rho_ab sigma_a sigma_b`` with the market's correlations (1 where none is given). Then
``VaR = z(level) x sqrt(e' C e x horizon_days)`` (:func:`crossmargin.margin.var.parametric`), rounded to
1e-8 of the base currency.
"""

import math
from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from crossmargin.margin.exposure import position_risk
from crossmargin.margin.valuation import atm_vol, requirement_figure
from crossmargin.margin.var import parametric
from crossmargin.model import InputError, Portfolio, Position
from crossmargin.model.rules import VarFloor

DAYS_PER_YEAR = 365.0


def var_requirement(
    positions: tuple[Position, ...], balances: Mapping[str, Decimal], portfolio: Portfolio, terms: VarFloor
) -> Decimal:
    """The pool's delta-normal VaR (base currency; see module doc)."""
    market = portfolio.market
    exposure: dict[str, float] = {}
    for asset, amount in balances.items():
        if asset != portfolio.base and amount:
            exposure[asset] = exposure.get(asset, 0.0) + float(amount * market.price(asset))
    for p in positions:
        spec = portfolio.instruments[p.instrument]
        if spec.underlying not in market.prices:
            raise InputError(f"prices.{spec.underlying}", "the VaR floor needs the price of every underlying held")
        delta = position_risk(p, spec, market).delta * float(market.price(spec.underlying))
        exposure[spec.underlying] = exposure.get(spec.underlying, 0.0) + delta
    names = sorted(exposure)
    if not names:
        return Decimal(0)
    sigma = np.array([_daily_vol(portfolio, a) for a in names])
    rho = np.array([[float(market.correlation(a, b)) for b in names] for a in names])
    weights = np.array([exposure[a] for a in names])
    measure = parametric(weights, rho * np.outer(sigma, sigma), float(terms.level), float(terms.horizon_days))
    return requirement_figure(measure.var)


def _daily_vol(portfolio: Portfolio, asset: str) -> float:
    vol = atm_vol(portfolio.market, asset)
    if vol is None:
        raise InputError(f"vols.{asset}", "the VaR floor needs the volatility of every asset the pool is exposed to")
    return vol / math.sqrt(DAYS_PER_YEAR)
