"""VaR and expected shortfall against hand-computed quantiles, normal-table closed forms and each other.

Every expected number is worked out by hand in a comment or comes from a second, independent method.
"""

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crossmargin.margin.var import (
    F64,
    Estimator,
    Tail,
    correlated_normals,
    covariance,
    historical,
    horizon_returns,
    monte_carlo,
    parametric,
    tail,
    weighted_tail,
)

Z_99 = 2.326348  # standard normal 0.99-quantile, from a normal table
PDF_Z_99 = 0.026652  # standard normal density at 2.326348: exp(-2.326348**2 / 2) / sqrt(2 pi)
TABLE = 1e-5  # relative error of figures built from the 6-digit table values above


def linear(exposures: F64) -> Callable[[F64], F64]:
    def pnl_of(returns: F64) -> F64:
        result: F64 = returns @ exposures
        return result

    return pnl_of


SHUFFLED = np.array([7.0, 20, 1, 14, 3, 19, 10, 2, 18, 5, 11, 16, 4, 9, 13, 6, 17, 8, 12, 15])  # 1..20 shuffled


def test_tail_on_the_standard_convention_by_hand() -> None:
    # m = 20 x (1 - level) losses in the tail; VaR the ceil(m)-th worst, ES the mean of the worst m
    # 0.95: m = 1: VaR = 20 (the worst), ES = 20
    assert tail(SHUFFLED, 0.95) == (20.0, 20.0)
    # 0.90: m = 2: VaR = 19, ES = (20 + 19) / 2 = 19.5
    assert tail(SHUFFLED, 0.9) == (19.0, 19.5)
    # 0.85: m = 3: VaR = 18, ES = (20 + 19 + 18) / 3 = 19
    assert tail(SHUFFLED, 0.85) == (18.0, 19.0)
    # 0.875: m = 2.5: VaR = 3rd worst = 18, ES = (20 + 19 + 0.5 x 18) / 2.5 = 48 / 2.5 = 19.2
    var, es = tail(SHUFFLED, 0.875)
    assert var == 18.0 and es == pytest.approx(19.2, rel=1e-15)
    # 0.99: m = 0.2 < 1: VaR = ES = the worst loss, 20
    assert tail(SHUFFLED, 0.99) == (20.0, 20.0)
    # a book that gains in every scenario: losses -5, -3, -1 at 0.5: m = 1.5: VaR = 2nd worst = -3,
    # ES = (-1 + 0.5 x -3) / 1.5 = -2.5 / 1.5 = -5 / 3
    var, es = tail(np.array([-1.0, -5.0, -3.0]), 0.5)
    assert var == -3.0 and es == pytest.approx(-5.0 / 3.0, rel=1e-15)


def test_tail_counts_the_tail_as_a_whole_number_although_one_minus_the_level_is_not_a_binary_fraction() -> None:
    # 1 - 0.99 is 0.010000000000000009 in binary; times 500 that is 5.0000000000000044, whose ceiling is 6.
    # Within 1e-12 of 5 it counts as 5: VaR the 5th worst, ES the mean of the worst 5.
    assert 500 * (1 - 0.99) > 5
    losses = np.arange(1.0, 501.0)
    assert tail(losses, 0.99) == (496.0, (500 + 499 + 498 + 497 + 496) / 5)
    assert tail(losses, np.float64(0.99)) == (496.0, 498.0)  # a NumPy float reads the same
    # the inverted CDF: 500 x 0.99 = 495 smallest, the 6th worst
    assert tail(losses, 0.99, Tail.INVERTED_CDF)[0] == 495.0
    # a level of 1/3 as a float: 12 x (1 - 0.3333333333333333) counts as 8: VaR the 8th worst of 1..12 = 5
    var, es = tail(np.arange(1.0, 13.0), 1 / 3)
    assert var == 5.0 and es == pytest.approx((12 + 11 + 10 + 9 + 8 + 7 + 6 + 5) / 8, rel=1e-15)


