"""Which positions a cascade's marks have reached the liquidation price of: the book's liquidation prices
sorted once and swept, and the prices the forecast works again as pools change (:mod:`crossmargin.sim.forecast`).

:class:`Crossings` sorts every priced position's liquidation price once, per instrument (the book's
:class:`~crossmargin.engine.liquidation_prices.LiquidationPrices`, by slot). A :class:`Sweep` follows one
move: per instrument, the prices at or below the book's mark are taken from the mark down as the lowest
mark reached falls, those above it from the mark up as the highest mark reached rises; a position is
*crossed* once its price is reached (a price exactly at the mark reached counts). Two binary searches per
instrument and sweep, whatever the book's size.

Where the forecast works a pool's prices again (after a partial liquidation, or once a shock has moved the
pool's other positions: :meth:`Sweep.restate`), the sorted prices of its positions are set aside and the
new ones kept apart, each on the side of the mark it was found on, crossed when the instrument's mark is at
or beyond it. Prices in mark units.
"""

import numpy as np
from numba import njit

from crossmargin.engine.liquidation_prices import LiquidationPrices, Outcome
from crossmargin.engine.rule_arrays import B1, F64, I64


class Crossings:
    """Every priced position's liquidation price, sorted once per instrument (module doc): ``slots`` and
    ``price`` in instrument order, each instrument's prices ascending in ``[start[i], end[i])``, its prices
    above the book's mark from ``split[i]``."""

    def __init__(self, prices: LiquidationPrices, marks: F64) -> None:
        held = np.flatnonzero((prices.outcome == Outcome.PRICED) & (prices.pool >= 0))
        instrument = prices.instrument[held].astype(np.int64)
        order = np.lexsort((prices.price[held], instrument))
        self.slots: I64 = held[order]
        self.price: F64 = prices.price[self.slots]
        by_instrument = instrument[order]
        every = np.arange(len(marks))
        self.start: I64 = np.searchsorted(by_instrument, every, side="left")
        self.end: I64 = np.searchsorted(by_instrument, every, side="right")
        self.split: I64 = np.array(
            [s + np.searchsorted(self.price[s:e], marks[i], side="right")
             for i, (s, e) in enumerate(zip(self.start.tolist(), self.end.tolist(), strict=True))],
            dtype=np.int64,
        )  # fmt: skip
        self.slot_count = len(prices.price)


class Sweep:
    """One move's sweep of the :class:`Crossings` (module doc): what is crossed so far, the positions whose
    sorted price is set aside, and the prices worked again (the first ``held`` entries of ``slot``, ``price``,
    ``instrument`` and ``below``: buffers that grow by doubling and are compacted in place, so a round costs one
    pass over the prices worked again, not copies of them)."""

    def __init__(self, crossings: Crossings) -> None:
        self.crossings = crossings
        self.down: I64 = crossings.split.copy()
        self.up: I64 = crossings.split.copy()
        self.set_aside: B1 = np.zeros(crossings.slot_count, dtype=np.bool_)
        self.restating: B1 = np.zeros(crossings.slot_count, dtype=np.bool_)
        self.held = 0
        self.slot: I64 = np.zeros(0, dtype=np.int64)
        self.price: F64 = np.zeros(0)
        self.instrument: I64 = np.zeros(0, dtype=np.int64)
        self.below: B1 = np.zeros(0, dtype=np.bool_)

    def crossed(self, low: F64, high: F64, marks: F64) -> I64:
        """The slots newly crossed now that each instrument's mark has reached ``low`` and ``high`` (the lowest
        and highest marks so far) and stands at ``marks``; each is reported once."""
        c = self.crossings
        found = []
        for i in range(len(low)):
            s, m, e = int(c.start[i]), int(c.split[i]), int(c.end[i])
            reach = s + int(np.searchsorted(c.price[s:m], low[i], side="left"))
            if reach < self.down[i]:
                found.append(c.slots[reach : self.down[i]])
                self.down[i] = reach
            reach = m + int(np.searchsorted(c.price[m:e], high[i], side="right"))
            if reach > self.up[i]:
                found.append(c.slots[self.up[i] : reach])
                self.up[i] = reach
        swept = np.concatenate([np.zeros(0, dtype=np.int64), *found])
        swept = swept[~self.set_aside[swept]]
        hits = np.empty(self.held, dtype=np.int64)
        found_hits, self.held = _take_hits(self.held, self.slot, self.price, self.instrument, self.below, marks, hits)
        return np.concatenate([swept, hits[:found_hits]])

    def restate(self, slots: I64, price: F64, instrument: I64, marks: F64) -> None:
        """New liquidation prices for ``slots`` (every open position of the pools worked again; NaN: none),
        found at ``marks``: they replace the sorted prices and any earlier restatement of those slots."""
        self.set_aside[slots] = True
        self.restating[slots] = True
        self.held = _drop(self.held, self.slot, self.price, self.instrument, self.below, self.restating)
        self.restating[slots] = False
        priced = ~np.isnan(price)
        k = int(priced.sum())
        if self.held + k > len(self.slot):
            self._grow(self.held + k)
        end = self.held + k
        self.slot[self.held : end] = slots[priced]
        self.price[self.held : end] = price[priced]
        self.instrument[self.held : end] = instrument[priced]
        self.below[self.held : end] = price[priced] <= marks[instrument[priced]]
        self.held = end

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * len(self.slot))
        for name in ("slot", "price", "instrument", "below"):
            old = getattr(self, name)
            new = np.empty(size, dtype=old.dtype)
            new[: self.held] = old[: self.held]
            setattr(self, name, new)


@njit(cache=True)
def _take_hits(held: int, slot: I64, price: F64, instrument: I64, below: B1, marks: F64, hits: I64) -> tuple[int, int]:
    """The first ``held`` prices worked again that ``marks`` has reached (at or beyond) written to ``hits``, the
    rest compacted in place, in order; (hits written, prices left)."""
    n_hits = kept = 0
    for k in range(held):
        mark = marks[instrument[k]]
        if mark <= price[k] if below[k] else mark >= price[k]:
            hits[n_hits] = slot[k]
            n_hits += 1
        else:
            slot[kept], price[kept], instrument[kept], below[kept] = slot[k], price[k], instrument[k], below[k]
            kept += 1
    return n_hits, kept


@njit(cache=True)
def _drop(held: int, slot: I64, price: F64, instrument: I64, below: B1, dropped: B1) -> int:
    """The first ``held`` prices worked again less those of the slots ``dropped`` marks, compacted in place, in
    order; how many are left."""
    kept = 0
    for k in range(held):
        if not dropped[slot[k]]:
            slot[kept], price[kept], instrument[kept], below[kept] = slot[k], price[k], instrument[k], below[k]
            kept += 1
    return kept
