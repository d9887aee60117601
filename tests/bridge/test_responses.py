"""Reading recorded responses: shape checks naming the field, numbers exact from JSON numbers and the venues'
numeric strings, mark prices filling the tickers."""

from decimal import Decimal

import pytest

from crossmargin.bridge.responses import number, read_responses
from crossmargin.model import InputError
from tests.bridge.support import edited, recording, responses


def error_of(data: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_responses(data)
    return caught.value


def test_a_fixture_reads_with_its_markets_by_symbol_and_tiers():
    read = responses("binanceusdm-cross")
    assert read.venue == "binanceusdm"
    assert sorted(read.markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert len(read.positions) == 2
    # the 2024-10-24 bracket 2 of BTCUSDT: cap 600000, rate 0.005, cum 50 (info, as printed)
    assert read.tiers["BTC/USDT:USDT"][1]["info"]["notionalCap"] == 600000
    assert read.raw["GET /fapi/v1/multiAssetsMargin"] == {"multiAssetsMargin": False}


def test_mark_prices_fill_what_the_tickers_lack():
    # binanceusdm's 24h tickers carry markPrice null; fetch_mark_prices has 67412.35006452 (premiumIndex)
    read = responses("binanceusdm-cross")
    assert read.tickers["BTC/USDT:USDT"]["markPrice"] == Decimal("67412.35006452")
    assert read.tickers["BTC/USDT:USDT"]["last"] == Decimal("67405.1")  # the ticker's own value kept


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.00000001", Decimal("1E-8")),
        (Decimal("2581.37"), Decimal("2581.37")),
        (20, Decimal(20)),
        (0.1, Decimal("0.1")),
    ],
)
def test_numbers_are_the_decimals_of_their_text(value, expected):
    assert number({"x": value}, "x", "here") == expected


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_or_null_number_is_absent(value):
    assert number({"x": value}, "x", "here") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "must be a number"), (True, "must be a number"), (Decimal("NaN"), "finite"), ("1e40", "out of range")],
)
def test_a_bad_number_names_its_field(value, message):
    with pytest.raises(InputError) as caught:
        number({"x": value}, "x", "fetch_positions[3]")
    assert caught.value.field == "fetch_positions[3].x"
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("venue",), "kraken", "venue", "unknown venue 'kraken'"),
        (("venue",), ..., "venue", "required"),
        (("fetch_positions",), ..., "fetch_positions", "required"),
        (("fetch_positions",), {"a": 1}, "fetch_positions", "must be a list"),
        (("fetch_positions", 1), "x", "fetch_positions[1]", "must be a mapping"),
        (("fetch_markets", 0, "symbol"), ..., "fetch_markets[0].symbol", "required"),
        (("fetch_markets", 1, "symbol"), "BTC/USDT:USDT", "fetch_markets[1].symbol", "recorded twice"),
        (("fetch_leverage_tiers", "BTC/USDT:USDT"), {}, "fetch_leverage_tiers.BTC/USDT:USDT", "must be a list"),
        (("fetch_tickers", "BTC/USDT:USDT"), 3, "fetch_tickers.BTC/USDT:USDT", "must be a mapping"),
        (("raw",), [], "raw", "must be a mapping"),
    ],
)
def test_a_bad_recording_names_the_field(path, value, field, message):
    error = error_of(edited("binanceusdm-cross", *path, value=value))
    assert error.field == field
    assert message in error.message


def test_an_unknown_top_level_key_is_named():
    data = recording("binanceusdm-cross")
    error = error_of({**data, "positions": []})
    assert error.field == "positions"


def test_a_recording_is_a_mapping():
    assert "must be a mapping" in error_of([1, 2]).message


def test_market_lookup_names_the_field():
    read = responses("binanceusdm-cross")
    with pytest.raises(InputError) as caught:
        read.market("DOGE/USDT:USDT", "fetch_positions[0].symbol")
    assert caught.value.field == "fetch_positions[0].symbol"
    assert "no market 'DOGE/USDT:USDT'" in caught.value.message


def test_per_symbol_entries():
    read = responses("binanceusdm-cross")
    entry = read.per_symbol("fetch_leverages", "BTC/USDT:USDT")
    assert entry is not None and entry["longLeverage"] == 20
    assert read.per_symbol("fetch_leverages", "SOL/USDT:USDT") is None
    assert read.per_symbol("fetch_trading_fees", "BTC/USDT:USDT") is None
