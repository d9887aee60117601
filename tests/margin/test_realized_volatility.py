"""The realized-volatility index: three returns by hand, its units, gaps and bad input; against a simulated
geometric Brownian motion of known volatility (returns at irregular times, and bars for the range
estimators); and on the real crash of 19 May 2021, through which it rises.

The real path is Binance spot BTC/USDT one-minute candles, ``tests/data/crashes/btcusdt_2021-05-19_1m.csv``
(a byte-exact copy of the project's crash data; source per ``tests/data/crashes/MANIFEST.md``: GitHub
``tooyipjee/freqtrade``, ``user_data/data/binance/BTC_USDT-1m.json``, blob
``b50348e94d63c4d8f395822219d0a94b709e84e9``; low 30,000.00 at 2021-05-19 13:10 UTC).
"""

import csv
import math
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from crossmargin.margin.realized_volatility import (
    SECONDS_PER_YEAR,
    Bar,
    EwmaVarianceRate,
    RangeEstimator,
    RangeVarianceRate,
    RealizedVolatility,
    RealizedVolatilityIndex,
    annualized,
    bar_variance,
    per_sqrt_second,
)
from crossmargin.model import InputError

F64 = npt.NDArray[np.float64]
CRASH = Path(__file__).parents[1] / "data" / "crashes" / "btcusdt_2021-05-19_1m.csv"
SIGMA = 0.8  # annualized volatility of the simulated paths
RATE = SIGMA**2 / (365 * 86400)  # its variance rate: 0.64 / 31,536,000 = 2.0294e-8 per second


def walk(times: list[float], log_returns: list[float], half_lives: tuple[float, ...]) -> RealizedVolatility:
    index = RealizedVolatility(half_lives)
    price = 100.0
    index.observe(times[0], price)
    for t, r in zip(times[1:], log_returns, strict=True):
        price *= math.exp(r)
        index.observe(t, price)
    return index


def test_three_returns_by_hand():
    # half-life 60 s; returns 0.01 over 60 s, -0.02 over 60 s, 0.03 over 120 s (times 0, 60, 120, 240).
    # Each instant weighs 2^(-age/60); an interval ending a ages ago and lasting dt weighs
    # c (2^(-a/60) - 2^(-(a+dt)/60)), c = 60 / ln 2; the estimate of the interval is r^2 / dt:
    #   first  (0, 60]:    weight c (2^-3 - 2^-4) = c 0.0625, estimate 1e-4 / 60
    #   second (60, 120]:  weight c (2^-2 - 2^-3) = c 0.125,  estimate 4e-4 / 60
    #   third  (120, 240]: weight c (1 - 2^-2)    = c 0.75,   estimate 9e-4 / 120
    # rate = (0.0625 x 1e-4 / 60 + 0.125 x 4e-4 / 60 + 0.75 x 9e-4 / 120) / (0.0625 + 0.125 + 0.75)
    #      = (1.0416667e-7 + 8.3333333e-7 + 5.625e-6) / 0.9375 = 6.5625e-6 / 0.9375 = 7e-6 per second
    index = walk([0.0, 60.0, 120.0, 240.0], [0.01, -0.02, 0.03], (60.0,))
    assert index.variance_rate() == pytest.approx(7e-6, rel=1e-12)
    assert index.returns == 3
    # annualized: sqrt(7e-6 x 31,536,000) = sqrt(220.752) = 14.8577
    assert index.annualized() == pytest.approx(14.8577, abs=1e-4)
    # without decay (a half-life of 1e12 s) it is the plain realized variance over the 240 s:
    # (1e-4 + 4e-4 + 9e-4) / 240 = 5.8333e-6
    plain = walk([0.0, 60.0, 120.0, 240.0], [0.01, -0.02, 0.03], (1e12,))
    assert plain.variance_rate() == pytest.approx(1.4e-3 / 240, rel=1e-9)


