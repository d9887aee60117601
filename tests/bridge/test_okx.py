"""OKX: the account mode decides the accounts (one per currency in single-currency margin, one in USD in
multi-currency margin); brackets by size; the liquidation fee; refused modes."""

from decimal import Decimal
from typing import Any

import pytest

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.okx import CONFIG_ENDPOINT, OKX
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import recording, responses


def multi_currency() -> dict[str, Any]:
    """The fixture's account in multi-currency margin (acctLv 3): account totals filled, USDT discounted to
    0.98 (disEq = 0.98 x eqUsd)."""
    data = recording("okx-cross")
    data["raw"][CONFIG_ENDPOINT]["data"][0]["acctLv"] = "3"
    data["raw"].pop("GET /api/v5/account/balance", None)
    entry = data["fetch_balance"]["info"]["data"][0]
    detail = entry["details"][0]
    detail["disEq"] = str(Decimal(detail["eqUsd"]) * Decimal("0.98"))
    entry.update(adjEq="18851.2", imr="13345.5", mmr="420.6", mgnRatio="41.5", availEq="5500")
    return data


def test_single_currency_margin_is_an_account_per_currency():
    read = responses("okx-cross")
    (account,) = OKX.accounts(read, OKX.positions(read))
    assert (account.key, account.currency, account.scope) == ("USDT", "USDT", "cross")
    assert account.balances == {"USDT": Decimal("18250.75")}  # cashBal, no isolated margin
    assert account.reported["equity"] == Decimal("19232.465")  # the currency's eq
    assert account.reported["margin_ratio"] == Decimal("42.372822215151075")
    assert OKX.weights(read, ["USDT"]) == {"USDT": {"weight": 1}}


def test_multi_currency_margin_is_one_account_in_usd_with_discounts():
    read = read_responses(multi_currency())
    (account,) = OKX.accounts(read, OKX.positions(read))
    assert (account.key, account.currency) == ("", "USD")
    assert account.reported["equity"] == Decimal("18851.2")  # adjEq
    assert OKX.weights(read, ["USDT"]) == {"USDT": {"weight": Decimal("0.98")}}
    assert document_from_responses(read)["accounts"][0]["id"] == "okx"


def test_usd_prices_are_eq_usd_over_eq():
    # 19235.9268437 / 19232.465 = 1.00018
    assert OKX.prices(responses("okx-cross"), ["USDT", "USD"]) == {"USDT": Decimal("1.00018")}


def test_brackets_are_contracts_times_contract_value():
    read = responses("okx-cross")
    tiers = OKX.tiers(read, "ETH/USDT:USDT", read.markets["ETH/USDT:USDT"])
    # maxSz 2000 contracts x ctVal 0.1 ETH = 200 ETH; imr 0.013 as OKX prints it (not 1/75)
    assert tiers[0] == {"max_notional": 200, "mmr": Decimal("0.01"), "imr": Decimal("0.013"), "maint_amount": 0}
    terms = OKX.instrument_terms(read, "ETH/USDT:USDT", read.markets["ETH/USDT:USDT"])
    assert terms == {"tier_basis": "size", "liquidation_fee_rate": Decimal("0.0005")}


@pytest.mark.parametrize("level", ["1", "4"])
def test_simple_and_portfolio_margin_are_refused(level):
    data = recording("okx-cross")
    data["raw"][CONFIG_ENDPOINT]["data"][0]["acctLv"] = level
    with pytest.raises(InputError) as caught:
        document_from_responses(read_responses(data))
    assert caught.value.field == f"raw.{CONFIG_ENDPOINT}.data[0].acctLv"


def test_the_account_mode_is_read_from_the_position_mode_when_config_is_not_recorded():
    data = recording("okx-cross")
    data["raw"].pop(CONFIG_ENDPOINT)
    data["fetch_position_mode"]["info"]["acctLv"] = "4"
    with pytest.raises(InputError) as caught:
        OKX.level(read_responses(data))
    assert caught.value.field == "fetch_position_mode.info.acctLv"


def test_an_isolated_positions_margin_leaves_the_cash_balance():
    data = recording("okx-cross")
    for payload in (data["fetch_positions"][1]["info"], data["raw"]["GET /api/v5/account/positions"]["data"][1]):
        payload["mgnMode"], payload["margin"] = "isolated", "1000"
    data["fetch_positions"][1]["marginMode"] = "isolated"
    read = read_responses(data)
    positions = OKX.positions(read)
    assert positions[1].isolated_margin == 1000
    (account,) = OKX.accounts(read, positions)
    assert account.balances == {"USDT": Decimal("17250.75")}  # 18250.75 - 1000
