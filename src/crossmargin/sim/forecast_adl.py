"""Auto-deleveraging in a forecast: who takes a bankrupt position, and what taking it does to them
(:mod:`crossmargin.sim.forecast`).

When the insurance fund cannot pay a bankrupt pool's shortfall under ``shortfall: adl``, the liquidation
engine closes each of its positions at the pool's bankruptcy price against the opposite positions in ranking
order (:mod:`crossmargin.liquidation.ranking`): each taker's position is reduced by what it takes, at that
price, and the difference to the mark is its loss. A taker so weakened (its hedge gone, its equity down) can
be liquidated in turn: on a large book these second liquidations are as many as the first.

The queues (:func:`queues`): every open position ranked once a move, as the engine pins its ranking at the
start of an event (after its prices, before its first liquidation), by the rulebook's ``adl_ranking`` on
float figures at the shocked marks and prices (:func:`scores`): ``profit_x_leverage`` and ``leverage_pnl``
(PnL over entry notional, times the leverage of the position's pool (notional over the pool's net value) in
profit, divided by it at a loss), Hyperliquid's ``mark_over_entry_x_notional_over_account_value``, Drift's
``pro_rata_base_size``; a pool with no positive net value last; ties by account id. ``random`` (dYdX) hashes
the engine's event count, which a forecast does not have: its queue is by account id. Sizes are the current
ones as the queue is walked (:func:`deleverage`), as the engine's are. The engine pins the market its queues
are ranked at, not the scores: an account changed since the pin is scored again there, with what it holds
now. So here: a taker left with part of its position is scored again at the pinned marks with its size and
its pool's net value after the take, and takes its turn by that score. Ranked once, the head of a queue
would be taken whole, bankruptcy after bankruptcy, where the engine's queue moves on to the next taker (at
100,000 generated accounts and -25 %, ETH-PERP's deleveraging reached 1,485 takers against the runner's
2,603; scored again, 2,502). A taker's other positions, and the pools liquidated meanwhile, keep their
scores from the pin (the engine scores them again too).

Money in base currency, sizes in contracts (positive long), prices in mark units.
"""

import itertools
from typing import NamedTuple

import numpy as np
from numba import njit

from crossmargin.engine import terms
from crossmargin.engine.rule_arrays import B1, F64, I64, InstrumentArrays
from crossmargin.sim.forecast_pools import summed, unrealized_pnl

LAST = -1e30
"""The score of a position whose pool has no positive net value: ranked last, as the engine ranks it."""


def scores(ranking: str, size: F64, entry: F64, instrument: I64, pool: I64, balance: F64, t: InstrumentArrays,
           marks: F64, prices: F64) -> F64:  # fmt: skip
    """Each position's ADL score under ``ranking`` (module doc) at ``marks`` and ``prices``: ``size``,
    ``entry``, ``instrument`` and ``pool`` per position (open ones: size not 0), ``balance`` per asset and
    pool (asset units)."""
    c, inverse, mark = t.contract_size[instrument], t.inverse[instrument], marks[instrument]
    settle = prices[t.settle[instrument]]
    units = np.abs(size) * c
    notional = np.where(inverse, units / mark, units * mark) * settle
    entry_notional = np.where(inverse, units / entry, units * entry) * settle
    pnl = unrealized_pnl(size, c, entry, mark, inverse) * settle
    net = (balance.T @ prices + summed(pool, pnl, balance.shape[1]))[pool]
    if ranking == "pro_rata_base_size":
        return np.abs(size)
    if ranking == "random":
        return np.zeros(len(size))
    with np.errstate(divide="ignore", invalid="ignore"):
        if ranking == "mark_over_entry_x_notional_over_account_value":
            found = np.where(size > 0.0, mark / entry, entry / mark) * notional / net
        elif ranking in ("profit_x_leverage", "leverage_pnl"):
            ratio, leverage = pnl / entry_notional, notional / net
            found = np.where(ratio >= 0.0, ratio * leverage, ratio / leverage)
        else:
            raise ValueError(f"no ADL ranking {ranking!r}")
    return np.where(net > 0.0, found, LAST)


