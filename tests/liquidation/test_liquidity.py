"""Liquidity models: quotes worked by hand, a real Binance book walked a second way, and properties."""

import csv
import hashlib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.liquidation.amm import ConstantProduct
from crossmargin.liquidation.liquidity import (
    AtMark,
    DepthLevels,
    LinearImpact,
    LiquidityModel,
    Quote,
    Side,
    SquareRootImpact,
)
from crossmargin.model.errors import InputError
from crossmargin.venues.depth import binance_btcusdt_bids_2022_11_01 as binance_rows

D = Decimal
SELL, BUY = Side.SELL, Side.BUY
BOOK = DepthLevels(((D("0.001"), D(2)), (D("0.002"), D(3))))
BINANCE_CSV = Path(__file__).resolve().parents[2] / "src/crossmargin/venues/data/depth"
BINANCE_CSV /= "binance-futures_btcusdt_bids_2022-11-01.csv"


def close(x: Decimal, expected: Fraction, tolerance: Fraction = Fraction(1, 10**40)) -> bool:
    return abs(Fraction(x) - expected) <= tolerance * max(Fraction(1), abs(expected))


# --- hand-worked quotes ------------------------------------------------------------------------------


def test_levels_sell_walks_the_bids():
    q = BOOK.quote(SELL, D(4), D(100))
    # 2 @ 100 x 0.999 = 99.9 and 2 @ 100 x 0.998 = 99.8: (199.8 + 199.6) / 4 = 99.85
    assert q == Quote(requested=D(4), filled=D(4), average_price=D("99.85"), worst_price=D("99.8"), mark=D(100))
    assert q.slippage == D("0.6")  # 4 x (100 - 99.85)
    assert q.notional == D("399.4")


def test_levels_buy_is_symmetric():
    q = BOOK.quote(BUY, D(4), D(100))
    # 2 @ 100.1 + 2 @ 100.2 = 400.6, average 100.15
    assert (q.filled, q.average_price, q.worst_price) == (D(4), D("100.15"), D("100.2"))
    assert q.slippage == D("0.6")  # 4 x (100.15 - 100)


def test_levels_stop_when_the_depth_runs_out():
    q = BOOK.quote(SELL, D(10), D(100))
    # all 5 units: 2 @ 99.9 + 3 @ 99.8 = 199.8 + 299.4 = 499.2, average 99.84
    assert (q.requested, q.filled, q.average_price, q.worst_price) == (D(10), D(5), D("99.84"), D("99.8"))
    assert q.slippage == D("0.8")  # 5 x 0.16


def test_an_order_inside_the_first_level_fills_at_it():
    q = BOOK.quote(SELL, D("0.5"), D(2000))
    # 2000 x 0.999 = 1998
    assert (q.filled, q.average_price, q.worst_price) == (D("0.5"), D(1998), D(1998))


def test_at_mark_fills_everything_at_the_mark():
    q = AtMark().quote(SELL, D(1000000), D("20000.5"))
    assert (q.filled, q.average_price, q.worst_price, q.slippage) == (D(1000000), D("20000.5"), D("20000.5"), D(0))
    assert AtMark().impacted_mark(q) == D("20000.5")


def test_linear_impact_closed_form():
    model = LinearImpact(D(100))
    sell = model.quote(SELL, D(10), D(200))
    # average 200 x (1 - 10/200) = 190; last unit 200 x (1 - 10/100) = 180; slippage 10 x 10
    assert (sell.filled, sell.average_price, sell.worst_price, sell.slippage) == (D(10), D(190), D(180), D(100))
    buy = model.quote(BUY, D(10), D(200))
    assert (buy.average_price, buy.worst_price) == (D(210), D(220))  # 200 x 1.05, 200 x 1.1


def test_linear_sell_stops_where_the_price_reaches_zero():
    q = LinearImpact(D(100)).quote(SELL, D(150), D(200))
    # at most 100 units: average 200 x (1 - 100/200) = 100, last unit at 0
    assert (q.requested, q.filled, q.average_price, q.worst_price) == (D(150), D(100), D(100), D(0))
    # a buy has no such limit: 150 units average 200 x (1 + 150/200) = 350
    assert LinearImpact(D(100)).quote(BUY, D(150), D(200)).average_price == D(350)


