"""How close does the full revaluation get to a plain read? Both layouts and a lower bound, measured in one run.

    .venv/bin/python benchmarks/revalue_floor.py [--accounts 1000000] [--out benchmarks/floor.json]

Passes over the same synthetic book (generic rulebook), on both cores and on one:

- *plain read*: sum the position arrays (the memory-bandwidth floor, as in ``benchmarks/risk_book.py``);
- *stripped kernel, account-major*: the positions sorted by pool and the least margin arithmetic there is:
  notional, PnL, a rate and an amount from the bracket already known (no search, no fees, no rounding, no size
  premium), counted PnL, scaled by the settle price, added into the pool's four figures. It is not a margin
  engine (it cannot find a bracket); it bounds from below what any scalar kernel in the best layout costs;
- *instrument-major (before)*: the full revaluation as the book ran it until it kept an account-major copy,
  kept here only to be measured: every slot of the instrument blocks valued (the book's own
  :func:`~crossmargin.engine.kernels.position_money`), its money cached and added into its pool's cleared sums
  (the pool row prefetched 32 slots ahead, each thread owning a range of pools), then each asset's balances
  added to their holders' figures and every pool's verdict decided, pass by pass;
- *account-major, pool by pool (before)*: the full revaluation from the account-major copy as the book ran it
  until it took the pools in chunks, kept here only to be measured: one pool at a time, a loop over its
  positions (the book's own :func:`~crossmargin.engine.kernels.position_money`, every rule term compiled in),
  then its balances and its verdict, its figures written once;
- *account-major (``RiskBook.revalue``)*: the book's full revaluation
  (:func:`~crossmargin.engine.kernels.revalue_pools`): chunks of pools, in each the positions' money added in
  one loop (the counted PnL into the chunk's contiguous room, the loop compiled apart for a rulebook valuing no
  requirement at entry), then the balances asset by asset (an asset of several bands visited only where held,
  its holders marked 64 pools to a word) and each pool's verdict, compiled without the rule terms no instrument
  uses (:func:`~crossmargin.engine.rule_arrays.trimmed`), eight ranges of pools a thread taken as the threads
  come free; the same with every term compiled in (*every term*: what leaving them out saves); and with the
  copy built again first (the cost an event pays that leaves the copy stale).

Beside them the ticks (a new BTC-PERP mark and the median instrument's, 0.1 % down and up) and the mirror's
bytes per position, with and without the copy. Figures: medians of repeats, milliseconds.
"""

import argparse
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange
from rich.console import Console
from rich.table import Table

from crossmargin.engine import kernels, terms
from crossmargin.engine.book import RiskBook
from crossmargin.engine.kernels import AHEAD, AccountMajor, PoolArrays, SlotArrays, position_money, uncounted
from crossmargin.engine.prefetch import prefetch_row
from crossmargin.engine.rule_arrays import F64, INDEX, AssetArrays, ChoiceArrays, InstrumentArrays, MarketArrays
from crossmargin.sim.benchmark import machine, median_ms, one_thread, plain_read
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook

REPEATS = 9


@njit(cache=True, error_model="numpy")
def _stripped(lo: int, hi: int, units: F64, entry_term: F64, instrument: INDEX, pool: INDEX, bracket: INDEX,
              price_term: F64, notional_per_unit: F64, mmr: F64, imr: F64, amount: F64, weight: F64,
              settle_price: F64, figures: F64) -> None:  # fmt: skip
    for j in range(lo, hi):
        i, k, p, q = instrument[j], bracket[j], pool[j], units[j]
        notional = abs(q) * notional_per_unit[i]
        pnl = q * (price_term[i] - entry_term[j])
        s = settle_price[i]
        figures[p, 0] += (min(pnl, 0.0) + max(pnl, 0.0) * weight[i]) * s
        figures[p, 1] += pnl * s
        figures[p, 2] += (notional * mmr[i, k] - amount[i, k]) * s
        figures[p, 3] += notional * imr[i, k] * s


@njit(cache=True, parallel=True)
def _stripped_on_cores(bounds: INDEX, *arrays: np.ndarray) -> None:
    for part in prange(bounds.shape[0] - 1):
        _stripped(bounds[part], bounds[part + 1], *arrays)


@uncounted
def _instrument_major(
    lo: int,
    hi: int,
    pool_lo: int,
    pool_hi: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
) -> None:
    """The slots ``[lo, hi)`` of pools ``[pool_lo, pool_hi)`` valued, cached and added into their pools' sums
    (linear figures: the generic rulebook's), as the full revaluation did before the account-major copy."""
    size, entry, instrument, pool, bracket, cached = slots
    figures, haircut = pools.sums, pools.haircut
    at_entry = choices.at_entry
    any_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
    for j in range(lo, hi):
        if j + AHEAD < hi and pool[j + AHEAD] >= 0:
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
        price = market.prices[t.settle[i]]
        new0, new1, new2, new3 = new0 * price, new1 * price, new2 * price, new3 * price
        if p >= 0:
            figures[p, 0] += new0
            figures[p, 1] += new1
            figures[p, 2] += new2
            figures[p, 3] += new3
        cached[j, 0], cached[j, 1], cached[j, 2], cached[j, 3] = new0, new1, new2, new3


