"""How far the shipped ``october-2025`` path is from the real candles of 10 October 2025, 20:50-22:20 UTC.

The scenario is a table built from published figures (its description says why). The real candles were found
later, in public GitHub repositories (tests/data/crashes/OCTOBER_2025.md gives the sources and the checks):
Binance spot BTC/USDT, ETH/USDT and SOL/USDT at 5 minutes, and Binance USD-M perpetual BTCUSDT and SOLUSDT at
1 minute. This module measures the distance between the path and the real closes; it does not make either one
fit. The figures asserted below are the ones measured. If the scenario changes, they change too, and they
should be updated here and in docs/stress.md.

The real price at scenario time t (seconds from 20:50 UTC) is the close of the bar that ends at t, so t = 0
is the close of the 20:45 bar (5 m) or of the 20:49 bar (1 m). Real prices are turned into factors in two ways:

* ``start``: divided by the scenario's start level. For BTC this is the day's high, $122,574.46, as in the
  yaml. The yaml gives no start level for ETH and SOL, so they are divided by their own 10 October highs
  on the same Binance spot source: ETH 4,393.63 (01:25 UTC bar) and SOL 224.46 (13:40 UTC bar). Those
  bars are outside the saved window, so the two numbers are quoted from the source file (see OCTOBER_2025.md).
* ``t0``: divided by the real price at 20:50. This compares shapes only: a path of factors is applied to a
  book's prices at t = 0, so this is the distance a book actually sees.

Per asset: the RMS of log(path / real) over the grid points in [0, 5400] s (19 five-minute points for the
spot files, 91 one-minute points for the perp files), the trough (the lowest close and when it happens), the
level at 22:20, and the recovery (how much of the fall from t = 0 to the trough had been regained by 22:20).
"""

import csv
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from crossmargin.sim.scenarios.load import load_scenario
from crossmargin.sim.scenarios.paths import generate

RAW = Path(__file__).resolve().parents[2] / "data" / "crashes"
T0 = datetime(2025, 10, 10, 20, 50, tzinfo=UTC)  # the 100 % tariff post: the scenario's t = 0
END = 5400.0  # 22:20 UTC, the scenario's last step
BTC_START = 122_574.46  # the yaml's BTC start level (the day's high, CoinShares)
DAY_HIGH = {"BTC": BTC_START, "ETH": 4_393.63, "SOL": 224.46}  # ETH and SOL: Binance spot, 10 Oct 2025
SPOT = {asset: f"{asset.lower()}usdt_binance_2025-10-10_5m.csv" for asset in ("BTC", "ETH", "SOL")}
PERP = {asset: f"{asset.lower()}usdt_binance-perp_2025-10-10_1m.csv" for asset in ("BTC", "SOL")}


