"""How numbers are written in output: exact decimal strings, never floats, never exponents.

Every number crossmargin prints (JSON results and tables alike) goes through :func:`decimal_string`,
so a figure reads the same wherever it appears and parses back as the ``Decimal`` it stands for,
rounded only past its 20th significant digit (tables ask for fewer digits, for reading). A figure computed
in floats (a stress run's totals, a Monte Carlo tail measure) is written by :func:`float_string`: the
shortest decimal that reads back as the same float, in the same fixed-point form. The HTML and terminal
reports' tables of float figures write money to cents (:func:`money`) and counts (:func:`count`) with thousands
separators, for reading; :data:`NONE_MARK` stands for a missing figure in any table.
"""

import math
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal

SIGNIFICANT_DIGITS = 20
NONE_MARK = "-"
"""A missing figure in a table."""


def decimal_string(x: Decimal, significant: int = SIGNIFICANT_DIGITS) -> str:
    """``x`` in fixed-point notation, rounded half-even to at most ``significant`` significant digits,
    without trailing zeros or a trailing point, and with no sign on zero: ``Decimal("1000.0")`` is
    ``"1000"``, ``Decimal("-0")`` is ``"0"``, ``Decimal("1E-7")`` is ``"0.0000001"``.

    Units are those of ``x``; raises ``ValueError`` for NaN and infinities (never a result figure).
    """
    if not x.is_finite():
        raise ValueError(f"cannot write a non-finite number: {x}")
    if significant < 1:
        raise ValueError(f"significant must be at least 1, got {significant}")
    context = Context(prec=significant, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    rounded = context.plus(x).normalize(context)
    if rounded.is_zero():
        return "0"
    return format(rounded, "f")


def float_string(x: float) -> str | None:
    """A float figure as a decimal string: the shortest decimal that reads back as the same float (Python's
    ``repr``) in :func:`decimal_string`'s fixed-point form (``0.1`` is ``"0.1"``, ``1e-07`` is
    ``"0.0000001"``, ``1e+22`` is ``"10000000000000000000000"``, ``-0.0`` is ``"0"``); None for NaN and
    infinities. Units are those of ``x``."""
    value = float(x)
    if not math.isfinite(value):
        return None
    return decimal_string(Decimal(repr(value)))


def money(x: float | None) -> str:
    """An amount of money to cents with thousands separators (``1234567.891`` is ``1,234,567.89``); no sign on
    a zero (``-0.001`` is ``0.00``); ``-`` for none or a non-finite value."""
    if x is None or not math.isfinite(x):
        return NONE_MARK
    rounded = round(float(x), 2)
    return f"{(rounded if rounded != 0 else 0.0):,.2f}"


def count(n: int) -> str:
    """A count with thousands separators (``12345`` is ``12,345``)."""
    return f"{n:,}"