@njit(cache=True, parallel=True)
def _instrument_major_on_threads(
    parts: int,
    n_pools: int,
    n_slots: int,
    slots: SlotArrays,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    choices: ChoiceArrays,
) -> None:
    for part in prange(parts):
        pool_lo = -1 if part == 0 else part * n_pools // parts
        pool_hi = (part + 1) * n_pools // parts if part < parts - 1 else n_pools
        _instrument_major(0, n_slots, pool_lo, pool_hi, slots, pools, market, t, choices)


def instrument_major_revaluation(book: RiskBook) -> None:
    """The book's figures from scratch through its instrument blocks (the full revaluation before the copy)."""
    count, rules, pools = book.pool_count, book.rule_arrays, book.pool_arrays()
    book.sums[:] = 0.0
    arrays = (book.slot_arrays(), pools, book.market_arrays, rules.instruments, rules.choices)
    threads = numba.get_num_threads()
    if threads > 1:
        _instrument_major_on_threads(threads, count, book.size.shape[0], *arrays)
    else:
        _instrument_major(0, book.size.shape[0], -1, count, *arrays)
    for asset in range(book.balance.shape[0]):
        holders = np.flatnonzero(book.balance[asset, :count])
        kernels.on_cores(kernels.add_collateral, holders, asset, float(book.prices[asset]), pools, rules.assets)
    kernels.on_cores(kernels.decide, np.arange(count, dtype=np.int64), book.sums, pools, rules.choices)


@uncounted
def _pool_by_pool(
    lo: int,
    hi: int,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
) -> None:
    """Pools ``[lo, hi)`` revalued one at a time from the account-major ``copy`` (linear figures: the generic
    rulebook's): its positions' money, its balances' collateral, its verdict, as the full revaluation did before
    it took the pools in chunks."""
    size, entry, instrument, bracket, first = copy
    balance, haircut, figures, prices = pools.balance, pools.haircut, pools.sums, market.prices
    at_entry = choices.at_entry
    any_at_entry = at_entry[0, 0] or at_entry[0, 1] or at_entry[1, 0] or at_entry[1, 1]
    for p in range(lo, hi):
        cross = haircut[p]
        f0 = f1 = f2 = f3 = 0.0
        for j in range(first[p], first[p + 1]):
            q = size[j]
            if q == 0.0:
                continue
            i = instrument[j]
            new0, new1, new2, new3, k = position_money(
                q, entry[j], i, bracket[j], not cross, any_at_entry, market, t, at_entry
            )
            bracket[j] = k
            price = prices[t.settle[i]]
            f0, f1, f2, f3 = f0 + new0 * price, f1 + new1 * price, f2 + new2 * price, f3 + new3 * price
        for a in range(balance.shape[0]):
            held = balance[a, p]
            if held != 0.0:
                m, n = kernels._collateral(held, a, cross, prices[a], assets)
                f0, f1 = f0 + m, f1 + n
        figures[p, 0], figures[p, 1], figures[p, 2], figures[p, 3] = f0, f1, f2, f3
        pools.liquidatable[p] = terms.is_liquidatable(
            f0, f2, pools.positions, p, choices.threshold, choices.at_equality, choices.without_requirement
        )


@njit(cache=True, parallel=True)
def _pool_by_pool_on_threads(
    bounds: INDEX,
    copy: AccountMajor,
    pools: PoolArrays,
    market: MarketArrays,
    t: InstrumentArrays,
    assets: AssetArrays,
    choices: ChoiceArrays,
) -> None:
    for part in prange(bounds.shape[0] - 1):
        _pool_by_pool(bounds[part], bounds[part + 1], copy, pools, market, t, assets, choices)


