"""The VaR floor worked by hand: maintenance is the larger of the tiers and the delta-normal VaR, with
correlations (and a conservative 1 where none is given)."""

import math
from dataclasses import replace
from decimal import Decimal

import pytest

from crossmargin.margin.account import cross_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.model import Account, InputError, Market, Portfolio
from crossmargin.model.rules import RuleChoices, VarFloor
from crossmargin.venues.rulebook import rulebook_from_data
from tests.builders import D, banded, linear, position, tiers

USDC = banded("USDC", [("0", "1")])
BTC_PERP = linear("BTC-PERP", settle="USDC", table=tiers((None, "0.005", "0.01")))
ETH_PERP = linear("ETH-PERP", underlying="ETH", settle="USDC", table=tiers((None, "0.005", "0.01")))
FLOOR = RuleChoices("floor", var_floor=VarFloor(D("0.99")))
Z99 = 2.326348  # the standard normal 99 % quantile, from a table


def pool_figures(positions, correlations=None, vols=None, rules=FLOOR):
    market = Market(
        "USDC", {"BTC": D(40000), "ETH": D(3000)}, {"BTC-PERP": D(40000), "ETH-PERP": D(3000)},
        vols=vols or {"BTC": ((D(1), D("0.8")),), "ETH": ((D(1), D(1)),)}, correlations=correlations or {},
    )  # fmt: skip
    account = Account("a", {"USDC": D(100000)}, positions)
    book = Portfolio("USDC", "g", {"USDC": USDC}, {"BTC-PERP": BTC_PERP, "ETH-PERP": ETH_PERP}, market, (account,))
    return evaluate_pool(cross_pool(account), book, rules)


def test_one_perpetual_by_hand():
    # daily sigma 0.8 / sqrt(365) = 0.0418740; 1 BTC at 40,000: sigma of the P&L 1,674.96, VaR 99 %
    # 2.326348 x 1,674.96 = 3,896.5, above the tier's 0.5 % x 40,000 = 200; initial at least that
    figures = pool_figures((position("BTC-PERP", "1", "40000"),))
    expected = Z99 * 40000 * 0.8 / math.sqrt(365)
    assert float(figures.maintenance_margin) == pytest.approx(expected, rel=1e-6)
    assert figures.initial_margin == figures.maintenance_margin  # the tier's 1 % x 40,000 = 400 is less
    # four days: twice the VaR
    four = replace(FLOOR, var_floor=VarFloor(D("0.99"), D(4)))
    assert float(pool_figures((position("BTC-PERP", "1", "40000"),), rules=four).maintenance_margin) == pytest.approx(
        2 * expected, rel=1e-6
    )


def test_correlation_by_hand_and_the_larger_requirement():
    # long 1 BTC (40,000, daily sigma 0.0418740: 1,674.96) and short 10 ETH (-30,000, sigma 1 / sqrt(365) =
    # 0.0523424: 1,570.27). Correlation 0.5: variance 1,674.96^2 + 1,570.27^2 - 1,674.96 x 1,570.27 =
    # 2,641,094, sigma 1,625.14, VaR 3,780.6 (tiers: 200 + 150 = 350)
    book = (position("BTC-PERP", "1", "40000"), position("ETH-PERP", "-10", "3000"))
    btc, eth = 40000 * 0.8 / math.sqrt(365), 30000 / math.sqrt(365)
    half = pool_figures(book, correlations={("BTC", "ETH"): D("0.5")})
    assert float(half.maintenance_margin) == pytest.approx(Z99 * math.sqrt(btc**2 + eth**2 - btc * eth), rel=1e-6)
    # no correlation given counts as 1: sigma |1,674.96 - 1,570.27| = 104.69, VaR 243.5 < the tiers' 350
    assert pool_figures(book).maintenance_margin == D(350)


def test_the_floor_needs_every_volatility():
    with pytest.raises(InputError) as error:
        pool_figures((position("ETH-PERP", "1", "3000"),), vols={"BTC": ((D(1), D("0.8")),)})
    assert error.value.field == "vols.ETH"


def test_a_rulebook_file_sets_the_floor():
    data = {
        "name": "var", "title": "t", "tables_taken": "2026-11-25",
        "rules": {"var_floor": {"level": 0.975, "horizon_days": 2}},
    }  # fmt: skip
    assert rulebook_from_data(data, "var.yaml").rules.var_floor == VarFloor(Decimal("0.975"), Decimal(2))
    with pytest.raises(InputError) as error:
        rulebook_from_data({**data, "rules": {"var_floor": {"level": 1.5}}}, "var.yaml")
    assert error.value.field == "var.yaml: rules.var_floor.level"
