"""The stress-scenario library: loading and validation, path maths, determinism, composition, real data.

Expected numbers are derived by hand (arithmetic in the comments) or by a second, independent method:
the real-data scenarios are checked against the raw exchange candles in the shared crash-data folder,
read here with plain Python (tests/data/crashes: byte-exact copies of the files the tests need).
"""

import csv
import hashlib
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.load import library, load_scenario, scenario_from_dict
from crossmargin.sim.scenarios.model import Depeg, Scenario, Spike, StaleSource, ThinMarket

RAW = Path(__file__).resolve().parents[2] / "data" / "crashes"  # byte-exact copies, cited in its MANIFEST.md
BOOK = ["BTC", "ETH", "SOL", "LUNA", "FTT", "UST", "USDT", "USDC", "USDE", "ALT1", "ALT2"]
YEAR = 365 * 86400


def drawdown(prices: Any) -> float:
    """Deepest fall from a running peak, as a fraction (-0.3 is 30 % down): plain Python."""
    peak, deepest = float(prices[0]), 0.0
    for price in prices:
        peak = max(peak, float(price))
        deepest = min(deepest, float(price) / peak - 1)
    return deepest


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw_prices(parts: list[tuple[str, int, str | None, str | None]], start: str, end: str) -> list[float]:
    """First open, then every close, of the raw bars that open at/after ``start`` and close by ``end``.

    ``parts``: (file, bar seconds, first bar open, last bar open) in order (bounds None: no bound).
    """
    begin, finish = utc(start), utc(end)
    prices: list[float] = []
    for name, seconds, low, high in parts:
        with open(RAW / name, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for row in reader:
                opened = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
                if opened < begin or opened + timedelta(seconds=seconds) > finish:
                    continue
                if (low and opened < utc(low)) or (high and opened > utc(high)):
                    continue
                if not prices:
                    prices.append(float(row[1]))
                prices.append(float(row[4]))
    return prices


def base(**changes: Any) -> dict[str, Any]:
    """A small valid scenario document; ``changes`` replace top-level keys."""
    doc: dict[str, Any] = {
        "name": "test",
        "step_seconds": 60,
        "steps": 10,
        "assets": {
            "BTC": {"table": [[0, 1.0], [300, 0.8]]},
            "ETH": {"table": [[0, 1.0], [600, 0.7]]},
            "SOL": {"gbm": {"sigma": 1.2}},
            "XRP": {"gbm": {"sigma": 0.9}},
        },
        "faults": [{"stale": {"symbol": "BTC", "source": "s1", "start": 0, "end": 60}}],
    }
    doc.update(changes)
    return doc


# --- the library --------------------------------------------------------------------------------

NAMES = [
    "march-2020",
    "may-2021",
    "luna-2022",
    "ftx-2022",
    "usdc-depeg-2023",
    "october-2025",
    "flash-crash",
    "monte-carlo-crash",
]


def test_library_holds_the_named_scenarios():
    assert sorted(library()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_loads_and_gives_finite_positive_factors(name):
    scenario = library()[name]
    assert load_scenario(name) is scenario
    assert scenario.name == name and scenario.title and scenario.description
    assert scenario.sources and all(what and where for what, where in scenario.sources)
    assert scenario.others is not None, "a '*' rule moves the generated book's alts"
    path = scenario.path(3, BOOK)
    n = scenario.steps + 1
    assert path.times.shape == (n,) and path.times[0] == 0
    assert path.times[-1] == scenario.steps * scenario.step_seconds
    assert set(path.factors) == set(BOOK)
    for asset, factor in path.factors.items():
        assert factor.shape == (n,) and factor.dtype == np.float64, asset
        assert np.all(np.isfinite(factor)) and np.all(factor > 0), asset
        assert factor[0] == 1.0, asset
    assert np.all(path.factors["USDT"] == 1.0) and np.all(path.factors["USDC"] == 1.0)
    assert not np.all(path.factors["ALT1"] == 1.0)
    assert path.depth.shape == (n,) and np.all(path.depth > 0)
    for fault in path.faults:
        assert getattr(fault, "source", "s1") in ("s1", "s2", "s3")
    assert not path.factors["BTC"].flags.writeable


def test_only_monte_carlo_is_stochastic():
    assert {name for name, s in library().items() if s.stochastic} == {"monte-carlo-crash"}


# --- real data: the paths against the raw candles ----------------------------------------------

# (scenario, asset, raw parts, window, tolerance): tolerance 0 where the scenario's grid hits every raw
# close (grid = bar or finer), else the drawdown may be shallower by up to 1 percentage point.
MARCH_2020 = ("2020-03-12T00:00", "2020-03-13T04:37")
MAY_2021 = ("2021-05-19T00:00", "2021-05-20T00:00")
LUNA_2022 = ("2022-05-07T00:00", "2022-05-13T00:40")
FTX_2022 = ("2022-11-07T00:00", "2022-11-12T00:00")
USDC_2023 = ("2023-03-10T00:00", "2023-03-13T18:00")
BTC_2020 = [
    ("btcusdt_2020-03-12_5m_PARTIAL.csv", 300, None, "2020-03-12T16:30"),  # spot bars opening by 16:30
    ("btcusdt_perp_2020-03-12_1m_PARTIAL.csv", 60, "2020-03-12T16:35", None),  # then perp bars from 16:35
]
REAL = [
    ("march-2020", "BTC", BTC_2020, MARCH_2020, 0.0),
    ("march-2020", "ETH", [("ethusdt_2020-03-12_5m.csv", 300, None, None)], MARCH_2020, 0.0),
    ("may-2021", "BTC", [("btcusdt_2021-05-19_1m.csv", 60, None, None)], MAY_2021, 0.0),
    ("may-2021", "ETH", [("ethusdt_2021-05-19_1m.csv", 60, None, None)], MAY_2021, 0.0),
    ("luna-2022", "LUNA", [("lunausdt_2022-05-07_1m.csv", 60, None, None)], LUNA_2022, 0.01),
    ("luna-2022", "BTC", [("btcusdt_2022-05-07_5m.csv", 300, None, None)], LUNA_2022, 0.0),
    ("luna-2022", "ETH", [("ethusdt_2022-05-07_5m.csv", 300, None, None)], LUNA_2022, 0.0),
    ("ftx-2022", "BTC", [("btcusdt_2022-11-08_5m.csv", 300, None, None)], FTX_2022, 0.0),
    ("ftx-2022", "ETH", [("ethusdt_2022-11-08_5m.csv", 300, None, None)], FTX_2022, 0.0),
    ("ftx-2022", "SOL", [("solusdt_2022-11-08_3m.csv", 180, None, None)], FTX_2022, 0.01),
    ("usdc-depeg-2023", "BTC", [("btcusdt_kucoin_2023-03-10_1m.csv", 60, None, None)], USDC_2023, 0.01),
    ("usdc-depeg-2023", "ETH", [("ethusdt_kucoin_2023-03-10_1m.csv", 60, None, None)], USDC_2023, 0.01),
]


@pytest.mark.parametrize(("name", "asset", "parts", "window", "tolerance"), REAL, ids=[f"{r[0]}-{r[1]}" for r in REAL])
def test_real_path_drawdown_equals_the_raw_candles(name, asset, parts, window, tolerance):
    raw = drawdown(raw_prices(parts, *window))
    path = drawdown(library()[name].path(0, [asset]).factors[asset])
    # the grid samples a subset of the raw closes, so the path's fall is never deeper than the raw one
    assert raw - 1e-12 <= path <= raw + tolerance + 1e-12


# The published figures (research/incidents.md) each real-data path must be of the order of; the
# scenario's window and closes differ from the quoted peak/trough, hence the 10-point tolerance.
FIGURES = [
    ("march-2020", "BTC", 3596 / 7353 - 1),  # BitMEX 7,353 -> 3,596: -51.1 %
    ("march-2020", "ETH", 90 / 171 - 1),  # 171 -> ~90: -47.4 %
    ("may-2021", "BTC", 30000 / 43000 - 1),  # 43,000 -> 30,000: -30.2 %
    ("may-2021", "ETH", -0.43),  # -40 to -46 %
    ("luna-2022", "LUNA", 0.0001 / 80 - 1),  # ~80 -> ~0.0001: -99.9999 %
    ("ftx-2022", "BTC", 15625 / 21000 - 1),  # >21,000 -> 15,625: -25.6 %
    ("october-2025", "BTC", 104782.88 / 122574.46 - 1),  # -14.5 %
    ("october-2025", "SOL", -0.345),  # -31 to -38 %
]


@pytest.mark.parametrize(("name", "asset", "figure"), FIGURES, ids=[f"{f[0]}-{f[1]}" for f in FIGURES])
def test_paths_are_of_the_order_of_the_published_figures(name, asset, figure):
    assert drawdown(library()[name].path(0, [asset]).factors[asset]) == pytest.approx(figure, abs=0.1)


def test_luna_btc_trough_is_the_published_low():
    # BTC low $26,700 on 12 May 2022 (a wick); the scenario's first price is the 05-07 00:00 open
    # 36,013.77 and its lowest close must sit within 1 % above the wick.
    trough = 36013.77 * float(library()["luna-2022"].path(0, ["BTC"]).factors["BTC"].min())
    assert 26700 <= trough <= 26700 * 1.01


def test_october_2025_btc_table_by_hand():
    btc = library()["october-2025"].path(0, ["BTC"]).factors["BTC"]
    # minute 15 (t = 900): 117,000 / 122,574.46 = 0.954521...; minute 30 and after: 104,782.88 / 122,574.46
    assert btc[15] == pytest.approx(117000 / 122574.46, rel=1e-12)
    assert btc[30] == pytest.approx(0.8548515, rel=1e-6) and btc[90] == btc[30]
    # minute 10: a third of the way from 1 to 0.954521 (linear): 1 - 0.045479 x 10/15 = 0.969681
    assert btc[10] == pytest.approx(1 - (1 - 117000 / 122574.46) * 10 / 15, rel=1e-12)


def test_usdc_depeg_records_are_the_quarter_hour_closes():
    faults = library()["usdc-depeg-2023"].faults
    records = [f for f in faults if isinstance(f, Depeg)]
    # 03-10 20:00 (t = 72,000) to 03-13 18:00 (t = 324,000): 252,000 s / 900 s = 280 records
    assert len(records) == 280
    assert [(r.start, r.end) for r in records[:2]] == [(72000, 72900), (72900, 73800)]
    assert {(r.asset, r.source) for r in records} == {("USDC", "s3")}
    # the price at a quarter hour s is the close of the raw 1m bar that closes at s (opens at s - 60 s)
    closes: dict[datetime, float] = {}
    with open(RAW / "usdcusdt_kucoin_2023-03-10_1m.csv", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            closes[datetime.fromisoformat(row[0].replace("Z", "+00:00")) + timedelta(minutes=1)] = float(row[4])
    start = utc("2023-03-10T00:00")
    for record in records:
        assert record.price == closes[start + timedelta(seconds=record.start)]
    lowest = min(r.price for r in records)
    assert lowest == pytest.approx(0.8774, abs=0.01)  # CoinMarketCap trough $0.8774 (-12.3 %)


# --- tables and follow rules --------------------------------------------------------------------


def test_inline_table_is_linear_between_points_and_held_after():
    doc = {
        "name": "t",
        "step_seconds": 600,
        "steps": 14,
        "assets": {"ETH": {"table": [[0, 1.0], [3600, 0.7], [7200, 0.8]]}},
    }
    eth = scenario_from_dict(doc).path(0, ["ETH"]).factors["ETH"]
    assert eth[3] == pytest.approx(0.85)  # t = 1800: 1 + (0.7 - 1) x 1800/3600
    assert eth[6] == pytest.approx(0.7)  # t = 3600
    assert eth[9] == pytest.approx(0.75)  # t = 5400: 0.7 + (0.8 - 0.7) x 1800/3600
    assert eth[14] == pytest.approx(0.8)  # t = 8400, after the last point: held


def test_file_table_holds_the_last_price_and_divides_by_the_first(tmp_path):
    (tmp_path / "px.csv").write_text("t,price\n0,100\n90,80\n200,120\n")
    (tmp_path / "s.yaml").write_text("name: s\nstep_seconds: 60\nassets:\n  X: {table: {file: px.csv}}\n")
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.steps == 4  # steps omitted: the table's span 200 s / 60 s, rounded up
    x = scenario.path(0, ["X"]).factors["X"]
    # t = 0, 60: 100/100; t = 120, 180: 80/100 (held from t = 90); t = 240: 120/100
    assert x.tolist() == pytest.approx([1.0, 1.0, 0.8, 0.8, 1.2])


def test_prices_table_divides_by_the_first_price():
    doc = {"name": "t", "step_seconds": 30, "assets": {"X": {"table": {"prices": [[0, 200], [60, 150]]}}}}
    assert scenario_from_dict(doc).path(0, ["X"]).factors["X"].tolist() == pytest.approx([1.0, 0.875, 0.75])


def test_follow_is_the_power_of_the_followed_factor():
    path = library()["flash-crash"].path(0, ["BTC", "ETH", "ALT1"])
    btc, eth, alt = path.factors["BTC"], path.factors["ETH"], path.factors["ALT1"]
    at = 60  # t = 600 s: BTC at its -25 % bottom
    assert btc[at] == 0.75
    assert alt[at] == pytest.approx(0.75 * math.sqrt(0.75), rel=1e-14)  # 0.75 ** 1.5 = 0.649519...
    assert eth[at] == pytest.approx(math.exp(1.2 * math.log(0.75)), rel=1e-14)  # 0.75 ** 1.2 = 0.708054...
    assert np.allclose(np.log(alt), 1.5 * np.log(btc), rtol=0, atol=1e-14)


def test_factors_stay_finite_and_positive_on_absurd_parameters():
    doc = {"name": "x", "step_seconds": 86400, "steps": 2000, "assets": {"X": {"gbm": {"sigma": 1, "mu": -200}}}}
    x = scenario_from_dict(doc).path(0, ["X"]).factors["X"]  # log drift -200/365 a day: -1096 over 2000 days
    assert np.all(x > 0) and np.all(np.isfinite(x))


def test_unnamed_asset_without_a_star_rule_stays_at_one():
    scenario = scenario_from_dict(base())
    assert scenario.others is None
    assert np.all(scenario.path(0, ["DOGE"]).factors["DOGE"] == 1.0)


# --- stochastic paths: statistics against the closed form ---------------------------------------


def log_returns(factor: np.ndarray) -> np.ndarray:
    return np.diff(np.log(factor))


def test_gbm_log_returns_match_the_closed_form():
    n = 100_000
    doc = {"name": "g", "step_seconds": 3600, "steps": n, "assets": {"X": {"gbm": {"sigma": 0.8, "mu": 5.0}}}}
    r = log_returns(scenario_from_dict(doc).path(11, ["X"]).factors["X"])
    dt = 3600 / YEAR  # 1/8760 of a year
    mean = (5.0 - 0.8**2 / 2) * dt  # 4.68 / 8760 = 5.342e-4
    variance = 0.8**2 * dt  # 0.64 / 8760 = 7.306e-5
    assert abs(r.mean() - mean) < 4 * math.sqrt(variance / n)  # 4 standard errors of the mean
    assert abs(r.var() - variance) < 4 * variance * math.sqrt(2 / n)  # 4 standard errors of the variance


def test_jump_diffusion_log_returns_match_the_closed_form():
    n = 100_000
    # mu = 87.6 a year is +0.01 an hour: it offsets the jumps' -0.01 an hour, so that the path neither
    # underflows nor overflows over 100,000 hours
    jump = {"sigma": 0.5, "mu": 87.6, "intensity": 24, "mean": -0.01, "sd": 0.005}
    doc = {"name": "j", "step_seconds": 3600, "steps": n, "assets": {"X": {"jump": jump}}}
    r = log_returns(scenario_from_dict(doc).path(5, ["X"]).factors["X"])
    dt, lam = 3600 / YEAR, 24 * 3600 / 86400  # one jump an hour on average
    mean = (87.6 - 0.5**2 / 2) * dt + lam * -0.01  # 0.01 - 1.427e-5 - 0.01 = -1.427e-5
    variance = 0.5**2 * dt + lam * (0.005**2 + 0.01**2)  # 2.854e-5 + 1.25e-4 = 1.535e-4
    assert abs(r.mean() - mean) < 4 * math.sqrt(variance / n)
    assert r.var() == pytest.approx(variance, rel=0.05)


def test_garch_keeps_the_long_run_variance_and_clusters():
    n = 100_000
    garch = {"sigma": 0.8, "alpha": 0.1, "beta": 0.85}
    doc = {
        "name": "g",
        "step_seconds": 3600,
        "steps": n,
        "assets": {"X": {"garch": garch}, "Y": {"gbm": {"sigma": 0.8}}},
    }
    path = scenario_from_dict(doc).path(2, ["X", "Y"])
    variance = 0.8**2 * 3600 / YEAR  # omega / (1 - alpha - beta) = sigma² dt
    x, y = log_returns(path.factors["X"]), log_returns(path.factors["Y"])
    assert x.var() == pytest.approx(variance, rel=0.1)

    def lag1(values: np.ndarray) -> float:
        squared = (values - values.mean()) ** 2
        return float(np.corrcoef(squared[:-1], squared[1:])[0, 1])

    assert lag1(x) > 0.1  # volatility clusters
    assert abs(lag1(y)) < 0.02  # GBM does not: 0 within 4 / sqrt(n) ≈ 0.013


def test_correlated_shocks_have_the_configured_correlation():
    n = 100_000
    assets = {name: {"gbm": {"sigma": 1.0}} for name in ("A", "B", "C")}
    correlation = {"A": {"B": 0.8, "C": 0.7}, "B": {"C": 0.75}}
    doc = {"name": "c", "step_seconds": 60, "steps": n, "assets": assets, "correlation": correlation}
    path = scenario_from_dict(doc).path(4, ["A", "B", "C"])
    r = {k: log_returns(v) for k, v in path.factors.items()}
    # log-returns are affine in the shocks: their correlation is the shocks'. SE ≈ (1 - rho²)/sqrt(n) < 0.002
    assert np.corrcoef(r["A"], r["B"])[0, 1] == pytest.approx(0.8, abs=0.01)
    assert np.corrcoef(r["A"], r["C"])[0, 1] == pytest.approx(0.7, abs=0.01)
    assert np.corrcoef(r["B"], r["C"])[0, 1] == pytest.approx(0.75, abs=0.01)


# --- determinism --------------------------------------------------------------------------------

MC = ["BTC", "ETH", "SOL"]


def test_same_seed_same_arrays_different_seed_different_arrays():
    scenario = library()["monte-carlo-crash"]
    first, again, other = scenario.path(7, [*MC, "ALT1"]), scenario.path(7, [*MC, "ALT1"]), scenario.path(8, MC)
    for asset in MC:
        assert np.array_equal(first.factors[asset], again.factors[asset])
        assert not np.array_equal(first.factors[asset], other.factors[asset])
    assert np.array_equal(first.factors["ALT1"], again.factors["ALT1"])


def test_asking_for_more_assets_leaves_the_draws_unchanged():
    scenario = library()["monte-carlo-crash"]
    few = scenario.path(7, MC)
    many = scenario.path(7, ["ALT9", "ZZZ", *MC, "ALT1", "AAA"])
    for asset in MC:
        assert np.array_equal(few.factors[asset], many.factors[asset])
    assert np.array_equal(scenario.path(7, ["ALT1"]).factors["ALT1"], many.factors["ALT1"])
    assert not np.array_equal(many.factors["ALT1"], many.factors["ALT9"])  # each follower its own noise


def _digest(scenario: Scenario, seed: int) -> str:
    path = scenario.path(seed, [*MC, "ALT1"])
    return hashlib.sha256(b"".join(path.factors[a].tobytes() for a in [*MC, "ALT1"])).hexdigest()


def test_same_seed_same_arrays_in_another_process():
    code = (
        "from crossmargin.sim.scenarios.load import library; import hashlib;"
        "p = library()['monte-carlo-crash'].path(7, ['BTC', 'ETH', 'SOL', 'ALT1']);"
        "print(hashlib.sha256(b''.join(p.factors[a].tobytes() for a in ['BTC', 'ETH', 'SOL', 'ALT1'])).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == _digest(library()["monte-carlo-crash"], 7)


# --- composition --------------------------------------------------------------------------------


def test_include_adds_faults_liquidity_sources_and_missing_assets():
    flash = library()["flash-crash"]
    doc = {
        "name": "mine",
        "step_seconds": 60,
        "assets": {"BTC": {"table": [[0, 1.0], [1800, 0.5]]}},
        "faults": [{"spike": {"symbol": "ETH", "source": "s2", "at": 120, "factor": 0.9}}],
        "liquidity": [[0, 0.5]],
        "sources": [{"what": "mine", "where": "here"}],
        "include": ["flash-crash"],
    }
    scenario = scenario_from_dict(doc)
    assert scenario.includes == ("flash-crash",)
    assert scenario.steps == 60  # the included hour (3600 s) outlasts the own table (1800 s): 3600 / 60
    assert scenario.faults == (Spike("ETH", "s2", 120, 0.9), *flash.faults)
    assert scenario.sources == (("mine", "here"), *flash.sources)
    path = scenario.path(0, ["BTC", "ETH", "USDT", "ALT1"])
    # depth: own 0.5 x flash-crash's schedule; at t = 600 s that is 0.2, so 0.1; at t = 1200 s
    # flash is 0.2 + (0.6 - 0.2) x 600/1200 = 0.4, so 0.2
    assert path.depth[10] == pytest.approx(0.1) and path.depth[20] == pytest.approx(0.2)
    # ETH and '*' come from flash-crash but follow *this* BTC: at t = 900 s BTC is 1 - 0.5 x 900/1800 = 0.75
    assert path.factors["BTC"][15] == pytest.approx(0.75)
    assert path.factors["ETH"][15] == pytest.approx(0.75**1.2)
    assert path.factors["ALT1"][15] == pytest.approx(0.75**1.5)
    assert np.all(path.factors["USDT"] == 1.0)  # flash-crash's fixed stablecoins come in too


def test_include_brings_correlation_of_included_assets():
    doc = {"name": "mc-plus", "step_seconds": 60, "include": ["monte-carlo-crash"], "liquidity": [[0, 1.0]]}
    scenario = scenario_from_dict(doc)
    mc = library()["monte-carlo-crash"]
    assert scenario.correlation == mc.correlation and scenario.stochastic
    assert np.array_equal(scenario.path(3, ["SOL"]).factors["SOL"], mc.path(3, ["SOL"]).factors["SOL"])


def test_market_wide_usdc_depeg_by_composition():
    doc = {
        "name": "usdc-everywhere",
        "step_seconds": 300,
        "assets": {"USDC": {"table": {"file": "usdcusdt_kucoin_2023-03-10_1m.csv"}}},
        "include": ["usdc-depeg-2023"],
    }
    scenario = scenario_from_dict(doc)
    usdc = scenario.path(0, ["USDC"]).factors["USDC"]
    assert scenario.steps == 1080 and usdc.min() < 0.9  # the own USDC path replaces the included fixed one
    assert len(scenario.faults) == len(library()["usdc-depeg-2023"].faults)


# --- faults -------------------------------------------------------------------------------------


def test_depeg_series_is_cut_into_held_segments(tmp_path):
    (tmp_path / "u.csv").write_text("t,price\n0,1.0\n100,0.9\n250,0.8\n")
    series = {"file": "u.csv", "every": 100}
    depeg = {"asset": "USDC", "source": "s2", "start": 50, "end": 400, "series": series}
    (tmp_path / "d.yaml").write_text(f"name: d\nstep_seconds: 10\nsteps: 40\nfaults:\n  - depeg: {depeg}\n")
    faults = load_scenario(tmp_path / "d.yaml").faults
    # segments from t = 50 every 100 s, priced at the last series point at or before their start
    assert faults == (
        Depeg("USDC", "s2", 50, 150, 1.0),
        Depeg("USDC", "s2", 150, 250, 0.9),
        Depeg("USDC", "s2", 250, 350, 0.8),
        Depeg("USDC", "s2", 350, 400, 0.8),
    )


def test_fault_kinds_from_yaml():
    faults = [
        {"stale": {"symbols": ["BTC", "ETH"], "source": "s1", "start": 0, "end": 60}},
        {"thin_market": {"symbol": "BTC-PERP", "start": 10, "end": 20, "factor": 0.9}},
        {"depeg": {"asset": "USDC", "source": "s3", "start": 0, "end": 60, "price": 0.87}},
    ]
    assert scenario_from_dict(base(faults=faults)).faults == (
        StaleSource("BTC", "s1", 0, 60),
        StaleSource("ETH", "s1", 0, 60),
        ThinMarket("BTC-PERP", 10, 20, 0.9),
        Depeg("USDC", "s3", 0, 60, 0.87),
    )


def test_fault_records_check_themselves():
    with pytest.raises(InputError) as err:
        StaleSource("BTC", "s4", 0, 10)
    assert err.value.field == "source"
    with pytest.raises(InputError) as err:
        Depeg("USDC", "s1", 10, 10, 0.9)
    assert err.value.field == "end"


# --- validation: errors name the field ----------------------------------------------------------


def with_asset(name: str, spec: Any) -> dict[str, Any]:
    doc = base()
    doc["assets"] = {**doc["assets"], name: spec}
    return doc


def with_fault(fault: Any) -> dict[str, Any]:
    return base(faults=[fault])


BAD = [
    ("bad sigma", with_asset("SOL", {"gbm": {"sigma": -0.5}}), "assets.SOL.gbm.sigma"),
    ("sigma as text", with_asset("SOL", {"gbm": {"sigma": "high"}}), "assets.SOL.gbm.sigma"),
    ("unknown key", with_asset("SOL", {"gbm": {"sgima": 1.0}}), "assets.SOL.gbm.sgima"),
    ("unknown top key", base(colour="red"), "colour"),
    ("two kinds", with_asset("SOL", {"gbm": {"sigma": 1}, "table": [[0, 1]]}), "assets.SOL"),
    (
        "garch not stationary",
        with_asset("SOL", {"garch": {"sigma": 1, "alpha": 0.2, "beta": 0.8}}),
        "assets.SOL.garch.beta",
    ),
    ("jump without sd", with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1, "mean": 0}}), "assets.SOL.jump.sd"),
    (
        "jumps beyond 1000 a day",
        with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1e25, "mean": 0, "sd": 0.1}}),
        "assets.SOL.jump.intensity",
    ),
    (
        "a jump of e^11",
        with_asset("SOL", {"jump": {"sigma": 1, "intensity": 1, "mean": -11, "sd": 0}}),
        "assets.SOL.jump.mean",
    ),
    ("table not from 1", with_asset("ETH", {"table": [[0, 0.9], [60, 0.8]]}), "assets.ETH.table[0][1]"),
    ("table time back", with_asset("ETH", {"table": [[0, 1], [60, 0.8], [30, 0.9]]}), "assets.ETH.table[2][0]"),
    ("missing file", with_asset("BTC", {"table": {"file": "nope.csv"}}), "assets.BTC.table.file"),
    ("unknown follow", with_asset("ALT", {"follow": "DOGE"}), "assets.ALT.follow"),
    ("follow cycle", base(assets={"A": {"follow": "B"}, "B": {"follow": "A"}}), "assets.A.follow"),
    (
        "unknown source",
        with_fault({"stale": {"symbol": "BTC", "source": "s4", "start": 0, "end": 60}}),
        "faults[0].stale.source",
    ),
    (
        "end before start",
        with_fault({"stale": {"symbol": "BTC", "source": "s1", "start": 60, "end": 0}}),
        "faults[0].stale.end",
    ),
    (
        "zero spike",
        with_fault({"spike": {"symbol": "BTC", "source": "s1", "at": 5, "factor": 0}}),
        "faults[0].spike.factor",
    ),
    ("unknown fault", with_fault({"outage": {"symbol": "BTC"}}), "faults[0].outage"),
    ("non-PD correlation", base(correlation={"SOL": {"XRP": 1.0}}), "correlation"),
    ("correlation of a table", base(correlation={"BTC": {"SOL": 0.5}}), "correlation.BTC.SOL"),
    ("correlation above 1", base(correlation={"SOL": {"XRP": 1.5}}), "correlation.SOL.XRP"),
    ("correlation twice", base(correlation={"SOL": {"XRP": 0.5}, "XRP": {"SOL": 0.5}}), "correlation.XRP.SOL"),
    ("unknown include", base(include=["nope-2030"]), "include[0]"),
    ("negative depth", base(liquidity=[[0, 1.0], [60, -0.2]]), "liquidity[1][1]"),
    ("no step", {k: v for k, v in base().items() if k != "step_seconds"}, "step_seconds"),
    ("no steps and no table", base(steps=None, assets={"SOL": {"gbm": {"sigma": 1}}}), "steps"),
]


