"""Accounts and positions: what a valid one holds, and every refused one named by its field."""

import pytest

from crossmargin.model import Account, InputError, Position
from tests.builders import D, position


def test_a_position_is_cross_unless_it_carries_isolated_margin():
    cross = position("BTC-PERP", "-0.5", "20000")
    isolated = position("BTC-PERP", "2", "20000", "100")
    assert (cross.isolated, cross.isolated_margin) == (False, None)
    assert (isolated.isolated, isolated.isolated_margin) == (True, D(100))
    # a bankrupt isolated position under liquidation may carry negative margin
    assert position("BTC-PERP", "1", "20000", "-5").isolated_margin == D(-5)


@pytest.mark.parametrize(
    ("size", "entry", "margin", "field"),
    [
        ("0", "20000", None, "size"),
        ("NaN", "20000", None, "size"),
        ("1", "0", None, "entry_price"),
        ("1", "-20000", None, "entry_price"),
        ("1", "20000", "Infinity", "isolated_margin"),
    ],
)
def test_a_bad_position_is_refused_naming_its_field(size, entry, margin, field):
    with pytest.raises(InputError) as err:
        position("BTC-PERP", size, entry, margin)
    assert err.value.field == field


def test_one_position_per_instrument_or_one_long_and_one_short():
    long, short = position("BTC-PERP", "1", "20000"), position("BTC-PERP", "-1", "21000")
    hedged = Account("h", {"USDT": D(100)}, (long, short))
    assert len(hedged.positions) == 2 and hedged.label == "account 'h'"
    with pytest.raises(InputError) as err:
        Account("twice", {}, (long, position("ETH-PERP", "1", "1000"), position("BTC-PERP", "3", "19000")))
    assert err.value.field == "positions[2].instrument" and "appears twice on one side" in err.value.message


def test_an_account_needs_an_id_and_finite_balances():
    with pytest.raises(InputError) as err:
        Account("")
    assert err.value.field == "id"
    with pytest.raises(InputError) as err:
        Account("a", {"USDT": D(1), "BTC": D("NaN")})
    assert err.value.field == "balances.BTC"
    # a negative balance is a liability, not an error
    assert Account("a", {"USDC": D(-1000)}).balances["USDC"] == D(-1000)
    assert Position("X", D(1), D(1)).instrument == "X"


def test_an_account_is_held_by_its_owner_or_by_itself():
    assert Account("a").held_by == "a"
    assert Account("a", owner="olga").held_by == "olga"


def test_venue_and_owner_are_labels_outside_equality():
    # the clearing state rebuilds accounts from id, balances and positions alone: they still compare equal
    placed = Account("a", {"USDT": D(1)}, (), venue="okx", owner="olga")
    assert placed == Account("a", {"USDT": D(1)}, ())
    assert placed != Account("b", {"USDT": D(1)}, (), venue="okx", owner="olga")


def test_an_empty_venue_or_owner_is_refused():
    with pytest.raises(InputError) as err:
        Account("a", venue="")
    assert err.value.field == "venue"
    with pytest.raises(InputError) as err:
        Account("a", owner="")
    assert err.value.field == "owner"
