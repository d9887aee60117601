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
requirement ``(|q| c m s) x rate - amount`` (:class:`~crossmargin.margin.positions.Requirement`), or a
constant in settle units where the rulebook values maintenance at the entry price (then its brackets give
no breakpoints); an inverse contract's PnL is ``q c (1/e - 1/(m s)) p s^k`` with ``k`` one when its settle
coin moves too. A position whose mark does not move keeps its uPnL and requirement fixed in settle units: in
base currency both are ``x p s`` where its settle asset's price moves (a USDT move alone), else constants.
The ``b`` and ``d`` parts never both appear (a move is an underlying, whose inverse contracts settle in
the moving coin, or one instrument), so each segment's root is closed-form. The solver walks the
segments away from the current price and decides at each root and breakpoint whether the pool's
status changed by evaluating the pool exactly (:func:`crossmargin.margin.pools.evaluate_pool`) at the
scaled prices. The first change of status is the answer.

Direction: a healthy long looks down first and a healthy short up first; a pool that is already
liquidatable looks the other way (the price it must get back to). When the first direction never
changes status, the other is searched. ``None`` when no price changes it (for instance a long fully
covered by collateral: it stays healthy down to zero). A pool holding an option, or margined by a
scenario grid, gets no liquidation price (:func:`crossmargin.margin.account.evaluate_account` leaves it
out): neither a premium nor a grid's worst loss is of this form.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

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

    def at(self, scale: Decimal) -> Decimal:
        """The value at ``scale``."""
        return self.a + self.b * scale + self.d / scale

    def add(self, other: "_Terms", factor: Decimal = ONE, shift: int = 0) -> None:
        """Add ``other x factor x s**shift`` (``shift`` 0 or 1: a price that moves)."""
        if shift and other.b:
            raise AssertionError("a moving price never multiplies a term already growing with the price")
        if shift:
            self.a += other.d * factor
            self.b += other.a * factor
        else:
            self.a += other.a * factor
            self.b += other.b * factor
            self.d += other.d * factor

    def solve(self, target: Decimal = ZERO) -> Decimal | None:
        """The positive ``s`` where the terms equal ``target``, None when there is none."""
        a = self.a - target
        if self.d == 0:
            root = -a / self.b if self.b != 0 else None
        elif self.b == 0:
            root = -self.d / a if a != 0 else None
        else:
            raise AssertionError("a move never gives both s and 1/s terms")
        return root if root is not None and root > 0 else None


