"""What a fill does to a position: the new position and the PnL it realizes.

A fill of ``size`` contracts (positive buys, negative sells) at ``price``:
- adds to the position (same sign): entry becomes the size-weighted average, for inverse contracts
  the harmonic one (``size / entry`` adds up), so that PnL at any mark is unchanged by the merge;
- reduces it (opposite sign, up to its size): the closed part realizes its PnL at ``price``;
- flips it: closes all, then opens the rest at ``price``.
Realized PnL is in settle-asset units.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin.positions import unrealized_pnl
from crossmargin.model import Instrument, Position
from crossmargin.model.numbers import ZERO, exact


@dataclass(frozen=True)
class FillOutcome:
    """The position after the fill (None when closed) and the realized PnL in settle units."""

    position: Position | None
    realized_pnl: Decimal


def apply_fill(instrument: Instrument, position: Position | None, size: Decimal, price: Decimal) -> FillOutcome:
    """Apply a fill of ``size`` contracts at ``price`` to ``position`` (None: no position yet)."""
    with exact():
        return _apply(instrument, position, size, price)


def _apply(instrument: Instrument, position: Position | None, size: Decimal, price: Decimal) -> FillOutcome:
    if size == 0:
        return FillOutcome(position, ZERO)
    if position is None:
        return FillOutcome(Position(instrument.name, size, price), ZERO)
    old = position.size
    if (old > 0) == (size > 0):
        merged = old + size
        if instrument.inverse:
            entry = merged / (old / position.entry_price + size / price)
        else:
            entry = (old * position.entry_price + size * price) / merged
        return FillOutcome(replace(position, size=merged, entry_price=entry), ZERO)
    closed = -size if abs(size) <= abs(old) else old
    realized = unrealized_pnl(instrument, closed, position.entry_price, price)
    remaining = old + size
    if remaining == 0:
        return FillOutcome(None, realized)
    if (remaining > 0) == (old > 0):
        return FillOutcome(replace(position, size=remaining), realized)
    return FillOutcome(replace(position, size=remaining, entry_price=price), realized)
