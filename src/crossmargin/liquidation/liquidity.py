"""Liquidity: the market depth that liquidation orders fill against.

A liquidation sells a long (it walks the bids, at prices below the mark) or buys back a short (it walks
the asks, above the mark). A :class:`LiquidityModel` quotes such an order: how many units fill, at what
volume-weighted average price, and at what price the last unit fills. Quoting is pure (it never changes
the model) and exact: all maths runs under :func:`~crossmargin.model.numbers.exact`.

Units throughout: sizes are in units of the underlying (BTC for BTC-PERP), prices in the quote currency
per unit of the underlying, offsets and impacts are fractions of the mark (0.001 = 10 basis points).
The models here are symmetric around the mark: depth ``x`` away on the bid side is depth ``x`` away on the
ask side. A book with its own bid and ask sides is :class:`~crossmargin.liquidation.order_book.OrderBook`;
automated market makers (constant product, concentrated liquidity, stableswap) are in
:mod:`crossmargin.liquidation.amm`; :mod:`crossmargin.liquidation.liquidity_document` reads all of them from a
document.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from crossmargin.engine.rule_arrays import F64
from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, exact, finite, non_negative, positive, within


class Side(StrEnum):
    """The side of a liquidation order: SELL closes a long (walks the bids), BUY closes a short (the asks)."""

    SELL = "sell"
    BUY = "buy"


def _direction(side: Side) -> Decimal:
    """-1 for a sell (prices below the mark), +1 for a buy (prices above)."""
    return -ONE if side is Side.SELL else ONE


@dataclass(frozen=True)
class Quote:
    """What an order of ``requested`` units would fill, all prices in quote currency per unit.

    ``filled`` (0 <= filled <= requested) is less than ``requested`` when the depth runs out;
    ``average_price`` is volume-weighted over the filled units (the mark when nothing fills);
    ``worst_price`` is the price of the last unit filled (the mark when nothing fills).
    """

    requested: Decimal
    filled: Decimal
    average_price: Decimal
    worst_price: Decimal
    mark: Decimal

    def __post_init__(self) -> None:
        positive(self.requested, "requested")
        within(self.filled, ZERO, self.requested, "filled")
        positive(self.mark, "mark")
        non_negative(self.average_price, "average_price")
        non_negative(self.worst_price, "worst_price")
        if self.filled == 0 and not self.average_price == self.worst_price == self.mark:
            raise InputError("average_price", "a quote that fills nothing is priced at the mark")

    @property
    def slippage(self) -> Decimal:
        """filled x |average_price - mark|: the cost against filling at the mark, quote currency, >= 0."""
        with exact():
            return self.filled * abs(self.average_price - self.mark)

    @property
    def notional(self) -> Decimal:
        """filled x average_price: what the fill pays (buy) or receives (sell), in quote currency."""
        with exact():
            return self.filled * self.average_price


class Fractions(NamedTuple):
    """Orders' quotes as fractions of the mark they meet, in float64 (the float mirror of :meth:`LiquidityModel.quote`
    and :meth:`LiquidityModel.impacted_mark` for depth set in offsets from the mark): per order, the ``average``
    price over the mark, the ``share`` of it filled and the mark ``after`` it over the mark before."""

    average: F64
    share: F64
    after: F64


def _sign(side: Side) -> float:
    return -1.0 if side is Side.SELL else 1.0


def _fractions(model: "LiquidityModel", units: F64, filled: F64, average: F64, worst: F64) -> Fractions:
    """The quotes of orders of ``units`` that fill ``filled`` at ``average`` with the last unit at ``worst`` (all
    fractions of the mark), the mark left after each by the model's permanent impact."""
    impact = float(model.permanent_impact)
    after = np.clip(1.0 + impact * (worst - 1.0), np.minimum(worst, 1.0), np.maximum(worst, 1.0))
    return Fractions(average, filled / units, after)


def _check_impact(value: Decimal) -> None:
    within(value, ZERO, ONE, "permanent_impact")


