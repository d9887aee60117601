"""Realized correlations from snapshots: two hand-worked pairs of returns (without and with decay), a second
method on a long simulated series, assets that join late, snapshots at one time, a gap, and bad input."""

import math

import numpy as np
import pytest

from crossmargin.margin.realized_correlation import RealizedCorrelations
from crossmargin.model import InputError

FOREVER = 1e15  # a half-life so long that every interval weighs the same


def walked(returns: list[tuple[float, float]], half_life_s: float, dt: float = 1.0) -> RealizedCorrelations:
    """An index fed prices from 100 that move by the given log returns of BTC and ETH, one every ``dt`` s."""
    index = RealizedCorrelations(half_life_s)
    btc = eth = 100.0
    index.observe(0.0, {"BTC": btc, "ETH": eth})
    for n, (a, b) in enumerate(returns, start=1):
        btc, eth = btc * math.exp(a), eth * math.exp(b)
        index.observe(n * dt, {"BTC": btc, "ETH": eth})
    return index


def test_two_returns_without_decay_give_their_correlation_about_zero():
    # returns (0.01, 0.02) then (-0.01, 0.01): sum of products 0.0002 - 0.0001 = 0.0001, squares 0.0002 and
    # 0.0005: 0.0001 / sqrt(0.0002 x 0.0005) = 0.0001 / sqrt(1e-7) = 1 / sqrt(10) = 0.316228
    index = walked([(0.01, 0.02), (-0.01, 0.01)], FOREVER)
    assert index.correlation("BTC", "ETH") == pytest.approx(1 / math.sqrt(10), rel=1e-9)
    assert index.correlation("ETH", "BTC") == pytest.approx(1 / math.sqrt(10), rel=1e-9)
    assert index.correlation("BTC", "BTC") == 1.0


def test_a_half_life_of_one_interval_halves_the_older_return():
    # half-life 1 s, dt 1 s: the first return weighs half the second (the intervals' own weight s is the same
    # and cancels): products 0.5 x 0.0002 - 0.0001 = 0, so the correlation is 0
    index = walked([(0.01, 0.02), (-0.01, 0.01)], 1.0)
    assert index.correlation("BTC", "ETH") == pytest.approx(0.0, abs=1e-12)


def test_a_long_series_matches_the_weighted_correlation_computed_directly():
    rng = np.random.default_rng(5)
    rho, n = 0.6, 5000
    z = rng.standard_normal((n, 2))
    a = 0.01 * z[:, 0]
    b = 0.02 * (rho * z[:, 0] + math.sqrt(1 - rho * rho) * z[:, 1])
    half_life = 800.0
    index = walked(list(zip(a.tolist(), b.tolist(), strict=True)), half_life)
    # second method: weights 2^(-age / h) of each return's end time, the same interval weight cancelling
    weights = 2.0 ** (-(n - np.arange(1, n + 1)) / half_life)
    direct = np.sum(weights * a * b) / math.sqrt(np.sum(weights * a * a) * np.sum(weights * b * b))
    assert index.correlation("BTC", "ETH") == pytest.approx(direct, rel=1e-9)
    assert abs(direct - rho) < 0.1  # about 1,150 returns' worth of weight: sd of the estimate ~0.02


def test_an_asset_that_joins_later_counts_only_the_intervals_it_shared():
    index = RealizedCorrelations(FOREVER)
    index.observe(0.0, {"BTC": 100.0})
    index.observe(1.0, {"BTC": 200.0})  # a BTC return ETH did not share
    assert index.correlation("BTC", "ETH") is None
    index.observe(2.0, {"BTC": 200.0 * math.exp(0.01), "ETH": 50.0})
    assert index.correlation("BTC", "ETH") is None  # ETH's first price: no return yet
    index.observe(3.0, {"BTC": 200.0 * math.exp(0.03), "ETH": 50.0 * math.exp(-0.01)})
    # one shared interval: (0.02, -0.01): 1 x -1 / (|0.02| |0.01|) x 0.0002 = -1
    assert index.correlation("BTC", "ETH") == pytest.approx(-1.0)


def test_snapshots_at_one_time_add_nothing_and_the_next_return_spans_from_the_last_before_them():
    once = walked([(0.01, 0.02), (-0.01, 0.01)], 10.0)
    twice = RealizedCorrelations(10.0)
    twice.observe(0.0, {"BTC": 100.0, "ETH": 100.0})
    twice.observe(0.0, {"BTC": 90.0, "ETH": 130.0})  # same instant: not a return over no time
    twice.observe(1.0, {"BTC": 100 * math.exp(0.01), "ETH": 100 * math.exp(0.02)})
    twice.observe(2.0, {"BTC": 100.0, "ETH": 100 * math.exp(0.03)})
    assert twice.correlation("BTC", "ETH") == pytest.approx(once.correlation("BTC", "ETH"), rel=1e-12)


def test_a_gap_longer_than_the_limit_gives_no_return():
    index = RealizedCorrelations(FOREVER, max_gap_s=10.0)
    index.observe(0.0, {"BTC": 100.0, "ETH": 100.0})
    index.observe(100.0, {"BTC": 110.0, "ETH": 120.0})
    assert index.correlation("BTC", "ETH") is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: RealizedCorrelations(0.0), "half_life_s"),
        (lambda: RealizedCorrelations(60.0, max_gap_s=-1.0), "max_gap_s"),
        (lambda: RealizedCorrelations().observe(0.0, {"BTC": -1.0}), "prices.BTC"),
        (lambda: RealizedCorrelations().observe(float("nan"), {"BTC": 1.0}), "t"),
    ],
)
def test_bad_input_names_its_field(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field


def test_time_may_not_run_backwards():
    index = RealizedCorrelations()
    index.observe(5.0, {"BTC": 1.0})
    with pytest.raises(InputError) as err:
        index.observe(4.0, {"BTC": 1.0})
    assert err.value.field == "t"
