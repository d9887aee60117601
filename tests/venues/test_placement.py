"""A document split by venue: each account margined under its venue's rulebook and tables, at one market, with
errors named by the document's own paths."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.cli.loading import load_document
from crossmargin.model import InputError
from crossmargin.model.document import portfolio_from_document
from crossmargin.venues import available, rulebook
from crossmargin.venues.placement import places_accounts, require_one_venue, venue_parts
from tests.builders import FUZZ, OUT_OF_BOUNDS_JSON, D, Raw, as_json, dotted, numeric, replaced, write

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multi-venue.yaml"


def held(account_id: str, instrument: str = "BTC-PERP", size: int = 1, **fields: Any) -> dict[str, Any]:
    """An account with 10000 USDT and one position entered at 60000."""
    position = {"instrument": instrument, "size": size, "entry_price": 60000}
    return {"id": account_id, "balances": {"USDT": 10000}, "positions": [position], **fields}


def document(*accounts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"version": 1, "base": "USD", "rulebook": "binance-usdm", "prices": {"USDT": 1, "BTC": 60000}}
    return {**base, "marks": {"BTC-PERP": 60000}, "accounts": list(accounts), **fields}


def refused(raw: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as err:
        venue_parts(raw)
    return err.value


def test_a_document_without_venues_is_one_part_built_as_its_rulebook_builds_it():
    raw = document(held("a"), held("b", size=-2))
    assert not places_accounts(raw)
    (part,) = venue_parts(raw)
    assert part.rulebook.name == "binance-usdm" and part.indices == (0, 1)
    assert part.portfolio == portfolio_from_document(rulebook("binance-usdm").apply_to(raw))
    assert part.document == rulebook("binance-usdm").apply_to(raw)


def test_accounts_split_by_venue_in_order_of_first_appearance_each_under_its_venues_tables():
    raw = document(held("o1", size=-50, venue="okx"), held("b1", owner="olga"), held("o2", venue="okx"))
    assert places_accounts(raw)
    okx, binance = venue_parts(raw)
    assert (okx.rulebook.name, okx.indices, [a.id for a in okx.portfolio.accounts]) == ("okx", (0, 2), ["o1", "o2"])
    assert (binance.rulebook.name, binance.indices, binance.portfolio.accounts[0].owner) == (
        "binance-usdm",
        (1,),
        "olga",
    )
    assert (okx.portfolio.rulebook, binance.portfolio.rulebook) == ("okx", "binance-usdm")
    # the venues' own BTC-PERP (venues/data): 0.01 BTC a contract at okx, 1 BTC at binance-usdm
    assert okx.portfolio.instruments["BTC-PERP"].contract_size == D("0.01")
    assert binance.portfolio.instruments["BTC-PERP"].contract_size == 1
    assert okx.portfolio.instruments["BTC-PERP"].liquidation_fee_rate == D("0.0005")
    assert okx.portfolio.market.prices == binance.portfolio.market.prices == {"USDT": 1, "BTC": 60000}


def test_every_account_at_one_other_venue_is_built_under_that_venue():
    (okx,) = venue_parts(document(held("o", venue="okx")))
    assert (okx.rulebook.name, okx.portfolio.rulebook, okx.document["rulebook"]) == ("okx", "okx", "okx")


def test_a_venue_is_given_only_the_prices_and_marks_it_knows():
    # USDC is an okx asset, not a binance-usdm one; BTCUSD-PERP an okx instrument only: neither is an error at
    # binance-usdm, and okx sees both
    raw = document(
        held("b"),
        {**held("o", instrument="BTCUSD-PERP", size=-300, venue="okx"), "balances": {"USDC": 100, "BTC": 1}},
        prices={"USDT": 1, "USDC": 1, "BTC": 60000},
        marks={"BTC-PERP": 60000, "BTCUSD-PERP": 60000},
    )
    binance, okx = venue_parts(raw)
    assert binance.portfolio.market.prices == {"USDT": 1, "BTC": 60000}
    assert binance.portfolio.market.marks == {"BTC-PERP": 60000}
    assert okx.portfolio.market.prices == {"USDT": 1, "USDC": 1, "BTC": 60000}
    assert okx.portfolio.market.marks == {"BTC-PERP": 60000, "BTCUSD-PERP": 60000}


def test_a_name_no_venue_knows_is_still_an_error():
    raw = document(held("b"), held("o", venue="okx"), prices={"USDT": 1, "BTC": 60000, "XYZ": 2})
    err = refused(raw)
    assert err.field == "prices.XYZ" and "neither an asset nor an underlying" in err.message
    assert err.message.endswith("(at venue 'binance-usdm')")


def test_an_error_in_a_venues_part_names_the_account_by_its_place_in_the_document():
    # "o2" is the document's accounts[2] and the second account of okx's part; BTCUSDT is no okx instrument
    err = refused(document(held("o1", venue="okx"), held("b"), held("o2", instrument="BTCUSDT", venue="okx")))
    assert err.field == "accounts[2] (id 'o2').positions[0].instrument"
    assert err.message == "unknown instrument 'BTCUSDT' (at venue 'okx')"


def test_an_unknown_venue_is_an_error_naming_it():
    err = refused(document(held("a"), held("b", venue="binance")))
    assert err.field == "accounts[1] (id 'b').venue"
    assert err.message == f"unknown rulebook 'binance'; known: {', '.join(available())}"


@pytest.mark.parametrize(
    ("venue", "words"), [(5, "valid string"), ("", "at least 1 character"), (["okx"], "valid string")]
)
def test_a_venue_that_is_no_name_is_refused_by_the_document_check(venue: Any, words: str):
    err = refused(document(held("o", venue="okx"), held("b", venue=venue)))
    assert err.field == "accounts[1] (id 'b').venue" and words in err.message


def test_an_owner_is_a_name_or_an_integer_read_as_text():
    (part,) = venue_parts(document(held("a", owner=42), held("b", owner="olga")))
    assert [(a.owner, a.held_by) for a in part.portfolio.accounts] == [("42", "42"), ("olga", "olga")]
    err = refused(document(held("a"), held("b", owner="")))
    assert err.field == "accounts[1] (id 'b').owner" and "at least 1 character" in err.message
    err = refused(document(held("a", venue="okx"), held("b", owner=1.5)))
    assert err.field == "accounts[1] (id 'b').owner"


def test_account_ids_are_unique_across_venues():
    err = refused(document(held("a"), held("b", venue="okx"), held("a", venue="okx")))
    assert (err.field, err.message) == ("accounts[2] (id 'a').id", "duplicate account id 'a'")


def test_a_one_rulebook_command_refuses_an_account_at_another_venue():
    assert require_one_venue(document(held("a", venue="binance-usdm"), held("b", owner="x"))).name == "binance-usdm"
    with pytest.raises(InputError) as err:
        require_one_venue(document(held("a"), held("b", venue="okx")))
    assert err.value.field == "accounts[1] (id 'b').venue"
    assert "at 'okx'" in err.value.message and "'binance-usdm'" in err.value.message
    with pytest.raises(InputError) as err:
        require_one_venue({**document(held("a", venue="okx")), "rulebook": ["okx"]})
    assert err.value.field == "rulebook"


def test_the_example_splits_into_its_two_venues():
    binance, okx = venue_parts(load_document(EXAMPLE))
    assert (binance.rulebook.name, binance.indices) == ("binance-usdm", (0, 2, 3))
    assert (okx.rulebook.name, okx.indices) == ("okx", (1, 4))
    # its contracts are its own, the same at both venues; the rules are each venue's
    assert binance.portfolio.instruments["BTC-USDT-SWAP"] == okx.portfolio.instruments["BTC-USDT-SWAP"]
    assert (binance.rulebook.rules.liquidate_at_equality, okx.rulebook.rules.liquidate_at_equality) == (False, True)


@FUZZ
@given(data=st.data())
def test_a_number_out_of_bounds_in_a_placed_document_is_refused_by_its_own_path(tmp_path: Path, data: st.DataObject):
    example = load_document(EXAMPLE)
    path = data.draw(st.sampled_from([p for p in numeric(example) if p[-1] != "version"]))
    literal = data.draw(st.sampled_from(OUT_OF_BOUNDS_JSON))
    target = write(tmp_path / "book.json", as_json(replaced(example, path, Raw(literal))))
    with pytest.raises(InputError) as caught:
        venue_parts(load_document(target))
    assert caught.value.field == dotted(path, example["accounts"])
