"""Scaled integers read from ``Decimal`` numbers, and what the market tables leave out."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine.exact_tables import NOT_HELD, Unsupported, held, held_wide, market_tables, split
from crossmargin.model import Asset, RuleChoices
from crossmargin.model.numbers import EXACT
from tests.builders import GENERIC, D, book, div, inverse, linear


@given(st.integers(-(10**25), 10**25), st.integers(-40, 40))
def test_a_number_is_held_exactly_when_it_has_at_most_18_digits(mantissa: int, exponent: int) -> None:
    value = Decimal(mantissa).scaleb(exponent)  # its coefficient: the digits of ``mantissa``
    m, e = held(value)
    assert (e == NOT_HELD) == (len(str(abs(mantissa))) > 18)
    if e != NOT_HELD:
        assert Decimal(m).scaleb(e) == value


@given(st.integers(-(10**45), 10**45), st.integers(-40, 40))
def test_a_balance_is_held_exactly_when_it_has_at_most_38_digits(mantissa: int, exponent: int) -> None:
    value = Decimal(mantissa).scaleb(exponent, EXACT)  # the default context would round past 28 digits
    m, e = held_wide(value)
    assert (e == NOT_HELD) == (len(str(abs(mantissa))) > 38)
    if e != NOT_HELD:
        assert Decimal(m).scaleb(e, EXACT) == value


def test_split_reads_a_decimal_exactly_or_refuses() -> None:
    assert split(D("43210.120")) == (43210120, -3)
    assert split(D("1E+5")) == (1, 5)
    assert split(D("-0.5")) == (-5, -1)
    with pytest.raises(Unsupported, match="more than 18 digits"):
        split(D("1234567890.123456789"))


def test_the_market_tables_leave_out_what_the_path_does_not_follow() -> None:
    portfolio = book(
        [Asset.simple("USDT")],
        [linear("BTC-PERP", size="0.01"), inverse("BTC-INV"), linear("ETH-PERP", underlying="ETH")],
        {"USDT": "1", "BTC": "20000"},
        {"BTC-PERP": "20000", "BTC-INV": str(div(60000, 7))},  # a mark of 50 digits; ETH-PERP unmarked
        [],
    )
    tables = market_tables(portfolio, GENERIC, ["BTC-PERP", "BTC-INV", "ETH-PERP"], ["USDT", "ETH"])
    # the inverse contract and the instrument no account holds (unmarked) are left out, so is an unpriced asset
    assert tables.instrument_map.tolist() == [0, -1, -1]
    assert tables.asset_map.tolist() == [0, -1]
    # BTC-PERP: contract size 1 x 10**-2, mark 2 x 10**4, one tier (0.004 + no liquidation fee)
    assert (int(tables.instruments.cs_m[0]), int(tables.instruments.cs_e[0])) == (1, -2)
    assert (int(tables.instruments.mark_m[0]), int(tables.instruments.mark_e[0])) == (20000, 0)
    assert (int(tables.tiers.mm_m[0]), int(tables.tiers.mm_e[0])) == (4, -3)
    with pytest.raises(Unsupported):
        market_tables(portfolio, RuleChoices("long", liquidation_threshold=div(10, 9)), ["BTC-PERP"], [])