def pool_by_pool_revaluation(book: RiskBook) -> None:
    """The full revaluation from the book's account-major copy (built already) pool by pool, every rule term
    compiled in, one range of pools a thread: as the book ran it before the chunks."""
    count, rules, copy = book.pool_count, book.rule_arrays, book.account_major
    threads = numba.get_num_threads()
    entries = int(copy.first[count])
    bounds = np.searchsorted(copy.first[: count + 1], np.arange(threads + 1) * entries // threads)
    bounds[-1] = count
    arrays = (copy, book.pool_arrays(), book.market_arrays, rules.instruments, rules.assets, rules.choices)
    _pool_by_pool_on_threads(bounds, *arrays)


def every_term_revaluation(book: RiskBook) -> None:
    """``RiskBook.revalue`` with its kernel compiled for every rule term (the instruments' arrays untrimmed)."""
    lean = book.rule_arrays
    book.rule_arrays = lean._replace(in_use=lean.instruments)
    try:
        book.revalue()
    finally:
        book.rule_arrays = lean


def rebuilt_revaluation(book: RiskBook) -> None:
    """The full revaluation after an event left the account-major copy stale."""
    book.copy_stale = True
    book.revalue()


def tick_ms(book: RiskBook, instrument: str) -> float:
    """Median time of a new mark on ``instrument``, alternately 0.1 % down and up."""
    mark = book.market.marks[instrument]
    moves = iter([mark * Decimal(f) for f in ("0.999", "1.001") * REPEATS])
    return median_ms(lambda: book.tick(marks={instrument: next(moves)}), REPEATS)


def stripped_arrays(book: RiskBook) -> tuple[np.ndarray, ...]:
    """The stripped kernel's arguments: the book's positions sorted by pool, split in two at a pool's edge."""
    used = np.flatnonzero(book.pool >= 0)
    order = used[np.argsort(book.pool[used], kind="stable")]
    t, marks = book.instruments, book.marks
    instrument = book.instrument[order]
    units = book.size[order] * t.contract_size[instrument]
    inverse = t.inverse[instrument]
    entry_term = np.where(inverse, -1.0 / book.entry[order], book.entry[order])
    pool, bracket = book.pool[order], book.bracket[order].astype(np.int64)
    middle = len(order) // 2
    while middle < len(order) and pool[middle] == pool[middle - 1]:
        middle += 1
    figures = np.zeros((book.pool_count, 4))
    return (
        np.array([0, middle, len(order)]), units, entry_term, instrument, pool, bracket,
        np.where(t.inverse, -1.0 / marks, marks), np.where(t.inverse, 1.0 / marks, marks), t.mmr, book.imr_now,
        t.amount, t.upnl_weight, book.prices[t.settle], figures,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/floor.json"))
    args = parser.parse_args()
    book = RiskBook(synthetic_book(args.accounts, 7), rulebook("generic").rules)
    stripped = stripped_arrays(book)
    passes: dict[str, Callable[[], object]] = {
        "plain_read": lambda: plain_read(book.size, book.entry, book.instrument, book.pool),
        "stripped_account_major": lambda: _stripped_on_cores(*stripped),
        "instrument_major": lambda: instrument_major_revaluation(book),
        "account_major_before": lambda: pool_by_pool_revaluation(book),
        "account_major_every_term": lambda: every_term_revaluation(book),
        "account_major": book.revalue,
        "account_major_rebuilt": lambda: rebuilt_revaluation(book),
    }
    for run in passes.values():
        run()  # compile (or load) before timing
    result: dict[str, float | int] = {"accounts": args.accounts, "positions": book.position_count}
    for name, run in passes.items():
        result[f"{name}_ms"] = median_ms(run, REPEATS)
    for name, run in passes.items():
        result[f"{name}_one_thread_ms"] = median_ms(one_thread(run), REPEATS)
    result["copy_rebuild_ms"] = result["account_major_rebuilt_ms"] - result["account_major_ms"]
    by_size = sorted(range(len(book.instruments.names)), key=lambda k: int(book.block_used[k]))
    median = book.instruments.names[by_size[len(by_size) // 2]]
    result["tick_btc_perp_ms"], result["tick_median_ms"] = tick_ms(book, "BTC-PERP"), tick_ms(book, median)
    copy_bytes = sum(a.nbytes for a in book.account_major)
    result["bytes_per_position"] = book.nbytes() / book.position_count
    result["bytes_per_position_without_copy"] = (book.nbytes() - copy_bytes) / book.position_count
    plain = result["plain_read_ms"]
    for name in passes:
        result[f"{name}_over_plain_read"] = result[f"{name}_ms"] / plain
    table = Table(
        title=f"full revaluation against a plain read ({args.accounts:,} accounts, {book.position_count:,} positions)"
    )
    for column in ("pass", "ms", "over plain read", "one thread ms"):
        table.add_column(column, justify="right")
    for name in passes:
        ms, alone = result[f"{name}_ms"], result[f"{name}_one_thread_ms"]
        table.add_row(name.replace("_", " "), f"{ms:.1f}", f"{ms / plain:.1f}x", f"{alone:.1f}")
    console = Console()
    console.print(table)
    console.print(
        f"ticks: BTC-PERP {result['tick_btc_perp_ms']:.2f} ms, median instrument ({median}) "
        f"{result['tick_median_ms']:.2f} ms; bytes a position {result['bytes_per_position']:.0f} "
        f"({result['bytes_per_position_without_copy']:.0f} without the copy)"
    )
    args.out.write_text(json.dumps({"machine": machine(), "result": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
