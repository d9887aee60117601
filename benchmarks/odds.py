"""The whole book's liquidation odds on the arrays against the exact per-account odds, on generated books.

    NUMBA_CACHE_DIR=... .venv/bin/python benchmarks/odds.py [--accounts 100000 1000000] [--sample 200]
        [--out benchmarks/odds.json]

For each size: a synthetic book (``synthetic_book(N, 7)``, generic rulebook) built into a risk book; the array
odds (:func:`crossmargin.sim.forecast_odds.book_odds`, a day's horizon, BTC 0.6, ETH 0.7, SOL 0.9, every other
underlying 1.2, the stablecoins 0) timed after a first call that loads the compiled kernels, with the liquidation
prices inside it; then the exact :func:`~crossmargin.margin.first_passage.liquidation_odds` on ``--sample``
accounts spread over the book, timed, its cost per account scaled to the book, and the largest differences. The
ratio is the exact path's estimated whole-book time over the array path's, measured in the same run. The machine
is shared: each row records the load average.
"""

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from crossmargin.engine.book import RiskBook
from crossmargin.margin.first_passage import liquidation_odds
from crossmargin.sim.benchmark import machine
from crossmargin.sim.forecast_odds import book_odds
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook

VOLS = {**{f"ALT{k}": 1.2 for k in range(1, 40)}, "BTC": 0.6, "ETH": 0.7, "SOL": 0.9, "USDT": 0.01, "USDC": 0.01}
DAY = 86400.0


def measure(accounts: int, sample: int) -> dict[str, Any]:
    rules = rulebook("generic").rules
    portfolio = synthetic_book(accounts, 7)
    book = RiskBook(portfolio, rules)
    book_odds(book, DAY, VOLS)
    started = time.perf_counter()
    odds = book_odds(book, DAY, VOLS)
    array_s = time.perf_counter() - started
    where = {a: k for k, a in enumerate(odds.accounts)}
    step = max(1, accounts // sample)
    chosen = portfolio.accounts[::step][:sample]
    worst_abs = worst_rel = 0.0
    started = time.perf_counter()
    for account in chosen:
        exact = liquidation_odds(account, portfolio, rules, DAY, VOLS)
        mine = float(odds.account_probability[where[account.id]])
        worst_abs = max(worst_abs, abs(mine - exact.probability))
        if exact.probability > 1e-9:
            worst_rel = max(worst_rel, abs(mine / exact.probability - 1.0))
    exact_s = time.perf_counter() - started
    exact_book_s = exact_s / len(chosen) * accounts
    return {
        "accounts": accounts, "positions": book.position_count, "array_s": round(array_s, 3),
        "exact_sample": len(chosen), "exact_per_account_ms": round(1e3 * exact_s / len(chosen), 3),
        "exact_book_estimate_s": round(exact_book_s, 1), "ratio": round(exact_book_s / array_s, 1),
        "worst_abs": worst_abs, "worst_rel_above_1e-9": worst_rel, "load": round(os.getloadavg()[0], 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/odds.json"))
    args = parser.parse_args()
    rows = []
    for n in args.accounts:
        rows.append(measure(n, args.sample))
        print(json.dumps(rows[-1]))
        args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n", encoding="utf-8")
    assert all(math.isfinite(r["ratio"]) for r in rows)


if __name__ == "__main__":
    main()