class LiquidityModel(ABC):
    """Market depth for one instrument; :meth:`quote` prices an order against it.

    ``permanent_impact`` (in [0, 1]) is the fraction of the move from the mark to the worst fill price
    that stays in the market price after the fill (see :meth:`impacted_mark`).
    """

    permanent_impact: Decimal

    def quote(self, side: Side, units: Decimal, mark: Decimal) -> Quote:
        """Price an order for ``units`` (> 0, underlying) on ``side`` with the market at ``mark`` (> 0)."""
        if not isinstance(side, Side):
            raise InputError("side", f"must be Side.SELL or Side.BUY, got {side!r}")
        positive(units, "units")
        positive(mark, "mark")
        with exact():
            filled, average, worst = self._fill(side, units, mark)
        return Quote(requested=units, filled=filled, average_price=average, worst_price=worst, mark=mark)

    def fractions(self, side: Side, units: F64) -> Fractions | None:
        """Orders of ``units`` (each > 0, underlying) on ``side`` quoted in float64 as fractions of the mark, for
        depth set in offsets from the mark (the quote at mark m is m times the quote at mark 1): the float mirror
        of :meth:`quote` and :meth:`impacted_mark`, within 1e-12 of them; None for depth at prices (an AMM's
        reserves, an order book), which only the exact quote prices."""
        return None

    @abstractmethod
    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(filled units, average price, worst price) of a valid order; runs under the exact context."""

    @abstractmethod
    def _scaled(self, factor: Decimal) -> "LiquidityModel":
        """This model with ``factor`` (> 0) times the units at every price (:func:`scaled_depth`); runs under the
        exact context."""

    def units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal | None:
        """The units an order on ``side`` fills with its last unit no further than ``offset`` (a fraction,
        0 <= offset < 1) from ``mark`` (> 0): worst price at or above mark x (1 - offset) for a sell, at or below
        mark x (1 + offset) for a buy. None when the depth there is unlimited."""
        if not isinstance(side, Side):
            raise InputError("side", f"must be Side.SELL or Side.BUY, got {side!r}")
        positive(mark, "mark")
        if not ZERO <= finite(offset, "offset") < ONE:
            raise InputError("offset", f"must be at least 0 and below 1, got {offset}")
        with exact():
            return self._units_within(side, mark, offset)

    @abstractmethod
    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal | None:
        """:meth:`units_within` of valid arguments; runs under the exact context."""

    def impacted_mark(self, quote: Quote) -> Decimal:
        """The market price after ``quote`` fills: mark + permanent_impact x (worst_price - mark).

        Below the mark after a sell, above it after a buy; the mark itself when permanent_impact is 0.
        """
        with exact():
            moved = quote.mark + self.permanent_impact * (quote.worst_price - quote.mark)
        # the difference is rounded at the 50th digit, which can step past a worst price of many more digits
        low, high = sorted((quote.mark, quote.worst_price))
        return min(max(moved, low), high)


@dataclass(frozen=True)
class AtMark(LiquidityModel):
    """Unlimited depth at the mark: everything fills at the mark, no slippage, no impact.

    The model of a document that describes no liquidity.
    """

    permanent_impact: Decimal = dataclass_field(default=ZERO, init=False)

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        return units, mark, mark

    def fractions(self, side: Side, units: F64) -> Fractions:
        one = np.ones(len(units))
        return Fractions(one, one.copy(), one.copy())

    def _scaled(self, factor: Decimal) -> "AtMark":
        return self

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> None:
        return None


def walk_levels(
    levels: Sequence[tuple[Decimal, Decimal]], side: Side, units: Decimal, mark: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(filled, average price, worst price) of ``units`` walking ``levels`` (``(offset, units)``, offsets
    increasing) from ``mark``: a sell at mark x (1 - offset), a buy at mark x (1 + offset); nothing filled is
    priced at the mark. Runs under the caller's (exact) context."""
    direction = _direction(side)
    remaining = units
    notional = ZERO
    worst = mark
    for offset, available in levels:
        if remaining == 0:
            break
        take = min(remaining, available)
        worst = mark * (ONE + direction * offset)
        notional += take * worst
        remaining -= take
    filled = units - remaining
    return (filled, notional / filled, worst) if filled else (ZERO, mark, mark)


def book_levels(
    rows: Sequence[tuple[Decimal, Decimal]], reference: Decimal, side: Side, name: str, reference_name: str = "mark"
) -> tuple[tuple[Decimal, Decimal], ...]:
    """Rows ``(price, units)`` of one side of a book, best first, as levels ``(offset, units)`` from
    ``reference`` (a fraction of it: below it for bids, :data:`Side.SELL`; above for asks); equal prices merge.
    A row on the wrong side, past twice the reference, or better than the one before raises InputError naming
    ``name[i].price``."""
    direction = _direction(side)
    merged: list[tuple[Decimal, Decimal]] = []
    with exact():
        for i, (price, units) in enumerate(rows):
            positive(price, f"{name}[{i}].price")
            positive(units, f"{name}[{i}].units")
            offset = direction * (price - reference) / reference
            if not ZERO <= offset < ONE:
                wrong = "above" if side is Side.SELL else "below (or at twice)"
                raise InputError(f"{name}[{i}].price", f"{price} is {wrong} the {reference_name} {reference}")
            if merged and offset < merged[-1][0]:
                raise InputError(f"{name}[{i}].price", f"{price} is better than the row before: list best first")
            if merged and offset == merged[-1][0]:
                merged[-1] = (offset, merged[-1][1] + units)
            else:
                merged.append((offset, units))
    return tuple(merged)


