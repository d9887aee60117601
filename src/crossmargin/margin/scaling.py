"""Moving prices: the marks and asset prices that move together by one factor, all else held."""

from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.model import Market, Portfolio
from crossmargin.model.rules import PriceMove


@dataclass(frozen=True)
class Move:
    """The instruments whose marks and the assets whose prices move together."""

    instruments: frozenset[str]
    assets: frozenset[str]

    @classmethod
    def of(cls, portfolio: Portfolio, instrument: str, kind: PriceMove) -> "Move":
        """What moves for a liquidation price of ``instrument``: its underlying, or itself alone."""
        if kind is PriceMove.INSTRUMENT:
            return cls(frozenset({instrument}), frozenset())
        return cls.of_underlying(portfolio, portfolio.instruments[instrument].underlying)

    @classmethod
    def of_underlying(cls, portfolio: Portfolio, underlying: str) -> "Move":
        """Every mark of an instrument on ``underlying`` and the underlying's own price (not the base
        currency's, which stays 1)."""
        names = frozenset(n for n, i in portfolio.instruments.items() if i.underlying == underlying)
        assets = frozenset({underlying}) if underlying != portfolio.base else frozenset()
        return cls(names, assets)


def scaled_market(portfolio: Portfolio, move: Move, scale: Decimal) -> Market:
    """The portfolio's market with every price in ``move`` multiplied by ``scale``."""
    market = portfolio.market
    prices = {a: p * scale if a in move.assets else p for a, p in market.prices.items()}
    marks = {name: mark * scale if name in move.instruments else mark for name, mark in market.marks.items()}
    return replace(market, prices=prices, marks=marks)
