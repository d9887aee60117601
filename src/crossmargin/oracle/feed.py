"""Source updates: one price of one symbol from one named source at one time."""

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.model import InputError
from crossmargin.model.numbers import non_negative, positive


@dataclass(frozen=True)
class SourceUpdate:
    """``price`` of ``symbol`` (an asset: price in base; an instrument: a traded price in mark units)
    reported by ``source`` at feed time ``t`` (seconds), with an optional confidence half-width in the
    same units as the price."""

    t: Decimal
    source: str
    symbol: str
    price: Decimal
    confidence: Decimal | None = None

    def __post_init__(self) -> None:
        non_negative(self.t, "t")
        positive(self.price, "price")
        if self.confidence is not None:
            non_negative(self.confidence, "confidence")
        if not self.source:
            raise InputError("source", "must not be empty")
        if not self.symbol:
            raise InputError("symbol", "must not be empty")
