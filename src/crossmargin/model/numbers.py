"""Exact arithmetic: the Decimal context of the ledger and the checks every input number passes.

All money and price maths runs under :data:`EXACT` (50 significant digits, round half even, and
traps on invalid operations, division by zero and overflow), entered with :func:`exact`. Sums and
products of realistic inputs stay exact at this precision; only quotients (ratios, prices solved
for) are rounded, at the 50th digit.
"""

from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from crossmargin.model.errors import InputError

EXACT = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])

ZERO = Decimal(0)
ONE = Decimal(1)
LIMIT = Decimal("1E30")
"""Inputs beyond this magnitude are refused: far above any real amount, and it keeps the products of
the margin maths well inside the exact context."""
SMALLEST = Decimal("1E-30")
"""Non-zero numbers read from a file below this magnitude are refused (see :func:`bounded`): far below any
real amount (a wei is 1E-18), and it keeps products of inputs far from the exact context's smallest exponent,
where Decimal would quietly round them to 0."""
DIGITS = EXACT.prec
"""Numbers read from a file carry at most this many significant digits (50): the precision of :data:`EXACT`,
so that every input is held exactly."""
_SHOWN = 24  # longest number text an error message repeats in full


def exact() -> AbstractContextManager[Context]:
    """Run the enclosed block under the ledger's exact Decimal context (``with exact() as ctx``: a copy of
    :data:`EXACT` while the block runs). Decimal's own context manager, entered millions of times a stress
    run, so no generator around it."""
    return localcontext(EXACT)


def from_float(x: float, digits: int = 12) -> Decimal:
    """A float model output (a price from a path, an option value) as a Decimal of ``digits`` significant
    digits, what a feed would carry."""
    return Decimal(f"{x:.{digits}g}")


def shown(value: Decimal | int) -> str:
    """``value`` as an error message repeats it: in full up to 24 characters, else abbreviated with its
    exponent and digit count, e.g. ``1.1111…E+4999 (5000 digits)``."""
    number = Decimal(value)  # an int of any size converts without its decimal text (which Python limits)
    if not number.is_finite():
        return str(number)
    sign, digits, _ = number.as_tuple()
    if len(digits) <= _SHOWN:
        return str(number)
    lead = "".join(str(digit) for digit in digits[:5])
    return f"{'-' if sign else ''}{lead[0]}.{lead[1:]}…E{number.adjusted():+d} ({len(digits)} digits)"


def finite(value: Decimal, field: str) -> Decimal:
    """``value`` if it is a finite number, else an :class:`InputError` naming ``field``."""
    if not isinstance(value, Decimal):
        raise InputError(field, f"expected a decimal number, got {type(value).__name__}")
    if not value.is_finite():
        raise InputError(field, f"must be a finite number, got {value}")
    if not -LIMIT < value < LIMIT:
        raise InputError(field, f"is out of range: magnitude must be below {LIMIT:E}, got {shown(value)}")
    return value


def bounded(value: Decimal, field: str) -> Decimal:
    """``value`` as the input boundary takes it; every number read from a file (document, feed, scenario,
    parameter set) passes here before any maths.

    It must be finite, of magnitude below :data:`LIMIT`, zero or at least :data:`SMALLEST`, and carry at
    most :data:`DIGITS` significant digits (trailing zeros do not count); ``-0`` is read as ``0``. Anything
    else raises :class:`InputError` naming ``field``, e.g. ``1e-999999999`` (which the exact context would
    round to 0) or a number of 5,000 digits.
    """
    finite(value, field)
    if value.is_zero():
        return value.copy_abs()
    if value.copy_abs() < SMALLEST:
        raise InputError(
            field, f"is out of range: a non-zero magnitude must be at least {SMALLEST:E}, got {shown(value)}"
        )
    digits = value.as_tuple().digits
    if len(digits) > DIGITS and (significant := len("".join(map(str, digits)).rstrip("0"))) > DIGITS:
        raise InputError(
            field, f"has {significant} significant digits, more than the {DIGITS} held exactly: got {shown(value)}"
        )
    return value


def positive(value: Decimal, field: str) -> Decimal:
    """``value`` if it is finite and > 0."""
    if finite(value, field) <= 0:
        raise InputError(field, f"must be positive, got {value}")
    return value


def non_negative(value: Decimal, field: str) -> Decimal:
    """``value`` if it is finite and >= 0."""
    if finite(value, field) < 0:
        raise InputError(field, f"must not be negative, got {value}")
    return value


def within(value: Decimal, low: Decimal, high: Decimal, field: str) -> Decimal:
    """``value`` if it is finite and in the closed range [low, high]."""
    if not low <= finite(value, field) <= high:
        raise InputError(field, f"must be between {low} and {high}, got {value}")
    return value
