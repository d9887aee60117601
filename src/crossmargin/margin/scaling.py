"""Moving one underlying: every mark and asset price on it scaled by the same factor, all else held."""

from decimal import Decimal

from crossmargin.model import Market, Portfolio


def moves_with(portfolio: Portfolio, underlying: str, asset: str) -> bool:
    """True when the base price of ``asset`` moves with ``underlying``."""
    return asset == underlying and asset != portfolio.base


def scaled_market(portfolio: Portfolio, underlying: str, scale: Decimal) -> Market:
    """The portfolio's market with every price on ``underlying`` multiplied by ``scale``."""
    market = portfolio.market
    prices = {a: p * scale if moves_with(portfolio, underlying, a) else p for a, p in market.prices.items()}
    marks = {
        name: mark * scale if portfolio.instruments[name].underlying == underlying else mark
        for name, mark in market.marks.items()
    }
    return Market(market.base, prices, marks)
