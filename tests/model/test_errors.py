"""The model's one error type: a field path and a message, prefixed as the error travels up, always shown
on one line of bounded length with control characters escaped."""

import pytest

from crossmargin.model import InputError
from crossmargin.model.errors import LONGEST, field_prefix


def test_the_text_reads_field_then_message():
    error = InputError("prices.BTC", "must be positive, got -1")
    assert (error.field, error.message) == ("prices.BTC", "must be positive, got -1")
    assert str(error) == "prices.BTC: must be positive, got -1"
    assert isinstance(error, ValueError)
    assert str(InputError("", "needs at least one tier")) == "needs at least one tier"


def test_a_prefix_joins_with_a_dot_or_before_an_index():
    assert InputError("mmr", "m").within("tiers").field == "tiers.mmr"
    assert InputError("[1].mmr", "m").within("instruments.BTC-PERP.tiers").field == "instruments.BTC-PERP.tiers[1].mmr"
    assert InputError("", "m").within("tiers").field == "tiers"
    assert InputError("size", "m").within("accounts[0]").message == "m"


def test_field_prefix_prefixes_an_error_raised_in_its_block():
    with pytest.raises(InputError) as caught, field_prefix("assets.BTC"), field_prefix("weight"):
        raise InputError("[0].weight", "must be between 0 and 1, got 2")
    assert str(caught.value) == "assets.BTC.weight[0].weight: must be between 0 and 1, got 2"
    with field_prefix("unused"):
        pass  # nothing raised: nothing to do


def test_control_characters_are_shown_escaped_on_one_line():
    error = InputError("accounts[0] (id 'al\x00ice').id", "a newline\nand a tab\t and \u2028 and \ud800")
    assert str(error) == "accounts[0] (id 'al\\x00ice').id: a newline\\nand a tab\\t and \\u2028 and \\ud800"
    assert error.field == "accounts[0] (id 'al\x00ice').id"  # the field itself is kept as given


def test_a_long_message_is_cut_to_the_longest_shown():
    error = InputError("x", "9" * 5000)
    text = str(error)
    assert len(text) <= LONGEST == 1000
    # "x: " and 957 nines are kept (1000 - 40 characters), then how many were cut: 5003 - 960 = 4043
    assert text == "x: " + "9" * 957 + "… (4043 more characters)"
    assert str(InputError("x", "9" * (LONGEST - 3))) == "x: " + "9" * 997  # exactly LONGEST: whole
