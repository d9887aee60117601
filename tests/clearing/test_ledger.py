"""The double-entry ledger (:mod:`crossmargin.clearing.ledger`): postings that must balance in every asset
(refused whole when they do not), money rounded half even to the ledger's quantum, balances read back by
account, what changed since last asked, a digest of the nonzero balances, and a ledger restored from its
balances in the order first posted. Its use by the clearing state: tests/clearing/test_state.py."""

from decimal import Decimal

import pytest

from crossmargin.clearing.ledger import MONEY_QUANTUM, Book, Ledger, LedgerAccount, Posting, money, transfer
from crossmargin.model import InputError, exact
from tests.builders import D

EXTERNAL = LedgerAccount(Book.EXTERNAL)
FUND = LedgerAccount(Book.INSURANCE_FUND)


def user(name: str) -> LedgerAccount:
    return LedgerAccount(Book.USER, name)


def opening() -> Ledger:
    """Four accounts funded from outside with 1000 USDT and 2 BTC each, a2's isolated ETH-PERP short with 10
    USDT of it, and an insurance fund of 500 USDT."""
    ledger = Ledger()
    for name in ("a0", "a1", "a2", "a3"):
        ledger.post([*transfer(EXTERNAL, user(name), "USDT", D(1000)), *transfer(EXTERNAL, user(name), "BTC", D(2))])
    ledger.post(transfer(user("a2"), LedgerAccount(Book.ISOLATED, "a2/ETH-PERP/short"), "USDT", D(10)))
    ledger.post(transfer(EXTERNAL, FUND, "USDT", D(500)))
    return ledger


def test_an_account_is_named_by_its_kind_and_owner():
    assert (str(user("a0")), str(FUND)) == ("user:a0", "insurance_fund")
    assert str(LedgerAccount(Book.ISOLATED, "a/BTC-PERP/long")) == "isolated:a/BTC-PERP/long"


def test_money_is_rounded_half_even_to_the_quantum():
    assert D("1E-18") == MONEY_QUANTUM
    # 0.5, 1.5 and 2.5 quanta: half even goes to the even neighbour, 0, 2 and 2 quanta
    assert money(D("5E-19")) == 0
    assert money(D("1.5E-18")) == D("2E-18")
    assert money(D("2.5E-18")) == D("2E-18")
    assert money(D("-1.0000000000000000026")) == D("-1.000000000000000003")


def test_postings_move_balances_and_a_transfer_of_a_third_still_cancels():
    ledger = opening()
    # outside: -(4 x 1000 + 500) USDT, -(4 x 2) BTC; a2 kept 1000 - 10 = 990 USDT
    assert (ledger.balance(EXTERNAL, "USDT"), ledger.balance(EXTERNAL, "BTC")) == (D(-4500), D(-8))
    assert ledger.balances_of(user("a2")) == {"USDT": D(990), "BTC": D(2)}
    assert ledger.balance(user("nobody"), "USDT") == 0 and ledger.assets() == {"USDT", "BTC"}
    with exact():
        third = D(1) / D(3)
    ledger.post(transfer(user("a0"), user("a1"), "USDT", third))
    # each posting is rounded to 18 places: 0.333333333333333333 leaves a0 and reaches a1, and they cancel
    assert ledger.balance(user("a1"), "USDT") == D("1000.333333333333333333")
    assert ledger.balance(user("a0"), "USDT") == D("999.666666666666666667")
    # a balance moved back to zero is not listed, but stays in the snapshot
    ledger.post(transfer(user("a3"), EXTERNAL, "BTC", D(2)))
    assert ledger.balances_of(user("a3")) == {"USDT": D(1000)}
    assert ledger.snapshot()[(user("a3"), "BTC")] == 0


def test_unbalanced_postings_are_refused_whole():
    ledger = Ledger()
    with pytest.raises(InputError, match="do not balance"):
        ledger.post([Posting(LedgerAccount(Book.USER, "a"), "USDT", D(1))])
    assert ledger.snapshot() == {}


def test_a_posting_that_is_not_a_finite_number_is_refused_before_any_change():
    ledger = opening()
    before = ledger.digest()
    with pytest.raises(InputError) as caught:
        ledger.post([*transfer(user("a0"), user("a1"), "USDT", D(1)), Posting(user("a2"), "BTC", D("NaN"))])
    assert caught.value.field == "posting to user:a2"
    assert ledger.digest() == before and ledger.balance(user("a1"), "USDT") == D(1000)


def test_the_accounts_posted_to_are_taken_once():
    ledger = opening()
    ledger.take_changed()
    ledger.post(transfer(user("a0"), FUND, "USDT", D(5)))
    assert ledger.take_changed() == {user("a0"), FUND}
    assert ledger.take_changed() == set()


def test_the_digest_is_of_the_nonzero_balances_whatever_the_order():
    one, two = Ledger(), Ledger()
    one.post(transfer(EXTERNAL, user("a"), "USDT", D(10)))
    one.post(transfer(EXTERNAL, user("b"), "USDT", D("5.50")))
    two.post(transfer(EXTERNAL, user("b"), "USDT", D("5.5")))  # the same amount, another exponent
    two.post(transfer(EXTERNAL, user("c"), "BTC", D(1)))
    two.post(transfer(user("c"), EXTERNAL, "BTC", D(1)))  # back to zero: c holds nothing
    two.post(transfer(EXTERNAL, user("a"), "USDT", D(10)))
    assert one.digest() == two.digest()
    two.post(transfer(user("a"), user("b"), "USDT", D("1E-18")))  # one quantum apart
    assert one.digest() != two.digest()


def test_a_ledger_restores_its_balances_in_order():
    ledger = opening()
    balances = ledger.snapshot()
    again = Ledger.restored(balances)
    assert again.digest() == ledger.digest()
    assert list(again.snapshot().items()) == list(balances.items())
    assert again.balances_of(user("a0")) == {"USDT": D(1000), "BTC": D(2)}


def test_balances_that_do_not_balance_are_not_restored():
    balances = dict(opening().snapshot())
    balances[(user("a0"), "USDT")] += 1
    with pytest.raises(InputError) as caught:
        Ledger.restored(balances)
    assert caught.value.field == "balances"
    assert "'USDT'" in caught.value.message and "BTC" not in caught.value.message  # BTC still sums to 0
    balances[(user("a0"), "USDT")] = Decimal("Infinity")
    with pytest.raises(InputError) as caught:
        Ledger.restored(balances)
    assert caught.value.field == "balances.user:a0.USDT"
