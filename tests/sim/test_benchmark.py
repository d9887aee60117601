"""The risk-book benchmark: medians of repeats, the plain read's sum, and one small run whose figures agree with
the book it generated (counts from the book itself, ratios and the extrapolation from the run's own times)."""

import time

import numpy as np
import pytest

from crossmargin.engine.book import RiskBook
from crossmargin.sim.benchmark import TICK_INSTRUMENT, bench_book, machine, median_ms, plain_read
from crossmargin.sim.population import synthetic_book
from crossmargin.venues import rulebook

RULES = rulebook("generic").rules


def test_a_time_is_the_median_of_its_repeats_in_milliseconds(monkeypatch: pytest.MonkeyPatch):
    # three calls taking 1 ms, 3 ms and 2 ms on the clock: the median is 2 ms
    ticks = iter([0.0, 0.001, 1.0, 1.003, 2.0, 2.002])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    calls: list[int] = []
    assert median_ms(lambda: calls.append(1), 3) == pytest.approx(2.0, rel=1e-9)
    assert len(calls) == 3


def test_the_plain_read_sums_the_arrays_the_kernel_reads():
    book = RiskBook(synthetic_book(12, 1), RULES)
    expected = book.size.sum() + book.entry.sum() + book.instrument.sum() + book.pool.sum()  # numpy, in order
    assert plain_read(book.size, book.entry, book.instrument, book.pool) == pytest.approx(float(expected), rel=1e-12)


def test_one_small_run_reports_the_book_it_generated():
    stages = list(bench_book(20, 3, RULES, repeats=1))
    assert [label for label, _ in stages] == ["generated", "built", "revalued", "ticked and screened", "done"]
    assert all(result is None for _, result in stages[:-1])
    result = stages[-1][1]
    assert result is not None
    portfolio = synthetic_book(20, 3)  # the same book, counted here
    positions = [p for a in portfolio.accounts for p in a.positions]
    assert (result.accounts, result.positions) == (20, len(positions))
    # one cross pool per account and one per isolated position
    assert result.pools == 20 + sum(1 for p in positions if p.isolated)
    assert result.tick_positions == sum(1 for p in positions if p.instrument == TICK_INSTRUMENT)
    assert result.exact_book_extrapolated_s == pytest.approx(result.exact_account_us * 20 / 1e6, rel=1e-12)
    assert result.revalue_over_plain_read == pytest.approx(result.full_revalue_ms / result.plain_read_ms, rel=1e-12)
    assert result.exact_over_fused == pytest.approx(
        result.exact_account_us * 20 / 1000 / result.full_revalue_ms, rel=1e-12
    )
    assert 0 <= result.liquidatable_accounts <= result.screened_accounts <= 20
    # The compiled exact path holds a cross pool unless it holds an inverse contract (a quotient): this book's
    # numbers all have fewer than 18 digits.
    linear = [
        all(not portfolio.instruments[p.instrument].inverse for p in a.positions if not p.isolated)
        for a in portfolio.accounts
    ]
    assert result.compiled_held == pytest.approx(sum(linear) / 20, rel=1e-12)
    assert result.exact_bytes_per_position > 0
    assert set(result.as_dict()) >= {"accounts", "positions", "full_revalue_ms", "tick_ms", "bytes_per_position"}
    assert np.isfinite(list(result.as_dict().values())).all()


def test_the_machine_is_named():
    found = machine()
    assert set(found) == {"python", "numpy", "cpu", "cores"}
    assert found["numpy"] == np.__version__ and isinstance(found["cores"], int)