RESCORED = {"profit_x_leverage": 1, "leverage_pnl": 1, "mark_over_entry_x_notional_over_account_value": 2,
            "pro_rata_base_size": 3}  # fmt: skip
"""The rankings a take re-scores the taker under, by code (``random`` hashes the account alone: not re-scored)."""


class Queues(NamedTuple):
    """Every (instrument, side)'s takers in ranking order: ``slot`` (positions) with their pinned ``score``, the
    segment of instrument ``i``'s longs ``start[2 i + 1]:start[2 i + 2]``, of its shorts
    ``start[2 i]:start[2 i + 1]``, and each segment's ``head`` (the first position not yet used up; moved as the
    queue is walked). A taker left with part of its position is scored again at the pinned ``marks`` with what it
    holds and its pool's ``net`` value there now (base currency, per pool, kept as takes move it), under the
    ranking's code (``ranking``: :data:`RESCORED`, 0: never), as the engine scores again every account changed
    since its pin: its place in the sorted order is then ``stale`` and it waits in its segment's heap (entries
    ``heap_*``, segment ``s``'s in ``2 start[s]:2 start[s + 1]``, ``heap_size[s]`` of them; an entry counts while
    its version is the slot's ``version``)."""

    slot: I64
    start: I64
    head: I64
    score: F64
    ranking: int
    marks: F64
    net: F64
    stale: B1
    version: I64
    heap_score: F64
    heap_rank: I64
    heap_slot: I64
    heap_version: I64
    heap_size: I64


def by_account(held: I64, instrument: I64, long: B1, rank: I64) -> I64:
    """The positions ``held`` (slots) in queue segment order (by instrument, shorts first) and, within a
    segment, by their accounts' ``rank`` (per slot): what every move's :func:`queues` starts from, sorted
    once a book (:func:`crossmargin.sim.forecast.prepare`)."""
    return held[np.lexsort((rank[held], 2 * instrument[held] + long[held].astype(np.int64)))]


def queues(
    score: F64, instrument: I64, long: B1, rank: I64, count: int, ranking: str = "random", marks: F64 | None = None,
    net: F64 | None = None, ordered: I64 | None = None,
) -> Queues:  # fmt: skip
    """The queues of the positions ``score``d (their ``instrument``, ``long``, and their accounts' ``rank`` by
    id, ties broken by it; a score of -inf: no position, left out), ``count`` instruments; a taker left with
    part of its position is scored again under ``ranking`` at the pinned ``marks`` with its pool's ``net`` value
    there (per pool, base currency; copied). ``ordered``: the positions scored, in :func:`by_account`'s order,
    if known: each segment is then sorted by score alone (a stable sort keeps the accounts' order among equal
    scores), a fifth of the time of the three keys at a million accounts."""
    held = np.flatnonzero(score > -np.inf)
    if ordered is not None and len(ordered) == len(held):
        segment = 2 * instrument[ordered] + long[ordered].astype(np.int64)
        start = np.searchsorted(segment, np.arange(2 * count + 1)).astype(np.int64)
        key = -score[ordered]
        slot = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [ordered[a:b][np.argsort(key[a:b], kind="stable")] for a, b in itertools.pairwise(start.tolist())]
        )
    else:
        segment = 2 * instrument[held] + long[held].astype(np.int64)
        ranked = np.lexsort((rank[held], -score[held], segment))
        slot = held[ranked]
        start = np.searchsorted(segment[ranked], np.arange(2 * count + 1)).astype(np.int64)
    n, capacity = len(score), 2 * len(held)  # segment s's heap: entries 2 start[s] to 2 start[s + 1]
    return Queues(
        slot, start, start[:-1].copy(), score[slot].astype(np.float64), RESCORED.get(ranking, 0),
        np.zeros(count) if marks is None else marks.copy(), np.zeros(0) if net is None else net.copy(),
        np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int64), np.zeros(capacity), np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64), np.zeros(capacity, np.int64), np.zeros(2 * count, dtype=np.int64),
    )  # fmt: skip


