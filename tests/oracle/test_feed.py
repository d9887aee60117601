"""Source updates (:mod:`crossmargin.oracle.feed`): one price of one symbol from one source at one time,
refused by field when it is not one; two updates are the same update only when every field is."""

from decimal import Decimal

import pytest

from crossmargin.model import InputError
from crossmargin.oracle.feed import SourceUpdate

D = Decimal


def test_an_update_keeps_its_numbers_exactly():
    update = SourceUpdate(D("1.5"), "okx", "BTC", D("20000.10"), D("0.005"))
    assert (update.t, update.source, update.symbol, update.price, update.confidence) == (
        D("1.5"),
        "okx",
        "BTC",
        D("20000.10"),
        D("0.005"),
    )
    assert SourceUpdate(D(0), "a", "BTC", D(1)).confidence is None  # time 0 is a time; no confidence given


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"t": D(-1)}, "t"),
        ({"t": D("NaN")}, "t"),
        ({"price": D(0)}, "price"),  # a price of nothing is no price
        ({"price": D(-20000)}, "price"),
        ({"price": D("Infinity")}, "price"),
        ({"confidence": D("-0.5")}, "confidence"),
        ({"source": ""}, "source"),
        ({"symbol": ""}, "symbol"),
    ],
)
def test_an_update_that_is_not_one_is_refused_by_field(fields, field):
    given = {"t": D(1), "source": "a", "symbol": "BTC", "price": D(20000), **fields}
    with pytest.raises(InputError) as caught:
        SourceUpdate(**given)
    assert caught.value.field == field


def test_the_same_update_twice_is_equal_and_a_different_price_or_time_is_not():
    # the oracle book takes an equal update as a duplicate (tests/oracle/test_book.py)
    first = SourceUpdate(D(1), "a", "BTC", D(20000))
    assert first == SourceUpdate(D(1), "a", "BTC", D("20000.0"))  # the same number, written otherwise
    assert first != SourceUpdate(D(1), "a", "BTC", D("20000.01"))
    assert first != SourceUpdate(D(2), "a", "BTC", D(20000))
    assert first != SourceUpdate(D(1), "a", "BTC", D(20000), D(0))
