"""Fused float64 kernels (Numba, compiled once and cached on disk) over the risk book's arrays.

Every margin term is evaluated by its float form in :mod:`crossmargin.engine.terms` (each beside the exact
form it mirrors); these loops only walk the book and move sums. A kernel takes the book's arrays as typed
namedtuples: the slots (:class:`SlotArrays`), the pools (:class:`PoolArrays`), the market
(:class:`~crossmargin.engine.rule_arrays.MarketArrays`) and the groups of rules it reads (the instruments',
the assets' and the rulebook's choices: the fields of :class:`~crossmargin.engine.rule_arrays.RuleArrays`).
Each structure is flat, an argument of its own: Numba 0.68 cannot carry a namedtuple nested in another, nor
one among star-arguments, into a parallel loop (its lowering fails), so the spreaders name their arguments.
Sides: index 0 maintenance, 1 initial. Kernels marked ``parallel`` share their work out over the cores by
pool, so no two threads write one pool.

A position's money is worked by one function (:func:`position_money`) for both walks: the instrument blocks
of a tick (:func:`revalue_range`) and the account-major copy of the full revaluation (:func:`revalue_pools`).
Those two loops are compiled without Numba's reference counting (``_nrt=False``; they allocate nothing):
every namedtuple handed to an inlined term function is otherwise copied with an increment and a decrement of
each array it holds, and where Numba's pruning pass does not take them out again (it did not, once the
per-position work became a function of its own) that costs some 1 us a position.

The full revaluation (:func:`revalue_pools`) is compiled for the instruments' terms the book uses: given
:func:`~crossmargin.engine.rule_arrays.trimmed` arrays, Numba compiles (and caches) a kernel per set of terms
no instrument uses, without their loads and branches; the floats are the same.
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numba
from numba import njit, prange
from numba.core.dispatcher import Dispatcher
from numba.cpython.unsafe.numbers import trailing_zeros

from crossmargin.engine import terms
from crossmargin.engine.prefetch import prefetch_row
from crossmargin.engine.rule_arrays import B1, F64, INDEX, AssetArrays, ChoiceArrays, InstrumentArrays, MarketArrays
from crossmargin.engine.terms import INITIAL, MAINTENANCE, ONE, unsigned

PARALLEL_ITEMS = 4096  # pools at least this many are shared out over the cores
AHEAD = 32  # slots ahead whose pool row a revaluation prefetches
WORD = unsigned(64)  # pools whose balances of an asset are marked in one word (_collateral_into_pools)
CHUNK = unsigned(512)  # pools a full revaluation takes at a time (revalue_pools)
_WITHOUT_REFCOUNTS: dict[str, Any] = {"_nrt": False}  # an option Numba's typing stubs do not list
_Function = TypeVar("_Function", bound=Callable[..., Any])
_trailing_zeros = cast(Callable[[int], int], trailing_zeros)
"""Numba's intrinsic (the index of a word's lowest set bit), typed as a function of an ``int`` for the callers."""


def uncounted(function: _Function) -> "Dispatcher[_Function]":  # quoted: Dispatcher is generic in the stubs only
    """A loop (or a function it calls) compiled like the other kernels (cached, NumPy's error model) but without
    Numba's reference counting: it must allocate nothing (see the module doc)."""
    return cast("Dispatcher[_Function]", njit(cache=True, error_model="numpy", **_WITHOUT_REFCOUNTS)(function))


class SlotArrays(NamedTuple):
    """Per position slot ``j`` (an empty slot has size 0 and pool -1)."""

    size: F64  # contracts, positive long
    entry: F64  # entry price
    instrument: INDEX
    pool: INDEX
    bracket: INDEX  # the bracket found last (where the next search starts)
    cached: F64  # [j, 4]: counted PnL (maintenance, initial), maintenance, initial (see revalue_range)


class PoolArrays(NamedTuple):
    """Per asset and pool, and per pool (base currency unless said)."""

    balance: F64  # [asset, pool], asset units
    pool_money: F64  # [asset, 4, pool]: positions' money by settle asset, its units (uPnL in settle collateral)
    haircut: B1  # False: an isolated pool, its margin at full value
    positions: INDEX  # positions in the pool
    sums: F64  # [pool, 4]: equity, initial equity, maintenance, initial margin
    liquidatable: B1


class AccountMajor(NamedTuple):
    """The open positions again, pool by pool in the pools' order (an account's pools are mostly numbered
    together): the full revaluation's copy, beside the instrument blocks of :class:`SlotArrays` that the ticks
    read. Pool ``p``'s positions are ``[first[p], first[p + 1])``; a closed position leaves an entry of size 0
    that its pool's next new position takes."""

    size: F64  # contracts, positive long; 0: an empty entry
    entry: F64  # entry price
    instrument: INDEX  # unsigned: an unsigned index saves Numba's wraparound of a negative one
    bracket: INDEX  # the bracket found last (where the next search starts)
    first: INDEX  # [pool + 1]


@njit(cache=True, inline="always", error_model="numpy")
def position_money(
    q: float,
    e: float,
    i: int,
    k: int,
    isolated: bool,
    any_at_entry: bool,
    market: MarketArrays,
    t: InstrumentArrays,
    at_entry: B1,
) -> tuple[float, float, float, float, int]:
    """One position's money: ``(counted PnL maintenance, counted PnL initial, maintenance, initial)`` in its
    settle asset's units, and its bracket (searched from ``k``: its last), for ``q`` contracts (nonzero) of
    instrument ``i`` from entry ``e`` at the market's mark. Each requirement is valued at the mark or, where
    ``at_entry[mode, side]`` says so (mode 1: an ``isolated`` pool), at the entry price, a notional that also
    picks its bracket (``any_at_entry``: some requirement is, worked out once a loop)."""
    inverse = t.inverse[i]
    c = t.contract_size[i]
    mark = market.marks[i]
    units = abs(q) * c
    pnl = terms.unrealized_pnl(q, c, e, mark, inverse)
    margined = terms.margined_notional(terms.notional(units, mark, inverse), t.quantum[i])
    k = terms.bracket(terms.bracket_key(units, margined, i, t), i, k, t.edges)
    margined_m = margined_i = margined
    k_m = k_i = k
    if any_at_entry:
        entry_m = terms.valued_at_entry(at_entry, isolated, MAINTENANCE)
        entry_i = terms.valued_at_entry(at_entry, isolated, INITIAL)
        if entry_m or entry_i:
            margined_e = terms.margined_notional(terms.notional(units, e, inverse), t.quantum[i])
            k_e = terms.bracket(terms.bracket_key(units, margined_e, i, t), i, k, t.edges)
            if entry_m:
                margined_m, k_m = margined_e, k_e
            if entry_i:
                margined_i, k_i = margined_e, k_e
    scale = market.scale[i]
    maintenance = terms.maintenance_requirement(margined_m, units, q, e, i, k_m, t) * scale
    initial = terms.initial_requirement(margined_i, units, q, e, i, k_i, t, market.initial_rate) * scale
    counted_m, counted_i = terms.counted_pnl(pnl, i, t)
    return counted_m, counted_i, maintenance, initial, k


@uncounted
def revalue_range(
    lo: int,
    hi: int,
    pool_lo: int,
    pool_hi: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
    cache_only: bool,
) -> None:
    """Revalue the positions of slots ``[lo, hi)`` whose pool is in ``[pool_lo, pool_hi)`` (an empty slot has
    pool -1) and move the change into their pools.

    ``slots.bracket[j]`` is where the search for position j's bracket starts (its last bracket: a mark
    moves few positions across an edge) and is left at the bracket found. ``slots.cached[j]`` holds
    position j's (counted PnL maintenance, counted PnL initial, maintenance, initial) (:func:`position_money`),
    in settle units under uPnL in the settle collateral (``choices.folded``) and in base currency otherwise.
    Folded, the change goes to ``pools.pool_money[asset, 0..3, pool]`` and :func:`evaluate_pools` makes the
    figures; otherwise the pool's figures are linear in its positions' money and the change goes straight into
    ``pools.sums[pool]``, the pool's verdict decided again in the same pass. With ``cache_only`` the slots are
    valued for the first time (a new book): their money is cached and no pool moves (the full revaluation,
    :func:`revalue_pools`, sums the pools). The arrays and choices the loop reads are taken out of their
    namedtuples before it: read through them inside the loop (a verdict's choices especially) they cost a tick
    some 20 ns a position.
    """
    size, entry, instrument, pool, bracket, cached = slots
    figures, liquidatable, positions = pools.sums, pools.liquidatable, pools.positions
    haircut, money = pools.haircut, pools.pool_money
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    by_asset = choices.folded
    at_entry = choices.at_entry
    any_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
    scatter = not by_asset and not cache_only
    for j in range(lo, hi):  # the pool row a few slots on is hinted to the cache (a tick's misses overlap)
        if scatter and j + AHEAD < hi and pool[j + AHEAD] >= 0:
            prefetch_row(figures, pool[j + AHEAD])
        p = pool[j]
        if p < pool_lo or p >= pool_hi:
            continue
        q = size[j]
        new0 = new1 = new2 = new3 = 0.0
        i = instrument[j]
        if q != 0.0:
            isolated = any_at_entry and p >= 0 and not haircut[p]
            new0, new1, new2, new3, k = position_money(
                q, entry[j], i, bracket[j], isolated, any_at_entry, market, t, at_entry
            )
            bracket[j] = k
        if not by_asset:
            price = market.prices[t.settle[i]]
            new0, new1, new2, new3 = new0 * price, new1 * price, new2 * price, new3 * price
        if p >= 0 and not cache_only:
            d0, d1, d2, d3 = new0 - cached[j, 0], new1 - cached[j, 1], new2 - cached[j, 2], new3 - cached[j, 3]
            if by_asset:
                a = t.settle[i]
                money[a, 0, p] += d0
                money[a, 1, p] += d1
                money[a, 2, p] += d2
                money[a, 3, p] += d3
            else:
                figures[p, 0] += d0
                figures[p, 1] += d1
                figures[p, 2] += d2
                figures[p, 3] += d3
                liquidatable[p] = terms.is_liquidatable(
                    figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
                )
        cached[j, 0], cached[j, 1], cached[j, 2], cached[j, 3] = new0, new1, new2, new3


@njit(cache=True, parallel=True, error_model="numpy")
def revalue_split(
    parts: int,
    n_pools: int,
    lo: int,
    hi: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
    cache_only: bool,
) -> None:
    """:func:`revalue_range` on ``parts`` threads, each owning a contiguous range of pools (so no two threads
    write one pool's sums, nor, but at the range edges, one cache line); every thread reads the whole
    slot range's pool column and revalues only its own pools' positions."""
    for part in prange(parts):
        pool_lo = -1 if part == 0 else part * n_pools // parts
        pool_hi = (part + 1) * n_pools // parts if part < parts - 1 else n_pools
        revalue_range(lo, hi, pool_lo, pool_hi, slots, pools, market, t, choices, cache_only)


@njit(cache=True, inline="always", error_model="numpy")
def _evaluate_pool(p: int, pools: PoolArrays, prices: F64, assets: AssetArrays) -> tuple[float, float, float, float]:
    """Pool ``p``'s (equity, initial equity, maintenance, initial margin) in base currency where uPnL is counted
    inside the settle collateral: ``pools.pool_money[asset]`` (settle units) weighed together with the balance
    of that asset."""
    balance, money, haircut = pools.balance, pools.pool_money, pools.haircut
    f0 = f1 = f2 = f3 = 0.0
    for a in range(balance.shape[0]):
        held = balance[a, p]
        pnl_m, pnl_i, maintenance, initial = money[a, 0, p], money[a, 1, p], money[a, 2, p], money[a, 3, p]
        if held == 0.0 and pnl_m == 0.0 and pnl_i == 0.0 and maintenance == 0.0 and initial == 0.0:
            continue
        if haircut[p]:
            equity = terms.weighted_amount(held + pnl_m, a, MAINTENANCE, assets)
            initial_equity = terms.weighted_amount(held + pnl_i, a, INITIAL, assets)
        else:
            equity, initial_equity = held + pnl_m, held + pnl_i
        price = prices[a]
        f0 += equity * price
        f1 += initial_equity * price
        f2 += maintenance * price
        f3 += initial * price
    return f0, f1, f2, f3


@njit(cache=True, error_model="numpy")
def evaluate_pools(
    lo: int, hi: int, items: INDEX, pools: PoolArrays, prices: F64, assets: AssetArrays, choices: ChoiceArrays
) -> None:
    """Equity, initial equity, maintenance and initial margin (base currency) of each pool in ``items[lo:hi]``
    (distinct: :func:`on_cores` shares them out over threads), where uPnL is counted inside the settle
    collateral (:func:`_evaluate_pool`). ``pools.sums[p] = (equity, initial equity, maintenance, initial)``;
    ``pools.liquidatable[p]`` the float verdict of the rulebook's condition."""
    figures, liquidatable, positions = pools.sums, pools.liquidatable, pools.positions
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    for idx in range(lo, hi):
        p = items[idx]
        f0, f1, f2, f3 = _evaluate_pool(p, pools, prices, assets)
        figures[p, 0], figures[p, 1], figures[p, 2], figures[p, 3] = f0, f1, f2, f3
        liquidatable[p] = terms.is_liquidatable(f0, f2, positions, p, threshold, at_equality, without_requirement)


@njit(cache=True, inline="always", error_model="numpy")
def _collateral(held: float, a: int, haircut: bool, price: float, assets: AssetArrays) -> tuple[float, float]:
    """A balance's contribution to (equity, initial equity) in base currency: at full value in an isolated
    pool (no haircut), weighted in a cross pool."""
    if not haircut:
        return held * price, held * price
    return (
        terms.weighted_amount(held, a, MAINTENANCE, assets) * price,
        terms.weighted_amount(held, a, INITIAL, assets) * price,
    )


@njit(cache=True, inline="always", error_model="numpy")
def _flat(a: int, assets: AssetArrays) -> bool:
    """Whether asset ``a`` weighs every holding in one band and has no size discount: its weighted amount
    (:func:`~crossmargin.engine.terms.weighted_amount`) is then ``offset + weight x`` of its first band for a
    holding and ``x`` times its liability weight for a debt, without a band search."""
    band_from = assets.band_from
    return bool(assets.imf[a] == 0.0 and (band_from.shape[1] == 1 or band_from[a, 1] == math.inf))


@njit(cache=True, inline="always", error_model="numpy")
def _next_pool(p: int, j: int, first: INDEX) -> int:
    """The pool of entry ``j`` (unsigned), stepping on from pool ``p`` (the pool of entry ``j - 1``) along
    ``first``: one step without a branch (a loop per pool would mispredict its exit at nearly every pool: most
    hold one or two positions); a pool without positions takes the rare second step. The bounds are compared as
    unsigned integers (an unsigned index and a signed bound would be compared as floats, each converted)."""
    p += unsigned(unsigned(first[p + ONE]) <= j)
    while unsigned(first[p + ONE]) <= j:
        p += ONE
    return p


@njit(cache=True, inline="always", error_model="numpy")
def _money_at(
    j: int, p: int, copy: AccountMajor, haircut: B1, market: MarketArrays, t: InstrumentArrays, at_entry: B1,
    any_at_entry: bool,
) -> tuple[float, float, float, float, int]:  # fmt: skip
    """The money of the copy's open position ``j`` in pool ``p`` (settle units: counted PnL, initial counted PnL,
    maintenance and initial margin) and its settle asset; its bracket written back only where it moved (an
    unchanged one leaves its cache line clean)."""
    bracket = copy.bracket
    i = copy.instrument[j]
    new0, new1, new2, new3, k = position_money(
        copy.size[j], copy.entry[j], i, bracket[j], not haircut[p], any_at_entry, market, t, at_entry
    )
    if k != bracket[j]:
        bracket[j] = k
    return new0, new1, new2, new3, t.settle[i]


@njit(cache=True, inline="always", error_model="numpy")
def _money_into_figures(
    start: int,
    stop: int,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    at_entry: B1,
    any_at_entry: bool,
    equity: F64,
) -> None:
    """The first pass of :func:`revalue_pools` over pools ``[start, stop)`` (unsigned) where the figures are
    linear: each position's money (base currency) added into its pool's counted PnL ``equity[0 | 1, p -
    start]`` (``[2, CHUNK]``, where the second pass adds the balances) and its requirements ``pools.sums[p, 2
    | 3]``, each cleared first (:func:`_money_at`). Added in memory, not kept in registers and stored at every
    position: that measured some 10 % slower."""
    size, first = copy.size, copy.first
    haircut, figures, prices = pools.haircut, pools.sums, market.prices
    for x in range(stop - start):
        equity[0, x] = equity[1, x] = 0.0
    for p in range(start, stop):
        figures[p, 2] = figures[p, 3] = 0.0
    p = start
    for j in range(unsigned(first[start]), unsigned(first[stop])):
        p = _next_pool(p, j, first)
        if size[j] == 0.0:
            continue
        new0, new1, new2, new3, a = _money_at(j, p, copy, haircut, market, t, at_entry, any_at_entry)
        price = prices[a]
        equity[0, p - start] += new0 * price
        equity[1, p - start] += new1 * price
        figures[p, 2] += new2 * price
        figures[p, 3] += new3 * price


@njit(cache=True, inline="always", error_model="numpy")
def _money_into_assets(
    start: int,
    stop: int,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    at_entry: B1,
    any_at_entry: bool,
) -> None:
    """The first pass of :func:`revalue_pools` over pools ``[start, stop)`` (unsigned) where uPnL is counted
    inside the settle collateral: each position's money added into ``pools.pool_money[asset, 0..3, p]`` (settle
    units, cleared first; :func:`_money_at`)."""
    size, first = copy.size, copy.first
    money, haircut = pools.pool_money, pools.haircut
    for p in range(start, stop):
        for a in range(money.shape[0]):
            money[a, 0, p] = money[a, 1, p] = money[a, 2, p] = money[a, 3, p] = 0.0
    p = start
    for j in range(unsigned(first[start]), unsigned(first[stop])):
        p = _next_pool(p, j, first)
        if size[j] == 0.0:
            continue
        new0, new1, new2, new3, a = _money_at(j, p, copy, haircut, market, t, at_entry, any_at_entry)
        money[a, 0, p] += new0
        money[a, 1, p] += new1
        money[a, 2, p] += new2
        money[a, 3, p] += new3


@njit(cache=True, inline="always", error_model="numpy")
def _collateral_into_pools(
    start: int, stop: int, pools: PoolArrays, prices: F64, assets: AssetArrays, equity: F64
) -> None:
    """The second pass of :func:`revalue_pools` where the figures are linear, over pools ``[start, stop)``
    (unsigned): ``equity[0 | 1, x]`` (``[2, CHUNK]``, contiguous where ``pools.sums`` holds a pool's four
    figures side by side), pool ``start + x``'s positions' counted PnL from the first pass, becomes its equity
    and initial equity, base currency: plus its balances' collateral (:func:`_collateral`), added asset by asset
    in the order one pool at a time would add them. An asset of one band without a size discount
    (:func:`_flat`) takes its weights once and every balance without a branch; another is weighed where its
    balance is not zero: the chunk's pools :data:`WORD` at a time, their nonzero balances marked in a word
    without a branch and visited bit by bit (a branch a pool would mispredict at nearly every holder, when few
    pools hold the asset)."""
    balance, haircut = pools.balance, pools.haircut
    count = stop - start
    for a in range(unsigned(balance.shape[0])):
        price = prices[a]
        if _flat(a, assets):
            offset_m, weight_m, owed_m = assets.offset[0, a, 0], assets.weight[0, a, 0], assets.liability[0, a]
            offset_i, weight_i, owed_i = assets.offset[1, a, 0], assets.weight[1, a, 0], assets.liability[1, a]
            for x in range(count):
                held = balance[a, start + x]
                kept_m, kept_i = offset_m + weight_m * held, offset_i + weight_i * held
                m = kept_m if held >= 0.0 else held * owed_m
                n = kept_i if held >= 0.0 else held * owed_i
                if not haircut[start + x]:
                    m = n = held
                equity[0, x] += m * price
                equity[1, x] += n * price
        else:
            for word in range(unsigned(0), count, WORD):
                held_by = unsigned(0)
                for b in range(min(WORD, count - word)):
                    held_by |= unsigned(balance[a, start + word + b] != 0.0) << b
                while held_by:
                    x = word + unsigned(_trailing_zeros(held_by))
                    held_by &= held_by - ONE
                    m, n = _collateral(balance[a, start + x], a, haircut[start + x], price, assets)
                    equity[0, x] += m
                    equity[1, x] += n


@uncounted
def revalue_pools(
    lo: int,
    hi: int,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    equity: F64,
) -> None:
    """The full revaluation of pools ``[lo, hi)`` from scratch, from the account-major ``copy``,
    :data:`CHUNK` pools at a time, whose figures stay in the nearest caches between two passes. Where the
    figures are linear in the money: the positions' money summed into the chunk's room ``equity`` (``[2,
    CHUNK]``: counted PnL) and ``pools.sums[p, 2 | 3]`` (:func:`_money_into_figures`, compiled apart for a
    rulebook valuing some requirement at entry and for one valuing none), then the balances' collateral added
    into ``equity`` asset by asset (:func:`_collateral_into_pools`); folded, the money summed by settle asset
    (:func:`_money_into_assets`) and each pool evaluated with its balances from ``pools.pool_money[asset, 0..3,
    p]`` (settle units; :func:`_evaluate_pool`). Each pool's verdict is decided as its figures are written.
    Pools are written in order and each position read once, so the pass streams. Indices are unsigned (no check
    for a negative one). ``pools.sums[p]`` holds (equity, initial equity, maintenance, initial margin), base
    currency, summed in the order one pool at a time would sum them. The slots' cache
    (:attr:`SlotArrays.cached`) is not written: every event that moves a position or the market keeps it equal
    to what this pass works out. ``copy.bracket`` is left at each bracket found. ``t`` may be
    :func:`~crossmargin.engine.rule_arrays.trimmed` (the terms no instrument uses left out: the same floats)."""
    figures, liquidatable, positions, prices = pools.sums, pools.liquidatable, pools.positions, market.prices
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    at_entry = choices.at_entry
    any_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
    end = unsigned(hi)
    for start in range(unsigned(lo), end, CHUNK):
        stop = min(start + CHUNK, end)
        if choices.folded:
            _money_into_assets(start, stop, copy, pools, market, t, at_entry, any_at_entry)
            for p in range(start, stop):
                figures[p, 0], figures[p, 1], figures[p, 2], figures[p, 3] = _evaluate_pool(p, pools, prices, assets)
                liquidatable[p] = terms.is_liquidatable(
                    figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
                )
        else:
            if any_at_entry:
                _money_into_figures(start, stop, copy, pools, market, t, at_entry, True, equity)
            else:
                _money_into_figures(start, stop, copy, pools, market, t, at_entry, False, equity)
            _collateral_into_pools(start, stop, pools, prices, assets, equity)
            for x in range(stop - start):
                p = start + x
                figures[p, 0], figures[p, 1] = equity[0, x], equity[1, x]
                liquidatable[p] = terms.is_liquidatable(
                    equity[0, x], figures[p, 2], positions, p, threshold, at_equality, without_requirement
                )


@njit(cache=True, parallel=True)
def revalue_pools_on_threads(
    bounds: INDEX,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
    equity: F64,
) -> None:
    """:func:`revalue_pools` over the pool ranges ``[bounds[n], bounds[n + 1])`` on the threads (each range taken
    as a thread comes free under ``numba.parallel_chunksize(1)``), range ``n`` with its room ``equity[n]``."""
    for part in prange(bounds.shape[0] - 1):
        revalue_pools(bounds[part], bounds[part + 1], copy, pools, market, t, assets, choices, equity[part])


@njit(cache=True, error_model="numpy")
def copy_by_pool(pool_lo: int, pool_hi: int, slots: SlotArrays, copy: AccountMajor) -> None:
    """Fill the account-major ``copy`` of pools ``[pool_lo, pool_hi)`` from the slots (``copy.first`` already
    holds each pool's start: the running count of its positions); a pool's positions keep their slots' order."""
    size, entry, instrument, pool, bracket = slots.size, slots.entry, slots.instrument, slots.pool, slots.bracket
    cursor = copy.first[pool_lo:pool_hi].copy()
    for j in range(size.shape[0]):
        p = pool[j]
        if p < pool_lo or p >= pool_hi:
            continue
        k = cursor[p - pool_lo]
        cursor[p - pool_lo] = k + 1
        copy.size[k], copy.entry[k], copy.instrument[k], copy.bracket[k] = size[j], entry[j], instrument[j], bracket[j]


@njit(cache=True, parallel=True)
def copy_by_pool_on_threads(parts: int, count: int, slots: SlotArrays, copy: AccountMajor) -> None:
    """:func:`copy_by_pool` of the first ``count`` pools on ``parts`` threads, each owning a range of pools (every
    thread reads the whole pool column)."""
    for part in prange(parts):
        copy_by_pool(part * count // parts, (part + 1) * count // parts, slots, copy)


@njit(cache=True, error_model="numpy")
def add_collateral(
    lo: int, hi: int, holders: INDEX, a: int, price: float, pools: PoolArrays, assets: AssetArrays
) -> None:
    """Add asset ``a``'s balance valued at ``price`` (both sides) to the equity of each pool in
    ``holders[lo:hi]`` (distinct pools). A price change is added as ``price`` = new minus old price: bands
    and weights are in the asset's units, so the weighted amount is linear in the price. An asset of flat
    weights without a size discount takes each balance's weight without a band search."""
    balance, figures, haircut = pools.balance, pools.sums, pools.haircut
    flat = _flat(a, assets)
    held_m, held_i = assets.weight[0, a, 0] * price, assets.weight[1, a, 0] * price
    owed_m, owed_i = assets.liability[0, a] * price, assets.liability[1, a] * price
    for idx in range(lo, hi):
        p = holders[idx]
        held = balance[a, p]
        if not haircut[p]:
            figures[p, 0] += held * price
            figures[p, 1] += held * price
        elif flat:
            figures[p, 0] += held * (held_m if held >= 0.0 else owed_m)
            figures[p, 1] += held * (held_i if held >= 0.0 else owed_i)
        else:
            m, i = _collateral(held, a, True, price, assets)
            figures[p, 0] += m
            figures[p, 1] += i


@njit(cache=True, error_model="numpy")
def move_balance(p: int, a: int, amount: float, price: float, pools: PoolArrays, assets: AssetArrays) -> None:
    """Set pool ``p``'s balance of asset ``a`` to ``amount`` and move its figures by the change in value."""
    haircut = pools.haircut[p]
    old_m, old_i = _collateral(pools.balance[a, p], a, haircut, price, assets)
    new_m, new_i = _collateral(amount, a, haircut, price, assets)
    pools.balance[a, p] = amount
    pools.sums[p, 0] += new_m - old_m
    pools.sums[p, 1] += new_i - old_i


@njit(cache=True, error_model="numpy")
def decide(lo: int, hi: int, items: INDEX, figures: F64, pools: PoolArrays, choices: ChoiceArrays) -> None:
    """The rulebook's verdict (into ``pools.liquidatable``) for each pool in ``items[lo:hi]`` from its
    ``figures`` (``[pool, 4]`` as :attr:`PoolArrays.sums`)."""
    threshold, at_equality, without_requirement = choices.threshold, choices.at_equality, choices.without_requirement
    liquidatable, positions = pools.liquidatable, pools.positions
    for idx in range(lo, hi):
        p = items[idx]
        liquidatable[p] = terms.is_liquidatable(
            figures[p, 0], figures[p, 2], positions, p, threshold, at_equality, without_requirement
        )


# One spreading function per kernel, naming its kernel, so that its cache key is its argument types alone. A
# kernel passed in as an argument instead is typed by its dispatcher object, whose name holds a memory
# address: the key differs in every process, the cache never hits, its index grows by an entry a process, and
# once the index holds more dispatchers than Numba keeps alive (NUMBA_FUNCTION_CACHE_SIZE) saving it fails.
# A spreader lives in its kernel's module: Numba invalidates a cache when its own source file changes only
# (and, through terms.depends_on_terms below, when the term functions it inlines change).


@njit(cache=True, parallel=True)
def _decide_on_threads(
    parts: int, n: int, items: INDEX, figures: F64, pools: PoolArrays, choices: ChoiceArrays
) -> None:
    """:func:`decide` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        decide(part * n // parts, (part + 1) * n // parts, items, figures, pools, choices)


@njit(cache=True, parallel=True)
def _evaluate_pools_on_threads(
    parts: int, n: int, items: INDEX, pools: PoolArrays, prices: F64, assets: AssetArrays, choices: ChoiceArrays
) -> None:
    """:func:`evaluate_pools` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        evaluate_pools(part * n // parts, (part + 1) * n // parts, items, pools, prices, assets, choices)


@njit(cache=True, parallel=True)
def _add_collateral_on_threads(
    parts: int, n: int, holders: INDEX, a: int, price: float, pools: PoolArrays, assets: AssetArrays
) -> None:
    """:func:`add_collateral` over ``parts`` contiguous ranges of ``n`` items, in parallel (:func:`on_cores`)."""
    for part in prange(parts):
        add_collateral(part * n // parts, (part + 1) * n // parts, holders, a, price, pools, assets)


_SPREADERS: dict[Any, Any] = {
    decide: _decide_on_threads,
    evaluate_pools: _evaluate_pools_on_threads,
    add_collateral: _add_collateral_on_threads,
}


def on_cores(kernel: Any, items: INDEX, *arrays: Any, spread: Any = None) -> None:
    """``kernel(lo, hi, items, *arrays)`` over the distinct ``items``: on every core when there are at least
    ``PARALLEL_ITEMS`` of them, else in this thread (starting the thread pool costs more than a few items,
    and far more on a busy machine, where a parallel region waits on every thread).

    ``spread(parts, n, items, *arrays)`` runs ``kernel`` over ``parts`` contiguous ranges of the ``n`` items
    in parallel: a cached parallel function that calls ``kernel`` by name (see the note above the
    spreaders). This module's kernels have theirs; a kernel from another module brings its own, written in
    that module."""
    n = items.shape[0]
    threads = numba.get_num_threads()
    if n >= PARALLEL_ITEMS and threads > 1:
        (spread or _SPREADERS[kernel])(threads, n, items, *arrays)
    else:
        kernel(0, n, items, *arrays)


terms.depends_on_terms(globals())
