"""One position's notional, unrealized PnL and margin, in its settle asset.

Conventions (see :mod:`crossmargin.model.instruments`): ``size`` in contracts, positive long; for a
linear contract the mark is settle units per underlying unit, for an inverse contract quote units
per underlying unit with the settle asset being the underlying coin.

- linear:  notional = |size| x contract_size x mark;   PnL = size x contract_size x (mark - entry)
- inverse: notional = |size| x contract_size / mark;   PnL = size x contract_size x (1/entry - 1/mark)

Both in settle-asset units. Margin comes from the instrument's tier bracket for that notional.
"""

from decimal import Decimal

from crossmargin.model import Instrument, Side


def notional_per_contract(instrument: Instrument, mark: Decimal) -> Decimal:
    """Notional of one contract at ``mark``, in settle-asset units."""
    if instrument.inverse:
        return instrument.contract_size / mark
    return instrument.contract_size * mark


def notional(instrument: Instrument, size: Decimal, mark: Decimal) -> Decimal:
    """Position notional at ``mark``, in settle-asset units (never negative)."""
    return abs(size) * notional_per_contract(instrument, mark)


def unrealized_pnl(instrument: Instrument, size: Decimal, entry_price: Decimal, mark: Decimal) -> Decimal:
    """Profit (positive) or loss of the position marked at ``mark``, in settle-asset units."""
    if instrument.inverse:
        return size * instrument.contract_size * (1 / entry_price - 1 / mark)
    return size * instrument.contract_size * (mark - entry_price)


def requirement(instrument: Instrument, notional_settle: Decimal, side: Side) -> Decimal:
    """Initial or maintenance margin of a position of ``notional_settle``, in settle-asset units."""
    tier = instrument.tiers.tier_for(notional_settle)
    if side is Side.INITIAL:
        return tier.initial(notional_settle)
    return tier.maintenance(notional_settle)