def test_square_root_impact_closed_form():
    model = SquareRootImpact(D("0.1"), D(1000))
    sell = model.quote(SELL, D(10), D(100))
    # I = 0.1 x sqrt(10/1000) = 0.1 x 0.1 = 0.01: average 100 x 0.99 = 99, last 100 x (1 - 0.015) = 98.5
    assert (sell.filled, sell.average_price, sell.worst_price) == (D(10), D(99), D("98.5"))
    assert sell.slippage == D(10)  # 10 x 1
    buy = model.quote(BUY, D(40), D(100))
    # I = 0.1 x sqrt(0.04) = 0.02: average 102, last 100 x 1.03 = 103
    assert (buy.average_price, buy.worst_price) == (D(102), D(103))


def test_square_root_sell_stops_where_the_marginal_price_reaches_zero():
    q = SquareRootImpact(D("0.1"), D(1000)).quote(SELL, D(50000), D(100))
    # 1.5 x 0.1 x sqrt(n/1000) = 1  <=>  n = 1000 / 0.15^2 = 400000/9 = 44444.4...; there I = 2/3
    assert close(q.filled, Fraction(400000, 9))
    assert close(q.average_price, Fraction(100, 3))  # 100 x (1 - 2/3)
    assert q.worst_price == 0 and q.requested == D(50000)


@pytest.mark.parametrize(
    ("model", "n"),
    [(LinearImpact(D(100)), D(37)), (SquareRootImpact(D("0.1"), D(1000)), D(300))],
)
@pytest.mark.parametrize("side", [SELL, BUY])
def test_worst_price_is_the_marginal_price_of_the_notional(model, n, side):
    # second method: the last unit's price is d(notional)/dn, here by a central difference
    h = D("0.0001")
    above, below = model.quote(side, n + h, D(100)), model.quote(side, n - h, D(100))
    marginal = (above.notional - below.notional) / (2 * h)
    assert abs(marginal - model.quote(side, n, D(100)).worst_price) < D("1E-6")


def test_permanent_impact_keeps_part_of_the_move():
    levels = DepthLevels(BOOK.levels, permanent_impact=D("0.5"))
    # worst 99.8: 100 + 0.5 x (99.8 - 100) = 99.9
    assert levels.impacted_mark(levels.quote(SELL, D(4), D(100))) == D("99.9")
    linear = LinearImpact(D(100), permanent_impact=D("0.25"))
    # worst 220: 200 + 0.25 x 20 = 205
    assert linear.impacted_mark(linear.quote(BUY, D(10), D(200))) == D(205)
    # no permanent impact: the mark comes back
    assert BOOK.impacted_mark(BOOK.quote(SELL, D(4), D(100))) == D(100)


# --- books -------------------------------------------------------------------------------------------


def test_from_book_takes_offsets_from_the_best_bid_and_merges_equal_prices():
    book = [(D(200), D(1)), (D(199), D(2)), (D(199), D("0.5")), (D(198), D(1))]
    # (200 - 199) / 200 = 0.005, (200 - 198) / 200 = 0.01; the two rows at 199 hold 2.5
    expected = ((D(0), D(1)), (D("0.005"), D("2.5")), (D("0.01"), D(1)))
    assert DepthLevels.from_book(book) == DepthLevels(expected)
    with_mark = DepthLevels.from_book([(D(99), D(1))], D(100), permanent_impact=D("0.3"))
    assert with_mark == DepthLevels(((D("0.01"), D(1)),), D("0.3"))


def test_from_book_reads_asks_for_a_buy():
    asks = [(D("100.1"), D(1)), (D("100.5"), D(2))]
    # (100.1 - 100) / 100 = 0.001, (100.5 - 100) / 100 = 0.005
    expected = DepthLevels(((D("0.001"), D(1)), (D("0.005"), D(2))))
    assert DepthLevels.from_book(asks, D(100), side=BUY) == expected


@pytest.mark.parametrize(
    ("book", "mark", "side", "field"),
    [
        ([], None, SELL, "book"),
        ([(D(101), D(1))], D(100), SELL, "book[0].price"),  # a bid above the mark
        ([(D(99), D(1))], D(100), BUY, "book[0].price"),  # an ask below the mark
        ([(D(200), D(1))], D(100), BUY, "book[0].price"),  # an ask at twice the mark
        ([(D(100), D(1)), (D(99), D(1)), (D("99.5"), D(1))], None, SELL, "book[2].price"),  # not best first
        ([(D(100), D(1)), (D(99), D(0))], None, SELL, "book[1].units"),
        ([(D(0), D(1))], None, SELL, "book[0].price"),
        ([(D(100), D(1))], D("NaN"), SELL, "mark"),
    ],
)
def test_from_book_refuses_a_bad_book(book, mark, side, field):
    with pytest.raises(InputError) as err:
        DepthLevels.from_book(book, mark, side=side)
    assert err.value.field == field


