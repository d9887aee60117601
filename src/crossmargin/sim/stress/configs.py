"""The configurations a stress run compares, and defaults for books that bring no liquidity of their own.

- **Cross vs isolated**: the same book with every position cross (isolated margins folded into the
  balances, :func:`~crossmargin.margin.whatif.all_cross`) and with every position isolated
  (:func:`~crossmargin.margin.whatif.all_isolated`: the cross collateral value, maintenance side, split
  pro rata to initial margin into each position's margin).
- **Default depth** (a document without ``liquidity``, or a generated book): every instrument fills
  against a square-root impact model whose depth scale is the instrument's open interest in units of the
  underlying (``I = 0.05 x sqrt(n / open units)``: closing 1 % of the open interest costs 0.5 % on
  average), half of each fill's move staying in the mark.
- **Default insurance fund**: 1 % of the book's collateral at full value.
"""

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from crossmargin.liquidation.liquidity import LiquidityModel, SquareRootImpact
from crossmargin.margin.whatif import all_cross, all_isolated
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import ZERO, exact
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.stress.runner import StressConfig

IMPACT_COEFFICIENT = Decimal("0.05")
PERMANENT_IMPACT = Decimal("0.5")
FUND_SHARE = Decimal("0.01")


def cross_book(portfolio: Portfolio) -> Portfolio:
    """The book with every position cross (see module doc)."""
    with exact():
        return replace(portfolio, accounts=tuple(all_cross(a, portfolio) for a in portfolio.accounts))


def isolated_book(portfolio: Portfolio, rules: RuleChoices) -> Portfolio:
    """The book with every account's positions isolated (see module doc)."""
    with exact():
        accounts = tuple(all_isolated(a, portfolio, rules) if a.positions else a for a in portfolio.accounts)
    return replace(portfolio, accounts=accounts)


def default_liquidity(portfolio: Portfolio) -> dict[str, LiquidityModel]:
    """A square-root impact model per instrument scaled to its open interest (see module doc)."""
    open_units: dict[str, Decimal] = {}
    with exact():
        for account in portfolio.accounts:
            for position in account.positions:
                spec = portfolio.instruments[position.instrument]
                units = abs(position.size) * spec.contract_size
                if spec.inverse:
                    units = units / portfolio.market.mark(position.instrument)
                open_units[position.instrument] = open_units.get(position.instrument, ZERO) + units
    return {
        name: SquareRootImpact(IMPACT_COEFFICIENT, max(units, Decimal(1)), PERMANENT_IMPACT)
        for name, units in sorted(open_units.items())
    }


def default_insurance_fund(portfolio: Portfolio) -> Decimal:
    """1 % of every held balance at full price (base currency), rounded to a whole unit."""
    with exact():
        held = sum(
            (
                amount * portfolio.market.price(asset)
                for account in portfolio.accounts
                for asset, amount in account.balances.items()
                if amount > 0
            ),
            ZERO,
        )
        return (held * FUND_SHARE).quantize(Decimal(1))


def cross_and_isolated(
    portfolio: Portfolio,
    rules: RuleChoices,
    terms: LiquidationTerms,
    liquidity: Mapping[str, LiquidityModel],
    insurance_fund: Decimal,
    oracle: OracleConfig,
) -> tuple[StressConfig, StressConfig]:
    """The book all cross (``cross``) and all isolated (``isolated``), everything else the same."""
    cross = StressConfig("cross", cross_book(portfolio), rules, terms, liquidity, insurance_fund, oracle)
    return cross, replace(cross, label="isolated", portfolio=isolated_book(portfolio, rules))