def test_tail_on_the_inverted_cdf_convention_by_hand() -> None:
    # VaR the ceil(20 x level)-th smallest loss, ES the mean of the losses at or above it
    # 0.95: ceil(19) = 19th smallest = 19; ES = mean{19, 20} = 19.5
    assert tail(SHUFFLED, 0.95, Tail.INVERTED_CDF) == (19.0, 19.5)
    # 0.90: 18th smallest = 18; ES = mean{18, 19, 20} = 19
    assert tail(SHUFFLED, 0.9, Tail.INVERTED_CDF) == (18.0, 19.0)
    # 0.99 on 500 losses 1..500: ceil(495) = 495th smallest = 495 (the 6th worst); ES = mean{495..500} = 497.5
    assert tail(np.arange(1.0, 501.0), 0.99, Tail.INVERTED_CDF) == (495.0, 497.5)
    # a book that gains in every scenario: losses -5, -3, -1 at 0.5 -> 2nd smallest = -3; ES = mean{-3, -1} = -2
    assert tail(np.array([-1.0, -5.0, -3.0]), 0.5, Tail.INVERTED_CDF) == (-3.0, -2.0)


finite_losses = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)


@given(finite_losses, st.floats(0.001, 0.999))
def test_standard_tail_matches_numpy_and_the_rockafellar_uryasev_form(values, level) -> None:
    n = len(values)
    assume(abs(n * (1 - level) - round(n * (1 - level))) > 1e-6)  # away from float ties in n (1 - level)
    sample = np.array(values)
    var, es = tail(sample, level)
    # VaR: minus the (1 - level)-quantile of the P&L (NumPy's inverted CDF), the ceil(n p)-th worst loss
    assert var == -np.quantile(-sample, 1 - level, method="inverted_cdf")
    # ES = min over c of c + E[(L - c)+] / p, reached at c = VaR (Rockafellar and Uryasev 2002)
    beyond = math.fsum(max(v - var, 0.0) for v in values) / n
    assert es == pytest.approx(var + beyond / (1 - level), rel=1e-9, abs=1e-6)
    assert es >= var - 1e-9 * max(1.0, abs(var))


@given(finite_losses, st.floats(0.001, 0.999))
def test_inverted_cdf_tail_matches_the_definition_smallest_loss_whose_share_at_or_below_reaches_the_level(
    values, level
) -> None:
    n = len(values)
    assume(abs(n * level - round(n * level)) > 1e-9)  # away from ties in the float product n * level
    ordered = sorted(values)
    expected_var = next(v for v in ordered if sum(x <= v for x in ordered) >= n * level)
    beyond = [x for x in ordered if x >= expected_var]
    var, es = tail(np.array(values), level, Tail.INVERTED_CDF)
    assert var == expected_var
    assert es == pytest.approx(math.fsum(beyond) / len(beyond), rel=1e-12, abs=1e-9)
    rounding = 1e-12 * max(abs(v) for v in values)  # a mean of equal values may round one ulp past them
    assert var - rounding <= es <= max(values) + rounding


def test_weighted_tail_by_hand() -> None:
    losses = np.array([10.0, 40.0, 20.0, 30.0])
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    # worst first: 40 (0.2), 30 (0.4), 20 (0.3), 10 (0.1); cumulative 0.2, 0.6, 0.9, 1.0
    # level 0.75, p = 0.25: first cumulative >= 0.25 is 30's; ES = (0.2 x 40 + (0.25 - 0.2) x 30) / 0.25 = 38
    var, es = weighted_tail(losses, weights, 0.75)
    assert var == 30.0 and es == pytest.approx(38.0, rel=1e-14)
    # level 0.8, p = 0.2: 40's weight alone reaches it: VaR = ES = 40
    assert weighted_tail(losses, weights, 0.8) == (40.0, 40.0)
    # weights need not sum to 1: ten times them reads the same
    assert weighted_tail(losses, 10 * weights, 0.75) == pytest.approx((30.0, 38.0), rel=1e-14)


@given(finite_losses, st.floats(0.001, 0.999))
def test_weighted_tail_with_equal_weights_is_the_standard_tail(values, level) -> None:
    sample = np.array(values)
    var, es = weighted_tail(sample, np.ones(len(values)), level)
    expected_var, expected_es = tail(sample, level)
    assert var == expected_var
    assert es == pytest.approx(expected_es, rel=1e-9, abs=1e-6)


