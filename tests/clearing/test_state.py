"""The clearing state machine worked by hand: opening, trades with realized PnL and fees, funding,
withdrawals against free collateral and a frozen price, isolated margin, bad events, replay."""

from decimal import Decimal

import pytest

from crossmargin.clearing.events import (
    MARKET,
    Deposit,
    Funding,
    Guard,
    LiquidationFill,
    LiquidationStart,
    OpenAccount,
    OpenInterestLimits,
    PriceUpdate,
    Trade,
    Withdraw,
)
from crossmargin.clearing.state import (
    CLEARING,
    EXTERNAL,
    FEE_POOL,
    FUNDING,
    INSURANCE_FUND,
    ClearingState,
    isolated,
    user,
)
from crossmargin.model import InputError
from tests.builders import GENERIC, D, banded, book, linear, position, tiers

USDT = banded("USDT", [("0", "1")])
PERP = linear("BTC-PERP", table=tiers((None, "0.05", "0.1")))


def opening(fund: str = "0") -> ClearingState:
    portfolio = book(
        [USDT],
        [PERP],
        {},
        {"BTC-PERP": "100"},
        [
            ("a", {"USDT": "1000"}, []),
            ("b", {"USDT": "1000"}, []),
            ("i", {"USDT": "50"}, [position("BTC-PERP", "3", "100", isolated_margin="40")]),
        ],
        base="USDT",
    )
    return ClearingState(portfolio, GENERIC, D(fund))


def balance(state: ClearingState, account: str) -> Decimal:
    return state.ledger.balance(user(account), "USDT")


def test_the_opening_deposits_everything_and_the_market_holds_the_opposite_of_the_net():
    state = opening(fund="500")
    # 1000 + 1000 + 50 cross, 40 isolated, 500 insurance fund: 2590 came from outside
    assert state.ledger.balance(EXTERNAL, "USDT") == D(-2590)
    assert state.ledger.balance(isolated("i", "BTC-PERP", True), "USDT") == D(40)
    assert state.ledger.balance(INSURANCE_FUND, "USDT") == D(500)
    # i is long 3: the market is short 3 at the mark 100
    assert state.legs[MARKET][("BTC-PERP", False)].size == D(-3)
    assert state.open_interest("BTC-PERP") == (D(3), D(3))


def test_trades_realize_pnl_through_the_clearing_account_and_pay_fees():
    state = opening()
    state.apply(Trade("a", "b", "BTC-PERP", D(2), D(100), D("0.1"), D("0.1")))
    state.apply(Trade("b", "a", "BTC-PERP", D(1), D(110), D("0.1"), D("0.1")))
    # a bought 2 at 100 and sold 1 at 110: realized 1 x (110 - 100) = +10; b short 2 at 100 bought 1 back
    # at 110: -10. Each paid 0.1 twice.
    assert balance(state, "a") == D("1009.8") and balance(state, "b") == D("989.8")
    assert state.ledger.balance(CLEARING, "USDT") == 0  # +10 and -10 cancel
    assert state.ledger.balance(FEE_POOL, "USDT") == D("0.4")
    assert state.legs["a"][("BTC-PERP", True)].size == 1 and state.legs["b"][("BTC-PERP", False)].size == -1


def test_a_trade_past_initial_margin_is_refused_and_changes_nothing():
    state = opening()
    before = state.digest()
    # 200 contracts at 100: IM 10 % x 20000 = 2000 > 1000
    with pytest.raises(InputError, match=r"buyer.*initial-margin"):
        state.apply(Trade("a", "b", "BTC-PERP", D(200), D(100)))
    assert state.digest() == before and state.log == []


def test_funding_moves_money_from_longs_to_shorts_and_nets_to_zero():
    state = opening()
    state.apply(Trade("a", "b", "BTC-PERP", D(2), D(100)))
    state.apply(Funding("BTC-PERP", D("0.001")))
    # a long 2 pays 2 x 100 x 0.001 = 0.2, b short 2 receives 0.2; i long 3 pays 0.3 from its isolated 40,
    # and the market, short 3, receives 0.3
    assert balance(state, "a") == D("999.8") and balance(state, "b") == D("1000.2")
    assert state.ledger.balance(isolated("i", "BTC-PERP", True), "USDT") == D("39.7")
    assert state.ledger.balance(FUNDING, "USDT") == 0
    assert state.funding_index == {"BTC-PERP": D("0.1")}  # 1 contract x 100 x 0.001 per contract


