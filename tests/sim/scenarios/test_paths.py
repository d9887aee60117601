"""Scenario paths: tables interpolated and held, follow rules as powers of their target, factors kept finite,
stochastic paths against their closed-form statistics, and determinism (same seed, same arrays, in any process
and whatever other assets are asked for).

Expected numbers are derived by hand (arithmetic in the comments) or from the processes' closed forms.
"""

import hashlib
import math
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from crossmargin.model.errors import InputError
from crossmargin.sim.scenarios.load import library, scenario_from_dict
from crossmargin.sim.scenarios.model import Clustering, Process, Scenario, Table
from crossmargin.sim.scenarios.paths import depth, generate, process_log_returns, stream, table_factors
from tests.sim.scenarios.conftest import base

YEAR = 365 * 86400


# --- tables and follow rules --------------------------------------------------------------------


def test_inline_table_is_linear_between_points_and_held_after():
    doc = {
        "name": "t",
        "step_seconds": 600,
        "steps": 14,
        "assets": {"ETH": {"table": [[0, 1.0], [3600, 0.7], [7200, 0.8]]}},
    }
    eth = generate(scenario_from_dict(doc), 0, ["ETH"]).factors["ETH"]
    assert eth[3] == pytest.approx(0.85)  # t = 1800: 1 + (0.7 - 1) x 1800/3600
    assert eth[6] == pytest.approx(0.7)  # t = 3600
    assert eth[9] == pytest.approx(0.75)  # t = 5400: 0.7 + (0.8 - 0.7) x 1800/3600
    assert eth[14] == pytest.approx(0.8)  # t = 8400, after the last point: held


def test_follow_is_the_power_of_the_followed_factor():
    path = generate(library()["flash-crash"], 0, ["BTC", "ETH", "ALT1"])
    btc, eth, alt = path.factors["BTC"], path.factors["ETH"], path.factors["ALT1"]
    at = 60  # t = 600 s: BTC at its -25 % bottom
    assert btc[at] == 0.75
    assert alt[at] == pytest.approx(0.75 * math.sqrt(0.75), rel=1e-14)  # 0.75 ** 1.5 = 0.649519...
    assert eth[at] == pytest.approx(math.exp(1.2 * math.log(0.75)), rel=1e-14)  # 0.75 ** 1.2 = 0.708054...
    assert np.allclose(np.log(alt), 1.5 * np.log(btc), rtol=0, atol=1e-14)


def test_factors_stay_finite_and_positive_on_absurd_parameters():
    doc = {"name": "x", "step_seconds": 86400, "steps": 2000, "assets": {"X": {"gbm": {"sigma": 1, "mu": -200}}}}
    x = generate(scenario_from_dict(doc), 0, ["X"]).factors["X"]  # log drift -200/365 a day: -1096 over 2000 days
    assert np.all(x > 0) and np.all(np.isfinite(x))


def test_unnamed_asset_without_a_star_rule_stays_at_one():
    scenario = scenario_from_dict(base())
    assert scenario.others is None
    assert np.all(generate(scenario, 0, ["DOGE"]).factors["DOGE"] == 1.0)


# --- stochastic paths: statistics against the closed form ---------------------------------------


def log_returns(factor: np.ndarray) -> np.ndarray:
    return np.diff(np.log(factor))


def test_gbm_log_returns_match_the_closed_form():
    n = 100_000
    doc = {"name": "g", "step_seconds": 3600, "steps": n, "assets": {"X": {"gbm": {"sigma": 0.8, "mu": 5.0}}}}
    r = log_returns(generate(scenario_from_dict(doc), 11, ["X"]).factors["X"])
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
    r = log_returns(generate(scenario_from_dict(doc), 5, ["X"]).factors["X"])
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
    path = generate(scenario_from_dict(doc), 2, ["X", "Y"])
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
    path = generate(scenario_from_dict(doc), 4, ["A", "B", "C"])
    r = {k: log_returns(v) for k, v in path.factors.items()}
    # log-returns are affine in the shocks: their correlation is the shocks'. SE ≈ (1 - rho²)/sqrt(n) < 0.002
    assert np.corrcoef(r["A"], r["B"])[0, 1] == pytest.approx(0.8, abs=0.01)
    assert np.corrcoef(r["A"], r["C"])[0, 1] == pytest.approx(0.7, abs=0.01)
    assert np.corrcoef(r["B"], r["C"])[0, 1] == pytest.approx(0.75, abs=0.01)


# --- determinism --------------------------------------------------------------------------------

MC = ["BTC", "ETH", "SOL"]


def test_same_seed_same_arrays_different_seed_different_arrays():
    scenario = library()["monte-carlo-crash"]
    first, again, other = (
        generate(scenario, 7, [*MC, "ALT1"]),
        generate(scenario, 7, [*MC, "ALT1"]),
        generate(scenario, 8, MC),
    )
    for asset in MC:
        assert np.array_equal(first.factors[asset], again.factors[asset])
        assert not np.array_equal(first.factors[asset], other.factors[asset])
    assert np.array_equal(first.factors["ALT1"], again.factors["ALT1"])