@dataclass(frozen=True)
class _Problem:
    pool: Pool
    portfolio: Portfolio
    rules: RuleChoices
    move: Move

    @property
    def folded(self) -> bool:
        """Whether uPnL joins its settle asset's balance before the weights (see pools)."""
        return self.rules.pnl_in_settle_collateral and self.pool.haircut

    def maintenance_at_entry(self, position: Position) -> bool:
        """Whether the rulebook values the position's maintenance requirement at its entry price."""
        return self.rules.margin_valuation.at_entry(Side.MAINTENANCE, position.isolated)

    def liquidatable_at(self, scale: Decimal) -> bool:
        market = scaled_market(self.portfolio, self.move, scale)
        return evaluate_pool(self.pool, self.portfolio.with_market(market), self.rules).liquidatable

    def breakpoints(self) -> list[Decimal]:
        """Scales where a moving position crosses a tier boundary or turns from loss to profit, and (uPnL in
        settle collateral) where a settle asset's balance plus uPnL crosses a weight band or zero."""
        points: set[Decimal] = set()
        for position in self.pool.positions:
            if position.instrument not in self.move.instruments:
                continue
            instrument = self.portfolio.instruments[position.instrument]
            mark = self.portfolio.market.mark(position.instrument)
            if instrument.upnl_weight != 1:
                points.add(position.entry_price / mark)
            if instrument.tier_basis is TierBasis.SIZE or self.maintenance_at_entry(position):
                continue
            units = abs(position.size) * instrument.contract_size
            for edge in instrument.tiers.edges():
                points.add(units / (mark * edge) if instrument.inverse else edge / (units * mark))
        if self.folded:
            points |= self._band_crossings(sorted(points))
        return sorted(points)

    def _band_crossings(self, cuts: list[Decimal]) -> set[Decimal]:
        """Within each stretch between ``cuts`` (where uPnL weights are fixed), the scales where a settle
        asset's balance plus uPnL reaches one of its weight edges."""
        found: set[Decimal] = set()
        bounds: list[Decimal | None] = [ZERO, *cuts, None]
        for low, high in pairwise(bounds):
            assert low is not None
            inside = (low + high) / 2 if high is not None else low * 2 + 1
            for asset_name, amount in self._amounts(inside).items():
                for edge in self.portfolio.assets[asset_name].edges(Side.MAINTENANCE):
                    root = amount.solve(edge)
                    if root is not None and low < root and (high is None or root < high):
                        found.add(root)
        return found

    def _pnl_terms(self, position: Position, scale: Decimal) -> _Terms:
        """The position's uPnL as it counts for maintenance, in settle units, on the segment of ``scale``."""
        instrument = self.portfolio.instruments[position.instrument]
        if position.instrument not in self.move.instruments:
            figures = position_figures(position, self.portfolio)
            return _Terms(a=pos.counted_pnl(instrument, figures.pnl_settle, Side.MAINTENANCE))
        q, c, e = position.size, instrument.contract_size, position.entry_price
        m = self.portfolio.market.mark(position.instrument)
        in_profit = pos.unrealized_pnl(instrument, q, e, m * scale) > 0
        w = instrument.upnl_weight if in_profit else ONE
        if instrument.inverse:
            return _Terms(a=w * q * c / e, d=-(w * q * c / m))
        return _Terms(a=-(w * q * c * e), b=w * q * c * m)

    def _requirement_terms(self, position: Position, scale: Decimal) -> _Terms:
        """``-threshold x maintenance`` of the position in base currency, on the segment of ``scale``."""
        threshold = self.rules.liquidation_threshold
        instrument = self.portfolio.instruments[position.instrument]
        market = self.portfolio.market
        threshold *= market.margin_multiplier(instrument.underlying)  # a constant factor: the venue's multiplier
        if position.instrument not in self.move.instruments:
            # fixed in settle units, it moves in base currency with its settle asset's price
            figures = position_figures(position, self.portfolio, self.rules.margin_valuation)
            held = -threshold * figures.maintenance_margin
            return _Terms(b=held) if instrument.settle in self.move.assets else _Terms(a=held)
        q, c, e = position.size, instrument.contract_size, position.entry_price
        m, p = market.mark(position.instrument), market.price(instrument.settle)
        if self.maintenance_at_entry(position):
            margined = pos.margined_notional(instrument, pos.notional(instrument, q, e))
            settle_units = _Terms(a=pos.requirement_terms(instrument, q, e, margined, Side.MAINTENANCE).of(margined))
        else:
            notional = pos.notional(instrument, q, m * scale)
            requirement = pos.requirement_terms(instrument, q, e, notional, Side.MAINTENANCE)
            settle_units = (
                _Terms(a=-requirement.amount, d=abs(q) * c * requirement.rate / m)
                if instrument.inverse
                else _Terms(a=-requirement.amount, b=abs(q) * c * m * requirement.rate)
            )
        terms = _Terms()
        terms.add(settle_units, -threshold * p, int(instrument.settle in self.move.assets))
        return terms

    def _amounts(self, scale: Decimal) -> dict[str, _Terms]:
        """Each asset's amount in the pool (uPnL in settle collateral: balance plus the settled uPnL)."""
        amounts = {name: _Terms(a=amount) for name, amount in self.pool.balances.items()}
        if self.folded:
            for position in self.pool.positions:
                settle = self.portfolio.instruments[position.instrument].settle
                amounts.setdefault(settle, _Terms()).add(self._pnl_terms(position, scale))
        return amounts

    def health_terms(self, scale: Decimal) -> _Terms:
        """``H(s)`` on the segment containing ``scale``."""
        terms = _Terms()
        market = self.portfolio.market
        for asset_name, amount in self._amounts(scale).items():
            moves = int(asset_name in self.move.assets)
            if not self.pool.haircut:
                terms.add(amount, market.price(asset_name), moves)
                continue
            holding = self.portfolio.assets[asset_name]
            if amount.b == 0 and amount.d == 0:
                terms.add(
                    _Terms(a=holding.weighted_amount(amount.a, Side.MAINTENANCE)), market.price(asset_name), moves
                )
                continue
            offset, weight = holding.line_at(amount.at(scale), Side.MAINTENANCE)
            weighted = _Terms(a=offset)
            weighted.add(amount, weight)
            terms.add(weighted, market.price(asset_name), moves)
        for position in self.pool.positions:
            if not self.folded:
                settle = self.portfolio.instruments[position.instrument].settle
                moves = int(settle in self.move.assets)
                terms.add(self._pnl_terms(position, scale), market.price(settle), moves)
            terms.add(self._requirement_terms(position, scale))
        return terms


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
    root = problem.health_terms((lo + hi) / 2 if hi is not None else lo * 2 + 1).solve()
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
