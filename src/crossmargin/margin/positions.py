"""One position's notional, unrealized PnL and margin, in its settle asset.

Conventions (see :mod:`crossmargin.model.instruments`): ``size`` in contracts, positive long; for a
linear contract the mark is settle units per underlying unit, for an inverse contract quote units
per underlying unit with the settle asset being the underlying coin.

- linear:  notional = |size| x contract_size x mark;   PnL = size x contract_size x (mark - entry)
- inverse: notional = |size| x contract_size / mark;   PnL = size x contract_size x (1/entry - 1/mark)

Both in settle-asset units. A margin requirement is ``notional x rate - amount`` (:class:`Requirement`):
the rate and amount come from the position's bracket, plus the instrument's fee terms, and do not
depend on the mark once the bracket is known. The liquidation-price solver relies on that. The notional
a requirement is computed on is the one at the mark, or the one at the entry price where the rulebook
values that requirement at entry (:class:`~crossmargin.model.rules.MarginValuation`); then the
requirement does not move with the mark at all.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from crossmargin.model import Instrument, Side
from crossmargin.model.instruments import TierBasis
from crossmargin.model.numbers import ONE, ZERO, exact
from crossmargin.model.size_premium import discounted_weight, premium_rate


def notional_per_contract(instrument: Instrument, mark: Decimal) -> Decimal:
    """Notional of one contract at ``mark``, in settle-asset units."""
    if instrument.inverse:
        return instrument.contract_size / mark
    return instrument.contract_size * mark


def notional(instrument: Instrument, size: Decimal, mark: Decimal) -> Decimal:
    """Position notional at ``mark``, in settle-asset units (never negative). An inverse notional is one
    quotient, ``size x contract / mark``, so a notional that is exactly a tier's edge is found exactly
    there (not one unit of the 50th digit above it, as ``size x (contract / mark)`` would be)."""
    if instrument.inverse:
        return abs(size) * instrument.contract_size / mark
    return abs(size) * instrument.contract_size * mark


def unrealized_pnl(instrument: Instrument, size: Decimal, entry_price: Decimal, mark: Decimal) -> Decimal:
    """Profit (positive) or loss of the position marked at ``mark``, in settle-asset units."""
    if instrument.inverse:
        return size * instrument.contract_size * (1 / entry_price - 1 / mark)
    return size * instrument.contract_size * (mark - entry_price)


def counted_pnl(instrument: Instrument, pnl: Decimal, side: Side) -> Decimal:
    """The part of ``pnl`` (settle units) that counts toward equity on ``side``; losses count in full.

    Maintenance: profits at ``upnl_weight``. Initial: at ``initial_upnl_weight``, discounted by the
    instrument's ``imf_factor`` for the size of the profit, and capped at ``initial_upnl_cap``.
    """
    if pnl <= 0:
        return pnl
    if side is Side.MAINTENANCE:
        return pnl * instrument.upnl_weight
    counted = pnl * discounted_weight(instrument.initial_upnl_weight, instrument.imf_factor, pnl)
    cap = instrument.initial_upnl_cap
    return counted if cap is None else min(counted, cap)


def bracket_index(instrument: Instrument, size: Decimal, notional_settle: Decimal) -> int:
    """The position's bracket: by notional (settle units) or by size x contract_size, as the table says."""
    key = abs(size) * instrument.contract_size if instrument.tier_basis is TierBasis.SIZE else notional_settle
    return instrument.tiers.index_for(key)


@dataclass(frozen=True)
class Requirement:
    """A margin requirement ``notional x rate - amount`` in settle units, for one bracket.

    With a ``quantum`` the requirement is rounded up to a multiple of it; with ``of_initial``
    (initial rate, fraction) it is that fraction of the rounded-up initial requirement, rounded up again
    (dYdX). ``rate`` stays the unrounded slope, which is what the liquidation-price solver follows.
    """

    rate: Decimal
    amount: Decimal
    quantum: Decimal | None = None
    of_initial: tuple[Decimal, Decimal] | None = None

    def of(self, notional_settle: Decimal) -> Decimal:
        """The requirement of a position of ``notional_settle`` (settle units)."""
        if self.quantum is None:
            return notional_settle * self.rate - self.amount
        if self.of_initial is not None:
            initial_rate, fraction = self.of_initial
            initial = _round_up(notional_settle * initial_rate, self.quantum)
            return _round_up(initial * fraction, self.quantum) - self.amount
        return _round_up(notional_settle * self.rate - self.amount, self.quantum)