def no_queues() -> Queues:
    """Empty queues (no instrument): where nobody is deleveraged."""
    return queues(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.bool_), np.zeros(0, np.int64), 0)


class Ledger(NamedTuple):
    """The forecast's own positions and balances as auto-deleveraging changes them: per slot ``size``
    (contracts, positive long), ``entry``, ``instrument`` and ``pool``; per asset and pool ``balance``
    (asset units); per pool ``rank`` (its account's place by id), ``touched`` (a position of it was taken)
    and ``shift`` (what the takes did to its net value, base currency)."""

    size: F64
    entry: F64
    instrument: I64
    pool: I64
    balance: F64
    rank: I64
    touched: B1
    shift: F64


@njit(error_model="numpy")
def _score(ranking: int, size: float, c: float, entry: float, inverse: bool, mark: float, settle: float,
           net: float) -> float:  # fmt: skip
    """One position's score under the ranking of code ``ranking`` (:data:`RESCORED`), as :func:`scores`."""
    if ranking == 3:
        return abs(size)
    if net <= 0.0:
        return LAST
    units = abs(size) * c
    notional = (units / mark if inverse else units * mark) * settle
    if ranking == 2:
        return (mark / entry if size > 0.0 else entry / mark) * notional / net
    ratio = terms.unrealized_pnl(size, c, entry, mark, inverse) / (units / entry if inverse else units * entry)
    leverage = notional / net
    return ratio * leverage if ratio >= 0.0 else ratio / leverage


@njit(error_model="numpy")
def _before(score: float, rank: int, other_score: float, other_rank: int) -> bool:
    return score > other_score or (score == other_score and rank < other_rank)


@njit(error_model="numpy")
def _sift_down(q: Queues, base: int, size: int, k: int) -> None:
    while True:
        best, left, right = k, 2 * k + 1, 2 * k + 2
        for child in (left, right):
            if child < size and _before(q.heap_score[base + child], q.heap_rank[base + child],
                                        q.heap_score[base + best], q.heap_rank[base + best]):  # fmt: skip
                best = child
        if best == k:
            return
        _swap(q, base + k, base + best)
        k = best


@njit(error_model="numpy")
def _swap(q: Queues, a: int, b: int) -> None:
    for array in (q.heap_rank, q.heap_slot, q.heap_version):
        array[a], array[b] = array[b], array[a]
    q.heap_score[a], q.heap_score[b] = q.heap_score[b], q.heap_score[a]


@njit(error_model="numpy")
def _pop(q: Queues, segment: int) -> None:
    base, size = 2 * q.start[segment], q.heap_size[segment] - 1
    _swap(q, base, base + size)
    q.heap_size[segment] = size
    _sift_down(q, base, size, 0)