@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(0.01, 1.0)), min_size=1, max_size=40),
    st.floats(0.001, 0.999),
)
def test_weighted_tail_matches_the_rockafellar_uryasev_form(pairs, level) -> None:
    losses = np.array([loss for loss, _ in pairs])
    weights = np.array([weight for _, weight in pairs])
    p, share = 1 - level, weights / weights.sum()
    var, es = weighted_tail(losses, weights, level)
    # VaR: the smallest loss whose strictly-worse weight is at most p (up to the function's 1e-12 tolerance)
    worse = {v: float(share[losses > v].sum()) for v in losses}
    candidates = [v for v in losses if worse[v] <= p * (1 + 1e-9)]
    assume(all(abs(worse[v] - p) > 1e-9 for v in losses))  # away from weights summing to p up to rounding
    assert var == min(candidates)
    beyond = math.fsum((share * np.maximum(losses - var, 0.0)).tolist())
    assert es == pytest.approx(var + beyond / p, rel=1e-9, abs=1e-6)


def test_horizon_returns_are_overlapping_simple_returns_by_hand() -> None:
    prices = np.array([[100.0, 50.0], [110.0, 40.0], [121.0, 60.0]])
    # horizon 2: 121 / 100 - 1 = 0.21, 60 / 50 - 1 = 0.2
    np.testing.assert_allclose(horizon_returns(prices, 2), [[0.21, 0.2]], rtol=1e-12)
    # horizon 1: 110/100 - 1 = 0.1, 40/50 - 1 = -0.2; 121/110 - 1 = 0.1, 60/40 - 1 = 0.5
    np.testing.assert_allclose(horizon_returns(prices, 1), [[0.1, -0.2], [0.1, 0.5]], rtol=1e-12)


def test_historical_var_of_a_linear_book_is_the_hand_picked_quantile() -> None:
    prices = np.array([100.0, 99, 99, 100, 98, 98, 100, 96, 96, 100, 100])[:, None]
    # returns:  -0.01, 0, 1/99, -0.02, 0, 2/98, -0.04, 0, 4/96, 0
    # P&L of 2 units at the last price 100, 2 * 100 * r:  -2, 0, 2.0202, -4, 0, 4.0816, -8, 0, 8.3333, 0
    # losses sorted:  -8.3333, -4.0816, -2.0202, 0, 0, 0, 0, 2, 4, 8
    returns = horizon_returns(prices, 1)

    def two_units(r: F64) -> F64:
        result: F64 = 2.0 * prices[-1, 0] * r[:, 0]
        return result

    cases = {  # standard convention: m = 10 x (1 - level) losses in the tail
        0.95: (8.0, 8.0),  # m = 0.5: VaR the worst, ES = 8
        0.9: (8.0, 8.0),  # m = 1: VaR the worst, ES = 8
        0.8: (4.0, 6.0),  # m = 2: VaR the 2nd worst, ES = mean{8, 4}
        0.75: (2.0, (8 + 4 + 0.5 * 2) / 2.5),  # m = 2.5: VaR the 3rd worst, ES = (8 + 4 + 0.5 x 2) / 2.5 = 5.2
        0.5: (0.0, 14.0 / 5.0),  # m = 5: VaR the 5th worst = 0, ES = mean{8, 4, 2, 0, 0} = 14 / 5
    }
    for level, (var, es) in cases.items():
        measure = historical(two_units, returns, level, 1.0)
        assert measure.var == pytest.approx(var, abs=1e-9), level
        assert measure.expected_shortfall == pytest.approx(es, abs=1e-9), level
        assert (measure.level, measure.horizon_days, measure.method, measure.samples) == (level, 1.0, "historical", 10)
    # the inverted-CDF convention: 0.9: 9th smallest = 4, ES = mean{4, 8}; 0.5: 5th smallest = 0, ties included:
    # ES = mean{0, 0, 0, 0, 2, 4, 8} = 14 / 7
    inverted = {0.9: (4.0, 6.0), 0.5: (0.0, 2.0)}
    for level, (var, es) in inverted.items():
        measure = historical(two_units, returns, level, 1.0, Tail.INVERTED_CDF)
        assert (measure.var, measure.expected_shortfall) == pytest.approx((var, es), abs=1e-9), level


