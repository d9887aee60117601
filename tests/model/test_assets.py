"""Collateral assets: marginal weight bands, liabilities, the initial side, the size discount, and the
schedule's pieces (edges, linear piece, marginal weight) the liquidation-price solver reads."""

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


def test_size_discount_on_collateral_and_liabilities():
    eth = Asset("ETH", WeightSchedule.flat(D("0.9")), WeightSchedule.flat(D("0.9")), D("1.05"), D("1.05"), D("0.01"))
    # 100 ETH: min(0.9, 1.1 / (1 + 0.01 x 10)) = min(0.9, 1) = 0.9 -> 90; 10000 ETH: 1.1 / 2 = 0.55 -> 5500
    assert eth.weighted_amount(D(100), Side.MAINTENANCE) == D(90)
    assert eth.weighted_amount(D(10000), Side.MAINTENANCE) == D(5500)
    # owing 100: max(1.05, 0.84 + 0.1) = 1.05; owing 10000: 0.84 + 1 = 1.84
    assert eth.weighted_amount(D(-100), Side.MAINTENANCE) == D(-105)
    assert eth.weighted_amount(D(-10000), Side.MAINTENANCE) == D(-18400)
    # and the inverse used for withdrawals finds the holding back
    held = eth.amount_for(D(5500), Side.MAINTENANCE)
    assert held is not None and abs(held - D(10000)) < D("1E-30")


def test_schedule_pieces_by_hand():
    schedule = BTC.schedule(Side.MAINTENANCE)  # 0.95 to 10, 0.9 to 50, 0.8 beyond
    assert schedule.edges() == (D(10), D(50))
    assert [schedule.weight_at(D(x)) for x in ("0", "9.99", "10", "49", "50", "1000")] == [
        D("0.95"), D("0.95"), D("0.9"), D("0.9"), D("0.8"), D("0.8"),
    ]  # fmt: skip
    # at 30 BTC the piece is c + 0.9 x: 9.5 + 0.9 (x - 10), so c = 9.5 - 9 = 0.5
    assert schedule.line_at(D(30)) == (D("0.5"), D("0.9"))
    # beyond 50: 9.5 + 36 + 0.8 (x - 50) = 5.5 + 0.8 x
    assert schedule.line_at(D(60)) == (D("5.5"), D("0.8"))
    assert BTC.edges(Side.INITIAL) == (D(0), D(10), D(50))
    # a liability's piece is the liability weight through zero
    assert BTC.line_at(D(-5), Side.MAINTENANCE) == (D(0), D(1))


def test_a_flat_schedule_and_the_simple_asset():
    usdt = Asset.simple("USDT")
    assert usdt.weight == usdt.initial_weight == WeightSchedule.flat(D(1))
    assert (usdt.liability_weight, usdt.initial_liability_weight, usdt.imf_factor) == (D(1), D(1), D(0))
    eth = Asset.simple("ETH", D("0.9"), D("0.8"))
    # 3 ETH at 2000: 3 x 2000 x 0.9 = 5400 maintenance, x 0.8 = 4800 initial
    assert (eth.value(D(3), D(2000), Side.MAINTENANCE), eth.value(D(3), D(2000), Side.INITIAL)) == (D(5400), D(4800))


def test_a_weight_that_ends_at_zero_never_reaches_more():
    # 0.5 up to 10 units, nothing counted beyond: at most 5 counted, whatever is held
    capped = WeightSchedule((WeightBand(D(0), D("0.5")), WeightBand(D(10), D(0))))
    assert capped.weighted_amount(D(1000)) == D(5)
    assert capped.amount_for(D(5)) == D(10)
    assert capped.amount_for(D("5.01")) is None
    assert capped.amount_for(D(0)) == D(0)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: WeightSchedule(()), ""),
        (lambda: Asset("X", WeightSchedule.flat(D(1)), WeightSchedule.flat(D(1)), D("1.1"), D("1.05")),
         "initial_liability_weight"),
        (lambda: Asset("X", WeightSchedule.flat(D(1)), WeightSchedule.flat(D(1)), imf_factor=D(-1)), "imf_factor"),
        (lambda: Asset("X", BTC.weight, BTC.initial_weight, imf_factor=D("0.01")), "imf_factor"),
        (lambda: Asset("X", WeightSchedule.flat(D("NaN")), WeightSchedule.flat(D(1))), "[0].weight"),
    ],
    ids=["no band", "initial liability below maintenance", "negative imf", "imf with bands", "NaN weight"],
)  # fmt: skip
def test_a_bad_asset_is_refused_naming_its_field(make, field):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field


def test_a_size_discounted_weight_has_no_linear_piece():
    eth = Asset("ETH", WeightSchedule.flat(D("0.9")), WeightSchedule.flat(D("0.9")), imf_factor=D("0.01"))
    with pytest.raises(InputError) as err:
        eth.line_at(D(1), Side.MAINTENANCE)
    assert err.value.field == "imf_factor"