def levels_within(levels: Sequence[tuple[Decimal, Decimal]], offset: Decimal) -> Decimal:
    """The units of ``levels`` (``(offset, units)``) at an offset up to ``offset``."""
    return sum((units for level, units in levels if level <= offset), ZERO)


@dataclass(frozen=True)
class DepthLevels(LiquidityModel):
    """A book of discrete levels ``(offset, units)``, the same on both sides of the mark.

    ``offset`` is a fraction of the mark (0 <= offset < 1, strictly increasing from level to level) at
    which ``units`` (> 0, underlying) are available: a sell fills there at mark x (1 - offset), a buy at
    mark x (1 + offset). An order walks the levels in order; past the last level nothing more fills
    (``filled < requested``).
    """

    levels: tuple[tuple[Decimal, Decimal], ...]
    permanent_impact: Decimal = ZERO

    def __post_init__(self) -> None:
        if not isinstance(self.levels, tuple) or not self.levels:
            raise InputError("levels", "must be a non-empty tuple of (offset, units) pairs")
        previous: Decimal | None = None
        for i, level in enumerate(self.levels):
            where = f"levels[{i}]"
            if not isinstance(level, tuple) or len(level) != 2:
                raise InputError(where, f"must be an (offset, units) pair, got {level!r}")
            offset, units = level
            if not ZERO <= finite(offset, f"{where}.offset") < ONE:
                raise InputError(f"{where}.offset", f"must be at least 0 and below 1, got {offset}")
            if previous is not None and offset <= previous:
                raise InputError(f"{where}.offset", f"must be above the offset before it, {previous}; got {offset}")
            positive(units, f"{where}.units")
            previous = offset
        _check_impact(self.permanent_impact)

    @classmethod
    def from_book(
        cls,
        book: Sequence[tuple[Decimal, Decimal]],
        mark: Decimal | None = None,
        side: Side = Side.SELL,
        permanent_impact: Decimal = ZERO,
    ) -> "DepthLevels":
        """Levels from one side of a real book: ``(price, units)`` rows, best price first.

        ``side`` is the order that walks the book: SELL for bids (prices falling), BUY for asks (prices
        rising). Offsets are taken from ``mark`` (default: the best price), so every bid must be at or
        below it and every ask at or above it (and below twice the mark). Rows at the same price merge.
        Offsets are quotients, exact to 50 significant digits, so the prices the levels quote agree with
        the book's to about 50 digits.
        """
        if not book:
            raise InputError("book", "has no rows")
        reference = positive(book[0][0] if mark is None else mark, "book[0].price" if mark is None else "mark")
        return cls(book_levels(book, reference, side, "book"), permanent_impact)

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        return walk_levels(self.levels, side, units, mark)

    def fractions(self, side: Side, units: F64) -> Fractions:
        """The levels walked for every order at once: the level each order ends in, the cumulative units and
        proceeds of the levels before it."""
        price = 1.0 + _sign(side) * np.array([float(offset) for offset, _ in self.levels])
        depth = np.array([float(available) for _, available in self.levels])
        before = np.concatenate([[0.0], np.cumsum(depth)])
        paid = np.concatenate([[0.0], np.cumsum(depth * price)])
        filled = np.minimum(units, before[-1])
        last = np.minimum(np.searchsorted(before, filled, side="left") - 1, len(depth) - 1).clip(min=0)
        proceeds = paid[last] + (filled - before[last]) * price[last]
        return _fractions(self, units, filled, proceeds / filled, price[last])

    def _scaled(self, factor: Decimal) -> "DepthLevels":
        return replace(self, levels=tuple((offset, units * factor) for offset, units in self.levels))

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        return levels_within(self.levels, offset)


