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

from collections.abc import Callable
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


def fewest_steps(probe: Callable[[int], tuple[bool, Decimal]], steps: int, guess: int, surplus_at_zero: Decimal) -> int:
    """The fewest steps ``n`` in ``1..steps`` whose close restores the pool, ``steps`` when none does.

    ``probe(n)`` is ``(restored, surplus)``: whether closing ``n`` steps restores the pool, and by how much it
    clears the target (negative: short of it), which grows with ``n``; ``surplus_at_zero`` is the pool's surplus
    before any close, ``guess`` a first estimate (the closed form at the mark). ``restored`` is taken as rising
    with ``n`` (false up to the answer, true from it on), as a bisection takes it: the answer is the ``n`` where
    ``probe(n - 1)`` is false and ``probe(n)`` true, the same under that premise whatever the order of the
    probes. ``steps`` itself is never probed: it is the answer whether it restores or not once ``steps - 1``
    does not. The probes are exact and dear. After the guess, while no probe has restored, the next is where the
    line through the last two surpluses crosses zero, each miss at least doubling the reach (so a poor line costs
    a few probes, not many); once one end restores and one does not, each probe is placed where the surplus,
    drawn as a straight line between the bracket's ends, crosses zero (regula falsi, with the Illinois rule: an
    end kept twice in a row counts half its surplus), kept strictly inside the bracket, and a bracket that has
    not halved over three probes is halved. Some 2 to 4 probes where a bisection of 1,000 steps takes 11
    (tests).
    """
    if steps <= 1:
        return steps
    low, low_surplus, high = 0, surplus_at_zero, steps
    high_surplus: Decimal | None = None  # None: ``high`` is ``steps``, not probed
    candidate = min(max(guess, 1), steps - 1)
    kept, reach = 0, 0  # kept: +1 the last probe moved the high end, -1 the low end
    widths = [steps]
    while high - low > 1:
        restored, surplus = probe(candidate)
        with exact():
            if restored:
                high, high_surplus = candidate, surplus
                low_surplus = low_surplus / 2 if kept == 1 else low_surplus
            else:
                before, before_surplus = low, low_surplus
                low, low_surplus = candidate, surplus
                if high_surplus is not None:
                    high_surplus = high_surplus / 2 if kept == -1 else high_surplus
            kept = 1 if restored else -1
            if high_surplus is None:
                rise = low_surplus - before_surplus
                ahead = (-low_surplus * (low - before) / rise).to_integral_value(ROUND_CEILING) if rise > 0 else 0
                reach = max(int(ahead), 2 * reach, 1)
                candidate = min(low + reach, steps - 1)
                continue
            widths.append(high - low)
            if len(widths) > 3 and widths[-1] * 2 > widths[-4]:
                candidate = (low + high) // 2
                continue
            rise = high_surplus - low_surplus
            share = -low_surplus / rise if rise > 0 else Decimal("0.5")
            crossing = low + int((share * (high - low)).to_integral_value(ROUND_CEILING))
        candidate = min(max(crossing, low + 1), high - 1)
    return high
