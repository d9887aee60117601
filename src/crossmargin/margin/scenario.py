"""Scenario (portfolio) margin: a pool's requirement from the worst loss of its positions over a grid of
price moves and volatility shocks per underlying, plus add-ons (:class:`~crossmargin.model.rules.ScenarioMargin`).

For each underlying ``u`` the pool's positions on ``u`` and its balance of ``u`` (collateral held in the
underlying: spot hedges a short perpetual) are revalued (base currency, float64 as option values are) at
every (move, shock) pair: every price of ``u`` and every mark on it x ``1 + move``, every
option volatility on it x ``1 + shock``, options repriced by Black-76. Their worst loss ``W_u`` (zero if
no scenario loses) is floored at ``short_option_minimum`` x the underlying notional of the options sold
on ``u``. Then::

    maintenance = sum W_u - correlation_credit x (sum W_u - max W_u)
                  + sum_u delta_addon x |net delta_u| x price_u
                  + sum_u concentration_rate x max(0, gross notional_u - concentration_threshold)
    initial     = maintenance x initial_factor

``net delta_u`` counts the balance of ``u`` too. Marks move with their underlying, so a perpetual
against a future on the same underlying has no grid loss: basis risk is not in the grid. The equity the
requirement is compared with still weighs collateral at its haircut. The figures are rounded to 12
significant digits into Decimals, rounded to 1e-8 of the base currency.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin.exposure import position_risk, positions_value
from crossmargin.margin.valuation import is_option, option_forward, requirement_figure
from crossmargin.model import Market, Portfolio, Position
from crossmargin.model.rules import ScenarioMargin


@dataclass(frozen=True)
class UnderlyingMargin:
    """One underlying's part of a scenario requirement (base currency): the grid's worst loss (after the
    short-option floor) and the add-ons; ``worst`` is the (move, shock) that loses most."""

    underlying: str
    worst_loss: float
    worst: tuple[Decimal, Decimal]
    delta_addon: float
    concentration_addon: float


@dataclass(frozen=True)
class ScenarioRequirement:
    """A pool's scenario margin (base currency) and each underlying's part."""

    maintenance: Decimal
    initial: Decimal
    underlyings: tuple[UnderlyingMargin, ...]


def scenario_requirement(
    positions: tuple[Position, ...], balances: Mapping[str, Decimal], portfolio: Portfolio, terms: ScenarioMargin
) -> ScenarioRequirement:
    """The scenario margin of a pool's ``positions`` and ``balances`` (see module doc)."""
    market = portfolio.market
    by_underlying: dict[str, list[Position]] = {}
    for p in positions:
        by_underlying.setdefault(portfolio.instruments[p.instrument].underlying, []).append(p)
    parts = tuple(
        _underlying(u, tuple(held), float(balances.get(u, 0)), portfolio, market, terms)
        for u, held in sorted(by_underlying.items())
    )
    losses = [part.worst_loss for part in parts]
    credit = float(terms.correlation_credit)
    grid = sum(losses) - credit * (sum(losses) - max(losses)) if losses else 0.0
    maintenance = grid + sum(part.delta_addon + part.concentration_addon for part in parts)
    initial = maintenance * float(terms.initial_factor)
    return ScenarioRequirement(requirement_figure(maintenance), requirement_figure(initial), parts)


def _underlying(
    underlying: str,
    positions: tuple[Position, ...],
    held: float,
    portfolio: Portfolio,
    market: Market,
    terms: ScenarioMargin,
) -> UnderlyingMargin:
    price = _underlying_price(underlying, positions, portfolio, market)
    now = positions_value(positions, portfolio, market)
    worst_loss, worst = 0.0, (Decimal(0), Decimal(0))
    for move in terms.moves:
        for shock in terms.vol_shocks:
            moved = positions_value(positions, portfolio, _shocked(market, portfolio, underlying, move, shock))
            loss = now - moved - held * price * float(move)
            if loss > worst_loss:
                worst_loss, worst = loss, (move, shock)
    sold = 0.0
    gross = 0.0
    delta = held
    for p in positions:
        spec = portfolio.instruments[p.instrument]
        units = abs(float(p.size * spec.contract_size))
        delta += position_risk(p, spec, market).delta
        if is_option(spec):
            notional = units * price
            sold += notional if p.size < 0 else 0.0
        else:
            notional = units * price / float(market.mark(spec.name)) if spec.inverse else units * price
        gross += notional
    worst_loss = max(worst_loss, float(terms.short_option_minimum) * sold)
    threshold = terms.concentration_threshold
    concentration = 0.0 if threshold is None else float(terms.concentration_rate) * max(0.0, gross - float(threshold))
    return UnderlyingMargin(underlying, worst_loss, worst, float(terms.delta_addon) * abs(delta) * price, concentration)


def _underlying_price(underlying: str, positions: tuple[Position, ...], portfolio: Portfolio, market: Market) -> float:
    """The underlying's price in base currency: its own price, else the first position's mark in base."""
    if underlying in market.prices or underlying == market.base:
        return float(market.price(underlying))
    spec = portfolio.instruments[positions[0].instrument]
    if is_option(spec):
        return option_forward(spec, market)
    return float(market.mark(spec.name) * market.price(spec.settle))


def _shocked(market: Market, portfolio: Portfolio, underlying: str, move: Decimal, shock: Decimal) -> Market:
    """``market`` with ``underlying``'s price and marks x (1 + move), its options' volatilities x (1 + shock)."""
    factor, vol_factor = 1 + move, 1 + shock
    on = {name for name, spec in portfolio.instruments.items() if spec.underlying == underlying}
    prices = {a: p * factor if a == underlying else p for a, p in market.prices.items()}
    marks = {name: m * factor if name in on else m for name, m in market.marks.items()}
    vols = {
        name: tuple((m, v * vol_factor) for m, v in points) if name == underlying or name in on else points
        for name, points in market.vols.items()
    }
    return replace(market, prices=prices, marks=marks, vols=vols)