def _csv_rows() -> list[tuple[Fraction, Fraction]]:
    with BINANCE_CSV.open(newline="") as f:
        return [(Fraction(row["price"]), Fraction(row["qty"])) for row in csv.DictReader(f)]


def test_binance_snapshot_is_the_cited_file():
    data = BINANCE_CSV.read_bytes()
    readme = (BINANCE_CSV.parent / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(data).hexdigest() in readme
    rows = _csv_rows()
    # the source's description: 100 bid levels, 20,377.0 down to 20,365.9
    assert (len(rows), rows[0][0], rows[-1][0]) == (100, Fraction(20377), Fraction("20365.9"))


def test_selling_5_btc_into_the_binance_bids():
    q = DepthLevels.from_book(binance_rows()).quote(SELL, D(5), D("20377.0"))
    # second method: walk the CSV rows in rationals
    remaining, notional = Fraction(5), Fraction(0)
    for price, qty in _csv_rows():
        take = min(remaining, qty)
        notional += take * price
        remaining -= take
        if remaining == 0:
            worst = price
            break
    assert close(q.average_price, notional / 5, Fraction(1, 10**30))
    assert close(q.slippage, 5 * (20377 - notional / 5), Fraction(1, 10**30))
    # by hand: levels 20377.0 .. 20376.5 hold 1.770 + 0.001 + 0.009 + 1.216 + 0.011 + 0.438 = 3.445 BTC,
    # so the last 1.555 BTC come from the 7.199 BTC at 20376.4
    assert worst == Fraction("20376.4") and close(q.worst_price, worst, Fraction(1, 10**30))
    # and the notional: 1.770 x 20377 + 0.001 x 20376.9 + 0.009 x 20376.8 + 1.216 x 20376.7 + 0.011 x 20376.6
    # + 0.438 x 20376.5 + 1.555 x 20376.4 = 36067.29 + 20.3769 + 183.3912 + 24778.0672 + 224.1426 + 8924.907
    # + 31685.302 = 101883.4769, average 101883.4769 / 5 = 20376.69538
    assert notional == Fraction("101883.4769")
    assert q.filled == 5


def test_the_binance_bids_hold_176_96_btc():
    book = DepthLevels.from_book(binance_rows())
    assert sum((units for _, units in book.levels), D(0)) == D("176.96")
    assert book.quote(SELL, D(200), D(20377)).filled == D("176.96")


# --- constructors and quotes refuse bad input --------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: DepthLevels(((D("0.002"), D(1)), (D("0.001"), D(1)))), "levels[1].offset"),
        (lambda: DepthLevels(((D("Infinity"), D(1)),)), "levels[0].offset"),
        (lambda: DepthLevels(((D(0), D(-1)),)), "levels[0].units"),
        (lambda: DepthLevels(((D(0), D(1), D(2)),)), "levels[0]"),  # type: ignore[arg-type]
        (lambda: DepthLevels(((D(0), D(1)),), D("-0.1")), "permanent_impact"),
        (lambda: LinearImpact(D("NaN")), "depth_units"),
        (lambda: LinearImpact(D(1), D(2)), "permanent_impact"),
        (lambda: SquareRootImpact(D(0), D(1)), "coefficient"),
        (lambda: SquareRootImpact(D(1), D("-1E-9")), "depth_units"),
        (lambda: BOOK.quote(SELL, D(0), D(100)), "units"),
        (lambda: BOOK.quote(SELL, D(-1), D(100)), "units"),
        (lambda: AtMark().quote(BUY, D(1), D("-Infinity")), "mark"),
        (lambda: AtMark().quote("sell", D(1), D(100)), "side"),  # type: ignore[arg-type]
        (lambda: Quote(D(1), D(2), D(100), D(100), D(100)), "filled"),
        (lambda: Quote(D(1), D(0), D(99), D(99), D(100)), "average_price"),
    ],
)
def test_bad_input_names_its_field(build, field):
    with pytest.raises(InputError) as err:
        build()
    assert err.value.field == field


# --- properties --------------------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.001"), max_value=D(1000), places=3)
marks = st.decimals(min_value=D("0.01"), max_value=D(1000000), places=2)
impacts = st.decimals(min_value=D(0), max_value=D(1), places=2)
level_books = st.lists(
    st.tuples(st.integers(0, 999), st.decimals(min_value=D("0.001"), max_value=D(100), places=3)),
    min_size=1,
    max_size=8,
    unique_by=lambda level: level[0],
).map(lambda rows: tuple(sorted((D(k).scaleb(-3), units) for k, units in rows)))
models: st.SearchStrategy[LiquidityModel] = st.one_of(
    st.just(AtMark()),
    st.builds(DepthLevels, level_books, impacts),
    st.builds(LinearImpact, amounts, impacts),
    st.builds(SquareRootImpact, st.decimals(min_value=D("0.01"), max_value=D(2), places=2), amounts, impacts),
)