def test_units():
    # a year is 365 x 86,400 = 31,536,000 s, sqrt of it 5,615.69
    assert SECONDS_PER_YEAR == 31_536_000.0
    assert per_sqrt_second(0.8) == pytest.approx(0.8 / 5615.6922, rel=1e-7)
    # 80 % a year is 0.64 / 31,536,000 = 2.0294e-8 of log variance a second
    assert annualized(2.0294266869609335e-8) == pytest.approx(0.8, rel=1e-9)


def test_no_time_no_rate_and_a_long_gap_restarts():
    index = RealizedVolatility((60.0,))
    index.observe(10.0, 100.0)
    assert index.variance_rate() is None  # one price: no return yet
    index.observe(10.0, 101.0)
    assert index.variance_rate() is None  # a return over no time: undefined
    index.observe(70.0, 101.0)
    # the jump ln(1.01)^2 = 9.9007e-5 is counted with no time; 60 s later it weighs 1/2, and the 60 s of no
    # change weigh c (1 - 2^-1) = 43.281 s: rate 0.5 x 9.9007e-5 / 43.281 = 1.1438e-6
    assert index.variance_rate() == pytest.approx(0.5 * math.log(1.01) ** 2 / (60 / math.log(2) * 0.5), rel=1e-12)
    gapped = RealizedVolatility((60.0,), max_gap_s=3600.0)
    gapped.observe(0.0, 100.0)
    gapped.observe(60.0, 100.0 * math.exp(0.01))
    gapped.observe(60.0 + 7200.0, 150.0)  # two hours silent: the jump is not counted, the past decays
    gapped.observe(60.0 + 7260.0, 150.0 * math.exp(0.02))
    # the first interval has aged 2 h + 60 s: weight 2^-121 of the last's, so the rate is the last's alone,
    # 4e-4 / 60 = 6.6667e-6
    assert gapped.variance_rate() == pytest.approx(4e-4 / 60, rel=1e-12)
    assert gapped.returns == 2


def test_range_estimators_by_hand():
    # high / low = e^0.2, close / open = e^0.05 over 60 s
    bar = Bar(0.0, 60.0, 100.0, 100.0 * math.exp(0.1), 100.0 * math.exp(-0.1), 100.0 * math.exp(0.05))
    # Parkinson: 0.2^2 / (4 ln 2) = 0.01 / ln 2 = 0.0144270
    assert bar_variance(bar) == pytest.approx(0.0144269504, rel=1e-9)
    # Garman-Klass: 0.5 x 0.04 - (2 ln 2 - 1) x 0.0025 = 0.02 - 0.386294 x 0.0025 = 0.0190342641
    assert bar_variance(bar, RangeEstimator.GARMAN_KLASS) == pytest.approx(0.0190342641, rel=1e-9)
    smoothed = RangeVarianceRate(60.0)
    smoothed.add(bar)
    assert smoothed.rate == pytest.approx(0.0144269504 / 60, rel=1e-9)
    # a second bar of zero range right after: the first weighs 1/2 (one half-life older), so
    # (0.5 x 0.0144270 + 0) / (0.5 x 60 + 60) = 0.0072135 / 90 = 8.0150e-5
    smoothed.add(Bar(60.0, 60.0, 100.0, 100.0, 100.0, 100.0))
    assert smoothed.rate == pytest.approx(0.5 * 0.0144269504 / 90, rel=1e-9)