def test_parametric_one_asset_by_normal_table() -> None:
    # sigma = 1,000,000 * 0.02 = 20,000; VaR = 2.326348 * 20,000 = 46,526.96
    # ES = 20,000 * 0.026652 / 0.01 = 53,304
    measure = parametric(np.array([1_000_000.0]), np.array([[0.02**2]]), 0.99, 1.0)
    assert measure.var == pytest.approx(46_526.96, rel=TABLE)
    assert measure.expected_shortfall == pytest.approx(53_304.0, rel=TABLE)
    assert (measure.level, measure.horizon_days, measure.method, measure.samples) == (0.99, 1.0, "parametric", 0)
    # 4 days: sigma = 20,000 * sqrt(4) = 40,000, both double
    four = parametric(np.array([1_000_000.0]), np.array([[0.02**2]]), 0.99, 4.0)
    assert four.var == pytest.approx(2 * 46_526.96, rel=TABLE)
    assert four.expected_shortfall == pytest.approx(2 * 53_304.0, rel=TABLE)


def test_parametric_takes_the_users_level() -> None:
    # 97.5 %: z = 1.959964, pdf(z) = exp(-1.959964**2 / 2) / sqrt(2 pi) = 0.058445 (normal table); sigma = 20,000:
    # VaR = 1.959964 x 20,000 = 39,199.28; ES = 20,000 x 0.058445 / 0.025 = 46,756
    measure = parametric(np.array([1_000_000.0]), np.array([[0.02**2]]), 0.975, 1.0)
    assert measure.var == pytest.approx(39_199.28, rel=TABLE)
    assert measure.expected_shortfall == pytest.approx(46_756.0, rel=TABLE)
    # 95 %: z = 1.644854, pdf = 0.103136: VaR = 32,897.08, ES = 20,000 x 0.103136 / 0.05 = 41,254.4
    measure = parametric(np.array([1_000_000.0]), np.array([[0.02**2]]), 0.95, 1.0)
    assert measure.var == pytest.approx(32_897.08, rel=TABLE)
    assert measure.expected_shortfall == pytest.approx(41_254.4, rel=TABLE)


def test_parametric_two_correlated_assets_by_hand() -> None:
    # daily vols 0.02 and 0.03, correlation 0.5, exposures 1,000,000 and -500,000:
    # e'Ce = 1e12 * 4e-4 + 2.5e11 * 9e-4 + 2 * (1e6)(-5e5)(0.5)(0.02)(0.03) = 4e8 + 2.25e8 - 3e8 = 3.25e8
    cov = np.array([[4e-4, 3e-4], [3e-4, 9e-4]])
    sigma = math.sqrt(3.25e8)
    measure = parametric(np.array([1_000_000.0, -500_000.0]), cov, 0.99, 1.0)
    assert measure.var == pytest.approx(Z_99 * sigma, rel=TABLE)
    assert measure.expected_shortfall == pytest.approx(sigma * PDF_Z_99 / 0.01, rel=TABLE)
    # perfectly correlated (singular) assets: sigma_p = |1e6 * 0.02 + 5e5 * 0.03| = 35,000
    singular = np.array([[4e-4, 6e-4], [6e-4, 9e-4]])
    assert parametric(np.array([1e6, 5e5]), singular, 0.99, 1.0).var == pytest.approx(Z_99 * 35_000.0, rel=TABLE)


# Sampling error at level 0.99 with n = 200,000 draws, in units of the P&L sigma:
#   VaR: sqrt(p (1 - p) / n) / pdf(z) = sqrt(0.99 * 0.01 / 2e5) / 0.026652 = 0.0083, i.e. 0.36 % of z = 2.3263
#   ES:  sqrt((Var(L | L >= VaR) + p (ES - VaR)^2) / (n (1 - p))) = sqrt((0.096 + 0.99 * 0.339^2) / 2000) = 0.0103,
#        i.e. 0.39 % of ES = 2.6652
# so 1.5 % is about four standard errors.
SAMPLING = 0.015
COV = np.array([[4e-4, 1.5e-4], [1.5e-4, 2.5e-4]])  # daily vols 0.02 and 0.0158, correlation 0.47
EXPOSURES = np.array([1_000_000.0, -2_000_000.0])
DRAWS = 200_000