@njit(error_model="numpy")
def _push(q: Queues, segment: int, score: float, rank: int, slot: int) -> None:
    base, capacity = 2 * q.start[segment], 2 * (q.start[segment + 1] - q.start[segment])
    if q.heap_size[segment] == capacity:  # only stale entries beyond one a slot: keep the live ones
        kept = 0
        for k in range(capacity):
            if q.heap_version[base + k] == q.version[q.heap_slot[base + k]]:
                _swap(q, base + kept, base + k)
                kept += 1
        q.heap_size[segment] = kept
        for k in range(kept // 2 - 1, -1, -1):
            _sift_down(q, base, kept, k)
    k = q.heap_size[segment]
    q.heap_size[segment] = k + 1
    q.heap_score[base + k], q.heap_rank[base + k], q.heap_slot[base + k] = score, rank, slot
    q.heap_version[base + k] = q.version[slot]
    while k > 0:
        parent = (k - 1) // 2
        if not _before(q.heap_score[base + k], q.heap_rank[base + k], q.heap_score[base + parent],
                       q.heap_rank[base + parent]):  # fmt: skip
            return
        _swap(q, base + k, base + parent)
        k = parent


@njit(error_model="numpy")
def deleverage(
    contracts: float, i: int, long: bool, price: float, bankrupt: int, mark: float, queue: Queues,
    ledger: Ledger, t: InstrumentArrays, prices: F64,
) -> None:  # fmt: skip
    """``contracts`` (> 0) of a bankrupt ``long`` (else short) position in instrument ``i`` taken at ``price``
    by the opposite positions in ``queue`` order, none of the bankrupt account's (``bankrupt``: its rank):
    each taker's position reduced by what it takes, the PnL of that part at ``price`` realized into its
    pool's settle balance, its pool's net value moved by that part's PnL at ``price`` less at ``mark``; a taker
    left with part of its position is scored again (:class:`Queues`)."""
    segment = 2 * i + (0 if long else 1)
    k, end, slot = queue.head[segment], queue.start[segment + 1], queue.slot
    base = 2 * queue.start[segment]
    c, inverse, a = t.contract_size[i], t.inverse[i], t.settle[i]
    pinned, net = (queue.marks[i] if queue.ranking else mark), queue.net
    aside, aside_score = np.empty(0, dtype=np.int64), np.empty(0)  # the bankrupt's own heap entries, put back
    left = contracts
    while left > 0.0:
        while k < end:  # the next live position of the sorted order
            j = queue.slot[k]
            if ledger.size[j] == 0.0 or queue.stale[j]:
                if k == queue.head[segment]:
                    queue.head[segment] = k + 1
                k += 1
            elif ledger.rank[ledger.pool[j]] == bankrupt:
                k += 1
            else:
                break
        while queue.heap_size[segment] > 0:  # the best live re-scored one
            j = queue.heap_slot[base]
            if queue.heap_version[base] != queue.version[j] or ledger.size[j] == 0.0:
                _pop(queue, segment)
            elif ledger.rank[ledger.pool[j]] == bankrupt:
                aside, aside_score = np.append(aside, j), np.append(aside_score, queue.heap_score[base])
                _pop(queue, segment)
            else:
                break
        from_heap = queue.heap_size[segment] > 0 and (
            k >= end
            or _before(queue.heap_score[base], queue.heap_rank[base], queue.score[k], ledger.rank[ledger.pool[slot[k]]])
        )
        if from_heap:
            j = queue.heap_slot[base]
            _pop(queue, segment)
        elif k < end:
            j = queue.slot[k]
            k += 1
        else:
            break
        held = ledger.size[j]
        p = ledger.pool[j]
        part = min(left, abs(held)) * (1.0 if held > 0.0 else -1.0)
        realized = terms.unrealized_pnl(part, c, ledger.entry[j], price, inverse)
        ledger.balance[a, p] += realized
        ledger.shift[p] += (realized - terms.unrealized_pnl(part, c, ledger.entry[j], mark, inverse)) * prices[a]
        ledger.size[j] = held - part
        ledger.touched[p] = True
        left -= abs(part)
        if queue.ranking:
            net[p] += (realized - terms.unrealized_pnl(part, c, ledger.entry[j], pinned, inverse)) * prices[a]
            queue.version[j] += 1
            queue.stale[j] = True
            if ledger.size[j] != 0.0:
                rescored = _score(queue.ranking, ledger.size[j], c, ledger.entry[j], inverse, pinned, prices[a], net[p])
                _push(queue, segment, rescored, ledger.rank[p], j)
    for n in range(len(aside)):
        _push(queue, segment, aside_score[n], ledger.rank[ledger.pool[aside[n]]], aside[n])
