"""The loop's events: every kind round-trips through its serialised record exactly, and a bad record is
refused naming what is wrong."""

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.live import events as live
from crossmargin.model import InputError

# Decimals as a log carries them: any sign, exponent and trailing zeros (1.50 must stay 1.50, not 1.5).
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-(10**12), max_value=10**12)
names = st.text(min_size=1, max_size=12)
stamp = {"seq": st.integers(1, 2**53), "time": st.decimals(min_value=0, max_value=10**9, places=3), "id": names}
cause = {"seq": st.integers(1, 2**53), "time": st.decimals(min_value=0, max_value=10**9, places=3), "cause": names}
quotes = st.builds(
    live.Quote, source=names, symbol=names, price=decimals, confidence=st.none() | decimals, at=st.none() | decimals
)

INBOUND: dict[type, st.SearchStrategy[live.Inbound]] = {
    live.Prices: st.builds(live.Prices, quotes=st.lists(quotes, max_size=4).map(tuple), **stamp),
    live.Clock: st.builds(live.Clock, **stamp),
    live.OpenAccount: st.builds(live.OpenAccount, account=names, **stamp),
    live.Deposit: st.builds(live.Deposit, account=names, asset=names, amount=decimals, **stamp),
    live.Withdrawal: st.builds(live.Withdrawal, account=names, asset=names, amount=decimals, **stamp),
    live.Trade: st.builds(
        live.Trade,
        buyer=names,
        seller=names,
        instrument=names,
        size=decimals,
        price=decimals,
        buyer_fee=decimals,
        seller_fee=decimals,
        **stamp,
    ),
    live.Funding: st.builds(live.Funding, instrument=names, rate=decimals, **stamp),
    live.ParameterChange: st.builds(live.ParameterChange, depth=decimals, **stamp),
    live.MarginMultipliers: st.builds(
        live.MarginMultipliers, multipliers=st.dictionaries(names, decimals, max_size=3), **stamp
    ),
    live.OpenInterestLimits: st.builds(
        live.OpenInterestLimits, limits=st.dictionaries(names, st.none() | decimals, max_size=3), **stamp
    ),
}
OUTBOUND: dict[type, st.SearchStrategy[live.Outbound]] = {
    live.Rejected: st.builds(live.Rejected, field=names, message=names, **cause),
    live.PriceStatus: st.builds(
        live.PriceStatus,
        symbol=names,
        status=names,
        price=decimals,
        reason=names,
        sources=st.lists(names, max_size=3).map(tuple),
        source=st.none() | names,
        ignored=st.none() | names,
        **cause,
    ),
    live.AccountStatus: st.builds(
        live.AccountStatus,
        account=names,
        state=names,
        equity=decimals,
        maintenance_margin=decimals,
        statuses=st.dictionaries(names, names, max_size=3),
        **cause,
    ),
    live.Figures: st.builds(
        live.Figures,
        account=names,
        equity=decimals,
        initial_margin=decimals,
        maintenance_margin=decimals,
        liquidatable=st.booleans(),
        **cause,
    ),
    live.LiquidationFill: st.builds(
        live.LiquidationFill,
        account=names,
        instrument=names,
        size=decimals,
        fill_price=decimals,
        fee=decimals,
        slippage=st.none() | decimals,
        taker=names,
        bankruptcy_price=st.none() | decimals,
        **cause,
    ),
    live.Deleveraged: st.builds(
        live.Deleveraged,
        account=names,
        instrument=names,
        size=decimals,
        fill_price=decimals,
        from_account=names,
        reason=names,
        **cause,
    ),
    live.CollateralSold: st.builds(
        live.CollateralSold,
        account=names,
        sell_asset=names,
        sold=decimals,
        buy_asset=names,
        bought=decimals,
        **cause,
    ),
    live.InsurancePaid: st.builds(live.InsurancePaid, account=names, asset=names, amount=decimals, **cause),
    live.Socialized: st.builds(
        live.Socialized, account=names, asset=names, shares=st.dictionaries(names, decimals), **cause
    ),
    live.BadDebt: st.builds(live.BadDebt, account=names, asset=names, amount=decimals, **cause),
    live.MarkMoved: st.builds(live.MarkMoved, instrument=names, before=decimals, mark=decimals, **cause),
}


def test_every_event_kind_has_a_generator():
    # a kind added to the unions without a generator here fails this test
    assert set(INBOUND) == set(live.InboundEvent.__args__)
    assert set(OUTBOUND) == set(live.OutboundEvent.__args__)


def _same(a: object, b: object) -> bool:
    """Equal, and every Decimal written with the same digits and exponent (1.50 is not 1.5)."""
    return a == b and msgspec.json.encode(a) == msgspec.json.encode(b)


@given(st.one_of(*INBOUND.values()))
def test_an_inbound_event_round_trips_exactly(event: live.InboundEvent):
    record = live.encode(event)
    assert b"\n" not in record  # one record per line of a log
    assert _same(live.decode_inbound(record), event)


@given(st.one_of(*OUTBOUND.values()))
def test_an_outbound_event_round_trips_exactly(event: live.OutboundEvent):
    assert _same(live.decode_outbound(live.encode(event)), event)


def test_trailing_zeros_and_exponents_survive():
    event = live.Deposit(seq=1, time=Decimal("0.000"), id="d", account="a", asset="USDT", amount=Decimal("1.50E+3"))
    decoded = live.decode_inbound(live.encode(event))
    assert isinstance(decoded, live.Deposit)
    assert decoded.amount.as_tuple() == Decimal("1.50E+3").as_tuple()
    assert str(decoded.time) == "0.000"


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (b'{"version": 2, "event": {"type": "clock", "seq": 1, "time": "1", "id": "x"}}', "version", "version 2"),
        (b'{"version": 1, "event": {"type": "clock", "seq": "one", "time": "1", "id": "x"}}', "event", "$.event.seq"),
        (b'{"version": 1, "event": {"type": "teleport", "seq": 1, "time": "1", "id": "x"}}', "event", "teleport"),
        (b'{"version": 1, "event": {"type": "deposit", "seq": 1, "time": "1", "id": "x"}}', "event", "account"),
        (b'{"version": 1, "event": ', "event", "not JSON"),
    ],
)
def test_a_bad_record_is_refused_naming_what_is_wrong(record: bytes, field: str, words: str):
    with pytest.raises(InputError) as err:
        live.decode_inbound(record)
    assert err.value.field == field and words in err.value.message


def test_a_venues_margin_multipliers_round_trip_digit_for_digit():
    event = live.MarginMultipliers(seq=4, time=Decimal("12.5"), id="venue|12.5", multipliers={"BTC": Decimal("1.35")})
    assert live.decode_inbound(live.encode(event)) == event
    assert b'"type":"margin_multipliers"' in live.encode(event)


def test_a_venues_open_interest_limits_round_trip_with_a_lifted_one():
    limits = {"BTC-PERP": Decimal("12.50000000"), "ETH-PERP": None}
    event = live.OpenInterestLimits(seq=5, time=Decimal("13"), id="venue|13|open-interest", limits=limits)
    assert live.decode_inbound(live.encode(event)) == event
    assert b'"type":"open_interest_limits"' in live.encode(event) and b'"ETH-PERP":null' in live.encode(event)
