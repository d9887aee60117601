"""Automated market makers as liquidity: a constant-product pool (Uniswap v2), concentrated liquidity
(Uniswap v3) and a two-coin stableswap pool (Curve).

A liquidation that sells a long sells the base (the underlying) into the pool for the quote; one that buys
back a short takes the base out of it. Units: sizes in units of the base, prices in quote per unit of the
base, fees fractions of the trade (0.003 = 0.3 %).

**Where the pool sits.** A pool is described by what does not change when it trades: its invariant (the
reserves' product k = x y of a constant-product pool, the positions of a concentrated pool, the invariant D
of a stableswap pool). Where on its curve it sits follows the mark: every quote starts from the point where
the pool's own price equals the mark, the state arbitrage against the rest of the market leaves it in. So
reserves given "at a reference price" fix the invariant only; at another mark the same pool holds other
reserves (a constant-product pool x = sqrt(k / mark) of the base). With ``permanent_impact`` 1 (the default:
the pool's price really moves) the impacted mark is the pool's price after the fill, and the next quote, at
that mark, starts from exactly the state the fill left (the fee is paid out, as Uniswap v3 pays it to the
liquidity providers, and does not grow the invariant). A lower ``permanent_impact`` lets arbitrage pull the
pool back toward the mark between fills; 0 re-centres it at the old mark every time.

**Fees and prices.** The fee is charged on the input (Uniswap: the base sold or the quote paid) or on the
output (Curve: the coin received); either way the last unit of a sell trades at (1 - fee) x the pool's price
after the trade and the last unit of a buy at that price / (1 - fee): ``Quote.worst_price``. The impacted
mark uses the pool's price (:meth:`Pool.price_after`), not the worst price.

**How far a buy goes.** A sell always finds a buyer in a constant-product or stableswap pool (its price falls
toward zero, never to it). A buy would empty the pool's base at an infinite price, so a buy stops where its
marginal price reaches twice the mark, the mirror of a sell whose price reaches zero and where
:class:`~crossmargin.liquidation.liquidity.DepthLevels` stops asks; the rest stays open for the next price.

**Numbers.** All maths runs in the exact context: 50 significant digits, round half even. Square roots are
Decimal's, correctly rounded; 1.0001^tick is Decimal's integer power at 50 digits; every quotient rounds once.
The stableswap Newton iterations (Curve's ``get_D`` and ``get_y``) stop when a step moves the value by less
than 1e-45 of itself, so the invariant holds to about 1e-45 relative.
"""

from abc import abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache, cached_property, lru_cache

from crossmargin.liquidation.liquidity import LiquidityModel, Quote, Side, document_number
from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, exact, finite, positive, within

MIN_TICK = -887272
"""The lowest tick of Uniswap v3 (price 1.0001^-887272, about 2.9e-39)."""
MAX_TICK = 887272
"""The highest tick of Uniswap v3 (price about 3.4e38)."""
TICK_BASE = Decimal("1.0001")
"""The price of tick t is 1.0001^t."""
CONVERGED = Decimal("1E-45")
"""A Newton iteration stops when its step is below this fraction of its value (5 digits short of the 50 held)."""
_ITERATIONS = 255  # Curve's bound on its Newton loops
_BISECTIONS = 2000  # far more than the ~150 halvings to 1e-45 plus ~3.3 per decade of a small w


def _check_fee(fee: Decimal) -> None:
    if not ZERO <= finite(fee, "fee") < ONE:
        raise InputError("fee", f"must be at least 0 and below 1, got {fee}")


