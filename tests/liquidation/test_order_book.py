"""A two-sided order book: quotes worked by hand, a real Binance book (Tardis sample) walked by hand and rebased
to another mark, the document form, bad input named, and the symmetric case held equal to DepthLevels."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.liquidation.liquidity import DepthLevels, Side, scaled_depth
from crossmargin.liquidation.liquidity_document import liquidity_from_dict
from crossmargin.liquidation.order_book import OrderBook
from crossmargin.model.errors import InputError
from crossmargin.venues.depth import binance_btcusdt_top5_2020_09_01

D = Decimal
SELL, BUY = Side.SELL, Side.BUY
LOPSIDED = OrderBook(bids=((D("0.001"), D(1)), (D("0.01"), D(10))), asks=((D("0.002"), D(5)),))


def close(x: Decimal, expected: Fraction, tolerance: Fraction = Fraction(1, 10**40)) -> bool:
    return abs(Fraction(x) - expected) <= tolerance * max(Fraction(1), abs(expected))


def test_each_side_walks_its_own_levels():
    sell = LOPSIDED.quote(SELL, D(3), D(100))
    # 1 at 100 x 0.999 = 99.9 and 2 at 100 x 0.99 = 99: 99.9 + 198 = 297.9, average 99.3
    assert (sell.filled, sell.average_price, sell.worst_price) == (D(3), D("99.3"), D(99))
    buy = LOPSIDED.quote(BUY, D(3), D(100))
    # the asks are not the bids mirrored: all 3 at 100 x 1.002 = 100.2
    assert (buy.filled, buy.average_price, buy.worst_price) == (D(3), D("100.2"), D("100.2"))
    # past the 5 asks nothing more fills
    short = LOPSIDED.quote(BUY, D(8), D(100))
    assert (short.requested, short.filled, short.average_price) == (D(8), D(5), D("100.2"))


def test_an_empty_side_fills_nothing():
    bids_only = OrderBook(bids=((D("0.001"), D(1)),), asks=())
    q = bids_only.quote(BUY, D(1), D(100))
    assert (q.filled, q.average_price, q.worst_price) == (D(0), D(100), D(100))
    assert bids_only.units_within(BUY, D(100), D("0.5")) == 0


def test_the_book_moves_with_the_mark_and_its_permanent_impact():
    book = OrderBook(LOPSIDED.bids, LOPSIDED.asks, permanent_impact=D("0.5"))
    q = book.quote(SELL, D(3), D(2000))
    # rebased to 2000: 1 at 1998 and 2 at 1980, average (1998 + 3960) / 3 = 1986; the mark keeps half of the
    # move to the worst fill: 2000 - 0.5 x 20 = 1990
    assert (q.average_price, q.worst_price, book.impacted_mark(q)) == (D(1986), D(1980), D(1990))


def test_a_real_binance_book_by_hand():
    first = binance_btcusdt_top5_2020_09_01()[0]
    book = OrderBook.from_snapshot(first.bids, first.asks)
    mid = D("11657.075")  # (11657.07 + 11657.08) / 2
    sell = book.quote(SELL, D(11), mid)
    # at the mid the levels give back the book's prices: 10.896 at 11657.07 and 0.104 at 11656.97:
    # 127,015.43472 + 1,212.32488 = 128,227.7596, average 11,657.06905
    assert close(sell.notional, Fraction("128227.7596")) and close(sell.worst_price, Fraction("11656.97"))
    buy = book.quote(BUY, D(3), mid)
    # 1.714 at 11657.08 and 1.286 at 11657.54: 19,980.23512 + 14,991.59644 = 34,971.83156
    assert close(buy.notional, Fraction("34971.83156")) and close(buy.worst_price, Fraction("11657.54"))
    # the book holds 12.387 BTC of bids and 8.347 of asks in its five levels a side
    assert book.quote(SELL, D(20), mid).filled == D("12.387") and book.quote(BUY, D(20), mid).filled == D("8.347")
    # rebased to 10,000 the best bid sits 0.005 / 11657.075 below the mark: 10000 x (1 - 0.005 / 11657.075)
    rebased = book.quote(SELL, D(1), D(10000))
    assert close(rebased.average_price, 10000 * (1 - Fraction("0.005") / Fraction("11657.075")))


def test_from_snapshot_merges_equal_prices_and_takes_a_given_reference():
    book = OrderBook.from_snapshot([(D(99), D(1)), (D(99), D(2)), (D(98), D(1))], [(D(102), D(4))], D(100))
    # bids (100 - 99) / 100 = 0.01 (3 units) and 0.02; the ask (102 - 100) / 100 = 0.02
    assert book == OrderBook(((D("0.01"), D(3)), (D("0.02"), D(1))), ((D("0.02"), D(4)),))
    # one side only: offsets from its own best price
    assert OrderBook.from_snapshot([(D(50), D(1))], []) == OrderBook(((D(0), D(1)),), ())


@pytest.mark.parametrize(
    ("bids", "asks", "reference", "field"),
    [
        ([], [], None, "bids"),
        ([(D(101), D(1))], [(D(100), D(1))], None, "bids[0].price"),  # crossed
        ([(D(99), D(1)), (D("99.5"), D(1))], [(D(100), D(1))], None, "bids[1].price"),  # not best first
        ([(D(99), D(1))], [(D(101), D(0))], None, "asks[0].units"),
        ([(D(99), D(1))], [(D(99), D(1))], D(100), "asks[0].price"),  # an ask below the reference
        ([(D(99), D(1))], [(D(200), D(1))], D(100), "asks[0].price"),  # at twice the reference
        ([(D(99), D(1))], [], D(-1), "reference"),
    ],
)
def test_from_snapshot_refuses_a_bad_book(bids, asks, reference, field):
    with pytest.raises(InputError) as err:
        OrderBook.from_snapshot(bids, asks, reference)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: OrderBook((), ()), "bids"),
        (lambda: OrderBook(((D("0.002"), D(1)), (D("0.001"), D(1))), ()), "bids[1].offset"),
        (lambda: OrderBook((), ((D(1), D(1)),)), "asks[0].offset"),
        (lambda: OrderBook((), ((D(0), D(1), D(1)),)), "asks[0]"),  # type: ignore[arg-type]
        (lambda: OrderBook(((D(0), D(1)),), (), D(2)), "permanent_impact"),
    ],
)
def test_a_bad_book_names_its_field(build, field):
    with pytest.raises(InputError) as err:
        build()
    assert err.value.field == field


def test_the_document_form():
    raw = {"model": "book", "bids": [[0.001, 1], ["0.01", 10]], "asks": [[0.002, 5]]}
    assert liquidity_from_dict(raw, "liquidity.BTC-PERP") == LOPSIDED
    cases: list[tuple[dict[str, object], str]] = [
        ({"model": "book", "bids": [[0.001, 1]]}, "liquidity.BTC-PERP.asks"),
        ({"model": "book", "bids": [[0.001, 1]], "asks": [[0.002]]}, "liquidity.BTC-PERP.asks[0]"),
        ({"model": "book", "bids": [], "asks": []}, "liquidity.BTC-PERP.bids"),
        ({"model": "book", "bids": [[0.001, 1]], "asks": [], "levels": []}, "liquidity.BTC-PERP.levels"),
    ]
    for bad, field in cases:
        with pytest.raises(InputError) as err:
            liquidity_from_dict(bad, "liquidity.BTC-PERP")
        assert err.value.field == field


def test_scaled_depth_scales_both_sides():
    assert scaled_depth(LOPSIDED, D("0.5")) == OrderBook(
        ((D("0.001"), D("0.5")), (D("0.01"), D(5))), ((D("0.002"), D("2.5")),)
    )


def test_units_within_counts_each_sides_levels():
    assert LOPSIDED.units_within(SELL, D(100), D("0.009")) == 1  # the level at 0.01 is beyond
    assert LOPSIDED.units_within(SELL, D(100), D("0.01")) == 11
    assert LOPSIDED.units_within(BUY, D(100), D("0.001")) == 0


level_books = st.lists(
    st.tuples(st.integers(0, 999), st.decimals(min_value=D("0.001"), max_value=D(100), places=3)),
    min_size=1,
    max_size=8,
    unique_by=lambda level: level[0],
).map(lambda rows: tuple(sorted((D(k).scaleb(-3), units) for k, units in rows)))


@given(level_books, st.sampled_from(Side), st.decimals(min_value=D("0.001"), max_value=D(1000), places=3),
       st.decimals(min_value=D("0.01"), max_value=D(10**6), places=2))  # fmt: skip
def test_a_symmetric_book_quotes_as_depth_levels(levels, side, units, mark):
    # second method: the same levels on both sides are the symmetric DepthLevels
    assert OrderBook(levels, levels).quote(side, units, mark) == DepthLevels(levels).quote(side, units, mark)
