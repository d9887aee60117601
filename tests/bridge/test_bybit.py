"""Bybit's unified account: coins priced at Bybit's USD values, collateral value ratios as weight bands, risk-limit
tiers with Bybit's IMR and deduction, the fee to close, isolated positions."""

from decimal import Decimal

import pytest

from crossmargin.bridge.bybit import BASE_TAKER, BYBIT, COLLATERAL_ENDPOINT
from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import edited, recording, responses


def test_coins_are_priced_at_their_usd_value_over_equity():
    prices = BYBIT.prices(responses("bybit-unified"), ["USDT", "BTC", "USD"])
    # USDT: usdValue 62790.86540262 / equity 62777.3; BTC: 29369.4225 / 0.25 = 117477.69
    assert prices == {"USDT": Decimal("62790.86540262") / Decimal("62777.3"), "BTC": Decimal("117477.69")}


def test_collateral_ratios_become_weight_bands():
    weights = BYBIT.weights(responses("bybit-unified"), ["USDT", "BTC"])
    assert weights["USDT"] == {"weight": 1}
    assert weights["BTC"]["weight_bands"] == [
        [0, Decimal("0.98")],
        [10, Decimal("0.95")],
        [20, Decimal("0.9")],
        [30, Decimal("0.85")],
        [40, Decimal("0.8")],
        [50, 0],
    ]


def test_without_reported_ratios_the_rulebook_table_or_the_collateral_switch_applies():
    data = edited("bybit-unified", "raw", COLLATERAL_ENDPOINT, value=...)
    read = read_responses(data)
    # USDT and BTC are in the bybit-uta rulebook: left to it; a coin it lacks counts at 1 when switched on
    assert BYBIT.weights(read, ["USDT", "BTC", "XRP"]) == {"XRP": {"weight": 1}}
    coin = data["fetch_balance"]["info"]["result"]["list"][0]["coin"][1]
    coin["coin"], coin["collateralSwitch"] = "XRP", False
    data["raw"].pop("GET /v5/account/wallet-balance?accountType=UNIFIED")
    assert BYBIT.weights(read_responses(data), ["XRP"]) == {"XRP": {"weight": 0}}


def test_the_account_is_the_cross_pool_in_usd():
    read = responses("bybit-unified")
    (account,) = BYBIT.accounts(read, BYBIT.positions(read))
    assert (account.currency, account.scope) == ("USD", "cross")
    assert account.balances == {"USDT": Decimal("61842.55"), "BTC": Decimal("0.25")}
    assert account.reported["equity"] == Decimal("91572.89945262")  # totalMarginBalance
    assert account.reported["margin_ratio"] == Decimal("0.0066")  # accountMMRate
    assert account.reported["open_orders_initial_margin"] == 0


def test_tiers_keep_bybits_initial_rate_and_deduction():
    read = responses("bybit-unified")
    tiers = BYBIT.tiers(read, "BTC/USDT:USDT", read.markets["BTC/USDT:USDT"])
    assert tiers[0] == {"max_notional": 2000000, "mmr": Decimal("0.005"), "imr": Decimal("0.01")}  # mmDeduction ""
    assert tiers[1] == {
        "max_notional": 2600000,
        "mmr": Decimal("0.0056"),
        "imr": Decimal("0.0111"),
        "maint_amount": 1200,
    }


def test_the_fee_to_close_is_the_recorded_taker_rate_or_bybits_base_rate():
    read = responses("bybit-unified")
    market = read.markets["BTC/USDT:USDT"]
    assert BYBIT.instrument_terms(read, "BTC/USDT:USDT", market) == {"close_fee_rate": BASE_TAKER}
    data = recording("bybit-unified")
    data["fetch_trading_fees"] = {"BTC/USDT:USDT": {"taker": "0.0004"}}
    assert BYBIT.instrument_terms(read_responses(data), "BTC/USDT:USDT", market) == {
        "close_fee_rate": Decimal("0.0004")
    }


def test_position_figures_from_info():
    btc, eth = BYBIT.positions(responses("bybit-unified"))
    assert btc.reported["liquidation_price"] is None  # liqPrice ""
    assert eth.reported["liquidation_price"] == Decimal("11809.39")
    assert eth.reported["maintenance_margin"] == Decimal("286.5682092")
    assert eth.size == -12
    assert eth.isolated_margin is None


def test_an_isolated_account_keeps_each_positions_balance():
    data = recording("bybit-unified")
    data["fetch_margin_modes"]["ETH/USDT:USDT"]["marginMode"] = "isolated"
    eth = BYBIT.positions(read_responses(data))[1]
    assert eth.isolated_margin == Decimal("5152.5100092")  # positionBalance


def test_a_coin_without_equity_has_no_price():
    data = recording("bybit-unified")
    data["raw"].pop("GET /v5/account/wallet-balance?accountType=UNIFIED")
    coin = data["fetch_balance"]["info"]["result"]["list"][0]["coin"][1]
    coin["equity"] = "0"
    with pytest.raises(InputError) as caught:
        BYBIT.prices(read_responses(data), ["BTC"])
    assert caught.value.field == "fetch_balance.info.result.list[0].coin[1].equity"
    with pytest.raises(InputError) as caught:
        BYBIT.prices(read_responses(data), ["SOL"])
    assert caught.value.field == "fetch_balance.info.result.list[0].coin"


def test_the_document_is_under_the_bybit_uta_rulebook_in_usd():
    document = document_from_responses(responses("bybit-unified"))
    assert (document["rulebook"], document["base"]) == ("bybit-uta", "USD")
    assert document["instruments"]["BTC-PERP"]["close_fee_rate"] == BASE_TAKER
