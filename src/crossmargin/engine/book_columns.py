"""The risk book's exact columns: every position's size and entry price and every balance again as a scaled
integer (a mantissa and a decimal exponent: :func:`~crossmargin.engine.exact_tables.held`; a balance's mantissa
of up to 38 digits in two words, :func:`~crossmargin.engine.exact_tables.held_wide`), kept beside the float
mirror by the same events once the book has made them (:meth:`~crossmargin.engine.book.RiskBook.exact_columns`),
so that the compiled exact path (:mod:`crossmargin.engine.book_exact`) reads the book's arrays instead of
converting ``Decimal`` objects on every evaluation. A size or price of more than 18 digits, or a balance of more
than 38, is marked :data:`~crossmargin.engine.exact_tables.NOT_HELD` in its exponent (its pool then goes to the
``Decimal`` evaluator).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from crossmargin.engine.exact_tables import MarketTables, held, held_wide
from crossmargin.engine.wide_integers import words
from crossmargin.model import Market, Position


class ExactSlots(NamedTuple):
    """Per position slot (the float mirror's slots): size (contracts) and entry price, ``m x 10**e``."""

    size: np.ndarray
    size_e: np.ndarray
    entry: np.ndarray
    entry_e: np.ndarray

    @classmethod
    def empty(cls, slots: int) -> "ExactSlots":
        """``slots`` empty slots (size 0)."""
        return cls(*(np.zeros(slots, dtype=dtype) for dtype in (np.int64, np.int8, np.int64, np.int8)))

    def set(self, j: int, position: Position) -> None:
        """Slot ``j`` holds ``position``."""
        self.size[j], self.size_e[j] = held(position.size)
        self.entry[j], self.entry_e[j] = held(position.entry_price)

    def move(self, j: int, source: "ExactSlots", k: int) -> None:
        """Slot ``j`` takes ``source``'s slot ``k``."""
        for mine, theirs in zip(self, source, strict=True):
            mine[j] = theirs[k]


class ExactBalances(NamedTuple):
    """Per asset and pool (the float mirror's ``balance``): the amount (asset units), ``m x 10**e`` with ``m`` of
    up to 38 digits in two words (``amount_hi``, ``amount_lo``: :mod:`crossmargin.engine.wide_integers`), as a
    ledger balance posted to at 1E-18 needs."""

    amount_hi: np.ndarray
    amount_lo: np.ndarray
    amount_e: np.ndarray

    @classmethod
    def empty(cls, assets: int, pools: int) -> "ExactBalances":
        """No balances for ``pools`` pools of ``assets`` assets."""
        shape = (assets, pools)
        return cls(np.zeros(shape, dtype=np.uint64), np.zeros(shape, dtype=np.uint64), np.zeros(shape, dtype=np.int8))

    def grown(self, pools: int) -> "ExactBalances":
        """The same balances with room for ``pools`` more pools (empty)."""
        more = ExactBalances.empty(self.amount_hi.shape[0], pools)
        return ExactBalances(*(np.concatenate([a, b], axis=1) for a, b in zip(self, more, strict=True)))

    def set(self, asset: int, pool: int, amount: Decimal) -> None:
        """Pool ``pool`` holds ``amount`` of ``asset``."""
        mantissa, self.amount_e[asset, pool] = held_wide(amount)
        self.amount_hi[asset, pool], self.amount_lo[asset, pool] = words(mantissa)


@dataclass
class ExactColumns:
    """A book's exact slots and balances (each replaced when the book's layout grows), and the market tables of
    the last market they were read at (``market``: that market and its tables, None where the rulebook's
    threshold is not held), kept until the book's market is replaced."""

    slots: ExactSlots
    balances: ExactBalances
    market: tuple[Market, MarketTables | None] | None = None

    @classmethod
    def empty(cls, slots: int, assets: int, pools: int) -> "ExactColumns":
        """Empty columns for ``slots`` slots and ``pools`` pools of ``assets`` assets."""
        return cls(ExactSlots.empty(slots), ExactBalances.empty(assets, pools))
