"""The risk book's exact columns by hand: what a slot and a balance hold, a move, room for more pools."""

from crossmargin.engine.book_columns import ExactBalances, ExactColumns, ExactSlots
from crossmargin.engine.exact_tables import NOT_HELD
from crossmargin.engine.wide_integers import to_int
from tests.builders import D, position


def test_a_slot_holds_a_positions_size_and_entry_as_mantissa_and_exponent() -> None:
    slots = ExactSlots.empty(3)
    slots.set(1, position("BTC-PERP", "-0.029", "58043.10"))
    # -0.029 = -29 x 10**-3; 58043.10 = 5804310 x 10**-2 (the trailing zero kept: the value is what counts)
    assert [int(column[1]) for column in slots] == [-29, -3, 5804310, -2]
    slots.move(2, slots, 1)
    assert [int(column[2]) for column in slots] == [-29, -3, 5804310, -2]
    # An entry price averaged by a fill has 50 digits: marked as not held.
    slots.set(0, position("BTC-PERP", "1", "58043.123456789012345678"))
    assert (int(slots.entry[0]), int(slots.entry_e[0])) == (0, NOT_HELD)


def test_balances_of_up_to_38_digits_and_room_for_more_pools() -> None:
    balances = ExactBalances.empty(2, 1)
    balances.set(1, 0, D("1E+5"))
    # A balance posted to at 1E-18: -1234.567890123456789012 = -1234567890123456789012 x 10**-18, 22 digits in
    # two words (two's complement: 2**128 less the magnitude).
    balances.set(0, 0, D("-1234.567890123456789012"))
    assert to_int(int(balances.amount_hi[0, 0]), int(balances.amount_lo[0, 0])) == -1234567890123456789012
    assert int(balances.amount_e[0, 0]) == -18
    balances.set(1, 0, D("1E+5"))
    grown = balances.grown(2)
    assert grown.amount_hi.shape == (2, 3)
    assert (int(grown.amount_lo[1, 0]), int(grown.amount_e[1, 0])) == (1, 5)
    assert not grown.amount_hi[:, 1:].any() and not grown.amount_lo[:, 1:].any() and not grown.amount_e[:, 1:].any()
    balances.set(1, 0, D("1" * 39))  # 39 digits: not held
    assert int(balances.amount_e[1, 0]) == NOT_HELD
    columns = ExactColumns.empty(4, 2, 3)
    assert columns.slots.size.shape == (4,) and columns.balances.amount_hi.shape == (2, 3) and columns.market is None
