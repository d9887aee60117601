"""The configurations a stress run compares, and defaults for books that bring no liquidity of their own.

- **Cross vs isolated**: the same book with every position cross (isolated margins folded into the
  balances, :func:`~crossmargin.margin.whatif.all_cross`) and with every position isolated
  (:func:`~crossmargin.margin.whatif.all_isolated`: the cross collateral value, maintenance side, split
  as a trader would post it: each position first gets what its isolated pool needs to meet its initial
  margin given its own uPnL, then a share of what is left pro rata to initial margin; an account whose
  collateral cannot cover every need has it split pro rata to need).
- **Default depth** (a document without ``liquidity``, or a generated book): every instrument fills
  against the square-root law calibrated for its underlying from real candles and a real order book
  (:mod:`crossmargin.sim.stress.calibration`), two thirds of each fill's peak move displacing the mark
  for a while (:mod:`crossmargin.liquidation.resilience`).
- **Default insurance fund**: 1 % of the book's collateral at full value.
"""

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.margin.whatif import all_cross, all_isolated
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import ZERO, exact
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.stress.calibration import calibrated_depth
from crossmargin.sim.stress.runner import StressConfig

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
    """The calibrated square-root model of every marked instrument (see module doc), priced at its
    underlying's price (its mark where the underlying has none)."""
    market = portfolio.market
    return {
        name: calibrated_depth(spec.underlying, market.prices.get(spec.underlying, market.marks[name]))
        for name, spec in sorted(portfolio.instruments.items())
        if name in market.marks
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