def candles(name: str) -> list[tuple[datetime, float, float]]:
    """(bar open, low, close) of every bar in the file."""
    with open(RAW / name, newline="") as f:
        return [
            (datetime.strptime(row["ts_utc_iso"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), float(row["low"]),
             float(row["close"]))
            for row in csv.DictReader(f)
        ]  # fmt: skip


def real_closes(name: str, bar_seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """(t, close) on the scenario clock for t in [0, END]: t is when the bar ends, seconds after 20:50 UTC."""
    points = [
        ((opened + timedelta(seconds=bar_seconds) - T0).total_seconds(), close) for opened, _, close in candles(name)
    ]
    kept = [(t, close) for t, close in points if 0 <= t <= END]
    times, closes = zip(*kept, strict=True)
    return np.array(times), np.array(closes)


def path_at(asset: str, times: np.ndarray) -> np.ndarray:
    """The shipped scenario's factor for ``asset`` at ``times``, which must lie on its 60 s grid."""
    path = generate(load_scenario("october-2025"), 0, ["BTC", "ETH", "SOL"])
    index = np.searchsorted(path.times, times)
    assert np.array_equal(path.times[index], times), "real closes fall on the scenario's grid"
    return path.factors[asset][index]


def shape(asset: str, name: str, bar_seconds: int, base: str) -> dict[str, float]:
    """The distance figures between the path and the real closes of ``name`` (see the module docstring)."""
    times, closes = real_closes(name, bar_seconds)
    real = closes / (DAY_HIGH[asset] if base == "start" else closes[0])
    path = path_at(asset, times)
    low, path_low = int(np.argmin(real)), int(np.argmin(path))
    return {
        "points": len(times),
        "rms": math.sqrt(float(np.mean(np.log(path / real) ** 2))),
        "real_start": float(real[0]),
        "real_trough": float(real[low]),
        "real_trough_min": times[low] / 60,
        "path_trough": float(path[path_low]),
        "path_trough_min": times[path_low] / 60,
        "real_end": float(real[-1]),
        "path_end": float(path[-1]),
        "real_recovery": float((real[-1] - real[low]) / (real[0] - real[low])),
        "path_recovery": float((path[-1] - path[path_low]) / (path[0] - path[path_low])),
    }


# Measured values, rounded to 4 decimals (factors, RMS, recovery) and compared with an absolute tolerance of
# 0.0001. Trough times are in minutes after 20:50 UTC (30 = 21:20).
# fmt: off
MEASURED = {
    # BTC spot against the yaml's start (122,574.46). The path starts at the day's high, but at 20:50 the
    # market was already 4.6 % below it (116,890.80, close to the path's 117,000 of 21:05). The trough matches in time
    # (21:20) and to within 0.7 % in level: the real close is 103,975.26 (0.848), the path 104,782.88
    # (0.855). The real market then recovered 72 % of its fall by 22:20 (113,213.78, 0.924); the path
    # holds the trough (0.855), 7.4 % too low at 22:20.
    ("BTC", "spot", "start"): dict(points=19, rms=0.0572, real_start=0.9536, real_trough=0.8483, real_trough_min=30,
                                   path_trough=0.8549, path_trough_min=30, real_end=0.9236, path_end=0.8549,
                                   real_recovery=0.7153, path_recovery=0.0),
    # BTC spot from the 20:50 level: the real close fell 11.0 % (the 5 m low, 102,000, is 12.7 % down),
    # the path 14.5 %, and at 22:20 the real price was 3.2 % down against the path's 14.5 %.
    ("BTC", "spot", "t0"): dict(points=19, rms=0.0943, real_start=1.0, real_trough=0.8895, real_trough_min=30,
                                path_trough=0.8549, path_trough_min=30, real_end=0.9685, path_end=0.8549,
                                real_recovery=0.7153, path_recovery=0.0),
    # The BTC perp at 1 minute gives the same picture: lowest close 103,441.30 (21:19 bar), 22:20 at 0.923.
    ("BTC", "perp", "start"): dict(points=91, rms=0.0566, real_start=0.9531, real_trough=0.8439, real_trough_min=30,
                                   path_trough=0.8549, path_trough_min=30, real_end=0.9234, path_end=0.8549,
                                   real_recovery=0.7274, path_recovery=0.0),
    ("BTC", "perp", "t0"): dict(points=91, rms=0.0949, real_start=1.0, real_trough=0.8854, real_trough_min=30,
                                path_trough=0.8549, path_trough_min=30, real_end=0.9688, path_end=0.8549,
                                real_recovery=0.7274, path_recovery=0.0),
    # ETH spot against its day's high (4,393.63): the trough is deeper than the path's -16 % (close 3,500.60,
    # -20.3 %; low 3,435.00, -21.8 %). By 22:20 the price had recovered to 0.883, against the path's 0.840.
    ("ETH", "spot", "start"): dict(points=19, rms=0.0500, real_start=0.9135, real_trough=0.7967, real_trough_min=30,
                                   path_trough=0.8400, path_trough_min=30, real_end=0.8827, path_end=0.8400,
                                   real_recovery=0.7364, path_recovery=0.0),
    # ETH from the 20:50 level (4,013.42): -12.8 % at the trough close (-14.4 % at the low), -3.4 % at 22:20.
    ("ETH", "spot", "t0"): dict(points=19, rms=0.1042, real_start=1.0, real_trough=0.8722, real_trough_min=30,
                                path_trough=0.8400, path_trough_min=30, real_end=0.9663, path_end=0.8400,
                                real_recovery=0.7364, path_recovery=0.0),
    # SOL spot is far from the path's -35 %: lowest close 174.67 at 21:25 (0.778 of the day's high 224.46,
    # 0.843 of the 20:50 level 207.23), low 168.79 (-18.5 % from 20:50). This is the largest distance.
    ("SOL", "spot", "start"): dict(points=19, rms=0.2124, real_start=0.9232, real_trough=0.7782, real_trough_min=35,
                                   path_trough=0.6500, path_trough_min=30, real_end=0.8300, path_end=0.6500,
                                   real_recovery=0.3575, path_recovery=0.0),
    ("SOL", "spot", "t0"): dict(points=19, rms=0.2834, real_start=1.0, real_trough=0.8429, real_trough_min=35,
                                path_trough=0.6500, path_trough_min=30, real_end=0.8990, path_end=0.6500,
                                real_recovery=0.3575, path_recovery=0.0),
    # The SOL perp broke away from spot (17.5 % below it at the 21:15 five-minute close). Its lowest close
    # is 148.52 (21:19 bar, -28.3 % from 20:50) and its low 141.28 (21:21 bar, -31.8 %): this is close to
    # the path's -35 %. It was back at -10.3 % by 22:20.
    ("SOL", "perp", "t0"): dict(points=91, rms=0.2737, real_start=1.0, real_trough=0.7173, real_trough_min=30,
                                path_trough=0.6500, path_trough_min=30, real_end=0.8967, path_end=0.6500,
                                real_recovery=0.6346, path_recovery=0.0),
}
# fmt: on


@pytest.mark.parametrize(("asset", "market", "base"), sorted(MEASURED))
def test_the_distance_between_the_path_and_the_real_closes_is_as_measured(asset, market, base):
    name, bar_seconds = (SPOT[asset], 300) if market == "spot" else (PERP[asset], 60)
    figures = shape(asset, name, bar_seconds, base)
    expected = MEASURED[(asset, market, base)]
    assert figures["points"] == expected["points"]
    for key in ("real_trough_min", "path_trough_min"):
        assert figures[key] == expected[key], key
    for key in expected.keys() - {"points", "real_trough_min", "path_trough_min"}:
        assert figures[key] == pytest.approx(expected[key], abs=1e-4), key


def test_the_path_holds_its_trough_while_every_real_market_recovers():
    # The path falls to its trough at 21:20 and stays there to 22:20: no recovery figure was published.
    # Every real series regained at least a third of its fall by 22:20 (BTC and ETH about three quarters).
    for (asset, market, base), expected in MEASURED.items():
        name, bar_seconds = (SPOT[asset], 300) if market == "spot" else (PERP[asset], 60)
        figures = shape(asset, name, bar_seconds, base)
        assert figures["path_recovery"] == 0
        assert figures["real_recovery"] > 1 / 3, (asset, market)
        assert figures["real_end"] > figures["path_end"] * 1.05, (asset, market, expected)


def test_the_real_btc_lows_against_the_published_figures():
    # The yaml's trough is CoinShares' 104,782.88 (-14.5 %). Binance spot printed 102,000.00 (in its 21:20-21:25
    # bar) and the Binance perp 101,516.50 (in its 21:20 one-minute bar).
    spot_low = min(candles(SPOT["BTC"]), key=lambda bar: bar[1])
    perp_low = min(candles(PERP["BTC"]), key=lambda bar: bar[1])
    assert spot_low[:2] == (datetime(2025, 10, 10, 21, 20, tzinfo=UTC), 102_000.0)
    assert perp_low[:2] == (datetime(2025, 10, 10, 21, 20, tzinfo=UTC), 101_516.5)
    # The scenario's thin BTC-PERP market (21:15-21:25) prices the perp at 0.9676 x the path. At the trough
    # this gives 104,782.88 x 0.9676 = 101,387.9 (the published ~101,389), 0.13 % below the real perp low.
    thin = BTC_START * float(path_at("BTC", np.array([1800.0]))[0]) * 0.9676
    assert thin == pytest.approx(101_388, abs=1)
    assert thin / perp_low[1] - 1 == pytest.approx(-0.0013, abs=1e-4)
    # Measured against spot, the perp was never more than 1.6 % below it on a 5-minute low (21:15 bar:
    # 102,193.60 against 103,800.00). The fault's 3.2 % discount is the perp against the published trough
    # 104,782.88, which is not a Binance spot price: the perp's level is right, its basis to spot is not.
    spot_by_bar = {opened: low for opened, low, _ in candles(SPOT["BTC"])}
    perp_5m: dict[datetime, float] = {}
    for opened, low, _ in candles(PERP["BTC"]):
        start = opened.replace(minute=opened.minute - opened.minute % 5)
        perp_5m[start] = min(low, perp_5m.get(start, math.inf))
    worst = min(perp_5m[bar] / spot_by_bar[bar] - 1 for bar in spot_by_bar)
    assert worst == pytest.approx(-0.0155, abs=5e-4)
