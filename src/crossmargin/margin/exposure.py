"""An account's risk: every position's price and greeks, delta by risk factor, and the account's value under
moved prices (the full revaluation that historical and Monte Carlo VaR need).

Units and signs (float64; model outputs, not ledger money):

- A *risk factor* is an asset with a price (every non-base asset): the underlyings and the collateral.
  A scenario is one simple return per factor (``[scenario, factor]``, factors in :func:`factors` order);
  every price moves by ``1 + r``, a future's or perpetual's mark with its underlying, and an option is
  revalued by Black-76 at its moved forward (volatility and valuation time held).
- Position greeks are for the whole position (size x contract size x per-unit greek), long positive:
  ``delta`` in underlying units (a linear future: size x contract size; an inverse one: its quote
  notional over the mark; an option: Black-76 delta), ``gamma`` in underlying units per unit move of
  the underlying's price in the strike currency, ``vega`` in the strike currency per volatility point,
  ``theta`` in the strike currency per day. ``price`` is the mark: for an option the model premium per
  unit of underlying in its settle asset.
- An account's delta and gamma by factor are the sensitivities of its base-currency value (balances at
  full price plus its positions' value, as :func:`pnl_function` revalues it) to the factor's price, by
  central differences of ``BUMP`` relative moves: they count the collateral (holding one BTC is a delta
  of one BTC) and the PnL a coin-settled position holds in coin. ``delta_base`` is the base-currency
  value of that delta (units x price), ``gamma_by_underlying`` the change of the delta (units) per unit
  move of the price.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from crossmargin.margin.options import inverse_price
from crossmargin.margin.positions import unrealized_pnl
from crossmargin.margin.valuation import is_option, option_forward, option_greeks, option_premium
from crossmargin.model import Account, Instrument, Market, Portfolio, Position

F64 = npt.NDArray[np.float64]
BUMP = 1e-3  # relative price move of the central differences giving an account's delta and gamma


@dataclass(frozen=True)
class PositionRisk:
    """One position's mark and greeks (see module doc for units)."""

    instrument: str
    underlying: str
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


@dataclass(frozen=True)
class AccountRisk:
    """An account's positions' greeks, its delta and gamma by risk factor (see module doc), and its
    positions' ``vega`` and ``theta`` summed in base currency."""

    account: str
    positions: tuple[PositionRisk, ...]
    delta_by_underlying: Mapping[str, float]
    delta_base: Mapping[str, float]
    gamma_by_underlying: Mapping[str, float]
    vega: float
    theta: float


def factors(portfolio: Portfolio) -> list[str]:
    """The risk factors: every asset with a price other than the base currency, sorted."""
    return sorted(a for a in portfolio.market.prices if a != portfolio.base)


def position_risk(position: Position, spec: Instrument, market: Market) -> PositionRisk:
    """The position's mark and greeks (see module doc)."""
    units = float(position.size * spec.contract_size)
    if not is_option(spec):
        mark = float(market.mark(spec.name))
        delta = units / mark if spec.inverse else units
        return PositionRisk(spec.name, spec.underlying, mark, delta, 0.0, 0.0, 0.0)
    greeks = option_greeks(spec, market)
    price = float(option_premium(spec, market))
    return PositionRisk(
        spec.name,
        spec.underlying,
        price,
        units * greeks.delta,
        units * greeks.gamma,
        units * greeks.vega,
        units * greeks.theta,
    )


def account_risk(account: Account, portfolio: Portfolio) -> AccountRisk:
    """Greeks of every position and the account's delta and gamma by factor (see module doc)."""
    market = portfolio.market
    positions = tuple(position_risk(p, portfolio.instruments[p.instrument], market) for p in account.positions)
    vega = theta = 0.0
    for risk in positions:
        spec = portfolio.instruments[risk.instrument]
        strike_currency = float(market.price(portfolio.base if spec.coin_settled else spec.settle))
        vega += risk.vega * strike_currency
        theta += risk.theta * strike_currency
    names = factors(portfolio)
    held = {a for a in account.balances if a in names}
    for p in account.positions:
        spec = portfolio.instruments[p.instrument]
        held |= {a for a in (spec.underlying, spec.settle) if a in names}
    exposed = sorted(held)
    bumps = np.zeros((2 * len(exposed) + 1, len(names)))
    for k, asset in enumerate(exposed):
        bumps[2 * k, names.index(asset)] = BUMP
        bumps[2 * k + 1, names.index(asset)] = -BUMP
    pnl = pnl_function(account, portfolio)(bumps)
    delta: dict[str, float] = {}
    base: dict[str, float] = {}
    gamma: dict[str, float] = {}
    for k, asset in enumerate(exposed):
        price = float(market.price(asset))
        up, down = float(pnl[2 * k]), float(pnl[2 * k + 1])
        base[asset] = (up - down) / (2 * BUMP)
        delta[asset] = base[asset] / price
        gamma[asset] = (up - 2 * float(pnl[-1]) + down) / (BUMP * price) ** 2
    return AccountRisk(account.id, positions, delta, base, gamma, vega, theta)


def pnl_function(account: Account, portfolio: Portfolio) -> Callable[[F64], F64]:
    """The account's P&L (base currency) under each scenario of ``[scenario, factor]`` simple returns: its
    balances at full price plus its positions' value (uPnL of futures at their moved marks, options at
    their revalued premium), minus the same now."""
    market = portfolio.market
    names = factors(portfolio)
    index = {a: k for k, a in enumerate(names)}
    now = _value(account, portfolio, market)

    def pnl_of(returns: F64) -> F64:
        scenarios = np.asarray(returns, dtype=np.float64)
        out = np.empty(scenarios.shape[0])
        for s in range(scenarios.shape[0]):
            moved = _moved(market, portfolio, index, scenarios[s])
            out[s] = _value(account, portfolio, moved) - now
        return out

    return pnl_of


def _moved(market: Market, portfolio: Portfolio, index: Mapping[str, int], returns: F64) -> Market:
    """The market with every factor's price moved by its return; marks follow their underlying."""

    def scale(asset: str) -> Decimal:
        k = index.get(asset)
        return Decimal(1) if k is None else Decimal(repr(1.0 + float(returns[k])))

    prices = {a: p * scale(a) for a, p in market.prices.items()}
    marks = {
        name: m * scale(portfolio.instruments[name].underlying)
        for name, m in market.marks.items()
        if not is_option(portfolio.instruments[name])
    }
    return replace(market, prices=prices, marks=marks)


def _value(account: Account, portfolio: Portfolio, market: Market) -> float:
    """Balances at full price plus every position's value (base currency) at ``market``."""
    total = sum(float(amount) * float(market.price(asset)) for asset, amount in account.balances.items())
    return total + positions_value(account.positions, portfolio, market)


def positions_value(positions: tuple[Position, ...], portfolio: Portfolio, market: Market) -> float:
    """The positions' value at ``market`` in base currency: futures' uPnL at their marks, options' model
    premium less their entry premium, each x size x contract size at its settle asset's price."""
    total = 0.0
    for position in positions:
        spec = portfolio.instruments[position.instrument]
        settle_price = float(market.price(spec.settle))
        units = float(position.size * spec.contract_size)
        if is_option(spec):
            greeks = option_greeks(spec, market)
            forward = option_forward(spec, market)
            premium = inverse_price(greeks, forward) if spec.coin_settled else greeks.price
            total += units * (premium - float(position.entry_price)) * settle_price
        else:
            pnl = unrealized_pnl(spec, position.size, position.entry_price, market.mark(spec.name))
            total += float(pnl) * settle_price
    return total
