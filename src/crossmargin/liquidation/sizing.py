"""Where a liquidation stops and how much it closes: the rules of :class:`LiquidationTerms` as pure functions.

All money is in base currency unless a name says ``_settle``.

**The target.** A liquidation brings a pool back to its target (:func:`target`), written in the grouping of
venues that keep liabilities out of collateral (Drift's ``total_collateral`` against its
``margin_requirement``): ``collateral`` = equity + the pool's weighted liabilities, ``requirement`` =
threshold x margin + the same liabilities, so ``collateral - requirement`` is our ``equity - threshold x
margin``. The buffer then goes in by the terms' ``buffer_basis``:

- ``maintenance``: ``requirement = threshold x margin x (1 + buffer) + liabilities``;
- ``notional`` (Drift's liquidation mode, ``state/margin_calculation.rs`` ``add_cross_margin_margin_requirement``,
  ``add_cross_margin_total_collateral``, ``add_isolated_margin_calculation``): ``requirement += buffer x
  liability value`` (every position's notional at the mark plus the unweighted value of every negative
  balance) and ``collateral += buffer x`` each position's counted uPnL that is negative.

The *shortage* is ``max(0, requirement - collateral)`` (Drift's ``margin_shortage``).

**Closing to cover the shortage** (``sizing: shortage``; Drift's ``math/liquidation.rs``
``calculate_base_asset_amount_to_cover_margin_shortage``). Closing one contract at the mark frees ``m x n`` of
requirement (``n`` its notional, ``m`` the position's maintenance rate times the threshold plus the buffer,
:func:`freed_ratio`) and costs its fees, so ``shortage / (n x (m - fee_rate) - n_settle x insurance rate)``
contracts cover it (:func:`contracts_to_cover`), rounded up to the step (:func:`step_up`). The program
counts the insurance fee on the settle-unit notional (``oracle x if_fee``, not times the quote price), and
so do we: the two differ only when the settle asset is off its peg.

**The insurance fee** (:func:`insurance_rate`; ``calculate_perp_if_fee``): at most the terms' rate, and at
most ``headroom x (m - fee_rate - s / N)``, ``s`` the position's share of the shortage (the shortage times its
share of the pool's requirement without buffer, ``tracked_market_margin_shortage``) and ``N`` its notional:
the fee never takes more than what the close frees beyond the shortage and the liquidator's fee.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from crossmargin.margin.pools import PoolFigures, PositionFigures
from crossmargin.model import Side
from crossmargin.model.numbers import ONE, ZERO, exact
from crossmargin.model.rules import BufferBasis


@dataclass(frozen=True)
class Target:
    """A pool against its liquidation target, in the grouping that keeps liabilities out of collateral.

    ``collateral``: equity + weighted liabilities (+ the buffer on negative uPnL under ``notional``);
    ``requirement``: threshold x margin + weighted liabilities + the buffer; ``base_requirement``: the
    same without the buffer (Drift's ``margin_requirement``)."""

    collateral: Decimal
    requirement: Decimal
    base_requirement: Decimal

    @property
    def shortage(self) -> Decimal:
        """How far the collateral is below the requirement (0 when it meets it)."""
        with exact():
            return max(ZERO, self.requirement - self.collateral)

    @property
    def met(self) -> bool:
        """The collateral meets the requirement (``>=``, as the program's ``meets_margin_requirement_with_buffer``)."""
        return self.collateral >= self.requirement


def weighted_liabilities(figures: PoolFigures, side: Side = Side.MAINTENANCE) -> Decimal:
    """The pool's negative balances at their weights on ``side``, as a positive amount."""
    with exact():
        values = (line.value if side is Side.MAINTENANCE else line.initial_value for line in figures.collateral)
        return -sum((v for v in values if v < 0), ZERO)


def liability_value(figures: PoolFigures) -> Decimal:
    """Every position's notional at the mark plus the unweighted value of every negative balance: what a
    ``notional`` buffer is a share of (Drift's ``liability_value``: perp worst-case notional, borrows' token
    value)."""
    with exact():
        borrowed = -sum((line.amount * line.price for line in figures.collateral if line.amount < 0), ZERO)
        return sum((f.notional for f in figures.positions), ZERO) + borrowed


def target(
    figures: PoolFigures,
    buffer: Decimal,
    basis: BufferBasis,
    threshold: Decimal = ONE,
    side: Side = Side.MAINTENANCE,
) -> Target:
    """``figures`` against the liquidation target of ``buffer`` on ``basis`` (see the module doc); ``side``
    picks the maintenance (liquidation) or the initial figures."""
    maintenance = side is Side.MAINTENANCE
    with exact():
        owed = weighted_liabilities(figures, side)
        equity = figures.equity if maintenance else figures.initial_equity
        margin = threshold * (figures.maintenance_margin if maintenance else figures.initial_margin)
        base = margin + owed
        if basis is BufferBasis.MAINTENANCE:
            return Target(equity + owed, margin * (1 + buffer) + owed, base)
        losses = sum(
            (min(ZERO, f.counted_pnl if maintenance else f.initial_counted_pnl) for f in figures.positions), ZERO
        )
        return Target(equity + owed + buffer * losses, base + buffer * liability_value(figures), base)


def freed_ratio(own: PositionFigures, buffer: Decimal, basis: BufferBasis, threshold: Decimal = ONE) -> Decimal | None:
    """The share of a closed notional that comes off the pool's requirement with its buffer: the position's
    maintenance rate (its margin over its notional, times the threshold) plus the buffer (``notional``) or
    times ``1 + buffer`` (``maintenance``); None without a notional. Drift's ``margin_ratio_with_buffer``."""
    if own.notional <= 0:
        return None
    with exact():
        rate = threshold * own.maintenance_margin / own.notional
        return rate + buffer if basis is BufferBasis.NOTIONAL else rate * (1 + buffer)


def insurance_rate(
    rate: Decimal, headroom: Decimal | None, freed: Decimal, fee_rate: Decimal, share: Decimal, notional: Decimal
) -> Decimal:
    """The insurance fee rate charged on a close: ``rate``, and with a ``headroom`` h at most
    ``h x (freed - fee_rate - share / notional)`` and never below 0 (0 without a notional or when the
    liquidator's fee takes all the close frees); ``share`` is the position's part of the shortage."""
    if headroom is None:
        return rate
    if notional <= 0 or freed <= fee_rate:
        return ZERO
    with exact():
        return min(rate, headroom * max(ZERO, freed - fee_rate - share / notional))


def contracts_to_cover(
    shortage: Decimal,
    freed: Decimal,
    fee_rate: Decimal,
    insurance: Decimal,
    per_contract: Decimal,
    per_contract_settle: Decimal,
) -> Decimal | None:
    """Contracts whose close at the mark frees ``shortage``: ``shortage / (n x (freed - fee_rate) - n_settle x
    insurance)``, ``n`` one contract's notional (base currency) and ``n_settle`` the same in settle units.
    None when no amount can (the fees take at least what a close frees): the whole position."""
    with exact():
        per = per_contract * (freed - fee_rate) - per_contract_settle * insurance
        if freed <= fee_rate or per <= 0:
            return None
        return shortage / per


def step_up(contracts: Decimal, step: Decimal) -> Decimal:
    """``contracts`` rounded up to a multiple of ``step`` (Drift's ``standardize_base_asset_amount_ceil``)."""
    with exact():
        return (contracts / step).to_integral_value(ROUND_CEILING) * step
