"""Moving prices for a liquidation price: what moves together (an underlying's marks and its price, or one
instrument's mark alone) and the market with those prices scaled, all else held."""

from decimal import Decimal

from crossmargin.margin.scaling import Move, scaled_market
from crossmargin.model import Asset
from crossmargin.model.rules import PriceMove
from tests.builders import D, book, inverse, linear

BOOK = book(
    [Asset.simple("USDT"), Asset.simple("BTC"), Asset.simple("ETH")],
    [linear("BTC-PERP"), linear("BTC-FUT"), inverse("BTCUSD"), linear("ETH-PERP", underlying="ETH")],
    {"USDT": "1", "BTC": "20000", "ETH": "1500"},
    {"BTC-PERP": "20010", "BTC-FUT": "20100", "BTCUSD": "19990", "ETH-PERP": "1501"},
    [],
)


def test_an_underlying_moves_every_mark_on_it_and_its_price():
    move = Move.of(BOOK, "BTC-PERP", PriceMove.UNDERLYING)
    assert move == Move(frozenset({"BTC-PERP", "BTC-FUT", "BTCUSD"}), frozenset({"BTC"}))
    assert Move.of(BOOK, "BTC-PERP", PriceMove.INSTRUMENT) == Move(frozenset({"BTC-PERP"}), frozenset())


def test_an_underlying_that_is_the_base_moves_no_price():
    on_base = book(
        [Asset.simple("USD")], [linear("USD-IDX", underlying="USD", settle="USDT")], {}, {"USD-IDX": "1"}, []
    )
    assert Move.of(on_base, "USD-IDX", PriceMove.UNDERLYING) == Move(frozenset({"USD-IDX"}), frozenset())


def test_the_scaled_market_multiplies_what_moves_and_holds_the_rest():
    market = scaled_market(BOOK, Move.of(BOOK, "BTC-FUT", PriceMove.UNDERLYING), Decimal("0.9"))
    # 0.9 x 20010 = 18009, 0.9 x 20100 = 18090, 0.9 x 19990 = 17991, 0.9 x 20000 = 18000
    assert market.marks == {"BTC-PERP": D(18009), "BTC-FUT": D(18090), "BTCUSD": D(17991), "ETH-PERP": D(1501)}
    assert market.prices == {"USDT": D(1), "BTC": D(18000), "ETH": D(1500)}
    alone = scaled_market(BOOK, Move.of(BOOK, "ETH-PERP", PriceMove.INSTRUMENT), Decimal(2))
    assert alone.marks["ETH-PERP"] == D(3002) and alone.prices["ETH"] == D(1500)
    assert BOOK.market.marks["BTC-FUT"] == D(20100)  # the portfolio's own market is untouched


def test_an_underlying_moves_its_marks_and_its_price_without_naming_an_instrument():
    assert Move.of_underlying(BOOK, "ETH") == Move(frozenset({"ETH-PERP"}), frozenset({"ETH"}))
    assert Move.of_underlying(BOOK, "BTC") == Move.of(BOOK, "BTCUSD", PriceMove.UNDERLYING)
    assert Move.of_underlying(BOOK, "SOL") == Move(frozenset(), frozenset({"SOL"}))  # nothing listed on it
