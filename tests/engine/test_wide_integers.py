"""Signed 128-bit integers against Python's own integers: every result exact, or refused where it does not fit."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine.wide_integers import (
    added,
    compared,
    negated,
    product,
    scaled_up,
    subtracted,
    times,
    to_int,
    words,
)

WIDE = st.integers(-(1 << 127), (1 << 127) - 1)
WORD = st.integers(-(1 << 63), (1 << 63) - 1)
FITS = range(-(1 << 127), 1 << 127)


def wide(value: int) -> tuple[np.uint64, np.uint64]:
    hi, lo = words(value)
    return np.uint64(hi), np.uint64(lo)


def check(result: tuple[np.uint64, np.uint64, bool], expected: int) -> None:
    """An exact result where it fits, ``ok`` False where it does not."""
    hi, lo, ok = result
    assert ok == (expected in FITS)
    if ok:
        assert to_int(int(hi), int(lo)) == expected


@given(WORD, WORD)
def test_the_product_of_two_words_is_exact(a: int, b: int) -> None:
    hi, lo = product(a, b)
    assert to_int(int(hi), int(lo)) == a * b


@given(WIDE, WIDE)
def test_sums_and_differences_are_exact_or_refused(a: int, b: int) -> None:
    check(added(*wide(a), *wide(b)), a + b)
    check(subtracted(*wide(a), *wide(b)), a - b)


@given(WIDE)
def test_negation_refuses_only_the_smallest_value(a: int) -> None:
    check(negated(*wide(a)), -a)


@given(WIDE, WORD)
def test_a_wide_times_a_word_is_exact_or_refused(a: int, m: int) -> None:
    hi, lo, ok = times(*wide(a), m)
    # The magnitude is refused from 2**127 on, so -2**127 itself (which would fit) is refused too.
    assert ok == (abs(a * m) < 1 << 127)
    if ok:
        assert to_int(int(hi), int(lo)) == a * m


@given(st.integers(-(10**20), 10**20), st.integers(0, 40))
def test_scaling_by_a_power_of_ten(a: int, digits: int) -> None:
    hi, lo, ok = scaled_up(*wide(a), digits)
    assert ok == (abs(a) * 10**digits < 1 << 127)
    if ok:
        assert to_int(int(hi), int(lo)) == a * 10**digits


@given(WIDE, WIDE)
def test_comparison_is_the_integers_order(a: int, b: int) -> None:
    assert compared(*wide(a), *wide(b)) == (a > b) - (a < b)


def test_edges_worked_by_hand() -> None:
    # 2**63 x 2**63 = 2**126: the largest power of two a product of two words reaches.
    hi, lo = product(-(1 << 63), -(1 << 63))
    assert (int(hi), int(lo)) == (1 << 62, 0)
    # (2**127 - 1) + 1 leaves the range; -1 + 1 = 0 carries through both words.
    check(added(*wide((1 << 127) - 1), *wide(1)), 1 << 127)
    check(added(*wide(-1), *wide(1)), 0)
    # 10**38 fits (below 2**127 = 1.7e38), 10**39 does not.
    check(scaled_up(*wide(1), 38), 10**38)
    check(scaled_up(*wide(1), 39), 10**39)
