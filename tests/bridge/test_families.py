"""The families by ccxt exchange id."""

import pytest

from crossmargin.bridge.families import FAMILIES, family
from crossmargin.bridge.responses import VENUES
from crossmargin.model import InputError
from crossmargin.venues import available


def test_every_venue_has_a_family_whose_rulebook_exists():
    assert sorted(FAMILIES) == sorted(VENUES)
    for venue in VENUES:
        assert family(venue).venue == venue
        assert family(venue).rulebook in available()


def test_an_unknown_venue_is_named():
    with pytest.raises(InputError) as caught:
        family("kraken")
    assert caught.value.field == "venue"
    assert "binanceusdm" in caught.value.message
