"""EWMA variances and covariance and the age weights of hybrid historical simulation, worked by hand on small
cases (exact fractions in the comments) and held to a second way of computing them; bad arguments refused
naming the argument."""

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest

from crossmargin.margin.ewma import RISKMETRICS_LAMBDA, age_weights, check_decay, ewma_covariance, ewma_variances

ONE_ASSET = np.array([[0.01], [-0.01], [0.02], [-0.02]])
# With lambda = 0.5, in units of 1e-4 (0.01^2):
#   seed s1 = sample variance = (1 + 1 + 4 + 4) / 3 = 10/3 (the mean is 0)
#   s2 = 0.5 x 10/3 + 0.5 x 1 = 13/6
#   s3 = 0.5 x 13/6 + 0.5 x 1 = 19/12
#   s4 = 0.5 x 19/12 + 0.5 x 4 = 67/24
#   s5 = 0.5 x 67/24 + 0.5 x 4 = 163/48 (the current estimate, for the next return)
BY_HAND = [Fraction(10, 3), Fraction(13, 6), Fraction(19, 12), Fraction(67, 24), Fraction(163, 48)]


def test_ewma_variances_by_hand() -> None:
    path = ewma_variances(ONE_ASSET, 0.5)
    np.testing.assert_allclose(path[:, 0], [float(s) * 1e-4 for s in BY_HAND], rtol=1e-13)


def test_ewma_covariance_by_hand_and_its_diagonal_is_the_variance_recursion() -> None:
    returns = np.array([[0.01, 0.02], [-0.01, 0.0]])
    # units 1e-4: means (0, 1); deviations (1, 1), (-1, -1): sample covariance [[2, 2], [2, 2]] (n - 1 = 1)
    # after r1 = (1, 2): 0.5 [[2, 2], [2, 2]] + 0.5 [[1, 2], [2, 4]] = [[1.5, 2], [2, 3]]
    # after r2 = (-1, 0): 0.5 [[1.5, 2], [2, 3]] + 0.5 [[1, 0], [0, 0]] = [[1.25, 1], [1, 1.5]]
    np.testing.assert_allclose(ewma_covariance(returns, 0.5), [[1.25e-4, 1e-4], [1e-4, 1.5e-4]], rtol=1e-13)
    rng = np.random.default_rng(3)
    many = rng.normal(0.0, 0.01, size=(300, 3))
    np.testing.assert_allclose(np.diag(ewma_covariance(many, 0.94)), ewma_variances(many, 0.94)[-1], rtol=1e-12)


def test_ewma_covariance_unrolled_equals_the_recursion_step_by_step() -> None:
    rng = np.random.default_rng(4)
    returns = rng.normal(0.0, 0.02, size=(40, 2))
    centred = returns - returns.mean(axis=0)
    state = centred.T @ centred / (len(returns) - 1)
    for row in returns:
        state = 0.9 * state + 0.1 * np.outer(row, row)
    np.testing.assert_allclose(ewma_covariance(returns, 0.9), state, rtol=1e-12)


def test_age_weights_by_hand() -> None:
    # n = 3, lambda = 0.5: proportional to 0.25, 0.5, 1, times (1 - 0.5) / (1 - 0.125) = 4/7: 1/7, 2/7, 4/7
    np.testing.assert_allclose(age_weights(3, 0.5), [1 / 7, 2 / 7, 4 / 7], rtol=1e-14)
    weights = age_weights(500, 0.995)
    assert math.fsum(weights.tolist()) == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(weights[:-1] / weights[1:], 0.995, rtol=1e-13)
    np.testing.assert_allclose(age_weights(1, 0.9), [1.0], rtol=1e-15)


def test_the_default_decay_is_riskmetrics_daily_094():
    returns = np.array([[0.01], [-0.03], [0.02]])
    np.testing.assert_array_equal(ewma_variances(returns), ewma_variances(returns, 0.94))
    assert RISKMETRICS_LAMBDA == 0.94
    check_decay(0.5)
    with pytest.raises(ValueError, match="decay must be in"):
        check_decay(1.0, "decay")


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: ewma_variances(ONE_ASSET, 1.0), "lam"),
        (lambda: ewma_variances(ONE_ASSET, 0.0), "lam"),
        (lambda: ewma_variances(ONE_ASSET[:1], 0.9), "returns"),
        (lambda: ewma_variances(np.array([[np.nan], [0.1]]), 0.9), "returns"),
        (lambda: ewma_covariance(np.zeros(3), 0.9), "returns"),
        (lambda: age_weights(0, 0.9), "n"),
        (lambda: age_weights(3, 1.0), "lam"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()
