"""The risk-book benchmark: build, full revaluation (on every core and on one), one-instrument tick,
screening and memory, against a plain read of the same arrays and the exact evaluator (``Decimal``, and
compiled over the book's exact columns), all measured in one run.

Times are medians of repeats, in milliseconds unless named otherwise; ratios are taken within the run
(the machine is shared, so absolute times drift and ratios are what to compare).
"""

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal

import numba
import numpy as np
from numba import njit, prange

from crossmargin.engine.book import RiskBook
from crossmargin.engine.book_exact import book_verdicts
from crossmargin.engine.rule_arrays import F64, INDEX
from crossmargin.engine.screening import screen
from crossmargin.margin.account import cross_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import exact
from crossmargin.sim.population import synthetic_book

EXACT_SAMPLE = 200
TICK_INSTRUMENT = "BTC-PERP"


@dataclass(frozen=True)
class BenchResult:
    """One book size's figures (see module doc); ``*_over_*`` fields are within-run ratios. ``full_revalue_ms``
    runs on every core, ``full_revalue_one_thread_ms`` the same kernels on one. ``tick_*`` is a new mark on the
    busiest instrument (BTC-PERP), ``tick_median_*`` on the instrument of median size. ``exact_account_us`` is the
    ``Decimal`` evaluator's figures of one cross pool (a sample); ``compiled_account_us`` the same figures of every
    account's cross pool on the compiled exact path, in one call, per account (``compiled_held``: the share of
    those pools it holds; the rest are not valued in that time), after the book's exact columns were made once
    (``exact_columns_s``; their memory ``exact_bytes_per_position``, apart from the mirror's
    ``bytes_per_position``)."""

    accounts: int
    positions: int
    pools: int
    generate_s: float
    build_s: float
    full_revalue_ms: float
    full_revalue_one_thread_ms: float
    plain_read_ms: float
    tick_ms: float
    tick_positions: int
    tick_median_ms: float
    tick_median_positions: int
    screen_ms: float
    screened_accounts: int
    liquidatable_accounts: int
    bytes_per_position: float
    exact_account_us: float
    exact_book_extrapolated_s: float
    exact_columns_s: float
    exact_bytes_per_position: float
    compiled_account_us: float
    compiled_held: float
    revalue_over_plain_read: float
    one_thread_over_fused: float
    exact_over_fused: float

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a JSON-ready mapping."""
        return asdict(self)


@njit(cache=True, parallel=True)
def plain_read(size: F64, entry: F64, instrument: INDEX, pool: INDEX) -> float:
    """One pass summing the arrays the position kernel reads, on every core like the kernel: the
    memory-bandwidth floor."""
    total = 0.0
    for j in prange(size.shape[0]):
        total += size[j] + entry[j] + instrument[j] + pool[j]
    return total


def one_thread(run: Callable[[], object]) -> Callable[[], None]:
    """``run`` with Numba's parallel kernels held to one thread (the book runs each in this thread then)."""

    def on_one() -> None:
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            run()
        finally:
            numba.set_num_threads(threads)

    return on_one


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``run``, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _tick_ms(book: RiskBook, instrument: str, repeats: int) -> float:
    """Median time of a new mark on ``instrument`` (alternating 0.1% down and up)."""
    mark = book.market.marks[instrument]
    moves = iter([mark * Decimal(f) for f in ("0.999", "1.001") * (repeats * 2)])
    return median_ms(lambda: book.tick(marks={instrument: next(moves)}), repeats)


def _exact_per_account_us(portfolio: Portfolio, rules: RuleChoices, sample: int) -> float:
    """Median time of the exact evaluator's margin figures (cross pool) for one account, in microseconds."""
    step = max(1, len(portfolio.accounts) // sample)
    accounts = portfolio.accounts[::step][:sample]
    times = []
    for account in accounts:
        start = time.perf_counter()
        with exact():
            evaluate_pool(cross_pool(account), portfolio, rules)
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def bench_book(
    accounts: int, seed: int, rules: RuleChoices, repeats: int = 7
) -> Iterator[tuple[str, BenchResult | None]]:
    """Measure one book size; yields a progress label after each stage and the result last."""
    gc.collect()
    start = time.perf_counter()
    portfolio = synthetic_book(accounts, seed)
    generate_s = time.perf_counter() - start
    yield "generated", None
    start = time.perf_counter()
    book = RiskBook(portfolio, rules)
    build_s = time.perf_counter() - start
    yield "built", None
    full = median_ms(book.revalue, repeats)
    full_one_thread = median_ms(one_thread(book.revalue), max(1, repeats // 2))
    plain_read(book.size, book.entry, book.instrument, book.pool)
    plain = median_ms(lambda: plain_read(book.size, book.entry, book.instrument, book.pool), repeats)
    yield "revalued", None
    tick = _tick_ms(book, TICK_INSTRUMENT, repeats)
    i = book.instruments.index(TICK_INSTRUMENT)
    by_size = sorted(range(len(book.instruments.names)), key=lambda k: int(book.block_used[k]))
    median = by_size[len(by_size) // 2]
    tick_median = _tick_ms(book, book.instruments.names[median], repeats)
    result = screen(book)
    screen_ms = median_ms(lambda: screen(book), max(1, repeats // 2))
    yield "ticked and screened", None
    exact_us = _exact_per_account_us(portfolio, rules, EXACT_SAMPLE)
    book.exact = None  # made again from the accounts, timed (the screen may have made them)
    mirror_bytes = book.nbytes()
    start = time.perf_counter()
    book.exact_columns()
    columns_s = time.perf_counter() - start
    cross = np.array([book.cross_pool[a.id] for a in portfolio.accounts], dtype=np.int64)
    held = float(book_verdicts(book, cross).ok.mean())
    compiled_us = median_ms(lambda: book_verdicts(book, cross), repeats) * 1e3 / accounts
    positions = book.position_count
    yield (
        "done",
        BenchResult(
            accounts=accounts,
            positions=positions,
            pools=book.pool_count,
            generate_s=generate_s,
            build_s=build_s,
            full_revalue_ms=full,
            full_revalue_one_thread_ms=full_one_thread,
            plain_read_ms=plain,
            tick_ms=tick,
            tick_positions=int(book.block_used[i]),
            tick_median_ms=tick_median,
            tick_median_positions=int(book.block_used[median]),
            screen_ms=screen_ms,
            screened_accounts=result.accounts_at_risk,
            liquidatable_accounts=len(result.liquidatable),
            bytes_per_position=mirror_bytes / max(1, positions),
            exact_bytes_per_position=(book.nbytes() - mirror_bytes) / max(1, positions),
            exact_account_us=exact_us,
            exact_book_extrapolated_s=exact_us * accounts / 1e6,
            exact_columns_s=columns_s,
            compiled_account_us=compiled_us,
            compiled_held=held,
            revalue_over_plain_read=full / plain if plain > 0 else float("nan"),
            one_thread_over_fused=full_one_thread / full if full > 0 else float("nan"),
            exact_over_fused=exact_us * accounts / 1000.0 / full if full > 0 else float("nan"),
        ),
    )


def machine() -> dict[str, str | int]:
    """What the figures were measured on."""
    import os
    import platform

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count() or 0,
    }
