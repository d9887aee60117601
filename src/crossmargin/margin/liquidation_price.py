"""Liquidation prices, solved exactly across tier boundaries.

The liquidation price of a position is the price of its underlying at which its pool (the account's
cross pool, or the position's own isolated pool) changes from healthy to liquidatable, with every
instrument mark and collateral price on that underlying moving by the same factor ``s`` and every
other price held. It is reported as the position's mark times ``s*``.

How it is solved. With only prices on one underlying moving, the pool's health
``H(s) = equity(s) - maintenance(s)`` is linear in ``s`` between two tier boundaries: collateral on the
underlying is ``w(a) x p x s`` (weights depend on the amount, not the price); a linear contract's PnL
``q c (m s - e) p`` and maintenance ``(|q| c m s mmr - A) p``; an inverse contract, which settles in its
underlying, ``q c (1/e - 1/(m s)) p s = q c p (s/e - 1/m)`` and ``(|q| c mmr / (m s) - A) p s``. The
solver walks the segments away from the current price, solves ``H(s) = 0`` on each in closed form,
and decides at each root and boundary whether the pool's status changed by evaluating the pool
exactly (:func:`crossmargin.margin.pools.evaluate_pool`) at the scaled prices. The first change of
status is the answer.

Direction: a healthy long looks down first and a healthy short up first; a pool that is already
liquidatable looks the other way (the price it must get back to). When the first direction never
changes status, the other is searched. ``None`` when no price changes it (for instance a long fully
covered by collateral: it stays healthy down to zero).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.pools import Pool, evaluate_pool, position_figures
from crossmargin.margin.positions import notional
from crossmargin.margin.scaling import moves_with, scaled_market
from crossmargin.model import Portfolio, RuleChoices, Side
from crossmargin.model.numbers import ONE, ZERO, exact


@dataclass(frozen=True)
class _Problem:
    pool: Pool
    portfolio: Portfolio
    rules: RuleChoices
    underlying: str

    def liquidatable_at(self, scale: Decimal) -> bool:
        market = scaled_market(self.portfolio, self.underlying, scale)
        return evaluate_pool(self.pool, self.portfolio.with_market(market), self.rules).liquidatable

    def breakpoints(self) -> list[Decimal]:
        """Scales at which a position on the underlying crosses a tier boundary."""
        points: set[Decimal] = set()
        for position in self.pool.positions:
            instrument = self.portfolio.instruments[position.instrument]
            if instrument.underlying != self.underlying:
                continue
            mark = self.portfolio.market.mark(position.instrument)
            units = abs(position.size) * instrument.contract_size
            for edge in instrument.tiers.edges():
                points.add(units / (mark * edge) if instrument.inverse else edge / (units * mark))
        return sorted(points)

    def health_line(self, scale: Decimal) -> tuple[Decimal, Decimal]:
        """``(a, b)`` with ``H(s) = a + b s`` on the segment containing ``scale``."""
        line = [ZERO, ZERO]
        market = self.portfolio.market
        for asset_name, amount in self.pool.balances.items():
            if amount == 0:
                continue
            weighted = (
                self.portfolio.assets[asset_name].weighted_amount(amount, Side.MAINTENANCE)
                if self.pool.haircut
                else amount
            )
            line[moves_with(self.portfolio, self.underlying, asset_name)] += weighted * market.price(asset_name)
        for position in self.pool.positions:
            instrument = self.portfolio.instruments[position.instrument]
            if instrument.underlying != self.underlying:
                figures = position_figures(position, self.portfolio)
                line[0] += figures.unrealized_pnl - figures.maintenance_margin
                continue
            q, c, e = position.size, instrument.contract_size, position.entry_price
            m, p = market.mark(position.instrument), market.price(instrument.settle)
            tier = instrument.tiers.tier_for(notional(instrument, q, m * scale))
            if instrument.inverse:
                line[0] += -(q * c * p / m) - abs(q) * c * tier.mmr * p / m
                line[1] += q * c * p / e + tier.maint_amount * p
            else:
                line[0] += -(q * c * e * p) + tier.maint_amount * p
                line[1] += q * c * m * p - abs(q) * c * m * tier.mmr * p
        return line[0], line[1]


def _walk(problem: _Problem, start_status: bool, downward: bool) -> Decimal | None:
    """The first scale, moving from 1 in one direction, where the pool's status is not ``start_status``."""
    cuts = [b for b in problem.breakpoints() if (b < ONE if downward else b > ONE)]
    cuts.sort(reverse=downward)
    previous = ONE
    for cut in [*cuts, None]:
        for point, sample in _segment_points(problem, previous, cut, downward):
            if problem.liquidatable_at(sample) != start_status:
                return point
        if cut is None:
            return None
        if problem.liquidatable_at(cut) != start_status:
            return cut
        previous = cut
    return None


def _segment_points(
    problem: _Problem, start: Decimal, end: Decimal | None, downward: bool
) -> Iterator[tuple[Decimal, Decimal]]:
    """(boundary, sample) pairs walking from ``start`` toward ``end`` (None: 0 going down, infinity up).

    Each sample lies strictly inside the stretch that begins at its boundary, so a status change
    seen at the sample happens at the boundary (the segment's root). The root itself is also
    yielded as a sample, for a pool liquidatable at one touching point only.
    """
    lo, hi = (ZERO if end is None else end, start) if downward else (start, end)
    a, b = problem.health_line((lo + hi) / 2 if hi is not None else lo * 2 + 1)
    root = -a / b if b != 0 else None
    boundaries = [start]
    if root is not None and lo < root and (hi is None or root < hi):
        boundaries.append(root)
    for i, boundary in enumerate(boundaries):
        if i > 0:
            yield boundary, boundary
        following = boundaries[i + 1] if i + 1 < len(boundaries) else end
        if following is None:
            yield boundary, boundary / 2 if downward else boundary * 2
        else:
            yield boundary, (boundary + following) / 2


def liquidation_scale(
    pool: Pool, portfolio: Portfolio, rules: RuleChoices, underlying: str, long: bool
) -> Decimal | None:
    """The factor on every price of ``underlying`` at which ``pool`` changes status (see module doc)."""
    problem = _Problem(pool, portfolio, rules, underlying)
    with exact():
        status = problem.liquidatable_at(ONE)
        first_down = long != status
        for downward in (first_down, not first_down):
            scale = _walk(problem, status, downward)
            if scale is not None:
                return scale
        return None