@pytest.mark.parametrize(("doc", "field"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(doc, field):
    if doc.get("steps", 0) is None:
        del doc["steps"]
    with pytest.raises(InputError) as err:
        scenario_from_dict(doc)
    assert err.value.field == field


def test_non_positive_definite_three_way_correlation():
    # 0.9, 0.9 and -0.9: det = 1 - 3 x 0.81 + 2 x 0.9 x 0.9 x (-0.9) = 1 - 2.43 - 1.458 < 0
    assets = {name: {"gbm": {"sigma": 1}} for name in ("A", "B", "C")}
    doc = {"name": "c", "step_seconds": 60, "steps": 5, "assets": assets}
    doc["correlation"] = {"A": {"B": 0.9, "C": 0.9}, "B": {"C": -0.9}}
    with pytest.raises(InputError, match="positive definite") as err:
        scenario_from_dict(doc)
    assert err.value.field == "correlation"


def test_file_errors_are_prefixed_with_the_file_name(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nstep_seconds: 60\nsteps: 5\nassets:\n  SOL: {gbm: {sigma: 0}}\n")
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path / "bad.yaml")
    assert err.value.field == "bad.yaml: assets.SOL.gbm.sigma"


def test_where_prefixes_dict_errors():
    with pytest.raises(InputError) as err:
        scenario_from_dict(base(colour="red"), where="request")
    assert err.value.field == "request: colour"


def test_unknown_scenario_name():
    with pytest.raises(InputError) as err:
        load_scenario("june-2099")
    assert err.value.field == "scenario" and "may-2021" in err.value.message


def test_bad_seed_and_assets():
    scenario = library()["flash-crash"]
    with pytest.raises(InputError) as err:
        scenario.path(-1, ["BTC"])
    assert err.value.field == "seed"
    with pytest.raises(InputError) as err:
        scenario.path(0, "BTC")
    assert err.value.field == "assets"


def test_stochastic_flag():
    assert scenario_from_dict(base()).stochastic  # SOL and XRP are gbm
    tables = base(assets={"BTC": {"table": [[0, 1]]}, "*": {"follow": "BTC", "beta": 2}})
    assert not scenario_from_dict(tables).stochastic
    noisy = base(assets={"BTC": {"table": [[0, 1]]}, "*": {"follow": "BTC", "sigma": 0.3}})
    assert scenario_from_dict(noisy).stochastic
