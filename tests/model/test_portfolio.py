"""Model checks made on construction: cross-references, contract definitions, magnitudes."""

import pytest

from crossmargin.model import Account, Asset, ContractKind, InputError, Instrument, Market
from tests.builders import ONE_TIER, D, book, linear, position


def usdt_book(prices: dict[str, str], marks: dict[str, str]):
    return book([Asset.simple("USDT")], [linear("BTC-PERP")], prices, marks, [("a", {"USDT": "1"}, [])])


def test_mark_for_an_unknown_instrument_is_refused():
    with pytest.raises(InputError) as err:
        usdt_book({"USDT": "1"}, {"BTC-PREP": "20000"})
    assert err.value.field == "marks.BTC-PREP"


def test_price_for_an_unknown_name_is_refused_but_an_underlying_may_be_priced():
    usdt_book({"USDT": "1", "BTC": "20000"}, {})  # BTC is the underlying of BTC-PERP: fine
    with pytest.raises(InputError) as err:
        usdt_book({"USDT": "1", "BTCC": "20000"}, {})
    assert err.value.field == "prices.BTCC"


def test_linear_contract_settled_in_its_underlying_is_refused():
    with pytest.raises(InputError) as err:
        Instrument("X", ContractKind.PERPETUAL, "BTC", "BTC", D(1), False, ONE_TIER)
    assert err.value.field == "settle" and "inverse" in err.value.message


def test_absurd_magnitudes_are_refused():
    with pytest.raises(InputError) as err:
        Market("USD", {"BTC": D("1E+40")})
    assert err.value.field == "prices.BTC" and "out of range" in err.value.message


def test_settle_asset_of_a_held_position_must_be_an_asset():
    with pytest.raises(InputError) as err:
        book(
            [Asset.simple("USDC")],
            [linear("BTC-PERP")],
            {},
            {"BTC-PERP": "1"},
            [("a", {}, [position("BTC-PERP", "1", "1")])],
        )
    assert err.value.field == "accounts[0] (id 'a').positions[0].instrument"


def test_hedge_mode_allows_one_long_and_one_short_leg_only():
    legs = [position("BTC-PERP", "1", "1"), position("BTC-PERP", "-1", "1")]
    book([Asset.simple("USDT")], [linear("BTC-PERP")], {"USDT": "1"}, {"BTC-PERP": "1"}, [("a", {}, legs)])
    with pytest.raises(InputError) as err:
        book(
            [Asset.simple("USDT")],
            [linear("BTC-PERP")],
            {"USDT": "1"},
            {"BTC-PERP": "1"},
            [("a", {}, [*legs, position("BTC-PERP", "2", "1")])],
        )
    assert err.value.field == "positions[2].instrument"
    assert "hedge mode" in err.value.message


def test_other_accounts_on_the_same_book_are_checked_like_a_documents():
    portfolio = usdt_book({"USDT": "1"}, {"BTC-PERP": "20000"})
    other = portfolio.of_accounts([Account("b", {"USDT": D(5)}, (position("BTC-PERP", "1", "19000"),))])
    assert [a.id for a in other.accounts] == ["b"] and [a.id for a in portfolio.accounts] == ["a"]
    assert other.market is portfolio.market and other.instruments is portfolio.instruments
    with pytest.raises(InputError) as err:
        portfolio.of_accounts([Account("b", {"BTC": D(1)})])
    assert err.value.field == "accounts[0] (id 'b').balances.BTC"
    with pytest.raises(InputError) as err:
        portfolio.of_accounts([Account("b"), Account("b")])
    assert err.value.field == "accounts[1] (id 'b').id"
