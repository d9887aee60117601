"""The oracle policy at the point of decision (a Guard event), worked by hand.

The book (base USD): USD and USDC collateral, both weight 1 (liability weight 1); BTC-PERP linear, settled
in USD, 1 contract = 1 unit, mmr 5 %, imr 10 %; USDC at 1, the mark at 100.

- ``a``: 1000 USDC, long 50 BTC-PERP from 100: IM 10 % x 50 x 100 = 500, MM 250; at USDC 1 equity 1000,
  free collateral 500.
- ``b``: 1000 USD, no position.
- ``c``: 1000 USD, owes 500 USDC, no position: at USDC 1 equity 500.
"""

import pytest

from crossmargin.clearing.events import MARKET, Guard, LiquidationStart, PriceUpdate, Trade, Withdraw
from crossmargin.clearing.guard import policy_guard
from crossmargin.clearing.state import ClearingState, user
from crossmargin.model import InputError
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import Guards, OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USD = banded("USD", [("0", "1")])
USDC = banded("USDC", [("0", "1")])
PERP = linear("BTC-PERP", settle="USD", table=tiers((None, "0.05", "0.1")))


def opening() -> ClearingState:
    portfolio = book(
        [USD, USDC],
        [PERP],
        {"USDC": "1"},
        {"BTC-PERP": "100"},
        [
            ("a", {"USDC": "1000"}, [position("BTC-PERP", "50", "100")]),
            ("b", {"USD": "1000"}, []),
            ("c", {"USD": "1000", "USDC": "-500"}, []),
        ],
    )
    return ClearingState(portfolio, GENERIC)


def refused(state: ClearingState, event: object, field: str, match: str) -> None:
    before = state.digest()
    with pytest.raises(InputError, match=match) as caught:
        state.apply(event)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert state.digest() == before


def test_a_withdrawal_while_usdc_is_degraded_counts_it_at_the_lower_price_held_and_the_higher_owed():
    state = opening()
    state.apply(Guard(held={"USDC": D("0.95")}, owed={"USDC": D("1.05")}))
    # a holds USDC, counted at 0.95: equity 1000 x 0.95 = 950, IM 500, free 450, worth 450 / 0.95 = 473.684...
    # USDC (at the market price, 1, it would be 500)
    refused(state, Withdraw("a", "USDC", D("473.69")), "amount", "exceeds the free collateral")
    state.apply(Withdraw("a", "USDC", D("473.68")))
    assert state.ledger.balance(user("a"), "USDC") == D("526.32")
    # c owes USDC, counted at 1.05: equity 1000 - 500 x 1.05 = 475 USD to withdraw (500 at the market price)
    refused(state, Withdraw("c", "USD", D("475.01")), "amount", "exceeds the free collateral")
    state.apply(Withdraw("c", "USD", D(475)))
    assert state.ledger.balance(user("c"), "USD") == D(525)


def test_an_order_is_checked_at_the_guarded_market():
    state = opening()
    state.apply(Guard(held={"USDC": D("0.95")}, owed={"USDC": D("1.05")}))
    # buying 49 more at 100 adds IM 10 % x 4900 = 490: free 450 - 490 = -40 at the guarded market (at the
    # market price it would pass: 500 - 490 = 10)
    refused(state, Trade("a", "b", "BTC-PERP", D(49), D(100)), "buyer", "initial-margin")
    # 45 more adds 450: free 450 - 450 = 0, which passes
    state.apply(Trade("a", "b", "BTC-PERP", D(45), D(100)))
    assert state.legs["a"][("BTC-PERP", True)].size == D(95)


def test_liquidation_is_decided_at_the_market_not_at_the_guard():
    state = opening()
    state.apply(Guard(held={"USDC": D("0.2")}))
    # at the guarded price a's equity would be 1000 x 0.2 = 200 < MM 250, but at the market it is 1000
    assert not state.liquidatable("a")
    refused(state, LiquidationStart("a"), "account", "not liquidatable")
    # the guarded equity 200 is below the IM 500: nothing may leave
    refused(state, Withdraw("a", "USDC", D(1)), "amount", "exceeds the free collateral")


