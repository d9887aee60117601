"""Who is auto-deleveraged first, and who shares a socialized loss.

Candidates are the user accounts (not the market's, not one being liquidated) holding the side opposite
to the bankrupt position in its instrument. Rankings (``LiquidationTerms.adl_ranking``), highest first,
ties broken by account id:

- ``profit_x_leverage`` (OKX, Bybit, the generic rulebook) and ``leverage_pnl`` (Binance), the same
  formula: PnL ratio x effective leverage for a profitable position, PnL ratio / effective leverage for a
  losing one; PnL ratio = unrealized PnL / entry notional, effective leverage = position notional at the
  mark / the net value of the position's pool (a pool with no positive net value is ranked last).
- ``mark_over_entry_x_notional_over_account_value`` (Hyperliquid): (mark / entry for a long, entry /
  mark for a short) x notional / net value.
- ``pro_rata_base_size`` (Drift): the largest position first.
- ``random`` (dYdX): a pseudo-random order fixed by the state (hash of the number of events applied
  and the account id), so a replay ranks the same way.

An ADL round ranks the same opposite positions once per bankrupt position. :class:`AdlQueues` keeps each
(instrument, side)'s ranking between events as a heap: ranked afresh when the market moves, and
otherwise re-scored only for the accounts an event changed (``ClearingState.changes``), so a deleveraging
costs a logarithm of the holders, not a pass over them. The order is exactly :func:`adl_order`'s
(``random`` depends on the event count, so it is ranked afresh every time, from the account ids alone).

A socialized loss is shared among the same candidates in proportion to their positive unrealized PnL, or
to their position size when none is in profit; under ``pro_rata_base_size`` (Drift) among every
position in the market, long and short, in proportion to its size.
"""

import hashlib
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

import numpy as np

from crossmargin.clearing.events import MARKET
from crossmargin.clearing.ledger import MONEY_QUANTUM
from crossmargin.clearing.state import ClearingState, Leg
from crossmargin.engine.book import RiskBook
from crossmargin.engine.rule_arrays import F64, I32
from crossmargin.liquidation.mirror_scores import PinnedScores, pinned_scores
from crossmargin.margin.positions import unrealized_pnl
from crossmargin.model import InputError, Market
from crossmargin.model.numbers import ZERO, exact


@dataclass(frozen=True)
class Candidate:
    """An opposite position that may be deleveraged: ``size`` signed contracts, ``pnl`` in base currency."""

    account: str
    long: bool
    size: Decimal
    entry_price: Decimal
    pnl: Decimal
    notional: Decimal
    entry_notional: Decimal
    net_value: Decimal


def candidate(
    state: ClearingState, instrument: str, long: bool, account_id: str, market: Market | None = None
) -> Candidate | None:
    """The account's ``long`` (or short) leg of ``instrument`` as a candidate, valued at ``market`` (default:
    the current one); None if it holds no such leg."""
    leg: Leg | None = state.legs[account_id].get((instrument, long))
    if leg is None:
        return None
    spec = state.instruments[instrument]
    at = state.market if market is None else market
    mark = at.mark(instrument)
    settle_price = at.price(spec.settle)
    with exact():
        pnl = unrealized_pnl(spec, leg.size, leg.entry_price, mark) * settle_price
        units = abs(leg.size) * spec.contract_size
        notional = (units / mark if spec.inverse else units * mark) * settle_price
        entry = (units / leg.entry_price if spec.inverse else units * leg.entry_price) * settle_price
        return Candidate(
            account_id, leg.size > 0, leg.size, leg.entry_price, pnl, notional, entry,
            state.net_value(account_id, state.pool_of(account_id, instrument, leg.size > 0), at),
        )  # fmt: skip


def candidates(state: ClearingState, instrument: str, bankrupt_long: bool, bankrupt: str) -> list[Candidate]:
    """User accounts holding the side of ``instrument`` opposite the bankrupt leg (base-currency figures)."""
    found = []
    for account_id in state.holders(instrument, not bankrupt_long):
        if account_id in (MARKET, bankrupt) or account_id in state.in_liquidation:
            continue
        found.append(candidate(state, instrument, not bankrupt_long, account_id))
    return [c for c in found if c is not None]


