"""Hyperliquid: margin tables as tiers, the cross pool's USDC from rawUsd, isolated margin, marks from position
values; what is refused."""

from decimal import Decimal

import pytest

from crossmargin.bridge.hyperliquid import HYPERLIQUID, MAINTENANCE_FRACTION, META_ENDPOINT
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import edited, recording, responses


def test_margin_tables_become_tiers():
    read = responses("hyperliquid-cross")
    tiers = HYPERLIQUID.tiers(read, "BTC/USDC:USDC", read.markets["BTC/USDC:USDC"])
    # table 56: 40x from 0, 20x from 150,000,000 USDC
    assert tiers == [{"max_notional": 150000000, "max_leverage": 40}, {"max_notional": None, "max_leverage": 20}]
    terms = HYPERLIQUID.instrument_terms(read, "BTC/USDC:USDC", read.markets["BTC/USDC:USDC"])
    assert terms == {"maintenance_fraction": MAINTENANCE_FRACTION}


def test_without_the_tables_one_bracket_at_the_markets_max_leverage():
    read = read_responses(edited("hyperliquid-cross", "raw", META_ENDPOINT, value=...))
    assert HYPERLIQUID.tiers(read, "ETH/USDC:USDC", read.markets["ETH/USDC:USDC"]) == [
        {"max_notional": None, "max_leverage": 25}
    ]


def test_the_cross_balance_adds_the_cost_of_the_cross_positions_to_raw_usd():
    read = responses("hyperliquid-cross")
    positions = HYPERLIQUID.positions(read)
    (account,) = HYPERLIQUID.accounts(read, positions)
    # 58319.624187 + 0.75 x 114212.0 - 12.5 x 4311.4 = 58319.624187 + 85659 - 53892.5 (SOL is isolated)
    assert account.balances == {"USDC": Decimal("90086.124187")}
    assert (account.currency, account.scope) == ("USDC", "cross")
    assert account.reported["maintenance_margin"] == Decimal("2168.13125")
    assert account.reported["free_collateral"] == Decimal("78897.024187")


def test_an_isolated_positions_margin_is_its_raw_usd_plus_the_entry_notional():
    sol = HYPERLIQUID.positions(responses("hyperliquid-cross"))[2]
    # rawUsd -26575.74045 + 150 x 221.34 = 6625.25955
    assert sol.isolated_margin == Decimal("6625.25955")
    assert sol.reported["initial_margin"] is None  # marginUsed of an isolated position is its equity, not IM


def test_the_mark_is_the_position_value_over_the_size():
    btc = HYPERLIQUID.positions(responses("hyperliquid-cross"))[0]
    assert btc.mark == Decimal("88078.5") / Decimal("0.75")  # 117438


def test_a_spot_or_unified_balance_is_refused():
    data = recording("hyperliquid-cross")
    data["fetch_balance"]["info"] = {"balances": []}
    read = read_responses(data)
    with pytest.raises(InputError) as caught:
        HYPERLIQUID.accounts(read, [])
    assert caught.value.field == "fetch_balance.info.crossMarginSummary"


def test_only_usdc_is_collateral():
    with pytest.raises(InputError) as caught:
        HYPERLIQUID.prices(responses("hyperliquid-cross"), ["USDC", "USDT"])
    assert "USDT" in caught.value.message


def test_a_malformed_margin_table_is_named():
    data = recording("hyperliquid-cross")
    data["raw"][META_ENDPOINT][0]["marginTables"][0] = [56]
    read = read_responses(data)
    with pytest.raises(InputError) as caught:
        HYPERLIQUID.margin_tables(read)
    assert caught.value.field == f"raw.{META_ENDPOINT}[0].marginTables[0]"