def _round_up(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(rounding=ROUND_CEILING) * quantum


def _round_down(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum


def margined_notional(instrument: Instrument, notional_settle: Decimal) -> Decimal:
    """The notional the requirements are computed on: truncated to ``margin_quantum`` when there is one,
    as a venue computing in integer quantums does (dYdX)."""
    if instrument.margin_quantum is None:
        return notional_settle
    return _round_down(notional_settle, instrument.margin_quantum)


def open_interest_rate(instrument: Instrument, rate: Decimal, open_interest: Decimal) -> Decimal:
    """An initial rate raised linearly toward 1 as open interest (settle notional) crosses the caps,
    rounded down to the instrument's ``rate_quantum`` (dYdX: whole ppm)."""
    if instrument.open_interest_caps is None:
        return rate
    lower, upper = instrument.open_interest_caps
    share = min(ONE, max(ZERO, (open_interest - lower) / (upper - lower)))
    scaled = rate + (ONE - rate) * share
    return scaled if instrument.rate_quantum is None else _round_down(scaled, instrument.rate_quantum)


def requirement_terms(
    instrument: Instrument,
    size: Decimal,
    entry_price: Decimal,
    notional_settle: Decimal,
    side: Side,
    open_interest: Decimal = ZERO,
) -> Requirement:
    """Rate and amount of the initial or maintenance requirement of a position in its current bracket.

    Initial: ``imr``, scaled by open interest (:func:`open_interest_rate`). Maintenance:
    ``mmr + liquidation_fee_rate`` less the bracket's maintenance amount. Both rates grow with the size
    premium (``imf_factor``, size in underlying units), and both add ``close_fee_rate`` x the notional at
    the bankruptcy price of a position at the bracket's max leverage (entry x (1 - imr) for a linear
    long, entry x (1 + imr) short; entry / (1 + imr) for an inverse long, entry / (1 - imr) short),
    which does not move with the mark.
    """
    tier = instrument.tiers.tiers[bracket_index(instrument, size, notional_settle)]
    close_fee = ZERO
    if instrument.close_fee_rate:
        side_sign = 1 if size > 0 else -1
        if instrument.inverse:
            bankruptcy = entry_price / (ONE + side_sign * tier.imr)
        else:
            bankruptcy = entry_price * (ONE - side_sign * tier.imr)
        close_fee = instrument.close_fee_rate * notional(instrument, size, bankruptcy)
    units = abs(size) * instrument.contract_size
    quantum = instrument.margin_quantum
    if side is Side.INITIAL:
        rate = premium_rate(open_interest_rate(instrument, tier.imr, open_interest), instrument.imf_factor, units)
        return Requirement(rate, -close_fee, quantum)
    rate = premium_rate(tier.mmr, instrument.imf_factor, units) + instrument.liquidation_fee_rate
    fraction = instrument.tiers.maintenance_fraction
    of_initial = (tier.imr, fraction) if quantum is not None and fraction is not None else None
    return Requirement(rate, tier.maint_amount - close_fee, quantum, of_initial)


def convex_maintenance(instrument: Instrument) -> bool:
    """Whether every position's maintenance requirement (:func:`requirement_terms`, on its unrounded line) is one
    convex function of its notional: the same for every position (no size premium, no fee to close, which depend
    on the size and entry) and, at each tier edge, continuous, its rate not falling. With uPnL counted at weights
    up to one, a pool's health is then concave in a moving price (the risk book's liquidation-price search skips
    a direction on it: :mod:`crossmargin.engine.liquidation_prices`)."""
    if instrument.imf_factor or instrument.close_fee_rate:
        return False
    with exact():
        for edge in instrument.tiers.edges():
            below = requirement_terms(instrument, ONE, ONE, edge, Side.MAINTENANCE)
            above = requirement_terms(instrument, ONE, ONE, edge * (1 + Decimal("1E-30")), Side.MAINTENANCE)
            if above.rate < below.rate or edge * below.rate - below.amount != edge * above.rate - above.amount:
                return False
    return True
