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


def exact() -> AbstractContextManager[Context]:
    """Run the enclosed block under the ledger's exact Decimal context (``with exact() as ctx``: a copy of
    :data:`EXACT` while the block runs). Decimal's own context manager, entered millions of times a stress
    run, so no generator around it."""
    return localcontext(EXACT)


def from_float(x: float, digits: int = 12) -> Decimal:
    """A float model output (a price from a path, an option value) as a Decimal of ``digits`` significant
    digits, what a feed would carry."""
    return Decimal(f"{x:.{digits}g}")


def finite(value: Decimal, field: str) -> Decimal:
    """``value`` if it is a finite number, else an :class:`InputError` naming ``field``."""
    if not isinstance(value, Decimal):
        raise InputError(field, f"expected a decimal number, got {type(value).__name__}")
    if not value.is_finite():
        raise InputError(field, f"must be a finite number, got {value}")
    if not -LIMIT < value < LIMIT:
        raise InputError(field, f"is out of range: magnitude must be below {LIMIT:E}, got {value}")
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
