"""The counts given on the command line: whole numbers within their documented limits, or an error naming the
option with the range written out."""

import pytest

from crossmargin.cli.limits import MAX_ACCOUNTS, MAX_PATHS, MAX_REPEATS, MAX_SEED, MIN_ACCOUNTS, parse_count
from crossmargin.model import InputError


def test_a_count_within_its_range_is_read():
    assert parse_count(" 10 ", "--accounts", MIN_ACCOUNTS, MAX_ACCOUNTS) == 10
    assert parse_count("1000000", "--accounts", MIN_ACCOUNTS, MAX_ACCOUNTS) == 1_000_000
    assert parse_count("0", "--seed", 0, MAX_SEED) == 0
    assert parse_count("4294967295", "--seed", 0, MAX_SEED) == 2**32 - 1
    assert parse_count("+7", "--repeats", 1, MAX_REPEATS) == 7


@pytest.mark.parametrize(
    ("text", "low", "high", "message"),
    [
        ("10001", 1, MAX_PATHS, "must be from 1 to 10,000, got 10,001"),
        ("0", 1, MAX_PATHS, "must be from 1 to 10,000, got 0"),
        ("-1", 0, MAX_SEED, "must be from 0 to 4,294,967,295, got -1"),
        ("2.5", 1, 10, "not a whole number: '2.5'"),
        ("1e3", 1, 10_000, "not a whole number: '1e3'"),
        ("", 1, 10, "not a whole number: ''"),
    ],
)
def test_a_count_out_of_its_range_or_not_whole_is_refused_naming_the_option(text, low, high, message):
    with pytest.raises(InputError) as err:
        parse_count(text, "--paths", low, high)
    assert (err.value.field, err.value.message) == ("--paths", message)


def test_the_limits_are_the_documented_ones():
    # docs/stress.md and docs/benchmarks.md: 10 to 1,000,000 accounts, 1 to 10,000 paths, seeds below 2^32
    assert (MIN_ACCOUNTS, MAX_ACCOUNTS, MAX_PATHS, MAX_SEED, MAX_REPEATS) == (10, 10**6, 10**4, 2**32 - 1, 1000)
