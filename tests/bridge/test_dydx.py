"""dYdX v4: the subaccount's USDC with the positions' cost added, liquidity tiers with quantums and open-interest
caps, oracle marks; our liquidation price against the docs' formula."""

from decimal import Decimal

import pytest

from crossmargin.bridge.dydx import DYDX, QUANTUM
from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.reconcile import reconcile_document
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import recording, responses


def test_the_balance_adds_the_positions_cost_to_the_usdc_asset_position():
    read = responses("dydx-v4")
    (account,) = DYDX.accounts(read, DYDX.positions(read))
    # 12743.518234 + 0.8 x 114883.5 - 15 x 4312.6 = 12743.518234 + 91906.8 - 64689
    assert account.balances == {"USDC": Decimal("39961.318234")}
    assert account.reported["equity"] == Decimal("42671.094174")
    assert account.reported["maintenance_margin"] is None  # the indexer reports none


def test_a_short_usdc_position_is_owed():
    data = recording("dydx-v4")
    data["fetch_balance"]["info"]["assetPositions"]["USDC"]["side"] = "SHORT"
    read = read_responses(data)
    (account,) = DYDX.accounts(read, [])
    assert account.balances == {"USDC": Decimal("-12743.518234")}


def test_the_liquidity_tier_with_quantums():
    read = responses("dydx-v4")
    market = read.markets["BTC/USDC:USDC"]
    assert DYDX.tiers(read, "BTC/USDC:USDC", market) == [{"max_notional": None, "imr": Decimal("0.02")}]
    # maintenance fraction 0.012 / 0.02 = 0.6; caps 0/0: no open-interest scaling
    assert DYDX.instrument_terms(read, "BTC/USDC:USDC", market) == {
        "maintenance_fraction": Decimal("0.6"),
        "margin_quantum": QUANTUM,
        "rate_quantum": QUANTUM,
    }
    assert DYDX.open_interest(read, "BTC/USDC:USDC", market) is None
    assert DYDX.mark(read, "BTC/USDC:USDC") == Decimal("117452.3068")


def test_open_interest_caps_bring_the_open_interest_notional():
    data = recording("dydx-v4")
    info = data["fetch_markets"][0]["info"]
    info["openInterestLowerCap"], info["openInterestUpperCap"] = "20000000", "50000000"
    document = document_from_responses(read_responses(data))
    assert document["instruments"]["BTC-PERP"]["open_interest_caps"] == [20000000, 50000000]
    # openInterest 61.0924 BTC x oracle 117452.3068
    assert document["open_interest"] == {"BTC-PERP": Decimal("61.0924") * Decimal("117452.3068")}


def test_our_liquidation_price_is_the_docs_cross_formula():
    # dYdX docs: p' = (e - s x p - MMR_other) / (|s| x MMF - s) with e 42671.094174, s 0.8, p 117452.3068,
    # ETH's MMR 768.411234: 65864.3250253036...; ours rounds each requirement up to 1e-6 USDC (the chain's
    # integers), so within 1e-6 / 0.7904 of it
    result = reconcile_document(document_from_responses(responses("dydx-v4")))
    line = {(p, x.figure): x for _, p, x in result.lines()}[("BTC-PERP", "liquidation_price")]
    assert line.ours is not None
    assert abs(line.ours - Decimal("65864.3250253036")) < Decimal("0.000002")
    assert line.status == "missing"  # the venue computes none


def test_only_usdc_is_collateral():
    with pytest.raises(InputError):
        DYDX.prices(responses("dydx-v4"), ["BTC"])
