"""Market state: asset prices and instrument marks, with the checks every price passes."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, non_negative, positive


@dataclass(frozen=True)
class Market:
    """``prices``: asset -> price in the base currency; ``marks``: instrument -> mark price;
    ``open_interest``: instrument -> open interest as a notional in settle units (for rules that scale
    margin with it; an instrument left out has none).

    The base currency's own price is one and need not be given.
    """

    base: str
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    open_interest: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for asset, price in self.prices.items():
            positive(price, f"prices.{asset}")
        for instrument, mark in self.marks.items():
            positive(mark, f"marks.{instrument}")
        for instrument, interest in self.open_interest.items():
            non_negative(interest, f"open_interest.{instrument}")
        if self.base in self.prices and self.prices[self.base] != ONE:
            raise InputError(f"prices.{self.base}", f"the base currency is priced at 1, got {self.prices[self.base]}")

    def price(self, asset: str) -> Decimal:
        """Price of ``asset`` in base currency."""
        if asset == self.base:
            return ONE
        try:
            return self.prices[asset]
        except KeyError:
            raise InputError(f"prices.{asset}", "missing price") from None

    def mark(self, instrument: str) -> Decimal:
        """Mark price of ``instrument``."""
        try:
            return self.marks[instrument]
        except KeyError:
            raise InputError(f"marks.{instrument}", "missing mark price") from None
