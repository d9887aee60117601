"""The watcher's book: each recorded account read back as its own snapshot explains itself; fills move positions
and balances as the clearing state would (adds, reductions, flips, inverse contracts, isolated margins); what the
book cannot take is skipped; differences are reported once, after settling, within the venue's rounding."""

import copy
from decimal import Decimal
from typing import Any

import pytest

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.tracking import BookTracker, Drift, Fill, Skipped, account_id
from tests.bridge.support import fixture_paths, recording, responses
from tests.bridge.watch_support import binance_trade

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def snapshot(name: str) -> tuple[list[Any], dict[str, Any]]:
    """The recording's own positions and balance, as a venue would answer them again."""
    data = recording(name)
    return copy.deepcopy(data["fetch_positions"]), copy.deepcopy(data["fetch_balance"])


@pytest.mark.parametrize("name", [p.stem for p in fixture_paths()])
def test_every_recorded_account_read_again_shows_no_drift_and_keeps_the_documents_names(name: str) -> None:
    tracker = BookTracker(responses(name), settle_s=0)
    document = document_from_responses(responses(name))
    assert tracker.accounts == tuple(a["id"] for a in document["accounts"])
    assert {(a, i) for a, i, _ in tracker.legs} == {
        (a["id"], p["instrument"]) for a in document["accounts"] for p in a["positions"]
    }
    assert {a for a, _ in tracker.balances} <= set(tracker.accounts)
    assert tracker.observe(*snapshot(name), now=0.0) == []


def fill(tracker: BookTracker, account: str, instrument: str, size: str, price: str, fee: str = "0") -> None:
    tracker.apply(Fill("f", account, instrument, Decimal(size), Decimal(price), Decimal(fee), None))


def test_a_fill_that_flips_a_position_realizes_the_closed_part_and_reopens_at_the_fill_price() -> None:
    tracker = BookTracker(responses("hyperliquid-cross"), settle_s=0)
    # BTC long 0.75 at 114212; sell 1 at 117000: realizes 0.75 x (117000 - 114212) = 0.75 x 2788 = 2091
    fill(tracker, "hyperliquid", "BTC-PERP", "-1", "117000")
    assert ("hyperliquid", "BTC-PERP", True) not in tracker.legs
    short = tracker.legs[("hyperliquid", "BTC-PERP", False)]
    assert (short.size, short.entry_price, short.isolated_margin) == (Decimal("-0.25"), Decimal(117000), None)
    # cross balance: totalRawUsd 58319.624187 + cross entry cost 0.75 x 114212 - 12.5 x 4311.4 = 90086.124187
    assert tracker.balances[("hyperliquid", "USDC")] == Decimal("90086.124187") + 2091


def test_an_isolated_position_takes_its_pnl_and_fee_and_gives_what_is_left_back_when_it_closes() -> None:
    tracker = BookTracker(responses("hyperliquid-cross"), settle_s=0)
    cross = Decimal("90086.124187")
    # SOL long 150 at 221.34, isolated: rawUsd -26575.74045 + 150 x 221.34 = 6625.25955
    assert tracker.legs[("hyperliquid", "SOL-PERP", True)].isolated_margin == Decimal("6625.25955")
    # sell 50 at 216.5, fee 50 x 216.5 x 0.00045 = 4.87125: realizes 50 x (216.5 - 221.34) = -242
    fill(tracker, "hyperliquid", "SOL-PERP", "-50", "216.5", "4.87125")
    sol = tracker.legs[("hyperliquid", "SOL-PERP", True)]
    assert (sol.size, sol.isolated_margin) == (Decimal(100), Decimal("6625.25955") - 242 - Decimal("4.87125"))
    assert tracker.balances[("hyperliquid", "USDC")] == cross  # the cross balance does not move
    # sell the other 100 at 216.5, fee 9.7425: realizes -484; 6378.3883 - 484 - 9.7425 = 5884.6458 goes back
    fill(tracker, "hyperliquid", "SOL-PERP", "-100", "216.5", "9.7425")
    assert ("hyperliquid", "SOL-PERP", True) not in tracker.legs
    assert tracker.balances[("hyperliquid", "USDC")] == cross + Decimal("5884.6458")


def test_an_inverse_contracts_pnl_is_in_the_coin() -> None:
    tracker = BookTracker(responses("binancecoinm-cross"), settle_s=0)
    # BTCUSD long 4000 contracts of 100 USD at 66212.7; sell 1000 at 67000: the 100000 USD closed were worth
    # 100000 / 66212.7 = 1.51028428081... BTC at entry and 100000 / 67000 = 1.49253731343... BTC at the exit:
    # 0.01774696737734107870228890796 BTC realized, onto the 1.52347819 BTC wallet
    fill(tracker, "binancecoinm-BTC", "BTCUSD-PERP", "-1000", "67000")
    assert tracker.legs[("binancecoinm-BTC", "BTCUSD-PERP", True)].size == 3000
    wallet = tracker.balances[("binancecoinm-BTC", "BTC")]
    assert wallet.quantize(Decimal("1E-20")) == Decimal("1.54122515737734107870")


