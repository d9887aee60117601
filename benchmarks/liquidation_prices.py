"""Every position's liquidation price for the whole book on the array path, against the exact solver.

    NUMBA_CACHE_DIR=... .venv/bin/python benchmarks/liquidation_prices.py [--accounts 100000 1000000]
        [--out benchmarks/liquidation_prices.json]

For each size: a synthetic book (``synthetic_book(N, seed)``, generic rulebook) built into a risk book, then
``book_liquidation_prices`` timed on every core (its first call, which loads or compiles the kernel, reported
apart; then the median of repeats, with their least and each), and the exact solver (``confirmed``:
``evaluate_account`` for one account, every position's liquidation price exact) timed on a sample of accounts
spread over the book, per position, in the same run. The sample's array figures are held to the exact ones
(largest relative difference; NaN exactly where the exact solver gives None). The machine is shared: each row
records the load average when it was measured, and ratios are taken within the run.
"""

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import numba
from rich.console import Console
from rich.table import Table

from crossmargin.engine.book import RiskBook
from crossmargin.engine.liquidation_prices import Outcome, book_liquidation_prices, confirmed
from crossmargin.sim.benchmark import machine
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook


def measure(accounts: int, seed: int, repeats: int, sample: int) -> dict[str, float | int | list[float]]:
    """One book size's figures (seconds unless named otherwise)."""
    portfolio = synthetic_book(accounts, seed)
    book = RiskBook(portfolio, rulebook("generic").rules)
    start = time.perf_counter()
    book_liquidation_prices(book)
    first_call = time.perf_counter() - start
    load = os.getloadavg()[0]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        prices = book_liquidation_prices(book)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    step = max(1, accounts // sample)
    exact_s, exact_positions, worst = 0.0, 0, 0.0
    for account in portfolio.accounts[::step][:sample]:
        start = time.perf_counter()
        figures = confirmed(book, account.id)
        exact_s += time.perf_counter() - start
        exact_positions += len(figures)
        for item in figures:
            mine = float(prices.price[item.slot])
            if item.price is None:
                assert math.isnan(mine), (account.id, item, mine)
            else:
                worst = max(worst, abs(mine - float(item.price)) / float(item.price))
    positions = book.position_count
    held = prices.outcome[prices.pool >= 0]
    array_us = seconds * 1e6 / positions
    exact_us = exact_s * 1e6 / exact_positions
    return {
        "accounts": accounts,
        "positions": positions,
        "seconds": seconds,
        "seconds_min": min(times),
        "seconds_each": times,
        "us_per_position": array_us,
        "exact_us_per_position": exact_us,
        "exact_over_array": exact_us / array_us,
        "first_call_s": first_call,
        "threads": numba.get_num_threads(),
        "load_average": load,
        "priced_share": float((held == Outcome.PRICED).mean()),
        "exact_sample_positions": exact_positions,
        "sample_max_relative_difference": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="accounts priced by the exact solver")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/liquidation_prices.json"))
    args = parser.parse_args()
    console = Console()
    rows = []
    for accounts in args.accounts:
        with console.status(f"{accounts:,} accounts"):
            rows.append(measure(accounts, args.seed, args.repeats, args.sample))
        console.log(rows[-1])
    table = Table(title="liquidation prices of every position: array path vs the exact solver (same run)")
    for name in ("accounts", "positions", "seconds", "least s", "us / position", "exact us / position", "exact / array",
                 "priced", "sample max rel. diff", "load avg"):  # fmt: skip
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            f"{row['accounts']:,}", f"{row['positions']:,}", f"{row['seconds']:.2f}", f"{row['seconds_min']:.2f}",
            f"{row['us_per_position']:.3f}",
            f"{row['exact_us_per_position']:,.0f}", f"{row['exact_over_array']:,.0f}x", f"{row['priced_share']:.1%}",
            f"{row['sample_max_relative_difference']:.1e}", f"{row['load_average']:.2f}",
        )  # fmt: skip
    console.print(table)
    args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