def _profit_x_leverage(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    if c.net_value <= 0:
        return Decimal("-1E30")
    ratio = c.pnl / c.entry_notional
    leverage = c.notional / c.net_value
    return ratio * leverage if ratio >= 0 else ratio / leverage


def _hyperliquid(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    if c.net_value <= 0:
        return Decimal("-1E30")
    move = mark / c.entry_price if c.long else c.entry_price / mark
    return move * c.notional / c.net_value


def _size(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    return abs(c.size)


def _random_key(state: ClearingState, account_id: str) -> Decimal:
    digest = hashlib.sha256(f"{len(state.log)}|{account_id}".encode()).hexdigest()
    return Decimal(int(digest[:16], 16))


def _random(c: Candidate, state: ClearingState, mark: Decimal) -> Decimal:
    return _random_key(state, c.account)


RANKINGS: dict[str, Callable[[Candidate, ClearingState, Decimal], Decimal]] = {
    "profit_x_leverage": _profit_x_leverage,
    "leverage_pnl": _profit_x_leverage,
    "mark_over_entry_x_notional_over_account_value": _hyperliquid,
    "pro_rata_base_size": _size,
    "random": _random,
}


def check_ranking(name: str) -> None:
    """Refuse a ranking this module does not define."""
    if name not in RANKINGS:
        raise InputError("liquidation.adl_ranking", f"unknown ranking {name!r} (known: {', '.join(sorted(RANKINGS))})")


def adl_order(
    state: ClearingState, instrument: str, bankrupt_long: bool, bankrupt: str, ranking: str
) -> list[Candidate]:
    """The candidates in deleveraging order (highest score first, ties by account id)."""
    check_ranking(ranking)
    score = RANKINGS[ranking]
    mark = state.market.mark(instrument)
    found = candidates(state, instrument, bankrupt_long, bankrupt)
    with exact():
        keyed = [(score(c, state, mark), c.account, c) for c in found]
    keyed.sort(key=lambda item: (-item[0], item[1]))
    return [c for _, _, c in keyed]


@dataclass
class _Queue:
    """One (instrument, side)'s candidates: a heap of exactly scored ``(-score, account, version,
    candidate)`` (an entry whose version is not the account's latest is stale and skipped), and the holders
    not scored yet, in decreasing order of their float bounds (``cursor``: the next one)."""

    market: Market
    synced: int
    heap: list[tuple[Decimal, str, int, Candidate]] = field(default_factory=list)
    version: dict[str, int] = field(default_factory=dict)
    counter: int = 0
    bounds: F64 = field(default_factory=lambda: np.zeros(0))
    unscored: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32))  # their pools in the mirror
    cursor: int = 0


class AdlQueues:
    """Deleveraging order of every (instrument, side) of one clearing state, kept between events (see the
    module doc).

    By default the order is ranked at the current market, exactly :func:`adl_order`'s. After :meth:`pin`
    it is ranked at the market of that moment until the next pin, the way venues publish an ADL queue
    and refresh it periodically: who is next is decided by the pinned scores, while sizes, positions and
    the fill price stay the current, exact ones.

    With a ``mirror`` (a risk book its caller keeps equal to the state whenever it pins), a pinned queue
    scores a holder exactly only when it could be next: the others wait in the order of upper bounds of
    their scores taken from the mirror at the pin (:mod:`~crossmargin.liquidation.mirror_scores`). The
    order is the same; a deleveraging costs the holders it reaches, not every holder.
    """

    def __init__(self, state: ClearingState, ranking: str, mirror: RiskBook | None = None) -> None:
        check_ranking(ranking)
        self.state = state
        self.ranking = ranking
        self.mirror = mirror
        self.queues: dict[tuple[str, bool], _Queue] = {}
        self.pinned: Market | None = None
        self.scores: PinnedScores | None = None
        self.pinned_at = 0
        self.dirty: set[str] = set()
        self.seen = 0

    def pin(self) -> None:
        """Rank at the current market from now until the next pin (see the class doc)."""
        self.pinned = self.state.market
        self.pinned_at = self.seen = len(self.state.changes)
        self.dirty = set()
        if self.mirror is not None and self.ranking != "random":
            self.scores = pinned_scores(self.mirror, self.ranking)

    def order(self, instrument: str, bankrupt_long: bool, bankrupt: str) -> Iterator[Candidate]:
        """The candidates in :func:`adl_order`'s order, produced as they are taken. The order is fixed when
        the iteration starts: changes the caller makes meanwhile count from the next call."""
        if self.ranking == "random":
            state = self.state
            held = [
                a
                for a in state.holders(instrument, not bankrupt_long)
                if a != bankrupt and a not in state.in_liquidation
            ]
            for account_id in sorted(held, key=lambda a: (-_random_key(state, a), a)):
                found = candidate(state, instrument, not bankrupt_long, account_id)
                if found is not None:
                    yield found
            return
        queue = self._synced(instrument, not bankrupt_long)
        taken: list[tuple[Decimal, str, int, Candidate]] = []
        try:
            while (entry := self._next(queue, instrument, not bankrupt_long)) is not None:
                taken.append(entry)
                account_id, found = entry[1], entry[3]
                if account_id != bankrupt and account_id not in self.state.in_liquidation:
                    yield found
        finally:
            for entry in taken:
                heapq.heappush(queue.heap, entry)

    def _next(self, queue: _Queue, instrument: str, long: bool) -> tuple[Decimal, str, int, Candidate] | None:
        """Pop the queue's best entry, scoring unscored holders until the best scored one beats every bound
        left (None: no candidate left)."""
        while True:
            while queue.heap and queue.version.get(queue.heap[0][1]) != queue.heap[0][2]:
                heapq.heappop(queue.heap)
            following = self._next_unscored(queue)
            if following is None or (queue.heap and -queue.heap[0][0] > following[0]):
                return heapq.heappop(queue.heap) if queue.heap else None
            self._score(queue, instrument, long, following[1])
            queue.cursor += 1

    def _next_unscored(self, queue: _Queue) -> tuple[float, str] | None:
        """The bound and account of the next unscored holder still as it was at the pin (None: none left)."""
        if queue.cursor < len(queue.unscored):
            self._note_changes()
        while queue.cursor < len(queue.unscored):
            assert self.scores is not None
            account_id = self.scores.owners[int(queue.unscored[queue.cursor])].account
            if account_id not in queue.version and account_id not in self.dirty:
                return float(queue.bounds[queue.cursor]), account_id
            queue.cursor += 1
        return None

    def _note_changes(self) -> None:
        """Remember every account changed since the pin (its bound no longer stands)."""
        changes = self.state.changes
        if self.seen < len(changes):
            self.dirty.update(changes[self.seen :])
            self.seen = len(changes)

    def _score(self, queue: _Queue, instrument: str, long: bool, account_id: str) -> None:
        """Score the account's leg exactly at the queue's market (a new version: older entries go stale)."""
        queue.counter += 1
        queue.version[account_id] = queue.counter
        found = candidate(self.state, instrument, long, account_id, queue.market)
        if found is not None:
            with exact():
                key = -RANKINGS[self.ranking](found, self.state, queue.market.mark(instrument))
            heapq.heappush(queue.heap, (key, account_id, queue.counter, found))

    def _synced(self, instrument: str, long: bool) -> _Queue:
        state = self.state
        market = state.market if self.pinned is None else self.pinned
        queue = self.queues.get((instrument, long))
        if queue is None or queue.market is not market:
            if self.scores is not None and market is self.pinned:
                queue = _Queue(market, self.pinned_at)
                queue.bounds, queue.unscored = self.scores.ordered(instrument, long)
            else:
                queue = _Queue(market, len(state.changes))
                for account_id in state.holders(instrument, long):
                    self._score(queue, instrument, long, account_id)
            self.queues[(instrument, long)] = queue
        for account_id in sorted(set(state.changes[queue.synced :]) - {MARKET}):
            if account_id in queue.version or (instrument, long) in state.legs.get(account_id, {}):
                self._score(queue, instrument, long, account_id)
        queue.synced = len(state.changes)
        if len(queue.heap) > 2 * len(queue.version) + 64:
            queue.heap = [e for e in queue.heap if queue.version.get(e[1]) == e[2]]
            heapq.heapify(queue.heap)
        return queue


def loss_shares(found: list[Candidate], amount: Decimal, by_size: bool = False) -> dict[str, Decimal]:
    """``amount`` split over ``found`` by positive PnL (by size with ``by_size``, or when none is in profit),
    each share rounded down to the ledger's quantum and the last taking the rest, so the shares sum to
    ``amount`` exactly. An account listed twice (two legs) pays for both."""
    if not found or amount <= 0:
        return {}
    with exact():
        weights: dict[str, Decimal] = {}
        for c in found:
            weights[c.account] = weights.get(c.account, ZERO) + max(c.pnl, ZERO)
        if by_size or not any(weights.values()):
            weights = {}
            for c in found:
                weights[c.account] = weights.get(c.account, ZERO) + abs(c.size)
        total = sum(weights.values(), ZERO)
        ordered = sorted(a for a, w in weights.items() if w > 0)
        shares = {a: (amount * weights[a] / total).quantize(MONEY_QUANTUM, ROUND_DOWN) for a in ordered[:-1]}
        shares[ordered[-1]] = amount - sum(shares.values(), ZERO)
    return {a: s for a, s in shares.items() if s > 0}