def test_withdrawals_are_held_to_free_collateral_and_refused_on_a_frozen_price():
    state = opening()
    state.apply(Trade("a", "b", "BTC-PERP", D(50), D(100)))
    # a: 1000 USDT, long 50 at the mark: IM 10 % x 5000 = 500, free collateral 500
    with pytest.raises(InputError, match="amount"):
        state.apply(Withdraw("a", "USDT", D("500.01")))
    state.apply(Guard(frozen=frozenset({"BTC-PERP"})))
    with pytest.raises(InputError, match="frozen") as caught:
        state.apply(Withdraw("a", "USDT", D(1)))
    assert caught.value.field == "account"
    state.apply(PriceUpdate())  # a price update leaves the guard as it is
    with pytest.raises(InputError, match="frozen"):
        state.apply(Withdraw("a", "USDT", D(1)))
    state.apply(Guard())  # the next guard replaces it whole
    state.apply(Withdraw("a", "USDT", D(500)))
    # 2090 came in at the opening (1000 + 1000 + 50 + 40), 500 went out
    assert balance(state, "a") == D(500) and state.ledger.balance(EXTERNAL, "USDT") == D(-1590)


def test_closing_an_isolated_position_returns_its_margin_to_the_cross_balance():
    state = opening()
    state.apply(Trade(MARKET, "i", "BTC-PERP", D(3), D(90)))
    # realized 3 x (90 - 100) = -30 into the isolated 40: 10 left, back to the cross balance 50
    assert balance(state, "i") == D(60)
    assert state.ledger.balance(isolated("i", "BTC-PERP", True), "USDT") == 0
    assert ("BTC-PERP", True) not in state.legs["i"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (Deposit("nobody", "USDT", D(1)), "account"),
        (Deposit("a", "EUR", D(1)), "asset"),
        (Deposit("a", "USDT", D(-1)), "amount"),
        (Withdraw("a", "USDT", D(1001)), "amount"),
        (Trade("a", "a", "BTC-PERP", D(1), D(100)), "seller"),
        (Trade("a", "b", "ETH-PERP", D(1), D(100)), "instrument"),
        (Trade("a", "b", "BTC-PERP", D(0), D(100)), "size"),
        (Funding("BTC-PERP", D("NaN")), "rate"),
        (PriceUpdate(marks={"BTC-PERP": D(-1)}), "marks.BTC-PERP"),
        (Guard(frozen=frozenset({"ETH-PERP"})), "frozen"),
        (Guard(held={"USDT": D("0.9")}), "held.USDT"),  # the base currency is priced at 1
        (Guard(owed={"BTC": D(1)}), "owed.BTC"),  # BTC has no price in this book
        (LiquidationStart("a"), "account"),
        (LiquidationFill("a", "BTC-PERP", True, D(1), D(100), MARKET), "account"),
        (OpenInterestLimits({"ETH-PERP": D(1)}), "limits.ETH-PERP"),
        (OpenInterestLimits({"BTC-PERP": D(-1)}), "limits.BTC-PERP"),
    ],
)
def test_bad_events_name_their_field_and_change_nothing(event, field):
    state = opening()
    before = state.digest()
    with pytest.raises(InputError) as caught:
        state.apply(event)
    assert caught.value.field == field
    assert state.digest() == before and state.log == []


def test_the_log_replays_to_the_same_state():
    state = opening(fund="10")
    state.apply(Deposit("a", "USDT", D(5)))
    state.apply(Trade("a", "b", "BTC-PERP", D(2), D(100), D("0.1")))
    state.apply(PriceUpdate(marks={"BTC-PERP": D(95)}))
    state.apply(Funding("BTC-PERP", D("-0.0005")))
    state.apply(Trade(MARKET, "a", "BTC-PERP", D(1), D(96)))
    assert state.rebuilt().digest() == state.digest()
    portfolio, rules, fund = state.origin
    assert isinstance(fund, Decimal)
    assert ClearingState(portfolio, rules, fund).digest() != state.digest()


# ---------------------------------------------------------------------- OpenAccount