def test_monte_carlo_agrees_with_parametric_on_a_linear_book() -> None:
    for horizon in (1.0, 3.0):
        closed = parametric(EXPOSURES, COV, 0.99, horizon)
        simulated = monte_carlo(linear(EXPOSURES), COV, 0.99, horizon, DRAWS, seed=11)
        assert simulated.var == pytest.approx(closed.var, rel=SAMPLING)
        assert simulated.expected_shortfall == pytest.approx(closed.expected_shortfall, rel=SAMPLING)
        assert (simulated.method, simulated.samples, simulated.horizon_days) == ("monte_carlo", DRAWS, horizon)


def test_historical_on_normal_returns_agrees_with_parametric() -> None:
    returns = np.random.default_rng(5).multivariate_normal(np.zeros(2), COV, size=DRAWS)  # numpy's own sampler
    closed = parametric(EXPOSURES, COV, 0.99, 1.0)
    measure = historical(linear(EXPOSURES), returns, 0.99, 1.0)
    assert measure.var == pytest.approx(closed.var, rel=SAMPLING)
    assert measure.expected_shortfall == pytest.approx(closed.expected_shortfall, rel=SAMPLING)


def test_same_seed_same_numbers() -> None:
    np.testing.assert_array_equal(correlated_normals(COV, 100, 3), correlated_normals(COV, 100, 3))
    assert not np.array_equal(correlated_normals(COV, 100, 3), correlated_normals(COV, 100, 4))
    first = monte_carlo(linear(EXPOSURES), COV, 0.975, 2.0, 1_000, seed=9)
    assert first == monte_carlo(linear(EXPOSURES), COV, 0.975, 2.0, 1_000, seed=9)


def test_correlated_normals_have_the_input_covariance() -> None:
    draws = correlated_normals(COV, DRAWS, seed=1)
    assert draws.shape == (DRAWS, 2)
    # standard error of a sample covariance entry: sqrt((C_ii C_jj + C_ij^2) / n); allow five of them
    error = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / DRAWS)
    assert np.all(np.abs(np.cov(draws, rowvar=False) - COV) <= 5 * error)


def test_a_singular_covariance_of_perfectly_correlated_assets_works() -> None:
    singular = np.array([[4.0, 2.0], [2.0, 1.0]])  # asset 0 = 2 * asset 1; Cholesky refuses it
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)
    draws = correlated_normals(singular, DRAWS, seed=2)
    np.testing.assert_allclose(draws[:, 0], 2.0 * draws[:, 1], atol=1e-12)
    assert np.var(draws[:, 1]) == pytest.approx(1.0, rel=0.02)  # standard error sqrt(2 / n) = 0.3 %
    # book of one unit each: P&L = 3 * asset 1 ~ N(0, 9), sigma 3
    simulated = monte_carlo(linear(np.array([1.0, 1.0])), singular, 0.99, 1.0, DRAWS, seed=2)
    assert simulated.var == pytest.approx(Z_99 * 3.0, rel=SAMPLING)


