"""Liquidation prices, solved exactly across tier boundaries.

The liquidation price of a position is the price at which its pool (the account's cross pool, or the
position's own isolated pool) changes from healthy to liquidatable when a set of prices moves by the
same factor ``s`` and every other price is held. By default the set is every instrument mark and
collateral price on the position's underlying; a rulebook may move the position's own mark alone
(:class:`~crossmargin.model.rules.PriceMove`). The answer is the position's mark times ``s*``.

How it is solved. Every term of the pool's health ``H(s) = equity(s) - threshold x maintenance(s)``
has the form ``a + b s + d / s`` between two breakpoints (tier boundaries, and where a position with a
uPnL weight below one turns from loss to profit): collateral on a moving asset is ``w(a) x p x s``
(weights depend on the amount, not the price); a linear contract's PnL is ``q c (m s - e) p`` and its
requirement ``(|q| c m s) x rate - amount`` (:class:`~crossmargin.margin.positions.Requirement`); an
inverse contract's PnL is ``q c (1/e - 1/(m s)) p s^k`` with ``k`` one when its settle coin moves too.
The ``b`` and ``d`` parts never both appear (a move is an underlying, whose inverse contracts settle in
the moving coin, or one instrument), so each segment's root is closed-form. The solver walks the
segments away from the current price and decides at each root and breakpoint whether the pool's
status changed by evaluating the pool exactly (:func:`crossmargin.margin.pools.evaluate_pool`) at the
scaled prices. The first change of status is the answer.

Direction: a healthy long looks down first and a healthy short up first; a pool that is already
liquidatable looks the other way (the price it must get back to). When the first direction never
changes status, the other is searched. ``None`` when no price changes it (for instance a long fully
covered by collateral: it stays healthy down to zero).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin import positions as pos
from crossmargin.margin.pools import Pool, evaluate_pool, position_figures
from crossmargin.margin.scaling import Move, scaled_market
from crossmargin.model import Portfolio, Position, RuleChoices, Side
from crossmargin.model.instruments import TierBasis
from crossmargin.model.numbers import ONE, ZERO, exact


@dataclass
class _Terms:
    """``a + b s + d / s``."""

    a: Decimal = ZERO
    b: Decimal = ZERO
    d: Decimal = ZERO

    def add(self, power: int, amount: Decimal) -> None:
        if power == 0:
            self.a += amount
        elif power == 1:
            self.b += amount
        else:
            self.d += amount

    def root(self) -> Decimal | None:
        """The positive ``s`` where the terms vanish, None when there is none."""
        if self.d == 0:
            root = -self.a / self.b if self.b != 0 else None
        elif self.b == 0:
            root = -self.d / self.a if self.a != 0 else None
        else:
            raise AssertionError("a move never gives both s and 1/s terms")
        return root if root is not None and root > 0 else None


@dataclass(frozen=True)
class _Problem:
    pool: Pool
    portfolio: Portfolio
    rules: RuleChoices
    move: Move

    def liquidatable_at(self, scale: Decimal) -> bool:
        market = scaled_market(self.portfolio, self.move, scale)
        return evaluate_pool(self.pool, self.portfolio.with_market(market), self.rules).liquidatable

    def breakpoints(self) -> list[Decimal]:
        """Scales where a moving position crosses a tier boundary or turns from loss to profit."""
        points: set[Decimal] = set()
        for position in self.pool.positions:
            if position.instrument not in self.move.instruments:
                continue
            instrument = self.portfolio.instruments[position.instrument]
            mark = self.portfolio.market.mark(position.instrument)
            if instrument.upnl_weight != 1:
                points.add(position.entry_price / mark)
            if instrument.tier_basis is TierBasis.SIZE:
                continue
            units = abs(position.size) * instrument.contract_size
            for edge in instrument.tiers.edges():
                points.add(units / (mark * edge) if instrument.inverse else edge / (units * mark))
        return sorted(points)

    def health_terms(self, scale: Decimal) -> _Terms:
        """``H(s)`` on the segment containing ``scale``."""
        terms = _Terms()
        market = self.portfolio.market
        for asset_name, amount in self.pool.balances.items():
            if amount == 0:
                continue
            weighted = (
                self.portfolio.assets[asset_name].weighted_amount(amount, Side.MAINTENANCE)
                if self.pool.haircut
                else amount
            )
            terms.add(int(asset_name in self.move.assets), weighted * market.price(asset_name))
        threshold = self.rules.liquidation_threshold
        for position in self.pool.positions:
            if position.instrument in self.move.instruments:
                self._add_moving(terms, position, scale, threshold)
            else:
                figures = position_figures(position, self.portfolio)
                terms.a += figures.counted_pnl - threshold * figures.maintenance_margin
        return terms

    def _add_moving(self, terms: _Terms, position: Position, scale: Decimal, threshold: Decimal) -> None:
        instrument = self.portfolio.instruments[position.instrument]
        market = self.portfolio.market
        q, c, e = position.size, instrument.contract_size, position.entry_price
        m, p = market.mark(position.instrument), market.price(instrument.settle)
        kp = int(instrument.settle in self.move.assets)
        moved = m * scale
        notional = pos.notional(instrument, q, moved)
        requirement = pos.requirement_terms(instrument, q, e, notional, Side.MAINTENANCE)
        in_profit = pos.unrealized_pnl(instrument, q, e, moved) > 0
        weight = instrument.upnl_weight if in_profit else ONE
        terms.add(kp, threshold * requirement.amount * p)
        if instrument.inverse:
            terms.add(kp, weight * q * c * p / e)
            terms.add(kp - 1, -(weight * q * c * p / m) - threshold * abs(q) * c * requirement.rate * p / m)
        else:
            terms.add(kp, -(weight * q * c * e * p))
            terms.add(kp + 1, weight * q * c * m * p - threshold * abs(q) * c * m * requirement.rate * p)


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
    root = problem.health_terms((lo + hi) / 2 if hi is not None else lo * 2 + 1).root()
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


def liquidation_scale(pool: Pool, portfolio: Portfolio, rules: RuleChoices, move: Move, long: bool) -> Decimal | None:
    """The factor on every price in ``move`` at which ``pool`` changes status (see module doc)."""
    problem = _Problem(pool, portfolio, rules, move)
    with exact():
        status = problem.liquidatable_at(ONE)
        first_down = long != status
        for downward in (first_down, not first_down):
            scale = _walk(problem, status, downward)
            if scale is not None:
                return scale
        return None