def test_an_opened_account_starts_empty_takes_a_deposit_and_trades():
    state = opening()
    state.apply(OpenAccount("n"))
    assert state.account_ids == ["a", "b", "i", "n"]  # in opening order, the market's aside
    assert state.legs["n"] == {} and state.account("n").balances == {} and state.account("n").positions == ()
    assert not state.liquidatable("n")
    state.apply(Deposit("n", "USDT", D(100)))
    # buys 1 at 100 (the mark): IM 10 % x 100 = 10 <= 100 USDT
    state.apply(Trade("n", "a", "BTC-PERP", D(1), D(100)))
    assert balance(state, "n") == D(100) and state.legs["n"][("BTC-PERP", True)].size == 1
    assert state.legs["a"][("BTC-PERP", False)].size == -1
    # 2090 came in at the opening (1000 + 1000 + 50 + 40), then 100
    assert state.ledger.balance(EXTERNAL, "USDT") == D(-2190)
    assert [type(e) for e in state.log] == [OpenAccount, Deposit, Trade]
    rebuilt = state.rebuilt()
    assert rebuilt.digest() == state.digest() and rebuilt.account_ids == state.account_ids


def test_an_account_id_of_128_characters_is_taken():
    state = opening()
    state.apply(OpenAccount("x" * 128))
    assert state.account_ids[-1] == "x" * 128


@pytest.mark.parametrize(
    "account",
    ["a", "i", MARKET, "", "x" * 129, "new\nline", "tab\tbed", "nul\x00", "bell\x07", "del\x7f"],
)
def test_a_bad_account_opening_names_account_and_changes_nothing(account: str):
    state = opening()
    before = (state.digest(), state.account_ids, dict(state.legs))
    with pytest.raises(InputError) as caught:
        state.apply(OpenAccount(account))
    assert caught.value.field == "account"
    assert (state.digest(), state.account_ids, dict(state.legs)) == before and state.log == []
    with pytest.raises(InputError) as checked:  # check() refuses it alike, and changes nothing either
        state.check(OpenAccount(account))
    assert checked.value.field == "account" and state.account_ids == before[1]


def test_an_opened_empty_account_survives_a_snapshot():
    state = opening()
    state.apply(OpenAccount("n"))
    portfolio, rules, _ = state.origin
    restored = ClearingState.restored(portfolio, rules, state.snapshot())
    assert restored.account_ids == ["a", "b", "i", "n"] and restored.legs["n"] == {}
    restored.apply(Deposit("n", "USDT", D(1)))  # the restored state knows the account
    assert restored.ledger.balance(user("n"), "USDT") == D(1)


def test_opening_an_account_changes_the_digest():
    state = opening()
    before = state.digest()
    state.apply(OpenAccount("n"))
    assert state.digest() != before


def test_an_open_interest_limit_refuses_a_trade_that_raises_it_and_lets_one_that_lowers_it():
    state = opening()
    # long open interest 3 (i's isolated long; the market is short 3); limit 4
    state.apply(OpenInterestLimits({"BTC-PERP": D(4)}))
    assert state.open_interest_limits == {"BTC-PERP": D(4)}
    state.apply(Trade("a", "b", "BTC-PERP", D(1), D(100)))  # a opens long 1 against b: 3 + 1 = 4, at the limit
    before = state.digest()
    with pytest.raises(InputError) as caught:
        state.apply(Trade("b", MARKET, "BTC-PERP", D("1.5"), D(100)))  # b from short 1 to long 0.5: 4.5
    assert caught.value.field == "size" and "to 4.5, above its limit 4" in caught.value.message
    assert state.digest() == before
    # the same buy from a (long 1 to short 0.5) lowers it: 3 + 0.5 (b) = 3.5
    state.apply(Trade("b", "a", "BTC-PERP", D("1.5"), D(100)))
    assert state.open_interest("BTC-PERP") == (D("3.5"), D("3.5"))
    state.apply(Trade("b", MARKET, "BTC-PERP", D("0.5"), D(100)))  # b long 1: 4, at the limit again
    with pytest.raises(InputError):
        state.apply(Trade("b", MARKET, "BTC-PERP", D("0.1"), D(100)))
    state.apply(OpenInterestLimits({"BTC-PERP": None}))  # lifted
    state.apply(Trade("b", MARKET, "BTC-PERP", D("0.1"), D(100)))
    assert state.open_interest_limits == {} and state.open_interest("BTC-PERP")[0] == D("4.1")


def test_open_interest_limits_change_the_digest_survive_a_snapshot_and_replay():
    from crossmargin.clearing.state import decode_snapshot, encode_snapshot

    state = opening()
    plain = state.digest()
    state.apply(OpenInterestLimits({"BTC-PERP": D("3.5")}))
    assert state.digest() != plain
    portfolio, rules, _ = state.origin
    again = ClearingState.restored(portfolio, rules, decode_snapshot(encode_snapshot(state.snapshot())))
    assert again.open_interest_limits == {"BTC-PERP": D("3.5")} and again.digest() == state.digest()
    assert state.rebuilt().digest() == state.digest()
