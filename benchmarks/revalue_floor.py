"""How close can a full revaluation get to a plain read? A lower bound measured in one run.

    .venv/bin/python benchmarks/revalue_floor.py [--accounts 1000000] [--out benchmarks/floor.json]

Three passes over the same synthetic book, on both cores:

- *plain read*: sum the position arrays (the memory-bandwidth floor, as in ``benchmarks/risk_book.py``);
- *stripped kernel, account-major*: the positions sorted by pool (each account's positions contiguous,
  so pool rows are written in order) and the least margin arithmetic there is: notional, PnL, a rate
  and an amount from the bracket already known (no search, no fees, no rounding, no size premium),
  counted PnL, scaled by the settle price, added into the pool's four figures;
- *the book's full revaluation* (``RiskBook.revalue``: every rule term, instrument-major blocks).

The stripped kernel is not a margin engine (it cannot find a bracket); it bounds from below what any
scalar kernel in the best layout costs here. Figures: medians of repeats, milliseconds.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from numba import njit, prange
from rich.console import Console
from rich.table import Table

from crossmargin.engine.book import RiskBook
from crossmargin.engine.rule_arrays import F64, INDEX
from crossmargin.sim.benchmark import machine, median_ms, plain_read
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/floor.json"))
    args = parser.parse_args()
    book = RiskBook(synthetic_book(args.accounts, 7), rulebook("generic").rules)
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
    stripped = (
        np.array([0, middle, len(order)]), units, entry_term, instrument, pool, bracket,
        np.where(t.inverse, -1.0 / marks, marks), np.where(t.inverse, 1.0 / marks, marks), t.mmr, book.imr_now,
        t.amount, t.upnl_weight, book.prices[t.settle], figures,
    )  # fmt: skip
    _stripped_on_cores(*stripped)  # compile (or load) before timing
    plain = median_ms(lambda: plain_read(book.size, book.entry, book.instrument, book.pool), 9)
    floor = median_ms(lambda: _stripped_on_cores(*stripped), 9)
    full = median_ms(book.revalue, 9)
    rows = {"accounts": args.accounts, "positions": len(order), "plain_read_ms": plain,
            "stripped_account_major_ms": floor, "full_revalue_ms": full,
            "stripped_over_plain_read": floor / plain, "full_over_plain_read": full / plain}  # fmt: skip
    table = Table(title=f"full revaluation against a plain read ({args.accounts:,} accounts, {len(order):,} positions)")
    for column in ("pass", "ms", "over plain read"):
        table.add_column(column, justify="right")
    table.add_row("plain read", f"{plain:.1f}", "1.0x")
    table.add_row("stripped kernel, account-major", f"{floor:.1f}", f"{floor / plain:.1f}x")
    table.add_row("RiskBook.revalue", f"{full:.1f}", f"{full / plain:.1f}x")
    Console().print(table)
    args.out.write_text(json.dumps({"machine": machine(), "result": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
