"""The age- and volatility-weighted historical methods and compounded returns, worked by hand on small cases
(exact fractions in the comments) and held to a second way of computing them. The EWMA estimates and age
weights they build on are tested in test_ewma.py."""

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from crossmargin.margin.var import (
    F64,
    Tail,
    age_weighted,
    compounded,
    horizon_returns,
    volatility_scaled,
    volatility_weighted,
    weighted_tail,
)
from tests.margin.test_ewma import BY_HAND, ONE_ASSET  # the EWMA path worked by hand there


def linear(exposures: F64) -> Callable[[F64], F64]:
    def pnl_of(returns: F64) -> F64:
        result: F64 = returns @ exposures
        return result

    return pnl_of


def test_age_weighted_by_hand() -> None:
    # returns 0.1, -0.1, 0.1 (oldest first) on 80,000 of exposure: P&L 8,000, -8,000, 8,000; losses -8,000,
    # 8,000, -8,000 weighted 1/7, 2/7, 4/7 (lambda 0.5).
    returns = np.array([[0.1], [-0.1], [0.1]])
    pnl_of = linear(np.array([80_000.0]))
    # level 0.9, p = 0.1: the worst loss, 8,000, weighs 2/7 >= 0.1: VaR = ES = 8,000
    measure = age_weighted(pnl_of, returns, 0.9, 1.0, 0.5)
    assert (measure.var, measure.expected_shortfall) == pytest.approx((8_000.0, 8_000.0), rel=1e-14)
    assert (measure.method, measure.samples) == ("age_weighted", 3)
    # level 0.5, p = 0.5: 8,000 (2/7), then -8,000: VaR = -8,000;
    # ES = (2/7 x 8,000 + (0.5 - 2/7) x -8,000) / 0.5 = 8,000 x (2/7 - 3/14) / 0.5 = 8,000 / 7
    measure = age_weighted(pnl_of, returns, 0.5, 1.0, 0.5)
    assert measure.var == pytest.approx(-8_000.0, rel=1e-14)
    assert measure.expected_shortfall == pytest.approx(8_000.0 / 7.0, rel=1e-12)
    # equally weighted, the same level reads 8,000 x (1/3 - 1/6) / 0.5 = 8,000 / 3 (standard convention)
    equal = weighted_tail(np.array([-8_000.0, 8_000.0, -8_000.0]), np.ones(3), 0.5)
    assert equal == pytest.approx((-8_000.0, 8_000.0 / 3.0), rel=1e-12)


def test_volatility_scaled_returns_by_hand() -> None:
    # r_i x sqrt(s5 / s_i), the s of the module comment
    expected = [
        float(r) * math.sqrt(BY_HAND[4] / s) for r, s in zip([0.01, -0.01, 0.02, -0.02], BY_HAND[:4], strict=True)
    ]
    np.testing.assert_allclose(volatility_scaled(ONE_ASSET, 0.5)[:, 0], expected, rtol=1e-13)
    # e.g. the first: 0.01 x sqrt((163/48) / (10/3)) = 0.01 x sqrt(163/160) = 0.0100933
    assert volatility_scaled(ONE_ASSET, 0.5)[0, 0] == pytest.approx(0.01 * math.sqrt(163 / 160), rel=1e-13)


def test_volatility_weighted_by_hand() -> None:
    # scaled returns (above), exposure 1,000,000: P&L = 1e6 x r_i x sqrt(s5/s_i):
    #   1: 10,000 x sqrt(163/160) = 10,093.3;  2: -10,000 x sqrt((163/48)/(13/6)) = -10,000 x sqrt(163/104) = -12,519.2
    #   3: 20,000 x sqrt((163/48)/(19/12)) = 20,000 x sqrt(163/76) = 29,289.8
    #   4: -20,000 x sqrt((163/48)/(67/24)) = -20,000 x sqrt(163/134) = -22,058.3
    # losses: -10,093.3, 12,519.2, -29,289.8, 22,058.3; level 0.5, m = 2: VaR = 2nd worst = 12,519.2,
    # ES = (22,058.3 + 12,519.2) / 2
    worst = 20_000 * math.sqrt(163 / 134)
    second = 10_000 * math.sqrt(163 / 104)
    measure = volatility_weighted(linear(np.array([1e6])), ONE_ASSET, 0.5, 1, 0.5)
    assert measure.var == pytest.approx(second, rel=1e-12)
    assert measure.expected_shortfall == pytest.approx((worst + second) / 2, rel=1e-12)
    assert (measure.method, measure.samples, measure.horizon_days) == ("volatility_weighted", 4, 1.0)
    inverted = volatility_weighted(linear(np.array([1e6])), ONE_ASSET, 0.5, 1, 0.5, Tail.INVERTED_CDF)
    # inverted CDF at 0.5: the 2nd smallest loss, -10,093.3; ES = mean of the three at or above it
    first = 10_000 * math.sqrt(163 / 160)
    assert inverted.var == pytest.approx(-first, rel=1e-12)
    assert inverted.expected_shortfall == pytest.approx((-first + second + worst) / 3, rel=1e-12)


def test_compounded_returns_by_hand() -> None:
    returns = np.array([[0.1], [-0.1], [0.1]])
    # 2 rows: 1.1 x 0.9 - 1 = -0.01, 0.9 x 1.1 - 1 = -0.01; 3 rows: 1.1 x 0.9 x 1.1 - 1 = 0.089
    np.testing.assert_allclose(compounded(returns, 2)[:, 0], [-0.01, -0.01], rtol=1e-12)
    np.testing.assert_allclose(compounded(returns, 3)[:, 0], [0.089], rtol=1e-12)
    np.testing.assert_array_equal(compounded(returns, 1), returns)


@given(
    arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 3)), elements=st.floats(0.5, 2.0)),
    st.integers(1, 5),
)
def test_compounded_one_row_returns_are_the_horizon_returns_of_the_prices(prices, horizon) -> None:
    if prices.shape[0] <= horizon:
        return
    np.testing.assert_allclose(
        compounded(horizon_returns(prices, 1), horizon), horizon_returns(prices, horizon), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: volatility_scaled(np.array([[0.0], [0.0], [0.1]]), 1e-300), "returns"),
        (lambda: compounded(np.array([[-1.0], [0.1]]), 2), "returns"),
        (lambda: compounded(ONE_ASSET, 5), "returns too short"),
        (lambda: compounded(ONE_ASSET, 0), "horizon"),
        (lambda: age_weighted(linear(np.ones(1)), ONE_ASSET, 0.99, 1.0, 1.5), "lam"),
        (lambda: volatility_weighted(linear(np.ones(1)), ONE_ASSET, 1.0, 1), "level"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()
