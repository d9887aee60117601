"""decimal_string: fixed-point, at most 20 significant digits half-even, no trailing zeros, no -0."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.report.numbers import decimal_string, float_string


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000.0", "1000"),
        ("1E+3", "1000"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("0E-12", "0"),
        ("0.1000", "0.1"),
        ("1E-7", "0.0000001"),
        ("-5.5E-30", "-0.0000000000000000000000000000055"),
        ("1E+25", "10000000000000000000000000"),
        ("920", "920"),
        ("-40.50", "-40.5"),
    ],
)
def test_plain_forms(text: str, expected: str) -> None:
    assert decimal_string(Decimal(text)) == expected


def test_rounds_to_twenty_significant_digits() -> None:
    # 9000 / 0.498 = 18072.289156626506024096385542...: the 21st digit is 0, so it truncates.
    assert decimal_string(Decimal("18072.289156626506024096385542168674698795")) == "18072.289156626506024"
    # Digits 1..20 then a 5 with nothing after: half-even keeps the even 20th digit ...
    assert decimal_string(Decimal("1.00000000000000000025")) == "1.0000000000000000002"
    # ... and rounds an odd one up.
    assert decimal_string(Decimal("1.00000000000000000035")) == "1.0000000000000000004"
    # A carry through every digit gives a shorter number, not 21 digits.
    assert decimal_string(Decimal("9.999999999999999999999")) == "10"
    # Large integers keep their magnitude: rounded digits become zeros, never an exponent.
    assert decimal_string(Decimal("123456789012345678901234")) == "123456789012345678900000"


def test_fewer_digits_on_request() -> None:
    assert decimal_string(Decimal("18072.289156626506024"), 10) == "18072.28916"
    assert decimal_string(Decimal("0.000123456789"), 3) == "0.000123"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_rejects_non_finite(text: str) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        decimal_string(Decimal(text))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_round_trips_within_twenty_digits(x: Decimal) -> None:
    text = decimal_string(x)
    assert "E" not in text and "e" not in text
    assert not text.startswith("-0") or text.startswith("-0.")
    assert text != "-0"
    if "." in text:
        assert not text.endswith("0") and not text.endswith(".")
    back = Decimal(text)
    if x.is_zero():
        assert back == 0
    else:
        assert abs(back - x) <= abs(x).scaleb(-19)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.1, "0.1"),  # the shortest decimal of the float nearest 0.1, not its 55-digit binary value
        (1520.75, "1520.75"),
        (0.1 + 0.2, "0.30000000000000004"),  # a different float from 0.3: its shortest decimal says so
        (1e-7, "0.0000001"),
        (1e22, "10000000000000000000000"),
        (-0.0, "0"),
        (-12345.5, "-12345.5"),
        (3, "3"),
    ],
)
def test_float_strings(x: float, expected: str) -> None:
    assert float_string(x) == expected


@pytest.mark.parametrize("x", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_have_no_string(x: float) -> None:
    assert float_string(x) is None


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_strings_read_back_as_the_same_float(x: float) -> None:
    text = float_string(x)
    assert text is not None and "e" not in text.lower()
    assert float(Decimal(text)) == x