def test_asking_for_more_assets_leaves_the_draws_unchanged():
    scenario = library()["monte-carlo-crash"]
    few = generate(scenario, 7, MC)
    many = generate(scenario, 7, ["ALT9", "ZZZ", *MC, "ALT1", "AAA"])
    for asset in MC:
        assert np.array_equal(few.factors[asset], many.factors[asset])
    assert np.array_equal(generate(scenario, 7, ["ALT1"]).factors["ALT1"], many.factors["ALT1"])
    assert not np.array_equal(many.factors["ALT1"], many.factors["ALT9"])  # each follower its own noise


def _digest(scenario: Scenario, seed: int) -> str:
    path = generate(scenario, seed, [*MC, "ALT1"])
    return hashlib.sha256(b"".join(path.factors[a].tobytes() for a in [*MC, "ALT1"])).hexdigest()


def test_same_seed_same_arrays_in_another_process():
    code = (
        "from crossmargin.sim.scenarios.load import library; import hashlib;"
        "from crossmargin.sim.scenarios.paths import generate;"
        "p = generate(library()['monte-carlo-crash'], 7, ['BTC', 'ETH', 'SOL', 'ALT1']);"
        "print(hashlib.sha256(b''.join(p.factors[a].tobytes() for a in ['BTC', 'ETH', 'SOL', 'ALT1'])).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == _digest(library()["monte-carlo-crash"], 7)


def test_bad_seed_and_assets():
    scenario = library()["flash-crash"]
    with pytest.raises(InputError) as err:
        generate(scenario, -1, ["BTC"])
    assert err.value.field == "seed"
    with pytest.raises(InputError) as err:
        generate(scenario, 0, "BTC")
    assert err.value.field == "assets"


# --- the pieces of a path -----------------------------------------------------------------------


def test_a_held_table_keeps_each_point_until_the_next():
    table = Table((0.0, 90.0, 200.0), (1.0, 0.8, 1.2), "hold")
    times = np.array([0.0, 60.0, 89.9, 90.0, 150.0, 200.0, 500.0])
    assert table_factors(table, times).tolist() == [1.0, 1.0, 1.0, 0.8, 0.8, 1.2, 1.2]
    # linear: t = 150 is 60/110 of the way from 0.8 to 1.2: 0.8 + 0.4 x 6/11
    linear = table_factors(Table((0.0, 90.0, 200.0), (1.0, 0.8, 1.2)), np.array([150.0]))
    assert linear[0] == pytest.approx(0.8 + 0.4 * 6 / 11, rel=1e-15)


def test_depth_is_the_product_of_the_schedules():
    s = Scenario("d", "", "", (), 60, 4, liquidity=(((0.0, 1.0), (120.0, 0.5)), ((0.0, 0.8),)))
    # t = 0, 60, 120, 180, 240: first schedule 1, 0.75, 0.5, 0.5, 0.5; times 0.8
    assert depth(s, np.arange(5) * 60.0).tolist() == pytest.approx([0.8, 0.6, 0.4, 0.4, 0.4])
    assert depth(Scenario("n", "", "", (), 60, 1), np.array([0.0, 60.0])).tolist() == [1.0, 1.0]


def test_an_assets_stream_is_seeded_by_the_seed_and_its_names_hash():
    # the module's recipe, written a second way: the first 16 bytes of sha256(name) as four little-endian words
    words = struct.unpack("<4I", hashlib.sha256(b"BTC").digest()[:16])
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence([7, *words]))).standard_normal(5)
    assert stream(7, "BTC").standard_normal(5).tolist() == expected.tolist()
    assert stream(7, "ETH").standard_normal(5).tolist() != expected.tolist()
    assert stream(8, "BTC").standard_normal(5).tolist() != expected.tolist()


def test_gbm_and_garch_log_returns_by_hand():
    dt, z = 0.01, np.array([1.0, -2.0, 0.5])
    draws = np.random.default_rng(0)  # no jumps: never drawn from
    # gbm, sigma 0.5, mu 0.1: r = 0.1 x 0.01 - 0.25 x 0.01 / 2 + 0.5 x 0.1 z = -0.00025 + 0.05 z
    gbm = process_log_returns(Process(0.5, mu=0.1), z, draws, dt)
    np.testing.assert_allclose(gbm, [0.04975, -0.10025, 0.02475], rtol=1e-13)
    # garch, sigma 0.5, alpha 0.1, beta 0.8, mu 0: base h = 0.0025, omega = 0.1 x 0.0025 = 0.00025
    #   h0 = 0.0025, e0 = 0.05 x 1 = 0.05, r0 = -0.00125 + 0.05 = 0.04875
    #   h1 = 0.00025 + 0.1 x 0.0025 + 0.8 x 0.0025 = 0.0025 (e0² = h0): e1 = -0.1, r1 = -0.10125
    #   h2 = 0.00025 + 0.1 x 0.01 + 0.8 x 0.0025 = 0.00325: e2 = 0.5 sqrt(0.00325), r2 = -0.001625 + e2
    garch = process_log_returns(Process(0.5, clustering=Clustering(0.1, 0.8)), z, draws, dt)
    np.testing.assert_allclose(garch, [0.04875, -0.10125, -0.001625 + 0.5 * math.sqrt(0.00325)], rtol=1e-13)
