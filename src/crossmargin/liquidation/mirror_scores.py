"""Upper bounds of every position's ADL score from the risk book's float mirror, so a deleveraging
queue can be ordered without scoring every holder exactly.

:class:`~crossmargin.liquidation.ranking.AdlQueues` takes the holders of an (instrument, side) in
decreasing order of these bounds and scores one exactly only when it could be next: a holder whose
exact score is above every bound not yet looked at is next, whatever the float figures say. The order
produced is exactly the exact ranking's; the bounds only decide how few holders are scored exactly.

A bound is the ranking's formula (:mod:`~crossmargin.liquidation.ranking`) evaluated on float intervals:
each position's PnL, notional and entry notional, and each pool's net value (balances at full price plus
its positions' PnL, base currency), widened by :data:`SLACK` times the gross amounts they are sums of.
The mirror holds every size, entry price, balance, mark and price as the nearest float to the exact
value, so these sums are within a few units of 1e-16 of the gross amounts: the slack is four orders of
magnitude wider. A pool whose net value interval contains zero gets an infinite bound (always scored
exactly).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin.engine.book import PoolOwner, RiskBook
from crossmargin.engine.rule_arrays import B1, F64, I32, I64

SLACK = 1e-12
_LAST = -9.99e29  # above the exact rankings' -1E30 for a pool with no positive net value (ranked last)


@dataclass(frozen=True)
class PinnedScores:
    """The bounds of every slot of a risk book at one moment, with the layout they were taken in."""

    instruments: tuple[str, ...]  # the book's instrument blocks, in order
    bound: F64  # per slot: an upper bound of the exact score (inf: unknown)
    pool: I32  # per slot: its pool (-1: empty slot)
    long: B1  # per slot: a long position
    block_start: I64
    block_used: I64
    owners: Sequence[PoolOwner]  # per pool (the book's own list: pools are only ever appended)

    def ordered(self, instrument: str, long: bool) -> tuple[F64, I32]:
        """The instrument's ``long`` (or short) holders' bounds in decreasing order, with their pools
        (``owners[pool].account``: whose)."""
        block = self.instruments.index(instrument)
        start = int(self.block_start[block])
        stop = start + int(self.block_used[block])
        side = np.flatnonzero(self.long[start:stop] == long) + start
        order = side[np.argsort(-self.bound[side], kind="stable")]
        return self.bound[order], self.pool[order]


def pinned_scores(book: RiskBook, ranking: str) -> PinnedScores:
    """Every slot's bound under ``ranking`` at the book's current marks and prices (see module doc);
    ``random`` is ranked from account ids alone and has no bounds."""
    t = book.instruments
    count = book.pool_count
    size, entry, pool = book.size, book.entry, book.pool
    held = pool >= 0
    i = book.instrument
    contract = t.contract_size[i]
    inverse = t.inverse[i]
    settle_price = book.prices[t.settle[i]]
    mark = book.marks[i]
    units = np.abs(size) * contract
    notional = np.where(inverse, units / mark, units * mark) * settle_price
    entry_notional = np.where(inverse, units / entry, units * entry) * settle_price
    pnl = np.where(inverse, size * contract * (1.0 / entry - 1.0 / mark), size * contract * (mark - entry))
    pnl *= settle_price
    owner = pool[held]
    balances = book.balance[:, :count] * book.prices[:, None]
    net = np.bincount(owner, weights=pnl[held], minlength=count) + balances.sum(axis=0)
    gross = np.bincount(owner, weights=(notional + entry_notional)[held], minlength=count).astype(np.float64)
    gross += np.abs(balances).sum(axis=0)
    slot_net = np.where(held, net[np.maximum(pool, 0)], 0.0)
    slot_error = np.where(held, gross[np.maximum(pool, 0)], 0.0) * SLACK
    low, high = slot_net - slot_error, slot_net + slot_error
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bound = _bound(ranking, size, mark, entry, pnl, notional, entry_notional, low)
        bound = bound + SLACK * np.abs(bound)
    if ranking != "pro_rata_base_size":
        bound = np.where(low > 0.0, bound, np.where(high <= 0.0, _LAST, np.inf))
    bound = np.where(held, bound, -np.inf)
    return PinnedScores(
        instruments=t.names,
        bound=bound,
        pool=pool.copy(),
        long=size > 0.0,
        block_start=book.block_start.copy(),
        block_used=book.block_used.copy(),
        owners=book.owners,
    )


def _bound(
    ranking: str, size: F64, mark: F64, entry: F64, pnl: F64, notional: F64, entry_notional: F64, net_low: F64
) -> F64:
    """The ranking's formula at the corner of the intervals that maximises it (net value positive)."""
    wide, narrow = 1.0 + SLACK, 1.0 - SLACK
    if ranking == "pro_rata_base_size":
        return np.abs(size) * wide
    if ranking == "mark_over_entry_x_notional_over_account_value":
        move = np.where(size > 0.0, mark / entry, entry / mark)
        return move * wide * notional * wide / net_low
    if ranking not in ("profit_x_leverage", "leverage_pnl"):
        raise ValueError(f"no float bound for ranking {ranking!r}")
    pnl_high = pnl + SLACK * (notional + entry_notional)
    profit = pnl_high * notional * wide / (entry_notional * narrow * net_low)
    loss = pnl_high * net_low / (entry_notional * wide * notional * wide)
    return np.where(pnl_high >= 0.0, profit, loss)
