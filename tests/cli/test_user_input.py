"""Values typed on the command line: read exactly, named by the option the user typed."""

from decimal import Decimal

import pytest

from crossmargin.cli.user_input import named_by_option, parse_decimal
from crossmargin.model import InputError


def test_a_number_on_the_command_line_is_read_exactly_and_named_by_its_option():
    assert parse_decimal(" 0.1 ", "--size") == Decimal("0.1")  # not 0.1000000000000000055511151231257827
    assert str(parse_decimal("1.50", "--price")) == "1.50"
    for text, message in (("1e", "not a decimal number: '1e'"), ("Infinity", "must be a finite number")):
        with pytest.raises(InputError) as err:
            parse_decimal(text, "--price")
        assert err.value.field == "--price" and message in err.value.message


def test_an_error_about_a_value_given_on_the_command_line_names_the_option():
    with pytest.raises(InputError) as err, named_by_option():
        raise InputError("size", "must not be zero")
    assert (err.value.field, err.value.message) == ("--size", "must not be zero")
    with pytest.raises(InputError) as err, named_by_option():
        raise InputError("prices.BTC", "missing price")  # not a command-line value: kept
    assert err.value.field == "prices.BTC"