def test_a_ccxt_trade_becomes_a_fill_of_the_account_margining_the_market() -> None:
    tracker = BookTracker(responses("binanceusdm-cross"), settle_s=0)
    trade = binance_trade(7, ETH, "SELL", "2", "2540", "2.032", 1729771205000)
    assert tracker.fill_of(trade) == Fill(
        "7", "binanceusdm-USDT", "ETH-PERP", Decimal(-2), Decimal(2540), Decimal("2.032"), (Decimal("2.032"), "USDT")
    )
    in_bnb = dict(trade, fee={"cost": 0.0001, "currency": "BNB"})
    assert tracker.fill_of(in_bnb).fee == 0  # not in the settle asset: the ledger cannot carry it
    assert tracker.fill_of(in_bnb).venue_fee == (Decimal("0.0001"), "BNB")
    rebate = dict(trade, fee={"cost": -0.5, "currency": "USDT"})
    assert tracker.fill_of(rebate).fee == 0


@pytest.mark.parametrize(
    ("name", "edit", "reason"),
    [
        ("binanceusdm-hedge", {}, "the venue account is in hedge mode: the book trades one-way positions"),
        ("binanceusdm-cross", {"symbol": "SOL/USDT:USDT"}, "SOL/USDT:USDT is not a market the book holds"),
        ("binanceusdm-cross", {"side": "short"}, "trade.side must be 'buy' or 'sell', got 'short'"),
        ("binanceusdm-cross", {"amount": 0}, "trade.amount: must be positive, got 0"),
    ],
)
def test_what_the_book_cannot_take_is_skipped_with_the_reason(name: str, edit: dict[str, Any], reason: str) -> None:
    tracker = BookTracker(responses(name), settle_s=0)
    with pytest.raises(Skipped) as skipped:
        tracker.fill_of({**binance_trade(8, BTC, "BUY", "1", "67000", "26.8", 1729771205000), **edit})
    assert skipped.value.reason == reason


def with_wallet(balance: dict[str, Any], amount: str) -> dict[str, Any]:
    for asset in balance["info"]["assets"]:
        if asset["asset"] == "USDT":
            asset["crossWalletBalance"] = amount
    return balance


def test_a_difference_is_reported_once_after_it_has_lasted_the_settling_time() -> None:
    tracker = BookTracker(responses("binanceusdm-cross"), settle_s=1.0)
    positions, balance = snapshot("binanceusdm-cross")
    moved = with_wallet(balance, "100280.61735942")  # 4 USDT less than the recorded 100284.61735942
    assert tracker.observe(positions, moved, now=10.0) == []
    assert tracker.next_due() == 11.0
    assert tracker.observe(positions, moved, now=10.5) == []
    drift = Drift("balance", "binanceusdm-USDT", "USDT", None, Decimal("100280.61735942"), Decimal("100284.61735942"))
    assert tracker.observe(positions, moved, now=11.0) == [drift]
    assert drift.difference == -4
    assert tracker.observe(positions, moved, now=12.0) == []  # the book took the venue's figure
    assert tracker.next_due() is None


def test_a_difference_the_next_snapshot_no_longer_shows_is_never_reported() -> None:
    tracker = BookTracker(responses("binanceusdm-cross"), settle_s=1.0)
    positions, balance = snapshot("binanceusdm-cross")
    assert tracker.observe(positions, with_wallet(copy.deepcopy(balance), "100280.61735942"), now=0.0) == []
    assert tracker.observe(positions, balance, now=2.0) == []
    assert tracker.next_due() is None


def test_balances_agree_within_the_venues_quantum_and_one_more_per_fill() -> None:
    positions, balance = snapshot("binanceusdm-cross")

    def off_by(tracker: BookTracker, wallet: str) -> list[Drift]:
        return tracker.observe(positions, with_wallet(copy.deepcopy(balance), wallet), now=0.0)

    # Binance prints 8 decimals: 1E-8 off the recorded 100284.61735942 agrees, 2E-8 off does not
    assert off_by(BookTracker(responses("binanceusdm-cross"), settle_s=0), "100284.61735943") == []
    (drift,) = off_by(BookTracker(responses("binanceusdm-cross"), settle_s=0), "100284.61735944")
    assert drift.difference == Decimal("2E-8")
    # two fills that move no money (sell 1 ETH at the short's entry 2581.37, which keeps the entry, and buy it
    # back there: no PnL, no fee) widen the margin to 3E-8; the book then takes the venue's figure and counts
    # fills afresh
    tracker = BookTracker(responses("binanceusdm-cross"), settle_s=0)
    fill(tracker, "binanceusdm-USDT", "ETH-PERP", "-1", "2581.37")
    fill(tracker, "binanceusdm-USDT", "ETH-PERP", "1", "2581.37")
    assert off_by(tracker, "100284.61735945") == []
    (drift,) = off_by(tracker, "100284.61735947")
    assert drift.difference == Decimal("2E-8")


def test_a_position_in_a_market_the_book_does_not_hold_is_reported_when_it_changes() -> None:
    tracker = BookTracker(responses("binanceusdm-cross"), settle_s=0)
    positions, balance = snapshot("binanceusdm-cross")
    sol = {"symbol": "SOL/USDT:USDT", "contracts": 3, "side": "short", "entryPrice": 150, "info": {}}
    opened = tracker.observe([*positions, sol], balance, now=0.0)
    assert opened == [Drift("position", None, "SOL/USDT:USDT", "short", Decimal(-3), Decimal(0))]
    assert tracker.observe([*positions, sol], balance, now=1.0) == []
    closed = tracker.observe(positions, balance, now=2.0)
    assert closed == [Drift("position", None, "SOL/USDT:USDT", "short", Decimal(0), Decimal(-3))]


def test_account_ids_are_the_importers() -> None:
    assert account_id("binanceusdm", "USDT") == "binanceusdm-USDT"
    assert account_id("bybit", "") == "bybit"
