"""Fills worked by hand: add, reduce, close, flip; linear and inverse averaging."""

from crossmargin.margin.fills import apply_fill
from crossmargin.margin.positions import unrealized_pnl
from tests.builders import D, div, inverse, linear, position

BTC = linear("BTC-PERP")
INV = inverse("BTCUSD")


def test_open_then_add_averages_the_entry():
    opened = apply_fill(BTC, None, D(2), D(20000))
    assert opened.position == position("BTC-PERP", "2", "20000") and opened.realized_pnl == 0
    # 2 at 20000 + 1 at 23000: (40000 + 23000) / 3 = 21000
    added = apply_fill(BTC, opened.position, D(1), D(23000))
    assert added.position is not None and added.position.entry_price == D(21000)


def test_inverse_entry_is_the_harmonic_average():
    # 1000 contracts at 40000 + 1000 at 60000: 2000 / (1000/40000 + 1000/60000) = 2000 / (1/24) = 48000
    added = apply_fill(INV, position("BTCUSD", "1000", "40000"), D(1000), D(60000))
    assert added.position is not None and added.position.entry_price == D(48000)
    # the merge keeps PnL at any mark: at 50000, 2000 x 100 x (1/48000 - 1/50000) = the two legs' sum
    merged = unrealized_pnl(INV, D(2000), D(48000), D(50000))
    legs = unrealized_pnl(INV, D(1000), D(40000), D(50000)) + unrealized_pnl(INV, D(1000), D(60000), D(50000))
    assert abs(merged - legs) < D("1E-25")


def test_reduce_realizes_the_closed_part():
    # long 3 from 20000, sell 1 at 21000: realize 1 x (21000 - 20000) = 1000, keep 2 at 20000
    out = apply_fill(BTC, position("BTC-PERP", "3", "20000"), D(-1), D(21000))
    assert out.realized_pnl == D(1000)
    assert out.position == position("BTC-PERP", "2", "20000")


def test_close_and_flip():
    closed = apply_fill(BTC, position("BTC-PERP", "-2", "20000"), D(2), D(19000))
    # a short of 2 from 20000 bought back at 19000: +2000, nothing left
    assert closed.position is None and closed.realized_pnl == D(2000)
    flipped = apply_fill(BTC, position("BTC-PERP", "1", "20000"), D(-3), D(18000))
    # close 1 at 18000 (-2000), then short 2 opened at 18000
    assert flipped.realized_pnl == D(-2000)
    assert flipped.position == position("BTC-PERP", "-2", "18000")


def test_inverse_realized_pnl_in_coin():
    # short 500 contracts from 50000 closed at 40000: -500 x 100 x (1/50000 - 1/40000) = 0.25 BTC
    out = apply_fill(INV, position("BTCUSD", "-500", "50000"), D(500), D(40000))
    assert out.position is None and out.realized_pnl == div(-500 * 100, 50000) - div(-500 * 100, 40000)
