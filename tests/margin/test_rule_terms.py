"""Each rule term a rulebook can set, worked by hand on one small book."""

from dataclasses import replace
from decimal import Decimal

from crossmargin.margin.account import evaluate_account
from crossmargin.margin.pools import Pool, evaluate_pool
from crossmargin.model import Asset, Portfolio, RuleChoices, Side, TierSpec, TierTable, WeightSchedule
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import PriceMove
from tests.builders import GENERIC, D, book, div, linear, position, tiers

USDT = Asset.simple("USDT")
CLOSE = D("1E-40")


def one(balance: str, size: str, entry: str, mark: str, **terms: object) -> Portfolio:
    """1 contract = 1 BTC, tiers 0.004 / 0.008 unless ``terms`` replace them."""
    instrument = replace(linear("BTC-PERP"), **terms)
    return book(
        [USDT],
        [instrument],
        {"USDT": "1"},
        {"BTC-PERP": mark},
        [("a", {"USDT": balance}, [position("BTC-PERP", size, entry)])],
    )


def cross(portfolio: Portfolio, rules: RuleChoices = GENERIC):
    return evaluate_account(portfolio.accounts[0], portfolio, rules).cross


def test_upnl_weights_and_cap():
    # long 1 from 20000 at 21000: +1000 profit. Maintenance counts 1000 x 0.5 = 500, initial 1000 x 0.2 = 200
    figures = cross(one("1000", "1", "20000", "21000", upnl_weight=D("0.5"), initial_upnl_weight=D("0.2")))
    assert figures.equity == D(1500) and figures.initial_equity == D(1200)
    # the cap: at most 100 of positive uPnL for initial margin
    capped = cross(one("1000", "1", "20000", "21000", initial_upnl_cap=D(100)))
    assert capped.equity == D(2000) and capped.initial_equity == D(1100)
    # losses always count in full: from 22000 at 21000, -1000
    assert cross(one("1000", "1", "22000", "21000", upnl_weight=D(0), initial_upnl_weight=D(0))).equity == D(0)


def test_size_premium_on_rates():
    # 100 BTC at 20000: rates 0.004 / 0.008, imf 0.001: sqrt(100) = 10, so
    # mmr = max(0.004, 0.8 x 0.004 + 0.001 x 10) = 0.0132, imr = max(0.008, 0.0064 + 0.01) = 0.0164
    figures = cross(one("1000000", "100", "20000", "20000", imf_factor=D("0.001")))
    assert figures.maintenance_margin == D(2000000) * D("0.0132")
    assert figures.initial_margin == D(2000000) * D("0.0164")


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


def test_close_fee_at_the_bankruptcy_price_bybit_e1():
    # Bybit "Initial Margin (USDT Contract)": 0.5 BTC, entry 50000, mark 50500, 10x, taker 0.055%.
    # IM = 0.5 x 50500 / 10 = 2525; fee to close long = 0.5 x 50000 x (1 - 1/10) x 0.00055 = 12.375
    ten_x = tiers((None, "0.005", "0.1"))
    long = cross(one("100000", "0.5", "50000", "50500", tiers=ten_x, close_fee_rate=D("0.00055")))
    assert long.initial_margin == D("2537.375")
    # short: 0.5 x 50000 x (1 + 1/10) x 0.00055 = 15.125
    short = cross(one("100000", "-0.5", "50000", "50500", tiers=ten_x, close_fee_rate=D("0.00055")))
    assert short.initial_margin == D("2540.125")
    # maintenance carries the same fee: 25250 x 0.005 + 12.375 = 138.625
    assert long.maintenance_margin == D("138.625")


def test_liquidation_fee_in_maintenance():
    # MM = 20000 x (0.004 + 0.0005) = 90
    assert cross(one("1000", "1", "20000", "20000", liquidation_fee_rate=D("0.0005"))).maintenance_margin == D(90)


def test_tiers_by_size_jump_without_maintenance_amount():
    by_size = TierTable.build(
        [
            TierSpec(D(100), D("0.005"), D("0.01"), maint_amount=D(0)),
            TierSpec(None, D("0.01"), D("0.02"), maint_amount=D(0)),
        ]
    )
    terms = {"tiers": by_size, "tier_basis": TierBasis.SIZE}
    # 100 contracts (first tier, bounds inclusive): 100 x 100 x 0.005 = 50; 101 contracts: 101 x 100 x 0.01 = 101
    assert cross(one("100000", "100", "100", "100", **terms)).maintenance_margin == D(50)
    assert cross(one("100000", "101", "100", "100", **terms)).maintenance_margin == D(101)