def test_bad_input_names_its_field():
    index = RealizedVolatility()
    for price in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(InputError) as error:
            index.observe(0.0, price)
        assert error.value.field == "price"
    index.observe(100.0, 1.0)
    with pytest.raises(InputError) as error:
        index.observe(99.0, 1.0)
    assert error.value.field == "t"
    book = RealizedVolatilityIndex()
    with pytest.raises(InputError) as error:
        book.observe(0.0, {"BTC": -5.0})
    assert error.value.field == "prices.BTC.price"
    with pytest.raises(InputError) as error:
        Bar(0.0, 60.0, 100.0, 99.0, 98.0, 100.0)  # the high below the open
    assert error.value.field == "high"
    with pytest.raises(InputError) as error:
        EwmaVarianceRate(0.0)
    assert error.value.field == "half_life_s"
    with pytest.raises(InputError) as error:
        RealizedVolatilityIndex(())
    assert error.value.field == "half_lives_s"
    smoothed = RangeVarianceRate(60.0)
    smoothed.add(Bar(60.0, 60.0, 1.0, 1.0, 1.0, 1.0))
    with pytest.raises(InputError) as error:
        smoothed.add(Bar(0.0, 60.0, 1.0, 1.0, 1.0, 1.0))
    assert error.value.field == "start"


def interval_weights(times: F64, half_life: float) -> F64:
    """Each interval's weight at the last time (module doc), written out: c (2^(-age_end/h) - 2^(-age_start/h))."""
    age = times[-1] - times
    c = half_life / math.log(2.0)
    weights: F64 = c * (2.0 ** (-age[1:] / half_life) - 2.0 ** (-age[:-1] / half_life))
    return weights


def test_the_return_estimator_recovers_a_known_volatility_at_irregular_times():
    # a driftless Brownian log price at 80 % a year, sampled at irregular times: gaps of 1 s (70 %) and
    # 10 to 60 s (30 %), about 13 days
    rng = np.random.default_rng(20210519)
    n = 100_000
    gaps = np.where(rng.random(n) < 0.7, 1.0, rng.uniform(10.0, 60.0, n))
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    returns = rng.standard_normal(n) * np.sqrt(RATE * gaps)
    index = walk(list(times), list(returns), (3600.0, 86400.0, 1e12))
    for half_life in (3600.0, 86400.0, 1e12):
        # the estimate sum w_j (r_j^2 / dt_j) / sum w_j with r_j^2 / dt_j of variance 2 RATE^2: its standard
        # error is RATE sqrt(2 sum w^2) / sum w: 8.5 % of RATE for an hour's half-life (some 60 effective
        # returns), 1.7 % for a day's, 0.8 % without decay
        w = interval_weights(times, half_life)
        error = RATE * math.sqrt(2.0 * float(np.sum(w * w))) / float(np.sum(w))
        rate = index.variance_rate(half_life)
        assert rate is not None
        assert abs(rate - RATE) <= 4.0 * error
        # the same estimate written as the weighted sum (a second method for the recursion)
        direct = float(np.sum(w * returns**2 / gaps) / np.sum(w))
        assert rate == pytest.approx(direct, rel=1e-9)


def bars_of_a_walk(count: int, seconds: float, substeps: int, seed: int) -> list[Bar]:
    """``count`` bars of a driftless Brownian log price at :data:`RATE`: each bar ``substeps`` normal steps,
    and within each step the high and low of the Brownian bridge between its ends, drawn exactly
    (the maximum of a bridge from a to b of variance v: (a + b + sqrt((b - a)^2 - 2 v ln U)) / 2)."""
    rng = np.random.default_rng(seed)
    v = RATE * seconds / substeps
    steps = rng.standard_normal((count, substeps)) * math.sqrt(v)
    ends = np.cumsum(steps, axis=1)
    starts = np.concatenate([np.zeros((count, 1)), ends[:, :-1]], axis=1)
    spread = (ends - starts) ** 2
    highs = (starts + ends + np.sqrt(spread - 2.0 * v * np.log(rng.random((count, substeps))))) / 2.0
    lows = (starts + ends - np.sqrt(spread - 2.0 * v * np.log(rng.random((count, substeps))))) / 2.0
    return [
        Bar(k * seconds, seconds, 1.0, math.exp(highs[k].max()), math.exp(lows[k].min()), math.exp(ends[k, -1]))
        for k in range(count)
    ]