@dataclass(frozen=True)
class LinearImpact(LiquidityModel):
    """Depth that moves the price linearly: after ``x`` units the next unit trades at
    mark x (1 - x / depth_units) for a sell, mark x (1 + x / depth_units) for a buy.

    So an order of ``n`` units fills at average mark x (1 -/+ n / (2 depth_units)) with the last unit at
    mark x (1 -/+ n / depth_units). A sell fills at most ``depth_units`` (``depth_units`` > 0, underlying),
    where the price reaches zero; a buy always fills in full.
    """

    depth_units: Decimal
    permanent_impact: Decimal = ZERO

    def __post_init__(self) -> None:
        positive(self.depth_units, "depth_units")
        _check_impact(self.permanent_impact)

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        direction = _direction(side)
        filled = min(units, self.depth_units) if side is Side.SELL else units
        move = filled / self.depth_units
        return filled, mark * (ONE + direction * move / 2), mark * (ONE + direction * move)

    def fractions(self, side: Side, units: F64) -> Fractions:
        depth = float(self.depth_units)
        filled = np.minimum(units, depth) if side is Side.SELL else units
        move = _sign(side) * filled / depth
        return _fractions(self, units, filled, 1.0 + move / 2.0, 1.0 + move)

    def _scaled(self, factor: Decimal) -> "LinearImpact":
        return replace(self, depth_units=self.depth_units * factor)

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        """The last unit at mark x (1 -/+ n / D) reaches the edge at n = D x offset."""
        return self.depth_units * offset


@dataclass(frozen=True)
class SquareRootImpact(LiquidityModel):
    """The square-root law: an order of ``n`` units moves its average price by the fraction
    I(n) = coefficient x sqrt(n / depth_units) of the mark.

    Average price mark x (1 -/+ I(n)); the last unit trades at the marginal price
    mark x (1 -/+ 1.5 I(n)), since d(n I(n))/dn = 1.5 I(n). A sell fills up to the size where that
    marginal price reaches zero, n* = 4 depth_units / (9 coefficient^2) (where I = 2/3): every unit
    before it trades at a positive price, the last at zero, the average at a third of the mark. A buy
    always fills in full. ``coefficient`` (> 0) is dimensionless, ``depth_units`` (> 0) in underlying.
    """

    coefficient: Decimal
    depth_units: Decimal
    permanent_impact: Decimal = ZERO

    def __post_init__(self) -> None:
        positive(self.coefficient, "coefficient")
        positive(self.depth_units, "depth_units")
        _check_impact(self.permanent_impact)

    def _impact(self, units: Decimal) -> Decimal:
        return self.coefficient * (units / self.depth_units).sqrt()

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        direction = _direction(side)
        cap = 4 * self.depth_units / (9 * self.coefficient * self.coefficient)
        if side is Side.SELL and units >= cap:
            return cap, mark * (ONE - self._impact(cap)), ZERO
        impact = self._impact(units)
        # a sell within the last rounding step of the cap could compute 1.5 I a hair above 1
        worst = max(ZERO, mark * (ONE + direction * 3 * impact / 2))
        return units, mark * (ONE + direction * impact), worst

    def fractions(self, side: Side, units: F64) -> Fractions:
        c, depth = float(self.coefficient), float(self.depth_units)
        filled = np.minimum(units, 4.0 * depth / (9.0 * c * c)) if side is Side.SELL else units
        impact = _sign(side) * c * np.sqrt(filled / depth)
        capped = filled < units
        worst = np.where(capped, 0.0, np.maximum(0.0, 1.0 + 1.5 * impact))
        return _fractions(self, units, filled, 1.0 + impact, worst)

    def _scaled(self, factor: Decimal) -> "SquareRootImpact":
        return replace(self, depth_units=self.depth_units * factor)

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        """The last unit at mark x (1 -/+ 1.5 c sqrt(n / D)) reaches the edge at n = D x (2 offset / (3 c))^2."""
        return self.depth_units * (2 * offset / (3 * self.coefficient)) ** 2


def scaled_depth(model: LiquidityModel, factor: Decimal) -> LiquidityModel:
    """``model`` with its depth multiplied by ``factor`` (> 0; 0.1 leaves a tenth of the units at each level,
    prices at each level unchanged; a pool's reserves or liquidity a tenth as large); a fill at the mark has no
    depth to scale."""
    positive(factor, "depth")
    if factor == ONE:
        return model
    with exact():
        return model._scaled(factor)


def document_number(value: object, where: str) -> Decimal:
    """A document number (int, str, Decimal; a float through its shortest repr) as a Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InputError(where, f"must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        with exact():
            return Decimal(str(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise InputError(where, f"must be a number, got {value!r}") from None
