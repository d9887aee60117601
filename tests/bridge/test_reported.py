"""The reported: sections: set apart from the document before evaluation, checked with errors naming the field."""

from decimal import Decimal
from typing import Any

import pytest

from crossmargin.bridge.reported import split_reported
from crossmargin.model import InputError

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "base": "USDT",
    "accounts": [
        {
            "id": "a",
            "balances": {"USDT": 1},
            "positions": [
                {
                    "instrument": "X",
                    "size": 1,
                    "entry_price": 2,
                    "reported": {"liquidation_price": "1.5", "leverage": 20},
                },
                {"instrument": "Y", "size": -1, "entry_price": 2},
            ],
            "reported": {"venue": "okx", "currency": "USDT", "equity": 3, "margin_ratio": None},
        },
        {"id": "b"},
    ],
}


def test_sections_are_taken_out_and_read():
    plain, reports = split_reported(DOCUMENT)
    assert plain["accounts"][0] == {
        "id": "a",
        "balances": {"USDT": 1},
        "positions": [
            {"instrument": "X", "size": 1, "entry_price": 2},
            {"instrument": "Y", "size": -1, "entry_price": 2},
        ],
    }
    assert plain["accounts"][1] == {"id": "b"}
    assert "reported" in DOCUMENT["accounts"][0]  # the caller's document is left as it was
    (report,) = reports
    assert (report.account_id, report.venue, report.currency, report.scope) == ("a", "okx", "USDT", "total")
    assert report.figures["equity"] == 3
    assert report.figures["initial_margin"] is None
    assert report.positions[0].figures["liquidation_price"] == Decimal("1.5")
    assert report.positions[0].facts == {"leverage": 20, "price_tick": None}
    assert 1 not in report.positions


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"venue": "okx", "currency": "USDT", "equity": "lots"}, "accounts[0] (id 'a').reported.equity"),
        ({"venue": "okx"}, "accounts[0] (id 'a').reported.currency"),
        ({"venue": "okx", "currency": "USDT", "scope": "all"}, "accounts[0] (id 'a').reported.scope"),
        ({"venue": "okx", "currency": "USDT", "equityy": 1}, "accounts[0] (id 'a').reported.equityy"),
        ([1], "accounts[0] (id 'a').reported"),
    ],
)
def test_a_bad_account_section_names_its_field(section, field):
    document = {**DOCUMENT, "accounts": [{**DOCUMENT["accounts"][0], "reported": section}]}
    with pytest.raises(InputError) as caught:
        split_reported(document)
    assert caught.value.field == field


def test_a_bad_position_section_names_its_field():
    account = {"id": "a", "positions": [{"instrument": "X", "reported": {"initial_margin": float("nan")}}]}
    with pytest.raises(InputError) as caught:
        split_reported({"accounts": [account]})
    assert caught.value.field == "accounts[0] (id 'a').positions[0].reported.initial_margin"


def test_a_document_without_accounts_has_no_reports():
    assert split_reported({"version": 1}) == ({"version": 1}, [])
    assert split_reported({"accounts": "none"})[1] == []
