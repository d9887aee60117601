"""Each explanation recomputes the venue's figure under its rule; the numbers here are worked by hand from the
fixtures' inputs (tests/bridge/fixtures/*.json notes give the venues' own arithmetic)."""

from decimal import Decimal

from crossmargin.bridge import explanations as ex
from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.reconcile import cases_of
from crossmargin.bridge.reported import split_reported
from crossmargin.live.document import portfolio_of
from crossmargin.margin.account import evaluate_account
from tests.bridge.support import responses

TIGHT = Decimal("1E-20")


def cases(name: str, account_index: int = 0):
    document = document_from_responses(responses(name))
    plain, reports = split_reported(document)
    portfolio, rules = portfolio_of(plain)
    report = reports[account_index]
    result = evaluate_account(portfolio.account(report.account_id), portfolio, rules)
    return cases_of(report, result, portfolio, rules)


def values(rule, case) -> list[Decimal | None]:
    return [candidate.value for candidate in rule(case)]


def close(found: Decimal | None, expected: Decimal, within: Decimal = TIGHT) -> bool:
    return found is not None and abs(found - expected) <= within


def test_user_leverage_on_the_mark_and_on_the_entry_value():
    (btc, _), _ = cases("binanceusdm-cross")
    # 1.5 x 67412.35006452 / 20 = 5055.926254839; 1.5 x 66104.2 / 20 = 4957.815
    assert values(ex.user_leverage, btc) == [Decimal("5055.926254839")]
    assert values(ex.user_leverage_entry, btc) == [Decimal("4957.815")]


def test_the_other_valuation_of_initial_and_maintenance_margin():
    (btc, _), _ = cases("binanceusdm-cross")
    # at entry: 1.5 x 66104.2 = 99156.3, bracket 2 (<= 600000): IM 99156.3 / 100 = 991.563,
    # MM 99156.3 x 0.005 - 50 = 445.7815
    (initial,) = ex.entry_valued_initial(btc)
    assert initial.value == Decimal("991.563")
    assert initial.rule.startswith("entry- vs mark-valued initial margin")
    assert values(ex.entry_valued_maintenance, btc) == [Decimal("445.7815")]


def test_bybit_initial_margin_with_the_fee_to_close_at_the_users_leverage():
    (btc, _), _ = cases("bybit-unified")
    # fee to close 56921.15 x (1 - 1/10) x 0.00055 = 28.17596925
    # mark: 58719.3 / 10 + 28.17596925 = 5900.10596925; entry: 56921.15 / 10 + 28.17596925 = 5720.29096925
    assert values(ex.user_leverage_fee_to_close, btc) == [Decimal("5900.10596925"), Decimal("5720.29096925")]


def test_bybit_maintenance_margin_with_the_fee_to_close_at_the_users_leverage():
    (_, eth), _ = cases("bybit-unified")
    # ETH short: 51220.44 x 0.005 + 50357.04 x (1 + 1/10) x 0.00055 = 256.1022 + 30.4660092 = 286.5682092
    (candidate,) = ex.fee_to_close_at_user_leverage(eth)
    assert close(candidate.value, Decimal("286.5682092"))
    assert "10x" in candidate.rule and "100x" in candidate.rule


def test_bybit_liquidation_price_with_the_fees_to_close_at_the_users_leverage():
    (_, eth), _ = cases("bybit-unified")
    # the fixture's estimate: P = 142421.31747155 / 12.06 = 11809.396141919569...
    (candidate,) = ex.liquidation_fee_to_close_at_user_leverage(eth)
    assert close(candidate.value, Decimal("142421.31747155") / Decimal("12.06"), Decimal("1E-9"))


def test_okx_maintenance_margin_without_the_liquidation_fee():
    (btc, _), _ = cases("okx-cross")
    # 41104.455 x 0.004 = 164.41782 (ours adds 41104.455 x 0.0005 = 20.5522275)
    assert values(ex.liquidation_fee_apart, btc) == [Decimal("164.41782")]


