"""Clearing events as msgspec JSON: every kind round-trips to an equal event, digit for digit."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.clearing.events import (
    MARKET,
    CollateralSale,
    Deposit,
    Funding,
    Guard,
    InsuranceCover,
    LiquidationEnd,
    LiquidationFill,
    LiquidationStart,
    PriceUpdate,
    SocializedLoss,
    Taker,
    Trade,
    Withdraw,
    WriteOff,
    decode_event,
    encode_event,
)
from crossmargin.clearing.ledger import Book, LedgerAccount
from crossmargin.model import InputError
from tests.builders import D

POOL = LedgerAccount(Book.ISOLATED, "a/BTC-PERP/long")
EVENTS = [
    Deposit("a", "USDT", D("1.50")),
    Withdraw("a", "BTC", D("1E-18")),
    Trade("a", "b", "BTC-PERP", D("2.000"), D("100.10"), D("0.1")),
    Trade("a", MARKET, "BTC-PERP", D(1), D("1E+5"), seller_fee=D("0.05")),
    Funding("BTC-PERP", D("-0.0005")),
    PriceUpdate(prices={"BTC": D("20000.00")}, marks={"BTC-PERP": D("19999.5"), "ETH-PERP": D(3000)}),
    PriceUpdate(),
    Guard(frozenset({"BTC-PERP", "BTC"}), {"USDC": D("0.950")}, {"USDC": D("1.0001")}),
    Guard(),
    LiquidationStart("a"),
    LiquidationFill("a", "BTC-PERP", True, D("0.5"), D("99.90"), MARKET, Taker.MARKET, D("0.01"), D("0.02")),
    LiquidationFill("a", "BTC-PERP", False, D(1), D(100), "b", Taker.ADL),
    CollateralSale("a", "BTC", D("0.010"), "USDT", D("198.00")),
    InsuranceCover(POOL, "USDT", D("12.5"), D("0")),
    SocializedLoss(LedgerAccount(Book.USER, "a"), "USDT", {"c": D("1.25"), "b": D("3.750")}),
    WriteOff(POOL, "USDT", D("0.000000000000000001")),
    LiquidationEnd("a"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_equal_and_digit_for_digit(event):
    data = encode_event(event)
    decoded = decode_event(data)
    assert decoded == event and type(decoded) is type(event)
    assert encode_event(decoded) == data  # same digits, same key order
    assert b"\n" not in data


def test_the_kind_is_tagged_and_decimals_are_strings():
    record = json.loads(encode_event(Deposit("a", "USDT", D("1.50"))))
    assert record == {"type": "deposit", "account": "a", "asset": "USDT", "amount": "1.50"}
    record = json.loads(encode_event(InsuranceCover(POOL, "USDT", D("12.5"), D(0))))
    assert record["type"] == "insurance_cover" and record["pool"] == {"book": "isolated", "owner": "a/BTC-PERP/long"}
    assert json.loads(encode_event(LiquidationEnd("a")))["type"] == "liquidation_end"


def test_sets_and_mappings_encode_in_one_order():
    # equal events give equal bytes whatever order their sets and mappings were built in
    one = Guard(frozenset({"b", "a", "c"}), {"Y": D(1), "X": D(2)})
    other = Guard(frozenset({"c", "a", "b"}), {"X": D(2), "Y": D(1)})
    assert encode_event(one) == encode_event(other)
    assert json.loads(encode_event(one))["frozen"] == ["a", "b", "c"]


def test_equality_and_positional_construction_keep_working():
    assert LiquidationStart("a") == LiquidationStart(account="a")
    start: object = LiquidationStart("a")
    assert start != LiquidationEnd("a")  # the same fields, another kind
    assert Trade("a", "b", "X", D(1), D(2)).buyer_fee == 0
    assert hash(Deposit("a", "USDT", D(1))) == hash(Deposit("a", "USDT", D("1.0")))  # Decimal hashes by value


@pytest.mark.parametrize(
    "data",
    [b"{", b'{"type": "nope"}', b'{"type": "deposit", "account": "a"}', b'{"type": "deposit", "account": "a", '
     b'"asset": "USDT", "amount": [1]}'],
)  # fmt: skip
def test_a_malformed_event_is_refused_by_name(data):
    with pytest.raises(InputError) as caught:
        decode_event(data)
    assert caught.value.field == "event"


AMOUNTS = st.decimals(allow_nan=False, allow_infinity=False)


@given(AMOUNTS, AMOUNTS, st.dictionaries(st.text(min_size=1, max_size=5), AMOUNTS, max_size=4))
def test_any_finite_decimal_keeps_its_digits(size: Decimal, price: Decimal, shares: dict[str, Decimal]):
    trade = decode_event(encode_event(Trade("a", "b", "X", size, price)))
    assert isinstance(trade, Trade)
    assert (str(trade.size), str(trade.price)) == (str(size), str(price))  # 1.50 stays 1.50, 1E+2 stays 1E+2
    loss = decode_event(encode_event(SocializedLoss(POOL, "USDT", shares)))
    assert isinstance(loss, SocializedLoss)
    assert {k: str(v) for k, v in loss.shares.items()} == {k: str(v) for k, v in shares.items()}
