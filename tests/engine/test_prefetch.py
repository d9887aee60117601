"""The prefetch hint (:mod:`crossmargin.engine.prefetch`) compiles into a kernel for arrays of any rank and
index types of either width, and changes no result: a scatter that hints each row a few iterations ahead
sums what NumPy's unhinted ``np.add.at`` sums, and a hint leaves the row it points at as it was."""

import numpy as np
import pytest
from numba import njit

from crossmargin.engine.prefetch import prefetch_row

AHEAD = 4


@njit
def scatter(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``target[rows[j]] += values[j]`` (every element of the row), hinting the row ``AHEAD`` slots on."""
    n = rows.shape[0]
    for j in range(n):
        if j + AHEAD < n:
            prefetch_row(target, rows[j + AHEAD])
        target[rows[j]] += values[j]


@njit
def hint_only(target: np.ndarray, row: int) -> float:
    prefetch_row(target, row)
    return 1.0


@pytest.mark.parametrize("shape", [(50,), (50, 3), (50, 2, 4)])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_a_hinted_scatter_sums_what_numpy_sums(shape: tuple[int, ...], index: type):
    rng = np.random.default_rng(3)
    rows: np.ndarray = rng.integers(0, shape[0], 1000).astype(index)
    values = rng.integers(-9, 9, 1000).astype(np.float64)  # whole numbers: the sums are exact in any order
    hinted = np.zeros(shape)
    scatter(hinted, rows, values)
    unhinted = np.zeros(shape)
    np.add.at(unhinted, rows, values.reshape((-1,) + (1,) * (len(shape) - 1)))
    assert np.array_equal(hinted, unhinted)
    assert hinted.sum() == values.sum() * np.prod(shape[1:])  # each value added to every element of its row


def test_a_hint_changes_nothing_it_points_at():
    target = np.arange(12.0).reshape(4, 3)
    assert hint_only(target, 2) == 1.0 and hint_only(target, 0) == 1.0
    assert np.array_equal(target, np.arange(12.0).reshape(4, 3))
