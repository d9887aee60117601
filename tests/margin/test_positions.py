"""Notional, PnL and tiered margin of single positions, worked by hand."""

from dataclasses import replace

import pytest

from crossmargin.margin.positions import convex_maintenance, notional, requirement_terms, unrealized_pnl
from crossmargin.model import InputError, Side, TierSpec, TierTable, exact
from tests.builders import BINANCE_LIKE, D, inverse, linear


def requirement(instrument, notional_settle, side):
    """The requirement of a long position of ``notional_settle`` (no fee terms: size and entry do not matter)."""
    return requirement_terms(instrument, D(1), D(1), notional_settle, side).of(notional_settle)


def test_linear_notional_and_pnl():
    btc = linear("BTCUSDT", size="0.001")
    # 2500 contracts x 0.001 BTC = 2.5 BTC; at 30000: notional 75000 USDT; PnL 2.5 x (30000 - 28000) = 5000
    assert notional(btc, D("2500"), D("30000")) == D("75000")
    assert unrealized_pnl(btc, D("2500"), D("28000"), D("30000")) == D("5000")
    # a short gains when the price falls: -2.5 x (27000 - 28000) = 2500
    assert unrealized_pnl(btc, D("-2500"), D("28000"), D("27000")) == D("2500")


def test_inverse_notional_and_pnl_in_coin():
    btcusd = inverse("BTCUSD", size="100")
    # 1000 contracts x 100 USD = 100000 USD; at 50000 USD/BTC that is 2 BTC of notional
    assert notional(btcusd, D("1000"), D("50000")) == D("2")
    # long from 40000 to 50000: 100000 x (1/40000 - 1/50000) = 2.5 - 2 = 0.5 BTC
    assert unrealized_pnl(btcusd, D("1000"), D("40000"), D("50000")) == D("0.5")
    # the same short loses 0.5 BTC
    assert unrealized_pnl(btcusd, D("-1000"), D("40000"), D("50000")) == D("-0.5")


def test_derived_maintenance_amounts_make_margin_continuous():
    # tier 1: 50000 x (0.005 - 0.004) = 50; tier 2: 50 + 250000 x (0.01 - 0.005) = 1300
    assert [t.maint_amount for t in BINANCE_LIKE.tiers] == [D(0), D(50), D(1300)]
    btc = linear("BTCUSDT", table=BINANCE_LIKE)
    for edge in (D(50000), D(250000)):
        below = requirement(btc, edge, Side.MAINTENANCE)
        above = requirement(btc, edge + D("1E-30"), Side.MAINTENANCE)
        assert abs(above - below) < D("1E-28")


def test_tier_boundary_belongs_to_lower_bracket():
    btc = linear("BTCUSDT", table=BINANCE_LIKE)
    # exactly 50000: first bracket, MM = 50000 x 0.004 = 200, IM = 50000 x 0.008 = 400
    assert requirement(btc, D(50000), Side.MAINTENANCE) == D(200)
    assert requirement(btc, D(50000), Side.INITIAL) == D(400)
    # 50001: second bracket, MM = 50001 x 0.005 - 50 = 200.005, IM = 50001 x 0.01 = 500.01
    assert requirement(btc, D(50001), Side.MAINTENANCE) == D("200.005")
    assert requirement(btc, D(50001), Side.INITIAL) == D("500.01")
    # beyond the last finite edge: 1,000,000 x 0.01 - 1300 = 8700
    assert requirement(btc, D(1000000), Side.MAINTENANCE) == D(8700)


def test_an_inverse_notional_on_a_tier_edge_is_found_on_it():
    # 108 contracts x 100 USD at 54000 USD/BTC = 10800 / 54000 = 0.2 BTC exactly: the edge of a first
    # bracket up to 0.2 BTC, so the first bracket's initial rate, 0.01 x 0.2 = 0.002 BTC (not 0.02 x 0.2)
    table = TierTable.build([TierSpec(D("0.2"), D("0.005"), D("0.01")), TierSpec(None, D("0.01"), D("0.02"))])
    btcusd = inverse("BTCUSD", size="100", table=table)
    with exact():
        size = notional(btcusd, D(108), D(54000))
        assert size == D("0.2")
        assert requirement_terms(btcusd, D(108), D(54000), size, Side.INITIAL).of(size) == D("0.002")


def test_max_leverage_gives_initial_rate():
    table = TierTable.build(
        [TierSpec(D(10000), D("0.01"), max_leverage=D(50)), TierSpec(None, D("0.02"), imr=D("0.04"))]
    )
    assert table.tiers[0].imr == D("0.02")  # 1 / 50


@pytest.mark.parametrize(
    ("specs", "field"),
    [
        ([TierSpec(D(100), D("0.01"), imr=D("0.02")), TierSpec(D(100), D("0.02"), imr=D("0.04"))], "[1].max_notional"),
        ([TierSpec(D(100), D("0.01"))], "[0].imr"),
        ([TierSpec(D(100), D("0.05"), imr=D("0.02"))], "[0].imr"),
        ([TierSpec(None, D("0.01"), imr=D("0.02")), TierSpec(D(100), D("0.02"), imr=D("0.04"))], "[0].max_notional"),
        ([TierSpec(D(100), D("1.5"), imr=D("1"))], "[0].mmr"),
        ([TierSpec(D(100), D("0.01"), imr=D("0.02"), max_leverage=D(10))], "[0].imr"),
        ([TierSpec(D(100), D("0.01"), imr=D("0.02"), maint_amount=D(5))], "[0].maint_amount"),
    ],
)
def test_bad_tier_tables_name_the_field(specs, field):
    with pytest.raises(InputError) as err:
        TierTable.build(specs)
    assert err.value.field == field


def test_convex_maintenance_needs_continuity_at_every_edge_and_no_position_terms():
    # BINANCE_LIKE's amounts are derived: 0.004 n to 50000 (200), then 0.005 n - 50 (200 at the edge), then
    # 0.01 n - 1300 (1200 at 250000, as 0.005 x 250000 - 50): continuous, the rate rising
    assert convex_maintenance(linear("BTC-PERP", table=BINANCE_LIKE))
    # the second bracket's amount given as 40 instead of 50: 0.005 x 50000 - 40 = 210 above the edge, 200 below
    jump = TierTable.build(
        [TierSpec(D(50000), D("0.004"), D("0.008")), TierSpec(None, D("0.005"), D("0.01"), maint_amount=D(40))]
    )
    assert not convex_maintenance(linear("BTC-PERP", table=jump))
    # a fee to close (at the bracket's bankruptcy price) or a size premium depends on the position
    assert not convex_maintenance(replace(linear("BTC-PERP", table=BINANCE_LIKE), close_fee_rate=D("0.0005")))
    assert not convex_maintenance(replace(linear("BTC-PERP", table=BINANCE_LIKE), imf_factor=D("0.001")))
