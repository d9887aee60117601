"""Margin pools: collateral and the positions it secures, valued exactly in the base currency.

An account has one *cross* pool (its balances and every position without isolated margin) and one
*isolated* pool per isolated position (its allocated margin and that position alone). Every figure of
a pool is in base currency:

- collateral value: sum of ``weighted amount x price`` over the pool's assets (maintenance weights;
  the initial side uses the initial weights). Isolated margin is the settle asset itself, as venues
  hold it, and counts at full price.
- equity = collateral value + unrealized PnL; initial equity = initial collateral value + uPnL
  (profits at each instrument's uPnL weights on each side, losses in full). Under the rule
  ``pnl_in_settle_collateral`` a position's uPnL instead joins its settle asset's balance before that
  asset's weights apply, and equity is the weighted value of those sums (collateral value still
  reports the balances alone).
- free collateral = initial equity - initial margin; margin ratio = maintenance margin / equity
  (None when equity <= 0); health = equity - maintenance margin.
- liquidatable: equity < maintenance margin x the rulebook's liquidation threshold (``<=`` where the
  rulebook says so, for pools that hold positions).
- each requirement values its position at the mark, or at the entry price where the rulebook's
  ``margin_valuation`` says so for that side and margin mode (the notional picks the bracket too).
- under a scenario-margin rulebook the pool's maintenance and initial margin are the scenario
  requirement of its positions (:mod:`crossmargin.margin.scenario`); under a VaR floor maintenance is
  at least the pool's VaR (:mod:`crossmargin.margin.var_floor`) and initial at least maintenance. Each
  position's own figures stay its tier figures, multiplied, under volatility scaling, by its
  underlying's volatility multiplier, and by the market's margin multiplier of its underlying where a
  venue's risk action set one (:func:`crossmargin.margin.volatility.requirement_multiplier`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin import positions as pos
from crossmargin.margin.scenario import scenario_requirement
from crossmargin.margin.var_floor import var_requirement
from crossmargin.margin.volatility import requirement_multiplier
from crossmargin.model import Portfolio, Position, RuleChoices, Side
from crossmargin.model.numbers import ZERO, exact
from crossmargin.model.rules import MarginValuation, VolatilityScaling

_AT_MARK = MarginValuation()


@dataclass(frozen=True)
class Pool:
    """Collateral (asset -> amount, negative owed) and the positions it secures.

    ``haircut`` False values the collateral at full price (isolated margin).
    """

    balances: Mapping[str, Decimal]
    positions: tuple[Position, ...]
    haircut: bool = True


@dataclass(frozen=True)
class CollateralLine:
    """One asset of a pool: amount (asset units), price and values (base currency)."""

    asset: str
    amount: Decimal
    price: Decimal
    value: Decimal
    initial_value: Decimal


@dataclass(frozen=True)
class PositionFigures:
    """One position's figures; notional and money in base currency unless named ``_settle``.

    ``counted_pnl`` / ``initial_counted_pnl``: the uPnL as it counts toward equity on each side
    (profits at the instrument's uPnL weights, losses in full). ``notional_settle`` and ``notional`` are at
    the mark; ``tier`` is the bracket of the maintenance requirement (of the notional it values).
    """

    position: Position
    mark: Decimal
    notional_settle: Decimal
    notional: Decimal
    pnl_settle: Decimal
    unrealized_pnl: Decimal
    counted_pnl: Decimal
    initial_counted_pnl: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    tier: int


@dataclass(frozen=True)
class PoolFigures:
    """A pool's valuation, all in base currency (see the module doc for the definitions)."""

    collateral: tuple[CollateralLine, ...]
    positions: tuple[PositionFigures, ...]
    collateral_value: Decimal
    initial_collateral_value: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    initial_equity: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    free_collateral: Decimal
    margin_ratio: Decimal | None
    liquidatable: bool


def is_liquidatable(equity: Decimal, maintenance: Decimal, has_positions: bool, rules: RuleChoices) -> bool:
    """The liquidation condition of ``rules`` for a pool: equity below ``threshold x maintenance``."""
    required = maintenance * rules.liquidation_threshold
    if maintenance == 0 and not rules.liquidate_without_requirement:
        return False
    if rules.liquidate_at_equality and has_positions:
        return equity <= required
    return equity < required


def _collateral(pool: Pool, portfolio: Portfolio) -> tuple[CollateralLine, ...]:
    lines = []
    for asset_name, amount in pool.balances.items():
        if amount == 0:
            continue
        price = portfolio.market.price(asset_name)
        if pool.haircut:
            asset = portfolio.assets[asset_name]
            value = asset.value(amount, price, Side.MAINTENANCE)
            initial_value = asset.value(amount, price, Side.INITIAL)
        else:
            value = initial_value = amount * price
        lines.append(CollateralLine(asset_name, amount, price, value, initial_value))
    return tuple(lines)


def position_figures(
    position: Position, portfolio: Portfolio, valuation: MarginValuation = _AT_MARK
) -> PositionFigures:
    """Notional, uPnL and margin of one position at the portfolio's marks, converted to base; each requirement
    on the notional at the mark or, where ``valuation`` says so, at the entry price."""
    instrument = portfolio.instruments[position.instrument]
    mark = portfolio.market.mark(position.instrument)
    settle_price = portfolio.market.price(instrument.settle)
    size, entry = position.size, position.entry_price
    notional_settle = pos.notional(instrument, size, mark)
    pnl = pos.unrealized_pnl(instrument, size, entry, mark)

    interest = portfolio.market.open_interest.get(position.instrument, ZERO)

    def valued(side: Side) -> Decimal:
        at_entry = valuation.at_entry(side, position.isolated)
        return pos.notional(instrument, size, entry) if at_entry else notional_settle

    def required(side: Side) -> Decimal:
        margined = pos.margined_notional(instrument, valued(side))
        terms = pos.requirement_terms(instrument, size, entry, margined, side, interest)
        return terms.of(margined)

    return PositionFigures(
        position=position,
        mark=mark,
        notional_settle=notional_settle,
        notional=notional_settle * settle_price,
        pnl_settle=pnl,
        unrealized_pnl=pnl * settle_price,
        counted_pnl=pos.counted_pnl(instrument, pnl, Side.MAINTENANCE) * settle_price,
        initial_counted_pnl=pos.counted_pnl(instrument, pnl, Side.INITIAL) * settle_price,
        initial_margin=required(Side.INITIAL) * settle_price,
        maintenance_margin=required(Side.MAINTENANCE) * settle_price,
        tier=pos.bracket_index(instrument, size, valued(Side.MAINTENANCE)),
    )


def settle_amounts(
    pool: Pool, figures: Sequence[PositionFigures], portfolio: Portfolio, side: Side
) -> dict[str, Decimal]:
    """Each asset's balance plus the uPnL (as counted on ``side``, settle units) of the positions it settles."""
    amounts = dict(pool.balances)
    for f in figures:
        instrument = portfolio.instruments[f.position.instrument]
        amounts[instrument.settle] = amounts.get(instrument.settle, ZERO) + pos.counted_pnl(
            instrument, f.pnl_settle, side
        )
    return amounts


def _settle_collateral_equity(
    pool: Pool, figures: Sequence[PositionFigures], portfolio: Portfolio, side: Side
) -> Decimal:
    """Equity with each position's uPnL inside its settle asset's balance before the weights apply."""
    amounts = settle_amounts(pool, figures, portfolio, side)
    return sum(
        (portfolio.assets[a].value(amount, portfolio.market.price(a), side) for a, amount in amounts.items() if amount),
        ZERO,
    )


def _scaled(figures: PositionFigures, portfolio: Portfolio, terms: VolatilityScaling | None) -> PositionFigures:
    """A position's figures with its requirements x its underlying's requirement multiplier (volatility scaling
    and the market's margin multiplier: :func:`~crossmargin.margin.volatility.requirement_multiplier`)."""
    underlying = portfolio.instruments[figures.position.instrument].underlying
    m = requirement_multiplier(portfolio.market, underlying, terms)
    if m == 1:
        return figures
    return replace(
        figures, initial_margin=figures.initial_margin * m, maintenance_margin=figures.maintenance_margin * m
    )


def scaled_requirements(rules: RuleChoices, portfolio: Portfolio) -> bool:
    """Whether a pool's position figures under ``rules`` at ``portfolio``'s market hold scaled requirements (then
    they are not a position's own tier figures and are not reused across pools)."""
    return rules.volatility_scaling is not None or bool(portfolio.market.margin_multipliers)


def evaluate_pool(
    pool: Pool, portfolio: Portfolio, rules: RuleChoices, known: Mapping[Position, PositionFigures] | None = None
) -> PoolFigures:
    """Value ``pool`` at the portfolio's market state (under the exact context). ``known``: figures of some of
    its positions already valued at this same market (an earlier evaluation's), taken as they are; without
    volatility scaling only (with it, a pool's figures hold the scaled requirements)."""
    with exact():
        collateral = _collateral(pool, portfolio)
        scaled = scaled_requirements(rules, portfolio)
        reused = known if known is not None and not scaled else {}
        figures = tuple(reused.get(p) or position_figures(p, portfolio, rules.margin_valuation) for p in pool.positions)
        if scaled:
            figures = tuple(_scaled(f, portfolio, rules.volatility_scaling) for f in figures)
        collateral_value = sum((c.value for c in collateral), ZERO)
        initial_value = sum((c.initial_value for c in collateral), ZERO)
        upnl = sum((f.unrealized_pnl for f in figures), ZERO)
        initial = sum((f.initial_margin for f in figures), ZERO)
        maintenance = sum((f.maintenance_margin for f in figures), ZERO)
        if rules.scenario_margin is not None and figures:
            requirement = scenario_requirement(pool.positions, pool.balances, portfolio, rules.scenario_margin)
            maintenance, initial = requirement.maintenance, requirement.initial
        if rules.var_floor is not None and figures:
            maintenance = max(maintenance, var_requirement(pool.positions, pool.balances, portfolio, rules.var_floor))
            initial = max(initial, maintenance)
        if rules.pnl_in_settle_collateral and pool.haircut:
            equity = _settle_collateral_equity(pool, figures, portfolio, Side.MAINTENANCE)
            initial_equity = _settle_collateral_equity(pool, figures, portfolio, Side.INITIAL)
        else:
            equity = collateral_value + sum((f.counted_pnl for f in figures), ZERO)
            initial_equity = initial_value + sum((f.initial_counted_pnl for f in figures), ZERO)
        return PoolFigures(
            collateral=collateral,
            positions=figures,
            collateral_value=collateral_value,
            initial_collateral_value=initial_value,
            unrealized_pnl=upnl,
            equity=equity,
            initial_equity=initial_equity,
            initial_margin=initial,
            maintenance_margin=maintenance,
            free_collateral=initial_equity - initial,
            margin_ratio=maintenance / equity if equity > 0 else None,
            liquidatable=is_liquidatable(equity, maintenance, bool(figures), rules),
        )