def test_the_three_covariance_estimators_by_hand() -> None:
    two = np.array([[1.0, 2.0], [3.0, 6.0]])
    # asset 0: 1, 3 (mean 2); asset 1: 2, 6 (mean 4); deviations (-1, -2), (1, 2)
    # sample (n - 1 = 1): var0 = (1 + 1) / 1 = 2, var1 = (4 + 4) / 1 = 8, cov = ((-1)(-2) + (1)(2)) / 1 = 4
    np.testing.assert_allclose(covariance(two), [[2.0, 4.0], [4.0, 8.0]], rtol=1e-12)
    np.testing.assert_allclose(covariance(two, Estimator.SAMPLE), [[2.0, 4.0], [4.0, 8.0]], rtol=1e-12)
    # population (n = 2): the same sums over 2: var0 = 1, var1 = 4, cov = 2
    np.testing.assert_allclose(covariance(two, Estimator.POPULATION), [[1.0, 2.0], [2.0, 4.0]], rtol=1e-12)
    # zero mean (n = 2): var0 = (1 + 9) / 2 = 5, var1 = (4 + 36) / 2 = 20, cov = (1 x 2 + 3 x 6) / 2 = 10
    np.testing.assert_allclose(covariance(two, Estimator.ZERO_MEAN), [[5.0, 10.0], [10.0, 20.0]], rtol=1e-12)
    # one time is enough for the zero-mean estimator: 0.1^2 = 0.01
    np.testing.assert_allclose(covariance(np.array([[0.1]]), Estimator.ZERO_MEAN), [[0.01]], rtol=1e-12)
    returns = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(covariance(returns), np.cov(returns, rowvar=False, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(
        covariance(returns, Estimator.POPULATION), np.cov(returns, rowvar=False, ddof=0), rtol=1e-12
    )


ONE = np.array([[1e-4]])
RETURNS = np.zeros((5, 1))


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: tail(np.arange(5.0), 0.0), "level"),
        (lambda: tail(np.arange(5.0), 1.0), "level"),
        (lambda: tail(np.array([]), 0.9), "losses"),
        (lambda: tail(np.array([1.0, np.nan]), 0.9), "losses"),
        (lambda: weighted_tail(np.arange(3.0), np.ones(2), 0.9), "weights"),
        (lambda: weighted_tail(np.arange(3.0), np.array([1.0, -1.0, 1.0]), 0.9), "weights"),
        (lambda: weighted_tail(np.arange(3.0), np.zeros(3), 0.9), "weights"),
        (lambda: weighted_tail(np.arange(3.0), np.ones(3), 1.0), "level"),
        (lambda: horizon_returns(np.ones((3, 1)), 3), "prices too short"),
        (lambda: horizon_returns(np.array([[1.0], [0.0], [2.0]]), 1), "prices must be positive"),
        (lambda: horizon_returns(np.array([[1.0], [np.inf]]), 1), "prices must be finite"),
        (lambda: horizon_returns(np.ones((3, 1)), 0), "horizon"),
        (lambda: horizon_returns(np.ones(3), 1), "prices"),
        (lambda: historical(linear(np.ones(1)), RETURNS, 1.5, 1.0), "level"),
        (lambda: historical(linear(np.ones(1)), RETURNS, 0.99, 0.0), "horizon_days"),
        (lambda: historical(linear(np.ones(1)), np.zeros(5), 0.99, 1.0), "returns"),
        (lambda: historical(lambda r: np.zeros(3), RETURNS, 0.99, 1.0), "pnl_of"),
        (lambda: parametric(np.ones(2), ONE, 0.99, 1.0), "exposures"),
        (lambda: parametric(np.ones(2), np.ones((2, 3)), 0.99, 1.0), "covariance"),
        (lambda: parametric(np.ones(2), np.array([[1.0, 0.5], [0.4, 1.0]]), 0.99, 1.0), "covariance"),
        (lambda: parametric(np.array([1.0, -1.0]), np.array([[1.0, 2.0], [2.0, 1.0]]), 0.99, 1.0), "covariance"),
        (lambda: parametric(np.ones(1), ONE, -0.1, 1.0), "level"),
        (lambda: parametric(np.ones(1), ONE, 0.99, -1.0), "horizon_days"),
        (lambda: covariance(np.zeros((1, 2))), "returns"),
        (lambda: covariance(np.zeros((1, 2)), Estimator.POPULATION), "returns"),
        (lambda: correlated_normals(ONE, 0, 1), "n"),
        (lambda: correlated_normals(np.array([[1.0, 2.0], [2.0, 1.0]]), 10, 1), "covariance"),
        (lambda: monte_carlo(linear(np.ones(1)), ONE, 0.99, 1.0, 0, 1), "paths"),
        (lambda: monte_carlo(linear(np.ones(1)), ONE, 0.99, math.nan, 10, 1), "horizon_days"),
        (lambda: monte_carlo(linear(np.ones(1)), ONE, 1.0, 1.0, 10, 1), "level"),
        (lambda: monte_carlo(lambda r: r, ONE, 0.99, 1.0, 10, 1), "pnl_of"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()
