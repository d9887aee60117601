"""Binance futures: what the import reads from positionRisk, the account payload and the brackets; an account per
margin asset; Multi-Assets mode refused."""

import copy
from decimal import Decimal

import pytest

from crossmargin.bridge.binance import COINM, USDM
from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import edited, recording, responses


def test_position_figures_come_from_info_not_cccxts_unified_guesses():
    read = responses("binanceusdm-cross")
    btc = USDM.positions(read)[0]
    # info.maintMargin 455.59262548 (MM with cum); ccxt's unified 505.5926254839 leaves cum out
    assert btc.reported["maintenance_margin"] == Decimal("455.59262548")
    assert btc.reported["initial_margin"] == Decimal("5055.92625483")
    assert btc.reported["liquidation_price"] == 0  # Binance's "0": no liquidation price
    assert btc.reported["leverage"] == 20  # fetch_leverages (symbolConfig); v3 positionRisk has none
    assert btc.mark == Decimal("67412.35006452")
    assert btc.pool == "USDT"


def test_coin_m_margins_come_from_the_account_payload():
    # /dapi/v1/positionRisk has no maintMargin or initialMargin: /dapi/v1/account positions[BTCUSD_PERP] has
    (position,) = COINM.positions(responses("binancecoinm-cross"))
    assert position.reported["maintenance_margin"] == Decimal("0.02467439")
    assert position.reported["initial_margin"] == Decimal("0.59348797")
    assert position.size == 4000  # contracts of 100 USD


def test_coin_m_brackets_are_in_the_coin():
    read = responses("binancecoinm-cross")
    tiers = COINM.tiers(read, "BTC/USD:BTC", read.markets["BTC/USD:BTC"])
    assert tiers[0] == {"max_notional": 5, "mmr": Decimal("0.004"), "max_leverage": 125, "maint_amount": Decimal("0.0")}


def test_coin_m_prices_each_coin_at_its_perpetuals_index():
    read = responses("binancecoinm-cross")
    # the BTCUSD_PERP premiumIndex indexPrice (fetch_mark_prices)
    assert COINM.prices(read, ["BTC", "USD"]) == {"BTC": read.tickers["BTC/USD:BTC"]["indexPrice"]}


def test_an_isolated_position_keeps_its_isolated_wallet():
    eth = USDM.positions(responses("binanceusdm-hedge"))[2]
    assert eth.isolated_margin == Decimal("6541.77351200")


def test_each_margin_asset_with_a_balance_is_an_account_and_needs_a_price():
    data = recording("binanceusdm-cross")
    usdc = next(a for a in data["fetch_balance"]["info"]["assets"] if a["asset"] == "USDC")
    usdc["crossWalletBalance"] = "500"
    data["raw"].pop("GET /fapi/v3/account")  # the account payload read from fetch_balance.info
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(data))
    assert caught.value.field == "fetch_tickers"
    assert "USDC" in caught.value.message
    data["fetch_tickers"]["USDC/USDT:USDT"] = {"symbol": "USDC/USDT:USDT", "indexPrice": "0.9998"}
    document = document_from_responses(read_responses(data))
    assert [a["id"] for a in document["accounts"]] == ["binanceusdm-USDT", "binanceusdm-USDC"]
    assert document["accounts"][1]["balances"] == {"USDC": 500}
    assert document["accounts"][1]["positions"] == []
    assert document["prices"] == {"USDC": Decimal("0.9998")}


def test_multi_assets_mode_is_refused():
    data = edited("binanceusdm-cross", "raw", "GET /fapi/v1/multiAssetsMargin", "multiAssetsMargin", value=True)
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(data))
    assert caught.value.field == "raw.GET /fapi/v1/multiAssetsMargin.multiAssetsMargin"


def test_a_position_whose_margin_asset_has_no_account_entry_is_named():
    data = recording("binanceusdm-cross")
    for payload in (data["fetch_balance"]["info"], data["raw"]["GET /fapi/v3/account"]):
        payload["assets"] = [a for a in payload["assets"] if a["asset"] != "USDT"]
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(data))
    assert caught.value.field == "raw.GET /fapi/v3/account.assets"


def test_brackets_need_their_cap():
    data = recording("binanceusdm-cross")
    del data["fetch_leverage_tiers"]["BTC/USDT:USDT"][0]["info"]["notionalCap"]
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(copy.deepcopy(data)))
    assert caught.value.field == "fetch_leverage_tiers.BTC/USDT:USDT[0].info.qtyCap"