def test_maintenance_as_a_fraction_of_initial():
    # Hyperliquid: 50x max leverage -> imr 0.02, maintenance half of it: 0.01
    table = TierTable.build([TierSpec(None, None, max_leverage=D(50))], D("0.5"))
    assert table.tiers[0].mmr == D("0.01")


def test_open_interest_scales_initial_margin():
    # dYdX: imf 0.05, caps 1,000,000 .. 2,000,000, open interest 1,500,000: 0.05 + 0.95 x 0.5 = 0.525
    portfolio = one(
        "100000",
        "1",
        "20000",
        "20000",
        tiers=tiers((None, "0.03", "0.05")),
        open_interest_caps=(D(1000000), D(2000000)),
    )
    portfolio = replace(portfolio, market=replace(portfolio.market, open_interest={"BTC-PERP": D(1500000)}))
    figures = cross(portfolio)
    assert figures.initial_margin == D(20000) * D("0.525")
    assert figures.maintenance_margin == D(600)  # maintenance does not scale: 20000 x 0.03


def test_margin_quantum_rounds_up_and_maintenance_follows_the_rounded_initial():
    # dYdX: notional 20.000022, imf 0.05, maintenance fraction 0.6, quantum 0.000001.
    # IM = ceil(1.0000011) = 1.000002; MM = ceil(1.000002 x 0.6 = 0.6000012) = 0.600002
    # (rounding 20.000022 x 0.03 = 0.60000066 directly would give 0.600001)
    table = TierTable.build([TierSpec(None, None, D("0.05"))], D("0.6"))
    figures = cross(one("1000", "1", "20.000022", "20.000022", tiers=table, margin_quantum=D("0.000001")))
    assert figures.initial_margin == D("1.000002")
    assert figures.maintenance_margin == D("0.600002")


def test_liquidation_threshold_and_equality():
    # equity 1000 (no PnL) against 12 BTC at 20000
    portfolio = one("1000", "12", "20000", "20000")  # MM = 240000 x 0.004 = 960
    assert not cross(portfolio).liquidatable
    assert cross(portfolio, RuleChoices("pm", liquidation_threshold=D("1.05"))).liquidatable  # 1000 < 1008
    exactly = one("960", "12", "20000", "20000")  # equity 960 = MM
    assert not cross(exactly).liquidatable
    assert cross(exactly, RuleChoices("eq", liquidate_at_equality=True)).liquidatable


def test_instrument_only_move_holds_the_other_legs():
    # long 1 BTC-PERP at 20000, short 1 BTC-FUT from 20000 marked 20100 (-100), 1000 USDT.
    # Moving the perp only: H = 1000 + (P - 20000) - 100 - 0.004 P - 20100 x 0.004 = 0.996 P - 19180.4
    # -> P = 19180.4 / 0.996. Moving the whole underlying instead the legs offset and only MM grows.
    portfolio = book(
        [USDT],
        [linear("BTC-PERP"), linear("BTC-FUT")],
        {"USDT": "1"},
        {"BTC-PERP": "20000", "BTC-FUT": "20100"},
        [("a", {"USDT": "1000"}, [position("BTC-PERP", "1", "20000"), position("BTC-FUT", "-1", "20000")])],
    )
    rules = RuleChoices("binance-like", liquidation_price_moves=PriceMove.INSTRUMENT)
    perp = evaluate_account(portfolio.accounts[0], portfolio, rules).positions[0]
    assert perp.liquidation_price is not None and abs(perp.liquidation_price - div("19180.4", "0.996")) < CLOSE


def test_threshold_enters_the_liquidation_price():
    # 1000 USDT, long 0.5 at 20000, threshold 1.05: 1000 + 0.5 (P - 20000) - 1.05 x 0.002 P = 0
    # -> 0.4979 P = 9000
    portfolio = one("1000", "0.5", "20000", "20000")
    result = evaluate_account(portfolio.accounts[0], portfolio, RuleChoices("pm", liquidation_threshold=D("1.05")))
    price = result.positions[0].liquidation_price
    assert price is not None and abs(price - div(9000, "0.4979")) < CLOSE


def test_isolated_pool_of_nothing_is_not_liquidatable():
    assert not evaluate_pool(Pool({"USDT": Decimal(0)}, ()), one("1", "1", "1", "1"), GENERIC).liquidatable
