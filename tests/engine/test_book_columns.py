"""The risk book's exact columns by hand: what a slot and a balance hold, a move, room for more pools."""

from crossmargin.engine.book_columns import ExactBalances, ExactColumns, ExactSlots
from crossmargin.engine.exact_tables import NOT_HELD
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


def test_balances_and_room_for_more_pools() -> None:
    balances = ExactBalances.empty(2, 1)
    balances.set(1, 0, D("1E+5"))
    grown = balances.grown(2)
    assert grown.amount.shape == (2, 3)
    assert (int(grown.amount[1, 0]), int(grown.amount_e[1, 0])) == (1, 5)
    assert not grown.amount[:, 1:].any() and not grown.amount_e[:, 1:].any()
    columns = ExactColumns.empty(4, 2, 3)
    assert columns.slots.size.shape == (4,) and columns.balances.amount.shape == (2, 3) and columns.market is None