@pytest.mark.parametrize(
    ("estimator", "variance_of_one"),
    # the variance of one bar's estimate over (RATE W)^2: Parkinson 0.4073 (Parkinson 1980), Garman-Klass
    # 0.2693 (Garman and Klass 1980: efficiency 7.4 against 2 for a squared return)
    [(RangeEstimator.PARKINSON, 0.4073), (RangeEstimator.GARMAN_KLASS, 0.2693)],
)
def test_the_range_estimators_recover_a_known_volatility(estimator: RangeEstimator, variance_of_one: float):
    count = 3000
    smoothed = RangeVarianceRate(1e12, estimator)  # no decay: the plain mean of 3,000 bars
    for bar in bars_of_a_walk(count, 300.0, 64, seed=7):
        smoothed.add(bar)
    assert smoothed.rate is not None
    # standard error of the mean: RATE sqrt(variance_of_one / 3000), 1.2 % (Parkinson) or 0.95 % (GK)
    assert abs(smoothed.rate - RATE) <= 4.0 * RATE * math.sqrt(variance_of_one / count)


def crash_rows() -> list[tuple[float, Bar]]:
    """(close time, bar) of every minute of the file."""
    rows = []
    with CRASH.open(newline="") as handle:
        for row in csv.DictReader(handle):
            start = datetime.fromisoformat(row["ts_utc_iso"].replace("Z", "+00:00")).timestamp()
            prices = [float(row[k]) for k in ("open", "high", "low", "close")]
            rows.append((start + 60.0, Bar(start, 60.0, *prices)))
    return rows


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_index_rises_through_the_crash_of_19_may_2021():
    rows = crash_rows()
    index = RealizedVolatilityIndex()
    index.observe(rows[0][1].start, {"BTC": rows[0][1].open})
    ranges = {e: RangeVarianceRate(3600.0, e) for e in RangeEstimator}
    readings: dict[str, dict[str, float]] = {}
    wanted = {at(s): s for s in ("2021-05-18T12:00:00Z", "2021-05-19T00:00:00Z", "2021-05-19T06:00:00Z",
                                 "2021-05-19T12:00:00Z", "2021-05-19T13:00:00Z", "2021-05-19T14:00:00Z")}  # fmt: skip
    closes, times = [rows[0][1].open], [rows[0][1].start]
    for t, bar in rows:
        index.observe(t, {"BTC": bar.close})
        closes.append(bar.close)
        times.append(t)
        for smoothed in ranges.values():
            smoothed.add(bar)
        if t in wanted:
            btc = index.assets["BTC"]
            reading = {str(h): btc.annualized(h) or 0.0 for h in index.half_lives_s}
            reading |= {str(e): annualized(s.rate or 0.0) for e, s in ranges.items()}
            readings[wanted[t]] = reading
            # a second method on the real path: the weighted sum written out over every minute so far
            w = interval_weights(np.array(times), 3600.0)
            r = np.diff(np.log(np.array(closes)))
            assert btc.variance_rate(3600.0) == pytest.approx(float(np.sum(w * r * r / 60.0) / np.sum(w)), rel=1e-9)
    calm, crash = readings["2021-05-18T12:00:00Z"], readings["2021-05-19T14:00:00Z"]
    hour, day = "3600.0", "86400.0"
    # the hour's index is several times the calm day's at the crash (about 0.8 then, 10 after the low)
    assert crash[hour] > 5.0 * calm[hour]
    # the day's index climbs all through the 19th
    order = ["2021-05-19T00:00:00Z", "2021-05-19T06:00:00Z", "2021-05-19T12:00:00Z", "2021-05-19T13:00:00Z",
             "2021-05-19T14:00:00Z"]  # fmt: skip
    assert all(readings[a][day] < readings[b][day] for a, b in pairwise(order))
    # the range estimators on the same minutes' bars tell the same story, within 25 % of the returns' figure
    for estimator in RangeEstimator:
        assert crash[str(estimator)] > 5.0 * calm[str(estimator)]
        for reading in (calm, crash):
            assert 0.8 < reading[str(estimator)] / reading[hour] < 1.25
