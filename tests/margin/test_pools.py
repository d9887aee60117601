"""Margin pools: each rule term a rulebook can set, worked by hand on one small book; the liquidation
condition, collateral at full price for isolated margin, uPnL inside the settle collateral, and
requirements valued at the entry price."""

from dataclasses import replace
from decimal import Decimal

from crossmargin.margin.account import evaluate_account
from crossmargin.margin.pools import Pool, evaluate_pool, is_liquidatable, settle_amounts
from crossmargin.model import Asset, Portfolio, RuleChoices, Side, TierSpec, TierTable
from crossmargin.model.instruments import TierBasis
from crossmargin.model.rules import MarginValuation, PriceMove, Valuation
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


def test_the_liquidation_condition_by_hand():
    # equity 100 against MM 100: not below it, unless the rulebook liquidates at equality (with positions)
    assert not is_liquidatable(D(100), D(100), True, GENERIC)
    assert is_liquidatable(D(100), D(100), True, RuleChoices("eq", liquidate_at_equality=True))
    assert not is_liquidatable(D(100), D(100), False, RuleChoices("eq", liquidate_at_equality=True))
    # threshold 1.05: 104 < 105 is liquidatable, 105 is not
    pm = RuleChoices("pm", liquidation_threshold=D("1.05"))
    assert is_liquidatable(D(104), D(100), True, pm) and not is_liquidatable(D(105), D(100), True, pm)
    # nothing required and equity below zero: liquidatable unless the rulebook needs a requirement (dYdX)
    assert is_liquidatable(D(-1), D(0), False, GENERIC)
    assert not is_liquidatable(D(-1), D(0), False, RuleChoices("dydx-like", liquidate_without_requirement=False))


def haircut_book(balance: str, mark: str) -> Portfolio:
    """USDT counted at 0.9 (both sides); long 1 BTC-PERP (1 BTC, settled in USDT) from 20000."""
    usdt = Asset.simple("USDT", D("0.9"))
    return book(
        [usdt], [linear("BTC-PERP")], {"USDT": "1"}, {"BTC-PERP": mark},
        [("a", {"USDT": balance}, [position("BTC-PERP", "1", "20000")])],
    )  # fmt: skip


def test_isolated_margin_counts_at_full_price_and_cross_collateral_is_haircut():
    portfolio = haircut_book("100", "20000")
    held = portfolio.accounts[0].positions
    # 100 USDT at weight 0.9: 90 in a cross pool, 100 as isolated margin (no haircut)
    assert evaluate_pool(Pool({"USDT": D(100)}, held), portfolio, GENERIC).collateral_value == D(90)
    assert evaluate_pool(Pool({"USDT": D(100)}, held, haircut=False), portfolio, GENERIC).collateral_value == D(100)


def test_pnl_inside_the_settle_collateral_is_weighted_with_it():
    folded = RuleChoices("folded", pnl_in_settle_collateral=True)
    # profit: 1000 USDT and +1000 uPnL. Apart: 1000 x 0.9 + 1000 = 1900; folded: (1000 + 1000) x 0.9 = 1800
    rich = haircut_book("1000", "21000")
    assert cross(rich).equity == D(1900) and cross(rich, folded).equity == D(1800)
    # loss: 3000 USDT and -1000 uPnL. Apart: 3000 x 0.9 - 1000 = 1700; folded: (3000 - 1000) x 0.9 = 1800
    poor = haircut_book("3000", "19000")
    assert cross(poor).equity == D(1700) and cross(poor, folded).equity == D(1800)
    # the collateral value still reports the balance alone
    assert cross(poor, folded).collateral_value == D(2700)
    figures = cross(poor, folded).positions
    assert settle_amounts(Pool({"USDT": D(3000)}, ()), figures, poor, Side.MAINTENANCE) == {"USDT": D(2000)}


def test_a_requirement_valued_at_entry_keeps_the_entry_notional_and_its_bracket():
    # long 1 from 20000 marked 25000, tiers 0.004 / 0.008: MM at the mark 100, at entry 20000 x 0.004 = 80;
    # IM stays at the mark: 25000 x 0.008 = 200
    portfolio = haircut_book("100000", "25000")
    at_entry = RuleChoices("entry", margin_valuation=MarginValuation(cross_maintenance=Valuation.ENTRY))
    assert (cross(portfolio).maintenance_margin, cross(portfolio).initial_margin) == (D(100), D(200))
    assert (cross(portfolio, at_entry).maintenance_margin, cross(portfolio, at_entry).initial_margin) == (D(80), D(200))


def test_equity_at_or_below_zero_has_no_margin_ratio():
    # 100 USDT (90 counted), long 1 from 20000 marked 19000: equity 90 - 1000 = -910
    figures = cross(haircut_book("100", "19000"))
    assert figures.equity == D(-910) and figures.margin_ratio is None and figures.liquidatable
    # free collateral = initial equity - IM = -910 - 19000 x 0.008 = -1062
    assert figures.free_collateral == D(-1062)
