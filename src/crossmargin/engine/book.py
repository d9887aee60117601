"""The risk book: a float64 struct-of-arrays mirror of every account, kept in step with the exact state.

The exact state is the truth, and the book mirrors it, never owns it: the ledger
(:class:`~crossmargin.clearing.state.ClearingState`) applies every event that moves money (deposits,
withdrawals, trades, funding, liquidations), and the engine loop (:mod:`crossmargin.live.loop`) copies each
account the event changed into the book whole (:meth:`RiskBook.set_account`), so where an isolated
position's PnL lives is decided in one place, the ledger. The book itself takes only new accounts and price
ticks. It keeps the last copy of each account it was given (``accounts``) to know which legs changed; the
mirror only screens, and :mod:`crossmargin.engine.screening` confirms every decision on the exact state.

Layout. Positions live in one set of arrays, grouped into one contiguous block per instrument (with
spare slots), so a tick on one instrument revalues only its block. Every account has a cross *pool*
and every isolated position a pool of its own; per asset and pool the book keeps the balance, and per
pool its figures (equity, initial equity, maintenance and initial margin, base currency). Where the
figures are linear in the positions' money and the balances (the usual case), they are sums moved by
deltas: a tick revalues the instrument's block and moves each pool's figures by its positions' change,
deciding the pool's verdict in the same pass; an asset's price change moves its holders' figures by the
weighted balance times the change. Where the rulebook counts uPnL inside the settle collateral (weighed
together with the balance), the positions' money is summed per pool and settle asset (``pool_money``, in
the asset's units) and the touched pools are evaluated again. :meth:`RiskBook.revalue` recomputes
everything from scratch. Large ranges run on every core, each thread owning a contiguous range of pools.

Two layouts. Every position slot caches its money (``cached``), which a tick or an account's change reads to
move the pools by the difference. The full revaluation instead reads an account-major copy of the positions
(``account_major``: size, entry, instrument and bracket, ordered by pool), so that it writes each pool's
figures once, in order, with its balances' collateral and its verdict, and reads each position once; it
leaves the slots' cache alone, which every event that moves a position or the market keeps equal to what the
pass works out. An event keeps the copy current in place: a closed position empties its entry, a new one
takes an empty entry of its pool or, in a pool newer than the copy's last, goes at the end; otherwise the
copy is marked stale and built again (a counting sort by pool) at the next full revaluation.

Under a scenario grid or a VaR floor the requirement is not a sum: the kernels keep the sums above in
``sums``, and every pool they touch is worked again whole (:mod:`crossmargin.engine.risk_requirements`)
into the published ``figures`` and its verdict, at the end of each event. Otherwise ``figures`` is
``sums``.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numba
import numpy as np

from crossmargin.engine import kernels
from crossmargin.engine.book_columns import ExactColumns, ExactSlots
from crossmargin.engine.kernels import AccountMajor, PoolArrays, SlotArrays
from crossmargin.engine.risk_requirements import on_threads as requirements_on_threads
from crossmargin.engine.risk_requirements import pool_requirements, risk_factors, slots_by_pool
from crossmargin.engine.rule_arrays import (
    I32,
    I64,
    INDEX,
    AssetArrays,
    InstrumentArrays,
    asset_arrays,
    initial_rates,
    instrument_arrays,
    market_arrays,
    rule_arrays,
    scales,
)
from crossmargin.model import Account, InputError, Portfolio, Position, RuleChoices
from crossmargin.model.numbers import ZERO

_SPARE = 8  # spare slots per instrument block beyond a quarter of its size
_PARALLEL_SLOTS = 20_000  # slot ranges at least this long are revalued on every core
_LOOKED_UP = 64  # at most this many pools' slots are looked up through their accounts, not a rebuilt index
_COPY_ROOM = 64  # entries of room the account-major copy keeps beyond an eighth of its size
_REVALUE_PARTS = 8  # ranges of pools (of equal positions) a full revaluation deals out per thread


def _union(groups: Iterable[np.ndarray], count: int) -> I64:
    """The distinct pools of ``groups`` (pool indices below ``count``), ascending: a mask, not a sort (a tick
    of every instrument of a million accounts reaches four million slots)."""
    hit = np.zeros(count, dtype=np.bool_)
    for group in groups:
        hit[group] = True
    return np.flatnonzero(hit)


def _empty_copy(entries: int, pools: int) -> AccountMajor:
    """An account-major copy with room for ``entries`` positions and ``pools`` pools, all empty."""
    return AccountMajor(
        size=np.zeros(entries, dtype=np.float64),
        entry=np.ones(entries, dtype=np.float64),
        instrument=np.zeros(entries, dtype=np.uint16),
        bracket=np.zeros(entries, dtype=np.uint16),
        first=np.zeros(pools + 1, dtype=np.int64),
    )


def _room(n: int) -> int:
    """A copy's size with room to grow for ``n`` entries (or pools)."""
    return n + n // 8 + _COPY_ROOM