class Pool(LiquidityModel):
    """An AMM as liquidity: re-centred on the mark at every quote, a fee, buys stopped at twice the mark.

    A subclass prices the swap itself (:meth:`_swap`) and the units that move the pool to a given price
    (:meth:`_units_to`), both from the state at which the pool's price is the mark.
    """

    fee: Decimal

    @abstractmethod
    def _swap(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(filled units, notional in quote, the pool's price after the last filled unit) of a sell of
        ``units`` base into the pool or a buy of ``units`` out of it, from the pool at ``mark``."""

    @abstractmethod
    def _units_to(self, side: Side, mark: Decimal, price: Decimal) -> Decimal:
        """The units (as :meth:`_swap` counts them) that move the pool from ``mark`` to ``price`` (below the
        mark for a sell, above for a buy), or all it can fill on the way."""

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        keep = ONE - self.fee
        if side is Side.BUY:
            ceiling = 2 * mark * keep  # the pool price at which the last unit costs twice the mark
            units = min(units, self._units_to(side, mark, ceiling)) if ceiling > mark else ZERO
        if units == 0:
            return ZERO, mark, mark
        filled, notional, after = self._swap(side, units, mark)
        if filled == 0:
            return ZERO, mark, mark
        return filled, notional / filled, after * keep if side is Side.SELL else after / keep

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        """The units whose last one trades within ``offset`` of the mark: the pool moved to mark x (1 - offset)
        / (1 - fee) for a sell, to mark x (1 + offset) x (1 - fee) for a buy; none when the fee alone is more."""
        keep = ONE - self.fee
        if side is Side.SELL:
            target = mark * (ONE - offset) / keep
            return self._units_to(side, mark, target) if target < mark else ZERO
        target = mark * (ONE + offset) * keep
        return self._units_to(side, mark, target) if target > mark else ZERO

    def price_after(self, quote: Quote) -> Decimal:
        """The pool's own price (fee excluded, quote per base) where ``quote`` leaves it: worst_price /
        (1 - fee) after a sell (worst below the mark), worst_price x (1 - fee) after a buy; the mark when
        the quote moved nothing."""
        with exact():
            if quote.worst_price < quote.mark:
                return quote.worst_price / (ONE - self.fee)
            if quote.worst_price > quote.mark:
                return quote.worst_price * (ONE - self.fee)
            return quote.mark

    def impacted_mark(self, quote: Quote) -> Decimal:
        """mark + permanent_impact x (:meth:`price_after` - mark): with permanent_impact 1, the pool's price
        after the fill; between the mark and the worst price."""
        with exact():
            moved = quote.mark + self.permanent_impact * (self.price_after(quote) - quote.mark)
        low, high = sorted((quote.mark, quote.worst_price))
        return min(max(moved, low), high)


@dataclass(frozen=True)
class ConstantProduct(Pool):
    """A constant-product pool, x y = k (Uniswap v2), x base and y quote.

    ``base_reserve`` and ``quote_reserve`` (> 0) are the pool's reserves at any one moment: they fix
    k = base_reserve x quote_reserve. At mark m the pool holds x = sqrt(k / m) base and y = m x quote. A sell
    of n base puts n' = n (1 - fee) into the curve and receives m x n' / (x + n'); the pool's price moves to
    m x^2 / (x + n')^2. A buy of n base pays m x n / ((x - n) (1 - fee)) and moves the price to
    m x^2 / (x - n)^2. ``fee`` in [0, 1), on the input; ``permanent_impact`` in [0, 1], default 1.
    """

    base_reserve: Decimal
    quote_reserve: Decimal
    fee: Decimal = ZERO
    permanent_impact: Decimal = ONE

    def __post_init__(self) -> None:
        positive(self.base_reserve, "base_reserve")
        positive(self.quote_reserve, "quote_reserve")
        _check_fee(self.fee)
        within(self.permanent_impact, ZERO, ONE, "permanent_impact")

    def base_at(self, mark: Decimal) -> Decimal:
        """The base the pool holds when its price is ``mark``: sqrt(k / mark) (exact context)."""
        with exact():
            return (self.base_reserve * self.quote_reserve / mark).sqrt()

    def _swap(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        x = self.base_at(mark)
        keep = ONE - self.fee
        if side is Side.SELL:
            after = x + units * keep
            return units, mark * x * (units * keep) / after, mark * (x / after) ** 2
        after = x - units
        return units, mark * x * units / (after * keep), mark * (x / after) ** 2

    def _units_to(self, side: Side, mark: Decimal, price: Decimal) -> Decimal:
        x = self.base_at(mark)
        target = x * (mark / price).sqrt()  # m x^2 / target^2 = price
        return (target - x) / (ONE - self.fee) if side is Side.SELL else x - target

    def _scaled(self, factor: Decimal) -> "ConstantProduct":
        return replace(self, base_reserve=self.base_reserve * factor, quote_reserve=self.quote_reserve * factor)


@cache
def sqrt_price(tick: int) -> Decimal:
    """sqrt(1.0001^tick): the square root of the price at ``tick`` (quote per base), in the exact context."""
    with exact():
        return (TICK_BASE**tick).sqrt()


def _tick(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(where, f"must be an integer tick, got {value!r}")
    if not MIN_TICK <= value <= MAX_TICK:
        raise InputError(where, f"must be between {MIN_TICK} and {MAX_TICK}, got {value}")
    return value


@dataclass(frozen=True)
class ConcentratedLiquidity(Pool):
    """Concentrated liquidity (Uniswap v3): liquidity L on ranges of ticks, the price of tick t 1.0001^t.

    ``ticks`` lists the initialized ticks as ``(tick, liquidity_net)``, ticks strictly increasing: crossing
    a tick upward adds its net to the active liquidity (a position [lower, upper) with liquidity L adds L at
    lower and -L at upper; :meth:`from_positions`). The active liquidity never falls below 0 and ends at 0.
    Prices are in the mark's units (quote per base, decimals already applied): tick 80067 is a price of
    about 3000. L is in sqrt(base x quote) units.

    At mark m the pool's price is m. Within a range of liquidity L, moving the price from P_a to P_b takes
    Δx = L (1/sqrt(P_b) - 1/sqrt(P_a)) base and Δy = L (sqrt(P_b) - sqrt(P_a)) quote; a swap crosses
    initialized ticks, changing the active liquidity, and jumps over ranges without any. ``fee`` in [0, 1) is
    charged on the input (the base sold, the quote paid); ``permanent_impact`` in [0, 1], default 1. Depth
    ends where the liquidity does: below the lowest tick for a sell, above the highest for a buy.
    """

    ticks: tuple[tuple[int, Decimal], ...]
    fee: Decimal = ZERO
    permanent_impact: Decimal = ONE

    def __post_init__(self) -> None:
        if not isinstance(self.ticks, tuple) or not self.ticks:
            raise InputError("ticks", "must be a non-empty tuple of (tick, liquidity_net) pairs")
        active = ZERO
        previous: int | None = None
        for i, entry in enumerate(self.ticks):
            where = f"ticks[{i}]"
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise InputError(where, f"must be a (tick, liquidity_net) pair, got {entry!r}")
            tick, net = entry
            _tick(tick, f"{where}.tick")
            if previous is not None and tick <= previous:
                raise InputError(f"{where}.tick", f"must be above the tick before it, {previous}; got {tick}")
            if finite(net, f"{where}.liquidity_net") == 0:
                raise InputError(f"{where}.liquidity_net", "must not be 0: an initialized tick changes the liquidity")
            with exact():
                active += net
            if active < 0:
                raise InputError(f"{where}.liquidity_net", f"takes the active liquidity below 0, to {active}")
            previous = tick
        if active != 0:
            raise InputError("ticks", f"the liquidity must end at 0 above the highest tick, got {active}")
        _check_fee(self.fee)
        within(self.permanent_impact, ZERO, ONE, "permanent_impact")

    @classmethod
    def from_positions(
        cls, positions: Sequence[tuple[int, int, Decimal]], fee: Decimal = ZERO, permanent_impact: Decimal = ONE
    ) -> "ConcentratedLiquidity":
        """The pool of liquidity positions ``(tick_lower, tick_upper, liquidity)``: liquidity (> 0) on the
        price range [1.0001^tick_lower, 1.0001^tick_upper), tick_lower < tick_upper."""
        if not positions:
            raise InputError("positions", "must list at least one position")
        nets: dict[int, Decimal] = {}
        with exact():
            for i, position in enumerate(positions):
                where = f"positions[{i}]"
                if not isinstance(position, tuple) or len(position) != 3:
                    raise InputError(where, f"must be a (tick_lower, tick_upper, liquidity) triple, got {position!r}")
                lower, upper, liquidity = position
                _tick(lower, f"{where}.tick_lower")
                if _tick(upper, f"{where}.tick_upper") <= lower:
                    raise InputError(f"{where}.tick_upper", f"must be above tick_lower {lower}, got {upper}")
                positive(liquidity, f"{where}.liquidity")
                nets[lower] = nets.get(lower, ZERO) + liquidity
                nets[upper] = nets.get(upper, ZERO) - liquidity
        return cls(tuple((tick, net) for tick, net in sorted(nets.items()) if net != 0), fee, permanent_impact)

    @cached_property
    def _bounds(self) -> tuple[Decimal, ...]:
        """sqrt(price) of every initialized tick, increasing."""
        return tuple(sqrt_price(tick) for tick, _ in self.ticks)

    @cached_property
    def _active(self) -> tuple[Decimal, ...]:
        """The active liquidity from each initialized tick up to the next (0 above the highest)."""
        active, running = [], ZERO
        with exact():
            for _, net in self.ticks:
                running += net
                active.append(running)
        return tuple(active)

    def _walk(
        self, side: Side, mark: Decimal, units: Decimal | None, limit: Decimal | None
    ) -> tuple[Decimal, Decimal, Decimal]:
        """(units filled, notional, the pool's price after the last filled unit) of a swap from the pool at
        ``mark``: ``units`` of base (None: no end but ``limit``), never past the pool price ``limit``."""
        keep = ONE - self.fee
        current = mark.sqrt()
        stop = None if limit is None else limit.sqrt()
        last = current
        bounds, active = self._bounds, self._active
        if side is Side.SELL:
            remaining = None if units is None else units * keep  # base into the curve, the fee taken
            spent = received = ZERO
            j = bisect_left(bounds, current) - 1  # the highest tick below the price; its range holds it
            while j >= 0 and remaining != 0 and (stop is None or stop < current):
                low = bounds[j] if stop is None else max(bounds[j], stop)
                liquidity = active[j]
                if liquidity > 0:
                    need = liquidity * (ONE / low - ONE / current)
                    if remaining is not None and need >= remaining:
                        last = liquidity * current / (liquidity + remaining * current)
                        received += liquidity * (current - last)
                        spent += remaining
                        remaining = ZERO
                        break
                    received += liquidity * (current - low)
                    spent += need
                    remaining = None if remaining is None else remaining - need
                    last = low
                current = low
                j -= 1
            filled = units if units is not None and remaining == 0 else spent / keep
            return filled, received, last * last
        remaining = units  # base out of the curve
        got = paid = ZERO
        j = bisect_right(bounds, current)  # the lowest tick above the price
        while j < len(bounds) and remaining != 0 and (stop is None or stop > current):
            top = bounds[j] if stop is None else min(bounds[j], stop)
            liquidity = active[j - 1] if j > 0 else ZERO
            if liquidity > 0:
                available = liquidity * (ONE / current - ONE / top)
                if remaining is not None and available >= remaining:
                    last = liquidity * current / (liquidity - remaining * current)
                    paid += liquidity * (last - current)
                    got += remaining
                    remaining = ZERO
                    break
                paid += liquidity * (top - current)
                got += available
                remaining = None if remaining is None else remaining - available
                last = top
            current = top
            j += 1
        filled = units if units is not None and remaining == 0 else got
        return filled, paid / keep, last * last

    def _swap(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        return self._walk(side, mark, units, None)

    def _units_to(self, side: Side, mark: Decimal, price: Decimal) -> Decimal:
        return self._walk(side, mark, None, price)[0]

    def _scaled(self, factor: Decimal) -> "ConcentratedLiquidity":
        return replace(self, ticks=tuple((tick, net * factor) for tick, net in self.ticks))


def stableswap_invariant(amplification: Decimal, x: Decimal, y: Decimal) -> Decimal:
    """D of a two-coin stableswap pool with balances ``x``, ``y`` (> 0) by Curve's ``get_D``: Newton's method on
    Ann (x + y) + D = Ann D + D^3 / (4 x y), Ann = 2 ``amplification``, from D = x + y, each step
    D <- (Ann S + 2 D_P) D / ((Ann - 1) D + 3 D_P) with D_P = D^3 / (4 x y). In the exact context."""
    with exact():
        ann = 2 * amplification
        total = x + y
        d = total
        for _ in range(_ITERATIONS):
            d_p = d * d / (2 * x) * d / (2 * y)
            previous = d
            d = (ann * total + 2 * d_p) * d / ((ann - 1) * d + 3 * d_p)
            if abs(d - previous) <= d * CONVERGED:
                return d
    raise ArithmeticError(f"the stableswap invariant did not converge for balances {x}, {y}")


def stableswap_y(amplification: Decimal, invariant: Decimal, x: Decimal) -> Decimal:
    """The balance y that keeps a two-coin pool on its invariant D when the other balance is ``x`` (> 0), by
    Curve's ``get_y``: c = D^3 / (4 x Ann), b = x + D / Ann, then y <- (y^2 + c) / (2 y + b - D) from y = D
    (Newton's method on y^2 + (b - D) y = c). In the exact context."""
    with exact():
        ann = 2 * amplification
        c = invariant * invariant / (2 * x) * invariant / (2 * ann)
        b = x + invariant / ann
        y = invariant
        for _ in range(_ITERATIONS):
            previous = y
            y = (y * y + c) / (2 * y + b - invariant)
            if abs(y - previous) <= y * CONVERGED:
                return y
    raise ArithmeticError(f"the stableswap balance did not converge for x = {x}")


def stableswap_price(amplification: Decimal, invariant: Decimal, x: Decimal, y: Decimal) -> Decimal:
    """The pool's price of coin x in coin y, -dy/dx along the invariant, fee excluded:
    (4 Ann x^2 y^2 + D^3 y) / (4 Ann x^2 y^2 + D^3 x). In the exact context."""
    with exact():
        common = 8 * amplification * x * x * y * y
        cube = invariant**3
        return (common + cube * y) / (common + cube * x)


@lru_cache(maxsize=4096)
def stableswap_balances(amplification: Decimal, invariant: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """The balances (x, y) on the invariant D where the pool's price of x in y is ``price`` (> 0).

    For price 1, x = y = D / 2. Otherwise, for q = min(price, 1 / price), the bisection runs over
    w = D^2 / (4 x y) - 1 >= 0: the invariant gives x + y = D (1 + w / Ann) and x y = D^2 / (4 (1 + w)), so
    x - y = D sqrt(w (1 + 2/Ann + 2w/Ann + w/Ann^2 + w^2/Ann^2) / (1 + w)) without cancellation, and the price
    of the richer coin falls as w grows. It stops when w is known to 1e-45 of itself; the pair returned
    satisfies the invariant to the context's precision (its price is within about 1e-45 of ``price``).
    Computed in the exact context; cached."""
    with exact():
        if price == 1:
            return invariant / 2, invariant / 2
        ann = 2 * amplification
        target = price if price < 1 else ONE / price

        def at(w: Decimal) -> tuple[Decimal, Decimal, Decimal]:
            spread = invariant * (w * (1 + 2 / ann + 2 * w / ann + w / ann**2 + w * w / ann**2) / (1 + w)).sqrt()
            rich = (invariant * (1 + w / ann) + spread) / 2
            poor = invariant * invariant / (4 * (1 + w)) / rich
            return stableswap_price(amplification, invariant, rich, poor), rich, poor

        if target >= ONE - CONVERGED:  # within the precision the pool's price is found to: balanced
            return invariant / 2, invariant / 2
        low, high = ZERO, ONE
        while at(high)[0] >= target:
            low, high = high, high * 10
        for _ in range(_BISECTIONS):
            if high - low <= high * CONVERGED:
                _, rich, poor = at(high)
                return (rich, poor) if price < 1 else (poor, rich)
            middle = (low + high) / 2
            if at(middle)[0] >= target:
                low = middle
            else:
                high = middle
        raise ArithmeticError(f"no stableswap balances found for the price {price}")


@dataclass(frozen=True)
class Stableswap(Pool):
    """A two-coin stableswap pool (Curve): the base (coin 0, a stablecoin sold as collateral) against the quote
    (coin 1), for pegged pairs.

    ``amplification`` (>= 1) is the pool's ``A`` as Curve's contracts publish it, A n^(n-1) of the whitepaper
    (for two coins twice the whitepaper's A); the invariant is Ann (x + y) + D = Ann D + D^3 / (4 x y) with
    Ann = 2 amplification. ``base_reserve`` and ``quote_reserve`` (> 0) are balances at any one moment: they
    fix D (:func:`stableswap_invariant`). At mark m the pool sits at the balances on D where its price is m
    (:func:`stableswap_balances`; its prices are scaled by m over the price found there, so the anchor is
    exact). A sell of n base moves x to x + n and y to get_y(x + n) (:func:`stableswap_y`) and pays out
    (y - y') (1 - fee); a buy of n base takes n / (1 - fee) out of x and pays y' - y. ``fee`` in [0, 1) is
    charged on the output as Curve charges it; ``permanent_impact`` in [0, 1], default 1.
    """

    amplification: Decimal
    base_reserve: Decimal
    quote_reserve: Decimal
    fee: Decimal = ZERO
    permanent_impact: Decimal = ONE

    def __post_init__(self) -> None:
        if finite(self.amplification, "amplification") < 1:
            raise InputError("amplification", f"must be at least 1, got {self.amplification}")
        positive(self.base_reserve, "base_reserve")
        positive(self.quote_reserve, "quote_reserve")
        _check_fee(self.fee)
        within(self.permanent_impact, ZERO, ONE, "permanent_impact")

    @cached_property
    def invariant(self) -> Decimal:
        """D of the reserves (coin units, the sum of the balances when the pool is balanced)."""
        return stableswap_invariant(self.amplification, self.base_reserve, self.quote_reserve)

    def _state(self, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(x, y, scale): the balances at ``mark`` and mark over the pool's own price there."""
        x, y = stableswap_balances(self.amplification, self.invariant, mark)
        return x, y, mark / stableswap_price(self.amplification, self.invariant, x, y)

    def _swap(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        x, y, scale = self._state(mark)
        keep = ONE - self.fee
        after = x + units if side is Side.SELL else x - units / keep
        y_after = stableswap_y(self.amplification, self.invariant, after)
        price = stableswap_price(self.amplification, self.invariant, after, y_after) * scale
        if side is Side.SELL:
            return units, (y - y_after) * keep * scale, price
        return units, (y_after - y) * scale, price

    def _units_to(self, side: Side, mark: Decimal, price: Decimal) -> Decimal:
        x, _, scale = self._state(mark)
        target, _ = stableswap_balances(self.amplification, self.invariant, price / scale)
        return max(ZERO, target - x) if side is Side.SELL else max(ZERO, (x - target) * (ONE - self.fee))

    def _scaled(self, factor: Decimal) -> "Stableswap":
        return replace(self, base_reserve=self.base_reserve * factor, quote_reserve=self.quote_reserve * factor)


def _document_tick(value: object, where: str) -> int:
    """A tick from a document: an integer, or a number with no fraction (``"80000"``, ``80000.0``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = document_number(value, where)
    if number != number.to_integral_value():
        raise InputError(where, f"must be an integer tick, got {value!r}")
    return int(number)


def _rows(value: object, name: str, columns: tuple[str, ...]) -> list[list[object]]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(name, f"must be a list of [{', '.join(columns)}] rows, got {value!r}")
    rows = []
    for i, row in enumerate(value):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != len(columns):
            raise InputError(f"{name}[{i}]", f"must be a row [{', '.join(columns)}], got {row!r}")
        rows.append(list(row))
    return rows


def _concentrated(raw: Mapping[str, object], fee: Decimal, impact: Decimal) -> ConcentratedLiquidity:
    if ("positions" in raw) == ("ticks" in raw):
        raise InputError("positions", "give either positions [[tick_lower, tick_upper, liquidity], ...] or ticks")
    if "positions" in raw:
        positions = [
            (
                _document_tick(lower, f"positions[{i}].tick_lower"),
                _document_tick(upper, f"positions[{i}].tick_upper"),
                document_number(liquidity, f"positions[{i}].liquidity"),
            )
            for i, (lower, upper, liquidity) in enumerate(
                _rows(raw["positions"], "positions", ("tick_lower", "tick_upper", "liquidity"))
            )
        ]
        return ConcentratedLiquidity.from_positions(positions, fee, impact)
    ticks = tuple(
        (_document_tick(tick, f"ticks[{i}].tick"), document_number(net, f"ticks[{i}].liquidity_net"))
        for i, (tick, net) in enumerate(_rows(raw["ticks"], "ticks", ("tick", "liquidity_net")))
    )
    return ConcentratedLiquidity(ticks, fee, impact)


def pool_from_dict(kind: str, raw: Mapping[str, object]) -> Pool:
    """The pool of a document's liquidity section whose keys :func:`~crossmargin.liquidation.liquidity_document.
    liquidity_from_dict` has checked: ``kind`` is ``constant_product``, ``concentrated`` or ``stableswap``;
    ``fee`` defaults to 0, ``permanent_impact`` to 1. Errors name the field."""
    fee = document_number(raw.get("fee", 0), "fee")
    impact = document_number(raw.get("permanent_impact", 1), "permanent_impact")
    if kind == "concentrated":
        return _concentrated(raw, fee, impact)
    base = document_number(raw["base_reserve"], "base_reserve")
    quote = document_number(raw["quote_reserve"], "quote_reserve")
    if kind == "stableswap":
        return Stableswap(document_number(raw["amplification"], "amplification"), base, quote, fee, impact)
    return ConstantProduct(base, quote, fee, impact)
