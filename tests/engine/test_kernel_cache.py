"""Numba's on-disk cache across processes: every cached kernel compiled once, then loaded, never added to.

Forty fresh processes build risk books against one cache directory (``NUMBA_CACHE_DIR``): under the plain,
the folded (uPnL inside the settle collateral) and the scenario-grid rules, each once in this thread and
once with the parallel thresholds lowered to one item (``kernels.PARALLEL_ITEMS`` and the book's slot
threshold) so that every spreading kernel runs on two threads; then a tick, a balance change, every position's
liquidation price, the whole book's liquidation odds, a forecast's sweep of the liquidation prices, the
insurance fund's cover of a forecast round's shortfalls and the compiled exact figures of every pool (generic
rules) and the benchmark's plain read. Every process must succeed; after the first, no cached kernel may miss
its cache and the cache directory must not change. A kernel that misses in every process (as one typed by its
dispatcher object does) adds an entry to its index each time, and from about the 33rd
process on saving the index fails.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import crossmargin

PROCESSES = 40
TIMEOUT_S = 600  # a cold compile of every kernel, on a busy machine

CHILD = """
import importlib, json, sys
from dataclasses import replace
from decimal import Decimal

import numpy as np
from numba.core.dispatcher import Dispatcher

from crossmargin.engine import book as book_module
from crossmargin.engine import kernels
from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_exact import book_verdicts
from crossmargin.engine.liquidation_prices import book_liquidation_prices
from crossmargin.sim.benchmark import plain_read
from crossmargin.sim.forecast_odds import book_odds
from crossmargin.sim.forecast_sizing import cover
from crossmargin.sim.forecast_sweep import Crossings, Sweep
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook

portfolio = synthetic_book(40, seed=5)
holder = portfolio.accounts[0].id
marks = {"BTC-PERP": portfolio.market.marks["BTC-PERP"] * Decimal("0.9")}
prices = {"BTC": portfolio.market.prices["BTC"] * Decimal("0.9")}
serial = (kernels.PARALLEL_ITEMS, book_module._PARALLEL_SLOTS)
for thresholds in (serial, (1, 1)):
    kernels.PARALLEL_ITEMS, book_module._PARALLEL_SLOTS = thresholds
    for name in ("generic", "bybit-uta", "scenario-margin"):
        book = RiskBook(portfolio, rulebook(name).rules)
        book.tick(marks=marks, prices=prices)
        account = book.accounts[holder]
        book.set_account(replace(account, balances={**account.balances, "USDT": Decimal(100)}))
        priced = book_liquidation_prices(book)
        if name == "generic":
            exposed = {*book.assets.names, *(spec.underlying for spec in book.instrument_table.values())}
            book_odds(book, 86400.0, dict.fromkeys(exposed, 0.5))
            sweep = Sweep(Crossings(priced, book.marks))
            sweep.restate(np.array([0]), np.array([1.0]), np.array([0]), book.marks)
            sweep.crossed(book.marks * 0.5, book.marks, book.marks * 0.5)
            cover(np.array([2.0, 0.0, 1.0]), np.array([2.0, 0.0, 1.0]), 1.5, rulebook(name).liquidation)
            book_verdicts(book, np.arange(book.pool_count))
plain_read(book.size, book.entry, book.instrument, book.pool)
stats = {}
for module_name in sys.argv[1:]:
    for attr, value in vars(importlib.import_module(module_name)).items():
        if isinstance(value, Dispatcher) and value.py_func.__module__ == module_name and value.stats.cache_path:
            stats[module_name + "." + attr] = {
                "hits": sum(value.stats.cache_hits.values()),
                "misses": sum(value.stats.cache_misses.values()),
                "inlined": value.targetoptions.get("inline") == "always",
            }
print(json.dumps(stats))
"""


def cached_modules() -> list[str]:
    """The package's modules that declare a kernel cached on disk."""
    root = Path(crossmargin.__file__).parent
    return sorted(
        ".".join(("crossmargin", *path.relative_to(root).with_suffix("").parts))
        for path in root.rglob("*.py")
        if "cache=True" in path.read_text(encoding="utf-8")
    )


def cache_files(directory: Path) -> dict[str, int]:
    """Every file of the cache directory (indexes and compiled data) with its size."""
    return {str(path.relative_to(directory)): path.stat().st_size for path in directory.rglob("*") if path.is_file()}


def test_every_cached_kernel_is_compiled_once_and_then_loaded(tmp_path: Path) -> None:
    modules = cached_modules()
    assert {"crossmargin.engine.kernels", "crossmargin.engine.risk_requirements"} <= set(modules)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "2"}

    def build() -> dict[str, dict[str, int | bool]]:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *modules], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        assert done.returncode == 0, done.stderr[-3000:]
        stats: dict[str, dict[str, int | bool]] = json.loads(done.stdout)
        return stats

    first = build()
    files = cache_files(tmp_path)
    assert any(name.endswith(".nbi") for name in files) and any(name.endswith(".nbc") for name in files)
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = list(pool.map(lambda _: build(), range(PROCESSES - 1)))
    for stats in later:
        assert {name: s["misses"] for name, s in stats.items() if s["misses"]} == {}
    assert cache_files(tmp_path) == files
    # every kernel that is compiled on its own (not inlined into its callers) ran in the first process
    compiled = {name for name, s in first.items() if not s["inlined"]}
    assert compiled and {name for name in compiled if first[name]["hits"] + first[name]["misses"] == 0} == set()
