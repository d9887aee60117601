"""The defaults every venue family shares: open positions from the unified fields (zero sizes skipped, the side
giving the sign), the market's price tick, ticker prices, and errors naming the field."""

import copy
from decimal import Decimal

import pytest

from crossmargin.bridge.families import family
from crossmargin.bridge.family import Family, first_of, price_tick, ticker_price
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import recording, responses


def test_positions_are_signed_by_side_and_zero_sizes_are_skipped():
    data = recording("binanceusdm-cross")
    empty = copy.deepcopy(data["fetch_positions"][0])
    empty["contracts"] = 0  # Binance lists every symbol; a closed one has positionAmt 0
    data["fetch_positions"].append(empty)
    found = family("binanceusdm").positions(read_responses(data))
    assert [(p.symbol, p.size) for p in found] == [("BTC/USDT:USDT", Decimal("1.5")), ("ETH/USDT:USDT", Decimal("-40"))]
    assert found[1].where == "fetch_positions[1]"


def test_side_must_be_long_or_short():
    with pytest.raises(InputError) as caught:
        Family().side_sign({"side": "buy"}, "fetch_positions[4]")
    assert caught.value.field == "fetch_positions[4].side"


def test_margin_mode_is_read_or_refused_by_name():
    read = responses("binanceusdm-cross")
    assert Family().isolated(read, {"marginMode": "isolated"}, "p") is True
    assert Family().isolated(read, {"isolated": True}, "p") is True
    assert Family().isolated(read, {}, "p") is False
    with pytest.raises(InputError) as caught:
        Family().isolated(read, {"marginMode": "portfolio"}, "p")
    assert caught.value.field == "p.marginMode"


def test_an_isolated_position_needs_its_margin():
    with pytest.raises(InputError) as caught:
        Family().isolated_margin(responses("binanceusdm-cross"), {}, "fetch_positions[0]")
    assert caught.value.field == "fetch_positions[0].positionMargin"


def test_price_tick_from_the_market():
    assert price_tick({"precision": {"price": 0.1}}, "X") == Decimal("0.1")
    assert price_tick({"precision": {"price": None}}, "X") is None
    assert price_tick({}, "X") is None


def test_ticker_price_takes_the_first_key_given():
    read = responses("bybit-unified")
    # the BTCUSDT ticker: indexPrice 117452.31, markPrice 117438.6
    assert ticker_price(read, ["BTC/USDT:USDT"], ("indexPrice", "markPrice")) == Decimal("117452.31")
    assert ticker_price(read, ["XRP/USDT:USDT", "BTC/USDT:USDT"], ("markPrice",)) == Decimal("117438.6")
    assert ticker_price(read, ["XRP/USDT:USDT"], ("markPrice",)) is None


def test_first_of_names_the_payload():
    assert first_of([{"a": 1}], "x") == {"a": 1}
    with pytest.raises(InputError) as caught:
        first_of([], "raw.x.data")
    assert caught.value.field == "raw.x.data"


def test_the_shared_family_leaves_venue_reading_to_each_venue():
    read = responses("binanceusdm-cross")
    with pytest.raises(NotImplementedError):
        Family().accounts(read, [])
    with pytest.raises(NotImplementedError):
        Family().tiers(read, "BTC/USDT:USDT", read.markets["BTC/USDT:USDT"])
    with pytest.raises(NotImplementedError):
        Family().prices(read, ["BTC"])
