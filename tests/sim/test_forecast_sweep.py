"""The liquidation prices sorted once and swept (:mod:`crossmargin.sim.forecast_sweep`), on prices set by hand.

Instrument 0 marked 100: slot 0 priced 95, slot 1 90, slot 2 105, slot 3 without a price (none in range),
slot 4 empty; instrument 1 marked 10: slot 5 priced 9, slot 6 priced 12.
"""

import numpy as np

from crossmargin.engine.liquidation_prices import LiquidationPrices, Outcome
from crossmargin.sim.forecast_sweep import Crossings, Sweep

PRICES = LiquidationPrices(
    price=np.array([95.0, 90.0, 105.0, np.nan, np.nan, 9.0, 12.0]),
    outcome=np.array(
        [Outcome.PRICED, Outcome.PRICED, Outcome.PRICED, Outcome.NONE, Outcome.EMPTY, Outcome.PRICED, Outcome.PRICED],
        dtype=np.int8,
    ),
    pool=np.array([0, 1, 2, 3, -1, 4, 5], dtype=np.int32),
    instrument=np.array([0, 0, 0, 0, 0, 1, 1], dtype=np.int32),
)
MARKS = np.array([100.0, 10.0])


def sweep() -> Sweep:
    return Sweep(Crossings(PRICES, MARKS))


def test_a_fall_then_a_rise() -> None:
    s = sweep()
    assert list(s.crossed(np.array([96.0, 10.0]), np.array([100.0, 10.0]), MARKS)) == []
    # a price exactly reached counts
    assert list(s.crossed(np.array([95.0, 10.0]), np.array([100.0, 10.0]), MARKS)) == [0]
    # lower: 90 and instrument 1's 9; each reported once
    assert sorted(s.crossed(np.array([89.0, 9.0]), np.array([100.0, 10.0]), MARKS)) == [1, 5]
    assert list(s.crossed(np.array([89.0, 9.0]), np.array([100.0, 10.0]), MARKS)) == []
    # a rise to 105 reaches the price above the mark
    assert list(s.crossed(np.array([89.0, 9.0]), np.array([105.0, 10.0]), MARKS)) == [2]


def test_restated_prices_replace_the_sorted_ones() -> None:
    s = sweep()
    marks = np.array([97.0, 10.0])
    # slot 0 worked again at 97: now 93 (below the mark); slot 6 worked again: no price
    s.restate(np.array([0, 6]), np.array([93.0, np.nan]), np.array([0, 1]), marks)
    assert list(s.crossed(np.array([95.0, 10.0]), np.array([100.0, 12.0]), np.array([95.0, 12.0]))) == []
    assert list(s.crossed(np.array([93.0, 10.0]), np.array([100.0, 12.0]), np.array([93.0, 12.0]))) == [0]
    # a restated price above the mark is reached by a rise
    s.restate(np.array([1]), np.array([96.0]), np.array([0]), np.array([93.0, 12.0]))
    assert list(s.crossed(np.array([93.0, 10.0]), np.array([100.0, 12.0]), np.array([95.0, 12.0]))) == []
    assert list(s.crossed(np.array([93.0, 10.0]), np.array([100.0, 12.0]), np.array([96.0, 12.0]))) == [1]


def test_a_price_worked_again_twice_keeps_only_the_last() -> None:
    s = sweep()
    at = np.array([100.0, 10.0])
    # slot 0 worked again at 100: 93; again before any sweep: 80; slot 5 worked again: 9.5, then no price
    s.restate(np.array([0, 5]), np.array([93.0, 9.5]), np.array([0, 1]), at)
    s.restate(np.array([0, 5]), np.array([80.0, np.nan]), np.array([0, 1]), at)
    # the marks at 93 and 9.5 reach the replaced prices (93, 9.5); slot 0's sorted 95 is set aside
    assert list(s.crossed(np.array([93.0, 9.5]), np.array([100.0, 10.0]), np.array([93.0, 9.5]))) == []
    # 80 reaches the live one, after the sorted 90 of slot 1 (sorted crossings first, then prices worked again);
    # each reported once
    assert list(s.crossed(np.array([80.0, 9.0]), np.array([100.0, 10.0]), np.array([80.0, 9.0]))) == [1, 0]
    assert list(s.crossed(np.array([80.0, 9.0]), np.array([100.0, 10.0]), np.array([80.0, 9.0]))) == []