@given(models, st.sampled_from(Side), amounts, marks)
def test_average_lies_between_mark_and_worst_and_slippage_is_a_cost(model, side, units, mark):
    q = model.quote(side, units, mark)
    low, high = (q.worst_price, q.mark) if side is SELL else (q.mark, q.worst_price)
    assert low <= q.average_price <= high
    assert low <= model.impacted_mark(q) <= high
    assert 0 < q.filled <= q.requested == units and q.slippage >= 0


@given(models, st.sampled_from(Side), amounts, amounts, marks)
def test_a_bigger_order_fills_more_at_no_better_average(model, side, a, b, mark):
    small, big = model.quote(side, min(a, b), mark), model.quote(side, max(a, b), mark)
    assert small.filled <= big.filled
    if side is SELL:
        assert big.average_price <= small.average_price
    else:
        assert big.average_price >= small.average_price


@given(models, st.sampled_from(Side), amounts, marks)
def test_quoting_is_pure(model, side, units, mark):
    before = repr(model)
    assert model.quote(side, units, mark) == model.quote(side, units, mark)
    assert repr(model) == before


@given(level_books, st.sampled_from(Side), amounts, marks)
def test_levels_agree_with_a_rational_fill_per_level(levels, side, units, mark):
    # second method: level k fills min(size_k, max(0, units - depth before k)); the last unit comes from
    # the first level whose cumulative depth reaches the order, else the last level
    sign = -1 if side is SELL else 1
    prices = [Fraction(mark) * (1 + sign * Fraction(offset)) for offset, _ in levels]
    sizes = [Fraction(size) for _, size in levels]
    before = [sum(sizes[:k], Fraction(0)) for k in range(len(sizes))]
    takes = [min(size, max(Fraction(0), Fraction(units) - depth)) for size, depth in zip(sizes, before, strict=True)]
    filled = sum(takes, Fraction(0))
    reached = [k for k in range(len(sizes)) if before[k] + sizes[k] >= Fraction(units)]
    q = DepthLevels(levels).quote(side, units, mark)
    assert Fraction(q.filled) == filled
    assert close(q.average_price, sum(t * p for t, p in zip(takes, prices, strict=True)) / filled)
    assert Fraction(q.worst_price) == prices[reached[0] if reached else -1]


@given(models, st.sampled_from(Side), st.lists(amounts, min_size=1, max_size=6), marks)
def test_the_float_mirror_is_the_exact_quote_over_the_mark(model, side, orders, mark):
    # second method: the exact quote at the mark, divided by it; the mirror prices every order at once
    mirrored = model.fractions(side, np.array([float(units) for units in orders]))
    for k, units in enumerate(orders):
        q = model.quote(side, units, mark)
        exact = (q.average_price / mark, q.filled / units, model.impacted_mark(q) / mark)
        for mine, theirs in zip((mirrored.average[k], mirrored.share[k], mirrored.after[k]), exact, strict=True):
            assert mine == pytest.approx(float(theirs), rel=1e-12, abs=1e-12)


def test_the_float_mirror_of_a_square_root_sell_by_hand():
    # I(n) = 0.5 sqrt(n / 100): n = 4 -> I = 0.1, average 0.9 of the mark, last unit 1 - 1.5 x 0.1 = 0.85, the mark
    # after 1 + 0.4 x (0.85 - 1) = 0.94; the cap 4 x 100 / (9 x 0.25) = 177.78 units fills 177.78 of 400, the last
    # unit at zero, the average at 1 - 0.5 sqrt(1.7778) = 1/3
    mirrored = SquareRootImpact(D("0.5"), D(100), D("0.4")).fractions(SELL, np.array([4.0, 400.0]))
    assert mirrored.average == pytest.approx([0.9, 1 / 3], rel=1e-12)
    assert mirrored.share == pytest.approx([1.0, (1600 / 9) / 400], rel=1e-12)
    assert mirrored.after == pytest.approx([0.94, 0.6], rel=1e-12)


def test_depth_at_prices_has_no_float_mirror():
    pool = ConstantProduct(D(100), D(1_000_000))
    assert pool.fractions(SELL, np.array([1.0])) is None
