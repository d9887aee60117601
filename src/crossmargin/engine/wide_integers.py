"""Signed 128-bit integers for compiled exact arithmetic (Numba has no integer wider than 64 bits).

A *wide* integer is a pair ``(hi, lo)`` of ``uint64`` words holding a two's complement value
``hi x 2**64 + lo`` (``hi``'s top bit is the sign). Every operation that can leave the range
``[-2**127, 2**127)`` also returns ``ok``: False when the exact result does not fit, and the words are then
meaningless. Nothing here rounds: a result is the exact integer or it is refused.

Used by :mod:`crossmargin.engine.exact_pools` to hold money as a scaled integer (a mantissa and a decimal
exponent) exactly; :func:`to_int` turns a pair back into a Python ``int``.
"""

import numpy as np
from numba import njit

_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S63 = np.uint64(63)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_POWERS = np.array([10**k for k in range(19)], dtype=np.int64)  # 10**0 .. 10**18 fit a signed word
_WORD = 1 << 64


@njit(cache=True)
def negative(hi: np.uint64) -> bool:
    """Whether the wide integer whose high word is ``hi`` is below zero."""
    return bool((hi >> _S63) == _ONE)


@njit(cache=True)
def of_int(x: int) -> tuple[np.uint64, np.uint64]:
    """The wide integer equal to the signed 64-bit ``x``."""
    lo = np.uint64(x)
    return (_ALL if x < 0 else _ZERO), lo


@njit(cache=True)
def negated(hi: np.uint64, lo: np.uint64) -> tuple[np.uint64, np.uint64, bool]:
    """``-x``; not ok for ``-2**127``."""
    nlo = ~lo + _ONE
    nhi = ~hi + (_ONE if nlo == _ZERO else _ZERO)
    return nhi, nlo, not (negative(hi) and negative(nhi))


@njit(cache=True)
def added(ahi: np.uint64, alo: np.uint64, bhi: np.uint64, blo: np.uint64) -> tuple[np.uint64, np.uint64, bool]:
    """``a + b``; not ok when the sum leaves the range (both signs equal and the result's differs)."""
    lo = alo + blo
    hi = ahi + bhi + (_ONE if lo < alo else _ZERO)
    signed_a = negative(ahi)
    return hi, lo, not (signed_a == negative(bhi) and negative(hi) != signed_a)


@njit(cache=True)
def subtracted(ahi: np.uint64, alo: np.uint64, bhi: np.uint64, blo: np.uint64) -> tuple[np.uint64, np.uint64, bool]:
    """``a - b``; not ok when the difference leaves the range (signs differ and the result's is not ``a``'s)."""
    lo = alo - blo
    hi = ahi - bhi - (_ONE if alo < blo else _ZERO)
    signed_a = negative(ahi)
    return hi, lo, not (signed_a != negative(bhi) and negative(hi) != signed_a)


@njit(cache=True)
def _product(a: np.uint64, b: np.uint64) -> tuple[np.uint64, np.uint64]:
    """The unsigned 128-bit product of two unsigned words, from their 32-bit halves."""
    a0, a1 = a & _MASK32, a >> _S32
    b0, b1 = b & _MASK32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> _S32) + (p01 & _MASK32) + (p10 & _MASK32)
    lo = (p00 & _MASK32) | (middle << _S32)
    hi = p11 + (p01 >> _S32) + (p10 >> _S32) + (middle >> _S32)
    return hi, lo


@njit(cache=True)
def _unsigned_times(hi: np.uint64, lo: np.uint64, m: np.uint64) -> tuple[np.uint64, np.uint64, bool]:
    """The magnitude ``(hi, lo) x m`` (both unsigned); ok when it stays below ``2**127``."""
    carry, low = _product(lo, m)
    over, high = _product(hi, m)
    top = carry + high
    return top, low, bool(over == _ZERO and top >= carry and (top >> _S63) == _ZERO)


@njit(cache=True)
def times(hi: np.uint64, lo: np.uint64, m: int) -> tuple[np.uint64, np.uint64, bool]:
    """``x x m`` for a signed 64-bit ``m``; a magnitude of ``2**127`` is refused even where the product would be
    ``-2**127`` itself."""
    if m == 0:
        return _ZERO, _ZERO, True
    sign = negative(hi)
    if sign:
        hi, lo, ok = negated(hi, lo)
        if not ok:
            return _ZERO, _ZERO, False
    unsigned_m = np.uint64(-m) if m < 0 else np.uint64(m)
    rhi, rlo, ok = _unsigned_times(hi, lo, unsigned_m)
    if sign != (m < 0):
        rhi, rlo = ~rhi + (_ONE if rlo == _ZERO else _ZERO), ~rlo + _ONE
    return rhi, rlo, ok


@njit(cache=True)
def product(a: int, b: int) -> tuple[np.uint64, np.uint64]:
    """The exact product of two signed 64-bit integers (always fits)."""
    hi, lo = of_int(a)
    rhi, rlo, _ = times(hi, lo, b)
    return rhi, rlo


@njit(cache=True)
def scaled_up(hi: np.uint64, lo: np.uint64, digits: int) -> tuple[np.uint64, np.uint64, bool]:
    """``x x 10**digits`` (``digits >= 0``)."""
    ok = True
    while digits > 0 and ok:
        step = min(digits, 18)
        hi, lo, ok = times(hi, lo, _POWERS[step])
        digits -= step
    return hi, lo, ok


@njit(cache=True)
def compared(ahi: np.uint64, alo: np.uint64, bhi: np.uint64, blo: np.uint64) -> int:
    """-1, 0 or 1 as ``a`` is below, equal to or above ``b``."""
    sa, sb = negative(ahi), negative(bhi)
    if sa != sb:
        return -1 if sa else 1
    if ahi != bhi:
        return -1 if ahi < bhi else 1
    if alo != blo:
        return -1 if alo < blo else 1
    return 0


def to_int(hi: int, lo: int) -> int:
    """The Python integer a wide pair holds (words given as Python ints, e.g. from ``uint64`` arrays)."""
    value = (int(hi) << 64) | int(lo)
    return value - (1 << 128) if value >= 1 << 127 else value


def words(value: int) -> tuple[int, int]:
    """The ``(hi, lo)`` words of a Python integer in ``[-2**127, 2**127)`` (the inverse of :func:`to_int`)."""
    if not -(1 << 127) <= value < 1 << 127:
        raise OverflowError(f"{value} does not fit 128 bits")
    unsigned = value % (1 << 128)
    return unsigned >> 64, unsigned % _WORD