def test_the_other_price_move_agrees_when_nothing_else_moves():
    (_, eth), _ = cases("binanceusdm-cross")
    # USDT collateral only: moving the underlying or the mark alone gives the same root, 205096.0498307161 / 40.2
    (candidate,) = ex.other_price_move(eth)
    assert close(candidate.value, Decimal("205096.0498307161") / Decimal("40.2"))
    assert candidate.rule == "the venue's liquidation price moves every price on its underlying"


def test_a_hedge_leg_takes_the_net_positions_liquidation_price():
    (long, short, _), _ = cases("binanceusdm-hedge")
    (candidate,) = ex.hedge_shared_liquidation_price(short)
    assert candidate.value == long.result.liquidation_price
    assert list(ex.hedge_shared_liquidation_price(long)) == []  # the leg on the net side: its own price


def test_a_cross_estimate_is_noted_without_a_value():
    (btc, _), _ = cases("bybit-unified")
    (candidate,) = ex.cross_liquidation_estimate(btc)
    assert candidate.value is None


def test_account_initial_margin_from_the_positions():
    _, binance = cases("binanceusdm-cross")
    # 5055.92625483 + 5074.82461538 + open orders 0
    (candidate,) = ex.venue_positions_initial_margin(binance)
    assert candidate.value == Decimal("10130.75087021")
    assert candidate.slack == 3
    _, hyperliquid = cases("hyperliquid-cross")
    # cross positions at the users' leverage: 88078.5 / 20 + 53357.5 / 10 = 4403.925 + 5335.75
    assert values(ex.user_leverage_positions, hyperliquid) == [Decimal("9739.675")]


def test_account_maintenance_margin_from_the_positions_in_the_reports_currency():
    _, bybit = cases("bybit-unified")
    # (321.77246925 + 286.5682092) USDT x USDT's USD price 62790.86540262 / 62777.3
    (candidate,) = ex.venue_positions_maintenance_margin(bybit)
    expected = Decimal("608.34067845") * Decimal("62790.86540262") / Decimal("62777.3")
    assert close(candidate.value, expected)


def test_free_collateral_after_the_venues_initial_margin_and_the_transfer_floor():
    _, binance = cases("binanceusdm-cross")
    # 104005.1501486 - 10130.75087021 = 93874.39927839
    assert values(ex.venue_initial_margin, binance) == [Decimal("93874.39927839")]
    _, hyperliquid = cases("hyperliquid-cross")
    # 93040.624187 - max(9739.675, 0.1 x (88078.5 + 53357.5)) = 93040.624187 - 14143.6
    assert values(ex.transfer_floor, hyperliquid) == [Decimal("78897.024187")]


def test_margin_ratio_conventions():
    _, okx = cases("okx-cross")
    # equity / (MM + fees): 19232.465 / 453.8868075
    (inverse,) = ex.equity_over_maintenance(okx)
    assert close(inverse.value, Decimal("19232.465") / Decimal("453.8868075"))
    _, bybit = cases("bybit-unified")
    # the venue's own totalMaintenanceMargin / totalMarginBalance
    (own,) = ex.venue_ratio_of_own_figures(bybit)
    assert close(own.value, Decimal("608.47213339") / Decimal("91572.89945262"))


def test_rules_without_their_inputs_yield_nothing():
    (_, eth), binance = cases("dydx-v4")
    assert list(ex.user_leverage(eth)) == []  # dYdX reports no leverage
    assert list(ex.venue_positions_initial_margin(binance)) == []  # nor per-position IM
    assert list(ex.liquidation_fee_apart(eth)) == []  # no liquidation fee in its terms
    assert list(ex.user_leverage_fee_to_close(eth)) == []


def test_shown_numbers():
    assert ex.shown(Decimal("20.0")) == "20"
    assert ex.shown(Decimal("0.00050")) == "0.0005"
    assert ex.shown(Decimal("1E+1")) == "10"
