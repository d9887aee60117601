"""Evaluate whole accounts: the cross pool, each isolated position, and liquidation prices."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.liquidation_price import liquidation_scale
from crossmargin.margin.pools import Pool, PoolFigures, PositionFigures, evaluate_pool
from crossmargin.margin.scaling import Move
from crossmargin.model import Account, ContractKind, Instrument, Portfolio, Position, RuleChoices
from crossmargin.model.numbers import ZERO, exact


@dataclass(frozen=True)
class PositionResult:
    """A position's figures (base currency) with its liquidation price (mark units; None: none).

    ``pool`` is the position's own isolated pool, None for a cross position.
    """

    figures: PositionFigures
    liquidation_price: Decimal | None
    pool: PoolFigures | None

    @property
    def isolated(self) -> bool:
        """True for an isolated position."""
        return self.pool is not None


@dataclass(frozen=True)
class AccountResult:
    """An account's cross pool and every position (cross first, then isolated, in document order)."""

    account: Account
    cross: PoolFigures
    positions: tuple[PositionResult, ...]
    isolated_initial_margin: Decimal


def leg_label(position: Position, account: Account) -> str:
    """How reports name a position: its instrument, with ``long``/``short`` added for a hedge-mode leg."""
    legs = sum(1 for p in account.positions if p.instrument == position.instrument)
    if legs == 1:
        return position.instrument
    return f"{position.instrument} {'long' if position.size > 0 else 'short'}"


def depends_on(account: Account, portfolio: Portfolio) -> Iterator[str]:
    """The symbols whose prices value the account: held or owed assets and its positions' instruments and
    settle assets (the base currency aside; a symbol may come more than once)."""
    yield from (asset for asset, amount in account.balances.items() if amount and asset != portfolio.base)
    for position in account.positions:
        yield position.instrument
        settle = portfolio.instruments[position.instrument].settle
        if settle != portfolio.base:
            yield settle


def cross_pool(account: Account) -> Pool:
    """The account's balances and every position that is not isolated."""
    return Pool(account.balances, tuple(p for p in account.positions if not p.isolated))


def isolated_pool(position: Position, portfolio: Portfolio) -> Pool:
    """An isolated position and its allocated margin (in its settle asset, counted at full price)."""
    assert position.isolated_margin is not None
    settle = portfolio.instruments[position.instrument].settle
    return Pool({settle: position.isolated_margin}, (position,), haircut=False)


def solver_follows(rules: RuleChoices) -> bool:
    """Whether pools under ``rules`` can have liquidation prices: not under a scenario grid, a VaR floor or
    volatility scaling (a grid's worst loss, a VaR or a scaled rate is not of the solver's shape)."""
    return rules.scenario_margin is None and rules.var_floor is None and rules.volatility_scaling is None


def solver_prices(instrument: Instrument) -> bool:
    """Whether a pool holding ``instrument`` can have liquidation prices: not with an option (its premium is not
    of the solver's shape)."""
    return instrument.kind is not ContractKind.OPTION


def _liquidation_price(
    pool: Pool, figures: PositionFigures, portfolio: Portfolio, rules: RuleChoices
) -> Decimal | None:
    if not solver_follows(rules) or not all(solver_prices(portfolio.instruments[p.instrument]) for p in pool.positions):
        return None
    move = Move.of(portfolio, figures.position.instrument, rules.liquidation_price_moves)
    scale = liquidation_scale(pool, portfolio, rules, move, long=figures.position.size > 0)
    return None if scale is None else figures.mark * scale


def evaluate_account(account: Account, portfolio: Portfolio, rules: RuleChoices) -> AccountResult:
    """Value ``account`` at the portfolio's market (all figures exact, base currency)."""
    with exact():
        pool = cross_pool(account)
        cross = evaluate_pool(pool, portfolio, rules)
        results = [
            PositionResult(figures, _liquidation_price(pool, figures, portfolio, rules), None)
            for figures in cross.positions
        ]
        for position in account.positions:
            if not position.isolated:
                continue
            own = isolated_pool(position, portfolio)
            own_figures = evaluate_pool(own, portfolio, rules)
            (figures,) = own_figures.positions
            results.append(PositionResult(figures, _liquidation_price(own, figures, portfolio, rules), own_figures))
        isolated_im = sum((p.figures.initial_margin for p in results if p.isolated), ZERO)
        return AccountResult(account, cross, tuple(results), isolated_im)
