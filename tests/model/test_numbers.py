"""Exact arithmetic: the ledger's Decimal context, the input boundary every number read from a file passes,
the range checks of the model's constructors, and how an error repeats a number."""

from decimal import Decimal, DivisionByZero, InvalidOperation

import pytest

from crossmargin.model import InputError
from crossmargin.model.numbers import (
    EXACT,
    bounded,
    exact,
    finite,
    from_float,
    non_negative,
    positive,
    shown,
    within,
)

D = Decimal


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (D("1E30"), "is out of range: magnitude must be below 1E+30, got 1E+30"),
        (D("-1E30"), "is out of range: magnitude must be below 1E+30, got -1E+30"),
        (D("9.99E-31"), "is out of range: a non-zero magnitude must be at least 1E-30, got 9.99E-31"),
        (D("0." + "1" * 51), "has 51 significant digits, more than the 50 held exactly: got 1.1111…E-1 (51 digits)"),
        (D("NaN"), "must be a finite number, got NaN"),
    ],
)
def test_the_input_boundary_refuses(value: Decimal, words: str) -> None:
    with pytest.raises(InputError) as caught:
        bounded(value, "x")
    assert (caught.value.field, caught.value.message) == ("x", words)


@pytest.mark.parametrize(
    "value", [D("1E-30"), D("-9.99E29"), D(0), D("0E-1000"), D("0." + "1" * 50), D("1" + "0" * 29), D("1.5" + "0" * 60)]
)
def test_the_input_boundary_takes(value: Decimal) -> None:
    # the edges: 1E-30 itself, just below 1E30, any zero, 50 significant digits (trailing zeros do not count)
    assert bounded(value, "x") == value


def test_the_exact_context_holds_fifty_digits_and_traps():
    with exact() as context:
        assert context.prec == EXACT.prec == 50
        # 1/3 to 50 significant digits, rounded half even at the last one: 0.333...3 (50 threes)
        assert D(1) / D(3) == D("0." + "3" * 50)
        # 2/3: ...6666|6... rounds up to ...667
        assert D(2) / D(3) == D("0." + "6" * 49 + "7")
        with pytest.raises(DivisionByZero):
            D(1) / D(0)
        with pytest.raises(InvalidOperation):
            D(0) / D(0)
    # the block's context is a copy: the ledger's own is untouched
    assert EXACT.prec == 50


def test_a_float_model_output_keeps_twelve_significant_digits():
    # 1/3 as a float is 0.333333333333333314829616256247...: twelve digits are 0.333333333333
    assert from_float(1 / 3) == D("0.333333333333")
    assert from_float(2 / 3, 4) == D("0.6667")
    assert from_float(123456789.0123456) == D("123456789.012")


def test_an_error_repeats_a_long_number_abbreviated():
    assert shown(D("12.5")) == "12.5"
    assert shown(D("1" * 24)) == "1" * 24  # 24 digits: in full
    # 25 digits: the first five, the exponent of the leading digit, the digit count
    assert shown(D("-" + "98765" + "0" * 20)) == "-9.8765…E+24 (25 digits)"
    assert shown(10**5000) == "1.0000…E+5000 (5001 digits)"
    assert shown(D("Infinity")) == "Infinity"


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (positive, D(0), "must be positive, got 0"),
        (positive, D("-0.5"), "must be positive, got -0.5"),
        (non_negative, D("-1E-9"), "must not be negative, got -1E-9"),
        (finite, D("sNaN"), "must be a finite number, got sNaN"),
        (finite, D("-Infinity"), "must be a finite number, got -Infinity"),
        (finite, D("1E30"), "is out of range: magnitude must be below 1E+30, got 1E+30"),
        (finite, 5, "expected a decimal number, got int"),
    ],
)
def test_a_number_out_of_its_range_is_refused_naming_the_field(check, value, message):
    with pytest.raises(InputError) as caught:
        check(value, "field.path")
    assert (caught.value.field, caught.value.message) == ("field.path", message)


def test_within_is_a_closed_range():
    assert within(D(0), D(0), D(1), "w") == D(0) and within(D(1), D(0), D(1), "w") == D(1)
    with pytest.raises(InputError) as caught:
        within(D("1.0001"), D(0), D(1), "w")
    assert (caught.value.field, caught.value.message) == ("w", "must be between 0 and 1, got 1.0001")
    assert positive(D("1E-30"), "p") == D("1E-30") and non_negative(D(0), "n") == D(0)


def test_the_boundary_reads_minus_zero_as_zero():
    value = bounded(D("-0.00"), "x")
    assert value == 0 and not value.is_signed()
