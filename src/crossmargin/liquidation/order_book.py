"""A two-sided order book: its own bids and asks, rebased to the current mark.

A real book is not symmetric: the spread sits where it sits, and the bid side of a thin market holds other
sizes at other distances than its ask side. :class:`OrderBook` keeps both sides as levels ``(offset, units)``
measured from the book's reference price (by default the mid of the best bid and the best ask when the book
was taken) and quotes them against the mark of the moment: a liquidation selling a long walks the bids at
mark x (1 - offset), one buying back a short walks the asks at mark x (1 + offset). The book keeps its shape
as the mark moves (it is rebased, not replayed).

Units: offsets are fractions of the reference (of the mark when quoting), sizes units of the underlying,
prices quote currency per unit.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.liquidation.liquidity import LiquidityModel, Side, book_levels, levels_within, walk_levels
from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, ZERO, exact, finite, positive, within

Levels = tuple[tuple[Decimal, Decimal], ...]


def _check_side(levels: object, name: str) -> None:
    """Levels ``(offset, units)``: offsets 0 <= offset < 1 strictly increasing, units > 0."""
    if not isinstance(levels, tuple):
        raise InputError(name, f"must be a tuple of (offset, units) pairs, got {levels!r}")
    previous: Decimal | None = None
    for i, level in enumerate(levels):
        where = f"{name}[{i}]"
        if not isinstance(level, tuple) or len(level) != 2:
            raise InputError(where, f"must be an (offset, units) pair, got {level!r}")
        offset, units = level
        if not ZERO <= finite(offset, f"{where}.offset") < ONE:
            raise InputError(f"{where}.offset", f"must be at least 0 and below 1, got {offset}")
        if previous is not None and offset <= previous:
            raise InputError(f"{where}.offset", f"must be above the offset before it, {previous}; got {offset}")
        positive(units, f"{where}.units")
        previous = offset


@dataclass(frozen=True)
class OrderBook(LiquidityModel):
    """Bids and asks as levels ``(offset, units)`` from a reference price, quoted from the mark.

    ``bids``: a sell fills ``units`` (> 0, underlying) at mark x (1 - offset); ``asks``: a buy fills at mark
    x (1 + offset). On each side offsets are fractions (0 <= offset < 1), strictly increasing, best first;
    either side may be empty (an order on it fills nothing), not both. An order walks its side level by
    level; past the last level nothing more fills (``filled < requested``). ``permanent_impact`` as for
    :class:`~crossmargin.liquidation.liquidity.DepthLevels` (default 0: the book refills after each fill).
    """

    bids: Levels
    asks: Levels
    permanent_impact: Decimal = ZERO

    def __post_init__(self) -> None:
        _check_side(self.bids, "bids")
        _check_side(self.asks, "asks")
        if not self.bids and not self.asks:
            raise InputError("bids", "a book needs at least one level on one side")
        within(self.permanent_impact, ZERO, ONE, "permanent_impact")

    @classmethod
    def from_snapshot(
        cls,
        bids: Sequence[tuple[Decimal, Decimal]],
        asks: Sequence[tuple[Decimal, Decimal]],
        reference: Decimal | None = None,
        permanent_impact: Decimal = ZERO,
    ) -> "OrderBook":
        """The book of a snapshot: ``bids`` and ``asks`` as ``(price, units)`` rows, best first (bids falling,
        asks rising). Offsets are taken from ``reference`` (default: the mid, (best bid + best ask) / 2; the
        best price of the one side given when the other is empty), so bids must be at or below it and asks at
        or above it and below twice it. Rows at the same price merge. Offsets are quotients, exact to 50
        significant digits."""
        if not bids and not asks:
            raise InputError("bids", "the snapshot has no rows on either side")
        with exact():
            if reference is not None:
                mid = positive(reference, "reference")
            elif bids and asks:
                best_bid, best_ask = positive(bids[0][0], "bids[0].price"), positive(asks[0][0], "asks[0].price")
                if best_bid > best_ask:
                    raise InputError("bids[0].price", f"{best_bid} is above the best ask {best_ask}: a crossed book")
                mid = (best_bid + best_ask) / 2
            else:
                mid = positive(bids[0][0], "bids[0].price") if bids else positive(asks[0][0], "asks[0].price")
            bid_levels = book_levels(bids, mid, Side.SELL, "bids", "reference price")
            return cls(bid_levels, book_levels(asks, mid, Side.BUY, "asks", "reference price"), permanent_impact)

    def _side(self, side: Side) -> Levels:
        return self.bids if side is Side.SELL else self.asks

    def _fill(self, side: Side, units: Decimal, mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        return walk_levels(self._side(side), side, units, mark)

    def _scaled(self, factor: Decimal) -> "OrderBook":
        return replace(
            self,
            bids=tuple((offset, units * factor) for offset, units in self.bids),
            asks=tuple((offset, units * factor) for offset, units in self.asks),
        )

    def _units_within(self, side: Side, mark: Decimal, offset: Decimal) -> Decimal:
        """Every level of ``side``'s half at an offset up to ``offset``."""
        return levels_within(self._side(side), offset)
