"""Haircuts: marginal weight bands, liabilities, the initial side."""

import pytest

from crossmargin.model import Asset, InputError, Side, WeightBand, WeightSchedule
from tests.builders import D, banded

BTC = banded(
    "BTC", [("0", "0.95"), ("10", "0.9"), ("50", "0.8")], initial=[("0", "0.9"), ("10", "0.85"), ("50", "0.7")]
)


def test_marginal_bands():
    # 60 BTC: 10 x 0.95 + 40 x 0.9 + 10 x 0.8 = 9.5 + 36 + 8 = 53.5 BTC counted
    assert BTC.weighted_amount(D(60), Side.MAINTENANCE) == D("53.5")
    # initial side: 10 x 0.9 + 40 x 0.85 + 10 x 0.7 = 9 + 34 + 7 = 50
    assert BTC.weighted_amount(D(60), Side.INITIAL) == D(50)
    # at 20000 USD: 53.5 x 20000 = 1,070,000
    assert BTC.value(D(60), D(20000), Side.MAINTENANCE) == D(1070000)


def test_amount_for_inverts_the_bands():
    schedule = BTC.schedule(Side.MAINTENANCE)
    # 45.5 counted = 9.5 (first 10) + 36 (next 40, full) -> exactly 50 held
    assert schedule.amount_for(D("45.5")) == D(50)
    # 20 counted = 9.5 + 10.5 / 0.9 -> 10 + 11.666... held
    assert schedule.amount_for(D(20)) == D(10) + D("10.5") / D("0.9")


def test_liabilities_count_at_liability_weight():
    usdc = Asset("USDC", WeightSchedule.flat(D("0.98")), WeightSchedule.flat(D("0.95")), D("1.02"), D("1.05"))
    # owing 1000 USDC at 0.999: -1000 x 1.02 x 0.999 = -1018.98 (maintenance), x 1.05 = -1048.95 (initial)
    assert usdc.value(D(-1000), D("0.999"), Side.MAINTENANCE) == D("-1018.98")
    assert usdc.value(D(-1000), D("0.999"), Side.INITIAL) == D("-1048.95")


def test_initial_weight_may_not_exceed_weight_anywhere():
    with pytest.raises(InputError) as err:
        banded("X", [("0", "0.9"), ("10", "0.5")], initial=[("0", "0.8"), ("20", "0.4")])
    # at amount 10 the maintenance weight is 0.5 and the initial weight still 0.8
    assert err.value.field == "initial_weight"
    assert "at amount 10" in err.value.message


@pytest.mark.parametrize(
    ("bands", "field"),
    [
        (((D(1), D("0.9")),), "[0].from_amount"),
        (((D(0), D("1.1")),), "[0].weight"),
        (((D(0), D("0.9")), (D(0), D("0.8"))), "[1].from_amount"),
    ],
)
def test_bad_bands(bands, field):
    with pytest.raises(InputError) as err:
        WeightSchedule(tuple(WeightBand(a, w) for a, w in bands))
    assert err.value.field == field


def test_liability_weight_below_one_rejected():
    with pytest.raises(InputError) as err:
        Asset("X", WeightSchedule.flat(D(1)), WeightSchedule.flat(D(1)), D("0.9"))
    assert err.value.field == "liability_weight"