def check_mirrored(portfolio: Portfolio, rules: RuleChoices) -> None:
    """Refuse up front what the risk book cannot mirror: a scenario grid or VaR floor without the prices,
    volatilities (and, with options, the valuation time) it needs."""
    instruments = instrument_arrays(portfolio.instruments, list(portfolio.assets))
    risk_factors(rules, portfolio.market, portfolio.instruments, instruments, asset_arrays(portfolio.assets))


@dataclass(frozen=True)
class PoolOwner:
    """Whose a pool is: an account's cross pool (``instrument`` None) or one isolated position."""

    account: str
    instrument: str | None = None
    long: bool = True


class RiskBook:
    """Every account's margin figures as float64 arrays, updated incrementally (see module doc)."""

    def __init__(self, portfolio: Portfolio, rules: RuleChoices) -> None:
        self.rules = rules
        self.base = portfolio.base
        self.rulebook = portfolio.rulebook
        self.asset_table = dict(portfolio.assets)
        self.instrument_table = dict(portfolio.instruments)
        self.market = portfolio.market
        self.rule_arrays = rule_arrays(portfolio.assets, portfolio.instruments, rules)
        self.assets: AssetArrays = self.rule_arrays.assets
        self.instruments: InstrumentArrays = self.rule_arrays.instruments
        self.market_arrays = market_arrays(self.rule_arrays, portfolio.instruments, portfolio.market, rules)
        self.marks, self.prices, self.imr_now, self.scale = self.market_arrays  # changed in place on ticks
        self.accounts: dict[str, Account] = {}
        self.owners: list[PoolOwner] = []
        self.cross_pool: dict[str, int] = {}
        self.isolated_pool: dict[tuple[str, str, bool], int] = {}
        self.slot: dict[tuple[int, str, bool], int] = {}
        n_assets = len(self.assets.names)
        self.balance = np.zeros((n_assets, 0), dtype=np.float64)
        self.folded = rules.pnl_in_settle_collateral
        money_rows = n_assets if self.folded else 0
        self.pool_money = np.zeros((money_rows, 4, 0), dtype=np.float64)
        self.haircut = np.zeros(0, dtype=np.bool_)
        self.positions_in_pool = np.zeros(0, dtype=np.int32)
        self.factors = risk_factors(rules, portfolio.market, portfolio.instruments, self.instruments, self.assets)
        self.factor_prices = np.zeros(0) if self.factors is None else self.factors.prices(portfolio.market)
        self.sums = np.zeros((0, 4), dtype=np.float64)
        self.figures = self.sums
        self.required = np.zeros((0, 2), dtype=np.float64)
        self.dirty = np.zeros(0, dtype=np.bool_)
        self.index_stale = True
        self.ticked: np.ndarray | None = None
        """The pools whose figures the last :meth:`tick` may have moved, ascending and read-only (None: every
        pool)."""
        self.first = np.zeros(1, dtype=np.int64)
        self.by_pool = np.zeros(0, dtype=np.int64)
        self.liquidatable = np.zeros(0, dtype=np.bool_)
        self.account_major = _empty_copy(0, 0)
        """The positions again in pool order (:class:`~crossmargin.engine.kernels.AccountMajor`): the full
        revaluation's copy. It holds the first ``copied_pools`` pools; ``copy_stale``: an event changed the
        positions in a way it could not take in place, and :meth:`revalue` builds it again first."""
        self.copied_pools = 0
        self.copy_stale = True
        self.exact: ExactColumns | None = None
        """The positions and balances again as scaled integers, for the compiled exact path: made by
        :meth:`exact_columns` when first asked for, then kept by every event (None until then)."""
        self._layout(self._counts(portfolio.accounts))
        self._reserve_pools(sum(1 + sum(p.isolated for p in a.positions) for a in portfolio.accounts))
        for account in portfolio.accounts:
            self._insert_account(account)
        self._revalue_slots(0, self.size.shape[0], cache_only=True)
        self.revalue()

    # ------------------------------------------------------------------ layout

    @staticmethod
    def _counts(accounts: Iterable[Account]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for account in accounts:
            for position in account.positions:
                counts[position.instrument] = counts.get(position.instrument, 0) + 1
        return counts

    def _layout(self, counts: Mapping[str, int]) -> None:
        """Allocate one block per instrument with room for ``counts`` positions and spare slots."""
        sizes = [counts.get(name, 0) + counts.get(name, 0) // 4 + _SPARE for name in self.instruments.names]
        self.block_pools: dict[int, I64] = {}
        """Instrument -> the distinct pools of its block, ascending (read-only), kept until a position is placed
        in the block or leaves it: a quiet tick of one instrument reads its pools here, not by a pass over
        every pool."""
        self.block_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.block_used = np.zeros(len(sizes), dtype=np.int64)
        total = int(sum(sizes))
        self.size = np.zeros(total, dtype=np.float64)
        self.entry = np.ones(total, dtype=np.float64)
        self.instrument = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        self.pool = np.full(total, -1, dtype=np.int32)
        self.bracket = np.zeros(total, dtype=np.int16)
        self.cached = np.zeros((total, 4), dtype=np.float64)
        self.block_size = np.array(sizes, dtype=np.int64)

    def _grow_block(self, i: int) -> None:
        """Rebuild the layout with more room for instrument ``i`` (amortised: its block doubles); each slot moves
        with its cached money and bracket, and the pools' figures and the account-major copy do not change."""
        counts = {name: int(self.block_used[k]) for k, name in enumerate(self.instruments.names)}
        counts[self.instruments.names[i]] = 2 * counts[self.instruments.names[i]] + _SPARE
        old = (self.size, self.entry, self.pool, self.bracket, self.cached, self.block_start, self.block_used)
        exact = None if self.exact is None else self.exact.slots
        self._layout(counts)
        if self.exact is not None:
            self.exact.slots = ExactSlots.empty(self.size.shape[0])
        size, entry, pool, bracket, cached, start, used = old
        self.slot = {}
        for k in range(len(self.instruments.names)):
            for j in range(int(start[k]), int(start[k] + used[k])):
                moved = self._place(k, size[j], entry[j], int(pool[j]))
                self.bracket[moved], self.cached[moved] = bracket[j], cached[j]
                if self.exact is not None and exact is not None:
                    self.exact.slots.move(moved, exact, j)

    def _place(self, i: int, size: float, entry: float, pool: int) -> int:
        if self.block_used[i] == self.block_size[i]:
            raise OverflowError
        j = int(self.block_start[i] + self.block_used[i])
        self.block_used[i] += 1
        self.size[j], self.entry[j], self.pool[j] = size, entry, pool
        self.slot[(pool, self.instruments.names[i], size > 0)] = j
        self.block_pools.pop(i, None)
        self.index_stale = True
        return j

    def _reserve_pools(self, grow: int) -> None:
        """Room for ``grow`` more pools in every per-pool array."""
        self.balance = np.concatenate([self.balance, np.zeros((self.balance.shape[0], grow))], axis=1)
        if self.exact is not None:
            self.exact.balances = self.exact.balances.grown(grow)
        self.pool_money = np.concatenate([self.pool_money, np.zeros((*self.pool_money.shape[:2], grow))], axis=2)
        self.haircut = np.concatenate([self.haircut, np.zeros(grow, dtype=np.bool_)])
        self.positions_in_pool = np.concatenate([self.positions_in_pool, np.zeros(grow, dtype=np.int32)])
        self.sums = np.concatenate([self.sums, np.zeros((grow, 4))])
        self.liquidatable = np.concatenate([self.liquidatable, np.zeros(grow, dtype=np.bool_)])
        if self.factors is None:
            self.figures = self.sums
        else:
            self.figures = np.concatenate([self.figures, np.zeros((grow, 4))])
            self.required = np.concatenate([self.required, np.zeros((grow, 2))])
            self.dirty = np.concatenate([self.dirty, np.zeros(grow, dtype=np.bool_)])

    def _new_pool(self, owner: PoolOwner, haircut: bool) -> int:
        index = len(self.owners)
        self.owners.append(owner)
        self.index_stale = True
        if index == self.balance.shape[1]:
            self._reserve_pools(max(16, index // 4))
        self.haircut[index] = haircut
        return index

    # ------------------------------------------------------------------ mirror of the exact state

    def _insert_account(self, account: Account) -> None:
        if account.id in self.accounts:
            raise InputError("account", f"account {account.id!r} is already in the book")
        self.accounts[account.id] = account
        cross = self._new_pool(PoolOwner(account.id), haircut=True)
        self.cross_pool[account.id] = cross
        for asset, amount in account.balances.items():
            index = self.assets.index(asset)
            self.balance[index, cross] += float(amount)
            if self.exact is not None:
                self.exact.balances.set(index, cross, amount)
        for position in account.positions:
            self._insert_position(account.id, position)

    def _insert_position(self, account_id: str, position: Position) -> int:
        i = self.instruments.index(position.instrument)
        long = position.size > 0
        if position.isolated_margin is None:
            pool = self.cross_pool[account_id]
        else:
            pool = self._new_pool(PoolOwner(account_id, position.instrument, long), haircut=False)
            self.isolated_pool[(account_id, position.instrument, long)] = pool
            settle = int(self.instruments.settle[i])
            self.balance[settle, pool] = float(position.isolated_margin)
            if self.exact is not None:
                self.exact.balances.set(settle, pool, position.isolated_margin)
        self.positions_in_pool[pool] += 1
        try:
            j = self._place(i, float(position.size), float(position.entry_price), pool)
        except OverflowError:
            self._grow_block(i)
            j = self._place(i, float(position.size), float(position.entry_price), pool)
        if self.exact is not None:
            self.exact.slots.set(j, position)
        return j

    def _remove_slot(self, j: int) -> None:
        """Empty slot ``j``, moving its block's last position into it."""
        i = int(self.instrument[j])
        held = self.size[j]
        self.size[j] = 0.0  # revalued as empty: its money leaves its pool
        self._revalue_slots(j, j + 1)
        self.size[j] = held
        last = int(self.block_start[i] + self.block_used[i] - 1)
        pool = int(self.pool[j])
        del self.slot[(pool, self.instruments.names[i], self.size[j] > 0)]
        self.positions_in_pool[pool] -= 1
        if not self.positions_in_pool[pool]:
            self._emptied(pool)
        self._copy_close(pool, i, bool(self.size[j] > 0))
        if last != j:
            key = (int(self.pool[last]), self.instruments.names[i], self.size[last] > 0)
            self.size[j], self.entry[j], self.pool[j] = self.size[last], self.entry[last], self.pool[last]
            self.bracket[j], self.cached[j] = self.bracket[last], self.cached[last]
            if self.exact is not None:
                self.exact.slots.move(j, self.exact.slots, last)
            self.slot[key] = j
        self.size[last], self.entry[last], self.pool[last] = 0.0, 1.0, -1
        self.cached[last] = 0.0
        self.block_used[i] -= 1
        self.block_pools.pop(i, None)
        self.index_stale = True

    def _emptied(self, pool: int) -> None:
        """Pool ``pool``'s last position left: its requirement sums are exactly zero (the moved sums keep a float
        residue that would read as a requirement) and its verdict is decided again without positions."""
        self.sums[pool, 2:4] = 0.0
        kernels.decide(0, 1, np.array([pool]), self.sums, self.pool_arrays(), self.rule_arrays.choices)

    # ------------------------------------------------------------------ the account-major copy

    def _copy_positions(self) -> None:
        """Build the account-major copy again from the instrument blocks (a counting sort by pool)."""
        count = self.pool_count
        copy = _empty_copy(_room(self.position_count), _room(count))
        np.cumsum(self.positions_in_pool[:count], out=copy.first[1 : count + 1])
        threads = numba.get_num_threads()
        if self.position_count >= _PARALLEL_SLOTS and threads > 1:
            kernels.copy_by_pool_on_threads(threads, count, self.slot_arrays(), copy)
        else:
            kernels.copy_by_pool(0, count, self.slot_arrays(), copy)
        self.account_major, self.copied_pools, self.copy_stale = copy, count, False

    def _copy_pools(self, count: int, entries: int) -> None:
        """Give the copy the pools up to ``count`` (the new ones empty, at its end) and room for ``entries``
        positions."""
        copy = self.account_major
        if entries > copy.size.shape[0] or count + 1 > copy.first.shape[0]:
            grown = _empty_copy(_room(max(entries, copy.size.shape[0])), _room(max(count, copy.first.shape[0])))
            for old, new in zip(copy, grown, strict=True):
                new[: old.shape[0]] = old
            self.account_major = copy = grown
        if count > self.copied_pools:
            copy.first[self.copied_pools + 1 : count + 1] = copy.first[self.copied_pools]
            self.copied_pools = count

    def _copy_open(self, j: int) -> None:
        """Slot ``j``'s position into the copy: at its end when its pool is the copy's last (or newer), else
        into an empty entry of its pool; without one the copy is left stale."""
        if self.copy_stale:
            return
        p = int(self.pool[j])
        if p >= self.copied_pools - 1:
            end = int(self.account_major.first[self.copied_pools])
            self._copy_pools(p + 1, end + 1)
            self.account_major.first[p + 1] = end + 1
            k = end
        else:
            lo, hi = self.account_major.first[p : p + 2].tolist()
            empty = self.account_major.size[lo:hi].tolist()
            if 0.0 not in empty:
                self.copy_stale = True
                return
            k = lo + empty.index(0.0)
        copy = self.account_major
        copy.size[k], copy.entry[k], copy.instrument[k], copy.bracket[k] = (
            self.size[j], self.entry[j], self.instrument[j], self.bracket[j]
        )  # fmt: skip

    def _copy_close(self, p: int, i: int, long: bool) -> None:
        """Empty the copy's entry of pool ``p``'s ``long`` (or short) position in instrument ``i``."""
        if self.copy_stale:
            return
        copy = self.account_major
        lo, hi = copy.first[p : p + 2].tolist()
        held = zip(copy.instrument[lo:hi].tolist(), copy.size[lo:hi].tolist(), strict=True)
        k = next(k for k, (n, q) in enumerate(held) if n == i and (q > 0.0 if long else q < 0.0))
        copy.size[lo + k] = 0.0

    # ------------------------------------------------------------------ kernels

    def exact_columns(self) -> ExactColumns:
        """The book's exact columns (:mod:`crossmargin.engine.book_columns`), made from its accounts the first time
        they are asked for and kept by every event after (a book that never needs them costs nothing more)."""
        if self.exact is None:
            columns = ExactColumns.empty(self.size.shape[0], *self.balance.shape)
            for account in self.accounts.values():
                cross = self.cross_pool[account.id]
                for asset, amount in account.balances.items():
                    columns.balances.set(self.assets.index(asset), cross, amount)
                for position in account.positions:
                    pool = self._pool_of(account.id, position)
                    columns.slots.set(self.slot[(pool, position.instrument, position.size > 0)], position)
                    if position.isolated_margin is not None:
                        settle = int(self.instruments.settle[self.instruments.index(position.instrument)])
                        columns.balances.set(settle, pool, position.isolated_margin)
            self.exact = columns
        return self.exact

    def slot_arrays(self) -> SlotArrays:
        """The position slots' arrays as the kernels take them."""
        return SlotArrays(self.size, self.entry, self.instrument, self.pool, self.bracket, self.cached)

    def pool_arrays(self) -> PoolArrays:
        """The pools' arrays as the kernels take them (their figures: the sums)."""
        return PoolArrays(
            self.balance, self.pool_money, self.haircut, self.positions_in_pool, self.sums, self.liquidatable
        )

    def _revalue_slots(self, lo: int, hi: int, cache_only: bool = False) -> None:
        """Revalue slots ``[lo, hi)`` and move their pools' sums by the change; where the figures are linear (not
        folded) the pools' figures move and their verdicts are decided. With ``cache_only`` (the book's
        construction, before its full revaluation) the slots' money is worked and cached and no pool moves."""
        rules = self.rule_arrays
        arrays = (
            self.slot_arrays(), self.pool_arrays(), self.market_arrays, rules.instruments, rules.choices, cache_only
        )  # fmt: skip
        if self.factors is not None and not cache_only:
            pools = self.pool[lo:hi]
            self._touch(pools[pools >= 0])
        threads = numba.get_num_threads()
        if hi - lo >= _PARALLEL_SLOTS and threads > 1:
            kernels.revalue_split(threads, self.pool_count, lo, hi, *arrays)
        else:
            kernels.revalue_range(lo, hi, -1, self.pool_count, *arrays)

    def _evaluate(self, pools: INDEX) -> None:
        """Decide the verdicts of ``pools`` (distinct; folded: evaluate their figures from their money first)."""
        if not self.folded:
            kernels.on_cores(kernels.decide, pools, self.sums, self.pool_arrays(), self.rule_arrays.choices)
            self._touch(pools)
            return
        rules = self.rule_arrays
        kernels.on_cores(kernels.evaluate_pools, pools, self.pool_arrays(), self.prices, rules.assets, rules.choices)
        self._touch(pools)

    def _add_collateral(self, pools: INDEX, asset: int, price: float) -> None:
        """Add ``asset``'s balances valued at ``price`` (a change of price: the difference) to ``pools``'s
        figures (linear figures only)."""
        kernels.on_cores(kernels.add_collateral, pools, asset, price, self.pool_arrays(), self.rule_arrays.assets)
        self._touch(pools)

    def _set_balance(self, asset: int, pool: int, exact: Decimal) -> None:
        """Set one balance; linear figures move by the change in its weighted value (none where it is unchanged:
        an account's event sets every balance, and a kernel call costs microseconds)."""
        if self.exact is not None:
            self.exact.balances.set(asset, pool, exact)
        amount = float(exact)
        if self.folded or self.balance[asset, pool] == amount:
            self.balance[asset, pool] = amount
            return
        price = float(self.prices[asset])
        kernels.move_balance(pool, asset, amount, price, self.pool_arrays(), self.rule_arrays.assets)
        self._touch(pool)

    def _touch(self, pools: INDEX | int | slice) -> None:
        """Mark pools whose sums changed (their risk-based requirement is due: :meth:`_publish`)."""
        if self.factors is not None:
            self.dirty[pools] = True

    def _publish(self) -> None:
        """Under a scenario grid or VaR floor, the touched pools' published figures: their sums with the
        requirements from :func:`~crossmargin.engine.risk_requirements.pool_requirements`, and their verdicts
        decided on them (otherwise the sums are the figures)."""
        factors = self.factors
        if factors is None:
            return
        pools = np.flatnonzero(self.dirty[: self.pool_count])
        if not len(pools):
            return
        self.dirty[pools] = False
        start, stop, order = self.slots_of(pools)
        kernels.on_cores(
            pool_requirements, pools, start, stop, order, self.slot_arrays(), self.pool_arrays(), self.market_arrays,
            self.instruments, factors, factors.options, self.factor_prices, self.required,
            spread=requirements_on_threads,
        )  # fmt: skip
        self.figures[pools] = self.sums[pools]
        self.figures[pools, 2:4] = self.required[pools]
        kernels.on_cores(kernels.decide, pools, self.figures, self.pool_arrays(), self.rule_arrays.choices)

    def slots_of(self, pools: INDEX) -> tuple[I64, I64, I64]:
        """``(start, stop, slots)``: the ``n``-th pool's slots are ``slots[start[n]:stop[n]]``. A few pools after
        a change of layout (a liquidation) are looked up through their accounts; otherwise the index of slots
        by pool is rebuilt when stale and read."""
        if self.index_stale and len(pools) <= _LOOKED_UP:
            found: list[int] = []
            start = np.zeros(len(pools), dtype=np.int64)
            stop = np.zeros(len(pools), dtype=np.int64)
            for n, p in enumerate(pools):
                owner = self.owners[int(p)]
                start[n] = len(found)
                if owner.account in self.accounts:
                    found += [j for j in self.slot_range_of(owner.account) if self.pool[j] == p]
                stop[n] = len(found)
            return start, stop, np.array(found, dtype=np.int64)
        if self.index_stale:
            self.first, self.by_pool = slots_by_pool(self.pool, self.pool_count)
            self.index_stale = False
        return self.first[pools], self.first[pools + 1], self.by_pool

    def holds_nothing(self, pools: slice | INDEX) -> np.ndarray:
        """For each of ``pools``: it has neither positions nor balances (an account liquidated to nothing),
        so it cannot be liquidated, whatever residue of float sums its figures hold."""
        return np.asarray((self.positions_in_pool[pools] == 0) & ~self.balance[:, pools].any(axis=0))

    @property
    def pool_count(self) -> int:
        """Pools in use: one cross pool per account plus one per isolated position."""
        return len(self.owners)

    def revalue(self) -> None:
        """Recompute every pool's figures and verdict from scratch (the full revaluation): every position's money
        worked again from the account-major copy (built again first if an event left it stale), pool by pool
        with its balances (:func:`~crossmargin.engine.kernels.revalue_pools`), compiled without the rule terms no
        instrument uses (:func:`~crossmargin.engine.rule_arrays.trimmed`). The slots' cached money is not
        written: every event that moves a position or the market keeps it equal to what this pass works out."""
        if self.copy_stale:
            self._copy_positions()
        count = self.pool_count
        self._copy_pools(count, 0)
        rules = self.rule_arrays
        copy = self.account_major
        arrays = (copy, self.pool_arrays(), self.market_arrays, rules.in_use, rules.assets, rules.choices)
        threads = numba.get_num_threads()
        entries = int(copy.first[count])
        if entries >= _PARALLEL_SLOTS and threads > 1:
            parts = threads * _REVALUE_PARTS
            bounds = np.searchsorted(copy.first[: count + 1], np.arange(parts + 1) * entries // parts)
            bounds[-1] = count
            with numba.parallel_chunksize(1):  # the ranges taken as threads come free: a busy core does less
                kernels.revalue_pools_on_threads(bounds, *arrays, np.empty((parts, 2, int(kernels.CHUNK))))
        else:
            kernels.revalue_pools(0, count, *arrays, np.empty((2, int(kernels.CHUNK))))
        self._touch(slice(0, count))
        self._publish()

    def _block_pools(self, i: int) -> I32:
        start = int(self.block_start[i])
        return self.pool[start : start + int(self.block_used[i])]

    def _distinct_pools(self, i: int) -> I64:
        """The distinct pools of instrument ``i``'s block, ascending (:attr:`block_pools`)."""
        found = self.block_pools.get(i)
        if found is None:
            found = self.block_pools[i] = _union([self._block_pools(i)], self.pool_count)
            found.flags.writeable = False
        return found

    # ------------------------------------------------------------------ events

    def tick(
        self,
        marks: Mapping[str, Decimal] | None = None,
        prices: Mapping[str, Decimal] | None = None,
        open_interest: Mapping[str, Decimal] | None = None,
        multipliers: Mapping[str, Decimal] | None = None,
    ) -> None:
        """New marks, asset prices, open interest or margin multipliers (underlying -> multiplier, merged as
        :meth:`~crossmargin.model.Market.with_multipliers` does): the exact market first, then the touched
        arrays. A mark or open interest of an instrument the book does not know is refused before anything
        changes.

        A mark, open interest or multiplier touches only its instruments' blocks and the pools holding them;
        an asset price touches the instruments settled in it and re-evaluates every pool.
        """
        marks, prices, open_interest = marks or {}, prices or {}, open_interest or {}
        for field, named in (("marks", marks), ("open_interest", open_interest)):
            unknown = sorted(set(named) - set(self.instrument_table))
            if unknown:
                raise InputError(field, f"unknown instrument {unknown[0]!r}")
        market = self.market
        self.market = replace(
            market if not multipliers else market.with_multipliers(multipliers),
            prices={**market.prices, **prices},
            marks={**market.marks, **marks},
            open_interest={**market.open_interest, **open_interest},
        )
        rescaled: set[int] = set()
        if multipliers:
            scale = scales(self.instruments.names, self.instrument_table, self.market, self.rules)
            rescaled = {int(i) for i in np.flatnonzero(scale != self.scale)}
            self.scale[:] = scale
        moved = {self.assets.index(a): float(price) for a, price in prices.items() if a in self.asset_table}
        if self.factors is not None and prices:
            self.factor_prices = self.factors.prices(self.market)
            self._touch(np.arange(self.pool_count))
        old_prices = self.prices.copy()
        for index, price in moved.items():
            self.prices[index] = price
        touched = {self.instruments.index(name) for name in (*marks, *open_interest)} | rescaled
        for name, mark in marks.items():
            self.marks[self.instruments.index(name)] = float(mark)
        if open_interest:
            self.imr_now[:] = initial_rates(self.instruments, self.instrument_table, self.market)
        touched |= {i for i in range(len(self.instruments.names)) if int(self.instruments.settle[i]) in moved}
        for i in sorted(touched):
            start = int(self.block_start[i])
            self._revalue_slots(start, start + int(self.block_used[i]))
        count = self.pool_count
        everything = (self.factors is not None and bool(prices)) or (self.folded and bool(moved))
        reached: list[np.ndarray] = [self._distinct_pools(i) for i in touched]
        if not self.folded:
            reached += [np.flatnonzero(self.balance[index, :count]) for index in moved]
        self.ticked = None if everything else reached[0] if len(reached) == 1 else _union(reached, count)
        if self.folded:
            if moved:
                self._evaluate(np.arange(count, dtype=np.int64))
            elif touched:
                hit = np.zeros(count, dtype=np.bool_)
                for i in touched:
                    hit[self._block_pools(i)] = True
                self._evaluate(np.flatnonzero(hit))
        else:
            for index in moved:
                holders = np.flatnonzero(self.balance[index, :count])
                self._add_collateral(holders, index, float(self.prices[index] - old_prices[index]))
                self._evaluate(holders)
        self._publish()

    def add_account(self, account: Account) -> None:
        """A new account (checked against the book's assets and instruments like a document's)."""
        self._check(account)
        self._insert_account(account)
        pools = np.array(self.pools_of(account.id), dtype=np.int64)
        if not self.folded:
            for index in range(self.balance.shape[0]):
                self._add_collateral(pools, index, float(self.prices[index]))
        slots = self.slot_range_of(account.id)
        for j in slots:
            self._revalue_slots(j, j + 1)
        for j in sorted(slots, key=lambda j: int(self.pool[j])):
            self._copy_open(j)
        self._evaluate(pools)
        self._publish()

    def set_account(self, account: Account) -> None:
        """Make the book's copy of an account equal ``account`` (its new exact state, e.g. after a
        liquidation elsewhere): :meth:`set_accounts` of one."""
        self.set_accounts([account])

    def set_accounts(self, accounts: Sequence[Account]) -> None:
        """Make the book's copies of ``accounts`` (each already in the book) equal them, e.g. after a round of
        liquidations: each one's legs that changed are replaced (a cross leg resized where it is), its balances
        set, and the verdicts of every pool they touched decided once at the end. Every account is checked
        before any is applied."""
        for account in accounts:
            self._account(account.id)
            self._check(account)
        touched: set[int] = set()
        for account in accounts:
            touched |= self._set_legs(account)
        self._evaluate(np.array(sorted(touched), dtype=np.int64))
        self._publish()

    def _set_legs(self, account: Account) -> set[int]:
        """Replace ``account``'s changed legs and set its cross balances; the pools touched."""
        old = self.accounts[account.id]
        before = {(p.instrument, p.size > 0): p for p in old.positions}
        after = {(p.instrument, p.size > 0): p for p in account.positions}
        self.accounts[account.id] = account
        changed = [leg for leg in {**before, **after} if before.get(leg) != after.get(leg)]
        cross = self.cross_pool[account.id]
        touched = {cross}
        for leg in sorted(changed, key=lambda leg: (leg in after, leg)):  # closed legs first: their copy entries free
            touched |= self._replace_position(account.id, before.get(leg), after.get(leg))
        for index, asset in enumerate(self.assets.names):
            self._set_balance(index, cross, account.balances.get(asset, ZERO))
        return touched

    def _replace_position(self, account_id: str, old: Position | None, new: Position | None) -> set[int]:
        """Replace one leg (``old`` by ``new``, either None: opened or closed); the pools it touched. A cross leg
        still held is resized in its slot: its money moves by the difference and its copy entry is rewritten."""
        if old is not None and new is not None and old.isolated_margin is None and new.isolated_margin is None:
            pool = self.cross_pool[account_id]
            j = self.slot[(pool, old.instrument, old.size > 0)]
            self.size[j], self.entry[j] = float(new.size), float(new.entry_price)
            if self.exact is not None:
                self.exact.slots.set(j, new)
            self._revalue_slots(j, j + 1)
            self._copy_close(pool, int(self.instrument[j]), new.size > 0)
            self._copy_open(j)
            return {pool}
        pools = set()
        if old is not None:
            pool = self._pool_of(account_id, old)
            pools.add(pool)
            j = self.slot[(pool, old.instrument, old.size > 0)]
            self._remove_slot(j)
            if old.isolated_margin is not None:
                for index in range(self.balance.shape[0]):
                    self._set_balance(index, pool, ZERO)
                del self.isolated_pool[(account_id, old.instrument, old.size > 0)]
        if new is not None:
            j = self._insert_position(account_id, new)
            pool = int(self.pool[j])
            pools.add(pool)
            if new.isolated_margin is not None and not self.folded:
                settle = int(self.instruments.settle[self.instruments.index(new.instrument)])
                self._add_collateral(np.array([pool]), settle, float(self.prices[settle]))
            self._revalue_slots(j, j + 1)
            self._copy_open(j)
        return pools

    # ------------------------------------------------------------------ lookups

    def _account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise InputError("account", f"no account with id {account_id!r}") from None

    def _check(self, account: Account) -> None:
        Portfolio(self.base, self.rulebook, self.asset_table, self.instrument_table, self.market, (account,))

    def _pool_of(self, account_id: str, position: Position) -> int:
        if position.isolated_margin is None:
            return self.cross_pool[account_id]
        return self.isolated_pool[(account_id, position.instrument, position.size > 0)]

    def pools_of(self, account_id: str) -> list[int]:
        """The account's cross pool and its isolated pools."""
        account = self._account(account_id)
        return sorted({self.cross_pool[account_id], *(self._pool_of(account_id, p) for p in account.positions)})

    def slot_range_of(self, account_id: str) -> list[int]:
        """The array slots of the account's positions."""
        account = self._account(account_id)
        return [self.slot[(self._pool_of(account_id, p), p.instrument, p.size > 0)] for p in account.positions]

    def portfolio_of(self, account_ids: Iterable[str]) -> Portfolio:
        """The exact portfolio of some accounts at the book's current market (for exact confirmation)."""
        accounts = tuple(self._account(a) for a in account_ids)
        return Portfolio(self.base, self.rulebook, self.asset_table, self.instrument_table, self.market, accounts)

    @property
    def position_count(self) -> int:
        """Open positions in the book."""
        return int(self.block_used.sum())

    def nbytes(self) -> int:
        """Bytes held by the mirror's arrays (the exact objects not included)."""
        arrays: list[np.ndarray] = [
            self.size, self.entry, self.instrument, self.pool, self.bracket, self.cached, self.balance, self.pool_money,
            self.haircut, self.positions_in_pool, self.sums, self.liquidatable, *self.account_major,
        ]  # fmt: skip
        if self.exact is not None:
            arrays += [*self.exact.slots, *self.exact.balances]
        if self.factors is not None:
            arrays += [self.figures, self.required, self.dirty, self.first, self.by_pool]
        return int(sum(a.nbytes for a in arrays))