def test_an_account_on_a_frozen_price_may_reduce_but_neither_withdraw_nor_add_risk():
    state = opening()
    state.apply(Guard(frozen=frozenset({"BTC-PERP"})))
    refused(state, Withdraw("a", "USDC", D(1)), "account", "frozen: the price of BTC-PERP")
    refused(state, Trade("a", MARKET, "BTC-PERP", D(1), D(100)), "buyer", "may not add risk")
    # selling 10 of the 50 only reduces the position: it passes; selling 60 would flip it short: refused
    state.apply(Trade(MARKET, "a", "BTC-PERP", D(10), D(100)))
    assert state.legs["a"][("BTC-PERP", True)].size == D(40)
    refused(state, Trade(MARKET, "a", "BTC-PERP", D(60), D(100)), "seller", "may not add risk")
    # b depends on no frozen price: it may withdraw, but opening BTC-PERP would make it depend on one
    state.apply(Withdraw("b", "USD", D(1)))
    refused(state, Trade("b", MARKET, "BTC-PERP", D(1), D(100)), "buyer", "may not add risk")
    # a frozen asset freezes who holds it (a) and who owes it (c), not b
    state.apply(Guard(frozen=frozenset({"USDC"})))
    refused(state, Withdraw("a", "USDC", D(1)), "account", "frozen: the price of USDC")
    refused(state, Withdraw("c", "USD", D(1)), "account", "frozen: the price of USDC")
    state.apply(Withdraw("b", "USD", D(1)))
    # a price update does not lift the guard; the next guard does
    state.apply(PriceUpdate(prices={"USDC": D(1)}))
    refused(state, Withdraw("c", "USD", D(1)), "account", "frozen")
    state.apply(Guard())
    state.apply(Withdraw("c", "USD", D(1)))


def test_the_guard_is_part_of_the_digest_and_the_log():
    state = opening()
    before = state.digest()
    state.apply(Guard(held={"USDC": D("0.95")}))
    assert state.digest() != before
    assert state.log == [Guard(held={"USDC": D("0.95")})]
    assert state.rebuilt().digest() == state.digest()


def test_the_policy_guard_of_an_oracle_book():
    # USDC pegged at 1 (floor 0.99), quorum 2: two sources at 0.95 at t = 1 make it degraded; BTC's two
    # sources last report at t = 0 and are stale at t = 61 (max age 60): invalid, and BTC-PERP's mark with it
    guards = Guards(quorum=2)
    config = OracleConfig(guards, {"USDC": Guards(quorum=2, peg=D(1))})
    oracle = OracleBook(config, {"USDC": D(1), "BTC": D(100)}, {"BTC-PERP": D(100)}, {"BTC-PERP": "BTC"})
    for source in ("a", "b"):
        oracle.accept(SourceUpdate(D(0), source, "BTC", D(100)))
        oracle.accept(SourceUpdate(D(1), source, "USDC", D("0.95")))
    oracle.advance(D(61))
    assert oracle.index("USDC").status is Status.DEGRADED and oracle.index("BTC").status is Status.INVALID
    guard = policy_guard(oracle, ["USDC", "BTC"], config.policy)
    assert guard.frozen == {"BTC", "BTC-PERP"}
    # held: the lower of index 0.95 and EMA; the EMA moved from 1 by w = 1 - 2^(-1/300) of the 0.05 drop at
    # t = 1: 1 - 0.05 x 0.0023078... = 0.99988461... (the higher: owed)
    assert guard.held == {"USDC": D("0.95")}
    expected = 1 - 0.05 * (1 - 2 ** (-1 / 300))
    assert abs(float(guard.owed["USDC"]) - expected) < 1e-12
    # BTC is invalid, not conservative: no held or owed price for it
    assert "BTC" not in guard.owed
