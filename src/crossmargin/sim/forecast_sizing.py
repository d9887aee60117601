"""How much of a liquidated pool a forecast closes, and what the closes leave it: the liquidation terms
(:class:`~crossmargin.model.rules.LiquidationTerms`) in closed form over arrays, one value per pool or
position (:mod:`crossmargin.sim.forecast`). Money in base currency; notionals at the mark unless said.

**Full or partial** (the liquidation engine's loop, :mod:`crossmargin.liquidation.engine`): a pool's
positions are taken largest maintenance margin first (ties: instrument, long first). While the pool's equity
is not positive, or below ``full_close_below`` x its maintenance margin, or the terms have no partial
liquidation, the next position is closed whole; after that, positions are closed down to the pool's target
(:func:`~crossmargin.liquidation.sizing.target`): the next one closes the share that reaches it, or all of
it if that is not enough, and so on. Closing a share ``f`` of a position is taken to free ``f`` of what the
whole position holds of the requirement and to cost ``f`` of its closing costs (fees and slippage, a rate of
its notional), so, with the pool's equity ``E`` and maintenance margin ``MM`` less what the positions before
it freed and cost, a position closes ``clip(D / F, 0, 1)`` of itself:

- ``buffer_basis: maintenance``: ``D = (1 + b) t MM - E`` (``b`` the buffer, ``t`` the liquidation
  threshold) and the whole position frees ``F = (1 + b) t mm - cost``;
- ``notional`` (Drift): ``D = t MM + b (notional + borrowed) - (E + b x the negative counted uPnLs)`` and
  ``F = t mm + b n + b |its negative counted uPnL| - cost`` (``n`` its notional).

A position whose close would free nothing (its costs take it all) is closed whole while the pool is short.
Departures from the engine, small for a book's totals: a requirement's tier and maintenance amount are taken
as changing in proportion to the part closed; a close is not rounded to the size steps; the engine's search
prices each close with its own impact (here: the round's fill price, :mod:`crossmargin.sim.forecast_fills`).

**What a close leaves** (:func:`settled`): the pool's net value (balances at full price plus uPnL at the
mark) less the slippage of its closes (their PnL at the fill price against the mark) less the fees
(``fee_rate`` plus ``insurance_fee_rate`` of the filled notional; capped at what the pool has left under
``cap_fee_at_bankruptcy``), less, for a cross pool closed out that owes an asset (a borrowed balance, or the
loss of a position settled in another asset than its collateral), the loss of selling its other collateral at
``collateral_discount`` to repay it (``d`` of what it sells: ``owed x d / (1 - d)`` while it holds enough).
Its **shortfall** is what that leaves below zero.

**Who pays** (:func:`cover`, the rule :func:`crossmargin.sim.forecast_fills.in_turn` follows pool by pool
as the marks move): pool by pool in the engine's order, the insurance fund pays a shortfall it can cover
whole. Under ``shortfall: adl`` or ``backstop`` a pool whose shortfall is more than the fund has left
is taken over at its bankruptcy price instead (auto-deleveraged, or by the backstop): nothing of it goes to
the market and its loss, its net value at the mark below zero, is the takers'. Under ``socialized`` the fund
pays what it has and the rest is spread.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

from crossmargin.engine.rule_arrays import B1, F64, I64
from crossmargin.model.rules import BufferBasis, LiquidationTerms, Shortfall
from crossmargin.sim.forecast_pools import PoolValues, summed


@dataclass(frozen=True)
class Plan:
    """Per position of the valued pools (:class:`~crossmargin.sim.forecast_pools.PoolValues` order): the
    ``share`` of it closed (0 to 1); per pool: ``full`` (every position closed whole)."""

    share: F64
    full: B1


def fee_rate(terms: LiquidationTerms) -> float:
    """The fees of a close as a share of its filled notional: ``fee_rate`` plus ``insurance_fee_rate``."""
    return float(terms.fee_rate + terms.insurance_fee_rate)


def fund_share(terms: LiquidationTerms) -> float:
    """The insurance fund's part of a close's fees: ``insurance_fund_share`` of ``fee_rate`` and all of
    ``insurance_fee_rate``, as a share of the fees."""
    total = fee_rate(terms)
    if total == 0.0:
        return 0.0
    return (float(terms.fee_rate * terms.insurance_fund_share) + float(terms.insurance_fee_rate)) / total


def plan_closes(
    values: PoolValues, terms: LiquidationTerms, threshold: float, cost: F64, borrowed: F64, instrument: I64,
    long: B1,
) -> Plan:  # fmt: skip
    """The share closed of each position of the pools ``values`` holds (module doc). ``cost``: each position's
    closing costs as a rate of its notional; ``borrowed``: each pool's negative balances at full price
    (positive); ``instrument``, ``long``: each position's, for the engine's order among equal margins."""
    owner, mm, notional = values.owner, values.position_mm, values.notional
    b, below = float(terms.buffer), float(terms.full_close_below)
    losses = np.minimum(values.counted, 0.0)
    order = np.lexsort((~long, instrument, -mm, owner))
    ranked = owner[order]
    starts = np.searchsorted(ranked, ranked, side="left")

    def before(x: F64) -> F64:
        """Per ranked position, the sum of ``x`` over the positions ranked before it in its pool."""
        running = np.cumsum(x[order])
        return running - x[order] - (running[starts] - x[order][starts])

    spent = cost * notional
    equity = values.equity[ranked] - before(spent)
    maintenance = values.maintenance[ranked] - before(mm)
    full = (equity <= 0.0) | (equity < below * maintenance) | (not terms.partial)
    if terms.buffer_basis is BufferBasis.NOTIONAL:
        liability = summed(owner, notional, len(values.equity)) + borrowed
        negative = summed(owner, losses, len(values.equity))
        need = (threshold * maintenance + b * (liability[ranked] - before(notional))
                - (equity + b * (negative[ranked] - before(losses))))  # fmt: skip
        frees = threshold * mm + b * notional - b * losses - spent
    else:
        need = (1.0 + b) * threshold * maintenance - equity
        frees = (1.0 + b) * threshold * mm - spent
    frees = frees[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        partial = np.where(frees > 0.0, np.clip(need / frees, 0.0, 1.0), (need > 0.0).astype(np.float64))
    share = np.empty(len(order))
    share[order] = np.where(full, 1.0, partial)
    closed_out = summed(owner, share < 1.0, len(values.equity)) == 0
    return Plan(share, closed_out)


@dataclass(frozen=True)
class Settled:
    """Per pool: its net value after its closes (base currency; below zero: bankrupt), the ``fees`` charged
    and the ``slippage`` of its closes (the PnL of filling at the fill prices against the mark, <= 0 for a
    fill on the market's side)."""

    net_value: F64
    fees: F64
    slippage: F64

    @property
    def shortfall(self) -> F64:
        """What the net value leaves below zero (>= 0)."""
        return np.maximum(-self.net_value, 0.0)


def settled(
    values: PoolValues, terms: LiquidationTerms, filled_notional: F64, slippage: F64, full: B1, owed: F64,
    held: F64, cross: B1,
) -> Settled:  # fmt: skip
    """Each pool's net value after its closes (module doc). Per position: ``filled_notional`` (at the fill
    price) and ``slippage`` (PnL at the fill price less at the mark, base currency). Per pool: ``full``,
    ``cross`` (an account's cross pool) and, after its closes, the assets it ``owed`` and ``held`` (negative
    and positive balances at full price, each >= 0): a cross pool closed out sells what it holds at
    ``collateral_discount`` (d) to repay what it owes, losing d of what it sells, ``owed / (1 - d)`` at most."""
    n = len(values.equity)
    slip = summed(values.owner, slippage, n)
    fees = fee_rate(terms) * summed(values.owner, filled_notional, n)
    left = values.net_value + slip
    if terms.cap_fee_at_bankruptcy:
        fees = np.minimum(fees, np.maximum(left, 0.0))
    d = float(terms.collateral_discount)
    sold = held if d >= 1.0 else np.minimum(held, owed / (1.0 - d))
    sale = np.where(full & cross & (owed > 0.0), d * sold, 0.0)
    return Settled(left - fees - sale, fees, slip)


@dataclass(frozen=True)
class Cover:
    """Per pool (the order given to :func:`cover`): the insurance fund's ``draw``, the loss ``beyond`` the fund
    (auto-deleveraged, taken by the backstop or spread, by the terms' ``shortfall``) and ``taken_over`` (its
    positions closed at the bankruptcy price, off the market); and the fund ``left``."""

    draw: F64
    beyond: F64
    taken_over: B1
    left: float


def cover(shortfall: F64, at_mark: F64, fund: float, terms: LiquidationTerms) -> Cover:
    """Who pays each pool's ``shortfall`` (>= 0, filled at the market), pools in the engine's order, from a
    fund of ``fund`` (module doc). ``at_mark``: each pool's shortfall were it taken over at its bankruptcy price
    (its net value at the mark below zero: no slippage, no fees)."""
    n = len(shortfall)
    draw, beyond, taken = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.bool_)
    left = _cover(shortfall, at_mark, fund, terms.shortfall is Shortfall.SOCIALIZED, draw, beyond, taken)
    return Cover(draw, beyond, taken, left)


@njit(cache=True, inline="always")
def pay(need: float, left: float, socialized: bool, at_mark: float) -> tuple[float, float, bool, float]:
    """One pool's shortfall ``need`` (> 0) from a fund of ``left`` (module doc): (the fund's draw, the loss
    beyond it, taken over, the fund left); a pool taken over loses ``at_mark``, its shortfall at its bankruptcy
    price. :func:`cover` and the forecast's turns (:func:`crossmargin.sim.forecast_fills.in_turn`) both pay so."""
    if need <= left:
        return need, 0.0, False, left - need
    if socialized:
        return left, need - left, False, 0.0
    return 0.0, at_mark, True, left


@njit(cache=True)
def _cover(shortfall: F64, at_mark: F64, fund: float, socialized: bool, draw: F64, beyond: F64, taken: B1) -> float:
    """:func:`cover`'s pools in turn, into ``draw``, ``beyond`` and ``taken``; the fund left."""
    left = fund
    for x in range(len(shortfall)):
        if shortfall[x] > 0.0:
            draw[x], beyond[x], taken[x], left = pay(shortfall[x], left, socialized, at_mark[x])
    return left
