"""The forecast against the exact path (:mod:`crossmargin.sim.forecast_check`): the stress runner on the same
book and an instantaneous shock. On the two-account book of tests/sim/test_forecast.py the two agree to float
precision (the runner's figures worked by hand there: the same cascade, account by account); on a small
generated book, within the tolerances measured on the shipped scenarios' largest moves (docs/forecast.md)."""

from decimal import Decimal

import pytest

from crossmargin.liquidation.amm import ConstantProduct
from crossmargin.sim.forecast import Orders
from crossmargin.sim.forecast_check import check, instant_shock, on_the_index
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.scenarios.paths import generate
from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity
from crossmargin.venues import rulebook
from tests.builders import D
from tests.sim.test_forecast import A_AND_B, DEPTH

GENERIC = rulebook("generic")


@pytest.mark.parametrize(("fund", "price", "notional", "draw", "beyond"), [
    # the fund pays both shortfalls: a sold at 81 (8100), b at 76.95 (3847.5); the mark ends at 81.225
    ("10000", 81.225, 11947.5, 1352.5, 0.0),
    # the fund pays a's 900; b is taken over at its bankruptcy price 86 (4300), its takers losing 25; the mark
    # stays at 85.5
    ("1000", 85.5, 12400.0, 900.0, 25.0),
])  # fmt: skip
def test_the_hand_cascade_on_both_paths(fund: str, price: float, notional: float, draw: float, beyond: float) -> None:
    compared = check(A_AND_B, GENERIC.rules, GENERIC.liquidation, DEPTH, Decimal(fund), "X", -0.1)
    mine, exact = compared.forecast, compared.exact
    assert exact.marks["X-PERP"] == pytest.approx(price, rel=1e-12)
    assert exact.liquidated_notional == pytest.approx(notional, rel=1e-12)
    assert (exact.insurance_fund_draw, exact.beyond_fund) == pytest.approx((draw, beyond), rel=1e-12)
    assert exact.accounts == 2
    assert mine.final_price == pytest.approx(price, rel=1e-12)
    assert mine.liquidated_notional == pytest.approx(notional, rel=1e-12)
    assert (mine.insurance_fund_draw, mine.beyond_fund) == pytest.approx((draw, beyond), rel=1e-12)
    assert compared.price_error == pytest.approx(0, abs=1e-12)
    assert compared.notional_error == pytest.approx(0, abs=1e-12)
    assert compared.shortfall_error == pytest.approx(0, abs=1e-12)


def test_a_small_generated_book_within_the_measured_tolerance() -> None:
    portfolio = synthetic_book(400, seed=7)
    fund = default_insurance_fund(portfolio)
    compared = check(
        portfolio, GENERIC.rules, GENERIC.liquidation, default_liquidity(portfolio), fund, "BTC", -0.25, Orders.ACCOUNT
    )
    assert compared.exact.liquidated_notional > 0 and compared.exact.shortfall > 0  # a cascade to compare
    assert abs(compared.price_error) < 1e-3
    assert abs(compared.notional_error) < 0.05
    assert abs(compared.shortfall_error) < 0.02


def test_the_shock_s_scenario_and_the_book_on_the_index() -> None:
    scenario = instant_shock("BTC", -0.25)
    path = generate(scenario, 0, ["BTC", "ETH"])
    assert list(path.times) == [0.0, 1.0]
    assert list(path.factors["BTC"]) == [1.0, 0.75] and list(path.factors["ETH"]) == [1.0, 1.0]
    portfolio = synthetic_book(20, seed=1)
    marks = on_the_index(portfolio).market.marks
    assert marks["BTC-FUT"] == marks["BTC-PERP"] == marks["BTCUSD-PERP"] == portfolio.market.prices["BTC"]
    assert marks["ETH-PERP"] == portfolio.market.prices["ETH"]


def test_a_pool_s_depth_through_the_same_interface() -> None:
    # X-PERP filled against a constant-product pool (1000 X and 100000 USDT: k = 1e8) instead of the levels:
    # the forecast asks it only through quote and impacted_mark; one account a round, each order quoted at the
    # mark it meets, so both paths fill the same orders at the same prices
    pool = {"X-PERP": ConstantProduct(D(1000), D(100000))}
    compared = check(A_AND_B, GENERIC.rules, GENERIC.liquidation, pool, Decimal(10000), "X", -0.1)
    assert compared.exact.accounts == compared.forecast.accounts == 2
    assert compared.price_error == pytest.approx(0, abs=1e-12)
    assert compared.notional_error == pytest.approx(0, abs=1e-12)
    assert compared.shortfall_error == pytest.approx(0, abs=1e-12)
